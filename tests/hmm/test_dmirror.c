// SPDX-License-Identifier: MIT
/*
 * dmirror's mirror (drivers/dmirror): the device page table that
 * zd_hmm_range_fault() fills and the interval notifier empties.  Which
 * changes empty it (munmap, MADV_DONTNEED, another device's migration,
 * the mm's end) and which do not (the device's own migration); that the
 * device sees the application's later writes; reads and writes racing
 * munmap end in -EFAULT, never a crash; dmirror_release() and
 * dmirror_snapshot(); every error.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../test_util.h"
#include "dmirror.h"

#define NPAGES	16

static size_t PG;
static int next_id;

struct fx {
	struct zd_mm *mm;
	struct dmirror *dm, *other;	/* this device, another one */
	char *buf;			/* NPAGES managed pages */
	size_t len;
	char *bounce;
	/* a test's helper thread: teardown stops it if the test failed */
	pthread_t thread;
	bool thread_on;
	atomic_bool stop;
};

static void start_thread(struct fx *f, void *(*fn)(void *), void *arg)
{
	atomic_store(&f->stop, false);
	assert_int_equal(pthread_create(&f->thread, NULL, fn, arg), 0);
	f->thread_on = true;
}

static void stop_thread(struct fx *f)
{
	if (!f->thread_on)
		return;
	atomic_store(&f->stop, true);
	pthread_join(f->thread, NULL);
	f->thread_on = false;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	PG = zd_page_size();
	*state = f;
	if (!f)
		return -1;
	f->len = NPAGES * PG;
	f->mm = zd_mm_create();
	f->dm = dmirror_create(next_id++, 256ul << 20);
	f->other = dmirror_create(next_id++, 256ul << 20);
	f->buf = f->mm ? zd_mm_map(f->mm, f->len) : NULL;
	f->bounce = malloc(f->len);
	return f->mm && f->dm && f->other && f->buf && f->bounce ? 0 : -1;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	zd_fault_inject_reset();
	if (!f)
		return 0;
	stop_thread(f);
	if (f->mm)
		zd_mm_destroy(f->mm);	/* pages come home first */
	dmirror_destroy(f->dm);
	dmirror_destroy(f->other);
	if (f->buf)
		munmap(f->buf, f->len);
	free(f->bounce);
	free(f);
	return 0;
}

static struct dmirror_cmd cmd(struct fx *f, const void *addr, unsigned long n, void *ptr)
{
	return (struct dmirror_cmd){ .mm = f->mm, .addr = (unsigned long)addr,
				     .npages = n, .ptr = ptr };
}

static struct dmirror_stats stats(struct dmirror *dm)
{
	struct dmirror_stats s;

	dmirror_get_stats(dm, &s);
	return s;
}

/* Page i of the range holds bytes (i + seed). */
static void fill(char *p, unsigned long n, int seed)
{
	for (unsigned long i = 0; i < n; i++)
		memset(p + i * PG, (int)(i + seed), PG);
}

static void check(const char *p, unsigned long n, int seed)
{
	for (unsigned long i = 0; i < n * PG; i++)
		if (p[i] != (char)(i / PG + seed))
			fail_msg("byte %lu is %d, not %d", i, p[i], (char)(i / PG + seed));
}

/* A read of @n pages at @addr: its result; cpages and faults out. */
static int dev_read(struct fx *f, struct dmirror *dm, const void *addr, unsigned long n,
		    unsigned long *cpages, unsigned long *faults)
{
	struct dmirror_cmd c = cmd(f, addr, n, f->bounce);
	int err = dmirror_read(dm, &c);

	if (cpages)
		*cpages = c.cpages;
	if (faults)
		*faults = c.faults;
	return err;
}

static void migrate(struct fx *f, struct dmirror *dm, void *addr, unsigned long n)
{
	struct dmirror_cmd c = cmd(f, addr, n, NULL);

	assert_int_equal(dmirror_migrate_to_device(dm, &c), 0);
	assert_int_equal(c.cpages, n);
}

/* ---- filling and emptying the mirror ------------------------------------- */

/* The first read fills the mirror in one round (the kernel's faults ==
 * 1); the next reads from it without a fault. */
