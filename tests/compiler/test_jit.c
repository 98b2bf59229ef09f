/* test_jit.c -- the JIT against the reference interpreter: every activation
   forward and backward (default and other parameters, lengths that hit every
   vector tail, special values), every op and loss, the examples, 200 random
   graphs from a seeded generator, the compile cache, and act_sgd_step
   through either side of a loss. */
#include "support.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng_state;

static uint64_t next(void)
{
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return rng_state >> 33;
}

static double uniform(double lo, double hi)
{
    return lo + (hi - lo) * (double)next() / 2147483648.0;
}

typedef struct {
    act_program *interp, *jit;
} pair;

static pair compile_both(act_context *ctx, const char *src)
{
    act_error err = {0};
    pair p = {act_compile_string(ctx, src, "t.act", NULL, ACT_ENGINE_INTERP, &err), NULL};
    if (!p.interp)
        fail_msg("interp: %d:%d %s\n%s", err.line, err.col, err.message, src);
    p.jit = act_compile_string(ctx, src, "t.act", NULL, ACT_ENGINE_JIT, &err);
    if (!p.jit)
        fail_msg("jit: %d:%d %s\n%s", err.line, err.col, err.message, src);
    return p;
}

static void set_both(pair *p, const char *name, const float *x, const int64_t *shape, int rank)
{
    act_error err = {0};
    if (act_set(p->interp, name, x, shape, rank, &err) ||
        act_set(p->jit, name, x, shape, rank, &err))
        fail_msg("set %s: %s", name, err.message);
}

static void free_both(pair *p)
{
    act_program_free(p->interp);
    act_program_free(p->jit);
}

/* Largest disagreement per name, in ULP against the interpreter's double
   rounded to float, or relative to the tensor's scale. */
static double compare(pair *p, const char *name, double max_ulp, double rtol, const char *what)
{
    act_error err = {0};
    int64_t sa[4], sb[4];
    int ra, rb;
    const float *a = act_get(p->jit, name, sa, &ra, &err);
    if (!a)
        fail_msg("%s: jit get %s: %s", what, name, err.message);
    const rt_tensor *ref = ts_value(p->interp, name);
    const float *b = act_get(p->interp, name, sb, &rb, &err);
    assert_non_null(b);
    assert_int_equal(ra, rb);
    assert_memory_equal(sa, sb, (size_t)ra * sizeof *sa);
    int64_t n = rt_count(sa, ra);
    double scale = 0, worst = 0;
    for (int64_t i = 0; i < n; i++)
        scale = fmax(scale, isfinite(b[i]) ? fabs(b[i]) : 0);
    for (int64_t i = 0; i < n; i++) {
        double want = ref && ref->data ? ref->data[i] : b[i];
        if (max_ulp > 0) {
            double u = ts_ulps(a[i], (float)want);
            worst = fmax(worst, u);
            if (u > max_ulp)
                fail_msg("%s: %s[%lld] jit %.9g, interp %.17g: %g ulp", what, name, (long long)i,
                         a[i], want, u);
        } else {
            double d = fabs(a[i] - want);
            if (!(d <= rtol * fabs(want) + rtol * scale) && !(isnan(a[i]) && isnan(want)) &&
                a[i] != want)
                fail_msg("%s: %s[%lld] jit %.9g, interp %.9g", what, name, (long long)i, a[i],
                         want);
            worst = fmax(worst, scale ? d / scale : d);
        }
    }
    return worst;
}

/* Every d_<input or param>; returns the largest difference. */
static double compare_grads(pair *p, double rtol, const char *what)
{
    double worst = 0;
    for (int i = 0; i < p->interp->g->nforward; i++) {
        ir_value *v = p->interp->g->values.items[i];
        char d[64];
        snprintf(d, sizeof d, "d_%s", v->name ? v->name : "");
        if (v->op == IR_INPUT || v->op == IR_PARAM)
            worst = fmax(worst, compare(p, d, 0, rtol, what));
    }
    return worst;
}

static void run_both(pair *p, bool backward)
{
    act_error err = {0};
    int (*run)(act_program *, act_error *) = backward ? act_backward : act_forward;
    if (run(p->interp, &err))
        fail_msg("interp: %s", err.message);
    if (run(p->jit, &err))
        fail_msg("jit: %s", err.message);
}

