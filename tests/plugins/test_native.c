/* test_native.c -- native scalar activations end to end: a tiny plugin built
   at test time registers double and float functions, with and without a
   derivative; graphs use them on both engines, forward and backward (values
   against the formulas in C, derivatives against finite differences), fused
   after a dense on the JIT, and refused for ahead-of-time output. */
#include "support.h"

#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *tmp;    /* the built plugin, one folder for the whole file */
static char so[512]; /* its path */

/* The derivatives check the y they receive against f(x) (as float, the
   saved forward output) and return NaN when it is not f(x). */
static const char plugin_src[] =
    "#include <act/plugin.h>\n"
    "#include <math.h>\n"
    "ACT_PLUGIN_ABI;\n"
    "static double bent(double x) { return (sqrt(x * x + 1) - 1) / 2 + x; }\n"
    "static double bent_grad(double x, double y)\n"
    "{\n"
    "    if (fabs(y - bent(x)) > 1e-6 * (1 + fabs(y)))\n"
    "        return NAN;\n"
    "    return x / (2 * sqrt(x * x + 1)) + 1;\n"
    "}\n"
    "static float sq(float x, float a) { return a * x * x; }\n"
    "static float sq_grad(float x, float y, float a)\n"
    "{\n"
    "    if (fabsf(y - a * x * x) > 1e-5f * (1 + fabsf(y)))\n"
    "        return NAN;\n"
    "    return 2 * a * x;\n"
    "}\n"
    "static double cube(double x) { return x * x * x; }\n"
    "static int64_t longest; /* the largest n ssign was called with */\n"
    "__attribute__((visibility(\"default\"))) int64_t nat_longest(void);\n"
    "int64_t nat_longest(void) { return longest; }\n"
    "static void ssign(const float *x, float *y, int64_t n, const double *p)\n"
    "{\n"
    "    longest = n > longest ? n : longest;\n"
    "    for (int64_t i = 0; i < n; i++)\n"
    "        y[i] = (float)(p[0] * x[i] / (1 + fabsf(x[i])));\n"
    "}\n"
    "static void ssign_bwd(const float *x, const float *y, const float *dy, float *dx,\n"
    "                      int64_t n, const double *p)\n"
    "{\n"
    "    (void)y;\n"
    "    for (int64_t i = 0; i < n; i++) {\n"
    "        double d = 1 + fabsf(x[i]);\n"
    "        dx[i] = (float)(dy[i] * p[0] / (d * d));\n"
    "    }\n"
    "}\n"
    "static void arelu(const float *x, float *y, int64_t n, const double *p)\n"
    "{\n"
    "    (void)p;\n"
    "    for (int64_t i = 0; i < n; i++)\n"
    "        y[i] = x[i] > 0 ? x[i] : 0;\n"
    "}\n"
    "int act_plugin_register(act_registry *reg)\n"
    "{\n"
    "    if (act_register_scalar(reg, \"nat_bent\", \"\", ACT_F64, ACT_FN(bent),\n"
    "                            ACT_FN(bent_grad)))\n"
    "        return 1;\n"
    "    if (act_register_scalar(reg, \"nat_sq\", \"a = 1\", ACT_F32, ACT_FN(sq), "
    "ACT_FN(sq_grad)))\n"
    "        return 1;\n"
    "    if (act_register_array(reg, \"nat_ssign\", \"k = 1\", ssign, ssign_bwd))\n"
    "        return 1;\n"
    "    if (act_register_array(reg, \"nat_arelu\", \"\", arelu, NULL))\n"
    "        return 1;\n"
    "    return act_register_scalar(reg, \"nat_cube\", \"\", ACT_F64, ACT_FN(cube), NULL);\n"
    "}\n";

static double bent(double x)
{
    return (sqrt(x * x + 1) - 1) / 2 + x;
}

static double sq3(double x)
{
    return 3 * x * x;
}

/* Central difference of f at x. */
static double fd(double (*f)(double), double x)
{
    double h = 1e-4;
    return (f(x + h) - f(x - h)) / (2 * h);
}

