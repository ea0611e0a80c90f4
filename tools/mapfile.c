/* Map files: a map kept on disk between two `bpfvm map` commands, as a pin
 * under /sys/fs/bpf keeps a kernel map between two bpftool commands.
 *
 * Format, version 1.  Every integer is little-endian; no padding.
 *
 *   offset size  field
 *        0    8  magic "BPFVMMAP"
 *        8    4  version: 1
 *       12    4  map_type (enum bpf_map_type: 1 hash, 2 array, 5 percpu_hash,
 *                6 percpu_array, 9 lru_hash, 10 lru_percpu_hash, 11 lpm_trie,
 *                22 queue, 23 stack, 27 ringbuf)
 *       16    4  key_size
 *       20    4  value_size
 *       24    4  max_entries
 *       28    4  map_flags (as the map reports them: BPF_F_RDONLY/WRONLY
 *                belong to a descriptor, not to the map, as in the kernel)
 *       32    8  map_extra
 *       40    4  numa_node (used with BPF_F_NUMA_NODE only)
 *       44    4  ncpus: value slots per element (possible CPUs) for the
 *                per-CPU types, which only load on a machine with as many
 *       48   16  name, NUL-padded (at most 15 characters)
 *       64    4  count: number of elements that follow
 *       68       count elements: key_size key bytes, then the value as
 *                bpf(2) returns it (per-CPU types: ncpus slots of
 *                round_up(value_size, 8) bytes, padding included)
 *      end    4  CRC-32 (IEEE, as zlib's crc32) of every byte before it
 *
 * Element order is the order that rebuilds the map's state when the
 * elements are inserted one by one into a new map:
 *  - hash types: oldest update first, which rebuilds an LRU map's list (its
 *    reference bits are not kept);
 *  - arrays: every index in order (count = max_entries); LPM trie: its
 *    iteration order (any order builds the same trie);
 *  - queue and stack: pop order (loading pushes a queue's elements in file
 *    order, a stack's in reverse);
 *  - ringbuf: none (user space cannot write one; its records are lost).
 * A hash map's iteration order depends on its random hash seed, which is
 * not kept: it may change from one command to the next (BPF_F_ZERO_SEED
 * maps keep it).
 *
 * Loading checks everything (magic, version, sizes, count against the file
 * length, checksum, then create and insert through bpf(2)'s own checks) so
 * a foreign, truncated or corrupt file is a one-line error.
 * SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "bpfvm_bpf.h"
#include "mapfile.h"

#define MAGIC "BPFVMMAP"
#define VERSION 1u
#define HDR_SIZE 68u
#define CRC_SIZE 4u
#define MAX_FILE ((uint64_t)1 << 32) /* 4 GiB: beyond, something is wrong */

enum kind { K_NONE, K_HASH, K_WALK, K_QUEUE, K_STACK, K_RINGBUF };

/* What the file layer does with each type it accepts. */
static const uint8_t kinds[] = {
	[BPF_MAP_TYPE_HASH] = K_HASH,
	[BPF_MAP_TYPE_PERCPU_HASH] = K_HASH,
	[BPF_MAP_TYPE_LRU_HASH] = K_HASH,
	[BPF_MAP_TYPE_LRU_PERCPU_HASH] = K_HASH,
	[BPF_MAP_TYPE_ARRAY] = K_WALK,
	[BPF_MAP_TYPE_PERCPU_ARRAY] = K_WALK,
	[BPF_MAP_TYPE_LPM_TRIE] = K_WALK,
	[BPF_MAP_TYPE_QUEUE] = K_QUEUE,
	[BPF_MAP_TYPE_STACK] = K_STACK,
	[BPF_MAP_TYPE_RINGBUF] = K_RINGBUF,
};

static enum kind kind_of(uint32_t type)
{
	return type < sizeof(kinds) ? (enum kind)kinds[type] : K_NONE;
}

int mapfile_type_ok(uint32_t map_type)
{
	return kind_of(map_type) != K_NONE;
}

int mapfile_is_percpu(uint32_t t)
{
	return t == BPF_MAP_TYPE_PERCPU_HASH || t == BPF_MAP_TYPE_PERCPU_ARRAY ||
	       t == BPF_MAP_TYPE_LRU_PERCPU_HASH;
}

