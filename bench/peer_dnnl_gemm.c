/* peer_dnnl_gemm.c -- oneDNN as rows 4, 5 and 6 use it: a dense layer is
   one matmul primitive with the activation fused as an eltwise post-op and
   the weights reordered once into the primitive's own layout; the MLP step
   chains matmul, softmax and eltwise-backward primitives with the loops of
   peer_pass.c (loss gradient, bias gradient, SGD: 2.6's reduction
   primitive runs reference code for the bias gradient, 0.6 ms at 256x256);
   row 6 times creating a matmul + relu primitive.

   Debian's libdnnl runs on OpenMP (libgomp) and JITs for the best ISA it
   finds (dnnl_get_effective_cpu_isa: avx512_core_bf16 on Zen 4). OpenMP's
   thread count is per process, so every factory and run sets it (1, or the
   MLP's threads) before touching oneDNN; primitives are created for it. */
#include "peers.h"

#ifdef BENCH_HAVE_DNNL

#include "peer_pass.h"

#include <dnnl.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* A 2-D f32 array seen as r x c; t: stored as the row-major c x r array,
   i.e. a transposed view through strides instead of a copy. */
typedef struct view {
    float *p;
    long r, c;
    int t;
} view;

static void view_md(dnnl_memory_desc_t *md, view v)
{
    dnnl_dims_t dims = {v.r, v.c}, strides = {v.t ? 1 : v.c, v.t ? v.r : 1};
    dnnl_memory_desc_init_by_strides(md, 2, dims, dnnl_f32, strides);
}

/* One primitive with its argument memories, bound to the caller's arrays. */
typedef struct step {
    dnnl_primitive_t prim;
    int n;
    dnnl_exec_arg_t arg[4];
} step;

/* s's primitive from pd (may be NULL: failed), which it destroys */
static int step_prim(step *s, dnnl_primitive_desc_t pd)
{
    int rc = pd && dnnl_primitive_create(&s->prim, pd) == dnnl_success ? 0 : -1;
    dnnl_primitive_desc_destroy(pd);
    return rc;
}

static int step_op(step *s, dnnl_engine_t eng, const_dnnl_op_desc_t d,
                   const_dnnl_primitive_attr_t attr, const_dnnl_primitive_desc_t hint)
{
    dnnl_primitive_desc_t pd = NULL;
    if (dnnl_primitive_desc_create(&pd, d, attr, eng, hint) != dnnl_success)
        pd = NULL;
    return step_prim(s, pd);
}

/* Adds argument kind: p laid out as md. */
static int step_arg(step *s, dnnl_engine_t eng, int kind, const dnnl_memory_desc_t *md,
                    const void *p)
{
    dnnl_exec_arg_t *a = &s->arg[s->n++];
    a->arg = kind;
    return dnnl_memory_create(&a->memory, md, eng, (void *)p) == dnnl_success ? 0 : -1;
}

static void step_run(const step *s, int n, dnnl_stream_t strm)
{
    for (int i = 0; i < n; i++)
        dnnl_primitive_execute(s[i].prim, strm, s[i].n, s[i].arg);
    dnnl_stream_wait(strm);
}

static void step_fini(step *s)
{
    for (int i = 0; i < s->n; i++)
        dnnl_memory_destroy(s->arg[i].memory);
    dnnl_primitive_destroy(s->prim);
}

/* attr with one eltwise post-op of kind alg; NULL when out of memory */
static dnnl_primitive_attr_t post_op_attr(dnnl_alg_kind_t alg)
{
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t po = NULL;
    if (dnnl_primitive_attr_create(&attr) != dnnl_success ||
        dnnl_post_ops_create(&po) != dnnl_success ||
        dnnl_post_ops_append_eltwise(po, 1.0f, alg, 0.0f, 0.0f) != dnnl_success ||
        dnnl_primitive_attr_set_post_ops(attr, po) != dnnl_success) {
        dnnl_primitive_attr_destroy(attr);
        attr = NULL;
    }
    dnnl_post_ops_destroy(po);
    return attr;
}

/* The dense layer's descriptor: weights in format "any", so the primitive
   picks its blocked layout; bias 1 x N; the activation as post-op. */
