/* plugin.h -- the whole API of an act activation plugin (PLUGIN.md).
 *
 * A plugin includes only this header, defines act_plugin_register and writes
 * ACT_PLUGIN_ABI; once at file scope, and is built with
 *     cc -shared -fPIC -I<prefix>/include myplugin.c -o myplugin.so
 * It links nothing of act: hosts may load libact with RTLD_LOCAL (or link it
 * statically into an executable that exports nothing), so a plugin cannot
 * count on resolving act's symbols when it is loaded. The registry handed to
 * act_plugin_register therefore starts with a table of functions filled by
 * the loader, and the act_register_* functions below are static inline
 * wrappers that call through it: the plugin's only undefined references are
 * to the C library.
 */
#ifndef ACT_PLUGIN_H
#define ACT_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define ACT_PLUGIN_EXPORT __attribute__((visibility("default")))
#else
#define ACT_PLUGIN_EXPORT
#endif

/* Bumped whenever act_registry's table or a registration's meaning changes;
   the loader refuses a plugin built with another version. */
#define ACT_PLUGIN_ABI_VERSION 1

/* Records the ABI version the plugin was built with, for the loader to check
   before calling anything. Write `ACT_PLUGIN_ABI;` once at file scope. */
#define ACT_PLUGIN_ABI                                                                             \
    ACT_PLUGIN_EXPORT extern const int act_plugin_abi_version;                                     \
    ACT_PLUGIN_EXPORT const int act_plugin_abi_version = ACT_PLUGIN_ABI_VERSION

/* A native function of any signature; ACT_FN(f) casts to it. */
typedef void (*act_fn)(void);
#define ACT_FN(f) ((act_fn)(f))

/* The scalar type of a native scalar function's arguments and result. */
#define ACT_F32 1 /* float */
#define ACT_F64 2 /* double */

/* Native array functions: y[i] = f(x[i]) and dx[i] = dy[i] * f'(x[i]) over
   n elements; params holds the activation's parameters in declaration order. */
typedef void (*act_array_fwd)(const float *x, float *y, int64_t n, const double *params);
typedef void (*act_array_bwd)(const float *x, const float *y, const float *dy, float *dx, int64_t n,
                              const double *params);

/* What act_plugin_register receives. Only the loader fills it and the
   wrappers below read it; the loader keeps its own state after this table,
   so a plugin never copies or allocates one. abi_version and size come first
   so that a later table can grow at its end. */
typedef struct act_registry act_registry;
struct act_registry {
    int abi_version; /* ACT_PLUGIN_ABI_VERSION of the loader */
    size_t size;     /* sizeof(act_registry) of the loader */
    int (*register_formula)(act_registry *reg, const char *name, const char *params,
                            const char *formula, const char *derivative);
    int (*register_scalar)(act_registry *reg, const char *name, const char *params, int type,
                           act_fn f, act_fn df);
    int (*register_array)(act_registry *reg, const char *name, const char *params,
                          act_array_fwd fwd, act_array_bwd bwd);
    const char *(*error)(const act_registry *reg);
};

/* Defined by the plugin: registers its activations and returns 0, or
   non-zero to refuse loading (nothing it registered is kept then). */
ACT_PLUGIN_EXPORT int act_plugin_register(act_registry *reg);

/* An activation given by formulas in the .act expression syntax, in x and the
   parameters ("a = 1, b = 0.5"; "" for none). derivative (in x, y = the
   forward output, and the parameters) may be NULL: it is then derived
   symbolically. A formula that does not parse, or whose derivative cannot be
   derived, is refused here with its position. Strings are copied. Returns 0
   or an error code (act_registry_error says why). */
static inline int act_register_formula(act_registry *reg, const char *name, const char *params,
                                       const char *formula, const char *derivative)
{
    return reg->register_formula(reg, name, params, formula, derivative);
}

/* An activation given by native scalar functions of type ACT_F32 or ACT_F64:
   f(x, p1..pk) and, optionally (NULL: none), df(x, y, p1..pk). */
static inline int act_register_scalar(act_registry *reg, const char *name, const char *params,
                                      int type, act_fn f, act_fn df)
{
    return reg->register_scalar(reg, name, params, type, f, df);
}

/* An activation given by native array functions; bwd may be NULL. */
static inline int act_register_array(act_registry *reg, const char *name, const char *params,
                                     act_array_fwd fwd, act_array_bwd bwd)
{
    return reg->register_array(reg, name, params, fwd, bwd);
}

/* Why a registration failed: the first that did ("" when none did), which
   the loader also reports. Borrowed from reg. Any failed registration fails
   the whole load, even when act_plugin_register then returns 0. */
static inline const char *act_registry_error(const act_registry *reg)
{
    return reg->error(reg);
}

#ifdef __cplusplus
}
#endif
#endif
