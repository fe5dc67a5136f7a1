// SPDX-License-Identifier: MIT
/*
 * memremap_pages and its teardown, after mm/memremap.c.  Setup per range:
 * refuse System RAM, enter the range for lookup (refusing a conflict),
 * map its memmap and direct map under the hotplug write lock, initialise
 * the memmap outside it, and take the idle pages' references.  Teardown is
 * the reverse, and waits for every reference before it removes anything.
 */
#include <errno.h>
#include <stdlib.h>
#include <zonedev/device.h>
#include <zonedev/devres.h>
#include <zonedev/memory_hotplug.h>
#include <zonedev/resource.h>

#include "../os/os.h"
#include "list.h"
#include "log.h"
#include "memmap_init.h"
#include "model.h"
#include "pcpu.h"
#include "percpu_ref_internal.h"
#include "rcu.h"
#include "registry.h"

/*
 * pgmap->state, read and written atomically: memunmap sets DYING once
 * (a second memunmap is refused), and REMOVING under the hotplug write
 * side before the memmap goes, so that walkers of the memmap stop.
 */
enum {
	PGMAP_MAPPED = 1u << 0,
	PGMAP_DYING = 1u << 1,
	PGMAP_REMOVING = 1u << 2,
};

static unsigned int state_of(const struct zd_dev_pagemap *pgmap)
{
	return __atomic_load_n(&pgmap->state, __ATOMIC_ACQUIRE);
}

static unsigned int state_set(struct zd_dev_pagemap *pgmap, unsigned int bits)
{
	return __atomic_fetch_or(&pgmap->state, bits, __ATOMIC_ACQ_REL);
}

static const char *const type_names[] = {
	[ZD_MEMORY_DEVICE_PRIVATE] = "DEVICE_PRIVATE",
	[ZD_MEMORY_DEVICE_COHERENT] = "DEVICE_COHERENT",
	[ZD_MEMORY_DEVICE_FS_DAX] = "FS_DAX",
	[ZD_MEMORY_DEVICE_GENERIC] = "GENERIC",
	[ZD_MEMORY_DEVICE_PCI_P2PDMA] = "PCI_P2PDMA",
};

const char *zd_memory_type_name(enum zd_memory_type type)
{
	if ((unsigned int)type >= sizeof(type_names) / sizeof(type_names[0]) ||
	    !type_names[type])
		return "INVALID";
	return type_names[type];
}

static bool is_private(const struct zd_dev_pagemap *pgmap)
{
	return pgmap->type == ZD_MEMORY_DEVICE_PRIVATE;
}

/* Pages idle at one hold a pgmap reference each while mapped. */
static bool pages_hold_refs(const struct zd_dev_pagemap *pgmap)
{
	return pgmap->type != ZD_MEMORY_DEVICE_PRIVATE &&
	       pgmap->type != ZD_MEMORY_DEVICE_COHERENT;
}

static struct zd_vmem_altmap *pgmap_altmap(struct zd_dev_pagemap *pgmap)
{
	return pgmap->flags & ZD_PGMAP_ALTMAP_VALID ? &pgmap->altmap : NULL;
}

unsigned long zd_vmem_altmap_offset(const struct zd_vmem_altmap *altmap)
{
	return altmap ? altmap->reserve + altmap->free : 0;
}

static uint64_t range_len(const struct zd_range *r)
{
	return r->end - r->start + 1;
}

static unsigned long pfn_first(struct zd_dev_pagemap *pgmap, int i)
{
	unsigned long pfn = zd_phys_pfn(pgmap->ranges[i].start);

	return i ? pfn : pfn + zd_vmem_altmap_offset(pgmap_altmap(pgmap));
}

static unsigned long pfn_end(struct zd_dev_pagemap *pgmap, int i)
{
	return zd_phys_pfn(pgmap->ranges[i].end + 1);
}

/* Pages (compound units) of range @i that hold a reference. */
static unsigned long pfn_len(struct zd_dev_pagemap *pgmap, int i)
{
	return (pfn_end(pgmap, i) - pfn_first(pgmap, i)) >> pgmap->vmemmap_shift;
}

