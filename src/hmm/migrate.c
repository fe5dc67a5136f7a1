// SPDX-License-Identifier: MIT
/*
 * Migration between host memory and device-private pages, in the
 * kernel's three steps.  setup marks the pages busy (faults on them wait)
 * and write-protects the host ones, so the driver copies a stable
 * snapshot; pages installs the new entries (device pages) or places the
 * pages coming home (copying their staging bytes, or moving the staging
 * pages themselves) and drops the host pages that left;
 * finalize frees what was replaced, restores what did not move, and wakes
 * every thread that faulted on the range meanwhile.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../os/os.h"
#include "array.h"
#include "fault.h"
#include "internal.h"
#include "log.h"
#include "notifier.h"

unsigned long zd_migrate_pfn(unsigned long pfn)
{
	return (pfn << ZD_MIGRATE_PFN_SHIFT) | ZD_MIGRATE_PFN_VALID;
}

unsigned long zd_migrate_virt(void *addr)
{
	if (!addr || ((uintptr_t)addr & (page_bytes() - 1))) {
		zd_warn("zd_migrate_virt: bad address %p (a page-aligned one)",
			addr);
		return 0;
	}
	return ((uintptr_t)addr >> zd_page_shift << ZD_MIGRATE_PFN_SHIFT) |
	       ZD_MIGRATE_PFN_VALID | ZD_MIGRATE_PFN_SYSTEM;
}

struct zd_page *zd_migrate_pfn_to_page(unsigned long mpfn)
{
	unsigned long pfn = mpfn >> ZD_MIGRATE_PFN_SHIFT;

	if ((mpfn & (ZD_MIGRATE_PFN_VALID | ZD_MIGRATE_PFN_SYSTEM)) !=
	    ZD_MIGRATE_PFN_VALID)
		return NULL;
	if (!zd_pfn_valid(pfn)) {
		zd_warn("zd_migrate_pfn_to_page: entry %#lx names pfn %#lx, "
			"which has no struct page", mpfn, pfn);
		return NULL;
	}
	return zd_pfn_to_page(pfn);
}

/* The device-private page of a driver's entry, or NULL (with a warning
 * if @warn) where it names no such page. */
static struct zd_page *entry_page(unsigned long mpfn, bool warn)
{
	unsigned long pfn = mpfn >> ZD_MIGRATE_PFN_SHIFT;
	struct zd_page *page;

	if ((mpfn & (ZD_MIGRATE_PFN_VALID | ZD_MIGRATE_PFN_SYSTEM)) !=
	    ZD_MIGRATE_PFN_VALID)
		return NULL;
	page = zd_pfn_valid(pfn) ? zd_pfn_to_page(pfn) : NULL;
	if (page && !zd_is_device_private_page(page) && !zd_hmm_coh_page(page))
		page = NULL;
	/* a free page: putting it later would free it twice */
	if (page && zd_page_ref_count(page))
		return page;
	if (warn)
		zd_warn("bad migrate entry %#lx: pfn %#lx is not a device-private "
			"page (nor a device-coherent one)%s", mpfn, pfn, page ? " handed out (its count is 0: "
			"see zd_zone_device_page_init())" : "");
	return NULL;
}

struct zd_page *zd__hmm_entry_page(unsigned long mpfn, bool warn)
{
	return entry_page(mpfn, warn);
}

void *zd_migrate_pfn_to_virt(unsigned long mpfn)
{
	if (!(mpfn & ZD_MIGRATE_PFN_SYSTEM) || !(mpfn & ZD_MIGRATE_PFN_VALID))
		return NULL;
	return (void *)((mpfn >> ZD_MIGRATE_PFN_SHIFT) << zd_page_shift);
}

/*
 * The staging pages handed out and not freed yet, so that freeing
 * anything else (or one twice, whose address may be someone's mapping
 * by then) is refused instead of unmapping it.  An open-addressing hash
 * set of addresses, 0 marking a free slot, at most half full.
 */
static pthread_mutex_t sys_lock = PTHREAD_MUTEX_INITIALIZER;

void zd_hmm_sys_pages_fork(enum hmm_fork stage)
{
	hmm_fork_mutex(&sys_lock, stage);
}
static uintptr_t *sys_set;
static size_t sys_cap, sys_nr;		/* sys_cap: 0 or a power of two */

static size_t sys_home(uintptr_t a, size_t cap)
{
	uint64_t h = (uint64_t)(a >> zd_page_shift) * 0x9e3779b97f4a7c15ull;

	return (size_t)(h ^ h >> 32) & (cap - 1);
}

/* The slot holding @a, or sys_cap; lock held. */
static size_t sys_find(uintptr_t a)
{
	if (!sys_cap)
		return 0;
	for (size_t i = sys_home(a, sys_cap);; i = (i + 1) & (sys_cap - 1)) {
		if (sys_set[i] == a)
			return i;
		if (!sys_set[i])
			return sys_cap;
	}
}

static void sys_put(uintptr_t *set, size_t cap, uintptr_t a)
{
	size_t i = sys_home(a, cap);

	while (set[i])
		i = (i + 1) & (cap - 1);
	set[i] = a;
}

static int sys_add(uintptr_t a)
{
	int err = 0;

	pthread_mutex_lock(&sys_lock);
	if (2 * (sys_nr + 1) > sys_cap) {
		size_t cap = sys_cap ? 2 * sys_cap : 64;
		uintptr_t *set = calloc(cap, sizeof(*set));

		for (size_t i = 0; set && i < sys_cap; i++)
			if (sys_set[i])
				sys_put(set, cap, sys_set[i]);
		if (set) {
			free(sys_set);
			sys_set = set;
			sys_cap = cap;
		}
	}
	if (2 * (sys_nr + 1) <= sys_cap) {
		sys_put(sys_set, sys_cap, a);
		sys_nr++;
	} else {
		err = -ENOMEM;
	}
	pthread_mutex_unlock(&sys_lock);
	return err;
}

/* Remove @a; whether it was there.  The entries after it in its probe
 * run move back so that every lookup still finds them. */
static bool sys_del(uintptr_t a)
{
	size_t i, j, mask = sys_cap - 1;
	bool found;

	pthread_mutex_lock(&sys_lock);
	i = sys_find(a);
	found = i < sys_cap;
	for (j = i; found; ) {
		size_t k;

		j = (j + 1) & mask;
		if (!sys_set[j])
			break;
		k = sys_home(sys_set[j], sys_cap);
		/* may it fill the hole at i (its home not in (i, j])? */
		if (i <= j ? (k <= i || k > j) : (k <= i && k > j)) {
			sys_set[i] = sys_set[j];
			i = j;
		}
	}
	if (found) {
		sys_set[i] = 0;
		sys_nr--;
	}
	pthread_mutex_unlock(&sys_lock);
	return found;
}

void *zd_alloc_system_page(void)
{
	void *p = zd_fault("hmm.system_page") ? NULL : zd_os_map_pages(page_bytes());

	if (p && sys_add((uintptr_t)p)) {
		zd_os_unmap(p, page_bytes());
		p = NULL;
	}
	if (!p)
		errno = ENOMEM;
	return p;
}

