// SPDX-License-Identifier: MIT
/*
 * Misuse of the base layer: fault injection, completions, percpu_ref,
 * memory hotplug locking.
 *
 * No bad input applies to: zd_set_log (NULL restores the default),
 * zd_warn_count, zd_fault_inject_resume/_reset/_calls/_hits (no
 * arguments, any state is valid).
 */
#include <limits.h>

#include "misuse.h"

static const char long_prefix[] =
	"0123456789012345678901234567890123456789012345678901234567890123456789";

/* ---- fault injection ------------------------------------------------------ */

static void fault_nth_long(void)
{
	m_arm();
	m_expect_err(zd_fault_inject_nth(1, long_prefix), -EINVAL);
	m_state(zd_fault_inject_hits() == 0, "armed anyway");
}

static void fault_site_long(void)
{
	m_arm();
	m_expect_err(zd_fault_inject_site(long_prefix), -EINVAL);
}

static void fault_pause_long(void)
{
	m_arm();
	m_expect_err(zd_fault_inject_pause(long_prefix, 10), -EINVAL);
}

/* ---- completions ---------------------------------------------------------- */

static void comp_init_null(void)
{
	m_arm();
	zd_init_completion(NULL);
	m_expect_warn();
}

static void comp_reinit_null(void)
{
	m_arm();
	zd_reinit_completion(NULL);
	m_expect_warn();
}

static void comp_complete_null(void)
{
	m_arm();
	zd_complete(NULL);
	m_expect_warn();
}

static void comp_complete_all_null(void)
{
	m_arm();
	zd_complete_all(NULL);
	m_expect_warn();
}

static void comp_wait_null(void)
{
	m_arm();
	zd_wait_for_completion(NULL);
	m_expect_warn();
}

static void comp_wait_timeout_null(void)
{
	m_arm();
	m_expect_val(zd_wait_for_completion_timeout(NULL, 10), 0);
}

/* A timeout too large for a timespec must still wait, not time out. */
static void comp_wait_timeout_huge(void)
{
	struct zd_completion x = ZD_COMPLETION_INITIALIZER(x);

	zd_complete(&x);
	m_arm();
	m_expect_val_nowarn(zd_wait_for_completion_timeout(&x, ULONG_MAX) != 0, 1);
	m_state(!zd_completion_done(&x), "the done was not consumed");
}

static void comp_try_wait_null(void)
{
	m_arm();
	m_expect_val(zd_try_wait_for_completion(NULL), false);
}

static void comp_done_null(void)
{
	m_arm();
	m_expect_val(zd_completion_done(NULL), false);
}

/* ---- percpu_ref ------------------------------------------------------------- */

static int released;

static void count_release(struct zd_percpu_ref *ref)
{
	(void)ref;
	released++;
}

static struct zd_percpu_ref *ref_new(unsigned int flags)
{
	struct zd_percpu_ref *ref = calloc(1, sizeof(*ref));

	M_SETUP(ref && zd_percpu_ref_init(ref, count_release, flags) == 0);
	return ref;
}

/* An exited ref: every use is "used after exit". */
static struct zd_percpu_ref *ref_exited(void)
{
	struct zd_percpu_ref *ref = ref_new(ZD_PERCPU_REF_INIT_ATOMIC);

	zd_percpu_ref_put(ref);
	M_SETUP(zd_percpu_ref_is_zero(ref) && released == 1);
	zd_percpu_ref_exit(ref);
	released = 0;
	return ref;
}

/* @ref still counts: a get and a put come back to where it was. */
static bool ref_works(struct zd_percpu_ref *ref)
{
	if (!zd_percpu_ref_tryget(ref))
		return false;
	zd_percpu_ref_put(ref);
	return released == 0;
}

static void pr_init_null(void)
{
	m_arm();
	m_expect_err(zd_percpu_ref_init(NULL, count_release, 0), -EINVAL);
}

static void pr_init_flags(void)
{
	struct zd_percpu_ref ref = { 0 };

	m_arm();
	m_expect_err(zd_percpu_ref_init(&ref, count_release, 1u << 7), -EINVAL);
}

static void pr_exit_null(void)
{
	m_arm();
	zd_percpu_ref_exit(NULL);
	m_expect_warn();
}

