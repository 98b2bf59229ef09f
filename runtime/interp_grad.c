/* interp_grad.c -- the reference interpreter's backward ops (see ir.h for
   each op's formula), in double precision. */
#include "rt.h"

#include <math.h>
#include <string.h>

/* g = dY [R, M], w = W [K, M] -> dY · Wᵀ [R, K] */
static void matmul_nt(const rt_tensor *g, const rt_tensor *w, rt_tensor *y)
{
    int64_t rows, m, k = w->shape[0];
    rt_rows(g, &rows, &m);
    for (int64_t r = 0; r < rows; r++)
        for (int64_t i = 0; i < k; i++) {
            double s = 0;
            for (int64_t j = 0; j < m; j++)
                s += g->data[r * m + j] * w->data[i * m + j];
            y->data[r * k + i] = s;
        }
}

/* x = X [R, K], g = dY [R, M] -> Xᵀ · dY [K, M] */
static void matmul_tn(const rt_tensor *x, const rt_tensor *g, rt_tensor *y)
{
    int64_t rows, k, m;
    rt_rows(x, &rows, &k);
    rt_rows(g, &rows, &m);
    for (int64_t r = 0; r < rows; r++)
        for (int64_t i = 0; i < k; i++)
            for (int64_t j = 0; j < m; j++)
                y->data[i * m + j] += x->data[r * k + i] * g->data[r * m + j];
}

typedef struct {
    double *y;
    const double *g;
} sum_to;

static void sum_one(void *ctx, int64_t o, int64_t ia, int64_t ib)
{
    sum_to *c = ctx;
    (void)ib;
    c->y[ia] += c->g[o];
}

/* Sums g over the dims along which y was broadcast (y is zeroed). */
static void sum_to_shape(const rt_tensor *g, rt_tensor *y)
{
    rt_broadcast2(g, y, y, sum_one, &(sum_to){y->data, g->data});
}

static void softmax_grad(const ir_value *v, const rt_tensor *y, const rt_tensor *g, rt_tensor *dx)
{
    int64_t outer, len, inner;
    rt_axis_split(y, v->attr[0], &outer, &len, &inner);
    for (int64_t o = 0; o < outer; o++)
        for (int64_t in = 0; in < inner; in++) {
            int64_t base = o * len * inner + in;
            double s = 0;
            for (int64_t j = 0; j < len; j++) {
                int64_t i = base + j * inner;
                s += v->op == IR_SOFTMAX_GRAD ? g->data[i] * y->data[i] : g->data[i];
            }
            for (int64_t j = 0; j < len; j++) {
                int64_t i = base + j * inner;
                dx->data[i] = v->op == IR_SOFTMAX_GRAD ? y->data[i] * (g->data[i] - s)
                                                       : g->data[i] - exp(y->data[i]) * s;
            }
        }
}

/* Gradients of softmax cross-entropy: dL * (softmax(z) * sum(t) - t) / rows
   for the logits, -dL * log_softmax(z) / rows for the target. */
static void sce_grad(const ir_value *v, const rt_tensor *z, const rt_tensor *t, double dl,
                     rt_tensor *dx)
{
    int64_t rows, c;
    rt_rows(z, &rows, &c);
    for (int64_t r = 0; r < rows; r++) {
        const double *zr = z->data + r * c, *tr = t->data + r * c;
        double lse = rt_row_logsumexp(zr, c), tsum = 0;
        for (int64_t j = 0; j < c; j++)
            tsum += tr[j];
        for (int64_t j = 0; j < c; j++)
            dx->data[r * c + j] = v->op == IR_SCE_GRAD_LOGITS
                                      ? dl * (exp(zr[j] - lse) * tsum - tr[j]) / (double)rows
                                      : -dl * (zr[j] - lse) / (double)rows;
    }
}

static double pointwise_loss_grad(ir_op op, double x, double t, double dl, double n)
{
    switch (op) {
    case IR_BCE_GRAD_X:
        return dl * (1 / (1 + exp(-x)) - t) / n;
    case IR_BCE_GRAD_T:
        return -dl * x / n;
    case IR_MSE_GRAD_Y:
        return dl * 2 * (x - t) / n;
    default: /* IR_MSE_GRAD_T */
        return -dl * 2 * (x - t) / n;
    }
}

static void prelu_grad_slope(const rt_tensor *x, const rt_tensor *g, rt_tensor *ds)
{
    for (int64_t i = 0; i < x->n; i++)
        if (!(x->data[i] > 0))
            ds->data[ds->n == 1 ? 0 : i % ds->n] += x->data[i] * g->data[i];
}

void rt_interp_grad(const ir_value *v, rt_tensor *t)
{
    rt_tensor *y = &t[v->id];
    const rt_tensor *a = v->nargs > 0 ? &t[v->args[0]->id] : NULL;
    const rt_tensor *b = v->nargs > 1 ? &t[v->args[1]->id] : NULL;
    const rt_tensor *c = v->nargs > 2 ? &t[v->args[2]->id] : NULL;
    switch (v->op) {
    case IR_ONE:
        y->data[0] = 1;
        break;
    case IR_ACT_GRAD:
        for (int64_t i = 0; i < y->n; i++)
            y->data[i] = ir_expr_eval(v->act->df, a->data[i], b->data[i], v->attr) * c->data[i];
        break;
    case IR_MATMUL_NT:
        matmul_nt(a, b, y);
        break;
    case IR_MATMUL_TN:
        matmul_tn(a, b, y);
        break;
    case IR_SUM_TO:
        sum_to_shape(a, y);
        break;
    case IR_ACCUM:
        for (int64_t i = 0; i < y->n; i++)
            y->data[i] = a->data[i] + b->data[i];
        break;
    case IR_PRELU_GRAD_X:
        for (int64_t i = 0; i < y->n; i++)
            y->data[i] =
                a->data[i] > 0 ? c->data[i] : b->data[b->n == 1 ? 0 : i % b->n] * c->data[i];
        break;
    case IR_PRELU_GRAD_SLOPE:
        prelu_grad_slope(a, b, y);
        break;
    case IR_RRELU_GRAD:
        for (int64_t i = 0; i < y->n; i++)
            y->data[i] = a->data[i] > 0 ? b->data[i] : rt_rrelu_slope(v->attr, i) * b->data[i];
        break;
    case IR_MAXOUT_GRAD: {
        int64_t k = (int64_t)v->attr[0];
        for (int64_t g = 0; g < b->n; g++)
            y->data[g * k + rt_maxout_arg(a->data + g * k, k)] = b->data[g];
        break;
    }
    case IR_SOFTMAX_GRAD:
    case IR_LOG_SOFTMAX_GRAD:
        softmax_grad(v, a, b, y);
        break;
    case IR_SCE_GRAD_LOGITS:
    case IR_SCE_GRAD_TARGET:
        sce_grad(v, a, b, c->data[0], y);
        break;
    default: /* BCE and MSE gradients */
        for (int64_t i = 0; i < y->n; i++)
            y->data[i] =
                pointwise_loss_grad(v->op, a->data[i], b->data[i], c->data[0], (double)a->n);
        break;
    }
}
