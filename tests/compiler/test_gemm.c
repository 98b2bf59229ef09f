/* test_gemm.c -- the module's blocked GEMM (compiler/gemm.c) at the edges of
   its blocking: M, N and K around the tile (4 rows, 4 vectors; 8 rows of
   one or two vectors when N is that narrow), the K block (512), the N block
   (256), the row block (64) and the packing thresholds (512 rows, or 128
   when B's rows are 4 KB apart), and 1 in each; forward through dense +
   bias + an activation, backward through both products (dY Wᵀ, Xᵀ dY, B
   packed across the transpose). Inputs are multiples of 1/8 in [-1, 1], so
   every product and sum is exact in float: the JIT must equal the
   interpreter exactly, whatever its blocking, unless an element is lost,
   doubled or misplaced. */
#include "support.h"

#include "compiler/cc.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int64_t m, k, n;
} shape;

/* Across every edge: 1, tiles (4 x 4 vectors in 16 lanes, 6 x 2 in 8 and
   4), K blocks (512), N blocks (256), row blocks (64), the packing
   thresholds (512 rows; 128 at N = 1024), the one-row kernel's 128
   columns; the
   narrow tiles (one vector, or two) with rows left over, packed and not,
   across K blocks, N (or K, for dY Wᵀ) of 7, 10, 16, 17, 20, 30 and 32;
   one row of A streaming B (N whole vectors) with K a multiple of its 4
   rows a pass, past one, and below 4. */
static const shape shapes[] = {
    {1, 1, 1},      {1, 512, 512},  {1, 300, 700},  {3, 1, 17},     {4, 255, 63},   {5, 256, 64},
    {63, 257, 65},  {64, 17, 1},    {65, 513, 130}, {67, 300, 513}, {130, 1, 1030}, {2, 2, 129},
    {129, 300, 70}, {139, 600, 10}, {13, 9, 16},    {20, 10, 7},    {520, 40, 70},  {130, 20, 1024},
    {45, 530, 32},  {520, 30, 20},  {6, 40, 48},    {12, 33, 47},   {66, 70, 49},
    {1, 301, 64},   {1, 3, 16},
};

/* n multiples of 1/8 in [-1, 1] from seed. */
static float *eighths(int64_t n, unsigned seed)
{
    float *v = malloc((size_t)(n > 0 ? n : 1) * sizeof *v);
    assert_non_null(v);
    for (int64_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        v[i] = (float)((int)(seed >> 16) % 17 - 8) / 8.0f;
    }
    return v;
}

static void set(act_program *p, const char *name, const float *data, int64_t rows, int64_t cols)
{
    act_error err = {0};
    int64_t shape2[2] = {rows, cols};
    int rc =
        cols < 0 ? act_set(p, name, data, &rows, 1, &err) : act_set(p, name, data, shape2, 2, &err);
    if (rc)
        fail_msg("%s: %s", name, err.message);
}

/* Value name of both programs, element by element, exactly. */
static void same(act_program *jit, act_program *ref, const char *name, const shape *s)
{
    act_error err = {0};
    int64_t sj[4], sr[4];
    int rj, rr;
    const float *a = act_get(jit, name, sj, &rj, &err), *b = act_get(ref, name, sr, &rr, &err);
    if (!a || !b)
        fail_msg("%s: %s", name, err.message);
    assert_int_equal(rj, rr);
    int64_t n = 1;
    for (int d = 0; d < rj; d++) {
        assert_int_equal(sj[d], sr[d]);
        n *= sj[d];
    }
    for (int64_t i = 0; i < n; i++)
        if (a[i] != b[i])
            fail_msg("%s of %lld x %lld x %lld: [%lld] = %.9g, expected %.9g", name,
                     (long long)s->m, (long long)s->k, (long long)s->n, (long long)i, a[i], b[i]);
}

/* Programs for both engines of a graph with input x [M, K], params W
   [K, N] and b [N], set, and then body; the caller frees both. */
