/* The skb and socket helpers at run time (vm/skb_helpers.c), against the
 * running kernel: every program here is loaded by the kernel's bpf(2) and
 * by bpfvm_bpf, test-run on the same packet, and must give the same
 * errno, retval, data_out (and ctx_out).  Without bpf(2) the test skips
 * (exit 77).  Where the kernel's answer depends on the boot (the flow
 * hash's random key), the programs check properties and return 0/1.
 * SPDX-License-Identifier: MIT */
#include <check.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "bpfvm_asm.h"
#include "bpfvm_bpf.h"
#include "fdtable.h"
#include "kernel_util.h"
#include "test_run.h"

#define PTR(p) ((uint64_t)(uintptr_t)(p))
#define LEN(a) (sizeof(a) / sizeof((a)[0]))
#define OUT_MAX 20000

static void close_fd(bpfk_fn call, int fd)
{
	if (fd >= 0)
		call == bpfk_vcall ? bpfvm_close(fd) : close(fd);
}

/* ---- packets ------------------------------------------------------------- */

/* 0: IPv4 TCP, 74 bytes; 1: IPv6 UDP, 72; 2: not IP (0x88b5), 44;
 * 3: 0 behind an 802.1Q tag, 78; 4: 0 behind 802.1ad and 802.1Q tags, 82;
 * 5: a tag and 3 bytes, 17; 6: a tag on 802.3 (length 0x40, ff ff), 40 */
static size_t packet(int which, uint8_t *p)
{
	if (which >= 3) {
		static const uint8_t q[] = { 0x81, 0x00, 0x20, 0x64 };
		static const uint8_t ad[] = { 0x88, 0xa8, 0x00, 0x07 };
		size_t n = packet(0, p), tags = which == 4 ? 2 : 1;
		memmove(p + 12 + 4 * tags, p + 12, n - 12);
		if (which == 4)
			memcpy(p + 12, ad, 4);
		memcpy(p + 12 + 4 * (tags - 1), q, 4);
		if (which == 5)
			return 17;
		if (which == 6) {
			p[16] = 0, p[17] = 0x40, p[18] = 0xff, p[19] = 0xff;
			return 40;
		}
		return n + 4 * tags;
	}
	static const uint8_t eth4[14] = { 2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2,
					  0x08, 0x00 };
	size_t n = which == 0 ? 74 : which == 1 ? 72 : 44;
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 37 + 11);
	memcpy(p, eth4, 14);
	if (which == 0) {
		static const uint8_t ip[20] = { 0x45, 0, 0, 60, 0, 1, 0x40, 0, 64,
						6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2 };
		memcpy(p + 14, ip, 20);
		p[34] = 0x04, p[35] = 0xd2, p[36] = 0, p[37] = 80;
	} else if (which == 1) {
		p[12] = 0x86, p[13] = 0xdd;
		p[14] = 0x60, p[15] = 0, p[16] = 0, p[17] = 0;
		p[18] = 0, p[19] = 18, p[20] = 17, p[21] = 64;
		p[54] = 0x30, p[55] = 0x39, p[56] = 0, p[57] = 53;
	} else {
		p[12] = 0x88, p[13] = 0xb5;
	}
	return n;
}

/* ---- maps ---------------------------------------------------------------- */

/* A map of kind k: P perf event array (1024), Q one of 4 slots, S sk
 * storage, C cgroup storage, D per-CPU cgroup storage. */
static int make_map(bpfk_fn call, char k, int *btf)
{
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	switch (k) {
	case 'P': case 'Q':
		a.map_type = BPF_MAP_TYPE_PERF_EVENT_ARRAY;
		a.key_size = a.value_size = 4;
		a.max_entries = k == 'P' ? 1024 : 4;
		break;
	case 'S':
		*btf = bpfk_spin_lock_btf(call);
		ck_assert_int_ge(*btf, 0);
		a.map_type = BPF_MAP_TYPE_SK_STORAGE;
		a.key_size = 4;
		a.value_size = 8;
		a.map_flags = BPF_F_NO_PREALLOC;
		a.btf_fd = (uint32_t)*btf;
		a.btf_key_type_id = 1;
		a.btf_value_type_id = 3;
		break;
	case 'C': case 'D':
		a.map_type = k == 'C' ? BPF_MAP_TYPE_CGROUP_STORAGE :
			     BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE;
		a.key_size = 16;
		a.value_size = 8;
		break;
	default:
		ck_abort_msg("map kind %c", k);
	}
	return call(BPF_MAP_CREATE, &a, sizeof(a));
}

/* ---- one program, both ways ---------------------------------------------- */

struct side {
	int err, fd;
	uint32_t retval, size_out, ctx_size_out;
	uint8_t out[OUT_MAX];
	uint8_t ctx_out[sizeof(struct __sk_buff)];
	char log[16384];
};

static struct side sides[3];

/* The bpf(2) layer's program in checked mode: every helper argument and
 * every access checked, the memory helpers hand out included. */
static void set_checked(int fd)
{
	int err;
	struct bpfvm_obj *o = bpfvm_fd_get(fd, BPFVM_OBJ_PROG, NULL, &err);
	ck_assert_ptr_nonnull(o);
	bpfvm_set_checked(o->ptr, true);
	bpfvm_obj_put(o);
}

/* Load src (maps: ld_imm64 map_fd N is the N-th of `maps`) as `type` and
 * test-run it `repeat` times on packet `pkt` (with a zero __sk_buff as
 * ctx_in / ctx_out if ctx). */
