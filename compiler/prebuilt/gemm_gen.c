/* gemm_gen.c -- the build's generator of the library's GEMMs, loss
   kernels, column sums and activation epilogues: one object file defining
   each variant of compiler/gemm_library.c (the same code the JIT builds
   into a module, gemm.c, lower_loss.c, lower_indexed.c and
   lower_gemm.c), compiled for its features
   with generic tuning. On a host without variants the object is empty.

   usage: act_gemm_gen OUT.o */
#include "../cc.h"

#include <llvm-c/Linker.h>
#include <stdio.h>

static int fail(const char *what, const char *why)
{
    fprintf(stderr, "act_gemm_gen: %s: %s\n", what, why ? why : "");
    return 1;
}

/* Builds and optimises one variant in its own module, then moves it into
   dest. */
static int add_variant(LLVMModuleRef dest, const cc_gemm_variant *v)
{
    act_error err = {0};
    cc_target t;
    if (cc_target_init(&t, "x86-64", v->features, &err))
        return fail(v->name, err.message);
    cc_ctx c;
    cc_ctx_init(&c, LLVMGetModuleContext(dest), &t, v->name);
    c.jit = true;
    cc_gemm_define(&c, v->name);
    cc_kernels_define(&c, v->kernels);
    int bad = cc_epilogues_define(&c, v->epilogues);
    cc_ctx_fini(&c);
    if (bad) {
        cc_target_fini(&t);
        LLVMDisposeModule(c.mod);
        return fail(v->name, "expected the built-in activations of the epilogues");
    }
    int rc = cc_optimize(c.mod, &t, CC_OPT_FULL, &err);
    cc_target_fini(&t);
    if (rc) {
        LLVMDisposeModule(c.mod);
        return fail(v->name, err.message);
    }
    return LLVMLinkModules2(dest, c.mod) ? fail(v->name, "expected LLVM to link it") : 0;
}

int main(int argc, char **argv)
{
    if (argc != 2)
        return fail("usage", "act_gemm_gen OUT.o");
    act_error err = {0};
    cc_target base;
    const char *cpu = cc_gemm_variants[0].name ? "x86-64" : NULL;
    if (cc_target_init(&base, cpu, cpu ? "+sse2" : NULL, &err))
        return fail("target", err.message);
    LLVMContextRef ctx = LLVMContextCreate();
    cc_ctx c;
    cc_ctx_init(&c, ctx, &base, "act_gemm");
    cc_ctx_fini(&c);
    int rc = 0;
    for (const cc_gemm_variant *v = cc_gemm_variants; v->name && !rc; v++)
        rc = add_variant(c.mod, v);
    /* written whole or not at all: a partial file would look up to date */
    char *msg = NULL, tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", argv[1]);
    if (!rc && LLVMTargetMachineEmitToFile(base.tm, c.mod, tmp, LLVMObjectFile, &msg))
        rc = fail(tmp, msg);
    if (!rc && rename(tmp, argv[1]))
        rc = fail(argv[1], "expected to rename the object into place");
    if (rc)
        remove(tmp);
    LLVMDisposeMessage(msg);
    LLVMDisposeModule(c.mod);
    LLVMContextDispose(ctx);
    cc_target_fini(&base);
    return rc;
}