/*
 * As in the kernel, exit is idempotent (error paths and release callbacks
 * may both call it): a second exit is harmless and silent.  A double free
 * crashes the case; a warning or a lost count fails it.
 */
static void pr_exit_twice(void)
{
	struct zd_percpu_ref *ref = ref_exited();

	m_arm();
	zd_percpu_ref_exit(ref);
	m_expect_val_nowarn(m_warned(), false);
	m_state(zd_percpu_ref_is_zero(ref), "count lost by the second exit");
}

#define REF_NULL_VOID(name, call)					\
static void name(void)							\
{									\
	m_arm();							\
	call;								\
	m_expect_warn();						\
}
REF_NULL_VOID(pr_get_null, zd_percpu_ref_get(NULL))
REF_NULL_VOID(pr_get_many_null, zd_percpu_ref_get_many(NULL, 2))
REF_NULL_VOID(pr_put_null, zd_percpu_ref_put(NULL))
REF_NULL_VOID(pr_put_many_null, zd_percpu_ref_put_many(NULL, 2))
REF_NULL_VOID(pr_kill_null, zd_percpu_ref_kill(NULL))
REF_NULL_VOID(pr_kill_confirm_null, zd_percpu_ref_kill_and_confirm(NULL, NULL))
REF_NULL_VOID(pr_atomic_null, zd_percpu_ref_switch_to_atomic(NULL, NULL))
REF_NULL_VOID(pr_atomic_sync_null, zd_percpu_ref_switch_to_atomic_sync(NULL))
REF_NULL_VOID(pr_percpu_null, zd_percpu_ref_switch_to_percpu(NULL))
REF_NULL_VOID(pr_resurrect_null, zd_percpu_ref_resurrect(NULL))
REF_NULL_VOID(pr_reinit_null, zd_percpu_ref_reinit(NULL))

#define REF_NULL_BOOL(name, call)					\
static void name(void)							\
{									\
	m_arm();							\
	m_expect_val(call, false);					\
}
REF_NULL_BOOL(pr_tryget_null, zd_percpu_ref_tryget(NULL))
REF_NULL_BOOL(pr_tryget_many_null, zd_percpu_ref_tryget_many(NULL, 2))
REF_NULL_BOOL(pr_tryget_live_null, zd_percpu_ref_tryget_live(NULL))
REF_NULL_BOOL(pr_is_zero_null, zd_percpu_ref_is_zero(NULL))
REF_NULL_BOOL(pr_is_dying_null, zd_percpu_ref_is_dying(NULL))

#define REF_DEAD_VOID(name, call)					\
static void name(void)							\
{									\
	struct zd_percpu_ref *ref = ref_exited();			\
									\
	m_arm();							\
	call;								\
	m_expect_warn();						\
	m_state(released == 0, "release ran");				\
}
REF_DEAD_VOID(pr_get_dead, zd_percpu_ref_get(ref))
REF_DEAD_VOID(pr_get_many_dead, zd_percpu_ref_get_many(ref, 2))
REF_DEAD_VOID(pr_put_dead, zd_percpu_ref_put(ref))
REF_DEAD_VOID(pr_put_many_dead, zd_percpu_ref_put_many(ref, 2))
REF_DEAD_VOID(pr_kill_dead, zd_percpu_ref_kill(ref))
REF_DEAD_VOID(pr_atomic_dead, zd_percpu_ref_switch_to_atomic(ref, NULL))
REF_DEAD_VOID(pr_atomic_sync_dead, zd_percpu_ref_switch_to_atomic_sync(ref))
REF_DEAD_VOID(pr_percpu_dead, zd_percpu_ref_switch_to_percpu(ref))
REF_DEAD_VOID(pr_resurrect_dead, zd_percpu_ref_resurrect(ref))
REF_DEAD_VOID(pr_reinit_dead, zd_percpu_ref_reinit(ref))

#define REF_DEAD_BOOL(name, call)					\
static void name(void)							\
{									\
	struct zd_percpu_ref *ref = ref_exited();			\
									\
	m_arm();							\
	m_expect_val(call, false);					\
}
REF_DEAD_BOOL(pr_tryget_dead, zd_percpu_ref_tryget(ref))
REF_DEAD_BOOL(pr_tryget_many_dead, zd_percpu_ref_tryget_many(ref, 2))
REF_DEAD_BOOL(pr_tryget_live_dead, zd_percpu_ref_tryget_live(ref))

