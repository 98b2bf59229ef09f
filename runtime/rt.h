/* rt.h -- the runtime of act.
 *
 * Owns: tensors, .npy reading and writing, the seeded counter-based random
 * generator and parameter initialisers, the reference interpreter (double
 * precision), programs (one verified graph bound to an engine, with its
 * tensors) and the public C API of act.h built on them.
 * Leaves to others: parsing and verifying (ir/), code generation (compiler/).
 *
 * The life of a program: rt_program_compile (ir_parse -> ir_verify ->
 * param initialisers), then act_set / act_forward / act_backward, which bind
 * size names, run the interpreter (or compiled code) and keep the results.
 */
#ifndef ACT_RT_H
#define ACT_RT_H

#include "../compiler/compile.h"
#include "../ir/ir.h"
#include "../plugins/pl.h"

/* GCC on glibc for x86-64: clones of a loop for the vector widths and the
   FMA the library's x86-64 baseline lacks, picked at load time (ifunc), and
   vectorised at -O2 too (GCC 12's -O2 cost model left such loops scalar).
   Contraction stays off (-std=c11), so every clone gives the same bits. */
#if defined(__x86_64__) && defined(__GLIBC__) && defined(__GNUC__) && !defined(__clang__) &&       \
    !defined(__SANITIZE_THREAD__) /* TSan instruments the ifunc resolver, which runs first */
#define VECTOR_CLONES                                                                              \
    __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default"),                   \
                   optimize("tree-vectorize", "vect-cost-model=dynamic")))
#else
#define VECTOR_CLONES
#endif

/* ---- .npy files (runtime/npy.c, npy_header.c) -------------------------- */

/* Reads a float32 C-order .npy file (format 1.0 or 2.0, rank 0 to 4). On
   success *data is malloc'ed (caller frees) with prod(shape) floats (1 for
   rank 0, never NULL), shape[0..rank) holds the dims and shape[rank..4) is
   set to 1. Errors (ACT_ERR_IO or ACT_ERR_NPY, ACT_ERR_NOMEM; err->file =
   path, line 0), leaving the outputs untouched: missing or unreadable file,
   not a .npy file, unsupported version, a malformed header (or one over
   numpy's 10000-byte limit), a dtype other than '<f4' (the message names the
   dtype), big-endian data, Fortran order, rank above 4, a shape too large
   for memory, truncated data, trailing bytes. Keeps no state: threads may
   call it at once. */
int rt_npy_read(const char *path, float **data, int64_t shape[IR_MAX_RANK], int *rank,
                act_error *err);

/* Writes a float32 C-order .npy file (format 1.0, the bytes numpy.save
   writes) whole or not at all: to a temporary file "<path>.<pid>.<n>.tmp"
   beside path, then renamed over it; on failure the temporary file is removed
   and an existing path is left as it was. Errors: ACT_ERR_IO (err->file =
   path) for a missing directory or a failed write, ACT_ERR_NPY for a rank
   outside 0 to 4 or a negative dim. Keeps no state: threads may call it at
   once (on different paths). */
int rt_npy_write(const char *path, const float *data, const int64_t *shape, int rank,
                 act_error *err);

/* Buffer sizes for the helpers below, which npy.c and npy_header.c share. */
enum {
    RT_NPY_SHAPE_TEXT = 128,                       /* "(d, d, d, d)" with 20-digit dims needs 91 */
    RT_NPY_QUOTE_BYTES = 32,                       /* of file bytes shown in a message */
    RT_NPY_QUOTE_TEXT = 4 * RT_NPY_QUOTE_BYTES + 8 /* every byte as \xNN, quotes and "..." */
};

/* Parses the header dict text[0..len) (no NUL needed) and checks it is what
   rt_npy_read accepts: '<f4', C order, rank 0 to 4, a size that fits memory.
   On success fills shape and *rank as rt_npy_read does; otherwise returns
   ACT_ERR_NPY (err->file = path) and leaves them untouched. Keeps no state. */
int rt_npy_parse_header(const char *text, size_t len, const char *path, int64_t shape[IR_MAX_RANK],
                        int *rank, act_error *err);

/* The element count of a shape, or -1 when its bytes would not fit size_t
   and int64_t. Zero dims count as one in the bound, so that no partial
   product of the dims overflows in code that later walks the shape. */
int64_t rt_npy_shape_count(const int64_t *shape, int rank);

/* Writes Python's repr of a shape tuple into buf, as numpy writes it: "()",
   "(5,)", "(2, 3)". */
void rt_npy_format_shape(char buf[RT_NPY_SHAPE_TEXT], const int64_t *shape, int rank);

/* Bytes of a file for a message, written into out and returned: in quotes,
   cut after RT_NPY_QUOTE_BYTES, bytes outside printable ASCII as \xNN, so
   that a damaged file cannot put control characters into the message. */
