// SPDX-License-Identifier: MIT
/* The physical resource tree: claims, nesting, intersects, free ranges. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "../test_util.h"
#include "tree_util.h"

#define GiB(x)		((zd_resource_size_t)(x) << 30)
#define MiB(x)		((zd_resource_size_t)(x) << 20)
#define RAM_HI_START	0x100000000ull
#define RAM_HI_END	0x47fffffffull
#define PCI_START	0x80000000ull
#define PCI_END		0xfdffffffull
#define TOP		((1ull << zd_max_physmem_bits()) - 1)

static char info_log[4096];

static void capture(enum zd_log_level level, const char *msg, void *arg)
{
	size_t len = strlen(info_log);

	if (len < sizeof(info_log) - 1)
		snprintf(info_log + len, sizeof(info_log) - len, "%s\n", msg);
	if (level == ZD_LOG_WARN) {
		len = strlen(test_last_warn);
		if (len < sizeof(test_last_warn) - 1)
			snprintf(test_last_warn + len,
				 sizeof(test_last_warn) - len, "%s\n", msg);
	}
}

static int reset(void **state)
{
	zd_set_log(capture, NULL);
	info_log[0] = 0;
	test_last_warn[0] = 0;
	assert_int_equal(zd_iomem_setup(ZD_IOMEM_LAYOUT_DEFAULT), 0);
	tree_snapshot();
	return 0;
}

/* A device a test registered (static, so it outlives a failure). */
static struct zd_device *test_dev;

static int teardown(void **state)
{
	zd_fault_inject_reset();
	if (test_dev) {
		struct zd_device *found = zd_device_find(zd_dev_name(test_dev));

		if (found == test_dev)
			zd_device_unregister(test_dev);
		zd_put_device(found);
		test_dev = NULL;
	}
	/* a test may have changed the layout: the snapshot is not of it */
	if (!zd_iomem_setup(ZD_IOMEM_LAYOUT_DEFAULT))
		return 0;
	tree_restore();
	return zd_iomem_setup(ZD_IOMEM_LAYOUT_DEFAULT);
}

static void test_default_layout_printed(void **state)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_int_equal(zd_iomem_print(f), 0);
	fclose(f);
	assert_string_equal(buf,
		"00000000-00000fff : Reserved\n"
		"00001000-0009ffff : System RAM\n"
		"000a0000-000fffff : Reserved\n"
		"00100000-7fffffff : System RAM\n"
		"80000000-fdffffff : PCI Bus 0000:00\n"
		"100000000-47fffffff : System RAM\n");
	free(buf);
}

static void test_request_conflict_names_holder(void **state)
{
	errno = 0;
	assert_null(zd_request_mem_region(RAM_HI_END - 0xfff, 0x2000, "dev"));
	assert_int_equal(errno, EBUSY);
	assert_non_null(strstr(info_log, "busy, held by [mem 0x100000000-0x47fffffff] \"System RAM\""));
}

static void test_request_nested_in_window(void **state)
{
	struct zd_resource *r = zd_request_mem_region(PCI_START + MiB(16), MiB(1),
						       "bar0");

	assert_non_null(r);
	assert_string_equal(r->parent->name, "PCI Bus 0000:00");
	assert_true(r->flags & ZD_IORESOURCE_BUSY);
	/* a second claim on it names it */
	assert_null(zd_request_mem_region(PCI_START + MiB(16), 0x1000, "bar1"));
	assert_non_null(strstr(info_log, "held by"));
	assert_non_null(strstr(info_log, "\"bar0\""));
	/* straddling the window's end: the window is "outside" */
	assert_null(zd_request_mem_region(PCI_END - 0xfff, 0x2000, "edge"));
	assert_int_equal(zd_release_mem_region(PCI_START + MiB(16), MiB(1)), 0);
	assert_warns("no region", assert_int_equal(
		zd_release_mem_region(PCI_START + MiB(16), MiB(1)), -ENOENT));
}

