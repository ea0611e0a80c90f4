/* The registry of bpf(2) objects and descriptors (see fdtable.h).  The only
 * process-wide mutable state of bpfvm, because bpf(2) descriptors are per
 * process: one rwlock serialises the writers of the descriptor slots and
 * guards the id spaces.  Descriptor lookups (every map command) take no
 * lock: a slot is a seqcount-protected record, and objects are never given
 * back to malloc (recycled as objects only), so a reader that raced with a
 * close can still try a reference on what it read and see the slot moved.
 * SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "fdtable.h"
#include "map.h"

/* Written under the write lock, read without it (every field atomic). */
struct slot {
	uint32_t seq;          /* odd while being written */
	uint32_t fmode;
	struct bpfvm_obj *obj; /* NULL: not ours */
	uint64_t dev, ino;
	uint64_t cookie; /* the file's offset: ours, and no other file's */
};

/* Slots in chunks that never move or go: descriptors below 2^20 (the
 * default nr_open). */
#define CHUNK_BITS 10
#define CHUNK (1u << CHUNK_BITS)
#define NCHUNKS 1024u

/* Every file we make is given an offset no other file of the process is
 * likely to sit at: one lseek (the cheapest system call there is) then
 * tells whether a descriptor still is that file.  Dups share the offset. */
#define COOKIE_BASE (1ull << 60)

/* One id space: live objects in id order (ids only grow, as the kernel's
 * cyclic idr until it wraps at INT_MAX, which we do not reach). */
struct ids {
	struct bpfvm_obj **v;
	size_t n, cap;
	uint32_t next;
};

/* An object whose last reference went while programs may still run with
 * it (a tail call's target, an inner map): freed once its epoch is safe. */
struct deferred {
	struct bpfvm_obj *o;
	uint64_t tag;
};

static struct {
	pthread_rwlock_t lock;
	struct slot *chunks[NCHUNKS]; /* atomic */
	struct ids ids[4]; /* by kind */
	struct bpfvm_obj *free_objs; /* under dlock, linked through priv */
	int check;         /* atomic: bpfvm_fd_set_check */
	uint64_t cookies;  /* cookies given so far */
	/* the kernel's RCU for everything bpf(2) made: runs enter it */
	pthread_once_t once;
	struct bpfvm_epoch *epoch;
	pthread_mutex_t dlock;
	struct deferred *dq;
	size_t ndq, capdq;
} reg = { .lock = PTHREAD_RWLOCK_INITIALIZER, .once = PTHREAD_ONCE_INIT,
	  .dlock = PTHREAD_MUTEX_INITIALIZER };

static void epoch_init(void)
{
	reg.epoch = bpfvm_epoch_new(); /* NULL: objects go at once */
}

struct bpfvm_epoch *bpfvm_obj_epoch(void)
{
	pthread_once(&reg.once, epoch_init);
	return reg.epoch;
}

static void destroy(struct bpfvm_obj *o)
{
	if (o->release)
		o->release(o);
	/* a lock-free reader may still try a reference on it: keep it an
	 * object (refcnt 0) */
	pthread_mutex_lock(&reg.dlock);
	o->priv = reg.free_objs;
	reg.free_objs = o;
	pthread_mutex_unlock(&reg.dlock);
}

struct bpfvm_obj *bpfvm_obj_new(uint32_t kind,
				void (*release)(struct bpfvm_obj *),
				void (*user_gone)(struct bpfvm_obj *))
{
	pthread_mutex_lock(&reg.dlock);
	struct bpfvm_obj *o = reg.free_objs;
	if (o)
		reg.free_objs = o->priv;
	pthread_mutex_unlock(&reg.dlock);
	if (!o && !(o = calloc(1, sizeof(*o))))
		return NULL;
	o->kind = kind;
	o->id = 0;
	__atomic_store_n(&o->usercnt, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&o->frozen, 0, __ATOMIC_RELAXED);
	o->ptr = o->priv = NULL;
	o->release = release;
	o->user_gone = user_gone;
	__atomic_store_n(&o->refcnt, 1, __ATOMIC_RELEASE);
	return o;
}

/* Free what no run can hold any more.  Releases happen outside the lock:
 * they put other objects (a map's slots, a program's maps). */
