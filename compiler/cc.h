/* cc.h -- the compiler of act: verified graphs to native code with LLVM.
 *
 * Owns: target setup (host CPU and features, or those given for AOT), the
 * lowering of a verified graph -- forward, loss and backward -- to LLVM IR
 * with explicit vectors of the target's width, our own vector math, the
 * optimisation pipeline, ORC LLJIT, ahead-of-time output, and the compile
 * cache of a context (in memory, and on disk: objects read back are mapped
 * by act's own loader). The only module that includes LLVM headers.
 * Leaves to others: parsing, verifying and autodiff (ir/), tensors, .npy,
 * calling entry points through libffi (runtime/).
 *
 * Passes, in order (cc_compile calls them):
 *   cc_target_init -> cc_plan (which values are fused, which are stored)
 *   -> cc_lower (one LLVM function per entry point) -> cc_optimize
 *   -> LLJIT (or cc_emit_file for AOT); a disk cache hit skips to
 *   cc_image_load.
 *
 * Numerics: every activation formula is evaluated in double-precision
 * vectors and rounded to float once, so its float result is within 1 ULP
 * of the exact value wherever the double formula is accurate to ~1e-12
 * (see docs/accuracy.md). On AVX-512 and AVX2 with FMA the common
 * built-ins and softmax run
 * in float lanes instead, with pairs of floats where a step must not
 * round, to the same 1 ULP (compiler/act_f32.c, compiler/vmath_f32.c). Plain
 * float arithmetic (dense, add, mul, scale) stays in float.
 */
#ifndef ACT_CC_H
#define ACT_CC_H

#include "../ir/ir.h"
#include "compile.h"

#include <llvm-c/Core.h>
#include <llvm-c/TargetMachine.h>

/* The IR building state of one module. Vector values have `width` lanes;
   the scalar types are also used for lane-wise constants. */
typedef struct {
    LLVMContextRef ctx;
    LLVMModuleRef mod;
    LLVMBuilderRef b;
    unsigned width;        /* float lanes per vector: 16 with AVX-512, 8 with AVX2, 4 otherwise */
    unsigned isa_width;    /* the target's: width is twice it where a kernel's vectors are
                              two of the target's, interleaved (cc_interleaved_width), and
                              smaller where a kernel is narrowed (lower_rows.c) */
    bool fma;              /* the target has fused multiply-add */
    bool jit;              /* for the JIT (memory from its pool), not ahead of time */
    bool gradients;        /* the module computes derivatives: share exp between sigmoids */
    const char *gemm;      /* the library's GEMM the module calls (cc_gemm_library), or NULL */
    const char *kernels;   /* the library's other kernels it calls (the same variant's), or NULL */
    const char *epilogues; /* and its activation epilogues, or NULL */
    bool scalar_loops;     /* it holds loops of scalars, left to LLVM to vectorise */
    struct cc_once *once;  /* the body of cc_vector_loop_once being built, or NULL */
    LLVMTypeRef f32, f64, i1, i32, i64, ptr;
    LLVMTypeRef vf32, vf64, vi1, vi32, vi64; /* <width x T> */
} cc_ctx;

/* ---- target (compiler/target.c) ---------------------------------------- */

/* A CPU to compile for: the host's by default. The feature flags, not the
   CPU name, decide the vector width and FMA (LLVM 14 calls a Zen 4
   "znver3"). */
typedef struct {
    char *triple, *cpu, *features; /* malloc'ed */
    unsigned width;                /* float lanes: 16 (AVX-512), 8 (AVX2), 4 */
    bool fma;
    LLVMTargetMachineRef tm; /* NULL until cc_target_machine */
} cc_target;

/* The host, or cpu/features when not NULL (AOT for another machine; a cpu
   without features: no feature beyond the baseline decides the kernels):
   cc_target_describe fills all but tm, which cc_target_machine makes when
   code is to be generated (it sets up LLVM's targets); cc_target_init does
   both. */
int cc_target_init(cc_target *t, const char *cpu, const char *features, act_error *err);
int cc_target_describe(cc_target *t, const char *cpu, const char *features, act_error *err);
int cc_target_machine(cc_target *t, act_error *err);
void cc_target_fini(cc_target *t);
/* The float lanes and FMA of a feature list ("+avx512f,+fma,..."). */
void cc_features_isa(const char *features, unsigned *width, bool *fma);
/* Whether t has every feature of a list "+f1,+f2,...". */
bool cc_target_has_all(const cc_target *t, const char *features);

/* Starts a module in ctx for target t (the builder and types of c). */
void cc_ctx_init(cc_ctx *c, LLVMContextRef ctx, const cc_target *t, const char *name);
/* Disposes the builder; the module goes to whoever takes it. */
void cc_ctx_fini(cc_ctx *c);
/* The vector types of c for `width` lanes: the target's width, or fewer
   in a copy of c for a kernel whose rows are known to be short. */
