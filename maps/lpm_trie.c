/* LPM_TRIE: longest-prefix match over keys { u32 prefixlen; u8 data[] }
 * (data big-endian bit order, as IP addresses), the kernel's path-compressed
 * binary trie.  Nodes either hold an element or are intermediate
 * (exactly two children, no value).  GET_NEXT_KEY walks post-order, so more
 * specific prefixes come before the prefixes that contain them, exactly as
 * the kernel does.
 *
 * Locking: one rwlock (lookups share it).  Memory as hash.c's: removed
 * nodes go to a FIFO free list, are reused only once 64 others wait
 * behind them (or, with an epoch domain, once no run can hold them), and
 * go back to malloc only when the map is freed, so a value a program holds
 * stays mapped.
 * SPDX-License-Identifier: MIT */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "map.h"

#define LPM_DATA_SIZE_MAX 256u
#define LPM_DATA_SIZE_MIN 1u
#define KMALLOC_MAX_SIZE (4u << 20)
#define KERNEL_NODE_SIZE 24u /* sizeof(struct lpm_trie_node) in 6.18 */
#define LPM_VAL_SIZE_MAX (KMALLOC_MAX_SIZE - LPM_DATA_SIZE_MAX - KERNEL_NODE_SIZE)
#define LPM_KEY_SIZE_MIN (4u + LPM_DATA_SIZE_MIN)
#define LPM_KEY_SIZE_MAX (4u + LPM_DATA_SIZE_MAX)
#define LPM_CREATE_FLAG_MASK (BPF_F_NO_PREALLOC | BPF_F_NUMA_NODE | \
			      BPFVM_F_ACCESS_MASK)

struct node {
	struct node *child[2]; /* child[0] doubles as the free-list link */
	uint32_t prefixlen;
	uint8_t im; /* intermediate: no value */
	uint64_t tag; /* freed: the epoch it was retired in (with epochs) */
	uint64_t data[]; /* data_size bytes (round_up 8), then the value */
};

struct trie {
	struct bpfvm_map map;
	pthread_rwlock_t lock;
	struct node *root;
	uint32_t data_size, max_prefixlen, n_entries;
	size_t value_off, node_size;
	struct node *free_head, *free_tail;
	size_t nfree, quarantine; /* as hash.c: freed nodes wait before reuse */
};

static struct trie *trie_of(struct bpfvm_map *map)
{
	return (struct trie *)map;
}

static uint8_t *ndata(struct node *n)
{
	return (uint8_t *)n->data;
}

static uint8_t *nvalue(struct trie *t, struct node *n)
{
	return (uint8_t *)n->data + t->value_off;
}

static uint32_t key_prefixlen(const void *key)
{
	uint32_t p;
	memcpy(&p, key, 4);
	return p;
}

static const uint8_t *key_data(const void *key)
{
	return (const uint8_t *)key + 4;
}

/* Bit i of data, most significant bit of byte 0 first. */
static unsigned bit(const uint8_t *data, uint32_t i)
{
	return (data[i / 8] >> (7 - i % 8)) & 1;
}

/* Leading bits node and key share, at most both prefix lengths. */
static uint32_t match_len(struct trie *t, struct node *n, const void *key)
{
	uint32_t limit = n->prefixlen < key_prefixlen(key) ? n->prefixlen
							    : key_prefixlen(key);
	const uint8_t *k = key_data(key), *d = ndata(n);
	uint32_t len = 0;
	for (uint32_t i = 0; i < t->data_size && len < limit; i++) {
		uint8_t x = d[i] ^ k[i];
		if (x) {
			len += (uint32_t)__builtin_clz(x) - 24;
			break;
		}
		len += 8;
	}
	return len < limit ? len : limit;
}

static int trie_alloc(const union bpf_attr *attr, struct bpfvm_map **out)
{
	if (attr->max_entries == 0 ||
	    !(attr->map_flags & BPF_F_NO_PREALLOC) ||
	    (attr->map_flags & ~LPM_CREATE_FLAG_MASK) ||
	    !bpfvm_map_flags_access_ok(attr->map_flags) ||
	    attr->key_size < LPM_KEY_SIZE_MIN ||
	    attr->key_size > LPM_KEY_SIZE_MAX ||
	    attr->value_size < 1 || attr->value_size > LPM_VAL_SIZE_MAX)
		return -EINVAL;
	struct trie *t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	bpfvm_map_init(&t->map, attr);
	t->data_size = attr->key_size - 4;
	t->max_prefixlen = t->data_size * 8;
	t->value_off = bpfvm_round8(t->data_size);
	t->node_size = sizeof(struct node) + t->value_off +
		       bpfvm_round8(attr->value_size);
	t->quarantine = ((size_t)1 << 20) / t->node_size;
	if (t->quarantine > 64)
		t->quarantine = 64;
	pthread_rwlockattr_t la;
	pthread_rwlockattr_init(&la);
	pthread_rwlockattr_setkind_np(&la,
		PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&t->lock, &la);
	pthread_rwlockattr_destroy(&la);
	*out = &t->map;
	return 0;
}

