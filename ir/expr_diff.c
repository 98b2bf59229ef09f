/* expr_diff.c -- symbolic d/dx of a scalar expression by the chain rule,
   with the conventions of ACT-LANGUAGE.md at kinks (comparisons 0, where
   takes its branch, max/min pass a tie to the first argument, abs'(0) = 0).
   Terms whose factor is the constant 0 are dropped so that derivatives stay
   small: a derivative term that is zero contributes nothing even where the
   other factor is infinite. Derived nodes carry their origin's position. */
#include "ir.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

/* A node and its derivative, in a table by node address: pool nodes are
   shared (hash-consed), and a shared node is differentiated once however
   many times the tree reaches it (the quotient rule reads b' in b'/b and
   again through dlog; nested quotients doubled the work at each level). */
typedef struct {
    const ir_expr *e;
    ir_expr *de;
} memo;

typedef struct {
    ir_expr_pool *pool;
    act_error *err;
    ir_pos pos;  /* of the node being differentiated: derived nodes get it */
    bool failed; /* err is filled with a reason other than memory */
    memo *seen;  /* open addressing, cap a power of 2, at most half full; NULL: none */
    size_t cap, n;
} differ;

static bool is_zero(const ir_expr *e)
{
    return e && e->op == EX_CONST && e->value == 0;
}

static ir_expr *num(differ *d, double v)
{
    return ir_ex_pos(ir_ex_const(d->pool, v), d->pos);
}

static ir_expr *node(differ *d, ir_expr_op op, ir_expr *a, ir_expr *b, ir_expr *c)
{
    return ir_ex_pos(ir_ex_node(d->pool, op, a, b, c), d->pos);
}

static ir_expr *mul(differ *d, ir_expr *a, ir_expr *b)
{
    if (!a || !b)
        return NULL;
    return is_zero(a) || is_zero(b) ? num(d, 0) : node(d, EX_MUL, a, b, NULL);
}

static ir_expr *divide(differ *d, ir_expr *a, ir_expr *b)
{
    return is_zero(a) ? num(d, 0) : node(d, EX_DIV, a, b, NULL);
}

static ir_expr *neg(differ *d, ir_expr *a)
{
    return is_zero(a) ? num(d, 0) : node(d, EX_NEG, a, NULL, NULL);
}

static ir_expr *sub(differ *d, ir_expr *a, ir_expr *b)
{
    return is_zero(a) ? neg(d, b) : node(d, EX_SUB, a, b, NULL);
}

static ir_expr *diff(differ *d, const ir_expr *e);

/* a^b: b * a^(b-1) * da when b does not depend on x, else
   a^b * (db * log(a) + b * da / a). */
static ir_expr *diff_pow(differ *d, ir_expr *self)
{
    ir_expr *a = self->arg[0], *b = self->arg[1];
    ir_expr *da = diff(d, a), *db = diff(d, b);
    if (!da || !db)
        return NULL;
    if (is_zero(db)) {
        /* a param b may be 0: then 0, not 0 * a^-1, which is NaN at a = 0 */
        ir_expr *r = mul(d, mul(d, b, node(d, EX_POW, a, sub(d, b, num(d, 1)), NULL)), da);
        if (b->op == EX_CONST)
            return r;
        return node(d, EX_WHERE, node(d, EX_EQ, b, num(d, 0), NULL), num(d, 0), r);
    }
    ir_expr *log_term = mul(d, db, node(d, EX_LOG, a, NULL, NULL));
    ir_expr *base_term = divide(d, mul(d, b, da), a);
    return mul(d, self, node(d, EX_ADD, log_term, base_term, NULL));
}

/* b'/b, the derivative of log b, where the quotient of the derivative by
   b is inf / inf once an exp in b overflows (the derivative of 1 / (1 +
   exp(-x)) was inf or NaN below x = -709, where it is e^x; of log cosh
   written with exps NaN beyond 710): t' for exp(t); p' sigmoid(p - q) + q'
   sigmoid(q - p) for exp(p) + exp(q), 1 as exp(0); the sum or difference
   of the factors' for a product or quotient, n times the base's for a
   constant power n. */
