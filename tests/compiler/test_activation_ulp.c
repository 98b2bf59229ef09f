/* test_activation_ulp.c -- the activations of the contract's accuracy list,
   JIT-compiled, swept over a dense sample of floats covering every binade of
   both signs (denormals included) against an independent reference written
   here in long double from the definitions (ACT-LANGUAGE.md), rounded to
   float: at most 1 ULP, tiny and denormal results included. The contract
   allows 2; every kernel is built for 1, so a kernel that loses accuracy
   fails here before it reaches the contract's bound. */
#define _DEFAULT_SOURCE /* M_PI */
#include "support.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Every stride-th float bit pattern, both signs: every binade is hit; and
   every (stride/64)-th float of [-16, -8], where exp-based tails are tiny
   beside 1 (a softplus step that lost 1.5 ULP there showed only in a
   denser sweep). */
static float *sample(int64_t *n, uint32_t stride)
{
    uint32_t fine = stride / 64 ? stride / 64 : 1, lo = 0xc1000000u, hi = 0xc1800000u;
    float *x = malloc(((size_t)(0x100000000ULL / stride) + (hi - lo) / fine + 2) * sizeof *x);
    assert_non_null(x);
    int64_t k = 0;
    for (uint64_t bits = 0; bits < 0x100000000ULL; bits += stride) {
        uint32_t b = (uint32_t)bits;
        memcpy(&x[k], &b, 4);
        k += !isnan(x[k]);
    }
    for (uint32_t b = lo; b < hi; b += fine)
        memcpy(&x[k++], &b, 4);
    *n = k;
    return x;
}

/* The references, in long double (64-bit mantissa), written in forms that
   do not cancel where the result is tiny. */
static long double sigmoid(long double x)
{
    return x < 0 ? expl(x) / (1 + expl(x)) : 1 / (1 + expl(-x));
}

static long double ref_sigmoid(long double x)
{
    return sigmoid(x);
}
static long double ref_tanh(long double x)
{
    return tanhl(x);
}
static long double ref_gelu(long double x)
{
    return x / 2 * erfcl(-x / sqrtl(2));
}
static long double ref_gelu_tanh(long double x) /* 1 + tanh(u) = 2 sigmoid(2u) */
{
    return x * sigmoid(2 * sqrtl(2 / M_PI) * (x + 0.044715L * x * x * x));
}
static long double ref_swish(long double x)
{
    return x * sigmoid(x);
}
static long double ref_swish_beta(long double x) /* beta = -1.5: the float kernel splits beta x */
{
    return x * sigmoid(-1.5L * x);
}
static long double ref_elu(long double x)
{
    return x > 0 ? x : expm1l(x);
}
static long double ref_elu_03(long double x)
{
    return x > 0 ? x : 0.3L * expm1l(x);
}
static long double ref_selu(long double x)
{
    return 1.0507009873554805L * (x > 0 ? x : 1.6732632423543772L * expm1l(x));
}
static long double softplus(long double x) /* log(1 + e^x) */
{
    return (x > 0 ? x : 0) + log1pl(expl(-fabsl(x)));
}
static long double ref_softplus(long double x)
{
    return x > 20 ? x : softplus(x);
}
static long double ref_mish(long double x)
{
    return x * tanhl(softplus(x));
}
static long double ref_softsign(long double x)
{
    return isinf(x) ? (x > 0 ? 1 : -1) : x / (1 + fabsl(x));
}
static long double ref_celu(long double x)
{
    return x > 0 ? x : expm1l(x);
}
static long double ref_hard_swish(long double x)
{
    long double r = x + 3 < 0 ? 0 : x + 3 > 6 ? 6 : x + 3;
    return x * r / 6;
}
static long double ref_squareplus(long double x) /* (x + sqrt(x^2 + 4)) / 2 */
{
    long double s = sqrtl(x * x + 4);
    return x < 0 ? 2 / (s - x) : (x + s) / 2;
}

/* The sweep on the JIT of this machine, capped at isa (ACT_MAX_ISA; NULL:
   none) and sampling every stride-th float. */
static void sweep(const char *isa, uint32_t stride)
{
    static const struct {
        const char *call;
        long double (*ref)(long double);
    } calls[] = {{"sigmoid(x)", ref_sigmoid},
                 {"tanh(x)", ref_tanh},
                 {"gelu(x)", ref_gelu},
                 {"gelu(x, approximate = \"tanh\")", ref_gelu_tanh},
                 {"swish(x)", ref_swish},
                 {"silu(x)", ref_swish},
                 {"swish(x, beta = -1.5)", ref_swish_beta},
                 {"elu(x)", ref_elu},
                 {"elu(x, alpha = 0.3)", ref_elu_03},
                 {"selu(x)", ref_selu},
                 {"softplus(x)", ref_softplus},
                 {"mish(x)", ref_mish},
                 {"softsign(x)", ref_softsign},
                 {"celu(x)", ref_celu},
                 {"hard_swish(x)", ref_hard_swish},
                 {"squareplus(x)", ref_squareplus}};
    int64_t n;
    float *x = sample(&n, stride);
    if (isa)
        setenv("ACT_MAX_ISA", isa, 1);
    act_context *ctx = act_context_new();
    for (size_t c = 0; c < sizeof calls / sizeof *calls; c++) {
        char src[256];
        snprintf(src, sizeof src, "graph t {\n input x : f32[N]\n y = %s\n output y\n}\n",
                 calls[c].call);
        act_error err = {0};
        act_program *p = act_compile_string(ctx, src, "t.act", NULL, ACT_ENGINE_JIT, &err);
        assert_non_null(p);
        assert_int_equal(act_set(p, "x", x, &n, 1, &err), 0);
        assert_int_equal(act_forward(p, &err), 0);
        const float *y = act_get(p, "y", NULL, NULL, &err);
        double worst = 0;
        float at = 0;
        for (int64_t i = 0; i < n; i++) {
            float w = (float)calls[c].ref(x[i]);
            double u = ts_ulps(y[i], w);
            if (u > worst || (!isnan(w) && signbit(y[i]) != signbit(w) && y[i] == 0 && w == 0)) {
                worst = u;
                at = x[i];
            }
        }
        print_message("%-6s %-32s max %g ulp (at x = %.9g) over %lld floats\n", isa ? isa : "host",
                      calls[c].call, worst, at, (long long)n);
        if (worst > 1)
            fail_msg("%s: %g ulp at x = %.9g", calls[c].call, worst, at);
        act_program_free(p);
    }
    act_context_free(ctx);
    unsetenv("ACT_MAX_ISA");
    free(x);
}

/* The host's kernels densely, and those the other targets run, less
   densely: at 8 lanes with FMA (avx2: the float-lane kernels, as on
   AVX-512 in 16) and 4 without (sse: the double formulas). 11.6M floats each in the normal build; the
   sanitizer build samples less. */
static void test_activation_ulp_sweep(void **state)
{
    (void)state;
    bool fast = !ACT_SANITIZE_FLAGS[0];
    sweep(NULL, fast ? 421 : 16381);
    sweep("avx2", fast ? 4093 : 65521);
    sweep("sse", fast ? 4093 : 65521);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_activation_ulp_sweep),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
