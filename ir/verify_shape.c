/* verify_shape.c -- shape inference for one call, per the op table of
   ACT-LANGUAGE.md. Size names are compared by name: N equals only N, and
   only the literal 1 broadcasts. */
#include "ir.h"

#include <stdlib.h>
#include <string.h>

static bool dim_eq(const ir_shape *a, int i, const ir_shape *b, int j)
{
    if (a->sym[i] || b->sym[j])
        return a->sym[i] && b->sym[j] && !strcmp(a->sym[i], b->sym[j]);
    return a->dim[i] == b->dim[j];
}

static bool is_one(const ir_shape *s, int i)
{
    return !s->sym[i] && s->dim[i] == 1;
}

static void copy_dim(ir_shape *to, int i, const ir_shape *from, int j)
{
    to->dim[i] = from->dim[j];
    to->sym[i] = from->sym[j];
}

static const char *or_unknown(const char *s)
{
    return s ? s : "?";
}

static const char *dim_str(ir_arena *a, const ir_shape *s, int i)
{
    return s->sym[i] ? s->sym[i] : or_unknown(ir_sprintf(a, "%lld", (long long)s->dim[i]));
}

/* Argument i as the user wrote it with its shape: "x f32[N, 784]", or
   "relu(...) f32[N, 10]" for a nested call. */
static const char *arg_str(ir_arena *a, const ir_value *v, int i)
{
    const ir_value *w = v->args[i];
    const char *shape = or_unknown(ir_shape_str(a, &w->shape));
    if (w->name)
        return or_unknown(ir_sprintf(a, "%s %s", w->name, shape));
    return or_unknown(ir_sprintf(a, "%s(...) %s", w->callee, shape));
}

static const char *arg_name(ir_arena *a, const ir_value *v, int i)
{
    const ir_value *w = v->args[i];
    return w->name ? w->name : or_unknown(ir_sprintf(a, "%s(...)", w->callee));
}

