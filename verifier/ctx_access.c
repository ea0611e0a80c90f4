/* Context access rules per program type, as data: the kernel's
 * *_is_valid_access functions (net/core/filter.c, kernel/trace/bpf_trace.c,
 * kernel/bpf/cgroup.c) turned into tables of rules.  A rule says where an
 * access may start, which sizes a load or a store may have there, how far
 * it may reach, and what a load yields.  Checked against Linux 6.18 by
 * tests/test_prog_types.c, offset by offset.
 * SPDX-License-Identifier: MIT */
#include <stddef.h>
#include <linux/bpf.h>

#include "ctx_access.h"

#define SZ1 1u
#define SZ2 2u
#define SZ4 4u
#define SZ8 8u
#define NARROW (SZ1 | SZ2 | SZ4)
#define ANY (SZ1 | SZ2 | SZ4 | SZ8)

#define OFF(s, f) ((uint16_t)offsetof(struct s, f))
#define END(s, f) ((uint16_t)(offsetof(struct s, f) + sizeof(((struct s *)0)->f)))

/* A 4-byte field narrow-readable anywhere inside, written whole. */
#define U32(s, f, w) { OFF(s, f), END(s, f), END(s, f), NARROW, w, 4, BPFVM_CTX_SCALAR }
/* A 4-byte field read (and maybe written) whole only. */
#define U32W(s, f, r, w) { OFF(s, f), OFF(s, f) + 1, END(s, f), r, w, 0, BPFVM_CTX_SCALAR }
/* Narrow loads only at the field's first byte (the kernel's exact-offset
 * `case offsetof(...)`), the rest of the field unreachable. */
#define U32S(s, f) { OFF(s, f), OFF(s, f) + 1, END(s, f), NARROW, 0, 4, BPFVM_CTX_SCALAR }
/* An 8-byte pointer field read whole (its upper half is not a u32). */
#define PTR(s, f, reg) { OFF(s, f), OFF(s, f) + 8, OFF(s, f) + 8, SZ8, 0, 0, reg }
/* Several u32s read narrow anywhere (arrays: ip6 addresses). */
#define U32N(s, f) { OFF(s, f), END(s, f), END(s, f), NARROW, 0, 4, BPFVM_CTX_SCALAR }

/* First rule whose start range holds off decides. */
static const struct ctx_rule *find_rule(const struct ctx_rule *r, size_t n,
					int off)
{
	for (size_t i = 0; i < n; i++)
		if (off >= r[i].off && off < r[i].end)
			return &r[i];
	return NULL;
}

static bool rule_ok(const struct ctx_rule *r, int off, int size,
		    enum bpfvm_access t, struct bpfvm_ctx_access *acc)
{
	if (!r || !((t == BPFVM_ACCESS_WRITE ? r->wsz : r->rsz) & (unsigned)size) ||
	    off + size > r->limit)
		return false;
	acc->reg_type = r->reg;
	acc->field_size = r->fsize;
	return true;
}

static bool table_ok(const struct ctx_rule *tab, size_t n, int ctx_size,
		     int off, int size, enum bpfvm_access t,
		     struct bpfvm_ctx_access *acc)
{
	if (off < 0 || off >= ctx_size || off % size)
		return false;
	return rule_ok(find_rule(tab, n, off), off, size, t, acc);
}
#define TABLE_OK(tab, ctx, off, size, t, acc) \
	table_ok(tab, sizeof(tab) / sizeof(tab[0]), (int)sizeof(struct ctx), \
		 off, size, t, acc)

/* ---- struct __sk_buff -------------------------------------------------- */

/* The fields bpf_skb_is_valid_access knows, in layout order; the
 * per-type functions of the kernel deny some and allow writes to some. */
enum skb_field {
	SKB_LEN, SKB_PKT_TYPE, SKB_MARK, SKB_QUEUE_MAPPING, SKB_PROTOCOL,
	SKB_VLAN_PRESENT, SKB_VLAN_TCI, SKB_VLAN_PROTO, SKB_PRIORITY,
	SKB_INGRESS_IFINDEX, SKB_IFINDEX, SKB_TC_INDEX, SKB_CB, SKB_HASH,
	SKB_TC_CLASSID, SKB_DATA, SKB_DATA_END, SKB_NAPI_ID, SKB_FAMILY,
	SKB_REMOTE_IP4, SKB_LOCAL_IP4, SKB_REMOTE_IP6, SKB_LOCAL_IP6,
	SKB_REMOTE_PORT, SKB_LOCAL_PORT, SKB_DATA_META, SKB_FLOW_KEYS,
	SKB_TSTAMP, SKB_WIRE_LEN, SKB_GSO_SEGS, SKB_SK, SKB_GSO_SIZE,
	SKB_TSTAMP_TYPE, SKB_PAD, SKB_HWTSTAMP, SKB__N
};
#define B(f) (1ull << SKB_##f)

