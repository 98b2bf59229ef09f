/* test_expr.c -- ir/expr.c, expr_parse.c, expr_eval.c and expr_print.c:
   precedence, parse errors with exact positions, parameter lists, constant
   folding, hash-consing and evaluation rules. Printing is in
   test_expr_print.c, derivatives in test_expr_diff.c. */
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

/* A pool and the params a = 1.5, b = 0.7 that every formula here may use. */
typedef struct {
    ir_arena *arena;
    ir_expr_pool *pool;
    ir_params params;
    double values[2];
} ctx;

static ctx ctx_new(void)
{
    ctx c = {ir_arena_new(), NULL, {0}, {1.5, 0.7}};
    assert_non_null(c.arena);
    assert_non_null(c.pool = ir_expr_pool_new(c.arena));
    c.params.n = 2;
    c.params.p[0].name = "a";
    c.params.p[0].def = 1.5;
    c.params.p[1].name = "b";
    c.params.p[1].def = 0.7;
    return c;
}

static ir_expr *parse(ctx *c, const char *src)
{
    act_error err = {0};
    ir_expr *e = ir_expr_parse_string(c->pool, src, "f", &c->params, true, &err);
    if (!e)
        fail_msg("'%s': %d:%d: %s", src, err.line, err.col, err.message);
    return e;
}

static double eval_at(ctx *c, const char *src, double x)
{
    return ir_expr_eval(parse(c, src), x, 0, c->values);
}

/* Each pair parses to the same pool node. */
static const char *const same_tree[][2] = {
    {"-x^2", "-(x^2)"},
    {"2^-x", "2^(-x)"},
    {"x^3^x", "x^(3^x)"},
    {"-x^-a", "-(x^(-a))"},
    {"-2^x", "-(2^x)"},
    {"a + b * x", "a + (b * x)"},
    {"x - a - b", "(x - a) - b"},
    {"x / a / b", "(x / a) / b"},
    {"x / a * b", "(x / a) * b"},
    {"-x * a", "(-x) * a"},
    {"a * -x", "a * (-x)"},
    {"a - -x", "a - (-x)"},
    {"x^a * b", "(x^a) * b"},
    {"2 * x^2", "2 * (x^2)"},
    {"x < a + b", "x < (a + b)"},
    {"x + 1 < a == b", "((x + 1) < a) == b"},
    {"x < a < b", "(x < a) < b"},
    {"pow(x, a)", "x^a"},
    {"pi * e", "8.5397342226735660"},
    {"2 * (x + 1)", "2*(x+1)"},
};

static void test_parse_follows_precedence_and_associativity(void **state)
{
    (void)state;
    ctx c = ctx_new();
    for (size_t i = 0; i < sizeof same_tree / sizeof *same_tree; i++)
        if (parse(&c, same_tree[i][0]) != parse(&c, same_tree[i][1]))
            fail_msg("'%s' and '%s' differ", same_tree[i][0], same_tree[i][1]);
    ir_arena_free(c.arena);
}

typedef struct {
    const char *src;
    double x, want; /* NAN: the result must be NaN */
} eval_row;

static const eval_row eval_rows[] = {
    {"-x^2", 3, -9},
    {"2^-x", 1, 0.5},
    {"2^3^2", 0, 512},
    {"(2^3)^2", 0, 64},
    {"-2 * x", 3, -6},
    {"x < 2", 1, 1},
    {"x <= 1", 1, 1},
    {"x > 1", 1, 0},
    {"x >= 2", 1, 0},
    {"x == 1", 1, 1},
    {"x != 1", 1, 0},
    {"x < 1", NAN, 0},
    {"x == x", NAN, 0},
    {"x != x", NAN, 1},
    {"min(x, 1)", NAN, NAN},
    {"min(1, x)", NAN, NAN},
    {"max(x, 1)", NAN, NAN},
    {"max(1, x)", NAN, NAN},
    {"clamp(x, 0, 1)", NAN, NAN},
    {"clamp(0.5, x, 1)", NAN, NAN},
    {"clamp(x, 0, 1)", 7, 1},
    {"clamp(x, 0, 1)", -7, 0},
    {"where(x, 1, 2)", NAN, NAN},
    {"where(x, 1, 2)", 0, 2},
    {"where(x, 1, 2)", -3, 1},
    {"where(x > 0, log(x), 5)", -1, 5}, /* the untaken log(-1) is never evaluated */
    {"sigmoid(x)", -1000, 0},
    {"sigmoid(x)", 1000, 1},
    {"sigmoid(x)", -100, 3.7200759760208361e-44},
    {"sigmoid(x)", -INFINITY, 0},
    {"sigmoid(x)", NAN, NAN},
    {"a * x + b", 2, 3.7},
    {"pi", 0, 3.141592653589793},
    {"e", 0, 2.718281828459045},
    {"expm1(x) + log1p(x) + erfc(x) - erf(x)", 0, 1},
    {"abs(x) + sqrt(x) + exp(x) + tanh(x) + sin(x) + cos(x)", 0, 2},
    {"x * 0", INFINITY, NAN},
};

