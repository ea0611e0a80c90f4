/* Helper prototypes as data (helper_protos.def), looked up by id and
 * program type, and the map types each helper accepts (the kernel's
 * check_map_func_compatibility).
 * SPDX-License-Identifier: MIT */
#include <stddef.h>
#include <linux/bpf.h>

#include "helper_protos.h"
#include "prog_types.h"

enum {
#define HELPER(id, name) FN_##name = id,
#include "../vm/helpers.def"
#undef HELPER
};

/* Each kind is (type | flags, fixed size, btf struct name). */
#define X (BPFVM_ARG_DONTCARE, 0, NULL)
#define ANY (BPFVM_ARG_ANYTHING, 0, NULL)
#define MAP (BPFVM_ARG_CONST_MAP_PTR, 0, NULL)
#define KEY (BPFVM_ARG_PTR_TO_MAP_KEY, 0, NULL)
#define VALUE (BPFVM_ARG_PTR_TO_MAP_VALUE, 0, NULL)
#define VALUE_OR_NULL (BPFVM_ARG_PTR_TO_MAP_VALUE_OR_NULL, 0, NULL)
#define UNINIT_VALUE (BPFVM_ARG_PTR_TO_MAP_VALUE | BPFVM_MEM_UNINIT | BPFVM_MEM_WRITE, 0, NULL)
#define CTX (BPFVM_ARG_PTR_TO_CTX, 0, NULL)
#define CTX_OR_NULL (BPFVM_ARG_PTR_TO_CTX_OR_NULL, 0, NULL)
#define MEM (BPFVM_ARG_PTR_TO_MEM, 0, NULL)
#define MEM_RO (BPFVM_ARG_PTR_TO_MEM | BPFVM_MEM_RDONLY, 0, NULL)
#define MEM_OR_NULL (BPFVM_ARG_PTR_TO_MEM_OR_NULL, 0, NULL)
#define MEM_OR_NULL_RO (BPFVM_ARG_PTR_TO_MEM_OR_NULL | BPFVM_MEM_RDONLY, 0, NULL)
#define UNINIT_MEM (BPFVM_ARG_PTR_TO_UNINIT_MEM, 0, NULL)
#define SIZE (BPFVM_ARG_CONST_SIZE, 0, NULL)
#define SIZE_OR_ZERO (BPFVM_ARG_CONST_SIZE_OR_ZERO, 0, NULL)
#define ALLOC_SIZE_OR_ZERO (BPFVM_ARG_CONST_ALLOC_SIZE_OR_ZERO, 0, NULL)
#define FUNC (BPFVM_ARG_PTR_TO_FUNC, 0, NULL)
#define STACK_OR_NULL (BPFVM_ARG_PTR_TO_STACK_OR_NULL, 0, NULL)
#define CONST_STR (BPFVM_ARG_PTR_TO_CONST_STR, 0, NULL)
#define SPIN_LOCK (BPFVM_ARG_PTR_TO_SPIN_LOCK, 0, NULL)
#define TIMER (BPFVM_ARG_PTR_TO_TIMER, 0, NULL)
#define KPTR_DEST (BPFVM_ARG_KPTR_XCHG_DEST, 0, NULL)
#define BTF_OR_NULL_RELEASE (BPFVM_ARG_PTR_TO_BTF_ID_OR_NULL | BPFVM_OBJ_RELEASE, 0, NULL)
#define RINGBUF_MEM_RELEASE (BPFVM_ARG_PTR_TO_RINGBUF_MEM | BPFVM_OBJ_RELEASE, 0, NULL)
#define DYNPTR_RO (BPFVM_ARG_PTR_TO_DYNPTR | BPFVM_MEM_RDONLY, 0, NULL)
#define DYNPTR_LOCAL_UNINIT (BPFVM_ARG_PTR_TO_DYNPTR | BPFVM_DYNPTR_TYPE_LOCAL | \
			     BPFVM_MEM_UNINIT | BPFVM_MEM_WRITE, 0, NULL)
#define DYNPTR_RINGBUF_UNINIT (BPFVM_ARG_PTR_TO_DYNPTR | BPFVM_DYNPTR_TYPE_RINGBUF | \
			       BPFVM_MEM_UNINIT | BPFVM_MEM_WRITE, 0, NULL)
