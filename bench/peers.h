/* peers.h -- the other libraries of the benchmark, each behind the same kind
   of factory: fill *k with a kernel doing the whole operation once and
   return 0, or return -1 when the peer does not offer it (or failed, or was
   missing at build time; then its file compiles to functions returning -1).
   Arrays are the caller's, 64-byte aligned, and outlive the kernel. Every
   peer runs single-threaded unless said otherwise. */
#ifndef ACT_BENCH_PEERS_H
#define ACT_BENCH_PEERS_H

#include "bench.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Row 1: y[i] = f(x[i]), i < n. */
int peer_libm_fwd(bench_func f, const float *x, float *y, long n,
                  bench_kernel *k); /* -O2 loop over libm's float functions */
int peer_fastmath_fwd(
    bench_func f, const float *x, float *y, long n,
    bench_kernel *k); /* the same loop, -O3 -ffast-math -march=native (glibc libmvec) */
int peer_sleef_fwd(bench_func f, const float *x, float *y, long n,
                   bench_kernel *k); /* SLEEF u10, 16 lanes */
int peer_eigen_fwd(bench_func f, const float *x, float *y, long n,
                   bench_kernel *k); /* Eigen array functions */
int peer_dnnl_fwd(bench_func f, const float *x, float *y, long n,
                  bench_kernel *k); /* oneDNN eltwise forward */

/* Row 2: dx[i] = dy[i] * f'(.), from the saved output y (sigmoid, tanh, elu:
   saved = y) or from the input (gelu_erf: saved = x). */
int peer_libm_bwd(bench_func f, const float *saved, const float *dy, float *dx, long n,
                  bench_kernel *k);
int peer_fastmath_bwd(bench_func f, const float *saved, const float *dy, float *dx, long n,
                      bench_kernel *k);
int peer_dnnl_bwd(bench_func f, const float *saved, const float *dy, float *dx, long n,
                  bench_kernel *k); /* *_use_dst_for_bwd where saved = y */

/* Row 3: softmax over the last axis of a rows x cols matrix.
   fwd: y = softmax(x); bwd: dx = y * (dy - sum_j dy_j y_j). */
int peer_fastmath_softmax_fwd(const float *x, float *y, long rows, long cols, bench_kernel *k);
int peer_fastmath_softmax_bwd(const float *y, const float *dy, float *dx, long rows, long cols,
                              bench_kernel *k);
int peer_dnnl_softmax_fwd(const float *x, float *y, long rows, long cols, bench_kernel *k);
int peer_dnnl_softmax_bwd(const float *y, const float *dy, float *dx, long rows, long cols,
                          bench_kernel *k);

/* Row 4: y = act(x W + b); x M x K, W K x N, y M x N row-major, b N;
   act is BF_RELU or BF_GELU_ERF. */
int peer_dnnl_dense(long M, long K, long N, bench_func act, const float *x, const float *w,
                    const float *b, float *y, bench_kernel *k);
int peer_xsmm_dense(long M, long K, long N, bench_func act, const float *x, const float *w,
                    const float *b, float *y, bench_kernel *k);
int peer_openblas_dense(long M, long K, long N, bench_func act, const float *x, const float *w,
                        const float *b, float *y, bench_kernel *k);

/* Row 5: one SGD training step (forward, backward, p -= 0.01 dp) of a
   784-256-256-10 MLP, relu, relu, softmax cross-entropy (mean over the
   batch), seeded inputs and one-hot targets, owned by the kernel.
   threads: 1 or 2 (row 8). */
int peer_dnnl_mlp_step(long batch, int threads, bench_kernel *k);
int peer_openblas_mlp_step(long batch, int threads, bench_kernel *k);

/* Row 6: median seconds to get code. */
int peer_dnnl_create_latency(int cache_hit,
                             double *seconds);   /* matmul + relu post-op, 64x784x256 */
int peer_xsmm_dispatch_latency(double *seconds); /* dispatch of a shape not seen before */

/* Row 7: the user formula softclip(x; a = 1) = log((1 + exp(a x)) / (1 + exp(a (x - 1)))) / a
   and the chain y = mish(2 (x + b)), as -O3 -ffast-math C loops.
   fwdbwd computes y and dx = dy * dy/dx in one pass (db = dx for the chain). */
int peer_fastmath_softclip_fwd(const float *x, float *y, long n, bench_kernel *k);
int peer_fastmath_softclip_fwdbwd(const float *x, const float *dy, float *y, float *dx, long n,
                                  bench_kernel *k);
int peer_fastmath_chain_fwd(const float *x, const float *b, float *y, long n, bench_kernel *k);
int peer_fastmath_chain_fwdbwd(const float *x, const float *b, const float *dy, float *y, float *dx,
                               long n, bench_kernel *k);

/* What each peer is and which code it runs on this CPU, e.g.
   "oneDNN 2.6.3 (avx512_core)", "OpenBLAS 0.3.21 (SkylakeX kernels)";
   NULL when the peer is missing. */
const char *peer_dnnl_describe(void);
const char *peer_openblas_describe(void);
const char *peer_xsmm_describe(void);
const char *peer_sleef_describe(void);
const char *peer_eigen_describe(void);

#ifdef __cplusplus
}
#endif
#endif
