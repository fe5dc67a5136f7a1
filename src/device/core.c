// SPDX-License-Identifier: MIT
/*
 * The device core: lifetime (initialise, add, del, get, put), names, the
 * list of added devices, and the device hotplug lock.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zonedev/device.h>

#include "internal.h"
#include "fault.h"
#include "list.h"
#include "log.h"

static pthread_mutex_t devices_lock = PTHREAD_MUTEX_INITIALIZER;
static struct zd_list_head devices = { &devices, &devices };
static struct zd_name_table names;	/* of the devices listed */
static pthread_mutex_t device_hotplug_lock = PTHREAD_MUTEX_INITIALIZER;
/* whether this thread holds device_hotplug_lock: a second lock would
 * wait for ever, an unlock by a non-holder would break the mutex */
static __thread bool hotplug_held;

bool zd_dev_unusable(const struct zd_device *dev, const char *fn)
{
	if (likely(dev && (dev->state & ZD_DEV_INITIALIZED)))
		return false;
	zd_log(ZD_LOG_WARN, "WARNING: %s: %s device", fn,
	       dev ? "uninitialised" : "NULL");
	return true;
}

void zd_device_initialize(struct zd_device *dev)
{
	if (ZD_WARN_ON(!dev, "NULL device"))
		return;
	/* again would reset a listed node, devres and the count under
	 * whoever holds them */
	if (dev->state & ZD_DEV_INITIALIZED) {
		zd_warn("device %s is initialised already; ignored",
			zd_dev_name(dev));
		return;
	}
	atomic_init(&dev->refcount, 1);
	pthread_mutex_init(&dev->mutex, NULL);
	pthread_mutex_init(&dev->devres_lock, NULL);
	zd_list_init(&dev->devres_head);
	zd_list_init(&dev->node);
	dev->name = NULL;
	dev->driver = NULL;
	dev->driver_data = NULL;
	dev->state = ZD_DEV_INITIALIZED;
}

