/* Program types as data: one entry per type with its context, its access
 * rules (ctx_access.c), the rewrite onto bpfvm's runtime context
 * (vm/test_run.h), the helpers it may call, the r0 range at exit and
 * whether it has a test run.  The helper lists are those Linux 6.18 gives
 * a privileged loader (root: CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN), from
 * the get_func_proto of each type; tests/test_prog_types.c checks them
 * against the running kernel.
 * SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <linux/bpf.h>

#include "bpfvm.h"
#include "ctx_access.h"
#include "prog_types.h"
#include "../vm/test_run.h"

/* Helper ids by name, from the one helper table. */
enum {
#define HELPER(id, name) FN_##name = id,
#include "../vm/helpers.def"
#undef HELPER
};
#define F(name) FN_##name

/* bpf_base_func_proto: every type has these. */
static const uint8_t base_fns[] = {
	F(map_lookup_elem), F(map_update_elem), F(map_delete_elem),
	F(ktime_get_ns), F(trace_printk), F(get_prandom_u32),
	F(get_smp_processor_id), F(tail_call), F(get_current_pid_tgid),
	F(get_current_uid_gid), F(get_current_comm), F(get_cgroup_classid),
	F(perf_event_read), F(get_current_task), F(current_task_under_cgroup),
	F(get_numa_node_id), F(perf_event_read_value),
	F(get_current_cgroup_id), F(map_push_elem), F(map_pop_elem),
	F(map_peek_elem), F(spin_lock), F(spin_unlock), F(strtol), F(strtoul),
	F(send_signal), F(probe_read_user), F(probe_read_kernel),
	F(probe_read_user_str), F(probe_read_kernel_str),
	F(send_signal_thread), F(jiffies64), F(get_ns_current_pid_tgid),
	F(get_current_ancestor_cgroup_id), F(ktime_get_boot_ns),
	F(ringbuf_output), F(ringbuf_reserve), F(ringbuf_submit),
	F(ringbuf_discard), F(ringbuf_query), F(get_task_stack),
	F(copy_from_user), F(snprintf_btf), F(per_cpu_ptr), F(this_cpu_ptr),
	F(task_storage_get), F(task_storage_delete), F(get_current_task_btf),
	F(for_each_map_elem), F(snprintf), F(timer_init),
	F(timer_set_callback), F(timer_start), F(timer_cancel),
	F(task_pt_regs), F(get_branch_snapshot), F(trace_vprintk),
	F(find_vma), F(loop), F(strncmp), F(copy_from_user_task),
	F(kptr_xchg), F(map_lookup_percpu_elem), F(dynptr_from_mem),
	F(ringbuf_reserve_dynptr), F(ringbuf_submit_dynptr),
	F(ringbuf_discard_dynptr), F(dynptr_read), F(dynptr_write),
	F(dynptr_data), F(ktime_get_tai_ns), F(user_ringbuf_drain),
	F(cgrp_storage_get), F(cgrp_storage_delete),
};

/* bpf_sk_base_func_proto: the socket casts, for the networking types. */
static const uint8_t sk_base_fns[] = {
	F(skc_to_tcp6_sock), F(skc_to_tcp_sock), F(skc_to_tcp_timewait_sock),
	F(skc_to_tcp_request_sock), F(skc_to_udp6_sock),
	F(ktime_get_coarse_ns), F(skc_to_unix_sock), F(skc_to_mptcp_sock),
};

/* bpf_tracing_func_proto's part the tracing types share. */
static const uint8_t tracing_fns[] = {
	F(probe_read), F(perf_event_output), F(get_stackid),
	F(probe_read_str), F(get_stack), F(get_func_ip), F(get_attach_cookie),
};

/* lwt_out_func_proto: what every lwt type has. */
static const uint8_t lwt_fns[] = {
	F(get_route_realm), F(perf_event_output), F(skb_load_bytes),
	F(csum_diff), F(skb_under_cgroup), F(get_hash_recalc),
	F(skb_pull_data),
};

static const uint8_t sk_filter_fns[] = {
	F(perf_event_output), F(skb_load_bytes), F(get_socket_cookie),
	F(get_socket_uid), F(skb_load_bytes_relative), F(get_netns_cookie),
};

