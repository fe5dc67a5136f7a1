// SPDX-License-Identifier: MIT
/*
 * A fuzz target over sequences of gen_pool and resource-tree calls, each
 * checked against a reference model after every step.
 *
 * gen_pool: up to four chunks with owners; allocations with first fit,
 * best fit or order-aligned first fit; frees, right and wrong (a size of
 * SIZE_MAX, the wrong size, an address never handed out, a double free).
 * The model keeps every granule's state: an allocation must be free
 * granules of one chunk and name that chunk's owner; first and best fit
 * may fail only when no chunk has room; a wrong free must be refused and
 * change nothing; avail and size always match; destroy at the end works.
 *
 * Resource tree: resources requested under a private root or under each
 * other, released leaves first, and requested again while in the tree
 * (which must be refused and change nothing).  After every step the tree
 * is walked and must be exactly the model: same nodes, same parents,
 * children sorted, disjoint and inside their parent.
 *
 * Built two ways: with clang's libFuzzer (scripts/fuzz.sh), and as
 * fuzz_replay, which runs the kept corpus (tests/fuzz/corpus) in every
 * normal and ASan test run.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zonedev/zonedev.h>

#define CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "fuzz_api: %s:%d: %s\n", __FILE__,	\
			__LINE__, #cond);				\
		abort();						\
	}								\
} while (0)

struct input {
	const uint8_t *p;
	size_t left;
};

static unsigned int take(struct input *in, int bytes)
{
	unsigned int v = 0;

	while (bytes--) {
		v = v << 8 | (in->left ? *in->p : 0);
		if (in->left) {
			in->p++;
			in->left--;
		}
	}
	return v;
}

static unsigned long warnings;

static void count_warning(enum zd_log_level level, const char *msg, void *arg)
{
	(void)msg;
	(void)arg;
	if (level == ZD_LOG_WARN)
		warnings++;
}

/* ---- gen_pool ---------------------------------------------------------- */

#define NCHUNK		4
#define MAX_GRAN	512
#define MAX_LIVE	128

struct pool_model {
	struct zd_gen_pool *pool;
	size_t gran;
	int nchunk;
	unsigned long virt[NCHUNK];
	int ngran[NCHUNK];
	uint8_t used[NCHUNK][MAX_GRAN];
	struct { unsigned long addr; size_t size; int chunk, first, n; }
		live[MAX_LIVE];
	int nlive;
	unsigned long freed_addr;	/* last freed, for double frees */
	size_t freed_size;
};

static int owners[NCHUNK];

static size_t model_avail(struct pool_model *m)
{
	size_t free_gran = 0;

	for (int c = 0; c < m->nchunk; c++)
		for (int g = 0; g < m->ngran[c]; g++)
			free_gran += !m->used[c][g];
	return free_gran * m->gran;
}

static size_t model_size(struct pool_model *m)
{
	size_t n = 0;

	for (int c = 0; c < m->nchunk; c++)
		n += (size_t)m->ngran[c] * m->gran;
	return n;
}

static bool model_fits(struct pool_model *m, int n)
{
	for (int c = 0; c < m->nchunk; c++)
		for (int g = 0, run = 0; g < m->ngran[c]; g++)
			if ((run = m->used[c][g] ? 0 : run + 1) >= n)
				return true;
	return false;
}

static void pool_add(struct pool_model *m, struct input *in)
{
	int c = m->nchunk, n = 1 + (int)(take(in, 2) % MAX_GRAN);

	if (c == NCHUNK)
		return;
	m->virt[c] = (unsigned long)(c + 1) << 32;
	m->ngran[c] = n;
	CHECK(!zd_gen_pool_add_owner(m->pool, m->virt[c], (c + 1ull) << 40,
				     n * m->gran, -1, &owners[c]));
	m->nchunk++;
}

