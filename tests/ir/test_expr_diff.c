/* test_expr_diff.c -- ir/expr_diff.c and ir_expr_subst_y: every operator's
   derivative against central finite differences, the kink conventions of
   ACT-LANGUAGE.md, dropped zero terms, derivatives rewritten in y, and native
   calls with and without a derivative. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "ir/ir.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    ir_arena *arena;
    ir_expr_pool *pool;
    ir_params params; /* a = 1.5, b = 0.7 */
    double values[2];
} ctx;

static ctx ctx_new(void)
{
    ctx c = {ir_arena_new(), NULL, {.n = 2}, {1.5, 0.7}};
    assert_non_null(c.arena);
    assert_non_null(c.pool = ir_expr_pool_new(c.arena));
    c.params.p[0].name = "a";
    c.params.p[1].name = "b";
    return c;
}

static ir_expr *parse(ctx *c, const char *src)
{
    act_error err = {0};
    ir_expr *e = ir_expr_parse_string(c->pool, src, "f", &c->params, true, &err);
    if (!e)
        fail_msg("'%s': %s", src, err.message);
    return e;
}

static ir_expr *diff(ctx *c, const char *src)
{
    act_error err = {0};
    ir_expr *d = ir_expr_diff(c->pool, parse(c, src), &err);
    if (!d)
        fail_msg("d '%s': %s", src, err.message);
    return d;
}

/* Formulas and points away from their kinks and singularities. */
static const struct {
    const char *src;
    double x[5];
} fd_rows[] = {
    {"x^3", {-2.3, -0.7, 0.4, 1.3, 2.9}},
    {"2^x", {-2.3, -0.7, 0.4, 1.3, 2.9}},
    {"x^x", {0.3, 0.7, 1.4, 2.2, 3.1}},
    {"pow(x, a) + pow(a, x)", {0.3, 0.7, 1.4, 2.2, 3.1}},
    {"x^-2", {-2.3, -0.7, 0.4, 1.3, 2.9}},
    {"exp(2 * x)", {-2.3, -0.7, 0.4, 1.3, 2.9}},
    {"expm1(-x)", {-2.3, -0.7, 0.4, 1.3, 2.9}},
    {"log(x) * a", {0.3, 0.7, 1.4, 2.2, 3.1}},
    {"log1p(x^2)", {-2.3, -0.7, 0.4, 1.3, 2.9}},
    {"sqrt(x) + sqrt(x * x + b)", {0.3, 0.7, 1.4, 2.2, 3.1}},
    {"abs(x) + abs(sin(x))", {-2.3, -0.7, 0.4, 1.3, 2.9}},
    {"tanh(a * x)", {-2.3, -0.7, 0.4, 1.3, 2.9}},
    {"sigmoid(x / b)", {-2.3, -0.7, 0.4, 1.3, 2.9}},
    {"erf(x) + erfc(2 * x)", {-2.3, -0.7, 0.4, 1.3, 2.9}},
    {"sin(x) * cos(a * x)", {-2.3, -0.7, 0.4, 1.3, 2.9}},
    {"min(x, a) + max(x * x, 1)", {-2.3, -0.7, 0.4, 1.3, 2.9}},
    {"min(b, x^3) * max(-x, 0.5)", {-2.3, -0.7, 0.4, 1.3, 2.9}},
    {"where(x > 0, x^2, sin(x))", {-2.3, -0.7, 0.4, 1.3, 2.9}},
    {"clamp(x, -1, b) + clamp(2 * x, x, x + 1)", {-2.3, -0.7, 0.4, 1.3, 2.9}},
    {"clamp(x, b, -1)", {-2.3, -0.7, 0.4, 1.3, 2.9}},
    {"x / (1 + x^2) - a / x", {-2.3, -0.7, 0.4, 1.3, 2.9}},
    {"(x < 1) * x - (x >= a) + (x == b) + (x != 0) - (x <= 2) + (x > 3)",
     {-2.3, -0.7, 0.4, 1.3, 2.9}},
    {"-x * exp(-x) - -x", {-2.3, -0.7, 0.4, 1.3, 2.9}},
    {"log((1 + exp(a*x)) / (1 + exp(a*(x - 1)))) / a", {-2.3, -0.7, 0.4, 1.3, 2.9}},
    {"x * sigmoid(x) + x * tanh(log1p(exp(x)))", {-2.3, -0.7, 0.4, 1.3, 2.9}},
    {"x / 2 * erfc(-x / sqrt(2)) + pi * e * x", {-2.3, -0.7, 0.4, 1.3, 2.9}},
};

