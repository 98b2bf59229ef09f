/* test_jit_edges.c -- edge cases of running compiled graphs, each on both
   engines: many programs sharing a context's cache, sizes bound to 0,
   maxout over size names, output gradients of the wrong shape, a formula
   whose derivative is large, long sums, broadcast params' gradients,
   gradients of unset inputs, gradients written whole on every run, a
   gradient two inputs share,
   results large enough to be stored past the caches, a deep chain of
   residual blocks, and loops of scalars left to LLVM's O2 to vectorise. */
#define _GNU_SOURCE /* memmem */
#include "support.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const act_engine engines[2] = {ACT_ENGINE_JIT, ACT_ENGINE_INTERP};

static act_program *compile(act_context *ctx, const char *src, act_engine e)
{
    act_error err = {0};
    act_program *p = act_compile_string(ctx, src, "t.act", NULL, e, &err);
    if (!p)
        fail_msg("%d:%d %s\n%s", err.line, err.col, err.message, src);
    return p;
}

/* Programs keep their compiled entries while the cache grows past its
   first allocation. */
static void test_cache_keeps_entries_of_live_programs(void **state)
{
    (void)state;
    act_context *ctx = act_context_new();
    act_program *p[12];
    for (int i = 0; i < 12; i++) {
        char src[256];
        snprintf(src, sizeof src,
                 "graph g {\n input x : f32[N]\n y = scale(x, s = %d)\n output y\n}\n", i + 1);
        p[i] = compile(ctx, src, ACT_ENGINE_JIT);
    }
    float x[3] = {1, 2, 3};
    int64_t n = 3;
    act_error err = {0};
    for (int i = 0; i < 12; i++) {
        assert_int_equal(act_set(p[i], "x", x, &n, 1, &err), 0);
        assert_int_equal(act_forward(p[i], &err), 0);
        assert_float_equal(act_get(p[i], "y", NULL, NULL, &err)[2], 3.0f * (float)(i + 1), 0);
    }
    for (int i = 0; i < 12; i++)
        act_program_free(p[i]);
    act_context_free(ctx);
}

/* A size bound to 0 computes nothing and does not trap. */
static void test_zero_sizes(void **state)
{
    (void)state;
    static const char src[] = "graph g {\n input x : f32[N, K]\n input t : f32[N, 3]\n"
                              " param W : f32[K, 3] = fill(0.5)\n z = dense(x, W)\n output z\n"
                              " loss L = softmax_cross_entropy(z, t)\n}\n";
    act_context *ctx = act_context_new();
    for (int e = 0; e < 2; e++) {
        act_program *p = compile(ctx, src, engines[e]);
        int64_t sx[2] = {0, 4}, st[2] = {0, 3};
        float none[1] = {0};
        act_error err = {0};
        assert_int_equal(act_set(p, "x", none, sx, 2, &err), 0);
        assert_int_equal(act_set(p, "t", none, st, 2, &err), 0);
        assert_int_equal(act_backward(p, &err), 0);
        int64_t shape[4];
        int rank;
        assert_non_null(act_get(p, "z", shape, &rank, &err));
        assert_true(rank == 2 && shape[0] == 0 && shape[1] == 3);
        act_program_free(p);
    }
    act_context_free(ctx);
}

static void test_maxout_over_size_names(void **state)
{
    (void)state;
    static const char src[] = "graph g {\n input x : f32[N, M]\n"
                              " y = maxout(maxout(x, k = 2), k = 2)\n output y\n}\n";
    act_context *ctx = act_context_new();
    for (int e = 0; e < 2; e++) {
        act_program *p = compile(ctx, src, engines[e]);
        float x[8] = {1, 5, 3, 4, 9, 6, 7, 8};
        int64_t s8[2] = {1, 8}, s6[2] = {1, 6};
        act_error err = {0};
        assert_int_equal(act_set(p, "x", x, s8, 2, &err), 0);
        assert_int_equal(act_forward(p, &err), 0);
        int64_t shape[4];
        int rank;
        const float *y = act_get(p, "y", shape, &rank, &err);
        assert_true(rank == 2 && shape[1] == 2);
        assert_true(y[0] == 5 && y[1] == 9);
        /* 6 / 2 = 3 is odd: the inner maxout's k divides, the outer's does not */
        assert_int_equal(act_set(p, "x", x, s6, 2, &err), 0);
        assert_int_equal(act_forward(p, &err), ACT_ERR_SHAPE);
        assert_non_null(strstr(err.message, "multiple of k = 2, found 3"));
        act_program_free(p);
    }
    act_context_free(ctx);
}

