/* Program objects for bpf(2): PROG_LOAD (the kernel's bpf_prog_load: the
 * attr checks, the verifier with its log, the fixups after verification,
 * then the program on the VM's unchecked path), PROG_TEST_RUN through the
 * program type's test run (vm/test_run.h), and the program part of
 * OBJ_GET_INFO_BY_FD.  A program holds a reference on every map its
 * ld_imm64s name, as the kernel's used_maps.
 * SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "bpfvm_bpf.h"
#include "bpf_syscall.h"
#include "fdtable.h"
#include "helpers.h"
#include "map.h"
#include "prog_types.h"
#include "test_run.h"
#include "verifier.h"

#define MAX_USED_MAPS 64        /* the kernel's */
#define MAX_VAR_OFF (1u << 29)  /* BPF_MAX_VAR_OFF */
#define PROG_INFO_END 228       /* struct bpf_prog_info, 6.18: last field */
#define PROG_INFO_SIZE 232      /* and sizeof */

/* prog_flags Linux 6.18 knows (6.1's, XDP_DEV_BOUND_ONLY,
 * TEST_REG_INVARIANTS, TOKEN_FD). */
#define PROG_FLAGS (BPF_F_STRICT_ALIGNMENT | BPF_F_ANY_ALIGNMENT |	\
		    BPF_F_TEST_RND_HI32 | BPF_F_TEST_STATE_FREQ |	\
		    BPF_F_SLEEPABLE | BPF_F_XDP_HAS_FRAGS | (1u << 6) |	\
		    (1u << 7) | BPFVM_F_TOKEN_FD)

/* attr offsets of prog_load fields 6.1's header lacks */
#define OFF_FD_ARRAY 120
#define OFF_LOG_TRUE_SIZE 140
#define OFF_BATCH_SIZE 72 /* test.batch_size */
#define OFF_PROG_TOKEN_FD 144
#define OFF_FD_ARRAY_CNT 148

struct prog {
	struct bpfvm *vm;
	struct bpfvm_obj *maps[MAX_USED_MAPS];
	uint32_t nmaps;
	uint32_t type;
	uint32_t attach_type;
	uint32_t insn_cnt;
	char name[BPF_OBJ_NAME_LEN];
	/* while loading: the _IDX forms' descriptors, and why the verifier's
	 * map lookup failed (EBADF: no descriptor; EINVAL: not a map) */
	const int32_t *fd_array;
	int map_err;
};

static void prog_release(struct bpfvm_obj *o)
{
	struct prog *p = o->priv;
	if (p->vm)
		bpfvm_map_helpers_detach(p->vm);
	bpfvm_destroy(p->vm);
	for (uint32_t i = 0; i < p->nmaps; i++)
		bpfvm_obj_put(p->maps[i]);
	free(p);
}

/* The map a ld_imm64 names, kept in the program's used maps. */
static int use_map(struct prog *p, int fd, struct bpfvm_map **out, char *msg,
		   size_t len)
{
	int err;
	struct bpfvm_obj *o = bpfvm_fd_get(fd, BPFVM_OBJ_MAP, NULL, &err);
	if (!o) {
		snprintf(msg, len, "fd %d is not pointing to valid bpf_map", fd);
		return err;
	}
	*out = o->ptr;
	for (uint32_t i = 0; i < p->nmaps; i++)
		if (p->maps[i] == o) {
			bpfvm_obj_put(o); /* one reference per map */
			return 0;
		}
	if (p->nmaps == MAX_USED_MAPS) {
		bpfvm_obj_put(o);
		snprintf(msg, len, "too many maps used by program");
		return -E2BIG;
	}
	p->maps[p->nmaps++] = o;
	return 0;
}

/* ld_imm64 pseudo forms: map fd (1), map value (2), and their fd_array
 * index forms (5, 6). */