int zd_dev_set_name(struct zd_device *dev, const char *fmt, ...)
{
	char *name;
	va_list ap;
	int n;

	if (zd_dev_unusable(dev, __func__))
		return -EINVAL;
	if (!fmt) {
		zd_warn("device %s: NULL name format", zd_dev_name(dev));
		return -EINVAL;
	}
	if (dev->state & ZD_DEV_ADDED) {
		zd_warn("device %s: renamed after add", zd_dev_name(dev));
		return -EBUSY;
	}
	if (zd_fault("device.name"))
		return -ENOMEM;
	va_start(ap, fmt);
	n = vasprintf(&name, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -ENOMEM;
	if (!n) {
		free(name);
		zd_warn("empty device name");
		return -EINVAL;
	}
	free(dev->name);
	dev->name = name;
	return 0;
}

const char *zd_dev_name(const struct zd_device *dev)
{
	if (!dev)
		return "(null)";
	if (dev->name)
		return dev->name;
	return dev->init_name ? dev->init_name : "(null)";
}

int zd_device_add(struct zd_device *dev)
{
	int err;

	if (zd_dev_unusable(dev, __func__))
		return -EINVAL;
	if (!dev->name && dev->init_name) {
		err = zd_dev_set_name(dev, "%s", dev->init_name);
		if (err)
			return err;
	}
	if (!dev->name) {
		zd_warn("device %p has no name", (void *)dev);
		return -EINVAL;
	}
	if (zd_fault("device.add"))
		return -ENOMEM;
	pthread_mutex_lock(&devices_lock);
	/* an added device finds its own name taken */
	err = zd_names_add(&names, dev);
	if (!err) {
		zd_list_add_tail(&dev->node, &devices);
		dev->state |= ZD_DEV_ADDED;
	}
	pthread_mutex_unlock(&devices_lock);
	if (err == -EEXIST)
		zd_warn("a device named %s exists", dev->name);
	if (err)
		return err;
	/* the list's reference: a listed device is never freed */
	zd_get_device(dev);
	zd_get_device(dev->parent);
	return 0;
}

int zd_device_register(struct zd_device *dev)
{
	zd_device_initialize(dev);
	return zd_device_add(dev);
}

/* zd_device_del(), reporting as @fn; whether @dev was added. */
static bool device_del(struct zd_device *dev, const char *fn)
{
	bool was_added;

	if (zd_dev_unusable(dev, fn))
		return false;
	if (zd_device_is_bound(dev))
		zd_device_unbind(dev);
	pthread_mutex_lock(&devices_lock);
	was_added = dev->state & ZD_DEV_ADDED;
	if (was_added) {
		zd_names_del(&names, dev);
		zd_list_del_init(&dev->node);
		dev->state &= ~ZD_DEV_ADDED;
	}
	pthread_mutex_unlock(&devices_lock);
	if (!was_added) {
		zd_log(ZD_LOG_WARN, "WARNING: %s: device %s was not added", fn,
		       zd_dev_name(dev));
		return false;
	}
	zd_put_device(dev->parent);
	zd_put_device(dev);
	return true;
}

void zd_device_del(struct zd_device *dev)
{
	device_del(dev, __func__);
}

void zd_device_unregister(struct zd_device *dev)
{
	/* a second unregister must not drop a reference someone else holds */
	if (device_del(dev, __func__))
		zd_put_device(dev);
}

struct zd_device *zd_get_device(struct zd_device *dev)
{
	if (dev && !zd_dev_unusable(dev, __func__)) {
		if (atomic_fetch_add(&dev->refcount, 1) <= 0)
			zd_warn("device %s: get after the last put",
				zd_dev_name(dev));
	}
	return dev;
}

void zd_put_device(struct zd_device *dev)
{
	int old;

	if (!dev || zd_dev_unusable(dev, __func__))
		return;
	old = atomic_fetch_sub(&dev->refcount, 1);
	if (old <= 0) {
		atomic_fetch_add(&dev->refcount, 1);
		zd_warn("device %s: put below zero; ignored", zd_dev_name(dev));
		return;
	}
	if (old > 1)
		return;
	/* only zd_device_del() drops the list's reference */
	if (dev->state & ZD_DEV_ADDED) {
		atomic_fetch_add(&dev->refcount, 1);
		zd_warn("device %s: last put while still added (the list's "
			"reference); ignored", zd_dev_name(dev));
		return;
	}
	/* devres left by a driverless user goes with the device */
	zd_devres_release_all(dev);
	free(dev->name);
	dev->name = NULL;
	dev->state = 0;
	pthread_mutex_destroy(&dev->mutex);
	pthread_mutex_destroy(&dev->devres_lock);
	if (dev->release)
		dev->release(dev);
	else
		zd_warn("device %p has no release callback: whoever owns "
			"its memory cannot know when to free it", (void *)dev);
}

void *zd_dev_get_drvdata(const struct zd_device *dev)
{
	if (ZD_WARN_ON(!dev, "NULL device"))
		return NULL;
	return dev->driver_data;
}

void zd_dev_set_drvdata(struct zd_device *dev, void *data)
{
	if (!zd_dev_unusable(dev, __func__))
		dev->driver_data = data;
}

int zd_dev_to_node(const struct zd_device *dev)
{
	if (ZD_WARN_ON(!dev, "NULL device"))
		return ZD_NUMA_NO_NODE;
	return dev->numa_node;
}

void zd_set_dev_node(struct zd_device *dev, int node)
{
	if (zd_dev_unusable(dev, __func__))
		return;
	if (node < ZD_NUMA_NO_NODE) {
		zd_warn("device %s: bad NUMA node %d; ignored",
			zd_dev_name(dev), node);
		return;
	}
	dev->numa_node = node;
}

struct zd_device *zd_device_find(const char *name)
{
	struct zd_device *dev;

	if (!name) {
		zd_warn("NULL name");
		errno = EINVAL;
		return NULL;
	}
	pthread_mutex_lock(&devices_lock);
	dev = zd_get_device(zd_names_find(&names, name));
	pthread_mutex_unlock(&devices_lock);
	if (!dev)
		errno = ENOENT;
	return dev;
}

int zd_device_for_each(int (*fn)(struct zd_device *dev, void *arg), void *arg)
{
	struct zd_list_head *pos;
	int ret = 0;

	if (ZD_WARN_ON(!fn, "NULL callback"))
		return -EINVAL;
	pthread_mutex_lock(&devices_lock);
	zd_list_for_each(pos, &devices) {
		ret = fn(zd_list_entry(pos, struct zd_device, node), arg);
		if (ret)
			break;
	}
	pthread_mutex_unlock(&devices_lock);
	return ret;
}

void zd_lock_device_hotplug(void)
{
	if (hotplug_held) {
		zd_warn("recursive device hotplug lock; not taken (it would "
			"deadlock)");
		return;
	}
	pthread_mutex_lock(&device_hotplug_lock);
	hotplug_held = true;
}

void zd_unlock_device_hotplug(void)
{
	if (ZD_WARN_ON(!hotplug_held, "device hotplug lock not held by this thread; ignored"))
		return;
	hotplug_held = false;
	pthread_mutex_unlock(&device_hotplug_lock);
}
