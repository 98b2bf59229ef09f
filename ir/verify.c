/* verify.c -- resolves and checks a parsed graph: the module's activations
   against the registry, then each call's callee, arity and named args, the
   size names, shapes (verify_shape.c) and values that nothing uses. */
#include "ir.h"

#include <math.h>
#include <string.h>

const ir_activation *ir_find_activation(const ir_module *m, const ir_registry *reg,
                                        const char *name)
{
    for (int i = 0; m && i < m->acts.n; i++) {
        const ir_activation *act = m->acts.items[i];
        if (!strcmp(act->name, name))
            return act;
    }
    return reg ? ir_registry_find(reg, name) : NULL;
}

static int nomem(act_error *err, ir_pos pos)
{
    return act_error_at(err, pos, ACT_ERR_NOMEM, "out of memory");
}

/* A name is defined once: by a built-in, a plugin, a graph op, or one
   `activation` line. The error is at the later definition. */
static int check_activations(const ir_module *m, const ir_registry *reg, act_error *err)
{
    for (int i = 0; i < m->acts.n; i++) {
        const ir_activation *act = m->acts.items[i];
        const ir_activation *old = reg ? ir_registry_find(reg, act->name) : NULL;
        const char *what = "expected a new activation name, found '%s' already defined (%s%s)";
        if (ir_op_find(act->name))
            return act_error_at(err, act->pos, ACT_ERR_NAME, what, act->name, "a graph op", "");
        if (old && old->origin_kind == IR_ORIGIN_BUILTIN)
            return act_error_at(err, act->pos, ACT_ERR_NAME, what, act->name, "built-in", "");
        if (old)
            return act_error_at(err, act->pos, ACT_ERR_NAME, what, act->name, "plugin ",
                                old->origin);
        for (int j = 0; j < i; j++) {
            const ir_activation *first = m->acts.items[j];
            if (!strcmp(first->name, act->name))
                return act_error_at(err, act->pos, ACT_ERR_NAME,
                                    "expected a new activation name, found '%s' already "
                                    "defined at line %d",
                                    act->name, first->pos.line);
        }
    }
    return 0;
}

static bool is_loss_op(ir_op op)
{
    return op == IR_SCE || op == IR_BCE || op == IR_MSE;
}

/* Op arguments that count things or pick an axis. */
static bool is_integer_param(const char *name)
{
    return !strcmp(name, "axis") || !strcmp(name, "k") || !strcmp(name, "seed") ||
           !strcmp(name, "training");
}

/* "alpha, beta" or "approximate" for messages. */
static const char *param_list(ir_arena *a, const ir_params *ps)
{
    const char *list = "";
    for (int i = 0; i < ps->n && list; i++)
        list = ir_sprintf(a, "%s%s%s", list, i ? ", " : "", ps->p[i].name);
    return list ? list : "";
}

/* "\"none\" or \"tanh\"" for a string-valued param. */
static const char *word_list(ir_arena *a, const ir_param *pp)
{
    int n = 0;
    while (n < 4 && pp->words[n])
        n++;
    const char *list = "";
    for (int i = 0; i < n && list; i++) {
        const char *sep = i == 0 ? "" : i == n - 1 ? " or " : ", ";
        list = ir_sprintf(a, "%s%s\"%s\"", list, sep, pp->words[i]);
    }
    return list ? list : "";
}

