/* QUEUE and STACK: a ring of max_entries + 1 value slots (one always free,
 * so head == tail means empty), under one mutex as the kernel's spinlock.
 * No keys: lookup/update/delete/get_next_key are the kernel's NULL/EINVAL;
 * user space reaches push/pop/peek through UPDATE, LOOKUP_AND_DELETE and
 * LOOKUP (map.c).
 * SPDX-License-Identifier: MIT */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "map.h"

#define QUEUE_STACK_CREATE_FLAG_MASK (BPF_F_NUMA_NODE | BPFVM_F_ACCESS_MASK)
#define KMALLOC_MAX_SIZE (4u << 20)

struct qs {
	struct bpfvm_map map;
	pthread_mutex_t lock;
	uint32_t head, tail; /* push at head; the queue pops at tail */
	uint32_t size;	     /* max_entries + 1 */
	uint8_t *elems;
};

static struct qs *qs_of(struct bpfvm_map *map)
{
	return (struct qs *)map;
}

static int qs_alloc_check(const union bpf_attr *attr)
{
	/* bpf_capable(): bpfvm grants it */
	if (attr->max_entries == 0 || attr->key_size != 0 ||
	    attr->value_size == 0 ||
	    (attr->map_flags & ~QUEUE_STACK_CREATE_FLAG_MASK) ||
	    !bpfvm_map_flags_access_ok(attr->map_flags))
		return -EINVAL;
	if (attr->value_size > KMALLOC_MAX_SIZE)
		return -E2BIG;
	return 0;
}

static int qs_alloc(const union bpf_attr *attr, struct bpfvm_map **out)
{
	uint64_t size = (uint64_t)attr->max_entries + 1;
	uint64_t bytes = size * attr->value_size; /* < 2^55 */
	struct qs *q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	if (bpfvm_map_area_too_big(bytes) ||
	    !(q->elems = malloc((size_t)bytes))) {
		free(q);
		return -ENOMEM;
	}
	pthread_mutex_init(&q->lock, NULL);
	bpfvm_map_init(&q->map, attr);
	q->size = (uint32_t)size;
	*out = &q->map;
	return 0;
}

static void qs_free(struct bpfvm_map *map)
{
	struct qs *q = qs_of(map);
	pthread_mutex_destroy(&q->lock);
	free(q->elems);
	free(q);
}

static uint8_t *at(struct qs *q, uint32_t i)
{
	return q->elems + (size_t)i * q->map.value_size;
}

/* i + 1 around the ring.  As in the kernel, size is a u32: for
 * max_entries U32_MAX it wraps to 0 and the map is always full. */
static uint32_t inc(struct qs *q, uint32_t i)
{
	uint32_t n = i + 1;
	return n >= q->size ? 0 : n;
}

static int qs_push(struct bpfvm_map *map, const void *value, uint64_t flags)
{
	struct qs *q = qs_of(map);
	/* BPF_EXIST makes room by dropping the oldest element */
	if ((flags & BPF_NOEXIST) || flags > BPF_EXIST)
		return -EINVAL;
	int err = 0;
	pthread_mutex_lock(&q->lock);
	if (inc(q, q->head) == q->tail) {
		if (!(flags & BPF_EXIST)) {
			err = -E2BIG;
			goto out;
		}
		q->tail = inc(q, q->tail);
	}
	memcpy(at(q, q->head), value, map->value_size);
	q->head = inc(q, q->head);
out:
	pthread_mutex_unlock(&q->lock);
	return err;
}

/* Queue: the oldest (tail); stack: the newest (head - 1). */
static int qs_get(struct bpfvm_map *map, void *value, int stack, int delete)
{
	struct qs *q = qs_of(map);
	int err = 0;
	pthread_mutex_lock(&q->lock);
	if (q->head == q->tail) {
		memset(value, 0, map->value_size);
		err = -ENOENT;
		goto out;
	}
	uint32_t i = q->tail;
	if (stack) {
		i = q->head - 1;
		if (i >= q->size)
			i = q->size - 1;
	}
	memcpy(value, at(q, i), map->value_size);
	if (delete) {
		if (stack)
			q->head = i;
		else
			q->tail = inc(q, q->tail);
	}
out:
	pthread_mutex_unlock(&q->lock);
	return err;
}

static int queue_pop(struct bpfvm_map *m, void *v) { return qs_get(m, v, 0, 1); }
static int queue_peek(struct bpfvm_map *m, void *v) { return qs_get(m, v, 0, 0); }
static int stack_pop(struct bpfvm_map *m, void *v) { return qs_get(m, v, 1, 1); }
static int stack_peek(struct bpfvm_map *m, void *v) { return qs_get(m, v, 1, 0); }

static void *qs_lookup(struct bpfvm_map *map, const void *key, uint32_t cpu)
{
	(void)map, (void)key, (void)cpu;
	return NULL;
}

static int qs_copy_value(struct bpfvm_map *map, const void *key, void *out,
			 uint64_t flags)
{
	(void)map, (void)key, (void)out, (void)flags;
	return -EINVAL; /* map.c sends user-space lookups to peek */
}

static int qs_update(struct bpfvm_map *map, const void *key,
		     const void *value, uint64_t flags, uint32_t cpu)
{
	(void)map, (void)key, (void)value, (void)flags, (void)cpu;
	return -EINVAL;
}

static int qs_delete(struct bpfvm_map *map, const void *key)
{
	(void)map, (void)key;
	return -EINVAL;
}

static int qs_get_next_key(struct bpfvm_map *map, const void *key, void *next)
{
	(void)map, (void)key, (void)next;
	return -EINVAL;
}

#define QS_OPS(NAME, POP, PEEK)			\
	const struct bpfvm_map_ops NAME = {	\
		.alloc_check = qs_alloc_check,	\
		.alloc = qs_alloc,		\
		.free = qs_free,		\
		.lookup = qs_lookup,		\
		.copy_value = qs_copy_value,	\
		.update = qs_update,		\
		.delete = qs_delete,		\
		.get_next_key = qs_get_next_key, \
		.push = qs_push,		\
		.pop = POP,			\
		.peek = PEEK,			\
	}

QS_OPS(bpfvm_queue_ops, queue_pop, queue_peek);
QS_OPS(bpfvm_stack_ops, stack_pop, stack_peek);
