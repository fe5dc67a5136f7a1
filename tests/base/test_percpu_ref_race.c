// SPDX-License-Identifier: MIT
/*
 * percpu_ref races.  Each test is written so that a wrong ordering in the
 * implementation fails it: folding the per-thread counters before the
 * grace period loses counts (a release while a thread still holds a
 * reference, or a count that never reaches zero); confirming before every
 * thread sees DEAD lets tryget_live succeed after confirm; dropping an
 * exited thread's counts releases early.
 *
 * ZD_TEST_ROUNDS overrides the number of rounds (the sanitizer builds use
 * fewer).
 */
#include <pthread.h>
#include <stdlib.h>

#include "../test_util.h"
#include "base_util.h"

#define HAMMERS	2

struct round {
	struct zd_percpu_ref ref;	/* first: the callbacks cast back */
	atomic_int releases;
	atomic_int held;		/* references the hammers hold now */
	atomic_int held_at_release;
	atomic_int confirmed;
	atomic_int late_live;		/* tryget_live successes after confirm */
	atomic_int early_release;	/* a release seen while holding */
	atomic_int live_gets;
	atomic_bool stop;
	unsigned int kill_delay_us;
	struct zd_completion released;
	pthread_barrier_t go;
};

static int rounds(int dflt)
{
	const char *env = getenv("ZD_TEST_ROUNDS");

	return env ? atoi(env) : dflt;
}

static void round_release(struct zd_percpu_ref *ref)
{
	struct round *r = (struct round *)ref;

	atomic_store(&r->held_at_release, atomic_load(&r->held));
	atomic_fetch_add(&r->releases, 1);
	zd_complete(&r->released);
}

static void round_confirm(struct zd_percpu_ref *ref)
{
	atomic_store(&((struct round *)ref)->confirmed, 1);
}

/* Hold a reference for a moment, nesting more gets and puts inside it. */
static void hold(struct round *r)
{
	atomic_fetch_add(&r->held, 1);
	if (atomic_load(&r->releases))
		atomic_fetch_add(&r->early_release, 1);
	zd_percpu_ref_get_many(&r->ref, 2);
	zd_percpu_ref_put(&r->ref);
	zd_percpu_ref_put(&r->ref);
	atomic_fetch_sub(&r->held, 1);
	zd_percpu_ref_put(&r->ref);
}

static void *hammer(void *arg)
{
	struct round *r = arg;

	pthread_barrier_wait(&r->go);
	while (!atomic_load(&r->stop)) {
		int seen_confirm = atomic_load(&r->confirmed);

		if (zd_percpu_ref_tryget_live(&r->ref)) {
			if (seen_confirm)
				atomic_fetch_add(&r->late_live, 1);
			atomic_fetch_add(&r->live_gets, 1);
			hold(r);
		}
		if (zd_percpu_ref_tryget(&r->ref))
			hold(r);
	}
	return NULL;
}

static void *killer(void *arg)
{
	struct round *r = arg;

	pthread_barrier_wait(&r->go);
	test_sleep_us(r->kill_delay_us);
	zd_percpu_ref_kill_and_confirm(&r->ref, round_confirm);
	return NULL;
}

static void run_round(struct round *r, unsigned int delay_us)
{
	pthread_t h[HAMMERS];

	memset(r, 0, sizeof(*r));
	r->kill_delay_us = delay_us;
	assert_int_equal(zd_percpu_ref_init(&r->ref, round_release, 0), 0);
	pthread_barrier_init(&r->go, NULL, HAMMERS + 1);
	for (int i = 0; i < HAMMERS; i++)
		pthread_create(&h[i], NULL, hammer, r);
	killer(r);		/* this thread is the third: it kills */
	/* let the hammers run on past the confirmation */
	while (!atomic_load(&r->confirmed))
		test_sleep_us(10);
	test_sleep_us(delay_us % 50);
	atomic_store(&r->stop, true);
	for (int i = 0; i < HAMMERS; i++)
		pthread_join(h[i], NULL);
	if (!zd_wait_for_completion_timeout(&r->released, 10000))
		fail_msg("no release within 10 s: a count was lost");
	assert_int_equal(atomic_load(&r->releases), 1);
	assert_int_equal(atomic_load(&r->held_at_release), 0);
	assert_int_equal(atomic_load(&r->early_release), 0);
	assert_int_equal(atomic_load(&r->late_live), 0);
	pthread_barrier_destroy(&r->go);
	zd_percpu_ref_exit(&r->ref);
}

/* Release exactly once, never while held, and no tryget_live after the
 * confirmation, while two threads hammer and a third kills. */