bool zd_pgmap_pfn_valid(struct zd_dev_pagemap *pgmap, unsigned long pfn)
{
	if (ZD_WARN_ON(!pgmap, "NULL pgmap"))
		return false;
	for (int i = 0; i < pgmap->nr_range; i++)
		if (pfn >= zd_phys_pfn(pgmap->ranges[i].start) &&
		    pfn < pfn_end(pgmap, i))
			return pfn >= pfn_first(pgmap, i);
	return false;
}

/* ---- validation -------------------------------------------------------- */

static int check_type(const struct zd_dev_pagemap *pgmap)
{
	const struct zd_dev_pagemap_ops *ops = pgmap->ops;
	const char *t = zd_memory_type_name(pgmap->type);

	switch (pgmap->type) {
	case ZD_MEMORY_DEVICE_PRIVATE:
		if (!ops || !ops->migrate_to_ram) {
			zd_warn("%s pgmap without ops->migrate_to_ram", t);
			return -EINVAL;
		}
		__attribute__((fallthrough));	/* needs page_free, owner too */
	case ZD_MEMORY_DEVICE_COHERENT:
		if (!ops || !ops->page_free) {
			zd_warn("%s pgmap without ops->page_free", t);
			return -EINVAL;
		}
		if (!pgmap->owner) {
			zd_warn("%s pgmap without owner", t);
			return -EINVAL;
		}
		return 0;
	case ZD_MEMORY_DEVICE_FS_DAX:
	case ZD_MEMORY_DEVICE_GENERIC:
	case ZD_MEMORY_DEVICE_PCI_P2PDMA:
		return 0;
	default:
		zd_warn("invalid pgmap type %d", (int)pgmap->type);
		return -EINVAL;
	}
}

static int check_ranges(struct zd_dev_pagemap *pgmap, int nr_range)
{
	zd_phys_addr_t top = 1ull << zd_mm.phys_bits;
	struct zd_vmem_altmap *altmap = pgmap_altmap(pgmap);

	for (int i = 0; i < nr_range; i++) {
		const struct zd_range *r = &pgmap->ranges[i];

		if (r->end < r->start || (r->start & (ZD_SUBSECTION_SIZE - 1)) ||
		    ((r->end + 1) & (ZD_SUBSECTION_SIZE - 1))) {
			zd_warn("range %d [mem %#llx-%#llx] is not 2 MiB "
				"(subsection) aligned", i,
				(unsigned long long)r->start,
				(unsigned long long)r->end);
			return -EINVAL;
		}
		if (r->end >= top) {
			zd_warn("range %d [mem %#llx-%#llx] is beyond the %u-bit "
				"physical space", i, (unsigned long long)r->start,
				(unsigned long long)r->end, zd_mm.phys_bits);
			return -ERANGE;
		}
	}
	if (pgmap->vmemmap_shift &&
	    (pgmap->vmemmap_shift >= ZD_SUBSECTION_SHIFT - zd_page_shift + 1 ||
	     is_private(pgmap))) {
		zd_warn("vmemmap_shift %lu: compound pages up to a subsection, "
			"not for DEVICE_PRIVATE", pgmap->vmemmap_shift);
		return -EINVAL;
	}
	if (!altmap)
		return 0;
	if (nr_range > 1) {
		zd_warn("altmap not supported for multiple ranges");
		return -EINVAL;
	}
	if (pgmap->backing.kind != ZD_BACKING_FD) {
		zd_warn("altmap needs a file or memfd backing to hold the memmap");
		return -EINVAL;
	}
	if (altmap->base_pfn != zd_phys_pfn(pgmap->ranges[0].start) ||
	    zd_vmem_altmap_offset(altmap) >= pfn_end(pgmap, 0) - altmap->base_pfn) {
		zd_warn("altmap base_pfn %#lx / reserve %lu / free %lu do not "
			"fit range 0", altmap->base_pfn, altmap->reserve,
			altmap->free);
		return -EINVAL;
	}
	return 0;
}

