/* bpfvm-bench: the interpreter against the same C programs built natively.
 *
 * Each program in ../shared/bench (see bench_prog.h there) exists twice: as
 * eBPF bytecode (NAME.bin, described by NAME.meta, built by clang) and as a
 * native function (gcc -O2 -DBENCH_NATIVE, linked in as bench_main_NAME).
 * Both run on the same packet (NAME.pkt) and must return the .meta retval.
 * Reported: the best (minimum) ns per run over many short batches, after
 * warm-up, for native code and for the interpreter (unchecked, with
 * both dispatches, and checked), and the interpreter/native ratio.
 *
 * Until program types exist r1 is a bare struct xdp_md whose 32-bit data and
 * data_end fields hold real addresses, so the context and the packet live in
 * one mapping below 4 GiB.  Maps come from bench_maps.c (the map layer);
 * map programs have no checked column: their map values are no region.
 *
 * SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include "bench_maps.h"
#include "bench_mix.h"
#include "bpfvm.h"
#include "vm_internal.h"

#ifndef BPFVM_BENCH_DIR
#define BPFVM_BENCH_DIR "../shared/bench"
#endif

/* The native layout of bench_prog.h (same tag and members: compatible). */
struct xdp_md {
	unsigned char *data;
	unsigned char *data_end;
};
typedef int (*native_fn)(struct xdp_md *ctx);

/* The eBPF layout: the kernel's struct xdp_md. */
struct bench_xdp_ctx {
	uint32_t data, data_end, data_meta;
	uint32_t ingress_ifindex, rx_queue_index, egress_ifindex;
};

/* The programs built natively; `target`: the 20x goal applies. */
#define NATIVE_PROGS(X)                                                        \
	X(collatz, true) X(switchy, true) X(csum, true) X(pktcmp, true)        \
	X(callchain, false) X(hashmap, false)
#define X(n, t) int bench_main_##n(struct xdp_md *ctx);
NATIVE_PROGS(X)
#undef X
static const struct native_prog {
	const char *name;
	native_fn fn;
	bool target;
} native_progs[] = {
#define X(n, t) { #n, bench_main_##n, t },
	NATIVE_PROGS(X)
#undef X
};

#define TARGET_RATIO 20.0
#define LOW_MAP_SIZE 65536
#define PKT_OFFSET 256 /* XDP_PACKET_HEADROOM */
#define PKT_MAX (LOW_MAP_SIZE - PKT_OFFSET)

struct meta {
	char name[64], input[256];
	size_t insns, input_len;
	unsigned long repeat;
	uint32_t retval;
	bool has_retval;
	uint32_t nmaps, nrelocs;
	struct meta_map {
		char type[16];
		uint32_t key_size, value_size, max_entries;
	} map[BENCH_MAPS_MAX];
	struct meta_reloc {
		uint32_t insn, map;
	} reloc[64];
};

struct opts {
	const char *dir, *filter;
	int batches;
	unsigned long repeat; /* 0: from .meta */
	bool checked;
	bool mix;
};

/* ---- files ------------------------------------------------------------- */

static void *read_file(const char *dir, const char *name, size_t *len)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	size_t cap = 4096, n = 0, got;
	char *buf = malloc(cap);
	while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
		n += got;
		if (n == cap) {
			char *nb = realloc(buf, cap *= 2);
			if (!nb)
				free(buf);
			buf = nb;
		}
	}
	if (ferror(f)) {
		free(buf);
		buf = NULL;
	}
	if (buf)
		buf[n] = 0; /* n < cap: text callers get a C string */
	fclose(f);
	*len = n;
	return buf;
}

/* "map N NAME TYPE KEY_SIZE VALUE_SIZE MAX_ENTRIES", numbered from 0 */
static const char *parse_map(const char *v, struct meta *m)
{
	struct meta_map *mm = &m->map[m->nmaps];
	uint32_t n;
	if (m->nmaps == BENCH_MAPS_MAX ||
	    sscanf(v, "%" SCNu32 " %*s %15s %" SCNu32 " %" SCNu32 " %" SCNu32,
		   &n, mm->type, &mm->key_size, &mm->value_size,
		   &mm->max_entries) != 5 || n != m->nmaps)
		return "map";
	m->nmaps++;
	return NULL;
}

