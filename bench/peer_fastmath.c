/* peer_fastmath.c -- the fast-math peer of rows 1, 2 and 3: the formulas of
   formulas_f32.h and a textbook softmax, compiled -O3 -ffast-math
   -march=native so gcc vectorises every loop and calls glibc's libmvec
   (_ZGVeN16v_expf and friends) for the math functions. Fast-math also turns
   each vector division into vrcp14ps and one Newton step, which gives NaN
   for 1 / inf: sigmoid and swish return NaN where expf(-x) overflows
   (x < -88.7). -mno-recip would restore vdivps at no measurable cost; the
   peer keeps the flags users write. */
#include "formulas_f32.h"
#include "peers.h"

int peer_fastmath_fwd(bench_func f, const float *x, float *y, long n, bench_kernel *k)
{
    return ff_fwd_kernel(f, x, y, n, k);
}

int peer_fastmath_bwd(bench_func f, const float *saved, const float *dy, float *dx, long n,
                      bench_kernel *k)
{
    return ff_bwd_kernel(f, saved, dy, dx, n, k);
}

typedef struct softmax_state {
    const float *a, *b; /* x, or y and dy */
    float *out;
    long rows, cols;
} softmax_state;

/* Numerically stable: subtract the row's max so expf never overflows. */
static void softmax_row_fwd(const float *x, float *y, long n)
{
    float m = x[0];
    for (long j = 1; j < n; j++)
        m = fmaxf(m, x[j]);
    float sum = 0.0f;
    for (long j = 0; j < n; j++) {
        y[j] = expf(x[j] - m);
        sum += y[j];
    }
    float r = 1.0f / sum;
    for (long j = 0; j < n; j++)
        y[j] *= r;
}

static void softmax_row_bwd(const float *y, const float *dy, float *dx, long n)
{
    float dot = 0.0f;
    for (long j = 0; j < n; j++)
        dot += dy[j] * y[j];
    for (long j = 0; j < n; j++)
        dx[j] = y[j] * (dy[j] - dot);
}

static void softmax_run_fwd(void *state)
{
    softmax_state *s = state;
    for (long r = 0; r < s->rows; r++)
        softmax_row_fwd(s->a + r * s->cols, s->out + r * s->cols, s->cols);
}

static void softmax_run_bwd(void *state)
{
    softmax_state *s = state;
    for (long r = 0; r < s->rows; r++)
        softmax_row_bwd(s->a + r * s->cols, s->b + r * s->cols, s->out + r * s->cols, s->cols);
}

static int softmax_kernel(softmax_state proto, void (*run)(void *), bench_kernel *k)
{
    if (proto.rows < 1 || proto.cols < 1)
        return -1;
    softmax_state *s = malloc(sizeof *s);
    if (!s)
        return -1;
    *s = proto;
    *k = (bench_kernel){.run = run, .destroy = free, .state = s};
    return 0;
}

int peer_fastmath_softmax_fwd(const float *x, float *y, long rows, long cols, bench_kernel *k)
{
    return softmax_kernel((softmax_state){.a = x, .out = y, .rows = rows, .cols = cols},
                          softmax_run_fwd, k);
}

int peer_fastmath_softmax_bwd(const float *y, const float *dy, float *dx, long rows, long cols,
                              bench_kernel *k)
{
    return softmax_kernel((softmax_state){.a = y, .b = dy, .out = dx, .rows = rows, .cols = cols},
                          softmax_run_bwd, k);
}
