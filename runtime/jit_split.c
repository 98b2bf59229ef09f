/* jit_split.c -- one call of a compiled entry as concurrent calls on
   contiguous chunks of the batch, on the program's team. A chunk's call sees
   each rowed tensor from the chunk's first row on and the split size S as
   the chunk's row count: compiled code takes S as an argument and never
   indexes past it, so it is the same entry, unchanged. What every chunk
   computes in whole -- the loss and the gradients of shared tensors --
   goes to buffers of its own, combined into the program's after the join,
   by the team again when they are large. docs/decisions.md gives the rules
   and the arithmetic. */
#include "rt.h"

#include <stdlib.h>
#include <string.h>

enum {
    COMBINE_ALONE = 1 << 14, /* floats to combine below which the caller does it alone */
    ROW_BLOCK = 8, /* rows of dense's register blocks (MR and MR_NARROW in compiler/gemm.c) */
};

typedef struct {
    act_program *p;
    const rt_call *c;
    int nargs, chunks;
    int parts;             /* of the combining: chunks, or 1 */
    int64_t rows;          /* of the split size in the whole call */
    bool mean;             /* loss modes: results are means over a chunk's rows */
    int64_t *start, *len;  /* per chunk: its rows */
    double *weight;        /* per chunk: of its shared results */
    void **values, **ptrs; /* per chunk and arg: [chunk * nargs + arg] */
    int64_t *sizes, *counts;
} job;

/* A result every chunk computes in whole: the loss, a shared gradient. */
static bool is_shared_result(const rt_call *c, int a)
{
    return c->e->args[a].kind != CC_ARG_SIZE && c->e->args[a].written && !c->rowed[a];
}

/* Room for the shared results of `chunks` chunks: per chunk, one slot per
   forward value (the loss) and one per gradient. */
static int reserve_scratch(act_program *p, int chunks)
{
    if (chunks <= p->scratch_chunks)
        return 0;
    size_t per = 2 * (size_t)p->g->nforward, have = (size_t)p->scratch_chunks * per;
    size_t want = (size_t)chunks * per;
    float **s = realloc(p->scratch, want * sizeof *s);
    if (s)
        p->scratch = s;
    int64_t *n = s ? realloc(p->scratch_n, want * sizeof *n) : NULL;
    if (!n)
        return ACT_ERR_NOMEM;
    p->scratch_n = n;
    memset(s + have, 0, (want - have) * sizeof *s);
    memset(n + have, 0, (want - have) * sizeof *n);
    p->scratch_chunks = chunks;
    return 0;
}

/* Chunk i's arguments: rowed tensors moved to its rows, S its row count,
   shared results in buffers of its own. */
static int bind_chunk(job *j, int i)
{
    const rt_call *c = j->c;
    act_program *p = j->p;
    for (int a = 0; a < j->nargs; a++) {
        const cc_arg *arg = &c->e->args[a];
        size_t k = (size_t)i * (size_t)j->nargs + (size_t)a;
        j->ptrs[k] = c->ptrs[a];
        j->sizes[k] = c->sizes[a];
        j->counts[k] = c->count[a];
        if (arg->kind == CC_ARG_SIZE) {
            if (!strcmp(arg->size, p->split.size))
                j->sizes[k] = j->len[i];
        } else if (c->rowed[a]) {
            int64_t per_row = c->count[a] / j->rows;
            if (j->ptrs[k])
                j->ptrs[k] = (float *)j->ptrs[k] + j->start[i] * per_row;
            j->counts[k] = j->len[i] * per_row;
        } else if (arg->written) {
            size_t slot = (size_t)i * 2 * (size_t)p->g->nforward +
                          (arg->kind == CC_ARG_GRAD ? (size_t)p->g->nforward : 0) + (size_t)arg->id;
            j->ptrs[k] = rt_jit_buffer(&p->scratch[slot], c->count[a], &p->scratch_n[slot]);
            if (!j->ptrs[k])
                return ACT_ERR_NOMEM;
        }
    }
    return 0;
}

static void run_chunk(void *arg, int i)
{
    job *j = arg;
    size_t k = (size_t)i * (size_t)j->nargs;
    rt_jit_invoke(j->c, j->values + k, j->ptrs + k, j->sizes + k);
    if (!j->mean)
        return;
    /* a rowed gradient of the chunk's mean loss: of the whole mean, rows_i / S of it */
    float w = (float)j->weight[i];
    for (int a = 0; a < j->nargs; a++) {
        float *g = j->ptrs[k + (size_t)a];
        if (j->c->e->args[a].kind != CC_ARG_GRAD || !j->c->rowed[a])
            continue;
        for (int64_t e = 0; e < j->counts[k + (size_t)a]; e++)
            g[e] *= w;
    }
}

