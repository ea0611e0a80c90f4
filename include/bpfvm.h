/* bpfvm: an eBPF virtual machine with the Linux kernel's semantics.
 *
 * The embedding API.  A `struct bpfvm` holds one loaded program, its helper
 * table and its options.  Nothing here uses global mutable state: two VMs may
 * run on two threads, and one loaded VM may be run from several threads at
 * once (bpfvm_run is re-entrant; configure a VM before sharing it).
 *
 * Errors: functions return 0 (or a count) on success and a negative errno on
 * failure.  Set-up errors leave a printable message in bpfvm_error(vm); run
 * errors come back in struct bpfvm_result.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef BPFVM_H
#define BPFVM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define BPFVM_API __attribute__((visibility("default")))
#else
#define BPFVM_API
#endif

/* One instruction, laid out as the kernel's struct bpf_insn (little-endian). */
struct bpfvm_insn {
	uint8_t code;
	uint8_t dst_reg : 4;
	uint8_t src_reg : 4;
	int16_t off;
	int32_t imm;
};

#define BPFVM_MAX_INSNS (1u << 20) /* the kernel's BPF_COMPLEXITY_LIMIT_INSNS */
#define BPFVM_STACK_SIZE 512       /* per frame */
#define BPFVM_MAX_FRAMES 8         /* MAX_CALL_FRAMES */
#define BPFVM_MAX_TAIL_CALLS 33    /* MAX_TAIL_CALL_CNT */

struct bpfvm;
struct bpfvm_call;

/* A helper, called with r1-r5; its return value goes to r0.  `call` gives
 * access to the cookie given at registration and to the running VM. */
typedef uint64_t (*bpfvm_helper_fn)(uint64_t r1, uint64_t r2, uint64_t r3,
				    uint64_t r4, uint64_t r5,
				    struct bpfvm_call *call);

/* ---- life cycle -------------------------------------------------------- */

/* A new VM with no program.  The kernel helpers that make sense outside the
 * kernel (ktime_get_ns #5, get_prandom_u32 #7, get_smp_processor_id #8, ...)
 * are registered already; bpfvm_register_helper() replaces or adds. */
BPFVM_API struct bpfvm *bpfvm_create(void);
BPFVM_API void bpfvm_destroy(struct bpfvm *vm);

/* The message of the last failed set-up call on this VM ("" if none). */
BPFVM_API const char *bpfvm_error(const struct bpfvm *vm);

/* Decode and check `n` instructions (opcodes, reserved fields, jump targets,
 * ld_imm64 pairs, call targets) and make them the VM's program.  The
 * instructions are copied.  ld_imm64 pseudo forms (map fd, map value, func)
 * are resolved through the hook set by bpfvm_set_ldimm64_hook().
 * Returns 0, or -EINVAL / -E2BIG / -ENOMEM with bpfvm_error() set. */
BPFVM_API int bpfvm_load(struct bpfvm *vm, const struct bpfvm_insn *insns,
			 size_t n);

/* The loaded program (NULL / 0 before a successful load). */
BPFVM_API const struct bpfvm_insn *bpfvm_insns(const struct bpfvm *vm);
BPFVM_API size_t bpfvm_insn_count(const struct bpfvm *vm);

/* Register helper `id` (the kernel's BPF_FUNC_* number or one of the
 * embedder's own); fn NULL unregisters.  -EINVAL for id >= 65536. */
BPFVM_API int bpfvm_register_helper(struct bpfvm *vm, uint32_t id,
				    bpfvm_helper_fn fn, void *cookie);

/* ---- options ----------------------------------------------------------- */

/* Checked mode, for unverified bytecode: every load and store must fall in
 * a region the VM knows (stack frames, context, memory block, regions added
 * below or by helpers, and the region hook), and the run stops after the
 * instruction budget.  A violation ends the run with an error naming the
 * instruction index.  Off by default (verified programs run unchecked). */
BPFVM_API void bpfvm_set_checked(struct bpfvm *vm, bool on);

/* Maximum number of instructions one run may execute; 0 = no limit.  The
 * default is 0 unchecked and BPFVM_DEFAULT_BUDGET in checked mode. */
