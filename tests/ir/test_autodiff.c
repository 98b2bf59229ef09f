/* test_autodiff.c -- every gradient the backward pass gives is checked
   against central finite differences of the forward pass, in double: each
   activation (default and other params), each op and loss, and whole graphs
   (the examples). */
#include "support.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static double worst;

/* The scalar the gradients are of: the loss, or sum(seed * output). */
static double objective(act_program *p)
{
    act_error err = {0};
    if (act_forward(p, &err))
        fail_msg("forward: %s", err.message);
    if (!p->vjp)
        return ts_value(p, p->g->loss->name)->data[0];
    double s = 0;
    for (int j = 0; j < p->g->outputs.n; j++) {
        const rt_tensor *y = ts_value(p, ((ir_value *)p->g->outputs.items[j])->name);
        for (int64_t i = 0; p->seed[j] && i < y->n; i++)
            s += p->seed[j][i] * y->data[i];
    }
    return s;
}

/* Backward once, then for every element of every input and param a central
   difference with step h relative to the element. */
static void check_gradients(act_program *p, double rtol)
{
    act_error err = {0};
    if (act_backward(p, &err))
        fail_msg("backward: %s (%s:%d:%d)", err.message, err.file, err.line, err.col);
    int n = p->g->nforward;
    for (int i = 0; i < n; i++) {
        ir_value *v = p->g->values.items[i];
        if (v->op != IR_INPUT && v->op != IR_PARAM)
            continue;
        rt_tensor *t = &p->t[v->id];
        ir_value *gv = p->g->grad[v->id];
        assert_non_null(gv);
        rt_tensor g = p->t[gv->id];
        double *analytic = malloc((size_t)g.n * sizeof *analytic);
        memcpy(analytic, g.data, (size_t)g.n * sizeof *analytic);
        for (int64_t k = 0; k < t->n; k++) {
            double x0 = t->data[k], h = 1e-6 * fmax(1, fabs(x0));
            t->data[k] = x0 + h;
            double up = objective(p);
            t->data[k] = x0 - h;
            double down = objective(p);
            t->data[k] = x0;
            double fd = (up - down) / (2 * h);
            double err_abs = fabs(fd - analytic[k]);
            double scale = fmax(fabs(fd), 1e-3);
            worst = fmax(worst, err_abs / scale);
            if (err_abs > rtol * scale)
                fail_msg("d_%s[%lld]: backward %.12g, finite difference %.12g", v->name,
                         (long long)k, analytic[k], fd);
        }
        free(analytic);
    }
}

static void set_all(act_program *p, const char *name, const float *x, int64_t n0, int64_t n1)
{
    int64_t shape[2] = {n0, n1};
    act_error err = {0};
    if (act_set(p, name, x, shape, n1 ? 2 : 1, &err))
        fail_msg("set %s: %s", name, err.message);
}

static const float xs[12] = {-4.3f, -2.3f, -0.7f, 0.4f,  1.9f,  3.7f,
                             -1.1f, 0.9f,  2.6f,  -3.4f, 0.15f, -0.35f};
static const float ws[12] = {0.5f,  -1.25f, 0.75f, 2.0f,  -0.375f, 1.0f,
                             -2.5f, 0.125f, 1.5f,  0.25f, -0.625f, -1.0f};

/* y = CALL over a 2x6 input, differentiated from the output gradient ws. */
static void check_call(act_context *ctx, const char *call, const char *extra)
{
    char src[1024];
    snprintf(src, sizeof src, "graph t {\n input x : f32[2, 6]\n%s y = %s\n output y\n}\n", extra,
             call);
    act_program *p = ts_compile(ctx, src);
    set_all(p, "x", xs, 2, 6);
    const rt_tensor *y;
    act_error err = {0};
    assert_int_equal(act_forward(p, &err), 0);
    y = ts_value(p, "y");
    float w[12];
    memcpy(w, ws, sizeof w);
    assert_int_equal(act_set_output_grad(p, "y", w, y->shape, y->rank, &err), 0);
    check_gradients(p, 1e-6);
    act_program_free(p);
}

static void test_autodiff_every_activation_default_params(void **state)
{
    (void)state;
    act_context *ctx = act_context_new();
    for (int i = 0; i < ir_registry_count(ctx->reg); i++) {
        char call[128];
        snprintf(call, sizeof call, "%s(x)", ir_registry_at(ctx->reg, i)->name);
        check_call(ctx, call, "");
    }
    act_context_free(ctx);
}

static void test_autodiff_activations_other_params(void **state)
{
    (void)state;
    act_context *ctx = act_context_new();
    for (int i = 0; ts_other_calls[i]; i++)
        check_call(ctx, ts_other_calls[i], "");
    act_context_free(ctx);
}

