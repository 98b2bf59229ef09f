/* arena.c -- bump allocation for everything a module or registry holds, freed
   in one call (as QBE frees its pool after each function). */
#include "ir.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct block block;
struct block {
    block *next;
    size_t used, size;
    _Alignas(max_align_t) unsigned char data[];
};

struct ir_arena {
    block *head;
};

enum { BLOCK_SIZE = 64 * 1024 };

ir_arena *ir_arena_new(void)
{
    return calloc(1, sizeof(ir_arena));
}

void ir_arena_free(ir_arena *a)
{
    if (!a)
        return;
    for (block *b = a->head, *next; b; b = next) {
        next = b->next;
        free(b);
    }
    free(a);
}

void *ir_alloc(ir_arena *a, size_t size)
{
    size_t align = _Alignof(max_align_t);
    size = (size + align - 1) / align * align;
    block *b = a->head;
    if (!b || b->size - b->used < size) {
        size_t cap = size > BLOCK_SIZE ? size : BLOCK_SIZE;
        b = malloc(sizeof(block) + cap);
        if (!b)
            return NULL;
        b->used = 0;
        b->size = cap;
        b->next = a->head;
        a->head = b;
    }
    unsigned char *p = b->data + b->used;
    b->used += size;
    /* small requests zeroed inline, in steps of the alignment size is a
       multiple of: a call of memset for each was a tenth of parsing a file */
    if (size > 256)
        memset(p, 0, size);
    else
        for (size_t i = 0; i < size; i += _Alignof(max_align_t))
            memset(p + i, 0, _Alignof(max_align_t));
    return p;
}

char *ir_strndup(ir_arena *a, const char *s, size_t n)
{
    char *d = ir_alloc(a, n + 1);
    if (d)
        memcpy(d, s, n);
    return d;
}

char *ir_strdup(ir_arena *a, const char *s)
{
    return ir_strndup(a, s, strlen(s));
}

char *ir_sprintf(ir_arena *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    char *d = ir_alloc(a, (size_t)n + 1);
    if (!d)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(d, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return d;
}

int ir_vec_push(ir_arena *a, ir_vec *v, void *item)
{
    if (v->n == v->cap) {
        int cap = v->cap ? 2 * v->cap : 8;
        void **items = ir_alloc(a, (size_t)cap * sizeof(void *));
        if (!items)
            return ACT_ERR_NOMEM;
        if (v->n)
            memcpy(items, v->items, (size_t)v->n * sizeof(void *));
        v->items = items;
        v->cap = cap;
    }
    v->items[v->n++] = item;
    return 0;
}

/* Room for n more bytes and the NUL; false (oom set) when out of memory. */
static bool room_for(ir_text *t, size_t n)
{
    if (t->n + n + 1 <= t->cap)
        return true;
    size_t cap = 2 * (t->n + n + 1) + 256;
    char *bigger = realloc(t->buf, cap);
    if (!bigger) {
        t->oom = true;
        return false;
    }
    t->buf = bigger;
    t->cap = cap;
    return true;
}

/* n bytes of s appended as they are. */
static void put_n(ir_text *t, const char *s, size_t n)
{
    if (!room_for(t, n))
        return;
    memcpy(t->buf + t->n, s, n);
    t->n += n;
    t->buf[t->n] = 0;
}

static void put(ir_text *t, const char *s)
{
    put_n(t, s, strlen(s));
}

/* Whether every conversion of fmt is a plain %s. */
static bool only_strings(const char *fmt)
{
    for (const char *f = strchr(fmt, '%'); f; f = strchr(f + 2, '%'))
        if (f[1] != 's')
            return false;
    return true;
}

void ir_text_printf(ir_text *t, const char *fmt, ...)
{
    if (t->oom)
        return;
    if (only_strings(fmt)) { /* most pieces: text and %s, appended here */
        if (!room_for(t, 0)) /* a buffer and its NUL even for "", as put() made */
            return;
        t->buf[t->n] = 0;
        va_list ap;
        va_start(ap, fmt);
        for (const char *f = fmt; *f && !t->oom;) {
            size_t n = strcspn(f, "%");
            if (n) {
                put_n(t, f, n);
                f += n;
                continue;
            }
            const char *s = va_arg(ap, const char *);
            put(t, s ? s : "(null)"); /* as glibc's printf */
            f += 2;
        }
        va_end(ap);
        return;
    }
    /* into the room left, and again after growing when it did not fit:
       one vsnprintf for most pieces (printing a module for a cache key is
       a good part of a compile-cache hit) */
    size_t room = t->cap - t->n;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(room ? t->buf + t->n : NULL, room, fmt, ap);
    va_end(ap);
    if (n < 0) {
        t->oom = true;
        return;
    }
    if ((size_t)n >= room) {
        if (!room_for(t, (size_t)n))
            return;
        va_start(ap, fmt);
        vsnprintf(t->buf + t->n, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    t->n += (size_t)n;
}
