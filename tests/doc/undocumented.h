/* SPDX-License-Identifier: MIT */
/* Fixture: the man page generator must reject this header. */
/**
 * zd_documented - has its comment
 * @x: an argument
 *
 * Return: 0.
 */
ZD_API int zd_documented(int x);

ZD_API int zd_undocumented(int x);

/**
 * zd_wrong_name - comment names another function
 */
ZD_API int zd_mismatch(void);
