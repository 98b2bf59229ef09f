/* expr_print.c -- writes numbers and scalar expressions as formula text with
   the fewest parentheses the grammar needs, so that parsing the text gives
   back the same pool node. */
#include "ir.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ir_format_number(char buf[32], double v)
{
    if (isnan(v)) {
        strcpy(buf, "nan");
        return;
    }
    if (isinf(v)) {
        strcpy(buf, v > 0 ? "inf" : "-inf");
        return;
    }
    if (v == floor(v) && fabs(v) < 1e15) { /* integers in full: 40, not 4e+01 */
        char digits[20], *d = digits + sizeof digits;
        uint64_t u = (uint64_t)fabs(v);
        do
            *--d = (char)('0' + u % 10);
        while (u /= 10);
        if (signbit(v)) /* -0 too, as "%.0f" writes it */
            *--d = '-';
        memcpy(buf, d, (size_t)(digits + sizeof digits - d));
        buf[digits + sizeof digits - d] = 0;
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, 32, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    /* the exponent without '+' and leading zeros: 1e-05 -> 1e-5, 1e+20 -> 1e20 */
    char *e = strchr(buf, 'e');
    if (!e)
        return;
    char *digits = e + 1 + (e[1] == '-' || e[1] == '+');
    char *from = digits + strspn(digits, "0");
    char *to = e[1] == '-' ? e + 2 : e + 1;
    memmove(to, from, strlen(from) + 1);
}

typedef struct {
    ir_text out;
    const char *var;
    const ir_params *params;
} text;

static void put(text *t, const char *s)
{
    ir_text_printf(&t->out, "%s", s);
}

/* Binding levels, loosest first: 1 comparisons, 2 + -, 3 * /, 4 unary minus,
   5 ^, 6 primaries. A constant prints as what parses back to it: a negative
   one as a unary minus, inf as 1 / 0, NaN as 0 / 0. */
static int level_of(const ir_expr *e)
{
    switch (e->op) {
    case EX_CONST:
        if (isnan(e->value) || e->value == INFINITY)
            return 3;
        return signbit(e->value) ? 4 : 6;
    case EX_LT:
    case EX_LE:
    case EX_GT:
    case EX_GE:
    case EX_EQ:
    case EX_NE:
        return 1;
    case EX_ADD:
    case EX_SUB:
        return 2;
    case EX_MUL:
    case EX_DIV:
        return 3;
    case EX_NEG:
        return 4;
    case EX_POW:
        return 5;
    default:
        return 6;
    }
}

static void emit(text *t, const ir_expr *e, int min_level);

static void emit_const(text *t, double v)
{
    char buf[32];
    if (isnan(v) || isinf(v)) {
        put(t, isnan(v) ? "0 / 0" : v > 0 ? "1 / 0" : "-(1 / 0)");
        return;
    }
    if (signbit(v))
        put(t, "-");
    ir_format_number(buf, fabs(v));
    put(t, buf);
}

static void emit_leaf(text *t, const ir_expr *e)
{
    char buf[32];
    if (e->op == EX_X) {
        put(t, t->var);
    } else if (e->op == EX_Y) {
        put(t, "y");
    } else if (t->params && e->param < t->params->n) {
        put(t, t->params->p[e->param].name);
    } else {
        snprintf(buf, sizeof buf, "p%d", e->param);
        put(t, buf);
    }
}

static void emit_call(text *t, const ir_expr *e)
{
    put(t, e->op == EX_CALL ? e->fn->name : ir_expr_op_name(e->op));
    put(t, "(");
    for (int i = 0; i < e->nargs; i++) {
        if (i)
            put(t, ", ");
        emit(t, e->arg[i], 1);
    }
    put(t, ")");
}

/* The minimum level of the left and right operands of a binary operator:
   left-assoc operators take their own level on the left; ^ is right-assoc
   and its exponent may start with a unary minus (2^-x). */
static void emit_binary(text *t, const ir_expr *e, int level)
{
    bool pow = e->op == EX_POW;
    emit(t, e->arg[0], pow ? 6 : level);
    put(t, pow ? "^" : " ");
    if (!pow) {
        put(t, ir_expr_op_name(e->op));
        put(t, " ");
    }
    emit(t, e->arg[1], pow ? 4 : level + 1);
}

static void emit(text *t, const ir_expr *e, int min_level)
{
    int level = level_of(e);
    if (level < min_level)
        put(t, "(");
    if (e->op == EX_CONST) {
        emit_const(t, e->value);
    } else if (e->op == EX_X || e->op == EX_Y || e->op == EX_PARAM) {
        emit_leaf(t, e);
    } else if (e->op == EX_NEG) {
        put(t, "-");
        emit(t, e->arg[0], 4);
    } else if (level < 6) {
        emit_binary(t, e, level);
    } else {
        emit_call(t, e);
    }
    if (level < min_level)
        put(t, ")");
}

char *ir_expr_to_string(const ir_expr *e, const char *var, const ir_params *params)
{
    text t = {.var = var, .params = params};
    emit(&t, e, 1);
    if (t.out.oom) {
        free(t.out.buf);
        return NULL;
    }
    return t.out.buf;
}
