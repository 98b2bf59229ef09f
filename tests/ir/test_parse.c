/* test_parse.c -- ir/parse*.c and the errors of ir/verify*.c: every error kind
   of ACT-LANGUAGE.md "Errors" with its exact code, line and column, and the
   values a good file parses into. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "ir/ir.h"

#include <string.h>

typedef struct {
    const char *name; /* the behaviour, used as the test's name */
    const char *src;
    int code, line, col;
    const char *message; /* a substring of the message */
} error_row;

/* A graph whose line 3 onwards is body; x is f32[N, 4]. */
#define G(body) "graph g {\n    input x : f32[N, 4]\n" body "}\n"

static const error_row error_rows[] = {
    {"rejects_unknown_op", G("    h = foo(x)\n    output h\n"), ACT_ERR_NAME, 3, 9,
     "expected an op or activation, found 'foo'"},
    {"rejects_unknown_named_arg", G("    h = leaky_relu(x, beta = 1)\n    output h\n"), ACT_ERR_ARG,
     3, 23, "(alpha), found 'beta'"},
    {"rejects_named_arg_given_twice",
     G("    h = leaky_relu(x, alpha = 1, alpha = 2)\n    output h\n"), ACT_ERR_ARG, 3, 34,
     "expected each named argument once, found 'alpha' again"},
    {"rejects_activation_with_two_tensor_args", G("    h = relu(x, x)\n    output h\n"),
     ACT_ERR_ARG, 3, 9, "expected 1 tensor argument for relu, found 2"},
    {"rejects_dense_with_one_tensor_arg", G("    h = dense(x)\n    output h\n"), ACT_ERR_ARG, 3, 9,
     "expected 2 to 3 tensor arguments for dense, found 1"},
    {"rejects_more_than_three_tensor_args", G("    h = add(x, x, x, x)\n    output h\n"),
     ACT_ERR_ARG, 3, 9, "expected at most 3 tensor arguments for add, found 4"},
    {"rejects_dense_weight_rows_mismatch",
     G("    param W : f32[5, 3] = zeros\n    h = dense(x, W)\n    output h\n"), ACT_ERR_SHAPE, 4, 9,
     "expected W to have 4 rows to match x f32[N, 4], found f32[5, 3]"},
    {"rejects_dense_bias_mismatch",
     G("    param W : f32[4, 3]\n    param b : f32[4]\n    h = dense(x, W, b)\n    output h\n"),
     ACT_ERR_SHAPE, 5, 9, "expected b to be f32[3] to match W f32[4, 3], found f32[4]"},
    {"rejects_add_of_shapes_that_do_not_broadcast",
     G("    param b : f32[3]\n    h = add(x, b)\n    output h\n"), ACT_ERR_SHAPE, 4, 9,
     "expected shapes that broadcast for add, found x f32[N, 4] and b f32[3]"},
    {"rejects_add_of_different_size_names",
     G("    input y : f32[M, 4]\n    h = add(x, y)\n    output h\n"), ACT_ERR_SHAPE, 4, 9,
     "found x f32[N, 4] and y f32[M, 4]"},
    {"rejects_prelu_slope_of_wrong_length",
     G("    param s : f32[3] = zeros\n    h = prelu(x, s)\n    output h\n"), ACT_ERR_SHAPE, 4, 9,
     "expected s to be f32[4] or f32[1] to match x f32[N, 4], found f32[3]"},
    {"rejects_maxout_k_not_dividing_last_dim", G("    h = maxout(x, k = 3)\n    output h\n"),
     ACT_ERR_SHAPE, 3, 9, "expected k = 3 to divide the last dim of x f32[N, 4], found 4"},
    {"rejects_loss_of_different_shapes", G("    input t : f32[N, 5]\n    loss L = mse(x, t)\n"),
     ACT_ERR_SHAPE, 4, 14, "expected t to have the shape of x f32[N, 4], found f32[N, 5]"},
    {"rejects_size_name_bound_by_no_input",
     G("    param W : f32[4, M]\n    h = dense(x, W)\n    output h\n"), ACT_ERR_SHAPE, 3, 22,
     "expected size name 'M' in an input's type, found it in no input"},
    {"rejects_redefined_name", G("    h = relu(x)\n    h = sigmoid(x)\n    output h\n"),
     ACT_ERR_NAME, 4, 5, "found 'h' (already defined at line 3)"},
    {"rejects_use_before_definition", G("    a = relu(b)\n    b = relu(x)\n    output a\n"),
     ACT_ERR_NAME, 3, 14, "expected a value defined before line 3, found 'b' (defined at line 4)"},
    {"rejects_value_using_itself", G("    a = relu(a)\n    output a\n"), ACT_ERR_NAME, 3, 14,
     "found 'a' (defined at line 3)"},
    {"rejects_output_before_definition", G("    output h\n    h = relu(x)\n"), ACT_ERR_NAME, 3, 12,
     "found 'h' (defined at line 4)"},
    {"rejects_undefined_name", G("    h = relu(z)\n    output h\n"), ACT_ERR_NAME, 3, 14,
     "expected a defined value, found 'z'"},
    {"rejects_dangling_value", G("    u = relu(x)\n    h = relu(x)\n    output h\n"), ACT_ERR_NAME,
     3, 5, "expected 'u' to be used by an output or the loss, found it unused"},
    {"rejects_unused_param", G("    param W : f32[4]\n    output x\n"), ACT_ERR_NAME, 3, 11,
     "expected 'W' to be used"},
    {"rejects_graph_without_output_or_loss", "graph g {\n    input x : f32[4]\n}\n", ACT_ERR_SYNTAX,
     1, 7, "expected an output or a loss in graph 'g', found neither"},
    {"rejects_output_named_twice", G("    output x, x\n"), ACT_ERR_NAME, 3, 15,
     "expected each output once, found 'x' again"},
    {"rejects_bad_number_with_empty_exponent",
     G("    h = leaky_relu(x, alpha = 1e)\n    output h\n"), ACT_ERR_SYNTAX, 3, 31,
     "expected a number, found '1e'"},
    {"rejects_bad_number_with_two_points",
     G("    h = leaky_relu(x, alpha = 1.2.3)\n    output h\n"), ACT_ERR_SYNTAX, 3, 31,
     "expected a number, found '1.2.3'"},
    {"rejects_unclosed_string_at_its_quote",
     G("    h = gelu(x, approximate = \"tanh)\n    output h\n"), ACT_ERR_SYNTAX, 3, 31,
     "expected '\"' to close this string"},
    {"rejects_unclosed_bracket_at_its_opening", "graph g {\n    input x : f32[N, 4\n",
     ACT_ERR_SYNTAX, 2, 18, "expected ']' to close this '['"},
    {"rejects_unclosed_paren_at_its_opening", "graph g {\n    input x : f32[4]\n    h = relu(x\n",
     ACT_ERR_SYNTAX, 3, 13, "expected ')' to close this '('"},
    {"rejects_unclosed_brace_at_its_opening", "graph g {\n    input x : f32[4]\n", ACT_ERR_SYNTAX,
     1, 9, "expected '}' to close this '{'"},
    {"rejects_element_type_other_than_f32", "graph g {\n    input x : f64[4]\n    output x\n}\n",
     ACT_ERR_SHAPE, 2, 15, "expected 'f32', found 'f64'"},
    {"rejects_rank_zero_type", "graph g {\n    input x : f32[]\n    output x\n}\n", ACT_ERR_SHAPE,
     2, 15, "expected 1 to 4 dimensions, found 0"},
    {"rejects_rank_five_type", "graph g {\n    input x : f32[1, 2, 3, 4, 5]\n    output x\n}\n",
     ACT_ERR_SHAPE, 2, 15, "expected 1 to 4 dimensions, found 5"},
    {"rejects_fractional_dimension", "graph g {\n    input x : f32[1.5]\n    output x\n}\n",
     ACT_ERR_SHAPE, 2, 19, "found 1.5"},
    {"rejects_zero_dimension", "graph g {\n    input x : f32[0]\n    output x\n}\n", ACT_ERR_SHAPE,
     2, 19, "expected a dimension (an integer >= 1 or a size name), found 0"},
    {"rejects_format_version_2", "act 2\n" G("    output x\n"), ACT_ERR_SYNTAX, 1, 5,
     "expected format version 1, found 2"},
    {"rejects_version_line_after_a_graph", G("    output x\n") "act 1\n", ACT_ERR_SYNTAX, 5, 1,
     "expected 'act 1' only at the start of the file, found 'act'"},
    {"rejects_activation_named_like_a_builtin", "activation relu(x) = x\n" G("    output x\n"),
     ACT_ERR_NAME, 1, 12, "found 'relu' already defined (built-in)"},
    {"rejects_activation_named_like_an_op", "activation dense(x) = x\n" G("    output x\n"),
     ACT_ERR_NAME, 1, 12, "found 'dense' already defined (a graph op)"},
    {"rejects_two_activation_lines_with_one_name",
     "activation f(x) = x\nactivation f(x) = 2 * x\n" G("    output x\n"), ACT_ERR_NAME, 2, 12,
     "found 'f' already defined at line 1"},
    {"rejects_loss_op_outside_loss_statement",
     G("    input t : f32[N, 4]\n    h = mse(x, t)\n    output h\n"), ACT_ERR_ARG, 4, 9,
     "expected mse only in a loss statement, found it in an assignment"},
    {"rejects_loss_op_in_nested_call",
     G("    input t : f32[N, 4]\n    h = relu(mse(x, t))\n    output h\n"), ACT_ERR_ARG, 4, 14,
     "found it in a nested call"},
    {"rejects_non_loss_op_in_loss_statement", G("    loss L = relu(x)\n"), ACT_ERR_ARG, 3, 14,
     "expected a loss (softmax_cross_entropy, sigmoid_cross_entropy or mse), found 'relu'"},
    {"rejects_second_loss",
     G("    input t : f32[N, 4]\n    loss L = mse(x, t)\n    loss M = mse(x, t)\n"), ACT_ERR_SYNTAX,
     5, 10, "expected one loss per graph, found a second one after 'L' at line 4"},
    {"rejects_loss_as_an_argument",
     G("    input t : f32[N, 4]\n    loss L = mse(x, t)\n    h = scale(L)\n    output h\n"),
     ACT_ERR_ARG, 5, 15, "expected a tensor argument, found the loss 'L'"},
    {"rejects_loss_as_an_output",
     G("    input t : f32[N, 4]\n    loss L = mse(x, t)\n    output L\n"), ACT_ERR_NAME, 5, 12,
     "expected an output other than the loss, found 'L'"},
    {"rejects_inline_list_of_wrong_length",
     G("    param b : f32[2, 3] = [1, 2, 3, 4]\n    output x\n"), ACT_ERR_SHAPE, 3, 27,
     "expected 6 numbers for f32[2, 3], found 4"},
    {"rejects_ragged_inline_list", G("    param b : f32[2, 2] = [[1, 2], [3]]\n    output x\n"),
     ACT_ERR_SHAPE, 3, 36, "expected 2 elements like the first list at this depth, found 1"},
    {"rejects_named_arg_before_tensor_arg", G("    h = leaky_relu(alpha = 0.1, x)\n    output h\n"),
     ACT_ERR_SYNTAX, 3, 33, "expected a named argument (tensor arguments come first), found 'x'"},
    {"rejects_string_for_numeric_arg", G("    h = leaky_relu(x, alpha = \"big\")\n    output h\n"),
     ACT_ERR_ARG, 3, 23, "expected a number for alpha, found \"big\""},
    {"rejects_unknown_word_for_string_arg",
     G("    h = gelu(x, approximate = \"fast\")\n    output h\n"), ACT_ERR_ARG, 3, 17,
     "expected \"none\" or \"tanh\" for approximate, found \"fast\""},
    {"rejects_number_for_string_arg", G("    h = gelu(x, approximate = 1)\n    output h\n"),
     ACT_ERR_ARG, 3, 17, "for approximate, found 1"},
    {"rejects_fractional_maxout_k", G("    h = maxout(x, k = 1.5)\n    output h\n"), ACT_ERR_ARG, 3,
     19, "expected an integer for k, found 1.5"},
    {"rejects_maxout_k_of_zero", G("    h = maxout(x, k = 0)\n    output h\n"), ACT_ERR_ARG, 3, 19,
     "expected 1 <= k <= 2^31 - 1, found 0"},
    {"rejects_maxout_k_too_large", G("    h = maxout(x, k = 1e300)\n    output h\n"), ACT_ERR_ARG, 3,
     19, "expected 1 <= k <= 2^31 - 1, found 1e300"},
    {"rejects_rrelu_seed_too_large", G("    h = rrelu(x, seed = 1e20)\n    output h\n"),
     ACT_ERR_ARG, 3, 18, "expected 0 <= seed <= 2^53, found 1e20"},
    {"rejects_rrelu_training_other_than_0_or_1",
     G("    h = rrelu(x, training = 2)\n    output h\n"), ACT_ERR_ARG, 3, 18,
     "expected training = 0 or 1, found 2"},
    {"rejects_rrelu_lower_above_upper",
     G("    h = rrelu(x, lower = 0.5, upper = 0.25)\n    output h\n"), ACT_ERR_ARG, 3, 31,
     "expected lower <= upper for rrelu, found lower = 0.5, upper = 0.25"},
    {"rejects_softmax_axis_out_of_range", G("    h = softmax(x, axis = 2)\n    output h\n"),
     ACT_ERR_ARG, 3, 20, "expected axis in [-2, 2) for x f32[N, 4], found 2"},
    {"rejects_keyword_as_value_name", G("    input input : f32[4]\n    output x\n"), ACT_ERR_SYNTAX,
     3, 11, "expected a value name, found keyword 'input'"},
    {"rejects_unknown_initialiser", G("    param W : f32[4] = random\n    output x\n"),
     ACT_ERR_NAME, 3, 24, "found 'random'"},
    {"rejects_negative_seed", G("    param W : f32[4] = glorot(seed = -1)\n    output x\n"),
     ACT_ERR_ARG, 3, 38, "expected a seed (an integer >= 0), found -1"},
    {"rejects_initialiser_on_input", G("    input y : f32[4] = zeros\n    output x\n"),
     ACT_ERR_SYNTAX, 3, 22, "expected end of line, found '='"},
    {"rejects_statement_that_is_a_number", G("    42\n"), ACT_ERR_SYNTAX, 3, 5,
     "expected a statement (input, param, output, loss or NAME = call), found number 42"},
    {"rejects_file_without_graph", "act 1\n", ACT_ERR_SYNTAX, 2, 1,
     "expected a graph, found end of file"},
    {"rejects_two_graphs_with_one_name", G("    output x\n") G("    output x\n"), ACT_ERR_NAME, 5,
     7, "expected a new graph name, found 'g' (already defined at line 1)"},
};