/* y = CALL on 3 x n inputs in [-12, 12] (a tenth of them in [-1.2, 1.2]),
   for every n: one compilation (M is a size name), every vector tail. */
static void check_activation(act_context *ctx, const char *call, double *worst_f, double *worst_b)
{
    char src[512];
    snprintf(src, sizeof src, "graph t {\n input x : f32[N, M]\n y = %s\n output y\n}\n", call);
    pair p = compile_both(ctx, src);
    float x[3 * 67], w[3 * 67];
    double f = 0, b = 0;
    /* maxout's k must divide n */
    int step = strstr(call, "k = 3") ? 3 : strstr(call, "maxout") ? 2 : 1;
    for (int n = step; n <= 67; n += step) {
        for (int i = 0; i < 3 * n; i++) {
            x[i] = (float)uniform(-12, 12) * (i % 3 == 0 ? 0.1f : 1.0f);
            w[i] = (float)uniform(-2, 2);
        }
        int64_t shape[2] = {3, n};
        set_both(&p, "x", x, shape, 2);
        act_error err = {0};
        assert_int_equal(act_forward(p.interp, &err), 0);
        const rt_tensor *y = ts_value(p.interp, "y"); /* maxout's is narrower */
        int64_t ys[2] = {y->shape[0], y->shape[1]};
        assert_int_equal(act_set_output_grad(p.interp, "y", w, ys, 2, &err), 0);
        assert_int_equal(act_set_output_grad(p.jit, "y", w, ys, 2, &err), 0);
        run_both(&p, true);
        /* forward: computed in double and rounded once by both engines */
        f = fmax(f, compare(&p, "y", 2, 0, call));
        /* backward reads the float y the JIT saved, the interpreter its double */
        b = fmax(b, compare(&p, "d_x", 0, 1e-5, call));
    }
    print_message("%-60s forward %g ulp, backward %.2g of scale\n", call, f, b);
    *worst_f = fmax(*worst_f, f);
    *worst_b = fmax(*worst_b, b);
    free_both(&p);
}

static void test_jit_matches_interp_on_every_activation(void **state)
{
    (void)state;
    act_context *ctx = act_context_new();
    rng_state = 7;
    double wf = 0, wb = 0;
    for (int i = 0; i < ir_registry_count(ctx->reg); i++) {
        char call[128];
        snprintf(call, sizeof call, "%s(x)", ir_registry_at(ctx->reg, i)->name);
        check_activation(ctx, call, &wf, &wb);
    }
    for (int i = 0; ts_other_calls[i]; i++)
        check_activation(ctx, ts_other_calls[i], &wf, &wb);
    print_message("activations: forward within %g ulp, backward within %.3g of scale\n", wf, wb);
    act_context_free(ctx);
}

/* NaN, +-inf, +-0, denormals and tails: the same result as the interpreter
   (NaN for NaN, the limits at +-inf, the sign of zero). */
static void test_jit_special_values(void **state)
{
    (void)state;
    static const float specials[] = {NAN,     INFINITY, -INFINITY, 0.0f, -0.0f,   1e-40f,
                                     -1e-40f, -100,     100,       -6,   3.4e38f, -3.4e38f,
                                     88.7f,   -103.9f,  20,        -20};
    enum { N = sizeof specials / sizeof *specials };
    act_context *ctx = act_context_new();
    for (int i = 0; i < ir_registry_count(ctx->reg); i++) {
        char src[256];
        snprintf(src, sizeof src, "graph t {\n input x : f32[%d]\n y = %s(x)\n output y\n}\n", N,
                 ir_registry_at(ctx->reg, i)->name);
        pair p = compile_both(ctx, src);
        int64_t n = N;
        set_both(&p, "x", specials, &n, 1);
        run_both(&p, false);
        act_error err = {0};
        const float *a = act_get(p.jit, "y", NULL, NULL, &err);
        const rt_tensor *ref = ts_value(p.interp, "y");
        for (int k = 0; k < N; k++) {
            float want = (float)ref->data[k];
            if (ts_ulps(a[k], want) > 2 || (!isnan(want) && signbit(a[k]) != signbit(want)))
                fail_msg("%s(%g): jit %.9g, interp %.9g", ir_registry_at(ctx->reg, i)->name,
                         specials[k], a[k], want);
        }
        free_both(&p);
    }
    act_context_free(ctx);
}

