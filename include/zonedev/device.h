/* SPDX-License-Identifier: MIT */
/*
 * Devices and drivers, after the kernel's driver core.
 *
 * A device is embedded in its owner's structure and reference counted;
 * the owner's release callback frees it when the last reference goes.
 * zd_device_add() makes it visible (listed, found by name, bindable);
 * zd_device_del() hides it again, unbinding its driver first.
 *
 * Binding runs the driver's probe under the device lock; everything probe
 * registered with devres (see devres.h) is released, newest first, when
 * probe fails or when the driver is unbound after its remove callback.
 */
#ifndef ZONEDEV_DEVICE_H
#define ZONEDEV_DEVICE_H

#include <pthread.h>
#ifndef __cplusplus
#include <stdbool.h>
#endif
#include <zonedev/types.h>

ZD_EXTERN_C_BEGIN

#define ZD_NUMA_NO_NODE	(-1)

struct zd_device;

struct zd_driver {
	const char *name;
	/* Claim @dev: 0 to bind, -errno to refuse (devres is unwound). */
	int (*probe)(struct zd_device *dev);
	/* Let go of @dev; devres is released after this returns. */
	void (*remove)(struct zd_device *dev);
};

struct zd_device {
	/* set by the owner before zd_device_add() */
	const char *init_name;		/* used if zd_dev_set_name() was not */
	struct zd_device *parent;	/* held from add to del */
	void (*release)(struct zd_device *dev);	/* frees the device */
	int numa_node;

	/* zonedev's, read through the accessors below */
	char *name;
	struct zd_driver *driver;
	void *driver_data;
	ZD_ATOMIC(int) refcount;
	unsigned int state;
	pthread_mutex_t mutex;		/* device lock: probe, remove */
	pthread_mutex_t devres_lock;
	struct zd_list_head devres_head;
	struct zd_list_head node;	/* in the list of added devices */
};

/**
 * zd_device_initialize - prepare @dev for use, holding one reference
 * @dev: zero-filled device with release (and init_name, parent) set
 *
 * Sets up the reference count, locks and devres list of @dev and gives
 * the caller the first reference.  The device is not yet visible: call
 * zd_device_add() for that.  From here on the device is freed only by its
 * release callback, when the last reference is dropped.
 *
 * A device initialised already (until its last put) is reported and
 * left as it is: its list entry, devres and count belong to others.
 * Context: any.  Drop the reference with zd_put_device(), even if
 * zd_device_add() fails.
 */
ZD_API void zd_device_initialize(struct zd_device *dev);

/**
 * zd_dev_set_name - name a device, printf-style
 * @dev: an initialised device, not yet added
 * @fmt: format of the name
 *
 * Gives @dev a name built from @fmt, as printf() would.  The name is
 * what zd_dev_name() returns and what zd_device_find() looks up; it is
 * fixed once the device is added.
 * Context: may sleep (allocates).
 * Return: 0, -EINVAL for a NULL device or format or an empty name
 * (reported), -EBUSY after add, -ENOMEM.
 */
