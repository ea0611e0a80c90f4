/* BPF_PROG_TEST_RUN with the kernel's semantics (net/bpf/test_run.c,
 * Linux 6.18): the skb or xdp_buff a test run builds from data_in and
 * ctx_in, the run loop, and what goes back in data_out, ctx_out, retval
 * and duration.  See test_run.h for the runtime contexts.
 * SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "test_run.h"
#include "vm_internal.h"
#include "../verifier/prog_types.h" /* type numbers only: no link dependency */

#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define ETH_P_802_3 0x0001
#define ETH_P_802_2 0x0004
#define ETH_P_802_3_MIN 0x0600
#define AF_INET_ 2
#define AF_INET6_ 10
#define TCP_CLOSE 7
#define GSO_MAX_SEGS 65535
#define GSO_LEGACY_MAX_SIZE 65536
#define PACKET_HOST 0
#define PACKET_MULTICAST 2
/* XDP_PACKET_HEADROOM less the xdp_frame kept in front of it */
#define XDP_METADATA_MAX 216
#define MAX_SKB_FRAGS 17

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t le32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

/* eth_type_trans on the loopback device (address and "broadcast" address
 * both 00:..:00, so ff:..:ff is only multicast): the packet type from the
 * destination, the protocol (as the kernel stores it: network order) from
 * the header or the 802.2/802.3 guess. */
static void eth_type_trans(struct bpfvm_skb *skb, const uint8_t *eth,
			   uint32_t len)
{
	static const uint8_t zero[6];
	uint16_t proto = be16(eth + 12);

	if (!memcmp(eth, zero, 6))
		skb->md.pkt_type = PACKET_HOST;
	else if (eth[0] & 1)
		skb->md.pkt_type = PACKET_MULTICAST;
	else
		skb->md.pkt_type = 3; /* PACKET_OTHERHOST */
	if (proto < ETH_P_802_3_MIN)
		proto = len >= 16 && eth[14] == 0xff && eth[15] == 0xff ?
			ETH_P_802_3 : ETH_P_802_2;
	skb->md.protocol = (uint32_t)((proto >> 8) | (proto & 0xff) << 8);
}

void bpfvm_skb_init(struct bpfvm_skb *skb, uint8_t *head, uint32_t size,
		    uint8_t *data, uint32_t len, bool l2)
{
	const uint8_t *eth = l2 ? data : data - BPFVM_ETH_HLEN;
	uint32_t l3len = l2 ? len - BPFVM_ETH_HLEN : len;
	const uint8_t *l3 = eth + BPFVM_ETH_HLEN;
	uint16_t proto;

	memset(skb, 0, sizeof(*skb));
	skb->head = head;
	skb->size = size;
	skb->mac_header = (uint32_t)(eth - head);
	skb->network_header = skb->mac_header + BPFVM_ETH_HLEN;
	skb->data = (uint64_t)(uintptr_t)data;
	skb->data_end = (uint64_t)(uintptr_t)(data + len);
	skb->data_meta = skb->data;
	skb->md.len = len;
	skb->md.ifindex = BPFVM_LOOPBACK_IFINDEX;
	skb->md.sk = (uint64_t)(uintptr_t)&skb->sock;
	eth_type_trans(skb, eth, l3len + BPFVM_ETH_HLEN);

	/* the test run's socket: family and addresses from the IP header */
	skb->sock.state = TCP_CLOSE;
	skb->sock.rx_queue_mapping = -1;
	proto = be16(eth + 12);
	if (proto == ETH_P_IP) {
		skb->sock.family = AF_INET_;
		if (l3len >= 20) {
			skb->sock.src_ip4 = le32(l3 + 12);
			skb->sock.dst_ip4 = le32(l3 + 16);
		}
	} else if (proto == ETH_P_IPV6) {
		skb->sock.family = AF_INET6_;
		if (l3len >= 40) {
			memcpy(skb->sock.src_ip6, l3 + 8, 16);
			memcpy(skb->sock.dst_ip6, l3 + 24, 16);
		}
	}
	skb->md.family = skb->sock.family;
	skb->md.remote_ip4 = skb->sock.dst_ip4;
	skb->md.local_ip4 = skb->sock.src_ip4;
	memcpy(skb->md.remote_ip6, skb->sock.dst_ip6, 16);
	memcpy(skb->md.local_ip6, skb->sock.src_ip6, 16);
}