/* Parses src and verifies every graph against the built-ins: the first error. */
static act_error compile(const char *src)
{
    act_error err = {0};
    ir_module *m = ir_parse("t.act", src, &err);
    if (!m)
        return err;
    ir_registry *reg = ir_registry_new(&err);
    assert_non_null(reg);
    for (int i = 0; i < m->graphs.n && !err.code; i++)
        ir_verify(m, m->graphs.items[i], reg, &err);
    ir_registry_free(reg);
    ir_module_free(m);
    return err;
}

static void test_error_row(void **state)
{
    const error_row *r = *state;
    act_error err = compile(r->src);
    if (err.code != r->code || err.line != r->line || err.col != r->col ||
        !strstr(err.message, r->message))
        print_error("got code %d at %d:%d: %s\n", err.code, err.line, err.col, err.message);
    assert_int_equal(err.code, r->code);
    assert_int_equal(err.line, r->line);
    assert_int_equal(err.col, r->col);
    assert_string_equal(err.file, "t.act");
    assert_non_null(strstr(err.message, r->message));
}

static ir_value *value_named(const ir_graph *g, const char *name)
{
    for (int i = 0; i < g->values.n; i++) {
        ir_value *v = g->values.items[i];
        if (v->name && !strcmp(v->name, name))
            return v;
    }
    fail_msg("no value %s", name);
    return NULL;
}