ZD_API int zd_dev_set_name(struct zd_device *dev, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/**
 * zd_device_add - make an initialised device visible
 * @dev: the device
 *
 * Takes a reference on the parent, and one on @dev for the list of
 * added devices: an added device is not freed before zd_device_del().
 * Context: may sleep.
 * Return: 0, -EINVAL (no name, not initialised), -EEXIST (name taken,
 * or already added), -ENOMEM.
 */
ZD_API int zd_device_add(struct zd_device *dev);

/**
 * zd_device_register - zd_device_initialize() and zd_device_add()
 * @dev: the device
 *
 * Does both steps of making a device visible in one call: it
 * initialises @dev, taking the registration reference, and adds it.
 * Undo it with zd_device_unregister().
 * Context: may sleep.
 * Return: as zd_device_add(); on failure drop the reference with
 * zd_put_device().
 */
ZD_API int zd_device_register(struct zd_device *dev);

/**
 * zd_device_del - hide a device, unbinding its driver first
 * @dev: an added device
 *
 * Undoes zd_device_add(): if a driver is bound it is unbound first (its
 * remove runs and the device's devres is released), then @dev is taken off
 * the device list, so zd_device_find() no longer sees it.  References held
 * elsewhere stay valid.
 *
 * Drops the list's reference (and the parent's): the last put may
 * happen here if the owner dropped theirs already.
 * Context: may sleep; takes the device lock.
 */
ZD_API void zd_device_del(struct zd_device *dev);

/**
 * zd_device_unregister - zd_device_del() and drop the registration reference
 * @dev: an added device
 *
 * Undoes zd_device_register(): deletes @dev with zd_device_del() and
 * drops the reference registration took.  The release callback runs when
 * the last other reference is gone too, which may be now.  On a device
 * that is not added (a second unregister) it is reported and drops no
 * reference.
 * Context: may sleep.
 */
ZD_API void zd_device_unregister(struct zd_device *dev);

/**
 * zd_get_device - take a reference on a device
 * @dev: the device, or NULL
 *
 * Adds one to @dev's reference count, keeping its memory alive until a
 * matching zd_put_device().  NULL is passed through, so the result can be
 * used unchecked.
 * Context: any, never sleeps.
 * Return: @dev.
 */
ZD_API struct zd_device *zd_get_device(struct zd_device *dev);

/**
 * zd_put_device - drop a reference on a device
 * @dev: the device, or NULL
 *
 * The last put releases the device's remaining devres, then calls
 * dev->release.  The owner may drop its reference while the device is
 * added (the list holds one), but a put that would drop the list's
 * reference, leaving a freed device on the list, is reported and ignored:
 * only zd_device_del() drops that one.  A put below zero is reported and
 * ignored.
 * Context: may sleep if the release does.
 */
ZD_API void zd_put_device(struct zd_device *dev);

/**
 * zd_dev_name - the device's name
 * @dev: the device
 *
 * Returns the name the device is known by in messages, in the resource
 * tree and to zd_device_find().
 * Context: any.
 * Return: the name, init_name before zd_dev_set_name(), or "(null)".
 */
ZD_API const char *zd_dev_name(const struct zd_device *dev);

/**
 * zd_dev_get_drvdata - the driver's private pointer
 * @dev: the device
 *
 * Returns the pointer the bound driver stored with zd_dev_set_drvdata(),
 * usually its per-device state.  The driver core clears it on unbind.
 * Context: any.
 * Return: what the driver set, NULL when unbound or for a NULL @dev
 * (reported).
 */
ZD_API void *zd_dev_get_drvdata(const struct zd_device *dev);

/**
 * zd_dev_set_drvdata - set the driver's private pointer
 * @dev: the device
 * @data: the pointer
 *
 * Stores a pointer of the driver's choosing in @dev, to be found again
 * with zd_dev_get_drvdata() in remove and other callbacks.  It is cleared
 * when the driver is unbound.
 * Context: any; normally from probe.
 */
ZD_API void zd_dev_set_drvdata(struct zd_device *dev, void *data);

/**
 * zd_dev_to_node - the device's NUMA node
 * @dev: the device
 *
 * Returns the NUMA node recorded for @dev with zd_set_dev_node().  It is
 * only a hint (for example for where a memmap goes).
 * Context: any.
 * Return: the node, or ZD_NUMA_NO_NODE (also for a NULL @dev, reported).
 */
ZD_API int zd_dev_to_node(const struct zd_device *dev);

/**
 * zd_set_dev_node - set the device's NUMA node
 * @dev: the device
 * @node: the node, or ZD_NUMA_NO_NODE
 *
 * Records the NUMA node @dev is closest to, for zd_dev_to_node().  A
 * negative @node other than ZD_NUMA_NO_NODE is reported and ignored.
 * Context: any.
 */
ZD_API void zd_set_dev_node(struct zd_device *dev, int node);

/**
 * zd_device_bind - bind @drv to @dev, running its probe
 * @dev: an added, unbound device
 * @drv: the driver
 *
 * On probe failure every devres added since the bind began is released,
 * newest first, and the device is left unbound.
 * Context: may sleep; takes the device lock.
 * Return: 0, probe's -errno, -EINVAL (NULL), -ENODEV (not added),
 * -EBUSY (already bound).
 */
ZD_API int zd_device_bind(struct zd_device *dev, struct zd_driver *drv);

/**
 * zd_device_unbind - run the driver's remove, then release all devres
 * @dev: a bound device
 *
 * Detaches the driver from @dev: its remove callback runs, then every
 * devres the driver registered is released, newest first, and the
 * driver's data pointer is cleared.  The device stays added and can be
 * bound again.
 * Context: may sleep; takes the device lock.
 * Return: 0, -EINVAL (NULL), -ENODEV (not bound).
 */
ZD_API int zd_device_unbind(struct zd_device *dev);

/**
 * zd_device_is_bound - whether a driver is bound
 * @dev: the device
 *
 * Reports whether a driver's probe has succeeded on @dev and it has not
 * been unbound since.  Without the device lock the answer may be stale by
 * the time it is used.
 * Context: any.
 * Return: true if bound; false for a NULL @dev (reported).
 */
ZD_API bool zd_device_is_bound(const struct zd_device *dev);

/**
 * zd_device_find - look up an added device by name
 * @name: the name
 *
 * Searches the added devices for one named @name and returns it with a
 * reference taken, so that it cannot go away while the caller uses it.
 * Context: may sleep; takes the device list lock.
 * Return: the device with a reference held (zd_put_device() it), or
 * NULL with errno ENOENT (EINVAL for a NULL name).
 */
ZD_API struct zd_device *zd_device_find(const char *name);

/**
 * zd_device_for_each - call @fn on each added device, oldest first
 * @fn: callback; a non-zero return stops the walk
 * @arg: passed to @fn
 *
 * @fn runs under the device list lock: it must not add or delete devices.
 * Context: may sleep.
 * Return: the first non-zero value @fn returned, or 0.
 */
ZD_API int zd_device_for_each(int (*fn)(struct zd_device *dev, void *arg),
			      void *arg);

/**
 * zd_lock_device_hotplug - take the device hotplug lock
 *
 * Serialises whole-device hotplug sequences (offline then remove, or add
 * then online) against each other, as the kernel's lock_device_hotplug().
 * Taken again by the thread that holds it (the kernel would deadlock), it
 * is reported and not taken; the matching unlock is then reported too.
 * Context: may sleep; not recursive.
 */
ZD_API void zd_lock_device_hotplug(void);

/**
 * zd_unlock_device_hotplug - release the device hotplug lock
 *
 * Ends the hotplug sequence begun with zd_lock_device_hotplug(), so that
 * another thread's sequence can start.  Called by a thread that does
 * not hold the lock, it is reported and ignored.
 * Context: the thread that took it.
 */
ZD_API void zd_unlock_device_hotplug(void);

ZD_EXTERN_C_END

#endif /* ZONEDEV_DEVICE_H */
