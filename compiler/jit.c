/* jit.c -- modules to object code with the target's machine, object code
   into ORC LLJIT, function addresses out. Going through object code lets the
   same bytes be kept on disk (disk_cache.c). The process's own symbols (libc,
   libm) resolve calls the generated code makes. */
#include "cc.h"

#include <llvm-c/LLJIT.h>
#include <llvm-c/Orc.h>
#include <stdlib.h>
#include <string.h>

struct cc_jit {
    LLVMOrcLLJITRef jit;
    cc_pool *pool;                   /* memory of the code's intermediates: act_jit_pool */
    LLVMOrcThreadSafeContextRef tsc; /* owns the LLVM context modules are built in */
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
   epilogues (gemm_library.c). */
static int define_symbols(cc_jit *j, act_error *err)
{
    enum { MAX = 3 + 3 * CC_GEMM_VARIANTS_MAX }; /* the pool's three, GEMMs, kernels, epilogues */
    const char *names[MAX] = {"act_jit_pool", "act_jit_take", "act_jit_give"};
    const void *where[MAX] = {j->pool, (const void *)cc_pool_take, (const void *)cc_pool_give};
    int n = 3;
    for (const cc_gemm_variant *v = cc_gemm_variants; v->name; v++)
        if (v->fn) {
            names[n] = v->name;
            where[n++] = (const void *)v->fn;
            names[n] = v->kernels;
            where[n++] = (const void *)v->kernels_fn;
            names[n] = v->epilogues;
            where[n++] = (const void *)v->epilogues_fn;
        }
    LLVMJITCSymbolMapPair sym[MAX];
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

cc_jit *cc_jit_new(act_error *err)
{
    cc_target host; /* runs LLVM's one-time setup */
    if (cc_target_init(&host, NULL, NULL, err))
        return NULL;
    cc_jit *j = calloc(1, sizeof *j);
    if (!j) {
        cc_target_fini(&host);
        return act_error_set(err, NULL, ACT_ERR_NOMEM, "out of memory"), NULL;
    }
    /* the host's machine as cc_target_init keeps it: LLJIT would detect the
       host again, cpuid by cpuid */
    LLVMOrcLLJITBuilderRef builder = LLVMOrcCreateLLJITBuilder();
    LLVMOrcLLJITBuilderSetJITTargetMachineBuilder(
        builder, LLVMOrcJITTargetMachineBuilderCreateFromTargetMachine(host.tm));
    host.tm = NULL; /* taken by the builder */
    cc_target_fini(&host);
    LLVMErrorRef e = LLVMOrcCreateLLJIT(&j->jit, builder);
    if (e) {
        llvm_error(e, "an LLJIT instance", err);
        free(j);
        return NULL;
    }
    LLVMOrcDefinitionGeneratorRef gen;
    char prefix = LLVMOrcLLJITGetGlobalPrefix(j->jit);
    if ((e = LLVMOrcCreateDynamicLibrarySearchGeneratorForProcess(&gen, prefix, NULL, NULL))) {
        llvm_error(e, "the process's symbols for the JIT", err);
        cc_jit_free(j);
        return NULL;
    }
    LLVMOrcJITDylibAddGenerator(LLVMOrcLLJITGetMainJITDylib(j->jit), gen);
    j->tsc = LLVMOrcCreateNewThreadSafeContext();
    if (!(j->pool = cc_pool_new()) || define_symbols(j, err)) {
        if (!j->pool)
            act_error_set(err, NULL, ACT_ERR_NOMEM, "out of memory");
        cc_jit_free(j);
        return NULL;
    }
    return j;
}

void cc_jit_free(cc_jit *j)
{
    if (!j)
        return;
    if (j->tsc)
        LLVMOrcDisposeThreadSafeContext(j->tsc);
    if (j->jit)
        LLVMOrcDisposeLLJIT(j->jit);
    cc_pool_free(j->pool); /* after the code that gives blocks back */
    free(j);
}

LLVMContextRef cc_jit_context(cc_jit *j)
{
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

int cc_jit_add_object(cc_jit *j, const char *obj, size_t size, act_error *err)
{
    LLVMMemoryBufferRef buf = LLVMCreateMemoryBufferWithMemoryRangeCopy(obj, size, "act entry");
    if (!buf)
        return act_error_set(err, NULL, ACT_ERR_NOMEM, "out of memory");
    LLVMErrorRef e = LLVMOrcLLJITAddObjectFile(j->jit, LLVMOrcLLJITGetMainJITDylib(j->jit), buf);
    if (e) /* the JIT owns buf even when adding fails */
        return llvm_error(e, "the JIT to take the object code", err);
    return 0;
}

int cc_jit_add(cc_jit *j, LLVMModuleRef mod, const cc_target *t, act_error *err)
{
    char *obj = NULL;
    size_t size = 0;
    int rc = cc_codegen(mod, t, CC_OPT_KERNELS, &obj, &size, err);
    if (!rc)
        rc = cc_jit_add_object(j, obj, size, err);
    free(obj);
    return rc;
}

void *cc_jit_lookup(cc_jit *j, const char *name, act_error *err)
{
    LLVMOrcExecutorAddress addr = 0;
    LLVMErrorRef e = LLVMOrcLLJITLookup(j->jit, &addr, name);
    if (e) {
        llvm_error(e, "a compiled entry point", err);
        return NULL;
    }
    return (void *)(uintptr_t)addr;
}
