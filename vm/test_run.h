/* The runtime contexts of packet programs and BPF_PROG_TEST_RUN.
 *
 * A verified program reads its context through the rewritten accesses of
 * verifier/prog_types.h (bpfvm_ctx_convert): the plain fields of
 * struct __sk_buff / struct bpf_sock sit at their uapi offsets in `md`,
 * so those accesses are left as they are (narrow loads included); the
 * packet pointers the uapi shows as u32 (data, data_end, data_meta) are
 * 64-bit host pointers further on, loaded whole.  That is the kernel's
 * convert_ctx_access with bpfvm's own sk_buff / xdp_buff in place of the
 * kernel's.
 *
 * bpfvm_test_run() is PROG_TEST_RUN with the kernel's semantics
 * (net/bpf/test_run.c, Linux 6.18) for SOCKET_FILTER, SCHED_CLS,
 * SCHED_ACT and XDP; other types answer -ENOTSUPP (524) as the kernel does
 * for types without a test run, or -EINVAL for those whose kernel test run
 * bpfvm does not model.
 * SPDX-License-Identifier: MIT */
#ifndef BPFVM_TEST_RUN_H
#define BPFVM_TEST_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bpfvm;

/* struct __sk_buff, field for field (192 bytes; uapi layout). */
struct bpfvm_sk_buff_md {
	uint32_t len, pkt_type, mark, queue_mapping, protocol, vlan_present;
	uint32_t vlan_tci, vlan_proto, priority, ingress_ifindex, ifindex;
	uint32_t tc_index, cb[5], hash, tc_classid, data, data_end, napi_id;
	uint32_t family, remote_ip4, local_ip4, remote_ip6[4], local_ip6[4];
	uint32_t remote_port, local_port, data_meta;
	uint64_t flow_keys, tstamp;
	uint32_t wire_len, gso_segs;
	uint64_t sk;            /* host pointer to the bpfvm_sock_md below */
	uint32_t gso_size;
	uint8_t tstamp_type, pad[3];
	uint64_t hwtstamp;
};

/* struct bpf_sock, field for field (80 bytes): what skb->sk points to. */
struct bpfvm_sock_md {
	uint32_t bound_dev_if, family, type, protocol, mark, priority;
	uint32_t src_ip4, src_ip6[4], src_port;
	uint16_t dst_port, pad;  /* network byte order */
	uint32_t dst_ip4, dst_ip6[4], state;
	int32_t rx_queue_mapping;
};

struct bpfvm_skb_storage;

/* The runtime skb: ctx of socket filter, tc, cgroup_skb, lwt, sk_skb. */
struct bpfvm_skb {
	struct bpfvm_sk_buff_md md;       /* offset 0: plain fields */
	uint64_t data, data_end, data_meta; /* 192, 200, 208: host pointers */
	struct bpfvm_sock_md sock;        /* md.sk points here */
	uint8_t *head;                    /* buffer: [head, head + size) */
	uint32_t size;
	/* what the skb helpers (vm/skb_helpers.c) keep; bpfvm_skb_release
	 * frees it */
	uint32_t mac_header, network_header; /* offsets from head */
	bool owns_head;                   /* release frees head: a test
					     run's, or one a helper grew */
	bool sw_hash, l4_hash;            /* md.hash is set (skb_get_hash) */
	void *cgroup_storage[2];          /* the run's shared / per-CPU
					     cgroup storage (get_local_storage) */
	struct bpfvm_skb_storage *sk_storage; /* the socket's sk_storage */
};
#define BPFVM_SKB_DATA_OFF 192
#define BPFVM_SKB_DATA_END_OFF 200
#define BPFVM_SKB_DATA_META_OFF 208

/* The runtime xdp_buff: ctx of XDP programs. */
struct bpfvm_xdp {
	uint64_t data, data_end, data_meta; /* 0, 8, 16: host pointers */
	uint32_t ingress_ifindex;           /* 24 */
	uint32_t rx_queue_index;            /* 28 */
	uint32_t egress_ifindex;            /* 32 */
	uint32_t frame_size;                /* bytes from data_hard_start */
	uint8_t *data_hard_start;
	const uint8_t *frags;               /* the packet beyond data_end */
	uint32_t frags_len;                 /* (xdp_get_buff_len adds it) */
};
#define BPFVM_XDP_DATA_OFF 0
#define BPFVM_XDP_DATA_END_OFF 8
#define BPFVM_XDP_DATA_META_OFF 16
#define BPFVM_XDP_INGRESS_IFINDEX_OFF 24
#define BPFVM_XDP_RX_QUEUE_INDEX_OFF 28
#define BPFVM_XDP_EGRESS_IFINDEX_OFF 32

