// SPDX-License-Identifier: MIT
/*
 * Per-thread counter areas.  pcpu_lock guards the area table, the free
 * list and the slot bitmap; the fast path touches none of them.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "../os/os.h"
#include "array.h"
#include "fault.h"
#include "fork.h"
#include "log.h"
#include "pcpu.h"

#define NR_SLOTS	(ZD_PCPU_AREA_SIZE / ZD_PCPU_SLOT)
#define BITS		(8 * sizeof(unsigned long))

/*
 * Where an area begins inside its mapping.  A pgmap lookup stores to slot
 * 0 and then loads a section-table word at offset (section * 8) % 4096
 * of its page.  When both fall in the same 64-byte line of their 4 KiB
 * frames, the CPU can take the load for one that waits on the store (the
 * kind of 4K aliasing compared by low address bits only): on the Zen 4
 * measured, 6-9% of processes then paid 6 ns more on every lookup.
 * Naturally aligned device ranges put their first section words at
 * offset 0 and other round offsets, so slot 0 sits at an odd line.
 */
#define AREA_SKEW	0x940

struct pcpu_area {
	char *base;
	struct pcpu_area *next_free;
};

__thread char *zd_pcpu_base __attribute__((tls_model("initial-exec")));
static bool no_membarrier;

static pthread_mutex_t pcpu_lock = PTHREAD_MUTEX_INITIALIZER;
static struct pcpu_area **areas;
static unsigned int nr_areas, max_areas;
static struct pcpu_area *free_areas;
static unsigned long slot_map[NR_SLOTS / BITS];
static size_t slot_hint;		/* no free slot below this word */
static pthread_key_t area_key;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static bool key_ok;
static pthread_once_t setup_once = PTHREAD_ONCE_INIT;

/* Thread exit: the area keeps its counts and waits for the next thread. */
static void area_release(void *arg)
{
	struct pcpu_area *a = arg;

	pthread_mutex_lock(&pcpu_lock);
	a->next_free = free_areas;
	free_areas = a;
	pthread_mutex_unlock(&pcpu_lock);
	zd_pcpu_base = NULL;
}

static void key_init(void)
{
	key_ok = pthread_key_create(&area_key, area_release) == 0;
}

/* Once, before the first area.  The "pcpu.membarrier" site runs a process
 * as on a kernel without it (tests/test_util.h, ZD_TEST_NO_MEMBARRIER). */
static void membarrier_setup(void)
{
	no_membarrier = zd_fault("pcpu.membarrier") ||
			zd_os_membarrier_init() != 0;
	if (no_membarrier)
		zd_info("no sys_membarrier: no per-thread counters, threads "
			"share atomic ones");
}

bool zd_pcpu_usable(void)
{
	pthread_once(&setup_once, membarrier_setup);
	return !no_membarrier;
}

static struct pcpu_area *area_new_locked(void)
{
	struct pcpu_area *a;

	if (nr_areas == max_areas && (zd_fault("pcpu.table") ||
				      zd_array_room(areas, nr_areas, max_areas, 16)))
		return NULL;
	a = zd_zalloc("pcpu.area", sizeof(*a));
	if (!a)
		return NULL;
	a->base = zd_fault("pcpu.map") ? NULL :
		  zd_os_reserve_rw(AREA_SKEW + ZD_PCPU_AREA_SIZE);
	if (!a->base) {
		free(a);
		return NULL;
	}
	a->base += AREA_SKEW;
	areas[nr_areas++] = a;
	return a;
}

char *zd_pcpu_base_slow(void)
{
	struct pcpu_area *a;

	zd_fork_hooks_init();
	if (!zd_pcpu_usable())
		return NULL;
	pthread_once(&key_once, key_init);
	/* "pcpu.get": no area for this thread, even with free ones about */
	if (!key_ok || zd_fault("pcpu.get"))
		return NULL;
	pthread_mutex_lock(&pcpu_lock);
	a = free_areas;
	if (a)
		free_areas = a->next_free;
	else
		a = area_new_locked();
	pthread_mutex_unlock(&pcpu_lock);
	if (!a)
		return NULL;
	if (pthread_setspecific(area_key, a)) {
		area_release(a);
		return NULL;
	}
	zd_pcpu_base = a->base;
	return a->base;
}