/* bpf_skb_is_valid_access: plain u32s narrow-readable and written whole,
 * cb[] at any size inside, the socket-address fields and packet pointers
 * whole words, tstamp and hwtstamp 8 bytes, sk an 8-byte pointer. */
static const struct ctx_rule skb_rules[SKB__N] = {
	[SKB_LEN] = U32(__sk_buff, len, SZ4),
	[SKB_PKT_TYPE] = U32(__sk_buff, pkt_type, SZ4),
	[SKB_MARK] = U32(__sk_buff, mark, SZ4),
	[SKB_QUEUE_MAPPING] = U32(__sk_buff, queue_mapping, SZ4),
	[SKB_PROTOCOL] = U32(__sk_buff, protocol, SZ4),
	[SKB_VLAN_PRESENT] = U32(__sk_buff, vlan_present, SZ4),
	[SKB_VLAN_TCI] = U32(__sk_buff, vlan_tci, SZ4),
	[SKB_VLAN_PROTO] = U32(__sk_buff, vlan_proto, SZ4),
	[SKB_PRIORITY] = U32(__sk_buff, priority, SZ4),
	[SKB_INGRESS_IFINDEX] = U32(__sk_buff, ingress_ifindex, SZ4),
	[SKB_IFINDEX] = U32(__sk_buff, ifindex, SZ4),
	[SKB_TC_INDEX] = U32(__sk_buff, tc_index, SZ4),
	[SKB_CB] = { OFF(__sk_buff, cb), END(__sk_buff, cb), END(__sk_buff, cb),
		     ANY, ANY, 0, BPFVM_CTX_SCALAR },
	[SKB_HASH] = U32(__sk_buff, hash, SZ4),
	[SKB_TC_CLASSID] = U32(__sk_buff, tc_classid, SZ4),
	[SKB_DATA] = U32W(__sk_buff, data, SZ4, SZ4),
	[SKB_DATA_END] = U32W(__sk_buff, data_end, SZ4, SZ4),
	[SKB_NAPI_ID] = U32(__sk_buff, napi_id, SZ4),
	[SKB_FAMILY] = U32(__sk_buff, family, SZ4),
	[SKB_REMOTE_IP4] = U32W(__sk_buff, remote_ip4, SZ4, SZ4),
	[SKB_LOCAL_IP4] = U32W(__sk_buff, local_ip4, SZ4, SZ4),
	[SKB_REMOTE_IP6] = { OFF(__sk_buff, remote_ip6), END(__sk_buff, remote_ip6),
			     END(__sk_buff, remote_ip6), SZ4, SZ4, 0, BPFVM_CTX_SCALAR },
	[SKB_LOCAL_IP6] = { OFF(__sk_buff, local_ip6), END(__sk_buff, local_ip6),
			    END(__sk_buff, local_ip6), SZ4, SZ4, 0, BPFVM_CTX_SCALAR },
	[SKB_REMOTE_PORT] = U32(__sk_buff, remote_port, SZ4),
	[SKB_LOCAL_PORT] = U32(__sk_buff, local_port, SZ4),
	[SKB_DATA_META] = U32W(__sk_buff, data_meta, SZ4, SZ4),
	[SKB_FLOW_KEYS] = { OFF(__sk_buff, flow_keys), OFF(__sk_buff, flow_keys) + 8,
			    OFF(__sk_buff, flow_keys) + 8, 0, 0, 0, BPFVM_CTX_SCALAR },
	[SKB_TSTAMP] = { OFF(__sk_buff, tstamp), END(__sk_buff, tstamp),
			 END(__sk_buff, tstamp), SZ8, SZ8, 0, BPFVM_CTX_SCALAR },
	[SKB_WIRE_LEN] = U32(__sk_buff, wire_len, SZ4),
	[SKB_GSO_SEGS] = U32(__sk_buff, gso_segs, SZ4),
	[SKB_SK] = { OFF(__sk_buff, sk), OFF(__sk_buff, sk) + 8, OFF(__sk_buff, sk) + 8,
		     SZ8, 0, 0, BPFVM_CTX_PTR_TO_SOCK_COMMON_OR_NULL },
	[SKB_GSO_SIZE] = U32(__sk_buff, gso_size, SZ4),
	[SKB_TSTAMP_TYPE] = { OFF(__sk_buff, tstamp_type), OFF(__sk_buff, tstamp_type) + 1,
			      OFF(__sk_buff, tstamp_type) + 1, 0, 0, 0, BPFVM_CTX_SCALAR },
	[SKB_PAD] = { OFF(__sk_buff, tstamp_type) + 1, OFF(__sk_buff, hwtstamp),
		      OFF(__sk_buff, hwtstamp), 0, 0, 0, BPFVM_CTX_SCALAR },
	[SKB_HWTSTAMP] = { OFF(__sk_buff, hwtstamp), END(__sk_buff, hwtstamp),
			   END(__sk_buff, hwtstamp), SZ8, 0, 0, BPFVM_CTX_SCALAR },
};

