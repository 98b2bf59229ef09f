/* test_expr_print.c -- ir/expr_print.c: the shortest exact number text, and
   printing that parses back to the same pool node (hand-picked formulas,
   every built-in formula, random trees). */
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

static const struct {
    double v;
    const char *text;
} number_rows[] = {
    {0.1, "0.1"},
    {1e-40, "1e-40"},
    {-2, "-2"},
    {40, "40"},
    {1e20, "1e20"},
    {1.0 / 3, "0.3333333333333333"},
    {-0.0, "-0"},
    {1.5e-5, "1.5e-5"},
    {5e-324, "5e-324"},
    {NAN, "nan"},
    {INFINITY, "inf"},
    {-INFINITY, "-inf"},
    {123456.5, "123456.5"},
    {1.7976931348623157e308, "1.7976931348623157e308"},
    {0, "0"},
    {-123, "-123"},
    {999999999999999, "999999999999999"},
    {1e15, "1e15"},
};

static void test_format_number_is_shortest_exact_text(void **state)
{
    (void)state;
    char buf[32];
    for (size_t i = 0; i < sizeof number_rows / sizeof *number_rows; i++) {
        ir_format_number(buf, number_rows[i].v);
        assert_string_equal(buf, number_rows[i].text);
    }
    srand(7);
    for (int i = 0; i < 20000; i++) {
        uint64_t bits = ((uint64_t)rand() << 42) ^ ((uint64_t)rand() << 21) ^ (uint64_t)rand();
        double v;
        memcpy(&v, &bits, sizeof v);
        if (isnan(v) || isinf(v))
            continue;
        ir_format_number(buf, v);
        assert_true(strtod(buf, NULL) == v);
    }
    for (int i = 0; i < 20000; i++) { /* integers: as "%.0f" writes them */
        double v = (double)(((int64_t)rand() << 18) ^ rand()) / (double)(1 << (rand() % 31));
        v = floor(i & 1 ? -v : v);
        char want[64];
        snprintf(want, sizeof want, "%.0f", v);
        ir_format_number(buf, v);
        assert_string_equal(buf, want);
    }
}

typedef struct {
    ir_arena *arena;
    ir_expr_pool *pool;
    ir_params params; /* a, b */
} ctx;

static ctx ctx_new(void)
{
    ctx c = {ir_arena_new(), NULL, {.n = 2}};
    assert_non_null(c.arena);
    assert_non_null(c.pool = ir_expr_pool_new(c.arena));
    c.params.p[0].name = "a";
    c.params.p[1].name = "b";
    return c;
}

/* Prints e, parses the text, and requires the same node and the same text again. */
static void check_round_trip(ctx *c, ir_expr *e, const ir_params *params)
{
    char *text = ir_expr_to_string(e, "x", params);
    assert_non_null(text);
    act_error err = {0};
    ir_expr *back = ir_expr_parse_string(c->pool, text, "printed", params, true, &err);
    if (back != e)
        fail_msg("'%s' parses to another node (%s)", text, err.message);
    char *again = ir_expr_to_string(back, "x", params);
    assert_string_equal(text, again);
    free(again);
    free(text);
}

static const char *const formulas[] = {
    "(-0.5)^x",
    "x^-0.5",
    "x - -0.5",
    "-(x * a)",
    "1 / 0 + x",
    "-(1 / 0) * x",
    "0 / 0 - x",
    "x < a < b",
    "x < (a < b)",
    "-0 + x",
    "1e-40 * x",
    "0.1 + x",
    "2^3^x",
    "(2^3)^x",
    "(x^2)^3",
    "x^2^x",
    "where(x > 0, x, -x)",
    "a - (b - x)",
    "a / (b / x)",
    "a / (b * x)",
    "-x^2",
    "(-x)^2",
    "pow(x, a)",
    "min(x, a) + max(b, x)",
    "clamp(x, -1, 1)",
    "1.0507009873554805 * x",
    "pi * x",
    "e^x",
    "y * (1 - y)",
    "x * 0",
    "0 - x",
    "-(x - a)",
    "(x + 1) * (x - 1)",
    "-exp(x)",
    "2 * -x",
    "x / -a",
    "(x == a) != (b <= x)",
    "-(x < a)",
    "x^(a < b)",
    "-x * -a",
    "1 - 1 / x",
    "x + 1e300 * -1e-300",
};

