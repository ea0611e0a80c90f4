/* The verifier against Linux 6.18's verdicts on the kernel's own verifier
 * self-tests (../shared/verifier-corpus): every replayable program is
 * verified with its program type, flags and maps, and the verdict compared
 * with the kernel's.  Fails when agreement drops below the ratchet
 * (tests/verifier_ratchet.txt).
 *
 * Environment: BPFVM_CORPUS_VERBOSE=1 lists every disagreement;
 * BPFVM_CORPUS_ID=substr verifies only matching tests and prints their logs
 * (log_level 1); BPFVM_CORPUS_MSGS=1 lists rejections whose error line
 * differs from the kernel's; BPFVM_CORPUS_TRACE=1 names each test on stderr
 * before verifying it.
 * SPDX-License-Identifier: MIT */
#include <check.h>
#include "testutil.h"
#include <errno.h>
#include <linux/bpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "bpfvm_bpf.h"
#include "map.h"
#include "verifier.h"

#define MAX_FIELDS 32
#define MAX_MAPS 16

struct test {
	char *id, *prog_type, *attach_type, *prog_flags, *insns, *fixups, *skip;
	char *runs, *btf;
};

struct truth {
	char *id, *verdict, *log, *runs;
	int err;
};

/* ---- reading the corpus ---------------------------------------------- */

/* \t, \n, \\ in place. */
static void unescape(char *s)
{
	char *o = s;
	for (; *s; s++) {
		if (*s == '\\' && s[1]) {
			s++;
			*o++ = *s == 't' ? '\t' : *s == 'n' ? '\n' : *s;
		} else {
			*o++ = *s;
		}
	}
	*o = 0;
}

static void parse_test(char *line, struct test *t)
{
	char *f[MAX_FIELDS];
	size_t n = tu_split(line, '\t', f, MAX_FIELDS);

	memset(t, 0, sizeof(*t));
	for (size_t i = 0; i < n; i++) {
		char *eq = strchr(f[i], '=');
		if (!eq)
			continue;
		*eq = 0;
		char *v = eq + 1;
		unescape(v);
		if (!strcmp(f[i], "id")) t->id = v;
		else if (!strcmp(f[i], "prog_type")) t->prog_type = v;
		else if (!strcmp(f[i], "attach_type")) t->attach_type = v;
		else if (!strcmp(f[i], "prog_flags")) t->prog_flags = v;
		else if (!strcmp(f[i], "insns")) t->insns = v;
		else if (!strcmp(f[i], "fixups")) t->fixups = v;
		else if (!strcmp(f[i], "skip")) t->skip = v;
		else if (!strcmp(f[i], "runs")) t->runs = v;
		else if (!strcmp(f[i], "btf")) t->btf = v;
	}
}

/* ---- maps ---------------------------------------------------------------- */

struct fdtab {
	struct bpfvm_map *map[MAX_MAPS];
	struct bpfvm_map *inner[MAX_MAPS];
	bool stub[MAX_MAPS];
	int n;
};

static struct bpfvm_map *by_fd(void *cookie, int fd)
{
	struct fdtab *t = cookie;
	int i = fd - 3;
	return i >= 0 && i < t->n ? t->map[i] : NULL;
}

static struct bpfvm_map *inner_of(void *cookie, struct bpfvm_map *outer)
{
	struct fdtab *t = cookie;
	for (int i = 0; i < t->n; i++)
		if (t->map[i] == outer)
			return t->inner[i];
	return NULL;
}

struct kind {
	const char *name;
	uint32_t type, key, value, max, flags;
	int lock_off;
};

