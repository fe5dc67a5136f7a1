// SPDX-License-Identifier: MIT
/*
 * The managed mm: a userfaultfd, its fault thread, the ranges it manages
 * and their software page table; registration, teardown and the fork hook
 * that brings device pages home before the address space is copied.
 */
#include <errno.h>
#include <limits.h>
#include <linux/userfaultfd.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../os/os.h"
#include "fault.h"
#include "fork.h"
#include "internal.h"
#include "list.h"
#include "log.h"
#include "notifier.h"

pthread_mutex_t zd_hmm_mms_lock = PTHREAD_MUTEX_INITIALIZER;
struct zd_list_head zd_hmm_mms = { &zd_hmm_mms, &zd_hmm_mms };

#define mm_of(pos)	container_of(pos, struct zd_mm, node)

/* ---- the range table ---------------------------------------------------- */

/*
 * The index of the first of @a[0..n) above @addr (@n if none).  Without
 * branches on the comparisons (a conditional move each): random lookups
 * would mispredict half of them, which costs more than the search.
 */
static size_t first_above(const uintptr_t *a, size_t n, uintptr_t addr)
{
	const uintptr_t *base = a;

	if (!n)
		return 0;
	while (n > 1) {
		size_t half = n / 2;

		base = base[half - 1] <= addr ? base + half : base;
		n -= half;
	}
	return (size_t)(base - a) + (*base <= addr);
}

/*
 * The index of the first range ending above @addr (nr_ranges if none).
 * Two levels, as a B-tree would: the last end of each block of
 * RANGE_BLOCK ranges (an array small enough to stay in cache), then
 * the ends of one block (one or two cache lines).  A plain binary search
 * of 10,000 ends misses the cache at each of its last steps.
 */
static size_t range_index(struct zd_mm *mm, uintptr_t addr)
{
	size_t k = first_above(mm->tops, mm->nr_tops, addr), first, n;

	if (k == mm->nr_tops)
		return mm->nr_ranges;
	first = k * RANGE_BLOCK;
	n = mm->nr_ranges - first < RANGE_BLOCK ? mm->nr_ranges - first : RANGE_BLOCK;
	return first + first_above(mm->ends + first, n, addr);
}

/* The block index from the block of range @i on, after a change there. */
static void ranges_reindex(struct zd_mm *mm, size_t i)
{
	size_t n = mm->nr_ranges;

	mm->nr_tops = (n + RANGE_BLOCK - 1) / RANGE_BLOCK;
	for (size_t k = i / RANGE_BLOCK; k < mm->nr_tops; k++)
		mm->tops[k] = mm->ends[(k + 1) * RANGE_BLOCK <= n ?
				       (k + 1) * RANGE_BLOCK - 1 : n - 1];
}

/*
 * Among many ranges, the table does not stay in cache: the start comes
 * from its own array and the entries from the range's address (they
 * follow the struct), so the two loads after the search are independent
 * and the range struct itself is never read.
 */
uintptr_t *zd_hmm_pte(struct zd_mm *mm, uintptr_t addr)
{
	size_t i = range_index(mm, addr);
	uintptr_t *pte;

	if (i == mm->nr_ranges || addr < mm->starts[i])
		return NULL;
	pte = &mm->ranges[i]->pte[(addr - mm->starts[i]) >> zd_page_shift];
	return *pte != PTE_NONE ? pte : NULL;
}

bool zd_hmm_overlaps(struct zd_mm *mm, uintptr_t start, uintptr_t end)
{
	size_t i = range_index(mm, start);

	return i < mm->nr_ranges && mm->starts[i] < end;
}

/* Grow one of the table's arrays to @cap elements of @size bytes. */
static bool array_grow(void *arrayp, size_t cap, size_t size)
{
	void *p = realloc(*(void **)arrayp, cap * size);

	if (p)
		*(void **)arrayp = p;
	return p;
}

