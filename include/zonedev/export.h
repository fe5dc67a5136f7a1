/* SPDX-License-Identifier: MIT */
/*
 * Symbol export and small portability macros shared by the public headers.
 */
#ifndef ZONEDEV_EXPORT_H
#define ZONEDEV_EXPORT_H

#if defined(ZD_BUILDING_LIBRARY)
#define ZD_API __attribute__((visibility("default")))
#else
#define ZD_API
#endif

/*
 * ZD_HOT marks the calls an application makes per page or per lookup:
 * with GCC they jump through the GOT rather than through a PLT stub, which
 * took 1.2 ns off an 8.5 ns zd_get_dev_pagemap() + zd_put_dev_pagemap()
 * pair on the shared library.  Clang has no such attribute (its -fno-plt
 * does the same for a whole program).
 */
#if defined(__GNUC__) && !defined(__clang__) && !defined(ZD_BUILDING_LIBRARY)
#define ZD_HOT __attribute__((noplt))
#else
#define ZD_HOT
#endif

#ifdef __cplusplus
#define ZD_EXTERN_C_BEGIN extern "C" {
#define ZD_EXTERN_C_END }
/* C++ before C++23 has no _Atomic; the layout is the same for the types used. */
#define ZD_ATOMIC(T) T
#else
#define ZD_EXTERN_C_BEGIN
#define ZD_EXTERN_C_END
#define ZD_ATOMIC(T) _Atomic(T)
#endif

#endif /* ZONEDEV_EXPORT_H */
