/* expr_parse.c -- parses activation parameter lists and scalar formulas
   (ACT-LANGUAGE.md, "User-defined activations") from tokens into pool nodes
   that keep the position of their operator, function or literal. */
#include "ir.h"

#include <stdio.h>
#include <string.h>

/* Operands (numbers, names, calls, parenthesised or negated expressions) a
   formula may have: it bounds the depth of the recursion here and of every
   walk over the tree (evaluation, derivative, printing). Formulas of real
   activations have well under 100. */
enum { MAX_OPERANDS = 1000 };

typedef struct {
    ir_expr_pool *pool;
    ir_arena *arena; /* for token descriptions in messages */
    ir_token *tok;
    const char *var;
    const ir_params *params;
    bool allow_y;
    act_error *err;
    int operands;
} parser;

/* e (just made) at pos; out of memory is reported here, so callers only
   pass NULL on. */
static ir_expr *at(parser *ps, ir_expr *e, ir_pos pos)
{
    if (!e)
        act_error_at(ps->err, pos, ACT_ERR_NOMEM, "out of memory");
    return ir_ex_pos(e, pos);
}

static ir_expr *make(parser *ps, ir_expr_op op, ir_expr *a, ir_expr *b, ir_expr *c, ir_pos pos)
{
    return at(ps, ir_ex_node(ps->pool, op, a, b, c), pos);
}

/* ir_tok_describe, which cannot fail the message when out of memory. */
static const char *found(ir_arena *a, const ir_token *t)
{
    const char *d = ir_tok_describe(a, t);
    return d ? d : "a token";
}

static ir_expr *parse_compare(parser *ps);
static ir_expr *parse_unary(parser *ps);

/* Binary operators by level: 1 comparisons, 2 + -, 3 * /; all left-assoc. */
static const struct {
    const char *text;
    ir_expr_op op;
    int level;
} binops[] = {
    {"<", EX_LT, 1},  {"<=", EX_LE, 1}, {">", EX_GT, 1},  {">=", EX_GE, 1}, {"==", EX_EQ, 1},
    {"!=", EX_NE, 1}, {"+", EX_ADD, 2}, {"-", EX_SUB, 2}, {"*", EX_MUL, 3}, {"/", EX_DIV, 3},
};

static int binop_at(const ir_token *t, int level)
{
    if (t->kind != TK_PUNCT)
        return -1;
    for (int i = 0; i < (int)(sizeof binops / sizeof *binops); i++)
        if (binops[i].level == level && !strcmp(t->text, binops[i].text))
            return i;
    return -1;
}

/* level := next (OP next)*, next being the level above, or unary after 3 */
static ir_expr *parse_level(parser *ps, int level)
{
    ir_expr *lhs = level == 3 ? parse_unary(ps) : parse_level(ps, level + 1);
    for (int i; lhs && (i = binop_at(ps->tok, level)) >= 0;) {
        ir_pos pos = ps->tok->pos;
        ps->tok++;
        ir_expr *rhs = level == 3 ? parse_unary(ps) : parse_level(ps, level + 1);
        lhs = rhs ? make(ps, binops[i].op, lhs, rhs, NULL, pos) : NULL;
    }
    return lhs;
}

static ir_expr *parse_compare(parser *ps)
{
    return parse_level(ps, 1);
}

/* The functions a formula may call; pow is the one spelled unlike its op. */
static ir_expr_op function_op(const char *name)
{
    if (!strcmp(name, "pow"))
        return EX_POW;
    for (int op = EX_EXP; op <= EX_CLAMP; op++)
        if (!strcmp(name, ir_expr_op_name((ir_expr_op)op)))
            return (ir_expr_op)op;
    return EX_COUNT_;
}

static ir_expr *unknown_function(parser *ps, const ir_token *name)
{
    char list[256] = "";
    for (int op = EX_EXP; op <= EX_CLAMP; op++) {
        size_t n = strlen(list);
        snprintf(list + n, sizeof list - n, "%s, ", ir_expr_op_name((ir_expr_op)op));
    }
    act_error_at(ps->err, name->pos, ACT_ERR_NAME, "expected a function (%spow), found '%s'", list,
                 name->text);
    return NULL;
}

/* call := NAME '(' [compare (',' compare)*] ')'; the arity is checked after
   all arguments are read, and reported at the name. */
