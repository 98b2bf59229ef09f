/* jit.c -- modules to object code with the target's machine, object code
   into ORC LLJIT, function addresses out. Going through object code lets the
   same bytes be kept on disk (disk_cache.c); those read back from disk are
   mapped by act itself where it can (objload.c), and LLJIT is only made
   when an object needs it. The process's own symbols (libc, libm) resolve
   calls the generated code makes. */
#define _GNU_SOURCE /* RTLD_DEFAULT */
#include "cc.h"

#include <dlfcn.h>
#include <llvm-c/LLJIT.h>
#include <llvm-c/Orc.h>
#include <stdlib.h>
#include <string.h>

struct cc_jit {
    LLVMOrcLLJITRef jit;             /* made for the first object it links */
    cc_pool *pool;                   /* memory of the code's intermediates: act_jit_pool */
    LLVMOrcThreadSafeContextRef tsc; /* owns the LLVM context modules are built in */
    cc_image **images;               /* objects from disk, mapped by objload.c */
    int nimages, cap;
};

static int llvm_error(LLVMErrorRef e, const char *what, act_error *err)
{
    char *m = LLVMGetErrorMessage(e);
    act_error_set(err, NULL, ACT_ERR_UNSUPPORTED, "expected %s, found: %s", what, m);
    LLVMDisposeErrorMessage(m);
    return ACT_ERR_UNSUPPORTED;
}

/* The symbols generated code finds by name, so that object code kept on
   disk works in any process: its memory (cc_mem_take), this JIT's pool and
   the two functions taking it, and the library's GEMMs, other kernels and
   epilogues (gemm_library.c). Returns their number. */
enum { OUR_SYMBOLS_MAX = 3 + 3 * CC_GEMM_VARIANTS_MAX }; /* the pool's three, then per GEMM */

static int our_symbols(const cc_jit *j, const char *names[], const void *where[])
{
    static const char *const pool[3] = {"act_jit_pool", "act_jit_take", "act_jit_give"};
    const void *const pool_at[3] = {j->pool, (const void *)cc_pool_take,
                                    (const void *)cc_pool_give};
    int n = 0;
    for (; n < 3; n++)
        names[n] = pool[n], where[n] = pool_at[n];
    for (const cc_gemm_variant *v = cc_gemm_variants; v->name; v++)
        if (v->fn) {
            names[n] = v->name;
            where[n++] = (const void *)v->fn;
            names[n] = v->kernels;
            where[n++] = (const void *)v->kernels_fn;
            names[n] = v->epilogues;
            where[n++] = (const void *)v->epilogues_fn;
        }
    return n;
}

static int define_symbols(cc_jit *j, act_error *err)
{
    const char *names[OUR_SYMBOLS_MAX];
    const void *where[OUR_SYMBOLS_MAX];
    int n = our_symbols(j, names, where);
    LLVMJITCSymbolMapPair sym[OUR_SYMBOLS_MAX];
    for (int i = 0; i < n; i++) {
        sym[i].Name = LLVMOrcLLJITMangleAndIntern(j->jit, names[i]);
        sym[i].Sym.Address = (LLVMOrcExecutorAddress)(uintptr_t)where[i];
        sym[i].Sym.Flags.GenericFlags =
            LLVMJITSymbolGenericFlagsExported | (i ? LLVMJITSymbolGenericFlagsCallable : 0);
        sym[i].Sym.Flags.TargetFlags = 0;
    }
    LLVMOrcMaterializationUnitRef mu = LLVMOrcAbsoluteSymbols(sym, (size_t)n);
    LLVMErrorRef e = LLVMOrcJITDylibDefine(LLVMOrcLLJITGetMainJITDylib(j->jit), mu);
    return e ? llvm_error(e, "the JIT to define its memory pool and kernels", err) : 0;
}

/* The same symbols for objects mapped by act, then the process's. */
static const void *resolve(void *arg, const char *name)
{
    const char *names[OUR_SYMBOLS_MAX];
    const void *where[OUR_SYMBOLS_MAX];
    int n = our_symbols(arg, names, where);
    for (int i = 0; i < n; i++)
        if (!strcmp(names[i], name))
            return where[i];
    return dlsym(RTLD_DEFAULT, name);
}

cc_jit *cc_jit_new(act_error *err)
{
    cc_jit *j = calloc(1, sizeof *j);
    if (!j || !(j->pool = cc_pool_new())) {
        free(j);
        return act_error_set(err, NULL, ACT_ERR_NOMEM, "out of memory"), NULL;
    }
    return j;
}