void zd_free_system_page(void *addr)
{
	if (!addr)
		return;
	if (!sys_del((uintptr_t)addr)) {
		zd_warn("zd_free_system_page: %p is not a page from "
			"zd_alloc_system_page(), or was freed already", addr);
		return;
	}
	zd_os_unmap(addr, page_bytes());
}

/* Calls @fn on each run of consecutive pages (and, with @src, consecutive
 * source pages) for which @want(i) holds. */
#define for_each_run(n, want, body) do {				\
	for (unsigned long __i = 0, __j; __i < (n); __i = __j + 1) {	\
		unsigned long run_first = __i, run_len;			\
		if (!(want(__i))) { __j = __i; continue; }		\
		for (__j = __i + 1; __j < (n) && (want(__j)); __j++)	\
			;						\
		run_len = __j - run_first;				\
		body;							\
	}								\
} while (0)

static bool migrate_bad(const struct zd_migrate_vma *m)
{
	uintptr_t mask = page_bytes() - 1;

	if (!m || !m->mm || m->mm->dead || !m->src || !m->dst ||
	    (m->start & mask) || (m->end & mask) || m->start >= m->end ||
	    m->npages != (m->end - m->start) >> zd_page_shift ||
	    !(m->flags & (ZD_MIGRATE_VMA_SELECT_SYSTEM |
			  ZD_MIGRATE_VMA_SELECT_DEVICE_PRIVATE |
			  ZD_MIGRATE_VMA_SELECT_DEVICE_COHERENT))) {
		zd_warn("bad migrate_vma: start %#lx end %#lx npages %lu flags "
			"%#lx (page-aligned, npages to match, a SELECT flag)",
			m ? m->start : 0, m ? m->end : 0, m ? m->npages : 0,
			m ? m->flags : 0);
		return true;
	}
	return false;
}

/* The src entry for one page, marking it busy; 0 if it cannot move. */
static unsigned long collect(struct zd_migrate_vma *m, uintptr_t *pte,
			     uintptr_t addr)
{
	uintptr_t e = pte ? zd_hmm_settle(pte, addr) : PTE_NONE;
	struct zd_page *page = pte_page(e);
	unsigned long src = 0;

	if (e & PTE_BUSY)
		return 0;
	if ((m->flags & ZD_MIGRATE_VMA_SELECT_SYSTEM) &&
	    !zd_hmm_pinned(m->mm, addr, addr + page_bytes())) {
		if (e == PTE_EMPTY)
			src = ZD_MIGRATE_PFN_MIGRATE;
		else if (e == PTE_HOST)
			src = zd_migrate_virt((void *)addr) | ZD_MIGRATE_PFN_MIGRATE |
			      ZD_MIGRATE_PFN_WRITE;
	}
	if (page && (m->flags & (zd_hmm_coh_page(page) ?
				 ZD_MIGRATE_VMA_SELECT_DEVICE_COHERENT :
				 ZD_MIGRATE_VMA_SELECT_DEVICE_PRIVATE)) &&
	    page->pgmap->owner == m->pgmap_owner &&
	    /* a page of a large folio goes alone (folio.c) */
	    !zd_hmm_folio_split(m->mm, page, m->fault_page, false) &&
	    /* no one else holds it (the fault's own reference aside) */
	    zd_page_ref_count(page) == 1 + (page == m->fault_page))
		src = zd_migrate_pfn(zd_page_to_pfn(page)) | ZD_MIGRATE_PFN_MIGRATE |
		      (e & PTE_WRITE ? ZD_MIGRATE_PFN_WRITE : 0);
	if (src)
		*pte |= PTE_BUSY;
	return src ? src | MPFN_COLLECTED : 0;
}

/* Whether any page of [start, end) is managed; lock held. */
static bool any_managed(struct zd_mm *mm, uintptr_t start, uintptr_t end)
{
	for (uintptr_t a = start; a < end; a += page_bytes())
		if (zd_hmm_pte(mm, a))
			return true;
	return false;
}

/*
 * fork() waits for the migrations in flight and holds new ones back, so
 * that no page goes to a device between its eviction and the copy of the
 * address space; but not those of the forking thread (its eviction's)
 * nor of fault threads (which that eviction may need).  A migration is
 * in flight from a setup that collected pages to its finalize.  mm.c's
 * fork hooks drive the gate.
 */
static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cv = PTHREAD_COND_INITIALIZER;
static unsigned long gate_flight;	/* migrations in flight */
static bool gate_closed;
static pthread_t gate_owner;		/* the forking thread */
/*
 * Who set up each migration in flight, for zd_mm_destroy() and fork() on
 * that thread (they would wait for themselves): by migration, not by
 * thread, as a driver may finalize on another thread than its setup.  A
 * migration is known by its src array (the driver's, the same from setup
 * to finalize).  Without memory for a record it goes untold.
 */
struct gate_rec {
	const unsigned long *src;
	struct zd_mm *mm;
	uintptr_t start, end;
	pthread_t owner;
	/* the driver's .fault_page, which setup replaced by the faulting
	 * page: given back at the end, as the kernel never writes it */
	bool restore;
	struct zd_page *given;
};
static struct gate_rec *gate_recs;
static size_t gate_nr, gate_cap;

/* Whether @r is this thread's migration, of @mm or (NULL) any. */
static bool rec_mine(const struct gate_rec *r, const struct zd_mm *mm)
{
	return pthread_equal(r->owner, pthread_self()) && (!mm || r->mm == mm);
}

/* This thread's migrations in flight, of @mm or (NULL) any; gate_lock
 * held. */
static unsigned long gate_mine(const struct zd_mm *mm)
{
	unsigned long n = 0;

	for (size_t i = 0; i < gate_nr; i++)
		n += rec_mine(&gate_recs[i], mm);
	return n;
}

/* Whether @m's src array is that of a migration in flight; gate_lock
 * held.  Not one of a dead mm: in a forked child, the forking thread's
 * migration came along but no one may finish it, and the child's own
 * migrations may use the same (the driver's static) array. */
static bool gate_known(const struct zd_migrate_vma *m)
{
	for (size_t i = 0; i < gate_nr; i++)
		if (gate_recs[i].src == m->src && !gate_recs[i].mm->dead)
			return true;
	return false;
}

/* Also counts @m's mm's migrations (mm->in_flight, under gate_lock), from
 * setup to finalize, for zd_mm_destroy() to wait for: the gate_leave()
 * is the migration's last touch of the mm.  -EBUSY: @m's src array is
 * in flight already (a second setup would overwrite what the first
 * collected, and those pages would stay busy for good).  @replaced: setup
 * is to replace @m's .fault_page, to be given back at gate_leave(). */