#define DYNPTR_RINGBUF_RELEASE (BPFVM_ARG_PTR_TO_DYNPTR | BPFVM_DYNPTR_TYPE_RINGBUF | \
				BPFVM_OBJ_RELEASE, 0, NULL)
#define PERCPU_BTF (BPFVM_ARG_PTR_TO_PERCPU_BTF_ID, 0, NULL)
#define SOCK_COMMON (BPFVM_ARG_PTR_TO_SOCK_COMMON, 0, NULL)
#define SOCKET_OR_NULL (BPFVM_ARG_PTR_TO_SOCKET_OR_NULL, 0, NULL)
#define SOCK_COMMON_BTF (BPFVM_ARG_PTR_TO_BTF_ID_SOCK_COMMON, 0, NULL)
#define SOCK_COMMON_BTF_RELEASE (BPFVM_ARG_PTR_TO_BTF_ID_SOCK_COMMON | BPFVM_OBJ_RELEASE, 0, NULL)
#define TCP_SOCK_BTF (BPFVM_ARG_PTR_TO_BTF_ID, 0, "tcp_sock")
#define TASK (BPFVM_ARG_PTR_TO_BTF_ID, 0, "task_struct")
#define TASK_OR_NULL (BPFVM_ARG_PTR_TO_BTF_ID_OR_NULL, 0, "task_struct")
#define CGROUP_OR_NULL (BPFVM_ARG_PTR_TO_BTF_ID_OR_NULL, 0, "cgroup")
#define SKBUFF (BPFVM_ARG_PTR_TO_BTF_ID, 0, "sk_buff")
#define XDPBUFF (BPFVM_ARG_PTR_TO_BTF_ID, 0, "xdp_buff")
/* Fixed-size memory: the helper writes a u64 / u32 result there. */
#define FIX8 (BPFVM_ARG_PTR_TO_FIXED_SIZE_MEM | BPFVM_MEM_UNINIT | BPFVM_MEM_WRITE | \
	      BPFVM_MEM_ALIGNED, 8, NULL)
#define FIX4_W (BPFVM_ARG_PTR_TO_FIXED_SIZE_MEM | BPFVM_MEM_WRITE, 4, NULL)
/* Headers the raw syncookie helpers read: iphdr, ipv6hdr, tcphdr. */
#define FIX_IPHDR (BPFVM_ARG_PTR_TO_FIXED_SIZE_MEM, 20, NULL)
#define FIX_IPV6HDR (BPFVM_ARG_PTR_TO_FIXED_SIZE_MEM, 40, NULL)
#define FIX_TCPHDR (BPFVM_ARG_PTR_TO_FIXED_SIZE_MEM, 20, NULL)

#define R_INT (BPFVM_RET_INTEGER, 0, NULL)
#define R_VOID (BPFVM_RET_VOID, 0, NULL)
#define R_MAP_VALUE (BPFVM_RET_PTR_TO_MAP_VALUE, 0, NULL)
#define R_MAP_VALUE_OR_NULL (BPFVM_RET_PTR_TO_MAP_VALUE_OR_NULL, 0, NULL)
#define R_SOCKET_OR_NULL (BPFVM_RET_PTR_TO_SOCKET_OR_NULL, 0, NULL)
#define R_TCP_SOCK_OR_NULL (BPFVM_RET_PTR_TO_TCP_SOCK_OR_NULL, 0, NULL)
#define R_SOCK_COMMON_OR_NULL (BPFVM_RET_PTR_TO_SOCK_COMMON_OR_NULL, 0, NULL)
#define R_RINGBUF_MEM_OR_NULL (BPFVM_RET_PTR_TO_RINGBUF_MEM_OR_NULL, 0, NULL)
#define R_MEM_OR_NULL (BPFVM_RET_PTR_TO_MEM | BPFVM_PTR_MAYBE_NULL, 0, NULL)
#define R_PERCPU_OR_NULL (BPFVM_RET_PTR_TO_MEM_OR_BTF_ID | BPFVM_PTR_MAYBE_NULL | \
			  BPFVM_MEM_RDONLY, 0, NULL)
