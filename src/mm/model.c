// SPDX-License-Identifier: MIT
/*
 * The memory model.  Three reservations, made once: the vmemmap (64 bytes
 * per frame of the physical space), the direct map (one byte per byte),
 * and a bitmap of subsections whose memmap is mapped.  Adding a range maps
 * its part of the first two; removing it puts the reservation back, so
 * stale pointers fault.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "../os/os.h"
#include "fault.h"
#include "log.h"
#include "model.h"

#define MAX_BITS	46
#define MIN_BITS	32

_Static_assert(sizeof(struct zd_page) == 64, "struct zd_page is 64 bytes");

/*
 * Until the reservations are made, the bases point into the kernel's half
 * of the address space: pfn and phys arithmetic is defined (not on NULL)
 * and a dereference of its result faults, as it does for any pfn without
 * a memmap once they are.
 */
#define UNSET_VMEMMAP		0xffffc00000000000ul
#define UNSET_DIRECT_MAP	0xffff800000000000ul

struct zd_page *zd_vmemmap = (struct zd_page *)UNSET_VMEMMAP;
char *zd_direct_map = (char *)UNSET_DIRECT_MAP;
unsigned int zd_page_shift;
struct zd_mm_model zd_mm;

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int init_err;

unsigned long zd_page_size(void)
{
	return zd_os_page_size();
}

/* Try @bits; on success the three reservations are in place. */
static bool reserve(unsigned int bits)
{
	unsigned long nr_pfns = 1ul << (bits - zd_page_shift);
	size_t vmemmap = nr_pfns * sizeof(struct zd_page);
	size_t bitmap = ((1ul << (bits - ZD_SUBSECTION_SHIFT)) + 7) / 8;
	void *v, *d, *b;

	v = zd_os_reserve_none(vmemmap);
	d = v ? zd_os_reserve_none(1ul << bits) : NULL;
	b = d ? zd_os_reserve_rw(bitmap) : NULL;
	if (!b) {
		if (d)
			zd_os_unmap(d, 1ul << bits);
		if (v)
			zd_os_unmap(v, vmemmap);
		return false;
	}
	zd_vmemmap = v;
	zd_direct_map = d;
	zd_mm.present = b;
	zd_mm.phys_bits = bits;
	zd_mm.nr_pfns = nr_pfns;
	return true;
}

/* The page geometry is known before main(): pfn arithmetic in callers
 * must not depend on whether a memremap has happened yet. */
__attribute__((constructor)) static void page_geometry(void)
{
	zd_mm.page_size = zd_os_page_size();
	zd_page_shift = (unsigned int)__builtin_ctzl(zd_mm.page_size);
	zd_mm.pfns_per_subsection = ZD_SUBSECTION_SIZE >> zd_page_shift;
	zd_mm.pfns_per_section = ZD_SECTION_SIZE >> zd_page_shift;
}

static void init(void)
{
	const char *env = getenv("ZONEDEV_PHYS_BITS");
	unsigned int bits = MAX_BITS;

	if (env) {
		bits = (unsigned int)atoi(env);
		if (bits < MIN_BITS || bits > MAX_BITS) {
			zd_warn("ZONEDEV_PHYS_BITS=%s: want %d..%d; using %d",
				env, MIN_BITS, MAX_BITS, MAX_BITS);
			bits = MAX_BITS;
		}
	}
	if (zd_fault("mm.reserve")) {
		init_err = -ENOMEM;
		return;
	}
	for (unsigned int b = bits; b >= MIN_BITS; b--) {
		if (!reserve(b))
			continue;
		if (b != bits)
			zd_info("physical space limited to %u bits: the address "
				"space has no room for %u", b, bits);
		atomic_store_explicit(&zd_mm.ready, true, memory_order_release);
		return;
	}
	zd_warn("cannot reserve address space for even a %d-bit physical "
		"space", MIN_BITS);
	init_err = -ENOMEM;
}

int zd_mm_init(void)
{
	pthread_once(&init_once, init);
	return init_err;
}

unsigned int zd_max_physmem_bits(void)
{
	return zd_mm_init() ? 0 : zd_mm.phys_bits;
}

uint64_t zd_memmap_bytes(unsigned long nr)
{
	uint64_t bytes = (uint64_t)nr * sizeof(struct zd_page);

	return (bytes + zd_mm.page_size - 1) & ~(uint64_t)(zd_mm.page_size - 1);
}

