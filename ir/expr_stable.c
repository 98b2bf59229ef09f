/* expr_stable.c -- rewrites of a user's formula into forms that give the
   same real function with less rounding and no spurious overflow, so that a
   formula written as in a textbook is as accurate as a built-in:
   log(1 + t) -> log1p(t), exp(t) - 1 -> expm1(t), log(exp(t)) -> t,
   log(sigmoid(t)) -> -log1p(exp(-t)), the log of a product or quotient of
   such terms the sum or difference of their logs, 1 + erf(t) -> erfc(-t),
   1 + tanh(t) -> 2 sigmoid(2t) (gelu's two textbook forms), exp(a) -
   exp(b) through expm1(a - b), and t + sqrt(t^2 + c) through its
   conjugate. softclip's
   log((1 + exp(a*x)) / (1 + exp(a*(x - 1)))) / a so becomes a difference of
   two softplus terms, exact where the quotient form rounds to log(1) = 0
   (x < -37) or is inf/inf (x > 709). ir_expr_expand then writes each
   log1p(exp(t)) as max(t, 0) + log1p(exp(-abs(t))). The derivative is taken
   between the two steps, where log1p(exp(t))' is sigmoid(t) t'. Every rule
   keeps the real function, and the text's own value at NaN and +-inf (but
   for the limit where the text is inf - inf there); where the text
   overflows or rounds away a tiny term, the rewrite does not. */
#include "ir.h"

#include <math.h>

static bool is_const(const ir_expr *e, double v)
{
    return e->op == EX_CONST && e->value == v;
}

static ir_expr *node(ir_expr_pool *p, ir_expr_op op, ir_expr *a, ir_expr *b, ir_expr *c,
                     const ir_expr *at)
{
    return ir_ex_pos(ir_ex_node(p, op, a, b, c), at->pos);
}

/* Rules that write an operand more than once (the softplus form, the
   conjugates, the difference of exps) take only operands of at most this
   many nodes: a tree walk (ir_expr_eval, the printer) visits a shared
   operand once per use, so nested uses would double per level. */
enum { MAX_REPEATED = 40 };

static int tree_size(const ir_expr *e, int budget)
{
    int n = 1;
    for (int i = 0; i < e->nargs && n <= budget; i++)
        n += tree_size(e->arg[i], budget - n);
    return n;
}

static bool may_repeat(const ir_expr *e)
{
    return tree_size(e, MAX_REPEATED) <= MAX_REPEATED;
}

/* e >= 0 or NaN for every input (exp may underflow to 0). */
static bool is_nonneg(const ir_expr *e)
{
    switch (e->op) {
    case EX_CONST:
        return e->value >= 0;
    case EX_EXP:
    case EX_SIGMOID:
    case EX_ABS:
    case EX_SQRT:
        return true;
    case EX_POW: /* an even power */
        return e->arg[1]->op == EX_CONST && fmod(e->arg[1]->value, 2) == 0;
    case EX_ADD:
    case EX_MUL:
    case EX_DIV:
        return (e->op == EX_MUL && e->arg[0] == e->arg[1]) ||
               (is_nonneg(e->arg[0]) && is_nonneg(e->arg[1]));
    default:
        return false;
    }
}

/* The operand t of 1 + t or t + 1, else NULL. */
static ir_expr *one_plus(const ir_expr *e)
{
    if (e->op != EX_ADD)
        return NULL;
    return is_const(e->arg[0], 1) ? e->arg[1] : is_const(e->arg[1], 1) ? e->arg[0] : NULL;
}

/* Whether log(e) has a better form than a log of the rounded e: e is a
   positive constant, exp(t), 1 + t with t >= 0, or a product or quotient of
   such terms (then positive, so that log(a/b) = log(a) - log(b)). */
static bool has_better_log(const ir_expr *e)
{
    ir_expr *t = one_plus(e);
    switch (e->op) {
    case EX_CONST:
        return e->value > 0;
    case EX_EXP:
    case EX_SIGMOID:
        return true;
    case EX_MUL:
    case EX_DIV:
        return has_better_log(e->arg[0]) && has_better_log(e->arg[1]);
    default:
        return t && is_nonneg(t);
    }
}

