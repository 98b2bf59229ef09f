/* jit_split.c -- one call of a compiled entry as concurrent calls on
   contiguous chunks of the batch, on the program's team. A chunk's call sees
   each rowed tensor from the chunk's first row on and the split size S as
   the chunk's row count: compiled code takes S as an argument and never
   indexes past it, so it is the same entry, unchanged. What every chunk
   computes in whole -- the loss and the gradients of shared tensors --
   goes to a buffer of its own (the first chunk's to the program's), and
   the buffers are combined after the join, by the team again when they are
   large. See docs/decisions.md for the rules and the arithmetic. */
#include "rt.h"

#include <stdlib.h>
#include <string.h>

/* Below this many floats to combine, the caller combines alone. */
enum { COMBINE_ALONE = 1 << 14 };

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

/* Part i of `parts` nearly equal contiguous parts of n things starts here. */
static int64_t part_start(int64_t n, int parts, int i)
{
    int64_t rest = n % parts;
    return (n / parts) * i + (i < rest ? i : rest);
}

/* A result every chunk computes in whole: the loss, a shared gradient. */
static bool is_shared_result(const rt_call *c, int a)
{
    return c->e->args[a].kind != CC_ARG_SIZE && c->e->args[a].written && !c->rowed[a];
}

/* Room for the shared results of `chunks` chunks: per chunk after the
   first, one slot per forward value (the loss) and one per gradient. */
static int reserve_scratch(act_program *p, int chunks)
{
    if (chunks - 1 <= p->scratch_chunks)
        return 0;
    size_t per = 2 * (size_t)p->g->nforward, have = (size_t)p->scratch_chunks * per;
    size_t want = (size_t)(chunks - 1) * per;
    float **s = realloc(p->scratch, want * sizeof *s);
    if (s)
        p->scratch = s;
    int64_t *n = s ? realloc(p->scratch_n, want * sizeof *n) : NULL;
    if (!n)
        return ACT_ERR_NOMEM;
    p->scratch_n = n;
    memset(s + have, 0, (want - have) * sizeof *s);
    memset(n + have, 0, (want - have) * sizeof *n);
    p->scratch_chunks = chunks - 1;
    return 0;
}

/* Chunk i's arguments: rowed tensors moved to its rows, S its row count,
   shared results (after the first chunk) in scratch buffers. */
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
        } else if (arg->written && i > 0) {
            size_t slot = (size_t)(i - 1) * 2 * (size_t)p->g->nforward +
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
    rt_jit_invoke(j->c, j->values + k, j->ptrs + k, j->sizes + k, j->counts + k);
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

/* Part t of every shared result: the weighted sum of the chunks' values,
   in double, into the first chunk's buffer (the program's). */
static void combine_part(void *arg, int t)
{
    job *j = arg;
    for (int a = 0; a < j->nargs; a++) {
        if (!is_shared_result(j->c, a))
            continue;
        float *out = j->c->ptrs[a];
        int64_t n = j->c->count[a], hi = part_start(n, j->parts, t + 1);
        for (int64_t e = part_start(n, j->parts, t); e < hi; e++) {
            double sum = j->weight[0] * out[e];
            for (int i = 1; i < j->chunks; i++)
                sum += j->weight[i] *
                       ((const float *)j->ptrs[(size_t)i * (size_t)j->nargs + (size_t)a])[e];
            out[e] = (float)sum;
        }
    }
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
        j->start[i] = part_start(j->rows, j->chunks, i);
        j->len[i] = part_start(j->rows, j->chunks, i + 1) - j->start[i];
        j->weight[i] = j->mean ? (double)j->len[i] / (double)j->rows : 1;
        int rc = bind_chunk(j, i);
        if (rc)
            return rc;
    }
    return 0;
}

int rt_jit_split(act_program *p, cc_mode mode, const rt_call *c, int64_t rows, int chunks)
{
    if (p->team && rt_team_size(p->team) < chunks) {
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
             .mean = mode == CC_FORWARD_LOSS || mode == CC_BACKWARD};
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
