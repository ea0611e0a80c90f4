/* The bpf(2) layer's objects (maps, programs, BTF) and the descriptors
 * that name them.  bpf(2) descriptors belong to the process, so this
 * registry is the one process-wide piece of mutable state in bpfvm: a
 * descriptor table (lock-free lookups, writers under one lock), one id
 * space per kind as the kernel's idr, and the epoch domain.
 *
 * A descriptor is a real file descriptor (a close-on-exec memfd, or a dup
 * of an MMAPABLE array's memfd), remembered with its st_dev/st_ino and a
 * cookie set as the file's offset: a descriptor closed with plain close()
 * is EBADF, and one whose number came back for another file is EINVAL, as
 * the kernel says for that file.  A dup of a descriptor (same
 * st_dev/st_ino) names the same object with the same rights, and gets a
 * slot of its own on first use.
 * SPDX-License-Identifier: MIT */
#ifndef BPFVM_FDTABLE_H
#define BPFVM_FDTABLE_H

#include <stdint.h>

enum bpfvm_obj_kind { BPFVM_OBJ_MAP = 1, BPFVM_OBJ_PROG = 2, BPFVM_OBJ_BTF = 3 };

/* What a descriptor may do (the kernel's FMODE_CAN_READ/WRITE). */
#define BPFVM_FMODE_READ 1u
#define BPFVM_FMODE_WRITE 2u
#define BPFVM_FMODE_RW (BPFVM_FMODE_READ | BPFVM_FMODE_WRITE)

struct bpfvm_obj {
	uint32_t kind;
	uint32_t id;      /* 0 until registered */
	uint32_t refcnt;  /* atomic: descriptors, programs, map slots */
	uint32_t usercnt; /* atomic: descriptors only (prog array clearing) */
	void *ptr;        /* struct bpfvm_map *, or the program's struct bpfvm * */
	void *priv;       /* the kind's extra state */
	uint32_t frozen;  /* maps: MAP_FREEZE done (atomic) */
	/* last reference gone: free ptr and priv (not the obj) */
	void (*release)(struct bpfvm_obj *o);
	/* last descriptor gone (may be NULL) */
	void (*user_gone)(struct bpfvm_obj *o);
};

/* The epoch domain of every object bpf(2) makes (NULL if out of memory):
 * maps reclaim elements through it, program runs enter it, and an object
 * whose last reference goes is freed only once no run that began before
 * is left (the kernel's RCU grace period). */
struct bpfvm_epoch *bpfvm_obj_epoch(void);

/* A new object (refcnt 1, the caller's; ptr and priv NULL for the caller
 * to set), or NULL.  Objects are recycled, never freed: descriptor lookups
 * take no lock.  Give one back with bpfvm_obj_put (release must take NULL
 * ptr and priv). */
struct bpfvm_obj *bpfvm_obj_new(uint32_t kind,
				void (*release)(struct bpfvm_obj *),
				void (*user_gone)(struct bpfvm_obj *));

/* Give o (refcnt 1, owned by the caller) its id and make it findable. */
int bpfvm_obj_register(struct bpfvm_obj *o);
void bpfvm_obj_get(struct bpfvm_obj *o);
/* The last put unregisters o; release and free follow once the epoch
 * says no run can still use it. */
void bpfvm_obj_put(struct bpfvm_obj *o);

/* The object whose ptr is p, with a reference, or NULL. */
struct bpfvm_obj *bpfvm_obj_by_ptr(const void *p);
/* By id, with a reference: NULL if none (or dying). */
struct bpfvm_obj *bpfvm_obj_by_id(uint32_t kind, uint32_t id);
/* The smallest id above start: 0 and *next, or -ENOENT. */
int bpfvm_obj_next_id(uint32_t kind, uint32_t start, uint32_t *next);

/* A new descriptor for o with rights fmode; it takes a reference and a user
 * reference of its own.  dupfrom >= 0: the descriptor is a close-on-exec
 * dup of it (an MMAPABLE array's memfd), else a new memfd.  The
 * descriptor, or -errno. */
int bpfvm_fd_install(struct bpfvm_obj *o, uint32_t fmode, int dupfrom);
/* The object behind fd with a reference, its rights in *fmode (may be
 * NULL): NULL with -EBADF (closed) or -EINVAL (not a bpf descriptor, or
 * kind differs; kind 0 takes any) in *err. */
struct bpfvm_obj *bpfvm_fd_get(int fd, uint32_t kind, uint32_t *fmode,
			       int *err);
/* Forget fd (if it is ours) and close it: close(2)'s result. */
int bpfvm_fd_close(int fd);

/* Whether fd is checked against the file it was made for on every use
 * (one lseek: the file's offset is a cookie; a system call, 0.2 us here,
 * which is more than a whole map lookup).  Off by default: a descriptor
 * released with bpfvm_fd_close is always known closed, and a number that
 * comes back for a new object drops the slot it had. */
void bpfvm_fd_set_check(int on);

#endif
