/* parse_graph.c -- graph blocks and their statements. SSA names are checked
   as they are defined, so a use before its definition is reported at the use;
   ops, activations and shapes are resolved later by verify.c. */
#include "ir.h"

#include <string.h>

static ir_value *lookup(const ir_graph *g, const char *name)
{
    for (int i = 0; i < g->values.n; i++) {
        ir_value *v = g->values.items[i];
        if (v->name && !strcmp(v->name, name))
            return v;
    }
    return NULL;
}

/* The line where the graph being parsed defines name, 0 if nowhere: only
   called for a name not defined yet, to tell a late definition from none. */
static int defined_later(const ir_parser *p, const char *name)
{
    for (const ir_token *t = p->body; t->kind != TK_EOF && !ir_tok_is(t, "}"); t++) {
        bool at_start = t == p->body || t[-1].kind == TK_END;
        if (!at_start || t->kind != TK_IDENT)
            continue;
        if (!strcmp(t->text, name) && ir_tok_is(t + 1, "="))
            return t->pos.line;
        if ((ir_is_word(t, "input") || ir_is_word(t, "param") || ir_is_word(t, "loss")) &&
            ir_is_word(t + 1, name))
            return t[1].pos.line;
    }
    return 0;
}

/* A value named by token t, which must be defined before its use. */
static ir_value *use(ir_parser *p, const ir_graph *g, const ir_token *t)
{
    ir_value *v = lookup(g, t->text);
    if (v)
        return v;
    int line = defined_later(p, t->text);
    if (line)
        act_error_at(p->err, t->pos, ACT_ERR_NAME,
                     "expected a value defined before line %d, found '%s' (defined at line %d)",
                     t->pos.line, t->text, line);
    else
        act_error_at(p->err, t->pos, ACT_ERR_NAME, "expected a defined value, found '%s'", t->text);
    return NULL;
}

/* A new value named by the current token; pushed by the caller once its
   definition is parsed, so that it cannot refer to itself. */
static ir_value *define(ir_parser *p, const ir_graph *g, ir_op op)
{
    ir_pos pos = p->tok->pos;
    const char *name = ir_parse_name(p, "a value name");
    if (!name)
        return NULL;
    ir_value *old = lookup(g, name);
    if (old) {
        act_error_at(p->err, pos, ACT_ERR_NAME,
                     "expected a new name, found '%s' (already defined at line %d)", name,
                     old->pos.line);
        return NULL;
    }
    ir_value *v = ir_alloc(p->m->arena, sizeof *v);
    if (!v) {
        ir_parse_nomem(p);
        return NULL;
    }
    v->op = op;
    v->name = name;
    v->pos = pos;
    return v;
}

static int push_value(ir_parser *p, ir_graph *g, ir_value *v)
{
    return ir_vec_push(p->m->arena, &g->values, v) ? ir_parse_nomem(p) : 0;
}

static int parse_call(ir_parser *p, ir_graph *g, ir_value *v);

/* named = IDENT "=" ("-"? NUMBER | STRING) */
static int parse_named(ir_parser *p, ir_vec *named)
{
    ir_named_arg *arg = ir_alloc(p->m->arena, sizeof *arg);
    if (!arg)
        return ir_parse_nomem(p);
    arg->name = p->tok->text;
    arg->pos = p->tok->pos;
    for (int i = 0; i < named->n; i++)
        if (!strcmp(((ir_named_arg *)named->items[i])->name, arg->name))
            return act_error_at(p->err, arg->pos, ACT_ERR_ARG,
                                "expected each named argument once, found '%s' again", arg->name);
    p->tok += 2;
    if (p->tok->kind == TK_STRING) {
        arg->is_string = true;
        arg->str = (p->tok++)->str;
    } else if (ir_parse_number(p, &arg->num, "a number or a string")) {
        return ir_parse_failed(p);
    }
    return ir_vec_push(p->m->arena, named, arg) ? ir_parse_nomem(p) : 0;
}

/* arg = NAME | call | named */
static int parse_arg(ir_parser *p, ir_graph *g, ir_value *v, ir_vec *named, int *ntensor)
{
    ir_token *t = p->tok;
    if (t->kind == TK_IDENT && ir_tok_is(t + 1, "="))
        return parse_named(p, named);
    if (named->n)
        return ir_expected(p, "a named argument (tensor arguments come first)");
    if (t->kind != TK_IDENT || ir_is_keyword(t->text))
        return ir_expected(p, "a tensor argument or a named argument");
    ir_value *arg;
    if (ir_tok_is(t + 1, "(")) {
        if (!(arg = ir_alloc(p->m->arena, sizeof *arg)))
            return ir_parse_nomem(p);
        arg->pos = t->pos;
        if (parse_call(p, g, arg) || push_value(p, g, arg))
            return ir_parse_failed(p);
    } else {
        if (!(arg = use(p, g, t)))
            return ir_parse_failed(p);
        p->tok++;
    }
    if (*ntensor < IR_MAX_ARGS) {
        v->args[*ntensor] = arg;
        v->arg_pos[*ntensor] = t->pos;
        v->nargs = *ntensor + 1;
    }
    ++*ntensor;
    return 0;
}

