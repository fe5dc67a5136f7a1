// SPDX-License-Identifier: MIT
/*
 * The misuse catalogue's runner: forks one child per case, waits for it
 * with a timeout, and prints one row per case:
 *
 *   function  case  expected  got  result
 *
 * where result is ok, skip, CRASH (a signal, or an exit without a
 * verdict), HANG (killed at the timeout), SILENT (bad input accepted: no
 * error, no warning), WRONG (an error or warning other than the one
 * documented, or the object's state changed) or SETUP (the case itself
 * could not build what it misuses).  Everything but ok and skip fails.
 *
 * Usage: test_misuse [--list] [--tsv] [-v] [PATTERN]
 *   PATTERN (or ZD_TEST_FILTER) selects cases whose function or class
 *   contains it, or whose function matches it as a glob;
 *   -v prints the first warning of each case under its row;
 *   --tsv prints the rows tab-separated, for scripts;
 *   ZD_MISUSE_TIMEOUT=s (default 5), ZD_MISUSE_JOBS=n (default 4).
 */
#include <fnmatch.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "misuse.h"

enum verdict { V_NONE, V_OK, V_SKIP, V_SILENT, V_WRONG, V_SETUP,
	       V_CRASH, V_HANG };

static const char *const verdict_name[] = {
	[V_NONE] = "NONE", [V_OK] = "ok", [V_SKIP] = "skip",
	[V_SILENT] = "SILENT", [V_WRONG] = "WRONG", [V_SETUP] = "SETUP",
	[V_CRASH] = "CRASH", [V_HANG] = "HANG",
};

/* ---- the child's side ------------------------------------------------------ */

static int out_fd = -1;			/* the pipe to the parent */
static enum verdict verdict;
static char got[512];
static unsigned long warn_base;
static char first_warn[512];
static bool armed;
static bool judged, call_warned;	/* what the call itself reported */

static void capture(enum zd_log_level level, const char *msg, void *arg)
{
	(void)arg;
	if (level == ZD_LOG_WARN && armed && !first_warn[0])
		snprintf(first_warn, sizeof(first_warn), "%s", msg);
}

void m_arm(void)
{
	warn_base = zd_warn_count();
	first_warn[0] = 0;
	armed = true;
}

bool m_warned(void)
{
	return zd_warn_count() != warn_base;
}

const char *m_warning(void)
{
	return first_warn;
}

