/* bpfvm_bpf(), the bpf(2) system call in-process: the attr rules, every
 * map command and errno path through descriptors, ids, info, freeze,
 * read-only and write-only descriptors, programs holding maps, PROG_LOAD
 * and PROG_TEST_RUN, and the same calls on the running kernel in lock-step
 * (skipped, with the reason, without bpf(2) rights).  Expected errnos were
 * first read off Linux 6.18.
 * SPDX-License-Identifier: MIT */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "bpfvm_bpf.h"
#include "testutil.h"

#define NP BPF_F_NO_PREALLOC
#define PTR(p) ((uint64_t)(uintptr_t)(p))
#define ATTR_SIZE 168 /* sizeof(union bpf_attr) in Linux 6.18 */
#define ENOTSUPP 524

/* ---- the two worlds ------------------------------------------------------ */

/* bpfvm_bpf and the kernel, both as -errno or the result. */
static int vcall(int cmd, void *a, unsigned size)
{
	errno = 0;
	int r = bpfvm_bpf(cmd, a, size);
	if (r < 0) {
		ck_assert_int_eq(r, -1);
		ck_assert_int_ne(errno, 0);
		return -errno;
	}
	return r;
}

static int kcall(int cmd, void *a, unsigned size)
{
	long r = syscall(__NR_bpf, cmd, a, size);
	return r < 0 ? -errno : (int)r;
}

typedef int (*bpf_fn)(int cmd, void *a, unsigned size);

static int vbpf(int cmd, union bpf_attr *a)
{
	return vcall(cmd, a, sizeof(*a));
}

static int mcreate_in(bpf_fn f, uint32_t type, uint32_t ks, uint32_t vs,
		      uint32_t max, uint32_t flags)
{
	union bpf_attr a = tu_map_attr(type, ks, vs, max, flags);
	return f(BPF_MAP_CREATE, &a, sizeof(a));
}

static int mcreate(uint32_t type, uint32_t ks, uint32_t vs, uint32_t max,
		   uint32_t flags)
{
	return mcreate_in(vcall, type, ks, vs, max, flags);
}

static int op_in(bpf_fn f, int cmd, int fd, const void *key, void *val,
		 uint64_t flags)
{
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.map_fd = (uint32_t)fd;
	a.key = PTR(key);
	if (cmd == BPF_MAP_GET_NEXT_KEY)
		a.next_key = PTR(val);
	else
		a.value = PTR(val);
	a.flags = flags;
	return f(cmd, &a, sizeof(a));
}

static int op(int cmd, int fd, const void *key, void *val, uint64_t flags)
{
	return op_in(vcall, cmd, fd, key, val, flags);
}

static int upd(int fd, uint32_t k, uint64_t v, uint64_t flags)
{
	return op(BPF_MAP_UPDATE_ELEM, fd, &k, &v, flags);
}

static int look(int fd, uint32_t k, uint64_t *v)
{
	return op(BPF_MAP_LOOKUP_ELEM, fd, &k, v, 0);
}

static int info_in(bpf_fn f, int fd, void *info, uint32_t *len)
{
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.info.bpf_fd = (uint32_t)fd;
	a.info.info_len = *len;
	a.info.info = PTR(info);
	int r = f(BPF_OBJ_GET_INFO_BY_FD, &a, sizeof(a));
	*len = a.info.info_len;
	return r;
}

static uint32_t map_id(int fd)
{
	struct bpf_map_info i;
	uint32_t len = sizeof(i);
	memset(&i, 0, sizeof(i));
	ck_assert_int_eq(info_in(vcall, fd, &i, &len), 0);
	return i.id;
}

static int fd_by_id(uint32_t id, uint32_t open_flags)
{
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.map_id = id;
	a.open_flags = open_flags;
	return vbpf(BPF_MAP_GET_FD_BY_ID, &a);
}

static int cloexec(int fd)
{
	int f = fcntl(fd, F_GETFD);
	ck_assert_int_ge(f, 0);
	return !!(f & FD_CLOEXEC);
}

/* ---- instructions ----------------------------------------------------------- */

#define INSN(c, d, s, o, i) ((struct bpf_insn){ (c), (d), (s), (o), (i) })
#define MOV64_IMM(d, i) INSN(BPF_ALU64 | BPF_MOV | BPF_K, d, 0, 0, i)
#define MOV64_REG(d, s) INSN(BPF_ALU64 | BPF_MOV | BPF_X, d, s, 0, 0)
#define ADD64_IMM(d, i) INSN(BPF_ALU64 | BPF_ADD | BPF_K, d, 0, 0, i)
#define LDX_DW(d, s, o) INSN(BPF_LDX | BPF_MEM | BPF_DW, d, s, o, 0)
#define LDX_B(d, s, o) INSN(BPF_LDX | BPF_MEM | BPF_B, d, s, o, 0)
#define STX_DW(d, s, o) INSN(BPF_STX | BPF_MEM | BPF_DW, d, s, o, 0)
#define STX_B(d, s, o) INSN(BPF_STX | BPF_MEM | BPF_B, d, s, o, 0)
#define EXIT() INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)
#define LD_IMM64(d, src, imm, imm2) \
	INSN(BPF_LD | BPF_DW | BPF_IMM, d, src, 0, imm), INSN(0, 0, 0, 0, imm2)

static int load_in(bpf_fn f, uint32_t type, const struct bpf_insn *insns,
		   size_t n, char *log, uint32_t loglen)
{
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.prog_type = type;
	a.insns = PTR(insns);
	a.insn_cnt = (uint32_t)n;
	a.license = PTR("GPL");
	a.log_buf = PTR(log);
	a.log_size = log ? loglen : 0;
	a.log_level = log ? 1 : 0;
	return f(BPF_PROG_LOAD, &a, sizeof(a));
}

static int load(const struct bpf_insn *insns, size_t n)
{
	return load_in(vcall, BPF_PROG_TYPE_SOCKET_FILTER, insns, n, NULL, 0);
}

/* A program that adds 1 to the u64 at the start of fd's only value (ld_imm64
 * BPF_PSEUDO_MAP_VALUE) and returns the new count. */
static int load_counter(int fd)
{
	struct bpf_insn p[] = {
		LD_IMM64(1, BPF_PSEUDO_MAP_VALUE, fd, 0),
		LDX_DW(0, 1, 0),
		ADD64_IMM(0, 1),
		STX_DW(1, 0, 0),
		EXIT(),
	};
	return load(p, sizeof(p) / sizeof(*p));
}

static int test_run(int fd, void *in, uint32_t in_len, void *out,
		    uint32_t out_len, uint32_t repeat, union bpf_attr *a)
{
	memset(a, 0, sizeof(*a));
	a->test.prog_fd = (uint32_t)fd;
	a->test.data_in = PTR(in);
	a->test.data_size_in = in_len;
	a->test.data_out = PTR(out);
	a->test.data_size_out = out_len;
	a->test.repeat = repeat;
	return vbpf(BPF_PROG_TEST_RUN, a);
}

/* ---- attr rules ------------------------------------------------------------- */

START_TEST(attr_size_rule)
{
	uint8_t big[256];
	union bpf_attr *a = (union bpf_attr *)big;
	memset(big, 0, sizeof(big));
	a->map_type = BPF_MAP_TYPE_ARRAY;
	a->key_size = 4;
	a->value_size = 4;
	a->max_entries = 1;
	/* a larger attr is fine while the extra bytes are zero */
	int fd = vcall(BPF_MAP_CREATE, big, sizeof(big));
	ck_assert_int_ge(fd, 0);
	bpfvm_close(fd);
	big[200] = 1;
	ck_assert_int_eq(vcall(BPF_MAP_CREATE, big, sizeof(big)), -E2BIG);
	/* past 6.18's size even for an unknown command */
	ck_assert_int_eq(vcall(999, big, sizeof(big)), -E2BIG);
	big[200] = 0;
	big[ATTR_SIZE] = 1;
	ck_assert_int_eq(vcall(BPF_MAP_CREATE, big, sizeof(big)), -E2BIG);
	big[ATTR_SIZE] = 0;
	/* a short attr is zero-padded: 12 bytes lose max_entries */
	ck_assert_int_eq(vcall(BPF_MAP_CREATE, big, 12), -EINVAL);
	fd = vcall(BPF_MAP_CREATE, big, 16);
	ck_assert_int_ge(fd, 0);
	bpfvm_close(fd);
	ck_assert_int_eq(vcall(BPF_MAP_CREATE, NULL, 16), -EFAULT);
	ck_assert_int_eq(vcall(BPF_MAP_CREATE, NULL, 0), -EINVAL);
	ck_assert_int_eq(vcall(99, big, 16), -EINVAL);
	ck_assert_int_eq(vcall(-1, big, 16), -EINVAL);
	/* a command the kernel has but bpfvm not: EINVAL */
	ck_assert_int_eq(vcall(BPF_OBJ_PIN, big, 16), -EINVAL);
}
END_TEST

/* One non-zero byte right past each command's last field (Linux 6.18's
 * names) is EINVAL, before anything else is looked at. */
START_TEST(check_attr)
{
	static const struct { int cmd; unsigned end; } last[] = {
		{ BPF_MAP_CREATE, 96 },
		{ BPF_MAP_LOOKUP_ELEM, 32 },
		{ BPF_MAP_UPDATE_ELEM, 32 },
		{ BPF_MAP_DELETE_ELEM, 16 },
		{ BPF_MAP_GET_NEXT_KEY, 24 },
		{ BPF_PROG_TEST_RUN, 76 },
		{ BPF_PROG_GET_NEXT_ID, 8 },
		{ BPF_MAP_GET_NEXT_ID, 8 },
		{ BPF_MAP_GET_FD_BY_ID, 12 },
		{ BPF_OBJ_GET_INFO_BY_FD, 16 },
		{ BPF_MAP_LOOKUP_AND_DELETE_ELEM, 32 },
		{ BPF_MAP_FREEZE, 4 },
		{ BPF_MAP_LOOKUP_BATCH, 56 },
		{ BPF_MAP_LOOKUP_AND_DELETE_BATCH, 56 },
		{ BPF_MAP_UPDATE_BATCH, 56 },
		{ BPF_MAP_DELETE_BATCH, 56 },
	};
	int fd = mcreate(BPF_MAP_TYPE_HASH, 4, 8, 4, 0);
	ck_assert_int_ge(fd, 0);
	for (size_t i = 0; i < sizeof(last) / sizeof(*last); i++)
		for (unsigned off = last[i].end; off < ATTR_SIZE; off += 5) {
			uint8_t b[ATTR_SIZE];
			memset(b, 0, sizeof(b));
			b[off] = 0x80;
			ck_assert_msg(vcall(last[i].cmd, b, sizeof(b)) == -EINVAL,
				      "cmd %d byte %u", last[i].cmd, off);
		}
	/* the same byte inside the last field is looked at, not refused */
	uint8_t b[ATTR_SIZE];
	memset(b, 0, sizeof(b));
	memcpy(b, &fd, 4);
	ck_assert_int_eq(vcall(BPF_MAP_FREEZE, b, sizeof(b)), 0);
	bpfvm_close(fd);
}
END_TEST

/* ---- descriptors ---------------------------------------------------------- */

