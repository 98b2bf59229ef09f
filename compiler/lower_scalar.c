/* lower_scalar.c -- helpers of the scalar kernels: loads widened to double,
   stores rounded once, accumulators, and splitting a shape around an axis. */
#include "cc.h"

#include <math.h>

LLVMValueRef cc_f64(cc_lower *l, double v)
{
    return LLVMConstReal(l->c->f64, v);
}

LLVMValueRef cc_ld(cc_lower *l, const ir_value *v, LLVMValueRef i)
{
    return LLVMBuildFPExt(l->c->b, cc_load1(l->c, l->buf[v->id], i), l->c->f64, "");
}

void cc_st(cc_lower *l, const ir_value *v, LLVMValueRef i, LLVMValueRef x)
{
    cc_store1(l->c, LLVMBuildFPTrunc(l->c->b, x, l->c->f32, ""), l->buf[v->id], i);
}

LLVMValueRef cc_acc(cc_lower *l, double init)
{
    LLVMValueRef a = cc_entry_alloca(l->c, l->c->f64);
    LLVMBuildStore(l->c->b, cc_f64(l, init), a);
    return a;
}

LLVMValueRef cc_get(cc_lower *l, LLVMValueRef acc)
{
    return LLVMBuildLoad2(l->c->b, l->c->f64, acc, "");
}

void cc_set(cc_lower *l, LLVMValueRef acc, LLVMValueRef x)
{
    LLVMBuildStore(l->c->b, x, acc);
}

void cc_zero(cc_lower *l, const ir_value *v)
{
    cc_zero_floats(l->c, l->buf[v->id], cc_numel(l, v));
}

void cc_axis_split(cc_lower *l, const ir_value *v, double axis, LLVMValueRef *outer,
                   LLVMValueRef *len, LLVMValueRef *inner)
{
    cc_ctx *c = l->c;
    LLVMValueRef dims[IR_MAX_RANK];
    cc_dims(l, v, dims);
    int a = (int)axis < 0 ? (int)axis + v->shape.rank : (int)axis;
    *outer = *inner = cc_i64(c, 1);
    for (int d = 0; d < a; d++)
        *outer = LLVMBuildMul(c->b, *outer, dims[d], "");
    for (int d = a + 1; d < v->shape.rank; d++)
        *inner = LLVMBuildMul(c->b, *inner, dims[d], "");
    *len = dims[a];
}
