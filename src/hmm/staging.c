// SPDX-License-Identifier: MIT
/*
 * Staging memory: driver memory that host pages can move into without a
 * copy.  UFFDIO_MOVE only moves into memory registered with the
 * userfaultfd doing the move, and one range can be registered with one
 * userfaultfd only, while a driver's memory serves every zd_mm.  So one
 * userfaultfd of the process holds every staging range, registered for
 * write-protect faults only: no page there is ever write-protected, so
 * the memory behaves as plain memory and the descriptor needs no reader.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "../os/os.h"
#include "array.h"
#include "internal.h"
#include "log.h"

static pthread_once_t staging_once = PTHREAD_ONCE_INIT;
static int staging = -1;

/* What is registered (also where the kernel cannot move: it copies),
 * so that unregistering anything else is refused. */
static pthread_mutex_t ranges_lock = PTHREAD_MUTEX_INITIALIZER;

void zd_hmm_staging_fork(enum hmm_fork stage)
{
	hmm_fork_mutex(&ranges_lock, stage);
}
static struct staged {
	void *addr;
	size_t len;
} *ranges;
static size_t nr_ranges, cap_ranges;

/* -EINVAL if [addr, +len) overlaps a registered range; lock held. */
static int overlaps(void *addr, size_t len)
{
	uintptr_t a = (uintptr_t)addr;

	for (size_t i = 0; i < nr_ranges; i++) {
		uintptr_t s = (uintptr_t)ranges[i].addr;

		if (a < s + ranges[i].len && s < a + len)
			return -EINVAL;
	}
	return 0;
}

static int remember(void *addr, size_t len)
{
	int err;

	pthread_mutex_lock(&ranges_lock);
	err = overlaps(addr, len);
	if (err) {
		pthread_mutex_unlock(&ranges_lock);
		zd_warn("zd_hmm_register_staging: [%p, +%#zx) overlaps staging "
			"memory registered already", addr, len);
		return err;
	}
	err = zd_array_room(ranges, nr_ranges, cap_ranges, 16);
	if (!err)
		ranges[nr_ranges++] = (struct staged){ addr, len };
	pthread_mutex_unlock(&ranges_lock);
	return err;
}

/* Forget [addr, +len) if it was registered as one; whether it was. */
static bool forget(void *addr, size_t len)
{
	bool found = false;

	pthread_mutex_lock(&ranges_lock);
	for (size_t i = 0; i < nr_ranges && !found; i++)
		if (ranges[i].addr == addr && ranges[i].len == len) {
			ranges[i] = ranges[--nr_ranges];
			found = true;
		}
	pthread_mutex_unlock(&ranges_lock);
	return found;
}

static void staging_open(void)
{
	uint64_t got;
	int fd = zd_os_uffd_open(ZD_UFFD_FEATURE_MOVE, 0, &got);

	if (fd >= 0)
		staging = fd;
	else
		zd_log(ZD_LOG_INFO, "no UFFDIO_MOVE (error %d): pages moving "
		       "between host and driver memory are copied", -fd);
}

int zd_hmm_staging_fd(void)
{
	pthread_once(&staging_once, staging_open);
	return staging;
}

static int staging_args(const char *fn, void *addr, size_t len)
{
	if (!addr || !len || ((uintptr_t)addr | len) & (page_bytes() - 1) ||
	    len > UINTPTR_MAX - (uintptr_t)addr) {
		zd_warn("%s: bad range [%p, +%#zx) (page-aligned, not empty, "
			"not wrapping)", fn, addr, len);
		return -EINVAL;
	}
	return zd_hmm_staging_fd() < 0 ? 1 : 0;
}

int zd_hmm_register_staging(void *addr, size_t len)
{
	int err = staging_args(__func__, addr, len);

	if (err < 0)
		return err;
	/* checked also where pages are copied: the move would refuse it */
	if (!zd_os_private_anon(addr, len, true)) {
		zd_warn("%s: [%p, +%#zx) is not one private anonymous mapping",
			__func__, addr, len);
		return -EINVAL;
	}
	err = remember(addr, len);
	if (err)
		return err;
	if (staging < 0)
		return 0;			/* nothing to do: copies */
	err = zd_os_uffd_register(staging, addr, len, 0);
	if (err) {
		forget(addr, len);
		zd_warn("cannot register staging memory [%p, +%#zx): error %d "
			"(private anonymous read-write memory only%s)", addr, len,
			-err, err == -EBUSY ? "; this is registered with another "
			"userfaultfd, such as a zd_mm's" : "");
	}
	return err;
}

int zd_hmm_unregister_staging(void *addr, size_t len)
{
	int err = staging_args(__func__, addr, len);

	if (err < 0)
		return err;
	if (!forget(addr, len)) {
		zd_warn("[%p, +%#zx) is not registered staging memory", addr, len);
		return -EINVAL;
	}
	return staging < 0 ? 0 : zd_os_uffd_unregister(staging, addr, len);
}