static void test_diff_matches_central_differences(void **state)
{
    (void)state;
    ctx c = ctx_new();
    for (size_t i = 0; i < sizeof fd_rows / sizeof *fd_rows; i++) {
        ir_expr *f = parse(&c, fd_rows[i].src);
        ir_expr *d = diff(&c, fd_rows[i].src);
        for (int k = 0; k < 5; k++) {
            double x = fd_rows[i].x[k], h = 1e-6 * fmax(1, fabs(x));
            double fd =
                (ir_expr_eval(f, x + h, 0, c.values) - ir_expr_eval(f, x - h, 0, c.values)) /
                (2 * h);
            double got = ir_expr_eval(d, x, 0, c.values);
            double tol = 1e-7 * (1 + fabs(got) + fabs(ir_expr_eval(f, x, 0, c.values)));
            if (!(fabs(got - fd) <= tol))
                fail_msg("d %s at %g: %.17g, finite difference %.17g", fd_rows[i].src, x, got, fd);
        }
    }
    ir_arena_free(c.arena);
}

static const struct {
    const char *src;
    double x, want;
} kink_rows[] = {
    {"max(x, 1)", 1, 1},
    {"max(1, x)", 1, 0},
    {"min(x, 1)", 1, 1},
    {"min(1, x)", 1, 0},
    {"abs(x)", 0, 0},
    {"abs(x)", -2, -1},
    {"clamp(x, 0, 1)", 0, 1},
    {"clamp(x, 0, 1)", 1, 1},
    {"clamp(x, 0, 1)", 2, 0},
    {"where(x > 0, x, 0)", 0, 0},
    {"where(x >= 0, x, 0)", 0, 1},
};

static void test_diff_follows_the_kink_conventions(void **state)
{
    (void)state;
    ctx c = ctx_new();
    for (size_t i = 0; i < sizeof kink_rows / sizeof *kink_rows; i++) {
        double got = ir_expr_eval(diff(&c, kink_rows[i].src), kink_rows[i].x, 0, c.values);
        if (got != kink_rows[i].want)
            fail_msg("d %s at %g: %g", kink_rows[i].src, kink_rows[i].x, got);
    }
    assert_true(isnan(ir_expr_eval(diff(&c, "abs(x)"), NAN, 0, c.values)));
    ir_arena_free(c.arena);
}

/* The derivative is exactly the node of the simplified formula. */
static const char *const simplified[][2] = {
    {"a * x", "a"},     {"x^2", "2 * x"}, {"exp(a) * x", "exp(a)"},    {"sin(a)", "0"},
    {"x + a", "1"},     {"x < 1", "0"},   {"3 * x - x", "2"},          {"exp(x)", "exp(x)"},
    {"x / a", "1 / a"}, {"-x", "-1"},     {"where(x > 0, 1, 2)", "0"}, {"a - x", "-1"},
};

static void test_diff_drops_zero_terms(void **state)
{
    (void)state;
    ctx c = ctx_new();
    for (size_t i = 0; i < sizeof simplified / sizeof *simplified; i++)
        if (diff(&c, simplified[i][0]) != parse(&c, simplified[i][1])) {
            char *s = ir_expr_to_string(diff(&c, simplified[i][0]), "x", &c.params);
            fail_msg("d %s is %s, expected %s", simplified[i][0], s, simplified[i][1]);
        }
    ir_arena_free(c.arena);
}

static void test_diff_gives_derived_nodes_their_origin_position(void **state)
{
    (void)state;
    ctx c = ctx_new();
    ir_expr *d = diff(&c, "x + sin(x)");
    ir_expr *cosine = d->op == EX_ADD ? d->arg[1] : NULL;
    assert_non_null(cosine);
    assert_int_equal(cosine->op, EX_COS);
    assert_int_equal(cosine->pos.col, 5);
    ir_arena_free(c.arena);
}

static bool is_y(const ir_expr *e)
{
    return e->op == EX_Y;
}

