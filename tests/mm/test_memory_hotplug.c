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

/* Read sides and the write side the main thread holds, for cleanup
 * after a failed test. */
static int main_reads;
static bool main_writes;

static void main_read_lock(void)
{
	zd_get_online_mems();
	main_reads++;
}

static void main_read_unlock(void)
{
	main_reads--;
	zd_put_online_mems();
}

static int cleanup(void **state)
{
	while (main_reads > 0)
		main_read_unlock();
	if (main_writes) {
		main_writes = false;
		zd_mem_hotplug_done();
	}
	return 0;
}

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
	main_read_lock();
	pthread_create(&t, NULL, late_writer, NULL);
	test_sleep_us(50000);
	assert_int_equal(atomic_load(&step), 0);	/* still waiting */
	atomic_store(&step, 1);
	main_read_unlock();
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
	main_writes = true;
	pthread_create(&t, NULL, late_reader, NULL);
	test_sleep_us(50000);
	assert_int_equal(atomic_load(&step), 0);
	main_writes = false;
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
	main_reads++;
	pthread_create(&t, NULL, put_elsewhere, NULL);
	pthread_join(t, NULL);
	main_reads--;
	/* the count is whole again: a writer gets in */
	zd_mem_hotplug_begin();
	zd_mem_hotplug_done();
}

/* A writer gets in within ten seconds (its thread is left behind if not). */
static atomic_int writer_done;

static void *writer_once(void *arg)
{
	zd_mem_hotplug_begin();
	zd_mem_hotplug_done();
	atomic_store(&writer_done, 1);
	return NULL;
}

static void assert_writer_gets_in(void)
{
	pthread_t t;

	atomic_store(&writer_done, 0);
	pthread_create(&t, NULL, writer_once, NULL);
	if (!wait_for(atomic_load(&writer_done))) {
		pthread_detach(t);
		fail_msg("a memory hotplug writer waits for ever");
	}
	pthread_join(t, NULL);
}

/* Put on a fresh thread (this one may have handed read sides over in
 * an earlier test, see below). */
static void put_on_a_new_thread(void)
{
	pthread_t t;

	pthread_create(&t, NULL, put_elsewhere, NULL);
	pthread_join(t, NULL);
}

static void test_put_without_get_warns_on_the_spot(void **state)
{
	for (int i = 0; i < 2; i++) {
		assert_warns("zd_put_online_mems without zd_get_online_mems",
			     put_on_a_new_thread());
		assert_no_warn(assert_writer_gets_in());
	}
}

/* A thread that handed its read side over to another may put once more
 * than it got without the put noticing: the next writer does. */
static void test_extra_put_after_a_hand_over_repaired_by_the_writer(void **state)
{
	pthread_t t;

	zd_get_online_mems();
	pthread_create(&t, NULL, put_elsewhere, NULL);	/* handed over */
	pthread_join(t, NULL);
	assert_no_warn(zd_put_online_mems());		/* one too many */
	assert_warns("1 up_read without down_read", assert_writer_gets_in());
	assert_no_warn(assert_writer_gets_in());
	/* and readers still count: a reader holds a writer off */
	main_read_lock();
	atomic_store(&writer_done, 0);
	pthread_create(&t, NULL, writer_once, NULL);
	test_sleep_us(50000);
	assert_int_equal(atomic_load(&writer_done), 0);
	main_read_unlock();
	pthread_join(t, NULL);
}

/* Taking the lock again on the thread that holds it is reported, and
 * does not hang; the lock works afterwards. */
static void test_recursion_reported_not_hung(void **state)
{
	zd_mem_hotplug_begin();
	main_writes = true;
	assert_warns("recursive memory hotplug write", zd_mem_hotplug_begin());
	main_writes = false;
	zd_mem_hotplug_done();
	assert_warns("without zd_mem_hotplug_begin", zd_mem_hotplug_done());

	main_read_lock();
	assert_warns("while holding the read side", zd_mem_hotplug_begin());
	assert_warns("recursive zd_get_online_mems", main_read_lock());
	main_read_unlock();
	main_read_unlock();
	assert_no_warn(assert_writer_gets_in());
}

/* A read side handed over is not the giver's any more: it may write. */
static void test_write_after_a_hand_over_is_no_recursion(void **state)
{
	pthread_t t;

	zd_get_online_mems();
	pthread_create(&t, NULL, put_elsewhere, NULL);
	pthread_join(t, NULL);
	assert_no_warn(zd_mem_hotplug_begin());
	assert_no_warn(zd_mem_hotplug_done());
	assert_no_warn(main_read_lock());
	main_read_unlock();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_writers_exclusive_readers_excluded,
					  cleanup),
		cmocka_unit_test_teardown(test_writer_waits_for_reader, cleanup),
		cmocka_unit_test_teardown(test_reader_waits_for_writer, cleanup),
		cmocka_unit_test_teardown(test_put_from_another_thread, cleanup),
		cmocka_unit_test_teardown(test_put_without_get_warns_on_the_spot,
					  cleanup),
		cmocka_unit_test_teardown(
			test_extra_put_after_a_hand_over_repaired_by_the_writer,
			cleanup),
		cmocka_unit_test_teardown(test_recursion_reported_not_hung,
					  cleanup),
		cmocka_unit_test_teardown(
			test_write_after_a_hand_over_is_no_recursion, cleanup),
	};

	test_capture_warnings();
	return zd_run_tests(tests);
}