static void pool_alloc(struct pool_model *m, struct input *in)
{
	static zd_genpool_algo_t *const algos[] = {
		zd_gen_pool_first_fit, zd_gen_pool_best_fit,
		zd_gen_pool_first_fit_order_align,
	};
	unsigned int algo = take(in, 1) % 3;
	size_t size = 1 + take(in, 2) % (64 * m->gran);
	int n = (int)((size + m->gran - 1) / m->gran), c;
	void *owner = NULL;
	unsigned long addr;

	zd_gen_pool_set_algo(m->pool, algos[algo], NULL);
	addr = zd_gen_pool_alloc_owner(m->pool, size, &owner);
	if (!addr) {
		CHECK(algo == 2 || !model_fits(m, n));
		return;
	}
	for (c = 0; c < m->nchunk; c++)
		if (addr >= m->virt[c] && addr < m->virt[c] + m->ngran[c] * m->gran)
			break;
	CHECK(c < m->nchunk && owner == &owners[c]);
	CHECK((addr - m->virt[c]) % m->gran == 0);
	int first = (int)((addr - m->virt[c]) / m->gran);
	CHECK(first + n <= m->ngran[c]);
	for (int g = first; g < first + n; g++) {
		CHECK(!m->used[c][g]);
		m->used[c][g] = 1;
	}
	CHECK(zd_gen_pool_virt_to_phys(m->pool, addr) ==
	      ((c + 1ull) << 40) + (addr - m->virt[c]));
	CHECK(zd_gen_pool_has_addr(m->pool, addr, size));
	if (m->nlive == MAX_LIVE) {	/* no room to track it: give it back */
		CHECK(!zd_gen_pool_free(m->pool, addr, size));
		memset(&m->used[c][first], 0, n);
		return;
	}
	m->live[m->nlive++] = (typeof(m->live[0])){ addr, size, c, first, n };
}

static void pool_free(struct pool_model *m, struct input *in)
{
	int i = (int)(take(in, 1) % (unsigned int)m->nlive);
	void *owner = NULL;

	CHECK(!zd_gen_pool_free_owner(m->pool, m->live[i].addr,
				      m->live[i].size, &owner));
	CHECK(owner == &owners[m->live[i].chunk]);
	memset(&m->used[m->live[i].chunk][m->live[i].first], 0, m->live[i].n);
	m->freed_addr = m->live[i].addr;
	m->freed_size = m->live[i].size;
	m->live[i] = m->live[--m->nlive];
}

/* A wrong free: refused, reported, nothing changed. */
static void pool_bad_free(struct pool_model *m, struct input *in)
{
	unsigned int kind = take(in, 1) % 4;
	unsigned long addr = m->nlive ? m->live[0].addr : m->virt[0];
	size_t size = m->nlive ? m->live[0].size : m->gran;
	unsigned long w = warnings;

	switch (kind) {
	case 0:
		size = SIZE_MAX;
		break;
	case 1:
		size += 64 * m->gran;		/* more granules than given */
		break;
	case 2:
		addr = (unsigned long)(NCHUNK + 2) << 32;	/* no chunk */
		break;
	case 3:
		if (!m->freed_addr)
			return;
		addr = m->freed_addr;		/* freed before */
		size = m->freed_size;
		for (int i = 0; i < m->nlive; i++)
			if (m->live[i].addr == addr)
				return;		/* handed out again since */
		break;
	}
	if (zd_gen_pool_free(m->pool, addr, size) != -EINVAL || warnings == w) {
		fprintf(stderr, "fuzz_api: wrong free %u (addr %#lx size %#zx) "
			"accepted or not reported\n", kind, addr, size);
		abort();
	}
}

static void pool_check(struct pool_model *m)
{
	CHECK(zd_gen_pool_avail(m->pool) == model_avail(m));
	CHECK(zd_gen_pool_size(m->pool) == model_size(m));
}

static void run_pool(struct input *in)
{
	static const int orders[] = { 0, 3, 5, 12 };
	struct pool_model *m = calloc(1, sizeof(*m));
	int order = orders[take(in, 1) % 4];

	CHECK(m);
	m->gran = (size_t)1 << order;
	m->pool = zd_gen_pool_create(order, -1);
	CHECK(m->pool);
	pool_add(m, in);
	for (int step = 0; step < 256 && in->left; step++) {
		switch (take(in, 1) % 8) {
		case 0:
			pool_add(m, in);
			break;
		case 1: case 2: case 3:
			pool_alloc(m, in);
			break;
		case 4: case 5:
			if (m->nlive)
				pool_free(m, in);
			break;
		case 6:
			pool_bad_free(m, in);
			break;
		case 7:			/* everything back at once */
			while (m->nlive)
				pool_free(m, &(struct input){ 0 });
			break;
		}
		pool_check(m);
	}
	while (m->nlive)
		pool_free(m, &(struct input){ 0 });
	pool_check(m);
	CHECK(!zd_gen_pool_destroy(m->pool));
	free(m);
}