static void test_jit_matches_interp_on_ops_and_losses(void **state)
{
    (void)state;
    static const char *const graphs[] = {
        "input a : f32[N, 5]\n input b : f32[5]\n y = add(a, b)\n output y",
        "input a : f32[N, 5]\n input b : f32[N, 1]\n y = mul(a, b)\n output y",
        "input a : f32[N, 5]\n input b : f32[N, 5]\n y = mul(a, b)\n output y",
        "input a : f32[N, 5]\n param s : f32[5] = uniform(0, 1, seed = 2)\n y = prelu(a, s)\n "
        "output y",
        "input a : f32[N, 5]\n param s : f32[1] = fill(0.3)\n y = prelu(a, s)\n output y",
        "input a : f32[N, 5]\n param W : f32[5, 37] = glorot(seed = 1)\n y = dense(a, W)\n output "
        "y",
        "input a : f32[N, 5]\n param W : f32[5, 64] = glorot(seed = 1)\n param b : f32[64] = "
        "fill(0.1)\n"
        " y = tanh(relu(dense(a, W, b)))\n output y",
        "input a : f32[N, 5]\n input t : f32[N, 5]\n loss L = softmax_cross_entropy(a, t)",
        "input a : f32[N, 5]\n input t : f32[N, 5]\n loss L = sigmoid_cross_entropy(a, t)",
        "input a : f32[N, 5]\n input t : f32[N, 5]\n loss L = mse(a, t)",
    };
    act_context *ctx = act_context_new();
    rng_state = 11;
    for (size_t g = 0; g < sizeof graphs / sizeof *graphs; g++)
        for (int64_t rows = 1; rows <= 9; rows += 4) {
            char src[1024];
            snprintf(src, sizeof src, "graph t {\n %s\n}\n", graphs[g]);
            pair p = compile_both(ctx, src);
            float data[1024];
            for (int i = 0; i < 1024; i++)
                data[i] = (float)uniform(-3, 3);
            int64_t s5[2] = {rows, 5}, s1[2] = {rows, 1}, f5 = 5;
            set_both(&p, "a", data, s5, 2);
            if (strstr(graphs[g], "b : f32[5]"))
                set_both(&p, "b", data + 100, &f5, 1);
            if (strstr(graphs[g], "b : f32[N, 1]"))
                set_both(&p, "b", data + 100, s1, 2);
            if (strstr(graphs[g], "b : f32[N, 5]"))
                set_both(&p, "b", data + 100, s5, 2);
            if (strstr(graphs[g], "input t")) {
                float t[64 * 5];
                for (int i = 0; i < 64 * 5; i++)
                    t[i] = (float)uniform(0, 1);
                set_both(&p, "t", t, s5, 2);
            }
            act_error err = {0};
            if (!strstr(graphs[g], "loss")) {
                const rt_tensor *y = (act_forward(p.interp, &err), ts_value(p.interp, "y"));
                assert_int_equal(
                    act_set_output_grad(p.interp, "y", data + 7, y->shape, y->rank, &err), 0);
                assert_int_equal(act_set_output_grad(p.jit, "y", data + 7, y->shape, y->rank, &err),
                                 0);
            }
            run_both(&p, true);
            compare(&p, strstr(graphs[g], "loss") ? "L" : "y", 0, 1e-5, graphs[g]);
            compare_grads(&p, 1e-5, graphs[g]);
            free_both(&p);
        }
    act_context_free(ctx);
}

/* ---- random graphs --------------------------------------------------- */

static const char *const acts[] = {"relu(%s)",
                                   "tanh(%s)",
                                   "sigmoid(%s)",
                                   "gelu(%s)",
                                   "gelu(%s, approximate = \"tanh\")",
                                   "elu(%s, alpha = 0.7)",
                                   "selu(%s)",
                                   "celu(%s)",
                                   "swish(%s, beta = 1.3)",
                                   "silu(%s)",
                                   "mish(%s)",
                                   "softplus(%s)",
                                   "softsign(%s)",
                                   "squareplus(%s)",
                                   "leaky_relu(%s, alpha = 0.1)",
                                   "hard_swish(%s)",
                                   "hard_sigmoid(%s)",
                                   "hard_tanh(%s)",
                                   "relu6(%s)",
                                   "identity(%s)",
                                   "scale(%s, s = 0.5)",
                                   "rrelu(%s, training = 1, seed = 9)"};