static void test_eval_follows_the_language_rules(void **state)
{
    (void)state;
    ctx c = ctx_new();
    for (size_t i = 0; i < sizeof eval_rows / sizeof *eval_rows; i++) {
        const eval_row *r = &eval_rows[i];
        double got = eval_at(&c, r->src, r->x);
        bool ok = isnan(r->want) ? isnan(got) : fabs(got - r->want) <= 1e-15 * fabs(r->want);
        if (!ok)
            fail_msg("%s at %g: %.17g, expected %.17g", r->src, r->x, got, r->want);
    }
    /* the stable sigmoid keeps a subnormal result where 1/(1 + exp(740)) is 0 */
    assert_true(eval_at(&c, "sigmoid(x)", -740) > 0);
    ir_arena_free(c.arena);
}

typedef struct {
    const char *src;
    bool allow_y;
    int code, line, col;
    const char *message; /* a substring of the message */
} error_row;

static const error_row error_rows[] = {
    {"foo", false, ACT_ERR_NAME, 1, 1, "expected x, a parameter, pi or e, found 'foo'"},
    {"x + 2 * foo", true, ACT_ERR_NAME, 1, 9, "expected x, y, a parameter, pi or e, found 'foo'"},
    {"y * 2", false, ACT_ERR_NAME, 1, 1, "`y` is only allowed in a grad expression"},
    {"x + foo(x)", false, ACT_ERR_NAME, 1, 5, "expected a function (exp, expm1, log, log1p"},
    {"x(2)", false, ACT_ERR_NAME, 1, 1, "found 'x'"},
    {"1 + max(x, 1, 2)", false, ACT_ERR_ARG, 1, 5, "expected 2 arguments for max, found 3"},
    {"exp()", false, ACT_ERR_ARG, 1, 1, "expected 1 argument for exp, found 0"},
    {"where(x, 1)", false, ACT_ERR_ARG, 1, 1, "expected 3 arguments for where, found 2"},
    {"pow(x)", false, ACT_ERR_ARG, 1, 1, "expected 2 arguments for pow, found 1"},
    {"x * (a + )", false, ACT_ERR_SYNTAX, 1, 10, "expected an expression, found ')'"},
    {"x +", false, ACT_ERR_SYNTAX, 1, 4, "expected an expression, found end of line"},
    {"* x", false, ACT_ERR_SYNTAX, 1, 1, "expected an expression, found '*'"},
    {"max(x 1)", false, ACT_ERR_SYNTAX, 1, 7, "expected ',' or ')', found number 1"},
    {"exp + 1", false, ACT_ERR_SYNTAX, 1, 5, "expected '(' after 'exp', found '+'"},
    {"x 1", false, ACT_ERR_SYNTAX, 1, 3,
     "expected an operator or the end of the formula, found number 1"},
    {"(x + 1", false, ACT_ERR_SYNTAX, 1, 1, "expected ')' to close this '('"},
    {"(x +\n   foo)", false, ACT_ERR_NAME, 2, 4, "found 'foo'"},
    {"x @ 2", false, ACT_ERR_SYNTAX, 1, 3, "expected a token, found '@'"},
};

static void test_parse_reports_errors_at_their_position(void **state)
{
    (void)state;
    ctx c = ctx_new();
    for (size_t i = 0; i < sizeof error_rows / sizeof *error_rows; i++) {
        const error_row *r = &error_rows[i];
        act_error err = {0};
        ir_expr *e = ir_expr_parse_string(c.pool, r->src, "f.so", &c.params, r->allow_y, &err);
        if (e || err.code != r->code || err.line != r->line || err.col != r->col ||
            strcmp(err.file, "f.so") || !strstr(err.message, r->message))
            fail_msg("'%s': got %d at %s:%d:%d '%s'", r->src, err.code, err.file, err.line, err.col,
                     err.message);
    }
    ir_arena_free(c.arena);
}

