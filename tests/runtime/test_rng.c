/* test_rng.c -- runtime/rng.c: the generator gives the documented bits
   (golden values), is deterministic, has the right distributions, and each
   initialiser fills what docs/initialisers.md says. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "runtime/rt.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Sample size of the statistical tests; their bounds are 5 standard errors,
   and the seeds are fixed, so they pass or fail deterministically. */
enum { N = 100000 };

/* ---- golden values, printed by tests/fixtures/gen_rng.py (an independent
   Python implementation of docs/initialisers.md) and pasted here --------- */

static void test_u64_matches_golden_values(void **state)
{
    (void)state;
    static const struct {
        uint64_t seed, counter, value;
    } golden[] = {
        {0ull, 0ull, 0xa8871e3718ca0053ull},
        {0ull, 1ull, 0x74d28e025ceaac29ull},
        {1ull, 0ull, 0x6a9a55df53e94f74ull},
        {42ull, 7ull, 0xa29b25510888fce9ull},
        {18446744073709551615ull, 18446744073709551615ull, 0x747639eb256f30b8ull},
        {123456789ull, 1000000ull, 0x9b295ed76b71971bull},
    };
    for (size_t i = 0; i < sizeof golden / sizeof golden[0]; i++)
        assert_true(rt_rand_u64(golden[i].seed, golden[i].counter) == golden[i].value);
}

static void test_uniform_and_normal_match_golden_values(void **state)
{
    (void)state;
    static const struct {
        uint64_t seed, counter;
        double value;
    } uniform[] =
        {
            {0ull, 0ull, 0x1.510e3c6e31940p-1},
            {42ull, 7ull, 0x1.45364aa21111fp-1},
            {2024ull, 99ull, 0x1.bdab9549a6984p-3},
        },
      normal[] = {
          {0ull, 0ull, -0x1.6923f42cb208fp+0},
          {42ull, 3ull, -0x1.68e084b10c107p+0},
          {7ull, 4611686018427387904ull, 0x1.d511d876e6a99p-3},
          {99ull, 12345ull, 0x1.d9c715c2da622p-2},
      };
    for (size_t i = 0; i < sizeof uniform / sizeof uniform[0]; i++)
        assert_true(rt_rand_uniform(uniform[i].seed, uniform[i].counter) == uniform[i].value);
    /* log and cos come from the C library: allow a few ulps for another libm */
    for (size_t i = 0; i < sizeof normal / sizeof normal[0]; i++) {
        double z = rt_rand_normal(normal[i].seed, normal[i].counter);
        assert_true(fabs(z - normal[i].value) <= 1e-15 * fabs(normal[i].value));
    }
}

static void assert_floats_equal(const float *got, const double *want, int n)
{
    for (int i = 0; i < n; i++)
        if (got[i] != (float)want[i])
            fail_msg("element %d: %a, expected %a", i, (double)got[i], want[i]);
}

static void test_fills_match_golden_values(void **state)
{
    (void)state;
    static const double uniform[] = {0x1.2595760000000p-2, 0x1.0505fa0000000p+0,
                                     0x1.cae4640000000p+0, 0x1.86d9f00000000p+0,
                                     0x1.1cec200000000p-1, -0x1.6a7d840000000p-3};
    static const double normal[] = {-0x1.6165ea0000000p+1, -0x1.fd5da00000000p-3,
                                    0x1.6a55020000000p-3, 0x1.8d00520000000p+0};
    static const double glorot_2d[] = {-0x1.7707b20000000p-3, 0x1.0075f20000000p-3,
                                       -0x1.35d5200000000p-1, -0x1.bbd7b00000000p-1,
                                       -0x1.6401f80000000p-2, -0x1.d605e40000000p-2};
    static const double glorot_1d[] = {-0x1.5ead560000000p-1, -0x1.0286100000000p-2,
                                       -0x1.fe5cb60000000p-4, -0x1.261e120000000p-1};
    float out[6];
    int64_t s23[2] = {2, 3}, s4[1] = {4}, s32[2] = {3, 2};
    rt_init_fill(&(ir_init){.kind = IR_INIT_UNIFORM, .a = -1, .b = 2, .seed = 42}, s23, 2, out);
    assert_floats_equal(out, uniform, 6);
    rt_init_fill(&(ir_init){.kind = IR_INIT_NORMAL, .a = 0.5, .b = 2, .seed = 7}, s4, 1, out);
    assert_floats_equal(out, normal, 4);
    rt_init_fill(&(ir_init){.kind = IR_INIT_GLOROT, .seed = 1}, s32, 2, out);
    assert_floats_equal(out, glorot_2d, 6);
    rt_init_fill(&(ir_init){.kind = IR_INIT_GLOROT, .seed = 5}, s4, 1, out);
    assert_floats_equal(out, glorot_1d, 4);
}