/* call = IDENT "(" (arg ("," arg)*)? ")" */
static int parse_call(ir_parser *p, ir_graph *g, ir_value *v)
{
    v->op = IR_ACT; /* a placeholder: ir_verify resolves the callee */
    v->callee_pos = p->tok->pos;
    if (!(v->callee = ir_parse_name(p, "an op or activation call")) || ir_expect(p, "("))
        return ir_parse_failed(p);
    ir_vec named = {0};
    int ntensor = 0;
    if (!ir_tok_is(p->tok, ")"))
        for (;;) {
            if (parse_arg(p, g, v, &named, &ntensor))
                return ir_parse_failed(p);
            if (!ir_tok_is(p->tok, ","))
                break;
            p->tok++;
        }
    if (ir_expect(p, ")"))
        return ir_parse_failed(p);
    if (ntensor > IR_MAX_ARGS)
        return act_error_at(p->err, v->callee_pos, ACT_ERR_ARG,
                            "expected at most %d tensor arguments for %s, found %d", IR_MAX_ARGS,
                            v->callee, ntensor);
    if (named.n && !(v->named = ir_alloc(p->m->arena, (size_t)named.n * sizeof *v->named)))
        return ir_parse_nomem(p);
    for (int i = 0; i < named.n; i++)
        v->named[i] = *(ir_named_arg *)named.items[i];
    v->nnamed = named.n;
    return 0;
}

/* assign = NAME "=" call */
static int parse_assign(ir_parser *p, ir_graph *g, bool is_loss)
{
    ir_value *v = define(p, g, IR_ACT);
    if (!v || ir_expect(p, "=") || parse_call(p, g, v) || push_value(p, g, v))
        return ir_parse_failed(p);
    if (is_loss)
        g->loss = v;
    return 0;
}

/* loss = "loss" assign */
static int parse_loss(ir_parser *p, ir_graph *g)
{
    p->tok++;
    if (g->loss)
        return act_error_at(p->err, p->tok->pos, ACT_ERR_SYNTAX,
                            "expected one loss per graph, found a second one after '%s' at "
                            "line %d",
                            g->loss->name, g->loss->pos.line);
    return parse_assign(p, g, true);
}

/* decl = ("input" | "param") NAME ":" type ("=" init)?   (init for params only) */
static int parse_decl(ir_parser *p, ir_graph *g, ir_op op)
{
    p->tok++;
    ir_value *v = define(p, g, op);
    if (!v || ir_expect(p, ":") || ir_parse_type(p, v))
        return ir_parse_failed(p);
    if (op == IR_PARAM && ir_tok_is(p->tok, "=")) {
        p->tok++;
        if (ir_parse_init(p, v))
            return ir_parse_failed(p);
    }
    return push_value(p, g, v);
}

/* output = "output" NAME ("," NAME)* */
static int parse_output(ir_parser *p, ir_graph *g)
{
    do {
        p->tok++;
        ir_token *t = p->tok;
        ir_value *v;
        if (!ir_parse_name(p, "an output name") || !(v = use(p, g, t)))
            return ir_parse_failed(p);
        for (int i = 0; i < g->outputs.n; i++)
            if (g->outputs.items[i] == v)
                return act_error_at(p->err, t->pos, ACT_ERR_NAME,
                                    "expected each output once, found '%s' again", t->text);
        if (v == g->loss)
            return act_error_at(p->err, t->pos, ACT_ERR_NAME,
                                "expected an output other than the loss, found '%s'", t->text);
        if (ir_vec_push(p->m->arena, &g->outputs, v))
            return ir_parse_nomem(p);
    } while (ir_tok_is(p->tok, ","));
    return 0;
}

/* statement = decl | output | loss | assign */
static int parse_statement(ir_parser *p, ir_graph *g)
{
    if (ir_is_word(p->tok, "input"))
        return parse_decl(p, g, IR_INPUT);
    if (ir_is_word(p->tok, "param"))
        return parse_decl(p, g, IR_PARAM);
    if (ir_is_word(p->tok, "output"))
        return parse_output(p, g);
    if (ir_is_word(p->tok, "loss"))
        return parse_loss(p, g);
    if (p->tok->kind == TK_IDENT && !ir_is_keyword(p->tok->text))
        return parse_assign(p, g, false);
    return ir_expected(p, "a statement (input, param, output, loss or NAME = call)");
}

/* graph = "graph" NAME END? "{" (statement? END)* statement? "}" */
int ir_parse_graph(ir_parser *p)
{
    ir_module *m = p->m;
    ir_graph *g = ir_alloc(m->arena, sizeof *g);
    if (!g)
        return ir_parse_nomem(p);
    p->tok++;
    g->pos = p->tok->pos;
    if (!(g->name = ir_parse_name(p, "a graph name")))
        return ir_parse_failed(p);
    for (int i = 0; i < m->graphs.n; i++) {
        const ir_graph *old = m->graphs.items[i];
        if (!strcmp(old->name, g->name))
            return act_error_at(p->err, g->pos, ACT_ERR_NAME,
                                "expected a new graph name, found '%s' (already defined at "
                                "line %d)",
                                g->name, old->pos.line);
    }
    ir_skip_ends(p);
    if (ir_expect(p, "{"))
        return ir_parse_failed(p);
    p->body = p->tok;
    for (ir_skip_ends(p); !ir_tok_is(p->tok, "}"); ir_skip_ends(p)) {
        if (parse_statement(p, g))
            return ir_parse_failed(p);
        if (!ir_tok_is(p->tok, "}") && p->tok->kind != TK_END)
            return ir_expected(p, "end of line");
    }
    p->tok++;
    if (ir_expect_end(p))
        return ir_parse_failed(p);
    return ir_vec_push(m->arena, &m->graphs, g) ? ir_parse_nomem(p) : 0;
}
