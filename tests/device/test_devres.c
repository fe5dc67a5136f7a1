// SPDX-License-Identifier: MIT
/* devres and the devm helpers: order, matching, groups, failure unwinding. */
#include <errno.h>
#include <stdlib.h>

#include "../test_util.h"
#include "../resource/tree_util.h"
#include "dev_util.h"

#define BASE	0x2000000000ull		/* 128 GiB: free in the default layout */

static struct zd_device dev;
static char order[128];

static void dev_release(struct zd_device *d)
{
}

static int setup(void **state)
{
	tree_snapshot();
	memset(&dev, 0, sizeof(dev));
	dev_track(&dev);
	dev.init_name = "devres0";
	dev.release = dev_release;
	assert_int_equal(zd_device_register(&dev), 0);
	order[0] = 0;
	test_capture_warnings();
	zd_fault_inject_reset();
	return 0;
}

/* Also after a failed test: what it left bound, added or claimed. */
static int teardown(void **state)
{
	zd_fault_inject_reset();
	dev_cleanup();
	tree_restore();
	return 0;
}

static void mark(void *c)
{
	strncat(order, c, sizeof(order) - strlen(order) - 1);
}

struct tagged {
	char tag;
};

static void tagged_release(struct zd_device *d, void *res)
{
	char s[2] = { ((struct tagged *)res)->tag, 0 };

	mark(s);
}

static int tag_match(struct zd_device *d, void *res, void *data)
{
	return ((struct tagged *)res)->tag == *(char *)data;
}

static struct tagged *add_tagged(char tag)
{
	struct tagged *t = zd_devres_alloc(tagged_release, sizeof(*t));

	assert_non_null(t);
	t->tag = tag;
	zd_devres_add(&dev, t);
	return t;
}

static void test_alloc_is_zeroed_and_aligned(void **state)
{
	unsigned char *p = zd_devres_alloc(tagged_release, 100);

	assert_non_null(p);
	assert_int_equal((uintptr_t)p % _Alignof(max_align_t), 0);
	for (int i = 0; i < 100; i++)
		assert_int_equal(p[i], 0);
	zd_devres_free(p);
	zd_devres_free(NULL);
	errno = 0;
	assert_warns("NULL release", assert_null(zd_devres_alloc(NULL, 8)));
	assert_int_equal(errno, EINVAL);
	zd_fault_inject_site("devres.alloc");
	assert_null(zd_devres_alloc(tagged_release, 8));
	assert_int_equal(errno, ENOMEM);
}

/* Devres on a device no driver holds goes with the last reference. */
static void test_release_all_at_last_put(void **state)
{
	static struct zd_device d = { .init_name = "devres-put",
				      .release = dev_release };
	struct tagged *t;

	dev_track(&d);
	assert_int_equal(zd_device_register(&d), 0);
	for (char c = 'a'; c <= 'c'; c++) {
		t = zd_devres_alloc(tagged_release, sizeof(*t));
		t->tag = c;
		zd_devres_add(&d, t);
	}
	zd_device_del(&d);
	assert_string_equal(order, "");
	zd_put_device(&d);
	assert_string_equal(order, "cba");
}

static void test_find_get_remove_destroy_release(void **state)
{
	struct tagged *a = add_tagged('a'), *b1 = add_tagged('b');
	struct tagged *b2 = add_tagged('b'), *t;
	char want = 'b', none = 'z';

	/* newest first */
	assert_ptr_equal(zd_devres_find(&dev, tagged_release, tag_match, &want), b2);
	assert_ptr_equal(zd_devres_find(&dev, tagged_release, NULL, NULL), b2);
	assert_null(zd_devres_find(&dev, tagged_release, tag_match, &none));
	/* get: existing wins, the new one is freed */
	t = zd_devres_alloc(tagged_release, sizeof(*t));
	t->tag = 'b';
	assert_ptr_equal(zd_devres_get(&dev, t, tag_match, &want), b2);
	/* remove: off the list, not released, caller owns it */
	assert_ptr_equal(zd_devres_remove(&dev, tagged_release, tag_match, &want), b2);
	zd_devres_free(b2);
	/* destroy: freed, not released */
	assert_int_equal(zd_devres_destroy(&dev, tagged_release, tag_match, &want), 0);
	assert_string_equal(order, "");
	assert_int_equal(zd_devres_destroy(&dev, tagged_release, tag_match, &want),
			 -ENOENT);
	/* release: released now */
	assert_int_equal(zd_devres_release(&dev, tagged_release, NULL, NULL), 0);
	assert_string_equal(order, "a");
	assert_int_equal(zd_devres_release(&dev, tagged_release, NULL, NULL),
			 -ENOENT);
	(void)a;
	(void)b1;
}

