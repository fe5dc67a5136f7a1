// SPDX-License-Identifier: MIT
/* percpu_ref: every call, every flag, every misuse, single-threaded. */
#include <errno.h>
#include <limits.h>
#include <pthread.h>

#include "../test_util.h"
#include "base_util.h"

static atomic_int released;
static int confirmed;
static struct zd_percpu_ref *confirmed_ref;
static bool tryget_live_in_confirm;

static void release_cb(struct zd_percpu_ref *ref)
{
	released++;
}

static void confirm_cb(struct zd_percpu_ref *ref)
{
	confirmed++;
	confirmed_ref = ref;
	/* runs on zd-rcu: record, the test thread asserts */
	tryget_live_in_confirm = zd_percpu_ref_tryget_live(ref);
	if (tryget_live_in_confirm)
		zd_percpu_ref_put(ref);
}

/* A release made due by a switch runs on zd-rcu just after it: wait a
 * little for it, then demand the exact count. */
static void assert_released(int n)
{
	for (int i = 0; i < 5000 && atomic_load(&released) < n; i++)
		test_sleep_us(1000);
	assert_int_equal(atomic_load(&released), n);
}

static int reset(void **state)
{
	released = confirmed = 0;
	confirmed_ref = NULL;
	test_capture_warnings();
	return 0;
}

/* Kill and wait for the switch, so the count can be inspected. */
static void kill_sync(struct zd_percpu_ref *ref)
{
	zd_percpu_ref_kill(ref);
	zd_percpu_ref_switch_to_atomic_sync(ref);
}

static void test_init_exit(void **state)
{
	struct zd_percpu_ref ref;

	assert_int_equal(zd_percpu_ref_init(&ref, release_cb, 0), 0);
	assert_false(zd_percpu_ref_is_dying(&ref));
	assert_false(zd_percpu_ref_is_zero(&ref));
	kill_sync(&ref);
	assert_true(zd_percpu_ref_is_dying(&ref));
	assert_true(zd_percpu_ref_is_zero(&ref));
	assert_released(1);
	zd_percpu_ref_exit(&ref);
	/* is_zero stays valid after exit */
	assert_true(zd_percpu_ref_is_zero(&ref));
}

static void test_get_put_counts(void **state)
{
	struct zd_percpu_ref ref;

	assert_int_equal(zd_percpu_ref_init(&ref, release_cb, 0), 0);
	zd_percpu_ref_get(&ref);
	zd_percpu_ref_get_many(&ref, 10);
	assert_true(zd_percpu_ref_tryget(&ref));
	assert_true(zd_percpu_ref_tryget_many(&ref, 5));
	assert_true(zd_percpu_ref_tryget_live(&ref));
	zd_percpu_ref_put_many(&ref, 10);
	kill_sync(&ref);
	/* 1 + 1 + 5 + 1 = 8 references remain after the initial one */
	assert_false(zd_percpu_ref_is_zero(&ref));
	assert_false(zd_percpu_ref_tryget_live(&ref));
	assert_true(zd_percpu_ref_tryget(&ref));	/* not zero: allowed */
	zd_percpu_ref_put_many(&ref, 8);
	assert_int_equal(released, 0);
	zd_percpu_ref_put(&ref);
	assert_released(1);
	assert_true(zd_percpu_ref_is_zero(&ref));
	assert_false(zd_percpu_ref_tryget(&ref));
	zd_percpu_ref_exit(&ref);
}

static void test_kill_and_confirm(void **state)
{
	struct zd_percpu_ref ref;

	assert_int_equal(zd_percpu_ref_init(&ref, release_cb, 0), 0);
	zd_percpu_ref_get(&ref);
	zd_percpu_ref_kill_and_confirm(&ref, confirm_cb);
	zd_percpu_ref_switch_to_atomic_sync(&ref);
	assert_int_equal(confirmed, 1);
	assert_ptr_equal(confirmed_ref, &ref);
	/* the guarantee confirm exists for */
	assert_false(tryget_live_in_confirm);
	assert_false(zd_percpu_ref_tryget_live(&ref));
	assert_int_equal(released, 0);
	zd_percpu_ref_put(&ref);
	assert_released(1);
	zd_percpu_ref_exit(&ref);
}

