/* rows_dense.c -- row 4 (dense + bias + activation: act's fused kernel
   against oneDNN's fused matmul, LIBXSMM and OpenBLAS each with a separate
   pass), row 5 (an MLP training step) and row 8 (two threads against one). */
#include "driver.h"
#include "peers.h"

#include <stdlib.h>
#include <string.h>

typedef int (*dense_peer)(long, long, long, bench_func, const float *, const float *, const float *,
                          float *, bench_kernel *);
static const dense_peer dense_peers[P_COUNT] = {
    [P_DNNL] = peer_dnnl_dense, [P_XSMM] = peer_xsmm_dense, [P_OPENBLAS] = peer_openblas_dense};

void row_dense(const bench_options *o, const bench_machine *m, act_context *ctx)
{
    static const long shape[4][3] = {
        {1, 512, 512}, {32, 128, 128}, {64, 784, 256}, {256, 1024, 1024}};
    static const bench_func acts[2] = {BF_RELU, BF_GELU_ERF};
    for (int s = 0; s < 4; s++) {
        long M = shape[s][0], K = shape[s][1], N = shape[s][2];
        float *x = bench_alloc((size_t)(M * K)), *w = bench_alloc((size_t)(K * N)),
              *b = bench_alloc((size_t)N), *y = bench_alloc((size_t)(M * N));
        bench_fill(x, (size_t)(M * K), -1, 1, 31);
        bench_fill(w, (size_t)(K * N), -0.1f, 0.1f, 32);
        bench_fill(b, (size_t)N, -0.1f, 0.1f, 33);
        for (int a = 0; a < 2; a++) {
            char src[512];
            snprintf(src, sizeof src,
                     "act 1\ngraph g {\n input x : f32[M, %ld]\n param W : f32[%ld, %ld] = zeros\n"
                     " param b : f32[%ld] = zeros\n y = %s(dense(x, W, b))\n output y\n}\n",
                     K, K, N, N, acts[a] == BF_RELU ? "relu" : "gelu");
            ak_tensor t[3] = {
                {"x", x, {M, K}, 2, false}, {"W", w, {K, N}, 2, false}, {"b", b, {N}, 1, false}};
            double flops = 2.0 * (double)M * (double)K * (double)N;
            bench_line l = line_new(4, "GFLOP/s", "dense + bias + %s, %ld x %ld x %ld",
                                    bench_func_name[acts[a]], M, K, N);
            l.ceiling = m->fma_gflops;
            bench_kernel k;
            if (!ak_new(ctx, src, t, 3, AK_FORWARD, 1, &k))
                l.act = bench_rate(o, &k, flops);
            for (int p = 0; p < P_COUNT; p++)
                if (dense_peers[p] && !dense_peers[p](M, K, N, acts[a], x, w, b, y, &k))
                    l.peer[p] = bench_rate(o, &k, flops);
            table_add(&l);
        }
        bench_free(x);
        bench_free(w);
        bench_free(b);
        bench_free(y);
    }
}

char *bench_read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *s = f ? calloc(1, 1 << 16) : NULL;
    if (s)
        fread(s, 1, (1 << 16) - 1, f);
    if (f)
        fclose(f);
    if (!s) {
        fprintf(stderr, "bench: cannot read %s\n", path);
        exit(1);
    }
    return s;
}

/* The act MLP step at batch `batch`: data as the peers make theirs (x
   uniform in [-1, 1), one-hot targets), weights from the graph's initialisers. */
int act_mlp_step(const bench_options *o, act_context *ctx, long batch, int threads, bench_kernel *k)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/bench/mlp784.act", o->source_dir);
    char *src = bench_read_text(path);
    float *x = bench_alloc((size_t)(batch * 784)), *t = bench_alloc((size_t)(batch * 10));
    bench_fill(x, (size_t)(batch * 784), -1, 1, 41);
    for (long i = 0; i < batch; i++)
        t[i * 10 + (i * 7 + 3) % 10] = 1;
    ak_tensor in[2] = {{"x", x, {batch, 784}, 2, false}, {"t", t, {batch, 10}, 2, false}};
    int rc = ak_new(ctx, src, in, 2, AK_SGD, threads, k);
    free(src);
    bench_free(x);
    bench_free(t);
    return rc;
}

/* act's step and the peers' run in turn, sample by sample: one after the
   other, a slow spell of the host on one of them moved the ratio from 0.87
   to 1.64 between runs of one build. */