/* What a program type changes over bpf_skb_is_valid_access. */
struct skb_policy {
	uint64_t deny;      /* fields it may not touch */
	uint64_t write;     /* fields it may store to */
	uint64_t pkt;       /* data, data_end, data_meta as packet pointers */
	bool tstamp_type;   /* tc: one-byte reads of tstamp_type */
};

#define SOCK_FIELDS (B(FAMILY) | B(REMOTE_IP4) | B(LOCAL_IP4) | B(REMOTE_IP6) | \
		     B(LOCAL_IP6) | B(REMOTE_PORT) | B(LOCAL_PORT))

static const struct skb_policy sk_filter_policy = { /* sk_filter_is_valid_access */
	.deny = B(TC_CLASSID) | B(DATA) | B(DATA_META) | B(DATA_END) | SOCK_FIELDS |
		B(TSTAMP) | B(WIRE_LEN) | B(HWTSTAMP),
	.write = B(CB),
};
static const struct skb_policy cg_skb_policy = { /* cg_skb_is_valid_access */
	.deny = B(TC_CLASSID) | B(DATA_META) | B(WIRE_LEN),
	.write = B(MARK) | B(PRIORITY) | B(CB) | B(TSTAMP),
	.pkt = B(DATA) | B(DATA_END),
};
static const struct skb_policy lwt_policy = { /* lwt_is_valid_access */
	.deny = B(TC_CLASSID) | SOCK_FIELDS | B(DATA_META) | B(TSTAMP) |
		B(WIRE_LEN) | B(HWTSTAMP),
	.write = B(MARK) | B(PRIORITY) | B(CB),
	.pkt = B(DATA) | B(DATA_END),
};
static const struct skb_policy tc_policy = { /* tc_cls_act_is_valid_access */
	.deny = SOCK_FIELDS,
	.write = B(MARK) | B(TC_INDEX) | B(PRIORITY) | B(TC_CLASSID) | B(CB) |
		 B(TSTAMP) | B(QUEUE_MAPPING),
	.pkt = B(DATA) | B(DATA_END) | B(DATA_META),
	.tstamp_type = true,
};
static const struct skb_policy sk_skb_policy = { /* sk_skb_is_valid_access */
	.deny = B(TC_CLASSID) | B(DATA_META) | B(TSTAMP) | B(WIRE_LEN) |
		B(HWTSTAMP) | B(MARK),
	.write = B(TC_INDEX) | B(PRIORITY),
	.pkt = B(DATA) | B(DATA_END),
};

static bool skb_ok(const struct skb_policy *p, int off, int size,
		   enum bpfvm_access t, struct bpfvm_ctx_access *acc)
{
	const struct ctx_rule *r;
	uint64_t f;

	if (off < 0 || off >= (int)sizeof(struct __sk_buff) || off % size)
		return false;
	r = find_rule(skb_rules, SKB__N, off);
	if (!r)
		return false;
	f = 1ull << (r - skb_rules);
	if ((p->deny & f) || (t == BPFVM_ACCESS_WRITE && !(p->write & f)))
		return false;
	if (f == B(TSTAMP_TYPE) && p->tstamp_type) {
		if (t != BPFVM_ACCESS_READ || size != 1)
			return false;
		acc->reg_type = BPFVM_CTX_SCALAR;
		acc->field_size = 0;
		return true;
	}
	if (!rule_ok(r, off, size, t, acc))
		return false;
	if (p->pkt & f)
		acc->reg_type = f == B(DATA) ? BPFVM_CTX_PTR_TO_PACKET :
				f == B(DATA_END) ? BPFVM_CTX_PTR_TO_PACKET_END :
				BPFVM_CTX_PTR_TO_PACKET_META;
	return true;
}

#define SKB_TYPE(name, policy) \
bool bpfvm_ctx_##name(int off, int size, enum bpfvm_access t, \
		      const struct bpfvm_prog_info *prog, \
		      struct bpfvm_ctx_access *acc) \
{ \
	(void)prog; \
	return skb_ok(&policy, off, size, t, acc); \
}
SKB_TYPE(sk_filter, sk_filter_policy)
SKB_TYPE(cg_skb, cg_skb_policy)
SKB_TYPE(lwt, lwt_policy)
SKB_TYPE(tc, tc_policy)
SKB_TYPE(sk_skb, sk_skb_policy)

