/* pool.c -- the memory JIT-compiled code takes its intermediate tensors
   from: blocks freed by one run are kept (per JIT, so per context) and
   handed to the next run asking for about as much. A training step then
   touches no fresh page: with malloc, glibc gave the step's large blocks
   back to the system at every free and faulted them in again (about 900
   page faults, a fifth of the MLP step's time). Ahead-of-time code uses
   malloc and free. Blocks are 64-byte aligned. Thread-safe: the chunks of
   a run split across threads take from one pool, and each thread gets back
   the blocks it gave where it can. The lock is a POSIX mutex, which
   ThreadSanitizer sees (gcc 12's does not see glibc's C11 mtx_lock). */
#include "cc.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

enum {
    HEADER = 64,    /* keeps the block's data 64-byte aligned */
    MAX_KEPT = 512, /* blocks kept at most */
};
#define MAX_KEPT_BYTES ((size_t)1 << 30)

/* The start of every block: its size, for cc_pool_give. */
typedef struct {
    size_t capacity; /* bytes after the header */
} block;

/* A kept block. The table is scanned, not the blocks: a list through the
   blocks' headers cost a cache miss per block looked at. */
typedef struct {
    block *b;
    size_t capacity;
    pthread_t owner; /* the thread that gave it back: its cache may still hold it */
} kept;

struct cc_pool {
    pthread_mutex_t lock;
    kept kept[MAX_KEPT]; /* in the order given back */
    int nkept;
    size_t kept_bytes;
};

cc_pool *cc_pool_new(void)
{
    cc_pool *p = calloc(1, sizeof *p);
    if (p && pthread_mutex_init(&p->lock, NULL)) {
        free(p);
        return NULL;
    }
    return p;
}

void cc_pool_free(cc_pool *p)
{
    if (!p)
        return;
    for (int i = 0; i < p->nkept; i++)
        free(p->kept[i].b);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

/* The kept block to hand out for want bytes, or -1: the smallest that fits
   without wasting half, the calling thread's own first, the most recently
   given of a size first (its lines are the likeliest to be in cache). */
static int best_fit(const cc_pool *p, size_t want)
{
    pthread_t self = pthread_self();
    int best = -1, own = -1;
    for (int i = p->nkept - 1; i >= 0; i--) {
        size_t c = p->kept[i].capacity;
        if (c < want || c / 2 > want)
            continue;
        if (best < 0 || c < p->kept[best].capacity)
            best = i;
        if (pthread_equal(p->kept[i].owner, self) && (own < 0 || c < p->kept[own].capacity))
            own = i;
    }
    return own >= 0 ? own : best;
}

void *cc_pool_take(cc_pool *p, int64_t bytes)
{
    /* whole pages: a block of a page then serves every small request (with
       the bytes asked for, a 4096-byte block wasted "half" of a 1 KB one and
       was never reused) */
    size_t want = ((bytes > 0 ? (size_t)bytes : 1) + 4095) / 4096 * 4096;
    pthread_mutex_lock(&p->lock);
    int i = best_fit(p, want);
    block *got = i >= 0 ? p->kept[i].b : NULL;
    if (got) {
        p->kept_bytes -= p->kept[i].capacity;
        p->nkept--;
        memmove(&p->kept[i], &p->kept[i + 1], (size_t)(p->nkept - i) * sizeof *p->kept);
    }
    pthread_mutex_unlock(&p->lock);
    if (!got) {
        if (!(got = aligned_alloc(HEADER, HEADER + want)))
            return NULL;
        got->capacity = want;
    }
    return (char *)got + HEADER;
}

void cc_pool_give(cc_pool *p, void *data)
{
    if (!data)
        return;
    block *b = (block *)((char *)data - HEADER);
    pthread_mutex_lock(&p->lock);
    bool keep = p->nkept < MAX_KEPT && p->kept_bytes + b->capacity <= MAX_KEPT_BYTES;
    if (keep) {
        p->kept[p->nkept++] = (kept){b, b->capacity, pthread_self()};
        p->kept_bytes += b->capacity;
    }
    pthread_mutex_unlock(&p->lock);
    if (!keep)
        free(b);
}
