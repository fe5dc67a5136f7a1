// SPDX-License-Identifier: MIT
/*
 * Kernel-style drivers, written with the kernel's names only (through
 * <zonedev/kernel.h>, built with -Wall -Wextra -Werror), run against
 * zonedev:
 * - a persistent-memory driver in the manner of nvdimm's pmem: a reserved
 *   physical range, an FS_DAX pgmap whose memmap lives in the device
 *   (altmap), devm teardown;
 * - a device-private memory driver in the manner of test_hmm's dmirror:
 *   a free region, a DEVICE_PRIVATE pgmap, a free list in
 *   page->zone_device_data, migration to the device, migrate_to_ram on a
 *   CPU fault, and eviction of every page on remove;
 * - a p2pdma provider and client.
 * The drivers come first; below them, the test harness plays the
 * hardware and the application with zonedev's own zd_ names.
 */
#include <zonedev/kernel.h>

#include <sys/mman.h>
#include <unistd.h>

#include "../test_util.h"

/* ====================== the drivers: kernel names only ================= */

/* ---- pmem: persistent memory ------------------------------------------ */

/* What the platform describes (firmware, in the kernel). */
struct pmem_platform {
	struct device dev;
	phys_addr_t start;
	resource_size_t size;
	unsigned long label_pages;	/* the driver's, at the start */
	struct zd_pagemap_backing backing;
};

struct pmem_device {
	struct dev_pagemap pgmap;
	void *virt_addr;
	resource_size_t data_offset;	/* past labels and memmap */
};

static struct pmem_platform *to_pmem_platform(struct device *dev)
{
	return container_of(dev, struct pmem_platform, dev);
}

static int pmem_probe(struct device *dev)
{
	struct pmem_platform *plat = to_pmem_platform(dev);
	unsigned long npages = PHYS_PFN(plat->size);
	struct pmem_device *pmem;
	void *addr;

	pmem = devm_kzalloc(dev, sizeof(*pmem), GFP_KERNEL);
	if (!pmem)
		return -ENOMEM;
	if (!devm_request_mem_region(dev, plat->start, plat->size,
				     dev_name(dev))) {
		dev_warn(dev, "could not reserve region %#llx+%#llx\n",
			 plat->start, plat->size);
		return -EBUSY;
	}
	pmem->pgmap.type = MEMORY_DEVICE_FS_DAX;
	pmem->pgmap.range.start = plat->start;
	pmem->pgmap.range.end = plat->start + plat->size - 1;
	pmem->pgmap.nr_range = 1;
	pmem->pgmap.backing = plat->backing;
	pmem->pgmap.flags = PGMAP_ALTMAP_VALID;
	pmem->pgmap.altmap.base_pfn = PHYS_PFN(plat->start);
	pmem->pgmap.altmap.reserve = plat->label_pages;
	pmem->pgmap.altmap.free = DIV_ROUND_UP(npages * sizeof(struct page),
					       PAGE_SIZE);
	addr = devm_memremap_pages(dev, &pmem->pgmap);
	if (IS_ERR(addr))
		return PTR_ERR(addr);
	pmem->virt_addr = addr;
	pmem->data_offset =
		(resource_size_t)vmem_altmap_offset(&pmem->pgmap.altmap) << PAGE_SHIFT;
	dev_set_drvdata(dev, pmem);
	dev_dbg(dev, "%#llx-%#llx, data at +%#llx\n", pmem->pgmap.range.start,
		pmem->pgmap.range.end, pmem->data_offset);
	return 0;
}

static struct device_driver pmem_driver = { .name = "pmem", .probe = pmem_probe };

/* ---- hdev: device-private memory, migration ------------------------- */

struct hdev {
	struct device dev;
	struct dev_pagemap pgmap;
	struct mutex lock;
	struct page *free_pages;
	char *mem;			/* the device's own memory */
	unsigned long first_pfn, npages;
	unsigned long faults;
};

static struct hdev *page_to_hdev(struct page *page)
{
	return container_of(page->pgmap, struct hdev, pgmap);
}

static char *hdev_mem(struct page *page)
{
	struct hdev *h = page_to_hdev(page);

	return h->mem + (page_to_pfn(page) - h->first_pfn) * PAGE_SIZE;
}

