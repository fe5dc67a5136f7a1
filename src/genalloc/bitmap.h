/* SPDX-License-Identifier: MIT */
/* Bitmaps of allocation granules: set bits are allocated. */
#ifndef ZD_GENALLOC_BITMAP_H
#define ZD_GENALLOC_BITMAP_H

#include <stdbool.h>

#define BITS_PER_WORD	(8 * sizeof(unsigned long))
#define WORDS(bits)	(((bits) + BITS_PER_WORD - 1) / BITS_PER_WORD)

/*
 * Run @body for each word covering [start, start + nr), with @w its index
 * and @m the mask of the range's bits in it.  Inline: most calls touch one
 * bit, and the pool's fast paths are a handful of them.
 */
#define FOR_EACH_WORD_MASK(start, nr, w, m, body) do {			\
	unsigned long __s = (start), __e = (start) + (nr);		\
	while (__s < __e) {						\
		unsigned long w = __s / BITS_PER_WORD;			\
		unsigned long __b = __s % BITS_PER_WORD;		\
		unsigned long __n = BITS_PER_WORD - __b;		\
		if (__n > __e - __s)					\
			__n = __e - __s;				\
		unsigned long m = (__n == BITS_PER_WORD ? ~0ul :	\
				   ((1ul << __n) - 1)) << __b;		\
		body;							\
		__s += __n;						\
	}								\
} while (0)

static inline void zd_bitmap_set(unsigned long *map, unsigned long start, unsigned long nr)
{
	FOR_EACH_WORD_MASK(start, nr, w, m, map[w] |= m);
}

static inline void zd_bitmap_clear(unsigned long *map, unsigned long start, unsigned long nr)
{
	FOR_EACH_WORD_MASK(start, nr, w, m, map[w] &= ~m);
}

static inline bool zd_bitmap_all_set(const unsigned long *map, unsigned long start,
		       unsigned long nr)
{
	FOR_EACH_WORD_MASK(start, nr, w, m, if ((map[w] & m) != m) return false);
	return true;
}

static inline bool zd_bitmap_all_clear(const unsigned long *map, unsigned long start,
			 unsigned long nr)
{
	FOR_EACH_WORD_MASK(start, nr, w, m, if (map[w] & m) return false);
	return true;
}

unsigned long zd_bitmap_next_set(const unsigned long *map, unsigned long size,
				 unsigned long start);
unsigned long zd_bitmap_next_clear(const unsigned long *map, unsigned long size,
				   unsigned long start);
/* The first @nr clear bits at or after @start whose first bit b has
 * (b + @off) & @mask == 0; a value > @size - @nr if none. */
unsigned long zd_bitmap_find_zero_area(const unsigned long *map,
		unsigned long size, unsigned long start, unsigned long nr,
		unsigned long mask, unsigned long off);

#endif /* ZD_GENALLOC_BITMAP_H */
