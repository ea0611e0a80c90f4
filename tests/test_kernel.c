/* The kernel as the oracle: every program here runs on the running kernel
 * (bpf(2), tests/kernel_util.c) and on fresh bpfvms in each configuration,
 * and r0 (all 64 bits) and the memory left behind must agree.  Programs: the bpf_conformance vectors
 * the kernel accepts, our own edge cases (tests/kernel_progs/NAME.data,
 * same format, with hand-derived results), and seeded random programs
 * (ALU, stack and packet memory, calls, loops).
 * Without bpf(2) (not root, no CAP_BPF) the test is skipped (exit 77).
 * SPDX-License-Identifier: MIT */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "bpfvm_asm.h"
#include "conformance.h"
#include "insn.h"
#include "kernel_util.h"
#include "vm_internal.h"
#include "testutil.h"

static const char *env_path(char *buf, size_t len, const char *var,
			    const char *rel)
{
	snprintf(buf, len, "%s/%s", tu_env(var, NULL), rel);
	return buf;
}

/* ---- running one program on both sides --------------------------------- */

struct outcome {
	int err;        /* 0 or -errno */
	uint64_t r0;
	char msg[512];  /* why err */
};

/* The last line of a verifier log that says what is wrong, prefixed with
 * the instruction line before it if any: "6: (77) r0 >>= 68 invalid
 * shift 68" (the form of the FAIL lines of kernel-6.18.txt). */
static void log_reason(const char *log, char *out, size_t len)
{
	const char *lines[2] = { "", "" };
	size_t lens[2] = { 0, 0 };
	for (const char *p = log; *p;) {
		const char *e = strchr(p, '\n');
		size_t l = e ? (size_t)(e - p) : strlen(p);
		if (l && strncmp(p, "processed ", 10)) {
			lines[0] = lines[1], lens[0] = lens[1];
			lines[1] = p, lens[1] = l;
		}
		if (!e)
			break;
		p = e + 1;
	}
	size_t d = 0; /* "12: (77) ..." is an instruction line */
	while (d < lens[0] && lines[0][d] >= '0' && lines[0][d] <= '9')
		d++;
	if (d && lens[0] - d >= 3 && !memcmp(lines[0] + d, ": (", 3))
		snprintf(out, len, "%.*s %.*s", (int)lens[0], lines[0],
			 (int)lens[1], lines[1]);
	else
		snprintf(out, len, "%.*s", (int)lens[1], lines[1]);
}

/* Run on the kernel; mem_out (may be NULL) gets the memory afterwards. */
static struct outcome run_kernel(const struct bpfvm_insn *insns, size_t n,
				 const uint8_t *mem, size_t mem_len,
				 uint8_t *mem_out)
{
	char log[1 << 16];
	struct outcome o = { 0 };
	o.err = bpfk_run(insns, n, mem, mem_len, mem_out, &o.r0, log, sizeof(log));
	if (o.err)
		log_reason(log, o.msg, sizeof(o.msg));
	return o;
}

/* bpfvm runs every program in each of its configurations: both dispatch
 * builds, unchecked (as for verified code) and checked. */
static const struct config {
	const char *name;
	enum bpfvm_dispatch dispatch;
	bool checked;
} configs[] = {
	{ "goto", BPFVM_DISPATCH_GOTO, false },
	{ "switch", BPFVM_DISPATCH_SWITCH, false },
	{ "goto checked", BPFVM_DISPATCH_GOTO, true },
	{ "switch checked", BPFVM_DISPATCH_SWITCH, true },
};
#define NCONFIGS (sizeof(configs) / sizeof(configs[0]))

