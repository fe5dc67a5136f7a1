/* SPDX-License-Identifier: MIT */
/* Helpers shared by the cmocka tests. */
#ifndef ZD_TEST_UTIL_H
#define ZD_TEST_UTIL_H

#include <errno.h>
#include <pthread.h>
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

/* Every WARN since the last reset, one per line.  The zd-rcu thread may
 * warn (a release or switch it runs) while a test reads: a lock. */
static char test_last_warn[4096];
static pthread_mutex_t test_warn_lock = PTHREAD_MUTEX_INITIALIZER;

static void test_log(enum zd_log_level level, const char *msg, void *arg)
{
	size_t len;

	if (level != ZD_LOG_WARN)
		return;
	pthread_mutex_lock(&test_warn_lock);
	len = strlen(test_last_warn);
	if (len < sizeof(test_last_warn) - 1)
		snprintf(test_last_warn + len, sizeof(test_last_warn) - len,
			 "%s\n", msg);
	pthread_mutex_unlock(&test_warn_lock);
}

static inline void test_reset_warnings(void)
{
	pthread_mutex_lock(&test_warn_lock);
	test_last_warn[0] = 0;
	pthread_mutex_unlock(&test_warn_lock);
}

/* Whether a WARN since the last reset mentions @needle; a copy of them
 * all in @copy for the message. */
static inline bool test_warned(const char *needle, char *copy, size_t size)
{
	bool found;

	pthread_mutex_lock(&test_warn_lock);
	found = strstr(test_last_warn, needle) != NULL;
	snprintf(copy, size, "%s", test_last_warn);
	pthread_mutex_unlock(&test_warn_lock);
	return found;
}

static inline void test_capture_warnings(void)
{
	zd_set_log(test_log, NULL);
	test_reset_warnings();
}

/* Asserts that @stmt printed @n WARNs, one of them mentioning @needle. */
#define assert_warns_n(n, needle, stmt) do {				\
	unsigned long __w = zd_warn_count();				\
	char __seen[sizeof(test_last_warn)];				\
	test_reset_warnings();						\
	stmt;								\
	assert_int_equal(zd_warn_count(), __w + (n));			\
	if (!test_warned(needle, __seen, sizeof(__seen)))		\
		fail_msg("warning \"%s\" lacks \"%s\"", __seen, needle);	\
} while (0)

#define assert_warns(needle, stmt) assert_warns_n(1, needle, stmt)

#define assert_no_warn(stmt) do {					\
	unsigned long __w = zd_warn_count();				\
	char __seen[sizeof(test_last_warn)];				\
	stmt;								\
	if (zd_warn_count() != __w) {					\
		test_warned("", __seen, sizeof(__seen));		\
		fail_msg("unexpected warning: %s", __seen);		\
	}								\
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

/* Whether @filter (a cmocka pattern: * and ? match any) names a test of
 * @tests; a name without wildcards must be one of them. */
static inline bool test_filter_matches(const struct CMUnitTest *tests, size_t n,
				       const char *filter)
{
	if (strpbrk(filter, "*?"))
		return true;
	for (size_t i = 0; i < n; i++)
		if (!strcmp(tests[i].name, filter))
			return true;
	return false;
}

/* Runs @tests; ZD_TEST_FILTER=pattern runs only the matching ones (a
 * name that matches none is a failure: a test renamed or deleted). */
#define zd_run_tests(tests) ({						\
	const char *__f = getenv("ZD_TEST_FILTER");			\
	int __r = 1;							\
	if (__f && !test_filter_matches(tests,				\
			sizeof(tests) / sizeof(tests[0]), __f))		\
		fprintf(stderr, "ZD_TEST_FILTER=%s: no such test\n", __f); \
	else {								\
		if (__f)						\
			cmocka_set_test_filter(__f);			\
		test_without_membarrier();				\
		__r = cmocka_run_group_tests(tests, NULL, NULL);	\
	}								\
	__r;								\
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

/*
 * For the HMM programs: without a userfaultfd (a kernel without it, or a
 * sandbox that forbids every kind) there is nothing to test, and the
 * program prints why, in zd_mm_create()'s words, and exits 77, which
 * ctest counts as skipped.
 */
static char test_uffd_why[512];

static void test_log_why(enum zd_log_level level, const char *msg, void *arg)
{
	(void)level;
	(void)arg;
	if (strstr(msg, "HMM cannot run"))
		snprintf(test_uffd_why, sizeof(test_uffd_why), "%s", msg);
}

static inline void test_require_userfaultfd(void)
{
	zd_log_fn *was = zd_set_log(test_log_why, NULL);
	struct zd_mm *mm = zd_mm_create();

	zd_set_log(was, NULL);	/* the tests' own capture, if set */
	if (mm) {
		zd_mm_destroy(mm);
		return;
	}
	printf("SKIP: no userfaultfd here: %s\n",
	       test_uffd_why[0] ? test_uffd_why : strerror(errno));
	exit(77);
}

#endif /* ZD_TEST_UTIL_H */