static void mark_present(unsigned long pfn, unsigned long nr, bool on)
{
	unsigned long first = pfn / zd_mm.pfns_per_subsection;
	unsigned long last = (pfn + nr - 1) / zd_mm.pfns_per_subsection;
	const unsigned long bits = 8 * sizeof(unsigned long);

	for (unsigned long s = first; s <= last; s++) {
		unsigned long mask = 1ul << (s % bits);

		if (on)
			atomic_fetch_or(&zd_mm.present[s / bits], mask);
		else
			atomic_fetch_and(&zd_mm.present[s / bits], ~mask);
	}
}

bool zd_pfn_valid(unsigned long pfn)
{
	const unsigned long bits = 8 * sizeof(unsigned long);
	unsigned long s;

	if (!atomic_load_explicit(&zd_mm.ready, memory_order_acquire) ||
	    pfn >= zd_mm.nr_pfns)
		return false;
	s = pfn / zd_mm.pfns_per_subsection;
	return atomic_load_explicit(&zd_mm.present[s / bits],
				    memory_order_acquire) & (1ul << (s % bits));
}

int zd_memmap_add(unsigned long pfn, unsigned long nr, int fd, uint64_t off)
{
	void *at = zd_pfn_to_page(pfn);
	uint64_t len = zd_memmap_bytes(nr);
	int err;

	if (zd_fault("mm.memmap"))
		return -ENOMEM;
	err = fd >= 0 ? zd_os_map_fd_at(at, len, fd, off) :
		zd_os_map_anon_at(at, len);
	if (err)
		zd_warn("cannot map the memmap of pfn %#lx+%#lx: %d", pfn, nr,
			err);
	else
		mark_present(pfn, nr, true);
	return err;
}

/* ---- mappings for teardown ------------------------------------------ */

/*
 * Giving a range back to its reservation can split a mapping, and a split
 * needs a mapping of its own: at vm.max_map_count it fails.  Removal must
 * not, so setup keeps SPARE mappings held, and a removal that meets the
 * limit frees them first.  Setup refuses with -ENOMEM while they cannot
 * be had.  Caller holds the hotplug write side.
 */
#define SPARE	8		/* 15 mappings: a range takes four at most */

static void *spare;

int zd_mm_headroom(void)
{
	if (spare)
		return 0;
	spare = zd_os_vmas_hold(SPARE);
	if (spare)
		return 0;
	zd_warn("the process is at vm.max_map_count: no room left for the "
		"%d mappings a teardown may need; memremap refused", SPARE);
	return -ENOMEM;
}

/* [addr, addr + len) back to the reservation, whatever the map count:
 * failing that even with the spare mappings freed, its pages are dropped
 * and it stays mapped but unused (its memmap bits are clear). */
static void give_back(void *addr, size_t len, const char *what)
{
	int err = zd_os_unmap_to_reserve(addr, len);

	if (err == -ENOMEM && spare) {
		zd_os_vmas_free(spare, SPARE);
		spare = NULL;
		err = zd_os_unmap_to_reserve(addr, len);
	}
	if (!err)
		return;
	zd_os_discard(addr, len);
	zd_info("%s at %p+%#zx stays mapped, its pages dropped: the process "
		"is at vm.max_map_count (error %d)", what, addr, len, err);
}

void zd_memmap_remove(unsigned long pfn, unsigned long nr)
{
	mark_present(pfn, nr, false);
	give_back(zd_pfn_to_page(pfn), zd_memmap_bytes(nr), "memmap");
}

int zd_direct_map_add(zd_phys_addr_t phys, uint64_t len,
		      const struct zd_pagemap_backing *backing, uint64_t off)
{
	void *at = zd_phys_to_virt(phys);
	int err;

	if (zd_fault("mm.direct_map"))
		return -ENOMEM;
	err = backing->kind == ZD_BACKING_FD ?
		zd_os_map_fd_at(at, len, backing->fd, off) :
		zd_os_map_anon_at(at, len);
	if (err)
		zd_warn("cannot map [mem %#llx-%#llx] from its backing: %d",
			(unsigned long long)phys,
			(unsigned long long)(phys + len - 1), err);
	return err;
}

void zd_direct_map_remove(zd_phys_addr_t phys, uint64_t len)
{
	give_back(zd_phys_to_virt(phys), len, "direct map");
}
