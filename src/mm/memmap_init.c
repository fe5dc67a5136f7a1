// SPDX-License-Identifier: MIT
/*
 * Initialising a range's struct pages, outside the hotplug lock, on every
 * CPU for large ranges.  Each page is written whole from a template, since
 * an altmap's memmap lives in device memory that may hold old bytes.
 */
#include <pthread.h>
#include <string.h>

#include "../os/os.h"
#include "log.h"
#include "memmap_init.h"
#include "model.h"

#define CHUNK		(64ul * 1024)		/* pages between reports */
#define PARALLEL_MIN	(256ul * 1024)		/* pages worth a thread */
#define MAX_WORKERS	16

struct init_job {
	struct zd_dev_pagemap *pgmap;
	unsigned long first, start, end;	/* pfns; first: head base */
	atomic_ulong *done;
	unsigned long total;
};

static void init_span(const struct init_job *job, unsigned long from,
		      unsigned long to)
{
	struct zd_dev_pagemap *pgmap = job->pgmap;
	unsigned long order_mask = (1ul << pgmap->vmemmap_shift) - 1;
	struct zd_page head = { 0 }, tail = { 0 };
	int count = pgmap->type == ZD_MEMORY_DEVICE_PRIVATE ||
		    pgmap->type == ZD_MEMORY_DEVICE_COHERENT ? 0 : 1;

	head.pgmap = tail.pgmap = pgmap;
	atomic_init(&head._refcount, count);
	atomic_init(&head.flags, ZD_PG_ZONE_DEVICE |
		    (order_mask ? ZD_PG_HEAD : 0));
	head.folio_order = pgmap->vmemmap_shift;
	atomic_init(&tail._refcount, 0);
	atomic_init(&tail.flags, ZD_PG_ZONE_DEVICE | ZD_PG_TAIL);
	for (unsigned long pfn = from; pfn < to; pfn++) {
		struct zd_page *page = zd_pfn_to_page(pfn);
		unsigned long in = (pfn - job->first) & order_mask;

		if (!in) {
			memcpy(page, &head, sizeof(*page));
		} else {
			tail.compound_head = page - in;
			memcpy(page, &tail, sizeof(*page));
		}
	}
}

static void *init_worker(void *arg)
{
	const struct init_job *job = arg;

	for (unsigned long pfn = job->start; pfn < job->end; pfn += CHUNK) {
		unsigned long to = pfn + CHUNK < job->end ? pfn + CHUNK : job->end;

		init_span(job, pfn, to);
		zd_progress("memmap", atomic_fetch_add(job->done, to - pfn) +
			    (to - pfn), job->total);
	}
	return NULL;
}

void zd_memmap_init(struct zd_dev_pagemap *pgmap, unsigned long first,
		    unsigned long end)
{
	unsigned long nr = end - first;
	int n = nr >= PARALLEL_MIN ? zd_os_ncpus() : 1;
	struct init_job jobs[MAX_WORKERS];
	pthread_t tids[MAX_WORKERS];
	bool started[MAX_WORKERS] = { false };
	atomic_ulong done = 0;

	if (n > MAX_WORKERS)
		n = MAX_WORKERS;
	if (n < 1)
		n = 1;
	for (int i = 0; i < n; i++) {
		jobs[i] = (struct init_job){ pgmap, first,
			first + nr * i / n, first + nr * (i + 1) / n, &done, nr };
		/* split at compound page boundaries */
		jobs[i].start = first + ((jobs[i].start - first) &
					 ~((1ul << pgmap->vmemmap_shift) - 1));
		if (i)
			jobs[i - 1].end = jobs[i].start;
	}
	jobs[0].start = first;
	for (int i = 1; i < n; i++)
		started[i] = !pthread_create(&tids[i], NULL, init_worker, &jobs[i]);
	init_worker(&jobs[0]);
	for (int i = 1; i < n; i++) {
		if (started[i])
			pthread_join(tids[i], NULL);
		else
			init_worker(&jobs[i]);	/* no thread: do it here */
	}
}
