/* SPDX-License-Identifier: MIT */
/* Internal side of fault injection: each failable step names its site. */
#ifndef ZD_BASE_FAULT_H
#define ZD_BASE_FAULT_H

#include <stdlib.h>
#include <zonedev/fault.h>

#include "compiler.h"

extern atomic_int zd__fault_armed;
bool zd__fault_hit(const char *site);

/* True when the step at @site must fail now.  One relaxed load when off. */
static inline bool zd_fault(const char *site)
{
	if (likely(!READ_ONCE_RELAXED(&zd__fault_armed)))
		return false;
	return zd__fault_hit(site);
}

/* calloc() that is also a fault-injection site; sets errno on failure. */
void *zd_zalloc(const char *site, size_t size);

#endif /* ZD_BASE_FAULT_H */
