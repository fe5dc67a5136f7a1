/* SPDX-License-Identifier: MIT */
/* HMM internals: the managed mm, its ranges and software page table. */
#ifndef ZD_HMM_INTERNAL_H
#define ZD_HMM_INTERNAL_H

#include <linux/userfaultfd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <zonedev/hmm.h>

#include "../os/os.h"

#define page_bytes()	((uintptr_t)1 << zd_page_shift)

/*
 * A software page table entry.  Device entries hold the struct zd_page
 * pointer (64-byte aligned) with PTE_DEVICE; the others a state.  PTE_BUSY:
 * the page is under migration; faults on it wait for the finalize.
 */
#define PTE_NONE	0ul		/* not managed (unmapped meanwhile) */
#define PTE_EMPTY	1ul		/* never touched, or dropped */
#define PTE_HOST	2ul		/* in host memory */
#define PTE_MAYBE	3ul		/* in host memory or dropped: after a
					 * remove event (see handle_remove()) */
#define PTE_STATE	3ul
#define PTE_DEVICE	4ul
#define PTE_WRITE	8ul
#define PTE_BUSY	16ul
#define PTE_DISCARD	32ul		/* our own MADV_DONTNEED's remove event
					 * is still to be read: ignore it */
#define PTE_FLAGS	63ul
/* A busy entry whose page the application unmapped meanwhile: the
 * migration that holds it installs nothing there and clears it. */
#define PTE_DEAD	PTE_BUSY
/* Host entries only (device ones hold a pointer here): the page left for
 * a driver's memory mid-migration, so its absence is not a reclaim. */
#define PTE_TAKEN	64ul
/* An exclusive page (exclusive.c): a struct hmm_excl pointer, 256-byte
 * aligned, with this bit; no state bits, no PTE_DEVICE (whose pointer
 * may have this bit).  PTE_BUSY while it is restored. */
#define PTE_EXCL	128ul
#define PTE_EXCL_MASK	255ul

static inline struct zd_page *pte_page(uintptr_t e)
{
	return e & PTE_DEVICE ? (struct zd_page *)(e & ~PTE_FLAGS) : NULL;
}

struct hmm_excl;

static inline struct hmm_excl *pte_excl(uintptr_t e)
{
	return (e & (PTE_EXCL | PTE_DEVICE)) == PTE_EXCL ?
	       (struct hmm_excl *)(e & ~PTE_EXCL_MASK) : NULL;
}

/* The mm a device page is mapped in: written under its lock, read
 * without by those that find the page by pfn (unplug). */
static inline struct zd_mm *page_mm(struct zd_page *page)
{
	return __atomic_load_n((struct zd_mm **)&page->mapping, __ATOMIC_RELAXED);
}

static inline void set_page_mm(struct zd_page *page, struct zd_mm *mm)
{
	__atomic_store_n((struct zd_mm **)&page->mapping, mm, __ATOMIC_RELAXED);
}

/* A new value, keeping PTE_DISCARD: the event it waits for comes later. */
static inline void pte_set(uintptr_t *pte, uintptr_t v)
{
	*pte = v | (*pte & PTE_DISCARD);
}

/* zonedev's bit in migrate entries: setup took (and marked busy) the page */
#define MPFN_COLLECTED	(1ul << 2)

/* A managed range: sorted by start in zd_mm.ranges, never overlapping,
 * cut back to its managed pages after every unmap. */
struct hmm_range {
	uintptr_t start, end;
	/* (end - start) >> page_shift entries, in the same allocation: the
	 * address of an entry needs no load from the struct */
	uintptr_t pte[];
};

/* Ranges per block of the table's index (zd_mm.tops): 8 ends fill a
 * cache line. */
#define RANGE_BLOCK	8