static void hdev_page_free(struct page *page)
{
	struct hdev *h = page_to_hdev(page);

	mutex_lock(&h->lock);
	page->zone_device_data = h->free_pages;
	h->free_pages = page;
	mutex_unlock(&h->lock);
}

static struct page *hdev_alloc_page(struct hdev *h)
{
	struct page *page;

	mutex_lock(&h->lock);
	page = h->free_pages;
	if (page)
		h->free_pages = page->zone_device_data;
	mutex_unlock(&h->lock);
	if (!page)
		return NULL;
	page->zone_device_data = NULL;
	zone_device_page_init(page);
	return page;
}

/* Device pages to host pages: the copy half of a fault or an eviction. */
static int hdev_copy_to_host(const unsigned long *src, unsigned long *dst,
			     unsigned long npages)
{
	for (unsigned long i = 0; i < npages; i++) {
		struct page *spage = migrate_pfn_to_page(src[i]);
		struct page *dpage;

		if (!spage || !(src[i] & MIGRATE_PFN_MIGRATE))
			continue;
		dpage = alloc_page(GFP_HIGHUSER_MOVABLE);
		if (!dpage)
			return -ENOMEM;
		lock_page(dpage);
		memcpy(page_address(dpage), hdev_mem(spage), PAGE_SIZE);
		dst[i] = migrate_pfn(page_to_pfn(dpage));
	}
	return 0;
}

static vm_fault_t hdev_migrate_to_ram(struct vm_fault *vmf)
{
	struct hdev *h = page_to_hdev(vmf->page);
	unsigned long src = 0, dst = 0;
	struct migrate_vma args = {
		.mm = vmf->mm,
		.start = vmf->address,
		.end = vmf->address + PAGE_SIZE,
		.src = &src,
		.dst = &dst,
		.pgmap_owner = h,
		.flags = MIGRATE_VMA_SELECT_DEVICE_PRIVATE,
		.fault_page = vmf->page,
	};
	int err;

	h->faults++;
	if (migrate_vma_setup(&args))
		return VM_FAULT_SIGBUS;
	err = hdev_copy_to_host(args.src, args.dst, args.npages);
	migrate_vma_pages(&args);
	migrate_vma_finalize(&args);
	return err ? VM_FAULT_OOM : 0;
}

static const struct dev_pagemap_ops hdev_pagemap_ops = {
	.page_free = hdev_page_free,
	.migrate_to_ram = hdev_migrate_to_ram,
};

/* The "migrate" command: [start, start + npages pages) to the device. */
static int hdev_migrate_to_device(struct hdev *h, struct mm_struct *mm,
				  unsigned long start, unsigned long npages)
{
	unsigned long *src = kcalloc(npages, sizeof(*src), GFP_KERNEL);
	unsigned long *dst = kcalloc(npages, sizeof(*dst), GFP_KERNEL);
	struct migrate_vma args = {
		.mm = mm,
		.start = start,
		.end = start + npages * PAGE_SIZE,
		.src = src,
		.dst = dst,
		.pgmap_owner = h,
		.flags = MIGRATE_VMA_SELECT_SYSTEM,
	};
	int ret = -ENOMEM;

	if (!src || !dst)
		goto out;
	ret = migrate_vma_setup(&args);
	if (ret)
		goto out;
	for (unsigned long i = 0; i < args.npages; i++) {
		struct page *spage = migrate_pfn_to_page(src[i]);
		struct page *dpage;

		if (!(src[i] & MIGRATE_PFN_MIGRATE))
			continue;
		dpage = hdev_alloc_page(h);
		if (!dpage)
			break;
		if (spage)
			memcpy(hdev_mem(dpage), page_address(spage), PAGE_SIZE);
		else
			memset(hdev_mem(dpage), 0, PAGE_SIZE);
		dst[i] = migrate_pfn(page_to_pfn(dpage)) | MIGRATE_PFN_WRITE;
	}
	migrate_vma_pages(&args);
	migrate_vma_finalize(&args);
out:
	kfree(src);
	kfree(dst);
	return ret;
}

