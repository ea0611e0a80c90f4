/* RINGBUF: the kernel's BPF ring buffer, in process.  Layout as the
 * kernel's: a header page, the consumer position page, the producer
 * position page, then max_entries bytes of data mapped twice in a row, so a
 * record that wraps past the end is still contiguous for the program
 * writing it.  Records: an 8-byte header { u32 len (BUSY, DISCARD bits),
 * u32 pg_off (pages back to the header page, which names the map: submit
 * needs nothing but the sample) } and the data, 8-byte aligned.
 *
 * Producers (programs) take a mutex (the kernel's spinlock) to reserve;
 * submit and discard are a lock-free exchange on the header.  The one
 * consumer (the embedder) needs no lock: positions are published with
 * release/acquire.  Wakeups go to an eventfd the embedder may poll.
 * SPDX-License-Identifier: MIT */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>
#include "map.h"

#define RINGBUF_CREATE_FLAG_MASK BPF_F_NUMA_NODE
#define RINGBUF_MAX_RECORD_SZ (UINT32_MAX / 4)
#define META_PAGES 3 /* header, consumer_pos, producer_pos */

struct ringbuf {
	struct bpfvm_map map;
	pthread_mutex_t lock;
	uint8_t *base; /* META_PAGES pages, then data twice */
	uint8_t *data;
	uint64_t mask;
	uint64_t pending_pos; /* oldest record maybe still busy (lock) */
	size_t page, len;
	int memfd, efd;
};

static struct ringbuf *rb_of(struct bpfvm_map *map)
{
	return (struct ringbuf *)map;
}

static uint64_t *cons_pos(struct ringbuf *rb)
{
	return (uint64_t *)(rb->base + rb->page);
}

static uint64_t *prod_pos(struct ringbuf *rb)
{
	return (uint64_t *)(rb->base + 2 * rb->page);
}

static void rb_free(struct bpfvm_map *map)
{
	struct ringbuf *rb = rb_of(map);
	if (rb->base)
		munmap(rb->base, rb->len);
	if (rb->memfd >= 0)
		close(rb->memfd);
	if (rb->efd >= 0)
		close(rb->efd);
	pthread_mutex_destroy(&rb->lock);
	free(rb);
}

/* The data pages twice after the meta pages, all one shared memfd. */
static int rb_map_area(struct ringbuf *rb, size_t size)
{
	size_t meta = META_PAGES * rb->page;
	rb->memfd = memfd_create("bpfvm-ringbuf", MFD_CLOEXEC);
	if (rb->memfd < 0 || ftruncate(rb->memfd, (off_t)(meta + size)) < 0)
		return -ENOMEM;
	rb->len = meta + 2 * size;
	void *p = mmap(NULL, rb->len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -ENOMEM;
	rb->base = p;
	if (mmap(p, meta + size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
		 rb->memfd, 0) == MAP_FAILED ||
	    mmap((uint8_t *)p + meta + size, size, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_FIXED, rb->memfd, (off_t)meta) == MAP_FAILED)
		return -ENOMEM;
	rb->data = rb->base + meta;
	memcpy(rb->base, &rb, sizeof(rb)); /* the header page names the map */
	return 0;
}

static int rb_alloc(const union bpf_attr *attr, struct bpfvm_map **out)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	uint32_t n = attr->max_entries;
	if ((attr->map_flags & ~RINGBUF_CREATE_FLAG_MASK) || attr->key_size ||
	    attr->value_size || !n || (n & (n - 1)) || n % page)
		return -EINVAL;
	if (bpfvm_map_area_too_big(n))
		return -ENOMEM;
	struct ringbuf *rb = calloc(1, sizeof(*rb));
	if (!rb)
		return -ENOMEM;
	bpfvm_map_init(&rb->map, attr);
	pthread_mutex_init(&rb->lock, NULL);
	rb->page = page;
	rb->mask = n - 1;
	rb->memfd = rb->efd = -1;
	int err = rb_map_area(rb, n);
	if (!err) {
		rb->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (rb->efd < 0)
			err = -ENOMEM;
	}
	if (err) {
		rb_free(&rb->map);
		return err;
	}
	*out = &rb->map;
	return 0;
}