/* A large fill, at elements either side of the eight-float passes of the
   AVX2 path (runtime/rng.c) and its last */
static void test_a_large_fill_matches_golden_values(void **state)
{
    (void)state;
    static const int64_t at[] = {0, 3, 4, 7, 8, 9, 15, 16, 12345, 200703};
    static const double w1[] = {-0x1.a00efa0000000p-7, -0x1.ec662a0000000p-5, -0x1.8af4800000000p-6,
                                -0x1.89bd2a0000000p-6, 0x1.0328580000000p-4,  0x1.f54b540000000p-17,
                                -0x1.19fbdc0000000p-4, 0x1.2aa56a0000000p-5,  -0x1.9ed9520000000p-5,
                                -0x1.18faee0000000p-4};
    int64_t shape[2] = {784, 256};
    float *out = malloc(784 * 256 * sizeof *out);
    assert_non_null(out);
    rt_init_fill(&(ir_init){.kind = IR_INIT_GLOROT, .seed = 1}, shape, 2, out);
    for (size_t i = 0; i < sizeof at / sizeof *at; i++)
        if (out[at[i]] != (float)w1[i])
            fail_msg("element %lld: %a, expected %a", (long long)at[i], (double)out[at[i]], w1[i]);
    free(out);
}

/* Every element of a fill of any length is the golden rt_rand_uniform's,
   scaled and rounded once: the vector passes, the elements after them, and
   fills shorter than a pass. */
static void test_fills_of_every_length_match_the_generator(void **state)
{
    (void)state;
    static const struct {
        uint64_t seed;
        double lo, hi;
    } cases[] = {{0, 0, 1}, {42, -1, 2}, {UINT64_MAX, -0.0625, 0.0625}, {7, 1e-30, 3e38}};
    float out[1003];
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++)
        for (int64_t n = 0; n <= 1003; n += n < 40 ? 1 : 321) {
            int64_t shape[1] = {n};
            memset(out, 0xff, sizeof out);
            rt_init_fill(&(ir_init){.kind = IR_INIT_UNIFORM,
                                    .a = cases[c].lo,
                                    .b = cases[c].hi,
                                    .seed = cases[c].seed},
                         shape, 1, out);
            for (int64_t i = 0; i < n; i++) {
                double u = rt_rand_uniform(cases[c].seed, (uint64_t)i);
                float want = (float)(cases[c].lo + (cases[c].hi - cases[c].lo) * u);
                if (memcmp(&out[i], &want, sizeof want))
                    fail_msg("seed %llu, n %lld, element %lld: %a, expected %a",
                             (unsigned long long)cases[c].seed, (long long)n, (long long)i,
                             (double)out[i], (double)want);
            }
            for (int64_t i = n; i < 1003; i++) /* nothing past the end */
                assert_true(isnan(out[i]));
        }
}

/* ---- the generator ------------------------------------------------------ */