/* ---- the resource tree ------------------------------------------------- */

#define NRES 24

struct res_model {
	struct zd_resource root;
	struct zd_resource r[NRES];
	int parent[NRES];		/* -1: the root; -2: not in the tree */
};

static struct zd_resource *res_parent(struct res_model *m, int i)
{
	return m->parent[i] == -1 ? &m->root : &m->r[m->parent[i]];
}

static bool res_fits(struct res_model *m, int p, uint64_t s, uint64_t e)
{
	struct zd_resource *pr = p == -1 ? &m->root : &m->r[p];

	if (s < pr->start || e > pr->end)
		return false;
	for (int j = 0; j < NRES; j++)
		if (m->parent[j] == p && s <= m->r[j].end && m->r[j].start <= e)
			return false;
	return true;
}

static void res_request(struct res_model *m, struct input *in)
{
	int i = (int)(take(in, 1) % NRES), p = (int)(take(in, 1) % (NRES + 1)) - 1;
	uint64_t s = (uint64_t)take(in, 2) << 4, len = 1 + take(in, 2);

	if (m->parent[i] != -2 || (p >= 0 && m->parent[p] == -2))
		return;
	m->r[i] = (struct zd_resource){ .start = s, .end = s + len - 1,
					.name = "fuzz" };
	bool fits = res_fits(m, p, s, s + len - 1);
	int err = zd_request_resource(p == -1 ? &m->root : &m->r[p], &m->r[i]);

	CHECK(fits ? err == 0 : err != 0);
	if (!err)
		m->parent[i] = p;
}

/* Requesting a resource that is in the tree: refused, nothing changed. */
static void res_request_again(struct res_model *m, struct input *in)
{
	int i = (int)(take(in, 1) % NRES);

	if (m->parent[i] == -2)
		return;
	CHECK(zd_request_resource(res_parent(m, i), &m->r[i]) == -EBUSY);
}

static void res_release(struct res_model *m, struct input *in)
{
	int i = (int)(take(in, 1) % NRES);

	if (m->parent[i] == -2)
		return;
	for (int j = 0; j < NRES; j++)
		if (m->parent[j] == i)
			return;		/* leaves first */
	CHECK(!zd_release_resource(&m->r[i]));
	m->parent[i] = -2;
}

/* The tree below @node is exactly the model's. */
static int res_walk(struct res_model *m, struct zd_resource *node, int idx)
{
	int seen = 0;
	uint64_t next = node->start;

	for (struct zd_resource *c = node->child; c; c = c->sibling) {
		int j = (int)(c - m->r);

		CHECK(c >= m->r && c < m->r + NRES);
		CHECK(m->parent[j] == idx && c->parent == node);
		CHECK(c->start >= next && c->end <= node->end && c->start <= c->end);
		next = c->end + 1;
		seen += 1 + res_walk(m, c, j);
	}
	return seen;
}

static void res_check(struct res_model *m)
{
	int live = 0;

	for (int j = 0; j < NRES; j++)
		live += m->parent[j] != -2;
	CHECK(res_walk(m, &m->root, -1) == live);
}

static void run_resources(struct input *in)
{
	struct res_model *m = calloc(1, sizeof(*m));

	CHECK(m);
	m->root = (struct zd_resource){ .start = 0, .end = (1u << 20) - 1,
					.name = "fuzz root" };
	for (int j = 0; j < NRES; j++)
		m->parent[j] = -2;
	for (int step = 0; step < 256 && in->left; step++) {
		switch (take(in, 1) % 4) {
		case 0: case 1:
			res_request(m, in);
			break;
		case 2:
			res_release(m, in);
			break;
		case 3:
			res_request_again(m, in);
			break;
		}
		res_check(m);
	}
	for (bool any = true; any;) {		/* leaves first, until empty */
		any = false;
		for (int j = 0; j < NRES; j++) {
			bool leaf = m->parent[j] != -2;

			for (int k = 0; k < NRES && leaf; k++)
				leaf = m->parent[k] != j;
			if (leaf) {
				CHECK(!zd_release_resource(&m->r[j]));
				m->parent[j] = -2;
				any = true;
			}
		}
	}
	CHECK(!m->root.child);
	free(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { data, size };

	zd_set_log(count_warning, NULL);
	if (take(&in, 1) & 1)
		run_resources(&in);
	else
		run_pool(&in);
	return 0;
}