static void test_read_fills_mirror_once(void **state)
{
	struct fx *f = *state;
	unsigned long cpages, faults;

	fill(f->buf, NPAGES, 1);
	assert_int_equal(dev_read(f, f->dm, f->buf, NPAGES, &cpages, &faults), 0);
	assert_int_equal(cpages, NPAGES);
	assert_int_equal(faults, 1);
	check(f->bounce, NPAGES, 1);
	assert_int_equal(stats(f->dm).mirror_entries, NPAGES);
	assert_int_equal(dev_read(f, f->dm, f->buf, NPAGES, &cpages, &faults), 0);
	assert_int_equal(cpages, NPAGES);
	assert_int_equal(faults, 0);
	check(f->bounce, NPAGES, 1);
	assert_int_equal(stats(f->dm).invalidations, 0);
}

/* A write through the mirror: the CPU sees it.  Entries a read made of
 * read-only memory do not let the device write: the write faults them
 * again (and finds the memory writable by then). */
static void test_write_through_mirror(void **state)
{
	struct fx *f = *state;
	struct dmirror_cmd c;

	assert_int_equal(mprotect(f->buf, f->len, PROT_READ), 0);
	assert_int_equal(dev_read(f, f->dm, f->buf, NPAGES, NULL, NULL), 0);
	for (unsigned long i = 0; i < f->len; i++)
		assert_int_equal(f->bounce[i], 0);
	assert_int_equal(mprotect(f->buf, f->len, PROT_READ | PROT_WRITE), 0);
	fill(f->bounce, NPAGES, 7);
	c = cmd(f, f->buf, NPAGES, f->bounce);
	assert_int_equal(dmirror_write(f->dm, &c), 0);
	assert_int_equal(c.cpages, NPAGES);
	assert_int_equal(c.faults, 1);
	check(f->buf, NPAGES, 7);
	c = cmd(f, f->buf, NPAGES, f->bounce);
	assert_int_equal(dmirror_write(f->dm, &c), 0);
	assert_int_equal(c.faults, 0);
}

/* munmap empties the mirror for the range (before any later call looks
 * at it), and a read there is -EFAULT. */
static void test_munmap_invalidates(void **state)
{
	struct fx *f = *state;
	unsigned long inv, cpages;

	fill(f->buf, NPAGES, 2);
	assert_int_equal(dev_read(f, f->dm, f->buf, NPAGES, NULL, NULL), 0);
	inv = stats(f->dm).invalidations;
	assert_int_equal(munmap(f->buf + 4 * PG, 4 * PG), 0);
	assert_true(wait_for(stats(f->dm).mirror_entries == NPAGES - 4));
	assert_int_equal(stats(f->dm).invalidations, inv + 1);
	assert_int_equal(dev_read(f, f->dm, f->buf, NPAGES, &cpages, NULL), -EFAULT);
	assert_int_equal(cpages, 4);		/* the pages before the hole */
	check(f->bounce, 4, 2);
	assert_int_equal(dev_read(f, f->dm, f->buf + 8 * PG, 8, &cpages, NULL), 0);
	check(f->bounce, 8, 10);
}

/* MADV_DONTNEED empties the mirror; the device then reads zeros, and
 * sees what the application writes after, as the CPU does. */
static void test_dontneed_invalidates(void **state)
{
	struct fx *f = *state;
	unsigned long inv, faults;

	fill(f->buf, NPAGES, 3);
	assert_int_equal(dev_read(f, f->dm, f->buf, NPAGES, NULL, NULL), 0);
	inv = stats(f->dm).invalidations;
	assert_int_equal(madvise(f->buf, 2 * PG, MADV_DONTNEED), 0);
	assert_true(wait_for(stats(f->dm).mirror_entries == NPAGES - 2));
	assert_int_equal(stats(f->dm).invalidations, inv + 1);
	assert_int_equal(dev_read(f, f->dm, f->buf, 2, NULL, &faults), 0);
	assert_int_equal(faults, 1);
	for (unsigned long i = 0; i < 2 * PG; i++)
		assert_int_equal(f->bounce[i], 0);
	fill(f->buf, 2, 40);
	assert_int_equal(dev_read(f, f->dm, f->buf, 2, NULL, &faults), 0);
	check(f->bounce, 2, 40);
}

