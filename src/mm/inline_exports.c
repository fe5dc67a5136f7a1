// SPDX-License-Identifier: MIT
/* The inline helpers of zonedev/mm.h, as exported functions for bindings. */
#define ZD_INLINE __attribute__((visibility("default")))
#include <zonedev/mm.h>
