/* bench.h -- the benchmark's shared pieces: a kernel is one timed operation
   (a closure), peers build kernels for the rows of bench/run.sh, and the
   driver times them all the same way (median of repeated samples after
   warm-up) and prints one markdown table. */
#ifndef ACT_BENCH_H
#define ACT_BENCH_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One timed operation. run(state) does the whole operation once; destroy
   (may be NULL) frees state. Inputs and outputs belong to the caller. */
typedef struct bench_kernel {
    void (*run)(void *state);
    void (*destroy)(void *state);
    void *state;
} bench_kernel;

/* The elementwise functions of rows 1 and 2, with PyTorch's defaults:
   elu alpha = 1, softplus beta = 1 (threshold 20), swish = x*sigmoid(x),
   gelu_erf = x/2 (1 + erf(x/sqrt 2)), gelu_tanh = x/2 (1 + tanh(sqrt(2/pi)(x + 0.044715 x^3))),
   mish = x tanh(softplus(x)). */
typedef enum {
    BF_SIGMOID,
    BF_TANH,
    BF_GELU_ERF,
    BF_GELU_TANH,
    BF_SWISH,
    BF_ELU,
    BF_SOFTPLUS,
    BF_MISH,
    BF_RELU,
    BF_COUNT
} bench_func;

extern const char *const bench_func_name[BF_COUNT]; /* "sigmoid", "tanh", "gelu_erf", ... */

/* Median seconds of one run: 3 warm-up runs, then samples until at least
   min_samples and min_seconds of samples. */
double bench_time(const bench_kernel *k, int min_samples, double min_seconds);
/* The same for nk kernels (at most BENCH_IN_TURN_MAX) run in turn, sample
   by sample, so that a noisy host's slow spells fall on all of them: their
   medians in med[]. */
enum { BENCH_IN_TURN_MAX = 3 };
void bench_time_in_turn(const bench_kernel *const *k, int nk, int min_samples, double min_seconds,
                        double *med);
/* Seconds of CLOCK_MONOTONIC. */
double bench_now(void);
void bench_kernel_free(bench_kernel *k);

/* Memory: 64-byte aligned, zeroed, NULL when out of memory; free with bench_free. */
float *bench_alloc(size_t n);
void bench_free(float *p);
/* x[i] uniform in [lo, hi), from a seeded generator (the same seed gives the same data). */
void bench_fill(float *x, size_t n, float lo, float hi, uint64_t seed);

/* Distance in units in the last place of float between got and the exact
   value want (long double), both NaN = 0, one NaN = huge. */
double bench_ulp(float got, long double want);
/* The long-double reference of f at x, and of its derivative. */
long double bench_ref(bench_func f, long double x);
long double bench_ref_grad(bench_func f, long double x);

/* Peers: each fills *k and returns 0, or returns -1 when the peer does not
   offer f (or failed); a peer library missing at build time is compiled out
   and its functions return -1. */
typedef int (*bench_eltwise_peer)(bench_func f, const float *x, float *y, long n, bench_kernel *k);

#ifdef __cplusplus
}
#endif
#endif
