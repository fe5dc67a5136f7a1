// SPDX-License-Identifier: MIT
/*
 * memremap_pages: one test per lifetime rule of the design brief (named
 * after it), then validation, altmap, mappings, page references, lookups.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>

#include "mm_util.h"

static atomic_int page_frees;

static void count_free(struct zd_page *page)
{
	atomic_fetch_add(&page_frees, 1);
}

static int fake_migrate(struct zd_vm_fault *vmf)
{
	return 0;
}

static const struct zd_dev_pagemap_ops ops = {
	.page_free = count_free,
	.migrate_to_ram = fake_migrate,
};

static int owner;

static int reset(void **state)
{
	atomic_store(&page_frees, 0);
	test_capture_warnings();
	zd_fault_inject_reset();
	return 0;
}

static void pgmap_init(struct zd_dev_pagemap *pgmap, enum zd_memory_type type,
		       uint64_t start, uint64_t len)
{
	memset(pgmap, 0, sizeof(*pgmap));
	pgmap->type = type;
	pgmap->nr_range = 1;
	pgmap->range.start = start;
	pgmap->range.end = start + len - 1;
	pgmap->ops = &ops;
	pgmap->owner = &owner;
}

static void assert_gone(uint64_t start, uint64_t len)
{
	for (uint64_t a = start; a < start + len; a += MiB(2)) {
		assert_null(zd_get_dev_pagemap(phys_pfn(a), NULL));
		assert_false(zd_pfn_valid(phys_pfn(a)));
	}
}

static void test_generic_anon_basics(void **state)
{
	struct zd_dev_pagemap *pgmap = test_pgmap();
	unsigned long pfn = phys_pfn(DEV_BASE);
	struct zd_page *page;
	char *va, perms[8];

	pgmap_init(pgmap, ZD_MEMORY_DEVICE_GENERIC, DEV_BASE, MiB(4));
	va = zd_memremap_pages(pgmap, ZD_NUMA_NO_NODE);
	assert_ptr_equal(va, zd_phys_to_virt(DEV_BASE));
	memset(va, 0x5a, MiB(4));		/* CPU-accessible */
	assert_string_equal(mapping_perms(va, perms), "rw-p");
	page = zd_pfn_to_page(pfn + 3);
	assert_true(zd_pfn_valid(pfn + 3));
	assert_ptr_equal(page->pgmap, pgmap);
	assert_int_equal(zd_page_ref_count(page), 1);
	assert_true(zd_is_zone_device_page(page));
	assert_false(zd_is_device_private_page(page));
	assert_int_equal(zd_page_to_pfn(page), pfn + 3);
	assert_ptr_equal(zd_page_address(page), va + 3 * zd_page_size());
	assert_int_equal(zd_virt_to_phys(va), DEV_BASE);
	assert_ptr_equal(zd_get_dev_pagemap(pfn, NULL), pgmap);
	zd_put_dev_pagemap(pgmap);
	zd_get_page(page);
	assert_int_equal(zd_pgmap_pages_in_use(pgmap), 1);
	zd_put_page(page);
	assert_int_equal(zd_pgmap_pages_in_use(pgmap), 0);
	assert_true(zd_pgmap_pfn_valid(pgmap, pfn));
	assert_false(zd_pgmap_pfn_valid(pgmap, pfn + phys_pfn(MiB(4))));
	zd_memunmap_pages(pgmap);
	assert_gone(DEV_BASE, MiB(4));
	assert_string_equal(mapping_perms(va, perms), "---p");
}

/* ---- rule 1: teardown waits for every reference before removing ------ */

struct holder {
	struct zd_dev_pagemap *pgmap;
	atomic_int state;		/* 1: unmap started, 2: unmap done */
};

static void *unmapper(void *arg)
{
	struct holder *h = arg;

	atomic_store(&h->state, 1);
	zd_memunmap_pages(h->pgmap);
	atomic_store(&h->state, 2);
	return NULL;
}

/*
 * The reference taken by @got stops @pgmap's teardown until it is put:
 * an unmapper thread kills the reference and then waits; @while_held (if
 * any) checks @pgmap in that window.
 */
static void assert_reference_held(struct zd_dev_pagemap *pgmap,
				  struct zd_dev_pagemap *got,
				  void (*while_held)(struct zd_dev_pagemap *))
{
	struct holder h = { pgmap, 0 };
	pthread_t t;

	assert_ptr_equal(got, pgmap);
	test_hold(got);
	pthread_create(&t, NULL, unmapper, &h);
	assert_true(wait_for(zd_percpu_ref_is_dying(&pgmap->ref)));
	test_sleep_us(20000);
	assert_int_equal(atomic_load(&h.state), 1);
	if (while_held)
		while_held(pgmap);
	test_unhold(got);
	zd_put_dev_pagemap(got);
	pthread_join(t, NULL);
	assert_int_equal(atomic_load(&h.state), 2);
}

/* Killed: no new references; but nothing removed while one is out. */
static void killed_not_removed(struct zd_dev_pagemap *pgmap)
{
	unsigned long pfn = phys_pfn(pgmap->range.start);

	assert_null(zd_get_dev_pagemap(pfn, NULL));
	assert_true(zd_pfn_valid(pfn));
	assert_ptr_equal(zd_pfn_to_page(pfn)->pgmap, pgmap);
}

static void test_rule1_teardown_waits_for_references(void **state)
{
	struct zd_dev_pagemap *pgmap = test_pgmap();
	struct zd_dev_pagemap *got;

	pgmap_init(pgmap, ZD_MEMORY_DEVICE_GENERIC, DEV_BASE, MiB(2));
	assert_non_null(zd_memremap_pages(pgmap, 0));
	got = zd_get_dev_pagemap(phys_pfn(DEV_BASE), NULL);
	assert_reference_held(pgmap, got, killed_not_removed);
	assert_gone(DEV_BASE, MiB(2));
}

/* ---- rule 2: shutdown with page references out blocks, then completes -- */

struct drv_state {
	struct zd_dev_pagemap pgmap[2];
	int nr;
};

static struct drv_state drv_state;

static int two_bar_probe(struct zd_device *dev)
{
	for (int i = 0; i < drv_state.nr; i++) {
		struct zd_dev_pagemap *p = &drv_state.pgmap[i];

		pgmap_init(p, i ? ZD_MEMORY_DEVICE_PCI_P2PDMA :
			   ZD_MEMORY_DEVICE_PRIVATE, DEV_BASE + i * GiB(1), MiB(4));
		if (!zd_devm_memremap_pages(dev, p))
			return -errno;
	}
	return 0;
}

static struct zd_driver two_bar = { "two-bar", two_bar_probe, NULL };

static void *unbinder(void *arg)
{
	zd_device_unbind(arg);
	return NULL;
}