/* Run on a fresh VM set up as c says; mem_out as for run_kernel. */
static struct outcome run_bpfvm(const struct bpfvm_insn *insns, size_t n,
				const uint8_t *mem, size_t mem_len,
				const struct config *c, uint8_t *mem_out)
{
	struct outcome o = { 0 };
	struct bpfvm *vm = bpfvm_create();
	ck_assert_ptr_nonnull(vm);
	bpfvm_set_dispatch(vm, c->dispatch);
	bpfvm_set_checked(vm, c->checked);
	uint8_t *copy = mem_len ? malloc(mem_len) : NULL;
	if (mem_len)
		memcpy(copy, mem, mem_len);
	o.err = bpfvm_load(vm, insns, n);
	if (o.err) {
		snprintf(o.msg, sizeof(o.msg), "load: %s", bpfvm_error(vm));
	} else {
		struct bpfvm_result res;
		o.err = bpfvm_run_mem(vm, copy, mem_len, &res);
		if (!o.err)
			o.err = res.error;
		o.r0 = res.r0;
		if (o.err)
			snprintf(o.msg, sizeof(o.msg), "run: %s (pc %" PRId64 ")",
				 res.msg, res.pc);
	}
	if (mem_out && mem_len)
		memcpy(mem_out, copy, mem_len);
	free(copy);
	bpfvm_destroy(vm);
	return o;
}

/* The first byte where a and b differ, or -1. */
static long first_diff(const uint8_t *a, const uint8_t *b, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (a[i] != b[i])
			return (long)i;
	return -1;
}

/* Compare one program (r0, and the memory it leaves); on disagreement
 * print it and return false. */
static bool cross_check(const char *name, const struct bpfvm_insn *insns,
			size_t n, const uint8_t *mem, size_t mem_len,
			const uint64_t *expect)
{
	uint8_t *kmem = calloc(1, mem_len + 1), *vmem = calloc(1, mem_len + 1);
	ck_assert(kmem && vmem);
	struct outcome k = run_kernel(insns, n, mem, mem_len, kmem), v[NCONFIGS];
	long diff[NCONFIGS];
	bool ok = !k.err && (!expect || k.r0 == *expect);
	for (size_t c = 0; c < NCONFIGS; c++) {
		v[c] = run_bpfvm(insns, n, mem, mem_len, &configs[c], vmem);
		diff[c] = k.err || v[c].err ? -1 : first_diff(kmem, vmem, mem_len);
		ok = ok && !v[c].err && v[c].r0 == k.r0 && diff[c] < 0;
	}
	free(kmem);
	free(vmem);
	if (ok)
		return true;
	fprintf(stderr, "MISMATCH %s:", name);
	if (k.err)
		fprintf(stderr, " kernel error %d (%s)", k.err, k.msg);
	else
		fprintf(stderr, " kernel r0=%#" PRIx64, k.r0);
	for (size_t c = 0; c < NCONFIGS; c++) {
		if (v[c].err)
			fprintf(stderr, ", bpfvm (%s) error %d (%s)", configs[c].name,
				v[c].err, v[c].msg);
		else
			fprintf(stderr, ", bpfvm (%s) r0=%#" PRIx64, configs[c].name,
				v[c].r0);
		if (diff[c] >= 0)
			fprintf(stderr, " memory differs at byte %ld", diff[c]);
	}
	if (expect)
		fprintf(stderr, ", expected %#" PRIx64, *expect);
	fputc('\n', stderr);
	bpfvm_disasm(insns, n, stderr);
	return false;
}

/* ---- kernel_util itself ------------------------------------------------ */

START_TEST(prog_load_log_overflow_is_not_failure)
{
	/* A log too small for level 2 makes the kernel (6.4+) answer
	 * ENOSPC; a good program must still load, a bad one must still fail
	 * with its error, at the end of the log where the kernel keeps it. */
	struct bpfvm_insn good[] = { { .code = 0xb7 }, { .code = 0x95 } };
	struct bpfvm_insn bad[] = { { .code = 0xb7 }, { .code = 0x77, .imm = 64 },
				    { .code = 0x95 } };
	char log[128];
	int fd = bpfk_prog_load(BPFK_PROG_TYPE_XDP, good, 2, 2, log, sizeof(log));
	ck_assert_int_ge(fd, 0);
	close(fd);
	fd = bpfk_prog_load(BPFK_PROG_TYPE_XDP, bad, 3, 2, log, sizeof(log));
	ck_assert_int_eq(fd, -EINVAL);
	ck_assert_msg(strstr(log, "invalid shift 64"), "log: %s", log);
	uint64_t r0 = 0;
	ck_assert_int_eq(bpfk_run_r0(bad, 3, NULL, 0, &r0, log, sizeof(log)), -EINVAL);
	ck_assert_msg(strstr(log, "invalid shift 64"), "log: %s", log);
}
END_TEST