/* A seeded random graph: 1 to 3 dense layers of random widths (1 to 67)
   with random activations, sometimes a broadcast add or mul, and a random
   head (an output, softmax, log_softmax, maxout, prelu, or a loss). */
static void random_graph(char *src, size_t cap, int *k0, bool *has_t, int *width)
{
    int dim = *k0 = 1 + (int)(next() % 67), layers = 1 + (int)(next() % 3);
    size_t n = (size_t)snprintf(src, cap, "graph r {\n    input x : f32[N, %d]\n", dim);
    const char *prev = "x";
    static char names[4][16];
    for (int i = 0; i < layers; i++) {
        int m = 1 + (int)(next() % 67);
        n += (size_t)snprintf(src + n, cap - n,
                              "    param W%d : f32[%d, %d] = glorot(seed = %d)\n"
                              "    param b%d : f32[%d] = uniform(-0.5, 0.5, seed = %d)\n",
                              i, dim, m, i + 1, i, m, i + 10);
        char inner[64], call[160];
        snprintf(inner, sizeof inner, "dense(%s, W%d, b%d)", prev, i, i);
        snprintf(call, sizeof call, acts[next() % (sizeof acts / sizeof *acts)], inner);
        snprintf(names[i], sizeof names[i], "h%d", i);
        n += (size_t)snprintf(src + n, cap - n, "    h%d = %s\n", i, call);
        if (next() % 3 == 0) {
            n += (size_t)snprintf(src + n, cap - n,
                                  "    param c%d : f32[%d] = normal(0, 1, seed = %d)\n"
                                  "    g%d = %s(h%d, c%d)\n",
                                  i, m, i + 20, i, next() % 2 ? "add" : "mul", i, i);
            snprintf(names[i], sizeof names[i], "g%d", i);
        }
        prev = names[i];
        dim = m;
    }
    *width = dim;
    *has_t = false;
    switch (next() % 8) {
    case 0:
        snprintf(src + n, cap - n, "    y = softmax(%s)\n    output y\n}\n", prev);
        break;
    case 1:
        snprintf(src + n, cap - n, "    y = log_softmax(%s)\n    output y\n}\n", prev);
        break;
    case 2:
        snprintf(src + n, cap - n,
                 "    param s : f32[%d] = fill(0.2)\n    y = prelu(%s, s)\n"
                 "    output y\n}\n",
                 dim, prev);
        break;
    case 3:
        if (dim % 2 == 0) {
            snprintf(src + n, cap - n, "    y = maxout(%s)\n    output y\n}\n", prev);
            break;
        }
        /* fall through */
    case 4:
    case 5:
    case 6: {
        static const char *const losses[] = {"mse", "softmax_cross_entropy",
                                             "sigmoid_cross_entropy"};
        *has_t = true;
        snprintf(src + n, cap - n,
                 "    input t : f32[N, %d]\n    y = identity(%s)\n    output y\n"
                 "    loss L = %s(%s, t)\n}\n",
                 dim, prev, losses[next() % 3], prev);
        break;
    }
    default:
        snprintf(src + n, cap - n, "    y = scale(%s, s = 1)\n    output y\n}\n", prev);
        break;
    }
}

