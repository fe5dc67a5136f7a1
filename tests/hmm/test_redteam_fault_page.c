// SPDX-License-Identifier: MIT
/*
 * Red-team of the inferred .fault_page (a migrate_to_ram() whose setup
 * leaves it NULL) and of the -EBUSY refusal of a second setup with the
 * src array of a migration in flight.  A small driver of its own
 * (device-private memory without bytes: a page coming home is filled
 * with 'A' + its index) whose migrate_to_ram() does what each scenario
 * says.  Each scenario runs in a child with an alarm, so a fault that
 * loops for ever fails the test instead of hanging the run; the driver
 * also turns correct after MAX_CALLS calls, so the failure is a count.
 * The comment above each test says what the bug is, or, for those
 * marked HOLDS, what was tried and held.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../test_util.h"
#include "in_child.h"

#define NO_HMM "no HMM here"

#define NPAGES		4
#define MAX_CALLS	20
#define FOLIO		(ZD_HMM_FOLIO_PAGES * PG)

static size_t PG;
static int owner;			/* the driver's pgmap_owner */

/* ---- the driver ---------------------------------------------------------- */

enum mode {
	M_GOOD,			/* .fault_page set, arrays of its own */
	M_STATIC_STRUCT,	/* one struct for every fault, .fault_page never set */
	M_WRONG_FAULT_PAGE,	/* .fault_page the other page of its range */
	M_HOME_THEN_CHUNK,	/* the page, then its whole chunk without it */
	M_WORKER,		/* setup on a worker thread, .fault_page NULL */
	M_BUSY_ARRAY,		/* first a setup with an array in flight */
	M_REUSE_ARRAY,		/* one src/dst array for every fault, finalized */
	M_NESTED,		/* a mirror read of another mm's device page
				 * first (its migrate_to_ram on this thread),
				 * each without .fault_page */
	M_DEVICE_RANGE,		/* every page of the device home by pfn (a
				 * driver's release), the faulting one too */
	M_HANDOFF,		/* setup here without .fault_page, pages and
				 * finalize on another thread */
	M_FOLIO,		/* the whole 2 MiB run, SELECT_COMPOUND, without
				 * .fault_page */
};

static enum mode mode;
static atomic_int calls, returned;
static struct zd_dev_pagemap *pgmap;	/* a new one per scenario */
/* released after the globals a scenario sets for the driver, acquired
 * by the driver: a fault hands nothing over that TSan sees */
static atomic_int epoch;
static struct zd_resource *res;
static unsigned long pfn0;
static char *buf, *buf2;
static struct zd_mm *mm, *mm2;
static struct zd_mmu_interval_notifier sub2;	/* M_NESTED: on mm2 */
static unsigned long busy_src[NPAGES];	/* M_BUSY_ARRAY: in flight */
static int busy_err;
static struct zd_page *busy_fault_page;

static void drv_free(struct zd_page *page)
{
	(void)page;
}

static unsigned long idx_of(unsigned long addr)
{
	char *b = buf2 && addr >= (unsigned long)buf2 &&
		  addr < (unsigned long)buf2 + NPAGES * PG ? buf2 : buf;

	return (addr - (unsigned long)b) / PG;
}

static bool sub2_invalidate(struct zd_mmu_interval_notifier *sub,
			    const struct zd_mmu_notifier_range *range,
			    unsigned long cur_seq)
{
	(void)range;
	zd_mmu_interval_set_seq(sub, cur_seq);
	return true;
}

static const struct zd_mmu_interval_notifier_ops sub2_ops = {
	.invalidate = sub2_invalidate,
};

/* A mirror's read of mm2's first page, faulting it (another owner's
 * device page: its migrate_to_ram() runs here). */
static int mirror_read2(void)
{
	unsigned long pfn = 0;
	struct zd_hmm_range r = {
		.notifier = &sub2, .start = (unsigned long)buf2,
		.end = (unsigned long)buf2 + PG, .hmm_pfns = &pfn,
		.default_flags = ZD_HMM_PFN_REQ_FAULT,
	};
	int err;

	do {
		r.notifier_seq = zd_mmu_interval_read_begin(&sub2);
		pfn = 0;
		err = zd_hmm_range_fault(&r);
	} while (err == -EBUSY);
	return err;
}

/* Bring home what @m collected ('A' + index); 0, or -EIO. */
static int home(struct zd_migrate_vma *m)
{
	char *stage[NPAGES] = { 0 };

	for (unsigned long i = 0; i < m->npages; i++) {
		if (!(m->src[i] & ZD_MIGRATE_PFN_MIGRATE))
			continue;
		stage[i] = zd_alloc_system_page();
		if (!stage[i])
			return -EIO;
		memset(stage[i], 'A' + (int)idx_of(m->start + i * PG), PG);
		m->dst[i] = zd_migrate_virt(stage[i]);
	}
	zd_migrate_vma_pages(m);
	zd_migrate_vma_finalize(m);
	for (unsigned long i = 0; i < m->npages; i++)
		zd_free_system_page(stage[i]);
	return 0;
}