/* The operand limit bounds every recursive walk over a formula. */
static void test_parse_rejects_formulas_beyond_the_operand_limit(void **state)
{
    (void)state;
    ctx c = ctx_new();
    static char text[4 * 1100];
    static const char *const parts[] = {"-", "x+", "2^"};
    for (int k = 0; k < 3; k++) {
        for (int n = 999; n <= 1001; n += 2) {
            size_t len = 0;
            for (int i = 0; i < n; i++)
                len += (size_t)sprintf(text + len, "%s", parts[k]);
            sprintf(text + len, "x");
            act_error err = {0};
            ir_expr *e = ir_expr_parse_string(c.pool, text, "f", &c.params, false, &err);
            if ((n < 1000) != (e != NULL))
                fail_msg("%d x '%s': %s", n, parts[k], err.message);
            if (!e)
                assert_string_equal(err.message,
                                    "expected a formula of at most 1000 operands, found more");
        }
    }
    ir_arena_free(c.arena);
}

static void test_parse_stops_at_a_token_that_cannot_continue(void **state)
{
    (void)state;
    ctx c = ctx_new();
    act_error err = {0};
    ir_token *t = ir_tokenize(c.arena, "t.act", "x * a) grad", &err);
    assert_non_null(t);
    ir_expr *e = ir_expr_parse(c.pool, &t, "x", &c.params, false, &err);
    assert_ptr_equal(e, parse(&c, "x * a"));
    assert_true(ir_tok_is(t, ")"));
    /* another variable name */
    t = ir_tokenize(c.arena, "t.act", "2 * t", &err);
    e = ir_expr_parse(c.pool, &t, "t", &c.params, false, &err);
    assert_ptr_equal(e, parse(&c, "2 * x"));
    ir_arena_free(c.arena);
}

/* Every number token has strtod's value (the lexer reads short decimals
   itself), and every token knows where it starts in the text. */
static void test_tokens_have_strtods_values_and_their_place(void **state)
{
    (void)state;
    ctx c = ctx_new();
    act_error err = {0};
    char text[64];
    srand(11);
    for (int i = 0; i < 20000; i++) {
        int digits = 1 + rand() % 17, point = rand() % (digits + 2) - 1; /* -1: none */
        int n = 0;
        for (int d = 0; d < digits; d++) {
            if (d == point)
                text[n++] = '.';
            text[n++] = (char)('0' + rand() % 10);
        }
        if (point == digits)
            text[n++] = '.';
        text[n] = 0;
        ir_token *t = ir_tokenize(c.arena, "t.act", text, &err);
        assert_non_null(t);
        assert_int_equal(t->kind, TK_NUMBER);
        double want = strtod(text, NULL);
        assert_memory_equal(&t->num, &want, sizeof want);
    }
    const char *src = "# a comment\n  y = f(x1, 0.25) # more\n\"s\" <= 2e3";
    ir_token *t = ir_tokenize(c.arena, "t.act", src, &err);
    assert_non_null(t);
    for (; t->kind != TK_EOF; t++)
        if (t->kind != TK_END)
            assert_memory_equal(t->at, t->text, strlen(t->text));
    assert_ptr_equal(t->at, src + strlen(src));
    assert_int_equal(t->pos.line, 3);
    assert_int_equal(t->pos.col, 11);
    t = ir_tokenize(c.arena, "t.act", "x # a comment to the end, é", &err);
    assert_non_null(t);
    assert_int_equal(t[1].kind, TK_END); /* the column after the last character */
    assert_int_equal(t[1].pos.col, 28);
    t = ir_tokenize(c.arena, "t.act", "x = 1 # cé\ny", &err); /* and before a newline */
    assert_non_null(t);
    assert_int_equal(t[3].kind, TK_END);
    assert_int_equal(t[3].pos.line, 1);
    assert_int_equal(t[3].pos.col, 11);
    /* a byte that continues no UTF-8 character is not part of a name (it was,
       after an ASCII character, before 2026-11-27) */
    assert_null(ir_tokenize(c.arena, "t.act", "a\x80 = 1", &err));
    assert_int_equal(err.code, ACT_ERR_SYNTAX);
    assert_int_equal(err.line, 1);
    assert_int_equal(err.col, 2);
    assert_string_equal(err.message,
                        "expected a token, found a character that is not allowed here");
    ir_arena_free(c.arena);
}

/* ACT-LANGUAGE.md's names, [A-Za-z_][A-Za-z0-9_]* (plugins' activations
   are checked with the same function). */
