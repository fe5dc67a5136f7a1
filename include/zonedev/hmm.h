/* SPDX-License-Identifier: MIT */
/*
 * HMM: device-private memory that an application's pages migrate to and
 * that faults back when the CPU touches it, after mm/migrate_device.c.
 *
 * A struct zd_mm is the part of this process's address space zonedev
 * manages: private anonymous ranges registered with userfaultfd, and
 * beside the kernel's page table a software one saying, for each page,
 * whether it is in host memory or a device-private page (and which).  A
 * page that moved to a device is dropped from the kernel's page table, so
 * the next CPU touch is a real page fault: the mm's fault thread calls
 * the page's pgmap->ops->migrate_to_ram(), which migrates it back, and
 * the faulting thread goes on with the right bytes.  A fault on a page
 * never touched is zero-filled.
 *
 * System pages have no struct zd_page here: in migrate arrays they are
 * named by address (zd_migrate_virt(), ZD_MIGRATE_PFN_SYSTEM).  A driver
 * copying a page back fills a staging page (its own page-aligned memory,
 * or zd_alloc_system_page()), whose bytes zd_migrate_vma_pages() copies
 * into place; staging pages stay the driver's, to reuse or free after
 * finalize.  Consecutive staging pages for consecutive addresses are
 * placed with one system call.
 *
 * Zero copy, where the kernel can move pages (UFFDIO_MOVE, Linux 6.8):
 * a driver whose device memory is host memory registers it as staging
 * memory (zd_hmm_register_staging()).  Going to the device, it takes the
 * host pages themselves with zd_migrate_vma_move() instead of copying
 * their bytes; coming back, a staging page whose dst entry has
 * ZD_MIGRATE_PFN_DONATE goes into place itself, and its old address
 * reads zeros until written again.  Elsewhere, and wherever the kernel
 * refuses a move (memory that is not private anonymous read-write, or is
 * shared with a child: map staging memory MADV_DONTFORK), the same calls
 * copy the bytes.  zd_mm_get_stats() tells which happened.
 *
 * munmap(), MADV_DONTNEED and mremap() of managed memory by the
 * application drop (or move) the device entries of those pages; dropped
 * device pages are freed through page_free.  Once munmap() returns, the
 * range is gone from zonedev too (lookups, registration and the counts
 * wait for the fault thread to handle it), also when a migration held
 * some of its pages: that migration installs nothing there.  fork(): device-private pages
 * are migrated back, and pages a device holds exclusively
 * (zd_make_device_exclusive_range()) restored, before the fork completes,
 * so the child sees every byte; in the child the memory is ordinary memory and the zd_mm objects
 * must not be used.  A fork() waits for migrations in flight (from a
 * setup that collected pages to its finalize) and holds new ones back
 * until it is done (but the forking thread's own: a fork between its own
 * setup and finalize leaves the child without those pages).  Its
 * eviction calls migrate_to_ram(), so a driver must not hold, across a
 * zd_migrate_vma_setup() that may wait for a fork, a lock its
 * migrate_to_ram() takes.  Threads of the application may fault, migrate, map
 * and unmap concurrently.
 *
 * DEVICE_COHERENT pages (a ZD_MEMORY_DEVICE_COHERENT pgmap with a
 * ZD_BACKING_FD backing, as a device's BAR or CXL memory is a file to
 * map; Linux 5.19, which write-protects shared memory): a page migrated to one is mapped in place, shared, from that file
 * (one mapping per run of pages that follow each other in it, with the
 * application's protections), so the CPU
 * reads and writes the device's memory without a fault and
 * migrate_to_ram() is never called for it.  They come back with
 * ZD_MIGRATE_VMA_SELECT_DEVICE_COHERENT or by pfn
 * (zd_migrate_device_range()); fork(), zd_mm_unregister() and
 * zd_mm_destroy() bring them home themselves (a shared page would
 * otherwise be the child's too; but a page held by a pin stays, and the
 * child gets a copy).  munmap() frees them; MADV_DONTNEED
 * frees them and the next touch reads zeros, never the device's bytes;
 * mremap() moves them, one mapping at a time (a range whose pages are
 * several mappings cannot be moved at once: the kernel's -EFAULT).
 * Pages that came home are private anonymous memory again, merged with
 * their neighbours where the kernel can; one at the edge of a range may
 * merge with the mapping beside it instead, and zd_mm_register() of the
 * range after its zd_mm_unregister() is then refused (not one mapping).
 * Known race: an application that unmaps exactly the pages a migration is
 * mapping, at that moment, may be left a mapping there.
 */
#ifndef ZONEDEV_HMM_H
#define ZONEDEV_HMM_H

#include <zonedev/memremap.h>

ZD_EXTERN_C_BEGIN

struct zd_mm;

/* What migrate_to_ram() is called with. */
struct zd_vm_fault {
	struct zd_mm *mm;
	unsigned long address;		/* page-aligned */
	struct zd_page *page;		/* the device-private page */
	unsigned int flags;		/* ZD_FAULT_FLAG_WRITE */
};

#define ZD_FAULT_FLAG_WRITE	(1u << 0)

/* Encoding of zd_migrate_vma.src/dst entries (the kernel's, plus SYSTEM). */
#define ZD_MIGRATE_PFN_VALID	(1ul << 0)
#define ZD_MIGRATE_PFN_MIGRATE	(1ul << 1)
#define ZD_MIGRATE_PFN_WRITE	(1ul << 3)
#define ZD_MIGRATE_PFN_SYSTEM	(1ul << 4)	/* a host page, by address */
#define ZD_MIGRATE_PFN_DONATE	(1ul << 5)	/* dst: the staging page may
						 * itself go into place; src:
						 * the page was moved here */
