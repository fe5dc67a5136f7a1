/* SPDX-License-Identifier: MIT */
/*
 * Test fixture for the resource tree: remember what the tree holds before
 * a test and take out whatever the test left in it, so that a failed test
 * leaves no resource (pointing at its own variables) or region behind.
 * The test's resources must outlive it (static), as teardown reads them.
 */
#ifndef ZD_TEST_TREE_UTIL_H
#define ZD_TEST_TREE_UTIL_H

#include <zonedev/resource.h>

#define TREE_MAX	512
#define TREE_ALLOCATED	0x40000000ul	/* zonedev's own regions */

static struct zd_resource *tree_before[TREE_MAX];
static int tree_nr_before;

static struct zd_resource *tree_next(struct zd_resource *p)
{
	if (p->child)
		return p->child;
	while (!p->sibling && p->parent)
		p = p->parent;
	return p->sibling;
}

static bool tree_was_there(const struct zd_resource *r)
{
	for (int i = 0; i < tree_nr_before; i++)
		if (tree_before[i] == r)
			return true;
	return false;
}

static inline void tree_snapshot(void)
{
	tree_nr_before = 0;
	for (struct zd_resource *p = zd_iomem_root()->child;
	     p && tree_nr_before < TREE_MAX; p = tree_next(p))
		tree_before[tree_nr_before++] = p;
}

/* Newest descendants first: regions zonedev allocated are released
 * (freed), the caller's resources removed (children move up). */
static inline void tree_restore(void)
{
	struct zd_resource *extra[TREE_MAX];
	int n = 0;

	for (struct zd_resource *p = zd_iomem_root()->child; p && n < TREE_MAX;
	     p = tree_next(p))
		if (!tree_was_there(p))
			extra[n++] = p;
	while (n--) {
		struct zd_resource *r = extra[n];

		if ((r->flags & ZD_IORESOURCE_BUSY) &&
		    (r->flags & TREE_ALLOCATED) && !r->child)
			zd_release_region(r->parent, r->start, zd_resource_size(r));
		else
			zd_remove_resource(r);
	}
}

#endif /* ZD_TEST_TREE_UTIL_H */
