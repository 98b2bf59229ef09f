/* peer_dnnl_eltwise.c -- the oneDNN peer of rows 1, 2 and 3: eltwise forward
   and backward and softmax forward and backward through the C API. The
   factory builds engine, stream, primitive and memory objects (wrapping the
   caller's arrays, no copies) once; a run is one dnnl_primitive_execute and
   dnnl_stream_wait. Debian's libdnnl uses the OpenMP runtime, so every
   primitive is created and run with omp_set_num_threads(1), restoring the
   caller's setting after. */
#include "peers.h"

#ifdef BENCH_HAVE_DNNL

#include <dnnl.h>
#include <omp.h>
#include <stdlib.h>

typedef struct dnnl_state {
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    dnnl_primitive_t prim;
    dnnl_exec_arg_t args[3];
    int nargs;
} dnnl_state;

static int failed(dnnl_status_t st)
{
    return st != dnnl_success;
}

static void dnnl_state_free(void *state)
{
    dnnl_state *s = state;
    if (!s)
        return;
    for (int i = 0; i < s->nargs; i++)
        dnnl_memory_destroy(s->args[i].memory);
    if (s->prim)
        dnnl_primitive_destroy(s->prim);
    if (s->stream)
        dnnl_stream_destroy(s->stream);
    if (s->engine)
        dnnl_engine_destroy(s->engine);
    free(s);
}

static void dnnl_run(void *state)
{
    dnnl_state *s = state;
    int threads = omp_get_max_threads();
    omp_set_num_threads(1);
    dnnl_primitive_execute(s->prim, s->stream, s->nargs, s->args);
    dnnl_stream_wait(s->stream);
    omp_set_num_threads(threads);
}

/* A state with its engine and stream, or NULL. */
static dnnl_state *state_new(void)
{
    dnnl_state *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    if (failed(dnnl_engine_create(&s->engine, dnnl_cpu, 0)) ||
        failed(dnnl_stream_create(&s->stream, s->engine, dnnl_stream_default_flags))) {
        dnnl_state_free(s);
        return NULL;
    }
    return s;
}

/* Wrap the caller's array as argument `arg`. oneDNN's API takes void *, but
   inputs are only read. */
static int add_arg(dnnl_state *s, int arg, const dnnl_memory_desc_t *md, const float *p)
{
    dnnl_memory_t m;
    if (failed(dnnl_memory_create(&m, md, s->engine, (void *)p)))
        return -1;
    s->args[s->nargs++] = (dnnl_exec_arg_t){arg, m};
    return 0;
}

/* The primitive desc of op (with the forward hint for backward ops). */
static dnnl_primitive_desc_t make_pd(const dnnl_state *s, const_dnnl_op_desc_t op,
                                     const_dnnl_primitive_desc_t hint)
{
    dnnl_primitive_desc_t pd;
    if (failed(dnnl_primitive_desc_create(&pd, op, NULL, s->engine, hint)))
        return NULL;
    return pd;
}

/* Create the primitive of pd (which it destroys) and hand s to *k;
   on failure free s and return -1. */
static int finish(dnnl_state *s, dnnl_primitive_desc_t pd, bench_kernel *k)
{
    int bad = !pd || failed(dnnl_primitive_create(&s->prim, pd));
    if (pd)
        dnnl_primitive_desc_destroy(pd);
    if (bad) {
        dnnl_state_free(s);
        return -1;
    }
    *k = (bench_kernel){.run = dnnl_run, .destroy = dnnl_state_free, .state = s};
    return 0;
}

/* bench_func -> oneDNN algorithm and alpha (beta is 0 throughout). In 2.6
   soft_relu is log(1 + exp(x)) with alpha and beta ignored. */
