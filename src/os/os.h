/* SPDX-License-Identifier: MIT */
/*
 * The OS layer: every system call zonedev makes goes through here, so the
 * rest of the library reads as kernel-style code and a port (or a fault
 * injection) has one place to hook.  Calls return 0 or -errno.
 */
#ifndef ZD_OS_H
#define ZD_OS_H

#include <stddef.h>
#include <stdint.h>

/* Address space reserved read-write but not committed (MAP_NORESERVE). */
void *zd_os_reserve_rw(size_t size);
int zd_os_unmap(void *addr, size_t size);

/* Address space reserved inaccessible (PROT_NONE, MAP_NORESERVE). */
void *zd_os_reserve_none(size_t size);
/* Inside a reservation: map fresh zeroed memory at @addr (MAP_FIXED). */
int zd_os_map_anon_at(void *addr, size_t len);
/* Inside a reservation: map @fd at @off shared, at @addr (MAP_FIXED). */
int zd_os_map_fd_at(void *addr, size_t len, int fd, uint64_t off);
/* Give [addr, addr + len) back to the reservation: pages dropped, any
 * access faults again. */
int zd_os_unmap_to_reserve(void *addr, size_t len);
/* A memfd of @size zero bytes (sparse); the fd, or -errno. */
int zd_os_memfd(const char *name, uint64_t size);
void zd_os_close(int fd);
/* All of [off, off + len) of @fd, or -errno (-EIO on a short transfer). */
int zd_os_pwrite_all(int fd, const void *buf, size_t len, uint64_t off);
int zd_os_pread_all(int fd, void *buf, size_t len, uint64_t off);
/* Ask for transparent huge pages on a hot table (advice; errors ignored). */
void zd_os_advise_hugepages(void *addr, size_t len);
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
