/* parse.c -- the .act parser: the file's structure, the version line,
   `activation` lines and the token helpers the parser's files share. Graph
   statements are in parse_graph.c, types and initialisers in parse_type.c. */
#include "ir.h"

#include <stdio.h>
#include <string.h>

/* The parser's errors always land in a real act_error so that a failed
   callee's code can be returned; this gives it back. */
int ir_parse_failed(const ir_parser *p)
{
    return p->err->code ? p->err->code : ACT_ERR_NOMEM;
}

int ir_parse_nomem(const ir_parser *p)
{
    return act_error_at(p->err, p->tok->pos, ACT_ERR_NOMEM, "out of memory");
}

int ir_expected(ir_parser *p, const char *what)
{
    const char *found = ir_tok_describe(p->m->arena, p->tok);
    if (p->tok->kind == TK_IDENT && ir_is_keyword(p->tok->text))
        found = ir_sprintf(p->m->arena, "keyword '%s'", p->tok->text);
    return act_error_at(p->err, p->tok->pos, ACT_ERR_SYNTAX, "expected %s, found %s", what,
                        found ? found : "a token");
}

int ir_expect(ir_parser *p, const char *text)
{
    if (ir_tok_is(p->tok, text)) {
        p->tok++;
        return 0;
    }
    char what[32];
    snprintf(what, sizeof what, "'%s'", text);
    return ir_expected(p, what);
}

int ir_parse_number(ir_parser *p, double *out, const char *what)
{
    bool neg = ir_tok_is(p->tok, "-");
    if (p->tok[neg].kind != TK_NUMBER) {
        p->tok += neg;
        return ir_expected(p, what);
    }
    *out = neg ? -p->tok[neg].num : p->tok[neg].num;
    p->tok += neg + 1;
    return 0;
}

bool ir_is_word(const ir_token *t, const char *word)
{
    return t->kind == TK_IDENT && !strcmp(t->text, word);
}

void ir_skip_ends(ir_parser *p)
{
    while (p->tok->kind == TK_END)
        p->tok++;
}

int ir_expect_end(ir_parser *p)
{
    if (p->tok->kind == TK_EOF)
        return 0;
    if (p->tok->kind != TK_END)
        return ir_expected(p, "end of line");
    p->tok++;
    return 0;
}

/* name = IDENT that is not a keyword */
const char *ir_parse_name(ir_parser *p, const char *what)
{
    if (p->tok->kind != TK_IDENT || ir_is_keyword(p->tok->text)) {
        ir_expected(p, what);
        return NULL;
    }
    return (p->tok++)->text;
}

/* The source text from token first to token last, both included. */
static const char *source_span(ir_parser *p, const ir_token *first, const ir_token *last)
{
    const char *to = last->at + strlen(last->text);
    return ir_strndup(p->m->arena, first->at, (size_t)(to - first->at));
}

/* formula = expr, with its text as written */
static ir_expr *parse_formula(ir_parser *p, ir_activation *act, bool allow_y, const char **text)
{
    ir_token *first = p->tok;
    ir_expr *e = ir_expr_parse(p->m->pool, &p->tok, act->var, &act->params, allow_y, p->err);
    if (e && !(*text = source_span(p, first, p->tok - 1))) {
        ir_parse_nomem(p);
        return NULL;
    }
    return e;
}

/* activation = "activation" NAME "(" VAR (";" params)? ")" "=" formula
                ("grad" "=" formula)? */
static int parse_activation(ir_parser *p)
{
    ir_module *m = p->m;
    ir_activation *act = ir_alloc(m->arena, sizeof *act);
    if (!act)
        return ir_parse_nomem(p);
    p->tok++;
    act->pos = p->tok->pos;
    if (!(act->name = ir_parse_name(p, "an activation name")) || ir_expect(p, "("))
        return ir_parse_failed(p);
    if (ir_is_word(p->tok, "y"))
        return ir_expected(p, "an input variable name other than 'y' (the output in grad)");
    if (!(act->var = ir_parse_name(p, "the input variable name")))
        return ir_parse_failed(p);
    if (ir_tok_is(p->tok, ";")) {
        p->tok++;
        if (ir_params_parse(m->arena, &p->tok, &act->params, p->err))
            return ir_parse_failed(p);
    }
    if (ir_expect(p, ")") || ir_expect(p, "=") ||
        !(act->f = parse_formula(p, act, false, &act->formula)))
        return ir_parse_failed(p);
    if (ir_is_word(p->tok, "grad")) {
        p->tok++;
        if (ir_expect(p, "=") || !(act->df = parse_formula(p, act, true, &act->grad_formula)))
            return ir_parse_failed(p);
    }
    if (ir_expect_end(p))
        return ir_parse_failed(p);
    act->origin_kind = IR_ORIGIN_FILE;
    act->origin = ir_sprintf(m->arena, "%s:%d:%d", m->file, act->pos.line, act->pos.col);
    if (!act->origin)
        return ir_parse_nomem(p);
    if (ir_activation_finish(m->pool, act, p->err))
        return ir_parse_failed(p);
    return ir_vec_push(m->arena, &m->acts, act) ? ir_parse_nomem(p) : 0;
}

