// SPDX-License-Identifier: MIT
/*
 * HMM without the right to a full userfaultfd: a process that may neither
 * make the system call (vm.unprivileged_userfaultfd=0) nor open
 * /dev/userfaultfd still gets managed memory, through a userfaultfd for
 * user-mode faults only.  The test drops to an unprivileged user in a
 * child, so it needs root, and it needs the sysctl at 0 (else there is no
 * fallback to take); otherwise it skips with the reason.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <dmirror.h>

#include "../test_util.h"

#define NOBODY 65534
#define NPAGES 64

static bool plain_uffd_refused(void)
{
	int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC);

	if (fd < 0)
		return true;
	close(fd);
	return false;
}

/* In the child: 0 all went well, 77 nothing to test, else the step. */
static int unprivileged_child(void)
{
	size_t pg = zd_page_size(), len = NPAGES * pg;
	struct dmirror_cmd c = { 0 };
	struct dmirror *dm;
	struct zd_mm *mm;
	char *buf;

	if (setgroups(0, NULL) || setgid(NOBODY) || setuid(NOBODY))
		return 2;
	if (!plain_uffd_refused())
		return 77;
	mm = zd_mm_create();
	if (!mm)
		return 3;
	buf = zd_mm_map(mm, len);
	if (!buf)
		return 4;
	for (size_t i = 0; i < len; i++)		/* first-touch faults */
		buf[i] = (char)(i * 7);
	dm = dmirror_create(0, 256ul << 20);
	if (!dm)
		return (void)fprintf(stderr, "dmirror_create: %s\n", strerror(errno)), 5;
	c = (struct dmirror_cmd){ .mm = mm, .addr = (unsigned long)buf,
				  .npages = NPAGES };
	if (dmirror_migrate_to_device(dm, &c) || c.cpages != NPAGES)
		return 6;
	for (size_t i = 0; i < len; i++)		/* device-private faults */
		if (buf[i] != (char)(i * 7))
			return 7;
	zd_mm_destroy(mm);
	dmirror_destroy(dm);
	return 0;
}

static void test_user_mode_only_userfaultfd(void **state)
{
	int status;
	pid_t pid;

	(void)state;
	if (geteuid() != 0)
		skip_msg("needs root to drop to an unprivileged user");
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(unprivileged_child());
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == 77)
		skip_msg("vm.unprivileged_userfaultfd=1: no fallback to take");
	assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_user_mode_only_userfaultfd),
	};

	return zd_run_tests(tests);
}
