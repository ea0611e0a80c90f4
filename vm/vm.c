/* The VM object: life cycle, options, loading (decode and check once, so
 * the interpreter trusts its input), and the run entry points.
 * SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "vm_internal.h"

#if defined(BPFVM_DEFAULT_DISPATCH_SWITCH)
#define DEFAULT_DISPATCH BPFVM_DISPATCH_SWITCH
#else
#define DEFAULT_DISPATCH BPFVM_DISPATCH_GOTO
#endif

__attribute__((format(printf, 3, 4)))
static int fail(struct bpfvm *vm, int err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(vm->err, sizeof vm->err, fmt, ap);
	va_end(ap);
	return err;
}

struct bpfvm *bpfvm_create(void)
{
	struct bpfvm *vm = calloc(1, sizeof *vm);
	if (!vm)
		return NULL;
	vm->dispatch = DEFAULT_DISPATCH;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	vm->rnd = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30) ^
		  (uint64_t)(uintptr_t)vm;
	if (bpfvm_register_default_helpers(vm)) {
		bpfvm_destroy(vm);
		return NULL;
	}
	return vm;
}

void bpfvm_destroy(struct bpfvm *vm)
{
	if (!vm)
		return;
	free(vm->insns);
	free(vm->prog);
	free(vm->fast);
	free(vm->helpers);
	free(vm->regions);
	free(vm);
}

const char *bpfvm_error(const struct bpfvm *vm)
{
	return vm ? vm->err : "no VM";
}

const struct bpfvm_insn *bpfvm_insns(const struct bpfvm *vm)
{
	return vm ? vm->insns : NULL;
}

size_t bpfvm_insn_count(const struct bpfvm *vm)
{
	return vm ? vm->n : 0;
}

const struct bpfvm_dinsn *bpfvm_dinsns(const struct bpfvm *vm)
{
	return vm ? vm->prog : NULL;
}

/* ---- loading ------------------------------------------------------------ */

static bool is_lddw(const struct bpfvm_insn *insn)
{
	return insn->code == 0x18;
}

/* Whether op names another instruction (jumps, local calls, the func
 * form of ld_imm64), and which: an offset from the next insn, computed in
 * 64 bits so no offset can wrap. */
static bool target_of(const struct bpfvm_insn *insn, int op, size_t i,
		      int64_t *t)
{
	switch (bpfvm_opinfo[op].fmt) {
	case F_JA: case F_JMP_K: case F_JMP_X:
		*t = (int64_t)i + 1 + insn->off;
		return true;
	case F_JA32:
		*t = (int64_t)i + 1 + insn->imm;
		return true;
	default:
		*t = (int64_t)i + 1 + insn->imm;
		return op == OP_CALL_LOCAL || op == OP_LDDW_FUNC;
	}
}

/* Decode insns into prog; the vm's own state is untouched on failure. */
static int decode(struct bpfvm *vm, const struct bpfvm_insn *insns, size_t n,
		  struct bpfvm_dinsn *prog)
{
	char msg[160];
	/* pass 1: every instruction alone, and which slots are lddw halves */
	for (size_t i = 0; i < n; i++) {
		int op = bpfvm_check_insn(insns, n, i, msg, sizeof msg);
		if (op < 0)
			return fail(vm, op, "insn %zu: %s", i, msg);
		const struct bpfvm_insn *in = &insns[i];
		struct bpfvm_dinsn *d = &prog[i];
		d->op = (uint8_t)op;
		d->dst = in->dst_reg;
		d->src = in->src_reg;
		d->off = in->off;
		d->imm = (uint64_t)(int64_t)in->imm;
		if (op == OP_CALL)
			d->imm = (uint32_t)in->imm; /* helper id */
		if (is_lddw(in)) {
			/* the 2nd slot is never executed; mark it for pass 2 */
			i++;
			prog[i] = (struct bpfvm_dinsn){ .op = OP__COUNT };
		}
	}
	/* pass 2: control flow and ld_imm64 values */
	for (size_t i = 0; i < n; i++) {
		struct bpfvm_dinsn *d = &prog[i];
		if (d->op == OP__COUNT)
			continue;
		int64_t t;
		if (target_of(&insns[i], d->op, i, &t)) {
			if (t < 0 || (uint64_t)t >= n)
				return fail(vm, -EINVAL,
					    "jump out of range from insn %zu to %lld",
					    i, (long long)t);
			if (prog[t].op == OP__COUNT)
				return fail(vm, -EINVAL,
					    "jump into the middle of ldimm64 insn %lld",
					    (long long)t - 1);
			d->off = (int32_t)t;
		}
		if (bpfvm_opinfo[d->op].fmt != F_LDDW)
			continue;
		unsigned src = insns[i].src_reg;
		uint64_t value = bpfvm_lddw_value(&insns[i]);
		if (src == 4) {
			value = BPFVM_FUNC_TAG | (uint64_t)t;
		} else if (src != 0) {
			if (!vm->ldimm64_fn)
				return fail(vm, -EINVAL,
					    "insn %zu: ld_imm64 with src %u "
					    "needs an ldimm64 hook", i, src);
			msg[0] = 0;
			int err = vm->ldimm64_fn(vm->ldimm64_cookie, src,
						 insns[i].imm, insns[i + 1].imm,
						 &value, msg, sizeof msg);
			if (err)
				return fail(vm, err < 0 ? err : -EINVAL,
					    "insn %zu: %s", i,
					    msg[0] ? msg : "ld_imm64 not resolved");
		}
		d->imm = value;
	}
	/* execution cannot fall off the end */
	int op = prog[n - 1].op;
	if (op != OP_EXIT && op != OP_JA && op != OP_JA32)
		return fail(vm, -EINVAL, "last insn is not an exit or jmp");
	return 0;
}