#define ZD_MIGRATE_PFN_COMPOUND	(1ul << 6)	/* a 2 MiB folio: see below */
#define ZD_MIGRATE_PFN_SHIFT	7

enum {
	ZD_MIGRATE_VMA_SELECT_SYSTEM = 1 << 0,
	ZD_MIGRATE_VMA_SELECT_DEVICE_PRIVATE = 1 << 1,
	/* the DEVICE_COHERENT pages of pgmap_owner (the kernel's value) */
	ZD_MIGRATE_VMA_SELECT_DEVICE_COHERENT = 1 << 2,
	ZD_MIGRATE_VMA_SELECT_COMPOUND = 1 << 3,	/* 2 MiB runs whole (below) */
};

/*
 * Large folios (Linux 6.19's MIGRATE_VMA_SELECT_COMPOUND).  With
 * ZD_MIGRATE_VMA_SELECT_COMPOUND, setup collects a run of
 * ZD_HMM_FOLIO_PAGES pages at a 2 MiB-aligned address that lies wholly in
 * the migration and in one managed range as ONE entry, at the run's first
 * index, with ZD_MIGRATE_PFN_COMPOUND set; the run's other entries are 0.
 * A run qualifies when all its pages are in one state: all host pages
 * (the entry names the first by address), all never touched (MIGRATE |
 * COMPOUND only, to be zero-filled), or all the pages of one device
 * folio of order ZD_HMM_FOLIO_ORDER of @pgmap_owner, mapped in order
 * from the run's start (the entry names the head).  Other runs are
 * collected page by page, as without the flag.
 *
 * The driver answers a compound src with a compound dst at the same
 * index: a device folio of that order (zd_zone_device_folio_init(), its
 * head's pfn | ZD_MIGRATE_PFN_COMPOUND) or, for the way home, 2 MiB of
 * page-aligned staging memory (zd_migrate_virt() | COMPOUND, DONATE as
 * for a page).  Everything is then done once per folio: one
 * write-protect, one copy or move, one discard, one reference operation.
 * zd_migrate_vma_move() takes a compound entry whole (@n covers it).  A
 * driver that answers with a dst that is not compound gets the run split
 * (a device folio into order-0 pages, see folio_split in struct
 * zd_dev_pagemap_ops) into ZD_HMM_FOLIO_PAGES ordinary entries, and must
 * have filled one dst per page; with dst 0 the run does not migrate.
 *
 * A device folio mapped in an mm holds one reference per mapped page,
 * all on its head (a tail's get and put go there), and each page's entry
 * names its own page.  It is split into order-0 pages, each keeping its
 * own reference, when part of it is unmapped (munmap, MADV_DONTNEED, an
 * mremap of part of it), when the CPU faults one of its pages (so
 * migrate_to_ram() gets an order-0 page: also how
 * zd_make_device_exclusive_range() brings it home), when a migration or
 * an unplug (zd_migrate_device_range()) takes pages of it without taking
 * it whole (fork's eviction).  Mirrors are told first
 * (ZD_MMU_NOTIFY_CLEAR over the folio), then the driver's folio_split.
 * A folio someone else holds a reference on (zd_mm_lookup_get(), a
 * device access) is not split: it stays large, its pages work one by
 * one, and it is freed whole when its last page goes; a fault on it
 * waits until it can be split.  A folio moved whole by mremap stays one;
 * it is collected whole again where it lands 2 MiB-aligned.
 */
#define ZD_HMM_FOLIO_ORDER	ZD_MAX_FOLIO_ORDER
#define ZD_HMM_FOLIO_PAGES	(1ul << ZD_HMM_FOLIO_ORDER)

struct zd_migrate_vma {
	struct zd_mm *mm;		/* the kernel has the vma */
	unsigned long *dst, *src;	/* npages entries each */
	unsigned long cpages;		/* pages collected by setup */
	unsigned long npages;
	unsigned long start, end;	/* page-aligned addresses */
	void *pgmap_owner;		/* SELECT_DEVICE_PRIVATE: whose pages */
	unsigned long flags;
	struct zd_page *fault_page;	/* set by migrate_to_ram() */
};

struct zd_mm_stats {
	unsigned long faults;		/* fault messages handled */
	unsigned long zero_fills;	/* never-touched pages given the zero page */
	unsigned long device_faults;	/* migrate_to_ram() calls */
	unsigned long sigbus;		/* faults answered with SIGBUS */
	unsigned long dropped;		/* device pages freed by munmap etc. */
	unsigned long pages_moved;	/* host pages moved without a copy,
					 * to staging memory or home */
	unsigned long pages_copied;	/* host pages whose bytes were copied
					 * instead (home, or by _vma_move) */
	unsigned long ranges;		/* managed ranges now: unmapped ones
					 * are freed, and a hole splits one */
};

/**
 * zd_mm_create - start managing memory of this process
 *
 * Opens a userfaultfd (syscall, or /dev/userfaultfd) and starts the fault
 * thread.  Registers the fork hook once per process.
 * Context: may sleep.
 * Return: the mm, or NULL with errno (EPERM/ENOENT: no userfaultfd here,
 * EOPNOTSUPP: the kernel lacks write-protect or event support, ENOMEM).
 */
ZD_API struct zd_mm *zd_mm_create(void);

