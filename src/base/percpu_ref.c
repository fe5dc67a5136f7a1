// SPDX-License-Identifier: MIT
/*
 * percpu_ref, after the kernel's lib/percpu-refcount.c.
 *
 * In per-thread mode a get or put adds to the calling thread's slot (see
 * pcpu.h) inside a per-thread section (or an RCU read section it is
 * already in); nothing detects zero.  The atomic counter holds BIAS plus
 * the atomic-mode traffic, so it cannot reach zero while the slots are
 * still unsummed.  Switching to atomic mode sets the ATOMIC bit, waits for
 * a grace period and for every section (after which no thread is still
 * adding to a slot it chose before the bit was set), then adds the slots'
 * sum minus BIAS to the atomic counter in one step.  Killing is that
 * switch with the DEAD bit set and the initial reference dropped.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <zonedev/percpu_ref.h>

#include "fault.h"
#include "log.h"
#include "pcpu.h"
#include "percpu_ref_internal.h"
#include "rcu.h"

#define BIAS		(1ul << (8 * sizeof(unsigned long) - 1))
#define FLAG_MASK	((uintptr_t)ZD_PERCPU_REF_ATOMIC_DEAD)
#define INIT_FLAGS	(ZD_PERCPU_REF_INIT_ATOMIC | ZD_PERCPU_REF_INIT_DEAD | \
			 ZD_PERCPU_REF_ALLOW_REINIT)

struct zd_percpu_ref_data {
	atomic_ulong count;
	zd_percpu_ref_func_t *release;
	zd_percpu_ref_func_t *confirm_switch;	/* non-NULL: switch in flight */
	bool force_atomic;
	bool allow_reinit;
	struct zd_rcu_work rcu;
	struct zd_percpu_ref *ref;
};

/* Guards mode changes and data->confirm_switch; switch_cond announces the
 * end of a switch. */
static pthread_mutex_t switch_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t switch_cond = PTHREAD_COND_INITIALIZER;

static void noop_confirm(struct zd_percpu_ref *ref)
{
}

static uintptr_t ref_ptr(struct zd_percpu_ref *ref)
{
	return atomic_load_explicit(&ref->percpu_count_ptr, memory_order_acquire);
}

static uintptr_t slot_off(struct zd_percpu_ref *ref)
{
	return ref_ptr(ref) & ~FLAG_MASK;
}

/* Misuse checks for the slow paths; @fn names the public call. */
static bool ref_bad(struct zd_percpu_ref *ref, const char *fn)
{
	if (unlikely(!ref)) {
		zd_log(ZD_LOG_WARN, "WARNING: %s: NULL percpu_ref", fn);
		return true;
	}
	if (unlikely(!ref->data)) {
		zd_log(ZD_LOG_WARN, "WARNING: %s: percpu_ref %p used after exit",
		       fn, (void *)ref);
		return true;
	}
	return false;
}

int zd_percpu_ref_init(struct zd_percpu_ref *ref,
		       zd_percpu_ref_func_t *release, unsigned int flags)
{
	struct zd_percpu_ref_data *data;
	unsigned long count = 0;
	uintptr_t ptr;
	long off;

	if (!ref || (flags & ~INIT_FLAGS)) {
		zd_warn("%s", !ref ? "NULL percpu_ref" : "unknown flags");
		return -EINVAL;
	}
	off = zd_pcpu_alloc();
	if (off < 0)
		return (int)off;
	data = zd_zalloc("percpu_ref.data", sizeof(*data));
	if (!data) {
		zd_pcpu_free(off);
		return -ENOMEM;
	}
	ptr = (uintptr_t)off;
	data->force_atomic = flags & ZD_PERCPU_REF_INIT_ATOMIC;
	data->allow_reinit = flags & ZD_PERCPU_REF_ALLOW_REINIT;
	if (flags & (ZD_PERCPU_REF_INIT_ATOMIC | ZD_PERCPU_REF_INIT_DEAD)) {
		ptr |= ZD_PERCPU_REF_ATOMIC;
		data->allow_reinit = true;
	} else {
		count += BIAS;
	}
	if (flags & ZD_PERCPU_REF_INIT_DEAD)
		ptr |= ZD_PERCPU_REF_DEAD;
	else
		count++;
	atomic_init(&data->count, count);
	data->release = release;
	data->ref = ref;
	ref->data = data;
	atomic_store_explicit(&ref->percpu_count_ptr, ptr, memory_order_release);
	return 0;
}

