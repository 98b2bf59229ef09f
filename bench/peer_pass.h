/* peer_pass.h -- pieces the dense-layer and MLP peers share (rows 4, 5 and
   6): the separate bias + activation pass that follows a plain GEMM, the
   MLP's seeded data and weights, its softmax cross-entropy gradient, bias
   gradient and SGD update, and a median for latency samples. Built -O3
   -march=native without -ffast-math, so gelu_erf calls libm's erff like a
   user's loop would. */
#ifndef ACT_BENCH_PEER_PASS_H
#define ACT_BENCH_PEER_PASS_H

#include "bench.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The pass's "no activation": bias add only (the MLP's logits). */
#define PEER_ACT_NONE BF_COUNT

/* y[i][j] = act(y[i][j] + b[j]) over an M x N row-major y; act is BF_RELU,
   BF_GELU_ERF or PEER_ACT_NONE. */
void peer_bias_act(float *y, const float *b, long M, long N, bench_func act);

/* The MLP of row 5: 784-256-256-10, relu, relu, logits. */
enum { PEER_MLP_LAYERS = 3, PEER_MLP_IN = 784, PEER_MLP_HID = 256, PEER_MLP_OUT = 10 };
#define PEER_MLP_LR 0.01f

extern const long peer_mlp_width[PEER_MLP_LAYERS + 1]; /* 784, 256, 256, 10 */

/* One network with its data. w[l] is width[l] x width[l + 1] row-major
   (y = x w + b), b[l] has width[l + 1] entries. Every MLP step kernel's
   state starts with its peer_mlp, so a test can read the parameters and the
   last loss through (peer_mlp *)k.state. */
typedef struct peer_mlp {
    long batch;
    float *x;                   /* batch x 784, uniform [-1, 1) */
    float *t;                   /* batch x 10 one-hot targets */
    float *w[PEER_MLP_LAYERS];  /* Glorot uniform */
    float *b[PEER_MLP_LAYERS];  /* zero */
    float *dw[PEER_MLP_LAYERS]; /* gradients, same shapes */
    float *db[PEER_MLP_LAYERS];
    float loss; /* of the last step's forward */
} peer_mlp;

/* Fills m from fixed seeds (every peer starts from the same network and
   data); returns -1 when out of memory, with m freed. */
int peer_mlp_init(peer_mlp *m, long batch);
void peer_mlp_fini(peer_mlp *m);

/* Softmax cross-entropy, mean over the batch: from the probabilities p and
   one-hot targets t (batch x classes), g = (p - t) / batch; returns the loss. */
float peer_mlp_ce_grad(const float *p, const float *t, float *g, long batch, long classes);

/* db[j] = sum_i g[i][j], the bias gradient of a rows x cols g. */
void peer_col_sum(const float *g, float *db, long rows, long cols);

/* p -= PEER_MLP_LR dp for every parameter of m. */
void peer_mlp_sgd(peer_mlp *m);

/* The median of t[0..n) (reorders t); n > 0. */
double peer_median(double *t, int n);

#ifdef __cplusplus
}
#endif
#endif
