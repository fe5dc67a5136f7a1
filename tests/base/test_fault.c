// SPDX-License-Identifier: MIT
/* Fault injection: nth, every-at-site, prefixes, counters, environment,
 * pause points. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "../test_util.h"
#include "base_util.h"
#include "fault.h"

static int reset(void **state)
{
	zd_fault_inject_reset();
	test_capture_warnings();
	return 0;
}

static void test_off_by_default(void **state)
{
	for (int i = 0; i < 100; i++)
		assert_false(zd_fault("a.b"));
	assert_int_equal(zd_fault_inject_calls(), 0);
	assert_int_equal(zd_fault_inject_hits(), 0);
}

static void test_nth_fails_once(void **state)
{
	assert_int_equal(zd_fault_inject_nth(3, NULL), 0);
	assert_false(zd_fault("x"));
	assert_false(zd_fault("y"));
	assert_true(zd_fault("z"));
	assert_false(zd_fault("x"));
	assert_int_equal(zd_fault_inject_calls(), 4);
	assert_int_equal(zd_fault_inject_hits(), 1);
}

static void test_nth_zero_counts_only(void **state)
{
	assert_int_equal(zd_fault_inject_nth(0, "dev"), 0);
	assert_false(zd_fault("devres.alloc"));
	assert_false(zd_fault("other"));
	assert_false(zd_fault("device.add"));
	assert_int_equal(zd_fault_inject_calls(), 2);
	assert_int_equal(zd_fault_inject_hits(), 0);
}

static void test_site_prefix_every(void **state)
{
	assert_int_equal(zd_fault_inject_site("pcpu."), 0);
	assert_true(zd_fault("pcpu.slot"));
	assert_true(zd_fault("pcpu.area"));
	assert_false(zd_fault("percpu_ref.data"));
	assert_int_equal(zd_fault_inject_hits(), 2);
}

static void test_nth_with_prefix(void **state)
{
	assert_int_equal(zd_fault_inject_nth(2, "b"), 0);
	assert_false(zd_fault("a"));
	assert_false(zd_fault("b1"));
	assert_false(zd_fault("a"));
	assert_true(zd_fault("b2"));
}

static void test_reset_disarms(void **state)
{
	zd_fault_inject_site(NULL);
	assert_true(zd_fault("anything"));
	zd_fault_inject_reset();
	assert_false(zd_fault("anything"));
}

static void test_zalloc_site(void **state)
{
	void *p;

	zd_fault_inject_site("t.alloc");
	errno = 0;
	assert_null(zd_zalloc("t.alloc", 16));
	assert_int_equal(errno, ENOMEM);
	zd_fault_inject_reset();
	p = zd_zalloc("t.alloc", 16);
	assert_non_null(p);
	assert_int_equal(((char *)p)[15], 0);
	free(p);
}

/* 99 bytes: longer than the 63 a prefix may have */
static const char *long_prefix(void)
{
	static char p[100];

	memset(p, 'x', sizeof(p) - 1);
	return p;
}

static void test_bad_prefix(void **state)
{
	const char *longp = long_prefix();

	assert_warns("longer than", assert_int_equal(
		zd_fault_inject_nth(1, longp), -EINVAL));
	assert_warns("longer than", assert_int_equal(
		zd_fault_inject_site(longp), -EINVAL));
	assert_warns("longer than", assert_int_equal(
		zd_fault_inject_pause(longp, 1), -EINVAL));
}

/* ---- pause points ---- */

static void test_points_do_nothing_unless_pausing(void **state)
{
	zd_fault_inject_site(NULL);
	zd_fault_point("p");		/* a held thread would count */
	assert_int_equal(zd_fault_inject_calls(), 0);
	assert_true(zd_fault("p"));
}

static void test_failure_sites_do_not_fail_when_pausing(void **state)
{
	assert_int_equal(zd_fault_inject_pause(NULL, 10000), 0);
	assert_false(zd_fault("a"));
	assert_int_equal(zd_fault_inject_calls(), 0);
	assert_int_equal(zd_fault_inject_hits(), 0);
}

struct held {
	const char *site;
	atomic_bool passed;
};

static void *reach_point(void *arg)
{
	struct held *h = arg;

	zd_fault_point(h->site);
	atomic_store(&h->passed, true);
	return NULL;
}

static void hold(pthread_t *t, struct held *h, const char *site)
{
	*h = (struct held){ .site = site };
	assert_int_equal(pthread_create(t, NULL, reach_point, h), 0);
}

static void test_pause_holds_until_resumed(void **state)
{
	struct held h;
	pthread_t t;

	assert_int_equal(zd_fault_inject_pause("x.", 10000), 0);
	zd_fault_point("y.other");	/* not matching: goes on */
	hold(&t, &h, "x.point");
	assert_true(wait_for(zd_fault_inject_calls() == 1));
	test_sleep_us(20000);
	assert_false(atomic_load(&h.passed));
	zd_fault_inject_resume();
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_true(h.passed);
	assert_int_equal(zd_fault_inject_hits(), 0);
}

