// SPDX-License-Identifier: MIT
/*
 * Pinning an application's pages for a device (the kernel's GUP,
 * mm/gup.c).  The kernel holds a page by its struct page; host pages have
 * none here, so a pin is an object naming its addresses: each pinned page
 * is a host page at its address (NULL in pages[]) or a DEVICE_COHERENT
 * page held by a reference.  The collectors (migrate.c, migrate_compound.c,
 * exclusive.c) leave host pages under a pin where they are; a held
 * coherent page is left by their reference count check, as the kernel's
 * migration leaves a page with an unexpected count.
 *
 * Locks: pin_lock, then mm->lock.  A pin is on its mm's list (mm->pins)
 * from the start, its count of pages (nr) growing under mm->lock, so the
 * collectors, under mm->lock, see every page pinned so far.  pin->mm is
 * cleared under pin_lock by zd_mm_destroy(), so an unpin after it does
 * not touch the freed mm.
 */
#include <errno.h>
#include <stdlib.h>

#include "../os/os.h"
#include "fault.h"
#include "list.h"
#include "internal.h"
#include "log.h"

struct zd_pin {
	struct zd_list_head node;	/* in mm->pins */
	struct zd_mm *mm;		/* NULL after zd_mm_destroy() */
	uintptr_t start;
	unsigned long nr;		/* pages pinned so far */
	int holder;			/* the pinning thread's tid */
	bool making;			/* zd_pin_user_pages_remote() runs */
	bool *gone;			/* [i]: the host page was dropped */
	struct zd_page *pages[];	/* held device page, or NULL: host */
};

static pthread_mutex_t pin_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pin_made = PTHREAD_COND_INITIALIZER;

/* Populate at most this many pages per system call. */
#define PIN_BATCH	512ul

#define pin_of(pos)	zd_list_entry(pos, struct zd_pin, node)

/* The pinned host pages of [start, end): whether one is still guarded,
 * or (@forget) each forgotten, its page gone.  Lock held. */
static bool pins_over(struct zd_mm *mm, uintptr_t start, uintptr_t end,
		      bool forget)
{
	struct zd_list_head *pos;

	zd_list_for_each(pos, &mm->pins) {
		struct zd_pin *p = pin_of(pos);
		uintptr_t s = start > p->start ? start : p->start;
		uintptr_t e = p->start + (p->nr << zd_page_shift);

		for (e = e < end ? e : end; s < e; s += page_bytes()) {
			unsigned long i = (s - p->start) >> zd_page_shift;

			if (forget)
				p->gone[i] = true;
			else if (!p->pages[i] && !p->gone[i])
				return true;
		}
	}
	return false;
}

bool zd_hmm_pinned(struct zd_mm *mm, uintptr_t start, uintptr_t end)
{
	return pins_over(mm, start, end, false);
}

void zd_hmm_pins_forget(struct zd_mm *mm, uintptr_t start, uintptr_t end)
{
	pins_over(mm, start, end, true);
}

enum pin_step { PIN_DONE, PIN_RETRY, PIN_WAIT, PIN_EVICT };

/*
 * Pin the page at @a, just faulted in, if it is where a pin may hold it:
 * a host page, or a coherent page (referenced) unless @longterm.  Else
 * what to do first.  Lock held.
 */
static enum pin_step pin_page(struct zd_pin *p, uintptr_t a, bool longterm,
			      struct zd_page **evict)
{
	uintptr_t *pte = zd_hmm_pte(p->mm, a);
	uintptr_t e = pte ? zd_hmm_settle(pte, a) & ~PTE_DISCARD : PTE_HOST;
	struct zd_page *page = pte_page(e);

	if (e & PTE_BUSY)
		return PIN_WAIT;	/* a migration: wait for its finalize */
	if (page && zd_hmm_coh_page(page) && longterm) {
		zd_get_page(page);
		*evict = page;
		return PIN_EVICT;
	}
	if (page && zd_hmm_coh_page(page))
		zd_get_page(page);
	else if (e != PTE_HOST)	/* moved or dropped since the populate */
		return PIN_RETRY;
	p->gone[p->nr] = false;
	p->pages[p->nr++] = page;
	return PIN_DONE;
}

/* Whether a page of [a, a + n pages) is busy in this thread's own
 * migration: its fault would wait for a finalize this thread makes after
 * the pin.  mm->lock, then gate_lock (none is taken the other way). */
