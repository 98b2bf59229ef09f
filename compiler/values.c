/* values.c -- lane-wise building blocks shared by the vector math and the
   lowering: splatted constants, FMA, selects, polynomials, intrinsics. */
#include "cc.h"

#include <string.h>

LLVMValueRef cc_const(cc_ctx *c, LLVMTypeRef like, double v)
{
    (void)c;
    if (LLVMGetTypeKind(like) != LLVMVectorTypeKind)
        return LLVMConstReal(like, v);
    unsigned n = LLVMGetVectorSize(like);
    LLVMValueRef lanes[64];
    LLVMValueRef one = LLVMConstReal(LLVMGetElementType(like), v);
    for (unsigned i = 0; i < n; i++)
        lanes[i] = one;
    return LLVMConstVector(lanes, n);
}

LLVMValueRef cc_intrinsic(cc_ctx *c, const char *name, LLVMValueRef *args, int n)
{
    unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
    LLVMTypeRef type = LLVMTypeOf(args[0]);
    LLVMValueRef fn = LLVMGetIntrinsicDeclaration(c->mod, id, &type, 1);
    LLVMTypeRef fty = LLVMIntrinsicGetType(c->ctx, id, &type, 1);
    return LLVMBuildCall2(c->b, fty, fn, args, (unsigned)n, "");
}

LLVMValueRef cc_fma(cc_ctx *c, LLVMValueRef a, LLVMValueRef b, LLVMValueRef d)
{
    if (!c->fma)
        return LLVMBuildFAdd(c->b, LLVMBuildFMul(c->b, a, b, ""), d, "");
    LLVMValueRef args[3] = {a, b, d};
    return cc_intrinsic(c, "llvm.fma", args, 3);
}

LLVMValueRef cc_select(cc_ctx *c, LLVMValueRef cond, LLVMValueRef a, LLVMValueRef b)
{
    return LLVMBuildSelect(c->b, cond, a, b, "");
}

/* Estrin's scheme: pairs c[i] + c[i+1] x, then pairs of those with x^2,
   x^4, ...: ceil(log2 n) + 1 dependent steps instead of Horner's n - 1,
   for a few more multiplications. */
static LLVMValueRef estrin(cc_ctx *c, LLVMValueRef x, const double *coef, int n)
{
    LLVMTypeRef t = LLVMTypeOf(x);
    LLVMValueRef term[CC_POLY_MAX];
    int m = 0;
    for (int i = 0; i < n; i += 2)
        term[m++] = i + 1 < n ? cc_fma(c, cc_const(c, t, coef[i + 1]), x, cc_const(c, t, coef[i]))
                              : cc_const(c, t, coef[i]);
    LLVMValueRef p = LLVMBuildFMul(c->b, x, x, ""); /* x^2, then x^4, ... */
    while (m > 1) {
        int k = 0;
        for (int i = 0; i < m; i += 2)
            term[k++] = i + 1 < m ? cc_fma(c, term[i + 1], p, term[i]) : term[i];
        m = k;
        if (m > 1)
            p = LLVMBuildFMul(c->b, p, p, "");
    }
    return term[0];
}

LLVMValueRef cc_poly(cc_ctx *c, LLVMValueRef x, const double *coef, int n)
{
    LLVMTypeRef t = LLVMTypeOf(x);
    LLVMTypeRef lane = LLVMGetTypeKind(t) == LLVMVectorTypeKind ? LLVMGetElementType(t) : t;
    if (n >= 7 && n <= CC_POLY_MAX && LLVMGetTypeKind(lane) == LLVMDoubleTypeKind)
        return estrin(c, x, coef, n);
    LLVMValueRef acc = cc_const(c, t, coef[n - 1]);
    for (int i = n - 2; i >= 0; i--)
        acc = cc_fma(c, acc, x, cc_const(c, t, coef[i]));
    return acc;
}
