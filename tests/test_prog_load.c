/* PROG_LOAD and PROG_TEST_RUN through bpfvm_bpf as a kernel user sees
 * them: the verifier's verdict and log rules, the fixups after
 * verification (context rewrites, the unchecked path), and test runs.
 * Expected values come from the kernel: the bpf_conformance baseline of
 * Linux 6.18 (../shared/conformance/kernel-6.18.txt), the bench programs'
 * .meta retvals (clang's programs run on the kernel), and, when bpf(2)
 * works, the running kernel itself.
 * SPDX-License-Identifier: MIT */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "bpfvm_bpf.h"
#include "conformance.h"
#include "kernel_util.h"
#include "testutil.h"

#define PTR(p) ((uint64_t)(uintptr_t)(p))
#define ATTR_SIZE 168 /* sizeof(union bpf_attr), Linux 6.18 */
#define OFF_LOG_TRUE_SIZE 140
#define ENOTSUPP 524

#define I(c, d, s, o, i) ((struct bpf_insn){ (c), (d), (s), (o), (i) })
#define MOV64_IMM(d, i) I(BPF_ALU64 | BPF_MOV | BPF_K, d, 0, 0, i)
#define MOV64_REG(d, s) I(BPF_ALU64 | BPF_MOV | BPF_X, d, s, 0, 0)
#define ADD64_IMM(d, i) I(BPF_ALU64 | BPF_ADD | BPF_K, d, 0, 0, i)
#define ADD64_REG(d, s) I(BPF_ALU64 | BPF_ADD | BPF_X, d, s, 0, 0)
#define LDX(sz, d, s, o) I(BPF_LDX | BPF_MEM | BPF_##sz, d, s, o, 0)
#define STX(sz, d, s, o) I(BPF_STX | BPF_MEM | BPF_##sz, d, s, o, 0)
#define ST(sz, d, o, i) I(BPF_ST | BPF_MEM | BPF_##sz, d, 0, o, i)
#define JGT_REG(d, s, o) I(BPF_JMP | BPF_JGT | BPF_X, d, s, o, 0)
#define LD_ABS(sz, i) I(BPF_LD | BPF_ABS | BPF_##sz, 0, 0, 0, i)
#define EXIT() I(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)
#define LEN(a) (sizeof(a) / sizeof((a)[0]))

static const char *shared(char *buf, size_t len, const char *rel)
{
	const char *base = getenv("BPFVM_SHARED");
	ck_assert_msg(base != NULL, "BPFVM_SHARED is not set (run through meson test)");
	snprintf(buf, len, "%s/%s", base, rel);
	return buf;
}

/* A file of ../shared, whole and NUL-terminated. */
static void *read_shared(const char *rel, size_t *len)
{
	char path[4096];
	return tu_read_all(shared(path, sizeof(path), rel), len);
}

/* ---- bpf(2), ours or the kernel's, as -errno ----------------------------- */

static int map_create(bpfk_fn call, uint32_t type, uint32_t ks, uint32_t vs,
		      uint32_t max)
{
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.map_type = type;
	a.key_size = ks;
	a.value_size = vs;
	a.max_entries = max;
	return call(BPF_MAP_CREATE, &a, sizeof(a));
}

static int map_elem(bpfk_fn call, int cmd, int fd, const void *key, void *val)
{
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.map_fd = (uint32_t)fd;
	a.key = PTR(key);
	a.value = PTR(val);
	return call(cmd, &a, sizeof(a));
}

struct load {
	uint32_t type, attach;
	uint32_t log_level, log_size;
	char *log;
	uint32_t log_true_size; /* out */
};

static int prog_load(bpfk_fn call, const void *insns, size_t n, struct load *l)
{
	uint8_t raw[ATTR_SIZE];
	memset(raw, 0, sizeof(raw));
	union bpf_attr *a = (union bpf_attr *)raw;
	a->prog_type = l->type;
	a->expected_attach_type = l->attach;
	a->insns = PTR(insns);
	a->insn_cnt = (uint32_t)n;
	a->license = PTR("GPL");
	a->log_level = l->log_level;
	a->log_buf = PTR(l->log);
	a->log_size = l->log_size;
	int fd = call(BPF_PROG_LOAD, raw, sizeof(raw));
	memcpy(&l->log_true_size, raw + OFF_LOG_TRUE_SIZE, 4);
	return fd;
}

struct run {
	const void *data;
	uint32_t size;
	uint8_t out[2048];
	uint32_t size_out, retval;
	/* optional: ctx_in, and ctx_out of the same size */
	const void *ctx;
	uint32_t ctx_size;
	uint8_t ctx_out[256];
	uint32_t ctx_size_out;
};

static int test_run(bpfk_fn call, int fd, struct run *r)
{
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.test.prog_fd = (uint32_t)fd;
	a.test.data_in = PTR(r->data);
	a.test.data_size_in = r->size;
	a.test.data_out = PTR(r->out);
	a.test.data_size_out = sizeof(r->out);
	a.test.repeat = 1;
	if (r->ctx) {
		a.test.ctx_in = PTR(r->ctx);
		a.test.ctx_size_in = r->ctx_size;
		a.test.ctx_out = PTR(r->ctx_out);
		a.test.ctx_size_out = r->ctx_size;
	}
	int err = call(BPF_PROG_TEST_RUN, &a, sizeof(a));
	r->size_out = a.test.data_size_out;
	r->ctx_size_out = a.test.ctx_size_out;
	r->retval = a.test.retval;
	return err;
}

static void close_fd(bpfk_fn call, int fd)
{
	if (fd >= 0)
		call == bpfk_vcall ? bpfvm_close(fd) : close(fd);
}

/* ---- the conformance vectors, the kernel's way --------------------------- */

/* Load t as bpfk_run does (XDP, wrapper, prolog) through bpfvm_bpf: 0 and
 * *r0, or -errno with the log. */
static int conf_run(const struct bpfvm_conf_test *t, uint64_t *r0, char *log,
		    size_t loglen)
{
	int map = map_create(bpfk_vcall, BPF_MAP_TYPE_ARRAY, 4, 8, 1);
	ck_assert_int_ge(map, 0);
	struct bpfvm_insn *p = calloc(t->n + BPFK_WRAP_MAX, sizeof(*p));
	ck_assert_ptr_nonnull(p);
	size_t n = bpfk_wrap(t->insns, t->n, t->mem_len, map, p);
	struct load l = { .type = BPF_PROG_TYPE_XDP, .log_level = 1,
			  .log = log, .log_size = (uint32_t)loglen };
	log[0] = '\0';
	int fd = prog_load(bpfk_vcall, p, n, &l);
	free(p);
	int err = fd < 0 ? fd : 0;
	if (!err) {
		/* XDP wants an Ethernet header's worth: zero-padded */
		uint8_t data[2048] = { 0 };
		ck_assert_uint_le(t->mem_len, sizeof(data));
		if (t->mem_len)
			memcpy(data, t->mem, t->mem_len);
		struct run r = { .data = data,
				 .size = t->mem_len < 14 ? 14 : (uint32_t)t->mem_len };
		uint32_t key = 0;
		err = test_run(bpfk_vcall, fd, &r);
		if (!err)
			err = map_elem(bpfk_vcall, BPF_MAP_LOOKUP_ELEM, map, &key, r0);
		close_fd(bpfk_vcall, fd);
	}
	close_fd(bpfk_vcall, map);
	return err;
}

