/* peer_sleef.c -- the SLEEF peer of row 1: 16-lane AVX-512 loops over SLEEF's
   1.0-ULP float functions (the FMA AVX-512 builds, Sleef_*f16_u10avx512f),
   each bench_func composed from them the way bench.h defines it, with a
   masked tail for n not a multiple of 16. */
#include "peers.h"

#ifdef BENCH_HAVE_SLEEF

#include <immintrin.h>
#include <sleef.h>
#include <stdlib.h>

#define SQRT1_2 0.70710678118654752440f        /* 1 / sqrt(2) */
#define SQRT_2_OVER_PI 0.79788456080286535588f /* sqrt(2 / pi) */

static __m512 v_one(void)
{
    return _mm512_set1_ps(1.0f);
}

/* 1 / (1 + exp(-x)) */
static __m512 v_sigmoid(__m512 x)
{
    __m512 e = Sleef_expf16_u10avx512f(_mm512_sub_ps(_mm512_setzero_ps(), x));
    return _mm512_div_ps(v_one(), _mm512_add_ps(v_one(), e));
}

static __m512 v_tanh(__m512 x)
{
    return Sleef_tanhf16_u10avx512f(x);
}

/* x/2 (1 + erf(x / sqrt 2)) */
static __m512 v_gelu_erf(__m512 x)
{
    __m512 e = Sleef_erff16_u10avx512f(_mm512_mul_ps(x, _mm512_set1_ps(SQRT1_2)));
    return _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(0.5f), x), _mm512_add_ps(v_one(), e));
}

/* x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) */
static __m512 v_gelu_tanh(__m512 x)
{
    __m512 x3 = _mm512_mul_ps(_mm512_mul_ps(x, x), x);
    __m512 u = _mm512_fmadd_ps(_mm512_set1_ps(0.044715f), x3, x);
    __m512 t = Sleef_tanhf16_u10avx512f(_mm512_mul_ps(_mm512_set1_ps(SQRT_2_OVER_PI), u));
    return _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(0.5f), x), _mm512_add_ps(v_one(), t));
}

/* x / (1 + exp(-x)) */
static __m512 v_swish(__m512 x)
{
    __m512 e = Sleef_expf16_u10avx512f(_mm512_sub_ps(_mm512_setzero_ps(), x));
    return _mm512_div_ps(x, _mm512_add_ps(v_one(), e));
}

/* x > 0 ? x : expm1(x) */
static __m512 v_elu(__m512 x)
{
    __mmask16 pos = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_GT_OQ);
    return _mm512_mask_blend_ps(pos, Sleef_expm1f16_u10avx512f(x), x);
}

/* x > 20 ? x : log1p(exp(x)), PyTorch's threshold */
static __m512 v_softplus(__m512 x)
{
    __mmask16 big = _mm512_cmp_ps_mask(x, _mm512_set1_ps(20.0f), _CMP_GT_OQ);
    __m512 sp = Sleef_log1pf16_u10avx512f(Sleef_expf16_u10avx512f(x));
    return _mm512_mask_blend_ps(big, sp, x);
}

static __m512 v_mish(__m512 x)
{
    return _mm512_mul_ps(x, Sleef_tanhf16_u10avx512f(v_softplus(x)));
}

/* x > 0 ? x : 0; a NaN x gives 0, as the reference does */
static __m512 v_relu(__m512 x)
{
    return _mm512_max_ps(x, _mm512_setzero_ps());
}

typedef void (*sleef_loop)(const float *x, float *y, long n);

/* Whole vectors, then one masked vector for the n % 16 tail (masked lanes
   read nothing, compute on zeros and store nothing). */
#define SLEEF_LOOP(name)                                                                           \
    static void loop_##name(const float *x, float *y, long n)                                      \
    {                                                                                              \
        long i = 0;                                                                                \
        for (; i + 16 <= n; i += 16)                                                               \
            _mm512_storeu_ps(y + i, v_##name(_mm512_loadu_ps(x + i)));                             \
        if (i < n) {                                                                               \
            __mmask16 m = (__mmask16)((1u << (n - i)) - 1);                                        \
            _mm512_mask_storeu_ps(y + i, m, v_##name(_mm512_maskz_loadu_ps(m, x + i)));            \
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
        SLEEF_VERSION_PATCHLEVEL) " (u10 avx512f, 16 lanes)";
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