static ir_expr *dlog(differ *d, ir_expr *b)
{
    ir_expr *p, *q;
    bool failed = false;
    if (b->op == EX_EXP)
        return diff(d, b->arg[0]);
    if (ir_ex_exp_sum(d->pool, b, &p, &q, &failed)) {
        ir_expr *dp = diff(d, p), *dq = diff(d, q);
        ir_expr *up = mul(d, dp, node(d, EX_SIGMOID, sub(d, p, q), NULL, NULL));
        ir_expr *down = mul(d, dq, node(d, EX_SIGMOID, sub(d, q, p), NULL, NULL));
        return up && down ? node(d, EX_ADD, up, down, NULL) : NULL;
    }
    if (failed)
        return NULL;
    if (b->op == EX_MUL || b->op == EX_DIV) {
        ir_expr *l = dlog(d, b->arg[0]), *r = dlog(d, b->arg[1]);
        return l && r ? node(d, b->op == EX_MUL ? EX_ADD : EX_SUB, l, r, NULL) : NULL;
    }
    if (b->op == EX_POW && b->arg[1]->op == EX_CONST)
        return mul(d, b->arg[1], dlog(d, b->arg[0]));
    return divide(d, diff(d, b), b);
}

/* a/b: da/b - a (db/b) / b, not a db / b^2, whose b^2 overflows (and a db
   with it) long before the quotient does: tanh written as a quotient of
   exps at x = 400. */
static ir_expr *diff_div(differ *d, ir_expr *self)
{
    ir_expr *a = self->arg[0], *b = self->arg[1];
    ir_expr *da = diff(d, a), *db = diff(d, b);
    if (!da || !db)
        return NULL;
    ir_expr *first = divide(d, da, b);
    if (is_zero(db))
        return first;
    return sub(d, first, divide(d, mul(d, a, dlog(d, b)), b));
}

/* clamp(v, lo, hi) = min(max(v, lo), hi), differentiated as written, so ties
   go to v. */
static ir_expr *diff_clamp(differ *d, ir_expr *self)
{
    ir_expr *v = self->arg[0], *lo = self->arg[1], *hi = self->arg[2];
    ir_expr *dv = diff(d, v), *dlo = diff(d, lo), *dhi = diff(d, hi);
    ir_expr *m = node(d, EX_MAX, v, lo, NULL);
    ir_expr *inner = node(d, EX_WHERE, node(d, EX_GE, v, lo, NULL), dv, dlo);
    return node(d, EX_WHERE, node(d, EX_LE, m, hi, NULL), inner, dhi);
}

/* A native call is differentiable in its first operand through fn->grad,
   which receives the operands and the call's value; the other operands must
   not depend on x. */
static ir_expr *diff_call(differ *d, ir_expr *self)
{
    bool ok = self->fn->grad && self->nargs < 3;
    for (int i = 1; ok && i < self->nargs; i++)
        ok = !ir_expr_uses_x(self->arg[i]);
    if (!ok) {
        char *text = ir_expr_to_string(self, "x", NULL);
        act_error_at(d->err, self->pos, ACT_ERR_GRAD, "expected a derivative for '%s', found none",
                     text ? text : self->fn->name);
        free(text);
        d->failed = true;
        return NULL;
    }
    ir_expr *args[3] = {self->arg[0], self->arg[1], self->arg[2]};
    args[self->nargs] = self;
    ir_expr *g = ir_ex_pos(ir_ex_call(d->pool, self->fn->grad, args, self->nargs + 1), d->pos);
    return mul(d, g, diff(d, self->arg[0]));
}

/* f'(u) for the one-operand functions, to be multiplied by du. */
static ir_expr *outer(differ *d, ir_expr *self)
{
    ir_expr *u = self->arg[0];
    switch (self->op) {
    case EX_EXP:
        return self;
    case EX_EXPM1:
        return node(d, EX_EXP, u, NULL, NULL);
    case EX_LOG:
        return divide(d, num(d, 1), u);
    case EX_LOG1P:
        return divide(d, num(d, 1), node(d, EX_ADD, num(d, 1), u, NULL));
    case EX_SQRT:
        return divide(d, num(d, 0.5), self);
    case EX_ABS: /* abs'(0) = 0; 0 * u is 0 there and carries a NaN u through */
        return node(d, EX_WHERE, node(d, EX_GT, u, num(d, 0), NULL), num(d, 1),
                    node(d, EX_WHERE, node(d, EX_LT, u, num(d, 0), NULL), num(d, -1),
                         node(d, EX_MUL, num(d, 0), u, NULL)));
    case EX_TANH: { /* 4 sigmoid(2u) sigmoid(-2u), as the built-in: 1 - tanh^2
                       is 0 in double from |u| = 19 */
        ir_expr *twice = mul(d, num(d, 2), u);
        ir_expr *s = node(d, EX_SIGMOID, twice, NULL, NULL);
        return mul(d, num(d, 4), mul(d, s, node(d, EX_SIGMOID, neg(d, twice), NULL, NULL)));
    }
    case EX_SIGMOID: /* sigmoid(u) sigmoid(-u), as the built-in: s (1 - s)
                        cancels for u >> 0 */
        return mul(d, self, node(d, EX_SIGMOID, neg(d, u), NULL, NULL));
    case EX_ERF:
    case EX_ERFC: {
        ir_expr *gauss = node(d, EX_EXP, neg(d, node(d, EX_POW, u, num(d, 2), NULL)), NULL, NULL);
        return mul(d, num(d, (self->op == EX_ERF ? 2 : -2) / sqrt(IR_PI)), gauss);
    }
    case EX_SIN:
        return node(d, EX_COS, u, NULL, NULL);
    case EX_COS:
        return neg(d, node(d, EX_SIN, u, NULL, NULL));
    default:
        return NULL; /* not a one-operand function: diff_node does not call here */
    }
}

