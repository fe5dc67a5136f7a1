// SPDX-License-Identifier: MIT
/* Fault injection: nth, every-at-site, prefixes, counters, environment. */
#include <errno.h>
#include <stdlib.h>

#include "../test_util.h"
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

static void test_bad_prefix(void **state)
{
	char longp[100];

	memset(longp, 'x', sizeof(longp) - 1);
	longp[99] = 0;
	assert_warns("longer than", assert_int_equal(
		zd_fault_inject_nth(1, longp), -EINVAL));
	assert_warns("longer than", assert_int_equal(
		zd_fault_inject_site(longp), -EINVAL));
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
			cmocka_unit_test(test_armed_from_environment),
		};
		return cmocka_run_group_tests(env, NULL, NULL);
	}

	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup(fn, reset)
		T(test_off_by_default),
		T(test_nth_fails_once),
		T(test_nth_zero_counts_only),
		T(test_site_prefix_every),
		T(test_nth_with_prefix),
		T(test_reset_disarms),
		T(test_zalloc_site),
		T(test_bad_prefix),
	};

	return zd_run_tests(tests);
}
