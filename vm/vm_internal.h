/* Private state of a VM.  Owned by the interpreter work (vm/vm.c,
 * vm/interp.c); other parts use only what is declared here on purpose.
 *
 * Split: `struct bpfvm` is the loaded program plus its configuration and is
 * read-only while runs are in flight; everything a run changes (registers,
 * stack, frames, per-run regions, the error) lives in `struct bpfvm_run`
 * on the C stack of bpfvm_run()'s caller, so one VM may run on many threads.
 * SPDX-License-Identifier: MIT */
#ifndef BPFVM_VM_INTERNAL_H
#define BPFVM_VM_INTERNAL_H

#include "bpfvm.h"
#include "insn.h"

/* The two dispatch builds of one interpreter source. */
enum bpfvm_dispatch { BPFVM_DISPATCH_GOTO, BPFVM_DISPATCH_SWITCH };

/* Choose the dispatch for later runs (tests use it to run both). */
void bpfvm_set_dispatch(struct bpfvm *vm, enum bpfvm_dispatch d);

/* Kernel helper ids the interpreter itself knows: bpf_tail_call is never
 * looked up in the helper table (a helper registered as 12 is ignored). */
#define BPFVM_FUNC_TAIL_CALL 12
#define BPFVM_HELPER_ID_MAX 65536u

/* ld_imm64 with src 4 (BPF_PSEUDO_FUNC) loads BPFVM_FUNC_TAG | index, the
 * absolute index of the subprogram's first instruction.  The tag makes the
 * value a non-canonical address on 64-bit hosts, so dereferencing it faults
 * (checked mode: "not in any region").  bpfvm_call_callback() takes it. */
#define BPFVM_FUNC_TAG 0xbf0c000000000000ull
#define BPFVM_FUNC_MASK 0x00000000ffffffffull

struct bpfvm_helper {
	bpfvm_helper_fn fn;
	void *cookie;
};

struct bpfvm_region {
	uintptr_t base;
	size_t len;
	bool writable;
};

/* Called at the start of every bpfvm_run() (not bpfvm_run_mem) so a
 * program-type layer can describe the context: the packet LD_ABS/LD_IND
 * read (bpfvm_call_set_packet) and the memory the context points to
 * (bpfvm_call_add_region).  Default: none, LD_ABS then ends the run with
 * r0 = 0 as the kernel does for an out-of-bounds load. */
typedef void (*bpfvm_run_hook_fn)(void *cookie, struct bpfvm_call *call,
				  void *ctx, size_t ctx_len);
void bpfvm_set_run_hook(struct bpfvm *vm, bpfvm_run_hook_fn fn, void *cookie);

/* A run's scope, for a layer with per-run resources (maps/helpers.c: the
 * maps' epoch, the kernel's RCU read side).  enter is called before
 * anything else of every run, bpfvm_run and bpfvm_run_mem alike; exit after
 * everything, however the run ends (EXIT, an error, the budget, a fault, a
 * failing run hook), once the run's holds (below) are released; exit gets
 * enter's value.  Separate from the run hook, which is the program type's:
 * the two layers set theirs independently. */
typedef uint64_t (*bpfvm_run_enter_fn)(void *cookie, struct bpfvm_call *call);
typedef void (*bpfvm_run_exit_fn)(void *cookie, struct bpfvm_call *call,
				  uint64_t token);
void bpfvm_set_run_scope(struct bpfvm *vm, bpfvm_run_enter_fn enter,
			 bpfvm_run_exit_fn exit, void *cookie);

struct bpfvm {
	struct bpfvm_insn *insns;   /* the program as given */
	struct bpfvm_dinsn *prog;   /* decoded, same indices */
	struct bpfvm_dinsn *fast;   /* prog with superinstructions (fast builds) */
	size_t n;

	struct bpfvm_helper *helpers; /* indexed by id, grown on demand */
	uint32_t nhelpers;

	bool checked;
	bool budget_set;            /* else the mode's default */
	uint64_t budget;
	enum bpfvm_dispatch dispatch;

