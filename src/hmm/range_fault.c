// SPDX-License-Identifier: MIT
/*
 * zd_hmm_range_fault(): a managed range read for a device's mirror, after
 * mm/hmm.c.  The kernel walks its page table under the mmap lock; here
 * three sources say what the CPU would see: /proc/self/maps (the
 * application's protections), /proc/self/pagemap (which host pages are
 * present) and the mm's own entries (device pages, migrations).  Faults
 * are the CPU's: MADV_POPULATE_READ/WRITE for host pages (the mm's fault
 * thread answers a never-touched one), migrate_to_ram() called here for
 * another device's page, as the kernel calls it in the faulting thread.
 * After a fault the walk starts again from the faulted page, so that
 * entries before it keep their result and the others their request.
 */
#include <errno.h>
#include <stdlib.h>

#include "../os/os.h"
#include "array.h"
#include "internal.h"
#include "log.h"
#include "notifier.h"

/* pages examined per pass: bounds the pagemap buffer */
#define CHUNK	512

enum { NEED_FAULT = 1, NEED_WRITE = 2 };
enum { PROT_R = 1, PROT_W = 2 };

/* /proc/self/pagemap bits */
#define PM_PRESENT	(1ull << 63)
#define PM_UFFD_WP	(1ull << 57)

struct area {
	uintptr_t lo, hi;
	int prot;
};

struct walk {
	struct zd_hmm_range *range;
	struct zd_mm *mm;
	uintptr_t last;			/* entries below hold their result */
	struct area *areas;		/* the mappings over [last, end) */
	size_t nr_areas, cap_areas;
};

/* The request for page @i, as the kernel combines it. */
static unsigned long request(const struct zd_hmm_range *r, unsigned long i)
{
	return (r->hmm_pfns[i] & r->pfn_flags_mask) | r->default_flags;
}

static int need_fault(unsigned long req, unsigned long cpu)
{
	if (!(req & ZD_HMM_PFN_REQ_FAULT))
		return 0;
	if ((req & ZD_HMM_PFN_REQ_WRITE) && !(cpu & ZD_HMM_PFN_WRITE))
		return NEED_FAULT | NEED_WRITE;
	return cpu & ZD_HMM_PFN_VALID ? 0 : NEED_FAULT;
}

static int add_area(uintptr_t lo, uintptr_t hi, bool r, bool wr, void *arg)
{
	struct walk *w = arg;

	if (zd_array_room(w->areas, w->nr_areas, w->cap_areas, 8))
		return -ENOMEM;
	w->areas[w->nr_areas++] = (struct area){
		lo, hi, (r ? PROT_R : 0) | (wr ? PROT_W : 0) };
	return 0;
}

/* The mappings overlapping [start, end), with their read/write rights. */
static int read_maps(struct walk *w, uintptr_t start, uintptr_t end)
{
	w->nr_areas = 0;
	return zd_os_for_each_mapping(start, end, add_area, w);
}

/* The rights at @addr, -1 if nothing is mapped there. */
static int prot_at(const struct walk *w, uintptr_t addr)
{
	for (size_t i = 0; i < w->nr_areas; i++)
		if (w->areas[i].lo <= addr && addr < w->areas[i].hi)
			return w->areas[i].prot;
	return -1;
}

/* What to do with one page. */
enum act {
	ACT_DONE,		/* *out is its entry */
	ACT_FAULT_HOST,		/* populate it */
	ACT_FAULT_DEVICE,	/* another device's page: migrate_to_ram */
	ACT_WAIT,		/* under migration: wait for the finalize */
	ACT_EFAULT,
	ACT_EPERM,
};

/*
 * Page @i at @a, from its rights @prot, pagemap entry @pm and the mm's
 * entry @pte (NULL if unmanaged); @need set to the fault needed.  Lock
 * held.
 */