static void test_output_gradient_shape_and_data_are_checked(void **state)
{
    (void)state;
    static const char src[] = "graph g {\n input x : f32[N, 3]\n y = tanh(x)\n output y\n}\n";
    act_context *ctx = act_context_new();
    for (int e = 0; e < 2; e++) {
        act_program *p = compile(ctx, src, engines[e]);
        float x[12] = {0};
        int64_t s2[2] = {2, 3}, s4[2] = {4, 3};
        act_error err = {0};
        assert_int_equal(act_set(p, "x", x, s2, 2, &err), 0);
        assert_int_equal(act_set_output_grad(p, "y", NULL, s2, 2, &err), ACT_ERR_ARG);
        assert_int_equal(act_set_output_grad(p, "y", x, s2, 2, &err), 0);
        assert_int_equal(act_set(p, "x", x, s4, 2, &err), 0); /* N changes, dy does not */
        assert_int_equal(act_backward(p, &err), ACT_ERR_SHAPE);
        assert_non_null(strstr(err.message, "f32[4, 3], found f32[2, 3]"));
        act_program_free(p);
    }
    act_context_free(ctx);
}

/* A formula whose derivative has thousands of nodes compiles (and agrees). */
static void test_deep_derivative(void **state)
{
    (void)state;
    char *src = malloc(20000), *f = malloc(8000);
    strcpy(f, "x");
    for (int i = 0; i < 60; i++) {
        char *g = malloc(8000);
        snprintf(g, 8000, "tanh(%s * 1.01 + %d)", f, i % 3);
        strcpy(f, g);
        free(g);
    }
    snprintf(src, 20000,
             "activation deep(x) = %s\ngraph g {\n input x : f32[5]\n y = deep(x)\n"
             " output y\n}\n",
             f);
    act_context *ctx = act_context_new();
    float x[5] = {-2, -0.5f, 0, 0.5f, 2}, w[5] = {1, 1, 1, 1, 1}, d[2][5];
    int64_t n = 5;
    for (int e = 0; e < 2; e++) {
        act_program *p = compile(ctx, src, engines[e]);
        act_error err = {0};
        assert_int_equal(act_set(p, "x", x, &n, 1, &err), 0);
        assert_int_equal(act_set_output_grad(p, "y", w, &n, 1, &err), 0);
        assert_int_equal(act_backward(p, &err), 0);
        memcpy(d[e], act_get(p, "d_x", NULL, NULL, &err), sizeof d[e]);
        act_program_free(p);
    }
    for (int i = 0; i < 5; i++)
        assert_true(ts_close(d[0][i], d[1][i], 1e-5, 1e-30));
    act_context_free(ctx);
    free(src);
    free(f);
}

/* prelu's slope gradient sums 200000 terms: in double on both engines. */
static void test_long_sums_agree(void **state)
{
    (void)state;
    static const char src[] = "graph g {\n input x : f32[N, 1]\n param s : f32[1] = fill(0.2)\n"
                              " y = prelu(x, s)\n output y\n}\n";
    enum { N = 200000 };
    float *x = malloc(N * sizeof *x), *w = malloc(N * sizeof *w), ds[2];
    for (int i = 0; i < N; i++) {
        x[i] = -1;
        w[i] = 0.1f;
    }
    int64_t shape[2] = {N, 1};
    act_context *ctx = act_context_new();
    for (int e = 0; e < 2; e++) {
        act_program *p = compile(ctx, src, engines[e]);
        act_error err = {0};
        assert_int_equal(act_set(p, "x", x, shape, 2, &err), 0);
        assert_int_equal(act_set_output_grad(p, "y", w, shape, 2, &err), 0);
        assert_int_equal(act_backward(p, &err), 0);
        ds[e] = *act_get(p, "d_s", NULL, NULL, &err);
        act_program_free(p);
    }
    assert_true(fabsf(ds[0] - ds[1]) <= 1e-6f * fabsf(ds[1]));
    assert_true(fabsf(ds[1] + 20000.0f) < 0.01f);
    free(x);
    free(w);
    act_context_free(ctx);
}

