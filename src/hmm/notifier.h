/* SPDX-License-Identifier: MIT */
/* Hooks by which the HMM code tells interval notifiers of a change. */
#ifndef ZD_HMM_NOTIFIER_H
#define ZD_HMM_NOTIFIER_H

#include <zonedev/mmu_notifier.h>

struct mn_mm;

/* zd_mmu_interval_notifier.state */
enum { SUB_NONE, SUB_LIVE, SUB_INSERTING, SUB_REMOVING, SUB_RELEASED };

/* Whether @sub is inserted in a live mm (racy unless the caller knows). */
static inline bool zd_mn_sub_inserted(const struct zd_mmu_interval_notifier *sub)
{
	int s = __atomic_load_n(&sub->state, __ATOMIC_RELAXED);

	return s == SUB_LIVE || s == SUB_INSERTING || s == SUB_REMOVING;
}

/*
 * Call the invalidate() of every notifier of @mm overlapping [start, end)
 * with @event; the change happens after this returns, and zd_mn_end()
 * follows it (read_begin waits until then).  NULL, at the cost of one
 * atomic load, when no mm has notifiers.  No lock of @mm held.
 */
struct mn_mm *zd_mn_start(struct zd_mm *mm, enum zd_mmu_notifier_event event,
			  unsigned long start, unsigned long end, void *owner);
void zd_mn_end(struct mn_mm *m);

/* A change with nothing to bracket: tell the notifiers, then go on. */
static inline void zd_mn_notify(struct zd_mm *mm,
				enum zd_mmu_notifier_event event,
				unsigned long start, unsigned long end,
				void *owner)
{
	zd_mn_end(zd_mn_start(mm, event, start, end, owner));
}

/*
 * Whether an event on [start, end) changes managed memory: some page there
 * is managed and, for a remove event (@removing), not only zonedev's own
 * MADV_DONTNEED of pages gone to a device (PTE_DISCARD), which was told as
 * MIGRATE.  An mremap's unmap of its old range finds nothing left there.
 */
bool zd_mn_wanted(struct zd_mm *mm, unsigned long start, unsigned long end,
		  bool removing);

/* Whether this thread is inside an invalidate() of @mm's notifiers,
 * where @fn would wait for itself: then a warning naming @fn. */
bool zd_mn_telling(struct zd_mm *mm, const char *fn);

/* @mm is being freed: its notifiers are detached (remove is then a no-op). */
void zd_mn_mm_gone(struct zd_mm *mm);

#endif /* ZD_HMM_NOTIFIER_H */
