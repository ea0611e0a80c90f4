/* The packet and socket helpers of skb programs (and the few XDP shares),
 * at run time, with Linux 6.18's semantics for what a PROG_TEST_RUN skb
 * is (net/core/filter.c, net/bpf/test_run.c): a linear skb with
 * CHECKSUM_NONE, no GSO unless ctx_in set gso_size, skb->sk the test
 * run's socket (a full socket of no protocol, TCP_CLOSE), no other socket
 * anywhere, perf event arrays with no events.  Registered per program
 * type by bpfvm_test_run_prepare (the table at the end).
 *
 * Unchecked runs trust the verifier, as the kernel does: r1 is the ctx,
 * a map argument the map, a buffer as long as its size.  Checked runs
 * check those (bpfvm_call_check_mem) and hand out the memory they return.
 * SPDX-License-Identifier: MIT */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include "helpers.h"
#include "map.h"
#include "test_run.h"
#include "vm_internal.h"
#include "../verifier/prog_types.h"

#define ENOTSUPP_ 524
#define ETH_HLEN_ 14
#define VLAN_HLEN 4
#define NET_SKB_PAD_ 64
#define BPF_SKB_MAX_LEN 16064  /* SKB_MAX_ALLOC: 4 pages less skb_shared_info */
#define CTXLEN_MASK (0xfffffull << 32)
#define INDEX_MASK 0xffffffffull
#define BE16(x) ((uint16_t)(((x) >> 8) | ((x) & 0xff) << 8)) /* htons, LE host */
#define TCP_TIME_WAIT_ 6
#define TCP_NEW_SYN_RECV_ 12
#define IPPROTO_TCP_ 6
#define IPPROTO_UDP_ 17
#define SOCK_STREAM_ 1
#define SOCK_DGRAM_ 2
#define AF_INET6_ 10
#define SK_STORAGE_F_CREATE 1

#define ALIGN_UP(x, a) (((x) + (a) - 1) & ~((a) - 1))
#define NEG(e) ((uint64_t)(int64_t)-(e))

/* One sk_storage value of the test run's socket (bpf_local_storage_data). */
struct bpfvm_skb_storage {
	struct bpfvm_skb_storage *next;
	const struct bpfvm_map *map;
	uint64_t data[]; /* value_size bytes */
};

void bpfvm_skb_helpers_free(struct bpfvm_skb *skb)
{
	for (struct bpfvm_skb_storage *s = skb->sk_storage, *n; s; s = n) {
		n = s->next;
		free(s);
	}
	skb->sk_storage = NULL;
	free(skb->cgroup_storage[0]);
	free(skb->cgroup_storage[1]);
	skb->cgroup_storage[0] = skb->cgroup_storage[1] = NULL;
}

/* ---- arguments ---------------------------------------------------------- */

static bool fail(struct bpfvm_call *call, const char *what)
{
	bpfvm_run_fail(call->run, -EINVAL, call->run->call_pc, "%s", what);
	return false;
}

/* The run's skb: r1 for the helpers given the ctx, the ctx for those
 * that find it (sk storage, cgroup storage). */
static struct bpfvm_skb *run_skb(struct bpfvm_call *call)
{
	size_t len;
	void *ctx = bpfvm_call_ctx(call, &len);
	if (!ctx || len < sizeof(struct bpfvm_skb)) {
		fail(call, "helper: the context is no skb");
		return NULL;
	}
	return ctx;
}

static struct bpfvm_skb *skb_arg(struct bpfvm_call *call, uint64_t r1)
{
	if (!call->run->checked)
		return (struct bpfvm_skb *)(uintptr_t)r1;
	struct bpfvm_skb *skb = run_skb(call);
	if (skb && (uintptr_t)skb != r1) {
		fail(call, "helper: r1 is not the context");
		return NULL;
	}
	return skb;
}

/* a struct bpf_sock the program was given (the test run's socket) */
static const struct bpfvm_sock_md *sock_arg(struct bpfvm_call *call,
					    uint64_t p)
{
	if (!bpfvm_call_check_mem(call, p, sizeof(struct bpfvm_sock_md), false))
		return NULL;
	return (const struct bpfvm_sock_md *)(uintptr_t)p;
}

/* r as one of the program's maps of `type` */
static const struct bpfvm_map *map_arg(struct bpfvm_call *call, uint64_t r,
				       uint32_t type)
{
	const struct bpfvm_map *m = (const struct bpfvm_map *)(uintptr_t)r;
	if (!call->run->checked)
		return m;
	if (!bpfvm_map_helpers_uses(call->run->vm, m) ||
	    (m->map_type != type &&
	     !(type == BPF_MAP_TYPE_CGROUP_STORAGE &&
	       m->map_type == BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE))) {
		fail(call, "helper: not a map of this program of the right type");
		return NULL;
	}
	return m;
}

/* A buffer argument: nothing to check when it is empty (a NULL buffer of
 * size 0 is what PTR_MAYBE_NULL arguments allow). */
static bool mem_ok(struct bpfvm_call *call, uint64_t p, size_t len, bool write)
{
	return !len || bpfvm_call_check_mem(call, p, len, write);
}

/* Memory handed to a checked run. */
static bool hand_out(struct bpfvm_call *call, void *p, size_t len)
{
	if (!call->run->checked || !bpfvm_call_add_region(call, p, len, true))
		return true;
	bpfvm_run_fail(call->run, -E2BIG, call->run->call_pc,
		       "checked mode: more than %d memory regions handed out "
		       "in one run", BPFVM_RUN_REGIONS);
	return false;
}

/* ---- the packet --------------------------------------------------------- */

static uint16_t ld16(const uint8_t *p)
{
	uint16_t v;
	memcpy(&v, p, 2);
	return v;
}

