// SPDX-License-Identifier: MIT
/*
 * zonedev demo, part 3: memremap.  A persistent-memory-like device: an
 * FS_DAX range backed by a file, whose memmap lives in the file itself
 * through an altmap.  It is unplugged while another thread holds a page
 * reference: the unplug waits, and completes when the reference drops.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zonedev/zonedev.h>

#include "tool.h"

#define GiB(x)		((uint64_t)(x) << 30)
#define PMEM_BASE	GiB(64)

struct pmem {
	struct zd_device dev;
	struct zd_dev_pagemap pgmap;
	int fd;
	uint64_t size;
};

static void pmem_release(struct zd_device *dev)
{
}

static int pmem_probe(struct zd_device *dev)
{
	struct pmem *pm = (struct pmem *)dev;
	struct zd_dev_pagemap *p = &pm->pgmap;
	unsigned long pages = pm->size / zd_page_size();

	if (!zd_devm_request_mem_region(dev, PMEM_BASE, pm->size, "pmem0"))
		return -errno;
	memset(p, 0, sizeof(*p));
	p->type = ZD_MEMORY_DEVICE_FS_DAX;
	p->nr_range = 1;
	p->range.start = PMEM_BASE;
	p->range.end = PMEM_BASE + pm->size - 1;
	p->backing.kind = ZD_BACKING_FD;
	p->backing.fd = pm->fd;
	p->flags = ZD_PGMAP_ALTMAP_VALID;
	p->altmap.base_pfn = PMEM_BASE / zd_page_size();
	p->altmap.reserve = 1;		/* a label page */
	p->altmap.free = pages * sizeof(struct zd_page) / zd_page_size();
	return zd_devm_memremap_pages(dev, p) ? 0 : -errno;
}

static struct zd_driver pmem_driver = { "pmem", pmem_probe, NULL };

struct holder {
	struct zd_dev_pagemap *ref;
	int64_t t_put;
	unsigned int hold_ms;
};

static void *hold_reference(void *arg)
{
	struct holder *h = arg;
	struct timespec ts = { h->hold_ms / 1000, (h->hold_ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
	h->t_put = tool_now_ns();
	printf("  user: done with its page, dropping the reference\n");
	zd_put_dev_pagemap(h->ref);
	return NULL;
}

int demo_pmem(uint64_t size, const char *path)
{
	struct pmem pm = { .dev = { .init_name = "pmem0", .release = pmem_release },
			   .size = size };
	char tmp[] = "/tmp/zonedev-pmem-XXXXXX";
	struct holder h = { .hold_ms = 300 };
	/* past the label page and the memmap the altmap holds */
	unsigned long pfn = (PMEM_BASE + GiB(1) / 2) >> zd_page_shift;
	pthread_t t;
	int64_t t0;
	char *va;
	int err;

	printf("\n== memremap: a %llu GiB file-backed pmem device, its memmap in "
	       "the file\n", (unsigned long long)(size >> 30));
	pm.fd = path ? open(path, O_RDWR | O_CREAT, 0600) : mkstemp(tmp);
	if (pm.fd < 0 || ftruncate(pm.fd, (off_t)size)) {
		perror("zonedev demo: pmem file");
		return 1;
	}
	if (zd_device_register(&pm.dev))
		return 1;
	tool_show_progress();
	long rss0 = zd_rss_anon_kb();
	t0 = tool_now_ns();
	err = zd_device_bind(&pm.dev, &pmem_driver);
	if (err) {
		fprintf(stderr, "zonedev demo: bind pmem0: %s\n", strerror(-err));
		zd_device_unregister(&pm.dev);
		return 1;
	}
	printf("  memremap of %llu pages: %.1f ms, memmap %llu MiB in the file, "
	       "anonymous RSS +%ld KiB\n",
	       (unsigned long long)(size / zd_page_size()),
	       (double)(tool_now_ns() - t0) / 1e6,
	       (unsigned long long)(pm.pgmap.altmap.alloc * zd_page_size() >> 20),
	       zd_rss_anon_kb() - rss0);
	va = zd_phys_to_virt(PMEM_BASE + GiB(1) / 2);
	strcpy(va, "written through the direct map");
	tool_print_pgmaps();

	h.ref = zd_get_dev_pagemap(pfn, NULL);
	zd_get_page(zd_pfn_to_page(pfn));
	printf("\n  user: holds a reference on pmem0 (and its page %#lx)\n", pfn);
	tool_print_pgmaps();
	zd_put_page(zd_pfn_to_page(pfn));
	pthread_create(&t, NULL, hold_reference, &h);
	printf("\n  unplug pmem0 ...\n");
	t0 = tool_now_ns();
	zd_device_unbind(&pm.dev);
	printf("  unplug done %.1f ms after it started, %.1f ms after the "
	       "reference dropped\n", (double)(tool_now_ns() - t0) / 1e6,
	       (double)(tool_now_ns() - h.t_put) / 1e6);
	pthread_join(t, NULL);
	tool_print_pgmaps();

	char buf[40] = "";
	err = pread(pm.fd, buf, 30, (off_t)(GiB(1) / 2)) != 30 ||
	      strcmp(buf, "written through the direct map");
	printf("  the file still holds: \"%s\"\n", buf);
	zd_set_progress(NULL, NULL);
	zd_device_unregister(&pm.dev);
	close(pm.fd);
	if (!path)
		unlink(tmp);
	return err;
}

/* The sample configuration zonedev pgmaps shows. */
static int gpu_owner;

static void gpu_page_free(struct zd_page *page)
{
}

static int gpu_migrate(struct zd_vm_fault *vmf)
{
	return 0;
}

static const struct zd_dev_pagemap_ops gpu_ops = {
	.page_free = gpu_page_free, .migrate_to_ram = gpu_migrate,
};

int demo_sample_pgmaps(void)
{
	struct zd_dev_pagemap gen = { .type = ZD_MEMORY_DEVICE_GENERIC,
				      .nr_range = 1 };
	struct zd_dev_pagemap gpu = { .type = ZD_MEMORY_DEVICE_PRIVATE,
				      .nr_range = 1, .ops = &gpu_ops,
				      .owner = &gpu_owner };
	struct zd_resource *r = zd_request_free_mem_region(zd_iomem_root(),
							   GiB(1), "gpu0");
	int ret = 1;

	if (!r)
		return 1;
	gen.range.start = GiB(64);
	gen.range.end = GiB(64) + GiB(1) / 4 - 1;
	gpu.range.start = r->start;
	gpu.range.end = r->end;
	if (zd_memremap_pages(&gen, 0) && zd_memremap_pages(&gpu, 0)) {
		for (unsigned long i = 0; i < 100; i++)
			zd_zone_device_page_init(zd_pfn_to_page(
				(r->start >> zd_page_shift) + i));
		tool_print_pgmaps();
		for (unsigned long i = 0; i < 100; i++)
			zd_put_page(zd_pfn_to_page((r->start >> zd_page_shift) + i));
		ret = 0;
	}
	if (gpu.state)
		zd_memunmap_pages(&gpu);
	if (gen.state)
		zd_memunmap_pages(&gen);
	zd_release_mem_region(r->start, zd_resource_size(r));
	return ret;
}
