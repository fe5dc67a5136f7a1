/* SPDX-License-Identifier: MIT */
/*
 * A scenario that may crash or hang, run in a child process with an
 * alarm, so that a failure fails its test and not the whole program.
 * @fn returns 0 (passed), 77 (nothing to test here: skipped, saying
 * @skip_why) or another code (failed, saying @bug).
 */
#ifndef ZD_TEST_HMM_IN_CHILD_H
#define ZD_TEST_HMM_IN_CHILD_H

#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

/* In the child: no cmocka (its failure would unwind into the child's
 * copy of the runner); a message and exit code 1. */
#define CHECK(c) do {							\
	if (!(c)) {							\
		fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__,	\
			__LINE__, #c);					\
		return 1;						\
	}								\
} while (0)

static void in_child(int (*fn)(void), unsigned int secs, const char *bug,
		     const char *skip_why)
{
	int status;
	pid_t pid;

#ifdef __SANITIZE_THREAD__
	/* TSan cannot follow fork() from a process that had threads: run it
	 * here (a scenario's own bound, or ctest's timeout, ends a hang) */
	(void)secs;
	status = fn();
	if (status == 77)
		skip_msg("%s", skip_why);
	if (status)
		fail_msg("%s: failed (%d)", bug, status);
	return;
#endif
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* cmocka's handlers would unwind into the runner's copy */
		static const int sigs[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE,
					    SIGABRT };

		for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
			signal(sigs[i], SIG_DFL);
		alarm(secs);
		_exit(fn());
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 77)
		skip_msg("%s", skip_why);
	if (WIFSIGNALED(status))
		fail_msg("%s: the child %s (signal %d)", bug,
			 WTERMSIG(status) == SIGALRM ? "hung" : "crashed",
			 WTERMSIG(status));
	if (WEXITSTATUS(status))
		fail_msg("%s: the child failed (exit %d)", bug,
			 WEXITSTATUS(status));
}

#endif
