/* SPDX-License-Identifier: MIT */
/*
 * Per-thread counter areas: zonedev's stand-in for the kernel's per-CPU
 * memory.  Each thread that counts gets an area (a MAP_NORESERVE
 * reservation, so untouched slots cost nothing); a counter is a slot offset
 * valid in every area, so "this thread's counter" is one TLS load and an
 * add.  Areas outlive their threads: an exiting thread's area, with its
 * counts, goes back to a free list and to the next new thread, so no count
 * is ever lost and sums stay exact.
 */
#ifndef ZD_BASE_PCPU_H
#define ZD_BASE_PCPU_H

#include <stdint.h>

#include "compiler.h"

#define ZD_PCPU_AREA_SIZE	(4ul << 20)	/* 512 Ki counters per thread */
#define ZD_PCPU_SLOT		sizeof(unsigned long)

extern __thread char *zd_pcpu_base __attribute__((tls_model("initial-exec")));
char *zd_pcpu_base_slow(void);

/* This thread's area base, acquiring one on first use; NULL if none can
 * be had (the caller falls back to the atomic counter). */
static inline char *zd_pcpu_this(void)
{
	char *base = zd_pcpu_base;

	return likely(base) ? base : zd_pcpu_base_slow();
}

static inline atomic_ulong *zd_pcpu_slot(char *base, uintptr_t off)
{
	return (atomic_ulong *)(base + off);
}

/* This thread's counter at @off += @v.  Only this thread writes its area,
 * so a plain load and store do: no locked instruction. */
static inline void zd_pcpu_add(char *base, uintptr_t off, unsigned long v)
{
	atomic_ulong *c = zd_pcpu_slot(base, off);

	WRITE_ONCE_RELAXED(c, READ_ONCE_RELAXED(c) + v);
}

/* A zeroed slot in every area: its offset (> 0), or -ENOMEM. */
long zd_pcpu_alloc(void);
void zd_pcpu_free(uintptr_t off);
/* Sum / zero a slot over all areas.  The caller ensures nobody adds to it
 * concurrently (after a grace period, or in atomic mode). */
unsigned long zd_pcpu_sum(uintptr_t off);
void zd_pcpu_zero(uintptr_t off);

void zd_pcpu_fork_prepare(void);
void zd_pcpu_fork_parent(void);
void zd_pcpu_fork_child(void);

#endif /* ZD_BASE_PCPU_H */