static int ranges_reserve(struct zd_mm *mm, size_t more)
{
	size_t cap = mm->cap_ranges ? mm->cap_ranges : 16;

	while (cap < mm->nr_ranges + more)
		cap *= 2;
	if (cap == mm->cap_ranges)
		return 0;
	if (!array_grow(&mm->ranges, cap, sizeof(*mm->ranges)) ||
	    !array_grow(&mm->starts, cap, sizeof(*mm->starts)) ||
	    !array_grow(&mm->ends, cap, sizeof(*mm->ends)) ||
	    !array_grow(&mm->tops, cap / RANGE_BLOCK + 1, sizeof(*mm->tops)))
		return -ENOMEM;
	mm->cap_ranges = cap;
	return 0;
}

/* Slots [i, nr_ranges) of the table moved to start at @to. */
static void ranges_shift(struct zd_mm *mm, size_t i, size_t to)
{
	size_t n = mm->nr_ranges - i;

	memmove(&mm->ranges[to], &mm->ranges[i], n * sizeof(*mm->ranges));
	memmove(&mm->starts[to], &mm->starts[i], n * sizeof(*mm->starts));
	memmove(&mm->ends[to], &mm->ends[i], n * sizeof(*mm->ends));
}

static void range_set(struct zd_mm *mm, size_t i, struct hmm_range *r)
{
	mm->ranges[i] = r;
	mm->starts[i] = r->start;
	mm->ends[i] = r->end;
}

static void range_insert_at(struct zd_mm *mm, size_t i, struct hmm_range *r)
{
	ranges_shift(mm, i, i + 1);
	mm->nr_ranges++;
	range_set(mm, i, r);
	ranges_reindex(mm, i);
}

int zd_hmm_range_insert(struct zd_mm *mm, struct hmm_range *r)
{
	if (ranges_reserve(mm, 1))
		return -ENOMEM;
	range_insert_at(mm, range_index(mm, r->start), r);
	return 0;
}

void zd_hmm_range_free(struct hmm_range *r)
{
	free(r);
}

struct hmm_range *zd_hmm_range_new(uintptr_t start, size_t n)
{
	struct hmm_range *r = zd_zalloc("hmm.range", sizeof(*r) +
					n * sizeof(uintptr_t));

	if (!r)
		return NULL;
	r->start = start;
	r->end = start + (n << zd_page_shift);
	return r;
}

static size_t next_run(const struct hmm_range *r, size_t i, size_t n, bool live)
{
	while (i < n && (r->pte[i] != PTE_NONE) != live)
		i++;
	return i;
}

/*
 * Range @i cut into its runs of managed pages: the first stays in place,
 * each other one becomes a range of its own after it, and a range with
 * none is freed.  If memory for the pieces is short, only the ends are
 * cut (the unmanaged pages between stay, as PTE_NONE).  Returns how many
 * ranges now stand where @i stood.
 */
static size_t range_cut(struct zd_mm *mm, size_t i)
{
	struct hmm_range *r = mm->ranges[i], *piece[64];
	size_t n = (r->end - r->start) >> zd_page_shift, a0, b0, last, k = 0;
	bool split = true;

	a0 = next_run(r, 0, n, true);
	if (a0 == n) {
		ranges_shift(mm, i + 1, i);
		mm->nr_ranges--;
		ranges_reindex(mm, i);
		zd_hmm_range_free(r);
		return 0;
	}
	b0 = next_run(r, a0, n, false);
	for (last = n; r->pte[last - 1] == PTE_NONE; last--)
		;
	for (size_t a = b0, b; a < last && split; a = b) {
		a = next_run(r, a, n, true);
		b = next_run(r, a, n, false);
		split = k < 64 && (piece[k] = zd_hmm_range_new(r->start + (a << zd_page_shift),
							 b - a));
		if (split)
			memcpy(piece[k++]->pte, &r->pte[a], (b - a) * sizeof(uintptr_t));
	}
	if (!split || ranges_reserve(mm, k)) {
		while (k)
			zd_hmm_range_free(piece[--k]);
		b0 = last;
	}
	for (size_t j = 0; j < k; j++)
		range_insert_at(mm, i + 1 + j, piece[j]);
	memmove(r->pte, &r->pte[a0], (b0 - a0) * sizeof(uintptr_t));
	r->end = r->start + (b0 << zd_page_shift);
	r->start += a0 << zd_page_shift;
	range_set(mm, i, r);
	ranges_reindex(mm, i);
	return 1 + k;
}