	struct bpfvm_region *regions;
	size_t nregions;
	bpfvm_region_fn region_fn;
	void *region_cookie;
	bpfvm_ldimm64_fn ldimm64_fn;
	void *ldimm64_cookie;
	bpfvm_tail_call_fn tail_fn;
	void *tail_cookie;
	bpfvm_trace_fn trace_fn;
	void *trace_cookie;
	bpfvm_run_hook_fn run_fn;
	void *run_cookie;
	bpfvm_run_enter_fn enter_fn;
	bpfvm_run_exit_fn exit_fn;
	void *scope_cookie;

	uint64_t rnd;               /* get_prandom_u32: atomic Weyl counter */
	char err[256];
};

/* ---- per-run state ------------------------------------------------------ */

#define BPFVM_RUN_REGIONS 32
#define BPFVM_RUN_HOLDS 16

struct bpfvm_run;
struct bpfvm_call;

/* Something a helper took for the run (a spin lock, a ring-buffer sample),
 * released by the run's end unless the program gave it back first. */
typedef void (*bpfvm_release_fn)(struct bpfvm_call *call, void *obj,
				 int64_t pc);
struct bpfvm_hold {
	void *obj;
	bpfvm_release_fn release;
	int64_t pc; /* the helper call that took it */
};

/* What a helper sees: the run and the cookie of the helper being called. */
struct bpfvm_call {
	struct bpfvm_run *run;
	void *cookie;
};

struct bpfvm_frame {
	const struct bpfvm_dinsn *ret;  /* where EXIT resumes */
	const struct bpfvm *vm;         /* whose program that is */
	uint64_t saved[5];              /* r6-r9 and r10 of the caller */
};

struct bpfvm_run {
	/* set up by vm.c (zeroed up to `frames`) */
	const struct bpfvm *root;   /* the VM bpfvm_run() was called on */
	const struct bpfvm *vm;     /* the VM whose program runs (tail calls) */
	void *ctx;
	size_t ctx_len;
	void *mem;
	size_t mem_len;
	const uint8_t *pkt;         /* LD_ABS/LD_IND data */
	size_t pkt_len;
	bool pkt_hdrs;              /* the next two are set (skb runs) */
	int32_t pkt_mac, pkt_net;   /* mac / network header - pkt, for the
				       SKF_LL_OFF / SKF_NET_OFF offsets */
	struct bpfvm_result *res;   /* error, pc and msg go here */
	struct bpfvm_call call;
	int64_t call_pc;            /* the helper call being made */

	bool checked;
	bool trace_pending;         /* trace_* describe the insn executing */
	uint64_t budget;            /* UINT64_MAX when unlimited */
	uint64_t insns;
	unsigned tail_calls;
	unsigned depth;             /* index of the current frame */
	unsigned base_depth;        /* EXIT at this depth ends the (callback) run */
	unsigned nregions;
	unsigned nholds;
	uint64_t scope;             /* the run scope's enter value */

	/* not zeroed: valid up to depth / nregions / nholds, or while
	 * trace_pending */
	struct bpfvm_frame frames[BPFVM_MAX_FRAMES];
	struct bpfvm_region regions[BPFVM_RUN_REGIONS];
	struct bpfvm_hold holds[BPFVM_RUN_HOLDS];
	size_t trace_pc;
	const struct bpfvm_insn *trace_insn;
	uint64_t trace_before[11];

	/* frame k's r10 is stack_top - k * BPFVM_STACK_SIZE */
	_Alignas(16) uint8_t stack[BPFVM_MAX_FRAMES * BPFVM_STACK_SIZE];
};

#define BPFVM_STACK_TOP(run) ((uint64_t)(uintptr_t)((run)->stack + sizeof((run)->stack)))

/* ---- inside a helper (extensions of the public bpfvm_call_* API) -------- */

/* The context of this run (bpfvm_run's ctx, or bpfvm_run_mem's mem). */
void *bpfvm_call_ctx(const struct bpfvm_call *call, size_t *len);

/* Whether the run is in checked mode. */
bool bpfvm_call_checked(const struct bpfvm_call *call);