static void test_init_atomic(void **state)
{
	struct zd_percpu_ref ref;

	assert_int_equal(zd_percpu_ref_init(&ref, release_cb,
					    ZD_PERCPU_REF_INIT_ATOMIC), 0);
	assert_true(atomic_load(&ref.percpu_count_ptr) & ZD_PERCPU_REF_ATOMIC);
	zd_percpu_ref_get(&ref);
	zd_percpu_ref_put(&ref);
	/* confirm runs at once: already atomic */
	zd_percpu_ref_kill_and_confirm(&ref, confirm_cb);
	assert_int_equal(confirmed, 1);
	assert_released(1);
	/* INIT_ATOMIC implies ALLOW_REINIT */
	zd_percpu_ref_reinit(&ref);
	assert_false(zd_percpu_ref_is_dying(&ref));
	assert_true(atomic_load(&ref.percpu_count_ptr) & ZD_PERCPU_REF_ATOMIC);
	zd_percpu_ref_switch_to_percpu(&ref);
	assert_false(atomic_load(&ref.percpu_count_ptr) & ZD_PERCPU_REF_ATOMIC);
	kill_sync(&ref);
	assert_released(2);
	zd_percpu_ref_exit(&ref);
}

static void test_init_dead_reinit(void **state)
{
	struct zd_percpu_ref ref;

	assert_int_equal(zd_percpu_ref_init(&ref, release_cb,
					    ZD_PERCPU_REF_INIT_DEAD), 0);
	assert_true(zd_percpu_ref_is_dying(&ref));
	assert_true(zd_percpu_ref_is_zero(&ref));
	assert_false(zd_percpu_ref_tryget(&ref));
	assert_false(zd_percpu_ref_tryget_live(&ref));
	assert_no_warn(zd_percpu_ref_reinit(&ref));
	/* reinit ignores INIT_DEAD and, with no INIT_ATOMIC, goes per-thread */
	assert_false(zd_percpu_ref_is_dying(&ref));
	assert_false(atomic_load(&ref.percpu_count_ptr) & ZD_PERCPU_REF_ATOMIC);
	assert_true(zd_percpu_ref_tryget_live(&ref));
	zd_percpu_ref_put(&ref);
	kill_sync(&ref);
	assert_released(1);
	/* reinit after zero, again, in a loop */
	for (int i = 0; i < 100; i++) {
		zd_percpu_ref_reinit(&ref);
		zd_percpu_ref_get(&ref);
		zd_percpu_ref_put(&ref);
		kill_sync(&ref);
	}
	assert_released(101);
	zd_percpu_ref_exit(&ref);
}

static void test_allow_reinit_switches(void **state)
{
	struct zd_percpu_ref ref;

	assert_int_equal(zd_percpu_ref_init(&ref, release_cb,
					    ZD_PERCPU_REF_ALLOW_REINIT), 0);
	zd_percpu_ref_get_many(&ref, 3);
	zd_percpu_ref_switch_to_atomic(&ref, confirm_cb);
	zd_percpu_ref_switch_to_atomic_sync(&ref);
	assert_int_equal(confirmed, 1);
	assert_true(tryget_live_in_confirm);	/* switched, not killed */
	assert_false(zd_percpu_ref_is_dying(&ref));
	/* sticky atomic: a kill/reinit cycle stays atomic */
	zd_percpu_ref_put_many(&ref, 3);
	zd_percpu_ref_kill(&ref);
	assert_released(1);
	zd_percpu_ref_reinit(&ref);
	assert_true(atomic_load(&ref.percpu_count_ptr) & ZD_PERCPU_REF_ATOMIC);
	zd_percpu_ref_switch_to_percpu(&ref);
	assert_false(atomic_load(&ref.percpu_count_ptr) & ZD_PERCPU_REF_ATOMIC);
	zd_percpu_ref_get(&ref);
	zd_percpu_ref_put(&ref);
	kill_sync(&ref);
	assert_released(2);
	zd_percpu_ref_exit(&ref);
}

static void test_switch_to_percpu_refused_without_reinit(void **state)
{
	struct zd_percpu_ref ref;

	assert_int_equal(zd_percpu_ref_init(&ref, release_cb, 0), 0);
	zd_percpu_ref_switch_to_atomic_sync(&ref);
	/* without ALLOW_REINIT the counter is gone after the switch */
	assert_warns("ALLOW_REINIT", zd_percpu_ref_switch_to_percpu(&ref));
	assert_true(atomic_load(&ref.percpu_count_ptr) & ZD_PERCPU_REF_ATOMIC);
	assert_false(zd_percpu_ref_is_dying(&ref));
	zd_percpu_ref_kill(&ref);
	assert_released(1);
	zd_percpu_ref_exit(&ref);
}