struct zd_mm {
	int uffd, stop_fd;
	pthread_t thread;
	pthread_mutex_t lock;		/* ranges and their ptes */
	struct hmm_range **ranges;	/* sorted by start */
	uintptr_t *starts, *ends;	/* ranges[i]->start and ->end: read
					 * without touching the ranges */
	uintptr_t *tops;		/* the last end of each RANGE_BLOCK */
	size_t nr_ranges, cap_ranges, nr_tops;
	/* Events being read and handled (fault thread); munmap returns once
	 * its event is read, so callers wait for the handling to end. */
	unsigned int draining;
	unsigned long drain_seq;
	pthread_cond_t drained;		/* also: dead entries cleared */
	struct zd_list_head node;	/* in zd_hmm_mms */
	unsigned long device_pages;	/* lock held */
	bool dead;			/* after fork, in the child */
	bool can_move;			/* UFFDIO_MOVE (Linux 6.8) */
	pthread_mutex_t trash_lock;	/* taken before lock */
	char *trash;			/* trash.c */
	/* pages a split found unmapped, to free once the lock is dropped
	 * (folio.c): the driver's page_free is not called under it */
	struct zd_page **split_free;
	size_t nr_split_free, cap_split_free;
	/* faults read while draining events (fault thread only) */
	struct uffd_msg *pending;
	size_t nr_pending, cap_pending;
	struct coh_expect *coh_expect;	/* our own unmap events (coherent.c) */
	struct zd_list_head pins;	/* struct zd_pin (gup.c) */
	unsigned long in_flight;	/* migrations from setup to finalize
					 * (migrate.c's gate_lock) */
	struct {
		atomic_ulong faults, zero_fills, device_faults, sigbus, dropped;
		atomic_ulong pages_moved, pages_copied;
	} stats;
};

/* Every mm (fork hook); the lock is taken before any mm's. */
extern pthread_mutex_t zd_hmm_mms_lock;
extern struct zd_list_head zd_hmm_mms;

/* The entry for @addr, or NULL if no range manages it; mm->lock held. */
uintptr_t *zd_hmm_pte(struct zd_mm *mm, uintptr_t addr);

/* Wait until the events read so far are handled, so that the entries
 * agree with every munmap() that returned; mm->lock held.  A no-op on
 * the fault thread itself. */
void zd_hmm_wait_drained(struct zd_mm *mm);

/* Wait until no event is being read or handled (zd_hmm_wait_drained()
 * waits only for those read so far): while the caller then holds the
 * lock, no munmap() can return.  mm->lock held; a no-op on the fault
 * thread, the only reader. */
void zd_hmm_wait_idle(struct zd_mm *mm);

/* Cut the ranges overlapping [start, end) back to their managed pages,
 * freeing those left empty; mm->lock held.  Wakes registrations waiting
 * for dead entries to go. */
void zd_hmm_trim(struct zd_mm *mm, uintptr_t start, uintptr_t end);

/* A range of @n pages at @start, every entry PTE_NONE; NULL if no
 * memory.  Freed with zd_hmm_range_free(). */
struct hmm_range *zd_hmm_range_new(uintptr_t start, size_t n);
void zd_hmm_range_free(struct hmm_range *r);

/* Add @r (not overlapping any range); 0 or -ENOMEM.  mm->lock held. */
int zd_hmm_range_insert(struct zd_mm *mm, struct hmm_range *r);

/* Whether any range overlaps [start, end); mm->lock held. */
bool zd_hmm_overlaps(struct zd_mm *mm, uintptr_t start, uintptr_t end);

/* Bring back every device page of [start, end) through migrate_to_ram. */
void zd_hmm_evict(struct zd_mm *mm, uintptr_t start, uintptr_t end);

/* An ioctl failed with -EAGAIN: an event waits to be read.  On the
 * fault thread, read and handle events now (faults are queued); on other
 * threads, give the fault thread a chance. */
void zd_hmm_wait_events(struct zd_mm *mm);

/* @call (a zd_os_uffd_* ioctl) until no event is in its way. */
#define UFFD_RETRY(mm, call) ({						\
	int __err;							\
	while ((__err = (call)) == -EAGAIN)				\
		zd_hmm_wait_events(mm);					\
	__err;								\
})

/* Told the address of each page zd__hmm_fill() could not fill. */
typedef void hmm_fill_failed(void *ctx, uintptr_t addr);

/*
 * Fill the absent pages [dst, dst + len): with the zero page (@src NULL),
 * a copy of @src's bytes, or (@move, where the kernel can) @src's pages
 * themselves, copying instead where a move is refused.  Pages found
 * present count as filled.  Counts into mm->stats; never takes mm->lock
 * (the fault thread needs it to read the events in the way).
 */
void zd__hmm_fill(struct zd_mm *mm, uintptr_t dst, char *src, size_t len,
		  bool move, hmm_fill_failed *failed, void *ctx);