/* A test that needs the kernel's bpf(2): without it, one line saying why
 * and the test does nothing. */
static bool kernel_here(const char *test)
{
	char why[256];
	if (bpfk_available(why, sizeof(why)))
		return true;
	printf("SKIP %s: %s\n", test, why);
	return false;
}

/* The baseline's "N: (op) insn text message" is two lines of the log. */
static bool log_has(const char *log, const char *want)
{
	char two[512];
	snprintf(two, sizeof(two), "%s\n", want);
	char *sp = strstr(two, " invalid shift");
	if (sp)
		*sp = '\n';
	return strstr(log, two) != NULL;
}

START_TEST(conformance_the_kernel_way)
{
	char line[1024], err[512], path[4096];
	static char log[1 << 16];
	FILE *f = fopen(shared(path, sizeof(path), "conformance/kernel-6.18.txt"), "r");
	ck_assert_msg(f != NULL, "no baseline at %s", path);
	int pass = 0, rejected = 0, bad = 0;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		bool is_pass = !strncmp(line, "PASS ", 5);
		if (!is_pass && strncmp(line, "FAIL ", 5))
			continue;
		char *name = line + 5, *why = strchr(name, ':');
		if (why)
			*why++ = '\0';
		char rel[1200];
		snprintf(rel, sizeof(rel), "conformance/tests/%s.data", name);
		struct bpfvm_conf_test t;
		ck_assert_msg(!bpfvm_conf_parse(shared(path, sizeof(path), rel), &t,
						err, sizeof(err)), "%s: %s", name, err);
		uint64_t r0 = 0;
		int e = conf_run(&t, &r0, log, sizeof(log));
		if (is_pass) {
			bool ok = !e && (!t.has_result || r0 == t.result);
			pass += ok;
			if (!ok)
				fprintf(stderr, "MISMATCH %s: err %d r0 %#llx, want %#llx\n%s\n",
					name, e, (unsigned long long)r0,
					(unsigned long long)t.result, log);
		} else {
			const char *want = why ? strstr(why, "Invalid argument: ") : NULL;
			ck_assert_ptr_nonnull(want);
			want += strlen("Invalid argument: ");
			bool ok = e == -EINVAL && log_has(log, want);
			rejected += ok;
			if (!ok)
				fprintf(stderr, "MISMATCH %s: err %d, kernel EINVAL \"%s\"\n%s\n",
					name, e, want, log);
		}
		bad += e == -ENOMEM;
		bpfvm_conf_free(&t);
	}
	fclose(f);
	printf("conformance through bpfvm_bpf: %d pass, %d rejected as the kernel\n",
	       pass, rejected);
	ck_assert_int_eq(pass, 300);
	ck_assert_int_eq(rejected, 13);
	ck_assert_int_eq(bad, 0);
}
END_TEST

/* ---- the bench programs: accepted as XDP, the .meta retval -------------- */

struct bench {
	char name[64], input[64];
	struct { char type[16]; uint32_t ks, vs, max; } map[8];
	int nmaps;
	struct { uint32_t insn, map; } reloc[32];
	int nrelocs;
	uint32_t retval;
};

static bool bench_meta(const char *name, struct bench *b)
{
	char path[4096], rel[128], line[256];
	snprintf(rel, sizeof(rel), "bench/%s.meta", name);
	FILE *f = fopen(shared(path, sizeof(path), rel), "r");
	if (!f)
		return false;
	memset(b, 0, sizeof(*b));
	snprintf(b->name, sizeof(b->name), "%s", name);
	while (fgets(line, sizeof(line), f)) {
		int i = b->nmaps, r = b->nrelocs;
		unsigned long v;
		if (sscanf(line, "input %63s", b->input) == 1)
			continue;
		if (sscanf(line, "retval %lx", &v) == 1)
			b->retval = (uint32_t)v;
		else if (i < 8 && sscanf(line, "map %*d %*s %15s %u %u %u", b->map[i].type,
					 &b->map[i].ks, &b->map[i].vs, &b->map[i].max) == 4)
			b->nmaps++;
		else if (r < 32 && sscanf(line, "reloc %u map %u", &b->reloc[r].insn,
					  &b->reloc[r].map) == 2)
			b->nrelocs++;
	}
	fclose(f);
	return true;
}

static const char *const bench_names[] = {
	"collatz", "switchy", "csum", "pktcmp", "callchain", "hashmap",
};

/* Load bench program `name` through call (maps created there, ld_imm64
 * descriptors patched): the fd, and *maps the map fds to close. */
static int bench_load(bpfk_fn call, const struct bench *b, int *maps,
		      char *log, size_t loglen)
{
	char rel[128];
	size_t len;
	snprintf(rel, sizeof(rel), "bench/%s.bin", b->name);
	struct bpf_insn *p = read_shared(rel, &len);
	for (int i = 0; i < b->nmaps; i++) {
		uint32_t t = !strcmp(b->map[i].type, "hash") ? BPF_MAP_TYPE_HASH
							     : BPF_MAP_TYPE_ARRAY;
		maps[i] = map_create(call, t, b->map[i].ks, b->map[i].vs, b->map[i].max);
		ck_assert_int_ge(maps[i], 0);
	}
	for (int r = 0; r < b->nrelocs; r++) {
		ck_assert_uint_lt(b->reloc[r].insn, len / 8);
		p[b->reloc[r].insn].src_reg = BPF_PSEUDO_MAP_FD;
		p[b->reloc[r].insn].imm = maps[b->reloc[r].map];
	}
	struct load l = { .type = BPF_PROG_TYPE_XDP, .log_level = log ? 1 : 0,
			  .log = log, .log_size = log ? (uint32_t)loglen : 0 };
	int fd = prog_load(call, p, len / 8, &l);
	free(p);
	return fd;
}

START_TEST(bench_programs_accepted)
{
	static char log[1 << 20];
	for (size_t i = 0; i < LEN(bench_names); i++) {
		struct bench b;
		int maps[8];
		ck_assert_msg(bench_meta(bench_names[i], &b), "%s.meta", bench_names[i]);
		log[0] = '\0';
		int fd = bench_load(bpfk_vcall, &b, maps, log, sizeof(log));
		ck_assert_msg(fd >= 0, "%s rejected (%d):\n%s", b.name, fd,
			      log + (strlen(log) > 2000 ? strlen(log) - 2000 : 0));
		char rel[128];
		size_t len;
		snprintf(rel, sizeof(rel), "bench/%s", b.input);
		uint8_t *pkt = read_shared(rel, &len);
		struct run r = { .data = pkt, .size = (uint32_t)len };
		ck_assert_int_eq(test_run(bpfk_vcall, fd, &r), 0);
		ck_assert_msg(r.retval == b.retval, "%s: retval %#x, .meta %#x",
			      b.name, r.retval, b.retval);
		free(pkt);
		close_fd(bpfk_vcall, fd);
		for (int m = 0; m < b.nmaps; m++)
			close_fd(bpfk_vcall, maps[m]);
	}
}
END_TEST

