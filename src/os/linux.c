// SPDX-License-Identifier: MIT
/* Linux implementation of the OS layer. */
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <stdbool.h>
#include <linux/futex.h>
#include <linux/userfaultfd.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <linux/membarrier.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "os.h"

void *zd_os_reserve_rw(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

void *zd_os_reserve_none(size_t size)
{
	void *p = mmap(NULL, size, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

int zd_os_map_anon_at(void *addr, size_t len)
{
	void *p = mmap(addr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE |
		       MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);

	return p == MAP_FAILED ? -errno : 0;
}

int zd_os_map_private_at(void *addr, size_t len)
{
	void *p = mmap(addr, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);

	return p == MAP_FAILED ? -errno : 0;
}

int zd_os_move_mapping(void *from, size_t len, void *to)
{
	void *p = mremap(from, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, to);

	return p == MAP_FAILED ? -errno : 0;
}

int zd_os_protect(void *addr, size_t len, bool r, bool w)
{
	int prot = (r ? PROT_READ : 0) | (w ? PROT_WRITE : 0);

	return mprotect(addr, len, prot ? prot : PROT_NONE) ? -errno : 0;
}

int zd_os_map_fd_at(void *addr, size_t len, int fd, uint64_t off)
{
	void *p = mmap(addr, len, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_FIXED, fd, (off_t)off);

	return p == MAP_FAILED ? -errno : 0;
}

int zd_os_unmap_to_reserve(void *addr, size_t len)
{
	void *p = mmap(addr, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS |
		       MAP_NORESERVE | MAP_FIXED, -1, 0);

	return p == MAP_FAILED ? -errno : 0;
}

/*
 * One PROT_NONE block of 2n - 1 pages, every other page made readable:
 * each mprotect() splits a mapping in three, so the block is 2n - 1
 * mappings (at least n even if its ends merge with neighbours).
 */
void *zd_os_vmas_hold(unsigned int n)
{
	size_t page = zd_os_page_size(), len = (2 * (size_t)n - 1) * page;
	char *p = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	for (unsigned int i = 1; i < n; i++) {
		if (mprotect(p + (2 * (size_t)i - 1) * page, page, PROT_READ)) {
			munmap(p, len);
			return NULL;
		}
	}
	return p;
}

void zd_os_vmas_free(void *block, unsigned int n)
{
	if (block)
		munmap(block, (2 * (size_t)n - 1) * zd_os_page_size());
}

/* The first unsigned number after @key in the text file @path, or -1. */
static long long read_number(const char *path, const char *key)
{
	FILE *f = fopen(path, "re");
	char line[256];
	long long v = -1;

	while (f && fgets(line, sizeof(line), f)) {
		const char *at = key ? strstr(line, key) : line;

		if (at && sscanf(at + (key ? strlen(key) : 0), "%lld", &v) == 1)
			break;
		v = -1;
	}
	if (f)
		fclose(f);
	return v;
}

uint64_t zd_os_mem_available(void)
{
	long long avail = read_number("/proc/meminfo", "MemAvailable:");
	long long swap = read_number("/proc/meminfo", "SwapFree:");
	long long max = read_number("/sys/fs/cgroup/memory.max", NULL);
	long long cur = read_number("/sys/fs/cgroup/memory.current", NULL);
	uint64_t bytes;

	if (avail < 0)
		return UINT64_MAX;
	bytes = ((uint64_t)avail + (uint64_t)(swap > 0 ? swap : 0)) << 10;
	/* "max" (no limit) reads as no number */
	if (max >= 0 && cur >= 0 && max > cur && (uint64_t)(max - cur) < bytes)
		bytes = (uint64_t)(max - cur);
	else if (max >= 0 && cur >= max)
		bytes = 0;
	return bytes;
}

int zd_os_fd_size(int fd, uint64_t *size)
{
	struct stat st;

	if (fstat(fd, &st))
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -ENOTSUP;
	*size = (uint64_t)st.st_size;
	return 0;
}

int zd_os_memfd(const char *name, uint64_t size)
{
	int fd = memfd_create(name, MFD_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)size)) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

void zd_os_close(int fd)
{
	if (fd >= 0)
		close(fd);
}

/* All of [off, off + len): pread or pwrite until done. */
static int rw_all(int fd, char *buf, size_t len, uint64_t off, bool is_write)
{
	while (len) {
		ssize_t n = is_write ? pwrite(fd, buf, len, (off_t)off)
				     : pread(fd, buf, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		buf += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

int zd_os_pwrite_all(int fd, const void *buf, size_t len, uint64_t off)
{
	return rw_all(fd, (char *)buf, len, off, true);
}

int zd_os_pread_all(int fd, void *buf, size_t len, uint64_t off)
{
	return rw_all(fd, buf, len, off, false);
}

/* ---- userfaultfd ---- */

#ifndef USERFAULTFD_IOC_NEW
#define USERFAULTFD_IOC_NEW	_IO(0xAA, 0x00)
#endif

#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY	1
#endif

/*
 * A userfaultfd, whichever way this process may have one: the system call
 * (root, or vm.unprivileged_userfaultfd=1), the device node (its file
 * mode), or the system call for user-mode faults only (Linux 5.11), which
 * any process may make.  The last is enough for HMM: the faults it serves
 * are the application's own loads and stores.  On failure, the first
 * way's error: it says most about why (-EPERM, -ENOSYS).
 */
static int uffd_fd(void)
{
	const int flags = O_CLOEXEC | O_NONBLOCK;
	int fd = (int)syscall(SYS_userfaultfd, flags);
	int err, dev;

	if (fd >= 0)
		return fd;
	err = -errno;
	dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
	if (dev >= 0) {
		fd = ioctl(dev, USERFAULTFD_IOC_NEW, flags);
		close(dev);
		if (fd >= 0)
			return fd;
	}
	if (err == -ENOSYS)
		return err;
	fd = (int)syscall(SYS_userfaultfd, flags | UFFD_USER_MODE_ONLY);
	return fd >= 0 ? fd : err;
}

const char *zd_os_uffd_why(int err)
{
	switch (err) {
	case -ENOSYS:
		return "this kernel has no userfaultfd (CONFIG_USERFAULTFD)";
	case -EPERM:
	case -EACCES:
		return "userfaultfd is not allowed here: vm.unprivileged_userfaultfd "
		       "is 0, /dev/userfaultfd cannot be opened, and the kernel "
		       "refused a user-mode-only one (older than 5.11, or a "
		       "seccomp filter)";
	case -EINVAL:
	case -EOPNOTSUPP:
		return "this kernel's userfaultfd lacks a feature HMM needs "
		       "(write-protect faults and remove/unmap/remap events: "
		       "Linux 5.7 or later)";
	case -EMFILE:
	case -ENFILE:
		return "no file descriptor left for the userfaultfd";
	default:
		return "userfaultfd could not be set up";
	}
}

/* What this kernel's userfaultfd offers (asked once, on a throwaway fd:
 * the handshake can be done only once per fd). */
static uint64_t uffd_supported(void)
{
	const uint64_t asked = 1ull << 63;	/* no feature's bit */
	static _Atomic uint64_t known;
	struct uffdio_api api = { .api = UFFD_API };
	uint64_t f = known;
	int fd;

	if (f)
		return f & ~asked;
	fd = uffd_fd();
	if (fd < 0)
		return 0;
	f = (ioctl(fd, UFFDIO_API, &api) ? 0 : api.features) | asked;
	close(fd);
	known = f;
	return f & ~asked;
}

int zd_os_uffd_open(uint64_t features, uint64_t optional, uint64_t *got)
{
	struct uffdio_api api = {
		.api = UFFD_API, .features = features | (optional & uffd_supported()),
	};
	uint64_t want = api.features;
	int fd = uffd_fd();

	if (fd < 0)
		return fd;
	if (ioctl(fd, UFFDIO_API, &api) || (api.features & want) != want) {
		int err = errno ? -errno : -EOPNOTSUPP;

		close(fd);
		return err;
	}
	*got = want;
	return fd;
}

int zd_os_uffd_register(int fd, void *addr, size_t len, int missing)
{
	struct uffdio_register r = {
		.range = { (unsigned long)addr, len },
		.mode = UFFDIO_REGISTER_MODE_WP |
			(missing ? UFFDIO_REGISTER_MODE_MISSING : 0),
	};

	return ioctl(fd, UFFDIO_REGISTER, &r) ? -errno : 0;
}

int zd_os_uffd_unregister(int fd, void *addr, size_t len)
{
	struct uffdio_range r = { (unsigned long)addr, len };

	return ioctl(fd, UFFDIO_UNREGISTER, &r) ? -errno : 0;
}

/* Run the filling ioctl @req on @arg; *@done is the byte count the kernel
 * wrote back to @result, which a partial failure also sets. */
static int uffd_fill(int fd, unsigned long req, void *arg,
		     const __s64 *result, size_t *done)
{
	int err = ioctl(fd, req, arg) ? -errno : 0;

	*done = *result > 0 ? (size_t)*result : 0;
	return err;
}

int zd_os_uffd_copy(int fd, void *dst, const void *src, size_t len, int wake,
		    size_t *done)
{
	struct uffdio_copy c = {
		.dst = (unsigned long)dst, .src = (unsigned long)src, .len = len,
		.mode = wake ? 0 : UFFDIO_COPY_MODE_DONTWAKE,
	};

	return uffd_fill(fd, UFFDIO_COPY, &c, &c.copy, done);
}

int zd_os_uffd_zeropage(int fd, void *dst, size_t len, int wake, size_t *done)
{
	struct uffdio_zeropage z = {
		.range = { (unsigned long)dst, len },
		.mode = wake ? 0 : UFFDIO_ZEROPAGE_MODE_DONTWAKE,
	};

	return uffd_fill(fd, UFFDIO_ZEROPAGE, &z, &z.zeropage, done);
}

#ifndef UFFDIO_MOVE
struct uffdio_move {
	__u64 dst, src, len, mode;
	__s64 move;
};
#define UFFDIO_MOVE_MODE_DONTWAKE	((__u64)1 << 0)
#define UFFDIO_MOVE_MODE_ALLOW_SRC_HOLES ((__u64)1 << 1)
#define UFFDIO_MOVE	_IOWR(UFFDIO, 0x05, struct uffdio_move)
#endif

int zd_os_uffd_move(int fd, void *dst, void *src, size_t len, int wake,
		    size_t *done)
{
	struct uffdio_move m = {
		.dst = (unsigned long)dst, .src = (unsigned long)src, .len = len,
		.mode = wake ? 0 : UFFDIO_MOVE_MODE_DONTWAKE,
	};

	return uffd_fill(fd, UFFDIO_MOVE, &m, &m.move, done);
}

int zd_os_uffd_move_out(int fd, void *dst, void *src, size_t len, size_t *done)
{
	struct uffdio_move m = {
		.dst = (unsigned long)dst, .src = (unsigned long)src, .len = len,
		.mode = UFFDIO_MOVE_MODE_DONTWAKE | UFFDIO_MOVE_MODE_ALLOW_SRC_HOLES,
	};

	return uffd_fill(fd, UFFDIO_MOVE, &m, &m.move, done);
}

int zd_os_dontfork(void *addr, size_t len)
{
	return madvise(addr, len, MADV_DONTFORK) ? -errno : 0;
}

int zd_os_uffd_writeprotect(int fd, void *addr, size_t len, int wp)
{
	struct uffdio_writeprotect w = {
		.range = { (unsigned long)addr, len },
		.mode = wp ? UFFDIO_WRITEPROTECT_MODE_WP : 0,
	};

	return ioctl(fd, UFFDIO_WRITEPROTECT, &w) ? -errno : 0;
}

int zd_os_uffd_wake(int fd, void *addr, size_t len)
{
	struct uffdio_range r = { (unsigned long)addr, len };

	return ioctl(fd, UFFDIO_WAKE, &r) ? -errno : 0;
}

int zd_os_discard(void *addr, size_t len)
{
	return madvise(addr, len, MADV_DONTNEED) ? -errno : 0;
}

int zd_os_resident(void *addr, size_t len, unsigned char *vec)
{
	return mincore(addr, len, vec) ? -errno : 0;
}

/* One process_vm_readv/writev of our own pid, page faults and all. */
static int self_vm_copy(void *to, const void *from, size_t len, bool write)
{
	while (len) {
		struct iovec local = { write ? (void *)from : to, len };
		struct iovec remote = { write ? to : (void *)from, len };
		ssize_t n = write ? process_vm_writev(getpid(), &local, 1, &remote, 1, 0)
				  : process_vm_readv(getpid(), &local, 1, &remote, 1, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 && errno != EFAULT ? -errno : -EFAULT;
		to = (char *)to + n;
		from = (const char *)from + n;
		len -= (size_t)n;
	}
	return 0;
}

int zd_os_peek(void *to, const void *from, size_t len)
{
	return self_vm_copy(to, from, len, false);
}

int zd_os_poke(void *to, const void *from, size_t len)
{
	return self_vm_copy(to, from, len, true);
}

static int pagemap_fd(void)
{
	static int fd = -1;

	if (fd < 0) {
		int f = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);

		if (f < 0)
			return -errno;
		if (!__atomic_compare_exchange_n(&fd, &(int){ -1 }, f, false,
						 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
			close(f);
	}
	return fd;
}

int zd_os_pagemap(uintptr_t addr, size_t n, uint64_t *pm)
{
	size_t len = n * sizeof(*pm);
	off_t off = (off_t)(addr / (uintptr_t)sysconf(_SC_PAGESIZE)) *
		    (off_t)sizeof(*pm);
	int fd = pagemap_fd();

	if (fd < 0)
		return fd;
	for (size_t done = 0; done < len;) {
		ssize_t got = pread(fd, (char *)pm + done, len - done,
				    off + (off_t)done);

		if (got <= 0)
			return got < 0 ? -errno : -EIO;
		done += (size_t)got;
	}
	return 0;
}

int zd_os_page_populated(const void *addr)
{
	uint64_t e;
	int err = zd_os_pagemap((uintptr_t)addr, 1, &e);

	if (err)
		return err;
	return (e >> 62) & 3 ? 1 : 0;	/* present or swapped */
}

int zd_os_mapped(void *addr, size_t len)
{
	unsigned char v[64];
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	/* mincore fails with ENOMEM on any unmapped page */
	for (size_t off = 0; off < len; off += 64 * page) {
		size_t n = len - off < 64 * page ? len - off : 64 * page;

		if (mincore((char *)addr + off, n, v))
			return -errno;
	}
	return 0;
}

int zd_os_private_anon(const void *addr, size_t len, bool one)
{
	FILE *f = fopen("/proc/self/maps", "re");
	uintptr_t at = (uintptr_t)addr, end = at + len;	/* @at: not seen yet */
	char line[512];
	int ok = 0;

	/* the lines come in address order */
	while (f && fgets(line, sizeof(line), f)) {
		unsigned long lo, hi, ino;
		char perms[8], path[256] = "";

		if (sscanf(line, "%lx-%lx %7s %*s %*s %lu %255s", &lo, &hi, perms,
			   &ino, path) < 4 || hi <= at)
			continue;
		/* named anonymous memory (PR_SET_VMA_ANON_NAME) is anonymous */
		if (lo > at || perms[3] != 'p' || ino ||
		    (path[0] && strcmp(path, "[heap]") && strncmp(path, "[anon:", 6)))
			break;		/* a hole, or not private anonymous */
		ok = end <= hi;
		if (ok || one)
			break;
		at = hi;
	}
	if (f)
		fclose(f);
	return ok;
}

int zd_os_eventfd(void)
{
	int fd = eventfd(0, EFD_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

void zd_os_eventfd_signal(int fd)
{
	uint64_t one = 1;

	if (write(fd, &one, sizeof(one)) < 0)
		return;	/* the counter cannot overflow from our few signals */
}

int zd_os_wait2(int a, int b)
{
	struct pollfd p[2] = { { .fd = a, .events = POLLIN }, { .fd = b, .events = POLLIN } };

	for (;;) {
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (p[1].revents)
			return 2;
		if (p[0].revents)
			return 1;
	}
}

ssize_t zd_os_read(int fd, void *buf, size_t len)
{
	ssize_t n = read(fd, buf, len);

	return n < 0 ? -errno : n;
}

void *zd_os_map_pages(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

int zd_os_sigbus(int tid, void *addr)
{
	siginfo_t si;

	/* Only a thread signalling itself may use a kernel si_code: this
	 * is SI_QUEUE, with the address where a fault puts it */
	memset(&si, 0, sizeof(si));
	si.si_signo = SIGBUS;
	si.si_code = SI_QUEUE;
	si.si_addr = addr;
	return syscall(SYS_rt_tgsigqueueinfo, getpid(), tid, SIGBUS, &si) ? -errno : 0;
}

void zd_os_sleep_ns(int64_t ns)
{
	struct timespec ts = { ns / 1000000000, ns % 1000000000 };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

void zd_os_yield(void)
{
	sched_yield();
}

int zd_os_gettid(void)
{
	return (int)syscall(SYS_gettid);
}

#define HUGE_SIZE	(2ul << 20)

void *zd_os_reserve_huge(size_t size)
{
	char *p = zd_os_reserve_rw(size + HUGE_SIZE), *a;

	if (!p)
		return NULL;
	/* trim to an aligned start: huge pages need 2 MiB alignment */
	a = (char *)(((uintptr_t)p + HUGE_SIZE - 1) & ~(HUGE_SIZE - 1));
	if (a > p)
		munmap(p, (size_t)(a - p));
	munmap(a + size, (size_t)(p + HUGE_SIZE - a));
	madvise(a, size, MADV_HUGEPAGE);
	return a;
}

unsigned long zd_os_page_size(void)
{
	return (unsigned long)sysconf(_SC_PAGESIZE);
}

int zd_os_unmap(void *addr, size_t size)
{
	return munmap(addr, size) ? -errno : 0;
}

int zd_os_futex_wait(unsigned int *addr, unsigned int val, int64_t timeout_ns)
{
	struct timespec ts, *tsp = NULL;

	if (timeout_ns >= 0) {
		ts.tv_sec = timeout_ns / 1000000000;
		ts.tv_nsec = timeout_ns % 1000000000;
		tsp = &ts;
	}
	if (syscall(SYS_futex, addr, FUTEX_WAIT_PRIVATE, val, tsp, NULL, 0))
		return -errno;
	return 0;
}

void zd_os_futex_wake(unsigned int *addr, int n)
{
	syscall(SYS_futex, addr, FUTEX_WAKE_PRIVATE, n, NULL, NULL, 0);
}

int zd_os_membarrier_init(void)
{
	if (syscall(SYS_membarrier,
		    MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0))
		return -errno;
	return 0;
}

void zd_os_membarrier(void)
{
	syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0);
}

int64_t zd_os_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int zd_os_ncpus(void)
{
	cpu_set_t set;

	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		return CPU_COUNT(&set);
	return (int)sysconf(_SC_NPROCESSORS_ONLN);
}

int zd_os_for_each_mapping(uintptr_t start, uintptr_t end,
			   int (*fn)(uintptr_t lo, uintptr_t hi, bool r, bool w,
				     void *arg), void *arg)
{
	FILE *f = fopen("/proc/self/maps", "re");
	char line[512];
	int err = 0;

	if (!f)
		return -errno;
	while (!err && fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;
		char perms[8];

		if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) == 3 &&
		    hi > start && lo < end)
			err = fn(lo, hi, perms[0] == 'r', perms[1] == 'w', arg);
	}
	fclose(f);
	return err;
}

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ	22
#define MADV_POPULATE_WRITE	23
#endif

int zd_os_populate(void *addr, size_t len, bool write)
{
	int err;

	do
		err = madvise(addr, len, write ? MADV_POPULATE_WRITE :
					       MADV_POPULATE_READ) ? -errno : 0;
	while (err == -EINTR);
	return err;
}
