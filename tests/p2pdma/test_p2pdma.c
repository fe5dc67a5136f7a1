// SPDX-License-Identifier: MIT
/*
 * p2pdma: add_resource's rules and failure path (seed 004), allocation
 * with per-resource owners, sgl and DMA mapping, publish/find, and
 * unbinding with allocations out (seed 000: two BARs, no deadlock).
 */
#include <pthread.h>

#include "../pci/pci_util.h"

static struct zd_page *virt_page(void *p)
{
	return zd_pfn_to_page(zd_virt_to_phys(p) >> zd_page_shift);
}

/* The pgmap covering @phys, if it is live (a reference is not kept). */
static bool pgmap_live(uint64_t phys)
{
	struct zd_dev_pagemap *pg = zd_get_dev_pagemap(phys >> zd_page_shift, NULL);

	zd_put_dev_pagemap(pg);
	return pg != NULL;
}

static void test_add_resource_validation(void **state)
{
	struct zd_p2pmem_attrs at;
	struct topo t;

	(void)state;
	topo_build(&t, 0x20, ALLOWED_ROOT, false);
	/* the header's -ENODEV: once 0, with memory no unbind would free */
	assert_warns("no driver bound",
		     assert_int_equal(zd_pci_p2pdma_add_resource(t.a, 0, 0, 0), -ENODEV));
	assert_int_equal(zd_pci_p2pmem_attrs(t.a, &at), -ENODEV);
	p2p_nr_bars = 0;
	assert_int_equal(zd_device_bind(&t.a->dev, &provider_driver), 0);
	assert_warns("BAR 1 is not a memory BAR",
		     assert_int_equal(zd_pci_p2pdma_add_resource(t.a, 1, 0, 0), -EINVAL));
	assert_warns("not a memory BAR",
		     assert_int_equal(zd_pci_p2pdma_add_resource(t.a, 9, 0, 0), -EINVAL));
	assert_warns("past BAR 0's end",
		     assert_int_equal(zd_pci_p2pdma_add_resource(t.a, 0, 0, MiB(64)), -EINVAL));
	assert_warns("runs past BAR 0's end",
		     assert_int_equal(zd_pci_p2pdma_add_resource(t.a, 0, MiB(64), MiB(2)), -EINVAL));
	assert_warns("NULL pdev", zd_pci_p2pdma_add_resource(NULL, 0, 0, 0));
	assert_int_equal(zd_pci_p2pmem_attrs(t.a, &at), -ENODEV);
	/* memremap's own rule: 2 MiB alignment */
	assert_int_equal(zd_pci_p2pdma_add_resource(t.a, 0, MiB(2), 4096), -EINVAL);
	assert_false(pgmap_live(zd_pci_resource_start(t.a, 0)));
	/* size 0: the rest of the BAR */
	assert_int_equal(zd_pci_p2pdma_add_resource(t.a, 0, 0, MiB(32)), 0);
	assert_int_equal(zd_pci_p2pmem_attrs(t.a, &at), 0);
	assert_int_equal(at.size, MiB(32));
	assert_int_equal(at.available, MiB(32));
	assert_false(at.published);
	assert_false(pgmap_live(zd_pci_resource_start(t.a, 0)));
	assert_true(pgmap_live(zd_pci_resource_start(t.a, 0) + MiB(32)));
	/* the same range twice: memremap refuses, nothing changes */
	assert_int_equal(zd_pci_p2pdma_add_resource(t.a, 0, MiB(2), MiB(32)), -EEXIST);
	assert_int_equal(zd_pci_p2pmem_attrs(t.a, &at), 0);
	assert_int_equal(at.size, MiB(32));
	topo_destroy(&t);	/* removal unbinds: the devres goes */
}