static void run_side(bpfk_fn call, struct side *s, const char *name,
		     uint32_t type, const char *src, const char *maps, int pkt,
		     uint32_t repeat, bool ctx, bool checked)
{
	struct bpfvm_insn *insns;
	size_t n;
	char err[256];
	int fds[8], btf[8], nm = (int)strlen(maps);
	ck_assert_msg(bpfvm_asm(src, &insns, &n, err, sizeof(err)) == 0,
		      "%s: %s", name, err);
	for (int i = 0; i < nm; i++) {
		btf[i] = -1;
		fds[i] = make_map(call, maps[i], &btf[i]);
		ck_assert_msg(fds[i] >= 0, "%s: map %c: %d", name, maps[i], fds[i]);
	}
	for (size_t i = 0; i < n; i++)
		if (insns[i].code == 0x18 && insns[i].src_reg == BPF_PSEUDO_MAP_FD) {
			ck_assert_int_lt(insns[i].imm, nm);
			insns[i].imm = fds[insns[i].imm];
		}
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.prog_type = type;
	a.expected_attach_type = type == BPF_PROG_TYPE_XDP ? BPF_XDP : 0;
	a.insns = PTR(insns);
	a.insn_cnt = (uint32_t)n;
	a.license = PTR("GPL");
	a.log_level = 1;
	a.log_buf = PTR(s->log);
	a.log_size = sizeof(s->log);
	s->log[0] = 0;
	s->fd = call(BPF_PROG_LOAD, &a, sizeof(a));
	free(insns);
	ck_assert_msg(s->fd >= 0, "%s: %s rejects (%d):\n%s", name,
		      call == bpfk_kcall ? "the kernel" : "bpfvm", s->fd, s->log);
	if (checked)
		set_checked(s->fd);
	uint8_t data[128];
	size_t len = packet(pkt, data);
	struct __sk_buff in;
	memset(&in, 0, sizeof(in));
	memset(&a, 0, sizeof(a));
	a.test.prog_fd = (uint32_t)s->fd;
	a.test.data_in = PTR(data);
	a.test.data_size_in = (uint32_t)len;
	a.test.data_out = PTR(s->out);
	a.test.data_size_out = sizeof(s->out);
	a.test.repeat = repeat;
	if (ctx) {
		a.test.ctx_in = a.test.ctx_out = PTR(&in);
		a.test.ctx_size_in = a.test.ctx_size_out = sizeof(in);
		a.test.ctx_out = PTR(s->ctx_out);
	}
	memset(s->out, 0, sizeof(s->out));
	s->err = call(BPF_PROG_TEST_RUN, &a, sizeof(a));
	s->retval = a.test.retval;
	s->size_out = a.test.data_size_out;
	s->ctx_size_out = a.test.ctx_size_out;
	close_fd(call, s->fd);
	for (int i = nm - 1; i >= 0; i--) {
		close_fd(call, fds[i]);
		close_fd(call, btf[i]);
	}
}

/* The kernel's and bpfvm's runs agree; the kernel's retval, for the
 * cases that also pin it. */
static uint32_t both(const char *name, uint32_t type, const char *src,
		     const char *maps, int pkt, uint32_t repeat, bool ctx)
{
	struct side *k = &sides[0];
	run_side(bpfk_kcall, k, name, type, src, maps, pkt, repeat, ctx, false);
	for (int c = 0; c < 2; c++) {
		struct side *v = &sides[1 + c];
		const char *how = c ? "checked bpfvm" : "bpfvm";
		run_side(bpfk_vcall, v, name, type, src, maps, pkt, repeat, ctx, c);
		ck_assert_msg(k->err == v->err && k->retval == v->retval &&
			      k->size_out == v->size_out,
			      "%s (pkt %d): kernel %d retval %#x size %u, %s %d "
			      "retval %#x size %u", name, pkt, k->err, k->retval,
			      k->size_out, how, v->err, v->retval, v->size_out);
		uint32_t cmp = k->size_out < OUT_MAX ? k->size_out : OUT_MAX;
		for (uint32_t i = 0; i < cmp; i++)
			ck_assert_msg(k->out[i] == v->out[i], "%s (pkt %d): "
				      "data_out byte %u: kernel %#x, %s %#x", name,
				      pkt, i, k->out[i], how, v->out[i]);
		if (ctx)
			ck_assert_msg(!memcmp(k->ctx_out, v->ctx_out,
					      sizeof(k->ctx_out)),
				      "%s: %s ctx_out differs", name, how);
	}
	if (getenv("BPFVM_SKB_VERBOSE"))
		printf("%s (pkt %d): %d retval %#x size %u\n", name, pkt, k->err,
		       k->retval, k->size_out);
	return k->retval;
}

#define TC BPF_PROG_TYPE_SCHED_CLS

/* ---- skb_load_bytes ------------------------------------------------------ */

START_TEST(load_bytes)
{
	static const struct { int32_t off; int len; } c[] = {
		{ 0, 8 }, { 1, 8 }, { 52, 8 }, { 53, 8 }, { 66, 8 }, { 67, 8 },
		{ 0, 16 }, { 58, 16 }, { 59, 16 }, { 0x7fffffff, 8 },
		{ (int32_t)0x80000000, 8 }, { -1, 8 }, { 44, 1 },
	};
	static const uint32_t types[] = { TC, BPF_PROG_TYPE_SOCKET_FILTER,
					   BPF_PROG_TYPE_CGROUP_SKB,
					   BPF_PROG_TYPE_LWT_IN };
	for (size_t t = 0; t < LEN(types); t++)
		for (size_t i = 0; i < LEN(c); i++) {
			char src[1024], name[64];
			/* cgroup_skb returns 0 or 1: a sum's low bit */
			snprintf(src, sizeof(src),
				 "r6 = r1\n"
				 "r1 = -1\n"
				 "*(u64 *)(r10 -16) = r1\n"
				 "*(u64 *)(r10 -8) = r1\n"
				 "r1 = r6\n"
				 "r2 = %d\n"
				 "r3 = r10\n"
				 "r3 += -16\n"
				 "r4 = %d\n"
				 "call skb_load_bytes\n"
				 "r7 = r0\n"
				 "r0 = *(u32 *)(r10 -16)\n"
				 "r1 = *(u32 *)(r10 -12)\n"
				 "r0 ^= r1\n"
				 "r1 = *(u32 *)(r10 -8)\n"
				 "r0 += r1\n"
				 "r0 += r7\n"
				 "%s"
				 "exit\n", c[i].off, c[i].len,
				 types[t] == BPF_PROG_TYPE_CGROUP_SKB ?
				 "r0 >>= 3\nr0 &= 1\n" : "");
			snprintf(name, sizeof(name), "load_bytes type %u off %d len %d",
				 types[t], c[i].off, c[i].len);
			both(name, types[t], src, "", 0, 1, false);
		}
}
END_TEST