/*
 * Write-protect (@wp) or unprotect [a, a + len).  The kernel stops at the
 * first mapping it cannot do (one the application mapped where it
 * unmapped part of the range, not registered; before Linux 6.5, any
 * second mapping): then each page is done on its own, so that no page
 * after it is left writable under a migration.  0 or the first error.
 */
static inline int hmm_writeprotect(struct zd_mm *mm, uintptr_t a, size_t len,
				   int wp)
{
	int err = UFFD_RETRY(mm, zd_os_uffd_writeprotect(mm->uffd, (void *)a, len, wp));

	for (uintptr_t p = a; err && len > page_bytes() && p < a + len; p += page_bytes())
		UFFD_RETRY(mm, zd_os_uffd_writeprotect(mm->uffd, (void *)p,
						       page_bytes(), wp));
	return err;
}

/* The userfaultfd that staging memory is registered with; -1 if the
 * kernel cannot move pages (then they are copied). */
int zd_hmm_staging_fd(void);

/* Drop the host pages of [a, a + len) that zd_migrate_vma_pages() left
 * under device entries, race-free (trash.c).  Returns how many bytes
 * from @a it dealt with; the rest (a kernel without UFFDIO_MOVE, a page
 * it cannot move) is the caller's.  Not under mm->lock. */
size_t zd_hmm_drop_host_pages(struct zd_mm *mm, uintptr_t a, size_t len);
/* Unmap the trash (zd_mm_destroy(), after the userfaultfd is closed). */
void zd_hmm_trash_free(struct zd_mm *mm);

/* fork(): HMM's leaf locks are held across it, so that the state they
 * guard is whole in the child, which re-initialises them (mm.c). */
enum hmm_fork { HMM_FORK_PREPARE, HMM_FORK_PARENT, HMM_FORK_CHILD };

static inline void hmm_fork_mutex(pthread_mutex_t *l, enum hmm_fork stage)
{
	if (stage == HMM_FORK_PREPARE)
		pthread_mutex_lock(l);
	else if (stage == HMM_FORK_PARENT)
		pthread_mutex_unlock(l);
	else
		pthread_mutex_init(l, NULL);
}

void zd_hmm_notifier_fork(enum hmm_fork stage);
void zd_hmm_excl_fork(enum hmm_fork stage);
void zd_hmm_staging_fork(enum hmm_fork stage);
void zd_hmm_sys_pages_fork(enum hmm_fork stage);
/* Prepare: wait for migrations in flight and hold new ones back (but the
 * forking thread's and fault threads'); parent, child: let them go. */
void zd_hmm_migrations_fork(enum hmm_fork stage);
/* This thread's migrations of @mm between setup and finalize
 * (zd_mm_destroy() would wait for itself). */
unsigned long zd_hmm_migrating_here(struct zd_mm *mm);
/* Whether the page at @a is in one of this thread's own migrations of
 * @mm between setup and finalize (an eviction would wait for itself). */
bool zd_hmm_migrating_here_at(struct zd_mm *mm, uintptr_t a);
/* Wait until no migration of @mm is between setup and finalize, saying
 * so every 5 s (zd_mm_destroy(), before the mm goes). */
void zd_hmm_migrations_wait(struct zd_mm *mm);
/* Call @vmf's page's migrate_to_ram(), remembering on this thread which
 * fault it serves (zd_hmm_served_page()). */
int zd_hmm_migrate_to_ram(struct zd_vm_fault *vmf);
/* The page whose fault in @mm this thread's migrate_to_ram() serves, if
 * it lies in [start, end); else NULL. */
struct zd_page *zd_hmm_served_page(struct zd_mm *mm, uintptr_t start,
				   uintptr_t end);
/* Whether this thread is an mm's fault thread. */
bool zd_hmm_on_fault_thread(void);
/* Whether this is @mm's fault thread, where @fn would wait for itself:
 * then a warning naming @fn. */
bool zd_hmm_fault_thread_misuse(struct zd_mm *mm, const char *fn);

/* Sleep a millisecond, saying every 5 s (from *@from, 0 at first) that
 * the page at @a is still waited for, @what for. */
void zd_hmm_wait_tick(int64_t *from, uintptr_t a, const char *what);
/* Whether a wait going on since *@since (0: it starts now) is due to be
 * reported: every report period (zd_report_period_ns()), restarting. */
bool zd_hmm_report_due(int64_t *since);
/* Wait on @cv, @lock held, for at most a second; then whether the wait,
 * going on since *@since, is due to be reported (zd_hmm_report_due()). */
