/* Helpers shared by the Check tests; see testutil.h.
 * SPDX-License-Identifier: MIT */
#include "testutil.h"

#include <errno.h> /* program_invocation_short_name (_GNU_SOURCE) */
#include <dirent.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "map.h"

const char *tu_env(const char *name, const char *def)
{
	const char *v = getenv(name);
	ck_assert_msg(v || def, "%s is not set (run through meson test)", name);
	return v ? v : def;
}

/* One per test program: fixtures take no arguments. */
static char tmpdir[256];

void tu_tmpdir_make(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/bpfvm-%s-XXXXXX",
		 program_invocation_short_name);
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

void tu_tmpdir_remove(void)
{
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", tmpdir);
}

const char *tu_tmpdir(void)
{
	return tmpdir;
}

size_t tu_read_file(const char *path, void *buf, size_t cap)
{
	FILE *f = fopen(path, "rb");
	ck_assert_msg(f != NULL, "cannot open %s: %s", path, strerror(errno));
	size_t n = fread(buf, 1, cap - 1, f);
	fclose(f);
	((char *)buf)[n] = 0;
	return n;
}

char *tu_try_read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
	long n = ftell(f);
	ck_assert_int_ge(n, 0);
	ck_assert_int_eq(fseek(f, 0, SEEK_SET), 0);
	char *buf = malloc((size_t)n + 1);
	ck_assert_ptr_nonnull(buf);
	ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = 0;
	fclose(f);
	if (len)
		*len = (size_t)n;
	return buf;
}

char *tu_read_all(const char *path, size_t *len)
{
	char *buf = tu_try_read_all(path, len);
	ck_assert_msg(buf != NULL, "%s: %s", path, strerror(errno));
	return buf;
}

size_t tu_split(char *line, char sep, char **out, size_t max)
{
	size_t n = 0;
	out[n++] = line;
	for (char *p = line; *p && n < max; p++)
		if (*p == sep) {
			*p = 0;
			out[n++] = p + 1;
		}
	return n;
}

void tu_write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	ck_assert_msg(f != NULL, "cannot create %s: %s", path, strerror(errno));
	ck_assert_uint_eq(fwrite(data, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
}

int tu_data_file(const struct dirent *e)
{
	size_t len = strlen(e->d_name);
	return len > 5 && !strcmp(e->d_name + len - 5, ".data");
}

int tu_bpfvm(const char *const args[], const char *cwd, char *out,
	     size_t out_cap, char *err, size_t err_cap)
{
	const char *argv[64] = { tu_env("BPFVM_BIN", "build/bpfvm") };
	char opath[300], epath[300];
	int argc = 1, status;

	for (; args[argc - 1] && argc < 63; argc++)
		argv[argc] = args[argc - 1];
	argv[argc] = NULL;

	snprintf(opath, sizeof(opath), "%s/.out", tmpdir);
	snprintf(epath, sizeof(epath), "%s/.err", tmpdir);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int o = open(opath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int e = open(epath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (o < 0 || e < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0 ||
		    (cwd && chdir(cwd) < 0))
			_exit(126);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status), "bpfvm %s: killed by signal %d",
		      argv[1] ? argv[1] : "", WTERMSIG(status));
	tu_read_file(opath, out, out_cap);
	tu_read_file(epath, err, err_cap);
	ck_assert_msg(WEXITSTATUS(status) != 127, "cannot run %s", argv[0]);
	return WEXITSTATUS(status);
}

uint64_t tu_rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

void tu_rand_map_key(uint64_t *s, uint32_t type, uint32_t key_size,
		     uint32_t max_entries, uint8_t *key)
{
	memset(key, 0, key_size);
	if (type == BPF_MAP_TYPE_LPM_TRIE) {
		uint32_t plen =
			(uint32_t)(tu_rnd(s) % (key_size * 8 - 32 + 3));
		memcpy(key, &plen, 4);
		key[4] = (uint8_t)(tu_rnd(s) % 2 ? 10 : 192);
		for (uint32_t i = 5; i < key_size; i++)
			key[i] = (uint8_t)(tu_rnd(s) % 3);
		return;
	}
	uint32_t k = (uint32_t)(tu_rnd(s) % (max_entries + 3));
	memcpy(key, &k, key_size < 4 ? key_size : 4);
}

union bpf_attr tu_map_attr(uint32_t type, uint32_t key, uint32_t value,
			   uint32_t entries, uint32_t flags)
{
	union bpf_attr a;
	memset(&a, 0, sizeof a);
	a.map_type = type;
	a.key_size = key;
	a.value_size = value;
	a.max_entries = entries;
	a.map_flags = flags;
	return a;
}

int tu_kernel_maps(void)
{
	union bpf_attr a = tu_map_attr(BPF_MAP_TYPE_ARRAY, 4, 4, 1, 0);
	long fd = syscall(__NR_bpf, BPF_MAP_CREATE, &a, sizeof(a));
	if (fd < 0)
		return -errno;
	close((int)fd);
	return 0;
}

struct bpfvm_map *tu_map(uint32_t type, uint32_t key, uint32_t value,
			 uint32_t entries, uint32_t flags)
{
	union bpf_attr a = tu_map_attr(type, key, value, entries, flags);
	struct bpfvm_map *m = NULL;
	int err = bpfvm_map_create(&a, &m);
	ck_assert_msg(err == 0, "create type %u: %d", type, err);
	return m;
}

int tu_run_suite(Suite *s)
{
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