static void test_alloc_free_cpu_and_dma_agree(void **state)
{
	struct zd_p2pmem_attrs at;
	struct topo t;
	char pattern[4096], back[4096];
	zd_pci_bus_addr_t bus;
	char *p;

	(void)state;
	topo_build(&t, 0x21, ALLOWED_ROOT, false);
	assert_int_equal(bind_provider(t.a, false), 0);
	p = p2p_alloc(t.a, 4096);
	assert_non_null(p);
	assert_true(zd_is_pci_p2pdma_page(virt_page(p)));
	assert_int_equal(zd_pci_p2pmem_attrs(t.a, &at), 0);
	assert_int_equal(at.available, MiB(64) - 4096);
	bus = zd_pci_p2pmem_virt_to_bus(t.a, p);
	assert_true(bus - zd_pci_bus_address(t.a, 0) < MiB(64));
	assert_int_equal(bus - zd_pci_bus_address(t.a, 0),
			 zd_virt_to_phys(p) - zd_pci_resource_start(t.a, 0));
	/* the CPU writes, the peer's DMA engine reads the same bytes */
	memset(pattern, 0x5a, sizeof(pattern));
	memcpy(p, pattern, sizeof(pattern));
	assert_int_equal(zd_pci_dma_read(t.b, bus, back, sizeof(back)), 0);
	assert_memory_equal(pattern, back, sizeof(back));
	/* and the other way round */
	memset(pattern, 0xa5, sizeof(pattern));
	assert_int_equal(zd_pci_dma_write(t.b, bus, pattern, sizeof(pattern)), 0);
	assert_memory_equal(p, pattern, sizeof(pattern));
	/* bad frees change nothing */
	assert_warns("", zd_pci_free_p2pmem(t.a, p + 8192, 4096));
	assert_warns("", zd_pci_free_p2pmem(t.a, p, 8192));
	assert_int_equal(zd_pci_p2pmem_attrs(t.a, &at), 0);
	assert_int_equal(at.available, MiB(64) - 4096);
	p2p_free(t.a, p, 4096);
	assert_int_equal(zd_pci_p2pmem_attrs(t.a, &at), 0);
	assert_int_equal(at.available, MiB(64));
	/* bad input */
	assert_warns("size 0", assert_null(p2p_alloc(t.a, 0)));
	assert_int_equal(errno, EINVAL);
	assert_null(p2p_alloc(t.b, 4096));	/* no p2p memory */
	assert_int_equal(errno, ENODEV);
	assert_null(p2p_alloc(t.a, MiB(128)));
	assert_int_equal(errno, ENOMEM);
	assert_int_equal(zd_pci_p2pmem_virt_to_bus(t.a, NULL), 0);
	assert_int_equal(zd_pci_p2pmem_virt_to_bus(t.b, p), 0);
	assert_warns("no p2p memory", zd_pci_free_p2pmem(t.b, p, 4096));
	/* a huge size rounded to 0 pages and wrote past the pool's index */
	p = p2p_alloc(t.a, 4096);
	assert_warns("runs past the end", zd_pci_free_p2pmem(t.a, p, SIZE_MAX));
	assert_warns("runs past the end",
		     zd_pci_free_p2pmem(t.a, p, SIZE_MAX - 4094));
	assert_int_equal(zd_pci_p2pmem_attrs(t.a, &at), 0);
	assert_int_equal(at.available, MiB(64) - 4096);
	p2p_free(t.a, p, 4096);
	assert_int_equal(zd_device_unbind(&t.a->dev), 0);
	assert_int_equal(zd_pci_p2pmem_attrs(t.a, &at), -ENODEV);
	assert_false(pgmap_live(zd_pci_resource_start(t.a, 0)));
	topo_destroy(&t);
}

