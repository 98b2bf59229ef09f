/* rng.c -- the seeded counter-based random generator and the parameter
   initialisers. The exact algorithm is part of act's contract
   (docs/initialisers.md): the JIT, the interpreter and anyone reproducing a
   run must get the same bits, so a change here changes the docs and the
   golden values of tests/runtime/test_rng.c (from tests/fixtures/gen_rng.py).
   Arithmetic is IEEE double with no fused multiply-add (-std=c11 keeps GCC
   from contracting). */
#include "rt.h"

#include <assert.h>
#include <math.h>

/* SplitMix64's increment, the odd integer nearest 2^64 / golden ratio
   (Steele, Lea, Flood, "Fast splittable pseudorandom number generators",
   OOPSLA 2014). */
#define GOLDEN_GAMMA UINT64_C(0x9e3779b97f4a7c15)
/* Xored into the seed before mixing, so that seed 0 does not start from state
   mix64(0) = 0; the first 64 bits of pi's fraction. */
#define SEED_SALT UINT64_C(0x243f6a8885a308d3)
#define TWO_PI 0x1.921fb54442d18p+2 /* 2 * pi rounded to double */

/* SplitMix64's output function (Stafford's Mix13 variant of MurmurHash3's
   finalizer): a bijection of 64-bit words with full avalanche. */
#define MIX1 UINT64_C(0xbf58476d1ce4e5b9)
#define MIX2 UINT64_C(0x94d049bb133111eb)

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * MIX1;
    z = (z ^ (z >> 27)) * MIX2;
    return z ^ (z >> 31);
}

/* mix64(mix64(seed ^ SEED_SALT) + counter * GOLDEN_GAMMA), all mod 2^64: the
   stream of one seed is SplitMix64's from the state mix64(seed ^ SEED_SALT).
   Mixing the seed first gives neighbouring seeds unrelated starting states,
   where the state (seed + counter) * GAMMA would make the stream of seed s + 1
   that of seed s shifted by one; mix64 being a bijection, distinct seeds never
   share a start. */
uint64_t rt_rand_u64(uint64_t seed, uint64_t counter)
{
    return mix64(mix64(seed ^ SEED_SALT) + counter * GOLDEN_GAMMA);
}

/* The top 53 bits fill a double's significand exactly, so every value is a
   multiple of 2^-53 in [0, 1 - 2^-53]. */
double rt_rand_uniform(uint64_t seed, uint64_t counter)
{
    return (double)(rt_rand_u64(seed, counter) >> 11) * 0x1p-53;
}

/* Box-Muller's cosine branch on counters 2i and 2i + 1 (mod 2^64), so that
   value i depends on i alone; the sine branch is not used. 1 - u1 lies in
   (0, 1], so log never sees 0, and |z| <= sqrt(-2 ln 2^-53) ~ 8.57. log and
   cos are the C library's (glibc's are within an ulp; the final rounding to
   float hides that almost always). */
double rt_rand_normal(uint64_t seed, uint64_t i)
{
    double u1 = rt_rand_uniform(seed, 2 * i);
    double u2 = rt_rand_uniform(seed, 2 * i + 1);
    return sqrt(-2.0 * log(1.0 - u1)) * cos(TWO_PI * u2);
}

/* lo + (hi - lo) * u_i, rounded to float once. The double lies in [lo, hi);
   rounding to float may reach hi itself. Vectorised where the CPU has 64-bit
   lanes (AVX-512: 268K glorot weights in 0.3 ms scalar, the whole of a
   cached program's creation); with AVX2 alone, fill_uniform_avx2. */