START_TEST(descriptors_are_real_and_cloexec)
{
	int fd = mcreate(BPF_MAP_TYPE_HASH, 4, 8, 4, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert(cloexec(fd));
	/* the process's next file gets another number */
	int other = open("/dev/null", O_RDONLY);
	ck_assert_int_ge(other, 0);
	ck_assert_int_ne(other, fd);
	/* a file that is not a map: EINVAL; a closed one: EBADF */
	uint64_t v = 0;
	ck_assert_int_eq(look(other, 0, &v), -EINVAL);
	ck_assert_int_eq(look(-1, 0, &v), -EBADF);
	ck_assert_int_eq(look(100000, 0, &v), -EBADF);
	close(other);
	ck_assert_int_eq(look(other, 0, &v), -EBADF);
	/* released: EBADF */
	ck_assert_int_eq(bpfvm_close(fd), 0);
	ck_assert_int_eq(look(fd, 0, &v), -EBADF);
	ck_assert_int_eq(bpfvm_close(fd), -1);
	ck_assert_int_eq(errno, EBADF);
}
END_TEST

/* With the descriptor check on, a descriptor closed with plain close():
 * EBADF, and EINVAL once its number names another file, as the kernel says
 * for that file. */
/* An array map with 1 -> 7, its id in *id, closed with plain close(): its
 * number. */
static int closed_plainly(uint32_t *id)
{
	int fd = mcreate(BPF_MAP_TYPE_ARRAY, 4, 8, 2, 0);
	ck_assert_int_ge(fd, 0);
	*id = map_id(fd);
	ck_assert_int_eq(upd(fd, 1, 7, 0), 0);
	close(fd);
	return fd;
}

START_TEST(plain_close_is_noticed)
{
	bpfvm_bpf_set_fd_check(true);
	uint32_t id;
	uint64_t v;
	int fd = closed_plainly(&id);
	ck_assert_int_eq(look(fd, 1, &v), -EBADF);
	/* the map went with its last descriptor */
	ck_assert_int_eq(fd_by_id(id, 0), -ENOENT);

	fd = mcreate(BPF_MAP_TYPE_ARRAY, 4, 8, 2, 0);
	ck_assert_int_ge(fd, 0);
	close(fd);
	int f = open("/dev/null", O_RDONLY);
	ck_assert_int_eq(f, fd); /* the lowest free number comes back */
	ck_assert_int_eq(look(fd, 1, &v), -EINVAL);
	/* and a new map may take the number again */
	close(f);
	int fd2 = mcreate(BPF_MAP_TYPE_ARRAY, 4, 8, 2, 0);
	ck_assert_int_eq(fd2, fd);
	ck_assert_int_eq(look(fd2, 1, &v), 0);
	ck_assert_uint_eq(v, 0);
	bpfvm_close(fd2);
	bpfvm_bpf_set_fd_check(false);
}
END_TEST

/* Unchecked (the default): a number closed with plain close() still names
 * its map, until bpfvm hands the number out again; then the old map goes
 * with its last descriptor, and the number names the new map only. */
START_TEST(plain_close_unchecked)
{
	uint32_t id;
	uint64_t v;
	int fd = closed_plainly(&id);
	ck_assert_int_eq(look(fd, 1, &v), 0);
	ck_assert_uint_eq(v, 7);
	int fd2 = mcreate(BPF_MAP_TYPE_ARRAY, 4, 8, 2, 0);
	ck_assert_int_eq(fd2, fd);
	ck_assert_int_eq(fd_by_id(id, 0), -ENOENT);
	ck_assert_int_eq(look(fd2, 1, &v), 0);
	ck_assert_uint_eq(v, 0);
	ck_assert_int_eq(bpfvm_close(fd2), 0);
	ck_assert_int_eq(look(fd2, 1, &v), -EBADF);
}
END_TEST

/* A dup of a descriptor names the same map with the same rights, as a
 * dup of a kernel bpf descriptor does; each goes on its own. */
START_TEST(dup_descriptors)
{
	int fd = mcreate(BPF_MAP_TYPE_HASH, 4, 8, 4, 0);
	ck_assert_int_eq(upd(fd, 1, 11, 0), 0);
	int d = dup(fd);
	int d2 = fcntl(fd, F_DUPFD_CLOEXEC, 100);
	ck_assert_int_ge(d, 0);
	ck_assert_int_ge(d2, 100);
	uint64_t v = 0;
	ck_assert_int_eq(look(d, 1, &v), 0);
	ck_assert_uint_eq(v, 11);
	ck_assert_int_eq(look(d2, 1, &v), 0);
	ck_assert_uint_eq(map_id(d), map_id(fd));
	bpfvm_close(fd);
	ck_assert_int_eq(upd(d, 2, 22, 0), 0);
	bpfvm_close(d);
	ck_assert_int_eq(look(d2, 2, &v), 0);
	ck_assert_uint_eq(v, 22);
	bpfvm_close(d2);
	/* a read-only descriptor's dup is read-only */
	int ro = mcreate(BPF_MAP_TYPE_HASH, 4, 8, 4, BPF_F_RDONLY);
	int rd = dup(ro);
	ck_assert_int_eq(upd(rd, 1, 1, 0), -EPERM);
	ck_assert_int_eq(look(rd, 1, &v), -ENOENT);
	bpfvm_close(rd);
	bpfvm_close(ro);
}
END_TEST

START_TEST(wrong_kind_of_descriptor)
{
	int m = mcreate(BPF_MAP_TYPE_ARRAY, 4, 8, 1, 0);
	int p = load_counter(m);
	ck_assert_int_ge(p, 0);
	ck_assert(cloexec(p));
	uint64_t v;
	ck_assert_int_eq(look(p, 0, &v), -EINVAL);
	ck_assert_int_eq(upd(p, 0, 1, 0), -EINVAL);
	union bpf_attr a;
	uint8_t buf[16];
	ck_assert_int_eq(test_run(m, buf, 16, NULL, 0, 1, &a), -EINVAL);
	ck_assert_int_eq(test_run(100000, buf, 16, NULL, 0, 1, &a), -EBADF);
	/* a program cannot be a map-in-map's inner map */
	union bpf_attr c;
	memset(&c, 0, sizeof(c));
	c.map_type = BPF_MAP_TYPE_ARRAY_OF_MAPS;
	c.key_size = 4;
	c.value_size = 4;
	c.max_entries = 1;
	c.inner_map_fd = (uint32_t)p;
	ck_assert_int_eq(vbpf(BPF_MAP_CREATE, &c), -EINVAL);
	bpfvm_close(p);
	bpfvm_close(m);
}
END_TEST

/* ---- map commands ----------------------------------------------------------- */

START_TEST(hash_commands)
{
	int fd = mcreate(BPF_MAP_TYPE_HASH, 4, 8, 2, 0);
	uint64_t v = 0;
	uint32_t k, next;
	ck_assert_int_eq(look(fd, 1, &v), -ENOENT);
	ck_assert_int_eq(upd(fd, 1, 10, BPF_EXIST), -ENOENT);
	ck_assert_int_eq(upd(fd, 1, 10, BPF_NOEXIST), 0);
	ck_assert_int_eq(upd(fd, 1, 11, BPF_NOEXIST), -EEXIST);
	ck_assert_int_eq(upd(fd, 2, 20, BPF_ANY), 0);
	ck_assert_int_eq(upd(fd, 3, 30, BPF_ANY), -E2BIG);
	ck_assert_int_eq(upd(fd, 1, 12, 4), -EINVAL);
	ck_assert_int_eq(upd(fd, 1, 12, BPF_F_LOCK), -EINVAL); /* no lock */
	ck_assert_int_eq(look(fd, 1, &v), 0);
	ck_assert_uint_eq(v, 10);
	ck_assert_int_eq(op(BPF_MAP_LOOKUP_ELEM, fd, &k, &v, 1), -EINVAL);
	/* get_next_key: NULL is the first, a missing key restarts */
	ck_assert_int_eq(op(BPF_MAP_GET_NEXT_KEY, fd, NULL, &k, 0), 0);
	ck_assert(k == 1 || k == 2);
	ck_assert_int_eq(op(BPF_MAP_GET_NEXT_KEY, fd, &k, &next, 0), 0);
	ck_assert_uint_eq(k + next, 3);
	ck_assert_int_eq(op(BPF_MAP_GET_NEXT_KEY, fd, &next, &k, 0), -ENOENT);
	k = 99;
	ck_assert_int_eq(op(BPF_MAP_GET_NEXT_KEY, fd, &k, &next, 0), 0);
	/* lookup and delete */
	k = 2;
	ck_assert_int_eq(op(BPF_MAP_LOOKUP_AND_DELETE_ELEM, fd, &k, &v, 0), 0);
	ck_assert_uint_eq(v, 20);
	ck_assert_int_eq(op(BPF_MAP_LOOKUP_AND_DELETE_ELEM, fd, &k, &v, 0), -ENOENT);
	ck_assert_int_eq(op(BPF_MAP_LOOKUP_AND_DELETE_ELEM, fd, &k, &v, 2), -EINVAL);
	/* delete */
	k = 1;
	ck_assert_int_eq(op(BPF_MAP_DELETE_ELEM, fd, &k, NULL, 0), 0);
	ck_assert_int_eq(op(BPF_MAP_DELETE_ELEM, fd, &k, NULL, 0), -ENOENT);
	/* NULL pointers fault where the kernel's copies would */
	ck_assert_int_eq(op(BPF_MAP_UPDATE_ELEM, fd, NULL, &v, 0), -EFAULT);
	ck_assert_int_eq(op(BPF_MAP_UPDATE_ELEM, fd, &k, NULL, 0), -EFAULT);
	ck_assert_int_eq(op(BPF_MAP_LOOKUP_ELEM, fd, &k, NULL, 0), -ENOENT);
	ck_assert_int_eq(upd(fd, 1, 5, 0), 0);
	ck_assert_int_eq(op(BPF_MAP_LOOKUP_ELEM, fd, &k, NULL, 0), -EFAULT);
	bpfvm_close(fd);
}
END_TEST

START_TEST(array_and_queue_commands)
{
	int fd = mcreate(BPF_MAP_TYPE_ARRAY, 4, 8, 3, 0);
	uint64_t v;
	uint32_t k = 1;
	ck_assert_int_eq(upd(fd, 3, 1, 0), -E2BIG);
	ck_assert_int_eq(upd(fd, 1, 1, BPF_NOEXIST), -EEXIST);
	ck_assert_int_eq(op(BPF_MAP_DELETE_ELEM, fd, &k, NULL, 0), -EINVAL);
	ck_assert_int_eq(op(BPF_MAP_LOOKUP_AND_DELETE_ELEM, fd, &k, &v, 0),
			 -ENOTSUPP);
	bpfvm_close(fd);

	fd = mcreate(BPF_MAP_TYPE_QUEUE, 0, 8, 2, 0);
	ck_assert_int_ge(fd, 0);
	for (uint64_t i = 1; i <= 3; i++) {
		v = i;
		ck_assert_int_eq(op(BPF_MAP_UPDATE_ELEM, fd, NULL, &v, 0),
				 i <= 2 ? 0 : -E2BIG);
	}
	v = 3;
	ck_assert_int_eq(op(BPF_MAP_UPDATE_ELEM, fd, NULL, &v, BPF_EXIST), 0);
	ck_assert_int_eq(op(BPF_MAP_UPDATE_ELEM, fd, &k, &v, 0), -EINVAL);
	ck_assert_int_eq(op(BPF_MAP_LOOKUP_ELEM, fd, NULL, &v, 0), 0);
	ck_assert_uint_eq(v, 2); /* the oldest went */
	ck_assert_int_eq(op(BPF_MAP_LOOKUP_AND_DELETE_ELEM, fd, NULL, &v, 0), 0);
	ck_assert_uint_eq(v, 2);
	ck_assert_int_eq(op(BPF_MAP_LOOKUP_AND_DELETE_ELEM, fd, NULL, &v, 0), 0);
	ck_assert_uint_eq(v, 3);
	ck_assert_int_eq(op(BPF_MAP_LOOKUP_AND_DELETE_ELEM, fd, NULL, &v, 0),
			 -ENOENT);
	ck_assert_int_eq(op(BPF_MAP_DELETE_ELEM, fd, NULL, NULL, 0), -EINVAL);
	ck_assert_int_eq(op(BPF_MAP_GET_NEXT_KEY, fd, NULL, &v, 0), -EINVAL);
	bpfvm_close(fd);
}
END_TEST

START_TEST(info_and_names)
{
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.map_type = BPF_MAP_TYPE_HASH;
	a.key_size = 4;
	a.value_size = 16;
	a.max_entries = 9;
	a.map_flags = NP | BPF_F_RDONLY;
	strcpy(a.map_name, "my_map.1");
	int fd = vbpf(BPF_MAP_CREATE, &a);
	ck_assert_int_ge(fd, 0);
	uint8_t raw[200];
	struct bpf_map_info *i = (struct bpf_map_info *)raw;
	memset(raw, 0xa5, sizeof(raw));
	uint32_t len = sizeof(*i);
	ck_assert_int_eq(info_in(vcall, fd, raw, &len), 0);
	ck_assert_uint_eq(len, sizeof(*i));
	ck_assert_uint_eq(i->type, BPF_MAP_TYPE_HASH);
	ck_assert_uint_ne(i->id, 0);
	ck_assert_uint_eq(i->key_size, 4);
	ck_assert_uint_eq(i->value_size, 16);
	ck_assert_uint_eq(i->max_entries, 9);
	ck_assert_uint_eq(i->map_flags, NP); /* RDONLY is the descriptor's */
	ck_assert_str_eq(i->name, "my_map.1");
	ck_assert_uint_eq(raw[sizeof(*i)], 0xa5); /* nothing past info_len */
	/* a short info_len: that much */
	memset(raw, 0xa5, sizeof(raw));
	len = 8;
	ck_assert_int_eq(info_in(vcall, fd, raw, &len), 0);
	ck_assert_uint_eq(len, 8);
	ck_assert_uint_eq(i->type, BPF_MAP_TYPE_HASH);
	ck_assert_uint_eq(raw[8], 0xa5);
	/* a long one: zero tail fine (6.18's size comes back), else E2BIG */
	memset(raw, 0, sizeof(raw));
	len = sizeof(raw);
	ck_assert_int_eq(info_in(vcall, fd, raw, &len), 0);
	ck_assert_uint_eq(len, 104);
	len = sizeof(raw);
	raw[150] = 1;
	ck_assert_int_eq(info_in(vcall, fd, raw, &len), -E2BIG);
	len = 16;
	ck_assert_int_eq(info_in(vcall, fd, NULL, &len), -EFAULT);
	len = 0;
	ck_assert_int_eq(info_in(vcall, fd, NULL, &len), 0);
	ck_assert_int_eq(info_in(vcall, 100000, raw, &len), -EBADF);
	bpfvm_close(fd);
	/* names: letters, digits, '_' and '.', 15 at most */
	strcpy(a.map_name, "bad-name");
	ck_assert_int_eq(vbpf(BPF_MAP_CREATE, &a), -EINVAL);
	memcpy(a.map_name, "0123456789abcdef", 16);
	ck_assert_int_eq(vbpf(BPF_MAP_CREATE, &a), -EINVAL);
}
END_TEST

START_TEST(ids)
{
	int a = mcreate(BPF_MAP_TYPE_ARRAY, 4, 4, 1, 0);
	int b = mcreate(BPF_MAP_TYPE_ARRAY, 4, 4, 1, 0);
	uint32_t ia = map_id(a), ib = map_id(b);
	ck_assert_uint_gt(ib, ia);
	/* GET_NEXT_ID walks every live map in id order */
	union bpf_attr x;
	memset(&x, 0, sizeof(x));
	int seen = 0;
	uint32_t prev = 0;
	while (vbpf(BPF_MAP_GET_NEXT_ID, &x) == 0) {
		ck_assert_uint_gt(x.next_id, prev);
		prev = x.next_id;
		seen += x.next_id == ia || x.next_id == ib;
		x.start_id = x.next_id;
	}
	ck_assert_int_eq(seen, 2);
	ck_assert_int_eq(vbpf(BPF_MAP_GET_NEXT_ID, &x), -ENOENT);
	x.start_id = 0x7fffffff;
	ck_assert_int_eq(vbpf(BPF_MAP_GET_NEXT_ID, &x), -EINVAL);
	/* a new descriptor for the same map */
	int a2 = fd_by_id(ia, 0);
	ck_assert_int_ge(a2, 0);
	ck_assert(cloexec(a2));
	ck_assert_int_eq(upd(a2, 0, 42, 0), 0);
	uint64_t v = 0;
	ck_assert_int_eq(look(a, 0, &v), 0);
	ck_assert_uint_eq((uint32_t)v, 42);
	ck_assert_int_eq(fd_by_id(ia, 4), -EINVAL);
	ck_assert_int_eq(fd_by_id(ia, BPF_F_RDONLY | BPF_F_WRONLY), -EINVAL);
	ck_assert_int_eq(fd_by_id(0, 0), -ENOENT);
	/* the map stays while one descriptor does */
	bpfvm_close(a);
	ck_assert_int_eq(look(a2, 0, &v), 0);
	bpfvm_close(a2);
	ck_assert_int_eq(fd_by_id(ia, 0), -ENOENT);
	/* a new map gets a new id: ids are not reused */
	int c = mcreate(BPF_MAP_TYPE_ARRAY, 4, 4, 1, 0);
	ck_assert_uint_gt(map_id(c), ib);
	bpfvm_close(b);
	bpfvm_close(c);
}
END_TEST

START_TEST(read_only_and_write_only)
{
	uint64_t v = 0;
	uint32_t k = 0, nk;
	int ro = mcreate(BPF_MAP_TYPE_HASH, 4, 8, 4, BPF_F_RDONLY);
	ck_assert_int_eq(upd(ro, 0, 1, 0), -EPERM);
	ck_assert_int_eq(look(ro, 0, &v), -ENOENT);
	ck_assert_int_eq(op(BPF_MAP_DELETE_ELEM, ro, &k, NULL, 0), -EPERM);
	ck_assert_int_eq(op(BPF_MAP_LOOKUP_AND_DELETE_ELEM, ro, &k, &v, 0), -EPERM);
	ck_assert_int_eq(op(BPF_MAP_GET_NEXT_KEY, ro, NULL, &nk, 0), -ENOENT);
	/* another descriptor of the same map may write */
	int rw = fd_by_id(map_id(ro), 0);
	ck_assert_int_eq(upd(rw, 0, 1, 0), 0);
	ck_assert_int_eq(look(ro, 0, &v), 0);
	int wo = fd_by_id(map_id(ro), BPF_F_WRONLY);
	ck_assert_int_eq(look(wo, 0, &v), -EPERM);
	ck_assert_int_eq(op(BPF_MAP_GET_NEXT_KEY, wo, NULL, &nk, 0), -EPERM);
	ck_assert_int_eq(op(BPF_MAP_LOOKUP_AND_DELETE_ELEM, wo, &k, &v, 0), -EPERM);
	ck_assert_int_eq(upd(wo, 1, 2, 0), 0);
	ck_assert_int_eq(op(BPF_MAP_DELETE_ELEM, wo, &k, NULL, 0), 0);
	/* batches check both rights */
	union bpf_attr b;
	memset(&b, 0, sizeof(b));
	b.batch.map_fd = (uint32_t)wo;
	ck_assert_int_eq(vbpf(BPF_MAP_LOOKUP_BATCH, &b), -EPERM);
	b.batch.map_fd = (uint32_t)ro;
	ck_assert_int_eq(vbpf(BPF_MAP_DELETE_BATCH, &b), -EPERM);
	/* a read-only descriptor cannot freeze */
	union bpf_attr f;
	memset(&f, 0, sizeof(f));
	f.map_fd = (uint32_t)ro;
	ck_assert_int_eq(vbpf(BPF_MAP_FREEZE, &f), -EPERM);
	bpfvm_close(ro);
	bpfvm_close(rw);
	bpfvm_close(wo);
}
END_TEST

START_TEST(freeze)
{
	int fd = mcreate(BPF_MAP_TYPE_ARRAY, 4, 8, 2, 0);
	ck_assert_int_eq(upd(fd, 1, 5, 0), 0);
	union bpf_attr f;
	memset(&f, 0, sizeof(f));
	f.map_fd = (uint32_t)fd;
	ck_assert_int_eq(vbpf(BPF_MAP_FREEZE, &f), 0);
	/* frozen, no descriptor may write, so freezing again is EPERM */
	ck_assert_int_eq(vbpf(BPF_MAP_FREEZE, &f), -EPERM);
	ck_assert_int_eq(upd(fd, 1, 6, 0), -EPERM);
	uint64_t v;
	ck_assert_int_eq(look(fd, 1, &v), 0);
	ck_assert_uint_eq(v, 5);
	/* every descriptor of it, old or new */
	int fd2 = fd_by_id(map_id(fd), 0);
	ck_assert_int_eq(upd(fd2, 1, 6, 0), -EPERM);
	f.map_fd = 100000;
	ck_assert_int_eq(vbpf(BPF_MAP_FREEZE, &f), -EBADF);
	bpfvm_close(fd);
	bpfvm_close(fd2);
}
END_TEST

START_TEST(batches)
{
	int fd = mcreate(BPF_MAP_TYPE_HASH, 4, 8, 16, 0);
	uint32_t keys[16], out_keys[16], token;
	uint64_t vals[16], out_vals[16];
	for (uint32_t i = 0; i < 10; i++) {
		keys[i] = i * 3;
		vals[i] = i * 100;
	}
	union bpf_attr b;
	memset(&b, 0, sizeof(b));
	b.batch.map_fd = (uint32_t)fd;
	b.batch.keys = PTR(keys);
	b.batch.values = PTR(vals);
	b.batch.count = 10;
	ck_assert_int_eq(vbpf(BPF_MAP_UPDATE_BATCH, &b), 0);
	ck_assert_uint_eq(b.batch.count, 10);
	/* all back through lookup batches, bucket by bucket */
	uint64_t sum = 0;
	uint32_t got = 0;
	memset(&b, 0, sizeof(b));
	b.batch.map_fd = (uint32_t)fd;
	int r;
	do {
		b.batch.keys = PTR(out_keys);
		b.batch.values = PTR(out_vals);
		b.batch.out_batch = PTR(&token);
		b.batch.count = 16;
		r = vbpf(BPF_MAP_LOOKUP_BATCH, &b);
		ck_assert(r == 0 || r == -ENOENT);
		for (uint32_t i = 0; i < b.batch.count; i++) {
			ck_assert_uint_eq(out_vals[i], out_keys[i] / 3 * 100);
			sum += out_vals[i];
		}
		got += b.batch.count;
		b.batch.in_batch = PTR(&token);
	} while (r == 0);
	ck_assert_uint_eq(got, 10);
	ck_assert_uint_eq(sum, 4500);
	/* delete batch: a missing key stops it with the count so far */
	keys[2] = 1000;
	memset(&b, 0, sizeof(b));
	b.batch.map_fd = (uint32_t)fd;
	b.batch.keys = PTR(keys);
	b.batch.count = 5;
	ck_assert_int_eq(vbpf(BPF_MAP_DELETE_BATCH, &b), -ENOENT);
	ck_assert_uint_eq(b.batch.count, 2);
	/* queues have no batches */
	int q = mcreate(BPF_MAP_TYPE_QUEUE, 0, 8, 4, 0);
	b.batch.map_fd = (uint32_t)q;
	b.batch.count = 5;
	ck_assert_int_eq(vbpf(BPF_MAP_UPDATE_BATCH, &b), -ENOTSUPP);
	ck_assert_uint_eq(b.batch.count, 5);
	bpfvm_close(q);
	bpfvm_close(fd);
}
END_TEST

START_TEST(mmapable_array)
{
	int fd = mcreate(BPF_MAP_TYPE_ARRAY, 4, 8, 512, BPF_F_MMAPABLE);
	ck_assert_int_ge(fd, 0);
	ck_assert(cloexec(fd));
	uint64_t *vals = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED,
			      fd, 0);
	ck_assert(vals != MAP_FAILED);
	vals[7] = 77;
	uint64_t v;
	ck_assert_int_eq(look(fd, 7, &v), 0);
	ck_assert_uint_eq(v, 77);
	ck_assert_int_eq(upd(fd, 8, 88, 0), 0);
	ck_assert_uint_eq(vals[8], 88);
	munmap(vals, 4096);
	/* two descriptors of it are two files, each a map */
	int fd2 = fd_by_id(map_id(fd), 0);
	ck_assert_int_ne(fd2, fd);
	bpfvm_close(fd);
	ck_assert_int_eq(look(fd2, 8, &v), 0);
	ck_assert_uint_eq(v, 88);
	bpfvm_close(fd2);
}
END_TEST

