// SPDX-License-Identifier: MIT
/*
 * Migration of 2 MiB runs as one entry (ZD_MIGRATE_VMA_SELECT_COMPOUND,
 * see hmm.h): collected whole, placed with one copy or move, one discard
 * and one reference operation per folio.  Whatever cannot be done whole
 * (a driver answering with pages, a run the application partly unmapped
 * meanwhile) is split into ordinary entries for migrate.c's page-by-page
 * code, or does not migrate.
 */
#include <errno.h>

#include "internal.h"
#include "log.h"

#define NR		ZD_HMM_FOLIO_PAGES
#define FOLIO_BYTES	(NR << zd_page_shift)

static uintptr_t run_addr(const struct zd_migrate_vma *m, unsigned long i)
{
	return m->start + (i << zd_page_shift);
}

/* The run's entries, one array (a range's entries are contiguous), or
 * NULL if it is not all in one range. */
static uintptr_t *run_ptes(struct zd_mm *mm, uintptr_t a)
{
	uintptr_t *p = zd_hmm_pte(mm, a);
	uintptr_t *last = zd_hmm_pte(mm, a + FOLIO_BYTES - page_bytes());

	return p && last == p + NR - 1 ? p : NULL;
}

/* A device folio of @m's owner, mapped in order at @pte: its src entry. */
static unsigned long collect_folio(struct zd_migrate_vma *m, uintptr_t *pte)
{
	struct zd_page *head = pte_page(pte[0]);
	struct zd_page *fp = m->fault_page;
	uintptr_t write = PTE_WRITE;

	if (!head || !(m->flags & ZD_MIGRATE_VMA_SELECT_DEVICE_PRIVATE) ||
	    zd_hmm_coh_page(head) || head->pgmap->owner != m->pgmap_owner ||
	    !(atomic_load(&head->flags) & ZD_PG_HEAD) ||
	    zd_folio_order((struct zd_folio *)head) != ZD_HMM_FOLIO_ORDER)
		return 0;
	for (unsigned long k = 0; k < NR; k++) {
		if (pte[k] & PTE_BUSY || pte_page(pte[k]) != head + k)
			return 0;
		write &= pte[k];
	}
	/* no one else holds it (the fault's own reference aside) */
	if (zd_page_ref_count(head) !=
	    (int)NR + (fp && &zd_page_folio(fp)->page == head))
		return 0;
	return zd_migrate_pfn(zd_page_to_pfn(head)) | ZD_MIGRATE_PFN_MIGRATE |
	       (write ? ZD_MIGRATE_PFN_WRITE : 0);
}

/* All host pages or all never touched: their src entry. */
static unsigned long collect_host(struct zd_migrate_vma *m, uintptr_t *pte,
				  uintptr_t a)
{
	uintptr_t e0 = zd_hmm_settle(&pte[0], a);

	if (!(m->flags & ZD_MIGRATE_VMA_SELECT_SYSTEM) ||
	    (e0 != PTE_HOST && e0 != PTE_EMPTY) ||
	    zd_hmm_pinned(m->mm, a, a + FOLIO_BYTES))
		return 0;
	for (unsigned long k = 1; k < NR; k++)
		if (zd_hmm_settle(&pte[k], a + (k << zd_page_shift)) != e0)
			return 0;
	return e0 == PTE_EMPTY ? ZD_MIGRATE_PFN_MIGRATE :
	       zd_migrate_virt((void *)a) | ZD_MIGRATE_PFN_MIGRATE |
	       ZD_MIGRATE_PFN_WRITE;
}

bool zd_hmm_collect_compound(struct zd_migrate_vma *m, unsigned long i)
{
	uintptr_t a = run_addr(m, i), *pte;
	unsigned long src;

	if ((a & (FOLIO_BYTES - 1)) || i + NR > m->npages)
		return false;
	pte = run_ptes(m->mm, a);
	if (!pte)
		return false;
	src = pte_page(pte[0]) ? collect_folio(m, pte) : collect_host(m, pte, a);
	if (!src)
		return false;
	for (unsigned long k = 0; k < NR; k++) {
		pte[k] |= PTE_BUSY;
		m->src[i + k] = 0;
		m->dst[i + k] = 0;
	}
	m->src[i] = src | ZD_MIGRATE_PFN_COMPOUND | MPFN_COLLECTED;
	m->cpages += NR;
	return true;
}

