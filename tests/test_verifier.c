/* Verifier unit tests as data: each tests/verifier/NAME.txt holds a program
 * in assembly and what Linux 6.18 answers for it (in the spirit of the
 * kernel's __failure __msg annotations).  Every case is checked against
 * bpfvm_verify and, when this process may use bpf(2), against the running
 * kernel too, so the expectations are the kernel's and not ours.
 *
 * File format: header lines, a line "---", then the program.
 *   type: socket_filter | sched_cls | xdp | NUMBER   (default socket_filter)
 *   flags: NUMBER                                    (prog_flags)
 *   map: hash|array KEY VALUE MAX @ I[,J]   a map whose descriptor goes
 *        into the ld_imm64 at insn I (src_reg becomes BPF_PSEUDO_MAP_FD)
 *   expect: accept | reject
 *   errno: N                                         (with reject)
 *   error: the exact last error line of the log     (with reject)
 *   processed: N   insns processed, when it must equal the kernel's count
 * BPFVM_VERIFIER_COUNTS=1 prints both processed counts of every case,
 * BPFVM_VERIFIER_LOGS=1 both logs where they differ;
 * BPFVM_VERIFIER_DUMP=FILE saves a random program the kernel judges
 * differently.
 * Also here: the log buffer rules (EINVAL, ENOSPC, rotating tail) and the
 * bench programs, which must all be accepted.
 * SPDX-License-Identifier: MIT */
#include <check.h>
#include "testutil.h"
#include <dirent.h>
#include <errno.h>
#include <linux/bpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include "bpfvm_asm.h"
#include "map.h"
#include "verifier.h"

#define MAX_MAPS 4

struct vcase {
	char name[8192];
	uint32_t type, flags;
	bool accept;
	int err;
	char error[256];
	long processed;
	int nmaps;
	struct { uint32_t type, key, value, max; int at[4]; int nat; } maps[MAX_MAPS];
	char *text;
};

static uint32_t type_by_name(const char *s)
{
	if (!strncmp(s, "socket_filter", 13)) return BPF_PROG_TYPE_SOCKET_FILTER;
	if (!strncmp(s, "sched_cls", 9)) return BPF_PROG_TYPE_SCHED_CLS;
	if (!strncmp(s, "xdp", 3)) return BPF_PROG_TYPE_XDP;
	if (!strncmp(s, "tracepoint", 10)) return BPF_PROG_TYPE_TRACEPOINT;
	return (uint32_t)strtoul(s, NULL, 0);
}

/* Parse the header in place; c->text points at the program. */
static bool parse_case(char *buf, struct vcase *c)
{
	char *line = buf, *next;

	c->type = BPF_PROG_TYPE_SOCKET_FILTER;
	c->processed = -1;
	for (; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = 0;
		if (!strcmp(line, "---")) {
			c->text = next ? next : line + 3;
			return true;
		}
		char *v = strchr(line, ':');
		if (*line == '#' || !v)
			continue;
		*v++ = 0;
		while (*v == ' ')
			v++;
		if (!strcmp(line, "type")) {
			c->type = type_by_name(v);
		} else if (!strcmp(line, "flags")) {
			c->flags = (uint32_t)strtoul(v, NULL, 0);
		} else if (!strcmp(line, "expect")) {
			c->accept = !strcmp(v, "accept");
		} else if (!strcmp(line, "errno")) {
			c->err = atoi(v);
		} else if (!strcmp(line, "error")) {
			snprintf(c->error, sizeof(c->error), "%s", v);
		} else if (!strcmp(line, "processed")) {
			c->processed = atol(v);
		} else if (!strcmp(line, "map") && c->nmaps < MAX_MAPS) {
			char kind[16];
			int n = 0;
			__typeof__(c->maps[0]) *m = &c->maps[c->nmaps++];
			if (sscanf(v, "%15s %u %u %u @ %n", kind, &m->key, &m->value,
				   &m->max, &n) < 4)
				return false;
			m->type = !strcmp(kind, "array") ? BPF_MAP_TYPE_ARRAY
							 : BPF_MAP_TYPE_HASH;
			for (char *p = v + n; *p && m->nat < 4;) {
				m->at[m->nat++] = (int)strtol(p, &p, 10);
				if (*p != ',')
					break;
				p++;
			}
		}
	}
	return false;
}