void cc_ctx_set_width(cc_ctx *c, unsigned width);

/* How far cc_optimize goes. CC_OPT_FULL is LLVM's O2, which also
   vectorises loops of scalars (compiler/lower_indexed.c);
   CC_OPT_KERNELS is what kernels written in vectors need (SSA form,
   redundancies, constants and invariants out of loops) in a quarter of
   O2's time, for the JIT's first compile (docs/decisions.md). */
typedef enum { CC_OPT_FULL, CC_OPT_KERNELS } cc_opt;

/* Verifies and optimises a module for t with the new pass manager,
   function attributes set so that the target's full vector width is used. */
int cc_optimize(LLVMModuleRef mod, const cc_target *t, cc_opt level, act_error *err);

/* ---- JIT (compiler/jit.c) ----------------------------------------------- */

/* One JIT: LLJIT (made when first needed) and the objects act mapped
   itself; compiled code stays loaded until cc_jit_free. */
typedef struct cc_jit cc_jit;
cc_jit *cc_jit_new(act_error *err);
void cc_jit_free(cc_jit *j);
/* A fresh LLVM context owned by the JIT's thread-safe context, for building
   the next module to add. */
LLVMContextRef cc_jit_context(cc_jit *j);
/* Optimises mod for t (as far as level) and compiles it to an object file
   in memory; mod is disposed (also on failure). The caller frees *obj
   (free). */
int cc_codegen(LLVMModuleRef mod, const cc_target *t, cc_opt level, char **obj, size_t *size,
               act_error *err);
/* Adds an object file (copied) to the JIT: linked by LLJIT when mapped is
   NULL; else mapped by act itself if objload.c takes it (an object that
   cc_codegen wrote, read back from disk), and *mapped says whether it did. */
int cc_jit_add_object(cc_jit *j, const char *obj, size_t size, bool *mapped, act_error *err);
/* The address of a function added before, or NULL with err set. */
void *cc_jit_lookup(cc_jit *j, const char *name, act_error *err);

/* ---- object files mapped by act (compiler/objload.c) ------------------- */

/* Code and read-only data of one object file, mapped until cc_image_free. */
typedef struct cc_image cc_image;
/* The address of an undefined symbol the object names, or NULL. */
typedef const void *(*cc_resolve_fn)(void *arg, const char *name);
/* Maps and relocates an object file cc_codegen wrote for this x86-64 host
   (obj is copied); NULL when it holds anything else or anything is amiss
   (then LLJIT links it). Not thread-safe for one image. */
cc_image *cc_image_load(const char *obj, size_t size, cc_resolve_fn resolve, void *arg);
/* The address of a global symbol the object defines, or NULL. */
void *cc_image_symbol(const cc_image *im, const char *name);
void cc_image_free(cc_image *im);

/* Whether v calls a plugin's native function (forward or derivative): its
   address belongs to this process, so the code cannot be kept in an object
   file for another (compiler/lower_expr.c). */
bool cc_value_calls_native(const ir_value *v);

/* ---- memory of JIT-compiled code (compiler/pool.c) ---------------------- */

/* Generated code running in the JIT takes intermediates from its JIT's pool
   (symbols act_jit_pool, act_jit_take, act_jit_give, defined in each JIT);
   ahead-of-time code calls malloc and free. */
typedef struct cc_pool cc_pool;
cc_pool *cc_pool_new(void);
void cc_pool_free(cc_pool *p);
void *cc_pool_take(cc_pool *p, int64_t bytes); /* NULL when out of memory */
void cc_pool_give(cc_pool *p, void *data);

/* ---- the on-disk cache (compiler/disk_cache.c) -------------------------- */

/* The whole key of an entry on disk (key + LLVM, target, act build), and in
   name the entry's symbol, "act_" and 32 hex digits of its hash. Caller frees. */
char *cc_disk_key(const char *key, const cc_target *t, char name[40]);
/* The object code stored under full_key, or NULL (no cache, absent, stale or
   damaged). Caller frees. */
char *cc_disk_load(const char *full_key, const char *name, size_t *size);
/* Stores it, whole or not at all; failures are silent (a later miss). */
void cc_disk_store(const char *full_key, const char *name, const char *obj, size_t size);

/* ---- vector math (compiler/vmath*.c) ------------------------------------
   Each emits branch-free IR computing the function lane-wise on x, a value
   of type c->vf64 or c->f64 (the types of constants follow x), and returns
   the result. Accuracy: relative error below 1e-13 over the whole double
   range that float inputs and our formulas reach (documented per function in
   docs/accuracy.md), special values exact: NaN -> NaN, the limits at +-inf,
   +-0 kept where the function is odd, overflow to +-inf and underflow to 0
   at the right thresholds. */
