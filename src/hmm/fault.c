// SPDX-License-Identifier: MIT
/*
 * The fault thread of a managed mm: reads userfaultfd messages in batches
 * and answers them.  A fault on a device-private page calls the page's
 * migrate_to_ram (the faulting thread waits in the kernel meanwhile); on
 * a never-touched page it maps the zero page (there and ahead), and on a
 * host page the kernel reclaimed, the zero page for that page alone; on a
 * page under migration it does nothing, because the migration's finalize
 * wakes every waiter of its range (unless the host page the migration
 * collected is gone: see zero_gone_busy()).  Events: the application's
 * MADV_DONTNEED or MADV_FREE (remove) and munmap (unmap) drop device
 * entries, mremap (remap) moves them.
 *
 * This thread must never drop or unmap managed memory itself: those
 * events wait for it to read them.
 */
#include <errno.h>
#include <linux/userfaultfd.h>
#include <stdlib.h>

#include "../os/os.h"
#include "array.h"
#include "fault.h"
#include "internal.h"
#include "list.h"
#include "log.h"
#include "notifier.h"

/*
 * The application unmapped the page of a busy entry: the migration
 * holding it installs nothing there, and its finalize clears the entry
 * and puts the pages (finish()).  A device page leaves the mm's count
 * now, but keeps its mapping so that an unplug's finalize finds the mm.
 */
static void kill_busy(struct zd_mm *mm, uintptr_t *pte)
{
	struct zd_page *page = pte_page(*pte);

	if (page)
		mm->device_pages--;	/* the migration's finalize puts it */
	*pte = PTE_DEAD;
}

void zd_hmm_drop(struct zd_mm *mm, uintptr_t start, uintptr_t end,
		 uintptr_t state)
{
	pthread_mutex_lock(&mm->lock);
	zd_hmm_split_edges(mm, start, end);	/* the rest stays mapped */
	if (state == PTE_NONE)	/* unmapped: what comes next is not pinned */
		zd_hmm_pins_forget(mm, start, end);
	for (uintptr_t a = start & ~(page_bytes() - 1); a < end; a += page_bytes()) {
		uintptr_t *pte = zd_hmm_pte(mm, a);
		struct zd_page *page;

		if (pte && (*pte & PTE_DISCARD) && state != PTE_NONE) {
			*pte &= ~PTE_DISCARD;	/* a migration's own drop */
			continue;
		}
		if (!pte)
			continue;
		if (*pte & PTE_BUSY) {
			if (state == PTE_NONE)
				kill_busy(mm, pte);
			continue;
		}
		if (pte_excl(*pte))	/* the kernel zaps it: it is freed */
			zd_hmm_excl_drop(pte_excl(*pte));
		page = pte_page(*pte);
		/* its mapping outlives MADV_DONTNEED: replaced first */
		if (page && state != PTE_NONE && zd_hmm_coh_page(page)) {
			zd_hmm_coh_drop(mm, a, page);
			continue;
		}
		*pte = state;
		if (!page)
			continue;
		mm->device_pages--;
		set_page_mm(page, NULL);
		/* page_free is the driver's: not under our lock (as finalize) */
		pthread_mutex_unlock(&mm->lock);
		zd_put_page(page);
		atomic_fetch_add(&mm->stats.dropped, 1);
		pthread_mutex_lock(&mm->lock);
	}
	if (state == PTE_NONE)
		zd_hmm_trim(mm, start, end);
	pthread_mutex_unlock(&mm->lock);
	zd_hmm_split_put(mm);
}

/* Put the device pages of @r, which never made it into the table. */
static void put_range_pages(struct zd_mm *mm, struct hmm_range *r)
{
	for (uintptr_t a = r->start, i = 0; a < r->end; a += page_bytes(), i++) {
		struct zd_page *page = pte_page(r->pte[i]);

		if (pte_excl(r->pte[i]))	/* dropped too, not leaked */
			zd_hmm_excl_drop(pte_excl(r->pte[i]));
		if (!page)
			continue;
		pthread_mutex_lock(&mm->lock);
		mm->device_pages--;
		set_page_mm(page, NULL);
		pthread_mutex_unlock(&mm->lock);
		zd_put_page(page);
		atomic_fetch_add(&mm->stats.dropped, 1);
	}
}

