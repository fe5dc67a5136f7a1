// SPDX-License-Identifier: MIT
/*
 * Misuse of devices, drivers and devres.
 *
 * No bad input applies to: zd_dev_name (NULL gives "(null)", as
 * documented), zd_get_device(NULL) and zd_put_device(NULL) (documented as
 * allowed), zd_devres_free(NULL).
 */
#include "misuse.h"

/* Counts the devices on the list; a loop or a stale entry shows. */
static int count_one(struct zd_device *dev, void *arg)
{
	(void)dev;
	return ++*(int *)arg > 1000;
}

static int device_count(void)
{
	int n = 0;

	zd_device_for_each(count_one, &n);
	return n;
}

static bool findable(const char *name)
{
	struct zd_device *d = zd_device_find(name);

	zd_put_device(d);
	return d != NULL;
}

static int actions;

static void action(void *data)
{
	(void)data;
	actions++;
}

static void rel(struct zd_device *dev, void *res)
{
	(void)dev;
	(void)res;
}

/* A device that was never zd_device_initialize()d (zero-filled). */
static struct zd_device *dev_raw(void)
{
	struct zd_device *dev = calloc(1, sizeof(*dev));

	M_SETUP(dev);
	dev->init_name = "raw";
	return dev;
}

/* A pointer inside a larger block that is not a devres (reading "its
 * header" stays inside the block). */
static void *foreign_block(void)
{
	char *p = calloc(1, 512);

	M_SETUP(p);
	return p + 256;
}

/* ---- the device core ------------------------------------------------------ */

static void dev_init_null(void)
{
	m_arm();
	zd_device_initialize(NULL);
	m_expect_warn();
}

static void dev_init_added(void)
{
	struct zd_device *dev = m_dev_added("mis-a");
	int n = device_count();

	zd_get_device(dev);
	m_arm();
	zd_device_initialize(dev);
	m_expect_warn();
	m_state(device_count() == n, "device list changed");
	m_state(findable("mis-a"), "device no longer found");
	/* the owner's, the list's and the one taken above */
	m_state(dev->refcount == 3, "reference count reset");
}

static void dev_set_name_null_dev(void)
{
	m_arm();
	m_expect_err(zd_dev_set_name(NULL, "x"), -EINVAL);
}

static void dev_set_name_null_fmt(void)
{
	struct zd_device *dev = m_dev_new(NULL);
	const char *fmt = NULL;

	m_arm();
	m_expect_err(zd_dev_set_name(dev, fmt), -EINVAL);
}

static void dev_set_name_empty(void)
{
	struct zd_device *dev = m_dev_new(NULL);

	m_arm();
	m_expect_err(zd_dev_set_name(dev, "%s", ""), -EINVAL);
}

static void dev_set_name_added(void)
{
	struct zd_device *dev = m_dev_added("mis-b");

	m_arm();
	m_expect_err(zd_dev_set_name(dev, "other"), -EBUSY);
	m_state(findable("mis-b") && !findable("other"), "renamed anyway");
}

static void dev_set_name_raw(void)
{
	m_arm();
	m_expect_err(zd_dev_set_name(dev_raw(), "raw2"), -EINVAL);
}

static void dev_add_null(void)
{
	m_arm();
	m_expect_err(zd_device_add(NULL), -EINVAL);
}

static void dev_add_twice(void)
{
	struct zd_device *dev = m_dev_added("mis-c");
	int n = device_count();

	m_arm();
	m_expect_err(zd_device_add(dev), -EEXIST);
	m_state(device_count() == n, "listed twice");
}

static void dev_add_raw(void)
{
	struct zd_device *dev = dev_raw();

	m_arm();
	m_expect_err(zd_device_add(dev), -EINVAL);
	m_state(!findable("raw"), "an uninitialised device was listed");
}

static void dev_register_null(void)
{
	m_arm();
	m_expect_err(zd_device_register(NULL), -EINVAL);
}

static void dev_register_added(void)
{
	struct zd_device *dev = m_dev_added("mis-d");
	int n = device_count();

	zd_get_device(dev);
	m_arm();
	m_expect_err(zd_device_register(dev), -EEXIST);
	m_state(device_count() == n, "device list changed");
	/* the owner's, the list's and the one taken above */
	m_state(dev->refcount == 3, "reference count reset");
}