static int home_range(struct zd_mm *on, unsigned long start, unsigned long n,
		      struct zd_page *fault_page)
{
	unsigned long src[NPAGES], dst[NPAGES];
	struct zd_migrate_vma m = {
		.mm = on, .src = src, .dst = dst, .npages = n, .start = start,
		.end = start + n * PG, .pgmap_owner = &owner,
		.fault_page = fault_page,
		.flags = ZD_MIGRATE_VMA_SELECT_DEVICE_PRIVATE,
	};

	if (zd_migrate_vma_setup(&m))
		return -EIO;
	return home(&m);
}

/* M_FOLIO: bring home what a compound setup collected, page i of the
 * run holding 'A' + i % 26. */
static int fhome(struct zd_migrate_vma *m)
{
	char *stage = aligned_alloc(FOLIO, FOLIO);

	if (!stage)
		return -EIO;
	for (unsigned long i = 0; i < m->npages; i++) {
		bool c = m->src[i] & ZD_MIGRATE_PFN_COMPOUND;

		if (!(m->src[i] & ZD_MIGRATE_PFN_MIGRATE))
			continue;
		for (unsigned long k = 0; k < (c ? ZD_HMM_FOLIO_PAGES : 1); k++)
			memset(stage + (i + k) * PG, 'A' + (int)((i + k) % 26), PG);
		m->dst[i] = zd_migrate_virt(stage + i * PG) |
			    (c ? ZD_MIGRATE_PFN_COMPOUND : 0);
	}
	zd_migrate_vma_pages(m);
	zd_migrate_vma_finalize(m);
	free(stage);
	return 0;
}

static unsigned long *fsrc, *fdst;	/* M_FOLIO's, a run's worth */

static struct zd_migrate_vma worker_m;
static struct zd_page *handed_fault_page, *after_fault_page;

static void *finish_it(void *arg)
{
	struct zd_migrate_vma *m = arg;

	handed_fault_page = m->fault_page;
	return (void *)(intptr_t)home(m);
}

static void *worker(void *arg)
{
	(void)arg;
	return (void *)(intptr_t)(zd_migrate_vma_setup(&worker_m) ?:
				  home(&worker_m));
}

