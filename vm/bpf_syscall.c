/* bpfvm_bpf(): bpf(2)'s entry (the attr-size rule, the command table with
 * each command's last attr field for CHECK_ATTR) and the map commands:
 * descriptors and their rights here, everything else in maps/.  The order
 * of the checks is the kernel's (kernel/bpf/syscall.c, Linux 6.18), so the
 * errno of a call with several faults is the kernel's too.
 * SPDX-License-Identifier: MIT */
#include <errno.h>
#include <net/if.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include "bpfvm_bpf.h"
#include "bpf_syscall.h"
#include "fdtable.h"
#include "map.h"

#define END(f) (offsetof(union bpf_attr, f) + sizeof(((union bpf_attr *)0)->f))

/* Any non-zero byte in [p, p + n)?  It runs on every call, over the tail
 * of the caller's attr (about 100 bytes): 16 bytes a load in vector
 * registers (GNU C vectors, unaligned loads through memcpy). */
typedef uint64_t u64x2 __attribute__((vector_size(16)));

static int nonzero(const uint8_t *p, size_t n)
{
	u64x2 acc = { 0, 0 }, acc2 = { 0, 0 }, w, w2;
	size_t i = 0;
	for (; i + 32 <= n; i += 32) {
		memcpy(&w, p + i, 16);
		memcpy(&w2, p + i + 16, 16);
		acc |= w;
		acc2 |= w2;
	}
	if (i + 16 <= n) {
		memcpy(&w, p + i, 16);
		acc |= w;
		i += 16;
	}
	acc |= acc2;
	uint64_t t = acc[0] | acc[1];
	if (i + 8 <= n) {
		uint64_t x;
		memcpy(&x, p + i, 8);
		t |= x;
		i += 8;
	}
	for (; i < n; i++)
		t |= p[i];
	return t != 0;
}

/* ---- descriptors of maps ---------------------------------------------- */

static struct bpfvm_map *map_of(struct bpfvm_obj *o)
{
	return o->ptr;
}

/* The map behind fd with what the descriptor may do now (a frozen map is
 * read-only from user space: the kernel's map_get_sys_perms). */
static struct bpfvm_obj *map_get(int fd, uint32_t *fmode, int *err)
{
	struct bpfvm_obj *o = bpfvm_fd_get(fd, BPFVM_OBJ_MAP, fmode, err);
	if (o && __atomic_load_n(&o->frozen, __ATOMIC_ACQUIRE))
		*fmode &= ~BPFVM_FMODE_WRITE;
	return o;
}

/* The kernel's __bpf_copy_key: a key pointer for a map without keys is
 * EINVAL, a missing one EFAULT. */
static int key_ok(const struct bpfvm_map *map, const void *key)
{
	if (map->key_size)
		return key ? 0 : -EFAULT;
	return key ? -EINVAL : 0;
}

/* ---- object callbacks for PROG_ARRAY and maps of maps ------------------- */

static void *slot_get(void *ctx, struct bpfvm_map *map, int fd, int *err)
{
	(void)ctx;
	uint32_t kind = map && map->map_type == BPF_MAP_TYPE_PROG_ARRAY
		? BPFVM_OBJ_PROG : BPFVM_OBJ_MAP;
	struct bpfvm_obj *o = bpfvm_fd_get(fd, kind, NULL, err);
	return o ? o->ptr : NULL; /* the reference stays with the slot */
}

static void slot_put(void *ctx, void *obj)
{
	(void)ctx;
	struct bpfvm_obj *o = bpfvm_obj_by_ptr(obj);
	if (o) {
		bpfvm_obj_put(o); /* by_ptr's */
		bpfvm_obj_put(o); /* the slot's */
	}
}

static uint32_t slot_id(void *ctx, void *obj)
{
	(void)ctx;
	struct bpfvm_obj *o = bpfvm_obj_by_ptr(obj);
	uint32_t id = o ? o->id : 0;
	bpfvm_obj_put(o);
	return id;
}

static const struct bpfvm_fd_array_ops slot_ops = {
	.get = slot_get, .put = slot_put, .id = slot_id,
};

