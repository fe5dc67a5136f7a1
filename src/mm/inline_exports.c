// SPDX-License-Identifier: MIT
/* The inline helpers of the public headers, as exported functions of the
 * same names, for bindings. */
#define ZD_INLINE __attribute__((visibility("default")))
#include <zonedev/memremap.h>
#include <zonedev/mm.h>