static void build(act_context *ctx, const char *body, const shape *s, act_program *p[2])
{
    static const act_engine engines[2] = {ACT_ENGINE_JIT, ACT_ENGINE_INTERP};
    char src[640];
    snprintf(src, sizeof src,
             "graph g {\n input x : f32[M, %lld]\n param W : f32[%lld, %lld]\n"
             " param b : f32[%lld]\n%s}\n",
             (long long)s->k, (long long)s->k, (long long)s->n, (long long)s->n, body);
    float *x = eighths(s->m * s->k, 1), *w = eighths(s->k * s->n, 2), *b = eighths(s->n, 3);
    for (int e = 0; e < 2; e++) {
        p[e] = ts_compile_for(ctx, src, engines[e]);
        act_set_threads(p[e], 1);
        set(p[e], "x", x, s->m, s->k);
        set(p[e], "W", w, s->k, s->n);
        set(p[e], "b", b, s->n, -1);
    }
    free(x);
    free(w);
    free(b);
}

/* Both programs seeded with the same dL/d(out) [M, cols]: d_x, d_W, d_b
   equal. */
static void backward_same(act_program *p[2], const shape *s, const char *out, int64_t cols,
                          unsigned seed)
{
    float *dy = eighths(s->m * cols, seed);
    int64_t ys[2] = {s->m, cols};
    act_error err = {0};
    for (int e = 0; e < 2; e++) {
        assert_int_equal(act_set_output_grad(p[e], out, dy, ys, 2, &err), 0);
        assert_int_equal(act_backward(p[e], &err), 0);
    }
    same(p[0], p[1], "d_x", s);
    same(p[0], p[1], "d_W", s);
    same(p[0], p[1], "d_b", s);
    free(dy);
}

/* relu(dense(x, W, b)): the bias initialises the sums, the activation is
   the epilogue, and with a second output the pre-activation is stored
   too; and a product without a bias. Every step-th shape. */
static void forward_across_block_edges(size_t step)
{
    act_context *ctx = act_context_new();
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i += step) {
        act_program *p[2];
        build(ctx,
              " z = dense(x, W, b)\n y = relu(z)\n u = scale(relu(z), s = 0.5)\n"
              " v = dense(x, W)\n output y\n output u\n output z\n output v\n",
              &shapes[i], p);
        act_error err = {0};
        for (int e = 0; e < 2; e++)
            assert_int_equal(act_forward(p[e], &err), 0);
        same(p[0], p[1], "y", &shapes[i]);
        same(p[0], p[1], "u", &shapes[i]);
        same(p[0], p[1], "z", &shapes[i]);
        same(p[0], p[1], "v", &shapes[i]);
        act_program_free(p[0]);
        act_program_free(p[1]);
    }
    act_context_free(ctx);
}

static void test_dense_forward_across_block_edges(void **state)
{
    (void)state;
    forward_across_block_edges(1);
}

/* y = dense(x, W, b) seeded with dy: d_x = dy Wᵀ (B transposed, packed
   across it), d_W = xᵀ dy (A read down its columns), d_b. Every step-th
   shape. */
static void backward_across_block_edges(size_t step)
{
    act_context *ctx = act_context_new();
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i += step) {
        act_program *p[2];
        build(ctx, " y = dense(x, W, b)\n output y\n", &shapes[i], p);
        backward_same(p, &shapes[i], "y", shapes[i].n, 4);
        act_program_free(p[0]);
        act_program_free(p[1]);
    }
    act_context_free(ctx);
}

static void test_dense_backward_across_block_edges(void **state)
{
    (void)state;
    backward_across_block_edges(1);
}

/* The JIT calls the library's GEMM for its target (compiler/
   gemm_library.c): with the ISA capped, the AVX2 and SSE2 variants, on
   every other shape (the full set runs uncapped, above). */
static void test_each_isa_level_across_block_edges(void **state)
{
    (void)state;
    static const char *const caps[] = {"avx2", "sse"};
    for (size_t i = 0; i < sizeof caps / sizeof *caps; i++) {
        setenv("ACT_MAX_ISA", caps[i], 1);
        forward_across_block_edges(2);
        backward_across_block_edges(3);
    }
    unsetenv("ACT_MAX_ISA");
}

/* Each variant is chosen for a target with its features, and none for a
   target missing one of them (its vector width and FMA then differ, or the
   code could use an instruction the CPU lacks). */