static void st16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, 2);
}

static uint8_t *data_of(const struct bpfvm_skb *skb)
{
	return (uint8_t *)(uintptr_t)skb->data;
}

static uint32_t headroom_of(const struct bpfvm_skb *skb)
{
	return (uint32_t)(data_of(skb) - skb->head);
}

/* bpf_compute_data_pointers after a helper changed the packet: what the
 * program and LD_ABS see from now on. */
static void refresh(struct bpfvm_call *call, struct bpfvm_skb *skb)
{
	skb->data_end = skb->data + skb->md.len;
	skb->data_meta = skb->data; /* no metadata in a test run */
	bpfvm_skb_set_packet(call, skb);
}

/* pskb_expand_head, and the region a checked run has of the buffer */
static int expand(struct bpfvm_call *call, struct bpfvm_skb *skb,
		  uint32_t nhead, uint32_t ntail)
{
	uint8_t *old = skb->head;
	if (bpfvm_skb_expand_head(skb, nhead, ntail))
		return -ENOMEM;
	if (call->run->checked &&
	    bpfvm_call_move_region(call, old, skb->head, skb->size, true))
		return -ENOMEM;
	return 0;
}

/* skb_cow: at least `room` bytes of headroom, grown in NET_SKB_PAD steps */
static int cow(struct bpfvm_call *call, struct bpfvm_skb *skb, uint32_t room)
{
	uint32_t have = headroom_of(skb);
	if (room <= have)
		return 0;
	return expand(call, skb, ALIGN_UP(room - have, NET_SKB_PAD_), 0);
}

/* #26 skb_load_bytes(skb, offset, to, len): len bytes from the data on,
 * within skb->len; otherwise to is zeroed and the answer is -EFAULT */
static uint64_t skb_load_bytes(uint64_t r1, uint64_t r2, uint64_t r3,
			       uint64_t r4, uint64_t r5, struct bpfvm_call *call)
{
	(void)r5;
	struct bpfvm_skb *skb = skb_arg(call, r1);
	uint32_t off = (uint32_t)r2, len = (uint32_t)r4;
	uint8_t *to = (uint8_t *)(uintptr_t)r3;
	if (!skb || !mem_ok(call, r3, len, true))
		return 0;
	if (off > INT32_MAX || (uint64_t)off + len > skb->md.len) {
		memset(to, 0, len);
		return NEG(EFAULT);
	}
	memcpy(to, data_of(skb) + off, len);
	return 0;
}

/* bpf_try_make_writable(skb, len): the first len bytes linear and
 * writable; a test run's skb is linear and not cloned, so only a length
 * past skb->len fails (pskb_may_pull) */
static bool writable(const struct bpfvm_skb *skb, uint64_t len)
{
	return len <= skb->md.len;
}

/* #9 skb_store_bytes(skb, offset, from, len, flags): flags may ask for a
 * CHECKSUM_COMPLETE update (none here) and an invalidated hash */
static uint64_t skb_store_bytes(uint64_t r1, uint64_t r2, uint64_t r3,
				uint64_t r4, uint64_t r5,
				struct bpfvm_call *call)
{
	struct bpfvm_skb *skb = skb_arg(call, r1);
	uint32_t off = (uint32_t)r2, len = (uint32_t)r4;
	if (!skb || !mem_ok(call, r3, len, false))
		return 0;
	if (r5 & ~3ull) /* BPF_F_RECOMPUTE_CSUM | BPF_F_INVALIDATE_HASH */
		return NEG(EINVAL);
	if (off > INT32_MAX)
		return NEG(EFAULT);
	if (!writable(skb, (uint64_t)off + len))
		return NEG(EFAULT);
	memmove(data_of(skb) + off, (const void *)(uintptr_t)r3, len);
	if (r5 & 2) {
		skb->md.hash = 0;
		skb->sw_hash = skb->l4_hash = false;
	}
	return 0;
}

/* #68 skb_load_bytes_relative(skb, offset, to, len, start_header): from
 * the mac (0) or network (1) header, within the packet's end */
static uint64_t skb_load_bytes_relative(uint64_t r1, uint64_t r2, uint64_t r3,
					uint64_t r4, uint64_t r5,
					struct bpfvm_call *call)
{
	struct bpfvm_skb *skb = skb_arg(call, r1);
	uint32_t off = (uint32_t)r2, len = (uint32_t)r4, start;
	uint8_t *to = (uint8_t *)(uintptr_t)r3;
	if (!skb || !mem_ok(call, r3, len, true))
		return 0;
	start = (uint32_t)r5 == 0 ? skb->mac_header : skb->network_header;
	if (off <= 0xffff && (uint32_t)r5 <= 1 &&
	    (uint64_t)start + off + len <= headroom_of(skb) + (uint64_t)skb->md.len) {
		memcpy(to, skb->head + start + off, len);
		return 0;
	}
	memset(to, 0, len);
	return NEG(EFAULT);
}

/* #39 skb_pull_data(skb, len): make len bytes (0: the linear part)
 * readable directly; a test run's skb is all linear */
static uint64_t skb_pull_data(uint64_t r1, uint64_t r2, uint64_t r3,
			      uint64_t r4, uint64_t r5, struct bpfvm_call *call)
{
	(void)r3, (void)r4, (void)r5;
	struct bpfvm_skb *skb = skb_arg(call, r1);
	if (!skb)
		return 0;
	uint32_t len = (uint32_t)r2;
	int ret = writable(skb, len) ? 0 : -ENOMEM;
	refresh(call, skb);
	return (uint64_t)(int64_t)ret;
}

/* #43 skb_change_head(skb, head_room, flags): head_room zeroed bytes in
 * front, the mac header reset to them */