static int compare_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static void test_generator_is_deterministic_and_seeds_differ(void **state)
{
    (void)state;
    uint64_t *v = malloc(100 * 100 * sizeof *v);
    for (uint64_t seed = 0; seed < 100; seed++)
        for (uint64_t i = 0; i < 100; i++) {
            v[seed * 100 + i] = rt_rand_u64(seed, i);
            assert_true(rt_rand_u64(seed, i) == v[seed * 100 + i]);
        }
    qsort(v, 100 * 100, sizeof *v, compare_u64);
    for (int i = 1; i < 100 * 100; i++)
        assert_true(v[i] != v[i - 1]);
    free(v);
    /* neighbouring seeds are not one stream shifted, and are uncorrelated */
    double sxy = 0, sx = 0, sy = 0, sxx = 0, syy = 0;
    for (uint64_t i = 0; i < N; i++) {
        assert_true(rt_rand_u64(8, i + 1) != rt_rand_u64(9, i));
        double x = rt_rand_uniform(8, i), y = rt_rand_uniform(9, i);
        sx += x, sy += y, sxy += x * y, sxx += x * x, syy += y * y;
    }
    double r = (sxy - sx * sy / N) / sqrt((sxx - sx * sx / N) * (syy - sy * sy / N));
    assert_true(fabs(r) < 5 / sqrt(N));
}

static void test_uniform_is_in_unit_interval_and_flat(void **state)
{
    (void)state;
    double sum = 0, sum2 = 0, lo = 1, hi = 0;
    int bins[10] = {0};
    for (uint64_t i = 0; i < N; i++) {
        double u = rt_rand_uniform(3, i);
        assert_true(u >= 0 && u < 1);
        lo = fmin(lo, u), hi = fmax(hi, u);
        sum += u, sum2 += u * u;
        bins[(int)(u * 10)]++;
    }
    double mean = sum / N, var = sum2 / N - mean * mean;
    /* standard errors: sqrt(1/12 / N) for the mean, sqrt((1/80 - 1/144) / N)
       for the variance */
    assert_true(fabs(mean - 0.5) < 5 * sqrt(1.0 / 12 / N));
    assert_true(fabs(var - 1.0 / 12) < 5 * sqrt((1.0 / 80 - 1.0 / 144) / N));
    assert_true(lo < 1e-4 && hi > 1 - 1e-4);
    double chi2 = 0;
    for (int b = 0; b < 10; b++)
        chi2 += (bins[b] - N / 10.0) * (bins[b] - N / 10.0) / (N / 10.0);
    assert_true(chi2 < 27.88); /* the 99.9% point of chi-square with 9 degrees of freedom */
}

static void test_normal_has_unit_moments(void **state)
{
    (void)state;
    double sum = 0, sum2 = 0;
    int within_one = 0;
    for (uint64_t i = 0; i < N; i++) {
        double z = rt_rand_normal(11, i);
        assert_true(isfinite(z) && fabs(z) <= 8.58); /* sqrt(-2 ln 2^-53) */
        sum += z, sum2 += z * z;
        within_one += fabs(z) < 1;
    }
    double mean = sum / N, var = sum2 / N - mean * mean, p = 0.6826894921370859;
    assert_true(fabs(mean) < 5 / sqrt(N));
    assert_true(fabs(var - 1) < 5 * sqrt(2.0 / N));
    assert_true(fabs((double)within_one / N - p) < 5 * sqrt(p * (1 - p) / N));
}

/* ---- initialisers ------------------------------------------------------- */

static void test_glorot_stays_within_its_limit(void **state)
{
    (void)state;
    int64_t shape[2] = {100, 50};
    float *w = malloc(100 * 50 * sizeof *w);
    rt_init_fill(&(ir_init){.kind = IR_INIT_GLOROT, .seed = 9}, shape, 2, w);
    double limit = sqrt(6.0 / 150), top = 0, sum = 0;
    for (int i = 0; i < 100 * 50; i++) {
        /* the double is below the limit; rounding to float may reach it */
        assert_true(fabsf(w[i]) <= (float)limit);
        top = fmax(top, fabs(w[i]));
        sum += w[i];
    }
    assert_true(top > 0.999 * limit);
    assert_true(fabs(sum / 5000) < 5 * limit / sqrt(3 * 5000.0));
    free(w);
}

/* fan_out is the last dim, fan_in the product of the others; n for both in
   rank 1, 1 for both in rank 0. Element 0 shows the limit L: -L + 2L u_0. */