int bpfvm_load(struct bpfvm *vm, const struct bpfvm_insn *insns, size_t n)
{
	if (!vm)
		return -EINVAL;
	if (!insns || n == 0)
		return fail(vm, -EINVAL, "empty program");
	if (n > BPFVM_MAX_INSNS)
		return fail(vm, -E2BIG, "program too large (%zu insns, max %u)",
			    n, BPFVM_MAX_INSNS);
	struct bpfvm_insn *copy = malloc(n * sizeof *copy);
	struct bpfvm_dinsn *prog = calloc(n, sizeof *prog);
	struct bpfvm_dinsn *fast = malloc(n * sizeof *fast);
	int err = -ENOMEM;
	if (!copy || !prog || !fast) {
		fail(vm, err, "out of memory");
		goto out;
	}
	memcpy(copy, insns, n * sizeof *copy);
	err = decode(vm, copy, n, prog);
	if (err)
		goto out;
	memcpy(fast, prog, n * sizeof *fast);
	bpfvm_fuse(fast, n);
	free(vm->insns);
	free(vm->prog);
	free(vm->fast);
	vm->insns = copy;
	vm->prog = prog;
	vm->fast = fast;
	vm->n = n;
	vm->err[0] = 0;
	return 0;
out:
	free(copy);
	free(prog);
	free(fast);
	return err;
}

/* ---- helpers and options ------------------------------------------------ */

int bpfvm_register_helper(struct bpfvm *vm, uint32_t id, bpfvm_helper_fn fn,
			  void *cookie)
{
	if (!vm)
		return -EINVAL;
	if (id >= BPFVM_HELPER_ID_MAX)
		return fail(vm, -EINVAL, "helper id %u out of range", id);
	if (id >= vm->nhelpers) {
		if (!fn)
			return 0;
		uint32_t n = vm->nhelpers ? vm->nhelpers : 64;
		while (n <= id)
			n *= 2;
		struct bpfvm_helper *h = realloc(vm->helpers, n * sizeof *h);
		if (!h)
			return fail(vm, -ENOMEM, "out of memory");
		memset(h + vm->nhelpers, 0, (n - vm->nhelpers) * sizeof *h);
		vm->helpers = h;
		vm->nhelpers = n;
	}
	vm->helpers[id] = (struct bpfvm_helper){ fn, fn ? cookie : NULL };
	return 0;
}

void bpfvm_set_checked(struct bpfvm *vm, bool on) { vm->checked = on; }

void bpfvm_set_budget(struct bpfvm *vm, uint64_t max_insns)
{
	vm->budget = max_insns;
	vm->budget_set = true;
}

void bpfvm_set_dispatch(struct bpfvm *vm, enum bpfvm_dispatch d)
{
	vm->dispatch = d;
}