static const uint8_t tc_fns[] = {
	F(skb_store_bytes), F(l3_csum_replace), F(l4_csum_replace),
	F(clone_redirect), F(skb_vlan_push), F(skb_vlan_pop),
	F(skb_get_tunnel_key), F(skb_set_tunnel_key), F(redirect),
	F(get_route_realm), F(perf_event_output), F(skb_load_bytes),
	F(csum_diff), F(skb_get_tunnel_opt), F(skb_set_tunnel_opt),
	F(skb_change_proto), F(skb_change_type), F(skb_under_cgroup),
	F(get_hash_recalc), F(skb_change_tail), F(skb_pull_data),
	F(csum_update), F(set_hash_invalid), F(skb_change_head),
	F(get_socket_cookie), F(get_socket_uid), F(set_hash),
	F(skb_adjust_room), F(skb_get_xfrm_state), F(skb_load_bytes_relative),
	F(fib_lookup), F(skb_cgroup_id), F(skb_ancestor_cgroup_id),
	F(sk_lookup_tcp), F(sk_lookup_udp), F(sk_release), F(sk_fullsock),
	F(tcp_sock), F(skb_ecn_set_ce), F(get_listener_sock),
	F(skc_lookup_tcp), F(tcp_check_syncookie), F(sk_storage_get),
	F(sk_storage_delete), F(tcp_gen_syncookie), F(get_netns_cookie),
	F(sk_assign), F(csum_level), F(skb_cgroup_classid), F(redirect_neigh),
	F(redirect_peer), F(check_mtu), F(skb_set_tstamp),
	F(tcp_raw_gen_syncookie_ipv4), F(tcp_raw_gen_syncookie_ipv6),
	F(tcp_raw_check_syncookie_ipv4), F(tcp_raw_check_syncookie_ipv6),
};

static const uint8_t xdp_fns[] = {
	F(redirect), F(perf_event_output), F(csum_diff), F(xdp_adjust_head),
	F(redirect_map), F(xdp_adjust_meta), F(xdp_adjust_tail),
	F(fib_lookup), F(sk_lookup_tcp), F(sk_lookup_udp), F(sk_release),
	F(skc_lookup_tcp), F(tcp_check_syncookie), F(tcp_gen_syncookie),
	F(check_mtu), F(xdp_get_buff_len), F(xdp_load_bytes),
	F(xdp_store_bytes), F(tcp_raw_gen_syncookie_ipv4),
	F(tcp_raw_gen_syncookie_ipv6), F(tcp_raw_check_syncookie_ipv4),
	F(tcp_raw_check_syncookie_ipv6),
};

static const uint8_t perf_event_fns[] = {
	F(perf_prog_read_value), F(read_branch_records),
};

static const uint8_t cg_skb_fns[] = {
	F(perf_event_output), F(skb_load_bytes), F(get_socket_cookie),
	F(get_socket_uid), F(skb_load_bytes_relative), F(skb_cgroup_id),
	F(get_local_storage), F(skb_ancestor_cgroup_id), F(sk_lookup_tcp),
	F(sk_lookup_udp), F(sk_release), F(sk_fullsock), F(tcp_sock),
	F(skb_ecn_set_ce), F(get_listener_sock), F(skc_lookup_tcp),
	F(sk_storage_get), F(sk_storage_delete), F(get_netns_cookie),
	F(sk_cgroup_id), F(sk_ancestor_cgroup_id),
};

static const uint8_t cg_sock_fns[] = {
	F(perf_event_output), F(get_socket_cookie), F(get_local_storage),
	F(sk_storage_get), F(get_netns_cookie), F(ktime_get_coarse_ns),
	F(get_retval), F(set_retval),
};

static const uint8_t lwt_in_fns[] = {
	F(lwt_push_encap),
};

static const uint8_t lwt_xmit_fns[] = {
	F(skb_store_bytes), F(l3_csum_replace), F(l4_csum_replace),
	F(clone_redirect), F(skb_get_tunnel_key), F(skb_set_tunnel_key),
	F(redirect), F(skb_get_tunnel_opt), F(skb_set_tunnel_opt),
	F(skb_change_tail), F(csum_update), F(set_hash_invalid),
	F(skb_change_head), F(lwt_push_encap), F(csum_level),
};

static const uint8_t sock_ops_fns[] = {
	F(perf_event_output), F(get_socket_cookie), F(setsockopt),
	F(sock_map_update), F(getsockopt), F(sock_ops_cb_flags_set),
	F(sock_hash_update), F(get_local_storage), F(tcp_sock),
	F(sk_storage_get), F(sk_storage_delete), F(get_netns_cookie),
	F(load_hdr_opt), F(store_hdr_opt), F(reserve_hdr_opt),
};

