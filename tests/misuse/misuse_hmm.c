// SPDX-License-Identifier: MIT
/*
 * Misuse of HMM (zd_mm, migrate_vma, staging memory, device_range) and
 * of the dmirror driver.  The cases that need a zd_mm skip, saying why,
 * where userfaultfd is not available.
 *
 * dmirror is a test driver whose header asks for error returns only:
 * its cases do not ask for a WARNING.
 *
 * No bad input applies to: zd_mm_create, zd_alloc_system_page,
 * zd_hmm_device_coherent_supported (no arguments),
 * zd_free_system_page(NULL) (allowed), zd_migrate_pfn (any pfn is
 * encoded), dmirror_destroy(NULL) (allowed).
 */
#include <limits.h>
#include <sys/mman.h>
#include <unistd.h>

#include "dmirror.h"
#include "../kernel_moves.h"
#include "misuse.h"

#define PFN(phys)	((unsigned long)((phys) >> zd_page_shift))
#define NPAGES		4

static size_t PG;

static void pg_init(void)
{
	PG = zd_page_size();
}

static struct zd_mm *mm_or_skip(void)
{
	static char why[96];
	struct zd_mm *mm;

	PG = zd_page_size();
	mm = zd_mm_create();
	if (!mm) {
		snprintf(why, sizeof(why), "zd_mm_create: %s (no userfaultfd?)",
			 strerror(errno));
		m_skip(why);
	}
	return mm;
}

/* NPAGES managed pages, each written with its index. */
static char *mm_buf(struct zd_mm *mm)
{
	char *buf = zd_mm_map(mm, NPAGES * PG);

	M_SETUP(buf);
	for (int i = 0; i < NPAGES; i++)
		memset(buf + i * PG, 'a' + i, PG);
	return buf;
}

static bool buf_intact(const char *buf)
{
	for (int i = 0; i < NPAGES; i++)
		for (size_t j = 0; j < PG; j += 512)
			if (buf[i * PG + j] != 'a' + i)
				return false;
	return true;
}

/* Memory no one maps: user space ends below 2^47 (unless asked to go
 * higher, which nothing here does); a munmapped hole could be reused by
 * another thread or the sanitizer's allocator. */
#define UNMAPPED	((char *)(1ul << 47))

static char *anon(size_t len, int flags)
{
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, flags | MAP_ANONYMOUS,
		       -1, 0);

	M_SETUP(p != MAP_FAILED);
	return p;
}

/* A migrate_vma over the NPAGES of @buf, set up for host pages. */
static struct zd_migrate_vma *mig_setup(struct zd_mm *mm, char *buf)
{
	struct zd_migrate_vma *m = calloc(1, sizeof(*m));

	M_SETUP(m);
	m->mm = mm;
	m->start = (unsigned long)buf;
	m->end = m->start + NPAGES * PG;
	m->npages = NPAGES;
	m->src = calloc(NPAGES, sizeof(long));
	m->dst = calloc(NPAGES, sizeof(long));
	m->flags = ZD_MIGRATE_VMA_SELECT_SYSTEM;
	M_SETUP(m->src && m->dst);
	return m;
}

static struct zd_migrate_vma *mig_collected(struct zd_mm *mm, char *buf)
{
	struct zd_migrate_vma *m = mig_setup(mm, buf);

	M_SETUP(zd_migrate_vma_setup(m) == 0 && m->cpages == NPAGES);
	return m;
}

/* ---- zd_mm ----------------------------------------------------------------- */

static void destroy_null(void)
{
	pg_init();
	m_arm();
	zd_mm_destroy(NULL);
	m_expect_warn();
}

static void destroy_twice(void)
{
	struct zd_mm *mm = mm_or_skip();
	struct zd_mm *other = mm_or_skip();

	zd_mm_destroy(mm);
	m_arm();
	zd_mm_destroy(mm);
	m_expect_warn();
	m_state(zd_mm_map(other, PG) != NULL, "another mm stopped working");
}

static void map_null(void)
{
	pg_init();
	m_arm();
	m_expect_null(zd_mm_map(NULL, PG), 0);
}

static void map_zero(void)
{
	struct zd_mm *mm = mm_or_skip();

	m_arm();
	m_expect_null(zd_mm_map(mm, 0), EINVAL);
}

static void map_unaligned(void)
{
	struct zd_mm *mm = mm_or_skip();

	m_arm();
	m_expect_null(zd_mm_map(mm, 100), EINVAL);
}

static void map_huge(void)
{
	struct zd_mm *mm = mm_or_skip();

	m_arm();
	m_expect_null_nowarn(zd_mm_map(mm, SIZE_MAX & ~(PG - 1)), 0);
}

static void reg_null(void)
{
	char *p;

	pg_init();
	p = anon(PG, MAP_PRIVATE);
	m_arm();
	m_expect_err(zd_mm_register(NULL, p, PG), ANY_ERR);
}

#define REG_BAD(name, addr_expr, len_expr)				\
static void name(void)							\
{									\
	struct zd_mm *mm = mm_or_skip();				\
	char *p = anon(4 * PG, MAP_PRIVATE);				\
									\
	(void)p;							\
	m_arm();							\
	m_expect_err(zd_mm_register(mm, addr_expr, len_expr), -EINVAL);	\
}
REG_BAD(reg_unaligned, p + 1, PG)
REG_BAD(reg_zero, p, 0)
REG_BAD(reg_unaligned_len, p, 100)
REG_BAD(reg_huge, p, SIZE_MAX & ~(PG - 1))
REG_BAD(reg_shared, anon(PG, MAP_SHARED), PG)