static void dev_del_null(void)
{
	m_arm();
	zd_device_del(NULL);
	m_expect_warn();
}

static void dev_del_not_added(void)
{
	struct zd_device *dev = m_dev_new("mis-e");

	m_arm();
	zd_device_del(dev);
	m_expect_warn();
	m_state(dev->refcount == 1, "reference count changed");
}

static void dev_del_twice(void)
{
	struct zd_device *dev = m_dev_added("mis-f");
	int n = device_count();

	zd_device_del(dev);
	m_arm();
	zd_device_del(dev);
	m_expect_warn();
	m_state(device_count() == n - 1, "device list changed");
	m_state(dev->refcount == 1, "reference count changed");
}

static void dev_unregister_null(void)
{
	m_arm();
	zd_device_unregister(NULL);
	m_expect_warn();
}

static void dev_unregister_twice(void)
{
	struct zd_device *dev = m_dev_added("mis-g");

	zd_get_device(dev);
	zd_get_device(dev);
	zd_device_unregister(dev);
	m_arm();
	zd_device_unregister(dev);
	m_expect_warn();
	m_state(dev->refcount == 2, "a reference was dropped");
}

static void dev_get_released(void)
{
	struct zd_device *dev = m_dev_new("mis-h");

	zd_put_device(dev);
	m_arm();
	zd_get_device(dev);
	m_expect_warn();
	m_state(dev->refcount == 0, "a released device was revived");
}

static void dev_put_below_zero(void)
{
	struct zd_device *dev = m_dev_new("mis-i");

	zd_put_device(dev);
	m_arm();
	zd_put_device(dev);
	m_expect_warn();
	m_state(dev->refcount == 0, "count went below zero");
}

static void dev_put_last_added(void)
{
	struct zd_device *dev = m_dev_added("mis-j");
	int n = device_count();

	zd_put_device(dev);		/* the owner's: allowed, the list holds one */
	m_arm();
	zd_put_device(dev);		/* the list's, the last, still added */
	m_expect_warn();
	m_state(device_count() == n, "the device left the list");
	m_state(findable("mis-j"), "the device is not found");
}

static void dev_get_drvdata_null(void)
{
	m_arm();
	m_expect_val((uintptr_t)zd_dev_get_drvdata(NULL), 0);
}

static void dev_set_drvdata_null(void)
{
	m_arm();
	zd_dev_set_drvdata(NULL, &actions);
	m_expect_warn();
}

static void dev_to_node_null(void)
{
	m_arm();
	m_expect_val((unsigned long long)zd_dev_to_node(NULL),
		     (unsigned long long)ZD_NUMA_NO_NODE);
}

static void dev_set_node_null(void)
{
	m_arm();
	zd_set_dev_node(NULL, 0);
	m_expect_warn();
}

static void dev_set_node_bad(void)
{
	struct zd_device *dev = m_dev_new("mis-k");

	zd_set_dev_node(dev, 0);
	m_arm();
	zd_set_dev_node(dev, -7);
	m_expect_warn();
	m_state(zd_dev_to_node(dev) == 0, "node changed");
}

static int probe_ok(struct zd_device *dev)
{
	(void)dev;
	return 0;
}

static struct zd_driver drv = { .name = "misuse2", .probe = probe_ok };

static void bind_null_dev(void)
{
	m_arm();
	m_expect_err(zd_device_bind(NULL, &drv), -EINVAL);
}

static void bind_null_drv(void)
{
	struct zd_device *dev = m_dev_added("mis-l");

	m_arm();
	m_expect_err(zd_device_bind(dev, NULL), -EINVAL);
	m_state(!zd_device_is_bound(dev), "bound");
}

static void bind_not_added(void)
{
	struct zd_device *dev = m_dev_new("mis-m");

	m_arm();
	m_expect_err(zd_device_bind(dev, &drv), -ENODEV);
	m_state(!zd_device_is_bound(dev), "bound");
}

static void bind_bound(void)
{
	struct zd_device *dev = m_dev_bound("mis-n");

	m_arm();
	m_expect_err(zd_device_bind(dev, &drv), -EBUSY);
	m_state(zd_device_is_bound(dev) && dev->driver != &drv, "driver replaced");
}

static void bind_raw(void)
{
	m_arm();
	m_expect_err(zd_device_bind(dev_raw(), &drv), ANY_ERR);
}