struct fdtab {
	struct bpfvm_map *map[MAX_MAPS];
	int n;
};

static struct bpfvm_map *by_fd(void *cookie, int fd)
{
	struct fdtab *t = cookie;
	return fd >= 3 && fd - 3 < t->n ? t->map[fd - 3] : NULL;
}

static long sys_bpf(int cmd, union bpf_attr *a)
{
	return syscall(__NR_bpf, cmd, a, sizeof(*a));
}

/* What the running kernel says: 0 accepted, -errno, or 1 if no bpf(2). */
static int kernel_verdict(const struct vcase *c, struct bpfvm_insn *insns,
			  size_t n, char *log, size_t loglen)
{
	int fds[MAX_MAPS], ret;
	union bpf_attr a;

	for (int i = 0; i < c->nmaps; i++) {
		memset(&a, 0, sizeof(a));
		a.map_type = c->maps[i].type;
		a.key_size = c->maps[i].key;
		a.value_size = c->maps[i].value;
		a.max_entries = c->maps[i].max;
		fds[i] = (int)sys_bpf(BPF_MAP_CREATE, &a);
		if (fds[i] < 0) {
			while (i--)
				close(fds[i]);
			return 1;
		}
		for (int j = 0; j < c->maps[i].nat; j++)
			insns[c->maps[i].at[j]].imm = fds[i];
	}
	memset(&a, 0, sizeof(a));
	a.prog_type = c->type;
	a.insns = (uint64_t)(uintptr_t)insns;
	a.insn_cnt = (uint32_t)n;
	a.license = (uint64_t)(uintptr_t)"GPL";
	a.prog_flags = c->flags;
	a.log_level = 1;
	a.log_buf = (uint64_t)(uintptr_t)log;
	a.log_size = (uint32_t)loglen;
	log[0] = 0;
	int fd = (int)sys_bpf(BPF_PROG_LOAD, &a);
	ret = fd >= 0 ? 0 : -errno;
	if (fd >= 0)
		close(fd);
	if (ret == -EPERM)
		ret = 1;
	for (int i = 0; i < c->nmaps; i++) {
		close(fds[i]);
		for (int j = 0; j < c->maps[i].nat; j++)
			insns[c->maps[i].at[j]].imm = 3 + i;
	}
	return ret;
}

/* The last line of a log that is not a statistics line. */
static void last_error_line(const char *log, char *out, size_t len)
{
	const char *p = log, *best = NULL, *best_end = NULL;
	out[0] = 0;
	while (*p) {
		const char *e = strchr(p, '\n');
		if (!e)
			e = p + strlen(p);
		if (e > p && strncmp(p, "processed ", 10) &&
		    strncmp(p, "verification time", 17) && strncmp(p, "stack depth", 11)) {
			best = p;
			best_end = e;
		}
		p = *e ? e + 1 : e;
	}
	if (best)
		snprintf(out, len, "%.*s", (int)(best_end - best), best);
}

static int log_cmp_total, log_cmp_same;

