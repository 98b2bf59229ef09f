/* test_api.c -- the embedding API of act.h on the interpreter: compile,
   set, forward, backward, get, sgd; errors with code and position; seeded
   initialisers; npy(...) params; failed calls change nothing. */
#include "support.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char mlp[] = "graph m {\n"
                          "    input x : f32[N, 3]\n"
                          "    input t : f32[N, 2]\n"
                          "    param W : f32[3, 2] = glorot(seed = 11)\n"
                          "    param b : f32[2] = zeros\n"
                          "    z = dense(x, W, b)\n"
                          "    p = softmax(z)\n"
                          "    output p\n"
                          "    loss L = softmax_cross_entropy(z, t)\n"
                          "}\n";

static const float x4[12] = {0.5f, -1, 2, 1, 0.25f, -0.5f, -2, 1.5f, 0, 0.75f, 0.5f, -1};
static const float t4[8] = {1, 0, 0, 1, 1, 0, 0, 1};

static void set_xt(act_program *p, int64_t n)
{
    act_error err = {0};
    int64_t sx[2] = {n, 3}, st[2] = {n, 2};
    assert_int_equal(act_set(p, "x", x4, sx, 2, &err), 0);
    assert_int_equal(act_set(p, "t", t4, st, 2, &err), 0);
}

static void test_api_compile_errors_have_code_and_position(void **state)
{
    (void)state;
    static const struct {
        const char *src;
        int code, line, col;
        const char *msg;
    } rows[] = {
        {"graph g {\n input x : f32[2]\n y = nope(x)\n output y\n}\n", ACT_ERR_NAME, 3, 6, "nope"},
        {"graph g {\n input x : f32[2]\n y = relu(x, alpha = 1)\n output y\n}\n", ACT_ERR_ARG, 3,
         14, "alpha"},
        {"graph g {\n input x : f32[2]\n y = relu(x, x)\n output y\n}\n", ACT_ERR_ARG, 3, 6,
         "relu"},
        {"graph g {\n input x : f32[2, 3]\n param W : f32[4, 5]\n y = dense(x, W)\n output y\n}\n",
         ACT_ERR_SHAPE, 4, 6, "f32[4, 5]"},
        {"graph g {\n input x : f32[2]\n y = relu(x)\n output x\n}\n", ACT_ERR_NAME, 3, 2, "'y'"},
    };
    act_context *ctx = act_context_new();
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
        act_error err = {0};
        act_program *p =
            act_compile_string(ctx, rows[i].src, "t.act", NULL, ACT_ENGINE_INTERP, &err);
        assert_null(p);
        if (err.code == ACT_OK || err.line != rows[i].line || err.col != rows[i].col ||
            !strstr(err.message, rows[i].msg) || strcmp(err.file, "t.act"))
            fail_msg("row %zu: got %d at %s:%d:%d: %s", i, err.code, err.file, err.line, err.col,
                     err.message);
    }
    assert_null(act_compile_string(ctx, rows[0].src, "t.act", NULL, ACT_ENGINE_INTERP, NULL));
    act_context_free(ctx);
}

static void test_api_forward_backward_and_get(void **state)
{
    (void)state;
    act_context *ctx = act_context_new();
    act_program *p = ts_compile(ctx, mlp);
    act_error err = {0};
    set_xt(p, 4);
    assert_null(act_get(p, "p", NULL, NULL, &err)); /* not run yet */
    assert_int_equal(err.code, ACT_ERR_RUNTIME);
    assert_int_equal(act_backward(p, &err), 0);
    int64_t shape[4];
    int rank;
    const float *prob = act_get(p, "p", shape, &rank, &err);
    assert_non_null(prob);
    assert_int_equal(rank, 2);
    assert_true(shape[0] == 4 && shape[1] == 2);
    for (int r = 0; r < 4; r++)
        assert_true(fabsf(prob[2 * r] + prob[2 * r + 1] - 1) < 1e-6f);
    const float *l = act_get(p, "L", shape, &rank, &err);
    assert_non_null(l);
    assert_int_equal(rank, 0);
    /* the loss from the outputs: mean of -log p[target] */
    double want = 0;
    for (int r = 0; r < 4; r++)
        want -= log(t4[2 * r] ? prob[2 * r] : prob[2 * r + 1]) / 4;
    assert_true(fabs(*l - want) < 1e-6);
    const float *dw = act_get(p, "d_W", shape, &rank, &err);
    assert_non_null(dw);
    assert_true(rank == 2 && shape[0] == 3 && shape[1] == 2);
    assert_null(act_get(p, "d_nothing", NULL, NULL, &err));
    assert_int_equal(err.code, ACT_ERR_NAME);
    act_program_free(p);
    act_context_free(ctx);
}

