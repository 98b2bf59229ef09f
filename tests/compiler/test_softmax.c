/* test_softmax.c -- the JIT's row kernels (compiler/lower_softmax.c) against
   references computed here in long double: softmax and log_softmax within
   the contract's 2 ULP on rows of every length 1 to 67 (every vector tail)
   and of 32000, along the last axis and across another, also on rows
   holding -inf, +inf, NaN or values near the float limits, and a sweep
   of the float-lane softmax; their gradients; softmax_cross_entropy with
   its gradients. */
#include "support.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng = 1;

static double uniform(double lo, double hi)
{
    rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return lo + (hi - lo) * (double)(rng >> 11) * 0x1p-53;
}

static act_program *jit(act_context *ctx, const char *src)
{
    act_error err = {0};
    act_program *p = act_compile_string(ctx, src, "t.act", NULL, ACT_ENGINE_JIT, &err);
    if (!p)
        fail_msg("%d:%d %s\n%s", err.line, err.col, err.message, src);
    act_set_threads(p, 1);
    return p;
}

static const float *run(act_program *p, bool backward, const char *name)
{
    act_error err = {0};
    if ((backward ? act_backward : act_forward)(p, &err))
        fail_msg("run: %s", err.message);
    const float *r = act_get(p, name, NULL, NULL, &err);
    assert_non_null(r);
    return r;
}

static void set(act_program *p, const char *name, const float *x, int64_t rows, int64_t cols)
{
    act_error err = {0};
    int64_t shape[2] = {rows, cols};
    if (act_set(p, name, x, shape, 2, &err))
        fail_msg("set %s: %s", name, err.message);
}

/* The lane of n values at x[0], x[step], ...: its max, sum exp(x - max) and
   log of that sum, in long double; false when the max is not finite (a NaN,
   +inf, or only -inf): the contract's lanes of NaN. The log is log1p of the
   sum less one, as the sum of a lane whose max stands far above the rest is
   too close to 1 for logl. */
static bool lane_stats(const float *x, int64_t n, int64_t step, long double *m, long double *s,
                       long double *log_s)
{
    *m = -INFINITY;
    bool nan = false;
    for (int64_t j = 0; j < n; j++) {
        nan |= isnan(x[j * step]);
        *m = fmaxl(*m, x[j * step]);
    }
    long double tops = 0, others = 0;
    for (int64_t j = 0; j < n; j++) {
        long double d = (long double)x[j * step] - *m;
        if (d == 0)
            tops += 1;
        else
            others += expl(d);
    }
    *s = tops + others;
    *log_s = log1pl((tops - 1) + others);
    return !nan && isfinite(*m);
}

/* |got - want| in ULP of want's binade (2^-149 among the subnormals);
   0 for two NaNs, infinite for one, and beyond the floats only the
   infinity they round to is right. */
static double ulp_error(float got, long double want)
{
    if (isnan(got) || isnan(want))
        return isnan(got) && isnan(want) ? 0 : INFINITY;
    if (isinf((float)want) || got == want)
        return got == (float)want ? 0 : INFINITY;
    int e;
    frexpl(want, &e);
    return (double)(fabsl((long double)got - want) / ldexpl(1, e - 24 < -149 ? -149 : e - 24));
}

/* The largest errors seen by check_forward, in ULP: of normal results and
   of subnormal ones (rounded twice by the float-lane softmax). */
static double worst_normal, worst_subnormal;

/* y of softmax (or log_softmax) of x, rows x len along the axis, inner
   lanes after it, checked element by element against the exact value:
   within the contract's 2 ULP. */