static void unbind_null(void)
{
	m_arm();
	m_expect_err(zd_device_unbind(NULL), -EINVAL);
}

static void unbind_unbound(void)
{
	struct zd_device *dev = m_dev_added("mis-o");

	m_arm();
	m_expect_err(zd_device_unbind(dev), -ENODEV);
}

static void unbind_twice(void)
{
	struct zd_device *dev = m_dev_bound("mis-p");

	M_SETUP(zd_device_unbind(dev) == 0);
	m_arm();
	m_expect_err(zd_device_unbind(dev), -ENODEV);
}

static void is_bound_null(void)
{
	m_arm();
	m_expect_val(zd_device_is_bound(NULL), false);
}

static void find_null(void)
{
	m_arm();
	m_expect_null(zd_device_find(NULL), EINVAL);
}

static void for_each_null(void)
{
	m_arm();
	m_expect_err(zd_device_for_each(NULL, NULL), ANY_ERR);
}

static void hotplug_lock_twice(void)
{
	zd_lock_device_hotplug();
	m_arm();
	zd_lock_device_hotplug();
	m_expect_warn();
}

static void hotplug_unlock_unheld(void)
{
	m_arm();
	zd_unlock_device_hotplug();
	m_expect_warn();
	zd_lock_device_hotplug();	/* still a working lock */
	zd_unlock_device_hotplug();
}

/* ---- devres ------------------------------------------------------------------ */

static void dr_alloc_null(void)
{
	m_arm();
	m_expect_null(zd_devres_alloc(NULL, 8), EINVAL);
}

static void dr_alloc_huge(void)
{
	m_arm();
	m_expect_null_nowarn(zd_devres_alloc(rel, SIZE_MAX), ENOMEM);
}

static void dr_free_added(void)
{
	struct zd_device *dev = m_dev_new("mis-q");
	void *res = zd_devres_alloc(rel, 8);

	M_SETUP(res);
	zd_devres_add(dev, res);
	m_arm();
	zd_devres_free(res);
	m_expect_warn();
	m_state(zd_devres_find(dev, rel, NULL, NULL) == res, "devres gone");
}

/* No "zd_devres_free twice" case: the first free gives the block back to
 * malloc, so a second is a use after free by the caller, as with free()
 * (ASan reports it), not a state the library can see. */

static void dr_free_foreign(void)
{
	m_arm();
	zd_devres_free(foreign_block());
	m_expect_warn();
}

static void dr_add_null_dev(void)
{
	void *res = zd_devres_alloc(rel, 8);

	M_SETUP(res);
	m_arm();
	zd_devres_add(NULL, res);
	m_expect_warn();
}

static void dr_add_null_res(void)
{
	struct zd_device *dev = m_dev_new("mis-r");

	m_arm();
	zd_devres_add(dev, NULL);
	m_expect_warn();
}

static void dr_add_twice(void)
{
	struct zd_device *dev = m_dev_new("mis-s");
	void *res = zd_devres_alloc(rel, 8);

	M_SETUP(res);
	zd_devres_add(dev, res);
	m_arm();
	zd_devres_add(dev, res);
	m_expect_warn();
	m_state(zd_devres_destroy(dev, rel, NULL, NULL) == 0 &&
		zd_devres_find(dev, rel, NULL, NULL) == NULL, "listed twice");
}

static void dr_add_other_dev(void)
{
	struct zd_device *a = m_dev_new("mis-t"), *b = m_dev_new("mis-u");
	void *res = zd_devres_alloc(rel, 8);

	M_SETUP(res);
	zd_devres_add(a, res);
	m_arm();
	zd_devres_add(b, res);
	m_expect_warn();
	m_state(zd_devres_find(a, rel, NULL, NULL) == res, "moved off its device");
	m_state(zd_devres_find(b, rel, NULL, NULL) == NULL, "on two devices");
}

static void dr_add_foreign(void)
{
	struct zd_device *dev = m_dev_new("mis-v");

	m_arm();
	zd_devres_add(dev, foreign_block());
	m_expect_warn();
	m_state(zd_devres_find(dev, rel, NULL, NULL) == NULL, "listed");
}

static void dr_add_raw(void)
{
	void *res = zd_devres_alloc(rel, 8);

	M_SETUP(res);
	m_arm();
	zd_devres_add(dev_raw(), res);
	m_expect_warn();
}