/* A broadcast param's gradient sums the output gradient over the dims it
   was broadcast along: leading ones (vectorised across the kept columns,
   with a masked tail of 35 % 16), a leading 1 inside the param's shape, and
   trailing ones (scalar). Terms are eighths, so every sum is exact. */
static void test_broadcast_gradients(void **state)
{
    (void)state;
    static const char src[] = "graph g {\n input x : f32[N, 3, 35]\n param c1 : f32[35] = zeros\n"
                              " param c2 : f32[3, 35] = zeros\n param c3 : f32[3, 1] = zeros\n"
                              " param c4 : f32[1, 35] = zeros\n"
                              " y = add(add(add(add(x, c1), c2), c3), c4)\n output y\n}\n";
    enum { N = 37, A = 3, B = 35 };
    static float x[N * A * B], w[N * A * B];
    double want[4][A * B] = {{0}};
    for (int i = 0; i < N * A * B; i++) {
        w[i] = (float)((i * 7919) % 17 - 8) / 8.0f;
        int a = i / B % A, b = i % B;
        want[0][b] += w[i];
        want[1][a * B + b] += w[i];
        want[2][a] += w[i];
        want[3][b] += w[i];
    }
    static const char *const names[4] = {"d_c1", "d_c2", "d_c3", "d_c4"};
    static const int sizes[4] = {B, A * B, A, B};
    int64_t shape[3] = {N, A, B};
    act_context *ctx = act_context_new();
    for (int e = 0; e < 2; e++) {
        act_program *p = compile(ctx, src, engines[e]);
        act_error err = {0};
        assert_int_equal(act_set(p, "x", x, shape, 3, &err), 0);
        assert_int_equal(act_set_output_grad(p, "y", w, shape, 3, &err), 0);
        assert_int_equal(act_backward(p, &err), 0);
        for (int k = 0; k < 4; k++) {
            const float *d = act_get(p, names[k], NULL, NULL, &err);
            assert_non_null(d);
            for (int j = 0; j < sizes[k]; j++)
                assert_true(d[j] == (float)want[k][j]); /* exactly, not within cmocka's ulp */
        }
        act_program_free(p);
    }
    act_context_free(ctx);
}

/* The object code in the one file of the disk cache folder dir (after the
   key: from the ELF magic on), written to path. */
static void cached_object(const char *dir, const char *path)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    char file[1200] = "";
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            snprintf(file, sizeof file, "%s/%s", dir, e->d_name);
    closedir(d);
    FILE *f = fopen(file, "rb");
    assert_non_null(f);
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    const char *elf = memmem(buf, n, "\177ELF", 4);
    assert_non_null(elf);
    f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(elf, 1, n - (size_t)(elf - buf), f), n - (size_t)(elf - buf));
    fclose(f);
}

/* A module with loops of scalars (broadcasting) keeps LLVM's O2, which
   vectorises them; the JIT's lighter pipeline for kernels written in
   vectors would leave them scalar, 6x slower (docs/decisions.md). The
   object code the JIT keeps on disk for add(x, b), b along the rows, holds
   packed adds (addps, any x86 vector width), its values right. */