static void test_library_gemm_for_each_target(void **state)
{
    (void)state;
#if defined(__x86_64__)
    assert_non_null(cc_gemm_variants[0].name);
#endif
    for (const cc_gemm_variant *v = cc_gemm_variants; v->name; v++) {
        assert_non_null(v->fn);
        assert_non_null(v->kernels);
        assert_non_null(v->kernels_fn);
        assert_non_null(v->epilogues);
        assert_non_null(v->epilogues_fn);
        act_error err = {0};
        cc_target t;
        assert_int_equal(cc_target_init(&t, "x86-64", v->features, &err), 0);
        assert_ptr_equal(cc_gemm_library(&t), v);
        cc_target_fini(&t);
        /* each feature turned off in turn */
        for (size_t at = 0; v->features[at]; at++) {
            if (v->features[at] != '+')
                continue;
            char less[512];
            snprintf(less, sizeof less, "%s", v->features);
            less[at] = '-';
            assert_int_equal(cc_target_init(&t, "x86-64", less, &err), 0);
            const cc_gemm_variant *got = cc_gemm_library(&t);
            if (got == v)
                fail_msg("%s chosen without %s", v->name, less + at);
            cc_target_fini(&t);
        }
    }
}

/* The host's JIT code calls the library's GEMM by name and has none of its
   own: the object code it keeps on disk names the variant and no
   act.gemm. */
/* The variant of the host, or NULL: its modules build their own kernels. */
static const cc_gemm_variant *host_variant(void)
{
    act_error err = {0};
    cc_target host;
    assert_int_equal(cc_target_init(&host, NULL, NULL, &err), 0);
    const cc_gemm_variant *v = cc_gemm_library(&host);
    cc_target_fini(&host);
    return v;
}

/* cmd's output (run by the shell) is want. */
static void assert_output(const char *cmd, const char *want)
{
    char *out = NULL;
    assert_int_equal(ts_run(cmd, &out, NULL), 0);
    assert_string_equal(out, want);
    free(out);
}

static void test_jit_code_calls_the_library_gemm(void **state)
{
    (void)state;
    act_error err = {0};
    const cc_gemm_variant *v = host_variant();
    if (!v)
        skip();
    char *dir = ts_tmpdir();
    setenv("ACT_CACHE_DIR", dir, 1);
    act_context *ctx = act_context_new();
    act_program *p[2];
    build(ctx, " y = relu(dense(x, W, b))\n output y\n", &shapes[4], p);
    assert_int_equal(act_forward(p[0], &err), 0);
    unsetenv("ACT_CACHE_DIR");
    char cmd[1200];
    snprintf(cmd, sizeof cmd,
             "cat '%s'/* | grep -c -a -e '%s' -e 'act[.]gemm'; cat '%s'/* | grep -c -a '%s'", dir,
             v->name, dir, v->name);
    assert_output(cmd, "1\n1\n"); /* one line with either, and it is the variant */
    act_program_free(p[0]);
    act_program_free(p[1]);
    act_context_free(ctx);
    ts_rmtree(dir);
    free(dir);
}

/* Value name of both programs within max_ulp of each other, or of rtol of
   the tensor's scale when max_ulp is 0. */
static void close_to(act_program *jit, act_program *ref, const char *name, double max_ulp,
                     double rtol, const char *what)
{
    act_error err = {0};
    int64_t sj[4];
    int rj;
    const float *a = act_get(jit, name, sj, &rj, &err), *b = act_get(ref, name, NULL, NULL, &err);
    if (!a || !b)
        fail_msg("%s: %s", name, err.message);
    int64_t n = 1;
    for (int d = 0; d < rj; d++)
        n *= sj[d];
    double scale = 0;
    for (int64_t i = 0; i < n; i++)
        scale = fmax(scale, fabs(b[i]));
    for (int64_t i = 0; i < n; i++)
        if (max_ulp ? ts_ulps(a[i], b[i]) > max_ulp : fabs(a[i] - b[i]) > rtol * scale)
            fail_msg("%s: %s[%lld] = %.9g, expected %.9g", what, name, (long long)i, a[i], b[i]);
}

/* A layer of a built-in activation of the float-lane table with its
   default parameters runs the library's epilogue, forward and in dY·Wᵀ of
   the layer above (the JIT's object code names it), and so does a built-in
   without a float-lane kernel (softsign, leaky_relu, hard_tanh) with any
   parameters; one of the table with other parameters, the module's own.
   Both against the interpreter: h within 2 ULP (the products are exact),
   the gradients within 1e-5 of their scale. */
