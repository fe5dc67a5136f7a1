// SPDX-License-Identifier: MIT
/*
 * zonedev map: a picture (SVG) of the physical address space.  Each row
 * is a snapshot: the resource tree (System RAM, reserved ranges, PCI
 * windows and the regions devices claimed in them) on one lane, the
 * pgmaps by memory type on the lane below, and for each pgmap a strip
 * showing the state of its pages.
 *
 * The space is 64 TiB with devices at both ends, so the axis is not
 * linear: every stretch between two boundaries gets a width that grows
 * with the logarithm of its size, and stretches nothing occupies shrink
 * to a small break mark.  Sizes and addresses are written out instead.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zonedev/zonedev.h>

#include "tool.h"

#define MAX_BLOCKS	64
#define MAX_PGMAPS	16
#define CELLS		128	/* page-state cells per pgmap strip */
#define WIDTH		1200
#define MARGIN		20
#define GAP_W		16	/* width of an unoccupied stretch */

enum block_kind { BLK_RAM, BLK_RESERVED, BLK_WINDOW, BLK_REGION };

/* page states, in the order a cell shows them (the busiest wins) */
enum page_state { PG_FREE, PG_MEMMAP, PG_USED, PG_DEVICE, PG_NR };

struct block {
	uint64_t start, end;
	int depth;
	bool has_children;
	enum block_kind kind;
	char name[40];
};

struct pgmap_snap {
	uint64_t start, end;
	enum zd_memory_type type;
	char dev[24];
	char note[96];
	bool live;
	unsigned long count[PG_NR];
	unsigned char cell[CELLS];
};

struct snap {
	char label[128];
	int nr_blocks, nr_pgmaps;
	struct block blocks[MAX_BLOCKS];
	struct pgmap_snap pgmaps[MAX_PGMAPS];
	struct snap *next;
};

static struct snap *snaps, **snaps_tail = &snaps;
static bool recording;

/* ---- taking a snapshot -------------------------------------------------- */

static void add_blocks(struct snap *s, const struct zd_resource *r, int depth)
{
	for (; r && s->nr_blocks < MAX_BLOCKS; r = r->sibling) {
		struct block *b = &s->blocks[s->nr_blocks++];
		const char *name = r->name ? r->name : "";

		b->start = r->start;
		b->end = r->end;
		b->depth = depth;
		b->has_children = r->child != NULL;
		snprintf(b->name, sizeof(b->name), "%s", name);
		if ((r->flags & ZD_IORESOURCE_SYSTEM_RAM) == ZD_IORESOURCE_SYSTEM_RAM)
			b->kind = BLK_RAM;
		else if (!strcmp(name, "Reserved"))
			b->kind = BLK_RESERVED;
		else if (!(r->flags & ZD_IORESOURCE_BUSY))
			b->kind = BLK_WINDOW;
		else
			b->kind = BLK_REGION;
		if (depth < 2)
			add_blocks(s, r->child, depth + 1);
	}
}

/* A pgmap without a device is named after the busy region around it. */
static const char *region_name(const struct snap *s, uint64_t start, uint64_t end)
{
	const char *name = "(no device)";

	for (int i = 0; i < s->nr_blocks; i++)
		if (s->blocks[i].kind == BLK_REGION && s->blocks[i].start <= start &&
		    s->blocks[i].end >= end)
			name = s->blocks[i].name;	/* the deepest wins */
	return name;
}

/* Which state a usable page is in, by the kernel 6.1 counting rules. */
static enum page_state page_state(const struct zd_dev_pagemap *p,
				  const struct zd_page *page)
{
	int count = zd_page_ref_count(page);

	switch (p->type) {
	case ZD_MEMORY_DEVICE_PRIVATE:
		return count > 0 ? PG_DEVICE : PG_FREE;
	case ZD_MEMORY_DEVICE_COHERENT:
		return count > 0 ? PG_USED : PG_FREE;
	default:		/* idle at one */
		return count > 1 ? PG_USED : PG_FREE;
	}
}

