/* test_loader.c -- formula plugins end to end: tiny plugins built at test
   time with the one-line build of PLUGIN.md, used from graphs on both
   engines; every loader error with its code and message, leaving the
   registry as it was; ACT_PLUGIN_PATH and `actc list`; the shipped plugin. */
#include "support.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *tmp; /* built plugins, one folder for the whole file */

static int setup(void **state)
{
    (void)state;
    tmp = ts_tmpdir();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    ts_rmtree(tmp);
    free(tmp);
    return 0;
}

/* Builds tmp/<name>.so from src as a user would; out gets its path. */
static void build(const char *name, const char *src, char out[512])
{
    char c_path[512], cmd[2048], *err;
    snprintf(c_path, sizeof c_path, "%s/%s.c", tmp, name);
    snprintf(out, 512, "%s/%s.so", tmp, name);
    ts_write_text(c_path, src);
    snprintf(cmd, sizeof cmd, "cc -shared -fPIC -I'%s/include' '%s' -o '%s'", ACT_SOURCE_DIR,
             c_path, out);
    if (ts_run(cmd, NULL, &err))
        fail_msg("building %s: %s", name, err);
    free(err);
}

static const char good_src[] =
    "#include <act/plugin.h>\n"
    "ACT_PLUGIN_ABI;\n"
    "int act_plugin_register(act_registry *reg)\n"
    "{\n"
    "    if (act_register_formula(reg, \"pl_softclip\", \"a = 1\",\n"
    "            \"log((1 + exp(a*x)) / (1 + exp(a*(x - 1)))) / a\", NULL))\n"
    "        return 1;\n"
    "    return act_register_formula(reg, \"pl_cube\", \"\", \"x^3\", \"3 * x^2\");\n"
    "}\n";

static double softclip(double x, double a)
{
    return log((1 + exp(a * x)) / (1 + exp(a * (x - 1)))) / a;
}

static const char graph_src[] = "graph g {\n"
                                "    input x : f32[N]\n"
                                "    y = pl_softclip(x, a = 2)\n"
                                "    output y\n"
                                "}\n";

static void run_engine(act_context *ctx, act_engine engine)
{
    static const float x[] = {-3, -1, -0.25f, 0, 0.5f, 1, 2.5f, 4};
    const int64_t n = sizeof x / sizeof *x;
    float ones[sizeof x / sizeof *x];
    for (int64_t i = 0; i < n; i++)
        ones[i] = 1;
    act_error err = {0};
    act_program *p = act_compile_string(ctx, graph_src, "g.act", NULL, engine, &err);
    if (!p)
        fail_msg("compile: %s", err.message);
    assert_int_equal(act_set(p, "x", x, &n, 1, &err), 0);
    assert_int_equal(act_set_output_grad(p, "y", ones, &n, 1, &err), 0);
    if (act_backward(p, &err))
        fail_msg("backward: %s", err.message);
    const float *y = act_get(p, "y", NULL, NULL, &err);
    const float *dx = act_get(p, "d_x", NULL, NULL, &err);
    assert_non_null(y);
    assert_non_null(dx);
    for (int64_t i = 0; i < n; i++) {
        double h = 1e-5, fd = (softclip(x[i] + h, 2) - softclip(x[i] - h, 2)) / (2 * h);
        if (!ts_close(y[i], softclip(x[i], 2), 1e-5, 1e-6) || !ts_close(dx[i], fd, 1e-4, 1e-5))
            fail_msg("engine %d at x = %g: y %g (want %g), dx %g (want %g)", (int)engine, x[i],
                     y[i], softclip(x[i], 2), dx[i], fd);
    }
    act_program_free(p);
}

