/* SPDX-License-Identifier: MIT */
/*
 * dmirror: the kernel's HMM test device (lib/test_hmm.c) as a zonedev
 * driver.  Its memory is device-private (or, made with
 * dmirror_create_coherent(), device-coherent): chunks of pages made with
 * zd_devm_memremap_pages() on demand, a free list of pages, and the bytes
 * in a buffer that no application maps.  Commands act on a range of an
 * application's managed memory and report the pages copied or moved and
 * the faults taken.  Unbinding it first migrates every page still in use
 * back to host memory (zd_migrate_device_range), so nothing is lost.
 *
 * The device sees an mm through a mirror, as the kernel's does: a page
 * table of the pages it may use (host pages by address, its own device
 * pages), filled through zd_hmm_range_fault() and emptied by an interval
 * notifier before the application or another device changes the pages
 * (zonedev/mmu_notifier.h).  The mirror of an mm is made on the first
 * command on it, and goes at unbind or when the mm is destroyed.
 */
#ifndef ZONEDEV_DRIVERS_DMIRROR_H
#define ZONEDEV_DRIVERS_DMIRROR_H

#include <stdint.h>
#include <zonedev/zonedev.h>

struct dmirror;

struct dmirror_cmd {
	struct zd_mm *mm;
	unsigned long addr;		/* page-aligned */
	unsigned long npages;
	void *ptr;			/* read/write: the bounce buffer */
	unsigned long cpages;		/* out: pages copied, moved or reported */
	unsigned long faults;		/* out: read/write: times the mirror
					 * lacked pages and was filled through
					 * zd_hmm_range_fault() (the kernel's
					 * count) */
};

struct dmirror_stats {
	unsigned long chunks, pages_in_use, page_free_calls, migrate_to_ram_calls;
	/* notifier calls that emptied part of a mirror (not the device's
	 * own migrations), and the entries all its mirrors hold now */
	unsigned long invalidations, mirror_entries;
	/* folio_split calls: pages of its folios that became folios of
	 * their own (a partial unmap or a CPU fault split it) */
	unsigned long folio_splits;
};

/*
 * Page states dmirror_snapshot() reports, one byte each, with the values
 * of the kernel's HMM_DMIRROR_PROT_* (lib/test_hmm_uapi.h) so that its
 * tests compare as they are.  NONE: nothing there the device could use
 * without a fault (never touched, dropped, under migration, or on
 * another device); otherwise READ or WRITE is added to what the page is:
 * a host page (nothing more), or LOCAL, a page in this device's memory.
 * ERROR: memory the CPU cannot read or zonedev does not manage.
 * ZERO is never reported: zonedev does not tell the shared zero page from
 * a private host page (one the CPU only read shows as READ).  Nor are
 * PMD/PUD (every page is mapped on its own here) or PRIVATE_REMOTE (a
 * page on another device is reported NONE, as the kernel's range fault
 * does).  A device-coherent page is COHERENT_LOCAL (this device's) or
 * COHERENT_REMOTE, with READ or WRITE.
 */
enum {
	DMIRROR_PROT_ERROR = 0xff,
	DMIRROR_PROT_NONE = 0x00,
	DMIRROR_PROT_READ = 0x01,
	DMIRROR_PROT_WRITE = 0x02,
	DMIRROR_PROT_PMD = 0x04,
	DMIRROR_PROT_PUD = 0x08,
	DMIRROR_PROT_ZERO = 0x10,
	DMIRROR_PROT_DEV_PRIVATE_LOCAL = 0x20,
	DMIRROR_PROT_DEV_PRIVATE_REMOTE = 0x30,
	DMIRROR_PROT_DEV_COHERENT_LOCAL = 0x40,
	DMIRROR_PROT_DEV_COHERENT_REMOTE = 0x50,
};

