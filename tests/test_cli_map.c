/* `bpfvm map` ($BPFVM_BIN) as a user runs it: bpftool's output format
 * (print_entry_plain, "Found N elements", "Not found", "Error: update
 * failed: File exists"), the kernel's errno for each case, the map's state
 * carried from one command to the next through FILE, and one-line errors
 * for bad map files and arguments.
 * SPDX-License-Identifier: MIT */
#include <check.h>
#include <dirent.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "testutil.h"

static char out[1 << 16], err[1 << 12]; /* the last command's outputs */
static const char *subdir; /* commands run in tmpdir/subdir if set */

/* Run "bpfvm ARGS" (ARGS: a printf format, words split at spaces) in
 * tmpdir (or tmpdir/subdir); capture stdout and stderr; return the exit
 * status. */
static int run(const char *fmt, ...)
{
	char line[1024], cwd[512], *save = NULL;
	const char *args[64];
	int argc = 0;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	for (char *w = strtok_r(line, " ", &save); w && argc < 62;
	     w = strtok_r(NULL, " ", &save))
		args[argc++] = w;
	args[argc] = NULL;
	snprintf(cwd, sizeof(cwd), "%s/%s", tu_tmpdir(), subdir ? subdir : ".");
	return tu_bpfvm(args, cwd, out, sizeof(out), err, sizeof(err));
}

/* Commands run in tmpdir: map files are plain names. */

/* Succeeds, with this exact stdout and nothing on stderr. */
static void ok(const char *want, const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	int rc = run("%s", cmd);
	ck_assert_msg(rc == 0, "%s: exit %d, stderr '%s'", cmd, rc, err);
	ck_assert_msg(!strcmp(out, want), "%s:\n got '%s'\nwant '%s'", cmd,
		      out, want);
	ck_assert_msg(!err[0], "%s: stderr '%s'", cmd, err);
}

/* Fails with status and exactly one line on stderr, "Error: ...want". */
static void fails(int status, const char *want, const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	int rc = run("%s", cmd);
	size_t len = strlen(err);
	ck_assert_msg(rc == status, "%s: exit %d, want %d (stderr '%s')", cmd,
		      rc, status, err);
	ck_assert_msg(len > 0 && err[len - 1] == '\n' &&
			      strchr(err, '\n') == err + len - 1,
		      "%s: not one line: '%s'", cmd, err);
	ck_assert_msg(!strncmp(err, "Error: ", 7), "%s: '%s'", cmd, err);
	ck_assert_msg(strstr(err, want), "%s: '%s' lacks '%s'", cmd, err, want);
}

static const char *path(const char *name)
{
	static char p[4][512];
	static int next;
	char *s = p[next++ % 4];
	snprintf(s, 512, "%s/%s", tu_tmpdir(), name);
	return s;
}

