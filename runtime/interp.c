/* interp.c -- the reference interpreter's forward ops: plain loops in double
   precision, written for clarity, not speed; every engine is checked against
   them. Backward ops are in interp_grad.c. */
#include "rt.h"

#include <math.h>
#include <string.h>

/* Calls fn for every element of the broadcast result shape `out`, with the
   offsets of the two operands. */
void rt_broadcast2(const rt_tensor *out, const rt_tensor *a, const rt_tensor *b,
                   void (*fn)(void *ctx, int64_t o, int64_t ia, int64_t ib), void *ctx)
{
    int64_t sa[IR_MAX_RANK], sb[IR_MAX_RANK], idx[IR_MAX_RANK] = {0};
    rt_broadcast_strides(a->shape, a->rank, out->shape, out->rank, sa);
    rt_broadcast_strides(b->shape, b->rank, out->shape, out->rank, sb);
    int64_t ia = 0, ib = 0;
    for (int64_t o = 0; o < out->n; o++) {
        fn(ctx, o, ia, ib);
        for (int d = out->rank - 1; d >= 0; d--) { /* odometer step */
            ia += sa[d];
            ib += sb[d];
            if (++idx[d] < out->shape[d])
                break;
            ia -= sa[d] * idx[d];
            ib -= sb[d] * idx[d];
            idx[d] = 0;
        }
    }
}

typedef struct {
    double *y;
    const double *a, *b;
    bool mul;
} binary;

static void binary_one(void *ctx, int64_t o, int64_t ia, int64_t ib)
{
    binary *c = ctx;
    c->y[o] = c->mul ? c->a[ia] * c->b[ib] : c->a[ia] + c->b[ib];
}

void rt_rows(const rt_tensor *t, int64_t *rows, int64_t *cols)
{
    *cols = t->rank ? t->shape[t->rank - 1] : 1;
    *rows = *cols ? t->n / *cols : 0;
}

static void dense(const rt_tensor *x, const rt_tensor *w, const rt_tensor *b, rt_tensor *y)
{
    int64_t rows, k, m = w->shape[1];
    rt_rows(x, &rows, &k);
    for (int64_t r = 0; r < rows; r++)
        for (int64_t j = 0; j < m; j++) {
            double s = b ? b->data[j] : 0;
            for (int64_t i = 0; i < k; i++)
                s += x->data[r * k + i] * w->data[i * m + j];
            y->data[r * m + j] = s;
        }
}

double rt_rrelu_slope(const double *attr, int64_t i)
{
    double lower = attr[0], upper = attr[1];
    if (attr[2] == 0)
        return (lower + upper) / 2;
    return lower + (upper - lower) * rt_rand_uniform((uint64_t)attr[3], (uint64_t)i);
}

int64_t rt_maxout_arg(const double *x, int64_t k)
{
    int64_t best = 0;
    for (int64_t j = 1; j < k; j++) /* ties go to the first; a NaN wins and stays */
        if (x[j] > x[best] || (isnan(x[j]) && !isnan(x[best])))
            best = j;
    return best;
}

void rt_axis_split(const rt_tensor *t, double axis, int64_t *outer, int64_t *len, int64_t *inner)
{
    int a = (int)axis < 0 ? (int)axis + t->rank : (int)axis;
    *outer = rt_count(t->shape, a);
    *len = t->shape[a];
    *inner = rt_count(t->shape + a + 1, t->rank - a - 1);
}

/* The max of n values at x[0], x[step], ..., a NaN winning. */
static double lane_max(const double *x, int64_t n, int64_t step)
{
    double mx = -INFINITY;
    for (int64_t j = 0; j < n; j++)
        mx = x[j * step] > mx || isnan(x[j * step]) ? x[j * step] : mx;
    return mx;
}

/* log(sum exp(x - mx)) of those values: the terms equal to the max (exactly
   1) are counted apart, and the log is log1p(count - 1 + the rest), exact
   also when the rest is tiny, where log(1 + rest) of a rounded sum is not. */
static double lane_log_sum(const double *x, int64_t n, int64_t step, double mx)
{
    double tops = 0, rest = 0;
    for (int64_t j = 0; j < n; j++) {
        double d = x[j * step] - mx;
        if (d == 0)
            tops += 1;
        else
            rest += exp(d);
    }
    return log1p((tops - 1) + rest);
}