/* ---- map objects ---------------------------------------------------------- */

static void map_release(struct bpfvm_obj *o)
{
	bpfvm_map_put(map_of(o));
	bpfvm_map_btf_free(o->priv);
}

/* The kernel empties a program array when its last descriptor goes, which
 * breaks the cycles of programs tail-calling through their own array. */
static void map_user_gone(struct bpfvm_obj *o)
{
	if (map_of(o)->map_type == BPF_MAP_TYPE_PROG_ARRAY)
		bpfvm_fd_array_clear(map_of(o));
}

static uint32_t fmode_of(uint32_t flags)
{
	if (flags & BPF_F_RDONLY)
		return BPFVM_FMODE_READ;
	if (flags & BPF_F_WRONLY)
		return BPFVM_FMODE_WRITE;
	return BPFVM_FMODE_RW;
}

/* A new descriptor for a map object (the caller keeps its reference). */
static int map_new_fd(struct bpfvm_obj *o, uint32_t fmode)
{
	return bpfvm_fd_install(o, fmode, bpfvm_array_mmap_fd(map_of(o)));
}

/* A descriptor of a kind bpfvm has no objects of (tokens): EBADF when
 * closed, EINVAL for anything else, as the kernel says for a descriptor
 * that is not one. */
static int foreign_fd(int fd)
{
	int err;
	struct bpfvm_obj *o = bpfvm_fd_get(fd, 0, NULL, &err);
	bpfvm_obj_put(o);
	return o ? -EINVAL : err;
}

/* map_ifindex asks for a map on a device: only HASH and ARRAY can be, and
 * no device here can hold one (the kernel: EOPNOTSUPP from a device
 * without ndo_bpf, EINVAL without the device). */
static int offload(const union bpf_attr *a)
{
	char name[IF_NAMESIZE];
	if (a->map_type != BPF_MAP_TYPE_HASH && a->map_type != BPF_MAP_TYPE_ARRAY)
		return -EINVAL;
	return if_indextoname(a->map_ifindex, name) ? -EOPNOTSUPP : -EINVAL;
}

/* What map_create checks after the type's own checks, in its order. */
static int create_extras(const union bpfvm_attr *attr, struct bpfvm_map *map,
			 struct bpfvm_map_btf **btf)
{
	const union bpf_attr *a = &attr->a;
	if (a->map_ifindex)
		return offload(a);
	int err;
	if ((a->btf_key_type_id || a->btf_value_type_id ||
	     a->btf_vmlinux_value_type_id) &&
	    (err = bpfvm_map_btf(map, a, btf)))
		return err;
	/* excl_prog_hash (a SHA-256 a program must match): size checked */
	if (bpfvm_attr_u64(attr, 88) ? bpfvm_attr_u32(attr, 80) != 32
				     : bpfvm_attr_u32(attr, 80) != 0)
		return -EINVAL;
	return 0;
}

/* The type's ops, for the token's place among the checks (between the
 * type's alloc_check and its alloc).  A copy of map.c's table: to be
 * replaced by an accessor of the map layer. */
static const struct bpfvm_map_ops *type_ops(uint32_t type)
{
	switch (type) {
	case BPF_MAP_TYPE_HASH: return &bpfvm_hash_ops;
	case BPF_MAP_TYPE_ARRAY: return &bpfvm_array_ops;
	case BPF_MAP_TYPE_PERCPU_HASH: return &bpfvm_percpu_hash_ops;
	case BPF_MAP_TYPE_PERCPU_ARRAY: return &bpfvm_percpu_array_ops;
	case BPF_MAP_TYPE_LRU_HASH: return &bpfvm_lru_hash_ops;
	case BPF_MAP_TYPE_LRU_PERCPU_HASH: return &bpfvm_lru_percpu_hash_ops;
	case BPF_MAP_TYPE_LPM_TRIE: return &bpfvm_lpm_trie_ops;
	case BPF_MAP_TYPE_QUEUE: return &bpfvm_queue_ops;
	case BPF_MAP_TYPE_STACK: return &bpfvm_stack_ops;
	case BPF_MAP_TYPE_RINGBUF: return &bpfvm_ringbuf_ops;
	case BPF_MAP_TYPE_PROG_ARRAY: return &bpfvm_prog_array_ops;
	case BPF_MAP_TYPE_ARRAY_OF_MAPS: return &bpfvm_array_of_maps_ops;
	case BPF_MAP_TYPE_HASH_OF_MAPS: return &bpfvm_hash_of_maps_ops;
	default: return NULL;
	}
}

