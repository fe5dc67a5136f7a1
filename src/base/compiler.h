/* SPDX-License-Identifier: MIT */
/* Internal helpers every zonedev source file uses. */
#ifndef ZD_BASE_COMPILER_H
#define ZD_BASE_COMPILER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#define likely(x)	__builtin_expect(!!(x), 1)
#define unlikely(x)	__builtin_expect(!!(x), 0)

#define container_of(ptr, type, member) \
	((type *)((char *)(ptr) - offsetof(type, member)))

#define ZD_CACHELINE 64

#define READ_ONCE_RELAXED(p)	atomic_load_explicit((p), memory_order_relaxed)
#define WRITE_ONCE_RELAXED(p, v) atomic_store_explicit((p), (v), memory_order_relaxed)

#endif /* ZD_BASE_COMPILER_H */