/* mremap: the range's entries at @from now live at @to. */
static void remap(struct zd_mm *mm, uintptr_t from, uintptr_t to, size_t len)
{
	size_t n = len >> zd_page_shift;
	struct hmm_range *r = zd_hmm_range_new(to, n);
	int err;

	if (!r) {
		zd_warn("no memory to follow mremap to %#lx: its device pages "
			"are dropped", (unsigned long)to);
		zd_hmm_drop(mm, from, from + len, PTE_NONE);
		return;
	}
	/* what was at @to went when mremap unmapped it */
	zd_hmm_drop(mm, to, to + len, PTE_NONE);
	pthread_mutex_lock(&mm->lock);
	zd_hmm_split_edges(mm, from, from + len);
	for (size_t i = 0; i < n; i++) {
		uintptr_t *old = zd_hmm_pte(mm, from + (i << zd_page_shift));

		r->pte[i] = old && *old != PTE_DEAD ? *old & ~PTE_BUSY : PTE_NONE;
		if (!(r->pte[i] & PTE_DEVICE))	/* the migration lost it */
			r->pte[i] &= ~PTE_TAKEN;
		if (pte_page(r->pte[i]))
			pte_page(r->pte[i])->index = (to >> zd_page_shift) + i;
		if (old)
			*old = PTE_NONE;
	}
	zd_hmm_trim(mm, from, from + len);
	/* a migration may still hold dead entries there */
	err = zd_hmm_overlaps(mm, to, to + len) ? -EBUSY :
	      zd_hmm_range_insert(mm, r);
	if (!err)
		zd_hmm_trim(mm, to, to + len);
	pthread_mutex_unlock(&mm->lock);
	if (err) {
		put_range_pages(mm, r);
		zd_hmm_range_free(r);
	}
}

/* Whether the page at @a is still the device page @page. */
static bool still_device(struct zd_mm *mm, uintptr_t a, struct zd_page *page)
{
	uintptr_t *pte;
	bool still;

	pthread_mutex_lock(&mm->lock);
	pte = zd_hmm_pte(mm, a);
	still = pte && pte_page(*pte) == page;
	pthread_mutex_unlock(&mm->lock);
	return still;
}

static void device_fault(struct zd_mm *mm, struct zd_vm_fault *vmf, int tid)
{
	atomic_fetch_add(&mm->stats.device_faults, 1);
	if (!zd_hmm_migrate_to_ram(vmf)) {
		/* its finalize woke the thread; if it migrated nothing (the
		 * kernel lets it), the thread faults again */
		if (still_device(mm, vmf->address, vmf->page))
			zd_os_uffd_wake(mm->uffd, (void *)vmf->address, page_bytes());
		return;
	}
	/* as the kernel: the faulting thread gets SIGBUS */
	atomic_fetch_add(&mm->stats.sigbus, 1);
	if (zd_os_sigbus(tid, (void *)vmf->address))
		zd_warn("cannot send SIGBUS to thread %d: it will fault again", tid);
	zd_os_uffd_wake(mm->uffd, (void *)vmf->address, page_bytes());
}

/* How far a fault on a never-touched page maps the zero page ahead. */
#define ZERO_AHEAD	((uintptr_t)2 << 20)

/* Mark [a, end) busy, stopping at the first page that is not never-touched;
 * returns where the run ends (a if @a itself is not one).  A host page
 * that faults is gone (dropped or reclaimed): it is claimed alone, as its
 * neighbours may hold data; unless the kernel has it after all (a stale
 * fault, raised again after the page was placed): then it is left as it
 * is, not held busy for a fill that cannot happen (a pin holds it, a
 * lookup would see it busy).  Lock held. */
static uintptr_t claim_empty(struct zd_mm *mm, uintptr_t a, uintptr_t end)
{
	uintptr_t *pte = zd_hmm_pte(mm, a);

	if (pte && (*pte == PTE_HOST || *pte == PTE_MAYBE)) {
		if (zd_os_page_populated((void *)a) == 1) {
			pte_set(pte, PTE_HOST);
			return a;
		}
		*pte |= PTE_BUSY;
		return a + page_bytes();
	}
	for (; a < end; a += page_bytes()) {
		pte = zd_hmm_pte(mm, a);
		if (!pte || *pte != PTE_EMPTY)
			break;
		*pte |= PTE_BUSY;
	}
	return a;
}