static void test_loader_formula_plugin_runs_on_both_engines(void **state)
{
    (void)state;
    char path[512];
    build("good", good_src, path);
    act_context *ctx = act_context_new();
    act_error err = {0};
    int before = ir_registry_count(ctx->reg);
    if (act_load_plugin(ctx, path, &err))
        fail_msg("load: %s", err.message);
    assert_int_equal(ir_registry_count(ctx->reg), before + 2);
    const ir_activation *a = ir_registry_find(ctx->reg, "pl_softclip");
    assert_non_null(a);
    assert_int_equal(a->origin_kind, IR_ORIGIN_PLUGIN);
    assert_string_equal(a->origin, path);
    run_engine(ctx, ACT_ENGINE_INTERP);
    run_engine(ctx, ACT_ENGINE_JIT);
    act_context_free(ctx);
}

#define HEAD "#include <act/plugin.h>\n"
#define ABI HEAD "ACT_PLUGIN_ABI;\n"
#define REG "int act_plugin_register(act_registry *reg)\n"

static const struct {
    const char *name, *src; /* src NULL: a missing file; "" a file that is not a library */
    const char *msg[2];
} bad[] = {
    {"missing", NULL, {"found none", "No such file"}},
    {"junk", "", {"expected a loadable shared library", "junk.so"}},
    {"no_entry",
     ABI "int unrelated(void);\nint unrelated(void) { return 0; }\n",
     {"act_plugin_register", "found none"}},
    {"no_abi", HEAD REG "{ (void)reg; return 0; }\n", {"act_plugin_abi_version", "found none"}},
    {"abi_99",
     HEAD "__attribute__((visibility(\"default\"))) const int act_plugin_abi_version = 99;\n" REG
          "{ (void)reg; return 0; }\n",
     {"expected plugin ABI version 1", "found version 99"}},
    {"returns_3",
     ABI REG "{ act_register_formula(reg, \"pl_ok\", \"\", \"x\", NULL);\n"
             "  act_register_scalar(reg, \"pl_s\", \"\", ACT_F64, 0, 0);\n  return 3; }\n",
     {"return 0, found 3", "'pl_s': expected a function, found NULL"}},
    {"array",
     ABI REG "{ act_register_array(reg, \"pl_a\", \"\", 0, 0);\n  return 0; }\n",
     {"'pl_a'", "expected a function, found NULL"}},
    {"bad_formula",
     ABI REG "{ act_register_formula(reg, \"pl_ok\", \"\", \"x\", NULL);\n"
             "  act_register_formula(reg, \"pl_bad\", \"\", \"x + * 2\", NULL);\n  return 0; }\n",
     {"activation 'pl_bad', column 5", "expected"}},
    {"bad_params",
     ABI REG "{ return act_register_formula(reg, \"pl_bp\", \"a = \", \"a * x\", NULL); }\n",
     {"activation 'pl_bp', column 5", "expected a number"}},
    {"bad_name",
     ABI REG "{ return act_register_formula(reg, \"no good\", \"\", \"x\", NULL); }\n",
     {"'no good'", "letters, digits and '_'"}},
    {"builtin_clash",
     ABI REG "{ act_register_formula(reg, \"pl_ok\", \"\", \"x\", NULL);\n"
             "  return act_register_formula(reg, \"relu\", \"\", \"x\", NULL); }\n",
     {"'relu' already defined (built-in)", "and again in plugin"}},
    {"self_clash",
     ABI REG "{ act_register_formula(reg, \"pl_twice\", \"\", \"x\", NULL);\n"
             "  return act_register_formula(reg, \"pl_twice\", \"\", \"2 * x\", NULL); }\n",
     {"'pl_twice' already defined in plugin", "again in plugin"}},
};

static void expect_refused(act_context *ctx, const char *path, const char *const msg[2])
{
    act_error err = {0};
    int before = ir_registry_count(ctx->reg);
    int rc = act_load_plugin(ctx, path, &err);
    if (rc != ACT_ERR_PLUGIN || err.code != ACT_ERR_PLUGIN || strcmp(err.file, path) ||
        !strstr(err.message, msg[0]) || !strstr(err.message, msg[1]))
        fail_msg("%s: rc %d, code %d, file %s: %s", path, rc, err.code, err.file, err.message);
    assert_int_equal(ir_registry_count(ctx->reg), before);
    assert_null(ir_registry_find(ctx->reg, "pl_ok"));
    assert_int_equal(act_load_plugin(ctx, path, NULL), ACT_ERR_PLUGIN); /* err may be NULL */
}

