/* SPDX-License-Identifier: MIT */
/*
 * percpu_ref: a reference count whose get and put touch only the calling
 * thread's own counter (no locked instruction, no shared cache line written)
 * until it is killed, then one atomic counter that can reach zero.
 *
 * Life of a ref: zd_percpu_ref_init() starts it at one reference (the
 * initial ref) in per-thread mode.  Users get and put freely.  To shut down,
 * the owner calls zd_percpu_ref_kill(), which drops the initial ref and
 * switches to atomic mode after an RCU grace period; once every other
 * reference is put, the release callback runs, exactly once.
 *
 * Threads: per-thread counters live in areas that zonedev hands to threads
 * on their first get or put.  A thread that exits while its counter is
 * non-zero loses nothing: its area, counts included, is kept and summed and
 * later handed to a new thread.  fork() leaves the child with working refs:
 * every switch (kill) started before fork() has completed in both
 * processes; one that another thread starts while fork() runs completes in
 * the parent only.
 *
 * Where the callbacks run: confirm callbacks and a release that becomes due
 * when the switch to atomic mode completes run on zonedev's "zd-rcu" worker
 * thread; a release that becomes due on a put runs on the putting thread.
 * Neither may block for long: they hold up every other switch.
 *
 * Misuse (a NULL ref, use after exit, a put below zero, a second kill) is
 * reported through the log callback (see zonedev/log.h) and ignored.
 */
#ifndef ZONEDEV_PERCPU_REF_H
#define ZONEDEV_PERCPU_REF_H

#ifndef __cplusplus
#include <stdbool.h>
#endif
#include <stdint.h>
#include <zonedev/export.h>

ZD_EXTERN_C_BEGIN

struct zd_percpu_ref;
typedef void zd_percpu_ref_func_t(struct zd_percpu_ref *ref);

/* Mode bits in the low bits of zd_percpu_ref.percpu_count_ptr. */
enum {
	ZD_PERCPU_REF_ATOMIC = 1u << 0,	/* operating in atomic mode */
	ZD_PERCPU_REF_DEAD = 1u << 1,	/* (being) killed */
	ZD_PERCPU_REF_ATOMIC_DEAD = ZD_PERCPU_REF_ATOMIC | ZD_PERCPU_REF_DEAD,
	ZD_PERCPU_REF_FLAG_BITS = 2,
};

/* Flags for zd_percpu_ref_init(). */
enum {
	/* Start in atomic mode until zd_percpu_ref_switch_to_percpu().
	 * Implies ALLOW_REINIT. */
	ZD_PERCPU_REF_INIT_ATOMIC = 1u << 0,
	/* Start dead with a count of zero; revive with zd_percpu_ref_reinit().
	 * Implies INIT_ATOMIC and ALLOW_REINIT. */
	ZD_PERCPU_REF_INIT_DEAD = 1u << 1,
	/* Keep the per-thread counter after a switch to atomic mode, so that
	 * reinit and switch_to_percpu can return to per-thread mode. */
	ZD_PERCPU_REF_ALLOW_REINIT = 1u << 2,
};

struct zd_percpu_ref_data;

struct zd_percpu_ref {
	/* per-thread counter offset | mode bits; the only field the per-thread
	 * fast path reads */
	ZD_ATOMIC(uintptr_t) percpu_count_ptr;
	struct zd_percpu_ref_data *data;
};

/**
 * zd_percpu_ref_init - initialise a ref with one reference
 * @ref: the ref
 * @release: called once when the count reaches zero (may be NULL)
 * @flags: ZD_PERCPU_REF_INIT_* and ZD_PERCPU_REF_ALLOW_REINIT
 *
 * Sets up @ref holding one reference, the initial ref, which its owner
 * drops with zd_percpu_ref_kill() at shutdown.  Unless @flags ask
 * otherwise it starts in per-thread mode, where gets and puts are cheap
 * and the count cannot reach zero.  @release runs once, when the count
 * reaches zero after the kill.
 * Context: may sleep (allocates).  Pair with zd_percpu_ref_exit().
 * Return: 0, -EINVAL for a NULL @ref or unknown @flags, -ENOMEM.
 */
ZD_API int zd_percpu_ref_init(struct zd_percpu_ref *ref,
			      zd_percpu_ref_func_t *release, unsigned int flags);