START_TEST(run_returns_r0_and_the_memory)
{
	/* stb [r1+1], 0x42; r0 = r2 << 32 | 7 (all 64 bits come back) */
	struct bpfvm_insn p[] = { { .code = 0x72, .dst_reg = 1, .off = 1, .imm = 0x42 },
				  { .code = 0xbf, .src_reg = 2 },
				  { .code = 0x67, .imm = 32 },
				  { .code = 0x47, .imm = 7 },
				  { .code = 0x95 } };
	const uint8_t mem[3] = { 1, 2, 3 };
	uint8_t out[3] = { 0 };
	uint64_t r0 = 0;
	ck_assert_int_eq(bpfk_run(p, 5, mem, 3, out, &r0, NULL, 0), 0);
	ck_assert_uint_eq(r0, 0x300000007ull);
	ck_assert(out[0] == 1 && out[1] == 0x42 && out[2] == 3 && mem[1] == 2);
}
END_TEST

/* ---- the bpf_conformance vectors, against the kernel 6.18 baseline ----- */

START_TEST(conformance_vectors_agree_with_kernel)
{
	char line[1024], err[512], path[4096];
	FILE *f = fopen(env_path(path, sizeof(path), "BPFVM_SHARED",
				 "conformance/kernel-6.18.txt"), "r");
	ck_assert_msg(f != NULL, "no kernel baseline at %s", path);
	int pass = 0, rejected = 0, bad = 0;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		bool is_pass = !strncmp(line, "PASS ", 5);
		if (!is_pass && strncmp(line, "FAIL ", 5))
			continue;
		char *name = line + 5, *why = strchr(name, ':');
		if (why)
			*why++ = '\0';
		snprintf(path, sizeof(path), "%s/conformance/tests/%s.data",
			 tu_env("BPFVM_SHARED", NULL), name);
		struct bpfvm_conf_test t;
		int e = bpfvm_conf_parse(path, &t, err, sizeof(err));
		if (e) {
			fprintf(stderr, "MISMATCH %s: parse: %s\n", name, err);
			bad++;
			continue;
		}
		if (is_pass) {
			pass++;
			bad += !cross_check(name, t.insns, t.n, t.mem, t.mem_len,
					    t.has_result ? &t.result : NULL);
		} else {
			/* Still rejected at load, for the same reason (the
			 * baseline says "rejected at load: <strerror>: <log>"). */
			struct outcome k = run_kernel(t.insns, t.n, t.mem, t.mem_len, NULL);
			const char *want = why ? strstr(why, "Invalid argument: ") : NULL;
			want = want ? want + strlen("Invalid argument: ") : "";
			rejected++;
			if (k.err != -EINVAL || strcmp(k.msg, want)) {
				fprintf(stderr, "MISMATCH %s: kernel %d \"%s\", baseline EINVAL \"%s\"\n",
					name, k.err, k.msg, want);
				bad++;
			}
		}
		bpfvm_conf_free(&t);
	}
	fclose(f);
	ck_assert_int_eq(pass, 300);
	ck_assert_int_eq(rejected, 13);
	ck_assert_msg(bad == 0, "%d of %d vectors disagree (see stderr)", bad,
		      pass + rejected);
}
END_TEST

/* ---- our own edge cases: tests/kernel_progs/NAME.data ---------------------- */

/* Each NAME.data below $BPFVM_TESTS/sub, parsed and given to check, which
 * returns how many ways it is wrong (a file that does not parse is one).
 * Returns the sum; *count: how many files there were (at least one). */