static dnnl_status_t dense_pd(dnnl_primitive_desc_t *pd, dnnl_engine_t eng, long M, long K, long N,
                              dnnl_alg_kind_t alg)
{
    dnnl_memory_desc_t src, wei, bias, dst;
    dnnl_dims_t ds = {M, K}, dw = {K, N}, db = {1, N}, dd = {M, N};
    dnnl_memory_desc_init_by_tag(&src, 2, ds, dnnl_f32, dnnl_ab);
    dnnl_memory_desc_init_by_tag(&wei, 2, dw, dnnl_f32, dnnl_format_tag_any);
    dnnl_memory_desc_init_by_tag(&bias, 2, db, dnnl_f32, dnnl_ab);
    dnnl_memory_desc_init_by_tag(&dst, 2, dd, dnnl_f32, dnnl_ab);
    dnnl_matmul_desc_t d;
    dnnl_status_t st = dnnl_matmul_desc_init(&d, &src, &wei, &bias, &dst);
    dnnl_primitive_attr_t attr = post_op_attr(alg);
    if (st == dnnl_success)
        st = attr ? dnnl_primitive_desc_create(pd, &d, attr, eng, NULL) : dnnl_out_of_memory;
    dnnl_primitive_attr_destroy(attr);
    return st;
}

typedef struct dense_state {
    dnnl_engine_t eng;
    dnnl_stream_t strm;
    step mm;
    void *packed; /* W in the primitive's layout, owned */
} dense_state;

static void dense_run(void *p)
{
    const dense_state *s = p;
    omp_set_num_threads(1);
    step_run(&s->mm, 1, s->strm);
}

static void dense_free(void *p)
{
    dense_state *s = p;
    step_fini(&s->mm);
    dnnl_stream_destroy(s->strm);
    dnnl_engine_destroy(s->eng);
    free(s->packed);
    free(s);
}

/* One reorder of the caller's row-major K x N w into s->packed (layout md). */
static int pack_weights(dense_state *s, const dnnl_memory_desc_t *md, const float *w, long K,
                        long N)
{
    s->packed = aligned_alloc(64, (dnnl_memory_desc_get_size(md) + 63) / 64 * 64);
    if (!s->packed)
        return -1;
    dnnl_memory_desc_t plain;
    dnnl_dims_t dw = {K, N};
    dnnl_memory_desc_init_by_tag(&plain, 2, dw, dnnl_f32, dnnl_ab);
    dnnl_primitive_desc_t pd = NULL;
    if (dnnl_reorder_primitive_desc_create(&pd, &plain, s->eng, md, s->eng, NULL) != dnnl_success)
        pd = NULL;
    step r = {0};
    int rc = step_prim(&r, pd) | step_arg(&r, s->eng, DNNL_ARG_FROM, &plain, w) |
             step_arg(&r, s->eng, DNNL_ARG_TO, md, s->packed);
    if (rc == 0)
        step_run(&r, 1, s->strm);
    step_fini(&r);
    return rc;
}

int peer_dnnl_dense(long M, long K, long N, bench_func act, const float *x, const float *w,
                    const float *b, float *y, bench_kernel *k)
{
    if (act != BF_RELU && act != BF_GELU_ERF)
        return -1;
    omp_set_num_threads(1);
    dense_state *s = calloc(1, sizeof *s);
    if (!s)
        return -1;
    dnnl_alg_kind_t alg = act == BF_RELU ? dnnl_eltwise_relu : dnnl_eltwise_gelu_erf;
    dnnl_primitive_desc_t pd = NULL;
    int rc = dnnl_engine_create(&s->eng, dnnl_cpu, 0) != dnnl_success ||
             dnnl_stream_create(&s->strm, s->eng, dnnl_stream_default_flags) != dnnl_success ||
             dense_pd(&pd, s->eng, M, K, N, alg) != dnnl_success;
    if (rc == 0) { /* the queried descriptors live as long as pd */
        const dnnl_memory_desc_t *wmd = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
        rc = pack_weights(s, wmd, w, K, N) |
             step_arg(&s->mm, s->eng, DNNL_ARG_SRC,
                      dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0), x) |
             step_arg(&s->mm, s->eng, DNNL_ARG_WEIGHTS, wmd, s->packed) |
             step_arg(&s->mm, s->eng, DNNL_ARG_BIAS,
                      dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 1), b) |
             step_arg(&s->mm, s->eng, DNNL_ARG_DST,
                      dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0), y);
    }
    if ((rc | step_prim(&s->mm, pd)) != 0) {
        dense_free(s);
        return -1;
    }
    *k = (bench_kernel){dense_run, dense_free, s};
    return 0;
}

