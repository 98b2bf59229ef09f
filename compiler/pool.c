/* pool.c -- the memory JIT-compiled code takes its intermediate tensors
   from: blocks freed by one run are kept (per JIT, so per context) and
   handed to the next run asking for about as much. A training step then
   touches no fresh page: with malloc, glibc gave the step's large blocks
   back to the system at every free and faulted them in again (about 900
   page faults, a fifth of the MLP step's time). Ahead-of-time code uses
   malloc and free. Blocks are 64-byte aligned; thread-safe (a POSIX mutex:
   ThreadSanitizer, as gcc 12 ships it, does not see glibc's C11 mtx_lock,
   and compiled code on several threads takes from one pool). */
#include "cc.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

enum {
    HEADER = 64,   /* keeps the block's data 64-byte aligned */
    MAX_KEPT = 64, /* blocks kept at most */
};
#define MAX_KEPT_BYTES ((size_t)1 << 30)

typedef struct block {
    size_t capacity; /* bytes after the header */
    struct block *next;
} block;

struct cc_pool {
    pthread_mutex_t lock;
    block *kept;
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
    while (p->kept) {
        block *b = p->kept;
        p->kept = b->next;
        free(b);
    }
    pthread_mutex_destroy(&p->lock);
    free(p);
}

void *cc_pool_take(cc_pool *p, int64_t bytes)
{
    size_t want = bytes > 0 ? (size_t)bytes : 1;
    pthread_mutex_lock(&p->lock);
    block **best = NULL; /* the smallest kept block that fits without wasting half */
    for (block **b = &p->kept; *b; b = &(*b)->next)
        if ((*b)->capacity >= want && (*b)->capacity / 2 <= want &&
            (!best || (*b)->capacity < (*best)->capacity))
            best = b;
    block *got = NULL;
    if (best) {
        got = *best;
        *best = got->next;
        p->nkept--;
        p->kept_bytes -= got->capacity;
    }
    pthread_mutex_unlock(&p->lock);
    if (!got) {
        size_t capacity = (want + 4095) / 4096 * 4096;
        if (!(got = aligned_alloc(HEADER, HEADER + capacity)))
            return NULL;
        got->capacity = capacity;
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
        b->next = p->kept;
        p->kept = b;
        p->nkept++;
        p->kept_bytes += b->capacity;
    }
    pthread_mutex_unlock(&p->lock);
    if (!keep)
        free(b);
}