static void test_sgl_and_map_sg(void **state)
{
	struct zd_scatterlist *sg;
	struct zd_p2pmem_attrs at;
	unsigned int n = 0;
	struct topo t;

	(void)state;
	topo_build(&t, 0x22, UNLISTED_ROOT, false);
	assert_int_equal(bind_provider(t.a, false), 0);
	sg = p2p_alloc_sgl(t.a, &n, 8192);
	assert_non_null(sg);
	assert_int_equal(n, 1);
	assert_true(sg->end);
	assert_int_equal(sg->length, 8192);
	/* b: same switch, bus address; c: no path */
	assert_int_equal(zd_pci_p2pdma_map_sg(&t.b->dev, sg, 1), 1);
	assert_int_equal(sg->dma_address, zd_pci_p2pmem_virt_to_bus(t.a, zd_sg_virt(sg)));
	assert_int_equal(zd_pci_p2pdma_map_sg(&t.c->dev, sg, 1), -EREMOTEIO);
	assert_int_equal(zd_pci_p2pdma_map_type(virt_page(zd_sg_virt(sg))->pgmap,
						&t.host->dev),
			 ZD_PCI_P2PDMA_MAP_NOT_SUPPORTED);
	p2p_free_sgl(t.a, sg);
	assert_int_equal(zd_pci_p2pmem_attrs(t.a, &at), 0);
	assert_int_equal(at.available, at.size);
	/* ordinary memory is not p2p memory */
	char buf[16];
	struct zd_scatterlist bad = { .page = NULL, .length = sizeof(buf), .end = true };
	assert_warns("not p2p memory", assert_int_equal(zd_pci_p2pdma_map_sg(&t.b->dev, &bad, 1), -EINVAL));
	/* NULL where a list is required was dereferenced */
	assert_warns("bad argument", assert_int_equal(
		zd_pci_p2pdma_map_sg(&t.b->dev, NULL, 1), -EINVAL));
	assert_warns("bad argument", assert_int_equal(
		zd_pci_p2pdma_map_sg(&t.b->dev, &bad, -1), -EINVAL));
	assert_int_equal(zd_pci_p2pdma_map_sg(&t.b->dev, NULL, 0), 0);
	assert_warns("NULL segment", assert_null(zd_sg_virt(NULL)));
	assert_warns("without a page", assert_null(zd_sg_virt(&bad)));
	/* NULL nents: refused before anything is allocated */
	assert_warns("NULL nents", assert_null(zd_pci_p2pmem_alloc_sgl(t.a, NULL, 4096)));
	assert_int_equal(zd_pci_p2pmem_attrs(t.a, &at), 0);
	assert_int_equal(at.available, at.size);
	assert_warns("bad argument", assert_int_equal(zd_pci_p2pdma_map_sg(NULL, &bad, 1),
						      -EINVAL));
	topo_destroy(&t);

	/* through an allowed host bridge: the CPU physical address */
	topo_build(&t, 0x23, ALLOWED_ROOT, false);
	assert_int_equal(bind_provider(t.a, false), 0);
	sg = p2p_alloc_sgl(t.a, &n, 4096);
	assert_int_equal(zd_pci_p2pdma_map_sg(&t.c->dev, sg, 1), 1);
	assert_int_equal(sg->dma_address, zd_virt_to_phys(zd_sg_virt(sg)));
	/* the DMA engine takes that address */
	memset(zd_sg_virt(sg), 7, 4096);
	assert_int_equal(zd_pci_dma_read(t.c, sg->dma_address, buf, sizeof(buf)), 0);
	assert_int_equal(buf[15], 7);
	p2p_free_sgl(t.a, sg);
	topo_destroy(&t);
}

static void test_publish_and_find(void **state)
{
	struct zd_device child = { .init_name = "a1-child" };
	struct zd_device *clients[2];
	struct zd_p2pmem_attrs at;
	struct zd_pci_dev *found;
	struct topo t;

	(void)state;
	topo_build(&t, 0x24, ALLOWED_ROOT, false);
	assert_int_equal(bind_provider(t.a, false), 0);
	assert_int_equal(bind_provider(t.b, false), 0);
	assert_false(zd_pci_has_p2pmem(t.a));
	assert_null(zd_pci_p2pmem_find(&t.c->dev));
	zd_pci_p2pmem_publish(t.b, true);
	assert_true(zd_pci_has_p2pmem(t.b));
	assert_int_equal(zd_pci_p2pmem_attrs(t.b, &at), 0);
	assert_true(at.published);
	found = zd_pci_p2pmem_find(&t.a1->dev);
	assert_ptr_equal(found, t.b);
	zd_pci_dev_put(found);
	/* a is closer to a1 (2) than b (4) */
	zd_pci_p2pmem_publish(t.a, true);
	found = zd_pci_p2pmem_find(&t.a1->dev);
	assert_ptr_equal(found, t.a);
	zd_pci_dev_put(found);
	/* a non-PCI device counts from its PCI parent */
	child.parent = &t.a1->dev;	/* never added: only its parent counts */
	clients[0] = &child;
	clients[1] = &t.b->dev;
	/* a: 2 + 4; b: 4 + 0 */
	found = zd_pci_p2pmem_find_many(clients, 2);
	assert_ptr_equal(found, t.b);
	zd_pci_dev_put(found);
	assert_int_equal(zd_pci_p2pdma_distance_many(t.a, clients, 2, false), 6);
	/* a host bridge is no PCI device and has none above it */
	assert_int_equal(zd_pci_p2pdma_distance(t.a, &t.host->dev, true), -1);
	assert_null(zd_pci_p2pmem_find(&t.host->dev));
	assert_int_equal(zd_pci_p2pdma_distance_many(t.a, clients, 0, false), -1);
	/* a NULL client is a caller's bug, not "no path" */
	clients[0] = NULL;
	assert_warns("clients[0] is NULL", assert_int_equal(
		zd_pci_p2pdma_distance_many(t.a, clients, 2, false), -1));
	assert_warns("clients[0] is NULL", assert_null(zd_pci_p2pmem_find_many(clients, 2)));
	/* c has no p2p memory to offer */
	assert_warns("no p2p memory", zd_pci_p2pmem_publish(t.c, true));
	assert_false(zd_pci_has_p2pmem(t.c));
	assert_no_warn(zd_pci_p2pmem_publish(t.c, false));
	zd_pci_p2pmem_publish(t.a, false);
	zd_pci_p2pmem_publish(t.b, false);
	assert_null(zd_pci_p2pmem_find(&t.a1->dev));
	topo_destroy(&t);
}

