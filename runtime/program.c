/* program.c -- a compiled program: parse, verify, hold the tensors of one
   graph, and the public act_set / act_get / act_set_output_grad. */
#include "rt.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

enum { TEXTS = 32, TEXT_SOURCE_MAX = 64 * 1024 };

struct rt_texts {
    pthread_mutex_t lock; /* a context is shared by threads (a POSIX mutex, as
                             compiler/pool.c says, for ThreadSanitizer) */
    struct {
        char *source, *text;
        size_t length; /* of source */
    } kept[TEXTS];
    int next; /* the slot to fill next, round robin */
};

rt_texts *rt_texts_new(void)
{
    rt_texts *m = calloc(1, sizeof *m);
    if (m && pthread_mutex_init(&m->lock, NULL)) {
        free(m);
        return NULL;
    }
    return m;
}

void rt_texts_free(rt_texts *m)
{
    if (!m)
        return;
    for (int i = 0; i < TEXTS; i++) {
        free(m->kept[i].source);
        free(m->kept[i].text);
    }
    pthread_mutex_destroy(&m->lock);
    free(m);
}

char *rt_texts_find(rt_texts *m, const char *source)
{
    size_t n = strlen(source);
    char *copy = NULL;
    pthread_mutex_lock(&m->lock);
    for (int i = 0; i < TEXTS && !copy; i++)
        if (m->kept[i].source && m->kept[i].length == n && !memcmp(m->kept[i].source, source, n))
            copy = strdup(m->kept[i].text);
    pthread_mutex_unlock(&m->lock);
    return copy;
}

void rt_texts_keep(rt_texts *m, const char *source, const char *text)
{
    size_t n = strlen(source);
    char *s = n <= TEXT_SOURCE_MAX ? strdup(source) : NULL, *t = s ? strdup(text) : NULL;
    if (!t) {
        free(s);
        return;
    }
    pthread_mutex_lock(&m->lock);
    free(m->kept[m->next].source);
    free(m->kept[m->next].text);
    m->kept[m->next].source = s;
    m->kept[m->next].text = t;
    m->kept[m->next].length = n;
    m->next = (m->next + 1) % TEXTS;
    pthread_mutex_unlock(&m->lock);
}

static char *dirname_of(ir_arena *a, const char *file)
{
    const char *slash = strrchr(file, '/');
    return slash ? ir_strndup(a, file, (size_t)(slash - file) + 1) : ir_strdup(a, "");
}

act_program *rt_program_compile(act_context *ctx, const char *source, const char *file,
                                const char *graph, act_engine engine, act_error *err)
{
    ir_module *m = ir_parse(file, source, err);
    if (!m)
        return NULL;
    act_program *p = calloc(1, sizeof *p);
    if (!p) {
        ir_module_free(m);
        act_error_set(err, file, ACT_ERR_NOMEM, "out of memory");
        return NULL;
    }
    p->ctx = ctx;
    p->engine = engine;
    p->mod = m;
    if (!(p->g = ir_module_graph(m, graph, err)) || ir_verify(m, p->g, ctx->reg, err))
        goto fail;
    int n = p->g->values.n, nout = p->g->outputs.n;
    p->dir = dirname_of(m->arena, file);
    p->cap = n;
    p->t = calloc((size_t)n, sizeof *p->t);
    p->view = calloc((size_t)n, sizeof *p->view);
    p->given = calloc((size_t)n, sizeof *p->given);
    p->grad_view = calloc((size_t)n, sizeof *p->grad_view);
    p->grad32 = calloc((size_t)n, sizeof *p->grad32);
    p->grad32_n = calloc((size_t)n, sizeof *p->grad32_n);
    p->seed = calloc((size_t)nout + 1, sizeof *p->seed);
    p->seed_shape = calloc((size_t)nout + 1, sizeof *p->seed_shape);
    p->threads = 0;
    p->split = rt_split_analyse(p->g);
    if (!p->dir || !p->t || !p->view || !p->given || !p->grad_view || !p->grad32 || !p->grad32_n ||
        !p->seed || !p->seed_shape) {
        act_error_set(err, file, ACT_ERR_NOMEM, "out of memory");
        goto fail;
    }
    if (rt_params_init(p, err))
        goto fail;
    if (engine == ACT_ENGINE_JIT) {
        bool known = (p->mod_text = rt_texts_find(ctx->texts, source)) != NULL;
        if (rt_jit_prepare(p, CC_FORWARD, err))
            goto fail;
        if (!known)
            rt_texts_keep(ctx->texts, source, p->mod_text);
    }
    return p;
fail:
    act_program_free(p);
    return NULL;
}

