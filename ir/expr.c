/* expr.c -- the hash-consed pool of scalar expression nodes and its smart
   constructors, which fold constants, neutral elements and t * -1 (as -t)
   only where IEEE arithmetic gives the same result; also the small tree
   walks (uses_x, subst_y). */
#include "ir.h"

#include <assert.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

struct ir_expr_pool {
    ir_arena *arena;
    ir_expr **slots; /* open addressing, linear probing; cap is a power of 2 */
    size_t cap, n;
};

static const struct {
    const char *name;
    int nargs;
} op_info[EX_COUNT_] = {
    [EX_CONST] = {"const", 0}, [EX_X] = {"x", 0},         [EX_Y] = {"y", 0},
    [EX_PARAM] = {"param", 0}, [EX_NEG] = {"-", 1},       [EX_ADD] = {"+", 2},
    [EX_SUB] = {"-", 2},       [EX_MUL] = {"*", 2},       [EX_DIV] = {"/", 2},
    [EX_POW] = {"^", 2},       [EX_LT] = {"<", 2},        [EX_LE] = {"<=", 2},
    [EX_GT] = {">", 2},        [EX_GE] = {">=", 2},       [EX_EQ] = {"==", 2},
    [EX_NE] = {"!=", 2},       [EX_EXP] = {"exp", 1},     [EX_EXPM1] = {"expm1", 1},
    [EX_LOG] = {"log", 1},     [EX_LOG1P] = {"log1p", 1}, [EX_SQRT] = {"sqrt", 1},
    [EX_ABS] = {"abs", 1},     [EX_TANH] = {"tanh", 1},   [EX_SIGMOID] = {"sigmoid", 1},
    [EX_ERF] = {"erf", 1},     [EX_ERFC] = {"erfc", 1},   [EX_SIN] = {"sin", 1},
    [EX_COS] = {"cos", 1},     [EX_MIN] = {"min", 2},     [EX_MAX] = {"max", 2},
    [EX_WHERE] = {"where", 3}, [EX_CLAMP] = {"clamp", 3}, [EX_CALL] = {"call", -1},
};

const char *ir_expr_op_name(ir_expr_op op)
{
    return op_info[op].name;
}

int ir_expr_op_arity(ir_expr_op op)
{
    return op_info[op].nargs;
}

enum { INITIAL_SLOTS = 256 };

ir_expr_pool *ir_expr_pool_new(ir_arena *a)
{
    ir_expr_pool *p = ir_alloc(a, sizeof *p);
    if (!p || !(p->slots = ir_alloc(a, INITIAL_SLOTS * sizeof *p->slots)))
        return NULL;
    p->arena = a;
    p->cap = INITIAL_SLOTS;
    return p;
}

ir_arena *ir_expr_pool_arena(ir_expr_pool *p)
{
    return p->arena;
}

/* Constants are keyed by their bits, so 0 and -0 stay apart; every NaN is
   made the one quiet NaN first, so NaN constants are one node. */
static uint64_t bits_of(double v)
{
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    return u;
}

/* One multiply a field, chained, and a finaliser that folds the high bits
   into the low ones the table's mask reads: the hash is on every node made. */
static uint64_t step(uint64_t h, uint64_t v)
{
    return ((h << 23 | h >> 41) ^ v) * 0x9E3779B97F4A7C15u;
}

static uint64_t hash_of(const ir_expr *k)
{
    uint64_t h = step((uint64_t)k->op, bits_of(k->value));
    h = step(h, (uint64_t)(uint32_t)k->param);
    h = step(h, (uint64_t)(uintptr_t)k->fn);
    for (int i = 0; i < k->nargs; i++)
        h = step(h, k->arg[i]->hash);
    h ^= h >> 32;
    h *= 0xBF58476D1CE4E5B9u;
    return h ^ (h >> 29);
}

static bool same(const ir_expr *a, const ir_expr *b)
{
    if (a->op != b->op || a->param != b->param || a->nargs != b->nargs || a->fn != b->fn ||
        bits_of(a->value) != bits_of(b->value))
        return false;
    for (int i = 0; i < a->nargs; i++)
        if (a->arg[i] != b->arg[i])
            return false;
    return true;
}