/* ---- seed 004: every failure of add_resource leaves nothing ---------- */

static int add_bars(struct zd_pci_dev *pdev, int err[2])
{
	err[0] = zd_pci_p2pdma_add_resource(pdev, 0, 0, 0);
	err[1] = zd_pci_p2pdma_add_resource(pdev, 2, 0, 0);
	return err[0] || err[1];
}

/* The driver goes on after a failed add (as nvme does): the failed range
 * must be gone entirely, so that adding it again works. */
static void test_seed004_add_resource_failure_unwinds(void **state)
{
	uint64_t start[2], len[2];
	unsigned long steps;
	struct topo t;
	int err[2];

	(void)state;
	topo_build(&t, 0x25, ALLOWED_ROOT, false);
	for (int b = 0; b < 2; b++) {
		start[b] = zd_pci_resource_start(t.a, 2 * b);
		len[b] = zd_pci_resource_len(t.a, 2 * b);
	}
	/* once before counting: one-time setup (this thread's counter area,
	 * the lookup table) would be steps that later runs never reach */
	p2p_nr_bars = 0;
	assert_int_equal(zd_device_bind(&t.a->dev, &provider_driver), 0);
	assert_int_equal(add_bars(t.a, err), 0);
	zd_device_unbind(&t.a->dev);
	assert_int_equal(zd_device_bind(&t.a->dev, &provider_driver), 0);
	zd_fault_inject_nth(0, NULL);
	assert_int_equal(add_bars(t.a, err), 0);
	steps = zd_fault_inject_calls();
	zd_fault_inject_reset();
	zd_device_unbind(&t.a->dev);
	assert_true(steps > 5);
	for (unsigned long i = 1; i <= steps; i++) {
		struct zd_p2pmem_attrs at = { 0 };
		uint64_t expect = 0;

		assert_int_equal(zd_device_bind(&t.a->dev, &provider_driver), 0);
		zd_fault_inject_nth(i, NULL);
		assert_int_not_equal(add_bars(t.a, err), 0);
		assert_int_equal(zd_fault_inject_hits(), 1);
		zd_fault_inject_reset();
		for (int b = 0; b < 2; b++) {
			assert_int_equal(pgmap_live(start[b]), err[b] == 0);
			expect += err[b] ? 0 : len[b];
		}
		zd_pci_p2pmem_attrs(t.a, &at);
		assert_int_equal(at.size, expect);
		/* nothing of the failed call remains: it adds again */
		for (int b = 0; b < 2; b++)
			if (err[b])
				assert_int_equal(zd_pci_p2pdma_add_resource(t.a, 2 * b, 0, 0), 0);
		assert_int_equal(zd_pci_p2pmem_attrs(t.a, &at), 0);
		assert_int_equal(at.size, len[0] + len[1]);
		zd_device_unbind(&t.a->dev);
		assert_false(pgmap_live(start[0]) || pgmap_live(start[1]));
	}
	/* the failure the seed names: adding the chunk fails after the pages
	 * were mapped; they are unmapped again */
	assert_int_equal(zd_device_bind(&t.a->dev, &provider_driver), 0);
	zd_fault_inject_site("genalloc.chunk");
	assert_int_equal(zd_pci_p2pdma_add_resource(t.a, 0, 0, 0), -ENOMEM);
	zd_fault_inject_reset();
	assert_false(pgmap_live(start[0]));
	assert_int_equal(zd_pci_p2pdma_add_resource(t.a, 0, 0, 0), 0);
	topo_destroy(&t);
}