static const uint8_t sk_skb_fns[] = {
	F(skb_store_bytes), F(perf_event_output), F(skb_load_bytes),
	F(skb_change_tail), F(skb_pull_data), F(skb_change_head),
	F(get_socket_cookie), F(get_socket_uid), F(skb_adjust_room),
	F(sk_redirect_map), F(sk_redirect_hash), F(sk_lookup_tcp),
	F(sk_lookup_udp), F(sk_release), F(skc_lookup_tcp),
};

static const uint8_t cg_dev_fns[] = {
	F(perf_event_output), F(get_local_storage),
};

static const uint8_t sk_msg_fns[] = {
	F(perf_event_output), F(msg_redirect_map), F(msg_apply_bytes),
	F(msg_cork_bytes), F(msg_pull_data), F(msg_redirect_hash),
	F(msg_push_data), F(msg_pop_data), F(sk_storage_get),
	F(sk_storage_delete), F(get_netns_cookie),
};

static const uint8_t sock_addr_fns[] = {
	F(perf_event_output), F(get_socket_cookie), F(setsockopt),
	F(getsockopt), F(get_local_storage), F(sk_lookup_tcp),
	F(sk_lookup_udp), F(sk_release), F(skc_lookup_tcp), F(sk_storage_get),
	F(sk_storage_delete), F(get_netns_cookie), F(get_retval),
	F(set_retval),
};

static const uint8_t lwt_seg6_fns[] = {
	F(lwt_seg6_store_bytes), F(lwt_seg6_adjust_srh), F(lwt_seg6_action),
};

static const uint8_t reuseport_fns[] = {
	F(skb_load_bytes), F(get_socket_cookie), F(skb_load_bytes_relative),
	F(sk_select_reuseport), F(ktime_get_coarse_ns),
};

static const uint8_t flow_dissector_fns[] = {
	F(skb_load_bytes),
};

static const uint8_t sysctl_fns[] = {
	F(perf_event_output), F(get_local_storage), F(sysctl_get_name),
	F(sysctl_get_current_value), F(sysctl_get_new_value),
	F(sysctl_set_new_value), F(ktime_get_coarse_ns),
};

static const uint8_t sockopt_fns[] = {
	F(perf_event_output), F(setsockopt), F(getsockopt),
	F(get_local_storage), F(tcp_sock), F(sk_storage_get),
	F(sk_storage_delete), F(get_netns_cookie), F(get_retval),
	F(set_retval),
};

static const uint8_t sk_lookup_fns[] = {
	F(perf_event_output), F(sk_release), F(sk_assign),
};

/* A type's helpers: base_fns and the lists it names. */
struct fn_list {
	const uint8_t *ids;
	size_t n;
};
#define L(list) { list, sizeof(list) }

static bool listed(const struct fn_list *l, size_t nl, uint32_t id)
{
	for (size_t i = 0; i < nl; i++)
		for (size_t j = 0; j < l[i].n; j++)
			if (l[i].ids[j] == id)
				return true;
	return false;
}

#define LISTED(name, ...) \
static bool name##_listed(uint32_t id) \
{ \
	static const struct fn_list l[] = { L(base_fns), __VA_ARGS__ }; \
	return listed(l, sizeof(l) / sizeof(l[0]), id); \
}

/* The table's helper_allowed for a type whose lists are all there is. */
#define ALLOWED(name, ...) \
LISTED(name, __VA_ARGS__) \
static bool name##_allowed(uint32_t id, const struct bpfvm_prog_info *prog) \
{ \
	(void)prog; \
	return name##_listed(id); \
}
ALLOWED(tracing, L(tracing_fns))
ALLOWED(sk_filter, L(sk_filter_fns), L(sk_base_fns))
ALLOWED(tc, L(tc_fns), L(sk_base_fns))
ALLOWED(xdp, L(xdp_fns), L(sk_base_fns))
ALLOWED(perf_event, L(perf_event_fns), L(tracing_fns))
ALLOWED(cg_skb, L(cg_skb_fns), L(sk_base_fns))
ALLOWED(cg_sock, L(cg_sock_fns))
ALLOWED(lwt_in, L(lwt_in_fns), L(lwt_fns), L(sk_base_fns))
ALLOWED(lwt_out, L(lwt_fns), L(sk_base_fns))
ALLOWED(lwt_xmit, L(lwt_xmit_fns), L(lwt_fns), L(sk_base_fns))
ALLOWED(sock_ops, L(sock_ops_fns), L(sk_base_fns))
ALLOWED(sk_skb, L(sk_skb_fns), L(sk_base_fns))
ALLOWED(cg_dev, L(cg_dev_fns))
ALLOWED(sk_msg, L(sk_msg_fns), L(sk_base_fns))
LISTED(sock_addr, L(sock_addr_fns), L(sk_base_fns))
ALLOWED(lwt_seg6, L(lwt_seg6_fns), L(lwt_fns), L(sk_base_fns))
ALLOWED(reuseport, L(reuseport_fns))
ALLOWED(flow_dissector, L(flow_dissector_fns), L(sk_base_fns))
ALLOWED(sysctl, L(sysctl_fns))
LISTED(sockopt, L(sockopt_fns))
ALLOWED(sk_lookup, L(sk_lookup_fns), L(sk_base_fns))