/* One named argument into v->attr[i]. */
static int resolve_named(ir_arena *a, ir_value *v, const ir_named_arg *na, const ir_param *pp,
                         int i, bool is_op, act_error *err)
{
    char num[32];
    ir_format_number(num, na->num);
    if (pp->words[0]) {
        if (!na->is_string)
            return act_error_at(err, na->pos, ACT_ERR_ARG, "expected %s for %s, found %s",
                                word_list(a, pp), pp->name, num);
        for (int w = 0; w < 4 && pp->words[w]; w++)
            if (!strcmp(pp->words[w], na->str)) {
                v->attr[i] = w;
                return 0;
            }
        return act_error_at(err, na->pos, ACT_ERR_ARG, "expected %s for %s, found \"%s\"",
                            word_list(a, pp), pp->name, na->str);
    }
    if (na->is_string)
        return act_error_at(err, na->pos, ACT_ERR_ARG, "expected a number for %s, found \"%s\"",
                            pp->name, na->str);
    if (is_op && is_integer_param(pp->name) && na->num != floor(na->num))
        return act_error_at(err, na->pos, ACT_ERR_ARG, "expected an integer for %s, found %s",
                            pp->name, num);
    if (is_op && !strcmp(pp->name, "training") && na->num != 0 && na->num != 1)
        return act_error_at(err, na->pos, ACT_ERR_ARG, "expected training = 0 or 1, found %s", num);
    /* bounded so that engines can hold them in 64-bit integers */
    if (is_op && !strcmp(pp->name, "k") && !(na->num >= 1 && na->num <= 2147483647.0))
        return act_error_at(err, na->pos, ACT_ERR_ARG, "expected 1 <= k <= 2^31 - 1, found %s",
                            num);
    if (is_op && !strcmp(pp->name, "seed") && !(na->num >= 0 && na->num <= 9007199254740992.0))
        return act_error_at(err, na->pos, ACT_ERR_ARG, "expected 0 <= seed <= 2^53, found %s",
                            num);
    v->attr[i] = na->num;
    return 0;
}

/* Fills v->attr in declaration order: defaults, then the named args. */
static int resolve_named_args(ir_arena *a, ir_value *v, const ir_params *ps, bool is_op,
                              act_error *err)
{
    for (int i = 0; i < ps->n; i++)
        v->attr[i] = ps->p[i].def;
    for (int j = 0; j < v->nnamed; j++) {
        const ir_named_arg *na = &v->named[j];
        int i = 0;
        while (i < ps->n && strcmp(ps->p[i].name, na->name))
            i++;
        if (i == ps->n && !ps->n)
            return act_error_at(err, na->pos, ACT_ERR_ARG,
                                "expected no named arguments for %s, found '%s'", v->callee,
                                na->name);
        if (i == ps->n)
            return act_error_at(err, na->pos, ACT_ERR_ARG,
                                "expected a named argument of %s (%s), found '%s'", v->callee,
                                param_list(a, ps), na->name);
        if (resolve_named(a, v, na, &ps->p[i], i, is_op, err))
            return err->code;
    }
    return 0;
}

/* rrelu draws its slope from [lower, upper], its first two params (ir/ops.c). */
static int check_rrelu(ir_value *v, act_error *err)
{
    ir_pos pos = v->callee_pos;
    for (int j = 0; j < v->nnamed; j++)
        if (!strcmp(v->named[j].name, "lower") || !strcmp(v->named[j].name, "upper"))
            pos = v->named[j].pos;
    if (v->attr[0] <= v->attr[1])
        return 0;
    char lo[32], hi[32];
    ir_format_number(lo, v->attr[0]);
    ir_format_number(hi, v->attr[1]);
    return act_error_at(err, pos, ACT_ERR_ARG,
                        "expected lower <= upper for rrelu, found lower = %s, upper = %s", lo, hi);
}

static int check_arity(const ir_value *v, int min, int max, act_error *err)
{
    if (v->nargs >= min && v->nargs <= max)
        return 0;
    if (min == max)
        return act_error_at(err, v->callee_pos, ACT_ERR_ARG,
                            "expected %d tensor argument%s for %s, found %d", min,
                            min == 1 ? "" : "s", v->callee, v->nargs);
    return act_error_at(err, v->callee_pos, ACT_ERR_ARG,
                        "expected %d to %d tensor arguments for %s, found %d", min, max, v->callee,
                        v->nargs);
}

