/* bpf(2) on the running kernel, with raw syscalls (no libbpf), so that the
 * differential tests can use the kernel as the oracle of eBPF semantics.
 * SPDX-License-Identifier: MIT */
#include <errno.h>
#include <linux/bpf.h>
#include <linux/btf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "bpfvm_bpf.h"
#include "kernel_util.h"

#define ETH_HLEN 14 /* XDP test_run refuses shorter packets */

_Static_assert(BPFK_PROG_TYPE_XDP == BPF_PROG_TYPE_XDP &&
		       BPFK_PROG_TYPE_SOCKET_FILTER == BPF_PROG_TYPE_SOCKET_FILTER,
	       "kernel_util.h program types");
_Static_assert(BPFK_WRAP_MAX == 14, "wrapper + prolog");
_Static_assert(sizeof(struct bpfvm_insn) == sizeof(struct bpf_insn),
	       "struct bpfvm_insn is laid out as struct bpf_insn");

static int sys_bpf(int cmd, union bpf_attr *attr)
{
	long r = syscall(__NR_bpf, cmd, attr, sizeof(*attr));
	return r < 0 ? -errno : (int)r;
}

static uint64_t ptr(const void *p)
{
	return (uint64_t)(uintptr_t)p;
}

/* A one-entry array map of one u64: where the wrapper leaves r0. */
static int map_create(void)
{
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.map_type = BPF_MAP_TYPE_ARRAY;
	a.key_size = 4;
	a.value_size = 8;
	a.max_entries = 1;
	return sys_bpf(BPF_MAP_CREATE, &a);
}

static int prog_load(int type, const struct bpf_insn *insns, size_t n,
		     int log_level, char *log, size_t loglen)
{
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.prog_type = (uint32_t)type;
	a.insns = ptr(insns);
	a.insn_cnt = (uint32_t)n;
	a.license = ptr("GPL");
	if (type == BPF_PROG_TYPE_XDP)
		a.expected_attach_type = BPF_XDP;
	/* The kernel refuses a log level without a buffer and the reverse. */
	if (log && loglen >= 128 && log_level) {
		a.log_level = (uint32_t)log_level;
		a.log_buf = ptr(log);
		a.log_size = loglen > UINT32_MAX >> 8 ? UINT32_MAX >> 8 : (uint32_t)loglen;
	}
	int fd, tries = 5; /* EAGAIN: the verifier was interrupted (libbpf tries 5) */
	do
		fd = sys_bpf(BPF_PROG_LOAD, &a);
	while (fd == -EAGAIN && --tries);
	return fd;
}

bool bpfk_available(char *why, size_t len)
{
	int fd = map_create();
	const char *what = "map create";
	if (fd >= 0) { /* and an XDP program: r0 = 2 (XDP_PASS); exit */
		struct bpf_insn ret[] = { { .code = BPF_ALU64 | BPF_MOV | BPF_K, .imm = 2 },
					  { .code = BPF_JMP | BPF_EXIT } };
		close(fd);
		fd = prog_load(BPF_PROG_TYPE_XDP, ret, 2, 0, NULL, 0);
		what = "XDP program load";
	}
	if (fd >= 0) {
		close(fd);
		return true;
	}
	if (fd == -EPERM || fd == -EACCES)
		snprintf(why, len, "bpf(2) not permitted: %s (need root or CAP_BPF)",
			 strerror(-fd));
	else if (fd == -ENOSYS)
		snprintf(why, len, "bpf(2) not available: %s (kernel without CONFIG_BPF_SYSCALL?)",
			 strerror(-fd));
	else
		snprintf(why, len, "bpf(2) %s failed: %s", what, strerror(-fd));
	return false;
}