static uint64_t total_len(const struct zd_dev_pagemap *pgmap, int nr_range)
{
	uint64_t len = 0;

	for (int i = 0; i < nr_range; i++)
		len += range_len(&pgmap->ranges[i]);
	return len;
}

/*
 * The backing must be a kind we know, and a file must hold every byte
 * that will be mapped from it: a mapping past its end raises SIGBUS on
 * the first touch, far from the mistake.
 */
static int check_backing(struct zd_dev_pagemap *pgmap, int nr_range)
{
	const struct zd_pagemap_backing *b = &pgmap->backing;
	struct zd_vmem_altmap *altmap = pgmap_altmap(pgmap);
	uint64_t need, size;
	int err;

	if (b->kind != ZD_BACKING_ANON && b->kind != ZD_BACKING_FD) {
		zd_warn("backing.kind %d is not ZD_BACKING_ANON or "
			"ZD_BACKING_FD", (int)b->kind);
		return -EINVAL;
	}
	if (b->kind != ZD_BACKING_FD)
		return 0;
	/* device-private memory is never mapped: only an altmap's memmap */
	if (!is_private(pgmap))
		need = total_len(pgmap, nr_range);
	else if (altmap)
		need = (uint64_t)zd_vmem_altmap_offset(altmap) << zd_page_shift;
	else
		return 0;
	err = zd_os_fd_size(b->fd, &size);
	if (err == -ENOTSUP)
		return 0;		/* a device: its size is its own */
	if (err) {
		zd_warn("backing.fd %d cannot be used: %d", b->fd, err);
		return -EINVAL;
	}
	if (size < b->offset || size - b->offset < need) {
		zd_warn("backing.fd %d is %llu bytes: the ranges need %llu from "
			"backing.offset %llu", b->fd, (unsigned long long)size,
			(unsigned long long)need,
			(unsigned long long)b->offset);
		return -EINVAL;
	}
	return 0;
}

/* ---- one range ------------------------------------------------------------ */

static uint64_t backing_offset(struct zd_dev_pagemap *pgmap, int i)
{
	uint64_t off = pgmap->backing.offset;

	for (int k = 0; k < i; k++)
		off += range_len(&pgmap->ranges[k]);
	return off;
}

/*
 * Without an altmap the memmap is host memory, written whole before
 * memremap returns: in a MAP_NORESERVE reservation nothing refuses it up
 * front, and what cannot be backed ends in the OOM killer.  Refuse it
 * here instead, as the kernel's memmap allocation fails.
 */
#define CHECKED_MEMMAP	(64ull << 20)	/* the memmap of 4 GiB of 4 KiB pages */

static int check_host_memory(const struct zd_range *r, uint64_t bytes)
{
	uint64_t avail;

	/* smaller ones are an allocation like any other: no /proc reads
	 * for each of thousands of small pgmaps */
	if (bytes < CHECKED_MEMMAP)
		return 0;
	avail = zd_os_mem_available();
	if (bytes <= avail)
		return 0;
	zd_warn("[mem %#llx-%#llx]: its memmap needs %llu MiB of host memory, "
		"%llu MiB are available (an altmap puts it in the device)",
		(unsigned long long)r->start, (unsigned long long)r->end,
		(unsigned long long)(bytes >> 20),
		(unsigned long long)(avail >> 20));
	return -ENOMEM;
}