/* The MLP step, as in peer_openblas.c: a[l] is layer l's input, z the
   logits, p the probabilities, g[l] the gradient at layer l's output, dh
   the gradient at a hidden layer's output before relu'. */
enum { FWD_STEPS = PEER_MLP_LAYERS + 1, BWD_STEPS = 3 * PEER_MLP_LAYERS - 2 };

typedef struct mlp_state {
    peer_mlp m; /* first: see peer_pass.h */
    int threads;
    dnnl_engine_t eng;
    dnnl_stream_t strm;
    float *block; /* owns a[1..], z, p, g[], dh */
    float *a[PEER_MLP_LAYERS], *z, *p, *g[PEER_MLP_LAYERS], *dh;
    step fwd[FWD_STEPS], bwd[BWD_STEPS];
} mlp_state;

static int step_view(step *s, dnnl_engine_t eng, int kind, view v)
{
    dnnl_memory_desc_t md;
    view_md(&md, v);
    return step_arg(s, eng, kind, &md, v.p);
}

/* c = a b (+ bias, relu when asked) */
static int matmul_step(step *s, dnnl_engine_t eng, view a, view b, float *bias, view c, int relu)
{
    dnnl_memory_desc_t ma, mb, mbias, mc;
    view vbias = {bias, 1, c.c, 0};
    view_md(&ma, a);
    view_md(&mb, b);
    view_md(&mbias, vbias);
    view_md(&mc, c);
    dnnl_matmul_desc_t d;
    dnnl_primitive_attr_t attr = relu ? post_op_attr(dnnl_eltwise_relu) : NULL;
    int rc = (relu && !attr) ||
             dnnl_matmul_desc_init(&d, &ma, &mb, bias ? &mbias : NULL, &mc) != dnnl_success ||
             step_op(s, eng, &d, attr, NULL) != 0;
    dnnl_primitive_attr_destroy(attr);
    rc |= step_view(s, eng, DNNL_ARG_SRC, a) | step_view(s, eng, DNNL_ARG_WEIGHTS, b) |
          step_view(s, eng, DNNL_ARG_DST, c);
    return bias ? rc | step_view(s, eng, DNNL_ARG_BIAS, vbias) : rc;
}

/* g = dh relu'(.), read from the saved relu output h; the backward
   descriptor needs a forward one as hint */
static int relu_bwd_step(step *s, dnnl_engine_t eng, view dh, view h, view g)
{
    dnnl_memory_desc_t md;
    view_md(&md, h);
    dnnl_eltwise_desc_t fd, bd;
    dnnl_primitive_desc_t hint = NULL;
    const dnnl_alg_kind_t alg = dnnl_eltwise_relu_use_dst_for_bwd;
    int rc = dnnl_eltwise_forward_desc_init(&fd, dnnl_forward_training, alg, &md, 0, 0) ||
             dnnl_primitive_desc_create(&hint, &fd, NULL, eng, NULL);
    if (rc)
        hint = NULL;
    rc = rc || dnnl_eltwise_backward_desc_init(&bd, alg, &md, &md, 0, 0) ||
         step_op(s, eng, &bd, NULL, hint);
    dnnl_primitive_desc_destroy(hint);
    return rc | step_view(s, eng, DNNL_ARG_DIFF_DST, dh) | step_view(s, eng, DNNL_ARG_DST, h) |
           step_view(s, eng, DNNL_ARG_DIFF_SRC, g);
}

static int softmax_step(step *s, dnnl_engine_t eng, view z, view p)
{
    dnnl_memory_desc_t md;
    view_md(&md, z);
    dnnl_softmax_desc_t d;
    int rc = dnnl_softmax_forward_desc_init(&d, dnnl_forward_training, &md, 1) ||
             step_op(s, eng, &d, NULL, NULL);
    return rc | step_view(s, eng, DNNL_ARG_SRC, z) | step_view(s, eng, DNNL_ARG_DST, p);
}