static uint64_t skb_change_head(uint64_t r1, uint64_t r2, uint64_t r3,
				uint64_t r4, uint64_t r5,
				struct bpfvm_call *call)
{
	(void)r4, (void)r5;
	struct bpfvm_skb *skb = skb_arg(call, r1);
	uint32_t room = (uint32_t)r2, len, new_len;
	int ret;
	if (!skb)
		return 0;
	len = skb->md.len;
	new_len = len + room;
	if (r3 || (!skb->md.gso_size && new_len > BPF_SKB_MAX_LEN) ||
	    new_len < len) {
		ret = -EINVAL;
	} else {
		ret = cow(call, skb, room);
		if (!ret) {
			skb->data -= room;
			skb->md.len = new_len;
			memset(data_of(skb), 0, room);
			skb->mac_header = headroom_of(skb);
		}
	}
	refresh(call, skb);
	return (uint64_t)(int64_t)ret;
}

/* #38 skb_change_tail(skb, new_len, flags): the packet cut or grown (with
 * zeroes: bpf_skb_grow_rcsum) at its end, not below the network header */
static uint64_t skb_change_tail(uint64_t r1, uint64_t r2, uint64_t r3,
				uint64_t r4, uint64_t r5,
				struct bpfvm_call *call)
{
	(void)r4, (void)r5;
	struct bpfvm_skb *skb = skb_arg(call, r1);
	uint32_t new_len = (uint32_t)r2;
	int64_t min_len;
	int ret = 0;
	if (!skb)
		return 0;
	/* __bpf_skb_min_len: no transport header is set in a test run */
	min_len = (int64_t)skb->network_header - headroom_of(skb);
	if (r3 || new_len > BPF_SKB_MAX_LEN || (int64_t)new_len < min_len) {
		ret = -EINVAL;
	} else if (new_len > skb->md.len) {
		uint64_t tail = (uint64_t)headroom_of(skb) + skb->md.len;
		uint64_t room = skb->size - tail;
		if (new_len - skb->md.len > room)
			ret = expand(call, skb, 0,
				     (uint32_t)(new_len - skb->md.len - room));
		if (!ret) {
			memset(data_of(skb) + skb->md.len, 0,
			       new_len - skb->md.len);
			skb->md.len = new_len;
		}
	} else {
		skb->md.len = new_len;
	}
	refresh(call, skb);
	return (uint64_t)(int64_t)ret;
}

/* #18 skb_vlan_push(skb, proto, tci): the tag goes to the skb's vlan
 * fields; a tag already there is first written into the packet behind
 * the MAC addresses (skb_vlan_push, which wants data at the mac header) */
static uint64_t skb_vlan_push(uint64_t r1, uint64_t r2, uint64_t r3,
			      uint64_t r4, uint64_t r5, struct bpfvm_call *call)
{
	(void)r4, (void)r5;
	struct bpfvm_skb *skb = skb_arg(call, r1);
	uint16_t proto = (uint16_t)r2, tci = (uint16_t)r3;
	int ret = 0;
	if (!skb)
		return 0;
	if (proto != BE16(0x8100) && proto != BE16(0x88a8))
		proto = BE16(0x8100);
	if (skb->md.vlan_present) {
		uint16_t old_proto = (uint16_t)skb->md.vlan_proto;
		uint16_t old_tci = BE16((uint16_t)skb->md.vlan_tci);
		if (data_of(skb) != skb->head + skb->mac_header)
			ret = -EINVAL; /* the kernel WARNs too */
		else
			ret = cow(call, skb, VLAN_HLEN);
		if (!ret) {
			uint8_t *d;
			skb->data -= VLAN_HLEN;
			skb->md.len += VLAN_HLEN;
			d = data_of(skb);
			memmove(d, d + VLAN_HLEN, 2 * 6);
			memcpy(d + 12, &old_proto, 2);
			memcpy(d + 14, &old_tci, 2);
			skb->mac_header -= VLAN_HLEN;
			skb->network_header -= VLAN_HLEN;
			skb->md.protocol = old_proto;
		}
	}
	if (!ret) {
		skb->md.vlan_proto = proto;
		skb->md.vlan_tci = tci;
		skb->md.vlan_present = 1;
	}
	refresh(call, skb);
	return (uint64_t)(int64_t)ret;
}

/* #19 skb_vlan_pop: the skb's tag goes; a tag in the packet behind it
 * becomes the skb's (skb_vlan_pop, __skb_vlan_pop) */
static bool eth_type_vlan(uint32_t proto)
{
	return proto == BE16(0x8100) || proto == BE16(0x88a8);
}

/* take the tag behind the MAC addresses out of the packet: its TCI, or
 * a negative errno */
static int32_t vlan_pop_packet(struct bpfvm_call *call, struct bpfvm_skb *skb)
{
	uint8_t *d = data_of(skb);
	uint16_t tci, encap;
	if (d != skb->head + skb->mac_header)
		return -EINVAL; /* the kernel WARNs too */
	if (!writable(skb, 18)) /* VLAN_ETH_HLEN */
		return -ENOMEM;
	tci = BE16(ld16(d + 14));
	encap = ld16(d + 16);
	memmove(d + VLAN_HLEN, d, 12);
	skb->data += VLAN_HLEN;
	skb->md.len -= VLAN_HLEN;
	d = data_of(skb);
	/* vlan_set_encap_proto: an Ethernet type, else 802.3 / 802.2 by
	 * what follows */
	if (BE16(encap) >= 0x0600)
		skb->md.protocol = encap;
	else
		skb->md.protocol = ld16(d + ETH_HLEN_) == 0xffff ?
				   BE16(0x0001) : BE16(0x0004);
	skb->mac_header += VLAN_HLEN;
	if (skb->network_header < skb->mac_header + ETH_HLEN_)
		skb->network_header = headroom_of(skb) + ETH_HLEN_;
	refresh(call, skb);
	return tci;
}