static int gate_enter(struct zd_migrate_vma *m, bool replaced)
{
	pthread_mutex_lock(&gate_lock);
	while (gate_closed && !pthread_equal(gate_owner, pthread_self()) &&
	       !zd_hmm_on_fault_thread())
		pthread_cond_wait(&gate_cv, &gate_lock);
	if (gate_known(m)) {
		pthread_mutex_unlock(&gate_lock);
		zd_warn("zd_migrate_vma_setup: src array %p is in a migration "
			"not finalized yet (finalize it first)", (void *)m->src);
		return -EBUSY;
	}
	gate_flight++;
	m->mm->in_flight++;
	if (!zd_array_room(gate_recs, gate_nr, gate_cap, 16))
		gate_recs[gate_nr++] = (struct gate_rec){
			m->src, m->mm, m->start, m->end, pthread_self(),
			replaced, m->fault_page };
	pthread_mutex_unlock(&gate_lock);
	return 0;
}

static void gate_leave(struct zd_migrate_vma *m)
{
	pthread_mutex_lock(&gate_lock);
	gate_flight--;
	m->mm->in_flight--;
	for (size_t i = gate_nr; i-- > 0;)
		if (gate_recs[i].src == m->src && gate_recs[i].mm == m->mm) {
			if (gate_recs[i].restore)
				m->fault_page = gate_recs[i].given;
			gate_recs[i] = gate_recs[--gate_nr];
			break;
		}
	pthread_cond_broadcast(&gate_cv);
	pthread_mutex_unlock(&gate_lock);
}

bool zd_hmm_migrating_here_at(struct zd_mm *mm, uintptr_t a)
{
	bool mine = false;

	pthread_mutex_lock(&gate_lock);
	for (size_t i = 0; i < gate_nr && !mine; i++)
		mine = rec_mine(&gate_recs[i], mm) && gate_recs[i].start <= a &&
		       a < gate_recs[i].end;
	pthread_mutex_unlock(&gate_lock);
	return mine;
}

unsigned long zd_hmm_migrating_here(struct zd_mm *mm)
{
	unsigned long mine;

	pthread_mutex_lock(&gate_lock);
	mine = gate_mine(mm);
	pthread_mutex_unlock(&gate_lock);
	return mine;
}

/* Wait until *@count is down to @floor, saying every 5 s that @who
 * still waits; gate_lock held. */
static void gate_wait(const unsigned long *count, unsigned long floor,
		      const char *who)
{
	int64_t since = zd_os_now_ns();

	while (*count > floor)
		if (zd_hmm_cond_wait_reported(&gate_cv, &gate_lock, &since) &&
		    *count > floor)
			zd_warn("%s waits for %lu migrations to finalize", who,
				*count - floor);
}

void zd_hmm_migrations_wait(struct zd_mm *mm)
{
	pthread_mutex_lock(&gate_lock);
	gate_wait(&mm->in_flight, 0, "zd_mm_destroy()");
	pthread_mutex_unlock(&gate_lock);
}

void zd_hmm_migrations_fork(enum hmm_fork stage)
{
	if (stage == HMM_FORK_CHILD) {	/* no other thread came along */
		pthread_mutex_init(&gate_lock, NULL);
		pthread_cond_init(&gate_cv, NULL);
		gate_closed = false;
		/* only the forking thread's came along */
		for (size_t i = gate_nr; i-- > 0;)
			if (!rec_mine(&gate_recs[i], NULL))
				gate_recs[i] = gate_recs[--gate_nr];
		gate_flight = gate_nr;
		return;
	}
	pthread_mutex_lock(&gate_lock);
	if (stage == HMM_FORK_PREPARE) {
		gate_closed = true;
		gate_owner = pthread_self();
		/* this thread's own (a fork between its setup and finalize)
		 * would never end */
		gate_wait(&gate_flight, gate_mine(NULL), "fork()");
		pthread_mutex_unlock(&gate_lock);
		return;
	}
	gate_closed = false;
	pthread_cond_broadcast(&gate_cv);
	pthread_mutex_unlock(&gate_lock);
}

int zd_migrate_vma_setup(struct zd_migrate_vma *m)
{
	struct zd_page *served;

	if (migrate_bad(m))
		return -EINVAL;
	if (m->fault_page && !zd_is_device_private_page(m->fault_page)) {
		zd_warn("bad migrate_vma: fault_page %p is not a device-private "
			"page", (void *)m->fault_page);
		return -EINVAL;
	}
	served = zd_hmm_served_page(m->mm, m->start, m->end);
	if (gate_enter(m, served && served != m->fault_page))
		return -EBUSY;
	if (served && served != m->fault_page) {
		if (!m->fault_page)
			zd_warn("migrate_vma from migrate_to_ram without "
				".fault_page: the faulting page %p would never "
				"move; taken as .fault_page", (void *)served);
		else
			zd_warn("migrate_vma from migrate_to_ram: .fault_page "
				"%p is not the faulting page %p, which would "
				"never move; that one taken", (void *)m->fault_page,
				(void *)served);
		m->fault_page = served;	/* given back at finalize */
	}
	pthread_mutex_lock(&m->mm->lock);
	/* the kernel finds no vma: nothing is written.  An application's
	 * munmap() can cause it, so it is no misuse */
	if (!any_managed(m->mm, m->start, m->end) &&
	    zd_os_mapped((void *)m->start, m->end - m->start)) {
		pthread_mutex_unlock(&m->mm->lock);
		gate_leave(m);
		return -EINVAL;
	}
	m->cpages = 0;
	for (unsigned long i = 0; i < m->npages; i++) {
		uintptr_t a = m->start + (i << zd_page_shift);

		m->dst[i] = 0;
		if ((m->flags & ZD_MIGRATE_VMA_SELECT_COMPOUND) &&
		    zd_hmm_collect_compound(m, i)) {
			i += ZD_HMM_FOLIO_PAGES - 1;
			continue;
		}
		/* a page of a large folio goes alone: split first */
		if (m->flags & ZD_MIGRATE_VMA_SELECT_DEVICE_PRIVATE)
			zd_hmm_split_at(m->mm, a, m->fault_page, m->pgmap_owner);
		m->src[i] = collect(m, zd_hmm_pte(m->mm, a), a);
		m->cpages += m->src[i] != 0;
	}
	pthread_mutex_unlock(&m->mm->lock);
	zd_hmm_split_put(m->mm);
	zd_fault_point("hmm.migrate.setup");
	/* mirrors let go before anything moves or is write-protected */
	zd_mn_notify(m->mm, ZD_MMU_NOTIFY_MIGRATE, m->start, m->end, m->pgmap_owner);
	/* a stable snapshot for the driver's copy */
#define host_src(i)	((m->src[i] & (ZD_MIGRATE_PFN_SYSTEM | ZD_MIGRATE_PFN_COMPOUND)) == \
			 ZD_MIGRATE_PFN_SYSTEM)
	for_each_run(m->npages, host_src,
		hmm_writeprotect(m->mm, m->start + (run_first << zd_page_shift),
				 run_len << zd_page_shift, 1));
	/* and of coherent pages, which the CPU writes in place (Linux 5.19
	 * write-protects shared memory: they are not mapped before) */
#define coh_src(i)	zd_hmm_coh_page(entry_page(m->src[i], false))
	for_each_run(m->npages, coh_src,
		hmm_writeprotect(m->mm, m->start + (run_first << zd_page_shift),
				 run_len << zd_page_shift, 1));
	zd_hmm_compound_wp(m, 1);
	if (!m->cpages)		/* drivers skip the finalize then */
		gate_leave(m);
	return 0;
}

