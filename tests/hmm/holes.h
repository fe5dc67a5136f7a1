/* SPDX-License-Identifier: MIT */
/*
 * A test buffer unmapped piece by piece: the pages a test unmaps are
 * noted, so that teardown unmaps only the rest and never a hole that
 * another mmap() may have filled since.  Users keep char *buf and
 * bool gone[NPAGES] in their fixture and define PG.
 */
#ifndef ZD_TEST_HMM_HOLES_H
#define ZD_TEST_HMM_HOLES_H

#define unmap_pages(f, first, n) do {					\
	for (unsigned long __i = (first); __i < (first) + (n); __i++)	\
		(f)->gone[__i] = true;					\
	assert_int_equal(munmap((f)->buf + (first) * PG, (n) * PG), 0);	\
} while (0)

#define unmap_rest(f) do {						\
	for (unsigned long __i = 0; (f)->buf && __i < NPAGES; __i++)	\
		if (!(f)->gone[__i])					\
			munmap((f)->buf + __i * PG, PG);		\
} while (0)

#endif /* ZD_TEST_HMM_HOLES_H */