static int drv_migrate_to_ram_(struct zd_vm_fault *vmf)
{
	static struct zd_migrate_vma sm;
	static unsigned long ssrc[NPAGES], sdst[NPAGES];
	unsigned long src[NPAGES], dst[NPAGES];
	unsigned long i = idx_of(vmf->address), a = vmf->address;
	/* after MAX_CALLS, correct: a failure instead of a hang */
	bool fixed = atomic_fetch_add(&calls, 1) >= MAX_CALLS;
	struct zd_migrate_vma m = {
		.mm = vmf->mm, .src = src, .dst = dst, .npages = 1,
		.start = a, .end = a + PG, .pgmap_owner = &owner,
		.flags = ZD_MIGRATE_VMA_SELECT_DEVICE_PRIVATE,
	};
	pthread_t t;
	void *ret;

	if (fixed && mode != M_HOME_THEN_CHUNK && mode != M_FOLIO &&
	    mode != M_DEVICE_RANGE)
		return home_range(vmf->mm, a, 1, vmf->page);
	switch (mode) {
	case M_GOOD:
		return home_range(vmf->mm, a, 1, vmf->page);
	case M_STATIC_STRUCT:
		/* a driver that sets what it uses, once */
		if (!sm.mm)
			sm = (struct zd_migrate_vma){ .mm = vmf->mm, .src = ssrc,
				.dst = sdst, .npages = 1, .pgmap_owner = &owner,
				.flags = ZD_MIGRATE_VMA_SELECT_DEVICE_PRIVATE };
		sm.start = a;
		sm.end = a + PG;
		if (zd_migrate_vma_setup(&sm))
			return -EIO;
		return home(&sm);
	case M_WRONG_FAULT_PAGE:
		/* the pair [i & ~1, +2), .fault_page the other one */
		m.start = a - (i & 1) * PG;
		m.end = m.start + 2 * PG;
		m.npages = 2;
		m.fault_page = zd_pfn_to_page(pfn0 + (i ^ 1));
		if (zd_migrate_vma_setup(&m))
			return -EIO;
		return home(&m);
	case M_HOME_THEN_CHUNK:
		if (home_range(vmf->mm, a, 1, vmf->page))
			return -EIO;
		/* the faulting page is home now: nothing to infer */
		return home_range(vmf->mm, (unsigned long)buf, NPAGES, NULL);
	case M_WORKER:
		worker_m = m;
		if (pthread_create(&t, NULL, worker, NULL))
			return -EIO;
		pthread_join(t, &ret);
		return (int)(intptr_t)ret;
	case M_BUSY_ARRAY:
		m.src = busy_src;
		busy_err = zd_migrate_vma_setup(&m);
		busy_fault_page = m.fault_page;
		return home_range(vmf->mm, a, 1, vmf->page);
	case M_NESTED:
		if (vmf->mm == mm && mirror_read2())
			return -EIO;
		if (zd_migrate_vma_setup(&m))
			return -EIO;
		return home(&m);
	case M_HANDOFF:
		if (zd_migrate_vma_setup(&m) ||
		    pthread_create(&t, NULL, finish_it, &m))
			return -EIO;
		pthread_join(t, &ret);
		after_fault_page = m.fault_page;
		return (int)(intptr_t)ret;
	case M_DEVICE_RANGE: {
		char *stage[NPAGES] = { 0 };
		int err = 0;

		if (zd_migrate_device_range(ssrc, pfn0, NPAGES))
			return -EIO;
		for (unsigned long k = 0; k < NPAGES; k++) {
			sdst[k] = 0;
			if (!(ssrc[k] & ZD_MIGRATE_PFN_MIGRATE))
				continue;
			stage[k] = zd_alloc_system_page();
			if (!stage[k]) {
				err = -EIO;
				continue;
			}
			memset(stage[k], 'A' + (int)k, PG);
			sdst[k] = zd_migrate_virt(stage[k]);
		}
		zd_migrate_device_pages(ssrc, sdst, NPAGES);
		zd_migrate_device_finalize(ssrc, sdst, NPAGES);
		for (unsigned long k = 0; k < NPAGES; k++)
			zd_free_system_page(stage[k]);
		return err;
	}
	case M_FOLIO:
		m.start = a & ~(FOLIO - 1);
		m.end = m.start + FOLIO;
		m.npages = ZD_HMM_FOLIO_PAGES;
		m.src = fsrc;
		m.dst = fdst;
		m.flags |= ZD_MIGRATE_VMA_SELECT_COMPOUND;
		if (zd_migrate_vma_setup(&m))
			return -EIO;
		return fhome(&m);
	case M_REUSE_ARRAY:
		/* the range: the page, then the whole buffer (nothing more to
		 * collect there but other device pages), one array */
		m.src = ssrc;
		m.dst = sdst;
		m.fault_page = vmf->page;
		if (zd_migrate_vma_setup(&m) || home(&m))
			return -EIO;
		m.start = (unsigned long)buf;
		m.end = m.start + NPAGES * PG;
		m.npages = NPAGES;
		if (zd_migrate_vma_setup(&m) || home(&m))
			return -EIO;
		/* and once more, collecting nothing, finalized all the same
		 * (the kernel's finalize allows it) */
		if (zd_migrate_vma_setup(&m) || m.cpages)
			return -EIO;
		zd_migrate_vma_finalize(&m);
		return 0;
	}
	return -EIO;
}

static int drv_migrate_to_ram(struct zd_vm_fault *vmf)
{
	int err;

	atomic_load_explicit(&epoch, memory_order_acquire);
	err = drv_migrate_to_ram_(vmf);

	atomic_fetch_add(&returned, 1);
	return err;
}

static const struct zd_dev_pagemap_ops drv_ops = {
	.page_free = drv_free, .migrate_to_ram = drv_migrate_to_ram,
};

/* @n pages of @b ('a' + index) on the driver's pages from pfn0 + @first. */
static int to_device(struct zd_mm *on, char *b, unsigned long first)
{
	unsigned long src[NPAGES], dst[NPAGES];
	struct zd_migrate_vma m;

	for (int i = 0; i < NPAGES; i++)
		memset(b + i * PG, 'a' + i, PG);
	m = (struct zd_migrate_vma){ .mm = on, .src = src, .dst = dst,
		.npages = NPAGES, .start = (unsigned long)b,
		.end = (unsigned long)b + NPAGES * PG,
		.flags = ZD_MIGRATE_VMA_SELECT_SYSTEM };
	CHECK(zd_migrate_vma_setup(&m) == 0);
	CHECK(m.cpages == NPAGES);
	for (unsigned long i = 0; i < NPAGES; i++) {
		CHECK(zd_zone_device_page_init(zd_pfn_to_page(pfn0 + first + i)) == 0);
		dst[i] = zd_migrate_pfn(pfn0 + first + i) | ZD_MIGRATE_PFN_WRITE;
	}
	zd_migrate_vma_pages(&m);
	zd_migrate_vma_finalize(&m);
	for (unsigned long i = 0; i < NPAGES; i++)
		CHECK(zd_mm_lookup(on, (unsigned long)b + i * PG, NULL) ==
		      ZD_MM_PAGE_DEVICE);
	return 0;
}