/* Map range @i's memmap (from the altmap, if any) and direct map. */
static int add_memory(struct zd_dev_pagemap *pgmap, int i)
{
	struct zd_vmem_altmap *altmap = pgmap_altmap(pgmap);
	const struct zd_range *r = &pgmap->ranges[i];
	unsigned long pfn = zd_phys_pfn(r->start), nr = pfn_end(pgmap, i) - pfn;
	unsigned long need = zd_memmap_bytes(nr) >> zd_page_shift;
	int fd = -1, err;
	uint64_t moff = 0;

	if (altmap) {
		if (need > altmap->free) {
			zd_warn("altmap: the memmap needs %lu pages, free is %lu",
				need, altmap->free);
			return -ENOMEM;
		}
		fd = pgmap->backing.fd;
		moff = backing_offset(pgmap, 0) + (altmap->reserve << zd_page_shift);
	} else {
		err = check_host_memory(r, zd_memmap_bytes(nr));
		if (err)
			return err;
	}
	zd_mem_hotplug_begin();
	err = zd_mm_headroom();
	if (!err)
		err = zd_memmap_add(pfn, nr, fd, moff);
	if (!err && !is_private(pgmap)) {
		err = zd_direct_map_add(r->start, range_len(r), &pgmap->backing,
					backing_offset(pgmap, i));
		if (err)
			zd_memmap_remove(pfn, nr);
	}
	zd_mem_hotplug_done();
	if (!err && altmap)
		altmap->alloc += need;
	return err;
}

static void remove_memory(struct zd_dev_pagemap *pgmap, int i)
{
	struct zd_vmem_altmap *altmap = pgmap_altmap(pgmap);
	const struct zd_range *r = &pgmap->ranges[i];
	unsigned long pfn = zd_phys_pfn(r->start), nr = pfn_end(pgmap, i) - pfn;

	zd_mem_hotplug_begin();
	state_set(pgmap, PGMAP_REMOVING);	/* walkers stop here */
	if (!is_private(pgmap))
		zd_direct_map_remove(r->start, range_len(r));
	zd_memmap_remove(pfn, nr);
	zd_mem_hotplug_done();
	if (altmap)
		altmap->alloc -= zd_memmap_bytes(nr) >> zd_page_shift;
}

static int enter_range(struct zd_dev_pagemap *pgmap, int i)
{
	const struct zd_range *r = &pgmap->ranges[i];
	unsigned long pfn = zd_phys_pfn(r->start), nr = pfn_end(pgmap, i) - pfn;
	struct zd_dev_pagemap *other;
	int err = 0;

	zd_registry_lock();
	other = zd_registry_conflict(pfn, nr);
	if (!other)
		err = zd_registry_insert(pgmap, pfn, nr);
	zd_registry_unlock();
	if (other) {
		zd_warn("range %d [mem %#llx-%#llx] is already mapped by the %s "
			"pgmap of %s [mem %#llx-%#llx]", i,
			(unsigned long long)r->start, (unsigned long long)r->end,
			zd_memory_type_name(other->type), zd_dev_name(other->dev),
			(unsigned long long)other->ranges[0].start,
			(unsigned long long)other->ranges[0].end);
		return -EEXIST;
	}
	return err;
}

static void leave_range(struct zd_dev_pagemap *pgmap, int i)
{
	const struct zd_range *r = &pgmap->ranges[i];
	unsigned long pfn = zd_phys_pfn(r->start);

	zd_registry_lock();
	zd_registry_delete(pgmap, pfn, pfn_end(pgmap, i) - pfn);
	zd_registry_unlock();
}

/* Lookups find range @i from now on. */
static void publish_range(struct zd_dev_pagemap *pgmap, int i)
{
	unsigned long pfn = zd_phys_pfn(pgmap->ranges[i].start);

	zd_registry_lock();
	zd_registry_publish(pgmap, pfn, pfn_end(pgmap, i) - pfn);
	zd_registry_unlock();
}

