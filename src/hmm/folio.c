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
 * from exactly the expected value, so a reference taken before makes it
 * fail instead of being lost; a zd_get_page() on the folio within the
 * few instructions it stays frozen would be refused.  So references are
 * kept out of that window: zd_mm_lookup_get() takes them under the mm's
 * lock, as the split runs, and mirrors (whose devices take them without
 * it) are told to drop the folio's entries first (ZD_MMU_NOTIFY_CLEAR,
 * zd_hmm_split_at()): an entry comes back only through
 * zd_hmm_range_fault(), under the lock again.
 */
#include <errno.h>
#include <stdlib.h>

#include "array.h"
#include "fault.h"
#include "internal.h"
#include "log.h"
#include "notifier.h"

/* Whether page @p is mapped in @mm by its own entry: 1, busy as @busy;
 * 0, not mapped (unmapped while the folio could not split); -1, mapped
 * elsewhere or busy otherwise. */
static int mapped_here(struct zd_mm *mm, struct zd_page *p, bool busy)
{
	uintptr_t *pte;

	if (!page_mm(p))
		return 0;
	if (page_mm(p) != mm)
		return -1;
	pte = zd_hmm_pte(mm, p->index << zd_page_shift);
	if (!pte || pte_page(*pte) != p)
		return -1;
	return !!(*pte & PTE_BUSY) == busy ? 1 : -1;
}

/* @p, unmapped, is freed once the lock is dropped. */
static void split_free_later(struct zd_mm *mm, struct zd_page *p)
{
	/* else the driver's page_free under our lock */
	if (zd_array_room(mm->split_free, mm->nr_split_free, mm->cap_split_free, 64))
		zd_put_page(p);
	else
		mm->split_free[mm->nr_split_free++] = p;
}

void zd_hmm_split_put(struct zd_mm *mm)
{
	struct zd_page **a;
	size_t n;

	pthread_mutex_lock(&mm->lock);
	a = mm->split_free;
	n = mm->nr_split_free;
	if (n) {
		mm->split_free = NULL;
		mm->nr_split_free = mm->cap_split_free = 0;
	}
	pthread_mutex_unlock(&mm->lock);
	if (!n)
		return;
	for (size_t k = 0; k < n; k++)
		zd_put_page(a[k]);
	free(a);
}

int zd_hmm_folio_split(struct zd_mm *mm, struct zd_page *page,
		       struct zd_page *extra, bool busy)
{
	struct zd_page *head;
	const struct zd_dev_pagemap_ops *ops;
	unsigned long nr;
	unsigned int flags;
	bool mapped[1ul << ZD_SUBSECTION_SHIFT >> 12];	/* pages >= 4 KiB */
	int expect = 0;

	if (!page_large(page))
		return 0;
	head = &zd_page_folio(page)->page;
	nr = zd_folio_nr_pages((struct zd_folio *)head);
	for (unsigned long k = 0; k < nr; k++) {
		int m = mapped_here(mm, head + k, busy);

		if (m < 0)
			return -EBUSY;
		mapped[k] = m;
		expect += m;
	}
	expect += extra && &zd_page_folio(extra)->page == head;
	if (!atomic_compare_exchange_strong(&head->_refcount, &expect, 0))
		return -EBUSY;
	zd_fault_point("hmm.folio.split");
	/* frozen: each page becomes a folio of its own, with its count and
	 * a pgmap reference (the head keeps the folio's) before it stops
	 * being a tail, so a get on it goes to a valid count */
	flags = atomic_load(&head->flags) & ~(unsigned int)(ZD_PG_HEAD | ZD_PG_TAIL);
	for (unsigned long k = 1; k < nr; k++) {
		struct zd_page *p = head + k;

		/* an unmapped one is held until the lock is dropped */
		atomic_store(&p->_refcount, mapped[k] ? 1 + (p == extra) : 1);
		zd_percpu_ref_get(&head->pgmap->ref);
		/* compound_head and folio_order stay as they were: a reader
		 * that saw the flag may still read them, and without HEAD or
		 * TAIL they mean nothing (the next hand-out rewrites them) */
		atomic_store(&p->flags, flags);
	}
	atomic_store(&head->flags, flags);
	ops = head->pgmap->ops;
	if (ops && ops->folio_split)
		for (unsigned long k = 1; k < nr; k++)
			ops->folio_split((struct zd_folio *)head,
					 (struct zd_folio *)(head + k));
	atomic_store(&head->_refcount, mapped[0] ? 1 + (head == extra) : 1);
	for (unsigned long k = 0; k < nr; k++)
		if (!mapped[k])
			split_free_later(mm, head + k);
	return 0;
}

/* The page of a large folio mapped (not busy) at @a, of @owner if not
 * NULL; NULL if none. */
static struct zd_page *large_at(struct zd_mm *mm, uintptr_t a, void *owner)
{
	uintptr_t *pte = zd_hmm_pte(mm, a);
	struct zd_page *page = pte && !(*pte & PTE_BUSY) ? pte_page(*pte) : NULL;

	if (!page || !page_large(page) || (owner && page->pgmap->owner != owner))
		return NULL;
	return page;
}

/* Whether the folio of @page lies wholly in [start, end) of @mm. */
static bool folio_inside(struct zd_mm *mm, struct zd_page *page,
			 uintptr_t start, uintptr_t end)
{
	struct zd_page *head = &zd_page_folio(page)->page;
	unsigned long nr = zd_folio_nr_pages((struct zd_folio *)head);

	for (unsigned long k = 0; k < nr; k++) {
		uintptr_t pa = head[k].index << zd_page_shift;

		if (page_mm(head + k) == mm && (pa < start || pa >= end))
			return false;
	}
	return true;
}

void zd_hmm_split_at(struct zd_mm *mm, uintptr_t a, struct zd_page *extra,
		     void *owner)
{
	struct zd_page *page = large_at(mm, a, owner), *head;
	uintptr_t lo = UINTPTR_MAX, hi = 0;
	unsigned long nr;

	if (!page)
		return;
	head = &zd_page_folio(page)->page;
	nr = zd_folio_nr_pages((struct zd_folio *)head);
	for (unsigned long k = 0; k < nr; k++)
		if (page_mm(head + k) == mm) {
			uintptr_t pa = head[k].index << zd_page_shift;

			lo = pa < lo ? pa : lo;
			hi = pa + page_bytes() > hi ? pa + page_bytes() : hi;
		}
	pthread_mutex_unlock(&mm->lock);
	zd_mn_notify(mm, ZD_MMU_NOTIFY_CLEAR, lo, hi, NULL);
	pthread_mutex_lock(&mm->lock);
	page = large_at(mm, a, owner);	/* anything may have changed */
	if (page)
		zd_hmm_folio_split(mm, page, extra, false);
}

void zd_hmm_split_edges(struct zd_mm *mm, uintptr_t start, uintptr_t end)
{
	uintptr_t last;
	struct zd_page *page;

	start &= ~(page_bytes() - 1);
	if (start >= end)
		return;
	last = (end - 1) & ~(page_bytes() - 1);
	page = large_at(mm, start, NULL);
	if (page && !folio_inside(mm, page, start, end))
		zd_hmm_split_at(mm, start, NULL, NULL);
	page = large_at(mm, last, NULL);
	if (page && !folio_inside(mm, page, start, end))
		zd_hmm_split_at(mm, last, NULL, NULL);
}