void rt_program_invalidate(act_program *p)
{
    for (int i = 0; i < p->cap; i++) {
        free(p->view[i]);
        p->view[i] = NULL;
        if (i < p->g->nforward) {
            free(p->grad_view[i]);
            p->grad_view[i] = NULL;
        }
    }
}

void act_program_free(act_program *p)
{
    if (!p)
        return;
    if (p->t) {
        rt_program_invalidate(p);
        for (int i = 0; i < p->cap; i++) {
            free(p->t[i].data);
            free(p->t[i].f32);
        }
    }
    for (int i = 0; p->grad32 && i < p->g->nforward; i++)
        free(p->grad32[i]);
    free(p->grad32);
    free(p->grad32_n);
    rt_team_free(p->team);
    for (int i = 0; p->scratch && i < p->scratch_chunks * 2 * p->g->nforward; i++)
        free(p->scratch[i]);
    free(p->scratch);
    free(p->scratch_n);
    rt_jit_free(p);
    if (p->seed)
        for (int j = 0; j < p->g->outputs.n; j++)
            free(p->seed[j]);
    free(p->t);
    free(p->view);
    free(p->grad_view);
    free(p->given);
    free(p->seed);
    free(p->seed_shape);
    ir_module_free(p->mod);
    free(p);
}

ir_value *rt_program_value(const act_program *p, const char *name)
{
    for (int i = 0; i < p->g->nforward; i++) {
        ir_value *v = p->g->values.items[i];
        if (v->name && !strcmp(v->name, name))
            return v;
    }
    return NULL;
}

static int output_index(const act_program *p, const ir_value *v)
{
    for (int j = 0; j < p->g->outputs.n; j++)
        if (p->g->outputs.items[j] == v)
            return j;
    return -1;
}

/* Checks a tensor given by the caller against a declared type: rank and
   literal dims here; size names when the program runs. */
static int check_shape(const act_program *p, const ir_value *v, const char *what,
                       const int64_t *shape, int rank, act_error *err)
{
    const ir_shape *s = &v->shape;
    bool ok = rank == s->rank && (rank == 0 || shape);
    int64_t count = 1; /* at most 2^58 elements: byte counts never overflow */
    for (int i = 0; ok && i < rank; i++) {
        ok = shape[i] >= 0 && (s->sym[i] || shape[i] == s->dim[i]) &&
             (shape[i] == 0 || count <= ((int64_t)1 << 58) / shape[i]);
        count *= ok ? shape[i] : 1;
    }
    if (ok)
        return 0;
    ir_shape got = {.rank = rank < 0 || rank > IR_MAX_RANK ? 0 : rank};
    for (int i = 0; i < got.rank && shape; i++)
        got.dim[i] = shape[i];
    return act_error_at(err, v->pos, ACT_ERR_SHAPE, "expected %s '%s' of type %s, found %s%s", what,
                        v->name, ir_shape_str(p->mod->arena, s),
                        rank < 0 || rank > IR_MAX_RANK ? "a rank outside 0..4" : "",
                        rank < 0 || rank > IR_MAX_RANK ? "" : ir_shape_str(p->mod->arena, &got));
}

/* Copies float data into a tensor, replacing what it held: doubles for the
   interpreter, floats for the JIT. */