/* The loss is computed only when its inputs are given; asking for it names
   the missing input. */
static void test_api_loss_without_its_input_names_it(void **state)
{
    (void)state;
    act_context *ctx = act_context_new();
    act_program *p = ts_compile(ctx, mlp);
    act_error err = {0};
    int64_t sx[2] = {4, 3};
    assert_int_equal(act_set(p, "x", x4, sx, 2, &err), 0);
    assert_int_equal(act_forward(p, &err), 0);
    assert_non_null(act_get(p, "p", NULL, NULL, &err));
    assert_null(act_get(p, "L", NULL, NULL, &err));
    assert_int_equal(err.code, ACT_ERR_RUNTIME);
    assert_non_null(strstr(err.message, "input 't'"));
    assert_int_equal(err.line, 3);
    assert_int_equal(act_backward(p, &err), ACT_ERR_RUNTIME);
    assert_non_null(strstr(err.message, "'t'"));
    act_program_free(p);
    act_context_free(ctx);
}

static void test_api_set_checks_names_and_shapes(void **state)
{
    (void)state;
    act_context *ctx = act_context_new();
    act_program *p = ts_compile(ctx, mlp);
    act_error err = {0};
    int64_t bad[2] = {4, 4};
    assert_int_equal(act_set(p, "x", x4, bad, 2, &err), ACT_ERR_SHAPE);
    assert_non_null(strstr(err.message, "f32[N, 3]"));
    assert_non_null(strstr(err.message, "f32[4, 4]"));
    assert_int_equal(act_set(p, "z", x4, bad, 2, &err), ACT_ERR_NAME);
    assert_int_equal(act_set(p, "x", x4, bad, 5, &err), ACT_ERR_SHAPE);
    /* size N bound by x, disagreed with by t: an error at run time */
    int64_t sx[2] = {4, 3}, st[2] = {3, 2};
    assert_int_equal(act_set(p, "x", x4, sx, 2, &err), 0);
    assert_int_equal(act_set(p, "t", t4, st, 2, &err), 0);
    assert_int_equal(act_backward(p, &err), ACT_ERR_SHAPE);
    assert_non_null(strstr(err.message, "N = 4"));
    assert_non_null(strstr(err.message, "found 3"));
    act_program_free(p);
    act_context_free(ctx);
}

/* A failed act_set leaves the program as it was. */
static void test_api_failed_set_changes_nothing(void **state)
{
    (void)state;
    act_context *ctx = act_context_new();
    act_program *p = ts_compile(ctx, mlp);
    act_error err = {0};
    set_xt(p, 4);
    assert_int_equal(act_forward(p, &err), 0);
    float before = act_get(p, "p", NULL, NULL, &err)[3];
    int64_t bad[1] = {3};
    assert_int_not_equal(act_set(p, "W", x4, bad, 1, &err), 0);
    const float *after = act_get(p, "p", NULL, NULL, &err);
    assert_non_null(after);
    assert_true(after[3] == before);
    act_program_free(p);
    act_context_free(ctx);
}

/* Seeded initialisers give the same params in every program, and act_set on
   a param replaces them. */
static void test_api_seeded_params_are_reproducible(void **state)
{
    (void)state;
    act_context *ctx = act_context_new();
    act_program *a = ts_compile(ctx, mlp), *b = ts_compile(ctx, mlp);
    act_error err = {0};
    const float *wa = act_get(a, "W", NULL, NULL, &err), *wb = act_get(b, "W", NULL, NULL, &err);
    assert_memory_equal(wa, wb, 6 * sizeof(float));
    double limit = sqrt(6.0 / 5), norm = 0;
    for (int i = 0; i < 6; i++) {
        assert_true(fabs(wa[i]) < limit);
        norm += fabs(wa[i]);
    }
    assert_true(norm > 0.5);
    float w[6] = {1, 2, 3, 4, 5, 6};
    int64_t sw[2] = {3, 2};
    assert_int_equal(act_set(a, "W", w, sw, 2, &err), 0);
    assert_memory_equal(act_get(a, "W", NULL, NULL, &err), w, sizeof w);
    act_program_free(a);
    act_program_free(b);
    act_context_free(ctx);
}

