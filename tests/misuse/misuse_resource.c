// SPDX-License-Identifier: MIT
/*
 * Misuse of the physical resource tree.
 *
 * No bad input applies to: zd_iomem_root (no arguments).
 */
#include <stdio.h>

#include "misuse.h"

static struct zd_resource *res_new(uint64_t start, uint64_t len, const char *name)
{
	struct zd_resource *r = calloc(1, sizeof(*r));

	M_SETUP(r);
	r->start = start;
	r->end = start + len - 1;
	r->name = name;
	r->flags = ZD_IORESOURCE_MEM;
	return r;
}

/* @r is linked in the tree: its parent lists it among its children. */
static bool in_tree(const struct zd_resource *r)
{
	if (!r->parent)
		return false;
	for (struct zd_resource *c = r->parent->child; c; c = c->sibling)
		if (c == r)
			return true;
	return false;
}

/* A parent with one child, both in the tree at DEV_BASE. */
static void family(struct zd_resource **parent, struct zd_resource **child)
{
	*parent = res_new(DEV_BASE, MiB(16), "mis-parent");
	*child = res_new(DEV_BASE + MiB(4), MiB(4), "mis-child");
	M_SETUP(zd_request_resource(zd_iomem_root(), *parent) == 0);
	M_SETUP(zd_request_resource(*parent, *child) == 0);
}

static bool family_intact(struct zd_resource *parent, struct zd_resource *child)
{
	return in_tree(parent) && in_tree(child) && parent->child == child &&
	       child->parent == parent;
}

static void setup_bad_layout(void)
{
	m_arm();
	m_expect_err(zd_iomem_setup((enum zd_iomem_layout)99), -EINVAL);
}

static void setup_busy(void)
{
	M_SETUP(zd_request_mem_region(DEV_BASE, MiB(2), "mis"));
	m_arm();
	m_expect_err(zd_iomem_setup(ZD_IOMEM_LAYOUT_DEFAULT), -EBUSY);
	m_state(zd_request_mem_region(DEV_BASE, MiB(2), "y") == NULL,
		"the region was dropped");
}

static void print_null(void)
{
	m_arm();
	m_expect_err(zd_iomem_print(NULL), ANY_ERR);
}

static void size_null(void)
{
	m_arm();
	m_expect_val(zd_resource_size(NULL), 0);
}

static void request_null_root(void)
{
	m_arm();
	m_expect_err(zd_request_resource(NULL, res_new(DEV_BASE, MiB(2), "x")),
		     -EINVAL);
}

static void request_null_res(void)
{
	m_arm();
	m_expect_err(zd_request_resource(zd_iomem_root(), NULL), -EINVAL);
}

static void request_reversed(void)
{
	struct zd_resource *r = res_new(DEV_BASE, MiB(2), "x");

	r->end = r->start - 1;
	m_arm();
	m_expect_err(zd_request_resource(zd_iomem_root(), r), -EINVAL);
	m_state(!in_tree(r), "linked");
}

static void request_twice(void)
{
	struct zd_resource *parent, *child;

	family(&parent, &child);
	m_arm();
	m_expect_err(zd_request_resource(zd_iomem_root(), parent), ANY_ERR);
	m_state(family_intact(parent, child), "its children were cleared");
}

static void release_null(void)
{
	m_arm();
	m_expect_err(zd_release_resource(NULL), -EINVAL);
}

static void release_not_in_tree(void)
{
	m_arm();
	m_expect_err(zd_release_resource(res_new(DEV_BASE, MiB(2), "x")), -EINVAL);
}

static void release_twice(void)
{
	struct zd_resource *r = res_new(DEV_BASE, MiB(2), "x");

	M_SETUP(zd_request_resource(zd_iomem_root(), r) == 0);
	M_SETUP(zd_release_resource(r) == 0);
	m_arm();
	m_expect_err(zd_release_resource(r), -EINVAL);
}

static void release_root(void)
{
	struct zd_resource *root = zd_iomem_root();

	m_arm();
	m_expect_err(zd_release_resource(root), ANY_ERR);
	m_state(zd_region_intersects(GiB(1), MiB(1), ZD_IORESOURCE_SYSTEM_RAM,
				     ZD_IORES_DESC_NONE) == ZD_REGION_INTERSECTS,
		"the tree lost System RAM");
}