static void test_identifiers_are_the_languages_names(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        bool ok;
    } rows[] = {{"x", true},         {"_", true},      {"A_9z", true}, {"softclip2", true},
                {"", false},         {"1a", false},    {"a-b", false}, {"a b", false},
                {"\xc3\xa9", false}, {"a\x80", false}, {"a.b", false}};
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++)
        assert_int_equal(ir_is_identifier(rows[i].s), rows[i].ok);
    assert_false(ir_is_identifier(NULL));
}

static void test_parse_keeps_positions_of_operators_functions_and_literals(void **state)
{
    (void)state;
    ctx c = ctx_new();
    ir_expr *e = parse(&c, "x + exp(a * 2.5)");
    assert_int_equal(e->op, EX_ADD);
    assert_int_equal(e->pos.col, 3);
    assert_string_equal(e->pos.file, "f");
    ir_expr *call = e->arg[1];
    assert_int_equal(call->pos.col, 5);
    assert_int_equal(call->arg[0]->pos.col, 11);
    assert_int_equal(call->arg[0]->arg[0]->pos.col, 9);
    assert_int_equal(call->arg[0]->arg[1]->pos.col, 13);
    ir_arena_free(c.arena);
}

typedef struct {
    const char *src;
    int code, col;
    const char *message;
} params_row;

static const params_row params_errors[] = {
    {"a = 1, a = 2", ACT_ERR_NAME, 8, "expected a new parameter name, found 'a' given twice"},
    {"x = 1", ACT_ERR_NAME, 1, "found 'x', which is reserved"},
    {"a = 1, y = 1", ACT_ERR_NAME, 8, "found 'y', which is reserved"},
    {"pi = 1", ACT_ERR_NAME, 1, "found 'pi', which is reserved"},
    {"e = 1", ACT_ERR_NAME, 1, "found 'e', which is reserved"},
    {"graph = 1", ACT_ERR_NAME, 1, "found 'graph', which is reserved"},
    {"a 1", ACT_ERR_SYNTAX, 3, "expected '=' after 'a', found number 1"},
    {"a = b", ACT_ERR_SYNTAX, 5, "expected a number, found 'b'"},
    {"a = - -1", ACT_ERR_SYNTAX, 7, "expected a number, found '-'"},
    {"a = 1,", ACT_ERR_SYNTAX, 7, "expected a parameter name, found end of line"},
    {"a=1,b=1,c=1,d=1,f=1,g=1,h=1,i=1,j=1", ACT_ERR_ARG, 33,
     "expected at most 8 parameters, found more"},
};

static void test_params_parse_rejects_bad_lists(void **state)
{
    (void)state;
    ctx c = ctx_new();
    for (size_t i = 0; i < sizeof params_errors / sizeof *params_errors; i++) {
        const params_row *r = &params_errors[i];
        act_error err = {0};
        ir_params out = {.n = 5};
        ir_token *t = ir_tokenize(c.arena, "p", r->src, &err);
        assert_non_null(t);
        int rc = ir_params_parse(c.arena, &t, &out, &err);
        if (rc != r->code || err.code != r->code || err.line != 1 || err.col != r->col ||
            !strstr(err.message, r->message) || out.n != 5)
            fail_msg("'%s': got %d at %d:%d '%s'", r->src, rc, err.line, err.col, err.message);
    }
    ir_arena_free(c.arena);
}

static void test_params_parse_reads_names_values_and_stops(void **state)
{
    (void)state;
    ctx c = ctx_new();
    act_error err = {0};
    ir_params out;
    ir_token *t = ir_tokenize(c.arena, "p", "a = 1, beta = -0.5, k = 2e3) = x", &err);
    assert_int_equal(ir_params_parse(c.arena, &t, &out, &err), 0);
    assert_int_equal(out.n, 3);
    assert_string_equal(out.p[1].name, "beta");
    assert_true(out.p[1].def == -0.5 && out.p[2].def == 2000 && out.p[0].def == 1);
    assert_int_equal(out.p[1].pos.col, 8);
    assert_null(out.p[0].words[0]);
    assert_true(ir_tok_is(t, ")"));
    t = ir_tokenize(c.arena, "p", ") = x", &err);
    assert_int_equal(ir_params_parse(c.arena, &t, &out, &err), 0);
    assert_int_equal(out.n, 0);
    ir_arena_free(c.arena);
}