static int snap_pgmap(struct zd_dev_pagemap *p, void *arg)
{
	struct snap *s = arg;
	struct pgmap_snap *ps;
	unsigned long first, nr;

	if (s->nr_pgmaps >= MAX_PGMAPS)
		return 0;
	ps = &s->pgmaps[s->nr_pgmaps++];
	memset(ps, 0, sizeof(*ps));
	ps->start = p->ranges[0].start;
	ps->end = p->ranges[p->nr_range - 1].end;
	ps->type = p->type;
	ps->live = !zd_percpu_ref_is_dying(&p->ref);
	snprintf(ps->dev, sizeof(ps->dev), "%s", p->dev ? zd_dev_name(p->dev) :
		 region_name(s, ps->start, ps->end));
	if (p->type == ZD_MEMORY_DEVICE_PCI_P2PDMA && p->dev && zd_dev_is_pci(p->dev)) {
		struct zd_p2pmem_attrs a;

		/* p2p allocations hold the pgmap, not its pages' counts */
		if (!zd_pci_p2pmem_attrs(zd_to_pci_dev(p->dev), &a))
			snprintf(ps->note, sizeof(ps->note), "; the provider has "
				 "%zu KiB of %zu KiB allocated%s",
				 (a.size - a.available) >> 10, a.size >> 10,
				 a.published ? ", published" : "");
	}
	first = (unsigned long)(ps->start >> zd_page_shift);
	nr = (unsigned long)((ps->end - ps->start + 1) >> zd_page_shift);
	/* the memmap stays mapped while the layout is held still */
	zd_get_online_mems();
	for (unsigned long i = 0; i < nr; i++) {
		enum page_state st = PG_MEMMAP;
		unsigned long c = (unsigned long)((double)i / (double)nr * CELLS);

		if (zd_pgmap_pfn_valid(p, first + i))
			st = page_state(p, zd_pfn_to_page(first + i));
		else if (first + i > p->range.end >> zd_page_shift)
			continue;	/* between ranges */
		ps->count[st]++;
		if (st > ps->cell[c])
			ps->cell[c] = (unsigned char)st;
	}
	zd_put_online_mems();
	return 0;
}

void demo_map_snapshot(const char *label)
{
	struct snap *s;

	if (!recording)
		return;
	s = calloc(1, sizeof(*s));
	if (!s) {
		tool_err(NULL, "map: no memory for a snapshot");
		return;
	}
	snprintf(s->label, sizeof(s->label), "%s", label);
	/* this process alone changes its tree, and not while we read */
	add_blocks(s, zd_iomem_root()->child, 0);
	zd_pgmap_for_each(snap_pgmap, s);
	*snaps_tail = s;
	snaps_tail = &s->next;
}

/* ---- drawing ------------------------------------------------------------ */

static const char *const block_fill[] = {
	[BLK_RAM] = "#9bd59b", [BLK_RESERVED] = "#c9c9c9",
	[BLK_WINDOW] = "#dbe9fb", [BLK_REGION] = "#ffd08a",
};
static const char *const block_what[] = {
	[BLK_RAM] = "System RAM", [BLK_RESERVED] = "reserved",
	[BLK_WINDOW] = "PCI window (free to claim)",
	[BLK_REGION] = "region a device claimed",
};
static const char *const state_fill[] = {
	[PG_FREE] = "#f1f1f1", [PG_MEMMAP] = "#8aa1b1",
	[PG_USED] = "#e4572e", [PG_DEVICE] = "#6a3d9a",
};
static const char *const state_what[] = {
	[PG_FREE] = "free", [PG_MEMMAP] = "holds the memmap (altmap)",
	[PG_USED] = "in use", [PG_DEVICE] = "device-private, data on the device",
};

static const char *type_fill(enum zd_memory_type t)
{
	switch (t) {
	case ZD_MEMORY_DEVICE_PRIVATE: return "#b39ddb";
	case ZD_MEMORY_DEVICE_COHERENT: return "#80cbc4";
	case ZD_MEMORY_DEVICE_FS_DAX: return "#f4a261";
	case ZD_MEMORY_DEVICE_GENERIC: return "#e9c46a";
	case ZD_MEMORY_DEVICE_PCI_P2PDMA: return "#4db6ac";
	default: return "#ffffff";
	}
}

static void size_str(char *buf, size_t len, uint64_t bytes)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
	int u = 0;

	while (u < 6 && bytes >= 1024 && !(bytes % 1024)) {
		bytes /= 1024;
		u++;
	}
	snprintf(buf, len, "%llu %s", (unsigned long long)bytes, unit[u]);
}

static void xml_text(FILE *f, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '&': fputs("&amp;", f); break;
		case '"': fputs("&quot;", f); break;
		default: fputc(*s, f);
		}
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The axis of one snapshot: boundaries and their x positions. */
struct axis {
	int n;
	uint64_t at[2 * (MAX_BLOCKS + MAX_PGMAPS)];
	double x[2 * (MAX_BLOCKS + MAX_PGMAPS)];
	bool gap[2 * (MAX_BLOCKS + MAX_PGMAPS)];	/* stretch i..i+1 empty */
};

