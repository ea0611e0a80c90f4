/* Program types and helper prototypes as data (verifier/prog_types.c,
 * verifier/ctx_access.c, verifier/helper_protos.c) and the test run
 * (vm/test_run.c).  The tables are checked fact by fact against the
 * running kernel: every (type, ctx offset, size, load/store) the kernel
 * accepts or rejects, what a load yields, which helpers a type may call,
 * and the r0 range at exit.  Without bpf(2) those parts print one SKIP
 * line and only the hand-checked facts run.
 * SPDX-License-Identifier: MIT */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <linux/bpf.h>

#include "bpfvm.h"
#include "../verifier/prog_types.h"
#include "../verifier/helper_protos.h"
#include "../vm/test_run.h"

/* ---- bpf(2), with an expected attach type --------------------------------- */

static char klog[1 << 16];
static const char *klicense = "GPL";

static int kload_fd(uint32_t type, uint32_t eat, const struct bpf_insn *insns,
		    unsigned n, int log_level)
{
	union bpf_attr a;
	int fd;

	memset(&a, 0, sizeof(a));
	a.prog_type = type;
	a.expected_attach_type = eat;
	a.insns = (uintptr_t)insns;
	a.insn_cnt = n;
	a.license = (uintptr_t)klicense;
	klog[0] = 0;
	if (log_level) {
		a.log_level = (uint32_t)log_level;
		a.log_buf = (uintptr_t)klog;
		a.log_size = sizeof(klog);
	}
	fd = (int)syscall(SYS_bpf, BPF_PROG_LOAD, &a, sizeof(a));
	return fd < 0 ? -errno : fd;
}

static int kload(uint32_t type, uint32_t eat, const struct bpf_insn *insns,
		 unsigned n, int log_level)
{
	int fd = kload_fd(type, eat, insns, n, log_level);
	if (fd < 0)
		return fd;
	close(fd);
	return 0;
}

