/* Program types as data (the kernel's struct bpf_verifier_ops and the
 * per-type switches of kernel/bpf/verifier.c): the context each type's
 * programs receive, which context fields may be read or written at which
 * sizes and what a load yields, how each access is rewritten onto bpfvm's
 * runtime context (vm/test_run.h), the helpers each type may call, the
 * range r0 must be in at exit, and whether the type has a test run.
 * Shared by the verifier, the runtime and the JIT.
 * SPDX-License-Identifier: MIT */
#ifndef BPFVM_PROG_TYPES_H
#define BPFVM_PROG_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Program type numbers (enum bpf_prog_type, include/uapi/linux/bpf.h). */
enum bpfvm_prog_type_id {
	BPFVM_PROG_UNSPEC = 0,
	BPFVM_PROG_SOCKET_FILTER = 1,
	BPFVM_PROG_KPROBE = 2,
	BPFVM_PROG_SCHED_CLS = 3,
	BPFVM_PROG_SCHED_ACT = 4,
	BPFVM_PROG_TRACEPOINT = 5,
	BPFVM_PROG_XDP = 6,
	BPFVM_PROG_PERF_EVENT = 7,
	BPFVM_PROG_CGROUP_SKB = 8,
	BPFVM_PROG_CGROUP_SOCK = 9,
	BPFVM_PROG_LWT_IN = 10,
	BPFVM_PROG_LWT_OUT = 11,
	BPFVM_PROG_LWT_XMIT = 12,
	BPFVM_PROG_SOCK_OPS = 13,
	BPFVM_PROG_SK_SKB = 14,
	BPFVM_PROG_CGROUP_DEVICE = 15,
	BPFVM_PROG_SK_MSG = 16,
	BPFVM_PROG_RAW_TRACEPOINT = 17,
	BPFVM_PROG_CGROUP_SOCK_ADDR = 18,
	BPFVM_PROG_LWT_SEG6LOCAL = 19,
	BPFVM_PROG_LIRC_MODE2 = 20,
	BPFVM_PROG_SK_REUSEPORT = 21,
	BPFVM_PROG_FLOW_DISSECTOR = 22,
	BPFVM_PROG_CGROUP_SYSCTL = 23,
	BPFVM_PROG_RAW_TRACEPOINT_WRITABLE = 24,
	BPFVM_PROG_CGROUP_SOCKOPT = 25,
	BPFVM_PROG_TRACING = 26,
	BPFVM_PROG_STRUCT_OPS = 27,
	BPFVM_PROG_EXT = 28,
	BPFVM_PROG_LSM = 29,
	BPFVM_PROG_SK_LOOKUP = 30,
	BPFVM_PROG_SYSCALL = 31,
	BPFVM_PROG_NETFILTER = 32,
	BPFVM_PROG_TYPE_MAX,
};

/* Access kinds (enum bpf_access_type). */
enum bpfvm_access { BPFVM_ACCESS_READ = 1, BPFVM_ACCESS_WRITE = 2 };

/* What a context load yields: the register kind the verifier gives the
 * destination (the kernel's info->reg_type).  SCALAR for plain fields. */
enum bpfvm_ctx_reg {
	BPFVM_CTX_SCALAR = 0,
	BPFVM_CTX_PTR_TO_PACKET,            /* skb->data, xdp->data */
	BPFVM_CTX_PTR_TO_PACKET_END,        /* skb->data_end, xdp->data_end */
	BPFVM_CTX_PTR_TO_PACKET_META,       /* skb->data_meta, xdp->data_meta */
	BPFVM_CTX_PTR_TO_SOCK_COMMON_OR_NULL, /* __sk_buff->sk, sk_reuseport_md->migrating_sk */
	BPFVM_CTX_PTR_TO_SOCKET,            /* bpf_sock_addr->sk, sk_msg_md->sk, bpf_sockopt->sk */
	BPFVM_CTX_PTR_TO_SOCKET_OR_NULL,    /* bpf_sk_lookup->sk, bpf_sock_ops->sk */
	BPFVM_CTX_PTR_TO_FLOW_KEYS,         /* __sk_buff->flow_keys (flow dissector) */
	BPFVM_CTX_PTR_TO_TP_BUFFER,         /* raw_tracepoint_writable: first u64 */
};

/* Inputs to an access check beyond offset and size. */
struct bpfvm_prog_info {
	uint32_t type;                 /* BPF_PROG_TYPE_* */
	uint32_t expected_attach_type; /* BPF_* attach type, 0 when unset */
};

/* Result of a successful access check (the kernel's bpf_insn_access_aux). */
struct bpfvm_ctx_access {
	uint8_t reg_type;       /* enum bpfvm_ctx_reg, for loads */
	uint8_t field_size;     /* size of the whole field: a load smaller than it
				   is a narrow load (the kernel's ctx_field_size;
				   0 = the access size itself).  bpfvm's runtime
				   contexts keep the fields in place, so a narrow
				   load needs no shift */
};

/* How an accepted access is rewritten for bpfvm's runtime context (the
 * kernel's convert_ctx_access): the access at `off` (uapi layout) reads or
 * writes `size` bytes at `rt_off` of the runtime struct instead.  For
 * pointer fields (data, data_end ...) rt_size is 8 even though the uapi
 * field is 4 bytes. */
struct bpfvm_ctx_rewrite {
	uint32_t rt_off;
	uint8_t rt_size;
	bool is_ptr;            /* a 64-bit host pointer loaded whole */
};

/* Return-value rule enforced at the main program's exit (the kernel's
 * check_return_code).  When has_range, r0 must be within [min, max] (the
 * log says "At program exit the register R0 has ... should have been in
 * [min, max]"). */