static void test_rule2_shutdown_with_page_references_out(void **state)
{
	struct zd_device *dev;
	struct zd_dev_pagemap *priv = &drv_state.pgmap[0];
	struct zd_page *page;
	pthread_t t;

	drv_state.nr = 1;
	dev = test_device("rule2");
	assert_int_equal(zd_device_bind(dev, &two_bar), 0);
	page = zd_pfn_to_page(phys_pfn(DEV_BASE) + 7);
	assert_int_equal(zd_page_ref_count(page), 0);		/* free */
	assert_int_equal(zd_zone_device_page_init(page), 0);	/* handed out */
	assert_int_equal(zd_pgmap_pages_in_use(priv), 1);
	pthread_create(&t, NULL, unbinder, dev);
	while (!zd_percpu_ref_is_dying(&priv->ref))
		test_sleep_us(100);
	test_sleep_us(50000);
	assert_true(zd_device_is_bound(dev));		/* waiting, legally */
	assert_true(zd_pfn_valid(phys_pfn(DEV_BASE)));
	/* a new page cannot be handed out from a dying pgmap */
	assert_warns("torn down", assert_int_equal(
		zd_zone_device_page_init(page + 1), -ENODEV));
	zd_put_page(page);				/* the last user */
	pthread_join(t, NULL);
	assert_int_equal(atomic_load(&page_frees), 1);
	assert_false(zd_device_is_bound(dev));
	assert_gone(DEV_BASE, MiB(4));
	test_device_unregister(dev);
}

/* ---- rule 3: several pgmaps of one owner each own their reference ----- */

static void *hold_then_put(void *arg)
{
	test_sleep_us(100000);
	zd_put_dev_pagemap(arg);
	return NULL;
}

static void test_rule3_two_pgmaps_no_shared_reference(void **state)
{
	struct zd_device *dev;
	struct zd_dev_pagemap *a = &drv_state.pgmap[0], *b = &drv_state.pgmap[1];
	struct zd_dev_pagemap *ra, *rb;
	pthread_t t, pa, pb;

	drv_state.nr = 2;
	dev = test_device("rule3");
	assert_int_equal(zd_device_bind(dev, &two_bar), 0);
	assert_ptr_not_equal(&a->ref, &b->ref);
	ra = zd_get_dev_pagemap(phys_pfn(a->range.start), NULL);
	rb = zd_get_dev_pagemap(phys_pfn(b->range.start), NULL);
	assert_ptr_equal(ra, a);
	assert_ptr_equal(rb, b);
	/* the seed-000 deadlock: with one reference for both, the first
	 * release would wait for what only the second release drops */
	pthread_create(&t, NULL, unbinder, dev);
	pthread_create(&pb, NULL, hold_then_put, rb);
	pthread_create(&pa, NULL, hold_then_put, ra);
	for (int i = 0; i < 1000 && zd_device_is_bound(dev); i++)
		test_sleep_us(10000);
	if (zd_device_is_bound(dev))
		fail_msg("unbind of a two-pgmap device did not finish: deadlock");
	pthread_join(t, NULL);
	pthread_join(pa, NULL);
	pthread_join(pb, NULL);
	assert_gone(a->range.start, MiB(4));
	assert_gone(b->range.start, MiB(4));
	test_device_unregister(dev);
}

/* ---- rule 4: every setup step can fail and leaves nothing behind ------ */

static void multi_range(struct zd_dev_pagemap *p, int fd)
{
	p->type = ZD_MEMORY_DEVICE_GENERIC;
	p->nr_range = 3;
	for (int i = 0; i < 3; i++) {
		p->ranges[i].start = DEV_BASE + i * MiB(256);
		p->ranges[i].end = p->ranges[i].start + MiB(2) * (i + 1) - 1;
	}
	p->backing.kind = ZD_BACKING_FD;
	p->backing.fd = fd;
}

static void assert_multi_gone(struct zd_dev_pagemap *p)
{
	char perms[8];

	for (int i = 0; i < 3; i++) {
		assert_gone(p->ranges[i].start, MiB(2) * (i + 1));
		assert_string_equal(mapping_perms(zd_phys_to_virt(p->ranges[i].start),
						  perms), "---p");
	}
}

static void test_rule4_failure_at_every_step_unwinds(void **state)
{
	struct zd_dev_pagemap *p = test_pgmap();
	int fd = memfd_of(MiB(12));
	unsigned long steps;

	/* first-use setup (address space, this thread's counters, the zd-rcu
	 * worker) happens once: warm it up so that every step counts alike */
	multi_range(p, fd);
	assert_non_null(zd_memremap_pages(p, 0));
	zd_memunmap_pages(p);
	multi_range(p, fd);
	zd_fault_inject_nth(0, NULL);
	assert_non_null(zd_memremap_pages(p, 0));
	steps = zd_fault_inject_calls();
	zd_fault_inject_reset();
	assert_true(steps >= 8);
	zd_memunmap_pages(p);
	assert_multi_gone(p);
	for (unsigned long i = 1; i <= steps; i++) {
		multi_range(p, fd);
		zd_fault_inject_nth(i, NULL);
		errno = 0;
		assert_null(zd_memremap_pages(p, 0));
		assert_int_equal(errno, ENOMEM);
		assert_int_equal(zd_fault_inject_hits(), 1);
		zd_fault_inject_reset();
		assert_int_equal(p->nr_range, 3);	/* restored for the caller */
		assert_multi_gone(p);
	}
	/* the same ranges map again, and the data path works */
	multi_range(p, fd);
	char *va = zd_memremap_pages(p, 0);
	assert_non_null(va);
	strcpy(zd_phys_to_virt(p->ranges[2].start), "third range");
	char buf[16];
	assert_int_equal(pread(fd, buf, 12, (off_t)MiB(6)), 12);
	assert_string_equal(buf, "third range");
	zd_memunmap_pages(p);
	test_close(fd);
}

/* ---- rule 5: System RAM, fully or partly, is refused ---------------- */

static void test_rule5_system_ram_refused(void **state)
{
	struct zd_dev_pagemap *p = test_pgmap();

	pgmap_init(p, ZD_MEMORY_DEVICE_GENERIC, GiB(4), MiB(2));
	errno = 0;
	assert_warns("overlaps System RAM", assert_null(zd_memremap_pages(p, 0)));
	assert_int_equal(errno, ENXIO);
	/* straddling the end of "System RAM" at 0x47fffffff */
	pgmap_init(p, ZD_MEMORY_DEVICE_GENERIC, 0x480000000ull - MiB(2), MiB(4));
	errno = 0;
	assert_warns("overlaps System RAM", assert_null(zd_memremap_pages(p, 0)));
	assert_int_equal(errno, ENXIO);
	/* straddling RAM and the PCI window: mixed */
	pgmap_init(p, ZD_MEMORY_DEVICE_GENERIC, 0x80000000ull - MiB(2), MiB(4));
	errno = 0;
	assert_warns("overlaps System RAM and other resources",
		     assert_null(zd_memremap_pages(p, 0)));
	assert_int_equal(errno, ENXIO);
	assert_gone(0x480000000ull, MiB(2));
	/* the PCI window is not RAM: BARs may be mapped there */
	pgmap_init(p, ZD_MEMORY_DEVICE_PCI_P2PDMA, 0xc0000000ull, MiB(2));
	assert_non_null(zd_memremap_pages(p, 0));
	zd_memunmap_pages(p);
}