static void judge(enum verdict v, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void send(void);

/* Keeps the worst verdict and appends to what was seen. */
static void judge(enum verdict v, const char *fmt, ...)
{
	size_t len = strlen(got);
	va_list ap;

	if (v > verdict)
		verdict = v;
	if (len && len < sizeof(got) - 2) {
		strcat(got, "; ");
		len += 2;
	}
	va_start(ap, fmt);
	vsnprintf(got + len, sizeof(got) - len, fmt, ap);
	va_end(ap);
	send();
}

static const char *errname(int e)
{
	static char buf[8][24];
	static int i;
	const char *n;

	if (e < 0)
		e = -e;
	n = e ? strerrorname_np(e) : "0";
	if (n)
		return n;
	i = (i + 1) % 8;
	snprintf(buf[i], sizeof(buf[i]), "errno %d", e);
	return buf[i];
}

/* Whether the bad call warned: state checks come after other calls. */
static bool call_warn(void)
{
	return judged ? call_warned : m_warned();
}

static void seen(void)
{
	if (!judged) {
		judged = true;
		call_warned = m_warned();
	}
}

/* Judges an error return: what came back, and whether it was reported. */
static void err_judge(int r, int want, bool need_warn)
{
	bool w = m_warned();

	seen();
	if (r >= 0 && !w)
		judge(V_SILENT, "%d", r);
	else if (r >= 0)
		judge(V_WRONG, "%d+W", r);
	else if (want != ANY_ERR && r != want)
		judge(V_WRONG, "-%s%s", errname(r), w ? "+W" : "");
	else if (need_warn && !w)
		judge(V_WRONG, "-%s no warning", errname(r));
	else
		judge(V_OK, "-%s%s", errname(r), w ? "+W" : "");
}

void m_expect_err(int r, int want)
{
	err_judge(r, want, true);
}

void m_expect_err_nowarn(int r, int want)
{
	err_judge(r, want, false);
}

static void null_judge(const void *p, int want, bool need_warn)
{
	int e = errno;
	bool w = m_warned();

	seen();
	if (p && !w)
		judge(V_SILENT, "%p", p);
	else if (p)
		judge(V_WRONG, "%p+W", p);
	else if (want && e != want)
		judge(V_WRONG, "NULL/%s%s", errname(e), w ? "+W" : "");
	else if (need_warn && !w)
		judge(V_WRONG, "NULL/%s no warning", errname(e));
	else
		judge(V_OK, "NULL/%s%s", errname(e), w ? "+W" : "");
}

void m_expect_null(const void *p, int want)
{
	null_judge(p, want, true);
}

void m_expect_null_nowarn(const void *p, int want)
{
	null_judge(p, want, false);
}

static void val_judge(unsigned long long v, unsigned long long want,
		      bool need_warn)
{
	bool w = m_warned();

	seen();
	if (v != want)
		judge(w ? V_WRONG : V_SILENT, "%#llx%s", v, w ? "+W" : "");
	else if (need_warn && !w)
		judge(V_WRONG, "%#llx no warning", v);
	else
		judge(V_OK, "%#llx%s", v, w ? "+W" : "");
}

void m_expect_val(unsigned long long v, unsigned long long want)
{
	val_judge(v, want, true);
}

void m_expect_val_nowarn(unsigned long long v, unsigned long long want)
{
	val_judge(v, want, false);
}

void m_expect_warn(void)
{
	seen();
	if (m_warned())
		judge(V_OK, "W");
	else
		judge(V_SILENT, "no warning");
}

void m_state(bool ok, const char *what)
{
	if (!ok)
		judge(call_warn() ? V_WRONG : V_SILENT, "state: %s", what);
}

/* Sends the verdict so far: the parent keeps the last line, so a case
 * that crashes or hangs later still shows what its bad call returned. */
static void send(void)
{
	char rec[sizeof(got) + sizeof(first_warn) + 8];
	size_t n;

	/* one line, three tab-separated fields */
	for (char *p = got; *p; p++)
		if (*p == '\n' || *p == '\t')
			*p = ' ';
	for (char *p = first_warn; *p; p++)
		if (*p == '\n' || *p == '\t')
			*p = ' ';
	snprintf(rec, sizeof(rec), "%d\t%s\t%s\n", verdict, got, first_warn);
	n = strlen(rec);
	if (out_fd >= 0 && write(out_fd, rec, n) < 0)
		_exit(3);
}

__attribute__((noreturn)) static void report(void)
{
	if (verdict == V_NONE)
		judge(V_SETUP, "the case judged nothing");
	send();
	_exit(0);
}

void m_skip(const char *why)
{
	verdict = V_SKIP;
	snprintf(got, sizeof(got), "%s", why);
	report();
}

void m_setup_fail(const char *fmt, ...)
{
	va_list ap;

	verdict = V_SETUP;
	va_start(ap, fmt);
	vsnprintf(got, sizeof(got), fmt, ap);
	va_end(ap);
	report();
}

static void child(const struct mcase *c, int fd)
{
	out_fd = fd;
	zd_set_log(capture, NULL);
	c->run();
	report();
}

/* ---- shared setup ---------------------------------------------------------- */

static void dev_release(struct zd_device *dev)
{
	(void)dev;	/* the cases' devices are never freed: the child exits */
}

struct zd_device *m_dev_new(const char *name)
{
	struct zd_device *dev = calloc(1, sizeof(*dev));

	M_SETUP(dev);
	dev->init_name = name;
	dev->release = dev_release;
	zd_device_initialize(dev);
	return dev;
}

struct zd_device *m_dev_added(const char *name)
{
	struct zd_device *dev = m_dev_new(name);

	M_SETUP(zd_device_add(dev) == 0);
	return dev;
}

static int probe_ok(struct zd_device *dev)
{
	(void)dev;
	return 0;
}

static struct zd_driver null_driver = { .name = "misuse", .probe = probe_ok };

struct zd_device *m_dev_bound(const char *name)
{
	struct zd_device *dev = m_dev_added(name);

	M_SETUP(zd_device_bind(dev, &null_driver) == 0);
	return dev;
}

int m_memfd(uint64_t size)
{
	int fd = memfd_create("misuse", 0);

	M_SETUP(fd >= 0 && ftruncate(fd, (off_t)size) == 0);
	return fd;
}

int m_page_frees;
static int pgmap_owner;

static void count_free(struct zd_page *page)
{
	(void)page;
	m_page_frees++;
}

static int no_migrate(struct zd_vm_fault *vmf)
{
	(void)vmf;
	return 0;
}

static const struct zd_dev_pagemap_ops m_ops = {
	.page_free = count_free,
	.migrate_to_ram = no_migrate,
};

struct zd_dev_pagemap *m_pgmap_new(enum zd_memory_type type, uint64_t start,
				   uint64_t len)
{
	struct zd_dev_pagemap *p = calloc(1, sizeof(*p));

	M_SETUP(p);
	p->type = type;
	p->nr_range = 1;
	p->range.start = start;
	p->range.end = start + len - 1;
	p->ops = &m_ops;
	p->owner = &pgmap_owner;
	return p;
}

struct zd_dev_pagemap *m_pgmap_mapped(enum zd_memory_type type, uint64_t start,
				      uint64_t len)
{
	struct zd_dev_pagemap *p = m_pgmap_new(type, start, len);

	M_SETUP(zd_memremap_pages(p, ZD_NUMA_NO_NODE));
	return p;
}

/* ---- the parent's side ----------------------------------------------------- */

struct slot {
	const struct mcase *c;
	pid_t pid;
	int fd;			/* the child's records */
	int errfd;		/* its stderr, passed on to ours */
	char buf[65536];
	size_t len;
	double timeout;
	double t0, last_err;	/* start, last stderr output */
	bool sanitizer;		/* it printed a sanitizer report */
};

struct row {
	enum verdict v;
	char got[600];
	char warn[512];
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static bool selected(const struct mcase *c, const char *pat)
{
	if (!pat || !*pat)
		return true;
	return strstr(c->fn, pat) || strstr(c->cls, pat) ||
	       fnmatch(pat, c->fn, 0) == 0;
}

static void start_case(struct slot *s, const struct mcase *c)
{
	int p[2], e[2];

	if (pipe(p) || pipe(e)) {
		perror("pipe");
		exit(2);
	}
	fflush(NULL);
	s->c = c;
	s->len = 0;
	s->sanitizer = false;
	s->t0 = s->last_err = now_s();
	s->pid = fork();
	if (s->pid < 0) {
		perror("fork");
		exit(2);
	}
	if (s->pid == 0) {
		close(p[0]);
		close(e[0]);
		dup2(e[1], STDERR_FILENO);
		close(e[1]);
		child(c, p[1]);
	}
	close(p[1]);
	close(e[1]);
	s->fd = p[0];
	s->errfd = e[0];
}

/*
 * Passes on what the child wrote to stderr (a sanitizer's report, say).
 * A child still writing is not hung: symbolising a report on a loaded
 * machine can take longer than the timeout.
 */
static void pass_stderr(struct slot *s, bool to_eof)
{
	struct pollfd one = { s->errfd, POLLIN, 0 };
	char buf[4096];
	ssize_t n;

	while ((to_eof || (poll(&one, 1, 0) > 0 && (one.revents & (POLLIN | POLLHUP)))) &&
	       (n = read(s->errfd, buf, sizeof(buf) - 1)) > 0) {
		buf[n] = 0;
		if (strstr(buf, "Sanitizer") || strstr(buf, "runtime error:"))
			s->sanitizer = true;
		s->last_err = now_s();
		if (write(STDERR_FILENO, buf, (size_t)n) < 0)
			break;
	}
}

static void drain(struct slot *s)
{
	ssize_t n;

	while (s->len < sizeof(s->buf) - 1 &&
	       (n = read(s->fd, s->buf + s->len, sizeof(s->buf) - 1 - s->len)) > 0)
		s->len += (size_t)n;
	s->buf[s->len] = 0;
}

/* Reads what is there without blocking. */
static void drain_some(struct slot *s)
{
	struct pollfd one = { s->fd, POLLIN, 0 };
	ssize_t n;

	while (s->len < sizeof(s->buf) - 1 && poll(&one, 1, 0) > 0 &&
	       (one.revents & POLLIN) &&
	       (n = read(s->fd, s->buf + s->len, sizeof(s->buf) - 1 - s->len)) > 0)
		s->len += (size_t)n;
}

/* The last complete record the child sent, split in place; false if none. */
static bool last_record(struct slot *s, char **fields)
{
	char *end = s->len ? s->buf + s->len - 1 : NULL, *line;

	while (end && end >= s->buf && *end != '\n')
		end--;			/* drop a partial last line */
	if (!end || end < s->buf)
		return false;
	*end = 0;
	line = strrchr(s->buf, '\n');
	line = line ? line + 1 : s->buf;
	fields[0] = line;
	for (int i = 1; i < 3; i++) {
		fields[i] = strchr(fields[i - 1], '\t');
		if (!fields[i])
			return false;
		*fields[i]++ = 0;
	}
	return true;
}

/* The child is gone (@status) or was killed for hanging: its row. */
static void finish(struct slot *s, int status, bool hung, struct row *r)
{
	char *f[3] = { NULL, NULL, NULL };
	bool have;
	char then[64];

	drain(s);
	close(s->fd);
	pass_stderr(s, true);
	close(s->errfd);
	have = last_record(s, f);
	r->warn[0] = 0;
	if (have)
		snprintf(r->warn, sizeof(r->warn), "%s", f[2]);
	if (hung && s->sanitizer)
		snprintf(then, sizeof(then), "a sanitizer report, then killed");
	else if (hung)
		snprintf(then, sizeof(then), "no answer in %gs", s->timeout);
	else if (WIFSIGNALED(status))
		snprintf(then, sizeof(then), "signal %d (%s)", WTERMSIG(status),
			 strsignal(WTERMSIG(status)));
	else if (WEXITSTATUS(status) || !have)
		snprintf(then, sizeof(then), "exit %d without a verdict",
			 WEXITSTATUS(status));
	else {
		r->v = (enum verdict)atoi(f[0]);
		snprintf(r->got, sizeof(r->got), "%s", f[1]);
		return;
	}
	r->v = hung && !s->sanitizer ? V_HANG : V_CRASH;
	if (have && f[1][0])
		snprintf(r->got, sizeof(r->got), "%s; then %s", f[1], then);
	else
		snprintf(r->got, sizeof(r->got), "%s", then);
}

/* Past the timeout with no stderr output for as long (capped at 4x). */
static bool hung(const struct slot *s)
{
	double t = now_s();

	if (t - s->t0 > 4 * s->timeout)
		return true;
	return t - s->t0 > s->timeout && t - s->last_err > s->timeout;
}

static void run_all(const struct mcase **cs, struct row *rows, int n, int jobs,
		    double timeout)
{
	struct slot *slot = calloc((size_t)jobs, sizeof(*slot));
	int *idx = calloc((size_t)jobs, sizeof(*idx));
	int next = 0, active = 0;

	for (int j = 0; j < jobs; j++)
		idx[j] = -1;
	while (next < n || active) {
		for (int j = 0; j < jobs && next < n; j++) {
			if (idx[j] >= 0)
				continue;
			idx[j] = next;
			slot[j].timeout = timeout;
			start_case(&slot[j], cs[next++]);
			active++;
		}
		poll(NULL, 0, 2);
		for (int j = 0; j < jobs; j++) {
			int status;
			pid_t w;

			if (idx[j] < 0)
				continue;
			pass_stderr(&slot[j], false);
			w = waitpid(slot[j].pid, &status, WNOHANG);
			if (w == slot[j].pid) {
				finish(&slot[j], status, false, &rows[idx[j]]);
			} else if (hung(&slot[j])) {
				kill(slot[j].pid, SIGKILL);
				waitpid(slot[j].pid, &status, 0);
				finish(&slot[j], status, true, &rows[idx[j]]);
			} else {
				drain_some(&slot[j]);
				continue;
			}
			idx[j] = -1;
			active--;
		}
	}
	free(slot);
	free(idx);
}

static const struct mcase *const all_tables[] = {
	misuse_base_cases, misuse_device_cases, misuse_resource_cases,
	misuse_genalloc_cases, misuse_mm_cases, misuse_pci_cases,
	misuse_hmm_cases,
};

int main(int argc, char **argv)
{
	const char *pat = getenv("ZD_TEST_FILTER");
	const char *env;
	bool list = false, verbose = false, tsv = false;
	double timeout = 5;
	int jobs = 4, n = 0, cap = 0, passed = 0, failed = 0, skipped = 0;
	const struct mcase **cs = NULL;
	struct row *rows;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--list"))
			list = true;
		else if (!strcmp(argv[i], "-v"))
			verbose = true;
		else if (!strcmp(argv[i], "--tsv"))
			tsv = true;
		else
			pat = argv[i];
	}
	if ((env = getenv("ZD_MISUSE_TIMEOUT")) && atof(env) > 0)
		timeout = atof(env);
	if ((env = getenv("ZD_MISUSE_JOBS")) && atoi(env) > 0)
		jobs = atoi(env);
	for (size_t t = 0; t < sizeof(all_tables) / sizeof(all_tables[0]); t++)
		for (const struct mcase *c = all_tables[t]; c->fn; c++) {
			if (!selected(c, pat))
				continue;
			if (n == cap) {
				cap = cap ? 2 * cap : 256;
				cs = realloc(cs, (size_t)cap * sizeof(*cs));
			}
			cs[n++] = c;
		}
	if (list) {
		for (int i = 0; i < n; i++)
			printf("%-36s %-40s %s\n", cs[i]->fn, cs[i]->cls,
			       cs[i]->expect);
		return 0;
	}
	rows = calloc((size_t)(n ? n : 1), sizeof(*rows));
	run_all(cs, rows, n, jobs, timeout);
	const char *fmt = tsv ? "%s\t%s\t%s\t%s\t%s\n" :
				"%-34s %-40s %-30s %-30s %s\n";

	printf(fmt, "function", "case", "expected", "got", "result");
	for (int i = 0; i < n; i++) {
		const char *res = verdict_name[rows[i].v];

		printf(fmt, cs[i]->fn, cs[i]->cls, cs[i]->expect, rows[i].got, res);
		if (verbose && rows[i].warn[0])
			printf("    warning: %s\n", rows[i].warn);
		if (rows[i].v == V_OK)
			passed++;
		else if (rows[i].v == V_SKIP)
			skipped++;
		else
			failed++;
	}
	if (skipped)
		printf("misuse: %d skipped\n", skipped);
	printf("misuse: %d passed, %d failed\n", passed, failed);
	free(rows);
	free(cs);
	return failed ? 1 : 0;
}
