/* ns per operation through bpfvm_bpf() beside the same operation through
 * the kernel's bpf(2), alternating in one run: hash and array, update and
 * lookup over 50k keys (the benchmark).  Each round runs, for the
 * kernel and then for bpfvm, two passes over the keys: the first comes
 * right after the other side's passes have filled the caches with their
 * data ("cold": on this kind of machine the 50k-key hash then costs one
 * DRAM miss per operation), the second runs on caches its own first pass
 * warmed (the steady state of a program using one map).  Then one more
 * bpfvm pass with bpfvm_bpf_set_fd_check(true) (one lseek per call, to
 * see plain close()).  Printed: best of N rounds of each, warm and cold,
 * and the ratio of the warm medians.
 * Then ns per map_lookup_elem call from a program (PROG_TEST_RUN's mean
 * time per run, with and without the calls), bpfvm beside the kernel.
 * Times are the thread's CPU time (see now_ns).
 * Run: BUILD/bpfvm-bench-bpf [rounds]
 * SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include "bpfvm_bpf.h"

#define KEYS 50000u
#define MAX_ROUNDS 101

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

typedef int (*bpf_fn)(int cmd, union bpf_attr *a, unsigned size);

static int kernel(int cmd, union bpf_attr *a, unsigned size)
{
	return (int)syscall(__NR_bpf, cmd, a, size);
}

/* The thread's CPU time (user and system: the kernel's side is mostly
 * system time): on a loaded machine, wall time counts the passes other
 * processes take, which no number of rounds reliably removes. */
static double now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

/* One pass of KEYS operations: ns per operation. */
static double pass(bpf_fn f, int fd, int cmd)
{
	uint64_t v = 1;
	uint32_t k;
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.map_fd = (uint32_t)fd;
	a.key = (uint64_t)(uintptr_t)&k;
	a.value = (uint64_t)(uintptr_t)&v;
	double t0 = now_ns();
	for (k = 0; k < KEYS; k++)
		if (f(cmd, &a, sizeof(a)) < 0) {
			fprintf(stderr, "operation failed: %s\n", strerror(errno));
			exit(1);
		}
	return (now_ns() - t0) / KEYS;
}

static int create(bpf_fn f, uint32_t type)
{
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.map_type = type;
	a.key_size = 4;
	a.value_size = 8;
	a.max_entries = KEYS;
	int fd = f(BPF_MAP_CREATE, &a, sizeof(a));
	if (fd < 0) {
		fprintf(stderr, "map create: %s\n", strerror(errno));
		exit(fd == -1 && f == kernel ? 77 : 1);
	}
	return fd;
}

/* ---- ns per helper call ---------------------------------------------- */

#define CALLS 64u /* lookups per program run */

/* A socket filter doing CALLS map_lookup_elem(map, &0) calls (or, with
 * !call, the same instructions with r0 = 0 in place of each call). */
static int load_calls(bpf_fn f, int map_fd, int call)
{
	struct bpf_insn p[2 + CALLS * 5 + 2], *i = p;
	*i++ = (struct bpf_insn){ .code = BPF_ST | BPF_MEM | BPF_W,
				  .dst_reg = BPF_REG_10, .off = -4, .imm = 0 };
	*i++ = (struct bpf_insn){ .code = BPF_ALU64 | BPF_MOV | BPF_K,
				  .dst_reg = BPF_REG_0, .imm = 0 };
	for (unsigned c = 0; c < CALLS; c++) {
		*i++ = (struct bpf_insn){ .code = BPF_LD | BPF_DW | BPF_IMM,
					  .dst_reg = BPF_REG_1,
					  .src_reg = BPF_PSEUDO_MAP_FD,
					  .imm = map_fd };
		*i++ = (struct bpf_insn){ 0 };
		*i++ = (struct bpf_insn){ .code = BPF_ALU64 | BPF_MOV | BPF_X,
					  .dst_reg = BPF_REG_2,
					  .src_reg = BPF_REG_10 };
		*i++ = (struct bpf_insn){ .code = BPF_ALU64 | BPF_ADD | BPF_K,
					  .dst_reg = BPF_REG_2, .imm = -4 };
		*i++ = call ? (struct bpf_insn){ .code = BPF_JMP | BPF_CALL,
						 .imm = BPF_FUNC_map_lookup_elem }
			    : (struct bpf_insn){ .code = BPF_ALU64 | BPF_MOV | BPF_K,
						 .dst_reg = BPF_REG_0, .imm = 0 };
	}
	*i++ = (struct bpf_insn){ .code = BPF_ALU64 | BPF_MOV | BPF_K,
				  .dst_reg = BPF_REG_0, .imm = 0 };
	*i++ = (struct bpf_insn){ .code = BPF_JMP | BPF_EXIT };
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
	a.insns = (uint64_t)(uintptr_t)p;
	a.insn_cnt = (uint32_t)(i - p);
	a.license = (uint64_t)(uintptr_t)"MIT";
	int fd = f(BPF_PROG_LOAD, &a, sizeof(a));
	if (fd < 0) {
		fprintf(stderr, "prog load: %s\n", strerror(errno));
		exit(1);
	}
	return fd;
}

