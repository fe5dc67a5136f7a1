// SPDX-License-Identifier: MIT
/* Questions about the tree: region_intersects and walks by descriptor. */
#include <errno.h>

#include "internal.h"
#include "log.h"

static bool type_match(const struct zd_resource *p, unsigned long flags,
		       unsigned long desc)
{
	return (p->flags & flags) == flags &&
	       (desc == ZD_IORES_DESC_NONE || desc == p->desc);
}

static bool overlaps(const struct zd_resource *p, zd_resource_size_t start,
		     zd_resource_size_t end)
{
	return p->start <= end && p->end >= start;
}

/*
 * Count, among @parent's children meeting [start, end], those of the kind
 * and the others.  A child of another kind still counts as the kind where
 * its descendants of the kind cover the overlap (a "System RAM" inside a
 * "CXL Window"), as in the kernel.
 */
int zd__region_intersects(struct zd_resource *parent, zd_resource_size_t start,
			  zd_resource_size_t size, unsigned long flags,
			  unsigned long desc)
{
	zd_resource_size_t end = start + size - 1;
	int type = 0, other = 0;

	for (struct zd_resource *p = parent->child; p; p = p->sibling) {
		zd_resource_size_t o_start, o_end;
		bool covered = false;

		if (p->start > end)
			break;		/* siblings are sorted */
		if (!overlaps(p, start, end))
			continue;
		if (type_match(p, flags, desc)) {
			type++;
			continue;
		}
		o_start = p->start > start ? p->start : start;
		o_end = p->end < end ? p->end : end;
		for (struct zd_resource *d = p->child; d && d != p->sibling;
		     d = zd_next_resource(d, false)) {
			if (d == p || !overlaps(d, start, end))
				continue;
			if (!type_match(d, flags, desc))
				continue;
			type++;
			if (d->start > o_start)
				break;	/* a gap before it is not covered */
			if (d->end >= o_end) {
				covered = true;
				break;
			}
			o_start = d->end + 1;
		}
		if (!covered)
			other++;
	}
	if (!type)
		return ZD_REGION_DISJOINT;
	return other ? ZD_REGION_MIXED : ZD_REGION_INTERSECTS;
}

int zd_region_intersects(zd_resource_size_t start, size_t size,
			 unsigned long flags, unsigned long desc)
{
	int ret;

	if (!size || start + size - 1 < start) {
		zd_warn("empty or wrapping range %#llx+%#zx",
			(unsigned long long)start, size);
		return -EINVAL;
	}
	zd_iomem_ensure();
	pthread_rwlock_rdlock(&zd_resource_lock);
	ret = zd__region_intersects(&zd_iomem, start, size, flags, desc);
	pthread_rwlock_unlock(&zd_resource_lock);
	return ret;
}

/* The lowest resource of the kind meeting [start, end], clipped, in *out. */
static bool find_next(zd_resource_size_t start, zd_resource_size_t end,
		      unsigned long flags, unsigned long desc,
		      struct zd_resource *out)
{
	bool found = false;

	pthread_rwlock_rdlock(&zd_resource_lock);
	for (struct zd_resource *p = zd_iomem.child; p;
	     p = zd_next_resource(p, p->end < start)) {
		if (p->start > end)
			break;
		if (p->end < start || !type_match(p, flags, desc))
			continue;
		*out = *p;
		out->start = p->start > start ? p->start : start;
		out->end = p->end < end ? p->end : end;
		out->parent = out->sibling = out->child = NULL;
		found = true;
		break;
	}
	pthread_rwlock_unlock(&zd_resource_lock);
	return found;
}

int zd_walk_iomem_res_desc(unsigned long desc, unsigned long flags,
			   zd_resource_size_t start, zd_resource_size_t end,
			   void *arg, int (*func)(struct zd_resource *, void *))
{
	struct zd_resource res;
	int ret = -EINVAL;

	if (!func || end < start) {
		zd_warn("%s", !func ? "NULL callback" : "end before start");
		return -EINVAL;
	}
	zd_iomem_ensure();
	while (start <= end && find_next(start, end, flags, desc, &res)) {
		/* the lock is not held: @func may change the tree */
		ret = func(&res, arg);
		if (ret || res.end == end)
			break;
		start = res.end + 1;
	}
	return ret;
}