static void test_parse_builds_values_with_positions(void **state)
{
    (void)state;
    const char *src = "act 1\n"
                      "graph g {\n"
                      "    input x : f32[N, 4]\n"
                      "    param W : f32[4, 3] = glorot(seed = 7)\n"
                      "    h = leaky_relu(dense(x, W), alpha = -0.5)\n"
                      "    output h\n"
                      "}\n";
    act_error err = {0};
    ir_module *m = ir_parse("t.act", src, &err);
    assert_non_null(m);
    assert_true(m->has_version);
    ir_graph *g = m->graphs.items[0];
    assert_string_equal(g->name, "g");
    assert_int_equal(g->values.n, 4);
    ir_value *x = value_named(g, "x"), *w = value_named(g, "W"), *h = value_named(g, "h");
    ir_value *inner = g->values.items[2];
    assert_int_equal(x->op, IR_INPUT);
    assert_int_equal(x->decl.rank, 2);
    assert_string_equal(x->decl.sym[0], "N");
    assert_int_equal(x->decl.dim[1], 4);
    assert_int_equal(x->decl_pos.col, 15);
    assert_int_equal(w->init.kind, IR_INIT_GLOROT);
    assert_int_equal(w->init.seed, 7);
    assert_null(inner->name);
    assert_string_equal(inner->callee, "dense");
    assert_int_equal(inner->pos.col, 20);
    assert_ptr_equal(inner->args[0], x);
    assert_int_equal(inner->arg_pos[1].col, 29);
    assert_ptr_equal(h->args[0], inner);
    assert_int_equal(h->pos.col, 5);
    assert_int_equal(h->callee_pos.col, 9);
    assert_int_equal(h->nnamed, 1);
    assert_string_equal(h->named[0].name, "alpha");
    assert_true(h->named[0].num == -0.5);
    assert_int_equal(h->named[0].pos.col, 33);
    assert_int_equal(g->outputs.n, 1);
    assert_ptr_equal(g->outputs.items[0], h);
    ir_module_free(m);
}

