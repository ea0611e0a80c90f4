/* The verifier's private types: the abstract machine state the kernel's
 * do_check walks (include/linux/bpf_verifier.h, in the kernel's vocabulary).
 * SPDX-License-Identifier: MIT */
#ifndef BPFVM_VINTERNAL_H
#define BPFVM_VINTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include "verifier.h"
#include "insn.h"
#include "map.h"

typedef uint64_t u64;
typedef int64_t s64;
typedef uint32_t u32;
typedef int32_t s32;
typedef uint8_t u8;
typedef uint16_t u16;

#define BPF_OP_(code) ((code) & 0xf0)
#define BPF_MODE_(code) ((code) & 0xe0)
#define BPF_SRC_X 0x08

/* ---- tnum: a value with some bits known (tnum.c) -------------------------- */
struct tnum {
	u64 value; /* the known bits */
	u64 mask;  /* 1 = unknown */
};

#define TNUM_UNKNOWN ((struct tnum){ 0, ~0ull })
struct tnum tnum_const(u64 v);
struct tnum tnum_range(u64 min, u64 max);
u64 tnum_step(struct tnum t, u64 z); /* t's smallest member above z */
static inline bool tnum_is_const(struct tnum a) { return !a.mask; }
static inline bool tnum_equals_const(struct tnum a, u64 b) { return !a.mask && a.value == b; }
static inline bool tnum_is_unknown(struct tnum a) { return !~a.mask; }
struct tnum tnum_shl(struct tnum a, unsigned shift);
struct tnum tnum_shr(struct tnum a, unsigned shift);
struct tnum tnum_arshift(struct tnum a, unsigned shift, unsigned bits);
struct tnum tnum_add(struct tnum a, struct tnum b);
struct tnum tnum_sub(struct tnum a, struct tnum b);
struct tnum tnum_and(struct tnum a, struct tnum b);
struct tnum tnum_or(struct tnum a, struct tnum b);
struct tnum tnum_xor(struct tnum a, struct tnum b);
struct tnum tnum_mul(struct tnum a, struct tnum b);
struct tnum tnum_intersect(struct tnum a, struct tnum b);
struct tnum tnum_cast(struct tnum a, unsigned size);
bool tnum_in(struct tnum a, struct tnum b); /* every value of b is in a */
bool tnum_is_aligned(struct tnum a, u64 size);
struct tnum tnum_subreg(struct tnum a);
struct tnum tnum_clear_subreg(struct tnum a);
struct tnum tnum_with_subreg(struct tnum reg, struct tnum subreg);
struct tnum tnum_const_subreg(struct tnum a, u32 value);
int tnum_strn(char *buf, size_t n, struct tnum a);

/* ---- registers -------------------------------------------------------- */

enum reg_type {
	NOT_INIT = 0,
	SCALAR_VALUE,
	PTR_TO_CTX,
	CONST_PTR_TO_MAP,
	PTR_TO_MAP_VALUE,
	PTR_TO_MAP_KEY,
	PTR_TO_STACK,
	PTR_TO_PACKET_META,
	PTR_TO_PACKET,
	PTR_TO_PACKET_END,
	PTR_TO_FLOW_KEYS,
	PTR_TO_SOCKET,
	PTR_TO_SOCK_COMMON,
	PTR_TO_TCP_SOCK,
	PTR_TO_TP_BUFFER,
	PTR_TO_XDP_SOCK,
	PTR_TO_BTF_ID,
	PTR_TO_MEM,
	PTR_TO_BUF,
	PTR_TO_FUNC,
	REG_TYPE__COUNT
};

/* Flags on top of the base type (the kernel's type_flag bits). */
#define PTR_MAYBE_NULL 0x01u
#define MEM_RDONLY     0x02u
#define MEM_RINGBUF    0x04u
#define MEM_ALLOC      0x08u

