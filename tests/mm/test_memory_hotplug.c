// SPDX-License-Identifier: MIT
/*
 * The memory hotplug lock: writers exclude each other and all readers;
 * a writer waits for the readers inside; readers wait for a writer.  The
 * shared data below is plain (non-atomic) on purpose, and the bookkeeping
 * atomics are relaxed so that they order nothing: under TSan any missing
 * happens-before edge in the lock itself is a reported race.
 */
#include <pthread.h>

#include "../test_util.h"

static long shared_data;		/* written only under the write side */
static atomic_int writers_in, readers_in, overlap;

#define INC(v)	atomic_fetch_add_explicit(&(v), 1, memory_order_relaxed)
#define DEC(v)	atomic_fetch_sub_explicit(&(v), 1, memory_order_relaxed)
#define GET(v)	atomic_load_explicit(&(v), memory_order_relaxed)

static void *writer_loop(void *arg)
{
	for (int i = 0; i < (int)(uintptr_t)arg; i++) {
		zd_mem_hotplug_begin();
		if (INC(writers_in) || GET(readers_in))
			INC(overlap);
		shared_data++;
		DEC(writers_in);
		zd_mem_hotplug_done();
	}
	return NULL;
}

static void *reader_loop(void *arg)
{
	long seen = 0;

	for (int i = 0; i < (int)(uintptr_t)arg; i++) {
		zd_get_online_mems();
		INC(readers_in);
		if (GET(writers_in))
			INC(overlap);
		if (shared_data < seen)		/* never goes back */
			INC(overlap);
		seen = shared_data;
		DEC(readers_in);
		zd_put_online_mems();
	}
	return NULL;
}

static int rounds(int dflt)
{
	const char *env = getenv("ZD_TEST_ROUNDS");

	return env ? atoi(env) * 50 : dflt;
}

static void test_writers_exclusive_readers_excluded(void **state)
{
	pthread_t w[2], r[2];
	int n = rounds(20000);

	atomic_store(&overlap, 0);
	shared_data = 0;
	for (int i = 0; i < 2; i++) {
		pthread_create(&w[i], NULL, writer_loop, (void *)(uintptr_t)(n / 20));
		pthread_create(&r[i], NULL, reader_loop, (void *)(uintptr_t)n);
	}
	for (int i = 0; i < 2; i++) {
		pthread_join(w[i], NULL);
		pthread_join(r[i], NULL);
	}
	assert_int_equal(atomic_load(&overlap), 0);
	assert_int_equal(shared_data, 2 * (n / 20));
}

static atomic_int step;

static void *late_writer(void *arg)
{
	zd_mem_hotplug_begin();
	atomic_store(&step, 2);
	zd_mem_hotplug_done();
	return NULL;
}

static void test_writer_waits_for_reader(void **state)
{
	pthread_t t;

	atomic_store(&step, 0);
	zd_get_online_mems();
	pthread_create(&t, NULL, late_writer, NULL);
	test_sleep_us(50000);
	assert_int_equal(atomic_load(&step), 0);	/* still waiting */
	atomic_store(&step, 1);
	zd_put_online_mems();
	pthread_join(t, NULL);
	assert_int_equal(atomic_load(&step), 2);
}

static void *late_reader(void *arg)
{
	zd_get_online_mems();
	atomic_store(&step, 2);
	zd_put_online_mems();
	return NULL;
}

static void test_reader_waits_for_writer(void **state)
{
	pthread_t t;

	atomic_store(&step, 0);
	zd_mem_hotplug_begin();
	pthread_create(&t, NULL, late_reader, NULL);
	test_sleep_us(50000);
	assert_int_equal(atomic_load(&step), 0);
	zd_mem_hotplug_done();
	pthread_join(t, NULL);
	assert_int_equal(atomic_load(&step), 2);
}

static void *put_elsewhere(void *arg)
{
	zd_put_online_mems();
	return NULL;
}

static void test_put_from_another_thread(void **state)
{
	pthread_t t;

	zd_get_online_mems();
	pthread_create(&t, NULL, put_elsewhere, NULL);
	pthread_join(t, NULL);
	/* the count is whole again: a writer gets in */
	zd_mem_hotplug_begin();
	zd_mem_hotplug_done();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_writers_exclusive_readers_excluded),
		cmocka_unit_test(test_writer_waits_for_reader),
		cmocka_unit_test(test_reader_waits_for_writer),
		cmocka_unit_test(test_put_from_another_thread),
	};

	return zd_run_tests(tests);
}