static void test_api_sgd_step_lowers_the_loss(void **state)
{
    (void)state;
    act_context *ctx = act_context_new();
    act_program *p = ts_compile(ctx, mlp);
    act_error err = {0};
    set_xt(p, 4);
    assert_int_equal(act_forward(p, &err), 0);
    float first = *act_get(p, "L", NULL, NULL, &err), last = first;
    for (int i = 0; i < 200; i++) {
        assert_int_equal(act_sgd_step(p, 0.5f, &err), 0);
        last = *act_get(p, "L", NULL, NULL, &err);
    }
    assert_true(last < 0.5f * first);
    act_program_free(p);
    act_context_free(ctx);
}

/* On both engines: act_sgd_step's d_W is act_backward's, W moves by
   -lr d_W, and d_x (not computed, as PyTorch) is an error naming the
   cause until an act_backward. */
static void test_api_sgd_step_computes_the_params_gradients(void **state)
{
    (void)state;
    act_context *ctx = act_context_new();
    for (int engine = 0; engine < 2; engine++) {
        act_engine e = engine ? ACT_ENGINE_INTERP : ACT_ENGINE_JIT;
        act_error err = {0};
        act_program *ref = act_compile_string(ctx, mlp, "m.act", NULL, e, &err);
        act_program *p = act_compile_string(ctx, mlp, "m.act", NULL, e, &err);
        assert_non_null(ref);
        assert_non_null(p);
        set_xt(ref, 4);
        set_xt(p, 4);
        assert_int_equal(act_backward(ref, &err), 0);
        float w0[6], dw[6];
        memcpy(w0, act_get(ref, "W", NULL, NULL, &err), sizeof w0);
        memcpy(dw, act_get(ref, "d_W", NULL, NULL, &err), sizeof dw);
        assert_int_equal(act_sgd_step(p, 0.25f, &err), 0);
        const float *got = act_get(p, "d_W", NULL, NULL, &err);
        assert_non_null(got);
        const float *w = act_get(p, "W", NULL, NULL, &err);
        for (int i = 0; i < 6; i++) {
            assert_true(fabsf(got[i] - dw[i]) <= 1e-6f * (1 + fabsf(dw[i])));
            assert_true(fabsf(w[i] - (w0[i] - 0.25f * dw[i])) <= 1e-6f * (1 + fabsf(w0[i])));
        }
        assert_null(act_get(p, "d_x", NULL, NULL, &err));
        assert_int_equal(err.code, ACT_ERR_RUNTIME);
        assert_string_equal(err.message, "expected act_backward before reading 'd_x', found "
                                         "act_sgd_step, which computes the gradients of params "
                                         "only");
        assert_int_equal(act_backward(p, &err), 0);
        assert_non_null(act_get(p, "d_x", NULL, NULL, &err));
        act_program_free(ref);
        act_program_free(p);
    }
    act_context_free(ctx);
}

/* act_sgd_step moves every param to p - lr d_p rounded once to float (an
   FMA), d_p being act_backward's gradient, which reads back unchanged:
   weights, biases, a prelu slope, weights shared by two layers, from the
   seeded params and again from the moved ones. (Rounding twice, through
   double, differs too rarely for this data to tell: see the next test.) */