/* remove: every page still on the device comes home first */
static void hdev_evict(void *data)
{
	struct hdev *h = data;
	unsigned long *src = kcalloc(h->npages, sizeof(*src), GFP_KERNEL);
	unsigned long *dst = kcalloc(h->npages, sizeof(*dst), GFP_KERNEL);

	if (WARN_ON(!src || !dst))
		goto out;
	migrate_device_range(src, h->first_pfn, h->npages);
	hdev_copy_to_host(src, dst, h->npages);
	migrate_device_pages(src, dst, h->npages);
	migrate_device_finalize(src, dst, h->npages);
out:
	kfree(src);
	kfree(dst);
}

static void hdev_unmap(void *data)
{
	memunmap_pages(data);
}

static void hdev_free_mem(void *data)
{
	kvfree(data);
}

static int hdev_probe(struct device *dev)
{
	struct hdev *h = container_of(dev, struct hdev, dev);
	resource_size_t size = h->npages * PAGE_SIZE;
	struct resource *res;
	void *addr;
	int ret;

	mutex_init(&h->lock);
	h->mem = kvzalloc(size, GFP_KERNEL);
	if (!h->mem)
		return -ENOMEM;
	ret = devm_add_action_or_reset(dev, hdev_free_mem, h->mem);
	if (ret)
		return ret;
	res = devm_request_free_mem_region(dev, &iomem_resource, size);
	if (IS_ERR(res))
		return PTR_ERR(res);
	h->pgmap.type = MEMORY_DEVICE_PRIVATE;
	h->pgmap.range.start = res->start;
	h->pgmap.range.end = res->end;
	h->pgmap.nr_range = 1;
	h->pgmap.ops = &hdev_pagemap_ops;
	h->pgmap.owner = h;
	addr = memremap_pages(&h->pgmap, numa_node_id());
	if (IS_ERR(addr)) {
		dev_err(dev, "memremap_pages %#llx-%#llx: %ld\n",
			h->pgmap.range.start, h->pgmap.range.end, PTR_ERR(addr));
		return PTR_ERR(addr);
	}
	ret = devm_add_action_or_reset(dev, hdev_unmap, &h->pgmap);
	if (ret)
		return ret;
	h->first_pfn = PHYS_PFN(h->pgmap.range.start);
	h->free_pages = NULL;
	for (unsigned long i = h->npages; i-- > 0;)
		hdev_page_free(pfn_to_page(h->first_pfn + i));
	/* released first: pages come home while the pgmap is still there */
	return devm_add_action_or_reset(dev, hdev_evict, h);
}

static struct device_driver hdev_driver = { .name = "hdev", .probe = hdev_probe };

/* ---- p2pdma: a provider publishes a BAR, a client allocates from it ---- */

static int p2p_provider_probe(struct device *dev)
{
	struct pci_dev *pdev = to_pci_dev(dev);
	int ret;

	ret = pci_p2pdma_add_resource(pdev, 0, pci_resource_len(pdev, 0), 0);
	if (ret) {
		dev_err(dev, "cannot add p2p resource: %d\n", ret);
		return ret;
	}
	pci_p2pmem_publish(pdev, true);
	return 0;
}

static struct device_driver p2p_provider_driver = {
	.name = "p2p-provider", .probe = p2p_provider_probe,
};

/* the client: a buffer in peer memory, and its bus address */
static void *p2p_client_alloc(struct device *client, size_t size,
			      struct pci_dev **provider, pci_bus_addr_t *bus)
{
	void *buf;

	*provider = pci_p2pmem_find(client);
	if (!*provider)
		return ERR_PTR(-ENODEV);
	buf = pci_alloc_p2pmem(*provider, size);
	if (!buf) {
		pci_dev_put(*provider);
		return ERR_PTR(-ENOMEM);
	}
	*bus = pci_p2pmem_virt_to_bus(*provider, buf);
	return buf;
}

/* ====================== the harness: zd_ names ======================== */

#define PMEM_BASE	0x4000000000ull
#define PMEM_SIZE	(32ull << 20)

static void nop_release(struct zd_device *dev)
{
}

struct pmem_fixture {
	struct pmem_platform plat;
	bool registered;
};

static int pmem_setup(void **state)
{
	struct pmem_fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	f->plat.dev.init_name = "pmem0";
	f->plat.dev.release = nop_release;
	f->plat.start = PMEM_BASE;
	f->plat.size = PMEM_SIZE;
	f->plat.label_pages = 4;
	f->plat.backing.kind = ZD_BACKING_FD;
	f->plat.backing.fd = memfd_create("pmem0", 0);
	if (f->plat.backing.fd < 0 || ftruncate(f->plat.backing.fd, PMEM_SIZE) ||
	    zd_device_register(&f->plat.dev))
		return -1;
	f->registered = true;
	*state = f;
	return 0;
}

