/* peer_pass.c -- the plain C the dense and MLP peers share: the separate
   bias + activation pass after a GEMM, the MLP's seeded network and data,
   its loss gradient and SGD update. -O3 -march=native, no -ffast-math. */
#include "peer_pass.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>

const long peer_mlp_width[PEER_MLP_LAYERS + 1] = {PEER_MLP_IN, PEER_MLP_HID, PEER_MLP_HID,
                                                  PEER_MLP_OUT};

enum { SEED_X = 1001, SEED_T = 1002, SEED_W = 1010 };

/* One row at a time so the compiler sees a plain, vectorisable inner loop;
   gelu_erf stays scalar through erff. */
void peer_bias_act(float *y, const float *b, long M, long N, bench_func act)
{
    for (long i = 0; i < M; i++) {
        float *restrict r = y + i * N;
        const float *restrict c = b;
        switch (act) {
        case BF_RELU:
            for (long j = 0; j < N; j++) {
                float v = r[j] + c[j];
                r[j] = v > 0.0f ? v : 0.0f;
            }
            break;
        case BF_GELU_ERF:
            for (long j = 0; j < N; j++) {
                float v = r[j] + c[j];
                r[j] = 0.5f * v * (1.0f + erff(v * 0.70710678118654752f));
            }
            break;
        default:
            for (long j = 0; j < N; j++)
                r[j] += c[j];
            break;
        }
    }
}

void peer_mlp_fini(peer_mlp *m)
{
    bench_free(m->x);
    bench_free(m->t);
    for (int l = 0; l < PEER_MLP_LAYERS; l++) {
        bench_free(m->w[l]);
        bench_free(m->b[l]);
        bench_free(m->dw[l]);
        bench_free(m->db[l]);
    }
}

static int fill_one_hot(float *t, long batch, long classes)
{
    float *u = bench_alloc((size_t)batch);
    if (!u)
        return -1;
    bench_fill(u, (size_t)batch, 0.0f, (float)classes, SEED_T);
    for (long i = 0; i < batch; i++) {
        long c = (long)u[i];
        t[i * classes + (c < classes ? c : classes - 1)] = 1.0f;
    }
    bench_free(u);
    return 0;
}

int peer_mlp_init(peer_mlp *m, long batch)
{
    *m = (peer_mlp){.batch = batch};
    m->x = bench_alloc((size_t)(batch * PEER_MLP_IN));
    m->t = bench_alloc((size_t)(batch * PEER_MLP_OUT));
    int ok = m->x && m->t;
    for (int l = 0; l < PEER_MLP_LAYERS; l++) {
        size_t in = (size_t)peer_mlp_width[l], out = (size_t)peer_mlp_width[l + 1];
        m->w[l] = bench_alloc(in * out);
        m->dw[l] = bench_alloc(in * out);
        m->b[l] = bench_alloc(out);
        m->db[l] = bench_alloc(out);
        ok = ok && m->w[l] && m->dw[l] && m->b[l] && m->db[l];
    }
    if (!ok || fill_one_hot(m->t, batch, PEER_MLP_OUT) != 0) {
        peer_mlp_fini(m);
        return -1;
    }
    bench_fill(m->x, (size_t)(batch * PEER_MLP_IN), -1.0f, 1.0f, SEED_X);
    for (int l = 0; l < PEER_MLP_LAYERS; l++) {
        long in = peer_mlp_width[l], out = peer_mlp_width[l + 1];
        float lim = sqrtf(6.0f / (float)(in + out)); /* Glorot uniform */
        bench_fill(m->w[l], (size_t)(in * out), -lim, lim, SEED_W + (uint64_t)l);
    }
    return 0;
}

float peer_mlp_ce_grad(const float *p, const float *t, float *g, long batch, long classes)
{
    float inv = 1.0f / (float)batch;
    double loss = 0;
    for (long i = 0; i < batch * classes; i++) {
        if (t[i] != 0.0f)
            loss -= t[i] * logf(p[i] > FLT_MIN ? p[i] : FLT_MIN);
        g[i] = (p[i] - t[i]) * inv;
    }
    return (float)(loss * inv);
}

void peer_col_sum(const float *restrict g, float *restrict db, long rows, long cols)
{
    for (long j = 0; j < cols; j++)
        db[j] = 0.0f;
    for (long i = 0; i < rows; i++)
        for (long j = 0; j < cols; j++)
            db[j] += g[i * cols + j];
}

static void sgd(float *restrict p, const float *restrict dp, long n)
{
    for (long i = 0; i < n; i++)
        p[i] -= PEER_MLP_LR * dp[i];
}

void peer_mlp_sgd(peer_mlp *m)
{
    for (int l = 0; l < PEER_MLP_LAYERS; l++) {
        sgd(m->w[l], m->dw[l], peer_mlp_width[l] * peer_mlp_width[l + 1]);
        sgd(m->b[l], m->db[l], peer_mlp_width[l + 1]);
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double peer_median(double *t, int n)
{
    qsort(t, (size_t)n, sizeof *t, cmp_double);
    return t[n / 2];
}