/* "reloc INSN map N": the ld_imm64 at INSN loads map N */
static const char *parse_reloc(const char *v, struct meta *m)
{
	struct meta_reloc *r = &m->reloc[m->nrelocs];
	if (m->nrelocs == sizeof m->reloc / sizeof *m->reloc ||
	    sscanf(v, "%" SCNu32 " map %" SCNu32, &r->insn, &r->map) != 2)
		return "reloc";
	m->nrelocs++;
	return NULL;
}

/* NAME.meta: "key value..." lines, '#' starts a comment (mkbench.py). */
static int parse_meta(const char *dir, const char *file, struct meta *m,
		      char *err, size_t errlen)
{
	size_t len;
	char *text = read_file(dir, file, &len), *save = NULL;
	(void)len;
	if (!text) {
		snprintf(err, errlen, "%s: %s", file, strerror(errno));
		return -1;
	}
	memset(m, 0, sizeof *m);
	const char *bad = NULL;
	for (char *ln = strtok_r(text, "\n", &save); ln;
	     ln = strtok_r(NULL, "\n", &save)) {
		char *hash = strchr(ln, '#');
		if (hash)
			*hash = 0;
		char key[32];
		if (sscanf(ln, "%31s", key) != 1)
			continue;
		char *v = ln + strspn(ln, " \t") + strlen(key);
		if (!strcmp(key, "name"))
			sscanf(v, "%63s", m->name);
		else if (!strcmp(key, "insns"))
			m->insns = strtoul(v, NULL, 0);
		else if (!strcmp(key, "input"))
			sscanf(v, "%255s %zu", m->input, &m->input_len);
		else if (!strcmp(key, "repeat"))
			m->repeat = strtoul(v, NULL, 0);
		else if (!strcmp(key, "retval"))
			m->retval = (uint32_t)strtoul(v, NULL, 0),
			m->has_retval = true;
		else if (!strcmp(key, "map") && !bad)
			bad = parse_map(v, m);
		else if (!strcmp(key, "reloc") && !bad)
			bad = parse_reloc(v, m);
	}
	free(text);
	if (bad) {
		snprintf(err, errlen, "%s: bad %s line", file, bad);
		return -1;
	}
	for (uint32_t i = 0; i < m->nrelocs; i++)
		if (m->reloc[i].map >= m->nmaps || m->reloc[i].insn >= m->insns)
			bad = "reloc";
	if (!m->name[0] || !m->insns || !m->input[0] || !m->repeat ||
	    !m->has_retval || bad) {
		snprintf(err, errlen, "%s: %s", file,
			 bad ? "reloc to no map or insn"
			     : "missing name/insns/input/repeat/retval");
		return -1;
	}
	return 0;
}

/* ---- memory below 4 GiB ------------------------------------------------ */

static bool below_4g(void *p, size_t len)
{
	return (uintptr_t)p + len <= UINT32_MAX;
}

static void *map_low(size_t len)
{
	void *p;
#ifdef MAP_32BIT
	p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
	if (p != MAP_FAILED && below_4g(p, len))
		return p;
	if (p != MAP_FAILED)
		munmap(p, len);
#endif
	/* No MAP_32BIT: ask for low addresses by hint until one sticks. */
	for (uintptr_t a = 0x10000000; a < 0xf0000000; a += 0x10000000) {
		p = mmap((void *)a, len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p != MAP_FAILED && below_4g(p, len))
			return p;
		if (p != MAP_FAILED)
			munmap(p, len);
	}
	return NULL;
}

/* ---- timing ------------------------------------------------------------ */

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

struct native_arg {
	native_fn volatile fn; /* re-read each call: no inlining, no hoisting */
	struct xdp_md *ctx;
};

/* A run's 32-bit result, or BAD_RUN (no 32-bit value) if the run failed. */
#define BAD_RUN UINT64_MAX

static uint64_t run_native(void *p)
{
	struct native_arg *a = p;
	return (uint32_t)a->fn(a->ctx);
}

struct interp_arg {
	const struct bpfvm *vm;
	struct bench_xdp_ctx *ctx;
	struct bpfvm_result res;
};

static uint64_t run_interp(void *p)
{
	struct interp_arg *a = p;
	if (bpfvm_run(a->vm, a->ctx, sizeof *a->ctx, &a->res) || a->res.error)
		return BAD_RUN;
	return (uint32_t)a->res.r0;
}