#define R_PERCPU (BPFVM_RET_PTR_TO_MEM_OR_BTF_ID | BPFVM_MEM_RDONLY, 0, NULL)
#define R_KPTR_OR_NULL (BPFVM_RET_PTR_TO_BTF_ID_OR_NULL, 0, NULL)
#define R_TASK (BPFVM_RET_PTR_TO_BTF_ID | BPFVM_PTR_TRUSTED, 0, "task_struct")
#define R_PT_REGS (BPFVM_RET_PTR_TO_BTF_ID, 0, "pt_regs")
#define R_BTF_OR_NULL(s) (BPFVM_RET_PTR_TO_BTF_ID_OR_NULL, 0, #s)

#define GPL BPFVM_PROTO_GPL_ONLY
#define PKT BPFVM_PROTO_PKT_ACCESS
#define SLEEP BPFVM_PROTO_MIGHT_SLEEP

#define T_(t, s, b) (t)
#define S_(t, s, b) (s)
#define N_(t, s, b) (b)
#define T(k) T_ k
#define S(k) S_ k
#define N(k) N_ k

#define PROTO(name, fl, r, a1, a2, a3, a4, a5) \
	{ #name, T(r), { T(a1), T(a2), T(a3), T(a4), T(a5) }, \
	  { S(a1), S(a2), S(a3), S(a4), S(a5) }, S(r), \
	  { N(a1), N(a2), N(a3), N(a4), N(a5) }, N(r), (uint8_t)(fl) }

static const struct bpfvm_helper_proto protos[BPFVM_FUNC_MAX_ID] = {
#define P(name, ...) [FN_##name] = PROTO(name, __VA_ARGS__),
#define OVERRIDE(...)
#include "helper_protos.def"
#undef P
#undef OVERRIDE
};

static const struct override {
	uint32_t type, id;
	struct bpfvm_helper_proto proto;
} overrides[] = {
#define P(...)
#define OVERRIDE(t, name, ...) { t, FN_##name, PROTO(name, __VA_ARGS__) },
#include "helper_protos.def"
#undef P
#undef OVERRIDE
};

const struct bpfvm_helper_proto *bpfvm_helper_proto_any(uint32_t id)
{
	if (id >= BPFVM_FUNC_MAX_ID || !protos[id].name)
		return NULL;
	return &protos[id];
}

/* The type's get_func_proto is in the program-type table; this only says
 * which prototype applies once it has allowed the helper. */
const struct bpfvm_helper_proto *bpfvm_helper_proto_for(uint32_t id,
							uint32_t prog_type)
{
	for (size_t i = 0; i < sizeof(overrides) / sizeof(overrides[0]); i++)
		if (overrides[i].id == id && overrides[i].type == prog_type)
			return &overrides[i].proto;
	return bpfvm_helper_proto_any(id);
}

const struct bpfvm_helper_proto *
bpfvm_helper_proto(const struct bpfvm_prog_info *prog, uint32_t id)
{
	const struct bpfvm_prog_type *pt = bpfvm_prog_type(prog->type);

	if (!pt || id >= BPFVM_FUNC_MAX_ID || !pt->helper_allowed(id, prog))
		return NULL;
	return bpfvm_helper_proto_for(id, prog->type);
}

/* ---- check_map_func_compatibility ---------------------------------------- */

/* Map types that take only some helpers: the helpers they take.  Any map
 * type not listed takes any helper not claimed below. */
