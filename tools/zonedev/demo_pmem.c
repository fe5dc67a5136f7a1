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
	fprintf(tool_out, "  user: done with its page, dropping the reference\n");
	zd_put_dev_pagemap(h->ref);
	return NULL;
}

/*
 * The backing file: the user's, or one with no name in $TMPDIR, so that
 * nothing is left behind however the demo ends (even SIGKILL).  Where
 * O_TMPFILE is not supported, a named file is unlinked at once.
 */
static int open_backing(const char *path)
{
	const char *dir = getenv("TMPDIR");
	char name[4096];
	int fd;

	if (path)
		return open(path, O_RDWR | O_CREAT, 0600);
	if (!dir || !*dir)
		dir = "/tmp";
	fd = open(dir, O_RDWR | O_TMPFILE | O_CLOEXEC, 0600);
	if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR &&
			errno != EINVAL))
		return fd;
	if (snprintf(name, sizeof(name), "%s/zonedev-pmem-XXXXXX", dir) >=
	    (int)sizeof(name)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = mkstemp(name);
	if (fd >= 0)
		unlink(name);
	return fd;
}

int demo_pmem(uint64_t size, const char *path, struct demo_summary *sum)
{
	struct pmem pm = { .dev = { .init_name = "pmem0", .release = pmem_release },
			   .size = size };
	struct holder h = { .hold_ms = 300 };
	/* past the label page and the memmap the altmap holds */
	unsigned long pfn = (PMEM_BASE + GiB(1) / 2) >> zd_page_shift;
	pthread_t t;
	int64_t t0;
	long rss0;
	char *va;
	int err;

	sum->pmem.size = size;
	fprintf(tool_out, "\n== memremap: a %llu GiB file-backed pmem device, its "
		"memmap in the file\n", (unsigned long long)(size >> 30));
	pm.fd = open_backing(path);
	if (pm.fd < 0 || ftruncate(pm.fd, (off_t)size)) {
		tool_err("demo", "pmem file %s: %s", path ? path : "in $TMPDIR",
			 strerror(errno));
		if (pm.fd >= 0)
			close(pm.fd);
		return 1;
	}
	if (zd_device_register(&pm.dev)) {
		close(pm.fd);
		return 1;
	}
	tool_show_progress();
	rss0 = zd_rss_anon_kb();
	t0 = tool_now_ns();
	err = zd_device_bind(&pm.dev, &pmem_driver);
	if (err) {
		tool_err("demo", "bind pmem0: %s", strerror(-err));
		zd_set_progress(NULL, NULL);
		zd_device_unregister(&pm.dev);
		close(pm.fd);
		return 1;
	}
	sum->pmem.memremap_ms = (double)(tool_now_ns() - t0) / 1e6;
	sum->pmem.memmap_bytes = pm.pgmap.altmap.alloc * zd_page_size();
	sum->pmem.rss_anon_delta_kib = zd_rss_anon_kb() - rss0;
	fprintf(tool_out, "  memremap of %llu pages: %.1f ms, memmap %llu MiB in "
		"the file, anonymous RSS +%ld KiB\n",
		(unsigned long long)(size / zd_page_size()), sum->pmem.memremap_ms,
		(unsigned long long)(sum->pmem.memmap_bytes >> 20),
		sum->pmem.rss_anon_delta_kib);
	va = zd_phys_to_virt(PMEM_BASE + GiB(1) / 2);
	strcpy(va, "written through the direct map");
	tool_print_pgmaps();

	h.ref = zd_get_dev_pagemap(pfn, NULL);
	zd_get_page(zd_pfn_to_page(pfn));
	fprintf(tool_out, "\n  user: holds a reference on pmem0 (and its page "
		"%#lx)\n", pfn);
	tool_print_pgmaps();
	demo_map_snapshot("memremap: pmem0 mapped, its memmap in the file, "
			  "a user holds a page");
	zd_put_page(zd_pfn_to_page(pfn));
	pthread_create(&t, NULL, hold_reference, &h);
	fprintf(tool_out, "\n  unplug pmem0 ...\n");
	t0 = tool_now_ns();
	zd_device_unbind(&pm.dev);
	sum->pmem.unplug_ms = (double)(tool_now_ns() - t0) / 1e6;
	sum->pmem.unplug_after_put_ms = (double)(tool_now_ns() - h.t_put) / 1e6;
	fprintf(tool_out, "  unplug done %.1f ms after it started, %.1f ms after "
		"the reference dropped\n", sum->pmem.unplug_ms,
		sum->pmem.unplug_after_put_ms);
	pthread_join(t, NULL);
	tool_print_pgmaps();

	char buf[40] = "";
	err = pread(pm.fd, buf, 30, (off_t)(GiB(1) / 2)) != 30 ||
	      strcmp(buf, "written through the direct map");
	fprintf(tool_out, "  the file still holds: \"%s\"\n", buf);
	zd_set_progress(NULL, NULL);
	zd_device_unregister(&pm.dev);
	close(pm.fd);
	sum->pmem.ok = !err;
	return err;
}
