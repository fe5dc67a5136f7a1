// SPDX-License-Identifier: MIT
/*
 * Finding free physical address space from the top down, for memory that
 * has no fixed address (HMM's device-private memory).
 */
#include <errno.h>
#include <stdlib.h>
#include <zonedev/devres.h>

#include "fault.h"
#include "../device/internal.h"
#include "internal.h"
#include "log.h"

#include <zonedev/mm.h>

/* Above this zonedev has no struct pages to give (see zonedev/mm.h). */
#define PHYSMEM_END	((1ull << zd_max_physmem_bits()) - 1)
#define SECTION_SIZE	ZD_SECTION_SIZE

/* The start of the first (lowest, siblings being sorted) child of @base
 * meeting [addr, addr + size). */
static bool lowest_conflict(struct zd_resource *base, zd_resource_size_t addr,
			    zd_resource_size_t size, zd_resource_size_t *low)
{
	for (struct zd_resource *p = base->child; p; p = p->sibling) {
		if (p->start > addr + size - 1)
			break;
		if (p->end >= addr) {
			*low = p->start;
			return true;
		}
	}
	return false;
}

/* Claim the highest free aligned range in @base; lock held. */
static struct zd_resource *claim_top_locked(struct zd_resource *res,
		struct zd_resource *base, zd_resource_size_t size,
		zd_resource_size_t align, const char *name)
{
	zd_resource_size_t end = base->end < PHYSMEM_END ? base->end : PHYSMEM_END;
	zd_resource_size_t addr, low;

	if (end < size - 1)
		return NULL;
	addr = (end - size + 1) & ~(align - 1);
	while (addr >= base->start) {
		if (!lowest_conflict(base, addr, size, &low)) {
			if (!zd__request_region_locked(res, &zd_iomem, addr, size,
						       name, 0))
				return res;
			low = addr;	/* claimed meanwhile below @base */
		}
		/* jump below everything in the way */
		if (low < size + base->start)
			break;
		addr = (low - size) & ~(align - 1);
	}
	return NULL;
}

struct zd_resource *zd_get_free_mem_region(struct zd_device *dev,
		struct zd_resource *base, zd_resource_size_t size,
		zd_resource_size_t align, const char *name, unsigned long desc)
{
	struct zd_resource *res, *claimed;
	int err;

	if (dev && zd_dev_unusable(dev, __func__)) {
		errno = EINVAL;
		return NULL;
	}
	if (!base || !size || !align || (align & (align - 1)) ||
	    size > UINT64_MAX - align) {
		zd_warn("bad argument: base %p size %#llx align %#llx",
			(void *)base, (unsigned long long)size,
			(unsigned long long)align);
		errno = EINVAL;
		return NULL;
	}
	size = (size + align - 1) & ~(align - 1);
	res = zd_zalloc("resource.free_region", sizeof(*res));
	if (!res)
		return NULL;
	zd_iomem_ensure();
	pthread_rwlock_wrlock(&zd_resource_lock);
	claimed = claim_top_locked(res, base, size, align, name);
	if (claimed)
		claimed->desc = desc;
	pthread_rwlock_unlock(&zd_resource_lock);
	if (!claimed) {
		free(res);
		zd_log(ZD_LOG_INFO, "no free %#llx bytes in %s",
		       (unsigned long long)size, base->name);
		errno = ERANGE;
		return NULL;
	}
	if (dev && (err = zd_devm_region_add(dev, res->start, size))) {
		zd_release_mem_region(res->start, size);
		errno = -err;
		return NULL;
	}
	return res;
}

struct zd_resource *zd_request_free_mem_region(struct zd_resource *base,
		zd_resource_size_t size, const char *name)
{
	return zd_get_free_mem_region(NULL, base, size, SECTION_SIZE, name,
				      ZD_IORES_DESC_DEVICE_PRIVATE_MEMORY);
}

struct zd_resource *zd_devm_request_free_mem_region(struct zd_device *dev,
		struct zd_resource *base, zd_resource_size_t size)
{
	if (!dev) {
		zd_warn("NULL device");
		errno = EINVAL;
		return NULL;
	}
	return zd_get_free_mem_region(dev, base, size, SECTION_SIZE,
				      zd_dev_name(dev),
				      ZD_IORES_DESC_DEVICE_PRIVATE_MEMORY);
}