/*
 * Map the zero page at a never-touched page and at the never-touched pages
 * after it up to the next 2 MiB boundary: one round trip instead of one
 * per page for memory touched in order (a write later is the kernel's own
 * copy-on-write fault, not ours).  The entries are busy meanwhile: a
 * migration must not take the pages while the fill (which may wait for
 * events, so runs unlocked) is in flight.
 */
struct zero_run {
	uintptr_t start;
	bool failed[ZERO_AHEAD / 4096];	/* pages are at least 4 KiB */
};

static void zero_failed(void *ctx, uintptr_t addr)
{
	struct zero_run *z = ctx;

	z->failed[(addr - z->start) >> zd_page_shift] = true;
}

static bool zero_fill(struct zd_mm *mm, uintptr_t a)
{
	uintptr_t end = (a | (ZERO_AHEAD - 1)) + 1, stop;
	struct zero_run z = { .start = a };

	pthread_mutex_lock(&mm->lock);
	stop = claim_empty(mm, a, end);
	pthread_mutex_unlock(&mm->lock);
	if (stop == a)
		return false;
	zd__hmm_fill(mm, a, NULL, stop - a, false, zero_failed, &z);
	pthread_mutex_lock(&mm->lock);
	for (uintptr_t p = a; p < stop; p += page_bytes()) {
		uintptr_t *pte = zd_hmm_pte(mm, p);

		if (pte && *pte == PTE_DEAD)
			*pte = PTE_NONE;	/* unmapped meanwhile */
		else if (pte)
			pte_set(pte, z.failed[(p - a) >> zd_page_shift] ?
				     PTE_EMPTY : PTE_HOST);
	}
	zd_hmm_trim(mm, a, stop);
	pthread_mutex_unlock(&mm->lock);
	/* woken only now, so no thread sees its page still busy */
	zd_os_uffd_wake(mm->uffd, (void *)a, stop - a);
	return true;
}

/* A host page collected by a migration, not taken by its driver. */
static bool busy_host(uintptr_t e)
{
	return (e & (PTE_STATE | PTE_DEVICE | PTE_TAKEN | PTE_BUSY)) ==
	       (PTE_HOST | PTE_BUSY);
}

/*
 * A fault on a host page under migration: if the page is gone (freed
 * lazily and reclaimed, see handle_remove()) it reads as zero, so that the
 * driver copying it does not wait for the finalize it has yet to call.
 * Most such faults are stale, though (raised while the page was on a
 * device), and the page is there: the zero page then fails with EEXIST.
 * Checked and filled under the lock, because the driver may take the page
 * meanwhile (PTE_TAKEN, set under the lock before its move): a zero page
 * in the hole it leaves would be read after the migration instead of a
 * fault bringing the page home.
 */
static void zero_gone_busy(struct zd_mm *mm, uintptr_t a)
{
	int err;

	do {
		uintptr_t *pte;

		pthread_mutex_lock(&mm->lock);
		zd_fault_point("hmm.fault.zero_busy");
		pte = zd_hmm_pte(mm, a);
		err = pte && busy_host(*pte) ?
		      zd_os_uffd_zeropage(mm->uffd, (void *)a, page_bytes(), 1,
					  &(size_t){ 0 }) : 0;
		pthread_mutex_unlock(&mm->lock);
		if (err == -EAGAIN)
			zd_hmm_wait_events(mm);
	} while (err == -EAGAIN);
}

