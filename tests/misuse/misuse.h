/* SPDX-License-Identifier: MIT */
/*
 * The misuse catalogue: every exported function fed each kind of bad
 * input that applies to it.  Each case runs in a child process of its own
 * (fork, then a timeout in the parent), so one crash or hang costs one
 * row of the table, not the run.  The header comments are the spec: a
 * case says what its header promises for the bad input, and where the
 * header says nothing, what the project's rule says (a WARNING naming the
 * argument, then an error return; for a void function, a WARNING and no
 * change of state).
 *
 * A case sets up the objects it needs, calls m_arm() right before the bad
 * call (warnings before it do not count), calls the function, then judges
 * with the m_expect_*() helpers and m_state() checks that the object
 * still behaves.  It never cleans up: the child exits.
 */
#ifndef ZD_TEST_MISUSE_H
#define ZD_TEST_MISUSE_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zonedev/zonedev.h>

#define MiB(x)		((uint64_t)(x) << 20)
#define GiB(x)		((uint64_t)(x) << 30)
/* above the default layout's System RAM, inside a 40-bit space */
#define DEV_BASE	GiB(64)

struct mcase {
	const char *fn;		/* the function misused */
	const char *cls;	/* the class of bad input */
	const char *expect;	/* what its header (or the rule) promises */
	void (*run)(void);
};

/* One table per subsystem, each ended by an all-zero entry. */
extern const struct mcase misuse_base_cases[];
extern const struct mcase misuse_device_cases[];
extern const struct mcase misuse_resource_cases[];
extern const struct mcase misuse_genalloc_cases[];
extern const struct mcase misuse_mm_cases[];
extern const struct mcase misuse_pci_cases[];
extern const struct mcase misuse_hmm_cases[];

/* ---- judging, in the child ---------------------------------------------- */

/* Any negative errno will do (the header names none). */
#define ANY_ERR		1

/* Counts warnings from here on: call right before the bad call. */
void m_arm(void);
/* Whether a WARNING was logged since m_arm(). */
bool m_warned(void);
/* The first WARNING since m_arm() ("" if none). */
const char *m_warning(void);

/* An int return: @want (a -errno, or ANY_ERR), with a WARNING. */
void m_expect_err(int got, int want);
/* The same, but the header does not ask for a WARNING. */
void m_expect_err_nowarn(int got, int want);
/* A pointer return: NULL with errno @want (0: any), with a WARNING. */
void m_expect_null(const void *got, int want);
/* The same, but the header does not ask for a WARNING. */
void m_expect_null_nowarn(const void *got, int want);
/* A value return (bool, size, address): @want, with a WARNING. */
void m_expect_val(unsigned long long got, unsigned long long want);
/* A value return where no WARNING is asked for. */
void m_expect_val_nowarn(unsigned long long got, unsigned long long want);
/* A void function: a WARNING. */
void m_expect_warn(void);
/* After the call: @ok, else the state changed ("@what"). */
void m_state(bool ok, const char *what);
/* The case cannot run here (no userfaultfd...): reported, not failed. */
__attribute__((noreturn)) void m_skip(const char *why);
/* Setup failed: the case is broken, not the library. */
__attribute__((noreturn, format(printf, 1, 2))) void m_setup_fail(const char *fmt, ...);

#define M_SETUP(cond) do {						\
	if (!(cond))							\
		m_setup_fail("%s:%d: setup: %s (errno %d)", __FILE__,	\
			     __LINE__, #cond, errno);			\
} while (0)

/* ---- shared setup -------------------------------------------------------- */

/* A zero-filled device with a release callback, initialised (not added). */
struct zd_device *m_dev_new(const char *name);
/* The same, added. */
struct zd_device *m_dev_added(const char *name);
/* The same, added and bound to a driver whose probe does nothing. */
struct zd_device *m_dev_bound(const char *name);
/* A memfd of @size bytes. */
int m_memfd(uint64_t size);
/* A pgmap of @type over [@start, @start + @len), not mapped; FD backing
 * for the CPU-accessible types. */
struct zd_dev_pagemap *m_pgmap_new(enum zd_memory_type type, uint64_t start,
				   uint64_t len);
/* The same, mapped with zd_memremap_pages(). */
struct zd_dev_pagemap *m_pgmap_mapped(enum zd_memory_type type, uint64_t start,
				      uint64_t len);
/* page_free calls seen by m_pgmap_new()'s ops. */
extern int m_page_frees;

#endif /* ZD_TEST_MISUSE_H */
