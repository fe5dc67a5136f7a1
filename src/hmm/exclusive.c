// SPDX-License-Identifier: MIT
/*
 * Exclusive device access to host pages, after the kernel's
 * make_device_exclusive_range().  The kernel swaps the CPU's entry for a
 * special one, so that any CPU access faults and takes the page back.
 * Here the page's bytes move out of the application's mapping into a
 * page the library keeps (the device reaches them there); the managed
 * page is dropped, so any CPU touch, read or write, is a userfaultfd
 * fault, and the fault thread puts the bytes back, telling the notifiers
 * first (ZD_MMU_NOTIFY_EXCLUSIVE with no owner, as the kernel's
 * remove_device_exclusive_entry()), before the CPU goes on.
 *
 * The entry is a struct hmm_excl pointer with PTE_EXCL.  Between the
 * make and the driver's put the page is held (the kernel's page lock):
 * a CPU fault then waits, and the put wakes it to fault again.  The
 * fault thread never waits for a put: it answers other faults and
 * events meanwhile.
 *
 * Locks: mm->lock, then excl_lock (the held flag, the orphan's mm and
 * the set of kept pages, which the put looks its page up in).
 */
#include <errno.h>
#include <search.h>
#include <stdlib.h>

#include "../os/os.h"
#include "fault.h"
#include "internal.h"
#include "log.h"
#include "notifier.h"

struct hmm_excl {
	char *kept;		/* the page's bytes while the device holds it */
	struct zd_mm *mm;	/* NULL once no entry names it (an orphan:
				 * the put frees it) */
	uintptr_t wake;		/* a CPU fault waits there for the put */
	int holder;		/* the thread that made it (its tid) */
	bool held;		/* made, not put yet */
};

static pthread_mutex_t excl_lock = PTHREAD_MUTEX_INITIALIZER;

void zd_hmm_excl_fork(enum hmm_fork stage)
{
	hmm_fork_mutex(&excl_lock, stage);
}
static void *kept_set;		/* tsearch() tree of hmm_excl by kept */

static int kept_cmp(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t)((const struct hmm_excl *)a)->kept;
	uintptr_t y = (uintptr_t)((const struct hmm_excl *)b)->kept;

	return x < y ? -1 : x > y;
}

/* The held or mapped record of @kept, or NULL; excl_lock held. */
static struct hmm_excl *excl_find(void *kept)
{
	struct hmm_excl key = { .kept = kept };
	void *node = tfind(&key, &kept_set, kept_cmp);

	return node ? *(struct hmm_excl **)node : NULL;
}

/* Forget @x and free its page; excl_lock held. */
static void excl_free(struct hmm_excl *x)
{
	tdelete(x, &kept_set, kept_cmp);
	zd_os_unmap(x->kept, page_bytes());
	free(x);
}

void zd_hmm_excl_drop(struct hmm_excl *x)
{
	pthread_mutex_lock(&excl_lock);
	if (x->held)
		x->mm = NULL;	/* the device still uses it: its put frees it */
	else
		excl_free(x);
	pthread_mutex_unlock(&excl_lock);
}

static void fill_failed(void *ctx, uintptr_t addr)
{
	(void)addr;
	*(bool *)ctx = true;
}

enum { RESTORED, HELD, NOT_EXCL };

/*
 * Whether the held @x is waited for by its own holder (thread @tid),
 * whose put would then never come: it is not waited for, with a
 * warning.  excl_lock held.
 */
static bool holder_waits(const struct hmm_excl *x, uintptr_t a, int tid)
{
	if (x->holder != tid)
		return false;
	zd_warn("the thread holding the exclusive page at %#lx (made, not put "
		"yet) touched it, forked, or unregistered or destroyed its mm: "
		"the page comes home now, and the device's writes to it after "
		"this are lost", (unsigned long)a);
	return true;
}