static void free_tree(struct node *n)
{
	while (n) {
		free_tree(n->child[0]); /* depth <= max_prefixlen + 1 */
		struct node *next = n->child[1];
		free(n);
		n = next;
	}
}

static void trie_free(struct bpfvm_map *map)
{
	struct trie *t = trie_of(map);
	free_tree(t->root);
	for (struct node *n = t->free_head, *next; n; n = next) {
		next = n->child[0];
		free(n);
	}
	pthread_rwlock_destroy(&t->lock);
	free(t);
}

static struct node *free_pop(struct trie *t)
{
	struct node *n = t->free_head;
	if (n) {
		t->free_head = n->child[0];
		if (!t->free_head)
			t->free_tail = NULL;
		t->nfree--;
	}
	return n;
}

/* A freed node is reused once no program run can hold it (epochs), or
 * else once `quarantine` others wait behind it. */
static struct node *node_get(struct trie *t)
{
	if (t->map.epoch) {
		if (t->free_head && bpfvm_epoch_safe(t->map.epoch, t->free_head->tag))
			return free_pop(t);
		return malloc(t->node_size);
	}
	if (t->nfree > t->quarantine)
		return free_pop(t);
	struct node *n = malloc(t->node_size);
	return n ? n : free_pop(t);
}

static void node_put(struct trie *t, struct node *n)
{
	if (!n)
		return;
	n->child[0] = n->child[1] = NULL;
	if (t->map.epoch)
		n->tag = bpfvm_epoch_retire(t->map.epoch);
	if (t->free_tail)
		t->free_tail->child[0] = n;
	else
		t->free_head = n;
	t->free_tail = n;
	t->nfree++;
}

/* The node holding the longest prefix of key, or NULL. */
static struct node *longest(struct trie *t, const void *key)
{
	struct node *found = NULL;
	if (key_prefixlen(key) > t->max_prefixlen)
		return NULL;
	for (struct node *n = t->root; n;) {
		uint32_t m = match_len(t, n, key);
		if (m == t->max_prefixlen) {
			found = n; /* a full-length match is never intermediate */
			break;
		}
		if (m < n->prefixlen)
			break;
		if (!n->im)
			found = n;
		n = n->child[bit(key_data(key), n->prefixlen)];
	}
	return found;
}

static void *trie_lookup(struct bpfvm_map *map, const void *key, uint32_t cpu)
{
	struct trie *t = trie_of(map);
	(void)cpu;
	pthread_rwlock_rdlock(&t->lock);
	struct node *n = longest(t, key);
	pthread_rwlock_unlock(&t->lock);
	return n ? nvalue(t, n) : NULL;
}

static int trie_copy_value(struct bpfvm_map *map, const void *key, void *out,
			   uint64_t flags)
{
	struct trie *t = trie_of(map);
	(void)flags;
	pthread_rwlock_rdlock(&t->lock);
	struct node *n = longest(t, key);
	if (n)
		memcpy(out, nvalue(t, n), map->value_size);
	pthread_rwlock_unlock(&t->lock);
	return n ? 0 : -ENOENT;
}

/* A new element: BPF_EXIST wants an old one; the map may be full. */
static int check_add(struct trie *t, uint64_t flags)
{
	if (flags == BPF_EXIST)
		return -ENOENT;
	if (t->n_entries == t->map.max_entries)
		return -ENOSPC;
	t->n_entries++;
	return 0;
}

static int update_locked(struct trie *t, struct node *nn, const void *key,
			 uint64_t flags, struct node **freed)
{
	struct node **slot = &t->root, *n;
	uint32_t m = 0, plen = key_prefixlen(key);
	int err;

	while ((n = *slot)) {
		m = match_len(t, n, key);
		if (n->prefixlen != m || n->prefixlen == plen)
			break;
		slot = &n->child[bit(key_data(key), n->prefixlen)];
	}
	if (!n) { /* an empty slot */
		if ((err = check_add(t, flags)))
			return err;
		*slot = nn;
		return 0;
	}
	if (n->prefixlen == m) { /* same prefix: replace the node */
		if (!n->im && flags == BPF_NOEXIST)
			return -EEXIST;
		if (n->im && (err = check_add(t, flags)))
			return err;
		nn->child[0] = n->child[0];
		nn->child[1] = n->child[1];
		*slot = nn;
		*freed = n;
		return 0;
	}
	if ((err = check_add(t, flags)))
		return err;
	if (m == plen) { /* the new prefix contains n: insert above it */
		nn->child[bit(ndata(n), m)] = n;
		*slot = nn;
		return 0;
	}
	/* they part at bit m: an intermediate node holds both */
	struct node *im = node_get(t);
	if (!im) {
		t->n_entries--;
		return -ENOMEM;
	}
	im->prefixlen = m;
	im->im = 1;
	memcpy(ndata(im), ndata(n), t->data_size);
	unsigned b = bit(key_data(key), m);
	im->child[b] = nn;
	im->child[!b] = n;
	*slot = im;
	return 0;
}