static int pagemap_range(struct zd_dev_pagemap *pgmap, int i)
{
	const struct zd_range *r = &pgmap->ranges[i];
	int is_ram, err;

	is_ram = zd_region_intersects(r->start, range_len(r),
				      ZD_IORESOURCE_SYSTEM_RAM,
				      ZD_IORES_DESC_NONE);
	if (is_ram != ZD_REGION_DISJOINT) {
		zd_warn("range %d [mem %#llx-%#llx] overlaps System RAM%s", i,
			(unsigned long long)r->start, (unsigned long long)r->end,
			is_ram == ZD_REGION_MIXED ? " and other resources" : "");
		return -ENXIO;
	}
	err = enter_range(pgmap, i);
	if (err)
		return err;
	err = add_memory(pgmap, i);
	if (err) {
		leave_range(pgmap, i);
		return err;
	}
	/* the struct pages are written outside the hotplug lock */
	zd_memmap_init(pgmap, pfn_first(pgmap, i), pfn_end(pgmap, i));
	if (pages_hold_refs(pgmap))
		zd_percpu_ref_get_many(&pgmap->ref, pfn_len(pgmap, i));
	publish_range(pgmap, i);
	return 0;
}

/* ---- setup and teardown ---------------------------------------------------- */

static void pgmap_release(struct zd_percpu_ref *ref)
{
	struct zd_dev_pagemap *pgmap =
		container_of(ref, struct zd_dev_pagemap, ref);

	zd_complete(&pgmap->done);
}

static const char *dev_name_of(const struct zd_dev_pagemap *pgmap)
{
	return pgmap->dev ? zd_dev_name(pgmap->dev) : "no device";
}

/*
 * Kill the reference and drop the idle pages' own.  A guard reference
 * keeps the count above zero until it has been read in atomic mode: if
 * it is short of the pages' references, some holder put more than it
 * got (an extra zd_put_dev_pagemap(), which per-thread counting cannot
 * see when it happens).  Then only what is there is put, so that the
 * count still reaches zero and teardown finishes instead of hanging on a
 * put the counter refuses.
 */
static void kill_and_drop_pages(struct zd_dev_pagemap *pgmap)
{
	unsigned long pages = 0;
	long count;

	if (pages_hold_refs(pgmap))
		for (int i = 0; i < pgmap->nr_range; i++)
			pages += pfn_len(pgmap, i);
	zd_percpu_ref_get(&pgmap->ref);
	zd_percpu_ref_kill(&pgmap->ref);
	zd_percpu_ref_switch_to_atomic_sync(&pgmap->ref);
	count = zd__percpu_ref_count(&pgmap->ref);
	if (count - 1 < (long)pages) {
		zd_warn("%s pgmap [mem %#llx-%#llx] of %s: %ld more puts than "
			"gets (zd_put_dev_pagemap); teardown goes on",
			zd_memory_type_name(pgmap->type),
			(unsigned long long)pgmap->ranges[0].start,
			(unsigned long long)pgmap->ranges[0].end,
			dev_name_of(pgmap), (long)pages - (count - 1));
		pages = count > 1 ? (unsigned long)(count - 1) : 0;
	}
	if (pages)
		zd_percpu_ref_put_many(&pgmap->ref, pages);
	if (count > 0)
		zd_percpu_ref_put(&pgmap->ref);		/* the guard */
	else if (count < 0)
		zd_complete(&pgmap->done);	/* refused puts: no release */
}

/*
 * Wait for the references held elsewhere, saying so every few seconds:
 * the kernel's hung-task report names the task; this names the pgmap,
 * its device and how many references are out.  Legal (rule 2), so INFO.
 */
static void wait_for_holders(struct zd_dev_pagemap *pgmap)
{
	unsigned long period = (unsigned long)(zd_report_period_ns() / 1000000),
		      waited = 0;

	while (!zd_wait_for_completion_timeout(&pgmap->done, period)) {
		waited += period;
		zd_info("memunmap of the %s pgmap [mem %#llx-%#llx] of %s has "
			"waited %lu ms for references held elsewhere; out: %ld",
			zd_memory_type_name(pgmap->type),
			(unsigned long long)pgmap->ranges[0].start,
			(unsigned long long)pgmap->ranges[pgmap->nr_range - 1].end,
			dev_name_of(pgmap), waited,
			zd__percpu_ref_count(&pgmap->ref));
	}
}