/* Helpers that take pointers call this before touching [p, p+len): true if
 * allowed (always, unchecked).  Otherwise the run is stopped with -EFAULT
 * and a message naming the helper's instruction; return at once. */
bool bpfvm_call_check_mem(struct bpfvm_call *call, uint64_t p, size_t len,
			  bool write);

/* The packet LD_ABS/LD_IND read (also a writable region in checked mode).
 * For the run hook. */
void bpfvm_call_set_packet(struct bpfvm_call *call, void *data, size_t len);

/* Where the packet's mac and network headers are, in bytes from its data
 * (may be negative): LD_ABS / LD_IND at SKF_LL_OFF / SKF_NET_OFF read
 * there, as the kernel's bpf_skb_load_helper_convert_offset.  Without a
 * call, negative offsets end the program. */
void bpfvm_call_set_packet_headers(struct bpfvm_call *call, int32_t mac,
				   int32_t net);

/* A helper moved a buffer it had handed to the run (a packet given a new
 * head): the region at `old` becomes [p, p + len), or is added.  0, or
 * -ENOSPC when the run's regions are full. */
int bpfvm_call_move_region(struct bpfvm_call *call, const void *old, void *p,
			   size_t len, bool writable);

/* The run now holds obj: unless bpfvm_call_drop() takes it back first,
 * release(call, obj, pc) runs when the run ends, however it ends (latest
 * taken first, before the scope's exit; pc: the helper call that took it;
 * the release may stop a run that ended well, e.g. checked mode's "a lock
 * still held").  0, or -ENOSPC with BPFVM_RUN_HOLDS held already. */
int bpfvm_call_hold(struct bpfvm_call *call, void *obj,
		    bpfvm_release_fn release);

/* Take obj back from the run's holds: true if the run held it. */
bool bpfvm_call_drop(struct bpfvm_call *call, void *obj);

/* Run the subprogram `fn` (a BPF_PSEUDO_FUNC value) in a new frame with
 * r1-r5 = args, for callback helpers (bpf_loop, for_each_map_elem).  0 and
 * the callee's r0 in *ret, or a negative errno (the run is then stopped:
 * return from the helper). */
int bpfvm_call_callback(struct bpfvm_call *call, uint64_t fn,
			const uint64_t args[5], uint64_t *ret);

/* ---- between vm.c, interp.c and helpers.c ------------------------------ */

/* The decoded program, for the JIT and the verifier: one slot per insn;
 * jumps, gotol and local calls carry the absolute target index in off; a
 * helper call's imm is the id (as u32); an ld_imm64's imm is its resolved
 * value and its second slot has op == OP__COUNT.  (The interpreter's fast
 * builds run a copy, vm->fast, with superinstruction ops above OP__COUNT.) */
const struct bpfvm_dinsn *bpfvm_dinsns(const struct bpfvm *vm);

/* The helper registered for id, or NULL. */
static inline const struct bpfvm_helper *
bpfvm_helper_get(const struct bpfvm *vm, uint64_t id)
{
	if (id >= vm->nhelpers || !vm->helpers[id].fn)
		return NULL;
	return &vm->helpers[id];
}

/* Register the default helpers (helpers.c). */
int bpfvm_register_default_helpers(struct bpfvm *vm);

/* Turn frequent pairs of prog into superinstructions (interp.c). */
void bpfvm_fuse(struct bpfvm_dinsn *prog, size_t n);

/* Execute from insn `start` of run->vm until EXIT at run->base_depth;
 * r1-r5 from args, r10 from fp.  Errors in run->res (interp.c). */
uint64_t bpfvm_interp(struct bpfvm_run *run, size_t start,
		      const uint64_t args[5], uint64_t fp);

/* Stop the run: error, instruction and message ("insn 3: ..."). */
void bpfvm_run_fail(struct bpfvm_run *run, int err, int64_t pc,
		    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* The checked-mode access rule (interp.c). */
bool bpfvm_access_ok(const struct bpfvm_run *run, uint64_t addr, size_t len,
		     bool write);

#endif