static int each_program(const char *sub, int (*check)(struct bpfvm_conf_test *),
			int *count)
{
	char dir[4096], path[8192], err[512];
	env_path(dir, sizeof(dir), "BPFVM_TESTS", sub);
	struct dirent **list;
	int n = scandir(dir, &list, tu_data_file, alphasort);
	ck_assert_msg(n > 0, "no programs in %s", dir);
	int bad = 0;
	for (int i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, list[i]->d_name);
		free(list[i]);
		struct bpfvm_conf_test t;
		if (bpfvm_conf_parse(path, &t, err, sizeof(err))) {
			fprintf(stderr, "MISMATCH %s: parse: %s\n", path, err);
			bad++;
			continue;
		}
		bad += check(&t);
		bpfvm_conf_free(&t);
	}
	free(list);
	*count = n;
	return bad;
}

/* Every one carries a hand-derived result too. */
static int own_program(struct bpfvm_conf_test *t)
{
	if (!t->has_result)
		fprintf(stderr, "MISMATCH %s: no result section\n", t->name);
	return !t->has_result ||
	       !cross_check(t->name, t->insns, t->n, t->mem, t->mem_len,
			    &t->result);
}

START_TEST(own_programs_agree_with_kernel)
{
	int n, bad = each_program("kernel_progs", own_program, &n);
	ck_assert_int_ge(n, 40);
	ck_assert_msg(bad == 0, "%d of %d programs disagree (see stderr)", bad, n);
}
END_TEST

/* One kernel-bugs program: bpfvm in every configuration gives the ISA result. */
static int kernel_bug(struct bpfvm_conf_test *t)
{
	int bad = 0;
	struct outcome k = run_kernel(t->insns, t->n, t->mem, t->mem_len, NULL);
	printf("kernel-bugs/%s: ISA %#" PRIx64 ", kernel %s%#" PRIx64 "%s\n",
	       t->name, t->result, k.err ? "error " : "",
	       k.err ? (uint64_t)-k.err : k.r0,
	       !k.err && k.r0 == t->result ? " (fixed?)" : "");
	for (size_t c = 0; c < NCONFIGS; c++) {
		struct outcome v = run_bpfvm(t->insns, t->n, t->mem, t->mem_len,
					     &configs[c], NULL);
		if (v.err || !t->has_result || v.r0 != t->result) {
			fprintf(stderr, "MISMATCH %s: bpfvm (%s) %d %#" PRIx64
				" (%s), ISA %#" PRIx64 "\n", t->name,
				configs[c].name, v.err, v.r0, v.msg, t->result);
			bad++;
		}
	}
	return bad;
}

/* kernel_progs/kernel-bugs: programs the running kernel gets wrong (each
 * file says why).  bpfvm must follow the ISA, i.e. the hand-derived
 * result; the kernel's answer is only reported, so that a fixed kernel
 * does not fail the test. */
START_TEST(known_kernel_bugs_bpfvm_follows_the_isa)
{
	int n, bad = each_program("kernel_progs/kernel-bugs", kernel_bug, &n);
	ck_assert_msg(bad == 0, "%d of %d programs wrong in bpfvm (see stderr)", bad, n);
}
END_TEST

/* ---- random programs ---------------------------------------------------- */

struct rng {
	uint64_t s;
};

static uint64_t rnd(struct rng *r) /* splitmix64 */
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint32_t below(struct rng *r, uint32_t n)
{
	return (uint32_t)(rnd(r) % n);
}

/* Values where implementations tend to differ: zero, all ones, the sign
 * bits of both widths, shift widths. */
static const uint64_t edge64[] = {
	0, 1, UINT64_MAX, 0x80000000, 0xffffffff80000000ull, 0x7fffffff,
	0xffffffff, 0x100000000ull, 0x8000000000000000ull,
	0x7fffffffffffffffull, 63, 64, 31, 32, 0xff, 0x8000, 0xfffffffe,
};

static uint64_t value64(struct rng *r)
{
	switch (below(r, 4)) {
	case 0: return rnd(r);
	case 1: return (uint64_t)(int64_t)(int32_t)rnd(r);
	default: return edge64[below(r, sizeof(edge64) / sizeof(edge64[0]))];
	}
}

static int32_t value32(struct rng *r)
{
	return (int32_t)(uint32_t)value64(r);
}

