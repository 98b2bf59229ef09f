/* print.c -- the canonical text of a module: one spelling per construct,
   so that printing the parse of printed text gives the same text. */
#include "ir.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef ir_text text;

static void put_number(text *t, double v)
{
    char buf[32];
    ir_format_number(buf, v);
    ir_text_printf(t, "%s", buf);
}

/* "..." with the two escapes of the lexer. */
static void put_string(text *t, const char *s)
{
    ir_text_printf(t, "\"");
    for (; *s; s++)
        ir_text_printf(t, *s == '"' || *s == '\\' ? "\\%c" : "%c", *s);
    ir_text_printf(t, "\"");
}

static void put_shape(text *t, const ir_shape *s)
{
    ir_text_printf(t, "f32[");
    for (int i = 0; i < s->rank; i++) {
        if (s->sym[i])
            ir_text_printf(t, "%s%s", i ? ", " : "", s->sym[i]);
        else
            ir_text_printf(t, "%s%" PRId64, i ? ", " : "", s->dim[i]);
    }
    ir_text_printf(t, "]");
}

const char *ir_shape_str(ir_arena *a, const ir_shape *s)
{
    text t = {0};
    put_shape(&t, s);
    const char *out = t.oom ? NULL : ir_strdup(a, t.buf);
    free(t.buf);
    return out;
}

static void put_expr(text *t, const ir_expr *e, const ir_activation *act)
{
    char *s = ir_expr_to_string(e, act->var, &act->params);
    if (!s)
        t->oom = true;
    else
        ir_text_printf(t, "%s", s);
    free(s);
}

/* The hand-written derivative as parsed from its text, before ir_activation_finish
   rewrote it, so that printing it again gives the same text. */
static void put_grad(text *t, const ir_module *m, const ir_activation *act)
{
    ir_token *tok = ir_tokenize(m->arena, m->file, act->grad_formula, NULL);
    ir_expr *df = tok ? ir_expr_parse(m->pool, &tok, act->var, &act->params, true, NULL) : NULL;
    if (!df) {
        t->oom = true;
        return;
    }
    ir_text_printf(t, " grad = ");
    put_expr(t, df, act);
}

/* activation NAME(VAR; a = 1, b = 2) = EXPR [grad = EXPR] */
static void put_activation(text *t, const ir_module *m, const ir_activation *act)
{
    ir_text_printf(t, "activation %s(%s", act->name, act->var);
    for (int i = 0; i < act->params.n; i++) {
        ir_text_printf(t, "%s%s = ", i ? ", " : "; ", act->params.p[i].name);
        put_number(t, act->params.p[i].def);
    }
    ir_text_printf(t, ") = ");
    put_expr(t, act->f, act);
    if (act->grad_formula)
        put_grad(t, m, act);
    ir_text_printf(t, "\n");
}

/* CALLEE(tensor, ..., name = value, ...), nested calls inline */
static void put_call(text *t, const ir_value *v)
{
    ir_text_printf(t, "%s(", v->callee);
    for (int i = 0; i < v->nargs; i++) {
        ir_text_printf(t, "%s", i ? ", " : "");
        if (v->args[i]->name)
            ir_text_printf(t, "%s", v->args[i]->name);
        else
            put_call(t, v->args[i]);
    }
    for (int i = 0; i < v->nnamed; i++) {
        const ir_named_arg *na = &v->named[i];
        ir_text_printf(t, "%s%s = ", i || v->nargs ? ", " : "", na->name);
        if (na->is_string)
            put_string(t, na->str);
        else
            put_number(t, na->num);
    }
    ir_text_printf(t, ")");
}

static void put_init(text *t, const ir_init *init)
{
    static const char *const names[] = {
        [IR_INIT_ZEROS] = "zeros",     [IR_INIT_ONES] = "ones",     [IR_INIT_FILL] = "fill",
        [IR_INIT_UNIFORM] = "uniform", [IR_INIT_NORMAL] = "normal", [IR_INIT_GLOROT] = "glorot",
    };
    switch (init->kind) {
    case IR_INIT_NONE:
        return;
    case IR_INIT_NPY:
        ir_text_printf(t, " = npy(");
        put_string(t, init->path);
        ir_text_printf(t, ")");
        return;
    case IR_INIT_LIST:
        ir_text_printf(t, " = [");
        for (int64_t i = 0; i < init->nlist; i++) {
            ir_text_printf(t, "%s", i ? ", " : "");
            put_number(t, init->list[i]);
        }
        ir_text_printf(t, "]");
        return;
    default:
        break;
    }
    ir_text_printf(t, " = %s", names[init->kind]);
    if (init->kind == IR_INIT_FILL || init->kind == IR_INIT_UNIFORM ||
        init->kind == IR_INIT_NORMAL) {
        ir_text_printf(t, "(");
        put_number(t, init->a);
    }
    if (init->kind == IR_INIT_UNIFORM || init->kind == IR_INIT_NORMAL) {
        ir_text_printf(t, ", ");
        put_number(t, init->b);
        ir_text_printf(t, ", seed = %" PRIu64 ")", init->seed);
    }
    if (init->kind == IR_INIT_FILL)
        ir_text_printf(t, ")");
    if (init->kind == IR_INIT_GLOROT)
        ir_text_printf(t, "(seed = %" PRIu64 ")", init->seed);
}

static void put_value(text *t, const ir_graph *g, const ir_value *v)
{
    if (v->op == IR_INPUT || v->op == IR_PARAM) {
        ir_text_printf(t, "    %s %s : ", v->op == IR_INPUT ? "input" : "param", v->name);
        put_shape(t, &v->decl);
        put_init(t, &v->init);
    } else {
        ir_text_printf(t, "    %s%s = ", v == g->loss ? "loss " : "", v->name);
        put_call(t, v);
    }
    ir_text_printf(t, "\n");
}

/* graph NAME { statements in definition order, then one output line } */
static void put_graph(text *t, const ir_graph *g)
{
    ir_text_printf(t, "graph %s {\n", g->name);
    int n = g->differentiated ? g->nforward : g->values.n;
    for (int i = 0; i < n; i++) {
        const ir_value *v = g->values.items[i];
        if (v->name)
            put_value(t, g, v);
    }
    for (int i = 0; i < g->outputs.n; i++)
        ir_text_printf(t, "%s%s", i ? ", " : "    output ",
                       ((const ir_value *)g->outputs.items[i])->name);
    ir_text_printf(t, "%s}\n", g->outputs.n ? "\n" : "");
}

char *ir_print(const ir_module *m)
{
    text t = {0};
    bool first = true;
    if (m->has_version) {
        ir_text_printf(&t, "act 1\n");
        first = false;
    }
    for (int i = 0; i < m->acts.n; i++, first = false) {
        ir_text_printf(&t, "%s", first ? "" : "\n");
        put_activation(&t, m, m->acts.items[i]);
    }
    for (int i = 0; i < m->graphs.n; i++, first = false) {
        ir_text_printf(&t, "%s", first ? "" : "\n");
        put_graph(&t, m->graphs.items[i]);
    }
    if (t.oom || !t.buf) {
        free(t.buf);
        return NULL;
    }
    return t.buf;
}