static bool is_compound(const struct zd_migrate_vma *m, unsigned long i)
{
	return (m->src[i] & (ZD_MIGRATE_PFN_COMPOUND | MPFN_COLLECTED)) ==
	       (ZD_MIGRATE_PFN_COMPOUND | MPFN_COLLECTED);
}

void zd_hmm_compound_wp(struct zd_migrate_vma *m, int wp)
{
	for (unsigned long i = 0; i < m->npages; i++)
		if (is_compound(m, i) && (m->src[i] & ZD_MIGRATE_PFN_SYSTEM) &&
		    (wp || !(m->src[i] & ZD_MIGRATE_PFN_MIGRATE)))
			hmm_writeprotect(m->mm, run_addr(m, i), FOLIO_BYTES, wp);
}

/* ---- pages -------------------------------------------------------------- */

/* The run of compound entry @i as ordinary entries, the device folio it
 * names split; false (the run does not migrate) if it cannot be. */
static bool split_entry(struct zd_migrate_vma *m, unsigned long i)
{
	unsigned long s = m->src[i], flags = s & ((1ul << ZD_MIGRATE_PFN_SHIFT) - 1) &
					      ~ZD_MIGRATE_PFN_COMPOUND;
	struct zd_page *head = zd__hmm_entry_page(s, false);
	char *virt = zd_migrate_pfn_to_virt(s);
	int err = 0;

	if (head) {
		pthread_mutex_lock(&m->mm->lock);
		err = zd_hmm_folio_split(m->mm, head, m->fault_page, true);
		pthread_mutex_unlock(&m->mm->lock);
		zd_hmm_split_put(m->mm);
	}
	if (err)
		return false;
	for (unsigned long k = 0; k < NR; k++)
		m->src[i + k] = flags |
			(head ? zd_migrate_pfn(zd_page_to_pfn(head + k)) :
			 virt ? zd_migrate_virt(virt + (k << zd_page_shift)) : 0);
	return true;
}

static void count_failed(void *ctx, uintptr_t addr)
{
	(void)addr;
	++*(unsigned long *)ctx;
}

/* Device folio of entry @i home, to the staging memory of its dst. */
static bool folio_home(struct zd_migrate_vma *m, unsigned long i)
{
	uintptr_t a = run_addr(m, i), *pte;
	unsigned long failed = 0;

	if (!zd__hmm_entry_page(m->src[i], false))
		return false;
	zd__hmm_fill(m->mm, a, zd_migrate_pfn_to_virt(m->dst[i]), FOLIO_BYTES,
		     m->dst[i] & ZD_MIGRATE_PFN_DONATE, count_failed, &failed);
	/* a page that failed was unmapped meanwhile: dead, as below */
	pthread_mutex_lock(&m->mm->lock);
	pte = run_ptes(m->mm, a);
	for (unsigned long k = 0; k < NR; k++) {
		uintptr_t *p = pte ? &pte[k] : zd_hmm_pte(m->mm, a + (k << zd_page_shift));

		if (!p || *p == PTE_DEAD)
			continue;
		m->mm->device_pages--;
		pte_set(p, PTE_HOST | PTE_BUSY);
	}
	pthread_mutex_unlock(&m->mm->lock);
	return true;
}

/* Host (or never-touched) run of entry @i to the device folio of its
 * dst: all or nothing, so that no discard can reach a page the
 * application mapped anew where it unmapped one of the run's. */