/* ---- the log and its errno rules ----------------------------------------- */

/* A small XDP program with a branch: state lines at level 2. */
static const struct bpf_insn small_xdp[] = {
	LDX(W, 2, 1, 0), LDX(W, 3, 1, 4), MOV64_REG(4, 2), ADD64_IMM(4, 1),
	JGT_REG(4, 3, 2), LDX(B, 0, 2, 0), EXIT(), MOV64_IMM(0, 2), EXIT(),
};

#define STATS "processed 9 insns (limit 1000000) max_states_per_insn 0 " \
	"total_states 1 peak_states 1 mark_read 0\n"

/* What each level shows (read off Linux 6.18 for small_xdp): 1 keeps only
 * the statistics of an accepted program (the log is reset once it is
 * accepted; log_true_size still counts what went by), 2 the instructions
 * and states, 4 the statistics without instructions. */
START_TEST(log_levels)
{
	static char log[1 << 16];
	struct load l = { .type = BPF_PROG_TYPE_XDP, .log = log,
			  .log_size = sizeof(log) };
	for (uint32_t lvl = 1; lvl <= 4; lvl <<= 1) {
		l.log_level = lvl;
		memset(log, 'x', sizeof(log));
		int fd = prog_load(bpfk_vcall, small_xdp, LEN(small_xdp), &l);
		ck_assert_msg(fd >= 0, "level %u: %d\n%s", lvl, fd, log);
		close_fd(bpfk_vcall, fd);
		size_t len = strlen(log);
		ck_assert_msg(len >= strlen(STATS) &&
			      !strcmp(log + len - strlen(STATS), STATS),
			      "level %u: no stats line at the end:\n%s", lvl, log);
		if (lvl == 1)
			ck_assert_msg(!strcmp(log, STATS) && l.log_true_size > len + 1,
				      "level 1 (true size %u):\n%s", l.log_true_size, log);
		else
			ck_assert_uint_eq(l.log_true_size, len + 1);
		ck_assert_msg(!strstr(log, "0: (61) r2 = *(u32 *)(r1 +0)") ==
			      (lvl != 2), "level %u:\n%s", lvl, log);
		ck_assert_msg(!strstr(log, "0: R1=ctx() R10=fp0\n") == (lvl != 2),
			      "level %u:\n%s", lvl, log);
	}
}
END_TEST

/* The kernel's bpf_vlog_init / bpf_vlog_finalize rules. */
START_TEST(log_errno_rules)
{
	static char log[1 << 16];
	/* a buffer without a level, an unknown level bit */
	struct load l = { .type = BPF_PROG_TYPE_XDP, .log = log, .log_size = 1024 };
	ck_assert_int_eq(prog_load(bpfk_vcall, small_xdp, LEN(small_xdp), &l), -EINVAL);
	l.log_level = 16; /* past BPF_LOG_FIXED (8) */
	ck_assert_int_eq(prog_load(bpfk_vcall, small_xdp, LEN(small_xdp), &l), -EINVAL);
	l = (struct load){ .type = BPF_PROG_TYPE_XDP, .log = log };
	l.log_level = 1; /* size 0 with a buffer */
	ck_assert_int_eq(prog_load(bpfk_vcall, small_xdp, LEN(small_xdp), &l), -EINVAL);
	/* a level without a buffer: no log, a normal load */
	l = (struct load){ .type = BPF_PROG_TYPE_XDP, .log_level = 1 };
	int fd = prog_load(bpfk_vcall, small_xdp, LEN(small_xdp), &l);
	ck_assert_int_ge(fd, 0);
	close_fd(bpfk_vcall, fd);
	/* too small: ENOSPC after a whole verification, the size needed in
	 * log_true_size, the buffer NUL-terminated */
	l = (struct load){ .type = BPF_PROG_TYPE_XDP, .log_level = 2, .log = log,
			   .log_size = 128 };
	memset(log, 'x', sizeof(log));
	ck_assert_int_eq(prog_load(bpfk_vcall, small_xdp, LEN(small_xdp), &l), -ENOSPC);
	ck_assert_uint_gt(l.log_true_size, 128);
	ck_assert_uint_eq(strlen(log), 127);
	uint32_t need = l.log_true_size;
	l.log_size = need;
	fd = prog_load(bpfk_vcall, small_xdp, LEN(small_xdp), &l);
	ck_assert_int_ge(fd, 0);
	close_fd(bpfk_vcall, fd);
	ck_assert_uint_eq(strlen(log) + 1, need);
	/* no minimum size: 20 bytes at level 1 are ENOSPC too */
	l = (struct load){ .type = BPF_PROG_TYPE_XDP, .log_level = 1, .log = log,
			   .log_size = 20 };
	ck_assert_int_eq(prog_load(bpfk_vcall, small_xdp, LEN(small_xdp), &l), -ENOSPC);
	ck_assert_uint_gt(l.log_true_size, 20);
	/* a rejection: its errno and message */
	static const struct bpf_insn bad[] = { LDX(W, 0, 1, 4000), EXIT() };
	l = (struct load){ .type = BPF_PROG_TYPE_XDP, .log_level = 1, .log = log,
			   .log_size = sizeof(log) };
	ck_assert_int_eq(prog_load(bpfk_vcall, bad, LEN(bad), &l), -EACCES);
	ck_assert_msg(strstr(log, "invalid bpf_context access off=4000 size=4\n"), "%s", log);
	/* unknown program type, an attach type cgroup_skb does not take */
	l = (struct load){ .type = 200 };
	ck_assert_int_eq(prog_load(bpfk_vcall, small_xdp, LEN(small_xdp), &l), -EINVAL);
	l = (struct load){ .type = BPF_PROG_TYPE_CGROUP_SKB, .attach = 40 };
	ck_assert_int_eq(prog_load(bpfk_vcall, bad, LEN(bad), &l), -EINVAL);
}
END_TEST

/* Drop "verification time N usec" (level 4): a clock, not a decision. */
static void drop_time(char *log)
{
	char *t = strstr(log, "verification time ");
	if (t) {
		char *nl = strchr(t, '\n');
		memmove(t, nl ? nl + 1 : t + strlen(t), strlen(nl ? nl + 1 : t) + 1);
	}
}