struct bpf_reg {
	u8 type;       /* enum reg_type */
	u8 flags;      /* PTR_MAYBE_NULL ... */
	u8 frameno;    /* PTR_TO_STACK: whose frame */
	bool precise;
	s32 off;       /* fixed offset of a pointer */
	u32 id;        /* shared by copies: NULL checks and ranges apply to all;
			  a scalar's with ID_ADD_CONST* is that register plus
			  off (a constant added after the copy) */
	u32 ref_obj_id; /* acquired reference this pointer holds */
	union {
		s32 range;    /* packet: bytes proven readable past off, or
				 AT_PKT_END / BEYOND_PKT_END */
		u32 mem_size; /* PTR_TO_MEM */
	};
	struct bpfvm_map *map; /* map pointer / map value / map key */
	u32 subprog;           /* PTR_TO_FUNC */
	struct tnum var_off;
	s64 smin, smax;
	u64 umin, umax;
	s32 s32_min, s32_max;
	u32 u32_min, u32_max;
};

#define ID_ADD_CONST64 (1u << 31) /* r += k (64-bit) on a linked scalar */
#define ID_ADD_CONST32 (1u << 30) /* w += k, the value fitting 32 bits */
#define ID_ADD_CONST (ID_ADD_CONST64 | ID_ADD_CONST32)

#define AT_PKT_END (-1)     /* the pointer is >= pkt_end */
#define BEYOND_PKT_END (-2) /* the pointer is > pkt_end */

/* ---- stack ------------------------------------------------------------- */

enum slot_type { STACK_INVALID = 0, STACK_SPILL, STACK_MISC, STACK_ZERO };

#define MAX_BPF_STACK 512
#define STACK_SLOTS (MAX_BPF_STACK / 8)

struct stack_slot {
	struct bpf_reg spilled; /* valid when a byte is STACK_SPILL */
	u8 type[8];             /* per byte, slot byte i = fp - 8*(spi+1) + i */
};

struct func_state {
	struct bpf_reg regs[11];
	int callsite;  /* insn of the call that made this frame, -1 for main */
	u32 frameno;
	u32 subprog;
	int allocated_stack; /* bytes, multiple of 8 */
	bool in_callback;
	/* liveness: this frame in the last checkpoint, and per register and
	 * slot whether this segment wrote it and whether a continuation of
	 * the checkpoint read it (LIVE_*) */
	struct func_state *parent;
	u8 live[11];
	u8 slot_live[STACK_SLOTS];
	struct stack_slot stack[STACK_SLOTS];
};

#define LIVE_WRITTEN 1u
#define LIVE_READ 2u

#define MAX_REFS 32

struct ref_state {
	u32 id;
	int insn_idx;
	u8 kind; /* 0 pointer, 1 lock */
};

/* A non-sequential step (idx reached from prev) or a spill/fill of the
 * stack slot (flags: HIST_STACK | frameno << 8 | spi << 16). */
struct hist_entry {
	u32 idx, prev, flags;
};
#define HIST_STACK 1u

struct vstate {
	struct func_state *frame[BPFVM_MAX_FRAMES];
	u32 curframe;
	u32 nrefs;
	struct ref_state refs[MAX_REFS];
	u32 active_lock_id;   /* held spin lock: the map value's id, 0 none */
	const void *active_lock_map;
	bool speculative;
	/* exploration bookkeeping */
	struct vstate *parent; /* last checkpoint this path passed */
	u32 branches;          /* checkpoints: paths below not yet finished */
	u32 insn_idx;
	u32 first_insn_idx;
	u32 last_insn_idx;
	u32 loop_entry_cnt;
	struct hist_entry *hist; /* this segment's steps, for backtracking */
	u32 nhist, caphist;
};

/* ---- subprograms and per-insn data ------------------------------------- */

#define MAX_SUBPROGS 256

struct subprog_info {
	u32 start;
	u32 stack_depth;
	bool has_tail_call;
	bool has_ld_abs;
	bool changes_pkt_data; /* it or a callee calls such a helper */
	bool is_cb;
};

