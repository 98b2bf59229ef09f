/* peer_xsmm.c -- LIBXSMM as rows 4 and 6 use it: a dense layer is one JIT
   GEMM kernel then the separate bias + activation pass (peer_pass.c), and
   row 6 times the dispatch (JIT code generation) of a shape never seen.

   LIBXSMM is column-major: the row-major y = x W (M x K times K x N) is the
   column-major y^T = W^T x^T, so the kernel is dispatched with m = N,
   n = M, k = K, lda = N, ldb = K, ldc = N and called as kernel(W, x, y).
   It JITs for the CPU's best target (libxsmm_get_target_arch: "cpx", AVX-512
   with bf16, on Zen 4); LIBXSMM_TARGET overrides it. 1.17 dispatches every
   shape of row 4 whole, 1024x256x1024 included (its MAX_MNK threshold only
   sends libxsmm_gemm to BLAS), and tiling N into 64-wide blocks measured no
   faster, so there is no tiling. Debian ships only the static libxsmm.a,
   which references sgemm_: link a BLAS (or -lxsmmnoblas) after it. */
#include "peers.h"

#ifdef BENCH_HAVE_XSMM

#include "peer_pass.h"

#include <libxsmm.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

typedef struct dense_state {
    libxsmm_smmfunction gemm;
    long M, N;
    bench_func act;
    const float *x, *w, *b;
    float *y;
} dense_state;

static void dense_run(void *p)
{
    const dense_state *s = p;
    s->gemm(s->w, s->x, s->y);
    peer_bias_act(s->y, s->b, s->M, s->N, s->act);
}

/* beta = 0 and no prefetch: one call per run, nothing to prefetch for. */
static libxsmm_smmfunction dispatch(long m, long n, long k)
{
    const libxsmm_blasint lda = (libxsmm_blasint)m, ldb = (libxsmm_blasint)k,
                          ldc = (libxsmm_blasint)m;
    const float alpha = 1.0f, beta = 0.0f;
    const int flags = LIBXSMM_GEMM_FLAG_NONE, prefetch = LIBXSMM_GEMM_PREFETCH_NONE;
    return libxsmm_smmdispatch((libxsmm_blasint)m, (libxsmm_blasint)n, (libxsmm_blasint)k, &lda,
                               &ldb, &ldc, &alpha, &beta, &flags, &prefetch);
}

int peer_xsmm_dense(long M, long K, long N, bench_func act, const float *x, const float *w,
                    const float *b, float *y, bench_kernel *k)
{
    if (act != BF_RELU && act != BF_GELU_ERF)
        return -1;
    libxsmm_init();
    libxsmm_smmfunction gemm = dispatch(N, M, K);
    if (!gemm)
        return -1;
    dense_state *s = malloc(sizeof *s);
    if (!s)
        return -1;
    *s = (dense_state){gemm, M, N, act, x, w, b, y};
    *k = (bench_kernel){dense_run, free, s};
    return 0;
}

enum { LATENCY_SAMPLES = 51, FRESH_SIDE = 32 };

/* Fresh shapes for the whole process: m, n walk 16..47 at a fixed k, so
   every sample JITs a kernel of about the same size; k moves on after
   FRESH_SIDE^2 shapes. */
int peer_xsmm_dispatch_latency(double *seconds)
{
    static long next; /* shapes used so far in this process */
    double t[LATENCY_SAMPLES];
    libxsmm_init();
    for (int i = 0; i < LATENCY_SAMPLES; i++, next++) {
        long m = 16 + next % FRESH_SIDE, n = 16 + next / FRESH_SIDE % FRESH_SIDE;
        long kk = 32 + next / (FRESH_SIDE * FRESH_SIDE);
        double t0 = bench_now();
        libxsmm_smmfunction f = dispatch(m, n, kk);
        t[i] = bench_now() - t0;
        if (!f)
            return -1;
    }
    *seconds = peer_median(t, LATENCY_SAMPLES);
    return 0;
}

const char *peer_xsmm_describe(void)
{
    static char buf[64];
    libxsmm_init();
    snprintf(buf, sizeof buf, "LIBXSMM %s (%s)", LIBXSMM_VERSION, libxsmm_get_target_arch());
    return buf;
}

#else

int peer_xsmm_dense(long M, long K, long N, bench_func act, const float *x, const float *w,
                    const float *b, float *y, bench_kernel *k)
{
    (void)M, (void)K, (void)N, (void)act, (void)x, (void)w, (void)b, (void)y, (void)k;
    return -1;
}

int peer_xsmm_dispatch_latency(double *seconds)
{
    (void)seconds;
    return -1;
}

const char *peer_xsmm_describe(void)
{
    return NULL;
}

#endif