/* ---- rule 6: hotplug writes are serialised against readers ----------- */

static void *mapper(void *arg)
{
	struct holder *h = arg;

	atomic_store(&h->state, 1);
	assert_non_null(zd_memremap_pages(h->pgmap, 0));
	atomic_store(&h->state, 2);
	return NULL;
}

static void test_rule6_hotplug_serialised(void **state)
{
	struct zd_dev_pagemap *a = test_pgmap();
	struct zd_dev_pagemap *b = test_pgmap();
	struct holder ha = { a, 0 }, hb = { b, 0 };
	pthread_t ta, tb;

	pgmap_init(a, ZD_MEMORY_DEVICE_GENERIC, DEV_BASE, MiB(2));
	pgmap_init(b, ZD_MEMORY_DEVICE_FS_DAX, DEV_BASE + GiB(1), MiB(2));
	zd_get_online_mems();			/* a reader of the layout */
	pthread_create(&ta, NULL, mapper, &ha);
	pthread_create(&tb, NULL, mapper, &hb);
	test_sleep_us(50000);
	assert_int_equal(atomic_load(&ha.state), 1);	/* held off */
	assert_int_equal(atomic_load(&hb.state), 1);
	assert_false(zd_pfn_valid(phys_pfn(DEV_BASE)));
	zd_put_online_mems();
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	assert_true(zd_pfn_valid(phys_pfn(DEV_BASE)));
	assert_true(zd_pfn_valid(phys_pfn(DEV_BASE + GiB(1))));
	zd_memunmap_pages(a);
	zd_memunmap_pages(b);
}

/* ---- validation ------------------------------------------------------ */

static void expect_einval(struct zd_dev_pagemap *p, const char *why)
{
	errno = 0;
	assert_warns(why, assert_null(zd_memremap_pages(p, 0)));
	assert_int_equal(errno, EINVAL);
}

static void test_validation(void **state)
{
	struct zd_dev_pagemap *p = test_pgmap();
	struct zd_dev_pagemap_ops no_free = { .migrate_to_ram = fake_migrate };
	struct zd_dev_pagemap_ops no_migrate = { .page_free = count_free };

	pgmap_init(p, ZD_MEMORY_DEVICE_PRIVATE, DEV_BASE, MiB(2));
	p->ops = &no_migrate;
	expect_einval(p, "without ops->migrate_to_ram");
	p->ops = &no_free;
	expect_einval(p, "without ops->page_free");
	p->ops = &ops;
	p->owner = NULL;
	expect_einval(p, "DEVICE_PRIVATE pgmap without owner");
	pgmap_init(p, ZD_MEMORY_DEVICE_COHERENT, DEV_BASE, MiB(2));
	p->ops = NULL;
	expect_einval(p, "DEVICE_COHERENT pgmap without ops->page_free");
	p->ops = &ops;
	p->owner = NULL;
	expect_einval(p, "DEVICE_COHERENT pgmap without owner");
	pgmap_init(p, (enum zd_memory_type)0, DEV_BASE, MiB(2));
	expect_einval(p, "invalid pgmap type 0");
	pgmap_init(p, (enum zd_memory_type)9, DEV_BASE, MiB(2));
	expect_einval(p, "invalid pgmap type 9");
	pgmap_init(p, ZD_MEMORY_DEVICE_GENERIC, DEV_BASE, MiB(2));
	p->nr_range = 0;
	expect_einval(p, "nr_range must be at least 1");
	pgmap_init(p, ZD_MEMORY_DEVICE_GENERIC, DEV_BASE + 4096, MiB(2));
	expect_einval(p, "is not 2 MiB (subsection) aligned");
	pgmap_init(p, ZD_MEMORY_DEVICE_GENERIC, DEV_BASE, MiB(3));
	expect_einval(p, "[mem 0x1000000000-0x10002fffff] is not 2 MiB");
	pgmap_init(p, ZD_MEMORY_DEVICE_GENERIC,
		   1ull << zd_max_physmem_bits(), MiB(2));
	errno = 0;
	assert_warns("physical space", assert_null(zd_memremap_pages(p, 0)));
	assert_int_equal(errno, ERANGE);
	assert_warns("NULL pgmap", assert_null(zd_memremap_pages(NULL, 0)));
	assert_warns("not mapped", zd_memunmap_pages(p));
}

static void test_conflict_names_the_other(void **state)
{
	struct zd_device *dev = test_device("owner-dev");
	struct zd_dev_pagemap *a = test_pgmap();
	struct zd_dev_pagemap *b = test_pgmap();

	pgmap_init(a, ZD_MEMORY_DEVICE_FS_DAX, DEV_BASE, MiB(8));
	a->dev = dev;
	assert_non_null(zd_memremap_pages(a, 0));
	/* overlapping the tail, in a shared section */
	pgmap_init(b, ZD_MEMORY_DEVICE_GENERIC, DEV_BASE + MiB(6), MiB(4));
	errno = 0;
	assert_warns("already mapped by the FS_DAX pgmap of owner-dev",
		     assert_null(zd_memremap_pages(b, 0)));
	assert_int_equal(errno, EEXIST);
	/* a neighbour in the same section is fine */
	pgmap_init(b, ZD_MEMORY_DEVICE_GENERIC, DEV_BASE + MiB(8), MiB(4));
	assert_non_null(zd_memremap_pages(b, 0));
	assert_ptr_equal(zd_get_dev_pagemap(phys_pfn(DEV_BASE + MiB(8)), NULL), b);
	zd_put_dev_pagemap(b);
	assert_ptr_equal(zd_get_dev_pagemap(phys_pfn(DEV_BASE + MiB(7)), NULL), a);
	zd_put_dev_pagemap(a);
	errno = 0;
	assert_warns("is already mapped", assert_null(zd_memremap_pages(b, 0)));
	assert_int_equal(errno, EBUSY);
	zd_memunmap_pages(a);
	assert_ptr_equal(zd_get_dev_pagemap(phys_pfn(DEV_BASE + MiB(8)), NULL), b);
	zd_put_dev_pagemap(b);
	zd_memunmap_pages(b);
	test_device_unregister(dev);
}