void zd_hmm_trim(struct zd_mm *mm, uintptr_t start, uintptr_t end)
{
	for (size_t i = range_index(mm, start);
	     i < mm->nr_ranges && mm->starts[i] < end;)
		i += range_cut(mm, i);
	pthread_cond_broadcast(&mm->drained);
}

/* The extents of the ranges within [start, end), or of all ranges; the
 * count in *@n.  NULL (and *@n 0) if there are none or no memory. */
static uintptr_t *ranges_snapshot(struct zd_mm *mm, uintptr_t start,
				  uintptr_t end, size_t *n)
{
	uintptr_t *b;
	size_t i, j = 0;

	pthread_mutex_lock(&mm->lock);
	i = range_index(mm, start);
	b = malloc(2 * (mm->nr_ranges - i + 1) * sizeof(*b));
	for (; b && i < mm->nr_ranges && mm->ranges[i]->start < end; i++) {
		b[j++] = mm->ranges[i]->start;
		b[j++] = mm->ranges[i]->end;
	}
	pthread_mutex_unlock(&mm->lock);
	*n = j / 2;
	return b;
}

/*
 * Bring the page at @a home.  A page under migration is waited for (a
 * host page on its way to a device would arrive there after the fork or
 * the unregister), and so is a device page someone holds
 * (zd_mm_lookup_get(): it does not migrate until put), retrying.
 */
static void evict_page(struct zd_mm *mm, uintptr_t a, bool forking)
{
	int64_t waited_from = 0;

	for (;;) {
		struct zd_vm_fault vmf = { .mm = mm, .address = a };
		uintptr_t *pte, e;
		int err;

		pthread_mutex_lock(&mm->lock);
		zd_hmm_split_at(mm, a, NULL, NULL);	/* as the fault thread */
		pte = zd_hmm_pte(mm, a);
		e = pte ? *pte : 0;
		vmf.page = e & PTE_BUSY ? NULL : pte_page(e);
		if (vmf.page)		/* as the fault thread */
			zd_get_page(vmf.page);
		pthread_mutex_unlock(&mm->lock);
		zd_hmm_split_put(mm);
		if (pte_excl(e)) {	/* a device's exclusive page comes home too */
			zd_hmm_excl_evict(mm, a);
			continue;
		}
		/* in a forked child no migration is left to finish; nor is
		 * this thread's own (a fork between its setup and finalize) */
		if (!vmf.page && (!(e & PTE_BUSY) || e == PTE_DEAD || mm->dead ||
				  zd_hmm_migrating_here_at(mm, a)))
			return;
		/* a fork leaves a coherent page that is held (a pin) to the
		 * parent and gives the child a copy, as the kernel does with
		 * pinned pages (zd_hmm_coh_fork_child()) */
		if (forking && vmf.page && zd_hmm_coh_page(vmf.page) &&
		    zd_page_ref_count(vmf.page) > 2) {
			zd_put_page(vmf.page);
			return;
		}
		if (vmf.page) {
			vmf.flags = e & PTE_WRITE ? ZD_FAULT_FLAG_WRITE : 0;
			zd_fault_point("hmm.evict");
			err = zd_hmm_coh_page(vmf.page) ?	/* no migrate_to_ram */
			      zd_hmm_coh_evict(mm, a, vmf.page,
					       zd_hmm_pinned_here(mm, a, vmf.page)) :
			      zd_hmm_migrate_to_ram(&vmf);
			zd_put_page(vmf.page);
			if (err) {
				zd_warn("cannot bring the device page at %#lx home "
					"(error %d): its bytes are lost",
					(unsigned long)a, err);
				return;
			}
		}
		zd_hmm_wait_tick(&waited_from, a, "to come home (under "
				 "migration, or held by a pin or zd_mm_lookup_get())");
	}
}