/* A collected host page still in place (not taken yet)? */
static bool host_in_place(unsigned long s)
{
	return (s & (ZD_MIGRATE_PFN_SYSTEM | ZD_MIGRATE_PFN_MIGRATE |
		     ZD_MIGRATE_PFN_DONATE | MPFN_COLLECTED)) ==
	       (ZD_MIGRATE_PFN_SYSTEM | ZD_MIGRATE_PFN_MIGRATE | MPFN_COLLECTED);
}

/* Pages [i, i + n) now live at @to: say so in their src entries. */
static void taken(struct zd_migrate_vma *m, unsigned long i, unsigned long n,
		  char *to)
{
	const unsigned long flags = (1ul << ZD_MIGRATE_PFN_SHIFT) - 1;

	for (unsigned long k = 0; k < n; k++)
		m->src[i + k] = zd_migrate_virt(to + (k << zd_page_shift)) |
				(m->src[i + k] & flags) | ZD_MIGRATE_PFN_DONATE;
	atomic_fetch_add(&m->mm->stats.pages_moved, n);
}

/* Set or clear PTE_TAKEN on pages [i, i + n); lock held. */
static void mark_taken(struct zd_migrate_vma *m, unsigned long i,
		       unsigned long n, bool on)
{
	for (unsigned long k = i; k < i + n; k++) {
		uintptr_t *pte = zd_hmm_pte(m->mm, m->start + (k << zd_page_shift));

		if (pte && *pte != PTE_DEAD)
			*pte = on ? *pte | PTE_TAKEN : *pte & ~PTE_TAKEN;
	}
}

/*
 * Whether pages [i, i + n) are collected host pages that no move took
 * yet: a moved one names its new address (DONATE), a copied one is
 * PTE_TAKEN in its entry.
 */
static bool can_take(struct zd_migrate_vma *m, unsigned long i, unsigned long n)
{
	bool ok = true;

	for (unsigned long k = i; ok && k < i + n; k++)
		ok = host_in_place(m->src[k]);
	pthread_mutex_lock(&m->mm->lock);
	for (unsigned long k = i; ok && k < i + n; k++) {
		uintptr_t *pte = zd_hmm_pte(m->mm, m->start + (k << zd_page_shift));

		ok = !pte || *pte == PTE_DEAD || !(*pte & PTE_TAKEN);
	}
	pthread_mutex_unlock(&m->mm->lock);
	return ok;
}

/* Pages [i, i + n) that still migrate were copied: taken as well, so
 * that no second move takes them (finalize clears it). */
static void mark_copied(struct zd_migrate_vma *m, unsigned long i,
			unsigned long n)
{
	pthread_mutex_lock(&m->mm->lock);
	for (unsigned long k = i; k < i + n; k++) {
		uintptr_t *pte = zd_hmm_pte(m->mm, m->start + (k << zd_page_shift));

		if (pte && *pte != PTE_DEAD && (m->src[k] & ZD_MIGRATE_PFN_MIGRATE))
			*pte |= PTE_TAKEN;
	}
	pthread_mutex_unlock(&m->mm->lock);
}

/* The copy of pages [i, i + n) to @to failed: the application unmapped
 * some of them.  Those do not migrate; the others are copied. */
static void copy_or_drop(struct zd_migrate_vma *m, unsigned long i,
			 unsigned long n, char *to)
{
	for (unsigned long k = 0; k < n; k++) {
		char *from = (char *)m->start + ((i + k) << zd_page_shift);

		if (zd_os_peek(to + (k << zd_page_shift), from, page_bytes()))
			m->src[i + k] &= ~ZD_MIGRATE_PFN_MIGRATE;
		else
			atomic_fetch_add(&m->mm->stats.pages_copied, 1);
	}
}

/* Whether page @k's entry is dead (see PTE_DEAD); lock held. */
static bool page_dead(struct zd_migrate_vma *m, unsigned long k)
{
	uintptr_t *pte = zd_hmm_pte(m->mm, m->start + (k << zd_page_shift));

	return pte && *pte == PTE_DEAD;
}

/*
 * Move pages [i, i + n), none dead, to @to; what the kernel will not
 * move is copied.  Called with the lock held, released before the copy:
 * a fault reading the copy's source needs it.
 */
static void move_run(struct zd_migrate_vma *m, unsigned long i,
		     unsigned long n, char *to)
{
	int fd = zd_hmm_staging_fd();
	char *from = (char *)m->start + (i << zd_page_shift);
	size_t len = n << zd_page_shift, off = 0;
	bool cleared = false;

	/* before they go: a fault on them must wait, not zero-fill */
	mark_taken(m, i, n, true);
	while (fd >= 0 && off < len && !zd_fault("hmm.move")) {
		size_t done;
		int err = zd_os_uffd_move(fd, to + off, from + off, len - off, 0,
					  &done);

		/* a page copied home from there (its move refused) left
		 * its bytes: these pages replace them, in one flush */
		if (err == -EEXIST && !done && !cleared) {
			cleared = !zd_os_discard(to + off, len - off);
			if (cleared)
				continue;
		}
		if (!err)
			done = len - off;
		taken(m, i + (off >> zd_page_shift), done >> zd_page_shift, to + off);
		off += done;
		if (err && (err != -EAGAIN || !done))
			break;		/* not staging memory, shared page, ... */
	}
	/* the rest is copied (the snapshot is write-protected); a page the
	 * kernel reclaimed reads as zeros through a fault, as before, which
	 * a taken page would not get */
	mark_taken(m, i + (off >> zd_page_shift), (len - off) >> zd_page_shift, false);
	pthread_mutex_unlock(&m->mm->lock);
	if (off < len && zd_os_peek(to + off, from + off, len - off))
		copy_or_drop(m, i + (off >> zd_page_shift), (len - off) >> zd_page_shift,
			     to + off);
	else
		atomic_fetch_add(&m->mm->stats.pages_copied,
				 (len - off) >> zd_page_shift);
	if (off < len)
		mark_copied(m, i + (off >> zd_page_shift), (len - off) >> zd_page_shift);
}

static int move_pages(struct zd_migrate_vma *m, unsigned long i,
		      unsigned long n, void *to)
{
	bool ok;

	ok = n && i < m->npages && n <= m->npages - i && to &&
	     !((uintptr_t)to & (page_bytes() - 1)) && can_take(m, i, n);
	if (ok) {	/* a fault there would wait for this very move */
		pthread_mutex_lock(&m->mm->lock);
		ok = !zd_hmm_overlaps(m->mm, (uintptr_t)to,
				      (uintptr_t)to + (n << zd_page_shift));
		pthread_mutex_unlock(&m->mm->lock);
	}
	if (!ok) {
		zd_warn("bad move: pages [%lu, +%lu) of %lu to %p (collected host "
			"pages, not taken yet, to page-aligned memory the mm "
			"does not manage)", i, n, m->npages, to);
		return -EINVAL;
	}
	zd_fault_point("hmm.migrate.move");
	/*
	 * A page the application unmapped is not the buffer's any more: a
	 * new mapping may be there, whose pages nothing would give back.
	 * Which are gone is known once the events read so far are handled,
	 * and stays so while the lock is held: no other unmap event is read
	 * meanwhile, so no munmap() returns.  So the lock is held across the
	 * move (which never faults); dead pages neither move nor are copied.
	 */
	for (unsigned long k = i, e; k < i + n; k = e) {
		bool dead;

		pthread_mutex_lock(&m->mm->lock);
		zd_hmm_wait_idle(m->mm);
		dead = page_dead(m, k);
		for (e = k + 1; e < i + n && page_dead(m, e) == dead; e++)
			;
		if (!dead) {
			move_run(m, k, e - k, (char *)to + ((k - i) << zd_page_shift));
			continue;
		}
		pthread_mutex_unlock(&m->mm->lock);
		for (unsigned long j = k; j < e; j++)
			m->src[j] &= ~ZD_MIGRATE_PFN_MIGRATE;
	}
	return 0;
}

