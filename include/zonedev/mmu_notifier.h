/* SPDX-License-Identifier: MIT */
/*
 * Interval notifiers: a driver mirroring part of a managed mm (a device's
 * page table of it, after include/linux/mmu_notifier.h) is told before a
 * change to that part takes effect, and checks with a sequence count that
 * what it read (zd_hmm_range_fault()) is still current when it installs
 * it.
 *
 * A driver inserts a struct zd_mmu_interval_notifier on [start, start +
 * length) of a struct zd_mm.  Its invalidate() is called for every change
 * to managed memory overlapping that interval, with the change's range and
 * reason:
 *
 *   ZD_MMU_NOTIFY_UNMAP    the application's munmap(), and the old range
 *                          of an mremap() that moved it;
 *   ZD_MMU_NOTIFY_CLEAR    MADV_DONTNEED or MADV_FREE; a device's unplug
 *                          taking its pages home (zd_migrate_device_range);
 *   ZD_MMU_NOTIFY_MIGRATE  zd_migrate_vma_setup(), either way, with the
 *                          migration's pgmap_owner in range->owner (a
 *                          driver ignores its own migrations by it);
 *   ZD_MMU_NOTIFY_RELEASE  zd_mm_destroy() (range 0 to ULONG_MAX), and
 *                          zd_mm_unregister() of the range: zonedev stops
 *                          following it, so a mirror of it must go.
 *   ZD_MMU_NOTIFY_EXCLUSIVE zd_make_device_exclusive_range(), with its
 *                          owner, before the CPU loses the pages; and
 *                          with owner NULL, for one page, when a CPU
 *                          access (or fork, unregister, destroy) takes an
 *                          exclusive page back, before its bytes return:
 *                          the device's exclusive mapping must go.
 *
 * PROTECTION_VMA, PROTECTION_PAGE and SOFT_DIRTY exist for the kernel's
 * names but are never sent: the kernel tells userfaultfd nothing of
 * mprotect().  A mirror therefore does not learn of an mprotect() that
 * takes rights away (nor does an exclusive page's holder);
 * zd_hmm_range_fault() honours the protections current when it runs.
 *
 * When "before" is.  Changes zonedev makes (migration, unplug, unregister,
 * destroy) call invalidate() before any entry changes, as the kernel does.
 * Changes the application makes reach zonedev as userfaultfd events: the
 * kernel has already removed (munmap, mremap) or is removing (MADV_*) the
 * CPU's pages when the mm's fault thread reads the event, and lets the
 * application's call return as soon as the event is read.  invalidate()
 * then runs on the fault thread right after the read: before zonedev drops
 * or moves any entry of the range, before a device page there is freed
 * (page_free), and before any zonedev call that starts after the
 * application's call returned looks at the range (zd_mm_lookup(),
 * zd_hmm_range_fault(), zd_migrate_vma_setup() wait for events read to be
 * handled).  It may run after the application's own call returned.
 *
 * invalidate() may sleep and take the driver's lock, but must not call
 * back into the mm: a migration, zd_mm_lookup() or zd_hmm_range_fault() of
 * the same mm there would wait for itself.  For the same reason, as
 * invalidate() of the application's changes runs on the mm's fault
 * thread, a driver must not touch managed memory or call those functions
 * while holding the lock its invalidate() takes (the kernel's dmirror
 * holds it only to check read_retry and update its own page table).
 */
#ifndef ZONEDEV_MMU_NOTIFIER_H
#define ZONEDEV_MMU_NOTIFIER_H

#include <stdbool.h>
#include <zonedev/export.h>
#include <zonedev/types.h>

ZD_EXTERN_C_BEGIN

struct zd_mm;

/* Why invalidate() is called: the kernel's values. */
enum zd_mmu_notifier_event {
	ZD_MMU_NOTIFY_UNMAP = 0,
	ZD_MMU_NOTIFY_CLEAR,
	ZD_MMU_NOTIFY_PROTECTION_VMA,
	ZD_MMU_NOTIFY_PROTECTION_PAGE,
	ZD_MMU_NOTIFY_SOFT_DIRTY,
	ZD_MMU_NOTIFY_RELEASE,
	ZD_MMU_NOTIFY_MIGRATE,
	ZD_MMU_NOTIFY_EXCLUSIVE,
};

/* range->flags: invalidate() may sleep (always, here) */
#define ZD_MMU_NOTIFIER_RANGE_BLOCKABLE	(1u << 0)

struct zd_mmu_notifier_range {
	struct zd_mm *mm;
	unsigned long start, end;	/* [start, end), page-aligned */
	unsigned int flags;
	enum zd_mmu_notifier_event event;
	void *owner;			/* MIGRATE: the migration's pgmap_owner */
};

struct zd_mmu_interval_notifier;