const char *rt_npy_quote(char out[RT_NPY_QUOTE_TEXT], const void *bytes, size_t len);

/* ---- seeded random numbers and initialisers (runtime/rng.c) ------------- */

/* Counter-based generator: the value for (seed, i) depends on nothing else,
   so every engine, thread split or order of filling gives the same bits. The
   exact algorithm is in docs/initialisers.md. Pure functions, thread-safe. */
uint64_t rt_rand_u64(uint64_t seed, uint64_t counter);
/* Uniform in [0, 1) with 53 random bits. */
double rt_rand_uniform(uint64_t seed, uint64_t counter);
/* Standard normal (Box-Muller on counters 2i and 2i+1). */
double rt_rand_normal(uint64_t seed, uint64_t i);

/* Fills out (prod(shape) floats) for an initialiser of a param of the given
   concrete shape: glorot takes fan_out = the last dim and fan_in = the
   product of the others (both n for rank 1). Element i (row-major) uses
   counter i. Values are computed in double and rounded to float once.
   IR_INIT_NPY and IR_INIT_NONE are not handled here; for IR_INIT_LIST the
   list length must equal prod(shape) (the verifier checks it). */
void rt_init_fill(const ir_init *init, const int64_t *shape, int rank, float *out);

#endif

/* ---- tensors and shapes (runtime/tensor.c) ------------------------------ */

/* A concrete tensor of the interpreter: doubles, C order. Rank 0 holds one
   element. */
typedef struct {
    double *data; /* the interpreter's: owned by the program; NULL until computed or set */
    float *f32;   /* the JIT engine's, likewise */
    int64_t shape[IR_MAX_RANK];
    int rank;
    int64_t n; /* number of elements */
} rt_tensor;

int64_t rt_count(const int64_t *shape, int rank);
/* Whether t holds data, in either engine's storage. */
bool rt_has_data(const rt_tensor *t);

/* Strides (in elements) of a tensor of shape in[0..in_rank) read as the
   broadcast shape out[0..out_rank) under numpy's trailing alignment: 0 on the
   dims where in has 1 or no dim. out_rank >= in_rank. */
void rt_broadcast_strides(const int64_t *in, int in_rank, const int64_t *out, int out_rank,
                          int64_t strides[IR_MAX_RANK]);

/* ---- interpreter (runtime/interp*.c) ----------------------------------- */

/* Computes value v of a verified graph into t[v->id] from its arguments'
   tensors, whose data are ready; t[v->id] has its shape set and data
   allocated (zeroed) by the caller. IR_INPUT, IR_PARAM and IR_SEED are the
   caller's. Double precision throughout. */
void rt_interp_value(const ir_value *v, rt_tensor *t);
/* The backward ops of rt_interp_value (runtime/interp_grad.c). */
void rt_interp_grad(const ir_value *v, rt_tensor *t);

/* Helpers shared by the forward and backward ops. */
void rt_broadcast2(const rt_tensor *out, const rt_tensor *a, const rt_tensor *b,
                   void (*fn)(void *ctx, int64_t o, int64_t ia, int64_t ib), void *ctx);
/* A tensor as rows of its last dim (a rank-0 tensor is one row of one). */
void rt_rows(const rt_tensor *t, int64_t *rows, int64_t *cols);
/* outer x len x inner around axis (negative counts from the end). */
void rt_axis_split(const rt_tensor *t, double axis, int64_t *outer, int64_t *len, int64_t *inner);
/* The negative-side slope of rrelu element i; attr = lower, upper, training, seed. */
double rt_rrelu_slope(const double *attr, int64_t i);
/* Index of the max of x[0..k): ties to the first, a NaN wins. */
int64_t rt_maxout_arg(const double *x, int64_t k);
/* max + log(sum(exp(z - max))) of one row. */
double rt_row_logsumexp(const double *z, int64_t c);

/* ---- threads (runtime/team.c, split.c, jit_split.c) --------------------- */

/* A team of worker threads kept for a program, so that a run hands work to
   threads that are already there (spinning for a while after each job, then
   asleep) instead of creating them. */
typedef struct rt_team rt_team;
/* A team of n - 1 workers (the caller is the n-th); NULL when a thread
   cannot be made (the caller then runs alone). */
rt_team *rt_team_new(int n);
int rt_team_size(const rt_team *t); /* n */
/* Whether the workers are threads of this process: not in a child forked
   after they were made, where the team must be dropped (rt_team_free then
   leaves it, as its lock may be held by a thread the child does not have). */
bool rt_team_here(const rt_team *t);
/* Calls fn(arg, i) for every i in [0, n), n <= rt_team_size: i = 0 on the
   calling thread, the others on workers; returns when every call returned.
   One thread at a time may run a team. */
