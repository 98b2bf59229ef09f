/* run.c -- one run of a program on the interpreter: bind size names from the
   inputs, initialise what is left of the params, mark the values a run needs,
   allocate and compute them in definition order. */
#include "rt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const int64_t *find_size(const rt_sizes *b, const char *name, const ir_value **by)
{
    for (int i = 0; i < b->n; i++)
        if (!strcmp(b->name[i], name)) {
            if (by)
                *by = b->by[i];
            return &b->value[i];
        }
    return NULL;
}

/* Binds each size name from the first given input that uses it, in
   declaration order, and checks every later use, params included. */
static int bind_sizes(const act_program *p, rt_sizes *b, act_error *err)
{
    b->n = 0;
    for (int pass = 0; pass < 2; pass++) /* inputs bind, then params are checked */
        for (int i = 0; i < p->g->nforward; i++) {
            ir_value *v = p->g->values.items[i];
            if (v->op != (pass ? IR_PARAM : IR_INPUT) || !p->given[i])
                continue;
            for (int d = 0; d < v->shape.rank; d++) {
                const char *sym = v->shape.sym[d];
                const ir_value *by;
                const int64_t *have = sym ? find_size(b, sym, &by) : NULL;
                int64_t got = p->t[i].shape[d];
                if (have && *have != got)
                    return act_error_at(err, v->pos, ACT_ERR_SHAPE,
                                        "expected size %s = %lld (bound by input '%s'), "
                                        "found %lld in dim %d of '%s'",
                                        sym, (long long)*have, by->name, (long long)got, d,
                                        v->name);
                if (sym && !have && !pass && b->n < (int)(sizeof b->name / sizeof *b->name)) {
                    b->name[b->n] = sym;
                    b->value[b->n] = got;
                    b->by[b->n++] = v;
                }
            }
        }
    return 0;
}

bool rt_size_of(const rt_sizes *b, const char *sym, int64_t *out)
{
    for (int i = 0; i < b->n; i++)
        if (b->name[i] == sym || !strcmp(b->name[i], sym)) { /* a name: no parsing */
            *out = b->value[i];
            return true;
        }
    size_t len;
    int64_t k;
    ir_size_split(sym, &len, &k);
    for (int i = 0; i < b->n; i++)
        if (strlen(b->name[i]) == len && !strncmp(b->name[i], sym, len)) {
            *out = b->value[i] / k;
            return true;
        }
    return false;
}

bool rt_resolve(const rt_sizes *b, const ir_value *v, rt_tensor *t)
{
    t->rank = v->shape.rank;
    for (int d = 0; d < t->rank; d++) {
        if (!v->shape.sym[d])
            t->shape[d] = v->shape.dim[d];
        else if (!rt_size_of(b, v->shape.sym[d], &t->shape[d]))
            return false;
    }
    t->n = rt_count(t->shape, t->rank);
    return true;
}

/* k must divide a maxout's last dim; a size-name dim is known only now. */
static int check_maxouts(const act_program *p, const rt_sizes *b, act_error *err)
{
    for (int i = 0; i < p->g->nforward; i++) {
        const ir_value *v = p->g->values.items[i];
        rt_tensor x;
        if (v->op != IR_MAXOUT || !rt_resolve(b, v->args[0], &x))
            continue;
        if (x.shape[x.rank - 1] % (int64_t)v->attr[0])
            return act_error_at(err, v->callee_pos, ACT_ERR_SHAPE,
                                "expected the last dim of maxout's input to be a multiple of "
                                "k = %g, found %lld",
                                v->attr[0], (long long)x.shape[x.rank - 1]);
    }
    return 0;
}

