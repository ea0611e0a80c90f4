/* The per-type context access checks (ctx_access.c), for the program-type
 * table (prog_types.c).  Each is the kernel's *_is_valid_access.
 * SPDX-License-Identifier: MIT */
#ifndef BPFVM_CTX_ACCESS_H
#define BPFVM_CTX_ACCESS_H

#include "prog_types.h"

/* An access may start at [off, end), must end by limit, with a size whose
 * bit is in rsz (loads) or wsz (stores); a load yields reg.  fsize is the
 * kernel's ctx_field_size (0: the access is the whole field). */
struct ctx_rule {
	uint16_t off, end, limit;
	uint8_t rsz, wsz;
	uint8_t fsize;
	uint8_t reg;
};

#define CTX_CHECK(name) \
	bool bpfvm_ctx_##name(int off, int size, enum bpfvm_access t, \
			      const struct bpfvm_prog_info *prog, \
			      struct bpfvm_ctx_access *acc)
CTX_CHECK(sk_filter);
CTX_CHECK(cg_skb);
CTX_CHECK(lwt);
CTX_CHECK(tc);
CTX_CHECK(sk_skb);
CTX_CHECK(flow_dissector);
CTX_CHECK(xdp);
CTX_CHECK(kprobe);
CTX_CHECK(tracepoint);
CTX_CHECK(raw_tp);
CTX_CHECK(raw_tp_w);
CTX_CHECK(perf_event);
CTX_CHECK(cg_sock);
CTX_CHECK(sock_addr);
CTX_CHECK(sock_ops);
CTX_CHECK(sk_msg);
CTX_CHECK(sk_lookup);
CTX_CHECK(cg_dev);
CTX_CHECK(sysctl);
CTX_CHECK(sockopt);
CTX_CHECK(reuseport);
#undef CTX_CHECK

/* struct bpf_sock through a socket pointer (bpf_sock_is_valid_access). */
bool bpfvm_ctx_sock(int off, int size, enum bpfvm_access t,
		    struct bpfvm_ctx_access *acc);

#endif