static int map_create(union bpfvm_attr *attr, union bpf_attr *uattr)
{
	(void)uattr;
	union bpf_attr *a = &attr->a;
	/* the kernel drops the token flag before the type's flag checks */
	uint32_t token_flag = a->map_flags & BPFVM_F_TOKEN_FD;
	a->map_flags &= ~BPFVM_F_TOKEN_FD;
	/* the token is looked at once the type is known, before the type's
	 * own checks: the common checks bpfvm_map_create does first */
	const struct bpfvm_map_ops *ops = type_ops(a->map_type);
	if (ops && !a->map_extra &&
	    (a->map_flags & (BPF_F_RDONLY | BPF_F_WRONLY)) !=
	    (BPF_F_RDONLY | BPF_F_WRONLY) && !a->btf_vmlinux_value_type_id &&
	    (!a->btf_key_type_id || a->btf_value_type_id) &&
	    (!ops->alloc_check || !ops->alloc_check(a))) {
		int err = token_flag ? foreign_fd((int32_t)bpfvm_attr_u32(attr, 76))
				     : 0;
		if (!err && a->map_ifindex)
			err = offload(a);
		if (err)
			return err;
	}
	struct bpfvm_map *map;
	int err = bpfvm_map_create_with(a, &slot_ops, NULL, &map);
	if (err)
		return err;
	bpfvm_map_set_epoch(map, bpfvm_obj_epoch());
	struct bpfvm_map_btf *btf = NULL;
	struct bpfvm_obj *o = NULL;
	if ((err = create_extras(attr, map, &btf)) ||
	    !(o = bpfvm_obj_new(BPFVM_OBJ_MAP, map_release, map_user_gone))) {
		bpfvm_map_btf_free(btf);
		bpfvm_map_put(map);
		return err ? err : -ENOMEM;
	}
	o->ptr = map;
	o->priv = btf;
	err = bpfvm_obj_register(o);
	int fd = err ? err : map_new_fd(o, fmode_of(a->map_flags));
	bpfvm_obj_put(o);
	return fd;
}

/* ---- element commands ----------------------------------------------------- */

static int map_lookup(union bpfvm_attr *attr, union bpf_attr *uattr)
{
	(void)uattr;
	union bpf_attr *a = &attr->a;
	uint32_t fmode;
	int err;
	if (a->flags & ~(uint64_t)BPF_F_LOCK)
		return -EINVAL;
	struct bpfvm_obj *o = map_get((int)a->map_fd, &fmode, &err);
	if (!o)
		return err;
	struct bpfvm_map *map = map_of(o);
	void *key = bpfvm_uptr(a->key), *value = bpfvm_uptr(a->value);
	if (!(fmode & BPFVM_FMODE_READ))
		err = -EPERM;
	else if (!bpfvm_lock_flag_ok(map, a->flags))
		err = -EINVAL;
	else if (!(err = key_ok(map, key))) {
		if (value) {
			err = bpfvm_map_lookup_elem(map, key, value, a->flags);
		} else { /* found, then the copy out faults */
			void *tmp = malloc(bpfvm_map_value_size(map) + 1);
			err = tmp ? bpfvm_map_lookup_elem(map, key, tmp, a->flags)
				  : -ENOMEM;
			free(tmp);
			if (!err)
				err = -EFAULT;
		}
	}
	bpfvm_obj_put(o);
	return err;
}