/* Free the per-thread slot; the ref keeps counting atomically. */
static void ref_drop_slot(struct zd_percpu_ref *ref)
{
	uintptr_t ptr = ref_ptr(ref), off = ptr & ~FLAG_MASK;

	if (!off)
		return;
	zd_pcpu_free(off);
	atomic_store(&ref->percpu_count_ptr, ZD_PERCPU_REF_ATOMIC |
		     (ptr & ZD_PERCPU_REF_DEAD));
}

void zd_percpu_ref_exit(struct zd_percpu_ref *ref)
{
	struct zd_percpu_ref_data *data;
	unsigned long count;

	if (ZD_WARN_ON(!ref, "NULL percpu_ref"))
		return;
	pthread_mutex_lock(&switch_lock);
	data = ref->data;
	if (data && data->confirm_switch) {
		pthread_mutex_unlock(&switch_lock);
		zd_warn("percpu_ref %p: exit refused, a mode switch is in flight",
			(void *)ref);
		return;
	}
	if (data) {
		uintptr_t off = slot_off(ref);

		if (off)
			zd_pcpu_free(off);
		/* keep the count for zd_percpu_ref_is_zero() after exit */
		count = atomic_load(&data->count);
		atomic_store(&ref->percpu_count_ptr, ZD_PERCPU_REF_ATOMIC_DEAD |
			     (count << ZD_PERCPU_REF_FLAG_BITS));
		ref->data = NULL;
	}
	pthread_mutex_unlock(&switch_lock);
	free(data);
}

/* ---- the fast paths ---------------------------------------------------- */

/* Atomic-mode add; reports a get on a ref whose count already hit zero. */
static void ref_atomic_add(struct zd_percpu_ref *ref, unsigned long nr,
			   const char *fn)
{
	if (ref_bad(ref, fn))
		return;
	if (unlikely(atomic_fetch_add(&ref->data->count, nr) == 0))
		zd_log(ZD_LOG_WARN, "WARNING: %s: percpu_ref %p taken after it "
		       "reached zero", fn, (void *)ref);
}

/* Atomic-mode sub: true if the count reached zero.  Before the slots are
 * folded the counter sits near BIAS; after, it is the true count, so a
 * result just below zero (and far from BIAS) is a put below zero. */
static bool ref_atomic_sub(struct zd_percpu_ref *ref, unsigned long nr,
			   const char *fn)
{
	unsigned long old;
	long now;

	if (ref_bad(ref, fn))
		return false;
	old = atomic_fetch_sub(&ref->data->count, nr);
	now = (long)(old - nr);
	if (unlikely(now < 0 && now > -(long)(BIAS >> 1))) {
		atomic_fetch_add(&ref->data->count, nr);
		zd_log(ZD_LOG_WARN, "WARNING: %s: percpu_ref %p put below zero "
		       "(count %lu, put %lu); put ignored", fn, (void *)ref,
		       old, nr);
		return false;
	}
	return now == 0;
}

/*
 * Per-thread add: true if done, false if the ref is in atomic mode (or has
 * no counter area), leaving the work to the caller's out-of-line slow path
 * so that the fast path stays a leaf function.
 */
static inline bool ref_slot_add(struct zd_percpu_ref *ref, unsigned long nr)
{
	char *base = zd_pcpu_base;
	unsigned long was;
	bool done;

	if (unlikely(!ref || !base))
		return false;
	was = zd_pcpu_section_enter(base);
	done = zd__percpu_ref_add_inside(ref, nr, base);
	zd_pcpu_section_exit(base, was);
	return done;
}

/* Slow path of get: the first call on this thread, or atomic mode. */
static __attribute__((noinline)) void ref_get_slow(struct zd_percpu_ref *ref,
						   unsigned long nr)
{
	if (unlikely(!ref))
		return (void)ref_bad(ref, "zd_percpu_ref_get");
	zd_pcpu_this();
	if (ref_slot_add(ref, nr))
		return;
	zd_rcu_read_lock();
	ref_atomic_add(ref, nr, "zd_percpu_ref_get");
	zd_rcu_read_unlock();
}

/*
 * No count comes near BIAS / 2: a larger @nr is a negative number passed
 * as unsigned.  Added to a per-thread counter it would change the count
 * the other way without a word, so it is refused before anything moves.
 */
static __attribute__((noinline)) bool nr_bad(struct zd_percpu_ref *ref,
					     unsigned long nr, const char *fn)
{
	if (nr < (BIAS >> 1))
		return false;
	zd_log(ZD_LOG_WARN, "WARNING: %s: percpu_ref %p: count %lu (%ld) out of "
	       "range; ignored", fn, (void *)ref, nr, (long)nr);
	return true;
}