bool zd_hmm_cond_wait_reported(pthread_cond_t *cv, pthread_mutex_t *lock,
			       int64_t *since);

/* Pins (gup.c).  Whether a host page of [start, end) is pinned; lock
 * held. */
bool zd_hmm_pinned(struct zd_mm *mm, uintptr_t start, uintptr_t end);
/* The application unmapped [start, end): pins keep its old host pages,
 * not what is mapped there next.  Lock held. */
void zd_hmm_pins_forget(struct zd_mm *mm, uintptr_t start, uintptr_t end);
/* Whether this thread holds a pin on the coherent @page at @a: its
 * eviction would wait for this thread's own unpin.  Then a warning: it
 * comes home regardless.  No lock held. */
bool zd_hmm_pinned_here(struct zd_mm *mm, uintptr_t a, struct zd_page *page);
/* zd_mm_destroy(): drop the pins still held, with a warning. */
void zd_hmm_pins_drop(struct zd_mm *mm);
void zd_hmm_gup_fork(enum hmm_fork stage);

/* The fault thread. */
void *zd_hmm_fault_thread(void *arg);

/* Drop the device pages of [start, end): set @state, free the pages. */
void zd_hmm_drop(struct zd_mm *mm, uintptr_t start, uintptr_t end,
		 uintptr_t state);
/* A PTE_MAYBE entry for the page at @addr made PTE_HOST or PTE_EMPTY, as
 * the kernel says; the entry.  Lock held. */
uintptr_t zd_hmm_settle(uintptr_t *pte, uintptr_t addr);

/* Exclusive pages (exclusive.c).  A CPU fault on one by thread @tid
 * (fault thread): restore it, or leave the thread waiting for the
 * device's put (but for the thread that holds it). */
void zd_hmm_excl_fault(struct zd_mm *mm, uintptr_t addr, bool wp, int tid);
/* Restore the exclusive page at @addr, if it is one, waiting for the
 * device's put first (fork, unregister, destroy); no lock held. */
void zd_hmm_excl_evict(struct zd_mm *mm, uintptr_t addr);
/* The entry naming @x goes (munmap, MADV_DONTNEED, a failed mremap):
 * @x is freed, or left to the device's put if held. */
void zd_hmm_excl_drop(struct hmm_excl *x);

/*
 * DEVICE_COHERENT pages (coherent.c): mapped in place, shared, at their
 * address.  An unmap event for [start, end) that a mapping made by this
 * library causes, on its way to the fault thread, which ignores it.
 */
struct coh_expect {
	uintptr_t start, end;
	bool seen;
	struct coh_expect *next;
};

bool zd_hmm_coh_page(const struct zd_page *page);
/* A coherent page whose pgmap has a file to map it from. */
bool zd_hmm_coh_mappable(const struct zd_page *page);
/* Fault thread: whether the unmap event [start, end) is ours (then it
 * is consumed); takes mm->lock. */
bool zd_hmm_coh_expected(struct zd_mm *mm, uintptr_t start, uintptr_t end);
/* Fresh private anonymous memory at [a, a + len), registered; busy
 * entries.  No lock held; any thread. */
int zd_hmm_coh_unshare(struct zd_mm *mm, uintptr_t a, size_t len);
/* The same, arriving with the bytes of @src[0..n) (a page each). */
int zd_hmm_coh_place(struct zd_mm *mm, uintptr_t a, size_t n,
		     char *const *src);
/* Map @pages[0..n) (NULL: skip) at [a, a + n pages), their entries
 * installed and busy; where one cannot be mapped its bytes go into host
 * memory, the entry becomes a host one and MIGRATE leaves @src[i]. */
void zd_hmm_coh_map(struct zd_mm *mm, uintptr_t a, struct zd_page **pages,
		    size_t n, unsigned long *src);
/* Collected coherent pages that did not move: writable again. */
void zd_hmm_coh_restore(struct zd_mm *mm, uintptr_t a, size_t len);
/* MADV_DONTNEED of the coherent page at @a (fault thread, lock held,
 * dropped and retaken): private memory there, the page freed. */
void zd_hmm_coh_drop(struct zd_mm *mm, uintptr_t a, struct zd_page *page);
/* A (stale) CPU fault on a mapped coherent page. */
void zd_hmm_coh_fault(struct zd_mm *mm, uintptr_t a, struct zd_page *page,
		      bool wp);