static int setup(void **state)
{
    (void)state;
    tmp = ts_tmpdir();
    char c_path[512], cmd[2048], *err;
    snprintf(c_path, sizeof c_path, "%s/nat.c", tmp);
    snprintf(so, sizeof so, "%s/nat.so", tmp);
    ts_write_text(c_path, plugin_src);
    snprintf(cmd, sizeof cmd, "cc -shared -fPIC -I'%s/include' '%s' -o '%s'", ACT_SOURCE_DIR,
             c_path, so);
    int rc = ts_run(cmd, NULL, &err);
    if (rc)
        fprintf(stderr, "building the plugin: %s\n", err);
    free(err);
    return rc;
}

static int teardown(void **state)
{
    (void)state;
    ts_rmtree(tmp);
    free(tmp);
    return 0;
}

static act_context *context(void)
{
    act_context *ctx = act_context_new();
    act_error err = {0};
    assert_non_null(ctx);
    if (act_load_plugin(ctx, so, &err))
        fail_msg("load: %s", err.message);
    return ctx;
}

/* 11 points: not a multiple of any vector width, so the JIT's tail runs. */
static const float xs[] = {-3, -1.5f, -1, -0.25f, 0, 0.125f, 0.5f, 1, 1.75f, 2.5f, 4};
#define NX ((int64_t)(sizeof xs / sizeof *xs))

static const char two_src[] = "graph g {\n"
                              "    input x : f32[N]\n"
                              "    input u : f32[N]\n"
                              "    y = nat_bent(x)\n"
                              "    z = nat_sq(u, a = 3)\n"
                              "    output y\n"
                              "    output z\n"
                              "}\n";

static void run_two(act_context *ctx, act_engine engine)
{
    float ones[NX];
    int64_t n = NX;
    for (int64_t i = 0; i < n; i++)
        ones[i] = 1;
    act_error err = {0};
    act_program *p = act_compile_string(ctx, two_src, "g.act", NULL, engine, &err);
    if (!p)
        fail_msg("compile: %s", err.message);
    assert_int_equal(act_set(p, "x", xs, &n, 1, &err), 0);
    assert_int_equal(act_set(p, "u", xs, &n, 1, &err), 0);
    assert_int_equal(act_set_output_grad(p, "y", ones, &n, 1, &err), 0);
    assert_int_equal(act_set_output_grad(p, "z", ones, &n, 1, &err), 0);
    if (act_backward(p, &err))
        fail_msg("backward: %s", err.message);
    const float *y = act_get(p, "y", NULL, NULL, &err), *z = act_get(p, "z", NULL, NULL, &err);
    const float *dx = act_get(p, "d_x", NULL, NULL, &err);
    const float *du = act_get(p, "d_u", NULL, NULL, &err);
    assert_true(y && z && dx && du);
    for (int64_t i = 0; i < n; i++) {
        double x = xs[i];
        if (!ts_close(y[i], bent(x), 1e-6, 1e-7) || !ts_close(dx[i], fd(bent, x), 1e-5, 1e-6))
            fail_msg("engine %d, nat_bent at %g: y %g (want %g), dx %g (want %g)", (int)engine, x,
                     y[i], bent(x), dx[i], fd(bent, x));
        if (!ts_close(z[i], sq3(x), 1e-6, 1e-7) || !ts_close(du[i], fd(sq3, x), 1e-5, 1e-5))
            fail_msg("engine %d, nat_sq at %g: z %g (want %g), du %g (want %g)", (int)engine, x,
                     z[i], sq3(x), du[i], fd(sq3, x));
    }
    act_program_free(p);
}

static void test_native_scalar_runs_on_both_engines(void **state)
{
    (void)state;
    act_context *ctx = context();
    const ir_activation *a = ir_registry_find(ctx->reg, "nat_sq");
    assert_non_null(a);
    assert_int_equal(a->origin_kind, IR_ORIGIN_PLUGIN);
    assert_string_equal(a->origin, so);
    assert_int_equal(a->params.n, 1);
    assert_string_equal(a->params.p[0].name, "a");
    assert_non_null(a->df);
    assert_true(ir_expr_uses_x(a->df)); /* df(x, y): the call reads both */
    run_two(ctx, ACT_ENGINE_INTERP);
    run_two(ctx, ACT_ENGINE_JIT);
    act_context_free(ctx);
}

