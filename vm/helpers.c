/* The kernel helpers that make sense in user space, registered by
 * bpfvm_create() under their kernel ids.  Semantics follow the kernel's
 * (kernel/bpf/helpers.c, kernel/trace/bpf_trace.c); where a value only the
 * kernel has is asked for, the nearest user-space fact answers (the thread
 * for `current`, CLOCK_MONOTONIC for ktime).
 * SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>
#include "vm_internal.h"

#define UNUSED5 (void)r1, (void)r2, (void)r3, (void)r4, (void)r5, (void)call

/* #5: nanoseconds of CLOCK_MONOTONIC, as the kernel's ktime_get_ns */
static uint64_t ktime_get_ns(uint64_t r1, uint64_t r2, uint64_t r3,
			     uint64_t r4, uint64_t r5, struct bpfvm_call *call)
{
	UNUSED5;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* #7: splitmix64 over a per-VM Weyl counter advanced atomically, so runs
 * on several threads never share a draw and need no lock */
static uint64_t get_prandom_u32(uint64_t r1, uint64_t r2, uint64_t r3,
				uint64_t r4, uint64_t r5,
				struct bpfvm_call *call)
{
	UNUSED5;
	/* the VM is const for runs, its counter is the one mutable field */
	struct bpfvm *vm = (struct bpfvm *)call->run->root;
	uint64_t z = __atomic_add_fetch(&vm->rnd, 0x9e3779b97f4a7c15ull,
					__ATOMIC_RELAXED);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return (uint32_t)(z ^ (z >> 31));
}

/* #8 */
static uint64_t get_smp_processor_id(uint64_t r1, uint64_t r2, uint64_t r3,
				     uint64_t r4, uint64_t r5,
				     struct bpfvm_call *call)
{
	UNUSED5;
	int cpu = sched_getcpu();
	return cpu < 0 ? 0 : (uint64_t)cpu;
}

/* #14: tgid in the upper half, the thread id in the lower */
static uint64_t get_current_pid_tgid(uint64_t r1, uint64_t r2, uint64_t r3,
				     uint64_t r4, uint64_t r5,
				     struct bpfvm_call *call)
{
	UNUSED5;
	return (uint64_t)(uint32_t)getpid() << 32 | (uint32_t)gettid();
}

/* #15: gid in the upper half, uid in the lower */
static uint64_t get_current_uid_gid(uint64_t r1, uint64_t r2, uint64_t r3,
				    uint64_t r4, uint64_t r5,
				    struct bpfvm_call *call)
{
	UNUSED5;
	return (uint64_t)getgid() << 32 | (uint32_t)getuid();
}

/* #16 get_current_comm(buf, size): the thread's name, NUL-terminated and
 * zero-padded to size (strscpy_pad); 0.  The verifier guarantees size > 0;
 * unverified code with size 0 or a NULL buf gets -EINVAL. */
static uint64_t get_current_comm(uint64_t r1, uint64_t r2, uint64_t r3,
				 uint64_t r4, uint64_t r5,
				 struct bpfvm_call *call)
{
	(void)r3, (void)r4, (void)r5;
	uint32_t size = (uint32_t)r2;
	char *buf = (char *)(uintptr_t)r1;
	if (!buf || !size)
		return (uint64_t)-EINVAL;
	if (!bpfvm_call_check_mem(call, r1, size, true))
		return 0;
	char comm[17] = "";
	if (prctl(PR_GET_NAME, comm, 0, 0, 0) < 0) {
		memset(buf, 0, size);
		return (uint64_t)-EINVAL;
	}
	size_t len = strnlen(comm, 16);
	if (len > size - 1)
		len = size - 1;
	memcpy(buf, comm, len);
	memset(buf + len, 0, size - len);
	return 0;
}

/* ---- #6 trace_printk ---------------------------------------------------- */

#define PRINTK_MAX_ARGS 3   /* MAX_TRACE_PRINTK_VARARGS */
#define PRINTK_BUF 1024     /* MAX_BPRINTF_BUF */
#define PRINTK_STR 512      /* longest %s argument copied */

/* A %s argument: the bytes up to NUL, each one readable in checked mode.
 * Unreadable gives "", as the kernel's failed copy does. */
static void copy_str(struct bpfvm_call *call, uint64_t p, char *out,
		     size_t outlen)
{
	size_t i = 0;
	out[0] = 0;
	if (!p)
		return;
	for (; i + 1 < outlen; i++) {
		if (bpfvm_call_checked(call) &&
		    !bpfvm_access_ok(call->run, p + i, 1, false)) {
			out[0] = 0;
			return;
		}
		char c = *(const char *)(uintptr_t)(p + i);
		if (!c)
			break;
		out[i] = c;
	}
	out[i] = 0;
}

/* Append with snprintf semantics: *total counts what would be written. */
__attribute__((format(printf, 4, 5)))
static void emit(char *buf, size_t *used, int *total, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	size_t room = PRINTK_BUF - *used;
	int n = vsnprintf(buf + *used, room, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	*total += n;
	*used += (size_t)n < room ? (size_t)n : room - 1;
}

/* The format rules of the kernel's bpf_bprintf_prepare(): printable text,
 * %%, at most 3 conversions of: [flags 0-+ space][width] then d i u x X
 * (int; with l or ll: 64-bit), c, s, p (px, pK).  Anything else (a
 * precision, h, z, %pI4 ...) is -EINVAL and nothing is printed.  %p prints
 * like %px: 16 hex digits, no hashing. */
static int64_t printk(struct bpfvm_call *call, const char *fmt, uint32_t size,
		      const uint64_t args[PRINTK_MAX_ARGS], char *out,
		      size_t *outlen)
{
	const char *end = memchr(fmt, 0, size);
	if (!end)
		return -EINVAL;
	size_t used = 0;
	int total = 0;
	unsigned nargs = 0;
	out[0] = 0;
	for (const char *p = fmt; p < end; p++) {
		if (!isprint((unsigned char)*p) && !isspace((unsigned char)*p))
			return -EINVAL;
		if (*p != '%') {
			emit(out, &used, &total, "%c", *p);
			continue;
		}
		if (p[1] == '%') {
			emit(out, &used, &total, "%%");
			p++;
			continue;
		}
		if (nargs >= PRINTK_MAX_ARGS)
			return -EINVAL;
		const char *spec = p++;
		/* flags and width (no precision, as the kernel) */
		while (*p == '0' || *p == '-' || *p == '+' || *p == ' ')
			p++;
		while (isdigit((unsigned char)*p))
			p++;
		char hf[64]; /* the host's spec: the same, then ll + conv */
		size_t hl = (size_t)(p - spec);
		if (hl > sizeof hf - 4)
			return -EINVAL;
		memcpy(hf, spec, hl);
		uint64_t a = args[nargs++];
		if (*p == 'p') {
			if (p[1] == 'x' || p[1] == 'K')
				p++;
			else if (isalnum((unsigned char)p[1]))
				return -EINVAL;
			emit(out, &used, &total, "%016" PRIx64, a);
		} else if (*p == 's') {
			char s[PRINTK_STR];
			copy_str(call, a, s, sizeof s);
			memcpy(hf + hl, "s", 2);
			emit(out, &used, &total, hf, s);
		} else if (*p == 'c') {
			memcpy(hf + hl, "c", 2);
			emit(out, &used, &total, hf, (int)(unsigned char)a);
		} else {
			int l = 0;
			while (*p == 'l' && l < 2)
				p++, l++;
			if (!strchr("diuxX", *p) || !*p)
				return -EINVAL;
			bool sign = *p == 'd' || *p == 'i';
			hf[hl] = 'l', hf[hl + 1] = 'l', hf[hl + 2] = *p;
			hf[hl + 3] = 0;
			if (l)
				emit(out, &used, &total, hf, a);
			else if (sign)
				emit(out, &used, &total, hf,
				     (long long)(int32_t)(uint32_t)a);
			else
				emit(out, &used, &total, hf,
				     (unsigned long long)(uint32_t)a);
		}
	}
	*outlen = used;
	return total;
}

static uint64_t trace_printk(uint64_t r1, uint64_t r2, uint64_t r3,
			     uint64_t r4, uint64_t r5,
			     struct bpfvm_call *call)
{
	uint32_t size = (uint32_t)r2;
	if (!r1 || !size)
		return (uint64_t)-EINVAL;
	if (!bpfvm_call_check_mem(call, r1, size, false))
		return 0;
	const uint64_t args[PRINTK_MAX_ARGS] = { r3, r4, r5 };
	char out[PRINTK_BUF];
	size_t len = 0;
	int64_t n = printk(call, (const char *)(uintptr_t)r1, size, args, out,
			   &len);
	if (n >= 0)
		fwrite(out, 1, len, stderr);
	return (uint64_t)n;
}

/* ---- the table ---------------------------------------------------------- */

static const struct {
	uint32_t id;
	bpfvm_helper_fn fn;
} defaults[] = {
	{ 5, ktime_get_ns },
	{ 6, trace_printk },
	{ 7, get_prandom_u32 },
	{ 8, get_smp_processor_id },
	{ 14, get_current_pid_tgid },
	{ 15, get_current_uid_gid },
	{ 16, get_current_comm },
};

int bpfvm_register_default_helpers(struct bpfvm *vm)
{
	for (size_t i = 0; i < sizeof defaults / sizeof defaults[0]; i++) {
		int err = bpfvm_register_helper(vm, defaults[i].id,
						defaults[i].fn, NULL);
		if (err)
			return err;
	}
	return 0;
}
