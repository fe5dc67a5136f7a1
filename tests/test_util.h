/* SPDX-License-Identifier: MIT */
/* Helpers shared by the cmocka tests. */
#ifndef ZD_TEST_UTIL_H
#define ZD_TEST_UTIL_H

#include <setjmp.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>
#include <zonedev/zonedev.h>

#include "pcpu.h"		/* src/base: the counter areas */

/* Captures the last WARN so a test can assert what was reported. */
/* Every WARN since the last reset, one per line. */
static char test_last_warn[4096];

static void test_log(enum zd_log_level level, const char *msg, void *arg)
{
	size_t len = strlen(test_last_warn);

	if (level == ZD_LOG_WARN && len < sizeof(test_last_warn) - 1)
		snprintf(test_last_warn + len, sizeof(test_last_warn) - len,
			 "%s\n", msg);
}

static inline void test_capture_warnings(void)
{
	zd_set_log(test_log, NULL);
	test_last_warn[0] = 0;
}

/* Asserts that @stmt printed @n WARNs, one of them mentioning @needle. */
#define assert_warns_n(n, needle, stmt) do {				\
	unsigned long __w = zd_warn_count();				\
	test_last_warn[0] = 0;						\
	stmt;								\
	assert_int_equal(zd_warn_count(), __w + (n));			\
	if (!strstr(test_last_warn, needle))				\
		fail_msg("warning \"%s\" lacks \"%s\"", test_last_warn, needle); \
} while (0)

#define assert_warns(needle, stmt) assert_warns_n(1, needle, stmt)

#define assert_no_warn(stmt) do {					\
	unsigned long __w = zd_warn_count();				\
	stmt;								\
	if (zd_warn_count() != __w)					\
		fail_msg("unexpected warning: %s", test_last_warn);	\
} while (0)

/*
 * ZD_TEST_NO_MEMBARRIER=1: run as on a kernel without sys_membarrier, where
 * no thread gets a per-thread counter area.  The first area request (a
 * hotplug read lock sets its counters up) meets the armed site; a run that
 * did not, or whose thread got an area anyway, is refused rather than
 * passing in the normal mode.
 */
static inline bool test_no_membarrier(void)
{
	return getenv("ZD_TEST_NO_MEMBARRIER") != NULL;
}

static inline void test_without_membarrier(void)
{
	if (!test_no_membarrier())
		return;
	zd_fault_inject_site("pcpu.membarrier");
	zd_get_online_mems();
	zd_put_online_mems();
	if (zd_fault_inject_hits() != 1) {
		fprintf(stderr, "ZD_TEST_NO_MEMBARRIER: set up too early\n");
		exit(2);
	}
	zd_fault_inject_reset();
	if (zd_pcpu_this()) {
		fprintf(stderr, "ZD_TEST_NO_MEMBARRIER: a counter area anyway\n");
		exit(2);
	}
}

/* Runs @tests; ZD_TEST_FILTER=pattern runs only the matching ones. */
#define zd_run_tests(tests) ({						\
	const char *__f = getenv("ZD_TEST_FILTER");			\
	if (__f)							\
		cmocka_set_test_filter(__f);				\
	test_without_membarrier();					\
	cmocka_run_group_tests(tests, NULL, NULL);			\
})

static inline void test_sleep_us(long us)
{
	struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };

	nanosleep(&ts, NULL);
}

/* Polls @cond every millisecond for up to 10 s; its last value. */
#define wait_for(cond) ({						\
	int __n = 0;							\
	while (!(cond) && __n++ < 10000)				\
		test_sleep_us(1000);					\
	(cond);								\
})

/* Skips the running test, saying why (cmocka's skip() says nothing). */
#define skip_msg(fmt, ...) do {						\
	print_message("[  SKIP    ] " fmt "\n", ##__VA_ARGS__);		\
	skip();								\
} while (0)

#endif /* ZD_TEST_UTIL_H */
