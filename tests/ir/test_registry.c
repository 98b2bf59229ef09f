/* test_registry.c -- ir/registry.c and ir/ops.c: activations built from
   text (the user-defined examples of ACT-LANGUAGE.md), errors with their
   position in the formula, the registry's lookups and all-or-none adds with
   clash messages naming both origins, and the graph-op table. */
#include "support.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static ir_registry *registry(void)
{
    act_error err = {0};
    ir_registry *r = ir_registry_new(&err);
    if (!r)
        fail_msg("%s", err.message);
    return r;
}

static ir_activation *from_text(ir_registry *r, const char *name, const char *params,
                                const char *formula, const char *grad, const char *origin)
{
    act_error err = {0};
    ir_activation *act =
        ir_activation_from_text(ir_registry_arena(r), ir_registry_pool(r), IR_ORIGIN_PLUGIN, name,
                                params, NULL, formula, grad, origin, &err);
    if (!act)
        fail_msg("%s: %d:%d: %s", name, err.line, err.col, err.message);
    return act;
}

/* df(x, f(x)) against a central difference of f at points around 0. */
static void check_against_finite_differences(const ir_activation *act, const double *p)
{
    static const double xs[] = {-6.5, -2.2, -0.7, 0.3, 0.9, 1.6, 3.3, 8.1};
    for (size_t i = 0; i < sizeof xs / sizeof *xs; i++) {
        ts_check_df_at(act, p, xs[i]);
    }
}

static void test_from_text_builds_the_user_defined_examples(void **state)
{
    (void)state;
    ir_registry *r = registry();
    ir_activation *sq = from_text(r, "squareplus2", "b = 4", "(x + sqrt(x*x + b)) / 2", NULL, "f");
    double b = 4;
    assert_true(fabs(ir_expr_eval(sq->f, 1, 0, &b) - (1 + sqrt(5)) / 2) < 1e-15);
    check_against_finite_differences(sq, &b);

    ir_activation *soft = from_text(r, "softclip", "a = 1",
                                    "log((1 + exp(a*x)) / (1 + exp(a*(x - 1)))) / a", NULL, "f");
    assert_null(soft->grad_formula);
    assert_non_null(soft->df);
    for (double a = 1; a <= 2; a++)
        check_against_finite_differences(soft, &a);

    ir_activation *mysig = from_text(r, "mysig", "", "1 / (1 + exp(-x))", "y * (1 - y)", "f");
    assert_string_equal(mysig->grad_formula, "y * (1 - y)");
    assert_false(ir_expr_uses_x(mysig->df));
    check_against_finite_differences(mysig, NULL);
    assert_true(ir_expr_eval(mysig->df, 123, 0.25, NULL) == 0.1875);
    ir_registry_free(r);
}

static void test_from_text_rewrites_the_derived_derivative_in_y(void **state)
{
    (void)state;
    ir_registry *r = registry();
    ir_activation *act = from_text(r, "e2", "", "exp(x)", NULL, "f");
    assert_false(ir_expr_uses_x(act->df));
    assert_true(ir_expr_eval(act->df, NAN, 0.5, NULL) == 0.5);
    /* sigmoid' = y sigmoid(-x), tanh' = 4 sigmoid(2x) sigmoid(-2x): no
       1 - y or 1 - y^2 to cancel */
    act = from_text(r, "sig2", "", "sigmoid(x)", NULL, "f");
    assert_true(fabs(ir_expr_eval(act->df, 50, 0.25, NULL) / (0.25 / (1 + exp(50))) - 1) < 1e-14);
    act = from_text(r, "th", "", "tanh(x)", NULL, "f");
    assert_true(fabs(ir_expr_eval(act->df, 30, 1, NULL) / (1 / pow(cosh(30), 2)) - 1) < 1e-14);
    ir_registry_free(r);
}

typedef struct {
    const char *params, *formula, *grad;
    int code, col;
    const char *message;
} text_error_row;

static const text_error_row text_errors[] = {
    {"a = 1", "x + foo", NULL, ACT_ERR_NAME, 5, "found 'foo'"},
    {"a = 1", "a * y", NULL, ACT_ERR_NAME, 5, "`y` is only allowed in a grad expression"},
    {"a = 1", "x", "y * z", ACT_ERR_NAME, 5, "found 'z'"},
    {"a = 1 b = 2", "x", NULL, ACT_ERR_SYNTAX, 7, "expected ',' or the end of the parameters"},
    {"a = 1, a = 2", "x", NULL, ACT_ERR_NAME, 8, "given twice"},
    {"", "max(x)", NULL, ACT_ERR_ARG, 1, "expected 2 arguments for max, found 1"},
};

