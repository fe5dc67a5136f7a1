// SPDX-License-Identifier: MIT
/*
 * memremap under concurrency: lock-free lookups while other threads map
 * and unmap pgmaps, in shared and separate sections.  A lookup must find
 * a stable pgmap every time, and a churning one either live (and then its
 * reference keeps it mapped) or not at all.
 */
#include <pthread.h>

#include "mm_util.h"

#define SLOTS		1000
#define SLOT_BASE	DEV_BASE
#define SLOT_STRIDE	MiB(6)		/* 2 MiB pgmaps, sections shared */

static struct zd_dev_pagemap pgmaps[SLOTS];
static struct zd_dev_pagemap stable;
static atomic_bool stop;
static atomic_long bad, found;

static uint64_t slot_start(int i)
{
	return SLOT_BASE + (uint64_t)i * SLOT_STRIDE;
}

static void slot_init(int i)
{
	struct zd_dev_pagemap *p = &pgmaps[i];

	memset(p, 0, sizeof(*p));
	p->type = i % 2 ? ZD_MEMORY_DEVICE_GENERIC : ZD_MEMORY_DEVICE_FS_DAX;
	p->nr_range = 1;
	p->range.start = slot_start(i);
	p->range.end = slot_start(i) + MiB(2) - 1;
}

static int rounds(int dflt)
{
	const char *env = getenv("ZD_TEST_ROUNDS");

	return env ? (atoi(env) < dflt ? atoi(env) : dflt) : dflt;
}

static void *looker(void *arg)
{
	unsigned int seed = (unsigned int)(uintptr_t)arg;
	unsigned long stable_pfn = phys_pfn(stable.range.start);

	while (!atomic_load(&stop)) {
		int i = rand_r(&seed) % SLOTS;
		unsigned long pfn = phys_pfn(slot_start(i)) + rand_r(&seed) % 512;
		struct zd_dev_pagemap *p = zd_get_dev_pagemap(pfn, NULL);

		if (p) {
			/* held: it must be this slot's, and stay mapped */
			if (p != &pgmaps[i] || !zd_pfn_valid(pfn) ||
			    zd_pfn_to_page(pfn)->pgmap != p)
				atomic_fetch_add(&bad, 1);
			zd_put_dev_pagemap(p);
			atomic_fetch_add(&found, 1);
		}
		/* between two slots: never anything */
		if (zd_get_dev_pagemap(phys_pfn(slot_start(i) + MiB(3)), NULL))
			atomic_fetch_add(&bad, 1);
		p = zd_get_dev_pagemap(stable_pfn, NULL);
		if (p != &stable)
			atomic_fetch_add(&bad, 1);
		zd_put_dev_pagemap(p);
	}
	return NULL;
}

/* Map then unmap this thread's half of the slots, in random order. */
static void *churner(void *arg)
{
	int half = (int)(uintptr_t)arg, order[SLOTS / 2];
	unsigned int seed = 7 + half;

	for (int r = 0; r < rounds(3); r++) {
		for (int k = 0; k < SLOTS / 2; k++)
			order[k] = 2 * k + half;
		for (int k = SLOTS / 2 - 1; k > 0; k--) {
			int j = rand_r(&seed) % (k + 1), t = order[k];

			order[k] = order[j];
			order[j] = t;
		}
		for (int k = 0; k < SLOTS / 2; k++) {
			slot_init(order[k]);
			if (!zd_memremap_pages(&pgmaps[order[k]], 0))
				atomic_fetch_add(&bad, 1);
		}
		for (int k = SLOTS / 2 - 1; k >= 0; k--)
			zd_memunmap_pages(&pgmaps[order[(k * 7) % (SLOTS / 2)]]);
	}
	return NULL;
}

static atomic_int moved;

/* Counts the lookup table's move to huge pages, which comes at the
 * 1,024th range mapped: during the churn, under the lookups. */
static void log_moves(enum zd_log_level level, const char *msg, void *arg)
{
	if (strstr(msg, "moved to huge pages"))
		atomic_fetch_add(&moved, 1);
	test_log(level, msg, arg);
}

static void test_lookups_race_with_map_and_unmap(void **state)
{
	pthread_t look, churn[2];

	zd_set_log(log_moves, NULL);
	memset(&stable, 0, sizeof(stable));
	stable.type = ZD_MEMORY_DEVICE_GENERIC;
	stable.nr_range = 1;
	stable.range.start = SLOT_BASE - MiB(2);	/* shares a section */
	stable.range.end = SLOT_BASE - 1;
	assert_non_null(zd_memremap_pages(&stable, 0));
	atomic_store(&stop, false);
	pthread_create(&look, NULL, looker, (void *)1);
	for (int i = 0; i < 2; i++)
		pthread_create(&churn[i], NULL, churner, (void *)(uintptr_t)i);
	for (int i = 0; i < 2; i++)
		pthread_join(churn[i], NULL);
	atomic_store(&stop, true);
	pthread_join(look, NULL);
	assert_int_equal(atomic_load(&bad), 0);
	assert_true(atomic_load(&found) > 0);
	assert_int_equal(atomic_load(&moved), 1);
	for (int i = 0; i < SLOTS; i++)
		assert_null(zd_get_dev_pagemap(phys_pfn(slot_start(i)), NULL));
	zd_memunmap_pages(&stable);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_lookups_race_with_map_and_unmap,
					  test_cleanup),
	};

	test_capture_warnings();
	return zd_run_tests(tests);
}
