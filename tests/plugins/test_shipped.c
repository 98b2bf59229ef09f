/* test_shipped.c -- the plugins shipped with act (native scalar and array)
   on both engines against their formulas in C and finite differences, and
   examples/plugin built with PLUGIN.md's one cc line and used through actc
   as a user would. */
#include "support.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const act_engine engines[2] = {ACT_ENGINE_JIT, ACT_ENGINE_INTERP};

static double isrlu(double x)
{
    return x >= 0 ? x : x / sqrt(1 + x * x);
}
static double sqnl(double x)
{
    return x > 2 ? 1 : x >= 0 ? x - x * x / 4 : x >= -2 ? x + x * x / 4 : -1;
}
static double ssign(double x)
{
    return x / sqrt(1 + x * x);
}

/* y = CALL on 24 points in [-3, 3] (no kink hit), forward and d_x from
   dy = 1 against f and a central difference of f. */
static void check(const char *plugin, const char *call, double (*f)(double))
{
    char src[256];
    snprintf(src, sizeof src, "graph g {\n input x : f32[24]\n y = %s\n output y\n}\n", call);
    for (int e = 0; e < 2; e++) {
        act_context *ctx = act_context_new();
        act_error err = {0};
        if (act_load_plugin(ctx, plugin, &err))
            fail_msg("%s: %s", plugin, err.message);
        act_program *p = act_compile_string(ctx, src, "t.act", NULL, engines[e], &err);
        if (!p)
            fail_msg("%s", err.message);
        float x[24], ones[24];
        for (int i = 0; i < 24; i++) {
            x[i] = -3.0f + 6.0f * (float)i / 23 + 0.01f;
            ones[i] = 1;
        }
        int64_t n = 24;
        assert_int_equal(act_set(p, "x", x, &n, 1, &err), 0);
        assert_int_equal(act_set_output_grad(p, "y", ones, &n, 1, &err), 0);
        assert_int_equal(act_backward(p, &err), 0);
        const float *y = act_get(p, "y", NULL, NULL, &err),
                    *dx = act_get(p, "d_x", NULL, NULL, &err);
        for (int i = 0; i < 24; i++) {
            double h = 1e-5, fd = (f(x[i] + h) - f(x[i] - h)) / (2 * h);
            if (!ts_close(y[i], f(x[i]), 1e-6, 1e-7) || !ts_close(dx[i], fd, 1e-4, 1e-6))
                fail_msg("%s at %g (engine %d): y %g (want %g), d_x %g (want %g)", call, x[i], e,
                         y[i], f(x[i]), dx[i], fd);
        }
        act_program_free(p);
        act_context_free(ctx);
    }
}

static void test_shipped_native_scalar_plugin(void **state)
{
    (void)state;
    check(ACT_SCALAR_PLUGIN, "isrlu(x)", isrlu);
    check(ACT_SCALAR_PLUGIN, "sqnl(x)", sqnl);
}

static void test_shipped_native_array_plugin(void **state)
{
    (void)state;
    check(ACT_ARRAY_PLUGIN, "ssign(x)", ssign);
}

/* The three shipped plugins load together (no name clashes). */
static void test_shipped_plugins_load_together(void **state)
{
    (void)state;
    act_context *ctx = act_context_new();
    act_error err = {0};
    assert_int_equal(act_load_plugin(ctx, ACT_FORMULAS_PLUGIN, &err), 0);
    assert_int_equal(act_load_plugin(ctx, ACT_SCALAR_PLUGIN, &err), 0);
    assert_int_equal(act_load_plugin(ctx, ACT_ARRAY_PLUGIN, &err), 0);
    act_context_free(ctx);
}

static void test_example_plugin_as_a_user_builds_it(void **state)
{
    (void)state;
    char *dir = ts_tmpdir(), cmd[4096], *out, *err;
    snprintf(cmd, sizeof cmd,
             "cc -shared -fPIC -I'%s/include' '%s/examples/plugin/myplugin.c' -o "
             "'%s/myplugin.so'",
             ACT_SOURCE_DIR, ACT_SOURCE_DIR, dir);
    if (ts_run(cmd, NULL, &err))
        fail_msg("%s", err);
    free(err);
    char path[600];
    snprintf(path, sizeof path, "%s/x.npy", dir);
    float x[8] = {-2, -1, 0, 1, 2, 3, 0.5f, -0.5f};
    int64_t shape[2] = {2, 4};
    ts_write_npy(path, x, shape, 2);
    snprintf(path, sizeof path, "%s/dy.npy", dir);
    ts_write_npy(path, x, shape, 2);
    const char *engines_text[2] = {"jit", "interp"};
    float y[2][8], d[2][8];
    for (int e = 0; e < 2; e++) {
        snprintf(cmd, sizeof cmd,
                 "'%s' grad '%s/examples/plugin/clip.act' --plugin '%s/myplugin.so' "
                 "--input x='%s/x.npy' --output-grad y='%s/dy.npy' --out '%s/%s' --engine %s",
                 ACTC_PATH, ACT_SOURCE_DIR, dir, dir, dir, dir, engines_text[e], engines_text[e]);
        if (ts_run(cmd, &out, &err))
            fail_msg("%s\n%s", cmd, err);
        free(out);
        free(err);
        snprintf(cmd, sizeof cmd,
                 "ACT_PLUGIN_PATH='%s' '%s' run '%s/examples/plugin/clip.act' "
                 "--input x='%s/x.npy' --out '%s/%s' --engine %s",
                 dir, ACTC_PATH, ACT_SOURCE_DIR, dir, dir, engines_text[e], engines_text[e]);
        if (ts_run(cmd, &out, &err))
            fail_msg("%s\n%s", cmd, err);
        free(out);
        free(err);
        float *data;
        int64_t s[4];
        int rank;
        act_error aerr = {0};
        snprintf(path, sizeof path, "%s/%s/y.npy", dir, engines_text[e]);
        assert_int_equal(rt_npy_read(path, &data, s, &rank, &aerr), 0);
        memcpy(y[e], data, sizeof y[e]);
        free(data);
        snprintf(path, sizeof path, "%s/%s/d_x.npy", dir, engines_text[e]);
        assert_int_equal(rt_npy_read(path, &data, s, &rank, &aerr), 0);
        memcpy(d[e], data, sizeof d[e]);
        free(data);
    }
    for (int i = 0; i < 8; i++)
        assert_true(ts_close(y[0][i], y[1][i], 1e-6, 1e-7) &&
                    ts_close(d[0][i], d[1][i], 1e-5, 1e-6));
    ts_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shipped_native_scalar_plugin),
        cmocka_unit_test(test_shipped_native_array_plugin),
        cmocka_unit_test(test_shipped_plugins_load_together),
        cmocka_unit_test(test_example_plugin_as_a_user_builds_it),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