static int store(rt_tensor *t, act_engine engine, const float *data, const int64_t *shape, int rank,
                 act_error *err)
{
    int64_t n = rt_count(shape, rank);
    size_t count = (size_t)(n ? n : 1);
    /* the same count: into the same memory, whose pages are already the
       process's (a new block for each step's batch was page faults at every
       act_set: a quarter of a step of bench row 7's chain at 256K floats, a
       third at 16M) */
    bool interp = engine == ACT_ENGINE_INTERP;
    bool same = t->n == n && (interp ? t->data != NULL : t->f32 != NULL);
    double *d = !interp ? NULL : same ? t->data : malloc(count * sizeof *d);
    float *f = interp ? NULL : same ? t->f32 : rt_floats((int64_t)count, true);
    if (!d && !f)
        return act_error_set(err, NULL, ACT_ERR_NOMEM, "out of memory");
    for (int64_t i = 0; d && i < n; i++)
        d[i] = data[i];
    if (f && n) /* data may be this buffer (act_get of an output that is an input) */
        memmove(f, data, (size_t)n * sizeof *f);
    if (t->data != d) /* the other engine's copy, or the old block */
        free(t->data);
    if (t->f32 != f)
        free(t->f32);
    t->data = d;
    t->f32 = f;
    t->n = n;
    t->rank = rank;
    memcpy(t->shape, shape, (size_t)rank * sizeof *shape);
    return 0;
}

int act_set(act_program *p, const char *name, const float *data, const int64_t *shape, int rank,
            act_error *err)
{
    ir_value *v = p && name ? rt_program_value(p, name) : NULL;
    if (!v || (v->op != IR_INPUT && v->op != IR_PARAM))
        return act_error_set(err, NULL, ACT_ERR_NAME, "expected an input or param name, found '%s'",
                             name ? name : "(null)");
    int rc = check_shape(p, v, v->op == IR_INPUT ? "input" : "param", shape, rank, err);
    if (rc)
        return rc;
    if (!data && rt_count(shape, rank))
        return act_error_set(err, NULL, ACT_ERR_ARG, "expected data for '%s', found NULL", name);
    if ((rc = store(&p->t[v->id], p->engine, data, shape, rank, err)))
        return rc;
    p->given[v->id] = true;
    p->forward_done = p->backward_done = p->loss_done = false;
    rt_data_changed(p, v->id);
    rt_program_invalidate(p);
    return 0;
}

int act_set_output_grad(act_program *p, const char *output, const float *data, const int64_t *shape,
                        int rank, act_error *err)
{
    ir_value *v = p && output ? rt_program_value(p, output) : NULL;
    int j = v ? output_index(p, v) : -1;
    if (j < 0)
        return act_error_set(err, NULL, ACT_ERR_NAME, "expected an output name, found '%s'",
                             output ? output : "(null)");
    int rc = check_shape(p, v, "gradient of output", shape, rank, err);
    if (rc)
        return rc;
    if (!data && rt_count(shape, rank))
        return act_error_set(err, NULL, ACT_ERR_ARG, "expected data for '%s', found NULL", output);
    rt_tensor t = p->seed_shape[j]; /* a gradient of the same size goes into the same memory */
    t.f32 = p->seed[j];
    if ((rc = store(&t, ACT_ENGINE_JIT, data, shape, rank, err)))
        return rc;
    p->seed[j] = t.f32; /* checked against the output's shape when the program runs */
    p->seed_shape[j] = t;
    p->seed_shape[j].f32 = NULL;
    p->backward_done = false;
    rt_program_invalidate(p);
    return 0;
}

static float *to_float(const rt_tensor *t)
{
    float *f = malloc((size_t)(t->n ? t->n : 1) * sizeof *f);
    for (int64_t i = 0; f && i < t->n; i++)
        f[i] = t->data ? (float)t->data[i] : 0.0f;
    return f;
}

/* The JIT's floats as they are; the interpreter's doubles through a float
   copy kept in *slot. */