#define BPFVM_DEFAULT_BUDGET 100000000ull
BPFVM_API void bpfvm_set_budget(struct bpfvm *vm, uint64_t max_insns);

/* Extra memory checked mode accepts (e.g. a shared buffer). */
BPFVM_API int bpfvm_add_region(struct bpfvm *vm, void *base, size_t len,
			       bool writable);

/* A hook checked mode asks when an access is in no known region (the maps
 * layer answers for map values).  Return true to allow the access. */
typedef bool (*bpfvm_region_fn)(void *cookie, uint64_t addr, size_t len,
				bool write);
BPFVM_API void bpfvm_set_region_hook(struct bpfvm *vm, bpfvm_region_fn fn,
				     void *cookie);

/* Resolve an ld_imm64 pseudo form at load time.  src is the src_reg
 * (1 map fd, 2 map value, 3 btf id, 5 map idx, 6 map idx value), imm and
 * imm2 the two immediates.  Store the value and return 0, or return a
 * negative errno with a message in err.  BPF_PSEUDO_FUNC (src 4) is handled
 * by the VM itself. */
typedef int (*bpfvm_ldimm64_fn)(void *cookie, unsigned src, int32_t imm,
				int32_t imm2, uint64_t *value, char *err,
				size_t errlen);
BPFVM_API void bpfvm_set_ldimm64_hook(struct bpfvm *vm, bpfvm_ldimm64_fn fn,
				      void *cookie);

/* bpf_tail_call (helper #12): given r2 (the prog-array map) and r3 (the
 * index), return the VM to continue in, or NULL to fall through as the
 * kernel does when the slot is empty (r0 is left unchanged).  As in Linux
 * 6.18 only successful tail calls count: after 33 of them in one run, later
 * ones fall through without asking the hook.  Without a hook tail calls
 * fall through. */
typedef const struct bpfvm *(*bpfvm_tail_call_fn)(void *cookie, uint64_t map,
						  uint32_t index);
BPFVM_API void bpfvm_set_tail_call_hook(struct bpfvm *vm,
					bpfvm_tail_call_fn fn, void *cookie);

/* Tracing: called after each executed instruction with the registers before
 * and after it.  Slows the run down; for people learning the ISA. */
typedef void (*bpfvm_trace_fn)(void *cookie, size_t pc,
			       const struct bpfvm_insn *insn,
			       const uint64_t before[11],
			       const uint64_t after[11]);
BPFVM_API void bpfvm_set_trace(struct bpfvm *vm, bpfvm_trace_fn fn,
			       void *cookie);

/* ---- running ----------------------------------------------------------- */

struct bpfvm_result {
	uint64_t r0;     /* the program's return value */
	uint64_t insns;  /* instructions executed */
	int error;       /* 0, or a negative errno (EFAULT: bad access,
			    ELOOP: budget, EINVAL: bad call...) */
	int64_t pc;      /* index of the failing instruction, or -1 */
	char msg[192];   /* printable error, "" on success */
};

/* Run with r1 = ctx (ctx_len bytes, a region in checked mode). */
BPFVM_API int bpfvm_run(const struct bpfvm *vm, void *ctx, size_t ctx_len,
			struct bpfvm_result *res);

/* Run with r1 = mem and r2 = mem_len, as bpf_conformance and uBPF do. */
BPFVM_API int bpfvm_run_mem(const struct bpfvm *vm, void *mem, size_t mem_len,
			    struct bpfvm_result *res);

/* ---- inside a helper --------------------------------------------------- */

BPFVM_API void *bpfvm_call_cookie(const struct bpfvm_call *call);
BPFVM_API const struct bpfvm *bpfvm_call_vm(const struct bpfvm_call *call);
/* Let checked mode accept [p, p+len) for the rest of this run (memory the
 * helper hands to the program). */
BPFVM_API int bpfvm_call_add_region(struct bpfvm_call *call, void *p,
				    size_t len, bool writable);
/* Stop the run after this helper returns, with -EINVAL and `msg`. */
BPFVM_API void bpfvm_call_abort(struct bpfvm_call *call, const char *msg);

/* The kernel's name of helper `id` ("map_lookup_elem"), or NULL. */
BPFVM_API const char *bpfvm_helper_name(uint32_t id);

#ifdef __cplusplus
}
#endif
#endif
