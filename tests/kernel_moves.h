/* SPDX-License-Identifier: MIT */
/* Whether this kernel moves pages (UFFDIO_MOVE, Linux 6.8); older ones
 * copy, so tests of moving expect copies there. */
#ifndef ZD_TEST_KERNEL_MOVES_H
#define ZD_TEST_KERNEL_MOVES_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/utsname.h>

static inline bool kernel_moves_pages(void)
{
	struct utsname u;
	int major, minor;

	return !uname(&u) && sscanf(u.release, "%d.%d", &major, &minor) == 2 &&
	       (major > 6 || (major == 6 && minor >= 8));
}

#endif
