/* stage.c -- the functions of the act_registry table a plugin calls while it
   registers: each builds one activation aside, in the stage, or records why
   it could not. */
#include "pl.h"

#include <stdlib.h>
#include <string.h>

static pl_stage *stage_of(act_registry *reg)
{
    return (pl_stage *)reg; /* the table is pl_stage's first member */
}

/* Keeps the first failure only: it is the one the loader reports, and later
   ones are often its consequences. */
static int fail(pl_stage *s, const act_error *why)
{
    if (!s->failed.code)
        s->failed = *why;
    return why->code;
}

static int fail_text(pl_stage *s, int code, const char *name, const char *text)
{
    act_error why = {0};
    act_error_set(&why, s->path, code, "activation '%s': %s", name ? name : "(null)", text);
    return fail(s, &why);
}

static int push(pl_stage *s, ir_activation *act)
{
    if (s->n == s->cap) {
        int cap = s->cap ? 2 * s->cap : 8;
        ir_activation **grown = realloc(s->acts, (size_t)cap * sizeof *grown);
        if (!grown)
            return fail_text(s, ACT_ERR_NOMEM, act->name, "out of memory");
        s->acts = grown;
        s->cap = cap;
    }
    s->acts[s->n++] = act;
    return 0;
}

/* A formula error points into the plugin's strings, not into a file act can
   show: the column goes into the message, and the error names the library. */
static int formula_error(pl_stage *s, const char *name, const act_error *why)
{
    act_error e = {0};
    int code = why->code == ACT_ERR_NOMEM ? ACT_ERR_NOMEM : ACT_ERR_PLUGIN;
    if (why->col > 0)
        act_error_set(&e, s->path, code, "activation '%s', column %d: %s", name, why->col,
                      why->message);
    else
        act_error_set(&e, s->path, code, "activation '%s': %s", name, why->message);
    return fail(s, &e);
}

static int bad_name(pl_stage *s, const char *name)
{
    return fail_text(s, ACT_ERR_PLUGIN, name,
                     "expected a name made of letters, digits and '_', found another");
}

/* Stages a built activation, or fails with why it could not be built. */
static int stage(pl_stage *s, const char *name, ir_activation *act, const act_error *why)
{
    if (!act)
        return formula_error(s, name, why);
    act->origin_kind = IR_ORIGIN_PLUGIN;
    return push(s, act);
}

static int register_formula(act_registry *reg, const char *name, const char *params,
                            const char *formula, const char *derivative)
{
    pl_stage *s = stage_of(reg);
    if (!ir_is_identifier(name)) /* names are called in graphs */
        return bad_name(s, name);
    if (!formula)
        return fail_text(s, ACT_ERR_PLUGIN, name, "expected a formula, found NULL");
    act_error why = {0};
    ir_activation *act = ir_activation_from_text(
        ir_registry_arena(s->reg), ir_registry_pool(s->reg), IR_ORIGIN_PLUGIN, name,
        params ? params : "", NULL, formula, derivative, s->path, &why);
    if (act && !act->df) {
        act_error e = {0};
        act_error_set(&e, s->path, ACT_ERR_PLUGIN,
                      "activation '%s': expected a formula with a derivative, found %s (give "
                      "the derivative formula)",
                      name, act->df_error);
        return fail(s, &e);
    }
    return stage(s, name, act, &why);
}

static int register_scalar(act_registry *reg, const char *name, const char *params, int type,
                           act_fn f, act_fn df)
{
    pl_stage *s = stage_of(reg);
    if (!ir_is_identifier(name))
        return bad_name(s, name);
    if (type != ACT_F32 && type != ACT_F64)
        return fail_text(s, ACT_ERR_PLUGIN, name,
                         "expected the type ACT_F32 or ACT_F64, found another");
    if (!f)
        return fail_text(s, ACT_ERR_PLUGIN, name, "expected a function, found NULL");
    act_error why = {0};
    ir_activation *act =
        pl_native_scalar(s->reg, s->path, name, params ? params : "", type, f, df, &why);
    return stage(s, name, act, &why);
}

static int register_array(act_registry *reg, const char *name, const char *params,
                          act_array_fwd fwd, act_array_bwd bwd)
{
    pl_stage *s = stage_of(reg);
    if (!ir_is_identifier(name))
        return bad_name(s, name);
    if (!fwd)
        return fail_text(s, ACT_ERR_PLUGIN, name, "expected a function, found NULL");
    act_error why = {0};
    ir_activation *act =
        pl_native_array(s->reg, s->path, name, params ? params : "", fwd, bwd, &why);
    return stage(s, name, act, &why);
}

static const char *registry_error(const act_registry *reg)
{
    return ((const pl_stage *)reg)->failed.message;
}

void pl_stage_init(pl_stage *s, ir_registry *reg, const char *path)
{
    *s = (pl_stage){
        .table = {.abi_version = ACT_PLUGIN_ABI_VERSION,
                  .size = sizeof(act_registry),
                  .register_formula = register_formula,
                  .register_scalar = register_scalar,
                  .register_array = register_array,
                  .error = registry_error},
        .reg = reg,
        .path = path,
    };
}

void pl_stage_fini(pl_stage *s)
{
    free(s->acts);
}