/* flow_dissector_is_valid_access: packet pointers and flow_keys only. */
static const struct ctx_rule flow_rules[] = {
	{ OFF(__sk_buff, data), OFF(__sk_buff, data) + 1, END(__sk_buff, data),
	  SZ4, 0, 0, BPFVM_CTX_PTR_TO_PACKET },
	{ OFF(__sk_buff, data_end), OFF(__sk_buff, data_end) + 1,
	  END(__sk_buff, data_end), SZ4, 0, 0, BPFVM_CTX_PTR_TO_PACKET_END },
	PTR(__sk_buff, flow_keys, BPFVM_CTX_PTR_TO_FLOW_KEYS),
};
bool bpfvm_ctx_flow_dissector(int off, int size, enum bpfvm_access t,
			      const struct bpfvm_prog_info *prog,
			      struct bpfvm_ctx_access *acc)
{
	(void)prog;
	return TABLE_OK(flow_rules, __sk_buff, off, size, t, acc);
}

/* ---- struct xdp_md ------------------------------------------------------ */

#define XDP_U32(f, reg) { OFF(xdp_md, f), OFF(xdp_md, f) + 1, END(xdp_md, f), \
			  SZ4, 0, 0, reg }
static const struct ctx_rule xdp_rules[] = {
	XDP_U32(data, BPFVM_CTX_PTR_TO_PACKET),
	XDP_U32(data_end, BPFVM_CTX_PTR_TO_PACKET_END),
	XDP_U32(data_meta, BPFVM_CTX_PTR_TO_PACKET_META),
	XDP_U32(ingress_ifindex, BPFVM_CTX_SCALAR),
	XDP_U32(rx_queue_index, BPFVM_CTX_SCALAR),
	XDP_U32(egress_ifindex, BPFVM_CTX_SCALAR),
};
/* xdp_is_valid_access: u32 loads only; egress_ifindex only in devmap
 * programs; no stores (rx_queue_index only for device-bound programs,
 * which bpfvm has not). */
bool bpfvm_ctx_xdp(int off, int size, enum bpfvm_access t,
		   const struct bpfvm_prog_info *prog,
		   struct bpfvm_ctx_access *acc)
{
	if (off == (int)offsetof(struct xdp_md, egress_ifindex) &&
	    prog->expected_attach_type != BPF_XDP_DEVMAP)
		return false;
	return TABLE_OK(xdp_rules, xdp_md, off, size, t, acc);
}

/* ---- tracing ------------------------------------------------------------ */

#define PT_REGS_SIZE 168      /* struct pt_regs, x86-64 */
#define PERF_MAX_TRACE_SIZE 8192  /* Linux 6.10 raised it from 2048 */
#define RAW_TP_ARGS_SIZE 96   /* 12 u64 arguments (MAX_BPF_FUNC_ARGS) */
#define PERF_EVENT_DATA_SIZE (PT_REGS_SIZE + 16) /* regs, sample_period, addr */

/* kprobe_prog_is_valid_access: loads of any size inside pt_regs. */
bool bpfvm_ctx_kprobe(int off, int size, enum bpfvm_access t,
		      const struct bpfvm_prog_info *prog,
		      struct bpfvm_ctx_access *acc)
{
	(void)prog;
	if (off < 0 || off >= PT_REGS_SIZE || t != BPFVM_ACCESS_READ ||
	    off % size || off + size > PT_REGS_SIZE)
		return false;
	acc->reg_type = BPFVM_CTX_SCALAR;
	acc->field_size = 0;
	return true;
}

/* tp_prog_is_valid_access: the first 8 bytes (common fields) are off
 * limits.  The kernel compares off with sizeof(void *) unsigned, so a
 * negative offset passes that test; bpfvm does the same. */
bool bpfvm_ctx_tracepoint(int off, int size, enum bpfvm_access t,
			  const struct bpfvm_prog_info *prog,
			  struct bpfvm_ctx_access *acc)
{
	(void)prog;
	if ((off >= 0 && off < 8) || off >= PERF_MAX_TRACE_SIZE ||
	    t != BPFVM_ACCESS_READ || off % size)
		return false;
	acc->reg_type = BPFVM_CTX_SCALAR;
	acc->field_size = 0;
	return true;
}

/* raw_tp_prog_is_valid_access: the u64 arguments, read at any size. */
bool bpfvm_ctx_raw_tp(int off, int size, enum bpfvm_access t,
		      const struct bpfvm_prog_info *prog,
		      struct bpfvm_ctx_access *acc)
{
	(void)prog;
	if (off < 0 || off >= RAW_TP_ARGS_SIZE || t != BPFVM_ACCESS_READ ||
	    off % size)
		return false;
	acc->reg_type = BPFVM_CTX_SCALAR;
	acc->field_size = 0;
	return true;
}