static const struct kind kinds[] = {
	{ "map_hash_8b", BPF_MAP_TYPE_HASH, 8, 8, 1, BPF_F_NO_PREALLOC, -1 },
	{ "map_hash_16b", BPF_MAP_TYPE_HASH, 8, 16, 1, BPF_F_NO_PREALLOC, -1 },
	{ "map_hash_48b", BPF_MAP_TYPE_HASH, 8, 48, 1, BPF_F_NO_PREALLOC, -1 },
	{ "map_array_48b", BPF_MAP_TYPE_ARRAY, 4, 48, 1, 0, -1 },
	{ "map_array_ro", BPF_MAP_TYPE_ARRAY, 4, 48, 1, BPF_F_RDONLY_PROG, -1 },
	{ "map_array_wo", BPF_MAP_TYPE_ARRAY, 4, 48, 1, BPF_F_WRONLY_PROG, -1 },
	{ "map_array_small", BPF_MAP_TYPE_ARRAY, 4, 1, 1, 0, -1 },
	{ "prog1", BPF_MAP_TYPE_PROG_ARRAY, 4, 4, 4, 0, -1 },
	{ "prog2", BPF_MAP_TYPE_PROG_ARRAY, 4, 4, 8, 0, -1 },
	{ "map_in_map", BPF_MAP_TYPE_ARRAY_OF_MAPS, 4, 4, 1, 0, -1 },
	{ "cgroup_storage", BPF_MAP_TYPE_CGROUP_STORAGE, 12, 64, 0, 0, -1 },
	{ "percpu_cgroup_storage", BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE, 12, 64, 0, 0, -1 },
	{ "map_sockmap", BPF_MAP_TYPE_SOCKMAP, 4, 4, 1, 0, -1 },
	{ "map_sockhash", BPF_MAP_TYPE_SOCKHASH, 4, 4, 1, 0, -1 },
	{ "map_xskmap", BPF_MAP_TYPE_XSKMAP, 4, 4, 1, 0, -1 },
	{ "map_stacktrace", BPF_MAP_TYPE_STACK_TRACE, 4, 8, 1, 0, -1 },
	{ "map_event_output", BPF_MAP_TYPE_PERF_EVENT_ARRAY, 4, 4, 1, 0, -1 },
	{ "map_reuseport_array", BPF_MAP_TYPE_REUSEPORT_SOCKARRAY, 4, 8, 1, 0, -1 },
	{ "map_ringbuf", BPF_MAP_TYPE_RINGBUF, 0, 0, 4096, 0, -1 },
	{ "map_spin_lock", BPF_MAP_TYPE_ARRAY, 4, 8, 1, 0, 4 },
	{ "sk_storage_map", BPF_MAP_TYPE_SK_STORAGE, 4, 8, 0, BPF_F_NO_PREALLOC, 4 },
};

/* The verifier reads only a map's shape: a stand-in where the map layer
 * has no such type. */
static struct bpfvm_map *stub_map(const struct kind *k)
{
	struct bpfvm_map *m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	m->map_type = k->type;
	m->key_size = k->key;
	m->value_size = k->value;
	m->max_entries = k->max;
	m->map_flags = k->flags;
	m->lock_off = k->lock_off;
	return m;
}

static struct bpfvm_map *make_map(const struct kind *k, bool *stub,
				  struct bpfvm_map **inner)
{
	union bpf_attr a;
	struct bpfvm_map *m = NULL;

	*inner = NULL;
	*stub = false;
	memset(&a, 0, sizeof(a));
	a.map_type = k->type;
	a.key_size = k->key;
	a.value_size = k->value;
	a.max_entries = k->max;
	a.map_flags = k->flags;
	if (k->type == BPF_MAP_TYPE_ARRAY_OF_MAPS) {
		static const struct kind in = { "inner", BPF_MAP_TYPE_ARRAY, 4, 4, 1, 0, -1 };
		bool s;
		struct bpfvm_map *dummy;
		*inner = make_map(&in, &s, &dummy);
	}
	if (k->type != BPF_MAP_TYPE_ARRAY_OF_MAPS && bpfvm_map_create(&a, &m) == 0) {
		if (k->lock_off >= 0 && bpfvm_map_set_spin_lock(m, (uint32_t)k->lock_off)) {
			bpfvm_map_free(m);
			m = NULL;
		}
		if (m)
			return m;
	}
	*stub = true;
	return stub_map(k);
}

static int setup_maps(char *fixups, struct bpfvm_insn *insns, size_t n,
		      struct fdtab *t)
{
	char *groups[MAX_MAPS];
	size_t ng;

