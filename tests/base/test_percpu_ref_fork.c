// SPDX-License-Identifier: MIT
/*
 * fork() with zonedev in use: the child's refs work (its own zd-rcu
 * worker, liburcu-bp's registry pruned), counts held by threads the child
 * does not have are preserved, and a fork during a switch or under load
 * neither deadlocks nor loses a callback.
 */
#include <pthread.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../test_util.h"
#include "base_util.h"
#include "pcpu.h"

static atomic_int released;
static struct zd_completion release_done;

static void release_cb(struct zd_percpu_ref *ref)
{
	atomic_fetch_add(&released, 1);
	zd_complete(&release_done);
}

static int reset(void **state)
{
	atomic_store(&released, 0);
	zd_init_completion(&release_done);
	return 0;
}

/* Child helpers exit 0 on success, a line number on failure. */
#define CHILD_CHECK(cond) do { if (!(cond)) _exit(__LINE__ & 0x7f); } while (0)

static void wait_child_ok(pid_t pid)
{
	int status;

	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		fail_msg("child failed: status %#x (line %d)", status,
			 WEXITSTATUS(status));
}

static void child_fresh_ref_works(void)
{
	struct zd_percpu_ref r;

	reset(NULL);
	CHILD_CHECK(zd_percpu_ref_init(&r, release_cb, 0) == 0);
	zd_percpu_ref_get(&r);
	zd_percpu_ref_kill(&r);
	CHILD_CHECK(!zd_percpu_ref_tryget_live(&r) || (zd_percpu_ref_put(&r), 1));
	zd_percpu_ref_put(&r);
	CHILD_CHECK(zd_wait_for_completion_timeout(&release_done, 5000));
	CHILD_CHECK(atomic_load(&released) == 1);
	zd_percpu_ref_exit(&r);
}

static struct zd_percpu_ref shared;
static pthread_barrier_t held, done;

static void *holder(void *arg)
{
	zd_percpu_ref_get_many(&shared, 2);
	pthread_barrier_wait(&held);
	pthread_barrier_wait(&done);
	zd_percpu_ref_put_many(&shared, 2);
	return NULL;
}

static void test_child_keeps_counts_and_works(void **state)
{
	pthread_t t;
	pid_t pid;

	assert_int_equal(zd_percpu_ref_init(&shared, release_cb, 0), 0);
	pthread_barrier_init(&held, NULL, 2);
	pthread_barrier_init(&done, NULL, 2);
	pthread_create(&t, NULL, holder, NULL);
	pthread_barrier_wait(&held);
	zd_percpu_ref_get_many(&shared, 3);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* the holder thread is gone here; its 2 references are not */
		zd_percpu_ref_put_many(&shared, 3);
		zd_percpu_ref_kill(&shared);
		zd_percpu_ref_switch_to_atomic_sync(&shared);
		CHILD_CHECK(atomic_load(&released) == 0);
		CHILD_CHECK(!zd_percpu_ref_is_zero(&shared));
		zd_percpu_ref_put_many(&shared, 2);
		CHILD_CHECK(zd_wait_for_completion_timeout(&release_done, 5000));
		child_fresh_ref_works();
		_exit(0);
	}
	wait_child_ok(pid);
	/* the parent is untouched by what the child did */
	pthread_barrier_wait(&done);
	pthread_join(t, NULL);
	zd_percpu_ref_put_many(&shared, 3);
	assert_int_equal(atomic_load(&released), 0);
	zd_percpu_ref_kill(&shared);
	assert_true(zd_wait_for_completion_timeout(&release_done, 5000));
	zd_percpu_ref_exit(&shared);
}

static void slow_confirm(struct zd_percpu_ref *ref)
{
	test_sleep_us(30000);
}