static void dr_find_null(void)
{
	m_arm();
	m_expect_null(zd_devres_find(NULL, rel, NULL, NULL), 0);
}

static void dr_find_null_release(void)
{
	m_arm();
	m_expect_null(zd_devres_find(m_dev_new("mis-w"), NULL, NULL, NULL), 0);
}

static void dr_find_raw(void)
{
	m_arm();
	m_expect_null(zd_devres_find(dev_raw(), rel, NULL, NULL), 0);
}

static void dr_get_null_dev(void)
{
	void *res = zd_devres_alloc(rel, 8);

	M_SETUP(res);
	m_arm();
	m_expect_null(zd_devres_get(NULL, res, NULL, NULL), 0);
}

static void dr_get_null_res(void)
{
	m_arm();
	m_expect_null(zd_devres_get(m_dev_new("mis-x"), NULL, NULL, NULL), 0);
}

static void dr_remove_null(void)
{
	m_arm();
	m_expect_null(zd_devres_remove(NULL, rel, NULL, NULL), 0);
}

static void dr_remove_raw(void)
{
	m_arm();
	m_expect_null(zd_devres_remove(dev_raw(), rel, NULL, NULL), 0);
}

static void dr_destroy_null(void)
{
	m_arm();
	m_expect_err(zd_devres_destroy(NULL, rel, NULL, NULL), ANY_ERR);
}

/* -ENOENT is the documented answer, not a misuse (as in the kernel). */
static void dr_destroy_none(void)
{
	m_arm();
	m_expect_err_nowarn(zd_devres_destroy(m_dev_new("mis-y"), rel, NULL, NULL),
			    -ENOENT);
}

static void dr_release_null(void)
{
	m_arm();
	m_expect_err(zd_devres_release(NULL, rel, NULL, NULL), ANY_ERR);
}

static void dr_release_none(void)
{
	m_arm();
	m_expect_err_nowarn(zd_devres_release(m_dev_new("mis-z"), rel, NULL, NULL),
			    -ENOENT);
}

static void dr_release_raw(void)
{
	m_arm();
	m_expect_err(zd_devres_release(dev_raw(), rel, NULL, NULL), ANY_ERR);
}

static void grp_open_null(void)
{
	m_arm();
	m_expect_null(zd_devres_open_group(NULL, NULL), EINVAL);
}

static void grp_open_raw(void)
{
	m_arm();
	m_expect_null(zd_devres_open_group(dev_raw(), NULL), EINVAL);
}

static void grp_close_null(void)
{
	m_arm();
	zd_devres_close_group(NULL, NULL);
	m_expect_warn();
}

static void grp_close_unknown(void)
{
	struct zd_device *dev = m_dev_new("mis-g1");
	static int id;

	m_arm();
	zd_devres_close_group(dev, &id);
	m_expect_warn();
}

static void grp_close_twice(void)
{
	struct zd_device *dev = m_dev_new("mis-g2");
	void *id = zd_devres_open_group(dev, NULL);

	M_SETUP(id);
	zd_devres_close_group(dev, id);
	m_arm();
	zd_devres_close_group(dev, id);
	m_expect_warn();
	m_state(zd_devres_release_group(dev, id) == 0, "group lost");
}

static void grp_remove_null(void)
{
	m_arm();
	zd_devres_remove_group(NULL, NULL);
	m_expect_warn();
}

static void grp_remove_unknown(void)
{
	struct zd_device *dev = m_dev_new("mis-g3");
	static int id;

	m_arm();
	zd_devres_remove_group(dev, &id);
	m_expect_warn();
}

static void grp_release_null(void)
{
	m_arm();
	m_expect_err(zd_devres_release_group(NULL, NULL), ANY_ERR);
}

static void grp_release_unknown(void)
{
	struct zd_device *dev = m_dev_new("mis-g4");
	static int id;

	m_arm();
	m_expect_err(zd_devres_release_group(dev, &id), -ENOENT);
}

static void grp_release_twice(void)
{
	struct zd_device *dev = m_dev_new("mis-g5");
	void *id = zd_devres_open_group(dev, NULL);

	M_SETUP(id);
	M_SETUP(zd_devm_add_action(dev, action, NULL) == 0);
	zd_devres_close_group(dev, id);
	M_SETUP(zd_devres_release_group(dev, id) == 1);
	m_arm();
	m_expect_err(zd_devres_release_group(dev, id), -ENOENT);
	m_state(actions == 1, "action ran twice");
}