/* raw_tp_writable_prog_is_valid_access: args[0] is the writable buffer. */
bool bpfvm_ctx_raw_tp_w(int off, int size, enum bpfvm_access t,
			const struct bpfvm_prog_info *prog,
			struct bpfvm_ctx_access *acc)
{
	if (off == 0) {
		if (size != 8 || t != BPFVM_ACCESS_READ)
			return false;
		acc->reg_type = BPFVM_CTX_PTR_TO_TP_BUFFER;
		acc->field_size = 0;
		return true;
	}
	return bpfvm_ctx_raw_tp(off, size, t, prog, acc);
}

/* pe_prog_is_valid_access: regs as longs, sample_period and addr narrow. */
static const struct ctx_rule pe_rules[] = {
	{ 0, PT_REGS_SIZE, PT_REGS_SIZE, SZ8, 0, 0, BPFVM_CTX_SCALAR },
	{ PT_REGS_SIZE, PT_REGS_SIZE + 8, PT_REGS_SIZE + 8, ANY, 0, 8, BPFVM_CTX_SCALAR },
	{ PT_REGS_SIZE + 8, PT_REGS_SIZE + 16, PT_REGS_SIZE + 16, ANY, 0, 8, BPFVM_CTX_SCALAR },
};
bool bpfvm_ctx_perf_event(int off, int size, enum bpfvm_access t,
			  const struct bpfvm_prog_info *prog,
			  struct bpfvm_ctx_access *acc)
{
	(void)prog;
	if (off < 0 || off >= PERF_EVENT_DATA_SIZE || off % size)
		return false;
	return rule_ok(find_rule(pe_rules, 3, off), off, size, t, acc);
}

/* ---- struct bpf_sock (cgroup_sock programs, socket pointers) ------------ */

/* bpf_sock_is_valid_access. */
static const struct ctx_rule sock_rules[] = {
	U32W(bpf_sock, bound_dev_if, SZ4, SZ4),
	U32S(bpf_sock, family),
	U32S(bpf_sock, type),
	U32S(bpf_sock, protocol),
	U32W(bpf_sock, mark, SZ4, SZ4),
	U32W(bpf_sock, priority, SZ4, SZ4),
	U32N(bpf_sock, src_ip4),
	U32N(bpf_sock, src_ip6),
	U32S(bpf_sock, src_port),
	/* dst_port is a __be16: a u32 load reads it with the padding. */
	{ OFF(bpf_sock, dst_port), END(bpf_sock, dst_port), OFF(bpf_sock, dst_ip4),
	  NARROW, 0, 2, BPFVM_CTX_SCALAR },
	U32N(bpf_sock, dst_ip4),
	U32N(bpf_sock, dst_ip6),
	U32S(bpf_sock, state),
	U32S(bpf_sock, rx_queue_mapping),
};
bool bpfvm_ctx_sock(int off, int size, enum bpfvm_access t,
		    struct bpfvm_ctx_access *acc)
{
	return TABLE_OK(sock_rules, bpf_sock, off, size, t, acc);
}

/* bpf_sock_common_is_valid_access: a sock_common has no type, protocol,
 * mark or priority. */
static bool sock_common_ok(int off, int size, struct bpfvm_ctx_access *acc)
{
	if (off >= OFF(bpf_sock, type) && off < END(bpf_sock, priority))
		return false;
	return bpfvm_ctx_sock(off, size, BPFVM_ACCESS_READ, acc);
}

/* bpf_tcp_sock_is_valid_access: u32s, and the two u64 byte counters. */
static const struct ctx_rule tcp_sock_rules[] = {
	{ OFF(bpf_tcp_sock, bytes_received), END(bpf_tcp_sock, bytes_acked),
	  END(bpf_tcp_sock, bytes_acked), SZ8, 0, 0, BPFVM_CTX_SCALAR },
	{ 0, END(bpf_tcp_sock, icsk_retransmits), END(bpf_tcp_sock, icsk_retransmits),
	  SZ4, 0, 0, BPFVM_CTX_SCALAR },
};

/* bpf_xdp_sock_is_valid_access: queue_id only. */
static const struct ctx_rule xdp_sock_rules[] = {
	U32W(bpf_xdp_sock, queue_id, SZ4, 0),
};

bool bpfvm_sock_access_ok(enum bpfvm_sock_kind kind, int off, int size,
			  struct bpfvm_ctx_access *acc)
{
	struct bpfvm_ctx_access tmp;

	if (!acc)
		acc = &tmp;
	*acc = (struct bpfvm_ctx_access){ BPFVM_CTX_SCALAR, 0 };
	if (size <= 0 || size > 8 || (size & (size - 1)))
		return false;
	switch (kind) {
	case BPFVM_SOCK_COMMON:
		return sock_common_ok(off, size, acc);
	case BPFVM_SOCK:
		return bpfvm_ctx_sock(off, size, BPFVM_ACCESS_READ, acc);
	case BPFVM_TCP_SOCK:
		if (off < 0 || off >= END(bpf_tcp_sock, icsk_retransmits) || off % size)
			return false;
		return rule_ok(find_rule(tcp_sock_rules, 2, off), off, size,
			       BPFVM_ACCESS_READ, acc);
	case BPFVM_XDP_SOCK:
		return TABLE_OK(xdp_sock_rules, bpf_xdp_sock, off, size,
				BPFVM_ACCESS_READ, acc);
	}
	return false;
}

