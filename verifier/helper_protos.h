/* Helper prototypes as data: what each kernel helper takes and returns,
 * transcribed from the kernel's `struct bpf_func_proto` definitions
 * (kernel/bpf/helpers.c, net/core/filter.c, kernel/trace/bpf_trace.c,
 * kernel/bpf/ringbuf.c, ... Linux 6.18).  Shared by the verifier (argument
 * checks, the type of r0 after a call) and the runtime.
 *
 * Argument and return kinds are encoded as the kernel encodes them: a base
 * kind in the low byte plus modifier flags above it, so
 * ARG_PTR_TO_MAP_VALUE | BPFVM_PTR_MAYBE_NULL is the kernel's
 * ARG_PTR_TO_MAP_VALUE_OR_NULL.
 * SPDX-License-Identifier: MIT */
#ifndef BPFVM_HELPER_PROTOS_H
#define BPFVM_HELPER_PROTOS_H

#include <stdbool.h>
#include <stdint.h>

/* Base argument kinds (the kernel's enum bpf_arg_type, same order). */
enum bpfvm_arg_type {
	BPFVM_ARG_DONTCARE = 0,       /* unused argument */
	BPFVM_ARG_CONST_MAP_PTR,      /* const argument used as pointer to bpf_map */
	BPFVM_ARG_PTR_TO_MAP_KEY,     /* pointer to stack/map/pkt used as map key */
	BPFVM_ARG_PTR_TO_MAP_VALUE,   /* pointer used as map value */
	BPFVM_ARG_PTR_TO_MEM,         /* pointer to valid memory; size in next arg */
	BPFVM_ARG_PTR_TO_ARENA,
	BPFVM_ARG_CONST_SIZE,         /* number of bytes accessed from memory */
	BPFVM_ARG_CONST_SIZE_OR_ZERO, /* same, zero allowed */
	BPFVM_ARG_PTR_TO_CTX,         /* pointer to context */
	BPFVM_ARG_ANYTHING,           /* any (initialized) argument is ok */
	BPFVM_ARG_PTR_TO_SPIN_LOCK,   /* pointer to bpf_spin_lock */
	BPFVM_ARG_PTR_TO_SOCK_COMMON, /* pointer to sock_common */
	BPFVM_ARG_PTR_TO_SOCKET,      /* pointer to bpf_sock (fullsock) */
	BPFVM_ARG_PTR_TO_BTF_ID,      /* pointer to in-kernel struct (btf name) */
	BPFVM_ARG_PTR_TO_RINGBUF_MEM, /* pointer to dynamically reserved ringbuf memory */
	BPFVM_ARG_CONST_ALLOC_SIZE_OR_ZERO, /* number of allocated bytes requested */
	BPFVM_ARG_PTR_TO_BTF_ID_SOCK_COMMON, /* sock_common or bpf-mirrored bpf_sock */
	BPFVM_ARG_PTR_TO_PERCPU_BTF_ID,
	BPFVM_ARG_PTR_TO_FUNC,        /* pointer to a bpf program function */
	BPFVM_ARG_PTR_TO_STACK,       /* pointer to stack */
	BPFVM_ARG_PTR_TO_CONST_STR,   /* pointer to a null terminated read-only string */
	BPFVM_ARG_PTR_TO_TIMER,       /* pointer to bpf_timer */
	BPFVM_ARG_KPTR_XCHG_DEST,
	BPFVM_ARG_PTR_TO_DYNPTR,
	BPFVM_ARG_TYPE_MAX,
};