/* A put below zero, in atomic mode where the count is exact. */
static void pr_put_below_zero(void)
{
	struct zd_percpu_ref *ref = ref_new(ZD_PERCPU_REF_INIT_ATOMIC);

	zd_percpu_ref_put(ref);
	M_SETUP(released == 1);
	m_arm();
	zd_percpu_ref_put(ref);
	m_expect_warn();
	m_state(zd_percpu_ref_is_zero(ref), "count not zero after the put was undone");
	m_state(released == 1, "release ran again");
}

static void pr_put_many_huge(void)
{
	struct zd_percpu_ref *ref = ref_new(0);

	m_arm();
	zd_percpu_ref_put_many(ref, ULONG_MAX);
	m_expect_warn();
	m_state(released == 0, "release ran");
	m_state(ref_works(ref), "ref no longer counts");
}

static void pr_put_many_huge_atomic(void)
{
	struct zd_percpu_ref *ref = ref_new(ZD_PERCPU_REF_INIT_ATOMIC);

	m_arm();
	zd_percpu_ref_put_many(ref, ULONG_MAX);
	m_expect_warn();
	m_state(released == 0, "release ran");
	m_state(!zd_percpu_ref_is_zero(ref), "count changed");
}

/* get_many(ULONG_MAX) wraps an atomic count to one less. */
static void pr_get_many_huge(void)
{
	struct zd_percpu_ref *ref = ref_new(ZD_PERCPU_REF_INIT_ATOMIC);

	m_arm();
	zd_percpu_ref_get_many(ref, ULONG_MAX);
	m_expect_warn();
	zd_percpu_ref_put(ref);		/* the initial ref: zero, release */
	m_state(released == 1, "count changed by the huge get");
}

static void pr_tryget_many_huge(void)
{
	struct zd_percpu_ref *ref = ref_new(ZD_PERCPU_REF_INIT_ATOMIC);

	m_arm();
	m_expect_val(zd_percpu_ref_tryget_many(ref, ULONG_MAX), false);
	zd_percpu_ref_put(ref);
	m_state(released == 1, "count changed by the huge tryget");
}

static void pr_kill_twice(void)
{
	struct zd_percpu_ref *ref = ref_new(0);

	zd_percpu_ref_get(ref);
	zd_percpu_ref_kill(ref);
	m_arm();
	zd_percpu_ref_kill(ref);
	m_expect_warn();
	m_state(released == 0, "the second kill dropped a reference");
	zd_percpu_ref_switch_to_atomic_sync(ref);
	m_state(!zd_percpu_ref_is_zero(ref), "count reached zero with a ref held");
}

static void pr_kill_confirm_twice(void)
{
	struct zd_percpu_ref *ref = ref_new(0);

	zd_percpu_ref_get(ref);
	zd_percpu_ref_kill_and_confirm(ref, NULL);
	m_arm();
	zd_percpu_ref_kill_and_confirm(ref, NULL);
	m_expect_warn();
	zd_percpu_ref_switch_to_atomic_sync(ref);
	m_state(!zd_percpu_ref_is_zero(ref), "count reached zero with a ref held");
}

/* INIT_DEAD: already killed, count zero. */
static void pr_kill_init_dead(void)
{
	struct zd_percpu_ref *ref = ref_new(ZD_PERCPU_REF_INIT_DEAD);

	m_arm();
	zd_percpu_ref_kill(ref);
	m_expect_warn();
	m_state(released == 0, "release ran");
	m_state(zd_percpu_ref_is_zero(ref), "count changed");
}

static void pr_percpu_no_reinit(void)
{
	struct zd_percpu_ref *ref = ref_new(0);

	zd_percpu_ref_switch_to_atomic_sync(ref);
	m_arm();
	zd_percpu_ref_switch_to_percpu(ref);
	m_expect_warn();
	m_state(ref_works(ref), "ref no longer counts");
}