bool zd_hmm_report_due(int64_t *since)
{
	if (!*since) {
		*since = zd_os_now_ns();
	} else if (zd_os_now_ns() - *since > zd_report_period_ns()) {
		*since = zd_os_now_ns();
		return true;
	}
	return false;
}

void zd_hmm_wait_tick(int64_t *from, uintptr_t a, const char *what)
{
	if (zd_hmm_report_due(from))
		zd_warn("still waiting for the page at %#lx %s",
			(unsigned long)a, what);
	zd_os_sleep_ns(1000000);
}

bool zd_hmm_cond_wait_reported(pthread_cond_t *cv, pthread_mutex_t *lock,
			       int64_t *since)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	t.tv_sec += 1;
	pthread_cond_timedwait(cv, lock, &t);
	return zd_hmm_report_due(since);
}

void zd_hmm_evict(struct zd_mm *mm, uintptr_t start, uintptr_t end)
{
	for (uintptr_t a = start; a < end; a += page_bytes())
		evict_page(mm, a, false);
}

/* ---- fork: nothing may stay on a device --------------------------------- */

/* Bring back @mm's device pages; ranges are snapshotted first because
 * migrate_to_ram takes mm->lock. */
static void evict_all(struct zd_mm *mm)
{
	size_t n;
	uintptr_t *b = ranges_snapshot(mm, 0, UINTPTR_MAX, &n);

	for (size_t i = 0; i < n; i++)
		for (uintptr_t a = b[2 * i]; a < b[2 * i + 1]; a += page_bytes())
			evict_page(mm, a, true);
	free(b);
}

/* In the order code nests them; none is held while taking another. */
static void fork_leaf_locks(enum hmm_fork stage)
{
	zd_hmm_notifier_fork(stage);
	zd_hmm_excl_fork(stage);
	zd_hmm_staging_fork(stage);
	zd_hmm_sys_pages_fork(stage);
	zd_hmm_gup_fork(stage);
}

static void fork_prepare(void)
{
	struct zd_list_head *pos;

	pthread_mutex_lock(&zd_hmm_mms_lock);
	zd_hmm_migrations_fork(HMM_FORK_PREPARE);
	zd_list_for_each(pos, &zd_hmm_mms)
		if (!mm_of(pos)->dead)
			evict_all(mm_of(pos));
	fork_leaf_locks(HMM_FORK_PREPARE);
}

static void fork_parent(void)
{
	fork_leaf_locks(HMM_FORK_PARENT);
	zd_hmm_migrations_fork(HMM_FORK_PARENT);
	pthread_mutex_unlock(&zd_hmm_mms_lock);
}

static void fork_child(void)
{
	struct zd_list_head *pos;

	pthread_mutex_init(&zd_hmm_mms_lock, NULL);
	fork_leaf_locks(HMM_FORK_CHILD);
	zd_hmm_migrations_fork(HMM_FORK_CHILD);
	zd_list_for_each(pos, &zd_hmm_mms) {
		struct zd_mm *mm = mm_of(pos);

		mm->dead = true;		/* no fault thread here */
		zd_hmm_coh_fork_child(mm);
		/* only the forking thread's migrations came along */
		mm->in_flight = zd_hmm_migrating_here(mm);
		/* held at the fork by threads the child does not have */
		pthread_mutex_init(&mm->lock, NULL);
		pthread_mutex_init(&mm->trash_lock, NULL);
	}
}

static void hmm_fork_register(void)
{
	/* prepare handlers run newest first: this one before the base
	 * hooks take zonedev's locks, which migration needs */
	zd_fork_hooks_init();
	if (pthread_atfork(fork_prepare, fork_parent, fork_child))
		zd_warn("pthread_atfork failed: fork() may lose device pages");
}

