/* SPDX-License-Identifier: MIT */
/* Internal logging: WARN-style reports of misuse, and progress messages. */
#ifndef ZD_BASE_LOG_H
#define ZD_BASE_LOG_H

#include <stdint.h>
#include <zonedev/log.h>

void zd_log(enum zd_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Report a misuse or broken invariant; the caller then fails gracefully. */
#define zd_warn(fmt, ...) \
	zd_log(ZD_LOG_WARN, "WARNING: %s: " fmt, __func__, ##__VA_ARGS__)

/* Evaluates to @cond, warning when it is true. */
#define ZD_WARN_ON(cond, fmt, ...) ({					\
	bool __c = !!(cond);						\
	if (__builtin_expect(__c, 0))					\
		zd_warn(fmt, ##__VA_ARGS__);				\
	__c;								\
})

#define zd_info(fmt, ...) zd_log(ZD_LOG_INFO, fmt, ##__VA_ARGS__)

/* Nanoseconds between reports of a wait that goes on (5 s, as the
 * kernel's hung-task check is coarse; ZONEDEV_HUNG_REPORT_MS sets it,
 * for tests). */
int64_t zd_report_period_ns(void);

#endif /* ZD_BASE_LOG_H */