static void reg_past_mapping(void)
{
	struct zd_mm *mm = mm_or_skip();
	char *p = anon(8 * PG, MAP_PRIVATE);

	/* past it, memory that is not private anonymous (not a hole: one
	 * could be filled meanwhile, and several mappings are fine) */
	M_SETUP(mmap(p + 4 * PG, 4 * PG, PROT_READ | PROT_WRITE,
		     MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == p + 4 * PG);
	m_arm();
	m_expect_err(zd_mm_register(mm, p, 8 * PG), -EINVAL);
}

static void reg_unmapped(void)
{
	struct zd_mm *mm = mm_or_skip();

	m_arm();
	m_expect_err(zd_mm_register(mm, UNMAPPED, PG), ANY_ERR);
}

static void reg_twice(void)
{
	struct zd_mm *mm = mm_or_skip();
	char *buf = mm_buf(mm);

	m_arm();
	m_expect_err(zd_mm_register(mm, buf, NPAGES * PG), -EINVAL);
	m_state(buf_intact(buf), "contents changed");
}

static void reg_other_mm(void)
{
	struct zd_mm *a = mm_or_skip(), *b = zd_mm_create();
	char *buf = mm_buf(a);

	M_SETUP(b);
	m_arm();
	m_expect_err(zd_mm_register(b, buf, NPAGES * PG), ANY_ERR);
	m_state(zd_mm_lookup(b, (unsigned long)buf, NULL) == -EFAULT,
		"managed by two mms");
}

static void unreg_null(void)
{
	struct zd_mm *mm = mm_or_skip();
	char *buf = mm_buf(mm);

	m_arm();
	m_expect_err(zd_mm_unregister(NULL, buf, NPAGES * PG), ANY_ERR);
}

static void unreg_unmanaged(void)
{
	struct zd_mm *mm = mm_or_skip();

	m_arm();
	m_expect_err(zd_mm_unregister(mm, anon(PG, MAP_PRIVATE), PG), -EINVAL);
}

static void unreg_twice(void)
{
	struct zd_mm *mm = mm_or_skip();
	char *buf = mm_buf(mm);

	M_SETUP(zd_mm_unregister(mm, buf, NPAGES * PG) == 0);
	m_arm();
	m_expect_err(zd_mm_unregister(mm, buf, NPAGES * PG), -EINVAL);
}

static void unreg_partial(void)
{
	struct zd_mm *mm = mm_or_skip();
	char *buf = mm_buf(mm);

	m_arm();
	m_expect_err(zd_mm_unregister(mm, buf, PG), -EINVAL);
	m_state(zd_mm_lookup(mm, (unsigned long)buf + PG, NULL) > 0,
		"the range is no longer managed");
}

static void stats_null_mm(void)
{
	struct zd_mm_stats s;

	pg_init();
	m_arm();
	zd_mm_get_stats(NULL, &s);
	m_expect_warn();
}

static void stats_null_stats(void)
{
	struct zd_mm *mm = mm_or_skip();

	m_arm();
	zd_mm_get_stats(mm, NULL);
	m_expect_warn();
}

static void device_pages_null(void)
{
	pg_init();
	m_arm();
	m_expect_val(zd_mm_device_pages(NULL), 0);
}

static void lookup_null(void)
{
	struct zd_mm *mm = mm_or_skip();
	char *buf = mm_buf(mm);
	struct zd_page *pg;

	m_arm();
	m_expect_err(zd_mm_lookup(NULL, (unsigned long)buf, &pg), ANY_ERR);
}

static void lookup_unmanaged(void)
{
	struct zd_mm *mm = mm_or_skip();
	struct zd_page *pg;

	m_arm();
	m_expect_err_nowarn(zd_mm_lookup(mm, (unsigned long)anon(PG, MAP_PRIVATE),
					 &pg), -EFAULT);
}

/* ---- pins ------------------------------------------------------------------ */

static void pin_null_mm(void)
{
	struct zd_pin *pin;

	pg_init();
	m_arm();
	m_expect_err((int)zd_pin_user_pages_remote(NULL, 0x10000, 1, 0, NULL, &pin),
		     -EINVAL);
}

static void pin_unaligned(void)
{
	struct zd_mm *mm = mm_or_skip();
	char *buf = mm_buf(mm);
	struct zd_pin *pin;

	m_arm();
	m_expect_err((int)zd_pin_user_pages_remote(mm, (unsigned long)buf + 1, 1, 0,
						   NULL, &pin), -EINVAL);
}

static void pin_bad_flags(void)
{
	struct zd_mm *mm = mm_or_skip();
	char *buf = mm_buf(mm);
	struct zd_pin *pin;

	m_arm();
	m_expect_err((int)zd_pin_user_pages_remote(mm, (unsigned long)buf, 1, 0x2,
						   NULL, &pin), -EINVAL);
}

static void pin_huge(void)
{
	struct zd_mm *mm = mm_or_skip();
	char *buf = mm_buf(mm);
	struct zd_pin *pin;

	m_arm();
	m_expect_err((int)zd_pin_user_pages_remote(mm, (unsigned long)buf, ULONG_MAX,
						   0, NULL, &pin), -EINVAL);
}

static void pin_null_out(void)
{
	struct zd_mm *mm = mm_or_skip();
	char *buf = mm_buf(mm);

	m_arm();
	m_expect_err((int)zd_pin_user_pages_remote(mm, (unsigned long)buf, 1, 0,
						   NULL, NULL), -EINVAL);
}

static void pin_unmapped(void)
{
	struct zd_mm *mm = mm_or_skip();
	struct zd_pin *pin;

	/* not a hole just unmapped: another thread (a sanitizer's) may map
	 * something there meanwhile */
	m_arm();
	m_expect_err_nowarn((int)zd_pin_user_pages_remote(mm, (unsigned long)UNMAPPED,
							  1, 0, NULL, &pin), -EFAULT);
}

static void unpin_null(void)
{
	m_arm();
	zd_unpin_user_pages(NULL);
	m_expect_val_nowarn(1, 1);
}

/* ---- migrate entries, staging pages ---------------------------------------- */

static void virt_unaligned(void)
{
	static char page[8192] __attribute__((aligned(4096)));

	m_arm();
	m_expect_val(zd_migrate_virt(page + 1), 0);
}

static void virt_null(void)
{
	m_arm();
	m_expect_val(zd_migrate_virt(NULL), 0);
}

static void pfn_to_page_no_memmap(void)
{
	m_pgmap_mapped(ZD_MEMORY_DEVICE_PRIVATE, DEV_BASE, MiB(2));
	m_arm();
	m_expect_null(zd_migrate_pfn_to_page(zd_migrate_pfn(PFN(DEV_BASE + GiB(1)))), 0);
}

static void pfn_to_page_invalid(void)
{
	m_arm();
	m_expect_null_nowarn(zd_migrate_pfn_to_page(PFN(DEV_BASE) << ZD_MIGRATE_PFN_SHIFT), 0);
}

static void pfn_to_virt_device(void)
{
	m_pgmap_mapped(ZD_MEMORY_DEVICE_PRIVATE, DEV_BASE, MiB(2));
	m_arm();
	m_expect_null_nowarn(zd_migrate_pfn_to_virt(zd_migrate_pfn(PFN(DEV_BASE))), 0);
}

static void free_sys_foreign(void)
{
	char *p = anon(PG ? PG : 4096, MAP_PRIVATE);

	m_arm();
	zd_free_system_page(p);
	m_expect_warn();
}

static void free_sys_twice(void)
{
	void *p = zd_alloc_system_page();

	M_SETUP(p);
	zd_free_system_page(p);
	m_arm();
	zd_free_system_page(p);
	m_expect_warn();
}

/* ---- migrate_vma ----------------------------------------------------------- */

static void setup_null(void)
{
	m_arm();
	m_expect_err(zd_migrate_vma_setup(NULL), -EINVAL);
}

/* A migrate_vma over managed pages, broken by @mutate. */
#define SETUP_BAD(name, stmt)						\
static void name(void)							\
{									\
	struct zd_mm *mm = mm_or_skip();				\
	char *buf = mm_buf(mm);						\
	struct zd_migrate_vma *m = mig_setup(mm, buf);			\
									\
	stmt;								\
	m_arm();							\
	m_expect_err(zd_migrate_vma_setup(m), -EINVAL);			\
	m_state(buf_intact(buf), "contents changed");			\
	buf[0] = 'z';			/* not left write-protected */	\
	m_state(buf[0] == 'z', "the page cannot be written");		\
}
SETUP_BAD(setup_null_mm, m->mm = NULL)
SETUP_BAD(setup_unaligned, m->start += 1)
SETUP_BAD(setup_reversed, m->end = m->start)
SETUP_BAD(setup_end_unaligned, m->end -= 1)
SETUP_BAD(setup_npages_short, m->npages = 1)
SETUP_BAD(setup_null_src, m->src = NULL)
SETUP_BAD(setup_null_dst, m->dst = NULL)
SETUP_BAD(setup_flags, m->flags = 1ul << 9)
SETUP_BAD(setup_wrap, (m->start = ULONG_MAX & ~(PG - 1), m->end = m->start + NPAGES * PG))

/* An application's munmap() racing a migration leaves the driver this
 * range: -EINVAL, and no misuse to warn about (the header says so). */
static void setup_unmapped(void)
{
	struct zd_mm *mm = mm_or_skip();
	char *buf = mm_buf(mm);
	struct zd_migrate_vma *m = mig_setup(mm, buf);

	m->start = (unsigned long)UNMAPPED;
	m->end = m->start + NPAGES * PG;
	m->src[0] = m->dst[0] = 7;
	m_arm();
	m_expect_err_nowarn(zd_migrate_vma_setup(m), -EINVAL);
	m_state(!m_warned(), "warned about an ordinary race");
	m_state(m->src[0] == 7 && m->dst[0] == 7, "src or dst written");
}

/* Half managed, half not mapped: the managed half is collected, the
 * rest gets src 0 (the header's rule for pages that cannot move). */
static void setup_partly_mapped(void)
{
	struct zd_mm *mm = mm_or_skip();
	char *p = anon(2 * NPAGES * PG, MAP_PRIVATE);
	struct zd_migrate_vma *m;
	int r;

	munmap(p + NPAGES * PG, NPAGES * PG);
	M_SETUP(zd_mm_register(mm, p, NPAGES * PG) == 0);
	for (int i = 0; i < NPAGES; i++)
		memset(p + i * PG, 'a' + i, PG);
	m = mig_setup(mm, p);
	m->end = m->start + 2 * NPAGES * PG;
	m->npages = 2 * NPAGES;
	m->src = calloc(2 * NPAGES, sizeof(long));
	m->dst = calloc(2 * NPAGES, sizeof(long));
	M_SETUP(m->src && m->dst);
	m_arm();
	r = zd_migrate_vma_setup(m);
	m_expect_val_nowarn(r == 0 && m->cpages == NPAGES && !m->src[NPAGES] &&
			    !m->src[2 * NPAGES - 1], 1);
	if (r)
		return;
	zd_migrate_vma_pages(m);
	zd_migrate_vma_finalize(m);
	m_state(buf_intact(p), "contents changed");
	p[0] = 'z';
	m_state(p[0] == 'z', "the page cannot be written");
}

static void setup_fault_page_generic(void)
{
	struct zd_mm *mm = mm_or_skip();
	char *buf = mm_buf(mm);
	struct zd_migrate_vma *m = mig_setup(mm, buf);

	m_pgmap_mapped(ZD_MEMORY_DEVICE_GENERIC, DEV_BASE, MiB(2));
	m->fault_page = zd_pfn_to_page(PFN(DEV_BASE));
	m_arm();
	m_expect_err(zd_migrate_vma_setup(m), -EINVAL);
	m_state(buf_intact(buf), "contents changed");
}

#define MOVE_BAD(name, mig, i, n, to)					\
static void name(void)							\
{									\
	struct zd_mm *mm = mm_or_skip();				\
	char *buf = mm_buf(mm);						\
	struct zd_migrate_vma *m = mig_collected(mm, buf);		\
	char *stage = anon(NPAGES * PG, MAP_PRIVATE);			\
									\
	(void)m;							\
	(void)stage;							\
	m_arm();							\
	m_expect_err(zd_migrate_vma_move(mig, i, n, to), -EINVAL);	\
	zd_migrate_vma_pages(m);					\
	zd_migrate_vma_finalize(m);					\
	m_state(buf_intact(buf), "contents changed");			\
}
MOVE_BAD(move_null, NULL, 0, 1, stage)
MOVE_BAD(move_zero, m, 0, 0, stage)
MOVE_BAD(move_past_end, m, NPAGES - 1, 2, stage)
MOVE_BAD(move_huge, m, 1, ULONG_MAX, stage)
MOVE_BAD(move_unaligned_to, m, 0, 1, stage + 1)
MOVE_BAD(move_null_to, m, 0, 1, NULL)

static void move_twice(void)
{
	struct zd_mm *mm = mm_or_skip();
	char *buf = mm_buf(mm);
	struct zd_migrate_vma *m = mig_collected(mm, buf);
	char *stage = anon(NPAGES * PG, MAP_PRIVATE);

	M_SETUP(zd_migrate_vma_move(m, 0, 1, stage) == 0);
	m_arm();
	m_expect_err(zd_migrate_vma_move(m, 0, 1, stage + PG), -EINVAL);
	zd_migrate_vma_pages(m);
	zd_migrate_vma_finalize(m);
	m_state(buf_intact(buf), "contents changed");
}

/* into the very pages being migrated: a fault there would wait for
 * this move */
static void move_to_managed(void)
{
	struct zd_mm *mm = mm_or_skip();
	char *buf = mm_buf(mm);
	struct zd_migrate_vma *m = mig_collected(mm, buf);

	m_arm();
	m_expect_err(zd_migrate_vma_move(m, 0, 1, buf + (NPAGES - 1) * PG), -EINVAL);
	zd_migrate_vma_pages(m);
	zd_migrate_vma_finalize(m);
	m_state(buf_intact(buf), "contents changed");
}

static bool inv_ok(struct zd_mmu_interval_notifier *sub,
		   const struct zd_mmu_notifier_range *range, unsigned long seq)
{
	(void)range;
	zd_mmu_interval_set_seq(sub, seq);
	return true;
}

static const struct zd_mmu_interval_notifier_ops inv_ops = { .invalidate = inv_ok };

/* inserted twice, removed and freed once: the next change of the range
 * must not reach it */
static void notifier_insert_twice(void)
{
	struct zd_mm *mm = mm_or_skip();
	char *buf = mm_buf(mm);
	struct zd_mmu_interval_notifier *sub = calloc(1, sizeof(*sub));

	M_SETUP(sub && !zd_mmu_interval_notifier_insert(sub, mm, (unsigned long)buf,
							NPAGES * PG, &inv_ops));
	m_arm();
	m_expect_err(zd_mmu_interval_notifier_insert(sub, mm, (unsigned long)buf,
						     NPAGES * PG, &inv_ops), -EINVAL);
	zd_mmu_interval_notifier_remove(sub);
	free(sub);
	m_state(munmap(buf, NPAGES * PG) == 0 && zd_mm_map(mm, PG) != NULL,
		"the mm stopped working");
}

static void move_not_setup(void)
{
	struct zd_mm *mm = mm_or_skip();
	char *buf = mm_buf(mm);
	struct zd_migrate_vma *m = mig_setup(mm, buf);	/* no setup call */

	m_arm();
	m_expect_err(zd_migrate_vma_move(m, 0, 1, anon(PG, MAP_PRIVATE)), -EINVAL);
	m_state(buf_intact(buf), "contents changed");
}

static void pages_null(void)
{
	m_arm();
	zd_migrate_vma_pages(NULL);
	m_expect_warn();
}

static void pages_not_setup(void)
{
	struct zd_mm *mm = mm_or_skip();
	char *buf = mm_buf(mm);
	struct zd_migrate_vma *m = mig_setup(mm, buf);
	void *stage = zd_alloc_system_page();

	M_SETUP(stage);
	memset(stage, 'x', PG);
	m->src[0] = zd_migrate_virt(buf) | ZD_MIGRATE_PFN_MIGRATE;
	m->dst[0] = zd_migrate_virt(stage);
	m_arm();
	zd_migrate_vma_pages(m);
	m_expect_warn();
	m_state(buf_intact(buf), "contents changed");
}

/* Host pages collected, then a bad device destination for page 0. */
static void bad_dst(unsigned long dst)
{
	struct zd_mm *mm = mm_or_skip();
	char *buf = mm_buf(mm);
	struct zd_migrate_vma *m = mig_collected(mm, buf);

	m->dst[0] = dst;
	m_arm();
	zd_migrate_vma_pages(m);
	m_expect_warn();
	zd_migrate_vma_finalize(m);
	if (zd_mm_lookup(mm, (unsigned long)buf, NULL) != ZD_MM_PAGE_HOST) {
		/* touching it would fault to m_ops, which cannot bring it back */
		m_state(false, "the page left host memory");
		return;
	}
	m_state(buf_intact(buf), "contents changed");
}

static void dst_no_memmap(void)
{
	m_pgmap_mapped(ZD_MEMORY_DEVICE_PRIVATE, DEV_BASE, MiB(2));
	bad_dst(zd_migrate_pfn(PFN(DEV_BASE + GiB(1))));
}

static void dst_generic(void)
{
	struct zd_page *page;

	m_pgmap_mapped(ZD_MEMORY_DEVICE_GENERIC, DEV_BASE, MiB(2));
	page = zd_pfn_to_page(PFN(DEV_BASE));
	bad_dst(zd_migrate_pfn(zd_page_to_pfn(page)));
}

/* A private page that was never handed out (count zero, not locked). */
static void dst_free_private(void)
{
	m_pgmap_mapped(ZD_MEMORY_DEVICE_PRIVATE, DEV_BASE, MiB(2));
	bad_dst(zd_migrate_pfn(PFN(DEV_BASE)));
}

/* A coherent page handed out, from a pgmap the CPU cannot map it from
 * (no ZD_BACKING_FD file). */
static void dst_coherent_no_file(void)
{
	m_pgmap_mapped(ZD_MEMORY_DEVICE_COHERENT, DEV_BASE, MiB(2));
	M_SETUP(zd_zone_device_page_init(zd_pfn_to_page(PFN(DEV_BASE))) == 0);
	bad_dst(zd_migrate_pfn(PFN(DEV_BASE)));
}

static void dst_free_coherent(void)
{
	m_pgmap_mapped(ZD_MEMORY_DEVICE_COHERENT, DEV_BASE, MiB(2));
	bad_dst(zd_migrate_pfn(PFN(DEV_BASE)));
}

static void finalize_null(void)
{
	m_arm();
	zd_migrate_vma_finalize(NULL);
	m_expect_warn();
}

static void finalize_twice(void)
{
	struct zd_mm *mm = mm_or_skip();
	char *buf = mm_buf(mm);
	struct zd_migrate_vma *m = mig_collected(mm, buf);

	zd_migrate_vma_pages(m);
	zd_migrate_vma_finalize(m);
	m_arm();
	zd_migrate_vma_finalize(m);
	m_expect_warn();
	m_state(buf_intact(buf), "contents changed");
	buf[0] = 'z';
	m_state(buf[0] == 'z', "the page cannot be written");
}

static void setup_twice(void)
{
	struct zd_mm *mm = mm_or_skip();
	char *buf = mm_buf(mm);
	struct zd_migrate_vma *m = mig_collected(mm, buf);

	m_arm();
	m_expect_err(zd_migrate_vma_setup(m), -EBUSY);
	m_state(m->cpages == NPAGES && (m->src[0] & ZD_MIGRATE_PFN_MIGRATE),
		"the first setup's collection was overwritten");
	zd_migrate_vma_pages(m);
	zd_migrate_vma_finalize(m);
	m_state(buf_intact(buf), "contents changed");
	buf[0] = 'z';
	m_state(buf[0] == 'z', "the page cannot be written");
}

/* ---- staging memory ---------------------------------------------------------- */

static void stage_reg_null(void)
{
	m_arm();
	m_expect_err(zd_hmm_register_staging(NULL, 4096), -EINVAL);
}

#define STAGE_BAD(name, fn, addr_expr, len_expr)			\
static void name(void)							\
{									\
	size_t pg = zd_page_size();					\
	char *p = anon(4 * pg, MAP_PRIVATE);				\
									\
	(void)p;							\
	m_arm();							\
	m_expect_err(fn(addr_expr, len_expr), -EINVAL);			\
}
STAGE_BAD(stage_reg_unaligned, zd_hmm_register_staging, p + 1, pg)
STAGE_BAD(stage_reg_zero, zd_hmm_register_staging, p, 0)
STAGE_BAD(stage_reg_shared, zd_hmm_register_staging, anon(pg, MAP_SHARED), pg)
STAGE_BAD(stage_unreg_never, zd_hmm_unregister_staging, p, pg)
STAGE_BAD(stage_unreg_null, zd_hmm_unregister_staging, NULL, pg)

static void stage_reg_twice(void)
{
	size_t pg = zd_page_size();
	char *p = anon(4 * pg, MAP_PRIVATE);

	M_SETUP(zd_hmm_register_staging(p, 4 * pg) == 0);
	m_arm();
	m_expect_err(zd_hmm_register_staging(p, 4 * pg), ANY_ERR);
	m_state(zd_hmm_unregister_staging(p, 4 * pg) == 0, "registration lost");
}

/* memory a zd_mm manages: registered with its userfaultfd already (on
 * kernels that copy, staging is only remembered, and accepted) */
static void stage_reg_managed(void)
{
	struct zd_mm *mm = mm_or_skip();
	char *buf = mm_buf(mm);

	if (!kernel_moves_pages())
		m_skip("before Linux 6.8 staging memory is not registered");
	m_arm();
	m_expect_err(zd_hmm_register_staging(buf, NPAGES * PG), -EBUSY);
	m_state(buf_intact(buf), "contents changed");
}

static void stage_reg_unmapped(void)
{
	m_arm();
	m_expect_err(zd_hmm_register_staging(UNMAPPED, zd_page_size()), -EINVAL);
}

static void stage_unreg_twice(void)
{
	size_t pg = zd_page_size();
	char *p = anon(4 * pg, MAP_PRIVATE);

	M_SETUP(zd_hmm_register_staging(p, 4 * pg) == 0);
	M_SETUP(zd_hmm_unregister_staging(p, 4 * pg) == 0);
	m_arm();
	m_expect_err(zd_hmm_unregister_staging(p, 4 * pg), -EINVAL);
}

static void stage_unreg_partial(void)
{
	size_t pg = zd_page_size();
	char *p = anon(4 * pg, MAP_PRIVATE);

	M_SETUP(zd_hmm_register_staging(p, 4 * pg) == 0);
	m_arm();
	m_expect_err(zd_hmm_unregister_staging(p, pg), -EINVAL);
	m_state(zd_hmm_unregister_staging(p, 4 * pg) == 0, "registration lost");
}

/* ---- migrate_device_range ----------------------------------------------------- */

static void range_null(void)
{
	m_pgmap_mapped(ZD_MEMORY_DEVICE_PRIVATE, DEV_BASE, MiB(2));
	m_arm();
	m_expect_err(zd_migrate_device_range(NULL, PFN(DEV_BASE), 1), -EINVAL);
}

static void range_unmapped(void)
{
	unsigned long src[4];

	m_pgmap_mapped(ZD_MEMORY_DEVICE_PRIVATE, DEV_BASE, MiB(2));
	m_arm();
	m_expect_err(zd_migrate_device_range(src, PFN(DEV_BASE + GiB(1)), 4), -EINVAL);
}

static void range_early(void)
{
	unsigned long src[4];

	m_arm();
	m_expect_err(zd_migrate_device_range(src, PFN(DEV_BASE), 4), -EINVAL);
}

static void range_wrap(void)
{
	unsigned long src[4];

	m_pgmap_mapped(ZD_MEMORY_DEVICE_PRIVATE, DEV_BASE, MiB(2));
	m_arm();
	m_expect_err(zd_migrate_device_range(src, ULONG_MAX - 1, 4), -EINVAL);
}

static void range_generic(void)
{
	unsigned long src[4];

	m_pgmap_mapped(ZD_MEMORY_DEVICE_GENERIC, DEV_BASE, MiB(2));
	m_arm();
	m_expect_err(zd_migrate_device_range(src, PFN(DEV_BASE), 4), -EINVAL);
}

static void dpages_null_src(void)
{
	unsigned long dst[1] = { 0 };

	m_arm();
	zd_migrate_device_pages(NULL, dst, 1);
	m_expect_warn();
}

static void dpages_null_dst(void)
{
	unsigned long src[1] = { 0 };

	m_arm();
	zd_migrate_device_pages(src, NULL, 1);
	m_expect_warn();
}

static void dfinal_null_src(void)
{
	unsigned long dst[1] = { 0 };

	m_arm();
	zd_migrate_device_finalize(NULL, dst, 1);
	m_expect_warn();
}

static void dfinal_null_dst(void)
{
	unsigned long src[1] = { 0 };

	m_arm();
	zd_migrate_device_finalize(src, NULL, 1);
	m_expect_warn();
}

/* ---- dmirror ---------------------------------------------------------------- */

static void dm_create_zero(void)
{
	m_arm();
	m_expect_null_nowarn(dmirror_create(1, 0), EINVAL);
}

static void dm_create_unaligned(void)
{
	m_arm();
	m_expect_null_nowarn(dmirror_create(1, MiB(1)), EINVAL);
}

static void dm_create_twice(void)
{
	struct dmirror *dm = dmirror_create(1, MiB(128));

	M_SETUP(dm);
	m_arm();
	m_expect_null_nowarn(dmirror_create(1, MiB(128)), EEXIST);
}

static struct dmirror *dm_new(void)
{
	struct dmirror *dm = dmirror_create(3, MiB(128));

	M_SETUP(dm);
	return dm;
}

static void dm_unbind_null(void)
{
	m_arm();
	m_expect_err_nowarn(dmirror_unbind(NULL), ANY_ERR);
}

static void dm_unbind_twice(void)
{
	struct dmirror *dm = dm_new();

	M_SETUP(dmirror_unbind(dm) == 0);
	m_arm();
	m_expect_err_nowarn(dmirror_unbind(dm), -ENODEV);
}

static void dm_prefetch_zero(void)
{
	m_arm();
	m_expect_err_nowarn(dmirror_set_prefetch(dm_new(), 0), -EINVAL);
}

static void dm_prefetch_huge(void)
{
	m_arm();
	m_expect_err_nowarn(dmirror_set_prefetch(dm_new(), 1024), -EINVAL);
}

static void dm_prefetch_null(void)
{
	m_arm();
	m_expect_err_nowarn(dmirror_set_prefetch(NULL, 2), -EINVAL);
}

static void dm_fail_null(void)
{
	m_arm();
	dmirror_set_fail_faults(NULL, true);
	m_expect_val_nowarn(1, 1);	/* returning is the test */
}

static void dm_stats_null(void)
{
	struct dmirror_stats s;

	m_arm();
	dmirror_get_stats(NULL, &s);
	m_expect_val_nowarn(1, 1);
}

static void dm_stats_null_out(void)
{
	m_arm();
	dmirror_get_stats(dm_new(), NULL);
	m_expect_val_nowarn(1, 1);
}

typedef int dm_cmd_fn(struct dmirror *, struct dmirror_cmd *);

/* @fn with a command made bad by @how: an error, contents intact. */
static void dm_bad_cmd(dm_cmd_fn *fn, int how)
{
	struct zd_mm *mm = mm_or_skip();
	struct dmirror *dm = dm_new();
	char *buf = mm_buf(mm);
	static char bounce[NPAGES * 65536];
	struct dmirror_cmd c = { .mm = mm, .addr = (unsigned long)buf,
				 .npages = NPAGES, .ptr = bounce };
	int r;

	switch (how) {
	case 0: c.npages = 0; break;
	case 1: c.addr += 1; break;
	case 2: c.mm = NULL; break;
	case 3: c.addr = (unsigned long)anon(NPAGES * PG, MAP_PRIVATE); break;
	case 4: c.ptr = NULL; break;
	case 5: c.npages = ULONG_MAX / PG; break;
	case 6: M_SETUP(dmirror_unbind(dm) == 0); break;
	}
	m_arm();
	r = how == 7 ? fn(NULL, &c) : how == 8 ? fn(dm, NULL) : fn(dm, &c);
	m_expect_err_nowarn(r, ANY_ERR);
	m_state(buf_intact(buf), "contents changed");
}

#define DM_BAD(name, fn, how) static void name(void) { dm_bad_cmd(fn, how); }
DM_BAD(dm_to_dev_zero, dmirror_migrate_to_device, 0)
DM_BAD(dm_to_dev_unaligned, dmirror_migrate_to_device, 1)
DM_BAD(dm_to_dev_null_mm, dmirror_migrate_to_device, 2)
DM_BAD(dm_to_dev_unmanaged, dmirror_migrate_to_device, 3)
DM_BAD(dm_to_dev_huge, dmirror_migrate_to_device, 5)
DM_BAD(dm_to_dev_unbound, dmirror_migrate_to_device, 6)
DM_BAD(dm_to_dev_null_dm, dmirror_migrate_to_device, 7)
DM_BAD(dm_to_dev_null_cmd, dmirror_migrate_to_device, 8)
DM_BAD(dm_to_sys_zero, dmirror_migrate_to_system, 0)
DM_BAD(dm_to_sys_null_mm, dmirror_migrate_to_system, 2)
DM_BAD(dm_to_sys_null_cmd, dmirror_migrate_to_system, 8)
DM_BAD(dm_read_null_ptr, dmirror_read, 4)
DM_BAD(dm_read_unmanaged, dmirror_read, 3)
DM_BAD(dm_read_huge, dmirror_read, 5)
DM_BAD(dm_read_null_dm, dmirror_read, 7)
DM_BAD(dm_write_null_ptr, dmirror_write, 4)
DM_BAD(dm_write_unaligned, dmirror_write, 1)
DM_BAD(dm_write_null_cmd, dmirror_write, 8)

static void dm_transform_null_fn(void)
{
	struct zd_mm *mm = mm_or_skip();
	struct dmirror *dm = dm_new();
	char *buf = mm_buf(mm);
	struct dmirror_cmd c = { .mm = mm, .addr = (unsigned long)buf,
				 .npages = NPAGES };

	m_arm();
	m_expect_err_nowarn(dmirror_transform(dm, &c, NULL, NULL), -EINVAL);
}

/* ---- exclusive access ------------------------------------------------------ */

#define EXCL_BAD(name, mm_expr, start_off, end_off, pages_expr)		\
static void name(void)							\
{									\
	struct zd_mm *mm = mm_or_skip();				\
	char *buf = mm_buf(mm);						\
	unsigned long s = (unsigned long)buf;				\
	void *pg[NPAGES + 1];						\
									\
	(void)pg;							\
	m_arm();							\
	m_expect_err(zd_make_device_exclusive_range(mm_expr, s + (start_off), \
			s + (end_off), pages_expr, NULL), -EINVAL);	\
	m_state(buf_intact(buf), "contents changed");			\
	m_state(zd_mm_lookup(mm, s, NULL) == ZD_MM_PAGE_HOST, "page taken"); \
}
EXCL_BAD(excl_null_mm, NULL, 0, NPAGES * PG, pg)
EXCL_BAD(excl_null_pages, mm, 0, NPAGES * PG, NULL)
EXCL_BAD(excl_unaligned, mm, 1, NPAGES * PG, pg)
EXCL_BAD(excl_end_unaligned, mm, 0, NPAGES * PG - 1, pg)
EXCL_BAD(excl_zero, mm, PG, PG, pg)
EXCL_BAD(excl_reversed, mm, 2 * PG, PG, pg)

static void excl_unmanaged(void)
{
	struct zd_mm *mm = mm_or_skip();
	char *p = anon(2 * PG, MAP_PRIVATE);
	void *pg[2] = { p, p };

	p[0] = 'u';
	m_arm();
	m_expect_val_nowarn(zd_make_device_exclusive_range(mm, (unsigned long)p,
			(unsigned long)p + 2 * PG, pg, NULL), 2);
	m_state(!pg[0] && !pg[1], "unmanaged pages made exclusive");
	m_state(p[0] == 'u', "contents changed");
}

static void excl_unmapped(void)
{
	struct zd_mm *mm = mm_or_skip();
	void *pg[1];

	m_arm();
	m_expect_err_nowarn(zd_make_device_exclusive_range(mm,
			(unsigned long)UNMAPPED, (unsigned long)UNMAPPED + PG,
			pg, NULL), -EFAULT);
}

static void excl_put_null(void)
{
	pg_init();
	m_arm();
	zd_put_device_exclusive_page(NULL);
	m_expect_warn();
}

static void excl_put_foreign(void)
{
	struct zd_mm *mm = mm_or_skip();
	char *buf = mm_buf(mm);

	m_arm();
	zd_put_device_exclusive_page(buf);
	m_expect_warn();
	m_state(buf_intact(buf), "contents changed");
}

static void excl_put_twice(void)
{
	struct zd_mm *mm = mm_or_skip();
	char *buf = mm_buf(mm);
	void *pg[1];

	M_SETUP(zd_make_device_exclusive_range(mm, (unsigned long)buf,
			(unsigned long)buf + PG, pg, NULL) == 1 && pg[0]);
	zd_put_device_exclusive_page(pg[0]);
	m_arm();
	zd_put_device_exclusive_page(pg[0]);
	m_expect_warn();
	m_state(buf_intact(buf), "contents changed");
}

#define W	"WARN"
#define EINV	"-EINVAL+WARN"
#define ERRW	"-errno+WARN"
#define NULLEINV "NULL/EINVAL+WARN"
#define KEPT	", data intact"
#define ERR	"-errno"

const struct mcase misuse_hmm_cases[] = {
	{ "zd_mm_destroy", "NULL", W, destroy_null },
	{ "zd_mm_destroy", "already done: destroyed", W, destroy_twice },
	{ "zd_mmu_interval_notifier_insert", "already done: inserted", EINV,
	  notifier_insert_twice },
	{ "zd_mm_map", "NULL mm", "NULL+WARN", map_null },
	{ "zd_mm_map", "zero: len 0", NULLEINV, map_zero },
	{ "zd_mm_map", "unaligned: len 100", NULLEINV, map_unaligned },
	{ "zd_mm_map", "huge: len near SIZE_MAX", "NULL", map_huge },
	{ "zd_mm_register", "NULL mm", ERRW, reg_null },
	{ "zd_mm_register", "unaligned: addr + 1", EINV, reg_unaligned },
	{ "zd_mm_register", "zero: len 0", EINV, reg_zero },
	{ "zd_mm_register", "unaligned: len 100", EINV, reg_unaligned_len },
	{ "zd_mm_register", "huge: len near SIZE_MAX", EINV, reg_huge },
	{ "zd_mm_register", "wrong type: shared mapping", EINV, reg_shared },
	{ "zd_mm_register", "huge: past the mapping", EINV, reg_past_mapping },
	{ "zd_mm_register", "foreign: unmapped memory", ERRW, reg_unmapped },
	{ "zd_mm_register", "already done: managed", EINV KEPT, reg_twice },
	{ "zd_mm_register", "foreign: managed by another mm", ERRW, reg_other_mm },
	{ "zd_mm_unregister", "NULL mm", ERRW, unreg_null },
	{ "zd_mm_unregister", "wrong state: not managed", EINV, unreg_unmanaged },
	{ "zd_mm_unregister", "double release: twice", EINV, unreg_twice },
	{ "zd_mm_unregister", "wrong size: part of a range", EINV ", still managed", unreg_partial },
	{ "zd_mm_get_stats", "NULL mm", W, stats_null_mm },
	{ "zd_mm_get_stats", "NULL stats", W, stats_null_stats },
	{ "zd_mm_device_pages", "NULL", "0+WARN", device_pages_null },
	{ "zd_mm_lookup", "NULL mm", ERRW, lookup_null },
	{ "zd_mm_lookup", "foreign: unmanaged address", "-EFAULT", lookup_unmanaged },
	{ "zd_pin_user_pages_remote", "NULL mm", "-EINVAL+WARN", pin_null_mm },
	{ "zd_pin_user_pages_remote", "unaligned: start + 1", "-EINVAL+WARN", pin_unaligned },
	{ "zd_pin_user_pages_remote", "bad flags: 0x2", "-EINVAL+WARN", pin_bad_flags },
	{ "zd_pin_user_pages_remote", "huge: ULONG_MAX pages", "-EINVAL+WARN", pin_huge },
	{ "zd_pin_user_pages_remote", "NULL pin", "-EINVAL+WARN", pin_null_out },
	{ "zd_pin_user_pages_remote", "foreign: unmapped address", "-EFAULT", pin_unmapped },
	{ "zd_unpin_user_pages", "NULL", "no crash", unpin_null },
	{ "zd_migrate_virt", "unaligned address", "0+WARN", virt_unaligned },
	{ "zd_migrate_virt", "NULL", "0+WARN", virt_null },
	{ "zd_migrate_pfn_to_page", "foreign: pfn with no memmap", "NULL+WARN", pfn_to_page_no_memmap },
	{ "zd_migrate_pfn_to_page", "zero: entry not VALID", "NULL", pfn_to_page_invalid },
	{ "zd_migrate_pfn_to_virt", "wrong type: device entry", "NULL", pfn_to_virt_device },
	{ "zd_free_system_page", "foreign: not a staging page", W, free_sys_foreign },
	{ "zd_free_system_page", "double release: twice", W, free_sys_twice },
	{ "zd_migrate_vma_setup", "NULL", EINV, setup_null },
	{ "zd_migrate_vma_setup", "NULL mm", EINV KEPT, setup_null_mm },
	{ "zd_migrate_vma_setup", "unaligned: start + 1", EINV KEPT, setup_unaligned },
	{ "zd_migrate_vma_setup", "zero: end == start", EINV KEPT, setup_reversed },
	{ "zd_migrate_vma_setup", "unaligned: end - 1", EINV KEPT, setup_end_unaligned },
	{ "zd_migrate_vma_setup", "wrong size: npages short", EINV KEPT, setup_npages_short },
	{ "zd_migrate_vma_setup", "NULL src", EINV KEPT, setup_null_src },
	{ "zd_migrate_vma_setup", "NULL dst", EINV KEPT, setup_null_dst },
	{ "zd_migrate_vma_setup", "wrong type: unknown flags", EINV KEPT, setup_flags },
	{ "zd_migrate_vma_setup", "huge: range wraps", EINV KEPT, setup_wrap },
	{ "zd_migrate_vma_setup", "foreign: range not mapped at all", "-EINVAL, no WARN (a munmap race)", setup_unmapped },
	{ "zd_migrate_vma_setup", "huge: range past the mapping", "0, src 0 past it" KEPT, setup_partly_mapped },
	{ "zd_migrate_vma_setup", "wrong type: GENERIC fault_page", EINV KEPT, setup_fault_page_generic },
	{ "zd_migrate_vma_setup", "already done: set up again before finalize", "-EBUSY+WARN" KEPT, setup_twice },
	{ "zd_migrate_vma_move", "NULL", EINV KEPT, move_null },
	{ "zd_migrate_vma_move", "wrong memory: managed by the mm", EINV KEPT,
	  move_to_managed },
	{ "zd_migrate_vma_move", "zero: n 0", EINV KEPT, move_zero },
	{ "zd_migrate_vma_move", "huge: past npages", EINV KEPT, move_past_end },
	{ "zd_migrate_vma_move", "huge: n ULONG_MAX", EINV KEPT, move_huge },
	{ "zd_migrate_vma_move", "unaligned: to + 1", EINV KEPT, move_unaligned_to },
	{ "zd_migrate_vma_move", "NULL to", EINV KEPT, move_null_to },
	{ "zd_migrate_vma_move", "already done: page taken twice", EINV KEPT, move_twice },
	{ "zd_migrate_vma_move", "wrong state: not set up", EINV KEPT, move_not_setup },
	{ "zd_migrate_vma_pages", "NULL", W, pages_null },
	{ "zd_migrate_vma_pages", "wrong state: not set up", "WARN" KEPT, pages_not_setup },
	{ "zd_migrate_vma_pages", "foreign: dst pfn with no memmap", "WARN, page stays home" KEPT, dst_no_memmap },
	{ "zd_migrate_vma_pages", "wrong type: GENERIC page as dst", "WARN, page stays home" KEPT, dst_generic },
	{ "zd_migrate_vma_pages", "wrong state: dst page never handed out", "WARN, page stays home" KEPT, dst_free_private },
	{ "zd_migrate_vma_pages", "wrong type: COHERENT dst without a file to map", "WARN, page stays home" KEPT, dst_coherent_no_file },
	{ "zd_migrate_vma_pages", "wrong state: COHERENT dst never handed out", "WARN, page stays home" KEPT, dst_free_coherent },
	{ "zd_migrate_vma_finalize", "NULL", W, finalize_null },
	{ "zd_migrate_vma_finalize", "double release: twice", "WARN" KEPT, finalize_twice },
	{ "zd_hmm_register_staging", "NULL", EINV, stage_reg_null },
	{ "zd_hmm_register_staging", "unaligned: addr + 1", EINV, stage_reg_unaligned },
	{ "zd_hmm_register_staging", "zero: len 0", EINV, stage_reg_zero },
	{ "zd_hmm_register_staging", "wrong type: shared mapping", EINV, stage_reg_shared },
	{ "zd_hmm_register_staging", "foreign: unmapped memory", EINV, stage_reg_unmapped },
	{ "zd_hmm_register_staging", "already done: twice", ERRW ", kept", stage_reg_twice },
	{ "zd_hmm_register_staging", "wrong memory: managed by a zd_mm",
	  "-EBUSY+WARN", stage_reg_managed },
	{ "zd_hmm_unregister_staging", "wrong state: never registered", EINV, stage_unreg_never },
	{ "zd_hmm_unregister_staging", "NULL", EINV, stage_unreg_null },
	{ "zd_hmm_unregister_staging", "double release: twice", EINV, stage_unreg_twice },
	{ "zd_hmm_unregister_staging", "wrong size: part of a range", EINV ", kept", stage_unreg_partial },
	{ "zd_migrate_device_range", "NULL src_pfns", EINV, range_null },
	{ "zd_migrate_device_range", "foreign: pfns with no memmap", EINV, range_unmapped },
	{ "zd_migrate_device_range", "wrong state: before any memremap", EINV, range_early },
	{ "zd_migrate_device_range", "huge: pfn range wraps", EINV, range_wrap },
	{ "zd_migrate_device_range", "wrong type: GENERIC pfns", EINV, range_generic },
	{ "zd_migrate_device_pages", "NULL src_pfns", W, dpages_null_src },
	{ "zd_migrate_device_pages", "NULL dst_pfns", W, dpages_null_dst },
	{ "zd_migrate_device_finalize", "NULL src_pfns", W, dfinal_null_src },
	{ "zd_migrate_device_finalize", "NULL dst_pfns", W, dfinal_null_dst },
	{ "zd_make_device_exclusive_range", "NULL mm", EINV KEPT, excl_null_mm },
	{ "zd_make_device_exclusive_range", "NULL pages", EINV KEPT, excl_null_pages },
	{ "zd_make_device_exclusive_range", "unaligned: start + 1", EINV KEPT, excl_unaligned },
	{ "zd_make_device_exclusive_range", "unaligned: end - 1", EINV KEPT, excl_end_unaligned },
	{ "zd_make_device_exclusive_range", "zero: end == start", EINV KEPT, excl_zero },
	{ "zd_make_device_exclusive_range", "wrong size: end before start", EINV KEPT, excl_reversed },
	{ "zd_make_device_exclusive_range", "foreign: unmanaged memory", "count, pages NULL, no WARN" KEPT, excl_unmanaged },
	{ "zd_make_device_exclusive_range", "foreign: unmapped memory", "-EFAULT, no WARN", excl_unmapped },
	{ "zd_put_device_exclusive_page", "NULL", W, excl_put_null },
	{ "zd_put_device_exclusive_page", "foreign: not an exclusive page", W KEPT, excl_put_foreign },
	{ "zd_put_device_exclusive_page", "double release: twice", W KEPT, excl_put_twice },

	{ "dmirror_create", "zero: chunk_bytes 0", "NULL/EINVAL", dm_create_zero },
	{ "dmirror_create", "unaligned: chunk 1 MiB", "NULL/EINVAL", dm_create_unaligned },
	{ "dmirror_create", "already done: id taken", "NULL/EEXIST", dm_create_twice },
	{ "dmirror_unbind", "NULL", ERR, dm_unbind_null },
	{ "dmirror_unbind", "double release: twice", "-ENODEV", dm_unbind_twice },
	{ "dmirror_set_prefetch", "zero: 0 pages", "-EINVAL", dm_prefetch_zero },
	{ "dmirror_set_prefetch", "huge: 1024 pages", "-EINVAL", dm_prefetch_huge },
	{ "dmirror_set_prefetch", "NULL", "-EINVAL", dm_prefetch_null },
	{ "dmirror_set_fail_faults", "NULL", "no crash", dm_fail_null },
	{ "dmirror_get_stats", "NULL dm", "no crash", dm_stats_null },
	{ "dmirror_get_stats", "NULL stats", "no crash", dm_stats_null_out },
	{ "dmirror_migrate_to_device", "zero: npages 0", ERR KEPT, dm_to_dev_zero },
	{ "dmirror_migrate_to_device", "unaligned: addr + 1", ERR KEPT, dm_to_dev_unaligned },
	{ "dmirror_migrate_to_device", "NULL mm", ERR KEPT, dm_to_dev_null_mm },
	{ "dmirror_migrate_to_device", "foreign: unmanaged range", ERR KEPT, dm_to_dev_unmanaged },
	{ "dmirror_migrate_to_device", "huge: npages", ERR KEPT, dm_to_dev_huge },
	{ "dmirror_migrate_to_device", "unbound: after dmirror_unbind", ERR KEPT, dm_to_dev_unbound },
	{ "dmirror_migrate_to_device", "NULL dm", ERR KEPT, dm_to_dev_null_dm },
	{ "dmirror_migrate_to_device", "NULL cmd", ERR KEPT, dm_to_dev_null_cmd },
	{ "dmirror_migrate_to_system", "zero: npages 0", ERR KEPT, dm_to_sys_zero },
	{ "dmirror_migrate_to_system", "NULL mm", ERR KEPT, dm_to_sys_null_mm },
	{ "dmirror_migrate_to_system", "NULL cmd", ERR KEPT, dm_to_sys_null_cmd },
	{ "dmirror_read", "NULL ptr", ERR KEPT, dm_read_null_ptr },
	{ "dmirror_read", "foreign: unmanaged range", ERR KEPT, dm_read_unmanaged },
	{ "dmirror_read", "huge: npages", ERR KEPT, dm_read_huge },
	{ "dmirror_read", "NULL dm", ERR KEPT, dm_read_null_dm },
	{ "dmirror_write", "NULL ptr", ERR KEPT, dm_write_null_ptr },
	{ "dmirror_write", "unaligned: addr + 1", ERR KEPT, dm_write_unaligned },
	{ "dmirror_write", "NULL cmd", ERR KEPT, dm_write_null_cmd },
	{ "dmirror_transform", "NULL fn", "-EINVAL", dm_transform_null_fn },
	{ 0 }
};
