/* expr_eval.c -- evaluates a scalar expression in double: the reference
   semantics every engine follows (NaN rules of min, max, clamp and where;
   the stable sigmoid). */
#include "ir.h"

#include <math.h>

/* Unlike fmin/fmax, a NaN operand gives NaN (ACT-LANGUAGE.md); at a tie the
   first operand is the result, as the derivative rule assumes. */
static double max_nan(double a, double b)
{
    return isnan(a) || isnan(b) ? a + b : a >= b ? a : b;
}

static double min_nan(double a, double b)
{
    return isnan(a) || isnan(b) ? a + b : a <= b ? a : b;
}

/* exp never overflows: for x < 0 it is e/(1+e) with e = exp(x) <= 1, where
   1/(1 + exp(-x)) would overflow to 0 below x = -709 although the result is
   representable down to -745. Both forms are within 2 ULP. */
static double sigmoid(double x)
{
    if (x < 0) {
        double e = exp(x);
        return e / (1 + e);
    }
    return 1 / (1 + exp(-x));
}

static double call(const ir_expr *e, double x, double y, const double *params)
{
    double args[3];
    for (int i = 0; i < e->nargs; i++)
        args[i] = ir_expr_eval(e->arg[i], x, y, params);
    return e->fn->eval(e->fn, args, e->nargs, params);
}

/* where(c, a, b) evaluates only the branch it takes, so a guarded branch
   (log of a negative number, inf * 0) never reaches the result. A NaN
   condition gives NaN: NaN in must give NaN out, and a comparison, the usual
   condition, is never NaN. */
static double where(const ir_expr *e, double x, double y, const double *params)
{
    double c = ir_expr_eval(e->arg[0], x, y, params);
    if (isnan(c))
        return c;
    return ir_expr_eval(e->arg[c != 0 ? 1 : 2], x, y, params);
}

double ir_expr_eval(const ir_expr *e, double x, double y, const double *params)
{
    if (e->op == EX_WHERE)
        return where(e, x, y, params);
    if (e->op == EX_CALL)
        return call(e, x, y, params);
    double a = e->nargs > 0 ? ir_expr_eval(e->arg[0], x, y, params) : 0;
    double b = e->nargs > 1 ? ir_expr_eval(e->arg[1], x, y, params) : 0;
    switch (e->op) {
    case EX_CONST:
        return e->value;
    case EX_X:
        return x;
    case EX_Y:
        return y;
    case EX_PARAM:
        return params[e->param];
    case EX_NEG:
        return -a;
    case EX_ADD:
        return a + b;
    case EX_SUB:
        return a - b;
    case EX_MUL:
        return a * b;
    case EX_DIV:
        return a / b;
    case EX_POW:
        return pow(a, b);
    case EX_LT:
        return a < b;
    case EX_LE:
        return a <= b;
    case EX_GT:
        return a > b;
    case EX_GE:
        return a >= b;
    case EX_EQ:
        return a == b;
    case EX_NE:
        return a != b;
    case EX_EXP:
        return exp(a);
    case EX_EXPM1:
        return expm1(a);
    case EX_LOG:
        return log(a);
    case EX_LOG1P:
        return log1p(a);
    case EX_SQRT:
        return sqrt(a);
    case EX_ABS:
        return fabs(a);
    case EX_TANH:
        return tanh(a);
    case EX_SIGMOID:
        return sigmoid(a);
    case EX_ERF:
        return erf(a);
    case EX_ERFC:
        return erfc(a);
    case EX_SIN:
        return sin(a);
    case EX_COS:
        return cos(a);
    case EX_MIN:
        return min_nan(a, b);
    case EX_MAX:
        return max_nan(a, b);
    case EX_CLAMP:
        return min_nan(max_nan(a, b), ir_expr_eval(e->arg[2], x, y, params));
    default:
        return NAN; /* EX_WHERE and EX_CALL are handled above; EX_COUNT_ is no op */
    }
}