/* ---- create and destroy ------------------------------------------------- */

#define UFFD_FEATURES	(UFFD_FEATURE_EVENT_REMAP | UFFD_FEATURE_EVENT_REMOVE | \
			 UFFD_FEATURE_EVENT_UNMAP | UFFD_FEATURE_THREAD_ID | \
			 UFFD_FEATURE_PAGEFAULT_FLAG_WP)

struct zd_mm *zd_mm_create(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	struct zd_mm *mm = zd_zalloc("hmm.mm", sizeof(*mm));
	uint64_t features = 0;
	int err;

	if (!mm)
		return NULL;
	pthread_once(&once, hmm_fork_register);
	pthread_mutex_init(&mm->lock, NULL);
	pthread_cond_init(&mm->drained, NULL);
	pthread_mutex_init(&mm->trash_lock, NULL);
	zd_list_init(&mm->pins);
	mm->stop_fd = -1;
	/* "hmm.uffd": as on a machine that allows no userfaultfd at all */
	mm->uffd = zd_fault("hmm.uffd") ? -EPERM :
		   zd_os_uffd_open(UFFD_FEATURES, ZD_UFFD_FEATURE_MOVE, &features);
	/* "hmm.nomove": as on a kernel before Linux 6.8 */
	mm->can_move = (features & ZD_UFFD_FEATURE_MOVE) && !zd_fault("hmm.nomove");
	err = mm->uffd < 0 ? mm->uffd : zd_os_eventfd();
	if (err >= 0) {
		mm->stop_fd = err;
		err = -pthread_create(&mm->thread, NULL, zd_hmm_fault_thread, mm);
	}
	if (err < 0) {
		zd_log(ZD_LOG_INFO, "HMM cannot run: %s (error %d)",
		       mm->uffd < 0 ? zd_os_uffd_why(err) : "no thread or eventfd",
		       -err);
		zd_os_close(mm->uffd);
		zd_os_close(mm->stop_fd);
		pthread_cond_destroy(&mm->drained);
		pthread_mutex_destroy(&mm->trash_lock);
		pthread_mutex_destroy(&mm->lock);
		free(mm);
		errno = -err;
		return NULL;
	}
	pthread_mutex_lock(&zd_hmm_mms_lock);
	zd_list_add_tail(&mm->node, &zd_hmm_mms);
	pthread_mutex_unlock(&zd_hmm_mms_lock);
	return mm;
}

/*
 * Stop managing the ranges within [start, end): device pages come home,
 * the kernel forgets the registration, and whatever a migration still
 * holds is left dead for it to clear (zd_hmm_drop()).
 */
static void ranges_release(struct zd_mm *mm, uintptr_t start, uintptr_t end)
{
	size_t n;
	uintptr_t *b = ranges_snapshot(mm, start, end, &n);

	for (size_t i = 0; i < n; i++) {
		uintptr_t s = b[2 * i], e = b[2 * i + 1];

		zd_hmm_evict(mm, s, e);
		/* fails where the application unmapped it meanwhile */
		zd_os_uffd_unregister(mm->uffd, (void *)s, e - s);
		zd_hmm_drop(mm, s, e, PTE_NONE);
	}
	free(b);
}