/* Mean ns per run over repeat runs, as PROG_TEST_RUN reports it. */
static double test_run(bpf_fn f, int prog_fd, uint32_t repeat)
{
	uint8_t pkt[64] = { 0 };
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.test.prog_fd = (uint32_t)prog_fd;
	a.test.data_in = (uint64_t)(uintptr_t)pkt;
	a.test.data_size_in = sizeof(pkt);
	a.test.repeat = repeat;
	if (f(BPF_PROG_TEST_RUN, &a, sizeof(a)) < 0) {
		fprintf(stderr, "test run: %s\n", strerror(errno));
		exit(1);
	}
	return a.test.duration;
}

/* ns per map_lookup_elem call from a program, bpfvm's interpreter beside
 * the kernel's JIT: (a run with CALLS calls - the run without) / CALLS,
 * best of rounds.  The kernel inlines an array lookup into the program
 * (the verifier's map_gen_lookup); bpfvm calls the helper. */
static void helper_calls(int rounds)
{
	static const struct { const char *name; uint32_t type; } kinds[] = {
		{ "array", BPF_MAP_TYPE_ARRAY }, { "hash", BPF_MAP_TYPE_HASH },
	};
	printf("\n%-6s %-22s %10s %10s\n", "map", "helper", "kernel ns",
	       "bpfvm ns");
	for (size_t t = 0; t < 2; t++) {
		double best[2] = { 1e18, 1e18 };
		bpf_fn fs[2] = { kernel, bpfvm_bpf };
		for (int w = 0; w < 2; w++) {
			int map = create(fs[w], kinds[t].type);
			uint32_t k = 0;
			uint64_t v = 7;
			union bpf_attr a;
			memset(&a, 0, sizeof(a));
			a.map_fd = (uint32_t)map;
			a.key = (uint64_t)(uintptr_t)&k;
			a.value = (uint64_t)(uintptr_t)&v;
			if (fs[w](BPF_MAP_UPDATE_ELEM, &a, sizeof(a)) < 0) {
				fprintf(stderr, "update: %s\n", strerror(errno));
				exit(1);
			}
			int with = load_calls(fs[w], map, 1);
			int without = load_calls(fs[w], map, 0);
			for (int r = 0; r < rounds; r++) {
				double d = test_run(fs[w], with, 20000) -
					   test_run(fs[w], without, 20000);
				if (d / CALLS < best[w])
					best[w] = d / CALLS;
			}
			if (w) {
				bpfvm_close(with);
				bpfvm_close(without);
				bpfvm_close(map);
			} else {
				close(with);
				close(without);
				close(map);
			}
		}
		printf("%-6s %-22s %10.1f %10.1f\n", kinds[t].name,
		       "map_lookup_elem", best[0], best[1]);
	}
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 5;
	if (rounds < 1 || rounds > MAX_ROUNDS) {
		fprintf(stderr, "usage: bpfvm-bench-bpf [rounds 1..%d]\n", MAX_ROUNDS);
		return 2;
	}
	static const struct { const char *name; uint32_t type; } kinds[] = {
		{ "hash", BPF_MAP_TYPE_HASH }, { "array", BPF_MAP_TYPE_ARRAY },
	};
	static const struct { const char *name; int cmd; } ops[] = {
		{ "update", BPF_MAP_UPDATE_ELEM }, { "lookup", BPF_MAP_LOOKUP_ELEM },
	};
	printf("%-6s %-7s %9s %9s %8s %8s %9s %9s %8s %9s %8s\n", "map", "op",
	       "kernel", "bpfvm", "ratio", "median", "k-cold", "v-cold",
	       "ratio", "checked", "ratio");
	for (size_t t = 0; t < 2; t++) {
		int kfd = create(kernel, kinds[t].type);
		int vfd = create(bpfvm_bpf, kinds[t].type);
		for (size_t o = 0; o < 2; o++) {
			/* kernel warm, bpfvm warm, checked, kernel cold, bpfvm cold */
			double x[5][MAX_ROUNDS], best[5], med[5];
			for (int r = 0; r < rounds; r++) {
				x[3][r] = pass(kernel, kfd, ops[o].cmd);
				x[0][r] = pass(kernel, kfd, ops[o].cmd);
				x[4][r] = pass(bpfvm_bpf, vfd, ops[o].cmd);
				x[1][r] = pass(bpfvm_bpf, vfd, ops[o].cmd);
				bpfvm_bpf_set_fd_check(true);
				x[2][r] = pass(bpfvm_bpf, vfd, ops[o].cmd);
				bpfvm_bpf_set_fd_check(false);
			}
			for (int i = 0; i < 5; i++) {
				qsort(x[i], (size_t)rounds, sizeof(double), cmp_double);
				best[i] = x[i][0];
				med[i] = x[i][rounds / 2];
			}
			printf("%-6s %-7s %9.1f %9.1f %7.3fx %7.3fx %9.1f %9.1f "
			       "%7.3fx %9.1f %7.3fx\n",
			       kinds[t].name, ops[o].name, best[0], best[1],
			       best[1] / best[0], med[1] / med[0], best[3],
			       best[4], best[4] / best[3], best[2],
			       best[2] / best[0]);
		}
		close(kfd);
		bpfvm_close(vfd);
	}
	helper_calls(rounds);
	return 0;
}
