/* target.c -- what we compile for: LLVM's one-time target setup, the host
   CPU and its features (or those given for AOT), the vector width they
   allow, and the optimisation pipeline. */
#include "cc.h"

#include <llvm-c/Analysis.h>
#include <llvm-c/Target.h>
#include <llvm-c/Transforms/PassBuilder.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <threads.h>

/* LLVM's target registry is process-global and must be initialised once;
   call_once makes that safe from any thread. It is set up only when code
   is generated: a context whose code all comes from disk never needs it
   (objload.c). The host's CPU name, features and triple are read once too,
   under their own call_once, and kept: LLVM reads them with cpuid, which in
   a virtual machine traps to the hypervisor (0.16 ms, a third of a
   process's first on-disk hit). NULL when out of memory: asked again each
   time. */
static once_flag llvm_once = ONCE_FLAG_INIT, host_once = ONCE_FLAG_INIT;
static char *host_cpu, *host_features, *host_triple;

static char *copy(const char *s)
{
    char *d = malloc(strlen(s) + 1);
    return d ? strcpy(d, s) : NULL;
}

static char *keep(char *from_llvm)
{
    char *kept = copy(from_llvm);
    LLVMDisposeMessage(from_llvm);
    return kept;
}

/* A copy of the host's value kept at setup, or of LLVM's answer again when
   keeping it ran out of memory. */
static char *host(const char *kept, char *(*ask)(void))
{
    return kept ? copy(kept) : keep(ask());
}

static void init_llvm(void)
{
    LLVMInitializeNativeTarget();
    LLVMInitializeNativeAsmPrinter();
    LLVMInitializeNativeAsmParser();
}

static void read_host(void)
{
    host_cpu = keep(LLVMGetHostCPUName());
    host_features = keep(LLVMGetHostCPUFeatures());
    host_triple = keep(LLVMGetDefaultTargetTriple());
}

/* features reads "+sse4.2,+avx512f,-avx512fp16,...". */
static bool has_feature(const char *features, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = features; (p = strstr(p, name)); p += n)
        if (p > features && p[-1] == '+' && (p[n] == ',' || p[n] == 0))
            return true;
    return false;
}

/* Whether feature name (n chars) is above the ISA cap: "avx2" drops
   AVX-512, "sse" every AVX extension and FMA. */
static bool above_cap(const char *name, size_t n, const char *cap)
{
    if (!strcmp(cap, "avx2"))
        return n >= 6 && !strncmp(name, "avx512", 6);
    if (n >= 3 && !strncmp(name, "avx", 3))
        return true;
    static const char *const more[] = {"fma", "fma4", "f16c", "xop", "vaes", "vpclmulqdq"};
    for (size_t i = 0; i < sizeof more / sizeof *more; i++)
        if (strlen(more[i]) == n && !strncmp(name, more[i], n))
            return true;
    return false;
}

/* The host's features with those above $ACT_MAX_ISA turned off (in
   place): avx512 (or unset) keeps them all, avx2 and sse cap them, as
   oneDNN's ONEDNN_MAX_CPU_ISA. Anything else is an error. */
static int cap_features(char *features, act_error *err)
{
    const char *cap = getenv("ACT_MAX_ISA");
    if (!cap || !*cap || !strcmp(cap, "avx512"))
        return 0;
    if (strcmp(cap, "avx2") && strcmp(cap, "sse"))
        return act_error_set(err, NULL, ACT_ERR_ARG,
                             "expected ACT_MAX_ISA to be avx512, avx2 or sse, found '%s'", cap);
    for (char *p = features; *p; p += strcspn(p, ",") + (p[strcspn(p, ",")] == ',')) {
        size_t n = strcspn(p + 1, ",");
        if (*p == '+' && above_cap(p + 1, n, cap))
            *p = '-';
    }
    return 0;
}