static uint32_t hdr_len(const uint8_t *hdr)
{
	return __atomic_load_n((const uint32_t *)hdr, __ATOMIC_ACQUIRE);
}

/* Bytes a record of this header length takes. */
static uint64_t rec_size(uint32_t len)
{
	uint64_t n = (uint64_t)(len & ~(BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT));
	return (n + BPF_RINGBUF_HDR_SZ + 7) & ~7ull;
}

void *bpfvm_ringbuf_reserve(struct bpfvm_map *map, uint64_t size,
			    uint64_t flags)
{
	if (map->map_type != BPF_MAP_TYPE_RINGBUF || flags ||
	    size > RINGBUF_MAX_RECORD_SZ)
		return NULL;
	struct ringbuf *rb = rb_of(map);
	uint64_t len = (size + BPF_RINGBUF_HDR_SZ + 7) & ~7ull;
	if (len > rb->mask + 1)
		return NULL;
	uint64_t cons = __atomic_load_n(cons_pos(rb), __ATOMIC_ACQUIRE);
	pthread_mutex_lock(&rb->lock);
	uint64_t prod = *prod_pos(rb), pend = rb->pending_pos;
	/* move past records committed since: the oldest busy one bounds
	 * how far ahead the producer may go */
	while (pend < prod) {
		uint32_t l = hdr_len(rb->data + (pend & rb->mask));
		if (l & BPF_RINGBUF_BUSY_BIT)
			break;
		pend += rec_size(l);
	}
	rb->pending_pos = pend;
	uint64_t next = prod + len;
	if (next - cons > rb->mask || next - pend > rb->mask) {
		pthread_mutex_unlock(&rb->lock);
		return NULL;
	}
	uint8_t *hdr = rb->data + (prod & rb->mask);
	uint32_t pg_off = (uint32_t)((size_t)(hdr - rb->base) / rb->page);
	__atomic_store_n((uint32_t *)hdr, (uint32_t)size | BPF_RINGBUF_BUSY_BIT,
			 __ATOMIC_RELAXED);
	memcpy(hdr + 4, &pg_off, 4);
	__atomic_store_n(prod_pos(rb), next, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&rb->lock);
	return hdr + BPF_RINGBUF_HDR_SZ;
}

static void wake(struct ringbuf *rb)
{
	uint64_t one = 1;
	/* a full counter (EAGAIN) is already a pending wakeup */
	if (write(rb->efd, &one, sizeof(one)) < 0)
		return;
}

static void commit(void *sample, uint64_t flags, int discard)
{
	uint8_t *hdr = (uint8_t *)sample - BPF_RINGBUF_HDR_SZ;
	uint32_t pg_off;
	memcpy(&pg_off, hdr + 4, 4);
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	uint8_t *base = (uint8_t *)((uintptr_t)hdr & ~(uintptr_t)(page - 1)) -
			(size_t)pg_off * page;
	struct ringbuf *rb;
	memcpy(&rb, base, sizeof(rb));

	uint32_t len = hdr_len(hdr) ^ BPF_RINGBUF_BUSY_BIT;
	if (discard)
		len |= BPF_RINGBUF_DISCARD_BIT;
	/* publishes the sample's bytes with the header */
	__atomic_exchange_n((uint32_t *)hdr, len, __ATOMIC_SEQ_CST);
	uint64_t rec = (uint64_t)(hdr - rb->data);
	uint64_t cons = __atomic_load_n(cons_pos(rb), __ATOMIC_ACQUIRE) & rb->mask;
	/* wake a consumer that has caught up with this record */
	if (flags & BPF_RB_FORCE_WAKEUP)
		wake(rb);
	else if (cons == rec && !(flags & BPF_RB_NO_WAKEUP))
		wake(rb);
}

void bpfvm_ringbuf_submit(void *sample, uint64_t flags)
{
	commit(sample, flags, 0);
}

void bpfvm_ringbuf_discard(void *sample, uint64_t flags)
{
	commit(sample, flags, 1);
}