/**
 * zd_hmm_device_coherent_supported - whether coherent pages can be used here
 *
 * Pages migrate to DEVICE_COHERENT memory only where the kernel lets
 * userfaultfd write-protect shared memory (Linux 5.19): their mapping is
 * a shared one, write-protected while they migrate home.  The kernel is
 * asked once (a page of a memfd, registered with a userfaultfd of its
 * own); a driver of coherent memory asks before it offers any, and
 * zd_migrate_vma_pages() refuses coherent destinations, with a warning,
 * where the answer is no.
 * Context: may sleep.
 * Return: 0; -EOPNOTSUPP (a kernel before 5.19), or the error opening a
 * userfaultfd (-EPERM, -ENOENT: HMM cannot run here at all).
 */
ZD_API int zd_hmm_device_coherent_supported(void);

/**
 * zd_mm_destroy - stop managing; device pages come back first
 * @mm: the mm (NULL, or one destroyed already: a warning, nothing done)
 *
 * Every device-private page is migrated back (through migrate_to_ram),
 * the ranges are unregistered (the memory stays mapped) and the fault
 * thread stops.  Migrations other threads have between
 * zd_migrate_vma_setup() and finalize are waited for (reported every
 * 5 s); pins still held are dropped, with a warning.
 * Context: may sleep; not from the fault thread (a migrate_to_ram), an
 * invalidate() of @mm's notifiers, nor between the calling thread's own
 * setup and finalize on @mm: there it warns and does nothing.
 */
ZD_API void zd_mm_destroy(struct zd_mm *mm);

/**
 * zd_mm_map - map new private anonymous memory, managed
 * @mm: the mm
 * @len: bytes, a multiple of the page size
 *
 * The first CPU touch of a never-touched page is a fault the mm's fault
 * thread answers by mapping the zero page there and on the never-touched
 * pages after it, up to the next 2 MiB boundary; writes then take the
 * kernel's own copy-on-write fault.  Memory touched in order pays one
 * userfaultfd round trip per 2 MiB.
 * Context: may sleep.
 * Return: the address, or NULL with errno EINVAL (@len) or ENOMEM.
 */
ZD_API void *zd_mm_map(struct zd_mm *mm, size_t len);

/**
 * zd_mm_register - manage an existing private anonymous range
 * @mm: the mm
 * @addr: page-aligned start
 * @len: bytes, a multiple of the page size
 *
 * Pages already touched keep their contents.  Memory the application
 * just unmapped from a managed range can be registered again at once:
 * this waits for the unmap to be handled, and for a migration still
 * holding pages there to finish.
 * The range may span several private anonymous mappings (split by
 * mprotect(), or by DEVICE_COHERENT pages coming home), not a hole.
 * Context: may sleep.
 * Return: 0; -EINVAL (NULL @mm, unaligned, wrapping past the end of
 * the address space, not private anonymous memory throughout, or
 * overlapping a managed range), -EBUSY (registered with another userfaultfd: another
 * zd_mm's, staging memory, or other code's; the kernel's answer), each
 * with a warning; -ENOMEM, an error reading
 * /proc/self/pagemap (which says which pages were touched), or the
 * kernel's error.
 */
ZD_API int zd_mm_register(struct zd_mm *mm, void *addr, size_t len);

/**
 * zd_mm_unregister - stop managing a range; its device pages come back
 * @mm: the mm
 * @addr: the start given to zd_mm_register() or returned by zd_mm_map()
 * @len: its length
 *
 * Ends zonedev's management of a range registered with zd_mm_register()
 * or mapped with zd_mm_map(): every page of it that is on a device is
 * migrated back first, so the application keeps all its bytes, and then
 * the range is unregistered from userfaultfd.  A page under migration,
 * or held with zd_mm_lookup_get(), is waited for (a warning every 5 s
 * says so); zd_mm_destroy() and fork() wait the same way.
 *
 * What the application left of it after munmap()s (ranges are cut back
 * to what is mapped) goes as a whole.
 * Context: may sleep; not from the fault thread.
 * Return: 0, -EINVAL (no such range), -EDEADLK on the mm's fault thread
 * (with a warning).
 */
ZD_API int zd_mm_unregister(struct zd_mm *mm, void *addr, size_t len);

/**
 * zd_mm_get_stats - counters of the fault thread
 * @mm: the mm
 * @stats: filled in
 *
 * Copies the counters of @mm's fault thread into @stats: faults
 * handled, zero fills, calls to migrate_to_ram(), and how many pages moved
 * without a copy or were copied (see struct zd_mm_stats).  The counters
 * only grow; compare two snapshots to measure an interval.  A NULL
 * argument is reported with a warning (a NULL @mm gives zeros).
 * Context: any.
 */
ZD_API void zd_mm_get_stats(struct zd_mm *mm, struct zd_mm_stats *stats);

/**
 * zd_mm_device_pages - pages of @mm that are device-private now
 * @mm: the mm
 *
 * Counts the pages of @mm's managed ranges that are on a device right
 * now: device-private ones, whose next CPU touch faults them back, and
 * device-coherent ones, which the CPU reaches in place.
 * Context: any.
 * Return: the count; 0 for a NULL @mm, with a warning.
 */
ZD_API unsigned long zd_mm_device_pages(struct zd_mm *mm);

enum {
	ZD_MM_PAGE_EMPTY = 1,		/* never touched, or dropped */
	ZD_MM_PAGE_HOST,		/* in host memory */
	ZD_MM_PAGE_DEVICE,		/* a device-private page */
	ZD_MM_PAGE_BUSY,		/* under migration */
};

