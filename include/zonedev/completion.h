/* SPDX-License-Identifier: MIT */
/*
 * Completions: one thread waits until another says "done", with the
 * kernel's counting semantics.  Each zd_complete() lets exactly one wait
 * through; zd_complete_all() lets every present and future wait through
 * until zd_reinit_completion().
 *
 * A completion needs no destructor: all-zero is an initialised, not-done
 * completion.  The waiter may free the completion as soon as its wait
 * returns, even while the completing thread is still inside zd_complete():
 * zd_complete() touches the completion with one atomic operation and then
 * only passes its address to the kernel.
 */
#ifndef ZONEDEV_COMPLETION_H
#define ZONEDEV_COMPLETION_H

#ifndef __cplusplus
#include <stdbool.h>
#endif
#include <zonedev/export.h>

ZD_EXTERN_C_BEGIN

struct zd_completion {
	/* done count (low 31 bits; all ones after complete_all) + waiter bit */
	ZD_ATOMIC(unsigned int) state;
};

#define ZD_COMPLETION_INITIALIZER(work) { 0 }
#define ZD_DECLARE_COMPLETION(work) \
	struct zd_completion work = ZD_COMPLETION_INITIALIZER(work)

/**
 * zd_init_completion - initialise a completion as not done
 * @x: the completion
 *
 * Sets @x to the state an all-zero completion has: nothing done, no
 * waiter.  Use it for a completion that is not statically initialised;
 * to reuse one after zd_complete_all(), use zd_reinit_completion().
 * Context: any; must not race with other users of @x.
 */
ZD_API void zd_init_completion(struct zd_completion *x);

/**
 * zd_reinit_completion - make a completed completion not done again
 * @x: the completion
 *
 * Resets the done count to zero, so that the next
 * zd_wait_for_completion() waits again.  This is how a completion that was
 * completed with zd_complete_all() is used for another round.
 * Context: any; the caller ensures no one is waiting or completing.
 */
ZD_API void zd_reinit_completion(struct zd_completion *x);

/**
 * zd_complete - let one waiter (present or future) through
 * @x: the completion
 *
 * Adds one done to @x.  If a thread is waiting, exactly one of them
 * returns; otherwise the next wait returns at once.  The waiter may free @x
 * as soon as its wait returns, even while this call is still running.
 * Context: any thread, never sleeps.  Calls that outnumber waits
 * accumulate, saturating at complete_all.
 */
ZD_API void zd_complete(struct zd_completion *x);

/**
 * zd_complete_all - let every waiter through until reinit
 * @x: the completion
 *
 * Marks @x done for everyone: every thread waiting now, and every wait
 * that starts later, returns at once, until zd_reinit_completion().
 * Context: any thread, never sleeps.
 */
ZD_API void zd_complete_all(struct zd_completion *x);

/**
 * zd_wait_for_completion - sleep until @x is completed, consuming one done
 * @x: the completion
 *
 * Blocks the calling thread until @x has a done to give, then takes it.
 * Each zd_complete() releases one wait; after zd_complete_all() no wait
 * blocks.  There is no timeout: use zd_wait_for_completion_timeout() for
 * one.
 * Context: may sleep; do not hold a lock the completer needs.
 */
ZD_API void zd_wait_for_completion(struct zd_completion *x);

/**
 * zd_wait_for_completion_timeout - as zd_wait_for_completion(), bounded
 * @x: the completion
 * @timeout_ms: longest wait in milliseconds
 *
 * Like zd_wait_for_completion(), but gives up after @timeout_ms
 * milliseconds.  A done is consumed only when the wait succeeds.
 * Context: may sleep.
 * Return: 0 on timeout, else the milliseconds left (at least 1).
 */
ZD_API unsigned long zd_wait_for_completion_timeout(struct zd_completion *x,
						    unsigned long timeout_ms);

/**
 * zd_try_wait_for_completion - consume one done without sleeping
 * @x: the completion
 *
 * Takes a done from @x if one is there, and returns at once either way.
 * Useful from contexts that must not sleep.
 * Context: any, never sleeps.
 * Return: true if a done was consumed (or @x is completed for all),
 * false if the caller would have had to wait.
 */
ZD_API bool zd_try_wait_for_completion(struct zd_completion *x);

/**
 * zd_completion_done - whether a wait would go through now
 * @x: the completion
 *
 * Reports whether @x has a done available, without consuming it.  The
 * answer can change as soon as it is returned if other threads wait or
 * complete.
 * Context: any, never sleeps.
 * Return: true if @x has a done to give (no wait would block).
 */
ZD_API bool zd_completion_done(struct zd_completion *x);

ZD_EXTERN_C_END

#endif /* ZONEDEV_COMPLETION_H */