static void pr_resurrect_live(void)
{
	struct zd_percpu_ref *ref = ref_new(ZD_PERCPU_REF_INIT_ATOMIC);

	m_arm();
	zd_percpu_ref_resurrect(ref);
	m_expect_warn();
	zd_percpu_ref_put(ref);		/* the initial ref: to zero */
	m_state(released == 1, "resurrect took a second initial ref");
}

static void pr_reinit_nonzero(void)
{
	struct zd_percpu_ref *ref = ref_new(ZD_PERCPU_REF_INIT_ATOMIC);

	zd_percpu_ref_get(ref);
	m_arm();
	zd_percpu_ref_reinit(ref);
	m_expect_warn();
	zd_percpu_ref_put(ref);
	zd_percpu_ref_put(ref);
	m_state(released == 1, "count changed by reinit");
}

/* ---- memory hotplug --------------------------------------------------------- */

static void mh_put_without_get(void)
{
	m_arm();
	zd_put_online_mems();
	m_expect_warn();
	/* a writer must still get in and out (the read count is not -1) */
	zd_mem_hotplug_begin();
	zd_mem_hotplug_done();
	zd_get_online_mems();
	zd_put_online_mems();
}

static void mh_done_without_begin(void)
{
	m_arm();
	zd_mem_hotplug_done();
	m_expect_warn();
	zd_mem_hotplug_begin();
	zd_mem_hotplug_done();
	zd_get_online_mems();
	zd_put_online_mems();
}

static void mh_get_twice(void)
{
	zd_get_online_mems();
	m_arm();
	zd_get_online_mems();
	m_expect_warn();
}

static void mh_begin_twice(void)
{
	zd_mem_hotplug_begin();
	m_arm();
	zd_mem_hotplug_begin();
	m_expect_warn();
}

static void mh_begin_under_read(void)
{
	zd_get_online_mems();
	m_arm();
	zd_mem_hotplug_begin();
	m_expect_warn();
}

#define W	"WARN"
#define EINV	"-EINVAL+WARN"
#define FALSEW	"false+WARN"

