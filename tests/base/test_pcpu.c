// SPDX-License-Identifier: MIT
/*
 * Per-thread sections (pcpu.h): zd_pcpu_synchronize() waits for a section
 * that began before it, however long it lasts, and a signal handler's
 * section nested inside one does not end the outer one.
 */
#include <pthread.h>
#include <signal.h>

#include "../test_util.h"
#include "base_util.h"
#include "pcpu.h"

static atomic_int phase;	/* 1: in the section; 2: may leave */
static atomic_bool synced;

static void *holder(void *arg)
{
	char *base = zd_pcpu_this();
	unsigned long was;

	(void)arg;
	assert_non_null(base);
	was = zd_pcpu_section_enter(base);
	atomic_store(&phase, 1);
	while (atomic_load(&phase) != 2)
		test_sleep_us(100);
	zd_pcpu_section_exit(base, was);
	return NULL;
}

static void *synchronizer(void *arg)
{
	(void)arg;
	zd_pcpu_synchronize();
	atomic_store(&synced, true);
	return NULL;
}

/* Waits for the synchronizer while the holder is held in its section:
 * the synchronizer must still be waiting after @us. */
static void expect_held_off(long us)
{
	pthread_t s;

	atomic_store(&synced, false);
	pthread_create(&s, NULL, synchronizer, NULL);
	test_sleep_us(us);
	assert_false(atomic_load(&synced));
	atomic_store(&phase, 2);
	pthread_join(s, NULL);
	assert_true(atomic_load(&synced));
}

static void test_synchronize_waits_for_a_section(void **state)
{
	pthread_t h;

	(void)state;
	atomic_store(&phase, 0);
	pthread_create(&h, NULL, holder, NULL);
	assert_true(wait_for(atomic_load(&phase) == 1));
	expect_held_off(50000);
	pthread_join(h, NULL);
	zd_pcpu_synchronize();		/* nobody inside: returns at once */
}

static void handler(int sig)
{
	char *base = zd_pcpu_base;
	unsigned long was = zd_pcpu_section_enter(base);

	(void)sig;
	zd_pcpu_section_exit(base, was);
}

static void *nested_holder(void *arg)
{
	char *base = zd_pcpu_this();
	unsigned long was = zd_pcpu_section_enter(base);

	(void)arg;
	raise(SIGUSR1);		/* a nested section, in a handler */
	assert_int_equal(atomic_load(zd_pcpu_slot(base, 0)), 1);
	atomic_store(&phase, 1);
	while (atomic_load(&phase) != 2)
		test_sleep_us(100);
	zd_pcpu_section_exit(base, was);
	assert_int_equal(atomic_load(zd_pcpu_slot(base, 0)), 0);
	return NULL;
}

static void test_nested_section_keeps_the_outer_one(void **state)
{
	struct sigaction sa = { .sa_handler = handler };
	pthread_t h;

	(void)state;
	sigaction(SIGUSR1, &sa, NULL);
	atomic_store(&phase, 0);
	pthread_create(&h, NULL, nested_holder, NULL);
	assert_true(wait_for(atomic_load(&phase) == 1));
	expect_held_off(50000);
	pthread_join(h, NULL);
	signal(SIGUSR1, SIG_DFL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_synchronize_waits_for_a_section, base_teardown),
		cmocka_unit_test_teardown(test_nested_section_keeps_the_outer_one, base_teardown),
	};

	test_capture_warnings();
	return zd_run_tests(tests);
}