/* ---- altmap: the memmap in device memory, no host RAM --------------- */

static void test_altmap_memmap_costs_no_host_ram(void **state)
{
	uint64_t len = GiB(1);
	unsigned long nr = phys_pfn(len), memmap_pages = nr * 64 / zd_page_size();
	int fd = memfd_of(len);
	struct zd_dev_pagemap *p = test_pgmap();
	size_t memmap_len = nr * sizeof(struct zd_page);
	struct zd_page *memmap;

	pgmap_init(p, ZD_MEMORY_DEVICE_FS_DAX, DEV_BASE, len);
	p->backing.kind = ZD_BACKING_FD;
	p->backing.fd = fd;
	p->flags = ZD_PGMAP_ALTMAP_VALID;
	p->altmap.base_pfn = phys_pfn(DEV_BASE);
	p->altmap.reserve = 16;			/* a label area */
	p->altmap.free = memmap_pages;
	assert_non_null(zd_memremap_pages(p, 0));
	memmap = zd_pfn_to_page(phys_pfn(DEV_BASE));
	/* 16 MiB of memmap, written and so resident, but in the device's
	 * memory: none of it anonymous.  Measured on the memmap's own
	 * mappings (a sanitizer's shadow of it is the process's) */
	assert_true(smaps_kb(memmap, memmap_len, "Rss:") >= 15 * 1024);
	assert_int_equal(smaps_kb(memmap, memmap_len, "Anonymous:"), 0);
	assert_int_equal(p->altmap.alloc, memmap_pages);
	assert_int_equal(zd_vmem_altmap_offset(&p->altmap), 16 + memmap_pages);
	assert_false(zd_pgmap_pfn_valid(p, phys_pfn(DEV_BASE)));
	assert_true(zd_pgmap_pfn_valid(p, phys_pfn(DEV_BASE) + 16 + memmap_pages));
	/* the memmap really lives in the device's memory */
	struct zd_page *page = zd_pfn_to_page(phys_pfn(DEV_BASE) + nr - 1);
	struct zd_page copy;
	assert_int_equal(pread(fd, &copy, sizeof(copy), (off_t)(16 * zd_page_size() +
			 (nr - 1) * sizeof(copy))), sizeof(copy));
	assert_ptr_equal(copy.pgmap, page->pgmap);
	assert_ptr_equal(copy.pgmap, p);
	zd_memunmap_pages(p);
	assert_int_equal(p->altmap.alloc, 0);
	/* too little free space for the memmap */
	p->altmap.free = memmap_pages - 1;
	errno = 0;
	assert_warns("altmap: the memmap needs", assert_null(zd_memremap_pages(p, 0)));
	assert_int_equal(errno, ENOMEM);
	/* an altmap needs somewhere to put the memmap */
	p->altmap.free = memmap_pages;
	p->backing.kind = ZD_BACKING_ANON;
	expect_einval(p, "altmap needs a file or memfd backing");
	test_close(fd);
}

static void test_altmap_multiple_ranges_refused(void **state)
{
	struct zd_dev_pagemap *p = test_pgmap();

	multi_range(p, memfd_of(MiB(12)));
	p->nr_range = 2;
	p->flags = ZD_PGMAP_ALTMAP_VALID;
	p->altmap.base_pfn = phys_pfn(DEV_BASE);
	p->altmap.free = 8;
	expect_einval(p, "altmap not supported for multiple ranges");
	test_close(p->backing.fd);
}

/* ---- mappings: the memmap faults after teardown; files persist ------- */

static void test_memmap_faults_after_teardown(void **state)
{
#ifdef __SANITIZE_THREAD__
	skip();		/* fork() and SIGSEGV in a TSan child: not supported */
#endif
	struct zd_dev_pagemap *p = test_pgmap();
	struct zd_page *page;
	int status;
	pid_t pid;

	pgmap_init(p, ZD_MEMORY_DEVICE_GENERIC, DEV_BASE, MiB(2));
	assert_non_null(zd_memremap_pages(p, 0));
	page = zd_pfn_to_page(phys_pfn(DEV_BASE));
	assert_int_equal(zd_page_ref_count(page), 1);
	zd_memunmap_pages(p);
	pid = fork();
	if (pid == 0) {
		signal(SIGSEGV, SIG_DFL);
		volatile int v = zd_page_ref_count(page);	/* stale */
		(void)v;
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGSEGV);
}

static void test_fsdax_file_backing_persists(void **state)
{
	char path[64], buf[32] = "";
	int fd = test_tmpfile(MiB(4), path);
	struct zd_dev_pagemap *p = test_pgmap();
	char *va;

	pgmap_init(p, ZD_MEMORY_DEVICE_FS_DAX, DEV_BASE, MiB(4));
	p->backing.kind = ZD_BACKING_FD;
	p->backing.fd = fd;
	va = zd_memremap_pages(p, 0);
	strcpy(va + MiB(3), "persistent bytes");
	zd_memunmap_pages(p);
	test_close(fd);
	fd = open(path, O_RDONLY);
	assert_int_equal(pread(fd, buf, 17, (off_t)MiB(3)), 17);
	close(fd);
	assert_string_equal(buf, "persistent bytes");
}

/* ---- page references -------------------------------------------------- */

static void test_page_refs(void **state)
{
	struct zd_dev_pagemap *priv = test_pgmap();
	struct zd_dev_pagemap *dax = test_pgmap();
	struct zd_page *pp, *dp, fake;

	pgmap_init(priv, ZD_MEMORY_DEVICE_PRIVATE, DEV_BASE, MiB(2));
	pgmap_init(dax, ZD_MEMORY_DEVICE_FS_DAX, DEV_BASE + MiB(2), MiB(2));
	assert_non_null(zd_memremap_pages(priv, 0));
	assert_non_null(zd_memremap_pages(dax, 0));
	pp = zd_pfn_to_page(phys_pfn(DEV_BASE));
	dp = zd_pfn_to_page(phys_pfn(DEV_BASE + MiB(2)));
	assert_true(zd_is_device_private_page(pp));
	/* private: free at zero, handed out at one, freed back at zero */
	assert_warns("is free", zd_get_page(pp));
	assert_warns("put below 0", zd_put_page(pp));
	assert_int_equal(zd_zone_device_page_init(pp), 0);
	assert_true(atomic_load(&pp->flags) & ZD_PG_LOCKED);
	zd_unlock_page(pp);
	zd_get_page(pp);
	zd_put_page(pp);
	assert_int_equal(atomic_load(&page_frees), 0);
	pp->mapping = (void *)0x1;
	zd_put_page(pp);
	assert_int_equal(atomic_load(&page_frees), 1);
	assert_null(pp->mapping);		/* cleared for the next user */
	assert_int_equal(zd_page_ref_count(pp), 0);
	/* fsdax counts from one: one is idle, never free */
	zd_get_page(dp);
	zd_put_page(dp);
	assert_int_equal(zd_page_ref_count(dp), 1);
	assert_warns("put below 1", zd_put_page(dp));
	assert_int_equal(zd_page_ref_count(dp), 1);
	assert_int_equal(atomic_load(&page_frees), 1);
	/* the raw counters */
	zd_page_ref_add(dp, 3);
	zd_page_ref_sub(dp, 1);
	assert_int_equal(zd_page_ref_sub_return(dp, 2), 1);
	zd_set_page_count(dp, 2);
	assert_false(zd_page_ref_dec_and_test(dp));
	/* not ZONE_DEVICE */
	memset(&fake, 0, sizeof(fake));
	assert_warns("is not a ZONE_DEVICE page", zd_put_page(&fake));
	assert_warns("is not a ZONE_DEVICE page", zd_get_page(&fake));
	assert_warns("NULL page", zd_put_page(NULL));
	assert_warns("is not a ZONE_DEVICE page", assert_int_equal(
		zd_zone_device_page_init(&fake), -EINVAL));
	assert_false(zd_is_zone_device_page(&fake));
	zd_memunmap_pages(priv);
	zd_memunmap_pages(dax);
}