/* The driver's mode from now on, with what the scenario set before. */
static void set_mode(enum mode to)
{
	mode = to;
	atomic_fetch_add_explicit(&epoch, 1, memory_order_release);
}

/* An mm with NPAGES pages ('a' + index), all on the driver's memory;
 * 77: no HMM here. */
static int scene_up(void)
{
	/* under TSan the scenarios run one after another in one process:
	 * the last one's migrate_to_ram() calls end first */
	while (atomic_load(&returned) < atomic_load(&calls))
		sched_yield();
	atomic_exchange(&calls, 0);
	atomic_exchange(&returned, 0);
	set_mode(M_GOOD);
	buf2 = NULL;
	PG = zd_page_size();
	mm = zd_mm_create();
	if (!mm)
		return 77;
	pgmap = calloc(1, sizeof(*pgmap));	/* a fault thread of the last
						 * scenario (TSan) may use it */
	CHECK(pgmap);
	*pgmap = (struct zd_dev_pagemap){ .type = ZD_MEMORY_DEVICE_PRIVATE,
		.nr_range = 1, .ops = &drv_ops, .owner = &owner };
	res = zd_request_free_mem_region(zd_iomem_root(), ZD_SECTION_SIZE,
					 "redteam_fault_page");
	CHECK(res);
	pgmap->range.start = res->start;
	pgmap->range.end = res->start + ZD_SECTION_SIZE - 1;
	CHECK(zd_memremap_pages(pgmap, ZD_NUMA_NO_NODE));
	pfn0 = res->start >> zd_page_shift;
	buf = zd_mm_map(mm, NPAGES * PG);
	CHECK(buf);
	return to_device(mm, buf, 0);
}

/* Page @i is home and holds what its migrate_to_ram() gave it. */
static bool home_with(unsigned long i)
{
	return zd_mm_lookup(mm, (unsigned long)buf + i * PG, NULL) ==
	       ZD_MM_PAGE_HOST && buf[i * PG + PG - 1] == (char)('A' + i);
}

static char touch(unsigned long i)
{
	return *(volatile char *)(buf + i * PG);
}


/* ---- findings ------------------------------------------------------------ */

/*
 * BUG (medium): the inferred .fault_page is written into the driver's
 * struct and left there.  A driver that keeps one struct zd_migrate_vma
 * and sets only what it uses (start, end) gets the warning on its first
 * fault, and on its second the struct names the first fault's page,
 * which is no longer even mapped: nothing is inferred (fault_page is not
 * NULL), the new faulting page has the fault's reference, is not
 * collected, and the fault loops for ever: exactly the hang the change
 * was to turn into a warning.  The kernel never writes args->fault_page.
 */
static int static_struct(void)
{
	unsigned long w;
	int err = scene_up();

	if (err)
		return err;
	set_mode(M_STATIC_STRUCT);
	w = zd_warn_count();
	CHECK(touch(0) == 'A');
	CHECK(touch(1) == 'B');
	CHECK(home_with(0) && home_with(1));
	fprintf(stderr, "migrate_to_ram calls: %d (2 expected)\n",
		atomic_load(&calls));
	CHECK(atomic_load(&calls) == 2);
	CHECK(zd_warn_count() == w + 2);	/* one for each fault */
	return 0;
}

static void test_inferred_fault_page_left_in_a_reused_struct(void **state)
{
	(void)state;
	in_child(static_struct, 20, "a stale inferred .fault_page", NO_HMM);
}

/*
 * BUG (medium): a .fault_page that is not the faulting page (the other
 * page of the range) is taken as given: the faulting page keeps the
 * fault's reference and is not collected, the other one is required to
 * have an extra reference it does not have and is not collected either.
 * Nothing moves, no warning, and the fault loops for ever.  zonedev
 * knows which page the fault is for: it can say so and take that one.
 */
static int wrong_fault_page(void)
{
	unsigned long w;
	int err = scene_up();

	if (err)
		return err;
	set_mode(M_WRONG_FAULT_PAGE);
	w = zd_warn_count();
	CHECK(touch(0) == 'A');
	fprintf(stderr, "migrate_to_ram calls: %d (1 expected)\n",
		atomic_load(&calls));
	CHECK(atomic_load(&calls) == 1);
	CHECK(home_with(0) && home_with(1));
	CHECK(zd_warn_count() == w + 1);
	return 0;
}

static void test_fault_page_of_another_page_of_the_range(void **state)
{
	(void)state;
	in_child(wrong_fault_page, 20, "a wrong .fault_page", NO_HMM);
}