/* Rule 1 of the brief, in order. */
static void teardown(struct zd_dev_pagemap *pgmap)
{
	kill_and_drop_pages(pgmap);
	wait_for_holders(pgmap);
	/* last first: the registry counts entered ranges as a prefix */
	for (int i = pgmap->nr_range - 1; i >= 0; i--) {
		remove_memory(pgmap, i);
		leave_range(pgmap, i);
	}
	zd_percpu_ref_exit(&pgmap->ref);
	if (pgmap->altmap.alloc)
		zd_warn("altmap: %lu memmap pages not given back",
			pgmap->altmap.alloc);
}

static void *fail(int err)
{
	errno = -err;
	return NULL;
}

void *zd_memremap_pages(struct zd_dev_pagemap *pgmap, int nid)
{
	int nr_range, err, i;

	(void)nid;	/* one node: the memmap comes from this process */
	if (ZD_WARN_ON(!pgmap, "NULL pgmap"))
		return fail(-EINVAL);
	nr_range = pgmap->nr_range;
	if (nr_range <= 0) {
		zd_warn("nr_range must be at least 1, not %d", nr_range);
		return fail(-EINVAL);
	}
	if (state_of(pgmap) & (PGMAP_MAPPED | PGMAP_DYING)) {
		zd_warn("pgmap %p is already mapped", (void *)pgmap);
		return fail(-EBUSY);
	}
	/* a flag this version does not know would be silently ignored */
	if (pgmap->flags & ~ZD_PGMAP_ALTMAP_VALID) {
		zd_warn("pgmap %p: unknown flags %#x", (void *)pgmap,
			pgmap->flags & ~ZD_PGMAP_ALTMAP_VALID);
		return fail(-EINVAL);
	}
	err = zd_mm_init();
	if (!err)
		err = check_type(pgmap);
	if (!err)
		err = check_ranges(pgmap, nr_range);
	if (!err)
		err = check_backing(pgmap, nr_range);
	if (err)
		return fail(err);
	zd_init_completion(&pgmap->done);
	zd_list_init(&pgmap->node);
	err = zd_percpu_ref_init(&pgmap->ref, pgmap_release, 0);
	if (err)
		return fail(err);
	/* nr_range counts what is set up, so that a failure unwinds that */
	pgmap->nr_range = 0;
	for (i = 0; i < nr_range; i++) {
		err = pagemap_range(pgmap, i);
		if (err)
			break;
		pgmap->nr_range = i + 1;
	}
	if (err) {
		teardown(pgmap);
		pgmap->nr_range = nr_range;
		__atomic_store_n(&pgmap->state, 0, __ATOMIC_RELEASE);
		return fail(err);
	}
	__atomic_store_n(&pgmap->state, PGMAP_MAPPED, __ATOMIC_RELEASE);
	zd_registry_lock();
	zd_pgmap_list_add(pgmap);
	zd_registry_unlock();
	return zd_phys_to_virt(pgmap->ranges[0].start);
}

void zd_memunmap_pages(struct zd_dev_pagemap *pgmap)
{
	unsigned int was;

	if (!pgmap || !(state_of(pgmap) & PGMAP_MAPPED)) {
		zd_warn("pgmap %p is not mapped", (void *)pgmap);
		return;
	}
	was = state_set(pgmap, PGMAP_DYING);
	if (was & PGMAP_DYING) {
		zd_warn("pgmap %p is already being torn down", (void *)pgmap);
		return;
	}
	/* listed (as dying, its ref killed) until it is gone */
	teardown(pgmap);
	zd_registry_lock();
	zd_pgmap_list_del(pgmap);
	zd_registry_unlock();
	__atomic_store_n(&pgmap->state, 0, __ATOMIC_RELEASE);
}

static void devm_memremap_release(void *data)
{
	zd_memunmap_pages(data);
}

void *zd_devm_memremap_pages(struct zd_device *dev, struct zd_dev_pagemap *pgmap)
{
	void *ret;
	int err;

	if (ZD_WARN_ON(!dev, "NULL device"))
		return fail(-EINVAL);
	if (pgmap)
		pgmap->dev = dev;
	ret = zd_memremap_pages(pgmap, zd_dev_to_node(dev));
	if (!ret)
		return NULL;
	err = zd_devm_add_action_or_reset(dev, devm_memremap_release, pgmap);
	return err ? fail(err) : ret;
}