static void test_compound_pages(void **state)
{
	struct zd_dev_pagemap *p = test_pgmap();
	unsigned long pfn = phys_pfn(DEV_BASE), order = 21 - zd_page_shift;
	struct zd_page *head, *tail;

	pgmap_init(p, ZD_MEMORY_DEVICE_GENERIC, DEV_BASE, MiB(4));
	p->vmemmap_shift = order;
	assert_non_null(zd_memremap_pages(p, 0));
	head = zd_pfn_to_page(pfn + (1ul << order));
	tail = head + 5;
	assert_true(atomic_load(&head->flags) & ZD_PG_HEAD);
	assert_true(atomic_load(&tail->flags) & ZD_PG_TAIL);
	assert_ptr_equal(tail->compound_head, head);
	assert_int_equal(zd_page_ref_count(tail), 0);
	/* one reference per compound page: two here */
	zd_memunmap_pages(p);
	assert_gone(DEV_BASE, MiB(4));
}

static void test_cached_lookup(void **state)
{
	struct zd_dev_pagemap *a = test_pgmap();
	struct zd_dev_pagemap *b = test_pgmap();
	struct zd_dev_pagemap *got;

	pgmap_init(a, ZD_MEMORY_DEVICE_GENERIC, DEV_BASE, MiB(2));
	pgmap_init(b, ZD_MEMORY_DEVICE_GENERIC, DEV_BASE + GiB(2), MiB(2));
	assert_non_null(zd_memremap_pages(a, 0));
	assert_non_null(zd_memremap_pages(b, 0));
	got = zd_get_dev_pagemap(phys_pfn(DEV_BASE), NULL);
	assert_ptr_equal(zd_get_dev_pagemap(phys_pfn(DEV_BASE) + 1, got), a);
	/* not covered: the cached reference is dropped, b looked up */
	got = zd_get_dev_pagemap(phys_pfn(DEV_BASE + GiB(2)), got);
	assert_ptr_equal(got, b);
	zd_put_dev_pagemap(got);
	assert_null(zd_get_dev_pagemap(phys_pfn(DEV_BASE + GiB(3)), NULL));
	zd_memunmap_pages(a);	/* would hang if a reference had leaked */
	zd_memunmap_pages(b);
}

/* Holds what it finds at @arg's first pfn, on a thread that has no
 * counter area: it looks up in an RCU read section instead. */
static void *lookup_without_area(void *arg)
{
	struct zd_dev_pagemap *p = arg;

	assert_null(zd_get_dev_pagemap(phys_pfn(p->range.end) + 1, NULL));
	return zd_get_dev_pagemap(phys_pfn(p->range.start), NULL);
}

static void test_lookup_on_a_thread_without_counter_area(void **state)
{
	struct zd_dev_pagemap *pgmap = test_pgmap();
	struct zd_dev_pagemap *got;
	unsigned long warns = zd_warn_count();
	pthread_t t;

	pgmap_init(pgmap, ZD_MEMORY_DEVICE_GENERIC, DEV_BASE, MiB(2));
	assert_non_null(zd_memremap_pages(pgmap, 0));
	zd_fault_inject_site("pcpu.get");
	pthread_create(&t, NULL, lookup_without_area, pgmap);
	pthread_join(t, (void **)&got);
	/* it had no area (without membarrier no thread has one) */
	assert_true(zd_fault_inject_hits() > 0 || test_no_membarrier());
	zd_fault_inject_reset();
	assert_reference_held(pgmap, got, NULL);
	assert_int_equal(zd_warn_count(), warns);
}

/* A ref out of per-thread mode: the lookup leaves its fast path and
 * counts on the atomic counter instead. */
static void test_lookup_of_a_ref_in_atomic_mode(void **state)
{
	struct zd_dev_pagemap *pgmap = test_pgmap();
	struct zd_dev_pagemap *got;
	unsigned long warns = zd_warn_count();

	pgmap_init(pgmap, ZD_MEMORY_DEVICE_GENERIC, DEV_BASE, MiB(2));
	assert_non_null(zd_memremap_pages(pgmap, 0));
	zd_percpu_ref_switch_to_atomic_sync(&pgmap->ref);
	got = zd_get_dev_pagemap(phys_pfn(DEV_BASE), NULL);
	assert_reference_held(pgmap, got, NULL);
	assert_int_equal(zd_warn_count(), warns);
}

static int count_pgmaps(struct zd_dev_pagemap *p, void *arg)
{
	(*(int *)arg)++;
	return 0;
}

