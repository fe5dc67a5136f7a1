// SPDX-License-Identifier: MIT
/* The memory hotplug lock: one percpu-rwsem for the whole process. */
#include <zonedev/memory_hotplug.h>

#include "percpu_rwsem.h"

static struct zd_percpu_rwsem mem_hotplug_lock = ZD_PERCPU_RWSEM_INIT;

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
}

void zd_put_online_mems(void)
{
	zd_percpu_up_read(&mem_hotplug_lock);
}