static void test_jit_matches_interp_on_random_graphs(void **state)
{
    (void)state;
    act_context *ctx = act_context_new();
    rng_state = 2024;
    double worst = 0;
    for (int r = 0; r < 200; r++) {
        char src[4096];
        int k0, width;
        bool has_t;
        random_graph(src, sizeof src, &k0, &has_t, &width);
        pair p = compile_both(ctx, src);
        int64_t rows = 1 + (int64_t)(next() % 67);
        float *x = malloc((size_t)(rows * 67 * 2) * sizeof *x);
        for (int64_t i = 0; i < rows * 67 * 2; i++)
            x[i] = (float)uniform(-2, 2);
        int64_t sx[2] = {rows, k0}, st[2] = {rows, width};
        set_both(&p, "x", x, sx, 2);
        if (has_t) {
            for (int64_t i = 0; i < rows * width; i++)
                x[rows * 67 + i] = (float)uniform(0, 1);
            set_both(&p, "t", x + rows * 67, st, 2);
        } else {
            act_error err = {0};
            assert_int_equal(act_forward(p.interp, &err), 0);
            const rt_tensor *y = ts_value(p.interp, "y");
            assert_int_equal(act_set_output_grad(p.interp, "y", x, y->shape, y->rank, &err), 0);
            assert_int_equal(act_set_output_grad(p.jit, "y", x, y->shape, y->rank, &err), 0);
        }
        run_both(&p, true);
        worst = fmax(worst, compare(&p, "y", 0, 2e-4, src));
        if (has_t)
            worst = fmax(worst, compare(&p, "L", 0, 2e-4, src));
        worst = fmax(worst, compare_grads(&p, 2e-3, src));
        free(x);
        free_both(&p);
    }
    print_message("200 random graphs: largest difference %.3g of the tensor's scale\n", worst);
    act_context_free(ctx);
}

/* The same graph compiled twice in a context is compiled once. */
static void test_jit_compile_cache_hits(void **state)
{
    (void)state;
    act_context *ctx = act_context_new();
    char path[512];
    snprintf(path, sizeof path, "%s/examples/mlp.act", ACT_SOURCE_DIR);
    act_error err = {0};
    act_program *a = act_compile_file(ctx, path, NULL, ACT_ENGINE_JIT, &err);
    assert_non_null(a);
    bool hit = false;
    char *text = ir_print(a->mod);
    assert_non_null(text);
    const cc_entry *e = cc_compile(ctx->cache, text, a->g, CC_FORWARD, &hit, &err);
    free(text);
    assert_true(hit);
    act_program *b = act_compile_file(ctx, path, NULL, ACT_ENGINE_JIT, &err);
    assert_non_null(b);
    assert_ptr_equal(b->entry[CC_FORWARD], e);
    assert_ptr_equal(a->entry[CC_FORWARD], e);
    print_message("mlp forward: first compile %.1f ms\n", e->compile_ms);
    act_program_free(a);
    act_program_free(b);
    act_context_free(ctx);
}

/* A compile reuses the canonical text of a source it has seen (runtime/
   program.c keeps the last 32 by their bytes): sources of one length that
   differ in a byte, more of them than are kept, each get their own text and
   code, whether first seen, seen again, or seen again after being dropped. */
static void test_jit_cache_hits_follow_the_source(void **state)
{
    (void)state;
    act_context *ctx = act_context_new();
    const int order[] = {0, 1, 2, 39, 38, 20, 10, 9, 0, 1, 2}; /* after all 40: hits, then misses */
    for (int k = -40; k < (int)(sizeof order / sizeof *order); k++) {
        int i = k < 0 ? k + 40 : order[k];
        char src[160];
        snprintf(src, sizeof src,
                 "graph t {\n    input x : f32[4]\n    y = scale(x, s = 0.%02d)\n    output y\n}\n",
                 i + 10);
        act_error err = {0};
        act_program *p = act_compile_string(ctx, src, "t.act", NULL, ACT_ENGINE_JIT, &err);
        assert_non_null(p);
        char *text = ir_print(p->mod);
        assert_non_null(text);
        assert_non_null(p->mod_text);
        assert_string_equal(p->mod_text, text);
        free(text);
        const float x[4] = {1, -2, 0.5f, 8};
        const int64_t shape[1] = {4};
        assert_int_equal(act_set(p, "x", x, shape, 1, &err), 0);
        assert_int_equal(act_forward(p, &err), 0);
        const float *y = act_get(p, "y", NULL, NULL, &err);
        assert_non_null(y);
        for (int j = 0; j < 4; j++)
            assert_float_equal(y[j], x[j] * (i + 10) / 100.0, 1e-6);
        act_program_free(p);
    }
    act_context_free(ctx);
}

/* C-API.md: a context may be shared by threads. Two threads compile four
   sources in one context, each many times (new to the compile cache and
   the kept texts, then found in them, by one thread or the other) and check
   each program's output; run it under ThreadSanitizer too. */