static void test_parse_reads_every_initialiser(void **state)
{
    (void)state;
    const char *src = "graph g {\n"
                      "    param a : f32[2] = zeros\n"
                      "    param b : f32[2] = ones\n"
                      "    param c : f32[2] = fill(-1.5)\n"
                      "    param d : f32[2] = uniform(-0.5, 0.5, seed = 3)\n"
                      "    param e : f32[2] = normal(0, 0.1)\n"
                      "    param f : f32[2] = glorot\n"
                      "    param h : f32[2] = npy(\"w \\\"1\\\".npy\")\n"
                      "    param i : f32[2, 2] = [[1, 2], [3, -4]]\n"
                      "    param j : f32[2]\n"
                      "    output a, b, c, d, e, f, h, i, j\n"
                      "}\n";
    act_error err = {0};
    ir_module *m = ir_parse("t.act", src, &err);
    assert_non_null(m);
    ir_graph *g = m->graphs.items[0];
    const ir_init *in[9];
    for (int i = 0; i < 9; i++)
        in[i] = &((ir_value *)g->values.items[i])->init;
    assert_int_equal(in[0]->kind, IR_INIT_ZEROS);
    assert_int_equal(in[1]->kind, IR_INIT_ONES);
    assert_int_equal(in[2]->kind, IR_INIT_FILL);
    assert_true(in[2]->a == -1.5);
    assert_int_equal(in[3]->kind, IR_INIT_UNIFORM);
    assert_true(in[3]->a == -0.5 && in[3]->b == 0.5 && in[3]->seed == 3);
    assert_int_equal(in[4]->kind, IR_INIT_NORMAL);
    assert_true(in[4]->a == 0 && in[4]->b == 0.1 && in[4]->seed == 0);
    assert_int_equal(in[5]->kind, IR_INIT_GLOROT);
    assert_int_equal(in[6]->kind, IR_INIT_NPY);
    assert_string_equal(in[6]->path, "w \"1\".npy");
    assert_int_equal(in[6]->pos.col, 24);
    assert_int_equal(in[7]->kind, IR_INIT_LIST);
    assert_int_equal(in[7]->nlist, 4);
    assert_true(in[7]->list[1] == 2 && in[7]->list[3] == -4);
    assert_int_equal(in[8]->kind, IR_INIT_NONE);
    ir_module_free(m);
}