static void test_from_text_reports_errors_in_the_formula(void **state)
{
    (void)state;
    ir_registry *r = registry();
    for (size_t i = 0; i < sizeof text_errors / sizeof *text_errors; i++) {
        const text_error_row *row = &text_errors[i];
        act_error err = {0};
        ir_activation *act = ir_activation_from_text(ir_registry_arena(r), ir_registry_pool(r),
                                                     IR_ORIGIN_PLUGIN, "bad", row->params, NULL,
                                                     row->formula, row->grad, "/x/p.so", &err);
        if (act || err.code != row->code || err.line != 1 || err.col != row->col ||
            strcmp(err.file, "/x/p.so") || !strstr(err.message, row->message))
            fail_msg("row %zu: %d at %s:%d:%d '%s'", i, err.code, err.file, err.line, err.col,
                     err.message);
    }
    act_error err = {0};
    assert_null(ir_activation_from_text(ir_registry_arena(r), ir_registry_pool(r), IR_ORIGIN_PLUGIN,
                                        "w", "", "mode none", "x", NULL, "p", &err));
    assert_int_equal(err.code, ACT_ERR_SYNTAX);
    ir_registry_free(r);
}

static ir_activation *plugin_act(ir_registry *r, const char *name, const char *path)
{
    ir_activation *act = from_text(r, name, "", "x * 2", NULL, path);
    act->origin_kind = IR_ORIGIN_PLUGIN;
    return act;
}

static void test_registry_finds_builtins_in_table_order(void **state)
{
    (void)state;
    ir_registry *r = registry();
    int n;
    const ir_builtin_row *rows = ir_builtin_rows(&n);
    assert_int_equal(ir_registry_count(r), n);
    for (int i = 0; i < n; i++)
        assert_ptr_equal(ir_registry_find(r, rows[i].name), ir_registry_at(r, i));
    assert_null(ir_registry_find(r, "softmax"));
    assert_null(ir_registry_find(r, "nope"));
    ir_registry_free(r);
}

static void test_registry_add_appends_in_order(void **state)
{
    (void)state;
    ir_registry *r = registry();
    int before = ir_registry_count(r);
    ir_activation *acts[] = {plugin_act(r, "p1", "/x/p.so"), plugin_act(r, "p2", "/x/p.so")};
    act_error err = {0};
    assert_int_equal(ir_registry_add(r, acts, 2, &err), 0);
    assert_int_equal(ir_registry_count(r), before + 2);
    assert_ptr_equal(ir_registry_at(r, before + 1), acts[1]);
    assert_ptr_equal(ir_registry_find(r, "p1"), acts[0]);
    for (int i = 0; i < 40; i++) { /* growth keeps everything */
        char name[16];
        snprintf(name, sizeof name, "q%d", i);
        ir_activation *q = plugin_act(r, name, "/x/q.so");
        assert_int_equal(ir_registry_add(r, &q, 1, &err), 0);
    }
    assert_int_equal(ir_registry_count(r), before + 42);
    assert_ptr_equal(ir_registry_find(r, "p2"), acts[1]);
    assert_non_null(ir_registry_find(r, "q39"));
    ir_registry_free(r);
}

typedef struct {
    const char *name;
    ir_origin_kind kind;
    const char *origin;
    const char *message;
} clash_row;

static const clash_row clash_rows[] = {
    {"swish", IR_ORIGIN_PLUGIN, "/x/p.so",
     "expected a new activation name, found 'swish' already defined (built-in) and again in "
     "plugin /x/p.so"},
    {"softmax", IR_ORIGIN_PLUGIN, "/x/p.so",
     "expected a new activation name, found 'softmax' already defined (built-in graph op) and "
     "again in plugin /x/p.so"},
    {"mine", IR_ORIGIN_FILE, "g.act:3:1",
     "expected a new activation name, found 'mine' already defined in plugin /x/first.so and "
     "again at g.act:3:1"},
};