/* Doubles the table; the old one is left to the arena. */
static int grow(ir_expr_pool *p)
{
    size_t cap = p->cap * 2;
    ir_expr **slots = ir_alloc(p->arena, cap * sizeof *slots);
    if (!slots)
        return ACT_ERR_NOMEM;
    for (size_t i = 0; i < p->cap; i++) {
        ir_expr *e = p->slots[i];
        if (!e)
            continue;
        size_t j = e->hash & (cap - 1);
        while (slots[j])
            j = (j + 1) & (cap - 1);
        slots[j] = e;
    }
    p->slots = slots;
    p->cap = cap;
    return 0;
}

/* The pool's node equal to *key, made on first use. */
static ir_expr *intern(ir_expr_pool *p, ir_expr *key)
{
    if ((p->n + 1) * 4 > p->cap * 3 && grow(p))
        return NULL;
    key->hash = hash_of(key);
    size_t mask = p->cap - 1;
    for (size_t i = key->hash & mask;; i = (i + 1) & mask) {
        ir_expr *e = p->slots[i];
        if (e && e->hash == key->hash && same(e, key))
            return e;
        if (e)
            continue;
        if (!(e = ir_alloc(p->arena, sizeof *e)))
            return NULL;
        *e = *key;
        p->slots[i] = e;
        p->n++;
        return e;
    }
}

ir_expr *ir_ex_const(ir_expr_pool *p, double v)
{
    ir_expr key = {.op = EX_CONST, .value = isnan(v) ? NAN : v};
    return intern(p, &key);
}

ir_expr *ir_ex_leaf(ir_expr_pool *p, ir_expr_op op, int param)
{
    ir_expr key = {.op = op, .param = op == EX_PARAM ? param : 0};
    return intern(p, &key);
}

static bool is_const(const ir_expr *e, double v)
{
    return e->op == EX_CONST && e->value == v;
}

static bool is_comparison(const ir_expr *e)
{
    return e->op >= EX_LT && e->op <= EX_NE;
}

/* The folded form of op(args) with *folded set, or nothing (NULL and
   *folded clear, or NULL and *folded set when out of memory). Every rule
   gives the value of the unfolded node for every input (x + 0 up to the sign
   of a zero), so engines may see either. */
static ir_expr *fold(ir_expr_pool *p, ir_expr_op op, ir_expr *const *args, int n, bool *folded)
{
    bool all_const = true;
    for (int i = 0; i < n; i++)
        all_const &= args[i]->op == EX_CONST;
    *folded = true;
    if (all_const) {
        ir_expr tmp = {.op = op, .nargs = n};
        memcpy(tmp.arg, args, (size_t)n * sizeof *args);
        return ir_ex_const(p, ir_expr_eval(&tmp, 0, 0, NULL));
    }
    switch (op) {
    case EX_ADD:
        if (is_const(args[1], 0) || is_const(args[0], 0))
            return is_const(args[1], 0) ? args[0] : args[1];
        break;
    case EX_SUB:
    case EX_DIV:
    case EX_POW:
        if (is_const(args[1], op == EX_SUB ? 0 : 1))
            return args[0];
        break;
    case EX_MUL:
        if (is_const(args[1], 1) || is_const(args[0], 1))
            return is_const(args[1], 1) ? args[0] : args[1];
        if (is_const(args[1], -1) || is_const(args[0], -1)) /* the chain rule's t' of -t */
            return ir_ex_node(p, EX_NEG, is_const(args[1], -1) ? args[0] : args[1], NULL, NULL);
        break;
    case EX_NEG:
        if (args[0]->op == EX_NEG)
            return args[0]->arg[0];
        break;
    case EX_WHERE:
        if (args[0]->op == EX_CONST)
            return isnan(args[0]->value) ? ir_ex_const(p, NAN)
                   : args[0]->value != 0 ? args[1]
                                         : args[2];
        /* a comparison is never NaN, so with equal branches the value is the branch */
        if (is_comparison(args[0]) && args[1] == args[2])
            return args[1];
        break;
    default:
        break;
    }
    *folded = false;
    return NULL;
}

ir_expr *ir_ex_node(ir_expr_pool *p, ir_expr_op op, ir_expr *a, ir_expr *b, ir_expr *c)
{
    ir_expr *args[3] = {a, b, c};
    int n = op_info[op].nargs;
    assert(n > 0 && "leaves and calls have their own constructors");
    for (int i = 0; i < n; i++)
        if (!args[i])
            return NULL;
    bool folded;
    ir_expr *r = fold(p, op, args, n, &folded);
    if (folded)
        return r;
    ir_expr key = {.op = op, .nargs = n};
    memcpy(key.arg, args, (size_t)n * sizeof *args);
    return intern(p, &key);
}