enum kind { PLAIN, DIVIDE, SHIFT, UNARY, SWAP, MOVE };

static const struct {
	uint8_t op;
	uint8_t kind;
} alu_ops[] = {
	{ 0x00, PLAIN },  /* add */
	{ 0x10, PLAIN },  /* sub */
	{ 0x20, PLAIN },  /* mul */
	{ 0x30, DIVIDE }, /* div, sdiv */
	{ 0x40, PLAIN },  /* or */
	{ 0x50, PLAIN },  /* and */
	{ 0x60, SHIFT },  /* lsh */
	{ 0x70, SHIFT },  /* rsh */
	{ 0x80, UNARY },  /* neg */
	{ 0x90, DIVIDE }, /* mod, smod */
	{ 0xa0, PLAIN },  /* xor */
	{ 0xb0, MOVE },   /* mov, movsx */
	{ 0xc0, SHIFT },  /* arsh */
	{ 0xd0, SWAP },   /* le, be, bswap */
};

#define SRC_X 0x08 /* the source is a register */

/* The registers random instructions use: r0-r5, or without r1 when r9
 * holds the packet pointer (pointer arithmetic would be refused). */
struct regs {
	const uint8_t *r;
	uint32_t n;
};

static uint8_t pick(struct rng *r, struct regs rs)
{
	return rs.r[below(r, rs.n)];
}

/* One random ALU instruction, in a form the verifier accepts. */
static struct bpfvm_insn random_alu(struct rng *r, struct regs rs)
{
	bool is64 = below(r, 2);
	int k = below(r, sizeof(alu_ops) / sizeof(alu_ops[0]));
	bool reg = below(r, 2);
	struct bpfvm_insn i = { .code = (uint8_t)((is64 ? BPF_ALU64 : BPF_ALU) | alu_ops[k].op),
				.dst_reg = pick(r, rs) };
	static const int16_t sx64[] = { 0, 8, 16, 32 }, sx32[] = { 0, 8, 16 };
	static const int32_t widths[] = { 16, 32, 64 };
	switch (alu_ops[k].kind) {
	case UNARY:
		return i;
	case SWAP: /* ALU64 has bswap only (to_le bit clear); ALU32 le and be */
		if (!is64 && below(r, 2))
			i.code |= SRC_X;
		i.imm = widths[below(r, 3)];
		return i;
	case DIVIDE:
		i.off = (int16_t)below(r, 2); /* sdiv/smod */
		break;
	case MOVE:
		if (reg)
			i.off = is64 ? sx64[below(r, 4)] : sx32[below(r, 3)];
		break;
	}
	if (reg) {
		i.code |= SRC_X;
		i.src_reg = pick(r, rs);
		return i;
	}
	i.imm = value32(r);
	if (alu_ops[k].kind == SHIFT) /* "invalid shift" otherwise */
		i.imm = (int32_t)((uint32_t)i.imm % (is64 ? 64 : 32));
	if (alu_ops[k].kind == DIVIDE && i.imm == 0) /* "div by zero" */
		i.imm = -1;
	return i;
}

/* A conditional jump over the next 1-3 instructions, 64 or 32-bit. */
static struct bpfvm_insn random_skip(struct rng *r, struct regs rs)
{
	static const uint8_t cmp[] = { 0x10, 0x20, 0x30, 0x40, 0x50, 0x60,
				       0x70, 0xa0, 0xb0, 0xc0, 0xd0 };
	struct bpfvm_insn i = { .code = (uint8_t)((below(r, 2) ? BPF_JMP : BPF_JMP32) |
						  cmp[below(r, sizeof(cmp))]),
				.dst_reg = pick(r, rs), .off = (int16_t)(1 + below(r, 3)) };
	if (below(r, 2)) {
		i.code |= SRC_X;
		i.src_reg = pick(r, rs);
	} else {
		i.imm = value32(r);
	}
	return i;
}

#define PKT_LEN 64     /* packet bytes, at r9 */
#define STACK_LEN 64   /* stack bytes used, below r10 */
#define PKT_REG 9