static void test_misuse(void **state)
{
	struct tagged *t = add_tagged('x');

	assert_warns("added twice", zd_devres_add(&dev, t));
	assert_warns("still on a device", zd_devres_free(t));
	assert_warns("NULL device", zd_devres_add(NULL, t));
	assert_warns("NULL device",
		     assert_null(zd_devres_find(NULL, tagged_release, NULL, NULL)));
	assert_warns("NULL devres", zd_devres_add(&dev, NULL));
	assert_warns("NULL release",
		     assert_null(zd_devres_find(&dev, NULL, NULL, NULL)));
	/* too large ever to allocate is out of memory, as documented */
	errno = 0;
	assert_warns("too large",
		     assert_null(zd_devres_alloc(tagged_release, SIZE_MAX)));
	assert_int_equal(errno, ENOMEM);
}

static void test_groups(void **state)
{
	void *g1, *g2;

	add_tagged('a');
	g1 = zd_devres_open_group(&dev, NULL);
	assert_non_null(g1);
	add_tagged('b');
	g2 = zd_devres_open_group(&dev, (void *)0x1234);
	assert_ptr_equal(g2, (void *)0x1234);
	add_tagged('c');
	zd_devres_close_group(&dev, g2);
	/* closing again is a mistake (the group keeps its first end) */
	assert_warns("closed already", zd_devres_close_group(&dev, g2));
	add_tagged('d');
	zd_devres_close_group(&dev, NULL);	/* the newest open: g1 */
	add_tagged('e');
	/* g2 alone */
	assert_int_equal(zd_devres_release_group(&dev, g2), 1);
	assert_string_equal(order, "c");
	/* g1: what is left in it, newest first */
	assert_int_equal(zd_devres_release_group(&dev, g1), 2);
	assert_string_equal(order, "cdb");
	assert_warns("no devres group",
		     assert_int_equal(zd_devres_release_group(&dev, g1), -ENOENT));
	zd_device_unregister(&dev);		/* the rest: e, a */
	assert_string_equal(order, "cdbea");
	setup(state);
}

static void test_nested_group_released_with_outer(void **state)
{
	void *outer, *inner;

	outer = zd_devres_open_group(&dev, NULL);
	add_tagged('a');
	inner = zd_devres_open_group(&dev, NULL);
	add_tagged('b');
	zd_devres_close_group(&dev, inner);
	add_tagged('c');
	zd_devres_close_group(&dev, outer);
	assert_int_equal(zd_devres_release_group(&dev, outer), 3);
	assert_string_equal(order, "cba");
	/* the inner group went with it */
	assert_warns("no devres group",
		     assert_int_equal(zd_devres_release_group(&dev, inner), -ENOENT));
}

static void test_open_group_released_to_end(void **state)
{
	void *g = zd_devres_open_group(&dev, NULL);

	add_tagged('a');
	add_tagged('b');
	assert_int_equal(zd_devres_release_group(&dev, g), 2);
	assert_string_equal(order, "ba");
}

static void test_remove_group_keeps_resources(void **state)
{
	void *g = zd_devres_open_group(&dev, NULL);

	add_tagged('a');
	zd_devres_close_group(&dev, g);
	zd_devres_remove_group(&dev, g);
	assert_string_equal(order, "");
	assert_warns("no devres group", zd_devres_remove_group(&dev, g));
	assert_warns("no devres group", zd_devres_close_group(&dev, g));
	assert_int_equal(zd_devres_release(&dev, tagged_release, NULL, NULL), 0);
	assert_string_equal(order, "a");
}

static void test_actions_remove_vs_release(void **state)
{
	assert_int_equal(zd_devm_add_action(&dev, mark, "1"), 0);
	assert_int_equal(zd_devm_add_action(&dev, mark, "2"), 0);
	assert_int_equal(zd_devm_add_action(&dev, mark, "1"), 0);
	/* remove: one match, not run */
	assert_int_equal(zd_devm_remove_action(&dev, mark, "1"), 0);
	assert_string_equal(order, "");
	/* release: one match, run now */
	assert_int_equal(zd_devm_release_action(&dev, mark, "1"), 0);
	assert_string_equal(order, "1");
	assert_warns("devres0 has no action", assert_int_equal(
		zd_devm_release_action(&dev, mark, "1"), -ENOENT));
	assert_non_null(strstr(test_last_warn, "mark") ?
			strstr(test_last_warn, "mark") :
			strstr(test_last_warn, "0x"));
	assert_warns("has no action", assert_int_equal(
		zd_devm_remove_action(&dev, mark, "3"), -ENOENT));
	assert_warns("NULL action", assert_int_equal(
		zd_devm_add_action(&dev, NULL, NULL), -EINVAL));
	zd_device_unregister(&dev);
	assert_string_equal(order, "12");
	setup(state);
}