static void test_api_sgd_step_rounds_once(void **state)
{
    (void)state;
    static const char src[] = "graph g {\n input x : f32[N, 5]\n input t : f32[N, 3]\n"
                              " param W1 : f32[5, 20] = glorot(seed = 1)\n"
                              " param b1 : f32[20] = uniform(-0.5, 0.5, seed = 2)\n"
                              " param s : f32[20] = fill(0.2)\n"
                              " param W2 : f32[20, 3] = glorot(seed = 3)\n"
                              " param b2 : f32[3] = uniform(-0.5, 0.5, seed = 4)\n"
                              " param W3 : f32[3, 3] = glorot(seed = 5)\n"
                              " h = prelu(dense(x, W1, b1), s)\n z = dense(h, W2, b2)\n"
                              " o = add(dense(z, W3), tanh(dense(z, W3)))\n output o\n"
                              " loss L = softmax_cross_entropy(o, t)\n}\n";
    static const char *const params[6] = {"W1", "b1", "s", "W2", "b2", "W3"};
    enum { N = 37 };
    float x[N * 5], t[N * 3] = {0};
    for (int i = 0; i < N * 5; i++)
        x[i] = (float)((i * 37) % 23 - 11) / 7.0f;
    for (int i = 0; i < N; i++)
        t[i * 3 + i % 3] = 1;
    int64_t sx[2] = {N, 5}, st[2] = {N, 3};
    act_context *ctx = act_context_new();
    act_error err = {0};
    act_program *ref = ts_compile_for(ctx, src, ACT_ENGINE_JIT);
    act_program *p = ts_compile_for(ctx, src, ACT_ENGINE_JIT);
    act_set_threads(p, 1);
    for (int k = 0; k < 2; k++) {
        act_program *q = k ? p : ref;
        assert_int_equal(act_set(q, "x", x, sx, 2, &err), 0);
        assert_int_equal(act_set(q, "t", t, st, 2, &err), 0);
    }
    assert_int_equal(act_backward(ref, &err), 0);
    const float lr = 0.3f;
    for (int step = 0; step < 2; step++) { /* the second from moved params */
        assert_int_equal(act_sgd_step(p, lr, &err), 0);
        for (int k = 0; k < 6; k++) {
            char dname[8];
            snprintf(dname, sizeof dname, "d_%s", params[k]);
            int64_t shape[4];
            int rank;
            const float *w0 = act_get(ref, params[k], shape, &rank, &err);
            const float *d0 = act_get(ref, dname, NULL, NULL, &err);
            const float *w = act_get(p, params[k], NULL, NULL, &err);
            const float *d = act_get(p, dname, NULL, NULL, &err);
            assert_true(w0 && d0 && w && d);
            int64_t n = rank == 2 ? shape[0] * shape[1] : shape[0];
            assert_memory_equal(d, d0, (size_t)n * sizeof *d);
            for (int64_t i = 0; i < n; i++) {
                float want = fmaf(-lr, d0[i], w0[i]);
                if (memcmp(&w[i], &want, sizeof want))
                    fail_msg("step %d, %s[%ld] = %a, expected %a", step, params[k], (long)i,
                             (double)w[i], (double)want);
            }
        }
        for (int k = 0; k < 6; k++) {
            int64_t shape[4];
            int rank;
            const float *w = act_get(p, params[k], shape, &rank, &err);
            assert_int_equal(act_set(ref, params[k], w, shape, rank, &err), 0);
        }
        assert_int_equal(act_backward(ref, &err), 0);
    }
    act_program_free(ref);
    act_program_free(p);
    act_context_free(ctx);
}

/* 1 - lr g with lr g = (2^30 + 1) 2^-55 (13325 2^-14 times 80581 2^-41)
   lies 2^-55 below the midpoint of 1 - 2^-24 and 1: rounded once it is
   1 - 2^-24, rounded to double first it lands on the midpoint and then on
   1 (ties to even). The JIT's update rounds once. */
static void test_api_sgd_step_does_not_round_twice(void **state)
{
    (void)state;
    static const char src[] = "graph g {\n input x : f32[1, 1]\n param W : f32[1, 1] = fill(1)\n"
                              " y = dense(x, W)\n output y\n}\n";
    act_context *ctx = act_context_new();
    act_program *p = ts_compile_for(ctx, src, ACT_ENGINE_JIT);
    act_error err = {0};
    float one = 1, g = 80581 * 0x1p-41f;
    int64_t shape[2] = {1, 1};
    assert_int_equal(act_set(p, "x", &one, shape, 2, &err), 0);
    assert_int_equal(act_set_output_grad(p, "y", &g, shape, 2, &err), 0);
    assert_int_equal(act_sgd_step(p, 13325 * 0x1p-14f, &err), 0);
    assert_true(*act_get(p, "d_W", NULL, NULL, &err) == g);
    assert_true(*act_get(p, "W", NULL, NULL, &err) == 1 - 0x1p-24f); /* not 1 */
    act_program_free(p);
    act_context_free(ctx);
}