/* Softmax or log-softmax along an axis, each lane shifted by its max so no
   finite input overflows. A lane holding +inf, or only -inf, gives NaN. */
static void softmax(const rt_tensor *x, rt_tensor *y, double axis, bool log_form)
{
    int64_t outer, len, inner;
    rt_axis_split(x, axis, &outer, &len, &inner);
    for (int64_t o = 0; o < outer; o++)
        for (int64_t in = 0; in < inner; in++) {
            const double *xs = x->data + o * len * inner + in;
            double *ys = y->data + o * len * inner + in;
            double mx = lane_max(xs, len, inner), sum = 0;
            for (int64_t j = 0; !log_form && j < len; j++)
                sum += exp(xs[j * inner] - mx);
            double log_sum = log_form ? lane_log_sum(xs, len, inner, mx) : 0;
            for (int64_t j = 0; j < len; j++)
                ys[j * inner] =
                    log_form ? xs[j * inner] - mx - log_sum : exp(xs[j * inner] - mx) / sum;
        }
}

double rt_row_logsumexp(const double *z, int64_t c)
{
    double mx = lane_max(z, c, 1);
    return mx + lane_log_sum(z, c, 1, mx);
}

static double loss(const ir_value *v, const rt_tensor *a, const rt_tensor *b)
{
    double s = 0;
    if (v->op == IR_SCE) {
        int64_t rows, c;
        rt_rows(a, &rows, &c);
        for (int64_t r = 0; r < rows; r++) {
            double lse = rt_row_logsumexp(a->data + r * c, c);
            for (int64_t j = 0; j < c; j++)
                s -= b->data[r * c + j] * (a->data[r * c + j] - lse);
        }
        return s / (double)rows;
    }
    for (int64_t i = 0; i < a->n; i++) {
        double x = a->data[i], t = b->data[i];
        s += v->op == IR_MSE ? (x - t) * (x - t) : fmax(x, 0) - x * t + log1p(exp(-fabs(x)));
    }
    return s / (double)a->n;
}

static void elementwise(const ir_value *v, const rt_tensor *x, const rt_tensor *s, rt_tensor *y)
{
    for (int64_t i = 0; i < x->n; i++) {
        double xi = x->data[i];
        switch (v->op) {
        case IR_SCALE:
            y->data[i] = v->attr[0] * xi;
            break;
        case IR_ACT:
            y->data[i] = ir_expr_eval(v->act->f_eval, xi, 0, v->attr);
            break;
        case IR_PRELU:
            y->data[i] = xi > 0 || isnan(xi) ? xi : s->data[s->n == 1 ? 0 : i % s->n] * xi;
            break;
        default: /* IR_RRELU */
            y->data[i] = xi > 0 || isnan(xi) ? xi : rt_rrelu_slope(v->attr, i) * xi;
            break;
        }
    }
}

void rt_interp_value(const ir_value *v, rt_tensor *t)
{
    rt_tensor *y = &t[v->id];
    const rt_tensor *a = v->nargs > 0 ? &t[v->args[0]->id] : NULL;
    const rt_tensor *b = v->nargs > 1 ? &t[v->args[1]->id] : NULL;
    switch (v->op) {
    case IR_DENSE:
        dense(a, b, v->nargs == 3 ? &t[v->args[2]->id] : NULL, y);
        break;
    case IR_ADD:
    case IR_MUL:
        rt_broadcast2(y, a, b, binary_one, &(binary){y->data, a->data, b->data, v->op == IR_MUL});
        break;
    case IR_SCALE:
    case IR_ACT:
    case IR_PRELU:
    case IR_RRELU:
        elementwise(v, a, b, y);
        break;
    case IR_MAXOUT: {
        int64_t k = (int64_t)v->attr[0];
        for (int64_t g = 0; g < y->n; g++)
            y->data[g] = a->data[g * k + rt_maxout_arg(a->data + g * k, k)];
        break;
    }
    case IR_SOFTMAX:
    case IR_LOG_SOFTMAX:
        softmax(a, y, v->attr[0], v->op == IR_LOG_SOFTMAX);
        break;
    case IR_SCE:
    case IR_BCE:
    case IR_MSE:
        y->data[0] = loss(v, a, b);
        break;
    default:
        rt_interp_grad(v, t);
        break;
    }
}
