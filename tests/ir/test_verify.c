/* test_verify.c -- ir/verify*.c on good graphs: the shape inferred for each
   op (broadcasting and nested calls included), callees resolved, named
   args filled with their defaults, ids. Errors are in test_parse.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "ir/ir.h"

#include <stdio.h>
#include <string.h>

typedef struct {
    const char *name; /* the behaviour, used as the test's name */
    const char *body; /* statements after the inputs of SHAPE_SRC */
    const char *value;
    const char *shape;
} shape_row;

/* Inputs of every shape row, each used by some row's output. */
#define SHAPE_SRC(body)                                                                            \
    "graph g {\n"                                                                                  \
    "    input x : f32[N, 4]\n"                                                                    \
    "    input x3 : f32[B, T, 4]\n"                                                                \
    "    input col : f32[N, 1]\n"                                                                  \
    "    input row : f32[1, 4]\n"                                                                  \
    "    input m : f32[N, M]\n" body "    output x, x3, col, row, m, y\n"                          \
    "}\n"

static const shape_row shape_rows[] = {
    {"infers_dense_rows", "param W : f32[4, 3]\nparam b : f32[3]\ny = dense(x, W, b)\n", "y",
     "f32[N, 3]"},
    {"infers_dense_over_leading_dims", "param W : f32[4, 3]\ny = dense(x3, W)\n", "y",
     "f32[B, T, 3]"},
    {"broadcasts_add_of_trailing_vector", "param b : f32[4]\ny = add(x, b)\n", "y", "f32[N, 4]"},
    {"broadcasts_add_of_column_and_row", "y = add(col, row)\n", "y", "f32[N, 4]"},
    {"broadcasts_mul_of_one_and_matrix", "param s : f32[1]\ny = mul(s, x3)\n", "y", "f32[B, T, 4]"},
    {"keeps_shape_for_scale", "y = scale(x, s = -2)\n", "y", "f32[N, 4]"},
    {"keeps_shape_for_activation", "y = relu(x3)\n", "y", "f32[B, T, 4]"},
    {"keeps_shape_for_prelu_per_channel", "param s : f32[4]\ny = prelu(x, s)\n", "y", "f32[N, 4]"},
    {"keeps_shape_for_prelu_shared", "param s : f32[1]\ny = prelu(x, s)\n", "y", "f32[N, 4]"},
    {"keeps_shape_for_rrelu", "y = rrelu(x, training = 1, seed = 3)\n", "y", "f32[N, 4]"},
    {"divides_last_dim_for_maxout", "y = maxout(x, k = 2)\n", "y", "f32[N, 2]"},
    {"divides_size_name_for_maxout", "y = maxout(m)\n", "y", "f32[N, M/2]"},
    {"keeps_shape_for_softmax", "y = softmax(x3, axis = -3)\n", "y", "f32[B, T, 4]"},
    {"keeps_shape_for_log_softmax", "y = log_softmax(x, axis = 0)\n", "y", "f32[N, 4]"},
    {"infers_nested_calls", "param W : f32[4, 3]\ny = relu(add(dense(x, W), mul(col, col)))\n", "y",
     "f32[N, 3]"},
};

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

typedef struct {
    ir_module *m;
    ir_graph *g;
    ir_registry *reg;
} verified;

/* Parses and verifies src, which must be good. */
static verified verify_ok(const char *src)
{
    act_error err = {0};
    verified r = {ir_parse("t.act", src, &err), NULL, ir_registry_new(&err)};
    if (!r.m || !r.reg || !(r.g = r.m->graphs.items[0]) || ir_verify(r.m, r.g, r.reg, &err))
        fail_msg("%d:%d: %s", err.line, err.col, err.message);
    return r;
}

static void release(verified *r)
{
    ir_registry_free(r->reg);
    ir_module_free(r->m);
}

static void test_shape_row(void **state)
{
    const shape_row *row = *state;
    char body[512] = "", src[1024];
    /* indent the row's statements like the rest of the graph */
    for (const char *s = row->body; *s; s = strchr(s, '\n') + 1)
        snprintf(body + strlen(body), sizeof body - strlen(body), "    %.*s\n",
                 (int)(strchr(s, '\n') - s), s);
    snprintf(src, sizeof src, SHAPE_SRC("%s"), body);
    verified r = verify_ok(src);
    assert_string_equal(ir_shape_str(r.m->arena, &value_named(r.g, row->value)->shape), row->shape);
    release(&r);
}