/*
 * BUG (low): a legitimate driver brings the faulting page home first
 * (with .fault_page), then the rest of its chunk, whose range covers the
 * address already home, with .fault_page NULL (the page is no device
 * page any more).  zonedev still "infers" the faulting page: a false
 * misuse warning, and the struct names a page that was just freed.  The
 * inference must check that the page is still mapped at the address.
 */
static int home_then_chunk(void)
{
	unsigned long w;
	int err = scene_up();

	if (err)
		return err;
	set_mode(M_HOME_THEN_CHUNK);
	w = zd_warn_count();
	CHECK(touch(2) == 'C');
	/* the first finalize woke this thread: the chunk may still move */
	while (!atomic_load(&returned))
		sched_yield();
	for (unsigned long i = 0; i < NPAGES; i++)
		CHECK(home_with(i));
	CHECK(atomic_load(&calls) == 1);
	fprintf(stderr, "warnings: %lu (0 expected)\n", zd_warn_count() - w);
	CHECK(zd_warn_count() == w);
	return 0;
}

static void test_chunk_after_the_faulting_page_is_no_misuse(void **state)
{
	(void)state;
	in_child(home_then_chunk, 20, "a false misuse warning", NO_HMM);
}

/*
 * BUG (low): a setup refused with -EBUSY is said to write nothing, but
 * the inferred .fault_page is written into the struct before the gate
 * refuses it (and a second warning, about .fault_page, comes with it).
 */
static int busy_array(void)
{
	unsigned long dst[NPAGES];
	struct zd_migrate_vma first = {
		.mm = NULL, .src = busy_src, .dst = dst, .npages = 2,
		.pgmap_owner = &owner,
		.flags = ZD_MIGRATE_VMA_SELECT_DEVICE_PRIVATE,
	};
	unsigned long w;
	int err = scene_up();

	if (err)
		return err;
	first.mm = mm;
	first.start = (unsigned long)buf + 2 * PG;
	first.end = first.start + 2 * PG;
	CHECK(zd_migrate_vma_setup(&first) == 0);
	CHECK(first.cpages == 2);
	set_mode(M_BUSY_ARRAY);
	w = zd_warn_count();
	CHECK(touch(0) == 'A');
	while (!atomic_load(&returned))
		sched_yield();
	CHECK(busy_err == -EBUSY);
	CHECK(zd_warn_count() == w + 1);	/* the -EBUSY one */
	CHECK(busy_fault_page == NULL);
	CHECK(home(&first) == 0);
	CHECK(home_with(0) && home_with(2) && home_with(3));
	return 0;
}

static void test_busy_setup_writes_nothing(void **state)
{
	(void)state;
	in_child(busy_array, 20, "a refused setup wrote .fault_page", NO_HMM);
}

/*
 * OPEN (medium, not fixed; the kernel hangs as well): the inference is
 * by thread.  A driver whose migrate_to_ram() hands the migration to a
 * worker thread and waits (a driver with a migration thread of its own)
 * and leaves .fault_page NULL still loops for ever, without a warning.
 * A fix: the faults being served kept by mm (zd_mm), not by thread, and
 * the inference made when exactly one of them lies in the range.
 * Runs only with ZD_REDTEAM_OPEN=1 (it fails today).
 */
static int worker_setup(void)
{
	unsigned long w;
	int err = scene_up();

	if (err)
		return err;
	set_mode(M_WORKER);
	w = zd_warn_count();
	CHECK(touch(1) == 'B');
	fprintf(stderr, "migrate_to_ram calls: %d (1 expected)\n",
		atomic_load(&calls));
	CHECK(atomic_load(&calls) == 1);
	CHECK(zd_warn_count() == w + 1);
	return 0;
}

static void test_setup_on_a_worker_thread_is_not_inferred(void **state)
{
	(void)state;
	if (!getenv("ZD_REDTEAM_OPEN"))
		skip_msg("open finding (see the comment); ZD_REDTEAM_OPEN=1 "
			 "runs it");
	in_child(worker_setup, 20, "setup on a worker thread", NO_HMM);
}

/*
 * HOLDS: nested faults.  mm's migrate_to_ram() first reads mm2's device
 * page for a mirror that is not its owner, so that page's
 * migrate_to_ram() runs on this same thread, inside; both leave
 * .fault_page NULL.  Each infers its own faulting page (the inner one
 * mm2's, the outer one, after the inner returned, mm's): two warnings,
 * two calls, both pages home.
 */
