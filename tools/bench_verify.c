/* bpfvm-bench-verify: verification time of the bench programs
 * (../shared/bench/NAME.bin + .meta) through the kernel's bpf(2) and
 * through bpfvm_bpf, both as BPF_PROG_LOAD of an XDP program with its maps
 * created in the same world.  Wall time per load (the median of the
 * rounds), log off; a separate log_level 4 load of each gives the
 * processed-instruction counts.  Usage: bpfvm-bench-verify [rounds].
 * SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include "bpfvm_bpf.h"

#define PTR(p) ((uint64_t)(uintptr_t)(p))
#define MAX_MAPS 8
#define MAX_RELOCS 32

typedef int (*bpf_fn)(int cmd, union bpf_attr *a, unsigned size);

static int kbpf(int cmd, union bpf_attr *a, unsigned size)
{
	int r = (int)syscall(__NR_bpf, cmd, a, size);
	return r < 0 ? -errno : r;
}

static int vbpf(int cmd, union bpf_attr *a, unsigned size)
{
	int r = bpfvm_bpf(cmd, a, size);
	return r < 0 ? -errno : r;
}

struct bench {
	struct bpf_insn *insns;
	size_t n;
	struct { char type[16]; unsigned ks, vs, max; } map[MAX_MAPS];
	int nmaps;
	struct { unsigned insn, map; } reloc[MAX_RELOCS];
	int nrelocs;
};

static void *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	*len = 0;
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	void *b = malloc(n > 0 ? (size_t)n : 1);
	if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
		free(b);
		b = NULL;
	}
	fclose(f);
	*len = (size_t)n;
	return b;
}

static int bench_read(const char *name, struct bench *b)
{
	char path[4096], line[256];
	size_t len = 0;
	memset(b, 0, sizeof(*b));
	snprintf(path, sizeof(path), "%s/%s.bin", BPFVM_BENCH_DIR, name);
	b->insns = slurp(path, &len);
	b->n = len / 8;
	snprintf(path, sizeof(path), "%s/%s.meta", BPFVM_BENCH_DIR, name);
	FILE *f = fopen(path, "r");
	if (!b->insns || !f) {
		if (f)
			fclose(f);
		return -ENOENT;
	}
	while (fgets(line, sizeof(line), f)) {
		int i = b->nmaps, r = b->nrelocs;
		if (i < MAX_MAPS && sscanf(line, "map %*d %*s %15s %u %u %u", b->map[i].type,
					   &b->map[i].ks, &b->map[i].vs, &b->map[i].max) == 4)
			b->nmaps++;
		else if (r < MAX_RELOCS && sscanf(line, "reloc %u map %u", &b->reloc[r].insn,
						  &b->reloc[r].map) == 2 &&
			 b->reloc[r].insn < b->n && b->reloc[r].map < MAX_MAPS)
			b->nrelocs++;
	}
	fclose(f);
	return 0;
}

static uint64_t now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* One PROG_LOAD in world `call`; its wall time in *ns, the processed count
 * from a level-4 log when `processed` is given.  The fd is closed. */
static int load(bpf_fn call, struct bench *b, uint64_t *ns, unsigned *processed)
{
	int maps[MAX_MAPS], err = 0;
	for (int i = 0; i < b->nmaps; i++) {
		union bpf_attr a;
		memset(&a, 0, sizeof(a));
		a.map_type = !strcmp(b->map[i].type, "hash") ? BPF_MAP_TYPE_HASH
							      : BPF_MAP_TYPE_ARRAY;
		a.key_size = b->map[i].ks;
		a.value_size = b->map[i].vs;
		a.max_entries = b->map[i].max;
		maps[i] = call(BPF_MAP_CREATE, &a, sizeof(a));
		if (maps[i] < 0)
			return maps[i];
	}
	for (int r = 0; r < b->nrelocs; r++) {
		b->insns[b->reloc[r].insn].src_reg = BPF_PSEUDO_MAP_FD;
		b->insns[b->reloc[r].insn].imm = maps[b->reloc[r].map];
	}
	static char log[1 << 16];
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.prog_type = BPF_PROG_TYPE_XDP;
	a.insns = PTR(b->insns);
	a.insn_cnt = (uint32_t)b->n;
	a.license = PTR("GPL");
	if (processed) {
		a.log_level = 4;
		a.log_buf = PTR(log);
		a.log_size = sizeof(log);
	}
	uint64_t t0 = now_ns();
	int fd = call(BPF_PROG_LOAD, &a, sizeof(a));
	*ns = now_ns() - t0;
	if (fd < 0)
		err = fd;
	else
		call == kbpf ? close(fd) : bpfvm_close(fd);
	if (processed) {
		const char *p = strstr(log, "processed ");
		*processed = p ? (unsigned)strtoul(p + 10, NULL, 10) : 0;
	}
	for (int i = 0; i < b->nmaps; i++)
		call == kbpf ? close(maps[i]) : bpfvm_close(maps[i]);
	return err;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Median wall time of `rounds` loads, or -errno. */
static int64_t median(bpf_fn call, struct bench *b, int rounds, unsigned *processed)
{
	uint64_t ns[256];
	int err = load(call, b, &ns[0], processed); /* warm-up, and the count */
	if (err)
		return err;
	for (int i = 0; i < rounds; i++)
		if ((err = load(call, b, &ns[i], NULL)))
			return err;
	qsort(ns, (size_t)rounds, sizeof(ns[0]), cmp_u64);
	return (int64_t)ns[rounds / 2];
}

int main(int argc, char **argv)
{
	static const char *const names[] = {
		"collatz", "switchy", "csum", "pktcmp", "callchain", "hashmap",
	};
	int rounds = argc > 1 ? atoi(argv[1]) : 11;
	if (rounds < 1 || rounds > 256) {
		fprintf(stderr, "usage: %s [rounds 1-256]\n", argv[0]);
		return 2;
	}
	printf("%-10s %12s %12s %8s %10s %10s\n", "program", "kernel ms", "bpfvm ms",
	       "ratio", "k insns", "v insns");
	int fail = 0;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct bench b;
		if (bench_read(names[i], &b)) {
			fprintf(stderr, "%s: cannot read %s/%s.{bin,meta}\n", names[i],
				BPFVM_BENCH_DIR, names[i]);
			return 1;
		}
		unsigned kp = 0, vp = 0;
		int64_t k = median(kbpf, &b, rounds, &kp);
		int64_t v = median(vbpf, &b, rounds, &vp);
		if (v < 0)
			fail = 1;
		printf("%-10s ", names[i]);
		if (k < 0)
			printf("%12s ", strerror((int)-k));
		else
			printf("%12.3f ", (double)k / 1e6);
		if (v < 0)
			printf("%12s ", strerror((int)-v));
		else
			printf("%12.3f ", (double)v / 1e6);
		if (k > 0 && v > 0)
			printf("%8.2f ", (double)v / (double)k);
		else
			printf("%8s ", "-");
		printf("%10u %10u\n", kp, vp);
		free(b.insns);
	}
	return fail;
}