typedef struct {
    act_context *ctx;
    int first, failures;
} compiler_thread;

static void *compile_in_turn(void *arg)
{
    compiler_thread *t = arg;
    for (int i = 0; i < 24; i++) {
        int k = (t->first + i) % 4;
        char src[160];
        snprintf(src, sizeof src,
                 "graph t {\n    input x : f32[4]\n    y = scale(x, s = 0.%02d)\n    output y\n}\n",
                 k + 20);
        act_error err = {0};
        act_program *p = act_compile_string(t->ctx, src, "t.act", NULL, ACT_ENGINE_JIT, &err);
        const float x[4] = {1, -2, 0.5f, 8};
        const int64_t shape[1] = {4};
        const float *y = NULL;
        if (p && !act_set(p, "x", x, shape, 1, &err) && !act_forward(p, &err))
            y = act_get(p, "y", NULL, NULL, &err);
        for (int j = 0; j < 4; j++)
            t->failures += !y || fabs(y[j] - x[j] * (k + 20) / 100.0) > 1e-6;
        act_program_free(p);
    }
    return NULL;
}

static void test_jit_compiles_from_two_threads_in_one_context(void **state)
{
    (void)state;
    act_context *ctx = act_context_new();
    compiler_thread t[2] = {{ctx, 0, 0}, {ctx, 2, 0}};
    pthread_t other;
    assert_int_equal(pthread_create(&other, NULL, compile_in_turn, &t[1]), 0);
    compile_in_turn(&t[0]);
    assert_int_equal(pthread_join(other, NULL), 0);
    assert_int_equal(t[0].failures, 0);
    assert_int_equal(t[1].failures, 0);
    act_context_free(ctx);
}

/* act_sgd_step needs a loss's gradient only along the side a param feeds:
   the logits (z = dense(x, W)) or the target (t = dense(x, W)). One kernel
   computes the loss and the gradients an entry needs (compiler/lower.c),
   the library's for this machine (compiler/gemm_library.c: with the ISA
   capped, its AVX2 and SSE2 variants too); the loss, W's gradient and its
   step against the interpreter, for rows of 5 and 21 (more than a vector)
   and 1 to 37 rows. */
static void sgd_step_through_either_side(const char *isa)
{
    static const char *const losses[] = {"softmax_cross_entropy", "sigmoid_cross_entropy", "mse"};
    if (isa)
        setenv("ACT_MAX_ISA", isa, 1);
    act_context *ctx = act_context_new();
    rng_state = 17;
    for (size_t k = 0; k < sizeof losses / sizeof *losses; k++)
        for (int side = 0; side < 2; side++)
            for (int64_t cols = 5; cols <= 21; cols += 16) {
                char src[512];
                snprintf(src, sizeof src,
                         "graph t {\n input x : f32[N, 3]\n input u : f32[N, %lld]\n"
                         " param W : f32[3, %lld] = glorot(seed = 5)\n v = dense(x, W)\n"
                         " loss L = %s(%s)\n}\n",
                         (long long)cols, (long long)cols, losses[k], side ? "u, v" : "v, u");
                pair p = compile_both(ctx, src);
                for (int64_t rows = 1; rows <= 37; rows += 12) {
                    float x[37 * 3], u[37 * 21];
                    for (int i = 0; i < rows * 3; i++)
                        x[i] = (float)uniform(-3, 3);
                    for (int i = 0; i < rows * cols; i++)
                        u[i] = (float)uniform(-2, 2);
                    int64_t sx[2] = {rows, 3}, su[2] = {rows, cols};
                    set_both(&p, "x", x, sx, 2);
                    set_both(&p, "u", u, su, 2);
                    run_both(&p, false); /* the loss alone */
                    compare(&p, "L", 0, 1e-5, src);
                    act_error err = {0};
                    assert_int_equal(act_sgd_step(p.interp, 0.5f, &err), 0);
                    assert_int_equal(act_sgd_step(p.jit, 0.5f, &err), 0);
                    compare(&p, "d_W", 0, 1e-5, src);
                    compare(&p, "W", 0, 1e-5, src);
                }
                free_both(&p);
            }
    act_context_free(ctx);
    unsetenv("ACT_MAX_ISA");
}