static bool folio_install(struct zd_migrate_vma *m, unsigned long i)
{
	struct zd_page *head = zd__hmm_entry_page(m->dst[i], true);
	uintptr_t a = run_addr(m, i), *pte, flags;
	bool discard = (m->src[i] & (ZD_MIGRATE_PFN_SYSTEM | ZD_MIGRATE_PFN_DONATE)) ==
		       ZD_MIGRATE_PFN_SYSTEM;

	if (!head || zd__hmm_entry_page(m->src[i], false))
		return false;	/* device to device: not here */
	if (zd_page_ref_count(head) != 1 || !(atomic_load(&head->flags) & ZD_PG_HEAD) ||
	    zd_folio_order((struct zd_folio *)head) != ZD_HMM_FOLIO_ORDER ||
	    zd_hmm_coh_page(head)) {
		zd_warn("compound dst %#lx: not a new device-private folio of "
			"order %lu (zd_zone_device_folio_init())", m->dst[i],
			(unsigned long)ZD_HMM_FOLIO_ORDER);
		return false;
	}
	flags = PTE_DEVICE | PTE_BUSY | (m->dst[i] & ZD_MIGRATE_PFN_WRITE ? PTE_WRITE : 0);
	pthread_mutex_lock(&m->mm->lock);
	pte = run_ptes(m->mm, a);
	for (unsigned long k = 0; pte && k < NR; k++)
		if (pte[k] == PTE_DEAD)
			pte = NULL;
	if (!pte) {
		pthread_mutex_unlock(&m->mm->lock);
		return false;
	}
	for (unsigned long k = 0; k < NR; k++) {
		set_page_mm(head + k, m->mm);
		head[k].index = (a >> zd_page_shift) + k;
		pte_set(&pte[k], (uintptr_t)(head + k) | flags |
			(discard ? PTE_DISCARD : 0));
	}
	m->mm->device_pages += NR;
	zd_page_ref_add(head, (int)NR - 1);	/* one per mapped page */
	pthread_mutex_unlock(&m->mm->lock);
	if (discard)
		zd__hmm_discard(m->mm, a, FOLIO_BYTES);
	return true;
}

void zd_hmm_compound_pages(struct zd_migrate_vma *m)
{
	for (unsigned long i = 0; i < m->npages; i++) {
		unsigned long s = m->src[i], d = m->dst[i];
		bool dst_zero = true, ok;

		if (!(s & ZD_MIGRATE_PFN_MIGRATE))
			continue;
		if (!(s & ZD_MIGRATE_PFN_COMPOUND)) {
			/* a compound dst for a run split meanwhile (by a
			 * move that could not take it whole) */
			if (d & ZD_MIGRATE_PFN_COMPOUND)
				for (unsigned long k = i; k < i + NR && k < m->npages; k++)
					m->src[k] &= ~ZD_MIGRATE_PFN_MIGRATE;
			continue;
		}
		for (unsigned long k = i; k < i + NR && dst_zero; k++)
			dst_zero = !m->dst[k];
		if (dst_zero)
			ok = false;
		else if (!(d & ZD_MIGRATE_PFN_COMPOUND))
			ok = split_entry(m, i);
		else if (d & ZD_MIGRATE_PFN_SYSTEM)
			ok = folio_home(m, i);
		else
			ok = folio_install(m, i);
		if (!ok)
			m->src[i] &= ~ZD_MIGRATE_PFN_MIGRATE;
		i += NR - 1;
	}
}

/* ---- finalize ----------------------------------------------------------- */

/* Drop @n references of the folio at @head, freeing it on the last. */
static void folio_put_n(struct zd_page *head, unsigned long n, struct zd_mm *mm)
{
	if (!head || !n)
		return;
	pthread_mutex_unlock(&mm->lock);
	if (n > 1)
		zd_page_ref_sub(head, (int)n - 1);
	zd_put_page(head);
	pthread_mutex_lock(&mm->lock);
}