static const struct {
	uint8_t code, bytes;
} sizes[] = { { BPF_B, 1 }, { BPF_H, 2 }, { BPF_W, 4 }, { BPF_DW, 8 } };
static const int32_t atomic_ops[] = { 0x00, 0x40, 0x50, 0xa0, 0x01, 0x41,
				      0x51, 0xa1, 0xe1, 0xf1 };

/* One random load, store or (if atomics) atomic on the stack or (with
 * mem) the packet.  The stack wants aligned accesses and no atomics go to
 * the packet, as the verifier says. */
static struct bpfvm_insn random_mem(struct rng *r, struct regs rs, bool mem,
				    bool atomics)
{
	bool stack = !mem || below(r, 2);
	uint32_t sz = below(r, 4);
	uint8_t size = sizes[sz].code;
	int bytes = sizes[sz].bytes;
	struct bpfvm_insn i = { .dst_reg = stack ? 10 : PKT_REG };
	i.off = stack ? (int16_t)(-STACK_LEN + bytes * (int)below(r, STACK_LEN / bytes))
		      : (int16_t)below(r, PKT_LEN - bytes + 1);
	switch (below(r, stack && atomics ? 5 : 4)) {
	case 0: /* ldx */
		i.code = BPF_LDX | 0x60 | size, i.src_reg = i.dst_reg;
		i.dst_reg = pick(r, rs);
		break;
	case 1: /* ldxs: sign-extending, 1/2/4 bytes */
		if (size == BPF_DW)
			size = BPF_W;
		i.code = BPF_LDX | 0x80 | size, i.src_reg = i.dst_reg;
		i.dst_reg = pick(r, rs);
		break;
	case 2: /* st imm */
		i.code = BPF_ST | 0x60 | size, i.imm = value32(r);
		break;
	case 3: /* stx */
		i.code = BPF_STX | 0x60 | size, i.src_reg = pick(r, rs);
		break;
	default: /* atomic, 4 or 8 bytes, aligned */
		i.code = BPF_STX | 0xc0 | (size == BPF_DW ? BPF_DW : BPF_W);
		i.off = (int16_t)(i.off & ~(size == BPF_DW ? 7 : 3));
		i.imm = atomic_ops[below(r, sizeof(atomic_ops) / sizeof(atomic_ops[0]))];
		i.src_reg = pick(r, rs);
		break;
	}
	return i;
}

static size_t ldimm64(struct bpfvm_insn *p, uint8_t reg, uint64_t v)
{
	p[0] = (struct bpfvm_insn){ .code = 0x18, .dst_reg = reg,
				    .imm = (int32_t)(uint32_t)v };
	p[1] = (struct bpfvm_insn){ .imm = (int32_t)(uint32_t)(v >> 32) };
	return 2;
}

/* r0 = r0 * FNV prime ^ src: folds every result into r0. */
static size_t fold(struct bpfvm_insn *p, uint8_t src)
{
	p[0] = (struct bpfvm_insn){ .code = 0x27, .imm = 0x01000193 };
	p[1] = (struct bpfvm_insn){ .code = 0xaf, .src_reg = src };
	return 2;
}

#define RANDOM_MAX 400 /* the longest random_prog is about 220 */

/* A call to the leaf (patched later): r6/r7 keep two values over it,
 * r1-r5 (clobbered by the call) are set again from them and immediates. */
static size_t call_site(struct rng *r, struct bpfvm_insn *p, struct regs rs)
{
	size_t n = 0;
	p[n++] = (struct bpfvm_insn){ .code = 0xbf, .dst_reg = 6, .src_reg = pick(r, rs) };
	p[n++] = (struct bpfvm_insn){ .code = 0xbf, .dst_reg = 7, .src_reg = pick(r, rs) };
	p[n++] = (struct bpfvm_insn){ .code = 0x85, .src_reg = 1 };
	p[n++] = (struct bpfvm_insn){ .code = 0xbf, .dst_reg = 1, .src_reg = 6 };
	p[n++] = (struct bpfvm_insn){ .code = 0xbf, .dst_reg = 2, .src_reg = 7 };
	for (uint8_t reg = 3; reg <= 5; reg++)
		p[n++] = (struct bpfvm_insn){ .code = 0xb7, .dst_reg = reg, .imm = value32(r) };
	return n;
}

