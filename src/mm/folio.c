// SPDX-License-Identifier: MIT
/*
 * Handing out device memory as folios: 2^order pages under one count.
 * A driver's free pages keep whatever folio metadata they had when they
 * were freed, so every hand-out rewrites the metadata of each page it
 * covers; the kernel once crashed on a tail left over from a larger
 * folio when it handed the page out at a smaller order.
 */
#include <errno.h>
#include <zonedev/memremap.h>

#include "log.h"
#include "model.h"
#include "page.h"

static unsigned long folio_pages(const struct zd_page *head)
{
	return atomic_load(&head->flags) & ZD_PG_HEAD ? 1ul << head->folio_order : 1;
}

/* @page is a tail of a folio that is in use. */
static bool in_live_folio(const struct zd_page *page)
{
	const struct zd_page *head = page->compound_head;

	return (atomic_load(&page->flags) & ZD_PG_TAIL) && head && head < page &&
	       (unsigned long)(page - head) < folio_pages(head) &&
	       atomic_load(&head->_refcount) > 0;
}

/* The 2^@order pages at @page are @pgmap's, of a type handed out. */
static int folio_check(struct zd_page *page, struct zd_dev_pagemap *pgmap,
		       unsigned int order)
{
	unsigned long pfn = zd_page_to_pfn(page), nr = 1ul << order;

	if (pgmap != page->pgmap) {
		zd_warn("folio %p: pgmap %p is not the page's (%p)", (void *)page,
			(void *)pgmap, (void *)page->pgmap);
		return -EINVAL;
	}
	if (idle_at_one(pgmap)) {
		zd_warn("page %p (pfn %#lx) is a %s page: only DEVICE_PRIVATE "
			"and DEVICE_COHERENT pages are handed out", (void *)page,
			pfn, zd_memory_type_name(pgmap->type));
		return -EINVAL;
	}
	if (order > ZD_MAX_FOLIO_ORDER || pfn & (nr - 1)) {
		zd_warn("folio at pfn %#lx: order %u is %s", pfn, order,
			order > ZD_MAX_FOLIO_ORDER ? "too large" :
			"not the alignment of its first pfn");
		return -EINVAL;
	}
	/* it cannot run past the range: ranges are subsection-aligned, and
	 * an aligned folio is at most one subsection */
	return 0;
}

/* A page of the folio at @head (claimed) is taken: by a count of its own
 * or by another live folio.  Tails left from @head's own last life are
 * not: their head is @head. */
static bool folio_busy(struct zd_page *head, unsigned long nr)
{
	if (in_live_folio(head))
		return true;
	for (unsigned long i = 1; i < nr; i++)
		if (atomic_load(&head[i]._refcount) ||
		    (head[i].compound_head != head && in_live_folio(&head[i])))
			return true;
	return false;
}

static void folio_prep(struct zd_page *head, unsigned int order)
{
	for (unsigned long i = 1; i < 1ul << order; i++) {
		head[i].compound_head = head;
		head[i].folio_order = 0;
		head[i].mapping = NULL;
		atomic_store(&head[i].flags, ZD_PG_ZONE_DEVICE | ZD_PG_TAIL);
	}
	head->compound_head = NULL;
	head->folio_order = order;
	head->mapping = NULL;
	/* as the kernel does for a page about to be migrated into */
	atomic_store(&head->flags, ZD_PG_ZONE_DEVICE | ZD_PG_LOCKED |
		     (order ? ZD_PG_HEAD : 0));
}

int zd_zone_device_folio_init(struct zd_folio *folio,
			      struct zd_dev_pagemap *pgmap, unsigned int order)
{
	struct zd_page *page = (struct zd_page *)folio;	/* NULL stays NULL */
	int free = 0, err;

	if (zd__page_bad(page, __func__))
		return -EINVAL;
	err = folio_check(page, pgmap, order);
	if (err)
		return err;
	if (!zd_percpu_ref_tryget_live(&pgmap->ref)) {
		zd_warn("page %p: its pgmap is being torn down", (void *)page);
		return -ENODEV;
	}
	/* zero to one in one step: of two racing callers, one wins */
	if (!atomic_compare_exchange_strong(&page->_refcount, &free, 1) ||
	    folio_busy(page, 1ul << order)) {
		if (!free)
			atomic_store(&page->_refcount, 0);
		zd_put_dev_pagemap(pgmap);
		zd_warn("folio %p (pfn %#lx, order %u): a page is in use "
			"(count %d): handed out twice?", (void *)page,
			zd_page_to_pfn(page), order, free);
		return -EBUSY;
	}
	folio_prep(page, order);
	return 0;
}

int zd_zone_device_page_init(struct zd_page *page)
{
	if (zd__page_bad(page, __func__))
		return -EINVAL;
	return zd_zone_device_folio_init((struct zd_folio *)page, page->pgmap, 0);
}

struct zd_folio *zd_page_folio(struct zd_page *page)
{
	if (ZD_WARN_ON(!page, "zd_page_folio: NULL page")) {
		errno = EINVAL;
		return NULL;
	}
	if (atomic_load(&page->flags) & ZD_PG_TAIL)
		page = page->compound_head;
	return (struct zd_folio *)page;
}

struct zd_page *zd_folio_page(struct zd_folio *folio, unsigned long n)
{
	if (ZD_WARN_ON(!folio, "zd_folio_page: NULL folio") ||
	    ZD_WARN_ON(n >= folio_pages(&folio->page),
		       "zd_folio_page: page %lu of a folio of %lu", n,
		       folio_pages(&folio->page))) {
		errno = EINVAL;
		return NULL;
	}
	return &folio->page + n;
}

unsigned int zd_folio_order(const struct zd_folio *folio)
{
	if (ZD_WARN_ON(!folio, "zd_folio_order: NULL folio"))
		return 0;
	return atomic_load(&folio->page.flags) & ZD_PG_HEAD ? folio->page.folio_order : 0;
}

unsigned long zd_folio_nr_pages(const struct zd_folio *folio)
{
	if (ZD_WARN_ON(!folio, "zd_folio_nr_pages: NULL folio"))
		return 0;
	return folio_pages(&folio->page);
}