START_TEST(store_pull_relative)
{
	static const struct { int32_t off; int len; uint64_t flags; } st[] = {
		{ 0, 8, 0 }, { 66, 8, 0 }, { 67, 8, 0 }, { 10, 8, 1 },
		{ 10, 8, 2 }, { 10, 8, 3 }, { 10, 8, 4 }, { 10, 8, 1ull << 40 },
		{ 0x7fffffff, 8, 0 }, { (int32_t)0x80000000, 8, 0 }, { 73, 1, 0 },
		{ 30, 16, 0 }, { 59, 16, 0 },
	};
	static const uint32_t wtypes[] = { TC, BPF_PROG_TYPE_LWT_XMIT };
	for (size_t t = 0; t < LEN(wtypes); t++)
		for (size_t i = 0; i < LEN(st); i++) {
			char src[1024], name[96];
			snprintf(src, sizeof(src),
				 "r6 = r1\n"
				 "r1 = 0x1122334455667788 ll\n"
				 "*(u64 *)(r10 -16) = r1\n"
				 "r1 = 0x99aabbccddeeff00 ll\n"
				 "*(u64 *)(r10 -8) = r1\n"
				 "%s"
				 "r1 = r6\n"
				 "r2 = %d\n"
				 "r3 = r10\n"
				 "r3 += -16\n"
				 "r4 = %d\n"
				 "r5 = %llu ll\n"
				 "call skb_store_bytes\n"
				 "r1 = *(u32 *)(r6 +68)\n"
				 "r1 <<= 8\n"
				 "r0 += r1\n"
				 "exit\n", wtypes[t] == TC ?
				 "r1 = r6\nr2 = 0x777\ncall set_hash\n" : "",
				 st[i].off, st[i].len,
				 (unsigned long long)st[i].flags);
			snprintf(name, sizeof(name), "store_bytes type %u off %d len "
				 "%d flags %#llx", wtypes[t], st[i].off, st[i].len,
				 (unsigned long long)st[i].flags);
			both(name, wtypes[t], src, "", 0, 1, false);
		}
	static const int64_t pull[] = { 0, 10, 60, 74, 75, 0x80000000ll, -1 };
	for (size_t t = 0; t < LEN(wtypes); t++)
		for (size_t i = 0; i < LEN(pull); i++) {
			char src[512], name[64];
			snprintf(src, sizeof(src),
				 "r6 = r1\nr2 = %lld ll\ncall skb_pull_data\n"
				 "r2 = *(u32 *)(r6 +76)\n"
				 "r3 = *(u32 *)(r6 +80)\n"
				 "r3 -= r2\nr3 <<= 8\nr0 += r3\nexit\n",
				 (long long)pull[i]);
			snprintf(name, sizeof(name), "pull_data type %u len %lld",
				 wtypes[t], (long long)pull[i]);
			both(name, wtypes[t], src, "", 0, 1, false);
		}
	static const struct { uint32_t off; int len; uint32_t start; } rel[] = {
		{ 0, 8, 0 }, { 0, 8, 1 }, { 6, 8, 0 }, { 66, 8, 0 }, { 67, 8, 0 },
		{ 52, 8, 1 }, { 53, 8, 1 }, { 0, 8, 2 }, { 0x10000, 8, 0 },
		{ 0xffff, 8, 1 }, { 0, 16, 1 },
	};
	static const uint32_t rtypes[] = { TC, BPF_PROG_TYPE_SOCKET_FILTER };
	for (size_t t = 0; t < LEN(rtypes); t++)
		for (size_t i = 0; i < LEN(rel); i++) {
			char src[1024], name[96];
			snprintf(src, sizeof(src),
				 "r6 = r1\n"
				 "r1 = -1\n"
				 "*(u64 *)(r10 -16) = r1\n"
				 "*(u64 *)(r10 -8) = r1\n"
				 "r1 = r6\n"
				 "r2 = %u\n"
				 "r3 = r10\n"
				 "r3 += -16\n"
				 "r4 = %d\n"
				 "r5 = %u\n"
				 "call skb_load_bytes_relative\n"
				 "r7 = r0\n"
				 "r0 = *(u32 *)(r10 -16)\n"
				 "r1 = *(u32 *)(r10 -12)\n"
				 "r0 ^= r1\n"
				 "r1 = *(u32 *)(r10 -8)\n"
				 "r0 += r1\n"
				 "r0 += r7\n"
				 "exit\n", rel[i].off, rel[i].len, rel[i].start);
			snprintf(name, sizeof(name), "load_bytes_relative type %u off "
				 "%u len %d start %u", rtypes[t], rel[i].off,
				 rel[i].len, rel[i].start);
			both(name, rtypes[t], src, "", 0, 1, false);
		}
}
END_TEST

/* l3/l4_csum_replace on the IPv4 header checksum (24) and the TCP one
 * (50), with a 0 checksum first where asked (BPF_F_MARK_MANGLED_0) */
START_TEST(csum_replace)
{
	static const struct { const char *fn; uint32_t off; uint64_t from, to,
			      flags; int zero; } c[] = {
		{ "l3_csum_replace", 24, 0, 0x12345678, 0, 0 },
		{ "l3_csum_replace", 24, 1, 0x12345678, 0, 0 },
		{ "l3_csum_replace", 24, 0x0a00, 0x0b00, 2, 0 },
		{ "l3_csum_replace", 24, 0xffff, 0, 2, 0 },
		{ "l3_csum_replace", 24, 0x0100000a, 0x0200000a, 4, 0 },
		{ "l3_csum_replace", 24, 0x0100000a, 0x0200000a, 4, 1 },
		{ "l3_csum_replace", 24, 1, 2, 3, 0 },
		{ "l3_csum_replace", 24, 1, 2, 0x12, 0 },
		{ "l3_csum_replace", 25, 1, 2, 2, 0 },
		{ "l3_csum_replace", 72, 1, 2, 2, 0 },
		{ "l3_csum_replace", 74, 1, 2, 2, 0 },
		{ "l3_csum_replace", 0x10000, 1, 2, 2, 0 },
		{ "l4_csum_replace", 50, 0, 0xabcdef01, 0, 0 },
		{ "l4_csum_replace", 50, 0x0a00, 0x0b00, 2, 0 },
		{ "l4_csum_replace", 50, 0x0100000a, 0x0200000a, 4 | 16, 0 },
		{ "l4_csum_replace", 50, 0x0100000a, 0x0200000a, 4 | 32, 1 },
		{ "l4_csum_replace", 50, 0x0100000a, 0x0200000a, 4 | 32 | 64, 1 },
		{ "l4_csum_replace", 50, 0x1234, 0x1234, 2 | 32, 0 },
		{ "l4_csum_replace", 50, 0, 0xffffffff, 32, 1 },
		{ "l4_csum_replace", 50, 0xffff, 0, 2 | 32 | 64, 1 },
		{ "l4_csum_replace", 50, 1, 2, 4 | 128, 0 },
		{ "l4_csum_replace", 50, 1, 2, 4 | 256, 0 },
		{ "l4_csum_replace", 50, 1, 2, 8, 0 },
		{ "l4_csum_replace", 51, 1, 2, 2, 0 },
		{ "l4_csum_replace", 73, 1, 2, 2, 0 },
	};
	static const uint32_t types[] = { TC, BPF_PROG_TYPE_LWT_XMIT };
	for (size_t t = 0; t < LEN(types); t++)
		for (size_t i = 0; i < LEN(c); i++) {
			/* lwt data starts at the IP header: 14 bytes less */
			uint32_t off = c[i].off - (types[t] == TC ? 0 : 14);
			char src[1024], name[96];
			snprintf(src, sizeof(src),
				 "r6 = r1\n"
				 "%s"
				 "r1 = r6\n"
				 "r2 = %u\n"
				 "r3 = %llu ll\n"
				 "r4 = %llu ll\n"
				 "r5 = %llu ll\n"
				 "call %s\n"
				 "exit\n",
				 c[i].zero ? "r1 = 0\n*(u64 *)(r10 -8) = r1\n"
				 "r1 = r6\nr2 = %u\nr3 = r10\nr3 += -8\nr4 = 2\n"
				 "r5 = 0\ncall skb_store_bytes\n" : "",
				 off, (unsigned long long)c[i].from,
				 (unsigned long long)c[i].to,
				 (unsigned long long)c[i].flags, c[i].fn);
			if (c[i].zero) {
				char tmp[1024];
				snprintf(tmp, sizeof(tmp), src, off);
				snprintf(src, sizeof(src), "%s", tmp);
			}
			snprintf(name, sizeof(name), "%s type %u case %zu", c[i].fn,
				 types[t], i);
			both(name, types[t], src, "", 0, 1, false);
		}
}
END_TEST