static int pmem_teardown(void **state)
{
	struct pmem_fixture *f = *state;

	if (f->registered)
		zd_device_unregister(&f->plat.dev);	/* unbinds */
	if (f->plat.backing.fd >= 0)
		close(f->plat.backing.fd);
	free(f);
	return 0;
}

/* Bind, write through the direct map, unbind, rebind: the bytes are in
 * the "persistent" file; the memmap never took host memory's place. */
static void test_pmem(void **state)
{
	struct pmem_fixture *f = *state;
	struct pmem_device *pmem;
	char *data;

	assert_int_equal(zd_device_bind(&f->plat.dev, &pmem_driver), 0);
	pmem = zd_dev_get_drvdata(&f->plat.dev);
	assert_true(pmem->data_offset > f->plat.label_pages << zd_page_shift);
	data = (char *)pmem->virt_addr + pmem->data_offset;
	strcpy(data, "persistent");
	assert_ptr_equal(zd_get_dev_pagemap(zd_virt_to_phys(data) >> zd_page_shift,
					    NULL), &pmem->pgmap);
	zd_put_dev_pagemap(&pmem->pgmap);
	assert_int_equal(zd_device_unbind(&f->plat.dev), 0);
	assert_int_equal(zd_region_intersects(PMEM_BASE, PMEM_SIZE,
					      ZD_IORESOURCE_BUSY, ZD_IORES_DESC_NONE),
			 ZD_REGION_DISJOINT);

	assert_int_equal(zd_device_bind(&f->plat.dev, &pmem_driver), 0);
	pmem = zd_dev_get_drvdata(&f->plat.dev);
	assert_string_equal((char *)pmem->virt_addr + pmem->data_offset,
			    "persistent");
}

/* A probe whose devm_memremap_pages() fails returns the error: with NULL
 * for failure, IS_ERR() let it through and the bind succeeded. */
static void test_pmem_probe_error(void **state)
{
	struct pmem_fixture *f = *state;

	f->plat.size = PMEM_SIZE - 4096;	/* not 2 MiB aligned */
	assert_warns("aligned", assert_int_equal(
		zd_device_bind(&f->plat.dev, &pmem_driver), -EINVAL));
	assert_null(f->plat.dev.driver);
	assert_int_equal(zd_region_intersects(PMEM_BASE, PMEM_SIZE,
					      ZD_IORESOURCE_BUSY, ZD_IORES_DESC_NONE),
			 ZD_REGION_DISJOINT);
}

#define HDEV_PAGES	512		/* 2 MiB */
#define APP_PAGES	8

struct hdev_fixture {
	struct hdev h;
	struct zd_mm *mm;
	char *app;
	bool registered;
};

static int hdev_setup(void **state)
{
	struct hdev_fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	*state = f;
	f->h.dev.init_name = "hdev0";
	f->h.dev.release = nop_release;
	f->h.npages = HDEV_PAGES;
	if (zd_device_register(&f->h.dev))
		return -1;
	f->registered = true;
	f->mm = zd_mm_create();
	if (!f->mm)
		return -1;
	f->app = zd_mm_map(f->mm, APP_PAGES * zd_page_size());
	return f->app ? 0 : -1;
}

static int hdev_teardown(void **state)
{
	struct hdev_fixture *f = *state;

	if (f->mm)
		zd_mm_destroy(f->mm);
	if (f->registered)
		zd_device_unregister(&f->h.dev);
	if (f->app)
		munmap(f->app, APP_PAGES * zd_page_size());
	free(f);
	return 0;
}

