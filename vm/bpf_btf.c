/* BTF, as far as maps need it: BPF_BTF_LOAD checks a blob's layout and
 * keeps it; MAP_CREATE's btf_key_type_id / btf_value_type_id are checked
 * against the key and value sizes, and a `struct bpf_spin_lock` in the
 * value is handed to the map layer (bpfvm_map_set_spin_lock), which makes
 * BPF_F_LOCK and the spin-lock helpers work.  Not the kernel's full BTF
 * verification: a blob with a sound layout is accepted whatever its names
 * and type graph say.
 * SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "bpf_syscall.h"
#include "fdtable.h"
#include "map.h"

#define BTF_MAGIC 0xeb9f
#define BTF_MAX_SIZE (16u << 20) /* the kernel's */
#define MAX_RESOLVE_DEPTH 32

enum {
	K_INT = 1, K_PTR, K_ARRAY, K_STRUCT, K_UNION, K_ENUM, K_FWD, K_TYPEDEF,
	K_VOLATILE, K_CONST, K_RESTRICT, K_FUNC, K_FUNC_PROTO, K_VAR,
	K_DATASEC, K_FLOAT, K_DECL_TAG, K_TYPE_TAG, K_ENUM64, K__MAX
};

/* Bytes after a type's 12-byte head: fixed, and per vlen item. */
static const struct { uint8_t fixed, item; } extra[K__MAX] = {
	[K_INT] = { 4, 0 }, [K_ARRAY] = { 12, 0 }, [K_STRUCT] = { 0, 12 },
	[K_UNION] = { 0, 12 }, [K_ENUM] = { 0, 8 }, [K_FUNC_PROTO] = { 0, 8 },
	[K_VAR] = { 4, 0 }, [K_DATASEC] = { 0, 12 }, [K_DECL_TAG] = { 4, 0 },
	[K_ENUM64] = { 0, 12 },
};

struct btf {
	uint8_t *data;
	uint32_t size;
	const uint8_t *types, *strs;
	uint32_t str_len;
	uint32_t n;      /* types, ids 1..n */
	uint32_t *off;   /* type id -> offset in types */
};

static uint32_t rd32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

static uint32_t kind_of(const struct btf *b, uint32_t id)
{
	return (rd32(b->types + b->off[id] + 4) >> 24) & 0x1f;
}

static uint32_t vlen_of(const struct btf *b, uint32_t id)
{
	return rd32(b->types + b->off[id] + 4) & 0xffff;
}

static uint32_t size_or_type(const struct btf *b, uint32_t id)
{
	return rd32(b->types + b->off[id] + 8);
}

static const char *name_of(const struct btf *b, uint32_t id)
{
	uint32_t o = rd32(b->types + b->off[id]);
	return o < b->str_len ? (const char *)b->strs + o : "";
}

static void btf_free(struct btf *b)
{
	if (b) {
		free(b->data);
		free(b->off);
		free(b);
	}
}

/* The layout: header, sections inside the blob, every type whole. */
static int parse(struct btf *b, char *msg, size_t len)
{
	const uint8_t *d = b->data;
	uint32_t hdr_len = rd32(d + 4), type_off = rd32(d + 8),
		 type_len = rd32(d + 12), str_off = rd32(d + 16),
		 str_len = rd32(d + 20);
	uint16_t magic;
	memcpy(&magic, d, 2);
	if (magic != BTF_MAGIC || d[2] != 1 || d[3] != 0) {
		snprintf(msg, len, "Invalid magic, version or flags");
		return -EINVAL;
	}
	uint64_t body = b->size - (uint64_t)hdr_len;
	if (hdr_len < 24 || hdr_len > b->size || (uint64_t)type_off + type_len > body ||
	    (uint64_t)str_off + str_len > body || type_len % 4 || type_off % 4 ||
	    !str_len || d[hdr_len + str_off] ||
	    d[hdr_len + str_off + str_len - 1]) {
		snprintf(msg, len, "Invalid section layout");
		return -EINVAL;
	}
	b->types = d + hdr_len + type_off;
	b->strs = d + hdr_len + str_off;
	b->str_len = str_len;
	uint32_t cap = type_len / 12 + 2;
	b->off = calloc(cap, sizeof(*b->off));
	if (!b->off)
		return -ENOMEM;
	for (uint32_t p = 0; p < type_len;) {
		if (type_len - p < 12) {
			snprintf(msg, len, "Type section truncated");
			return -EINVAL;
		}
		uint32_t info = rd32(b->types + p + 4);
		uint32_t k = (info >> 24) & 0x1f, vlen = info & 0xffff;
		if (!k || k >= K__MAX) {
			snprintf(msg, len, "[%u] Invalid kind:%u", b->n + 1, k);
			return -EINVAL;
		}
		uint64_t need = 12 + extra[k].fixed + (uint64_t)extra[k].item * vlen;
		if (need > type_len - p) {
			snprintf(msg, len, "[%u] Type truncated", b->n + 1);
			return -EINVAL;
		}
		b->off[++b->n] = p;
		p += (uint32_t)need;
	}
	return 0;
}