static const float *lend(float **slot, const rt_tensor *t, int64_t shape[4], int *rank,
                         act_error *err)
{
    if (!t->f32 && !*slot && !(*slot = to_float(t))) {
        act_error_set(err, NULL, ACT_ERR_NOMEM, "out of memory");
        return NULL;
    }
    if (shape)
        memcpy(shape, t->shape, sizeof t->shape);
    if (rank)
        *rank = t->rank;
    return t->f32 ? t->f32 : *slot;
}

/* "d_<name>": the gradient of an input or param after act_backward; zeros
   where no gradient flows to it. */
static const float *get_grad(act_program *p, const char *name, int64_t shape[4], int *rank,
                             act_error *err)
{
    ir_value *v = rt_program_value(p, name + 2);
    if (!v || (v->op != IR_INPUT && v->op != IR_PARAM))
        return act_error_set(err, NULL, ACT_ERR_NAME, "expected d_<input or param>, found '%s'",
                             name),
               NULL;
    if (!p->backward_done)
        return act_error_set(err, NULL, ACT_ERR_RUNTIME,
                             "expected act_backward before reading '%s', found none", name),
               NULL;
    if (p->params_only && v->op == IR_INPUT)
        return act_error_set(err, NULL, ACT_ERR_RUNTIME,
                             "expected act_backward before reading '%s', found act_sgd_step, "
                             "which computes the gradients of params only",
                             name),
               NULL;
    if (!rt_has_data(&p->t[v->id]))
        return act_error_at(err, v->pos, ACT_ERR_RUNTIME,
                            "expected %s '%s' to be set for its gradient, found it missing",
                            v->op == IR_PARAM ? "param" : "input", v->name),
               NULL;
    ir_value *g = p->g->grad[v->id];
    rt_tensor t = p->t[v->id]; /* the shape of the input; zeros where no gradient flows */
    t.data = g && p->engine == ACT_ENGINE_INTERP ? p->t[g->id].data : NULL;
    t.f32 = p->engine == ACT_ENGINE_JIT ? p->grad32[v->id] : NULL;
    return lend(&p->grad_view[v->id], &t, shape, rank, err);
}

const float *act_get(act_program *p, const char *name, int64_t shape[4], int *rank, act_error *err)
{
    if (!p || !name)
        return act_error_set(err, NULL, ACT_ERR_ARG, "expected a program and a name, found NULL"),
               NULL;
    if (!strncmp(name, "d_", 2) && !rt_program_value(p, name))
        return get_grad(p, name, shape, rank, err);
    ir_value *v = rt_program_value(p, name);
    if (!v)
        return act_error_set(err, NULL, ACT_ERR_NAME, "expected a value of graph '%s', found '%s'",
                             p->g->name, name),
               NULL;
    bool ready = v->op == IR_INPUT || v->op == IR_PARAM ? rt_has_data(&p->t[v->id])
                 : v == p->g->loss                      ? p->loss_done
                                   : p->forward_done && rt_has_data(&p->t[v->id]);
    if (v == p->g->loss && !ready && p->forward_done)
        return (void)rt_run_missing_input(p, v, err), NULL;
    bool kept = v->op == IR_INPUT || v->op == IR_PARAM || v == p->g->loss;
    for (int j = 0; !kept && j < p->g->outputs.n; j++)
        kept = p->g->outputs.items[j] == v;
    if (!ready && !kept && p->engine == ACT_ENGINE_JIT && p->forward_done)
        return act_error_at(err, v->pos, ACT_ERR_RUNTIME,
                            "expected an output, the loss, an input or a param, found '%s', a "
                            "value the JIT does not keep (make it an output, or use the "
                            "interpreter)",
                            name),
               NULL;
    if (!ready)
        return act_error_set(err, NULL, ACT_ERR_RUNTIME,
                             "expected act_forward before reading '%s', found none", name),
               NULL;
    return lend(&p->view[v->id], &p->t[v->id], shape, rank, err);
}