/* log(e) in its best form; e is already rewritten. */
static ir_expr *log_of(ir_expr_pool *p, ir_expr *e, const ir_expr *at)
{
    ir_expr *t = one_plus(e);
    if (t)
        return node(p, EX_LOG1P, t, NULL, NULL, at);
    if (e->op == EX_EXP)
        return e->arg[0];
    if (e->op == EX_SIGMOID) { /* log(1 / (1 + exp(-t))) */
        ir_expr *u = node(p, EX_EXP, node(p, EX_NEG, e->arg[0], NULL, NULL, at), NULL, NULL, at);
        return node(p, EX_NEG, node(p, EX_LOG1P, u, NULL, NULL, at), NULL, NULL, at);
    }
    if ((e->op == EX_MUL || e->op == EX_DIV) && has_better_log(e))
        return node(p, e->op == EX_MUL ? EX_ADD : EX_SUB, log_of(p, e->arg[0], at),
                    log_of(p, e->arg[1], at), NULL, at);
    return node(p, EX_LOG, e, NULL, NULL, at);
}

/* 1 + f(t) (sign 1) or 1 - f(t) (sign -1) without the cancellation of 1
   against f(t) near -+1: erfc(-+t), 2 sigmoid(+-2t) for tanh, sigmoid(-t)
   for 1 - sigmoid(t), -expm1(t) for 1 - exp(t); else NULL. */
static ir_expr *one_plus_f(ir_expr_pool *p, double sign, ir_expr *f, const ir_expr *at)
{
    ir_expr *t = f->arg[0];
    switch (f->op) {
    case EX_ERF:
        return node(p, EX_ERFC, sign > 0 ? node(p, EX_NEG, t, NULL, NULL, at) : t, NULL, NULL, at);
    case EX_TANH: {
        ir_expr *twice = node(p, EX_MUL, ir_ex_const(p, 2 * sign), t, NULL, at);
        return node(p, EX_MUL, ir_ex_const(p, 2), node(p, EX_SIGMOID, twice, NULL, NULL, at), NULL,
                    at);
    }
    case EX_SIGMOID:
        return sign < 0 ? node(p, EX_SIGMOID, node(p, EX_NEG, t, NULL, NULL, at), NULL, NULL, at)
                        : NULL;
    case EX_EXP:
        return sign < 0 ? node(p, EX_NEG, node(p, EX_EXPM1, t, NULL, NULL, at), NULL, NULL, at)
                        : NULL;
    default:
        return NULL;
    }
}

/* exp(a) - exp(b) as e^max (1 - e^-|a - b|) with the sign of a - b, by
   expm1: no cancellation where a is near b (tanh written with exps near 0).
   0 - ... keeps +0 at a = b, as the text gives. */
static ir_expr *exp_difference(ir_expr_pool *p, ir_expr *a, ir_expr *b, const ir_expr *at)
{
    ir_expr *ba = node(p, EX_SUB, b, a, NULL, at), *ab = node(p, EX_SUB, a, b, NULL, at);
    ir_expr *down = node(p, EX_MUL, node(p, EX_EXP, a, NULL, NULL, at),
                         node(p, EX_EXPM1, ba, NULL, NULL, at), NULL, at);
    ir_expr *up = node(p, EX_MUL, node(p, EX_EXP, b, NULL, NULL, at),
                       node(p, EX_EXPM1, ab, NULL, NULL, at), NULL, at);
    return node(p, EX_WHERE, node(p, EX_GE, a, b, NULL, at),
                node(p, EX_SUB, ir_ex_const(p, 0), down, NULL, at), up, at);
}

/* The c of s = sqrt(t^2 + c) (or t*t, or c + t^2), else NULL. */
static ir_expr *root_rest(const ir_expr *s, const ir_expr *t)
{
    if (s->op != EX_SQRT || s->arg[0]->op != EX_ADD)
        return NULL;
    for (int i = 0; i < 2; i++) {
        const ir_expr *q = s->arg[0]->arg[i];
        if ((q->op == EX_MUL && q->arg[0] == t && q->arg[1] == t) ||
            (q->op == EX_POW && q->arg[0] == t && is_const(q->arg[1], 2)))
            return s->arg[0]->arg[1 - i];
    }
    return NULL;
}

/* t + s, t - s or s - t with s = sqrt(t^2 + c), where they cancel (t + s
   for t < 0, the others for t > 0), as c over the sum that does not:
   c / (s - t), -c / (s + t), c / (s + t). squareplus written as in a
   textbook, (x + sqrt(x^2 + b)) / 2, is otherwise 0 below x = -1e8. At
   t = -+inf the text's inf - inf is NaN where this gives the limit, 0. */
