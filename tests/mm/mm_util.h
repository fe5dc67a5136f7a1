/* SPDX-License-Identifier: MIT */
/* Helpers for the memremap tests: devices, pgmaps, mapping checks. */
#ifndef ZD_TEST_MM_UTIL_H
#define ZD_TEST_MM_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../test_util.h"

#define MiB(x)		((uint64_t)(x) << 20)
#define GiB(x)		((uint64_t)(x) << 30)
/* above the default layout's System RAM, inside a 40-bit space */
#define DEV_BASE	GiB(64)

static inline unsigned long phys_pfn(uint64_t phys)
{
	return (unsigned long)(phys >> zd_page_shift);
}

/* The permissions /proc/self/maps shows for @addr ("rw-s", "---p"). */
static inline const char *mapping_perms(const void *addr, char buf[8])
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];

	strcpy(buf, "none");
	while (f && fgets(line, sizeof(line), f)) {
		unsigned long a, b;
		char perms[8];

		if (sscanf(line, "%lx-%lx %7s", &a, &b, perms) == 3 &&
		    (unsigned long)addr >= a && (unsigned long)addr < b) {
			strcpy(buf, perms);
			break;
		}
	}
	if (f)
		fclose(f);
	return buf;
}

/*
 * What a test sets up comes from here, so that a failed test (cmocka
 * jumps out of it) leaves nothing behind for the next: pgmaps live in a
 * static pool, never on the failed test's stack, and are never reused
 * within a run; test_cleanup(), each test's teardown, unbinds and
 * unregisters the devices, unmaps every pgmap still listed, puts the
 * references noted with test_hold(), closes the files and removes them.
 */
#define POOL_PGMAPS	128
#define POOL_DEVICES	16
#define POOL_FILES	16

/* room for ranges[1..3] after each (on the heap: ranges[] is declared
 * with one element) */
#define POOL_PGMAP_SIZE	(sizeof(struct zd_dev_pagemap) + 3 * sizeof(struct zd_range))

static char *pool_pgmaps;
static int pool_next_pgmap;
static struct zd_device pool_devices[POOL_DEVICES];
static bool pool_registered[POOL_DEVICES];
static int pool_next_device;
static int pool_fds[POOL_FILES], pool_nr_fds;
static char pool_paths[POOL_FILES][64];
static int pool_nr_paths;
static struct zd_dev_pagemap *pool_held[8];

/* A zeroed pgmap with room for four ranges. */
static inline struct zd_dev_pagemap *test_pgmap(void)
{
	if (!pool_pgmaps)
		pool_pgmaps = calloc(POOL_PGMAPS, POOL_PGMAP_SIZE);
	if (!pool_pgmaps || pool_next_pgmap == POOL_PGMAPS)
		fail_msg("test pgmap pool exhausted");
	return (struct zd_dev_pagemap *)(pool_pgmaps +
					 POOL_PGMAP_SIZE * pool_next_pgmap++);
}

static inline void pool_dev_release(struct zd_device *dev)
{
}

/* A registered device named @name. */
static inline struct zd_device *test_device(const char *name)
{
	struct zd_device *dev;
	int i = pool_next_device++;

	if (i >= POOL_DEVICES)
		fail_msg("test device pool exhausted");
	dev = &pool_devices[i];
	memset(dev, 0, sizeof(*dev));
	dev->init_name = name;
	dev->release = pool_dev_release;
	assert_int_equal(zd_device_register(dev), 0);
	pool_registered[i] = true;
	return dev;
}

/* Unregister @dev now (what a passing test does itself). */
static inline void test_device_unregister(struct zd_device *dev)
{
	pool_registered[dev - pool_devices] = false;
	zd_device_unregister(dev);
}

/* Note / forget a pgmap reference the test holds across asserts. */
static inline struct zd_dev_pagemap *test_hold(struct zd_dev_pagemap *p)
{
	for (int i = 0; i < 8; i++)
		if (!pool_held[i]) {
			pool_held[i] = p;
			return p;
		}
	fail_msg("too many held references");
	return p;
}

static inline void test_unhold(struct zd_dev_pagemap *p)
{
	for (int i = 0; i < 8; i++)
		if (pool_held[i] == p) {
			pool_held[i] = NULL;
			return;
		}
}

/* The sum of smaps field @field ("Rss:", "Anonymous:") in KiB over the
 * mappings that overlap [addr, addr + len): what those pages cost, not
 * the process (whose RssAnon also counts a sanitizer's shadow). */