/* sock_addr_func_proto: bind only from connect hooks; get/set_retval not
 * where the hook's return value is fixed (recvmsg, get*name). */
static bool sock_addr_allowed(uint32_t id, const struct bpfvm_prog_info *prog)
{
	uint32_t at = prog->expected_attach_type;

	if (id == FN_bind)
		return at == BPF_CGROUP_INET4_CONNECT || at == BPF_CGROUP_INET6_CONNECT;
	if (id == FN_get_retval || id == FN_set_retval)
		switch (at) {
		case BPF_CGROUP_UDP4_RECVMSG:
		case BPF_CGROUP_UDP6_RECVMSG:
		case BPF_CGROUP_INET4_GETPEERNAME:
		case BPF_CGROUP_INET6_GETPEERNAME:
		case BPF_CGROUP_INET4_GETSOCKNAME:
		case BPF_CGROUP_INET6_GETSOCKNAME:
		case 51: /* BPF_CGROUP_UNIX_RECVMSG */
		case 52: /* BPF_CGROUP_UNIX_GETPEERNAME */
		case 53: /* BPF_CGROUP_UNIX_GETSOCKNAME */
			return false;
		}
	return sock_addr_listed(id);
}

/* cg_sockopt_func_proto: setsockopt and getsockopt only in setsockopt. */
static bool sockopt_allowed(uint32_t id, const struct bpfvm_prog_info *prog)
{
	if (id == FN_setsockopt || id == FN_getsockopt)
		return prog->expected_attach_type == BPF_CGROUP_SETSOCKOPT;
	return sockopt_listed(id);
}

/* ---- r0 at exit (check_return_code) -------------------------------------- */

static void range01(const struct bpfvm_prog_info *prog, struct bpfvm_ret_range *r)
{
	(void)prog;
	*r = (struct bpfvm_ret_range){ true, 0, 1 };
}

/* cgroup_skb egress may also ask for congestion notification (2, 3). */
static void cg_skb_range(const struct bpfvm_prog_info *prog,
			 struct bpfvm_ret_range *r)
{
	*r = (struct bpfvm_ret_range){ true, 0,
		prog->expected_attach_type == BPF_CGROUP_INET_EGRESS ? 3 : 1 };
}

/* bind hooks may return 2/3 (skip the port check); recvmsg and get*name
 * hooks must return 1. */
static void sock_addr_range(const struct bpfvm_prog_info *prog,
			    struct bpfvm_ret_range *r)
{
	switch (prog->expected_attach_type) {
	case BPF_CGROUP_INET4_BIND:
	case BPF_CGROUP_INET6_BIND:
		*r = (struct bpfvm_ret_range){ true, 0, 3 };
		return;
	case BPF_CGROUP_UDP4_RECVMSG:
	case BPF_CGROUP_UDP6_RECVMSG:
	case BPF_CGROUP_INET4_GETPEERNAME:
	case BPF_CGROUP_INET6_GETPEERNAME:
	case BPF_CGROUP_INET4_GETSOCKNAME:
	case BPF_CGROUP_INET6_GETSOCKNAME:
	case 51: case 52: case 53: /* UNIX_RECVMSG, _GETPEERNAME, _GETSOCKNAME */
		*r = (struct bpfvm_ret_range){ true, 1, 1 };
		return;
	}
	*r = (struct bpfvm_ret_range){ true, 0, 1 };
}

/* ---- rewrites onto the runtime contexts ---------------------------------- */

static void identity(int off, int size, struct bpfvm_ctx_rewrite *rw)
{
	*rw = (struct bpfvm_ctx_rewrite){ (uint32_t)off, (uint8_t)size, false };
}