int zd_migrate_vma_move(struct zd_migrate_vma *m, unsigned long i,
			unsigned long n, void *to)
{
	if (migrate_bad(m))
		return -EINVAL;
	for (unsigned long k = i; k < m->npages && k - i < n; k++)
		if (m->src[k] & ZD_MIGRATE_PFN_COMPOUND)
			return zd_hmm_compound_move(m, i, n, to, move_pages);
	return move_pages(m, i, n, to);
}

/* A busy entry's page is home: a host entry now, and a device page less
 * in the mm (so that an unmap before finalize counts nothing twice). */
static void home(struct zd_mm *mm, uintptr_t *pte)
{
	if (pte_page(*pte))
		mm->device_pages--;
	pte_set(pte, PTE_HOST | PTE_BUSY);
}

/* Point the entry at a device page; false if @d is not one. */
static bool install_device(struct zd_migrate_vma *m, uintptr_t a, uintptr_t *pte,
			   unsigned long d)
{
	struct zd_page *page = entry_page(d, true);

	if (!pte || !page)
		return false;
	if (page_mm(page)) {	/* twice in dst, or mapped elsewhere */
		zd_warn("dst %#lx: device page already mapped at %#lx: not "
			"installed", d, page->index << zd_page_shift);
		return false;
	}
	if (zd_hmm_coh_page(page) && !zd_hmm_coh_mappable(page)) {
		zd_warn("device-coherent page %#lx: its pgmap has no "
			"ZD_BACKING_FD backing to map it from",
			zd_page_to_pfn(page));
		return false;
	}
	if (zd_hmm_coh_page(page) && zd_hmm_device_coherent_supported()) {
		zd_warn("device-coherent page %#lx: this kernel cannot map it "
			"(see zd_hmm_device_coherent_supported())",
			zd_page_to_pfn(page));
		return false;
	}
	set_page_mm(page, m->mm);
	page->index = a >> zd_page_shift;
	pte_set(pte, (uintptr_t)page | PTE_DEVICE | PTE_BUSY |
		(d & ZD_MIGRATE_PFN_WRITE ? PTE_WRITE : 0));
	m->mm->device_pages++;
	return true;
}

static bool to_system(const struct zd_migrate_vma *m, unsigned long i)
{
	return (m->src[i] & (ZD_MIGRATE_PFN_MIGRATE | ZD_MIGRATE_PFN_COMPOUND)) ==
	       ZD_MIGRATE_PFN_MIGRATE &&
	       (m->dst[i] & ZD_MIGRATE_PFN_SYSTEM) && (m->dst[i] & ZD_MIGRATE_PFN_VALID);
}

/* Where one page coming back goes, and where its bytes are staged. */
struct place {
	struct zd_mm *mm;
	uintptr_t addr;
	char *stage;
	bool donate;			/* the staging page may be moved */
};

/* Fills *@p for page @i of a batch; false if it is not coming back. */
typedef bool place_fn(void *ctx, unsigned long i, struct place *p);

static bool place_follows(const struct place *p, const struct place *q,
			  unsigned long k)
{
	return q->mm == p->mm && q->donate == p->donate &&
	       q->addr == p->addr + (k << zd_page_shift) &&
	       q->stage == p->stage + (k << zd_page_shift);
}

struct run_failed {
	unsigned long *src;
	uintptr_t addr;			/* of page 0 of the batch */
};

static void run_failed(void *ctx, uintptr_t addr)
{
	struct run_failed *f = ctx;

	f->src[(addr - f->addr) >> zd_page_shift] &= ~ZD_MIGRATE_PFN_MIGRATE;
}

/*
 * Put the pages coming back into place, a run at a time: a run's
 * addresses and staging pages both step by one page.  MIGRATE is cleared
 * in @src where a page cannot be placed.  The pages are busy: no lock is
 * held, since the fault thread needs it to read the events in the way.
 */
static void copy_runs(unsigned long *src, unsigned long n, place_fn *at,
		      void *ctx)
{
	struct place p, q;

	for (unsigned long i = 0, j; i < n; i = j) {
		j = i + 1;
		if (!at(ctx, i, &p))
			continue;
		while (j < n && at(ctx, j, &q) && place_follows(&p, &q, j - i))
			j++;
		zd__hmm_fill(p.mm, p.addr, p.stage, (j - i) << zd_page_shift,
			     p.donate, run_failed, &(struct run_failed){
				     src, p.addr - (i << zd_page_shift) });
	}
}

static bool vma_place(void *ctx, unsigned long i, struct place *p)
{
	const struct zd_migrate_vma *m = ctx;

	if (!to_system(m, i) || coh_src(i))	/* see coh_home() */
		return false;
	*p = (struct place){ m->mm, m->start + (i << zd_page_shift),
			     zd_migrate_pfn_to_virt(m->dst[i]),
			     m->dst[i] & ZD_MIGRATE_PFN_DONATE };
	return true;
}

/*
 * The application unmapped part of a run while it was being dropped:
 * the kernel may have stopped at the hole (failing, or not: it walks on
 * from the mapping it found after its remove event, which may end
 * early), leaving host pages in place under device entries, two copies.
 * Drop each page that is still there and ours on its own; the entries
 * are busy, so a repeated remove event is harmless, and each drop
 * expects its own (PTE_DISCARD).  @vec: which are resident, or NULL.
 */
static void discard_pages(struct zd_mm *mm, uintptr_t a, size_t len,
			  const unsigned char *vec)
{
	for (uintptr_t p = a; p < a + len; p += page_bytes()) {
		uintptr_t *pte;
		bool ours;

		if (vec && !(vec[(p - a) >> zd_page_shift] & 1))
			continue;

		pthread_mutex_lock(&mm->lock);
		pte = zd_hmm_pte(mm, p);
		ours = pte && *pte != PTE_DEAD && pte_page(*pte);
		if (ours)
			*pte |= PTE_DISCARD;
		pthread_mutex_unlock(&mm->lock);
		if (!ours || !zd_os_discard((void *)p, page_bytes()))
			continue;
		pthread_mutex_lock(&mm->lock);	/* unmapped: no event comes */
		pte = zd_hmm_pte(mm, p);
		if (pte)
			*pte &= ~PTE_DISCARD;
		pthread_mutex_unlock(&mm->lock);
	}
}

