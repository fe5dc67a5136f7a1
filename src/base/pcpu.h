/* SPDX-License-Identifier: MIT */
/*
 * Per-thread counter areas: zonedev's stand-in for the kernel's per-CPU
 * memory.  Each thread that counts gets an area (a MAP_NORESERVE
 * reservation, so untouched slots cost nothing); a counter is a slot offset
 * valid in every area, so "this thread's counter" is one TLS load and an
 * add.  Areas outlive their threads: an exiting thread's area, with its
 * counts, goes back to a free list and to the next new thread, so no count
 * is ever lost and sums stay exact.
 *
 * Slot 0 of each area says whether the thread is in a section.  A section is
 * zonedev's stand-in for the kernel's preempt-disabled region, and what
 * its fast paths use instead of an RCU read section: entering and leaving
 * store to the thread's own slot and need no fence, as
 * zd_pcpu_synchronize() orders them with sys_membarrier and returns once
 * every section that began before it has ended.  A signal handler's
 * sections nest inside the thread's.  Without sys_membarrier (Linux before
 * 4.14) no thread gets an area, and every user takes its fallback for a
 * thread without one: shared counters, RCU read sections.
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

/* Whether threads get areas at all (sys_membarrier works); sets it up. */
bool zd_pcpu_usable(void);

/*
 * Enter a section on this thread's area @base; pass what this returns to
 * zd_pcpu_section_exit().  Slot 0 holds 1 inside a section, 0 outside: a
 * signal handler's section finds 1 and puts 1 back.  Storing a constant,
 * not an increment, keeps back-to-back sections from forming a chain of
 * dependent read-modify-writes on the slot.  Everything after is ordered
 * after the store by the synchronizer's membarrier; the compiler must not
 * move it either.
 */
static inline unsigned long zd_pcpu_section_enter(char *base)
{
	atomic_ulong *in = zd_pcpu_slot(base, 0);
	unsigned long was = READ_ONCE_RELAXED(in);

	WRITE_ONCE_RELAXED(in, 1);
	atomic_signal_fence(memory_order_seq_cst);
	return was;
}

/* Leave it: the section's stores are visible before slot 0 drops. */
static inline void zd_pcpu_section_exit(char *base, unsigned long was)
{
	atomic_store_explicit(zd_pcpu_slot(base, 0), was, memory_order_release);
}

/* Wait until every section begun before the call has ended.  Sleeps
 * (yields) while a thread inside one is preempted; not from a section. */
void zd_pcpu_synchronize(void);

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
