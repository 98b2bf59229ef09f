/* peer_eigen.cpp -- the Eigen peer of row 1: x and y mapped as
   Eigen::ArrayXf and each bench_func written as one array expression, which
   Eigen evaluates in a single AVX-512 packet loop (Packet16f). */
#include "peers.h"

#ifdef BENCH_HAVE_EIGEN

/* GCC 12 flags _mm512_undefined_ps() (`__m512 __Y = __Y;`) in its own
   avx512fintrin.h as maybe-uninitialized wherever Eigen inlines it (GCC
   PR 105593, fixed in GCC 13); the pragma must precede the intrinsics headers. */
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

/* Eigen 3.4's bfloat16 packets hold unused locals; silenced here in case the
   build passes Eigen with -I rather than -isystem. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-variable"
#include <Eigen/Core>
#include <unsupported/Eigen/SpecialFunctions> /* ArrayBase::erf */
#pragma GCC diagnostic pop

#include <cstdlib>

/* Eigen picks its packet size from the compiler's target flags: with
   -march=native on this CPU it is AVX-512 (EIGEN_VECTORIZE_AVX512). */
#if defined(EIGEN_VECTORIZE_AVX512)
#define EIGEN_SIMD "AVX-512, Packet16f"
#elif defined(EIGEN_VECTORIZE_AVX)
#define EIGEN_SIMD "AVX, Packet8f"
#elif defined(EIGEN_VECTORIZE)
#define EIGEN_SIMD "SSE, Packet4f"
#else
#define EIGEN_SIMD "not vectorised"
#endif

namespace
{

const float sqrt1_2 = 0.70710678118654752440f;        /* 1 / sqrt(2) */
const float sqrt_2_over_pi = 0.79788456080286535588f; /* sqrt(2 / pi) */

struct eigen_state {
    bench_func f;
    const float *x;
    float *y;
    long n;
};

/* Unaligned maps: the arrays are 64-byte aligned in the benchmark, where
   unaligned loads cost nothing, and any other caller stays safe. */
using in_map = Eigen::Map<const Eigen::ArrayXf>;
using out_map = Eigen::Map<Eigen::ArrayXf>;

/* Eigen 3.4's select() has no packet path (it would run the whole expression
   one float at a time), so the two piecewise functions are written with
   max/min, which Eigen vectorises:
   elu: max(x, 0) + expm1(min(x, 0)) is x for x > 0 and expm1(x) otherwise;
   softplus: max(x, 0) + log1p(exp(-|x|)), the overflow-free form, equals
   log1p(exp(x)) and rounds to x above PyTorch's threshold 20. */
template <typename X> auto softplus(const X &x)
{
    return x.max(0.0f) + (-x.abs()).exp().log1p();
}

void eigen_run(void *state)
{
    const eigen_state *s = static_cast<const eigen_state *>(state);
    in_map x(s->x, s->n);
    out_map y(s->y, s->n);
    switch (s->f) {
    case BF_SIGMOID:
        y = x.logistic();
        break;
    case BF_TANH:
        y = x.tanh();
        break;
    case BF_GELU_ERF:
        y = 0.5f * x * (1.0f + (x * sqrt1_2).erf());
        break;
    case BF_GELU_TANH:
        y = 0.5f * x * (1.0f + (sqrt_2_over_pi * (x + 0.044715f * x.cube())).tanh());
        break;
    case BF_SWISH:
        y = x * x.logistic();
        break;
    case BF_ELU:
        y = x.max(0.0f) + x.min(0.0f).expm1();
        break;
    case BF_SOFTPLUS:
        y = softplus(x);
        break;
    case BF_MISH:
        y = x * softplus(x).tanh();
        break;
    case BF_RELU:
        y = x.max(0.0f);
        break;
    case BF_COUNT:
        break;
    }
}

} // namespace

int peer_eigen_fwd(bench_func f, const float *x, float *y, long n, bench_kernel *k)
{
    if (static_cast<unsigned>(f) >= BF_COUNT)
        return -1;
    eigen_state *s = static_cast<eigen_state *>(std::malloc(sizeof *s));
    if (!s)
        return -1;
    *s = eigen_state{f, x, y, n};
    *k = bench_kernel{eigen_run, std::free, s};
    return 0;
}

#define STR2(x) #x
#define STR(x) STR2(x)

const char *peer_eigen_describe(void)
{
    return "Eigen " STR(EIGEN_WORLD_VERSION) "." STR(EIGEN_MAJOR_VERSION) "." STR(
        EIGEN_MINOR_VERSION) " (" EIGEN_SIMD ")";
}

#else

int peer_eigen_fwd(bench_func f, const float *x, float *y, long n, bench_kernel *k)
{
    (void)f, (void)x, (void)y, (void)n, (void)k;
    return -1;
}

const char *peer_eigen_describe(void)
{
    return nullptr;
}

#endif