/* ---- unbinding with allocations out ------------------------------------ */

struct unbinder {
	pthread_t thread;
	struct zd_pci_dev *pdev;
	atomic_bool done;
};

static void *unbind_thread(void *arg)
{
	struct unbinder *u = arg;

	zd_device_unbind(&u->pdev->dev);
	atomic_store(&u->done, true);
	return NULL;
}

static void unbind_start(struct unbinder *u, struct zd_pci_dev *pdev)
{
	u->pdev = pdev;
	atomic_store(&u->done, false);
	assert_int_equal(pthread_create(&u->thread, NULL, unbind_thread, u), 0);
}

static void test_unbind_waits_for_frees(void **state)
{
	struct unbinder u;
	struct topo t;
	void *p;

	(void)state;
	topo_build(&t, 0x26, ALLOWED_ROOT, false);
	assert_int_equal(bind_provider(t.a, false), 0);
	p = p2p_alloc(t.a, 4096);
	assert_non_null(p);
	unbind_start(&u, t.a);
	/* new allocations stop at once; the unbind waits for ours */
	assert_true(wait_for(!pgmap_live(zd_pci_resource_start(t.a, 0))));
	assert_null(p2p_alloc(t.a, 4096));
	assert_int_equal(errno, ENODEV);
	test_sleep_us(50000);
	assert_false(atomic_load(&u.done));
	p2p_free(t.a, p, 4096);
	pthread_join(u.thread, NULL);
	assert_true(atomic_load(&u.done));
	topo_destroy(&t);
}

/*
 * Seed 000: with one reference shared by two BARs' pgmaps, tearing down
 * the first waited for pages of the second: unbind never returned.  And
 * seed 004: each chunk's allocations hold that chunk's pgmap, so BAR 2's
 * pgmap goes (newest first) while an allocation from BAR 0 is out, and
 * BAR 0's waits for it.
 */
static void test_seed000_two_bars_unbind_without_deadlock(void **state)
{
	uint64_t bar0, bar2;
	struct unbinder u;
	struct topo t;
	void *x0, *x2;

	(void)state;
	topo_build(&t, 0x27, ALLOWED_ROOT, false);
	bar0 = zd_pci_resource_start(t.a, 0);
	bar2 = zd_pci_resource_start(t.a, 2);
	assert_int_equal(bind_provider(t.a, true), 0);
	x0 = p2p_alloc(t.a, MiB(64));	/* all of BAR 0 */
	x2 = p2p_alloc(t.a, 4096);	/* so this is BAR 2's */
	assert_non_null(x0);
	assert_non_null(x2);
	assert_int_equal(zd_virt_to_phys(x0), bar0);
	assert_true(zd_virt_to_phys(x2) - bar2 < MiB(16));
	assert_ptr_not_equal(virt_page(x0)->pgmap, virt_page(x2)->pgmap);
	/* x2 out: BAR 2's pgmap (newest) waits; BAR 0's is not touched */
	p2p_free(t.a, x0, MiB(64));
	unbind_start(&u, t.a);
	assert_true(wait_for(!pgmap_live(bar2)));
	test_sleep_us(20000);
	assert_true(pgmap_live(bar0));
	assert_false(atomic_load(&u.done));
	p2p_free(t.a, x2, 4096);
	assert_true(wait_for(atomic_load(&u.done)));
	pthread_join(u.thread, NULL);

	/* x0 out: BAR 2's goes, BAR 0's is killed and waits for x0 */
	assert_int_equal(bind_provider(t.a, true), 0);
	x0 = p2p_alloc(t.a, MiB(64));
	assert_non_null(x0);
	unbind_start(&u, t.a);
	assert_true(wait_for(!pgmap_live(bar2) && !pgmap_live(bar0)));
	test_sleep_us(20000);
	assert_false(atomic_load(&u.done));
	p2p_free(t.a, x0, MiB(64));
	assert_true(wait_for(atomic_load(&u.done)));
	pthread_join(u.thread, NULL);

	/* nothing out: both go at once */
	assert_int_equal(bind_provider(t.a, true), 0);
	x2 = p2p_alloc(t.a, 4096);
	p2p_free(t.a, x2, 4096);
	unbind_start(&u, t.a);
	assert_true(wait_for(atomic_load(&u.done)));
	pthread_join(u.thread, NULL);
	topo_destroy(&t);
}