static void insert_null_parent(void)
{
	m_arm();
	m_expect_err(zd_insert_resource(NULL, res_new(DEV_BASE, MiB(2), "x")),
		     ANY_ERR);
}

static void insert_null_res(void)
{
	m_arm();
	m_expect_err(zd_insert_resource(zd_iomem_root(), NULL), ANY_ERR);
}

static void insert_reversed(void)
{
	struct zd_resource *r = res_new(DEV_BASE, MiB(2), "x");

	r->end = r->start - 1;
	m_arm();
	m_expect_err(zd_insert_resource(zd_iomem_root(), r), ANY_ERR);
	m_state(!in_tree(r), "linked");
}

static void insert_twice(void)
{
	struct zd_resource *parent, *child;

	family(&parent, &child);
	m_arm();
	m_expect_err(zd_insert_resource(zd_iomem_root(), parent), ANY_ERR);
	m_state(family_intact(parent, child), "its children were cleared");
}

static void insert_root(void)
{
	struct zd_resource *root = zd_iomem_root();

	m_arm();
	m_expect_err(zd_insert_resource(root, root), ANY_ERR);
	m_state(root->parent == NULL, "the root got a parent");
}

static void remove_null(void)
{
	m_arm();
	m_expect_err(zd_remove_resource(NULL), -EINVAL);
}

static void remove_not_in_tree(void)
{
	m_arm();
	m_expect_err(zd_remove_resource(res_new(DEV_BASE, MiB(2), "x")), -EINVAL);
}

static void remove_root(void)
{
	m_arm();
	m_expect_err(zd_remove_resource(zd_iomem_root()), ANY_ERR);
}

static void region_null_parent(void)
{
	m_arm();
	m_expect_null(zd_request_region(NULL, DEV_BASE, MiB(2), "x", 0), EINVAL);
}

static void region_zero(void)
{
	m_arm();
	m_expect_null(zd_request_region(zd_iomem_root(), DEV_BASE, 0, "x", 0), EINVAL);
}

static void region_wrap(void)
{
	m_arm();
	m_expect_null(zd_request_region(zd_iomem_root(), ~0ull - 4095, MiB(2), "x", 0),
		      EINVAL);
}

static void region_foreign_parent(void)
{
	struct zd_resource *r = res_new(DEV_BASE, MiB(16), "not in tree");

	m_arm();
	m_expect_null(zd_request_region(r, DEV_BASE, MiB(2), "x", 0), EINVAL);
	m_state(r->child == NULL, "claimed under a resource outside the tree");
}

static void release_region_none(void)
{
	m_arm();
	m_expect_err(zd_release_region(zd_iomem_root(), DEV_BASE, MiB(2)), -ENOENT);
}

static void release_region_null(void)
{
	m_arm();
	m_expect_err(zd_release_region(NULL, DEV_BASE, MiB(2)), ANY_ERR);
}

static void release_region_children(void)
{
	struct zd_resource *region, *child = res_new(DEV_BASE + MiB(1), MiB(1), "c");
	int r;

	region = zd_request_region(zd_iomem_root(), DEV_BASE, MiB(4), "mis", 0);
	M_SETUP(region);
	M_SETUP(zd_insert_resource(region, child) == 0 && child->parent == region);
	m_arm();
	r = zd_release_region(zd_iomem_root(), DEV_BASE, MiB(4));
	m_expect_err(r, ANY_ERR);
	if (r == 0) {
		/* the region is freed: only the child may be looked at */
		m_state(false, "the region went, its children dangle");
		return;
	}
	m_state(in_tree(region) && in_tree(child) && child->parent == region,
		"the region or its child left the tree");
}

static void release_mem_region_none(void)
{
	m_arm();
	m_expect_err(zd_release_mem_region(DEV_BASE, MiB(2)), -ENOENT);
}

static void release_mem_region_ram(void)
{
	m_arm();
	m_expect_err(zd_release_mem_region(0x100000, 0x7ff00000), -ENOENT);
	m_state(zd_region_intersects(GiB(1), MiB(1), ZD_IORESOURCE_SYSTEM_RAM,
				     ZD_IORES_DESC_NONE) == ZD_REGION_INTERSECTS,
		"System RAM released");
}