/* Number of entries in tmpdir other than the captured outputs. */
static int files_in_tmpdir(void)
{
	DIR *d = opendir(tu_tmpdir());
	struct dirent *e;
	int n = 0;
	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

/* ---- hash and array ---------------------------------------------------- */

START_TEST(hash_commands)
{
	ok("", "map create h type hash key 4 value 8 entries 4 name counts");
	ok("Found 0 elements\n", "map dump h");
	/* bpftool's show lines, after the map's id */
	ck_assert_int_eq(run("map show h"), 0);
	ck_assert_msg(strspn(out, "0123456789") > 0 &&
		      !strcmp(out + strspn(out, "0123456789"),
			      ": hash  name counts  flags 0x0\n"
			      "\tkey 4B  value 8B  max_entries 4\n"), "%s", out);
	ok("", "map update h key 1 0 0 0 value 1 2 3 4 5 6 7 8");
	/* "hex" bytes, and the 0x form */
	ok("", "map update h key hex 02 00 00 00 value hex 0a 0b 0c 0d 0e 0f 10 ff");
	ok("key: 01 00 00 00  value: 01 02 03 04 05 06 07 08\n",
	   "map lookup h key 0x01 0 0 0");
	ok("key: 02 00 00 00  value: 0a 0b 0c 0d 0e 0f 10 ff\n",
	   "map lookup h key 2 0 0 0");
	/* a hash map's order is its own: check the set */
	ck_assert_int_eq(run("map dump h"), 0);
	ck_assert_msg(strstr(out, "key: 01 00 00 00  value: 01 02 03 04 05 06 07 08\n") &&
		      strstr(out, "key: 02 00 00 00  value: 0a 0b 0c 0d 0e 0f 10 ff\n"),
		      "%s", out);
	ck_assert_uint_eq(strlen(out), 2 * 49 + strlen("Found 2 elements\n"));
	ck_assert_msg(!strcmp(out + 98, "Found 2 elements\n"), "%s", out);
	/* the update replaced the value; exist on an existing key is fine */
	ok("", "map update h key 1 0 0 0 value 8 7 6 5 4 3 2 1 exist");
	ok("key: 01 00 00 00  value: 08 07 06 05 04 03 02 01\n",
	   "map lookup h key 1 0 0 0");
	ok("", "map delete h key 1 0 0 0");
	ok("key: 02 00 00 00  value: 0a 0b 0c 0d 0e 0f 10 ff\nFound 1 element\n",
	   "map dump h");
	ok("key: None\nnext key:\n02 00 00 00\n", "map getnext h");
	/* values over 16 bytes: names on lines of their own (bpftool) */
	ok("", "map create big type hash key 4 value 20 entries 2");
	ok("", "map update big key 1 0 0 0 value 0 1 2 3 4 5 6 7 8 9 10 11 12 "
	   "13 14 15 16 17 18 19");
	ok("key:\n01 00 00 00\nvalue:\n00 01 02 03 04 05 06 07  08 09 0a 0b 0c "
	   "0d 0e 0f\n10 11 12 13\n", "map lookup big key 1 0 0 0");
}
END_TEST

/* getnext from one command to the next walks every key once (a zero-seed
 * map keeps its order across loads), then ENOENT. */
START_TEST(hash_getnext_walk)
{
	char seen[8] = { 0 }, key[64];
	unsigned k;

	ok("", "map create h type hash key 4 value 4 entries 8 flags 0x40");
	for (int i = 1; i <= 5; i++)
		ok("", "map update h key %d 0 0 0 value %d 0 0 0", i, i);
	ck_assert_int_eq(run("map getnext h"), 0);
	for (int n = 0;; n++) {
		ck_assert_int_lt(n, 6);
		char *nk = strstr(out, "next key:\n");
		ck_assert_ptr_nonnull(nk);
		ck_assert_int_eq(sscanf(nk, "next key:\n%x 00 00 00\n", &k), 1);
		ck_assert_msg(k >= 1 && k <= 5 && !seen[k], "key %u", k);
		seen[k] = 1;
		snprintf(key, sizeof(key), "%u 0 0 0", k);
		if (n == 4)
			break;
		ck_assert_int_eq(run("map getnext h key %s", key), 0);
	}
	fails(1, "can't get next key: No such file or directory",
	      "map getnext h key %s", key);
}
END_TEST

START_TEST(array_commands)
{
	ok("", "map create a type array key 4 value 4 entries 3");
	ok("key: 00 00 00 00  value: 00 00 00 00\n"
	   "key: 01 00 00 00  value: 00 00 00 00\n"
	   "key: 02 00 00 00  value: 00 00 00 00\n"
	   "Found 3 elements\n", "map dump a");
	ok("", "map update a key 1 0 0 0 value 0xde 0xad 0xbe 0xef");
	ok("key: 00 00 00 00  value: 00 00 00 00\n"
	   "key: 01 00 00 00  value: de ad be ef\n"
	   "key: 02 00 00 00  value: 00 00 00 00\n"
	   "Found 3 elements\n", "map dump a");
	ok("key: None\nnext key:\n00 00 00 00\n", "map getnext a");
	ok("key:\n01 00 00 00\nnext key:\n02 00 00 00\n",
	   "map getnext a key 1 0 0 0");
	/* the kernel: a key past the end restarts at 0 */
	ok("key:\n09 00 00 00\nnext key:\n00 00 00 00\n",
	   "map getnext a key 9 0 0 0");
}
END_TEST

/* ---- errno, in bpftool's words ----------------------------------------- */

START_TEST(errno_messages)
{
	char before[4096], after[4096];

	ok("", "map create h type hash key 4 value 4 entries 2");
	ok("", "map update h key 1 0 0 0 value 1 0 0 0");
	size_t n = tu_read_file(path("h"), before, sizeof(before));
	fails(1, "update failed: File exists",
	      "map update h key 1 0 0 0 value 2 0 0 0 noexist");
	fails(1, "update failed: No such file or directory",
	      "map update h key 7 0 0 0 value 2 0 0 0 exist");
	fails(1, "delete failed: No such file or directory",
	      "map delete h key 7 0 0 0");
	/* failed commands leave the file as it was */
	ck_assert_uint_eq(tu_read_file(path("h"), after, sizeof(after)), n);
	ck_assert(!memcmp(before, after, n));
	ok("", "map update h key 2 0 0 0 value 2 0 0 0");
	fails(1, "update failed: Argument list too long",
	      "map update h key 3 0 0 0 value 3 0 0 0");
	/* lookup of a missing key: bpftool's "Not found" on stdout, status 1 */
	ck_assert_int_eq(run("map lookup h key 9 0 0 0"), 1);
	ck_assert_str_eq(out, "key:\n09 00 00 00\n\nNot found\n");
	ck_assert_str_eq(err, "");

	ok("", "map create a type array key 4 value 4 entries 2");
	fails(1, "delete failed: Invalid argument", "map delete a key 0 0 0 0");
	fails(1, "update failed: Argument list too long",
	      "map update a key 2 0 0 0 value 1 0 0 0");
	fails(1, "update failed: File exists",
	      "map update a key 0 0 0 0 value 1 0 0 0 noexist");
	ck_assert_int_eq(run("map lookup a key 2 0 0 0"), 1);
	ck_assert_str_eq(out, "key:\n02 00 00 00\n\nNot found\n");
	/* create's own checks: the map layer's EINVAL */
	fails(1, "map create failed: Invalid argument",
	      "map create z type hash key 0 value 4 entries 4");
	fails(1, "map create failed: Invalid argument",
	      "map create z type array key 8 value 4 entries 4");
	fails(1, "map create failed: Invalid argument",
	      "map create z type hash key 4 value 4 entries 4 name bad-name!");
	/* create does not replace a file, as a pin does not */
	fails(1, "can't pin the object (h): File exists",
	      "map create h type hash key 4 value 4 entries 2");
	ck_assert_int_eq(access(path("z"), F_OK), -1);
}
END_TEST

/* ---- queue and stack (the map chapter's example) ----------------------- */

START_TEST(queue_and_stack)
{
	static const char *const types[] = { "queue", "stack" };
	char want[64];

	for (int t = 0; t < 2; t++) {
		ok("", "map create q%d type %s key 0 value 4 entries 5", t, types[t]);
		for (int i = 0; i < 5; i++)
			ok("", "map push q%d value %d 0 0 0", t, i);
		fails(1, "update failed: Argument list too long",
		      "map push q%d value 5 0 0 0", t);
		/* peek shows without taking */
		snprintf(want, sizeof(want), "value: 0%d 00 00 00\n", t ? 4 : 0);
		ok(want, "map peek q%d", t);
		ok(want, "map peek q%d", t);
		for (int i = 0; i < 5; i++) {
			snprintf(want, sizeof(want), "value: 0%d 00 00 00\n",
				 t ? 4 - i : i); /* FIFO, LIFO */
			ok(want, "map pop q%d", t);
		}
		fails(1, "empty map", "map pop q%d", t);
		fails(1, "empty map", "map peek q%d", t);
		/* no keys: the kernel's EINVAL */
		fails(1, "delete failed: Invalid argument", "map delete q%d", t);
		fails(1, "can't get next key: Invalid argument",
		      "map getnext q%d", t);
		fails(2, "unnecessary key", "map push q%d key 1 value 1 0 0 0", t);
	}
	/* a full queue with BPF_EXIST drops its oldest (kernel) */
	for (int i = 0; i < 5; i++)
		ok("", "map enqueue q0 value %d 0 0 0", i);
	ok("", "map push q0 value 5 0 0 0 exist");
	for (int i = 1; i <= 5; i++) {
		snprintf(want, sizeof(want), "value: 0%d 00 00 00\n", i);
		ok(want, "map dequeue q0");
	}
}
END_TEST

/* ---- LPM trie (the map chapter's routes) -------------------------------- */

START_TEST(lpm_routes)
{
	/* BPF_F_NO_PREALLOC (1) is required for an LPM trie */
	ok("", "map create r type lpm_trie key 8 value 4 entries 16 flags 1");
	ok("", "map update r key 16 0 0 0 192 168 0 0 value 1 0 0 0");
	ok("", "map update r key 24 0 0 0 192 168 0 0 value 2 0 0 0");
	ok("", "map update r key 24 0 0 0 192 168 1 0 value 3 0 0 0");
	/* 192.168.1.1 matches 192.168.1.0/24 */
	ok("key: 20 00 00 00 c0 a8 01 01  value: 03 00 00 00\n",
	   "map lookup r key 32 0 0 0 192 168 1 1");
	ok("key: 20 00 00 00 c0 a8 00 09  value: 02 00 00 00\n",
	   "map lookup r key 32 0 0 0 192 168 0 9");
	ok("key: 20 00 00 00 c0 a8 c8 01  value: 01 00 00 00\n",
	   "map lookup r key 32 0 0 0 192 168 200 1");
	ck_assert_int_eq(run("map lookup r key 32 0 0 0 10 0 0 1"), 1);
	ck_assert_str_eq(out, "key:\n20 00 00 00 0a 00 00 01\n\nNot found\n");
	ck_assert_int_eq(run("map dump r"), 0);
	ck_assert_msg(strstr(out, "Found 3 elements\n"), "%s", out);
	ok("", "map delete r key 24 0 0 0 192 168 1 0");
	ok("key: 20 00 00 00 c0 a8 01 01  value: 01 00 00 00\n",
	   "map lookup r key 32 0 0 0 192 168 1 1");
}
END_TEST

/* ---- LRU and per-CPU --------------------------------------------------- */

/* The least recently updated element goes, so the recency order must
 * survive the file. */
START_TEST(lru_order_kept)
{
	ok("", "map create l type lru_hash key 4 value 4 entries 3");
	for (int i = 1; i <= 3; i++)
		ok("", "map update l key %d 0 0 0 value %d 0 0 0", i, i);
	ok("", "map update l key 1 0 0 0 value 9 0 0 0"); /* 1 is newest */
	ok("", "map update l key 4 0 0 0 value 4 0 0 0"); /* evicts 2 */
	ck_assert_int_eq(run("map lookup l key 2 0 0 0"), 1);
	ok("key: 01 00 00 00  value: 09 00 00 00\n", "map lookup l key 1 0 0 0");
	ok("key: 03 00 00 00  value: 03 00 00 00\n", "map lookup l key 3 0 0 0");
	ok("", "map update l key 5 0 0 0 value 5 0 0 0"); /* evicts 3 */
	ck_assert_int_eq(run("map lookup l key 3 0 0 0"), 1);
	ck_assert_int_eq(run("map dump l"), 0);
	ck_assert_msg(strstr(out, "Found 3 elements\n"), "%s", out);
}
END_TEST

static unsigned possible_cpus(void)
{
	char buf[256], *p = buf;
	unsigned n = 0, a, b;
	tu_read_file("/sys/devices/system/cpu/possible", buf, sizeof(buf));
	for (;;) {
		int used;
		if (sscanf(p, "%u-%u%n", &a, &b, &used) == 2)
			n += b - a + 1;
		else if (sscanf(p, "%u%n", &a, &used) == 1)
			n++;
		else
			break;
		p += used;
		if (*p++ != ',')
			break;
	}
	return n;
}

START_TEST(percpu_values)
{
	unsigned ncpus = possible_cpus();
	char want[8192];
	size_t len;

	ck_assert_uint_gt(ncpus, 0);
	ok("", "map create p type percpu_hash key 4 value 4 entries 4");
	/* bpftool gives every CPU the value given */
	ok("", "map update p key 1 0 0 0 value 1 2 3 4");
	len = (size_t)snprintf(want, sizeof(want), "key:\n01 00 00 00\n");
	for (unsigned i = 0; i < ncpus && len < sizeof(want) - 64; i++)
		len += (size_t)snprintf(want + len, sizeof(want) - len,
					"value (CPU %02u): 01 02 03 04\n", i);
	ok(want, "map lookup p key 1 0 0 0");
	snprintf(want + len, sizeof(want) - len, "Found 1 element\n");
	ok(want, "map dump p");
	ok("", "map create pa type percpu_array key 4 value 4 entries 2");
	ck_assert_int_eq(run("map dump pa"), 0);
	ck_assert_msg(strstr(out, "Found 2 elements\n"), "%s", out);
}
END_TEST

/* ---- map files --------------------------------------------------------- */

static uint32_t crc32_ieee(const uint8_t *p, size_t n)
{
	uint32_t c = 0xffffffffu;
	while (n--) {
		c ^= *p++;
		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ 0xedb88320u : c >> 1;
	}
	return ~c;
}

static void reseal(uint8_t *f, size_t n)
{
	uint32_t c = crc32_ieee(f, n - 4);
	for (int i = 0; i < 4; i++)
		f[n - 4 + i] = (uint8_t)(c >> (8 * i));
}

START_TEST(crc_reference)
{
	/* the standard check value of CRC-32/IEEE */
	ck_assert_uint_eq(crc32_ieee((const uint8_t *)"123456789", 9),
			  0xcbf43926u);
}
END_TEST

START_TEST(bad_map_files)
{
	uint8_t good[4096], bad[4096];

	ok("", "map create h type hash key 4 value 4 entries 4");
	ok("", "map update h key 1 0 0 0 value 1 0 0 0");
	ok("", "map update h key 2 0 0 0 value 2 0 0 0");
	size_t n = tu_read_file(path("h"), good, sizeof(good));
	ck_assert_uint_eq(n, 68 + 2 * 8 + 4); /* the documented layout */
	ck_assert(!memcmp(good, "BPFVMMAP", 8));

	fails(2, "can't open map file", "map dump nosuchfile");
	fails(2, "can't open map file", "map dump .");
	tu_write_file(path("e"), "", 0);
	fails(1, "not a bpfvm map file", "map dump e");
	tu_write_file(path("t"), "hello, world\n", 13);
	fails(1, "not a bpfvm map file", "map dump t");
	/* every truncation of the header, every third one after */
	for (size_t len = 0; len < n; len += len < 72 ? 1 : 3) {
		tu_write_file(path("x"), good, len);
		fails(1, "map file", "map dump x");
	}
	/* every header byte changed, and every other one after it (the
	 * checksum covers them all) */
	for (size_t i = 0; i < n; i += i < 68 ? 1 : 2) {
		memcpy(bad, good, n);
		bad[i] ^= 0x5a;
		tu_write_file(path("x"), bad, n);
		fails(1, "x: ", "map lookup x key 1 0 0 0");
	}
	/* trailing bytes */
	memcpy(bad, good, n);
	bad[n] = 0;
	tu_write_file(path("x"), bad, n + 1);
	fails(1, "corrupt map file", "map dump x");
	/* well-sealed but wrong: a newer version, a duplicate key, more
	 * elements than max_entries, an unknown type */
	memcpy(bad, good, n);
	bad[8] = 2;
	reseal(bad, n);
	tu_write_file(path("x"), bad, n);
	fails(1, "map file version 2", "map dump x");
	memcpy(bad, good, n);
	memcpy(bad + 68 + 8, bad + 68, 4);
	reseal(bad, n);
	tu_write_file(path("x"), bad, n);
	fails(1, "File exists", "map dump x");
	memcpy(bad, good, n);
	bad[24] = 1; /* max_entries 1 */
	reseal(bad, n);
	tu_write_file(path("x"), bad, n);
	fails(1, "corrupt map file", "map dump x");
	memcpy(bad, good, n);
	bad[12] = 3; /* prog_array */
	reseal(bad, n);
	tu_write_file(path("x"), bad, n);
	fails(1, "corrupt map file", "map dump x");
	/* the good file still loads */
	ck_assert_int_eq(run("map dump h"), 0);
	ck_assert_msg(strstr(out, "Found 2 elements\n"), "%s", out);
}
END_TEST

static void le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* A file written from the documented layout (README, tools/mapfile.c)
 * loads, and a saved one has that layout. */
START_TEST(file_from_layout)
{
	uint8_t f[68 + 2 * 8 + 4] = "BPFVMMAP", g[256];

	le32(f + 8, 1);		/* version */
	le32(f + 12, 2);	/* BPF_MAP_TYPE_ARRAY */
	le32(f + 16, 4);
	le32(f + 20, 4);
	le32(f + 24, 2);	/* max_entries */
	le32(f + 40, 0xffffffffu);
	le32(f + 44, 1);
	memcpy(f + 48, "made", 4);
	le32(f + 64, 2);	/* count */
	le32(f + 68, 0);
	le32(f + 72, 0x11223344);
	le32(f + 76, 1);
	le32(f + 80, 0x55);
	reseal(f, sizeof(f));
	tu_write_file(path("m"), f, sizeof(f));
	ok("key: 00 00 00 00  value: 44 33 22 11\n"
	   "key: 01 00 00 00  value: 55 00 00 00\n"
	   "Found 2 elements\n", "map dump m");
	ok("", "map update m key 1 0 0 0 value 0x66 0 0 0");
	ck_assert_uint_eq(tu_read_file(path("m"), g, sizeof(g)), sizeof(f));
	f[80] = 0x66;
	reseal(f, sizeof(f));
	/* numa_node without BPF_F_NUMA_NODE: the kernel's NUMA_NO_NODE, -1 */
	ck_assert(!memcmp(f, g, sizeof(f)));
}
END_TEST

/* Saving goes through a temporary file renamed over FILE: nothing else is
 * left behind, and the file keeps its mode. */
START_TEST(atomic_save)
{
	struct stat st;

	ok("", "map create h type hash key 4 value 4 entries 4");
	ck_assert_int_eq(chmod(path("h"), 0640), 0);
	for (int i = 0; i < 4; i++)
		ok("", "map update h key %d 0 0 0 value 1 0 0 0", i);
	ok("", "map delete h key 0 0 0 0");
	ck_assert_int_eq(files_in_tmpdir(), 1);
	ck_assert_int_eq(stat(path("h"), &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0640);
	/* through a symbolic link, the target changes and the link stays */
	ck_assert_int_eq(symlink("h", path("link")), 0);
	ok("", "map update link key 9 0 0 0 value 9 0 0 0");
	ck_assert_int_eq(lstat(path("link"), &st), 0);
	ck_assert(S_ISLNK(st.st_mode));
	ok("key: 09 00 00 00  value: 09 00 00 00\n", "map lookup h key 9 0 0 0");
	ck_assert_int_eq(files_in_tmpdir(), 2);
}
END_TEST

/* Six processes updating one map file at once lose nothing: a command
 * holds the file from load to save (without the lock, about three updates
 * in four were lost here). */
START_TEST(concurrent_updates)
{
	const char *bin = tu_env("BPFVM_BIN", "build/bpfvm");
	enum { WORKERS = 6, EACH = 10 };
	pid_t pids[WORKERS];

	ok("", "map create h type hash key 4 value 4 entries 256");
	for (int w = 0; w < WORKERS; w++) {
		pids[w] = fork();
		ck_assert_int_ge(pids[w], 0);
		if (pids[w])
			continue;
		int bad = 0;
		for (int i = 0; i < EACH; i++) {
			char k0[8], k1[8];
			snprintf(k0, sizeof(k0), "%d", w);
			snprintf(k1, sizeof(k1), "%d", i);
			pid_t p = fork();
			if (p == 0) {
				int null = open("/dev/null", O_WRONLY);
				if (null < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0 ||
				    chdir(tu_tmpdir()) < 0)
					_exit(126);
				execl(bin, "bpfvm", "map",
				      "update", "h", "key", k0, k1, "0", "0",
				      "value", "1", "0", "0", "0", (char *)NULL);
				_exit(127);
			}
			int st;
			bad += p < 0 || waitpid(p, &st, 0) != p ||
			       !WIFEXITED(st) || WEXITSTATUS(st) != 0;
		}
		_exit(bad ? 1 : 0);
	}
	for (int w = 0; w < WORKERS; w++) {
		int st;
		ck_assert_int_eq(waitpid(pids[w], &st, 0), pids[w]);
		ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
			      "worker %d failed", w);
	}
	ck_assert_int_eq(run("map dump h"), 0);
	ck_assert_msg(strstr(out, "Found 60 elements\n"), "%s", out + strlen(out) - 30);
	ck_assert_int_eq(files_in_tmpdir(), 1);
}
END_TEST

/* ---- against the kernel ------------------------------------------------ */

/* Run one command both ways and require the same outcome. */
static void both(const char *fmt, ...)
{
	static char kout[sizeof(out)], kerr[sizeof(err)];
	char cmd[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	subdir = "k";
	int krc = run("map --kernel %s", cmd);
	memcpy(kout, out, sizeof(out));
	memcpy(kerr, err, sizeof(err));
	subdir = "v";
	int vrc = run("map %s", cmd);
	subdir = NULL;
	ck_assert_msg(krc == vrc && !strcmp(kout, out) && !strcmp(kerr, err),
		      "map %s:\nkernel %d '%s' '%s'\nbpfvm  %d '%s' '%s'",
		      cmd, krc, kout, kerr, vrc, out, err);
}

static bool kernel_dirs(void)
{
	char d[512];
	snprintf(d, sizeof(d), "%s/k", tu_tmpdir());
	ck_assert_int_eq(mkdir(d, 0700), 0);
	snprintf(d, sizeof(d), "%s/v", tu_tmpdir());
	ck_assert_int_eq(mkdir(d, 0700), 0);
	subdir = "k";
	int rc = run("map --kernel create probe type array key 4 value 4 "
		     "entries 1");
	subdir = NULL;
	if (rc)
		fprintf(stderr, "skipped, no bpf(2): %s", err);
	return rc == 0;
}

/* The same commands on the running kernel's bpf(2) (--kernel) and on
 * bpfvm's: the same exit status, output and errors, byte for byte.  Hash
 * maps use BPF_F_ZERO_SEED (0x40), so even their order is the kernel's. */
static const char *const script[] = {
	"create h type hash key 4 value 8 entries 4 flags 0x40 name h",
	"dump h",
	"update h key 1 0 0 0 value 1 2 3 4 5 6 7 8",
	"update h key 2 0 0 0 value 2 0 0 0 0 0 0 0",
	"update h key 3 0 0 0 value 3 0 0 0 0 0 0 0 noexist",
	"update h key 1 0 0 0 value 9 0 0 0 0 0 0 0 noexist",
	"update h key 7 0 0 0 value 9 0 0 0 0 0 0 0 exist",
	"update h key 2 0 0 0 value 5 0 0 0 0 0 0 0 exist",
	"update h key 4 0 0 0 value 4 0 0 0 0 0 0 0",
	"update h key 5 0 0 0 value 5 0 0 0 0 0 0 0",
	"dump h",
	"getnext h",
	"getnext h key 1 0 0 0",
	"getnext h key 9 9 9 9",
	"lookup h key 2 0 0 0",
	"lookup h key 8 0 0 0",
	"delete h key 3 0 0 0",
	"delete h key 3 0 0 0",
	"dump h",
	"pop h key 1 0 0 0",
	"pop h key 1 0 0 0",
	"dump h",
	"create h type hash key 4 value 8 entries 4",
	"create a type array key 4 value 4 entries 3",
	"update a key 1 0 0 0 value 1 2 3 4",
	"update a key 3 0 0 0 value 1 2 3 4",
	"update a key 0 0 0 0 value 1 2 3 4 noexist",
	"update a key 0 0 0 0 value 1 2 3 4 exist",
	"delete a key 0 0 0 0",
	"dump a",
	"getnext a key 2 0 0 0",
	"getnext a key 7 0 0 0",
	"lookup a key 5 0 0 0",
	"pop a key 0 0 0 0",
	"create q type queue key 0 value 4 entries 3",
	"push q value 1 0 0 0", "push q value 2 0 0 0", "push q value 3 0 0 0",
	"push q value 4 0 0 0",
	"push q value 4 0 0 0 exist",
	"push q value 5 0 0 0 noexist",
	"peek q", "pop q", "pop q", "pop q", "pop q", "peek q",
	"delete q", "getnext q", "dump q",
	"create s type stack key 0 value 4 entries 3",
	"push s value 1 0 0 0", "push s value 2 0 0 0", "push s value 3 0 0 0",
	"push s value 4 0 0 0 exist",
	"pop s", "pop s", "pop s", "pop s",
	"create l type lpm_trie key 8 value 4 entries 4 flags 1",
	"update l key 16 0 0 0 192 168 0 0 value 1 0 0 0",
	"update l key 24 0 0 0 192 168 0 0 value 2 0 0 0",
	"update l key 24 0 0 0 192 168 1 0 value 3 0 0 0",
	"update l key 24 0 0 0 192 168 1 0 value 3 0 0 0 noexist",
	"update l key 33 0 0 0 192 168 1 0 value 3 0 0 0",
	"lookup l key 32 0 0 0 192 168 1 1",
	"lookup l key 32 0 0 0 192 168 0 9",
	"lookup l key 32 0 0 0 10 0 0 1",
	"dump l",
	"getnext l",
	"getnext l key 24 0 0 0 192 168 1 0",
	"update l key 8 0 0 0 10 0 0 0 value 4 0 0 0",
	"update l key 8 0 0 0 11 0 0 0 value 5 0 0 0",
	"delete l key 24 0 0 0 192 168 1 0",
	"delete l key 24 0 0 0 192 168 1 0",
	"lookup l key 32 0 0 0 192 168 1 1",
	"dump l",
	"create p type percpu_array key 4 value 4 entries 2",
	"update p key 1 0 0 0 value 1 2 3 4",
	"dump p",
	"create ph type percpu_hash key 4 value 12 entries 2 flags 0x40",
	"update ph key 1 0 0 0 value 1 2 3 4 5 6 7 8 9 10 11 12",
	"update ph key 2 0 0 0 value 1 2 3 4 5 6 7 8 9 10 11 12",
	"update ph key 3 0 0 0 value 1 2 3 4 5 6 7 8 9 10 11 12",
	"lookup ph key 2 0 0 0",
	"create z type hash key 0 value 4 entries 4",
	"create z type queue key 4 value 4 entries 4",
	"create z type lpm_trie key 8 value 4 entries 4",
	"create z type array key 4 value 4 entries 0",
	"create z type hash key 4 value 4 entries 4 flags 0x1000",
	"create rb type ringbuf key 0 value 0 entries 4096",
	"dump rb",
	"lookup rb",
};

START_TEST(same_as_kernel)
{
	if (!kernel_dirs())
		return;
	for (size_t i = 0; i < sizeof(script) / sizeof(script[0]); i++)
		both("%s", script[i]);
}
END_TEST

/* Seeded random commands, both ways, each state carried through the file:
 * a zero-seed hash map (its order after every reload must stay the
 * kernel's), an LPM trie, a queue and a stack. */
static unsigned rnd(uint64_t *x, unsigned n)
{
	*x = *x * 6364136223846793005u + 1442695040888963407u;
	return (unsigned)(*x >> 33) % n;
}

START_TEST(random_against_kernel)
{
	static const char *const fl[] = { "", " any", " noexist", " exist" };
	uint64_t x = 0x9e3779b97f4a7c15u;

	if (!kernel_dirs())
		return;
	both("create h type hash key 4 value 4 entries 6 flags 0x40");
	both("create l type lpm_trie key 5 value 1 entries 8 flags 1");
	both("create q type queue key 0 value 1 entries 4");
	both("create s type stack key 0 value 1 entries 4");
	for (int i = 0; i < 45; i++) {
		unsigned op = rnd(&x, 6), k = rnd(&x, 9), v = rnd(&x, 256);
		const char *f = fl[rnd(&x, 4)];
		switch (op) {
		case 0: case 1:
			both("update h key %u 0 0 0 value %u 0 0 %u%s", k, v, k, f);
			break;
		case 2: both("delete h key %u 0 0 0", k); break;
		case 3: both("getnext h key %u 0 0 0", k); break;
		case 4: both("pop h key %u 0 0 0", k); break;
		default: both("dump h"); break;
		}
	}
	both("dump h");
	for (int i = 0; i < 30; i++) {
		unsigned op = rnd(&x, 4), len = rnd(&x, 34), a = 10 + rnd(&x, 4);
		unsigned v = rnd(&x, 256);
		const char *f = fl[rnd(&x, 4)];
		switch (op) {
		case 0: case 1:
			both("update l key %u 0 0 0 %u value %u%s", len, a, v, f);
			break;
		case 2: both("delete l key %u 0 0 0 %u", len, a); break;
		default: both("lookup l key 32 0 0 0 %u", a); break;
		}
	}
	both("dump l");
	for (int i = 0; i < 30; i++) {
		const char *m = rnd(&x, 2) ? "q" : "s";
		unsigned op = rnd(&x, 4), v = rnd(&x, 256);
		const char *f = fl[rnd(&x, 4)];
		switch (op) {
		case 0: case 1: both("push %s value %u%s", m, v, f); break;
		case 2: both("pop %s", m); break;
		default: both("peek %s", m); break;
		}
	}
}
END_TEST

/* ---- arguments --------------------------------------------------------- */

START_TEST(bad_arguments)
{
	ck_assert_int_eq(run("map help"), 0);
	ck_assert_msg(!strncmp(out, "Usage: bpfvm map ", 17), "%s", out);
	ck_assert_int_eq(run("map --help"), 0);
	ck_assert_int_eq(run("--help"), 0);
	ck_assert_msg(strstr(out, "  map "), "%s", out);

	fails(2, "missing command", "map");
	fails(2, "unknown command 'frob'", "map frob h");
	fails(2, "ambiguous command 'p'", "map p h");
	fails(2, "needs a map FILE", "map dump");
	fails(2, "unrecognized map type: hashish",
	      "map create z type hashish key 4 value 4 entries 4");
	fails(2, "map type not specified", "map create z key 4 value 4 entries 4");
	fails(2, "can't parse abc as key size",
	      "map create z type hash key abc value 4 entries 4");
	fails(2, "key size already specified",
	      "map create z type hash key 4 key 4 value 4 entries 4");
	fails(2, "needs an argument", "map create z type hash key 4 value");
	fails(2, "unknown arg frob", "map create z type hash frob 1");
	fails(2, "cannot keep", "map create z type prog_array key 4 value 4 entries 4");
	ck_assert_int_eq(access(path("z"), F_OK), -1);

	ok("", "map create h type hash key 4 value 4 entries 4");
	fails(2, "key expected 4 bytes got 3", "map lookup h key 1 0 0");
	fails(2, "error parsing byte: 0x100", "map lookup h key 0x100 0 0 0");
	fails(2, "error parsing byte: zz", "map lookup h key hex zz 0 0 0");
	fails(2, "error parsing byte: -1", "map lookup h key -1 0 0 0");
	fails(2, "did not find key", "map lookup h");
	fails(2, "did not find value", "map update h key 1 0 0 0");
	fails(2, "did not find key", "map update h value 1 0 0 0");
	fails(2, "duplicate key", "map update h key 1 0 0 0 key 1 0 0 0 value 1 0 0 0");
	fails(2, "flags specified multiple times: exist",
	      "map update h key 1 0 0 0 value 1 0 0 0 any exist");
	fails(2, "unnecessary value", "map lookup h key 1 0 0 0 value 1 0 0 0");
	fails(2, "expected key or value, got: 9",
	      "map update h key 1 0 0 0 value 1 0 0 0 9");
	fails(2, "what is 'x'?", "map dump h x");
	/* keywords may be shortened, as bpftool's */
	ok("", "map upd h k 1 0 0 0 v 1 0 0 0 noex");
	ok("key: 01 00 00 00  value: 01 00 00 00\n", "map look h key 1 0 0 0");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("cli_map");
	TCase *tc = tcase_create("map");

	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, tu_tmpdir_make, tu_tmpdir_remove);
	tcase_add_test(tc, hash_commands);
	tcase_add_test(tc, hash_getnext_walk);
	tcase_add_test(tc, array_commands);
	tcase_add_test(tc, errno_messages);
	tcase_add_test(tc, queue_and_stack);
	tcase_add_test(tc, lpm_routes);
	tcase_add_test(tc, lru_order_kept);
	tcase_add_test(tc, percpu_values);
	tcase_add_test(tc, crc_reference);
	tcase_add_test(tc, bad_map_files);
	tcase_add_test(tc, file_from_layout);
	tcase_add_test(tc, atomic_save);
	tcase_add_test(tc, concurrent_updates);
	tcase_add_test(tc, same_as_kernel);
	tcase_add_test(tc, random_against_kernel);
	tcase_add_test(tc, bad_arguments);
	suite_add_tcase(s, tc);
	return tu_run_suite(s);
}