LLVMValueRef cc_vm_exp(cc_ctx *c, LLVMValueRef x);
/* exp for x <= 709 or NaN, relative error below 1.2e-10: plenty for a result
   rounded to float (0.002 ULP) or summed in double; exactly 1 at 0, 0 below
   -708 (where e^x is far below float's range), NaN for NaN. The row
   kernels' exp. */
LLVMValueRef cc_vm_exp_f32(cc_ctx *c, LLVMValueRef x);
LLVMValueRef cc_vm_expm1(cc_ctx *c, LLVMValueRef x);
LLVMValueRef cc_vm_log(cc_ctx *c, LLVMValueRef x);
LLVMValueRef cc_vm_log1p(cc_ctx *c, LLVMValueRef x);
LLVMValueRef cc_vm_tanh(cc_ctx *c, LLVMValueRef x);
LLVMValueRef cc_vm_sigmoid(cc_ctx *c, LLVMValueRef x);
/* sigmoid in two steps, e = exp(-|x|) then e or 1 over 1 + e: sigmoid(x)
   and sigmoid(-x) (a derivative) then share one exp. */
LLVMValueRef cc_vm_sigmoid_exp_arg(cc_ctx *c, LLVMValueRef x);
LLVMValueRef cc_vm_sigmoid_of(cc_ctx *c, LLVMValueRef x, LLVMValueRef e);
LLVMValueRef cc_vm_erf(cc_ctx *c, LLVMValueRef x);
LLVMValueRef cc_vm_erfc(cc_ctx *c, LLVMValueRef x);

/* a - b = hi + *lo exactly, lane by lane, in float or double (Knuth's
   TwoSum, 6 additions): hi is the rounded difference. */
LLVMValueRef cc_vm_two_diff(cc_ctx *c, LLVMValueRef a, LLVMValueRef b, LLVMValueRef *lo);
/* 2^64 e^(hi + lo) in float lanes (c->vf32) as the pair of its return value
   and *rest, for hi + lo <= 0, |lo| <= ulp(hi)/2: the sum of the two within
   1e-8 relative of the exact value, the first a normal float (the scaling
   keeps it so down to e^-131), both 0 below lowest (at least -131; -104
   for the e^x that round to 0 in float), *rest NaN for NaN
   (compiler/vmath_f32.c). Needs a 16-lane float permute and FMA: only
   where cc_vm_has_expf_pair (x86 with AVX-512, or AVX2 and FMA). */
LLVMValueRef cc_vm_expf_pair(cc_ctx *c, LLVMValueRef hi, LLVMValueRef lo, float lowest,
                             LLVMValueRef *rest);
bool cc_vm_has_expf_pair(const cc_ctx *c);
/* 2^64 e^(x + lo) in float lanes (lo NULL: 0; else |lo| <= ulp(x)/2), for
   x <= 0: one float within 1 ULP, a normal float down to e^-131, and in
   *rest (unless NULL) its rounding error, so that the two are a
   normalised pair within 4e-8 relative; both 0 below lowest (at least
   -131), NaN for NaN. No table: about 16 instructions where
   cc_vm_expf_pair costs 30 on AVX2. Where cc_vm_has_expf_pair. */
LLVMValueRef cc_vm_expf_scaled(cc_ctx *c, LLVMValueRef x, LLVMValueRef lo, float lowest,
                               LLVMValueRef *rest);
/* a + b = the return value + *lo exactly, lane by lane (Fast2Sum, 3
   additions), when a's exponent is at least b's (or either sum is exact). */
LLVMValueRef cc_vm_fast_sum(cc_ctx *c, LLVMValueRef a, LLVMValueRef b, LLVMValueRef *lo);
/* The i32 v splatted to <width x i32>. */
LLVMValueRef cc_vm_i32(cc_ctx *c, unsigned v);
/* t[idx & 15] lane by lane (vpermps), idx <width x i32>; where
   cc_vm_has_expf_pair. */
LLVMValueRef cc_vm_lookup16(cc_ctx *c, const float *t, LLVMValueRef idx);
/* t[idx & 7] lane by lane (one vpermps), in 8 lanes only. */
LLVMValueRef cc_vm_lookup8(cc_ctx *c, const float *t, LLVMValueRef idx);
/* The intrinsic `name` of type fty (on vectors of isa_width lanes) on
   args, whose args[at] has width lanes: one call, or where width is twice
   isa_width (cc_interleaved_width) one on each half, joined. */
LLVMValueRef cc_vm_isa_call(cc_ctx *c, const char *name, LLVMTypeRef fty, LLVMValueRef *args,
                            unsigned nargs, unsigned at);