static void test_resurrect(void **state)
{
	struct zd_percpu_ref ref;

	assert_int_equal(zd_percpu_ref_init(&ref, release_cb,
					    ZD_PERCPU_REF_ALLOW_REINIT), 0);
	zd_percpu_ref_get(&ref);		/* keeps it from zero */
	zd_percpu_ref_kill(&ref);
	assert_false(zd_percpu_ref_tryget_live(&ref));
	zd_percpu_ref_resurrect(&ref);
	assert_false(zd_percpu_ref_is_dying(&ref));
	assert_true(zd_percpu_ref_tryget_live(&ref));
	zd_percpu_ref_put_many(&ref, 2);
	assert_int_equal(released, 0);
	kill_sync(&ref);
	assert_released(1);
	assert_warns("not dying", ({ zd_percpu_ref_reinit(&ref);
				     zd_percpu_ref_resurrect(&ref); }));
	kill_sync(&ref);
	zd_percpu_ref_exit(&ref);
}

static void *put_one(void *ref)
{
	zd_percpu_ref_put(ref);
	return NULL;
}

static void test_cross_thread_put(void **state)
{
	struct zd_percpu_ref ref;
	pthread_t t;

	assert_int_equal(zd_percpu_ref_init(&ref, release_cb, 0), 0);
	zd_percpu_ref_get_many(&ref, 7);
	/* another thread puts what this one got: slots go negative there */
	assert_int_equal(pthread_create(&t, NULL, put_one, &ref), 0);
	pthread_join(t, NULL);
	kill_sync(&ref);
	zd_percpu_ref_put_many(&ref, 5);
	assert_int_equal(released, 0);
	zd_percpu_ref_put(&ref);
	assert_released(1);
	zd_percpu_ref_exit(&ref);
}

static void test_misuse_null(void **state)
{
	assert_warns("NULL percpu_ref",
		     assert_int_equal(zd_percpu_ref_init(NULL, NULL, 0), -EINVAL));
	assert_warns("NULL percpu_ref", zd_percpu_ref_get(NULL));
	assert_warns("NULL percpu_ref", zd_percpu_ref_get_many(NULL, 2));
	assert_warns("NULL percpu_ref", zd_percpu_ref_put(NULL));
	assert_warns("NULL percpu_ref", zd_percpu_ref_put_many(NULL, 2));
	assert_warns("NULL percpu_ref", assert_false(zd_percpu_ref_tryget(NULL)));
	assert_warns("NULL percpu_ref",
		     assert_false(zd_percpu_ref_tryget_many(NULL, 3)));
	assert_warns("NULL percpu_ref",
		     assert_false(zd_percpu_ref_tryget_live(NULL)));
	assert_warns("NULL percpu_ref", zd_percpu_ref_kill(NULL));
	assert_warns("NULL percpu_ref", zd_percpu_ref_kill_and_confirm(NULL, NULL));
	assert_warns("NULL percpu_ref", zd_percpu_ref_switch_to_atomic(NULL, NULL));
	assert_warns("NULL percpu_ref", zd_percpu_ref_switch_to_atomic_sync(NULL));
	assert_warns("NULL percpu_ref", zd_percpu_ref_switch_to_percpu(NULL));
	assert_warns("NULL percpu_ref", zd_percpu_ref_resurrect(NULL));
	assert_warns("NULL percpu_ref", zd_percpu_ref_reinit(NULL));
	assert_warns("NULL percpu_ref", zd_percpu_ref_exit(NULL));
	assert_warns("NULL percpu_ref", assert_false(zd_percpu_ref_is_zero(NULL)));
	assert_warns("NULL percpu_ref", assert_false(zd_percpu_ref_is_dying(NULL)));
}

static void test_misuse_bad_flags(void **state)
{
	struct zd_percpu_ref ref;

	assert_warns("unknown flags",
		     assert_int_equal(zd_percpu_ref_init(&ref, NULL, 1u << 7),
				      -EINVAL));
}

