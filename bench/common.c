/* common.c -- timing, memory, data and the long-double references shared by
   every row of the benchmark. */
#include "bench.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *const bench_func_name[BF_COUNT] = {
    "sigmoid", "tanh", "gelu_erf", "gelu_tanh", "swish", "elu", "softplus", "mish", "relu"};

double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

enum { MAX_SAMPLES = 4096 };

void bench_time_in_turn(const bench_kernel *const *k, int nk, int min_samples, double min_seconds,
                        double *med)
{
    static double t[BENCH_IN_TURN_MAX][MAX_SAMPLES];
    for (int w = 0; w < 3; w++)
        for (int j = 0; j < nk; j++)
            k[j]->run(k[j]->state);
    int n = 0;
    for (double start = bench_now();
         n < MAX_SAMPLES && (n < min_samples || bench_now() - start < min_seconds * nk); n++)
        for (int j = 0; j < nk; j++) {
            double t0 = bench_now();
            k[j]->run(k[j]->state);
            t[j][n] = bench_now() - t0;
        }
    for (int j = 0; j < nk; j++) {
        qsort(t[j], (size_t)n, sizeof *t[j], cmp_double);
        med[j] = t[j][n / 2];
    }
}

double bench_time(const bench_kernel *k, int min_samples, double min_seconds)
{
    double med;
    bench_time_in_turn(&k, 1, min_samples, min_seconds, &med);
    return med;
}

void bench_kernel_free(bench_kernel *k)
{
    if (k->destroy)
        k->destroy(k->state);
    memset(k, 0, sizeof *k);
}

float *bench_alloc(size_t n)
{
    size_t bytes = (n * sizeof(float) + 63) / 64 * 64;
    float *p = aligned_alloc(64, bytes ? bytes : 64);
    if (p)
        memset(p, 0, bytes);
    return p;
}

void bench_free(float *p)
{
    free(p);
}

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void bench_fill(float *x, size_t n, float lo, float hi, uint64_t seed)
{
    uint64_t s = seed;
    for (size_t i = 0; i < n; i++)
        x[i] = lo + (hi - lo) * (float)((double)(splitmix(&s) >> 11) * 0x1p-53);
}

double bench_ulp(float got, long double want)
{
    if (isnan(got) && isnan(want))
        return 0;
    if (isnan(got) || isnan(want))
        return 1e30;
    if (isinf(want) || isinf(got))
        return (long double)got == want ? 0 : 1e30;
    long double a = fabsl(want);
    /* one ULP of float at |want|: 2^(e-23) for normal numbers, 2^-149 below */
    int e;
    frexpl(a, &e); /* a = m 2^e, m in [0.5, 1) */
    long double ulp = a >= 0x1p-126L ? ldexpl(1, e - 24) : 0x1p-149L;
    return (double)(fabsl((long double)got - want) / ulp);
}

static long double sigm(long double x)
{
    return x >= 0 ? 1 / (1 + expl(-x)) : expl(x) / (1 + expl(x));
}

static long double softplus(long double x)
{
    return x > 20 ? x : log1pl(expl(x)); /* PyTorch's threshold 20 */
}

static long double gelu_tanh_inner(long double x)
{
    return 0.7978845608028653558798921198687637L * (x + 0.044715L * x * x * x);
}

long double bench_ref(bench_func f, long double x)
{
    switch (f) {
    case BF_SIGMOID:
        return sigm(x);
    case BF_TANH:
        return tanhl(x);
    case BF_GELU_ERF:
        return x < 0 ? 0.5L * x * erfcl(-x * 0.7071067811865475244008443621048490L)
                     : 0.5L * x * (1 + erfl(x * 0.7071067811865475244008443621048490L));
    case BF_GELU_TANH: /* (1 + tanh u) / 2 = sigmoid(2u), without the cancellation */
        return x * sigm(2 * gelu_tanh_inner(x));
    case BF_SWISH:
        return x * sigm(x);
    case BF_ELU:
        return x > 0 ? x : expm1l(x);
    case BF_SOFTPLUS:
        return softplus(x);
    case BF_MISH:
        return x * tanhl(x > 20 ? x : log1pl(expl(x)));
    case BF_RELU:
        return x > 0 ? x : 0;
    case BF_COUNT:
        break;
    }
    return NAN;
}

long double bench_ref_grad(bench_func f, long double x)
{
    switch (f) {
    case BF_SIGMOID: {
        long double s = sigm(x);
        return s * sigm(-x);
    }
    case BF_TANH: {
        long double t = tanhl(x);
        return 1 - t * t;
    }
    case BF_GELU_ERF: {
        long double cdf = bench_ref(BF_GELU_ERF, x) / x;
        if (x == 0)
            cdf = 0.5L;
        return cdf + x * expl(-0.5L * x * x) * 0.3989422804014326779399460599343819L;
    }
    case BF_GELU_TANH: {
        long double u = gelu_tanh_inner(x), s = sigm(2 * u);
        long double du = 0.7978845608028653558798921198687637L * (1 + 3 * 0.044715L * x * x);
        return s + 2 * x * s * sigm(-2 * u) * du; /* (1 - tanh^2 u) / 2 = 2 s (1 - s) */
    }
    case BF_SWISH: {
        long double s = sigm(x);
        return s + x * s * sigm(-x);
    }
    case BF_ELU:
        return x > 0 ? 1 : expl(x);
    case BF_SOFTPLUS:
        return x > 20 ? 1 : sigm(x);
    case BF_MISH: {
        long double sp = softplus(x), t = tanhl(sp);
        return t + x * (1 - t * t) * sigm(x);
    }
    case BF_RELU:
        return x > 0 ? 1 : 0;
    case BF_COUNT:
        break;
    }
    return NAN;
}