/*
 * Put the bytes of the exclusive page at @a back into place: the
 * notifiers first (the device's mapping goes), then the page, which the
 * kernel moves where it can.  A held page stays, but for its own holder
 * (thread @tid); @waiter: a CPU fault waits for its put.
 */
static int restore(struct zd_mm *mm, uintptr_t a, int tid, bool waiter)
{
	uintptr_t *pte, e;
	struct hmm_excl *x;
	struct mn_mm *mn;
	bool failed = false, held, gone;

	pthread_mutex_lock(&mm->lock);
	pte = zd_hmm_pte(mm, a);
	e = pte ? *pte : PTE_NONE;
	x = e & PTE_BUSY ? NULL : pte_excl(e);
	if (!x) {
		pthread_mutex_unlock(&mm->lock);
		return NOT_EXCL;
	}
	pthread_mutex_lock(&excl_lock);
	held = x->held && !holder_waits(x, a, tid);
	if (held && waiter)
		x->wake = a;
	pthread_mutex_unlock(&excl_lock);
	if (!held)
		*pte |= PTE_BUSY;	/* faults wait, migrations keep off */
	pthread_mutex_unlock(&mm->lock);
	if (held)
		return HELD;
	mn = zd_mn_start(mm, ZD_MMU_NOTIFY_EXCLUSIVE, a, a + page_bytes(), NULL);
	zd__hmm_fill(mm, a, x->kept, page_bytes(), true, fill_failed, &failed);
	pthread_mutex_lock(&mm->lock);
	pte = zd_hmm_pte(mm, a);
	gone = !pte || *pte == PTE_DEAD;	/* unmapped meanwhile */
	if (pte && gone) {
		*pte = PTE_NONE;
		zd_hmm_trim(mm, a, a + page_bytes());
	} else if (pte) {
		pte_set(pte, failed ? PTE_EMPTY : PTE_HOST);
	}
	pthread_mutex_unlock(&mm->lock);
	zd_hmm_excl_drop(x);	/* a holder's: left to its put */
	zd_mn_end(mn);
	if (failed && !gone)
		zd_warn("cannot put back the exclusive page at %#lx: its bytes "
			"are lost", (unsigned long)a);
	zd_os_uffd_wake(mm->uffd, (void *)a, page_bytes());
	return RESTORED;
}

void zd_hmm_excl_fault(struct zd_mm *mm, uintptr_t a, bool wp, int tid)
{
	/* a write-protect fault is stale (raised while the page was being
	 * taken): the thread faults again on the missing page */
	if (wp || restore(mm, a, tid, true) == NOT_EXCL)
		zd_os_uffd_wake(mm->uffd, (void *)a, page_bytes());
}

void zd_hmm_excl_evict(struct zd_mm *mm, uintptr_t a)
{
	/* as the kernel's fork, which retries until the driver unlocks */
	while (restore(mm, a, zd_os_gettid(), false) == HELD)
		zd_os_yield();
}

/* ---- making pages exclusive -------------------------------------------- */

/* A CPU write fault on each page, as the kernel's get_user_pages(..,
 * FOLL_WRITE): never-touched pages get one, device pages come home.
 * How many pages from @start could be faulted in. */
static unsigned long fault_in(uintptr_t start, unsigned long n)
{
	unsigned long i = 0;

	if (!zd_os_populate((void *)start, n << zd_page_shift, true))
		return n;
	while (i < n && !zd_os_populate((void *)(start + (i << zd_page_shift)),
					page_bytes(), true))
		i++;
	return i;
}

/* A host page that can be taken: mark it busy.  Lock held. */
static bool collect(struct zd_mm *mm, uintptr_t a)
{
	uintptr_t *pte = zd_hmm_pte(mm, a);

	if (!pte || (zd_hmm_settle(pte, a) & ~PTE_DISCARD) != PTE_HOST ||
	    zd_hmm_pinned(mm, a, a + page_bytes()))
		return false;
	*pte |= PTE_BUSY;
	return true;
}

