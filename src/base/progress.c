// SPDX-License-Identifier: MIT
/* Progress of long work, reported to whoever asked (a tool's progress bar). */
#include <zonedev/memremap.h>

#include "compiler.h"

static zd_progress_fn *_Atomic progress_fn;
static void *_Atomic progress_arg;

void zd_set_progress(zd_progress_fn *fn, void *arg)
{
	atomic_store(&progress_arg, arg);
	atomic_store(&progress_fn, fn);
}

void zd_progress(const char *what, uint64_t done, uint64_t total)
{
	zd_progress_fn *fn = atomic_load_explicit(&progress_fn,
						  memory_order_relaxed);

	if (fn)
		fn(what, done, total, atomic_load(&progress_arg));
}