void row_mlp(const bench_options *o, act_context *ctx)
{
    static const long batches[2] = {64, 256};
    for (int i = 0; i < 2; i++) {
        bench_line l =
            line_new(5, "steps/s", "MLP 784-256-256-10 training step, batch %ld", batches[i]);
        bench_kernel k[3];
        const bench_kernel *run[3];
        double *rate[3], t[3];
        int n = 0;
        if (!act_mlp_step(o, ctx, batches[i], 1, &k[n]))
            rate[n] = &l.act, run[n] = &k[n], n++;
        if (!peer_dnnl_mlp_step(batches[i], 1, &k[n]))
            rate[n] = &l.peer[P_DNNL], run[n] = &k[n], n++;
        if (!peer_openblas_mlp_step(batches[i], 1, &k[n]))
            rate[n] = &l.peer[P_OPENBLAS], run[n] = &k[n], n++;
        if (n)
            bench_time_in_turn(run, n, o->min_samples, o->min_seconds, t);
        for (int j = 0; j < n; j++) {
            *rate[j] = 1 / t[j];
            bench_kernel_free(&k[j]);
        }
        table_add(&l);
    }
}

/* The rates of kernels a (2 threads) and b (1) timed in turn, both freed:
   a shared, noisy host's slow spells fall on both (row 8 read 1.43x and
   1.90x in two runs of one build when they ran one after the other). */
static void rates_in_turn(const bench_options *o, bench_kernel *a, bench_kernel *b, double units,
                          double *ra, double *rb)
{
    const bench_kernel *both[2] = {a, b};
    double t[2];
    bench_time_in_turn(both, 2, o->min_samples, o->min_seconds, t);
    *ra = units / t[0] * 1e-9;
    *rb = units / t[1] * 1e-9;
    bench_kernel_free(a);
    bench_kernel_free(b);
}

void row_threads(const bench_options *o, act_context *ctx)
{
    /* the ceiling of compute-bound work: two cores of a VM may share more
       than their caches (Zen 3 here: 1.6-1.9x one core's FMA rate) */
    double fma2 = machine_fma_threads(o);
    bench_line fma = line_new(8, "x one thread", "peak float FMA rate, 2 threads");
    fma.ceiling = fma2;
    table_add(&fma);
    bench_line lines[3];
    lines[0] = line_new(8, "steps/s", "MLP training step, batch 256, 2 threads");
    bench_kernel k, one;
    if (!act_mlp_step(o, ctx, 256, 2, &k) && !act_mlp_step(o, ctx, 256, 1, &one))
        rates_in_turn(o, &k, &one, 1e9, &lines[0].act, &lines[0].ref);
    static const char *const fns[2] = {"sigmoid(x)", "gelu(x)"};
    long n = o->quick ? 262144 : 16777216;
    float *x = bench_alloc((size_t)n);
    bench_fill(x, (size_t)n, -8, 8, 51);
    for (int f = 0; f < 2; f++) {
        char src[256];
        snprintf(src, sizeof src, "act 1\ngraph g {\n input x : f32[N]\n y = %s\n output y\n}\n",
                 fns[f]);
        ak_tensor t = {"x", x, {n}, 1, false};
        bench_line *l = &lines[1 + f];
        *l = line_new(8, "Gelem/s", "%.*s forward, %ld floats, 2 threads",
                      (int)strcspn(fns[f], "("), fns[f], n);
        if (!ak_new(ctx, src, &t, 1, AK_FORWARD, 2, &k) &&
            !ak_new(ctx, src, &t, 1, AK_FORWARD, 1, &one))
            rates_in_turn(o, &k, &one, (double)n, &l->act, &l->ref);
    }
    bench_free(x);
    /* the peers' MLP last: OpenBLAS's and OpenMP's idle threads spin for a
       while, and on this 2-core machine took the second core from act's
       worker (sigmoid at 256K on 2 threads read 0.79x one thread after
       them, 1.45x before) */
    if (!peer_dnnl_mlp_step(256, 2, &k))
        lines[0].peer[P_DNNL] = bench_rate(o, &k, 1e9);
    if (!peer_openblas_mlp_step(256, 2, &k))
        lines[0].peer[P_OPENBLAS] = bench_rate(o, &k, 1e9);
    for (int i = 0; i < 3; i++) {
        lines[i].ref_name = "act, 1 thread";
        if (lines[i].ref > 0)
            lines[i].ceiling = fma2 * lines[i].ref;
        table_add(&lines[i]);
    }
}
