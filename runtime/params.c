/* params.c -- the initial values of params: seeded generators, inline lists,
   and npy("...") files resolved relative to the .act file. */
#include "rt.h"

#include <stdlib.h>
#include <string.h>

static int load_npy(const act_program *p, const ir_value *v, rt_tensor *t, float **data,
                    act_error *err)
{
    const char *path = v->init.path[0] == '/'
                           ? v->init.path
                           : ir_sprintf(p->mod->arena, "%s%s", p->dir, v->init.path);
    if (!path)
        return act_error_at(err, v->init.pos, ACT_ERR_NOMEM, "out of memory");
    act_error sub = {0};
    int64_t shape[IR_MAX_RANK];
    int rank;
    if (rt_npy_read(path, data, shape, &rank, &sub))
        return act_error_at(err, v->init.pos, sub.code, "%s: %s", path, sub.message);
    bool ok = rank == t->rank;
    for (int d = 0; ok && d < rank; d++)
        ok = shape[d] == t->shape[d];
    if (ok)
        return 0;
    free(*data);
    *data = NULL;
    ir_shape want = {.rank = t->rank}, got = {.rank = rank};
    memcpy(want.dim, t->shape, sizeof want.dim);
    memcpy(got.dim, shape, sizeof got.dim);
    return act_error_at(
        err, v->init.pos, ACT_ERR_NPY, "%s: expected shape %s for param '%s', found %s", path,
        ir_shape_str(p->mod->arena, &want), v->name, ir_shape_str(p->mod->arena, &got));
}

int rt_param_load(const act_program *p, const ir_value *v, rt_tensor *t, act_error *err)
{
    float *data = NULL;
    int rc = 0;
    if (v->init.kind == IR_INIT_NPY) {
        rc = load_npy(p, v, t, &data, err);
    } else if (v->init.kind == IR_INIT_LIST && v->init.nlist != t->n) {
        rc = act_error_at(err, v->init.pos, ACT_ERR_SHAPE,
                          "expected %lld values in the list for param '%s', found %lld",
                          (long long)t->n, v->name, (long long)v->init.nlist);
    } else if (!(data = rt_floats(t->n, true))) {
        rc = act_error_at(err, v->init.pos, ACT_ERR_NOMEM, "out of memory");
    } else {
        rt_init_fill(&v->init, t->shape, t->rank, data);
    }
    if (!rc && p->engine == ACT_ENGINE_JIT) { /* the JIT keeps the floats */
        t->f32 = data;
        return 0;
    }
    if (!rc && !(t->data = malloc((size_t)(t->n ? t->n : 1) * sizeof *t->data)))
        rc = act_error_at(err, v->init.pos, ACT_ERR_NOMEM, "out of memory");
    for (int64_t i = 0; !rc && i < t->n; i++)
        t->data[i] = data[i];
    free(data);
    return rc;
}