static void zero_locked(uintptr_t off)
{
	for (unsigned int i = 0; i < nr_areas; i++)
		WRITE_ONCE_RELAXED(zd_pcpu_slot(areas[i]->base, off), 0);
}

long zd_pcpu_alloc(void)
{
	long off = -ENOMEM;

	if (zd_fault("pcpu.slot"))
		return -ENOMEM;
	pthread_mutex_lock(&pcpu_lock);
	for (size_t w = slot_hint; w < NR_SLOTS / BITS; w++) {
		unsigned long free_bits = ~slot_map[w];

		/* slot 0 stays reserved: offset 0 means "no counter" */
		if (w == 0)
			free_bits &= ~1ul;
		if (!free_bits)
			continue;
		unsigned int b = __builtin_ctzl(free_bits);
		slot_map[w] |= 1ul << b;
		slot_hint = w;
		off = (long)((w * BITS + b) * ZD_PCPU_SLOT);
		zero_locked(off);
		break;
	}
	pthread_mutex_unlock(&pcpu_lock);
	if (off < 0)
		zd_warn("all %zu per-thread counters are in use", NR_SLOTS - 1);
	return off;
}

void zd_pcpu_free(uintptr_t off)
{
	size_t slot = off / ZD_PCPU_SLOT;

	pthread_mutex_lock(&pcpu_lock);
	slot_map[slot / BITS] &= ~(1ul << (slot % BITS));
	if (slot / BITS < slot_hint)
		slot_hint = slot / BITS;
	pthread_mutex_unlock(&pcpu_lock);
}

unsigned long zd_pcpu_sum(uintptr_t off)
{
	unsigned long sum = 0;

	pthread_mutex_lock(&pcpu_lock);
	for (unsigned int i = 0; i < nr_areas; i++)
		sum += READ_ONCE_RELAXED(zd_pcpu_slot(areas[i]->base, off));
	pthread_mutex_unlock(&pcpu_lock);
	return sum;
}

void zd_pcpu_zero(uintptr_t off)
{
	pthread_mutex_lock(&pcpu_lock);
	zero_locked(off);
	pthread_mutex_unlock(&pcpu_lock);
}

/* Area @i's base, or NULL past the last. */
static char *area_base(unsigned int i)
{
	char *base;

	pthread_mutex_lock(&pcpu_lock);
	base = i < nr_areas ? areas[i]->base : NULL;
	pthread_mutex_unlock(&pcpu_lock);
	return base;
}

/*
 * Sections that begin after the barrier see what the caller stored before
 * it; so once each area's slot 0 has been seen at zero, every section that
 * might not have seen it is over.  A thread can enter sections back to
 * back, but each is a few instructions: the depth is soon caught at zero.
 */
void zd_pcpu_synchronize(void)
{
	char *base;

	if (!zd_pcpu_usable())
		return;		/* no areas, no sections */
	zd_os_membarrier();
	for (unsigned int i = 0; (base = area_base(i)); i++)
		while (atomic_load_explicit(zd_pcpu_slot(base, 0),
					    memory_order_acquire))
			zd_os_yield();
}

void zd_pcpu_fork_prepare(void)
{
	pthread_mutex_lock(&pcpu_lock);
}

void zd_pcpu_fork_parent(void)
{
	pthread_mutex_unlock(&pcpu_lock);
}

/* Only the forking thread lives on: every other area becomes free, counts
 * kept, exactly as if those threads had exited, and outside any section
 * (a thread may have been in one when fork() copied its area). */
void zd_pcpu_fork_child(void)
{
	pthread_mutex_init(&pcpu_lock, NULL);
	free_areas = NULL;
	for (unsigned int i = 0; i < nr_areas; i++) {
		if (areas[i]->base == zd_pcpu_base)
			continue;
		WRITE_ONCE_RELAXED(zd_pcpu_slot(areas[i]->base, 0), 0);
		areas[i]->next_free = free_areas;
		free_areas = areas[i];
	}
}
