/* lower_loss.c -- sigmoid_cross_entropy and mse and their gradients, in
   double, as runtime/interp.c computes them (softmax_cross_entropy is a row
   kernel, lower_softmax.c). */
#include "cc.h"

static LLVMValueRef fadd(cc_lower *l, LLVMValueRef a, LLVMValueRef b)
{
    return LLVMBuildFAdd(l->c->b, a, b, "");
}

static LLVMValueRef fmul(cc_lower *l, LLVMValueRef a, LLVMValueRef b)
{
    return LLVMBuildFMul(l->c->b, a, b, "");
}

static LLVMValueRef fsub(cc_lower *l, LLVMValueRef a, LLVMValueRef b)
{
    return LLVMBuildFSub(l->c->b, a, b, "");
}

/* sigmoid_cross_entropy, mse and their gradients, element by element. */
void cc_lower_loss(cc_lower *l, const ir_value *v)
{
    cc_ctx *c = l->c;
    const ir_value *a = v->args[0], *b = v->args[1];
    LLVMValueRef n = cc_numel(l, a), nf = LLVMBuildSIToFP(c->b, n, c->f64, "");
    bool loss = v->op == IR_BCE || v->op == IR_MSE;
    LLVMValueRef dl = loss ? NULL : cc_ld(l, v->args[2], cc_i64(c, 0)), total = cc_acc(l, 0);
    cc_loop i;
    cc_loop_begin(c, &i, cc_i64(c, 0), n, cc_i64(c, 1));
    LLVMValueRef x = cc_ld(l, a, i.i), t = cc_ld(l, b, i.i), r;
    LLVMValueRef diff2 = fmul(l, cc_f64(l, 2), fsub(l, x, t));
    switch (v->op) {
    case IR_BCE: { /* max(x, 0) - x t + log1p(exp(-|x|)) */
        LLVMValueRef pos =
            cc_select(c, LLVMBuildFCmp(c->b, LLVMRealOGT, x, cc_f64(l, 0), ""), x, cc_f64(l, 0));
        LLVMValueRef ax = cc_intrinsic(c, "llvm.fabs", &x, 1);
        r = fadd(l, fsub(l, pos, fmul(l, x, t)),
                 cc_vm_log1p(c, cc_vm_exp(c, LLVMBuildFNeg(c->b, ax, ""))));
        break;
    }
    case IR_MSE:
        r = fmul(l, fsub(l, x, t), fsub(l, x, t));
        break;
    case IR_BCE_GRAD_X:
        r = fmul(l, dl, fsub(l, cc_vm_sigmoid(c, x), t));
        break;
    case IR_BCE_GRAD_T:
        r = LLVMBuildFNeg(c->b, fmul(l, dl, x), "");
        break;
    case IR_MSE_GRAD_Y:
        r = fmul(l, dl, diff2);
        break;
    default: /* IR_MSE_GRAD_T */
        r = LLVMBuildFNeg(c->b, fmul(l, dl, diff2), "");
        break;
    }
    if (loss)
        cc_set(l, total, fadd(l, cc_get(l, total), r));
    else
        cc_st(l, v, i.i, LLVMBuildFDiv(c->b, r, nf, ""));
    cc_loop_end(c, &i);
    if (loss)
        cc_st(l, v, cc_i64(c, 0), LLVMBuildFDiv(c->b, cc_get(l, total), nf, ""));
}
