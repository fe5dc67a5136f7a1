// SPDX-License-Identifier: MIT
/*
 * The managed mm: a userfaultfd, its fault thread, the ranges it manages
 * and their software page table; registration, teardown and the fork hook
 * that brings device pages home before the address space is copied.
 */
#include <errno.h>
#include <linux/userfaultfd.h>
#include <stdlib.h>

#include "../os/os.h"
#include "fault.h"
#include "fork.h"
#include "internal.h"
#include "list.h"
#include "log.h"

pthread_mutex_t zd_hmm_mms_lock = PTHREAD_MUTEX_INITIALIZER;
struct zd_list_head zd_hmm_mms = { &zd_hmm_mms, &zd_hmm_mms };

#define range_of(pos)	container_of(pos, struct hmm_range, node)
#define mm_of(pos)	container_of(pos, struct zd_mm, node)

/* Unmapped parts of a range stay as PTE_NONE, and new ranges may be
 * registered over them: the live entry wins. */
uintptr_t *zd_hmm_pte(struct zd_mm *mm, uintptr_t addr)
{
	struct zd_list_head *pos;

	zd_list_for_each(pos, &mm->ranges) {
		struct hmm_range *r = range_of(pos);
		uintptr_t *pte;

		if (addr < r->start || addr >= r->end)
			continue;
		pte = &r->pte[(addr - r->start) >> zd_page_shift];
		if (*pte != PTE_NONE)
			return pte;
	}
	return NULL;
}

void zd_hmm_evict(struct zd_mm *mm, uintptr_t start, uintptr_t end)
{
	for (uintptr_t a = start; a < end; a += page_bytes()) {
		struct zd_vm_fault vmf = { .mm = mm, .address = a };
		uintptr_t *pte, e;

		pthread_mutex_lock(&mm->lock);
		pte = zd_hmm_pte(mm, a);
		e = pte ? *pte : 0;
		pthread_mutex_unlock(&mm->lock);
		vmf.page = pte_page(e);
		if (!vmf.page || (e & PTE_BUSY))
			continue;
		vmf.flags = e & PTE_WRITE ? ZD_FAULT_FLAG_WRITE : 0;
		if (vmf.page->pgmap->ops->migrate_to_ram(&vmf))
			zd_warn("migrate_to_ram failed for %#lx: its bytes are "
				"lost", (unsigned long)a);
	}
}

/* ---- fork: nothing may stay on a device --------------------------------- */

/* Bring back @mm's device pages; ranges are snapshotted first because
 * migrate_to_ram takes mm->lock. */
static void evict_all(struct zd_mm *mm)
{
	struct zd_list_head *pos;
	uintptr_t *b = NULL;
	size_t n = 0;

	pthread_mutex_lock(&mm->lock);
	zd_list_for_each(pos, &mm->ranges)
		n++;
	b = n ? malloc(2 * n * sizeof(*b)) : NULL;
	n = 0;
	zd_list_for_each(pos, &mm->ranges)
		if (b) {
			b[n++] = range_of(pos)->start;
			b[n++] = range_of(pos)->end;
		}
	pthread_mutex_unlock(&mm->lock);
	for (size_t i = 0; i < n; i += 2)
		zd_hmm_evict(mm, b[i], b[i + 1]);
	free(b);
}

static void fork_prepare(void)
{
	struct zd_list_head *pos;

	pthread_mutex_lock(&zd_hmm_mms_lock);
	zd_list_for_each(pos, &zd_hmm_mms)
		if (!mm_of(pos)->dead)
			evict_all(mm_of(pos));
}

static void fork_parent(void)
{
	pthread_mutex_unlock(&zd_hmm_mms_lock);
}

static void fork_child(void)
{
	struct zd_list_head *pos;

	pthread_mutex_init(&zd_hmm_mms_lock, NULL);
	zd_list_for_each(pos, &zd_hmm_mms)
		mm_of(pos)->dead = true;	/* no fault thread here */
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
	zd_list_init(&mm->ranges);
	pthread_mutex_init(&mm->lock, NULL);
	mm->stop_fd = -1;
	mm->uffd = zd_os_uffd_open(UFFD_FEATURES, ZD_UFFD_FEATURE_MOVE, &features);
	mm->can_move = features & ZD_UFFD_FEATURE_MOVE;
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
		free(mm);
		errno = -err;
		return NULL;
	}
	pthread_mutex_lock(&zd_hmm_mms_lock);
	zd_list_add_tail(&mm->node, &zd_hmm_mms);
	pthread_mutex_unlock(&zd_hmm_mms_lock);
	return mm;
}

static void range_free(struct zd_mm *mm, struct hmm_range *r)
{
	zd_hmm_evict(mm, r->start, r->end);
	zd_os_uffd_unregister(mm->uffd, (void *)r->start, r->end - r->start);
	pthread_mutex_lock(&mm->lock);
	zd_list_del_init(&r->node);
	pthread_mutex_unlock(&mm->lock);
	free(r->pte);
	free(r);
}

void zd_mm_destroy(struct zd_mm *mm)
{
	if (!mm)
		return;
	pthread_mutex_lock(&zd_hmm_mms_lock);
	zd_list_del_init(&mm->node);
	pthread_mutex_unlock(&zd_hmm_mms_lock);
	while (!zd_list_empty(&mm->ranges))
		range_free(mm, range_of(mm->ranges.next));
	if (!mm->dead) {
		zd_os_eventfd_signal(mm->stop_fd);
		pthread_join(mm->thread, NULL);
	}
	zd_os_close(mm->uffd);
	zd_os_close(mm->stop_fd);
	pthread_mutex_destroy(&mm->lock);
	free(mm);
}