/* Possible CPUs as the kernel lists them ("0-3,8"), as bpftool and libbpf
 * count them for per-CPU buffers; 0 if unreadable. */
static uint32_t possible_cpus(void)
{
	char buf[512];
	uint32_t n = 0;
	unsigned a, b;
	int used;
	FILE *f = fopen("/sys/devices/system/cpu/possible", "re");
	if (!f)
		return 0;
	size_t len = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[len] = 0;
	for (const char *p = buf;; p++) {
		if (sscanf(p, "%u-%u%n", &a, &b, &used) == 2 && b >= a)
			n += b - a + 1;
		else if (sscanf(p, "%u%n", &a, &used) == 1)
			n++;
		else
			return 0;
		p += used;
		if (*p != ',')
			return n;
	}
}

/* bpf(2) through bpfvm_bpf, or the running kernel's: 0 (or a
 * descriptor) or -errno */
static int sys(const struct mapfile *mf, int cmd, union bpf_attr *a)
{
	int r = mf->kernel ? (int)syscall(__NR_bpf, cmd, a, sizeof(*a))
			   : bpfvm_bpf(cmd, a, sizeof(*a));
	return r < 0 ? -errno : r;
}

static int elem_cmd(int cmd, const struct mapfile *mf, const void *key,
		    void *value, uint64_t flags)
{
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.map_fd = (uint32_t)mf->fd;
	a.key = (uint64_t)(uintptr_t)key;
	a.value = (uint64_t)(uintptr_t)value;
	a.flags = flags;
	return sys(mf, cmd, &a);
}

int mapfile_lookup(const struct mapfile *mf, const void *key, void *value)
{
	return elem_cmd(BPF_MAP_LOOKUP_ELEM, mf, key, value, 0);
}

int mapfile_update(const struct mapfile *mf, const void *key,
		   const void *value, uint64_t flags)
{
	return elem_cmd(BPF_MAP_UPDATE_ELEM, mf, key, (void *)value, flags);
}

int mapfile_delete(const struct mapfile *mf, const void *key)
{
	return elem_cmd(BPF_MAP_DELETE_ELEM, mf, key, NULL, 0);
}

int mapfile_pop(const struct mapfile *mf, const void *key, void *value)
{
	return elem_cmd(BPF_MAP_LOOKUP_AND_DELETE_ELEM, mf, key, value, 0);
}

int mapfile_next_key(const struct mapfile *mf, const void *key, void *next)
{
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.map_fd = (uint32_t)mf->fd;
	a.key = (uint64_t)(uintptr_t)key;
	a.next_key = (uint64_t)(uintptr_t)next;
	return sys(mf, BPF_MAP_GET_NEXT_KEY, &a);
}

void mapfile_init(struct mapfile *mf)
{
	memset(mf, 0, sizeof(*mf));
	mf->fd = -1;
	mf->lock_fd = -1;
}

int mapfile_create(struct mapfile *mf, union bpf_attr *attr)
{
	union bpf_attr a;
	uint32_t ncpus = 1;

	if (mapfile_is_percpu(attr->map_type) && !(ncpus = possible_cpus()))
		return -ENODEV;
	int fd = sys(mf, BPF_MAP_CREATE, attr);
	if (fd < 0)
		return fd;
	mf->fd = fd;
	memset(&a, 0, sizeof(a));
	a.info.bpf_fd = (uint32_t)fd;
	a.info.info_len = sizeof(mf->info);
	a.info.info = (uint64_t)(uintptr_t)&mf->info;
	int err = sys(mf, BPF_OBJ_GET_INFO_BY_FD, &a);
	if (err)
		return err;
	mf->ncpus = ncpus;
	mf->numa_node = attr->map_flags & BPF_F_NUMA_NODE ? attr->numa_node
							  : UINT32_MAX;
	mf->value_bytes = mapfile_is_percpu(attr->map_type)
		? ((size_t)mf->info.value_size + 7) / 8 * 8 * ncpus
		: mf->info.value_size;
	return 0;
}

static uint32_t crc32(const uint8_t *p, size_t n)
{
	uint32_t table[256], c = 0xffffffffu;
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t t = i;
		for (int k = 0; k < 8; k++)
			t = (t >> 1) ^ (0xedb88320u & (0u - (t & 1u)));
		table[i] = t;
	}
	while (n--)
		c = table[(c ^ *p++) & 0xffu] ^ (c >> 8);
	return ~c;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
	return get32(p) | (uint64_t)get32(p + 4) << 32;
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* Open path; with lock, hold an exclusive lock on the file path names
 * once locked: a writer that got there first renamed a new file over it,
 * and the lock on the old one guards nothing. */