static void grp_release_raw(void)
{
	m_arm();
	m_expect_err(zd_devres_release_group(dev_raw(), NULL), ANY_ERR);
}

static void act_add_null_dev(void)
{
	m_arm();
	m_expect_err(zd_devm_add_action(NULL, action, NULL), -EINVAL);
}

static void act_add_null_action(void)
{
	m_arm();
	m_expect_err(zd_devm_add_action(m_dev_new("mis-a1"), NULL, NULL), -EINVAL);
}

static void act_add_raw(void)
{
	m_arm();
	m_expect_err(zd_devm_add_action(dev_raw(), action, NULL), -EINVAL);
}

static void act_reset_null_dev(void)
{
	m_arm();
	m_expect_err(zd_devm_add_action_or_reset(NULL, action, NULL), -EINVAL);
	m_state(actions == 1, "the action did not run on failure");
}

static void act_reset_null_action(void)
{
	m_arm();
	m_expect_err(zd_devm_add_action_or_reset(m_dev_new("mis-a2"), NULL, NULL),
		     -EINVAL);
}

static void act_remove_null(void)
{
	m_arm();
	m_expect_err(zd_devm_remove_action(NULL, action, NULL), ANY_ERR);
}

static void act_remove_none(void)
{
	m_arm();
	m_expect_err(zd_devm_remove_action(m_dev_new("mis-a3"), action, NULL), -ENOENT);
}

static void act_remove_twice(void)
{
	struct zd_device *dev = m_dev_new("mis-a4");

	M_SETUP(zd_devm_add_action(dev, action, NULL) == 0);
	M_SETUP(zd_devm_remove_action(dev, action, NULL) == 0);
	m_arm();
	m_expect_err(zd_devm_remove_action(dev, action, NULL), -ENOENT);
}

static void act_release_null(void)
{
	m_arm();
	m_expect_err(zd_devm_release_action(NULL, action, NULL), ANY_ERR);
}

static void act_release_twice(void)
{
	struct zd_device *dev = m_dev_new("mis-a5");

	M_SETUP(zd_devm_add_action(dev, action, NULL) == 0);
	M_SETUP(zd_devm_release_action(dev, action, NULL) == 0);
	m_arm();
	m_expect_err(zd_devm_release_action(dev, action, NULL), -ENOENT);
	m_state(actions == 1, "action ran twice");
}

static void act_release_foreign(void)
{
	struct zd_device *a = m_dev_new("mis-a6"), *b = m_dev_new("mis-a7");

	M_SETUP(zd_devm_add_action(a, action, NULL) == 0);
	m_arm();
	m_expect_err(zd_devm_release_action(b, action, NULL), -ENOENT);
	m_state(actions == 0, "another device's action ran");
}

static void km_null(void)
{
	m_arm();
	m_expect_null(zd_devm_kmalloc(NULL, 8), 0);
}

static void km_huge(void)
{
	m_arm();
	m_expect_null_nowarn(zd_devm_kmalloc(m_dev_new("mis-k1"), SIZE_MAX), ENOMEM);
}

static void km_raw(void)
{
	m_arm();
	m_expect_null(zd_devm_kmalloc(dev_raw(), 8), 0);
}

static void kz_null(void)
{
	m_arm();
	m_expect_null(zd_devm_kzalloc(NULL, 8), 0);
}

static void kz_huge(void)
{
	m_arm();
	m_expect_null_nowarn(zd_devm_kzalloc(m_dev_new("mis-k2"), SIZE_MAX - 8), ENOMEM);
}

static void kfree_null_dev(void)
{
	struct zd_device *dev = m_dev_new("mis-k3");
	void *p = zd_devm_kmalloc(dev, 8);

	M_SETUP(p);
	m_arm();
	zd_devm_kfree(NULL, p);
	m_expect_warn();
}

static void kfree_foreign(void)
{
	struct zd_device *dev = m_dev_new("mis-k4");

	m_arm();
	zd_devm_kfree(dev, foreign_block());
	m_expect_warn();
}

static void kfree_other_dev(void)
{
	struct zd_device *a = m_dev_new("mis-k5"), *b = m_dev_new("mis-k6");
	char *p = zd_devm_kmalloc(a, 8);

	M_SETUP(p);
	m_arm();
	zd_devm_kfree(b, p);
	m_expect_warn();
	p[0] = 1;			/* still a's: ASan sees a use after free */
}

