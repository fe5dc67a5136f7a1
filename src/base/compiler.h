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



/*
 * ThreadSanitizer cannot see ordering that comes from sys_membarrier();
 * code that relies on it tells TSan about the edge explicitly.
 */
#if defined(__SANITIZE_THREAD__)
#include <sanitizer/tsan_interface.h>
#define zd_tsan_acquire(addr)	__tsan_acquire((void *)(addr))
#define zd_tsan_release(addr)	__tsan_release((void *)(addr))
#else
#define zd_tsan_acquire(addr)	((void)(addr))
#define zd_tsan_release(addr)	((void)(addr))
#endif
#endif /* ZD_BASE_COMPILER_H */