static void release_mem_region_twice(void)
{
	M_SETUP(zd_request_mem_region(DEV_BASE, MiB(2), "mis"));
	M_SETUP(zd_release_mem_region(DEV_BASE, MiB(2)) == 0);
	m_arm();
	m_expect_err(zd_release_mem_region(DEV_BASE, MiB(2)), -ENOENT);
}

static void mem_region_zero(void)
{
	m_arm();
	m_expect_null(zd_request_mem_region(DEV_BASE, 0, "x"), EINVAL);
}

static void mem_region_wrap(void)
{
	m_arm();
	m_expect_null(zd_request_mem_region(~0ull - 10, 100, "x"), EINVAL);
}

static void intersects_zero(void)
{
	m_arm();
	m_expect_err(zd_region_intersects(DEV_BASE, 0, ZD_IORESOURCE_SYSTEM_RAM,
					  ZD_IORES_DESC_NONE), -EINVAL);
}

static void intersects_wrap(void)
{
	m_arm();
	m_expect_err(zd_region_intersects(~0ull - 10, 100, ZD_IORESOURCE_SYSTEM_RAM,
					  ZD_IORES_DESC_NONE), -EINVAL);
}

static int walk_fn(struct zd_resource *res, void *arg)
{
	(void)res;
	(void)arg;
	return 0;
}

static void walk_null(void)
{
	m_arm();
	m_expect_err(zd_walk_iomem_res_desc(ZD_IORES_DESC_NONE,
			ZD_IORESOURCE_SYSTEM_RAM, 0, ~0ull, NULL, NULL), -EINVAL);
}

static void walk_reversed(void)
{
	m_arm();
	m_expect_err(zd_walk_iomem_res_desc(ZD_IORES_DESC_NONE,
			ZD_IORESOURCE_SYSTEM_RAM, GiB(2), GiB(1), NULL, walk_fn),
		     -EINVAL);
}

static struct zd_resource *free_base(void)
{
	struct zd_resource *base = zd_request_mem_region(GiB(256), GiB(4), "mis-base");

	M_SETUP(base);
	base->flags &= ~ZD_IORESOURCE_BUSY;
	return base;
}

static void free_null_base(void)
{
	m_arm();
	m_expect_null(zd_get_free_mem_region(NULL, NULL, MiB(2), MiB(2), "x",
					     ZD_IORES_DESC_NONE), EINVAL);
}

static void free_zero(void)
{
	m_arm();
	m_expect_null(zd_get_free_mem_region(NULL, free_base(), 0, MiB(2), "x",
					     ZD_IORES_DESC_NONE), EINVAL);
}

static void free_align_zero(void)
{
	m_arm();
	m_expect_null(zd_get_free_mem_region(NULL, free_base(), MiB(2), 0, "x",
					     ZD_IORES_DESC_NONE), EINVAL);
}

static void free_align_npot(void)
{
	m_arm();
	m_expect_null(zd_get_free_mem_region(NULL, free_base(), MiB(2), MiB(3), "x",
					     ZD_IORES_DESC_NONE), EINVAL);
}

static void free_huge(void)
{
	m_arm();
	m_expect_null_nowarn(zd_get_free_mem_region(NULL, free_base(), ~0ull - 4095,
						    4096, "x", ZD_IORES_DESC_NONE),
			     0);
}

static void free_raw_dev(void)
{
	struct zd_device *dev = calloc(1, sizeof(*dev));

	M_SETUP(dev);
	m_arm();
	m_expect_null(zd_get_free_mem_region(dev, free_base(), MiB(2), MiB(2), "x",
					     ZD_IORES_DESC_NONE), 0);
}

static void req_free_null(void)
{
	m_arm();
	m_expect_null(zd_request_free_mem_region(NULL, MiB(2), "x"), EINVAL);
}

static void req_free_zero(void)
{
	m_arm();
	m_expect_null(zd_request_free_mem_region(free_base(), 0, "x"), EINVAL);
}

static void devm_free_null_dev(void)
{
	m_arm();
	m_expect_null(zd_devm_request_free_mem_region(NULL, free_base(), MiB(2)),
		      EINVAL);
}

static void devm_free_null_base(void)
{
	m_arm();
	m_expect_null(zd_devm_request_free_mem_region(m_dev_new("mis-f"), NULL,
						      MiB(2)), EINVAL);
}

#define EINV	"-EINVAL+WARN"
#define ERRW	"-errno+WARN"
#define NULLEINV "NULL/EINVAL+WARN"

