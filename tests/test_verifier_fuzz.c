/* The verifier against the running kernel's on seeded random programs
 * (vfuzz_gen.c): each program is loaded with bpf(2) BPF_PROG_LOAD and
 * verified by bpfvm_verify with the same maps, and the verdict, the errno
 * and the error line (the kernel log's last line before the "processed N
 * insns" statistics) compared.  A differential test the self-test corpus
 * cannot overfit.  Fails when agreement drops below the ratchet
 * (tests/verifier_fuzz_ratchet.txt).
 *
 * Environment: BPFVM_SEED (the run's seed), BPFVM_VFUZZ_N (programs),
 * BPFVM_VFUZZ_ONE=i (only program i, with both logs),
 * BPFVM_VFUZZ_VERBOSE=1 (every disagreement in full),
 * BPFVM_VFUZZ_MIN=1 (shrink each class's example before printing it),
 * BPFVM_VFUZZ_HIST=1 (the kernel's error lines, counted: for tuning the
 * generator's mix), BPFVM_VFUZZ_SHOW=substr (with HIST: the programs the
 * kernel rejects with an error line containing substr).
 * SPDX-License-Identifier: MIT */
#include <check.h>
#include <errno.h>
#include <linux/bpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "bpfvm_asm.h"
#include "kernel_util.h"
#include "map.h"
#include "verifier.h"
#include "vfuzz_gen.h"

#define DEFAULT_SEED 0x5eed2026ull
#define DEFAULT_N 3000
#define MAX_CLASSES 512
#define LOG_SIZE (1u << 20)

struct side {
	int err;         /* 0 or -errno */
	char line[256];  /* the error line, "" when accepted */
};

struct ctx {
	struct vfuzz_maps kfd;               /* kernel descriptors */
	struct bpfvm_map *array, *hash;      /* bpfvm's maps behind them */
	char *klog, *vlog;
};

/* A kind of disagreement: what differs and both error lines with their
 * numbers blanked; its smallest example. */
struct klass {
	char key[600];
	unsigned count;
	unsigned index;
	struct vfuzz_prog ex;
	struct side k, v;
};

static int sys_bpf(int cmd, union bpf_attr *a)
{
	long r = syscall(__NR_bpf, cmd, a, sizeof(*a));
	return r < 0 ? -errno : (int)r;
}

static void map_attr(union bpf_attr *a, uint32_t type, uint32_t key,
		     uint32_t value, uint32_t max)
{
	memset(a, 0, sizeof(*a));
	a->map_type = type;
	a->key_size = key;
	a->value_size = value;
	a->max_entries = max;
}

static struct bpfvm_map *by_fd(void *cookie, int fd)
{
	struct ctx *c = cookie;
	return fd == c->kfd.array_fd ? c->array : fd == c->kfd.hash_fd ? c->hash : NULL;
}

/* The kernel log's error line: the last line that is not statistics. */
static void kernel_line(const char *log, char *out, size_t len)
{
	const char *end = log + strlen(log), *best = NULL, *best_end = NULL;
	out[0] = 0;
	while (end > log) {
		const char *e = end;
		while (e > log && e[-1] == '\n')
			e--;
		const char *b = e;
		while (b > log && b[-1] != '\n')
			b--;
		if (b == e)
			break;
		if (strncmp(b, "processed ", 10) && strncmp(b, "verification time", 17) &&
		    strncmp(b, "stack depth", 11)) {
			best = b;
			best_end = e;
			break;
		}
		end = b;
	}
	if (best) {
		size_t n = (size_t)(best_end - best);
		if (n >= len)
			n = len - 1;
		memcpy(out, best, n);
		out[n] = 0;
	}
}

static uint32_t attach_type(uint32_t type)
{
	return type == BPF_PROG_TYPE_XDP ? BPF_XDP : 0;
}

static void run_kernel(struct ctx *c, const struct vfuzz_prog *p, struct side *s)
{
	int fd = bpfk_prog_load((int)p->prog_type, p->insns, p->n, 1, c->klog, LOG_SIZE);
	s->err = fd < 0 ? fd : 0;
	s->line[0] = 0;
	if (fd >= 0)
		close(fd);
	else
		kernel_line(c->klog, s->line, sizeof(s->line));
}

static void run_ours(struct ctx *c, const struct vfuzz_prog *p, struct side *s,
		     int log_level)
{
	struct bpfvm_verify_opts o = {
		.prog_type = p->prog_type,
		.expected_attach_type = attach_type(p->prog_type),
		.log_level = (uint32_t)log_level,
		.log_buf = log_level ? c->vlog : NULL,
		.log_size = log_level ? LOG_SIZE : 0,
		.map_by_fd = by_fd,
		.map_cookie = c,
	};
	struct bpfvm_verify_result r;
	memset(&r, 0, sizeof(r));
	if (log_level)
		c->vlog[0] = 0;
	s->err = bpfvm_verify(p->insns, p->n, &o, &r);
	snprintf(s->line, sizeof(s->line), "%s", s->err ? r.last_msg : "");
}