static void test_scalar_loops_are_vectorised(void **state)
{
    (void)state;
#if defined(__x86_64__)
    char *out = NULL;
    if (ts_run("command -v objdump", &out, NULL)) {
        free(out);
        skip();
    }
    free(out);
    char *dir = ts_tmpdir(), *kept = getenv("ACT_CACHE_DIR");
    kept = kept ? strdup(kept) : NULL;
    setenv("ACT_CACHE_DIR", dir, 1);
    act_context *ctx = act_context_new();
    act_program *p = act_compile_string(
        ctx, "graph g {\n input x : f32[N, 40]\n input b : f32[40]\n y = add(x, b)\n output y\n}\n",
        "g.act", NULL, ACT_ENGINE_JIT, NULL);
    if (kept)
        setenv("ACT_CACHE_DIR", kept, 1);
    else
        unsetenv("ACT_CACHE_DIR");
    free(kept);
    assert_non_null(p);
    enum { N = 5, K = 40 };
    float x[N * K], b[K];
    for (int i = 0; i < N * K; i++)
        x[i] = (float)(i % 13) / 4;
    for (int j = 0; j < K; j++)
        b[j] = (float)j / 8;
    int64_t xs[2] = {N, K}, bs[1] = {K};
    act_error err = {0};
    assert_int_equal(act_set(p, "x", x, xs, 2, &err), 0);
    assert_int_equal(act_set(p, "b", b, bs, 1, &err), 0);
    assert_int_equal(act_forward(p, &err), 0);
    const float *y = act_get(p, "y", NULL, NULL, &err);
    for (int i = 0; i < N * K; i++)
        assert_true(y[i] == x[i] + b[i % K]);
    char *obj_dir = ts_tmpdir(), obj[600], cmd[1400];
    snprintf(obj, sizeof obj, "%s/g.o", obj_dir);
    cached_object(dir, obj);
    snprintf(cmd, sizeof cmd, "objdump -d '%s' | grep -c addps", obj);
    assert_int_equal(ts_run(cmd, &out, NULL), 0);
    assert_true(atoi(out) > 0);
    free(out);
    act_program_free(p);
    act_context_free(ctx);
    ts_rmtree(obj_dir);
    ts_rmtree(dir);
    free(obj_dir);
    free(dir);
#else
    skip();
#endif
}

/* Gradients of every leaf of p, and its outputs, into one array. */
static int snapshot(act_program *p, float *out)
{
    static const char *const names[6] = {"y", "s", "o", "d_x", "d_W", "d_b"};
    act_error err = {0};
    int n = 0;
    for (int k = 0; k < 6; k++) {
        int64_t shape[4];
        int rank;
        const float *v = act_get(p, names[k], shape, &rank, &err);
        if (!v)
            fail_msg("%s: %s", names[k], err.message);
        int64_t count = 1;
        for (int d = 0; d < rank; d++)
            count *= shape[d];
        memcpy(out + n, v, (size_t)count * sizeof *v);
        n += (int)count;
    }
    return n;
}

/* A backward after a run that kept the outputs reads them instead of
   recomputing them (softmax's, sigmoid's, and the square of tanh of an
   output, whose backward needs tanh's value: it is computed again, not in
   the kernel of the output it reads), and gives the gradients a cold
   backward gives, bit for bit; after act_set of an input or a param, or an
   SGD step, the outputs are computed again. */