static void test_jit_code_calls_the_library_epilogues(void **state)
{
    (void)state;
    const cc_gemm_variant *v = host_variant();
    if (!v)
        skip();
    act_error err = {0};
    cc_target host;
    assert_int_equal(cc_target_init(&host, NULL, NULL, &err), 0);
    /* where the float-lane kernels exist: AVX-512, or AVX2 and FMA */
    bool float_lanes = host.width >= 8 && host.fma;
    cc_target_fini(&host);
    static const shape layers[] = {{67, 300, 70}, {5, 9, 16}};
    char calls[16][64];
    int n = 0;
    for (int i = 0; cc_act_f32_name(i); i++)
        snprintf(calls[n++], sizeof calls[0], "%s(dense(x, W, b))", cc_act_f32_name(i));
    assert_true(n + 5 <= 16); /* room for the five below */
    snprintf(calls[n++], sizeof calls[0], "elu(dense(x, W, b), alpha = 0.5)");
    snprintf(calls[n++], sizeof calls[0], "gelu(dense(x, W, b), approximate = \"tanh\")");
    snprintf(calls[n++], sizeof calls[0], "softsign(dense(x, W, b))");
    snprintf(calls[n++], sizeof calls[0], "leaky_relu(dense(x, W, b), alpha = 0.1)");
    snprintf(calls[n++], sizeof calls[0], "hard_tanh(dense(x, W, b), min_val = -0.5)");
    for (int c = 0; c < n; c++)
        for (size_t i = 0; i < sizeof layers / sizeof *layers; i++) {
            char body[512], *dir = ts_tmpdir();
            snprintf(body, sizeof body,
                     " param V : f32[%lld, 3] = fill(0.25)\n h = %.63s\n y = dense(h, V)\n"
                     " output h\n output y\n",
                     (long long)layers[i].n, calls[c]);
            setenv("ACT_CACHE_DIR", dir, 1);
            act_context *ctx = act_context_new();
            act_program *p[2];
            build(ctx, body, &layers[i], p);
            float dy[67 * 3];
            for (int k = 0; k < 67 * 3; k++)
                dy[k] = (float)(k % 7 - 3) / 4.0f;
            int64_t ys[2] = {layers[i].m, 3};
            for (int e = 0; e < 2; e++) {
                assert_int_equal(act_set_output_grad(p[e], "y", dy, ys, 2, &err), 0);
                assert_int_equal(act_backward(p[e], &err), 0);
            }
            unsetenv("ACT_CACHE_DIR");
            close_to(p[0], p[1], "h", 2, 0, calls[c]);
            close_to(p[0], p[1], "d_x", 0, 1e-5, calls[c]);
            close_to(p[0], p[1], "d_W", 0, 1e-5, calls[c]);
            close_to(p[0], p[1], "d_b", 0, 1e-5, calls[c]);
            char cmd[1200], *out = NULL;
            snprintf(cmd, sizeof cmd, "grep -l -a '%s' '%s'/* | wc -l", v->epilogues, dir);
            assert_int_equal(ts_run(cmd, &out, NULL), 0);
            /* the backward entry's object, and the forward's when it is compiled;
               the float-lane table with its default params where there are
               float lanes, the formulas of the others with any params (but
               gelu's, whose word param picks one) */
            bool library = c >= n - 3 || (float_lanes ? c < n - 5 : strncmp(calls[c], "gelu", 4));
            if (library ? atoi(out) < 1 : atoi(out) != 0)
                fail_msg("%s: %s objects name %s", calls[c], out, v->epilogues);
            free(out);
            act_program_free(p[0]);
            act_program_free(p[1]);
            act_context_free(ctx);
            ts_rmtree(dir);
            free(dir);
        }
}

/* A loss too: its kernel is the library's, which the JIT's object code
   calls by name (the values are checked against the interpreter by
   tests/compiler/test_jit.c). */
