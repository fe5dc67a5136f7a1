// SPDX-License-Identifier: MIT
/* The free-space index of a bitmap (see index.h). */
#include <errno.h>
#include <stdlib.h>

#include "bitmap.h"
#include "fault.h"
#include "index.h"

static struct zd_run_node leaf_of(unsigned long x)
{
	struct zd_run_node n;
	unsigned long y = ~x;		/* free bits */
	uint32_t max = 0;

	if (!x)
		return (struct zd_run_node){ 64, 64, 64 };
	if (!y)
		return (struct zd_run_node){ 0, 0, 0 };
	n.pre = (uint32_t)__builtin_ctzl(x);
	n.suf = (uint32_t)__builtin_clzl(x);
	/* the longest run of free bits: step from run to run */
	while (y) {
		uint32_t run;

		y >>= __builtin_ctzl(y);
		run = ~y ? (uint32_t)__builtin_ctzl(~y) : 64;
		if (run > max)
			max = run;
		if (run >= 64)
			break;
		y >>= run;
	}
	n.max = max;
	return n;
}

static void combine(struct zd_run_node *t, unsigned long i, uint32_t half)
{
	const struct zd_run_node *l = &t[2 * i], *r = &t[2 * i + 1];
	uint32_t m = l->suf + r->pre;

	t[i].pre = l->pre == half ? half + r->pre : l->pre;
	t[i].suf = r->suf == half ? half + l->suf : r->suf;
	m = m > l->max ? m : l->max;
	t[i].max = m > r->max ? m : r->max;
}

/* Words past the end read as allocated. */
static unsigned long word(const struct zd_run_index *ix, unsigned long w)
{
	return w < ix->words ? ix->map[w] : ~0ul;
}

static unsigned long leaves_for(unsigned long words)
{
	unsigned long leaves = 1;

	while (leaves < words)
		leaves *= 2;
	return leaves;
}

size_t zd_run_index_bytes(unsigned long words)
{
	size_t tree = 2 * leaves_for(words) * sizeof(struct zd_run_node);

	return WORDS(words) * sizeof(long) +
	       (tree + sizeof(long) - 1) / sizeof(long) * sizeof(long);
}

void zd_run_index_init(struct zd_run_index *ix, const unsigned long *map,
		       unsigned long words, void *mem)
{
	unsigned long leaves = leaves_for(words);

	ix->queued = mem;
	ix->tree = (struct zd_run_node *)(ix->queued + WORDS(words));
	ix->nr_stale = 0;
	ix->hint = 0;
	ix->map = map;
	ix->leaves = leaves;
	ix->words = words;
	for (unsigned long w = 0; w < leaves; w++)
		ix->tree[leaves + w] = leaf_of(word(ix, w));
	for (unsigned long i = leaves - 1, half = 64; i >= 1; i--) {
		/* nodes of one level share a size */
		unsigned long level_first = 1ul << (63 - __builtin_clzl(i));

		half = 64ul * (leaves / level_first) / 2;
		combine(ix->tree, i, (uint32_t)half);
	}
}

static bool same(struct zd_run_node a, struct zd_run_node b)
{
	return a.pre == b.pre && a.suf == b.suf && a.max == b.max;
}

/*
 * Bring word @w's leaf up to date and walk up while nodes change.  Every
 * inner node always equals the combination of its children as stored,
 * so a node that comes out unchanged leaves its ancestors right.
 */
static void refresh(struct zd_run_index *ix, unsigned long w)
{
	unsigned long i = ix->leaves + w;
	struct zd_run_node old = ix->tree[i];

	ix->tree[i] = leaf_of(word(ix, w));
	for (uint32_t half = 64; i > 1 && !same(old, ix->tree[i]); half *= 2) {
		i /= 2;
		old = ix->tree[i];
		combine(ix->tree, i, half);
	}
}

static void flush(struct zd_run_index *ix)
{
	for (unsigned int k = 0; k < ix->nr_stale; k++) {
		unsigned long w = ix->stale[k];

		ix->queued[w / BITS_PER_WORD] &= ~(1ul << (w % BITS_PER_WORD));
		refresh(ix, w);
	}
	ix->nr_stale = 0;
}

static void queue(struct zd_run_index *ix, unsigned long w)
{
	unsigned long *q = &ix->queued[w / BITS_PER_WORD];
	unsigned long bit = 1ul << (w % BITS_PER_WORD);

	if (*q & bit)
		return;
	if (ix->nr_stale == ZD_RUN_STALE)
		flush(ix);
	*q |= bit;
	ix->stale[ix->nr_stale++] = w;
}