long bpfvm_ringbuf_output(struct bpfvm_map *map, const void *data,
			  uint64_t size, uint64_t flags)
{
	if (flags & ~(uint64_t)(BPF_RB_NO_WAKEUP | BPF_RB_FORCE_WAKEUP))
		return -EINVAL;
	void *rec = bpfvm_ringbuf_reserve(map, size, 0);
	if (!rec)
		return -EAGAIN;
	memcpy(rec, data, size);
	commit(rec, flags, 0);
	return 0;
}

uint64_t bpfvm_ringbuf_query(struct bpfvm_map *map, uint64_t flags)
{
	if (map->map_type != BPF_MAP_TYPE_RINGBUF)
		return 0;
	struct ringbuf *rb = rb_of(map);
	uint64_t cons = __atomic_load_n(cons_pos(rb), __ATOMIC_ACQUIRE);
	uint64_t prod = __atomic_load_n(prod_pos(rb), __ATOMIC_ACQUIRE);
	switch (flags) {
	case BPF_RB_AVAIL_DATA: return prod - cons;
	case BPF_RB_RING_SIZE: return rb->mask + 1;
	case BPF_RB_CONS_POS: return cons;
	case BPF_RB_PROD_POS: return prod;
	default: return 0;
	}
}

int bpfvm_ringbuf_consume(struct bpfvm_map *map,
			  int (*cb)(void *ctx, void *data, size_t size),
			  void *ctx)
{
	if (map->map_type != BPF_MAP_TYPE_RINGBUF)
		return -EINVAL;
	struct ringbuf *rb = rb_of(map);
	uint64_t cons = __atomic_load_n(cons_pos(rb), __ATOMIC_ACQUIRE);
	int n = 0;
	for (;;) {
		uint64_t prod = __atomic_load_n(prod_pos(rb), __ATOMIC_ACQUIRE);
		if (cons >= prod)
			break;
		uint8_t *hdr = rb->data + (cons & rb->mask);
		uint32_t len = hdr_len(hdr);
		if (len & BPF_RINGBUF_BUSY_BIT)
			break; /* records behind it wait their turn */
		cons += rec_size(len);
		if (!(len & BPF_RINGBUF_DISCARD_BIT)) {
			int err = cb(ctx, hdr + BPF_RINGBUF_HDR_SZ,
				     len & ~BPF_RINGBUF_DISCARD_BIT);
			if (err < 0) {
				__atomic_store_n(cons_pos(rb), cons, __ATOMIC_RELEASE);
				return err;
			}
			n++;
		}
		__atomic_store_n(cons_pos(rb), cons, __ATOMIC_RELEASE);
	}
	return n;
}

int bpfvm_ringbuf_wait_fd(struct bpfvm_map *map)
{
	if (map->map_type != BPF_MAP_TYPE_RINGBUF)
		return -EINVAL;
	return rb_of(map)->efd;
}

static void *rb_lookup(struct bpfvm_map *map, const void *key, uint32_t cpu)
{
	(void)map, (void)key, (void)cpu;
	return NULL;
}

static int rb_copy_value(struct bpfvm_map *map, const void *key, void *out,
			 uint64_t flags)
{
	(void)map, (void)key, (void)out, (void)flags;
	return -BPFVM_ENOTSUPP;
}

static int rb_update(struct bpfvm_map *map, const void *key,
		     const void *value, uint64_t flags, uint32_t cpu)
{
	(void)map, (void)key, (void)value, (void)flags, (void)cpu;
	return -BPFVM_ENOTSUPP;
}

static int rb_delete(struct bpfvm_map *map, const void *key)
{
	(void)map, (void)key;
	return -BPFVM_ENOTSUPP;
}

static int rb_get_next_key(struct bpfvm_map *map, const void *key, void *next)
{
	(void)map, (void)key, (void)next;
	return -BPFVM_ENOTSUPP;
}

const struct bpfvm_map_ops bpfvm_ringbuf_ops = {
	.alloc = rb_alloc,
	.free = rb_free,
	.lookup = rb_lookup,
	.copy_value = rb_copy_value,
	.update = rb_update,
	.delete = rb_delete,
	.get_next_key = rb_get_next_key,
};