void rt_team_run(rt_team *t, int n, void (*fn)(void *arg, int i), void *arg);
/* Stops and joins the workers. */
void rt_team_free(rt_team *t);
/* Where part i of n things cut into `parts` contiguous parts starts; the
   parts' sizes differ by one at most (the first ones are the larger). */
int64_t rt_part_start(int64_t n, int parts, int i);

/* Whether and how a graph's batch can be cut into contiguous chunks of rows
   that compiled code runs on at once (the rules are in docs/decisions.md):
   size is the size name S that leads every input that has a size name; NULL
   when the graph is not batch-separable. */
typedef struct {
    const char *size;
    double row_work;  /* estimated flops of one row in a forward pass */
    double min_work;  /* of one chunk: less is not worth a thread */
    int64_t min_rows; /* of one chunk */
} rt_split;

/* Decides from the forward values of a verified graph. */
rt_split rt_split_analyse(const ir_graph *g);
/* Whether v's leading dim is the split size (its other dims never are). */
bool rt_split_is_rowed(const rt_split *s, const ir_value *v);
/* The number of chunks to cut `rows` rows into: 1 when the graph is not
   separable or the work is too small; at most the program's threads (or
   every CPU this process may run on, when threads is 0). */
int rt_split_chunks(const act_program *p, int64_t rows);

/* The arguments of one call of an entry, bound to the program's buffers. */
typedef struct {
    const cc_entry *e;
    void *cif;      /* call_if of jit_run.c */
    void **ptrs;    /* per arg: its float pointer (NULL for a size) */
    int64_t *sizes; /* per arg: a size's value */
    int64_t *count; /* per arg: floats of the whole tensor */
    bool *rowed;    /* per arg: a tensor whose leading dim is the split size */
} rt_call;

/* A float buffer of n elements in *slot (zeroed when new), reused when it
   already has n (*have); NULL when out of memory. */
float *rt_jit_buffer(float **slot, int64_t n, int64_t *have);
/* n floats (at least one), uninitialised, 64-byte aligned so that a vector
   never straddles cache lines; free() releases them. NULL when out of
   memory. written: the caller writes them all now, so a large buffer gets
   its pages at once (jit_run.c). */
float *rt_floats(int64_t n, bool written);
/* Calls the entry on ptrs and sizes (one per arg of c->e; values has room
   for as many). The entry writes every element of its gradients. */
void rt_jit_invoke(const rt_call *c, void **values, void **ptrs, int64_t *sizes);
/* Runs the call as `chunks` calls on the program's team, each on a
   contiguous chunk of the `rows` rows of the split size, and combines what
   they share (the loss and the gradients of shared tensors): in the loss
   modes each chunk's results are means over its rows and weigh rows_i /
   rows, in CC_VJP and CC_VJP_SAVED they add up. Returns non-zero, having
   run nothing, when memory or threads cannot be had (the caller then runs
   the call whole). */
int rt_jit_split(act_program *p, cc_mode mode, const rt_call *c, int64_t rows, int chunks);

/* ---- contexts and programs (runtime/context.c, program.c, run.c) -------- */

/* The canonical text (ir_print) of the last sources compiled with the JIT,
   by their source text: the text keys the compile cache, and printing it
   again was a fifth of a compile-cache hit. ir_print reads nothing but what
   ir_parse made of the source, so equal sources give equal texts. */
typedef struct rt_texts rt_texts;
rt_texts *rt_texts_new(void);
void rt_texts_free(rt_texts *m);
/* A malloc'ed copy of the text kept for source, else NULL. */
char *rt_texts_find(rt_texts *m, const char *source);
/* Keeps text for source (nothing when out of memory, or source is large). */
void rt_texts_keep(rt_texts *m, const char *source, const char *text);

struct act_context {
    ir_registry *reg;    /* built-ins, then plugins */
    cc_cache *cache;     /* compiled entry points of every program of the context */
    pl_library *plugins; /* opened plugin libraries, closed with the context */
    rt_texts *texts;     /* canonical texts of recent sources */
};

/* Size names bound for one run: each from the first given input that uses
   it, in declaration order. */
typedef struct {
    const char *name[IR_MAX_RANK * 64];
    int64_t value[IR_MAX_RANK * 64];
    const ir_value *by[IR_MAX_RANK * 64];
    int n;
} rt_sizes;

/* The value of a size: a name, or "NAME/k" (maxout over a size name). */
bool rt_size_of(const rt_sizes *b, const char *sym, int64_t *out);
/* The concrete shape of a value into t (shape, rank, n); false when a size
   name is not bound. */
bool rt_resolve(const rt_sizes *b, const ir_value *v, rt_tensor *t);