void zd_percpu_ref_get_many(struct zd_percpu_ref *ref, unsigned long nr)
{
	if (unlikely(nr >= (BIAS >> 1)) && nr_bad(ref, nr, __func__))
		return;
	if (!ref_slot_add(ref, nr))
		ref_get_slow(ref, nr);
}

void zd_percpu_ref_get(struct zd_percpu_ref *ref)
{
	if (!ref_slot_add(ref, 1))
		ref_get_slow(ref, 1);
}

/* Atomic add unless zero (or dead, with @live). */
static bool ref_atomic_tryadd(struct zd_percpu_ref *ref, unsigned long nr,
			      bool live, const char *fn)
{
	unsigned long c;

	if (ref_bad(ref, fn))
		return false;
	if (live && (ref_ptr(ref) & ZD_PERCPU_REF_DEAD))
		return false;
	c = atomic_load(&ref->data->count);
	do {
		if (!c)
			return false;
	} while (!atomic_compare_exchange_weak(&ref->data->count, &c, c + nr));
	return true;
}

static __attribute__((noinline)) bool
ref_tryget_slow(struct zd_percpu_ref *ref, unsigned long nr, bool live,
		const char *fn)
{
	bool ret;

	if (unlikely(!ref)) {
		ref_bad(ref, fn);
		return false;
	}
	zd_pcpu_this();
	if (ref_slot_add(ref, nr))
		return true;
	zd_rcu_read_lock();
	ret = ref_atomic_tryadd(ref, nr, live, fn);
	zd_rcu_read_unlock();
	return ret;
}

static inline bool ref_tryget(struct zd_percpu_ref *ref, unsigned long nr,
			      bool live, const char *fn)
{
	return ref_slot_add(ref, nr) || ref_tryget_slow(ref, nr, live, fn);
}

bool zd__percpu_ref_tryget_live_slow(struct zd_percpu_ref *ref)
{
	return zd__percpu_ref_add_inside(ref, 1, zd_pcpu_base) ||
	       ref_tryget_slow(ref, 1, true, "zd_percpu_ref_tryget_live");
}

bool zd_percpu_ref_tryget_many(struct zd_percpu_ref *ref, unsigned long nr)
{
	if (unlikely(nr >= (BIAS >> 1)) && nr_bad(ref, nr, __func__))
		return false;
	return ref_tryget(ref, nr, false, __func__);
}

bool zd_percpu_ref_tryget(struct zd_percpu_ref *ref)
{
	return ref_tryget(ref, 1, false, __func__);
}

bool zd_percpu_ref_tryget_live(struct zd_percpu_ref *ref)
{
	return ref_tryget(ref, 1, true, __func__);
}

static __attribute__((noinline)) void ref_put_slow(struct zd_percpu_ref *ref,
						   unsigned long nr)
{
	zd_percpu_ref_func_t *release_fn;
	bool release;

	if (unlikely(!ref))
		return (void)ref_bad(ref, "zd_percpu_ref_put");
	zd_pcpu_this();
	if (ref_slot_add(ref, -nr))
		return;
	zd_rcu_read_lock();
	/* read before the count can reach zero and the data be freed */
	release_fn = ref->data ? ref->data->release : NULL;
	release = ref_atomic_sub(ref, nr, "zd_percpu_ref_put");
	zd_rcu_read_unlock();
	/* outside the read section: release may wait for a grace period */
	if (release && release_fn)
		release_fn(ref);
}

void zd_percpu_ref_put_many(struct zd_percpu_ref *ref, unsigned long nr)
{
	if (unlikely(nr >= (BIAS >> 1)) && nr_bad(ref, nr, __func__))
		return;
	if (!ref_slot_add(ref, -nr))
		ref_put_slow(ref, nr);
}

void zd_percpu_ref_put(struct zd_percpu_ref *ref)
{
	if (!ref_slot_add(ref, -1ul))
		ref_put_slow(ref, 1);
}

/* ---- mode switching ---------------------------------------------------- */