static const char cube_src[] = "graph g {\n"
                               "    input x : f32[N]\n"
                               "    y = nat_cube(x)\n"
                               "    output y\n"
                               "}\n";

static double cube(double x)
{
    return x * x * x;
}

static double arelu(double x)
{
    return x > 0 ? x : 0;
}

/* y = name(x), an activation registered without a derivative: forward gives
   f on every point; backward is ACT_ERR_GRAD naming "name(x)" and saying it
   was registered without one. */
static void forward_only(act_context *ctx, act_engine engine, const char *name, double (*f)(double))
{
    char src[160], call[64];
    snprintf(src, sizeof src, "graph g {\n    input x : f32[N]\n    y = %s(x)\n    output y\n}\n",
             name);
    snprintf(call, sizeof call, "%s(x)", name);
    int64_t n = NX;
    act_error err = {0};
    act_program *p = act_compile_string(ctx, src, "g.act", NULL, engine, &err);
    if (!p)
        fail_msg("compile: %s", err.message);
    assert_int_equal(act_set(p, "x", xs, &n, 1, &err), 0);
    if (act_forward(p, &err))
        fail_msg("forward: %s", err.message);
    const float *y = act_get(p, "y", NULL, NULL, &err);
    assert_non_null(y);
    for (int64_t i = 0; i < n; i++)
        assert_true(ts_close(y[i], f(xs[i]), 1e-6, 1e-7));
    assert_int_equal(act_set_output_grad(p, "y", xs, &n, 1, &err), 0);
    assert_int_equal(act_backward(p, &err), ACT_ERR_GRAD);
    if (!strstr(err.message, call) || !strstr(err.message, "without one"))
        fail_msg("unexpected message: %s", err.message);
    act_program_free(p);
}

static void test_native_without_derivative_runs_forward_only(void **state)
{
    (void)state;
    act_context *ctx = context();
    forward_only(ctx, ACT_ENGINE_INTERP, "nat_cube", cube);
    forward_only(ctx, ACT_ENGINE_JIT, "nat_cube", cube);
    act_context_free(ctx);
}

static const char dense_src[] = "graph g {\n"
                                "    input x : f32[B, 3]\n"
                                "    input W : f32[3, 5]\n"
                                "    input b : f32[5]\n"
                                "    y = nat_bent(dense(x, W, b))\n"
                                "    output y\n"
                                "}\n";

/* y = bent(x W + b) after a dense on the JIT (where it runs in the GEMM's
   epilogue), and dx = (bent'(h) * dy) Wᵀ, against the same in C. */
static void test_native_fused_after_dense(void **state)
{
    (void)state;
    enum { B = 7, K = 3, M = 5 };
    float x[B * K], w[K * M], b[M], ones[B * M];
    for (int i = 0; i < B * K; i++)
        x[i] = (float)(i % 5) * 0.5f - 1;
    for (int i = 0; i < K * M; i++)
        w[i] = (float)((i * 7) % 11) * 0.25f - 1.25f;
    for (int i = 0; i < M; i++)
        b[i] = 0.1f * (float)i - 0.2f;
    for (int i = 0; i < B * M; i++)
        ones[i] = 1;
    act_context *ctx = context();
    act_error err = {0};
    act_program *p = act_compile_string(ctx, dense_src, "g.act", NULL, ACT_ENGINE_JIT, &err);
    if (!p)
        fail_msg("compile: %s", err.message);
    int64_t xshape[] = {B, K}, wshape[] = {K, M}, bshape[] = {M}, yshape[] = {B, M};
    assert_int_equal(act_set(p, "x", x, xshape, 2, &err), 0);
    assert_int_equal(act_set(p, "W", w, wshape, 2, &err), 0);
    assert_int_equal(act_set(p, "b", b, bshape, 1, &err), 0);
    assert_int_equal(act_set_output_grad(p, "y", ones, yshape, 2, &err), 0);
    if (act_backward(p, &err))
        fail_msg("backward: %s", err.message);
    const float *y = act_get(p, "y", NULL, NULL, &err), *dx = act_get(p, "d_x", NULL, NULL, &err);
    assert_true(y && dx);
    for (int i = 0; i < B; i++) {
        double g[M];
        for (int m = 0; m < M; m++) {
            double h = b[m];
            for (int k = 0; k < K; k++)
                h += (double)x[i * K + k] * w[k * M + m];
            g[m] = fd(bent, h);
            if (!ts_close(y[i * M + m], bent(h), 1e-5, 1e-6))
                fail_msg("y[%d, %d] = %g, want %g", i, m, y[i * M + m], bent(h));
        }
        for (int k = 0; k < K; k++) {
            double want = 0;
            for (int m = 0; m < M; m++)
                want += g[m] * w[k * M + m];
            if (!ts_close(dx[i * K + k], want, 1e-4, 1e-5))
                fail_msg("dx[%d, %d] = %g, want %g", i, k, dx[i * K + k], want);
        }
    }
    act_program_free(p);
    act_context_free(ctx);
}

