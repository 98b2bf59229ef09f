/* lower_loss.c -- sigmoid_cross_entropy and mse and their gradients, in
   double lanes, as runtime/interp.c computes them (softmax_cross_entropy is
   a row kernel, lower_softmax.c). The loss's terms are added to one sum
   lane by lane, in the interpreter's order (a backward entry with
   sigmoid_cross_entropy on 1M elements: 18 ms in scalar loops, 4.5 so).
   One kernel computes the loss and both gradients when the entry computes
   them (compiler/lower.c): one pass over x and t. */
#include "cc.h"

/* The terms of x, t (double lanes) of loss op, or its gradient for dl,
   divided by n. */
static LLVMValueRef term(cc_ctx *c, ir_op op, LLVMValueRef x, LLVMValueRef t, LLVMValueRef dl,
                         LLVMValueRef n)
{
    LLVMBuilderRef b = c->b;
    LLVMTypeRef ty = LLVMTypeOf(x);
    LLVMValueRef zero = cc_const(c, ty, 0), r;
    LLVMValueRef diff2 = LLVMBuildFMul(b, cc_const(c, ty, 2), LLVMBuildFSub(b, x, t, ""), "");
    switch (op) {
    case IR_BCE: { /* max(x, 0) - x t + log1p(exp(-|x|)) */
        LLVMValueRef pos = cc_select(c, LLVMBuildFCmp(b, LLVMRealOGT, x, zero, ""), x, zero);
        LLVMValueRef ax = cc_intrinsic(c, "llvm.fabs", &x, 1);
        LLVMValueRef log = cc_vm_log1p(c, cc_vm_exp(c, LLVMBuildFNeg(b, ax, "")));
        return LLVMBuildFAdd(b, LLVMBuildFSub(b, pos, LLVMBuildFMul(b, x, t, ""), ""), log, "");
    }
    case IR_MSE:
        return LLVMBuildFMul(b, LLVMBuildFSub(b, x, t, ""), LLVMBuildFSub(b, x, t, ""), "");
    case IR_BCE_GRAD_X:
        r = LLVMBuildFMul(b, dl, LLVMBuildFSub(b, cc_vm_sigmoid(c, x), t, ""), "");
        break;
    case IR_BCE_GRAD_T:
        r = LLVMBuildFNeg(b, LLVMBuildFMul(b, dl, x, ""), "");
        break;
    case IR_MSE_GRAD_Y:
        r = LLVMBuildFMul(b, dl, diff2, "");
        break;
    default: /* IR_MSE_GRAD_T */
        r = LLVMBuildFNeg(b, LLVMBuildFMul(b, dl, diff2, ""), "");
        break;
    }
    return LLVMBuildFDiv(b, r, n, "");
}

typedef struct {
    cc_lower *l;
    const ir_value *m[3];  /* the loss, the gradients of x and t: cc_loss_members */
    LLVMValueRef dl[3], n; /* splatted: the gradients' dL, the element count */
    LLVMValueRef total;    /* the loss's sum, or NULL */
} loss_lanes;

static LLVMValueRef load(cc_lower *l, const ir_value *v, LLVMValueRef i, LLVMValueRef mask)
{
    return LLVMBuildFPExt(l->c->b, cc_load(l->c, l->buf[v->id], i, mask), l->c->vf64, "");
}

/* The loss's terms of the lanes, added to the total one after the other
   (+0 for lanes past the end, which leaves a sum that started at +0 as it
   is). */
static void add_terms(loss_lanes *g, LLVMValueRef r, LLVMValueRef mask)
{
    cc_ctx *c = g->l->c;
    if (mask)
        r = cc_select(c, mask, r, cc_const(c, c->vf64, 0));
    LLVMValueRef sum = cc_get(g->l, g->total);
    for (unsigned k = 0; k < c->width; k++)
        sum = LLVMBuildFAdd(c->b, sum, LLVMBuildExtractElement(c->b, r, cc_i64(c, k), ""), "");
    cc_set(g->l, g->total, sum);
}

/* The members' terms of the lanes: the loss's added, the gradients stored. */
static void loss_body(void *arg, LLVMValueRef i, LLVMValueRef mask)
{
    loss_lanes *g = arg;
    cc_ctx *c = g->l->c;
    const ir_value *v = g->m[0] ? g->m[0] : g->m[1] ? g->m[1] : g->m[2];
    LLVMValueRef x = load(g->l, v->args[0], i, mask), t = load(g->l, v->args[1], i, mask);
    if (g->m[0])
        add_terms(g, term(c, g->m[0]->op, x, t, NULL, g->n), mask);
    for (int k = 1; k < 3; k++) {
        if (!g->m[k])
            continue;
        LLVMValueRef r = term(c, g->m[k]->op, x, t, g->dl[k], g->n);
        cc_store(c, LLVMBuildFPTrunc(c->b, r, c->vf32, ""), g->l->buf[g->m[k]->id], i, mask);
    }
}

/* sigmoid_cross_entropy, mse and their gradients computed in v's kernel. */
void cc_lower_loss(cc_lower *l, const ir_value *v)
{
    cc_ctx *c = l->c;
    LLVMValueRef n = cc_numel(l, v->args[0]), nf = LLVMBuildSIToFP(c->b, n, c->f64, "");
    loss_lanes g = {.l = l, .n = cc_splat(c, nf)};
    cc_loss_members(l, v, g.m);
    if (g.m[0])
        g.total = cc_acc(l, 0);
    for (int k = 1; k < 3; k++)
        if (g.m[k])
            g.dl[k] = cc_splat(c, cc_ld(l, g.m[k]->args[2], cc_i64(c, 0)));
    cc_vector_loop_once(c, n, loss_body, &g);
    if (g.m[0])
        cc_st(l, g.m[0], cc_i64(c, 0), LLVMBuildFDiv(c->b, cc_get(l, g.total), nf, ""));
}