static void check_forward(const float *x, const float *y, int64_t outer, int64_t len, int64_t inner,
                          bool log_form, const char *what)
{
    for (int64_t o = 0; o < outer; o++)
        for (int64_t in = 0; in < inner; in++) {
            int64_t base = o * len * inner + in;
            long double m, s, log_s;
            bool finite = lane_stats(x + base, len, inner, &m, &s, &log_s);
            for (int64_t j = 0; j < len; j++) {
                int64_t i = base + j * inner;
                long double d = (long double)x[i] - m;
                long double want = !finite ? NAN : log_form ? d - log_s : expl(d) / s;
                double u = ulp_error(y[i], want);
                if (u > 2)
                    fail_msg("%s: [%lld] of a lane of %lld: x %.9g, jit %.9g, want %.12Lg (%g ULP)",
                             what, (long long)i, (long long)len, x[i], y[i], want, u);
                if (fabsl(want) < 0x1p-126L)
                    worst_subnormal = fmax(worst_subnormal, u);
                else
                    worst_normal = fmax(worst_normal, u);
            }
        }
}

static const char *const forms[2] = {
    "graph t {\n input x : f32[N, M]\n y = softmax(x)\n output y\n}\n",
    "graph t {\n input x : f32[N, M]\n y = log_softmax(x)\n output y\n}\n"};

/* Rows of values in [-spread, spread] around offset, a few of them -inf. */
static void fill(float *x, int64_t n, double offset, double spread, bool with_inf)
{
    for (int64_t i = 0; i < n; i++)
        x[i] = (float)(offset + uniform(-spread, spread));
    for (int64_t i = 0; with_inf && i < n; i += 7)
        x[i] = -INFINITY;
}

static const double ranges[][2] = {{0, 1}, {0, 20}, {0, 100}, {1e4, 50}, {-3e38, 1e38}};
enum { NRANGES = sizeof ranges / sizeof *ranges };

/* Every row length from 1 to 67 and 32000, M a size name; the same
   program runs them all. */
static void test_forward_along_the_last_axis(void **state)
{
    (void)state;
    act_context *ctx = act_context_new();
    float *x = malloc(3 * 32000 * sizeof *x);
    for (int lf = 0; lf < 2; lf++) {
        act_program *p = jit(ctx, lf ? "graph t {\n input x : f32[N, M]\n y = log_softmax(x)\n"
                                       " output y\n}\n"
                                     : "graph t {\n input x : f32[N, M]\n y = softmax(x)\n"
                                       " output y\n}\n");
        worst_normal = worst_subnormal = 0;
        for (int64_t n = 1; n <= 68; n++) {
            int64_t len = n == 68 ? 32000 : n;
            for (int r = 0; r < NRANGES; r++) {
                fill(x, 3 * len, ranges[r][0], ranges[r][1], r == 1 && len > 1);
                set(p, "x", x, 3, len);
                check_forward(x, run(p, false, "y"), 3, len, 1, lf, forms[lf]);
            }
        }
        print_message("%s along rows of 1..67 and 32000: within %.3g ULP, %.3g where subnormal\n",
                      lf ? "log_softmax" : "softmax", worst_normal, worst_subnormal);
        act_program_free(p);
    }
    free(x);
    act_context_free(ctx);
}

/* The float-lane softmax (cc_vm_expf_pair, on AVX-512) swept: rows [m, x]
   for every 1021st float x from m - 110 to m, and [m, x, ..., x] (16 equal
   terms, whose rounding errors would add up if the sum did not carry
   them) for every 16381st, with m = 0, 3.3 (x - m inexact in float), 1e4 + 0.37 and 1e30:
   within 0.7 ULP where the result is normal, 1 where it is subnormal (the
   double-lane kernels of other targets are within 0.5 and 0.75). */