	t->n = 0;
	if (!fixups || !*fixups)
		return 0;
	ng = tu_split(fixups, ';', groups, MAX_MAPS);
	for (size_t g = 0; g < ng; g++) {
		char *colon = strchr(groups[g], ':');
		if (!colon)
			return -EINVAL;
		*colon = 0;
		const struct kind *k = NULL;
		for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
			if (!strcmp(kinds[i].name, groups[g]))
				k = &kinds[i];
		if (!k || t->n >= MAX_MAPS)
			return -ENOENT;
		t->map[t->n] = make_map(k, &t->stub[t->n], &t->inner[t->n]);
		if (!t->map[t->n])
			return -ENOMEM;
		int fd = 3 + t->n++;
		for (char *p = colon + 1; *p;) {
			size_t idx = strtoul(p, &p, 10);
			if (idx < n)
				insns[idx].imm = fd;
			if (*p == ',')
				p++;
			else
				break;
		}
	}
	return 0;
}

static void free_maps(struct fdtab *t)
{
	for (int i = 0; i < t->n; i++) {
		if (t->stub[i])
			free(t->map[i]);
		else
			bpfvm_map_free(t->map[i]);
		if (t->inner[i])
			bpfvm_map_free(t->inner[i]);
	}
	t->n = 0;
}

static int hexval(char c)
{
	return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}

static struct bpfvm_insn *decode_insns(const char *hex, size_t *n)
{
	size_t len = strlen(hex) / 2;
	uint8_t *b = malloc(len ? len : 1);
	if (!b)
		return NULL;
	for (size_t i = 0; i < len; i++)
		b[i] = (uint8_t)(hexval(hex[2 * i]) << 4 | hexval(hex[2 * i + 1]));
	*n = len / 8;
	return (struct bpfvm_insn *)b;
}

/* ---- the same through bpfvm_bpf() ----------------------------------------- */

static int sys(int cmd, union bpf_attr *a)
{
	return bpfvm_bpf(cmd, a, sizeof(*a));
}

/* Maps through BPF_MAP_CREATE: fds into the insns, -1 when a kind needs
 * what this replay does not make (BTF for spin locks). */
static int bpf_maps(char *fixups, struct bpfvm_insn *insns, size_t n,
		    int *fds, int *nfds)
{
	char *groups[MAX_MAPS];

	*nfds = 0;
	if (!fixups || !*fixups)
		return 0;
	size_t ng = tu_split(fixups, ';', groups, MAX_MAPS);
	for (size_t g = 0; g < ng; g++) {
		char *colon = strchr(groups[g], ':');
		const struct kind *k = NULL;
		if (!colon)
			return -1;
		*colon = 0;
		for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
			if (!strcmp(kinds[i].name, groups[g]))
				k = &kinds[i];
		if (!k || k->lock_off >= 0 || *nfds + 2 > MAX_MAPS)
			return -1;
		union bpf_attr a;
		memset(&a, 0, sizeof(a));
		a.map_type = k->type;
		a.key_size = k->key;
		a.value_size = k->value;
		a.max_entries = k->max;
		a.map_flags = k->flags;
		if (k->type == BPF_MAP_TYPE_ARRAY_OF_MAPS) {
			union bpf_attr in;
			memset(&in, 0, sizeof(in));
			in.map_type = BPF_MAP_TYPE_ARRAY;
			in.key_size = 4;
			in.value_size = 4;
			in.max_entries = 1;
			int ifd = sys(BPF_MAP_CREATE, &in);
			if (ifd < 0)
				return -1;
			fds[(*nfds)++] = ifd;
			a.inner_map_fd = (uint32_t)ifd;
		}
		int fd = sys(BPF_MAP_CREATE, &a);
		if (fd < 0)
			return -1;
		fds[(*nfds)++] = fd;
		for (char *p = colon + 1; *p;) {
			size_t idx = strtoul(p, &p, 10);
			if (idx < n)
				insns[idx].imm = fd;
			if (*p != ',')
				break;
			p++;
		}
	}
	return 0;
}

