/* autodiff.c -- reverse-mode differentiation of a verified graph: walks the
   forward values backwards and appends, for each, the values that carry its
   gradient to its arguments. Forward ops are reused where the gradient is one
   of them (the gradient of scale is a scale, of add a sum over broadcast
   dims), so every engine lowers the backward pass with the ops it already
   has; the rest are the IR_*_GRAD ops declared in ir.h. */
#include "ir.h"

#include <string.h>

typedef struct {
    ir_module *m;
    ir_graph *g;
    act_error *err;
} differ;

static ir_value *emit(differ *d, ir_op op, const ir_value *from, const ir_shape *shape, int nargs,
                      ir_value *a, ir_value *b, ir_value *c)
{
    ir_value *v = ir_alloc(d->m->arena, sizeof *v);
    if (!v || ir_vec_push(d->m->arena, &d->g->values, v)) {
        act_error_at(d->err, from->pos, ACT_ERR_NOMEM, "out of memory");
        return NULL;
    }
    v->op = op;
    v->pos = from->pos;
    v->callee = from->callee;
    v->callee_pos = from->callee_pos;
    v->act = from->act;
    memcpy(v->attr, from->attr, sizeof v->attr);
    v->shape = *shape;
    v->nargs = nargs;
    v->args[0] = a;
    v->args[1] = b;
    v->args[2] = c;
    v->id = d->g->values.n - 1;
    return v;
}

static bool same_shape(const ir_shape *a, const ir_shape *b)
{
    if (a->rank != b->rank)
        return false;
    for (int i = 0; i < a->rank; i++)
        if (a->dim[i] != b->dim[i] ||
            (a->sym[i] != b->sym[i] && (!a->sym[i] || !b->sym[i] || strcmp(a->sym[i], b->sym[i]))))
            return false;
    return true;
}

/* Adds contribution g to the gradient of v, summed down to v's shape where
   g was broadcast. */
static int accumulate(differ *d, ir_value *v, ir_value *g)
{
    if (!g)
        return ACT_ERR_NOMEM;
    if (!same_shape(&g->shape, &v->shape) &&
        !(g = emit(d, IR_SUM_TO, v, &v->shape, 1, g, NULL, NULL)))
        return ACT_ERR_NOMEM;
    ir_value **slot = &d->g->grad[v->id];
    if (!*slot) {
        *slot = g;
        return 0;
    }
    *slot = emit(d, IR_ACCUM, v, &v->shape, 2, *slot, g, NULL);
    return *slot ? 0 : ACT_ERR_NOMEM;
}

static int differentiate_dense(differ *d, ir_value *v, ir_value *dy)
{
    ir_value *x = v->args[0], *w = v->args[1];
    int rc = accumulate(d, x, emit(d, IR_MATMUL_NT, v, &x->shape, 2, dy, w, NULL));
    if (!rc)
        rc = accumulate(d, w, emit(d, IR_MATMUL_TN, v, &w->shape, 2, x, dy, NULL));
    if (!rc && v->nargs == 3)
        rc = accumulate(d, v->args[2], dy); /* summed over the leading dims */
    return rc;
}

/* Losses: each argument gets its own gradient op reading both arguments and
   the (scalar) incoming gradient. */
static int differentiate_loss(differ *d, ir_value *v, ir_value *dl, ir_op grad_a, ir_op grad_b)
{
    ir_value *a = v->args[0], *b = v->args[1];
    int rc = accumulate(d, a, emit(d, grad_a, v, &a->shape, 3, a, b, dl));
    return rc ? rc : accumulate(d, b, emit(d, grad_b, v, &b->shape, 3, a, b, dl));
}

