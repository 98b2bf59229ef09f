/* jit_run.c -- running compiled entry points: the mode a run needs, its
   buffers sized from the bound sizes, and the call through libffi with the
   entry's typed signature (float pointers, int64 sizes). */
#define _DEFAULT_SOURCE /* madvise */
#include "rt.h"

#include <ffi.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
enum { POPULATE_BYTES = 256 * 1024 };

/* The call interface of an entry: prepared once per program and mode, as
   libffi wants (ffi_prep_cif, then ffi_call any number of times). */
typedef struct {
    ffi_cif cif;
    ffi_type **types;
} call_if;

static call_if *make_cif(const cc_entry *e)
{
    call_if *c = calloc(1, sizeof *c);
    if (!c || !(c->types = calloc((size_t)e->nargs + 1, sizeof *c->types))) {
        free(c);
        return NULL;
    }
    for (int a = 0; a < e->nargs; a++)
        c->types[a] = e->args[a].kind == CC_ARG_SIZE ? &ffi_type_sint64 : &ffi_type_pointer;
    if (ffi_prep_cif(&c->cif, FFI_DEFAULT_ABI, (unsigned)e->nargs, &ffi_type_void, c->types) !=
        FFI_OK) {
        free(c->types);
        free(c);
        return NULL;
    }
    return c;
}

int rt_jit_prepare(act_program *p, cc_mode mode, act_error *err)
{
    if (p->entry[mode])
        return 0;
    if (!p->mod_text && !(p->mod_text = ir_print(p->mod)))
        return act_error_set(err, NULL, ACT_ERR_NOMEM, "out of memory");
    const cc_entry *e = cc_compile(p->ctx->cache, p->mod_text, p->g, mode, NULL, err);
    if (!e)
        return err && err->code ? err->code : ACT_ERR_UNSUPPORTED;
    if (!(p->cif[mode] = make_cif(e)))
        return act_error_set(err, NULL, ACT_ERR_NOMEM, "out of memory");
    p->entry[mode] = e;
    return 0;
}

void rt_jit_free(act_program *p)
{
    for (int i = 0; p->packed && i < p->g->nforward; i++)
        free(p->packed[i].slot.panels);
    free(p->packed);
    p->packed = NULL;
    free(p->mod_text);
    p->mod_text = NULL;
    for (int m = 0; m < CC_MODE_COUNT_; m++) {
        call_if *c = p->cif[m];
        if (c)
            free(c->types);
        free(c);
        p->cif[m] = NULL;
        p->entry[m] = NULL;
    }
}

/* Large buffers about to be written whole get their pages at once
   (MADV_POPULATE_WRITE, Linux 5.14; older kernels refuse it and fault them
   in as before): a page fault each cost 2.3 us here (1 MB: 590 us faulted,
   400 populated). */
float *rt_floats(int64_t n, bool written)
{
    void *p = NULL;
    size_t bytes = (size_t)(n ? n : 1) * sizeof(float);
    if (posix_memalign(&p, 64, bytes))
        return NULL;
    uintptr_t page = 4096, from = ((uintptr_t)p + page - 1) & ~(page - 1),
              to = ((uintptr_t)p + bytes) & ~(page - 1);
    if (written && bytes >= POPULATE_BYTES && to > from)
        madvise((void *)from, to - from, MADV_POPULATE_WRITE);
    return p;
}

float *rt_jit_buffer(float **slot, int64_t n, int64_t *have)
{
    if (*slot && *have == n)
        return *slot;
    free(*slot);
    if ((*slot = rt_floats(n, true)))
        memset(*slot, 0, (size_t)(n ? n : 1) * sizeof **slot);
    *have = n;
    return *slot;
}

void rt_jit_invoke(const rt_call *c, void **values, void **ptrs, int64_t *sizes)
{
    for (int a = 0; a < c->e->nargs; a++)
        values[a] = c->e->args[a].kind == CC_ARG_SIZE ? (void *)&sizes[a] : (void *)&ptrs[a];
    ffi_call(&((call_if *)c->cif)->cif, (void (*)(void))c->e->fn, NULL, values);
}

/* How many chunks of its rows (the split size's) a call runs in, 1 for the
   whole call: on the program's threads when the graph is batch-separable
   and the work is worth them. */