/* e^x - 1 for x <= 0 in float lanes as the pair of its return value and
   *lo (their sum within ~0.6 ULP of float, x itself for tiny x, but -0
   gives +0), -1 below -87, NaN for NaN. No table. Where
   cc_vm_has_expf_pair. */
LLVMValueRef cc_vm_expm1f_neg(cc_ctx *c, LLVMValueRef x, LLVMValueRef *lo);

/* ---- activations in float lanes (compiler/act_f32.c) --------------------
   The common built-ins (sigmoid, tanh, silu, swish, elu, selu, relu, gelu
   in both forms, softplus with beta 1, mish) straight on float lanes, with
   pairs of floats where a step must not round, within 1 ULP
   (docs/accuracy.md). NULL when activation a has no such kernel or the
   target lacks cc_vm_has_expf_pair: the caller then evaluates the formula
   in double. */
LLVMValueRef cc_act_f32(cc_ctx *c, const ir_activation *a, const double *params, LLVMValueRef x);
/* f'(x) dy, the same way; NULL likewise. The derivatives of the logistic
   family and of mish build the same exp as their forward, which LLVM
   computes once in a pass that has both (tanh's and elu's forwards take
   expm1, and such a pass makes two). */
LLVMValueRef cc_act_grad_f32(cc_ctx *c, const ir_activation *a, const double *params,
                             LLVMValueRef x, LLVMValueRef dy);
/* a's row in the table of those kernels (for the target of c), or -1; the
   name of row i, or NULL past the last. */
int cc_act_f32_index(cc_ctx *c, const ir_activation *a);
const char *cc_act_f32_name(int i);

/* Lane-wise helpers shared by vector math and lowering. */
/* x limited to [lo, hi] by ordered compares, so that NaN passes through. */
LLVMValueRef cc_vm_clamp(cc_ctx *c, LLVMValueRef x, double lo, double hi);
LLVMValueRef cc_const(cc_ctx *c, LLVMTypeRef like, double v); /* splat when like is a vector */
LLVMValueRef cc_fma(cc_ctx *c, LLVMValueRef a, LLVMValueRef b, LLVMValueRef d); /* a*b + d */
LLVMValueRef cc_select(cc_ctx *c, LLVMValueRef cond, LLVMValueRef a, LLVMValueRef b);
/* coef[0] + x*(coef[1] + x*(...)), with FMA where present: by Horner's
   rule in float lanes, whose kernels run two vectors side by side and are
   bound by their instructions; by Estrin's scheme for 7 to CC_POLY_MAX
   coefficients in double lanes, whose formulas wait on the latency of
   their chains (softclip 1.08x in interleaved runs). */
enum { CC_POLY_MAX = 16 };
LLVMValueRef cc_poly(cc_ctx *c, LLVMValueRef x, const double *coef, int n);
/* A call to an LLVM intrinsic overloaded on the type of args[0]. */
LLVMValueRef cc_intrinsic(cc_ctx *c, const char *name, LLVMValueRef *args, int n);

/* ---- loops and memory (compiler/loop.c) --------------------------------- */

/* for (i = start; i < end; i += step): cc_loop_begin leaves the builder in
   the body with l->i; cc_loop_end closes it and continues after the loop. */
typedef struct {
    LLVMBasicBlockRef head, exit;
    LLVMValueRef i, step;
} cc_loop;
void cc_loop_begin(cc_ctx *c, cc_loop *l, LLVMValueRef start, LLVMValueRef end, LLVMValueRef step);
void cc_loop_end(cc_ctx *c, cc_loop *l);
/* Continues in a block that runs only when cond and returns the block
   after it, where the code runs on (or an else branch starts, positioned
   at it by hand); cc_end_if branches there and continues in it. */
LLVMBasicBlockRef cc_if_then(cc_ctx *c, LLVMValueRef cond);
void cc_end_if(cc_ctx *c, LLVMBasicBlockRef join);

LLVMValueRef cc_i64(cc_ctx *c, int64_t v);
/* n / d (or n % d when rem), 0 when d is 0: a size name may be bound to 0,
   and the interpreter then computes nothing rather than trapping. */
LLVMValueRef cc_div0(cc_ctx *c, LLVMValueRef n, LLVMValueRef d, bool rem);
/* Lanes i + k < n of a vector starting at index i. Every mask of a load
   or store is one of these (or none of the lanes): its first lanes. */
LLVMValueRef cc_mask(cc_ctx *c, LLVMValueRef i, LLVMValueRef n);
/* <width x float> at base[i..], masked (NULL: all lanes). */
LLVMValueRef cc_load(cc_ctx *c, LLVMValueRef base, LLVMValueRef i, LLVMValueRef mask);
void cc_store(cc_ctx *c, LLVMValueRef v, LLVMValueRef base, LLVMValueRef i, LLVMValueRef mask);
/* A whole vector stored past the caches (no read for ownership); base + i
   must be aligned to the vector's size. */