static inline long smaps_kb(const void *addr, size_t len, const char *field)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	unsigned long a = (unsigned long)addr, b = a + len;
	bool in = false;
	char line[512];
	long sum = 0, kb;

	while (f && fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;

		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') <
		    strchr(line, ' '))
			in = lo < b && hi > a;
		else if (in && !strncmp(line, field, strlen(field)) &&
			 sscanf(line + strlen(field), "%ld", &kb) == 1)
			sum += kb;
	}
	if (f)
		fclose(f);
	return sum;
}

static inline int memfd_of(uint64_t size)
{
	int fd = memfd_create("zonedev-test", MFD_CLOEXEC);

	if (fd < 0 || ftruncate(fd, (off_t)size))
		abort();
	if (pool_nr_fds < POOL_FILES)
		pool_fds[pool_nr_fds++] = fd;
	return fd;
}

/* A /tmp/zonedev-pmem-* file of @size bytes, open; its path in @path. */
static inline int test_tmpfile(uint64_t size, char path[64])
{
	int fd;

	strcpy(path, "/tmp/zonedev-pmem-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)size), 0);
	if (pool_nr_paths < POOL_FILES)
		strcpy(pool_paths[pool_nr_paths++], path);
	if (pool_nr_fds < POOL_FILES)
		pool_fds[pool_nr_fds++] = fd;
	return fd;
}

/* Close @fd now (tracked fds are closed once, by whoever comes first). */
static inline void test_close(int fd)
{
	for (int i = 0; i < pool_nr_fds; i++)
		if (pool_fds[i] == fd)
			pool_fds[i] = -1;
	close(fd);
}

static int collect_one(struct zd_dev_pagemap *p, void *arg)
{
	return p == arg;
}

static int collect_pgmap(struct zd_dev_pagemap *p, void *arg)
{
	struct zd_dev_pagemap **list = arg;

	for (int i = 0; i < POOL_PGMAPS; i++)
		if (!list[i]) {
			list[i] = p;
			return 0;
		}
	return 1;
}

/* Pgmaps listed now (dying ones too). */
static inline int listed_pgmaps(struct zd_dev_pagemap **list)
{
	int n = 0;

	memset(list, 0, POOL_PGMAPS * sizeof(*list));
	zd_pgmap_for_each(collect_pgmap, list);
	while (n < POOL_PGMAPS && list[n])
		n++;
	return n;
}

static void *cleanup_unmap(void *arg)
{
	zd_memunmap_pages(arg);
	return NULL;
}

/* Unmap @p, but give up after ten seconds if references the failed test
 * leaked keep it (its thread is left waiting). */
static inline void unmap_leftover(struct zd_dev_pagemap *p)
{
	pthread_t t;

	if (pthread_create(&t, NULL, cleanup_unmap, p))
		return;
	pthread_detach(t);
	if (!wait_for(zd_pgmap_for_each(collect_one, p) == 0))
		fprintf(stderr, "cleanup: the pgmap at [mem %#llx-%#llx] is "
			"still referenced: left dying\n",
			(unsigned long long)p->ranges[0].start,
			(unsigned long long)p->ranges[0].end);
}

static inline int test_cleanup(void **state)
{
	static struct zd_dev_pagemap *list[POOL_PGMAPS];
	int n;

	(void)state;
	zd_fault_inject_reset();
	for (int i = 0; i < 8; i++)
		if (pool_held[i]) {
			zd_put_dev_pagemap(pool_held[i]);
			pool_held[i] = NULL;
		}
	for (int i = 0; i < pool_next_device && i < POOL_DEVICES; i++) {
		if (!pool_registered[i])
			continue;
		if (zd_device_is_bound(&pool_devices[i]))
			zd_device_unbind(&pool_devices[i]);
		zd_device_unregister(&pool_devices[i]);
		pool_registered[i] = false;
	}
	n = listed_pgmaps(list);
	for (int i = 0; i < n; i++)
		if (!zd_percpu_ref_is_dying(&list[i]->ref))
			unmap_leftover(list[i]);
	for (int i = 0; i < pool_nr_fds; i++)
		if (pool_fds[i] >= 0)
			close(pool_fds[i]);
	pool_nr_fds = 0;
	for (int i = 0; i < pool_nr_paths; i++)
		unlink(pool_paths[i]);
	pool_nr_paths = 0;
	return 0;
}

#endif /* ZD_TEST_MM_UTIL_H */
