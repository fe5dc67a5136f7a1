// SPDX-License-Identifier: MIT
/* The device core and driver binding: lifetime, names, lookup, bind. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "../test_util.h"
#include "dev_util.h"

static int released;

static void dev_release(struct zd_device *dev)
{
	released++;
}

static int reset(void **state)
{
	released = 0;
	test_capture_warnings();
	return 0;
}

static int teardown(void **state)
{
	zd_fault_inject_reset();
	dev_cleanup();
	return 0;
}

static void init_dev(struct zd_device *dev, const char *name)
{
	memset(dev, 0, sizeof(*dev));
	dev_track(dev);
	dev->init_name = name;
	dev->release = dev_release;
	zd_device_initialize(dev);
}

static void test_lifetime_refcount_release(void **state)
{
	static struct zd_device dev;

	init_dev(&dev, "life0");
	assert_int_equal(zd_device_add(&dev), 0);
	assert_ptr_equal(zd_get_device(&dev), &dev);
	zd_device_unregister(&dev);
	assert_int_equal(released, 0);	/* our extra reference holds it */
	zd_put_device(&dev);
	assert_int_equal(released, 1);
}

static void test_names(void **state)
{
	static struct zd_device dev;

	init_dev(&dev, "init-name");
	assert_string_equal(zd_dev_name(&dev), "init-name");
	assert_int_equal(zd_dev_set_name(&dev, "dmirror%d", 3), 0);
	assert_string_equal(zd_dev_name(&dev), "dmirror3");
	assert_int_equal(zd_device_add(&dev), 0);
	assert_warns("renamed after add",
		     assert_int_equal(zd_dev_set_name(&dev, "x"), -EBUSY));
	assert_warns("empty device name", ({
		static struct zd_device d2;
		init_dev(&d2, NULL);
		assert_int_equal(zd_dev_set_name(&d2, "%s", ""), -EINVAL);
		zd_put_device(&d2); }));
	zd_device_unregister(&dev);
	assert_string_equal(zd_dev_name(NULL), "(null)");
}

static void test_add_errors(void **state)
{
	static struct zd_device a, b, c;

	init_dev(&a, "dup");
	init_dev(&b, "dup");
	init_dev(&c, NULL);
	assert_int_equal(zd_device_add(&a), 0);
	assert_warns("a device named dup exists",
		     assert_int_equal(zd_device_add(&b), -EEXIST));
	assert_warns("has no name", assert_int_equal(zd_device_add(&c), -EINVAL));
	zd_fault_inject_site("device.add");
	assert_int_equal(zd_device_add(&c), -EINVAL);	/* no name first */
	zd_dev_set_name(&c, "c");
	assert_int_equal(zd_device_add(&c), -ENOMEM);
	zd_fault_inject_reset();
	assert_null(zd_device_find("c"));
	zd_device_unregister(&a);
	zd_put_device(&b);
	zd_put_device(&c);
	assert_int_equal(released, 3);
}

static int count_fe(struct zd_device *dev, void *arg)
{
	if (!strncmp(zd_dev_name(dev), "fe", 2))
		(*(int *)arg)++;
	return 0;
}

static int stop_at_fe1(struct zd_device *dev, void *arg)
{
	return !strcmp(zd_dev_name(dev), "fe1") ? 42 : 0;
}