struct insn_aux {
	u16 ptr_type;     /* type | flags << 8 a load/store used (0: none yet) */
	bool seen;
	bool prune_point;
	bool jmp_point;
	bool force_checkpoint;
	u32 map_ptr_state;
};

/* A checkpoint list entry at a prune point. */
struct ckpt {
	struct ckpt *next;
	struct vstate *st;
	u32 miss_cnt, hit_cnt;
};

/* A pushed path to explore later. */
struct stack_elem {
	struct vstate *st;
	u32 insn_idx, prev_insn_idx;
	u32 log_pos;
};

struct vlog {
	u32 level;
	char *buf;
	u32 size;
	u64 end_pos;   /* bytes written so far (may exceed size) */
	u32 true_size;
	char line[1024];  /* the message being built */
	size_t line_len;
	char last[256];   /* the last complete line */
	char err_line[256]; /* the last line an error could be: before the stats */
	void *text;       /* log.c: the whole text so far */
};

struct verifier_env {
	const struct bpfvm_insn *insns;
	u32 len;
	const struct bpfvm_verify_opts *opts;
	struct insn_aux *aux;
	struct subprog_info subprog[MAX_SUBPROGS + 1];
	u32 subprog_cnt;
	struct bpfvm_map **ldmap; /* per insn: the map of an ld_imm64 */
	struct vstate *cur;
	struct stack_elem *stk;
	u32 stk_len, stk_cap;
	struct ckpt **explored; /* per insn */
	struct ckpt *evicted;   /* dropped checkpoints a live path still needs */
	u32 insn_processed;
	u32 prev_insn_processed, prev_jmps_processed, jmps_processed;
	u32 total_states, peak_states, cur_states, max_states_per_insn;
	u32 id_gen;
	u32 insn_idx, prev_insn_idx;
	u32 pass_cnt;
	bool strict_alignment;
	u32 attach_type; /* expected_attach_type after the kernel's fixup */
	/* the log's per-insn state: what the insn touched, where it printed */
	u16 scratched_regs;
	u64 scratched_slots;
	u64 prev_log_pos;
	u32 prev_insn_print_pos;
	bool seen_direct_write;
	struct vlog log;
	/* scratch for states_equal id maps */
	u32 idmap_old[64], idmap_cur[64];
	u32 idmap_cnt;
};