static void test_request_bad_ranges(void **state)
{
	errno = 0;
	assert_warns("empty or wrapping",
		     assert_null(zd_request_mem_region(GiB(100), 0, "z")));
	assert_int_equal(errno, EINVAL);
	assert_warns("empty or wrapping",
		     assert_null(zd_request_mem_region(UINT64_MAX, 2, "w")));
	assert_warns("NULL parent",
		     assert_null(zd_request_region(NULL, GiB(100), 1, "n", 0)));
	zd_fault_inject_site("resource.region");
	errno = 0;
	assert_null(zd_request_mem_region(GiB(100), 0x1000, "f"));
	assert_int_equal(errno, ENOMEM);
	zd_fault_inject_reset();
}

/* System RAM could be released like a device's region; a region could
 * be claimed under a resource no one else can see. */
static void test_platform_and_foreign_parents(void **state)
{
	static struct zd_resource detached = {
		.start = GiB(100), .end = GiB(101) - 1, .name = "detached",
		.flags = ZD_IORESOURCE_MEM,
	};

	assert_warns("the platform's", assert_int_equal(
		zd_release_mem_region(0x100000, 0x7ff00000), -ENOENT));
	assert_int_equal(zd_region_intersects(GiB(1), MiB(1),
			 ZD_IORESOURCE_SYSTEM_RAM, ZD_IORES_DESC_NONE),
			 ZD_REGION_INTERSECTS);
	errno = 0;
	assert_warns("not in the resource tree", assert_null(
		zd_request_region(&detached, GiB(100), MiB(2), "x", 0)));
	assert_int_equal(errno, EINVAL);
	assert_null(detached.child);
	assert_warns("NULL resource",
		     assert_int_equal(zd_resource_size(NULL), 0));
}

static void test_request_release_resource(void **state)
{
	static struct zd_resource a = { .start = GiB(100), .end = GiB(101) - 1,
				 .name = "a", .flags = ZD_IORESOURCE_MEM };
	static struct zd_resource b = { .start = GiB(100) + MiB(512), .end = GiB(102),
				 .name = "b", .flags = ZD_IORESOURCE_MEM };
	static struct zd_resource bad = { .start = 10, .end = 5, .name = "bad" };

	assert_int_equal(zd_request_resource(zd_iomem_root(), &a), 0);
	assert_int_equal(zd_request_resource(zd_iomem_root(), &b), -EBUSY);
	assert_non_null(strstr(info_log, "\"a\""));
	assert_warns("ends before it starts",
		     assert_int_equal(zd_request_resource(zd_iomem_root(), &bad),
				      -EINVAL));
	/* a non-busy resource lets regions be claimed inside it */
	assert_non_null(zd_request_mem_region(GiB(100), MiB(1), "inside-a"));
	assert_int_equal(zd_release_mem_region(GiB(100), MiB(1)), 0);
	/* release_region refuses what it did not allocate */
	a.flags |= ZD_IORESOURCE_BUSY;
	assert_warns("no region", assert_int_equal(
		zd_release_mem_region(a.start, zd_resource_size(&a)), -ENOENT));
	assert_int_equal(zd_release_resource(&a), 0);
	assert_warns("not in the tree",
		     assert_int_equal(zd_release_resource(&a), -EINVAL));
}

static void test_insert_and_remove_resource(void **state)
{
	static struct zd_resource c1 = { GiB(200), GiB(200) + MiB(1) - 1, "c1",
				  ZD_IORESOURCE_MEM, 0, NULL, NULL, NULL };
	static struct zd_resource c2 = { GiB(200) + MiB(4), GiB(200) + MiB(5) - 1, "c2",
				  ZD_IORESOURCE_MEM, 0, NULL, NULL, NULL };
	static struct zd_resource win = { GiB(200), GiB(201) - 1, "window",
				   ZD_IORESOURCE_MEM, 0, NULL, NULL, NULL };
	static struct zd_resource part = { GiB(200) + MiB(4) + 10, GiB(202), "part",
				    ZD_IORESOURCE_MEM, 0, NULL, NULL, NULL };

	assert_int_equal(zd_request_resource(zd_iomem_root(), &c1), 0);
	assert_int_equal(zd_request_resource(zd_iomem_root(), &c2), 0);
	/* the window swallows both */
	assert_int_equal(zd_insert_resource(zd_iomem_root(), &win), 0);
	assert_ptr_equal(c1.parent, &win);
	assert_ptr_equal(c2.parent, &win);
	assert_ptr_equal(win.child, &c1);
	assert_ptr_equal(c1.sibling, &c2);
	/* a partial overlap is refused */
	assert_int_equal(zd_insert_resource(zd_iomem_root(), &part), -EBUSY);
	/* removing the window gives the children back to the root */
	assert_int_equal(zd_remove_resource(&win), 0);
	assert_ptr_equal(c1.parent, zd_iomem_root());
	assert_ptr_equal(c2.parent, zd_iomem_root());
	assert_int_equal(zd_release_resource(&c1), 0);
	assert_int_equal(zd_release_resource(&c2), 0);
}