struct zd_mmu_interval_notifier_ops {
	/* Stop using the mirror of [range->start, range->end) before
	 * returning; call zd_mmu_interval_set_seq(sub, cur_seq) under the
	 * lock the driver also holds around zd_mmu_interval_read_retry().
	 * Return true (false is the kernel's "could not sleep", which never
	 * applies here and is reported). */
	bool (*invalidate)(struct zd_mmu_interval_notifier *sub,
			   const struct zd_mmu_notifier_range *range,
			   unsigned long cur_seq);
};

/* The driver embeds it; the fields are zonedev's. */
struct zd_mmu_interval_notifier {
	struct zd_mm *mm;
	const struct zd_mmu_interval_notifier_ops *ops;
	unsigned long start, last;	/* inclusive, as the kernel's tree */
	unsigned long invalidate_seq;
	struct zd_list_head node;	/* in the mm's list, or deferred */
	void *mn;			/* the mm's notifier state */
	int state;
};

/**
 * zd_mmu_interval_notifier_insert - be told of changes to an interval
 * @sub: the driver's notifier, not inserted
 * @mm: the managed mm
 * @start: first address
 * @length: bytes, not zero; start + length must not overflow
 * @ops: with invalidate()
 *
 * From now on, every change to managed memory of @mm overlapping
 * [@start, @start + @length) calls @ops->invalidate() first (see the top
 * of this header for the events).  Inserted while a change is being
 * notified, @sub takes effect once it ends, and zd_mmu_interval_read_begin()
 * waits for that.
 * Context: may sleep; not from an invalidate() callback of @mm.
 * Return: 0, -EINVAL (bad arguments, with a warning), -ENOMEM.
 */
ZD_API int zd_mmu_interval_notifier_insert(struct zd_mmu_interval_notifier *sub,
					   struct zd_mm *mm, unsigned long start,
					   unsigned long length,
					   const struct zd_mmu_interval_notifier_ops *ops);

/**
 * zd_mmu_interval_notifier_remove - stop being told
 * @sub: an inserted notifier
 *
 * If a change is being notified, waits until its invalidate() calls are
 * over, so @sub may be freed on return.  After zd_mm_destroy() of its mm
 * (which told it ZD_MMU_NOTIFY_RELEASE) it only marks @sub removed.
 * Removing a notifier that is not inserted is reported and ignored.
 * Context: may sleep; not from an invalidate() callback of the mm, where
 * it would wait for itself: there it warns and leaves @sub inserted.
 */
ZD_API void zd_mmu_interval_notifier_remove(struct zd_mmu_interval_notifier *sub);

/**
 * zd_mmu_interval_read_begin - start reading the mm for a mirror
 * @sub: the notifier covering what is read
 *
 * The sequence to give zd_hmm_range_fault() (range->notifier_seq) and
 * then zd_mmu_interval_read_retry().  If a change overlapping @sub is
 * being notified, waits until it is over: what is read after is current.
 * Context: may sleep; no driver lock that invalidate() takes; not from an
 * invalidate() callback of the mm (it warns and does not wait there).
 * Return: the sequence.
 */
ZD_API unsigned long zd_mmu_interval_read_begin(struct zd_mmu_interval_notifier *sub);

/**
 * zd_mmu_interval_read_retry - whether a change came since read_begin
 * @sub: the notifier
 * @seq: from zd_mmu_interval_read_begin()
 *
 * Call it under the driver's lock that invalidate() takes around
 * zd_mmu_interval_set_seq(); if false, install the mirror before dropping
 * that lock.
 * Context: any; the driver's lock held.
 * Return: true if an invalidation collided and the read must be redone.
 */
ZD_API bool zd_mmu_interval_read_retry(struct zd_mmu_interval_notifier *sub,
				       unsigned long seq);

/**
 * zd_mmu_interval_check_retry - read_retry without the lock, as a hint
 * @sub: the notifier
 * @seq: from zd_mmu_interval_read_begin()
 *
 * True is final; false may be stale.  For long reads to give up early.
 * Context: any.
 * Return: true if an invalidation collided.
 */
ZD_API bool zd_mmu_interval_check_retry(struct zd_mmu_interval_notifier *sub,
					unsigned long seq);

/**
 * zd_mmu_interval_set_seq - record an invalidation, in invalidate()
 * @sub: the notifier being invalidated
 * @cur_seq: the cur_seq invalidate() was given
 *
 * Must be called from every invalidate() of @sub whose driver uses
 * read_begin/read_retry, under the lock held around read_retry.
 * Context: in invalidate(), the driver's lock held.
 */
ZD_API void zd_mmu_interval_set_seq(struct zd_mmu_interval_notifier *sub,
				    unsigned long cur_seq);

/**
 * zd_mmu_notifier_range_blockable - whether invalidate() may sleep
 * @range: as given to invalidate()
 *
 * Tells an invalidate() whether it may wait for its device (the kernel
 * calls some invalidations where sleeping is not allowed).
 * Context: any.
 * Return: true: zonedev's invalidations always allow sleeping.
 */
ZD_API bool zd_mmu_notifier_range_blockable(const struct zd_mmu_notifier_range *range);

ZD_EXTERN_C_END

#endif /* ZONEDEV_MMU_NOTIFIER_H */
