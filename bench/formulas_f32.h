/* formulas_f32.h -- the float formulas and loops of the two plain C peers,
   written once and compiled twice: peer_libm.c (-O2, one scalar libm call per
   element) and peer_fastmath.c (-O3 -ffast-math -march=native, where gcc
   turns the same loops into calls of glibc's vector libm, libmvec).
   The formulas are PyTorch's definitions (bench.h) as a careful C programmer
   writes them in float; none guards against cancellation or overflow
   (1 + erff(x/sqrt 2) for x << 0, 1 / (1 + expf(-x)) for x < -88), which is
   part of what the benchmark compares. */
#ifndef ACT_BENCH_FORMULAS_F32_H
#define ACT_BENCH_FORMULAS_F32_H

#include "bench.h"

#include <math.h>
#include <stdlib.h>

#define FF_SQRT1_2 0.70710678118654752440f        /* 1 / sqrt(2) */
#define FF_SQRT_2_OVER_PI 0.79788456080286535588f /* sqrt(2 / pi) */
#define FF_INV_SQRT_2PI 0.39894228040143267794f   /* 1 / sqrt(2 pi) */

static inline float ff_sigmoid(float x)
{
    return 1.0f / (1.0f + expf(-x));
}

static inline float ff_tanh(float x)
{
    return tanhf(x);
}

static inline float ff_gelu_erf(float x)
{
    return 0.5f * x * (1.0f + erff(x * FF_SQRT1_2));
}

static inline float ff_gelu_tanh(float x)
{
    return 0.5f * x * (1.0f + tanhf(FF_SQRT_2_OVER_PI * (x + 0.044715f * x * x * x)));
}

static inline float ff_swish(float x)
{
    return x / (1.0f + expf(-x));
}

static inline float ff_elu(float x)
{
    return x > 0.0f ? x : expm1f(x);
}

/* PyTorch's threshold 20: above it log1p(exp(x)) rounds to x in float. */
static inline float ff_softplus(float x)
{
    return x > 20.0f ? x : log1pf(expf(x));
}

static inline float ff_mish(float x)
{
    return x * tanhf(ff_softplus(x));
}

static inline float ff_relu(float x)
{
    return x > 0.0f ? x : 0.0f;
}

/* Backward: sigmoid, tanh and elu read the saved output y (their derivative
   is a polynomial in y), gelu_erf reads the saved input x. */
static inline float ff_sigmoid_grad(float y, float dy)
{
    return dy * y * (1.0f - y);
}

static inline float ff_tanh_grad(float y, float dy)
{
    return dy * (1.0f - y * y);
}

static inline float ff_elu_grad(float y, float dy)
{
    return dy * (y > 0.0f ? 1.0f : y + 1.0f);
}

static inline float ff_gelu_erf_grad(float x, float dy)
{
    float cdf = 0.5f * (1.0f + erff(x * FF_SQRT1_2));
    float pdf = FF_INV_SQRT_2PI * expf(-0.5f * x * x);
    return dy * (cdf + x * pdf);
}

/* One loop per function, so the formula is inlined and (under fast-math)
   vectorised. No restrict: gcc checks overlap once per call (in-place
   calls stay defined) and still vectorises. */
typedef void (*ff_fwd_loop)(const float *x, float *y, long n);
typedef void (*ff_bwd_loop)(const float *saved, const float *dy, float *dx, long n);

#define FF_FWD_LOOP(name)                                                                          \
    static void fwd_##name(const float *x, float *y, long n)                                       \
    {                                                                                              \
        for (long i = 0; i < n; i++)                                                               \
            y[i] = ff_##name(x[i]);                                                                \
    }
#define FF_BWD_LOOP(name)                                                                          \
    static void bwd_##name(const float *s, const float *dy, float *dx, long n)                     \
    {                                                                                              \
        for (long i = 0; i < n; i++)                                                               \
            dx[i] = ff_##name##_grad(s[i], dy[i]);                                                 \
    }

FF_FWD_LOOP(sigmoid)
FF_FWD_LOOP(tanh)
FF_FWD_LOOP(gelu_erf)
FF_FWD_LOOP(gelu_tanh)
FF_FWD_LOOP(swish)
FF_FWD_LOOP(elu)
FF_FWD_LOOP(softplus)
FF_FWD_LOOP(mish)
FF_FWD_LOOP(relu)
FF_BWD_LOOP(sigmoid)
FF_BWD_LOOP(tanh)
FF_BWD_LOOP(elu)
FF_BWD_LOOP(gelu_erf)

static const ff_fwd_loop ff_fwd_loops[BF_COUNT] = {
    [BF_SIGMOID] = fwd_sigmoid,     [BF_TANH] = fwd_tanh,   [BF_GELU_ERF] = fwd_gelu_erf,
    [BF_GELU_TANH] = fwd_gelu_tanh, [BF_SWISH] = fwd_swish, [BF_ELU] = fwd_elu,
    [BF_SOFTPLUS] = fwd_softplus,   [BF_MISH] = fwd_mish,   [BF_RELU] = fwd_relu,
};
/* NULL: no backward peer for that function (row 2 has these four). */
static const ff_bwd_loop ff_bwd_loops[BF_COUNT] = {
    [BF_SIGMOID] = bwd_sigmoid,
    [BF_TANH] = bwd_tanh,
    [BF_GELU_ERF] = bwd_gelu_erf,
    [BF_ELU] = bwd_elu,
};

typedef struct ff_state {
    ff_fwd_loop fwd;
    ff_bwd_loop bwd;
    const float *a, *b; /* x, or saved and dy */
    float *out;
    long n;
} ff_state;

static void ff_run_fwd(void *state)
{
    ff_state *s = state;
    s->fwd(s->a, s->out, s->n);
}

static void ff_run_bwd(void *state)
{
    ff_state *s = state;
    s->bwd(s->a, s->b, s->out, s->n);
}

/* Fill *k with a kernel owning a small ff_state (freed by destroy). */
static int ff_kernel(ff_state proto, void (*run)(void *), bench_kernel *k)
{
    ff_state *s = malloc(sizeof *s);
    if (!s)
        return -1;
    *s = proto;
    *k = (bench_kernel){.run = run, .destroy = free, .state = s};
    return 0;
}

static int ff_fwd_kernel(bench_func f, const float *x, float *y, long n, bench_kernel *k)
{
    if ((unsigned)f >= BF_COUNT)
        return -1;
    return ff_kernel((ff_state){.fwd = ff_fwd_loops[f], .a = x, .out = y, .n = n}, ff_run_fwd, k);
}

static int ff_bwd_kernel(bench_func f, const float *saved, const float *dy, float *dx, long n,
                         bench_kernel *k)
{
    if ((unsigned)f >= BF_COUNT || !ff_bwd_loops[f])
        return -1;
    return ff_kernel((ff_state){.bwd = ff_bwd_loops[f], .a = saved, .b = dy, .out = dx, .n = n},
                     ff_run_bwd, k);
}

#endif