static void test_jit_code_calls_the_library_losses(void **state)
{
    (void)state;
    act_error err = {0};
    const cc_gemm_variant *v = host_variant();
    if (!v)
        skip();
    static const char *const losses[] = {"softmax_cross_entropy", "sigmoid_cross_entropy", "mse"};
    for (size_t k = 0; k < sizeof losses / sizeof *losses; k++) {
        char *dir = ts_tmpdir(), src[256];
        snprintf(src, sizeof src,
                 "graph g {\n input z : f32[N, 3]\n input t : f32[N, 3]\n"
                 " loss L = %s(z, t)\n}\n",
                 losses[k]);
        setenv("ACT_CACHE_DIR", dir, 1);
        act_context *ctx = act_context_new();
        act_program *p = act_compile_string(ctx, src, "g.act", NULL, ACT_ENGINE_JIT, &err);
        assert_non_null(p);
        static const float z[6] = {1, 2, 3, -1, 0, 1}, t[6] = {0, 0, 1, 1, 0, 0};
        int64_t dims[2] = {2, 3};
        assert_int_equal(act_set(p, "z", z, dims, 2, &err), 0);
        assert_int_equal(act_set(p, "t", t, dims, 2, &err), 0);
        assert_int_equal(act_backward(p, &err), 0);
        unsetenv("ACT_CACHE_DIR");
        char cmd[1200];
        snprintf(cmd, sizeof cmd, "cat '%s'/* | grep -c -a '%s'", dir, v->kernels);
        assert_output(cmd, "1\n"); /* the backward entry's object */
        act_program_free(p);
        act_context_free(ctx);
        ts_rmtree(dir);
        free(dir);
    }
}

/* softmax and log_softmax along rows of 10 (and of a size name) are the
   library's kernels; along rows of a known 1000 floats, the module's own
   (compiler/lower_rows.c). The object code of the forward entry names the
   library's dispatcher or not; the values are those of the interpreter. */
static void test_jit_code_calls_the_library_softmax(void **state)
{
    (void)state;
    act_error err = {0};
    const cc_gemm_variant *v = host_variant();
    if (!v)
        skip();
    static const struct {
        const char *type, *op;
        bool library;
    } cases[] = {{"f32[N, 10]", "softmax", true},
                 {"f32[N, 10]", "log_softmax", true},
                 {"f32[N, M]", "softmax", true},
                 {"f32[N, 1000]", "softmax", false},
                 {"f32[N, 1000]", "log_softmax", false}};
    static float x[3 * 1000];
    for (int i = 0; i < 3 * 1000; i++)
        x[i] = (float)((i * 37) % 101 - 50) / 8.0f;
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        char *dir = ts_tmpdir(), src[256];
        snprintf(src, sizeof src, "graph g {\n input x : %s\n y = %s(x)\n output y\n}\n",
                 cases[k].type, cases[k].op);
        setenv("ACT_CACHE_DIR", dir, 1);
        act_context *ctx = act_context_new();
        act_program *p[2];
        for (int e = 0; e < 2; e++) {
            p[e] = act_compile_string(ctx, src, "g.act", NULL,
                                      e ? ACT_ENGINE_INTERP : ACT_ENGINE_JIT, &err);
            assert_non_null(p[e]);
            int64_t dims[2] = {3, strstr(cases[k].type, "10]") ? 10 : 1000};
            assert_int_equal(act_set(p[e], "x", x, dims, 2, &err), 0);
            assert_int_equal(act_forward(p[e], &err), 0);
        }
        unsetenv("ACT_CACHE_DIR");
        close_to(p[0], p[1], "y", 2, 0, cases[k].op);
        char cmd[1200];
        snprintf(cmd, sizeof cmd, "cat '%s'/* | grep -c -a '%s' || true", dir, v->kernels);
        assert_output(cmd, cases[k].library ? "1\n" : "0\n");
        for (int e = 0; e < 2; e++)
            act_program_free(p[e]);
        act_context_free(ctx);
        ts_rmtree(dir);
        free(dir);
    }
}

/* relu(dense(x, W, b)) seeded with dy: relu'·dy is made with y, in the
   epilogue of the forward product, then both products run. */
static void test_seeded_activation_across_block_edges(void **state)
{
    (void)state;
    act_context *ctx = act_context_new();
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i += 2) {
        act_program *p[2];
        build(ctx, " y = relu(dense(x, W, b))\n output y\n", &shapes[i], p);
        backward_same(p, &shapes[i], "y", shapes[i].n, 6);
        same(p[0], p[1], "y", &shapes[i]);
        act_program_free(p[0]);
        act_program_free(p[1]);
    }
    act_context_free(ctx);
}

/* Two layers: relu'(z1) dy is the epilogue of dY W2ᵀ, the product's own
   value never stored; the gradients of the first layer go through it. */