/* Registers, then the stack, start with random values; then random
 * instructions (some behind a conditional skip); then r0 = a hash of the
 * registers, the stack and the packet, so every result counts.  With
 * mem, r9 = the packet (r1 at entry).  Some programs run as a bpf-to-bpf
 * subprogram (their own frame); some ALU ones call a random leaf function
 * (which clobbers r6/r7, saved by the caller's frame) or repeat their
 * body in a counted loop on r6 and have no other branch (the verifier
 * does not know the result of every ALU op, and would walk both sides of
 * a branch in each iteration). */
static size_t random_prog(struct rng *r, struct bpfvm_insn *p, bool mem,
			  bool memops)
{
	static const uint8_t all[] = { 0, 1, 2, 3, 4, 5 }, nor1[] = { 0, 2, 3, 4, 5 };
	struct regs rs = mem ? (struct regs){ nor1, 5 } : (struct regs){ all, 6 };
	size_t n = 0, calls[8], ncalls = 0;
	if (below(r, 4) == 0) { /* main: call f; exit.  f: the rest */
		p[n++] = (struct bpfvm_insn){ .code = 0x85, .src_reg = 1, .imm = 1 };
		p[n++] = (struct bpfvm_insn){ .code = 0x95 };
	}
	if (mem)
		p[n++] = (struct bpfvm_insn){ .code = 0xbf, .dst_reg = PKT_REG, .src_reg = 1 };
	for (uint32_t k = 0; k < rs.n; k++)
		n += ldimm64(p + n, rs.r[k], value64(r));
	if (memops)
		for (int off = -STACK_LEN; off < 0; off += 8)
			p[n++] = (struct bpfvm_insn){ .code = 0x7a, .dst_reg = 10,
						      .off = (int16_t)off, .imm = value32(r) };
	bool loop = !memops && below(r, 2);
	bool leaf = !memops && !loop && below(r, 2);
	if (loop)
		p[n++] = (struct bpfvm_insn){ .code = 0xb7, .dst_reg = 6,
					      .imm = (int32_t)(2 + below(r, 4)) };
	if (leaf) /* r6/r7 set on every path, even one jumping over a save */
		for (uint8_t reg = 6; reg <= 7; reg++)
			p[n++] = (struct bpfvm_insn){ .code = 0xb7, .dst_reg = reg };
	size_t body = n;
	/* Kernel 6.18 does not carry precision through the value an atomic
	 * fetch loads, so a branch on it may prune a path it wrongly
	 * thinks dead (kernel_progs/kernel-bugs): atomics or branches. */
	bool skips = !loop && (!memops || below(r, 2));
	size_t need = 0; /* instructions still owed to a jump's target */
	for (size_t len = 8 + below(r, 40), i = 0; i < len || need; i++) {
		if (skips && i < len && below(r, 5) == 0) {
			p[n] = random_skip(r, rs);
			if ((size_t)p[n].off > need)
				need = (size_t)p[n].off;
			n++;
		}
		if (leaf && ncalls < 8 && below(r, 8) == 0) {
			calls[ncalls++] = n + 2;
			n += call_site(r, p + n, rs);
		} else {
			p[n++] = memops && below(r, 3) == 0 ? random_mem(r, rs, mem, !skips)
							    : random_alu(r, rs);
		}
		need -= need > 0;
	}
	if (loop) { /* r6 -= 1; if r6 != 0 goto body */
		p[n++] = (struct bpfvm_insn){ .code = 0x07, .dst_reg = 6, .imm = -1 };
		p[n] = (struct bpfvm_insn){ .code = 0x55, .dst_reg = 6,
					    .off = (int16_t)(body - (n + 1)) };
		n++;
	}
	for (uint32_t k = 0; k < rs.n; k++)
		if (rs.r[k])
			n += fold(p + n, rs.r[k]);
	for (int off = 0; memops && off < STACK_LEN + (mem ? PKT_LEN : 0); off += 8) {
		bool stack = off < STACK_LEN;
		p[n++] = (struct bpfvm_insn){ .code = 0x79, .dst_reg = 2,
					      .src_reg = stack ? 10 : PKT_REG,
					      .off = (int16_t)(off - STACK_LEN) };
		n += fold(p + n, 2);
	}
	p[n++] = (struct bpfvm_insn){ .code = 0x95 };
	if (ncalls) { /* the leaf: r0 = r1; r6, r7 = junk; random ALU; exit */
		for (size_t c = 0; c < ncalls; c++)
			p[calls[c]].imm = (int32_t)(n - (calls[c] + 1));
		p[n++] = (struct bpfvm_insn){ .code = 0xbf, .src_reg = 1 };
		p[n++] = (struct bpfvm_insn){ .code = 0xb7, .dst_reg = 6, .imm = 0x66 };
		p[n++] = (struct bpfvm_insn){ .code = 0xb7, .dst_reg = 7, .imm = 0x77 };
		for (size_t len = 4 + below(r, 8), i = 0; i < len; i++)
			p[n++] = random_alu(r, rs);
		p[n++] = (struct bpfvm_insn){ .code = 0x95 };
	}
	return n;
}

