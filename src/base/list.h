/* SPDX-License-Identifier: MIT */
/* The kernel's intrusive list, on the public struct zd_list_head. */
#ifndef ZD_BASE_LIST_H
#define ZD_BASE_LIST_H

#include <stdbool.h>
#include <zonedev/types.h>

#include "compiler.h"

static inline void zd_list_init(struct zd_list_head *h)
{
	h->next = h->prev = h;
}

static inline bool zd_list_empty(const struct zd_list_head *h)
{
	return h->next == h;
}

static inline void zd__list_insert(struct zd_list_head *n,
				   struct zd_list_head *prev,
				   struct zd_list_head *next)
{
	n->next = next;
	n->prev = prev;
	prev->next = n;
	next->prev = n;
}

static inline void zd_list_add_tail(struct zd_list_head *n,
				    struct zd_list_head *h)
{
	zd__list_insert(n, h->prev, h);
}

/* Unlink @n and leave it empty, so zd_list_empty(n) tells "not on a list". */
static inline void zd_list_del_init(struct zd_list_head *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	zd_list_init(n);
}

static inline void zd_list_move_tail(struct zd_list_head *n,
				     struct zd_list_head *h)
{
	zd_list_del_init(n);
	zd_list_add_tail(n, h);
}

#define zd_list_entry(ptr, type, member) container_of(ptr, type, member)

#define zd_list_for_each(pos, head) \
	for (pos = (head)->next; pos != (head); pos = pos->next)

#define zd_list_for_each_reverse(pos, head) \
	for (pos = (head)->prev; pos != (head); pos = pos->prev)

#endif /* ZD_BASE_LIST_H */