static void btf_release(struct bpfvm_obj *o)
{
	btf_free(o->ptr);
}

int bpfvm_btf_load_cmd(union bpfvm_attr *attr)
{
	const union bpf_attr *a = &attr->a;
	char msg[128] = "";
	if (a->btf_size > BTF_MAX_SIZE)
		return -E2BIG;
	if (a->btf_size < 24) /* not even a header */
		return -EINVAL;
	if (!a->btf)
		return -EFAULT;
	struct btf *b = calloc(1, sizeof(*b));
	if (!b || !(b->data = malloc(a->btf_size))) {
		btf_free(b);
		return -ENOMEM;
	}
	struct bpfvm_obj *o = bpfvm_obj_new(BPFVM_OBJ_BTF, btf_release, NULL);
	if (!o) {
		btf_free(b);
		return -ENOMEM;
	}
	o->ptr = b;
	b->size = a->btf_size;
	memcpy(b->data, bpfvm_uptr(a->btf), b->size);
	int err;
	err = parse(b, msg, sizeof(msg));
	if (err) {
		char *log = bpfvm_uptr(a->btf_log_buf);
		if (log && a->btf_log_size)
			snprintf(log, a->btf_log_size, "%s\n", msg);
	}
	if (!err)
		err = bpfvm_obj_register(o);
	int fd = err ? err : bpfvm_fd_install(o, BPFVM_FMODE_RW, -1);
	bpfvm_obj_put(o);
	return fd;
}

/* Through typedefs and qualifiers: the type that has a size (0: none). */
static uint32_t resolve(const struct btf *b, uint32_t id)
{
	for (int depth = 0; id && id <= b->n && depth < MAX_RESOLVE_DEPTH; depth++) {
		switch (kind_of(b, id)) {
		case K_TYPEDEF: case K_VOLATILE: case K_CONST: case K_RESTRICT:
		case K_TYPE_TAG:
			id = size_or_type(b, id);
			continue;
		default:
			return id;
		}
	}
	return 0;
}

/* btf_type_id_size: 0 and *size, or -EINVAL. */
static int type_size(const struct btf *b, uint32_t id, uint64_t *size, int depth)
{
	id = resolve(b, id);
	if (!id || depth > MAX_RESOLVE_DEPTH)
		return -EINVAL;
	switch (kind_of(b, id)) {
	case K_INT: case K_STRUCT: case K_UNION: case K_ENUM: case K_ENUM64:
	case K_FLOAT: case K_DATASEC:
		*size = size_or_type(b, id);
		return 0;
	case K_PTR:
		*size = 8;
		return 0;
	case K_ARRAY: {
		const uint8_t *arr = b->types + b->off[id] + 12;
		uint64_t elem;
		if (type_size(b, rd32(arr), &elem, depth + 1))
			return -EINVAL;
		*size = elem * rd32(arr + 8);
		return 0;
	}
	default:
		return -EINVAL;
	}
}

static int is_spin_lock(const struct btf *b, uint32_t id)
{
	return kind_of(b, id) == K_STRUCT && size_or_type(b, id) == 4 &&
	       !strcmp(name_of(b, id), "bpf_spin_lock");
}

/* The spin lock's offset in type id (base: id's offset), -1 if none, or
 * -E2BIG for two. */
