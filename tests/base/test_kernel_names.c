// SPDX-License-Identifier: MIT
/*
 * Kernel-style code, written with the kernel's names only, builds and runs
 * against zonedev through <zonedev/kernel.h>.  The pattern is the pgmap
 * one: kill, wait for the release through a completion, then exit.
 */
#include <errno.h>

#include "../test_util.h"
#include <zonedev/kernel.h>

struct my_dev {
	struct percpu_ref ref;
	struct completion done;
};

static void my_dev_release(struct percpu_ref *ref)
{
	struct my_dev *d = (struct my_dev *)ref;

	complete(&d->done);
}

static void test_ported_teardown(void **state)
{
	struct my_dev d;

	init_completion(&d.done);
	assert_int_equal(percpu_ref_init(&d.ref, my_dev_release, 0,
					 GFP_KERNEL), 0);
	assert_true(percpu_ref_tryget_live(&d.ref));
	percpu_ref_kill(&d.ref);
	assert_true(percpu_ref_is_dying(&d.ref));
	assert_int_equal(wait_for_completion_timeout(&d.done,
						     msecs_to_jiffies(50)), 0);
	percpu_ref_put(&d.ref);
	wait_for_completion(&d.done);
	assert_true(percpu_ref_is_zero(&d.ref));
	percpu_ref_exit(&d.ref);
}

/* A driver written against the kernel's device and devres API. */
struct my_priv {
	struct resource *bar;
	int actions;
};

static void my_action(void *data)
{
	((struct my_priv *)data)->actions--;
}

static int my_probe(struct device *dev)
{
	struct my_priv *p = devm_kzalloc(dev, sizeof(*p), GFP_KERNEL);

	if (!p)
		return -ENOMEM;
	p->bar = devm_request_mem_region(dev, 0x3000000000ull, 1 << 20,
					 dev_name(dev));
	if (!p->bar)
		return -EBUSY;
	p->actions = 1;
	dev_set_drvdata(dev, p);
	return devm_add_action_or_reset(dev, my_action, p);
}

static void my_device_release(struct device *dev)
{
}

static void test_ported_driver(void **state)
{
	struct device_driver drv = { "ported", my_probe, NULL };
	struct device dev = { .init_name = "ported0", .release = my_device_release };

	assert_int_equal(device_register(&dev), 0);
	assert_int_equal(device_bind_driver_to(&dev, &drv), 0);
	assert_int_equal(region_intersects(0x3000000000ull, 1 << 20,
					   IORESOURCE_BUSY, IORES_DESC_NONE),
			 REGION_INTERSECTS);
	mem_hotplug_begin();
	mem_hotplug_done();
	device_release_driver(&dev);
	assert_int_equal(region_intersects(0x3000000000ull, 1 << 20,
					   IORESOURCE_BUSY, IORES_DESC_NONE),
			 REGION_DISJOINT);
	device_unregister(&dev);
}

/* memremap in kernel terms: a GENERIC pgmap, a lookup, page refs. */
static void test_ported_memremap(void **state)
{
	struct dev_pagemap pgmap = { .type = MEMORY_DEVICE_GENERIC, .nr_range = 1 };
	unsigned long pfn = PHYS_PFN(0x2000000000ull);
	struct dev_pagemap *found;
	struct page *page;

	pgmap.range.start = PFN_PHYS(pfn);
	pgmap.range.end = pgmap.range.start + (2 << 20) - 1;
	void *va = memremap_pages(&pgmap, NUMA_NO_NODE);

	assert_ptr_equal(va, __va(pgmap.range.start));
	assert_true(pfn_valid(pfn));
	page = pfn_to_page(pfn);
	assert_int_equal(page_to_pfn(page), pfn);
	assert_true(is_zone_device_page(page));
	get_page(page);
	assert_int_equal(page_count(page), 2);
	put_page(page);
	found = get_dev_pagemap(pfn, NULL);
	assert_ptr_equal(found, &pgmap);
	put_dev_pagemap(found);
	memunmap_pages(&pgmap);
	assert_false(pfn_valid(pfn));
}

/* A p2pdma client in kernel terms: find, allocate, translate, free. */
static struct zd_driver p2p_drv = { .name = "p2p-provider" };

static void test_ported_p2pdma(void **state)
{
	struct pci_host_bridge *host = zd_pci_host_bridge_create(0x60, 1ull << 30, 0);
	struct zd_pci_dev_desc desc = { .vendor = 0x8086,
					.bar_size = { 4 << 20 } };
	struct pci_dev *provider, *found, *d = NULL;
	int n = 0;
	void *buf;

	(void)state;
	provider = zd_pci_add_device(&host->bus, PCI_DEVFN(0, 0), &desc);
	assert_non_null(provider);
	/* the memory is the bound driver's devres */
	assert_int_equal(zd_device_bind(&provider->dev, &p2p_drv), 0);
	assert_int_equal(pci_p2pdma_add_resource(provider, 0, 0, 0), 0);
	pci_p2pmem_publish(provider, true);
	for_each_pci_dev(d)
		n++;
	assert_int_equal(n, 1);
	found = pci_p2pmem_find(&provider->dev);
	assert_ptr_equal(found, provider);
	buf = pci_alloc_p2pmem(found, PAGE_SIZE);
	assert_non_null(buf);
	assert_true(is_pci_p2pdma_page(pfn_to_page(PHYS_PFN(__pa(buf)))));
	assert_int_equal(pci_p2pmem_virt_to_bus(found, buf), __pa(buf));
	pci_free_p2pmem(found, buf, PAGE_SIZE);
	pci_dev_put(found);
	zd_pci_host_bridge_remove(host);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ported_teardown),
		cmocka_unit_test(test_ported_driver),
		cmocka_unit_test(test_ported_memremap),
		cmocka_unit_test(test_ported_p2pdma),
	};

	return zd_run_tests(tests);
}
