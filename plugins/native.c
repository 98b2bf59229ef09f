/* native.c -- native activations of plugins as ir_native calls in an
   activation's trees. Scalar f(x, p1..pk) and df(x, y, p1..pk): the
   interpreter calls them through libffi, with each cif prepared once here,
   and the JIT at their address. Array fwd and bwd: one element at a time
   for the interpreter; the JIT calls them on whole arrays (act->native). */
#include "pl.h"

#include <ffi.h>

/* One native function; lives in the registry's arena (ffi_cif holds no
   resources of its own). */
typedef struct {
    ir_native base; /* first: eval recovers the struct from it */
    ffi_cif cif;
    ffi_type *types[2 + IR_MAX_PARAMS];
} native_fn;

/* The operands (x, or x and y), then the parameters, each converted to the
   function's type. Thread-safe: only locals change (ffi_call reads cif). */
static double eval_native(const ir_native *self, const double *args, int nargs,
                          const double *params)
{
    native_fn *n = (native_fn *)self; /* built non-const in make_native */
    double d[2 + IR_MAX_PARAMS];
    float f[2 + IR_MAX_PARAMS];
    void *slots[2 + IR_MAX_PARAMS];
    for (int i = 0; i < nargs + self->nparams; i++) {
        double v = i < nargs ? args[i] : params[i - nargs];
        d[i] = v;
        f[i] = (float)v;
        slots[i] = self->type == ACT_F32 ? (void *)&f[i] : (void *)&d[i];
    }
    union {
        double d;
        float f;
        ffi_arg pad; /* libffi may write a whole ffi_arg */
    } r = {0};
    ffi_call(&n->cif, self->addr, &r, slots);
    return self->type == ACT_F32 ? r.f : r.d;
}

static native_fn *make_native(ir_arena *a, const char *name, int type, act_fn fn, int nargs,
                              int nparams, act_error *err)
{
    native_fn *n = ir_alloc(a, sizeof *n);
    if (!n || !(n->base.name = ir_strdup(a, name))) {
        act_error_set(err, NULL, ACT_ERR_NOMEM, "out of memory");
        return NULL;
    }
    n->base.eval = eval_native;
    n->base.addr = fn;
    n->base.type = type;
    n->base.nparams = nparams;
    ffi_type *t = type == ACT_F32 ? &ffi_type_float : &ffi_type_double;
    for (int i = 0; i < nargs + nparams; i++)
        n->types[i] = t;
    if (ffi_prep_cif(&n->cif, FFI_DEFAULT_ABI, (unsigned)(nargs + nparams), t, n->types) !=
        FFI_OK) {
        act_error_set(err, NULL, ACT_ERR_PLUGIN, "expected a function libffi can call, found none");
        return NULL;
    }
    return n;
}

static ir_activation *nomem(act_error *err)
{
    act_error_set(err, NULL, ACT_ERR_NOMEM, "out of memory");
    return NULL;
}

/* The activation's name, origin and parameters; f and df are left to the
   caller. */
static ir_activation *new_activation(ir_arena *a, const char *path, const char *name,
                                     const char *params, const char *kind, act_error *err)
{
    ir_activation *act = ir_alloc(a, sizeof *act);
    const char *origin = ir_strdup(a, path);
    if (!act || !origin || !(act->name = ir_strdup(a, name)) ||
        !(act->formula = ir_sprintf(a, "native %s function", kind)))
        return nomem(err);
    act->origin = origin;
    act->pos = (ir_pos){origin, 0, 0};
    act->var = "x";
    return ir_params_from_text(a, params, origin, &act->params, err) ? NULL : act;
}

static const char *no_derivative(ir_arena *a, const char *name)
{
    return ir_sprintf(a,
                      "expected a derivative for '%s(x)', found none (a native function "
                      "registered without one)",
                      name);
}

