// SPDX-License-Identifier: MIT
/*
 * fork() support.  The prepare hook lets the zd-rcu worker finish every
 * switch queued before the fork (so a kill that returned before fork() is
 * complete in both processes), then takes every zonedev lock in the order
 * the code nests them (switch -> pcpu -> rcu queue), then liburcu-bp's.
 * The child re-initialises them, keeps the forking thread's counters and
 * frees the other threads' areas with their counts.  A switch another
 * thread starts while fork() runs completes in the parent only.
 *
 * zonedev calls liburcu-bp's fork hooks itself: an application that also
 * uses liburcu-bp must not register them a second time.
 */
#define _LGPL_SOURCE
#include <pthread.h>
#include <urcu-bp.h>

#include "fork.h"
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

static void fork_hooks_register(void)
{
	if (pthread_atfork(fork_prepare, fork_parent, fork_child))
		zd_warn("pthread_atfork failed: fork() will not be safe");
}

/* Called before zonedev first creates state that fork must handle (a
 * counter area, the worker), so static links need no constructor. */
void zd_fork_hooks_init(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, fork_hooks_register);
}