static void test_fused_activation_gradient_across_block_edges(void **state)
{
    (void)state;
    static const shape layers[] = {{1, 3, 5}, {5, 130, 17}, {67, 257, 65}, {70, 20, 530}};
    act_context *ctx = act_context_new();
    for (size_t i = 0; i < sizeof layers / sizeof *layers; i++) {
        char body[256];
        snprintf(body, sizeof body,
                 " param V : f32[%lld, 3] = fill(0.25)\n h = relu(dense(x, W, b))\n"
                 " y = dense(h, V)\n output y\n",
                 (long long)layers[i].n);
        act_program *p[2];
        build(ctx, body, &layers[i], p);
        backward_same(p, &layers[i], "y", 3, 5);
        same(p[0], p[1], "d_V", &layers[i]);
        act_program_free(p[0]);
        act_program_free(p[1]);
    }
    act_context_free(ctx);
}

/* Three layers, the first and last with the same chain (scale by 1/2,
   leaky_relu with alpha 1/8: two ops, which the library's epilogues do
   not cover) and the middle one's alpha 1/4: a module keeps one epilogue
   for the first and last (compiler/lower_gemm.c), two in all, and every
   value and gradient is the interpreter's. */
static void test_layers_of_one_chain_share_an_epilogue(void **state)
{
    (void)state;
    static const shape layers[] = {{5, 130, 17}, {67, 257, 65}};
    for (size_t i = 0; i < sizeof layers / sizeof *layers; i++) {
        char body[512], *dir = ts_tmpdir();
        snprintf(body, sizeof body,
                 " param V : f32[%lld, %lld] = fill(0.125)\n param c : f32[%lld] = fill(0.25)\n"
                 " h = leaky_relu(scale(dense(x, W, b), s = 0.5), alpha = 0.125)\n"
                 " g = leaky_relu(scale(dense(h, V, c), s = 0.5), alpha = 0.25)\n"
                 " y = leaky_relu(scale(dense(g, V, c), s = 0.5), alpha = 0.125)\n output y\n",
                 (long long)layers[i].n, (long long)layers[i].n, (long long)layers[i].n);
        setenv("ACT_CACHE_DIR", dir, 1);
        act_context *ctx = act_context_new();
        act_program *p[2];
        build(ctx, body, &layers[i], p);
        unsetenv("ACT_CACHE_DIR");
        char cmd[1200];
        snprintf(cmd, sizeof cmd, "strings -a '%s'/* | grep -c '^act[.]epilogue'", dir);
        assert_output(cmd, "2\n"); /* the forward entry's, compiled with the program */
        act_error err = {0};
        for (int e = 0; e < 2; e++)
            assert_int_equal(act_forward(p[e], &err), 0);
        same(p[0], p[1], "y", &layers[i]);
        backward_same(p, &layers[i], "y", layers[i].n, 9);
        same(p[0], p[1], "d_V", &layers[i]);
        same(p[0], p[1], "d_c", &layers[i]);
        act_program_free(p[0]);
        act_program_free(p[1]);
        act_context_free(ctx);
        ts_rmtree(dir);
        free(dir);
    }
}

/* Sums in k order from the bias, a float FMA chain (mul and add without
   FMA): with inputs that round, the JIT's dense equals that chain bit for
   bit, whatever its blocking. */
static void test_dense_sums_in_k_order(void **state)
{
    (void)state;
    static const shape s = {67, 600, 70};
    char src[256];
    snprintf(src, sizeof src,
             "graph g {\n input x : f32[M, 600]\n param W : f32[600, 70]\n param b : f32[70]\n"
             " y = dense(x, W, b)\n output y\n}\n");
    float *x = eighths(s.m * s.k, 6), *w = eighths(s.k * s.n, 7), *b = eighths(s.n, 8);
    for (int64_t i = 0; i < s.k * s.n; i++)
        w[i] *= 1.0f / 3.0f; /* products and sums now round */
    act_context *ctx = act_context_new();
    act_program *p = ts_compile_for(ctx, src, ACT_ENGINE_JIT);
    set(p, "x", x, s.m, s.k);
    set(p, "W", w, s.k, s.n);
    set(p, "b", b, s.n, -1);
    act_error err = {0};
    assert_int_equal(act_forward(p, &err), 0);
    const float *y = act_get(p, "y", NULL, NULL, &err);
    assert_non_null(y);
    for (int64_t i = 0; i < s.m; i++)
        for (int64_t j = 0; j < s.n; j++) {
            float fused = b[j], plain = b[j]; /* targets with FMA, and without */
            for (int64_t k = 0; k < s.k; k++) {
                fused = fmaf(x[i * s.k + k], w[k * s.n + j], fused);
                volatile float product = x[i * s.k + k] * w[k * s.n + j];
                plain = plain + product;
            }
            float got = y[i * s.n + j];
            if (got != fused && got != plain)
                fail_msg("y[%lld, %lld] = %.9g, expected %.9g", (long long)i, (long long)j, got,
                         fused);
        }
    free(x);
    free(w);
    free(b);
    act_program_free(p);
    act_context_free(ctx);
}

