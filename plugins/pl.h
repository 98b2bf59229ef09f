/* pl.h -- the plugin loader.
 *
 * Owns: opening plugin libraries (dlopen), checking their ABI version,
 * handing them the registry table of <act/plugin.h>, staging what they
 * register, and keeping the opened libraries until their context goes.
 * Leaves to others: parsing formulas and the registry itself (ir/), the
 * context that holds the loaded list (runtime/), reading ACT_PLUGIN_PATH
 * (tools/).
 *
 * One load, in order: refuse a library already loaded -> dlopen -> check
 * act_plugin_abi_version -> act_plugin_register into a staging list ->
 * ir_registry_add of the whole list, or dlclose and nothing.
 */
#ifndef ACT_PL_H
#define ACT_PL_H

#include "../ir/ir.h"

#include <act/plugin.h>

/* The libraries a context has loaded, newest first; NULL when none. */
typedef struct pl_library pl_library;

/* Loads the plugin at path and adds all of its activations to reg, or none.
   On success the library is pushed on *loaded (it stays open until
   pl_unload). Errors, ACT_ERR_PLUGIN with err->file = path unless out of
   memory, leave reg and *loaded as they were: a missing or unloadable file,
   a library already in *loaded (the same file by device and inode), no
   act_plugin_register, no act_plugin_abi_version or another version, a
   registration that fails or returns non-zero, a name clash. Not
   thread-safe: a context loads its plugins before threads share it. */
int pl_load(ir_registry *reg, pl_library **loaded, const char *path, act_error *err);

/* Closes every library of the list. The registry whose activations they
   registered may be freed before or after: formula activations keep copies. */
void pl_unload(pl_library *loaded);

/* ---- native scalar activations (plugins/native.c) ---------------------- */

/* Builds, in reg's arena and pool, the activation `name` with the parameter
   list params (.act syntax) whose f is a call of the plugin's f(x, p1..pk)
   and whose df, when df is not NULL, a call of df(x, y, p1..pk); type is
   ACT_F32 or ACT_F64. Without df, act->df is NULL and df_error names the
   call. The functions must stay loaded as long as reg uses them. NULL with
   err on a parameter list that does not parse (its column in err->col) or
   out of memory. */
ir_activation *pl_native_scalar(ir_registry *reg, const char *path, const char *name,
                                const char *params, int type, act_fn f, act_fn df, act_error *err);

/* The same for native array functions: act->native holds fwd and bwd, f and
   df call them on one element (df only when bwd is not NULL). */
ir_activation *pl_native_array(ir_registry *reg, const char *path, const char *name,
                               const char *params, act_array_fwd fwd, act_array_bwd bwd,
                               act_error *err);

/* ---- staging (plugins/stage.c) ----------------------------------------- */

/* What one act_plugin_register call has registered so far. The plugin's
   act_registry * points at table, so the table functions recover the stage
   from it. Activations are built in the registry's arena and pool (unused
   there if the load fails) but reach the registry only through
   ir_registry_add of the whole list. */
typedef struct {
    act_registry table; /* first */
    ir_registry *reg;
    const char *path;     /* the plugin's, as given: the origin of its activations */
    ir_activation **acts; /* malloc'ed */
    int n, cap;
    act_error failed; /* the first failed registration; code 0 while none */
} pl_stage;

/* Fills the table and the fields; pl_stage_fini frees the list. */
void pl_stage_init(pl_stage *s, ir_registry *reg, const char *path);
void pl_stage_fini(pl_stage *s);

#endif