static void test_glorot_takes_fans_from_the_shape(void **state)
{
    (void)state;
    static const struct {
        int rank;
        int64_t shape[4];
        double fans;
    } cases[] = {
        {0, {0}, 2}, {1, {7}, 14}, {2, {4, 3}, 7}, {3, {2, 3, 4}, 10}, {4, {2, 1, 3, 5}, 11}};
    float out[120];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rt_init_fill(&(ir_init){.kind = IR_INIT_GLOROT, .seed = 3}, cases[i].shape, cases[i].rank,
                     out);
        double limit = sqrt(6.0 / cases[i].fans);
        assert_true(out[0] == (float)(-limit + (limit - -limit) * rt_rand_uniform(3, 0)));
    }
}

static void test_element_i_uses_counter_i(void **state)
{
    (void)state;
    int64_t s23[2] = {2, 3}, s6[1] = {6};
    float a[6], b[6];
    ir_init uniform = {.kind = IR_INIT_UNIFORM, .a = -3, .b = 5, .seed = 77};
    ir_init normal = {.kind = IR_INIT_NORMAL, .a = 1, .b = 0.25, .seed = 78};
    rt_init_fill(&uniform, s23, 2, a);
    rt_init_fill(&uniform, s6, 1, b);
    assert_memory_equal(a, b, sizeof a);
    for (int i = 0; i < 6; i++)
        assert_true(a[i] == (float)(-3.0 + 8.0 * rt_rand_uniform(77, (uint64_t)i)));
    rt_init_fill(&normal, s23, 2, a);
    for (int i = 0; i < 6; i++)
        assert_true(a[i] == (float)(1.0 + 0.25 * rt_rand_normal(78, (uint64_t)i)));
}

static void test_constant_and_list_fills_are_exact(void **state)
{
    (void)state;
    int64_t shape[2] = {2, 2};
    float out[4];
    const float zeros[4] = {0, 0, 0, 0}, ones[4] = {1, 1, 1, 1},
                fill[4] = {-2.5f, -2.5f, -2.5f, -2.5f};
    rt_init_fill(&(ir_init){.kind = IR_INIT_ZEROS}, shape, 2, out);
    assert_memory_equal(out, zeros, sizeof out);
    rt_init_fill(&(ir_init){.kind = IR_INIT_ONES}, shape, 2, out);
    assert_memory_equal(out, ones, sizeof out);
    rt_init_fill(&(ir_init){.kind = IR_INIT_FILL, .a = -2.5}, shape, 2, out);
    assert_memory_equal(out, fill, sizeof out);
    double list[4] = {1, 0.1, -3, 1e-50};
    rt_init_fill(&(ir_init){.kind = IR_INIT_LIST, .list = list, .nlist = 4}, shape, 2, out);
    assert_true(out[0] == 1.0f && out[1] == 0.1f && out[2] == -3.0f && out[3] == 0.0f);
    float scalar = 0;
    rt_init_fill(&(ir_init){.kind = IR_INIT_FILL, .a = 0.1}, NULL, 0, &scalar);
    assert_true(scalar == 0.1f);
}

static void test_empty_shapes_write_nothing(void **state)
{
    (void)state;
    int64_t shape[2] = {0, 3};
    float sentinel = 42;
    for (ir_init_kind k = IR_INIT_ZEROS; k <= IR_INIT_GLOROT; k++) {
        rt_init_fill(&(ir_init){.kind = k, .a = 0, .b = 1, .seed = 1}, shape, 2, &sentinel);
        assert_true(sentinel == 42);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_u64_matches_golden_values),
        cmocka_unit_test(test_uniform_and_normal_match_golden_values),
        cmocka_unit_test(test_fills_match_golden_values),
        cmocka_unit_test(test_a_large_fill_matches_golden_values),
        cmocka_unit_test(test_fills_of_every_length_match_the_generator),
        cmocka_unit_test(test_generator_is_deterministic_and_seeds_differ),
        cmocka_unit_test(test_uniform_is_in_unit_interval_and_flat),
        cmocka_unit_test(test_normal_has_unit_moments),
        cmocka_unit_test(test_glorot_stays_within_its_limit),
        cmocka_unit_test(test_glorot_takes_fans_from_the_shape),
        cmocka_unit_test(test_element_i_uses_counter_i),
        cmocka_unit_test(test_constant_and_list_fills_are_exact),
        cmocka_unit_test(test_empty_shapes_write_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