bool zd_hmm_compound_finish(struct zd_migrate_vma *m, unsigned long i)
{
	unsigned long s = m->src[i], d = m->dst[i], dead = 0;
	bool moved = s & ZD_MIGRATE_PFN_MIGRATE;
	struct zd_page *spage = zd__hmm_entry_page(s, false);
	struct zd_page *dpage = d & ZD_MIGRATE_PFN_COMPOUND ?
				zd__hmm_entry_page(d, false) : NULL;
	uintptr_t a = run_addr(m, i);

	for (unsigned long k = 0; k < NR; k++) {
		uintptr_t *pte = zd_hmm_pte(m->mm, a + (k << zd_page_shift));

		if (pte && *pte == PTE_DEAD) {
			*pte = PTE_NONE;
			dead++;
			if (spage)
				set_page_mm(spage + k, NULL);
			if (dpage && moved)
				set_page_mm(dpage + k, NULL);
		} else if (pte) {
			*pte &= ~(PTE_BUSY | PTE_DISCARD |
				  (*pte & PTE_DEVICE ? 0 : PTE_TAKEN));
		}
	}
	if (moved && spage) {		/* home: the folio is free */
		for (unsigned long k = 0; k < NR; k++)
			set_page_mm(spage + k, NULL);
		folio_put_n(spage, NR, m->mm);
	} else if (spage) {		/* stayed: the unmapped pages go */
		folio_put_n(spage, dead, m->mm);
	}
	if (dpage)			/* unused, or its unmapped pages */
		folio_put_n(dpage, moved ? dead : 1, m->mm);
	return dead;
}

/* ---- move --------------------------------------------------------------- */

/* Whether the run of entry @i, made ordinary entries by a move, was
 * taken whole: all moved in order to one place, or all copied. */
static bool taken_whole(const struct zd_migrate_vma *m, unsigned long i)
{
	char *to = zd_migrate_pfn_to_virt(m->src[i]);
	bool donated = m->src[i] & ZD_MIGRATE_PFN_DONATE;

	for (unsigned long k = 0; k < NR; k++) {
		unsigned long s = m->src[i + k];

		if (!(s & ZD_MIGRATE_PFN_MIGRATE) ||
		    !!(s & ZD_MIGRATE_PFN_DONATE) != donated ||
		    (donated && zd_migrate_pfn_to_virt(s) != to + (k << zd_page_shift)))
			return false;
	}
	return true;
}

int zd_hmm_compound_move(struct zd_migrate_vma *m, unsigned long i,
			 unsigned long n, void *to, hmm_move_fn *move)
{
	const unsigned long low = (1ul << ZD_MIGRATE_PFN_SHIFT) - 1;
	unsigned long runs[64], nr_runs = 0;
	int err;

	/* whole runs of host pages only; at most 64 per call (128 MiB) */
	for (unsigned long k = i; k < i + n; k++) {
		unsigned long s = m->src[k];

		if (!is_compound(m, k))
			continue;
		if (k + NR > i + n || nr_runs == 64 ||
		    !(s & ZD_MIGRATE_PFN_SYSTEM) || (s & ZD_MIGRATE_PFN_DONATE)) {
			zd_warn("bad move: pages [%lu, +%lu) take part of the "
				"compound entry %lu, or more than 64 of them, or "
				"one that is not a host run in place", i, n, k);
			return -EINVAL;
		}
		runs[nr_runs++] = k;
		k += NR - 1;
	}
	for (unsigned long r = 0; r < nr_runs; r++) {
		unsigned long k = runs[r], s = m->src[k];

		for (unsigned long j = 0; j < NR; j++)
			m->src[k + j] = (s & low & ~ZD_MIGRATE_PFN_COMPOUND) |
				zd_migrate_virt((char *)run_addr(m, k) + (j << zd_page_shift));
	}
	err = move(m, i, n, to);
	for (unsigned long r = 0; r < nr_runs; r++) {
		unsigned long k = runs[r];

		/* a run split by the move stays split (see hmm.h) */
		if (!err && !taken_whole(m, k))
			continue;
		m->src[k] |= ZD_MIGRATE_PFN_COMPOUND;
		for (unsigned long j = 1; j < NR; j++)
			m->src[k + j] = 0;
	}
	return err;
}