static uint64_t skb_vlan_pop(uint64_t r1, uint64_t r2, uint64_t r3,
			     uint64_t r4, uint64_t r5, struct bpfvm_call *call)
{
	(void)r2, (void)r3, (void)r4, (void)r5;
	struct bpfvm_skb *skb = skb_arg(call, r1);
	int32_t t;
	int ret = 0;
	if (!skb)
		return 0;
	if (skb->md.vlan_present) {
		skb->md.vlan_present = skb->md.vlan_tci = skb->md.vlan_proto = 0;
	} else if (!eth_type_vlan(skb->md.protocol)) {
		goto out;
	} else if ((t = vlan_pop_packet(call, skb)) < 0) {
		ret = t;
		goto out;
	}
	if (eth_type_vlan(skb->md.protocol)) {
		uint16_t proto = (uint16_t)skb->md.protocol;
		t = vlan_pop_packet(call, skb);
		if (t < 0) {
			ret = t;
			goto out;
		}
		skb->md.vlan_proto = proto;
		skb->md.vlan_tci = (uint32_t)t;
		skb->md.vlan_present = 1;
	}
out:
	refresh(call, skb);
	return (uint64_t)(int64_t)ret;
}

/* #23 redirect(ifindex, flags): only BPF_F_INGRESS may be set; the test
 * run returns the verdict and sends nothing */
static uint64_t redirect(uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4,
			 uint64_t r5, struct bpfvm_call *call)
{
	(void)r1, (void)r3, (void)r4, (void)r5, (void)call;
	return r2 & ~1ull ? 2 /* TC_ACT_SHOT */ : 7 /* TC_ACT_REDIRECT */;
}

static uint64_t xdp_redirect(uint64_t r1, uint64_t r2, uint64_t r3,
			     uint64_t r4, uint64_t r5, struct bpfvm_call *call)
{
	(void)r1, (void)r3, (void)r4, (void)r5, (void)call;
	return r2 ? 0 /* XDP_ABORTED */ : 4 /* XDP_REDIRECT */;
}

/* ---- checksums ---------------------------------------------------------- */

/* x86-64's csum_partial: the 32-bit one's complement sum of seed and the
 * buffer's little-endian words (a short tail zero-padded), end-around
 * carries folded in, so 0 only when everything is 0. */
static uint32_t csum_partial(const uint8_t *p, uint32_t len, uint32_t seed)
{
	uint64_t sum = seed;
	uint32_t i = 0;
	for (; i + 4 <= len; i += 4) {
		uint32_t w;
		memcpy(&w, p + i, 4);
		sum += w;
	}
	if (i < len) {
		uint32_t w = 0;
		memcpy(&w, p + i, len - i);
		sum += w;
	}
	/* at most 2^30 words: the carries fit, and fold in twice */
	sum = (sum & 0xffffffffu) + (sum >> 32);
	sum = (sum & 0xffffffffu) + (sum >> 32);
	return (uint32_t)sum;
}

static uint32_t csum_add(uint32_t a, uint32_t b)
{
	uint32_t r = a + b;
	return r + (r < b);
}

static uint16_t csum_from32to16(uint32_t s)
{
	s += (s >> 16) | (s << 16);
	return (uint16_t)(s >> 16);
}

/* #28 csum_diff(from, from_size, to, to_size, seed): since 6.12 the
 * difference folded to 16 bits; the seed alone, folded, when both sizes
 * are 0 */
static uint64_t csum_diff(uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4,
			  uint64_t r5, struct bpfvm_call *call)
{
	const uint8_t *from = (const uint8_t *)(uintptr_t)r1;
	const uint8_t *to = (const uint8_t *)(uintptr_t)r3;
	uint32_t fs = (uint32_t)r2, ts = (uint32_t)r4, seed = (uint32_t)r5;
	if (!mem_ok(call, r1, fs, false) || !mem_ok(call, r3, ts, false))
		return 0;
	if (fs && ts)
		return csum_from32to16(csum_add(csum_partial(to, ts, seed),
						~csum_partial(from, fs, 0)));
	if (ts)
		return csum_from32to16(csum_partial(to, ts, seed));
	if (fs)
		return csum_from32to16(~csum_partial(from, fs, ~seed));
	return csum_from32to16(seed);
}

/* x86's csum_fold: the complement of the end-around sum of the halves */
static uint16_t csum_fold(uint32_t s)
{
	return (uint16_t)~csum_from32to16(s);
}

static uint16_t csum16_add(uint16_t c, uint16_t a)
{
	uint16_t r = (uint16_t)(c + a);
	return (uint16_t)(r + (r < a));
}

#define F_HDR_FIELD_MASK 0xfull
#define F_PSEUDO_HDR (1ull << 4)
#define F_MARK_MANGLED_0 (1ull << 5)
#define F_MARK_ENFORCE (1ull << 6)
#define F_IPV6 (1ull << 7)

/* The 16-bit checksum field at data + offset, for the csum_replace
 * helpers: NULL and *err when the kernel refuses the offset. */
static uint8_t *csum_field(struct bpfvm_call *call, struct bpfvm_skb *skb,
			   uint32_t off, int *err)
{
	*err = -EFAULT;
	if (off > 0xffff || (off & 1))
		return NULL;
	refresh(call, skb); /* bpf_try_make_writable's data pointers */
	if (!writable(skb, (uint64_t)off + 2))
		return NULL;
	*err = 0;
	return data_of(skb) + off;
}