ir_expr *ir_ex_call(ir_expr_pool *p, const ir_native *fn, ir_expr **args, int nargs)
{
    ir_expr key = {.op = EX_CALL, .nargs = nargs, .fn = fn};
    for (int i = 0; i < nargs; i++)
        if (!(key.arg[i] = args[i]))
            return NULL;
    return intern(p, &key);
}

ir_expr *ir_ex_pos(ir_expr *e, ir_pos pos)
{
    if (e && !e->pos.line)
        e->pos = pos;
    return e;
}

bool ir_expr_any(const ir_expr *e, bool (*pred)(const ir_expr *))
{
    if (!e)
        return false;
    if (pred(e))
        return true;
    for (int i = 0; i < e->nargs; i++)
        if (ir_expr_any(e->arg[i], pred))
            return true;
    return false;
}

static bool is_x(const ir_expr *e)
{
    return e->op == EX_X;
}

bool ir_expr_uses_x(const ir_expr *e)
{
    return ir_expr_any(e, is_x);
}

ir_expr *ir_ex_one_plus(const ir_expr *e)
{
    if (e->op != EX_ADD)
        return NULL;
    for (int i = 0; i < 2; i++)
        if (e->arg[i]->op == EX_CONST && e->arg[i]->value == 1)
            return e->arg[1 - i];
    return NULL;
}

ir_expr *ir_ex_exponent(ir_expr_pool *p, ir_expr *e, bool *failed)
{
    if (e->op == EX_EXP)
        return e->arg[0];
    if (e->op != EX_CONST || e->value != 1)
        return NULL;
    ir_expr *zero = ir_ex_const(p, 0);
    *failed |= !zero;
    return zero;
}

bool ir_ex_exp_sum(ir_expr_pool *p, ir_expr *e, ir_expr **a, ir_expr **b, bool *failed)
{
    return e->op == EX_ADD && (*a = ir_ex_exponent(p, e->arg[0], failed)) &&
           (*b = ir_ex_exponent(p, e->arg[1], failed));
}

ir_expr *ir_ex_with_args(ir_expr_pool *p, ir_expr *e, ir_expr **args)
{
    bool changed = false;
    for (int i = 0; i < e->nargs; i++)
        changed |= args[i] != e->arg[i];
    if (!changed)
        return e;
    ir_expr *r = e->op == EX_CALL ? ir_ex_call(p, e->fn, args, e->nargs)
                                  : ir_ex_node(p, e->op, args[0], args[1], args[2]);
    return ir_ex_pos(r, e->pos);
}

ir_expr *ir_ex_exp_factor(ir_expr *e, bool *negated)
{
    *negated = e->op == EX_NEG;
    e = *negated ? e->arg[0] : e;
    return e->op == EX_EXP ? e->arg[0] : NULL;
}

/* Whether f in operand i of d enters d as a factor of it: through a
   product, a quotient, a negation, a where's branch, or a native call's
   operands (the derivative of a plugin's function receives its value). */
static bool passes_factor(const ir_expr *d, int i)
{
    switch (d->op) {
    case EX_MUL: { /* but (+-e^a) (+-e^b), which ir_expr_expand joins into one exp:
                      the derivative of exp(-exp(-x)) was y e^-x, 0 inf below -709 */
        bool negated;
        return !ir_ex_exp_factor(d->arg[0], &negated) || !ir_ex_exp_factor(d->arg[1], &negated);
    }
    case EX_DIV:
    case EX_NEG:
    case EX_CALL:
        return true;
    case EX_WHERE:
        return i > 0;
    default:
        return false;
    }
}

static ir_expr *subst_y(ir_expr_pool *p, ir_expr *d, const ir_expr *f, bool factor)
{
    if (d == f && factor)
        return ir_ex_pos(ir_ex_leaf(p, EX_Y, 0), f->pos);
    if (!d->nargs)
        return d;
    ir_expr *args[3] = {NULL, NULL, NULL};
    for (int i = 0; i < d->nargs; i++)
        if (!(args[i] = subst_y(p, d->arg[i], f, factor && passes_factor(d, i))))
            return NULL;
    return ir_ex_with_args(p, d, args);
}

ir_expr *ir_expr_subst_y(ir_expr_pool *p, ir_expr *d, const ir_expr *f)
{
    return d ? subst_y(p, d, f, true) : NULL;
}