int bpfk_prog_load(int type, const struct bpfvm_insn *insns, size_t n,
		   int log_level, char *log, size_t loglen)
{
	if (log && loglen)
		log[0] = '\0';
	if (n == 0 || n > BPFVM_MAX_INSNS)
		return -EINVAL;
	struct bpf_insn *k = calloc(n, sizeof(*k));
	if (!k)
		return -ENOMEM;
	/* Same layout (asserted above); copied rather than cast, for aliasing. */
	memcpy(k, insns, n * sizeof(*k));
	int fd = prog_load(type, k, n, log_level, log, loglen);
	/* ENOSPC: the log overflowed (since 6.4 this fails the load even if
	 * the program is fine).  The log kept its tail, which holds the error
	 * if any; load again without a log for the real outcome. */
	if (fd == -ENOSPC && log_level)
		fd = prog_load(type, k, n, 0, NULL, 0);
	free(k);
	return fd;
}

static struct bpf_insn I(uint8_t code, uint8_t dst, uint8_t src, int16_t off,
			 int32_t imm)
{
	return (struct bpf_insn){ .code = code, .dst_reg = dst, .src_reg = src,
				  .off = off, .imm = imm };
}

#define WRAP_LEN 5
#define PROLOG_LEN 9

/* The upstream libbpf_plugin wrapper: call the test as a subprogram (it
 * starts right after these 5 instructions), then store its full r0 through
 * a map-value pointer; XDP's own return value would keep 32 bits only. */