VECTOR_CLONES static void fill_uniform_from(float *out, int64_t from, int64_t n, uint64_t state,
                                            double lo, double hi)
{
    for (int64_t i = from; i < n; i++) {
        double u = (double)(mix64(state + (uint64_t)i * GOLDEN_GAMMA) >> 11) * 0x1p-53;
        out[i] = (float)(lo + (hi - lo) * u);
    }
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#define AVX2 __attribute__((target("avx2")))

/* z * c mod 2^64 in each lane: AVX2 multiplies 32-bit halves only (GCC's
   clone of the loop above stayed scalar, 24 instructions a float). */
AVX2 static inline __m256i mul64(__m256i z, uint64_t c)
{
    __m256i cl = _mm256_set1_epi64x((long long)(uint32_t)c),
            ch = _mm256_set1_epi64x((long long)(c >> 32));
    __m256i cross =
        _mm256_add_epi64(_mm256_mul_epu32(_mm256_srli_epi64(z, 32), cl), _mm256_mul_epu32(z, ch));
    return _mm256_add_epi64(_mm256_mul_epu32(z, cl), _mm256_slli_epi64(cross, 32));
}

/* The floats of counters x (four lanes), as fill_uniform_from computes them:
   mix64, then its top 53 bits as a double made exactly from its two halves
   (each or-ed into the significand of 2^52 or 2^84 and that power taken
   off), the same products and sums, one rounding to float. */
AVX2 static inline __m128 uniform4(__m256i x, __m256d lo, __m256d span)
{
    __m256i z = mul64(_mm256_xor_si256(x, _mm256_srli_epi64(x, 30)), MIX1);
    z = mul64(_mm256_xor_si256(z, _mm256_srli_epi64(z, 27)), MIX2);
    z = _mm256_srli_epi64(_mm256_xor_si256(z, _mm256_srli_epi64(z, 31)), 11);
    __m256i low = _mm256_blend_epi32(_mm256_set1_epi64x(0x4330000000000000), z, 0x55);
    __m256i high =
        _mm256_or_si256(_mm256_set1_epi64x(0x4530000000000000), _mm256_srli_epi64(z, 32));
    __m256d u = _mm256_add_pd(_mm256_sub_pd(_mm256_castsi256_pd(high), _mm256_set1_pd(0x1p84)),
                              _mm256_sub_pd(_mm256_castsi256_pd(low), _mm256_set1_pd(0x1p52)));
    u = _mm256_mul_pd(u, _mm256_set1_pd(0x1p-53));
    return _mm256_cvtpd_ps(_mm256_add_pd(lo, _mm256_mul_pd(span, u)));
}

/* Eight floats a pass, in two independent halves; the last few as above.
   The same bits (test_rng.c), 0.59x the time of the scalar loop here. */
AVX2 static void fill_uniform_avx2(float *out, int64_t n, uint64_t state, double lo, double hi)
{
    __m256d vlo = _mm256_set1_pd(lo), span = _mm256_set1_pd(hi - lo);
    __m256i x = _mm256_set_epi64x((long long)(state + 3 * GOLDEN_GAMMA),
                                  (long long)(state + 2 * GOLDEN_GAMMA),
                                  (long long)(state + GOLDEN_GAMMA), (long long)state);
    const __m256i four = _mm256_set1_epi64x((long long)(4 * GOLDEN_GAMMA));
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256i y = _mm256_add_epi64(x, four);
        _mm_storeu_ps(out + i, uniform4(x, vlo, span));
        _mm_storeu_ps(out + i + 4, uniform4(y, vlo, span));
        x = _mm256_add_epi64(y, four);
    }
    fill_uniform_from(out, i, n, state, lo, hi);
}
#endif

static void fill_uniform(float *out, int64_t n, uint64_t seed, double lo, double hi)
{
    uint64_t state = mix64(seed ^ SEED_SALT); /* rt_rand_u64's first step, once per tensor */
#if defined(__x86_64__) && defined(__GNUC__)
    /* AVX-512's clone above has 64-bit multiplies of its own */
    if (__builtin_cpu_supports("avx2") && !__builtin_cpu_supports("avx512dq")) {
        fill_uniform_avx2(out, n, state, lo, hi);
        return;
    }
#endif
    fill_uniform_from(out, 0, n, state, lo, hi);
}

/* Glorot & Bengio (2010)'s limit sqrt(6 / (fan_in + fan_out)) for a tensor of
   n > 0 elements. fan_out is the last dim and fan_in the product of the
   others, so dense's W [K, M] gets K and M; a rank-1 tensor uses n for both
   and a scalar 1 for both. */
static double glorot_limit(const int64_t *shape, int rank, int64_t n)
{
    int64_t fan_out = rank > 0 ? shape[rank - 1] : 1;
    int64_t fan_in = rank == 1 ? n : n / fan_out;
    return sqrt(6.0 / ((double)fan_in + (double)fan_out));
}

void rt_init_fill(const ir_init *init, const int64_t *shape, int rank, float *out)
{
    int64_t n = 1;
    for (int i = 0; i < rank; i++)
        n *= shape[i];
    switch (init->kind) {
    case IR_INIT_ZEROS:
    case IR_INIT_ONES:
    case IR_INIT_FILL: {
        float v = init->kind == IR_INIT_ZEROS  ? 0.0f
                  : init->kind == IR_INIT_ONES ? 1.0f
                                               : (float)init->a;
        for (int64_t i = 0; i < n; i++)
            out[i] = v;
        return;
    }
    case IR_INIT_UNIFORM:
        fill_uniform(out, n, init->seed, init->a, init->b);
        return;
    case IR_INIT_GLOROT:
        if (n > 0) {
            double limit = glorot_limit(shape, rank, n);
            fill_uniform(out, n, init->seed, -limit, limit);
        }
        return;
    case IR_INIT_NORMAL:
        for (int64_t i = 0; i < n; i++)
            out[i] = (float)(init->a + init->b * rt_rand_normal(init->seed, (uint64_t)i));
        return;
    case IR_INIT_LIST:
        /* the verifier checked the list's length against the param's shape */
        assert(init->nlist == n);
        for (int64_t i = 0; i < n; i++)
            out[i] = (float)init->list[i];
        return;
    case IR_INIT_NPY:
    case IR_INIT_NONE:
        assert(!"rt_init_fill: npy and run-time params are loaded elsewhere");
        return;
    }
}