/* #10 l3_csum_replace(skb, offset, from, to, flags): the low bits of flags
 * say the field's size (2, 4; 0: `to` is a checksum difference) */
static uint64_t l3_csum_replace(uint64_t r1, uint64_t r2, uint64_t r3,
				uint64_t r4, uint64_t r5,
				struct bpfvm_call *call)
{
	struct bpfvm_skb *skb = skb_arg(call, r1);
	uint8_t *p;
	int err;
	if (!skb)
		return 0;
	if (r5 & ~F_HDR_FIELD_MASK)
		return NEG(EINVAL);
	p = csum_field(call, skb, (uint32_t)r2, &err);
	if (!p)
		return (uint64_t)(int64_t)err;
	switch (r5 & F_HDR_FIELD_MASK) {
	case 0:
		if (r3)
			return NEG(EINVAL);
		st16(p, csum_fold(csum_add((uint32_t)r4, ~(uint32_t)ld16(p))));
		break;
	case 2: /* RFC 1624 in 16 bits */
		st16(p, (uint16_t)~csum16_add(csum16_add((uint16_t)~ld16(p),
							  (uint16_t)~r3),
					      (uint16_t)r4));
		break;
	case 4:
		st16(p, csum_fold(csum_add(csum_add(~(uint32_t)ld16(p),
						    ~(uint32_t)r3),
					   (uint32_t)r4)));
		break;
	default:
		return NEG(EINVAL);
	}
	return 0;
}

/* #11 l4_csum_replace(skb, offset, from, to, flags): as l3's for a skb
 * that is not CHECKSUM_PARTIAL (2-byte fields go through the 4-byte
 * formula), BPF_F_MARK_MANGLED_0 keeps a 0 (no checksum) and writes
 * 0xffff for a result of 0 */
static uint64_t l4_csum_replace(uint64_t r1, uint64_t r2, uint64_t r3,
				uint64_t r4, uint64_t r5,
				struct bpfvm_call *call)
{
	struct bpfvm_skb *skb = skb_arg(call, r1);
	bool mmzero = r5 & F_MARK_MANGLED_0, force = r5 & F_MARK_ENFORCE;
	uint32_t from = (uint32_t)r3;
	uint8_t *p;
	int err;
	if (!skb)
		return 0;
	if (r5 & ~(F_MARK_MANGLED_0 | F_MARK_ENFORCE | F_PSEUDO_HDR |
		   F_HDR_FIELD_MASK | F_IPV6))
		return NEG(EINVAL);
	p = csum_field(call, skb, (uint32_t)r2, &err);
	if (!p)
		return (uint64_t)(int64_t)err;
	if (mmzero && !force && !ld16(p))
		return 0;
	switch (r5 & F_HDR_FIELD_MASK) {
	case 0:
		if (r3)
			return NEG(EINVAL);
		st16(p, csum_fold(csum_add((uint32_t)r4, ~(uint32_t)ld16(p))));
		break;
	case 2:
		from = (uint16_t)r3;
		st16(p, csum_fold(csum_add(csum_add(~(uint32_t)ld16(p), ~from),
					   (uint16_t)r4)));
		break;
	case 4:
		st16(p, csum_fold(csum_add(csum_add(~(uint32_t)ld16(p), ~from),
					   (uint32_t)r4)));
		break;
	default:
		return NEG(EINVAL);
	}
	if (mmzero && !ld16(p))
		st16(p, 0xffff); /* CSUM_MANGLED_0 */
	return 0;
}

/* #40 csum_update(skb, csum): only a CHECKSUM_COMPLETE skb has a csum to
 * update; a test run's is CHECKSUM_NONE */
static uint64_t csum_update(uint64_t r1, uint64_t r2, uint64_t r3,
			    uint64_t r4, uint64_t r5, struct bpfvm_call *call)
{
	(void)r2, (void)r3, (void)r4, (void)r5;
	if (!skb_arg(call, r1))
		return 0;
	return NEG(ENOTSUPP_);
}

/* ---- skb fields --------------------------------------------------------- */

/* #17 get_cgroup_classid: outside softirq, the net_cls classid of the
 * current task's cgroup; bpfvm's process has none: 0 */
static uint64_t get_cgroup_classid(uint64_t r1, uint64_t r2, uint64_t r3,
				   uint64_t r4, uint64_t r5,
				   struct bpfvm_call *call)
{
	(void)r2, (void)r3, (void)r4, (void)r5;
	skb_arg(call, r1);
	return 0;
}

static uint64_t hash_key[2];
static pthread_once_t hash_once = PTHREAD_ONCE_INIT;

static void hash_init(void)
{
	if (getrandom(hash_key, sizeof hash_key, 0) != sizeof hash_key) {
		hash_key[0] = (uint64_t)(uintptr_t)&hash_key ^ 0x9e3779b97f4a7c15ull;
		hash_key[1] = (uint64_t)(uintptr_t)hash_init;
	}
}

static uint64_t mix(uint64_t h, uint64_t v)
{
	h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
	h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ull;
	return (h ^ (h >> 27)) * 0x94d049bb133111ebull;
}

/* skb_get_hash's flow hash: the kernel keys it with a random value of its
 * boot, bpfvm with one of its process, so only its properties carry over:
 * the same for one flow (addresses, protocol, ports of an unfragmented
 * IPv4 / IPv6 packet), never 0, kept in skb->hash */