/* __sk_buff: plain fields in place, packet pointers as 64-bit pointers.
 * tc_index, tc_classid and queue_mapping are u16 in the kernel's sk_buff:
 * a u32 store keeps the low half, so the store is narrowed the same way
 * (the mirror's upper half stays zero).  Not modelled: the kernel drops a
 * queue_mapping store of 0xffff or more instead of truncating it. */
static void skb_convert(int off, int size, enum bpfvm_access t,
			struct bpfvm_ctx_rewrite *rw)
{
	/* Fields the kernel keeps in fewer bytes than the u32 the program
	 * sees: a narrow load at least that wide returns the whole value
	 * wherever in the u32 it starts (convert_ctx_accesses shifts only
	 * loads narrower than the kernel's field), so it reads from the
	 * field's start. */
	static const struct { uint8_t off, bytes; } small[] = {
		{ offsetof(struct __sk_buff, pkt_type), 1 },
		{ offsetof(struct __sk_buff, vlan_present), 1 },
		{ offsetof(struct __sk_buff, queue_mapping), 2 },
		{ offsetof(struct __sk_buff, protocol), 2 },
		{ offsetof(struct __sk_buff, vlan_tci), 2 },
		{ offsetof(struct __sk_buff, vlan_proto), 2 },
		{ offsetof(struct __sk_buff, tc_index), 2 },
		{ offsetof(struct __sk_buff, tc_classid), 2 },
		{ offsetof(struct __sk_buff, family), 2 },
		{ offsetof(struct __sk_buff, local_port), 2 },
	};

	if (t == BPFVM_ACCESS_READ && size < 4)
		for (size_t i = 0; i < sizeof(small) / sizeof(small[0]); i++)
			if (off >= small[i].off && off < small[i].off + 4 &&
			    size >= small[i].bytes) {
				*rw = (struct bpfvm_ctx_rewrite){ small[i].off, (uint8_t)size, false };
				return;
			}
	if (t == BPFVM_ACCESS_WRITE && size == 4 &&
	    (off == offsetof(struct __sk_buff, tc_index) ||
	     off == offsetof(struct __sk_buff, tc_classid) ||
	     off == offsetof(struct __sk_buff, queue_mapping))) {
		*rw = (struct bpfvm_ctx_rewrite){ (uint32_t)off, 2, false };
		return;
	}
	switch (off) {
	case offsetof(struct __sk_buff, data):
		*rw = (struct bpfvm_ctx_rewrite){ BPFVM_SKB_DATA_OFF, 8, true };
		return;
	case offsetof(struct __sk_buff, data_end):
		*rw = (struct bpfvm_ctx_rewrite){ BPFVM_SKB_DATA_END_OFF, 8, true };
		return;
	case offsetof(struct __sk_buff, data_meta):
		*rw = (struct bpfvm_ctx_rewrite){ BPFVM_SKB_DATA_META_OFF, 8, true };
		return;
	case offsetof(struct __sk_buff, sk):
	case offsetof(struct __sk_buff, flow_keys):
		*rw = (struct bpfvm_ctx_rewrite){ (uint32_t)off, 8, true };
		return;
	}
	identity(off, size, rw);
}

/* xdp_md: every field moves (the pointers widen). */
static void xdp_convert(int off, int size, enum bpfvm_access t,
			struct bpfvm_ctx_rewrite *rw)
{
	static const struct bpfvm_ctx_rewrite map[] = {
		{ BPFVM_XDP_DATA_OFF, 8, true },
		{ BPFVM_XDP_DATA_END_OFF, 8, true },
		{ BPFVM_XDP_DATA_META_OFF, 8, true },
		{ BPFVM_XDP_INGRESS_IFINDEX_OFF, 4, false },
		{ BPFVM_XDP_RX_QUEUE_INDEX_OFF, 4, false },
		{ BPFVM_XDP_EGRESS_IFINDEX_OFF, 4, false },
	};
	(void)t;
	if (off >= 0 && off < 24 && off % 4 == 0 && size == 4) {
		*rw = map[off / 4];
		return;
	}
	identity(off, size, rw);
}

/* ---- the table ------------------------------------------------------------ */

#define SKB_SIZE ((uint32_t)sizeof(struct __sk_buff))
#define RT_SKB ((uint32_t)sizeof(struct bpfvm_skb))
#define RT_XDP ((uint32_t)sizeof(struct bpfvm_xdp))