static void test_parse_keeps_activation_lines(void **state)
{
    (void)state;
    const char *src = "activation mysig(z; k = 2) = 1 / (1 + exp(-k * z))  grad = k * y * (1 - y)\n"
                      "graph g {\n    input x : f32[4]\n    output x\n}\n";
    act_error err = {0};
    ir_module *m = ir_parse("t.act", src, &err);
    assert_non_null(m);
    assert_int_equal(m->acts.n, 1);
    const ir_activation *act = m->acts.items[0];
    assert_string_equal(act->name, "mysig");
    assert_string_equal(act->var, "z");
    assert_int_equal(act->params.n, 1);
    assert_true(act->params.p[0].def == 2);
    assert_string_equal(act->formula, "1 / (1 + exp(-k * z))");
    assert_string_equal(act->grad_formula, "k * y * (1 - y)");
    assert_string_equal(act->origin, "t.act:1:12");
    assert_int_equal(act->origin_kind, IR_ORIGIN_FILE);
    assert_non_null(act->f);
    assert_non_null(act->df);
    ir_module_free(m);
}

static void test_parse_accepts_semicolons_and_wrapped_calls(void **state)
{
    (void)state;
    const char *src = "\n# a comment\ngraph g { input x : f32[2]; input y : f32[2]\n"
                      "    s = add(x,\n            y)\n    output s }\n";
    act_error err = {0};
    ir_module *m = ir_parse("t.act", src, &err);
    assert_non_null(m);
    ir_graph *g = m->graphs.items[0];
    assert_int_equal(g->values.n, 3);
    assert_int_equal(value_named(g, "s")->arg_pos[1].line, 5);
    ir_module_free(m);
}