static void test_misuse_after_exit(void **state)
{
	struct zd_percpu_ref ref;

	assert_int_equal(zd_percpu_ref_init(&ref, release_cb, 0), 0);
	kill_sync(&ref);
	zd_percpu_ref_exit(&ref);
	assert_warns("used after exit", zd_percpu_ref_get(&ref));
	assert_warns("used after exit", zd_percpu_ref_put(&ref));
	assert_warns("used after exit", assert_false(zd_percpu_ref_tryget(&ref)));
	assert_warns("used after exit", zd_percpu_ref_kill(&ref));
	assert_warns("used after exit", zd_percpu_ref_reinit(&ref));
	assert_warns("used after exit", zd_percpu_ref_switch_to_percpu(&ref));
	assert_released(1);
	/* a second exit is harmless */
	assert_no_warn(zd_percpu_ref_exit(&ref));
}

static void test_misuse_put_below_zero(void **state)
{
	struct zd_percpu_ref ref;

	assert_int_equal(zd_percpu_ref_init(&ref, release_cb, 0), 0);
	zd_percpu_ref_get(&ref);
	kill_sync(&ref);
	assert_warns("below zero", zd_percpu_ref_put_many(&ref, 2));
	/* the bad put was undone: the count is intact and release not run */
	assert_int_equal(released, 0);
	assert_false(zd_percpu_ref_is_zero(&ref));
	zd_percpu_ref_put(&ref);
	assert_released(1);
	assert_warns("below zero", zd_percpu_ref_put(&ref));
	assert_released(1);
	assert_true(zd_percpu_ref_is_zero(&ref));
	assert_warns("after it reached zero", zd_percpu_ref_get(&ref));
	zd_percpu_ref_exit(&ref);
}

/* put_many(ULONG_MAX) added one in either mode instead of warning. */
static void test_misuse_count_out_of_range(void **state)
{
	static struct zd_percpu_ref ref;

	assert_int_equal(zd_percpu_ref_init(&ref, release_cb, 0), 0);
	assert_warns("out of range", zd_percpu_ref_put_many(&ref, ULONG_MAX));
	assert_warns("out of range", zd_percpu_ref_put_many(&ref, 1ul << 62));
	assert_warns("out of range", zd_percpu_ref_get_many(&ref, -2ul));
	assert_warns("out of range",
		     assert_false(zd_percpu_ref_tryget_many(&ref, ULONG_MAX)));
	/* one get beyond the initial reference: after kill, one put ends it */
	zd_percpu_ref_get(&ref);
	kill_sync(&ref);
	assert_false(zd_percpu_ref_is_zero(&ref));
	assert_warns("out of range", zd_percpu_ref_put_many(&ref, ULONG_MAX));
	assert_warns("out of range", zd_percpu_ref_get_many(&ref, ULONG_MAX));
	assert_false(zd_percpu_ref_is_zero(&ref));
	assert_int_equal(released, 0);
	assert_no_warn(zd_percpu_ref_put(&ref));
	assert_released(1);
	zd_percpu_ref_exit(&ref);
}

static void test_misuse_percpu_underflow_caught_at_switch(void **state)
{
	struct zd_percpu_ref ref;

	assert_int_equal(zd_percpu_ref_init(&ref, release_cb, 0), 0);
	/* per-thread mode cannot see zero; the fold reports it */
	zd_percpu_ref_put_many(&ref, 3);
	unsigned long w = zd_warn_count();

	/* the fold warns; later puts (initial, switch) go below zero, in
	 * whichever order kill and zd-rcu reach them */
	char seen[sizeof(test_last_warn)];

	test_reset_warnings();
	kill_sync(&ref);
	assert_true(zd_warn_count() >= w + 2);
	assert_true(test_warned("more puts than gets", seen, sizeof(seen)));
	assert_true(test_warned("below zero", seen, sizeof(seen)));
	assert_int_equal(released, 0);
	zd_percpu_ref_exit(&ref);
}

static void test_misuse_double_kill(void **state)
{
	struct zd_percpu_ref ref;

	assert_int_equal(zd_percpu_ref_init(&ref, release_cb, 0), 0);
	zd_percpu_ref_get(&ref);
	zd_percpu_ref_kill(&ref);
	assert_warns("more than once", zd_percpu_ref_kill(&ref));
	zd_percpu_ref_switch_to_atomic_sync(&ref);
	/* the second kill did not drop a second reference */
	assert_false(zd_percpu_ref_is_zero(&ref));
	assert_int_equal(released, 0);
	zd_percpu_ref_put(&ref);
	assert_released(1);
	zd_percpu_ref_exit(&ref);
}

