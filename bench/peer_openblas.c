/* peer_openblas.c -- OpenBLAS as rows 4 and 5 use it: a dense layer is
   cblas_sgemm then the separate bias + activation pass (peer_pass.c), the
   MLP step is sgemm calls plus plain loops.

   Debian's libopenblas0-pthread picks its kernels at run time (DYNAMIC_ARCH):
   on Zen 4 (AVX-512 + bf16) 0.3.21 takes the Cooperlake ones, whose sgemm is
   SkylakeX's AVX-512 kernel; OPENBLAS_CORETYPE, set before the process
   starts, overrides the choice. Its thread count is process-wide and defaults
   to every core, so each run sets it first (4 ns). */
#include "peers.h"

#ifdef BENCH_HAVE_OPENBLAS

#include "peer_pass.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct dense_state {
    long M, K, N;
    bench_func act;
    const float *x, *w, *b;
    float *y;
} dense_state;

static void dense_run(void *p)
{
    const dense_state *s = p;
    openblas_set_num_threads(1);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (blasint)s->M, (blasint)s->N,
                (blasint)s->K, 1.0f, s->x, (blasint)s->K, s->w, (blasint)s->N, 0.0f, s->y,
                (blasint)s->N);
    peer_bias_act(s->y, s->b, s->M, s->N, s->act);
}

int peer_openblas_dense(long M, long K, long N, bench_func act, const float *x, const float *w,
                        const float *b, float *y, bench_kernel *k)
{
    if (act != BF_RELU && act != BF_GELU_ERF)
        return -1;
    dense_state *s = malloc(sizeof *s);
    if (!s)
        return -1;
    *s = (dense_state){M, K, N, act, x, w, b, y};
    *k = (bench_kernel){dense_run, free, s};
    return 0;
}

/* The MLP step. a[l] is layer l's input (a[0] = x, a[1] = h1, a[2] = h2),
   z the logits then, in place, the probabilities; g[l] is the gradient at
   layer l's output (g[2] = dlogits, g[1] = dh2 masked by relu', ...). */
typedef struct mlp_state {
    peer_mlp m; /* first: see peer_pass.h */
    int threads;
    const float *a[PEER_MLP_LAYERS];
    float *h[PEER_MLP_LAYERS - 1], *z;
    float *g[PEER_MLP_LAYERS];
} mlp_state;

static void softmax_rows(float *z, long rows, long cols)
{
    for (long i = 0; i < rows; i++) {
        float *r = z + i * cols, mx = r[0], sum = 0.0f;
        for (long j = 1; j < cols; j++)
            mx = r[j] > mx ? r[j] : mx;
        for (long j = 0; j < cols; j++)
            sum += r[j] = expf(r[j] - mx);
        for (long j = 0; j < cols; j++)
            r[j] /= sum;
    }
}

/* relu'(x) from the saved output h: 1 where h > 0 */
static void relu_mask(float *restrict g, const float *restrict h, long n)
{
    for (long i = 0; i < n; i++)
        g[i] = h[i] > 0.0f ? g[i] : 0.0f;
}

static void mlp_run(void *p)
{
    mlp_state *s = p;
    peer_mlp *m = &s->m;
    const long B = m->batch, *wd = peer_mlp_width;
    openblas_set_num_threads(s->threads);
    for (int l = 0; l < PEER_MLP_LAYERS; l++) {
        float *out = l + 1 < PEER_MLP_LAYERS ? s->h[l] : s->z;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (blasint)B, (blasint)wd[l + 1],
                    (blasint)wd[l], 1.0f, s->a[l], (blasint)wd[l], m->w[l], (blasint)wd[l + 1],
                    0.0f, out, (blasint)wd[l + 1]);
        peer_bias_act(out, m->b[l], B, wd[l + 1],
                      l + 1 < PEER_MLP_LAYERS ? BF_RELU : PEER_ACT_NONE);
    }
    softmax_rows(s->z, B, PEER_MLP_OUT);
    m->loss = peer_mlp_ce_grad(s->z, m->t, s->g[PEER_MLP_LAYERS - 1], B, PEER_MLP_OUT);
    for (int l = PEER_MLP_LAYERS - 1; l >= 0; l--) {
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (blasint)wd[l], (blasint)wd[l + 1],
                    (blasint)B, 1.0f, s->a[l], (blasint)wd[l], s->g[l], (blasint)wd[l + 1], 0.0f,
                    m->dw[l], (blasint)wd[l + 1]);
        peer_col_sum(s->g[l], m->db[l], B, wd[l + 1]);
        if (l == 0)
            break;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (blasint)B, (blasint)wd[l],
                    (blasint)wd[l + 1], 1.0f, s->g[l], (blasint)wd[l + 1], m->w[l],
                    (blasint)wd[l + 1], 0.0f, s->g[l - 1], (blasint)wd[l]);
        relu_mask(s->g[l - 1], s->a[l], B * wd[l]);
    }
    peer_mlp_sgd(m);
}

static void mlp_free(void *p)
{
    mlp_state *s = p;
    peer_mlp_fini(&s->m);
    for (int l = 0; l < PEER_MLP_LAYERS - 1; l++)
        bench_free(s->h[l]);
    bench_free(s->z);
    for (int l = 0; l < PEER_MLP_LAYERS; l++)
        bench_free(s->g[l]);
    free(s);
}

int peer_openblas_mlp_step(long batch, int threads, bench_kernel *k)
{
    mlp_state *s = calloc(1, sizeof *s);
    if (!s)
        return -1;
    if (peer_mlp_init(&s->m, batch) != 0) {
        free(s);
        return -1;
    }
    s->threads = threads;
    int ok = 1;
    for (int l = 0; l < PEER_MLP_LAYERS; l++) {
        size_t n = (size_t)(batch * peer_mlp_width[l + 1]);
        s->g[l] = bench_alloc(n);
        if (l + 1 < PEER_MLP_LAYERS)
            ok = ok && (s->h[l] = bench_alloc(n));
        ok = ok && s->g[l];
    }
    ok = ok && (s->z = bench_alloc((size_t)(batch * PEER_MLP_OUT)));
    if (!ok) {
        mlp_free(s);
        return -1;
    }
    s->a[0] = s->m.x;
    for (int l = 1; l < PEER_MLP_LAYERS; l++)
        s->a[l] = s->h[l - 1];
    *k = (bench_kernel){mlp_run, mlp_free, s};
    return 0;
}

const char *peer_openblas_describe(void)
{
    static char buf[256];
    static const char *const threading[] = {"sequential", "pthreads", "OpenMP"};
    int par = openblas_get_parallel();
    snprintf(buf, sizeof buf, "%s (%s kernels, %s)", openblas_get_config(), openblas_get_corename(),
             threading[par >= 0 && par <= 2 ? par : 0]);
    return buf;
}

#else

int peer_openblas_dense(long M, long K, long N, bench_func act, const float *x, const float *w,
                        const float *b, float *y, bench_kernel *k)
{
    (void)M, (void)K, (void)N, (void)act, (void)x, (void)w, (void)b, (void)y, (void)k;
    return -1;
}

int peer_openblas_mlp_step(long batch, int threads, bench_kernel *k)
{
    (void)batch, (void)threads, (void)k;
    return -1;
}

const char *peer_openblas_describe(void)
{
    return NULL;
}

#endif