void zd_mm_destroy(struct zd_mm *mm)
{
	struct zd_list_head *pos;
	bool live = false;

	if (ZD_WARN_ON(!mm, "zd_mm_destroy: NULL mm"))
		return;
	if (zd_hmm_fault_thread_misuse(mm, __func__))
		return;
	if (zd_mn_telling(mm, __func__))
		return;
	if (zd_hmm_migrating_here(mm)) {
		zd_warn("zd_mm_destroy(%p) between this thread's own "
			"zd_migrate_vma_setup() and finalize: refused (it "
			"would wait for itself)", (void *)mm);
		return;
	}
	pthread_mutex_lock(&zd_hmm_mms_lock);
	zd_list_for_each(pos, &zd_hmm_mms)	/* compared, not read: it may
						 * have been freed */
		live |= mm_of(pos) == mm;
	if (live)
		zd_list_del_init(&mm->node);
	pthread_mutex_unlock(&zd_hmm_mms_lock);
	if (!live) {
		zd_warn("zd_mm_destroy(%p): no such mm (destroyed already?)",
			(void *)mm);
		return;
	}
	zd_mn_notify(mm, ZD_MMU_NOTIFY_RELEASE, 0, ULONG_MAX, NULL);
	zd_hmm_pins_drop(mm);		/* their coherent pages come home */
	ranges_release(mm, 0, UINTPTR_MAX);
	/* their last touches of the mm, after their pages came home */
	zd_hmm_migrations_wait(mm);
	if (!mm->dead) {
		zd_os_eventfd_signal(mm->stop_fd);
		pthread_join(mm->thread, NULL);
	}
	zd_os_close(mm->uffd);
	zd_os_close(mm->stop_fd);
	zd_hmm_trash_free(mm);		/* unregistered with the close */
	zd_hmm_split_put(mm);		/* split folios' unmapped pages */
	/* left dead by migrations still running: a caller's bug */
	for (size_t i = 0; i < mm->nr_ranges; i++)
		zd_hmm_range_free(mm->ranges[i]);
	free(mm->ranges);
	free(mm->starts);
	free(mm->ends);
	free(mm->tops);
	zd_mn_mm_gone(mm);
	pthread_cond_destroy(&mm->drained);
	pthread_mutex_destroy(&mm->lock);
	free(mm);
}

/* ---- ranges ------------------------------------------------------------- */

/* Whether [s, e) holds no entry but dead ones (see PTE_DEAD); lock held. */
static bool only_dead(struct zd_mm *mm, uintptr_t s, uintptr_t e)
{
	for (uintptr_t a = s; a < e; a += page_bytes()) {
		uintptr_t *pte = zd_hmm_pte(mm, a);

		if (pte && *pte != PTE_DEAD)
			return false;
	}
	return true;
}

/*
 * Each entry of @r made PTE_HOST or PTE_EMPTY as the kernel has the page
 * now; 0 or the error reading /proc/self/pagemap.  Asked only once the
 * range is registered: until then a page may be filled without a fault
 * telling us (the application writes it while the registration waits
 * for a migration that still holds the pages of a mapping it unmapped
 * there), and an entry that says empty where the kernel has a page
 * migrates as zeros, leaving the page in place beside its device copy.
 * Registered, a missing page is filled only by us.
 */
static int range_populated(struct hmm_range *r)
{
	size_t n = (r->end - r->start) >> zd_page_shift;
	uint64_t pm[512];

	for (size_t i = 0; i < n; i += 512) {
		size_t k = n - i < 512 ? n - i : 512;
		int err = zd_os_pagemap(r->start + (i << zd_page_shift), k, pm);

		if (err)
			return err;
		for (size_t j = 0; j < k; j++)	/* present or swapped */
			r->pte[i + j] = pm[j] >> 62 ? PTE_HOST : PTE_EMPTY;
	}
	return 0;
}