static void pagefault(struct zd_mm *mm, const struct uffd_msg *m)
{
	uintptr_t a = m->arg.pagefault.address & ~(page_bytes() - 1);
	bool wp = m->arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WP;
	struct zd_vm_fault vmf = { .mm = mm, .address = a };
	uintptr_t *pte, e;

	atomic_fetch_add(&mm->stats.faults, 1);
	zd_fault_point("hmm.fault");
	pthread_mutex_lock(&mm->lock);
	/* a page of a large folio comes home alone, where it can (folio.c) */
	zd_hmm_split_at(mm, a, NULL, NULL);
	pte = zd_hmm_pte(mm, a);
	e = pte ? *pte : PTE_NONE;
	vmf.page = e & PTE_BUSY ? NULL : pte_page(e);
	if (vmf.page)		/* as the kernel: an unplug cannot free it */
		zd_get_page(vmf.page);
	pthread_mutex_unlock(&mm->lock);
	zd_hmm_split_put(mm);
	if (e & PTE_BUSY) {
		if (busy_host(e) && !wp)
			zero_gone_busy(mm, a);
		return;		/* else the migration's finalize wakes it */
	}
	if (pte_excl(e)) {	/* a device's exclusive page */
		zd_hmm_excl_fault(mm, a, wp, (int)m->arg.pagefault.feat.ptid);
		return;
	}
	if (zd_hmm_coh_page(vmf.page)) {	/* mapped: the CPU reaches it */
		zd_hmm_coh_fault(mm, a, vmf.page, wp);
		zd_put_page(vmf.page);
		return;
	}
	if (vmf.page) {
		vmf.flags = m->arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WRITE ?
			    ZD_FAULT_FLAG_WRITE : 0;
		zd_fault_point("hmm.device_fault");
		device_fault(mm, &vmf, (int)m->arg.pagefault.feat.ptid);
		zd_put_page(vmf.page);
		return;
	}
	/* never touched, or a host page that is gone */
	if (e != PTE_NONE && !(e & ~PTE_STATE) && !wp && zero_fill(mm, a))
		return;
	/* present already, unmanaged, or a stale write-protect: retry */
	if (wp)
		hmm_writeprotect(mm, a, page_bytes(), 0);
	zd_os_uffd_wake(mm->uffd, (void *)a, page_bytes());
}

/*
 * MADV_DONTNEED and MADV_FREE send the same event, and the madvise runs
 * on while we read it.  After MADV_DONTNEED the pages are gone; after
 * MADV_FREE they stay until the kernel reclaims them, and a write keeps
 * them for good, without a fault.  So the host pages become PTE_MAYBE,
 * never "never touched": a migration asks the kernel which they are
 * (zd_hmm_settle()), and a touch of a gone one maps the zero page
 * (pagefault()).  Device pages are dropped, as both calls allow.
 */
static void handle_remove(struct zd_mm *mm, uintptr_t start, uintptr_t end)
{
	zd_hmm_drop(mm, start, end, PTE_MAYBE);
}

uintptr_t zd_hmm_settle(uintptr_t *pte, uintptr_t addr)
{
	/* if the kernel cannot say, reading it is safe: a gone page faults */
	if (*pte == PTE_MAYBE)
		pte_set(pte, zd_os_page_populated((void *)addr) ? PTE_HOST :
							       PTE_EMPTY);
	return *pte;
}

static void handle(struct zd_mm *mm, const struct uffd_msg *m)
{
	switch (m->event) {
	case UFFD_EVENT_PAGEFAULT:
		pagefault(mm, m);
		break;
	case UFFD_EVENT_REMOVE:
		if (zd_mn_wanted(mm, m->arg.remove.start, m->arg.remove.end, true))
			zd_mn_notify(mm, ZD_MMU_NOTIFY_CLEAR, m->arg.remove.start,
				     m->arg.remove.end, NULL);
		handle_remove(mm, m->arg.remove.start, m->arg.remove.end);
		break;
	case UFFD_EVENT_UNMAP:
		/* a coherent page's mapping replacing another */
		if (zd_hmm_coh_expected(mm, m->arg.remove.start, m->arg.remove.end))
			break;
		if (zd_mn_wanted(mm, m->arg.remove.start, m->arg.remove.end, false))
			zd_mn_notify(mm, ZD_MMU_NOTIFY_UNMAP, m->arg.remove.start,
				     m->arg.remove.end, NULL);
		zd_hmm_drop(mm, m->arg.remove.start, m->arg.remove.end, PTE_NONE);
		break;
	case UFFD_EVENT_REMAP:
		zd_mn_notify(mm, ZD_MMU_NOTIFY_UNMAP, m->arg.remap.from,
			     m->arg.remap.from + m->arg.remap.len, NULL);
		remap(mm, m->arg.remap.from, m->arg.remap.to, m->arg.remap.len);
		break;
	default:
		break;
	}
}

/* The fault whose migrate_to_ram() this thread is in. */
static __thread struct zd_vm_fault *serving;