/*
 * Drop host pages that moved; their remove event is ours (PTE_DISCARD),
 * unless there is none because the discard failed.  -ENOMEM: the
 * application unmapped some of them meanwhile.
 */
static void discard(struct zd_mm *mm, uintptr_t a, size_t len)
{
	size_t gone = zd_hmm_drop_host_pages(mm, a, len);
	unsigned char vec[512];		/* a batch's pages */
	size_t n = (len - gone) >> zd_page_shift;
	int err;

	if (gone == len)
		return;
	/* the old way, for what UFFDIO_MOVE could not take: an application
	 * that unmaps and maps anew here meanwhile loses what it wrote */
	a += gone;
	len -= gone;
	err = zd_os_discard((void *)a, len);

	if (!err && n <= sizeof(vec) && !zd_os_resident((void *)a, len, vec)) {
		for (size_t i = 0; i < n; i++)
			if (vec[i] & 1) {	/* one stayed: see discard_pages() */
				discard_pages(mm, a, len, vec);
				break;
			}
		return;
	}
	if (!err)
		return;
	if (err == -ENOMEM) {
		discard_pages(mm, a, len, NULL);
		return;
	}
	zd_warn("MADV_DONTNEED of [%#lx, +%#zx) failed: the host copy stays",
		(unsigned long)a, len);
	pthread_mutex_lock(&mm->lock);
	for (uintptr_t p = a; p < a + len; p += page_bytes()) {
		uintptr_t *pte = zd_hmm_pte(mm, p);

		if (pte)
			*pte &= ~PTE_DISCARD;
	}
	pthread_mutex_unlock(&mm->lock);
}

void zd__hmm_discard(struct zd_mm *mm, uintptr_t a, size_t len)
{
	discard(mm, a, len);
}

/* A host page going to a device, still in the kernel's page table */
#define host_left(i)	((m->src[i] & (ZD_MIGRATE_PFN_SYSTEM | ZD_MIGRATE_PFN_MIGRATE | \
				       ZD_MIGRATE_PFN_DONATE | ZD_MIGRATE_PFN_COMPOUND)) == \
			 (ZD_MIGRATE_PFN_SYSTEM | ZD_MIGRATE_PFN_MIGRATE))

/*
 * Whether every entry that names a page was collected by setup; else the
 * caller skipped setup, or finalize ran already (it clears the bit).
 */
static bool collected(const unsigned long *src, unsigned long npages,
		      const char *fn)
{
	for (unsigned long i = 0; i < npages; i++)
		if ((src[i] & (ZD_MIGRATE_PFN_VALID | ZD_MIGRATE_PFN_MIGRATE)) &&
		    !(src[i] & MPFN_COLLECTED)) {
			zd_warn("%s: src[%lu] %#lx was not collected by "
				"zd_migrate_vma_setup() or zd_migrate_device_range() "
				"(no setup, or finalized already): nothing done",
				fn, i, src[i]);
			return false;
		}
	return true;
}

/* A page that moves to a device-coherent page */
static bool coh_dst(const struct zd_migrate_vma *m, unsigned long i)
{
	return (m->src[i] & ZD_MIGRATE_PFN_MIGRATE) && !to_system(m, i) &&
	       zd_hmm_coh_page(entry_page(m->dst[i], false));
}

/* Map the coherent pages installed, a batch of entries at a time. */
static void map_coherent(struct zd_migrate_vma *m)
{
	struct zd_page *pages[64];

	for (unsigned long i = 0; i < m->npages; i += 64) {
		unsigned long k = m->npages - i < 64 ? m->npages - i : 64;
		bool any = false;

		for (unsigned long j = 0; j < k; j++) {
			pages[j] = coh_dst(m, i + j) ?
				   entry_page(m->dst[i + j], false) : NULL;
			any |= pages[j] != NULL;
		}
		if (any)
			zd_hmm_coh_map(m->mm, m->start + (i << zd_page_shift),
				       pages, k, m->src + i);
	}
}

/*
 * Coherent pages coming home: private memory with the staging bytes
 * replaces their mapping, a run of consecutive staging pages at a time.
 * MIGRATE leaves @src[i] where that fails.
 */
static void coh_home(struct zd_mm *mm, uintptr_t start, unsigned long *src,
		     const unsigned long *dst, unsigned long n)
{
	char *from[64];

	for (unsigned long i = 0, j; i < n; i = j) {
		j = i + 1;
		if (!(src[i] & ZD_MIGRATE_PFN_MIGRATE) ||
		    !zd_hmm_coh_page(entry_page(src[i], false)) ||
		    !zd_migrate_pfn_to_virt(dst[i]))
			continue;
		from[0] = zd_migrate_pfn_to_virt(dst[i]);
		while (j < n && j - i < 64 && (src[j] & ZD_MIGRATE_PFN_MIGRATE) &&
		       zd_hmm_coh_page(entry_page(src[j], false)) &&
		       zd_migrate_pfn_to_virt(dst[j]))
			from[j - i] = zd_migrate_pfn_to_virt(dst[j]), j++;
		if (zd_hmm_coh_place(mm, start + (i << zd_page_shift), j - i, from))
			for (unsigned long k = i; k < j; k++)
				src[k] &= ~ZD_MIGRATE_PFN_MIGRATE;
	}
}

/*
 * Whether the page moved: not the MIGRATE bit alone, because a driver
 * that gives up calls finalize without pages(), and then the entry still
 * names the source page; lock held.
 */
static bool moved(const uintptr_t *pte, unsigned long s, unsigned long d)
{
	struct zd_page *sp = entry_page(s, false), *dp = entry_page(d, false);

	if (!(s & ZD_MIGRATE_PFN_MIGRATE) || !pte)
		return s & ZD_MIGRATE_PFN_MIGRATE;
	if (sp)
		return pte_page(*pte) != sp;
	return !dp || pte_page(*pte) == dp;
}

/* Whether pages() ran for @m already: an entry names its device
 * destination, or no longer names its device source. */
static bool pages_ran(struct zd_migrate_vma *m)
{
	bool ran = false;

	pthread_mutex_lock(&m->mm->lock);
	for (unsigned long i = 0; i < m->npages && !ran; i++) {
		uintptr_t *pte = zd_hmm_pte(m->mm, m->start + (i << zd_page_shift));

		if (!pte || *pte == PTE_DEAD || !(m->dst[i] & ZD_MIGRATE_PFN_VALID))
			continue;
		/* a device page at one end: moved() can tell */
		ran = (entry_page(m->src[i], false) || entry_page(m->dst[i], false)) &&
		      moved(pte, m->src[i], m->dst[i]);
	}
	pthread_mutex_unlock(&m->mm->lock);
	return ran;
}