/* sock_filter_is_valid_access: __sock_filter_check_attach_type on top. */
bool bpfvm_ctx_cg_sock(int off, int size, enum bpfvm_access t,
		       const struct bpfvm_prog_info *prog,
		       struct bpfvm_ctx_access *acc)
{
	uint32_t at = prog->expected_attach_type;

	/* bpf_prog_load_fixup_attach_type: 0 is sock_create, for callers
	 * that did not go through bpfvm_prog_check_attach */
	if (at == 0)
		at = BPF_CGROUP_INET_SOCK_CREATE;
	if (!bpfvm_ctx_sock(off, size, t, acc))
		return false;
	switch (off) {
	case offsetof(struct bpf_sock, bound_dev_if):
	case offsetof(struct bpf_sock, mark):
	case offsetof(struct bpf_sock, priority):
		return at == BPF_CGROUP_INET_SOCK_CREATE ||
		       at == BPF_CGROUP_INET_SOCK_RELEASE;
	}
	if (off >= OFF(bpf_sock, src_ip4) && off < END(bpf_sock, src_ip4) &&
	    at != BPF_CGROUP_INET4_POST_BIND)
		return false;
	if (off >= OFF(bpf_sock, src_ip6) && off < END(bpf_sock, src_ip6) &&
	    at != BPF_CGROUP_INET6_POST_BIND)
		return false;
	if (off >= OFF(bpf_sock, src_port) && off < END(bpf_sock, src_port) &&
	    at != BPF_CGROUP_INET4_POST_BIND && at != BPF_CGROUP_INET6_POST_BIND)
		return false;
	return t == BPFVM_ACCESS_READ;
}

/* ---- struct bpf_sock_addr ------------------------------------------------ */

/* sock_addr_is_valid_access: addresses and port narrow-readable, written
 * whole; the ip6 arrays also 8 bytes at a time; the rest read whole. */
#define SA_ADDR(f, r, w) { OFF(bpf_sock_addr, f), END(bpf_sock_addr, f), \
			   END(bpf_sock_addr, f), r, w, 4, BPFVM_CTX_SCALAR }
static const struct ctx_rule sock_addr_rules[] = {
	U32W(bpf_sock_addr, user_family, SZ4, 0),
	SA_ADDR(user_ip4, NARROW, SZ4),
	SA_ADDR(user_ip6, ANY, SZ4 | SZ8),
	SA_ADDR(user_port, NARROW, SZ4),
	U32W(bpf_sock_addr, family, SZ4, 0),
	U32W(bpf_sock_addr, type, SZ4, 0),
	U32W(bpf_sock_addr, protocol, SZ4, 0),
	SA_ADDR(msg_src_ip4, NARROW, SZ4),
	SA_ADDR(msg_src_ip6, ANY, SZ4 | SZ8),
	PTR(bpf_sock_addr, sk, BPFVM_CTX_PTR_TO_SOCKET),
};
static bool in_field(int off, uint16_t lo, uint16_t hi)
{
	return off >= lo && off < hi;
}
bool bpfvm_ctx_sock_addr(int off, int size, enum bpfvm_access t,
			 const struct bpfvm_prog_info *prog,
			 struct bpfvm_ctx_access *acc)
{
	uint32_t at = prog->expected_attach_type;

	/* IPv4 fields from IPv6 hooks and back are not there. */
	if (in_field(off, OFF(bpf_sock_addr, user_ip4), END(bpf_sock_addr, user_ip4)) &&
	    at != BPF_CGROUP_INET4_BIND && at != BPF_CGROUP_INET4_CONNECT &&
	    at != BPF_CGROUP_INET4_GETPEERNAME && at != BPF_CGROUP_INET4_GETSOCKNAME &&
	    at != BPF_CGROUP_UDP4_SENDMSG && at != BPF_CGROUP_UDP4_RECVMSG)
		return false;
	if (in_field(off, OFF(bpf_sock_addr, user_ip6), END(bpf_sock_addr, user_ip6)) &&
	    at != BPF_CGROUP_INET6_BIND && at != BPF_CGROUP_INET6_CONNECT &&
	    at != BPF_CGROUP_INET6_GETPEERNAME && at != BPF_CGROUP_INET6_GETSOCKNAME &&
	    at != BPF_CGROUP_UDP6_SENDMSG && at != BPF_CGROUP_UDP6_RECVMSG)
		return false;
	if (in_field(off, OFF(bpf_sock_addr, msg_src_ip4), END(bpf_sock_addr, msg_src_ip4)) &&
	    at != BPF_CGROUP_UDP4_SENDMSG)
		return false;
	if (in_field(off, OFF(bpf_sock_addr, msg_src_ip6), END(bpf_sock_addr, msg_src_ip6)) &&
	    at != BPF_CGROUP_UDP6_SENDMSG)
		return false;
	return TABLE_OK(sock_addr_rules, bpf_sock_addr, off, size, t, acc);
}