static void test_loader_errors_leave_the_registry_as_it_was(void **state)
{
    (void)state;
    act_context *ctx = act_context_new();
    int before = ir_registry_count(ctx->reg);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char path[512];
        if (!bad[i].src)
            snprintf(path, sizeof path, "%s/%s.so", tmp, bad[i].name);
        else if (!*bad[i].src) {
            snprintf(path, sizeof path, "%s/%s.so", tmp, bad[i].name);
            ts_write_text(path, "not a library\n");
        } else
            build(bad[i].name, bad[i].src, path);
        expect_refused(ctx, path, bad[i].msg);
    }
    assert_int_equal(ir_registry_count(ctx->reg), before);
    char good[512];
    build("good_after", good_src, good);
    act_error err = {0};
    if (act_load_plugin(ctx, good, &err))
        fail_msg("good after failures: %s", err.message);
    assert_int_equal(ir_registry_count(ctx->reg), before + 2);
    run_engine(ctx, ACT_ENGINE_JIT);
    act_context_free(ctx);
}

static void test_loader_clash_between_plugins_and_loading_twice(void **state)
{
    (void)state;
    char first[512], second[512], link_path[600];
    build("first", good_src, first);
    build("second", good_src, second);
    act_context *ctx = act_context_new();
    act_error err = {0};
    assert_int_equal(act_load_plugin(ctx, first, &err), 0);
    int count = ir_registry_count(ctx->reg);
    const char *again[2] = {"already loaded", first};
    expect_refused(ctx, first, again);
    snprintf(link_path, sizeof link_path, "%s/link.so", tmp);
    assert_int_equal(symlink(first, link_path), 0);
    expect_refused(ctx, link_path, again);
    char in_first[600];
    snprintf(in_first, sizeof in_first, "already defined in plugin %s", first);
    const char *clash[2] = {in_first, second};
    expect_refused(ctx, second, clash);
    assert_int_equal(ir_registry_count(ctx->reg), count);
    act_context_free(ctx);

    /* another context has a registry of its own */
    act_context *other = act_context_new();
    assert_int_equal(act_load_plugin(other, second, &err), 0);
    assert_string_equal(ir_registry_find(other->reg, "pl_cube")->origin, second);
    act_context_free(other);
}