static const struct {
	uint32_t map_type;
	uint8_t fns[8];
} map_only[] = {
	{ BPF_MAP_TYPE_PROG_ARRAY, { FN_tail_call } },
	{ BPF_MAP_TYPE_PERF_EVENT_ARRAY, { FN_perf_event_read, FN_perf_event_output,
	  FN_perf_event_read_value, FN_skb_output, FN_xdp_output } },
	{ BPF_MAP_TYPE_RINGBUF, { FN_ringbuf_output, FN_ringbuf_reserve,
	  FN_ringbuf_query, FN_ringbuf_reserve_dynptr, FN_ringbuf_submit_dynptr,
	  FN_ringbuf_discard_dynptr } },
	{ BPF_MAP_TYPE_USER_RINGBUF, { FN_user_ringbuf_drain } },
	{ BPF_MAP_TYPE_STACK_TRACE, { FN_get_stackid } },
	{ BPF_MAP_TYPE_CGROUP_ARRAY, { FN_skb_under_cgroup,
	  FN_current_task_under_cgroup } },
	{ BPF_MAP_TYPE_CGROUP_STORAGE, { FN_get_local_storage } },
	{ BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE, { FN_get_local_storage } },
	{ BPF_MAP_TYPE_DEVMAP, { FN_redirect_map, FN_map_lookup_elem } },
	{ BPF_MAP_TYPE_DEVMAP_HASH, { FN_redirect_map, FN_map_lookup_elem } },
	{ BPF_MAP_TYPE_CPUMAP, { FN_redirect_map } },
	{ BPF_MAP_TYPE_XSKMAP, { FN_redirect_map, FN_map_lookup_elem } },
	{ BPF_MAP_TYPE_ARRAY_OF_MAPS, { FN_map_lookup_elem } },
	{ BPF_MAP_TYPE_HASH_OF_MAPS, { FN_map_lookup_elem } },
	{ BPF_MAP_TYPE_SOCKMAP, { FN_sk_redirect_map, FN_sock_map_update,
	  FN_msg_redirect_map, FN_sk_select_reuseport, FN_map_lookup_elem,
	  FN_map_update_elem, FN_map_delete_elem } },
	{ BPF_MAP_TYPE_SOCKHASH, { FN_sk_redirect_hash, FN_sock_hash_update,
	  FN_msg_redirect_hash, FN_sk_select_reuseport, FN_map_lookup_elem,
	  FN_map_update_elem, FN_map_delete_elem } },
	{ BPF_MAP_TYPE_REUSEPORT_SOCKARRAY, { FN_sk_select_reuseport } },
	{ BPF_MAP_TYPE_QUEUE, { FN_map_peek_elem, FN_map_pop_elem, FN_map_push_elem } },
	{ BPF_MAP_TYPE_STACK, { FN_map_peek_elem, FN_map_pop_elem, FN_map_push_elem } },
	{ BPF_MAP_TYPE_SK_STORAGE, { FN_sk_storage_get, FN_sk_storage_delete,
	  FN_kptr_xchg } },
	{ BPF_MAP_TYPE_INODE_STORAGE, { FN_inode_storage_get,
	  FN_inode_storage_delete, FN_kptr_xchg } },
	{ BPF_MAP_TYPE_TASK_STORAGE, { FN_task_storage_get, FN_task_storage_delete,
	  FN_kptr_xchg } },
	{ 32 /* BPF_MAP_TYPE_CGRP_STORAGE */, { FN_cgrp_storage_get,
	  FN_cgrp_storage_delete, FN_kptr_xchg } },
	{ BPF_MAP_TYPE_BLOOM_FILTER, { FN_map_peek_elem, FN_map_push_elem } },
};