void cc_store_nt(cc_ctx *c, LLVMValueRef v, LLVMValueRef base, LLVMValueRef i);
/* An alloca in the entry block of the function being built, where SROA
   turns it into registers. */
LLVMValueRef cc_entry_alloca(cc_ctx *c, LLVMTypeRef t);
/* A hint to bring the cache line of base[i] close, for reading or for
   writing (no effect on results; no fault for any address). */
void cc_prefetch(cc_ctx *c, LLVMValueRef base, LLVMValueRef i, bool write);
/* One float of base[i], and its store. */
LLVMValueRef cc_load1(cc_ctx *c, LLVMValueRef base, LLVMValueRef i);
void cc_store1(cc_ctx *c, LLVMValueRef v, LLVMValueRef base, LLVMValueRef i);
/* Zeros n floats at dst, or copies n floats from src to dst (memset,
   memmove: expanded inline by LLVM when short); nothing for n <= 0. */
void cc_zero_floats(cc_ctx *c, LLVMValueRef dst, LLVMValueRef n);
void cc_move_floats(cc_ctx *c, LLVMValueRef dst, LLVMValueRef src, LLVMValueRef n);
LLVMValueRef cc_splat(cc_ctx *c, LLVMValueRef scalar);
/* The lane indices 0, 1, ..., width-1 as <width x i64>. */
LLVMValueRef cc_lanes(cc_ctx *c);
/* for (i = 0; i < n; i += width): body(arg, i, NULL) while a whole vector
   fits, then once body(arg, i, mask of the lanes below n) when n is not a
   multiple of the width. */
typedef void (*cc_lanes_fn)(void *arg, LLVMValueRef i, LLVMValueRef mask);
void cc_vector_loop(cc_ctx *c, LLVMValueRef n, cc_lanes_fn body, void *arg);
/* The same loop with the body built once: the last, partial vector runs
   through it too, on copies of its lanes in vectors on the stack. body
   gets the lanes below n as its mask (all of them but in that last pass);
   cc_load and cc_store with that mask at that i are whole vectors, read
   from and written to the copies in the last pass. A body of vector math
   is then built and compiled once instead of twice (code generation is
   most of a first compile). For elementwise kernels and losses: bodies
   whose arrays are read and written only at i, and set up before the
   loop; other accesses stay masked. A length known to be one vector at
   most is one pass of the body, masked when short, and no loop. */
void cc_vector_loop_once(cc_ctx *c, LLVMValueRef n, cc_lanes_fn body, void *arg);
/* The lanes of a kernel whose vectors are interleaved: two of the target's
   with AVX2 at its full width (see loop.c), else c->width. */
unsigned cc_interleaved_width(const cc_ctx *c);
/* cc_vector_loop_once in cc_interleaved_width's lanes: the body sees
   c->width lanes, and builds every vector value it uses (those built
   before have the target's width). */
void cc_vector_loop_interleaved(cc_ctx *c, LLVMValueRef n, cc_lanes_fn body, void *arg);
/* Whether loads and stores with mask are of whole vectors: mask is NULL,
   or that of a cc_vector_loop_once body (cc_store_nt is then allowed). */
bool cc_whole_lanes(cc_ctx *c, LLVMValueRef mask);
/* op over the lanes of v, pairwise (halves combined until one lane is
   left), as a scalar. */
typedef LLVMValueRef (*cc_combine_fn)(cc_ctx *c, LLVMValueRef a, LLVMValueRef b);
LLVMValueRef cc_reduce(cc_ctx *c, LLVMValueRef v, cc_combine_fn op);

/* ---- lowering a graph (compiler/lower*.c) ------------------------------- */

/* The state of lowering one entry point. */
typedef struct {
    cc_ctx *c;
    const ir_graph *g;
    LLVMValueRef fn;
    LLVMValueRef *buf;    /* per value id: its float* in this function, or NULL */
    bool *need;           /* per value id: computed by this entry */
    bool *kept;           /* per value id: an output kept from the last run, read (CC_VJP_SAVED) */
    LLVMValueRef *packed; /* per value id: the cc_packed * of a param (dense's weights), or NULL */
    int *uses;            /* per value id: readers among needed values, +1 if a target */
    int *from;            /* per value id: the index of the argument in whose kernel it is
                             computed (fused), or -1 */
    int *at;              /* per value id: the id of the value its kernel is lowered at */
    int *lead;            /* per value id: the value whose kernel computes it (a loss and its
                             gradients share one: cc_loss_members), its own id otherwise */
    LLVMValueRef *lanes;  /* per value id: its float lanes in the vector being made, or NULL */
    bool *stored;         /* per value id: written to memory */
    LLVMValueRef *twin;   /* per value id: a second argument it is the result of (x's and b's
                             gradients of add(x, b)), or NULL; cc_lower_chain stores it there too
                             and sets twin_stored, else the entry copies it at the end */
    bool *twin_stored;
    LLVMValueRef nt;      /* i1: whole vectors stored past the caches (cc_lower_chain), or NULL */
    LLVMValueRef *owned;  /* per value id: memory of the entry's own (an intermediate) */
    const char **sizes;   /* size names, in argument order */
    LLVMValueRef *size_v; /* their values */
    int nsizes;
    LLVMValueRef malloc_fn, free_fn, pool; /* see cc_mem_take */
    LLVMTypeRef malloc_ty, free_ty;
} cc_lower;

