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

void zd_mem_hotplug_begin(void)
{
	zd_percpu_down_write(&mem_hotplug_lock);
}

void zd_mem_hotplug_done(void)
{
	zd_percpu_up_write(&mem_hotplug_lock);
}

void zd_get_online_mems(void)
{
	zd_percpu_down_read(&mem_hotplug_lock);
	held++;
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