static void kfree_twice(void)
{
	struct zd_device *dev = m_dev_new("mis-k7");
	void *p = zd_devm_kmalloc(dev, 8);

	M_SETUP(p);
	zd_devm_kfree(dev, p);
	m_arm();
	zd_devm_kfree(dev, p);
	m_expect_warn();
}

static void region_null_dev(void)
{
	m_arm();
	m_expect_null(zd_devm_request_mem_region(NULL, DEV_BASE, MiB(2), "x"), 0);
	m_state(zd_request_mem_region(DEV_BASE, MiB(2), "y") != NULL, "range taken");
}

static void region_zero(void)
{
	m_arm();
	m_expect_null(zd_devm_request_mem_region(m_dev_new("mis-r1"), DEV_BASE,
						 0, "x"), EINVAL);
}

static void region_wrap(void)
{
	m_arm();
	m_expect_null(zd_devm_request_mem_region(m_dev_new("mis-r2"), ~0ull - 10,
						 100, "x"), EINVAL);
}

static void region_raw(void)
{
	m_arm();
	m_expect_null(zd_devm_request_mem_region(dev_raw(), DEV_BASE, MiB(2), "x"), 0);
	m_state(zd_request_mem_region(DEV_BASE, MiB(2), "y") != NULL, "range taken");
}

static void region_release_null(void)
{
	m_arm();
	m_expect_err(zd_devm_release_mem_region(NULL, DEV_BASE, MiB(2)), ANY_ERR);
}

static void region_release_none(void)
{
	m_arm();
	m_expect_err(zd_devm_release_mem_region(m_dev_new("mis-r3"), DEV_BASE,
						MiB(2)), -ENOENT);
}

static void region_release_foreign(void)
{
	struct zd_device *a = m_dev_new("mis-r4"), *b = m_dev_new("mis-r5");

	M_SETUP(zd_devm_request_mem_region(a, DEV_BASE, MiB(2), "a"));
	m_arm();
	m_expect_err(zd_devm_release_mem_region(b, DEV_BASE, MiB(2)), -ENOENT);
	m_state(zd_request_mem_region(DEV_BASE, MiB(2), "y") == NULL,
		"a's region was released");
}

static void region_release_twice(void)
{
	struct zd_device *dev = m_dev_new("mis-r6");

	M_SETUP(zd_devm_request_mem_region(dev, DEV_BASE, MiB(2), "a"));
	M_SETUP(zd_devm_release_mem_region(dev, DEV_BASE, MiB(2)) == 0);
	m_arm();
	m_expect_err(zd_devm_release_mem_region(dev, DEV_BASE, MiB(2)), -ENOENT);
}

static void region_release_size(void)
{
	struct zd_device *dev = m_dev_new("mis-r7");

	M_SETUP(zd_devm_request_mem_region(dev, DEV_BASE, MiB(2), "a"));
	m_arm();
	m_expect_err(zd_devm_release_mem_region(dev, DEV_BASE, MiB(1)), -ENOENT);
	m_state(zd_request_mem_region(DEV_BASE, MiB(2), "y") == NULL,
		"the region was released");
}

#define W	"WARN"
#define EINV	"-EINVAL+WARN"
#define ENOENTW	"-ENOENT+WARN"
#define ERRW	"-errno+WARN"
#define NULLW	"NULL+WARN"
#define NULLEINV "NULL/EINVAL+WARN"

