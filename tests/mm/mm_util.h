/* SPDX-License-Identifier: MIT */
/* Helpers for the memremap tests: devices, pgmaps, mapping checks. */
#ifndef ZD_TEST_MM_UTIL_H
#define ZD_TEST_MM_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <fcntl.h>
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

static inline int memfd_of(uint64_t size)
{
	int fd = memfd_create("zonedev-test", 0);

	if (fd < 0 || ftruncate(fd, (off_t)size))
		abort();
	return fd;
}

#endif /* ZD_TEST_MM_UTIL_H */