/* ---- struct bpf_sock_ops ------------------------------------------------- */

/* Linux 6.2 added skb_hwtstamp after skb_tcp_flags; the system header
 * (6.1) stops before it. */
#define SOCK_OPS_HWTSTAMP (OFF(bpf_sock_ops, skb_tcp_flags) + 4)
#define SOCK_OPS_SIZE (SOCK_OPS_HWTSTAMP + 8)

/* sock_ops_is_valid_access: everything read as u32 except the listed
 * u64s and pointers; only reply and sk_txhash written. */
static const struct ctx_rule sock_ops_rules[] = {
	U32W(bpf_sock_ops, reply, SZ4, SZ4),
	U32W(bpf_sock_ops, sk_txhash, SZ4, SZ4),
	{ OFF(bpf_sock_ops, bytes_received), END(bpf_sock_ops, bytes_acked),
	  END(bpf_sock_ops, bytes_acked), SZ8, 0, 0, BPFVM_CTX_SCALAR },
	PTR(bpf_sock_ops, sk, BPFVM_CTX_PTR_TO_SOCKET_OR_NULL),
	PTR(bpf_sock_ops, skb_data, BPFVM_CTX_PTR_TO_PACKET),
	PTR(bpf_sock_ops, skb_data_end, BPFVM_CTX_PTR_TO_PACKET_END),
	U32S(bpf_sock_ops, skb_tcp_flags),
	{ SOCK_OPS_HWTSTAMP, SOCK_OPS_SIZE, SOCK_OPS_SIZE, SZ8, 0, 0, BPFVM_CTX_SCALAR },
	/* the rest: u32 reads */
	{ 0, SOCK_OPS_SIZE, SOCK_OPS_SIZE, SZ4, 0, 0, BPFVM_CTX_SCALAR },
};
bool bpfvm_ctx_sock_ops(int off, int size, enum bpfvm_access t,
			const struct bpfvm_prog_info *prog,
			struct bpfvm_ctx_access *acc)
{
	(void)prog;
	if (off < 0 || off >= SOCK_OPS_SIZE || off % size)
		return false;
	return rule_ok(find_rule(sock_ops_rules, sizeof(sock_ops_rules) /
				 sizeof(sock_ops_rules[0]), off),
		       off, size, t, acc);
}

/* ---- struct sk_msg_md ------------------------------------------------- */

#define MSG_U32(f) U32W(sk_msg_md, f, SZ4, 0)
static const struct ctx_rule sk_msg_rules[] = {
	PTR(sk_msg_md, data, BPFVM_CTX_PTR_TO_PACKET),
	PTR(sk_msg_md, data_end, BPFVM_CTX_PTR_TO_PACKET_END),
	MSG_U32(family), MSG_U32(remote_ip4), MSG_U32(local_ip4),
	{ OFF(sk_msg_md, remote_ip6), END(sk_msg_md, remote_ip6),
	  END(sk_msg_md, remote_ip6), SZ4, 0, 0, BPFVM_CTX_SCALAR },
	{ OFF(sk_msg_md, local_ip6), END(sk_msg_md, local_ip6),
	  END(sk_msg_md, local_ip6), SZ4, 0, 0, BPFVM_CTX_SCALAR },
	MSG_U32(remote_port), MSG_U32(local_port), MSG_U32(size),
	PTR(sk_msg_md, sk, BPFVM_CTX_PTR_TO_SOCKET),
};
bool bpfvm_ctx_sk_msg(int off, int size, enum bpfvm_access t,
		      const struct bpfvm_prog_info *prog,
		      struct bpfvm_ctx_access *acc)
{
	(void)prog;
	return TABLE_OK(sk_msg_rules, sk_msg_md, off, size, t, acc);
}

/* ---- struct bpf_sk_lookup ------------------------------------------------ */