static void test_misuse_reinit_not_zero(void **state)
{
	struct zd_percpu_ref ref;

	assert_int_equal(zd_percpu_ref_init(&ref, release_cb,
					    ZD_PERCPU_REF_ALLOW_REINIT), 0);
	zd_percpu_ref_get(&ref);
	kill_sync(&ref);
	assert_warns("not zero", zd_percpu_ref_reinit(&ref));
	zd_percpu_ref_put(&ref);
	kill_sync(&ref);
	assert_released(1);
	zd_percpu_ref_exit(&ref);
}

static struct zd_percpu_ref *slow_ref;

static void slow_confirm(struct zd_percpu_ref *ref)
{
	test_sleep_us(20000);
}

static void *exit_during_switch(void *arg)
{
	test_sleep_us(5000);
	zd_percpu_ref_exit(slow_ref);
	return NULL;
}

static void test_misuse_exit_during_switch(void **state)
{
	struct zd_percpu_ref ref;
	pthread_t t;

	assert_int_equal(zd_percpu_ref_init(&ref, release_cb, 0), 0);
	slow_ref = &ref;
	zd_percpu_ref_get(&ref);
	zd_percpu_ref_kill_and_confirm(&ref, slow_confirm);
	assert_warns("in flight", ({
		pthread_create(&t, NULL, exit_during_switch, NULL);
		pthread_join(t, NULL); }));
	zd_percpu_ref_switch_to_atomic_sync(&ref);
	zd_percpu_ref_put(&ref);
	assert_released(1);
	zd_percpu_ref_exit(&ref);
}

static void test_fault_injection_init(void **state)
{
	struct zd_percpu_ref ref;
	unsigned long steps;

	zd_fault_inject_nth(0, NULL);
	assert_int_equal(zd_percpu_ref_init(&ref, NULL, 0), 0);
	steps = zd_fault_inject_calls();
	assert_true(steps >= 2);
	zd_percpu_ref_kill(&ref);
	zd_percpu_ref_switch_to_atomic_sync(&ref);
	zd_percpu_ref_exit(&ref);
	for (unsigned long i = 1; i <= steps; i++) {
		zd_fault_inject_nth(i, NULL);
		assert_int_equal(zd_percpu_ref_init(&ref, NULL, 0), -ENOMEM);
		assert_int_equal(zd_fault_inject_hits(), 1);
	}
	zd_fault_inject_reset();
	/* nothing leaked: the slot freed on failure is the one reused now */
	for (int i = 0; i < 3; i++) {
		uintptr_t first, again;

		assert_int_equal(zd_percpu_ref_init(&ref, NULL, 0), 0);
		first = atomic_load(&ref.percpu_count_ptr);
		zd_percpu_ref_kill(&ref);
		zd_percpu_ref_switch_to_atomic_sync(&ref);
		zd_percpu_ref_exit(&ref);
		zd_fault_inject_nth(2, NULL);
		assert_int_equal(zd_percpu_ref_init(&ref, NULL, 0), -ENOMEM);
		zd_fault_inject_reset();
		assert_int_equal(zd_percpu_ref_init(&ref, NULL, 0), 0);
		again = atomic_load(&ref.percpu_count_ptr);
		assert_int_equal(first, again);
		zd_percpu_ref_kill(&ref);
		zd_percpu_ref_switch_to_atomic_sync(&ref);
		zd_percpu_ref_exit(&ref);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, reset, base_teardown)
		T(test_init_exit),
		T(test_get_put_counts),
		T(test_kill_and_confirm),
		T(test_init_atomic),
		T(test_init_dead_reinit),
		T(test_allow_reinit_switches),
		T(test_switch_to_percpu_refused_without_reinit),
		T(test_resurrect),
		T(test_cross_thread_put),
		T(test_misuse_null),
		T(test_misuse_bad_flags),
		T(test_misuse_after_exit),
		T(test_misuse_put_below_zero),
		T(test_misuse_percpu_underflow_caught_at_switch),
		T(test_misuse_count_out_of_range),
		T(test_misuse_double_kill),
		T(test_misuse_reinit_not_zero),
		T(test_misuse_exit_during_switch),
		T(test_fault_injection_init),
	};

	return zd_run_tests(tests);
}