/* ---- checksums ----------------------------------------------------------- */

START_TEST(csum)
{
	/* buffers: A fp-16 (16 bytes), B fp-32, Z fp-48 (zeros) */
	static const struct { int from, fs, to, ts; uint32_t seed; } c[] = {
		{ 16, 0, 32, 0, 0 }, { 16, 0, 32, 0, 0x12345678 },
		{ 16, 4, 32, 0, 0 }, { 16, 0, 32, 4, 0 }, { 16, 8, 32, 8, 0 },
		{ 16, 16, 32, 16, 0 }, { 16, 16, 32, 16, 0xffffffff },
		{ 16, 0, 32, 16, 0xffff }, { 16, 16, 32, 0, 0x10000 },
		{ 16, 12, 32, 4, 7 }, { 16, 3, 32, 5, 0 }, { 16, 16, 16, 16, 0 },
		{ 48, 16, 48, 16, 0 }, { 48, 0, 48, 16, 0 }, { 48, 16, 48, 0, 0 },
		{ 48, 8, 32, 8, 0xffffffff }, { 16, 16, 48, 16, 0 },
		{ 0, 0, 32, 8, 5 }, { 16, 8, 0, 0, 5 }, { 0, 0, 0, 0, 0x1ffff },
	};
	static const uint32_t types[] = { TC, BPF_PROG_TYPE_XDP,
					   BPF_PROG_TYPE_LWT_XMIT };
	for (size_t t = 0; t < LEN(types); t++)
		for (size_t i = 0; i < LEN(c); i++) {
			char src[2048], name[96];
			snprintf(src, sizeof(src),
				 "r1 = 0x0123456789abcdef ll\n"
				 "*(u64 *)(r10 -8) = r1\n"
				 "r1 = 0xfedcba9876543210 ll\n"
				 "*(u64 *)(r10 -16) = r1\n"
				 "r1 = 0xffffffff00000000 ll\n"
				 "*(u64 *)(r10 -24) = r1\n"
				 "r1 = 0x8000000180000001 ll\n"
				 "*(u64 *)(r10 -32) = r1\n"
				 "r1 = 0\n"
				 "*(u64 *)(r10 -40) = r1\n"
				 "*(u64 *)(r10 -48) = r1\n"
				 "r1 = r10\n"
				 "r1 += -%d\n"
				 "%s"
				 "r2 = %d\n"
				 "r3 = r10\n"
				 "r3 += -%d\n"
				 "%s"
				 "r4 = %d\n"
				 "r5 = %u ll\n"
				 "call csum_diff\n"
				 "r1 = r0\n"
				 "r1 >>= 32\n"
				 "r1 *= 7\n"
				 "r0 += r1\n"
				 "exit\n", c[i].from, c[i].from ? "" : "r1 = 0\n",
				 c[i].fs, c[i].to, c[i].to ? "" : "r3 = 0\n", c[i].ts,
				 c[i].seed);
			snprintf(name, sizeof(name), "csum_diff type %u case %zu",
				 types[t], i);
			both(name, types[t], src, "", 0, 1, false);
		}
	both("csum_update", TC,
	     "r2 = 0x1234\ncall csum_update\nexit\n", "", 0, 1, false);
}
END_TEST

/* ---- skb fields ---------------------------------------------------------- */

START_TEST(hash_and_classid)
{
	both("get_cgroup_classid", TC, "call get_cgroup_classid\nexit\n", "",
	     0, 1, false);
	/* the flow hash: stable, not 0, in skb->hash; a hash set is kept,
	 * an invalidated one made again */
	static const char *props =
		"r6 = r1\n"
		"r9 = *(u32 *)(r6 +68)\n"          /* 0 before */
		"r1 = r6\n"
		"call get_hash_recalc\n"
		"r7 = r0\n"
		"r1 = r6\n"
		"call get_hash_recalc\n"
		"r8 = r0\n"
		"r0 = 0\n"
		"if r9 != 0 goto out\n"
		"if r7 == 0 goto out\n"
		"if r7 != r8 goto out\n"
		"r1 = *(u32 *)(r6 +68)\n"
		"if r1 != r7 goto out\n"
		"r1 = r6\n"
		"r2 = 0x1234\n"
		"call set_hash\n"
		"r1 = r6\n"
		"call get_hash_recalc\n"
		"if r0 != 0x1234 goto out\n"
		"r1 = r6\n"
		"call set_hash_invalid\n"
		"r1 = *(u32 *)(r6 +68)\n"
		"r0 = 0\n"
		"if r1 != 0 goto out\n"
		"r1 = r6\n"
		"call get_hash_recalc\n"
		"if r0 != r7 goto out\n"
		"r0 = 1\n"
		"out:\n"
		"exit\n";
	for (int pkt = 0; pkt < 3; pkt++)
		ck_assert_uint_eq(both("hash properties", TC, props, "", pkt, 1,
				       false), 1);
}
END_TEST

/* vlan_push n times (proto, tci from the table), then the skb's vlan and
 * protocol fields, the pushes' results and LD_ABS at the L2 bytes */