static ir_expr *parse_call(parser *ps)
{
    const ir_token *name = ps->tok;
    ir_expr_op op = function_op(name->text);
    if (op == EX_COUNT_)
        return unknown_function(ps, name);
    ps->tok += 2;
    ir_expr *args[3] = {NULL, NULL, NULL};
    int n = 0;
    while (!ir_tok_is(ps->tok, ")")) {
        if (n && !ir_tok_is(ps->tok, ","))
            return act_error_at(ps->err, ps->tok->pos, ACT_ERR_SYNTAX,
                                "expected ',' or ')', found %s", found(ps->arena, ps->tok)),
                   NULL;
        if (n)
            ps->tok++;
        ir_expr *arg = parse_compare(ps);
        if (!arg)
            return NULL;
        if (n < 3)
            args[n] = arg;
        n++;
    }
    ps->tok++;
    int want = ir_expr_op_arity(op);
    if (n != want)
        return act_error_at(ps->err, name->pos, ACT_ERR_ARG,
                            "expected %d argument%s for %s, found %d", want, want == 1 ? "" : "s",
                            name->text, n),
               NULL;
    return make(ps, op, args[0], args[1], args[2], name->pos);
}

static ir_expr *parse_name(parser *ps)
{
    const ir_token *t = ps->tok;
    ps->tok++;
    if (!strcmp(t->text, ps->var))
        return at(ps, ir_ex_leaf(ps->pool, EX_X, 0), t->pos);
    for (int i = 0; ps->params && i < ps->params->n; i++)
        if (!strcmp(t->text, ps->params->p[i].name))
            return at(ps, ir_ex_leaf(ps->pool, EX_PARAM, i), t->pos);
    if (!strcmp(t->text, "pi"))
        return at(ps, ir_ex_const(ps->pool, IR_PI), t->pos);
    if (!strcmp(t->text, "e"))
        return at(ps, ir_ex_const(ps->pool, IR_E), t->pos);
    bool is_y = !strcmp(t->text, "y");
    if (is_y && ps->allow_y)
        return at(ps, ir_ex_leaf(ps->pool, EX_Y, 0), t->pos);
    if (function_op(t->text) != EX_COUNT_)
        return act_error_at(ps->err, ps->tok->pos, ACT_ERR_SYNTAX,
                            "expected '(' after '%s', found %s", t->text,
                            found(ps->arena, ps->tok)),
               NULL;
    act_error_at(ps->err, t->pos, ACT_ERR_NAME, "expected %s%s, a parameter, pi or e, found '%s'%s",
                 ps->var, ps->allow_y ? ", y" : "", t->text,
                 is_y ? " (`y` is only allowed in a grad expression)" : "");
    return NULL;
}

/* primary := NUMBER | NAME | call | '(' compare ')' */
static ir_expr *parse_primary(parser *ps)
{
    ir_token *t = ps->tok;
    if (t->kind == TK_NUMBER) {
        ps->tok++;
        return at(ps, ir_ex_const(ps->pool, t->num), t->pos);
    }
    if (t->kind == TK_IDENT)
        return ir_tok_is(t + 1, "(") ? parse_call(ps) : parse_name(ps);
    if (!ir_tok_is(t, "("))
        return act_error_at(ps->err, t->pos, ACT_ERR_SYNTAX, "expected an expression, found %s",
                            found(ps->arena, ps->tok)),
               NULL;
    ps->tok++;
    ir_expr *e = parse_compare(ps);
    if (e && !ir_tok_is(ps->tok, ")"))
        return act_error_at(ps->err, ps->tok->pos, ACT_ERR_SYNTAX, "expected ')', found %s",
                            found(ps->arena, ps->tok)),
               NULL;
    ps->tok += e != NULL;
    return e;
}

/* power := primary ['^' unary]: right-assoc, and the exponent may start with
   a minus (2^-x is 2^(-x)) */
static ir_expr *parse_power(parser *ps)
{
    ir_expr *base = parse_primary(ps);
    if (!base || !ir_tok_is(ps->tok, "^"))
        return base;
    ir_pos pos = ps->tok->pos;
    ps->tok++;
    ir_expr *exponent = parse_unary(ps);
    return exponent ? make(ps, EX_POW, base, exponent, NULL, pos) : NULL;
}