int bpfvm_add_region(struct bpfvm *vm, void *base, size_t len, bool writable)
{
	if (!vm || !base || !len)
		return -EINVAL;
	struct bpfvm_region *r = realloc(vm->regions,
					 (vm->nregions + 1) * sizeof *r);
	if (!r)
		return fail(vm, -ENOMEM, "out of memory");
	r[vm->nregions++] = (struct bpfvm_region){ (uintptr_t)base, len,
						  writable };
	vm->regions = r;
	return 0;
}

void bpfvm_set_region_hook(struct bpfvm *vm, bpfvm_region_fn fn, void *cookie)
{
	vm->region_fn = fn;
	vm->region_cookie = cookie;
}

void bpfvm_set_ldimm64_hook(struct bpfvm *vm, bpfvm_ldimm64_fn fn,
			    void *cookie)
{
	vm->ldimm64_fn = fn;
	vm->ldimm64_cookie = cookie;
}

void bpfvm_set_tail_call_hook(struct bpfvm *vm, bpfvm_tail_call_fn fn,
			      void *cookie)
{
	vm->tail_fn = fn;
	vm->tail_cookie = cookie;
}

void bpfvm_set_trace(struct bpfvm *vm, bpfvm_trace_fn fn, void *cookie)
{
	vm->trace_fn = fn;
	vm->trace_cookie = cookie;
}

void bpfvm_set_run_hook(struct bpfvm *vm, bpfvm_run_hook_fn fn, void *cookie)
{
	vm->run_fn = fn;
	vm->run_cookie = cookie;
}

void bpfvm_set_run_scope(struct bpfvm *vm, bpfvm_run_enter_fn enter,
			 bpfvm_run_exit_fn exit, void *cookie)
{
	vm->enter_fn = enter;
	vm->exit_fn = exit;
	vm->scope_cookie = cookie;
}

/* ---- running ------------------------------------------------------------ */

/* The end of every run that began: what it still holds, latest first,
 * then the scope. */
static void end_run(const struct bpfvm *vm, struct bpfvm_run *r)
{
	while (r->nholds) {
		const struct bpfvm_hold *h = &r->holds[--r->nholds];
		h->release(&r->call, h->obj, h->pc);
	}
	if (vm->exit_fn)
		vm->exit_fn(vm->scope_cookie, &r->call, r->scope);
}

static int run(const struct bpfvm *vm, void *ctx, size_t ctx_len, void *mem,
	       size_t mem_len, uint64_t r1, uint64_t r2,
	       struct bpfvm_result *res)
{
	struct bpfvm_result scratch;
	if (!res)
		res = &scratch;
	res->r0 = 0;
	res->insns = 0;
	res->error = 0;
	res->pc = -1;
	res->msg[0] = 0;
	if (!vm || !vm->prog) {
		res->error = -EINVAL;
		snprintf(res->msg, sizeof res->msg, "no program loaded");
		return res->error;
	}

	struct bpfvm_run r;
	memset(&r, 0, offsetof(struct bpfvm_run, frames));
	r.root = r.vm = vm;
	r.ctx = ctx;
	r.ctx_len = ctx ? ctx_len : 0;
	r.mem = mem;
	r.mem_len = mem ? mem_len : 0;
	r.res = res;
	r.call.run = &r;
	r.checked = vm->checked;
	uint64_t budget = vm->budget_set ? vm->budget
			  : vm->checked ? BPFVM_DEFAULT_BUDGET : 0;
	r.budget = budget ? budget : UINT64_MAX;
	if (vm->enter_fn)
		r.scope = vm->enter_fn(vm->scope_cookie, &r.call);
	if (mem) {
		r.pkt = mem;
		r.pkt_len = mem_len;
	} else if (vm->run_fn) {
		vm->run_fn(vm->run_cookie, &r.call, ctx, ctx_len);
	}
	uint64_t r0 = 0;
	if (!res->error) {
		/* unverified code may read what it never wrote: make that
		 * the same on every run */
		if (r.checked)
			memset(r.stack, 0, sizeof r.stack);
		const uint64_t args[5] = { r1, r2, 0, 0, 0 };
		r0 = bpfvm_interp(&r, 0, args, BPFVM_STACK_TOP(&r));
	}
	end_run(vm, &r);
	/* counted by the slow builds only (checked, budget or trace): the
	 * fast path does no per-instruction bookkeeping, insns stays 0 */
	res->insns = r.insns;
	res->r0 = res->error ? 0 : r0;
	return res->error;
}

