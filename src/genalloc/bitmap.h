/* SPDX-License-Identifier: MIT */
/* Bitmaps of allocation granules: set bits are allocated. */
#ifndef ZD_GENALLOC_BITMAP_H
#define ZD_GENALLOC_BITMAP_H

#include <stdbool.h>

#define BITS_PER_WORD	(8 * sizeof(unsigned long))
#define WORDS(bits)	(((bits) + BITS_PER_WORD - 1) / BITS_PER_WORD)

void zd_bitmap_set(unsigned long *map, unsigned long start, unsigned long nr);
void zd_bitmap_clear(unsigned long *map, unsigned long start, unsigned long nr);
bool zd_bitmap_all_set(const unsigned long *map, unsigned long start,
		       unsigned long nr);
bool zd_bitmap_all_clear(const unsigned long *map, unsigned long start,
			 unsigned long nr);
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
