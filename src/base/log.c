// SPDX-License-Identifier: MIT
/*
 * One sink for every message the library prints.  Misuse is reported, never
 * fatal, unless ZONEDEV_PANIC_ON_WARN=1 asks for an abort (as panic_on_warn).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compiler.h"
#include "log.h"

static zd_log_fn *_Atomic log_fn;
static void *_Atomic log_arg;
static atomic_ulong warn_count;

zd_log_fn *zd_set_log(zd_log_fn *fn, void *arg)
{
	atomic_store(&log_arg, arg);
	return atomic_exchange(&log_fn, fn);
}

unsigned long zd_warn_count(void)
{
	return atomic_load(&warn_count);
}

static bool panic_on_warn(void)
{
	const char *v = getenv("ZONEDEV_PANIC_ON_WARN");

	return v && strcmp(v, "1") == 0;
}

void zd_log(enum zd_log_level level, const char *fmt, ...)
{
	zd_log_fn *fn = atomic_load(&log_fn);
	char buf[512];
	va_list ap;

	if (level == ZD_LOG_WARN)
		atomic_fetch_add(&warn_count, 1);
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (fn)
		fn(level, buf, atomic_load(&log_arg));
	else if (level <= ZD_LOG_INFO)
		fprintf(stderr, "zonedev: %s\n", buf);
	if (level == ZD_LOG_WARN && panic_on_warn())
		abort();
}

int64_t zd_report_period_ns(void)
{
	const char *env = getenv("ZONEDEV_HUNG_REPORT_MS");
	long ms = env ? atol(env) : 0;

	return (ms > 0 ? ms : 5000) * 1000000ll;
}