/* One past @end, or @end itself at the very top of the 64-bit space. */
static uint64_t past(uint64_t end)
{
	return end == UINT64_MAX ? end : end + 1;
}

static bool occupied(const struct snap *s, uint64_t a, uint64_t b)
{
	for (int i = 0; i < s->nr_blocks; i++)
		if (s->blocks[i].start <= a && s->blocks[i].end >= b - 1)
			return true;
	for (int i = 0; i < s->nr_pgmaps; i++)
		if (s->pgmaps[i].start <= a && s->pgmaps[i].end >= b - 1)
			return true;
	return false;
}

static void axis_build(struct axis *ax, const struct snap *s, double x0, double w)
{
	double width[2 * (MAX_BLOCKS + MAX_PGMAPS)], total = 0, fixed = 0;
	int n = 0;

	for (int i = 0; i < s->nr_blocks; i++) {
		ax->at[n++] = s->blocks[i].start;
		ax->at[n++] = past(s->blocks[i].end);
	}
	for (int i = 0; i < s->nr_pgmaps; i++) {
		ax->at[n++] = s->pgmaps[i].start;
		ax->at[n++] = past(s->pgmaps[i].end);
	}
	qsort(ax->at, (size_t)n, sizeof(ax->at[0]), cmp_u64);
	ax->n = 0;
	for (int i = 0; i < n; i++)
		if (!ax->n || ax->at[ax->n - 1] != ax->at[i])
			ax->at[ax->n++] = ax->at[i];
	for (int i = 0; i + 1 < ax->n; i++) {
		ax->gap[i] = !occupied(s, ax->at[i], ax->at[i + 1]);
		width[i] = ax->gap[i] ? 0 :
			   4 + log2((double)(ax->at[i + 1] - ax->at[i]));
		if (ax->gap[i])
			fixed += GAP_W;
		total += width[i];
	}
	if (total <= 0)
		total = 1;
	ax->x[0] = x0;
	for (int i = 0; i + 1 < ax->n; i++)
		ax->x[i + 1] = ax->x[i] + (ax->gap[i] ? GAP_W :
				width[i] / total * (w - fixed));
}

static double axis_x(const struct axis *ax, uint64_t addr)
{
	for (int i = 0; i < ax->n; i++)
		if (ax->at[i] == addr)
			return ax->x[i];
	return ax->x[ax->n - 1];
}

/* A box with a label inside when it fits, and a tooltip always. */
static void box(FILE *f, double x, double y, double w, double h,
		const char *fill, const char *stroke, const char *label,
		const char *tip, bool top)
{
	fprintf(f, "<g><title>");
	xml_text(f, tip);
	fprintf(f, "</title><rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
		"height=\"%.1f\" fill=\"%s\" stroke=\"%s\"/>", x, y, w, h, fill,
		stroke);
	if (label && w > 7.0 * (double)strlen(label) + 6) {
		if (top)	/* a container: its children fill the middle */
			fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" class=\"s\">",
				x + 4, y + 11);
		else
			fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" "
				"text-anchor=\"middle\">", x + w / 2, y + h / 2 + 4);
		xml_text(f, label);
		fprintf(f, "</text>");
	}
	fprintf(f, "</g>\n");
}