static void test_fork_during_switch(void **state)
{
	struct zd_percpu_ref r;
	pid_t pid;

	assert_int_equal(zd_percpu_ref_init(&r, release_cb, 0), 0);
	zd_percpu_ref_kill_and_confirm(&r, slow_confirm);
	test_sleep_us(5000);	/* the worker is inside the confirm now */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* fork waited for the batch: the release happened before */
		CHILD_CHECK(atomic_load(&released) == 1);
		child_fresh_ref_works();
		_exit(0);
	}
	wait_child_ok(pid);
	assert_true(zd_wait_for_completion_timeout(&release_done, 5000));
	zd_percpu_ref_exit(&r);
}

static void test_fork_with_queued_switch(void **state)
{
	struct zd_percpu_ref r1, r2;
	pid_t pid;

	/* r1's slow confirm keeps the worker busy; r2's switch waits in the
	 * queue behind it when fork() comes */
	assert_int_equal(zd_percpu_ref_init(&r1, NULL, 0), 0);
	assert_int_equal(zd_percpu_ref_init(&r2, release_cb, 0), 0);
	zd_percpu_ref_kill_and_confirm(&r1, slow_confirm);
	test_sleep_us(5000);
	zd_percpu_ref_kill(&r2);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* queued before the fork: fork ran it first */
		CHILD_CHECK(atomic_load(&released) == 1);
		CHILD_CHECK(zd_wait_for_completion_timeout(&release_done, 5000));
		_exit(0);
	}
	wait_child_ok(pid);
	assert_true(zd_wait_for_completion_timeout(&release_done, 5000));
	zd_percpu_ref_switch_to_atomic_sync(&r1);
	zd_percpu_ref_exit(&r1);
	zd_percpu_ref_exit(&r2);
}

static atomic_bool storm_stop;

static void *storm_user(void *arg)
{
	while (!atomic_load(&storm_stop)) {
		struct zd_percpu_ref r;

		if (zd_percpu_ref_init(&r, NULL, 0))
			continue;
		zd_percpu_ref_get(&r);
		zd_percpu_ref_kill(&r);
		zd_percpu_ref_put(&r);
		zd_percpu_ref_switch_to_atomic_sync(&r);
		zd_percpu_ref_exit(&r);
	}
	return NULL;
}

static void test_fork_storm(void **state)
{
	pthread_t t[2];

#if defined(__SANITIZE_ADDRESS__)
	/* GCC 12's AddressSanitizer does not lock its allocator across
	 * fork(): a child forked while a storm thread is in malloc hangs in
	 * its first thread's start-up.  The normal build runs this. */
	skip();
#endif
	atomic_store(&storm_stop, false);
	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, storm_user, NULL);
	for (int i = 0; i < 50; i++) {
		pid_t pid = fork();

		assert_true(pid >= 0);
		if (pid == 0) {
			child_fresh_ref_works();
			_exit(0);
		}
		wait_child_ok(pid);
	}
	atomic_store(&storm_stop, true);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
}

static atomic_int in_section;

static void *section_holder(void *arg)
{
	char *base = zd_pcpu_this();
	unsigned long was = zd_pcpu_section_enter(base);

	(void)arg;
	atomic_store(&in_section, 1);
	while (atomic_load(&in_section) != 2)
		test_sleep_us(100);
	zd_pcpu_section_exit(base, was);
	return NULL;
}

/* A thread in a section when fork() copied its area is not in the child,
 * and must not hold up the child's kills (or hang them). */
static void test_child_sections_start_clear(void **state)
{
	pthread_t h;
	pid_t pid;

	(void)state;
	atomic_store(&in_section, 0);
	pthread_create(&h, NULL, section_holder, NULL);
	assert_true(wait_for(atomic_load(&in_section) == 1));
	pid = fork();
	if (pid == 0) {
		alarm(10);	/* a hang fails the test, by SIGALRM */
		zd_pcpu_synchronize();
		child_fresh_ref_works();
		_exit(0);
	}
	wait_child_ok(pid);
	atomic_store(&in_section, 2);
	pthread_join(h, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, reset, base_teardown)
		T(test_child_keeps_counts_and_works),
		T(test_fork_during_switch),
		T(test_fork_with_queued_switch),
		T(test_fork_storm),
		T(test_child_sections_start_clear),
	};

	return zd_run_tests(tests);
}