static void test_native_refused_ahead_of_time(void **state)
{
    (void)state;
    act_context *ctx = context();
    act_error err = {0};
    act_program *p = act_compile_string(ctx, cube_src, "g.act", NULL, ACT_ENGINE_JIT, &err);
    if (!p)
        fail_msg("compile: %s", err.message);
    char obj[600], hdr[600];
    snprintf(obj, sizeof obj, "%s/g.o", tmp);
    snprintf(hdr, sizeof hdr, "%s/g.h", tmp);
    assert_int_equal(act_emit_object(p, obj, hdr, &err), ACT_ERR_UNSUPPORTED);
    if (!strstr(err.message, "found native 'nat_cube'"))
        fail_msg("unexpected message: %s", err.message);
    assert_int_equal(err.line, 3);
    act_program_free(p);
    act_context_free(ctx);
}

static const char array_src[] = "graph g {\n"
                                "    input x : f32[B, 3]\n"
                                "    input W : f32[3, 5]\n"
                                "    input b : f32[5]\n"
                                "    y = nat_ssign(dense(x, W, b), k = 2)\n"
                                "    z = tanh(y)\n"
                                "    output z\n"
                                "}\n";

static double ssign2(double h)
{
    return 2 * h / (1 + fabs(h));
}

/* z = tanh(ssign(x W + b, k = 2)): the array function between a dense and
   a formula, forward and backward, against the same in C. */
static void array_engine(act_context *ctx, act_engine engine)
{
    enum { B = 6, K = 3, M = 5 };
    float x[B * K], w[K * M], b[M], ones[B * M];
    for (int i = 0; i < B * K; i++)
        x[i] = (float)(i % 5) * 0.5f - 1;
    for (int i = 0; i < K * M; i++)
        w[i] = (float)((i * 7) % 11) * 0.25f - 1.25f;
    for (int i = 0; i < M; i++)
        b[i] = 0.1f * (float)i - 0.2f;
    for (int i = 0; i < B * M; i++)
        ones[i] = 1;
    act_error err = {0};
    act_program *p = act_compile_string(ctx, array_src, "g.act", NULL, engine, &err);
    if (!p)
        fail_msg("compile: %s", err.message);
    int64_t xshape[] = {B, K}, wshape[] = {K, M}, bshape[] = {M}, zshape[] = {B, M};
    assert_int_equal(act_set(p, "x", x, xshape, 2, &err), 0);
    assert_int_equal(act_set(p, "W", w, wshape, 2, &err), 0);
    assert_int_equal(act_set(p, "b", b, bshape, 1, &err), 0);
    assert_int_equal(act_set_output_grad(p, "z", ones, zshape, 2, &err), 0);
    if (act_backward(p, &err))
        fail_msg("backward: %s", err.message);
    const float *z = act_get(p, "z", NULL, NULL, &err), *dx = act_get(p, "d_x", NULL, NULL, &err);
    assert_true(z && dx);
    for (int i = 0; i < B; i++) {
        double g[M];
        for (int m = 0; m < M; m++) {
            double h = b[m];
            for (int k = 0; k < K; k++)
                h += (double)x[i * K + k] * w[k * M + m];
            double t = tanh(ssign2(h));
            g[m] = (1 - t * t) * fd(ssign2, h);
            if (!ts_close(z[i * M + m], t, 1e-5, 1e-6))
                fail_msg("engine %d: z[%d, %d] = %g, want %g", (int)engine, i, m, z[i * M + m], t);
        }
        for (int k = 0; k < K; k++) {
            double want = 0;
            for (int m = 0; m < M; m++)
                want += g[m] * w[k * M + m];
            if (!ts_close(dx[i * K + k], want, 1e-4, 1e-5))
                fail_msg("engine %d: dx[%d, %d] = %g, want %g", (int)engine, i, k, dx[i * K + k],
                         want);
        }
    }
    act_program_free(p);
    /* the interpreter calls it per element, the JIT on the whole array */
    void *h = dlopen(so, RTLD_NOW | RTLD_NOLOAD);
    assert_non_null(h);
    int64_t (*longest)(void) = (int64_t(*)(void))dlsym(h, "nat_longest");
    assert_non_null(longest);
    assert_int_equal(longest(), engine == ACT_ENGINE_JIT ? B * M : 1);
    dlclose(h);
}