/* After the grace period: fold the slots into the atomic counter. */
static void switch_to_atomic_rcu(struct zd_rcu_work *work)
{
	struct zd_percpu_ref_data *data =
		container_of(work, struct zd_percpu_ref_data, rcu);
	struct zd_percpu_ref *ref = data->ref;
	zd_percpu_ref_func_t *release_fn = data->release;
	unsigned long sum;
	bool release;
	long now;

	zd_pcpu_synchronize();
	sum = zd_pcpu_sum(slot_off(ref));
	/* sum first, then one add: a partial sum could touch zero */
	now = (long)(atomic_fetch_add(&data->count, sum - BIAS) + sum - BIAS);
	if (now <= 0)
		zd_warn("percpu_ref %p count %ld after switching to atomic: "
			"more puts than gets", (void *)ref, now);
	data->confirm_switch(ref);
	/*
	 * Drop the reference taken when the switch started in the same step
	 * that marks the switch done, so that whoever waited for the switch
	 * sees the final count.  From the unlock on, that waiter may exit
	 * and free @data: a release this made due runs from the callback
	 * pointer read before, here on zd-rcu, without the lock.
	 */
	pthread_mutex_lock(&switch_lock);
	release = ref_atomic_sub(ref, 1, "zd_percpu_ref_switch_to_atomic");
	data->confirm_switch = NULL;
	if (!data->allow_reinit)
		ref_drop_slot(ref);
	pthread_cond_broadcast(&switch_cond);
	pthread_mutex_unlock(&switch_lock);
	if (release && release_fn)
		release_fn(ref);
}

static void switch_to_atomic_locked(struct zd_percpu_ref *ref,
				    zd_percpu_ref_func_t *confirm)
{
	struct zd_percpu_ref_data *data = ref->data;

	if (ref_ptr(ref) & ZD_PERCPU_REF_ATOMIC) {
		if (confirm)
			confirm(ref);
		return;
	}
	atomic_fetch_or(&ref->percpu_count_ptr, ZD_PERCPU_REF_ATOMIC);
	data->confirm_switch = confirm ? confirm : noop_confirm;
	atomic_fetch_add(&data->count, 1);	/* put after confirmation */
	if (zd_rcu_call(&data->rcu, switch_to_atomic_rcu)) {
		/* no worker thread: wait for the grace period here */
		zd_synchronize_rcu();
		pthread_mutex_unlock(&switch_lock);
		switch_to_atomic_rcu(&data->rcu);
		pthread_mutex_lock(&switch_lock);
	}
}

static void switch_to_percpu_locked(struct zd_percpu_ref *ref)
{
	uintptr_t ptr = ref_ptr(ref);

	if (!(ptr & ZD_PERCPU_REF_ATOMIC))
		return;
	if (!ref->data->allow_reinit || !(ptr & ~FLAG_MASK)) {
		zd_warn("percpu_ref %p was not initialised with "
			"ZD_PERCPU_REF_ALLOW_REINIT; stays atomic", (void *)ref);
		return;
	}
	atomic_fetch_add(&ref->data->count, BIAS);
	/* zeroes visible before any thread sees per-thread mode again */
	zd_pcpu_zero(ptr & ~FLAG_MASK);
	atomic_store_explicit(&ref->percpu_count_ptr, ptr & ~(uintptr_t)
			      ZD_PERCPU_REF_ATOMIC, memory_order_release);
}

/* Wait for a switch in flight; on the zd-rcu thread itself, run it. */
static void wait_switch_locked(struct zd_percpu_ref *ref)
{
	while (ref->data->confirm_switch) {
		if (!zd_rcu_on_worker()) {
			pthread_cond_wait(&switch_cond, &switch_lock);
			continue;
		}
		pthread_mutex_unlock(&switch_lock);
		int ran = zd_rcu_run_pending();
		pthread_mutex_lock(&switch_lock);
		if (!ran && ref->data->confirm_switch) {
			zd_warn("percpu_ref %p: switch requested from its own "
				"confirm callback", (void *)ref);
			return;
		}
	}
}

static void switch_mode_locked(struct zd_percpu_ref *ref,
			       zd_percpu_ref_func_t *confirm)
{
	wait_switch_locked(ref);
	if (ref->data->force_atomic || (ref_ptr(ref) & ZD_PERCPU_REF_DEAD))
		switch_to_atomic_locked(ref, confirm);
	else
		switch_to_percpu_locked(ref);
}

void zd_percpu_ref_switch_to_atomic(struct zd_percpu_ref *ref,
				    zd_percpu_ref_func_t *confirm_switch)
{
	if (ref_bad(ref, __func__))
		return;
	pthread_mutex_lock(&switch_lock);
	ref->data->force_atomic = true;
	switch_mode_locked(ref, confirm_switch);
	pthread_mutex_unlock(&switch_lock);
}

