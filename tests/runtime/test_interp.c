/* test_interp.c -- the interpreter's non-elementwise ops, forward and
   backward, against the independent golden values of tests/fixtures/ops.txt
   (mpmath, see gen_fixtures.py). */
#include "support.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static double max_rel;

/* The .act text of one case: an input per tensor, the op, an output (or
   the loss). */
static void case_source(const ts_op_case *c, char *src, size_t cap)
{
    static const struct {
        const char *fixture, *op;
    } names[] = {{"add_broadcast", "add"}, {"mul_broadcast", "mul"}};
    const char *op = c->name;
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (!strcmp(op, names[i].fixture))
            op = names[i].op;
    bool loss = !c->has_w;
    size_t n = (size_t)snprintf(src, cap, "graph t {\n");
    char call[512];
    size_t m = (size_t)snprintf(call, sizeof call, "%s(", op);
    for (int k = 0; k < c->nin; k++) {
        n += (size_t)snprintf(src + n, cap - n, "    input %s : f32[", c->in_name[k]);
        for (int d = 0; d < c->in_rank[k]; d++)
            n += (size_t)snprintf(src + n, cap - n, "%s%lld", d ? ", " : "",
                                  (long long)c->in_shape[k][d]);
        n += (size_t)snprintf(src + n, cap - n, "]\n");
        m += (size_t)snprintf(call + m, sizeof call - m, "%s%s", k ? ", " : "", c->in_name[k]);
    }
    char args[128];
    snprintf(args, sizeof args, "%s", c->args);
    for (char *a = strtok(args, ","); a; a = strtok(NULL, ",")) {
        char *eq = strchr(a, '=');
        *eq = 0;
        m += (size_t)snprintf(call + m, sizeof call - m, ", %s = %s", a, eq + 1);
    }
    snprintf(call + m, sizeof call - m, ")");
    if (loss)
        snprintf(src + n, cap - n, "    loss L = %s\n}\n", call);
    else
        snprintf(src + n, cap - n, "    y = %s\n    output y\n}\n", call);
}

/* Relative 1e-12, with an absolute floor of 1e-15 of the tensor's scale (the
   largest of its values and of the incoming gradient): a softmax gradient
   entry beside an output that rounds to 1 is exact only to that floor. */
static void expect_close(const char *what, const char *name, const double *got, const double *want,
                         int64_t n, double scale)
{
    for (int64_t i = 0; i < n; i++)
        scale = fmax(scale, fabs(want[i]));
    for (int64_t i = 0; i < n; i++) {
        if (!ts_close(got[i], want[i], 1e-12, 1e-15 * scale))
            fail_msg("%s %s[%lld]: got %.17g, want %.17g", what, name, (long long)i, got[i],
                     want[i]);
        if (want[i] != 0 && fabs(want[i]) > 1e-3 * scale)
            max_rel = fmax(max_rel, fabs(got[i] - want[i]) / fabs(want[i]));
    }
}

static void run_case(act_context *ctx, const ts_op_case *c)
{
    char src[2048];
    case_source(c, src, sizeof src);
    act_program *p = ts_compile(ctx, src);
    act_error err = {0};
    for (int k = 0; k < c->nin; k++) {
        float f[64];
        for (int64_t i = 0; i < c->in_n[k]; i++)
            f[i] = (float)c->in[k][i];
        assert_int_equal(act_set(p, c->in_name[k], f, c->in_shape[k], c->in_rank[k], &err), 0);
    }
    if (c->has_w) {
        float w[64];
        for (int64_t i = 0; i < c->out_n; i++)
            w[i] = (float)c->w[i];
        assert_int_equal(act_set_output_grad(p, "y", w, c->w_shape, c->w_rank, &err), 0);
    }
    if (act_backward(p, &err))
        fail_msg("%s: %s", c->name, err.message);
    const rt_tensor *out = ts_value(p, c->has_w ? "y" : "L");
    assert_int_equal(out->n, c->out_n);
    expect_close(c->name, "out", out->data, c->out, c->out_n, 0);
    double wmax = 0;
    for (int64_t i = 0; c->has_w && i < c->out_n; i++)
        wmax = fmax(wmax, fabs(c->w[i]));
    for (int k = 0; k < c->ngrad; k++) {
        char dname[32];
        snprintf(dname, sizeof dname, "d_%s", c->grad_name[k]);
        const rt_tensor *g = ts_value(p, dname);
        assert_non_null(g);
        assert_int_equal(g->n, c->grad_n[k]);
        expect_close(c->name, dname, g->data, c->grad[k], c->grad_n[k], wmax);
    }
    act_program_free(p);
}