/* ---- one program ------------------------------------------------------- */

enum col { C_NATIVE, C_GOTO, C_SWITCH, C_CHECKED, C__COUNT };
static const char *const col_name[C__COUNT] = { "native", "goto", "switch",
						"checked" };

/* How each interpreter column configures its VM. */
static const struct {
	enum bpfvm_dispatch dispatch;
	bool checked;
} interp_mode[C__COUNT] = {
	[C_GOTO] = { BPFVM_DISPATCH_GOTO, false },
	[C_SWITCH] = { BPFVM_DISPATCH_SWITCH, false },
	[C_CHECKED] = { BPFVM_DISPATCH_GOTO, true },
};

/* One column being timed. */
struct cell {
	uint64_t (*run)(void *arg);
	void *arg;
	unsigned long n;  /* runs per batch */
	unsigned long done;
	uint64_t best;    /* ns of the fastest batch */
	uint64_t diff;    /* OR of (result ^ expected) over all runs */
};

struct row {
	double ns[C__COUNT]; /* NAN: not measured */
	uint64_t insns_run;  /* instructions executed per run */
	char *mix;           /* --mix: the instruction mix (malloc'ed) */
	size_t mix_len;
};

/* Batches are short (BATCH_NS) and the columns take turns batch by batch,
 * so on a loaded machine every column gets its share of quiet moments; the
 * fastest batch of each is its uncontended time. */
#define BATCH_NS 250000u

static uint64_t time_batch(struct cell *c, unsigned long n, uint32_t expect)
{
	uint64_t diff = 0;
	uint64_t t0 = now_ns();
	for (unsigned long i = 0; i < n; i++)
		diff |= c->run(c->arg) ^ expect;
	uint64_t t = now_ns() - t0;
	c->diff |= diff;
	return t;
}

/* Warm up and size the batches to about BATCH_NS. */
static void calibrate(struct cell *c, uint32_t expect)
{
	unsigned long n = 1;
	uint64_t t;
	while ((t = time_batch(c, n, expect)) < BATCH_NS / 4)
		n *= 2;
	c->n = n * BATCH_NS / (t ? t : 1) + 1;
	c->best = UINT64_MAX;
}

/* Round-robin until every cell has `batches` batches and `total` runs. */
static void time_cells(struct cell *cells, int ncells, unsigned long total,
		       int batches, uint32_t expect)
{
	for (int i = 0; i < ncells; i++)
		calibrate(&cells[i], expect);
	for (int b = 0, more = 1; more; b++) {
		more = 0;
		for (int i = 0; i < ncells; i++) {
			struct cell *c = &cells[i];
			if (b >= batches && c->done >= total)
				continue;
			uint64_t t = time_batch(c, c->n, expect);
			if (t < c->best)
				c->best = t;
			c->done += c->n;
			more = 1;
		}
	}
}

static const struct native_prog *find_native(const char *name)
{
	for (size_t i = 0; i < sizeof native_progs / sizeof *native_progs; i++)
		if (!strcmp(native_progs[i].name, name))
			return &native_progs[i];
	return NULL;
}

/* A wrong result or a load error fails the benchmark (exit 1). */
enum outcome { BENCH_OK, BENCH_FAIL };

static enum outcome bench_one(const struct opts *o, const struct meta *m,
			      const struct native_prog *np, unsigned char *low,
			      struct row *row, char *why, size_t whylen)
{
	char bin[128];
	size_t bin_len, pkt_len;
	enum outcome out = BENCH_FAIL;
	struct bpfvm *vms[C__COUNT] = { 0 };
	struct bench_maps *maps = NULL;
	struct interp_arg ia[C__COUNT];
	struct cell cells[C__COUNT];
	enum col cols[C__COUNT];
	int ncells = 0;

	*row = (struct row){ .insns_run = 0 };
	for (int c = 0; c < C__COUNT; c++)
		row->ns[c] = NAN;
	snprintf(bin, sizeof bin, "%s.bin", m->name);
	struct bpfvm_insn *insns = read_file(o->dir, bin, &bin_len);
	unsigned char *pkt_file = read_file(o->dir, m->input, &pkt_len);
	if (!insns || !pkt_file) {
		snprintf(why, whylen, "cannot read %s: %s",
			 insns ? m->input : bin, strerror(errno));
		goto out;
	}
	if (bin_len != m->insns * sizeof *insns || pkt_len != m->input_len ||
	    pkt_len > PKT_MAX) {
		snprintf(why, whylen, "%s is %zu bytes, %s %zu: .meta says "
			 "%zu insns, %zu bytes input", bin, bin_len, m->input,
			 pkt_len, m->insns, m->input_len);
		goto out;
	}

