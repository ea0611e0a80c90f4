/* bpf_conformance: run one parsed test on a fresh VM and judge it.
 * SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "conformance.h"
#include "vm_internal.h"

/* Judge a failure: a pass if the test expects one. */
static int judge_error(const struct bpfvm_conf_test *t, const char *when,
		       const char *msg, char *detail, size_t len)
{
	if (t->expect_error) {
		snprintf(detail, len, "expected an error; got %s: %s", when, msg);
		return 1;
	}
	snprintf(detail, len, "%s: %s", when, msg);
	return 0;
}

int bpfvm_conf_run(const struct bpfvm_conf_test *t,
		   const struct bpfvm_conf_opts *opts, char *detail,
		   size_t detaillen)
{
	struct bpfvm_result res = { 0 };
	struct bpfvm *vm = bpfvm_create();
	uint8_t *mem = NULL;
	int ret;

	if (detaillen)
		detail[0] = 0;
	if (!vm) {
		snprintf(detail, detaillen, "cannot create a VM: out of memory");
		return 0;
	}
	if (opts && opts->checked)
		bpfvm_set_checked(vm, true);
	if (opts && opts->dispatch >= 0)
		bpfvm_set_dispatch(vm, (enum bpfvm_dispatch)opts->dispatch);
	/* Raw mode has no budget by default; a looping vector must not hang
	 * the runner. */
	bpfvm_set_budget(vm, BPFVM_DEFAULT_BUDGET);

	ret = bpfvm_load(vm, t->insns, t->n);
	if (ret) {
		const char *msg = bpfvm_error(vm);
		ret = judge_error(t, "rejected at load",
				  msg[0] ? msg : strerror(-ret), detail, detaillen);
		goto out;
	}
	/* The program may write its memory: give it a copy. */
	if (t->mem_len) {
		mem = malloc(t->mem_len);
		if (!mem) {
			snprintf(detail, detaillen, "out of memory");
			ret = 0;
			goto out;
		}
		memcpy(mem, t->mem, t->mem_len);
	}
	ret = bpfvm_run_mem(vm, mem, t->mem_len, &res);
	if (ret || res.error) {
		int e = res.error ? res.error : ret;
		ret = judge_error(t, "failed at run time",
				  res.msg[0] ? res.msg : strerror(-e), detail,
				  detaillen);
		goto out;
	}
	if (t->expect_error) {
		snprintf(detail, detaillen, "expected an error; got 0x%llx",
			 (unsigned long long)res.r0);
		ret = 0;
	} else if (res.r0 != t->result) {
		snprintf(detail, detaillen, "got 0x%llx, expected 0x%llx",
			 (unsigned long long)res.r0,
			 (unsigned long long)t->result);
		ret = 0;
	} else {
		ret = 1;
	}
out:
	free(mem);
	bpfvm_destroy(vm);
	return ret;
}
