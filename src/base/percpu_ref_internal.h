/* SPDX-License-Identifier: MIT */
#ifndef ZD_BASE_PERCPU_REF_INTERNAL_H
#define ZD_BASE_PERCPU_REF_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <zonedev/percpu_ref.h>

#include "pcpu.h"

/*
 * Add @nr to this thread's slot of @ref if @ref is in per-thread mode
 * (so live): true if done, false in atomic mode or without a counter area
 * (@base NULL), the caller's slow path then does the work.  The caller is
 * inside a per-thread section on @base, or an RCU read section.
 */
static inline bool zd__percpu_ref_add_inside(struct zd_percpu_ref *ref,
					     unsigned long nr, char *base)
{
	uintptr_t ptr = atomic_load_explicit(&ref->percpu_count_ptr,
					     memory_order_acquire);

	if (unlikely(!base || (ptr & ZD_PERCPU_REF_ATOMIC_DEAD)))
		return false;
	zd_pcpu_add(base, ptr, nr);
	return true;
}

/* tryget_live for a caller inside a per-thread section or an RCU read
 * section, whatever the mode: what zd__percpu_ref_add_inside() leaves. */
bool zd__percpu_ref_tryget_live_slow(struct zd_percpu_ref *ref);

/* The atomic count, as a signed number (negative after puts below zero
 * the counter refused); exact once a switch to atomic mode completed. */
long zd__percpu_ref_count(struct zd_percpu_ref *ref);

void zd_percpu_ref_fork_prepare(void);
void zd_percpu_ref_fork_parent(void);
void zd_percpu_ref_fork_child(void);

#endif
