// SPDX-License-Identifier: MIT
/*
 * Kernel-style code, written with the kernel's names only, builds and runs
 * against zonedev through <zonedev/kernel.h>.  The pattern is the pgmap
 * one: kill, wait for the release through a completion, then exit.
 */
#include "../test_util.h"
#include <zonedev/kernel.h>

struct my_dev {
	struct percpu_ref ref;
	struct completion done;
};

static void my_dev_release(struct percpu_ref *ref)
{
	struct my_dev *d = (struct my_dev *)ref;

	complete(&d->done);
}

static void test_ported_teardown(void **state)
{
	struct my_dev d;

	init_completion(&d.done);
	assert_int_equal(percpu_ref_init(&d.ref, my_dev_release, 0,
					 GFP_KERNEL), 0);
	assert_true(percpu_ref_tryget_live(&d.ref));
	percpu_ref_kill(&d.ref);
	assert_true(percpu_ref_is_dying(&d.ref));
	assert_int_equal(wait_for_completion_timeout(&d.done,
						     msecs_to_jiffies(50)), 0);
	percpu_ref_put(&d.ref);
	wait_for_completion(&d.done);
	assert_true(percpu_ref_is_zero(&d.ref));
	percpu_ref_exit(&d.ref);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ported_teardown),
	};

	return zd_run_tests(tests);
}