/* The same log as the kernel's, byte for byte, at every level. */
START_TEST(log_same_as_kernel)
{
	if (!kernel_here("log_same_as_kernel"))
		return;
	static char klog[1 << 16], vlog[1 << 16];
	static const struct bpf_insn bad[] = { LDX(W, 0, 1, 4000), EXIT() };
	const struct { const struct bpf_insn *p; size_t n; } progs[] = {
		{ small_xdp, LEN(small_xdp) }, { bad, LEN(bad) },
	};
	int diffs = 0;
	for (size_t i = 0; i < LEN(progs); i++)
		for (uint32_t lvl = 1; lvl <= 4; lvl <<= 1) {
			struct load k = { .type = BPF_PROG_TYPE_XDP, .log_level = lvl,
					  .log = klog, .log_size = sizeof(klog) };
			struct load v = k;
			v.log = vlog;
			int kf = prog_load(bpfk_kcall, progs[i].p, progs[i].n, &k);
			int vf = prog_load(bpfk_vcall, progs[i].p, progs[i].n, &v);
			ck_assert_msg((kf >= 0) == (vf >= 0) && (kf >= 0 || kf == vf),
				      "prog %zu level %u: kernel %d, bpfvm %d", i, lvl, kf, vf);
			close_fd(bpfk_kcall, kf);
			close_fd(bpfk_vcall, vf);
			drop_time(klog);
			drop_time(vlog);
			/* level 4's clock line makes its size vary */
			if (lvl != 4 && k.log_true_size != v.log_true_size) {
				diffs++;
				fprintf(stderr, "prog %zu level %u: log_true_size kernel %u, bpfvm %u\n",
					i, lvl, k.log_true_size, v.log_true_size);
			}
			if (strcmp(klog, vlog)) {
				diffs++;
				fprintf(stderr, "prog %zu level %u:\nkernel:\n%s\nbpfvm:\n%s\n",
					i, lvl, klog, vlog);
			}
		}
	ck_assert_int_eq(diffs, 0);
}
END_TEST

/* ---- skb and xdp programs: PROG_LOAD + PROG_TEST_RUN against the kernel -- */

struct prog_case {
	const char *name;
	uint32_t type;
	struct bpf_insn insns[16];
	size_t n;
};

#define SKB(f) ((int16_t)offsetof(struct __sk_buff, f))
#define XDP(f) ((int16_t)offsetof(struct xdp_md, f))

static const struct prog_case run_cases[] = {
	{ "sockfilter len", BPF_PROG_TYPE_SOCKET_FILTER,
	  { LDX(W, 0, 1, SKB(len)), EXIT() }, 2 },
	{ "sockfilter ld_abs", BPF_PROG_TYPE_SOCKET_FILTER,
	  { MOV64_REG(6, 1), LD_ABS(B, 0), MOV64_REG(7, 0), LD_ABS(H, 2),
	    ADD64_REG(0, 7), EXIT() }, 6 },
	{ "tc protocol + first byte", BPF_PROG_TYPE_SCHED_CLS,
	  { LDX(W, 2, 1, SKB(data)), LDX(W, 3, 1, SKB(data_end)),
	    LDX(W, 5, 1, SKB(protocol)), MOV64_REG(4, 2), ADD64_IMM(4, 15),
	    MOV64_IMM(0, 0), JGT_REG(4, 3, 3), LDX(B, 0, 2, 14),
	    ADD64_REG(0, 5), EXIT(), MOV64_IMM(0, 99), EXIT() }, 12 },
	{ "tc mark and cb", BPF_PROG_TYPE_SCHED_CLS,
	  { ST(W, 1, SKB(mark), 7), ST(W, 1, SKB(cb[2]), 5),
	    LDX(W, 0, 1, SKB(mark)), LDX(W, 2, 1, SKB(cb[2])),
	    ADD64_REG(0, 2), LDX(W, 2, 1, SKB(len)), ADD64_REG(0, 2), EXIT() }, 8 },
	{ "xdp write packet", BPF_PROG_TYPE_XDP,
	  { LDX(W, 2, 1, XDP(data)), LDX(W, 3, 1, XDP(data_end)), MOV64_REG(4, 2),
	    ADD64_IMM(4, 4), MOV64_IMM(0, 1), JGT_REG(4, 3, 3),
	    ST(H, 2, 1, 0x4242), LDX(B, 0, 2, 0), ADD64_IMM(0, 0x100), EXIT() }, 10 },
	{ "xdp ifindex and data_end - data", BPF_PROG_TYPE_XDP,
	  { LDX(W, 2, 1, XDP(data)), LDX(W, 3, 1, XDP(data_end)),
	    LDX(W, 0, 1, XDP(ingress_ifindex)), I(BPF_ALU64 | BPF_LSH | BPF_K, 0, 0, 0, 16),
	    I(BPF_ALU64 | BPF_SUB | BPF_X, 3, 2, 0, 0), ADD64_REG(0, 3), EXIT() }, 7 },
};

START_TEST(test_runs_as_kernel)
{
	if (!kernel_here("test_runs_as_kernel"))
		return;
	uint8_t pkt[64];
	for (size_t i = 0; i < sizeof(pkt); i++)
		pkt[i] = (uint8_t)(i * 7 + 1);
	pkt[12] = 0x08; /* ETH_P_IP */
	pkt[13] = 0x00;
	for (size_t c = 0; c < LEN(run_cases); c++) {
		const struct prog_case *pc = &run_cases[c];
		struct run r[2];
		int fd[2], err[2];
		bpfk_fn calls[2] = { bpfk_kcall, bpfk_vcall };
		for (int w = 0; w < 2; w++) {
			char log[4096] = "";
			struct load l = { .type = pc->type, .log_level = 1, .log = log,
					  .log_size = sizeof(log) };
			fd[w] = prog_load(calls[w], pc->insns, pc->n, &l);
			ck_assert_msg(fd[w] >= 0, "%s: %s rejects (%d):\n%s", pc->name,
				      w ? "bpfvm" : "kernel", fd[w], log);
			memset(&r[w], 0, sizeof(r[w]));
			r[w].data = pkt;
			r[w].size = sizeof(pkt);
			err[w] = test_run(calls[w], fd[w], &r[w]);
			close_fd(calls[w], fd[w]);
		}
		ck_assert_msg(err[0] == err[1] && r[0].retval == r[1].retval &&
			      r[0].size_out == r[1].size_out,
			      "%s: kernel %d retval %#x size %u, bpfvm %d retval %#x size %u",
			      pc->name, err[0], r[0].retval, r[0].size_out, err[1],
			      r[1].retval, r[1].size_out);
		ck_assert_msg(!memcmp(r[0].out, r[1].out, r[0].size_out),
			      "%s: data_out differs", pc->name);
	}
}
END_TEST

/* ---- the verifier corpus, replayed through bpfvm_bpf --------------------- */

/* ../shared/verifier-corpus (FORMAT.md): each program loaded with its
 * type, attach type, flags and maps as the selftest driver makes them,
 * its verdict compared with Linux 6.18's and, when both accept, the
 * retvals of its test runs.  Tests whose maps bpfvm cannot create are
 * counted apart (setup errors), not compared. */

struct corpus_test {
	char *id, *type, *attach, *flags, *insns, *fixups, *runs, *skip;
};

static void parse_corpus(char *line, struct corpus_test *t)
{
	char *f[32];
	size_t n = tu_split(line, '\t', f, 32);
	memset(t, 0, sizeof(*t));
	for (size_t i = 0; i < n; i++) {
		char *v = strchr(f[i], '=');
		if (!v)
			continue;
		*v++ = '\0';
		/* no field we read holds an escape */
		char **slot = !strcmp(f[i], "id") ? &t->id :
			      !strcmp(f[i], "prog_type") ? &t->type :
			      !strcmp(f[i], "attach_type") ? &t->attach :
			      !strcmp(f[i], "prog_flags") ? &t->flags :
			      !strcmp(f[i], "insns") ? &t->insns :
			      !strcmp(f[i], "fixups") ? &t->fixups :
			      !strcmp(f[i], "runs") ? &t->runs :
			      !strcmp(f[i], "skip") ? &t->skip : NULL;
		if (slot)
			*slot = v;
	}
}