/* LLJIT, made at the first object it links (about 0.5 ms). */
static int make_lljit(cc_jit *j, act_error *err)
{
    if (j->jit)
        return 0;
    cc_target host; /* runs LLVM's one-time setup */
    int rc = cc_target_init(&host, NULL, NULL, err);
    if (rc)
        return rc;
    /* the host's machine as cc_target_init keeps it: LLJIT would detect the
       host again, cpuid by cpuid */
    LLVMOrcLLJITBuilderRef builder = LLVMOrcCreateLLJITBuilder();
    LLVMOrcLLJITBuilderSetJITTargetMachineBuilder(
        builder, LLVMOrcJITTargetMachineBuilderCreateFromTargetMachine(host.tm));
    host.tm = NULL; /* taken by the builder */
    cc_target_fini(&host);
    LLVMErrorRef e = LLVMOrcCreateLLJIT(&j->jit, builder);
    if (e) {
        j->jit = NULL;
        return llvm_error(e, "an LLJIT instance", err);
    }
    LLVMOrcDefinitionGeneratorRef gen;
    char prefix = LLVMOrcLLJITGetGlobalPrefix(j->jit);
    if ((e = LLVMOrcCreateDynamicLibrarySearchGeneratorForProcess(&gen, prefix, NULL, NULL)))
        rc = llvm_error(e, "the process's symbols for the JIT", err);
    else {
        LLVMOrcJITDylibAddGenerator(LLVMOrcLLJITGetMainJITDylib(j->jit), gen);
        rc = define_symbols(j, err);
    }
    if (rc) {
        LLVMOrcDisposeLLJIT(j->jit);
        j->jit = NULL;
    }
    return rc;
}

void cc_jit_free(cc_jit *j)
{
    if (!j)
        return;
    if (j->tsc)
        LLVMOrcDisposeThreadSafeContext(j->tsc);
    if (j->jit)
        LLVMOrcDisposeLLJIT(j->jit);
    for (int i = 0; i < j->nimages; i++)
        cc_image_free(j->images[i]);
    free(j->images);
    cc_pool_free(j->pool); /* after the code that gives blocks back */
    free(j);
}

LLVMContextRef cc_jit_context(cc_jit *j)
{
    if (!j->tsc)
        j->tsc = LLVMOrcCreateNewThreadSafeContext();
    return LLVMOrcThreadSafeContextGetContext(j->tsc);
}

int cc_codegen(LLVMModuleRef mod, const cc_target *t, cc_opt level, char **obj, size_t *size,
               act_error *err)
{
    int rc = cc_optimize(mod, t, level, err);
    char *msg = NULL;
    LLVMMemoryBufferRef buf = NULL;
    if (!rc && LLVMTargetMachineEmitToMemoryBuffer(t->tm, mod, LLVMObjectFile, &msg, &buf)) {
        rc = act_error_set(err, NULL, ACT_ERR_UNSUPPORTED,
                           "expected LLVM to generate code, found: %s", msg ? msg : "");
        buf = NULL;
    }
    LLVMDisposeMessage(msg);
    LLVMDisposeModule(mod);
    if (rc)
        return rc;
    *size = LLVMGetBufferSize(buf);
    if ((*obj = malloc(*size ? *size : 1)))
        memcpy(*obj, LLVMGetBufferStart(buf), *size);
    LLVMDisposeMemoryBuffer(buf);
    return *obj ? 0 : act_error_set(err, NULL, ACT_ERR_NOMEM, "out of memory");
}

/* Maps obj with objload.c; false when it declines or memory runs out. */
static bool map_object(cc_jit *j, const char *obj, size_t size)
{
    if (j->nimages == j->cap) {
        int cap = j->cap ? 2 * j->cap : 8;
        cc_image **images = realloc(j->images, (size_t)cap * sizeof *images);
        if (!images)
            return false;
        j->images = images;
        j->cap = cap;
    }
    cc_image *im = cc_image_load(obj, size, resolve, j);
    if (im)
        j->images[j->nimages++] = im;
    return im != NULL;
}

int cc_jit_add_object(cc_jit *j, const char *obj, size_t size, bool *mapped, act_error *err)
{
    if (mapped && (*mapped = map_object(j, obj, size)))
        return 0;
    int rc = make_lljit(j, err);
    if (rc)
        return rc;
    LLVMMemoryBufferRef buf = LLVMCreateMemoryBufferWithMemoryRangeCopy(obj, size, "act entry");
    if (!buf)
        return act_error_set(err, NULL, ACT_ERR_NOMEM, "out of memory");
    LLVMErrorRef e = LLVMOrcLLJITAddObjectFile(j->jit, LLVMOrcLLJITGetMainJITDylib(j->jit), buf);
    if (e) /* the JIT owns buf even when adding fails */
        return llvm_error(e, "the JIT to take the object code", err);
    return 0;
}

void *cc_jit_lookup(cc_jit *j, const char *name, act_error *err)
{
    for (int i = 0; i < j->nimages; i++) {
        void *p = cc_image_symbol(j->images[i], name);
        if (p)
            return p;
    }
    LLVMOrcExecutorAddress addr = 0;
    LLVMErrorRef e = j->jit ? LLVMOrcLLJITLookup(j->jit, &addr, name) : NULL;
    if (e) {
        llvm_error(e, "a compiled entry point", err);
        return NULL;
    }
    if (!addr)
        act_error_set(err, NULL, ACT_ERR_UNSUPPORTED,
                      "expected a compiled entry point, found none named %s", name);
    return (void *)(uintptr_t)addr;
}
