/* What the Check tests share: the environment meson test sets, a
 * scratch directory, whole-file I/O, running the bpfvm command, a
 * deterministic random source, map creation, and main()'s suite runner
 * (linked into every test by tests/meson.build).  Every helper
 * asserts (ck_assert) instead of returning errors: a test's setup failing
 * is the test failing.
 * SPDX-License-Identifier: MIT */
#ifndef BPFVM_TESTUTIL_H
#define BPFVM_TESTUTIL_H

#include <check.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/bpf.h>

struct bpfvm_map;
struct dirent;

/* $name, or def when unset; def NULL: it must be set (by meson test). */
const char *tu_env(const char *name, const char *def);

/* A fresh directory under /tmp for this test program (usable as a Check
 * fixture), its path, and its removal with everything in it. */
void tu_tmpdir_make(void);
void tu_tmpdir_remove(void);
const char *tu_tmpdir(void);

/* The whole file in buf (at most cap - 1 bytes, NUL-terminated); returns
 * its length. */
size_t tu_read_file(const char *path, void *buf, size_t cap);
/* The whole file, malloc'ed and NUL-terminated; *len its length if len. */
char *tu_read_all(const char *path, size_t *len);
/* The same, but NULL when the file cannot be opened (optional material). */
char *tu_try_read_all(const char *path, size_t *len);
/* Split line at sep in place into at most max fields; returns the count. */
size_t tu_split(char *line, char sep, char **out, size_t max);
void tu_write_file(const char *path, const void *data, size_t len);

/* A scandir filter: test vector files, "NAME.data". */
int tu_data_file(const struct dirent *e);

/* Run $BPFVM_BIN with args (NULL-terminated, without argv[0]) in cwd
 * (NULL: this one); stdout and stderr are captured, through files in
 * tu_tmpdir(), in out and err (NUL-terminated, truncated to fit).
 * Returns the exit status; dying on a signal fails the test. */
int tu_bpfvm(const char *const args[], const char *cwd, char *out,
	     size_t out_cap, char *err, size_t err_cap);

/* xorshift64: the same sequence on every run from the same nonzero seed. */
uint64_t tu_rnd(uint64_t *s);

/* A random key for a map of this type and key size with max entries:
 * few distinct ones, so updates, deletes and misses all happen; LPM trie
 * keys get every prefix length up to past the maximum. */
void tu_rand_map_key(uint64_t *s, uint32_t type, uint32_t key_size,
		     uint32_t max_entries, uint8_t *key);

/* A map create's attributes: these, the rest zero. */
union bpf_attr tu_map_attr(uint32_t type, uint32_t key, uint32_t value,
			   uint32_t entries, uint32_t flags);

/* Does the running kernel create a map for us (bpf(2) usable here)?
 * 0, or -errno; the kernel comparisons skip when not. */
int tu_kernel_maps(void);

/* bpfvm_map_create that must succeed. */
struct bpfvm_map *tu_map(uint32_t type, uint32_t key, uint32_t value,
			 uint32_t entries, uint32_t flags);

/* Run every test of s (CK_ENV: CK_FORK=no etc. apply); main's status. */
int tu_run_suite(Suite *s);

#endif