/**
 * zd_percpu_ref_exit - undo zd_percpu_ref_init()
 * @ref: the ref, no longer in use
 *
 * Usually called from the release callback or on an init failure path.
 * Refused with a warning while a mode switch is still in flight.  As in
 * the kernel, a second exit (or one of a zeroed, never initialised ref)
 * does nothing and is not reported, so that error paths and the release
 * callback may both call it.
 * Context: may sleep; takes the switch lock.
 */
ZD_API void zd_percpu_ref_exit(struct zd_percpu_ref *ref);

/**
 * zd_percpu_ref_get_many - take @nr references
 * @ref: the ref, between init and exit
 * @nr: how many; 2^62 or more (a negative number) is reported and
 *       ignored
 *
 * Adds @nr references.  The caller must already hold a reference, or
 * otherwise know @ref is not dead; use zd_percpu_ref_tryget_many() when
 * it may be.
 * Context: any thread, never sleeps; per-thread mode writes only the
 * caller's counter.
 */
ZD_API ZD_HOT void zd_percpu_ref_get_many(struct zd_percpu_ref *ref,
					  unsigned long nr);

/**
 * zd_percpu_ref_get - take one reference
 * @ref: the ref, between init and exit
 *
 * Adds one reference.  The caller must already hold one, or otherwise
 * know @ref is not dead; use zd_percpu_ref_tryget() or
 * zd_percpu_ref_tryget_live() when it may be.
 * Context: any thread, never sleeps.
 */
ZD_API ZD_HOT void zd_percpu_ref_get(struct zd_percpu_ref *ref);

/**
 * zd_percpu_ref_tryget_many - take @nr references unless the count is zero
 * @ref: the ref, between init and exit
 * @nr: how many; 2^62 or more is misuse
 *
 * Adds @nr references if the count has not reached zero.  Unlike
 * zd_percpu_ref_tryget_live() it succeeds on a killed ref that still has
 * users.
 * Context: any thread, never sleeps.
 * Return: true if taken; false if the count had reached zero or on misuse.
 */
ZD_API ZD_HOT bool zd_percpu_ref_tryget_many(struct zd_percpu_ref *ref,
					     unsigned long nr);

/**
 * zd_percpu_ref_tryget - take a reference unless the count is zero
 * @ref: the ref, between init and exit
 *
 * Adds one reference if the count has not reached zero.  A killed ref
 * that still has users can still be got this way; use
 * zd_percpu_ref_tryget_live() to refuse once the ref is killed.
 * Context: any thread, never sleeps.
 * Return: true if taken.
 */
ZD_API ZD_HOT bool zd_percpu_ref_tryget(struct zd_percpu_ref *ref);

/**
 * zd_percpu_ref_tryget_live - take a reference unless the ref is dying
 * @ref: the ref, between init and exit
 *
 * A kill alone does not make this fail at once on every thread; after the
 * confirm callback of zd_percpu_ref_kill_and_confirm() has run, it never
 * succeeds.
 * Context: any thread, never sleeps.
 * Return: true if taken.
 */
ZD_API ZD_HOT bool zd_percpu_ref_tryget_live(struct zd_percpu_ref *ref);

/**
 * zd_percpu_ref_put_many - drop @nr references
 * @ref: the ref, between init and exit
 * @nr: how many; 2^62 or more (a negative number) is reported and
 *       ignored, in either mode
 *
 * Calls the release callback, on this thread, if the count reaches zero.
 * A put below zero is reported and undone.
 * Context: any thread; sleeps only if the release callback does.
 */
ZD_API ZD_HOT void zd_percpu_ref_put_many(struct zd_percpu_ref *ref,
					  unsigned long nr);

/**
 * zd_percpu_ref_put - drop one reference
 * @ref: the ref, between init and exit
 *
 * Drops one reference.  If it was the last one (possible only after
 * the kill), the release callback runs on this thread.
 * Context: as zd_percpu_ref_put_many().
 */
ZD_API ZD_HOT void zd_percpu_ref_put(struct zd_percpu_ref *ref);

/**
 * zd_percpu_ref_kill_and_confirm - drop the initial ref, then confirm
 * @ref: the ref, live
 * @confirm_kill: called on the zd-rcu thread once every thread sees @ref
 *                dead, so tryget_live fails from then on (may be NULL)
 *
 * Switches to atomic mode after a grace period.  A second kill is
 * reported and ignored.
 * Context: any thread not inside an RCU read section; does not wait for
 * the grace period, but may wait for an earlier switch to finish.
 */