/* f becomes y where it is a factor of the derivative (exp' = y, sigmoid' =
   y sigmoid(-x)), not inside a sum, where the JIT's float y would cancel:
   (x e^x)' = e^x + x e^x keeps x e^x. */
static void test_subst_y_puts_y_where_f_is_a_factor(void **state)
{
    (void)state;
    ctx c = ctx_new();
    ir_expr *f = parse(&c, "exp(x)"), *dy = ir_expr_subst_y(c.pool, diff(&c, "exp(x)"), f);
    assert_false(ir_expr_uses_x(dy));
    assert_true(ir_expr_eval(dy, NAN, 2.5, NULL) == 2.5);
    f = parse(&c, "sigmoid(x)");
    dy = ir_expr_subst_y(c.pool, diff(&c, "sigmoid(x)"), f);
    assert_true(ir_expr_any(dy, is_y));
    assert_true(fabs(ir_expr_eval(dy, 50, 0.3, NULL) / (0.3 / (1 + exp(50))) - 1) < 1e-14);
    f = parse(&c, "x * exp(x)");
    dy = ir_expr_subst_y(c.pool, diff(&c, "x * exp(x)"), f);
    assert_false(ir_expr_any(dy, is_y));
    f = parse(&c, "x * sigmoid(x)");
    ir_expr *d = diff(&c, "x * sigmoid(x)");
    assert_true(ir_expr_uses_x(ir_expr_subst_y(c.pool, d, f)));
    assert_ptr_equal(ir_expr_subst_y(c.pool, d, parse(&c, "cos(x)")), d);
    ir_arena_free(c.arena);
}

static void test_diff_rejects_y(void **state)
{
    (void)state;
    ctx c = ctx_new();
    act_error err = {0};
    assert_null(ir_expr_diff(c.pool, parse(&c, "x * y"), &err));
    assert_int_equal(err.code, ACT_ERR_GRAD);
    ir_arena_free(c.arena);
}

static double cube_eval(const ir_native *self, const double *args, int nargs, const double *p)
{
    (void)self, (void)nargs, (void)p;
    return args[0] * args[0] * args[0];
}

/* receives the call's operands, then cube's value */
static double cube_grad_eval(const ir_native *self, const double *args, int nargs, const double *p)
{
    (void)self, (void)p;
    assert_true(nargs == 2 || nargs == 3);
    assert_true(args[nargs - 1] == args[0] * args[0] * args[0]);
    return 3 * args[0] * args[0];
}

static const ir_native cube_grad = {.name = "cube_grad", .eval = cube_grad_eval};
static const ir_native cube = {.name = "cube", .eval = cube_eval, .grad = &cube_grad};
static const ir_native opaque = {.name = "myfn", .eval = cube_eval};

static ir_expr *call(ctx *c, const ir_native *fn, ir_expr *arg0, ir_expr *arg1)
{
    ir_expr *args[2] = {arg0, arg1};
    return ir_ex_call(c->pool, fn, args, arg1 ? 2 : 1);
}

static void test_diff_calls_a_native_derivative_with_the_call_value(void **state)
{
    (void)state;
    ctx c = ctx_new();
    act_error err = {0};
    ir_expr *f = call(&c, &cube, parse(&c, "sin(x)"), NULL);
    ir_expr *d = ir_expr_diff(c.pool, f, &err);
    assert_non_null(d);
    assert_true(fabs(ir_expr_eval(d, 0.3, 0, NULL) - 3 * pow(sin(0.3), 2) * cos(0.3)) < 1e-15);
    /* as an activation: df(x, y) once rewritten in y */
    ir_expr *g = call(&c, &cube, parse(&c, "x"), parse(&c, "a"));
    ir_expr *dy = ir_expr_subst_y(c.pool, ir_expr_diff(c.pool, g, &err), g);
    assert_int_equal(dy->op, EX_CALL);
    assert_int_equal(dy->arg[2]->op, EX_Y);
    assert_true(ir_expr_eval(dy, 2, 8, c.values) == 12);
    /* a native only in a condition needs no derivative */
    ir_expr *cond =
        ir_ex_node(c.pool, EX_GT, call(&c, &opaque, parse(&c, "x"), NULL), parse(&c, "0"), NULL);
    ir_expr *w = ir_ex_node(c.pool, EX_WHERE, cond, parse(&c, "x"), parse(&c, "2 * x"));
    assert_non_null(ir_expr_diff(c.pool, w, &err));
    ir_arena_free(c.arena);
}