static int map_update(union bpfvm_attr *attr, union bpf_attr *uattr)
{
	(void)uattr;
	union bpf_attr *a = &attr->a;
	uint32_t fmode;
	int err;
	struct bpfvm_obj *o = map_get((int)a->map_fd, &fmode, &err);
	if (!o)
		return err;
	struct bpfvm_map *map = map_of(o);
	void *key = bpfvm_uptr(a->key), *value = bpfvm_uptr(a->value);
	if (!(fmode & BPFVM_FMODE_WRITE))
		err = -EPERM;
	else if (!bpfvm_lock_flag_ok(map, a->flags))
		err = -EINVAL;
	else if (!(err = key_ok(map, key)))
		err = value || !bpfvm_map_value_size(map)
			? bpfvm_map_update_elem(map, key, value, a->flags)
			: -EFAULT;
	bpfvm_obj_put(o);
	return err;
}

static int map_delete(union bpfvm_attr *attr, union bpf_attr *uattr)
{
	(void)uattr;
	union bpf_attr *a = &attr->a;
	uint32_t fmode;
	int err;
	struct bpfvm_obj *o = map_get((int)a->map_fd, &fmode, &err);
	if (!o)
		return err;
	struct bpfvm_map *map = map_of(o);
	void *key = bpfvm_uptr(a->key);
	if (!(fmode & BPFVM_FMODE_WRITE))
		err = -EPERM;
	else if (!(err = key_ok(map, key)))
		err = bpfvm_map_delete_elem(map, key);
	bpfvm_obj_put(o);
	return err;
}

/* The kernel copies the key in first: next may overlap it (the idiom
 * get_next_key(fd, &k, &k)). */
static int next_key_aliased(struct bpfvm_map *map, const void *key, void *next)
{
	uint8_t buf[64];
	size_t ks = map->key_size;
	const uint8_t *k = key, *n = next;
	if (!key || k + ks <= n || n + ks <= k)
		return bpfvm_map_get_next_key(map, key, next);
	void *copy = ks <= sizeof(buf) ? buf : malloc(ks);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, key, ks);
	int err = bpfvm_map_get_next_key(map, copy, next);
	if (copy != buf)
		free(copy);
	return err;
}

static int map_get_next_key(union bpfvm_attr *attr, union bpf_attr *uattr)
{
	(void)uattr;
	union bpf_attr *a = &attr->a;
	uint32_t fmode;
	int err;
	struct bpfvm_obj *o = map_get((int)a->map_fd, &fmode, &err);
	if (!o)
		return err;
	struct bpfvm_map *map = map_of(o);
	void *key = bpfvm_uptr(a->key), *next = bpfvm_uptr(a->next_key);
	if (!(fmode & BPFVM_FMODE_READ))
		err = -EPERM;
	else if (!key || !(err = key_ok(map, key))) {
		if (next) {
			err = next_key_aliased(map, key, next);
		} else {
			void *tmp = malloc(map->key_size + 1);
			err = tmp ? bpfvm_map_get_next_key(map, key, tmp) : -ENOMEM;
			free(tmp);
			if (!err)
				err = -EFAULT;
		}
	}
	bpfvm_obj_put(o);
	return err;
}

static int map_lookup_and_delete(union bpfvm_attr *attr, union bpf_attr *uattr)
{
	(void)uattr;
	union bpf_attr *a = &attr->a;
	uint32_t fmode;
	int err;
	if (a->flags & ~(uint64_t)BPF_F_LOCK)
		return -EINVAL;
	struct bpfvm_obj *o = map_get((int)a->map_fd, &fmode, &err);
	if (!o)
		return err;
	struct bpfvm_map *map = map_of(o);
	void *key = bpfvm_uptr(a->key), *value = bpfvm_uptr(a->value);
	if ((fmode & BPFVM_FMODE_RW) != BPFVM_FMODE_RW)
		err = -EPERM;
	else if (a->flags && (map->map_type == BPF_MAP_TYPE_QUEUE ||
			      map->map_type == BPF_MAP_TYPE_STACK))
		err = -EINVAL;
	else if (!bpfvm_lock_flag_ok(map, a->flags))
		err = -EINVAL;
	else if (!(err = key_ok(map, key))) {
		if (value) {
			err = bpfvm_map_lookup_and_delete_elem(map, key, value,
							       a->flags);
		} else { /* the element goes, then the copy out faults */
			void *tmp = malloc(bpfvm_map_value_size(map) + 1);
			err = tmp ? bpfvm_map_lookup_and_delete_elem(map, key, tmp,
								     a->flags)
				  : -ENOMEM;
			free(tmp);
			if (!err)
				err = -EFAULT;
		}
	}
	bpfvm_obj_put(o);
	return err;
}