static size_t unhex(const char *hex, uint8_t *out, size_t max)
{
	size_t n = strlen(hex) / 2;
	ck_assert_uint_le(n, max);
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		ck_assert(sscanf(hex + 2 * i, "%2x", &v) == 1);
		out[i] = (uint8_t)v;
	}
	return n;
}

struct corpus_map {
	const char *name;
	uint32_t type, key, value, max, flags;
};

static const struct corpus_map corpus_maps[] = {
	{ "map_hash_8b", BPF_MAP_TYPE_HASH, 8, 8, 1, BPF_F_NO_PREALLOC },
	{ "map_hash_16b", BPF_MAP_TYPE_HASH, 8, 16, 1, BPF_F_NO_PREALLOC },
	{ "map_hash_48b", BPF_MAP_TYPE_HASH, 8, 48, 1, BPF_F_NO_PREALLOC },
	{ "map_array_48b", BPF_MAP_TYPE_ARRAY, 4, 48, 1, 0 },
	{ "map_array_ro", BPF_MAP_TYPE_ARRAY, 4, 48, 1, BPF_F_RDONLY_PROG },
	{ "map_array_wo", BPF_MAP_TYPE_ARRAY, 4, 48, 1, BPF_F_WRONLY_PROG },
	{ "map_array_small", BPF_MAP_TYPE_ARRAY, 4, 1, 1, 0 },
	{ "prog1", BPF_MAP_TYPE_PROG_ARRAY, 4, 4, 4, 0 },
	{ "prog2", BPF_MAP_TYPE_PROG_ARRAY, 4, 4, 8, 0 },
	{ "map_in_map", BPF_MAP_TYPE_ARRAY_OF_MAPS, 4, 4, 1, 0 },
	/* sizeof(struct bpf_cgroup_storage_key): 12 bytes of fields, padded */
	{ "cgroup_storage", BPF_MAP_TYPE_CGROUP_STORAGE, 16, 64, 0, 0 },
	{ "percpu_cgroup_storage", BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE, 16, 64, 0, 0 },
	{ "map_sockmap", BPF_MAP_TYPE_SOCKMAP, 4, 4, 1, 0 },
	{ "map_sockhash", BPF_MAP_TYPE_SOCKHASH, 4, 4, 1, 0 },
	{ "map_xskmap", BPF_MAP_TYPE_XSKMAP, 4, 4, 1, 0 },
	{ "map_stacktrace", BPF_MAP_TYPE_STACK_TRACE, 4, 8, 1, 0 },
	{ "map_event_output", BPF_MAP_TYPE_PERF_EVENT_ARRAY, 4, 4, 1, 0 },
	{ "map_reuseport_array", BPF_MAP_TYPE_REUSEPORT_SOCKARRAY, 4, 8, 1, 0 },
	{ "map_ringbuf", BPF_MAP_TYPE_RINGBUF, 0, 0, 4096, 0 },
	/* with bpfk_spin_lock_btf: value struct val (type 3), key int (type 1) */
	{ "map_spin_lock", BPF_MAP_TYPE_ARRAY, 4, 8, 1, 0 },
	{ "sk_storage_map", BPF_MAP_TYPE_SK_STORAGE, 4, 8, 0, BPF_F_NO_PREALLOC },
};

#define CORPUS_FDS 32

/* The selftest driver's tail-call targets (create_prog_array). */
static int corpus_prog(uint32_t type, uint32_t attach, int array, int slot,
		       int ret)
{
	struct bpf_insn p[] = {
		MOV64_IMM(3, slot),
		I(BPF_LD | BPF_IMM | BPF_DW, 2, BPF_PSEUDO_MAP_FD, 0, array),
		I(0, 0, 0, 0, 0),
		I(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_tail_call),
		MOV64_IMM(0, ret), EXIT(),
	};
	struct load l = { .type = type, .attach = attach };
	return array < 0 ? prog_load(bpfk_vcall, p + 4, 2, &l) : prog_load(bpfk_vcall, p, LEN(p), &l);
}

/* One map of kind `name`, set up as the driver does; its fd, or -1. */
static int corpus_map(const char *name, uint32_t type, uint32_t attach,
		      int *fds, int *nfds)
{
	const struct corpus_map *k = NULL;
	for (size_t i = 0; i < LEN(corpus_maps); i++)
		if (!strcmp(corpus_maps[i].name, name))
			k = &corpus_maps[i];
	if (!k || *nfds + 5 > CORPUS_FDS)
		return -1;
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.map_type = k->type;
	a.key_size = k->key;
	a.value_size = k->value;
	a.max_entries = k->max;
	a.map_flags = k->flags;
	if (!strcmp(name, "map_spin_lock") || !strcmp(name, "sk_storage_map")) {
		int btf = bpfk_spin_lock_btf(bpfk_vcall);
		if (btf < 0)
			return -1;
		fds[(*nfds)++] = btf;
		a.btf_fd = (uint32_t)btf;
		a.btf_key_type_id = 1;
		a.btf_value_type_id = 3;
	}
	if (k->type == BPF_MAP_TYPE_ARRAY_OF_MAPS) {
		int in = map_create(bpfk_vcall, BPF_MAP_TYPE_ARRAY, 4, 4, 1);
		if (in < 0)
			return -1;
		fds[(*nfds)++] = in;
		a.inner_map_fd = (uint32_t)in;
	}
	int fd = bpfk_vcall(BPF_MAP_CREATE, &a, sizeof(a));
	if (fd < 0) {
		if (getenv("BPFVM_CORPUS_VERBOSE"))
			printf("SETUP %s: BPF_MAP_CREATE %d\n", name, fd);
		return -1;
	}
	fds[(*nfds)++] = fd;
	uint32_t key = 0;
	if (k->type == BPF_MAP_TYPE_ARRAY && !a.btf_fd) {
		/* struct test_val { index = 28, foo[6] = 0xabcdef12 }, cut */
		uint8_t v[48] = { 28 };
		uint32_t foo6 = 0xabcdef12;
		memcpy(v + 28, &foo6, 4);
		if (map_elem(bpfk_vcall, BPF_MAP_UPDATE_ELEM, fd, &key, v))
			return -1;
	}
	if (k->type == BPF_MAP_TYPE_PROG_ARRAY) {
		uint32_t keys[3] = { k->max == 4 ? 0 : 7, 1, 2 };
		int progs[3] = { corpus_prog(type, attach, -1, 0, 42),
				 corpus_prog(type, attach, fd, 1, 41),
				 corpus_prog(type, attach, -1, 0, 24) };
		for (int i = 0; i < 3; i++) {
			if (progs[i] < 0)
				return -1;
			fds[(*nfds)++] = progs[i];
			if (map_elem(bpfk_vcall, BPF_MAP_UPDATE_ELEM, fd, &keys[i], &progs[i]))
				return -1;
		}
	}
	return fd;
}