static int nested(void)
{
	unsigned long w;
	int err = scene_up();

	if (err)
		return err;
	mm2 = zd_mm_create();
	CHECK(mm2);
	buf2 = zd_mm_map(mm2, NPAGES * PG);
	CHECK(buf2);
	CHECK(to_device(mm2, buf2, NPAGES) == 0);
	CHECK(zd_mmu_interval_notifier_insert(&sub2, mm2, (unsigned long)buf2,
					      NPAGES * PG, &sub2_ops) == 0);
	set_mode(M_NESTED);
	w = zd_warn_count();
	CHECK(touch(0) == 'A');
	while (atomic_load(&returned) < 2)
		sched_yield();
	fprintf(stderr, "migrate_to_ram calls: %d (2 expected)\n",
		atomic_load(&calls));
	CHECK(atomic_load(&calls) == 2);
	CHECK(zd_warn_count() == w + 2);
	CHECK(home_with(0));
	CHECK(zd_mm_lookup(mm2, (unsigned long)buf2, NULL) == ZD_MM_PAGE_HOST);
	CHECK(buf2[PG - 1] == 'A');
	zd_mmu_interval_notifier_remove(&sub2);
	return 0;
}

static void test_nested_faults_of_two_mms(void **state)
{
	(void)state;
	in_child(nested, 20, "nested faults", NO_HMM);
}

/*
 * BUG (low): fork() between a setup and its finalize on the same thread
 * (allowed: the gate lets the forking thread's own migration be) copies
 * the migration's gate record into the child, where its mm is dead and
 * no one finalizes it.  A child that makes an mm of its own and migrates
 * with the driver's same (static) src array is refused with -EBUSY for
 * good: "a migration not finalized yet" that is the parent's.
 */
static int fork_then_setup_in_child(void)
{
	unsigned long src[NPAGES], dst[NPAGES];
	struct zd_migrate_vma m;
	int status, err = scene_up();
	pid_t pid;

	if (err)
		return err;
	set_mode(M_GOOD);
	for (unsigned long i = 0; i < NPAGES; i++)
		CHECK(touch(i) == (char)('A' + i));
	m = (struct zd_migrate_vma){ .mm = mm, .src = src, .dst = dst,
		.npages = NPAGES, .start = (unsigned long)buf,
		.end = (unsigned long)buf + NPAGES * PG,
		.flags = ZD_MIGRATE_VMA_SELECT_SYSTEM };
	CHECK(zd_migrate_vma_setup(&m) == 0);
	CHECK(m.cpages == NPAGES);
	fflush(NULL);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		struct zd_mm *mine = zd_mm_create();
		char *b = mine ? zd_mm_map(mine, NPAGES * PG) : NULL;

		if (!b)
			_exit(77);
		memset(b, 'q', NPAGES * PG);
		m.mm = mine;
		m.start = (unsigned long)b;
		m.end = m.start + NPAGES * PG;
		err = zd_migrate_vma_setup(&m);
		fprintf(stderr, "setup in the child: %d (0 expected)\n", err);
		if (err)
			_exit(1);
		zd_migrate_vma_finalize(&m);
		_exit(m.cpages == NPAGES ? 0 : 2);
	}
	CHECK(waitpid(pid, &status, 0) == pid);
	zd_migrate_vma_finalize(&m);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 77)
		return 77;
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	for (unsigned long i = 0; i < NPAGES; i++) {
		buf[i * PG] = 'z';		/* none left busy */
		CHECK(home_with(i));
	}
	return 0;
}

static void test_fork_in_a_migration_then_setup_in_the_child(void **state)
{
	(void)state;
#ifdef __SANITIZE_THREAD__
	skip_msg("a fork under TSan");
#endif
	in_child(fork_then_setup_in_child, 20, "setup in a forked child", NO_HMM);
}

/*
 * HOLDS: a fault on a page of an order-9 device folio (split by the
 * fault, migrate_to_ram() gets an order-0 page), whose migrate_to_ram()
 * sets up the whole 2 MiB run with SELECT_COMPOUND and no .fault_page:
 * the faulting page is inferred (it is mapped there as a split page),
 * one warning, one call, every page home.
 */