static void test_find_and_for_each(void **state)
{
	static struct zd_device d[3];
	char names[3][8];
	struct zd_device *found;
	int n = 0;

	for (int i = 0; i < 3; i++) {
		snprintf(names[i], sizeof(names[i]), "fe%d", i);
		init_dev(&d[i], names[i]);
		assert_int_equal(zd_device_add(&d[i]), 0);
	}
	found = zd_device_find("fe1");
	assert_ptr_equal(found, &d[1]);
	zd_put_device(found);
	errno = 0;
	assert_null(zd_device_find("nope"));
	assert_int_equal(errno, ENOENT);
	assert_int_equal(zd_device_for_each(count_fe, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(zd_device_for_each(stop_at_fe1, NULL), 42);
	for (int i = 0; i < 3; i++)
		zd_device_unregister(&d[i]);
	assert_null(zd_device_find("fe0"));
	assert_int_equal(released, 3);
}

static void test_parent_held(void **state)
{
	static struct zd_device parent, child;

	init_dev(&parent, "parent");
	init_dev(&child, "child");
	child.parent = &parent;
	assert_int_equal(zd_device_add(&parent), 0);
	assert_int_equal(zd_device_add(&child), 0);
	zd_device_unregister(&parent);
	assert_int_equal(released, 0);	/* the child holds it */
	zd_device_unregister(&child);
	assert_int_equal(released, 2);
}

static void test_accessors(void **state)
{
	static struct zd_device dev;
	int x;

	init_dev(&dev, "acc");
	dev.numa_node = ZD_NUMA_NO_NODE;
	assert_int_equal(zd_dev_to_node(&dev), ZD_NUMA_NO_NODE);
	zd_set_dev_node(&dev, 1);
	assert_int_equal(zd_dev_to_node(&dev), 1);
	zd_dev_set_drvdata(&dev, &x);
	assert_ptr_equal(zd_dev_get_drvdata(&dev), &x);
	zd_put_device(&dev);
}

/* ---- binding ----------------------------------------------------------- */

static int probe_calls, remove_calls;
static int probe_ret;
static char order[64];

static void mark(void *c)
{
	strncat(order, c, sizeof(order) - strlen(order) - 1);
}

static int test_probe(struct zd_device *dev)
{
	probe_calls++;
	zd_dev_set_drvdata(dev, &probe_calls);
	if (zd_devm_add_action(dev, mark, "a") ||
	    zd_devm_add_action(dev, mark, "b") ||
	    zd_devm_add_action(dev, mark, "c"))
		return -ENOMEM;
	return probe_ret;
}

static void test_remove(struct zd_device *dev)
{
	remove_calls++;
	/* remove runs before devres is released */
	assert_int_equal(strlen(order), 0);
	assert_ptr_equal(zd_dev_get_drvdata(dev), &probe_calls);
}

static struct zd_driver test_drv = { "test-drv", test_probe, test_remove };

static void test_bind_unbind_order(void **state)
{
	static struct zd_device dev;

	probe_calls = remove_calls = probe_ret = 0;
	order[0] = 0;
	init_dev(&dev, "bind0");
	assert_int_equal(zd_device_add(&dev), 0);
	assert_int_equal(zd_device_bind(&dev, &test_drv), 0);
	assert_true(zd_device_is_bound(&dev));
	assert_ptr_equal(dev.driver, &test_drv);
	assert_warns("already bound to test-drv",
		     assert_int_equal(zd_device_bind(&dev, &test_drv), -EBUSY));
	assert_int_equal(zd_device_unbind(&dev), 0);
	assert_string_equal(order, "cba");
	assert_int_equal(remove_calls, 1);
	assert_false(zd_device_is_bound(&dev));
	assert_null(zd_dev_get_drvdata(&dev));
	assert_warns("is not bound",
		     assert_int_equal(zd_device_unbind(&dev), -ENODEV));
	zd_device_unregister(&dev);
}

static void test_probe_failure_unwinds(void **state)
{
	static struct zd_device dev;

	probe_calls = remove_calls = 0;
	probe_ret = -EIO;
	order[0] = 0;
	init_dev(&dev, "bind1");
	assert_int_equal(zd_device_add(&dev), 0);
	assert_int_equal(zd_device_bind(&dev, &test_drv), -EIO);
	assert_string_equal(order, "cba");
	assert_int_equal(remove_calls, 0);
	assert_false(zd_device_is_bound(&dev));
	assert_null(zd_dev_get_drvdata(&dev));
	/* a later bind works */
	probe_ret = 0;
	order[0] = 0;
	assert_int_equal(zd_device_bind(&dev, &test_drv), 0);
	zd_device_unregister(&dev);	/* del unbinds */
	assert_string_equal(order, "cba");
	assert_int_equal(remove_calls, 1);
}

static void test_bind_errors(void **state)
{
	static struct zd_device dev;

	init_dev(&dev, "bind2");
	assert_warns("is not added",
		     assert_int_equal(zd_device_bind(&dev, &test_drv), -ENODEV));
	assert_warns("NULL driver",
		     assert_int_equal(zd_device_bind(&dev, NULL), -EINVAL));
	assert_warns("NULL device",
		     assert_int_equal(zd_device_bind(NULL, &test_drv), -EINVAL));
	assert_warns("NULL device", assert_int_equal(zd_device_unbind(NULL),
						     -EINVAL));
	zd_put_device(&dev);
}

static void test_misuse(void **state)
{
	static struct zd_device dev;

	assert_warns("NULL device", zd_device_initialize(NULL));
	assert_warns("NULL device", assert_int_equal(zd_device_add(NULL), -EINVAL));
	memset(&dev, 0, sizeof(dev));
	assert_warns("uninitialised device",
		     assert_int_equal(zd_device_add(&dev), -EINVAL));
	init_dev(&dev, "mis");
	assert_warns("was not added", zd_device_del(&dev));
	zd_put_device(&dev);
	assert_int_equal(released, 1);
	assert_warns("uninitialised device", zd_put_device(&dev));
	memset(&dev, 0, sizeof(dev));
	dev_track(&dev);
	dev.init_name = "norelease";
	zd_device_initialize(&dev);
	assert_warns("no release callback", zd_put_device(&dev));
	assert_no_warn(zd_put_device(NULL));
	assert_null(zd_get_device(NULL));
}

/* A last put while still added freed a listed device; the list now holds
 * a reference of its own, as the kernel's does. */
static void test_put_while_added(void **state)
{
	static struct zd_device dev;
	struct zd_device *found;

	init_dev(&dev, "put-added");
	assert_int_equal(zd_device_add(&dev), 0);
	assert_no_warn(zd_put_device(&dev));	/* the owner's reference */
	assert_int_equal(released, 0);
	found = zd_device_find("put-added");
	assert_ptr_equal(found, &dev);
	zd_put_device(found);
	assert_int_equal(released, 0);
	/* a put taking the list's reference would free a listed device */
	assert_warns("last put while still added", zd_put_device(&dev));
	assert_int_equal(released, 0);
	zd_device_del(&dev);			/* the list's: the last */
	assert_int_equal(released, 1);
	assert_null(zd_device_find("put-added"));
}

/* A second unregister dropped a reference that someone else held. */
static void test_unregister_twice_keeps_references(void **state)
{
	static struct zd_device dev;

	init_dev(&dev, "unreg-twice");
	assert_int_equal(zd_device_add(&dev), 0);
	zd_get_device(&dev);
	zd_device_unregister(&dev);
	assert_warns("was not added", zd_device_unregister(&dev));
	assert_int_equal(atomic_load(&dev.refcount), 1);
	assert_int_equal(released, 0);
	zd_put_device(&dev);
	assert_int_equal(released, 1);
}

/* Taking the device hotplug lock twice hung; an unlock without the lock
 * unlocked whoever held it. */
static void test_device_hotplug_lock_misuse(void **state)
{
	assert_warns("not held", zd_unlock_device_hotplug());
	zd_lock_device_hotplug();
	assert_warns("recursive", zd_lock_device_hotplug());
	zd_unlock_device_hotplug();
	assert_warns("not held", zd_unlock_device_hotplug());
	zd_lock_device_hotplug();		/* still a working lock */
	zd_unlock_device_hotplug();
}

/* Initialising an added device reset its list node: the next walk of
 * the list never ended. */
static void test_initialize_twice(void **state)
{
	static struct zd_device a, b;
	struct zd_device *found;

	init_dev(&a, "twice-a");
	init_dev(&b, "twice-b");
	assert_int_equal(zd_device_add(&a), 0);
	assert_int_equal(zd_device_add(&b), 0);
	assert_warns("initialised already", zd_device_initialize(&a));
	assert_warns("initialised already", zd_device_initialize(&b));
	assert_null(zd_device_find("twice-none"));
	found = zd_device_find("twice-b");
	assert_ptr_equal(found, &b);
	zd_put_device(found);
	/* register does not re-initialise either */
	assert_warns_n(2, "initialised already", assert_int_equal(
		zd_device_register(&a), -EEXIST));
	zd_device_unregister(&a);
	zd_device_unregister(&b);
	assert_int_equal(released, 2);
	/* released, a device may be initialised again */
	init_dev(&a, "twice-a");
	zd_put_device(&a);
	assert_int_equal(released, 3);
}

/* Names live in a hash table: thousands of devices, deleted in a
 * scattered order (each deletion shifts a probe run back), must all
 * stay findable, and none of the deleted. */
static void test_many_names(void **state)
{
	enum { N = 3000 };
	static struct zd_device many[N];
	static char name[N][8];
	struct zd_device *found;
	unsigned int seed = 5;
	static int pick[N];

	for (int i = 0; i < N; i++) {
		snprintf(name[i], sizeof(name[i]), "m%d", i);
		init_dev(&many[i], name[i]);
		assert_int_equal(zd_device_add(&many[i]), 0);
		pick[i] = i;
	}
	for (int i = N - 1; i > 0; i--) {
		int j = rand_r(&seed) % (i + 1), t = pick[i];

		pick[i] = pick[j];
		pick[j] = t;
	}
	for (int i = 0; i < N / 2; i++)
		zd_device_del(&many[pick[i]]);
	for (int i = 0; i < N; i++) {
		found = zd_device_find(name[pick[i]]);
		assert_ptr_equal(found, i < N / 2 ? NULL : &many[pick[i]]);
		zd_put_device(found);
	}
	assert_warns("exists", assert_int_equal(
		zd_device_add(&many[pick[N - 1]]), -EEXIST));
	/* deleted names are free again */
	for (int i = 0; i < N / 2; i++)
		assert_int_equal(zd_device_add(&many[pick[i]]), 0);
	for (int i = 0; i < N; i++)
		zd_device_unregister(&many[i]);
	assert_int_equal(released, N);
	assert_null(zd_device_find("m0"));
}

/* The table grows as devices come: a failed growth fails the add and
 * lists nothing. */
static void test_names_table_growth_fails(void **state)
{
	enum { N = 300 };
	static struct zd_device grow[N];
	static char name[N][8];
	int failed = -1;

	for (int i = 0; i < N && failed < 0; i++) {
		/* armed once the table holds names: growing must keep them */
		if (i == 40)
			zd_fault_inject_site("device.names");
		snprintf(name[i], sizeof(name[i]), "g%d", i);
		init_dev(&grow[i], name[i]);
		if (zd_device_add(&grow[i]) == -ENOMEM)
			failed = i;
	}
	assert_true(failed > 40);
	assert_int_equal(zd_fault_inject_hits(), 1);
	assert_null(zd_device_find(name[failed]));
	for (int i = 0; i < failed; i++) {
		struct zd_device *found = zd_device_find(name[i]);

		assert_ptr_equal(found, &grow[i]);
		zd_put_device(found);
	}
	zd_fault_inject_reset();
	assert_int_equal(zd_device_add(&grow[failed]), 0);
	for (int i = 0; i <= failed; i++)
		zd_device_unregister(&grow[i]);
	assert_int_equal(released, failed + 1);
}

static atomic_int inside, overlap;

static void *hotplug_worker(void *arg)
{
	for (int i = 0; i < 10000; i++) {
		zd_lock_device_hotplug();
		if (atomic_fetch_add(&inside, 1))
			atomic_fetch_add(&overlap, 1);
		atomic_fetch_sub(&inside, 1);
		zd_unlock_device_hotplug();
	}
	return NULL;
}

static void test_device_hotplug_lock_excludes(void **state)
{
	pthread_t t[2];

	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, hotplug_worker, NULL);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(atomic_load(&overlap), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, reset, teardown)
		T(test_lifetime_refcount_release),
		T(test_names),
		T(test_add_errors),
		T(test_find_and_for_each),
		T(test_parent_held),
		T(test_accessors),
		T(test_bind_unbind_order),
		T(test_probe_failure_unwinds),
		T(test_bind_errors),
		T(test_misuse),
		T(test_put_while_added),
		T(test_unregister_twice_keeps_references),
		T(test_device_hotplug_lock_misuse),
		T(test_initialize_twice),
		T(test_many_names),
		T(test_names_table_growth_fails),
		T(test_device_hotplug_lock_excludes),
	};

	return zd_run_tests(tests);
}
