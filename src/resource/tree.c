// SPDX-License-Identifier: MIT
/*
 * The resource tree proper: claiming, inserting, removing and releasing
 * resources and regions, after kernel/resource.c.  Children of a resource
 * form a singly linked list sorted by start; siblings never overlap.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "fault.h"
#include "internal.h"
#include "log.h"

pthread_rwlock_t zd_resource_lock = PTHREAD_RWLOCK_INITIALIZER;

zd_resource_size_t zd_resource_size(const struct zd_resource *res)
{
	if (ZD_WARN_ON(!res, "NULL resource"))
		return 0;
	return res->end - res->start + 1;
}

const char *zd_resource_str(const struct zd_resource *r, char *buf, size_t len)
{
	snprintf(buf, len, "[mem %#llx-%#llx] \"%s\"",
		 (unsigned long long)r->start, (unsigned long long)r->end,
		 r->name ? r->name : "");
	return buf;
}

struct zd_resource *zd_next_resource(struct zd_resource *p, bool skip_children)
{
	if (!skip_children && p->child)
		return p->child;
	while (!p->sibling && p->parent)
		p = p->parent;
	return p->sibling;
}

/* Link @new under @root unless it conflicts; returns NULL or the conflict
 * (@root itself when @new does not fit inside it). */
struct zd_resource *zd__request_resource(struct zd_resource *root,
					 struct zd_resource *new)
{
	struct zd_resource **p = &root->child, *tmp;

	if (new->end < new->start || new->start < root->start ||
	    new->end > root->end)
		return root;
	for (;;) {
		tmp = *p;
		if (!tmp || tmp->start > new->end) {
			new->sibling = tmp;
			new->parent = root;
			*p = new;
			return NULL;
		}
		p = &tmp->sibling;
		if (tmp->end < new->start)
			continue;
		return tmp;
	}
}

int zd__release_resource(struct zd_resource *old, bool release_child)
{
	struct zd_resource **p, *tmp, *chd;

	if (!old->parent)
		return -EINVAL;
	for (p = &old->parent->child; (tmp = *p); p = &tmp->sibling) {
		if (tmp != old)
			continue;
		if (release_child || !tmp->child) {
			*p = tmp->sibling;
		} else {
			for (chd = tmp->child;; chd = chd->sibling) {
				chd->parent = tmp->parent;
				if (!chd->sibling)
					break;
			}
			*p = tmp->child;
			chd->sibling = tmp->sibling;
			old->child = NULL;
		}
		old->parent = NULL;
		old->sibling = NULL;
		return 0;
	}
	return -EINVAL;
}

/*
 * Insert @new where it fits, descending into resources that contain it;
 * existing resources it fully contains become its children.  Returns NULL
 * or the resource it conflicts with.
 */
struct zd_resource *zd__insert_resource(struct zd_resource *parent,
					struct zd_resource *new)
{
	struct zd_resource *first, *next;

	for (;; parent = first) {
		first = zd__request_resource(parent, new);
		if (!first || first == parent || first == new)
			return first;
		if (first->start > new->start || first->end < new->end)
			break;		/* @new spans @first and maybe more */
		if (first->start == new->start && first->end == new->end)
			break;
	}
	for (next = first;; next = next->sibling) {
		if (next->start < new->start || next->end > new->end)
			return next;	/* partial overlap */
		if (!next->sibling || next->sibling->start > new->end)
			break;
	}
	new->parent = parent;
	new->sibling = next->sibling;
	new->child = first;
	next->sibling = NULL;
	for (next = first; next; next = next->sibling)
		next->parent = new;
	if (parent->child == first) {
		parent->child = new;
	} else {
		for (next = parent->child; next->sibling != first;)
			next = next->sibling;
		next->sibling = new;
	}
	return NULL;
}

