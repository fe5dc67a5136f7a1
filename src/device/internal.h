/* SPDX-License-Identifier: MIT */
/* Internals shared by the device core, driver binding and devres. */
#ifndef ZD_DEVICE_INTERNAL_H
#define ZD_DEVICE_INTERNAL_H

#include <zonedev/devres.h>

/* zd_device.state */
enum {
	ZD_DEV_INITIALIZED = 1u << 0,
	ZD_DEV_ADDED = 1u << 1,
};

/* The names of added devices (names.c); the caller serialises. */
struct zd_name_table {
	struct zd_name_slot {
		struct zd_device *dev;	/* NULL: empty */
		size_t hash;		/* of its name */
	} *slot;
	size_t size, count;		/* size: 0 or a power of two */
};

/* The device named @name, or NULL. */
struct zd_device *zd_names_find(const struct zd_name_table *t,
				const char *name);
/* 0, -EEXIST (the name is taken), -ENOMEM. */
int zd_names_add(struct zd_name_table *t, struct zd_device *dev);
/* Forget @dev (under the name it was added with), if it is there. */
void zd_names_del(struct zd_name_table *t, struct zd_device *dev);

/* Whether @dev is NULL or not initialised; if so, a WARNING naming @fn. */
bool zd_dev_unusable(const struct zd_device *dev, const char *fn);

/* Release every devres of @dev, newest first.  Returns how many. */
int zd_devres_release_all(struct zd_device *dev);

/* Release [start, start + n) with @dev's devres; 0 or -ENOMEM. */
int zd_devm_region_add(struct zd_device *dev, zd_resource_size_t start,
		       zd_resource_size_t n);

/* Name a callback for messages: its symbol if known, else its address. */
const char *zd_func_name(void *fn, char *buf, size_t len);

#endif /* ZD_DEVICE_INTERNAL_H */
