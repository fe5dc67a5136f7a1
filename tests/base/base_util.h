/* SPDX-License-Identifier: MIT */
/*
 * Teardown for the base tests: whatever a failed test left armed or
 * queued is undone before the next one starts.  Fault injection is reset
 * and paused threads let go; work queued on zd-rcu (a mode switch of a
 * ref the failed test will never exit) has run; the WARNING capture is
 * back, in case the test installed a log callback of its own.
 */
#ifndef ZD_TEST_BASE_UTIL_H
#define ZD_TEST_BASE_UTIL_H

#include "rcu.h"

static atomic_bool base_rcu_done;

static void base_rcu_mark(struct zd_rcu_work *work)
{
	atomic_store(&base_rcu_done, true);
}

/* Every zd-rcu callback queued before this call has run (FIFO). */
static inline void base_rcu_barrier(void)
{
	static struct zd_rcu_work work;

	atomic_store(&base_rcu_done, false);
	if (!zd_rcu_call(&work, base_rcu_mark))
		wait_for(atomic_load(&base_rcu_done));
}

static inline int base_teardown(void **state)
{
	zd_fault_inject_reset();
	zd_fault_inject_resume();
	base_rcu_barrier();
	test_capture_warnings();
	return 0;
}

#endif /* ZD_TEST_BASE_UTIL_H */