int zd_hmm_migrate_to_ram(struct zd_vm_fault *vmf)
{
	struct zd_vm_fault *outer = serving;	/* one may fault another */
	int err;

	serving = vmf;
	err = vmf->page->pgmap->ops->migrate_to_ram(vmf);
	serving = outer;
	return err;
}

struct zd_page *zd_hmm_served_page(struct zd_mm *mm, uintptr_t start,
				   uintptr_t end)
{
	struct zd_vm_fault *v = serving;
	uintptr_t *pte;
	bool there;

	if (!v || v->mm != mm || v->address < start || v->address >= end)
		return NULL;
	/* a driver may bring the page home first and then migrate more
	 * around it: the fault holds nothing in the way any more */
	pthread_mutex_lock(&mm->lock);
	pte = zd_hmm_pte(mm, v->address & ~(uintptr_t)(page_bytes() - 1));
	there = pte && pte_page(*pte) == v->page;
	pthread_mutex_unlock(&mm->lock);
	return there ? v->page : NULL;
}

/* The mm whose fault thread this is, for zd_hmm_wait_events(). */
static __thread struct zd_mm *fault_mm;

static void queue_fault(struct zd_mm *mm, const struct uffd_msg *m)
{
	if (zd_array_room(mm->pending, mm->nr_pending, mm->cap_pending, 64))
		/* the thread faults again once woken */
		zd_os_uffd_wake(mm->uffd, (void *)(uintptr_t)
				m->arg.pagefault.address, page_bytes());
	else
		mm->pending[mm->nr_pending++] = *m;
}

/*
 * Read what is there; handle events now, queue faults for later.  The
 * kernel lets munmap() return as soon as its event is read, so from the
 * read until the events are handled, threads asking what is managed wait
 * (zd_hmm_wait_drained()).
 */
static void drain(struct zd_mm *mm)
{
	struct uffd_msg msgs[64];
	ssize_t n;

	pthread_mutex_lock(&mm->lock);
	mm->draining++;
	pthread_mutex_unlock(&mm->lock);
	n = zd_os_read(mm->uffd, msgs, sizeof(msgs));
	if (n > 0)
		zd_fault_point("hmm.event");
	for (ssize_t i = 0; i < n / (ssize_t)sizeof(msgs[0]); i++) {
		if (msgs[i].event == UFFD_EVENT_PAGEFAULT)
			queue_fault(mm, &msgs[i]);
		else
			handle(mm, &msgs[i]);
	}
	pthread_mutex_lock(&mm->lock);
	if (!--mm->draining) {
		mm->drain_seq++;
		pthread_cond_broadcast(&mm->drained);
	}
	pthread_mutex_unlock(&mm->lock);
}

void zd_hmm_wait_drained(struct zd_mm *mm)
{
	unsigned long seq = mm->drain_seq;

	if (fault_mm == mm)
		return;
	while (mm->draining && mm->drain_seq == seq)
		pthread_cond_wait(&mm->drained, &mm->lock);
}

bool zd_hmm_on_fault_thread(void)
{
	return fault_mm != NULL;
}

bool zd_hmm_fault_thread_misuse(struct zd_mm *mm, const char *fn)
{
	if (fault_mm != mm)
		return false;
	zd_warn("%s: called on the mm's fault thread (from migrate_to_ram, "
		"page_free or a notifier), which it would wait for", fn);
	return true;
}

void zd_hmm_wait_idle(struct zd_mm *mm)
{
	while (fault_mm != mm && mm->draining)
		pthread_cond_wait(&mm->drained, &mm->lock);
}

void zd_hmm_wait_events(struct zd_mm *mm)
{
	if (fault_mm == mm)
		drain(mm);
	else
		zd_os_yield();
}

void *zd_hmm_fault_thread(void *arg)
{
	struct zd_mm *mm = arg;

	fault_mm = mm;
	while (zd_os_wait2(mm->uffd, mm->stop_fd) == 1) {
		drain(mm);
		/* in order; more may queue while a migrate_to_ram drains */
		for (size_t i = 0; i < mm->nr_pending; i++) {
			struct uffd_msg m = mm->pending[i];

			pagefault(mm, &m);
		}
		mm->nr_pending = 0;
	}
	free(mm->pending);
	return NULL;
}
