// SPDX-License-Identifier: MIT
/* Completions: counting, complete_all, timeouts, misuse, wake-ups. */
#include <pthread.h>
#include <stdlib.h>

#include "../test_util.h"
#include "base_util.h"

static void test_static_init_not_done(void **state)
{
	ZD_DECLARE_COMPLETION(c);

	assert_false(zd_completion_done(&c));
	assert_false(zd_try_wait_for_completion(&c));
	assert_int_equal(zd_wait_for_completion_timeout(&c, 1), 0);
}

static void test_complete_counts(void **state)
{
	struct zd_completion c;

	zd_init_completion(&c);
	zd_complete(&c);
	zd_complete(&c);
	assert_true(zd_completion_done(&c));
	assert_true(zd_try_wait_for_completion(&c));
	assert_true(zd_completion_done(&c));
	zd_wait_for_completion(&c);
	assert_false(zd_completion_done(&c));
	assert_false(zd_try_wait_for_completion(&c));
}

static void test_complete_all_sticks_until_reinit(void **state)
{
	struct zd_completion c;

	zd_init_completion(&c);
	zd_complete_all(&c);
	for (int i = 0; i < 100; i++)
		zd_wait_for_completion(&c);
	assert_true(zd_try_wait_for_completion(&c));
	assert_true(zd_wait_for_completion_timeout(&c, 1000) >= 1);
	/* complete after complete_all stays "all" */
	zd_complete(&c);
	zd_wait_for_completion(&c);
	assert_true(zd_completion_done(&c));
	zd_reinit_completion(&c);
	assert_false(zd_completion_done(&c));
	assert_false(zd_try_wait_for_completion(&c));
}

static void test_timeout_returns_zero_then_remaining(void **state)
{
	struct zd_completion c;
	int64_t t0 = 0;
	struct timespec ts;

	zd_init_completion(&c);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	t0 = ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	assert_int_equal(zd_wait_for_completion_timeout(&c, 30), 0);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	assert_true(ts.tv_sec * 1000 + ts.tv_nsec / 1000000 - t0 >= 29);
	zd_complete(&c);
	unsigned long left = zd_wait_for_completion_timeout(&c, 5000);
	assert_true(left >= 1 && left <= 5000);
}

struct waiter_arg {
	struct zd_completion *c;
	atomic_int *woken;
};

static void *waiter(void *p)
{
	struct waiter_arg *a = p;

	zd_wait_for_completion(a->c);
	atomic_fetch_add(a->woken, 1);
	return NULL;
}

static void test_complete_wakes_exactly_one(void **state)
{
	enum { N = 4 };
	struct zd_completion c;
	atomic_int woken = 0;
	struct waiter_arg a = { &c, &woken };
	pthread_t t[N];

	zd_init_completion(&c);
	for (int i = 0; i < N; i++)
		pthread_create(&t[i], NULL, waiter, &a);
	test_sleep_us(20000);
	assert_int_equal(atomic_load(&woken), 0);
	zd_complete(&c);
	test_sleep_us(20000);
	assert_int_equal(atomic_load(&woken), 1);
	zd_complete_all(&c);
	for (int i = 0; i < N; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(atomic_load(&woken), N);
}

/* The waiter frees the completion as soon as its wait returns; the
 * completer must not touch it afterwards (ASan catches it if it does). */
static void *complete_heap(void *p)
{
	zd_complete(p);
	return NULL;
}

static void test_waiter_may_free_at_once(void **state)
{
	for (int i = 0; i < 2000; i++) {
		struct zd_completion *c = malloc(sizeof(*c));
		pthread_t t;

		zd_init_completion(c);
		pthread_create(&t, NULL, complete_heap, c);
		zd_wait_for_completion(c);
		free(c);
		pthread_join(t, NULL);
	}
}

static struct zd_completion ping, pong;

static void *ponger(void *p)
{
	for (int i = 0; i < 10000; i++) {
		zd_wait_for_completion(&ping);
		zd_complete(&pong);
	}
	return NULL;
}

static void test_ping_pong(void **state)
{
	pthread_t t;

	zd_init_completion(&ping);
	zd_init_completion(&pong);
	pthread_create(&t, NULL, ponger, NULL);
	for (int i = 0; i < 10000; i++) {
		zd_complete(&ping);
		zd_wait_for_completion(&pong);
	}
	pthread_join(t, NULL);
	assert_false(zd_completion_done(&ping));
	assert_false(zd_completion_done(&pong));
}

static void test_misuse_null(void **state)
{
	assert_warns("NULL completion", zd_init_completion(NULL));
	assert_warns("NULL completion", zd_reinit_completion(NULL));
	assert_warns("NULL completion", zd_complete(NULL));
	assert_warns("NULL completion", zd_complete_all(NULL));
	assert_warns("NULL completion", zd_wait_for_completion(NULL));
	assert_warns("NULL completion",
		     assert_int_equal(zd_wait_for_completion_timeout(NULL, 5), 0));
	assert_warns("NULL completion",
		     assert_false(zd_try_wait_for_completion(NULL)));
	assert_warns("NULL completion", assert_false(zd_completion_done(NULL)));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_static_init_not_done, base_teardown),
		cmocka_unit_test_teardown(test_complete_counts, base_teardown),
		cmocka_unit_test_teardown(test_complete_all_sticks_until_reinit, base_teardown),
		cmocka_unit_test_teardown(test_timeout_returns_zero_then_remaining, base_teardown),
		cmocka_unit_test_teardown(test_complete_wakes_exactly_one, base_teardown),
		cmocka_unit_test_teardown(test_waiter_may_free_at_once, base_teardown),
		cmocka_unit_test_teardown(test_ping_pong, base_teardown),
		cmocka_unit_test_teardown(test_misuse_null, base_teardown),
	};

	test_capture_warnings();
	return zd_run_tests(tests);
}
