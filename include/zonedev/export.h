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