static bool own_busy(struct zd_mm *mm, uintptr_t a, unsigned long n)
{
	bool busy = false;

	pthread_mutex_lock(&mm->lock);
	for (; n && !busy; n--, a += page_bytes()) {
		uintptr_t *pte = zd_hmm_pte(mm, a);

		busy = pte && (*pte & PTE_BUSY) &&
		       zd_hmm_migrating_here_at(mm, a);
	}
	pthread_mutex_unlock(&mm->lock);
	return busy;
}

/* Pin pages [p->nr, p->nr + n) after faulting them in; 0, or -EFAULT
 * where the first of them could not be. */
static int pin_batch(struct zd_pin *p, unsigned long n, unsigned int flags)
{
	int64_t waited_from = 0;

	while (n) {
		uintptr_t a = p->start + (p->nr << zd_page_shift);
		struct zd_page *evict = NULL;
		enum pin_step step = PIN_DONE;

		if (zd_hmm_migrating_here(p->mm) && own_busy(p->mm, a, n)) {
			zd_warn("zd_pin_user_pages_remote: the page at %#lx is "
				"in this thread's own migration, between its "
				"setup and finalize: refused (it would wait "
				"for itself)", (unsigned long)a);
			return -EDEADLK;
		}
		if (zd_os_populate((void *)a, n << zd_page_shift,
				   flags & ZD_FOLL_WRITE)) {
			/* as far as it can: then one page at a time */
			if (n == 1)
				return -EFAULT;
			n = 1;
			continue;
		}
		pthread_mutex_lock(&p->mm->lock);
		zd_hmm_wait_drained(p->mm);
		while (n && step == PIN_DONE) {
			step = pin_page(p, a, flags & ZD_FOLL_LONGTERM, &evict);
			n -= step == PIN_DONE;
			a += page_bytes();
		}
		pthread_mutex_unlock(&p->mm->lock);
		if (evict) {
			/* held by another pin (or a lookup) besides its
			 * mapping and us: it cannot move, and waiting could
			 * be for ever (the kernel fails with -EBUSY) */
			int err = zd_page_ref_count(evict) > 2 ? -EBUSY :
				  zd_hmm_coh_evict(p->mm, a - page_bytes(), evict,
						   false);

			if (!err && zd_page_ref_count(evict) == 1)
				step = PIN_DONE;	/* home: try again at once */
			zd_put_page(evict);
			if (err)
				return err;
		}
		if (step != PIN_DONE)
			zd_hmm_wait_tick(&waited_from, a - page_bytes(),
					 "to pin it");
	}
	return 0;
}

long zd_pin_user_pages_remote(struct zd_mm *mm, unsigned long start,
			      unsigned long nr_pages, unsigned int gup_flags,
			      struct zd_page **pages, struct zd_pin **pin)
{
	const unsigned int known = ZD_FOLL_WRITE | ZD_FOLL_LONGTERM;
	struct zd_pin *p;
	long done;
	int err = 0;

	if (pin)
		*pin = NULL;
	if (!mm || mm->dead || !pin || (start & (page_bytes() - 1)) ||
	    (gup_flags & ~known) || nr_pages > (UINTPTR_MAX - start) >> zd_page_shift) {
		zd_warn("zd_pin_user_pages_remote: bad argument: mm %p%s start "
			"%#lx nr_pages %lu gup_flags %#x pin %p (page-aligned "
			"start, ZD_FOLL_* flags, a pin to set)", (void *)mm,
			mm && mm->dead ? " (a forked child's)" : "", start,
			nr_pages, gup_flags, (void *)pin);
		return -EINVAL;
	}
	if (zd_hmm_fault_thread_misuse(mm, __func__))
		return -EDEADLK;
	if (!nr_pages)
		return 0;
	p = zd_zalloc("hmm.pin", sizeof(*p) + nr_pages *
		      (sizeof(p->pages[0]) + sizeof(p->gone[0])));
	if (!p)
		return -ENOMEM;
	p->gone = (bool *)&p->pages[nr_pages];
	p->mm = mm;
	p->start = start;
	p->holder = zd_os_gettid();
	p->making = true;
	pthread_mutex_lock(&pin_lock);
	pthread_mutex_lock(&mm->lock);
	zd_list_add_tail(&p->node, &mm->pins);
	pthread_mutex_unlock(&mm->lock);
	pthread_mutex_unlock(&pin_lock);
	while (!err && p->nr < nr_pages) {
		unsigned long n = nr_pages - p->nr;

		err = pin_batch(p, n < PIN_BATCH ? n : PIN_BATCH, gup_flags);
	}
	/* zd_mm_destroy() waits for this before it drops the pin (and
	 * zeroes p->nr): read before */
	pthread_mutex_lock(&pin_lock);
	done = (long)p->nr;
	if (pages)
		for (long i = 0; i < done; i++)
			pages[i] = p->pages[i];
	p->making = false;
	pthread_cond_broadcast(&pin_made);
	pthread_mutex_unlock(&pin_lock);
	if (!done) {
		zd_unpin_user_pages(p);
		return err == -EBUSY || err == -EDEADLK ? err : -EFAULT;
	}
	*pin = p;
	return done;
}

