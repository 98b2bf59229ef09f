/* act_kernel.c -- an act program as a benchmark kernel: compiled for the JIT
   from .act text, its tensors set once, then one act_forward, act_backward
   or act_sgd_step per run, as an application calls them. */
#include "driver.h"

#include <stdlib.h>

typedef struct {
    act_program *p;
    ak_pass pass;
    ak_tensor first; /* set again before each AK_STEP */
} ak_state;

static void ak_run(void *state)
{
    ak_state *s = state;
    act_error err = {0};
    const ak_tensor *t = &s->first;
    int rc = s->pass == AK_STEP ? act_set(s->p, t->name, t->data, t->shape, t->rank, &err) : 0;
    rc = rc                      ? rc
         : s->pass == AK_FORWARD ? act_forward(s->p, &err)
         : s->pass == AK_SGD     ? act_sgd_step(s->p, 0.01f, &err)
                                 : act_backward(s->p, &err);
    if (rc) {
        fprintf(stderr, "bench: act: %s\n", err.message);
        exit(1);
    }
}

static void ak_destroy(void *state)
{
    ak_state *s = state;
    act_program_free(s->p);
    free(s);
}

int ak_new(act_context *ctx, const char *source, const ak_tensor *t, int nt, ak_pass pass,
           int threads, bench_kernel *k)
{
    act_error err = {0};
    ak_state *s = calloc(1, sizeof *s);
    if (!s)
        return -1;
    s->pass = pass;
    s->first = t[0];
    s->p = act_compile_string(ctx, source, "bench.act", NULL, ACT_ENGINE_JIT, &err);
    for (int i = 0; s->p && !err.code && i < nt; i++)
        (t[i].output_grad ? act_set_output_grad : act_set)(s->p, t[i].name, t[i].data, t[i].shape,
                                                           t[i].rank, &err);
    if (err.code) {
        fprintf(stderr, "bench: act: %d:%d: %s\n", err.line, err.col, err.message);
        act_program_free(s->p);
        free(s);
        return -1;
    }
    act_set_threads(s->p, threads);
    *k = (bench_kernel){ak_run, ak_destroy, s};
    return 0;
}

const float *ak_get(bench_kernel *k, const char *name)
{
    ak_state *s = k->state;
    return act_get(s->p, name, NULL, NULL, NULL);
}