void zd_devm_memunmap_pages(struct zd_device *dev, struct zd_dev_pagemap *pgmap)
{
	zd_devm_release_action(dev, devm_memremap_release, pgmap);
}

/* ---- lookups ----------------------------------------------------------- */

/*
 * Everything but the common case: the thread has no counter area yet (or
 * none can be had, and an RCU read section stands in), or the pgmap's ref
 * is not in per-thread mode.  Apart so that the common path calls nothing
 * and saves no registers: with thousands of pgmaps each lookup waits on
 * cache misses, and the fewer instructions each one takes, the more of
 * them the CPU keeps in flight at once.
 */
static __attribute__((noinline, cold)) struct zd_dev_pagemap *
get_slow(unsigned long pfn)
{
	char *base = zd_pcpu_this();
	struct zd_dev_pagemap *pgmap;
	unsigned long was = 0;

	if (base)
		was = zd_pcpu_section_enter(base);
	else
		zd_rcu_read_lock();
	pgmap = zd_pgmap_lookup(pfn);
	if (pgmap && !zd__percpu_ref_tryget_live_slow(&pgmap->ref))
		pgmap = NULL;
	if (base)
		zd_pcpu_section_exit(base, was);
	else
		zd_rcu_read_unlock();
	return pgmap;
}

/* The caller's pgmap does not cover @pfn: drop it and look @pfn up. */
static __attribute__((noinline)) struct zd_dev_pagemap *
get_other(unsigned long pfn, struct zd_dev_pagemap *pgmap)
{
	zd_put_dev_pagemap(pgmap);
	return zd__get_dev_pagemap_slow(pfn, NULL);
}

struct zd_dev_pagemap *zd__get_dev_pagemap_slow(unsigned long pfn,
						struct zd_dev_pagemap *pgmap)
{
	char *base = zd_pcpu_base;
	unsigned long was;
	bool done;

	if (pgmap)
		return likely(zd_pgmap_covers(pgmap, pfn, pgmap->nr_range)) ?
			pgmap : get_other(pfn, pgmap);
	if (unlikely(!base))
		return get_slow(pfn);
	was = zd_pcpu_section_enter(base);
	pgmap = zd_pgmap_lookup(pfn);
	done = !pgmap || zd__percpu_ref_add_inside(&pgmap->ref, 1, base);
	zd_pcpu_section_exit(base, was);
	/* not done: a fresh lookup, as the pgmap may be gone by then */
	return likely(done) ? pgmap : get_slow(pfn);
}

unsigned long zd_pgmap_pages_in_use(struct zd_dev_pagemap *pgmap)
{
	unsigned long n = 0;
	int idle;

	if (ZD_WARN_ON(!pgmap, "NULL pgmap"))
		return 0;
	if (!(state_of(pgmap) & PGMAP_MAPPED)) {
		zd_warn("pgmap %p is not mapped", (void *)pgmap);
		return 0;
	}
	idle = pages_hold_refs(pgmap) ? 1 : 0;
	zd_get_online_mems();
	/* a dying pgmap counts until its memmap is being removed */
	if ((state_of(pgmap) & (PGMAP_MAPPED | PGMAP_REMOVING)) != PGMAP_MAPPED) {
		zd_put_online_mems();
		return 0;
	}
	for (int i = 0; i < pgmap->nr_range; i++)
		for (unsigned long pfn = pfn_first(pgmap, i);
		     pfn < pfn_end(pgmap, i); pfn++) {
			struct zd_page *page = zd_pfn_to_page(pfn);

			if (!(atomic_load(&page->flags) & ZD_PG_TAIL) &&
			    zd_page_ref_count(page) > idle)
				n++;
		}
	zd_put_online_mems();
	return n;
}