/* The application writes a page the mirror has: the device reads the
 * new bytes (a host entry is the page itself, not a copy). */
static void test_device_sees_app_writes(void **state)
{
	struct fx *f = *state;
	unsigned long faults;

	fill(f->buf, NPAGES, 4);
	assert_int_equal(dev_read(f, f->dm, f->buf, NPAGES, NULL, NULL), 0);
	fill(f->buf, NPAGES, 50);
	assert_int_equal(dev_read(f, f->dm, f->buf, NPAGES, NULL, &faults), 0);
	assert_int_equal(faults, 0);
	check(f->bounce, NPAGES, 50);
}

/*
 * Another device's migration empties the mirror (and the read brings the
 * pages home from it); the device's own migration does not call for an
 * invalidation: the migration itself puts its pages in the mirror, and
 * the read is served from device memory without a fault.
 */
static void test_migrations_own_and_other(void **state)
{
	struct fx *f = *state;
	unsigned long inv, faults, cpages;

	fill(f->buf, NPAGES, 5);
	assert_int_equal(dev_read(f, f->dm, f->buf, NPAGES, NULL, NULL), 0);
	inv = stats(f->dm).invalidations;
	migrate(f, f->other, f->buf, NPAGES);
	assert_true(stats(f->dm).invalidations > inv);
	assert_int_equal(stats(f->dm).mirror_entries, 0);
	assert_int_equal(stats(f->other).pages_in_use, NPAGES);
	assert_int_equal(dev_read(f, f->dm, f->buf, NPAGES, &cpages, &faults), 0);
	assert_int_equal(cpages, NPAGES);
	assert_int_equal(faults, 1);
	check(f->bounce, NPAGES, 5);
	assert_int_equal(stats(f->other).pages_in_use, 0);	/* came home */

	inv = stats(f->dm).invalidations;
	migrate(f, f->dm, f->buf, NPAGES);
	assert_int_equal(stats(f->dm).invalidations, inv);
	assert_int_equal(stats(f->dm).mirror_entries, NPAGES);
	assert_int_equal(dev_read(f, f->dm, f->buf, NPAGES, &cpages, &faults), 0);
	assert_int_equal(faults, 0);
	check(f->bounce, NPAGES, 5);
	assert_int_equal(zd_mm_device_pages(f->mm), NPAGES);	/* not faulted */

	/* and home again by the device's own migration: still not one */
	struct dmirror_cmd c = cmd(f, f->buf, NPAGES, NULL);

	assert_int_equal(dmirror_migrate_to_system(f->dm, &c), 0);
	assert_int_equal(stats(f->dm).invalidations, inv);
	assert_int_equal(stats(f->dm).mirror_entries, 0);
	check(f->buf, NPAGES, 5);
}

/* A CPU fault takes a mirrored device page home: its entry goes (the
 * page is freed), and the device's next read and write see host memory. */
static void test_cpu_fault_takes_entry(void **state)
{
	struct fx *f = *state;
	struct dmirror_cmd c;
	unsigned long faults;

	fill(f->buf, NPAGES, 6);
	migrate(f, f->dm, f->buf, NPAGES);
	assert_int_equal(f->buf[0], 6);			/* fault: home */
	assert_true(wait_for(stats(f->dm).pages_in_use == NPAGES - 1));
	assert_int_equal(stats(f->dm).mirror_entries, NPAGES - 1);
	f->buf[0] = 99;
	assert_int_equal(dev_read(f, f->dm, f->buf, 1, NULL, &faults), 0);
	assert_int_equal(faults, 1);
	assert_int_equal(f->bounce[0], 99);
	fill(f->bounce, NPAGES, 60);
	c = cmd(f, f->buf, NPAGES, f->bounce);
	assert_int_equal(dmirror_write(f->dm, &c), 0);
	check(f->buf, NPAGES, 60);
}