/**
 * zd_mm_lookup - where a managed page is now (a device's mirror view)
 * @mm: the mm
 * @addr: an address in a managed range
 * @page: set to the device page for ZD_MM_PAGE_DEVICE, else NULL
 *
 * A snapshot: the answer may change as soon as the lock is dropped.  For
 * a page the application dropped or freed (MADV_DONTNEED, MADV_FREE) it
 * asks the kernel whether the page is still there (/proc/self/pagemap).
 * Context: any; does not sleep but for that read.
 * Return: a ZD_MM_PAGE_* state, -EFAULT if @addr is not managed, or
 * -EINVAL for a NULL @mm (with a warning).
 */
ZD_API int zd_mm_lookup(struct zd_mm *mm, unsigned long addr,
			struct zd_page **page);

/**
 * zd_mm_lookup_get - zd_mm_lookup() that holds the device page
 * @mm: the mm
 * @addr: an address in a managed range
 * @page: set to the device page for ZD_MM_PAGE_DEVICE, else NULL
 *
 * For ZD_MM_PAGE_DEVICE, a reference on *@page is taken before the
 * mm's lock is dropped: until the caller's zd_put_page(), the page is
 * neither freed nor migrated (a CPU fault on it waits, retrying), so a
 * device may read or write its memory.  An unmap meanwhile drops the
 * mapping; the page goes when the caller puts it.
 * Context: as zd_mm_lookup().
 * Return: as zd_mm_lookup().
 */
ZD_API int zd_mm_lookup_get(struct zd_mm *mm, unsigned long addr,
			    struct zd_page **page);

#define ZD_FOLL_WRITE	0x01	/* write, not read (zd_access_remote_vm()),
				 * or writable (zd_pin_user_pages_remote()) */
#define ZD_FOLL_LONGTERM 0x100	/* a pin held indefinitely: no device page */

/**
 * zd_access_remote_vm - copy to or from an application's memory, safely
 * @mm: the mm (its memory is this process's)
 * @addr: where
 * @buf: the caller's buffer
 * @len: bytes
 * @gup_flags: ZD_FOLL_WRITE to write @buf there; 0 to read into @buf
 *
 * As a device reads host memory through the CPU, but as the kernel
 * copies another process's memory: pages fault in as needed (managed
 * device-private ones come home), and memory the application unmaps
 * meanwhile ends the copy instead of crashing the process.
 * Context: may sleep; not on the fault thread (its faults need it).
 * Return: the bytes copied; fewer than @len where memory was unmapped;
 * 0 for bad arguments or on the mm's fault thread (with a warning).
 */
ZD_API int zd_access_remote_vm(struct zd_mm *mm, unsigned long addr, void *buf,
			       int len, unsigned int gup_flags);

struct zd_pin;

/**
 * zd_pin_user_pages_remote - hold an application's pages where they are
 * @mm: the mm (its memory is this process's)
 * @start: the first page's address (page-aligned)
 * @nr_pages: how many pages
 * @gup_flags: ZD_FOLL_WRITE (fault the pages in writable), ZD_FOLL_LONGTERM
 * @pages: NULL, or @nr_pages slots: each pinned page's device page, or
 *	   NULL for host memory (the page at its address)
 * @pin: set to the pin, to drop with zd_unpin_user_pages(); NULL on error
 *
 * What a driver takes before a device reads or writes the memory behind
 * an application's addresses (DMA), as the kernel's GUP: each page is
 * faulted in as a CPU touch would (device-private pages come home, never
 * touched ones are zero-filled, a device's exclusive hold is revoked),
 * then held until zd_unpin_user_pages(): a host page is not migrated to
 * any device (zd_migrate_vma_setup() and
 * zd_make_device_exclusive_range() leave it), and a DEVICE_COHERENT page
 * keeps a reference, so it is neither migrated nor freed.  With
 * ZD_FOLL_LONGTERM no device page is held: coherent pages come home first
 * (the kernel's rule for long-term pins of ZONE_DEVICE memory).
 *
 * Host pages have no struct zd_page here, so a pin names addresses: if
 * the application itself unmaps or mremap()s pinned memory (which the
 * kernel would let it do too), the pin guards neither the moved bytes nor
 * what is mapped there next; after MADV_DONTNEED it keeps guarding the
 * address (the new page there does not migrate until the unpin).  A
 * ZD_FOLL_LONGTERM pin of a coherent page another pin holds fails there
 * (-EBUSY if it is the first page).  A coherent page a pin holds stays
 * the parent's at fork(), and the child gets a copy (as the kernel copies
 * pinned pages for the child); zd_mm_unregister() waits for the unpin
 * (with a report every 5 s), but on the pinning thread itself brings the
 * page home with a warning; zd_mm_destroy() drops the pins still held,
 * with a warning.
 * Context: may sleep (faults, migrate_to_ram); not on the mm's fault
 * thread, nor from an interval notifier's invalidate().  Takes the mm's
 * lock; no lock of the caller's that migrate_to_ram() takes may be held.
 * Return: the pages pinned from @start, fewer than @nr_pages where one
 * could not be faulted in (unmapped, or read-only for ZD_FOLL_WRITE); 0
 * for @nr_pages 0; -EFAULT if the first page could not be, -EINVAL for
 * a bad argument (NULL @mm or @pin, unaligned @start, unknown flags, a
 * range past the end of the address space, a forked child's mm; with a
 * warning), -EDEADLK on the fault thread or for a page the calling
 * thread's own migration holds between setup and finalize (a warning;
 * the pages before it stay pinned), -EBUSY (above), -ENOMEM.
 */
ZD_API long zd_pin_user_pages_remote(struct zd_mm *mm, unsigned long start,
				     unsigned long nr_pages,
				     unsigned int gup_flags,
				     struct zd_page **pages,
				     struct zd_pin **pin);