static const struct ctx_rule sk_lookup_rules[] = {
	PTR(bpf_sk_lookup, sk, BPFVM_CTX_PTR_TO_SOCKET_OR_NULL),
	U32N(bpf_sk_lookup, family),
	U32N(bpf_sk_lookup, protocol),
	U32N(bpf_sk_lookup, remote_ip4),
	U32N(bpf_sk_lookup, remote_ip6),
	/* remote_port is a __be16; u32 loads allowed, and the zero padding
	 * after it narrow-readable, for backward compatibility. */
	{ OFF(bpf_sk_lookup, remote_port), END(bpf_sk_lookup, remote_port),
	  OFF(bpf_sk_lookup, local_ip4), NARROW, 0, 2, BPFVM_CTX_SCALAR },
	{ END(bpf_sk_lookup, remote_port), OFF(bpf_sk_lookup, local_ip4),
	  OFF(bpf_sk_lookup, local_ip4), SZ1 | SZ2, 0, 2, BPFVM_CTX_SCALAR },
	U32N(bpf_sk_lookup, local_ip4),
	U32N(bpf_sk_lookup, local_ip6),
	U32N(bpf_sk_lookup, local_port),
	U32N(bpf_sk_lookup, ingress_ifindex),
};
bool bpfvm_ctx_sk_lookup(int off, int size, enum bpfvm_access t,
			 const struct bpfvm_prog_info *prog,
			 struct bpfvm_ctx_access *acc)
{
	(void)prog;
	return TABLE_OK(sk_lookup_rules, bpf_sk_lookup, off, size, t, acc);
}

/* ---- small cgroup contexts ------------------------------------------------ */

static const struct ctx_rule cg_dev_rules[] = {
	U32(bpf_cgroup_dev_ctx, access_type, 0),
	U32W(bpf_cgroup_dev_ctx, major, SZ4, 0),
	U32W(bpf_cgroup_dev_ctx, minor, SZ4, 0),
};
bool bpfvm_ctx_cg_dev(int off, int size, enum bpfvm_access t,
		      const struct bpfvm_prog_info *prog,
		      struct bpfvm_ctx_access *acc)
{
	(void)prog;
	return TABLE_OK(cg_dev_rules, bpf_cgroup_dev_ctx, off, size, t, acc);
}

static const struct ctx_rule sysctl_rules[] = {
	U32(bpf_sysctl, write, 0),
	U32(bpf_sysctl, file_pos, SZ4),
};
bool bpfvm_ctx_sysctl(int off, int size, enum bpfvm_access t,
		      const struct bpfvm_prog_info *prog,
		      struct bpfvm_ctx_access *acc)
{
	(void)prog;
	return TABLE_OK(sysctl_rules, bpf_sysctl, off, size, t, acc);
}

/* cg_sockopt_is_valid_access: retval belongs to getsockopt, level and
 * optname are writable in setsockopt. */
bool bpfvm_ctx_sockopt(int off, int size, enum bpfvm_access t,
		       const struct bpfvm_prog_info *prog,
		       struct bpfvm_ctx_access *acc)
{
	bool get = prog->expected_attach_type == BPF_CGROUP_GETSOCKOPT;
	bool set = prog->expected_attach_type == BPF_CGROUP_SETSOCKOPT;
	const struct ctx_rule rules[] = {
		PTR(bpf_sockopt, sk, BPFVM_CTX_PTR_TO_SOCKET),
		PTR(bpf_sockopt, optval, BPFVM_CTX_PTR_TO_PACKET),
		PTR(bpf_sockopt, optval_end, BPFVM_CTX_PTR_TO_PACKET_END),
		U32W(bpf_sockopt, level, SZ4, set ? SZ4 : 0),
		U32W(bpf_sockopt, optname, SZ4, set ? SZ4 : 0),
		U32W(bpf_sockopt, optlen, SZ4, SZ4),
		U32W(bpf_sockopt, retval, get ? SZ4 : 0, get ? SZ4 : 0),
	};
	return TABLE_OK(rules, bpf_sockopt, off, size, t, acc);
}

/* sk_reuseport_is_valid_access: reads only; eth_protocol at least 2 bytes. */
static const struct ctx_rule reuseport_rules[] = {
	PTR(sk_reuseport_md, data, BPFVM_CTX_PTR_TO_PACKET),
	PTR(sk_reuseport_md, data_end, BPFVM_CTX_PTR_TO_PACKET_END),
	U32(sk_reuseport_md, len, 0),
	{ OFF(sk_reuseport_md, eth_protocol), END(sk_reuseport_md, eth_protocol),
	  END(sk_reuseport_md, eth_protocol), SZ2 | SZ4, 0, 4, BPFVM_CTX_SCALAR },
	U32(sk_reuseport_md, ip_protocol, 0),
	U32(sk_reuseport_md, bind_inany, 0),
	U32W(sk_reuseport_md, hash, SZ4, 0),
	PTR(sk_reuseport_md, sk, BPFVM_CTX_PTR_TO_SOCKET),
	PTR(sk_reuseport_md, migrating_sk, BPFVM_CTX_PTR_TO_SOCK_COMMON_OR_NULL),
};
bool bpfvm_ctx_reuseport(int off, int size, enum bpfvm_access t,
			 const struct bpfvm_prog_info *prog,
			 struct bpfvm_ctx_access *acc)
{
	(void)prog;
	return TABLE_OK(reuseport_rules, sk_reuseport_md, off, size, t, acc);
}
