// SPDX-License-Identifier: MIT
/*
 * Fault injection.  Armed state lives in a handful of globals.  A test
 * may re-arm while another thread evaluates a site (a pause point it has
 * not reached yet), so the prefix is a pointer to an interned string that
 * never changes once published.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "../os/os.h"
#include "fault.h"
#include "log.h"

enum { FAULT_OFF, FAULT_NTH, FAULT_EVERY, FAULT_PAUSE = ZD__FAULT_PAUSE };

atomic_int zd__fault_armed;
static atomic_ulong fault_nth, fault_calls, fault_hits;
#define PREFIX_MAX	64
#define PREFIXES	128	/* distinct prefixes a process may arm */
static char prefix_pool[PREFIXES][PREFIX_MAX];
static unsigned int nr_prefixes;	/* under prefix_lock */
static pthread_mutex_t prefix_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic(const char *) fault_prefix = "";

/* @prefix's copy in the pool, added if new; NULL when the pool is full. */
static const char *intern(const char *prefix)
{
	const char *p = NULL;

	pthread_mutex_lock(&prefix_lock);
	for (unsigned int i = 0; i < nr_prefixes && !p; i++)
		if (!strcmp(prefix_pool[i], prefix))
			p = prefix_pool[i];
	if (!p && nr_prefixes < PREFIXES) {
		strcpy(prefix_pool[nr_prefixes], prefix);
		p = prefix_pool[nr_prefixes++];
	}
	pthread_mutex_unlock(&prefix_lock);
	return p;
}
/* pause mode: how long a point holds a thread; bumped by each resume */
static atomic_uint pause_ms, pause_gen;

/* Refused with nothing changed, so a held thread keeps its timeout. */
static int fault_arm(int mode, unsigned long nth, unsigned int timeout_ms,
		     const char *prefix)
{
	const char *p;

	if (prefix && strlen(prefix) >= PREFIX_MAX) {
		zd_warn("site prefix \"%.20s...\" longer than %d bytes",
			prefix, PREFIX_MAX - 1);
		return -EINVAL;
	}
	p = intern(prefix ? prefix : "");
	if (!p) {
		zd_warn("more than %d distinct site prefixes armed", PREFIXES);
		return -ENOSPC;
	}
	atomic_store(&zd__fault_armed, FAULT_OFF);
	atomic_store(&fault_prefix, p);
	atomic_store(&fault_nth, nth);
	atomic_store(&pause_ms, timeout_ms);
	atomic_store(&fault_calls, 0);
	atomic_store(&fault_hits, 0);
	atomic_store(&zd__fault_armed, mode);
	return 0;
}

int zd_fault_inject_nth(unsigned long nth, const char *prefix)
{
	return fault_arm(FAULT_NTH, nth, 0, prefix);
}

int zd_fault_inject_site(const char *prefix)
{
	return fault_arm(FAULT_EVERY, 0, 0, prefix);
}

int zd_fault_inject_pause(const char *prefix, unsigned int timeout_ms)
{
	return fault_arm(FAULT_PAUSE, 0, timeout_ms, prefix);
}

void zd_fault_inject_resume(void)
{
	atomic_fetch_add(&pause_gen, 1);
	zd_os_futex_wake((unsigned int *)&pause_gen, INT32_MAX);
}

void zd_fault_inject_reset(void)
{
	fault_arm(FAULT_OFF, 0, 0, NULL);
}

unsigned long zd_fault_inject_calls(void)
{
	return atomic_load(&fault_calls);
}

unsigned long zd_fault_inject_hits(void)
{
	return atomic_load(&fault_hits);
}

/* The call number if @site matches the armed prefix, else 0. */
static unsigned long count_call(const char *site)
{
	const char *prefix = atomic_load(&fault_prefix);

	if (strncmp(site, prefix, strlen(prefix)) != 0)
		return 0;
	return atomic_fetch_add(&fault_calls, 1) + 1;
}

bool zd__fault_hit(const char *site)
{
	int mode = atomic_load(&zd__fault_armed);
	unsigned long n;

	if (mode == FAULT_PAUSE || !(n = count_call(site)))
		return false;
	if (mode == FAULT_NTH && n != atomic_load(&fault_nth))
		return false;
	atomic_fetch_add(&fault_hits, 1);
	zd_log(ZD_LOG_DEBUG, "fault injected at %s (call %lu)", site, n);
	return true;
}

void zd__fault_pause(const char *site)
{
	/* read before the call is counted: a resume the test makes after
	 * seeing the count is then never missed */
	unsigned int gen = atomic_load(&pause_gen);
	unsigned long n;
	int64_t end;

	/* acquire: the prefix was written before the mode */
	if (atomic_load(&zd__fault_armed) != FAULT_PAUSE ||
	    !(n = count_call(site)))
		return;
	end = zd_os_now_ns() + (int64_t)atomic_load(&pause_ms) * 1000000;
	zd_log(ZD_LOG_DEBUG, "paused at %s (call %lu)", site, n);
	for (int64_t left; atomic_load(&pause_gen) == gen &&
			   (left = end - zd_os_now_ns()) > 0;)
		zd_os_futex_wait((unsigned int *)&pause_gen, gen, left);
}

void *zd_zalloc(const char *site, size_t size)
{
	if (zd_fault(site)) {
		errno = ENOMEM;
		return NULL;
	}
	return calloc(1, size);
}

/* ZONEDEV_FAULT=nth=N[,site=PREFIX] | site=PREFIX, read before main(). */
__attribute__((constructor)) static void fault_from_env(void)
{
	const char *env = getenv("ZONEDEV_FAULT");
	char prefix[64] = "";
	unsigned long nth = 0;
	const char *s;

	if (!env || !*env)
		return;
	s = strstr(env, "site=");
	if (s)
		sscanf(s + 5, "%63[^,]", prefix);
	if (sscanf(env, "nth=%lu", &nth) == 1)
		zd_fault_inject_nth(nth, prefix);
	else if (s)
		zd_fault_inject_site(prefix);
	else
		zd_warn("cannot parse ZONEDEV_FAULT=\"%s\"", env);
}
