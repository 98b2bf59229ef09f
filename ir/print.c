/* print.c -- the canonical text of a module: one spelling per construct,
   so that printing the parse of printed text gives the same text. */
#include "ir.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *buf; /* malloc'ed, NUL-terminated */
    size_t n, cap;
    bool oom;
} text;

static void putf(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void putf(text *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (t->oom || n < 0) {
        t->oom = true;
        return;
    }
    if (t->n + (size_t)n + 1 > t->cap) {
        size_t cap = 2 * (t->n + (size_t)n + 1);
        char *bigger = realloc(t->buf, cap);
        if (!bigger) {
            t->oom = true;
            return;
        }
        t->buf = bigger;
        t->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(t->buf + t->n, (size_t)n + 1, fmt, ap);
    va_end(ap);
    t->n += (size_t)n;
}

static void put_number(text *t, double v)
{
    char buf[32];
    ir_format_number(buf, v);
    putf(t, "%s", buf);
}

/* "..." with the two escapes of the lexer. */
static void put_string(text *t, const char *s)
{
    putf(t, "\"");
    for (; *s; s++)
        putf(t, *s == '"' || *s == '\\' ? "\\%c" : "%c", *s);
    putf(t, "\"");
}

static void put_shape(text *t, const ir_shape *s)
{
    putf(t, "f32[");
    for (int i = 0; i < s->rank; i++) {
        if (s->sym[i])
            putf(t, "%s%s", i ? ", " : "", s->sym[i]);
        else
            putf(t, "%s%" PRId64, i ? ", " : "", s->dim[i]);
    }
    putf(t, "]");
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
        putf(t, "%s", s);
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
    putf(t, " grad = ");
    put_expr(t, df, act);
}

/* activation NAME(VAR; a = 1, b = 2) = EXPR [grad = EXPR] */
static void put_activation(text *t, const ir_module *m, const ir_activation *act)
{
    putf(t, "activation %s(%s", act->name, act->var);
    for (int i = 0; i < act->params.n; i++) {
        putf(t, "%s%s = ", i ? ", " : "; ", act->params.p[i].name);
        put_number(t, act->params.p[i].def);
    }
    putf(t, ") = ");
    put_expr(t, act->f, act);
    if (act->grad_formula)
        put_grad(t, m, act);
    putf(t, "\n");
}

/* CALLEE(tensor, ..., name = value, ...), nested calls inline */
static void put_call(text *t, const ir_value *v)
{
    putf(t, "%s(", v->callee);
    for (int i = 0; i < v->nargs; i++) {
        putf(t, "%s", i ? ", " : "");
        if (v->args[i]->name)
            putf(t, "%s", v->args[i]->name);
        else
            put_call(t, v->args[i]);
    }
    for (int i = 0; i < v->nnamed; i++) {
        const ir_named_arg *na = &v->named[i];
        putf(t, "%s%s = ", i || v->nargs ? ", " : "", na->name);
        if (na->is_string)
            put_string(t, na->str);
        else
            put_number(t, na->num);
    }
    putf(t, ")");
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
        putf(t, " = npy(");
        put_string(t, init->path);
        putf(t, ")");
        return;
    case IR_INIT_LIST:
        putf(t, " = [");
        for (int64_t i = 0; i < init->nlist; i++) {
            putf(t, "%s", i ? ", " : "");
            put_number(t, init->list[i]);
        }
        putf(t, "]");
        return;
    default:
        break;
    }
    putf(t, " = %s", names[init->kind]);
    if (init->kind == IR_INIT_FILL || init->kind == IR_INIT_UNIFORM ||
        init->kind == IR_INIT_NORMAL) {
        putf(t, "(");
        put_number(t, init->a);
    }
    if (init->kind == IR_INIT_UNIFORM || init->kind == IR_INIT_NORMAL) {
        putf(t, ", ");
        put_number(t, init->b);
        putf(t, ", seed = %" PRIu64 ")", init->seed);
    }
    if (init->kind == IR_INIT_FILL)
        putf(t, ")");
    if (init->kind == IR_INIT_GLOROT)
        putf(t, "(seed = %" PRIu64 ")", init->seed);
}

static void put_value(text *t, const ir_graph *g, const ir_value *v)
{
    if (v->op == IR_INPUT || v->op == IR_PARAM) {
        putf(t, "    %s %s : ", v->op == IR_INPUT ? "input" : "param", v->name);
        put_shape(t, &v->decl);
        put_init(t, &v->init);
    } else {
        putf(t, "    %s%s = ", v == g->loss ? "loss " : "", v->name);
        put_call(t, v);
    }
    putf(t, "\n");
}

/* graph NAME { statements in definition order, then one output line } */
static void put_graph(text *t, const ir_graph *g)
{
    putf(t, "graph %s {\n", g->name);
    int n = g->differentiated ? g->nforward : g->values.n;
    for (int i = 0; i < n; i++) {
        const ir_value *v = g->values.items[i];
        if (v->name)
            put_value(t, g, v);
    }
    for (int i = 0; i < g->outputs.n; i++)
        putf(t, "%s%s", i ? ", " : "    output ", ((const ir_value *)g->outputs.items[i])->name);
    putf(t, "%s}\n", g->outputs.n ? "\n" : "");
}

char *ir_print(const ir_module *m)
{
    text t = {0};
    bool first = true;
    if (m->has_version) {
        putf(&t, "act 1\n");
        first = false;
    }
    for (int i = 0; i < m->acts.n; i++, first = false) {
        putf(&t, "%s", first ? "" : "\n");
        put_activation(&t, m, m->acts.items[i]);
    }
    for (int i = 0; i < m->graphs.n; i++, first = false) {
        putf(&t, "%s", first ? "" : "\n");
        put_graph(&t, m->graphs.items[i]);
    }
    if (t.oom || !t.buf) {
        free(t.buf);
        return NULL;
    }
    return t.buf;
}