static void drain(void)
{
	struct bpfvm_epoch *d = bpfvm_obj_epoch();
	struct bpfvm_obj *done[32];
	size_t n;
	do {
		n = 0;
		pthread_mutex_lock(&reg.dlock);
		for (size_t i = 0; i < reg.ndq && n < 32;)
			if (bpfvm_epoch_safe(d, reg.dq[i].tag)) {
				done[n++] = reg.dq[i].o;
				reg.dq[i] = reg.dq[--reg.ndq];
			} else {
				i++;
			}
		pthread_mutex_unlock(&reg.dlock);
		for (size_t i = 0; i < n; i++)
			destroy(done[i]);
	} while (n == 32);
}

/* Free o once no run that may have seen it is left. */
static void retire(struct bpfvm_obj *o)
{
	struct bpfvm_epoch *d = bpfvm_obj_epoch();
	int queued = 0;
	if (d) {
		pthread_mutex_lock(&reg.dlock);
		if (reg.ndq == reg.capdq) {
			size_t cap = reg.capdq ? 2 * reg.capdq : 16;
			void *v = realloc(reg.dq, cap * sizeof(*reg.dq));
			if (v) {
				reg.dq = v;
				reg.capdq = cap;
			}
		}
		if (reg.ndq < reg.capdq) {
			reg.dq[reg.ndq++] = (struct deferred){
				o, bpfvm_epoch_retire(d) };
			queued = 1;
		}
		pthread_mutex_unlock(&reg.dlock);
	}
	if (queued)
		drain();
	else
		destroy(o); /* no memory to wait: the old behaviour */
}

void bpfvm_fd_set_check(int on)
{
	__atomic_store_n(&reg.check, !!on, __ATOMIC_RELAXED);
}

/* ---- objects -------------------------------------------------------------- */

int bpfvm_obj_register(struct bpfvm_obj *o)
{
	struct ids *s = &reg.ids[o->kind];
	int err = 0;
	pthread_rwlock_wrlock(&reg.lock);
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 16;
		void *v = realloc(s->v, cap * sizeof(*s->v));
		if (!v) {
			err = -ENOMEM;
			goto out;
		}
		s->v = v;
		s->cap = cap;
	}
	o->id = ++s->next;
	s->v[s->n++] = o;
out:
	pthread_rwlock_unlock(&reg.lock);
	return err;
}

void bpfvm_obj_get(struct bpfvm_obj *o)
{
	__atomic_add_fetch(&o->refcnt, 1, __ATOMIC_RELAXED);
}

/* A reference unless the object is already dying. */
static int get_not_zero(struct bpfvm_obj *o)
{
	uint32_t c = __atomic_load_n(&o->refcnt, __ATOMIC_RELAXED);
	while (c)
		if (__atomic_compare_exchange_n(&o->refcnt, &c, c + 1, 0,
						__ATOMIC_ACQUIRE,
						__ATOMIC_RELAXED))
			return 1;
	return 0;
}