/* Threads allocate and free while the provider is unbound: every
 * allocation made before the stop is freed and waited for, none succeeds
 * after a thread has seen the stop, nothing leaks. */
struct racer {
	pthread_t thread;
	struct zd_pci_dev *pdev;
	unsigned long allocs, frees, late;
	atomic_bool *unbound;
};

static void *race_thread(void *arg)
{
	struct racer *r = arg;
	void *held[8] = { 0 };
	size_t size[8] = { 0 };
	unsigned int seed = (unsigned int)(uintptr_t)r;

	for (unsigned int i = 0;; i++) {
		unsigned int k = i % 8;
		void *p;

		if (held[k]) {
			p2p_free(r->pdev, held[k], size[k]);
			held[k] = NULL;
			r->frees++;
		}
		size[k] = 4096u << (rand_r(&seed) % 4);
		p = p2p_alloc(r->pdev, size[k]);
		if (!p && errno == ENODEV)
			break;
		if (!p)
			continue;
		memset(p, (int)i, 64);
		held[k] = p;
		r->allocs++;
	}
	for (int k = 0; k < 8; k++)
		if (held[k]) {
			p2p_free(r->pdev, held[k], size[k]);
			r->frees++;
		}
	/* stopped: it stays stopped while the pgmaps go, one by one */
	while (!atomic_load(r->unbound))
		if (p2p_alloc(r->pdev, 4096))
			r->late++;	/* and leaked: the test fails */
	return NULL;
}

static void test_unbind_races_allocations(void **state)
{
	struct racer r[3];
	struct topo t;
	int rounds = getenv("ZD_TEST_ROUNDS") ? atoi(getenv("ZD_TEST_ROUNDS")) : 20;

	(void)state;
	topo_build(&t, 0x28, ALLOWED_ROOT, false);
	for (int round = 0; round < rounds; round++) {
		atomic_bool unbound = false;
		unsigned long warns = zd_warn_count();

		test_last_warn[0] = 0;

		assert_int_equal(bind_provider(t.a, true), 0);
		for (int i = 0; i < 3; i++) {
			r[i] = (struct racer){ .pdev = t.a, .unbound = &unbound };
			assert_int_equal(pthread_create(&r[i].thread, NULL,
							race_thread, &r[i]), 0);
		}
		test_sleep_us(1000 + 500 * (round % 4));
		zd_device_unbind(&t.a->dev);
		atomic_store(&unbound, true);
		for (int i = 0; i < 3; i++) {
			pthread_join(r[i].thread, NULL);
			assert_int_equal(r[i].allocs, r[i].frees);
			assert_int_equal(r[i].late, 0);
		}
		assert_false(pgmap_live(zd_pci_resource_start(t.a, 0)));
		if (zd_warn_count() != warns)
			fail_msg("unexpected warning: %s", test_last_warn);
	}
	topo_destroy(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, pci_setup, pci_teardown)
		T(test_add_resource_validation),
		T(test_alloc_free_cpu_and_dma_agree),
		T(test_sgl_and_map_sg),
		T(test_publish_and_find),
		T(test_seed004_add_resource_failure_unwinds),
		T(test_unbind_waits_for_frees),
		T(test_seed000_two_bars_unbind_without_deadlock),
		T(test_unbind_races_allocations),
	};

	test_capture_warnings();
	return zd_run_tests(tests);
}