void zd_percpu_ref_switch_to_atomic_sync(struct zd_percpu_ref *ref)
{
	if (ref_bad(ref, __func__))
		return;
	zd_percpu_ref_switch_to_atomic(ref, NULL);
	pthread_mutex_lock(&switch_lock);
	wait_switch_locked(ref);
	pthread_mutex_unlock(&switch_lock);
}

void zd_percpu_ref_switch_to_percpu(struct zd_percpu_ref *ref)
{
	if (ref_bad(ref, __func__))
		return;
	pthread_mutex_lock(&switch_lock);
	ref->data->force_atomic = false;
	switch_mode_locked(ref, NULL);
	pthread_mutex_unlock(&switch_lock);
}

void zd_percpu_ref_kill_and_confirm(struct zd_percpu_ref *ref,
				    zd_percpu_ref_func_t *confirm_kill)
{
	if (ref_bad(ref, __func__))
		return;
	pthread_mutex_lock(&switch_lock);
	if (ref_ptr(ref) & ZD_PERCPU_REF_DEAD) {
		pthread_mutex_unlock(&switch_lock);
		zd_warn("percpu_ref %p killed more than once; ignored",
			(void *)ref);
		return;
	}
	atomic_fetch_or(&ref->percpu_count_ptr, ZD_PERCPU_REF_DEAD);
	switch_mode_locked(ref, confirm_kill);
	pthread_mutex_unlock(&switch_lock);
	/* the initial reference; outside the lock, release may take it */
	zd_percpu_ref_put(ref);
}

void zd_percpu_ref_kill(struct zd_percpu_ref *ref)
{
	zd_percpu_ref_kill_and_confirm(ref, NULL);
}

bool zd_percpu_ref_is_zero(struct zd_percpu_ref *ref)
{
	unsigned long count;
	uintptr_t ptr;

	if (ZD_WARN_ON(!ref, "NULL percpu_ref"))
		return false;
	if (!(ref_ptr(ref) & ZD_PERCPU_REF_ATOMIC))
		return false;
	pthread_mutex_lock(&switch_lock);	/* against exit */
	ptr = ref_ptr(ref);
	if (ref->data)
		count = atomic_load(&ref->data->count);
	else
		count = ptr >> ZD_PERCPU_REF_FLAG_BITS;
	pthread_mutex_unlock(&switch_lock);
	return count == 0;
}

long zd__percpu_ref_count(struct zd_percpu_ref *ref)
{
	unsigned long count;

	pthread_mutex_lock(&switch_lock);	/* against exit */
	if (ref->data)
		count = atomic_load(&ref->data->count);
	else
		count = ref_ptr(ref) >> ZD_PERCPU_REF_FLAG_BITS;
	pthread_mutex_unlock(&switch_lock);
	return (long)count;
}

bool zd_percpu_ref_is_dying(struct zd_percpu_ref *ref)
{
	if (ZD_WARN_ON(!ref, "NULL percpu_ref"))
		return false;
	return ref_ptr(ref) & ZD_PERCPU_REF_DEAD;
}

void zd_percpu_ref_resurrect(struct zd_percpu_ref *ref)
{
	if (ref_bad(ref, __func__))
		return;
	pthread_mutex_lock(&switch_lock);
	if (!(ref_ptr(ref) & ZD_PERCPU_REF_DEAD)) {
		pthread_mutex_unlock(&switch_lock);
		zd_warn("percpu_ref %p is not dying; resurrect ignored",
			(void *)ref);
		return;
	}
	wait_switch_locked(ref);
	atomic_fetch_and(&ref->percpu_count_ptr,
			 ~(uintptr_t)ZD_PERCPU_REF_DEAD);
	atomic_fetch_add(&ref->data->count, 1);	/* the initial ref again */
	switch_mode_locked(ref, NULL);
	pthread_mutex_unlock(&switch_lock);
}

void zd_percpu_ref_reinit(struct zd_percpu_ref *ref)
{
	if (ref_bad(ref, __func__))
		return;
	if (!zd_percpu_ref_is_zero(ref))
		zd_warn("percpu_ref %p reinit while its count is not zero",
			(void *)ref);
	zd_percpu_ref_resurrect(ref);
}

void zd_percpu_ref_fork_prepare(void)
{
	pthread_mutex_lock(&switch_lock);
}

void zd_percpu_ref_fork_parent(void)
{
	pthread_mutex_unlock(&switch_lock);
}

void zd_percpu_ref_fork_child(void)
{
	pthread_mutex_init(&switch_lock, NULL);
	pthread_cond_init(&switch_cond, NULL);
}