static void test_api_npy_params(void **state)
{
    (void)state;
    char *dir = ts_tmpdir(), path[600];
    snprintf(path, sizeof path, "%s/w.npy", dir);
    float w[6] = {1, 2, 3, 4, 5, 6};
    int64_t sw[2] = {3, 2};
    ts_write_npy(path, w, sw, 2);
    snprintf(path, sizeof path, "%s/g.act", dir);
    act_context *ctx = act_context_new();
    act_error err = {0};
    ts_write_text(path, "graph g {\n input x : f32[1, 3]\n param W : f32[3, 2] = npy(\"w.npy\")\n"
                        " y = dense(x, W)\n output y\n}\n");
    act_program *p = act_compile_file(ctx, path, NULL, ACT_ENGINE_INTERP, &err);
    assert_non_null(p);
    assert_memory_equal(act_get(p, "W", NULL, NULL, &err), w, sizeof w);
    act_program_free(p);
    int64_t swt[2] = {2, 3};
    snprintf(path, sizeof path, "%s/wt.npy", dir);
    ts_write_npy(path, w, swt, 2);
    snprintf(path, sizeof path, "%s/g.act", dir);
    ts_write_text(path, "graph g {\n input x : f32[1, 3]\n param W : f32[3, 2] = npy(\"wt.npy\")\n"
                        " y = dense(x, W)\n output y\n}\n");
    assert_null(act_compile_file(ctx, path, NULL, ACT_ENGINE_INTERP, &err));
    if (err.line != 3 || err.col != 24) /* at npy( */
        fail_msg("%d:%d: %s", err.line, err.col, err.message);
    assert_non_null(strstr(err.message, "wt.npy"));
    assert_non_null(strstr(err.message, "f32[3, 2]"));
    assert_non_null(strstr(err.message, "f32[2, 3]"));
    ts_write_text(path, "graph g {\n input x : f32[1, 3]\n param W : f32[3, 2] = npy(\"no.npy\")\n"
                        " y = dense(x, W)\n output y\n}\n");
    assert_null(act_compile_file(ctx, path, NULL, ACT_ENGINE_INTERP, &err));
    assert_true(err.code == ACT_ERR_IO && err.line == 3 && err.col == 24);
    assert_non_null(strstr(err.message, "no.npy"));
    act_context_free(ctx);
    ts_rmtree(dir);
    free(dir);
}

/* act_emit_object: an object and a header, then the program still runs. */
static void test_api_emit_object(void **state)
{
    (void)state;
    char *dir = ts_tmpdir(), obj[600], hdr[600];
    snprintf(obj, sizeof obj, "%s/m.o", dir);
    snprintf(hdr, sizeof hdr, "%s/m.h", dir);
    act_context *ctx = act_context_new();
    act_program *p = ts_compile(ctx, mlp);
    act_error err = {0};
    assert_int_equal(act_emit_object(p, obj, hdr, &err), 0);
    char *h = ts_read_text(hdr);
    assert_non_null(strstr(h, "void m_backward(const float *x, const float *t, const float *W, "
                              "const float *b, float *p, float *L, float *d_x, float *d_t, "
                              "float *d_W, float *d_b, int64_t N);"));
    free(h);
    set_xt(p, 4);
    assert_int_equal(act_backward(p, &err), 0);
    act_program_free(p);
    act_context_free(ctx);
    ts_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_api_compile_errors_have_code_and_position),
        cmocka_unit_test(test_api_forward_backward_and_get),
        cmocka_unit_test(test_api_loss_without_its_input_names_it),
        cmocka_unit_test(test_api_set_checks_names_and_shapes),
        cmocka_unit_test(test_api_failed_set_changes_nothing),
        cmocka_unit_test(test_api_seeded_params_are_reproducible),
        cmocka_unit_test(test_api_sgd_step_lowers_the_loss),
        cmocka_unit_test(test_api_sgd_step_computes_the_params_gradients),
        cmocka_unit_test(test_api_sgd_step_rounds_once),
        cmocka_unit_test(test_api_sgd_step_does_not_round_twice),
        cmocka_unit_test(test_api_npy_params),
        cmocka_unit_test(test_api_emit_object),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