/* Helpers that take only some map types: the types. */
static const struct {
	uint8_t fn;
	uint32_t map_types[4];
} fn_only[] = {
	{ FN_tail_call, { BPF_MAP_TYPE_PROG_ARRAY } },
	{ FN_perf_event_read, { BPF_MAP_TYPE_PERF_EVENT_ARRAY } },
	{ FN_perf_event_output, { BPF_MAP_TYPE_PERF_EVENT_ARRAY } },
	{ FN_perf_event_read_value, { BPF_MAP_TYPE_PERF_EVENT_ARRAY } },
	{ FN_skb_output, { BPF_MAP_TYPE_PERF_EVENT_ARRAY } },
	{ FN_xdp_output, { BPF_MAP_TYPE_PERF_EVENT_ARRAY } },
	{ FN_ringbuf_output, { BPF_MAP_TYPE_RINGBUF } },
	{ FN_ringbuf_reserve, { BPF_MAP_TYPE_RINGBUF } },
	{ FN_ringbuf_query, { BPF_MAP_TYPE_RINGBUF } },
	{ FN_ringbuf_reserve_dynptr, { BPF_MAP_TYPE_RINGBUF } },
	{ FN_user_ringbuf_drain, { BPF_MAP_TYPE_USER_RINGBUF } },
	{ FN_get_stackid, { BPF_MAP_TYPE_STACK_TRACE } },
	{ FN_current_task_under_cgroup, { BPF_MAP_TYPE_CGROUP_ARRAY } },
	{ FN_skb_under_cgroup, { BPF_MAP_TYPE_CGROUP_ARRAY } },
	{ FN_redirect_map, { BPF_MAP_TYPE_DEVMAP, BPF_MAP_TYPE_DEVMAP_HASH,
	  BPF_MAP_TYPE_CPUMAP, BPF_MAP_TYPE_XSKMAP } },
	{ FN_sk_redirect_map, { BPF_MAP_TYPE_SOCKMAP } },
	{ FN_msg_redirect_map, { BPF_MAP_TYPE_SOCKMAP } },
	{ FN_sock_map_update, { BPF_MAP_TYPE_SOCKMAP } },
	{ FN_sk_redirect_hash, { BPF_MAP_TYPE_SOCKHASH } },
	{ FN_msg_redirect_hash, { BPF_MAP_TYPE_SOCKHASH } },
	{ FN_sock_hash_update, { BPF_MAP_TYPE_SOCKHASH } },
	{ FN_get_local_storage, { BPF_MAP_TYPE_CGROUP_STORAGE,
	  BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE } },
	{ FN_sk_select_reuseport, { BPF_MAP_TYPE_REUSEPORT_SOCKARRAY,
	  BPF_MAP_TYPE_SOCKMAP, BPF_MAP_TYPE_SOCKHASH } },
	{ FN_map_pop_elem, { BPF_MAP_TYPE_QUEUE, BPF_MAP_TYPE_STACK } },
	{ FN_map_peek_elem, { BPF_MAP_TYPE_QUEUE, BPF_MAP_TYPE_STACK,
	  BPF_MAP_TYPE_BLOOM_FILTER } },
	{ FN_map_push_elem, { BPF_MAP_TYPE_QUEUE, BPF_MAP_TYPE_STACK,
	  BPF_MAP_TYPE_BLOOM_FILTER } },
	{ FN_map_lookup_percpu_elem, { BPF_MAP_TYPE_PERCPU_ARRAY,
	  BPF_MAP_TYPE_PERCPU_HASH, BPF_MAP_TYPE_LRU_PERCPU_HASH } },
	{ FN_sk_storage_get, { BPF_MAP_TYPE_SK_STORAGE } },
	{ FN_sk_storage_delete, { BPF_MAP_TYPE_SK_STORAGE } },
	{ FN_inode_storage_get, { BPF_MAP_TYPE_INODE_STORAGE } },
	{ FN_inode_storage_delete, { BPF_MAP_TYPE_INODE_STORAGE } },
	{ FN_task_storage_get, { BPF_MAP_TYPE_TASK_STORAGE } },
	{ FN_task_storage_delete, { BPF_MAP_TYPE_TASK_STORAGE } },
	{ FN_cgrp_storage_get, { 32 } },
	{ FN_cgrp_storage_delete, { 32 } },
};

/* may_update_sockmap: which program types may update or delete sockmap
 * and sockhash entries through the generic map helpers. */
static bool may_update_sockmap(uint32_t id, uint32_t prog_type)
{
	switch (prog_type) {
	case BPF_PROG_TYPE_SOCK_OPS:
		return id == FN_map_delete_elem;
	case BPF_PROG_TYPE_SOCKET_FILTER:
	case BPF_PROG_TYPE_SCHED_CLS:
	case BPF_PROG_TYPE_SCHED_ACT:
	case BPF_PROG_TYPE_XDP:
	case BPF_PROG_TYPE_SK_REUSEPORT:
	case BPF_PROG_TYPE_FLOW_DISSECTOR:
	case BPF_PROG_TYPE_SK_LOOKUP:
		return true;
	}
	return false;
}

bool bpfvm_helper_map_compatible(uint32_t id, uint32_t map_type,
				 uint32_t prog_type)
{
	for (size_t i = 0; i < sizeof(map_only) / sizeof(map_only[0]); i++) {
		if (map_only[i].map_type != map_type)
			continue;
		for (size_t j = 0; j < 8 && map_only[i].fns[j]; j++) {
			if (map_only[i].fns[j] != id)
				continue;
			if ((map_type == BPF_MAP_TYPE_SOCKMAP ||
			     map_type == BPF_MAP_TYPE_SOCKHASH) &&
			    (id == FN_map_update_elem || id == FN_map_delete_elem))
				return may_update_sockmap(id, prog_type);
			return true;
		}
		return false;
	}
	for (size_t i = 0; i < sizeof(fn_only) / sizeof(fn_only[0]); i++) {
		if (fn_only[i].fn != id)
			continue;
		for (size_t j = 0; j < 4 && fn_only[i].map_types[j]; j++)
			if (fn_only[i].map_types[j] == map_type)
				return true;
		return false;
	}
	return true;
}
