/* SPDX-License-Identifier: MIT */
/* Small types shared by the public headers. */
#ifndef ZONEDEV_TYPES_H
#define ZONEDEV_TYPES_H

#include <stddef.h>
#include <stdint.h>
#include <zonedev/export.h>

ZD_EXTERN_C_BEGIN

/*
 * A physical address or size in zonedev's 64-bit physical space.  The
 * kernel's phys_addr_t on 64-bit machines: unsigned long long, so that
 * ranges print with "%#llx" as kernel code does.
 */
typedef unsigned long long zd_phys_addr_t;
typedef unsigned long long zd_resource_size_t;

/* An intrusive doubly linked list node, as the kernel's list_head. */
struct zd_list_head {
	struct zd_list_head *next, *prev;
};

ZD_EXTERN_C_END

#endif /* ZONEDEV_TYPES_H */