/* src folds to the node of folded (NULL: src stays an op node of kind op) */
static const struct {
    const char *src, *folded;
    ir_expr_op op;
} fold_rows[] = {
    {"2 * 3 + 1", "7", EX_CONST},
    {"x + 0", "x", EX_X},
    {"0 + x", "x", EX_X},
    {"x - 0", "x", EX_X},
    {"x * 1", "x", EX_X},
    {"1 * x", "x", EX_X},
    {"x / 1", "x", EX_X},
    {"x ^ 1", "x", EX_X},
    {"--x", "x", EX_X},
    {"-(-(a * x))", "a * x", EX_MUL},
    {"x * -1", "-x", EX_NEG},
    {"-1 * exp(x)", "-exp(x)", EX_NEG},
    {"-(x * -1)", "x", EX_X},
    {"exp(0)", "1", EX_CONST},
    {"sqrt(4) * x", "2 * x", EX_MUL},
    {"where(1, x, a)", "x", EX_X},
    {"where(0, x, a)", "a", EX_PARAM},
    {"where(0/0, x, a)", "0/0", EX_CONST},
    {"where(x > 0, a, a)", "a", EX_PARAM},
    {"x * 0", NULL, EX_MUL},
    {"0 * x", NULL, EX_MUL},
    {"x - x", NULL, EX_SUB},
    {"where(x, a, a)", NULL, EX_WHERE},
    {"0 - x", NULL, EX_SUB},
    {"x ^ 0", NULL, EX_POW},
};

static void test_constructors_fold_only_what_ieee_allows(void **state)
{
    (void)state;
    ctx c = ctx_new();
    for (size_t i = 0; i < sizeof fold_rows / sizeof *fold_rows; i++) {
        ir_expr *e = parse(&c, fold_rows[i].src);
        if (e->op != fold_rows[i].op ||
            (fold_rows[i].folded && e != parse(&c, fold_rows[i].folded)))
            fail_msg("'%s' folded to op %d", fold_rows[i].src, e->op);
    }
    ir_expr *neg = parse(&c, "-0.5");
    assert_true(neg->op == EX_CONST && neg->value == -0.5);
    ir_expr *z = parse(&c, "-0");
    assert_true(z->op == EX_CONST && z->value == 0 && signbit(z->value));
    ir_arena_free(c.arena);
}

static void test_pool_makes_each_structure_once(void **state)
{
    (void)state;
    ctx c = ctx_new();
    ir_expr *e = parse(&c, "x * a + sin(x * a)");
    assert_ptr_equal(e->arg[0], e->arg[1]->arg[0]);
    ir_expr *x = ir_ex_leaf(c.pool, EX_X, 0);
    ir_expr *k = ir_ex_const(c.pool, 2);
    assert_ptr_equal(ir_ex_node(c.pool, EX_MUL, x, k, NULL),
                     ir_ex_node(c.pool, EX_MUL, x, k, NULL));
    assert_ptr_not_equal(ir_ex_node(c.pool, EX_MUL, x, k, NULL),
                         ir_ex_node(c.pool, EX_MUL, k, x, NULL));
    assert_ptr_not_equal(ir_ex_const(c.pool, 0.0), ir_ex_const(c.pool, -0.0));
    assert_ptr_equal(ir_ex_const(c.pool, NAN), ir_ex_const(c.pool, -NAN));
    assert_ptr_not_equal(ir_ex_leaf(c.pool, EX_PARAM, 0), ir_ex_leaf(c.pool, EX_PARAM, 1));
    assert_null(ir_ex_node(c.pool, EX_ADD, x, NULL, NULL));
    /* the table grows and keeps every node findable */
    ir_expr *first[5000];
    for (int i = 0; i < 5000; i++)
        assert_non_null(first[i] = ir_ex_node(c.pool, EX_ADD, x, ir_ex_const(c.pool, i), NULL));
    for (int i = 0; i < 5000; i++)
        assert_ptr_equal(first[i], ir_ex_node(c.pool, EX_ADD, x, ir_ex_const(c.pool, i), NULL));
    ir_arena_free(c.arena);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_follows_precedence_and_associativity),
        cmocka_unit_test(test_eval_follows_the_language_rules),
        cmocka_unit_test(test_parse_reports_errors_at_their_position),
        cmocka_unit_test(test_parse_rejects_formulas_beyond_the_operand_limit),
        cmocka_unit_test(test_parse_stops_at_a_token_that_cannot_continue),
        cmocka_unit_test(test_tokens_have_strtods_values_and_their_place),
        cmocka_unit_test(test_identifiers_are_the_languages_names),
        cmocka_unit_test(test_parse_keeps_positions_of_operators_functions_and_literals),
        cmocka_unit_test(test_params_parse_rejects_bad_lists),
        cmocka_unit_test(test_params_parse_reads_names_values_and_stops),
        cmocka_unit_test(test_constructors_fold_only_what_ieee_allows),
        cmocka_unit_test(test_pool_makes_each_structure_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