static int map_freeze(union bpfvm_attr *attr, union bpf_attr *uattr)
{
	(void)uattr;
	uint32_t fmode;
	int err;
	struct bpfvm_obj *o = map_get((int)attr->a.map_fd, &fmode, &err);
	if (!o)
		return err;
	uint32_t zero = 0;
	err = 0;
	if (map_of(o)->map_type == BPF_MAP_TYPE_STRUCT_OPS ||
	    map_of(o)->lock_off >= 0) /* a BTF record: the kernel says no */
		err = -BPFVM_ENOTSUPP;
	else if (!(fmode & BPFVM_FMODE_WRITE))
		err = -EPERM;
	else if (!__atomic_compare_exchange_n(&o->frozen, &zero, 1, 0,
					      __ATOMIC_ACQ_REL,
					      __ATOMIC_RELAXED))
		err = -EBUSY;
	bpfvm_obj_put(o);
	return err;
}

/* ---- batch commands -------------------------------------------------------- */

enum { B_LOOKUP, B_LOOKUP_AND_DELETE, B_UPDATE, B_DELETE };

static int map_batch(union bpfvm_attr *attr, union bpf_attr *uattr, int op)
{
	union bpf_attr *a = &attr->a;
	int has_read = op == B_LOOKUP || op == B_LOOKUP_AND_DELETE;
	int has_write = op != B_LOOKUP;
	uint32_t fmode;
	int err;
	struct bpfvm_obj *o = map_get((int)a->batch.map_fd, &fmode, &err);
	if (!o)
		return err;
	struct bpfvm_map *map = map_of(o);
	struct bpfvm_batch b = {
		.in_batch = bpfvm_uptr(a->batch.in_batch),
		.out_batch = bpfvm_uptr(a->batch.out_batch),
		.keys = bpfvm_uptr(a->batch.keys),
		.values = bpfvm_uptr(a->batch.values),
		.count = a->batch.count,
		.elem_flags = a->batch.elem_flags,
		.flags = a->batch.flags,
	};
	if ((has_read && !(fmode & BPFVM_FMODE_READ)) ||
	    (has_write && !(fmode & BPFVM_FMODE_WRITE))) {
		err = -EPERM;
		goto out;
	}
	int has;
	switch (op) {
	case B_LOOKUP: has = !!map->ops->lookup_batch; break;
	case B_LOOKUP_AND_DELETE: has = !!map->ops->lookup_and_delete_batch; break;
	case B_UPDATE: has = !!map->ops->update_batch; break;
	default: has = !!map->ops->delete_batch; break;
	}
	if (!has) {
		err = -BPFVM_ENOTSUPP;
		goto out;
	}
	/* NULL buffers fault at once here (the kernel may do part first) */
	if (b.count && (!b.keys || (op != B_DELETE && !b.values) ||
			(has_read && !b.out_batch))) {
		err = -EFAULT;
		goto out;
	}
	switch (op) {
	case B_LOOKUP: err = bpfvm_map_lookup_batch(map, &b); break;
	case B_LOOKUP_AND_DELETE:
		err = bpfvm_map_lookup_and_delete_batch(map, &b); break;
	case B_UPDATE: err = bpfvm_map_update_batch(map, &b); break;
	default: err = bpfvm_map_delete_batch(map, &b); break;
	}
	uattr->batch.count = b.count;
out:
	bpfvm_obj_put(o);
	return err;
}

static int lookup_batch(union bpfvm_attr *at, union bpf_attr *u)
{
	return map_batch(at, u, B_LOOKUP);
}

static int lookup_and_delete_batch(union bpfvm_attr *at, union bpf_attr *u)
{
	return map_batch(at, u, B_LOOKUP_AND_DELETE);
}