static double draw_snap(FILE *f, const struct snap *s, double y)
{
	double x0 = MARGIN + 70, w = WIDTH - x0 - MARGIN, lane = 64;
	struct axis ax;
	char tip[256], size[32];

	axis_build(&ax, s, x0, w);
	fprintf(f, "<text x=\"%d\" y=\"%.1f\" class=\"h\">", MARGIN, y + 16);
	xml_text(f, s->label);
	fprintf(f, "</text>\n");
	y += 28;
	fprintf(f, "<text x=\"%d\" y=\"%.1f\" class=\"s\">iomem</text>\n"
		   "<text x=\"%d\" y=\"%.1f\" class=\"s\">pgmaps</text>\n",
		MARGIN, y + lane / 2 + 4, MARGIN, y + lane + 10 + 20);
	for (int i = 0; i + 1 < ax.n; i++) {
		if (!ax.gap[i])
			continue;
		size_str(size, sizeof(size), ax.at[i + 1] - ax.at[i]);
		snprintf(tip, sizeof(tip), "nothing here: %s", size);
		fprintf(f, "<g><title>%s</title><path d=\"M%.1f %.1f l6 -6 M%.1f "
			"%.1f l6 -6\" stroke=\"#888\"/></g>\n", tip,
			ax.x[i] + 2, y + lane / 2 + 3, ax.x[i] + 7, y + lane / 2 + 3);
	}
	for (int i = 0; i < s->nr_blocks; i++) {
		const struct block *b = &s->blocks[i];
		double bx = axis_x(&ax, b->start), bw = axis_x(&ax, past(b->end)) - bx;
		double top = 14.0 * b->depth, bottom = 4.0 * b->depth;
		char label[64];

		size_str(size, sizeof(size), b->end - b->start + 1);
		snprintf(label, sizeof(label), "%s", b->name);
		snprintf(tip, sizeof(tip), "%s: %#llx-%#llx, %s (%s)", b->name,
			 (unsigned long long)b->start, (unsigned long long)b->end,
			 size, block_what[b->kind]);
		box(f, bx + b->depth, y + top, bw - 2 * b->depth, lane - top - bottom,
		    block_fill[b->kind], b->kind == BLK_WINDOW ? "#4a78b5" : "#555",
		    label, tip, b->has_children);
	}
	y += lane + 10;
	for (int i = 0; i < s->nr_pgmaps; i++) {
		const struct pgmap_snap *p = &s->pgmaps[i];
		double px = axis_x(&ax, p->start), pw = axis_x(&ax, past(p->end)) - px;
		char label[8];

		snprintf(label, sizeof(label), "%c", 'A' + i);
		snprintf(tip, sizeof(tip), "%c: %s %s", 'A' + i, p->dev,
			 zd_memory_type_name(p->type));
		box(f, px, y, pw, 40, type_fill(p->type), "#333", label, tip, false);
	}
	if (!s->nr_pgmaps)
		fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" class=\"s\">(no pgmaps)"
			"</text>\n", x0, y + 24);
	y += 52;
	for (int i = 0; i < s->nr_pgmaps; i++) {
		const struct pgmap_snap *p = &s->pgmaps[i];
		double cx = x0 + 430, cw = (w - 430) / CELLS;

		size_str(size, sizeof(size), p->end - p->start + 1);
		fprintf(f, "<rect x=\"%d\" y=\"%.1f\" width=\"16\" height=\"16\" "
			"fill=\"%s\" stroke=\"#333\"/><text x=\"%d\" y=\"%.1f\" "
			"text-anchor=\"middle\">%c</text>\n", MARGIN + 70, y,
			type_fill(p->type), MARGIN + 78, y + 12, 'A' + i);
		fprintf(f, "<text x=\"%d\" y=\"%.1f\">%s  %s  %#llx, %s%s</text>\n",
			MARGIN + 92, y + 12, p->dev, zd_memory_type_name(p->type),
			(unsigned long long)p->start, size, p->live ? "" : " (dying)");
		for (int c = 0; c < CELLS; c++)
			fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.2f\" "
				"height=\"16\" fill=\"%s\"/>\n", cx + c * cw, y,
				cw + 0.3, state_fill[p->cell[c]]);
		fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"16\" "
			"fill=\"none\" stroke=\"#333\"/>\n", cx, y, cw * CELLS);
		fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" class=\"s\">", cx, y + 28);
		for (int st = PG_NR - 1, sep = 0; st >= 0; st--) {
			if (!p->count[st])
				continue;
			fprintf(f, "%s%lu %s", sep++ ? ", " : "", p->count[st],
				state_what[st]);
		}
		xml_text(f, p->note);
		fprintf(f, "</text>\n");
		y += 38;
	}
	return y + 14;
}

static double draw_legend(FILE *f, double y)
{
	double x = MARGIN;

	for (int k = 0; k <= BLK_REGION; k++) {
		fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"14\" height=\"14\" "
			"fill=\"%s\" stroke=\"#555\"/><text x=\"%.1f\" y=\"%.1f\">"
			"%s</text>\n", x, y, block_fill[k], x + 19, y + 12,
			block_what[k]);
		x += 36 + 7.5 * (double)strlen(block_what[k]);
	}
	x = MARGIN;
	y += 22;
	for (enum zd_memory_type t = ZD_MEMORY_DEVICE_PRIVATE;
	     t <= ZD_MEMORY_DEVICE_PCI_P2PDMA; t++) {
		const char *name = zd_memory_type_name(t);

		fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"14\" height=\"14\" "
			"fill=\"%s\" stroke=\"#333\"/><text x=\"%.1f\" y=\"%.1f\">"
			"pgmap %s</text>\n", x, y, type_fill(t), x + 19, y + 12, name);
		x += 80 + 7.5 * (double)strlen(name);
	}
	x = MARGIN;
	y += 22;
	fprintf(f, "<text x=\"%.1f\" y=\"%.1f\">pages (a cell shows its busiest "
		"page):</text>\n", x, y + 12);
	x += 250;
	for (int st = PG_NR - 1; st >= 0; st--) {
		fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"14\" height=\"14\" "
			"fill=\"%s\" stroke=\"#333\"/><text x=\"%.1f\" y=\"%.1f\">"
			"%s</text>\n", x, y, state_fill[st], x + 19, y + 12,
			state_what[st]);
		x += 36 + 7.0 * (double)strlen(state_what[st]);
	}
	return y + 30;
}