static void test_backward_reads_kept_outputs(void **state)
{
    (void)state;
    static const char src[] =
        "graph g {\n input x : f32[N, 7]\n param W : f32[7, 9] = glorot(seed = 1)\n"
        " param b : f32[9] = uniform(-0.5, 0.5, seed = 2)\n z = dense(x, W, b)\n"
        " y = softmax(z)\n s = sigmoid(z)\n h = tanh(s)\n o = mul(h, h)\n"
        " output y\n output s\n output o\n}\n";
    enum { N = 21, ALL = 3 * N * 9 + N * 7 + 7 * 9 + 9 };
    static float x[2][N * 7], seed[N * 9], want[ALL], got[ALL];
    for (int i = 0; i < N * 7; i++) {
        x[0][i] = (float)((i * 31) % 19 - 9) / 5.0f;
        x[1][i] = (float)((i * 17) % 13 - 6) / 3.0f;
    }
    for (int i = 0; i < N * 9; i++)
        seed[i] = (float)((i * 7) % 11 - 5) / 4.0f;
    int64_t sx[2] = {N, 7}, sy[2] = {N, 9};
    act_context *ctx = act_context_new();
    act_error err = {0};
    act_program *p = compile(ctx, src, ACT_ENGINE_JIT);
    assert_int_equal(act_set(p, "x", x[0], sx, 2, &err), 0);
    for (int k = 0; k < 3; k++)
        assert_int_equal(act_set_output_grad(p,
                                             k == 0   ? "y"
                                             : k == 1 ? "s"
                                                      : "o",
                                             seed, sy, 2, &err),
                         0);
    for (int step = 0; step < 4; step++) {
        /* a cold program for the same inputs and params */
        act_program *ref = compile(ctx, src, ACT_ENGINE_JIT);
        static const char *const leaves[3] = {"x", "W", "b"};
        for (int k = 0; k < 3; k++) {
            int64_t shape[4];
            int rank;
            const float *v = act_get(p, leaves[k], shape, &rank, &err);
            assert_non_null(v);
            assert_int_equal(act_set(ref, leaves[k], v, shape, rank, &err), 0);
        }
        for (int k = 0; k < 3; k++)
            assert_int_equal(act_set_output_grad(ref,
                                                 k == 0   ? "y"
                                                 : k == 1 ? "s"
                                                          : "o",
                                                 seed, sy, 2, &err),
                             0);
        assert_int_equal(act_backward(ref, &err), 0);
        assert_null(ref->entry[CC_VJP_SAVED]);
        int n = snapshot(ref, want);
        act_program_free(ref);
        assert_int_equal(act_backward(p, &err), 0); /* the outputs computed */
        assert_int_equal(act_backward(p, &err), 0); /* the outputs read */
        assert_non_null(p->entry[CC_VJP_SAVED]);
        assert_int_equal(snapshot(p, got), n);
        assert_memory_equal(got, want, (size_t)n * sizeof *got);
        if (step == 0)
            assert_int_equal(act_set(p, "x", x[1], sx, 2, &err), 0);
        else if (step == 1)
            assert_int_equal(act_sgd_step(p, 0.5f, &err), 0);
        else if (step == 2)
            assert_int_equal(act_set(p, "b", seed, (int64_t[]){9}, 1, &err), 0);
    }
    act_program_free(p);
    act_context_free(ctx);
}

/* Results of 16 MB and more from a short kernel are stored past the caches
   (whole vectors; the tail as usual); on two threads the second chunk
   starts off a vector boundary and is stored as usual. Either way every
   element is exact: y = relu(3 (x + b)), two roundings, and the relu
   gradient 3 dy (z > 0). */
static void test_big_results_stored_past_the_caches(void **state)
{
    (void)state;
    static const char src[] = "graph g {\n input x : f32[N]\n input b : f32[N]\n"
                              " z = scale(add(x, b), s = 3)\n y = relu(z)\n output y\n}\n";
    /* 64 MB and a tail: on two threads each chunk is past 16 MB, and the
       second starts 32 bytes past a 64-byte boundary */
    const int64_t n = (1 << 24) + 11;
    float *x = malloc((size_t)n * sizeof *x), *b = malloc((size_t)n * sizeof *b);
    float *dy = malloc((size_t)n * sizeof *dy);
    assert_true(x && b && dy);
    for (int64_t i = 0; i < n; i++) {
        x[i] = (float)(i % 2001 - 1000) / 7.0f;
        b[i] = (float)(i % 37 - 18) / 3.0f;
        dy[i] = (float)(i % 11 - 5) / 4.0f;
    }
    act_context *ctx = act_context_new();
    for (int threads = 1; threads <= 2; threads++) {
        act_error err = {0};
        act_program *p = compile(ctx, src, ACT_ENGINE_JIT);
        act_set_threads(p, threads);
        assert_int_equal(act_set(p, "x", x, &n, 1, &err), 0);
        assert_int_equal(act_set(p, "b", b, &n, 1, &err), 0);
        assert_int_equal(act_set_output_grad(p, "y", dy, &n, 1, &err), 0);
        assert_int_equal(act_backward(p, &err), 0);
        const float *y = act_get(p, "y", NULL, NULL, &err),
                    *dx = act_get(p, "d_x", NULL, NULL, &err);
        assert_true(y && dx);
        int64_t bad = 0;
        for (int64_t i = 0; i < n; i++) {
            float z = (x[i] + b[i]) * 3.0f;
            bad += y[i] != (z > 0 ? z : 0.0f) || dx[i] != (z > 0 ? dy[i] * 3.0f : 0.0f);
        }
        if (bad)
            fail_msg("%lld wrong elements on %d threads", (long long)bad, threads);
        act_program_free(p);
    }
    act_context_free(ctx);
    free(x);
    free(b);
    free(dy);
}