/* Forward: x W0 + b0, relu (fused), ..., softmax. Backward per layer l:
   dW = a^T g and, below the top, dh = g W^T, g' = dh relu'(a). */
static int mlp_build(mlp_state *s)
{
    peer_mlp *m = &s->m;
    const long B = m->batch, *wd = peer_mlp_width;
    const int L = PEER_MLP_LAYERS;
    int rc = 0;
    step *f = s->fwd, *b = s->bwd;
    for (int l = 0; l < L; l++) {
        view out = {l + 1 < L ? s->a[l + 1] : s->z, B, wd[l + 1], 0};
        rc |= matmul_step(f++, s->eng, (view){s->a[l], B, wd[l], 0},
                          (view){m->w[l], wd[l], wd[l + 1], 0}, m->b[l], out, l + 1 < L);
    }
    rc |= softmax_step(f, s->eng, (view){s->z, B, wd[L], 0}, (view){s->p, B, wd[L], 0});
    for (int l = L - 1; l >= 0; l--) {
        view g = {s->g[l], B, wd[l + 1], 0};
        rc |= matmul_step(b++, s->eng, (view){s->a[l], wd[l], B, 1}, g, NULL,
                          (view){m->dw[l], wd[l], wd[l + 1], 0}, 0);
        if (l == 0)
            break;
        view dh = {s->dh, B, wd[l], 0};
        rc |= matmul_step(b++, s->eng, g, (view){m->w[l], wd[l + 1], wd[l], 1}, NULL, dh, 0);
        rc |= relu_bwd_step(b++, s->eng, dh, (view){s->a[l], B, wd[l], 0},
                            (view){s->g[l - 1], B, wd[l], 0});
    }
    return rc ? -1 : 0;
}

static void mlp_run(void *p)
{
    mlp_state *s = p;
    peer_mlp *m = &s->m;
    omp_set_num_threads(s->threads);
    step_run(s->fwd, FWD_STEPS, s->strm);
    m->loss = peer_mlp_ce_grad(s->p, m->t, s->g[PEER_MLP_LAYERS - 1], m->batch, PEER_MLP_OUT);
    step_run(s->bwd, BWD_STEPS, s->strm);
    for (int l = 0; l < PEER_MLP_LAYERS; l++)
        peer_col_sum(s->g[l], m->db[l], m->batch, peer_mlp_width[l + 1]);
    peer_mlp_sgd(m);
}

static void mlp_free(void *p)
{
    mlp_state *s = p;
    for (int i = 0; i < FWD_STEPS; i++)
        step_fini(&s->fwd[i]);
    for (int i = 0; i < BWD_STEPS; i++)
        step_fini(&s->bwd[i]);
    dnnl_stream_destroy(s->strm);
    dnnl_engine_destroy(s->eng);
    bench_free(s->block);
    peer_mlp_fini(&s->m);
    free(s);
}

int peer_dnnl_mlp_step(long batch, int threads, bench_kernel *k)
{
    mlp_state *s = calloc(1, sizeof *s);
    if (!s)
        return -1;
    if (peer_mlp_init(&s->m, batch) != 0) {
        free(s);
        return -1;
    }
    s->threads = threads;
    omp_set_num_threads(threads);
    /* one block of 64-byte aligned pieces: five batch x 256, three batch x 10 */
    const long bh = (batch * PEER_MLP_HID + 15) / 16 * 16;
    const long bo = (batch * PEER_MLP_OUT + 15) / 16 * 16;
    float **piece[8] = {&s->a[1], &s->a[2], &s->g[0], &s->g[1], &s->dh, &s->g[2], &s->z, &s->p};
    float *at = s->block = bench_alloc((size_t)(5 * bh + 3 * bo));
    int ok = at != NULL;
    for (int i = 0; ok && i < 8; i++) {
        *piece[i] = at;
        at += i < 5 ? bh : bo;
    }
    s->a[0] = s->m.x;
    ok = ok && dnnl_engine_create(&s->eng, dnnl_cpu, 0) == dnnl_success &&
         dnnl_stream_create(&s->strm, s->eng, dnnl_stream_default_flags) == dnnl_success &&
         mlp_build(s) == 0;
    if (!ok) {
        mlp_free(s);
        return -1;
    }
    *k = (bench_kernel){mlp_run, mlp_free, s};
    return 0;
}

