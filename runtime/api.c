/* api.c -- the public entry points of act.h that are not about one tensor:
   contexts, compiling, running, training, introspection. */
#include "rt.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

act_context *act_context_new(void)
{
    act_context *ctx = calloc(1, sizeof *ctx);
    if (ctx && (!(ctx->reg = ir_registry_new(NULL)) || !(ctx->cache = cc_cache_new()) ||
                !(ctx->texts = rt_texts_new()))) {
        act_context_free(ctx);
        return NULL;
    }
    return ctx;
}

void act_context_free(act_context *ctx)
{
    if (!ctx)
        return;
    ir_registry_free(ctx->reg);
    cc_cache_free(ctx->cache);
    rt_texts_free(ctx->texts);
    pl_unload(ctx->plugins); /* last: native activations will point into them */
    free(ctx);
}

int act_load_plugin(act_context *ctx, const char *path, act_error *err)
{
    return pl_load(ctx->reg, &ctx->plugins, path, err);
}

char *rt_read_file(const char *path, act_error *err)
{
    /* open and read, not stdio: a compile-cache hit reads its file too, and
       fopen's buffer and fstat were a tenth of one */
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        act_error_set(err, path, ACT_ERR_IO, "cannot open: %s", strerror(errno));
        return NULL;
    }
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    bool bad = false;
    while (buf) {
        ssize_t got = read(fd, buf + n, cap - n - 1);
        if (got < 0 && errno == EINTR)
            continue;
        bad = got < 0;
        if (got <= 0)
            break;
        n += (size_t)got;
        if (n < cap - 1)
            continue;
        char *bigger = realloc(buf, cap * 2);
        if (!bigger)
            free(buf);
        buf = bigger;
        cap *= 2;
    }
    close(fd);
    if (!buf || bad) {
        free(buf);
        act_error_set(err, path, bad ? ACT_ERR_IO : ACT_ERR_NOMEM,
                      bad ? "cannot read the file" : "out of memory");
        return NULL;
    }
    buf[n] = 0;
    if (strlen(buf) != n) {
        free(buf);
        act_error_set(err, path, ACT_ERR_SYNTAX, "expected UTF-8 text, found a NUL byte");
        return NULL;
    }
    return buf;
}

act_program *act_compile_string(act_context *ctx, const char *source, const char *name_for_errors,
                                const char *graph, act_engine engine, act_error *err)
{
    if (err)
        memset(err, 0, sizeof *err);
    if (!ctx || !source)
        return act_error_set(err, name_for_errors, ACT_ERR_ARG,
                             "expected a context and source text, found NULL"),
               NULL;
    return rt_program_compile(ctx, source, name_for_errors ? name_for_errors : "<string>", graph,
                              engine, err);
}

act_program *act_compile_file(act_context *ctx, const char *path, const char *graph,
                              act_engine engine, act_error *err)
{
    if (err)
        memset(err, 0, sizeof *err);
    if (!ctx || !path)
        return act_error_set(err, NULL, ACT_ERR_ARG, "expected a context and a path, found NULL"),
               NULL;
    char *src = rt_read_file(path, err);
    if (!src)
        return NULL;
    act_program *p = rt_program_compile(ctx, src, path, graph, engine, err);
    free(src);
    return p;
}

int act_forward(act_program *p, act_error *err)
{
    if (!p)
        return act_error_set(err, NULL, ACT_ERR_ARG, "expected a program, found NULL");
    return rt_run(p, RT_FORWARD, err);
}

int act_backward(act_program *p, act_error *err)
{
    if (!p)
        return act_error_set(err, NULL, ACT_ERR_ARG, "expected a program, found NULL");
    int rc = rt_run(p, RT_BACKWARD, err);
    if (!rc)
        p->params_only = false;
    return rc;
}

/* Below this many param elements, act_sgd_step updates on one thread. */
enum { SGD_ALONE = 1 << 16 };

/* w -= lr * g rounded once, an FMA (libm's fmaf where the CPU has none
   gives the same floats, slowly): through restrict pointers, so that it is
   vectorised (the loop on the program's fields was not, and took a tenth
   of the MLP's training step). The update in double rounded to float, two
   roundings, was compute-bound on Zen 4's AVX-512 (12 cycles for 16 floats,
   converting both ways): 60 us of the MLP's step at batch 64, now about
   30. Fusing the update into the epilogue of the product that makes d_W
   gained nothing more (measured): the update is memory-bound. */
VECTOR_CLONES static void sgd_float(float *restrict w, const float *restrict g, float lr, int64_t n)
{
    for (int64_t k = 0; k < n; k++)
        w[k] = fmaf(-lr, g[k], w[k]);
}

