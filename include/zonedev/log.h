/* SPDX-License-Identifier: MIT */
/*
 * Diagnostics: every misuse the library detects (a NULL argument, a put
 * below zero, use after exit, ...) is reported as a WARN-style message
 * through one settable callback, then the call fails with -EINVAL or is
 * ignored.  Nothing aborts unless the environment sets
 * ZONEDEV_PANIC_ON_WARN=1, the userspace twin of the kernel's panic_on_warn.
 */
#ifndef ZONEDEV_LOG_H
#define ZONEDEV_LOG_H

#include <zonedev/export.h>

ZD_EXTERN_C_BEGIN

enum zd_log_level {
	ZD_LOG_WARN = 0,	/* misuse or a broken invariant */
	ZD_LOG_INFO = 1,	/* progress of long work, fallbacks */
	ZD_LOG_DEBUG = 2,
};

/* One formatted line without the trailing newline. */
typedef void zd_log_fn(enum zd_log_level level, const char *msg, void *arg);

/**
 * zd_set_log - route library messages to @fn
 * @fn: callback, or NULL to restore the default (stderr, WARN and INFO)
 * @arg: passed back to @fn
 *
 * Replaces the function that receives zonedev's messages (warnings about
 * misuse, progress and fallbacks, debug detail).  By default warnings and
 * information are printed to stderr.
 * A program that has its own logging, or a test that checks for a
 * warning, installs a callback here.
 * Context: any thread; the callback may be called from any thread,
 * including zonedev's own worker, and must not call back into zonedev.
 * Return: the previous callback (NULL if it was the default).
 */
ZD_API zd_log_fn *zd_set_log(zd_log_fn *fn, void *arg);

/**
 * zd_warn_count - number of WARN messages emitted since process start
 *
 * Tests use it to assert that a misuse was reported.
 * Context: any thread, lock-free.
 * Return: the count.
 */
ZD_API unsigned long zd_warn_count(void);

ZD_EXTERN_C_END

#endif /* ZONEDEV_LOG_H */