static void test_loader_plugin_path_and_actc_list(void **state)
{
    (void)state;
    char dir[512], lib[600], cmd[4096], *out, *err;
    snprintf(dir, sizeof dir, "%s/pdir", tmp);
    assert_int_equal(mkdir(dir, 0755), 0);
    build("pdir/b_one",
          ABI REG "{ return act_register_formula(reg, \"pl_dir_one\", \"\", \"x / 2\", NULL); }\n",
          lib);
    build("pdir/a_two",
          ABI REG "{ return act_register_formula(reg, \"pl_dir_two\", \"\", \"2 * x\", NULL); }\n",
          lib);
    char act_file[600];
    snprintf(act_file, sizeof act_file, "%s/use.act", tmp);
    ts_write_text(act_file, "graph g {\n    input x : f32[3]\n    y = pl_dir_one(pl_dir_two(x))\n"
                            "    output y\n}\n");
    snprintf(cmd, sizeof cmd, "ACT_PLUGIN_PATH='%s::%s' '%s' list", dir, ACT_FORMULAS_PLUGIN,
             ACTC_PATH);
    if (ts_run(cmd, &out, &err))
        fail_msg("%s: %s", cmd, err);
    char origin[700];
    snprintf(origin, sizeof origin, "pl_dir_one (%s/b_one.so)", dir);
    assert_non_null(strstr(out, origin));
    snprintf(origin, sizeof origin, "pl_dir_two (%s/a_two.so)", dir);
    char *two = strstr(out, origin);
    assert_non_null(two);
    assert_true(two < strstr(out, "pl_dir_one")); /* sorted: a_two.so first */
    snprintf(origin, sizeof origin, "isru (%s)", ACT_FORMULAS_PLUGIN);
    assert_non_null(strstr(out, origin));
    free(out);
    free(err);

    snprintf(cmd, sizeof cmd, "ACT_PLUGIN_PATH='%s' '%s' check '%s'", dir, ACTC_PATH, act_file);
    if (ts_run(cmd, &out, &err))
        fail_msg("%s: %s", cmd, err);
    free(out);
    free(err);

    /* --plugin, and the error of a missing one */
    snprintf(cmd, sizeof cmd, "'%s' list --plugin '%s/a_two.so'", ACTC_PATH, dir);
    assert_int_equal(ts_run(cmd, &out, &err), 0);
    assert_non_null(strstr(out, "pl_dir_two ("));
    free(out);
    free(err);
    snprintf(cmd, sizeof cmd, "'%s' check '%s' --plugin '%s/nope.so'", ACTC_PATH, act_file, dir);
    assert_int_equal(ts_run(cmd, &out, &err), 1);
    assert_non_null(strstr(err, "nope.so: error: expected a plugin library file"));
    free(out);
    free(err);
}

static double bent_identity(double x, double a)
{
    (void)a;
    return (sqrt(x * x + 1) - 1) / 2 + x;
}
static double isru(double x, double a)
{
    return x / sqrt(1 + a * x * x);
}
static double sinusoid(double x, double a)
{
    (void)a;
    return sin(x);
}
static double logish(double x, double a)
{
    (void)a;
    return x * log(1 + 1 / (1 + exp(-x)));
}

static void test_loader_shipped_formulas(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        double (*f)(double x, double a);
        double a;
    } rows[] = {
        {"bent_identity", bent_identity, 0}, {"isru", isru, 1},
        {"soft_clipping", softclip, 1},      {"soft_clipping", softclip, 3},
        {"sinusoid", sinusoid, 0},           {"logish", logish, 0},
    };
    act_context *ctx = act_context_new();
    act_error err = {0};
    if (act_load_plugin(ctx, ACT_FORMULAS_PLUGIN, &err))
        fail_msg("%s", err.message);
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
        const ir_activation *act = ir_registry_find(ctx->reg, rows[i].name);
        assert_non_null(act);
        assert_string_equal(act->origin, ACT_FORMULAS_PLUGIN);
        for (double x = -6; x <= 6; x += 0.375) {
            double p[1] = {rows[i].a}, want = rows[i].f(x, rows[i].a);
            if (!ts_close(ir_expr_eval(act->f, x, 0, p), want, 1e-12, 1e-14))
                fail_msg("%s(%g): %.17g, want %.17g", rows[i].name, x,
                         ir_expr_eval(act->f, x, 0, p), want);
            ts_check_df_at(act, p, x);
        }
    }
    /* stable where the paper's quotient is inf/inf */
    const ir_activation *clip = ir_registry_find(ctx->reg, "soft_clipping");
    double a1[1] = {1};
    assert_true(ts_close(ir_expr_eval(clip->f, 1000, 0, a1), 1, 1e-12, 0));
    assert_true(ts_close(ir_expr_eval(clip->f, -1000, 0, a1), 0, 0, 1e-12));
    act_context_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loader_formula_plugin_runs_on_both_engines),
        cmocka_unit_test(test_loader_errors_leave_the_registry_as_it_was),
        cmocka_unit_test(test_loader_clash_between_plugins_and_loading_twice),
        cmocka_unit_test(test_loader_plugin_path_and_actc_list),
        cmocka_unit_test(test_loader_shipped_formulas),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
