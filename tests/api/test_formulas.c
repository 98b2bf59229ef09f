/* test_formulas.c -- user-defined activations written as in a textbook
   (softclip, log(1 + exp(x)), exp(x) - 1, gelu's and tanh's textbook forms, ...) against the golden
   values of tests/fixtures/formulas.txt, on both engines: within 2 ULP of the exact value, and
   derivatives close to the exact ones, in the tails where the text evaluated as written overflows
   or rounds 1 + tiny to 1. */
#include "support.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_ROWS = 128, MAX_SETS = 48 };

typedef struct {
    char name[32], overrides[32];
    int n;
    float x[MAX_ROWS];
    double f[MAX_ROWS], df[MAX_ROWS];
} formula_set;

typedef struct {
    char defs[4096]; /* the `activation` lines */
    formula_set set[MAX_SETS];
    int nsets;
} formula_fixture;

/* "a=1" or "-" as an .act parameter list ("" for none) */
static const char *params_text(const char *p)
{
    return strcmp(p, "-") ? p : "";
}

static void read_fixture(formula_fixture *fx)
{
    FILE *in = fopen(ACT_FIXTURES "/formulas.txt", "r");
    assert_non_null(in);
    char line[512];
    memset(fx, 0, sizeof *fx);
    while (fgets(line, sizeof line, in)) {
        char name[32], params[32], text[400];
        float x;
        double f, df;
        if (sscanf(line, "formula %31s %31s = %399[^\n]", name, params, text) == 3) {
            size_t used = strlen(fx->defs);
            int n = snprintf(fx->defs + used, sizeof fx->defs - used, "activation %s(x%s%s) = %s\n",
                             name, *params_text(params) ? "; " : "", params_text(params), text);
            assert_true(n > 0 && (size_t)n < sizeof fx->defs - used);
            continue;
        }
        if (line[0] == '#' || sscanf(line, "%31s %31s %f %lf %lf", name, params, &x, &f, &df) != 5)
            continue;
        formula_set *s = fx->nsets ? &fx->set[fx->nsets - 1] : NULL;
        if (!s || strcmp(s->name, name) || strcmp(s->overrides, params)) {
            assert_true(fx->nsets < MAX_SETS);
            s = &fx->set[fx->nsets++];
            snprintf(s->name, sizeof s->name, "%s", name);
            snprintf(s->overrides, sizeof s->overrides, "%s", params);
        }
        assert_true(s->n < MAX_ROWS);
        s->x[s->n] = x;
        s->f[s->n] = f;
        s->df[s->n++] = df;
    }
    fclose(in);
    assert_int_equal(fx->nsets, 37);
}

/* y = NAME(x, overrides) and its vector-Jacobian product with dy = 1 on one
   engine; fails on the first value outside the bounds. */
static void check_set(act_context *ctx, const formula_fixture *fx, const formula_set *s,
                      act_engine engine, double *worst_ulps)
{
    char src[8192];
    int len = snprintf(
        src, sizeof src, "act 1\n%sgraph g {\n input x : f32[N]\n y = %s(x%s%s)\n output y\n}\n",
        fx->defs, s->name, strcmp(s->overrides, "-") ? ", " : "", params_text(s->overrides));
    assert_true(len > 0 && (size_t)len < sizeof src);
    act_program *p = ts_compile_for(ctx, src, engine);
    act_error err = {0};
    int64_t n = s->n;
    float ones[MAX_ROWS];
    for (int i = 0; i < s->n; i++)
        ones[i] = 1;
    assert_int_equal(act_set(p, "x", s->x, &n, 1, &err), 0);
    assert_int_equal(act_set_output_grad(p, "y", ones, &n, 1, &err), 0);
    assert_int_equal(act_backward(p, &err), 0);
    const float *y = act_get(p, "y", NULL, NULL, &err), *dx = act_get(p, "d_x", NULL, NULL, &err);
    assert_non_null(y);
    assert_non_null(dx);
    const char *engine_name = engine == ACT_ENGINE_JIT ? "jit" : "interp";
    for (int i = 0; i < s->n; i++) {
        double u = ts_ulps(y[i], (float)s->f[i]);
        if (u > 2 || !ts_close(dx[i], s->df[i], 1e-5, 1e-14))
            fail_msg("%s %s %s at x = %.9g: f %.9g (want %.9g, %.0f ULP), f' %.9g (want %.9g)",
                     engine_name, s->name, s->overrides, (double)s->x[i], (double)y[i], s->f[i], u,
                     (double)dx[i], s->df[i]);
        *worst_ulps = fmax(*worst_ulps, u);
    }
    act_program_free(p);
}

static void test_textbook_formulas_are_exact_in_their_tails(void **state)
{
    (void)state;
    static formula_fixture fx;
    read_fixture(&fx);
    act_context *ctx = act_context_new();
    assert_non_null(ctx);
    for (int e = 0; e < 2; e++) {
        act_engine engine = e ? ACT_ENGINE_JIT : ACT_ENGINE_INTERP;
        for (int i = 0; i < fx.nsets; i++) {
            double worst = 0;
            check_set(ctx, &fx, &fx.set[i], engine, &worst);
            print_message("%-6s %-14s %-4s %3d points, worst %.0f ULP\n", e ? "jit" : "interp",
                          fx.set[i].name, fx.set[i].overrides, fx.set[i].n, worst);
        }
    }
    act_context_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_textbook_formulas_are_exact_in_their_tails),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