/* A chain of 64 residual blocks reaches its input along 2^64 paths: the
   checks that every input is set visit each value once (they walked every
   path, and 24 blocks took 0.1 s a call). Both engines, forward and
   backward: h stays relu(x) + 0, d_x is 1 where x > 0. */
static void test_deep_residual_chain(void **state)
{
    (void)state;
    enum { BLOCKS = 64 };
    char src[8192];
    int at = snprintf(src, sizeof src, "graph g {\n input x : f32[N]\n h0 = relu(x)\n");
    for (int i = 1; i <= BLOCKS; i++)
        at += snprintf(src + at, sizeof src - (size_t)at, " h%d = add(h%d, scale(h%d, s = 0))\n", i,
                       i - 1, i - 1);
    snprintf(src + at, sizeof src - (size_t)at, " output h%d\n}\n", BLOCKS);
    static const float x[5] = {-1.5f, 0.25f, 2.0f, -0.0f, 3.5f}, ones[5] = {1, 1, 1, 1, 1};
    int64_t n = 5;
    char out[8];
    snprintf(out, sizeof out, "h%d", BLOCKS);
    act_context *ctx = act_context_new();
    for (int e = 0; e < 2; e++) {
        act_error err = {0};
        act_program *p = compile(ctx, src, engines[e]);
        assert_int_equal(act_set(p, "x", x, &n, 1, &err), 0);
        assert_int_equal(act_set_output_grad(p, out, ones, &n, 1, &err), 0);
        assert_int_equal(act_backward(p, &err), 0);
        const float *y = act_get(p, out, NULL, NULL, &err),
                    *dx = act_get(p, "d_x", NULL, NULL, &err);
        assert_true(y && dx);
        for (int i = 0; i < 5; i++) {
            assert_true(y[i] == (x[i] > 0 ? x[i] : 0.0f));
            assert_true(dx[i] == (x[i] > 0 ? 1.0f : 0.0f));
        }
        act_program_free(p);
    }
    act_context_free(ctx);
}

/* The gradient of an input that was never set is an error, not garbage. */
static void test_gradient_of_unset_input(void **state)
{
    (void)state;
    static const char src[] = "graph g {\n input x : f32[N]\n input t : f32[K]\n"
                              " y = relu(x)\n output y\n z = relu(t)\n output z\n}\n";
    act_context *ctx = act_context_new();
    for (int e = 0; e < 2; e++) {
        act_program *p = compile(ctx, src, engines[e]);
        float x[2] = {1, -1};
        int64_t n = 2;
        act_error err = {0};
        assert_int_equal(act_set(p, "x", x, &n, 1, &err), 0);
        assert_int_equal(act_set_output_grad(p, "y", x, &n, 1, &err), 0);
        /* z needs t: forward fails naming it */
        assert_int_equal(act_backward(p, &err), ACT_ERR_RUNTIME);
        assert_non_null(strstr(err.message, "'t'"));
        act_program_free(p);
    }
    act_context_free(ctx);
}