static int ldimm64(void *cookie, unsigned src, int32_t imm, int32_t imm2,
		   uint64_t *value, char *msg, size_t len)
{
	struct prog *p = cookie;
	int fd = imm;
	if (src == BPF_PSEUDO_MAP_IDX || src == BPF_PSEUDO_MAP_IDX_VALUE) {
		if (!p->fd_array) {
			snprintf(msg, len, "fd_idx without fd_array is invalid");
			return -EPROTO;
		}
		fd = p->fd_array[(uint32_t)imm];
	} else if (src != BPF_PSEUDO_MAP_FD && src != BPF_PSEUDO_MAP_VALUE) {
		snprintf(msg, len, "unsupported ld_imm64 src %u", src);
		return -EINVAL;
	}
	int is_value = src == BPF_PSEUDO_MAP_VALUE ||
		       src == BPF_PSEUDO_MAP_IDX_VALUE;
	if (!is_value && imm2) {
		snprintf(msg, len, "unrecognized bpf_ld_imm64 insn");
		return -EINVAL;
	}
	struct bpfvm_map *map = NULL;
	int err = use_map(p, fd, &map, msg, len);
	if (err)
		return err;
	if (!is_value) {
		*value = (uint64_t)(uintptr_t)map;
		return 0;
	}
	uint32_t off = (uint32_t)imm2;
	void *addr;
	if (off >= MAX_VAR_OFF) {
		snprintf(msg, len, "direct value offset of %u is not allowed", off);
		return -EINVAL;
	}
	err = bpfvm_map_direct_value(map, off, &addr);
	if (err) {
		snprintf(msg, len, "invalid access to map value pointer, "
			 "value_size=%u off=%u", map->value_size, off);
		return err;
	}
	/* the map gives the value's start, as map_direct_value_addr */
	*value = (uint64_t)(uintptr_t)addr + off;
	return 0;
}

/* Map helpers (maps/helpers.h): bpf_map_lookup_elem and friends, tail
 * calls and checked mode's view of values, for the maps the program uses
 * (a prog array's slots are the targets' struct bpfvm *, as slot_get in
 * bpf_syscall.c gives them).  The maps carry the registry's epoch domain
 * (map_create), so every run of the program, however started, enters it:
 * what the program can reach outlives the run (the kernel's RCU). */
static int attach_map_helpers(struct prog *p)
{
	struct bpfvm_map *maps[MAX_USED_MAPS];
	for (uint32_t i = 0; i < p->nmaps; i++)
		maps[i] = p->maps[i]->ptr;
	return bpfvm_map_helpers_attach(p->vm, maps, p->nmaps);
}

/* The verifier's ld_imm64 maps are the program's used maps. */
static struct bpfvm_map *map_by_fd(void *cookie, int fd)
{
	struct prog *p = cookie;
	struct bpfvm_map *m;
	char msg[8];
	p->map_err = use_map(p, fd, &m, msg, sizeof(msg));
	return p->map_err ? NULL : m;
}

/* The kernel's fixups after verification that change what a program does.
 * Context accesses are rewritten onto bpfvm's runtime context (the
 * kernel's convert_ctx_accesses).  Two others are implicit: the
 * interpreter zero-extends every 32-bit result (the kernel's zext
 * patching for JITs that need it) and gives x/0 = 0, x%0 = x natively
 * (the kernel's division-by-zero guards). */
static void fixup(const struct prog *p, struct bpfvm_insn *insns,
		  const uint8_t *aux, uint32_t n)
{
	struct bpfvm_prog_info pi = { p->type, p->attach_type };
	for (uint32_t i = 0; i < n; i++)
		if (aux[i] & BPFVM_AUX_CTX)
			bpfvm_ctx_rewrite_insn(&pi, &insns[i]);
}

static struct bpfvm_map *inner_map(void *cookie, struct bpfvm_map *outer)
{
	(void)cookie;
	return bpfvm_map_inner_meta(outer);
}

/* bpf_check, then the verified program into the VM: its maps resolved,
 * the fast (unchecked) path, the type's run hooks. */