/* ---- programs ----------------------------------------------------------------- */

/* A program holds its maps: the count survives the map's descriptor. */
START_TEST(program_counts_in_array)
{
	int m = mcreate(BPF_MAP_TYPE_ARRAY, 4, 8, 1, 0);
	uint32_t id = map_id(m);
	int p = load_counter(m);
	ck_assert_int_ge(p, 0);
	union bpf_attr a;
	uint8_t data[64] = { 0 }; /* >= ETH_HLEN, as the kernel wants */
	ck_assert_int_eq(test_run(p, data, 64, NULL, 0, 5, &a), 0);
	ck_assert_uint_eq(a.test.retval, 5);
	uint64_t v;
	ck_assert_int_eq(look(m, 0, &v), 0);
	ck_assert_uint_eq(v, 5);
	ck_assert_int_eq(upd(m, 0, 100, 0), 0);
	ck_assert_int_eq(test_run(p, data, 64, NULL, 0, 1, &a), 0);
	ck_assert_uint_eq(a.test.retval, 101);
	/* the map's descriptor goes; the program keeps the map */
	bpfvm_close(m);
	ck_assert_int_eq(test_run(p, data, 64, NULL, 0, 1, &a), 0);
	ck_assert_uint_eq(a.test.retval, 102);
	m = fd_by_id(id, 0);
	ck_assert_int_ge(m, 0);
	ck_assert_int_eq(look(m, 0, &v), 0);
	ck_assert_uint_eq(v, 102);
	bpfvm_close(m);
	/* the program's info names it */
	struct bpf_prog_info pi;
	uint32_t ids[4] = { 0 }, len = sizeof(pi);
	memset(&pi, 0, sizeof(pi));
	pi.nr_map_ids = 4;
	pi.map_ids = PTR(ids);
	ck_assert_int_eq(info_in(vcall, p, &pi, &len), 0);
	ck_assert_uint_eq(pi.type, BPF_PROG_TYPE_SOCKET_FILTER);
	ck_assert_uint_eq(pi.nr_map_ids, 1);
	ck_assert_uint_eq(ids[0], id);
	/* the last user gone, the map goes */
	bpfvm_close(p);
	ck_assert_int_eq(fd_by_id(id, 0), -ENOENT);
}
END_TEST

/* XDP: the packet through the context's data/data_end, bounds-checked. */
START_TEST(test_run_data)
{
	/* data[0] += 1; data[1] = data_end - data; return XDP_PASS */
	struct bpf_insn prog[] = {
		INSN(BPF_LDX | BPF_MEM | BPF_W, 2, 1, 0, 0), /* data */
		INSN(BPF_LDX | BPF_MEM | BPF_W, 3, 1, 4, 0), /* data_end */
		MOV64_REG(4, 2),
		ADD64_IMM(4, 8),
		INSN(BPF_JMP | BPF_JGT | BPF_X, 4, 3, 6, 0), /* 8 bytes? */
		LDX_B(5, 2, 0),
		ADD64_IMM(5, 1),
		STX_B(2, 5, 0),
		MOV64_REG(6, 3),
		INSN(BPF_ALU64 | BPF_SUB | BPF_X, 6, 2, 0, 0),
		STX_B(2, 6, 1),
		MOV64_IMM(0, XDP_PASS),
		EXIT(),
	};
	char log[4096] = "";
	int p = load_in(vcall, BPF_PROG_TYPE_XDP, prog,
			sizeof(prog) / sizeof(*prog), log, sizeof(log));
	ck_assert_msg(p >= 0, "%d: %s", p, log);
	uint8_t in[64], out[64];
	for (int i = 0; i < 64; i++)
		in[i] = (uint8_t)(i + 41);
	union bpf_attr a;
	memset(out, 0, sizeof(out));
	ck_assert_int_eq(test_run(p, in, 64, out, 64, 1, &a), 0);
	ck_assert_uint_eq(a.test.retval, XDP_PASS);
	ck_assert_uint_eq(a.test.data_size_out, 64);
	ck_assert_uint_eq(out[0], 42);
	ck_assert_uint_eq(out[1], 64);
	ck_assert_uint_eq(out[2], 43);
	ck_assert_uint_eq(out[63], 104);
	ck_assert_uint_eq(in[0], 41); /* data_in is not written */
	/* too small an out buffer: what fits, the full size, ENOSPC */
	memset(out, 0, sizeof(out));
	ck_assert_int_eq(test_run(p, in, 64, out, 3, 1, &a), -ENOSPC);
	ck_assert_uint_eq(a.test.data_size_out, 64);
	ck_assert_uint_eq(a.test.retval, XDP_PASS);
	ck_assert_uint_eq(out[2], 43);
	ck_assert_uint_eq(out[3], 0);
	/* repeat: the kernel runs on one copy, the increments add up */
	ck_assert_int_eq(test_run(p, in, 64, out, 64, 10, &a), 0);
	ck_assert_uint_eq(out[0], 51);
	/* below ETH_HLEN there is no packet to run on */
	ck_assert_int_eq(test_run(p, in, 13, out, 64, 1, &a), -EINVAL);
	/* unknown flags, a context without size */
	test_run(p, in, 64, out, 64, 1, &a);
	a.test.flags = 4;
	ck_assert_int_eq(vbpf(BPF_PROG_TEST_RUN, &a), -EINVAL);
	a.test.flags = 0;
	a.test.ctx_in = PTR(in);
	ck_assert_int_eq(vbpf(BPF_PROG_TEST_RUN, &a), -EINVAL);
	bpfvm_close(p);
	/* a read without the data_end check never loads */
	struct bpf_insn bad[] = {
		INSN(BPF_LDX | BPF_MEM | BPF_W, 2, 1, 0, 0),
		LDX_B(0, 2, 0),
		MOV64_IMM(0, XDP_PASS),
		EXIT(),
	};
	log[0] = 0;
	p = load_in(vcall, BPF_PROG_TYPE_XDP, bad, 4, log, sizeof(log));
	ck_assert_int_eq(p, -EACCES);
	const char *m = strstr(log, "invalid access to packet, off=0 size=1");
	ck_assert_msg(m && (m == log || m[-1] == '\n'), "%s", log);
}
END_TEST

