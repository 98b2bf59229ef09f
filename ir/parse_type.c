/* parse_type.c -- tensor types and parameter initialisers of .act graphs. */
#include "ir.h"

#include <math.h>
#include <string.h>

/* Integers above 2^53 would not survive the trip through a double. */
#define MAX_EXACT 9007199254740992.0

static bool is_digits(const char *s)
{
    return *s && strspn(s, "0123456789") == strlen(s);
}

/* dim = INTEGER | NAME, an integer being >= 1 */
static int parse_dim(ir_parser *p, ir_shape *s, int i)
{
    const ir_token *t = p->tok;
    if (t->kind == TK_NUMBER) {
        if (!is_digits(t->text) || t->num < 1 || t->num > MAX_EXACT)
            return act_error_at(p->err, t->pos, ACT_ERR_SHAPE,
                                "expected a dimension (an integer >= 1 or a size name), found %s",
                                t->text);
        s->dim[i] = (int64_t)t->num;
    } else if (t->kind == TK_IDENT && !ir_is_keyword(t->text)) {
        s->dim[i] = -1;
        s->sym[i] = t->text;
    } else {
        return ir_expected(p, "a dimension (an integer >= 1 or a size name)");
    }
    p->tok++;
    return 0;
}

/* type = "f32" "[" dim ("," dim)* "]", rank 1 to IR_MAX_RANK */
int ir_parse_type(ir_parser *p, ir_value *v)
{
    const ir_token *t = p->tok;
    v->decl_pos = t->pos;
    if (t->kind != TK_IDENT)
        return ir_expected(p, "a type like f32[N, 784]");
    if (strcmp(t->text, "f32"))
        return act_error_at(p->err, t->pos, ACT_ERR_SHAPE, "expected 'f32', found '%s'", t->text);
    p->tok++;
    if (ir_expect(p, "["))
        return ir_parse_failed(p);
    ir_shape extra; /* dimensions past the maximum rank, only counted */
    int rank = 0;
    if (!ir_tok_is(p->tok, "]"))
        for (;;) {
            ir_shape *s = rank < IR_MAX_RANK ? &v->decl : &extra;
            int i = rank < IR_MAX_RANK ? rank : 0;
            if (rank < IR_MAX_RANK)
                v->dim_pos[i] = p->tok->pos;
            if (parse_dim(p, s, i))
                return ir_parse_failed(p);
            rank++;
            if (!ir_tok_is(p->tok, ","))
                break;
            p->tok++;
        }
    if (ir_expect(p, "]"))
        return ir_parse_failed(p);
    if (rank < 1 || rank > IR_MAX_RANK)
        return act_error_at(p->err, v->decl_pos, ACT_ERR_SHAPE,
                            "expected 1 to %d dimensions, found %d", IR_MAX_RANK, rank);
    v->decl.rank = rank;
    return 0;
}

/* seed = "seed" "=" INTEGER */
static int parse_seed(ir_parser *p, ir_init *init)
{
    if (ir_expect(p, "seed") || ir_expect(p, "="))
        return ir_parse_failed(p);
    const ir_token *t = p->tok;
    if (ir_tok_is(t, "-") && t[1].kind == TK_NUMBER)
        return act_error_at(p->err, t->pos, ACT_ERR_ARG,
                            "expected a seed (an integer >= 0), found -%s", t[1].text);
    if (t->kind != TK_NUMBER)
        return ir_expected(p, "a seed (an integer >= 0)");
    if (t->num != floor(t->num) || t->num > MAX_EXACT)
        return act_error_at(p->err, t->pos, ACT_ERR_ARG,
                            "expected a seed (an integer >= 0), found %s", t->text);
    init->seed = (uint64_t)t->num;
    p->tok++;
    return 0;
}

typedef struct {
    const char *name;
    ir_init_kind kind;
    int nnum;    /* leading numbers */
    bool seeded; /* takes seed = S */
} init_row;

static const init_row init_rows[] = {
    {"zeros", IR_INIT_ZEROS, 0, false},  {"ones", IR_INIT_ONES, 0, false},
    {"fill", IR_INIT_FILL, 1, false},    {"uniform", IR_INIT_UNIFORM, 2, true},
    {"normal", IR_INIT_NORMAL, 2, true}, {"glorot", IR_INIT_GLOROT, 0, true},
};

/* call_init = NAME ("(" (num ("," num)*)? ("," seed | seed)? ")")?
   zeros and ones take no parentheses; glorot's are optional. */
static int parse_call_init(ir_parser *p, const init_row *r, ir_init *init)
{
    init->kind = r->kind;
    p->tok++;
    if (!r->nnum && (!r->seeded || !ir_tok_is(p->tok, "(")))
        return 0;
    if (ir_expect(p, "("))
        return ir_parse_failed(p);
    for (int i = 0; i < r->nnum; i++)
        if ((i && ir_expect(p, ",")) || ir_parse_number(p, i ? &init->b : &init->a, "a number"))
            return ir_parse_failed(p);
    bool has_seed = r->nnum ? ir_tok_is(p->tok, ",") : ir_tok_is(p->tok, "seed");
    if (r->seeded && has_seed && ((r->nnum && ir_expect(p, ",")) || parse_seed(p, init)))
        return ir_parse_failed(p);
    if (ir_expect(p, ")"))
        return ir_parse_failed(p);
    if (r->kind == IR_INIT_UNIFORM && init->a > init->b)
        return act_error_at(p->err, init->pos, ACT_ERR_ARG,
                            "expected uniform(lo, hi) with lo <= hi, found lo > hi");
    if (r->kind == IR_INIT_NORMAL && init->b < 0)
        return act_error_at(p->err, init->pos, ACT_ERR_ARG,
                            "expected normal(mean, std) with std >= 0, found a negative std");
    return 0;
}

