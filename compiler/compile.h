/* compile.h -- what the compiler offers the runtime, without LLVM types
   (only compiler/ includes LLVM headers; runtime/ includes this).
 *
 * A compiled entry point has a typed C signature: its arguments are float
 * pointers (inputs and params read, seeds read, outputs, the loss and
 * gradients written) and int64 sizes, in the order of `args`. Intermediate
 * tensors are allocated and freed inside it. */
#ifndef ACT_COMPILE_H
#define ACT_COMPILE_H

#include "../ir/ir.h"

typedef enum {
    CC_FORWARD,         /* every output */
    CC_FORWARD_LOSS,    /* every output and the loss */
    CC_BACKWARD,        /* outputs, loss, and d_<name> of the loss for every input and param */
    CC_VJP,             /* outputs, and d_<name> from the output gradients (seeds) */
    CC_BACKWARD_PARAMS, /* as CC_BACKWARD, d_<name> for the params only (act_sgd_step) */
    CC_VJP_SAVED,       /* as CC_VJP, with the outputs read (kept from the last run) */
    CC_MODE_COUNT_
} cc_mode;

/* The mode's name in entry symbols and cache keys: "forward", "vjp", ... */
const char *cc_mode_name(cc_mode mode);

typedef enum {
    CC_ARG_VALUE, /* const float *: an input or param (or CC_VJP_SAVED's outputs);
                     float *: an output or the loss */
    CC_ARG_GRAD,  /* float *: the gradient of forward value `id` */
    CC_ARG_SEED,  /* const float *: the gradient given for output number `id` */
    CC_ARG_SIZE,  /* int64_t: the size name `size` */
    CC_ARG_PACKED /* cc_packed *: param `id` packed for dense's product, or NULL (JIT only) */
} cc_arg_kind;

typedef struct {
    cc_arg_kind kind;
    int id;           /* value id (VALUE, GRAD) or output index (SEED) */
    const char *size; /* CC_ARG_SIZE */
    bool written;
} cc_arg;

/* A dense layer's weights as the GEMM reads them (compiler/gemm.c), kept by
   the runtime across forward calls (a training step would repack them): an
   entry that packs the param finds ready 1 and reads the panels, or packs
   them there and sets ready; the runtime sets ready to 0 when the param
   changes. oneDNN's prepacked weights, without the application packing
   them. */
typedef struct {
    float *panels; /* cc_packed_floats(K, N) floats for a [K, N] param */
    int64_t ready;
} cc_packed;
int64_t cc_packed_floats(int64_t k, int64_t n);

typedef struct {
    void (*fn)(void); /* call through libffi with args */
    const char *name; /* the symbol, e.g. "xor_forward" (AOT) */
    int nargs;
    cc_arg *args;
    double compile_ms; /* of the first compilation */
    bool from_disk;    /* loaded from ACT_CACHE_DIR rather than compiled */
    bool mapped;       /* from disk and linked by act itself (objload.c), not LLJIT */
} cc_entry;

/* The compile cache of a context: compiled entry points, keyed by the
   canonical text of the module, the graph, the mode and the target. Safe to
   use from several threads. When the environment variable ACT_CACHE_DIR
   names a folder, entries are also kept there for other processes. */
typedef struct cc_cache cc_cache;
cc_cache *cc_cache_new(void);
void cc_cache_free(cc_cache *c);

/* The entry point for mode of a verified graph of the module whose
   ir_print is module_text (for the modes with gradients: differentiated by
   ir_autodiff, for the loss or the output gradients), compiled for the host
   or found in the cache (the text, the graph's name and the mode are its
   key). *hit tells which (may be NULL). Owned by the cache. */
const cc_entry *cc_compile(cc_cache *cache, const char *module_text, const ir_graph *g,
                           cc_mode mode, bool *hit, act_error *err);

/* Ahead-of-time output of one verified graph: LLVM IR text, assembly or an
   object file, for the host or the given cpu/features, and optionally a C11
   header declaring its entry points <graph>_forward (every output), and when
   the graph has a loss <graph>_forward_loss and <graph>_backward, else
   <graph>_vjp. The graph is differentiated here as each entry needs. Files
   are written whole or not at all. */
typedef enum { CC_EMIT_LLVM, CC_EMIT_ASM, CC_EMIT_OBJ } cc_emit_kind;
int cc_emit(ir_module *m, ir_graph *g, cc_emit_kind kind, const char *path, const char *header,
            const char *cpu, const char *features, act_error *err);

#endif