static void random_programs(bool mem, bool memops)
{
	/* BPFVM_SEED=N reproduces (or varies) a run; BPFVM_RANDOM=N runs
	 * more (or fewer) programs. */
	const char *s = getenv("BPFVM_SEED");
	uint64_t seed = s ? strtoull(s, NULL, 0) : 0x5eedbf;
	int count = getenv("BPFVM_RANDOM") ? atoi(getenv("BPFVM_RANDOM")) : 300;
	int bad = 0;
	for (int t = 0; t < count; t++) {
		struct rng r = { seed + (uint64_t)t };
		uint8_t pkt[PKT_LEN];
		for (size_t k = 0; k < sizeof(pkt); k += 8) {
			uint64_t v = rnd(&r);
			memcpy(pkt + k, &v, 8);
		}
		struct bpfvm_insn p[RANDOM_MAX];
		size_t n = random_prog(&r, p, mem, memops);
		ck_assert_uint_le(n, RANDOM_MAX);
		char name[96];
		snprintf(name, sizeof(name), "random%s BPFVM_SEED=%#" PRIx64 " (program %d)",
			 mem ? "-mem" : memops ? "-stack" : "", seed + (uint64_t)t, t);
		bad += !cross_check(name, p, n, mem ? pkt : NULL, mem ? sizeof(pkt) : 0, NULL);
	}
	ck_assert_msg(bad == 0, "%d of %d random programs disagree (seed %#" PRIx64 ")",
		      bad, count, seed);
}

START_TEST(random_alu_programs_agree_with_kernel)
{
	random_programs(false, false);
}
END_TEST

START_TEST(random_stack_programs_agree_with_kernel)
{
	random_programs(false, true);
}
END_TEST

START_TEST(random_packet_programs_agree_with_kernel)
{
	random_programs(true, true);
}
END_TEST

int main(void)
{
	char why[256];
	if (!bpfk_available(why, sizeof(why))) {
		printf("SKIP: %s\n", why);
		return 77;
	}
	Suite *s = suite_create("kernel");
	TCase *tc = tcase_create("kernel");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, prog_load_log_overflow_is_not_failure);
	tcase_add_test(tc, run_returns_r0_and_the_memory);
	tcase_add_test(tc, conformance_vectors_agree_with_kernel);
	tcase_add_test(tc, own_programs_agree_with_kernel);
	tcase_add_test(tc, known_kernel_bugs_bpfvm_follows_the_isa);
	tcase_add_test(tc, random_alu_programs_agree_with_kernel);
	tcase_add_test(tc, random_stack_programs_agree_with_kernel);
	tcase_add_test(tc, random_packet_programs_agree_with_kernel);
	suite_add_tcase(s, tc);
	return tu_run_suite(s);
}