struct corpus_stats {
	int total, agree, false_acc, false_rej, setup, runs, runs_same;
	int both_rej, errno_same, log_same;
	int listed, listed_agree; /* the program types only */
};

/* The program types the issue lists (a test of one whose maps cannot be
 * made still counts, as a disagreement). */
static bool listed_type(uint32_t t)
{
	static const uint32_t types[] = {
		BPF_PROG_TYPE_SOCKET_FILTER, BPF_PROG_TYPE_SCHED_CLS,
		BPF_PROG_TYPE_SCHED_ACT, BPF_PROG_TYPE_XDP,
		BPF_PROG_TYPE_CGROUP_SKB, BPF_PROG_TYPE_TRACEPOINT,
		BPF_PROG_TYPE_RAW_TRACEPOINT, BPF_PROG_TYPE_KPROBE,
		BPF_PROG_TYPE_PERF_EVENT,
	};
	for (size_t i = 0; i < LEN(types); i++)
		if (types[i] == t)
			return true;
	return false;
}

/* The truth's log column: the last line that is not a statistic. */
static void last_log_line(const char *log, char *out, size_t max)
{
	const char *best = "", *p = log;
	size_t blen = 0;
	while (*p) {
		const char *e = strchr(p, '\n');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		if (len && strncmp(p, "processed ", 10) &&
		    strncmp(p, "verification time", 17) &&
		    strncmp(p, "stack depth", 11)) {
			best = p;
			blen = len;
		}
		p += len + (e != NULL);
	}
	/* the truth writes an empty log so */
	if (blen)
		snprintf(out, max, "%.*s", (int)blen, best);
	else
		snprintf(out, max, "(empty log)");
}

static void corpus_one(struct corpus_test *t, const char *truth,
		       struct corpus_stats *st, bool verbose)
{
	char *col[8];
	char tline[4096];
	snprintf(tline, sizeof(tline), "%s", truth);
	if (tu_split(tline, '\t', col, 8) < 5 ||
	    (strcmp(col[1], "accept") && strcmp(col[1], "reject")))
		return;
	static uint8_t insns[8 * 4096];
	size_t n = unhex(t->insns ? t->insns : "", insns, sizeof(insns)) / 8;
	uint32_t type = (uint32_t)strtoul(t->type ? t->type : "1", NULL, 0);
	uint32_t attach = (uint32_t)strtoul(t->attach ? t->attach : "0", NULL, 0);
	int fds[CORPUS_FDS], nfds = 0;
	bool setup_ok = true;
	char fix[512];
	snprintf(fix, sizeof(fix), "%s", t->fixups ? t->fixups : "");
	char *groups[16];
	size_t ng = fix[0] ? tu_split(fix, ';', groups, 16) : 0;
	for (size_t g = 0; g < ng && setup_ok; g++) {
		char *colon = strchr(groups[g], ':');
		ck_assert_ptr_nonnull(colon);
		*colon = '\0';
		int fd = corpus_map(groups[g], type, attach, fds, &nfds);
		setup_ok = fd >= 0;
		for (char *p = colon + 1; setup_ok && *p;) {
			size_t idx = strtoul(p, &p, 10);
			if (idx < n) {
				int32_t imm = fd;
				memcpy(insns + idx * 8 + 4, &imm, 4);
			}
			if (*p != ',')
				break;
			p++;
		}
	}
	bool kacc = !strcmp(col[1], "accept");
	bool listed = listed_type(type);
	st->listed += listed;
	if (!setup_ok) {
		st->setup++;
		goto out;
	}
	uint8_t raw[ATTR_SIZE];
	memset(raw, 0, sizeof(raw));
	union bpf_attr *a = (union bpf_attr *)raw;
	a->prog_type = type;
	a->expected_attach_type = attach;
	a->prog_flags = (uint32_t)strtoul(t->flags ? t->flags : "0", NULL, 0);
	a->insns = PTR(insns);
	a->insn_cnt = (uint32_t)n;
	a->license = PTR("GPL");
	static char log[1 << 20];
	log[0] = '\0';
	a->log_level = 1;
	a->log_buf = PTR(log);
	a->log_size = sizeof(log);
	if (getenv("BPFVM_CORPUS_TRACE"))
		fprintf(stderr, "%s\n", t->id);
	int fd = bpfk_vcall(BPF_PROG_LOAD, raw, sizeof(raw));
	bool acc = fd >= 0;
	st->total++;
	st->agree += acc == kacc;
	st->listed_agree += listed && acc == kacc;
	st->false_acc += acc && !kacc;
	st->false_rej += !acc && kacc;
	if (!acc && !kacc) {
		st->both_rej++;
		st->errno_same += -fd == atoi(col[2]);
		char mine[512];
		last_log_line(log, mine, sizeof(mine));
		st->log_same += !strcmp(mine, col[4]);
		if (verbose && strcmp(mine, col[4]))
			printf("LOG %s: kernel '%s', bpfvm '%s'\n", t->id, col[4], mine);
	}
	if (verbose && acc != kacc)
		printf("%s %s (kernel: %s)\n", acc ? "FALSE-ACCEPT" : "FALSE-REJECT",
		       t->id, col[4]);
	if (acc && kacc && t->runs && *t->runs && strcmp(col[3], "-")) {
		/* runs "retval:data;...", truth "retval;..." (* and E: skip) */
		char rbuf[4096], tbuf[1024];
		snprintf(rbuf, sizeof(rbuf), "%s", t->runs);
		snprintf(tbuf, sizeof(tbuf), "%s", col[3]);
		char *rr[64], *tr[64];
		size_t nr = tu_split(rbuf, ';', rr, 64), nt = tu_split(tbuf, ';', tr, 64);
		for (size_t i = 0; i < nr && i < nt; i++) {
			if (tr[i][0] == '*' || tr[i][0] == 'E')
				continue;
			char *data = strchr(rr[i], ':');
			ck_assert_ptr_nonnull(data);
			uint8_t pkt[64];
			struct run r = { .data = pkt,
					 .size = (uint32_t)unhex(data + 1, pkt, sizeof(pkt)) };
			int e = test_run(bpfk_vcall, fd, &r);
			bool same = !e && r.retval == (uint32_t)strtoul(tr[i], NULL, 10);
			st->runs++;
			st->runs_same += same;
			if (verbose && !same)
				printf("RETVAL %s run %zu: kernel %s, bpfvm %d %u\n", t->id,
				       i, tr[i], e, r.retval);
		}
	}
	close_fd(bpfk_vcall, fd);
out:
	for (int i = nfds - 1; i >= 0; i--)
		close_fd(bpfk_vcall, fds[i]);
}

/* The object-holding types bpfvm creates empty (maps/misc_maps.c): each
 * create attr answered as the kernel answers it, kernel asked live. */