/* The mm's end empties its mirror; the device works on a new mm. */
static void test_mm_destroy_ends_mirror(void **state)
{
	struct fx *f = *state;
	struct zd_mm *mm = zd_mm_create();
	struct dmirror_cmd c;
	char *p;

	assert_non_null(mm);
	p = zd_mm_map(mm, 4 * PG);
	assert_non_null(p);
	fill(p, 4, 8);
	c = (struct dmirror_cmd){ .mm = mm, .addr = (unsigned long)p, .npages = 4,
				  .ptr = f->bounce };
	assert_int_equal(dmirror_read(f->dm, &c), 0);
	assert_int_equal(stats(f->dm).mirror_entries, 4);
	zd_mm_destroy(mm);
	assert_int_equal(stats(f->dm).mirror_entries, 0);
	munmap(p, 4 * PG);
	/* a new mm (perhaps at the same address): a new mirror */
	mm = zd_mm_create();
	assert_non_null(mm);
	p = zd_mm_map(mm, 4 * PG);
	assert_non_null(p);
	fill(p, 4, 9);
	c = (struct dmirror_cmd){ .mm = mm, .addr = (unsigned long)p, .npages = 4,
				  .ptr = f->bounce };
	assert_int_equal(dmirror_read(f->dm, &c), 0);
	assert_int_equal(c.faults, 1);
	check(f->bounce, 4, 9);
	zd_mm_destroy(mm);
	munmap(p, 4 * PG);
}

/* Unregistering a range empties its part of the mirror: zonedev stops
 * following it, so the device may no longer use it. */
static void test_unregister_invalidates(void **state)
{
	struct fx *f = *state;

	fill(f->buf, NPAGES, 10);
	assert_int_equal(dev_read(f, f->dm, f->buf, NPAGES, NULL, NULL), 0);
	assert_int_equal(zd_mm_unregister(f->mm, f->buf, f->len), 0);
	assert_int_equal(stats(f->dm).mirror_entries, 0);
	assert_int_equal(dev_read(f, f->dm, f->buf, NPAGES, NULL, NULL), -EFAULT);
}

/* Unbind drops the mirrors; after a rebind they fill again. */
static void test_unbind_rebind_mirror(void **state)
{
	struct fx *f = *state;
	unsigned long faults;

	fill(f->buf, NPAGES, 11);
	migrate(f, f->dm, f->buf, NPAGES / 2);
	assert_int_equal(dev_read(f, f->dm, f->buf, NPAGES, NULL, NULL), 0);
	assert_int_equal(dmirror_unbind(f->dm), 0);
	assert_int_equal(stats(f->dm).mirror_entries, 0);
	assert_int_equal(dev_read(f, f->dm, f->buf, NPAGES, NULL, NULL), -ENODEV);
	check(f->buf, NPAGES, 11);
	assert_int_equal(dmirror_rebind(f->dm), 0);
	assert_int_equal(dev_read(f, f->dm, f->buf, NPAGES, NULL, &faults), 0);
	assert_int_equal(faults, 1);
	check(f->bounce, NPAGES, 11);
}

/* ---- racing the application ------------------------------------------- */

struct racer {
	struct fx *f;
	char *_Atomic addr;		/* the range now, NULL at the end */
	atomic_ulong ok, efault, other;
	bool write;
};

static void *race_device(void *arg)
{
	struct racer *r = arg;
	char *buf = malloc(NPAGES * PG);

	memset(buf, 0x5a, NPAGES * PG);
	for (char *p; !atomic_load(&r->f->stop) && (p = atomic_load(&r->addr));) {
		struct dmirror_cmd c = cmd(r->f, p, NPAGES, buf);
		int err = r->write ? dmirror_write(r->f->dm, &c) : dmirror_read(r->f->dm, &c);

		if (!err)
			atomic_fetch_add(&r->ok, 1);
		else if (err == -EFAULT)
			atomic_fetch_add(&r->efault, 1);
		else
			atomic_fetch_add(&r->other, 1);
	}
	free(buf);
	return NULL;
}

/*
 * Device reads and writes of a range the application unmaps under them,
 * host pages and device pages, over and over: each ends in 0 or -EFAULT,
 * never a crash (the kernel's anon_teardown).
 */
