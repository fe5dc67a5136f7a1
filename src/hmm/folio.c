// SPDX-License-Identifier: MIT
/*
 * Splitting a mapped large device folio into order-0 pages.
 *
 * References: a device folio mapped in an mm holds one reference per
 * mapped page, all on its head (a tail's get and put go there), and each
 * page's entry names its own page.  So a folio that cannot be split (a
 * device holds it through zd_mm_lookup_get(), a fault is in progress)
 * still works page by page: an unmap puts one reference per page, and
 * the last one frees the whole folio, as the kernel's partially mapped
 * folios wait for their deferred split.
 *
 * Splitting freezes the head's count at zero with a compare-and-swap
 * from exactly the expected value, so a reference taken meanwhile makes
 * it fail instead of being lost; a zd_get_page() on the folio within the
 * few instructions it stays frozen is refused with a warning.  Device
 * references are taken through zd_mm_lookup_get() (under the mm's lock,
 * as the split) or a mirror the notifier keeps, before or after.
 */
#include <errno.h>

#include "internal.h"
#include "log.h"

/* Whether page @p is mapped in @mm by its own entry, busy as @busy. */
static bool mapped_here(struct zd_mm *mm, struct zd_page *p, bool busy)
{
	uintptr_t *pte;

	if (page_mm(p) != mm)
		return false;
	pte = zd_hmm_pte(mm, p->index << zd_page_shift);
	return pte && pte_page(*pte) == p && !!(*pte & PTE_BUSY) == busy;
}

int zd_hmm_folio_split(struct zd_mm *mm, struct zd_page *page,
		       struct zd_page *extra, bool busy)
{
	struct zd_page *head;
	const struct zd_dev_pagemap_ops *ops;
	unsigned long nr;
	unsigned int flags;
	int expect;

	if (!page_large(page))
		return 0;
	head = &zd_page_folio(page)->page;
	nr = zd_folio_nr_pages((struct zd_folio *)head);
	for (unsigned long k = 0; k < nr; k++)
		if (!mapped_here(mm, head + k, busy))
			return -EBUSY;
	expect = (int)nr + (extra && &zd_page_folio(extra)->page == head);
	if (!atomic_compare_exchange_strong(&head->_refcount, &expect, 0))
		return -EBUSY;
	/* frozen: each page becomes a folio of its own, with its count and
	 * a pgmap reference (the head keeps the folio's) before it stops
	 * being a tail, so a get on it goes to a valid count */
	flags = atomic_load(&head->flags) & ~(unsigned int)(ZD_PG_HEAD | ZD_PG_TAIL);
	for (unsigned long k = 1; k < nr; k++) {
		struct zd_page *p = head + k;

		atomic_store(&p->_refcount, 1 + (p == extra));
		zd_percpu_ref_get(&head->pgmap->ref);
		p->compound_head = NULL;
		p->folio_order = 0;
		atomic_store(&p->flags, flags);
	}
	head->folio_order = 0;
	atomic_store(&head->flags, flags);
	ops = head->pgmap->ops;
	if (ops && ops->folio_split)
		for (unsigned long k = 1; k < nr; k++)
			ops->folio_split((struct zd_folio *)head,
					 (struct zd_folio *)(head + k));
	atomic_store(&head->_refcount, 1 + (head == extra));
	return 0;
}

/* The folio of the page at @a, if it is large and not wholly inside
 * [start, end): split it. */
static void split_edge(struct zd_mm *mm, uintptr_t a, uintptr_t start,
		       uintptr_t end)
{
	uintptr_t *pte = zd_hmm_pte(mm, a);
	struct zd_page *page = pte && !(*pte & PTE_BUSY) ? pte_page(*pte) : NULL;
	struct zd_page *head;
	unsigned long nr;

	if (!page || !page_large(page))
		return;
	head = &zd_page_folio(page)->page;
	nr = zd_folio_nr_pages((struct zd_folio *)head);
	for (unsigned long k = 0; k < nr; k++) {
		uintptr_t pa = head[k].index << zd_page_shift;

		if (pa < start || pa >= end) {
			zd_hmm_folio_split(mm, page, NULL, false);
			return;
		}
	}
}

void zd_hmm_split_edges(struct zd_mm *mm, uintptr_t start, uintptr_t end)
{
	start &= ~(page_bytes() - 1);
	if (start >= end)
		return;
	split_edge(mm, start, start, end);
	split_edge(mm, (end - 1) & ~(page_bytes() - 1), start, end);
}