static int chunks_of(const act_program *p, const rt_sizes *b, int64_t *rows)
{
    *rows = 0;
    return p->split.size && rt_size_of(b, p->split.size, rows) ? rt_split_chunks(p, *rows) : 1;
}

/* A param's packed weights, sized for its [K, N] (NULL when out of memory):
   kept while the param does not change (rt_data_changed makes them
   unready). Split calls get none, as their chunks would pack at once. */
static cc_packed *packed_weights(act_program *p, int id, int chunks)
{
    rt_tensor *t = &p->t[id];
    if (chunks > 1 || t->rank != 2 ||
        (!p->packed && !(p->packed = calloc((size_t)p->g->nforward, sizeof *p->packed))))
        return NULL;
    rt_packed *k = &p->packed[id];
    int64_t n = cc_packed_floats(t->shape[0], t->shape[1]);
    if (k->n != n) {
        free(k->slot.panels);
        k->slot = (cc_packed){rt_floats(n, false), 0}; /* a GEMM of few rows packs nothing */
        k->n = k->slot.panels ? n : 0;
    }
    return k->slot.panels ? &k->slot : NULL;
}

void rt_data_changed(act_program *p, int id)
{
    p->outputs_kept = false;
    for (int i = 0; p->packed && i < p->g->nforward; i++)
        if (id < 0 || i == id)
            p->packed[i].slot.ready = 0;
}

/* The whole call, or `chunks` chunks of its `rows` rows on the team. */
static void run(act_program *p, cc_mode mode, const rt_call *c, int64_t rows, int chunks,
                void **values)
{
    if (chunks < 2 || rt_jit_split(p, mode, c, rows, chunks))
        rt_jit_invoke(c, values, c->ptrs, c->sizes);
}

/* The per-argument arrays of one call: on the stack for the usual entry
   (malloc and free of six arrays were a third of a small graph's call). */
enum { STACK_ARGS = 24 };
typedef struct {
    void *ptrs[STACK_ARGS], *values[STACK_ARGS];
    float *zeros[STACK_ARGS];
    int64_t sizes[STACK_ARGS], count[STACK_ARGS];
    bool rowed[STACK_ARGS];
} call_arrays;

/* Binds every argument of the entry to the program's buffers and runs it. */
static int call(act_program *p, cc_mode mode, const rt_sizes *b, act_error *err)
{
    const cc_entry *e = p->entry[mode];
    size_t n = (size_t)e->nargs + 1;
    call_arrays s; /* the first nargs of each are set below: zeroing all of it cost 9% of a call */
    bool heap = n > STACK_ARGS;
    rt_call c = {e,
                 p->cif[mode],
                 heap ? calloc(n, sizeof *c.ptrs) : s.ptrs,
                 heap ? calloc(n, sizeof *c.sizes) : s.sizes,
                 heap ? calloc(n, sizeof *c.count) : s.count,
                 heap ? calloc(n, sizeof *c.rowed) : s.rowed};
    void **values = heap ? calloc(n, sizeof *values) : s.values;
    float **zeros = heap ? calloc(n, sizeof *zeros) : s.zeros;
    int rc = values && c.ptrs && c.sizes && c.count && c.rowed && zeros ? 0 : ACT_ERR_NOMEM;
    for (int a = 0; !rc && a < e->nargs; a++) {
        c.ptrs[a] = zeros[a] = NULL;
        c.sizes[a] = c.count[a] = 0;
        c.rowed[a] = false;
    }
    int64_t rows;
    int chunks = chunks_of(p, b, &rows);
    for (int a = 0; !rc && a < e->nargs; a++) {
        const cc_arg *arg = &e->args[a];
        ir_value *v = arg->kind == CC_ARG_SEED   ? p->g->outputs.items[arg->id]
                      : arg->kind == CC_ARG_SIZE ? NULL
                                                 : p->g->values.items[arg->id];
        rt_tensor shape = {0};
        bool known = !v || rt_resolve(b, v, &shape);
        if (!known && arg->kind == CC_ARG_GRAD && !rt_has_data(&p->t[arg->id]))
            shape.n = 0; /* a leaf never set: its sizes are 0 in the call, nothing is written */
        else if (!known && (arg->written || arg->kind == CC_ARG_SEED))
            rc = rt_run_missing_input(p, v, err);
        if (rc)
            break;
        c.count[a] = shape.n;
        c.rowed[a] = chunks > 1 && v && rt_split_is_rowed(&p->split, v); /* read by splits only */
        switch (arg->kind) {
        case CC_ARG_SIZE:
            rt_size_of(b, arg->size, &c.sizes[a]);
            continue;
        case CC_ARG_PACKED: /* may be NULL: the GEMM then packs into memory of its own */
            c.ptrs[a] = packed_weights(p, arg->id, chunks);
            continue;
        case CC_ARG_SEED: /* an output without a given gradient contributes nothing */
            c.ptrs[a] = p->seed[arg->id] ? p->seed[arg->id]
                                         : (zeros[a] = calloc((size_t)shape.n + 1, sizeof(float)));
            break;
        case CC_ARG_GRAD: /* kept from the last call when it fits: no page faults per step;
                             the entry writes every element (zeros where no gradient reaches) */
            c.ptrs[a] = rt_jit_buffer(&p->grad32[arg->id], shape.n, &p->grad32_n[arg->id]);
            break;
        default: {
            rt_tensor *t = &p->t[arg->id];
            if (arg->written) {
                c.ptrs[a] = rt_jit_buffer(&t->f32, shape.n, &t->n);
                memcpy(t->shape, shape.shape, sizeof t->shape);
                t->rank = shape.rank;
            } else {
                c.ptrs[a] = t->f32; /* NULL for an input this mode does not read */
            }
        }
        }
        if (!c.ptrs[a] && (arg->written || arg->kind == CC_ARG_SEED))
            rc = act_error_set(err, NULL, ACT_ERR_NOMEM, "out of memory");
    }
    if (!rc)
        run(p, mode, &c, rows, chunks, values);
    else if (rc == ACT_ERR_NOMEM && err && !err->code)
        act_error_set(err, NULL, ACT_ERR_NOMEM, "out of memory");
    for (int a = 0; zeros && a < e->nargs; a++)
        free(zeros[a]);
    if (heap) {
        free(values);
        free(zeros);
        free(c.ptrs);
        free(c.sizes);
        free(c.count);
        free(c.rowed);
    }
    return rc;
}