static void race_munmap(struct fx *f, bool write)
{
	static struct racer r;	/* outlives a failed test: teardown stops the thread */
	unsigned int seed = 1;
	int rounds = 150;

	r.f = f;
	r.write = write;
	atomic_store(&r.ok, 0);
	atomic_store(&r.efault, 0);
	atomic_store(&r.other, 0);
	atomic_store(&r.addr, f->buf);
	start_thread(f, race_device, &r);
	for (int i = 0; i < rounds; i++) {
		char *next = zd_mm_map(f->mm, f->len), *p = atomic_load(&r.addr);

		assert_non_null(next);
		fill(next, NPAGES, i);
		if (i % 2)
			migrate(f, f->dm, next, NPAGES / 2);
		test_sleep_us(rand_r(&seed) % 500);
		assert_int_equal(munmap(p, f->len), 0);
		atomic_store(&r.addr, next);
	}
	f->buf = atomic_load(&r.addr);
	stop_thread(f);
	print_message("%s racing munmap: %lu ok, %lu -EFAULT\n", write ? "writes" : "reads",
		      atomic_load(&r.ok), atomic_load(&r.efault));
	assert_int_equal(atomic_load(&r.other), 0);
	assert_true(atomic_load(&r.ok) > 0);
	assert_true(wait_for(stats(f->dm).pages_in_use == zd_mm_device_pages(f->mm)));
}

static void test_read_racing_munmap(void **state)
{
	race_munmap(*state, false);
}

static void test_write_racing_munmap(void **state)
{
	race_munmap(*state, true);
}

struct mover {
	struct fx *f;
	atomic_ulong moves;
};

static void *move_back_and_forth(void *arg)
{
	struct mover *mv = arg;

	while (!atomic_load(&mv->f->stop)) {
		struct dmirror_cmd c = cmd(mv->f, mv->f->buf, NPAGES, NULL);

		dmirror_migrate_to_device(mv->f->dm, &c);
		c = cmd(mv->f, mv->f->buf, NPAGES, NULL);
		dmirror_migrate_to_system(mv->f->dm, &c);
		atomic_fetch_add(&mv->moves, 1);
	}
	return NULL;
}

/*
 * Device writes while the device's own migrations move the pages both
 * ways: a host copy made as a migration takes the page would be lost;
 * the write sees the entry erased meanwhile and goes again.  Every write
 * reads back, by the device and at the end by the CPU.
 */
static void test_writes_racing_own_migration(void **state)
{
	struct fx *f = *state;
	static struct mover mv;	/* outlives a failed test: teardown stops the thread */
	static char page[NPAGES * 65536];
	int rounds = 20000;

	mv.f = f;
	atomic_store(&mv.moves, 0);
	memset(f->buf, 0, f->len);
	start_thread(f, move_back_and_forth, &mv);
	for (int v = 1; v <= rounds; v++) {
		struct dmirror_cmd c;

		fill(page, NPAGES, v);
		c = cmd(f, f->buf, NPAGES, page);
		assert_int_equal(dmirror_write(f->dm, &c), 0);
		assert_int_equal(dev_read(f, f->dm, f->buf, NPAGES, NULL, NULL), 0);
		check(f->bounce, NPAGES, v);
		if (atomic_load(&mv.moves) > 3000)
			break;
	}
	stop_thread(f);
	check(f->buf, NPAGES, (int)(unsigned char)page[0]);
	print_message("%lu migration rounds\n", atomic_load(&mv.moves));
}

/* ---- release ------------------------------------------------------------ */