/* A param's weights as the JIT's GEMM packs them (cc_packed), for n floats. */
typedef struct {
    cc_packed slot;
    int64_t n;
} rt_packed;

struct act_program {
    act_context *ctx;
    act_engine engine;
    ir_module *mod; /* owns the graph and its arena */
    ir_graph *g;
    const char *dir; /* folder of the .act file, for npy("...") paths */
    rt_tensor *t;    /* per value id; capacity cap */
    int cap;
    bool *given;           /* per forward value: an input or param holding data */
    float **seed;          /* per output: dL/d(output) given, or NULL */
    rt_tensor *seed_shape; /* per output: the shape seed[j] was given with */
    float **grad32;        /* JIT: per forward value id, its gradient after a backward run */
    int64_t *grad32_n;     /* JIT: the element count grad32[i] was allocated for */
    char *mod_text;        /* JIT: ir_print of mod, printed once for the cache's keys */
    const cc_entry *entry[CC_MODE_COUNT_]; /* JIT: from the context's cache */
    void *cif[CC_MODE_COUNT_];             /* JIT: libffi call interfaces of the entries */
    float **view;                          /* per value id: the float copy act_get lent out */
    float **grad_view;                     /* per forward value id: act_get of "d_<name>" */
    bool forward_done, backward_done, loss_done;
    bool vjp;           /* the backward mode of the last act_backward */
    bool params_only;   /* the last backward was act_sgd_step's on a loss: no d_<input> */
    bool outputs_kept;  /* JIT: the outputs are those of the current inputs and params, so
                           that a backward reads them (CC_VJP_SAVED) instead of recomputing */
    int threads;        /* act_set_threads: 0 for every CPU the process may run on */
    rt_split split;     /* how the JIT may split the batch across threads */
    rt_team *team;      /* JIT: worker threads, made at the first split run */
    float **scratch;    /* JIT: per chunk, the shared results of its call */
    int64_t *scratch_n; /* the element count scratch[i] was allocated for */
    int scratch_chunks; /* chunks scratch has room for */
    rt_packed *packed;  /* JIT: per forward value id, a param's packed weights, or NULL */
};
/* The data of value id (every param's for -1) changed: the JIT's kept
   outputs and that param's packed weights are stale. */
void rt_data_changed(act_program *p, int id);

/* Reads a whole text file into a malloc'ed, NUL-terminated buffer (caller
   frees); a NUL byte inside is an error. */
char *rt_read_file(const char *path, act_error *err);
/* Parses, verifies and prepares a program; initialises params whose shapes
   are literal (the rest at their first run). */
act_program *rt_program_compile(act_context *ctx, const char *source, const char *file,
                                const char *graph, act_engine engine, act_error *err);
/* Finds a forward value by name (input, param, computed, output, loss). */
ir_value *rt_program_value(const act_program *p, const char *name);
/* Drops every lent act_get view (results change). */
void rt_program_invalidate(act_program *p);
/* Initialises the params that are neither given nor initialised yet and
   whose sizes are known; loads npy(...) files. */
int rt_params_init(act_program *p, act_error *err);
/* Fills t (its shape resolved, data not yet allocated) from v's
   initialiser: seeded values, an inline list, or an npy("...") file whose
   problems are reported at the npy(...) in the .act file, naming the file. */
int rt_param_load(const act_program *p, const ir_value *v, rt_tensor *t, act_error *err);
/* What a run computes: outputs (and the loss when its inputs are given),
   then with RT_BACKWARD the gradients of every input and param, with RT_SGD
   those act_sgd_step needs (with a loss, the JIT computes the params'
   only). */
typedef enum { RT_FORWARD, RT_BACKWARD, RT_SGD } rt_pass;
/* Runs the program: binds size names from the given inputs, and computes
   what pass asks on the interpreter, or through rt_jit_run. */
int rt_run(act_program *p, rt_pass pass, act_error *err);
/* The JIT engine's run (runtime/jit_run.c): the entry point of the mode,
   compiled on first use, called through libffi with the program's buffers. */
int rt_jit_run(act_program *p, const rt_sizes *b, rt_pass pass, act_error *err);
/* Compiles the entry of a mode now (the forward entry is compiled with the
   program, so that a JIT program that compiled runs). */
int rt_jit_prepare(act_program *p, cc_mode mode, act_error *err);
void rt_jit_free(act_program *p);
/* Whether every input or param v needs is given. */
bool rt_inputs_ready(const act_program *p, const ir_value *v);
/* Differentiates the graph in the mode the given seeds ask for. */
int rt_differentiate(act_program *p, act_error *err);
/* Fills err naming the first input or param that v needs and that is not
   given; returns ACT_ERR_RUNTIME. */
int rt_run_missing_input(const act_program *p, const ir_value *v, act_error *err);
