/* lower_scalar.c -- scalar helpers and the softmax family: a lane along any
   axis shifted by its max, sums in double, each result rounded once. */
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
    cc_ctx *c = l->c;
    LLVMBasicBlockRef here = LLVMGetInsertBlock(c->b);
    LLVMBasicBlockRef entry = LLVMGetEntryBasicBlock(l->fn);
    LLVMValueRef first = LLVMGetFirstInstruction(entry);
    if (first)
        LLVMPositionBuilderBefore(c->b, first);
    LLVMValueRef a = LLVMBuildAlloca(c->b, c->f64, "");
    LLVMPositionBuilderAtEnd(c->b, here);
    LLVMBuildStore(c->b, cc_f64(l, init), a);
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
    cc_loop lp;
    cc_loop_begin(l->c, &lp, cc_i64(l->c, 0), cc_numel(l, v), cc_i64(l->c, 1));
    cc_store1(l->c, LLVMConstReal(l->c->f32, 0), l->buf[v->id], lp.i);
    cc_loop_end(l->c, &lp);
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

static LLVMValueRef lane_index(cc_lower *l, LLVMValueRef base, LLVMValueRef j, LLVMValueRef inner)
{
    return LLVMBuildAdd(l->c->b, base, LLVMBuildMul(l->c->b, j, inner, ""), "");
}

/* Softmax, log-softmax and their gradients along v's axis. For the
   gradients, the lane is that of args[0] (y) and args[1] (dy). */
void cc_lower_softmax(cc_lower *l, const ir_value *v)
{
    cc_ctx *c = l->c;
    const ir_value *x = v->args[0], *dy = v->nargs > 1 ? v->args[1] : NULL;
    bool grad = v->op == IR_SOFTMAX_GRAD || v->op == IR_LOG_SOFTMAX_GRAD;
    bool log_form = v->op == IR_LOG_SOFTMAX || v->op == IR_LOG_SOFTMAX_GRAD;
    LLVMValueRef outer, len, inner;
    cc_axis_split(l, x, v->attr[0], &outer, &len, &inner);
    LLVMValueRef mx = cc_acc(l, 0), sum = cc_acc(l, 0);
    cc_loop o, in, j;
    cc_loop_begin(c, &o, cc_i64(c, 0), outer, cc_i64(c, 1));
    cc_loop_begin(c, &in, cc_i64(c, 0), inner, cc_i64(c, 1));
    LLVMValueRef base = LLVMBuildAdd(
        c->b, LLVMBuildMul(c->b, LLVMBuildMul(c->b, o.i, len, ""), inner, ""), in.i, "");
    cc_set(l, mx, cc_f64(l, -INFINITY));
    cc_set(l, sum, cc_f64(l, 0));
    if (!grad) { /* the max, NaN winning */
        cc_loop_begin(c, &j, cc_i64(c, 0), len, cc_i64(c, 1));
        LLVMValueRef xi = cc_ld(l, x, lane_index(l, base, j.i, inner)), m = cc_get(l, mx);
        LLVMValueRef take = LLVMBuildOr(c->b, LLVMBuildFCmp(c->b, LLVMRealOGT, xi, m, ""),
                                        LLVMBuildFCmp(c->b, LLVMRealUNO, xi, xi, ""), "");
        cc_set(l, mx, cc_select(c, take, xi, m));
        cc_loop_end(c, &j);
    }
    cc_loop_begin(c, &j, cc_i64(c, 0), len, cc_i64(c, 1));
    {
        LLVMValueRef k = lane_index(l, base, j.i, inner), term;
        if (!grad)
            term = cc_vm_exp(c, LLVMBuildFSub(c->b, cc_ld(l, x, k), cc_get(l, mx), ""));
        else
            term = log_form ? cc_ld(l, dy, k)
                            : LLVMBuildFMul(c->b, cc_ld(l, dy, k), cc_ld(l, x, k), "");
        cc_set(l, sum, LLVMBuildFAdd(c->b, cc_get(l, sum), term, ""));
    }
    cc_loop_end(c, &j);
    cc_loop_begin(c, &j, cc_i64(c, 0), len, cc_i64(c, 1));
    {
        LLVMValueRef k = lane_index(l, base, j.i, inner), xi = cc_ld(l, x, k), s = cc_get(l, sum),
                     r;
        if (grad && log_form) /* dy - exp(y) * sum(dy) */
            r = LLVMBuildFSub(c->b, cc_ld(l, dy, k), LLVMBuildFMul(c->b, cc_vm_exp(c, xi), s, ""),
                              "");
        else if (grad) /* y * (dy - sum(dy * y)) */
            r = LLVMBuildFMul(c->b, xi, LLVMBuildFSub(c->b, cc_ld(l, dy, k), s, ""), "");
        else if (log_form)
            r = LLVMBuildFSub(c->b, LLVMBuildFSub(c->b, xi, cc_get(l, mx), ""), cc_vm_log(c, s),
                              "");
        else
            r = LLVMBuildFDiv(c->b, cc_vm_exp(c, LLVMBuildFSub(c->b, xi, cc_get(l, mx), "")), s,
                              "");
        cc_st(l, v, k, r);
    }
    cc_loop_end(c, &j);
    cc_loop_end(c, &in);
    cc_loop_end(c, &o);
}