enum { LATENCY_SAMPLES = 51, DEFAULT_CACHE_CAPACITY = 1024 };

/* Median time of primitive descriptor + primitive creation (destroying
   them is not timed) for row 6's 64x784x256 matmul + relu. */
static int time_creation(dnnl_engine_t eng, double *seconds)
{
    double t[LATENCY_SAMPLES];
    for (int i = 0; i < LATENCY_SAMPLES; i++) {
        dnnl_primitive_desc_t pd = NULL;
        dnnl_primitive_t prim = NULL;
        double t0 = bench_now();
        if (dense_pd(&pd, eng, 64, 784, 256, dnnl_eltwise_relu) == dnnl_success)
            dnnl_primitive_create(&prim, pd);
        t[i] = bench_now() - t0;
        dnnl_primitive_destroy(prim);
        dnnl_primitive_desc_destroy(pd);
        if (!prim)
            return -1;
    }
    *seconds = peer_median(t, LATENCY_SAMPLES);
    return 0;
}

/* cache_hit: the primitive cache at its default capacity, holding this
   primitive from one creation before timing; else the cache off (capacity
   0). The caller's capacity is restored either way. */
int peer_dnnl_create_latency(int cache_hit, double *seconds)
{
    int old = 0, rc = -1;
    dnnl_engine_t eng = NULL;
    dnnl_primitive_t warm = NULL;
    omp_set_num_threads(1);
    if (dnnl_get_primitive_cache_capacity(&old) != dnnl_success ||
        dnnl_engine_create(&eng, dnnl_cpu, 0) != dnnl_success)
        return -1;
    dnnl_set_primitive_cache_capacity(cache_hit ? (old ? old : DEFAULT_CACHE_CAPACITY) : 0);
    dnnl_primitive_desc_t pd = NULL;
    if (cache_hit && dense_pd(&pd, eng, 64, 784, 256, dnnl_eltwise_relu) == dnnl_success)
        dnnl_primitive_create(&warm, pd);
    dnnl_primitive_desc_destroy(pd);
    if (!cache_hit || warm)
        rc = time_creation(eng, seconds);
    dnnl_primitive_destroy(warm);
    dnnl_set_primitive_cache_capacity(old);
    dnnl_engine_destroy(eng);
    return rc;
}

static const struct {
    dnnl_cpu_isa_t isa;
    const char *name;
} isa_names[] = {{dnnl_cpu_isa_sse41, "sse41"},
                 {dnnl_cpu_isa_avx, "avx"},
                 {dnnl_cpu_isa_avx2, "avx2"},
                 {dnnl_cpu_isa_avx2_vnni, "avx2_vnni"},
                 {dnnl_cpu_isa_avx512_core, "avx512_core"},
                 {dnnl_cpu_isa_avx512_core_vnni, "avx512_core_vnni"},
                 {dnnl_cpu_isa_avx512_core_bf16, "avx512_core_bf16"},
                 {dnnl_cpu_isa_avx512_core_amx, "avx512_core_amx"}};

const char *peer_dnnl_describe(void)
{
    static char buf[96];
    const dnnl_version_t *v = dnnl_version();
    const char *isa = "other ISA";
    for (size_t i = 0; i < sizeof isa_names / sizeof *isa_names; i++)
        if (isa_names[i].isa == dnnl_get_effective_cpu_isa())
            isa = isa_names[i].name;
    snprintf(buf, sizeof buf, "oneDNN %d.%d.%d (%s%s)", v->major, v->minor, v->patch, isa,
             v->cpu_runtime == DNNL_RUNTIME_OMP ? ", OpenMP" : "");
    return buf;
}

#else

int peer_dnnl_dense(long M, long K, long N, bench_func act, const float *x, const float *w,
                    const float *b, float *y, bench_kernel *k)
{
    (void)M, (void)K, (void)N, (void)act, (void)x, (void)w, (void)b, (void)y, (void)k;
    return -1;
}

int peer_dnnl_mlp_step(long batch, int threads, bench_kernel *k)
{
    (void)batch, (void)threads, (void)k;
    return -1;
}

int peer_dnnl_create_latency(int cache_hit, double *seconds)
{
    (void)cache_hit, (void)seconds;
    return -1;
}

const char *peer_dnnl_describe(void)
{
    return NULL;
}

#endif
