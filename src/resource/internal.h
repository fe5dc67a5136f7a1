/* SPDX-License-Identifier: MIT */
/* Resource tree internals shared by its source files. */
#ifndef ZD_RESOURCE_INTERNAL_H
#define ZD_RESOURCE_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <zonedev/resource.h>

/* Regions zonedev allocated itself (request_region, the layout): only
 * those are freed when released. */
#define ZD_IORESOURCE_ALLOCATED	0x40000000ul
/* Entries of the platform layout (System RAM, reservations, bus windows):
 * the platform's, never released by a device's zd_release_region(). */
#define ZD_IORESOURCE_PLATFORM	0x20000000ul

extern pthread_rwlock_t zd_resource_lock;

/* The root, without the lazy layout load (callers hold the lock). */
extern struct zd_resource zd_iomem;

/* Ensure the layout is loaded; call before taking zd_resource_lock. */
void zd_iomem_ensure(void);

/* Tree operations; the caller holds the write lock. */
struct zd_resource *zd__request_resource(struct zd_resource *root,
					 struct zd_resource *new);
struct zd_resource *zd__insert_resource(struct zd_resource *parent,
					struct zd_resource *new);
int zd__release_resource(struct zd_resource *old, bool release_child);
/* Claim a busy region below @parent; returns NULL or the conflict. */
struct zd_resource *zd__request_region_locked(struct zd_resource *res,
		struct zd_resource *parent, zd_resource_size_t start,
		zd_resource_size_t n, const char *name, unsigned long flags);

/* A claimed region made a free container (a bus window, @busy false) so
 * devices claim their own regions inside it, and busy again before it is
 * released.  Takes the write lock. */
void zd_resource_set_busy(struct zd_resource *r, bool busy);

/* Preorder successor, skipping @p's children if @skip_children. */
struct zd_resource *zd_next_resource(struct zd_resource *p, bool skip_children);

/* The kernel's region_intersects on @parent's children; read lock held. */
int zd__region_intersects(struct zd_resource *parent, zd_resource_size_t start,
			  zd_resource_size_t size, unsigned long flags,
			  unsigned long desc);

/* "[mem 0x...-0x...] name" for messages. */
const char *zd_resource_str(const struct zd_resource *r, char *buf, size_t len);

#endif /* ZD_RESOURCE_INTERNAL_H */