static int update_batch(union bpfvm_attr *at, union bpf_attr *u)
{
	return map_batch(at, u, B_UPDATE);
}

static int delete_batch(union bpfvm_attr *at, union bpf_attr *u)
{
	return map_batch(at, u, B_DELETE);
}

/* ---- ids and info ----------------------------------------------------------- */

static int next_id(union bpfvm_attr *attr, union bpf_attr *uattr, uint32_t kind)
{
	if (attr->a.start_id >= 0x7fffffffu) /* next_id would pass INT_MAX */
		return -EINVAL;
	uint32_t id;
	int err = bpfvm_obj_next_id(kind, attr->a.start_id, &id);
	if (!err)
		uattr->next_id = id;
	return err;
}

static int map_next_id(union bpfvm_attr *at, union bpf_attr *u)
{
	return next_id(at, u, BPFVM_OBJ_MAP);
}

static int prog_next_id(union bpfvm_attr *at, union bpf_attr *u)
{
	return next_id(at, u, BPFVM_OBJ_PROG);
}

static int fd_by_id(uint32_t kind, uint32_t id, uint32_t open_flags)
{
	if (open_flags & ~(uint32_t)(BPF_F_RDONLY | BPF_F_WRONLY))
		return -EINVAL;
	if ((open_flags & BPF_F_RDONLY) && (open_flags & BPF_F_WRONLY))
		return -EINVAL;
	struct bpfvm_obj *o = bpfvm_obj_by_id(kind, id);
	if (!o)
		return -ENOENT;
	int fd = kind == BPFVM_OBJ_MAP ? map_new_fd(o, fmode_of(open_flags))
				       : bpfvm_fd_install(o, BPFVM_FMODE_RW, -1);
	/* (programs and BTF have no read-only descriptors) */
	bpfvm_obj_put(o);
	return fd;
}

static int btf_next_id(union bpfvm_attr *at, union bpf_attr *u)
{
	return next_id(at, u, BPFVM_OBJ_BTF);
}

/* 6.18: open_flags may only be BPF_F_TOKEN_FD, fd_by_id_token_fd (at 12)
 * then names the token. */
static int btf_fd_by_id(union bpfvm_attr *attr, union bpf_attr *uattr)
{
	(void)uattr;
	if (attr->a.open_flags & ~BPFVM_F_TOKEN_FD)
		return -EINVAL;
	if (attr->a.open_flags & BPFVM_F_TOKEN_FD) {
		int err = foreign_fd((int32_t)bpfvm_attr_u32(attr, 12));
		if (err)
			return err;
	}
	return fd_by_id(BPFVM_OBJ_BTF, attr->a.btf_id, 0);
}

static int map_fd_by_id(union bpfvm_attr *attr, union bpf_attr *uattr)
{
	(void)uattr;
	return fd_by_id(BPFVM_OBJ_MAP, attr->a.map_id, attr->a.open_flags);
}

static int prog_fd_by_id(union bpfvm_attr *attr, union bpf_attr *uattr)
{
	(void)uattr;
	return fd_by_id(BPFVM_OBJ_PROG, attr->a.prog_id, 0);
}

/* struct bpf_map_info in 6.18: 6.1's, then hash (u64) and hash_size (u32),
 * the last field's end, and sizeof with the padding. */
#define MAP_INFO_END 100
#define MAP_INFO_SIZE 104

int bpfvm_info_in(const union bpfvm_attr *attr, uint32_t end, uint32_t size,
		  void *buf)
{
	const uint8_t *uinfo = bpfvm_uptr(attr->a.info.info);
	uint32_t len = attr->a.info.info_len;
	/* bpf_check_uarg_tail_zero, past the last field (6.18 checks the
	 * padding too, and copies it) */
	if (len > end) {
		if (!uinfo)
			return -EFAULT;
		if (nonzero(uinfo + end, len - end))
			return -E2BIG;
		if (len > size)
			len = size;
	}
	if (len && !uinfo)
		return -EFAULT;
	memset(buf, 0, size);
	if (len)
		memcpy(buf, uinfo, len);
	return (int)len;
}