/* Digits become N, so "R3 min value is negative" classes gather. */
static void blank_numbers(const char *in, char *out, size_t len)
{
	size_t o = 0;
	for (; *in && o + 1 < len; in++) {
		if (*in >= '0' && *in <= '9') {
			while (in[1] >= '0' && in[1] <= '9')
				in++;
			out[o++] = 'N';
		} else {
			out[o++] = *in;
		}
	}
	out[o] = 0;
}

/* "" when they agree, else the class key. */
static void classify(const struct side *k, const struct side *v, char *key,
		     size_t len)
{
	char kl[256], vl[256];
	const char *what;
	key[0] = 0;
	if (!k->err != !v->err)
		what = v->err ? "FALSE-REJECT" : "FALSE-ACCEPT";
	else if (k->err != v->err)
		what = "ERRNO";
	else if (strcmp(k->line, v->line))
		what = "LINE";
	else
		return;
	blank_numbers(k->line, kl, sizeof(kl));
	blank_numbers(v->line, vl, sizeof(vl));
	snprintf(key, len, "%s | kernel %d: %s | bpfvm %d: %s", what, k->err, kl,
		 v->err, vl);
}

static void show(struct ctx *c, const struct vfuzz_prog *p, unsigned i,
		 uint64_t seed, const struct side *k, const struct side *v)
{
	static const char *names[] = { [BPF_PROG_TYPE_SOCKET_FILTER] = "socket_filter",
		[BPF_PROG_TYPE_SCHED_CLS] = "sched_cls", [BPF_PROG_TYPE_XDP] = "xdp" };
	printf("---- program %u (BPFVM_SEED=0x%llx BPFVM_VFUZZ_ONE=%u), %s, %zu insns\n",
	       i, (unsigned long long)seed, i, names[p->prog_type], p->n);
	printf("kernel: %s (%d) %s\n", k->err ? "reject" : "accept", k->err, k->line);
	printf("bpfvm:  %s (%d) %s\n", v->err ? "reject" : "accept", v->err, v->line);
	(void)c;
	fflush(stdout);
	bpfvm_disasm(p->insns, p->n, stdout);
	fflush(stdout);
}

/* Greedy shrinking: drop instructions while the disagreement stays the
 * same kind. */
static void shrink(struct ctx *c, struct vfuzz_prog *p, const char *key)
{
	int progress = 1;
	while (progress) {
		progress = 0;
		for (size_t i = 0; i + 1 < p->n; i++) {
			struct vfuzz_prog t = *p;
			struct side k, v;
			char key2[600];
			vfuzz_remove(&t, i);
			run_kernel(c, &t, &k);
			run_ours(c, &t, &v, 0);
			classify(&k, &v, key2, sizeof(key2));
			if (!strcmp(key, key2)) {
				*p = t;
				progress = 1;
				i--;
			}
		}
	}
}

static double ratchet(const char *name)
{
	char path[4096], line[256], n[64];
	double v, found = 100.0;
	const char *dir = getenv("BPFVM_TESTS");
	snprintf(path, sizeof(path), "%s/verifier_fuzz_ratchet.txt", dir ? dir : "tests");
	FILE *f = fopen(path, "r");
	ck_assert_msg(f, "cannot read %s", path);
	while (fgets(line, sizeof(line), f))
		if (line[0] != '#' && sscanf(line, "%63s %lf", n, &v) == 2 && !strcmp(n, name))
			found = v;
	fclose(f);
	return found;
}

static uint64_t env_u64(const char *name, uint64_t def)
{
	const char *s = getenv(name);
	return s && *s ? strtoull(s, NULL, 0) : def;
}

static int by_count(const void *a, const void *b)
{
	const struct klass *x = a, *y = b;
	return x->count < y->count ? 1 : x->count > y->count ? -1 : 0;
}