const struct mcase misuse_base_cases[] = {
	{ "zd_fault_inject_nth", "huge: prefix over 63 bytes", EINV, fault_nth_long },
	{ "zd_fault_inject_site", "huge: prefix over 63 bytes", EINV, fault_site_long },
	{ "zd_fault_inject_pause", "huge: prefix over 63 bytes", EINV, fault_pause_long },

	{ "zd_init_completion", "NULL", W, comp_init_null },
	{ "zd_reinit_completion", "NULL", W, comp_reinit_null },
	{ "zd_complete", "NULL", W, comp_complete_null },
	{ "zd_complete_all", "NULL", W, comp_complete_all_null },
	{ "zd_wait_for_completion", "NULL", W, comp_wait_null },
	{ "zd_wait_for_completion_timeout", "NULL", "0+WARN", comp_wait_timeout_null },
	{ "zd_wait_for_completion_timeout", "huge: ULONG_MAX ms, done", "non-zero", comp_wait_timeout_huge },
	{ "zd_try_wait_for_completion", "NULL", FALSEW, comp_try_wait_null },
	{ "zd_completion_done", "NULL", FALSEW, comp_done_null },

	{ "zd_percpu_ref_init", "NULL", EINV, pr_init_null },
	{ "zd_percpu_ref_init", "unknown flags", EINV, pr_init_flags },
	{ "zd_percpu_ref_exit", "NULL", W, pr_exit_null },
	{ "zd_percpu_ref_exit", "double release: exit twice", "no WARN, harmless", pr_exit_twice },
	{ "zd_percpu_ref_get", "NULL", W, pr_get_null },
	{ "zd_percpu_ref_get_many", "NULL", W, pr_get_many_null },
	{ "zd_percpu_ref_put", "NULL", W, pr_put_null },
	{ "zd_percpu_ref_put_many", "NULL", W, pr_put_many_null },
	{ "zd_percpu_ref_kill", "NULL", W, pr_kill_null },
	{ "zd_percpu_ref_kill_and_confirm", "NULL", W, pr_kill_confirm_null },
	{ "zd_percpu_ref_switch_to_atomic", "NULL", W, pr_atomic_null },
	{ "zd_percpu_ref_switch_to_atomic_sync", "NULL", W, pr_atomic_sync_null },
	{ "zd_percpu_ref_switch_to_percpu", "NULL", W, pr_percpu_null },
	{ "zd_percpu_ref_resurrect", "NULL", W, pr_resurrect_null },
	{ "zd_percpu_ref_reinit", "NULL", W, pr_reinit_null },
	{ "zd_percpu_ref_tryget", "NULL", FALSEW, pr_tryget_null },
	{ "zd_percpu_ref_tryget_many", "NULL", FALSEW, pr_tryget_many_null },
	{ "zd_percpu_ref_tryget_live", "NULL", FALSEW, pr_tryget_live_null },
	{ "zd_percpu_ref_is_zero", "NULL", FALSEW, pr_is_zero_null },
	{ "zd_percpu_ref_is_dying", "NULL", FALSEW, pr_is_dying_null },
	{ "zd_percpu_ref_get", "dead: after exit", W, pr_get_dead },
	{ "zd_percpu_ref_get_many", "dead: after exit", W, pr_get_many_dead },
	{ "zd_percpu_ref_put", "dead: after exit", W, pr_put_dead },
	{ "zd_percpu_ref_put_many", "dead: after exit", W, pr_put_many_dead },
	{ "zd_percpu_ref_kill", "dead: after exit", W, pr_kill_dead },
	{ "zd_percpu_ref_switch_to_atomic", "dead: after exit", W, pr_atomic_dead },
	{ "zd_percpu_ref_switch_to_atomic_sync", "dead: after exit", W, pr_atomic_sync_dead },
	{ "zd_percpu_ref_switch_to_percpu", "dead: after exit", W, pr_percpu_dead },
	{ "zd_percpu_ref_resurrect", "dead: after exit", W, pr_resurrect_dead },
	{ "zd_percpu_ref_reinit", "dead: after exit", W, pr_reinit_dead },
	{ "zd_percpu_ref_tryget", "dead: after exit", FALSEW, pr_tryget_dead },
	{ "zd_percpu_ref_tryget_many", "dead: after exit", FALSEW, pr_tryget_many_dead },
	{ "zd_percpu_ref_tryget_live", "dead: after exit", FALSEW, pr_tryget_live_dead },
	{ "zd_percpu_ref_put", "double release: below zero", "WARN, undone", pr_put_below_zero },
	{ "zd_percpu_ref_put_many", "huge: ULONG_MAX, per-thread", "WARN, count kept", pr_put_many_huge },
	{ "zd_percpu_ref_put_many", "huge: ULONG_MAX, atomic", "WARN, count kept", pr_put_many_huge_atomic },
	{ "zd_percpu_ref_get_many", "huge: ULONG_MAX, atomic", "WARN, count kept", pr_get_many_huge },
	{ "zd_percpu_ref_tryget_many", "huge: ULONG_MAX, atomic", FALSEW ", count kept", pr_tryget_many_huge },
	{ "zd_percpu_ref_kill", "already done: second kill", "WARN, ignored", pr_kill_twice },
	{ "zd_percpu_ref_kill_and_confirm", "already done: second kill", "WARN, ignored", pr_kill_confirm_twice },
	{ "zd_percpu_ref_kill", "dead: INIT_DEAD ref", "WARN, ignored", pr_kill_init_dead },
	{ "zd_percpu_ref_switch_to_percpu", "wrong state: no ALLOW_REINIT", "WARN, stays atomic", pr_percpu_no_reinit },
	{ "zd_percpu_ref_resurrect", "wrong state: not dying", "WARN, ignored", pr_resurrect_live },
	{ "zd_percpu_ref_reinit", "wrong state: count not zero", "WARN, ignored", pr_reinit_nonzero },

	{ "zd_put_online_mems", "double release: without get", "WARN, writers still work", mh_put_without_get },
	{ "zd_mem_hotplug_done", "double release: without begin", "WARN, writers still work", mh_done_without_begin },
	{ "zd_get_online_mems", "already done: recursive read", "WARN, no hang", mh_get_twice },
	{ "zd_mem_hotplug_begin", "already done: recursive write", "WARN, no hang", mh_begin_twice },
	{ "zd_mem_hotplug_begin", "wrong state: holding the read side", "WARN, no hang", mh_begin_under_read },
	{ 0 }
};