static void test_jit_sgd_step_through_either_side_of_a_loss(void **state)
{
    (void)state;
    sgd_step_through_either_side(NULL);
    sgd_step_through_either_side("avx2");
    sgd_step_through_either_side("sse");
}

/* softmax_cross_entropy's gradients of 16 MB and more: the logits' are
   stored past the caches, each row's first lanes masked up to an aligned
   address, the target's plainly at the same indices (compiler/
   lower_softmax.c); rows of 1025 floats, so that the rows start at every
   offset from a 64-byte line, and 16 MB of them and a few more. */
static void test_jit_loss_gradients_past_the_caches(void **state)
{
    (void)state;
    enum { ROWS = 4093, COLS = 1025 };
    float *z = malloc((size_t)ROWS * COLS * sizeof *z),
          *t = malloc((size_t)ROWS * COLS * sizeof *t);
    assert_non_null(z);
    assert_non_null(t);
    rng_state = 23;
    for (long i = 0; i < (long)ROWS * COLS; i++) {
        z[i] = (float)uniform(-8, 8);
        t[i] = (float)uniform(0, 1);
    }
    act_context *ctx = act_context_new();
    pair p = compile_both(ctx, "graph t {\n input z : f32[N, 1025]\n input t : f32[N, 1025]\n"
                               " loss L = softmax_cross_entropy(z, t)\n}\n");
    act_set_threads(p.jit, 1); /* one run over all rows: halves would stay in the caches */
    int64_t shape[2] = {ROWS, COLS};
    set_both(&p, "z", z, shape, 2);
    set_both(&p, "t", t, shape, 2);
    run_both(&p, true);
    compare(&p, "L", 0, 1e-5, "loss past the caches");
    compare(&p, "d_z", 0, 1e-5, "loss past the caches");
    compare(&p, "d_t", 0, 1e-5, "loss past the caches");
    free_both(&p);
    act_context_free(ctx);
    free(z);
    free(t);
}

/* An activation continues the kernel of a pointwise add or mul, or of a
   gradient (compiler/lower.c): mish(2 (x + b)) is one pass, forward and
   with its gradient, and the JIT's code takes no intermediate buffer. The
   sum of two gradients and a layer's activation gradient continue the
   same way. Values and gradients against the interpreter, for rows of 37
   (every tail) and 3, 1 to 9 rows, with NaN, inf and large inputs. */
static void test_jit_fuses_chains_after_binary_ops(void **state)
{
    (void)state;
    static const struct {
        const char *body;
        bool one_pass; /* no intermediate buffer in either entry */
    } graphs[] = {
        {" y = mish(scale(add(x, b), s = 2))\n output y", true},
        {" y = tanh(mul(x, b))\n output y", true},
        {" y = softplus(scale(sigmoid(add(x, b)), s = 3))\n output y", true},
        {" s = scale(x, s = 0.75)\n y = add(tanh(s), mul(sigmoid(s), b))\n output y", false},
        {" param W : f32[M, M] = glorot(seed = 1)\n param c : f32[M] = fill(0.1)\n"
         " h = relu(scale(dense(x, W, c), s = 0.5))\n y = dense(mul(h, b), W)\n output y",
         false},
    };
    static const int64_t widths[] = {37, 3};
    rng_state = 17;
    for (size_t g = 0; g < sizeof graphs / sizeof *graphs; g++)
        for (size_t w = 0; w < sizeof widths / sizeof *widths; w++) {
            char src[512], *dir = ts_tmpdir();
            snprintf(src, sizeof src,
                     "graph t {\n input x : f32[N, M]\n input b : f32[N, M]\n%s\n}\n",
                     graphs[g].body);
            setenv("ACT_CACHE_DIR", dir, 1);
            act_context *ctx = act_context_new();
            pair p = compile_both(ctx, src);
            for (int64_t rows = 1; rows <= 9; rows += 4) {
                int64_t shape[2] = {rows, widths[w]}, n = rows * widths[w];
                float x[9 * 37], b[9 * 37], dy[9 * 37];
                for (int64_t i = 0; i < n; i++) {
                    x[i] = (float)uniform(-6, 6);
                    b[i] = (float)uniform(-2, 2);
                    dy[i] = (float)uniform(-1, 1);
                }
                if (n > 4 && !strstr(src, "dense")) { /* specials, where no product spreads them */
                    x[1] = NAN;
                    x[2] = INFINITY;
                    x[3] = -INFINITY;
                    x[4] = 1e30f;
                }
                set_both(&p, "x", x, shape, 2);
                set_both(&p, "b", b, shape, 2);
                act_error err = {0};
                assert_int_equal(act_set_output_grad(p.interp, "y", dy, shape, 2, &err), 0);
                assert_int_equal(act_set_output_grad(p.jit, "y", dy, shape, 2, &err), 0);
                run_both(&p, false);
                compare(&p, "y", 0, 1e-5, src);
                run_both(&p, true);
                compare(&p, "y", 0, 1e-5, src);
                compare_grads(&p, 1e-5, src);
            }
            unsetenv("ACT_CACHE_DIR");
            free_both(&p);
            act_context_free(ctx);
            char cmd[1200], *out = NULL;
            snprintf(cmd, sizeof cmd, "ls '%s' | wc -l; grep -la act_jit_take '%s'/* | wc -l", dir,
                     dir);
            assert_int_equal(ts_run(cmd, &out, NULL), 0);
            /* forward and vjp, and how many take an intermediate buffer */
            const char *want = graphs[g].one_pass ? "2\n0\n" : "2\n2\n";
            if (strcmp(out, want))
                fail_msg("%s: %s, expected %s", src, out, want);
            free(out);
            ts_rmtree(dir);
            free(dir);
        }
}