void bpfvm_info_out(const union bpfvm_attr *attr, union bpf_attr *uattr,
		    const void *buf, uint32_t len)
{
	if (len)
		memcpy(bpfvm_uptr(attr->a.info.info), buf, len);
	uattr->info.info_len = len;
}

static int map_info(struct bpfvm_obj *o, union bpfvm_attr *attr,
		    union bpf_attr *uattr)
{
	union {
		struct bpf_map_info i;
		uint8_t b[MAP_INFO_SIZE];
	} u;
	const struct bpfvm_map *map = map_of(o);
	/* the kernel starts from the caller's bytes: what it does not set
	 * (netns, BTF ids here) comes back as given */
	int len = bpfvm_info_in(attr, MAP_INFO_END, MAP_INFO_SIZE, &u);
	if (len < 0)
		return len;
	/* hash and hash_size ask for a SHA-256 of the values: not here */
	if (nonzero(u.b + 88, 12))
		return -EINVAL;
	u.i.type = map->map_type;
	u.i.id = o->id;
	u.i.key_size = map->key_size;
	u.i.value_size = map->value_size;
	u.i.max_entries = map->max_entries;
	u.i.map_flags = map->map_flags;
	u.i.map_extra = map->map_extra;
	memcpy(u.i.name, map->name, sizeof(u.i.name));
	if (o->priv) {
		uint32_t ids[3];
		bpfvm_map_btf_ids(o->priv, ids);
		u.i.btf_id = ids[0];
		u.i.btf_key_type_id = ids[1];
		u.i.btf_value_type_id = ids[2];
	}
	bpfvm_info_out(attr, uattr, &u, (uint32_t)len);
	return 0;
}

static int obj_info(union bpfvm_attr *attr, union bpf_attr *uattr)
{
	int err;
	struct bpfvm_obj *o = bpfvm_fd_get((int)attr->a.info.bpf_fd, 0, NULL,
					   &err);
	if (!o)
		return err;
	switch (o->kind) {
	case BPFVM_OBJ_MAP: err = map_info(o, attr, uattr); break;
	case BPFVM_OBJ_PROG: err = bpfvm_prog_info(o, attr, uattr); break;
	default: err = bpfvm_btf_info(o, attr, uattr); break;
	}
	bpfvm_obj_put(o);
	return err;
}

/* Called from sys_bpf with the caller's size (log_true_size goes back only
 * to a caller whose attr has it). */
static int prog_load(union bpfvm_attr *attr, union bpf_attr *uattr)
{
	return bpfvm_prog_load_cmd(attr, uattr, 0);
}

static int prog_test_run(union bpfvm_attr *attr, union bpf_attr *uattr)
{
	return bpfvm_prog_test_run_cmd(attr, uattr);
}

static int btf_load(union bpfvm_attr *attr, union bpf_attr *uattr)
{
	(void)uattr;
	return bpfvm_btf_load_cmd(attr);
}

/* ---- the command table -------------------------------------------------------- */

struct cmd {
	int (*fn)(union bpfvm_attr *attr, union bpf_attr *uattr);
	uint32_t end; /* end of the command's last field (CHECK_ATTR) */
};

/* Last fields as Linux 6.18 names them; numbers for fields 6.1's header
 * lacks: map_create's excl_prog_hash, prog_load's keyring_id,
 * test_run's batch_size. */
