/* SPDX-License-Identifier: MIT */
/* Internal side of fault injection: each failable step names its site. */
#ifndef ZD_BASE_FAULT_H
#define ZD_BASE_FAULT_H

#include <stdlib.h>
#include <zonedev/fault.h>

#include "compiler.h"

#define ZD__FAULT_PAUSE	3	/* zd__fault_armed in pause mode */

extern atomic_int zd__fault_armed;
bool zd__fault_hit(const char *site);
void zd__fault_pause(const char *site);

/* True when the step at @site must fail now.  One relaxed load when off. */
static inline bool zd_fault(const char *site)
{
	if (likely(!READ_ONCE_RELAXED(&zd__fault_armed)))
		return false;
	return zd__fault_hit(site);
}

/* A point where a test may hold this thread (zd_fault_inject_pause()), to
 * widen a race window.  Not a failure site: it never fails. */
static inline void zd_fault_point(const char *site)
{
	if (unlikely(READ_ONCE_RELAXED(&zd__fault_armed) == ZD__FAULT_PAUSE))
		zd__fault_pause(site);
}

/* calloc() that is also a fault-injection site; sets errno on failure. */
void *zd_zalloc(const char *site, size_t size);

#endif /* ZD_BASE_FAULT_H */
