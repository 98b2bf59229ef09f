/* test_builtins.c -- ir/builtins.c: every built-in activation and its
   derivative against the golden fixture (mpmath, rounded to double), against
   central finite differences, and at the edges of the float range
   (ACT-LANGUAGE.md, "Values at the edges of the float range"). */
#include "support.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The interpreter rounds a double evaluation: measured worst case 1.2e-13
   (gelu at x = -30, where erfc's argument carries its rounding times 2u^2). */
#define FIXTURE_RTOL 1e-12

static ir_registry *registry(void)
{
    act_error err = {0};
    ir_registry *r = ir_registry_new(&err);
    if (!r)
        fail_msg("%s:%d:%d: %s", err.file, err.line, err.col, err.message);
    return r;
}

/* The defaults of act, overridden by "k=v,k=v" ("-": none); a string value
   is the index of its word. */
static void params_of(const ir_activation *act, const char *overrides, double *p)
{
    for (int i = 0; i < act->params.n; i++)
        p[i] = act->params.p[i].def;
    char buf[128];
    snprintf(buf, sizeof buf, "%s", strcmp(overrides, "-") ? overrides : "");
    for (char *save, *kv = strtok_r(buf, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
        char *v = strchr(kv, '=');
        assert_non_null(v);
        *v++ = 0;
        int i = 0;
        while (i < act->params.n && strcmp(act->params.p[i].name, kv))
            i++;
        if (i == act->params.n)
            fail_msg("%s has no parameter %s", act->name, kv);
        const ir_param *prm = &act->params.p[i];
        p[i] = strtod(v, NULL);
        for (int w = 0; w < 4 && prm->words[w]; w++)
            if (!strcmp(prm->words[w], v))
                p[i] = w;
    }
}

static double rel_error(double got, double want)
{
    if (isnan(want) || isnan(got))
        return isnan(want) && isnan(got) ? 0 : INFINITY;
    return want == 0 ? fabs(got) : fabs(got - want) / fabs(want);
}

static void test_builtins_match_the_golden_fixture(void **state)
{
    (void)state;
    ir_registry *r = registry();
    FILE *in = fopen(ACT_FIXTURES "/activations.txt", "r");
    assert_non_null(in);
    char line[512], set[200] = "", name[64], overrides[128];
    double worst_f = 0, worst_df = 0, overall = 0;
    int rows = 0;
    while (fgets(line, sizeof line, in)) {
        double x, want_f, want_df;
        if (line[0] == '#' ||
            sscanf(line, "%63s %127s %lf %lf %lf", name, overrides, &x, &want_f, &want_df) != 5)
            continue;
        const ir_activation *act = ir_registry_find(r, name);
        if (!act) { /* rrelu is a graph op, checked by the interpreter's tests */
            assert_non_null(ir_op_find(name));
            continue;
        }
        char key[200];
        snprintf(key, sizeof key, "%s %s", name, overrides);
        if (strcmp(key, set)) {
            if (*set)
                print_message("%-36s f %.2e  df %.2e\n", set, worst_f, worst_df);
            snprintf(set, sizeof set, "%s", key);
            worst_f = worst_df = 0;
        }
        double p[IR_MAX_PARAMS];
        params_of(act, overrides, p);
        double f = ir_expr_eval(act->f_eval, x, 0, p);
        double df = ir_expr_eval(act->df, x, f, p);
        double ef = rel_error(f, want_f), edf = rel_error(df, want_df);
        if (ef > FIXTURE_RTOL || edf > FIXTURE_RTOL)
            fail_msg("%s at %.17g: f %.17g (want %.17g), df %.17g (want %.17g)", key, x, f, want_f,
                     df, want_df);
        worst_f = fmax(worst_f, ef);
        worst_df = fmax(worst_df, edf);
        overall = fmax(overall, fmax(ef, edf));
        rows++;
    }
    print_message("%-36s f %.2e  df %.2e\n%d rows, worst relative error %.2e\n", set, worst_f,
                  worst_df, rows, overall);
    fclose(in);
    assert_true(rows > 2000);
    ir_registry_free(r);
}

/* Points where f or f' is not smooth, per activation with default params. */
static bool near_kink(const char *name, double x)
{
    static const struct {
        const char *name;
        double kinks[2];
        int n;
    } rows[] = {
        {"relu", {0}, 1},           {"relu6", {0, 6}, 2},
        {"leaky_relu", {0}, 1},     {"elu", {0}, 1},
        {"selu", {0}, 1},           {"celu", {0}, 1},
        {"hard_tanh", {-1, 1}, 2},  {"hard_sigmoid", {-3, 3}, 2},
        {"hard_swish", {-3, 3}, 2}, {"softplus", {20}, 1},
    };
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++)
        for (int k = 0; k < rows[i].n; k++)
            if (!strcmp(rows[i].name, name) && fabs(x - rows[i].kinks[k]) < 0.01)
                return true;
    return false;
}

static void check_finite_differences(const ir_activation *act, const double *p)
{
    static const double xs[] = {-30, -7.3, -2.2, -0.9, -0.35, -1e-3, 0.15,
                                0.8, 1.6,  2.7,  4.4,  9.1,   25};
    for (size_t i = 0; i < sizeof xs / sizeof *xs; i++) {
        if (near_kink(act->name, xs[i]))
            continue;
        ts_check_df_at(act, p, xs[i]);
    }
}

static void test_builtin_derivatives_match_finite_differences(void **state)
{
    (void)state;
    ir_registry *r = registry();
    for (int i = 0; i < ir_registry_count(r); i++) {
        const ir_activation *act = ir_registry_at(r, i);
        double p[IR_MAX_PARAMS];
        params_of(act, "-", p);
        check_finite_differences(act, p);
        if (!strcmp(act->name, "gelu")) {
            params_of(act, "approximate=tanh", p);
            check_finite_differences(act, p);
        }
    }
    ir_registry_free(r);
}

/* Equal as IEEE values, with the sign of a zero and NaN equal to NaN. */
static bool same(double got, double want)
{
    if (isnan(want))
        return isnan(got);
    return got == want && signbit(got) == signbit(want);
}

typedef struct {
    const char *name, *params;
    double x, f, df;
    double rtol; /* 0: exact */
} edge_row;

static const edge_row edge_rows[] = {
    {"relu", "-", -INFINITY, 0, 0, 0},
    {"relu", "-", INFINITY, INFINITY, 1, 0},
    {"relu6", "-", INFINITY, 6, 0, 0},
    {"leaky_relu", "-", -INFINITY, -INFINITY, 0.01, 0},
    {"elu", "-", -INFINITY, -1, 0, 0},
    {"elu", "alpha=0.5", -INFINITY, -0.5, 0, 0},
    {"elu", "-", -1e-40, -1e-40, 1, 0},
    {"elu", "-", INFINITY, INFINITY, 1, 0},
    {"selu", "-", -INFINITY, -1.0507009873554805 * 1.6732632423543772, 0, 1e-16},
    {"celu", "alpha=2", -INFINITY, -2, 0, 0},
    {"celu", "-", -1e-40, -1e-40, 1, 0},
    {"gelu", "-", -INFINITY, -0.0, 0, 0},
    {"gelu", "-", INFINITY, INFINITY, 1, 0},
    {"gelu", "approximate=tanh", -INFINITY, -0.0, 0, 0},
    {"gelu", "approximate=tanh", INFINITY, INFINITY, 1, 0},
    {"gelu", "-", -6, -5.9195258702261885e-09, -3.5468709453902015e-08, 1e-14},
    {"sigmoid", "-", -INFINITY, 0, 0, 0},
    {"sigmoid", "-", INFINITY, 1, 0, 0},
    {"sigmoid", "-", -100, 3.7200759760208361e-44, 3.7200759760208361e-44, 1e-12},
    {"sigmoid", "-", 100, 1, 3.7200759760208361e-44, 1e-12},
    {"hard_sigmoid", "-", -INFINITY, 0, 0, 0},
    {"hard_sigmoid", "-", INFINITY, 1, 0, 0},
    {"tanh", "-", -INFINITY, -1, 0, 0},
    {"tanh", "-", INFINITY, 1, 0, 0},
    {"tanh", "-", 100, 1, 5.5355861069469502e-87, 1e-12},
    {"hard_tanh", "-", -INFINITY, -1, 0, 0},
    {"hard_tanh", "-", INFINITY, 1, 0, 0},
    {"swish", "-", -INFINITY, -0.0, 0, 0},
    {"swish", "-", INFINITY, INFINITY, 1, 0},
    {"swish", "beta=-2", INFINITY, 0, 0, 0},
    {"silu", "-", -INFINITY, -0.0, 0, 0},
    {"silu", "-", INFINITY, INFINITY, 1, 0},
    {"hard_swish", "-", -INFINITY, -0.0, 0, 0},
    {"hard_swish", "-", INFINITY, INFINITY, 1, 0},
    {"mish", "-", -INFINITY, -0.0, 0, 0},
    {"mish", "-", INFINITY, INFINITY, 1, 0},
    {"mish", "-", 1000, 1000, 1, 0},
    {"softplus", "-", -INFINITY, 0, 0, 0},
    {"softplus", "-", INFINITY, INFINITY, 1, 0},
    {"softplus", "-", -100, 3.7200759760208361e-44, 3.7200759760208361e-44, 1e-12},
    {"softsign", "-", -INFINITY, -1, 0, 0},
    {"softsign", "-", INFINITY, 1, 0, 0},
    {"squareplus", "-", -INFINITY, 0, 0, 0},
    {"squareplus", "-", INFINITY, INFINITY, 1, 0},
    {"squareplus", "-", -100, 0.0099990001999500141, 9.997000999650126e-05, 1e-12},
    {"identity", "-", -INFINITY, -INFINITY, 1, 0},
};

static void test_builtins_take_their_limits_at_the_edges(void **state)
{
    (void)state;
    ir_registry *r = registry();
    for (size_t i = 0; i < sizeof edge_rows / sizeof *edge_rows; i++) {
        const edge_row *e = &edge_rows[i];
        const ir_activation *act = ir_registry_find(r, e->name);
        assert_non_null(act);
        double p[IR_MAX_PARAMS];
        params_of(act, e->params, p);
        double f = ir_expr_eval(act->f_eval, e->x, 0, p);
        double df = ir_expr_eval(act->df, e->x, f, p);
        bool ok = e->rtol ? rel_error(f, e->f) <= e->rtol && rel_error(df, e->df) <= e->rtol
                          : same(f, e->f) && same(df, e->df);
        if (!ok)
            fail_msg("%s(%g) = %.17g, f' = %.17g; expected %.17g, %.17g", e->name, e->x, f, df,
                     e->f, e->df);
    }
    ir_registry_free(r);
}

static void test_builtins_give_nan_for_nan(void **state)
{
    (void)state;
    ir_registry *r = registry();
    for (int i = 0; i < ir_registry_count(r); i++) {
        const ir_activation *act = ir_registry_at(r, i);
        double p[IR_MAX_PARAMS];
        params_of(act, "-", p);
        for (int tanh_form = 0; tanh_form < 2; tanh_form++) {
            if (tanh_form)
                p[0] = 1; /* only gelu's approximate reaches here with a word param */
            double f = ir_expr_eval(act->f_eval, NAN, 0, p);
            double df = ir_expr_eval(act->df, NAN, f, p);
            if (!isnan(f) || (!isnan(df) && strcmp(act->name, "identity")))
                fail_msg("%s(nan) = %g, f' = %g", act->name, f, df);
            if (strcmp(act->name, "gelu"))
                break;
        }
    }
    ir_registry_free(r);
}

static void test_builtin_rows_are_documented_and_known_to_the_registry(void **state)
{
    (void)state;
    ir_registry *r = registry();
    int n;
    const ir_builtin_row *rows = ir_builtin_rows(&n);
    assert_int_equal(n, 19);
    assert_int_equal(ir_registry_count(r), n);
    for (int i = 0; i < n; i++) {
        const ir_activation *act = ir_registry_at(r, i);
        assert_string_equal(act->name, rows[i].name);
        assert_true(rows[i].doc && *rows[i].doc);
        assert_int_equal(act->origin_kind, IR_ORIGIN_BUILTIN);
        assert_string_equal(act->origin, "built-in");
        assert_non_null(act->df);
        assert_null(act->df_error);
        assert_null(ir_op_find(act->name));
    }
    const ir_activation *gelu = ir_registry_find(r, "gelu");
    assert_int_equal(gelu->params.n, 1);
    assert_string_equal(gelu->params.p[0].name, "approximate");
    assert_string_equal(gelu->params.p[0].words[0], "none");
    assert_string_equal(gelu->params.p[0].words[1], "tanh");
    assert_null(gelu->params.p[0].words[2]);
    assert_true(gelu->params.p[0].def == 0);
    const ir_activation *hard_tanh = ir_registry_find(r, "hard_tanh");
    assert_true(hard_tanh->params.p[0].def == -1 && hard_tanh->params.p[1].def == 1);
    ir_registry_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_builtins_match_the_golden_fixture),
        cmocka_unit_test(test_builtin_derivatives_match_finite_differences),
        cmocka_unit_test(test_builtins_take_their_limits_at_the_edges),
        cmocka_unit_test(test_builtins_give_nan_for_nan),
        cmocka_unit_test(test_builtin_rows_are_documented_and_known_to_the_registry),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