static void test_softmax_sweep(void **state)
{
    (void)state;
    static const float tops[] = {0, 3.3f, 10000.37f, 1e30f};
    enum { CHUNK = 1 << 16 };
    act_context *ctx = act_context_new();
    act_program *p = jit(ctx, forms[0]);
    float *x = malloc(17 * CHUNK * sizeof *x);
    worst_normal = worst_subnormal = 0;
    for (int len = 2; len <= 17; len += 15)
        for (size_t t = 0; t < sizeof tops / sizeof *tops; t++) {
            float m = tops[t];
            int64_t lo = ts_ordered(m - 110 - fabsf(m) * 0x1p-22f), hi = ts_ordered(m);
            int64_t step = (len == 2 ? 1021 : 16381) * (sizeof ACT_SANITIZE_FLAGS > 1 ? 8 : 1);
            for (int64_t o = lo; o <= hi; o += step * CHUNK) {
                int64_t rows = 0;
                for (; rows < CHUNK && o + rows * step <= hi; rows++) {
                    x[rows * len] = m;
                    for (int j = 1; j < len; j++)
                        x[rows * len + j] = ts_from_ordered(o + rows * step);
                }
                set(p, "x", x, rows, len);
                check_forward(x, run(p, false, "y"), rows, len, 1, false, "sweep");
            }
        }
    print_message("softmax sweep: within %.3g ULP, %.3g where subnormal\n", worst_normal,
                  worst_subnormal);
    assert_true(worst_normal <= 0.7 && worst_subnormal <= 1);
    free(x);
    act_program_free(p);
    act_context_free(ctx);
}

/* Row lengths known when compiling: below 128 floats the library's kernel
   where the target has one (x86-64), else the module's, whose short rows
   are computed several at a time (with 1 to 5 rows, every remainder); 1000
   floats the module's specialised loops. */
static void test_forward_with_fixed_lengths(void **state)
{
    (void)state;
    static const int lens[] = {1, 3, 5, 8, 9, 10, 16, 17, 1000};
    act_context *ctx = act_context_new();
    float x[5 * 1000];
    for (size_t k = 0; k < 2 * sizeof lens / sizeof *lens; k++) {
        int len = lens[k / 2];
        bool lf = k % 2;
        char src[160];
        snprintf(src, sizeof src, "graph t {\n input x : f32[N, %d]\n y = %s(x)\n output y\n}\n",
                 len, lf ? "log_softmax" : "softmax");
        act_program *p = jit(ctx, src);
        for (int rows = 1; rows <= 5; rows++) { /* short rows go 4 at a time */
            fill(x, rows * len, 0, 30, false);
            set(p, "x", x, rows, len);
            check_forward(x, run(p, false, "y"), rows, len, 1, lf, src);
        }
        act_program_free(p);
    }
    act_context_free(ctx);
}

/* axis = 0 of [L, K]: lanes across K, each its own max and sum; K from 1
   to 37 hits every masked tail of the lanes. */
static void test_forward_across_another_axis(void **state)
{
    (void)state;
    act_context *ctx = act_context_new();
    float x[7 * 37];
    for (int lf = 0; lf < 2; lf++) {
        act_program *p = jit(ctx, lf ? "graph t {\n input x : f32[L, K]\n"
                                       " y = log_softmax(x, axis = 0)\n output y\n}\n"
                                     : "graph t {\n input x : f32[L, K]\n"
                                       " y = softmax(x, axis = 0)\n output y\n}\n");
        for (int64_t k = 1; k <= 37; k++)
            for (int64_t len = 1; len <= 7; len += 3) {
                fill(x, len * k, 0, 20, len > 1);
                set(p, "x", x, len, k);
                check_forward(x, run(p, false, "y"), 1, len, k, lf, "axis 0");
            }
        act_program_free(p);
    }
    act_context_free(ctx);
}

/* The contract's edges, each row in the first lanes, after a full vector
   and in a tail: a row holding +inf, or only -inf, or a NaN, is NaN; -inf
   entries give 0 (log_softmax: -inf); no finite row overflows. */