static int write_svg(const char *path, const char *title)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "w") : stdout;
	double height = 60 + 70;
	int nr = 0;

	if (!f) {
		tool_err("map", "%s: %s", path, strerror(errno));
		return -1;
	}
	for (struct snap *s = snaps; s; s = s->next, nr++)
		height += 28 + 74 + 52 + 38.0 * s->nr_pgmaps + 14 + 12;
	fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
		"height=\"%.0f\" viewBox=\"0 0 %d %.0f\" font-family=\"sans-serif\" "
		"font-size=\"12\">\n<style>.h{font-size:14px;font-weight:bold}"
		".t{font-size:18px;font-weight:bold}.s{fill:#444}</style>\n"
		"<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
		WIDTH, height, WIDTH, height);
	fprintf(f, "<text x=\"%d\" y=\"28\" class=\"t\">", MARGIN);
	xml_text(f, title);
	fprintf(f, "</text>\n<text x=\"%d\" y=\"46\" class=\"s\">zonedev's "
		"physical address space, low addresses on the left; widths grow "
		"with the log of the size, empty stretches are cut to a break "
		"mark. Hover for addresses.</text>\n", MARGIN);
	double y = draw_legend(f, 58);
	for (struct snap *s = snaps; s; s = s->next) {
		fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" "
			"stroke=\"#ccc\"/>\n", MARGIN, y, WIDTH - MARGIN, y);
		y = draw_snap(f, s, y + 8);
	}
	fprintf(f, "</svg>\n");
	if (f == stdout ? fflush(f) : fclose(f)) {
		tool_err("map", "%s: %s", path, strerror(errno));
		return -1;
	}
	return nr;
}

static void free_snaps(void)
{
	while (snaps) {
		struct snap *s = snaps;

		snaps = s->next;
		free(s);
	}
	snaps_tail = &snaps;
}

int demo_map_begin(void)
{
	recording = true;
	return 0;
}

int demo_map_end(const char *path)
{
	int ret = write_svg(path, "zonedev demo") < 0 ? -1 : 0;

	recording = false;
	free_snaps();
	if (!ret)
		fprintf(tool_out, "\npicture of the address space: %s\n", path);
	return ret;
}

/* ---- zonedev map -------------------------------------------------------- */

static void usage(void)
{
	printf("usage: zonedev map --svg FILE\n"
	       "  sets up the sample devices of 'zonedev pgmaps' and 'zonedev "
	       "pci' (with the\n  nvme offering p2p memory, 1 MiB of it "
	       "allocated) and draws the physical\n  address space: System "
	       "RAM, PCI windows, each pgmap by type and the state\n  of its "
	       "pages\n"
	       "  --svg FILE  where to write the picture ('-': stdout)\n");
}

int tool_map(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "svg", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	struct sample_pgmaps *pg;
	const char *svg = NULL;
	void *pci;
	int c, ret;

	while ((c = tool_getopt("map", argc, argv, ":h", opts)) != -1) {
		switch (c) {
		case 'h':
			usage();
			return TOOL_OK;
		case 's':
			if (!*optarg)
				return tool_usage_error("map", "option '--svg' wants "
							"a file name, not ''");
			svg = optarg;
			break;
		default:
			return TOOL_USAGE;
		}
	}
	if (tool_no_args("map", argc, argv))
		return TOOL_USAGE;
	if (!svg)
		return tool_usage_error("map", "option '--svg' is required");
	pg = sample_pgmaps_create();
	if (!pg)
		return TOOL_FAILED;
	pci = pci_sample_p2p_create();
	if (!pci) {
		sample_pgmaps_destroy(pg);
		return TOOL_FAILED;
	}
	recording = true;
	demo_map_snapshot("sample devices: a GENERIC range, a GPU with private "
			  "memory, an NVMe offering p2p memory");
	ret = write_svg(svg, "zonedev map") < 0 ? TOOL_FAILED : TOOL_OK;
	recording = false;
	free_snaps();
	pci_sample_p2p_destroy(pci);
	sample_pgmaps_destroy(pg);
	return ret;
}
