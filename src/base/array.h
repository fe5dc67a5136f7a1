/* SPDX-License-Identifier: MIT */
/*
 * Arrays that take one element at a time and grow by doubling (amortised
 * O(1)).  On -ENOMEM the array is left as it was, so that a caller can
 * always fall back to what it does without the element.
 */
#ifndef ZD_BASE_ARRAY_H
#define ZD_BASE_ARRAY_H

#include <errno.h>
#include <stdlib.h>

/*
 * Room in @arr (an lvalue, @cap elements allocated) for its element @nr,
 * the capacity doubling from @first: 0, or -ENOMEM with neither changed.
 */
#define zd_array_room(arr, nr, cap, first) ({				\
	int __err = 0;							\
									\
	if ((size_t)(nr) >= (size_t)(cap)) {				\
		size_t __cap = (cap) ? 2 * (size_t)(cap) : (first);	\
		__typeof__(arr) __p = reallocarray((arr), __cap,	\
						   sizeof(*(arr)));	\
									\
		if (__p) {						\
			(arr) = __p;					\
			(cap) = __cap;					\
		} else {						\
			__err = -ENOMEM;				\
		}							\
	}								\
	__err;								\
})

#endif