/* Linking a resource again cleared its children before finding the
 * conflict; they were then orphans that could be claimed twice. */
static void test_relink_refused(void **state)
{
	static struct zd_resource a = { GiB(700), GiB(701) - 1, "a",
					ZD_IORESOURCE_MEM, 0, NULL, NULL, NULL };
	static struct zd_resource c = { GiB(700), GiB(700) + MiB(1) - 1, "c",
					ZD_IORESOURCE_MEM | ZD_IORESOURCE_BUSY,
					0, NULL, NULL, NULL };
	static struct zd_resource x = { GiB(710), GiB(711) - 1, "x",
					ZD_IORESOURCE_MEM, 0, NULL, NULL, NULL };
	static struct zd_resource y = { GiB(710), GiB(710) + MiB(1) - 1, "y",
					ZD_IORESOURCE_MEM, 0, NULL, NULL, NULL };

	assert_int_equal(zd_request_resource(zd_iomem_root(), &a), 0);
	assert_int_equal(zd_request_resource(&a, &c), 0);
	assert_warns("already in the tree", assert_int_equal(
		zd_request_resource(zd_iomem_root(), &a), -EBUSY));
	assert_warns("already in the tree", assert_int_equal(
		zd_insert_resource(zd_iomem_root(), &a), -EBUSY));
	assert_warns("already in the tree", assert_int_equal(
		zd_request_resource(zd_iomem_root(), &c), -EBUSY));
	assert_warns("already in the tree", assert_int_equal(
		zd_insert_resource(&a, zd_iomem_root()), -EBUSY));
	assert_ptr_equal(a.child, &c);
	assert_ptr_equal(c.parent, &a);
	/* the child stays claimed: nobody else gets its range */
	assert_null(zd_request_mem_region(GiB(700), MiB(1), "again"));
	/* a tree of one's own may not be hung below itself */
	assert_int_equal(zd_request_resource(&x, &y), 0);
	assert_warns("its own ancestor", assert_int_equal(
		zd_request_resource(&y, &x), -EBUSY));
	assert_warns("its own ancestor", assert_int_equal(
		zd_insert_resource(&x, &x), -EBUSY));
	assert_ptr_equal(x.child, &y);
	assert_null(x.parent);
	assert_int_equal(zd_release_resource(&y), 0);
	assert_int_equal(zd_release_resource(&c), 0);
	assert_int_equal(zd_release_resource(&a), 0);
	/* released, it may be claimed again */
	assert_int_equal(zd_request_resource(zd_iomem_root(), &a), 0);
	assert_int_equal(zd_release_resource(&a), 0);
}

/* Releasing a region with resources claimed inside it freed it under
 * them. */
static void test_release_region_with_children(void **state)
{
	static struct zd_resource in = { GiB(720), GiB(720) + MiB(1) - 1, "in",
					 ZD_IORESOURCE_MEM, 0, NULL, NULL, NULL };
	struct zd_resource *r = zd_request_mem_region(GiB(720), MiB(4), "outer");

	assert_non_null(r);
	assert_int_equal(zd_request_resource(r, &in), 0);
	assert_warns("still has children", assert_int_equal(
		zd_release_mem_region(GiB(720), MiB(4)), -EBUSY));
	assert_ptr_equal(in.parent, r);
	assert_ptr_equal(r->child, &in);
	assert_int_equal(zd_region_intersects(GiB(720), MiB(4), 0, 0),
			 ZD_REGION_INTERSECTS);
	assert_int_equal(zd_release_resource(&in), 0);
	assert_int_equal(zd_release_mem_region(GiB(720), MiB(4)), 0);
}

