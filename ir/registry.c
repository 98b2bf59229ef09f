/* registry.c -- builds activations from formula text (built-in rows,
   `activation` lines, plugin formulas), derives their derivatives, and keeps
   the registry of a context: built-ins first, then plugins, names unique
   among themselves and the graph ops. */
#include "ir.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ir_registry {
    ir_arena *arena;
    ir_expr_pool *pool;
    ir_vec acts; /* ir_activation * */
};

int ir_params_from_text(ir_arena *a, const char *text, const char *origin, ir_params *out,
                        act_error *err)
{
    ir_arena *tokens = ir_arena_new();
    if (!tokens)
        return act_error_at(err, (ir_pos){origin, 1, 1}, ACT_ERR_NOMEM, "out of memory");
    ir_token *cur = ir_tokenize(tokens, origin, text, err);
    int rc = cur ? ir_params_parse(a, &cur, out, err) : err ? err->code : ACT_ERR_SYNTAX;
    if (!rc && cur->kind != TK_EOF && !(cur->kind == TK_END && cur[1].kind == TK_EOF)) {
        const char *found = ir_tok_describe(tokens, cur);
        rc = act_error_at(err, cur->pos, ACT_ERR_SYNTAX,
                          "expected ',' or the end of the parameters, found %s",
                          found ? found : "a token");
    }
    ir_arena_free(tokens);
    return rc;
}

/* Appends the string-valued parameter "name: word0 word1 ..." (at most 4
   words; default word0; its value is the index of the word given). */
static int add_words(ir_arena *a, const char *words, const char *origin, ir_params *params,
                     act_error *err)
{
    ir_pos pos = {origin, 0, 0};
    const char *colon = strchr(words, ':');
    size_t name_len = strspn(words, "abcdefghijklmnopqrstuvwxyz_");
    ir_param p = {.pos = pos};
    int n = 0;
    for (const char *s = colon ? colon + 1 : ""; *(s += strspn(s, " ")) && n <= 4; n++) {
        size_t len = strcspn(s, " ");
        if (n < 4 && !(p.words[n] = ir_strndup(a, s, len)))
            return act_error_at(err, pos, ACT_ERR_NOMEM, "out of memory");
        s += len;
    }
    if (!colon || !name_len || words + name_len != colon || !n || n > 4 ||
        params->n == IR_MAX_PARAMS)
        return act_error_at(err, pos, ACT_ERR_SYNTAX,
                            "expected 'name: word word ...' (at most 4 words), found '%s'", words);
    if (!(p.name = ir_strndup(a, words, name_len)))
        return act_error_at(err, pos, ACT_ERR_NOMEM, "out of memory");
    params->p[params->n++] = p;
    return 0;
}

ir_activation *ir_activation_from_text(ir_arena *a, ir_expr_pool *p, ir_origin_kind kind,
                                       const char *name, const char *params, const char *words,
                                       const char *formula, const char *grad, const char *origin,
                                       act_error *err)
{
    ir_activation *act = ir_alloc(a, sizeof *act);
    const char *where = ir_strdup(a, origin);
    if (!act || !where || !(act->name = ir_strdup(a, name)) ||
        !(act->formula = ir_strdup(a, formula)) ||
        (grad && !(act->grad_formula = ir_strdup(a, grad))))
        return act_error_at(err, (ir_pos){origin, 0, 0}, ACT_ERR_NOMEM, "out of memory"), NULL;
    act->origin = where;
    act->origin_kind = kind;
    act->pos = (ir_pos){where, 0, 0};
    act->var = "x";
    if (ir_params_from_text(a, params, where, &act->params, err) ||
        (words && add_words(a, words, where, &act->params, err)))
        return NULL;
    if (!(act->f = ir_expr_parse_string(p, formula, where, &act->params, false, err)))
        return NULL;
    if (grad && !(act->df = ir_expr_parse_string(p, grad, where, &act->params, true, err)))
        return NULL;
    return ir_activation_finish(p, act, err) ? NULL : act;
}