static enum act classify(const struct zd_hmm_range *r, unsigned long i,
			 uintptr_t a, int prot, uint64_t pm, uintptr_t *pte,
			 unsigned long *out, int *need)
{
	unsigned long req = request(r, i), cpu = 0;
	uintptr_t e = pte ? *pte : PTE_NONE;
	struct zd_page *page = e & PTE_BUSY ? NULL : pte_page(e);

	*need = 0;
	/* as the kernel's walk of a vma it cannot read, or of a hole */
	if (prot < 0 || !(prot & PROT_R) || e == PTE_NONE) {
		*need = need_fault(req, 0);
		*out = ZD_HMM_PFN_ERROR;
		return *need ? ACT_EFAULT : ACT_DONE;
	}
	/* a coherent page is mapped: valid to any device, writable as the
	 * CPU may write it, as the kernel's */
	if (zd_hmm_coh_page(page)) {
		*out = zd_page_to_pfn(page) | ZD_HMM_PFN_VALID |
		       (prot & PROT_W ? ZD_HMM_PFN_WRITE : 0);
		*need = need_fault(req, *out);
		return *need & NEED_WRITE ? ACT_EPERM : ACT_DONE;
	}
	if (page && page->pgmap->owner == r->dev_private_owner) {
		*out = zd_page_to_pfn(page) | ZD_HMM_PFN_VALID |
		       (e & PTE_WRITE ? ZD_HMM_PFN_WRITE : 0);
		return ACT_DONE;
	}
	if (!page && !(e & PTE_BUSY) && (pm & PM_PRESENT))
		cpu = ZD_HMM_PFN_VALID | ZD_HMM_PFN_SYSTEM | (a >> zd_page_shift) |
		      ((prot & PROT_W) && !(pm & PM_UFFD_WP) ? ZD_HMM_PFN_WRITE : 0);
	*need = need_fault(req, cpu);
	*out = cpu;
	if (!*need)
		return ACT_DONE;
	if ((*need & NEED_WRITE) && !(prot & PROT_W))
		return ACT_EPERM;
	if (e & PTE_BUSY)
		return ACT_WAIT;
	return page ? ACT_FAULT_DEVICE : ACT_FAULT_HOST;
}

/* A CPU fault on another device's page, in this thread (zd_hmm_evict()). */
static int fault_device(struct zd_mm *mm, uintptr_t a, bool write)
{
	struct zd_vm_fault vmf = { .mm = mm, .address = a,
				   .flags = write ? ZD_FAULT_FLAG_WRITE : 0 };
	uintptr_t *pte, e;
	int err;

	pthread_mutex_lock(&mm->lock);
	zd_hmm_split_at(mm, a, NULL, NULL);	/* as a CPU fault (folio.c) */
	pte = zd_hmm_pte(mm, a);
	e = pte ? *pte : PTE_NONE;
	vmf.page = e & PTE_BUSY ? NULL : pte_page(e);
	if (vmf.page)			/* an unplug cannot free it meanwhile */
		zd_get_page(vmf.page);
	pthread_mutex_unlock(&mm->lock);
	zd_hmm_split_put(mm);
	if (!vmf.page)
		return 0;		/* moved meanwhile: walk again */
	atomic_fetch_add(&mm->stats.device_faults, 1);
	err = zd_hmm_migrate_to_ram(&vmf);
	zd_put_page(vmf.page);
	return err ? -EFAULT : 0;
}

/* A CPU fault on host pages [a, a + len). */
static int fault_host(uintptr_t a, size_t len, bool write)
{
	int err = zd_os_populate((void *)a, len, write);

	/* -EINVAL: mprotect()ed meanwhile; -ENOMEM: unmapped meanwhile */
	if (err == -EINVAL && write)
		return -EPERM;
	return err ? -EFAULT : 0;
}

/*
 * One pass over [w->last, end): 0 when every entry holds its result,
 * -EBUSY after a fault or a wait (walk again from w->last), or an error.
 */
