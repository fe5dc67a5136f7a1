// SPDX-License-Identifier: MIT
/*
 * The iomem root and its platform layout: zonedev's documented default
 * (see resource.h) or a copy of the host's /proc/iomem.  Layout entries
 * are ordinary resources that zonedev allocated; System RAM among them is
 * busy, so no device can claim it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "array.h"
#include "fault.h"
#include "internal.h"
#include "log.h"

struct zd_resource zd_iomem = {
	.start = 0,
	.end = UINT64_MAX,
	.name = "PCI mem",
	.flags = ZD_IORESOURCE_MEM,
};

static pthread_once_t iomem_once = PTHREAD_ONCE_INIT;

struct layout_entry {
	zd_resource_size_t start, end;
	const char *name;
	int depth;
};

static const struct layout_entry default_layout[] = {
	{ 0x000000000, 0x000000fff, "Reserved", 0 },
	{ 0x000001000, 0x00009ffff, "System RAM", 0 },
	{ 0x0000a0000, 0x0000fffff, "Reserved", 0 },
	{ 0x000100000, 0x07fffffff, "System RAM", 0 },
	{ 0x080000000, 0x0fdffffff, "PCI Bus 0000:00", 0 },
	{ 0x100000000, 0x47fffffff, "System RAM", 0 },
};

/* Flags by name; @container: the entry has children in the layout. */
static void layout_flags(struct zd_resource *r, bool container)
{
	r->flags = ZD_IORESOURCE_MEM | ZD_IORESOURCE_ALLOCATED |
		   ZD_IORESOURCE_PLATFORM;
	r->desc = ZD_IORES_DESC_NONE;
	if (!strcmp(r->name, "System RAM"))
		r->flags |= ZD_IORESOURCE_SYSRAM;
	else if (!strcmp(r->name, "Reserved"))
		r->desc = ZD_IORES_DESC_RESERVED;
	else if (!strcmp(r->name, "Persistent Memory"))
		r->desc = ZD_IORES_DESC_PERSISTENT_MEMORY;
	else if (!strcmp(r->name, "Soft Reserved"))
		r->desc = ZD_IORES_DESC_SOFT_RESERVED;
	/* RAM and reservations are taken; bus windows stay free for
	 * devices to claim inside; other host entries are busy leaves
	 * (a driver's registers) or free containers (a device's BARs) */
	if ((r->flags & ZD_IORESOURCE_SYSRAM) ||
	    r->desc == ZD_IORES_DESC_RESERVED)
		r->flags |= ZD_IORESOURCE_BUSY;
	else if (!container && !strstr(r->name, "PCI Bus") &&
		 !strstr(r->name, "Window"))
		r->flags |= ZD_IORESOURCE_BUSY;
}

/* Resources the layout put in the tree: the tree holds only those while
 * no device has claimed anything. */
static size_t nr_layout;

static void free_subtree(struct zd_resource *r)
{
	while (r) {
		struct zd_resource *next = r->sibling;

		free_subtree(r->child);
		free((char *)r->name);
		free(r);
		r = next;
	}
}

static int layout_load_locked(const struct layout_entry *e, size_t n)
{
	struct zd_resource *stack[16] = { &zd_iomem };

	for (size_t i = 0; i < n; i++) {
		struct zd_resource *r;
		int d = e[i].depth;

		if (d < 0 || d > 14 || !stack[d])
			continue;	/* malformed nesting: skip the entry */
		r = zd_zalloc("resource.layout", sizeof(*r));
		if (!r || !(r->name = strdup(e[i].name))) {
			free(r);
			return -ENOMEM;
		}
		r->start = e[i].start;
		r->end = e[i].end;
		layout_flags(r, i + 1 < n && e[i + 1].depth > d);
		if (zd__request_resource(stack[d], r)) {
			free((char *)r->name);
			free(r);
			continue;	/* overlapping entry: skip it */
		}
		stack[d + 1] = r;
		for (int k = d + 2; k < 16; k++)
			stack[k] = NULL;
		nr_layout++;
	}
	return 0;
}