struct bpfvm_ret_range {
	bool has_range;
	int32_t min, max;
};

/* Direct packet access (the kernel's may_access_direct_pkt_data): whether
 * a store through a packet pointer is allowed (RW) or "cannot write into
 * packet" (READ, NONE); loads through one are always allowed. */
enum bpfvm_pkt_access { BPFVM_PKT_NONE, BPFVM_PKT_READ, BPFVM_PKT_RW };

struct bpfvm_prog_type {
	uint32_t id;            /* BPF_PROG_TYPE_* */
	const char *name;       /* "socket_filter", "sched_cls" ... (libbpf) */
	const char *ctx_name;   /* "__sk_buff", "xdp_md", "pt_regs" ... */
	uint32_t ctx_size;      /* uapi context size (ctx_in/ctx_out limit) */
	uint32_t rt_ctx_size;   /* runtime context struct size (vm/test_run.h) */
	bool may_access_skb;    /* LD_ABS / LD_IND allowed */
	uint8_t pkt_access;     /* enum bpfvm_pkt_access */
	bool has_test_run;      /* bpfvm_test_run implements it (socket filter,
				   tc, xdp, cgroup_skb, lwt_in/out/xmit) */
	bool kernel_test_run;   /* the kernel implements one (else ENOTSUPP) */

	/* The kernel's is_valid_access: may a ctx access of `size` bytes at
	 * `off` of kind `t` be done?  On true, *acc says what it yields. */
	bool (*is_valid_access)(int off, int size, enum bpfvm_access t,
				const struct bpfvm_prog_info *prog,
				struct bpfvm_ctx_access *acc);
	/* Where an accepted access lands in the runtime context; NULL when
	 * the runtime context is the uapi layout itself (tracing types). */
	void (*convert)(int off, int size, enum bpfvm_access t,
			struct bpfvm_ctx_rewrite *rw);
	/* May this type call helper `id` at all (get_func_proto != NULL)? */
	bool (*helper_allowed)(uint32_t id, const struct bpfvm_prog_info *prog);
	/* The r0 rule at exit, from the expected attach type; NULL: none. */
	void (*ret_range)(const struct bpfvm_prog_info *prog,
			  struct bpfvm_ret_range *r);
};

/* The table entry of type `id`, or NULL for a type the kernel does not
 * know or bpfvm does not model (BPF_PROG_LOAD answers EINVAL). */
const struct bpfvm_prog_type *bpfvm_prog_type(uint32_t id);

/* By name ("xdp", "socket_filter", "sched_cls" ...), NULL if unknown. */
const struct bpfvm_prog_type *bpfvm_prog_type_by_name(const char *name);

/* The kernel's bpf_prog_load_fixup_attach_type + bpf_prog_load_check_attach
 * for *expected_attach_type: 0 (cgroup_sock's 0 becomes
 * BPF_CGROUP_INET_SOCK_CREATE, as in the kernel), or -EINVAL when the type
 * needs an attach type and this one is not among those allowed
 * (cgroup_sock, cgroup_sock_addr, cgroup_skb, cgroup_sockopt, sk_lookup,
 * sk_reuseport); other types take any value.  Checked against the kernel
 * for every modelled type and attach types 0-59. */
int bpfvm_prog_check_attach(uint32_t type, uint32_t *expected_attach_type);

/* Convenience wrappers over the table, for the verifier: the whole check
 * of a ctx access (false => "invalid bpf_context access off=%d size=%d"),
 * and the rewrite. */
bool bpfvm_ctx_access_ok(const struct bpfvm_prog_info *prog, int off,
			 int size, enum bpfvm_access t,
			 struct bpfvm_ctx_access *acc);
void bpfvm_ctx_convert(const struct bpfvm_prog_info *prog, int off, int size,
		       enum bpfvm_access t, struct bpfvm_ctx_rewrite *rw);

/* The fixup after verification (the kernel's convert_ctx_accesses) for one
 * instruction the verifier saw access the context (LDX / LDX MEMSX / STX /
 * ST through a PTR_TO_CTX register): its offset and size become those of
 * bpfvm's runtime context.  One instruction stays one instruction; a
 * sign-extending load of a field that widens keeps its mode.  (Not
 * modelled: tc's store to queue_mapping ignoring values >= 0xffff.) */
struct bpfvm_insn;
void bpfvm_ctx_rewrite_insn(const struct bpfvm_prog_info *prog,
			    struct bpfvm_insn *insn);

/* Loads through socket pointers a program got from a helper or the
 * context (the verifier's check_sock_access): struct bpf_sock behind
 * PTR_TO_SOCK_COMMON (bpf_sock_common_is_valid_access: no type, protocol,
 * mark or priority), PTR_TO_SOCKET (bpf_sock_is_valid_access),
 * struct bpf_tcp_sock behind PTR_TO_TCP_SOCK, struct bpf_xdp_sock behind
 * PTR_TO_XDP_SOCK.  Loads only: the kernel refuses stores before asking.
 * false => "R%d invalid %s access off=%d size=%d".  The runtime objects
 * have the uapi layout (vm/test_run.h: struct bpfvm_sock_md), so accesses
 * are not rewritten. */
enum bpfvm_sock_kind {
	BPFVM_SOCK_COMMON, BPFVM_SOCK, BPFVM_TCP_SOCK, BPFVM_XDP_SOCK
};
bool bpfvm_sock_access_ok(enum bpfvm_sock_kind kind, int off, int size,
			  struct bpfvm_ctx_access *acc);

#endif