static void test_autodiff_ops_with_params(void **state)
{
    (void)state;
    act_context *ctx = act_context_new();
    check_call(ctx, "prelu(x, s)", " param s : f32[6] = uniform(0, 0.5, seed = 1)\n");
    check_call(ctx, "prelu(x, s)", " param s : f32[1] = fill(0.25)\n");
    check_call(ctx, "add(x, b)", " param b : f32[6] = normal(0, 1, seed = 2)\n");
    check_call(ctx, "mul(x, b)", " param b : f32[2, 1] = normal(0, 1, seed = 3)\n");
    check_call(ctx, "mul(x, x)", "");
    check_call(ctx, "tanh(dense(x, W, b))",
               " param W : f32[6, 3] = glorot(seed = 4)\n param b : f32[3] = fill(0.1)\n");
    check_call(ctx, "dense(x, W)", " param W : f32[6, 4] = glorot(seed = 5)\n");
    act_context_free(ctx);
}

static void test_autodiff_losses(void **state)
{
    (void)state;
    static const char *const losses[] = {"softmax_cross_entropy", "sigmoid_cross_entropy", "mse"};
    float t[12];
    for (int i = 0; i < 12; i++)
        t[i] = (float)((i * 7) % 5) / 8.0f;
    act_context *ctx = act_context_new();
    for (size_t i = 0; i < sizeof losses / sizeof *losses; i++) {
        char src[512];
        snprintf(src, sizeof src,
                 "graph t {\n input x : f32[2, 6]\n input t : f32[2, 6]\n"
                 " loss L = %s(x, t)\n}\n",
                 losses[i]);
        act_program *p = ts_compile(ctx, src);
        set_all(p, "x", xs, 2, 6);
        set_all(p, "t", t, 2, 6);
        check_gradients(p, 1e-6);
        act_program_free(p);
    }
    act_context_free(ctx);
}

/* The examples, end to end, with their data. */
static void check_example(act_context *ctx, const char *file, const char *const *inputs)
{
    char path[512];
    snprintf(path, sizeof path, "%s/examples/%s", ACT_SOURCE_DIR, file);
    act_error err = {0};
    act_program *p = act_compile_file(ctx, path, NULL, ACT_ENGINE_INTERP, &err);
    if (!p)
        fail_msg("%s:%d:%d: %s", err.file, err.line, err.col, err.message);
    for (int i = 0; inputs[i]; i += 2) {
        snprintf(path, sizeof path, "%s/examples/data/%s", ACT_SOURCE_DIR, inputs[i + 1]);
        float *data;
        int64_t shape[4];
        int rank;
        assert_int_equal(rt_npy_read(path, &data, shape, &rank, &err), 0);
        assert_int_equal(act_set(p, inputs[i], data, shape, rank, &err), 0);
        free(data);
    }
    if (!p->g->loss) {
        assert_int_equal(act_forward(p, &err), 0);
        for (int j = 0; j < p->g->outputs.n; j++) {
            const rt_tensor *y = ts_value(p, ((ir_value *)p->g->outputs.items[j])->name);
            float *w = malloc((size_t)y->n * sizeof *w);
            for (int64_t k = 0; k < y->n; k++)
                w[k] = ws[k % 12];
            assert_int_equal(act_set_output_grad(p, ((ir_value *)p->g->outputs.items[j])->name, w,
                                                 y->shape, y->rank, &err),
                             0);
            free(w);
        }
    }
    check_gradients(p, 1e-5);
    act_program_free(p);
}

static void test_autodiff_examples(void **state)
{
    (void)state;
    act_context *ctx = act_context_new();
    check_example(ctx, "xor.act", (const char *const[]){"x", "xor_x.npy", "t", "xor_t.npy", NULL});
    check_example(ctx, "mlp.act",
                  (const char *const[]){"x", "spiral_x.npy", "t", "spiral_t.npy", NULL});
    check_example(ctx, "custom.act", (const char *const[]){"x", "custom_x.npy", NULL});
    print_message("largest finite-difference disagreement (relative): %.3g\n", worst);
    act_context_free(ctx);
}

/* A graph without a loss needs output gradients to be differentiated; the
   error points at the graph. */
static void test_autodiff_without_loss_or_seed_is_an_error(void **state)
{
    (void)state;
    act_context *ctx = act_context_new();
    act_program *p = ts_compile(ctx, "graph t {\n input x : f32[3]\n y = relu(x)\n output y\n}\n");
    float x[3] = {1, -2, 3};
    set_all(p, "x", x, 3, 0);
    act_error err = {0};
    assert_int_equal(act_backward(p, &err), ACT_ERR_RUNTIME);
    assert_non_null(strstr(err.message, "output gradients"));
    assert_int_equal(err.line, 1);
    act_program_free(p);
    act_context_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_autodiff_every_activation_default_params),
        cmocka_unit_test(test_autodiff_activations_other_params),
        cmocka_unit_test(test_autodiff_ops_with_params),
        cmocka_unit_test(test_autodiff_losses),
        cmocka_unit_test(test_autodiff_examples),
        cmocka_unit_test(test_autodiff_without_loss_or_seed_is_an_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