static const struct {
    dnnl_alg_kind_t fwd, bwd; /* bwd 0: no backward peer */
    float alpha;
} algs[BF_COUNT] = {
    [BF_SIGMOID] = {dnnl_eltwise_logistic, dnnl_eltwise_logistic_use_dst_for_bwd, 0.0f},
    [BF_TANH] = {dnnl_eltwise_tanh, dnnl_eltwise_tanh_use_dst_for_bwd, 0.0f},
    [BF_GELU_ERF] = {dnnl_eltwise_gelu_erf, dnnl_eltwise_gelu_erf, 0.0f},
    [BF_GELU_TANH] = {dnnl_eltwise_gelu_tanh, 0, 0.0f},
    [BF_SWISH] = {dnnl_eltwise_swish, 0, 1.0f},
    [BF_ELU] = {dnnl_eltwise_elu, dnnl_eltwise_elu_use_dst_for_bwd, 1.0f},
    [BF_SOFTPLUS] = {dnnl_eltwise_soft_relu, 0, 0.0f},
    [BF_MISH] = {dnnl_eltwise_mish, 0, 0.0f},
    [BF_RELU] = {dnnl_eltwise_relu, 0, 0.0f},
};

static int eltwise_fwd(bench_func f, const float *x, float *y, long n, bench_kernel *k)
{
    dnnl_state *s = state_new();
    if (!s)
        return -1;
    dnnl_memory_desc_t md;
    dnnl_dims_t dims = {n};
    dnnl_eltwise_desc_t ed;
    dnnl_primitive_desc_t pd = NULL;
    if (!failed(dnnl_memory_desc_init_by_tag(&md, 1, dims, dnnl_f32, dnnl_a)) &&
        !failed(dnnl_eltwise_forward_desc_init(&ed, dnnl_forward_inference, algs[f].fwd, &md,
                                               algs[f].alpha, 0.0f)) &&
        !add_arg(s, DNNL_ARG_SRC, &md, x) && !add_arg(s, DNNL_ARG_DST, &md, y))
        pd = make_pd(s, &ed, NULL);
    return finish(s, pd, k);
}

/* saved is y for the *_use_dst_for_bwd algorithms, x for gelu_erf. */
static int eltwise_bwd(bench_func f, const float *saved, const float *dy, float *dx, long n,
                       bench_kernel *k)
{
    dnnl_state *s = state_new();
    if (!s)
        return -1;
    dnnl_alg_kind_t alg = algs[f].bwd;
    int saved_arg = f == BF_GELU_ERF ? DNNL_ARG_SRC : DNNL_ARG_DST;
    dnnl_memory_desc_t md;
    dnnl_dims_t dims = {n};
    dnnl_eltwise_desc_t fd, bd;
    dnnl_primitive_desc_t hint = NULL, pd = NULL;
    if (!failed(dnnl_memory_desc_init_by_tag(&md, 1, dims, dnnl_f32, dnnl_a)) &&
        !failed(dnnl_eltwise_forward_desc_init(&fd, dnnl_forward_training, alg, &md, algs[f].alpha,
                                               0.0f)) &&
        !failed(dnnl_eltwise_backward_desc_init(&bd, alg, &md, &md, algs[f].alpha, 0.0f)) &&
        !add_arg(s, saved_arg, &md, saved) && !add_arg(s, DNNL_ARG_DIFF_DST, &md, dy) &&
        !add_arg(s, DNNL_ARG_DIFF_SRC, &md, dx) && (hint = make_pd(s, &fd, NULL)))
        pd = make_pd(s, &bd, hint);
    if (hint)
        dnnl_primitive_desc_destroy(hint);
    return finish(s, pd, k);
}

static int softmax_fwd(const float *x, float *y, long rows, long cols, bench_kernel *k)
{
    dnnl_state *s = state_new();
    if (!s)
        return -1;
    dnnl_memory_desc_t md;
    dnnl_dims_t dims = {rows, cols};
    dnnl_softmax_v2_desc_t sd;
    dnnl_primitive_desc_t pd = NULL;
    if (!failed(dnnl_memory_desc_init_by_tag(&md, 2, dims, dnnl_f32, dnnl_ab)) &&
        !failed(dnnl_softmax_v2_forward_desc_init(&sd, dnnl_forward_inference,
                                                  dnnl_softmax_accurate, &md, &md, 1)) &&
        !add_arg(s, DNNL_ARG_SRC, &md, x) && !add_arg(s, DNNL_ARG_DST, &md, y))
        pd = make_pd(s, &sd, NULL);
    return finish(s, pd, k);
}

