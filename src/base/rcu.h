/* SPDX-License-Identifier: MIT */
/*
 * RCU for zonedev: liburcu's "bulletproof" flavor.
 *
 * Why bp and not memb: zonedev's read sections run on application threads
 * that zonedev never sees created (get/put of a page or pgmap from any
 * thread), so readers must not need rcu_register_thread(); and bp ships
 * fork hooks that prune the readers of threads the child does not have,
 * which memb cannot do for other threads.  bp's read side costs one more
 * TLS pointer test than memb's; with sys_membarrier it is still free of
 * fences.
 *
 * Why not liburcu's call_rcu for zonedev's own deferred work: its worker
 * batches for about 10 ms, and a teardown that waits for a release would
 * pay that on every pgmap.  zd_rcu_call() runs callbacks on one worker
 * thread ("zd-rcu") right after a grace period, in microseconds.
 */
#ifndef ZD_BASE_RCU_H
#define ZD_BASE_RCU_H

#define _LGPL_SOURCE
#include <urcu-bp.h>

#include "compiler.h"

/* For ThreadSanitizer only: a grace period orders every read section
 * that ended before it against what follows it; liburcu is not
 * instrumented, so zonedev states that edge itself. */
extern char zd_rcu_tsan_gp;

static inline void zd_rcu_read_lock(void)
{
	urcu_bp_read_lock();
}

static inline void zd_rcu_read_unlock(void)
{
	zd_tsan_release(&zd_rcu_tsan_gp);
	urcu_bp_read_unlock();
}

static inline void zd_synchronize_rcu(void)
{
	urcu_bp_synchronize_rcu();
	zd_tsan_acquire(&zd_rcu_tsan_gp);
}

struct zd_rcu_work {
	struct zd_rcu_work *next;
	void (*func)(struct zd_rcu_work *work);
};

/* Run @func(@work) on the zd-rcu thread after a grace period.  Returns
 * -EAGAIN if the worker thread cannot be started (then nothing is queued). */
int zd_rcu_call(struct zd_rcu_work *work, void (*func)(struct zd_rcu_work *));

/* True on the zd-rcu thread. */
bool zd_rcu_on_worker(void);

/* On the zd-rcu thread: run what is queued now, inline (used when a
 * callback must wait for work queued behind it).  Returns items run. */
int zd_rcu_run_pending(void);

/*
 * Fork hooks (called from fork.c in lock order).  quiesce runs every
 * callback queued before the fork began, then holds off new batches
 * without holding a lock; prepare takes the queue lock last.  The child
 * starts with an empty queue and no worker (one starts on first use).
 */
void zd_rcu_fork_quiesce(void);
void zd_rcu_fork_prepare(void);
void zd_rcu_fork_parent(void);
void zd_rcu_fork_child(void);

#endif /* ZD_BASE_RCU_H */