static void test_release_brings_pages_home(void **state)
{
	struct fx *f = *state;
	struct dmirror_cmd c;
	unsigned long faults;

	assert_int_equal(dmirror_release(f->dm), 0);		/* nothing out */
	fill(f->buf, NPAGES, 12);
	migrate(f, f->dm, f->buf, NPAGES);
	assert_int_equal(dmirror_release(f->dm), 0);
	assert_int_equal(zd_mm_device_pages(f->mm), 0);
	assert_int_equal(stats(f->dm).pages_in_use, 0);
	assert_int_equal(stats(f->dm).mirror_entries, 0);
	check(f->buf, NPAGES, 12);
	/* commands go on working, and the device takes pages again */
	assert_int_equal(dev_read(f, f->dm, f->buf, NPAGES, NULL, &faults), 0);
	assert_int_equal(faults, 1);
	check(f->bounce, NPAGES, 12);
	migrate(f, f->dm, f->buf, NPAGES);
	fill(f->bounce, NPAGES, 13);
	c = cmd(f, f->buf, NPAGES, f->bounce);
	assert_int_equal(dmirror_write(f->dm, &c), 0);
	assert_int_equal(dmirror_release(f->dm), 0);
	check(f->buf, NPAGES, 13);
	/* pages another device holds stay there */
	migrate(f, f->other, f->buf, NPAGES);
	assert_int_equal(dmirror_release(f->dm), 0);
	assert_int_equal(stats(f->other).pages_in_use, NPAGES);
}

/* ---- snapshot ----------------------------------------------------------- */

static void test_snapshot_states(void **state)
{
	struct fx *f = *state;
	uint8_t perm[NPAGES];
	struct dmirror_cmd c;
	volatile char sink;

	memset(perm, 0xee, sizeof(perm));
	/* 0 never touched; 1 read by the CPU; 2 written; 3 written then
	 * read-only; 4 PROT_NONE; 5 on this device; 6 on another one;
	 * 7 unmapped; 8.. untouched, but the first touch mapped the zero
	 * page ahead (test_hmm's test_first_touch_fills_ahead) */
	sink = f->buf[PG];
	(void)sink;
	f->buf[2 * PG] = 1;
	f->buf[3 * PG] = 1;
	f->buf[5 * PG] = 1;
	f->buf[6 * PG] = 1;
	migrate(f, f->dm, f->buf + 5 * PG, 1);
	migrate(f, f->other, f->buf + 6 * PG, 1);
	assert_int_equal(mprotect(f->buf + 3 * PG, PG, PROT_READ), 0);
	assert_int_equal(mprotect(f->buf + 4 * PG, PG, PROT_NONE), 0);
	assert_int_equal(munmap(f->buf + 7 * PG, PG), 0);
	c = cmd(f, f->buf, NPAGES, NULL);
	assert_int_equal(dmirror_snapshot(f->dm, &c, perm), 0);
	assert_int_equal(c.cpages, NPAGES);
	assert_int_equal(perm[0], DMIRROR_PROT_NONE);
	/* the zero page is not told apart: readable, perhaps writable */
	assert_true(perm[1] == DMIRROR_PROT_READ || perm[1] == DMIRROR_PROT_WRITE);
	assert_int_equal(perm[2], DMIRROR_PROT_WRITE);
	assert_int_equal(perm[3], DMIRROR_PROT_READ);
	assert_int_equal(perm[4], DMIRROR_PROT_ERROR);
	assert_int_equal(perm[5], DMIRROR_PROT_DEV_PRIVATE_LOCAL | DMIRROR_PROT_WRITE);
	assert_int_equal(perm[6], DMIRROR_PROT_NONE);	/* as the kernel's */
	assert_int_equal(perm[7], DMIRROR_PROT_ERROR);
	for (int i = 8; i < NPAGES; i++)	/* the zero page, writable memory */
		assert_int_equal(perm[i], DMIRROR_PROT_WRITE);
	/* nothing was faulted in or moved */
	assert_int_equal(zd_mm_lookup(f->mm, (unsigned long)f->buf, NULL), ZD_MM_PAGE_EMPTY);
	assert_int_equal(stats(f->dm).pages_in_use, 1);
	assert_int_equal(stats(f->other).pages_in_use, 1);
	/* from the other device's side */
	c = cmd(f, f->buf + 5 * PG, 2, NULL);
	assert_int_equal(dmirror_snapshot(f->other, &c, perm), 0);
	assert_int_equal(perm[0], DMIRROR_PROT_NONE);
	assert_int_equal(perm[1], DMIRROR_PROT_DEV_PRIVATE_LOCAL | DMIRROR_PROT_WRITE);
	assert_int_equal(mprotect(f->buf + 3 * PG, 2 * PG, PROT_READ | PROT_WRITE), 0);
}