	if (m->nmaps) {
		maps = bench_maps_new();
		if (!maps) {
			snprintf(why, whylen, "out of memory");
			goto out;
		}
		for (uint32_t i = 0; i < m->nmaps; i++) {
			const struct meta_map *mm = &m->map[i];
			if (bench_maps_add(maps, mm->type, mm->key_size,
					   mm->value_size, mm->max_entries, why,
					   whylen))
				goto out;
		}
		for (uint32_t i = 0; i < m->nrelocs; i++) {
			if (bench_maps_reloc(insns, m->insns, m->reloc[i].insn,
					     m->reloc[i].map)) {
				snprintf(why, whylen, "reloc at insn %" PRIu32
					 ": not an ld_imm64", m->reloc[i].insn);
				goto out;
			}
		}
	}

	/* The bench programs only read the packet: one copy serves all. */
	unsigned char *pkt = low + PKT_OFFSET;
	memcpy(pkt, pkt_file, pkt_len);
	struct xdp_md nctx = { pkt, pkt + pkt_len };
	struct bench_xdp_ctx *ctx = (struct bench_xdp_ctx *)low;
	*ctx = (struct bench_xdp_ctx){
		.data = (uint32_t)(uintptr_t)pkt,
		.data_end = (uint32_t)(uintptr_t)(pkt + pkt_len),
		.data_meta = (uint32_t)(uintptr_t)pkt,
		.ingress_ifindex = 1,
	};

	struct native_arg na = { np->fn, &nctx };
	uint64_t got = run_native(&na);
	if (got != m->retval) {
		snprintf(why, whylen, "MISMATCH native returned 0x%08" PRIx64
			 ", .meta says 0x%08" PRIx32, got, m->retval);
		goto out;
	}
	cols[ncells] = C_NATIVE;
	cells[ncells++] = (struct cell){ .run = run_native, .arg = &na };

	/* One VM per interpreter column. */
	for (int c = C_GOTO; c < C__COUNT; c++) {
		if (interp_mode[c].checked && (!o->checked || m->nmaps))
			continue;
		struct bpfvm *vm = vms[c] = bpfvm_create();
		int rc = vm ? 0 : -ENOMEM;
		if (!rc && maps)
			rc = bench_maps_attach(maps, vm);
		if (!rc)
			rc = bpfvm_load(vm, insns, m->insns);
		if (rc) {
			snprintf(why, whylen, "load failed (%s): %s",
				 strerror(-rc), vm ? bpfvm_error(vm) : "");
			goto out;
		}
		rc = bpfvm_add_region(vm, pkt, pkt_len, true);
		if (rc) {
			snprintf(why, whylen, "bpfvm_add_region: %s",
				 strerror(-rc));
			goto out;
		}
		bpfvm_set_dispatch(vm, interp_mode[c].dispatch);
		bpfvm_set_checked(vm, interp_mode[c].checked);
		ia[c] = (struct interp_arg){ .vm = vm, .ctx = ctx };
		got = run_interp(&ia[c]);
		if (ia[c].res.error || got != m->retval) {
			snprintf(why, whylen, "MISMATCH interp (%s) returned "
				 "0x%08" PRIx32 ", .meta says 0x%08" PRIx32
				 "%s%s", col_name[c], (uint32_t)ia[c].res.r0,
				 m->retval, ia[c].res.error ? ": " : "",
				 ia[c].res.msg);
			goto out;
		}
		cols[ncells] = (enum col)c;
		cells[ncells++] = (struct cell){ .run = run_interp,
						 .arg = &ia[c] };
	}

	/* Only runs with a budget count instructions: one for insns/run. */
	bpfvm_set_budget(vms[C_GOTO], UINT64_MAX - 1);
	run_interp(&ia[C_GOTO]);
	row->insns_run = ia[C_GOTO].res.insns;
	bpfvm_set_budget(vms[C_GOTO], 0);

