// SPDX-License-Identifier: MIT
/*
 * fork() support.  The prepare hook quiesces the zd-rcu worker, then takes
 * every zonedev lock in the order the code nests them (switch -> pcpu ->
 * rcu queue), then liburcu-bp's; the child re-initialises them, keeps the
 * forking thread's counters and frees the other threads' areas with their
 * counts, and restarts the worker if callbacks were queued.
 *
 * zonedev calls liburcu-bp's fork hooks itself: an application that also
 * uses liburcu-bp must not register them a second time.
 */
#define _LGPL_SOURCE
#include <pthread.h>
#include <urcu-bp.h>

#include "log.h"
#include "pcpu.h"
#include "percpu_ref_internal.h"
#include "rcu.h"

static void fork_prepare(void)
{
	zd_rcu_fork_quiesce();
	zd_percpu_ref_fork_prepare();
	zd_pcpu_fork_prepare();
	zd_rcu_fork_prepare();
	urcu_bp_before_fork();
}

static void fork_parent(void)
{
	urcu_bp_after_fork_parent();
	zd_rcu_fork_parent();
	zd_pcpu_fork_parent();
	zd_percpu_ref_fork_parent();
}

static void fork_child(void)
{
	urcu_bp_after_fork_child();
	zd_percpu_ref_fork_child();
	zd_pcpu_fork_child();
	zd_rcu_fork_child();
}

__attribute__((constructor)) static void fork_hooks_init(void)
{
	if (pthread_atfork(fork_prepare, fork_parent, fork_child))
		zd_warn("pthread_atfork failed: fork() will not be safe");
}
