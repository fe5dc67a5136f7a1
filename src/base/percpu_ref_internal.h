/* SPDX-License-Identifier: MIT */
#ifndef ZD_BASE_PERCPU_REF_INTERNAL_H
#define ZD_BASE_PERCPU_REF_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <zonedev/percpu_ref.h>

#include "pcpu.h"

bool zd__percpu_ref_tryget_live_slow(struct zd_percpu_ref *ref);

/*
 * tryget_live for a caller already inside a per-thread section (pcpu.h)
 * on area @base, if @hint (what zd__percpu_ref_hint() said earlier, or 0)
 * still names the ref's slot: then the slot's address is known before
 * @ref is read, so a cold ref and a cold slot are fetched together rather
 * than one after the other.  False means "not taken this way": the ref is
 * dying, in atomic mode, or the hint is stale; the caller takes the
 * ordinary path (zd__percpu_ref_tryget_live_slow()).
 */
static inline bool zd__percpu_ref_tryget_hinted(struct zd_percpu_ref *ref,
						uintptr_t hint, char *base)
{
	/* equal only in per-thread mode, with the slot the hint names */
	if (likely(hint && atomic_load_explicit(&ref->percpu_count_ptr,
						memory_order_acquire) == hint)) {
		zd_pcpu_add(base, hint, 1);
		return true;
	}
	return false;
}

/* The ref's per-thread slot now, or 0 in atomic mode. */
uintptr_t zd__percpu_ref_hint(struct zd_percpu_ref *ref);

void zd_percpu_ref_fork_prepare(void);
void zd_percpu_ref_fork_parent(void);
void zd_percpu_ref_fork_child(void);

#endif