static void report_conflict(const char *what, const struct zd_resource *new,
			    const struct zd_resource *conflict,
			    const struct zd_resource *parent)
{
	char a[128], b[128];

	if (conflict == parent)
		zd_log(ZD_LOG_INFO, "%s %s: outside %s", what,
		       zd_resource_str(new, a, sizeof(a)),
		       zd_resource_str(parent, b, sizeof(b)));
	else
		zd_log(ZD_LOG_INFO, "%s %s: busy, held by %s", what,
		       zd_resource_str(new, a, sizeof(a)),
		       zd_resource_str(conflict, b, sizeof(b)));
}

static bool bad_args(const struct zd_resource *root,
		     const struct zd_resource *new)
{
	if (!root || !new) {
		zd_warn("NULL resource");
		return true;
	}
	if (new->end < new->start) {
		zd_warn("resource \"%s\" ends before it starts", new->name);
		return true;
	}
	return false;
}

/*
 * Why @new cannot be linked below @parent, or NULL: it is linked already
 * (relinking would drop its children or list it twice), or it is @parent
 * or above it (a cycle).  Write lock held.
 */
static const char *not_linkable(const struct zd_resource *parent,
				const struct zd_resource *new)
{
	if (new->parent || new == &zd_iomem)
		return "is already in the tree";
	for (const struct zd_resource *p = parent; p; p = p->parent)
		if (p == new)
			return "would be its own ancestor";
	return NULL;
}

/* Link @new by @op (request or insert) under the write lock. */
static int link_resource(struct zd_resource *parent, struct zd_resource *new,
			 struct zd_resource *(*op)(struct zd_resource *,
						   struct zd_resource *),
			 const char *what)
{
	struct zd_resource *conflict;

	const char *why;

	if (bad_args(parent, new))
		return -EINVAL;
	zd_iomem_ensure();
	pthread_rwlock_wrlock(&zd_resource_lock);
	why = not_linkable(parent, new);
	if (!why) {
		/* a fresh resource's child may be stale: it has none yet */
		new->child = NULL;
		conflict = op(parent, new);
	}
	pthread_rwlock_unlock(&zd_resource_lock);
	if (why) {
		zd_warn("%s: resource \"%s\" %s", what, new->name, why);
		return -EBUSY;
	}
	if (conflict)
		report_conflict(what, new, conflict, parent);
	return conflict ? -EBUSY : 0;
}

int zd_request_resource(struct zd_resource *root, struct zd_resource *new)
{
	return link_resource(root, new, zd__request_resource,
			     "request_resource");
}

int zd_insert_resource(struct zd_resource *parent, struct zd_resource *new)
{
	return link_resource(parent, new, zd__insert_resource,
			     "insert_resource");
}

/* Unlink @old with its children, or handing them to its parent. */
static int unlink_resource(struct zd_resource *old, bool release_child)
{
	int err;

	if (ZD_WARN_ON(!old, "NULL resource"))
		return -EINVAL;
	pthread_rwlock_wrlock(&zd_resource_lock);
	err = zd__release_resource(old, release_child);
	pthread_rwlock_unlock(&zd_resource_lock);
	if (err)
		zd_warn("resource \"%s\" is not in the tree", old->name);
	return err;
}

int zd_release_resource(struct zd_resource *old)
{
	return unlink_resource(old, true);
}

int zd_remove_resource(struct zd_resource *old)
{
	return unlink_resource(old, false);
}

/* ---- busy regions ------------------------------------------------------ */

struct zd_resource *zd__request_region_locked(struct zd_resource *res,
		struct zd_resource *parent, zd_resource_size_t start,
		zd_resource_size_t n, const char *name, unsigned long flags)
{
	struct zd_resource *conflict;

	res->name = name;
	res->start = start;
	res->end = start + n - 1;
	res->child = NULL;
	for (;;) {
		res->flags = (parent->flags & ZD_IORESOURCE_MEM) |
			     ZD_IORESOURCE_BUSY | ZD_IORESOURCE_ALLOCATED | flags;
		res->desc = parent->desc;
		conflict = zd__request_resource(parent, res);
		if (!conflict)
			return NULL;
		/* a free window (PCI bus, parent region) that contains us */
		if (conflict != parent && !(conflict->flags & ZD_IORESOURCE_BUSY)) {
			parent = conflict;
			continue;
		}
		return conflict;
	}
}

