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
    void *p = b->data + b->used;
    b->used += size;
    memset(p, 0, size);
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

/* s appended as it is. */
static void put(ir_text *t, const char *s)
{
    size_t n = strlen(s);
    if (!room_for(t, n))
        return;
    memcpy(t->buf + t->n, s, n + 1);
    t->n += n;
}

void ir_text_printf(ir_text *t, const char *fmt, ...)
{
    if (t->oom)
        return;
    if (!strchr(fmt, '%') || !strcmp(fmt, "%s")) { /* most pieces: no formatting */
        va_list ap;
        va_start(ap, fmt);
        const char *s = fmt[0] == '%' ? va_arg(ap, const char *) : fmt;
        put(t, s ? s : "(null)"); /* as glibc's printf */
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