static void vlan_case(const char *name, uint32_t type, int n,
		      const uint16_t *proto, const uint16_t *tci, int pkt)
{
	char src[8192];
	size_t at = 0;
	at += (size_t)snprintf(src + at, sizeof(src) - at,
			       "r6 = r1\nr9 = 0\n");
	for (int i = 0; i < n; i++)
		at += (size_t)snprintf(src + at, sizeof(src) - at,
				       "r1 = r6\nr2 = %u\nr3 = %u\n"
				       "call skb_vlan_push\nr9 *= 3\nr9 += r0\n",
				       (unsigned)(uint16_t)(proto[i] >> 8 | proto[i] << 8),
				       tci[i]);
	snprintf(src + at, sizeof(src) - at,
		 "r0 = *(u32 *)(r6 +0)\n"
		 "r1 = *(u32 *)(r6 +20)\nr1 <<= 12\nr0 += r1\n"
		 "r1 = *(u32 *)(r6 +24)\nr1 <<= 16\nr0 += r1\n"
		 "r1 = *(u32 *)(r6 +28)\nr0 ^= r1\n"
		 "r1 = *(u32 *)(r6 +16)\nr1 <<= 8\nr0 ^= r1\n"
		 "r9 <<= 20\nr0 ^= r9\n"
		 "r7 = r0\n"
		 "r0 = *(u16 *)skb[12]\nr7 += r0\n"
		 "r0 = *(u32 *)skb[-2097140]\nr7 += r0\n"
		 "r0 = *(u16 *)skb[-1048576]\nr7 += r0\n"
		 "r0 = r7\nexit\n");
	both(name, type, src, "", pkt, 1, false);
}

START_TEST(vlan_push)
{
	static const uint16_t proto[] = { 0x8100, 0x88a8, 0x1234, 0x8100,
					  0x88a8, 0, 0x8100, 0x8100, 0x88a8,
					  0x8100, 0x8100, 0x8100, 0x88a8,
					  0x8100, 0x8100, 0x8100, 0x8100,
					  0x8100, 0x8100, 0x8100, 0x8100, 0x88a8 };
	static const uint16_t tci[] = { 5, 0x123, 0xffff, 0, 7, 9, 10, 11, 12,
					13, 14, 15, 16, 17, 18, 19, 20, 21, 22,
					23, 24, 25 };
	int counts[] = { 1, 2, 3, 6, 17, 22 };
	for (size_t i = 0; i < LEN(counts); i++)
		for (int pkt = 0; pkt < 3; pkt++) {
			char name[64];
			snprintf(name, sizeof(name), "vlan_push x%d", counts[i]);
			vlan_case(name, TC, counts[i], proto, tci, pkt);
		}
}
END_TEST

/* pushes (tci 100 + i, 802.1Q) then pops; the results, fields, and the
 * bytes LD_ABS sees at the mac and network headers */
START_TEST(vlan_pop)
{
	static const struct { int push, pop; } c[] = {
		{ 0, 1 }, { 0, 2 }, { 0, 3 }, { 1, 1 }, { 1, 2 }, { 2, 1 },
		{ 2, 2 }, { 3, 3 }, { 3, 5 },
	};
	for (size_t i = 0; i < LEN(c); i++)
		for (int pkt = 0; pkt < 7; pkt++) {
			char src[4096], name[64];
			size_t at = (size_t)snprintf(src, sizeof(src),
						     "r6 = r1\nr9 = 0\n");
			for (int k = 0; k < c[i].push; k++)
				at += (size_t)snprintf(src + at, sizeof(src) - at,
					"r1 = r6\nr2 = 0x81\nr3 = %d\n"
					"call skb_vlan_push\nr9 *= 3\nr9 += r0\n",
					100 + k);
			for (int k = 0; k < c[i].pop; k++)
				at += (size_t)snprintf(src + at, sizeof(src) - at,
					"r1 = r6\ncall skb_vlan_pop\n"
					"r9 *= 5\nr9 += r0\n");
			snprintf(src + at, sizeof(src) - at,
				 "r0 = *(u32 *)(r6 +0)\n"
				 "r1 = *(u32 *)(r6 +20)\nr1 <<= 12\nr0 += r1\n"
				 "r1 = *(u32 *)(r6 +24)\nr1 <<= 16\nr0 += r1\n"
				 "r1 = *(u32 *)(r6 +28)\nr0 ^= r1\n"
				 "r1 = *(u32 *)(r6 +16)\nr1 <<= 8\nr0 ^= r1\n"
				 "r9 <<= 20\nr0 ^= r9\n"
				 "r7 = r0\n"
				 "r0 = *(u8 *)skb[12]\nr7 += r0\n"
				 "r0 = *(u8 *)skb[-2097140]\nr7 += r0\n"
				 "r0 = *(u8 *)skb[-1048576]\nr7 += r0\n"
				 "r0 = r7\nexit\n");
			snprintf(name, sizeof(name), "vlan push %d pop %d", c[i].push,
				 c[i].pop);
			both(name, TC, src, "", pkt, 1, false);
		}
}
END_TEST

START_TEST(redirect)
{
	static const uint64_t flags[] = { 0, 1, 2, 4, 1ull << 40 };
	for (size_t i = 0; i < LEN(flags); i++) {
		char src[256];
		snprintf(src, sizeof(src), "r1 = 1\nr2 = %llu ll\ncall redirect\n"
			 "exit\n", (unsigned long long)flags[i]);
		both("redirect tc", TC, src, "", 0, 1, false);
		both("redirect lwt_xmit", BPF_PROG_TYPE_LWT_XMIT, src, "", 0, 1,
		     false);
		both("redirect xdp", BPF_PROG_TYPE_XDP, src, "", 0, 1, false);
	}
}
END_TEST

/* change_tail: cut, grown (zeroed, within the buffer's tailroom and past
 * it), cut then grown again, and the limits */
START_TEST(change_tail)
{
	static const struct { uint32_t len, len2; int flags; } c[] = {
		{ 74, 0, 0 }, { 60, 0, 0 }, { 14, 0, 0 }, { 13, 0, 0 },
		{ 0, 0, 0 }, { 100, 0, 0 }, { 128, 0, 0 }, { 129, 0, 0 },
		{ 1000, 0, 0 }, { 16064, 0, 0 }, { 16065, 0, 0 }, { 80, 0, 1 },
		{ 20, 100, 0 }, { 20, 14, 0 }, { 120, 30, 0 }, { 200, 16, 0 },
	};
	static const uint32_t types[] = { TC, BPF_PROG_TYPE_LWT_XMIT };
	for (size_t t = 0; t < LEN(types); t++)
		for (size_t i = 0; i < LEN(c); i++) {
			char src[1024], name[96], second[128] = "";
			if (c[i].len2)
				snprintf(second, sizeof(second),
					 "r1 = r6\nr2 = %u\nr3 = 0\n"
					 "call skb_change_tail\nr9 += r0\n", c[i].len2);
			snprintf(src, sizeof(src),
				 "r6 = r1\n"
				 "r1 = r6\nr2 = %u\nr3 = %d\n"
				 "call skb_change_tail\nr9 = r0\n"
				 "%s"
				 "r0 = *(u32 *)(r6 +0)\n"
				 "r2 = *(u32 *)(r6 +76)\n"
				 "r3 = *(u32 *)(r6 +80)\n"
				 "r3 -= r2\n"
				 "r3 <<= 16\n"
				 "r0 += r3\n"
				 "r9 <<= 24\n"
				 "r0 ^= r9\n"
				 "exit\n", c[i].len, c[i].flags, second);
			snprintf(name, sizeof(name), "change_tail type %u len %u then %u "
				 "flags %d", types[t], c[i].len, c[i].len2, c[i].flags);
			both(name, types[t], src, "", 0, 1, false);
		}
}
END_TEST