/* Create "dmirror<id>" and bind the driver; NULL with errno on failure. */
struct dmirror *dmirror_create(int id, unsigned long chunk_bytes);
/* The same with DEVICE_COHERENT memory, as test_hmm's third and fourth
 * devices: chunks of a memfd that the CPU maps where pages migrated to
 * it, reading and writing them in place without a fault;
 * dmirror_migrate_to_system() brings them back
 * (ZD_MIGRATE_VMA_SELECT_DEVICE_COHERENT), as do unbind, release, fork,
 * and the mm's unregister and destroy.  NULL with errno EOPNOTSUPP where
 * zd_hmm_device_coherent_supported() says no. */
struct dmirror *dmirror_create_coherent(int id, unsigned long chunk_bytes);
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
/* The device page size, as an order: 0 (pages, the default) or
 * ZD_HMM_FOLIO_ORDER (2 MiB folios, Linux 6.19's large device-private
 * folios; not for a coherent dmirror).  With 9, migrations to the
 * device take 2 MiB-aligned runs whole (ZD_MIGRATE_VMA_SELECT_COMPOUND)
 * into one folio from 2 MiB-aligned device memory, falling back to
 * pages when none is free;
 * migrations home take this device's folios whole; zonedev splits a
 * folio that is partly unmapped or faulted.  Chunks added after the
 * call are cut at the new order.  -EINVAL for another order or a NULL
 * @dm. */
int dmirror_set_folio_order(struct dmirror *dm, unsigned int order);
/* Make migrate_to_ram fail (to test SIGBUS); a NULL @dm does nothing. */
void dmirror_set_fail_faults(struct dmirror *dm, bool fail);
/* The counters; zeros for a NULL @dm, nothing for a NULL @s. */
void dmirror_get_stats(struct dmirror *dm, struct dmirror_stats *s);

/* The device's view of the range, through its mirror: device pages from
 * its memory, host pages through the CPU; pages the mirror lacks are
 * faulted in with zd_hmm_range_fault() first (faults).  -EFAULT where
 * the range is not managed, not readable (PROT_NONE) or the application
 * unmaps it meanwhile (never a crash); -EPERM for a write to read-only
 * memory; -EBUSY if changes kept colliding for a second; -EINVAL for bad
 * arguments.  Every command returns -ENODEV while unbound. */
int dmirror_read(struct dmirror *dm, struct dmirror_cmd *cmd);
int dmirror_write(struct dmirror *dm, struct dmirror_cmd *cmd);
/* Move the range's pages to the device; -ENOENT if any page is not on
 * it afterwards (shared or unmanaged memory, busy pages). */
int dmirror_migrate_to_device(struct dmirror *dm, struct dmirror_cmd *cmd);
/* Move the range's pages on this device back to host memory. */
int dmirror_migrate_to_system(struct dmirror *dm, struct dmirror_cmd *cmd);
/* Run @fn on the device memory of each page of the range that is on this
 * device ("device compute"); cpages counts them.  Nothing is faulted in. */
int dmirror_transform(struct dmirror *dm, struct dmirror_cmd *cmd,
		      void (*fn)(void *page, size_t len, void *arg), void *arg);
/* The kernel's HMM_DMIRROR_SNAPSHOT: the state of each page of the range
 * into @perm[0 .. npages) (DMIRROR_PROT_*), without faulting anything;
 * cpages counts them.  -EINVAL for a NULL @perm or bad arguments. */
int dmirror_snapshot(struct dmirror *dm, struct dmirror_cmd *cmd, uint8_t *perm);
/* The kernel's HMM_DMIRROR_RELEASE: every page in this device's memory
 * comes home, as at unbind, but the device stays bound and commands go
 * on working.  -EBUSY if commands running meanwhile kept moving pages to
 * it for a second; -EINVAL for a NULL @dm; -ENODEV while unbound. */
int dmirror_release(struct dmirror *dm);

#endif /* ZONEDEV_DRIVERS_DMIRROR_H */