	time_cells(cells, ncells, o->repeat ? o->repeat : m->repeat,
		   o->batches, m->retval);
	for (int i = 0; i < ncells; i++) {
		if (cells[i].diff) {
			snprintf(why, whylen, "MISMATCH %s result changed "
				 "between runs", col_name[cols[i]]);
			goto out;
		}
		row->ns[cols[i]] = (double)cells[i].best / (double)cells[i].n;
	}
	if (o->mix) {
		FILE *f = open_memstream(&row->mix, &row->mix_len);
		int rc = f ? bench_mix_print(vms[C_GOTO], ctx, sizeof *ctx,
					     8, f) : -ENOMEM;
		if (f)
			fclose(f);
		if (rc) {
			snprintf(why, whylen, "--mix: %s", strerror(-rc));
			goto out;
		}
	}
	out = BENCH_OK;
out:
	for (int c = 0; c < C__COUNT; c++)
		bpfvm_destroy(vms[c]);
	bench_maps_free(maps);
	free(insns);
	free(pkt_file);
	return out;
}

/* ---- report ------------------------------------------------------------ */

static void print_ns(double ns)
{
	if (isnan(ns))
		printf(" %10s", "-");
	else
		printf(" %10.1f", ns);
}

static void print_ratio(double a, double b)
{
	if (isnan(a) || isnan(b) || b <= 0)
		printf(" %7s", "-");
	else
		printf(" %6.1fx", a / b);
}

static void print_header(void)
{
	printf("%-10s %5s %-10s %10s %10s %10s %10s %7s %7s %9s %7s\n",
	       "program", "insns", "retval", "native", "goto", "switch",
	       "checked", "goto/n", "sw/n", "insns/run", "ns/insn");
	printf("%-10s %5s %-10s %10s %10s %10s %10s %7s %7s %9s %7s\n", "", "",
	       "", "ns/run", "ns/run", "ns/run", "ns/run", "", "", "exec",
	       "goto");
}

static void print_row(const struct meta *m, const struct row *r)
{
	printf("%-10s %5zu 0x%08" PRIx32, m->name, m->insns, m->retval);
	for (int c = 0; c < C__COUNT; c++)
		print_ns(r->ns[c]);
	print_ratio(r->ns[C_GOTO], r->ns[C_NATIVE]);
	print_ratio(r->ns[C_SWITCH], r->ns[C_NATIVE]);
	if (r->insns_run)
		printf(" %9" PRIu64, r->insns_run);
	else
		printf(" %9s", "-");
	if (r->insns_run && !isnan(r->ns[C_GOTO]))
		printf(" %7.2f\n", r->ns[C_GOTO] / (double)r->insns_run);
	else
		printf(" %7s\n", "-");
}

/* Geometric mean and worst of the interp/native ratios of the target set. */
struct summary {
	double logsum[C__COUNT], worst[C__COUNT];
	const char *worst_name[C__COUNT];
	int n, ran, skipped;
};

static void summarize(struct summary *s, const struct native_prog *np,
		      const struct row *r)
{
	s->ran++;
	if (!np->target || isnan(r->ns[C_GOTO]))
		return;
	s->n++;
	for (int c = C_GOTO; c < C__COUNT; c++) {
		double q = r->ns[c] / r->ns[C_NATIVE];
		if (isnan(q))
			continue;
		s->logsum[c] += log(q);
		if (q > s->worst[c]) {
			s->worst[c] = q;
			s->worst_name[c] = np->name;
		}
	}
}

static void print_summary(const struct summary *s, bool checked)
{
	printf("\nsummary: %d ran, %d skipped; interp/native over the %d "
	       "target programs:", s->ran, s->skipped, s->n);
	if (!s->n) {
		printf(" none measured\n");
		return;
	}
	for (int c = C_GOTO; c < C__COUNT; c++) {
		if (c == C_CHECKED && !checked)
			continue;
		printf(" %s geomean %.1fx worst %.1fx (%s);", col_name[c],
		       exp(s->logsum[c] / s->n), s->worst[c],
		       s->worst_name[c]);
	}
	bool met = s->worst[C_GOTO] <= TARGET_RATIO &&
		   s->worst[C_SWITCH] <= TARGET_RATIO;
	printf(" target %.0fx (unchecked): %s\n", TARGET_RATIO,
	       met ? "met" : "MISSED");
}