static ir_expr *conjugate_of(ir_expr_pool *p, ir_expr *a, ir_expr *b, ir_expr_op op,
                             const ir_expr *at)
{
    ir_expr *c = root_rest(b, a), *t = a, *s = b;
    bool root_first = !c;
    if (root_first && !(c = root_rest(a, b)))
        return NULL;
    if (root_first)
        t = b, s = a;
    bool plus = op == EX_ADD;
    ir_expr *apart = node(p, plus ? EX_SUB : EX_ADD, s, t, NULL, at);
    ir_expr *num = !plus && !root_first ? node(p, EX_NEG, c, NULL, NULL, at) : c;
    ir_expr *test = node(p, plus ? EX_LT : EX_GT, t, ir_ex_const(p, 0), NULL, at);
    return node(p, EX_WHERE, test, node(p, EX_DIV, num, apart, NULL, at),
                node(p, op, a, b, NULL, at), at);
}

/* a + b or a - b in a form without cancellation, or NULL: 1 +- f(t) as
   above, exp(t) - 1 and -1 + exp(t) as expm1(t), exp(a) - exp(b), and the
   conjugates above. */
static ir_expr *sum_of(ir_expr_pool *p, ir_expr *a, ir_expr *b, ir_expr_op op, const ir_expr *at)
{
    double sign = op == EX_SUB ? -1 : 1;
    ir_expr *conj = may_repeat(a) && may_repeat(b) ? conjugate_of(p, a, b, op, at) : NULL;
    if (conj)
        return conj;
    if (is_const(a, 1) && b->nargs == 1)
        return one_plus_f(p, sign, b, at);
    if (op == EX_ADD && is_const(b, 1) && a->nargs == 1)
        return one_plus_f(p, 1, a, at);
    if (op == EX_ADD && is_const(a, -1) && b->op == EX_EXP)
        return node(p, EX_EXPM1, b->arg[0], NULL, NULL, at);
    if (a->op == EX_EXP && is_const(b, -sign))
        return node(p, EX_EXPM1, a->arg[0], NULL, NULL, at);
    if (op == EX_SUB && a->op == EX_EXP && b->op == EX_EXP)
        return may_repeat(a) && may_repeat(b) ? exp_difference(p, a->arg[0], b->arg[0], at) : NULL;
    return NULL;
}

ir_expr *ir_expr_stable(ir_expr_pool *p, ir_expr *e)
{
    if (!e || !e->nargs)
        return e;
    ir_expr *args[3] = {NULL, NULL, NULL};
    for (int i = 0; i < e->nargs; i++)
        if (!(args[i] = ir_expr_stable(p, e->arg[i])))
            return NULL;
    if (e->op == EX_LOG)
        return log_of(p, args[0], e);
    if (e->op == EX_ADD || e->op == EX_SUB) {
        ir_expr *r = sum_of(p, args[0], args[1], e->op, e);
        if (r)
            return r;
    }
    return ir_ex_with_args(p, e, args);
}

/* -t with t >= 0: log1p(exp(-t)) is already the stable softplus term. */
static bool is_nonpos(const ir_expr *e)
{
    return (e->op == EX_NEG && is_nonneg(e->arg[0])) || (e->op == EX_CONST && e->value <= 0);
}

ir_expr *ir_expr_expand(ir_expr_pool *p, ir_expr *e)
{
    if (!e || !e->nargs)
        return e;
    ir_expr *args[3] = {NULL, NULL, NULL};
    for (int i = 0; i < e->nargs; i++)
        if (!(args[i] = ir_expr_expand(p, e->arg[i])))
            return NULL;
    if (e->op == EX_LOG1P && args[0]->op == EX_EXP && !is_nonpos(args[0]->arg[0]) &&
        may_repeat(args[0])) {
        /* max(t, 0) keeps a NaN t; at t = +-inf the sum is inf or 0 */
        ir_expr *t = args[0]->arg[0], *zero = ir_ex_const(p, 0);
        ir_expr *tail = node(p, EX_NEG, node(p, EX_ABS, t, NULL, NULL, e), NULL, NULL, e);
        ir_expr *small = node(p, EX_LOG1P, node(p, EX_EXP, tail, NULL, NULL, e), NULL, NULL, e);
        return node(p, EX_ADD, node(p, EX_MAX, t, zero, NULL, e), small, NULL, e);
    }
    return ir_ex_with_args(p, e, args);
}