static void test_interp_ops_match_golden_values(void **state)
{
    (void)state;
    ts_op_case *cases;
    int n = ts_op_cases(ACT_FIXTURES "/ops.txt", &cases);
    assert_true(n >= 13);
    act_context *ctx = act_context_new();
    for (int i = 0; i < n; i++)
        run_case(ctx, &cases[i]);
    print_message("ops: %d cases, largest relative error %.3g\n", n, max_rel);
    act_context_free(ctx);
    ts_op_cases_free(cases, n);
}

/* Softmax is shifted by the row max: no finite row overflows, and a row with
   +inf, or only -inf, is NaN (as PyTorch). */
static void test_interp_softmax_edges(void **state)
{
    (void)state;
    act_context *ctx = act_context_new();
    act_program *p = ts_compile(ctx, "graph t {\n input x : f32[3, 2]\n y = softmax(x)\n"
                                     " output y\n}\n");
    float x[6] = {1e30f, 3e38f, INFINITY, 0, -INFINITY, -INFINITY};
    int64_t shape[2] = {3, 2};
    act_error err = {0};
    assert_int_equal(act_set(p, "x", x, shape, 2, &err), 0);
    assert_int_equal(act_forward(p, &err), 0);
    const float *y = act_get(p, "y", NULL, NULL, &err);
    assert_true(y[0] == 0.0f);
    assert_true(y[1] == 1.0f);
    for (int i = 2; i < 6; i++)
        assert_true(isnan(y[i]));
    act_program_free(p);
    act_context_free(ctx);
}

/* log_softmax of a max far above the rest: -log1p(e^-40), not -log(1 + e^-40)
   of a sum rounded to 1, which is 0. The loss takes the same log. */
static void test_interp_log_softmax_of_a_lone_max(void **state)
{
    (void)state;
    act_context *ctx = act_context_new();
    act_program *p = ts_compile(ctx, "graph t {\n input x : f32[1, 2]\n input t : f32[1, 2]\n"
                                     " y = log_softmax(x)\n output y\n"
                                     " loss L = softmax_cross_entropy(x, t)\n}\n");
    float x[2] = {0, -40}, t[2] = {1, 0};
    int64_t shape[2] = {1, 2};
    act_error err = {0};
    assert_int_equal(act_set(p, "x", x, shape, 2, &err), 0);
    assert_int_equal(act_set(p, "t", t, shape, 2, &err), 0);
    assert_int_equal(act_forward(p, &err), 0);
    double want = -4.248354255291589e-18; /* -log1p(exp(-40)) */
    assert_true(ts_close(ts_value(p, "y")->data[0], want, 1e-15, 0));
    assert_true(ts_close(ts_value(p, "L")->data[0], -want, 1e-15, 0));
    act_program_free(p);
    act_context_free(ctx);
}

/* rrelu with training = 1 draws its slope per element from the documented
   counter-based generator, in [lower, upper], the same on every run. */
static void test_interp_rrelu_training_slopes(void **state)
{
    (void)state;
    act_context *ctx = act_context_new();
    act_program *p = ts_compile(ctx, "graph t {\n input x : f32[64]\n"
                                     " y = rrelu(x, lower = 0.1, upper = 0.3, training = 1, "
                                     "seed = 5)\n output y\n}\n");
    float x[64];
    for (int i = 0; i < 64; i++)
        x[i] = i % 2 ? 1.0f + (float)i : -1.0f;
    int64_t n = 64;
    act_error err = {0};
    assert_int_equal(act_set(p, "x", x, &n, 1, &err), 0);
    assert_int_equal(act_forward(p, &err), 0);
    const rt_tensor *y = ts_value(p, "y");
    double lo = 1, hi = 0;
    for (int i = 0; i < 64; i++) {
        if (i % 2) {
            assert_true(y->data[i] == x[i]);
            continue;
        }
        double want = 0.1 + 0.2 * rt_rand_uniform(5, (uint64_t)i);
        assert_true(ts_close(-y->data[i], want, 1e-15, 0));
        lo = fmin(lo, -y->data[i]);
        hi = fmax(hi, -y->data[i]);
    }
    assert_true(lo >= 0.1 && hi <= 0.3 && hi - lo > 0.1);
    act_program_free(p);
    act_context_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_interp_ops_match_golden_values),
        cmocka_unit_test(test_interp_softmax_edges),
        cmocka_unit_test(test_interp_log_softmax_of_a_lone_max),
        cmocka_unit_test(test_interp_rrelu_training_slopes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