void bpfvm_skb_release(struct bpfvm_skb *skb)
{
	bpfvm_skb_helpers_free(skb);
	if (skb->owns_head)
		free(skb->head);
	skb->head = NULL;
	skb->owns_head = false;
}

int bpfvm_skb_expand_head(struct bpfvm_skb *skb, uint32_t nhead,
			  uint32_t ntail)
{
	uint8_t *old = skb->head, *buf;
	uint64_t off = skb->data - (uint64_t)(uintptr_t)old;
	uint64_t size = (uint64_t)skb->size + nhead + ntail;

	if (size > UINT32_MAX)
		return -ENOMEM;
	buf = calloc(1, (size_t)size);
	if (!buf)
		return -ENOMEM;
	memcpy(buf + nhead, old, skb->size);
	skb->head = buf;
	skb->size = (uint32_t)size;
	skb->data = (uint64_t)(uintptr_t)(buf + nhead + off);
	skb->data_end = skb->data_end ? skb->data + skb->md.len : 0;
	skb->data_meta = skb->data_meta ? skb->data : 0;
	skb->mac_header += nhead;
	skb->network_header += nhead;
	if (skb->owns_head)
		free(old);
	skb->owns_head = true;
	return 0;
}

void bpfvm_skb_set_packet(struct bpfvm_call *call, const struct bpfvm_skb *skb)
{
	uint64_t head = (uint64_t)(uintptr_t)skb->head;

	bpfvm_call_set_packet(call, (void *)(uintptr_t)skb->data, skb->md.len);
	if (skb->head)
		bpfvm_call_set_packet_headers(call,
			(int32_t)(head + skb->mac_header - skb->data),
			(int32_t)(head + skb->network_header - skb->data));
}

/* LD_ABS / LD_IND read skb->data .. +len (and its headers); checked mode
 * may touch the packet buffer and the socket. */
static void skb_run_hook(void *cookie, struct bpfvm_call *call, void *ctx,
			size_t ctx_len)
{
	struct bpfvm_skb *skb = ctx;

	(void)cookie;
	if (!skb || ctx_len < sizeof(*skb))
		return;
	bpfvm_skb_set_packet(call, skb);
	if (skb->head)
		bpfvm_call_add_region(call, skb->head, skb->size, true);
	bpfvm_call_add_region(call, &skb->sock, sizeof(skb->sock), false);
}

static void xdp_run_hook(void *cookie, struct bpfvm_call *call, void *ctx,
			size_t ctx_len)
{
	struct bpfvm_xdp *xdp = ctx;

	(void)cookie;
	if (xdp && ctx_len >= sizeof(*xdp) && xdp->data_hard_start)
		bpfvm_call_add_region(call, xdp->data_hard_start,
				      xdp->frame_size, true);
}

int bpfvm_test_run_prepare(struct bpfvm *vm, uint32_t prog_type)
{
	switch (prog_type) {
	case BPFVM_PROG_XDP:
		bpfvm_set_run_hook(vm, xdp_run_hook, NULL);
		break;
	case BPFVM_PROG_SOCKET_FILTER: case BPFVM_PROG_SCHED_CLS:
	case BPFVM_PROG_SCHED_ACT: case BPFVM_PROG_CGROUP_SKB:
	case BPFVM_PROG_LWT_IN: case BPFVM_PROG_LWT_OUT: case BPFVM_PROG_LWT_XMIT:
	case BPFVM_PROG_LWT_SEG6LOCAL: case BPFVM_PROG_SK_SKB:
		bpfvm_set_run_hook(vm, skb_run_hook, NULL);
		break;
	}
	return bpfvm_skb_helpers_register(vm, prog_type);
}

/* bpf_ctx_init: the caller's ctx, zero-extended; a longer one only with a
 * zero tail (E2BIG otherwise).  NULL result and 0 when neither ctx_in
 * nor ctx_out was given. */
static int ctx_init(const struct bpfvm_test_run_attr *a, void *ctx,
		    uint32_t max, bool *have)
{
	*have = a->ctx_in || a->ctx_out;
	memset(ctx, 0, max);
	if (!a->ctx_in)
		return 0;
	for (uint32_t i = max; i < a->ctx_size_in; i++)
		if (((const uint8_t *)a->ctx_in)[i])
			return -E2BIG;
	memcpy(ctx, a->ctx_in, a->ctx_size_in < max ? a->ctx_size_in : max);
	return 0;
}