/**
 * zd_unpin_user_pages - drop a pin
 * @pin: from zd_pin_user_pages_remote(), or NULL (nothing to do)
 *
 * The pages may migrate again; the device pages held are put.  Unlike the
 * kernel's unpin_user_pages(), which takes the pages, this takes the pin
 * (host pages have no struct zd_page to name them by).  Once per pin:
 * the pin is freed.
 * Context: may sleep (a coherent page's last put frees it); takes the
 * mm's lock.  Also after zd_mm_destroy() of the pin's mm.
 */
ZD_API void zd_unpin_user_pages(struct zd_pin *pin);

/**
 * zd_migrate_pfn - a migrate entry for a device page
 * @pfn: its pfn
 *
 * Builds the migrate array entry that names the device page @pfn, for a
 * driver filling the dst array of a struct zd_migrate_vma.
 * Context: any.
 * Return: (@pfn << ZD_MIGRATE_PFN_SHIFT) | ZD_MIGRATE_PFN_VALID.
 */
ZD_API unsigned long zd_migrate_pfn(unsigned long pfn);

/**
 * zd_migrate_virt - a migrate entry for a host page, by address
 * @addr: page-aligned address (a staging page, or an application page)
 *
 * Builds the migrate array entry that names a host page by its address,
 * since host pages have no struct zd_page: a staging page as the dst of a
 * page coming home, or an application page.
 * Context: any.
 * Return: the entry, with ZD_MIGRATE_PFN_VALID | ZD_MIGRATE_PFN_SYSTEM;
 * 0 (no page) for NULL or an unaligned @addr, with a warning.
 */
ZD_API unsigned long zd_migrate_virt(void *addr);

/**
 * zd_migrate_pfn_to_page - the device page of a migrate entry
 * @mpfn: the entry
 *
 * Decodes a migrate array entry: the struct zd_page of the device page
 * it names.  Entries for host pages are named by address; use
 * zd_migrate_pfn_to_virt() for those.
 * Context: any.
 * Return: the page, or NULL for an invalid or system entry, and for a
 * pfn without a struct page (with a warning).
 */
ZD_API struct zd_page *zd_migrate_pfn_to_page(unsigned long mpfn);

/**
 * zd_migrate_pfn_to_virt - where the bytes of a system entry are
 * @mpfn: the entry
 *
 * Readable during the migration (the page is write-protected).
 * Context: any.
 * Return: the address, or NULL for a device or invalid entry.
 */
ZD_API void *zd_migrate_pfn_to_virt(unsigned long mpfn);

/**
 * zd_alloc_system_page - a staging page for a page coming back
 *
 * Free it with zd_free_system_page() once the migration is finalized.
 * Context: may sleep.
 * Return: a page-aligned page, or NULL with errno ENOMEM.
 */
ZD_API void *zd_alloc_system_page(void);

/**
 * zd_free_system_page - free a staging page
 * @addr: from zd_alloc_system_page(), or NULL
 *
 * Frees a staging page allocated with zd_alloc_system_page(), once the
 * migration that used it has been finalized.  Any other address, or a
 * page freed already, is reported with a warning and left alone (never
 * unmapped: by then it may be someone else's memory).
 * Context: may sleep.
 */
ZD_API void zd_free_system_page(void *addr);

/**
 * zd_migrate_vma_setup - collect the pages of a range that can move
 * @args: mm, start, end, src, dst, npages, flags, pgmap_owner, fault_page
 *
 * Selects host pages (SELECT_SYSTEM: populated ones with
 * VALID|MIGRATE|SYSTEM and their address; never-touched ones with
 * MIGRATE only, to be zero-filled), device-private pages of
 * @pgmap_owner (SELECT_DEVICE_PRIVATE) and/or its device-coherent pages
 * (SELECT_DEVICE_COHERENT: write-protected until finalize, so a CPU
 * write waits and the driver copies a stable page).  Host pages are write-protected
 * until finalize; every collected page is marked busy, so faults on it
 * wait.  Pages that cannot move (unmanaged, busy, extra references) get
 * src 0.  dst is zeroed.  With ZD_MIGRATE_VMA_SELECT_COMPOUND, 2 MiB
 * runs are collected as one entry (see "Large folios" above); cpages
 * counts pages either way.  Inside migrate_to_ram, @fault_page must name
 * the faulting page (the fault holds a reference on it, which would keep
 * it from being collected, and the kernel then faults again forever):
 * left NULL or naming another page, for a range that covers the faulting
 * page still mapped there, that page is used instead, with a warning,
 * until the migration ends (finalize, or a setup collecting nothing),
 * which gives @fault_page back.  Only this thread's fault is known: a
 * setup the driver hands to another thread must set it.
 * Context: may sleep; any thread, including migrate_to_ram.
 * Return: 0 (then call zd_migrate_vma_pages and _finalize), -EBUSY
 * (with a warning: @src is the array of a migration not finalized yet,
 * whose collection a second setup would overwrite), -EINVAL
 * (bad arguments, as a @fault_page that is not device-private, with a
 * warning; or a range not mapped at all, which an application's munmap()
 * racing the migration can cause: no misuse, so no warning, and src and
 * dst are left alone).
 */
ZD_API int zd_migrate_vma_setup(struct zd_migrate_vma *args);