/* A run that fails leaves the previous results readable; an intermediate
   value the JIT does not keep is a clear error. */
static void test_failed_run_keeps_results(void **state)
{
    (void)state;
    static const char src[] = "graph g {\n input x : f32[N, 2]\n input t : f32[N, 2]\n"
                              " h = tanh(x)\n y = scale(h, s = 2)\n output y\n"
                              " loss L = mse(y, t)\n}\n";
    act_context *ctx = act_context_new();
    for (int e = 0; e < 2; e++) {
        act_program *p = compile(ctx, src, engines[e]);
        float x[6] = {0.5f, 1, 2, 3, 4, 5};
        int64_t s2[2] = {2, 2}, s3[2] = {3, 2};
        act_error err = {0};
        assert_int_equal(act_set(p, "x", x, s2, 2, &err), 0);
        assert_int_equal(act_set(p, "t", x, s2, 2, &err), 0);
        assert_int_equal(act_forward(p, &err), 0);
        float before = act_get(p, "y", NULL, NULL, &err)[0];
        assert_int_equal(act_set_output_grad(p, "y", x, s3, 2, &err), 0); /* y is [2, 2] */
        assert_int_equal(act_backward(p, &err), ACT_ERR_SHAPE);
        const float *y = act_get(p, "y", NULL, NULL, &err);
        assert_non_null(y);
        assert_true(y[0] == before);
        const float *h = act_get(p, "h", NULL, NULL, &err);
        if (engines[e] == ACT_ENGINE_JIT) {
            assert_null(h);
            assert_non_null(strstr(err.message, "does not keep"));
        } else {
            assert_non_null(h);
        }
        act_program_free(p);
    }
    act_context_free(ctx);
}

/* x and b of add(x, b) share their gradient: the JIT stores it to both
   d_x and d_b in the kernel that makes it (or copies it, where another
   kernel makes it: here the output gradient itself), on every run; the
   interpreter computes it once and copies it. */
static void test_shared_gradients_reach_both_inputs(void **state)
{
    (void)state;
    static const char *const srcs[2] = {
        "graph g {\n input x : f32[N]\n input b : f32[N]\n"
        " y = mish(scale(add(x, b), s = 0.5))\n output y\n}\n",
        "graph g {\n input x : f32[N]\n input b : f32[N]\n y = add(x, b)\n output y\n}\n"};
    enum { N = 37 };
    act_context *ctx = act_context_new();
    for (int k = 0; k < 2; k++) {
        float want[N];
        for (int e = 1; e >= 0; e--) { /* the interpreter first: the reference */
            act_program *p = compile(ctx, srcs[k], engines[e]);
            for (int run = 0; run < 2; run++) {
                float x[N], b[N], w[N];
                for (int i = 0; i < N; i++) {
                    x[i] = (float)((i * 13 + run * 5) % 23 - 11) / 4.0f;
                    b[i] = (float)(i % 5 - 2) / 8.0f;
                    w[i] = (float)((i * 7 + run) % 9 - 4) / 4.0f;
                }
                int64_t n = N;
                act_error err = {0};
                assert_int_equal(act_set(p, "x", x, &n, 1, &err), 0);
                assert_int_equal(act_set(p, "b", b, &n, 1, &err), 0);
                assert_int_equal(act_set_output_grad(p, "y", w, &n, 1, &err), 0);
                assert_int_equal(act_backward(p, &err), 0);
                const float *dx = act_get(p, "d_x", NULL, NULL, &err);
                const float *db = act_get(p, "d_b", NULL, NULL, &err);
                assert_non_null(dx);
                assert_non_null(db);
                assert_memory_equal(dx, db, sizeof want);
                for (int i = 0; i < N && run == 1; i++) {
                    if (e == 1)
                        want[i] = dx[i];
                    else if (!ts_close(dx[i], want[i], 1e-6, 1e-7)) /* float-lane mish' */
                        fail_msg("%s: d_x[%d] %.9g, interpreter %.9g", srcs[k], i, (double)dx[i],
                                 (double)want[i]);
                }
                for (int i = 0; i < N && k == 1; i++)
                    assert_true(dx[i] == w[i]);
            }
            act_program_free(p);
        }
    }
    act_context_free(ctx);
}