static void test_region_intersects_cases(void **state)
{
	int ram = 0;
	unsigned long f = ZD_IORESOURCE_SYSTEM_RAM;

	(void)ram;
	/* free space above RAM */
	assert_int_equal(zd_region_intersects(GiB(64), GiB(1), f, 0),
			 ZD_REGION_DISJOINT);
	/* wholly inside System RAM */
	assert_int_equal(zd_region_intersects(RAM_HI_START, GiB(1), f, 0),
			 ZD_REGION_INTERSECTS);
	/* RAM and a hole after it: holes count as nothing */
	assert_int_equal(zd_region_intersects(RAM_HI_END - 0xfff, MiB(1), f, 0),
			 ZD_REGION_INTERSECTS);
	/* partly RAM, partly the PCI window */
	assert_int_equal(zd_region_intersects(PCI_START - 0x1000, 0x2000, f, 0),
			 ZD_REGION_MIXED);
	/* partial overlap with RAM's start, a device region beside it */
	assert_non_null(zd_request_mem_region(RAM_HI_END + 1, MiB(2), "dev"));
	assert_int_equal(zd_region_intersects(RAM_HI_END - 0xfff, MiB(1), f, 0),
			 ZD_REGION_MIXED);
	assert_int_equal(zd_region_intersects(RAM_HI_END + 1, MiB(1), f, 0),
			 ZD_REGION_DISJOINT);
	assert_int_equal(zd_release_mem_region(RAM_HI_END + 1, MiB(2)), 0);
	/* a descriptor narrows the kind */
	assert_int_equal(zd_region_intersects(0, 0x1000, ZD_IORESOURCE_MEM,
					      ZD_IORES_DESC_RESERVED),
			 ZD_REGION_INTERSECTS);
	assert_int_equal(zd_region_intersects(0, 0x2000, ZD_IORESOURCE_MEM,
					      ZD_IORES_DESC_RESERVED),
			 ZD_REGION_MIXED);
	/* bad ranges */
	assert_warns("empty or wrapping", assert_int_equal(
		zd_region_intersects(0, 0, f, 0), -EINVAL));
	assert_warns("empty or wrapping", assert_int_equal(
		zd_region_intersects(UINT64_MAX, 2, f, 0), -EINVAL));
}

/* RAM inside another kind of resource (a CXL window) counts as RAM where
 * it covers the range, as in the kernel. */
static void test_region_intersects_descendants(void **state)
{
	static struct zd_resource win = { GiB(300), GiB(302) - 1, "CXL Window 0",
				   ZD_IORESOURCE_MEM, 0, NULL, NULL, NULL };
	static struct zd_resource ram = { GiB(300), GiB(301) - 1, "System RAM",
				   ZD_IORESOURCE_SYSTEM_RAM, 0, NULL, NULL, NULL };
	unsigned long f = ZD_IORESOURCE_SYSTEM_RAM;

	assert_int_equal(zd_request_resource(zd_iomem_root(), &win), 0);
	assert_int_equal(zd_request_resource(&win, &ram), 0);
	assert_int_equal(zd_region_intersects(GiB(300), MiB(1), f, 0),
			 ZD_REGION_INTERSECTS);
	assert_int_equal(zd_region_intersects(GiB(301) - MiB(1), MiB(2), f, 0),
			 ZD_REGION_MIXED);
	assert_int_equal(zd_region_intersects(GiB(301), MiB(1), f, 0),
			 ZD_REGION_DISJOINT);
	assert_int_equal(zd_release_resource(&win), 0);
}

static int collect(struct zd_resource *r, void *arg)
{
	char *out = arg;
	size_t len = strlen(out);

	snprintf(out + len, 512 - len, "%llx-%llx %s;",
		 (unsigned long long)r->start, (unsigned long long)r->end,
		 r->name);
	return 0;
}

static int stop_first(struct zd_resource *r, void *arg)
{
	return 7;
}