/* npy = "npy" "(" STRING ")" */
static int parse_npy(ir_parser *p, ir_init *init)
{
    init->kind = IR_INIT_NPY;
    p->tok++;
    if (ir_expect(p, "("))
        return ir_parse_failed(p);
    if (p->tok->kind != TK_STRING)
        return ir_expected(p, "a path string");
    init->path = (p->tok++)->str;
    return ir_expect(p, ")");
}

typedef struct {
    double *v;
    int64_t n, cap;
    int64_t len[IR_MAX_RANK]; /* length of the lists at each depth; -1: none seen */
    int leaf;                 /* depth of the numbers; -1: none seen */
} list_state;

static int push_number(ir_parser *p, list_state *ls, double x)
{
    if (ls->n == ls->cap) {
        int64_t cap = ls->cap ? 2 * ls->cap : 16;
        double *bigger = ir_alloc(p->m->arena, (size_t)cap * sizeof *bigger);
        if (!bigger)
            return ir_parse_nomem(p);
        if (ls->n)
            memcpy(bigger, ls->v, (size_t)ls->n * sizeof *bigger);
        ls->v = bigger;
        ls->cap = cap;
    }
    ls->v[ls->n++] = x;
    return 0;
}

/* item = num | list, all items at one depth of the same kind */
static int parse_item(ir_parser *p, list_state *ls, int depth);

/* list = "[" (item ("," item)*)? "]", rectangular */
static int parse_list(ir_parser *p, list_state *ls, int depth)
{
    const ir_token *open = p->tok;
    if (depth == IR_MAX_RANK)
        return act_error_at(p->err, open->pos, ACT_ERR_SHAPE,
                            "expected lists nested at most %d deep, found more", IR_MAX_RANK);
    p->tok++;
    int64_t count = 0;
    if (!ir_tok_is(p->tok, "]"))
        for (;;) {
            if (parse_item(p, ls, depth))
                return ir_parse_failed(p);
            count++;
            if (!ir_tok_is(p->tok, ","))
                break;
            p->tok++;
        }
    if (ir_expect(p, "]"))
        return ir_parse_failed(p);
    if (ls->len[depth] < 0)
        ls->len[depth] = count;
    else if (ls->len[depth] != count)
        return act_error_at(p->err, open->pos, ACT_ERR_SHAPE,
                            "expected %lld elements like the first list at this depth, found %lld",
                            (long long)ls->len[depth], (long long)count);
    return 0;
}

static int parse_item(ir_parser *p, list_state *ls, int depth)
{
    bool is_list = ir_tok_is(p->tok, "[");
    if (ls->leaf >= 0 && (ls->leaf == depth) == is_list)
        return ir_expected(p, is_list ? "a number like the other elements here"
                                      : "a list like the other elements here");
    if (is_list)
        return parse_list(p, ls, depth + 1);
    double x;
    if (ir_parse_number(p, &x, "a number or '['"))
        return ir_parse_failed(p);
    ls->leaf = depth;
    return push_number(p, ls, x);
}

/* The product of the literal dims, or -1 when a size name is among them. */
static int64_t literal_count(const ir_shape *s)
{
    int64_t n = 1;
    for (int i = 0; i < s->rank; i++) {
        if (s->sym[i])
            return -1;
        n *= s->dim[i];
    }
    return n;
}

/* inline = list, flattened; as many numbers as the param's literal dims hold */
static int parse_inline(ir_parser *p, ir_value *v)
{
    list_state ls = {.leaf = -1};
    for (int i = 0; i < IR_MAX_RANK; i++)
        ls.len[i] = -1;
    if (parse_list(p, &ls, 0))
        return ir_parse_failed(p);
    int64_t want = literal_count(&v->decl);
    const char *type = ir_shape_str(p->m->arena, &v->decl);
    if (want >= 0 && ls.n != want)
        return act_error_at(p->err, v->init.pos, ACT_ERR_SHAPE,
                            "expected %lld numbers for %s, found %lld", (long long)want,
                            type ? type : "the param", (long long)ls.n);
    if (!ls.n)
        return act_error_at(p->err, v->init.pos, ACT_ERR_SHAPE,
                            "expected numbers for %s, found an empty list",
                            type ? type : "the param");
    v->init.kind = IR_INIT_LIST;
    v->init.list = ls.v;
    v->init.nlist = ls.n;
    return 0;
}

/* init = call_init | npy | list */
int ir_parse_init(ir_parser *p, ir_value *v)
{
    v->init.pos = p->tok->pos;
    if (ir_tok_is(p->tok, "["))
        return parse_inline(p, v);
    if (p->tok->kind == TK_IDENT) {
        if (!strcmp(p->tok->text, "npy"))
            return parse_npy(p, &v->init);
        for (size_t i = 0; i < sizeof init_rows / sizeof *init_rows; i++)
            if (!strcmp(p->tok->text, init_rows[i].name))
                return parse_call_init(p, &init_rows[i], &v->init);
        if (!ir_is_keyword(p->tok->text))
            return act_error_at(p->err, p->tok->pos, ACT_ERR_NAME,
                                "expected an initialiser (zeros, ones, fill, uniform, normal, "
                                "glorot, npy or a list), found '%s'",
                                p->tok->text);
    }
    return ir_expected(p, "an initialiser (zeros, ones, fill, uniform, normal, glorot, npy or a "
                          "list)");
}
