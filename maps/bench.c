/* ns per map operation, this layer beside the kernel's bpf(2) on the same
 * operations, alternating in one run: hash and array update and lookup
 * over 50k keys (the benchmark, before bpfvm_bpf exists).
 * Times are the thread's CPU time (see now_ns).
 * Run: BUILD/bpfvm-maps-bench [rounds]
 * SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include "map.h"

#define KEYS 50000u

/* The thread's CPU time (user and system: the kernel's side is mostly
 * system time): on a loaded machine, wall time counts the passes other
 * processes take, which no number of rounds reliably removes. */
static double now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static int kbpf(int cmd, union bpf_attr *a)
{
	return (int)syscall(__NR_bpf, cmd, a, sizeof(*a));
}

static int kop(int cmd, int fd, const void *key, void *value)
{
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.map_fd = (uint32_t)fd;
	a.key = (uint64_t)(uintptr_t)key;
	a.value = (uint64_t)(uintptr_t)value;
	return kbpf(cmd, &a);
}

/* One pass of KEYS operations: ns per operation. */
static double pass(struct bpfvm_map *m, int fd, int update)
{
	uint64_t v = 1;
	double t0 = now_ns();
	for (uint32_t k = 0; k < KEYS; k++) {
		int r = m ? (update ? bpfvm_map_update_elem(m, &k, &v, 0)
				    : bpfvm_map_lookup_elem(m, &k, &v, 0))
			  : kop(update ? BPF_MAP_UPDATE_ELEM : BPF_MAP_LOOKUP_ELEM,
				fd, &k, &v);
		if (r) {
			fprintf(stderr, "operation failed: %d/%s\n", r, strerror(errno));
			exit(1);
		}
	}
	return (now_ns() - t0) / KEYS;
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 5;
	static const struct { const char *name; uint32_t type; } kinds[] = {
		{ "hash", BPF_MAP_TYPE_HASH }, { "array", BPF_MAP_TYPE_ARRAY } };
	for (size_t i = 0; i < 2; i++) {
		union bpf_attr a;
		memset(&a, 0, sizeof(a));
		a.map_type = kinds[i].type;
		a.key_size = 4;
		a.value_size = 8;
		a.max_entries = KEYS;
		struct bpfvm_map *m;
		if (bpfvm_map_create(&a, &m)) {
			fprintf(stderr, "create failed\n");
			return 1;
		}
		int fd = kbpf(BPF_MAP_CREATE, &a);
		if (fd < 0)
			printf("(no bpf(2): %s; bpfvm only)\n", strerror(errno));
		/* best of rounds, each side in turn */
		double best[2][2] = { { 1e18, 1e18 }, { 1e18, 1e18 } };
		for (int r = 0; r < rounds; r++)
			for (int up = 1; up >= 0; up--) {
				double x = pass(m, -1, up);
				best[0][up] = x < best[0][up] ? x : best[0][up];
				if (fd >= 0) {
					x = pass(NULL, fd, up);
					best[1][up] = x < best[1][up] ? x : best[1][up];
				}
			}
		for (int up = 1; up >= 0; up--) {
			printf("%-5s %-6s bpfvm %7.1f ns", kinds[i].name,
			       up ? "update" : "lookup", best[0][up]);
			if (fd >= 0)
				printf("  kernel %7.1f ns  ratio %.3f", best[1][up],
				       best[0][up] / best[1][up]);
			printf("\n");
		}
		if (fd >= 0)
			close(fd);
		bpfvm_map_free(m);
	}
	return 0;
}
