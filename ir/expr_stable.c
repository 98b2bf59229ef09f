/* expr_stable.c -- rewrites of a user's formula into forms that give the
   same real function with less rounding and no spurious overflow, so that a
   formula written as in a textbook is as accurate as a built-in.
 *
 * ir_expr_stable, before the derivative is taken: log(1 + t) -> log1p(t),
 * exp(t) - 1 -> expm1(t), log(exp(t)) -> t, log(sigmoid(t)) ->
 * -log1p(exp(-t)), the log of a product or quotient of such terms -> the
 * sum or difference of their logs, 1 +- erf(t) -> erfc(-+t), 1 +- tanh(t)
 * -> 2 sigmoid(+-2t) (gelu's two textbook forms), a / (1 + exp(t)) -> a
 * sigmoid(-t) for a != 1, (exp(p) - exp(q)) / (exp(p) + exp(q)) -> tanh((p
 * - q) / 2) and exp(p) / (exp(p) + exp(q)) -> sigmoid(p - q) (1 as exp(0)),
 * t +- sqrt(t^2 + c) through its conjugate where it cancels, and a
 * difference of softplus terms whose operands differ by a constant c (as
 * the log of a quotient too) -> log1p(expm1(c) sigmoid(q)). softclip's
 * log((1 + exp(a*x)) / (1 + exp(a*(x - 1)))) / a so becomes
 * log1p(expm1(a) sigmoid(a*(x - 1))) / a, exact where the quotient form
 * rounds to log(1) = 0 (x < -37) or is inf/inf (x > 709), also where x - 1
 * rounds to x (|x| > 2^53).
 *
 * ir_expr_expand, after it, for evaluation: log1p(exp(t)) -> max(t, 0) +
 * log1p(exp(-abs(t))) (its derivative was taken as sigmoid(t) t'), exp(a)
 * - exp(b) through expm1(a - b) (its derivative, a' e^a - b' e^b, from the
 * text: the expm1 form's is inf * 0 where e^a overflows), exp(a) exp(b) ->
 * exp(a + b), either negated or both (the chain rule's product, 0 * inf
 * where one overflows), and 1 -
 * sigmoid(t) -> sigmoid(-t), 1 / (1 + exp(t)) -> sigmoid(-t): as f, a bare
 * sigmoid would have the derivative y (1 - y) in the output y, which
 * cancels on the JIT's float y where the text's derivative does not.
 *
 * Every rule keeps the real function, and the text's value at NaN and +-inf
 * up to the sign of a zero (as ir_ex_node's folds: log1p(-0) is -0 where
 * log(1 + -0) is +0), but for the limit where the text is inf - inf there;
 * where the text overflows or rounds away a tiny term, the rewrite does not. */
#include "ir.h"

#include <math.h>

/* The pool, and whether it ran out of memory: the rules' NULL means "does
   not apply", so a failed allocation is kept here. */
typedef struct {
    ir_expr_pool *p;
    bool failed;
} rewriter;

static bool is_const(const ir_expr *e, double v)
{
    return e->op == EX_CONST && e->value == v;
}

static ir_expr *node(rewriter *w, ir_expr_op op, ir_expr *a, ir_expr *b, ir_expr *c,
                     const ir_expr *at)
{
    ir_expr *r = ir_ex_pos(ir_ex_node(w->p, op, a, b, c), at->pos);
    w->failed |= !r;
    return r;
}

static ir_expr *unary(rewriter *w, ir_expr_op op, ir_expr *a, const ir_expr *at)
{
    return node(w, op, a, NULL, NULL, at);
}

static ir_expr *num(rewriter *w, double v)
{
    ir_expr *r = ir_ex_const(w->p, v);
    w->failed |= !r;
    return r;
}

static ir_expr *minus(rewriter *w, ir_expr *p, ir_expr *q, const ir_expr *at);
static ir_expr *softplus_difference(rewriter *w, ir_expr *a, ir_expr *b, ir_expr_op op,
                                    const ir_expr *at);

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

/* e >= +0 or NaN for every input (exp may underflow to 0; sqrt(-0) is -0,
   so sqrt only of such an e). */