static const struct bpfvm_prog_type types[] = {
	{ BPF_PROG_TYPE_SOCKET_FILTER, "socket_filter", "__sk_buff", SKB_SIZE, RT_SKB,
	  true, BPFVM_PKT_NONE, true, true,
	  bpfvm_ctx_sk_filter, skb_convert, sk_filter_allowed, NULL },
	{ BPF_PROG_TYPE_KPROBE, "kprobe", "pt_regs", 168, 168,
	  false, BPFVM_PKT_NONE, false, false,
	  bpfvm_ctx_kprobe, NULL, tracing_allowed, NULL },
	{ BPF_PROG_TYPE_SCHED_CLS, "sched_cls", "__sk_buff", SKB_SIZE, RT_SKB,
	  true, BPFVM_PKT_RW, true, true,
	  bpfvm_ctx_tc, skb_convert, tc_allowed, NULL },
	{ BPF_PROG_TYPE_SCHED_ACT, "sched_act", "__sk_buff", SKB_SIZE, RT_SKB,
	  true, BPFVM_PKT_RW, true, true,
	  bpfvm_ctx_tc, skb_convert, tc_allowed, NULL },
	{ BPF_PROG_TYPE_TRACEPOINT, "tracepoint", "trace_entry", 8192, 8192,
	  false, BPFVM_PKT_NONE, false, false,
	  bpfvm_ctx_tracepoint, NULL, tracing_allowed, NULL },
	{ BPF_PROG_TYPE_XDP, "xdp", "xdp_md", (uint32_t)sizeof(struct xdp_md), RT_XDP,
	  false, BPFVM_PKT_RW, true, true,
	  bpfvm_ctx_xdp, xdp_convert, xdp_allowed, NULL },
	{ BPF_PROG_TYPE_PERF_EVENT, "perf_event", "bpf_perf_event_data", 184, 184,
	  false, BPFVM_PKT_NONE, false, false,
	  bpfvm_ctx_perf_event, NULL, perf_event_allowed, NULL },
	{ BPF_PROG_TYPE_CGROUP_SKB, "cgroup_skb", "__sk_buff", SKB_SIZE, RT_SKB,
	  false, BPFVM_PKT_READ, true, true,
	  bpfvm_ctx_cg_skb, skb_convert, cg_skb_allowed, cg_skb_range },
	{ BPF_PROG_TYPE_CGROUP_SOCK, "cgroup_sock", "bpf_sock",
	  (uint32_t)sizeof(struct bpf_sock), (uint32_t)sizeof(struct bpf_sock),
	  false, BPFVM_PKT_NONE, false, false,
	  bpfvm_ctx_cg_sock, NULL, cg_sock_allowed, range01 },
	{ BPF_PROG_TYPE_LWT_IN, "lwt_in", "__sk_buff", SKB_SIZE, RT_SKB,
	  false, BPFVM_PKT_READ, true, true,
	  bpfvm_ctx_lwt, skb_convert, lwt_in_allowed, NULL },
	{ BPF_PROG_TYPE_LWT_OUT, "lwt_out", "__sk_buff", SKB_SIZE, RT_SKB,
	  false, BPFVM_PKT_READ, true, true,
	  bpfvm_ctx_lwt, skb_convert, lwt_out_allowed, NULL },
	{ BPF_PROG_TYPE_LWT_XMIT, "lwt_xmit", "__sk_buff", SKB_SIZE, RT_SKB,
	  false, BPFVM_PKT_RW, true, true,
	  bpfvm_ctx_lwt, skb_convert, lwt_xmit_allowed, NULL },
	{ BPF_PROG_TYPE_SOCK_OPS, "sock_ops", "bpf_sock_ops", 224, 224,
	  false, BPFVM_PKT_NONE, false, false,
	  bpfvm_ctx_sock_ops, NULL, sock_ops_allowed, range01 },
	{ BPF_PROG_TYPE_SK_SKB, "sk_skb", "__sk_buff", SKB_SIZE, RT_SKB,
	  false, BPFVM_PKT_RW, false, false,
	  bpfvm_ctx_sk_skb, skb_convert, sk_skb_allowed, NULL },
	{ BPF_PROG_TYPE_CGROUP_DEVICE, "cgroup_device", "bpf_cgroup_dev_ctx", 12, 12,
	  false, BPFVM_PKT_NONE, false, false,
	  bpfvm_ctx_cg_dev, NULL, cg_dev_allowed, range01 },
	{ BPF_PROG_TYPE_SK_MSG, "sk_msg", "sk_msg_md", (uint32_t)sizeof(struct sk_msg_md),
	  (uint32_t)sizeof(struct sk_msg_md), false, BPFVM_PKT_RW, false, false,
	  bpfvm_ctx_sk_msg, NULL, sk_msg_allowed, NULL },
	{ BPF_PROG_TYPE_RAW_TRACEPOINT, "raw_tracepoint", "bpf_raw_tracepoint_args", 96, 96,
	  false, BPFVM_PKT_NONE, false, true,
	  bpfvm_ctx_raw_tp, NULL, tracing_allowed, NULL },
	{ BPF_PROG_TYPE_CGROUP_SOCK_ADDR, "cgroup_sock_addr", "bpf_sock_addr",
	  (uint32_t)sizeof(struct bpf_sock_addr), (uint32_t)sizeof(struct bpf_sock_addr),
	  false, BPFVM_PKT_NONE, false, false,
	  bpfvm_ctx_sock_addr, NULL, sock_addr_allowed, sock_addr_range },
	{ BPF_PROG_TYPE_LWT_SEG6LOCAL, "lwt_seg6local", "__sk_buff", SKB_SIZE, RT_SKB,
	  false, BPFVM_PKT_READ, false, false,
	  bpfvm_ctx_lwt, skb_convert, lwt_seg6_allowed, NULL },
	{ BPF_PROG_TYPE_SK_REUSEPORT, "sk_reuseport", "sk_reuseport_md",
	  (uint32_t)sizeof(struct sk_reuseport_md), (uint32_t)sizeof(struct sk_reuseport_md),
	  false, BPFVM_PKT_READ, false, false,
	  bpfvm_ctx_reuseport, NULL, reuseport_allowed, NULL },
	{ BPF_PROG_TYPE_FLOW_DISSECTOR, "flow_dissector", "__sk_buff", SKB_SIZE, RT_SKB,
	  false, BPFVM_PKT_READ, false, true,
	  bpfvm_ctx_flow_dissector, skb_convert, flow_dissector_allowed, NULL },
	{ BPF_PROG_TYPE_CGROUP_SYSCTL, "cgroup_sysctl", "bpf_sysctl", 8, 8,
	  false, BPFVM_PKT_NONE, false, false,
	  bpfvm_ctx_sysctl, NULL, sysctl_allowed, range01 },
	{ BPF_PROG_TYPE_RAW_TRACEPOINT_WRITABLE, "raw_tracepoint_writable",
	  "bpf_raw_tracepoint_args", 96, 96, false, BPFVM_PKT_NONE, false, false,
	  bpfvm_ctx_raw_tp_w, NULL, tracing_allowed, NULL },
	{ BPF_PROG_TYPE_CGROUP_SOCKOPT, "cgroup_sockopt", "bpf_sockopt",
	  (uint32_t)sizeof(struct bpf_sockopt), (uint32_t)sizeof(struct bpf_sockopt),
	  false, BPFVM_PKT_RW, false, false,
	  bpfvm_ctx_sockopt, NULL, sockopt_allowed, range01 },
	{ BPF_PROG_TYPE_SK_LOOKUP, "sk_lookup", "bpf_sk_lookup",
	  (uint32_t)sizeof(struct bpf_sk_lookup), (uint32_t)sizeof(struct bpf_sk_lookup),
	  false, BPFVM_PKT_NONE, false, true,
	  bpfvm_ctx_sk_lookup, NULL, sk_lookup_allowed, range01 },
};
#define NTYPES (sizeof(types) / sizeof(types[0]))