/* unary := '-' unary | power: tighter than * and /, looser than ^ (-x^2 is -(x^2)) */
static ir_expr *parse_unary(parser *ps)
{
    if (++ps->operands > MAX_OPERANDS)
        return act_error_at(ps->err, ps->tok->pos, ACT_ERR_SYNTAX,
                            "expected a formula of at most %d operands, found more", MAX_OPERANDS),
               NULL;
    if (!ir_tok_is(ps->tok, "-"))
        return parse_power(ps);
    ir_pos pos = ps->tok->pos;
    ps->tok++;
    ir_expr *a = parse_unary(ps);
    return a ? make(ps, EX_NEG, a, NULL, NULL, pos) : NULL;
}

ir_expr *ir_expr_parse(ir_expr_pool *p, ir_token **cur, const char *var, const ir_params *params,
                       bool allow_y, act_error *err)
{
    parser ps = {p, ir_expr_pool_arena(p), *cur, var, params, allow_y, err, 0};
    ir_expr *e = parse_compare(&ps);
    if (e)
        *cur = ps.tok;
    return e;
}

ir_expr *ir_expr_parse_string(ir_expr_pool *p, const char *text, const char *origin,
                              const ir_params *params, bool allow_y, act_error *err)
{
    ir_pos start = {origin, 1, 1};
    ir_arena *tokens = ir_arena_new();
    if (!tokens)
        return act_error_at(err, start, ACT_ERR_NOMEM, "out of memory"), NULL;
    ir_token *cur = ir_tokenize(tokens, origin, text, err);
    ir_expr *e = cur ? ir_expr_parse(p, &cur, "x", params, allow_y, err) : NULL;
    if (e && cur->kind != TK_EOF && !(cur->kind == TK_END && cur[1].kind == TK_EOF)) {
        act_error_at(err, cur->pos, ACT_ERR_SYNTAX,
                     "expected an operator or the end of the formula, found %s",
                     found(tokens, cur));
        e = NULL;
    }
    ir_arena_free(tokens);
    return e;
}

static bool is_reserved(const char *name)
{
    return !strcmp(name, "x") || !strcmp(name, "y") || !strcmp(name, "pi") || !strcmp(name, "e") ||
           ir_is_keyword(name);
}

/* param := NAME '=' ['-'] NUMBER */
static int parse_param(ir_arena *a, ir_token **cur, ir_params *out, act_error *err)
{
    ir_token *t = *cur;
    if (t->kind != TK_IDENT)
        return act_error_at(err, t->pos, ACT_ERR_SYNTAX, "expected a parameter name, found %s",
                            found(a, t));
    if (is_reserved(t->text))
        return act_error_at(err, t->pos, ACT_ERR_NAME,
                            "expected a parameter name, found '%s', which is reserved", t->text);
    for (int i = 0; i < out->n; i++)
        if (!strcmp(out->p[i].name, t->text))
            return act_error_at(err, t->pos, ACT_ERR_NAME,
                                "expected a new parameter name, found '%s' given twice", t->text);
    if (out->n == IR_MAX_PARAMS)
        return act_error_at(err, t->pos, ACT_ERR_ARG, "expected at most %d parameters, found more",
                            IR_MAX_PARAMS);
    if (!ir_tok_is(t + 1, "="))
        return act_error_at(err, t[1].pos, ACT_ERR_SYNTAX, "expected '=' after '%s', found %s",
                            t->text, found(a, t + 1));
    ir_token *v = t + 2;
    bool negative = ir_tok_is(v, "-");
    v += negative;
    if (v->kind != TK_NUMBER)
        return act_error_at(err, v->pos, ACT_ERR_SYNTAX, "expected a number, found %s",
                            found(a, v));
    ir_param *p = &out->p[out->n];
    if (!(p->name = ir_strdup(a, t->text)))
        return act_error_at(err, t->pos, ACT_ERR_NOMEM, "out of memory");
    p->def = negative ? -v->num : v->num;
    p->pos = t->pos;
    out->n++;
    *cur = v + 1;
    return 0;
}

int ir_params_parse(ir_arena *a, ir_token **cur, ir_params *out, act_error *err)
{
    ir_params ps = {0};
    ir_token *t = *cur;
    if (t->kind == TK_IDENT) {
        for (;;) {
            int rc = parse_param(a, &t, &ps, err);
            if (rc)
                return rc;
            if (!ir_tok_is(t, ","))
                break;
            t++;
        }
    }
    *out = ps;
    *cur = t;
    return 0;
}