static void test_print_then_parse_gives_the_same_node(void **state)
{
    (void)state;
    ctx c = ctx_new();
    for (size_t i = 0; i < sizeof formulas / sizeof *formulas; i++) {
        act_error err = {0};
        ir_expr *e = ir_expr_parse_string(c.pool, formulas[i], "f", &c.params, true, &err);
        if (!e)
            fail_msg("'%s': %s", formulas[i], err.message);
        check_round_trip(&c, e, &c.params);
    }
    ir_arena_free(c.arena);
}

static void test_print_uses_minimal_parentheses(void **state)
{
    (void)state;
    ctx c = ctx_new();
    static const char *const rows[][2] = {
        {"(a) + ((b) * (x))", "a + b * x"},
        {"(-x)^2", "(-x)^2"},
        {"-(x^2)", "-x^2"},
        {"2^(-x)", "2^-x"},
        {"(x - a) - b", "x - a - b"},
        {"x - (a - b)", "x - (a - b)"},
        {"-0.5 * x", "-0.5 * x"},
        {"x^(-0.5)", "x^-0.5"},
        {"(-0.5)^x", "(-0.5)^x"},
        {"exp((x))", "exp(x)"},
        {"where((x > 0), 1, 2)", "where(x > 0, 1, 2)"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
        act_error err = {0};
        ir_expr *e = ir_expr_parse_string(c.pool, rows[i][0], "f", &c.params, false, &err);
        assert_non_null(e);
        char *text = ir_expr_to_string(e, "x", &c.params);
        assert_string_equal(text, rows[i][1]);
        free(text);
    }
    /* without params, a parameter prints by its index; EX_Y as y */
    char *text = ir_expr_to_string(ir_ex_node(c.pool, EX_MUL, ir_ex_leaf(c.pool, EX_PARAM, 1),
                                              ir_ex_leaf(c.pool, EX_Y, 0), NULL),
                                   "x", NULL);
    assert_string_equal(text, "p1 * y");
    free(text);
    ir_arena_free(c.arena);
}

static void test_print_then_parse_of_builtin_formulas_gives_the_same_node(void **state)
{
    (void)state;
    act_error err = {0};
    ir_registry *r = ir_registry_new(&err);
    assert_non_null(r);
    ctx c = {ir_registry_arena(r), ir_registry_pool(r), {0}};
    for (int i = 0; i < ir_registry_count(r); i++) {
        const ir_activation *act = ir_registry_at(r, i);
        check_round_trip(&c, act->f, &act->params);
        check_round_trip(&c, act->df, &act->params);
    }
    ir_registry_free(r);
}

/* A random tree of depth <= depth over every operator, x, y, a, b and awkward
   constants, built through the constructors (so folded as a parse would). */
static ir_expr *random_tree(ir_expr_pool *p, int depth)
{
    static const double consts[] = {0,     -0.0,  1,     2,   0.5,      -0.5,      1e-40,
                                    -3.25, 1e300, IR_PI, NAN, INFINITY, -INFINITY, 7};
    if (depth == 0 || rand() % 5 == 0) {
        switch (rand() % 5) {
        case 0:
            return ir_ex_const(p, consts[rand() % (int)(sizeof consts / sizeof *consts)]);
        case 1:
            return ir_ex_leaf(p, EX_Y, 0);
        case 2:
        case 3:
            return ir_ex_leaf(p, EX_PARAM, rand() % 2);
        default:
            return ir_ex_leaf(p, EX_X, 0);
        }
    }
    ir_expr_op op = (ir_expr_op)(EX_NEG + rand() % (EX_CALL - EX_NEG));
    ir_expr *a = random_tree(p, depth - 1), *b = random_tree(p, depth - 1);
    return ir_ex_node(p, op, a, b, random_tree(p, depth - 1));
}

static void test_print_then_parse_of_random_trees_gives_the_same_node(void **state)
{
    (void)state;
    ctx c = ctx_new();
    srand(12345);
    for (int i = 0; i < 3000; i++) {
        ir_expr *e = random_tree(c.pool, 1 + i % 5);
        assert_non_null(e);
        check_round_trip(&c, e, &c.params);
    }
    ir_arena_free(c.arena);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_number_is_shortest_exact_text),
        cmocka_unit_test(test_print_then_parse_gives_the_same_node),
        cmocka_unit_test(test_print_uses_minimal_parentheses),
        cmocka_unit_test(test_print_then_parse_of_builtin_formulas_gives_the_same_node),
        cmocka_unit_test(test_print_then_parse_of_random_trees_gives_the_same_node),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