/**
 * zd_migrate_vma_move - give host pages to the driver without a copy
 * @migrate: after zd_migrate_vma_setup
 * @i: first page; pages [@i, @i + @n) must be collected host pages
 *     (VALID|MIGRATE|SYSTEM in src) not taken before
 * @n: how many
 * @to: page-aligned driver memory for them, registered with
 *      zd_hmm_register_staging() (else the bytes are copied)
 *
 * The zero-copy form of copying the pages' bytes to @to: the pages
 * themselves move there where the kernel can (their src entries then
 * name their new address and carry ZD_MIGRATE_PFN_DONATE), and are
 * copied where it cannot.  The driver must then give each a device dst;
 * a taken page left without one is put back by finalize.  A page the
 * application unmapped meanwhile is neither moved nor copied: its src
 * entry loses ZD_MIGRATE_PFN_MIGRATE.  A compound entry is taken whole:
 * [@i, @i + @n) covers all of its run (at most 64 runs a call); its src
 * entry then names where the run went and stays compound.  If the
 * application unmapped part of the run meanwhile, the run is left as
 * ordinary entries and does not migrate (finalize puts back what moved).
 * Context: may sleep; no locks held.
 * Return: 0, or -EINVAL (bad arguments, a page that is not a collected
 * host page or was taken already, moved or copied; with a warning,
 * nothing taken).
 */
ZD_API int zd_migrate_vma_move(struct zd_migrate_vma *migrate, unsigned long i,
			       unsigned long n, void *to);

/**
 * zd_hmm_register_staging - let host pages move into driver memory
 * @addr: page-aligned start of private anonymous read-write memory
 * @len: page-aligned length
 *
 * Pages can then move into the range without a copy
 * (zd_migrate_vma_move()) and out of it (ZD_MIGRATE_PFN_DONATE).  The
 * memory behaves as before otherwise.  Unregister before unmapping it.
 * Context: may sleep.
 * Return: 0 (also when the kernel cannot move pages: they are copied),
 * -EINVAL (bad range, memory that is not one private anonymous mapping
 * or cannot be registered, or overlapping staging memory registered
 * already: with a warning, what was registered stays), -EBUSY (memory
 * registered with another userfaultfd, such as memory a zd_mm manages:
 * with a warning), -ENOMEM.
 */
ZD_API int zd_hmm_register_staging(void *addr, size_t len);

/**
 * zd_hmm_unregister_staging - undo zd_hmm_register_staging
 * @addr: as registered
 * @len: as registered
 *
 * Ends what zd_hmm_register_staging() started for the range: pages no
 * longer move into or out of it without a copy.  Call it before the
 * memory is unmapped.
 * Context: may sleep.
 * Return: 0, or -EINVAL (bad range, or not registered as one range:
 * with a warning).
 */
ZD_API int zd_hmm_unregister_staging(void *addr, size_t len);

/**
 * zd_migrate_vma_pages - install what the driver put in dst
 * @migrate: as filled by setup and the driver
 *
 * Device destinations become device entries (the page's count is the
 * mapping's): a device-private page is reached through migrate_to_ram(),
 * a device-coherent one is mapped at the address (its pgmap needs a
 * ZD_BACKING_FD backing, else it is refused with a warning; where the
 * mapping fails, the bytes the driver put there go into host memory
 * instead, with a warning, and the page does not move); system destinations are copied (or, with
 * ZD_MIGRATE_PFN_DONATE, moved) into place.  An entry without a valid
 * dst does not move (MIGRATE is cleared); a device dst that names no
 * device-private page is refused with a warning, as is one whose count
 * is zero (a free page the driver did not zd_zone_device_page_init()).
 * Nor does a page the application unmapped meanwhile.  Called without a
 * setup, or after the finalize (a src entry that setup did not collect),
 * it warns and does nothing.
 * Context: may sleep; any thread except the fault thread when host pages
 * go to a device (it drops them, waiting for the fault thread to handle
 * the events it has read); so not holding a lock that the driver's
 * interval notifier or page_free takes, as those run on the fault thread.
 */
ZD_API void zd_migrate_vma_pages(struct zd_migrate_vma *migrate);

/**
 * zd_migrate_vma_finalize - finish: free the old pages, wake waiters
 * @migrate: as after zd_migrate_vma_pages
 *
 * Old device pages are put (page_free runs); pages that did not move are
 * restored (host pages the driver took are put back) and their unused
 * device destinations put.  Staging pages are left to the driver.
 * Called twice, or without a setup, it warns and does nothing (finalize
 * clears zonedev's mark of a collected page from the src entries).
 * Context: may sleep.
 */
ZD_API void zd_migrate_vma_finalize(struct zd_migrate_vma *migrate);

/**
 * zd_migrate_device_range - collect device pages by pfn, wherever mapped
 * @src_pfns: npages entries, filled in
 * @start: first pfn
 * @npages: how many
 *
 * For unplug: each page mapped in some zd_mm gets VALID|MIGRATE (and
 * WRITE); free pages get 0.  Device-coherent pages are write-protected
 * until finalize (a CPU write waits).  Then the driver fills dst with
 * staging pages and calls zd_migrate_device_pages and _finalize.
 * Context: may sleep; not holding a page's lock a fault needs.
 * Return: 0, -EINVAL (NULL @src_pfns, or a pfn without a struct page or
 * whose page is neither device-private nor device-coherent: with a
 * warning, nothing written).
 */
ZD_API int zd_migrate_device_range(unsigned long *src_pfns, unsigned long start,
				   unsigned long npages);

/**
 * zd_migrate_device_pages - zd_migrate_vma_pages for device_range
 * @src_pfns: from zd_migrate_device_range
 * @dst_pfns: system staging pages (zd_migrate_virt)
 * @npages: how many
 *
 * The second step of evicting device pages by pfn, as at unplug: like
 * zd_migrate_vma_pages(), it installs the staging pages in @dst_pfns in
 * place of the device pages collected by zd_migrate_device_range(), in
 * whichever zd_mm maps them.
 * Context: may sleep.
 */