static void test_jit_runs_the_examples(void **state)
{
    (void)state;
    act_context *ctx = act_context_new();
    static const char *const files[][5] = {{"xor.act", "x", "xor_x.npy", "t", "xor_t.npy"},
                                           {"mlp.act", "x", "spiral_x.npy", "t", "spiral_t.npy"},
                                           {"custom.act", "x", "custom_x.npy", NULL, NULL}};
    for (size_t f = 0; f < sizeof files / sizeof *files; f++) {
        char path[512];
        snprintf(path, sizeof path, "%s/examples/%s", ACT_SOURCE_DIR, files[f][0]);
        char *src = ts_read_text(path);
        pair p = compile_both(ctx, src);
        free(src);
        for (int k = 1; k < 5 && files[f][k]; k += 2) {
            snprintf(path, sizeof path, "%s/examples/data/%s", ACT_SOURCE_DIR, files[f][k + 1]);
            float *data;
            int64_t shape[4];
            int rank;
            act_error err = {0};
            assert_int_equal(rt_npy_read(path, &data, shape, &rank, &err), 0);
            set_both(&p, files[f][k], data, shape, rank);
            if (!files[f][3]) {
                assert_int_equal(act_set_output_grad(p.interp, "y", data, shape, rank, &err), 0);
                assert_int_equal(act_set_output_grad(p.jit, "y", data, shape, rank, &err), 0);
            }
            free(data);
        }
        run_both(&p, true);
        compare(&p, files[f][0][0] == 'm' ? "p" : "y", 0, 1e-5, files[f][0]);
        compare_grads(&p, 1e-4, files[f][0]);
        free_both(&p);
    }
    act_context_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jit_matches_interp_on_every_activation),
        cmocka_unit_test(test_jit_special_values),
        cmocka_unit_test(test_jit_matches_interp_on_ops_and_losses),
        cmocka_unit_test(test_jit_matches_interp_on_random_graphs),
        cmocka_unit_test(test_jit_compile_cache_hits),
        cmocka_unit_test(test_jit_cache_hits_follow_the_source),
        cmocka_unit_test(test_jit_compiles_from_two_threads_in_one_context),
        cmocka_unit_test(test_jit_sgd_step_through_either_side_of_a_loss),
        cmocka_unit_test(test_jit_loss_gradients_past_the_caches),
        cmocka_unit_test(test_jit_runs_the_examples),
        cmocka_unit_test(test_jit_fuses_chains_after_binary_ops),
    };
    if (getenv("ACT_TEST_FILTER")) /* e.g. "*random*" to run one test */
        cmocka_set_test_filter(getenv("ACT_TEST_FILTER"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