static void test_race_kill_vs_hammer(void **state)
{
	struct round *r = malloc(sizeof(*r));
	int n = rounds(2000);
	long live = 0;

	srand(1);
	for (int i = 0; i < n; i++) {
		run_round(r, (unsigned int)rand() % 200);
		live += atomic_load(&r->live_gets);
	}
	/* the test is only worth something if the hammers got in */
	assert_true(live > n);
	free(r);
}

/* ---- threads that exit holding references ------------------------------ */

static struct zd_percpu_ref exit_ref;
static atomic_int exit_released;

static void exit_release(struct zd_percpu_ref *ref)
{
	atomic_fetch_add(&exit_released, 1);
}

static void *get_and_exit(void *arg)
{
	zd_percpu_ref_get_many(&exit_ref, (unsigned long)(uintptr_t)arg);
	return NULL;
}

static void *churn(void *arg)
{
	for (int i = 0; i < 1000; i++) {
		zd_percpu_ref_get(&exit_ref);
		zd_percpu_ref_put(&exit_ref);
	}
	return NULL;
}

static void wait_exit_released(int n)
{
	for (int i = 0; i < 5000 && atomic_load(&exit_released) < n; i++)
		test_sleep_us(1000);
	assert_int_equal(atomic_load(&exit_released), n);
}

static void test_exited_threads_counts_kept(void **state)
{
	enum { THREADS = 40 };
	pthread_t t[THREADS];

	atomic_store(&exit_released, 0);
	assert_int_equal(zd_percpu_ref_init(&exit_ref, exit_release, 0), 0);
	/* each thread takes i+1 references and exits holding them */
	for (int i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, get_and_exit,
			       (void *)(uintptr_t)(i + 1));
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	/* new threads reuse the exited threads' areas, counts and all */
	for (int i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, churn, NULL);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	zd_percpu_ref_kill(&exit_ref);
	zd_percpu_ref_switch_to_atomic_sync(&exit_ref);
	test_sleep_us(1000);
	assert_int_equal(atomic_load(&exit_released), 0);
	/* THREADS * (THREADS + 1) / 2 references are outstanding */
	zd_percpu_ref_put_many(&exit_ref, THREADS * (THREADS + 1) / 2 - 1);
	assert_int_equal(atomic_load(&exit_released), 0);
	assert_false(zd_percpu_ref_is_zero(&exit_ref));
	zd_percpu_ref_put(&exit_ref);
	wait_exit_released(1);
	zd_percpu_ref_exit(&exit_ref);
}

/* Threads exit while the kill is in flight; their counts still fold.  The
 * main thread holds a reference throughout, so that no get can come after
 * the count reached zero. */
static void test_exit_during_kill(void **state)
{
	enum { THREADS = 16 };
	pthread_t t[THREADS];

	for (int round = 0; round < rounds(200); round++) {
		atomic_store(&exit_released, 0);
		assert_int_equal(zd_percpu_ref_init(&exit_ref, exit_release, 0), 0);
		zd_percpu_ref_get(&exit_ref);
		for (int i = 0; i < THREADS; i++)
			pthread_create(&t[i], NULL, get_and_exit, (void *)1);
		zd_percpu_ref_kill(&exit_ref);
		for (int i = 0; i < THREADS; i++)
			pthread_join(t[i], NULL);
		zd_percpu_ref_switch_to_atomic_sync(&exit_ref);
		zd_percpu_ref_put_many(&exit_ref, THREADS);
		assert_int_equal(atomic_load(&exit_released), 0);
		assert_false(zd_percpu_ref_is_zero(&exit_ref));
		zd_percpu_ref_put(&exit_ref);
		wait_exit_released(1);
		zd_percpu_ref_exit(&exit_ref);
	}
}

/* ---- reinit after zero, with users around ------------------------------ */

static struct zd_percpu_ref cycle_ref;
static atomic_int cycle_releases, cycle_held, cycle_bad;
static atomic_bool cycle_stop;
static struct zd_completion cycle_done;

static void cycle_release(struct zd_percpu_ref *ref)
{
	if (atomic_load(&cycle_held))
		atomic_fetch_add(&cycle_bad, 1);
	atomic_fetch_add(&cycle_releases, 1);
	zd_complete(&cycle_done);
}

static void *cycle_user(void *arg)
{
	while (!atomic_load(&cycle_stop)) {
		if (!zd_percpu_ref_tryget_live(&cycle_ref))
			continue;
		atomic_fetch_add(&cycle_held, 1);
		zd_percpu_ref_get(&cycle_ref);
		zd_percpu_ref_put(&cycle_ref);
		atomic_fetch_sub(&cycle_held, 1);
		zd_percpu_ref_put(&cycle_ref);
	}
	return NULL;
}