const struct bpfvm_prog_type *bpfvm_prog_type(uint32_t id)
{
	for (size_t i = 0; i < NTYPES; i++)
		if (types[i].id == id)
			return &types[i];
	return NULL;
}

const struct bpfvm_prog_type *bpfvm_prog_type_by_name(const char *name)
{
	for (size_t i = 0; i < NTYPES; i++)
		if (!strcmp(types[i].name, name))
			return &types[i];
	return NULL;
}

int bpfvm_prog_check_attach(uint32_t type, uint32_t *eat)
{
	/* bpf_prog_load_fixup_attach_type: old cgroup_sock loaders. */
	if (type == BPF_PROG_TYPE_CGROUP_SOCK && *eat == 0)
		*eat = BPF_CGROUP_INET_SOCK_CREATE;
	switch (type) {
	case BPF_PROG_TYPE_CGROUP_SOCK:
		switch (*eat) {
		case BPF_CGROUP_INET_SOCK_CREATE:
		case BPF_CGROUP_INET_SOCK_RELEASE:
		case BPF_CGROUP_INET4_POST_BIND:
		case BPF_CGROUP_INET6_POST_BIND:
			return 0;
		}
		return -EINVAL;
	case BPF_PROG_TYPE_CGROUP_SOCK_ADDR:
		switch (*eat) {
		case BPF_CGROUP_INET4_BIND: case BPF_CGROUP_INET6_BIND:
		case BPF_CGROUP_INET4_CONNECT: case BPF_CGROUP_INET6_CONNECT:
		case BPF_CGROUP_INET4_GETPEERNAME: case BPF_CGROUP_INET6_GETPEERNAME:
		case BPF_CGROUP_INET4_GETSOCKNAME: case BPF_CGROUP_INET6_GETSOCKNAME:
		case BPF_CGROUP_UDP4_SENDMSG: case BPF_CGROUP_UDP6_SENDMSG:
		case BPF_CGROUP_UDP4_RECVMSG: case BPF_CGROUP_UDP6_RECVMSG:
		case 49: case 50: case 51: case 52: case 53: /* CGROUP_UNIX_* */
			return 0;
		}
		return -EINVAL;
	case BPF_PROG_TYPE_CGROUP_SKB:
		/* 0 is INGRESS; any other must be EGRESS. */
		return *eat == BPF_CGROUP_INET_INGRESS ||
		       *eat == BPF_CGROUP_INET_EGRESS ? 0 : -EINVAL;
	case BPF_PROG_TYPE_CGROUP_SOCKOPT:
		return *eat == BPF_CGROUP_SETSOCKOPT ||
		       *eat == BPF_CGROUP_GETSOCKOPT ? 0 : -EINVAL;
	case BPF_PROG_TYPE_SK_LOOKUP:
		return *eat == BPF_SK_LOOKUP ? 0 : -EINVAL;
	case BPF_PROG_TYPE_SK_REUSEPORT:
		return *eat == 0 || *eat == BPF_SK_REUSEPORT_SELECT ||
		       *eat == BPF_SK_REUSEPORT_SELECT_OR_MIGRATE ? 0 : -EINVAL;
	}
	return 0;
}