static void test_walk(void **state)
{
	char out[512] = "";

	assert_int_equal(zd_walk_iomem_res_desc(ZD_IORES_DESC_NONE,
		ZD_IORESOURCE_SYSTEM_RAM, 0x50000, RAM_HI_START + 0xfff, out,
		collect), 0);
	assert_string_equal(out, "50000-9ffff System RAM;100000-7fffffff System RAM;"
			    "100000000-100000fff System RAM;");
	assert_int_equal(zd_walk_iomem_res_desc(ZD_IORES_DESC_NONE,
		ZD_IORESOURCE_SYSTEM_RAM, 0, UINT64_MAX, NULL, stop_first), 7);
	assert_int_equal(zd_walk_iomem_res_desc(ZD_IORES_DESC_CXL, 0, 0,
						UINT64_MAX, NULL, stop_first),
			 -EINVAL);
	assert_warns("end before start", assert_int_equal(
		zd_walk_iomem_res_desc(0, 0, 10, 5, NULL, stop_first), -EINVAL));
}

/* The free-range finder stays inside the physical space zonedev could
 * reserve; valgrind leaves room for only a few tens of GiB. */
static void need_phys_bits(unsigned int bits)
{
	if (zd_max_physmem_bits() < bits) {
		printf("skipped: a %u-bit physical space here, the test needs %u\n",
		       zd_max_physmem_bits(), bits);
		skip();
	}
}

static void test_free_region_from_the_top(void **state)
{
	struct zd_resource *a, *b;

	need_phys_bits(40);
	a = zd_request_free_mem_region(zd_iomem_root(), MiB(100), "hmm-a");
	assert_non_null(a);
	/* rounded to a 128 MiB section, at the very top */
	assert_int_equal(a->start, TOP + 1 - MiB(128));
	assert_int_equal(a->end, TOP);
	assert_int_equal(a->desc, ZD_IORES_DESC_DEVICE_PRIVATE_MEMORY);
	b = zd_request_free_mem_region(zd_iomem_root(), GiB(1), "hmm-b");
	assert_non_null(b);
	assert_int_equal(b->end, a->start - 1);
	assert_int_equal(b->start % MiB(128), 0);
	assert_int_equal(zd_release_mem_region(a->start, zd_resource_size(a)), 0);
	assert_int_equal(zd_release_mem_region(b->start, GiB(1)), 0);
}

static void test_free_region_alignment_and_base(void **state)
{
	static struct zd_resource base = { GiB(400), GiB(401) - 1, "pool",
				    ZD_IORESOURCE_MEM, 0, NULL, NULL, NULL };
	struct zd_resource *r, *r2, *full;

	need_phys_bits(40);
	assert_int_equal(zd_request_resource(zd_iomem_root(), &base), 0);
	/* something busy at the top of the base */
	assert_non_null(zd_request_mem_region(GiB(401) - MiB(3), MiB(3), "top"));
	r = zd_get_free_mem_region(NULL, &base, MiB(3), MiB(2), "a",
				   ZD_IORES_DESC_NONE);
	assert_non_null(r);
	assert_int_equal(zd_resource_size(r), MiB(4));	/* rounded to align */
	assert_int_equal(r->start % MiB(2), 0);
	assert_true(r->end < GiB(401) - MiB(3));
	assert_int_equal(r->start, GiB(401) - MiB(8));
	r2 = zd_get_free_mem_region(NULL, &base, MiB(2), MiB(2), "b", 0);
	assert_int_equal(r2->end, r->start - 1);
	/* no room for more than the base holds */
	errno = 0;
	full = zd_get_free_mem_region(NULL, &base, GiB(1), MiB(2), "c", 0);
	assert_null(full);
	assert_int_equal(errno, ERANGE);
	assert_warns("bad argument", assert_null(
		zd_get_free_mem_region(NULL, &base, MiB(2), 3, "d", 0)));
	zd_release_mem_region(r->start, MiB(4));
	zd_release_mem_region(r2->start, MiB(2));
	zd_release_mem_region(GiB(401) - MiB(3), MiB(3));
	assert_int_equal(zd_release_resource(&base), 0);
}

static void nop_release(struct zd_device *d)
{
}