struct bpf_tally {
	int total, agree, false_acc, false_rej, errno_same, msg_same, rejects;
	int setup_skipped, runs, runs_same;
};

/* PROG_LOAD through bpfvm_bpf, then the test runs the truth checks. */
static void bpf_replay(const struct test *t, char *fixups, const struct truth *tr,
		       struct bpf_tally *b, bool verbose)
{
	static char log[1 << 20];
	size_t n;
	struct bpfvm_insn *insns = decode_insns(t->insns ? t->insns : "", &n);
	int fds[MAX_MAPS], nfds = 0;

	if (!insns)
		return;
	if ((t->btf && *t->btf) || bpf_maps(fixups, insns, n, fds, &nfds)) {
		b->setup_skipped++;
		goto out;
	}
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.prog_type = (uint32_t)strtoul(t->prog_type ? t->prog_type : "1", NULL, 0);
	a.expected_attach_type = (uint32_t)strtoul(t->attach_type ? t->attach_type : "0", NULL, 0);
	a.prog_flags = (uint32_t)strtoul(t->prog_flags ? t->prog_flags : "0", NULL, 0);
	a.insns = (uint64_t)(uintptr_t)insns;
	a.insn_cnt = (uint32_t)n;
	a.license = (uint64_t)(uintptr_t)"GPL";
	a.log_level = 1;
	a.log_buf = (uint64_t)(uintptr_t)log;
	a.log_size = sizeof(log);
	log[0] = 0;
	int fd = sys(BPF_PROG_LOAD, &a);
	int err = fd < 0 ? errno : 0;
	bool acc = fd >= 0, kacc = !strcmp(tr->verdict, "accept");
	char line[256] = "";
	/* the last line that is not a statistic */
	for (char *p = log, *e; *p; p = *e ? e + 1 : e) {
		e = strchr(p, '\n');
		if (!e)
			e = p + strlen(p);
		if (e > p && strncmp(p, "processed ", 10))
			snprintf(line, sizeof(line), "%.*s", (int)(e - p), p);
	}
	b->total++;
	if (acc == kacc)
		b->agree++;
	else if (acc)
		b->false_acc++;
	else
		b->false_rej++;
	if (!kacc) {
		b->rejects++;
		b->errno_same += !acc && err == tr->err;
		b->msg_same += !acc && !strcmp(line, tr->log);
	}
	if (verbose && acc != kacc)
		printf("bpfvm_bpf %s: kernel %s, ours %s (%s)\n", t->id, tr->verdict,
		       acc ? "accept" : "reject", line);
	/* the runs: "retval:data" each, against the truth's retvals */
	if (acc && t->runs && *t->runs && tr->runs && strcmp(tr->runs, "-")) {
		char runs[4096], truth_runs[1024];
		char *rs[16], *ts[16];
		snprintf(runs, sizeof(runs), "%s", t->runs);
		snprintf(truth_runs, sizeof(truth_runs), "%s", tr->runs);
		size_t nr = tu_split(runs, ';', rs, 16), nt = tu_split(truth_runs, ';', ts, 16);
		for (size_t i = 0; i < nr && i < nt; i++) {
			char *colon = strchr(rs[i], ':');
			uint8_t data[64] = { 0 }, out[256];
			if (ts[i][0] == '*' || ts[i][0] == 'E' || !colon)
				continue;
			for (size_t k = 0; k < 64 && colon[1 + 2 * k] && colon[2 + 2 * k]; k++)
				data[k] = (uint8_t)(hexval(colon[1 + 2 * k]) << 4 |
						    hexval(colon[2 + 2 * k]));
			union bpf_attr r;
			memset(&r, 0, sizeof(r));
			r.test.prog_fd = (uint32_t)fd;
			r.test.data_in = (uint64_t)(uintptr_t)data;
			r.test.data_size_in = sizeof(data);
			r.test.data_out = (uint64_t)(uintptr_t)out;
			r.test.data_size_out = sizeof(out);
			r.test.repeat = 1;
			b->runs++;
			if (sys(BPF_PROG_TEST_RUN, &r) == 0 &&
			    r.test.retval == (uint32_t)strtoul(ts[i], NULL, 10))
				b->runs_same++;
			else if (verbose)
				printf("bpfvm_bpf %s run %zu: retval %u, kernel %s\n", t->id, i,
				       r.test.retval, ts[i]);
		}
	}
	if (fd >= 0)
		bpfvm_close(fd);
out:
	while (nfds)
		bpfvm_close(fds[--nfds]);
	free(insns);
}