static bool is_nonneg(const ir_expr *e)
{
    switch (e->op) {
    case EX_CONST:
        return e->value > 0 || (e->value == 0 && !signbit(e->value));
    case EX_EXP:
    case EX_SIGMOID:
    case EX_ABS:
        return true;
    case EX_SQRT:
        return is_nonneg(e->arg[0]);
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

/* Whether e is exp(t) or 1 (exp(0)). */
static bool is_exp_term(const ir_expr *e)
{
    return e->op == EX_EXP || is_const(e, 1);
}

/* Whether log(e) has a better form than a log of the rounded e: e is a
   positive constant, exp(t), sigmoid(t), 1 + t with t >= 0, or a product or
   quotient of such terms (then positive, so that log(a/b) = log(a) -
   log(b)). */
static bool has_better_log(const ir_expr *e)
{
    ir_expr *t = ir_ex_one_plus(e);
    switch (e->op) {
    case EX_CONST:
        return e->value > 0;
    case EX_EXP:
    case EX_SIGMOID:
        return true;
    case EX_MUL:
    case EX_DIV:
        return has_better_log(e->arg[0]) && has_better_log(e->arg[1]);
    case EX_ADD: /* and exp(p) + exp(q): its log is a log-sum-exp (ir_expr_expand) */
        return (t && is_nonneg(t)) || (is_exp_term(e->arg[0]) && is_exp_term(e->arg[1]));
    default:
        return t && is_nonneg(t);
    }
}

/* log(e) in its best form; e is already rewritten. */
static ir_expr *log_of(rewriter *w, ir_expr *e, const ir_expr *at)
{
    ir_expr *t = ir_ex_one_plus(e);
    if (t)
        return unary(w, EX_LOG1P, t, at);
    if (e->op == EX_EXP)
        return e->arg[0];
    if (e->op == EX_SUB && is_const(e->arg[0], 1) && e->arg[1]->op != EX_SIGMOID)
        return unary(w, EX_LOG1P, unary(w, EX_NEG, e->arg[1], at), at); /* log(1 - t) */
    if (e->op == EX_SUB && is_const(e->arg[0], 1) && e->arg[1]->op == EX_SIGMOID) {
        /* log(1 - sigmoid(t)) = log(sigmoid(-t)) = -log1p(exp(t)): 1 - sigmoid(t)
           is 0 from t = 37 (the rewrite to sigmoid(-t) comes after the
           derivative), where the log is -t */
        ir_expr *u = unary(w, EX_EXP, e->arg[1]->arg[0], at);
        return unary(w, EX_NEG, unary(w, EX_LOG1P, u, at), at);
    }
    if (e->op == EX_SIGMOID) { /* log(1 / (1 + exp(-t))) */
        ir_expr *u = unary(w, EX_EXP, unary(w, EX_NEG, e->arg[0], at), at);
        return unary(w, EX_NEG, unary(w, EX_LOG1P, u, at), at);
    }
    if ((e->op == EX_MUL || e->op == EX_DIV) && has_better_log(e)) {
        ir_expr *a = log_of(w, e->arg[0], at), *b = log_of(w, e->arg[1], at);
        ir_expr_op op = e->op == EX_MUL ? EX_ADD : EX_SUB;
        ir_expr *r = a && b ? softplus_difference(w, a, b, op, at) : NULL;
        return r ? r : node(w, op, a, b, NULL, at);
    }
    return unary(w, EX_LOG, e, at);
}

/* 1 + f(t) (sign 1) or 1 - f(t) (sign -1) without the cancellation of 1
   against f(t) near -+1: erfc(-+t), 2 sigmoid(+-2t) for tanh, -expm1(t)
   for 1 - exp(t); else NULL. */
static ir_expr *one_plus_f(rewriter *w, double sign, ir_expr *f, const ir_expr *at)
{
    ir_expr *t = f->arg[0];
    switch (f->op) {
    case EX_ERF:
        return unary(w, EX_ERFC, sign > 0 ? unary(w, EX_NEG, t, at) : t, at);
    case EX_TANH: {
        ir_expr *twice = node(w, EX_MUL, num(w, 2 * sign), t, NULL, at);
        return node(w, EX_MUL, num(w, 2), unary(w, EX_SIGMOID, twice, at), NULL, at);
    }
    case EX_EXP:
        return sign < 0 ? unary(w, EX_NEG, unary(w, EX_EXPM1, t, at), at) : NULL;
    default:
        return NULL;
    }
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
   for t < 0, the others for t > 0) and s is finite, as c over the sum that
   does not: c / (s - t), -c / (s + t), c / (s + t). squareplus written as
   in a textbook, (x + sqrt(x^2 + b)) / 2, is otherwise 0 below x = -1e8. At
   t = -+inf the text's inf - inf is NaN where this gives the limit, 0. */
static ir_expr *conjugate_of(rewriter *w, ir_expr *a, ir_expr *b, ir_expr_op op, const ir_expr *at)
{
    ir_expr *c = root_rest(b, a), *t = a, *s = b;
    bool root_first = !c;
    if (root_first && !(c = root_rest(a, b)))
        return NULL;
    if (root_first)
        t = b, s = a;
    bool plus = op == EX_ADD;
    ir_expr *apart = node(w, plus ? EX_SUB : EX_ADD, s, t, NULL, at);
    ir_expr *top = !plus && !root_first ? unary(w, EX_NEG, c, at) : c;
    /* both tests 0 or 1: their product is their conjunction */
    ir_expr *cancels = node(w, plus ? EX_LT : EX_GT, t, num(w, 0), NULL, at);
    ir_expr *finite = node(w, EX_LT, s, num(w, INFINITY), NULL, at);
    return node(w, EX_WHERE, node(w, EX_MUL, cancels, finite, NULL, at),
                node(w, EX_DIV, top, apart, NULL, at), node(w, op, a, b, NULL, at), at);
}

/* The operand of log1p(exp(t)) (softplus), else NULL. */
static ir_expr *softplus_arg(const ir_expr *e)
{
    return e->op == EX_LOG1P && e->arg[0]->op == EX_EXP ? e->arg[0]->arg[0] : NULL;
}

/* Whether s is -t as the pool would build it (a check that makes no node). */
static bool negates(const ir_expr *s, const ir_expr *t)
{
    return (s->op == EX_NEG && s->arg[0] == t) || (t->op == EX_NEG && t->arg[0] == s) ||
           (s->op == EX_CONST && t->op == EX_CONST && s->value == -t->value);
}

/* Whether e is k x + m with k and m free of x, as the pool builds them
   (NULL k: 0): x, sums, differences, negations, products and quotients
   by x-free terms. */
static bool affine(rewriter *w, ir_expr *e, ir_expr **k, ir_expr **m, const ir_expr *at)
{
    ir_expr *k1, *m1, *k2, *m2;
    if (!ir_expr_uses_x(e)) {
        *k = NULL;
        *m = e;
        return true;
    }
    switch (e->op) {
    case EX_X:
        *k = num(w, 1);
        *m = num(w, 0);
        return !w->failed;
    case EX_NEG:
        if (!affine(w, e->arg[0], &k1, &m1, at))
            return false;
        *k = unary(w, EX_NEG, k1, at);
        *m = unary(w, EX_NEG, m1, at);
        return !w->failed;
    case EX_ADD:
    case EX_SUB:
        if (!affine(w, e->arg[0], &k1, &m1, at) || !affine(w, e->arg[1], &k2, &m2, at))
            return false;
        *k = !k2                      ? k1
             : !k1 && e->op == EX_ADD ? k2
                                      : node(w, e->op, k1 ? k1 : num(w, 0), k2, NULL, at);
        *m = node(w, e->op, m1, m2, NULL, at);
        return !w->failed;
    case EX_MUL:
    case EX_DIV: {
        int i = e->op == EX_MUL && !ir_expr_uses_x(e->arg[0]); /* the operand with x */
        ir_expr *s = e->arg[1 - i];
        if (ir_expr_uses_x(s) || !affine(w, e->arg[i], &k1, &m1, at))
            return false;
        *k = node(w, e->op, k1, s, NULL, at); /* k1 is not NULL: e->arg[i] reads x */
        *m = is_const(m1, 0) ? m1 : node(w, e->op, m1, s, NULL, at);
        return !w->failed;
    }
    default:
        return false;
    }
}

/* log1p(exp(p)) - log1p(exp(q)) (op EX_SUB, or EX_ADD with b negated)
   where p - q is a constant c (or a term of the params), as
   log1p(expm1(c) sigmoid(q)) for c >= 0 and -log1p(expm1(-c) sigmoid(p))
   for c < 0: (1 + e^p) / (1 + e^q) is 1 + (e^c - 1) e^q / (1 + e^q), and
   the argument of log1p is >= 0. One exp and one log1p instead of two of
   each (softclip's log((1 + exp(a*x)) / (1 + exp(a*(x - 1)))) / a: forward
   1.4-1.7x, forward and backward 1.5-1.8x), and no cancellation where both
   terms are large. For |c| > 30 the difference as it was: sigmoid(q)
   underflows below q = -745, where expm1(c) sigmoid(q) would lose a value
   e^(q + c) that a float holds for c > 640. Else NULL. */
static ir_expr *softplus_difference(rewriter *w, ir_expr *a, ir_expr *b, ir_expr_op op,
                                    const ir_expr *at)
{
    if (op == EX_ADD && b->op != EX_NEG)
        return NULL;
    ir_expr *p = softplus_arg(a), *q = softplus_arg(op == EX_ADD ? b->arg[0] : b), *kp, *mp, *kq,
            *mq;
    if (!p || !q || !may_repeat(p) || !may_repeat(q) || !affine(w, p, &kp, &mp, at) ||
        !affine(w, q, &kq, &mq, at) || kp != kq)
        return NULL;
    ir_expr *c = minus(w, mp, mq, at);
    ir_expr *up = unary(
        w, EX_LOG1P,
        node(w, EX_MUL, unary(w, EX_EXPM1, c, at), unary(w, EX_SIGMOID, q, at), NULL, at), at);
    ir_expr *down = unary(w, EX_NEG,
                          unary(w, EX_LOG1P,
                                node(w, EX_MUL, unary(w, EX_EXPM1, unary(w, EX_NEG, c, at), at),
                                     unary(w, EX_SIGMOID, p, at), NULL, at),
                                at),
                          at);
    ir_expr *r = node(w, EX_WHERE, node(w, EX_GE, c, num(w, 0), NULL, at), up, down, at);
    ir_expr *fits = node(w, EX_LE, unary(w, EX_ABS, c, at), num(w, 30), NULL, at);
    return node(w, EX_WHERE, fits, r, node(w, op, a, b, NULL, at), at);
}

/* t + log1p(exp(-t)) as log1p(exp(t)), and t - log1p(exp(t)) as
   -log1p(exp(-t)), log1p(exp(t)) - t as log1p(exp(-t)): the sum cancels
   where log1p(exp(-t)) is about -t (softplus written x + log(1 + exp(-x))
   was 0 below x = -37), the softplus term alone does not. */
static ir_expr *softplus_shift(rewriter *w, ir_expr *a, ir_expr *b, ir_expr_op op,
                               const ir_expr *at)
{
    ir_expr *u = softplus_arg(b), *v = softplus_arg(a);
    if (op == EX_ADD && (u || v)) {
        ir_expr *t = u ? a : b, *s = u ? u : v;
        if (!negates(s, t))
            return NULL;
        return unary(w, EX_LOG1P, unary(w, EX_EXP, t, at), at);
    }
    ir_expr *flipped =
        op == EX_SUB && (u == a || v == b) ? unary(w, EX_NEG, u == a ? a : b, at) : NULL;
    if (!flipped)
        return NULL;
    ir_expr *sp = unary(w, EX_LOG1P, unary(w, EX_EXP, flipped, at), at);
    return u == a ? unary(w, EX_NEG, sp, at) : sp;
}

/* a +- a f(t) (or a f(t) +- a) as a (1 +- f(t)), where 1 +- f has a form
   without cancellation: 0.5 + 0.5 tanh(x / 2), gelu's x/2 + x/2 erf(...),
   or NULL. */
static ir_expr *common_factor(rewriter *w, ir_expr *a, ir_expr *b, ir_expr_op op, const ir_expr *at)
{
    double sign = op == EX_SUB ? -1 : 1;
    for (int i = 0; i < 2; i++) {
        if (b->op == EX_MUL && b->arg[i] == a && b->arg[1 - i]->nargs == 1) {
            ir_expr *r = one_plus_f(w, sign, b->arg[1 - i], at);
            return r ? node(w, EX_MUL, a, r, NULL, at) : NULL;
        }
        if (a->op == EX_MUL && a->arg[i] == b && a->arg[1 - i]->nargs == 1 && op == EX_ADD) {
            ir_expr *r = one_plus_f(w, 1, a->arg[1 - i], at);
            return r ? node(w, EX_MUL, b, r, NULL, at) : NULL;
        }
    }
    return NULL;
}

/* Whether e is b^2 or b * b: *b. */
static bool is_square(ir_expr *e, ir_expr **b)
{
    *b = e->arg[0];
    return (e->op == EX_POW && is_const(e->arg[1], 2)) ||
           (e->op == EX_MUL && e->arg[0] == e->arg[1]);
}

/* Whether e is sigmoid(p) times c (c NULL: e is the sigmoid): *p, *c. */
static bool sigmoid_term(ir_expr *e, ir_expr **p, ir_expr **c)
{
    *c = NULL;
    for (int i = 0; e->op == EX_MUL && i < 2; i++)
        if (e->arg[i]->op == EX_SIGMOID) {
            *c = e->arg[1 - i];
            e = e->arg[i];
            break;
        }
    *p = e->op == EX_SIGMOID ? e->arg[0] : NULL;
    return *p != NULL;
}

/* Whether e is c sigmoid(t) (or sigmoid(t) c) for the constant c: *t. */
static bool times_sigmoid(ir_expr *e, double c, ir_expr **t)
{
    ir_expr *f;
    return sigmoid_term(e, t, &f) && (f ? is_const(f, c) : c == 1);
}

/* Sigmoids and tanh centred on 0, where the terms are near +-1 or 1/2 and
   cancel: 2 sigmoid(t) - 1 and 1 - 2 sigmoid(-t) as tanh(t / 2), sigmoid(t)
   - 0.5 as tanh(t / 2) / 2 (tanh written with sigmoids was 0 at 1e-30), and
   1 - tanh(t)^2 as 4 sigmoid(2t) sigmoid(-2t) (tanh's derivative written by
   hand, 0 from t = 19); else NULL. */
static ir_expr *centred(rewriter *w, ir_expr *a, ir_expr *b, ir_expr_op op, const ir_expr *at)
{
    ir_expr *t, *half;
    if (op != EX_SUB && !(op == EX_ADD && (is_const(b, -1) || is_const(b, -0.5))))
        return NULL;
    double k = op == EX_SUB ? 1 : -1; /* b is k for a - 1 (a - 1 or a + -1) */
    if ((is_const(b, k) && times_sigmoid(a, 2, &t)) ||
        (is_const(b, 0.5 * k) && times_sigmoid(a, 1, &t))) {
        half = unary(w, EX_TANH, node(w, EX_MUL, num(w, 0.5), t, NULL, at), at);
        return is_const(b, k) ? half : node(w, EX_MUL, num(w, 0.5), half, NULL, at);
    }
    if (op == EX_SUB && is_const(a, 1) && times_sigmoid(b, 2, &t))
        return unary(w, EX_TANH, node(w, EX_MUL, num(w, -0.5), t, NULL, at), at);
    ir_expr *base;
    if (op == EX_SUB && is_const(a, 1) && is_square(b, &base) && base->op == EX_TANH) {
        ir_expr *twice = node(w, EX_MUL, num(w, 2), base->arg[0], NULL, at);
        ir_expr *s = unary(w, EX_SIGMOID, twice, at);
        ir_expr *r = unary(w, EX_SIGMOID, unary(w, EX_NEG, twice, at), at);
        return node(w, EX_MUL, num(w, 4), node(w, EX_MUL, s, r, NULL, at), NULL, at);
    }
    return NULL;
}

/* a + b or a - b in a form without cancellation, or NULL: the conjugates
   above, 1 +- f(t), a +- a f(t), a softplus shifted by its argument, the
   centred forms above, exp(t) - 1 and -1 + exp(t) as expm1(t). */
static ir_expr *sum_of(rewriter *w, ir_expr *a, ir_expr *b, ir_expr_op op, const ir_expr *at)
{
    double sign = op == EX_SUB ? -1 : 1;
    ir_expr *conj = may_repeat(a) && may_repeat(b) ? conjugate_of(w, a, b, op, at) : NULL;
    if (conj)
        return conj;
    ir_expr *r = common_factor(w, a, b, op, at);
    if (r || (r = softplus_shift(w, a, b, op, at)) || (r = centred(w, a, b, op, at)) ||
        (r = softplus_difference(w, a, b, op, at)))
        return r;
    if (is_const(a, 1) && b->nargs == 1)
        return one_plus_f(w, sign, b, at);
    if (op == EX_ADD && is_const(b, 1) && a->nargs == 1)
        return one_plus_f(w, 1, a, at);
    if (op == EX_ADD && is_const(a, -1) && b->op == EX_EXP)
        return unary(w, EX_EXPM1, b->arg[0], at);
    if (a->op == EX_EXP && is_const(b, -sign))
        return unary(w, EX_EXPM1, a->arg[0], at);
    return NULL;
}

static ir_expr *exponent(rewriter *w, ir_expr *e)
{
    return ir_ex_exponent(w->p, e, &w->failed);
}

static bool exp_sum(rewriter *w, ir_expr *e, ir_expr **p, ir_expr **q)
{
    return ir_ex_exp_sum(w->p, e, p, q, &w->failed);
}

/* Whether e is exp(p) - exp(q), also as expm1(p) (q = 0) or -expm1(q)
   (p = 0), the forms the rules above leave of exp(t) - 1 and 1 - exp(t). */
static bool exp_difference_of(rewriter *w, ir_expr *e, ir_expr **p, ir_expr **q)
{
    if (e->op == EX_SUB)
        return (*p = exponent(w, e->arg[0])) && (*q = exponent(w, e->arg[1]));
    if (e->op == EX_EXPM1)
        return (*p = e->arg[0]) && (*q = num(w, 0));
    if (e->op == EX_NEG && e->arg[0]->op == EX_EXPM1)
        return (*p = num(w, 0)) && (*q = e->arg[0]->arg[0]);
    return false;
}

static ir_expr *minus(rewriter *w, ir_expr *p, ir_expr *q, const ir_expr *at)
{
    if (is_const(q, 0))
        return p;
    return is_const(p, 0) ? unary(w, EX_NEG, q, at) : node(w, EX_SUB, p, q, NULL, at);
}

/* Quotients of exps that overflow together, by the function they are, or
   NULL: (exp(p) - exp(q)) / (exp(p) + exp(q)) as tanh((p - q) / 2) (tanh
   written with exps was NaN beyond |x| = 709, inf / inf), exp(p) / (exp(p)
   + exp(q)) as sigmoid(p - q), exp(t) / (1 + exp(t))^2 as sigmoid(t)
   sigmoid(-t) (the logistic density), and u A / B as u (A / B) for these
   (x exp(x) / (1 + exp(x)), swish, was inf / inf above 709). 1 for exp(0)
   throughout: exp(t) / (1 + exp(t)) is sigmoid(t), (1 - exp(-2x)) / (1 +
   exp(-2x)) is tanh(x). */
static ir_expr *exp_quotient(rewriter *w, ir_expr *a, ir_expr *b, const ir_expr *at)
{
    ir_expr *p, *q, *r, *s;
    for (int i = 0; a->op == EX_MUL && i < 2; i++) {
        ir_expr *inner = exp_quotient(w, a->arg[i], b, at);
        if (inner)
            return node(w, EX_MUL, a->arg[1 - i], inner, NULL, at);
    }
    ir_expr *base, *t;
    if (is_square(b, &base) && (t = ir_ex_one_plus(base)) && t->op == EX_EXP && a == t) {
        ir_expr *up = unary(w, EX_SIGMOID, t->arg[0], at);
        return node(w, EX_MUL, up, unary(w, EX_SIGMOID, unary(w, EX_NEG, t->arg[0], at), at), NULL,
                    at);
    }
    if (!exp_sum(w, b, &r, &s))
        return NULL;
    if (exp_difference_of(w, a, &p, &q) && ((p == r && q == s) || (p == s && q == r))) {
        ir_expr *half = node(w, EX_MUL, num(w, 0.5), minus(w, p, q, at), NULL, at);
        return unary(w, EX_TANH, half, at);
    }
    if ((p = exponent(w, a)) && (p == r || p == s))
        return unary(w, EX_SIGMOID, minus(w, p, p == r ? s : r, at), at);
    return NULL;
}

/* The quotients above, and a / (1 + exp(t)) as a sigmoid(-t) for other a
   (x / (1 + exp(-x)), swish, is inf / inf in its derivative below x =
   -709, a sigmoid's derivative is not). */
static ir_expr *quotient_of(rewriter *w, ir_expr *a, ir_expr *b, const ir_expr *at)
{
    ir_expr *r = exp_quotient(w, a, b, at);
    if (r)
        return r;
    ir_expr *t = ir_ex_one_plus(b);
    if (!t || t->op != EX_EXP)
        return NULL;
    return node(w, EX_MUL, a, unary(w, EX_SIGMOID, unary(w, EX_NEG, t->arg[0], at), at), NULL, at);
}

/* A rule: the rewrite of node e whose operands are already rewritten into
   args, or NULL where it does not apply. */
typedef ir_expr *(*rule_fn)(rewriter *w, ir_expr *e, ir_expr **args);

/* e rewritten bottom-up by rule. */
static ir_expr *rewrite(rewriter *w, ir_expr *e, rule_fn rule)
{
    if (!e->nargs)
        return e;
    ir_expr *args[3] = {NULL, NULL, NULL};
    for (int i = 0; i < e->nargs; i++)
        if (!(args[i] = rewrite(w, e->arg[i], rule)))
            return NULL;
    ir_expr *r = rule(w, e, args);
    if (w->failed)
        return NULL;
    return r ? r : ir_ex_with_args(w->p, e, args);
}

static ir_expr *stable_rule(rewriter *w, ir_expr *e, ir_expr **args)
{
    if (e->op == EX_LOG)
        return log_of(w, args[0], e);
    if (e->op == EX_ADD || e->op == EX_SUB)
        return sum_of(w, args[0], args[1], e->op, e);
    ir_expr *a = args[0], *b = args[1];
    if (e->op == EX_DIV && a->op == EX_DIV && b->op == EX_DIV && a->arg[1] == b->arg[1] &&
        a->arg[1]->op == EX_CONST) { /* (A / c) / (B / c): sinh / cosh written with their halves */
        ir_expr *r = quotient_of(w, a->arg[0], b->arg[0], e);
        if (r)
            return r;
    }
    if (e->op == EX_DIV && !is_const(a, 1)) /* 1 / ...: in expand_rule() */
        return quotient_of(w, a, b, e);
    if (e->op == EX_POW && is_const(args[1], -1)) /* u^-1 as 1/u: its derivative's u^-2 */
        return node(w, EX_DIV, num(w, 1), args[0], NULL, e); /* overflowed with u */
    return NULL;
}

ir_expr *ir_expr_stable(ir_expr_pool *p, ir_expr *e)
{
    rewriter w = {p, false};
    return e ? rewrite(&w, e, stable_rule) : NULL;
}

/* -t with t >= 0: log1p(exp(-t)) is already the stable softplus term. */
static bool is_nonpos(const ir_expr *e)
{
    return (e->op == EX_NEG && is_nonneg(e->arg[0])) || (e->op == EX_CONST && e->value <= 0);
}

/* log1p(exp(t)) as max(t, 0) + log1p(exp(-abs(t))): max keeps a NaN t, and
   at t = +-inf the sum is inf or 0. */
static ir_expr *softplus(rewriter *w, ir_expr *t, const ir_expr *at)
{
    ir_expr *tail = unary(w, EX_NEG, unary(w, EX_ABS, t, at), at);
    ir_expr *small = unary(w, EX_LOG1P, unary(w, EX_EXP, tail, at), at);
    return node(w, EX_ADD, node(w, EX_MAX, t, num(w, 0), NULL, at), small, NULL, at);
}

/* exp(a) - exp(b) as e^max (1 - e^-|a - b|) with the sign of a - b, by
   expm1: no cancellation where a is near b (tanh written with exps near 0).
   At a = b the text itself, exactly 0 for finite a and NaN or 0 at infinite
   a, where b - a is NaN. */
static ir_expr *exp_difference(rewriter *w, ir_expr *text, const ir_expr *at)
{
    ir_expr *a = text->arg[0]->arg[0], *b = text->arg[1]->arg[0];
    ir_expr *down = node(w, EX_MUL, unary(w, EX_EXP, a, at),
                         unary(w, EX_EXPM1, node(w, EX_SUB, b, a, NULL, at), at), NULL, at);
    ir_expr *up = node(w, EX_MUL, unary(w, EX_EXP, b, at),
                       unary(w, EX_EXPM1, node(w, EX_SUB, a, b, NULL, at), at), NULL, at);
    ir_expr *apart =
        node(w, EX_WHERE, node(w, EX_GT, a, b, NULL, at), unary(w, EX_NEG, down, at), up, at);
    return node(w, EX_WHERE, node(w, EX_EQ, a, b, NULL, at), text, apart, at);
}

/* c sigmoid(p) - c sigmoid(q) (also as a sum with the second negated), the
   derivative of a difference of softplus terms (softclip's), as c
   (sigmoid(-q) - sigmoid(-p)) where both are above 0: there the sigmoids
   are near 1 and their difference cancelled (softclip' at x = 30 was 1e-3
   off, 0 from x = 37); the tails near 0 do not. Else NULL. */
static ir_expr *sigmoid_difference(rewriter *w, ir_expr *a, ir_expr *b, ir_expr_op op,
                                   const ir_expr *at)
{
    if (op == EX_ADD && b->op != EX_NEG)
        return NULL;
    ir_expr *p, *q, *c, *d;
    if (!sigmoid_term(a, &p, &c) || !sigmoid_term(op == EX_ADD ? b->arg[0] : b, &q, &d) || c != d ||
        !may_repeat(p) || !may_repeat(q))
        return NULL;
    ir_expr *text =
        node(w, EX_SUB, unary(w, EX_SIGMOID, p, at), unary(w, EX_SIGMOID, q, at), NULL, at);
    ir_expr *tails = node(w, EX_SUB, unary(w, EX_SIGMOID, unary(w, EX_NEG, q, at), at),
                          unary(w, EX_SIGMOID, unary(w, EX_NEG, p, at), at), NULL, at);
    ir_expr *both = node(w, EX_GT, node(w, EX_MIN, p, q, NULL, at), num(w, 0), NULL, at);
    ir_expr *r = node(w, EX_WHERE, both, tails, text, at);
    return c ? node(w, EX_MUL, r, c, NULL, at) : r;
}

/* log(exp(p) + exp(q)) as max(p, q) + log1p(exp(-abs(p - q))): log cosh
   written with exps was inf beyond |x| = 710. After the derivative,
   which is taken from the text (p' sigmoid(p - q) + q' sigmoid(q - p)) and
   has no tie where p = q. */
static ir_expr *log_sum_exp(rewriter *w, ir_expr *s, const ir_expr *at)
{
    ir_expr *p, *q;
    if (!exp_sum(w, s, &p, &q) || !may_repeat(p) || !may_repeat(q))
        return NULL;
    ir_expr *apart = unary(w, EX_NEG, unary(w, EX_ABS, node(w, EX_SUB, p, q, NULL, at), at), at);
    ir_expr *rest = unary(w, EX_LOG1P, unary(w, EX_EXP, apart, at), at);
    return node(w, EX_ADD, node(w, EX_MAX, p, q, NULL, at), rest, NULL, at);
}

/* (+-exp(p)) (+-exp(q)) as +-exp(p + q), the chain rule's product: the
   derivative of exp(-exp(-x)) is e^(-e^-x) e^-x, 0 * inf below -709. */
static ir_expr *exp_product(rewriter *w, ir_expr *a, ir_expr *b, const ir_expr *at)
{
    bool na, nb;
    ir_expr *p = ir_ex_exp_factor(a, &na), *q = ir_ex_exp_factor(b, &nb);
    if (!p || !q)
        return NULL;
    ir_expr *r = unary(w, EX_EXP, node(w, EX_ADD, p, q, NULL, at), at);
    return na != nb ? unary(w, EX_NEG, r, at) : r;
}

static ir_expr *expand_rule(rewriter *w, ir_expr *e, ir_expr **args)
{
    ir_expr *u = args[0];
    if (e->op == EX_LOG && u->op == EX_ADD)
        return log_sum_exp(w, u, e);
    if (e->op == EX_LOG1P && u->op == EX_EXP && !is_nonpos(u->arg[0]) && may_repeat(u))
        return softplus(w, u->arg[0], e);
    if (e->op == EX_SUB && is_const(u, 1) && args[1]->op == EX_SIGMOID)
        return unary(w, EX_SIGMOID, unary(w, EX_NEG, args[1]->arg[0], e), e);
    ir_expr *r =
        e->op == EX_ADD || e->op == EX_SUB ? sigmoid_difference(w, u, args[1], e->op, e) : NULL;
    if (r)
        return r;
    if (e->op == EX_DIV)
        return quotient_of(w, u, args[1], e);
    if (e->op == EX_MUL)
        return exp_product(w, u, args[1], e);
    if (e->op == EX_SUB && u->op == EX_EXP && args[1]->op == EX_EXP && may_repeat(u) &&
        may_repeat(args[1])) {
        ir_expr *text = ir_ex_with_args(w->p, e, args);
        w->failed |= !text;
        return text ? exp_difference(w, text, e) : NULL;
    }
    return NULL;
}

ir_expr *ir_expr_expand(ir_expr_pool *p, ir_expr *e)
{
    rewriter w = {p, false};
    return e ? rewrite(&w, e, expand_rule) : NULL;
}
