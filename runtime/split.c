/* split.c -- whether a graph's batch can be cut across threads, and into
   how many chunks. A graph is batch-separable when one size name S leads
   every input that has a size name and every forward value keeps its rows
   apart: then the compiled entry run on rows [a, b) of every rowed tensor
   (with S = b - a) computes exactly rows [a, b) of every output, and the
   loss and the gradients of shared tensors (params, inputs without S) are
   a weighted mean (loss) or a sum (vjp) over the chunks. */
#define _GNU_SOURCE /* sched_getaffinity */
#include "rt.h"

#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum {
    MAX_THREADS = 64, /* more than any machine act is measured on */
    MIN_ROWS = 8,     /* two of dense's 4-row register blocks */
    ACT_FLOPS = 16,   /* an activation, softmax or loss element: a short polynomial */
    SIMPLE_FLOPS = 2, /* add, mul, scale, prelu, maxout */
};
/* Work of one chunk below which a thread is not worth waking (a few tens
   of microseconds of compiled code; waking a worker costs a few). */
#define MIN_WORK 1.0e6

typedef enum { SHARED, ROWED, MIXED } row_kind;

/* Rowed: S leads and no other dim has a size name; shared: no size name.
   Anything else (S inside, "S/k" of a maxout over the rows) mixes rows. */
static row_kind kind_of(const ir_shape *s, const char *size)
{
    for (int d = 1; d < s->rank; d++)
        if (s->sym[d])
            return MIXED;
    if (s->rank == 0 || !s->sym[0])
        return SHARED;
    return !strcmp(s->sym[0], size) ? ROWED : MIXED;
}

bool rt_split_is_rowed(const rt_split *s, const ir_value *v)
{
    return s->size && kind_of(&v->shape, s->size) == ROWED;
}

/* The first size name of the inputs, if it leads; the graph is separable
   only if every input and param names no other. */
static const char *split_size(const ir_graph *g)
{
    const char *size = NULL;
    for (int i = 0; i < g->nforward && !size; i++) {
        const ir_value *v = g->values.items[i];
        if (v->op == IR_INPUT && v->shape.rank > 0)
            size = v->shape.sym[0];
    }
    for (int i = 0; i < g->nforward && size; i++) {
        const ir_value *v = g->values.items[i];
        row_kind k = v->op == IR_INPUT || v->op == IR_PARAM ? kind_of(&v->shape, size) : SHARED;
        if (k == MIXED || (v->op == IR_PARAM && k != SHARED))
            return NULL;
    }
    return size;
}

static double row_elements(const ir_shape *s)
{
    double n = 1;
    for (int d = 1; d < s->rank; d++)
        n *= (double)s->dim[d];
    return n;
}

/* Whether op v keeps rows apart given its arguments' kinds, and its flops
   per row when rowed. */
static bool keeps_rows(const ir_graph *g, const ir_value *v, const row_kind *kind, double *flops)
{
    bool rowed = false;
    for (int a = 0; a < v->nargs; a++)
        rowed = rowed || kind[v->args[a]->id] == ROWED;
    double n = row_elements(&v->shape);
    switch (v->op) {
    case IR_DENSE: /* x rowed or not; W and b shared */
        *flops = 2 * n * (double)v->args[1]->shape.dim[0];
        return kind[v->args[1]->id] == SHARED && (v->nargs < 3 || kind[v->args[2]->id] == SHARED);
    case IR_PRELU:
        *flops = SIMPLE_FLOPS * n;
        return kind[v->args[1]->id] == SHARED;
    case IR_RRELU: /* training draws a slope per element index: a chunk would see others */
        *flops = SIMPLE_FLOPS * n;
        return v->attr[2] == 0;
    case IR_SOFTMAX:
    case IR_LOG_SOFTMAX: {
        int axis = (int)v->attr[0] < 0 ? (int)v->attr[0] + v->shape.rank : (int)v->attr[0];
        *flops = ACT_FLOPS * n;
        return !rowed || axis != 0;
    }
    case IR_SCE:
    case IR_BCE:
    case IR_MSE: /* means over the rows, read by nothing (the verifier sees to it) */
        *flops = ACT_FLOPS * row_elements(&v->args[0]->shape);
        return v == g->loss;
    case IR_ACT:
        *flops = ACT_FLOPS * n;
        return true;
    case IR_ADD:
    case IR_MUL:
    case IR_SCALE:
    case IR_MAXOUT:
        *flops = SIMPLE_FLOPS * n;
        return true;
    default:
        return false;
    }
}

rt_split rt_split_analyse(const ir_graph *g)
{
    rt_split s = {.size = split_size(g), .min_work = MIN_WORK, .min_rows = MIN_ROWS};
    row_kind *kind = malloc((size_t)(g->nforward + 1) * sizeof *kind);
    bool any_rowed = false;
    if (!kind) /* out of memory: one thread, as before */
        s.size = NULL;
    for (int i = 0; s.size && i < g->nforward; i++) {
        const ir_value *v = g->values.items[i];
        kind[i] = kind_of(&v->shape, s.size);
        any_rowed = any_rowed || (v->op == IR_INPUT && kind[i] == ROWED);
        if (v->op == IR_INPUT || v->op == IR_PARAM)
            continue;
        bool rowed_arg = false;
        for (int a = 0; a < v->nargs; a++)
            rowed_arg = rowed_arg || kind[v->args[a]->id] == ROWED;
        double flops = 0;
        bool loss = v == g->loss;
        if (!keeps_rows(g, v, kind, &flops) || (!loss && kind[i] != (rowed_arg ? ROWED : SHARED))) {
            s.size = NULL;
            break;
        }
        if (rowed_arg)
            s.row_work += flops;
    }
    for (int j = 0; s.size && j < g->outputs.n; j++)
        if (kind[((ir_value *)g->outputs.items[j])->id] != ROWED)
            s.size = NULL; /* every chunk would write all of it */
    if (!any_rowed)
        s.size = NULL;
    free(kind);
    return s;
}

static int cpu_count(void)
{
#ifdef __linux__
    cpu_set_t set;
    if (!sched_getaffinity(0, sizeof set, &set))
        return CPU_COUNT(&set);
#endif
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

int rt_split_chunks(const act_program *p, int64_t rows)
{
    const rt_split *s = &p->split;
    if (!s->size || rows < 2)
        return 1;
    double by_work = (double)rows * s->row_work / (s->min_work > 0 ? s->min_work : 1);
    int64_t by_rows = rows / (s->min_rows > 0 ? s->min_rows : 1);
    int64_t n = by_rows < MAX_THREADS ? by_rows : MAX_THREADS;
    if (by_work < (double)n)
        n = (int64_t)by_work;
    if (n < 2)
        return 1;
    int want = p->threads > 0 ? p->threads : cpu_count();
    return n < want ? (int)n : want;
}