static int folio(void)
{
	unsigned long *src, *dst, w;
	struct zd_migrate_vma m;
	char *raw;
	int err = scene_up();

	if (err)
		return err;
	src = calloc(4 * ZD_HMM_FOLIO_PAGES, sizeof(*src));
	CHECK(src);
	dst = src + ZD_HMM_FOLIO_PAGES;
	fsrc = dst + ZD_HMM_FOLIO_PAGES;
	fdst = fsrc + ZD_HMM_FOLIO_PAGES;
	raw = mmap(NULL, 2 * FOLIO, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(raw != MAP_FAILED);
	buf = (char *)(((uintptr_t)raw + FOLIO - 1) & ~(FOLIO - 1));
	CHECK(zd_mm_register(mm, buf, FOLIO) == 0);
	memset(buf, 'f', FOLIO);
	m = (struct zd_migrate_vma){ .mm = mm, .src = src, .dst = dst,
		.npages = ZD_HMM_FOLIO_PAGES, .start = (unsigned long)buf,
		.end = (unsigned long)buf + FOLIO,
		.flags = ZD_MIGRATE_VMA_SELECT_SYSTEM |
			 ZD_MIGRATE_VMA_SELECT_COMPOUND };
	CHECK(zd_migrate_vma_setup(&m) == 0);
	CHECK(m.cpages == ZD_HMM_FOLIO_PAGES);
	CHECK(src[0] & ZD_MIGRATE_PFN_COMPOUND);
	/* the pgmap is a section: its first 2 MiB past the 4 pages used */
	CHECK(zd_zone_device_folio_init(
		(struct zd_folio *)zd_pfn_to_page(pfn0 + ZD_HMM_FOLIO_PAGES),
		pgmap, ZD_HMM_FOLIO_ORDER) == 0);
	dst[0] = zd_migrate_pfn(pfn0 + ZD_HMM_FOLIO_PAGES) |
		 ZD_MIGRATE_PFN_WRITE | ZD_MIGRATE_PFN_COMPOUND;
	zd_migrate_vma_pages(&m);
	zd_migrate_vma_finalize(&m);
	CHECK(zd_mm_lookup(mm, (unsigned long)buf + 5 * PG, NULL) ==
	      ZD_MM_PAGE_DEVICE);
	set_mode(M_FOLIO);
	w = zd_warn_count();
	CHECK(*(volatile char *)(buf + 5 * PG) == 'A' + 5);
	while (!atomic_load(&returned))
		sched_yield();
	fprintf(stderr, "migrate_to_ram calls: %d (1 expected)\n",
		atomic_load(&calls));
	CHECK(atomic_load(&calls) == 1);
	CHECK(zd_warn_count() == w + 1);
	for (unsigned long i = 0; i < ZD_HMM_FOLIO_PAGES; i++) {
		CHECK(zd_mm_lookup(mm, (unsigned long)buf + i * PG, NULL) ==
		      ZD_MM_PAGE_HOST);
		CHECK(buf[i * PG + PG - 1] == 'A' + (char)(i % 26));
	}
	return 0;
}

static void test_folio_fault_with_a_compound_setup(void **state)
{
	(void)state;
	in_child(folio, 20, "a compound setup from migrate_to_ram", NO_HMM);
}

/*
 * HOLDS: migrate_to_ram() that brings all of its device home by pfn
 * (zd_migrate_device_range(), as a driver's release or unbind), the
 * faulting page among them: no warning, no refusal, one call, every
 * page home.  (The kernel would deadlock on the faulting page's lock.)
 */
static int device_range(void)
{
	unsigned long w;
	int err = scene_up();

	if (err)
		return err;
	set_mode(M_DEVICE_RANGE);
	w = zd_warn_count();
	CHECK(touch(1) == 'B');
	while (!atomic_load(&returned))
		sched_yield();
	CHECK(atomic_load(&calls) == 1);
	CHECK(zd_warn_count() == w);
	for (unsigned long i = 0; i < NPAGES; i++)
		CHECK(home_with(i));
	return 0;
}

static void test_device_range_from_migrate_to_ram(void **state)
{
	(void)state;
	in_child(device_range, 20, "zd_migrate_device_range in migrate_to_ram", NO_HMM);
}

/*
 * HOLDS: .fault_page inferred, then the struct handed to another thread
 * for pages and finalize: that thread sees the faulting page in it, the
 * page comes home, and after finalize the struct has the driver's NULL
 * back.
 */
static int handoff(void)
{
	unsigned long w;
	int err = scene_up();

	if (err)
		return err;
	set_mode(M_HANDOFF);
	w = zd_warn_count();
	CHECK(touch(3) == 'D');
	while (!atomic_load(&returned))
		sched_yield();
	CHECK(atomic_load(&calls) == 1);
	CHECK(zd_warn_count() == w + 1);
	CHECK(handed_fault_page == zd_pfn_to_page(pfn0 + 3));
	CHECK(after_fault_page == NULL);
	CHECK(home_with(3));
	return 0;
}

static void test_inferred_struct_handed_to_another_thread(void **state)
{
	(void)state;
	in_child(handoff, 20, "finalize on another thread", NO_HMM);
}

/* ---- what held ----------------------------------------------------------- */

/*
 * HOLDS: a driver that reuses one src/dst array for consecutive
 * migrations, each finalized, including a setup that collects nothing
 * followed by a finalize anyway (legal in the kernel): no -EBUSY, no
 * warning, and fork afterwards does not wait for a migration that is not
 * there (the gate's count did not go wrong).
 */
static int reuse_array(void)
{
	unsigned long w;
	int status, err = scene_up();
	pid_t pid;

	if (err)
		return err;
	set_mode(M_REUSE_ARRAY);
	w = zd_warn_count();
	for (unsigned long i = 0; i < NPAGES; i++)
		CHECK(touch(i) == (char)('A' + i));
	CHECK(atomic_load(&calls) == 1);	/* the second setup took all */
	CHECK(zd_warn_count() == w);
#ifdef __SANITIZE_THREAD__
	return 0;		/* no fork under TSan */
#endif
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0)
		_exit(0);
	CHECK(waitpid(pid, &status, 0) == pid && status == 0);
	return 0;
}

