/* Between the bpf(2) dispatcher (bpf_syscall.c) and the program objects
 * (bpf_prog.c).
 * SPDX-License-Identifier: MIT */
#ifndef BPFVM_BPF_SYSCALL_H
#define BPFVM_BPF_SYSCALL_H

#include <linux/bpf.h>
#include <stdint.h>
#include <string.h>

/* sizeof(union bpf_attr) in Linux 6.18; the system header is 6.1's. */
#define BPFVM_ATTR_SIZE 168

/* The kernel's copy of attr: 6.1's union, padded to 6.18's size. */
union bpfvm_attr {
	union bpf_attr a;
	uint8_t b[BPFVM_ATTR_SIZE];
	uint64_t align;
};

/* Fields past 6.1's layout, by offset. */
static inline uint32_t bpfvm_attr_u32(const union bpfvm_attr *a, size_t off)
{
	uint32_t v;
	memcpy(&v, a->b + off, sizeof(v));
	return v;
}

static inline uint64_t bpfvm_attr_u64(const union bpfvm_attr *a, size_t off)
{
	uint64_t v;
	memcpy(&v, a->b + off, sizeof(v));
	return v;
}

static inline void *bpfvm_uptr(uint64_t p)
{
	return (void *)(uintptr_t)p;
}

/* Kernel flags newer than 6.1. */
#define BPFVM_F_TOKEN_FD (1u << 16)
#define BPFVM_ENOTSUPP 524

/* BTF (bpf_btf.c): BTF_LOAD; a map's BTF (btf_fd, key and value type
 * ids: checked, and its spin lock given to the map); BTF info. */
struct bpfvm_map;
struct bpfvm_map_btf;
int bpfvm_btf_load_cmd(union bpfvm_attr *attr);
int bpfvm_map_btf(struct bpfvm_map *map, const union bpf_attr *a,
		  struct bpfvm_map_btf **out);
void bpfvm_map_btf_ids(const struct bpfvm_map_btf *mb, uint32_t ids[3]);
void bpfvm_map_btf_free(struct bpfvm_map_btf *mb);

/* The kernel's object name rule (bpf_obj_name_cpy): 0 or -EINVAL. */
int bpfvm_obj_name(char dst[BPF_OBJ_NAME_LEN], const char *src);

/* The program commands (bpf_prog.c): >= 0 or -errno. */
int bpfvm_prog_load_cmd(union bpfvm_attr *attr, union bpf_attr *uattr,
			unsigned int size);
int bpfvm_prog_test_run_cmd(union bpfvm_attr *attr, union bpf_attr *uattr);
struct bpfvm_obj;
int bpfvm_prog_info(struct bpfvm_obj *o, union bpfvm_attr *attr,
		    union bpf_attr *uattr);
int bpfvm_btf_info(struct bpfvm_obj *o, union bpfvm_attr *attr,
		   union bpf_attr *uattr);

/* OBJ_GET_INFO_BY_FD's info_len rule: the caller's bytes past the last
 * field's end must be zero (E2BIG); then min(len, size) of them are read
 * into buf (zeroed up to size), as the kernel starts from them.  The length,
 * or -errno.  _out copies len bytes back and writes info_len. */
int bpfvm_info_in(const union bpfvm_attr *attr, uint32_t end, uint32_t size,
		  void *buf);
void bpfvm_info_out(const union bpfvm_attr *attr, union bpf_attr *uattr,
		    const void *buf, uint32_t len);

#endif