/* ---- ranges ------------------------------------------------------------- */

static bool overlaps_locked(struct zd_mm *mm, uintptr_t s, uintptr_t e)
{
	for (uintptr_t a = s; a < e; a += page_bytes())
		if (zd_hmm_pte(mm, a))
			return true;
	return false;
}

/* Manage [addr, addr + len); @fresh: all pages are untouched. */
static int range_add(struct zd_mm *mm, void *addr, size_t len, bool fresh)
{
	uintptr_t s = (uintptr_t)addr, n = len >> zd_page_shift;
	struct hmm_range *r = zd_zalloc("hmm.range", sizeof(*r));
	int err = 0;

	if (!r || !(r->pte = zd_zalloc("hmm.pte", n * sizeof(uintptr_t)))) {
		free(r);
		return -ENOMEM;
	}
	r->start = s;
	r->end = s + len;
	/* guessing wrong either way loses data or deadlocks: ask the kernel */
	for (uintptr_t i = 0; i < n && !err; i++) {
		int pop = fresh ? 0 : zd_os_page_populated((char *)addr +
							   (i << zd_page_shift));

		r->pte[i] = pop > 0 ? PTE_HOST : PTE_EMPTY;
		if (pop < 0)
			err = pop;
	}
	if (err) {
		zd_warn("cannot read /proc/self/pagemap (error %d)", -err);
		free(r->pte);
		free(r);
		return err;
	}
	pthread_mutex_lock(&mm->lock);
	if (overlaps_locked(mm, r->start, r->end))
		err = -EINVAL;
	else if (!(err = zd_os_uffd_register(mm->uffd, addr, len, 1)))
		zd_list_add_tail(&r->node, &mm->ranges);
	pthread_mutex_unlock(&mm->lock);
	if (err) {
		if (err == -EINVAL)
			zd_warn("[%p, +%#zx) overlaps a managed range or cannot "
				"be registered", addr, len);
		free(r->pte);
		free(r);
	}
	return err;
}

static bool args_bad(struct zd_mm *mm, const void *addr, size_t len)
{
	if (!mm || mm->dead || !len || (len & (page_bytes() - 1)) ||
	    ((uintptr_t)addr & (page_bytes() - 1))) {
		zd_warn("bad argument: mm %p addr %p len %#zx (page-aligned, "
			"non-zero; not in a forked child)", (void *)mm, addr, len);
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
	if (!zd_os_private_anon(addr, len)) {
		zd_warn("[%p, +%#zx) is not one private anonymous mapping", addr, len);
		return -EINVAL;
	}
	return range_add(mm, addr, len, false);
}

int zd_mm_unregister(struct zd_mm *mm, void *addr, size_t len)
{
	struct zd_list_head *pos;
	struct hmm_range *found = NULL;

	if (args_bad(mm, addr, len))
		return -EINVAL;
	pthread_mutex_lock(&mm->lock);
	zd_list_for_each(pos, &mm->ranges)
		if (range_of(pos)->start == (uintptr_t)addr &&
		    range_of(pos)->end == (uintptr_t)addr + len)
			found = range_of(pos);
	pthread_mutex_unlock(&mm->lock);
	if (!found) {
		zd_warn("[%p, +%#zx) is not a managed range", addr, len);
		return -EINVAL;
	}
	range_free(mm, found);
	return 0;
}

void zd_mm_get_stats(struct zd_mm *mm, struct zd_mm_stats *s)
{
	if (!mm || !s)
		return;
	s->faults = atomic_load(&mm->stats.faults);
	s->zero_fills = atomic_load(&mm->stats.zero_fills);
	s->device_faults = atomic_load(&mm->stats.device_faults);
	s->sigbus = atomic_load(&mm->stats.sigbus);
	s->dropped = atomic_load(&mm->stats.dropped);
	s->pages_moved = atomic_load(&mm->stats.pages_moved);
	s->pages_copied = atomic_load(&mm->stats.pages_copied);
}

unsigned long zd_mm_device_pages(struct zd_mm *mm)
{
	unsigned long n;

	if (!mm)
		return 0;
	pthread_mutex_lock(&mm->lock);
	n = mm->device_pages;
	pthread_mutex_unlock(&mm->lock);
	return n;
}

int zd_mm_lookup(struct zd_mm *mm, unsigned long addr, struct zd_page **page)
{
	uintptr_t a = addr & ~(page_bytes() - 1), *pte, e;

	if (page)
		*page = NULL;
	if (!mm)
		return -EFAULT;
	pthread_mutex_lock(&mm->lock);
	pte = zd_hmm_pte(mm, a);
	e = pte ? zd_hmm_settle(pte, a) : PTE_NONE;
	pthread_mutex_unlock(&mm->lock);
	if (e == PTE_NONE)
		return -EFAULT;
	if (e & PTE_BUSY)
		return ZD_MM_PAGE_BUSY;
	if (pte_page(e)) {
		if (page)
			*page = pte_page(e);
		return ZD_MM_PAGE_DEVICE;
	}
	return e == PTE_EMPTY ? ZD_MM_PAGE_EMPTY : ZD_MM_PAGE_HOST;
}
