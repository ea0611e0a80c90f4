/* bpfvm_bpf(): the bpf(2) system call, in-process.
 *
 * Code written for the kernel's bpf(2) runs against bpfvm by calling
 * bpfvm_bpf(cmd, &attr, sizeof(attr)) instead of
 * syscall(__NR_bpf, cmd, &attr, sizeof(attr)), and close(fd) becoming
 * bpfvm_close(fd).  Same union bpf_attr, same result: >= 0, or -1 with
 * errno as Linux 6.18 sets it for the same call.
 *
 * Commands: MAP_CREATE, MAP_{LOOKUP,UPDATE,DELETE}_ELEM, MAP_GET_NEXT_KEY,
 * MAP_LOOKUP_AND_DELETE_ELEM, MAP_FREEZE, the four MAP_*_BATCH commands,
 * OBJ_GET_INFO_BY_FD (maps, programs, BTF), MAP_GET_NEXT_ID,
 * MAP_GET_FD_BY_ID, PROG_GET_NEXT_ID, PROG_GET_FD_BY_ID, PROG_LOAD,
 * PROG_TEST_RUN, BTF_GET_NEXT_ID, BTF_GET_FD_BY_ID and BTF_LOAD (the
 * layout is checked, not the kernel's whole BTF verification; a map's BTF
 * names its value's struct bpf_spin_lock, for BPF_F_LOCK and the
 * spin-lock helpers).  Other commands are EINVAL (as an unknown command).
 *
 * Descriptors are real file descriptors of the process (close-on-exec
 * memfds; an MMAPABLE array's can be mmap-ed), so they never collide with
 * the program's own files.  A map lives while a descriptor or a loaded
 * program uses it.  Release descriptors with bpfvm_close(): bpfvm cannot
 * see a plain close() without a system call on every bpfvm_bpf() call (a
 * fifth of a microsecond, more than the map operation itself), so by
 * default it does not look: a number closed with close() keeps naming its
 * object until bpfvm hands the number out again.  bpfvm_bpf_set_fd_check
 * (true) makes every call check its descriptor (one lseek: the file's
 * offset is a cookie, so do not read, write or seek these descriptors):
 * then a plain close() is EBADF and a number reused for another file is
 * EINVAL, exactly as the kernel says; for testing ported code.  A dup of a
 * descriptor names the same object in both modes.
 *
 * Pointers in attr are plain pointers of this process: NULL is EFAULT
 * where the kernel would fault, any other bad pointer is the caller's bug.
 *
 * Programs: PROG_LOAD runs the verifier as Linux 6.18 does for root
 * (verdict, errno, log at log_level 1, 2 and 4, log_true_size), then the
 * kernel's fixups that change behaviour (context accesses rewritten onto
 * bpfvm's runtime context; 32-bit zero-extension and division by zero are
 * the interpreter's own semantics) and runs the verified program on the
 * VM's unchecked path.  ld_imm64 BPF_PSEUDO_MAP_FD / BPF_PSEUDO_MAP_VALUE
 * name maps.  PROG_TEST_RUN is the kernel's for SOCKET_FILTER, SCHED_CLS,
 * SCHED_ACT, XDP (skb or xdp_buff from data_in and ctx_in, data_out,
 * ctx_out, retval, duration = mean ns per run); ENOTSUPP (524) for types
 * the kernel has no test run for.
 *
 * Thread-safe: any thread may call any of these at any time.
 * SPDX-License-Identifier: MIT */
#ifndef BPFVM_BPF_H
#define BPFVM_BPF_H

#include <linux/bpf.h>
#include <stdbool.h>
#include "bpfvm.h"

#ifdef __cplusplus
extern "C" {
#endif

/* bpf(2): >= 0, or -1 and errno. */
BPFVM_API int bpfvm_bpf(int cmd, union bpf_attr *attr, unsigned int size);

/* Release a descriptor bpfvm_bpf() returned (any other descriptor is just
 * closed): close(2)'s contract.  The object goes with its last user. */
BPFVM_API int bpfvm_close(int fd);

/* Check every descriptor against the file it was made for, so that plain
 * close() is seen (default off; see above). */
BPFVM_API void bpfvm_bpf_set_fd_check(bool on);

/* Run a loaded program with r1 = ctx (bpfvm_run), as the kernel runs one
 * under RCU: maps' elements and tail-call targets it may reach stay valid
 * for the whole run.  The program is verified and its context accesses
 * rewritten: ctx must be the type's runtime context (vm/test_run.h:
 * struct bpfvm_skb for skb types, struct bpfvm_xdp for XDP, the uapi
 * struct for tracing types), ctx_len its size.  0 or -errno, as bpfvm_run
 * (-EBADF / -EINVAL for a descriptor that is not a program). */
BPFVM_API int bpfvm_bpf_prog_run(int fd, void *ctx, size_t ctx_len,
				 struct bpfvm_result *res);

#ifdef __cplusplus
}
#endif
#endif