/* The kernel's constants of a test run. */
#define BPFVM_ETH_HLEN 14
#define BPFVM_NET_SKB_PAD 64           /* max(32, L1_CACHE_BYTES) on x86-64 */
#define BPFVM_NET_IP_ALIGN 0           /* x86 */
#define BPFVM_XDP_PACKET_HEADROOM 256
#define BPFVM_PAGE_SIZE 4096
#define BPFVM_SKB_SHINFO_SIZE 320      /* SKB_DATA_ALIGN(sizeof(skb_shared_info)) */
#define BPFVM_XDP_SHINFO_SIZE 320
#define BPFVM_LOOPBACK_IFINDEX 1
#define BPFVM_ENOTSUPP 524

/* The test-run part of union bpf_attr, in and out, as the bpf(2) layer
 * passes it.  Pointers are the caller's buffers. */
struct bpfvm_test_run_attr {
	/* in */
	const void *data_in;
	uint32_t data_size_in;
	void *data_out;          /* may be NULL */
	uint32_t data_size_out;  /* in: buffer size (0: no limit, as the
				    kernel: copies everything); out: the
				    full size of the output packet */
	const void *ctx_in;      /* may be NULL */
	uint32_t ctx_size_in;
	void *ctx_out;           /* may be NULL */
	uint32_t ctx_size_out;   /* in: buffer size; out: full ctx size */
	uint32_t repeat;         /* 0 means 1 */
	uint32_t flags, cpu, batch_size;
	/* out */
	uint32_t retval;
	uint32_t duration;       /* average ns per run */
};

/* Run the loaded, verified program `vm` of `prog_type` as the kernel's
 * BPF_PROG_TEST_RUN does: build the skb or xdp_buff from data_in (and
 * ctx_in), run it `repeat` times, report retval and duration, copy the
 * packet to data_out and the context to ctx_out.  Returns 0, or -EINVAL
 * (bad sizes, flags, ctx fields a caller may not set), -ENOSPC (data_out
 * or ctx_out too small: the truncated copy is still made, as the kernel),
 * -E2BIG, -ENOMEM, -EFAULT (the run failed), -ENOTSUPP (524). */
int bpfvm_test_run(const struct bpfvm *vm, uint32_t prog_type,
		   uint32_t expected_attach_type,
		   struct bpfvm_test_run_attr *attr);

/* Install on a loaded program of `prog_type` what its runs need: for skb
 * types the run hook that gives LD_ABS / LD_IND their packet (skb->data,
 * skb->len) and lets checked mode reach the packet buffer and the socket;
 * for XDP the packet buffer; and the type's packet and socket helpers
 * (bpfvm_skb_helpers_register).  The bpf(2) layer calls it at PROG_LOAD.
 * 0 or -ENOMEM. */
int bpfvm_test_run_prepare(struct bpfvm *vm, uint32_t prog_type);

/* Fill `skb` for a run over [data, data + len), a buffer of `size` bytes
 * starting at head, as a test run does for `prog_type` (for embedders
 * that build their own runs).  l2: data starts at the Ethernet header
 * (tc); otherwise it starts after it (socket filter). */
void bpfvm_skb_init(struct bpfvm_skb *skb, uint8_t *head, uint32_t size,
		    uint8_t *data, uint32_t len, bool l2);

/* Free what helpers gave the skb (storage, a grown head) and the head if
 * the skb owns it.  Call after the last run on it. */
void bpfvm_skb_release(struct bpfvm_skb *skb);

/* pskb_expand_head(skb, nhead, ntail): nhead more bytes of headroom and
 * ntail of tailroom (zeroed) in a new buffer the skb owns (the old one
 * freed if it owned it).  0 or -ENOMEM. */
int bpfvm_skb_expand_head(struct bpfvm_skb *skb, uint32_t nhead,
			  uint32_t ntail);

/* Register the skb and socket helpers (vm/skb_helpers.c) a program of
 * `prog_type` may call; nothing for other types. */
int bpfvm_skb_helpers_register(struct bpfvm *vm, uint32_t prog_type);

/* What those helpers allocated for skb (bpfvm_skb_release calls it). */
void bpfvm_skb_helpers_free(struct bpfvm_skb *skb);

/* LD_ABS / LD_IND's view of skb (its data, length and headers), for the
 * run hook and the helpers that move the packet. */
struct bpfvm_call;
void bpfvm_skb_set_packet(struct bpfvm_call *call, const struct bpfvm_skb *skb);

#endif