START_TEST(change_head)
{
	static const struct { uint32_t room; int flags; } c[] = {
		{ 0, 0 }, { 1, 0 }, { 14, 0 }, { 50, 0 }, { 60, 0 }, { 64, 0 },
		{ 65, 0 }, { 200, 0 }, { 15990, 0 }, { 15991, 0 }, { 8, 1 },
		{ 0xffffffff, 0 },
	};
	static const uint32_t types[] = { TC, BPF_PROG_TYPE_LWT_XMIT };
	for (size_t t = 0; t < LEN(types); t++)
		for (size_t i = 0; i < LEN(c); i++)
			for (int twice = 0; twice < 2; twice++) {
				char src[2048], name[64];
				snprintf(src, sizeof(src),
					 "r6 = r1\n"
					 "r1 = r6\nr2 = %u\nr3 = %d\n"
					 "call skb_change_head\nr9 = r0\n"
					 "%s"
					 "r0 = *(u32 *)(r6 +0)\n"
					 "r2 = *(u32 *)(r6 +76)\n"
					 "r3 = *(u32 *)(r6 +80)\n"
					 "r3 -= r2\n"
					 "r3 <<= 16\n"
					 "r0 += r3\n"
					 "r9 <<= 24\n"
					 "r0 ^= r9\n"
					 "%s"
					 "exit\n", c[i].room, c[i].flags,
					 twice ? "r1 = r6\nr2 = 30\nr3 = 0\n"
						 "call skb_change_head\nr9 += r0\n" : "",
					 types[t] != TC ? "" :
					 "r7 = r0\nr0 = *(u8 *)skb[-2097152]\n"
					 "r0 += r7\n");
				snprintf(name, sizeof(name),
					 "change_head type %u room %u flags %d%s",
					 types[t], c[i].room, c[i].flags,
					 twice ? " twice" : "");
				both(name, types[t], src, "", 0, 1, false);
			}
}
END_TEST

/* ---- perf events --------------------------------------------------------- */

START_TEST(event_output)
{
	/* BPF_F_CURRENT_CPU: the same CPU for both runs */
	cpu_set_t one;
	CPU_ZERO(&one);
	CPU_SET(sched_getcpu(), &one);
	ck_assert_int_eq(sched_setaffinity(0, sizeof(one), &one), 0);
	static const struct { char map; uint64_t flags; } c[] = {
		{ 'P', 0 }, { 'P', 0xffffffff }, { 'P', 1023 }, { 'P', 1024 },
		{ 'Q', 5 }, { 'Q', 3 }, { 'Q', 0xffffffff },
		{ 'P', 60ull << 32 }, { 'P', 74ull << 32 }, { 'P', 75ull << 32 },
		{ 'P', 0xfffffull << 32 }, { 'P', 1ull << 52 },
		{ 'P', 1ull << 63 | 1 }, { 'P', 0x80000000 },
	};
	static const uint32_t types[] = { TC, BPF_PROG_TYPE_XDP,
					   BPF_PROG_TYPE_SOCKET_FILTER,
					   BPF_PROG_TYPE_LWT_OUT };
	for (size_t t = 0; t < LEN(types); t++)
		for (size_t i = 0; i < LEN(c); i++) {
			char src[1024], name[96], maps[2] = { c[i].map, 0 };
			snprintf(src, sizeof(src),
				 "r6 = r1\n"
				 "r1 = 7\n"
				 "*(u64 *)(r10 -8) = r1\n"
				 "r1 = r6\n"
				 "lddw map_fd %%r2, 0\n"
				 "r3 = %llu ll\n"
				 "r4 = r10\n"
				 "r4 += -8\n"
				 "r5 = 8\n"
				 "call perf_event_output\n"
				 "exit\n", (unsigned long long)c[i].flags);
			snprintf(name, sizeof(name), "event_output type %u map %c "
				 "flags %#llx", types[t], c[i].map,
				 (unsigned long long)c[i].flags);
			both(name, types[t], src, maps, 0, 1, false);
		}
}
END_TEST

/* ---- sockets ------------------------------------------------------------- */

START_TEST(lookups)
{
	static const char *fn[] = { "sk_lookup_tcp", "sk_lookup_udp",
				    "skc_lookup_tcp" };
	static const struct { int size; long long netns; int flags; } c[] = {
		{ 12, -1, 0 }, { 36, -1, 0 }, { 10, -1, 0 }, { 12, 0, 0 },
		{ 12, 12345, 0 }, { 12, -1, 1 }, { 36, 0x80000000ll, 0 },
	};
	static const uint32_t types[] = { TC, BPF_PROG_TYPE_XDP };
	for (size_t t = 0; t < LEN(types); t++)
		for (size_t f = 0; f < LEN(fn); f++)
			for (size_t i = 0; i < LEN(c); i++) {
				char src[1024], name[96];
				snprintf(src, sizeof(src),
					 "r6 = r1\n"
					 "r1 = 0\n"
					 "*(u64 *)(r10 -8) = r1\n"
					 "*(u64 *)(r10 -16) = r1\n"
					 "*(u64 *)(r10 -24) = r1\n"
					 "*(u64 *)(r10 -32) = r1\n"
					 "*(u64 *)(r10 -40) = r1\n"
					 "r1 = r6\n"
					 "r2 = r10\n"
					 "r2 += -40\n"
					 "r3 = %d\n"
					 "r4 = %lld ll\n"
					 "r5 = %d\n"
					 "call %s\n"
					 "if r0 == 0 goto null\n"
					 "r1 = r0\n"
					 "call sk_release\n"
					 "r0 = 2\n"
					 "exit\n"
					 "null:\n"
					 "r0 = 1\n"
					 "exit\n", c[i].size, c[i].netns, c[i].flags,
					 fn[f]);
				snprintf(name, sizeof(name), "%s type %u size %d",
					 fn[f], types[t], c[i].size);
				both(name, types[t], src, "", 0, 1, false);
			}
}
END_TEST