/* In a forked child: each coherent page still mapped (a pin kept it on
 * its device through the fork) replaced by a private copy, as the
 * kernel copies pinned pages for the child. */
void zd_hmm_coh_fork_child(struct zd_mm *mm);
/* Bring the coherent page at @a home without its driver (fork,
 * unregister, destroy); no lock held.  A page held beyond its mapping
 * and the caller (a pin) stays, unless @force. */
int zd_hmm_coh_evict(struct zd_mm *mm, uintptr_t a, struct zd_page *page,
		     bool force);

/* ---- large device folios (folio.c, migrate_compound.c) ---------------- */

/* A page of a folio of more than one page? */
static inline bool page_large(const struct zd_page *page)
{
	return atomic_load_explicit(&page->flags, memory_order_relaxed) &
	       (ZD_PG_HEAD | ZD_PG_TAIL);
}

/* The bytes a migrate entry covers: a folio's for a compound one. */
static inline size_t mpfn_bytes(unsigned long mpfn)
{
	return mpfn & ZD_MIGRATE_PFN_COMPOUND ?
	       ZD_HMM_FOLIO_PAGES << zd_page_shift : page_bytes();
}

/*
 * Split the large folio of @page, mapped in @mm, into order-0 pages: each
 * keeps one reference per mapping (and @extra, if one of them, the one
 * its holder took), the driver's folio_split is told; pages no longer
 * mapped are freed by the next zd_hmm_split_put().  Every mapped page of
 * the folio must be mapped here by its own entry, busy as @busy says,
 * and the folio's count must be exactly those references: else -EBUSY
 * and nothing changes.  0 for an order-0 page.  Lock held.
 */
int zd_hmm_folio_split(struct zd_mm *mm, struct zd_page *page,
		       struct zd_page *extra, bool busy);

/* Free the pages splits left unmapped; no lock held. */
void zd_hmm_split_put(struct zd_mm *mm);

/* The page at @a is one of a large folio (of @owner, if not NULL), not
 * busy: tell mirrors to drop the folio's entries (see folio.c), then
 * split it, @extra as for zd_hmm_folio_split(), where it can be.  Lock
 * held; dropped and taken again around the notifier: entries looked up
 * before are stale. */
void zd_hmm_split_at(struct zd_mm *mm, uintptr_t a, struct zd_page *extra,
		     void *owner);

/* zd_hmm_split_at() for the folios only partly inside [start, end), at
 * its two ends (they work page by page otherwise).  Lock held, dropped
 * and taken again. */
void zd_hmm_split_edges(struct zd_mm *mm, uintptr_t start, uintptr_t end);

/* Collect pages [i, i + ZD_HMM_FOLIO_PAGES) of @m as one compound entry
 * (see hmm.h); false (nothing changed) if they do not qualify.  Lock
 * held. */
bool zd_hmm_collect_compound(struct zd_migrate_vma *m, unsigned long i);

/* Write-protect (@wp) the host runs of @m's compound entries: all of
 * them (setup), or with @wp 0 those that stay (finalize). */
void zd_hmm_compound_wp(struct zd_migrate_vma *m, int wp);

/* zd_migrate_vma_pages() for the compound entries: done per folio, or
 * split into ordinary entries for the page-by-page code.  No lock held. */
void zd_hmm_compound_pages(struct zd_migrate_vma *m);

/* finalize of compound entry @i: entries, references; whether some of
 * its pages were unmapped (the ranges want a trim).  Lock held; dropped
 * and taken again around the puts. */
bool zd_hmm_compound_finish(struct zd_migrate_vma *m, unsigned long i);

/* zd_migrate_vma_move() of [i, i + n), which holds compound entries:
 * they are taken whole, by @move on their pages one by one. */
typedef int hmm_move_fn(struct zd_migrate_vma *m, unsigned long i,
			unsigned long n, void *to);
int zd_hmm_compound_move(struct zd_migrate_vma *m, unsigned long i,
			 unsigned long n, void *to, hmm_move_fn *move);

/* migrate.c's, for migrate_compound.c */
struct zd_page *zd__hmm_entry_page(unsigned long mpfn, bool warn);
void zd__hmm_discard(struct zd_mm *mm, uintptr_t a, size_t len);

#endif /* ZD_HMM_INTERNAL_H */
