// SPDX-License-Identifier: MIT
/*
 * Kernel-style code, written with the kernel's names only, builds and runs
 * against zonedev through <zonedev/kernel.h>.  The pattern is the pgmap
 * one: kill, wait for the release through a completion, then exit.
 */
/* kernel.h first: it spells zonedev's struct tags the kernel's way */
#include <zonedev/kernel.h>
#include <errno.h>

#include "../test_util.h"

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

/*
 * Members named like kernel types stay members: kernel.h once defined
 * page, device and resource as object-like macros, and none of these
 * lines compiled.
 */
static void test_members_keep_their_names(void **state)
{
	struct pci_dev pdev = { .vendor = 0x8086, .device = 0x1234 };
	struct scatterlist sg = { .page = NULL, .length = 4096 };
	struct vm_fault vmf = { .page = NULL };
	struct { struct page *page; struct device *device; } mine = { 0 };

	pdev.resource[0].start = 0x1000;
	assert_int_equal(pdev.device, 0x1234);
	assert_int_equal(pdev.resource[0].start, 0x1000);
	assert_null(sg.page);
	assert_null(vmf.page);
	assert_null(mine.page);
	assert_null(mine.device);
}

/*
 * Under their kernel names, the pointer-returning calls fail with
 * ERR_PTR(-errno): a ported probe tests IS_ERR(), and NULL once went
 * through it as success.
 */
static void test_err_ptr_returns(void **state)
{
	struct dev_pagemap bad = { .type = MEMORY_DEVICE_GENERIC, .nr_range = 1,
				   .range = { 0x1000, 0x1fff } };  /* unaligned */
	struct device dev = { .init_name = "errptr0", .release = my_device_release };
	struct resource *res;
	void *va;

	assert_warns("", va = memremap_pages(&bad, NUMA_NO_NODE));
	assert_true(IS_ERR(va));
	assert_int_equal(PTR_ERR(va), -EINVAL);

	assert_int_equal(device_register(&dev), 0);
	assert_warns("", va = devm_memremap_pages(&dev, &bad));
	assert_true(IS_ERR_OR_NULL(va));
	assert_int_equal(PTR_ERR(va), -EINVAL);
	device_unregister(&dev);

	/* bigger than the physical space */
	res = request_free_mem_region(&iomem_resource, ~0ul >> 1, "too big");
	assert_true(IS_ERR(res));
	assert_false(IS_ERR(ERR_CAST(NULL)));
	assert_ptr_equal(ERR_CAST(res), (void *)res);
	assert_false(IS_ERR_OR_NULL(&dev));
	assert_true(IS_ERR_OR_NULL(NULL));
}

struct holder {
	int a;
	struct mutex lock;
	u64 items[];
};

/* The everyday helpers exist and mean what they mean in the kernel. */
static void test_helpers(void **state)
{
	static DEFINE_MUTEX(global_lock);
	static DEFINE_SPINLOCK(global_spin);
	struct range r = { 0x100000000ull, 0x1001fffffull };
	struct holder *h = kzalloc(struct_size(h, items, 4), GFP_KERNEL);
	unsigned long flags;
	char buf[64];
	int arr[7];

	assert_non_null(h);
	assert_ptr_equal(container_of(&h->lock, struct holder, lock), h);
	mutex_init(&h->lock);
	mutex_lock(&h->lock);
	assert_false(mutex_trylock(&h->lock));
	mutex_unlock(&h->lock);
	mutex_destroy(&h->lock);
	kfree(h);
	mutex_lock(&global_lock);
	mutex_unlock(&global_lock);
	spin_lock_irqsave(&global_spin, flags);
	spin_unlock_irqrestore(&global_spin, flags);

	assert_int_equal(struct_size(h, items, 4), sizeof(*h) + 4 * sizeof(u64));
	assert_int_equal(struct_size(h, items, SIZE_MAX / 2), SIZE_MAX);
	assert_null(kmalloc_array(SIZE_MAX / 2, 4, GFP_KERNEL));
	assert_int_equal(ARRAY_SIZE(arr), 7);
	assert_int_equal(min(3, 5), 3);
	assert_int_equal(max(3ul, 5ul), 5);
	assert_int_equal(clamp(9, 0, 4), 4);
	assert_int_equal(order_base_2(0), 0);
	assert_int_equal(order_base_2(1), 0);
	assert_int_equal(order_base_2(2), 1);
	assert_int_equal(order_base_2(5), 3);
	assert_int_equal(order_base_2(4096), 12);
	assert_int_equal(range_len(&r), 0x200000ull);
	assert_int_equal(numa_node_id(), 0);
	assert_int_equal(sizeof(phys_addr_t), 8);
	/* the kernel's format for a range; -Wformat checks it at build time */
	snprintf(buf, sizeof(buf), "%#llx-%#llx", r.start, r.end);
	assert_string_equal(buf, "0x100000000-0x1001fffff");
	assert_true(WARN_ON_ONCE(1));
	assert_false(WARN_ON(0));
	assert_int_equal(PCI_EXP_TYPE_ROOT_PORT, 4);
	assert_int_equal(VM_FAULT_SIGBUS, 2);
	rcu_read_lock();
	rcu_read_unlock();
	synchronize_rcu();
}

/* alloc_page() pages: an address, a copy, an entry for a migrate array. */
static void test_host_pages(void **state)
{
	struct page *a = alloc_page(GFP_KERNEL | __GFP_ZERO);
	struct page *b = alloc_page(GFP_HIGHUSER);
	unsigned long mpfn;

	assert_non_null(a);
	assert_non_null(b);
	memset(page_address(b), 0x5a, PAGE_SIZE);
	assert_int_equal(((char *)page_address(a))[7], 0);
	copy_highpage(a, b);
	assert_int_equal(((char *)page_address(a))[PAGE_SIZE - 1], 0x5a);
	assert_false(is_zone_device_page(a));
	assert_false(is_device_private_page(a));
	mpfn = migrate_pfn(page_to_pfn(a));
	assert_int_equal(mpfn, zd_migrate_virt(page_address(a)));
	assert_ptr_equal(migrate_pfn_to_page(mpfn), a);
	get_page(a);
	put_page(a);
	__free_page(a);
	__free_page(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ported_teardown),
		cmocka_unit_test(test_ported_driver),
		cmocka_unit_test(test_ported_memremap),
		cmocka_unit_test(test_ported_p2pdma),
		cmocka_unit_test(test_members_keep_their_names),
		cmocka_unit_test(test_err_ptr_returns),
		cmocka_unit_test(test_helpers),
		cmocka_unit_test(test_host_pages),
	};

	return zd_run_tests(tests);
}