START_TEST(prog_load_errors)
{
	struct bpf_insn ok[] = { MOV64_IMM(0, 1), EXIT() };
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
	a.insns = PTR(ok);
	a.license = PTR("GPL");
	ck_assert_int_eq(vbpf(BPF_PROG_LOAD, &a), -E2BIG); /* no insns */
	a.insn_cnt = 2;
	a.prog_flags = 1u << 12;
	ck_assert_int_eq(vbpf(BPF_PROG_LOAD, &a), -EINVAL);
	a.prog_flags = 0;
	a.license = 0;
	ck_assert_int_eq(vbpf(BPF_PROG_LOAD, &a), -EFAULT);
	a.license = PTR("GPL");
	a.prog_type = 200;
	ck_assert_int_eq(vbpf(BPF_PROG_LOAD, &a), -EINVAL);
	a.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
	strcpy(a.prog_name, "a b");
	ck_assert_int_eq(vbpf(BPF_PROG_LOAD, &a), -EINVAL);
	strcpy(a.prog_name, "good_name");
	int p = vbpf(BPF_PROG_LOAD, &a);
	ck_assert_int_ge(p, 0);
	bpfvm_close(p);
	/* ld_imm64 of a closed descriptor, of a file, with a log */
	struct bpf_insn bad[] = { LD_IMM64(1, BPF_PSEUDO_MAP_FD, 100000, 0),
				  MOV64_IMM(0, 0), EXIT() };
	char log[256] = "";
	ck_assert_int_eq(load_in(vcall, 1, bad, 4, log, sizeof(log)), -EBADF);
	ck_assert_msg(strstr(log, "not pointing to valid bpf_map"), "%s", log);
	bad[0].imm = 0; /* stdin */
	ck_assert_int_eq(load(bad, 4), -EINVAL);
	/* map value of a hash map: no direct access */
	int h = mcreate(BPF_MAP_TYPE_HASH, 4, 8, 1, 0);
	bad[0].src_reg = BPF_PSEUDO_MAP_VALUE;
	bad[0].imm = h;
	ck_assert_int_eq(load(bad, 4), -EINVAL);
	/* an array's value past its size: EINVAL */
	int m = mcreate(BPF_MAP_TYPE_ARRAY, 4, 8, 1, 0);
	bad[0].imm = m;
	bad[1].imm = 8;
	ck_assert_int_eq(load(bad, 4), -EINVAL);
	bad[1].imm = 7;
	p = load(bad, 4);
	ck_assert_int_ge(p, 0);
	bpfvm_close(p);
	bpfvm_close(m);
	bpfvm_close(h);
	/* a bad instruction */
	struct bpf_insn junk[] = { INSN(0xff, 0, 0, 0, 0), EXIT() };
	ck_assert_int_eq(load(junk, 2), -EINVAL);
}
END_TEST

START_TEST(prog_array_and_maps_of_maps)
{
	int pa = mcreate(BPF_MAP_TYPE_PROG_ARRAY, 4, 4, 4, 0);
	int m = mcreate(BPF_MAP_TYPE_ARRAY, 4, 8, 1, 0);
	int p = load_counter(m);
	uint32_t k = 1, v = (uint32_t)p, got = 0;
	ck_assert_int_eq(op(BPF_MAP_UPDATE_ELEM, pa, &k, &v, 0), 0);
	v = (uint32_t)m;
	ck_assert_int_eq(op(BPF_MAP_UPDATE_ELEM, pa, &k, &v, 0), -EINVAL);
	v = 100000;
	ck_assert_int_eq(op(BPF_MAP_UPDATE_ELEM, pa, &k, &v, 0), -EBADF);
	/* a lookup gives the program's id */
	struct bpf_prog_info pi;
	uint32_t len = sizeof(pi);
	memset(&pi, 0, sizeof(pi));
	ck_assert_int_eq(info_in(vcall, p, &pi, &len), 0);
	ck_assert_int_eq(op(BPF_MAP_LOOKUP_ELEM, pa, &k, &got, 0), 0);
	ck_assert_uint_eq(got, pi.id);
	/* the array holds the program after its descriptor goes */
	bpfvm_close(p);
	union bpf_attr x;
	memset(&x, 0, sizeof(x));
	x.prog_id = pi.id;
	p = vbpf(BPF_PROG_GET_FD_BY_ID, &x);
	ck_assert_int_ge(p, 0);
	bpfvm_close(p);
	/* and lets it go with its own last descriptor */
	bpfvm_close(pa);
	ck_assert_int_eq(vbpf(BPF_PROG_GET_FD_BY_ID, &x), -ENOENT);

	/* an array of maps: inner maps like m */
	union bpf_attr c;
	memset(&c, 0, sizeof(c));
	c.map_type = BPF_MAP_TYPE_ARRAY_OF_MAPS;
	c.key_size = 4;
	c.value_size = 4;
	c.max_entries = 2;
	c.inner_map_fd = (uint32_t)m;
	int om = vbpf(BPF_MAP_CREATE, &c);
	ck_assert_int_ge(om, 0);
	k = 0;
	v = (uint32_t)m;
	ck_assert_int_eq(op(BPF_MAP_UPDATE_ELEM, om, &k, &v, 0), 0);
	ck_assert_int_eq(op(BPF_MAP_LOOKUP_ELEM, om, &k, &got, 0), 0);
	ck_assert_uint_eq(got, map_id(m));
	int other = mcreate(BPF_MAP_TYPE_ARRAY, 4, 4, 1, 0);
	v = (uint32_t)other;
	ck_assert_int_eq(op(BPF_MAP_UPDATE_ELEM, om, &k, &v, 0), -EINVAL);
	uint32_t mid = map_id(m);
	bpfvm_close(m);
	int m2 = fd_by_id(mid, 0); /* the slot keeps it */
	ck_assert_int_ge(m2, 0);
	bpfvm_close(m2);
	bpfvm_close(om);
	ck_assert_int_eq(fd_by_id(mid, 0), -ENOENT);
	c.inner_map_fd = 100000;
	ck_assert_int_eq(vbpf(BPF_MAP_CREATE, &c), -EBADF);
	bpfvm_close(other);
}
END_TEST

/* A lookup in a map of maps, then in the inner map it gave: the verifier
 * knows the inner map from its meta (as the kernel accepts it). */
START_TEST(map_in_map_lookup)
{
	static const uint32_t outer_types[] = { BPF_MAP_TYPE_ARRAY_OF_MAPS,
						BPF_MAP_TYPE_HASH_OF_MAPS };
	for (size_t t = 0; t < 2; t++) {
		int in = mcreate(BPF_MAP_TYPE_ARRAY, 4, 8, 4, 0);
		ck_assert_int_ge(in, 0);
		ck_assert_int_eq(upd(in, 2, 1234, 0), 0);
		union bpf_attr c;
		memset(&c, 0, sizeof(c));
		c.map_type = outer_types[t];
		c.key_size = 4;
		c.value_size = 4;
		c.max_entries = 2;
		c.inner_map_fd = (uint32_t)in;
		int om = vbpf(BPF_MAP_CREATE, &c);
		ck_assert_int_ge(om, 0);
		uint32_t k = 1, v = (uint32_t)in;
		ck_assert_int_eq(op(BPF_MAP_UPDATE_ELEM, om, &k, &v, 0), 0);
		/* inner[2] += 1; XDP_TX if it is now 1235, XDP_DROP if
		 * not, XDP_ABORTED if a lookup failed */
		struct bpf_insn prog[] = {
			INSN(BPF_ST | BPF_MEM | BPF_W, 10, 0, -4, 1),
			MOV64_REG(2, 10),
			ADD64_IMM(2, -4),
			LD_IMM64(1, BPF_PSEUDO_MAP_FD, om, 0),
			INSN(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_map_lookup_elem),
			INSN(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 13, 0),
			INSN(BPF_ST | BPF_MEM | BPF_W, 10, 0, -8, 2),
			MOV64_REG(2, 10),
			ADD64_IMM(2, -8),
			MOV64_REG(1, 0),
			INSN(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_map_lookup_elem),
			INSN(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 7, 0),
			MOV64_IMM(1, 1),
			INSN(BPF_STX | BPF_ATOMIC | BPF_DW, 0, 1, 0, BPF_ADD),
			LDX_DW(1, 0, 0),
			MOV64_IMM(0, XDP_DROP),
			INSN(BPF_JMP | BPF_JNE | BPF_K, 1, 0, 1, 1235),
			MOV64_IMM(0, XDP_TX),
			EXIT(),
			MOV64_IMM(0, XDP_ABORTED),
			EXIT(),
		};
		char log[4096] = "";
		int p = load_in(vcall, BPF_PROG_TYPE_XDP, prog,
				sizeof(prog) / sizeof(*prog), log, sizeof(log));
		ck_assert_msg(p >= 0, "type %u: %d: %s", outer_types[t], p, log);
		uint8_t data[64] = { 0 };
		union bpf_attr a;
		ck_assert_int_eq(test_run(p, data, 64, NULL, 0, 1, &a), 0);
		ck_assert_uint_eq(a.test.retval, XDP_TX);
		uint64_t got;
		ck_assert_int_eq(look(in, 2, &got), 0);
		ck_assert_uint_eq(got, 1235);
		/* an empty slot: the first lookup fails */
		k = 1;
		ck_assert_int_eq(op(BPF_MAP_DELETE_ELEM, om, &k, NULL, 0), 0);
		ck_assert_int_eq(test_run(p, data, 64, NULL, 0, 1, &a), 0);
		ck_assert_uint_eq(a.test.retval, XDP_ABORTED);
		bpfvm_close(p);
		bpfvm_close(om);
		bpfvm_close(in);
	}
}
END_TEST

/* The map helpers through PROG_LOAD's maps: a per-key counter in a hash
 * map (lookup, else update), as the map chapter's examples do. */
START_TEST(helpers_count_in_hash)
{
	int m = mcreate(BPF_MAP_TYPE_HASH, 4, 8, 16, 0);
	struct bpf_insn prog[] = {
		INSN(BPF_ST | BPF_MEM | BPF_W, 10, 0, -4, 7),
		MOV64_REG(2, 10),
		ADD64_IMM(2, -4),
		LD_IMM64(1, BPF_PSEUDO_MAP_FD, m, 0),
		INSN(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_map_lookup_elem),
		INSN(BPF_JMP | BPF_JNE | BPF_K, 0, 0, 11, 0),
		INSN(BPF_ST | BPF_MEM | BPF_DW, 10, 0, -16, 1),
		LD_IMM64(1, BPF_PSEUDO_MAP_FD, m, 0),
		MOV64_REG(2, 10),
		ADD64_IMM(2, -4),
		MOV64_REG(3, 10),
		ADD64_IMM(3, -16),
		MOV64_IMM(4, BPF_NOEXIST),
		INSN(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_map_update_elem),
		MOV64_IMM(0, 1),
		EXIT(),
		MOV64_IMM(1, 1),
		INSN(BPF_STX | BPF_ATOMIC | BPF_DW, 0, 1, 0, BPF_ADD),
		LDX_DW(0, 0, 0),
		EXIT(),
	};
	int p = load(prog, sizeof(prog) / sizeof(*prog));
	ck_assert_int_ge(p, 0);
	union bpf_attr a;
	uint8_t data[64] = { 0 }; /* >= ETH_HLEN, as the kernel wants */
	for (uint32_t i = 1; i <= 3; i++) {
		ck_assert_int_eq(test_run(p, data, 64, NULL, 0, 1, &a), 0);
		ck_assert_uint_eq(a.test.retval, i);
	}
	uint64_t v;
	ck_assert_int_eq(look(m, 7, &v), 0);
	ck_assert_uint_eq(v, 3);
	bpfvm_close(p);
	bpfvm_close(m);
}
END_TEST

/* bpf_tail_call through a prog array filled with a descriptor: the slot
 * keeps the target; the array empties with its last descriptor, as the
 * kernel's, even while a program still holds it. */
START_TEST(tail_call_through_prog_array)
{
	int pa = mcreate(BPF_MAP_TYPE_PROG_ARRAY, 4, 4, 2, 0);
	struct bpf_insn callee[] = { MOV64_IMM(0, 42), EXIT() };
	struct bpf_insn caller[] = {
		LD_IMM64(2, BPF_PSEUDO_MAP_FD, pa, 0),
		MOV64_IMM(3, 0),
		INSN(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_tail_call),
		MOV64_IMM(0, 1),
		EXIT(),
	};
	int b = load(callee, 2);
	int c = load(caller, sizeof(caller) / sizeof(*caller));
	ck_assert_int_ge(b, 0);
	ck_assert_int_ge(c, 0);
	union bpf_attr a;
	uint8_t data[64] = { 0 }; /* >= ETH_HLEN, as the kernel wants */
	ck_assert_int_eq(test_run(c, data, 64, NULL, 0, 1, &a), 0);
	ck_assert_uint_eq(a.test.retval, 1); /* empty slot: falls through */
	uint32_t k = 0, v = (uint32_t)b;
	ck_assert_int_eq(op(BPF_MAP_UPDATE_ELEM, pa, &k, &v, 0), 0);
	bpfvm_close(b);
	ck_assert_int_eq(test_run(c, data, 64, NULL, 0, 1, &a), 0);
	ck_assert_uint_eq(a.test.retval, 42);
	bpfvm_close(pa);
	ck_assert_int_eq(test_run(c, data, 64, NULL, 0, 1, &a), 0);
	ck_assert_uint_eq(a.test.retval, 1);
	bpfvm_close(c);
}
END_TEST