static void test_listing(void **state)
{
	struct zd_dev_pagemap *a = test_pgmap();
	int n = 0;

	pgmap_init(a, ZD_MEMORY_DEVICE_GENERIC, DEV_BASE, MiB(2));
	assert_int_equal(zd_pgmap_for_each(count_pgmaps, &n), 0);
	assert_int_equal(n, 0);
	assert_non_null(zd_memremap_pages(a, 0));
	assert_int_equal(zd_pgmap_for_each(count_pgmaps, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(zd_memory_type_name(a->type), "GENERIC");
	assert_string_equal(zd_memory_type_name((enum zd_memory_type)42),
			    "INVALID");
	zd_memunmap_pages(a);
}

/* What zd_get_dev_pagemap() finds at @phys, its reference dropped. */
static struct zd_dev_pagemap *found_at(uint64_t phys)
{
	struct zd_dev_pagemap *p = zd_get_dev_pagemap(phys_pfn(phys), NULL);

	zd_put_dev_pagemap(p);
	return p;
}

/*
 * The lookup keeps one word per 128 MiB section for a single run of one
 * pgmap and a table when a section is shared: ranges at a run's edges, a
 * pgmap whose two ranges share a section with another pgmap between them,
 * a range across a section boundary, and the way back as each goes.
 */
static void test_lookup_runs_and_shared_sections(void **state)
{
	const uint64_t sec = DEV_BASE + MiB(128);
	struct zd_dev_pagemap *a = test_pgmap();
	struct zd_dev_pagemap *b = test_pgmap();
	struct zd_dev_pagemap *c = test_pgmap();

	pgmap_init(b, ZD_MEMORY_DEVICE_GENERIC, sec + MiB(64), MiB(4));
	assert_non_null(zd_memremap_pages(b, 0));	/* alone: a run */
	assert_ptr_equal(found_at(sec + MiB(64)), b);
	assert_ptr_equal(found_at(sec + MiB(68) - 1), b);
	assert_null(found_at(sec + MiB(64) - 1));
	assert_null(found_at(sec + MiB(68)));
	assert_null(found_at(sec));

	pgmap_init(a, ZD_MEMORY_DEVICE_GENERIC, sec + MiB(60), MiB(4));
	a->nr_range = 2;		/* around b: the section gets a table */
	a->ranges[1].start = sec + MiB(70);
	a->ranges[1].end = sec + MiB(72) - 1;
	assert_non_null(zd_memremap_pages(a, 0));
	assert_ptr_equal(found_at(sec + MiB(60)), a);
	assert_ptr_equal(found_at(sec + MiB(64) - 1), a);
	assert_ptr_equal(found_at(sec + MiB(64)), b);
	assert_null(found_at(sec + MiB(68)));
	assert_ptr_equal(found_at(sec + MiB(71)), a);
	assert_null(found_at(sec + MiB(72)));

	pgmap_init(c, ZD_MEMORY_DEVICE_GENERIC, sec + MiB(126), MiB(4));
	assert_non_null(zd_memremap_pages(c, 0));	/* across sections */
	assert_ptr_equal(found_at(sec + MiB(127)), c);
	assert_ptr_equal(found_at(sec + MiB(129)), c);
	assert_null(found_at(sec + MiB(130)));

	zd_memunmap_pages(b);
	assert_null(found_at(sec + MiB(64)));
	assert_ptr_equal(found_at(sec + MiB(61)), a);
	assert_ptr_equal(found_at(sec + MiB(71)), a);
	zd_memunmap_pages(a);
	assert_gone(sec, MiB(126));
	assert_ptr_equal(found_at(sec + MiB(126)), c);
	zd_memunmap_pages(c);
	assert_gone(sec, MiB(132));
	/* the emptied sections take new pgmaps as before */
	pgmap_init(b, ZD_MEMORY_DEVICE_GENERIC, sec + MiB(62), MiB(8));
	assert_non_null(zd_memremap_pages(b, 0));
	assert_ptr_equal(found_at(sec + MiB(69)), b);
	zd_memunmap_pages(b);
}

/* ---- misuse and limits: detected, refused, and teardown still ends ---- */

/* zd_pfn_to_page() in main(), before any memremap */
static struct zd_page *page_before_init;

static void test_null_pointers_refused(void **state)
{
	/* the old base was NULL: page 1 was at address 64 */
	assert_true((uintptr_t)page_before_init > 0xffff000000000000ull);
	assert_warns("NULL pgmap", assert_int_equal(zd_pgmap_pages_in_use(NULL), 0));
	assert_warns("zd_page_ref_add: NULL page", zd_page_ref_add(NULL, 1));
	assert_warns("zd_page_ref_sub: NULL page", zd_page_ref_sub(NULL, 1));
	assert_warns("zd_set_page_count: NULL page", zd_set_page_count(NULL, 1));
	assert_warns("zd_page_ref_count: NULL page",
		     assert_int_equal(zd_page_ref_count(NULL), 0));
	assert_warns("NULL page", assert_int_equal(zd_page_ref_sub_return(NULL, 1), -1));
	assert_warns("NULL page", assert_false(zd_page_ref_dec_and_test(NULL)));
	assert_warns("NULL page", assert_int_equal(zd_zone_device_page_init(NULL),
						   -EINVAL));
	/* the inline helpers: one branch to an out-of-line report */
	assert_warns("zd_page_to_pfn: NULL page",
		     assert_true(zd_page_to_pfn(NULL) == ZD_PFN_NONE));
	assert_warns("zd_page_address: NULL page",
		     assert_null(zd_page_address(NULL)));
	assert_warns("zd_is_device_private_page: NULL page",
		     assert_false(zd_is_device_private_page(NULL)));
	assert_warns("NULL pgmap", assert_false(zd_pgmap_pfn_valid(NULL, 0)));
}

/* The raw counters refuse a step that would corrupt the count. */
static void test_page_ref_overflow_refused(void **state)
{
	struct zd_dev_pagemap *pgmap = test_pgmap();
	struct zd_page *page;

	pgmap_init(pgmap, ZD_MEMORY_DEVICE_GENERIC, DEV_BASE, MiB(2));
	assert_non_null(zd_memremap_pages(pgmap, ZD_NUMA_NO_NODE));
	page = zd_pfn_to_page(phys_pfn(DEV_BASE) + 1);
	assert_warns("overflow", zd_page_ref_add(page, INT_MAX));
	assert_int_equal(zd_page_ref_count(page), 1);
	assert_warns("below zero", zd_page_ref_sub(page, 2));
	assert_int_equal(zd_page_ref_count(page), 1);
	assert_warns("below zero",
		     assert_int_equal(zd_page_ref_sub_return(page, 2), -1));
	assert_int_equal(zd_page_ref_count(page), 1);
	assert_no_warn(assert_int_equal(zd_page_ref_sub_return(page, 1), 0));
	assert_warns("below zero", assert_false(zd_page_ref_dec_and_test(page)));
	assert_int_equal(zd_page_ref_count(page), 0);
	assert_warns("negative count", zd_set_page_count(page, -1));
	assert_int_equal(zd_page_ref_count(page), 0);
	assert_no_warn(zd_set_page_count(page, 1));
	zd_memunmap_pages(pgmap);
	assert_warns("not mapped",
		     assert_int_equal(zd_pgmap_pages_in_use(pgmap), 0));
}

static void test_unknown_pgmap_flags_refused(void **state)
{
	struct zd_dev_pagemap *pgmap = test_pgmap();

	pgmap_init(pgmap, ZD_MEMORY_DEVICE_GENERIC, DEV_BASE, MiB(2));
	pgmap->flags = 1u << 7;
	errno = 0;
	assert_warns("unknown flags 0x80",
		     assert_null(zd_memremap_pages(pgmap, ZD_NUMA_NO_NODE)));
	assert_int_equal(errno, EINVAL);
	assert_null(zd_get_dev_pagemap(phys_pfn(DEV_BASE), NULL));
}

static void test_backing_checked(void **state)
{
	struct zd_dev_pagemap *p = test_pgmap();
	char path[64];
	int fd;

	pgmap_init(p, ZD_MEMORY_DEVICE_GENERIC, DEV_BASE, MiB(4));
	p->backing.kind = (enum zd_backing_kind)7;
	expect_einval(p, "backing.kind 7 is not");
	/* a mapping past the end of the file: SIGBUS on first touch */
	p->backing.kind = ZD_BACKING_FD;
	p->backing.fd = memfd_of(MiB(2));
	expect_einval(p, "is 2097152 bytes: the ranges need 4194304");
	fd = test_tmpfile(MiB(4), path);
	p->backing.fd = fd;
	p->backing.offset = MiB(2);
	expect_einval(p, "from backing.offset 2097152");
	p->backing.fd = 1000;			/* not open */
	expect_einval(p, "backing.fd 1000 cannot be used");
	/* long enough: fine, and every byte is there */
	p->backing.fd = fd;
	p->backing.offset = 0;
	assert_non_null(zd_memremap_pages(p, 0));
	memset(zd_phys_to_virt(DEV_BASE), 1, MiB(4));
	zd_memunmap_pages(p);
	/* an altmap's memmap is read from the file for private memory too */
	pgmap_init(p, ZD_MEMORY_DEVICE_PRIVATE, DEV_BASE, GiB(1));
	p->backing.kind = ZD_BACKING_FD;
	p->backing.fd = memfd_of(MiB(8));
	p->flags = ZD_PGMAP_ALTMAP_VALID;
	p->altmap.base_pfn = phys_pfn(DEV_BASE);
	p->altmap.free = phys_pfn(MiB(16));
	expect_einval(p, "the ranges need 16777216");
}

/* MemAvailable + SwapFree, in bytes */
static uint64_t host_available(void)
{
	FILE *f = fopen("/proc/meminfo", "r");
	unsigned long long kb, sum = 0;
	char line[128];

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1 ||
		    sscanf(line, "SwapFree: %llu kB", &kb) == 1)
			sum += kb;
	if (f)
		fclose(f);
	return sum << 10;
}

static void test_memmap_host_memory_cannot_back_refused(void **state)
{
	struct zd_dev_pagemap *p = test_pgmap();
	uint64_t avail = host_available(), len = GiB(1);

	/* a range whose memmap is twice what the host has */
	while (len / zd_page_size() * sizeof(struct zd_page) < 2 * avail)
		len <<= 1;
	if (DEV_BASE + len > 1ull << zd_max_physmem_bits()) {
		fprintf(stderr, "skipped: a memmap beyond %llu MiB of host memory "
			"needs a range beyond this %u-bit physical space\n",
			(unsigned long long)(avail >> 20), zd_max_physmem_bits());
		skip();
	}
	pgmap_init(p, ZD_MEMORY_DEVICE_PRIVATE, DEV_BASE, len);
	errno = 0;
	assert_warns("of host memory", assert_null(zd_memremap_pages(p, 0)));
	assert_int_equal(errno, ENOMEM);
	assert_gone(DEV_BASE, MiB(2));
}

/* memunmap of @p returns within ten seconds (a hang fails the test;
 * its thread is left behind). */
static void assert_unmaps(struct zd_dev_pagemap *p)
{
	struct holder h = { p, 0 };
	pthread_t t;

	pthread_create(&t, NULL, unmapper, &h);
	if (!wait_for(atomic_load(&h.state) == 2)) {
		pthread_detach(t);
		fail_msg("memunmap hangs");
	}
	pthread_join(t, NULL);
}

static void test_zone_device_page_init_misuse(void **state)
{
	struct zd_dev_pagemap *priv = test_pgmap(), *gen = test_pgmap();
	struct zd_page *page, *idle;

	pgmap_init(priv, ZD_MEMORY_DEVICE_PRIVATE, DEV_BASE, MiB(2));
	pgmap_init(gen, ZD_MEMORY_DEVICE_GENERIC, DEV_BASE + MiB(2), MiB(2));
	assert_non_null(zd_memremap_pages(priv, 0));
	assert_non_null(zd_memremap_pages(gen, 0));
	page = zd_pfn_to_page(phys_pfn(DEV_BASE));
	idle = zd_pfn_to_page(phys_pfn(DEV_BASE + MiB(2)));
	assert_int_equal(zd_zone_device_page_init(page), 0);
	assert_warns("is in use (count 1)", assert_int_equal(
		zd_zone_device_page_init(page), -EBUSY));
	assert_int_equal(zd_page_ref_count(page), 1);
	assert_warns("is a GENERIC page", assert_int_equal(
		zd_zone_device_page_init(idle), -EINVAL));
	assert_int_equal(zd_page_ref_count(idle), 1);
	zd_put_page(page);
	assert_int_equal(atomic_load(&page_frees), 1);
	/* no pgmap reference leaked: both tear down */
	assert_no_warn(assert_unmaps(priv));
	assert_no_warn(assert_unmaps(gen));
}

static void test_extra_put_dev_pagemap_teardown_ends(void **state)
{
	enum zd_memory_type types[] = { ZD_MEMORY_DEVICE_GENERIC,
					ZD_MEMORY_DEVICE_PRIVATE };

	for (int i = 0; i < 2; i++) {
		struct zd_dev_pagemap *p = test_pgmap();
		struct zd_dev_pagemap *got;

		pgmap_init(p, types[i], DEV_BASE, MiB(2));
		assert_non_null(zd_memremap_pages(p, 0));
		got = zd_get_dev_pagemap(phys_pfn(DEV_BASE), NULL);
		assert_ptr_equal(got, p);
		zd_put_dev_pagemap(got);
		zd_put_dev_pagemap(got);		/* one too many */
		assert_warns("1 more puts than gets", assert_unmaps(p));
		assert_gone(DEV_BASE, MiB(2));
	}
}

static char info_log[4096];
static pthread_mutex_t info_lock = PTHREAD_MUTEX_INITIALIZER;

static void log_info_too(enum zd_log_level level, const char *msg, void *arg)
{
	pthread_mutex_lock(&info_lock);
	if (level == ZD_LOG_INFO && strlen(info_log) + strlen(msg) + 2 <
	    sizeof(info_log)) {
		strcat(info_log, msg);
		strcat(info_log, "\n");
	}
	pthread_mutex_unlock(&info_lock);
	if (level == ZD_LOG_WARN)	/* the reports come from the unmapper */
		test_log(level, msg, arg);
}

static bool info_has(const char *needle)
{
	bool has;

	pthread_mutex_lock(&info_lock);
	has = strstr(info_log, needle);
	pthread_mutex_unlock(&info_lock);
	return has;
}

static int find_dying(struct zd_dev_pagemap *p, void *arg)
{
	return p == arg && zd_percpu_ref_is_dying(&p->ref);
}

static void test_waiting_teardown_reports_and_is_listed(void **state)
{
	struct zd_device *dev = test_device("hung-dev");
	struct zd_dev_pagemap *p = test_pgmap(), *got;
	struct holder h;
	pthread_t t;

	info_log[0] = 0;
	zd_set_log(log_info_too, NULL);
	setenv("ZONEDEV_HUNG_REPORT_MS", "100", 1);
	pgmap_init(p, ZD_MEMORY_DEVICE_GENERIC, DEV_BASE, MiB(2));
	p->dev = dev;
	assert_non_null(zd_memremap_pages(p, 0));
	got = test_hold(zd_get_dev_pagemap(phys_pfn(DEV_BASE), NULL));
	h = (struct holder){ p, 0 };
	pthread_create(&t, NULL, unmapper, &h);
	assert_true(wait_for(info_has("memunmap of the GENERIC pgmap "
				      "[mem 0x1000000000-0x10001fffff] of "
				      "hung-dev has waited")));
	assert_true(info_has("held elsewhere; out: 1\n"));
	assert_int_equal(atomic_load(&h.state), 1);
	/* listed while it waits, as dying */
	assert_int_equal(zd_pgmap_for_each(find_dying, p), 1);
	assert_warns("already being torn down", zd_memunmap_pages(p));
	test_unhold(got);
	zd_put_dev_pagemap(got);
	pthread_join(t, NULL);
	unsetenv("ZONEDEV_HUNG_REPORT_MS");
	assert_int_equal(zd_pgmap_for_each(find_dying, p), 0);
	assert_gone(DEV_BASE, MiB(2));
}

/*
 * Take every mapping the process may still have (vm.max_map_count): one
 * PROT_NONE block, every other page made readable until the kernel
 * refuses the split.  Unmapped whole, it gives them all back.
 */
static char *fill_map_count(size_t *len)
{
	FILE *f = fopen("/proc/sys/vm/max_map_count", "r");
	size_t page = zd_page_size(), pages;
	long max = 0;
	char *p;

	if (!f || fscanf(f, "%ld", &max) != 1)
		max = 65530;
	if (f)
		fclose(f);
	pages = 2 * (size_t)max + 2;
	*len = pages * page;
	p = mmap(NULL, *len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS |
		 MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	for (size_t i = 1; 2 * i < pages; i++)
		if (mprotect(p + (2 * i - 1) * page, page, PROT_READ))
			return p;
	munmap(p, *len);
	return NULL;		/* never reached the limit */
}

/* In a child: the map count is the process's.  Exit codes say what broke. */
static int map_count_child(void)
{
	struct zd_dev_pagemap *p[3], *q = test_pgmap();
	char perms[8], *fill;
	unsigned long warns;
	size_t len;

	for (int i = 0; i < 3; i++) {	/* neighbours: their mappings merge */
		p[i] = test_pgmap();
		pgmap_init(p[i], ZD_MEMORY_DEVICE_GENERIC, DEV_BASE + i * MiB(2),
			   MiB(2));
		if (!zd_memremap_pages(p[i], 0))
			return 10;
	}
	pgmap_init(q, ZD_MEMORY_DEVICE_GENERIC, DEV_BASE + GiB(1), MiB(2));
	/* a teardown first: this process's zd-rcu thread starts now, not
	 * when no thread stack can be mapped */
	if (!zd_memremap_pages(q, 0))
		return 10;
	zd_memunmap_pages(q);
	fill = fill_map_count(&len);
	if (!fill)
		return 11;
	errno = 0;
	if (zd_memremap_pages(q, 0) || errno != ENOMEM)
		return 12;		/* fails, cleanly */
	/* the middle one: giving it back splits a mapping */
	warns = zd_warn_count();
	zd_memunmap_pages(p[1]);
	if (zd_warn_count() != warns)
		return 13;		/* "cannot unmap" */
	if (zd_pfn_valid(phys_pfn(DEV_BASE + MiB(2))) ||
	    strcmp(mapping_perms(zd_phys_to_virt(DEV_BASE + MiB(2)), perms),
		   "---p"))
		return 14;		/* still mapped */
	/* the spare mappings are spent: refused before anything is done */
	test_last_warn[0] = 0;
	errno = 0;
	if (zd_memremap_pages(q, 0) || errno != ENOMEM ||
	    !strstr(test_last_warn, "vm.max_map_count"))
		return 15;
	munmap(fill, len);
	if (!zd_memremap_pages(q, 0))
		return 16;		/* works again */
	zd_memunmap_pages(q);
	zd_memunmap_pages(p[0]);
	zd_memunmap_pages(p[2]);
	return zd_warn_count() == warns + 1 ? 0 : 17;	/* the refusal */
}

static void test_removal_at_max_map_count(void **state)
{
#ifdef __SANITIZE_THREAD__
	skip();		/* fork() in a TSan process: not supported */
#endif
	int status;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		int rc = map_count_child();

		if (rc)
			fprintf(stderr, "child warnings:\n%s", test_last_warn);
		_exit(rc);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		fail_msg("child: %s %d", WIFEXITED(status) ? "exit" : "signal",
			 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, reset, test_cleanup)
		T(test_lookup_runs_and_shared_sections),
		T(test_generic_anon_basics),
		T(test_rule1_teardown_waits_for_references),
		T(test_rule2_shutdown_with_page_references_out),
		T(test_rule3_two_pgmaps_no_shared_reference),
		T(test_rule4_failure_at_every_step_unwinds),
		T(test_rule5_system_ram_refused),
		T(test_rule6_hotplug_serialised),
		T(test_validation),
		T(test_conflict_names_the_other),
		T(test_altmap_memmap_costs_no_host_ram),
		T(test_altmap_multiple_ranges_refused),
		T(test_memmap_faults_after_teardown),
		T(test_fsdax_file_backing_persists),
		T(test_page_refs),
		T(test_compound_pages),
		T(test_cached_lookup),
		T(test_lookup_on_a_thread_without_counter_area),
		T(test_lookup_of_a_ref_in_atomic_mode),
		T(test_listing),
		T(test_null_pointers_refused),
		T(test_page_ref_overflow_refused),
		T(test_unknown_pgmap_flags_refused),
		T(test_backing_checked),
		T(test_memmap_host_memory_cannot_back_refused),
		T(test_zone_device_page_init_misuse),
		T(test_extra_put_dev_pagemap_teardown_ends),
		T(test_waiting_teardown_reports_and_is_listed),
		T(test_removal_at_max_map_count),
	};

	page_before_init = zd_pfn_to_page(1);

	return zd_run_tests(tests);
}
