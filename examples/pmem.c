// SPDX-License-Identifier: MIT
/*
 * A persistent-memory-style driver: a range of zonedev's physical space
 * backed by a file, given struct pages as MEMORY_DEVICE_FS_DAX, with the
 * memmap (the struct pages themselves) stored in the file too (an altmap)
 * so it costs no host memory.  Data written through the direct map is in
 * the file; it survives unbind and rebind, as a pmem namespace would.
 *
 *   pmem [FILE]     (default: a temporary file, removed at exit)
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zonedev/zonedev.h>

#define PMEM_BASE	(64ull << 30)	/* where the "firmware" put it */
#define PMEM_SIZE	(64ull << 20)
#define LABEL_PAGES	1		/* the driver's own metadata */

struct pmem {
	struct zd_device dev;
	struct zd_dev_pagemap pgmap;
	int fd;
	char *data;			/* first byte after labels and memmap */
};

static int pmem_probe(struct zd_device *dev)
{
	struct pmem *pm = (struct pmem *)dev;	/* dev is the first member */
	struct zd_dev_pagemap *p = &pm->pgmap;
	unsigned long pages = PMEM_SIZE / zd_page_size();
	char *va;

	/* claim the range, so nothing else maps it; released on unbind */
	if (!zd_devm_request_mem_region(dev, PMEM_BASE, PMEM_SIZE, "pmem0"))
		return -errno;
	memset(p, 0, sizeof(*p));
	p->type = ZD_MEMORY_DEVICE_FS_DAX;
	p->nr_range = 1;
	p->range.start = PMEM_BASE;
	p->range.end = PMEM_BASE + PMEM_SIZE - 1;
	p->backing.kind = ZD_BACKING_FD;
	p->backing.fd = pm->fd;
	/* the memmap lives in the device, after the label pages */
	p->flags = ZD_PGMAP_ALTMAP_VALID;
	p->altmap.base_pfn = PMEM_BASE / zd_page_size();
	p->altmap.reserve = LABEL_PAGES;
	p->altmap.free = pages * sizeof(struct zd_page) / zd_page_size();
	/* unmapped on unbind, after every page reference is dropped */
	va = zd_devm_memremap_pages(dev, p);
	if (!va)
		return -errno;
	pm->data = va + (zd_vmem_altmap_offset(&p->altmap) << zd_page_shift);
	return 0;
}

/* pm lives on main()'s stack: nothing to free when the last ref goes */
static void pmem_release(struct zd_device *dev)
{
	(void)dev;
}

static struct zd_driver pmem_driver = { "pmem", pmem_probe, NULL };

int main(int argc, char **argv)
{
	char tmp[] = "/tmp/zonedev-pmem.XXXXXX";
	const char *path = argc > 1 ? argv[1] : tmp;
	struct pmem pm = { .dev = { .init_name = "pmem0",
				    .release = pmem_release } };
	int err;

	pm.fd = argc > 1 ? open(path, O_RDWR | O_CREAT, 0600) : mkstemp(tmp);
	if (pm.fd < 0 || ftruncate(pm.fd, PMEM_SIZE)) {
		perror(path);
		return 1;
	}
	if (argc == 1)
		unlink(tmp);
	err = zd_device_register(&pm.dev);
	if (!err)
		err = zd_device_bind(&pm.dev, &pmem_driver);
	if (err) {
		fprintf(stderr, "pmem0: %s\n", strerror(-err));
		return 1;
	}
	printf("pmem0: [mem %#llx-%#llx], memmap in %lu device pages\n",
	       pm.pgmap.range.start, pm.pgmap.range.end, pm.pgmap.altmap.alloc);
	printf("previous contents: \"%.32s\"\n", pm.data);
	snprintf(pm.data, 64, "written by pid %d", (int)getpid());

	/* unplug and plug again: the bytes are in the file */
	zd_device_unbind(&pm.dev);
	err = zd_device_bind(&pm.dev, &pmem_driver);
	if (err) {
		fprintf(stderr, "pmem0: rebind: %s\n", strerror(-err));
		return 1;
	}
	printf("after rebind: \"%.32s\"\n", pm.data);
	zd_device_unregister(&pm.dev);
	close(pm.fd);
	printf("ok\n");
	return 0;
}