static void test_reinit_after_zero_under_load(void **state)
{
	int cycles = rounds(1000);
	pthread_t t[HAMMERS];

	atomic_store(&cycle_releases, 0);
	atomic_store(&cycle_stop, false);
	zd_init_completion(&cycle_done);
	assert_int_equal(zd_percpu_ref_init(&cycle_ref, cycle_release,
					    ZD_PERCPU_REF_ALLOW_REINIT), 0);
	for (int i = 0; i < HAMMERS; i++)
		pthread_create(&t[i], NULL, cycle_user, NULL);
	for (int i = 0; i < cycles; i++) {
		zd_percpu_ref_kill(&cycle_ref);
		if (!zd_wait_for_completion_timeout(&cycle_done, 10000))
			fail_msg("cycle %d: no release", i);
		assert_true(zd_percpu_ref_is_zero(&cycle_ref));
		zd_percpu_ref_reinit(&cycle_ref);
	}
	atomic_store(&cycle_stop, true);
	for (int i = 0; i < HAMMERS; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(atomic_load(&cycle_releases), cycles);
	assert_int_equal(atomic_load(&cycle_bad), 0);
	zd_percpu_ref_kill(&cycle_ref);
	assert_true(zd_wait_for_completion_timeout(&cycle_done, 10000));
	zd_percpu_ref_exit(&cycle_ref);
}

/* ---- switching back and forth while counting --------------------------- */

static void *switch_user(void *arg)
{
	for (int i = 0; i < 20000; i++) {
		zd_percpu_ref_get(&cycle_ref);
		zd_percpu_ref_put(&cycle_ref);
	}
	return NULL;
}

static void test_mode_switches_under_load(void **state)
{
	pthread_t t[HAMMERS];

	atomic_store(&cycle_releases, 0);
	atomic_store(&cycle_held, 0);
	zd_init_completion(&cycle_done);
	assert_int_equal(zd_percpu_ref_init(&cycle_ref, cycle_release,
					    ZD_PERCPU_REF_ALLOW_REINIT), 0);
	for (int i = 0; i < HAMMERS; i++)
		pthread_create(&t[i], NULL, switch_user, NULL);
	for (int i = 0; i < rounds(1000) / 4; i++) {
		zd_percpu_ref_switch_to_atomic_sync(&cycle_ref);
		zd_percpu_ref_switch_to_percpu(&cycle_ref);
	}
	for (int i = 0; i < HAMMERS; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(atomic_load(&cycle_releases), 0);
	zd_percpu_ref_kill(&cycle_ref);
	assert_true(zd_wait_for_completion_timeout(&cycle_done, 10000));
	assert_int_equal(atomic_load(&cycle_releases), 1);
	zd_percpu_ref_exit(&cycle_ref);
}

/* ---- exit and free right after the switch ----------------------------- */

static void *exit_after_sync(void *arg)
{
	for (int i = 0; i < rounds(2000); i++) {
		struct zd_percpu_ref *r = malloc(sizeof(*r));

		assert_int_equal(zd_percpu_ref_init(r, NULL, 0), 0);
		zd_percpu_ref_get(r);
		zd_percpu_ref_kill(r);
		zd_percpu_ref_put(r);
		zd_percpu_ref_switch_to_atomic_sync(r);
		assert_true(zd_percpu_ref_is_zero(r));
		/* legal now: zd-rcu must not read the ref after the sync
		 * (ASan reports it if it does) */
		zd_percpu_ref_exit(r);
		free(r);
	}
	return NULL;
}

/* Regression: zd-rcu once read the release callback from freed data. */
static void test_exit_and_free_after_sync(void **state)
{
	pthread_t t[2];

	pthread_create(&t[0], NULL, exit_after_sync, NULL);
	pthread_create(&t[1], NULL, exit_after_sync, NULL);
	pthread_join(t[0], NULL);
	pthread_join(t[1], NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_race_kill_vs_hammer, base_teardown),
		cmocka_unit_test_teardown(test_exited_threads_counts_kept, base_teardown),
		cmocka_unit_test_teardown(test_exit_during_kill, base_teardown),
		cmocka_unit_test_teardown(test_reinit_after_zero_under_load, base_teardown),
		cmocka_unit_test_teardown(test_mode_switches_under_load, base_teardown),
		cmocka_unit_test_teardown(test_exit_and_free_after_sync, base_teardown),
	};

	test_capture_warnings();
	return zd_run_tests(tests);
}