/* ---- log.c ------------------------------------------------------------- */
void vlog_init(struct vlog *log, const struct bpfvm_verify_opts *opts);
void verbose(struct verifier_env *env, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void vlog_reset(struct vlog *log, u64 pos);
u64 vlog_pos(const struct vlog *log);
int vlog_finish(struct vlog *log);
void print_insn(struct verifier_env *env, u32 idx);
void print_state(struct verifier_env *env, const struct func_state *f, bool all);
void print_insn_state(struct verifier_env *env);
const char *reg_type_str(const struct bpf_reg *r, char *buf, size_t n);

/* ---- bounds.c: scalar ranges ------------------------------------------ */
void mark_reg_unknown(struct bpf_reg *r);
void mark_reg_known(struct bpf_reg *r, u64 v);
void mark_reg_not_init(struct bpf_reg *r);
void reg_bounds_sync(struct bpf_reg *r);
void reg_bounds_from_tnum(struct bpf_reg *r);
void zext_32_to_64(struct bpf_reg *r);
void coerce_reg_to_size(struct bpf_reg *r, unsigned size);
void coerce_reg_to_size_sx(struct bpf_reg *r, unsigned size);
void coerce_subreg_to_size_sx(struct bpf_reg *r, unsigned size);
bool reg_is_const(const struct bpf_reg *r, bool w32);
u64 reg_const(const struct bpf_reg *r, bool w32);
/* ALU on two scalars: dst op= src; op is the BPF_OP bits. */
void scalar_alu(struct bpf_reg *dst, const struct bpf_reg *src, u8 op, bool w64);
void assign_scalar_id_before_mov(struct verifier_env *env, struct bpf_reg *src);
/* -1 unknown, 0 never, 1 always. */
int is_branch_taken(const struct bpf_reg *a, const struct bpf_reg *b, u8 op, bool w32);
/* Refine both to the outcome (taken true/false) of the comparison. */
void reg_set_min_max(struct bpf_reg *a, struct bpf_reg *b, u8 op, bool w32);
u8 branch_flip(u8 op); /* the condition of the fall-through */
bool range_within(const struct bpf_reg *old, const struct bpf_reg *cur);

/* ---- cfg.c ------------------------------------------------------------ */
int check_subprogs(struct verifier_env *env);
int check_cfg(struct verifier_env *env);
int find_subprog(struct verifier_env *env, u32 off);

/* ---- state.c ---------------------------------------------------------- */
struct vstate *state_new(void);
struct vstate *state_dup(const struct vstate *s);
void state_copy(struct vstate *dst, const struct vstate *src);
void state_free(struct vstate *s);
struct func_state *func_new(u32 frameno, int callsite, u32 subprog);
bool states_equal(struct verifier_env *env, const struct vstate *old,
		  const struct vstate *cur, bool exact);
int is_state_visited(struct verifier_env *env, u32 insn_idx);
void update_branch_counts(struct verifier_env *env, struct vstate *st);
void free_explored(struct verifier_env *env);

static inline struct func_state *cur_func(struct verifier_env *env)
{
	return env->cur->frame[env->cur->curframe];
}
static inline struct bpf_reg *cur_regs(struct verifier_env *env)
{
	return cur_func(env)->regs;
}

/* ---- check.c ---------------------------------------------------------- */
int do_check_main(struct verifier_env *env);
int push_stack(struct verifier_env *env, u32 insn_idx, u32 prev_idx);
bool reg_is_pkt(const struct bpf_reg *r);
bool reg_is_ptr(const struct bpf_reg *r);
int check_reg_arg_read(struct verifier_env *env, int regno);
void mark_reg_written(struct verifier_env *env, int regno);
int acquire_reference(struct verifier_env *env, int insn_idx);
int release_reference(struct verifier_env *env, u32 ref_obj_id);

void clear_all_pkt_pointers(struct verifier_env *env);
bool helper_changes_pkt_data(u32 id);
void mark_changes_pkt_data(struct verifier_env *env);

/* ---- precision.c --------------------------------------------------------- */
int hist_push(struct vstate *st, u32 idx, u32 prev, u32 flags);
void mark_chain_precision(struct verifier_env *env, int regno);
void mark_slot_precision(struct verifier_env *env, u32 frameno, u32 spi);
void propagate_precision(struct verifier_env *env, const struct vstate *old);

/* ---- liveness (state.c) ------------------------------------------------- */
void mark_reg_read(struct func_state *f, int regno);
void mark_slot_read(struct func_state *f, int spi);
void propagate_liveness(struct verifier_env *env, const struct vstate *old);

/* ---- mem.c ------------------------------------------------------------ */
/* The load/store at insn idx: regno's pointer + off, size bytes. value_regno
 * receives a load (or -1); for a store it is the source (-1: an imm). */
int check_mem_access(struct verifier_env *env, int idx, int regno, int off,
		     int size, bool write, int value_regno, bool strict, bool sx);
/* A helper's memory argument: [reg, reg+size) readable/writable. */
int check_helper_mem_access(struct verifier_env *env, int regno, int size,
			    bool write, bool zero_size_ok);
int check_stack_range(struct verifier_env *env, int regno, int off, int size,
		      bool write);
int check_ptr_alignment(struct verifier_env *env, const struct bpf_reg *reg,
			int off, int size, bool strict);
int check_ptr_off_reg(struct verifier_env *env, const struct bpf_reg *r,
		      int regno, bool fixed_ok);
int check_ctx_access(struct verifier_env *env, int insn_idx, int off, int size,
		     bool write, struct bpf_reg *out);

/* ---- helpers_check.c --------------------------------------------------- */
/* *next: the insn before the one to continue at (callbacks move it). */
int check_helper_call(struct verifier_env *env, int insn_idx, u32 *next);

#endif