/* Packed weights are kept between runs while W does not change: a second
   run reads them; after act_set of W, of x with other rows, or an SGD
   step, the results are those of the new W (a stale copy would give the
   old ones); and a run split across threads packs for itself, chunk by
   chunk, leaving the slot alone. Two K blocks and two N blocks of panels. */
static void test_packed_weights_follow_w(void **state)
{
    (void)state;
    static const shape s = {600, 600, 300};
    act_context *ctx = act_context_new();
    act_program *p[2];
    build(ctx,
          " y = dense(x, W, b)\n output y\n input t : f32[M, 300]\n"
          " loss L = mse(y, t)\n",
          &s, p);
    const ir_value *w = rt_program_value(p[0], "W");
    act_error err = {0};
    float *t = eighths(1100 * s.n, 9);
    for (int step = 0; step < 5; step++) {
        int64_t rows = step < 2 ? s.m : step < 4 ? 520 : 1100;
        if (step == 1 || step == 4) { /* new weights */
            float *nw = eighths(s.k * s.n, 5 + (unsigned)step);
            for (int e = 0; e < 2; e++)
                set(p[e], "W", nw, s.k, s.n);
            free(nw);
        }
        if (step == 2 || step == 4) { /* new rows: 520, then 1100 in two chunks that pack */
            float *nx = eighths(rows * s.k, 8);
            for (int e = 0; e < 2; e++)
                set(p[e], "x", nx, rows, s.k);
            if (step == 4) /* the loss's target too, in the program that has one */
                set(p[0], "t", t, rows, s.n);
            free(nx);
        } else if (step == 3) {
            /* the JIT's params moved off the eighths: the reference is now a
               new JIT program given them, whose sums round the same way */
            for (int e = 0; e < 2; e++)
                set(p[e], "t", t, 520, s.n);
            assert_int_equal(act_sgd_step(p[0], 0.125f, &err), 0);
            act_program_free(p[1]);
            act_program *q[2];
            build(ctx, " y = dense(x, W, b)\n output y\n", &s, q);
            act_program_free(q[1]);
            p[1] = q[0];
            static const char *const names[3] = {"W", "b", "x"};
            for (int k = 0; k < 3; k++) {
                int64_t dims[4];
                int rank;
                const float *v = act_get(p[0], names[k], dims, &rank, &err);
                assert_non_null(v);
                assert_int_equal(act_set(p[1], names[k], v, dims, rank, &err), 0);
            }
        }
        act_set_threads(p[0], step == 4 ? 2 : 1);
        for (int run = 0; run < 2; run++) {
            for (int e = 0; e < 2; e++)
                assert_int_equal(act_forward(p[e], &err), 0);
            same(p[0], p[1], "y", &(shape){rows, s.k, s.n});
            /* a split run's chunks pack for themselves, not into the slot */
            assert_int_equal(p[0]->packed[w->id].slot.ready, step < 4);
        }
    }
    free(t);
    act_program_free(p[0]);
    act_program_free(p[1]);
    act_context_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dense_forward_across_block_edges),
        cmocka_unit_test(test_dense_backward_across_block_edges),
        cmocka_unit_test(test_seeded_activation_across_block_edges),
        cmocka_unit_test(test_fused_activation_gradient_across_block_edges),
        cmocka_unit_test(test_layers_of_one_chain_share_an_epilogue),
        cmocka_unit_test(test_dense_sums_in_k_order),
        cmocka_unit_test(test_packed_weights_follow_w),
        cmocka_unit_test(test_each_isa_level_across_block_edges),
        cmocka_unit_test(test_library_gemm_for_each_target),
        cmocka_unit_test(test_jit_code_calls_the_library_gemm),
        cmocka_unit_test(test_jit_code_calls_the_library_losses),
        cmocka_unit_test(test_jit_code_calls_the_library_softmax),
        cmocka_unit_test(test_jit_code_calls_the_library_epilogues),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