ZD_API void zd_migrate_device_pages(unsigned long *src_pfns,
				    unsigned long *dst_pfns, unsigned long npages);

/**
 * zd_migrate_device_finalize - zd_migrate_vma_finalize for device_range
 * @src_pfns: as above
 * @dst_pfns: as above
 * @npages: how many
 *
 * The last step of evicting device pages by pfn: like
 * zd_migrate_vma_finalize(), it puts the old device pages (their
 * page_free runs), restores pages that did not move and wakes faults
 * waiting on them.  Staging pages stay the driver's.
 * Context: may sleep.
 */
ZD_API void zd_migrate_device_finalize(unsigned long *src_pfns,
				       unsigned long *dst_pfns,
				       unsigned long npages);

/*
 * Mirroring: zd_hmm_range_fault() reads a range of a managed mm for a
 * device's page table, as the kernel's hmm_range_fault().  Host pages are
 * named by address (ZD_HMM_PFN_SYSTEM; a device reaches them through the
 * CPU), device-private pages by pfn.  A driver keeps its mirror coherent
 * with an interval notifier (zonedev/mmu_notifier.h): read_begin, range
 * fault, then under its lock read_retry before installing the result.
 */
struct zd_mmu_interval_notifier;

#define ZD_HMM_PFN_BITS		(8 * sizeof(unsigned long))
/* output: readable / writable / inaccessible (no vma, PROT_NONE, unmanaged) */
#define ZD_HMM_PFN_VALID	(1ul << (ZD_HMM_PFN_BITS - 1))
#define ZD_HMM_PFN_WRITE	(1ul << (ZD_HMM_PFN_BITS - 2))
#define ZD_HMM_PFN_ERROR	(1ul << (ZD_HMM_PFN_BITS - 3))
#define ZD_HMM_PFN_ORDER_SHIFT	(ZD_HMM_PFN_BITS - 8)
/* zonedev's: the entry is a host page's address >> page shift */
#define ZD_HMM_PFN_SYSTEM	(1ul << (ZD_HMM_PFN_BITS - 9))
/* input: the page must be valid / writable, faulting it in if needed */
#define ZD_HMM_PFN_REQ_FAULT	ZD_HMM_PFN_VALID
#define ZD_HMM_PFN_REQ_WRITE	ZD_HMM_PFN_WRITE
/* every flag bit; the rest is the pfn or page number */
#define ZD_HMM_PFN_FLAGS	(0x1fful << (ZD_HMM_PFN_BITS - 9))
/* how long a driver's retry loop gives up after, in ms (the kernel's) */
#define ZD_HMM_RANGE_DEFAULT_TIMEOUT	1000

struct zd_hmm_range {
	struct zd_mmu_interval_notifier *notifier;	/* gives the mm */
	unsigned long notifier_seq;	/* zd_mmu_interval_read_begin() */
	unsigned long start, end;	/* page-aligned, [start, end) */
	unsigned long *hmm_pfns;	/* a request in, an entry out, per page */
	unsigned long default_flags;	/* requested for every page */
	unsigned long pfn_flags_mask;	/* which bits of hmm_pfns[] count */
	void *dev_private_owner;	/* whose device pages to report as is */
};

/**
 * zd_hmm_range_fault - read a range of managed memory for a mirror
 * @range: notifier, notifier_seq, start, end, hmm_pfns, default_flags,
 *         pfn_flags_mask, dev_private_owner
 *
 * For each page, the request is (hmm_pfns[i] & pfn_flags_mask) |
 * default_flags.  A page is reported as the CPU would see it, without a
 * fault where none is requested: ZD_HMM_PFN_VALID (plus ZD_HMM_PFN_WRITE
 * if present in writable memory) with ZD_HMM_PFN_SYSTEM and its address
 * for a present host page; 0 for a page not present (never touched,
 * dropped, swapped) or under migration; the device page's pfn with VALID
 * (and WRITE if mapped writable) for a device-private page of
 * @dev_private_owner, never faulted; 0 for another device's private
 * page; for any device-coherent page (mapped: the CPU reads it in
 * place) its pfn with VALID, and WRITE if the CPU may write it;
 * ZD_HMM_PFN_ERROR for memory the CPU cannot read (unmapped, PROT_NONE)
 * or that zonedev does not manage, whose changes it cannot follow.
 * Where ZD_HMM_PFN_REQ_FAULT is requested and the page is not valid, or
 * ZD_HMM_PFN_REQ_WRITE and it is not writable, it is faulted in as a CPU
 * access would: a host page is populated (zero-filled, copied on write,
 * swapped in; a never-touched one maps the zero page ahead of it, as a
 * CPU touch does), another device's page migrated home through its
 * migrate_to_ram(), a page under migration waited for.  Protections are
 * the application's current ones (mprotect()), read from
 * /proc/self/maps.  Unlike the kernel's, WRITE does not tell a shared or
 * zero page from a private one: through its address, a device's write
 * takes the CPU's copy-on-write fault.  On an error the entries before
 * the failing page hold their result, the others their request.
 * Context: may sleep; takes the mm's lock, not a driver's lock that its
 * invalidate() takes; not on the mm's fault thread (a migrate_to_ram()).
 * Return: 0; -EBUSY if an invalidation collided with @range->notifier_seq
 * (read_begin again and retry; a fault that migrated a page causes one);
 * -EFAULT if a page that had to be valid is unmapped, PROT_NONE, not
 * managed, or failed to come in; -EPERM if one that had to be writable is
 * in read-only memory; -EINVAL for bad arguments, a range outside the
 * notifier's interval among them (with a warning);
 * -ENOMEM.
 */