static void test_registry_add_rejects_clashes_naming_both_origins(void **state)
{
    (void)state;
    ir_registry *r = registry();
    ir_activation *mine = plugin_act(r, "mine", "/x/first.so");
    act_error err = {0};
    assert_int_equal(ir_registry_add(r, &mine, 1, &err), 0);
    for (size_t i = 0; i < sizeof clash_rows / sizeof *clash_rows; i++) {
        ir_activation *act = plugin_act(r, clash_rows[i].name, clash_rows[i].origin);
        act->origin_kind = clash_rows[i].kind;
        assert_int_equal(ir_registry_add(r, &act, 1, &err), ACT_ERR_NAME);
        assert_string_equal(err.message, clash_rows[i].message);
        assert_string_equal(err.file, clash_rows[i].origin);
    }
    ir_registry_free(r);
}

static void test_registry_add_is_all_or_none(void **state)
{
    (void)state;
    ir_registry *r = registry();
    int before = ir_registry_count(r);
    act_error err = {0};
    ir_activation *late_clash[] = {plugin_act(r, "ok1", "/x/p.so"), plugin_act(r, "ok2", "/x/p.so"),
                                   plugin_act(r, "relu", "/x/p.so")};
    assert_int_equal(ir_registry_add(r, late_clash, 3, &err), ACT_ERR_NAME);
    assert_int_equal(ir_registry_count(r), before);
    assert_null(ir_registry_find(r, "ok1"));
    ir_activation *twice[] = {plugin_act(r, "dup", "/x/p.so"), plugin_act(r, "dup", "/x/p.so")};
    assert_int_equal(ir_registry_add(r, twice, 2, &err), ACT_ERR_NAME);
    assert_string_equal(err.message, "expected a new activation name, found 'dup' already defined "
                                     "in plugin /x/p.so and again in plugin /x/p.so");
    assert_int_equal(ir_registry_count(r), before);
    ir_registry_free(r);
}

static void test_op_table_has_each_graph_op_with_its_defaults(void **state)
{
    (void)state;
    int n;
    const ir_op_info *ops = ir_op_table(&n);
    assert_int_equal(n, 12);
    for (int i = 0; i < n; i++) {
        assert_ptr_equal(ir_op_find(ops[i].name), &ops[i]);
        assert_string_equal(ir_op_name(ops[i].op), ops[i].name);
        assert_true(ops[i].doc && *ops[i].doc);
        assert_true(ops[i].min_args >= 1 && ops[i].min_args <= ops[i].max_args &&
                    ops[i].max_args <= IR_MAX_ARGS);
    }
    const ir_op_info *dense = ir_op_find("dense");
    assert_true(dense->min_args == 2 && dense->max_args == 3);
    const ir_op_info *scale = ir_op_find("scale");
    assert_true(scale->params.n == 1 && scale->params.p[0].def == 2.0);
    const ir_op_info *rrelu = ir_op_find("rrelu");
    assert_true(rrelu->params.n == 4 && rrelu->params.p[0].def == 0.125 &&
                rrelu->params.p[1].def == 1.0 / 3 && !strcmp(rrelu->params.p[3].name, "seed"));
    assert_true(ir_op_find("softmax")->params.p[0].def == -1);
    assert_int_equal(ir_op_find("maxout")->params.p[0].def, 2);
    assert_null(ir_op_find("relu"));
}

static void test_op_name_covers_every_op_once(void **state)
{
    (void)state;
    for (int i = 0; i < IR_OP_COUNT_; i++) {
        assert_string_not_equal(ir_op_name((ir_op)i), "?");
        for (int j = 0; j < i; j++)
            assert_string_not_equal(ir_op_name((ir_op)i), ir_op_name((ir_op)j));
    }
    assert_string_equal(ir_op_name(IR_OP_COUNT_), "?");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_from_text_builds_the_user_defined_examples),
        cmocka_unit_test(test_from_text_rewrites_the_derived_derivative_in_y),
        cmocka_unit_test(test_from_text_reports_errors_in_the_formula),
        cmocka_unit_test(test_registry_finds_builtins_in_table_order),
        cmocka_unit_test(test_registry_add_appends_in_order),
        cmocka_unit_test(test_registry_add_rejects_clashes_naming_both_origins),
        cmocka_unit_test(test_registry_add_is_all_or_none),
        cmocka_unit_test(test_op_table_has_each_graph_op_with_its_defaults),
        cmocka_unit_test(test_op_name_covers_every_op_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