static void test_pause_ends_at_its_timeout(void **state)
{
	struct held h;
	pthread_t t;

	assert_int_equal(zd_fault_inject_pause("x", 20), 0);
	hold(&t, &h, "x");
	assert_int_equal(pthread_join(t, NULL), 0);	/* no resume */
	assert_int_equal(zd_fault_inject_calls(), 1);
	/* a re-arm leaves a held thread its own deadline */
	assert_int_equal(zd_fault_inject_pause("x", 10000), 0);
	hold(&t, &h, "x");
	assert_true(wait_for(zd_fault_inject_calls() == 1));
	assert_int_equal(zd_fault_inject_pause("x", 0), 0);
	test_sleep_us(20000);
	assert_false(atomic_load(&h.passed));
	zd_fault_inject_resume();
	assert_int_equal(pthread_join(t, NULL), 0);
}

static void test_refused_rearm_keeps_the_pause(void **state)
{
	struct held h;
	pthread_t t;

	assert_int_equal(zd_fault_inject_pause("x", 10000), 0);
	assert_warns("longer than", assert_int_equal(
		zd_fault_inject_pause(long_prefix(), 1), -EINVAL));
	hold(&t, &h, "x");		/* held for 10 s, not 1 ms */
	assert_true(wait_for(zd_fault_inject_calls() == 1));
	test_sleep_us(20000);
	assert_false(atomic_load(&h.passed));
	zd_fault_inject_resume();
	assert_int_equal(pthread_join(t, NULL), 0);
}

struct evaluator {
	atomic_bool stop;
	unsigned long hits;
};

static void *evaluate(void *arg)
{
	struct evaluator *e = arg;

	while (!atomic_load(&e->stop))
		e->hits += zd_fault("rearm.a");
	return NULL;
}

/* A test re-arms while another thread evaluates a site: no data race
 * (ThreadSanitizer), and the site sees one armed prefix or the other. */
static void test_rearm_while_a_site_is_evaluated(void **state)
{
	struct evaluator e = { 0 };
	pthread_t t;

	assert_int_equal(pthread_create(&t, NULL, evaluate, &e), 0);
	for (int i = 0; i < 2000; i++)
		assert_int_equal(zd_fault_inject_site(i & 1 ? "rearm.a" : "rearm.b"), 0);
	zd_fault_inject_reset();
	atomic_store(&e.stop, true);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(zd_fault_inject_hits(), 0);
}

/* Each distinct prefix is kept for the process: past the pool, arming a
 * new one is refused, an old one still arms.  Last: it fills the pool. */
static void test_prefix_pool_full(void **state)
{
	char name[16];
	int err = 0, i;

	for (i = 0; i < 200 && !err; i++) {
		snprintf(name, sizeof(name), "pool.%d", i);
		err = zd_fault_inject_site(name);
		if (err)
			break;
	}
	assert_int_equal(err, -ENOSPC);
	assert_true(i < 200);
	assert_int_equal(zd_fault_inject_site("pool.1"), 0);
	assert_true(zd_fault("pool.1"));
	assert_warns("distinct site prefixes",
		     assert_int_equal(zd_fault_inject_site("pool.new"), -ENOSPC));
	assert_true(zd_fault("pool.1"));	/* still armed as before */
}

/* Run as "test_fault env" with ZONEDEV_FAULT=nth=2,site=env. */
static void test_armed_from_environment(void **state)
{
	assert_false(zd_fault("env.a"));
	assert_false(zd_fault("other"));
	assert_true(zd_fault("env.b"));
	assert_false(zd_fault("env.c"));
	assert_int_equal(zd_fault_inject_hits(), 1);
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "env") == 0) {
		const struct CMUnitTest env[] = {
			cmocka_unit_test_teardown(test_armed_from_environment, base_teardown),
		};
		return cmocka_run_group_tests(env, NULL, NULL);
	}

	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, reset, base_teardown)
		T(test_off_by_default),
		T(test_nth_fails_once),
		T(test_nth_zero_counts_only),
		T(test_site_prefix_every),
		T(test_nth_with_prefix),
		T(test_reset_disarms),
		T(test_zalloc_site),
		T(test_bad_prefix),
		T(test_points_do_nothing_unless_pausing),
		T(test_failure_sites_do_not_fail_when_pausing),
		T(test_pause_holds_until_resumed),
		T(test_pause_ends_at_its_timeout),
		T(test_refused_rearm_keeps_the_pause),
		T(test_rearm_while_a_site_is_evaluated),
		T(test_prefix_pool_full),
	};

	return zd_run_tests(tests);
}
