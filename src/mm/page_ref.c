// SPDX-License-Identifier: MIT
/*
 * Page reference counts with the kernel 6.1 ZONE_DEVICE rules (see
 * zonedev/mm.h), and the page-type predicates.
 */
#include <errno.h>
#include <limits.h>
#include <zonedev/memremap.h>

#include "log.h"
#include "model.h"
#include "page.h"

static bool page_null(const struct zd_page *page, const char *fn);

bool zd__page_bad(const struct zd_page *page, const char *fn)
{
	if (page_null(page, fn))
		return true;
	if (unlikely(!(atomic_load_explicit(&page->flags, memory_order_relaxed) &
		       ZD_PG_ZONE_DEVICE) || !page->pgmap)) {
		zd_log(ZD_LOG_WARN, "WARNING: %s: page %p (pfn %#lx) is not a "
		       "ZONE_DEVICE page", fn, (void *)page, zd_page_to_pfn(page));
		return true;
	}
	return false;
}

/* The report of a NULL page, out of the way of the per-page paths. */
static __attribute__((cold, noinline)) void null_page(const char *fn)
{
	zd_log(ZD_LOG_WARN, "WARNING: %s: NULL page", fn);
}

/* The predicates answer false for NULL, after the report. */
static bool pred_null(const char *fn)
{
	null_page(fn);
	return false;
}

bool zd_is_zone_device_page(const struct zd_page *page)
{
	if (unlikely(!page))
		return pred_null(__func__);
	return atomic_load(&page->flags) & ZD_PG_ZONE_DEVICE;
}

static bool page_is(const struct zd_page *page, enum zd_memory_type type,
		    const char *fn)
{
	if (unlikely(!page))
		return pred_null(fn);
	return (atomic_load(&page->flags) & ZD_PG_ZONE_DEVICE) && page->pgmap &&
	       page->pgmap->type == type;
}

bool zd_is_device_private_page(const struct zd_page *page)
{
	return page_is(page, ZD_MEMORY_DEVICE_PRIVATE, __func__);
}

bool zd_is_device_coherent_page(const struct zd_page *page)
{
	return page_is(page, ZD_MEMORY_DEVICE_COHERENT, __func__);
}

bool zd_is_pci_p2pdma_page(const struct zd_page *page)
{
	return page_is(page, ZD_MEMORY_DEVICE_PCI_P2PDMA, __func__);
}

/* The raw counters work on any page, as the kernel's do: only NULL is
 * refused. */
static bool page_null(const struct zd_page *page, const char *fn)
{
	if (likely(page))
		return false;
	null_page(fn);
	return true;	/* said here, so that callers know @page is NULL */
}

int zd__page_ref_count_null(void)
{
	null_page("zd_page_ref_count");
	return 0;
}

unsigned long zd__page_to_pfn_null(void)
{
	null_page("zd_page_to_pfn");
	return ZD_PFN_NONE;
}

void *zd__page_address_null(void)
{
	null_page("zd_page_address");
	return NULL;
}

void zd_set_page_count(struct zd_page *page, int v)
{
	if (page_null(page, __func__))
		return;
	if (unlikely(v < 0)) {
		zd_warn("page %p: negative count %d refused", (void *)page, v);
		return;
	}
	atomic_store(&page->_refcount, v);
}

/*
 * The raw counters are hot: the only check is on the value the atomic
 * returns.  A step that overflows or goes below zero is undone; the
 * kernel's page_ref has no such check, so there it would corrupt the count.
 */
static __attribute__((cold, noinline)) void ref_undo(struct zd_page *page,
						     int old, long delta,
						     const char *fn)
{
	/* the atomics wrap: adding -@delta as an int restores the count */
	atomic_fetch_add(&page->_refcount, (int)-delta);
	zd_log(ZD_LOG_WARN, "WARNING: %s: page %p (pfn %#lx): count %d %+ld "
	       "would %s; ignored", fn, (void *)page, zd_page_to_pfn(page), old,
	       delta, delta > 0 ? "overflow" : "go below zero");
}