/* To the device, a CPU touch brings a page back, remove brings the rest. */
static void test_hdev_migrate(void **state)
{
	struct hdev_fixture *f = *state;
	size_t page = zd_page_size();

	assert_int_equal(zd_device_bind(&f->h.dev, &hdev_driver), 0);
	for (int i = 0; i < APP_PAGES; i++)
		memset(f->app + i * page, 'a' + i, page);
	assert_int_equal(hdev_migrate_to_device(&f->h, f->mm,
						(unsigned long)f->app, APP_PAGES), 0);
	assert_int_equal(zd_mm_device_pages(f->mm), APP_PAGES);
	assert_int_equal(f->app[3 * page + 5], 'd');	/* a fault */
	assert_int_equal(f->h.faults, 1);
	assert_int_equal(zd_mm_device_pages(f->mm), APP_PAGES - 1);
	f->app[3 * page] = 'D';

	assert_int_equal(zd_device_unbind(&f->h.dev), 0);	/* evicts */
	assert_int_equal(zd_mm_device_pages(f->mm), 0);
	assert_int_equal(f->h.faults, 1);
	for (int i = 0; i < APP_PAGES; i++)
		assert_int_equal(f->app[i * page + page - 1], 'a' + i);
	assert_int_equal(f->app[3 * page], 'D');
}

static struct zd_pci_dev *add_port(struct zd_pci_bus *bus, unsigned int devfn,
				   enum zd_pcie_type type, uint64_t bar0)
{
	struct zd_pci_dev_desc desc = { .vendor = 0x8086, .device = 0x10,
					.type = type, .bar_size = { bar0 } };

	return zd_pci_add_device(bus, devfn, &desc);
}

struct p2p_fixture {
	struct zd_pci_host_bridge *host;
	struct zd_pci_dev *provider, *client;
};

/* provider and client below one switch: peer-to-peer by bus address */
static int p2p_setup(void **state)
{
	struct p2p_fixture *f = calloc(1, sizeof(*f));
	struct zd_pci_dev *rp, *up, *dn0, *dn1;

	if (!f)
		return -1;
	*state = f;
	f->host = zd_pci_host_bridge_create(0x70, 1ull << 30, 0);
	if (!f->host)
		return -1;
	rp = add_port(&f->host->bus, ZD_PCI_DEVFN(0, 0), ZD_PCI_EXP_TYPE_ROOT_PORT, 0);
	up = rp ? add_port(rp->subordinate, 0, ZD_PCI_EXP_TYPE_UPSTREAM, 0) : NULL;
	dn0 = up ? add_port(up->subordinate, ZD_PCI_DEVFN(0, 0),
			    ZD_PCI_EXP_TYPE_DOWNSTREAM, 0) : NULL;
	dn1 = up ? add_port(up->subordinate, ZD_PCI_DEVFN(1, 0),
			    ZD_PCI_EXP_TYPE_DOWNSTREAM, 0) : NULL;
	if (!dn0 || !dn1)
		return -1;
	f->provider = add_port(dn0->subordinate, 0, ZD_PCI_EXP_TYPE_ENDPOINT, 4 << 20);
	f->client = add_port(dn1->subordinate, 0, ZD_PCI_EXP_TYPE_ENDPOINT, 4 << 20);
	return f->provider && f->client ? 0 : -1;
}

static int p2p_teardown(void **state)
{
	struct p2p_fixture *f = *state;

	if (f && f->host)
		zd_pci_host_bridge_remove(f->host);
	free(f);
	return 0;
}

static void test_p2pdma(void **state)
{
	struct p2p_fixture *f = *state;
	struct zd_pci_dev *found = NULL;
	pci_bus_addr_t bus = 0;
	void *buf;

	assert_int_equal(zd_device_bind(&f->provider->dev, &p2p_provider_driver), 0);
	buf = p2p_client_alloc(&f->client->dev, 8192, &found, &bus);
	assert_false(IS_ERR(buf));
	assert_ptr_equal(found, f->provider);
	assert_int_equal(bus, zd_pci_bus_address(found, 0) +
			      (zd_virt_to_phys(buf) - zd_pci_resource_start(found, 0)));
	memset(buf, 0x11, 8192);
	zd_pci_free_p2pmem(found, buf, 8192);
	zd_pci_dev_put(found);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_pmem, pmem_setup, pmem_teardown),
		cmocka_unit_test_setup_teardown(test_pmem_probe_error, pmem_setup,
						pmem_teardown),
		cmocka_unit_test_setup_teardown(test_hdev_migrate, hdev_setup,
						hdev_teardown),
		cmocka_unit_test_setup_teardown(test_p2pdma, p2p_setup, p2p_teardown),
	};

	test_capture_warnings();
	return zd_run_tests(tests);
}