START_TEST(test_fuzz)
{
	char why[256];
	if (!bpfk_available(why, sizeof(why))) {
		printf("SKIP: %s\n", why);
		return;
	}
	struct ctx c = { 0 };
	union bpf_attr a;
	map_attr(&a, BPF_MAP_TYPE_ARRAY, 4, VFUZZ_ARRAY_VALUE, 4);
	c.kfd.array_fd = sys_bpf(BPF_MAP_CREATE, &a);
	ck_assert_int_ge(c.kfd.array_fd, 0);
	ck_assert_int_eq(bpfvm_map_create(&a, &c.array), 0);
	map_attr(&a, BPF_MAP_TYPE_HASH, 8, VFUZZ_HASH_VALUE, 8);
	c.kfd.hash_fd = sys_bpf(BPF_MAP_CREATE, &a);
	ck_assert_int_ge(c.kfd.hash_fd, 0);
	ck_assert_int_eq(bpfvm_map_create(&a, &c.hash), 0);
	c.klog = malloc(LOG_SIZE);
	c.vlog = malloc(LOG_SIZE);
	ck_assert(c.klog && c.vlog);

	uint64_t seed = env_u64("BPFVM_SEED", DEFAULT_SEED);
	unsigned n = (unsigned)env_u64("BPFVM_VFUZZ_N", DEFAULT_N);
	long one = getenv("BPFVM_VFUZZ_ONE") ? (long)env_u64("BPFVM_VFUZZ_ONE", 0) : -1;
	int verbose = getenv("BPFVM_VFUZZ_VERBOSE") != NULL;
	int minimise = getenv("BPFVM_VFUZZ_MIN") != NULL;
	int hist = getenv("BPFVM_VFUZZ_HIST") != NULL;
	const char *hist_show = getenv("BPFVM_VFUZZ_SHOW");
	struct klass *cls = calloc(MAX_CLASSES, sizeof(*cls));
	ck_assert_ptr_nonnull(cls);
	unsigned ncls = 0, total = 0, kacc = 0, verdict = 0, rejects = 0,
		 errno_same = 0, line_same = 0, shown = 0;
	static struct vfuzz_prog p;

	printf("seed 0x%llx, %u programs\n", (unsigned long long)seed, n);
	for (unsigned i = 0; i < n; i++) {
		uint64_t s = seed ^ (0x9e3779b97f4a7c15ull * (i + 1));
		if (one >= 0 && i != (unsigned long)one)
			continue;
		vfuzz_gen(&s, &c.kfd, &p);
		struct side k, v;
		char key[600];
		run_kernel(&c, &p, &k);
		run_ours(&c, &p, &v, one >= 0);
		total++;
		kacc += !k.err;
		verdict += !k.err == !v.err;
		if (k.err && v.err) {
			rejects++;
			errno_same += k.err == v.err;
			line_same += !strcmp(k.line, v.line);
		}
		if (one >= 0) {
			show(&c, &p, i, seed, &k, &v);
			printf("==== kernel log\n%s==== bpfvm log\n%s", c.klog, c.vlog);
		}
		if (hist && k.err) {
			blank_numbers(k.line, key, sizeof(key));
			printf("kernel-reject: %s\n", key);
			if (hist_show && strstr(k.line, hist_show))
				show(&c, &p, i, seed, &k, &v);
		}
		classify(&k, &v, key, sizeof(key));
		if (!key[0])
			continue;
		if (verbose || (shown < 3 && strncmp(key, "LINE", 4))) {
			show(&c, &p, i, seed, &k, &v);
			shown++;
		}
		unsigned j = 0;
		while (j < ncls && strcmp(cls[j].key, key))
			j++;
		if (j == ncls && ncls < MAX_CLASSES) {
			snprintf(cls[ncls++].key, sizeof(cls[0].key), "%s", key);
			cls[j].ex.n = (size_t)-1;
		}
		if (j < ncls) {
			cls[j].count++;
			if (p.n < cls[j].ex.n) {
				cls[j].ex = p;
				cls[j].index = i;
				cls[j].k = k;
				cls[j].v = v;
			}
		}
	}

	qsort(cls, ncls, sizeof(*cls), by_count);
	printf("\nkinds of disagreement (%u):\n", ncls);
	for (unsigned j = 0; j < ncls; j++) {
		printf("%5u  %s\n", cls[j].count, cls[j].key);
		/* the ten commonest, and every wrong verdict */
		if ((j < 10 || !strncmp(cls[j].key, "FALSE", 5)) && (minimise || verbose)) {
			if (minimise)
				shrink(&c, &cls[j].ex, cls[j].key);
			run_kernel(&c, &cls[j].ex, &cls[j].k);
			run_ours(&c, &cls[j].ex, &cls[j].v, 0);
			show(&c, &cls[j].ex, cls[j].index, seed, &cls[j].k, &cls[j].v);
		}
	}
	double pv = total ? 100.0 * verdict / total : 100.0;
	double pe = rejects ? 100.0 * errno_same / rejects : 100.0;
	double pl = rejects ? 100.0 * line_same / rejects : 100.0;
	printf("\n%u programs, kernel accepted %u (%.1f%%)\n", total, kacc,
	       total ? 100.0 * kacc / total : 0.0);
	printf("verdict agreement %u/%u = %.2f%%\n", verdict, total, pv);
	printf("both rejected %u: errno agreement %.2f%%, error line agreement %.2f%%\n",
	       rejects, pe, pl);
	fflush(stdout);

	close(c.kfd.array_fd);
	close(c.kfd.hash_fd);
	bpfvm_map_put(c.array);
	bpfvm_map_put(c.hash);
	free(c.klog);
	free(c.vlog);
	free(cls);
	if (one < 0 && seed == DEFAULT_SEED && n == DEFAULT_N) {
		ck_assert_msg(pv >= ratchet("verdict"), "verdict agreement %.2f%% < ratchet %.2f%%",
			      pv, ratchet("verdict"));
		ck_assert_msg(pe >= ratchet("errno"), "errno agreement %.2f%% < ratchet %.2f%%",
			      pe, ratchet("errno"));
		ck_assert_msg(pl >= ratchet("line"), "error line agreement %.2f%% < ratchet %.2f%%",
			      pl, ratchet("line"));
	}
}
END_TEST

int main(void)
{
	char why[256];
	if (!bpfk_available(why, sizeof(why))) {
		printf("SKIP: %s\n", why);
		return 77;
	}
	Suite *s = suite_create("verifier_fuzz");
	TCase *tc = tcase_create("fuzz");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_fuzz);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