ZD_API int zd_hmm_range_fault(struct zd_hmm_range *range);

/**
 * zd_hmm_pfn_to_page - the device page of a range entry
 * @hmm_pfn: an entry with ZD_HMM_PFN_VALID
 *
 * Decodes an entry zd_hmm_range_fault() filled in: the struct zd_page of
 * the device-private page it names.
 * Context: any; use the page only while read_retry says the entry holds.
 * Return: the device-private page, or NULL for a host page or invalid entry.
 */
ZD_API struct zd_page *zd_hmm_pfn_to_page(unsigned long hmm_pfn);

/**
 * zd_hmm_pfn_to_virt - the address of a host page's range entry
 * @hmm_pfn: an entry with ZD_HMM_PFN_VALID | ZD_HMM_PFN_SYSTEM
 *
 * Decodes an entry zd_hmm_range_fault() filled in for a host page: the
 * address through which a device reaches it.
 * Context: any.
 * Return: the page's address, or NULL for a device page or invalid entry.
 */
ZD_API void *zd_hmm_pfn_to_virt(unsigned long hmm_pfn);

/**
 * zd_hmm_pfn_to_map_order - the CPU mapping size of an entry, as an order
 * @hmm_pfn: an entry with ZD_HMM_PFN_VALID
 *
 * How many pages, as a power of two, the CPU maps with the entry's
 * mapping, so that a device can map as much at once.
 * Context: any.
 * Return: 0: zonedev reports each page on its own.
 */
ZD_API unsigned int zd_hmm_pfn_to_map_order(unsigned long hmm_pfn);

/*
 * Exclusive access: a device that cannot reach host memory atomically
 * through the CPU's page table takes pages for itself, as with the
 * kernel's make_device_exclusive_range().  While a page is exclusive its
 * bytes live in a page the library keeps, whose address the device uses;
 * the application's mapping of it is dropped, so any CPU access (read or
 * write, or a zd_hmm_range_fault() that faults) takes it back: the
 * interval notifiers are told (ZD_MMU_NOTIFY_EXCLUSIVE, owner NULL), the
 * bytes, with whatever the device wrote, go back into place, and only
 * then does the CPU go on.
 */

/**
 * zd_make_device_exclusive_range - give a device exclusive access to pages
 * @mm: the mm
 * @start: page-aligned start
 * @end: page-aligned end, above @start
 * @pages: (@end - @start) / page size entries, filled in
 * @owner: passed to the notifiers with ZD_MMU_NOTIFY_EXCLUSIVE, so that
 *         the calling driver can tell its own request from others
 *
 * Each page is first faulted in for writing, as a CPU write would
 * (never-touched pages are filled, device-private pages migrate home
 * through their migrate_to_ram(), as the kernel's get_user_pages()
 * does).  The notifiers of the range are then called with
 * ZD_MMU_NOTIFY_EXCLUSIVE and @owner, and each page that is a managed
 * host page not under migration is taken from the CPU: pages[i] is the
 * address where its bytes now are, for the device to read and write.
 * Elsewhere (unmanaged memory, a page under migration, one the
 * application unmapped meanwhile) pages[i] is NULL.
 *
 * Each page returned is held, as the kernel's come back locked and
 * referenced: until zd_put_device_exclusive_page(), a CPU access to it
 * waits (the fault thread goes on with other work), so that the driver
 * can install it in its mirror first, under its notifier's read_retry.
 * But the thread holding it would wait for itself (the kernel's hangs):
 * its own CPU access, fork(), zd_mm_unregister(), zd_mm_destroy() or a
 * new make of the page bring the page home at once, with a warning, and
 * the device's writes to the held page after that are lost; its put is
 * still due, and quiet.
 * After the put the device keeps using it until a CPU access revokes it
 * through the notifier.  Before fork() (the child sees every byte, and
 * copy-on-write goes on as usual), zd_mm_unregister() and zd_mm_destroy()
 * exclusive pages come back as on a CPU access, waiting for any put.
 * munmap() or MADV_DONTNEED of an exclusive page frees it (after the put
 * if it is held).  mprotect() does not revoke it; the access that
 * follows is judged by the new protections.
 * Context: may sleep; not on the mm's fault thread (a migrate_to_ram()),
 * and not holding a page from an earlier call in the range (its fault
 * would wait for this thread's own put).
 * Return: the number of pages looked at from @start (all of them unless
 * a page could not be faulted in: unmapped or read-only memory stops the
 * walk, as it does the kernel's), with pages[i] NULL where a page is not
 * exclusive; -EFAULT if the first page could not be faulted in; -EINVAL
 * for bad arguments (NULL @mm or @pages, an unaligned or empty range, a
 * forked child's mm), with a warning; -EDEADLK on the mm's fault thread,
 * with a warning.
 */
ZD_API int zd_make_device_exclusive_range(struct zd_mm *mm, unsigned long start,
					  unsigned long end, void **pages,
					  void *owner);

/**
 * zd_put_device_exclusive_page - the driver is done programming a page
 * @page: an address zd_make_device_exclusive_range() returned in pages[]
 *
 * The kernel's caller unlocks and puts each page; this is both.  A CPU
 * access waiting for the page goes on (and takes it back); the device's
 * access lasts until one comes.  A page unmapped meanwhile is freed now.
 * Context: any; does not sleep.
 * Any other address, or a page put already, is reported with a warning
 * and left alone.
 */
ZD_API void zd_put_device_exclusive_page(void *page);

ZD_EXTERN_C_END

#endif /* ZONEDEV_HMM_H */
