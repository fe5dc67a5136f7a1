/* SPDX-License-Identifier: MIT */
/*
 * Test fixture for devices: every device a test initialises is tracked,
 * and the teardown unbinds, deletes and puts whatever a failed test left,
 * so that no later test finds it listed, bound or holding a name.  The
 * devices must outlive the test (static), as the teardown reads them.
 */
#ifndef ZD_TEST_DEV_UTIL_H
#define ZD_TEST_DEV_UTIL_H

#include <zonedev/device.h>

#define DEV_MAX	4096

static struct zd_device *dev_tracked[DEV_MAX];

static inline void dev_track(struct zd_device *dev)
{
	for (int i = 0; i < DEV_MAX; i++)
		if (dev_tracked[i] == dev)
			return;
	for (int i = 0; i < DEV_MAX; i++)
		if (!dev_tracked[i]) {
			dev_tracked[i] = dev;
			return;
		}
	fail_msg("more than %d devices", DEV_MAX);
}

static inline bool dev_alive(struct zd_device *dev)
{
	return atomic_load(&dev->refcount) > 0;
}

/* Newest first, so children go before the parents they hold. */
static inline void dev_cleanup(void)
{
	for (int i = DEV_MAX; i-- > 0;) {
		struct zd_device *dev = dev_tracked[i], *found;

		if (!dev || !dev_alive(dev))
			continue;
		if (zd_device_is_bound(dev))
			zd_device_unbind(dev);
		found = zd_device_find(zd_dev_name(dev));
		if (found == dev)
			zd_device_del(dev);
		zd_put_device(found);
	}
	for (int i = DEV_MAX; i-- > 0;) {
		struct zd_device *dev = dev_tracked[i];

		while (dev && dev_alive(dev))
			zd_put_device(dev);
		dev_tracked[i] = NULL;
	}
}

#endif /* ZD_TEST_DEV_UTIL_H */