static void wrapper(struct bpf_insn *w, int map_fd)
{
	w[0] = I(BPF_JMP | BPF_CALL, 0, BPF_PSEUDO_CALL, 0, WRAP_LEN - 1);
	w[1] = I(BPF_LD | BPF_IMM | BPF_DW, 1, BPF_PSEUDO_MAP_VALUE, 0, map_fd);
	w[2] = I(0, 0, 0, 0, 0); /* value offset 0 */
	w[3] = I(BPF_STX | BPF_MEM | BPF_DW, 1, 0, 0, 0);
	w[4] = I(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
}

/* The upstream XDP prolog: r1 = data, r2 = len, once the verifier knows
 * [data, data + len) is inside the packet. */
static void prolog(struct bpf_insn *p, int32_t len)
{
	p[0] = I(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, -1);
	p[1] = I(BPF_ALU64 | BPF_MOV | BPF_X, 6, 1, 0, 0);
	p[2] = I(BPF_LDX | BPF_MEM | BPF_W, 1, 6, 0, 0); /* xdp_md.data */
	p[3] = I(BPF_LDX | BPF_MEM | BPF_W, 2, 6, 4, 0); /* xdp_md.data_end */
	p[4] = I(BPF_ALU64 | BPF_MOV | BPF_X, 3, 1, 0, 0);
	p[5] = I(BPF_ALU64 | BPF_ADD | BPF_K, 3, 0, 0, len);
	p[6] = I(BPF_JMP | BPF_JLE | BPF_X, 3, 2, 1, 0);
	p[7] = I(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
	p[8] = I(BPF_ALU64 | BPF_MOV | BPF_K, 2, 0, 0, len);
}

/* Run once on mem; out (may be NULL) gets the packet as the program left
 * it. */
static int test_run(int prog_fd, const void *mem, size_t mem_len, void *out)
{
	/* XDP needs an Ethernet header's worth of packet: pad with zeros. */
	size_t len = mem_len < ETH_HLEN ? ETH_HLEN : mem_len;
	uint8_t *data = calloc(1, len);
	if (!data)
		return -ENOMEM;
	if (mem_len)
		memcpy(data, mem, mem_len);
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.test.prog_fd = (uint32_t)prog_fd;
	a.test.data_in = ptr(data);
	a.test.data_size_in = (uint32_t)len;
	a.test.data_out = ptr(data); /* the kernel copies in first: no overlap issue */
	a.test.data_size_out = (uint32_t)len;
	a.test.repeat = 1;
	int err = sys_bpf(BPF_PROG_TEST_RUN, &a);
	if (!err && out && mem_len)
		memcpy(out, data, mem_len);
	free(data);
	return err < 0 ? err : 0;
}

static int map_read(int map_fd, uint64_t *v)
{
	uint32_t key = 0;
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.map_fd = (uint32_t)map_fd;
	a.key = ptr(&key);
	a.value = ptr(v);
	return sys_bpf(BPF_MAP_LOOKUP_ELEM, &a);
}

size_t bpfk_wrap(const struct bpfvm_insn *insns, size_t n, size_t mem_len,
		 int map_fd, struct bpfvm_insn *out)
{
	size_t pre = WRAP_LEN + (mem_len ? PROLOG_LEN : 0);
	struct bpf_insn head[WRAP_LEN + PROLOG_LEN];
	wrapper(head, map_fd);
	if (mem_len)
		prolog(head + WRAP_LEN, (int32_t)mem_len);
	memcpy(out, head, pre * sizeof(*out));
	if (n)
		memcpy(out + pre, insns, n * sizeof(*out));
	return pre + n;
}

int bpfk_run_r0(const struct bpfvm_insn *insns, size_t n, const void *mem,
		size_t mem_len, uint64_t *r0, char *log, size_t loglen)
{
	return bpfk_run(insns, n, mem, mem_len, NULL, r0, log, loglen);
}

int bpfk_run(const struct bpfvm_insn *insns, size_t n, const void *mem,
	     size_t mem_len, void *mem_out, uint64_t *r0, char *log,
	     size_t loglen)
{
	if (log && loglen)
		log[0] = '\0';
	if (mem_len > INT32_MAX || n > BPFVM_MAX_INSNS)
		return -E2BIG;
	size_t pre = WRAP_LEN + (mem_len ? PROLOG_LEN : 0);
	struct bpfvm_insn *prog = calloc(pre + n, sizeof(*prog));
	if (!prog)
		return -ENOMEM;
	int map_fd = map_create();
	if (map_fd < 0) {
		free(prog);
		return map_fd;
	}
	bpfk_wrap(insns, n, mem_len, map_fd, prog);

	/* Load without a log first: the verifier runs faster without one;
	 * on failure load again to explain it. */
	int err, fd = bpfk_prog_load(BPF_PROG_TYPE_XDP, prog, pre + n, 0, NULL, 0);
	if (fd < 0 && log && loglen) {
		int again = bpfk_prog_load(BPF_PROG_TYPE_XDP, prog, pre + n, 1, log, loglen);
		if (again >= 0)
			close(again);
	}
	free(prog);
	if (fd < 0) {
		close(map_fd);
		return fd;
	}
	err = test_run(fd, mem, mem_len, mem_out);
	if (!err)
		err = map_read(map_fd, r0);
	if (err && log && loglen)
		snprintf(log, loglen, "%s: %s", err == -ENOENT ? "map read" : "test run",
			 strerror(-err));
	close(fd);
	close(map_fd);
	return err;
}

int bpfk_spin_lock_btf(int (*call)(int cmd, void *attr, unsigned size))
{
	/* name offsets into str: bpf_spin_lock 1, val 15, cnt 19, l 23,
	 * int 25; member offsets in bits */
	static const uint32_t types[] = {
		25, 0x01000000, 4, 0x01000020,             /* int: signed, 32 */
		1, 0x04000001, 4, 15, 1, 0,                /* bpf_spin_lock */
		15, 0x04000002, 8, 19, 1, 0, 23, 2, 32,    /* val */
	};
	static const char str[] = "\0bpf_spin_lock\0val\0cnt\0l\0int";
	struct btf_header h = {
		.magic = 0xeb9f, .version = 1, .hdr_len = sizeof(h),
		.type_len = sizeof(types), .str_off = sizeof(types),
		.str_len = sizeof(str),
	};
	uint8_t blob[sizeof(h) + sizeof(types) + sizeof(str)];
	memcpy(blob, &h, sizeof(h));
	memcpy(blob + sizeof(h), types, sizeof(types));
	memcpy(blob + sizeof(h) + sizeof(types), str, sizeof(str));
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.btf = ptr(blob);
	a.btf_size = sizeof(blob);
	return call(BPF_BTF_LOAD, &a, sizeof(a));
}

int bpfk_kcall(int cmd, void *attr, unsigned size)
{
	long r = syscall(__NR_bpf, cmd, attr, size);
	return r < 0 ? -errno : (int)r;
}

int bpfk_vcall(int cmd, void *attr, unsigned size)
{
	int r = bpfvm_bpf(cmd, attr, size);
	return r < 0 ? -errno : r;
}
