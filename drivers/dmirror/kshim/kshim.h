/* SPDX-License-Identifier: MIT */
/*
 * kshim: the kernel's HMM test device nodes (/dev/hmm_dmirror0..3, as
 * lib/test_hmm.c makes them) in a process, for running the kernel's own
 * selftest (hmm-tests) unmodified against zonedev's dmirror.  Loaded with
 * LD_PRELOAD, it answers open() of those paths with a real file
 * descriptor (a memfd: close, dup, fork and mmap work on it) and turns
 * ioctl() on it into dmirror commands with the kernel's ABI, cpages and
 * faults counts and error codes.
 *
 * The kernel's ABI (an ioctl argument of five 64-bit words, command
 * numbers 'H' 0..7) is restated here in our own words; no kernel header
 * is included.
 */
#ifndef ZONEDEV_KSHIM_H
#define ZONEDEV_KSHIM_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/ioctl.h>

#include <zonedev/zonedev.h>
#include "dmirror.h"

/* The ioctl argument: the device's view of [addr, addr + npages pages),
 * copied to or from the buffer at ptr; cpages and faults are outputs. */
struct kshim_cmd {
	uint64_t addr, ptr, npages, cpages, faults;
};

#define KSHIM_IOC(nr)	_IOWR('H', (nr), struct kshim_cmd)

/* SNAPSHOT's per-page byte, the kernel's values. */
enum {
	KSHIM_PROT_ERROR = 0xff,
	KSHIM_PROT_NONE = 0x00,
	KSHIM_PROT_READ = 0x01,
	KSHIM_PROT_WRITE = 0x02,
	KSHIM_PROT_PMD = 0x04,
	KSHIM_PROT_PUD = 0x08,
	KSHIM_PROT_ZERO = 0x10,
	KSHIM_PROT_DEV_PRIVATE_LOCAL = 0x20,
	KSHIM_PROT_DEV_PRIVATE_REMOTE = 0x30,
	KSHIM_PROT_DEV_COHERENT_LOCAL = 0x40,
	KSHIM_PROT_DEV_COHERENT_REMOTE = 0x50,
};

#define KSHIM_UNITS	4	/* 0, 1: device-private; 2, 3: coherent */

/* One open of a device node. */
struct kshim_mirror {
	int unit;
	struct dmirror *dm;	/* the unit's device in this process */
	struct zd_mm *mm;	/* this process's */
	struct kshim_excl *excl;	/* its atomic entries (exclusive.c) */
};

/* ---- memory.c: what the CPU sees, and bringing memory under zonedev ---- */

/* A stretch of [start, end) with one kind of memory. */
struct kshim_seg {
	uintptr_t start, end;
	bool mapped, readable, writable, shared;
	bool anon;		/* private anonymous (heap included) */
	bool managed;		/* anon, and zonedev manages it */
	unsigned int map_shift;	/* the CPU's page size there (hugetlbfs) */
};

/* Fill at most @max segments covering [start, end), in address order;
 * with @manage, private anonymous readable memory not yet managed is
 * registered first.  Return the count, or -errno. */
int kshim_segments(struct zd_mm *mm, uintptr_t start, uintptr_t end,
		   bool manage, struct kshim_seg **segs);
/* Make a private file mapping whose every page is a private copy into
 * anonymous memory with the same bytes (see memory.c); 0 or -errno. */
int kshim_file_private_to_anon(uintptr_t start, uintptr_t end);
/* The CPU copies for memory zonedev does not manage: 0 or -EFAULT. */
int kshim_cpu_copy(uintptr_t addr, void *buf, size_t len, bool write);
/* Per-page pagemap words for [start, end); 0 or -errno. */
int kshim_pagemap(uintptr_t start, unsigned long n, uint64_t *out);
/* Whether the page of pagemap word @pm is the zero page (memory.c). */
bool kshim_is_zero_page(uint64_t pm, bool private_anon);

#define KSHIM_PM_PFN		((1ull << 55) - 1)
#define KSHIM_PM_EXCLUSIVE	(1ull << 56)
#define KSHIM_PM_FILE		(1ull << 61)
#define KSHIM_PM_SWAP		(1ull << 62)
#define KSHIM_PM_PRESENT	(1ull << 63)

/* ---- cmds.c: the ioctl table ---- */

/* Run ioctl @request on @m; 0 or -errno, as the kernel's driver. */
int kshim_ioctl(struct kshim_mirror *m, unsigned long request,
		struct kshim_cmd *cmd);

/* ---- gup.c: /sys/kernel/debug/gup_test ---- */

/* The gup_test ioctl argument: pin or get [addr, addr + size)
 * nr_pages_per_call pages per call with gup_flags (the kernel's FOLL_*);
 * out: the microseconds the gets and the puts took, and the size done. */
struct kshim_gup {
	uint64_t get_delta_usec, put_delta_usec, addr, size;
	uint32_t nr_pages_per_call, gup_flags, test_flags;
	uint32_t which_pages[8];
};

#define KSHIM_GUP_PATH	"/sys/kernel/debug/gup_test"
#define KSHIM_UNIT_GUP	KSHIM_UNITS	/* the unit of the gup_test node */

/* Run gup_test ioctl @request; 0 or -errno, as the kernel's. */
int kshim_gup_ioctl(struct zd_mm *mm, unsigned long request, struct kshim_gup *g);

/* ---- exclusive.c: EXCLUSIVE and CHECK_EXCLUSIVE ---- */

int kshim_cmd_exclusive(struct kshim_mirror *m, struct kshim_cmd *cmd);
int kshim_cmd_check_exclusive(struct kshim_mirror *m, struct kshim_cmd *cmd);
/* At close: the notifier and the entries go. */
void kshim_excl_free(struct kshim_mirror *m);

/* Print why something is not supported, once per reason. */
void kshim_note(const char *what);

#endif /* ZONEDEV_KSHIM_H */