/* out = s0 * w0 + s1 * w1, or out += s1 * w1 when s0 is NULL: in float,
   so that the compiler vectorises it. */
static void axpby(float *restrict out, const float *restrict s0, float w0, const float *s1,
                  float w1, int64_t n)
{
    if (!s0) {
        for (int64_t e = 0; e < n; e++)
            out[e] += w1 * s1[e];
        return;
    }
    for (int64_t e = 0; e < n; e++)
        out[e] = w0 * s0[e] + w1 * s1[e];
}

/* Part t of every shared result: the weighted sum of the chunks' values
   into the program's buffer. Each chunk keeps buffers of its own rather
   than the first writing the program's: a buffer written on one core and
   combined on another would be moved between their caches at every step
   (it made the calling thread's chunk of the MLP's backward ~10% slower). */
static void combine_part(void *arg, int t)
{
    job *j = arg;
    for (int a = 0; a < j->nargs; a++) {
        if (!is_shared_result(j->c, a))
            continue;
        int64_t n = j->c->count[a], lo = rt_part_start(n, j->parts, t);
        int64_t len = rt_part_start(n, j->parts, t + 1) - lo;
        float *out = (float *)j->c->ptrs[a] + lo;
        const float *first = (const float *)j->ptrs[a] + lo;
        for (int i = 1; i < j->chunks; i++) {
            const float *s = (const float *)j->ptrs[(size_t)i * (size_t)j->nargs + (size_t)a];
            axpby(out, i == 1 ? first : NULL, (float)j->weight[0], s + lo, (float)j->weight[i],
                  len);
        }
    }
}

/* Where chunk i starts (i = chunks: the end): on a multiple of dense's row
   block where there are enough rows, so that only the last chunk ends in
   the kernel's one-row steps, as the whole batch would. */
static int64_t chunk_start(int64_t rows, int chunks, int i)
{
    if (rows < (int64_t)ROW_BLOCK * chunks)
        return rt_part_start(rows, chunks, i);
    return i == chunks ? rows : ROW_BLOCK * rt_part_start(rows / ROW_BLOCK, chunks, i);
}

static int prepare(job *j)
{
    size_t cells = (size_t)j->chunks * (size_t)j->nargs + 1;
    j->start = calloc((size_t)j->chunks, sizeof *j->start);
    j->len = calloc((size_t)j->chunks, sizeof *j->len);
    j->weight = calloc((size_t)j->chunks, sizeof *j->weight);
    j->values = calloc(cells, sizeof *j->values);
    j->ptrs = calloc(cells, sizeof *j->ptrs);
    j->sizes = calloc(cells, sizeof *j->sizes);
    j->counts = calloc(cells, sizeof *j->counts);
    if (!j->start || !j->len || !j->weight || !j->values || !j->ptrs || !j->sizes || !j->counts)
        return ACT_ERR_NOMEM;
    int64_t shared = 0;
    for (int a = 0; a < j->nargs; a++)
        shared += is_shared_result(j->c, a) ? j->c->count[a] : 0;
    j->parts = shared * (j->chunks - 1) < COMBINE_ALONE ? 1 : j->chunks;
    for (int i = 0; i < j->chunks; i++) {
        j->start[i] = chunk_start(j->rows, j->chunks, i);
        j->len[i] = chunk_start(j->rows, j->chunks, i + 1) - j->start[i];
        j->weight[i] = j->mean ? (double)j->len[i] / (double)j->rows : 1;
        int rc = bind_chunk(j, i);
        if (rc)
            return rc;
    }
    return 0;
}

int rt_jit_split(act_program *p, cc_mode mode, const rt_call *c, int64_t rows, int chunks)
{
    if (p->team && (!rt_team_here(p->team) || rt_team_size(p->team) < chunks)) {
        rt_team_free(p->team);
        p->team = NULL;
    }
    if (!p->team && !(p->team = rt_team_new(chunks)))
        return ACT_ERR_NOMEM;
    job j = {.p = p,
             .c = c,
             .nargs = c->e->nargs,
             .chunks = chunks,
             .rows = rows,
             .mean = mode == CC_FORWARD_LOSS || mode == CC_BACKWARD || mode == CC_BACKWARD_PARAMS};
    int rc = reserve_scratch(p, chunks);
    if (!rc)
        rc = prepare(&j);
    if (!rc) {
        rt_team_run(p->team, chunks, run_chunk, &j);
        if (j.parts > 1)
            rt_team_run(p->team, j.parts, combine_part, &j);
        else
            combine_part(&j, 0);
    }
    free(j.start);
    free(j.len);
    free(j.weight);
    free(j.values);
    free(j.ptrs);
    free(j.sizes);
    free(j.counts);
    return rc;
}