/* Give up page @a of a run: it stays the CPU's.  Lock held. */
static void uncollect(struct zd_mm *mm, uintptr_t a)
{
	uintptr_t *pte = zd_hmm_pte(mm, a);

	if (pte && *pte == PTE_DEAD) {
		*pte = PTE_NONE;
		zd_hmm_trim(mm, a, a + page_bytes());
	} else if (pte) {
		*pte &= ~(PTE_BUSY | PTE_TAKEN);
	}
}

/* Records for the @n pages of a run at @kept, each held and in the set;
 * false (nothing allocated) without memory. */
static bool new_records(struct zd_mm *mm, char *kept, unsigned long n,
			struct hmm_excl **x)
{
	unsigned long i;
	bool ok = true;

	pthread_mutex_lock(&excl_lock);
	for (i = 0; i < n && ok; i++) {
		/* aligned, so that the entry's flags fit below the pointer */
		ok = !posix_memalign((void **)&x[i], 256, sizeof(*x[i]));
		if (ok) {
			*x[i] = (struct hmm_excl){ kept + (i << zd_page_shift),
						   mm, 0, zd_os_gettid(), true };
			ok = tsearch(x[i], &kept_set, kept_cmp) != NULL;
			if (!ok)
				free(x[i]);
		}
	}
	if (!ok)
		while (--i > 0) {
			tdelete(x[i - 1], &kept_set, kept_cmp);
			free(x[i - 1]);
		}
	pthread_mutex_unlock(&excl_lock);
	return ok;
}

/* Set or clear PTE_TAKEN | PTE_DISCARD on a run's live entries. */
static void mark_leaving(struct zd_mm *mm, uintptr_t a, unsigned long n, bool on)
{
	const uintptr_t bits = PTE_TAKEN | PTE_DISCARD;

	pthread_mutex_lock(&mm->lock);
	for (unsigned long i = 0; i < n; i++) {
		uintptr_t *pte = zd_hmm_pte(mm, a + (i << zd_page_shift));

		if (pte && *pte != PTE_DEAD)
			*pte = on ? *pte | bits : *pte & ~bits;
	}
	pthread_mutex_unlock(&mm->lock);
}

/*
 * Copy the run's bytes out (the pages are write-protected meanwhile, so
 * no write is lost) and drop the pages from the CPU's mapping; 0 or an
 * error, the pages then left in place.  PTE_TAKEN: a fault on a dropped
 * page waits instead of reading zeros; PTE_DISCARD: the remove event is
 * ours.  An unmap meanwhile (-ENOMEM) kills the entries it reaches.
 */
static int take_run(struct zd_mm *mm, uintptr_t a, unsigned long n, char *kept)
{
	size_t len = n << zd_page_shift;
	int err;

	hmm_writeprotect(mm, a, len, 1);
	err = zd_os_peek(kept, (void *)a, len);
	if (!err) {
		mark_leaving(mm, a, n, true);
		err = zd_os_discard((void *)a, len);
		if (err == -ENOMEM)
			err = 0;
		if (err)
			mark_leaving(mm, a, n, false);
	}
	if (err)
		hmm_writeprotect(mm, a, len, 0);
	return err;
}

/* Make the @n collected pages at @a exclusive; pages[i] their kept
 * addresses, or NULL where not. */
