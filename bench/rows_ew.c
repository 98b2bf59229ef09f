/* rows_ew.c -- rows 1 and 2: elementwise forward y = f(x) (act against libm,
   fast-math, SLEEF, Eigen and oneDNN, each with its max ULP on one sweep) and
   elementwise backward from the saved output or the input. */
#include "driver.h"
#include "peers.h"

#include <stdlib.h>

static const char *const act_call[BF_COUNT] = {
    "sigmoid(x)",  "tanh(x)", "gelu(x)", "gelu(x, approximate = \"tanh\")", "silu(x)", "elu(x)",
    "softplus(x)", "mish(x)", "relu(x)"};

static const bench_eltwise_peer fwd_peer[P_COUNT] = {
    [P_DNNL] = peer_dnnl_fwd, [P_SLEEF] = peer_sleef_fwd,       [P_EIGEN] = peer_eigen_fwd,
    [P_LIBM] = peer_libm_fwd, [P_FASTMATH] = peer_fastmath_fwd,
};

typedef int (*bwd_peer)(bench_func, const float *, const float *, float *, long, bench_kernel *);
static const bwd_peer bwd_peers[P_COUNT] = {
    [P_DNNL] = peer_dnnl_bwd, [P_LIBM] = peer_libm_bwd, [P_FASTMATH] = peer_fastmath_bwd};

static int act_eltwise(act_context *ctx, bench_func f, const float *x, const float *dy, long n,
                       ak_pass pass, int threads, bench_kernel *k)
{
    char src[256];
    snprintf(src, sizeof src, "act 1\ngraph g {\n input x : f32[N]\n y = %s\n output y\n}\n",
             act_call[f]);
    ak_tensor t[2] = {{"x", x, {n}, 1, false}, {"y", dy, {n}, 1, true}};
    return ak_new(ctx, src, t, dy ? 2 : 1, pass, threads, k);
}

double bench_rate(const bench_options *o, bench_kernel *k, double units)
{
    double r = units / bench_time(k, o->min_samples, o->min_seconds) * 1e-9;
    bench_kernel_free(k);
    return r;
}

/* The sweep of the ULP column: random sign, |x| log-uniform in [1e-6, 100]. */
static float *sweep(long n)
{
    float *x = bench_alloc((size_t)n), *u = bench_alloc((size_t)n);
    if (!x || !u)
        exit(1);
    bench_fill(u, (size_t)n, 0, 1, 7);
    for (long i = 0; i < n; i++)
        x[i] = (i & 1 ? -1.0f : 1.0f) * (float)(1e-6 * pow(1e8, u[i]));
    bench_free(u);
    return x;
}

static double max_ulp(bench_func f, const float *x, const float *y, long n)
{
    double worst = 0;
    for (long i = 0; i < n; i++) {
        double u = bench_ulp(y[i], bench_ref(f, x[i]));
        worst = u > worst ? u : worst;
    }
    return worst;
}

/* Max ULP of act and of every forward peer on the sweep. */
static void sweep_ulps(const bench_options *o, act_context *ctx, bench_func f, double *act_ulp,
                       double *peer_ulp)
{
    long n = o->quick ? 65536 : 1 << 20;
    float *x = sweep(n), *y = bench_alloc((size_t)n);
    bench_kernel k;
    *act_ulp = NAN;
    if (!act_eltwise(ctx, f, x, NULL, n, AK_FORWARD, 1, &k)) {
        k.run(k.state);
        *act_ulp = max_ulp(f, x, ak_get(&k, "y"), n);
        bench_kernel_free(&k);
    }
    for (int p = 0; p < P_COUNT; p++) {
        peer_ulp[p] = NAN;
        if (fwd_peer[p] && !fwd_peer[p](f, x, y, n, &k)) {
            k.run(k.state);
            peer_ulp[p] = max_ulp(f, x, y, n);
            bench_kernel_free(&k);
        }
    }
    bench_free(x);
    bench_free(y);
}

static const long sizes[3] = {4096, 262144, 16777216};

