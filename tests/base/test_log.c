// SPDX-License-Identifier: MIT
/* The log callback: routing, default sink, warn counter, panic_on_warn. */
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../test_util.h"
#include "base_util.h"

static int calls;
static enum zd_log_level last_level;
static void *last_arg;

static void counting_log(enum zd_log_level level, const char *msg, void *arg)
{
	calls++;
	last_level = level;
	last_arg = arg;
}

/* The tests start from the default sink: a failed one may have left its
 * own callback installed. */
static int teardown(void **state)
{
	base_teardown(state);
	zd_set_log(NULL, NULL);
	return 0;
}

static void test_set_log_returns_previous(void **state)
{
	int cookie;

	assert_null(zd_set_log(counting_log, &cookie));
	assert_ptr_equal(zd_set_log(NULL, NULL), counting_log);
	assert_null(zd_set_log(NULL, NULL));
}

static void test_warn_routed_and_counted(void **state)
{
	unsigned long before = zd_warn_count();
	int cookie;

	calls = 0;
	zd_set_log(counting_log, &cookie);
	zd_percpu_ref_get(NULL);
	assert_int_equal(calls, 1);
	assert_int_equal(last_level, ZD_LOG_WARN);
	assert_ptr_equal(last_arg, &cookie);
	assert_int_equal(zd_warn_count(), before + 1);
	zd_set_log(NULL, NULL);
}

static void test_default_sink_is_stderr(void **state)
{
	int fds[2];
	char buf[256] = "";
	ssize_t n;
	int saved = dup(2);

	assert_int_equal(pipe(fds), 0);
	dup2(fds[1], 2);
	zd_complete(NULL);
	dup2(saved, 2);
	close(fds[1]);
	n = read(fds[0], buf, sizeof(buf) - 1);
	close(fds[0]);
	close(saved);
	assert_true(n > 0);
	assert_non_null(strstr(buf, "zonedev: WARNING: zd_complete: NULL completion"));
}

static void test_panic_on_warn_aborts(void **state)
{
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		setenv("ZONEDEV_PANIC_ON_WARN", "1", 1);
		zd_set_log(counting_log, NULL);	/* keep the output quiet */
		zd_complete(NULL);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGABRT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_set_log_returns_previous, teardown),
		cmocka_unit_test_teardown(test_warn_routed_and_counted, teardown),
		cmocka_unit_test_teardown(test_default_sink_is_stderr, teardown),
		cmocka_unit_test_teardown(test_panic_on_warn_aborts, teardown),
	};

	return zd_run_tests(tests);
}