int bpfvm_run(const struct bpfvm *vm, void *ctx, size_t ctx_len,
	      struct bpfvm_result *res)
{
	return run(vm, ctx, ctx_len, NULL, 0, (uint64_t)(uintptr_t)ctx, 0,
		   res);
}

int bpfvm_run_mem(const struct bpfvm *vm, void *mem, size_t mem_len,
		  struct bpfvm_result *res)
{
	return run(vm, NULL, 0, mem, mem_len, (uint64_t)(uintptr_t)mem,
		   mem_len, res);
}

/* ---- inside a helper ---------------------------------------------------- */

void *bpfvm_call_cookie(const struct bpfvm_call *call)
{
	return call->cookie;
}

const struct bpfvm *bpfvm_call_vm(const struct bpfvm_call *call)
{
	return call->run->vm;
}

void *bpfvm_call_ctx(const struct bpfvm_call *call, size_t *len)
{
	const struct bpfvm_run *r = call->run;
	if (len)
		*len = r->mem ? r->mem_len : r->ctx_len;
	return r->mem ? r->mem : r->ctx;
}

bool bpfvm_call_checked(const struct bpfvm_call *call)
{
	return call->run->checked;
}

int bpfvm_call_add_region(struct bpfvm_call *call, void *p, size_t len,
			  bool writable)
{
	struct bpfvm_run *r = call->run;
	if (!p || !len)
		return -EINVAL;
	/* a helper called in a loop hands out the same memory again */
	for (unsigned i = 0; i < r->nregions; i++)
		if (r->regions[i].base == (uintptr_t)p &&
		    r->regions[i].len == len &&
		    r->regions[i].writable == writable)
			return 0;
	if (r->nregions >= BPFVM_RUN_REGIONS)
		return -ENOSPC;
	r->regions[r->nregions++] = (struct bpfvm_region){ (uintptr_t)p, len,
							  writable };
	return 0;
}

int bpfvm_call_hold(struct bpfvm_call *call, void *obj,
		    bpfvm_release_fn release)
{
	struct bpfvm_run *r = call->run;
	if (r->nholds >= BPFVM_RUN_HOLDS)
		return -ENOSPC;
	r->holds[r->nholds++] = (struct bpfvm_hold){ obj, release,
						    r->call_pc };
	return 0;
}

bool bpfvm_call_drop(struct bpfvm_call *call, void *obj)
{
	struct bpfvm_run *r = call->run;
	/* latest first: the usual order of giving back */
	for (unsigned i = r->nholds; i--;)
		if (r->holds[i].obj == obj) {
			memmove(&r->holds[i], &r->holds[i + 1],
				(r->nholds - i - 1) * sizeof r->holds[0]);
			r->nholds--;
			return true;
		}
	return false;
}

void bpfvm_call_set_packet(struct bpfvm_call *call, void *data, size_t len)
{
	call->run->pkt = data;
	call->run->pkt_len = data ? len : 0;
}

void bpfvm_call_set_packet_headers(struct bpfvm_call *call, int32_t mac,
				   int32_t net)
{
	call->run->pkt_hdrs = true;
	call->run->pkt_mac = mac;
	call->run->pkt_net = net;
}

int bpfvm_call_move_region(struct bpfvm_call *call, const void *old, void *p,
			   size_t len, bool writable)
{
	struct bpfvm_run *r = call->run;
	for (unsigned i = 0; i < r->nregions; i++)
		if (r->regions[i].base == (uintptr_t)old) {
			r->regions[i] = (struct bpfvm_region){ (uintptr_t)p,
							       len, writable };
			return 0;
		}
	return bpfvm_call_add_region(call, p, len, writable);
}

void bpfvm_call_abort(struct bpfvm_call *call, const char *msg)
{
	bpfvm_run_fail(call->run, -EINVAL, call->run->call_pc, "%s",
		       msg ? msg : "aborted by helper");
}

bool bpfvm_call_check_mem(struct bpfvm_call *call, uint64_t p, size_t len,
			  bool write)
{
	struct bpfvm_run *r = call->run;
	if (!r->checked || bpfvm_access_ok(r, p, len, write))
		return true;
	bpfvm_run_fail(r, -EFAULT, r->call_pc,
		       "helper: invalid %s of %zu bytes at 0x%llx "
		       "(not in any region)", write ? "write" : "read", len,
		       (unsigned long long)p);
	return false;
}