static int softmax_bwd(const float *y, const float *dy, float *dx, long rows, long cols,
                       bench_kernel *k)
{
    dnnl_state *s = state_new();
    if (!s)
        return -1;
    dnnl_memory_desc_t md;
    dnnl_dims_t dims = {rows, cols};
    dnnl_softmax_v2_desc_t fd, bd;
    dnnl_primitive_desc_t hint = NULL, pd = NULL;
    if (!failed(dnnl_memory_desc_init_by_tag(&md, 2, dims, dnnl_f32, dnnl_ab)) &&
        !failed(dnnl_softmax_v2_forward_desc_init(&fd, dnnl_forward_training, dnnl_softmax_accurate,
                                                  &md, &md, 1)) &&
        !failed(dnnl_softmax_v2_backward_desc_init(&bd, dnnl_softmax_accurate, &md, &md, &md, 1)) &&
        !add_arg(s, DNNL_ARG_DST, &md, y) && !add_arg(s, DNNL_ARG_DIFF_DST, &md, dy) &&
        !add_arg(s, DNNL_ARG_DIFF_SRC, &md, dx) && (hint = make_pd(s, &fd, NULL)))
        pd = make_pd(s, &bd, hint);
    if (hint)
        dnnl_primitive_desc_destroy(hint);
    return finish(s, pd, k);
}

/* The public factories: argument checks, then the build under one thread
   (some oneDNN implementations size their work split at creation). */
int peer_dnnl_fwd(bench_func f, const float *x, float *y, long n, bench_kernel *k)
{
    if ((unsigned)f >= BF_COUNT || n < 1)
        return -1;
    int threads = omp_get_max_threads();
    omp_set_num_threads(1);
    int rc = eltwise_fwd(f, x, y, n, k);
    omp_set_num_threads(threads);
    return rc;
}

int peer_dnnl_bwd(bench_func f, const float *saved, const float *dy, float *dx, long n,
                  bench_kernel *k)
{
    if ((unsigned)f >= BF_COUNT || !algs[f].bwd || n < 1)
        return -1;
    int threads = omp_get_max_threads();
    omp_set_num_threads(1);
    int rc = eltwise_bwd(f, saved, dy, dx, n, k);
    omp_set_num_threads(threads);
    return rc;
}

int peer_dnnl_softmax_fwd(const float *x, float *y, long rows, long cols, bench_kernel *k)
{
    if (rows < 1 || cols < 1)
        return -1;
    int threads = omp_get_max_threads();
    omp_set_num_threads(1);
    int rc = softmax_fwd(x, y, rows, cols, k);
    omp_set_num_threads(threads);
    return rc;
}

int peer_dnnl_softmax_bwd(const float *y, const float *dy, float *dx, long rows, long cols,
                          bench_kernel *k)
{
    if (rows < 1 || cols < 1)
        return -1;
    int threads = omp_get_max_threads();
    omp_set_num_threads(1);
    int rc = softmax_bwd(y, dy, dx, rows, cols, k);
    omp_set_num_threads(threads);
    return rc;
}

#else

int peer_dnnl_fwd(bench_func f, const float *x, float *y, long n, bench_kernel *k)
{
    (void)f, (void)x, (void)y, (void)n, (void)k;
    return -1;
}

int peer_dnnl_bwd(bench_func f, const float *saved, const float *dy, float *dx, long n,
                  bench_kernel *k)
{
    (void)f, (void)saved, (void)dy, (void)dx, (void)n, (void)k;
    return -1;
}

int peer_dnnl_softmax_fwd(const float *x, float *y, long rows, long cols, bench_kernel *k)
{
    (void)x, (void)y, (void)rows, (void)cols, (void)k;
    return -1;
}

int peer_dnnl_softmax_bwd(const float *y, const float *dy, float *dx, long rows, long cols,
                          bench_kernel *k)
{
    (void)y, (void)dy, (void)dx, (void)rows, (void)cols, (void)k;
    return -1;
}

#endif