void zd_migrate_vma_pages(struct zd_migrate_vma *m)
{
	if (migrate_bad(m) || !collected(m->src, m->npages, __func__))
		return;
	if (pages_ran(m)) {
		zd_warn("zd_migrate_vma_pages: called twice for one setup: "
			"nothing done");
		return;
	}
	zd_fault_point("hmm.migrate.pages");
	zd_hmm_compound_pages(m);
	coh_home(m->mm, m->start, m->src, m->dst, m->npages);
	copy_runs(m->src, m->npages, vma_place, m);
	pthread_mutex_lock(&m->mm->lock);
	for (unsigned long i = 0; i < m->npages; i++) {
		uintptr_t a = m->start + (i << zd_page_shift);
		uintptr_t *pte = zd_hmm_pte(m->mm, a);

		if (!(m->src[i] & ZD_MIGRATE_PFN_MIGRATE) ||
		    (m->src[i] & ZD_MIGRATE_PFN_COMPOUND))	/* done */
			continue;
		if (pte && *pte == PTE_DEAD)	/* unmapped meanwhile */
			m->src[i] &= ~ZD_MIGRATE_PFN_MIGRATE;
		else if (to_system(m, i) && pte)
			home(m->mm, pte);
		else if (!install_device(m, a, pte, m->dst[i]))
			m->src[i] &= ~ZD_MIGRATE_PFN_MIGRATE;
		else if (host_left(i) && !coh_dst(m, i))
			*pte |= PTE_DISCARD;
	}
	pthread_mutex_unlock(&m->mm->lock);
	zd_fault_point("hmm.migrate.discard");
	/* host pages that went to a device leave the kernel's page table
	 * (those the driver took have left already); a coherent page's
	 * mapping replaces them */
#define private_left(i)	(host_left(i) && !coh_dst(m, i))
	for_each_run(m->npages, private_left,
		discard(m->mm, m->start + (run_first << zd_page_shift),
			run_len << zd_page_shift));
	map_coherent(m);
}

/*
 * After the move: what the page's entry and the old/new pages become.
 * Stores the device pages to put in @put (up to two) and returns how
 * many; lock held.  An entry the application unmapped meanwhile goes, and
 * with it every device page of the move (its count left the mm then).
 */
static int finish(struct zd_mm *mm, uintptr_t *pte, unsigned long s,
		  unsigned long d, struct zd_page *put[2])
{
	bool moved_ = moved(pte, s, d);
	int n = 0;

	if (pte && *pte == PTE_DEAD) {
		*pte = PTE_NONE;
		put[n] = entry_page(s, false);
		n += put[n] != NULL;
		put[n] = entry_page(d, false);
		n += put[n] != NULL;
	} else {
		/* no remove event of ours is left (see finalize) */
		if (pte)
			*pte &= ~(PTE_BUSY | PTE_DISCARD |
				  (*pte & PTE_DEVICE ? 0 : PTE_TAKEN));
		/* what is left over (a device page that moved left the count
		 * when its entry became a host one: see home()) */
		put[n] = entry_page(moved_ ? s : d, false);
		n += put[n] != NULL;
	}
	for (int k = 0; k < n; k++)
		set_page_mm(put[k], NULL);
	return n;
}

static void put_pages(struct zd_page **put, int n)
{
	for (int k = 0; k < n; k++)
		zd_put_page(put[k]);
}

static void restore_failed(void *ctx, uintptr_t addr)
{
	struct zd_mm *mm = ctx;
	uintptr_t *pte;
	bool gone;

	pthread_mutex_lock(&mm->lock);
	pte = zd_hmm_pte(mm, addr);
	gone = !pte || *pte == PTE_DEAD;
	pthread_mutex_unlock(&mm->lock);
	if (!gone)
		zd_warn("cannot put back the page at %#lx the driver took: its "
			"bytes stay in the driver's memory", (unsigned long)addr);
}

void zd_migrate_vma_finalize(struct zd_migrate_vma *m)
{
	bool trim = false, in_flight = false;

	if (migrate_bad(m) || !collected(m->src, m->npages, __func__))
		return;
	/* without a destination nothing moved: a driver that gives up calls
	 * finalize without pages() (the kernel's rule) */
	for (unsigned long i = 0; i < m->npages; i++)
		if (!(m->dst[i] & ZD_MIGRATE_PFN_VALID))
			m->src[i] &= ~ZD_MIGRATE_PFN_MIGRATE;
	/* pages the driver took but did not migrate go back first */
	for (unsigned long i = 0; i < m->npages; i++)
		if ((m->src[i] & (ZD_MIGRATE_PFN_DONATE | ZD_MIGRATE_PFN_MIGRATE)) ==
		    ZD_MIGRATE_PFN_DONATE)
			zd__hmm_fill(m->mm, m->start + (i << zd_page_shift),
				     zd_migrate_pfn_to_virt(m->src[i]),
				     mpfn_bytes(m->src[i]), true, restore_failed, m->mm);
	/* coherent pages that stay become writable again */
#define coh_stayed(i)	((m->src[i] & (MPFN_COLLECTED | ZD_MIGRATE_PFN_MIGRATE)) == \
			 MPFN_COLLECTED && coh_src(i))
	for_each_run(m->npages, coh_stayed,
		zd_hmm_coh_restore(m->mm, m->start + (run_first << zd_page_shift),
				   run_len << zd_page_shift));
	/*
	 * Host pages that stayed become writable again (this wakes too).
	 * Before their entries stop being busy: once the dead ones are
	 * cleared, a new mapping there may be registered and migrated, and
	 * this must not make its pages writable under that migration.
	 */
#define host_stayed(i)	((m->src[i] & (ZD_MIGRATE_PFN_SYSTEM | ZD_MIGRATE_PFN_MIGRATE | \
				       ZD_MIGRATE_PFN_COMPOUND)) == ZD_MIGRATE_PFN_SYSTEM)
	for_each_run(m->npages, host_stayed,
		hmm_writeprotect(m->mm, m->start + (run_first << zd_page_shift),
				 run_len << zd_page_shift, 0));
	zd_hmm_compound_wp(m, 0);
	pthread_mutex_lock(&m->mm->lock);
	/*
	 * The MADV_DONTNEED of pages() returned once its remove events were
	 * read, not handled, and there may be more than one: the first
	 * clears PTE_DISCARD, but where the mapping was split meanwhile the
	 * kernel sends the rest of the run again.  Handled while the entries
	 * are busy, a repeat changes nothing; handled after, it would drop
	 * the device pages just installed, and their bytes with them.
	 */
	zd_hmm_wait_drained(m->mm);
	for (unsigned long i = 0; i < m->npages; i++) {
		uintptr_t a = m->start + (i << zd_page_shift), *pte;
		struct zd_page *put[2];
		int n;

		if (!(m->src[i] & MPFN_COLLECTED))
			continue;
		if (m->src[i] & ZD_MIGRATE_PFN_COMPOUND) {
			trim |= zd_hmm_compound_finish(m, i);
			continue;
		}
		pte = zd_hmm_pte(m->mm, a);
		trim |= pte && *pte == PTE_DEAD;
		n = finish(m->mm, pte, m->src[i], m->dst[i], put);
		if (n) {
			pthread_mutex_unlock(&m->mm->lock);
			put_pages(put, n);
			pthread_mutex_lock(&m->mm->lock);
		}
	}
	if (trim)
		zd_hmm_trim(m->mm, m->start, m->end);
	pthread_mutex_unlock(&m->mm->lock);
	zd_fault_point("hmm.migrate.finalize");
	zd_os_uffd_wake(m->mm->uffd, (void *)m->start, m->end - m->start);
	/* done: a second finalize finds nothing collected */
	for (unsigned long i = 0; i < m->npages; i++) {
		in_flight |= m->src[i] & MPFN_COLLECTED;
		m->src[i] &= ~MPFN_COLLECTED;
	}
	if (in_flight)
		gate_leave(m);
}