const struct mcase misuse_resource_cases[] = {
	{ "zd_iomem_setup", "huge: unknown layout", EINV, setup_bad_layout },
	{ "zd_iomem_setup", "wrong state: regions held", "-EBUSY+WARN, kept", setup_busy },
	{ "zd_iomem_print", "NULL", ERRW, print_null },
	{ "zd_resource_size", "NULL", "0+WARN", size_null },
	{ "zd_request_resource", "NULL root", EINV, request_null_root },
	{ "zd_request_resource", "NULL res", EINV, request_null_res },
	{ "zd_request_resource", "huge: end before start", EINV, request_reversed },
	{ "zd_request_resource", "already done: in the tree, with a child", ERRW ", children kept", request_twice },
	{ "zd_release_resource", "NULL", EINV, release_null },
	{ "zd_release_resource", "wrong state: not in the tree", EINV, release_not_in_tree },
	{ "zd_release_resource", "double release: twice", EINV, release_twice },
	{ "zd_release_resource", "foreign: the iomem root", ERRW ", tree kept", release_root },
	{ "zd_insert_resource", "NULL parent", ERRW, insert_null_parent },
	{ "zd_insert_resource", "NULL res", ERRW, insert_null_res },
	{ "zd_insert_resource", "huge: end before start", ERRW, insert_reversed },
	{ "zd_insert_resource", "already done: in the tree, with a child", ERRW ", children kept", insert_twice },
	{ "zd_insert_resource", "foreign: the root into itself", ERRW, insert_root },
	{ "zd_remove_resource", "NULL", EINV, remove_null },
	{ "zd_remove_resource", "wrong state: not in the tree", EINV, remove_not_in_tree },
	{ "zd_remove_resource", "foreign: the iomem root", ERRW, remove_root },
	{ "zd_request_region", "NULL parent", NULLEINV, region_null_parent },
	{ "zd_request_region", "zero: n = 0", NULLEINV, region_zero },
	{ "zd_request_region", "huge: wrapping range", NULLEINV, region_wrap },
	{ "zd_request_region", "foreign: parent not in the tree", NULLEINV, region_foreign_parent },
	{ "zd_release_region", "NULL parent", ERRW, release_region_null },
	{ "zd_release_region", "wrong state: not held", "-ENOENT+WARN", release_region_none },
	{ "zd_release_region", "wrong state: region has children", ERRW ", kept", release_region_children },
	{ "zd_release_mem_region", "wrong state: not held", "-ENOENT+WARN", release_mem_region_none },
	{ "zd_release_mem_region", "foreign: System RAM", "-ENOENT+WARN, kept", release_mem_region_ram },
	{ "zd_release_mem_region", "double release: twice", "-ENOENT+WARN", release_mem_region_twice },
	{ "zd_request_mem_region", "zero: n = 0", NULLEINV, mem_region_zero },
	{ "zd_request_mem_region", "huge: wrapping range", NULLEINV, mem_region_wrap },
	{ "zd_region_intersects", "zero: size 0", EINV, intersects_zero },
	{ "zd_region_intersects", "huge: wrapping range", EINV, intersects_wrap },
	{ "zd_walk_iomem_res_desc", "NULL func", EINV, walk_null },
	{ "zd_walk_iomem_res_desc", "huge: end before start", EINV, walk_reversed },
	{ "zd_get_free_mem_region", "NULL base", NULLEINV, free_null_base },
	{ "zd_get_free_mem_region", "zero: size 0", NULLEINV, free_zero },
	{ "zd_get_free_mem_region", "zero: align 0", NULLEINV, free_align_zero },
	{ "zd_get_free_mem_region", "unaligned: align not a power of 2", NULLEINV, free_align_npot },
	{ "zd_get_free_mem_region", "huge: size near 2^64", "NULL/ERANGE or EINVAL", free_huge },
	{ "zd_get_free_mem_region", "wrong state: never initialised dev", "NULL+WARN", free_raw_dev },
	{ "zd_request_free_mem_region", "NULL base", NULLEINV, req_free_null },
	{ "zd_request_free_mem_region", "zero: size 0", NULLEINV, req_free_zero },
	{ "zd_devm_request_free_mem_region", "NULL device", NULLEINV, devm_free_null_dev },
	{ "zd_devm_request_free_mem_region", "NULL base", NULLEINV, devm_free_null_base },
	{ 0 }
};
