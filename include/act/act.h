/* act.h -- the embedding API of act, a compiler for neural-network activation graphs.
 *
 * One header, C11: parse a .act file, compile one graph for an engine (the
 * double-precision reference interpreter, or the JIT), set inputs and params,
 * run forward and backward, read results. Every function that can fail takes
 * an act_error *err (may be NULL) and returns NULL or non-zero; a failed call
 * changes nothing the caller can observe. The library never prints, aborts or
 * exits. A context may be shared by threads once its plugins are loaded; a
 * program is used by one thread at a time.
 */
#ifndef ACT_ACT_H
#define ACT_ACT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(ACT_BUILDING) && defined(__GNUC__)
#define ACT_API __attribute__((visibility("default")))
#else
#define ACT_API
#endif

#define ACT_VERSION_MAJOR 0
#define ACT_VERSION_MINOR 1
#define ACT_VERSION_PATCH 0
#define ACT_VERSION_STRING "0.1.0"

typedef struct act_context act_context; /* activation registry, plugins, options, compile cache */
typedef struct act_program act_program; /* one graph, compiled for one engine, with its tensors */

typedef enum { ACT_ENGINE_JIT, ACT_ENGINE_INTERP } act_engine;

/* Error codes of act_error.code. */
enum {
    ACT_OK = 0,
    ACT_ERR_SYNTAX = 1,      /* lexical or grammatical error in .act text or a formula */
    ACT_ERR_NAME = 2,        /* unknown, redefined or undefined name */
    ACT_ERR_SHAPE = 3,       /* shape or type mismatch, unbound size name */
    ACT_ERR_ARG = 4,         /* wrong arity, unknown or bad named argument */
    ACT_ERR_IO = 5,          /* a file could not be read or written */
    ACT_ERR_NPY = 6,         /* a malformed or mismatched .npy file */
    ACT_ERR_GRAD = 7,        /* a derivative that cannot be formed */
    ACT_ERR_RUNTIME = 8,     /* run-time misuse: missing input, size disagreement */
    ACT_ERR_UNSUPPORTED = 9, /* valid request the chosen engine cannot do */
    ACT_ERR_PLUGIN = 10,     /* plugin loading or registration */
    ACT_ERR_NOMEM = 11       /* out of memory */
};

typedef struct {
    int code;          /* 0 = no error */
    char file[256];    /* source file or .npy path, "" when none */
    int line, col;     /* 1-based, 0 when not about a source position */
    char message[512]; /* "expected ..., found ..." */
} act_error;

/* Creates an empty context holding the built-in activations. Caller frees
   with act_context_free. NULL only when out of memory. */
ACT_API act_context *act_context_new(void);
/* Frees a context. Every program compiled from it must be freed first. */
ACT_API void act_context_free(act_context *ctx);

/* Loads a plugin shared library and registers its activations (PLUGIN.md). */
ACT_API int act_load_plugin(act_context *ctx, const char *path, act_error *err);

/* Parses, verifies and compiles one graph of a .act file (graph = NULL: the
   file's only graph). Caller frees the result with act_program_free. */
ACT_API act_program *act_compile_file(act_context *ctx, const char *path, const char *graph,
                                      act_engine engine, act_error *err);
/* The same for .act text in memory; name_for_errors is the file name used in
   error positions and to resolve npy("...") paths (relative to its folder). */
ACT_API act_program *act_compile_string(act_context *ctx, const char *source,
                                        const char *name_for_errors, const char *graph,
                                        act_engine engine, act_error *err);
ACT_API void act_program_free(act_program *prog);

/* Sets an input or a param: float32, C order, copied. The first input using a
   size name binds it; a later disagreement is an error. */
ACT_API int act_set(act_program *prog, const char *name, const float *data, const int64_t *shape,
                    int rank, act_error *err);

/* Computes every output, and the loss when the inputs it needs are set. */
ACT_API int act_forward(act_program *prog, act_error *err);
/* Forward, then the gradients d_<name> of every param and input: of the loss,
   or of the output gradients given by act_set_output_grad. With output
   gradients, outputs the last run computed from the current inputs and params
   are read, not computed again. */
ACT_API int act_backward(act_program *prog, act_error *err);

/* Without a loss: seeds the backward pass with dL/d(output). */
ACT_API int act_set_output_grad(act_program *prog, const char *output, const float *data,
                                const int64_t *shape, int rank, act_error *err);

/* Results: an output, the loss (rank 0), a param or input, or a gradient
   "d_<name>". The pointer is borrowed: valid until the next act_set,
   act_forward, act_backward, act_sgd_step or act_program_free. shape and rank
   may be NULL. */
ACT_API const float *act_get(act_program *prog, const char *name, int64_t shape[4], int *rank,
                             act_error *err);

/* act_backward, then p -= learning_rate * d_p for every param, in place.
   With a loss it computes the gradients of params only, as PyTorch leaves
   the data's alone: act_get of "d_<input>" afterwards is an error (call
   act_backward for those). */
ACT_API int act_sgd_step(act_program *prog, float learning_rate, act_error *err);

/* The most threads act_forward, act_backward and act_sgd_step use (n <= 0,
   the default: every CPU the process may run on). A JIT program splits its
   batch across them when its graph keeps rows apart and the work is large
   enough (docs/decisions.md); the interpreter runs on one. The threads are
   the program's, joined by act_program_free. */
ACT_API void act_set_threads(act_program *prog, int n);

/* Writes an object file and a C header declaring its entry points. */
ACT_API int act_emit_object(act_program *prog, const char *obj_path, const char *header_path,
                            act_error *err);

/* Introspection, used by actc and by applications that want to list what a
   program holds. kind: 0 input, 1 param, 2 output, 3 loss. Returns the number
   of such names; names[i] and shape strings (e.g. "f32[N, 784]") are borrowed
   from the program. */
ACT_API int act_program_names(act_program *prog, int kind, const char ***names);
ACT_API const char *act_program_type(act_program *prog, const char *name);

#ifdef __cplusplus
}
#endif
#endif