static void test_devm_free_region(void **state)
{
	static struct zd_device dev = { .init_name = "hmm0", .release = nop_release };
	struct zd_resource *r;

	need_phys_bits(40);
	assert_int_equal(zd_device_register(&dev), 0);
	test_dev = &dev;
	r = zd_devm_request_free_mem_region(&dev, zd_iomem_root(), MiB(256));
	assert_non_null(r);
	assert_string_equal(r->name, "hmm0");
	zd_resource_size_t start = r->start;
	test_dev = NULL;
	zd_device_unregister(&dev);
	assert_int_equal(zd_region_intersects(start, MiB(256), 0, 0),
			 ZD_REGION_DISJOINT);
}

static void test_layout_switch(void **state)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	assert_non_null(zd_request_mem_region(GiB(500), MiB(1), "holder"));
	assert_warns("devices hold regions", assert_int_equal(
		zd_iomem_setup(ZD_IOMEM_LAYOUT_HOST), -EBUSY));
	zd_release_mem_region(GiB(500), MiB(1));
	assert_int_equal(zd_iomem_setup(ZD_IOMEM_LAYOUT_HOST), 0);
	tree_snapshot();		/* the layout the teardown keeps */
	f = open_memstream(&buf, &len);
	zd_iomem_print(f);
	fclose(f);
	/* root sees the host's System RAM; others get the default back */
	assert_non_null(strstr(buf, "System RAM"));
	free(buf);
	assert_warns("unknown layout", assert_int_equal(
		zd_iomem_setup((enum zd_iomem_layout)7), -EINVAL));
}

/* ---- readers and writers at once --------------------------------------- */

static atomic_bool stop;

static void *writer(void *arg)
{
	zd_resource_size_t base = GiB(600) + (uintptr_t)arg * GiB(10);

	while (!atomic_load(&stop)) {
		for (int i = 0; i < 16; i++)
			zd_request_mem_region(base + i * MiB(2), MiB(2), "w");
		for (int i = 0; i < 16; i++)
			zd_release_mem_region(base + i * MiB(2), MiB(2));
	}
	return NULL;
}

static void *reader(void *arg)
{
	long bad = 0;

	for (int i = 0; i < 20000; i++) {
		int r = zd_region_intersects(GiB(600) + (i % 16) * MiB(2), MiB(2),
					     ZD_IORESOURCE_SYSTEM_RAM, 0);
		if (r != ZD_REGION_DISJOINT)
			bad++;
		if (zd_region_intersects(RAM_HI_START, 4096,
					 ZD_IORESOURCE_SYSTEM_RAM, 0) !=
		    ZD_REGION_INTERSECTS)
			bad++;
	}
	return (void *)bad;
}

static void test_concurrent_readers_writers(void **state)
{
	pthread_t w[2], r[2];
	void *bad;
	long total = 0;

	atomic_store(&stop, false);
	for (int i = 0; i < 2; i++)
		pthread_create(&w[i], NULL, writer, (void *)(uintptr_t)i);
	for (int i = 0; i < 2; i++)
		pthread_create(&r[i], NULL, reader, NULL);
	for (int i = 0; i < 2; i++) {
		pthread_join(r[i], &bad);
		total += (long)bad;
	}
	atomic_store(&stop, true);
	for (int i = 0; i < 2; i++)
		pthread_join(w[i], NULL);
	assert_int_equal(total, 0);
	assert_int_equal(zd_iomem_setup(ZD_IOMEM_LAYOUT_DEFAULT), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, reset, teardown)
		T(test_default_layout_printed),
		T(test_request_conflict_names_holder),
		T(test_request_nested_in_window),
		T(test_request_bad_ranges),
		T(test_platform_and_foreign_parents),
		T(test_request_release_resource),
		T(test_insert_and_remove_resource),
		T(test_relink_refused),
		T(test_release_region_with_children),
		T(test_region_intersects_cases),
		T(test_region_intersects_descendants),
		T(test_walk),
		T(test_free_region_from_the_top),
		T(test_free_region_alignment_and_base),
		T(test_devm_free_region),
		T(test_layout_switch),
		T(test_concurrent_readers_writers),
	};

	return zd_run_tests(tests);
}