static int trie_update(struct bpfvm_map *map, const void *key,
		       const void *value, uint64_t flags, uint32_t cpu)
{
	struct trie *t = trie_of(map);
	(void)cpu;
	if (flags > BPF_EXIST)
		return -EINVAL;
	if (key_prefixlen(key) > t->max_prefixlen)
		return -EINVAL;
	pthread_rwlock_wrlock(&t->lock);
	struct node *nn = node_get(t), *freed = NULL;
	int err = -ENOMEM;
	if (nn) {
		/* filled before it is linked: readers see all of it or none */
		nn->child[0] = nn->child[1] = NULL;
		nn->prefixlen = key_prefixlen(key);
		nn->im = 0;
		memcpy(ndata(nn), key_data(key), t->data_size);
		memcpy(nvalue(t, nn), value, map->value_size);
		err = update_locked(t, nn, key, flags, &freed);
		if (err)
			node_put(t, nn);
		node_put(t, freed);
	}
	pthread_rwlock_unlock(&t->lock);
	return err;
}

static int trie_delete(struct bpfvm_map *map, const void *key)
{
	struct trie *t = trie_of(map);
	uint32_t plen = key_prefixlen(key), m = 0;
	if (plen > t->max_prefixlen)
		return -EINVAL;
	pthread_rwlock_wrlock(&t->lock);
	struct node **trim = &t->root, **trim2 = trim, *parent = NULL, *n;
	int err = 0;
	while ((n = *trim)) {
		m = match_len(t, n, key);
		if (n->prefixlen != m || n->prefixlen == plen)
			break;
		parent = n;
		trim2 = trim;
		trim = &n->child[bit(key_data(key), n->prefixlen)];
	}
	if (!n || n->prefixlen != plen || n->prefixlen != m || n->im) {
		err = -ENOENT;
		goto out;
	}
	t->n_entries--;
	if (n->child[0] && n->child[1]) {
		n->im = 1; /* still needed as a fork */
		goto out;
	}
	if (parent && parent->im && !n->child[0] && !n->child[1]) {
		/* the fork above goes too: its other child moves up */
		*trim2 = parent->child[parent->child[0] == n];
		node_put(t, parent);
		node_put(t, n);
		goto out;
	}
	*trim = n->child[0] ? n->child[0] : n->child[1];
	node_put(t, n);
out:
	pthread_rwlock_unlock(&t->lock);
	return err;
}

/* Post-order successor of key; a missing or invalid key restarts from the
 * leftmost element. */
static int trie_get_next_key(struct bpfvm_map *map, const void *key,
			     void *next)
{
	struct trie *t = trie_of(map);
	struct node *n, *found = NULL, *root, **stack = NULL;
	int sp = -1, err = 0;

	pthread_rwlock_rdlock(&t->lock);
	root = t->root;
	if (!root) {
		err = -ENOENT;
		goto out;
	}
	if (!key || key_prefixlen(key) > t->max_prefixlen)
		goto leftmost;
	/* the path from the root: at most one node per prefix length */
	stack = malloc((t->max_prefixlen + 1) * sizeof(*stack));
	if (!stack) {
		err = -ENOMEM;
		goto out;
	}
	uint32_t m = 0;
	for (n = root; n;) {
		stack[++sp] = n;
		m = match_len(t, n, key);
		if (n->prefixlen != m || n->prefixlen == key_prefixlen(key))
			break;
		n = n->child[bit(key_data(key), n->prefixlen)];
	}
	if (!n || n->prefixlen != m || n->im)
		goto leftmost;
	n = stack[sp];
	for (; sp > 0; sp--) {
		struct node *p = stack[sp - 1];
		if (p->child[0] == n && p->child[1]) {
			root = p->child[1];
			goto leftmost;
		}
		if (!p->im) {
			found = p;
			goto copy;
		}
		n = p;
	}
	err = -ENOENT;
	goto out;
leftmost:
	/* intermediate nodes have two children: this ends on an element */
	for (n = root; n;) {
		if (!n->im)
			found = n;
		struct node *c = n->child[0];
		n = (!c && !n->im) ? n->child[1] : c;
	}
copy:
	{
		uint32_t plen = found->prefixlen;
		memcpy(next, &plen, 4);
		memcpy((uint8_t *)next + 4, ndata(found), t->data_size);
	}
out:
	pthread_rwlock_unlock(&t->lock);
	free(stack);
	return err;
}

const struct bpfvm_map_ops bpfvm_lpm_trie_ops = {
	.alloc = trie_alloc,
	.free = trie_free,
	.lookup = trie_lookup,
	.copy_value = trie_copy_value,
	.update = trie_update,
	.delete = trie_delete,
	.get_next_key = trie_get_next_key,
	/* the kernel's generic batches; no LOOKUP_AND_DELETE */
	.lookup_batch = bpfvm_generic_lookup_batch,
	.update_batch = bpfvm_generic_update_batch,
	.delete_batch = bpfvm_generic_delete_batch,
};