/* Manage [addr, addr + len); @fresh: all pages are untouched. */
static int range_add(struct zd_mm *mm, void *addr, size_t len, bool fresh)
{
	uintptr_t n = len >> zd_page_shift;
	struct hmm_range *r = zd_hmm_range_new((uintptr_t)addr, n);
	int err, pm_err = 0;

	if (!r)
		return -ENOMEM;
	for (uintptr_t i = 0; i < n; i++)
		r->pte[i] = PTE_EMPTY;
	pthread_mutex_lock(&mm->lock);
	zd_hmm_wait_drained(mm);	/* a munmap() that returned is done */
	/* and so are the migrations that held pages it unmapped */
	while (zd_hmm_overlaps(mm, r->start, r->end) && only_dead(mm, r->start, r->end))
		pthread_cond_wait(&mm->drained, &mm->lock);
	if (zd_hmm_overlaps(mm, r->start, r->end))
		err = -EINVAL;
	else if (ranges_reserve(mm, 1))
		err = -ENOMEM;
	else
		err = zd_os_uffd_register(mm->uffd, addr, len, 1);
	/* guessing wrong either way loses data or deadlocks: ask the kernel */
	if (!err && !fresh && (err = pm_err = range_populated(r)))
		zd_os_uffd_unregister(mm->uffd, addr, len);
	if (!err)
		zd_hmm_range_insert(mm, r);
	pthread_mutex_unlock(&mm->lock);
	if (err) {
		if (pm_err)
			zd_warn("cannot read /proc/self/pagemap (error %d)", -err);
		else if (err == -EINVAL)
			zd_warn("[%p, +%#zx) overlaps a managed range or cannot "
				"be registered", addr, len);
		else if (err == -EBUSY)	/* the kernel's answer */
			zd_warn("[%p, +%#zx) is registered with another "
				"userfaultfd (another zd_mm, staging memory, or "
				"other code)", addr, len);
		zd_hmm_range_free(r);
	}
	return err;
}

static bool args_bad(struct zd_mm *mm, const void *addr, size_t len)
{
	if (!mm || mm->dead || !len || (len & (page_bytes() - 1)) ||
	    ((uintptr_t)addr & (page_bytes() - 1)) ||
	    (addr && len > UINTPTR_MAX - (uintptr_t)addr)) {
		zd_warn("bad argument: mm %p addr %p len %#zx (page-aligned, "
			"non-zero, not wrapping; not in a forked child)",
			(void *)mm, addr, len);
		return true;
	}
	return false;
}

void *zd_mm_map(struct zd_mm *mm, size_t len)
{
	void *p;
	int err;

	if (args_bad(mm, NULL, len)) {
		errno = EINVAL;
		return NULL;
	}
	p = zd_os_map_pages(len);
	if (!p) {
		errno = ENOMEM;
		return NULL;
	}
	err = range_add(mm, p, len, true);
	if (err) {
		zd_os_unmap(p, len);
		errno = -err;
		return NULL;
	}
	return p;
}

int zd_mm_register(struct zd_mm *mm, void *addr, size_t len)
{
	if (args_bad(mm, addr, len))
		return -EINVAL;
	/* several mappings are fine: an application's mprotect() splits a
	 * range, and so does coming home from coherent memory */
	if (!zd_os_private_anon(addr, len, false)) {
		zd_warn("[%p, +%#zx) is not all private anonymous memory (a hole, "
			"a shared or file mapping)", addr, len);
		return -EINVAL;
	}
	return range_add(mm, addr, len, false);
}

/* [s, e) holds managed ranges, and none sticks out of it; lock held. */
static bool ranges_within(struct zd_mm *mm, uintptr_t s, uintptr_t e)
{
	size_t i = range_index(mm, s), j = range_index(mm, e - 1);

	return i < mm->nr_ranges && mm->ranges[i]->start >= s &&
	       mm->ranges[i]->start < e &&
	       (j == mm->nr_ranges || mm->ranges[j]->start >= e ||
		mm->ranges[j]->end <= e);
}

int zd_mm_unregister(struct zd_mm *mm, void *addr, size_t len)
{
	uintptr_t s = (uintptr_t)addr;
	bool ok;

	if (args_bad(mm, addr, len))
		return -EINVAL;
	if (zd_hmm_fault_thread_misuse(mm, __func__))
		return -EDEADLK;
	pthread_mutex_lock(&mm->lock);
	zd_hmm_wait_drained(mm);
	ok = ranges_within(mm, s, s + len);
	pthread_mutex_unlock(&mm->lock);
	if (!ok) {
		zd_warn("[%p, +%#zx) is not a managed range", addr, len);
		return -EINVAL;
	}
	zd_mn_notify(mm, ZD_MMU_NOTIFY_RELEASE, s, s + len, NULL);
	ranges_release(mm, s, s + len);
	return 0;
}