static void test_one_array_for_consecutive_migrations(void **state)
{
	(void)state;
	in_child(reuse_array, 20, "reusing a finalized src array", NO_HMM);
}

struct racer {
	struct zd_migrate_vma m;
	pthread_barrier_t *bar;
	int err;
};

static void *race_setup(void *arg)
{
	struct racer *r = arg;

	pthread_barrier_wait(r->bar);
	r->err = zd_migrate_vma_setup(&r->m);
	return NULL;
}

static void *finalize_it(void *arg)
{
	zd_migrate_vma_finalize(arg);
	return NULL;
}

/*
 * HOLDS: two threads set up with one src array at once (each its own
 * struct): exactly one wins, the other gets -EBUSY; the winner's
 * collection stands; then -EBUSY, the first finalized on another thread,
 * and a retry succeeds.  Host pages (SELECT_SYSTEM), 50 rounds.
 */
static int race(void)
{
	unsigned long src[NPAGES], dst[NPAGES], dst2[NPAGES];
	pthread_barrier_t bar;
	struct racer r[2];
	pthread_t t[2];
	int err = scene_up();

	if (err)
		return err;
	set_mode(M_GOOD);
	for (unsigned long i = 0; i < NPAGES; i++)
		CHECK(touch(i) == (char)('A' + i));
	pthread_barrier_init(&bar, NULL, 2);
	for (int round = 0; round < 50; round++) {
		unsigned long w = zd_warn_count();
		int win;

		for (int k = 0; k < 2; k++) {
			r[k] = (struct racer){ .bar = &bar, .m = {
				.mm = mm, .src = src, .dst = k ? dst2 : dst,
				.npages = NPAGES, .start = (unsigned long)buf,
				.end = (unsigned long)buf + NPAGES * PG,
				.flags = ZD_MIGRATE_VMA_SELECT_SYSTEM } };
			CHECK(pthread_create(&t[k], NULL, race_setup, &r[k]) == 0);
		}
		for (int k = 0; k < 2; k++)
			pthread_join(t[k], NULL);
		CHECK((r[0].err == 0) != (r[1].err == 0));
		win = r[0].err ? 1 : 0;
		CHECK(r[!win].err == -EBUSY);
		CHECK(zd_warn_count() == w + 1);
		CHECK(r[win].m.cpages == NPAGES);
		for (unsigned long i = 0; i < NPAGES; i++)
			CHECK(src[i] & ZD_MIGRATE_PFN_MIGRATE);
		/* finalized elsewhere (nothing moves), then the loser again */
		CHECK(pthread_create(&t[0], NULL, finalize_it, &r[win].m) == 0);
		pthread_join(t[0], NULL);
		CHECK(zd_migrate_vma_setup(&r[!win].m) == 0);
		CHECK(r[!win].m.cpages == NPAGES);
		zd_migrate_vma_pages(&r[!win].m);
		zd_migrate_vma_finalize(&r[!win].m);
	}
	for (unsigned long i = 0; i < NPAGES; i++) {
		buf[i * PG] = 'z';		/* none left busy */
		CHECK(home_with(i));
	}
	return 0;
}

static void test_two_threads_one_array(void **state)
{
	(void)state;
	in_child(race, 60, "two setups with one array", NO_HMM);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_inferred_fault_page_left_in_a_reused_struct),
		cmocka_unit_test(test_fault_page_of_another_page_of_the_range),
		cmocka_unit_test(test_chunk_after_the_faulting_page_is_no_misuse),
		cmocka_unit_test(test_busy_setup_writes_nothing),
		cmocka_unit_test(test_setup_on_a_worker_thread_is_not_inferred),
		cmocka_unit_test(test_fork_in_a_migration_then_setup_in_the_child),
		cmocka_unit_test(test_nested_faults_of_two_mms),
		cmocka_unit_test(test_folio_fault_with_a_compound_setup),
		cmocka_unit_test(test_device_range_from_migrate_to_ram),
		cmocka_unit_test(test_inferred_struct_handed_to_another_thread),
		cmocka_unit_test(test_one_array_for_consecutive_migrations),
		cmocka_unit_test(test_two_threads_one_array),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