/* Memory for intermediates, raw i8* (n bytes), and its release: from the
   JIT's pool, or malloc and free ahead of time. */
LLVMValueRef cc_mem_take(cc_lower *l, LLVMValueRef bytes);
void cc_mem_give(cc_lower *l, LLVMValueRef raw);
/* Declares the pool's take(pool, bytes) and give(pool, raw) under these
   names for cc_mem_take and cc_mem_give (l->pool is set apart). */
void cc_declare_pool(cc_lower *l, const char *take_name, const char *give_name);

/* Whether u is computed in the kernel that makes v (fused, from v's lanes):
   x's kernel for an activation, dy's for f'·dy, or y's when the gradient
   is made with its forward. */
bool cc_is_fused_into(const cc_lower *l, const ir_value *u, const ir_value *v);
/* The loss op v belongs to (IR_SCE, IR_BCE, IR_MSE): v's own, or the one
   it is a gradient of. */
ir_op cc_loss_op(const ir_value *v);
/* The loss and gradients of one loss computed in v's kernel: the loss
   (m[0]), the gradients of its first (m[1]) and second (m[2]) argument, each
   NULL when another kernel or none computes it. */
void cc_loss_members(const cc_lower *l, const ir_value *v, const ir_value *m[3]);
/* Dims and element count of a value, as i64 values of this function. */
void cc_dims(cc_lower *l, const ir_value *v, LLVMValueRef dims[IR_MAX_RANK]);
LLVMValueRef cc_numel(cc_lower *l, const ir_value *v);
/* Activation a's formula on float lanes x, f(x) (dy NULL) or f'(x, y)·dy:
   its expression tree in double lanes, rounded to float once, as the
   interpreter computes it; x or y NULL where the derivative does not read
   them. Its params are the call's constants, or values known at run time
   where at is not NULL (the library's epilogues, compiler/lower_gemm.c; a
   built-in's, never a native call's). A native call (plugins) is a direct
   call to its address, lane by lane. NULL when out of memory. */
LLVMValueRef cc_act_formula(cc_ctx *c, const ir_activation *a, LLVMValueRef x, LLVMValueRef y,
                            LLVMValueRef dy, const double *params, const LLVMValueRef *at);
/* The signature of an entry (malloc'ed): inputs and params, seeds, outputs,
   the loss, gradients, sizes. */
cc_arg *cc_signature(const ir_graph *g, cc_mode mode, bool jit, int *nargs);
/* Builds function `name` in c->mod computing the targets of args. */
int cc_lower_entry(cc_ctx *c, const ir_graph *g, const char *name, const cc_arg *args, int nargs,
                   act_error *err);
/* Emits the kernel computing value v (and the values fused into it). */
int cc_lower_value(cc_lower *l, const ir_value *v, act_error *err);
/* Kernels by family. */
void cc_lower_elementwise(cc_lower *l, const ir_value *v);
/* dense and the products of its backward pass: calls of the module's GEMM,
   each with its own epilogue function. Fail only when out of memory. */
int cc_lower_dense(cc_lower *l, const ir_value *v, act_error *err);
int cc_lower_matmul(cc_lower *l, const ir_value *v, act_error *err);
/* softmax, log_softmax, their gradients, softmax_cross_entropy and its
   gradients: vector kernels over the lanes along an axis
   (compiler/lower_rows.c, lower_softmax.c). */
void cc_lower_rows(cc_lower *l, const ir_value *v);
void cc_lower_pointwise(cc_lower *l, const ir_value *v);
/* A native array activation (IR_ACT) or its gradient (IR_ACT_GRAD): one
   call of the plugin's fwd or bwd, at its address, on the stored arrays. */
void cc_lower_native_array(cc_lower *l, const ir_value *v);
/* Applies the fused consumers of v to val (v's lanes at flat index i) and
   stores what must be stored. */
void cc_lower_chain(cc_lower *l, const ir_value *v, LLVMValueRef val, LLVMValueRef i,
                    LLVMValueRef mask);