ir_activation *pl_native_scalar(ir_registry *reg, const char *path, const char *name,
                                const char *params, int type, act_fn f, act_fn df, act_error *err)
{
    ir_arena *a = ir_registry_arena(reg);
    ir_expr_pool *pool = ir_registry_pool(reg);
    ir_activation *act =
        new_activation(a, path, name, params, type == ACT_F32 ? "float" : "double", err);
    if (!act)
        return NULL;
    int k = act->params.n;
    native_fn *nf = make_native(a, name, type, f, 1, k, err);
    if (!nf)
        return NULL;
    ir_expr *x = ir_ex_leaf(pool, EX_X, 0);
    if (!(act->f_eval = act->f = ir_ex_pos(ir_ex_call(pool, &nf->base, &x, 1), act->pos)))
        return nomem(err);
    if (!df) {
        act->df_error = no_derivative(a, name);
        return act->df_error ? act : nomem(err);
    }
    char *grad_name = ir_sprintf(a, "%s'", name);
    if (!grad_name)
        return nomem(err);
    native_fn *nd = make_native(a, grad_name, type, df, 2, k, err);
    if (!nd)
        return NULL;
    nf->base.grad = &nd->base;
    /* df(x, f(x)): ir_activation_finish rewrites the inner call into y, the
       saved forward output */
    ir_expr *args[2] = {x, act->f};
    if (!(act->df = ir_ex_pos(ir_ex_call(pool, &nd->base, args, 2), act->pos)))
        return nomem(err);
    return ir_activation_finish(pool, act, err) ? NULL : act;
}

/* One element of an array activation, for the interpreter: fwd or bwd on
   n = 1 (dy = 1), in float as the arrays are. */
typedef struct {
    ir_native base; /* first */
    const ir_array_fns *fns;
} array_fn;

static double eval_array_fwd(const ir_native *self, const double *args, int nargs,
                             const double *params)
{
    (void)nargs;
    float x = (float)args[0], y = 0;
    ((const array_fn *)self)->fns->fwd(&x, &y, 1, params);
    return y;
}

static double eval_array_bwd(const ir_native *self, const double *args, int nargs,
                             const double *params)
{
    (void)nargs;
    float x = (float)args[0], y = (float)args[1], dy = 1, dx = 0;
    ((const array_fn *)self)->fns->bwd(&x, &y, &dy, &dx, 1, params);
    return dx;
}

static array_fn *make_array_fn(ir_arena *a, const char *name, const ir_array_fns *fns,
                               double (*eval)(const ir_native *, const double *, int,
                                              const double *))
{
    array_fn *n = ir_alloc(a, sizeof *n);
    if (!n || !(n->base.name = ir_strdup(a, name)))
        return NULL;
    n->base.eval = eval;
    n->fns = fns;
    return n;
}

ir_activation *pl_native_array(ir_registry *reg, const char *path, const char *name,
                               const char *params, act_array_fwd fwd, act_array_bwd bwd,
                               act_error *err)
{
    ir_arena *a = ir_registry_arena(reg);
    ir_expr_pool *pool = ir_registry_pool(reg);
    ir_activation *act = new_activation(a, path, name, params, "array", err);
    if (!act)
        return NULL;
    ir_array_fns *fns = ir_alloc(a, sizeof *fns);
    array_fn *nf = fns ? make_array_fn(a, name, fns, eval_array_fwd) : NULL;
    if (!nf)
        return nomem(err);
    *fns = (ir_array_fns){fwd, bwd};
    act->native = fns;
    ir_expr *x = ir_ex_leaf(pool, EX_X, 0);
    if (!(act->f_eval = act->f = ir_ex_pos(ir_ex_call(pool, &nf->base, &x, 1), act->pos)))
        return nomem(err);
    if (!bwd) {
        act->df_error = no_derivative(a, name);
        return act->df_error ? act : nomem(err);
    }
    char *grad_name = ir_sprintf(a, "%s'", name);
    array_fn *nd = grad_name ? make_array_fn(a, grad_name, fns, eval_array_bwd) : NULL;
    if (!nd)
        return nomem(err);
    nf->base.grad = &nd->base;
    ir_expr *args[2] = {x, act->f};
    if (!(act->df = ir_ex_pos(ir_ex_call(pool, &nd->base, args, 2), act->pos)))
        return nomem(err);
    return ir_activation_finish(pool, act, err) ? NULL : act;
}
