// SPDX-License-Identifier: MIT
/*
 * The stress run: users of device memory against drivers that come and go.
 *
 *   pmem  readers look pfns up, check the page's bytes through the direct
 *         map and take page references, while a binder binds and unbinds
 *         the file-backed device under them;
 *   p2p   clients allocate peer-to-peer memory, write and check it and
 *         free it, while a binder binds and unbinds the provider;
 *   hmm   a writer bumps a version in each page of managed memory (CPU
 *         faults bring pages home), a migrator moves ranges to a dmirror,
 *         a device reader reads them through it, while a binder unbinds
 *         and rebinds the dmirror.
 *
 * Every page carries its own index and what was last written to it, so a
 * lost update or a page read from the wrong place is seen; at the end the
 * whole of each area is checked once more and nothing may be left on a
 * device or in a pool.  A watchdog fails the run when a thread makes no
 * progress for ZD_STRESS_HANG seconds (default 45), printing which.
 *
 * Usage: stress [SECONDS]   (default 10; ZD_STRESS_SECONDS too)
 * ZD_STRESS_AREAS=pmem,hmm runs only those areas.
 * Prints a table of operations, cycles and failures per area, then
 * "stress: N passed, N failed" and exits non-zero on any failure.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <dmirror.h>
#include <zonedev/zonedev.h>

#define MiB(x)		((uint64_t)(x) << 20)
#define GiB(x)		((uint64_t)(x) << 30)
#define PMEM_BASE	GiB(80)
#define PMEM_SIZE	MiB(8)
#define HMM_PAGES	512ul
#define MAX_THREADS	16

enum area { PMEM, P2P, HMM, NR_AREAS };
static const char *const area_name[] = { "pmem", "p2p", "hmm" };

struct worker {
	const char *name;
	enum area area;
	void *(*fn)(void *);
	struct zd_device *dev;		/* binders: the device and its driver */
	struct zd_driver *drv;
	atomic_ulong progress;		/* bumped by every loop */
	pthread_t thread;
};

static struct {
	atomic_bool stop;
	atomic_ulong ops[NR_AREAS], cycles[NR_AREAS], refused[NR_AREAS];
	atomic_ulong failures[NR_AREAS];
	atomic_ulong warnings;
	struct worker w[MAX_THREADS];
	int nr;
} run;