/* Parse /proc/iomem; returns entries (caller frees) or NULL. */
static struct layout_entry *host_layout(size_t *n)
{
	FILE *f = fopen("/proc/iomem", "r");
	struct layout_entry *v = NULL;
	size_t cap = 0;
	bool any_address = false;
	char line[256];

	*n = 0;
	if (!f)
		return NULL;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long s, e;
		int depth = 0, off = 0;
		char name[200];

		while (line[depth] == ' ')
			depth++;
		if (sscanf(line, " %llx-%llx : %199[^\n]%n", &s, &e, name,
			   &off) < 3)
			continue;
		if (zd_array_room(v, *n, cap, 64))
			break;
		v[*n] = (struct layout_entry){ s, e, strdup(name), depth / 2 };
		any_address |= e != 0;
		(*n)++;
	}
	fclose(f);
	if (!any_address) {
		for (size_t i = 0; i < *n; i++)
			free((char *)v[i].name);
		free(v);
		*n = 0;
		return NULL;
	}
	return v;
}

static int load_locked(enum zd_iomem_layout layout)
{
	struct layout_entry *host = NULL;
	size_t n = 0;
	int err;

	if (layout == ZD_IOMEM_LAYOUT_HOST) {
		host = host_layout(&n);
		if (!host)
			zd_log(ZD_LOG_INFO, "/proc/iomem shows no addresses (not "
			       "root?): using zonedev's default layout");
	}
	if (host)
		err = layout_load_locked(host, n);
	else
		err = layout_load_locked(default_layout, sizeof(default_layout) /
					 sizeof(default_layout[0]));
	for (size_t i = 0; i < n; i++)
		free((char *)host[i].name);
	free(host);
	return err;
}

static void iomem_init_once(void)
{
	const char *env = getenv("ZONEDEV_IOMEM");
	enum zd_iomem_layout layout = ZD_IOMEM_LAYOUT_DEFAULT;

	if (env && !strcmp(env, "host"))
		layout = ZD_IOMEM_LAYOUT_HOST;
	pthread_rwlock_wrlock(&zd_resource_lock);
	if (load_locked(layout))
		zd_warn("cannot load the iomem layout: out of memory");
	pthread_rwlock_unlock(&zd_resource_lock);
}

void zd_iomem_ensure(void)
{
	pthread_once(&iomem_once, iomem_init_once);
}

struct zd_resource *zd_iomem_root(void)
{
	zd_iomem_ensure();
	return &zd_iomem;
}

static size_t count_locked(void)
{
	size_t n = 0;

	for (struct zd_resource *p = zd_iomem.child; p;
	     p = zd_next_resource(p, false))
		n++;
	return n;
}

int zd_iomem_setup(enum zd_iomem_layout layout)
{
	int err = 0;

	if (layout != ZD_IOMEM_LAYOUT_DEFAULT && layout != ZD_IOMEM_LAYOUT_HOST) {
		zd_warn("unknown layout %d", (int)layout);
		return -EINVAL;
	}
	zd_iomem_ensure();
	pthread_rwlock_wrlock(&zd_resource_lock);
	if (count_locked() != nr_layout) {
		err = -EBUSY;
	} else {
		free_subtree(zd_iomem.child);
		zd_iomem.child = NULL;
		nr_layout = 0;
		err = load_locked(layout);
	}
	pthread_rwlock_unlock(&zd_resource_lock);
	if (err == -EBUSY)
		zd_warn("devices hold regions: the layout cannot change now");
	return err;
}

int zd_iomem_print(FILE *f)
{
	int err = 0;

	if (ZD_WARN_ON(!f, "NULL file"))
		return -EINVAL;
	zd_iomem_ensure();
	pthread_rwlock_rdlock(&zd_resource_lock);
	for (struct zd_resource *p = zd_iomem.child; p;
	     p = zd_next_resource(p, false)) {
		int depth = 0;

		for (struct zd_resource *q = p->parent; q != &zd_iomem;
		     q = q->parent)
			depth++;
		if (fprintf(f, "%*s%08llx-%08llx : %s\n", 2 * depth, "",
			    (unsigned long long)p->start,
			    (unsigned long long)p->end, p->name ? p->name : "") < 0)
			err = -EIO;
	}
	pthread_rwlock_unlock(&zd_resource_lock);
	return err;
}