static void test_add_action_or_reset(void **state)
{
	zd_fault_inject_site("devres.alloc");
	assert_int_equal(zd_devm_add_action_or_reset(&dev, mark, "r"), -ENOMEM);
	assert_string_equal(order, "r");
	zd_fault_inject_reset();
	assert_int_equal(zd_devm_add_action_or_reset(&dev, mark, "s"), 0);
	assert_string_equal(order, "r");
}

static void test_devm_kmalloc(void **state)
{
	char *p = zd_devm_kzalloc(&dev, 64), *q = zd_devm_kmalloc(&dev, 32);

	assert_non_null(p);
	assert_non_null(q);
	assert_int_equal(p[63], 0);
	memset(q, 1, 32);
	zd_devm_kfree(&dev, p);
	assert_warns("is not devm memory", zd_devm_kfree(&dev, p));
	zd_devm_kfree(&dev, NULL);
	zd_fault_inject_site("devres.alloc");
	errno = 0;
	assert_null(zd_devm_kzalloc(&dev, 8));
	assert_int_equal(errno, ENOMEM);
	/* q is freed with the device; valgrind/ASan check it */
}

static void test_devm_mem_region(void **state)
{
	struct zd_resource *r = zd_devm_request_mem_region(&dev, BASE, 0x1000, "r0");

	assert_non_null(r);
	assert_true(r->flags & ZD_IORESOURCE_BUSY);
	errno = 0;
	assert_null(zd_devm_request_mem_region(&dev, BASE + 0x800, 0x1000, "r1"));
	assert_int_equal(errno, EBUSY);
	assert_int_equal(zd_devm_release_mem_region(&dev, BASE, 0x1000), 0);
	assert_warns("holds no region", assert_int_equal(
		zd_devm_release_mem_region(&dev, BASE, 0x1000), -ENOENT));
	/* released with the device */
	assert_non_null(zd_devm_request_mem_region(&dev, BASE, 0x1000, "r0"));
	zd_device_unregister(&dev);
	assert_int_equal(zd_region_intersects(BASE, 0x1000, ZD_IORESOURCE_BUSY,
					      ZD_IORES_DESC_NONE),
			 ZD_REGION_DISJOINT);
	setup(state);
}

/* ---- a probe that fails at each of its steps --------------------------- */

/* devres calls on a device never initialised dereferenced its empty
 * list head. */
static void test_uninitialised_device(void **state)
{
	static struct zd_device raw;
	struct tagged *t = zd_devres_alloc(tagged_release, sizeof(*t));
	static char cookie;

	memset(&raw, 0, sizeof(raw));
	raw.init_name = "raw";
	assert_warns("uninitialised", zd_devres_add(&raw, t));
	assert_warns("uninitialised", assert_null(
		zd_devres_find(&raw, tagged_release, NULL, NULL)));
	assert_warns("uninitialised", assert_null(
		zd_devres_get(&raw, t, NULL, NULL)));
	assert_warns("uninitialised", assert_null(
		zd_devres_remove(&raw, tagged_release, NULL, NULL)));
	assert_warns("uninitialised", assert_null(
		zd_devres_open_group(&raw, NULL)));
	assert_warns("uninitialised", zd_devres_close_group(&raw, NULL));
	assert_warns("uninitialised", zd_devres_remove_group(&raw, NULL));
	assert_warns("uninitialised", assert_int_equal(
		zd_devres_release_group(&raw, NULL), -EINVAL));
	assert_warns("uninitialised", assert_int_equal(
		zd_devm_add_action(&raw, mark, &cookie), -EINVAL));
	assert_warns("uninitialised", assert_int_equal(
		zd_devm_add_action_or_reset(&raw, mark, "r"), -EINVAL));
	assert_string_equal(order, "r");	/* reset ran it */
	assert_warns("uninitialised", assert_int_equal(
		zd_devm_remove_action(&raw, mark, &cookie), -EINVAL));
	assert_warns("uninitialised", assert_int_equal(
		zd_devm_release_action(&raw, mark, &cookie), -EINVAL));
	assert_warns("uninitialised", assert_null(zd_devm_kzalloc(&raw, 8)));
	assert_warns("uninitialised", zd_devm_kfree(&raw, t));
	errno = 0;
	assert_warns("uninitialised", assert_null(
		zd_devm_request_mem_region(&raw, BASE, 0x10000, "raw")));
	assert_int_equal(errno, EINVAL);
	assert_warns("uninitialised", assert_int_equal(
		zd_devm_release_mem_region(&raw, BASE, 0x10000), -EINVAL));
	assert_warns("uninitialised", assert_null(
		zd_devm_request_free_mem_region(&raw, zd_iomem_root(), 1 << 20)));
	/* nothing was claimed or kept */
	assert_int_equal(zd_region_intersects(BASE, 0x10000, ZD_IORESOURCE_BUSY,
					      ZD_IORES_DESC_NONE),
			 ZD_REGION_DISJOINT);
	assert_true(raw.devres_head.next == NULL);
	zd_devres_free(t);
}