/* ---- the replay ------------------------------------------------------------ */

static double read_ratchet(void)
{
	const char *dir = getenv("BPFVM_TESTS");
	char path[4096];
	snprintf(path, sizeof(path), "%s/verifier_ratchet.txt", dir ? dir : "tests");
	char *s = tu_try_read_all(path, NULL);
	double v = 0;
	if (s) {
		/* first line that is not a comment */
		for (char *p = s; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
			if (*p != '#' && *p != '\n') {
				v = strtod(p, NULL);
				break;
			}
		}
		free(s);
	}
	return v;
}

START_TEST(test_corpus)
{
	const char *shared = getenv("BPFVM_SHARED");
	const char *only = getenv("BPFVM_CORPUS_ID");
	bool verbose = getenv("BPFVM_CORPUS_VERBOSE") != NULL;
	bool msgs = getenv("BPFVM_CORPUS_MSGS") != NULL;
	bool trace = getenv("BPFVM_CORPUS_TRACE") != NULL;
	char path[4096];
	struct timespec t0, t1;

	if (!shared)
		shared = "../shared";
	snprintf(path, sizeof(path), "%s/verifier-corpus/corpus.tsv", shared);
	char *corpus = tu_try_read_all(path, NULL);
	snprintf(path, sizeof(path), "%s/verifier-corpus/ground-truth-6.18.tsv", shared);
	char *gt = tu_try_read_all(path, NULL);
	if (!corpus || !gt) {
		free(corpus);
		free(gt);
		printf("verifier corpus not found under %s: skipped\n", shared);
		return;
	}

	/* ground truth by line */
	size_t ntruth = 0, cap = 2048;
	struct truth *truth = calloc(cap, sizeof(*truth));
	for (char *line = strtok(gt, "\n"); line; line = strtok(NULL, "\n")) {
		char *f[8];
		if (*line == '#' || tu_split(line, '\t', f, 8) < 5)
			continue;
		if (ntruth == cap)
			break;
		unescape(f[4]);
		/* the truth's notation for a load that logged nothing */
		if (!strcmp(f[4], "(empty log)"))
			f[4][0] = 0;
		truth[ntruth++] = (struct truth){ f[0], f[1], f[4], f[3], atoi(f[2]) };
	}

	int total = 0, agree = 0, false_acc = 0, false_rej = 0, rejects = 0,
	    msg_same = 0, errno_same = 0, stubs = 0;
	struct bpf_tally bt = { 0 };
	char *save = NULL;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (char *line = strtok_r(corpus, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		struct test t;
		if (*line == '#')
			continue;
		parse_test(line, &t);
		if (!t.id || (t.skip && *t.skip))
			continue;
		if (only && !strstr(t.id, only))
			continue;
		struct truth *tr = NULL;
		for (size_t i = 0; i < ntruth; i++)
			if (!strcmp(truth[i].id, t.id)) {
				tr = &truth[i];
				break;
			}
		if (!tr || (strcmp(tr->verdict, "accept") && strcmp(tr->verdict, "reject")))
			continue;

		char fixups_copy[1024];
		snprintf(fixups_copy, sizeof(fixups_copy), "%s", t.fixups ? t.fixups : "");
		if (!only)
			bpf_replay(&t, fixups_copy, tr, &bt, verbose);
		size_t n;
		struct bpfvm_insn *insns = decode_insns(t.insns ? t.insns : "", &n);
		struct fdtab tab = { 0 };
		ck_assert_ptr_nonnull(insns);
		if (setup_maps(t.fixups, insns, n, &tab)) {
			printf("%s: map setup failed\n", t.id);
			free_maps(&tab);
			free(insns);
			continue;
		}
		for (int i = 0; i < tab.n; i++)
			stubs += tab.stub[i];

		static char logbuf[1 << 20];
		struct bpfvm_verify_opts o = {
			.prog_type = (uint32_t)strtoul(t.prog_type ? t.prog_type : "1", NULL, 0),
			.expected_attach_type = (uint32_t)strtoul(t.attach_type ? t.attach_type : "0", NULL, 0),
			.prog_flags = (uint32_t)strtoul(t.prog_flags ? t.prog_flags : "0", NULL, 0),
			.map_by_fd = by_fd,
			.inner_map = inner_of,
			.map_cookie = &tab,
		};
		if (only) {
			o.log_level = 1;
			o.log_buf = logbuf;
			o.log_size = sizeof(logbuf);
		}
		struct bpfvm_verify_result r;
		if (trace)
			fprintf(stderr, "%s\n", t.id);
		bpfvm_verify(insns, n, &o, &r);
		bool acc = r.err == 0, kacc = !strcmp(tr->verdict, "accept");
		total++;
		if (acc == kacc)
			agree++;
		else if (acc)
			false_acc++;
		else
			false_rej++;
		if (!kacc) {
			rejects++;
			if (!acc && !strcmp(r.last_msg, tr->log))
				msg_same++;
			if (!acc && -r.err == tr->err)
				errno_same++;
			else if (!acc && msgs)
				printf("errno %s: ours %d kernel %d\n", t.id, -r.err, tr->err);
			if (msgs && !acc && strcmp(r.last_msg, tr->log))
				printf("msg %s\n   ours:   %s\n   kernel: %s\n", t.id,
				       r.last_msg, tr->log);
		}
		if ((verbose || only) && acc != kacc)
			printf("%s %s: kernel %s (%s), ours %s (%s)\n",
			       acc ? "FALSE-ACCEPT" : "FALSE-REJECT", t.id, tr->verdict,
			       tr->log, acc ? "accept" : "reject", r.last_msg);
		if (only)
			printf("---- %s (kernel: %s %s)\n%s\n", t.id, tr->verdict,
			       tr->log, logbuf);
		free_maps(&tab);
		free(insns);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	double pct = total ? 100.0 * agree / total : 0;
	printf("verifier corpus: %d programs in %.2f s\n", total, secs);
	printf("  verdict agreement %d/%d = %.2f%%\n", agree, total, pct);
	printf("  false accepts (kernel rejects): %d (%.2f%%)\n", false_acc,
	       total ? 100.0 * false_acc / total : 0);
	printf("  false rejects (kernel accepts): %d\n", false_rej);
	printf("  rejections with the kernel's error line: %d/%d, errno: %d/%d\n",
	       msg_same, rejects, errno_same, rejects);
	printf("  maps stood in for (type not in the map layer): %d\n", stubs);
	if (bt.total) {
		printf("through bpfvm_bpf(BPF_PROG_LOAD): %d programs (%d not set up: "
		       "BTF maps or func_info)\n", bt.total, bt.setup_skipped);
		printf("  verdict agreement %d/%d = %.2f%%, false accepts %d, false rejects %d\n",
		       bt.agree, bt.total, 100.0 * bt.agree / bt.total, bt.false_acc,
		       bt.false_rej);
		printf("  rejections: error line %d/%d, errno %d/%d\n", bt.msg_same,
		       bt.rejects, bt.errno_same, bt.rejects);
		printf("  test runs with a checked retval: %d/%d equal\n", bt.runs_same,
		       bt.runs);
	}
	free(truth);
	free(gt);
	free(corpus);
	if (!only) {
		double ratchet = read_ratchet();
		printf("  ratchet: %.2f%%\n", ratchet);
		ck_assert_msg(pct + 1e-9 >= ratchet,
			      "agreement %.2f%% fell below the ratchet %.2f%%", pct, ratchet);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("verifier_corpus");
	TCase *tc = tcase_create("corpus");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_corpus);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