void zd_mm_get_stats(struct zd_mm *mm, struct zd_mm_stats *s)
{
	if (ZD_WARN_ON(!mm || !s, "zd_mm_get_stats: NULL %s", !s ? "stats" : "mm")) {
		if (s)
			memset(s, 0, sizeof(*s));
		return;
	}
	s->faults = atomic_load(&mm->stats.faults);
	s->zero_fills = atomic_load(&mm->stats.zero_fills);
	s->device_faults = atomic_load(&mm->stats.device_faults);
	s->sigbus = atomic_load(&mm->stats.sigbus);
	s->dropped = atomic_load(&mm->stats.dropped);
	s->pages_moved = atomic_load(&mm->stats.pages_moved);
	s->pages_copied = atomic_load(&mm->stats.pages_copied);
	pthread_mutex_lock(&mm->lock);
	zd_hmm_wait_drained(mm);
	s->ranges = mm->nr_ranges;
	pthread_mutex_unlock(&mm->lock);
}

unsigned long zd_mm_device_pages(struct zd_mm *mm)
{
	unsigned long n;

	if (ZD_WARN_ON(!mm, "zd_mm_device_pages: NULL mm"))
		return 0;
	pthread_mutex_lock(&mm->lock);
	zd_hmm_wait_drained(mm);
	n = mm->device_pages;
	pthread_mutex_unlock(&mm->lock);
	return n;
}

static int lookup(struct zd_mm *mm, unsigned long addr, struct zd_page **page,
		  bool get)
{
	uintptr_t a = addr & ~(page_bytes() - 1), *pte, e;

	if (page)
		*page = NULL;
	if (ZD_WARN_ON(!mm, "zd_mm_lookup: NULL mm"))
		return -EINVAL;
	pthread_mutex_lock(&mm->lock);
	zd_hmm_wait_drained(mm);
	pte = zd_hmm_pte(mm, a);
	e = pte ? zd_hmm_settle(pte, a) : PTE_NONE;
	if (get && pte_page(e) && !(e & PTE_BUSY))
		zd_get_page(pte_page(e));
	pthread_mutex_unlock(&mm->lock);
	if (e == PTE_NONE)
		return -EFAULT;
	if (e & PTE_BUSY)
		return ZD_MM_PAGE_BUSY;
	if (pte_page(e)) {
		if (page)
			*page = pte_page(e);
		else if (get)
			zd_put_page(pte_page(e));
		return ZD_MM_PAGE_DEVICE;
	}
	return e == PTE_EMPTY ? ZD_MM_PAGE_EMPTY : ZD_MM_PAGE_HOST;
}

int zd_mm_lookup(struct zd_mm *mm, unsigned long addr, struct zd_page **page)
{
	return lookup(mm, addr, page, false);
}

int zd_mm_lookup_get(struct zd_mm *mm, unsigned long addr, struct zd_page **page)
{
	return lookup(mm, addr, page, true);
}

int zd_access_remote_vm(struct zd_mm *mm, unsigned long addr, void *buf,
			int len, unsigned int gup_flags)
{
	char *p = (char *)addr, *b = buf;
	int done = 0;

	if (!mm || !buf || len < 0) {
		zd_warn("bad argument: mm %p buf %p len %d", (void *)mm, buf, len);
		return 0;
	}
	if (zd_hmm_fault_thread_misuse(mm, __func__))
		return 0;
	/* a page at a time: the bytes before an unmapped page count */
	while (done < len) {
		size_t n = page_bytes() - ((uintptr_t)(p + done) & (page_bytes() - 1));
		int err;

		if (n > (size_t)(len - done))
			n = (size_t)(len - done);
		err = gup_flags & ZD_FOLL_WRITE ? zd_os_poke(p + done, b + done, n) :
						   zd_os_peek(b + done, p + done, n);
		if (err)
			break;
		done += (int)n;
	}
	return done;
}