ZD_API void zd_percpu_ref_kill_and_confirm(struct zd_percpu_ref *ref,
					   zd_percpu_ref_func_t *confirm_kill);

/**
 * zd_percpu_ref_kill - drop the initial ref and start the switch
 * @ref: the ref, live
 *
 * Starts the shutdown of @ref: it drops the initial reference taken by
 * zd_percpu_ref_init() and marks @ref dying, so that
 * zd_percpu_ref_tryget_live() fails from then on, and switches the count
 * to atomic mode after an RCU grace period.  When every other holder has
 * put its reference, the release callback runs, exactly once.
 * zd_percpu_ref_kill_and_confirm() does the same and also says when the
 * kill is visible to every thread.
 *
 * Killing does not wait: an owner that must know when the last user is
 * gone waits in its release callback, for example with a completion.
 * Context: as zd_percpu_ref_kill_and_confirm().
 */
ZD_API void zd_percpu_ref_kill(struct zd_percpu_ref *ref);

/**
 * zd_percpu_ref_switch_to_atomic - make @ref count on one atomic counter
 * @ref: the ref
 * @confirm_switch: called on the zd-rcu thread when every thread uses the
 *                  atomic counter (may be NULL)
 *
 * The ref stays atomic across kill and reinit until
 * zd_percpu_ref_switch_to_percpu().
 * Context: may wait for an earlier switch of @ref to finish.
 */
ZD_API void zd_percpu_ref_switch_to_atomic(struct zd_percpu_ref *ref,
					   zd_percpu_ref_func_t *confirm_switch);

/**
 * zd_percpu_ref_switch_to_atomic_sync - switch to atomic mode and wait
 * @ref: the ref
 *
 * Returns with the count final (zd_percpu_ref_is_zero() is exact).  A
 * release the switch made due may still be running on zd-rcu: to free
 * what the release uses, wait for the release itself (a completion).
 * Context: sleeps for a grace period; not on the zd-rcu thread's callbacks
 * of this ref, not inside an RCU read section.
 */
ZD_API void zd_percpu_ref_switch_to_atomic_sync(struct zd_percpu_ref *ref);

/**
 * zd_percpu_ref_switch_to_percpu - return to per-thread counting
 * @ref: the ref, initialised with ALLOW_REINIT or INIT_ATOMIC
 *
 * Undoes INIT_ATOMIC and switch_to_atomic; a dying ref switches on its
 * next reinit.
 * Context: may wait for an earlier switch of @ref to finish.
 */
ZD_API void zd_percpu_ref_switch_to_percpu(struct zd_percpu_ref *ref);

/**
 * zd_percpu_ref_resurrect - make a killed ref live again
 * @ref: the ref, dying or dead, not exited
 *
 * Takes back the initial ref.
 * Context: may wait for an earlier switch of @ref to finish.
 */
ZD_API void zd_percpu_ref_resurrect(struct zd_percpu_ref *ref);

/**
 * zd_percpu_ref_reinit - restart a ref whose count reached zero
 * @ref: the ref, at zero, not exited
 *
 * Leaves @ref as zd_percpu_ref_init() did (ignoring INIT_DEAD).
 * Context: may wait for an earlier switch of @ref to finish.
 */
ZD_API void zd_percpu_ref_reinit(struct zd_percpu_ref *ref);

/**
 * zd_percpu_ref_is_zero - whether the count has reached zero
 * @ref: the ref (also valid after exit)
 *
 * Tells whether every reference, the initial one included, has been
 * put.  In per-thread mode the count cannot be read without a switch, so
 * this says false there.
 * Context: any thread, never sleeps.
 * Return: true at zero; false in per-thread mode or on misuse.
 */
ZD_API bool zd_percpu_ref_is_zero(struct zd_percpu_ref *ref);

/**
 * zd_percpu_ref_is_dying - whether @ref has been killed
 * @ref: the ref
 *
 * Tells whether @ref has been killed (and not reinitialised or
 * resurrected since), whether or not users remain.
 * Context: any; the caller orders it against kill and resurrect.
 * Return: true if dying or dead.
 */
ZD_API bool zd_percpu_ref_is_dying(struct zd_percpu_ref *ref);

ZD_EXTERN_C_END

#endif /* ZONEDEV_PERCPU_REF_H */