static void failure(enum area a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void failure(enum area a, const char *fmt, ...)
{
	va_list ap;

	if (atomic_fetch_add(&run.failures[a], 1) >= 10)
		return;				/* ten are enough to read */
	va_start(ap, fmt);
	fprintf(stderr, "stress: %s: ", area_name[a]);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* A correct program meets no WARNING: each one fails the run. */
static void log_line(enum zd_log_level level, const char *msg, void *arg)
{
	(void)arg;
	if (level != ZD_LOG_WARN)
		return;
	if (atomic_fetch_add(&run.warnings, 1) < 10)
		fprintf(stderr, "stress: %s\n", msg);
}

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static uint64_t pattern(uint64_t pfn)
{
	return pfn * 0x9e3779b97f4a7c15ull;
}

/* Binds and unbinds w->dev, holding it bound a little each time. */
static void *binder(void *arg)
{
	struct worker *w = arg;

	while (!atomic_load(&run.stop)) {
		int err = zd_device_bind(w->dev, w->drv);

		if (err)
			failure(w->area, "bind: %s", strerror(-err));
		usleep(2000);
		zd_device_unbind(w->dev);
		atomic_fetch_add(&run.cycles[w->area], 1);
		atomic_fetch_add(&w->progress, 1);
	}
	return NULL;
}

/* ---- pmem ------------------------------------------------------------- */

static struct {
	struct zd_device dev;
	struct zd_dev_pagemap pgmap;
	int fd;
} pm;

static void pmem_release(struct zd_device *dev)
{
	(void)dev;
}

static int pmem_probe(struct zd_device *dev)
{
	struct zd_dev_pagemap *p = &pm.pgmap;

	memset(p, 0, sizeof(*p));
	p->type = ZD_MEMORY_DEVICE_FS_DAX;
	p->nr_range = 1;
	p->range.start = PMEM_BASE;
	p->range.end = PMEM_BASE + PMEM_SIZE - 1;
	p->backing.kind = ZD_BACKING_FD;
	p->backing.fd = pm.fd;
	return zd_devm_memremap_pages(dev, p) ? 0 : -errno;
}

static struct zd_driver pmem_driver = { .name = "stress-pmem",
					.probe = pmem_probe };

static int pmem_setup(void)
{
	size_t pg = zd_page_size();
	uint64_t v;

	pm.fd = memfd_create("stress-pmem", MFD_CLOEXEC);
	if (pm.fd < 0 || ftruncate(pm.fd, (off_t)PMEM_SIZE))
		return -errno;
	for (uint64_t off = 0; off < PMEM_SIZE; off += pg) {
		v = pattern((PMEM_BASE + off) / pg);
		if (pwrite(pm.fd, &v, sizeof(v), (off_t)off) != sizeof(v))
			return -EIO;
	}
	pm.dev.init_name = "stress-pmem0";
	pm.dev.release = pmem_release;
	return zd_device_register(&pm.dev);
}

static void *pmem_reader(void *arg)
{
	struct worker *w = arg;
	unsigned long base = PMEM_BASE >> zd_page_shift;
	unsigned long n = PMEM_SIZE >> zd_page_shift;
	uint64_t seed = (uintptr_t)w | 1;

	while (!atomic_load(&run.stop)) {
		unsigned long pfn = base + rnd(&seed) % n;
		struct zd_dev_pagemap *pg = zd_get_dev_pagemap(pfn, NULL);

		atomic_fetch_add(&w->progress, 1);
		if (!pg) {
			atomic_fetch_add(&run.refused[PMEM], 1);
			sched_yield();
			continue;
		}
		struct zd_page *page = zd_pfn_to_page(pfn);
		uint64_t got = *(volatile uint64_t *)
			zd_phys_to_virt((uint64_t)pfn << zd_page_shift);

		if (got != pattern(pfn))
			failure(PMEM, "pfn %#lx holds %#llx", pfn,
				(unsigned long long)got);
		if (page->pgmap != pg)
			failure(PMEM, "pfn %#lx: page names another pgmap", pfn);
		zd_get_page(page);
		zd_put_page(page);
		zd_put_dev_pagemap(pg);
		atomic_fetch_add(&run.ops[PMEM], 1);
	}
	return NULL;
}

static void pmem_finish(void)
{
	zd_device_unregister(&pm.dev);
	if (zd_get_dev_pagemap(PMEM_BASE >> zd_page_shift, NULL))
		failure(PMEM, "a pgmap outlived its device");
	close(pm.fd);
}

/* ---- p2p -------------------------------------------------------------- */

static struct {
	struct zd_pci_host_bridge *host;
	struct zd_pci_dev *rp, *ep;
} pci;

static int provider_probe(struct zd_device *dev)
{
	return zd_pci_p2pdma_add_resource(zd_to_pci_dev(dev), 0, 0, 0);
}

static struct zd_driver provider_driver = { .name = "stress-p2p",
					    .probe = provider_probe };

static int p2p_setup(void)
{
	struct zd_pci_dev_desc rp = { .vendor = ZD_PCI_VENDOR_ID_INTEL,
				      .device = 0x2030,
				      .type = ZD_PCI_EXP_TYPE_ROOT_PORT };
	struct zd_pci_dev_desc ep = { .vendor = ZD_PCI_VENDOR_ID_INTEL,
				      .device = 0x20,
				      .type = ZD_PCI_EXP_TYPE_ENDPOINT,
				      .bar_size = { MiB(16) } };

	pci.host = zd_pci_host_bridge_create(0x70, GiB(1), 0);
	if (!pci.host)
		return -errno;
	pci.rp = zd_pci_add_device(&pci.host->bus, ZD_PCI_DEVFN(0, 0), &rp);
	pci.ep = pci.rp ? zd_pci_add_device(pci.rp->subordinate, 0, &ep) : NULL;
	return pci.ep ? 0 : -errno;
}

static void *p2p_client(void *arg)
{
	struct worker *w = arg;
	uint64_t seed = (uintptr_t)w | 1;

	while (!atomic_load(&run.stop)) {
		size_t len = (1 + rnd(&seed) % 16) * zd_page_size();
		unsigned char tag = (unsigned char)rnd(&seed);
		unsigned char *p = zd_pci_alloc_p2pmem(pci.ep, len);

		atomic_fetch_add(&w->progress, 1);
		if (!p) {
			atomic_fetch_add(&run.refused[P2P], 1);
			sched_yield();
			continue;
		}
		memset(p, tag, len);
		if (!zd_pci_p2pmem_virt_to_bus(pci.ep, p))
			failure(P2P, "no bus address for %p", (void *)p);
		for (size_t i = 0; i < len; i += 512)
			if (p[i] != tag)
				failure(P2P, "byte %zu of %p changed", i, (void *)p);
		zd_pci_free_p2pmem(pci.ep, p, len);
		atomic_fetch_add(&run.ops[P2P], 1);
	}
	return NULL;
}

static void p2p_finish(void)
{
	struct zd_p2pmem_attrs at;

	/* bound once more: everything freed is available again */
	if (!zd_device_bind(&pci.ep->dev, &provider_driver)) {
		if (zd_pci_p2pmem_attrs(pci.ep, &at) || at.available != at.size)
			failure(P2P, "pool not whole after the run");
		zd_device_unbind(&pci.ep->dev);
	}
	zd_pci_host_bridge_remove(pci.host);
}

/* ---- hmm -------------------------------------------------------------- */

struct hmm_page {
	uint64_t index;
	uint64_t version;
};

static struct {
	struct zd_mm *mm;
	struct dmirror *dm;
	struct zd_driver *drv;
	char *buf;
	atomic_ulong version[HMM_PAGES];
	bool skipped;
} hm;

static struct hmm_page *hmm_page(unsigned long i)
{
	return (struct hmm_page *)(hm.buf + i * zd_page_size());
}

static int hmm_setup(void)
{
	hm.mm = zd_mm_create();
	if (!hm.mm) {
		hm.skipped = true;
		return 0;
	}
	hm.buf = zd_mm_map(hm.mm, HMM_PAGES * zd_page_size());
	hm.dm = dmirror_create(70, 256ul << 20);
	if (!hm.buf || !hm.dm)
		return -errno;
	hm.drv = dmirror_device(hm.dm)->driver;
	for (unsigned long i = 0; i < HMM_PAGES; i++)
		*hmm_page(i) = (struct hmm_page){ i, 0 };
	return 0;
}

static struct dmirror_cmd hmm_cmd(unsigned long first, unsigned long n,
				  void *bounce)
{
	return (struct dmirror_cmd){
		.mm = hm.mm, .npages = n, .ptr = bounce,
		.addr = (unsigned long)hm.buf + first * zd_page_size() };
}

/* The only writer: each page's version is its own to bump. */
static void *hmm_writer(void *arg)
{
	struct worker *w = arg;
	uint64_t seed = (uintptr_t)w | 1;

	while (!atomic_load(&run.stop)) {
		unsigned long i = rnd(&seed) % HMM_PAGES;
		struct hmm_page *p = hmm_page(i);
		uint64_t v = atomic_load(&hm.version[i]);

		if (p->index != i || p->version != v)
			failure(HMM, "page %lu holds index %llu version %llu, "
				"not %llu", i, (unsigned long long)p->index,
				(unsigned long long)p->version,
				(unsigned long long)v);
		/* the bound first: a device read never sees a version
		 * above what version[] allows */
		atomic_store(&hm.version[i], v + 1);
		p->version = v + 1;
		atomic_fetch_add(&run.ops[HMM], 1);
		atomic_fetch_add(&w->progress, 1);
	}
	return NULL;
}

static void *hmm_migrator(void *arg)
{
	struct worker *w = arg;
	uint64_t seed = (uintptr_t)w | 1;

	while (!atomic_load(&run.stop)) {
		unsigned long first = rnd(&seed) % (HMM_PAGES - 16);
		struct dmirror_cmd c = hmm_cmd(first, 16, NULL);

		if (dmirror_migrate_to_device(hm.dm, &c))
			atomic_fetch_add(&run.refused[HMM], 1);
		else
			atomic_fetch_add(&run.ops[HMM], 1);
		atomic_fetch_add(&w->progress, 1);
	}
	return NULL;
}

/* The device reads pages; each must be the page it asked for, with a
 * version the writer has reached. */
static void *hmm_reader(void *arg)
{
	struct worker *w = arg;
	uint64_t seed = (uintptr_t)w | 1;
	size_t pg = zd_page_size();
	char *bounce = malloc(16 * pg);

	while (bounce && !atomic_load(&run.stop)) {
		unsigned long first = rnd(&seed) % (HMM_PAGES - 16);
		struct dmirror_cmd c = hmm_cmd(first, 16, bounce);

		atomic_fetch_add(&w->progress, 1);
		if (dmirror_read(hm.dm, &c)) {
			atomic_fetch_add(&run.refused[HMM], 1);
			sched_yield();
			continue;
		}
		for (unsigned long k = 0; k < 16; k++) {
			struct hmm_page *p = (struct hmm_page *)(bounce + k * pg);
			unsigned long i = first + k;

			if (p->index != i ||
			    p->version > atomic_load(&hm.version[i]))
				failure(HMM, "device read page %lu: index %llu "
					"version %llu", i,
					(unsigned long long)p->index,
					(unsigned long long)p->version);
		}
		atomic_fetch_add(&run.ops[HMM], 1);
	}
	free(bounce);
	return NULL;
}

static void *hmm_binder(void *arg)
{
	struct worker *w = arg;

	while (!atomic_load(&run.stop)) {
		usleep(5000);
		dmirror_unbind(hm.dm);
		usleep(1000);
		int err = zd_device_bind(dmirror_device(hm.dm), hm.drv);

		if (err)
			failure(HMM, "rebind: %s", strerror(-err));
		atomic_fetch_add(&run.cycles[HMM], 1);
		atomic_fetch_add(&w->progress, 1);
	}
	return NULL;
}

static void hmm_finish(void)
{
	struct dmirror_stats s;

	if (hm.skipped)
		return;
	for (unsigned long i = 0; i < HMM_PAGES; i++) {
		struct hmm_page *p = hmm_page(i);

		if (p->index != i || p->version != atomic_load(&hm.version[i]))
			failure(HMM, "at the end page %lu: index %llu version "
				"%llu, not %lu", i, (unsigned long long)p->index,
				(unsigned long long)p->version,
				atomic_load(&hm.version[i]));
	}
	zd_mm_destroy(hm.mm);
	dmirror_get_stats(hm.dm, &s);
	if (s.pages_in_use)
		failure(HMM, "%lu device pages leaked", s.pages_in_use);
	dmirror_destroy(hm.dm);
	munmap(hm.buf, HMM_PAGES * zd_page_size());
}

/* ---- the run ---------------------------------------------------------- */

static void start_on(const char *name, enum area a, void *(*fn)(void *),
		     struct zd_device *dev, struct zd_driver *drv)
{
	struct worker *w = &run.w[run.nr++];

	w->name = name;
	w->area = a;
	w->fn = fn;
	w->dev = dev;
	w->drv = drv;
	if (pthread_create(&w->thread, NULL, fn, w)) {
		fprintf(stderr, "stress: cannot start %s\n", name);
		exit(2);
	}
}

static void start(const char *name, enum area a, void *(*fn)(void *))
{
	start_on(name, a, fn, NULL, NULL);
}

static int print_pgmap(struct zd_dev_pagemap *pgmap, void *arg)
{
	(void)arg;
	fprintf(stderr, "  pgmap %#llx-%#llx: %lu pages in use\n",
		(unsigned long long)pgmap->range.start,
		(unsigned long long)pgmap->range.end,
		zd_pgmap_pages_in_use(pgmap));
	return 0;
}

/* Returns when @seconds have passed; exits the process on a hang. */
static void watch(int seconds, int hang_s)
{
	unsigned long last[MAX_THREADS] = { 0 };
	int still[MAX_THREADS] = { 0 };

	for (int t = 0; t < seconds; t++) {
		sleep(1);
		for (int i = 0; i < run.nr; i++) {
			unsigned long now = atomic_load(&run.w[i].progress);

			still[i] = now == last[i] ? still[i] + 1 : 0;
			last[i] = now;
			if (still[i] < hang_s)
				continue;
			fprintf(stderr, "stress: HANG: %s (%s) made no progress "
				"for %d s\n", run.w[i].name,
				area_name[run.w[i].area], hang_s);
			zd_pgmap_for_each(print_pgmap, NULL);
			_exit(3);
		}
	}
}

static bool wanted(enum area a)
{
	const char *s = getenv("ZD_STRESS_AREAS");

	return !s || strstr(s, area_name[a]);
}

static int env_int(const char *name, int def)
{
	const char *s = getenv(name);

	return s && atoi(s) > 0 ? atoi(s) : def;
}

int main(int argc, char **argv)
{
	int seconds = argc > 1 ? atoi(argv[1]) : env_int("ZD_STRESS_SECONDS", 10);
	int hang_s = env_int("ZD_STRESS_HANG", 45);
	int err, passed = 0, failed = 0;

	if (seconds <= 0) {
		fprintf(stderr, "usage: stress [SECONDS]\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	zd_set_log(log_line, NULL);
	err = pmem_setup();
	if (!err)
		err = p2p_setup();
	if (!err)
		err = hmm_setup();
	if (err) {
		fprintf(stderr, "stress: setup: %s\n", strerror(-err));
		return 1;
	}
	printf("stress: %d s, watchdog %d s%s\n", seconds, hang_s,
	       hm.skipped ? "; hmm skipped: no userfaultfd" : "");
	if (wanted(PMEM)) {
		start_on("pmem binder", PMEM, binder, &pm.dev, &pmem_driver);
		start("pmem reader 1", PMEM, pmem_reader);
		start("pmem reader 2", PMEM, pmem_reader);
	}
	if (wanted(P2P)) {
		start_on("p2p binder", P2P, binder, &pci.ep->dev,
			 &provider_driver);
		start("p2p client 1", P2P, p2p_client);
		start("p2p client 2", P2P, p2p_client);
	}
	if (!hm.skipped && wanted(HMM)) {
		start("hmm binder", HMM, hmm_binder);
		start("hmm writer", HMM, hmm_writer);
		start("hmm migrator", HMM, hmm_migrator);
		start("hmm device reader", HMM, hmm_reader);
	}
	watch(seconds, hang_s);
	atomic_store(&run.stop, true);
	for (int i = 0; i < run.nr; i++)
		pthread_join(run.w[i].thread, NULL);
	pmem_finish();
	p2p_finish();
	hmm_finish();

	printf("%-6s %12s %8s %10s %9s\n", "area", "operations", "cycles",
	       "refused", "failures");
	for (int a = 0; a < NR_AREAS; a++) {
		unsigned long f = atomic_load(&run.failures[a]);

		if (!wanted(a) || (a == HMM && hm.skipped)) {
			printf("%-6s skipped: %s\n", area_name[a],
			       wanted(a) ? "no userfaultfd" : "not asked for");
			continue;
		}
		printf("%-6s %12lu %8lu %10lu %9lu\n", area_name[a],
		       atomic_load(&run.ops[a]), atomic_load(&run.cycles[a]),
		       atomic_load(&run.refused[a]), f);
		if (f || !atomic_load(&run.ops[a]) || !atomic_load(&run.cycles[a]))
			failed++;
		else
			passed++;
	}
	if (atomic_load(&run.warnings)) {
		printf("%lu WARNINGs\n", atomic_load(&run.warnings));
		failed++;
	}
	printf("stress: %d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