static void run_case(const char *path)
{
	size_t len;
	char *buf = tu_try_read_all(path, &len);
	struct vcase c = { 0 };
	struct bpfvm_insn *insns = NULL;
	size_t n = 0;
	char err[256];
	/* big enough for the path of a program that hits the 1M limit */
	const size_t loglen = 64u << 20;
	char *log = malloc(loglen), *klog = malloc(loglen);

	ck_assert_msg(buf && log && klog, "%s: cannot read", path);
	snprintf(c.name, sizeof(c.name), "%s", path);
	ck_assert_msg(parse_case(buf, &c), "%s: no '---' line or bad header", path);
	ck_assert_msg(bpfvm_asm(c.text, &insns, &n, err, sizeof(err)) == 0,
		      "%s: %s", path, err);

	struct fdtab tab = { .n = 0 };
	for (int i = 0; i < c.nmaps; i++) {
		union bpf_attr a;
		memset(&a, 0, sizeof(a));
		a.map_type = c.maps[i].type;
		a.key_size = c.maps[i].key;
		a.value_size = c.maps[i].value;
		a.max_entries = c.maps[i].max;
		ck_assert_int_eq(bpfvm_map_create(&a, &tab.map[i]), 0);
		tab.n++;
		for (int j = 0; j < c.maps[i].nat; j++) {
			ck_assert_int_lt(c.maps[i].at[j], (int)n);
			insns[c.maps[i].at[j]].src_reg = BPF_PSEUDO_MAP_FD;
			insns[c.maps[i].at[j]].imm = 3 + i;
		}
	}
	struct bpfvm_verify_opts o = {
		.prog_type = c.type, .prog_flags = c.flags, .log_level = 1,
		.log_buf = log, .log_size = (uint32_t)loglen, .map_by_fd = by_fd,
		.map_cookie = &tab,
	};
	struct bpfvm_verify_result r;
	int ret = bpfvm_verify(insns, n, &o, &r);
	char line[256];
	last_error_line(log, line, sizeof(line));

	/* the expectation must be the kernel's */
	int k = kernel_verdict(&c, insns, n, klog, loglen);
	if (k != 1) {
		char kline[256];
		last_error_line(klog, kline, sizeof(kline));
		ck_assert_msg((k == 0) == c.accept, "%s: the kernel says %s (%s)",
			      path, k ? "reject" : "accept", kline);
		if (!c.accept) {
			ck_assert_msg(-k == c.err, "%s: kernel errno %d", path, -k);
			ck_assert_msg(!strcmp(kline, c.error),
				      "%s: kernel error line '%s'", path, kline);
		}
		if (getenv("BPFVM_VERIFIER_COUNTS")) {
			const char *p = strstr(klog, "processed ");
			printf("%s: processed %u, kernel %ld\n", path,
			       r.insn_processed, p ? atol(p + 10) : -1L);
		}
		if (c.processed >= 0) {
			const char *p = strstr(klog, "processed ");
			ck_assert_msg(p && atol(p + 10) == c.processed,
				      "%s: kernel %s", path, p ? p : "(no count)");
		}
	}
	ck_assert_msg((ret == 0) == c.accept, "%s: bpfvm says %s (%s)", path,
		      ret ? "reject" : "accept", line);
	/* the whole level-1 log, when the kernel's is at hand: counted */
	if (k != 1) {
		log_cmp_total++;
		if (!strcmp(log, klog))
			log_cmp_same++;
		else if (getenv("BPFVM_VERIFIER_LOGS"))
			printf("%s: logs differ\n--- kernel\n%s--- bpfvm\n%s", path, klog, log);
	}
	if (!c.accept) {
		ck_assert_msg(-ret == c.err, "%s: bpfvm errno %d, want %d", path,
			      -ret, c.err);
		ck_assert_msg(!strcmp(line, c.error),
			      "%s: bpfvm error line '%s', want '%s'", path, line,
			      c.error);
		ck_assert_str_eq(r.last_msg, c.error);
	}
	if (c.processed >= 0)
		ck_assert_msg(r.insn_processed == c.processed,
			      "%s: processed %u, kernel %ld", path,
			      r.insn_processed, c.processed);
	for (int i = 0; i < tab.n; i++)
		bpfvm_map_free(tab.map[i]);
	free(insns);
	free(buf);
	free(log);
	free(klog);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

START_TEST(test_cases)
{
	const char *dir = getenv("BPFVM_TESTS");
	char path[4096];
	char *names[1024];
	int n = 0;

	snprintf(path, sizeof(path), "%s/verifier", dir ? dir : "tests");
	DIR *d = opendir(path);
	ck_assert_msg(d, "no %s", path);
	for (struct dirent *e; (e = readdir(d)) && n < 1024;) {
		size_t l = strlen(e->d_name);
		if (l > 4 && !strcmp(e->d_name + l - 4, ".txt"))
			names[n++] = strdup(e->d_name);
	}
	closedir(d);
	qsort(names, (size_t)n, sizeof(names[0]), cmp_str);
	ck_assert_int_gt(n, 20);
	for (int i = 0; i < n; i++) {
		char p[8192];
		snprintf(p, sizeof(p), "%s/%s", path, names[i]);
		run_case(p);
		free(names[i]);
	}
	if (log_cmp_total)
		printf("cases: whole level-1 log equal to the kernel's for %d/%d\n",
		       log_cmp_same, log_cmp_total);
}
END_TEST

/* ---- the log buffer ----------------------------------------------------- */

static const char *const reject_prog = "r0 = *(u32 *)(r1 + 4000)\nexit\n";

static int verify_text(const char *text, uint32_t level, char *buf,
		       uint32_t size, struct bpfvm_verify_result *r)
{
	struct bpfvm_insn *insns;
	size_t n;
	char err[128];
	ck_assert_int_eq(bpfvm_asm(text, &insns, &n, err, sizeof(err)), 0);
	struct bpfvm_verify_opts o = { .prog_type = BPF_PROG_TYPE_SOCKET_FILTER,
				       .log_level = level, .log_buf = buf,
				       .log_size = size };
	int ret = bpfvm_verify(insns, n, &o, r);
	free(insns);
	return ret;
}

START_TEST(test_log_rules)
{
	char buf[4096];
	struct bpfvm_verify_result r;

	/* a buffer with log_level 0, or a level without a buffer size */
	ck_assert_int_eq(verify_text("r0 = 0\nexit\n", 0, buf, sizeof(buf), &r), -EINVAL);
	ck_assert_int_eq(verify_text("r0 = 0\nexit\n", 1, buf, 0, &r), -EINVAL);
	ck_assert_int_eq(verify_text("r0 = 0\nexit\n", 32, buf, sizeof(buf), &r), -EINVAL);
	/* level 1: the path, the error, the statistics */
	ck_assert_int_eq(verify_text(reject_prog, 1, buf, sizeof(buf), &r), -EACCES);
	ck_assert_ptr_nonnull(strstr(buf, "0: (61) r0 = *(u32 *)(r1 +4000)\n"
					  "invalid bpf_context access off=4000 size=4\n"
					  "processed 1 insns (limit 1000000) max_states_per_insn 0 "
					  "total_states 0 peak_states 0 mark_read 0\n"));
	ck_assert_uint_eq(r.log_true_size, strlen(buf) + 1);
	/* too small: ENOSPC wins over the verdict; rotating mode keeps the tail */
	char small[128];
	ck_assert_int_eq(verify_text(reject_prog, 1, small, sizeof(small), &r), -ENOSPC);
	ck_assert_uint_eq(strlen(small), sizeof(small) - 1);
	ck_assert_ptr_nonnull(strstr(small, "mark_read 0\n"));
	/* BPF_LOG_FIXED (8) keeps the head */
	ck_assert_int_eq(verify_text(reject_prog, 9, small, sizeof(small), &r), -ENOSPC);
	ck_assert(!strncmp(small, "0: R1=ctx() R10=fp0\n0: (61) r0 = *(u32 *)(r1 +4000)\n", 52));
	/* accepted programs log the statistics too; level 4 adds time and
	 * stack depth; any buffer size will do (the kernel has no minimum) */
	ck_assert_int_eq(verify_text("r0 = 0\nexit\n", 1, buf, sizeof(buf), &r), 0);
	ck_assert_ptr_nonnull(strstr(buf, "processed 2 insns"));
	ck_assert_int_eq(verify_text("*(u64 *)(r10 - 16) = 0\nr0 = 0\nexit\n", 4, buf,
				     sizeof(buf), &r), 0);
	ck_assert(!strncmp(buf, "verification time ", 18));
	ck_assert_ptr_nonnull(strstr(buf, " usec\nstack depth 16\nprocessed 3 insns"));
	ck_assert_int_eq(verify_text("r0 = 0\nexit\n", 1, buf, 100, &r), 0);
}
END_TEST

/* ---- the bench programs ------------------------------------------------- */

START_TEST(test_bench_accepted)
{
	const char *shared = getenv("BPFVM_SHARED");
	static const char *const progs[] = { "collatz", "switchy", "csum",
					     "pktcmp", "callchain", "hashmap" };
	/* what Linux 6.18 processes for each (BPF_PROG_LOAD, log_level 1 on
	 * the machine these tests were written on) */
	static const unsigned kernel_processed[] = { 188296, 354829, 34326,
						     72613, 9369, 12664 };
	char path[4096];

	for (size_t i = 0; i < sizeof(progs) / sizeof(progs[0]); i++) {
		size_t len;
		snprintf(path, sizeof(path), "%s/bench/%s.bin",
			 shared ? shared : "../shared", progs[i]);
		struct bpfvm_insn *insns = (struct bpfvm_insn *)tu_try_read_all(path, &len);
		if (!insns) {
			printf("%s: not found, skipped\n", path);
			continue;
		}
		/* hashmap's one map: HASH key 4 value 8, 1024 entries */
		union bpf_attr a;
		memset(&a, 0, sizeof(a));
		a.map_type = BPF_MAP_TYPE_HASH;
		a.key_size = 4;
		a.value_size = 8;
		a.max_entries = 1024;
		struct fdtab tab = { .n = 1 };
		ck_assert_int_eq(bpfvm_map_create(&a, &tab.map[0]), 0);
		size_t n = len / 8;
		/* the .meta's "reloc INSN map 0" lines name the map loads */
		snprintf(path, sizeof(path), "%s/bench/%s.meta",
			 shared ? shared : "../shared", progs[i]);
		char *meta = tu_try_read_all(path, NULL);
		for (char *l = meta; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
			unsigned at, m;
			if (sscanf(l, "reloc %u map %u", &at, &m) == 2 && at + 1 < n) {
				insns[at].src_reg = BPF_PSEUDO_MAP_FD;
				insns[at].imm = 3 + (int)m;
			}
		}
		free(meta);
		struct bpfvm_verify_opts o = { .prog_type = BPF_PROG_TYPE_XDP,
					       .map_by_fd = by_fd, .map_cookie = &tab };
		struct bpfvm_verify_result r;
		struct timespec t0, t1;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		int ret = bpfvm_verify(insns, n, &o, &r);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		printf("bench %-10s %s, processed %u insns, %u states, %.1f ms\n",
		       progs[i], ret ? "REJECTED" : "accepted", r.insn_processed,
		       r.total_states,
		       ((double)(t1.tv_sec - t0.tv_sec) * 1e3 +
			(double)(t1.tv_nsec - t0.tv_nsec) / 1e6));
		ck_assert_msg(ret == 0, "%s rejected: %s", progs[i], r.last_msg);
		ck_assert_msg(r.insn_processed == kernel_processed[i],
			      "%s: processed %u, the kernel %u", progs[i],
			      r.insn_processed, kernel_processed[i]);
		bpfvm_map_free(tab.map[0]);
		free(insns);
	}
}
END_TEST

/* ---- robustness ------------------------------------------------------------ */

/* Random programs from real opcodes: every one gets a verdict (no crash,
 * no hang) and only the kernel's errnos. */
START_TEST(test_random_programs)
{
	static const uint8_t codes[] = {
		0x07, 0x0f, 0x17, 0x1f, 0x27, 0x2f, 0x37, 0x3f, 0x47, 0x4f, 0x57,
		0x5f, 0x67, 0x6f, 0x77, 0x7f, 0x87, 0x97, 0x9f, 0xa7, 0xaf, 0xb7,
		0xbf, 0xc7, 0xcf, 0x04, 0x0c, 0x14, 0x1c, 0x24, 0x34, 0x44, 0x54,
		0x64, 0x74, 0x84, 0xa4, 0xb4, 0xbc, 0xc4, 0x05, 0x15, 0x1d, 0x25,
		0x2d, 0x35, 0x45, 0x55, 0x5d, 0x65, 0x6d, 0x75, 0xa5, 0xad, 0xb5,
		0xc5, 0xd5, 0x16, 0x26, 0x56, 0x61, 0x69, 0x71, 0x79, 0x62, 0x6a,
		0x72, 0x7a, 0x63, 0x6b, 0x73, 0x7b, 0xdb, 0xc3, 0x85, 0x95, 0x18,
	};
	uint64_t seed = 0x9e3779b97f4a7c15ull;
	struct bpfvm_insn prog[40];

	for (int iter = 0; iter < 4000; iter++) {
		size_t n = 2 + (size_t)(iter % 38);
		for (size_t i = 0; i < n; i++) {
			seed = seed * 6364136223846793005ull + 1442695040888963407ull;
			uint64_t r = seed >> 11;
			struct bpfvm_insn *in = &prog[i];
			in->code = codes[r % sizeof(codes)];
			in->dst_reg = (uint8_t)((r >> 8) % 11);
			in->src_reg = (uint8_t)((r >> 12) % 11);
			in->off = (int16_t)((int)((r >> 16) % 24) - 12);
			in->imm = (int32_t)((int)((r >> 24) % 80) - 40);
			if (in->code == 0x85) {
				in->src_reg = (uint8_t)((r >> 12) % 2);
				in->imm = in->src_reg ? (int32_t)((r >> 24) % 5) : (int32_t)((r >> 24) % 10);
				in->off = 0;
				in->dst_reg = 0;
			}
			if (in->code == 0x95)
				in->src_reg = in->dst_reg = 0, in->off = 0, in->imm = 0;
			if ((in->code == 0xdb || in->code == 0xc3))
				in->imm = (r >> 30) & 1 ? 0x01 : 0x00;
			if (in->code == 0x18) {
				in->src_reg = 0;
				if (i + 1 < n) {
					memset(&prog[i + 1], 0, sizeof(prog[i + 1]));
					i++;
				}
			}
		}
		prog[n - 1] = (struct bpfvm_insn){ .code = 0x95 };
		struct bpfvm_verify_opts o = { .prog_type = iter % 3 ? BPF_PROG_TYPE_SOCKET_FILTER
							     : BPF_PROG_TYPE_XDP };
		struct bpfvm_verify_result r;
		int ret = bpfvm_verify(prog, n, &o, &r);
		ck_assert_msg(ret == 0 || ret == -EACCES || ret == -EINVAL || ret == -E2BIG,
			      "iteration %d: %d", iter, ret);
	}
}
END_TEST

/* Random straight-line-and-forward-jump programs over initialised
 * registers, the stack and skb->len, verified here and by the running
 * kernel: the same verdict and errno for every one (error lines and
 * processed counts are counted and printed). */
static const uint8_t diff_alu[] = {
	0x07, 0x0f, 0x17, 0x1f, 0x27, 0x2f, 0x37, 0x3f, 0x47, 0x4f, 0x57,
	0x5f, 0x67, 0x6f, 0x77, 0x7f, 0x87, 0x97, 0x9f, 0xa7, 0xaf, 0xb7,
	0xbf, 0xc7, 0xcf, 0x04, 0x0c, 0x14, 0x1c, 0x24, 0x34, 0x44, 0x54,
	0x64, 0x74, 0x84, 0xa4, 0xb4, 0xbc, 0xc4, 0xd4, 0xdc,
};
static const uint8_t diff_jmp[] = {
	0x15, 0x1d, 0x25, 0x2d, 0x35, 0x3d, 0x45, 0x4d, 0x55, 0x5d, 0x65,
	0x6d, 0x75, 0x7d, 0xa5, 0xad, 0xb5, 0xbd, 0xc5, 0xcd, 0xd5, 0xdd,
	0x16, 0x1e, 0x26, 0x2e, 0xa6, 0xae, 0x66, 0x6e,
};

static uint64_t diff_rnd(uint64_t *seed)
{
	*seed = *seed * 6364136223846793005ull + 1442695040888963407ull;
	return *seed >> 11;
}

static size_t diff_program(uint64_t *seed, struct bpfvm_insn *prog)
{
	size_t n = 0, body = 10 + diff_rnd(seed) % 30;

	for (uint8_t r = 0; r < 10; r++)
		if (r != 1)
			prog[n++] = (struct bpfvm_insn){ .code = 0xb7, .dst_reg = r,
				.imm = (int32_t)(diff_rnd(seed) % 64) - 8 };
	prog[n++] = (struct bpfvm_insn){ .code = 0x61, .dst_reg = 6, .src_reg = 1 };
	for (size_t k = 0; k < body; k++) {
		uint64_t r = diff_rnd(seed);
		struct bpfvm_insn in = { 0 };
		int kind = (int)(r % 10);
		if (kind < 6) {
			in.code = diff_alu[(r >> 4) % sizeof(diff_alu)];
			uint8_t op = in.code & 0xf0;
			bool x = in.code & 8;
			in.dst_reg = (uint8_t)((r >> 10) % 10);
			in.src_reg = x ? (uint8_t)((r >> 14) % 10) : 0;
			in.imm = x ? 0 : (int32_t)((r >> 20) % 70) - 6;
			if (op == 0xd0) {
				in.src_reg = 0;
				in.imm = 16 << ((r >> 20) % 3);
			} else if (!x && (op == 0x60 || op == 0x70 || op == 0xc0)) {
				in.imm = (int32_t)((r >> 20) % 32);
			} else if (!x && (op == 0x30 || op == 0x90) && !in.imm) {
				in.imm = 3;
			} else if (op == 0x80) {
				in.src_reg = 0;
				in.imm = 0;
			}
		} else if (kind < 8) {
			in.code = diff_jmp[(r >> 4) % sizeof(diff_jmp)];
			in.dst_reg = (uint8_t)((r >> 10) % 10);
			in.src_reg = (in.code & 8) ? (uint8_t)((r >> 14) % 10) : 0;
			in.imm = (in.code & 8) ? 0 : (int32_t)((r >> 20) % 70) - 6;
			in.off = (int16_t)((r >> 30) % 4);
			if (k + 1 + (size_t)in.off >= body)
				in.off = 0;
		} else if (kind < 9) {
			int16_t slot = (int16_t)(-8 * (int)(((r >> 6) % 4) + 1));
			if ((r >> 4) & 1)
				in = (struct bpfvm_insn){ .code = 0x7b, .dst_reg = 10,
					.src_reg = (uint8_t)((r >> 10) % 10), .off = slot };
			else
				in = (struct bpfvm_insn){ .code = 0x79,
					.dst_reg = (uint8_t)((r >> 10) % 10 == 10 ? 0 : (r >> 10) % 10),
					.src_reg = 10, .off = slot };
		} else {
			in.code = 0xbf;
			in.dst_reg = (uint8_t)((r >> 10) % 10);
			in.src_reg = (uint8_t)((r >> 14) % 10);
		}
		prog[n++] = in;
	}
	prog[n++] = (struct bpfvm_insn){ .code = 0xb7 };
	prog[n++] = (struct bpfvm_insn){ .code = 0x95 };
	return n;
}

START_TEST(test_random_against_kernel)
{
	struct vcase c = { .type = BPF_PROG_TYPE_SOCKET_FILTER };
	const size_t loglen = 1 << 20;
	char *klog = malloc(loglen), *log = malloc(loglen);
	struct bpfvm_insn prog[64];
	uint64_t seed = 7;
	int accepted = 0, same_count = 0, total = 2000, rejected = 0, same_line = 0;

	ck_assert_ptr_nonnull(klog);
	ck_assert_ptr_nonnull(log);
	for (int it = 0; it < total; it++) {
		size_t n = diff_program(&seed, prog);
		int k = kernel_verdict(&c, prog, n, klog, loglen);
		if (k == 1) {
			printf("bpf(2) not available: kernel differential skipped\n");
			break;
		}
		struct bpfvm_verify_opts o = { .prog_type = c.type, .log_level = 1,
					       .log_buf = log, .log_size = (uint32_t)loglen };
		struct bpfvm_verify_result r;
		int ret = bpfvm_verify(prog, n, &o, &r);
		char kl[256], ol[256];
		last_error_line(klog, kl, sizeof(kl));
		last_error_line(log, ol, sizeof(ol));
		if (ret != k && getenv("BPFVM_VERIFIER_DUMP")) {
			FILE *f = fopen(getenv("BPFVM_VERIFIER_DUMP"), "wb");
			if (f) {
				fwrite(prog, sizeof(prog[0]), n, f);
				fclose(f);
			}
		}
		ck_assert_msg(ret == k, "program %d: kernel %d (%s), bpfvm %d (%s)",
			      it, k, kl, ret, ol);
		if (k) {
			/* the error line: counted (ranges may still differ) */
			rejected++;
			same_line += !strcmp(kl, ol);
			if (getenv("BPFVM_VERIFIER_COUNTS") && strcmp(kl, ol))
				printf("program %d: kernel '%s', bpfvm '%s'\n", it, kl, ol);
			continue;
		}
		const char *p = strstr(klog, "processed ");
		accepted++;
		same_count += p && atol(p + 10) == (long)r.insn_processed;
	}
	printf("random programs: %d accepted by both, processed counts equal for %d; "
	       "%d rejected by both, same error line for %d\n",
	       accepted, same_count, rejected, same_line);
	free(klog);
	free(log);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("verifier");
	TCase *tc = tcase_create("verifier");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_cases);
	tcase_add_test(tc, test_log_rules);
	tcase_add_test(tc, test_bench_accepted);
	tcase_add_test(tc, test_random_programs);
	tcase_add_test(tc, test_random_against_kernel);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