/* Every output must be computable; the loss is computed when its inputs
   are given (always in a loss-mode backward). */
static int check_inputs(act_program *p, bool loss, act_error *err)
{
    for (int j = 0; j < p->g->outputs.n; j++)
        if (!rt_inputs_ready(p, p->g->outputs.items[j]))
            return rt_run_missing_input(p, p->g->outputs.items[j], err);
    if (loss && !rt_inputs_ready(p, p->g->loss))
        return rt_run_missing_input(p, p->g->loss, err);
    return 0;
}

int rt_jit_run(act_program *p, const rt_sizes *b, rt_pass pass, act_error *err)
{
    bool backward = pass != RT_FORWARD;
    bool loss_ready = p->g->loss && rt_inputs_ready(p, p->g->loss);
    cc_mode mode = !backward        ? (loss_ready ? CC_FORWARD_LOSS : CC_FORWARD)
                   : p->vjp         ? (p->outputs_kept ? CC_VJP_SAVED : CC_VJP)
                   : pass == RT_SGD ? CC_BACKWARD_PARAMS
                                    : CC_BACKWARD;
    bool loss_mode = mode == CC_BACKWARD || mode == CC_BACKWARD_PARAMS;
    int rc = check_inputs(p, loss_mode, err);
    if (!rc)
        rc = rt_jit_prepare(p, mode, err);
    if (rc) /* nothing changed: the previous results stay readable */
        return rc;
    rt_program_invalidate(p);
    p->forward_done = p->loss_done = p->backward_done = p->outputs_kept = false;
    rc = call(p, mode, b, err);
    bool vjp = mode == CC_VJP || mode == CC_VJP_SAVED;
    if (!rc && vjp && loss_ready) { /* the loss too, as the interpreter gives it */
        rc = rt_jit_prepare(p, CC_FORWARD_LOSS, err);
        if (!rc)
            rc = call(p, CC_FORWARD_LOSS, b, err);
    }
    if (rc)
        return rc;
    p->forward_done = p->outputs_kept = true;
    p->loss_done = mode == CC_FORWARD_LOSS || loss_mode || (vjp && loss_ready);
    p->backward_done = backward;
    return 0;
}