static void exclusive_run(struct zd_mm *mm, uintptr_t a, unsigned long n,
			  void **pages)
{
	size_t len = n << zd_page_shift;
	char *kept = zd_fault("hmm.exclusive") ? NULL : zd_os_map_pages(len);
	struct hmm_excl **x = calloc(n, sizeof(*x));
	bool ok = kept && x && new_records(mm, kept, n, x);

	if (ok && take_run(mm, a, n, kept)) {
		pthread_mutex_lock(&excl_lock);
		for (unsigned long i = 0; i < n; i++) {
			tdelete(x[i], &kept_set, kept_cmp);
			free(x[i]);
		}
		pthread_mutex_unlock(&excl_lock);
		ok = false;
	}
	pthread_mutex_lock(&mm->lock);
	for (unsigned long i = 0; i < n; i++) {
		uintptr_t p = a + (i << zd_page_shift), *pte = zd_hmm_pte(mm, p);

		pages[i] = NULL;
		if (!ok || !pte || *pte == PTE_DEAD) {
			uncollect(mm, p);
			if (ok) {	/* unmapped meanwhile */
				pthread_mutex_lock(&excl_lock);
				excl_free(x[i]);
				pthread_mutex_unlock(&excl_lock);
			}
			continue;
		}
		pte_set(pte, (uintptr_t)x[i] | PTE_EXCL);
		pages[i] = x[i]->kept;
	}
	pthread_mutex_unlock(&mm->lock);
	if (!ok && kept)
		zd_os_unmap(kept, len);
	free(x);
	/* faults on the pages meanwhile fault again, and find them taken */
	zd_os_uffd_wake(mm->uffd, (void *)a, len);
}

static bool exclusive_bad(struct zd_mm *mm, unsigned long start,
			  unsigned long end, void **pages)
{
	uintptr_t mask = page_bytes() - 1;

	if (!mm || mm->dead || !pages || (start & mask) || (end & mask) ||
	    start >= end) {
		zd_warn("zd_make_device_exclusive_range: bad argument: mm %p "
			"[%#lx, %#lx) pages %p (page-aligned, non-empty range; "
			"not in a forked child)", (void *)mm, start, end,
			(void *)pages);
		return true;
	}
	return false;
}

int zd_make_device_exclusive_range(struct zd_mm *mm, unsigned long start,
				   unsigned long end, void **pages, void *owner)
{
	unsigned long n, i, j, taken = 0;

	if (exclusive_bad(mm, start, end, pages))
		return -EINVAL;
	if (zd_hmm_fault_thread_misuse(mm, __func__))
		return -EDEADLK;
	n = fault_in(start, (end - start) >> zd_page_shift);
	if (!n)
		return -EFAULT;
	/* collected pages are marked by a non-NULL entry until taken */
	pthread_mutex_lock(&mm->lock);
	zd_hmm_wait_drained(mm);
	for (i = 0; i < n; i++) {
		pages[i] = collect(mm, start + (i << zd_page_shift)) ?
			   (void *)pages : NULL;
		taken += pages[i] != NULL;
	}
	pthread_mutex_unlock(&mm->lock);
	/* the device's mirrors go before the CPU's mapping does */
	if (taken)
		zd_mn_notify(mm, ZD_MMU_NOTIFY_EXCLUSIVE, start,
			     start + (n << zd_page_shift), owner);
	for (i = 0; i < n; i = j) {
		for (j = i + 1; pages[i] && j < n && pages[j]; j++)
			;
		if (pages[i])
			exclusive_run(mm, start + (i << zd_page_shift), j - i,
				      &pages[i]);
	}
	return (int)n;
}

void zd_put_device_exclusive_page(void *page)
{
	struct hmm_excl *x;

	pthread_mutex_lock(&excl_lock);
	x = page ? excl_find(page) : NULL;
	if (!x || !x->held) {
		pthread_mutex_unlock(&excl_lock);
		zd_warn("zd_put_device_exclusive_page: %p is not a page held "
			"from zd_make_device_exclusive_range() (put already?)",
			page);
		return;
	}
	x->held = false;
	if (!x->mm) {
		excl_free(x);		/* unmapped meanwhile */
	} else if (x->wake) {
		/* the mm lives while an entry names @x: excl_lock keeps it */
		zd_os_uffd_wake(x->mm->uffd, (void *)x->wake, page_bytes());
		x->wake = 0;
	}
	pthread_mutex_unlock(&excl_lock);
}