static ir_expr *diff_node(differ *d, ir_expr *self)
{
    ir_expr *a = self->arg[0], *b = self->arg[1], *c = self->arg[2];
    switch (self->op) {
    case EX_CONST:
    case EX_PARAM:
    case EX_LT:
    case EX_LE:
    case EX_GT:
    case EX_GE:
    case EX_EQ:
    case EX_NE:
        return num(d, 0);
    case EX_X:
        return num(d, 1);
    case EX_Y:
        d->failed = true;
        act_error_at(d->err, self->pos, ACT_ERR_GRAD, "expected a formula in x, found 'y'");
        return NULL;
    case EX_NEG:
        return neg(d, diff(d, a));
    case EX_ADD:
        return node(d, EX_ADD, diff(d, a), diff(d, b), NULL);
    case EX_SUB:
        return sub(d, diff(d, a), diff(d, b));
    case EX_MUL:
        return node(d, EX_ADD, mul(d, diff(d, a), b), mul(d, a, diff(d, b)), NULL);
    case EX_DIV:
        return diff_div(d, self);
    case EX_POW:
        return diff_pow(d, self);
    case EX_WHERE:
        return node(d, EX_WHERE, a, diff(d, b), diff(d, c));
    case EX_MIN:
    case EX_MAX: /* a tie passes the gradient to the first argument */
        return node(d, EX_WHERE, node(d, self->op == EX_MIN ? EX_LE : EX_GE, a, b, NULL),
                    diff(d, a), diff(d, b));
    case EX_CLAMP:
        return diff_clamp(d, self);
    case EX_CALL:
        return diff_call(d, self);
    case EX_LOG:
        return dlog(d, a);
    case EX_LOG1P:
        /* softplus: sigmoid(t) t', where exp(t) / (1 + exp(t)) is inf / inf
           for t > 709 */
        if (a->op == EX_EXP)
            return mul(d, node(d, EX_SIGMOID, a->arg[0], NULL, NULL), diff(d, a->arg[0]));
        /* fall through */
    default: {
        ir_expr *du = diff(d, a);
        return is_zero(du) ? du : mul(d, outer(d, self), du);
    }
    }
}

static memo *slot(differ *d, const ir_expr *e)
{
    size_t i = ((uintptr_t)e >> 4) * 0x9E3779B97F4A7C15u;
    for (i &= d->cap - 1; d->seen[i].e && d->seen[i].e != e; i = (i + 1) & (d->cap - 1))
        ;
    return &d->seen[i];
}

/* Keeps e' = de; without memory for the table, nothing (only time is lost). */
static void remember(differ *d, const ir_expr *e, ir_expr *de)
{
    if (2 * (d->n + 1) > d->cap) {
        size_t cap = d->cap ? 2 * d->cap : 64;
        memo *old = d->seen, *grown = calloc(cap, sizeof *grown);
        if (!grown)
            return;
        size_t oldcap = d->cap;
        d->seen = grown;
        d->cap = cap;
        for (size_t i = 0; i < oldcap; i++)
            if (old[i].e)
                *slot(d, old[i].e) = old[i];
        free(old);
    }
    memo *m = slot(d, e);
    d->n += !m->e;
    *m = (memo){e, de};
}

static ir_expr *diff(differ *d, const ir_expr *e)
{
    if (d->failed)
        return NULL;
    memo *m = d->cap ? slot(d, e) : NULL;
    if (m && m->e)
        return m->de;
    ir_pos saved = d->pos;
    d->pos = e->pos;
    ir_expr *r = diff_node(d, (ir_expr *)e); /* pool nodes are shared, never changed */
    d->pos = saved;
    if (r)
        remember(d, e, r);
    return r;
}

ir_expr *ir_expr_diff(ir_expr_pool *p, const ir_expr *e, act_error *err)
{
    differ d = {p, err, e->pos, false, NULL, 0, 0};
    ir_expr *r = diff(&d, e);
    free(d.seen);
    if (!r && !d.failed)
        act_error_at(err, e->pos, ACT_ERR_NOMEM, "out of memory");
    return r;
}