/* @old + @delta is not a count: it overflows or is negative. */
static inline bool ref_bad(int old, long delta)
{
	long new = old + delta;

	return unlikely(new < 0 || new > INT_MAX);
}

void zd_page_ref_add(struct zd_page *page, int nr)
{
	int old;

	if (page_null(page, __func__))
		return;
	old = atomic_fetch_add(&page->_refcount, nr);
	if (ref_bad(old, nr))
		ref_undo(page, old, nr, __func__);
}

/* The subtraction behind the three calls below; NULL or below zero: -1,
 * neither zero nor a count a caller would free on. */
static int ref_sub_return(struct zd_page *page, int nr, const char *fn)
{
	int old;

	if (page_null(page, fn))
		return -1;
	old = atomic_fetch_sub(&page->_refcount, nr);
	if (ref_bad(old, -(long)nr)) {
		ref_undo(page, old, -(long)nr, fn);
		return -1;
	}
	return old - nr;
}

void zd_page_ref_sub(struct zd_page *page, int nr)
{
	ref_sub_return(page, nr, __func__);
}

int zd_page_ref_sub_return(struct zd_page *page, int nr)
{
	return ref_sub_return(page, nr, __func__);
}

bool zd_page_ref_dec_and_test(struct zd_page *page)
{
	return ref_sub_return(page, 1, __func__) == 0;
}

/* A tail's references are its folio's, as in the kernel. */
static inline struct zd_page *ref_page(struct zd_page *page)
{
	return unlikely(atomic_load_explicit(&page->flags, memory_order_relaxed) &
			ZD_PG_TAIL) ? page->compound_head : page;
}

void zd_get_page(struct zd_page *page)
{
	if (zd__page_bad(page, __func__))
		return;
	page = ref_page(page);
	if (unlikely(atomic_fetch_add(&page->_refcount, 1) <= 0)) {
		atomic_fetch_sub(&page->_refcount, 1);
		zd_warn("page %p (pfn %#lx) is free: get refused", (void *)page,
			zd_page_to_pfn(page));
	}
}

/* The count reached zero: the page is the driver's again. */
static void free_zone_device_page(struct zd_page *page)
{
	struct zd_dev_pagemap *pgmap = page->pgmap;

	if (!pgmap->ops || !pgmap->ops->page_free) {
		zd_warn("pgmap of page %p has no page_free", (void *)page);
		if (idle_at_one(pgmap))
			zd_set_page_count(page, 1);
		return;
	}
	/* HMM's unplug reads it without a lock (src/hmm/internal.h) */
	__atomic_store_n(&page->mapping, NULL, __ATOMIC_RELAXED);
	pgmap->ops->page_free(page);
	if (idle_at_one(pgmap))
		zd_set_page_count(page, 1);
	else
		zd_put_dev_pagemap(pgmap);
}

void zd_put_page(struct zd_page *page)
{
	int floor, old;

	if (zd__page_bad(page, __func__))
		return;
	page = ref_page(page);
	/* fsdax counts from one: one is idle, not free */
	floor = page->pgmap->type == ZD_MEMORY_DEVICE_FS_DAX ? 1 : 0;
	old = atomic_fetch_sub(&page->_refcount, 1);
	if (unlikely(old <= floor)) {
		atomic_fetch_add(&page->_refcount, 1);
		zd_warn("page %p (pfn %#lx) put below %d; ignored",
			(void *)page, zd_page_to_pfn(page), floor);
		return;
	}
	if (old == 1)
		free_zone_device_page(page);
}

void zd_unlock_page(struct zd_page *page)
{
	if (zd__page_bad(page, __func__))
		return;
	if (!(atomic_fetch_and(&page->flags, ~(unsigned int)ZD_PG_LOCKED) &
	      ZD_PG_LOCKED))
		zd_warn("page %p (pfn %#lx) is not locked", (void *)page,
			zd_page_to_pfn(page));
}