static int open_locked(const char *path, int lock)
{
	for (int tries = 0; tries < 1000; tries++) {
		struct stat a, b;
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || !lock)
			return fd;
		if (flock(fd, LOCK_EX) < 0 || fstat(fd, &a) < 0) {
			int e = errno;
			close(fd);
			errno = e;
			return -1;
		}
		if (stat(path, &b) == 0 && a.st_ino == b.st_ino &&
		    a.st_dev == b.st_dev)
			return fd;
		close(fd);
	}
	errno = EAGAIN;
	return -1;
}

/* The whole file, or NULL with *usage set for an unopenable one.  *fd: the
 * open file, kept by the caller when locked. */
static uint8_t *read_all(const char *path, int lock, int *fd_out, size_t *len,
			 char *err, size_t errlen, int *usage)
{
	struct stat st;
	uint8_t *buf = NULL;
	int fd = open_locked(path, lock);

	*usage = 1;
	*fd_out = -1;
	if (fd < 0) {
		fail(err, errlen, "can't open map file %s: %s", path,
		     strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		fail(err, errlen, "can't open map file %s: %s", path,
		     S_ISDIR(st.st_mode) ? strerror(EISDIR)
					 : "not a regular file");
		goto out;
	}
	*usage = 0;
	if ((uint64_t)st.st_size > MAX_FILE) {
		fail(err, errlen, "%s: not a bpfvm map file (too large)", path);
		goto out;
	}
	*len = (size_t)st.st_size;
	buf = malloc(*len ? *len : 1);
	if (!buf) {
		fail(err, errlen, "%s: out of memory", path);
		goto out;
	}
	for (size_t got = 0; got < *len;) {
		ssize_t n = read(fd, buf + got, *len - got);
		if (n <= 0) {
			fail(err, errlen, "can't read map file %s: %s", path,
			     n < 0 ? strerror(errno) : "file shrank");
			free(buf);
			buf = NULL;
			goto out;
		}
		got += (size_t)n;
	}
	if (lock) {
		*fd_out = fd;
		return buf;
	}
out:
	close(fd);
	return buf;
}

/* Insert the elements of a checked file into a new map. */
static int insert_all(struct mapfile *mf, const uint8_t *elems, uint32_t count,
		      size_t esize, const char *path, char *err, size_t errlen)
{
	enum kind k = kind_of(mf->info.type);
	uint32_t ks = mf->info.key_size;

	for (uint32_t i = 0; i < count; i++) {
		/* a stack's file is in pop order: push the last first */
		uint32_t j = k == K_STACK ? count - 1 - i : i;
		const uint8_t *e = elems + (size_t)j * esize;
		uint64_t flags = k == K_HASH || mf->info.type ==
			BPF_MAP_TYPE_LPM_TRIE ? BPF_NOEXIST : BPF_ANY;
		int r = mapfile_update(mf, ks ? e : NULL, e + ks, flags);
		if (r)
			return fail(err, errlen, "%s: corrupt map file (element "
				    "%u: %s)", path, j, strerror(-r));
	}
	if (k == K_HASH && count) {
		mf->keys = malloc((size_t)count * ks);
		if (!mf->keys)
			return fail(err, errlen, "%s: out of memory", path);
		for (uint32_t i = 0; i < count; i++)
			memcpy(mf->keys + (size_t)i * ks, elems + i * esize, ks);
		mf->nkeys = count;
	}
	return 0;
}

int mapfile_load(const char *path, int lock, struct mapfile *mf, char *err,
		 size_t errlen, int *usage)
{
	size_t len = 0;
	int ret = -1;

	int kernel = mf->kernel;
	mapfile_init(mf);
	mf->kernel = kernel;
	uint8_t *buf = read_all(path, lock, &mf->lock_fd, &len, err, errlen,
				usage);
	if (!buf)
		return -1;
	if (len < 8 || memcmp(buf, MAGIC, 8)) {
		fail(err, errlen, "%s: not a bpfvm map file", path);
		goto out;
	}
	if (len < HDR_SIZE + CRC_SIZE) {
		fail(err, errlen, "%s: truncated map file", path);
		goto out;
	}
	uint32_t version = get32(buf + 8);
	if (version != VERSION) {
		fail(err, errlen, "%s: map file version %u, bpfvm reads "
		     "version %u", path, version, VERSION);
		goto out;
	}
	union bpf_attr attr;
	memset(&attr, 0, sizeof(attr));
	attr.map_type = get32(buf + 12);
	attr.key_size = get32(buf + 16);
	attr.value_size = get32(buf + 20);
	attr.max_entries = get32(buf + 24);
	attr.map_flags = get32(buf + 28);
	attr.map_extra = get64(buf + 32);
	attr.numa_node = get32(buf + 40);
	uint32_t ncpus = get32(buf + 44);
	uint32_t count = get32(buf + 64);
	if (!mapfile_type_ok(attr.map_type) || !memchr(buf + 48, 0, 16)) {
		fail(err, errlen, "%s: corrupt map file (bad header)", path);
		goto out;
	}
	memcpy(attr.map_name, buf + 48, 16);
	uint32_t want_cpus = mapfile_is_percpu(attr.map_type) ? possible_cpus() : 1;
	if (ncpus != want_cpus) {
		fail(err, errlen, "%s: map saved with %u CPUs, this machine has "
		     "%u", path, ncpus, want_cpus);
		goto out;
	}
	/* element size in 64 bits: per-CPU values reach 2^44 bytes */
	uint64_t vsize = mapfile_is_percpu(attr.map_type)
		? ((uint64_t)attr.value_size + 7) / 8 * 8 * ncpus
		: attr.value_size;
	uint64_t esize = attr.key_size + vsize;
	uint64_t body = len - HDR_SIZE - CRC_SIZE;
	if (esize == 0 ? count != 0 : count > body / esize) {
		fail(err, errlen, "%s: truncated map file", path);
		goto out;
	}
	if ((uint64_t)count * esize != body) {
		fail(err, errlen, "%s: corrupt map file (%llu bytes after the "
		     "elements)", path,
		     (unsigned long long)(body - (uint64_t)count * esize));
		goto out;
	}
	if (crc32(buf, len - CRC_SIZE) != get32(buf + len - CRC_SIZE)) {
		fail(err, errlen, "%s: corrupt map file (checksum mismatch)",
		     path);
		goto out;
	}
	if (count > attr.max_entries) {
		fail(err, errlen, "%s: corrupt map file (%u elements, "
		     "max_entries %u)", path, count, attr.max_entries);
		goto out;
	}
	int r = mapfile_create(mf, &attr);
	if (r) {
		fail(err, errlen, "%s: corrupt map file (map create failed: %s)",
		     path, strerror(-r));
		goto out;
	}
	ret = insert_all(mf, buf + HDR_SIZE, count, (size_t)esize, path, err,
			 errlen);
	if (ret)
		mapfile_release(mf);
out:
	free(buf);
	return ret;
}

/* A growing output buffer; grow failures stick (err). */
struct out {
	uint8_t *p;
	size_t len, cap;
	int err;
};

static uint8_t *out_add(struct out *o, size_t n)
{
	if (o->err)
		return NULL;
	if (n > o->cap - o->len) {
		size_t cap = o->cap ? o->cap : 4096;
		while (cap - o->len < n) {
			if (cap > SIZE_MAX / 2) {
				o->err = -ENOMEM;
				return NULL;
			}
			cap *= 2;
		}
		uint8_t *p = realloc(o->p, cap);
		if (!p) {
			o->err = -ENOMEM;
			return NULL;
		}
		o->p = p;
		o->cap = cap;
	}
	o->len += n;
	return o->p + o->len - n;
}

/* Append key and value if key is in the map; 1 if it was. */
static int emit_key(struct out *o, const struct mapfile *mf, const void *key)
{
	size_t ks = mf->info.key_size;
	uint8_t *e = out_add(o, ks + mf->value_bytes);
	if (!e)
		return 0;
	memcpy(e, key, ks);
	if (mapfile_lookup(mf, key, e + ks) == 0)
		return 1;
	o->len -= ks + mf->value_bytes;
	return 0;
}

/* The elements in the order described at the top; their count. */
static uint32_t emit_elems(struct out *o, struct mapfile *mf)
{
	uint32_t ks = mf->info.key_size, n = 0;
	size_t vsize = mf->value_bytes;
	uint8_t *key;

	switch (kind_of(mf->info.type)) {
	case K_HASH:
		for (uint32_t i = 0; i < mf->nkeys; i++) {
			const uint8_t *k = mf->keys + (size_t)i * ks;
			if (!mf->touched || memcmp(k, mf->touched, ks))
				n += (uint32_t)emit_key(o, mf, k);
		}
		if (mf->touched)
			n += (uint32_t)emit_key(o, mf, mf->touched);
		break;
	case K_WALK:
		/* key and next apart, as bpf(2) copies them */
		key = malloc(2 * (size_t)ks + 1);
		if (!key) {
			o->err = -ENOMEM;
			break;
		}
		for (int r = mapfile_next_key(mf, NULL, key + ks); r == 0;
		     r = mapfile_next_key(mf, key, key + ks)) {
			memcpy(key, key + ks, ks);
			n += (uint32_t)emit_key(o, mf, key);
		}
		free(key);
		break;
	case K_QUEUE:
	case K_STACK:
		for (;;) {
			uint8_t *v = out_add(o, vsize);
			if (!v)
				break;
			if (mapfile_pop(mf, NULL, v)) {
				o->len -= vsize;
				break;
			}
			n++;
		}
		break;
	default:
		break;
	}
	return n;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Write the bytes to a temporary file beside path, then put it in place. */
static int put_file(const char *path, const uint8_t *p, size_t n, int excl)
{
	size_t plen = strlen(path);
	char *tmp = malloc(plen + 8);
	struct stat st;
	int err;

	if (!tmp)
		return -ENOMEM;
	memcpy(tmp, path, plen);
	memcpy(tmp + plen, ".XXXXXX", 8);
	int fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		free(tmp);
		return err;
	}
	/* a new file gets the usual mode; a saved one keeps its own */
	mode_t mask = umask(0);
	umask(mask);
	mode_t mode = !excl && stat(path, &st) == 0 ? st.st_mode & 07777
						    : 0666 & ~mask;
	err = write_all(fd, p, n);
	if (!err && (fchmod(fd, mode) < 0 || fsync(fd) < 0))
		err = -errno;
	if (close(fd) < 0 && !err)
		err = -errno;
	if (!err && excl)
		err = link(tmp, path) < 0 ? -errno : 0; /* EEXIST: keep it */
	else if (!err)
		err = rename(tmp, path) < 0 ? -errno : 0;
	if (excl || err)
		unlink(tmp);
	free(tmp);
	return err;
}

int mapfile_save(const char *path, struct mapfile *mf, int excl)
{
	const struct bpf_map_info *i = &mf->info;
	struct out o = { 0 };
	uint8_t *h = out_add(&o, HDR_SIZE);

	if (!h)
		return o.err;
	memset(h, 0, HDR_SIZE);
	memcpy(h, MAGIC, 8);
	put32(h + 8, VERSION);
	put32(h + 12, i->type);
	put32(h + 16, i->key_size);
	put32(h + 20, i->value_size);
	put32(h + 24, i->max_entries);
	put32(h + 28, i->map_flags);
	put64(h + 32, i->map_extra);
	put32(h + 40, mf->numa_node);
	put32(h + 44, mf->ncpus);
	memcpy(h + 48, i->name, 15);
	uint32_t n = emit_elems(&o, mf);
	uint8_t *c = out_add(&o, CRC_SIZE);
	int err = o.err;
	if (!err) {
		put32(o.p + 64, n);
		put32(c, crc32(o.p, o.len - CRC_SIZE));
		/* through a symbolic link: replace its target, not the link */
		char *real = excl ? NULL : realpath(path, NULL);
		err = put_file(real ? real : path, o.p, o.len, excl);
		free(real);
	}
	free(o.p);
	return err;
}

void mapfile_release(struct mapfile *mf)
{
	if (mf->fd >= 0 && mf->kernel)
		close(mf->fd);
	else if (mf->fd >= 0)
		bpfvm_close(mf->fd);
	mf->fd = -1;
	free(mf->keys);
	if (mf->lock_fd >= 0)
		close(mf->lock_fd); /* after the rename: the lock goes last */
	mf->lock_fd = -1;
	mf->keys = NULL;
	mf->nkeys = 0;
}
