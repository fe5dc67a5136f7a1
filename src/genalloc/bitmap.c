// SPDX-License-Identifier: MIT
/* Bitmap helpers for genalloc: word-at-a-time set, clear, test and search. */
#include "bitmap.h"

/* Apply @fn to the words covering [start, start + nr) with a mask each. */
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

void zd_bitmap_set(unsigned long *map, unsigned long start, unsigned long nr)
{
	FOR_EACH_WORD_MASK(start, nr, w, m, map[w] |= m);
}

void zd_bitmap_clear(unsigned long *map, unsigned long start, unsigned long nr)
{
	FOR_EACH_WORD_MASK(start, nr, w, m, map[w] &= ~m);
}

bool zd_bitmap_all_set(const unsigned long *map, unsigned long start,
		       unsigned long nr)
{
	FOR_EACH_WORD_MASK(start, nr, w, m, if ((map[w] & m) != m) return false);
	return true;
}

bool zd_bitmap_all_clear(const unsigned long *map, unsigned long start,
			 unsigned long nr)
{
	FOR_EACH_WORD_MASK(start, nr, w, m, if (map[w] & m) return false);
	return true;
}

static unsigned long next_bit(const unsigned long *map, unsigned long size,
			      unsigned long start, unsigned long invert)
{
	while (start < size) {
		unsigned long w = start / BITS_PER_WORD;
		unsigned long x = (map[w] ^ invert) >> (start % BITS_PER_WORD);

		if (x) {
			start += (unsigned long)__builtin_ctzl(x);
			return start < size ? start : size;
		}
		start = (w + 1) * BITS_PER_WORD;
	}
	return size;
}

unsigned long zd_bitmap_next_set(const unsigned long *map, unsigned long size,
				 unsigned long start)
{
	return next_bit(map, size, start, 0);
}

unsigned long zd_bitmap_next_clear(const unsigned long *map, unsigned long size,
				   unsigned long start)
{
	return next_bit(map, size, start, ~0ul);
}

unsigned long zd_bitmap_find_zero_area(const unsigned long *map,
		unsigned long size, unsigned long start, unsigned long nr,
		unsigned long mask, unsigned long off)
{
	for (;;) {
		unsigned long index = zd_bitmap_next_clear(map, size, start);
		unsigned long end, i;

		index = ((index + off + mask) & ~mask) - off;
		end = index + nr;
		if (end > size || end < index)
			return end < index ? size + 1 : end;
		i = zd_bitmap_next_set(map, end, index);
		if (i < end) {
			start = i + 1;
			continue;
		}
		return index;
	}
}
