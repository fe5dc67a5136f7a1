/* SPDX-License-Identifier: MIT */
/*
 * An index of a bitmap's free space: a complete binary tree over its
 * words, each node holding the free run at its start (pre), at its end
 * (suf) and the longest inside (max).  The leftmost free run of a given
 * length, from any bit on, is found in O(log words).
 */
#ifndef ZD_GENALLOC_INDEX_H
#define ZD_GENALLOC_INDEX_H

#include <stddef.h>
#include <stdint.h>

struct zd_run_node {
	uint32_t pre, suf, max;
};

#define ZD_RUN_STALE	16

struct zd_run_index {
	const unsigned long *map;
	unsigned long leaves;		/* a power of two >= words */
	unsigned long words;
	struct zd_run_node *tree;	/* 1-based, 2 * leaves */
	unsigned long *queued;		/* a bit per word: in stale[] */
	unsigned long stale[ZD_RUN_STALE];	/* words the tree lags */
	unsigned int nr_stale;
	unsigned long hint;		/* every word below it is full */
};

/* Bytes of memory an index of @words words needs (long aligned). */
size_t zd_run_index_bytes(unsigned long words);
/* Build the index of @map in @mem: zd_run_index_bytes(@words) zeroed
 * bytes, owned by the caller (one block with the chunk keeps a chunk's
 * cache lines together). */
void zd_run_index_init(struct zd_run_index *ix, const unsigned long *map,
		       unsigned long words, void *mem);
/* The bits [start, start + nr) changed in the bitmap. */
void zd_run_index_update(struct zd_run_index *ix, unsigned long start,
			 unsigned long nr);
/* The first bit of the leftmost run of >= @nr free bits starting at or
 * after @from, and in *@len that run's length (to the next set bit, or
 * the end of the bitmap); -1 if none. */
long zd_run_index_find(struct zd_run_index *ix, unsigned long from,
		       unsigned long nr, unsigned long *len);
/* The first free bit, or -1: find(ix, 0, 1, NULL), mostly without the tree. */
long zd_run_index_first_free(struct zd_run_index *ix);
/* The longest run of free bits. */
unsigned long zd_run_index_longest(struct zd_run_index *ix);

#endif /* ZD_GENALLOC_INDEX_H */