static void test_verify_infers_scalar_loss(void **state)
{
    (void)state;
    verified r = verify_ok("graph g {\n    input z : f32[N, 10]\n    input t : f32[N, 10]\n"
                           "    loss L = softmax_cross_entropy(z, t)\n}\n");
    ir_value *loss = value_named(r.g, "L");
    assert_ptr_equal(r.g->loss, loss);
    assert_int_equal(loss->op, IR_SCE);
    assert_int_equal(loss->shape.rank, 0);
    assert_string_equal(ir_shape_str(r.m->arena, &loss->shape), "f32[]");
    release(&r);
}

static void test_verify_resolves_callees_and_ids(void **state)
{
    (void)state;
    verified r = verify_ok("graph g {\n    input x : f32[N, 4]\n    param W : f32[4, 2]\n"
                           "    h = relu(dense(x, W))\n    output h\n}\n");
    assert_int_equal(r.g->nforward, 4);
    for (int i = 0; i < r.g->values.n; i++)
        assert_int_equal(((ir_value *)r.g->values.items[i])->id, i);
    ir_value *inner = r.g->values.items[2], *h = value_named(r.g, "h");
    assert_int_equal(inner->op, IR_DENSE);
    assert_null(inner->act);
    assert_string_equal(ir_shape_str(r.m->arena, &inner->shape), "f32[N, 2]");
    assert_int_equal(h->op, IR_ACT);
    assert_ptr_equal(h->act, ir_registry_find(r.reg, "relu"));
    assert_int_equal(value_named(r.g, "x")->op, IR_INPUT);
    assert_int_equal(value_named(r.g, "W")->op, IR_PARAM);
    release(&r);
}

static void test_verify_fills_named_args_with_defaults(void **state)
{
    (void)state;
    verified r =
        verify_ok("graph g {\n    input x : f32[N, 4]\n"
                  "    a = leaky_relu(x)\n    b = leaky_relu(x, alpha = -0.5)\n"
                  "    c = rrelu(x, upper = 0.5)\n    d = gelu(x, approximate = \"tanh\")\n"
                  "    e = softmax(x)\n    f = maxout(x)\n"
                  "    output a, b, c, d, e, f\n}\n");
    assert_true(value_named(r.g, "a")->attr[0] == 0.01);
    assert_true(value_named(r.g, "b")->attr[0] == -0.5);
    const ir_value *c = value_named(r.g, "c");
    assert_true(c->attr[0] == 1.0 / 8 && c->attr[1] == 0.5 && c->attr[2] == 0 && c->attr[3] == 0);
    assert_true(value_named(r.g, "d")->attr[0] == 1);
    assert_true(value_named(r.g, "e")->attr[0] == -1);
    assert_true(value_named(r.g, "f")->attr[0] == 2);
    release(&r);
}

static void test_verify_prefers_module_activation(void **state)
{
    (void)state;
    verified r =
        verify_ok("activation sq(x; b = 4) = x * x + b\n"
                  "graph g {\n    input x : f32[3]\n    h = sq(x, b = 1)\n    output h\n}\n");
    const ir_value *h = value_named(r.g, "h");
    assert_ptr_equal(h->act, r.m->acts.items[0]);
    assert_ptr_equal(ir_find_activation(r.m, r.reg, "sq"), r.m->acts.items[0]);
    assert_ptr_equal(ir_find_activation(r.m, r.reg, "relu"), ir_registry_find(r.reg, "relu"));
    assert_null(ir_find_activation(r.m, r.reg, "nope"));
    assert_true(h->attr[0] == 1);
    release(&r);
}

static void test_verify_without_error_struct_fails_quietly(void **state)
{
    (void)state;
    ir_module *m = ir_parse("t.act",
                            "graph g {\n    input x : f32[2]\n    h = foo(x)\n"
                            "    output h\n}\n",
                            NULL);
    assert_non_null(m);
    assert_int_equal(ir_verify(m, m->graphs.items[0], NULL, NULL), ACT_ERR_NAME);
    ir_module_free(m);
}

int main(void)
{
    enum { NROWS = sizeof shape_rows / sizeof *shape_rows, NFIXED = 5 };
    struct CMUnitTest tests[NROWS + NFIXED] = {
        cmocka_unit_test(test_verify_infers_scalar_loss),
        cmocka_unit_test(test_verify_resolves_callees_and_ids),
        cmocka_unit_test(test_verify_fills_named_args_with_defaults),
        cmocka_unit_test(test_verify_prefers_module_activation),
        cmocka_unit_test(test_verify_without_error_struct_fails_quietly),
    };
    for (int i = 0; i < NROWS; i++)
        tests[NFIXED + i] = (struct CMUnitTest){shape_rows[i].name, test_shape_row, NULL, NULL,
                                                (void *)&shape_rows[i]};
    return _cmocka_run_group_tests("ir_verify", tests, NROWS + NFIXED, NULL, NULL);
}