static void sgd_double(double *restrict w, const double *restrict g, float lr, int64_t n)
{
    for (int64_t k = 0; k < n; k++)
        w[k] = (float)(w[k] - (double)lr * g[k]);
}

typedef struct {
    act_program *p;
    float lr;
    int parts;
} sgd_job;

/* Part `part` of every param: p -= lr * d_p on that slice of it. */
static void sgd_part(void *arg, int part)
{
    const sgd_job *j = arg;
    act_program *p = j->p;
    for (int i = 0; i < p->g->nforward; i++) {
        ir_value *v = p->g->values.items[i];
        ir_value *g = p->g->grad[i];
        if (v->op != IR_PARAM || !g)
            continue;
        rt_tensor *t = &p->t[i];
        int64_t lo = rt_part_start(t->n, j->parts, part);
        int64_t len = rt_part_start(t->n, j->parts, part + 1) - lo;
        if (t->data)
            sgd_double(t->data + lo, p->t[g->id].data + lo, j->lr, len);
        if (t->f32)
            sgd_float(t->f32 + lo, p->grad32[i] + lo, j->lr, len);
    }
}

/* p -= lr * d_p, rounded to float32 like a param set from float data. The
   outputs, loss and params' gradients act_get returns afterwards are the
   step's, computed before the update. A program whose runs are split across
   threads updates on them too: serial, the update was a tenth of the MLP's
   step on two threads. */
int act_sgd_step(act_program *p, float learning_rate, act_error *err)
{
    if (!p)
        return act_error_set(err, NULL, ACT_ERR_ARG, "expected a program, found NULL");
    int rc = rt_run(p, RT_SGD, err);
    if (rc)
        return rc;
    /* as PyTorch, which leaves the data's .grad alone: with a loss, the
       JIT's entry computes the params' gradients only (the interpreter all
       of them, but act_get treats both alike) */
    p->params_only = !p->vjp;
    sgd_job j = {p, learning_rate, 1};
    int64_t count = 0;
    for (int i = 0; i < p->g->nforward; i++)
        count += ((ir_value *)p->g->values.items[i])->op == IR_PARAM ? p->t[i].n : 0;
    if (p->team && rt_team_here(p->team) && count >= SGD_ALONE) {
        j.parts = rt_team_size(p->team);
        rt_team_run(p->team, j.parts, sgd_part, &j);
    } else {
        sgd_part(&j, 0);
    }
    rt_program_invalidate(p); /* the params changed; results stay those of the step */
    rt_data_changed(p, -1);
    return 0;
}

void act_set_threads(act_program *p, int n)
{
    if (!p || p->threads == (n > 0 ? n : 0))
        return;
    p->threads = n > 0 ? n : 0;
    rt_team_free(p->team); /* made again, of the size the next split run needs */
    p->team = NULL;
}

int act_emit_object(act_program *p, const char *obj_path, const char *header_path, act_error *err)
{
    if (!p || !obj_path)
        return act_error_set(err, NULL, ACT_ERR_ARG, "expected a program and a path, found NULL");
    bool was = p->g->differentiated;
    int rc = cc_emit(p->mod, p->g, CC_EMIT_OBJ, obj_path, header_path, NULL, NULL, err);
    /* cc_emit differentiated the graph for its own entries: put back the
       program's (autodiff is deterministic, so gradients keep their ids) */
    p->g->differentiated = false;
    if (was && ir_autodiff(p->mod, p->g, p->vjp, NULL) == 0)
        p->g->differentiated = true;
    else if (was)
        p->backward_done = false;
    return rc;
}

int act_program_names(act_program *p, int kind, const char ***names)
{
    static const char *none[1];
    *names = none;
    if (!p)
        return 0;
    const char **out = ir_alloc(p->mod->arena, (size_t)(p->g->nforward + 1) * sizeof *out);
    if (!out)
        return 0;
    int n = 0;
    if (kind == 2) {
        for (int j = 0; j < p->g->outputs.n; j++)
            out[n++] = ((ir_value *)p->g->outputs.items[j])->name;
    } else if (kind == 3) {
        if (p->g->loss)
            out[n++] = p->g->loss->name;
    } else {
        for (int i = 0; i < p->g->nforward; i++) {
            ir_value *v = p->g->values.items[i];
            if (v->op == (kind == 0 ? IR_INPUT : IR_PARAM))
                out[n++] = v->name;
        }
    }
    *names = out;
    return n;
}

const char *act_program_type(act_program *p, const char *name)
{
    ir_value *v = p && name ? rt_program_value(p, name) : NULL;
    return v ? ir_shape_str(p->mod->arena, &v->shape) : NULL;
}
