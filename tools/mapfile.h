/* Map files: how `bpfvm map` keeps a map between two commands (a pin under
 * /sys/fs/bpf for bpftool).  The format is described in mapfile.c.  The map
 * itself is reached as bpftool reaches a kernel map: through bpf(2), here
 * bpfvm_bpf().
 * SPDX-License-Identifier: MIT */
#ifndef BPFVM_MAPFILE_H
#define BPFVM_MAPFILE_H

#include <linux/bpf.h>
#include <stddef.h>
#include <stdint.h>

/* A map loaded from its file (or just created), with what saving it needs
 * to know. */
struct mapfile {
	int fd; /* the map's bpfvm_bpf descriptor, or -1 */
	struct bpf_map_info info; /* OBJ_GET_INFO_BY_FD */
	uint32_t numa_node; /* not in info: from the file or create */
	uint32_t ncpus; /* value slots: possible CPUs for per-CPU types, or 1 */
	size_t value_bytes; /* a value as bpf(2) copies it */
	/* hash types: the keys in the file's order, oldest update first */
	uint8_t *keys;
	uint32_t nkeys;
	/* hash types: the key the command updated (moves to the end), or
	 * NULL */
	const void *touched;
	int lock_fd; /* the loaded file, locked until release (or -1) */
	int kernel; /* the running kernel's bpf(2), not bpfvm_bpf (checks) */
};

/* May a map of this type live in a file?  (Not those whose values are
 * other objects' descriptors.) */
int mapfile_type_ok(uint32_t map_type);
int mapfile_is_percpu(uint32_t map_type);

/* BPF_MAP_CREATE into mf (fd, info, sizes): 0 or -errno.  mf must be
 * empty (mapfile_init). */
int mapfile_create(struct mapfile *mf, union bpf_attr *attr);

/* Read path into mf (a new map holding the file's elements; mf->kernel
 * is kept).  0, or -1
 * with a one-line message in err; *usage is set when the file could not be
 * opened at all (a usage error), cleared when its content is bad.  lock:
 * for a command that will save, hold an exclusive lock on the file until
 * mapfile_release, so two commands never lose each other's changes. */
int mapfile_load(const char *path, int lock, struct mapfile *mf, char *err,
		 size_t errlen, int *usage);

/* Write mf's map to path atomically (a temporary file renamed over it).
 * excl: fail with EEXIST if path exists (create).  0 or -errno.  Queue and
 * stack maps are left empty (their elements are popped to be written). */
int mapfile_save(const char *path, struct mapfile *mf, int excl);

/* The bpf(2) map commands on mf's map: 0 or -errno.  key NULL for maps
 * without keys; next_key's key NULL: the first key; pop is
 * MAP_LOOKUP_AND_DELETE_ELEM. */
int mapfile_lookup(const struct mapfile *mf, const void *key, void *value);
int mapfile_update(const struct mapfile *mf, const void *key,
		   const void *value, uint64_t flags);
int mapfile_delete(const struct mapfile *mf, const void *key);
int mapfile_next_key(const struct mapfile *mf, const void *key, void *next);
int mapfile_pop(const struct mapfile *mf, const void *key, void *value);

void mapfile_init(struct mapfile *mf);
/* Close the map and free the key list; drop the lock. */
void mapfile_release(struct mapfile *mf);

#endif