static void test_module_graph_picks_by_name(void **state)
{
    (void)state;
    act_error err = {0};
    ir_module *m = ir_parse("t.act",
                            "graph a {\n input x : f32[1]\n output x\n}\n"
                            "graph b {\n input x : f32[1]\n output x\n}\n",
                            &err);
    assert_non_null(m);
    assert_null(ir_module_graph(m, NULL, &err));
    assert_int_equal(err.code, ACT_ERR_NAME);
    assert_non_null(strstr(err.message, "one of: a, b"));
    assert_ptr_equal(ir_module_graph(m, "b", &err), m->graphs.items[1]);
    assert_null(ir_module_graph(m, "c", &err));
    assert_non_null(strstr(err.message, "found 'c'"));
    ir_module_free(m);
}

static void test_parse_without_error_struct_fails_quietly(void **state)
{
    (void)state;
    assert_null(ir_parse(NULL, "graph g {\n    h = relu(z)\n}\n", NULL));
    assert_null(ir_parse(NULL, "graph g {\n    input x : f32[2]\n", NULL));
}

int main(void)
{
    enum { NROWS = sizeof error_rows / sizeof *error_rows };
    struct CMUnitTest tests[NROWS + 6] = {
        cmocka_unit_test(test_parse_builds_values_with_positions),
        cmocka_unit_test(test_parse_reads_every_initialiser),
        cmocka_unit_test(test_parse_keeps_activation_lines),
        cmocka_unit_test(test_parse_accepts_semicolons_and_wrapped_calls),
        cmocka_unit_test(test_module_graph_picks_by_name),
        cmocka_unit_test(test_parse_without_error_struct_fails_quietly),
    };
    for (int i = 0; i < NROWS; i++)
        tests[6 + i] = (struct CMUnitTest){error_rows[i].name, test_error_row, NULL, NULL,
                                           (void *)&error_rows[i]};
    return _cmocka_run_group_tests("ir_parse", tests, NROWS + 6, NULL, NULL);
}
