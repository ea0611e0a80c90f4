/* ns per operation through bpfvm_bpf() beside the same operation through
 * the kernel's bpf(2), alternating in one run: hash and array, update and
 * lookup over 50k keys (the benchmark).  bpfvm is measured twice:
 * with the per-call descriptor check (one lseek: the default) and without
 * (bpfvm_bpf_set_fd_check(false)).  Best of N rounds.
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

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 5;
	static const struct { const char *name; uint32_t type; } kinds[] = {
		{ "hash", BPF_MAP_TYPE_HASH }, { "array", BPF_MAP_TYPE_ARRAY },
	};
	static const struct { const char *name; int cmd; } ops[] = {
		{ "update", BPF_MAP_UPDATE_ELEM }, { "lookup", BPF_MAP_LOOKUP_ELEM },
	};
	printf("%-6s %-7s %10s %12s %12s %8s %8s\n", "map", "op", "kernel ns",
	       "bpfvm ns", "unchecked", "ratio", "ratio-u");
	for (size_t t = 0; t < 2; t++) {
		int kfd = create(kernel, kinds[t].type);
		int vfd = create(bpfvm_bpf, kinds[t].type);
		for (size_t o = 0; o < 2; o++) {
			double best[3] = { 1e18, 1e18, 1e18 };
			for (int r = 0; r < rounds; r++) {
				double x[3];
				x[0] = pass(kernel, kfd, ops[o].cmd);
				bpfvm_bpf_set_fd_check(true);
				x[1] = pass(bpfvm_bpf, vfd, ops[o].cmd);
				bpfvm_bpf_set_fd_check(false);
				x[2] = pass(bpfvm_bpf, vfd, ops[o].cmd);
				for (int i = 0; i < 3; i++)
					if (x[i] < best[i])
						best[i] = x[i];
			}
			bpfvm_bpf_set_fd_check(true);
			printf("%-6s %-7s %10.1f %12.1f %12.1f %7.3fx %7.3fx\n",
			       kinds[t].name, ops[o].name, best[0], best[1],
			       best[2], best[1] / best[0], best[2] / best[0]);
		}
		close(kfd);
		bpfvm_close(vfd);
	}
	return 0;
}