static void test_native_array_runs_on_both_engines(void **state)
{
    (void)state;
    act_context *ctx = context();
    const ir_activation *a = ir_registry_find(ctx->reg, "nat_ssign");
    assert_non_null(a);
    assert_non_null(a->native);
    assert_int_equal(a->params.n, 1);
    array_engine(ctx, ACT_ENGINE_INTERP);
    array_engine(ctx, ACT_ENGINE_JIT);
    forward_only(ctx, ACT_ENGINE_INTERP, "nat_arelu", arelu);
    forward_only(ctx, ACT_ENGINE_JIT, "nat_arelu", arelu);
    act_context_free(ctx);
}

/* Refused registrations fail the load with the activation and the reason. */
static void test_native_bad_registrations(void **state)
{
    (void)state;
    static const struct {
        const char *call, *msg;
    } bad[] = {
        {"act_register_scalar(reg, \"nb\", \"\", 3, ACT_FN(id), NULL)",
         "'nb': expected the type ACT_F32 or ACT_F64, found another"},
        {"act_register_scalar(reg, \"nb\", \"a = \", ACT_F64, ACT_FN(id), NULL)",
         "activation 'nb', column 5: expected"},
        {"act_register_scalar(reg, \"n b\", \"\", ACT_F64, ACT_FN(id), NULL)",
         "expected a name made of letters"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        char src[1024], c_path[600], path[600], cmd[2048], *out;
        snprintf(src, sizeof src,
                 "#include <act/plugin.h>\nACT_PLUGIN_ABI;\n"
                 "static double id(double x) { return x; }\n"
                 "int act_plugin_register(act_registry *reg) { return %s; }\n",
                 bad[k].call);
        snprintf(c_path, sizeof c_path, "%s/bad%zu.c", tmp, k);
        snprintf(path, sizeof path, "%s/bad%zu.so", tmp, k);
        ts_write_text(c_path, src);
        snprintf(cmd, sizeof cmd, "cc -shared -fPIC -I'%s/include' '%s' -o '%s'", ACT_SOURCE_DIR,
                 c_path, path);
        if (ts_run(cmd, NULL, &out))
            fail_msg("building: %s", out);
        free(out);
        act_context *ctx = act_context_new();
        act_error err = {0};
        int before = ir_registry_count(ctx->reg);
        assert_int_equal(act_load_plugin(ctx, path, &err), ACT_ERR_PLUGIN);
        if (!strstr(err.message, bad[k].msg))
            fail_msg("case %zu: unexpected message: %s", k, err.message);
        assert_int_equal(ir_registry_count(ctx->reg), before);
        act_context_free(ctx);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_native_scalar_runs_on_both_engines),
        cmocka_unit_test(test_native_without_derivative_runs_forward_only),
        cmocka_unit_test(test_native_fused_after_dense),
        cmocka_unit_test(test_native_refused_ahead_of_time),
        cmocka_unit_test(test_native_bad_registrations),
        cmocka_unit_test(test_native_array_runs_on_both_engines),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
