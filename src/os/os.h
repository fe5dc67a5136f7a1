/* SPDX-License-Identifier: MIT */
/*
 * The OS layer: every system call zonedev makes goes through here, so the
 * rest of the library reads as kernel-style code and a port (or a fault
 * injection) has one place to hook.  Calls return 0 or -errno.
 */
#ifndef ZD_OS_H
#define ZD_OS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Address space reserved read-write but not committed (MAP_NORESERVE). */
void *zd_os_reserve_rw(size_t size);
int zd_os_unmap(void *addr, size_t size);

/* Address space reserved inaccessible (PROT_NONE, MAP_NORESERVE). */
void *zd_os_reserve_none(size_t size);
/* Inside a reservation: map fresh zeroed memory at @addr (MAP_FIXED). */
int zd_os_map_anon_at(void *addr, size_t len);
/* Fresh private anonymous memory at @addr (MAP_FIXED), as an
 * application maps it (committed: it merges with such neighbours). */
int zd_os_map_private_at(void *addr, size_t len);
/* Move the mapping [from, from + len) to @to, replacing what is there
 * (mremap MREMAP_FIXED): the pages appear there with their bytes. */
int zd_os_move_mapping(void *from, size_t len, void *to);
/* mprotect() to read (@r) and/or write (@w), or PROT_NONE. */
int zd_os_protect(void *addr, size_t len, bool r, bool w);
/* Inside a reservation: map @fd at @off shared, at @addr (MAP_FIXED). */
int zd_os_map_fd_at(void *addr, size_t len, int fd, uint64_t off);
/* Give [addr, addr + len) back to the reservation: pages dropped, any
 * access faults again. */
int zd_os_unmap_to_reserve(void *addr, size_t len);
/*
 * Hold @n separate mappings (vm.max_map_count counts mappings, and
 * splitting one to give part of it back needs another): a block that
 * zd_os_vmas_free() gives back in one step, which never needs a mapping
 * of its own.  NULL (nothing held) if the process cannot have @n more.
 */
void *zd_os_vmas_hold(unsigned int n);
void zd_os_vmas_free(void *block, unsigned int n);
/* Bytes of memory that could still be made resident: available RAM and
 * free swap, less if a cgroup limit is closer; UINT64_MAX if unknown. */
uint64_t zd_os_mem_available(void);
/* The size of the regular file (or memfd) @fd: 0, -EBADF, or -ENOTSUP
 * for anything else (a device: no size to check). */
int zd_os_fd_size(int fd, uint64_t *size);
/* A memfd of @size zero bytes (sparse); the fd, or -errno. */
int zd_os_memfd(const char *name, uint64_t size);
void zd_os_close(int fd);
/* All of [off, off + len) of @fd, or -errno (-EIO on a short transfer). */
int zd_os_pwrite_all(int fd, const void *buf, size_t len, uint64_t off);
int zd_os_pread_all(int fd, void *buf, size_t len, uint64_t off);
/* userfaultfd (HMM's page faults).  Open with @features (UFFD_FEATURE_*)
 * negotiated, -errno if the kernel lacks any of them, and those of
 * @optional it has; *@got: the features negotiated. */
int zd_os_uffd_open(uint64_t features, uint64_t optional, uint64_t *got);
/* Why zd_os_uffd_open() failed with @err, in words for a log line. */
const char *zd_os_uffd_why(int err);
/* UFFD_FEATURE_MOVE (Linux 6.8), newer than Debian 12's headers */
#define ZD_UFFD_FEATURE_MOVE	(1ull << 10)
/* Register [addr, addr + len) for write-protect faults and, with
 * @missing, missing-page faults.  Registered without @missing, memory
 * behaves as before (no fault reaches the reader while no page is
 * write-protected) but can receive moved pages. */
int zd_os_uffd_register(int fd, void *addr, size_t len, int missing);
int zd_os_uffd_unregister(int fd, void *addr, size_t len);
/* Fill absent pages (-EEXIST at a present one) with a copy of @src's
 * bytes, the zero page, or @src's pages themselves (moved without a
 * copy, leaving holes; -EBUSY: a page is shared or pinned, -ENOENT: @src
 * has a hole).  *@done: bytes filled, also when the call stops early.
 * -EAGAIN: an event (remove, unmap, remap) waits to be read. */
int zd_os_uffd_copy(int fd, void *dst, const void *src, size_t len, int wake,
		    size_t *done);