bool bpfvm_ctx_access_ok(const struct bpfvm_prog_info *prog, int off,
			 int size, enum bpfvm_access t,
			 struct bpfvm_ctx_access *acc)
{
	const struct bpfvm_prog_type *pt = bpfvm_prog_type(prog->type);
	struct bpfvm_ctx_access tmp;

	if (!acc)
		acc = &tmp;
	*acc = (struct bpfvm_ctx_access){ BPFVM_CTX_SCALAR, 0 };
	if (!pt || size <= 0 || size > 8 || (size & (size - 1)))
		return false;
	return pt->is_valid_access(off, size, t, prog, acc);
}

void bpfvm_ctx_convert(const struct bpfvm_prog_info *prog, int off, int size,
		       enum bpfvm_access t, struct bpfvm_ctx_rewrite *rw)
{
	const struct bpfvm_prog_type *pt = bpfvm_prog_type(prog->type);

	if (pt && pt->convert)
		pt->convert(off, size, t, rw);
	else
		identity(off, size, rw);
}

void bpfvm_ctx_rewrite_insn(const struct bpfvm_prog_info *prog,
			    struct bpfvm_insn *insn)
{
	/* BPF_SIZE: W 0x00, H 0x08, B 0x10, DW 0x18 */
	static const int bytes[4] = { 4, 2, 1, 8 };
	static const uint8_t code_of[9] = { [1] = 0x10, [2] = 0x08, [4] = 0x00, [8] = 0x18 };
	uint8_t cls = insn->code & 0x07;
	struct bpfvm_ctx_rewrite rw;

	if (cls != 0x01 && cls != 0x02 && cls != 0x03) /* LDX, ST, STX */
		return;
	bpfvm_ctx_convert(prog, insn->off, bytes[(insn->code >> 3) & 3],
			  cls == 0x01 ? BPFVM_ACCESS_READ : BPFVM_ACCESS_WRITE, &rw);
	insn->off = (int16_t)rw.rt_off;
	insn->code = (uint8_t)((insn->code & ~0x18) | code_of[rw.rt_size]);
}