static bool kernel_ok(void)
{
	static const struct bpf_insn p[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	int err = kload(BPF_PROG_TYPE_SOCKET_FILTER, 0, p, 2, 0);
	if (err)
		printf("SKIP: kernel cross-check: BPF_PROG_LOAD failed: %s\n",
		       strerror(-err));
	return err == 0;
}

/* The (type, expected attach type) pairs checked against the kernel. */
static const struct { uint32_t type, eat; } kinds[] = {
	{ BPF_PROG_TYPE_SOCKET_FILTER, 0 }, { BPF_PROG_TYPE_KPROBE, 0 },
	{ BPF_PROG_TYPE_SCHED_CLS, 0 }, { BPF_PROG_TYPE_SCHED_ACT, 0 },
	{ BPF_PROG_TYPE_TRACEPOINT, 0 }, { BPF_PROG_TYPE_XDP, 0 },
	{ BPF_PROG_TYPE_XDP, BPF_XDP_DEVMAP }, { BPF_PROG_TYPE_PERF_EVENT, 0 },
	{ BPF_PROG_TYPE_CGROUP_SKB, BPF_CGROUP_INET_INGRESS },
	{ BPF_PROG_TYPE_CGROUP_SKB, BPF_CGROUP_INET_EGRESS },
	{ BPF_PROG_TYPE_CGROUP_SOCK, BPF_CGROUP_INET_SOCK_CREATE },
	{ BPF_PROG_TYPE_CGROUP_SOCK, BPF_CGROUP_INET4_POST_BIND },
	{ BPF_PROG_TYPE_CGROUP_SOCK, BPF_CGROUP_INET6_POST_BIND },
	{ BPF_PROG_TYPE_LWT_IN, 0 }, { BPF_PROG_TYPE_LWT_OUT, 0 },
	{ BPF_PROG_TYPE_LWT_XMIT, 0 }, { BPF_PROG_TYPE_SOCK_OPS, 0 },
	{ BPF_PROG_TYPE_SK_SKB, 0 }, { BPF_PROG_TYPE_CGROUP_DEVICE, 0 },
	{ BPF_PROG_TYPE_SK_MSG, 0 }, { BPF_PROG_TYPE_RAW_TRACEPOINT, 0 },
	{ BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_INET4_BIND },
	{ BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_INET6_CONNECT },
	{ BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_UDP4_SENDMSG },
	{ BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_UDP6_SENDMSG },
	{ BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_UDP4_RECVMSG },
	{ BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_INET6_GETSOCKNAME },
	{ BPF_PROG_TYPE_LWT_SEG6LOCAL, 0 }, { BPF_PROG_TYPE_SK_REUSEPORT, 0 },
	{ BPF_PROG_TYPE_FLOW_DISSECTOR, 0 }, { BPF_PROG_TYPE_CGROUP_SYSCTL, 0 },
	{ BPF_PROG_TYPE_RAW_TRACEPOINT_WRITABLE, 0 },
	{ BPF_PROG_TYPE_CGROUP_SOCKOPT, BPF_CGROUP_GETSOCKOPT },
	{ BPF_PROG_TYPE_CGROUP_SOCKOPT, BPF_CGROUP_SETSOCKOPT },
	{ BPF_PROG_TYPE_SK_LOOKUP, BPF_SK_LOOKUP },
};
#define NKINDS (sizeof(kinds) / sizeof(kinds[0]))

/* The kernel's name of what a ctx load gives (the level-2 log). */
static const char *reg_name(unsigned reg)
{
	static const char *const n[] = {
		[BPFVM_CTX_SCALAR] = "scalar",
		[BPFVM_CTX_PTR_TO_PACKET] = "pkt",
		[BPFVM_CTX_PTR_TO_PACKET_END] = "pkt_end",
		[BPFVM_CTX_PTR_TO_PACKET_META] = "pkt_meta",
		[BPFVM_CTX_PTR_TO_SOCK_COMMON_OR_NULL] = "sock_common_or_null",
		[BPFVM_CTX_PTR_TO_SOCKET] = "sock",
		[BPFVM_CTX_PTR_TO_SOCKET_OR_NULL] = "sock_or_null",
		[BPFVM_CTX_PTR_TO_FLOW_KEYS] = "flow_keys",
		[BPFVM_CTX_PTR_TO_TP_BUFFER] = "tp_buffer",
	};
	return reg < sizeof(n) / sizeof(n[0]) && n[reg] ? n[reg] : "?";
}

/* "...; R0_w=pkt(r=0) R1=ctx()" -> "pkt" */
static void kernel_reg(char *out, size_t len)
{
	const char *p = strstr(klog, "; R0");
	size_t i = 0;

	out[0] = 0;
	if (!p || !(p = strchr(p, '=')))
		return;
	for (p++; *p && *p != '(' && *p != ' ' && *p != '\n' && i + 1 < len; p++)
		out[i++] = *p;
	out[i] = 0;
}

/* Every offset of the context (and a little around it), every size, load
 * and store: the table must give the kernel's verdict, and for accepted
 * loads the kernel's register kind. */
START_TEST(ctx_access_matches_kernel)
{
	static const uint8_t sz[4] = { BPF_B, BPF_H, BPF_W, BPF_DW };
	unsigned bad = 0, checked = 0;

	if (!kernel_ok())
		return;
	for (size_t k = 0; k < NKINDS; k++) {
		struct bpfvm_prog_info pi = { kinds[k].type, kinds[k].eat };
		const struct bpfvm_prog_type *pt = bpfvm_prog_type(pi.type);
		int hi;

		ck_assert_msg(pt, "type %u missing", pi.type);
		hi = (int)pt->ctx_size + 16;
		for (int off = -16; off < hi; off++) {
			/* the tracepoint's 8 KiB: its start and its end */
			if (off == 512 && pi.type == BPF_PROG_TYPE_TRACEPOINT)
				off = hi - 48;
			for (int s = 0; s < 4; s++)
				for (int w = 0; w < 2; w++) {
					struct bpf_insn p[4];
					struct bpfvm_ctx_access acc;
					unsigned n = 0;
					int size = 1 << s;
					bool ours, theirs;
					char kreg[64];

					if (w) {
						p[n++] = (struct bpf_insn){ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 2 };
						p[n++] = (struct bpf_insn){ .code = BPF_STX | BPF_MEM | sz[s], .dst_reg = 1, .src_reg = 2, .off = (int16_t)off };
					} else {
						p[n++] = (struct bpf_insn){ .code = BPF_LDX | BPF_MEM | sz[s], .dst_reg = 0, .src_reg = 1, .off = (int16_t)off };
					}
					p[n++] = (struct bpf_insn){ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = 1 };
					p[n++] = (struct bpf_insn){ .code = BPF_JMP | BPF_EXIT };
					theirs = kload(pi.type, pi.expected_attach_type, p, n, w ? 1 : 2) == 0;
					ours = bpfvm_ctx_access_ok(&pi, off, size,
						w ? BPFVM_ACCESS_WRITE : BPFVM_ACCESS_READ, &acc);
					checked++;
					if (ours != theirs) {
						if (bad++ < 40)
							printf("%s eat %u: %s off=%d size=%d: kernel %s, table %s\n",
							       pt->name, pi.expected_attach_type, w ? "store" : "load", off, size,
							       theirs ? "accepts" : "rejects",
							       ours ? "accepts" : "rejects");
						continue;
					}
					if (!theirs || w)
						continue;
					kernel_reg(kreg, sizeof(kreg));
					if (strcmp(kreg, reg_name(acc.reg_type)) &&
					    bad++ < 40)
						printf("%s: load off=%d size=%d: kernel %s, table %s\n",
						       pt->name, off, size, kreg,
						       reg_name(acc.reg_type));
				}
		}
	}
	printf("ctx access: %u combinations checked, %u differ\n", checked, bad);
	ck_assert_uint_eq(bad, 0);
}
END_TEST

/* A call with no arguments set: the kernel stops at get_func_proto
 * ("program of this type cannot use helper") or later (argument checks). */
START_TEST(helpers_allowed_match_kernel)
{
	unsigned bad = 0;

	if (!kernel_ok())
		return;
	for (size_t k = 0; k < NKINDS; k++) {
		struct bpfvm_prog_info pi = { kinds[k].type, kinds[k].eat };
		const struct bpfvm_prog_type *pt = bpfvm_prog_type(pi.type);

		for (uint32_t id = 0; id < BPFVM_FUNC_MAX_ID; id++) {
			struct bpf_insn p[2] = {
				{ .code = BPF_JMP | BPF_CALL, .imm = (int32_t)id },
				{ .code = BPF_JMP | BPF_EXIT },
			};
			bool theirs, ours = pt->helper_allowed(id, &pi);

			kload(pi.type, pi.expected_attach_type, p, 2, 1);
			theirs = !strstr(klog, "cannot use helper");
			if (ours != theirs && bad++ < 40)
				printf("%s eat %u: helper %s#%u: kernel %s, table %s\n",
				       pt->name, pi.expected_attach_type, bpfvm_helper_proto_any(id) ?
				       bpfvm_helper_proto_any(id)->name : "?", id,
				       theirs ? "allows" : "refuses",
				       ours ? "allows" : "refuses");
		}
	}
	ck_assert_uint_eq(bad, 0);
}
END_TEST

/* r0 = K; exit, for K around the ranges. */
START_TEST(return_ranges_match_kernel)
{
	unsigned bad = 0;

	if (!kernel_ok())
		return;
	for (size_t k = 0; k < NKINDS; k++) {
		struct bpfvm_prog_info pi = { kinds[k].type, kinds[k].eat };
		const struct bpfvm_prog_type *pt = bpfvm_prog_type(pi.type);
		struct bpfvm_ret_range r = { false, 0, 0 };

		if (pt->ret_range)
			pt->ret_range(&pi, &r);
		for (int32_t v = -2; v <= 5; v++) {
			struct bpf_insn p[2] = {
				{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .imm = v },
				{ .code = BPF_JMP | BPF_EXIT },
			};
			bool theirs = kload(pi.type, pi.expected_attach_type, p, 2, 1) == 0;
			bool ours = !r.has_range || (v >= r.min && v <= r.max);

			if (ours != theirs && bad++ < 40)
				printf("%s eat %u: r0=%d: kernel %s, table %s\n",
				       pt->name, pi.expected_attach_type, v, theirs ? "accepts" : "rejects",
				       ours ? "accepts" : "rejects");
			if (!theirs && r.has_range) {
				char want[64];
				snprintf(want, sizeof(want), "should have been in [%d, %d]",
					 r.min, r.max);
				ck_assert_msg(strstr(klog, want), "%s: %s", pt->name, klog);
			}
		}
	}
	ck_assert_uint_eq(bad, 0);
}
END_TEST

/* ---- facts checked by hand against the kernel's source -------------------- */

static bool rd(uint32_t type, uint32_t eat, int off, int size, unsigned *reg)
{
	struct bpfvm_prog_info pi = { type, eat };
	struct bpfvm_ctx_access acc;
	bool ok = bpfvm_ctx_access_ok(&pi, off, size, BPFVM_ACCESS_READ, &acc);
	if (reg)
		*reg = acc.reg_type;
	return ok;
}

static bool wr(uint32_t type, uint32_t eat, int off, int size)
{
	struct bpfvm_prog_info pi = { type, eat };
	return bpfvm_ctx_access_ok(&pi, off, size, BPFVM_ACCESS_WRITE, NULL);
}

START_TEST(skb_facts)
{
	unsigned reg;

	/* sk_filter_is_valid_access: no packet pointers, only cb[] written */
	ck_assert(!rd(BPF_PROG_TYPE_SOCKET_FILTER, 0, 76, 4, NULL));
	ck_assert(rd(BPF_PROG_TYPE_SOCKET_FILTER, 0, 0, 4, &reg));
	ck_assert_uint_eq(reg, BPFVM_CTX_SCALAR);
	ck_assert(rd(BPF_PROG_TYPE_SOCKET_FILTER, 0, 1, 1, NULL)); /* narrow */
	ck_assert(!rd(BPF_PROG_TYPE_SOCKET_FILTER, 0, 1, 2, NULL)); /* misaligned */
	ck_assert(!wr(BPF_PROG_TYPE_SOCKET_FILTER, 0, 8, 4));       /* mark */
	ck_assert(wr(BPF_PROG_TYPE_SOCKET_FILTER, 0, 48, 8));       /* cb[0..1] */
	ck_assert(!wr(BPF_PROG_TYPE_SOCKET_FILTER, 0, 64, 8));      /* past cb[4] */
	ck_assert(!rd(BPF_PROG_TYPE_SOCKET_FILTER, 0, 192, 4, NULL));
	/* tc: packet pointers, mark written, invalid off=4000 */
	ck_assert(rd(BPF_PROG_TYPE_SCHED_CLS, 0, 76, 4, &reg));
	ck_assert_uint_eq(reg, BPFVM_CTX_PTR_TO_PACKET);
	ck_assert(rd(BPF_PROG_TYPE_SCHED_CLS, 0, 80, 4, &reg));
	ck_assert_uint_eq(reg, BPFVM_CTX_PTR_TO_PACKET_END);
	ck_assert(rd(BPF_PROG_TYPE_SCHED_CLS, 0, 140, 4, &reg));
	ck_assert_uint_eq(reg, BPFVM_CTX_PTR_TO_PACKET_META);
	ck_assert(!rd(BPF_PROG_TYPE_SCHED_CLS, 0, 76, 8, NULL));
	ck_assert(wr(BPF_PROG_TYPE_SCHED_CLS, 0, 8, 4));
	ck_assert(!wr(BPF_PROG_TYPE_SCHED_CLS, 0, 8, 2));
	ck_assert(!rd(BPF_PROG_TYPE_SCHED_CLS, 0, 4000, 4, NULL));
	ck_assert(rd(BPF_PROG_TYPE_SCHED_CLS, 0, 168, 8, &reg));   /* sk */
	ck_assert_uint_eq(reg, BPFVM_CTX_PTR_TO_SOCK_COMMON_OR_NULL);
	/* cgroup_skb: data yes, data_meta no */
	ck_assert(rd(BPF_PROG_TYPE_CGROUP_SKB, 0, 76, 4, NULL));
	ck_assert(!rd(BPF_PROG_TYPE_CGROUP_SKB, 0, 140, 4, NULL));
}
END_TEST

START_TEST(xdp_and_tracing_facts)
{
	unsigned reg;

	ck_assert(rd(BPF_PROG_TYPE_XDP, 0, 0, 4, &reg));
	ck_assert_uint_eq(reg, BPFVM_CTX_PTR_TO_PACKET);
	ck_assert(rd(BPF_PROG_TYPE_XDP, 0, 8, 4, &reg));
	ck_assert_uint_eq(reg, BPFVM_CTX_PTR_TO_PACKET_META);
	ck_assert(!rd(BPF_PROG_TYPE_XDP, 0, 0, 8, NULL));
	ck_assert(!rd(BPF_PROG_TYPE_XDP, 0, 20, 4, NULL));  /* egress: devmap only */
	ck_assert(rd(BPF_PROG_TYPE_XDP, BPF_XDP_DEVMAP, 20, 4, NULL));
	ck_assert(!wr(BPF_PROG_TYPE_XDP, 0, 12, 4));
	ck_assert(rd(BPF_PROG_TYPE_KPROBE, 0, 160, 8, NULL));
	ck_assert(!rd(BPF_PROG_TYPE_KPROBE, 0, 168, 1, NULL));
	ck_assert(!wr(BPF_PROG_TYPE_KPROBE, 0, 0, 8));
	ck_assert(!rd(BPF_PROG_TYPE_TRACEPOINT, 0, 0, 8, NULL));
	ck_assert(rd(BPF_PROG_TYPE_TRACEPOINT, 0, 8, 8, NULL));
	ck_assert(rd(BPF_PROG_TYPE_TRACEPOINT, 0, 2048, 8, NULL));
	ck_assert(!rd(BPF_PROG_TYPE_TRACEPOINT, 0, 8192, 8, NULL));
	ck_assert(rd(BPF_PROG_TYPE_RAW_TRACEPOINT, 0, 88, 8, NULL));
	ck_assert(!rd(BPF_PROG_TYPE_RAW_TRACEPOINT, 0, 96, 8, NULL));
	ck_assert(!rd(BPF_PROG_TYPE_PERF_EVENT, 0, 0, 4, NULL)); /* regs: longs */
	ck_assert(rd(BPF_PROG_TYPE_PERF_EVENT, 0, 168, 4, NULL)); /* sample_period */
}
END_TEST

START_TEST(type_table_facts)
{
	uint32_t eat;
	struct bpfvm_ret_range r;
	struct bpfvm_prog_info egress = { BPF_PROG_TYPE_CGROUP_SKB, BPF_CGROUP_INET_EGRESS };

	ck_assert_ptr_null(bpfvm_prog_type(0));
	ck_assert_ptr_null(bpfvm_prog_type(9999));
	ck_assert_ptr_eq(bpfvm_prog_type_by_name("xdp"), bpfvm_prog_type(BPF_PROG_TYPE_XDP));
	ck_assert(bpfvm_prog_type(BPF_PROG_TYPE_SOCKET_FILTER)->may_access_skb);
	ck_assert(!bpfvm_prog_type(BPF_PROG_TYPE_XDP)->may_access_skb);
	ck_assert_uint_eq(bpfvm_prog_type(BPF_PROG_TYPE_SCHED_CLS)->ctx_size, 192);
	ck_assert_uint_eq(bpfvm_prog_type(BPF_PROG_TYPE_XDP)->ctx_size, 24);
	ck_assert(!bpfvm_prog_type(BPF_PROG_TYPE_KPROBE)->kernel_test_run);
	bpfvm_prog_type(BPF_PROG_TYPE_CGROUP_SKB)->ret_range(&egress, &r);
	ck_assert(r.has_range && r.min == 0 && r.max == 3);
	ck_assert_ptr_null(bpfvm_prog_type(BPF_PROG_TYPE_XDP)->ret_range);
	eat = 0;
	ck_assert_int_eq(bpfvm_prog_check_attach(BPF_PROG_TYPE_CGROUP_SOCK, &eat), 0);
	ck_assert_uint_eq(eat, BPF_CGROUP_INET_SOCK_CREATE);
	eat = 0;
	ck_assert_int_eq(bpfvm_prog_check_attach(BPF_PROG_TYPE_CGROUP_SOCK_ADDR, &eat), -EINVAL);
	/* cgroup_sock's attach type 0 reads as sock_create even unfixed */
	ck_assert(rd(BPF_PROG_TYPE_CGROUP_SOCK, 0, 0, 4, NULL));
	ck_assert(wr(BPF_PROG_TYPE_CGROUP_SOCK, 0, 0, 4));
	ck_assert(!rd(BPF_PROG_TYPE_CGROUP_SOCK, BPF_CGROUP_INET4_POST_BIND, 0, 4, NULL));
}
END_TEST

/* ---- PROG_TEST_RUN: bpfvm beside the kernel -------------------------------- */

#define I(c, d, s_, o, i) ((struct bpf_insn){ .code = (c), .dst_reg = (d), .src_reg = (s_), .off = (int16_t)(o), .imm = (i) })
#define LDXW(d, s_, o) I(BPF_LDX | BPF_MEM | BPF_W, d, s_, o, 0)
#define LDXB(d, s_, o) I(BPF_LDX | BPF_MEM | BPF_B, d, s_, o, 0)
#define LDXDW(d, s_, o) I(BPF_LDX | BPF_MEM | BPF_DW, d, s_, o, 0)
#define STXW(d, s_, o) I(BPF_STX | BPF_MEM | BPF_W, d, s_, o, 0)
#define STXB(d, s_, o) I(BPF_STX | BPF_MEM | BPF_B, d, s_, o, 0)
#define STXDW(d, s_, o) I(BPF_STX | BPF_MEM | BPF_DW, d, s_, o, 0)
#define MOVK(d, k) I(BPF_ALU64 | BPF_MOV | BPF_K, d, 0, 0, k)
#define MOVX(d, s_) I(BPF_ALU64 | BPF_MOV | BPF_X, d, s_, 0, 0)
#define ADDK(d, k) I(BPF_ALU64 | BPF_ADD | BPF_K, d, 0, 0, k)
#define ADDX(d, s_) I(BPF_ALU64 | BPF_ADD | BPF_X, d, s_, 0, 0)
#define SUBX(d, s_) I(BPF_ALU64 | BPF_SUB | BPF_X, d, s_, 0, 0)
#define LSHK(d, k) I(BPF_ALU64 | BPF_LSH | BPF_K, d, 0, 0, k)
#define XORX(d, s_) I(BPF_ALU64 | BPF_XOR | BPF_X, d, s_, 0, 0)
#define JGTX(d, s_, o) I(BPF_JMP | BPF_JGT | BPF_X, d, s_, o, 0)
#define LDABS(sz, k) I(BPF_LD | BPF_ABS | (sz), 0, 0, 0, k)
#define EXIT I(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)
#define SKB(f) ((int)offsetof(struct __sk_buff, f))
#define XDP(f) ((int)offsetof(struct xdp_md, f))

struct run_in {
	const void *data;
	uint32_t size;
	uint32_t size_out;       /* data_out buffer size given (0: none) */
	const void *ctx;
	uint32_t ctx_size;
	uint32_t ctx_size_out;   /* 0: no ctx_out */
	uint32_t repeat;
};

struct run_out {
	int err;
	uint32_t retval, size_out, ctx_size_out;
	uint8_t data[80000];
	uint8_t ctx[256];
};

static int ktest_run(int fd, const struct run_in *in, struct run_out *out)
{
	union bpf_attr a;

	memset(&a, 0, sizeof(a));
	memset(out, 0x5a, sizeof(*out));
	a.test.prog_fd = (uint32_t)fd;
	a.test.data_in = (uintptr_t)in->data;
	a.test.data_size_in = in->size;
	a.test.data_out = (uintptr_t)out->data;
	a.test.data_size_out = in->size_out ? in->size_out : sizeof(out->data);
	a.test.ctx_in = (uintptr_t)in->ctx;
	a.test.ctx_size_in = in->ctx_size;
	if (in->ctx_size_out) {
		a.test.ctx_out = (uintptr_t)out->ctx;
		a.test.ctx_size_out = in->ctx_size_out;
	}
	a.test.repeat = in->repeat;
	out->err = syscall(SYS_bpf, BPF_PROG_TEST_RUN, &a, sizeof(a)) ? -errno : 0;
	out->retval = a.test.retval;
	out->size_out = a.test.data_size_out;
	out->ctx_size_out = a.test.ctx_size_out;
	return out->err;
}

/* The verifier's ctx rewrite, done here with the table: every load or
 * store through r1 (which these programs keep as ctx). */
static size_t to_bpfvm(uint32_t type, const struct bpf_insn *in, size_t n,
		       struct bpfvm_insn *out)
{
	struct bpfvm_prog_info pi = { type, 0 };

	for (size_t i = 0; i < n; i++) {
		uint8_t cls = BPF_CLASS(in[i].code);
		bool ld = cls == BPF_LDX && in[i].src_reg == 1;
		bool st = (cls == BPF_STX || cls == BPF_ST) && in[i].dst_reg == 1 &&
			  BPF_MODE(in[i].code) == BPF_MEM;

		memcpy(&out[i], &in[i], sizeof(out[i]));
		if (ld || st)
			bpfvm_ctx_rewrite_insn(&pi, &out[i]);
	}
	return n;
}

static int vm_test_run(uint32_t type, const struct bpf_insn *insns, size_t n,
		       const struct run_in *in, struct run_out *out)
{
	struct bpfvm_insn prog[64];
	struct bpfvm_test_run_attr a;
	struct bpfvm *vm = bpfvm_create();

	ck_assert(vm && n <= 64);
	ck_assert_int_eq(bpfvm_load(vm, prog, to_bpfvm(type, insns, n, prog)), 0);
	bpfvm_test_run_prepare(vm, type);
	memset(&a, 0, sizeof(a));
	memset(out, 0x5a, sizeof(*out));
	a.data_in = in->data;
	a.data_size_in = in->size;
	a.data_out = out->data;
	a.data_size_out = in->size_out ? in->size_out : sizeof(out->data);
	a.ctx_in = in->ctx;
	a.ctx_size_in = in->ctx_size;
	if (in->ctx_size_out) {
		a.ctx_out = out->ctx;
		a.ctx_size_out = in->ctx_size_out;
	}
	a.repeat = in->repeat;
	out->err = bpfvm_test_run(vm, type, 0, &a);
	out->retval = a.retval;
	out->size_out = a.data_size_out;
	out->ctx_size_out = a.ctx_size_out;
	bpfvm_destroy(vm);
	return out->err;
}

/* Run on both and compare everything the caller gets back. */
static void same_run(const char *what, uint32_t type, const struct bpf_insn *insns,
		     size_t n, const struct run_in *in, bool kernel)
{
	static struct run_out k, v;
	int fd;

	vm_test_run(type, insns, n, in, &v);
	if (!kernel)
		return;
	fd = kload_fd(type, 0, insns, (unsigned)n, 1);
	ck_assert_msg(fd >= 0, "%s: kernel load: %s", what, klog);
	ktest_run(fd, in, &k);
	close(fd);
	ck_assert_msg(k.err == v.err, "%s: kernel err %d, bpfvm %d", what, k.err, v.err);
	if (k.err && k.err != -ENOSPC)
		return;
	ck_assert_msg(k.retval == v.retval, "%s: kernel retval %#x, bpfvm %#x",
		      what, k.retval, v.retval);
	ck_assert_msg(k.size_out == v.size_out, "%s: data_size_out kernel %u, bpfvm %u",
		      what, k.size_out, v.size_out);
	{
		uint32_t cmp = k.size_out;
		if (in->size_out && cmp > in->size_out)
			cmp = in->size_out;
		ck_assert_msg(!memcmp(k.data, v.data, cmp), "%s: data_out differs", what);
		ck_assert_msg(k.data[cmp] == v.data[cmp], "%s: copied past the end", what);
	}
	if (in->ctx_size_out) {
		uint32_t cmp = k.ctx_size_out < in->ctx_size_out ? k.ctx_size_out : in->ctx_size_out;
		ck_assert_msg(k.ctx_size_out == v.ctx_size_out, "%s: ctx_size_out", what);
		for (uint32_t i = 0; i < cmp; i++)
			ck_assert_msg(k.ctx[i] == v.ctx[i], "%s: ctx_out byte %u: kernel %#x, bpfvm %#x",
				      what, i, k.ctx[i], v.ctx[i]);
	}
}

static uint8_t pkt_ip4[64] = {
	0, 0, 0, 0, 0, 0, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00,
	0x45, 0, 0, 50, 0, 0, 0, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
	0x12, 0x34, 0x56, 0x78,
};

/* skb fields a socket filter sees, in one number */
static const struct bpf_insn sf_fields[] = {
	LDXW(0, 1, SKB(len)),
	LDXW(2, 1, SKB(pkt_type)), LSHK(2, 16), XORX(0, 2),
	LDXW(2, 1, SKB(protocol)), LSHK(2, 20), XORX(0, 2),
	LDXW(2, 1, SKB(ifindex)), LSHK(2, 40), XORX(0, 2),
	LDXW(2, 1, SKB(mark)), LSHK(2, 44), XORX(0, 2),
	LDXW(2, 1, SKB(cb[2])), ADDX(0, 2),
	LDXW(2, 1, SKB(priority)), ADDX(0, 2),
	LDXW(2, 1, SKB(gso_segs)), ADDX(0, 2),
	LDXW(2, 1, SKB(ingress_ifindex)), ADDX(0, 2),
	LDXB(2, 1, SKB(protocol) + 1), ADDX(0, 2),  /* narrow */
	EXIT,
};

/* LD_ABS reads after the Ethernet header in a socket filter, from it in tc */
static const struct bpf_insn ld_abs[] = {
	MOVX(6, 1),
	LDABS(BPF_W, 0), MOVX(7, 0),
	LDABS(BPF_H, 12), ADDX(0, 7),
	LDABS(BPF_B, 60), ADDX(0, 7),  /* past the end in sf: returns 0 */
	EXIT,
};

/* tc: the packet through data/data_end; write a byte, mark, cb, priority */
static const struct bpf_insn tc_rw[] = {
	LDXW(2, 1, SKB(data)), LDXW(3, 1, SKB(data_end)),
	LDXW(4, 1, SKB(data_meta)),
	MOVX(0, 3), SUBX(0, 2),           /* r0 = len */
	MOVX(5, 2), SUBX(5, 4), LSHK(5, 32), ADDX(0, 5), /* data - meta */
	MOVX(5, 2), ADDK(5, 20),
	JGTX(5, 3, 3),
	MOVK(5, 0xAA), STXB(2, 5, 19),
	MOVK(5, 7),
	STXW(1, 5, SKB(mark)), STXW(1, 5, SKB(cb[4])), STXW(1, 5, SKB(priority)),
	LDXW(5, 1, SKB(wire_len)), ADDX(0, 5),
	LDXDW(5, 1, SKB(tstamp)), ADDX(0, 5),
	LDXW(5, 1, SKB(gso_size)), ADDX(0, 5),
	LDXDW(5, 1, SKB(hwtstamp)), ADDX(0, 5),
	EXIT,
};

/* cgroup_skb: no data_end in a test run; the socket fields */
static const struct bpf_insn cg_fields[] = {
	LDXW(2, 1, SKB(data)), LDXW(3, 1, SKB(data_end)),
	MOVK(0, 1), ADDK(2, 1), JGTX(2, 3, 1), MOVK(0, 0),
	LDXW(5, 1, SKB(family)), STXW(1, 5, SKB(cb[0])),
	LDXW(5, 1, SKB(remote_ip4)), STXW(1, 5, SKB(cb[1])),
	LDXW(5, 1, SKB(local_ip4)), STXW(1, 5, SKB(cb[2])),
	LDXW(5, 1, SKB(len)), STXW(1, 5, SKB(cb[3])),
	EXIT,
};

/* xdp: lengths, metadata, a written byte */
static const struct bpf_insn xdp_rw[] = {
	LDXW(2, 1, XDP(data)), LDXW(3, 1, XDP(data_end)), LDXW(4, 1, XDP(data_meta)),
	MOVX(0, 3), SUBX(0, 2),
	MOVX(5, 2), SUBX(5, 4), LSHK(5, 16), ADDX(0, 5),
	LDXW(5, 1, XDP(ingress_ifindex)), LSHK(5, 24), ADDX(0, 5),
	LDXW(5, 1, XDP(rx_queue_index)), ADDX(0, 5),
	MOVX(5, 2), ADDK(5, 1), JGTX(5, 3, 2),
	MOVK(5, 0x5C), STXB(2, 5, 0),
	EXIT,
};

/* tc: u16 fields of the kernel's sk_buff written with u32 stores */
static const struct bpf_insn tc_u16[] = {
	I(BPF_LD | BPF_IMM | BPF_DW, 5, 0, 0, 0x12345), I(0, 0, 0, 0, 0),
	STXW(1, 5, SKB(tc_index)),
	I(BPF_LD | BPF_IMM | BPF_DW, 5, 0, 0, 0x54321), I(0, 0, 0, 0, 0),
	STXW(1, 5, SKB(tc_classid)),
	MOVK(5, 0x1234), STXW(1, 5, SKB(queue_mapping)),
	LDXW(0, 1, SKB(tc_index)),
	LDXW(5, 1, SKB(tc_classid)), LSHK(5, 20), ADDX(0, 5),
	LDXW(5, 1, SKB(queue_mapping)), LSHK(5, 40), ADDX(0, 5),
	I(BPF_LDX | BPF_MEM | BPF_H, 5, 1, SKB(tc_index) + 2, 0), ADDX(0, 5),
	EXIT,
};

/* narrow loads of the kernel's u8 and u16 fields, inside the u32: a load
 * as wide as the kernel's field gives all of it wherever it starts */
static const struct bpf_insn tc_narrow[] = {
	I(BPF_LDX | BPF_MEM | BPF_B, 0, 1, SKB(pkt_type) + 3, 0),
	I(BPF_LDX | BPF_MEM | BPF_H, 5, 1, SKB(pkt_type) + 2, 0), LSHK(5, 2), XORX(0, 5),
	I(BPF_LDX | BPF_MEM | BPF_H, 5, 1, SKB(protocol) + 2, 0), LSHK(5, 4), XORX(0, 5),
	I(BPF_LDX | BPF_MEM | BPF_B, 5, 1, SKB(protocol) + 1, 0), LSHK(5, 20), XORX(0, 5),
	I(BPF_LDX | BPF_MEM | BPF_B, 5, 1, SKB(protocol) + 2, 0), LSHK(5, 28), XORX(0, 5),
	I(BPF_LDX | BPF_MEM | BPF_B, 5, 1, SKB(ifindex) + 2, 0), LSHK(5, 29), XORX(0, 5),
	EXIT,
};

/* lwt: the packet after the Ethernet header, mark and cb written */
static const struct bpf_insn lwt_rw[] = {
	LDXW(2, 1, SKB(data)), LDXW(3, 1, SKB(data_end)),
	MOVX(0, 3), SUBX(0, 2),
	LDXW(5, 1, SKB(len)), LSHK(5, 16), ADDX(0, 5),
	LDXW(5, 1, SKB(protocol)), LSHK(5, 32), ADDX(0, 5),
	MOVK(5, 9), STXW(1, 5, SKB(mark)), STXW(1, 5, SKB(cb[0])),
	EXIT,
};

#define N(p) (sizeof(p) / sizeof(p[0]))

/* ---- helper prototypes against the kernel ------------------------------------ */

static int kmap(uint32_t type, uint32_t key, uint32_t value, uint32_t max)
{
	union bpf_attr a;

	memset(&a, 0, sizeof(a));
	a.map_type = type;
	a.key_size = key;
	a.value_size = value;
	a.max_entries = max;
	return (int)syscall(SYS_bpf, BPF_MAP_CREATE, &a, sizeof(a));
}

/* >= 0: every map argument is maps[force_map] (map compatibility test) */
static int force_map = -1;

/* A map the helper takes: the first type it insists on, else a hash map. */
static int map_for(uint32_t id, uint32_t prog_type, int fds[64])
{
	static const struct { uint32_t type, key, value, max; } maps[] = {
		{ BPF_MAP_TYPE_HASH, 8, 8, 1 }, { BPF_MAP_TYPE_PROG_ARRAY, 4, 4, 1 },
		{ BPF_MAP_TYPE_PERF_EVENT_ARRAY, 4, 4, 1 }, { BPF_MAP_TYPE_RINGBUF, 0, 0, 4096 },
		{ BPF_MAP_TYPE_USER_RINGBUF, 0, 0, 4096 }, { BPF_MAP_TYPE_STACK_TRACE, 4, 64, 1 },
		{ BPF_MAP_TYPE_CGROUP_ARRAY, 4, 4, 1 }, { BPF_MAP_TYPE_DEVMAP, 4, 4, 1 },
		{ BPF_MAP_TYPE_SOCKMAP, 4, 4, 1 }, { BPF_MAP_TYPE_SOCKHASH, 4, 4, 1 },
		{ BPF_MAP_TYPE_REUSEPORT_SOCKARRAY, 4, 8, 1 }, { BPF_MAP_TYPE_QUEUE, 0, 8, 1 },
		{ BPF_MAP_TYPE_CGROUP_STORAGE, 12, 8, 0 }, { BPF_MAP_TYPE_PERCPU_ARRAY, 4, 8, 1 },
		{ BPF_MAP_TYPE_ARRAY, 4, 8, 1 }, { BPF_MAP_TYPE_STACK, 0, 8, 1 },
		{ BPF_MAP_TYPE_CPUMAP, 4, 4, 1 }, { BPF_MAP_TYPE_XSKMAP, 4, 4, 1 },
		{ BPF_MAP_TYPE_DEVMAP_HASH, 4, 4, 1 }, { BPF_MAP_TYPE_BLOOM_FILTER, 0, 8, 1 },
		{ BPF_MAP_TYPE_PERCPU_HASH, 8, 8, 1 }, { BPF_MAP_TYPE_LRU_HASH, 8, 8, 1 },
	};
	if (force_map < -1)     /* -2 - i: the type of maps[i], 0 past the end */
		return -2 - force_map < (int)(sizeof(maps) / sizeof(maps[0])) ?
		       (int)maps[-2 - force_map].type : 0;
	if (force_map >= 0) {
		if ((size_t)force_map >= sizeof(maps) / sizeof(maps[0]))
			return -1;
		if (fds[force_map] < 0)
			fds[force_map] = kmap(maps[force_map].type, maps[force_map].key,
					      maps[force_map].value, maps[force_map].max);
		return fds[force_map];
	}
	for (size_t i = 0; i < sizeof(maps) / sizeof(maps[0]); i++) {
		if (!bpfvm_helper_map_compatible(id, maps[i].type, prog_type))
			continue;
		/* a program array belongs to the first program type using it */
		if (fds[i] >= 0 && maps[i].type == BPF_MAP_TYPE_PROG_ARRAY) {
			close(fds[i]);
			fds[i] = -1;
		}
		if (fds[i] < 0)
			fds[i] = kmap(maps[i].type, maps[i].key, maps[i].value, maps[i].max);
		return fds[i];
	}
	return -1;
}

enum { BUILD_OK, BUILD_SKIP };

/* What the level-2 log says r0 is after the call: "N: (85) call ...  ;
 * R0_w=map_value_or_null(id=1,...)" -> "map_value_or_null". */
static const char *call_r0(const char *log)
{
	static char kind[64];
	const char *line = log, *p = NULL;
	bool in_call = false;
	size_t i = 0;

	kind[0] = 0;
	/* the state part of the log: "8: (85) call f#84  ; R0_w=..." or,
	 * after precision marks, "9: R0=..." before the next instruction */
	for (; *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : "") {
		const char *q = line;
		while (*q >= '0' && *q <= '9')
			q++;
		if (q == line || q[0] != ':' || q[1] != ' ')
			continue;
		if (!in_call) {
			if (strncmp(q, ": (85) call ", 12))
				continue;
			in_call = true;
			p = strstr(q, "; R0");
			if (p && (!strchr(q, '\n') || p < strchr(q, '\n')))
				break;
			p = NULL;
		} else {
			if (!strncmp(q, ": R0", 4))
				p = q;
			break;
		}
	}
	if (!p || !(p = strchr(p, '=')))
		return kind;
	for (p++; *p && *p != '(' && *p != ' ' && *p != '\n' && i + 1 < sizeof(kind); p++)
		kind[i++] = *p;
	kind[i] = 0;
	return kind;
}

/* The kernel's name of the register a return kind makes. */
static bool ret_kind_ok(const struct bpfvm_helper_proto *hp)
{
	const char *k = call_r0(klog);

	switch (hp->ret) {
	case BPFVM_RET_INTEGER:
	case BPFVM_RET_VOID:
		/* an unknown scalar prints bare ("R0_w=scalar()") or, when the
		 * log elides it, not at all */
		return !strcmp(k, "scalar") || !*k;
	case BPFVM_RET_PTR_TO_MAP_VALUE:
		return !strcmp(k, "map_value");
	case BPFVM_RET_PTR_TO_MAP_VALUE_OR_NULL:
		return !strcmp(k, "map_value_or_null");
	case BPFVM_RET_PTR_TO_SOCKET_OR_NULL:
		return !strcmp(k, "sock_or_null");
	case BPFVM_RET_PTR_TO_SOCK_COMMON_OR_NULL:
		return !strcmp(k, "sock_common_or_null");
	case BPFVM_RET_PTR_TO_RINGBUF_MEM_OR_NULL:
		return !strcmp(k, "ringbuf_mem_or_null");
	}
	return true;  /* BTF-typed results: named by struct, not checked */
}

/* r6 = ctx; 64 zero bytes at fp-64; r1-r5 as the prototype asks (a map,
 * fp-64 for memory, 8 for sizes, ctx, a callback); call; r0 = ret_ok;
 * exit; the callback returns 0.  `mutate` (1-5): that argument gets the
 * wrong kind instead (a scalar for a pointer, a pointer for a size). */
/* When set, memory arguments point into the packet (tc, xdp) rather than
 * the stack: r7 = data, checked 64 bytes long against data_end. */
static struct { bool on; int data, end; } pkt_mem;

static int build_call(const struct bpfvm_helper_proto *hp, uint32_t id,
		      uint32_t prog_type, int fds[64], int ret_ok, int mutate,
		      struct bpf_insn *p, unsigned *n, bool *mutated)
{
	unsigned k = 0;
	int func_at = -1;

	*mutated = false;
	int pkt_jmp = -1;

	p[k++] = MOVX(6, 1);
	for (int o = 8; o <= 64; o += 8)
		p[k++] = I(BPF_ST | BPF_MEM | BPF_DW, 10, 0, -o, 0);
	if (pkt_mem.on) {
		p[k++] = LDXW(7, 1, pkt_mem.data);
		p[k++] = LDXW(8, 1, pkt_mem.end);
		p[k++] = MOVX(9, 7);
		p[k++] = ADDK(9, 64);
		pkt_jmp = (int)k;
		p[k++] = JGTX(9, 8, 0);
	}
	for (int a = 0; a < 5; a++) {
		uint32_t t = hp->args[a], base = BPFVM_BASE_TYPE(t);
		uint8_t r = (uint8_t)(a + 1);
		bool wrong = mutate == a + 1;

		switch (base) {
		case BPFVM_ARG_DONTCARE:
			break;
		case BPFVM_ARG_ANYTHING:
			p[k++] = MOVK(r, 0);
			break;
		case BPFVM_ARG_CONST_SIZE:
		case BPFVM_ARG_CONST_SIZE_OR_ZERO:
		case BPFVM_ARG_CONST_ALLOC_SIZE_OR_ZERO:
			if (wrong) {
				p[k++] = MOVX(r, 10);
				p[k++] = ADDK(r, -64);
				*mutated = true;
			} else {
				p[k++] = MOVK(r, 8);
			}
			break;
		case BPFVM_ARG_CONST_MAP_PTR: {
			int fd = map_for(id, prog_type, fds);
			if (fd < 0)
				return BUILD_SKIP;
			if (wrong) {
				p[k++] = MOVK(r, 1);
				*mutated = true;
				break;
			}
			p[k++] = I(BPF_LD | BPF_IMM | BPF_DW, r, BPF_PSEUDO_MAP_FD, 0, fd);
			p[k++] = I(0, 0, 0, 0, 0);
			break;
		}
		case BPFVM_ARG_PTR_TO_MAP_KEY:
		case BPFVM_ARG_PTR_TO_MAP_VALUE:
		case BPFVM_ARG_PTR_TO_MEM:
		case BPFVM_ARG_PTR_TO_STACK:
			if (wrong) {
				p[k++] = MOVK(r, 1);
				*mutated = true;
				break;
			}
			if (pkt_mem.on && base != BPFVM_ARG_PTR_TO_STACK) {
				p[k++] = MOVX(r, 7);
				break;
			}
			p[k++] = MOVX(r, 10);
			p[k++] = ADDK(r, -64);
			break;
		case BPFVM_ARG_PTR_TO_CTX:
			p[k++] = wrong ? MOVK(r, 1) : MOVX(r, 6);
			*mutated |= wrong;
			break;
		case BPFVM_ARG_PTR_TO_FUNC:
			if (wrong) {
				p[k++] = MOVK(r, 1);
				*mutated = true;
				break;
			}
			func_at = (int)k;
			p[k++] = I(BPF_LD | BPF_IMM | BPF_DW, r, BPF_PSEUDO_FUNC, 0, 0);
			p[k++] = I(0, 0, 0, 0, 0);
			break;
		default:
			return BUILD_SKIP;
		}
	}
	p[k++] = I(BPF_JMP | BPF_CALL, 0, 0, 0, (int32_t)id);
	/* a reference comes back: release it when not NULL */
	if (hp->ret == BPFVM_RET_PTR_TO_SOCKET_OR_NULL ||
	    hp->ret == BPFVM_RET_PTR_TO_SOCK_COMMON_OR_NULL ||
	    hp->ret == BPFVM_RET_PTR_TO_RINGBUF_MEM_OR_NULL) {
		bool rb = hp->ret == BPFVM_RET_PTR_TO_RINGBUF_MEM_OR_NULL;
		p[k++] = I(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 3, 0);
		p[k++] = MOVX(1, 0);
		p[k++] = MOVK(2, 0);
		p[k++] = I(BPF_JMP | BPF_CALL, 0, 0, 0, rb ? 133 /* ringbuf_discard */
							     : 86 /* sk_release */);
	}
	if (pkt_jmp >= 0)
		p[pkt_jmp].off = (int16_t)(k - (unsigned)pkt_jmp - 1);
	p[k++] = MOVK(0, ret_ok);
	p[k++] = EXIT;
	if (func_at >= 0) {
		p[func_at].imm = (int32_t)k - func_at - 1;
		p[k++] = MOVK(0, 0);
		p[k++] = EXIT;
	}
	*n = k;
	return BUILD_OK;
}

/* For every helper a type may call whose arguments these tests can build
 * (maps, stack memory, sizes, ctx, callbacks): a call made from our
 * prototype loads; the same call with one pointer argument turned into a
 * scalar (or a size into a pointer) does not; and the kernel says "might
 * sleep" exactly for the helpers marked so. */
START_TEST(helper_protos_match_kernel)
{
	unsigned bad = 0, built = 0;
	int fds[64];

	if (!kernel_ok())
		return;
	memset(fds, -1, sizeof(fds));
	for (size_t kk = 0; kk < NKINDS; kk++) {
		struct bpfvm_prog_info pi = { kinds[kk].type, kinds[kk].eat };
		const struct bpfvm_prog_type *pt = bpfvm_prog_type(pi.type);
		struct bpfvm_ret_range r = { false, 0, 0 };

		if (pt->ret_range)
			pt->ret_range(&pi, &r);
		for (uint32_t id = 1; id < BPFVM_FUNC_MAX_ID; id++) {
			const struct bpfvm_helper_proto *hp = bpfvm_helper_proto(&pi, id);
			struct bpf_insn p[64];
			unsigned n;
			bool mutated, sleep;
			int err;

			if (!hp)
				continue;
			if (BPFVM_BASE_TYPE(hp->ret) == BPFVM_RET_PTR_TO_TCP_SOCK ||
			    BPFVM_BASE_TYPE(hp->ret) == BPFVM_RET_PTR_TO_MEM_OR_BTF_ID ||
			    (BPFVM_BASE_TYPE(hp->ret) == BPFVM_RET_PTR_TO_SOCKET &&
			     hp->ret != BPFVM_RET_PTR_TO_SOCKET_OR_NULL))
				continue;
			if (build_call(hp, id, pi.type, fds, r.min, 0, p, &n, &mutated) != BUILD_OK)
				continue;
			/* callbacks need BTF func_info, out of reach here */
			if (n > 2 && p[n - 1].code == (BPF_JMP | BPF_EXIT) &&
			    p[n - 3].code == (BPF_JMP | BPF_EXIT))
				continue;
			built++;
			err = kload(pi.type, pi.expected_attach_type, p, n, 2);
			if (!err && !ret_kind_ok(hp))
				if (bad++ < 200)
					printf("%s: bpf_%s#%u returns %s\n", pt->name, hp->name,
					       id, call_r0(klog));
			/* check_get_func_ip: kprobe (and tracing) only; the others
			 * fail the load with ENOTSUPP */
			if (id == 173 && pi.type != BPF_PROG_TYPE_KPROBE && err == -524 &&
			    strstr(klog, "not supported for program type"))
				continue;
			sleep = strstr(klog, "might sleep") != NULL;
			if (sleep != !!(hp->flags & BPFVM_PROTO_MIGHT_SLEEP) ||
			    (err && !sleep)) {
				if (bad++ < 200)
					printf("%s: bpf_%s#%u built from the table: err %d: %s\n", pt->name,
					       hp->name, id, err, strrchr(klog, ':') ? "" : klog);
				continue;
			}
			if (sleep)
				continue;
			for (int m = 1; m <= 5; m++) {
				if (build_call(hp, id, pi.type, fds, r.min, m, p, &n, &mutated) != BUILD_OK ||
				    !mutated)
					continue;
				if (kload(pi.type, pi.expected_attach_type, p, n, 1) == 0 &&
				    bad++ < 200)
					printf("%s: bpf_%s#%u accepts a wrong arg%d\n",
					       pt->name, hp->name, id, m);
			}
		}
	}
	for (int i = 0; i < 64; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	printf("helper prototypes: %u calls built, %u differ\n", built, bad);
	ck_assert_uint_gt(built, 500);
	ck_assert_uint_eq(bad, 0);
}
END_TEST



/* Loads through socket pointers: skb->sk (sock_common), sk_fullsock()
 * (sock) and tcp_sock() (tcp_sock) in a tc program. */
START_TEST(sock_access_matches_kernel)
{
	static const uint8_t sz[4] = { BPF_B, BPF_H, BPF_W, BPF_DW };
	static const struct { enum bpfvm_sock_kind kind; int helper, end; } socks[] = {
		{ BPFVM_SOCK_COMMON, 0, (int)sizeof(struct bpf_sock) },
		{ BPFVM_SOCK, 95 /* sk_fullsock */, (int)sizeof(struct bpf_sock) },
		{ BPFVM_TCP_SOCK, 96 /* tcp_sock */, 120 },
	};
	unsigned bad = 0, checked = 0;

	if (!kernel_ok())
		return;
	for (size_t k = 0; k < 3; k++)
		for (int off = -8; off < socks[k].end + 8; off++)
			for (int s = 0; s < 4; s++) {
				struct bpf_insn p[12];
				unsigned n = 0;
				bool ours, theirs;

				p[n++] = LDXDW(2, 1, SKB(sk));
				p[n++] = I(BPF_JMP | BPF_JEQ | BPF_K, 2, 0, socks[k].helper ? 5 : 1, 0);
				if (socks[k].helper) {
					p[n++] = MOVX(1, 2);
					p[n++] = I(BPF_JMP | BPF_CALL, 0, 0, 0, socks[k].helper);
					p[n++] = I(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 2, 0);
					p[n++] = MOVX(2, 0);
				}
				p[n++] = I(BPF_LDX | BPF_MEM | sz[s], 0, 2, off, 0);
				p[n++] = MOVK(0, 0);
				p[n++] = EXIT;
				theirs = kload(BPF_PROG_TYPE_SCHED_CLS, 0, p, n, 1) == 0;
				ours = bpfvm_sock_access_ok(socks[k].kind, off, 1 << s, NULL);
				checked++;
				if (ours != theirs && bad++ < 40)
					printf("sock kind %d: load off=%d size=%d: kernel %s, table %s\n",
					       socks[k].kind, off, 1 << s,
					       theirs ? "accepts" : "rejects", ours ? "accepts" : "rejects");
			}
	printf("socket access: %u combinations checked, %u differ\n", checked, bad);
	ck_assert_uint_eq(bad, 0);
}
END_TEST

/* Which types have a test run at all (ENOTSUPP otherwise). */
START_TEST(kernel_test_run_flags_match_kernel)
{
	static const struct bpf_insn p[2] = { MOVK(0, 1), EXIT };
	struct run_in in = { pkt_ip4, sizeof(pkt_ip4), 0, NULL, 0, 0, 1 };
	unsigned bad = 0;

	if (!kernel_ok())
		return;
	for (size_t kk = 0; kk < NKINDS; kk++) {
		const struct bpfvm_prog_type *pt = bpfvm_prog_type(kinds[kk].type);
		static struct run_out out;
		int fd = kload_fd(kinds[kk].type, kinds[kk].eat, p, 2, 1);

		ck_assert_msg(fd >= 0, "%s: %s", pt->name, klog);
		ktest_run(fd, &in, &out);
		close(fd);
		if ((out.err != -524) != pt->kernel_test_run && bad++ < 40)
			printf("%s: kernel test run answers %d, table says %s\n", pt->name,
			       out.err, pt->kernel_test_run ? "has one" : "none");
		/* bpfvm's own: the kernel's answer where bpfvm has a test run */
		if (pt->has_test_run)
			ck_assert_msg(pt->kernel_test_run, "%s", pt->name);
	}
	ck_assert_uint_eq(bad, 0);
}
END_TEST

/* A store through a packet pointer from the context: allowed exactly
 * where the table says RW ("cannot write into packet" otherwise). */
START_TEST(packet_writes_match_kernel)
{
	static const struct { uint32_t type, eat; int data, end, size; } ptypes[] = {
		{ BPF_PROG_TYPE_SCHED_CLS, 0, 76, 80, 4 },
		{ BPF_PROG_TYPE_SCHED_ACT, 0, 76, 80, 4 },
		{ BPF_PROG_TYPE_XDP, 0, 0, 4, 4 },
		{ BPF_PROG_TYPE_CGROUP_SKB, 0, 76, 80, 4 },
		{ BPF_PROG_TYPE_LWT_IN, 0, 76, 80, 4 },
		{ BPF_PROG_TYPE_LWT_OUT, 0, 76, 80, 4 },
		{ BPF_PROG_TYPE_LWT_XMIT, 0, 76, 80, 4 },
		{ BPF_PROG_TYPE_LWT_SEG6LOCAL, 0, 76, 80, 4 },
		{ BPF_PROG_TYPE_SK_SKB, 0, 76, 80, 4 },
		{ BPF_PROG_TYPE_FLOW_DISSECTOR, 0, 76, 80, 4 },
		{ BPF_PROG_TYPE_SK_MSG, 0, 0, 8, 8 },
		{ BPF_PROG_TYPE_SK_REUSEPORT, 0, 0, 8, 8 },
		{ BPF_PROG_TYPE_SOCK_OPS, 0, 192, 200, 8 },
		{ BPF_PROG_TYPE_CGROUP_SOCKOPT, BPF_CGROUP_SETSOCKOPT, 8, 16, 8 },
	};
	unsigned bad = 0;

	if (!kernel_ok())
		return;
	for (size_t i = 0; i < sizeof(ptypes) / sizeof(ptypes[0]); i++) {
		uint8_t sz = ptypes[i].size == 8 ? BPF_DW : BPF_W;
		struct bpf_insn p[] = {
			I(BPF_LDX | BPF_MEM | sz, 2, 1, ptypes[i].data, 0),
			I(BPF_LDX | BPF_MEM | sz, 3, 1, ptypes[i].end, 0),
			MOVX(4, 2), ADDK(4, 1),
			JGTX(4, 3, 2),
			MOVK(5, 1), STXB(2, 5, 0),
			MOVK(0, 1), EXIT,
		};
		const struct bpfvm_prog_type *pt = bpfvm_prog_type(ptypes[i].type);
		int err = kload(ptypes[i].type, ptypes[i].eat, p, N(p), 1);

		if ((err == 0) != (pt->pkt_access == BPFVM_PKT_RW) && bad++ < 20)
			printf("%s: packet store: kernel %d (%s), table %d\n", pt->name, err,
			       klog, pt->pkt_access);
	}
	ck_assert_uint_eq(bad, 0);
}
END_TEST

/* pkt_access: a helper may take packet memory exactly when its
 * prototype says so ("helper access to the packet is not allowed"). */
START_TEST(helper_pkt_access_matches_kernel)
{
	static const struct { uint32_t type; int data, end; } where[] = {
		{ BPF_PROG_TYPE_SCHED_CLS, 76, 80 }, { BPF_PROG_TYPE_XDP, 0, 4 },
	};
	unsigned bad = 0, built = 0;
	int fds[64];

	if (!kernel_ok())
		return;
	memset(fds, -1, sizeof(fds));
	for (size_t w = 0; w < 2; w++) {
		struct bpfvm_prog_info pi = { where[w].type, 0 };

		pkt_mem.on = true;
		pkt_mem.data = where[w].data;
		pkt_mem.end = where[w].end;
		for (uint32_t id = 1; id < BPFVM_FUNC_MAX_ID; id++) {
			const struct bpfvm_helper_proto *hp = bpfvm_helper_proto(&pi, id);
			struct bpf_insn p[64];
			unsigned n;
			bool mutated, mem = false, pkt_ok;
			int err;

			if (!hp || (hp->flags & BPFVM_PROTO_MIGHT_SLEEP))
				continue;
			for (int a = 0; a < 5; a++) {
				uint32_t b = BPFVM_BASE_TYPE(hp->args[a]);
				mem |= b == BPFVM_ARG_PTR_TO_MEM || b == BPFVM_ARG_PTR_TO_MAP_KEY ||
				       b == BPFVM_ARG_PTR_TO_MAP_VALUE;
			}
			if (!mem || (BPFVM_BASE_TYPE(hp->ret) != BPFVM_RET_INTEGER &&
				     BPFVM_BASE_TYPE(hp->ret) != BPFVM_RET_VOID &&
				     hp->ret != BPFVM_RET_PTR_TO_MAP_VALUE_OR_NULL &&
				     hp->ret != BPFVM_RET_PTR_TO_SOCKET_OR_NULL &&
				     hp->ret != BPFVM_RET_PTR_TO_SOCK_COMMON_OR_NULL))
				continue;
			if (build_call(hp, id, pi.type, fds, 0, 0, p, &n, &mutated) != BUILD_OK)
				continue;
			built++;
			err = kload(pi.type, 0, p, n, 1);
			pkt_ok = hp->flags & BPFVM_PROTO_PKT_ACCESS;
			if ((err == 0) != pkt_ok && bad++ < 30)
				printf("%s: bpf_%s#%u with packet memory: kernel %d (%s), table %s\n",
				       bpfvm_prog_type(pi.type)->name, hp->name, id, err,
				       err ? strrchr(klog, '\n') ? "see log" : klog : "",
				       pkt_ok ? "pkt_access" : "no pkt_access");
		}
	}
	pkt_mem.on = false;
	for (int i = 0; i < 64; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	printf("helper packet access: %u calls, %u differ\n", built, bad);
	ck_assert_uint_gt(built, 20);
	ck_assert_uint_eq(bad, 0);
}
END_TEST

/* gpl_only: a non-GPL program may not call the helper ("cannot call
 * GPL-restricted function from non-GPL compatible program"). */
START_TEST(helper_gpl_only_matches_kernel)
{
	static const uint32_t types[] = { BPF_PROG_TYPE_KPROBE, BPF_PROG_TYPE_SCHED_CLS,
		BPF_PROG_TYPE_XDP, BPF_PROG_TYPE_SOCKET_FILTER, BPF_PROG_TYPE_TRACEPOINT };
	unsigned bad = 0, built = 0;
	int fds[64];

	if (!kernel_ok())
		return;
	memset(fds, -1, sizeof(fds));
	klicense = "Proprietary";
	for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
		struct bpfvm_prog_info pi = { types[t], 0 };

		for (uint32_t id = 1; id < BPFVM_FUNC_MAX_ID; id++) {
			const struct bpfvm_helper_proto *hp = bpfvm_helper_proto(&pi, id);
			struct bpf_insn p[64];
			unsigned n;
			bool mutated, gpl;

			if (!hp || build_call(hp, id, pi.type, fds, 0, 0, p, &n, &mutated) != BUILD_OK)
				continue;
			built++;
			kload(pi.type, 0, p, n, 1);
			gpl = strstr(klog, "GPL-restricted") != NULL;
			if (gpl != !!(hp->flags & BPFVM_PROTO_GPL_ONLY) && bad++ < 30)
				printf("%s: bpf_%s#%u: kernel %s, table %s\n",
				       bpfvm_prog_type(pi.type)->name, hp->name, id,
				       gpl ? "gpl_only" : "not gpl_only",
				       gpl ? "not gpl_only" : "gpl_only");
		}
	}
	klicense = "GPL";
	for (int i = 0; i < 64; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	printf("helper gpl_only: %u calls, %u differ\n", built, bad);
	ck_assert_uint_eq(bad, 0);
}
END_TEST

/* check_map_func_compatibility: each helper taking a map, with each kind
 * of map: "cannot pass map_type N into func" exactly where the table says
 * no.  (Other refusals, a queue's zero-sized key say, are not counted.) */
START_TEST(helper_map_compat_matches_kernel)
{
	static const uint32_t types[] = { BPF_PROG_TYPE_SCHED_CLS, BPF_PROG_TYPE_XDP,
		BPF_PROG_TYPE_KPROBE, BPF_PROG_TYPE_SOCKET_FILTER };
	unsigned bad = 0, compared = 0;
	int fds[64];

	if (!kernel_ok())
		return;
	memset(fds, -1, sizeof(fds));
	for (int m = 0; m < 64; m++) {
		uint32_t map_type;

		force_map = -2 - m;
		map_type = (uint32_t)map_for(0, 0, fds);
		if (!map_type)
			break;
		force_map = m;
		for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
			struct bpfvm_prog_info pi = { types[t], 0 };

			for (uint32_t id = 1; id < BPFVM_FUNC_MAX_ID; id++) {
				const struct bpfvm_helper_proto *hp = bpfvm_helper_proto(&pi, id);
				struct bpf_insn p[64];
				unsigned n;
				bool mutated, has_map = false, theirs, ours;
				int err;

				if (!hp || (hp->flags & BPFVM_PROTO_MIGHT_SLEEP))
					continue;
				for (int a = 0; a < 5; a++)
					has_map |= hp->args[a] == BPFVM_ARG_CONST_MAP_PTR;
				if (!has_map || build_call(hp, id, pi.type, fds, 0, 0, p, &n,
							   &mutated) != BUILD_OK)
					continue;
				if (n > 2 && p[n - 1].code == (BPF_JMP | BPF_EXIT) &&
				    p[n - 3].code == (BPF_JMP | BPF_EXIT))
					continue;  /* callbacks need BTF */
				err = kload(pi.type, 0, p, n, 1);
				theirs = !strstr(klog, "cannot pass map_type");
				if (err && theirs)
					continue;  /* refused for another reason */
				ours = bpfvm_helper_map_compatible(id, map_type, pi.type);
				compared++;
				if (ours != theirs && bad++ < 30)
					printf("%s: bpf_%s#%u with map type %u: kernel %s, table %s\n",
					       bpfvm_prog_type(pi.type)->name, hp->name, id, map_type,
					       theirs ? "takes it" : "refuses",
					       ours ? "takes it" : "refuses");
			}
		}
	}
	force_map = -1;
	for (int i = 0; i < 64; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	printf("helper map compatibility: %u compared, %u differ\n", compared, bad);
	ck_assert_uint_gt(compared, 100);
	ck_assert_uint_eq(bad, 0);
}
END_TEST

START_TEST(test_run_skb_matches_kernel)
{
	bool k = kernel_ok();
	struct __sk_buff ctx;
	uint8_t big[4096] = { 0 };
	struct run_in in = { pkt_ip4, sizeof(pkt_ip4), 0, NULL, 0, 0, 1 };

	same_run("sf fields", BPF_PROG_TYPE_SOCKET_FILTER, sf_fields, N(sf_fields), &in, k);
	same_run("sf ld_abs", BPF_PROG_TYPE_SOCKET_FILTER, ld_abs, N(ld_abs), &in, k);
	same_run("tc ld_abs", BPF_PROG_TYPE_SCHED_CLS, ld_abs, N(ld_abs), &in, k);
	same_run("tc rw", BPF_PROG_TYPE_SCHED_CLS, tc_rw, N(tc_rw), &in, k);
	same_run("tc u16 fields", BPF_PROG_TYPE_SCHED_CLS, tc_u16, N(tc_u16), &in, k);
	same_run("tc narrow", BPF_PROG_TYPE_SCHED_CLS, tc_narrow, N(tc_narrow), &in, k);
	same_run("act rw", BPF_PROG_TYPE_SCHED_ACT, tc_rw, N(tc_rw), &in, k);
	same_run("cg fields", BPF_PROG_TYPE_CGROUP_SKB, cg_fields, N(cg_fields), &in, k);
	same_run("lwt_in", BPF_PROG_TYPE_LWT_IN, lwt_rw, N(lwt_rw), &in, k);
	same_run("lwt_out", BPF_PROG_TYPE_LWT_OUT, lwt_rw, N(lwt_rw), &in, k);
	same_run("lwt_xmit", BPF_PROG_TYPE_LWT_XMIT, lwt_rw, N(lwt_rw), &in, k);
	in.repeat = 100;
	same_run("tc repeat", BPF_PROG_TYPE_SCHED_CLS, tc_rw, N(tc_rw), &in, k);
	in.repeat = 1;

	/* ctx_in / ctx_out: the fields a caller may set, and the rest */
	memset(&ctx, 0, sizeof(ctx));
	ctx.mark = 3; ctx.priority = 4; ctx.cb[2] = 0x1234; ctx.ingress_ifindex = 1;
	ctx.tstamp = 99; ctx.gso_segs = 2; ctx.gso_size = 1400; ctx.hwtstamp = 7;
	ctx.wire_len = 100;
	in.ctx = &ctx; in.ctx_size = sizeof(ctx); in.ctx_size_out = sizeof(ctx);
	same_run("sf ctx", BPF_PROG_TYPE_SOCKET_FILTER, sf_fields, N(sf_fields), &in, k);
	same_run("tc ctx", BPF_PROG_TYPE_SCHED_CLS, tc_rw, N(tc_rw), &in, k);
	same_run("cg ctx", BPF_PROG_TYPE_CGROUP_SKB, cg_fields, N(cg_fields), &in, k);
	same_run("lwt ctx", BPF_PROG_TYPE_LWT_XMIT, lwt_rw, N(lwt_rw), &in, k);
	in.ctx_size_out = 20;   /* too small: ENOSPC, truncated */
	same_run("ctx_out small", BPF_PROG_TYPE_SCHED_CLS, tc_rw, N(tc_rw), &in, k);
	in.ctx_size_out = sizeof(ctx);
	ctx.wire_len = 10;      /* below skb->len */
	same_run("wire_len short", BPF_PROG_TYPE_SCHED_CLS, tc_rw, N(tc_rw), &in, k);
	ctx.wire_len = 0;
	ctx.len = 1;            /* not the caller's to set */
	same_run("ctx len", BPF_PROG_TYPE_SCHED_CLS, tc_rw, N(tc_rw), &in, k);
	ctx.len = 0;
	ctx.ifindex = 1;
	same_run("ctx ifindex 1", BPF_PROG_TYPE_SCHED_CLS, tc_rw, N(tc_rw), &in, k);
	ctx.ifindex = 0;
	in.ctx_size = sizeof(ctx) + 8;  /* a longer ctx: its tail must be zero */
	{
		uint8_t longer[sizeof(ctx) + 8] = { 0 };
		memcpy(longer, &ctx, sizeof(ctx));
		in.ctx = longer;
		same_run("ctx longer, zero tail", BPF_PROG_TYPE_SCHED_CLS, tc_rw, N(tc_rw), &in, k);
		longer[sizeof(ctx) + 3] = 1;
		same_run("ctx longer, tail", BPF_PROG_TYPE_SCHED_CLS, tc_rw, N(tc_rw), &in, k);
	}
	in.ctx = NULL; in.ctx_size = 0; in.ctx_size_out = 0;

	/* data sizes */
	in.size_out = 10;       /* ENOSPC, truncated copy, full size reported */
	same_run("data_out small", BPF_PROG_TYPE_SCHED_CLS, tc_rw, N(tc_rw), &in, k);
	same_run("sf data_out small", BPF_PROG_TYPE_SOCKET_FILTER, sf_fields, N(sf_fields), &in, k);
	in.size_out = 0;
	in.size = 13;
	same_run("short packet", BPF_PROG_TYPE_SCHED_CLS, tc_rw, N(tc_rw), &in, k);
	in.data = big;
	in.size = 4096 - 64 - 320;
	same_run("largest", BPF_PROG_TYPE_SCHED_CLS, tc_rw, N(tc_rw), &in, k);
	in.size++;
	same_run("too large", BPF_PROG_TYPE_SCHED_CLS, tc_rw, N(tc_rw), &in, k);
}
END_TEST

START_TEST(test_run_packets_match_kernel)
{
	bool k = kernel_ok();
	uint8_t pkt[200];
	uint64_t x = 0x9e3779b97f4a7c15ull;

	/* random frames: addresses, ethertypes (IPv4, IPv6, 802.3), lengths */
	for (int i = 0; i < 60; i++) {
		struct run_in in = { pkt, 0, 0, NULL, 0, 0, 1 };
		static const uint16_t types[] = { 0x0800, 0x86dd, 0x0806, 0x0100, 0x05ff };

		for (size_t j = 0; j < sizeof(pkt); j++) {
			x ^= x << 13; x ^= x >> 7; x ^= x << 17;
			pkt[j] = (uint8_t)x;
		}
		if (i % 3 == 0)
			memset(pkt, 0, 6);
		if (i % 5 == 1)
			memset(pkt, 0xff, 6);
		pkt[12] = (uint8_t)(types[i % 5] >> 8);
		pkt[13] = (uint8_t)types[i % 5];
		if (i % 7 == 0)
			pkt[14] = pkt[15] = 0xff;
		/* around the IPv4 and IPv6 header ends, and anywhere */
		in.size = i % 4 == 0 ? 30 + (uint32_t)(x % 8) :
			  i % 4 == 1 ? 50 + (uint32_t)(x % 8) : 14 + (uint32_t)(x % 180);
		if (getenv("PT_DEBUG")) printf("i=%d size=%u proto=%02x%02x dst0=%02x\n", i, in.size, pkt[12], pkt[13], pkt[0]);
		same_run("random sf", BPF_PROG_TYPE_SOCKET_FILTER, sf_fields, N(sf_fields), &in, k);
		same_run("random tc", BPF_PROG_TYPE_SCHED_CLS, tc_rw, N(tc_rw), &in, k);
		same_run("random narrow", BPF_PROG_TYPE_SCHED_CLS, tc_narrow, N(tc_narrow), &in, k);
		same_run("random cg", BPF_PROG_TYPE_CGROUP_SKB, cg_fields, N(cg_fields), &in, k);
		same_run("random xdp", BPF_PROG_TYPE_XDP, xdp_rw, N(xdp_rw), &in, k);
		same_run("random ld_abs", BPF_PROG_TYPE_SOCKET_FILTER, ld_abs, N(ld_abs), &in, k);
	}
}
END_TEST

START_TEST(test_run_xdp_matches_kernel)
{
	bool k = kernel_ok();
	struct xdp_md ctx;
	uint8_t meta_pkt[64 + 8];
	static uint8_t big[4096];
	struct run_in in = { pkt_ip4, sizeof(pkt_ip4), 0, NULL, 0, 0, 1 };

	same_run("xdp", BPF_PROG_TYPE_XDP, xdp_rw, N(xdp_rw), &in, k);
	in.size_out = 5;
	same_run("xdp data_out small", BPF_PROG_TYPE_XDP, xdp_rw, N(xdp_rw), &in, k);
	in.size_out = 0;
	/* metadata: the first ctx.data bytes of data_in */
	memset(meta_pkt, 0x11, 8);
	memcpy(meta_pkt + 8, pkt_ip4, 64);
	memset(&ctx, 0, sizeof(ctx));
	ctx.data = 8; ctx.data_end = sizeof(meta_pkt);
	in.data = meta_pkt; in.size = sizeof(meta_pkt);
	in.ctx = &ctx; in.ctx_size = sizeof(ctx); in.ctx_size_out = sizeof(ctx);
	same_run("xdp meta", BPF_PROG_TYPE_XDP, xdp_rw, N(xdp_rw), &in, k);
	ctx.data = 6;           /* not a multiple of 4 */
	same_run("xdp meta 6", BPF_PROG_TYPE_XDP, xdp_rw, N(xdp_rw), &in, k);
	ctx.data = 8; ctx.data_end = 10;  /* linear part: 10 bytes, then fragments */
	same_run("xdp data_end", BPF_PROG_TYPE_XDP, xdp_rw, N(xdp_rw), &in, k);
	ctx.data_end = 80;                /* beyond data_size_in */
	same_run("xdp data_end big", BPF_PROG_TYPE_XDP, xdp_rw, N(xdp_rw), &in, k);
	ctx.data = 0; ctx.data_end = 0;   /* nothing linear */
	same_run("xdp data_end 0", BPF_PROG_TYPE_XDP, xdp_rw, N(xdp_rw), &in, k);
	ctx.data = 36; ctx.data_end = sizeof(meta_pkt);
	same_run("xdp meta 36", BPF_PROG_TYPE_XDP, xdp_rw, N(xdp_rw), &in, k);
	ctx.data = 8;
	ctx.data_end = sizeof(meta_pkt); ctx.data_meta = 4;
	same_run("xdp data_meta", BPF_PROG_TYPE_XDP, xdp_rw, N(xdp_rw), &in, k);
	ctx.data_meta = 0; ctx.egress_ifindex = 1;
	same_run("xdp egress", BPF_PROG_TYPE_XDP, xdp_rw, N(xdp_rw), &in, k);
	ctx.egress_ifindex = 0; ctx.rx_queue_index = 1;
	same_run("xdp rxq without dev", BPF_PROG_TYPE_XDP, xdp_rw, N(xdp_rw), &in, k);
	ctx.rx_queue_index = 0;
	in.ctx_size_out = 8;
	same_run("xdp ctx_out small", BPF_PROG_TYPE_XDP, xdp_rw, N(xdp_rw), &in, k);
	in.ctx = NULL; in.ctx_size = 0; in.ctx_size_out = 0;
	in.data = big;
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 7);
	in.size = 4096 - 256 - 320;
	same_run("xdp largest linear", BPF_PROG_TYPE_XDP, xdp_rw, N(xdp_rw), &in, k);
	in.size = 4000;         /* the rest in fragments */
	same_run("xdp fragments", BPF_PROG_TYPE_XDP, xdp_rw, N(xdp_rw), &in, k);
	{
		static uint8_t huge[3520 + 17 * 4096 + 1];
		in.data = huge;
		in.size = sizeof(huge) - 1;   /* 17 full fragments */
		same_run("xdp most fragments", BPF_PROG_TYPE_XDP, xdp_rw, N(xdp_rw), &in, k);
		in.size++;
		same_run("xdp too many fragments", BPF_PROG_TYPE_XDP, xdp_rw, N(xdp_rw), &in, k);
		in.data = big;
	}
	in.size = 13;
	same_run("xdp short", BPF_PROG_TYPE_XDP, xdp_rw, N(xdp_rw), &in, k);
}
END_TEST

START_TEST(test_run_unsupported_types)
{
	static const struct bpf_insn ret0[] = { MOVK(0, 0), EXIT };
	struct run_in in = { pkt_ip4, sizeof(pkt_ip4), 0, NULL, 0, 0, 1 };
	bool k = kernel_ok();

	same_run("kprobe", BPF_PROG_TYPE_KPROBE, ret0, 2, &in, k);
	same_run("tracepoint", BPF_PROG_TYPE_TRACEPOINT, ret0, 2, &in, k);
	same_run("sk_skb", BPF_PROG_TYPE_SK_SKB, ret0, 2, &in, k);
	{
		static struct run_out v;
		vm_test_run(BPF_PROG_TYPE_PERF_EVENT, ret0, 2, &in, &v);
		ck_assert_int_eq(v.err, -524);
	}
}
END_TEST

/* ---- the corpus's test runs ----------------------------------------------- */

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static size_t unhex(const char *h, uint8_t *out, size_t max)
{
	size_t n = 0;
	while (h[0] && h[1] && hexval(h[0]) >= 0 && n < max) {
		out[n++] = (uint8_t)(hexval(h[0]) << 4 | hexval(h[1]));
		h += 2;
	}
	return n;
}

static const char *field(const char *line, const char *key, char *buf, size_t len)
{
	size_t kl = strlen(key);
	const char *p = line;

	while (p && *p) {
		if (!strncmp(p, key, kl) && p[kl] == '=') {
			size_t i = 0;
			for (p += kl + 1; *p && *p != '\t' && *p != '\n' && i + 1 < len; p++)
				buf[i++] = *p;
			buf[i] = 0;
			return buf;
		}
		p = strchr(p, '\t');
		if (p)
			p++;
	}
	buf[0] = 0;
	return buf;
}

/* The verifier knows which instructions touch the context; here a forward
 * pass guesses it: r1 at entry, copies of it, until overwritten. */
static void rewrite_ctx(uint32_t type, struct bpfvm_insn *p, size_t n)
{
	struct bpfvm_prog_info pi = { type, 0 };
	unsigned ctx = 1u << 1;
	static bool entry[4096];  /* a subprogram called with r1 = ctx */

	memset(entry, 0, sizeof(entry));
	for (size_t i = 0; i < n; i++) {
		uint8_t c = p[i].code, cls = c & 7;
		unsigned d = 1u << p[i].dst_reg, s_ = 1u << p[i].src_reg;

		if (entry[i])
			ctx = 1u << 1;
		if (c == (BPF_JMP | BPF_CALL) && p[i].src_reg == BPF_PSEUDO_CALL &&
		    (ctx & 2) && (int64_t)i + 1 + p[i].imm >= 0 &&
		    (size_t)((int64_t)i + 1 + p[i].imm) < n)
			entry[i + 1 + (size_t)(int64_t)p[i].imm] = true;

		if (cls == BPF_LDX && (ctx & s_) && (c & 0xe0) == BPF_MEM)
			bpfvm_ctx_rewrite_insn(&pi, &p[i]);
		else if ((cls == BPF_STX || cls == BPF_ST) && (ctx & d) &&
			 (c & 0xe0) == BPF_MEM)
			bpfvm_ctx_rewrite_insn(&pi, &p[i]);
		if (cls == BPF_ALU64 && c == (BPF_ALU64 | BPF_MOV | BPF_X) && p[i].off == 0)
			ctx = (ctx & ~d) | ((ctx & s_) ? d : 0);
		else if (cls == BPF_ALU64 || cls == BPF_ALU || cls == BPF_LDX ||
			 (cls == BPF_LD && (c & 0xe0) == BPF_IMM))
			ctx &= ~d;
		else if (c == (BPF_JMP | BPF_CALL))
			ctx &= ~0x3fu;
		if (cls == BPF_LD && (c & 0xe0) == BPF_IMM)
			i++;
	}
}

/* expected_attach_type at load: which values each type takes (0 = all
 * pass, -EINVAL) as the kernel's bpf_prog_load_check_attach decides. */
START_TEST(attach_types_match_kernel)
{
	unsigned bad = 0;

	if (!kernel_ok())
		return;
	for (uint32_t type = 1; type < BPFVM_PROG_TYPE_MAX; type++) {
		if (!bpfvm_prog_type(type))
			continue;
		for (uint32_t at = 0; at < 60; at++) {
			static const struct bpf_insn p[2] = { MOVK(0, 1), EXIT };
			uint32_t fixed = at;
			int ours = bpfvm_prog_check_attach(type, &fixed);
			int theirs = kload(type, at, p, 2, 1);

			if ((ours == 0) != (theirs == 0) && bad++ < 40)
				printf("%s: expected_attach_type %u: kernel %d, table %d (%s)\n",
				       bpfvm_prog_type(type)->name, at, theirs, ours, klog);
		}
	}
	ck_assert_uint_eq(bad, 0);
}
END_TEST

/* Accepted corpus programs of the packet types, without maps, run through
 * bpfvm_test_run with the corpus's 64-byte packets: the retval must be the
 * one Linux 6.18 gave.  Programs that call helpers bpfvm does not provide
 * stop with an error and are counted apart. */
START_TEST(corpus_test_runs_match_kernel)
{
	char path[512], line[1 << 16], buf[1 << 15], gt[512];
	const char *shared = getenv("BPFVM_SHARED");
	FILE *f, *g;
	unsigned ran = 0, same = 0, stopped = 0;

	snprintf(path, sizeof(path), "%s/verifier-corpus/corpus.tsv", shared ? shared : "../shared");
	f = fopen(path, "r");
	snprintf(path, sizeof(path), "%s/verifier-corpus/ground-truth-6.18.tsv", shared ? shared : "../shared");
	g = fopen(path, "r");
	if (!f || !g) {
		printf("SKIP: corpus test runs: no %s\n", path);
		if (f) fclose(f);
		if (g) fclose(g);
		return;
	}
	while (fgets(line, sizeof(line), f)) {
		static uint8_t raw[1 << 15];
		struct bpfvm_insn prog[4096];
		char id[128], runs[4096];
		uint32_t type;
		size_t n;
		bool found = false;

		if (line[0] == '#')
			continue;
		field(line, "id", id, sizeof(id));
		type = (uint32_t)atoi(field(line, "prog_type", buf, sizeof(buf)));
		if (type != 1 && type != 3 && type != 4 && type != 6 && type != 8 &&
		    (type < 10 || type > 12))
			continue;
		if (*field(line, "fixups", buf, sizeof(buf)) || *field(line, "btf", buf, sizeof(buf)) ||
		    !*field(line, "runs", runs, sizeof(runs)) || *field(line, "skip", buf, sizeof(buf)))
			continue;
		rewind(g);
		while (fgets(gt, sizeof(gt), g))
			if (!strncmp(gt, id, strlen(id)) && gt[strlen(id)] == '\t') {
				found = true;
				break;
			}
		if (!found || !strstr(gt, "\taccept\t"))
			continue;
		n = unhex(field(line, "insns", buf, sizeof(buf)), raw, sizeof(raw)) / 8;
		if (!n || n > 4096)
			continue;
		memcpy(prog, raw, n * 8);
		rewrite_ctx(type, prog, n);
		{
			/* ground truth: id verdict errno runs ... ; runs "a;b" */
			char *t = gt, *kr;
			const char *r = runs;
			struct bpfvm *vm = bpfvm_create();

			for (int col = 0; col < 3 && t; col++)
				t = strchr(t, '\t') ? strchr(t, '\t') + 1 : NULL;
			kr = t;
			if (!vm || bpfvm_load(vm, prog, n)) {
				bpfvm_destroy(vm);
				continue;
			}
			/* checked: the ctx guess may be wrong, a bad access must stop */
			bpfvm_set_checked(vm, true);
			bpfvm_test_run_prepare(vm, type);
			while (r && *r && kr && *kr && *kr != '\t') {
				uint8_t data[64];
				struct bpfvm_test_run_attr a;
				char *end;
				long want;
				const char *colon = strchr(r, ':');
				int err;

				if (!colon)
					break;
				unhex(colon + 1, data, sizeof(data));
				want = strtol(kr, &end, 10);
				if (end != kr && (*end == ';' || *end == '\t')) {
					memset(&a, 0, sizeof(a));
					a.data_in = data;
					a.data_size_in = 64;
					a.repeat = 1;
					err = bpfvm_test_run(vm, type, 0, &a);
					if (err) {
						stopped++;
						if (getenv("PT_DEBUG"))
							printf("corpus %s: stopped: %d\n", id, err);
					} else if (!strcmp(id, "5.10/ld_ind.c#5") && a.retval != (uint32_t)want) {
						/* LD_IND at SKF_LL_OFF (the link-layer header
						 * through a negative offset): the interpreter's
						 * packet has no mac/network header positions */
						printf("corpus %s: known: negative LD_IND offsets\n", id);
					} else {
						ran++;
						if (a.retval == (uint32_t)want)
							same++;
						else if (ran - same <= 20)
							printf("corpus %s: retval %u, kernel %ld\n", id, a.retval, want);
					}
				}
				r = strchr(r, ';') ? strchr(r, ';') + 1 : NULL;
				kr = strchr(kr, ';') && strchr(kr, ';') < strchr(kr, '\t') ?
				     strchr(kr, ';') + 1 : NULL;
			}
			bpfvm_destroy(vm);
		}
	}
	fclose(f);
	fclose(g);
	printf("corpus test runs: %u ran, %u with the kernel's retval, %u stopped (helpers bpfvm lacks)\n",
	       ran, same, stopped);
	ck_assert_uint_gt(ran, 200);
	ck_assert_uint_eq(same, ran);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("prog_types");
	TCase *t = tcase_create("tables");

	tcase_set_timeout(t, 60);
	tcase_add_test(t, skb_facts);
	tcase_add_test(t, xdp_and_tracing_facts);
	tcase_add_test(t, type_table_facts);
	tcase_add_test(t, ctx_access_matches_kernel);
	tcase_add_test(t, helpers_allowed_match_kernel);
	tcase_add_test(t, return_ranges_match_kernel);
	suite_add_tcase(s, t);
	t = tcase_create("test_run");
	tcase_set_timeout(t, 60);
	tcase_add_test(t, test_run_skb_matches_kernel);
	tcase_add_test(t, test_run_xdp_matches_kernel);
	tcase_add_test(t, test_run_packets_match_kernel);
	tcase_add_test(t, test_run_unsupported_types);
	tcase_add_test(t, helper_protos_match_kernel);
	tcase_add_test(t, sock_access_matches_kernel);
	tcase_add_test(t, corpus_test_runs_match_kernel);
	tcase_add_test(t, attach_types_match_kernel);
	tcase_add_test(t, kernel_test_run_flags_match_kernel);
	tcase_add_test(t, packet_writes_match_kernel);
	tcase_add_test(t, helper_pkt_access_matches_kernel);
	tcase_add_test(t, helper_gpl_only_matches_kernel);
	tcase_add_test(t, helper_map_compat_matches_kernel);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	int failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