int ir_activation_finish(ir_expr_pool *p, ir_activation *act, act_error *err)
{
    bool user = act->origin_kind != IR_ORIGIN_BUILTIN;
    ir_expr *f = user ? ir_expr_stable(p, act->f) : act->f, *df = act->df;
    if (!(act->f_eval = user ? ir_expr_expand(p, f) : f))
        return act_error_at(err, act->pos, ACT_ERR_NOMEM, "out of memory");
    if (!df) {
        act_error why = {0};
        df = ir_expr_diff(p, f, &why);
        if (!df && why.code != ACT_ERR_GRAD)
            return act_error_at(err, (ir_pos){why.file, why.line, why.col}, why.code, "%s",
                                why.message);
        if (!df) {
            act->df_error = ir_strdup(ir_expr_pool_arena(p), why.message);
            return act->df_error ? 0 : act_error_at(err, act->pos, ACT_ERR_NOMEM, "out of memory");
        }
    }
    /* y is the saved forward output: reading it recomputes nothing */
    df = ir_expr_subst_y(p, df, f);
    if (user)
        df = ir_expr_expand(p, ir_expr_stable(p, df));
    if (!df)
        return act_error_at(err, act->pos, ACT_ERR_NOMEM, "out of memory");
    act->df = df;
    return 0;
}

ir_registry *ir_registry_new(act_error *err)
{
    ir_registry *r = calloc(1, sizeof *r);
    if (!r || !(r->arena = ir_arena_new()) || !(r->pool = ir_expr_pool_new(r->arena))) {
        ir_registry_free(r);
        act_error_set(err, NULL, ACT_ERR_NOMEM, "out of memory");
        return NULL;
    }
    int n;
    const ir_builtin_row *rows = ir_builtin_rows(&n);
    for (int i = 0; i < n; i++) {
        ir_activation *act = ir_activation_from_text(
            r->arena, r->pool, IR_ORIGIN_BUILTIN, rows[i].name, rows[i].params, rows[i].words,
            rows[i].formula, rows[i].grad, "built-in", err);
        if (!act || ir_registry_add(r, &act, 1, err)) {
            ir_registry_free(r);
            return NULL;
        }
    }
    return r;
}

void ir_registry_free(ir_registry *r)
{
    if (!r)
        return;
    ir_arena_free(r->arena);
    free(r);
}

ir_arena *ir_registry_arena(ir_registry *r)
{
    return r->arena;
}

ir_expr_pool *ir_registry_pool(ir_registry *r)
{
    return r->pool;
}

const ir_activation *ir_registry_find(const ir_registry *r, const char *name)
{
    for (int i = 0; i < r->acts.n; i++) {
        const ir_activation *act = r->acts.items[i];
        if (!strcmp(act->name, name))
            return act;
    }
    return NULL;
}

int ir_registry_count(const ir_registry *r)
{
    return r->acts.n;
}

const ir_activation *ir_registry_at(const ir_registry *r, int i)
{
    return r->acts.items[i];
}

/* "(built-in)", "at FILE:LINE:COL" or "in plugin PATH", for clash messages. */
static void describe_origin(char *buf, size_t size, const ir_activation *act)
{
    if (act->origin_kind == IR_ORIGIN_BUILTIN)
        snprintf(buf, size, "(built-in)");
    else
        snprintf(buf, size, "%s %s", act->origin_kind == IR_ORIGIN_FILE ? "at" : "in plugin",
                 act->origin);
}

static int clash(act_error *err, const ir_activation *first, const ir_activation *again)
{
    char was[300], now[300];
    if (first)
        describe_origin(was, sizeof was, first);
    else
        snprintf(was, sizeof was, "(built-in graph op)");
    describe_origin(now, sizeof now, again);
    return act_error_at(
        err, again->pos, ACT_ERR_NAME,
        "expected a new activation name, found '%s' already defined %s and again %s", again->name,
        was, now);
}

int ir_registry_add(ir_registry *r, ir_activation **acts, int n, act_error *err)
{
    for (int i = 0; i < n; i++) {
        if (ir_op_find(acts[i]->name))
            return clash(err, NULL, acts[i]);
        const ir_activation *known = ir_registry_find(r, acts[i]->name);
        for (int j = 0; !known && j < i; j++)
            if (!strcmp(acts[j]->name, acts[i]->name))
                known = acts[j];
        if (known)
            return clash(err, known, acts[i]);
    }
    /* make room first, so that running out of memory adds nothing */
    ir_vec grown = r->acts;
    if (grown.n + n > grown.cap) {
        grown.cap = 2 * (grown.n + n);
        if (!(grown.items = ir_alloc(r->arena, (size_t)grown.cap * sizeof *grown.items)))
            return act_error_set(err, NULL, ACT_ERR_NOMEM, "out of memory");
        if (r->acts.n)
            memcpy(grown.items, r->acts.items, (size_t)r->acts.n * sizeof *grown.items);
    }
    for (int i = 0; i < n; i++)
        grown.items[grown.n++] = acts[i];
    r->acts = grown;
    return 0;
}
