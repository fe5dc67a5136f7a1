// SPDX-License-Identifier: MIT
/*
 * Binding drivers to devices: probe under the device lock, and devres
 * unwound on probe failure and after remove.
 */
#include <errno.h>
#include <zonedev/device.h>

#include "internal.h"
#include "list.h"
#include "log.h"

bool zd_device_is_bound(const struct zd_device *dev)
{
	if (ZD_WARN_ON(!dev, "NULL device"))
		return false;
	return __atomic_load_n(&dev->driver, __ATOMIC_ACQUIRE);
}

int zd_device_bind(struct zd_device *dev, struct zd_driver *drv)
{
	int ret = 0;

	if (!dev || !drv || !(dev->state & ZD_DEV_INITIALIZED)) {
		zd_warn("%s", !dev ? "NULL device" : !drv ? "NULL driver" :
			"uninitialised device");
		return -EINVAL;
	}
	pthread_mutex_lock(&dev->mutex);
	if (dev->driver) {
		zd_warn("device %s is already bound to %s", zd_dev_name(dev),
			dev->driver->name);
		ret = -EBUSY;
	} else if (!(dev->state & ZD_DEV_ADDED)) {
		zd_warn("device %s is not added", zd_dev_name(dev));
		ret = -ENODEV;
	}
	if (ret)
		goto out;
	if (!zd_list_empty(&dev->devres_head))
		zd_warn("device %s has devres before probe; they go with the "
			"driver", zd_dev_name(dev));
	__atomic_store_n(&dev->driver, drv, __ATOMIC_RELEASE);
	if (drv->probe)
		ret = drv->probe(dev);
	if (ret) {
		zd_devres_release_all(dev);
		dev->driver_data = NULL;
		__atomic_store_n(&dev->driver, NULL, __ATOMIC_RELEASE);
	}
out:
	pthread_mutex_unlock(&dev->mutex);
	return ret;
}

int zd_device_unbind(struct zd_device *dev)
{
	struct zd_driver *drv;

	if (!dev || !(dev->state & ZD_DEV_INITIALIZED)) {
		zd_warn("%s", !dev ? "NULL device" : "uninitialised device");
		return -EINVAL;
	}
	pthread_mutex_lock(&dev->mutex);
	drv = dev->driver;
	if (drv) {
		if (drv->remove)
			drv->remove(dev);
		zd_devres_release_all(dev);
		dev->driver_data = NULL;
		__atomic_store_n(&dev->driver, NULL, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&dev->mutex);
	if (!drv) {
		zd_warn("device %s is not bound", zd_dev_name(dev));
		return -ENODEV;
	}
	return 0;
}