static int walk_chunk(struct walk *w, uintptr_t start, unsigned long n,
		      const uint64_t *pm)
{
	struct zd_hmm_range *r = w->range;
	unsigned long i0 = (start - r->start) >> zd_page_shift, k, run = 0;
	enum act act = ACT_DONE;
	int need = 0, any_write = 0;

	pthread_mutex_lock(&w->mm->lock);
	zd_hmm_wait_drained(w->mm);	/* a munmap() that returned is done */
	for (k = 0; k < n; k++) {
		uintptr_t a = start + (k << zd_page_shift);
		unsigned long out;

		act = classify(r, i0 + k, a, prot_at(w, a), pm[k],
			       zd_hmm_pte(w->mm, a), &out, &need);
		if (act != ACT_DONE)
			break;
		r->hmm_pfns[i0 + k] = out;
	}
	/* host pages to populate: the run of them from k with the same
	 * rights (a write fault must not reach read-only memory), at one go */
	for (run = k; act == ACT_FAULT_HOST && run < n; run++) {
		uintptr_t a = start + (run << zd_page_shift);
		unsigned long out;
		int nd;

		if (prot_at(w, a) != prot_at(w, start + (k << zd_page_shift)) ||
		    classify(r, i0 + run, a, prot_at(w, a), pm[run],
			     zd_hmm_pte(w->mm, a), &out, &nd) != ACT_FAULT_HOST)
			break;
		any_write |= nd & NEED_WRITE;
	}
	pthread_mutex_unlock(&w->mm->lock);
	if (k == n)
		return 0;
	w->last = start + (k << zd_page_shift);
	switch (act) {
	case ACT_EFAULT:
		return -EFAULT;
	case ACT_EPERM:
		return -EPERM;
	case ACT_WAIT:
		/* the kernel sleeps on the migration entry; the finalize
		 * wakes no one here, so look again shortly */
		zd_os_yield();
		return -EBUSY;
	case ACT_FAULT_DEVICE: {
		int err = fault_device(w->mm, w->last, need & NEED_WRITE);

		return err ? err : -EBUSY;
	}
	default: {
		int err = fault_host(w->last, (run - k) << zd_page_shift, any_write);

		return err ? err : -EBUSY;
	}
	}
}

static int walk_once(struct walk *w)
{
	uintptr_t end = w->range->end;
	uint64_t *pm = malloc(CHUNK * sizeof(*pm));
	int err = pm ? read_maps(w, w->last, end) : -ENOMEM;

	for (uintptr_t a = w->last; !err && a < end;) {
		unsigned long n = (end - a) >> zd_page_shift;

		if (n > CHUNK)
			n = CHUNK;
		err = zd_os_pagemap(a, n, pm);
		if (!err)
			err = walk_chunk(w, a, n, pm);
		a += n << zd_page_shift;
	}
	free(pm);
	return err;
}

static bool range_bad(const struct zd_hmm_range *r)
{
	uintptr_t mask = page_bytes() - 1;
	const struct zd_mmu_interval_notifier *sub = r ? r->notifier : NULL;

	/* outside the notifier's interval, read_retry could not see a
	 * change of what was read */
	if (!r || !sub || !zd_mn_sub_inserted(sub) || sub->mm->dead || !r->hmm_pfns ||
	    (r->start & mask) || (r->end & mask) || r->start >= r->end ||
	    r->start < sub->start || r->end - 1 > sub->last) {
		zd_warn("bad hmm_range: notifier %p start %#lx end %#lx pfns %p "
			"(an inserted notifier; page-aligned, non-empty range "
			"inside the notifier's interval)",
			(const void *)sub, r ? r->start : 0, r ? r->end : 0,
			r ? (void *)r->hmm_pfns : NULL);
		return true;
	}
	return false;
}

int zd_hmm_range_fault(struct zd_hmm_range *range)
{
	struct walk w = { .range = range };
	int err;

	if (range_bad(range))
		return -EINVAL;
	w.mm = range->notifier->mm;
	w.last = range->start;
	do {
		if (zd_mmu_interval_check_retry(range->notifier,
						range->notifier_seq)) {
			err = -EBUSY;
			break;
		}
		err = walk_once(&w);
	} while (err == -EBUSY);
	free(w.areas);
	return err;
}

struct zd_page *zd_hmm_pfn_to_page(unsigned long hmm_pfn)
{
	unsigned long pfn = hmm_pfn & ~ZD_HMM_PFN_FLAGS;

	if ((hmm_pfn & (ZD_HMM_PFN_VALID | ZD_HMM_PFN_SYSTEM)) != ZD_HMM_PFN_VALID ||
	    !zd_pfn_valid(pfn))
		return NULL;
	return zd_pfn_to_page(pfn);
}

void *zd_hmm_pfn_to_virt(unsigned long hmm_pfn)
{
	if ((hmm_pfn & (ZD_HMM_PFN_VALID | ZD_HMM_PFN_SYSTEM)) !=
	    (ZD_HMM_PFN_VALID | ZD_HMM_PFN_SYSTEM))
		return NULL;
	return (void *)((hmm_pfn & ~ZD_HMM_PFN_FLAGS) << zd_page_shift);
}

unsigned int zd_hmm_pfn_to_map_order(unsigned long hmm_pfn)
{
	return (hmm_pfn >> ZD_HMM_PFN_ORDER_SHIFT) & 0x1f;
}