const struct mcase misuse_device_cases[] = {
	{ "zd_device_initialize", "NULL", W, dev_init_null },
	{ "zd_device_initialize", "wrong state: added", "WARN, device untouched", dev_init_added },
	{ "zd_dev_set_name", "NULL device", EINV, dev_set_name_null_dev },
	{ "zd_dev_set_name", "NULL format", EINV, dev_set_name_null_fmt },
	{ "zd_dev_set_name", "zero: empty name", EINV, dev_set_name_empty },
	{ "zd_dev_set_name", "wrong state: added", "-EBUSY+WARN", dev_set_name_added },
	{ "zd_dev_set_name", "wrong state: never initialised", EINV, dev_set_name_raw },
	{ "zd_device_add", "NULL", EINV, dev_add_null },
	{ "zd_device_add", "already done: added twice", "-EEXIST+WARN", dev_add_twice },
	{ "zd_device_add", "wrong state: never initialised", EINV, dev_add_raw },
	{ "zd_device_register", "NULL", EINV, dev_register_null },
	{ "zd_device_register", "already done: added", "-EEXIST+WARN, refs kept", dev_register_added },
	{ "zd_device_del", "NULL", W, dev_del_null },
	{ "zd_device_del", "wrong state: not added", "WARN, refs kept", dev_del_not_added },
	{ "zd_device_del", "double release: del twice", "WARN, refs kept", dev_del_twice },
	{ "zd_device_unregister", "NULL", W, dev_unregister_null },
	{ "zd_device_unregister", "double release: twice", "WARN, refs kept", dev_unregister_twice },
	{ "zd_get_device", "dead: after the last put", "WARN, not revived", dev_get_released },
	{ "zd_put_device", "double release: below zero", "WARN, ignored", dev_put_below_zero },
	{ "zd_put_device", "wrong state: last put while added", "WARN, still listed", dev_put_last_added },
	{ "zd_dev_get_drvdata", "NULL", NULLW, dev_get_drvdata_null },
	{ "zd_dev_set_drvdata", "NULL", W, dev_set_drvdata_null },
	{ "zd_dev_to_node", "NULL", "NO_NODE+WARN", dev_to_node_null },
	{ "zd_set_dev_node", "NULL", W, dev_set_node_null },
	{ "zd_set_dev_node", "huge: node -7", "WARN, node kept", dev_set_node_bad },
	{ "zd_device_bind", "NULL device", EINV, bind_null_dev },
	{ "zd_device_bind", "NULL driver", EINV, bind_null_drv },
	{ "zd_device_bind", "wrong state: not added", "-ENODEV+WARN", bind_not_added },
	{ "zd_device_bind", "already done: bound", "-EBUSY+WARN", bind_bound },
	{ "zd_device_bind", "wrong state: never initialised", "-errno+WARN", bind_raw },
	{ "zd_device_unbind", "NULL", EINV, unbind_null },
	{ "zd_device_unbind", "unbound", "-ENODEV+WARN", unbind_unbound },
	{ "zd_device_unbind", "double release: twice", "-ENODEV+WARN", unbind_twice },
	{ "zd_device_is_bound", "NULL", "false+WARN", is_bound_null },
	{ "zd_device_find", "NULL", NULLEINV, find_null },
	{ "zd_device_for_each", "NULL callback", ERRW, for_each_null },
	{ "zd_lock_device_hotplug", "already done: recursive", "WARN, no hang", hotplug_lock_twice },
	{ "zd_unlock_device_hotplug", "double release: not held", "WARN, lock works", hotplug_unlock_unheld },

	{ "zd_devres_alloc", "NULL release", NULLEINV, dr_alloc_null },
	{ "zd_devres_alloc", "huge: SIZE_MAX", "NULL/ENOMEM", dr_alloc_huge },
	{ "zd_devres_free", "wrong state: still added", "WARN, kept", dr_free_added },
	{ "zd_devres_free", "foreign: not a devres", W, dr_free_foreign },
	{ "zd_devres_add", "NULL device", W, dr_add_null_dev },
	{ "zd_devres_add", "NULL devres", W, dr_add_null_res },
	{ "zd_devres_add", "already done: added twice", "WARN, listed once", dr_add_twice },
	{ "zd_devres_add", "foreign: on another device", "WARN, not moved", dr_add_other_dev },
	{ "zd_devres_add", "foreign: not a devres", "WARN, not listed", dr_add_foreign },
	{ "zd_devres_add", "wrong state: never initialised dev", W, dr_add_raw },
	{ "zd_devres_find", "NULL device", NULLW, dr_find_null },
	{ "zd_devres_find", "NULL release", NULLW, dr_find_null_release },
	{ "zd_devres_find", "wrong state: never initialised dev", NULLW, dr_find_raw },
	{ "zd_devres_get", "NULL device", NULLW, dr_get_null_dev },
	{ "zd_devres_get", "NULL devres", NULLW, dr_get_null_res },
	{ "zd_devres_remove", "NULL device", NULLW, dr_remove_null },
	{ "zd_devres_remove", "wrong state: never initialised dev", NULLW, dr_remove_raw },
	{ "zd_devres_destroy", "NULL device", ERRW, dr_destroy_null },
	{ "zd_devres_destroy", "wrong state: nothing matches", "-ENOENT", dr_destroy_none },
	{ "zd_devres_release", "NULL device", ERRW, dr_release_null },
	{ "zd_devres_release", "wrong state: nothing matches", "-ENOENT", dr_release_none },
	{ "zd_devres_release", "wrong state: never initialised dev", ERRW, dr_release_raw },
	{ "zd_devres_open_group", "NULL device", NULLEINV, grp_open_null },
	{ "zd_devres_open_group", "wrong state: never initialised dev", NULLEINV, grp_open_raw },
	{ "zd_devres_close_group", "NULL device", W, grp_close_null },
	{ "zd_devres_close_group", "foreign: unknown id", W, grp_close_unknown },
	{ "zd_devres_close_group", "already done: closed twice", "WARN, group kept", grp_close_twice },
	{ "zd_devres_remove_group", "NULL device", W, grp_remove_null },
	{ "zd_devres_remove_group", "foreign: unknown id", W, grp_remove_unknown },
	{ "zd_devres_release_group", "NULL device", ERRW, grp_release_null },
	{ "zd_devres_release_group", "foreign: unknown id", ENOENTW, grp_release_unknown },
	{ "zd_devres_release_group", "double release: twice", ENOENTW, grp_release_twice },
	{ "zd_devres_release_group", "wrong state: never initialised dev", ERRW, grp_release_raw },
	{ "zd_devm_add_action", "NULL device", EINV, act_add_null_dev },
	{ "zd_devm_add_action", "NULL action", EINV, act_add_null_action },
	{ "zd_devm_add_action", "wrong state: never initialised dev", EINV, act_add_raw },
	{ "zd_devm_add_action_or_reset", "NULL device", EINV ", action run", act_reset_null_dev },
	{ "zd_devm_add_action_or_reset", "NULL action", EINV, act_reset_null_action },
	{ "zd_devm_remove_action", "NULL device", ERRW, act_remove_null },
	{ "zd_devm_remove_action", "wrong state: not registered", ENOENTW, act_remove_none },
	{ "zd_devm_remove_action", "double release: twice", ENOENTW, act_remove_twice },
	{ "zd_devm_release_action", "NULL device", ERRW, act_release_null },
	{ "zd_devm_release_action", "double release: twice", ENOENTW ", ran once", act_release_twice },
	{ "zd_devm_release_action", "foreign: other device's action", ENOENTW ", not run", act_release_foreign },
	{ "zd_devm_kmalloc", "NULL device", NULLW, km_null },
	{ "zd_devm_kmalloc", "huge: SIZE_MAX", "NULL/ENOMEM", km_huge },
	{ "zd_devm_kmalloc", "wrong state: never initialised dev", NULLW, km_raw },
	{ "zd_devm_kzalloc", "NULL device", NULLW, kz_null },
	{ "zd_devm_kzalloc", "huge: SIZE_MAX - 8", "NULL/ENOMEM", kz_huge },
	{ "zd_devm_kfree", "NULL device", W, kfree_null_dev },
	{ "zd_devm_kfree", "foreign: not devm memory", W, kfree_foreign },
	{ "zd_devm_kfree", "foreign: another device's memory", "WARN, not freed", kfree_other_dev },
	{ "zd_devm_kfree", "double release: twice", W, kfree_twice },
	{ "zd_devm_request_mem_region", "NULL device", "NULL+WARN, range free", region_null_dev },
	{ "zd_devm_request_mem_region", "zero: n = 0", NULLEINV, region_zero },
	{ "zd_devm_request_mem_region", "huge: wrapping range", NULLEINV, region_wrap },
	{ "zd_devm_request_mem_region", "wrong state: never initialised dev", "NULL+WARN, range free", region_raw },
	{ "zd_devm_release_mem_region", "NULL device", ERRW, region_release_null },
	{ "zd_devm_release_mem_region", "wrong state: not held", ENOENTW, region_release_none },
	{ "zd_devm_release_mem_region", "foreign: other device's region", ENOENTW ", kept", region_release_foreign },
	{ "zd_devm_release_mem_region", "double release: twice", ENOENTW, region_release_twice },
	{ "zd_devm_release_mem_region", "wrong size", ENOENTW ", kept", region_release_size },
	{ 0 }
};
