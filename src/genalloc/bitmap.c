// SPDX-License-Identifier: MIT
/* Bitmap helpers for genalloc: word-at-a-time set, clear, test and search. */
#include "bitmap.h"

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
