// SPDX-License-Identifier: MIT
/*
 * The memory hotplug lock: one percpu-rwsem for the whole process.
 *
 * A put without a get would leave the reader count one short for good,
 * and the next writer (memremap, memunmap) would wait for ever.  Each
 * thread counts the read sides it took; a put on a thread that took none
 * is a read side handed over from another thread (allowed) or none at
 * all, and only then is the shared count summed to tell which.
 */
#include <zonedev/memory_hotplug.h>

#include "../os/os.h"
#include "log.h"
#include "percpu_rwsem.h"

static struct zd_percpu_rwsem mem_hotplug_lock = ZD_PERCPU_RWSEM_INIT;

static __thread long held __attribute__((tls_model("initial-exec")));

/*
 * Recursion checks.  @held alone cannot tell: a thread that handed its
 * read side over to another still counts it.  @epoch moves on whenever a
 * writer gets in (so no read side taken before is still held) and on
 * every hand-over; a thread whose @held_epoch still matches certainly
 * holds the read side it counts.
 */
static _Atomic unsigned long epoch;
static __thread unsigned long held_epoch __attribute__((tls_model("initial-exec")));
static __thread bool writing __attribute__((tls_model("initial-exec")));

static bool surely_reading(void)
{
	if (held <= 0)
		return false;
	if (atomic_load_explicit(&epoch, memory_order_relaxed) == held_epoch)
		return true;
	held = 0;	/* stale: handed over, or a writer has been in */
	return false;
}

void zd_mem_hotplug_begin(void)
{
	if (unlikely(writing)) {
		zd_warn("recursive memory hotplug write; not taken (it would "
			"deadlock)");
		return;
	}
	if (unlikely(held > 0) && surely_reading()) {
		zd_warn("memory hotplug write while holding the read side; not "
			"taken (it would deadlock)");
		return;
	}
	zd_percpu_down_write(&mem_hotplug_lock);
	writing = true;
	atomic_fetch_add_explicit(&epoch, 1, memory_order_relaxed);
}

void zd_mem_hotplug_done(void)
{
	if (unlikely(!writing)) {
		zd_warn("zd_mem_hotplug_done without zd_mem_hotplug_begin on "
			"this thread; ignored");
		return;
	}
	writing = false;
	zd_percpu_up_write(&mem_hotplug_lock);
}

/* A second read side: taken (readers nest while no writer waits), but
 * reported, as a writer arriving in between would wait for ever. */
static __attribute__((noinline, cold)) void get_again(void)
{
	if (surely_reading())
		zd_warn("recursive zd_get_online_mems: deadlocks if a writer "
			"arrives in between");
	zd_percpu_down_read(&mem_hotplug_lock);
	if (held++ == 0)
		held_epoch = atomic_load_explicit(&epoch, memory_order_relaxed);
}

void zd_get_online_mems(void)
{
	if (unlikely(held > 0))
		return get_again();
	zd_percpu_down_read(&mem_hotplug_lock);
	held_epoch = atomic_load_explicit(&epoch, memory_order_relaxed);
	held = 1;
}

/*
 * The sum is read slot by slot while other threads may hand read sides
 * over: a few reads in a row all at zero or below leave no doubt.  If a
 * put gets past this all the same, the writer repairs the count (and
 * says so).
 */
static __attribute__((noinline, cold)) void put_not_held(void)
{
	for (int i = 0; i < 3; i++) {
		if (zd_percpu_rwsem_readers(&mem_hotplug_lock) > 0) {
			/* a hand-over: the taker's count goes stale */
			atomic_fetch_add_explicit(&epoch, 1,
						  memory_order_relaxed);
			zd_percpu_up_read(&mem_hotplug_lock);
			return;
		}
		zd_os_yield();
	}
	zd_warn("zd_put_online_mems without zd_get_online_mems; ignored");
}

void zd_put_online_mems(void)
{
	if (unlikely(held <= 0))
		return put_not_held();
	held--;
	zd_percpu_up_read(&mem_hotplug_lock);
}