/* Base return kinds (the kernel's enum bpf_return_type, same order). */
enum bpfvm_ret_type {
	BPFVM_RET_INTEGER = 0,        /* function returns integer */
	BPFVM_RET_VOID,               /* function doesn't return anything */
	BPFVM_RET_PTR_TO_MAP_VALUE,   /* returns a pointer to map elem value */
	BPFVM_RET_PTR_TO_SOCKET,      /* returns a pointer to a socket */
	BPFVM_RET_PTR_TO_TCP_SOCK,    /* returns a pointer to a tcp_sock */
	BPFVM_RET_PTR_TO_SOCK_COMMON, /* returns a pointer to a sock_common */
	BPFVM_RET_PTR_TO_MEM,         /* returns a pointer to memory (ret_size) */
	BPFVM_RET_PTR_TO_MEM_OR_BTF_ID,
	BPFVM_RET_PTR_TO_BTF_ID,      /* returns a pointer to a btf_id (ret_btf) */
	BPFVM_RET_TYPE_MAX,
};

/* Modifier flags over the base kinds (the kernel's enum bpf_type_flag;
 * only those helper prototypes use).  Values are bpfvm's own. */
enum bpfvm_type_flag {
	BPFVM_PTR_MAYBE_NULL = 1u << 8,   /* _OR_NULL */
	BPFVM_MEM_RDONLY = 1u << 9,       /* memory the helper only reads */
	BPFVM_MEM_RINGBUF = 1u << 10,     /* ringbuf_reserve's record */
	BPFVM_MEM_UNINIT = 1u << 11,      /* may be uninitialized (helper fills) */
	BPFVM_MEM_WRITE = 1u << 12,       /* helper writes it */
	BPFVM_MEM_FIXED_SIZE = 1u << 13,  /* size in arg_size, not next arg */
	BPFVM_MEM_ALIGNED = 1u << 14,     /* must be aligned to its size */
	BPFVM_OBJ_RELEASE = 1u << 15,     /* helper releases the reference */
	BPFVM_PTR_TRUSTED = 1u << 16,
	BPFVM_MEM_ALLOC = 1u << 17,
	BPFVM_DYNPTR_TYPE_LOCAL = 1u << 18,
	BPFVM_DYNPTR_TYPE_RINGBUF = 1u << 19,
	BPFVM_MEM_USER = 1u << 20,
};
#define BPFVM_BASE_TYPE(t) ((t) & 0xffu)

/* The kernel's composite names, for readability of the table and callers. */
#define BPFVM_ARG_PTR_TO_MAP_VALUE_OR_NULL \
	(BPFVM_ARG_PTR_TO_MAP_VALUE | BPFVM_PTR_MAYBE_NULL)
#define BPFVM_ARG_PTR_TO_MEM_OR_NULL (BPFVM_ARG_PTR_TO_MEM | BPFVM_PTR_MAYBE_NULL)
#define BPFVM_ARG_PTR_TO_CTX_OR_NULL (BPFVM_ARG_PTR_TO_CTX | BPFVM_PTR_MAYBE_NULL)
#define BPFVM_ARG_PTR_TO_SOCKET_OR_NULL \
	(BPFVM_ARG_PTR_TO_SOCKET | BPFVM_PTR_MAYBE_NULL)
#define BPFVM_ARG_PTR_TO_STACK_OR_NULL (BPFVM_ARG_PTR_TO_STACK | BPFVM_PTR_MAYBE_NULL)
#define BPFVM_ARG_PTR_TO_BTF_ID_OR_NULL \
	(BPFVM_ARG_PTR_TO_BTF_ID | BPFVM_PTR_MAYBE_NULL)
#define BPFVM_ARG_PTR_TO_UNINIT_MEM \
	(BPFVM_ARG_PTR_TO_MEM | BPFVM_MEM_UNINIT | BPFVM_MEM_WRITE)
#define BPFVM_ARG_PTR_TO_FIXED_SIZE_MEM \
	(BPFVM_ARG_PTR_TO_MEM | BPFVM_MEM_FIXED_SIZE)
#define BPFVM_RET_PTR_TO_MAP_VALUE_OR_NULL \
	(BPFVM_RET_PTR_TO_MAP_VALUE | BPFVM_PTR_MAYBE_NULL)
#define BPFVM_RET_PTR_TO_SOCKET_OR_NULL \
	(BPFVM_RET_PTR_TO_SOCKET | BPFVM_PTR_MAYBE_NULL)