/* Whether v and its fused consumers run in float lanes: no activation of
   theirs is a formula in double lanes (those are two of the target's
   vectors already; interleaved, a formula's code doubles and so does its
   compile time), so that their loop may interleave vectors. */
bool cc_chain_in_float_lanes(const cc_lower *l, const ir_value *v);

/* ---- the matrix product (compiler/gemm.c) --------------------------------
     gemm(A, a_rs, a_cs, B, b_rs, b_cs, C, bias, M, N, K, epi, ctx, packed, pool)
   sets C[i N + j] = bias[j] + sum over k in order of
   A[i a_rs + k a_cs] * B[k b_rs + j b_cs] (float FMA; bias NULL: 0), for
   i < M, j < N, then, when epi is not NULL, calls
     epi(ctx, row0, rows, col0, cols, ldc = N)
   on each strip of C it has finished, while the strip is in cache. packed
   is a cc_packed slot or NULL; pool is the JIT's memory pool (NULL ahead of
   time). cc_gemm_fn gives the module's: the library's named by c->gemm, or
   one internal function, "act.gemm", built on first use. */
LLVMValueRef cc_gemm_fn(cc_lower *l);
LLVMTypeRef cc_gemm_type(cc_ctx *c);
LLVMTypeRef cc_epilogue_type(cc_ctx *c);
/* Defines the GEMM as the external function name, for the library
   (compiler/prebuilt/gemm_gen.c). */
void cc_gemm_define(cc_ctx *c, const char *name);

/* ---- the GEMM compiled with the library (compiler/gemm_library.c) --------
   The build compiles the GEMM ahead of time once per x86-64 ISA level
   (compiler/prebuilt/gemm_gen.c); the JIT's modules call the one their
   target runs instead of compiling their own, which took about 45 ms of
   LLVM per module. Loss kernels and column sums are compiled so too
   (cc_kernels_define). */
typedef struct {
    const char *name;         /* its symbol */
    const char *features;     /* what it was compiled for, all required of a target */
    void (*fn)(void);         /* its address (NULL in the generator) */
    const char *kernels;      /* the symbol of the other kernels' dispatcher (cc_kernels_define) */
    void (*kernels_fn)(void); /* its address (NULL in the generator) */
    const char *epilogues;    /* the symbol of the activation epilogues' (cc_epilogues_define) */
    void (*epilogues_fn)(void);
} cc_gemm_variant;
extern const cc_gemm_variant cc_gemm_variants[]; /* ends with a NULL name */
enum { CC_GEMM_VARIANTS_MAX = 4 };               /* before the NULL name */
/* The variant a JIT target runs (same width and FMA, every feature), or
   NULL: the module builds its own. */
const cc_gemm_variant *cc_gemm_library(const cc_target *t);
/* ---- the row kernels' passes (compiler/lower_softmax.c) ------------------ */

/* The sums of the second pass. With log(sum) taken, the elements equal to
   the max (whose exp is exactly 1) are counted apart from the sum of the
   others, and log(sum) is log1p(count - 1 + others): accurate also when it
   is tiny, as log_softmax of a row's max is when the others are far below
   it (log(1 + 1e-11) from a rounded sum would be 40 ULP off). */
enum { CC_SUM_E, CC_SUM_TOP, CC_SUM_T, CC_SUM_TD, CC_NSUMS };

/* One set of lanes (a row, or neighbouring rows) and what its passes keep. */
typedef struct cc_rows {
    cc_lower *l;
    ir_op op;
    bool along;         /* lanes along the axis: sums reduced across them */
    bool nt;            /* along: results stored past the caches */
    bool f32;           /* softmax along a row in float lanes (cc_vm_expf_pair) */
    bool one_vector;    /* along: the row fits one vector, its length known at run time */
    LLVMValueRef a, b;  /* float*: args[0] (x, y or the logits), args[1] (dy or the target) */
    LLVMValueRef out;   /* float*: the result (the loss's: the logits' gradient), or NULL */
    LLVMValueRef out_t; /* float*: the loss's target gradient, or NULL */
    LLVMValueRef len, step, start; /* element j of lane 0: base + j*step, base = start + lane */
    LLVMValueRef base, lane_mask;  /* of the lanes at hand; lane_mask NULL when all are used */
    LLVMValueRef m, mf;            /* the max: a slot of vf32, then its value as vf64, vf32 */
    LLVMValueRef acc[CC_NSUMS];    /* slots of vf64: the sums of the second pass */
    LLVMValueRef k, k_t;           /* vf64: what the results (out, out_t) need of the sums */
    LLVMValueRef k_hi, k_lo;       /* vf32 with k_hi + k_lo = k (2^64 k for softmax in f32) */
    LLVMValueRef sum_f[2];         /* f32: slots of vf32: the sum, and of the small parts */
    LLVMValueRef scale, scale_t;   /* vf64: dL / rows for out, -dL / rows for out_t */
    LLVMValueRef scratch;          /* exp(x - max) of the row (double, float if f32), or NULL */
    LLVMValueRef lo_at;            /* f32: where the low parts start in the scratch (i64) */
    LLVMValueRef total;            /* double slot: the loss summed over rows, or NULL */
} cc_rows;