/* Each output gradient given must have the output's shape in this run. */
static int check_seeds(const act_program *p, const rt_sizes *b, act_error *err)
{
    for (int j = 0; j < p->g->outputs.n; j++) {
        const ir_value *v = p->g->outputs.items[j];
        const rt_tensor *s = &p->seed_shape[j];
        rt_tensor t;
        if (!p->seed[j] || !rt_resolve(b, v, &t))
            continue;
        if (s->rank != t.rank || memcmp(s->shape, t.shape, (size_t)t.rank * sizeof *t.shape)) {
            ir_shape want = {.rank = t.rank}, got = {.rank = s->rank};
            memcpy(want.dim, t.shape, sizeof want.dim);
            memcpy(got.dim, s->shape, sizeof got.dim);
            return act_error_at(err, v->pos, ACT_ERR_SHAPE,
                                "expected the gradient of output '%s' to be %s, found %s", v->name,
                                ir_shape_str(p->mod->arena, &want),
                                ir_shape_str(p->mod->arena, &got));
        }
    }
    return 0;
}

/* Marks v and everything it reads. */
static void mark(const ir_value *v, bool *need)
{
    if (need[v->id])
        return;
    need[v->id] = true;
    for (int i = 0; i < v->nargs; i++)
        mark(v->args[i], need);
}

/* Depth first, each value once when seen is not NULL (a chain of residual
   blocks reaches its input along 2^blocks paths: 24 blocks took 0.1 s a
   call, 40 would take hours). */
static const ir_value *missing_from(const act_program *p, const ir_value *v, bool *seen)
{
    if (seen && seen[v->id])
        return NULL;
    if (seen)
        seen[v->id] = true;
    if ((v->op == IR_INPUT || v->op == IR_PARAM) && !rt_has_data(&p->t[v->id]))
        return v;
    for (int i = 0; i < v->nargs; i++) {
        const ir_value *m = missing_from(p, v->args[i], seen);
        if (m)
            return m;
    }
    return NULL;
}

/* The first input or param v needs that is not set, or NULL. */
static const ir_value *first_missing(const act_program *p, const ir_value *v)
{
    enum { ON_STACK = 512 };
    bool local[ON_STACK];
    size_t n = (size_t)p->g->values.n;
    bool *seen = n <= ON_STACK ? memset(local, 0, n * sizeof *local) : calloc(n, sizeof *seen);
    const ir_value *m = missing_from(p, v, seen); /* out of memory: every path, slowly */
    if (seen != local)
        free(seen);
    return m;
}

int rt_run_missing_input(const act_program *p, const ir_value *v, act_error *err)
{
    const ir_value *m = first_missing(p, v);
    return act_error_at(err, m ? m->pos : v->pos, ACT_ERR_RUNTIME,
                        "expected %s '%s' to be set (needed by '%s'), found it missing",
                        m && m->op == IR_PARAM ? "param" : "input", m ? m->name : "?",
                        v->name ? v->name : v->callee);
}

static int init_params(act_program *p, const rt_sizes *b, act_error *err)
{
    for (int i = 0; i < p->g->nforward; i++) {
        ir_value *v = p->g->values.items[i];
        rt_tensor t = {0};
        if (v->op != IR_PARAM || rt_has_data(&p->t[i]) || v->init.kind == IR_INIT_NONE ||
            !rt_resolve(b, v, &t))
            continue;
        int rc = rt_param_load(p, v, &t, err);
        if (rc)
            return rc;
        p->t[i] = t;
    }
    return 0;
}

int rt_params_init(act_program *p, act_error *err)
{
    rt_sizes b = {0};
    return init_params(p, &b, err);
}

/* Grows the tensor table after autodiff appended values. */
static int reserve(act_program *p, act_error *err)
{
    int n = p->g->values.n;
    if (n <= p->cap)
        return 0;
    rt_tensor *t = realloc(p->t, (size_t)n * sizeof *t);
    if (t)
        p->t = t;
    float **view = t ? realloc(p->view, (size_t)n * sizeof *view) : NULL;
    if (view)
        p->view = view;
    if (!t || !view)
        return act_error_set(err, NULL, ACT_ERR_NOMEM, "out of memory");
    memset(p->t + p->cap, 0, (size_t)(n - p->cap) * sizeof *t);
    memset(p->view + p->cap, 0, (size_t)(n - p->cap) * sizeof *view);
    p->cap = n;
    return 0;
}