static void flow_hash(struct bpfvm_skb *skb)
{
	const uint8_t *nh = skb->head + skb->network_header;
	const uint8_t *end = data_of(skb) + skb->md.len;
	size_t avail = nh < end ? (size_t)(end - nh) : 0, l4 = 0;
	uint64_t h;
	uint8_t proto = 0;
	pthread_once(&hash_once, hash_init);
	h = mix(hash_key[0], skb->md.protocol);
	if (skb->md.protocol == BE16(0x0800) && avail >= 20 &&
	    (nh[0] >> 4) == 4) {
		uint32_t a[2];
		memcpy(a, nh + 12, 8);
		h = mix(mix(h, a[0]), a[1]);
		proto = nh[9];
		if (!((nh[6] & 0x3f) | nh[7])) /* not a fragment */
			l4 = (size_t)(nh[0] & 15) * 4;
	} else if (skb->md.protocol == BE16(0x86dd) && avail >= 40) {
		uint64_t a[4];
		memcpy(a, nh + 8, 32);
		for (int i = 0; i < 4; i++)
			h = mix(h, a[i]);
		proto = nh[6];
		l4 = 40;
	}
	h = mix(h, proto);
	skb->l4_hash = false;
	if (l4 && (proto == IPPROTO_TCP_ || proto == IPPROTO_UDP_) &&
	    avail >= l4 + 4) {
		uint32_t ports;
		memcpy(&ports, nh + l4, 4);
		h = mix(h, ports);
		skb->l4_hash = true;
	}
	h = mix(h, hash_key[1]);
	skb->md.hash = (uint32_t)h ? (uint32_t)h : 1;
	skb->sw_hash = true;
}

/* #34 get_hash_recalc: skb_get_hash */
static uint64_t get_hash_recalc(uint64_t r1, uint64_t r2, uint64_t r3,
				uint64_t r4, uint64_t r5,
				struct bpfvm_call *call)
{
	(void)r2, (void)r3, (void)r4, (void)r5;
	struct bpfvm_skb *skb = skb_arg(call, r1);
	if (!skb)
		return 0;
	if (!skb->sw_hash && !skb->l4_hash)
		flow_hash(skb);
	return skb->md.hash;
}

/* #41 set_hash_invalid: skb_clear_hash */
static uint64_t set_hash_invalid(uint64_t r1, uint64_t r2, uint64_t r3,
				 uint64_t r4, uint64_t r5,
				 struct bpfvm_call *call)
{
	(void)r2, (void)r3, (void)r4, (void)r5;
	struct bpfvm_skb *skb = skb_arg(call, r1);
	if (skb) {
		skb->md.hash = 0;
		skb->sw_hash = skb->l4_hash = false;
	}
	return 0;
}

/* #48 set_hash(skb, hash): a software L4 hash */
static uint64_t set_hash(uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4,
			 uint64_t r5, struct bpfvm_call *call)
{
	(void)r3, (void)r4, (void)r5;
	struct bpfvm_skb *skb = skb_arg(call, r1);
	if (skb) {
		skb->md.hash = (uint32_t)r2;
		skb->sw_hash = skb->l4_hash = true;
	}
	return 0;
}

/* ---- perf events -------------------------------------------------------- */

/* __bpf_perf_event_output: the array's slot for the index (or this CPU);
 * bpfvm's perf event arrays hold no events */