/* The passes over n sets of lanes (each with its own slots and scratch),
   pass by pass, so that the work of one set sits beside the other's. */
void cc_rows_compute(cc_rows *s, int n);
/* The slots (allocas) of the sums s->op takes, and of the max. */
void cc_rows_slots(cc_rows *s);

/* ---- scalar kernels (compiler/lower_scalar.c) ----------------------------
   The ops whose lanes are not independent (broadcasting, reductions, the
   pointwise losses) as plain loops on doubles, the interpreter's algorithms
   one for one; LLVM vectorises what it can. */
LLVMValueRef cc_ld(cc_lower *l, const ir_value *v, LLVMValueRef i); /* double */
void cc_st(cc_lower *l, const ir_value *v, LLVMValueRef i, LLVMValueRef x);
LLVMValueRef cc_f64(cc_lower *l, double v);
/* A double accumulator (an alloca that SROA promotes), set to init. */
LLVMValueRef cc_acc(cc_lower *l, double init);
LLVMValueRef cc_get(cc_lower *l, LLVMValueRef acc);
void cc_set(cc_lower *l, LLVMValueRef acc, LLVMValueRef x);
/* Sets n elements of v to zero. */
void cc_zero(cc_lower *l, const ir_value *v);
/* outer x len x inner around axis of value v. */
void cc_axis_split(cc_lower *l, const ir_value *v, double axis, LLVMValueRef *outer,
                   LLVMValueRef *len, LLVMValueRef *inner);
/* A loss and the gradients computed with it (cc_loss_members), on arrays:
   what its kernel reads and writes, in a module's function or in the
   library's (compiler/lower_loss.c). */
typedef struct {
    ir_op op;               /* IR_SCE, IR_BCE or IR_MSE; or IR_SOFTMAX, IR_LOG_SOFTMAX (rows of x
                               into out[0]) */
    LLVMValueRef x, t;      /* float*: its arguments */
    LLVMValueRef out[3];    /* float*: the loss (one float), x's and t's gradients, or NULL */
    LLVMValueRef dl[3];     /* double: the dL of out[1] and out[2] */
    LLVMValueRef rows, len; /* i64: rows of len (sigmoid_cross_entropy, mse: len 1) */
} cc_loss_job;
/* The kernel of v's loss and its members: a call of the library's where
   c->kernels names it, else built in the module. */
void cc_lower_loss(cc_lower *l, const ir_value *v);
/* The row kernel of job j: softmax_cross_entropy's, or softmax's or
   log_softmax's along the rows of x (compiler/lower_rows.c). */
void cc_lower_row_job(cc_lower *l, const cc_loss_job *j);
/* A call of the library's kernel for job j, a softmax or log_softmax
   along rows, when the target has the library's kernels (c->kernels):
   a first compile then spares that kernel (examples/mlp.act's forward
   entry, 8 ms). False when there is none. */
bool cc_library_rows(cc_lower *l, const cc_loss_job *j);
/* Defines the library's loss kernels, column sums and softmax and
   log_softmax along rows, reached through the external function name
   (compiler/prebuilt/gemm_gen.c). */
void cc_kernels_define(cc_ctx *c, const char *name);
/* Defines the external function name, an epilogue (cc_epilogue_type) for
   the library, on a context {kind, src, dst, x, params} of pointers: kind
   2 i for y = f(src) of row i of the float-lane table with its default
   parameters and 2 i + 1 for f'(x)·src, stored to dst; after those, 2 r
   and 2 r + 1 for built-in row r without a float-lane kernel, its formula
   in double lanes with the params (doubles) at params
   (compiler/lower_gemm.c). -1 when the built-ins are not there. */
int cc_epilogues_define(cc_ctx *c, const char *name);
/* out[j] = the sum of g[rows, cols]'s column j, row by row in double, a
   vector of columns at a time (compiler/lower_indexed.c). */
void cc_col_sums(cc_ctx *c, LLVMValueRef g, LLVMValueRef rows, LLVMValueRef cols, LLVMValueRef out);
/* The library's column sums where c->kernels names them, else
   cc_col_sums. */
void cc_lower_col_sums(cc_lower *l, LLVMValueRef g, LLVMValueRef rows, LLVMValueRef cols,
                       LLVMValueRef out);
void cc_lower_indexed(cc_lower *l, const ir_value *v);

#endif