static const struct cmd cmds[] = {
	[BPF_MAP_CREATE] = { map_create, 96 },
	[BPF_MAP_LOOKUP_ELEM] = { map_lookup, END(flags) },
	[BPF_MAP_UPDATE_ELEM] = { map_update, END(flags) },
	[BPF_MAP_DELETE_ELEM] = { map_delete, END(key) },
	[BPF_MAP_GET_NEXT_KEY] = { map_get_next_key, END(next_key) },
	[BPF_PROG_LOAD] = { prog_load, 168 },
	[BPF_PROG_TEST_RUN] = { prog_test_run, 76 },
	[BPF_PROG_GET_NEXT_ID] = { prog_next_id, END(next_id) },
	[BPF_MAP_GET_NEXT_ID] = { map_next_id, END(next_id) },
	[BPF_PROG_GET_FD_BY_ID] = { prog_fd_by_id, END(prog_id) },
	[BPF_MAP_GET_FD_BY_ID] = { map_fd_by_id, END(open_flags) },
	[BPF_OBJ_GET_INFO_BY_FD] = { obj_info, END(info.info) },
	[BPF_BTF_LOAD] = { btf_load, 40 }, /* btf_token_fd */
	[BPF_BTF_GET_FD_BY_ID] = { btf_fd_by_id, 16 }, /* fd_by_id_token_fd */
	[BPF_BTF_GET_NEXT_ID] = { btf_next_id, END(next_id) },
	[BPF_MAP_LOOKUP_AND_DELETE_ELEM] = { map_lookup_and_delete, END(flags) },
	[BPF_MAP_FREEZE] = { map_freeze, END(map_fd) },
	[BPF_MAP_LOOKUP_BATCH] = { lookup_batch, END(batch.flags) },
	[BPF_MAP_LOOKUP_AND_DELETE_BATCH] = { lookup_and_delete_batch,
					      END(batch.flags) },
	[BPF_MAP_UPDATE_BATCH] = { update_batch, END(batch.flags) },
	[BPF_MAP_DELETE_BATCH] = { delete_batch, END(batch.flags) },
};


static int sys_bpf(int cmd, union bpf_attr *uattr, unsigned int size)
{
	union bpfvm_attr attr;
	/* bpf_check_uarg_tail_zero */
	if (size > BPFVM_ATTR_SIZE) {
		if (!uattr)
			return -EFAULT;
		if (nonzero((uint8_t *)uattr + BPFVM_ATTR_SIZE,
			    size - BPFVM_ATTR_SIZE))
			return -E2BIG;
		size = BPFVM_ATTR_SIZE;
	}
	if (size && !uattr)
		return -EFAULT;
	if (cmd < 0 || (size_t)cmd >= sizeof(cmds) / sizeof(cmds[0]) ||
	    !cmds[cmd].fn)
		return -EINVAL;
	const struct cmd *c = &cmds[cmd];
	/* the kernel's zero-padded copy, but only of the command's fields
	 * (handlers read no further); CHECK_ATTR on the rest in place */
	if (size > c->end && nonzero((uint8_t *)uattr + c->end, size - c->end))
		return -EINVAL;
	uint32_t n = size < c->end ? size : c->end;
	/* constant sizes for the usual commands: a variable one is a
	 * rep movs, which costs more than the map lookup */
	switch (n) {
	case 16: memcpy(&attr, uattr, 16); break;
	case 24: memcpy(&attr, uattr, 24); break;
	case 32: memcpy(&attr, uattr, 32); break;
	case 56: memcpy(&attr, uattr, 56); break;
	default:
		if (n)
			memcpy(&attr, uattr, n);
		break;
	}
	if (n < c->end)
		memset(attr.b + n, 0, c->end - n);
	if (cmd == BPF_PROG_LOAD)
		return bpfvm_prog_load_cmd(&attr, uattr, size);
	return c->fn(&attr, uattr);
}

int bpfvm_bpf(int cmd, union bpf_attr *attr, unsigned int size)
{
	int r = sys_bpf(cmd, attr, size);
	if (r < 0) {
		errno = -r;
		return -1;
	}
	return r;
}

int bpfvm_close(int fd)
{
	return bpfvm_fd_close(fd);
}

void bpfvm_bpf_set_fd_check(bool on)
{
	bpfvm_fd_set_check(on);
}

/* bpf_obj_name_cpy: letters, digits, '_' and '.', NUL-terminated. */
int bpfvm_obj_name(char dst[BPF_OBJ_NAME_LEN], const char *src)
{
	memset(dst, 0, BPF_OBJ_NAME_LEN);
	for (size_t i = 0; i < BPF_OBJ_NAME_LEN; i++) {
		unsigned char c = (unsigned char)src[i];
		if (!c)
			return 0;
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
		      (c >= 'A' && c <= 'Z') || c == '_' || c == '.'))
			return -EINVAL;
		dst[i] = (char)c;
	}
	return -EINVAL;
}
