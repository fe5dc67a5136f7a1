// SPDX-License-Identifier: MIT
/*
 * Completions on one futex word: bit 31 says someone sleeps on it, the low
 * bits count dones (DONE_ALL after complete_all).  The completer does a
 * single atomic read-modify-write and then a FUTEX_WAKE on the address; it
 * never reads the completion again, so the waiter may free it at once.
 */
#include <errno.h>
#include <stdint.h>
#include <zonedev/completion.h>

#include "../os/os.h"
#include "compiler.h"
#include "log.h"

#define WAITERS		0x80000000u
#define DONE_ALL	0x7fffffffu
#define DONE_MASK	0x7fffffffu

static bool completion_bad(const struct zd_completion *x, const char *fn)
{
	if (likely(x))
		return false;
	zd_log(ZD_LOG_WARN, "WARNING: %s: NULL completion", fn);
	return true;
}

void zd_init_completion(struct zd_completion *x)
{
	if (!completion_bad(x, __func__))
		atomic_store(&x->state, 0);
}

void zd_reinit_completion(struct zd_completion *x)
{
	if (!completion_bad(x, __func__))
		atomic_fetch_and(&x->state, WAITERS);
}

static void complete_to(struct zd_completion *x, bool all)
{
	unsigned int old = atomic_load(&x->state), new;

	do {
		unsigned int done = old & DONE_MASK;

		if (all || done >= DONE_ALL - 1)
			done = DONE_ALL;
		else
			done++;
		new = (old & WAITERS) | done;
	} while (!atomic_compare_exchange_weak(&x->state, &old, new));
	if (old & WAITERS)
		zd_os_futex_wake((unsigned int *)&x->state, all ? INT32_MAX : 1);
}

void zd_complete(struct zd_completion *x)
{
	if (!completion_bad(x, __func__))
		complete_to(x, false);
}

void zd_complete_all(struct zd_completion *x)
{
	if (!completion_bad(x, __func__))
		complete_to(x, true);
}

/* Consume one done if there is one; returns the state seen otherwise. */
static bool take_done(struct zd_completion *x, unsigned int *seen)
{
	unsigned int old = atomic_load(&x->state);

	while (old & DONE_MASK) {
		if ((old & DONE_MASK) == DONE_ALL)
			return true;
		if (atomic_compare_exchange_weak(&x->state, &old, old - 1))
			return true;
	}
	*seen = old;
	return false;
}

/* Sleep until a done is taken or @deadline (ns, <0: none) passes. */
static bool wait_until(struct zd_completion *x, int64_t deadline)
{
	unsigned int seen;

	while (!take_done(x, &seen)) {
		int64_t left = -1;

		if (!(seen & WAITERS) &&
		    !atomic_compare_exchange_strong(&x->state, &seen,
						    seen | WAITERS))
			continue;
		if (deadline >= 0) {
			left = deadline - zd_os_now_ns();
			if (left <= 0)
				return false;
		}
		zd_os_futex_wait((unsigned int *)&x->state, seen | WAITERS, left);
	}
	return true;
}

void zd_wait_for_completion(struct zd_completion *x)
{
	if (!completion_bad(x, __func__))
		wait_until(x, -1);
}

unsigned long zd_wait_for_completion_timeout(struct zd_completion *x,
					    unsigned long timeout_ms)
{
	int64_t deadline, left;

	if (completion_bad(x, __func__))
		return 0;
	if (timeout_ms > INT64_MAX / 2000000)
		timeout_ms = INT64_MAX / 2000000;
	deadline = zd_os_now_ns() + (int64_t)timeout_ms * 1000000;
	if (!wait_until(x, deadline))
		return 0;
	left = (deadline - zd_os_now_ns()) / 1000000;
	return left > 0 ? (unsigned long)left : 1;
}

bool zd_try_wait_for_completion(struct zd_completion *x)
{
	unsigned int seen;

	if (completion_bad(x, __func__))
		return false;
	return take_done(x, &seen);
}

bool zd_completion_done(struct zd_completion *x)
{
	if (completion_bad(x, __func__))
		return false;
	return atomic_load(&x->state) & DONE_MASK;
}