static void test_special_rows(void **state)
{
    (void)state;
    static const float rows[][5] = {
        {1, INFINITY, 2, 3, 4},
        {-INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY},
        {1, 2, NAN, 3, 4},
        {-INFINITY, 0, -INFINITY, 1, -INFINITY},
        {3.4e38f, -3.4e38f, 0, 1, 2},
        {3.4e38f, 3.4e38f, 3.4e38f, 3.4e38f, 3.4e38f},
        {-3.4e38f, -3.4e38f, -1e-45f, 0, -3e38f},
        {88, 89, -104, -1e30f, 1e-30f},
    };
    enum { NR = sizeof rows / sizeof *rows };
    act_context *ctx = act_context_new();
    for (int lf = 0; lf < 2; lf++) {
        act_program *p = jit(ctx, lf ? "graph t {\n input x : f32[N, M]\n y = log_softmax(x)\n"
                                       " output y\n}\n"
                                     : "graph t {\n input x : f32[N, M]\n y = softmax(x)\n"
                                       " output y\n}\n");
        for (int r = 0; r < NR; r++)
            for (int64_t at = 0; at <= 19; at += 19) { /* 24 values: the row at 0 or at 19 */
                float x[24];
                for (int i = 0; i < 24; i++)
                    x[i] = -INFINITY;
                x[0] = x[23] = 0; /* finite elsewhere, so only the row under test is special */
                memcpy(x + at, rows[r], sizeof rows[r]);
                float row[5];
                memcpy(row, rows[r], sizeof row);
                set(p, "x", row, 1, 5);
                check_forward(row, run(p, false, "y"), 1, 5, 1, lf, "special row");
                set(p, "x", x, 1, 24);
                check_forward(x, run(p, false, "y"), 1, 24, 1, lf, "special row in 24");
            }
        act_program_free(p);
    }
    act_context_free(ctx);
}

/* d_x of softmax (or log_softmax) of rows x len from the output gradient
   dy, against the exact gradient at the exact y: the JIT's differs by the
   rounding of its float y, so the bound is a few float ULP of each term. */
static void check_gradient(const float *x, const float *dy, const float *dx, int64_t rows,
                           int64_t len, bool log_form)
{
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * len, *gr = dy + r * len;
        long double m, s, log_s, dot = 0, mag = 0, sum = 0, amag = 0;
        lane_stats(xr, len, 1, &m, &s, &log_s);
        for (int64_t j = 0; j < len; j++) {
            long double y = expl(xr[j] - m) / s;
            dot += gr[j] * y, mag += fabsl(gr[j] * y), sum += gr[j], amag += fabsl(gr[j]);
        }
        for (int64_t j = 0; j < len; j++) {
            long double y = expl(xr[j] - m) / s;
            long double want = log_form ? gr[j] - y * sum : y * (gr[j] - dot);
            long double bound =
                0x1p-21 * (log_form ? fabsl(gr[j]) + y * amag : y * (fabsl(gr[j]) + mag));
            if (!(fabsl(dx[r * len + j] - want) <= bound + 0x1p-149))
                fail_msg("%s grad, row of %lld: [%lld] jit %.9g, want %.9Lg",
                         log_form ? "log_softmax" : "softmax", (long long)len, (long long)j,
                         dx[r * len + j], want);
        }
    }
}

static const float *backward_from(act_program *p, const float *x, const float *dy, int64_t rows,
                                  int64_t len)
{
    set(p, "x", x, rows, len);
    act_error err = {0};
    int64_t shape[2] = {rows, len};
    assert_int_equal(act_set_output_grad(p, "y", dy, shape, 2, &err), 0);
    return run(p, true, "d_x");
}

static void test_gradients(void **state)
{
    (void)state;
    act_context *ctx = act_context_new();
    float *x = malloc(2 * 32000 * sizeof *x), *dy = malloc(2 * 32000 * sizeof *dy);
    for (int lf = 0; lf < 2; lf++) {
        act_program *p = jit(ctx, forms[lf]);
        for (int64_t n = 1; n <= 68; n++) {
            int64_t len = n == 68 ? 32000 : n;
            fill(x, 2 * len, 0, 10, false);
            fill(dy, 2 * len, 0, 1, false);
            check_gradient(x, dy, backward_from(p, x, dy, 2, len), 2, len, lf);
        }
        act_program_free(p);
    }
    free(x);
    free(dy);
    act_context_free(ctx);
}

/* Results of 16 MB and more are stored past the caches, from the first
   aligned vector of each row: rows of an odd length start at every
   alignment. */