/* Callee, arity, named args and where a loss op may be. */
static int resolve_call(const ir_module *m, const ir_graph *g, ir_value *v, const ir_registry *reg,
                        act_error *err)
{
    const ir_op_info *info = ir_op_find(v->callee);
    const ir_params *ps;
    if (info) {
        v->op = info->op;
        v->act = NULL;
        ps = &info->params;
    } else if ((v->act = ir_find_activation(m, reg, v->callee))) {
        v->op = IR_ACT;
        ps = &v->act->params;
    } else {
        return act_error_at(err, v->callee_pos, ACT_ERR_NAME,
                            "expected an op or activation, found '%s'", v->callee);
    }
    if (check_arity(v, info ? info->min_args : 1, info ? info->max_args : 1, err) ||
        resolve_named_args(m->arena, v, ps, info != NULL, err))
        return err->code;
    if (v->op == IR_RRELU && check_rrelu(v, err))
        return err->code;
    if (is_loss_op(v->op) && v != g->loss)
        return act_error_at(err, v->callee_pos, ACT_ERR_ARG,
                            "expected %s only in a loss statement, found it in %s", v->callee,
                            v->name ? "an assignment" : "a nested call");
    if (v == g->loss && !is_loss_op(v->op))
        return act_error_at(err, v->callee_pos, ACT_ERR_ARG,
                            "expected a loss (softmax_cross_entropy, sigmoid_cross_entropy or "
                            "mse), found '%s'",
                            v->callee);
    for (int i = 0; i < v->nargs; i++)
        if (g->loss && v->args[i] == g->loss)
            return act_error_at(err, v->arg_pos[i], ACT_ERR_ARG,
                                "expected a tensor argument, found the loss '%s'", g->loss->name);
    return 0;
}

static bool bound_by_input(const ir_graph *g, const char *sym)
{
    for (int i = 0; i < g->values.n; i++) {
        const ir_value *v = g->values.items[i];
        for (int d = 0; v->op == IR_INPUT && d < v->decl.rank; d++)
            if (v->decl.sym[d] && !strcmp(v->decl.sym[d], sym))
                return true;
    }
    return false;
}

/* Only inputs bind size names; the first other appearance of an unbound
   one is the error. */
static int check_sizes(const ir_graph *g, act_error *err)
{
    for (int i = 0; i < g->values.n; i++) {
        const ir_value *v = g->values.items[i];
        for (int d = 0; v->op == IR_PARAM && d < v->decl.rank; d++)
            if (v->decl.sym[d] && !bound_by_input(g, v->decl.sym[d]))
                return act_error_at(err, v->dim_pos[d], ACT_ERR_SHAPE,
                                    "expected size name '%s' in an input's type, found it in "
                                    "no input",
                                    v->decl.sym[d]);
    }
    return 0;
}

/* Every value feeds an output, the loss or another value. */
static int check_used(ir_arena *a, const ir_graph *g, act_error *err)
{
    bool *used = ir_alloc(a, (size_t)g->values.n + 1);
    if (!used)
        return nomem(err, g->pos);
    for (int i = 0; i < g->values.n; i++) {
        const ir_value *v = g->values.items[i];
        for (int k = 0; k < v->nargs; k++)
            used[v->args[k]->id] = true;
    }
    for (int i = 0; i < g->outputs.n; i++)
        used[((ir_value *)g->outputs.items[i])->id] = true;
    if (g->loss)
        used[g->loss->id] = true;
    for (int i = 0; i < g->values.n; i++) {
        const ir_value *v = g->values.items[i];
        if (!used[i])
            return act_error_at(err, v->pos, ACT_ERR_NAME,
                                "expected '%s' to be used by an output or the loss, found it "
                                "unused",
                                v->name);
    }
    return 0;
}

int ir_verify(ir_module *m, ir_graph *g, const ir_registry *reg, act_error *err)
{
    act_error local = {0};
    if (!err)
        err = &local;
    if (check_activations(m, reg, err))
        return err->code;
    if (!g->outputs.n && !g->loss)
        return act_error_at(err, g->pos, ACT_ERR_SYNTAX,
                            "expected an output or a loss in graph '%s', found neither", g->name);
    for (int i = 0; i < g->values.n; i++)
        ((ir_value *)g->values.items[i])->id = i;
    g->nforward = g->values.n;
    if (check_sizes(g, err))
        return err->code;
    for (int i = 0; i < g->values.n; i++) {
        ir_value *v = g->values.items[i];
        if (v->callee && resolve_call(m, g, v, reg, err))
            return err->code;
        if (ir_infer_shape(m->arena, v, err))
            return err->code;
    }
    return check_used(m->arena, g, err);
}