static const char whole_src[] =
    "graph g {\n input x : f32[N, 6]\n input t : f32[N, 4]\n"
    " param W : f32[6, 4] = glorot(seed = 1)\n param b : f32[4] = zeros\n"
    " param s : f32[4] = fill(0.2)\n h = prelu(dense(x, W, b), s)\n p = softmax(h)\n output p\n"
    " q = log_softmax(maxout(h))\n output q\n loss L = softmax_cross_entropy(h, t)\n}\n";

/* act_backward on 5 rows of d (x, t and the output gradients read from
   it), with a loss or from output gradients. */
static void backward_on(act_program *p, const float *d, bool vjp)
{
    int64_t sx[2] = {5, 6}, s4[2] = {5, 4}, s2[2] = {5, 2};
    act_error err = {0};
    assert_int_equal(act_set(p, "x", d, sx, 2, &err), 0);
    assert_int_equal(act_set(p, "t", d + 1, s4, 2, &err), 0);
    if (vjp) {
        assert_int_equal(act_set_output_grad(p, "p", d + 3, s4, 2, &err), 0);
        assert_int_equal(act_set_output_grad(p, "q", d + 2, s2, 2, &err), 0);
    }
    assert_int_equal(act_backward(p, &err), 0);
}

/* The JIT writes every element of every gradient on every run (the runtime
   reuses the buffers and does not clear them): a second run on other data
   gives what a fresh program gives, bit for bit, with a loss and from
   output gradients. */
static void test_gradients_are_whole_on_every_run(void **state)
{
    (void)state;
    static const char *const grads[] = {"d_x", "d_t", "d_W", "d_b", "d_s"};
    act_context *ctx = act_context_new();
    float data[2][5 * 6];
    for (int k = 0; k < 5 * 6; k++) {
        data[0][k] = (float)(k % 7) - 3;
        data[1][k] = 0.25f * (float)(k % 5) - 0.5f;
    }
    for (int vjp = 0; vjp < 2; vjp++) {
        act_program *used = compile(ctx, whole_src, ACT_ENGINE_JIT);
        act_program *fresh = compile(ctx, whole_src, ACT_ENGINE_JIT);
        backward_on(used, data[0], vjp);
        backward_on(used, data[1], vjp);
        backward_on(fresh, data[1], vjp);
        for (size_t g = 0; g < sizeof grads / sizeof *grads; g++) {
            int64_t shape[4];
            int rank;
            act_error err = {0};
            const float *a = act_get(used, grads[g], shape, &rank, &err);
            const float *b = act_get(fresh, grads[g], NULL, NULL, &err);
            assert_non_null(a);
            assert_non_null(b);
            assert_memory_equal(a, b, (size_t)rt_count(shape, rank) * sizeof *a);
        }
        act_program_free(used);
        act_program_free(fresh);
    }
    act_context_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cache_keeps_entries_of_live_programs),
        cmocka_unit_test(test_zero_sizes),
        cmocka_unit_test(test_maxout_over_size_names),
        cmocka_unit_test(test_output_gradient_shape_and_data_are_checked),
        cmocka_unit_test(test_deep_derivative),
        cmocka_unit_test(test_long_sums_agree),
        cmocka_unit_test(test_broadcast_gradients),
        cmocka_unit_test(test_scalar_loops_are_vectorised),
        cmocka_unit_test(test_backward_reads_kept_outputs),
        cmocka_unit_test(test_gradient_of_unset_input),
        cmocka_unit_test(test_failed_run_keeps_results),
        cmocka_unit_test(test_gradients_are_whole_on_every_run),
        cmocka_unit_test(test_shared_gradients_reach_both_inputs),
        cmocka_unit_test(test_big_results_stored_past_the_caches),
        cmocka_unit_test(test_deep_residual_chain),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