static void test_diff_names_a_native_call_without_derivative(void **state)
{
    (void)state;
    ctx c = ctx_new();
    ir_pos pos = {"p.so", 1, 7};
    ir_expr *bad[] = {
        ir_ex_pos(call(&c, &opaque, parse(&c, "x"), NULL), pos),
        ir_ex_pos(call(&c, &cube, parse(&c, "x"), parse(&c, "2 * x")), pos),
    };
    const char *text[] = {"myfn(x)", "cube(x, 2 * x)"};
    for (int i = 0; i < 2; i++) {
        act_error err = {0};
        ir_expr *f = ir_ex_node(c.pool, EX_ADD, ir_ex_node(c.pool, EX_EXP, bad[i], NULL, NULL),
                                parse(&c, "x"), NULL);
        assert_null(ir_expr_diff(c.pool, f, &err));
        assert_int_equal(err.code, ACT_ERR_GRAD);
        assert_int_equal(err.col, 7);
        char want[128];
        snprintf(want, sizeof want, "expected a derivative for '%s', found none", text[i]);
        assert_string_equal(err.message, want);
    }
    /* an activation keeps the reason instead of failing */
    ir_activation act = {.name = "myfn", .f = bad[0]};
    act_error err = {0};
    assert_int_equal(ir_activation_finish(c.pool, &act, &err), 0);
    assert_null(act.df);
    assert_string_equal(act.df_error, "expected a derivative for 'myfn(x)', found none");
    ir_arena_free(c.arena);
}

/* x^a with a param a = 0 is 1, with derivative 0 (PyTorch's), not
   0 * x^-1, which is NaN at x = 0. */
static void test_diff_of_a_power_with_exponent_zero_is_zero(void **state)
{
    (void)state;
    ctx c = ctx_new();
    ir_expr *d = diff(&c, "x^a");
    double zero[2] = {0, 0.7}, two[2] = {2, 0.7};
    assert_true(ir_expr_eval(d, 0, 0, zero) == 0);
    assert_true(ir_expr_eval(d, 3, 0, zero) == 0);
    assert_true(ir_expr_eval(d, 3, 0, two) == 6);
    ir_arena_free(c.arena);
}

/* A continued fraction 60 deep: each quotient's denominator is read in b'
   and again in b'/b, so without shared derivatives the work doubles at
   every level (2^60: the test times out); its value against the recurrence
   f' = -g' / (1 + g)^2 of each level. */
static void test_diff_of_nested_quotients_is_linear(void **state)
{
    (void)state;
    enum { DEPTH = 60 };
    static char src[DEPTH * 7 + 2]; /* "1/(1+" ... ")" around x */
    size_t n = 0;
    for (int k = 0; k < DEPTH; k++)
        n += (size_t)sprintf(src + n, "1/(1+");
    n += (size_t)sprintf(src + n, "x");
    for (int k = 0; k < DEPTH; k++)
        src[n++] = ')';
    src[n] = 0;
    ctx c = ctx_new();
    ir_expr *d = diff(&c, src);
    double f = 0.5, df = 1;
    for (int k = 0; k < DEPTH; k++) {
        df = -df / ((1 + f) * (1 + f));
        f = 1 / (1 + f);
    }
    double got = ir_expr_eval(d, 0.5, 0, c.values);
    if (fabs(got - df) > 1e-12 * fabs(df))
        fail_msg("d/dx at 0.5: %.17g, want %.17g", got, df);
    ir_arena_free(c.arena);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_diff_matches_central_differences),
        cmocka_unit_test(test_diff_follows_the_kink_conventions),
        cmocka_unit_test(test_diff_drops_zero_terms),
        cmocka_unit_test(test_diff_of_a_power_with_exponent_zero_is_zero),
        cmocka_unit_test(test_diff_of_nested_quotients_is_linear),
        cmocka_unit_test(test_diff_gives_derived_nodes_their_origin_position),
        cmocka_unit_test(test_subst_y_puts_y_where_f_is_a_factor),
        cmocka_unit_test(test_diff_rejects_y),
        cmocka_unit_test(test_diff_calls_a_native_derivative_with_the_call_value),
        cmocka_unit_test(test_diff_names_a_native_call_without_derivative),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