static int mismatch(const ir_value *v, act_error *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int mismatch(const ir_value *v, act_error *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = act_error_vat(err, v->callee_pos, ACT_ERR_SHAPE, fmt, ap);
    va_end(ap);
    return rc;
}

/* The value of the named op argument, defaults filled by the verifier. */
static double attr(const ir_value *v, const char *name)
{
    const ir_op_info *info = ir_op_find(v->callee);
    for (int i = 0; info && i < info->params.n; i++)
        if (!strcmp(info->params.p[i].name, name))
            return v->attr[i];
    return 0;
}

static ir_pos named_pos(const ir_value *v, const char *name)
{
    for (int i = 0; i < v->nnamed; i++)
        if (!strcmp(v->named[i].name, name))
            return v->named[i].pos;
    return v->callee_pos;
}

/* dense(x [.., K], W [K, M], b [M]) -> [.., M] */
static int infer_dense(ir_arena *a, ir_value *v, act_error *err)
{
    const ir_shape *x = &v->args[0]->shape, *w = &v->args[1]->shape;
    int last = x->rank - 1;
    if (w->rank != 2)
        return mismatch(v, err, "expected %s to be a matrix f32[K, M], found %s", arg_name(a, v, 1),
                        or_unknown(ir_shape_str(a, w)));
    if (!dim_eq(x, last, w, 0))
        return mismatch(v, err, "expected %s to have %s rows to match %s, found %s",
                        arg_name(a, v, 1), dim_str(a, x, last), arg_str(a, v, 0),
                        or_unknown(ir_shape_str(a, w)));
    if (v->nargs == 3) {
        const ir_shape *b = &v->args[2]->shape;
        if (b->rank != 1 || !dim_eq(b, 0, w, 1))
            return mismatch(v, err, "expected %s to be f32[%s] to match %s, found %s",
                            arg_name(a, v, 2), dim_str(a, w, 1), arg_str(a, v, 1),
                            or_unknown(ir_shape_str(a, b)));
    }
    v->shape = *x;
    copy_dim(&v->shape, last, w, 1);
    return 0;
}

/* add, mul: numpy broadcasting, aligned at the trailing dims */
static int infer_broadcast(ir_arena *a, ir_value *v, act_error *err)
{
    const ir_shape *x = &v->args[0]->shape, *y = &v->args[1]->shape;
    ir_shape out = {.rank = x->rank > y->rank ? x->rank : y->rank};
    for (int k = 1; k <= out.rank; k++) {
        int i = x->rank - k, j = y->rank - k, o = out.rank - k;
        if (j < 0 || (i >= 0 && (dim_eq(x, i, y, j) || is_one(y, j))))
            copy_dim(&out, o, x, i);
        else if (i < 0 || is_one(x, i))
            copy_dim(&out, o, y, j);
        else
            return mismatch(v, err, "expected shapes that broadcast for %s, found %s and %s",
                            v->callee, arg_str(a, v, 0), arg_str(a, v, 1));
    }
    v->shape = out;
    return 0;
}

/* prelu(x [.., M], slope [M] or [1]) -> [.., M] */
static int infer_prelu(ir_arena *a, ir_value *v, act_error *err)
{
    const ir_shape *x = &v->args[0]->shape, *s = &v->args[1]->shape;
    int last = x->rank - 1;
    if (s->rank != 1 || !(dim_eq(s, 0, x, last) || is_one(s, 0)))
        return mismatch(v, err, "expected %s to be f32[%s] or f32[1] to match %s, found %s",
                        arg_name(a, v, 1), dim_str(a, x, last), arg_str(a, v, 0),
                        or_unknown(ir_shape_str(a, s)));
    v->shape = *x;
    return 0;
}

/* maxout(x [.., M], k) -> [.., M/k]. A size-name M is divided by name
   ("N/2"): the runtime checks divisibility when it binds N. */
void ir_size_split(const char *sym, size_t *name_len, int64_t *divisor)
{
    const char *slash = strchr(sym, '/');
    *name_len = slash ? (size_t)(slash - sym) : strlen(sym);
    *divisor = slash ? strtoll(slash + 1, NULL, 10) : 1;
}

static int infer_maxout(ir_arena *a, ir_value *v, act_error *err)
{
    const ir_shape *x = &v->args[0]->shape;
    int last = x->rank - 1;
    int64_t k = (int64_t)attr(v, "k");
    v->shape = *x;
    if (k == 1)
        return 0;
    if (x->sym[last]) { /* M/k, or M/(j k) over an M/j */
        size_t len;
        int64_t j;
        ir_size_split(x->sym[last], &len, &j);
        v->shape.sym[last] = ir_sprintf(a, "%.*s/%lld", (int)len, x->sym[last], (long long)(j * k));
        return v->shape.sym[last]
                   ? 0
                   : act_error_at(err, v->callee_pos, ACT_ERR_NOMEM, "out of memory");
    }
    if (x->dim[last] % k)
        return mismatch(v, err, "expected k = %lld to divide the last dim of %s, found %lld",
                        (long long)k, arg_str(a, v, 0), (long long)x->dim[last]);
    v->shape.dim[last] = x->dim[last] / k;
    return 0;
}

/* softmax, log_softmax: same shape, axis in [-rank, rank) */
static int infer_softmax(ir_arena *a, ir_value *v, act_error *err)
{
    const ir_shape *x = &v->args[0]->shape;
    double axis = attr(v, "axis");
    if (axis < -x->rank || axis >= x->rank)
        return act_error_at(err, named_pos(v, "axis"), ACT_ERR_ARG,
                            "expected axis in [%d, %d) for %s, found %lld", -x->rank, x->rank,
                            arg_str(a, v, 0), (long long)axis);
    v->shape = *x;
    return 0;
}

/* losses: two arguments of one shape -> a scalar */
static int infer_loss(ir_arena *a, ir_value *v, act_error *err)
{
    const ir_shape *x = &v->args[0]->shape, *t = &v->args[1]->shape;
    bool same = x->rank == t->rank;
    for (int i = 0; same && i < x->rank; i++)
        same = dim_eq(x, i, t, i);
    if (!same)
        return mismatch(v, err, "expected %s to have the shape of %s, found %s", arg_name(a, v, 1),
                        arg_str(a, v, 0), or_unknown(ir_shape_str(a, t)));
    v->shape = (ir_shape){.rank = 0};
    return 0;
}

int ir_infer_shape(ir_arena *a, ir_value *v, act_error *err)
{
    switch (v->op) {
    case IR_DENSE:
        return infer_dense(a, v, err);
    case IR_ADD:
    case IR_MUL:
        return infer_broadcast(a, v, err);
    case IR_PRELU:
        return infer_prelu(a, v, err);
    case IR_MAXOUT:
        return infer_maxout(a, v, err);
    case IR_SOFTMAX:
    case IR_LOG_SOFTMAX:
        return infer_softmax(a, v, err);
    case IR_SCE:
    case IR_BCE:
    case IR_MSE:
        return infer_loss(a, v, err);
    case IR_INPUT:
    case IR_PARAM:
        v->shape = v->decl;
        return 0;
    default: /* scale, rrelu and the elementwise activations */
        v->shape = v->args[0]->shape;
        return 0;
    }
}