/* skb->sk: a full socket of the packet's family, no protocol, TCP_CLOSE;
 * not a TCP socket, not a listener */
START_TEST(skb_sk)
{
	static const char *src =
		"r6 = r1\n"
		"r1 = *(u64 *)(r6 +168)\n"
		"r0 = 0x77\n"
		"if r1 == 0 goto out\n"
		"call sk_fullsock\n"
		"if r0 == 0 goto nofull\n"
		"r7 = r0\n"
		"r8 = *(u32 *)(r7 +4)\n"
		"r1 = *(u32 *)(r7 +8)\n"
		"r1 <<= 4\n"
		"r8 += r1\n"
		"r1 = *(u32 *)(r7 +12)\n"
		"r1 <<= 8\n"
		"r8 += r1\n"
		"r1 = *(u32 *)(r7 +72)\n"
		"r1 <<= 12\n"
		"r8 += r1\n"
		"r1 = *(u32 *)(r7 +24)\n"
		"r8 ^= r1\n"
		"r1 = *(u32 *)(r7 +52)\n"
		"r8 ^= r1\n"
		"r1 = *(u32 *)(r7 +40)\n"
		"r8 ^= r1\n"
		"r1 = *(s32 *)(r7 +76)\n"
		"r8 += r1\n"
		"r1 = r7\n"
		"call tcp_sock\n"
		"if r0 == 0 goto notcp\n"
		"r8 += 0x100000\n"
		"notcp:\n"
		"r1 = r7\n"
		"call get_listener_sock\n"
		"if r0 == 0 goto nolisten\n"
		"r8 += 0x200000\n"
		"nolisten:\n"
		"r1 = *(u64 *)(r6 +168)\n"
		"if r1 == 0 goto notcp2\n"
		"call skc_to_tcp_sock\n"
		"if r0 == 0 goto notcp2\n"
		"r8 += 0x400000\n"
		"notcp2:\n"
		"r1 = *(u64 *)(r6 +168)\n"
		"if r1 == 0 goto noudp\n"
		"call skc_to_udp6_sock\n"
		"if r0 == 0 goto noudp\n"
		"r8 += 0x800000\n"
		"noudp:\n"
		"r0 = r8\n"
		"exit\n"
		"nofull:\n"
		"r0 = 0x88\n"
		"out:\n"
		"exit\n";
	for (int pkt = 0; pkt < 3; pkt++)
		both("skb->sk helpers", TC, src, "", pkt, 1, false);
}
END_TEST

/* sk_storage on the test run's socket: created from a value or zeroed,
 * found again, deleted; it lasts the test run, over its repeats */
START_TEST(sk_storage)
{
	static const char *src =
		"r6 = r1\n"
		"r8 = 0\n"
		"r7 = *(u64 *)(r6 +168)\n"
		"if r7 == 0 goto out\n"
		"r1 = r7\n"
		"call sk_fullsock\n"
		"if r0 == 0 goto out\n"
		"r7 = r0\n"
		"r1 = 0x0000000000000005 ll\n"
		"*(u64 *)(r10 -8) = r1\n"
		/* no create: 1000 if it is there (a repeat) */
		"lddw map_fd %r1, 0\n"
		"r2 = r7\nr3 = 0\nr4 = 0\n"
		"call sk_storage_get\n"
		"if r0 == 0 goto a\n"
		"r8 += 1000\n"
		"r1 = *(u32 *)(r0 +0)\n"
		"r8 += r1\n"
		"a:\n"
		"lddw map_fd %r1, 0\n"
		"r2 = r7\nr3 = r10\nr3 += -8\nr4 = 1\n"
		"call sk_storage_get\n"
		"if r0 == 0 goto out\n"
		"r1 = *(u32 *)(r0 +0)\n"
		"r1 += 1\n"
		"*(u32 *)(r0 +0) = r1\n"
		"lddw map_fd %r1, 0\n"
		"r2 = r7\nr3 = 0\nr4 = 0\n"
		"call sk_storage_get\n"
		"if r0 == 0 goto out\n"
		"r1 = *(u32 *)(r0 +0)\n"
		"r1 *= 10\n"
		"r8 += r1\n"
		"lddw map_fd %r1, 0\n"
		"r2 = r7\n"
		"call sk_storage_delete\n"
		"r8 += r0\n"
		"lddw map_fd %r1, 0\n"
		"r2 = r7\n"
		"call sk_storage_delete\n"
		"r0 <<= 8\n"
		"r8 += r0\n"
		"lddw map_fd %r1, 0\n"
		"r2 = r7\nr3 = 0\nr4 = 0\n"
		"call sk_storage_get\n"
		"if r0 != 0 goto out\n"
		"r8 += 100000\n"
		"lddw map_fd %r1, 0\n"
		"r2 = r7\nr3 = 0\nr4 = 1\n"
		"call sk_storage_get\n"
		"if r0 == 0 goto out\n"
		"r1 = *(u32 *)(r0 +0)\n"
		"r1 += 3\n"
		"*(u32 *)(r0 +0) = r1\n"
		"r8 += 1000000\n"
		"out:\n"
		"r0 = r8\n"
		"exit\n";
	for (uint32_t rep = 1; rep <= 3; rep++)
		both("sk_storage", TC, src, "S", 0, rep, false);
}
END_TEST

/* cgroup storage: zeroed at the test run's start, kept over its repeats;
 * cgroup_skb returns 0 or 1, so each case asks one question */
START_TEST(local_storage)
{
	for (int k = 0; k < 2; k++)
		for (uint32_t rep = 1; rep <= 3; rep++)
			for (int want = 1; want <= 3; want++) {
				char src[1024], name[64];
				snprintf(src, sizeof(src),
					 "lddw map_fd %%r1, 0\n"
					 "r2 = 0\n"
					 "call get_local_storage\n"
					 "r1 = *(u64 *)(r0 +0)\n"
					 "r1 += 1\n"
					 "*(u64 *)(r0 +0) = r1\n"
					 "r0 = 0\n"
					 "if r1 != %d goto out\n"
					 "r0 = 1\n"
					 "out:\n"
					 "exit\n", want);
				snprintf(name, sizeof(name), "local_storage %c rep %u "
					 "want %d", k ? 'D' : 'C', rep, want);
				uint32_t r = both(name, BPF_PROG_TYPE_CGROUP_SKB, src,
						  k ? "D" : "C", 0, rep, false);
				ck_assert_uint_eq(r, (uint32_t)want == rep);
			}
}
END_TEST

/* ---- legacy loads at the mac and network headers -------------------------- */