/* ---- main -------------------------------------------------------------- */

static int is_meta(const struct dirent *d)
{
	size_t n = strlen(d->d_name);
	return n > 5 && !strcmp(d->d_name + n - 5, ".meta");
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: bpfvm-bench [--filter NAME] [--dir DIR] [--batches N]\n"
		"                   [--repeat N] [--no-checked] [--mix]\n"
		"  --filter NAME  only programs whose name contains NAME\n"
		"  --dir DIR      benchmark programs (default %s)\n"
		"  --batches N    at least N timed batches of ~1 ms per cell, the\n"
		"                 best taken (default 20)\n"
		"  --repeat N     at least N timed runs per cell (default: the\n"
		"                 .meta repeat)\n"
		"  --no-checked   skip the checked-mode column\n"
		"  --mix          also print each program's dynamic instruction "
		"mix\n",
		BPFVM_BENCH_DIR);
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	*o = (struct opts){ .dir = BPFVM_BENCH_DIR, .batches = 20,
			    .checked = true };
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		char *end = NULL;
		if (!strcmp(a, "--no-checked")) {
			o->checked = false;
			continue;
		}
		if (!strcmp(a, "--mix")) {
			o->mix = true;
			continue;
		}
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			exit(0);
		}
		if (!v)
			goto bad;
		i++;
		if (!strcmp(a, "--filter")) {
			o->filter = v;
		} else if (!strcmp(a, "--dir")) {
			o->dir = v;
		} else if (!strcmp(a, "--batches")) {
			long n = strtol(v, &end, 10);
			if (*end || n < 1 || n > 1000)
				goto bad;
			o->batches = (int)n;
		} else if (!strcmp(a, "--repeat")) {
			unsigned long n = strtoul(v, &end, 10);
			if (*end || n < 1 || n > 100000000)
				goto bad;
			o->repeat = n;
		} else {
			goto bad;
		}
	}
	return 0;
bad:
	usage(stderr);
	return -1;
}

int main(int argc, char **argv)
{
	struct opts o;
	if (parse_args(argc, argv, &o))
		return 2;

	struct dirent **ents;
	int nents = scandir(o.dir, &ents, is_meta, alphasort);
	if (nents < 0) {
		fprintf(stderr, "bpfvm-bench: %s: %s\n", o.dir, strerror(errno));
		return 2;
	}
	unsigned char *low = map_low(LOW_MAP_SIZE);
	if (!low) {
		fprintf(stderr, "bpfvm-bench: no memory below 4 GiB for the "
				"packet\n");
		return 2;
	}

	printf("bpfvm-bench: %s; best of >= %d batches of ~%u us; native: gcc "
	       "-O2\n", o.dir, o.batches, BATCH_NS / 1000);
	print_header();
	struct summary sum = { 0 };
	int failed = 0, matched = 0;
	for (int i = 0; i < nents; i++) {
		struct meta m;
		char err[512];
		const char *file = ents[i]->d_name;
		if (parse_meta(o.dir, file, &m, err, sizeof err)) {
			printf("%s\n", err);
			failed++;
			continue;
		}
		if (o.filter && !strstr(m.name, o.filter))
			continue;
		matched++;
		const struct native_prog *np = find_native(m.name);
		if (!np) {
			printf("%-10s skipped: no native build in "
			       "bpfvm-bench\n", m.name);
			sum.skipped++;
			continue;
		}
		struct row r;
		if (bench_one(&o, &m, np, low, &r, err, sizeof err) ==
		    BENCH_OK) {
			print_row(&m, &r);
			if (r.mix)
				fputs(r.mix, stdout);
			summarize(&sum, np, &r);
		} else {
			print_row(&m, &r); /* what was measured before */
			printf("%-10s FAILED: %s\n", "", err);
			failed++;
		}
		free(r.mix);
		fflush(stdout);
	}
	for (int i = 0; i < nents; i++)
		free(ents[i]);
	free(ents);
	munmap(low, LOW_MAP_SIZE);
	if (o.filter && !matched) {
		fprintf(stderr, "bpfvm-bench: no program matches '%s'\n",
			o.filter);
		return 2;
	}
	print_summary(&sum, o.checked);
	if (failed)
		printf("FAILED: %d program(s)\n", failed);
	return failed ? 1 : 0;
}
