/* lower_loss.c -- the three losses and their gradients, in double, as
   runtime/interp.c computes them. */
#include "cc.h"

#include <math.h>

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

/* max + log(sum(exp(z - max))) of the row at base, NaN winning the max. */
static LLVMValueRef row_logsumexp(cc_lower *l, const ir_value *z, LLVMValueRef base,
                                  LLVMValueRef cols)
{
    cc_ctx *c = l->c;
    LLVMValueRef mx = cc_acc(l, -INFINITY), sum = cc_acc(l, 0);
    cc_loop j;
    cc_loop_begin(c, &j, cc_i64(c, 0), cols, cc_i64(c, 1));
    LLVMValueRef zi = cc_ld(l, z, LLVMBuildAdd(c->b, base, j.i, "")), m = cc_get(l, mx);
    LLVMValueRef take = LLVMBuildOr(c->b, LLVMBuildFCmp(c->b, LLVMRealOGT, zi, m, ""),
                                    LLVMBuildFCmp(c->b, LLVMRealUNO, zi, zi, ""), "");
    cc_set(l, mx, cc_select(c, take, zi, m));
    cc_loop_end(c, &j);
    cc_loop_begin(c, &j, cc_i64(c, 0), cols, cc_i64(c, 1));
    LLVMValueRef e =
        cc_vm_exp(c, fsub(l, cc_ld(l, z, LLVMBuildAdd(c->b, base, j.i, "")), cc_get(l, mx)));
    cc_set(l, sum, fadd(l, cc_get(l, sum), e));
    cc_loop_end(c, &j);
    return fadd(l, cc_get(l, mx), cc_vm_log(c, cc_get(l, sum)));
}

static void rows_cols(cc_lower *l, const ir_value *v, LLVMValueRef *rows, LLVMValueRef *cols)
{
    LLVMValueRef dims[IR_MAX_RANK];
    cc_dims(l, v, dims);
    *cols = v->shape.rank ? dims[v->shape.rank - 1] : cc_i64(l->c, 1);
    *rows = cc_div0(l->c, cc_numel(l, v), *cols, false);
}

/* softmax_cross_entropy and its gradients, a row at a time. */
static void sce(cc_lower *l, const ir_value *v)
{
    cc_ctx *c = l->c;
    const ir_value *z = v->args[0], *t = v->args[1];
    LLVMValueRef rows, cols, total = cc_acc(l, 0);
    rows_cols(l, z, &rows, &cols);
    LLVMValueRef nrows = LLVMBuildSIToFP(c->b, rows, c->f64, "");
    LLVMValueRef dl = v->op == IR_SCE ? NULL : cc_ld(l, v->args[2], cc_i64(c, 0));
    LLVMValueRef tsum = cc_acc(l, 0);
    cc_loop r, j;
    cc_loop_begin(c, &r, cc_i64(c, 0), rows, cc_i64(c, 1));
    LLVMValueRef base = LLVMBuildMul(c->b, r.i, cols, "");
    LLVMValueRef lse = row_logsumexp(l, z, base, cols);
    cc_set(l, tsum, cc_f64(l, 0));
    cc_loop_begin(c, &j, cc_i64(c, 0), cols, cc_i64(c, 1));
    cc_set(l, tsum, fadd(l, cc_get(l, tsum), cc_ld(l, t, LLVMBuildAdd(c->b, base, j.i, ""))));
    cc_loop_end(c, &j);
    cc_loop_begin(c, &j, cc_i64(c, 0), cols, cc_i64(c, 1));
    LLVMValueRef k = LLVMBuildAdd(c->b, base, j.i, "");
    LLVMValueRef ls = fsub(l, cc_ld(l, z, k), lse); /* log_softmax */
    if (v->op == IR_SCE)
        cc_set(l, total, fsub(l, cc_get(l, total), fmul(l, cc_ld(l, t, k), ls)));
    else if (v->op == IR_SCE_GRAD_LOGITS)
        cc_st(l, v, k,
              LLVMBuildFDiv(
                  c->b,
                  fmul(l, dl, fsub(l, fmul(l, cc_vm_exp(c, ls), cc_get(l, tsum)), cc_ld(l, t, k))),
                  nrows, ""));
    else
        cc_st(l, v, k, LLVMBuildFDiv(c->b, LLVMBuildFNeg(c->b, fmul(l, dl, ls), ""), nrows, ""));
    cc_loop_end(c, &j);
    cc_loop_end(c, &r);
    if (v->op == IR_SCE)
        cc_st(l, v, cc_i64(c, 0), LLVMBuildFDiv(c->b, cc_get(l, total), nrows, ""));
}

/* sigmoid_cross_entropy, mse and their gradients, element by element. */
static void pointwise(cc_lower *l, const ir_value *v)
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

void cc_lower_loss(cc_lower *l, const ir_value *v)
{
    if (v->op == IR_SCE || v->op == IR_SCE_GRAD_LOGITS || v->op == IR_SCE_GRAD_TARGET)
        sce(l, v);
    else
        pointwise(l, v);
}