/* Memory zonedev does not manage is ERROR in a snapshot and -EFAULT for
 * a read or write. */
static void test_unmanaged_memory(void **state)
{
	struct fx *f = *state;
	char *p = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint8_t perm[2];
	struct dmirror_cmd c;

	assert_true(p != MAP_FAILED);
	memset(p, 1, 2 * PG);
	c = cmd(f, p, 2, NULL);
	assert_int_equal(dmirror_snapshot(f->dm, &c, perm), 0);
	assert_int_equal(perm[0], DMIRROR_PROT_ERROR);
	assert_int_equal(perm[1], DMIRROR_PROT_ERROR);
	assert_int_equal(dev_read(f, f->dm, p, 2, NULL, NULL), -EFAULT);
	c = cmd(f, p, 2, f->bounce);
	assert_int_equal(dmirror_write(f->dm, &c), -EFAULT);
	munmap(p, 2 * PG);
}

/* ---- transform ---------------------------------------------------------- */

static void add_one(void *page, size_t len, void *arg)
{
	(void)arg;
	for (size_t i = 0; i < len; i++)
		((char *)page)[i]++;
}

/* Only pages in the device's memory are transformed; nothing faults in,
 * also where the mirror had lost its entries. */
static void test_transform_uses_mirror(void **state)
{
	struct fx *f = *state;
	uint8_t perm[4];
	struct dmirror_cmd c;
	char *q = zd_mm_map(f->mm, 4 * PG);	/* never touched */

	assert_non_null(q);
	fill(f->buf, 8, 20);
	migrate(f, f->dm, f->buf + 2 * PG, 4);
	c = cmd(f, f->buf, NPAGES, NULL);
	assert_int_equal(dmirror_transform(f->dm, &c, add_one, NULL), 0);
	assert_int_equal(c.cpages, 4);
	c = cmd(f, q, 4, NULL);
	assert_int_equal(dmirror_transform(f->dm, &c, add_one, NULL), 0);
	assert_int_equal(c.cpages, 0);
	assert_int_equal(dmirror_snapshot(f->dm, &c, perm), 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(perm[i], DMIRROR_PROT_NONE);	/* not faulted */
	assert_int_equal(munmap(q, 4 * PG), 0);
	for (int i = 0; i < 8; i++)
		assert_int_equal(f->buf[i * PG], (char)(20 + i + (i >= 2 && i < 6)));
	/* another device's migration of other pages empties the mirror
	 * there; the device pages keep their entries */
	migrate(f, f->other, f->buf, 2);
	migrate(f, f->dm, f->buf + 2 * PG, 4);
	c = cmd(f, f->buf, 8, NULL);
	assert_int_equal(dmirror_transform(f->dm, &c, add_one, NULL), 0);
	assert_int_equal(c.cpages, 4);
	assert_int_equal(stats(f->other).pages_in_use, 2);	/* left there */
	assert_int_equal(f->buf[2 * PG], 20 + 2 + 2);
}

/* ---- errors ------------------------------------------------------------- */

static void nop(void *page, size_t len, void *arg)
{
	(void)page;
	(void)len;
	(void)arg;
}

static void test_errors(void **state)
{
	struct fx *f = *state;
	uint8_t perm[NPAGES];
	struct dmirror_cmd c = cmd(f, f->buf, NPAGES, f->bounce);
	unsigned long a = (unsigned long)f->buf;
	struct dmirror_cmd bad[] = {	/* no mm, unaligned, empty, past the end */
		{ .mm = NULL, .addr = a, .npages = 1, .ptr = f->bounce },
		{ .mm = f->mm, .addr = a + 1, .npages = 1, .ptr = f->bounce },
		{ .mm = f->mm, .addr = a, .npages = 0, .ptr = f->bounce },
		{ .mm = f->mm, .addr = a, .npages = ULONG_MAX / PG, .ptr = f->bounce },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(dmirror_read(f->dm, &bad[i]), -EINVAL);
		assert_int_equal(dmirror_write(f->dm, &bad[i]), -EINVAL);
		assert_int_equal(dmirror_transform(f->dm, &bad[i], nop, NULL), -EINVAL);
		assert_int_equal(dmirror_snapshot(f->dm, &bad[i], perm), -EINVAL);
	}
	assert_int_equal(dmirror_read(NULL, &c), -EINVAL);
	assert_int_equal(dmirror_read(f->dm, NULL), -EINVAL);
	assert_int_equal(dmirror_write(NULL, &c), -EINVAL);
	assert_int_equal(dmirror_snapshot(NULL, &c, perm), -EINVAL);
	assert_int_equal(dmirror_snapshot(f->dm, NULL, perm), -EINVAL);
	assert_int_equal(dmirror_snapshot(f->dm, &c, NULL), -EINVAL);
	assert_int_equal(dmirror_transform(f->dm, &c, NULL, NULL), -EINVAL);
	assert_int_equal(dmirror_release(NULL), -EINVAL);
	c.ptr = NULL;
	assert_int_equal(dmirror_read(f->dm, &c), -EINVAL);
	assert_int_equal(dmirror_write(f->dm, &c), -EINVAL);
	c.ptr = f->bounce;

	/* read-only memory: read yes, write -EPERM; PROT_NONE: -EFAULT */
	fill(f->buf, NPAGES, 30);
	assert_int_equal(mprotect(f->buf, PG, PROT_READ), 0);
	assert_int_equal(mprotect(f->buf + PG, PG, PROT_NONE), 0);
	assert_int_equal(dev_read(f, f->dm, f->buf, 1, NULL, NULL), 0);
	c = cmd(f, f->buf, 1, f->bounce);
	assert_int_equal(dmirror_write(f->dm, &c), -EPERM);
	assert_int_equal(c.cpages, 0);
	assert_int_equal(dev_read(f, f->dm, f->buf + PG, 1, NULL, NULL), -EFAULT);
	assert_int_equal(mprotect(f->buf, 2 * PG, PROT_READ | PROT_WRITE), 0);
	check(f->buf, NPAGES, 30);

	/* unbound: every command -ENODEV */
	assert_int_equal(dmirror_unbind(f->dm), 0);
	c = cmd(f, f->buf, NPAGES, f->bounce);
	assert_int_equal(dmirror_read(f->dm, &c), -ENODEV);
	assert_int_equal(dmirror_write(f->dm, &c), -ENODEV);
	assert_int_equal(dmirror_transform(f->dm, &c, nop, NULL), -ENODEV);
	assert_int_equal(dmirror_snapshot(f->dm, &c, perm), -ENODEV);
	assert_int_equal(dmirror_release(f->dm), -ENODEV);
	assert_int_equal(dmirror_rebind(f->dm), 0);
	assert_int_equal(dmirror_read(f->dm, &c), 0);
	check(f->bounce, NPAGES, 30);
}

/* Out of memory for a new mirror: -ENOMEM, and the next command works. */
static void test_mirror_insert_fails(void **state)
{
	struct fx *f = *state;

	fill(f->buf, NPAGES, 31);
	assert_int_equal(zd_fault_inject_site("hmm.notifier"), 0);
	assert_int_equal(dev_read(f, f->dm, f->buf, NPAGES, NULL, NULL), -ENOMEM);
	zd_fault_inject_reset();
	assert_int_equal(dev_read(f, f->dm, f->buf, NPAGES, NULL, NULL), 0);
	check(f->bounce, NPAGES, 31);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_read_fills_mirror_once),
		T(test_write_through_mirror),
		T(test_munmap_invalidates),
		T(test_dontneed_invalidates),
		T(test_device_sees_app_writes),
		T(test_migrations_own_and_other),
		T(test_cpu_fault_takes_entry),
		T(test_mm_destroy_ends_mirror),
		T(test_unregister_invalidates),
		T(test_unbind_rebind_mirror),
		T(test_read_racing_munmap),
		T(test_write_racing_munmap),
		T(test_writes_racing_own_migration),
		T(test_release_brings_pages_home),
		T(test_snapshot_states),
		T(test_unmanaged_memory),
		T(test_transform_uses_mirror),
		T(test_errors),
		T(test_mirror_insert_fails),
	};

	test_capture_warnings();
	test_require_userfaultfd();
	return zd_run_tests(tests);
}