int cc_target_describe(cc_target *t, const char *cpu, const char *features, act_error *err)
{
    call_once(&host_once, read_host);
    memset(t, 0, sizeof *t);
    t->cpu = cpu ? copy(cpu) : host(host_cpu, LLVMGetHostCPUName);
    /* Another CPU named without features gets none of the host's (code for
       a Haswell must not use this host's AVX-512): LLVM tunes for it, and
       the kernels take the baseline's 4 lanes, which it runs. */
    t->features = features ? copy(features)
                  : cpu    ? copy("")
                           : host(host_features, LLVMGetHostCPUFeatures);
    t->triple = host(host_triple, LLVMGetDefaultTargetTriple);
    if (!t->cpu || !t->features || !t->triple) {
        cc_target_fini(t);
        return act_error_set(err, NULL, ACT_ERR_NOMEM, "out of memory");
    }
    int rc = features || cpu ? 0 : cap_features(t->features, err);
    if (rc) {
        cc_target_fini(t);
        return rc;
    }
    /* The width follows the features: 512-bit vectors need avx512f (and we
       ask for them explicitly in cc_optimize, since LLVM prefers 256 bits
       on some AVX-512 CPUs). */
    cc_features_isa(t->features, &t->width, &t->fma);
    return 0;
}

int cc_target_machine(cc_target *t, act_error *err)
{
    if (t->tm)
        return 0;
    call_once(&llvm_once, init_llvm);
    LLVMTargetRef target;
    char *msg = NULL;
    if (LLVMGetTargetFromTriple(t->triple, &target, &msg)) {
        act_error_set(err, NULL, ACT_ERR_UNSUPPORTED, "expected a target LLVM knows, found %s: %s",
                      t->triple, msg ? msg : "");
        LLVMDisposeMessage(msg);
        return ACT_ERR_UNSUPPORTED;
    }
    t->tm =
        LLVMCreateTargetMachine(target, t->triple, t->cpu, t->features, LLVMCodeGenLevelAggressive,
                                LLVMRelocPIC, LLVMCodeModelJITDefault);
    if (!t->tm)
        return act_error_set(err, NULL, ACT_ERR_UNSUPPORTED,
                             "expected LLVM to make a target machine for %s (%s), found none",
                             t->triple, t->cpu);
    return 0;
}

int cc_target_init(cc_target *t, const char *cpu, const char *features, act_error *err)
{
    int rc = cc_target_describe(t, cpu, features, err);
    if (!rc && (rc = cc_target_machine(t, err)))
        cc_target_fini(t);
    return rc;
}

void cc_features_isa(const char *features, unsigned *width, bool *fma)
{
    /* 8 lanes with AVX2, not AVX alone: the float kernels' table lookups
       are vpermps, and AVX's 256-bit integer ops would be split in two */
    *width = has_feature(features, "avx512f") ? 16 : has_feature(features, "avx2") ? 8 : 4;
    *fma = has_feature(features, "fma") || has_feature(features, "neon");
}

bool cc_target_has_all(const cc_target *t, const char *features)
{
    char name[64];
    for (const char *p = features; *p; p += strcspn(p, ",") + (p[strcspn(p, ",")] == ',')) {
        size_t n = strcspn(p, ",");
        if (*p != '+' || n - 1 >= sizeof name)
            return false;
        memcpy(name, p + 1, n - 1);
        name[n - 1] = 0;
        if (!has_feature(t->features, name))
            return false;
    }
    return true;
}

void cc_target_fini(cc_target *t)
{
    if (t->tm)
        LLVMDisposeTargetMachine(t->tm);
    free(t->triple);
    free(t->cpu);
    free(t->features);
    memset(t, 0, sizeof *t);
}

void cc_ctx_init(cc_ctx *c, LLVMContextRef ctx, const cc_target *t, const char *name)
{
    memset(c, 0, sizeof *c);
    c->ctx = ctx;
    c->mod = LLVMModuleCreateWithNameInContext(name, ctx);
    LLVMSetTarget(c->mod, t->triple);
    LLVMTargetDataRef layout = LLVMCreateTargetDataLayout(t->tm);
    char *dl = LLVMCopyStringRepOfTargetData(layout);
    LLVMSetDataLayout(c->mod, dl);
    LLVMDisposeMessage(dl);
    LLVMDisposeTargetData(layout);
    c->b = LLVMCreateBuilderInContext(ctx);
    c->fma = t->fma;
    c->f32 = LLVMFloatTypeInContext(ctx);
    c->f64 = LLVMDoubleTypeInContext(ctx);
    c->i1 = LLVMInt1TypeInContext(ctx);
    c->i32 = LLVMInt32TypeInContext(ctx);
    c->i64 = LLVMInt64TypeInContext(ctx);
    c->ptr = LLVMPointerType(c->f32, 0);
    cc_ctx_set_width(c, t->width);
    c->isa_width = t->width;
}

