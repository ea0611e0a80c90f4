/* Map files: how `bpfvm map` keeps a map between two commands (a pin under
 * /sys/fs/bpf for bpftool).  The format is described in mapfile.c.
 * SPDX-License-Identifier: MIT */
#ifndef BPFVM_MAPFILE_H
#define BPFVM_MAPFILE_H

#include <stddef.h>
#include <stdint.h>
#include "map.h"

/* A map loaded from its file, with what saving it needs to know. */
struct mapfile {
	struct bpfvm_map *map;
	/* hash types: the keys in the file's order, oldest update first */
	uint8_t *keys;
	uint32_t nkeys;
	/* hash types: the key the command updated (moves to the end), or
	 * NULL */
	const void *touched;
	int lock_fd; /* the loaded file, locked until release (or -1) */
};

/* May the CLI create maps of this type?  (Types whose values are other
 * objects' descriptors cannot live in a file.) */
int mapfile_type_ok(uint32_t map_type);

/* Read path into mf (a new map holding the file's elements).  0, or -1
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

/* Free the map and the key list. */
void mapfile_release(struct mapfile *mf);

#endif