/* ---- by device pfn, wherever mapped (unplug) ---------------------------- */

int zd_migrate_device_range(unsigned long *src, unsigned long start,
			    unsigned long npages)
{
	if (ZD_WARN_ON(!src, "NULL src_pfns"))
		return -EINVAL;
	for (unsigned long i = 0; i < npages; i++)
		if (!zd_pfn_valid(start + i)) {
			zd_warn("pfn %#lx has no struct page", start + i);
			return -EINVAL;
		} else if (!zd_is_device_private_page(zd_pfn_to_page(start + i)) &&
			   !zd_hmm_coh_page(zd_pfn_to_page(start + i))) {
			zd_warn("pfn %#lx is not a device-private page (nor a "
				"device-coherent one)", start + i);
			return -EINVAL;
		}
	for (unsigned long i = 0; i < npages; i++) {
		struct zd_page *page = zd_pfn_to_page(start + i);
		struct zd_mm *mm = page_mm(page);
		uintptr_t *pte;

		src[i] = 0;
		if (!mm)
			continue;
		pthread_mutex_lock(&mm->lock);
		zd_hmm_split_at(mm, page->index << zd_page_shift, NULL, NULL);
		pte = zd_hmm_pte(mm, page->index << zd_page_shift);
		if (pte && pte_page(*pte) == page && !(*pte & PTE_BUSY) &&
		    !zd_hmm_folio_split(mm, page, NULL, false)) {
			src[i] = zd_migrate_pfn(start + i) | ZD_MIGRATE_PFN_MIGRATE |
				 MPFN_COLLECTED | (*pte & PTE_WRITE ? ZD_MIGRATE_PFN_WRITE : 0);
			*pte |= PTE_BUSY;
		}
		pthread_mutex_unlock(&mm->lock);
		if (src[i])	/* as the kernel's unmap of a page to migrate */
			zd_mn_notify(mm, ZD_MMU_NOTIFY_CLEAR, page->index << zd_page_shift,
				     (page->index + 1) << zd_page_shift, NULL);
		if (src[i] && zd_hmm_coh_page(page))	/* see setup */
			hmm_writeprotect(mm, page->index << zd_page_shift,
					 page_bytes(), 1);
		zd_hmm_split_put(mm);
	}
	return 0;
}

struct device_batch {
	const unsigned long *src, *dst;
};

static bool device_place(void *ctx, unsigned long i, struct place *p);

/* Copied home: not a coherent page (see coh_home()). */
static bool device_copy(void *ctx, unsigned long i, struct place *p)
{
	const struct device_batch *b = ctx;

	return !zd_hmm_coh_page(entry_page(b->src[i], false)) &&
	       device_place(ctx, i, p);
}

static bool device_place(void *ctx, unsigned long i, struct place *p)
{
	const struct device_batch *b = ctx;
	struct zd_page *page = entry_page(b->src[i], false);

	if (!(b->src[i] & ZD_MIGRATE_PFN_MIGRATE) || !page || !page_mm(page))
		return false;
	*p = (struct place){ page_mm(page), page->index << zd_page_shift,
			     zd_migrate_pfn_to_virt(b->dst[i]),
			     b->dst[i] & ZD_MIGRATE_PFN_DONATE };
	return true;
}

void zd_migrate_device_pages(unsigned long *src, unsigned long *dst,
			     unsigned long npages)
{
	struct device_batch b = { src, dst };

	if (!src || !dst) {
		zd_warn("NULL src_pfns or dst_pfns");
		return;
	}
	if (!collected(src, npages, __func__))
		return;
	/* a device page has no device page to go to here */
	for (unsigned long i = 0; i < npages; i++)
		if (!(dst[i] & ZD_MIGRATE_PFN_SYSTEM))
			src[i] &= ~ZD_MIGRATE_PFN_MIGRATE;
	for (unsigned long i = 0; i < npages; i++) {
		struct zd_page *page = entry_page(src[i], false);

		if ((src[i] & ZD_MIGRATE_PFN_MIGRATE) && zd_hmm_coh_page(page) &&
		    page_mm(page))
			coh_home(page_mm(page), page->index << zd_page_shift,
				 &src[i], &dst[i], 1);
	}
	copy_runs(src, npages, device_copy, &b);
	for (unsigned long i = 0; i < npages; i++) {
		struct place p;
		uintptr_t *pte;

		if (!device_place(&b, i, &p))
			continue;
		pthread_mutex_lock(&p.mm->lock);
		pte = zd_hmm_pte(p.mm, p.addr);
		if (pte && *pte != PTE_DEAD)
			home(p.mm, pte);
		else		/* unmapped meanwhile */
			src[i] &= ~ZD_MIGRATE_PFN_MIGRATE;
		pthread_mutex_unlock(&p.mm->lock);
	}
}

void zd_migrate_device_finalize(unsigned long *src, unsigned long *dst,
				unsigned long npages)
{
	struct zd_mm *wake_mm = NULL;
	uintptr_t wake_start = 0, wake_end = 0;

	if (!src || !dst) {
		zd_warn("NULL src_pfns or dst_pfns");
		return;
	}
	if (!collected(src, npages, __func__))
		return;
	for (unsigned long i = 0; i < npages; i++) {
		struct zd_page *page = entry_page(src[i], false), *put[2];
		struct zd_mm *mm = page ? page_mm(page) : NULL;
		uintptr_t a = page ? page->index << zd_page_shift : 0, *pte;
		bool dead;
		int n;

		if (!(src[i] & MPFN_COLLECTED) || !mm)
			continue;
		if (!(src[i] & ZD_MIGRATE_PFN_MIGRATE) && zd_hmm_coh_page(page))
			zd_hmm_coh_restore(mm, a, page_bytes());
		pthread_mutex_lock(&mm->lock);
		pte = zd_hmm_pte(mm, a);
		dead = pte && *pte == PTE_DEAD;
		n = finish(mm, pte, src[i], dst[i], put);
		if (dead)
			zd_hmm_trim(mm, a, a + page_bytes());
		pthread_mutex_unlock(&mm->lock);
		put_pages(put, n);
		/* one wake per run of neighbouring pages */
		if (mm == wake_mm && a == wake_end) {
			wake_end += page_bytes();
			continue;
		}
		if (wake_mm)
			zd_os_uffd_wake(wake_mm->uffd, (void *)wake_start,
					wake_end - wake_start);
		wake_mm = mm;
		wake_start = a;
		wake_end = a + page_bytes();
	}
	if (wake_mm)
		zd_os_uffd_wake(wake_mm->uffd, (void *)wake_start,
				wake_end - wake_start);
}