START_TEST(misc_map_create_as_kernel)
{
	if (!kernel_here("misc_map_create_as_kernel"))
		return;
	static const struct {
		uint32_t type, key, value, max, flags;
	} c[] = {
		{ BPF_MAP_TYPE_SOCKMAP, 4, 4, 1, 0 },
		{ BPF_MAP_TYPE_SOCKMAP, 4, 8, 1, 0 },
		{ BPF_MAP_TYPE_SOCKMAP, 4, 2, 1, 0 },
		{ BPF_MAP_TYPE_SOCKMAP, 8, 4, 1, 0 },
		{ BPF_MAP_TYPE_SOCKMAP, 4, 4, 0, 0 },
		{ BPF_MAP_TYPE_SOCKMAP, 4, 4, 1, BPF_F_NO_PREALLOC },
		{ BPF_MAP_TYPE_SOCKHASH, 4, 4, 1, 0 },
		{ BPF_MAP_TYPE_SOCKHASH, 0, 4, 1, 0 },
		{ BPF_MAP_TYPE_SOCKHASH, 600, 4, 1, 0 },
		{ BPF_MAP_TYPE_XSKMAP, 4, 4, 1, 0 },
		{ BPF_MAP_TYPE_XSKMAP, 4, 8, 1, 0 },
		{ BPF_MAP_TYPE_STACK_TRACE, 4, 8, 1, 0 },
		{ BPF_MAP_TYPE_STACK_TRACE, 4, 12, 1, 0 },
		{ BPF_MAP_TYPE_STACK_TRACE, 4, 8 * 128, 1, 0 },
		{ BPF_MAP_TYPE_STACK_TRACE, 4, 32, 1, BPF_F_STACK_BUILD_ID },
		{ BPF_MAP_TYPE_STACK_TRACE, 4, 40, 1, BPF_F_STACK_BUILD_ID },
		{ BPF_MAP_TYPE_PERF_EVENT_ARRAY, 4, 4, 1, 0 },
		{ BPF_MAP_TYPE_PERF_EVENT_ARRAY, 4, 4, 1, BPF_F_PRESERVE_ELEMS },
		{ BPF_MAP_TYPE_PERF_EVENT_ARRAY, 4, 8, 1, 0 },
		{ BPF_MAP_TYPE_PERF_EVENT_ARRAY, 4, 4, 1, BPF_F_RDONLY_PROG },
		{ BPF_MAP_TYPE_REUSEPORT_SOCKARRAY, 4, 8, 1, 0 },
		{ BPF_MAP_TYPE_REUSEPORT_SOCKARRAY, 4, 4, 1, 0 },
		{ BPF_MAP_TYPE_REUSEPORT_SOCKARRAY, 4, 2, 1, 0 },
		{ BPF_MAP_TYPE_CGROUP_STORAGE, 16, 64, 0, 0 },
		{ BPF_MAP_TYPE_CGROUP_STORAGE, 12, 64, 0, 0 },
		{ BPF_MAP_TYPE_CGROUP_STORAGE, 8, 64, 0, 0 },
		{ BPF_MAP_TYPE_CGROUP_STORAGE, 4, 64, 0, 0 },
		{ BPF_MAP_TYPE_CGROUP_STORAGE, 16, 64, 1, 0 },
		{ BPF_MAP_TYPE_CGROUP_STORAGE, 16, 65407, 0, 0 },
		{ BPF_MAP_TYPE_CGROUP_STORAGE, 16, 65408, 0, 0 },
		{ BPF_MAP_TYPE_CGROUP_STORAGE, 16, 0, 0, 0 },
		{ BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE, 16, 8192, 0, 0 },
		{ BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE, 16, 32768, 0, 0 },
		{ BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE, 16, 32769, 0, 0 },
		{ BPF_MAP_TYPE_SK_STORAGE, 4, 8, 0, BPF_F_NO_PREALLOC }, /* no BTF */
	};
	for (size_t i = 0; i < LEN(c); i++) {
		int r[2];
		bpfk_fn calls[2] = { bpfk_kcall, bpfk_vcall };
		for (int w = 0; w < 2; w++) {
			union bpf_attr a;
			memset(&a, 0, sizeof(a));
			a.map_type = c[i].type;
			a.key_size = c[i].key;
			a.value_size = c[i].value;
			a.max_entries = c[i].max;
			a.map_flags = c[i].flags;
			r[w] = calls[w](BPF_MAP_CREATE, &a, sizeof(a));
			if (r[w] >= 0)
				close_fd(calls[w], r[w]);
		}
		ck_assert_msg((r[0] >= 0) == (r[1] >= 0) && (r[0] >= 0 || r[0] == r[1]),
			      "case %zu (type %u): kernel %d, bpfvm %d", i,
			      c[i].type, r[0], r[1]);
	}
}
END_TEST

/* The same maps from user space, empty, given a map descriptor where a
 * socket or perf event belongs: every command answers as the kernel's. */
START_TEST(misc_map_elems_as_kernel)
{
	if (!kernel_here("misc_map_elems_as_kernel"))
		return;
	static const struct { uint32_t type, key, value, max; } c[] = {
		{ BPF_MAP_TYPE_SOCKMAP, 4, 4, 1 },
		{ BPF_MAP_TYPE_SOCKMAP, 4, 8, 1 },
		{ BPF_MAP_TYPE_SOCKHASH, 4, 4, 1 },
		{ BPF_MAP_TYPE_XSKMAP, 4, 4, 1 },
		{ BPF_MAP_TYPE_STACK_TRACE, 4, 8, 1 },
		{ BPF_MAP_TYPE_PERF_EVENT_ARRAY, 4, 4, 1 },
		{ BPF_MAP_TYPE_REUSEPORT_SOCKARRAY, 4, 8, 1 },
		{ BPF_MAP_TYPE_CGROUP_STORAGE, 16, 64, 0 },
	};
	static const int cmds[] = { BPF_MAP_LOOKUP_ELEM, BPF_MAP_UPDATE_ELEM,
				    BPF_MAP_DELETE_ELEM, BPF_MAP_GET_NEXT_KEY };
	for (size_t i = 0; i < LEN(c); i++) {
		int r[2][LEN(cmds) + 1];
		bpfk_fn calls[2] = { bpfk_kcall, bpfk_vcall };
		for (int w = 0; w < 2; w++) {
			int fd = map_create(calls[w], c[i].type, c[i].key,
					    c[i].value, c[i].max);
			ck_assert_int_ge(fd, 0);
			uint8_t key[16] = { 0 }, val[64] = { 0 }, next[16];
			memcpy(val, &fd, sizeof(fd));
			for (size_t k = 0; k < LEN(cmds); k++)
				r[w][k] = map_elem(calls[w], cmds[k], fd, key,
						   cmds[k] == BPF_MAP_GET_NEXT_KEY ? next : val);
			r[w][LEN(cmds)] = map_elem(calls[w], BPF_MAP_GET_NEXT_KEY,
						   fd, NULL, next);
			close_fd(calls[w], fd);
		}
		for (size_t k = 0; k <= LEN(cmds); k++)
			ck_assert_msg(r[0][k] == r[1][k], "type %u cmd %zu: kernel %d, "
				      "bpfvm %d", c[i].type, k, r[0][k], r[1][k]);
	}
}
END_TEST