void row_eltwise(const bench_options *o, const bench_machine *m, act_context *ctx)
{
    int nsizes = o->quick ? 2 : 3;
    for (int f = 0; f < BF_COUNT; f++) {
        double act_ulp, peer_ulp[P_COUNT];
        sweep_ulps(o, ctx, (bench_func)f, &act_ulp, peer_ulp);
        for (int s = 0; s < nsizes; s++) {
            long n = sizes[s];
            float *x = bench_alloc((size_t)n), *y = bench_alloc((size_t)n);
            bench_fill(x, (size_t)n, -8, 8, 11);
            bench_line l = line_new(1, "Gelem/s", "%s forward, %ld floats", bench_func_name[f], n);
            l.ceiling = machine_copy_bound(m, n) / 8;
            bench_kernel k;
            if (!act_eltwise(ctx, (bench_func)f, x, NULL, n, AK_FORWARD, 1, &k))
                l.act = bench_rate(o, &k, (double)n);
            l.act_ulp = act_ulp;
            for (int p = 0; p < P_COUNT; p++)
                if (fwd_peer[p] && !fwd_peer[p]((bench_func)f, x, y, n, &k)) {
                    l.peer[p] = bench_rate(o, &k, (double)n);
                    l.peer_ulp[p] = peer_ulp[p];
                }
            table_add(&l);
            bench_free(x);
            bench_free(y);
        }
    }
    static const bench_func bwd[4] = {BF_SIGMOID, BF_TANH, BF_ELU, BF_GELU_ERF};
    for (int i = 0; i < 4; i++) {
        bench_func f = bwd[i];
        for (int s = 0; s < nsizes; s++) {
            long n = sizes[s];
            float *x = bench_alloc((size_t)n), *y = bench_alloc((size_t)n),
                  *dy = bench_alloc((size_t)n), *dx = bench_alloc((size_t)n);
            bench_fill(x, (size_t)n, -8, 8, 11);
            bench_fill(dy, (size_t)n, -1, 1, 12);
            for (long j = 0; j < n; j++)
                y[j] = (float)bench_ref(f, x[j]);
            const float *saved = f == BF_GELU_ERF ? x : y;
            bench_line l = line_new(2, "Gelem/s",
                                    "%s backward from %s, %ld floats (act: act_backward, y kept)",
                                    bench_func_name[f], f == BF_GELU_ERF ? "x" : "y", n);
            l.ceiling = machine_copy_bound(m, n) / 12;
            bench_kernel k;
            if (!act_eltwise(ctx, f, x, dy, n, AK_BACKWARD, 1, &k))
                l.act = bench_rate(o, &k, (double)n);
            for (int p = 0; p < P_COUNT; p++)
                if (bwd_peers[p] && !bwd_peers[p](f, saved, dy, dx, n, &k))
                    l.peer[p] = bench_rate(o, &k, (double)n);
            table_add(&l);
            bench_free(x);
            bench_free(y);
            bench_free(dy);
            bench_free(dx);
        }
    }
}

void row_softmax(const bench_options *o, const bench_machine *m, act_context *ctx)
{
    static const long cols[3] = {10, 1000, 32000};
    const long rows = 256;
    for (int c = 0; c < 3; c++) {
        long n = rows * cols[c];
        float *x = bench_alloc((size_t)n), *y = bench_alloc((size_t)n),
              *dy = bench_alloc((size_t)n), *dx = bench_alloc((size_t)n);
        bench_fill(x, (size_t)n, -8, 8, 21);
        bench_fill(dy, (size_t)n, -1, 1, 22);
        char src[256];
        snprintf(
            src, sizeof src,
            "act 1\ngraph g {\n input x : f32[N, %ld]\n y = softmax(x, axis = -1)\n output y\n}\n",
            cols[c]);
        ak_tensor t[2] = {{"x", x, {rows, cols[c]}, 2, false}, {"y", dy, {rows, cols[c]}, 2, true}};
        for (int bwd = 0; bwd < 2; bwd++) {
            bench_line l =
                line_new(3, "Gelem/s", "softmax %s, %ld x %ld%s", bwd ? "backward" : "forward",
                         rows, cols[c], bwd ? " (act: act_backward, y kept)" : "");
            l.ceiling = machine_copy_bound(m, n) / (bwd ? 12 : 8);
            bench_kernel k;
            if (!ak_new(ctx, src, t, bwd ? 2 : 1, bwd ? AK_BACKWARD : AK_FORWARD, 1, &k))
                l.act = bench_rate(o, &k, (double)n);
            if (!(bwd ? peer_fastmath_softmax_bwd(y, dy, dx, rows, cols[c], &k)
                      : peer_fastmath_softmax_fwd(x, y, rows, cols[c], &k)))
                l.peer[P_FASTMATH] = bench_rate(o, &k, (double)n);
            if (!(bwd ? peer_dnnl_softmax_bwd(y, dy, dx, rows, cols[c], &k)
                      : peer_dnnl_softmax_fwd(x, y, rows, cols[c], &k)))
                l.peer[P_DNNL] = bench_rate(o, &k, (double)n);
            table_add(&l);
        }
        bench_free(x);
        bench_free(y);
        bench_free(dy);
        bench_free(dx);
    }
}
