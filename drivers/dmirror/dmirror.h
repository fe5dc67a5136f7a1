/* SPDX-License-Identifier: MIT */
/*
 * dmirror: the kernel's HMM test device (lib/test_hmm.c) as a zonedev
 * driver.  Its memory is device-private: chunks of pages made with
 * zd_devm_memremap_pages() on demand, a free list of pages, and the bytes
 * in a buffer that no application maps.  Commands act on a range of an
 * application's managed memory and report the pages copied or moved and
 * the faults taken.  Unbinding it first migrates every page still in use
 * back to host memory (zd_migrate_device_range), so nothing is lost.
 */
#ifndef ZONEDEV_DRIVERS_DMIRROR_H
#define ZONEDEV_DRIVERS_DMIRROR_H

#include <zonedev/zonedev.h>

struct dmirror;

struct dmirror_cmd {
	struct zd_mm *mm;
	unsigned long addr;		/* page-aligned */
	unsigned long npages;
	void *ptr;			/* read/write: the bounce buffer */
	unsigned long cpages;		/* out: pages copied or moved */
	unsigned long faults;		/* out: pages faulted in first */
};

struct dmirror_stats {
	unsigned long chunks, pages_in_use, page_free_calls, migrate_to_ram_calls;
};

/* Create "dmirror<id>" and bind the driver; NULL with errno on failure. */
struct dmirror *dmirror_create(int id, unsigned long chunk_bytes);
/* Unbind (pages come home) and free; the device must not be used after. */
void dmirror_destroy(struct dmirror *dm);
/* Unbind only (unplug): commands in flight end first, later ones get
 * -ENODEV; pages come home, chunks go.  -EINVAL for a NULL @dm. */
int dmirror_unbind(struct dmirror *dm);
/* Bind again after dmirror_unbind(): commands work again.  -EINVAL for
 * a NULL @dm. */
int dmirror_rebind(struct dmirror *dm);
/* Its device; NULL for a NULL @dm. */
struct zd_device *dmirror_device(struct dmirror *dm);

/* Pages migrate_to_ram brings back per fault (a power of two, 1..512);
 * -EINVAL for another count or a NULL @dm. */
int dmirror_set_prefetch(struct dmirror *dm, unsigned long pages);
/* Make migrate_to_ram fail (to test SIGBUS); a NULL @dm does nothing. */
void dmirror_set_fail_faults(struct dmirror *dm, bool fail);
/* The counters; zeros for a NULL @dm, nothing for a NULL @s. */
void dmirror_get_stats(struct dmirror *dm, struct dmirror_stats *s);

/* The device's view of the range: device pages from its memory, host
 * pages through the CPU (never-touched ones are faulted in: faults).
 * -EFAULT where the range is not managed or the application unmaps it
 * meanwhile.  Every command returns -ENODEV while unbound. */
int dmirror_read(struct dmirror *dm, struct dmirror_cmd *cmd);
int dmirror_write(struct dmirror *dm, struct dmirror_cmd *cmd);
/* Move the range's pages to the device; -ENOENT if any page is not on
 * it afterwards (shared or unmanaged memory, busy pages). */
int dmirror_migrate_to_device(struct dmirror *dm, struct dmirror_cmd *cmd);
/* Move the range's pages on this device back to host memory. */
int dmirror_migrate_to_system(struct dmirror *dm, struct dmirror_cmd *cmd);
/* Run @fn on the device memory of each page of the range that is on this
 * device ("device compute"); cpages counts them. */
int dmirror_transform(struct dmirror *dm, struct dmirror_cmd *cmd,
		      void (*fn)(void *page, size_t len, void *arg), void *arg);

#endif /* ZONEDEV_DRIVERS_DMIRROR_H */