/* bpf_test_finish: data_out clamped to a non-zero data_size_out (ENOSPC),
 * the full size reported. */
static int finish(struct bpfvm_test_run_attr *a, const void *data,
		  uint32_t size, uint32_t retval, uint32_t duration)
{
	uint32_t copy = size;
	int err = 0;

	if (a->data_size_out && copy > a->data_size_out) {
		copy = a->data_size_out;
		err = -ENOSPC;
	}
	if (a->data_out)
		memcpy(a->data_out, data, copy);
	a->data_size_out = size;
	a->retval = retval;
	a->duration = duration;
	return err;
}

/* bpf_ctx_finish */
static int ctx_finish(struct bpfvm_test_run_attr *a, const void *ctx,
		      uint32_t size)
{
	uint32_t copy = size;
	int err = 0;

	if (!a->ctx_out)
		return 0;
	if (copy > a->ctx_size_out) {
		copy = a->ctx_size_out;
		err = -ENOSPC;
	}
	memcpy(a->ctx_out, ctx, copy);
	a->ctx_size_out = size;
	return err;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* bpf_test_run: `repeat` runs on the same context (changes persist), the
 * last r0 as retval, the mean time per run. */
static int run_loop(const struct bpfvm *vm, void *ctx, size_t len,
		    uint32_t repeat, uint32_t *retval, uint32_t *duration)
{
	struct bpfvm_result res;
	uint64_t t0, ns;

	if (!repeat)
		repeat = 1;
	t0 = now_ns();
	for (uint32_t i = 0; i < repeat; i++) {
		if (bpfvm_run(vm, ctx, len, &res) || res.error)
			return -EFAULT;
		*retval = (uint32_t)res.r0;
	}
	ns = (now_ns() - t0) / repeat;
	*duration = ns > UINT32_MAX ? UINT32_MAX : (uint32_t)ns;
	return 0;
}

/* Fields of __sk_buff a caller may set in ctx_in (convert___skb_to_skb);
 * every other byte must be zero. */
static bool skb_ctx_ok(const struct bpfvm_sk_buff_md *c)
{
	struct bpfvm_sk_buff_md z = *c;

	z.mark = z.priority = z.ingress_ifindex = z.ifindex = 0;
	memset(z.cb, 0, sizeof(z.cb));
	z.tstamp = 0;
	z.wire_len = z.gso_segs = z.gso_size = 0;
	z.hwtstamp = 0;
	for (size_t i = 0; i < sizeof(z); i++)
		if (((const uint8_t *)&z)[i])
			return false;
	return true;
}

static int test_run_skb(const struct bpfvm *vm, uint32_t type,
			struct bpfvm_test_run_attr *a)
{
	const uint32_t headroom = BPFVM_NET_SKB_PAD + BPFVM_NET_IP_ALIGN;
	const uint32_t tailroom = BPFVM_SKB_SHINFO_SIZE;
	bool l2 = type == BPFVM_PROG_SCHED_CLS || type == BPFVM_PROG_SCHED_ACT;
	/* bpf_compute_data_pointers: all but the socket filter, which cannot
	 * see them (checked on 6.18: cgroup_skb sees a real data_end) */
	bool direct = type != BPFVM_PROG_SOCKET_FILTER;
	struct bpfvm_sk_buff_md ctx;
	struct bpfvm_skb *skb;
	uint32_t size = a->data_size_in, retval = 0, duration = 0;
	uint8_t *buf, *data;
	bool have_ctx;
	int err;

	if (a->flags || a->cpu || a->batch_size)
		return -EINVAL;
	if (size < BPFVM_ETH_HLEN || size > BPFVM_PAGE_SIZE - headroom - tailroom)
		return -EINVAL;
	err = ctx_init(a, &ctx, sizeof(ctx), &have_ctx);
	if (err)
		return err;
	if (have_ctx && ctx.ifindex > 1)
		return -ENODEV; /* bpfvm has only the loopback device */

	buf = calloc(1, headroom + size + tailroom);
	skb = calloc(1, sizeof(*skb));
	if (!buf || !skb) {
		free(buf);
		free(skb);
		return -ENOMEM;
	}
	memcpy(buf + headroom, a->data_in, size);
	/* eth_type_trans pulls the Ethernet header; tc sees it pushed back */
	data = buf + headroom + (l2 ? 0 : BPFVM_ETH_HLEN);
	bpfvm_skb_init(skb, buf, headroom + size + tailroom, data,
		       l2 ? size : size - BPFVM_ETH_HLEN, l2);
	skb->owns_head = true;
	if (!direct)
		skb->data_end = skb->data_meta = 0; /* no bpf_compute_data_pointers */
	/* Linux 6.18 wants the whole IP header of an IP frame */
	{
		uint16_t proto = be16(buf + headroom + 12);
		if ((proto == ETH_P_IP && size < BPFVM_ETH_HLEN + 20) ||
		    (proto == ETH_P_IPV6 && size < BPFVM_ETH_HLEN + 40)) {
			err = -EINVAL;
			goto out;
		}
	}

	if (have_ctx) {
		if (!skb_ctx_ok(&ctx) || (ctx.wire_len &&
		    (ctx.wire_len < skb->md.len || ctx.wire_len > GSO_LEGACY_MAX_SIZE)) ||
		    ctx.gso_segs > GSO_MAX_SEGS) {
			err = -EINVAL;
			goto out;
		}
		skb->md.mark = ctx.mark;
		skb->md.priority = ctx.priority;
		skb->md.ingress_ifindex = ctx.ingress_ifindex;
		skb->md.tstamp = ctx.tstamp;
		memcpy(skb->md.cb, ctx.cb, sizeof(ctx.cb));
		/* qdisc_skb_cb's pkt_len: only set from a ctx */
		skb->md.wire_len = ctx.wire_len ? ctx.wire_len : skb->md.len;
		skb->md.gso_segs = ctx.gso_segs;
		skb->md.gso_size = ctx.gso_size;
		skb->md.hwtstamp = ctx.hwtstamp;
	}

	err = run_loop(vm, skb, sizeof(*skb), a->repeat, &retval, &duration);
	if (err)
		goto out;
	data = (uint8_t *)(uintptr_t)skb->data;
	size = skb->md.len;
	if (!l2) {
		/* the header comes back zeroed, in headroom made if a
		 * helper used it up (HH_DATA_ALIGN: 16-byte steps) */
		if (data - skb->head < BPFVM_ETH_HLEN) {
			uint32_t room = (uint32_t)(data - skb->head);
			if (bpfvm_skb_expand_head(skb,
					(BPFVM_ETH_HLEN - room + 15) & ~15u, 0)) {
				err = -ENOMEM;
				goto out;
			}
			data = (uint8_t *)(uintptr_t)skb->data;
		}
		data -= BPFVM_ETH_HLEN;
		memset(data, 0, BPFVM_ETH_HLEN);
		size += BPFVM_ETH_HLEN;
	}
	if (have_ctx) {
		ctx.mark = skb->md.mark;
		ctx.priority = skb->md.priority;
		ctx.ingress_ifindex = skb->md.ingress_ifindex;
		ctx.ifindex = skb->md.ifindex;
		ctx.tstamp = skb->md.tstamp;
		memcpy(ctx.cb, skb->md.cb, sizeof(ctx.cb));
		ctx.wire_len = skb->md.wire_len;
		ctx.gso_segs = skb->md.gso_segs;
		ctx.hwtstamp = skb->md.hwtstamp;
	}
	err = finish(a, data, size, retval, duration);
	if (!err && have_ctx)
		err = ctx_finish(a, &ctx, sizeof(ctx));
out:
	/* helpers may have moved the packet to a new buffer */
	bpfvm_skb_release(skb);
	free(skb);
	return err;
}

/* struct xdp_md as ctx_in / ctx_out. */
struct xdp_md_ {
	uint32_t data, data_end, data_meta, ingress_ifindex, rx_queue_index,
		 egress_ifindex;
};

/* bpf_prog_test_run_xdp: the linear part is what fits in one page after
 * the headroom (or ctx_in's data_end, if smaller), the rest of data_in
 * goes to up to MAX_SKB_FRAGS page fragments the program cannot read
 * directly but data_out returns.  ctx_in's data is the metadata length:
 * that many bytes of data_in lie in front of the packet. */
static int test_run_xdp(const struct bpfvm *vm, struct bpfvm_test_run_attr *a)
{
	const uint32_t tailroom = BPFVM_XDP_SHINFO_SIZE;
	uint32_t headroom = BPFVM_XDP_PACKET_HEADROOM, size = a->data_size_in;
	uint32_t max, linear, retval = 0, duration = 0, out_size;
	struct xdp_md_ ctx;
	struct bpfvm_xdp xdp;
	uint8_t *buf, *out;
	bool have_ctx;
	int err;

	if (a->flags)          /* BPF_F_TEST_XDP_LIVE_FRAMES: no devices */
		return -EINVAL;
	if (a->batch_size)
		return -EINVAL;
	err = ctx_init(a, &ctx, sizeof(ctx), &have_ctx);
	if (err)
		return err;
	if (have_ctx) {
		/* no user data before the metadata; metadata in 4-byte units */
		if (ctx.data_meta || ctx.data_end > size || ctx.data > ctx.data_end ||
		    (ctx.data & 3) || ctx.data > XDP_METADATA_MAX)
			return -EINVAL;
		headroom -= ctx.data;
	}
	max = BPFVM_PAGE_SIZE - headroom - tailroom;
	linear = have_ctx ? ctx.data_end : size;
	if (linear > max)
		linear = max;
	if (size < BPFVM_ETH_HLEN)
		return -EINVAL;
	if (size - linear > MAX_SKB_FRAGS * BPFVM_PAGE_SIZE)
		return -ENOMEM;
	if (have_ctx) {
		if (ctx.egress_ifindex || (!ctx.ingress_ifindex && ctx.rx_queue_index))
			return -EINVAL;
		if (ctx.ingress_ifindex)
			return ctx.ingress_ifindex == BPFVM_LOOPBACK_IFINDEX ?
			       -EINVAL : -ENODEV; /* loopback has no XDP rxq */
	}
	buf = calloc(1, headroom + max + tailroom);
	out = malloc(size + 1);
	if (!buf || !out) {
		free(buf);
		free(out);
		return -ENOMEM;
	}
	memcpy(buf + headroom, a->data_in, linear);
	memset(&xdp, 0, sizeof(xdp));
	xdp.data_hard_start = buf;
	xdp.frame_size = headroom + max + tailroom;
	xdp.data_meta = (uint64_t)(uintptr_t)(buf + headroom);
	xdp.data = xdp.data_meta + (have_ctx ? ctx.data : 0);
	xdp.data_end = xdp.data_meta + linear;
	xdp.frags = (const uint8_t *)a->data_in + linear;
	xdp.frags_len = size - linear;
	xdp.ingress_ifindex = BPFVM_LOOPBACK_IFINDEX;

	err = run_loop(vm, &xdp, sizeof(xdp), a->repeat, &retval, &duration);
	if (!err) {
		uint32_t lin = (uint32_t)(xdp.data_end - xdp.data_meta);

		if (have_ctx) {
			ctx.data = (uint32_t)(xdp.data - xdp.data_meta);
			ctx.data_end = lin;
		}
		memcpy(out, (void *)(uintptr_t)xdp.data_meta, lin);
		memcpy(out + lin, xdp.frags, xdp.frags_len);
		out_size = lin + xdp.frags_len;
		err = finish(a, out, out_size, retval, duration);
		if (!err && have_ctx)
			err = ctx_finish(a, &ctx, sizeof(ctx));
	}
	free(xdp.data_hard_start);
	free(out);
	return err;
}

int bpfvm_test_run(const struct bpfvm *vm, uint32_t prog_type,
		   uint32_t expected_attach_type, struct bpfvm_test_run_attr *a)
{
	(void)expected_attach_type;
	if (!vm || !a || (a->data_size_in && !a->data_in))
		return -EINVAL;
	switch (prog_type) {
	case BPFVM_PROG_SOCKET_FILTER:
	case BPFVM_PROG_SCHED_CLS:
	case BPFVM_PROG_SCHED_ACT:
	case BPFVM_PROG_CGROUP_SKB:
	case BPFVM_PROG_LWT_IN:
	case BPFVM_PROG_LWT_OUT:
	case BPFVM_PROG_LWT_XMIT:
		return test_run_skb(vm, prog_type, a);
	case BPFVM_PROG_XDP:
		return test_run_xdp(vm, a);
	}
	return -BPFVM_ENOTSUPP;
}