START_TEST(verifier_corpus_through_bpf)
{
	char *corpus = read_shared("verifier-corpus/corpus.tsv", NULL);
	char *truth = read_shared("verifier-corpus/ground-truth-6.18.tsv", NULL);
	bool verbose = getenv("BPFVM_CORPUS_VERBOSE") != NULL;
	struct corpus_stats st = { 0 };
	/* the truth's lines by id: both files list the tests in one order */
	char *tl = truth, *cl = corpus;
	while (cl && *cl) {
		char *next = strchr(cl, '\n');
		if (next)
			*next++ = '\0';
		if (*cl && *cl != '#') {
			struct corpus_test t;
			parse_corpus(cl, &t);
			ck_assert_ptr_nonnull(t.id);
			/* find its truth line */
			char pat[300];
			snprintf(pat, sizeof(pat), "\n%s\t", t.id);
			char *hit = strstr(tl - 1 > truth ? tl - 1 : truth, pat);
			if (!hit)
				hit = strstr(truth, pat);
			if (hit && !(t.skip && *t.skip)) {
				char *end = strchr(hit + 1, '\n');
				size_t len = end ? (size_t)(end - hit - 1) : strlen(hit + 1);
				char line[4096];
				snprintf(line, sizeof(line), "%.*s", (int)len, hit + 1);
				corpus_one(&t, line, &st, verbose);
				tl = end ? end : tl;
			}
		}
		cl = next;
	}
	/* every replayable test counts: one whose maps or BTF bpfvm cannot
	 * make is a disagreement */
	int all = st.total + st.setup;
	double pct = 100.0 * st.agree / (all ? all : 1);
	printf("corpus through bpfvm_bpf: %d replayable, %d agree (%.2f%%), "
	       "%d false accepts, %d false rejects, %d not set up (maps/BTF "
	       "bpfvm lacks); issue's types: %d of %d agree (%.2f%%); errno as "
	       "the kernel's in %d of %d rejections, last log line in %d; test "
	       "runs: %d of %d retvals as the kernel's\n",
	       all, st.agree, pct, st.false_acc, st.false_rej, st.setup,
	       st.listed_agree, st.listed,
	       100.0 * st.listed_agree / (st.listed ? st.listed : 1),
	       st.errno_same, st.both_rej, st.log_same, st.runs_same, st.runs);
	free(corpus);
	free(truth);
	/* the ratchet: raise the file when agreement rises, never lower it */
	const char *dir = getenv("BPFVM_TESTS");
	char rpath[4096];
	snprintf(rpath, sizeof(rpath), "%s/prog_load_corpus_ratchet.txt",
		 dir ? dir : "tests");
	FILE *rfp = fopen(rpath, "r");
	ck_assert_msg(rfp != NULL, "cannot open %s", rpath);
	double floor = 0;
	ck_assert(fscanf(rfp, "%lf", &floor) == 1);
	fclose(rfp);
	ck_assert_msg(pct >= floor, "agreement %.2f%% fell below the ratchet "
		      "%.2f%% (tests/prog_load_corpus_ratchet.txt)", pct, floor);
	ck_assert_int_ge(all, 1000);
	ck_assert_int_le(st.false_acc * 100, all);
	ck_assert_int_ge(st.errno_same * 100, st.both_rej * 99);
	/* every run as the kernel's (608 of 608), since the skb and socket
	 * helpers (vm/skb_helpers.c) and LD_IND at SKF_LL_OFF */
	ck_assert_int_eq(st.runs_same, st.runs);
}
END_TEST

/* ctx_in / ctx_out of a tc program: the fields a caller may set go in,
 * the program's stores come out, as the kernel's. */
START_TEST(test_run_ctx_as_kernel)
{
	if (!kernel_here("test_run_ctx_as_kernel"))
		return;
	static const struct bpf_insn p[] = {
		LDX(W, 2, 1, SKB(mark)), ADD64_IMM(2, 1), STX(W, 1, 2, SKB(mark)),
		LDX(W, 0, 1, SKB(priority)), LDX(W, 3, 1, SKB(cb[4])),
		ADD64_REG(0, 3), ST(W, 1, SKB(cb[0]), 77), EXIT(),
	};
	struct __sk_buff in;
	memset(&in, 0, sizeof(in));
	in.mark = 41;
	in.priority = 1000;
	in.cb[4] = 5;
	uint8_t pkt[64] = { [12] = 0x08 };
	bpfk_fn calls[2] = { bpfk_kcall, bpfk_vcall };
	struct run r[2];
	int err[2];
	for (int w = 0; w < 2; w++) {
		struct load l = { .type = BPF_PROG_TYPE_SCHED_CLS };
		int fd = prog_load(calls[w], p, LEN(p), &l);
		ck_assert_int_ge(fd, 0);
		memset(&r[w], 0, sizeof(r[w]));
		r[w].data = pkt;
		r[w].size = sizeof(pkt);
		r[w].ctx = &in;
		r[w].ctx_size = sizeof(in);
		err[w] = test_run(calls[w], fd, &r[w]);
		close_fd(calls[w], fd);
	}
	ck_assert_int_eq(err[0], 0);
	ck_assert_int_eq(err[1], err[0]);
	ck_assert_uint_eq(r[0].retval, 1005);
	ck_assert_uint_eq(r[1].retval, r[0].retval);
	ck_assert_uint_eq(r[1].ctx_size_out, r[0].ctx_size_out);
	ck_assert_msg(!memcmp(r[0].ctx_out, r[1].ctx_out, sizeof(in)), "ctx_out differs");
	struct __sk_buff out;
	memcpy(&out, r[1].ctx_out, sizeof(out));
	ck_assert_uint_eq(out.mark, 42);
	ck_assert_uint_eq(out.cb[0], 77);
}
END_TEST

/* Types without a test run: ENOTSUPP, as the kernel. */
START_TEST(test_run_enotsupp)
{
	static const struct bpf_insn p[] = { MOV64_IMM(0, 0), EXIT() };
	struct load l = { .type = BPF_PROG_TYPE_KPROBE };
	int fd = prog_load(bpfk_vcall, p, LEN(p), &l);
	ck_assert_int_ge(fd, 0);
	uint8_t pkt[64] = { 0 };
	struct run r = { .data = pkt, .size = sizeof(pkt) };
	ck_assert_int_eq(test_run(bpfk_vcall, fd, &r), -ENOTSUPP);
	close_fd(bpfk_vcall, fd);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("prog_load");
	TCase *tc = tcase_create("prog_load");
	tcase_set_timeout(tc, 170);
	tcase_add_test(tc, conformance_the_kernel_way);
	tcase_add_test(tc, bench_programs_accepted);
	tcase_add_test(tc, log_levels);
	tcase_add_test(tc, log_errno_rules);
	tcase_add_test(tc, log_same_as_kernel);
	tcase_add_test(tc, test_runs_as_kernel);
	tcase_add_test(tc, test_run_ctx_as_kernel);
	tcase_add_test(tc, test_run_enotsupp);
	tcase_add_test(tc, misc_map_create_as_kernel);
	tcase_add_test(tc, misc_map_elems_as_kernel);
	tcase_add_test(tc, verifier_corpus_through_bpf);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	srunner_run_all(sr, CK_ENV);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
