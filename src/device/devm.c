// SPDX-License-Identifier: MIT
/* devm helpers on top of devres: actions, memory, memory regions. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zonedev/resource.h>

#include "internal.h"
#include "log.h"

/* ---- actions ----------------------------------------------------------- */

struct action_devres {
	void (*action)(void *);
	void *data;
};

static void action_release(struct zd_device *dev, void *res)
{
	struct action_devres *a = res;

	a->action(a->data);
}

static int action_match(struct zd_device *dev, void *res, void *match_data)
{
	struct action_devres *a = res, *want = match_data;

	return a->action == want->action && a->data == want->data;
}

int zd_devm_add_action(struct zd_device *dev, void (*action)(void *),
		       void *data)
{
	struct action_devres *a;

	if (zd_dev_unusable(dev, __func__))
		return -EINVAL;
	if (ZD_WARN_ON(!action, "NULL action"))
		return -EINVAL;
	a = zd_devres_alloc(action_release, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->action = action;
	a->data = data;
	zd_devres_add(dev, a);
	return 0;
}

int zd_devm_add_action_or_reset(struct zd_device *dev, void (*action)(void *),
				void *data)
{
	int err = zd_devm_add_action(dev, action, data);

	if (err && action)
		action(data);
	return err;
}

/* Drop one matching action by @how: devres_destroy or devres_release. */
static int drop_action(struct zd_device *dev, void (*action)(void *),
		       void *data, const char *fn,
		       int (*how)(struct zd_device *, zd_dr_release_t *,
				  zd_dr_match_t *, void *))
{
	struct action_devres want = { action, data };
	char name[64];

	if (zd_dev_unusable(dev, fn))
		return -EINVAL;
	if (!how(dev, action_release, action_match, &want))
		return 0;
	zd_log(ZD_LOG_WARN, "WARNING: %s: device %s has no action %s(%p)", fn,
	       zd_dev_name(dev), zd_func_name((void *)action, name,
					      sizeof(name)), data);
	return -ENOENT;
}

int zd_devm_remove_action(struct zd_device *dev, void (*action)(void *),
			  void *data)
{
	return drop_action(dev, action, data, __func__, zd_devres_destroy);
}

int zd_devm_release_action(struct zd_device *dev, void (*action)(void *),
			   void *data)
{
	return drop_action(dev, action, data, __func__, zd_devres_release);
}

/* ---- memory ------------------------------------------------------------ */

static void kmalloc_release(struct zd_device *dev, void *res)
{
}

static int kmalloc_match(struct zd_device *dev, void *res, void *p)
{
	return res == p;
}

void *zd_devm_kzalloc(struct zd_device *dev, size_t size)
{
	void *p;

	if (zd_dev_unusable(dev, __func__)) {
		errno = EINVAL;
		return NULL;
	}
	p = zd_devres_alloc(kmalloc_release, size);
	if (p)
		zd_devres_add(dev, p);
	return p;
}

void *zd_devm_kmalloc(struct zd_device *dev, size_t size)
{
	return zd_devm_kzalloc(dev, size);
}

void zd_devm_kfree(struct zd_device *dev, const void *p)
{
	if (!p || zd_dev_unusable(dev, __func__))
		return;
	if (zd_devres_destroy(dev, kmalloc_release, kmalloc_match,
				      (void *)p))
		zd_warn("%p is not devm memory of device %s", p,
			zd_dev_name(dev));
}

/* ---- memory regions ---------------------------------------------------- */

struct region_devres {
	zd_resource_size_t start, n;
};

static void region_release(struct zd_device *dev, void *res)
{
	struct region_devres *r = res;

	zd_release_mem_region(r->start, r->n);
}

static int region_match(struct zd_device *dev, void *res, void *match_data)
{
	struct region_devres *r = res, *want = match_data;

	return r->start == want->start && r->n == want->n;
}

int zd_devm_region_add(struct zd_device *dev, zd_resource_size_t start,
		       zd_resource_size_t n)
{
	struct region_devres *r;

	if (zd_dev_unusable(dev, __func__))
		return -EINVAL;
	r = zd_devres_alloc(region_release, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->start = start;
	r->n = n;
	zd_devres_add(dev, r);
	return 0;
}

struct zd_resource *zd_devm_request_mem_region(struct zd_device *dev,
		zd_resource_size_t start, zd_resource_size_t n, const char *name)
{
	struct zd_resource *res;

	if (zd_dev_unusable(dev, __func__)) {
		errno = EINVAL;
		return NULL;
	}
	res = zd_request_mem_region(start, n, name);
	if (res && zd_devm_region_add(dev, start, n)) {
		zd_release_mem_region(start, n);
		errno = ENOMEM;
		return NULL;
	}
	return res;
}

int zd_devm_release_mem_region(struct zd_device *dev, zd_resource_size_t start,
			       zd_resource_size_t n)
{
	struct region_devres want = { start, n };

	if (zd_dev_unusable(dev, __func__))
		return -EINVAL;
	if (zd_devres_release(dev, region_release, region_match, &want)) {
		zd_warn("device %s holds no region [mem %#llx-%#llx]",
			zd_dev_name(dev), (unsigned long long)start,
			(unsigned long long)(start + n - 1));
		return -ENOENT;
	}
	return 0;
}