/* version = "act" NUMBER, which must be 1 */
static int parse_version(ir_parser *p)
{
    p->tok++;
    if (p->tok->kind != TK_NUMBER)
        return ir_expected(p, "format version 1");
    if (strcmp(p->tok->text, "1"))
        return act_error_at(p->err, p->tok->pos, ACT_ERR_SYNTAX,
                            "expected format version 1, found %s", p->tok->text);
    p->tok++;
    p->m->has_version = true;
    return ir_expect_end(p);
}

/* module = version? (activation | graph | END)* EOF, with at least one graph */
static int parse_module(ir_parser *p)
{
    ir_skip_ends(p);
    if (ir_is_word(p->tok, "act") && parse_version(p))
        return ir_parse_failed(p);
    for (ir_skip_ends(p); p->tok->kind != TK_EOF; ir_skip_ends(p)) {
        int rc;
        if (ir_is_word(p->tok, "activation"))
            rc = parse_activation(p);
        else if (ir_is_word(p->tok, "graph"))
            rc = ir_parse_graph(p);
        else if (ir_is_word(p->tok, "act"))
            rc = act_error_at(p->err, p->tok->pos, ACT_ERR_SYNTAX,
                              "expected 'act 1' only at the start of the file, found 'act'");
        else
            rc = ir_expected(p, "'activation' or 'graph'");
        if (rc)
            return rc;
    }
    return p->m->graphs.n ? 0 : ir_expected(p, "a graph");
}

ir_module *ir_parse(const char *file, const char *src, act_error *err)
{
    act_error local = {0};
    if (!err)
        err = &local;
    err->code = ACT_OK;
    if (!file)
        file = "<string>";
    ir_arena *a = ir_arena_new();
    ir_module *m = a ? ir_alloc(a, sizeof *m) : NULL;
    if (!m || !(m->file = ir_strdup(a, file)) || !(m->pool = ir_expr_pool_new(a))) {
        act_error_set(err, file, ACT_ERR_NOMEM, "out of memory");
        ir_arena_free(a);
        return NULL;
    }
    m->arena = a;
    ir_parser p = {.m = m, .err = err};
    if (!(p.tok = ir_tokenize(a, m->file, src, err)) || parse_module(&p)) {
        ir_arena_free(a);
        return NULL;
    }
    return m;
}

void ir_module_free(ir_module *m)
{
    if (m)
        ir_arena_free(m->arena);
}

/* "a, b, c" for the graphs of m, into its arena. */
static const char *graph_names(const ir_module *m)
{
    const char *list = "";
    for (int i = 0; i < m->graphs.n && list; i++)
        list = ir_sprintf(m->arena, "%s%s%s", list, i ? ", " : "",
                          ((const ir_graph *)m->graphs.items[i])->name);
    return list ? list : "";
}

ir_graph *ir_module_graph(ir_module *m, const char *name, act_error *err)
{
    if (!name && m->graphs.n == 1)
        return m->graphs.items[0];
    for (int i = 0; name && i < m->graphs.n; i++) {
        ir_graph *g = m->graphs.items[i];
        if (!strcmp(g->name, name))
            return g;
    }
    if (!name)
        act_error_set(err, m->file, ACT_ERR_NAME,
                      "expected a graph name (one of: %s), found %d graphs and none chosen",
                      graph_names(m), m->graphs.n);
    else
        act_error_set(err, m->file, ACT_ERR_NAME, "expected a graph named one of: %s, found '%s'",
                      graph_names(m), name);
    return NULL;
}