/* Whether @r is the iomem root or below it (lock held): a region claimed
 * under a detached resource would be invisible to every other user. */
static bool in_iomem_tree(const struct zd_resource *r)
{
	while (r->parent)
		r = r->parent;
	return r == &zd_iomem;
}

struct zd_resource *zd_request_region(struct zd_resource *parent,
		zd_resource_size_t start, zd_resource_size_t n,
		const char *name, unsigned long flags)
{
	struct zd_resource *res, *conflict;

	if (!parent || !n || start + n - 1 < start) {
		zd_warn("%s: region %#llx+%#llx", !parent ? "NULL parent" :
			"empty or wrapping", (unsigned long long)start,
			(unsigned long long)n);
		errno = EINVAL;
		return NULL;
	}
	res = zd_zalloc("resource.region", sizeof(*res));
	if (!res)
		return NULL;
	zd_iomem_ensure();
	pthread_rwlock_wrlock(&zd_resource_lock);
	if (!in_iomem_tree(parent)) {
		pthread_rwlock_unlock(&zd_resource_lock);
		zd_warn("parent [mem %#llx-%#llx] \"%s\" is not in the resource "
			"tree", (unsigned long long)parent->start,
			(unsigned long long)parent->end,
			parent->name ? parent->name : "");
		free(res);
		errno = EINVAL;
		return NULL;
	}
	conflict = zd__request_region_locked(res, parent, start, n, name, flags);
	pthread_rwlock_unlock(&zd_resource_lock);
	if (conflict) {
		report_conflict("request_region", res, conflict, parent);
		free(res);
		errno = EBUSY;
		return NULL;
	}
	return res;
}

void zd_resource_set_busy(struct zd_resource *r, bool busy)
{
	pthread_rwlock_wrlock(&zd_resource_lock);
	r->flags = busy ? r->flags | ZD_IORESOURCE_BUSY
			: r->flags & ~ZD_IORESOURCE_BUSY;
	pthread_rwlock_unlock(&zd_resource_lock);
}

int zd_release_region(struct zd_resource *parent, zd_resource_size_t start,
		      zd_resource_size_t n)
{
	zd_resource_size_t end = start + n - 1;
	struct zd_resource **p, *res = NULL;
	bool platform = false;

	if (ZD_WARN_ON(!parent, "NULL parent"))
		return -EINVAL;
	pthread_rwlock_wrlock(&zd_resource_lock);
	for (p = &parent->child; (res = *p);) {
		if (res->start <= start && res->end >= end) {
			if (!(res->flags & ZD_IORESOURCE_BUSY)) {
				p = &res->child;
				continue;
			}
			platform = res->flags & ZD_IORESOURCE_PLATFORM;
			if (res->start != start || res->end != end ||
			    !(res->flags & ZD_IORESOURCE_ALLOCATED) || platform)
				res = NULL;
			else if (!res->child)
				*p = res->sibling;
			break;
		}
		p = &res->sibling;
	}
	pthread_rwlock_unlock(&zd_resource_lock);
	if (res && res->child) {
		/* freeing it would leave them pointing into freed memory */
		zd_warn("region [mem %#llx-%#llx] still has children (\"%s\"); "
			"not released", (unsigned long long)start,
			(unsigned long long)end, res->child->name);
		return -EBUSY;
	}
	if (!res) {
		zd_warn("no region [mem %#llx-%#llx] to release%s",
			(unsigned long long)start, (unsigned long long)end,
			platform ? " (the platform's, not a device's)" : "");
		return -ENOENT;
	}
	free(res);
	return 0;
}

struct zd_resource *zd_request_mem_region(zd_resource_size_t start,
		zd_resource_size_t n, const char *name)
{
	return zd_request_region(zd_iomem_root(), start, n, name, 0);
}

int zd_release_mem_region(zd_resource_size_t start, zd_resource_size_t n)
{
	return zd_release_region(zd_iomem_root(), start, n);
}