/* Drop the device pages @p holds; its list entry and mm are the
 * caller's. */
static void put_pages(struct zd_pin *p)
{
	for (unsigned long i = 0; i < p->nr; i++)
		if (p->pages[i])
			zd_put_page(p->pages[i]);
	p->nr = 0;
}

void zd_unpin_user_pages(struct zd_pin *pin)
{
	if (!pin)
		return;
	pthread_mutex_lock(&pin_lock);
	if (pin->mm) {
		pthread_mutex_lock(&pin->mm->lock);
		zd_list_del_init(&pin->node);
		pthread_mutex_unlock(&pin->mm->lock);
	}
	pthread_mutex_unlock(&pin_lock);
	put_pages(pin);
	free(pin);
}

/* Wait until no thread is inside zd_pin_user_pages_remote() for @mm: its
 * pin_batch() uses p->mm without pin_lock.  pin_lock held. */
static void making_wait(struct zd_mm *mm)
{
	int64_t since = zd_os_now_ns();

	/* in a forked child, the threads making them stayed in the parent */
	if (mm->dead)
		return;
	for (;;) {
		struct zd_list_head *pos;
		bool any = false;

		pthread_mutex_lock(&mm->lock);
		zd_list_for_each(pos, &mm->pins)
			any |= pin_of(pos)->making;
		pthread_mutex_unlock(&mm->lock);
		if (!any)
			return;
		if (zd_hmm_cond_wait_reported(&pin_made, &pin_lock, &since))
			zd_warn("zd_mm_destroy(%p) waits for a "
				"zd_pin_user_pages_remote() of it to return",
				(void *)mm);
	}
}

void zd_hmm_pins_drop(struct zd_mm *mm)
{
	unsigned long n = 0;

	/* pin_lock keeps a concurrent unpin from putting the pages too */
	pthread_mutex_lock(&pin_lock);
	making_wait(mm);
	for (;;) {
		struct zd_pin *p = NULL;

		pthread_mutex_lock(&mm->lock);
		if (!zd_list_empty(&mm->pins)) {
			p = pin_of(mm->pins.next);
			zd_list_del_init(&p->node);
			p->mm = NULL;
		}
		pthread_mutex_unlock(&mm->lock);
		if (!p)
			break;
		n += p->nr;
		put_pages(p);	/* not under mm->lock: may free the page */
	}
	pthread_mutex_unlock(&pin_lock);
	if (n)
		zd_warn("zd_mm_destroy(%p): %lu pinned pages not unpinned: "
			"the pins are dropped (free each with "
			"zd_unpin_user_pages())", (void *)mm, n);
}

bool zd_hmm_pinned_here(struct zd_mm *mm, uintptr_t a, struct zd_page *page)
{
	struct zd_list_head *pos;
	bool mine = false;
	int tid = zd_os_gettid();

	pthread_mutex_lock(&mm->lock);
	zd_list_for_each(pos, &mm->pins) {
		struct zd_pin *p = pin_of(pos);

		mine |= p->holder == tid && a >= p->start &&
			a < p->start + (p->nr << zd_page_shift) &&
			p->pages[(a - p->start) >> zd_page_shift] == page;
	}
	pthread_mutex_unlock(&mm->lock);
	if (mine)
		zd_warn("the page at %#lx is pinned by this thread, which would "
			"wait for its own unpin: it comes home now, and the "
			"device's use of the pinned page after this is not seen "
			"there", (unsigned long)a);
	return mine;
}

void zd_hmm_gup_fork(enum hmm_fork stage)
{
	hmm_fork_mutex(&pin_lock, stage);
	if (stage == HMM_FORK_CHILD)	/* its waiters stayed in the parent */
		pthread_cond_init(&pin_made, NULL);
}