/* Allocates a computed value, or an IR_SEED holding its output gradient. */
static int prepare(act_program *p, const rt_sizes *b, ir_value *v, act_error *err)
{
    rt_tensor *t = &p->t[v->id];
    if (!rt_resolve(b, v, t))
        return rt_run_missing_input(p, v, err);
    free(t->data);
    t->data = calloc((size_t)(t->n ? t->n : 1), sizeof *t->data);
    if (!t->data)
        return act_error_set(err, NULL, ACT_ERR_NOMEM, "out of memory");
    const float *seed = v->op == IR_SEED ? p->seed[(int)v->attr[0]] : NULL;
    for (int64_t i = 0; seed && i < t->n; i++)
        t->data[i] = seed[i];
    return 0;
}

static bool any_seed(const act_program *p)
{
    for (int j = 0; j < p->g->outputs.n; j++)
        if (p->seed[j])
            return true;
    return false;
}

/* What a run computes: the outputs, the loss if its inputs are given (always
   in a loss-mode backward), and the gradients of every input and param. */
static int plan(act_program *p, bool backward, bool *need, act_error *err)
{
    ir_graph *g = p->g;
    for (int j = 0; j < g->outputs.n; j++) {
        const ir_value *m = first_missing(p, g->outputs.items[j]);
        if (m)
            return rt_run_missing_input(p, g->outputs.items[j], err);
        mark(g->outputs.items[j], need);
    }
    if (g->loss && (!first_missing(p, g->loss) || (backward && !p->vjp))) {
        if (first_missing(p, g->loss))
            return rt_run_missing_input(p, g->loss, err);
        mark(g->loss, need);
    }
    for (int i = 0; backward && i < g->nforward; i++) {
        ir_value *v = g->values.items[i];
        if ((v->op == IR_INPUT || v->op == IR_PARAM) && g->grad[i])
            mark(g->grad[i], need);
    }
    return 0;
}

bool rt_inputs_ready(const act_program *p, const ir_value *v)
{
    return !first_missing(p, v);
}

int rt_differentiate(act_program *p, act_error *err)
{
    bool vjp = any_seed(p);
    if (!vjp && !p->g->loss)
        return act_error_at(err, p->g->pos, ACT_ERR_RUNTIME,
                            "expected a loss in graph '%s' or output gradients "
                            "(act_set_output_grad, --output-grad), found neither",
                            p->g->name);
    if (p->g->differentiated && p->vjp == vjp)
        return 0;
    p->backward_done = false; /* the gradients are about to be other values */
    int rc = ir_autodiff(p->mod, p->g, vjp, err);
    if (!rc) {
        p->vjp = vjp;
        rc = reserve(p, err);
    }
    return rc;
}

int rt_run(act_program *p, rt_pass pass, act_error *err)
{
    bool backward = pass != RT_FORWARD;
    rt_sizes b;
    int rc = bind_sizes(p, &b, err);
    if (!rc)
        rc = check_maxouts(p, &b, err);
    if (!rc && backward)
        rc = check_seeds(p, &b, err);
    if (!rc)
        rc = init_params(p, &b, err);
    if (!rc && backward)
        rc = rt_differentiate(p, err);
    if (!rc && p->engine == ACT_ENGINE_JIT)
        return rt_jit_run(p, &b, pass, err);
    bool *need = rc ? NULL : calloc((size_t)p->g->values.n, sizeof *need);
    if (!rc && !need)
        rc = act_error_set(err, NULL, ACT_ERR_NOMEM, "out of memory");
    if (!rc)
        rc = plan(p, backward, need, err);
    if (!rc) { /* from here on the previous results are gone */
        rt_program_invalidate(p);
        p->forward_done = p->loss_done = p->backward_done = false;
    }
    for (int i = 0; !rc && i < p->g->values.n; i++) {
        ir_value *v = p->g->values.items[i];
        if (!need[i] || v->op == IR_INPUT || v->op == IR_PARAM)
            continue;
        if (!(rc = prepare(p, &b, v, err)) && v->op != IR_SEED)
            rt_interp_value(v, p->t);
    }
    if (!rc) {
        p->forward_done = true;
        p->loss_done = p->g->loss && need[p->g->loss->id];
        p->backward_done = backward;
    }
    free(need);
    return rc;
}