/* Index of id in s, or where it would go. */
static size_t id_pos(const struct ids *s, uint32_t id)
{
	size_t lo = 0, hi = s->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (s->v[mid]->id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

void bpfvm_obj_put(struct bpfvm_obj *o)
{
	if (!o || __atomic_sub_fetch(&o->refcnt, 1, __ATOMIC_ACQ_REL))
		return;
	if (o->id) {
		struct ids *s = &reg.ids[o->kind];
		pthread_rwlock_wrlock(&reg.lock);
		size_t i = id_pos(s, o->id);
		if (i < s->n && s->v[i] == o) {
			memmove(s->v + i, s->v + i + 1,
				(s->n - i - 1) * sizeof(*s->v));
			s->n--;
		}
		pthread_rwlock_unlock(&reg.lock);
	}
	retire(o);
}

struct bpfvm_obj *bpfvm_obj_by_ptr(const void *p)
{
	struct bpfvm_obj *found = NULL;
	pthread_rwlock_rdlock(&reg.lock);
	for (int k = BPFVM_OBJ_MAP; k <= BPFVM_OBJ_PROG && !found; k++)
		for (size_t i = 0; i < reg.ids[k].n; i++)
			if (reg.ids[k].v[i]->ptr == p) {
				if (get_not_zero(reg.ids[k].v[i]))
					found = reg.ids[k].v[i];
				break;
			}
	pthread_rwlock_unlock(&reg.lock);
	return found;
}

struct bpfvm_obj *bpfvm_obj_by_id(uint32_t kind, uint32_t id)
{
	struct bpfvm_obj *found = NULL;
	struct ids *s = &reg.ids[kind];
	pthread_rwlock_rdlock(&reg.lock);
	size_t i = id_pos(s, id);
	if (i < s->n && s->v[i]->id == id && get_not_zero(s->v[i]))
		found = s->v[i];
	pthread_rwlock_unlock(&reg.lock);
	return found;
}

int bpfvm_obj_next_id(uint32_t kind, uint32_t start, uint32_t *next)
{
	struct ids *s = &reg.ids[kind];
	int err = -ENOENT;
	pthread_rwlock_rdlock(&reg.lock);
	/* the kernel's idr_get_next also finds objects about to go */
	size_t i = id_pos(s, start + 1);
	if (i < s->n) {
		*next = s->v[i]->id;
		err = 0;
	}
	pthread_rwlock_unlock(&reg.lock);
	return err;
}

/* ---- descriptors ---------------------------------------------------------- */

/* The references a slot held. */
static void slot_release(struct bpfvm_obj *o)
{
	if (!o)
		return;
	if (__atomic_sub_fetch(&o->usercnt, 1, __ATOMIC_ACQ_REL) == 0 &&
	    o->user_gone)
		o->user_gone(o);
	bpfvm_obj_put(o);
}

/* The slot of fd, or NULL (no lock: chunks never go). */
static struct slot *slot_of(int fd)
{
	if (fd < 0 || (unsigned)fd >= NCHUNKS * CHUNK)
		return NULL;
	struct slot *c = __atomic_load_n(&reg.chunks[fd >> CHUNK_BITS],
					 __ATOMIC_ACQUIRE);
	return c ? &c[fd & (CHUNK - 1)] : NULL;
}

/* Under the write lock: the slot of fd, made if need be (NULL: no
 * memory, or fd past the table). */
static struct slot *slot_make(int fd)
{
	struct slot *sl = slot_of(fd);
	if (sl || fd < 0 || (unsigned)fd >= NCHUNKS * CHUNK)
		return sl;
	struct slot *c = calloc(CHUNK, sizeof(*c));
	if (!c)
		return NULL;
	__atomic_store_n(&reg.chunks[fd >> CHUNK_BITS], c, __ATOMIC_RELEASE);
	return &c[fd & (CHUNK - 1)];
}

/* Under the write lock: publish a record (the seqcount's write side). */
static void slot_write(struct slot *sl, const struct slot *v)
{
	/* release stores, acquire loads (no fences: TSan follows these):
	 * a reader that sees any new field sees the odd count after it */
	uint32_t q = __atomic_load_n(&sl->seq, __ATOMIC_RELAXED);
	__atomic_store_n(&sl->seq, q + 1, __ATOMIC_RELAXED);
	__atomic_store_n(&sl->obj, v->obj, __ATOMIC_RELEASE);
	__atomic_store_n(&sl->fmode, v->fmode, __ATOMIC_RELEASE);
	__atomic_store_n(&sl->dev, v->dev, __ATOMIC_RELEASE);
	__atomic_store_n(&sl->ino, v->ino, __ATOMIC_RELEASE);
	__atomic_store_n(&sl->cookie, v->cookie, __ATOMIC_RELEASE);
	__atomic_store_n(&sl->seq, q + 2, __ATOMIC_RELEASE);
}

/* A consistent copy of *sl, or -EAGAIN (being written). */
static int slot_read(struct slot *sl, struct slot *out)
{
	uint32_t q = __atomic_load_n(&sl->seq, __ATOMIC_ACQUIRE);
	if (q & 1)
		return -EAGAIN;
	out->obj = __atomic_load_n(&sl->obj, __ATOMIC_ACQUIRE);
	out->fmode = __atomic_load_n(&sl->fmode, __ATOMIC_ACQUIRE);
	out->dev = __atomic_load_n(&sl->dev, __ATOMIC_ACQUIRE);
	out->ino = __atomic_load_n(&sl->ino, __ATOMIC_ACQUIRE);
	out->cookie = __atomic_load_n(&sl->cookie, __ATOMIC_ACQUIRE);
	out->seq = q;
	return __atomic_load_n(&sl->seq, __ATOMIC_RELAXED) == q ? 0 : -EAGAIN;
}

/* Under the write lock: the slot's object, and the slot emptied. */
static struct bpfvm_obj *slot_clear(struct slot *sl)
{
	struct bpfvm_obj *o = __atomic_load_n(&sl->obj, __ATOMIC_RELAXED);
	if (o)
		slot_write(sl, &(struct slot){ 0 });
	return o;
}

int bpfvm_fd_install(struct bpfvm_obj *o, uint32_t fmode, int dupfrom)
{
	int fd = dupfrom >= 0 ? fcntl(dupfrom, F_DUPFD_CLOEXEC, 0)
		 : memfd_create(o->kind == BPFVM_OBJ_MAP ? "bpf-map" : "bpf-prog",
				MFD_CLOEXEC);
	struct stat st;
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		int err = -errno;
		close(fd);
		return err;
	}
	struct bpfvm_obj *stale = NULL;
	pthread_rwlock_wrlock(&reg.lock);
	/* a dup keeps the cookie its file has (under the lock: one file) */
	off_t cookie = lseek(fd, 0, SEEK_CUR);
	if (cookie < (off_t)COOKIE_BASE)
		cookie = lseek(fd, (off_t)(COOKIE_BASE + ++reg.cookies), SEEK_SET);
	struct slot *sl = cookie < 0 ? NULL : slot_make(fd);
	if (!sl) {
		pthread_rwlock_unlock(&reg.lock);
		close(fd);
		return cookie < 0 ? -EMFILE : -ENOMEM;
	}
	/* a descriptor closed with plain close() whose number came back */
	stale = slot_clear(sl);
	bpfvm_obj_get(o);
	__atomic_add_fetch(&o->usercnt, 1, __ATOMIC_RELAXED);
	slot_write(sl, &(struct slot){ 0, fmode, o, st.st_dev, st.st_ino,
				       (uint64_t)cookie });
	pthread_rwlock_unlock(&reg.lock);
	slot_release(stale);
	return fd;
}

/* Forget slot fd if it still holds o (a descriptor found stale). */
static void drop_stale(int fd, struct bpfvm_obj *o)
{
	struct bpfvm_obj *stale = NULL;
	pthread_rwlock_wrlock(&reg.lock);
	struct slot *sl = slot_of(fd);
	if (sl && __atomic_load_n(&sl->obj, __ATOMIC_RELAXED) == o)
		stale = slot_clear(sl);
	pthread_rwlock_unlock(&reg.lock);
	slot_release(stale);
}

/* fd is not in the table: a dup (dup(2), F_DUPFD, SCM_RIGHTS) of one of
 * our descriptors names the same object with the same rights, as the
 * kernel's shared file; it gets a slot of its own.  Else EBADF or EINVAL.
 * On success *s is the slot, with a reference for the caller. */
static struct bpfvm_obj *adopt(int fd, struct slot *s, int *err)
{
	struct stat st;
	if (fstat(fd, &st) < 0) {
		*err = -EBADF;
		return NULL;
	}
	*err = -EINVAL;
	struct bpfvm_obj *stale = NULL;
	pthread_rwlock_wrlock(&reg.lock);
	for (unsigned i = 0; i < NCHUNKS * CHUNK && *err == -EINVAL; i++) {
		struct slot *o = slot_of((int)i);
		if (!o) {
			i |= CHUNK - 1; /* a chunk never made */
			continue;
		}
		if (!o->obj || o->dev != (uint64_t)st.st_dev ||
		    o->ino != (uint64_t)st.st_ino)
			continue;
		*s = *o;
		struct slot *sl = slot_make(fd);
		if (!sl) {
			*err = -ENOMEM;
			break;
		}
		stale = slot_clear(sl); /* raced with another adopt */
		slot_write(sl, s);
		bpfvm_obj_get(s->obj); /* the new slot's */
		__atomic_add_fetch(&s->obj->usercnt, 1, __ATOMIC_RELAXED);
		bpfvm_obj_get(s->obj); /* the caller's */
		*err = 0;
	}
	pthread_rwlock_unlock(&reg.lock);
	slot_release(stale);
	return *err ? NULL : s->obj;
}

/* Every call's path: the object and rights of a slot that holds one of
 * kind, with a reference, when descriptors are not checked (NULL: take
 * the slow path). */
static struct bpfvm_obj *fd_get_fast(struct slot *sl, uint32_t kind,
				     uint32_t *fmode)
{
	uint32_t q = __atomic_load_n(&sl->seq, __ATOMIC_ACQUIRE);
	struct bpfvm_obj *o = __atomic_load_n(&sl->obj, __ATOMIC_ACQUIRE);
	uint32_t fm = __atomic_load_n(&sl->fmode, __ATOMIC_ACQUIRE);
	if ((q & 1) || !o || !get_not_zero(o))
		return NULL;
	/* the CAS orders this load after the ones above */
	if (__atomic_load_n(&sl->seq, __ATOMIC_RELAXED) != q ||
	    (kind && o->kind != kind)) {
		bpfvm_obj_put(o);
		return NULL;
	}
	if (fmode)
		*fmode = fm;
	return o;
}

static __attribute__((noinline)) struct bpfvm_obj *
fd_get_slow(int fd, uint32_t kind, uint32_t *fmode, int *err)
{
	struct slot s = { 0 };
	if (fd < 0) {
		*err = -EBADF;
		return NULL;
	}
	struct slot *sl = slot_of(fd);
	while (sl) {
		if (slot_read(sl, &s))
			continue; /* a writer is in it */
		if (!s.obj)
			break;
		/* the slot held it a moment ago; if it is still the slot's
		 * once we hold it, it is ours (else: a close raced us) */
		if (get_not_zero(s.obj)) {
			if (__atomic_load_n(&sl->seq, __ATOMIC_ACQUIRE) == s.seq)
				break;
			bpfvm_obj_put(s.obj);
		}
	}
	if (!s.obj) {
		/* the kernel: EBADF if closed, EINVAL for any other file, but
		 * a dup of one of ours is ours */
		s.obj = adopt(fd, &s, err);
		if (!s.obj)
			return NULL;
	}
	if (__atomic_load_n(&reg.check, __ATOMIC_RELAXED)) {
		off_t off = lseek(fd, 0, SEEK_CUR);
		int bad = 0;
		if (off < 0 && errno == EBADF)
			bad = -EBADF;
		else if (off < 0 || (uint64_t)off != s.cookie)
			bad = -EINVAL; /* another file (a pipe: ESPIPE) */
		if (bad) {
			drop_stale(fd, s.obj);
			bpfvm_obj_put(s.obj);
			*err = bad;
			return NULL;
		}
	}
	if (kind && s.obj->kind != kind) {
		bpfvm_obj_put(s.obj);
		*err = -EINVAL;
		return NULL;
	}
	if (fmode)
		*fmode = s.fmode;
	return s.obj;
}

struct bpfvm_obj *bpfvm_fd_get(int fd, uint32_t kind, uint32_t *fmode,
			       int *err)
{
	struct slot *sl = slot_of(fd);
	struct bpfvm_obj *o = NULL;
	if (sl && !__atomic_load_n(&reg.check, __ATOMIC_RELAXED))
		o = fd_get_fast(sl, kind, fmode);
	return o ? o : fd_get_slow(fd, kind, fmode, err);
}

int bpfvm_fd_close(int fd)
{
	struct bpfvm_obj *o = NULL;
	if (fd >= 0) {
		pthread_rwlock_wrlock(&reg.lock);
		struct slot *sl = slot_of(fd);
		if (sl)
			o = slot_clear(sl);
		pthread_rwlock_unlock(&reg.lock);
	}
	/* the slot goes first: once closed, the number may come back */
	int r = close(fd);
	int e = errno;
	slot_release(o);
	errno = e;
	return r;
}
