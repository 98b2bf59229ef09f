/* peer_sleef.c -- the SLEEF peer of row 1: loops over SLEEF's 1.0-ULP float
   functions in the widest build this CPU runs (the bench is compiled with
   -march=native): 16 lanes with AVX-512 (Sleef_*f16_u10avx512f), 8 with
   AVX2 and FMA (Sleef_*f8_u10avx2), none otherwise. Each bench_func is
   composed from them the way bench.h defines it, with the n % lanes tail
   computed on a zero-padded copy. */
#include "peers.h"

#include "simd.h"

#if defined(BENCH_HAVE_SLEEF) && BENCH_LANES

#include <sleef.h>
#include <stdlib.h>
#include <string.h>

#if BENCH_LANES == 16
#define ISA "avx512f"
#define SLEEF(f) Sleef_##f##f16_u10avx512f
/* where x > k, b; elsewhere a */
static vf where_gt(vf x, float k, vf a, vf b)
{
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, _mm512_set1_ps(k), _CMP_GT_OQ), a, b);
}
#else
#define ISA "avx2"
#define SLEEF(f) Sleef_##f##f8_u10avx2
static vf where_gt(vf x, float k, vf a, vf b)
{
    return _mm256_blendv_ps(a, b, _mm256_cmp_ps(x, _mm256_set1_ps(k), _CMP_GT_OQ));
}
#endif

#define SQRT1_2 0.70710678118654752440f        /* 1 / sqrt(2) */
#define SQRT_2_OVER_PI 0.79788456080286535588f /* sqrt(2 / pi) */

static vf v_one(void)
{
    return V(set1)(1.0f);
}

/* 1 / (1 + exp(-x)) */
static vf v_sigmoid(vf x)
{
    vf e = SLEEF(exp)(V(sub)(V(setzero)(), x));
    return V(div)(v_one(), V(add)(v_one(), e));
}

static vf v_tanh(vf x)
{
    return SLEEF(tanh)(x);
}

/* x/2 (1 + erf(x / sqrt 2)) */
static vf v_gelu_erf(vf x)
{
    vf e = SLEEF(erf)(V(mul)(x, V(set1)(SQRT1_2)));
    return V(mul)(V(mul)(V(set1)(0.5f), x), V(add)(v_one(), e));
}

/* x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) */
static vf v_gelu_tanh(vf x)
{
    vf x3 = V(mul)(V(mul)(x, x), x);
    vf u = V(fmadd)(V(set1)(0.044715f), x3, x);
    vf t = SLEEF(tanh)(V(mul)(V(set1)(SQRT_2_OVER_PI), u));
    return V(mul)(V(mul)(V(set1)(0.5f), x), V(add)(v_one(), t));
}

/* x / (1 + exp(-x)) */
static vf v_swish(vf x)
{
    vf e = SLEEF(exp)(V(sub)(V(setzero)(), x));
    return V(div)(x, V(add)(v_one(), e));
}

/* x > 0 ? x : expm1(x) */
static vf v_elu(vf x)
{
    return where_gt(x, 0.0f, SLEEF(expm1)(x), x);
}

/* x > 20 ? x : log1p(exp(x)), PyTorch's threshold */
static vf v_softplus(vf x)
{
    return where_gt(x, 20.0f, SLEEF(log1p)(SLEEF(exp)(x)), x);
}

static vf v_mish(vf x)
{
    return V(mul)(x, SLEEF(tanh)(v_softplus(x)));
}

/* x > 0 ? x : 0; a NaN x gives 0, as the reference does */
static vf v_relu(vf x)
{
    return V(max)(x, V(setzero)());
}

typedef void (*sleef_loop)(const float *x, float *y, long n);

/* Whole vectors, then the n % BENCH_LANES tail through a zero-padded copy. */
#define SLEEF_LOOP(name)                                                                           \
    static void loop_##name(const float *x, float *y, long n)                                      \
    {                                                                                              \
        long i = 0;                                                                                \
        for (; i + BENCH_LANES <= n; i += BENCH_LANES)                                             \
            V(storeu)(y + i, v_##name(V(loadu)(x + i)));                                           \
        if (i < n) {                                                                               \
            float in[BENCH_LANES] = {0}, out[BENCH_LANES];                                         \
            memcpy(in, x + i, (size_t)(n - i) * sizeof *x);                                        \
            V(storeu)(out, v_##name(V(loadu)(in)));                                                \
            memcpy(y + i, out, (size_t)(n - i) * sizeof *y);                                       \
        }                                                                                          \
    }

SLEEF_LOOP(sigmoid)
SLEEF_LOOP(tanh)
SLEEF_LOOP(gelu_erf)
SLEEF_LOOP(gelu_tanh)
SLEEF_LOOP(swish)
SLEEF_LOOP(elu)
SLEEF_LOOP(softplus)
SLEEF_LOOP(mish)
SLEEF_LOOP(relu)

static const sleef_loop loops[BF_COUNT] = {
    [BF_SIGMOID] = loop_sigmoid,     [BF_TANH] = loop_tanh,   [BF_GELU_ERF] = loop_gelu_erf,
    [BF_GELU_TANH] = loop_gelu_tanh, [BF_SWISH] = loop_swish, [BF_ELU] = loop_elu,
    [BF_SOFTPLUS] = loop_softplus,   [BF_MISH] = loop_mish,   [BF_RELU] = loop_relu,
};

typedef struct sleef_state {
    sleef_loop loop;
    const float *x;
    float *y;
    long n;
} sleef_state;

static void sleef_run(void *state)
{
    sleef_state *s = state;
    s->loop(s->x, s->y, s->n);
}

int peer_sleef_fwd(bench_func f, const float *x, float *y, long n, bench_kernel *k)
{
    if ((unsigned)f >= BF_COUNT)
        return -1;
    sleef_state *s = malloc(sizeof *s);
    if (!s)
        return -1;
    *s = (sleef_state){.loop = loops[f], .x = x, .y = y, .n = n};
    *k = (bench_kernel){.run = sleef_run, .destroy = free, .state = s};
    return 0;
}

#define STR2(x) #x
#define STR(x) STR2(x)

const char *peer_sleef_describe(void)
{
    return "SLEEF " STR(SLEEF_VERSION_MAJOR) "." STR(SLEEF_VERSION_MINOR) "." STR(
        SLEEF_VERSION_PATCHLEVEL) " (u10 " ISA ", " STR(BENCH_LANES) " lanes)";
}

#else

int peer_sleef_fwd(bench_func f, const float *x, float *y, long n, bench_kernel *k)
{
    (void)f, (void)x, (void)y, (void)n, (void)k;
    return -1;
}

const char *peer_sleef_describe(void)
{
    return NULL;
}

#endif
