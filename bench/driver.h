/* driver.h -- the act side of the benchmark and its one results table: act
   kernels built from .act text, the machine's measured limits (row 0), and
   the rows 1..8, each comparing act with the peers of bench/peers.h. */
#ifndef ACT_BENCH_DRIVER_H
#define ACT_BENCH_DRIVER_H

#include "bench.h"

#include <act/act.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>

/* The peers' columns of the table. */
typedef enum {
    P_DNNL,
    P_SLEEF,
    P_EIGEN,
    P_LIBM,
    P_FASTMATH,
    P_XSMM,
    P_OPENBLAS,
    P_TORCH,
    P_COUNT
} peer_id;
extern const char *const peer_name[P_COUNT];

/* One line of the table. Figures are NAN where there is none. */
typedef struct {
    int row;
    char name[160];
    const char *unit;  /* "Gelem/s", "GFLOP/s", "steps/s", "ms", "GB/s", "GFLOP/s peak" */
    bool lower_better; /* latencies */
    double act, act_ulp;
    double ceiling; /* the machine's bound, or the target where there is no bound */
    double peer[P_COUNT], peer_ulp[P_COUNT];
    const char *ref_name; /* compare act with this instead of the best peer (row 8) */
    double ref;
} bench_line;

/* A line with every figure NAN. */
bench_line line_new(int row, const char *unit, const char *fmt, ...);
void table_add(const bench_line *l);
void table_print(FILE *out);

/* Options of the run. */
typedef struct {
    double min_seconds; /* per timed figure */
    int min_samples;
    bool quick;       /* smaller sizes and sweeps, for a smoke test */
    const char *self; /* argv[0], for child processes */
    const char *source_dir;
} bench_options;

/* An act program as a kernel. pass: forward, backward (act_backward, which
   runs the forward pass too, but reads the outputs a run on the same data
   kept: from the second run on, the backward pass alone), a step on new
   data (act_set of the first tensor, then act_backward: the forward pass
   every run, with the gradient in the same pass where they fuse) or an SGD
   step (act_sgd_step, learning rate 0.01). */
typedef enum { AK_FORWARD, AK_BACKWARD, AK_STEP, AK_SGD } ak_pass;
typedef struct {
    const char *name;
    const float *data;
    int64_t shape[4];
    int rank;
    bool output_grad; /* given with act_set_output_grad */
} ak_tensor;
int ak_new(act_context *ctx, const char *source, const ak_tensor *t, int nt, ak_pass pass,
           int threads, bench_kernel *k);
/* A result of the kernel's program (after a run), borrowed. */
const float *ak_get(bench_kernel *k, const char *name);

/* units per second, in billions, of the median run of k; frees k. */
double bench_rate(const bench_options *o, bench_kernel *k, double units);

/* The whole text of a file (exits when unreadable); caller frees. */
char *bench_read_text(const char *path);
/* act's MLP 784 SGD step (bench/mlp784.act) at a batch, as a kernel. */
int act_mlp_step(const bench_options *o, act_context *ctx, long batch, int threads,
                 bench_kernel *k);

/* Machine limits (row 0), measured once. */
typedef struct {
    double copy_gbs[4],
        stream_gbs[4];  /* read + written bytes per second at 4K, 256K, 16M, 64M floats */
    double read_gbs[4]; /* bytes read per second (a sum), at the same sizes */
    double fma_gflops;  /* one core, float */
    double page_us;     /* a 4 KB page of new memory, made ready and written */
} bench_machine;
void machine_measure(const bench_options *o, bench_machine *m);
/* How many times one core's FMA rate two threads reach, timed in turn
   with one (row 8's ceiling; the process must be free to use two cores). */
double machine_fma_threads(const bench_options *o);
/* The copy bound in GB/s for a working set of n floats per stream. */
double machine_copy_bound(const bench_machine *m, long n);

void row_eltwise(const bench_options *o, const bench_machine *m, act_context *ctx); /* rows 1, 2 */
void row_softmax(const bench_options *o, const bench_machine *m, act_context *ctx); /* row 3 */
void row_dense(const bench_options *o, const bench_machine *m, act_context *ctx);   /* row 4 */
void row_mlp(const bench_options *o, act_context *ctx);                             /* row 5 */
void row_latency(const bench_options *o, act_context *ctx);                         /* row 6 */
void row_formula(const bench_options *o, const bench_machine *m, act_context *ctx); /* row 7 */
void row_threads(const bench_options *o, act_context *ctx);                         /* row 8 */
/* The child process of row 6: prints the latencies of a fresh process. */
int latency_child(const char *source_dir);

#endif