/* A devres on one device given to zd_devres_get() of another was linked
 * into both lists. */
static void test_get_of_devres_in_use(void **state)
{
	static struct zd_device other = { .init_name = "devres-other",
					  .release = dev_release };
	struct tagged *t = add_tagged('x');

	dev_track(&other);
	assert_int_equal(zd_device_register(&other), 0);
	assert_warns("on a device already", assert_null(
		zd_devres_get(&other, t, NULL, NULL)));
	assert_null(zd_devres_find(&other, tagged_release, NULL, NULL));
	zd_device_unregister(&other);
	assert_string_equal(order, "");
	assert_ptr_equal(zd_devres_find(&dev, tagged_release, NULL, NULL), t);
}

static atomic_int live_actions;

static void undo_action(void *arg)
{
	atomic_fetch_sub(&live_actions, 1);
}

static int busy_probe(struct zd_device *d)
{
	void *g;

	if (!zd_devm_kzalloc(d, 128))
		return -ENOMEM;
	if (!zd_devm_request_mem_region(d, BASE, 0x10000, "busy-bar0"))
		return -errno;
	atomic_fetch_add(&live_actions, 1);
	if (zd_devm_add_action_or_reset(d, undo_action, NULL))
		return -ENOMEM;
	g = zd_devres_open_group(d, NULL);
	if (!g)
		return -ENOMEM;
	if (!zd_devm_request_mem_region(d, BASE + 0x10000, 0x10000, "busy-bar2"))
		return -errno;
	atomic_fetch_add(&live_actions, 1);
	if (zd_devm_add_action_or_reset(d, undo_action, NULL))
		return -ENOMEM;
	zd_devres_close_group(d, g);
	if (!zd_devm_kmalloc(d, 4096))
		return -ENOMEM;
	return 0;
}

static struct zd_driver busy_drv = { "busy", busy_probe, NULL };

static void assert_nothing_left(void)
{
	assert_false(zd_device_is_bound(&dev));
	assert_int_equal(atomic_load(&live_actions), 0);
	assert_true(dev.devres_head.next == &dev.devres_head);
	assert_int_equal(zd_region_intersects(BASE, 0x20000, ZD_IORESOURCE_BUSY,
					      ZD_IORES_DESC_NONE),
			 ZD_REGION_DISJOINT);
}

static void test_probe_fails_at_every_step(void **state)
{
	unsigned long steps;

	/* once before counting: one-time setup (this thread's counter area)
	 * would be a step that later binds never reach */
	assert_int_equal(zd_device_bind(&dev, &busy_drv), 0);
	zd_device_unbind(&dev);
	zd_fault_inject_nth(0, NULL);
	assert_int_equal(zd_device_bind(&dev, &busy_drv), 0);
	steps = zd_fault_inject_calls();
	zd_fault_inject_reset();
	assert_true(steps >= 8);
	zd_device_unbind(&dev);
	assert_nothing_left();
	for (unsigned long i = 1; i <= steps; i++) {
		zd_fault_inject_nth(i, NULL);
		assert_int_equal(zd_device_bind(&dev, &busy_drv), -ENOMEM);
		assert_int_equal(zd_fault_inject_hits(), 1);
		zd_fault_inject_reset();
		assert_nothing_left();
	}
	/* and the same ranges bind again */
	assert_int_equal(zd_device_bind(&dev, &busy_drv), 0);
	zd_device_unbind(&dev);
	assert_nothing_left();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_alloc_is_zeroed_and_aligned),
		T(test_release_all_at_last_put),
		T(test_find_get_remove_destroy_release),
		T(test_misuse),
		T(test_groups),
		T(test_nested_group_released_with_outer),
		T(test_open_group_released_to_end),
		T(test_remove_group_keeps_resources),
		T(test_actions_remove_vs_release),
		T(test_add_action_or_reset),
		T(test_devm_kmalloc),
		T(test_devm_mem_region),
		T(test_probe_fails_at_every_step),
		T(test_uninitialised_device),
		T(test_get_of_devres_in_use),
	};

	return zd_run_tests(tests);
}
