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

#include "../verifier/prog_types.h"
#include "../verifier/helper_protos.h"

/* ---- bpf(2), with an expected attach type --------------------------------- */

static char klog[1 << 16];

static int kload(uint32_t type, uint32_t eat, const struct bpf_insn *insns,
		 unsigned n, int log_level)
{
	union bpf_attr a;
	int fd;

	memset(&a, 0, sizeof(a));
	a.prog_type = type;
	a.expected_attach_type = eat;
	a.insns = (uintptr_t)insns;
	a.insn_cnt = n;
	a.license = (uintptr_t)"GPL";
	klog[0] = 0;
	if (log_level) {
		a.log_level = (uint32_t)log_level;
		a.log_buf = (uintptr_t)klog;
		a.log_size = sizeof(klog);
	}
	fd = (int)syscall(SYS_bpf, BPF_PROG_LOAD, &a, sizeof(a));
	if (fd < 0)
		return -errno;
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