void cc_ctx_set_width(cc_ctx *c, unsigned width)
{
    c->width = width;
    c->vf32 = LLVMVectorType(c->f32, width);
    c->vf64 = LLVMVectorType(c->f64, width);
    c->vi1 = LLVMVectorType(c->i1, width);
    c->vi32 = LLVMVectorType(c->i32, width);
    c->vi64 = LLVMVectorType(c->i64, width);
}

void cc_ctx_fini(cc_ctx *c)
{
    if (c->b)
        LLVMDisposeBuilder(c->b);
    c->b = NULL;
}

/* Every function gets the target's CPU and features, and is allowed the
   full vector width. */
static void set_attributes(LLVMModuleRef mod, const cc_target *t)
{
    LLVMContextRef ctx = LLVMGetModuleContext(mod);
    char width[16];
    snprintf(width, sizeof width, "%u", t->width * 32);
    const char *attrs[][2] = {{"target-cpu", t->cpu},
                              {"target-features", t->features},
                              {"prefer-vector-width", width},
                              {"min-legal-vector-width", width}};
    for (LLVMValueRef f = LLVMGetFirstFunction(mod); f; f = LLVMGetNextFunction(f)) {
        if (LLVMIsDeclaration(f))
            continue;
        for (size_t i = 0; i < sizeof attrs / sizeof *attrs; i++)
            LLVMAddAttributeAtIndex(
                f, LLVMAttributeFunctionIndex,
                LLVMCreateStringAttribute(ctx, attrs[i][0], (unsigned)strlen(attrs[i][0]),
                                          attrs[i][1], (unsigned)strlen(attrs[i][1])));
    }
}

int cc_optimize(LLVMModuleRef mod, const cc_target *t, cc_opt level, act_error *err)
{
    char *msg = NULL;
    if (LLVMVerifyModule(mod, LLVMReturnStatusAction, &msg)) {
        act_error_set(err, NULL, ACT_ERR_UNSUPPORTED,
                      "expected valid LLVM IR from the compiler, found: %s (a bug in act)", msg);
        LLVMDisposeMessage(msg);
        return ACT_ERR_UNSUPPORTED;
    }
    LLVMDisposeMessage(msg);
    set_attributes(mod, t);
    /* Our kernels are vectorised by construction; LLVM's loop and SLP
       vectorisers and its unroller found little more in them and more than
       halved the compile speed (the MLP example: 108 ms -> 49 ms, its forward
       pass 29 -> 36 us; issue 6 tunes the kernels by hand instead). */
    LLVMPassBuilderOptionsRef opts = LLVMCreatePassBuilderOptions();
    LLVMPassBuilderOptionsSetLoopUnrolling(opts, 0);
    LLVMPassBuilderOptionsSetLoopVectorization(opts, 0);
    LLVMPassBuilderOptionsSetSLPVectorization(opts, 0);
    /* CC_OPT_KERNELS: allocas into registers, common subexpressions,
       instruction combining (masks, constants), loops rotated with their
       invariants hoisted, loads made redundant by GVN, the CFG tidied. O2
       took three to four times as long (the MLP example's backward entry:
       20 -> 6 ms) for the same speed of such kernels (bench rows 1-5 and
       7). O2 still vectorises loops of scalars, options or not: a
       broadcast add of 256K floats ran in 23 us at O2, 147 us without. */
    static const char kernels[] = "function(sroa,early-cse<memssa>,simplifycfg,instcombine,"
                                  "loop(loop-rotate),loop-mssa(licm),gvn,instcombine,simplifycfg)";
    LLVMErrorRef e =
        LLVMRunPasses(mod, level == CC_OPT_FULL ? "default<O2>" : kernels, t->tm, opts);
    LLVMDisposePassBuilderOptions(opts);
    if (e) {
        char *m = LLVMGetErrorMessage(e);
        act_error_set(err, NULL, ACT_ERR_UNSUPPORTED, "expected LLVM to optimise, found: %s", m);
        LLVMDisposeErrorMessage(m);
        return ACT_ERR_UNSUPPORTED;
    }
    return 0;
}