/* The bpf(2) manual's example: a socket filter counting packets per IP
 * protocol in an array map; its descriptors are close-on-exec. */
START_TEST(manual_example)
{
	union bpf_attr attr;
	memset(&attr, 0, sizeof(attr));
	attr.map_type = BPF_MAP_TYPE_ARRAY;
	attr.key_size = sizeof(int);
	attr.value_size = sizeof(long long);
	attr.max_entries = 256;
	int map_fd = bpfvm_bpf(BPF_MAP_CREATE, &attr, sizeof(attr));
	ck_assert_int_ge(map_fd, 0);
	ck_assert_int_eq(fcntl(map_fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	struct bpf_insn prog[] = {
		MOV64_REG(6, 1),
		INSN(BPF_LD | BPF_ABS | BPF_B, 0, 0, 0, 14 + 9), /* ip->protocol */
		INSN(BPF_STX | BPF_MEM | BPF_W, 10, 0, -4, 0),
		MOV64_REG(2, 10),
		ADD64_IMM(2, -4),
		LD_IMM64(1, BPF_PSEUDO_MAP_FD, map_fd, 0),
		INSN(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_map_lookup_elem),
		INSN(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 2, 0),
		MOV64_IMM(1, 1),
		INSN(BPF_STX | BPF_ATOMIC | BPF_DW, 0, 1, 0, BPF_ADD),
		MOV64_IMM(0, 0),
		EXIT(),
	};
	char log[4096] = "";
	memset(&attr, 0, sizeof(attr));
	attr.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
	attr.insns = PTR(prog);
	attr.insn_cnt = sizeof(prog) / sizeof(prog[0]);
	attr.license = PTR("GPL");
	attr.log_buf = PTR(log);
	attr.log_size = sizeof(log);
	attr.log_level = 1;
	int prog_fd = bpfvm_bpf(BPF_PROG_LOAD, &attr, sizeof(attr));
	ck_assert_msg(prog_fd >= 0, "%s", log);
	ck_assert_int_eq(fcntl(prog_fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	/* the manual's reading loop: every protocol's count, 0 so far */
	for (int key = 0; key < 256; key++) {
		long long value = -1;
		memset(&attr, 0, sizeof(attr));
		attr.map_fd = (uint32_t)map_fd;
		attr.key = PTR(&key);
		attr.value = PTR(&value);
		ck_assert_int_eq(bpfvm_bpf(BPF_MAP_LOOKUP_ELEM, &attr, sizeof(attr)), 0);
		ck_assert_int_eq(value, 0);
	}
	/* close-on-exec: an exec'd shell does not see the descriptor */
	char cmd[64];
	snprintf(cmd, sizeof(cmd), "test -e /proc/self/fd/%d", map_fd);
	ck_assert_int_ne(system(cmd), 0);
	bpfvm_close(prog_fd);
	bpfvm_close(map_fd);
}
END_TEST

/* ---- threads ------------------------------------------------------------------ */

struct worker {
	int fd;
	uint32_t base;
	int errors;
};

static void *churn(void *arg)
{
	struct worker *w = arg;
	for (uint32_t i = 0; i < 2000; i++) {
		uint32_t k = w->base + i % 50;
		uint64_t v = k;
		if (upd(w->fd, k, v, 0) || look(w->fd, k, &v) || v != k)
			w->errors++;
		/* descriptors come and go on every thread */
		if (i % 20 == 0) {
			int m = mcreate(BPF_MAP_TYPE_ARRAY, 4, 4, 1, 0);
			if (m < 0 || !cloexec(m))
				w->errors++;
			uint32_t z = 0;
			uint32_t x = i;
			if (op(BPF_MAP_UPDATE_ELEM, m, &z, &x, 0))
				w->errors++;
			bpfvm_close(m);
		}
	}
	return NULL;
}

START_TEST(threads)
{
	int fd = mcreate(BPF_MAP_TYPE_HASH, 4, 8, 1024, 0);
	pthread_t t[4];
	struct worker w[4];
	for (int i = 0; i < 4; i++) {
		w[i] = (struct worker){ fd, (uint32_t)i * 100, 0 };
		pthread_create(&t[i], NULL, churn, &w[i]);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		ck_assert_int_eq(w[i].errors, 0);
	}
	uint32_t k, n = 0;
	int r = op(BPF_MAP_GET_NEXT_KEY, fd, NULL, &k, 0);
	while (r == 0) {
		n++;
		r = op(BPF_MAP_GET_NEXT_KEY, fd, &k, &k, 0);
	}
	ck_assert_uint_eq(n, 200);
	bpfvm_close(fd);
}
END_TEST

/* Tail-call targets replaced and released while other threads run into
 * them: the release waits for the runs (the kernel's RCU), so ASan sees no
 * use after free and every run returns what one of the targets returns. */
struct runner {
	int prog;
	int bad;
	int *stop;
};

static void *run_loop(void *arg)
{
	struct runner *r = arg;
	uint8_t ctx[8] = { 0 };
	while (!__atomic_load_n(r->stop, __ATOMIC_ACQUIRE)) {
		struct bpfvm_result res;
		if (bpfvm_bpf_prog_run(r->prog, ctx, sizeof(ctx), &res) ||
		    (res.r0 != 1 && res.r0 != 42 && res.r0 != 43))
			r->bad++;
	}
	return NULL;
}

START_TEST(threads_replace_tail_targets)
{
	int pa = mcreate(BPF_MAP_TYPE_PROG_ARRAY, 4, 4, 1, 0);
	struct bpf_insn caller[] = {
		LD_IMM64(2, BPF_PSEUDO_MAP_FD, pa, 0),
		MOV64_IMM(3, 0),
		INSN(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_tail_call),
		MOV64_IMM(0, 1),
		EXIT(),
	};
	int c = load(caller, sizeof(caller) / sizeof(*caller));
	ck_assert_int_ge(c, 0);
	int stop = 0;
	struct runner r[2] = { { c, 0, &stop }, { c, 0, &stop } };
	pthread_t t[2];
	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, run_loop, &r[i]);
	for (int i = 0; i < 300; i++) {
		/* long enough for runs to be inside it when it goes */
		struct bpf_insn callee[] = {
			MOV64_IMM(0, 42 + i % 2),
			MOV64_IMM(1, 2000),
			ADD64_IMM(1, -1),
			INSN(BPF_JMP | BPF_JNE | BPF_K, 1, 0, -2, 0),
			EXIT(),
		};
		int b = load(callee, 5);
		uint32_t k = 0, v = (uint32_t)b;
		ck_assert_int_eq(op(BPF_MAP_UPDATE_ELEM, pa, &k, &v, 0), 0);
		bpfvm_close(b); /* the slot's reference is the last */
		if (i % 7 == 0)
			ck_assert_int_eq(op(BPF_MAP_DELETE_ELEM, pa, &k, NULL, 0), 0);
	}
	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	for (int i = 0; i < 2; i++) {
		pthread_join(t[i], NULL);
		ck_assert_int_eq(r[i].bad, 0);
	}
	union bpf_attr a;
	ck_assert_int_eq(test_run(pa, NULL, 0, NULL, 0, 1, &a), -EINVAL);
	ck_assert_int_eq(bpfvm_bpf_prog_run(pa, NULL, 0, NULL), -EINVAL);
	bpfvm_close(c);
	bpfvm_close(pa);
}
END_TEST

/* Lookups on a descriptor number another thread keeps closing and
 * reusing for new maps: each sees a map (with its value), EBADF or
 * EINVAL, never another object's state (lock-free lookups). */
struct prober {
	int fd;
	int bad;
	int *stop;
};

static void *probe_loop(void *arg)
{
	struct prober *p = arg;
	while (!__atomic_load_n(p->stop, __ATOMIC_ACQUIRE)) {
		uint64_t v = 0;
		int r = look(p->fd, 0, &v);
		/* a new map before its update: ENOENT */
		if (!(r == -EBADF || r == -EINVAL || r == -ENOENT ||
		      (r == 0 && v == 7)))
			p->bad++;
	}
	return NULL;
}

START_TEST(threads_close_while_looking)
{
#ifdef __SANITIZE_THREAD__
	/* TSan models a descriptor number as memory: using one another
	 * thread closes is a race to it, which is this test's point */
	return;
#endif
	/* hash maps: an update swaps elements, so a lookup racing it reads
	 * the old or the new value (arrays are written in place) */
	int fd = mcreate(BPF_MAP_TYPE_HASH, 4, 8, 1, 0);
	ck_assert_int_eq(upd(fd, 0, 7, 0), 0);
	int stop = 0;
	struct prober p[2] = { { fd, 0, &stop }, { fd, 0, &stop } };
	pthread_t t[2];
	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, probe_loop, &p[i]);
	for (int i = 0; i < 3000; i++) {
		bpfvm_close(fd);
		int m = mcreate(BPF_MAP_TYPE_HASH, 4, 8, i % 2 + 1, 0);
		ck_assert_int_ge(m, 0);
		ck_assert_int_eq(upd(m, 0, 7, 0), 0);
		fd = m;
	}
	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	for (int i = 0; i < 2; i++) {
		pthread_join(t[i], NULL);
		ck_assert_int_eq(p[i].bad, 0);
	}
	bpfvm_close(fd);
}
END_TEST

/* ---- the kernel in lock-step ------------------------------------------------ */

/* One descriptor in each world. */
struct twin {
	int k, v;
};

static struct twin twin_create(const union bpf_attr *a, int *err)
{
	union bpf_attr x = *a, y = *a;
	struct twin t = { kcall(BPF_MAP_CREATE, &x, sizeof(x)),
			  vcall(BPF_MAP_CREATE, &y, sizeof(y)) };
	*err = t.v < 0 ? t.v : 0;
	ck_assert_msg((t.k < 0) == (t.v < 0) && (t.k >= 0 || t.k == t.v),
		      "create type %u ks %u vs %u max %u flags %#x: kernel %d, bpfvm %d",
		      a->map_type, a->key_size, a->value_size, a->max_entries,
		      a->map_flags, t.k, t.v);
	return t;
}

static void twin_close(struct twin t)
{
	if (t.k >= 0)
		close(t.k);
	if (t.v >= 0)
		bpfvm_close(t.v);
}

/* A descriptor of the same map with open_flags, in both worlds. */
static struct twin twin_reopen(struct twin t, uint32_t open_flags)
{
	struct bpf_map_info ik, iv;
	uint32_t lk = sizeof(ik), lv = sizeof(iv);
	memset(&ik, 0, sizeof(ik));
	memset(&iv, 0, sizeof(iv));
	ck_assert_int_eq(info_in(kcall, t.k, &ik, &lk), 0);
	ck_assert_int_eq(info_in(vcall, t.v, &iv, &lv), 0);
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.open_flags = open_flags;
	a.map_id = ik.id;
	struct twin r = { kcall(BPF_MAP_GET_FD_BY_ID, &a, sizeof(a)), 0 };
	a.map_id = iv.id;
	r.v = vcall(BPF_MAP_GET_FD_BY_ID, &a, sizeof(a));
	ck_assert_int_ge(r.k, 0);
	ck_assert_int_ge(r.v, 0);
	return r;
}

static struct twin twin_prog(void)
{
	struct bpf_insn p[] = { MOV64_IMM(0, 0), EXIT() };
	struct twin t = { load_in(kcall, 1, p, 2, NULL, 0),
			  load_in(vcall, 1, p, 2, NULL, 0) };
	ck_assert_int_ge(t.k, 0);
	ck_assert_int_ge(t.v, 0);
	return t;
}

/* The descriptors a step may use: mostly the map's own. */
struct fds {
	struct twin map, ro, wo, prog, dup;
	int file, closed;
};

static struct twin pick_fd(uint64_t *s, const struct fds *f, int *which)
{
	uint64_t r = tu_rnd(s) % 42;
	*which = r < 34 ? 0 : (int)(r - 33);
	switch (*which) {
	case 8: return f->dup;
	case 1: return f->ro;
	case 2: return f->wo;
	case 3: return f->prog;
	case 4: return (struct twin){ f->file, f->file };
	case 5: return (struct twin){ f->closed, f->closed };
	case 6: return (struct twin){ -1, -1 };
	case 7: return (struct twin){ 0, 0 }; /* stdin */
	default: return f->map;
	}
}

struct lmap {
	uint32_t type, ks, vs, max, flags;
};

static const struct lmap lockstep_maps[] = {
	{ BPF_MAP_TYPE_HASH, 4, 8, 8, BPF_F_ZERO_SEED },
	{ BPF_MAP_TYPE_HASH, 4, 12, 16, BPF_F_ZERO_SEED | NP },
	{ BPF_MAP_TYPE_HASH, 6, 4, 5, BPF_F_ZERO_SEED },
	{ BPF_MAP_TYPE_PERCPU_HASH, 4, 4, 6, BPF_F_ZERO_SEED },
	{ BPF_MAP_TYPE_ARRAY, 4, 8, 6, 0 },
	{ BPF_MAP_TYPE_ARRAY, 4, 4, 1, BPF_F_MMAPABLE },
	{ BPF_MAP_TYPE_PERCPU_ARRAY, 4, 12, 6, 0 },
	{ BPF_MAP_TYPE_QUEUE, 0, 4, 4, 0 },
	{ BPF_MAP_TYPE_STACK, 0, 8, 3, 0 },
	{ BPF_MAP_TYPE_LPM_TRIE, 8, 4, 12, NP },
	{ BPF_MAP_TYPE_LPM_TRIE, 5, 4, 6, NP },
	{ BPF_MAP_TYPE_LPM_TRIE, 20, 4, 20, NP },
	{ BPF_MAP_TYPE_RINGBUF, 0, 0, 4096, 0 },
	{ BPF_MAP_TYPE_PROG_ARRAY, 4, 4, 4, 0 },
};

/* Every key in iteration order through one world. */
static int walk(bpf_fn f, int fd, uint32_t ks, uint8_t *out, size_t *n)
{
	uint8_t cur[64], next[64];
	int r = op_in(f, BPF_MAP_GET_NEXT_KEY, fd, NULL, cur, 0);
	*n = 0;
	while (r == 0 && *n < 64) {
		memcpy(out + *n * ks, cur, ks);
		(*n)++;
		r = op_in(f, BPF_MAP_GET_NEXT_KEY, fd, cur, next, 0);
		memcpy(cur, next, ks);
	}
	return r;
}

/* Mess with the attr's size or its unused bytes (ends: the last field's
 * end for the command, from the kernel's CHECK_ATTR). */
static unsigned mess(uint64_t *s, uint8_t *raw, unsigned end)
{
	switch (tu_rnd(s) % 16) {
	case 0: /* a byte past the command's fields */
		raw[end + tu_rnd(s) % (ATTR_SIZE - end)] = (uint8_t)(tu_rnd(s) | 1);
		return ATTR_SIZE;
	case 1: /* a longer attr, zero tail */
		return ATTR_SIZE + 8;
	case 2: /* a longer attr, non-zero tail */
		raw[ATTR_SIZE + tu_rnd(s) % 8] = 1;
		return ATTR_SIZE + 8;
	case 3: /* cut at a field boundary: later pointers are NULL */
		return (unsigned)(tu_rnd(s) % 5) * 8;
	default:
		return ATTR_SIZE;
	}
}

static const int elem_cmds[] = { BPF_MAP_UPDATE_ELEM, BPF_MAP_LOOKUP_ELEM,
	BPF_MAP_DELETE_ELEM, BPF_MAP_GET_NEXT_KEY,
	BPF_MAP_LOOKUP_AND_DELETE_ELEM };
static const unsigned elem_end[] = { 32, 32, 16, 24, 32 };
static const int batch_cmds[] = { BPF_MAP_LOOKUP_BATCH,
	BPF_MAP_LOOKUP_AND_DELETE_BATCH, BPF_MAP_UPDATE_BATCH,
	BPF_MAP_DELETE_BATCH };
static const uint64_t flag_set[] = { BPF_ANY, BPF_NOEXIST, BPF_EXIST,
				     BPF_F_LOCK, 3, 8, 1ull << 40 };

static void lockstep_one(size_t t, uint64_t seed)
{
	const struct lmap *c = &lockstep_maps[t];
	union bpf_attr ca;
	memset(&ca, 0, sizeof(ca));
	ca.map_type = c->type;
	ca.key_size = c->ks;
	ca.value_size = c->vs;
	ca.max_entries = c->max;
	ca.map_flags = c->flags;
	int err;
	struct fds f;
	f.map = twin_create(&ca, &err);
	ck_assert_int_eq(err, 0);
	f.ro = twin_reopen(f.map, BPF_F_RDONLY);
	f.wo = twin_reopen(f.map, BPF_F_WRONLY);
	f.prog = twin_prog();
	f.dup = (struct twin){ dup(f.map.k), dup(f.map.v) };
	f.file = open("/dev/null", O_RDONLY);
	f.closed = 4000;
	close(f.closed);
	/* value buffers: the per-CPU size, found out from the kernel */
	size_t vsz = c->vs;
	if (c->type == BPF_MAP_TYPE_PERCPU_HASH ||
	    c->type == BPF_MAP_TYPE_PERCPU_ARRAY) {
		int ncpu = 0;
		FILE *p = fopen("/sys/devices/system/cpu/possible", "r");
		int lo, hi;
		while (p && fscanf(p, "%d", &lo) == 1) {
			hi = lo;
			if (fscanf(p, "-%d", &hi) != 1)
				hi = lo;
			ncpu += hi - lo + 1;
			if (fgetc(p) != ',')
				break;
		}
		if (p)
			fclose(p);
		vsz = (size_t)((c->vs + 7) & ~7u) * (size_t)ncpu;
	}
	size_t bsz = vsz > 64 ? vsz : 64;
	uint8_t *val = malloc(bsz), *ok = malloc(bsz * 8), *ov = malloc(bsz * 8);
	uint8_t bk[2][8 * 64], tok[2][64];
	int have_tok = 0, frozen = 0;
	for (int step = 0; step < 2500; step++) {
		uint8_t key[64];
		tu_rand_map_key(&seed, c->type, c->ks, c->max, key);
		for (size_t i = 0; i < vsz; i++)
			val[i] = (uint8_t)tu_rnd(&seed);
		if (c->type == BPF_MAP_TYPE_PROG_ARRAY)
			memset(val, 0, 4); /* a descriptor: stdin */
		uint64_t fl = tu_rnd(&seed) % 3 ? 0 : flag_set[tu_rnd(&seed) % 7];
		int which;
		struct twin fd = pick_fd(&seed, &f, &which);
		uint8_t raw[2][ATTR_SIZE + 8];
		memset(raw, 0, sizeof(raw));
		union bpf_attr *ak = (union bpf_attr *)raw[0];
		int cmd, r[2];
		unsigned size;
		uint32_t cnt = 0;
		if (!frozen && tu_rnd(&seed) % 800 == 0) {
			ak->map_fd = (uint32_t)fd.k;
			r[0] = kcall(BPF_MAP_FREEZE, ak, sizeof(*ak));
			ak->map_fd = (uint32_t)fd.v;
			r[1] = vcall(BPF_MAP_FREEZE, ak, sizeof(*ak));
			ck_assert_msg(r[0] == r[1], "map %zu step %d freeze fd %d: kernel %d, bpfvm %d",
				      t, step, which, r[0], r[1]);
			frozen = r[0] == 0;
			continue;
		}
		if (tu_rnd(&seed) % 5 == 0) { /* a batch command */
			int bc = (int)(tu_rnd(&seed) % 4);
			cmd = batch_cmds[bc];
			cnt = (uint32_t)(tu_rnd(&seed) % 9);
			for (uint32_t i = 0; i < cnt; i++)
				tu_rand_map_key(&seed, c->type, c->ks, c->max,
							bk[0] + i * c->ks);
			for (size_t i = 0; i < cnt * vsz; i++)
				ok[i] = (uint8_t)tu_rnd(&seed);
			memcpy(ov, ok, cnt * vsz);
			memcpy(bk[1], bk[0], sizeof(bk[0]));
			memset(tok[1], 0x5a, sizeof(tok[1]));
			int use_tok = have_tok && tu_rnd(&seed) % 2;
			for (int w = 0; w < 2; w++) {
				union bpf_attr *a = (union bpf_attr *)raw[w];
				a->batch.in_batch = use_tok ? PTR(tok[0]) : 0;
				a->batch.out_batch = PTR(tok[1] + w * 32);
				a->batch.keys = PTR(bk[w]);
				a->batch.values = PTR(w ? ov : ok);
				a->batch.count = cnt;
				a->batch.map_fd = (uint32_t)(w ? fd.v : fd.k);
				a->batch.elem_flags = fl == BPF_F_LOCK || fl == 1 ? fl : 0;
				a->batch.flags = tu_rnd(&seed) % 8 ? 0 : 1;
			}
			((union bpf_attr *)raw[1])->batch.flags = ak->batch.flags;
			size = mess(&seed, raw[0], 56);
			memcpy(raw[1] + 56, raw[0] + 56, sizeof(raw[0]) - 56);
		} else {
			int ec = (int)(tu_rnd(&seed) % 5);
			cmd = elem_cmds[ec];
			int nokey = c->ks == 0 ? tu_rnd(&seed) % 10 != 0
					       : tu_rnd(&seed) % 30 == 0;
			int noval = tu_rnd(&seed) % 30 == 0;
			if (cmd == BPF_MAP_GET_NEXT_KEY && c->ks && tu_rnd(&seed) % 4 == 0)
				nokey = 1;
			memset(ok, 0x5a, bsz);
			memset(ov, 0x5a, bsz);
			for (int w = 0; w < 2; w++) {
				union bpf_attr *a = (union bpf_attr *)raw[w];
				a->map_fd = (uint32_t)(w ? fd.v : fd.k);
				a->key = nokey ? 0 : PTR(key);
				if (cmd == BPF_MAP_UPDATE_ELEM)
					a->value = noval ? 0 : PTR(val);
				else if (cmd != BPF_MAP_DELETE_ELEM)
					a->value = noval ? 0 : PTR(w ? ov : ok);
				a->flags = fl;
				if (cmd == BPF_MAP_LOOKUP_ELEM ||
				    cmd == BPF_MAP_LOOKUP_AND_DELETE_ELEM)
					a->flags = fl & 1 ? fl & BPF_F_LOCK : fl;
				if (cmd == BPF_MAP_DELETE_ELEM ||
				    cmd == BPF_MAP_GET_NEXT_KEY)
					a->flags = 0;
			}
			size = mess(&seed, raw[0], elem_end[ec]);
			memcpy(raw[1] + elem_end[ec], raw[0] + elem_end[ec],
			       sizeof(raw[0]) - elem_end[ec]);
		}
		r[0] = kcall(cmd, raw[0], size);
		r[1] = vcall(cmd, raw[1], size);
		ck_assert_msg(r[0] == r[1],
			      "map %zu step %d cmd %d fd %d size %u flags %#llx count %u: kernel %d, bpfvm %d",
			      t, step, cmd, which, size, (unsigned long long)fl,
			      cnt, r[0], r[1]);
		if (cmd >= BPF_MAP_LOOKUP_BATCH) {
			union bpf_attr *a0 = (union bpf_attr *)raw[0],
				       *a1 = (union bpf_attr *)raw[1];
			ck_assert_msg(a0->batch.count == a1->batch.count,
				      "map %zu step %d batch %d: count %u, bpfvm %u",
				      t, step, cmd, a0->batch.count, a1->batch.count);
			ck_assert_msg(!memcmp(ok, ov, cnt * vsz) &&
				      !memcmp(bk[0], bk[1], cnt * c->ks) &&
				      !memcmp(tok[1], tok[1] + 32, 32),
				      "map %zu step %d batch %d: bytes differ", t, step, cmd);
			if (r[0] == 0 && a0->batch.count &&
			    cmd <= BPF_MAP_LOOKUP_AND_DELETE_BATCH) {
				memcpy(tok[0], tok[1], 32);
				have_tok = 1;
			}
		} else if (r[0] == 0 && cmd != BPF_MAP_UPDATE_ELEM &&
			   cmd != BPF_MAP_DELETE_ELEM) {
			size_t n = cmd == BPF_MAP_GET_NEXT_KEY ? c->ks : vsz;
			ck_assert_msg(!memcmp(ok, ov, n),
				      "map %zu step %d cmd %d: bytes differ", t, step, cmd);
		}
		if (step % 50 == 0 && c->ks) {
			static uint8_t kk[64 * 64], kv[64 * 64];
			size_t na, nb;
			int ra = walk(kcall, f.map.k, c->ks, kk, &na);
			int rb = walk(vcall, f.map.v, c->ks, kv, &nb);
			ck_assert_int_eq(ra, rb);
			ck_assert_msg(na == nb && !memcmp(kk, kv, na * c->ks),
				      "map %zu step %d: keys differ", t, step);
		}
	}
	/* info, but the id */
	struct bpf_map_info ik, iv;
	uint32_t lk = sizeof(ik) + 16, lv = lk;
	uint8_t bigk[128], bigv[128];
	memset(bigk, 0, sizeof(bigk));
	memset(bigv, 0, sizeof(bigv));
	ck_assert_int_eq(info_in(kcall, f.map.k, bigk, &lk), 0);
	ck_assert_int_eq(info_in(vcall, f.map.v, bigv, &lv), 0);
	ck_assert_uint_eq(lk, lv);
	memcpy(&ik, bigk, sizeof(ik));
	memcpy(&iv, bigv, sizeof(iv));
	ik.id = iv.id = 0;
	ck_assert_msg(!memcmp(&ik, &iv, sizeof(ik)), "map %zu: info differs", t);
	/* info_len and stray bytes in the caller's buffer */
	for (int off = -1; off < 120; off += off < 80 ? 13 : 1)
		for (uint32_t len = 0; len <= 120; len += len < 80 ? 40 : 4) {
			memset(bigk, 0, sizeof(bigk));
			memset(bigv, 0, sizeof(bigv));
			if (off >= 0 && (uint32_t)off < sizeof(bigk))
				bigk[off] = bigv[off] = 1;
			lk = lv = len;
			int rk = info_in(kcall, f.map.k, bigk, &lk);
			int rv = info_in(vcall, f.map.v, bigv, &lv);
			memset(bigk + 4, 0, 4); /* the ids */
			memset(bigv + 4, 0, 4);
			int d = 0;
			while (d < (int)sizeof(bigk) && bigk[d] == bigv[d])
				d++;
			ck_assert_msg(rk == rv && lk == lv && d == (int)sizeof(bigk),
				      "map %zu info len %u byte %d: kernel %d/%u, bpfvm %d/%u, byte %d: %02x/%02x",
				      t, len, off, rk, lk, rv, lv, d,
				      d < 128 ? bigk[d] : 0, d < 128 ? bigv[d] : 0);
		}
	free(val);
	free(ok);
	free(ov);
	twin_close(f.map);
	twin_close(f.ro);
	twin_close(f.wo);
	twin_close(f.prog);
	twin_close(f.dup);
	close(f.file);
}

START_TEST(lockstep_with_kernel)
{
	if (tu_kernel_maps())
		return; /* main says SKIP once */
	for (size_t t = 0; t < sizeof(lockstep_maps) / sizeof(*lockstep_maps); t++)
		lockstep_one(t, 0x9e3779b97f4a7c15ull + t);
}
END_TEST

/* PROG_LOAD's checks before the verifier, and ld_imm64's map forms, in
 * both worlds (programs the kernel's verifier accepts). */
START_TEST(prog_load_lockstep)
{
	if (tu_kernel_maps())
		return; /* main says SKIP once */
	struct twin arr = { mcreate_in(kcall, BPF_MAP_TYPE_ARRAY, 4, 8, 1, 0),
			    mcreate(BPF_MAP_TYPE_ARRAY, 4, 8, 1, 0) };
	struct twin arr2 = { mcreate_in(kcall, BPF_MAP_TYPE_ARRAY, 4, 8, 2, 0),
			     mcreate(BPF_MAP_TYPE_ARRAY, 4, 8, 2, 0) };
	struct twin hash = { mcreate_in(kcall, BPF_MAP_TYPE_HASH, 4, 8, 1, 0),
			     mcreate(BPF_MAP_TYPE_HASH, 4, 8, 1, 0) };
	struct twin prog = twin_prog();
	int file = open("/dev/null", O_RDONLY);
	enum { M_ARR, M_ARR2, M_HASH, M_PROG, M_FILE, M_CLOSED };
	static const struct {
		int what; /* attr change, see below */
		unsigned src, map;
		int32_t imm2;
	} cases[] = {
		{ 0, 0, 0, 0 }, { 1, 0, 0, 0 }, { 2, 0, 0, 0 }, { 3, 0, 0, 0 },
		{ 4, 0, 0, 0 }, { 5, 0, 0, 0 }, { 6, 0, 0, 0 }, { 7, 0, 0, 0 },
		{ 8, 0, 0, 0 }, { 9, 0, 0, 0 }, { 10, 0, 0, 0 }, { 11, 0, 0, 0 },
		{ 12, 0, 0, 0 },
		{ 0, BPF_PSEUDO_MAP_FD, M_ARR, 0 },
		{ 0, BPF_PSEUDO_MAP_FD, M_ARR, 1 },
		{ 0, BPF_PSEUDO_MAP_FD, M_HASH, 0 },
		{ 0, BPF_PSEUDO_MAP_FD, M_PROG, 0 },
		{ 0, BPF_PSEUDO_MAP_FD, M_FILE, 0 },
		{ 0, BPF_PSEUDO_MAP_FD, M_CLOSED, 0 },
		{ 0, BPF_PSEUDO_MAP_VALUE, M_ARR, 0 },
		{ 0, BPF_PSEUDO_MAP_VALUE, M_ARR, 7 },
		{ 0, BPF_PSEUDO_MAP_VALUE, M_ARR, 8 },
		{ 0, BPF_PSEUDO_MAP_VALUE, M_ARR, -1 },
		{ 0, BPF_PSEUDO_MAP_VALUE, M_ARR2, 0 },
		{ 0, BPF_PSEUDO_MAP_VALUE, M_HASH, 0 },
		{ 0, BPF_PSEUDO_MAP_VALUE, M_CLOSED, 0 },
		{ 0, BPF_PSEUDO_MAP_IDX, M_ARR, 0 },
		{ 0, BPF_PSEUDO_MAP_IDX_VALUE, M_ARR, 0 },
	};
	for (size_t c = 0; c < sizeof(cases) / sizeof(*cases); c++) {
		int r[2];
		for (int w = 0; w < 2; w++) {
			int fds[] = { w ? arr.v : arr.k, w ? arr2.v : arr2.k,
				      w ? hash.v : hash.k, w ? prog.v : prog.k,
				      file, 4000 };
			struct bpf_insn p[] = {
				LD_IMM64(1, cases[c].src, fds[cases[c].map],
					 cases[c].imm2),
				MOV64_IMM(0, 0),
				EXIT(),
			};
			struct bpf_insn *insns = cases[c].src ? p : p + 2;
			uint8_t raw[ATTR_SIZE];
			memset(raw, 0, sizeof(raw));
			union bpf_attr *a = (union bpf_attr *)raw;
			char log[256];
			a->prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
			a->insns = PTR(insns);
			a->insn_cnt = cases[c].src ? 4 : 2;
			a->license = PTR("GPL");
			switch (cases[c].what) {
			case 1: a->insn_cnt = 0; break;
			case 2: a->insn_cnt = (1u << 20) + 1; break;
			case 3: a->prog_flags = 1u << 12; break;
			case 4: a->license = 0; break;
			case 5: a->insns = 0; break;
			case 6: a->prog_type = 200; break;
			case 7: a->prog_type = 0; break;
			case 8: strcpy(a->prog_name, "a-b"); break;
			case 9: strcpy(a->prog_name, "ok_name.1"); break;
			case 10: raw[144] = 1; break;           /* prog_token_fd */
			case 11: a->prog_flags = 1u << 16;       /* BPF_F_TOKEN_FD */
				raw[144] = 200; break;
			case 12: a->log_buf = PTR(log); a->log_size = sizeof(log);
				a->log_level = 1; break;
			}
			r[w] = (w ? vcall : kcall)(BPF_PROG_LOAD, raw, sizeof(raw));
			if (r[w] >= 0)
				w ? bpfvm_close(r[w]) : close(r[w]);
		}
		ck_assert_msg((r[0] >= 0 && r[1] >= 0) || r[0] == r[1],
			      "case %zu: kernel %d, bpfvm %d", c, r[0], r[1]);
	}
	twin_close(arr);
	twin_close(arr2);
	twin_close(hash);
	twin_close(prog);
	close(file);
}
END_TEST

/* A BTF blob: int, struct bpf_spin_lock { int val; }, long, and
 * struct val { int cnt; struct bpf_spin_lock lock; long data; }. */
static size_t spin_lock_btf(uint8_t *blob)
{
	static const char str[] = "\0int\0bpf_spin_lock\0val\0cnt\0lock\0data\0long";
	enum { S_INT = 1, S_BSL = 5, S_VAL = 19, S_CNT = 23, S_LOCK = 27,
	       S_DATA = 32, S_LONG = 37 };
	static const uint32_t types[] = {
		S_INT, 1u << 24, 4, 32,                      /* [1] int */
		S_BSL, 4u << 24 | 1, 4, S_VAL, 1, 0,         /* [2] bpf_spin_lock */
		S_LONG, 1u << 24, 8, 64,                     /* [3] long */
		S_VAL, 4u << 24 | 3, 16,                     /* [4] struct val */
		S_CNT, 1, 0, S_LOCK, 2, 32, S_DATA, 3, 64,
	};
	uint32_t hdr[6] = { 0x0001eb9f, 24, 0, sizeof(types), sizeof(types),
			    sizeof(str) };
	memcpy(blob, hdr, 24);
	memcpy(blob + 24, types, sizeof(types));
	memcpy(blob + 24 + sizeof(types), str, sizeof(str));
	return 24 + sizeof(types) + sizeof(str);
}

static int btf_load_in(bpf_fn f, const uint8_t *blob, size_t n)
{
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.btf = PTR(blob);
	a.btf_size = (uint32_t)n;
	return f(BPF_BTF_LOAD, &a, sizeof(a));
}

/* bpf_spin_lock in map values, found through BTF, in both worlds:
 * which maps may have one, BPF_F_LOCK copies, freeze, info. */
START_TEST(btf_spin_lock_lockstep)
{
	if (tu_kernel_maps())
		return; /* main says SKIP once */
	uint8_t blob[512];
	size_t n = spin_lock_btf(blob);
	struct twin btf = { btf_load_in(kcall, blob, n), btf_load_in(vcall, blob, n) };
	ck_assert_int_ge(btf.k, 0);
	ck_assert_int_ge(btf.v, 0);
	/* a broken blob */
	blob[0] = 0;
	ck_assert_int_eq(btf_load_in(vcall, blob, n), -EINVAL);
	ck_assert_int_eq(btf_load_in(kcall, blob, n), -EINVAL);
	static const struct { uint32_t type, ks, vs, kid, vid, flags; } cases[] = {
		{ BPF_MAP_TYPE_HASH, 4, 16, 1, 4, 0 },
		{ BPF_MAP_TYPE_ARRAY, 4, 16, 1, 4, 0 },
		{ BPF_MAP_TYPE_HASH, 4, 12, 1, 4, 0 },
		{ BPF_MAP_TYPE_HASH, 4, 16, 0, 4, 0 },
		{ BPF_MAP_TYPE_ARRAY, 4, 16, 0, 4, 0 },
		{ BPF_MAP_TYPE_QUEUE, 0, 16, 0, 4, 0 },
		{ BPF_MAP_TYPE_HASH, 8, 16, 1, 4, 0 },
		{ BPF_MAP_TYPE_HASH, 4, 16, 1, 9, 0 },
		{ BPF_MAP_TYPE_HASH, 4, 16, 9, 4, 0 },
		{ BPF_MAP_TYPE_HASH, 4, 4, 1, 1, 0 },
		{ BPF_MAP_TYPE_HASH, 4, 4, 1, 2, 0 },
		{ BPF_MAP_TYPE_HASH, 4, 16, 1, 4, BPF_F_RDONLY_PROG },
		{ BPF_MAP_TYPE_PERCPU_HASH, 4, 16, 1, 4, 0 },
		{ BPF_MAP_TYPE_LRU_HASH, 4, 16, 1, 4, 0 },
		{ BPF_MAP_TYPE_ARRAY, 4, 16, 3, 4, 0 },
		{ BPF_MAP_TYPE_ARRAY, 4, 8, 1, 3, 0 },
		{ BPF_MAP_TYPE_HASH, 4, 16, 1, 4, BPF_F_NO_PREALLOC },
	};
	for (size_t c = 0; c < sizeof(cases) / sizeof(*cases); c++) {
		union bpf_attr a;
		memset(&a, 0, sizeof(a));
		a.map_type = cases[c].type;
		a.key_size = cases[c].ks;
		a.value_size = cases[c].vs;
		a.max_entries = 4;
		a.map_flags = cases[c].flags;
		a.btf_key_type_id = cases[c].kid;
		a.btf_value_type_id = cases[c].vid;
		a.btf_fd = (uint32_t)btf.k;
		int rk = kcall(BPF_MAP_CREATE, &a, sizeof(a));
		a.btf_fd = (uint32_t)btf.v;
		int rv = vcall(BPF_MAP_CREATE, &a, sizeof(a));
		ck_assert_msg((rk >= 0 && rv >= 0) || rk == rv,
			      "case %zu: kernel %d, bpfvm %d", c, rk, rv);
		if (rk < 0)
			continue;
		struct twin m = { rk, rv };
		uint64_t seed = c + 1;
		for (int step = 0; step < 200; step++) {
			uint32_t k = (uint32_t)(tu_rnd(&seed) % 5);
			uint8_t v[2][16], in[16];
			for (int i = 0; i < 16; i++)
				in[i] = (uint8_t)tu_rnd(&seed);
			uint64_t fl = tu_rnd(&seed) % 2 ? BPF_F_LOCK : 0;
			int cmd = tu_rnd(&seed) % 2 ? BPF_MAP_UPDATE_ELEM : BPF_MAP_LOOKUP_ELEM;
			if (cmd == BPF_MAP_UPDATE_ELEM && tu_rnd(&seed) % 2)
				fl |= BPF_EXIST;
			memset(v, 0x5a, sizeof(v));
			int r[2];
			for (int w = 0; w < 2; w++)
				r[w] = op_in(w ? vcall : kcall, cmd, w ? m.v : m.k, &k,
					     cmd == BPF_MAP_UPDATE_ELEM ? in : v[w], fl);
			ck_assert_msg(r[0] == r[1], "case %zu step %d cmd %d: kernel %d, bpfvm %d",
				      c, step, cmd, r[0], r[1]);
			ck_assert_msg(!memcmp(v[0], v[1], cases[c].vs),
				      "case %zu step %d: bytes differ", c, step);
		}
		union bpf_attr f;
		memset(&f, 0, sizeof(f));
		f.map_fd = (uint32_t)m.k;
		int fk = kcall(BPF_MAP_FREEZE, &f, sizeof(f));
		f.map_fd = (uint32_t)m.v;
		ck_assert_int_eq(vcall(BPF_MAP_FREEZE, &f, sizeof(f)), fk);
		struct bpf_map_info ik, iv;
		uint32_t lk = sizeof(ik), lv = sizeof(iv);
		memset(&ik, 0, sizeof(ik));
		memset(&iv, 0, sizeof(iv));
		ck_assert_int_eq(info_in(kcall, m.k, &ik, &lk), 0);
		ck_assert_int_eq(info_in(vcall, m.v, &iv, &lv), 0);
		ck_assert_uint_eq(ik.btf_key_type_id, iv.btf_key_type_id);
		ck_assert_uint_eq(ik.btf_value_type_id, iv.btf_value_type_id);
		ck_assert_uint_ne(iv.btf_id, 0);
		twin_close(m);
	}
	/* a map keeps its BTF: the BTF descriptor may go first */
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.map_type = BPF_MAP_TYPE_HASH;
	a.key_size = 4;
	a.value_size = 16;
	a.max_entries = 4;
	a.btf_key_type_id = 1;
	a.btf_value_type_id = 4;
	a.btf_fd = (uint32_t)btf.v;
	int m = vbpf(BPF_MAP_CREATE, &a);
	/* the map's info names the BTF; its id gives a descriptor back */
	struct bpf_map_info mi;
	uint32_t ml = sizeof(mi);
	memset(&mi, 0, sizeof(mi));
	ck_assert_int_eq(info_in(vcall, m, &mi, &ml), 0);
	union bpf_attr x;
	memset(&x, 0, sizeof(x));
	x.start_id = mi.btf_id - 1;
	ck_assert_int_eq(vbpf(BPF_BTF_GET_NEXT_ID, &x), 0);
	ck_assert_uint_eq(x.next_id, mi.btf_id);
	memset(&x, 0, sizeof(x));
	x.btf_id = mi.btf_id;
	int b2 = vbpf(BPF_BTF_GET_FD_BY_ID, &x);
	ck_assert_int_ge(b2, 0);
	uint8_t raw[512];
	struct bpf_btf_info bi;
	uint32_t bl = sizeof(bi);
	memset(&bi, 0, sizeof(bi));
	bi.btf = PTR(raw);
	bi.btf_size = sizeof(raw);
	ck_assert_int_eq(info_in(vcall, b2, &bi, &bl), 0);
	ck_assert_uint_eq(bi.btf_size, n);
	ck_assert_uint_eq(bi.id, mi.btf_id);
	ck_assert_int_eq(memcmp(raw + 4, blob + 4, n - 4), 0); /* blob[0] broken above */
	bpfvm_close(b2);
	twin_close(btf);
	uint8_t v[16] = { 1 };
	uint32_t k = 0;
	ck_assert_int_eq(op(BPF_MAP_UPDATE_ELEM, m, &k, v, BPF_F_LOCK), 0);
	a.btf_fd = (uint32_t)btf.v; /* closed now */
	ck_assert_int_eq(vbpf(BPF_MAP_CREATE, &a), -EBADF);
	a.btf_fd = (uint32_t)m; /* a map, not BTF */
	ck_assert_int_eq(vbpf(BPF_MAP_CREATE, &a), -EINVAL);
	bpfvm_close(m);
}
END_TEST

/* MAP_CREATE with random parameters, in both worlds: the errno of every
 * bad one, and for good ones the same info. */
START_TEST(create_lockstep)
{
	if (tu_kernel_maps())
		return; /* main says SKIP once */
	static const uint32_t types[] = { 0, BPF_MAP_TYPE_HASH,
		BPF_MAP_TYPE_ARRAY, BPF_MAP_TYPE_PROG_ARRAY,
		BPF_MAP_TYPE_PERCPU_HASH, BPF_MAP_TYPE_PERCPU_ARRAY,
		BPF_MAP_TYPE_LRU_HASH, BPF_MAP_TYPE_LPM_TRIE,
		BPF_MAP_TYPE_QUEUE, BPF_MAP_TYPE_STACK, BPF_MAP_TYPE_RINGBUF,
		BPF_MAP_TYPE_ARRAY_OF_MAPS, BPF_MAP_TYPE_HASH_OF_MAPS, 200 };
	static const uint32_t sizes[] = { 0, 1, 4, 8, 13, 64, 4096 };
	static const uint32_t maxes[] = { 0, 1, 7, 64, 4096, 65536 };
	int inner_k = mcreate_in(kcall, BPF_MAP_TYPE_ARRAY, 4, 4, 1, 0);
	int inner_v = mcreate(BPF_MAP_TYPE_ARRAY, 4, 4, 1, 0);
	int file = open("/dev/null", O_RDONLY);
	uint64_t s = 0x1234567887654321ull;
	for (int i = 0; i < 3000; i++) {
		uint8_t raw[2][ATTR_SIZE + 8];
		memset(raw, 0, sizeof(raw));
		union bpf_attr *a = (union bpf_attr *)raw[0];
		a->map_type = types[tu_rnd(&s) % 14];
		a->key_size = sizes[tu_rnd(&s) % 7];
		a->value_size = sizes[tu_rnd(&s) % 7];
		a->max_entries = maxes[tu_rnd(&s) % 6];
		if (a->map_type == BPF_MAP_TYPE_RINGBUF)
			a->max_entries = tu_rnd(&s) % 2 ? 4096 : 8192 * 3;
		for (int b = 0; b < 3; b++)
			if (tu_rnd(&s) % 2)
				a->map_flags |= 1u << (tu_rnd(&s) % 20);
		if (tu_rnd(&s) % 4 == 0)
			a->map_flags = a->map_type == BPF_MAP_TYPE_LPM_TRIE ? NP : 0;
		int inner = 0, kase = (int)(tu_rnd(&s) % 16);
		switch (kase) {
		case 0: a->map_name[tu_rnd(&s) % 16] = (char)(tu_rnd(&s) % 128); break;
		case 1: memcpy(a->map_name, "name_ok.1", 9); break;
		case 2: a->inner_map_fd = 1; inner = 1; break;
		case 3: a->btf_value_type_id = 1; a->btf_fd = (uint32_t)file; break;
		case 4: a->btf_key_type_id = 1; break;
		case 5: a->btf_vmlinux_value_type_id = 3; break;
		case 6: a->map_ifindex = 1; break;
		case 7: a->map_extra = 1; break;
		case 8: raw[0][76] = (uint8_t)file; break;      /* map_token_fd */
		case 9: raw[0][76] = (uint8_t)file;
			a->map_flags |= 1u << 16; break;         /* BPF_F_TOKEN_FD */
		case 10: a->map_flags |= 1u << 16;
			raw[0][76] = 200; break;
		case 11: raw[0][80] = 32; break;                /* hash size alone */
		case 12: raw[0][72] = 1; break;                 /* btf obj fd */
		case 13: a->numa_node = (uint32_t)(tu_rnd(&s) % 3);
			a->map_flags |= BPF_F_NUMA_NODE; break;
		}
		unsigned size = mess(&s, raw[0], 96);
		memcpy(raw[1], raw[0], sizeof(raw[0]));
		if (inner) {
			a->inner_map_fd = (uint32_t)inner_k;
			((union bpf_attr *)raw[1])->inner_map_fd = (uint32_t)inner_v;
		}
		int rk = kcall(BPF_MAP_CREATE, raw[0], size);
		int rv = vcall(BPF_MAP_CREATE, raw[1], size);
		ck_assert_msg((rk < 0) == (rv < 0) && (rk >= 0 || rk == rv),
			      "create %d case %d type %u ks %u vs %u max %u flags %#x size %u: kernel %d, bpfvm %d",
			      i, kase, a->map_type, a->key_size, a->value_size,
			      a->max_entries, a->map_flags, size, rk, rv);
		if (rk >= 0) {
			struct bpf_map_info ik, iv;
			uint32_t lk = sizeof(ik), lv = sizeof(iv);
			memset(&ik, 0, sizeof(ik));
			memset(&iv, 0, sizeof(iv));
			ck_assert_int_eq(info_in(kcall, rk, &ik, &lk), 0);
			ck_assert_int_eq(info_in(vcall, rv, &iv, &lv), 0);
			ck_assert_uint_eq(ik.max_entries, iv.max_entries);
			ck_assert_uint_eq(ik.map_flags, iv.map_flags);
			ck_assert_str_eq(ik.name, iv.name);
			close(rk);
			bpfvm_close(rv);
		}
	}
	close(inner_k);
	bpfvm_close(inner_v);
	close(file);
}
END_TEST

/* Every command's CHECK_ATTR boundary and the size rule, against the
 * kernel: one non-zero byte at each offset past the command's pointers. */
START_TEST(attr_bytes_lockstep)
{
	if (tu_kernel_maps())
		return; /* main says SKIP once */
	static const struct { int cmd; unsigned from; } cmds[] = {
		{ BPF_MAP_LOOKUP_ELEM, 24 }, { BPF_MAP_UPDATE_ELEM, 24 },
		{ BPF_MAP_DELETE_ELEM, 16 }, { BPF_MAP_GET_NEXT_KEY, 24 },
		{ BPF_MAP_LOOKUP_AND_DELETE_ELEM, 24 }, { BPF_MAP_FREEZE, 4 },
		{ BPF_MAP_LOOKUP_BATCH, 32 }, { BPF_MAP_UPDATE_BATCH, 32 },
		{ BPF_MAP_DELETE_BATCH, 32 }, { BPF_MAP_LOOKUP_AND_DELETE_BATCH, 32 },
		{ BPF_OBJ_GET_INFO_BY_FD, 16 }, { BPF_MAP_GET_NEXT_ID, 0 },
		{ BPF_PROG_GET_NEXT_ID, 0 }, { BPF_MAP_GET_FD_BY_ID, 4 },
		{ BPF_PROG_GET_FD_BY_ID, 4 }, { BPF_PROG_TEST_RUN, 64 },
		{ BPF_MAP_CREATE, 96 }, { BPF_PROG_LOAD, 168 },
		{ BPF_BTF_LOAD, 16 }, { BPF_BTF_GET_NEXT_ID, 0 },
		{ BPF_BTF_GET_FD_BY_ID, 4 },
	};
	struct twin m = { mcreate_in(kcall, BPF_MAP_TYPE_HASH, 4, 4, 4, 0),
			  mcreate(BPF_MAP_TYPE_HASH, 4, 4, 4, 0) };
	struct twin p = twin_prog();
	for (size_t c = 0; c < sizeof(cmds) / sizeof(*cmds); c++)
		for (unsigned off = cmds[c].from; off < ATTR_SIZE + 8; off++) {
			uint8_t raw[2][ATTR_SIZE + 8];
			int r[2];
			for (int w = 0; w < 2; w++) {
				memset(raw[w], 0, sizeof(raw[w]));
				int fd = cmds[c].cmd == BPF_PROG_TEST_RUN
					? (w ? p.v : p.k) : (w ? m.v : m.k);
				int at = cmds[c].cmd >= BPF_MAP_LOOKUP_BATCH &&
					 cmds[c].cmd <= BPF_MAP_DELETE_BATCH ? 36 : 0;
				if (cmds[c].cmd != BPF_MAP_GET_NEXT_ID &&
				    cmds[c].cmd != BPF_BTF_LOAD &&
				    cmds[c].cmd != BPF_BTF_GET_NEXT_ID &&
				    cmds[c].cmd != BPF_BTF_GET_FD_BY_ID &&
				    cmds[c].cmd != BPF_PROG_GET_NEXT_ID &&
				    cmds[c].cmd != BPF_MAP_GET_FD_BY_ID &&
				    cmds[c].cmd != BPF_PROG_GET_FD_BY_ID)
					memcpy(raw[w] + at, &fd, 4);
				raw[w][off] = 0x40;
				r[w] = (w ? vcall : kcall)(cmds[c].cmd, raw[w],
							   sizeof(raw[w]));
				if (r[w] >= 0 && (cmds[c].cmd == BPF_MAP_GET_FD_BY_ID ||
						  cmds[c].cmd == BPF_BTF_GET_FD_BY_ID ||
						  cmds[c].cmd == BPF_PROG_GET_FD_BY_ID))
					w ? bpfvm_close(r[w]) : close(r[w]);
			}
			/* ids differ between the worlds: found or not is
			 * the same answer to the attr */
			int ids = cmds[c].cmd == BPF_MAP_GET_NEXT_ID ||
				  cmds[c].cmd == BPF_BTF_GET_NEXT_ID ||
				  cmds[c].cmd == BPF_BTF_GET_FD_BY_ID ||
				  cmds[c].cmd == BPF_PROG_GET_NEXT_ID ||
				  cmds[c].cmd == BPF_MAP_GET_FD_BY_ID ||
				  cmds[c].cmd == BPF_PROG_GET_FD_BY_ID;
			for (int w = 0; w < 2 && ids; w++)
				if (r[w] >= 0 || r[w] == -ENOENT)
					r[w] = 0;
			ck_assert_msg(r[0] == r[1] || (r[0] >= 0 && r[1] >= 0),
				      "cmd %d byte %u: kernel %d, bpfvm %d",
				      cmds[c].cmd, off, r[0], r[1]);
		}
	twin_close(m);
	twin_close(p);
}
END_TEST

static Suite *bpf_suite(void)
{
	Suite *s = suite_create("bpf");
	TCase *tc = tcase_create("bpf");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, attr_size_rule);
	tcase_add_test(tc, check_attr);
	tcase_add_test(tc, descriptors_are_real_and_cloexec);
	tcase_add_test(tc, plain_close_is_noticed);
	tcase_add_test(tc, plain_close_unchecked);
	tcase_add_test(tc, dup_descriptors);
	tcase_add_test(tc, wrong_kind_of_descriptor);
	tcase_add_test(tc, hash_commands);
	tcase_add_test(tc, array_and_queue_commands);
	tcase_add_test(tc, info_and_names);
	tcase_add_test(tc, ids);
	tcase_add_test(tc, read_only_and_write_only);
	tcase_add_test(tc, freeze);
	tcase_add_test(tc, batches);
	tcase_add_test(tc, mmapable_array);
	tcase_add_test(tc, program_counts_in_array);
	tcase_add_test(tc, test_run_data);
	tcase_add_test(tc, map_in_map_lookup);
	tcase_add_test(tc, prog_load_errors);
	tcase_add_test(tc, prog_array_and_maps_of_maps);
	tcase_add_test(tc, helpers_count_in_hash);
	tcase_add_test(tc, tail_call_through_prog_array);
	tcase_add_test(tc, manual_example);
	tcase_add_test(tc, threads);
	tcase_add_test(tc, threads_replace_tail_targets);
	tcase_add_test(tc, threads_close_while_looking);
	tcase_add_test(tc, attr_bytes_lockstep);
	tcase_add_test(tc, create_lockstep);
	tcase_add_test(tc, prog_load_lockstep);
	tcase_add_test(tc, btf_spin_lock_lockstep);
	tcase_add_test(tc, lockstep_with_kernel);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	if (tu_run_suite(bpf_suite()))
		return EXIT_FAILURE;
	/* without bpf(2) the lock-step half did not run: say so */
	int err = tu_kernel_maps();
	if (err) {
		printf("SKIP: bpf(2) unavailable (%s): lock-step with the kernel not run\n",
		       strerror(-err));
		return 77;
	}
	return EXIT_SUCCESS;
}