int zd_os_uffd_zeropage(int fd, void *dst, size_t len, int wake, size_t *done);
int zd_os_uffd_move(int fd, void *dst, void *src, size_t len, int wake,
		    size_t *done);
/* zd_os_uffd_move() without waking, skipping holes in @src: takes what
 * is there out of the kernel's page table at @src without an event. */
int zd_os_uffd_move_out(int fd, void *dst, void *src, size_t len, size_t *done);
int zd_os_uffd_writeprotect(int fd, void *addr, size_t len, int wp);
int zd_os_uffd_wake(int fd, void *addr, size_t len);
/* Drop the pages of [addr, addr + len) (MADV_DONTNEED). */
int zd_os_discard(void *addr, size_t len);
/* mincore(): vec[i] & 1 if page i of [addr, addr + len) is resident. */
int zd_os_resident(void *addr, size_t len, unsigned char *vec);
/* 1 if the page at @addr is present or swapped, 0 if never touched (or
 * dropped), -errno if /proc/self/pagemap cannot say. */
int zd_os_page_populated(const void *addr);
/* The /proc/self/pagemap entries of the @n pages from @addr into @pm; 0
 * or -errno. */
int zd_os_pagemap(uintptr_t addr, size_t n, uint64_t *pm);
/* Calls @fn for each mapping of this process that overlaps [start, end),
 * with its bounds and whether it may be read and written; 0, -errno, or
 * the first nonzero @fn result. */
int zd_os_for_each_mapping(uintptr_t start, uintptr_t end,
			   int (*fn)(uintptr_t lo, uintptr_t hi, bool r, bool w,
				     void *arg), void *arg);
/* A CPU fault, read or write, on every page of [addr, addr + len)
 * (MADV_POPULATE_READ/WRITE, Linux 5.14); 0 or -errno. */
int zd_os_populate(void *addr, size_t len, bool write);
/* 0 if [addr, addr + len) is mapped, -ENOMEM if any of it is not. */
int zd_os_mapped(void *addr, size_t len);
/* Copy @len bytes, @from read (peek) or @to written (poke) as the kernel
 * would another process's memory: 0, or -EFAULT (not -SIGSEGV) where the
 * application unmapped it meanwhile. */
int zd_os_peek(void *to, const void *from, size_t len);
int zd_os_poke(void *to, const void *from, size_t len);
/* Whether [addr, addr + len) is private anonymous memory: one mapping
 * (@one), or any number of them without a hole. */
int zd_os_private_anon(const void *addr, size_t len, bool one);
/* An eventfd to wake a thread blocked in zd_os_wait2(). */
int zd_os_eventfd(void);
void zd_os_eventfd_signal(int fd);
/* Block until @a or @b is readable: 1 for @a, 2 for @b, -errno. */
int zd_os_wait2(int a, int b);
ssize_t zd_os_read(int fd, void *buf, size_t len);
/* Fresh private anonymous pages / unmap them (staging for migration). */
void *zd_os_map_pages(size_t len);
/* Keep [addr, addr + len) out of a fork()'s child (MADV_DONTFORK). */
int zd_os_dontfork(void *addr, size_t len);
/* Deliver SIGBUS for @addr to thread @tid of this process, as a fault. */
int zd_os_sigbus(int tid, void *addr);
int zd_os_gettid(void);
void zd_os_yield(void);
/* Sleep @ns nanoseconds (signals do not cut it short). */
void zd_os_sleep_ns(int64_t ns);
/* As zd_os_reserve_rw(), 2 MiB aligned and asking for transparent huge
 * pages (granted or not, the memory works); unmap with @size. */
void *zd_os_reserve_huge(size_t size);
/* The host's page size. */
unsigned long zd_os_page_size(void);

/* Block while *@addr == @val; @timeout_ns < 0 waits forever. */
int zd_os_futex_wait(unsigned int *addr, unsigned int val, int64_t timeout_ns);
/* Wake up to @n waiters on @addr (INT32_MAX: all). */
void zd_os_futex_wake(unsigned int *addr, int n);

/*
 * Process-wide memory barrier: when it returns, every thread of the
 * process has executed a full barrier (sys_membarrier, private expedited).
 * zd_os_membarrier_init() registers for it once: 0, or -errno where the
 * kernel lacks it (callers then use fences on both sides instead).
 */
int zd_os_membarrier_init(void);
void zd_os_membarrier(void);

/* Monotonic clock in nanoseconds. */
int64_t zd_os_now_ns(void);

/* Number of CPUs this process may run on. */
int zd_os_ncpus(void);

#endif /* ZD_OS_H */