void zd_run_index_update(struct zd_run_index *ix, unsigned long start,
			 unsigned long nr)
{
	unsigned long first = start / BITS_PER_WORD;
	unsigned long last = (start + nr - 1) / BITS_PER_WORD;

	if (!nr)
		return;
	/* bits may have come free below the hint */
	if (first < ix->hint)
		ix->hint = first;
	if (nr == 1) {
		queue(ix, first);
		return;
	}
	/* wider changes walk their span's levels once, together */
	for (unsigned long w = first; w <= last; w++)
		ix->tree[ix->leaves + w] = leaf_of(word(ix, w));
	/* walk the changed span up, level by level */
	first += ix->leaves;
	last += ix->leaves;
	for (uint32_t half = 64; first > 1; half *= 2) {
		first /= 2;
		last /= 2;
		for (unsigned long i = first; i <= last; i++)
			combine(ix->tree, i, half);
	}
}

/* Runs inside one word, bits below @from_off taken as allocated. */
static long scan_word(unsigned long x, unsigned long base, unsigned from_off,
		      unsigned long nr, unsigned long *carry)
{
	unsigned long free = ~x & (~0ul << from_off);
	unsigned pos = 0;

	while (pos < 64) {
		unsigned long rest = free >> pos;

		if (!(rest & 1)) {
			*carry = 0;
			if (!rest)
				return -1;
			pos += (unsigned)__builtin_ctzl(rest);
			continue;
		}
		unsigned run = ~rest ? (unsigned)__builtin_ctzl(~rest) : 64 - pos;

		if (*carry + run >= nr)
			return (long)(base + pos - *carry);
		*carry = pos + run == 64 ? *carry + run : 0;
		pos += run;
	}
	return -1;
}

/* @carry: free bits (at or after @from) just before this node's first. */
static long find(const struct zd_run_index *ix, unsigned long i,
		 unsigned long lo, unsigned long bits, unsigned long from,
		 unsigned long nr, unsigned long *carry)
{
	const struct zd_run_node *t = &ix->tree[i];

	if (lo + bits <= from) {
		*carry = 0;
		return -1;
	}
	if (lo >= from) {
		if (*carry + t->pre >= nr)
			return (long)(lo - *carry);
		if (t->max < nr) {
			*carry = t->pre == bits ? *carry + bits : t->suf;
			return -1;
		}
	}
	if (i >= ix->leaves)
		return scan_word(word(ix, i - ix->leaves), lo,
				 from > lo ? (unsigned)(from - lo) : 0, nr, carry);
	long r = find(ix, 2 * i, lo, bits / 2, from, nr, carry);

	return r >= 0 ? r : find(ix, 2 * i + 1, lo + bits / 2, bits / 2, from,
				 nr, carry);
}

/*
 * find() from bit 0, as a loop: the answer lies under node i given the
 * @carry free bits before it; it starts in the carry, inside the left
 * child, across the middle, or inside the right child, in that order.
 */
static long find_first(const struct zd_run_index *ix, unsigned long nr)
{
	const struct zd_run_node *t = ix->tree;
	unsigned long i = 1, lo = 0, half = ix->leaves * BITS_PER_WORD / 2;
	unsigned long carry = 0;

	if (t[1].max < nr)
		return -1;
	for (; i < ix->leaves; half /= 2) {
		const struct zd_run_node *l = &t[2 * i], *r = &t[2 * i + 1];

		if (carry + t[i].pre >= nr)
			return (long)(lo - carry);
		if (l->max >= nr) {
			i = 2 * i;
			continue;
		}
		if (l->suf + r->pre >= nr)
			return (long)(lo + half - l->suf);
		carry = l->suf;
		lo += half;
		i = 2 * i + 1;
	}
	return scan_word(word(ix, i - ix->leaves), lo, 0, nr, &carry);
}

long zd_run_index_find(struct zd_run_index *ix, unsigned long from,
		       unsigned long nr, unsigned long *len)
{
	unsigned long carry = 0, size = ix->words * BITS_PER_WORD;
	long start;

	flush(ix);
	start = from ? find(ix, 1, 0, ix->leaves * BITS_PER_WORD, from, nr,
			    &carry) : find_first(ix, nr);
	if (start >= 0 && len)
		*len = zd_bitmap_next_set(ix->map, size, (unsigned long)start) -
		       (unsigned long)start;
	return start;
}

/* How many words past the hint first_free looks before asking the tree. */
#define HINT_SCAN	4

long zd_run_index_first_free(struct zd_run_index *ix)
{
	unsigned long w = ix->hint, end = w + HINT_SCAN;
	long s;

	for (; w < ix->words && w < end; w++)
		if (~ix->map[w]) {
			ix->hint = w;
			return (long)(w * BITS_PER_WORD) +
			       __builtin_ctzl(~ix->map[w]);
		}
	if (w >= ix->words) {
		ix->hint = w;
		return -1;
	}
	s = zd_run_index_find(ix, end * BITS_PER_WORD, 1, NULL);
	ix->hint = s < 0 ? ix->words : (unsigned long)s / BITS_PER_WORD;
	return s;
}

unsigned long zd_run_index_longest(struct zd_run_index *ix)
{
	flush(ix);
	return ix->tree[1].max;
}