static uint64_t event_output(struct bpfvm_call *call, uint64_t r2,
			     uint64_t flags, uint64_t meta, uint64_t size)
{
	const struct bpfvm_map *m = map_arg(call, r2,
					    BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	uint64_t index = flags & INDEX_MASK;
	if (!m || !mem_ok(call, meta, size, false))
		return 0;
	if (index == INDEX_MASK) {
		int cpu = sched_getcpu();
		index = cpu < 0 ? 0 : (uint64_t)cpu;
	}
	if (index >= m->max_entries)
		return NEG(E2BIG);
	return NEG(ENOENT);
}

/* #25 for skb programs: flags' upper half is how much of the packet to
 * append */
static uint64_t skb_event_output(uint64_t r1, uint64_t r2, uint64_t r3,
				 uint64_t r4, uint64_t r5,
				 struct bpfvm_call *call)
{
	struct bpfvm_skb *skb = skb_arg(call, r1);
	if (!skb)
		return 0;
	if (r3 & ~(CTXLEN_MASK | INDEX_MASK))
		return NEG(EINVAL);
	if ((r3 & CTXLEN_MASK) >> 32 > skb->md.len)
		return NEG(EFAULT);
	return event_output(call, r2, r3, r4, r5);
}

/* #25 for XDP: the same against the frame's length, fragments included */
static uint64_t xdp_event_output(uint64_t r1, uint64_t r2, uint64_t r3,
				 uint64_t r4, uint64_t r5,
				 struct bpfvm_call *call)
{
	const struct bpfvm_xdp *xdp = (const struct bpfvm_xdp *)(uintptr_t)r1;
	if (call->run->checked) {
		size_t len;
		if ((uintptr_t)bpfvm_call_ctx(call, &len) != r1 ||
		    len < sizeof(*xdp)) {
			fail(call, "helper: r1 is not the context");
			return 0;
		}
	}
	if (r3 & ~(CTXLEN_MASK | INDEX_MASK))
		return NEG(EINVAL);
	if ((r3 & CTXLEN_MASK) >> 32 >
	    xdp->data_end - xdp->data + xdp->frags_len)
		return NEG(EFAULT);
	return event_output(call, r2, r3, r4, r5);
}

/* ---- sockets ------------------------------------------------------------ */

/* #84 sk_lookup_tcp, #85 sk_lookup_udp, #99 skc_lookup_tcp (tuple,
 * tuple_size, netns, flags): a test run's namespace holds no socket bpfvm
 * knows; a bad size, netns or flags finds nothing either */
static uint64_t sk_lookup(uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4,
			  uint64_t r5, struct bpfvm_call *call)
{
	(void)r1, (void)r4, (void)r5;
	mem_ok(call, r2, (uint32_t)r3, false);
	return 0;
}

/* #86 sk_release: what a lookup acquired; the test run's socket is not
 * refcounted */
static uint64_t sk_release(uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4,
			   uint64_t r5, struct bpfvm_call *call)
{
	(void)r2, (void)r3, (void)r4, (void)r5;
	sock_arg(call, r1);
	return 0;
}

static bool fullsock(const struct bpfvm_sock_md *sk)
{
	return sk->state != TCP_TIME_WAIT_ && sk->state != TCP_NEW_SYN_RECV_;
}

/* #95 sk_fullsock */
static uint64_t sk_fullsock(uint64_t r1, uint64_t r2, uint64_t r3,
			    uint64_t r4, uint64_t r5, struct bpfvm_call *call)
{
	(void)r2, (void)r3, (void)r4, (void)r5;
	const struct bpfvm_sock_md *sk = sock_arg(call, r1);
	return sk && fullsock(sk) ? r1 : 0;
}

/* #96 tcp_sock: a full TCP stream socket */
static uint64_t tcp_sock(uint64_t r1, uint64_t r2, uint64_t r3, uint64_t r4,
			 uint64_t r5, struct bpfvm_call *call)
{
	(void)r2, (void)r3, (void)r4, (void)r5;
	const struct bpfvm_sock_md *sk = sock_arg(call, r1);
	return sk && fullsock(sk) && sk->protocol == IPPROTO_TCP_ &&
	       sk->type == SOCK_STREAM_ ? r1 : 0;
}

/* #98 get_listener_sock: a listening socket (the test run's never is) */
static uint64_t get_listener_sock(uint64_t r1, uint64_t r2, uint64_t r3,
				  uint64_t r4, uint64_t r5,
				  struct bpfvm_call *call)
{
	(void)r2, (void)r3, (void)r4, (void)r5;
	sock_arg(call, r1);
	return 0;
}

/* #136-#140 skc_to_*: the socket as that kind, or NULL.  The kinds the
 * test run's socket (no protocol, TCP_CLOSE) could be told apart by its
 * fields; time-wait and request sockets are TCP's (sk_prot), never it. */
static uint64_t skc_to(struct bpfvm_call *call, uint64_t r1, uint32_t proto,
		       uint32_t type, uint32_t family)
{
	const struct bpfvm_sock_md *sk;
	if (!r1)
		return 0;
	sk = sock_arg(call, r1);
	return sk && fullsock(sk) && sk->protocol == proto &&
	       (!type || sk->type == type) &&
	       (!family || sk->family == family) ? r1 : 0;
}

static uint64_t skc_to_tcp6_sock(uint64_t r1, uint64_t r2, uint64_t r3,
				 uint64_t r4, uint64_t r5,
				 struct bpfvm_call *call)
{
	(void)r2, (void)r3, (void)r4, (void)r5;
	return skc_to(call, r1, IPPROTO_TCP_, SOCK_STREAM_, AF_INET6_);
}

static uint64_t skc_to_tcp_sock(uint64_t r1, uint64_t r2, uint64_t r3,
				uint64_t r4, uint64_t r5,
				struct bpfvm_call *call)
{
	(void)r2, (void)r3, (void)r4, (void)r5;
	return skc_to(call, r1, IPPROTO_TCP_, 0, 0);
}

static uint64_t skc_to_tcp_mini(uint64_t r1, uint64_t r2, uint64_t r3,
				uint64_t r4, uint64_t r5,
				struct bpfvm_call *call)
{
	(void)r2, (void)r3, (void)r4, (void)r5;
	if (r1)
		sock_arg(call, r1);
	return 0;
}

static uint64_t skc_to_udp6_sock(uint64_t r1, uint64_t r2, uint64_t r3,
				 uint64_t r4, uint64_t r5,
				 struct bpfvm_call *call)
{
	(void)r2, (void)r3, (void)r4, (void)r5;
	return skc_to(call, r1, IPPROTO_UDP_, SOCK_DGRAM_, AF_INET6_);
}

/* ---- storage ------------------------------------------------------------ */

/* #107 sk_storage_get(map, sk, value, flags): the socket's value in map;
 * with BPF_SK_STORAGE_GET_F_CREATE a new one, from value or zeroed.  The
 * test run's socket lives as long as the test run (its skb). */
static uint64_t sk_storage_get(uint64_t r1, uint64_t r2, uint64_t r3,
			       uint64_t r4, uint64_t r5,
			       struct bpfvm_call *call)
{
	(void)r5;
	const struct bpfvm_map *m = map_arg(call, r1, BPF_MAP_TYPE_SK_STORAGE);
	struct bpfvm_skb *skb = run_skb(call);
	struct bpfvm_skb_storage *s;
	if (!m || !skb || !r2 || r4 > SK_STORAGE_F_CREATE)
		return 0;
	if ((uintptr_t)&skb->sock != r2) {
		/* no other socket reaches a test run */
		if (call->run->checked)
			fail(call, "sk_storage_get: not the run's socket");
		return 0;
	}
	if (!fullsock(&skb->sock))
		return 0;
	for (s = skb->sk_storage; s; s = s->next)
		if (s->map == m)
			return hand_out(call, s->data, m->value_size) ?
			       (uint64_t)(uintptr_t)s->data : 0;
	if (r4 != SK_STORAGE_F_CREATE)
		return 0;
	if (r3 && !bpfvm_call_check_mem(call, r3, m->value_size, false))
		return 0;
	s = calloc(1, sizeof(*s) + m->value_size);
	if (!s)
		return 0;
	if (r3)
		bpfvm_copy_value(m, s->data, (const void *)(uintptr_t)r3);
	s->map = m;
	s->next = skb->sk_storage;
	skb->sk_storage = s;
	return hand_out(call, s->data, m->value_size) ?
	       (uint64_t)(uintptr_t)s->data : 0;
}

/* #108 sk_storage_delete(map, sk): -ENOENT if there is none */
static uint64_t sk_storage_delete(uint64_t r1, uint64_t r2, uint64_t r3,
				  uint64_t r4, uint64_t r5,
				  struct bpfvm_call *call)
{
	(void)r3, (void)r4, (void)r5;
	const struct bpfvm_map *m = map_arg(call, r1, BPF_MAP_TYPE_SK_STORAGE);
	struct bpfvm_skb *skb = run_skb(call);
	if (!m || !skb)
		return 0;
	if ((uintptr_t)&skb->sock != r2)
		return NEG(ENOENT);
	for (struct bpfvm_skb_storage **p = &skb->sk_storage; *p;
	     p = &(*p)->next)
		if ((*p)->map == m) {
			/* the value stays valid memory until the test run
			 * ends (the kernel frees it after an RCU grace
			 * period: a program may still hold it) */
			(*p)->map = NULL;
			return 0;
		}
	return NEG(ENOENT);
}

/* #81 get_local_storage(map, flags): the test run's cgroup storage of the
 * map's kind, zeroed when the test run starts and kept over its repeats */
static uint64_t get_local_storage(uint64_t r1, uint64_t r2, uint64_t r3,
				  uint64_t r4, uint64_t r5,
				  struct bpfvm_call *call)
{
	(void)r2, (void)r3, (void)r4, (void)r5;
	const struct bpfvm_map *m = map_arg(call, r1,
					    BPF_MAP_TYPE_CGROUP_STORAGE);
	struct bpfvm_skb *skb = run_skb(call);
	if (!m || !skb)
		return 0;
	int k = m->map_type == BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE;
	if (!skb->cgroup_storage[k]) {
		skb->cgroup_storage[k] = calloc(1, m->value_size ? m->value_size : 1);
		if (!skb->cgroup_storage[k]) {
			bpfvm_run_fail(call->run, -ENOMEM, call->run->call_pc,
				       "get_local_storage: out of memory");
			return 0;
		}
	}
	return hand_out(call, skb->cgroup_storage[k], m->value_size) ?
	       (uint64_t)(uintptr_t)skb->cgroup_storage[k] : 0;
}

/* ---- the table ---------------------------------------------------------- */

#define T_SKB 1u /* socket filter, tc, cgroup_skb, lwt, sk_skb */
#define T_XDP 2u

static const struct {
	uint32_t id;
	bpfvm_helper_fn fn;
	unsigned types;
} table[] = {
	{ 9, skb_store_bytes, T_SKB },
	{ 10, l3_csum_replace, T_SKB },
	{ 11, l4_csum_replace, T_SKB },
	{ 17, get_cgroup_classid, T_SKB },
	{ 18, skb_vlan_push, T_SKB },
	{ 19, skb_vlan_pop, T_SKB },
	{ 23, redirect, T_SKB },
	{ 23, xdp_redirect, T_XDP },
	{ 25, skb_event_output, T_SKB },
	{ 25, xdp_event_output, T_XDP },
	{ 26, skb_load_bytes, T_SKB },
	{ 28, csum_diff, T_SKB | T_XDP },
	{ 34, get_hash_recalc, T_SKB },
	{ 38, skb_change_tail, T_SKB },
	{ 39, skb_pull_data, T_SKB },
	{ 40, csum_update, T_SKB },
	{ 41, set_hash_invalid, T_SKB },
	{ 43, skb_change_head, T_SKB },
	{ 48, set_hash, T_SKB },
	{ 68, skb_load_bytes_relative, T_SKB },
	{ 81, get_local_storage, T_SKB },
	{ 84, sk_lookup, T_SKB | T_XDP },
	{ 85, sk_lookup, T_SKB | T_XDP },
	{ 86, sk_release, T_SKB | T_XDP },
	{ 95, sk_fullsock, T_SKB },
	{ 96, tcp_sock, T_SKB },
	{ 98, get_listener_sock, T_SKB },
	{ 99, sk_lookup, T_SKB | T_XDP },
	{ 107, sk_storage_get, T_SKB },
	{ 108, sk_storage_delete, T_SKB },
	{ 136, skc_to_tcp6_sock, T_SKB | T_XDP },
	{ 137, skc_to_tcp_sock, T_SKB | T_XDP },
	{ 138, skc_to_tcp_mini, T_SKB | T_XDP },  /* tcp_timewait_sock */
	{ 139, skc_to_tcp_mini, T_SKB | T_XDP },  /* tcp_request_sock */
	{ 140, skc_to_udp6_sock, T_SKB | T_XDP },
};

int bpfvm_skb_helpers_register(struct bpfvm *vm, uint32_t prog_type)
{
	unsigned t;
	switch (prog_type) {
	case BPFVM_PROG_SOCKET_FILTER: case BPFVM_PROG_SCHED_CLS:
	case BPFVM_PROG_SCHED_ACT: case BPFVM_PROG_CGROUP_SKB:
	case BPFVM_PROG_LWT_IN: case BPFVM_PROG_LWT_OUT: case BPFVM_PROG_LWT_XMIT:
	case BPFVM_PROG_LWT_SEG6LOCAL: case BPFVM_PROG_SK_SKB:
		t = T_SKB;
		break;
	case BPFVM_PROG_XDP:
		t = T_XDP;
		break;
	default:
		return 0;
	}
	for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
		if (!(table[i].types & t))
			continue;
		int err = bpfvm_register_helper(vm, table[i].id, table[i].fn,
						NULL);
		if (err)
			return err;
	}
	return 0;
}