#define BPFVM_RET_PTR_TO_TCP_SOCK_OR_NULL \
	(BPFVM_RET_PTR_TO_TCP_SOCK | BPFVM_PTR_MAYBE_NULL)
#define BPFVM_RET_PTR_TO_SOCK_COMMON_OR_NULL \
	(BPFVM_RET_PTR_TO_SOCK_COMMON | BPFVM_PTR_MAYBE_NULL)
#define BPFVM_RET_PTR_TO_RINGBUF_MEM_OR_NULL \
	(BPFVM_RET_PTR_TO_MEM | BPFVM_PTR_MAYBE_NULL | BPFVM_MEM_RINGBUF)
#define BPFVM_RET_PTR_TO_BTF_ID_OR_NULL \
	(BPFVM_RET_PTR_TO_BTF_ID | BPFVM_PTR_MAYBE_NULL)

/* Prototype flags. */
enum bpfvm_proto_flag {
	BPFVM_PROTO_GPL_ONLY = 1u << 0,    /* needs a GPL-compatible license */
	BPFVM_PROTO_PKT_ACCESS = 1u << 1,  /* may take packet pointers as memory */
	BPFVM_PROTO_MIGHT_SLEEP = 1u << 2, /* sleepable programs only */
	BPFVM_PROTO_FASTCALL = 1u << 3,    /* allow_fastcall */
};

/* One helper prototype (the kernel's struct bpf_func_proto). */
struct bpfvm_helper_proto {
	const char *name;     /* "map_lookup_elem": the log says bpf_NAME#ID */
	uint32_t ret;         /* enum bpfvm_ret_type | flags */
	uint32_t args[5];     /* enum bpfvm_arg_type | flags */
	uint16_t arg_size[5]; /* bytes, for BPFVM_MEM_FIXED_SIZE arguments */
	uint16_t ret_size;    /* bytes, for RET_PTR_TO_MEM without a size arg */
	const char *arg_btf[5]; /* struct name for ARG_PTR_TO_BTF_ID ("sock") */
	const char *ret_btf;  /* struct name for RET_PTR_TO_BTF_ID ("tcp_sock") */
	uint8_t flags;        /* enum bpfvm_proto_flag */
};

struct bpfvm_prog_info;

/* The prototype of helper `id` as a program of type prog->type (with its
 * expected attach type) sees it, or NULL when that type cannot call it
 * (the kernel's get_func_proto returning NULL: "program of this type cannot
 * use helper bpf_NAME#ID").  A few helpers have per-type prototypes
 * (sk_storage_get in cgroup_sock, sk_assign in sk_lookup ...). */
const struct bpfvm_helper_proto *
bpfvm_helper_proto(const struct bpfvm_prog_info *prog, uint32_t id);

/* The type-independent prototype of helper `id` (what the kernel defines
 * for it, if bpfvm knows it), NULL otherwise.  For names and for callers
 * that only need the shape. */
const struct bpfvm_helper_proto *bpfvm_helper_proto_any(uint32_t id);

/* The prototype of `id` in program type `prog_type`, whether or not the
 * type may call it (the per-type overrides applied). */
const struct bpfvm_helper_proto *bpfvm_helper_proto_for(uint32_t id,
							uint32_t prog_type);

/* Names: bpfvm_helper_name() in bpfvm.h (from vm/helpers.def). */

/* Number of helper ids the kernel defines (__BPF_FUNC_MAX_ID). */
#define BPFVM_FUNC_MAX_ID 212

/* Map types a helper accepts in its ARG_CONST_MAP_PTR, and helpers a map
 * type allows (the kernel's check_map_func_compatibility), as data:
 * true when a program of `prog_type` may call helper `id` with a map of
 * type `map_type` (BPF_MAP_TYPE_*).  False => the kernel's
 * "cannot pass map_type %d into func %s#%d" (EINVAL). */
bool bpfvm_helper_map_compatible(uint32_t id, uint32_t map_type,
				 uint32_t prog_type);

#endif