static int differentiate(differ *d, ir_value *v, ir_value *dy)
{
    ir_value *a = v->args[0], *b = v->args[1];
    switch (v->op) {
    case IR_INPUT:
    case IR_PARAM:
        return 0;
    case IR_DENSE:
        return differentiate_dense(d, v, dy);
    case IR_ADD: {
        int rc = accumulate(d, a, dy);
        return rc ? rc : accumulate(d, b, dy);
    }
    case IR_MUL: {
        int rc = accumulate(d, a, emit(d, IR_MUL, v, &v->shape, 2, dy, b, NULL));
        return rc ? rc : accumulate(d, b, emit(d, IR_MUL, v, &v->shape, 2, dy, a, NULL));
    }
    case IR_SCALE:
        return accumulate(d, a, emit(d, IR_SCALE, v, &a->shape, 1, dy, NULL, NULL));
    case IR_ACT:
        if (!v->act->df)
            return act_error_at(d->err, v->callee_pos, ACT_ERR_GRAD, "%s", v->act->df_error);
        return accumulate(d, a, emit(d, IR_ACT_GRAD, v, &a->shape, 3, a, v, dy));
    case IR_PRELU: {
        int rc = accumulate(d, a, emit(d, IR_PRELU_GRAD_X, v, &a->shape, 3, a, b, dy));
        return rc ? rc
                  : accumulate(d, b, emit(d, IR_PRELU_GRAD_SLOPE, v, &b->shape, 2, a, dy, NULL));
    }
    case IR_RRELU:
        return accumulate(d, a, emit(d, IR_RRELU_GRAD, v, &a->shape, 2, a, dy, NULL));
    case IR_MAXOUT:
        return accumulate(d, a, emit(d, IR_MAXOUT_GRAD, v, &a->shape, 2, a, dy, NULL));
    case IR_SOFTMAX:
        return accumulate(d, a, emit(d, IR_SOFTMAX_GRAD, v, &a->shape, 2, v, dy, NULL));
    case IR_LOG_SOFTMAX:
        return accumulate(d, a, emit(d, IR_LOG_SOFTMAX_GRAD, v, &a->shape, 2, v, dy, NULL));
    case IR_SCE:
        return differentiate_loss(d, v, dy, IR_SCE_GRAD_LOGITS, IR_SCE_GRAD_TARGET);
    case IR_BCE:
        return differentiate_loss(d, v, dy, IR_BCE_GRAD_X, IR_BCE_GRAD_T);
    case IR_MSE:
        return differentiate_loss(d, v, dy, IR_MSE_GRAD_Y, IR_MSE_GRAD_T);
    default:
        return act_error_at(d->err, v->pos, ACT_ERR_GRAD, "expected a forward op, found %s",
                            ir_op_name(v->op));
    }
}

/* Seeds the walk: dL/dL = 1 for the loss, or one run-time IR_SEED per output. */
static int seed(differ *d, bool vjp)
{
    ir_graph *g = d->g;
    if (!vjp) {
        if (!g->loss)
            return act_error_at(d->err, g->pos, ACT_ERR_GRAD,
                                "expected a loss in graph '%s' to differentiate, found none "
                                "(give output gradients instead)",
                                g->name);
        ir_shape scalar = {0};
        ir_value *one = emit(d, IR_ONE, g->loss, &scalar, 0, NULL, NULL, NULL);
        return one ? accumulate(d, g->loss, one) : ACT_ERR_NOMEM;
    }
    g->seeds = ir_alloc(d->m->arena, (size_t)(g->outputs.n + 1) * sizeof *g->seeds);
    if (!g->seeds)
        return act_error_at(d->err, g->pos, ACT_ERR_NOMEM, "out of memory");
    for (int j = 0; j < g->outputs.n; j++) {
        ir_value *out = g->outputs.items[j];
        ir_value *s = emit(d, IR_SEED, out, &out->shape, 0, NULL, NULL, NULL);
        if (!s)
            return ACT_ERR_NOMEM;
        s->attr[0] = j;
        g->seeds[j] = s;
        int rc = accumulate(d, out, s);
        if (rc)
            return rc;
    }
    return 0;
}

int ir_autodiff(ir_module *m, ir_graph *g, bool vjp, act_error *err)
{
    differ d = {m, g, err};
    g->values.n = g->nforward; /* drop a previous run's backward values */
    g->differentiated = false;
    g->seeds = NULL;
    g->grad = ir_alloc(m->arena, (size_t)(g->nforward + 1) * sizeof *g->grad);
    if (!g->grad)
        return act_error_at(err, g->pos, ACT_ERR_NOMEM, "out of memory");
    int rc = seed(&d, vjp);
    for (int i = g->nforward - 1; i >= 0 && !rc; i--) {
        ir_value *v = g->values.items[i];
        if (g->grad[i])
            rc = differentiate(&d, v, g->grad[i]);
    }
    if (rc) {
        g->values.n = g->nforward;
        g->grad = NULL;
        g->seeds = NULL;
        return rc;
    }
    g->differentiated = true;
    return 0;
}
