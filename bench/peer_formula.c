/* peer_formula.c -- row 7's peer: the user formulas act fuses (softclip and
   the chain mish(2 (x + b))) written as the plain C loops a user would
   write, built -O3 -ffast-math -march=native so gcc vectorises the loops
   through glibc's libmvec (_ZGVeN16v_expf / _ZGVdN8v_expf ...; link
   -lmvec -lm).

   -ffast-math gives up inf/NaN handling and strict rounding: NaN inputs
   need not propagate, and softclip turns NaN once exp(a x) overflows (x
   above about 88). Like a user's loop these carry no guards against that,
   and no rewrites: the softclip derivative reuses the forward's two exps,
   the chain's sigmoid is the usual 1 / (1 + exp(-z)). */
#include "peers.h"

#include <math.h>
#include <stdlib.h>

#define SOFTCLIP_A 1.0f  /* softclip's sharpness a */
#define CHAIN_SCALE 2.0f /* the chain's scale s */

typedef struct formula_state {
    const float *x, *b, *dy;
    float *y, *dx;
    long n;
} formula_state;

/* softclip(x) = log((1 + exp(a x)) / (1 + exp(a (x - 1)))) / a */
static void softclip_fwd_run(void *p)
{
    const formula_state *s = p;
    const float *restrict x = s->x;
    float *restrict y = s->y;
    const float a = SOFTCLIP_A;
    for (long i = 0; i < s->n; i++)
        y[i] = logf((1.0f + expf(a * x[i])) / (1.0f + expf(a * (x[i] - 1.0f)))) / a;
}

/* softclip'(x) = sigmoid(a x) - sigmoid(a (x - 1)), sigmoid(u) = e^u / (1 + e^u)
   from the exps the forward already has. */
static void softclip_fwdbwd_run(void *p)
{
    const formula_state *s = p;
    const float *restrict x = s->x;
    const float *restrict dy = s->dy;
    float *restrict y = s->y;
    float *restrict dx = s->dx;
    const float a = SOFTCLIP_A;
    for (long i = 0; i < s->n; i++) {
        float e1 = expf(a * x[i]);
        float e2 = expf(a * (x[i] - 1.0f));
        y[i] = logf((1.0f + e1) / (1.0f + e2)) / a;
        dx[i] = dy[i] * (e1 / (1.0f + e1) - e2 / (1.0f + e2));
    }
}

/* mish(z) = z tanh(softplus(z)), softplus(z) = z above PyTorch's threshold 20 */
static void chain_fwd_run(void *p)
{
    const formula_state *s = p;
    const float *restrict x = s->x;
    const float *restrict b = s->b;
    float *restrict y = s->y;
    for (long i = 0; i < s->n; i++) {
        float z = CHAIN_SCALE * (x[i] + b[i]);
        float sp = z > 20.0f ? z : log1pf(expf(z));
        y[i] = z * tanhf(sp);
    }
}

/* mish'(z) = tanh(sp) + z (1 - tanh(sp)^2) sigmoid(z); dx = dy s mish'(z) */
static void chain_fwdbwd_run(void *p)
{
    const formula_state *s = p;
    const float *restrict x = s->x;
    const float *restrict b = s->b;
    const float *restrict dy = s->dy;
    float *restrict y = s->y;
    float *restrict dx = s->dx;
    for (long i = 0; i < s->n; i++) {
        float z = CHAIN_SCALE * (x[i] + b[i]);
        float e = expf(z);
        float sp = z > 20.0f ? z : log1pf(e);
        float t = tanhf(sp);
        float sig = 1.0f / (1.0f + expf(-z));
        y[i] = z * t;
        dx[i] = dy[i] * CHAIN_SCALE * (t + z * (1.0f - t * t) * sig);
    }
}

static int make_kernel(void (*run)(void *), const float *x, const float *b, const float *dy,
                       float *y, float *dx, long n, bench_kernel *k)
{
    formula_state *s = malloc(sizeof *s);
    if (!s)
        return -1;
    *s = (formula_state){.x = x, .b = b, .dy = dy, .y = y, .dx = dx, .n = n};
    *k = (bench_kernel){.run = run, .destroy = free, .state = s};
    return 0;
}

int peer_fastmath_softclip_fwd(const float *x, float *y, long n, bench_kernel *k)
{
    return make_kernel(softclip_fwd_run, x, NULL, NULL, y, NULL, n, k);
}

int peer_fastmath_softclip_fwdbwd(const float *x, const float *dy, float *y, float *dx, long n,
                                  bench_kernel *k)
{
    return make_kernel(softclip_fwdbwd_run, x, NULL, dy, y, dx, n, k);
}

int peer_fastmath_chain_fwd(const float *x, const float *b, float *y, long n, bench_kernel *k)
{
    return make_kernel(chain_fwd_run, x, b, NULL, y, NULL, n, k);
}

int peer_fastmath_chain_fwdbwd(const float *x, const float *b, const float *dy, float *y, float *dx,
                               long n, bench_kernel *k)
{
    return make_kernel(chain_fwdbwd_run, x, b, dy, y, dx, n, k);
}