static int load(union bpfvm_attr *attr, union bpf_attr *uattr,
		unsigned int size, struct prog *p)
{
	union bpf_attr *a = &attr->a;
	uint32_t n = a->insn_cnt;
	struct bpfvm_insn *insns = malloc(n * sizeof(*insns));
	uint8_t *aux = calloc(n, 1);
	int err = -ENOMEM;
	if (!insns || !aux)
		goto out;
	memcpy(insns, bpfvm_uptr(a->insns), n * sizeof(*insns));
	struct bpfvm_verify_opts o = {
		.prog_type = a->prog_type,
		.expected_attach_type = p->attach_type,
		.prog_flags = a->prog_flags,
		.log_level = a->log_level,
		.log_buf = bpfvm_uptr(a->log_buf),
		.log_size = a->log_size,
		.map_by_fd = map_by_fd,
		.inner_map = inner_map,
		.map_cookie = p,
		.insn_aux = aux,
	};
	struct bpfvm_verify_result r;
	err = bpfvm_verify(insns, n, &o, &r);
	if (err == -EINVAL && p->map_err)
		err = p->map_err; /* the verifier stopped at that map */
	/* bpf_check copies log_true_size back once the log exists */
	if (size >= OFF_LOG_TRUE_SIZE + 4 && r.log_true_size)
		memcpy((uint8_t *)uattr + OFF_LOG_TRUE_SIZE, &r.log_true_size, 4);
	if (err)
		goto out;
	fixup(p, insns, aux, n);
	p->vm = bpfvm_create();
	err = -ENOMEM;
	if (!p->vm)
		goto out;
	p->fd_array = bpfvm_uptr(bpfvm_attr_u64(attr, OFF_FD_ARRAY));
	bpfvm_set_ldimm64_hook(p->vm, ldimm64, p);
	err = bpfvm_load(p->vm, insns, n);
	bpfvm_set_ldimm64_hook(p->vm, NULL, NULL);
	p->fd_array = NULL;
	if (!err)
		err = attach_map_helpers(p);
	if (!err)
		err = bpfvm_test_run_prepare(p->vm, p->type);
out:
	free(insns);
	free(aux);
	return err;
}

int bpfvm_prog_load_cmd(union bpfvm_attr *attr, union bpf_attr *uattr,
			unsigned int size)
{
	union bpf_attr *a = &attr->a;
	if (a->prog_flags & ~PROG_FLAGS)
		return -EINVAL;
	/* without the flag the kernel ignores prog_token_fd */
	if (a->prog_flags & BPFVM_F_TOKEN_FD) {
		int err, fd = (int32_t)bpfvm_attr_u32(attr, OFF_PROG_TOKEN_FD);
		struct bpfvm_obj *t = bpfvm_fd_get(fd, 0, NULL, &err);
		bpfvm_obj_put(t);
		return t ? -EINVAL : err; /* bpfvm has no tokens */
	}
	if (a->insn_cnt == 0 || a->insn_cnt > BPFVM_MAX_INSNS)
		return -E2BIG;
	if (!a->insns || !a->license)
		return -EFAULT;
	/* an unknown type, or one bpfvm does not model */
	uint32_t attach = a->expected_attach_type;
	if (!bpfvm_prog_type(a->prog_type) ||
	    bpfvm_prog_check_attach(a->prog_type, &attach))
		return -EINVAL;
	struct prog *p = calloc(1, sizeof(*p));
	struct bpfvm_obj *o = p ? bpfvm_obj_new(BPFVM_OBJ_PROG, prog_release,
						NULL) : NULL;
	if (!o) {
		free(p);
		return -ENOMEM;
	}
	o->priv = p;
	p->type = a->prog_type;
	p->attach_type = attach;
	p->insn_cnt = a->insn_cnt;
	int err = bpfvm_obj_name(p->name, a->prog_name);
	if (!err)
		err = load(attr, uattr, size, p);
	o->ptr = p->vm;
	if (!err)
		err = bpfvm_obj_register(o);
	int fd = err ? err : bpfvm_fd_install(o, BPFVM_FMODE_RW, -1);
	bpfvm_obj_put(o);
	return fd;
}