START_TEST(ld_negative)
{
	static const int32_t off[] = {
		-0x200000, -0x200000 + 1, -0x200000 + 13, -0x200000 + 14,
		-0x200000 + 73, -0x200000 + 74, -0x200000 + 80, -0x200001,
		-0x100000, -0x100000 + 59, -0x100000 + 60, -0x100000 + 61,
		-0x100001, -1, -0x100000 + 0xfffff, (int32_t)0x80000000,
	};
	static const char *sz[] = { "u8", "u16", "u32" };
	static const uint32_t types[] = { BPF_PROG_TYPE_SOCKET_FILTER, TC };
	for (size_t t = 0; t < LEN(types); t++)
		for (size_t i = 0; i < LEN(off); i++)
			for (size_t s = 0; s < LEN(sz); s++)
				for (int ind = 0; ind < 2; ind++) {
					char src[512], name[96];
					if (ind)
						snprintf(src, sizeof(src),
							 "r6 = r1\nr7 = %d\n"
							 "r0 = *(%s *)skb[r7 + -3]\n"
							 "r0 += 0x1000\n"
							 "exit\n", off[i] + 3, sz[s]);
					else
						snprintf(src, sizeof(src),
							 "r6 = r1\n"
							 "r0 = *(%s *)skb[%d]\n"
							 "r0 += 0x1000\n"
							 "exit\n", sz[s], off[i]);
					snprintf(name, sizeof(name), "ld %s type %u %s off %d",
						 ind ? "ind" : "abs", types[t], sz[s], off[i]);
					both(name, types[t], src, "", 0, 1, false);
				}
}
END_TEST

/* ---- checked mode: unverified programs cannot make a helper touch what
 * is not theirs ------------------------------------------------------------ */

/* Run src (no ctx field accesses) checked on a tc skb; the run's error. */
static int checked_run(const char *src, uint64_t *r0)
{
	struct bpfvm_insn *insns;
	size_t n;
	char err[256];
	ck_assert_msg(bpfvm_asm(src, &insns, &n, err, sizeof(err)) == 0, "%s", err);
	struct bpfvm *vm = bpfvm_create();
	ck_assert_ptr_nonnull(vm);
	bpfvm_set_checked(vm, true);
	ck_assert_int_eq(bpfvm_load(vm, insns, n), 0);
	free(insns);
	ck_assert_int_eq(bpfvm_test_run_prepare(vm, BPF_PROG_TYPE_SCHED_CLS), 0);
	uint8_t *buf = calloc(1, 512);
	struct bpfvm_skb *skb = calloc(1, sizeof(*skb));
	ck_assert(buf && skb);
	packet(0, buf + 64);
	bpfvm_skb_init(skb, buf, 512, buf + 64, 74, true);
	skb->owns_head = true;
	struct bpfvm_result res;
	int e = bpfvm_run(vm, skb, sizeof(*skb), &res);
	*r0 = res.r0;
	bpfvm_skb_release(skb);
	free(skb);
	bpfvm_destroy(vm);
	return e ? e : res.error;
}

START_TEST(checked_arguments)
{
	static const char *bad[] = {
		/* a buffer outside the run's memory */
		"r2 = 0\nr3 = 4096\nr4 = 8\ncall skb_load_bytes\nexit\n",
		/* a stack buffer longer than the stack */
		"r2 = 0\nr3 = r10\nr3 += -8\nr4 = 64\ncall skb_load_bytes\nexit\n",
		/* r1 not the context */
		"r1 = r10\nr1 += -64\nr2 = 0\nr3 = r10\nr3 += -8\nr4 = 8\n"
		"call skb_load_bytes\nexit\n",
		"r1 = r10\nr1 += -8\nr2 = 600\nr3 = r10\nr3 += -8\nr4 = 0\n"
		"r5 = 0\ncall csum_diff\nexit\n",
		"r1 = 4096\ncall sk_fullsock\nexit\n",
		"r1 = r10\nr1 += -16\ncall tcp_sock\nexit\n",
		/* not a map of this program */
		"r6 = r1\nr2 = r10\nr3 = 0\nr4 = r10\nr4 += -8\nr5 = 8\n"
		"call perf_event_output\nexit\n",
		"r1 = r10\nr2 = 0\ncall get_local_storage\nexit\n",
		"r1 = 0\nr2 = 0x100\nr3 = 0\ncall skb_change_head\nexit\n",
	};
	for (size_t i = 0; i < LEN(bad); i++) {
		uint64_t r0;
		int e = checked_run(bad[i], &r0);
		ck_assert_msg(e < 0, "case %zu: the checked run went through "
			      "(r0 %#llx)", i, (unsigned long long)r0);
	}
	/* and a good one: a tag pushed 22 times moves the packet to a new
	 * head, which the run may then read through LD_ABS */
	char src[4096];
	size_t at = 0;
	at += (size_t)snprintf(src, sizeof(src), "r6 = r1\n");
	for (int i = 0; i < 22; i++)
		at += (size_t)snprintf(src + at, sizeof(src) - at,
				       "r1 = r6\nr2 = 0x81\nr3 = %d\n"
				       "call skb_vlan_push\n", i + 1);
	snprintf(src + at, sizeof(src) - at,
		 "r0 = *(u16 *)skb[18]\nexit\n");
	uint64_t r0;
	ck_assert_int_eq(checked_run(src, &r0), 0);
	ck_assert_uint_eq(r0, 20); /* the second tag in the packet: push 21's */
}
END_TEST

static Suite *suite(bool kernel)
{
	Suite *s = suite_create("skb_helpers");
	TCase *tc = tcase_create("skb_helpers");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, checked_arguments);
	if (!kernel) {
		suite_add_tcase(s, tc);
		return s;
	}
	tcase_add_test(tc, load_bytes);
	tcase_add_test(tc, csum);
	tcase_add_test(tc, store_pull_relative);
	tcase_add_test(tc, csum_replace);
	tcase_add_test(tc, hash_and_classid);
	tcase_add_test(tc, vlan_push);
	tcase_add_test(tc, change_head);
	tcase_add_test(tc, change_tail);
	tcase_add_test(tc, vlan_pop);
	tcase_add_test(tc, redirect);
	tcase_add_test(tc, event_output);
	tcase_add_test(tc, lookups);
	tcase_add_test(tc, skb_sk);
	tcase_add_test(tc, sk_storage);
	tcase_add_test(tc, local_storage);
	tcase_add_test(tc, ld_negative);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	char why[256];
	bool kernel = bpfk_available(why, sizeof(why));
	SRunner *sr = srunner_create(suite(kernel));
	srunner_run_all(sr, CK_ENV);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	if (!failed && !kernel) {
		printf("SKIP skb_helpers against the kernel: %s\n", why);
		return 77;
	}
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