static void test_large_results(void **state)
{
    (void)state;
    enum { ROWS = 140, LEN = 32003 }; /* 17.9 MB */
    act_context *ctx = act_context_new();
    float *x = malloc((size_t)ROWS * LEN * sizeof *x),
          *dy = malloc((size_t)ROWS * LEN * sizeof *dy);
    fill(x, (int64_t)ROWS * LEN, 0, 10, false);
    fill(dy, (int64_t)ROWS * LEN, 0, 1, false);
    for (int lf = 0; lf < 2; lf++) {
        act_program *p = jit(ctx, forms[lf]);
        set(p, "x", x, ROWS, LEN);
        check_forward(x, run(p, false, "y"), ROWS, LEN, 1, lf, "large");
        check_gradient(x, dy, backward_from(p, x, dy, ROWS, LEN), ROWS, LEN, lf);
        act_program_free(p);
    }
    free(x);
    free(dy);
    act_context_free(ctx);
}

/* The loss, -mean over rows of sum(t log_softmax(z)), and its gradients
   (softmax(z) sum(t) - t)/rows and -log_softmax(z)/rows. */
static void test_cross_entropy(void **state)
{
    (void)state;
    act_context *ctx = act_context_new();
    float *z = malloc(3 * 32000 * sizeof *z), *t = malloc(3 * 32000 * sizeof *t);
    act_program *p = jit(ctx, "graph t {\n input z : f32[N, M]\n input t : f32[N, M]\n"
                              " loss L = softmax_cross_entropy(z, t)\n}\n");
    for (int64_t n = 1; n <= 68; n++) {
        int64_t len = n == 68 ? 32000 : n, rows = 3;
        fill(z, rows * len, 0, 15, false);
        fill(t, rows * len, 0.5, 0.5, false);
        set(p, "z", z, rows, len);
        set(p, "t", t, rows, len);
        const float *dz = run(p, true, "d_z"), *dt = act_get(p, "d_t", NULL, NULL, NULL);
        const float *loss = act_get(p, "L", NULL, NULL, NULL);
        long double total = 0, mag = 0;
        for (int64_t r = 0; r < rows; r++) {
            const float *zr = z + r * len, *tr = t + r * len;
            long double m, s, log_s, tsum = 0;
            lane_stats(zr, len, 1, &m, &s, &log_s);
            for (int64_t j = 0; j < len; j++)
                tsum += tr[j];
            for (int64_t j = 0; j < len; j++) {
                long double ls = (zr[j] - m) - log_s, sm = expl(zr[j] - m) / s;
                total -= tr[j] * ls, mag += fabsl(tr[j] * ls);
                long double want_z = (sm * tsum - tr[j]) / rows, want_t = -ls / rows;
                long double bz = 0x1p-21 * (sm * tsum + tr[j]) / rows;
                long double bt = 0x1p-21 * (fabsl(zr[j] - m) + log_s) / rows;
                if (!(fabsl(dz[r * len + j] - want_z) <= bz + 0x1p-149) ||
                    !(fabsl(dt[r * len + j] - want_t) <= bt + 0x1p-149))
                    fail_msg("row of %lld: [%lld] d_z %.9g want %.9Lg, d_t %.9g want %.9Lg",
                             (long long)len, (long long)j, dz[r * len + j], want_z, dt[r * len + j],
                             want_t);
            }
        }
        if (!(fabsl(*loss - total / rows) <= 0x1p-21 * mag / rows))
            fail_msg("loss over rows of %lld: jit %.9g, want %.9Lg", (long long)len, *loss,
                     total / rows);
    }
    act_program_free(p);
    free(z);
    free(t);
    act_context_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forward_along_the_last_axis),
        cmocka_unit_test(test_softmax_sweep),
        cmocka_unit_test(test_forward_with_fixed_lengths),
        cmocka_unit_test(test_forward_across_another_axis),
        cmocka_unit_test(test_special_rows),
        cmocka_unit_test(test_gradients),
        cmocka_unit_test(test_large_results),
        cmocka_unit_test(test_cross_entropy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