int bpfvm_prog_test_run_cmd(union bpfvm_attr *attr, union bpf_attr *uattr)
{
	union bpf_attr *a = &attr->a;
	if ((a->test.ctx_size_in != 0) != (a->test.ctx_in != 0) ||
	    (a->test.ctx_size_out != 0) != (a->test.ctx_out != 0))
		return -EINVAL;
	int err;
	struct bpfvm_obj *o = bpfvm_fd_get((int)a->test.prog_fd,
					   BPFVM_OBJ_PROG, NULL, &err);
	if (!o)
		return err;
	struct prog *p = o->priv;
	if (a->test.data_size_in && !a->test.data_in) {
		bpfvm_obj_put(o);
		return -EFAULT;
	}
	struct bpfvm_test_run_attr t = {
		.data_in = bpfvm_uptr(a->test.data_in),
		.data_size_in = a->test.data_size_in,
		.data_out = bpfvm_uptr(a->test.data_out),
		.data_size_out = a->test.data_size_out,
		.ctx_in = bpfvm_uptr(a->test.ctx_in),
		.ctx_size_in = a->test.ctx_size_in,
		.ctx_out = bpfvm_uptr(a->test.ctx_out),
		.ctx_size_out = a->test.ctx_size_out,
		.repeat = a->test.repeat,
		.flags = a->test.flags,
		.cpu = a->test.cpu,
		.batch_size = bpfvm_attr_u32(attr, OFF_BATCH_SIZE),
	};
	/* each run is inside the maps' epoch (the map helpers' run scope) */
	err = bpfvm_test_run(p->vm, p->type, p->attach_type, &t);
	/* bpf_test_finish writes the sizes back with a too-small buffer too */
	if (!err || err == -ENOSPC) {
		uattr->test.data_size_out = t.data_size_out;
		if (a->test.ctx_out)
			uattr->test.ctx_size_out = t.ctx_size_out;
		uattr->test.retval = t.retval;
		uattr->test.duration = t.duration;
	}
	bpfvm_obj_put(o);
	return err;
}

int bpfvm_prog_info(struct bpfvm_obj *o, union bpfvm_attr *attr,
		    union bpf_attr *uattr)
{
	union {
		struct bpf_prog_info i;
		uint8_t b[PROG_INFO_SIZE];
	} u;
	struct prog *p = o->priv;
	/* the kernel reads the caller's info first: the counts and pointers
	 * say where map ids and instructions go */
	int len = bpfvm_info_in(attr, PROG_INFO_END, PROG_INFO_SIZE, &u);
	if (len < 0)
		return len;
	u.i.type = p->type;
	u.i.id = o->id;
	memcpy(u.i.name, p->name, sizeof(u.i.name));
	uint32_t room = u.i.nr_map_ids;
	u.i.nr_map_ids = p->nmaps;
	if (room > p->nmaps)
		room = p->nmaps;
	uint32_t *ids = bpfvm_uptr(u.i.map_ids);
	if (room && !ids)
		return -EFAULT;
	for (uint32_t i = 0; i < room; i++)
		ids[i] = p->maps[i]->id;
	/* the instructions after the fixups (context accesses rewritten onto
	 * bpfvm's runtime context), as the kernel's are after its own */
	uint32_t ulen = u.i.xlated_prog_len;
	u.i.xlated_prog_len = p->insn_cnt * 8u;
	if (ulen) {
		uint8_t *dst = bpfvm_uptr(u.i.xlated_prog_insns);
		if (!dst)
			return -EFAULT;
		memcpy(dst, bpfvm_insns(p->vm),
		       ulen < u.i.xlated_prog_len ? ulen : u.i.xlated_prog_len);
	}
	bpfvm_info_out(attr, uattr, &u, (uint32_t)len);
	return 0;
}

int bpfvm_bpf_prog_run(int fd, void *ctx, size_t ctx_len,
		       struct bpfvm_result *res)
{
	int err;
	struct bpfvm_obj *o = bpfvm_fd_get(fd, BPFVM_OBJ_PROG, NULL, &err);
	if (!o)
		return err;
	/* inside the maps' epoch: the map helpers' run scope enters it */
	err = bpfvm_run(o->ptr, ctx, ctx_len, res);
	bpfvm_obj_put(o);
	return err;
}