static int64_t find_lock(const struct btf *b, uint32_t id, uint64_t base,
			 int depth)
{
	id = resolve(b, id);
	if (!id || depth > MAX_RESOLVE_DEPTH)
		return -1;
	/* a member (the value itself being the lock is no field) */
	if (depth && is_spin_lock(b, id))
		return (int64_t)base;
	uint32_t k = kind_of(b, id);
	if (k != K_STRUCT && k != K_UNION)
		return -1;
	int kflag = (rd32(b->types + b->off[id] + 4) >> 31) & 1;
	int64_t found = -1;
	const uint8_t *m = b->types + b->off[id] + 12;
	for (uint32_t i = 0; i < vlen_of(b, id); i++, m += 12) {
		uint32_t bits = rd32(m + 8);
		if (kflag)
			bits &= 0xffffff;
		int64_t r = find_lock(b, rd32(m + 4), base + bits / 8, depth + 1);
		if (r == -E2BIG || (r >= 0 && found >= 0))
			return -E2BIG;
		if (r >= 0)
			found = r;
	}
	return found;
}

struct bpfvm_map_btf {
	struct bpfvm_obj *btf;
	uint32_t key_id, value_id;
};

int bpfvm_map_btf(struct bpfvm_map *map, const union bpf_attr *a,
		  struct bpfvm_map_btf **out)
{
	int err;
	*out = NULL;
	struct bpfvm_obj *o = bpfvm_fd_get((int)a->btf_fd, BPFVM_OBJ_BTF, NULL,
					   &err);
	if (!o)
		return err;
	const struct btf *b = o->ptr;
	uint64_t size;
	uint32_t key_id = a->btf_key_type_id, value_id = a->btf_value_type_id;
	err = -EINVAL;
	if (a->btf_vmlinux_value_type_id || value_id > b->n || key_id > b->n)
		goto out;
	if (key_id ? type_size(b, key_id, &size, 0) || size != map->key_size
		   : map->map_type != BPF_MAP_TYPE_ARRAY || map->max_entries != 1 ||
		     kind_of(b, resolve(b, value_id)) != K_DATASEC)
		goto out;
	if (type_size(b, value_id, &size, 0) || size != map->value_size)
		goto out;
	int64_t lock = find_lock(b, value_id, 0, 0);
	if (lock == -E2BIG) {
		err = -E2BIG;
		goto out;
	}
	if (lock >= 0) {
		if (map->map_flags & (BPF_F_RDONLY_PROG | BPF_F_WRONLY_PROG)) {
			err = -EACCES;
			goto out;
		}
		if (!bpfvm_map_spin_lock_ok(map->map_type)) {
			err = -EOPNOTSUPP;
			goto out;
		}
	}
	/* the types' own checks: arrays take u32 keys, tries structs */
	uint32_t kid = resolve(b, key_id);
	if (key_id && (map->map_type == BPF_MAP_TYPE_ARRAY ||
		       map->map_type == BPF_MAP_TYPE_PERCPU_ARRAY) &&
	    kind_of(b, kid) != K_INT)
		goto out;
	if (key_id && map->map_type == BPF_MAP_TYPE_LPM_TRIE &&
	    kind_of(b, kid) != K_STRUCT)
		goto out;
	if (lock >= 0 && (err = bpfvm_map_set_spin_lock(map, (uint32_t)lock)))
		goto out;
	struct bpfvm_map_btf *mb = malloc(sizeof(*mb));
	if (!mb) {
		err = -ENOMEM;
		goto out;
	}
	*mb = (struct bpfvm_map_btf){ o, key_id, value_id };
	*out = mb;
	return 0; /* the reference stays with the map */
out:
	bpfvm_obj_put(o);
	return err;
}

void bpfvm_map_btf_ids(const struct bpfvm_map_btf *mb, uint32_t ids[3])
{
	ids[0] = mb->btf->id;
	ids[1] = mb->key_id;
	ids[2] = mb->value_id;
}

void bpfvm_map_btf_free(struct bpfvm_map_btf *mb)
{
	if (mb) {
		bpfvm_obj_put(mb->btf);
		free(mb);
	}
}

/* struct bpf_btf_info: the blob, its size and id. */
int bpfvm_btf_info(struct bpfvm_obj *o, union bpfvm_attr *attr,
		   union bpf_attr *uattr)
{
	union {
		struct bpf_btf_info i;
		uint8_t b[32];
	} u;
	const struct btf *b = o->ptr;
	int len = bpfvm_info_in(attr, 32, 32, &u);
	if (len < 0)
		return len;
	uint32_t room = u.i.btf_size;
	if (room && u.i.btf) {
		memcpy(bpfvm_uptr(u.i.btf), b->data, room < b->size ? room : b->size);
	}
	u.i.btf_size = b->size;
	u.i.id = o->id;
	bpfvm_info_out(attr, uattr, &u, (uint32_t)len);
	return room && room < b->size ? -ENOSPC : 0;
}
