/* lower_loss.c -- a loss and the gradients computed with it (one kernel:
   compiler/lower.c joins them), in the JIT's library or in the module:
   sigmoid_cross_entropy and mse here, in double lanes, as runtime/interp.c
   computes them (softmax_cross_entropy is a row kernel, lower_rows.c). The
   loss's terms are added to one sum lane by lane, in the interpreter's
   order (a backward entry with sigmoid_cross_entropy on 1M elements: 18 ms
   in scalar loops, 4.5 so). Also the library's dispatcher of these
   kernels and of column sums (a bias's gradient), and the calls of it. */
#include "cc.h"

#include <stdio.h>

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

/* The op of each member of loss op (cc_loss_members' order). */
static ir_op member_op(ir_op op, int k)
{
    static const ir_op bce[3] = {IR_BCE, IR_BCE_GRAD_X, IR_BCE_GRAD_T};
    static const ir_op mse[3] = {IR_MSE, IR_MSE_GRAD_Y, IR_MSE_GRAD_T};
    return op == IR_BCE ? bce[k] : mse[k];
}

typedef struct {
    cc_ctx *c;
    const cc_loss_job *j;
    LLVMValueRef dl[3], n; /* splatted: the gradients' dL, the element count */
    LLVMValueRef total;    /* the loss's sum (a double slot), or NULL */
} loss_lanes;

static LLVMValueRef load(cc_ctx *c, LLVMValueRef buf, LLVMValueRef i, LLVMValueRef mask)
{
    return LLVMBuildFPExt(c->b, cc_load(c, buf, i, mask), c->vf64, "");
}

/* The loss's terms of the lanes, added to the total one after the other
   (+0 for lanes past the end, which leaves a sum that started at +0 as it
   is). */
static void add_terms(loss_lanes *g, LLVMValueRef r, LLVMValueRef mask)
{
    cc_ctx *c = g->c;
    if (mask)
        r = cc_select(c, mask, r, cc_const(c, c->vf64, 0));
    LLVMValueRef sum = LLVMBuildLoad2(c->b, c->f64, g->total, "");
    for (unsigned k = 0; k < c->width; k++)
        sum = LLVMBuildFAdd(c->b, sum, LLVMBuildExtractElement(c->b, r, cc_i64(c, k), ""), "");
    LLVMBuildStore(c->b, sum, g->total);
}

/* The members' terms of the lanes: the loss's added, the gradients stored. */
static void loss_body(void *arg, LLVMValueRef i, LLVMValueRef mask)
{
    loss_lanes *g = arg;
    cc_ctx *c = g->c;
    const cc_loss_job *j = g->j;
    LLVMValueRef x = load(c, j->x, i, mask), t = load(c, j->t, i, mask);
    if (j->out[0])
        add_terms(g, term(c, j->op, x, t, NULL, g->n), mask);
    for (int k = 1; k < 3; k++) {
        if (!j->out[k])
            continue;
        LLVMValueRef r = term(c, member_op(j->op, k), x, t, g->dl[k], g->n);
        cc_store(c, LLVMBuildFPTrunc(c->b, r, c->vf32, ""), j->out[k], i, mask);
    }
}

/* sigmoid_cross_entropy or mse over rows x len elements. */
static void lower_pointwise_loss(cc_lower *l, const cc_loss_job *j)
{
    cc_ctx *c = l->c;
    LLVMValueRef n = LLVMBuildNSWMul(c->b, j->rows, j->len, "");
    LLVMValueRef nf = LLVMBuildSIToFP(c->b, n, c->f64, "");
    loss_lanes g = {.c = c, .j = j, .n = cc_splat(c, nf)};
    if (j->out[0]) {
        g.total = cc_entry_alloca(c, c->f64);
        LLVMBuildStore(c->b, LLVMConstReal(c->f64, 0), g.total);
    }
    for (int k = 1; k < 3; k++)
        if (j->out[k])
            g.dl[k] = cc_splat(c, j->dl[k]);
    cc_vector_loop_once(c, n, loss_body, &g);
    if (j->out[0]) {
        LLVMValueRef mean = LLVMBuildFDiv(c->b, LLVMBuildLoad2(c->b, c->f64, g.total, ""), nf, "");
        cc_store1(c, LLVMBuildFPTrunc(c->b, mean, c->f32, ""), j->out[0], cc_i64(c, 0));
    }
}

static void lower_job(cc_lower *l, const cc_loss_job *j)
{
    if (j->op == IR_SCE || j->op == IR_SOFTMAX || j->op == IR_LOG_SOFTMAX)
        cc_lower_row_job(l, j);
    else
        lower_pointwise_loss(l, j);
}

/* The library's loss kernels: one function for every loss and set of
   members, reached through one dispatcher, whose `what` is the loss's
   index in `losses` times 8 plus a bit per member (1 the loss, 2 x's
   gradient, 4 t's); COL_SUMS is cc_col_sums of x into the loss's array
   (rows x len); SOFTMAX_ROWS and LOG_SOFTMAX_ROWS those functions along
   the rows of x into the loss's array. */
static const ir_op losses[] = {IR_SCE, IR_BCE, IR_MSE};
enum {
    NLOSSES = sizeof losses / sizeof *losses,
    LOSS_ARGS = 11,
    COL_SUMS = 8 * NLOSSES,
    SOFTMAX_ROWS,
    LOG_SOFTMAX_ROWS
};

static int loss_index(ir_op op)
{
    int i = 0;
    while (losses[i] != op)
        i++;
    return i;
}

/* x, t, the loss, x's and t's gradients (float*, NULL when not computed),
   their dL, rows, len, the JIT's pool, what. */
static LLVMTypeRef loss_type(cc_ctx *c)
{
    LLVMTypeRef i8p = LLVMPointerType(LLVMInt8TypeInContext(c->ctx), 0);
    LLVMTypeRef p[LOSS_ARGS] = {c->ptr, c->ptr, c->ptr, c->ptr, c->ptr, c->f64,
                                c->f64, c->i64, c->i64, i8p,    c->i32};
    return LLVMFunctionType(LLVMVoidTypeInContext(c->ctx), p, LOSS_ARGS, false);
}

/* The kernel of one loss and set of members (or of a softmax or
   log_softmax: members 1, the loss's array), on the dispatcher's
   arguments. */
static LLVMValueRef define_kernel(cc_ctx *c, ir_op op, int members)
{
    char name[64];
    if (op == IR_SOFTMAX || op == IR_LOG_SOFTMAX)
        snprintf(name, sizeof name, "act.rows.%s", op == IR_SOFTMAX ? "softmax" : "log_softmax");
    else
        snprintf(name, sizeof name, "act.loss.%d.%d", loss_index(op), members);
    LLVMValueRef fn = LLVMAddFunction(c->mod, name, loss_type(c));
    LLVMSetLinkage(fn, LLVMInternalLinkage);
    LLVMPositionBuilderAtEnd(c->b, LLVMAppendBasicBlockInContext(c->ctx, fn, "entry"));
    cc_lower l = {.c = c};
    cc_declare_pool(&l, "cc_pool_take", "cc_pool_give");
    l.pool = LLVMGetParam(fn, 9);
    cc_loss_job j = {.op = op, .x = LLVMGetParam(fn, 0), .t = LLVMGetParam(fn, 1)};
    for (int k = 0; k < 3; k++)
        j.out[k] = members & 1 << k ? LLVMGetParam(fn, 2 + (unsigned)k) : NULL;
    j.dl[1] = LLVMGetParam(fn, 5);
    j.dl[2] = LLVMGetParam(fn, 6);
    j.rows = LLVMGetParam(fn, 7);
    j.len = LLVMGetParam(fn, 8);
    lower_job(&l, &j);
    LLVMBuildRetVoid(c->b);
    return fn;
}

/* Column sums on the dispatcher's arguments. */
static LLVMValueRef define_col_sums(cc_ctx *c)
{
    LLVMValueRef fn = LLVMAddFunction(c->mod, "act.col_sums", loss_type(c));
    LLVMSetLinkage(fn, LLVMInternalLinkage);
    LLVMPositionBuilderAtEnd(c->b, LLVMAppendBasicBlockInContext(c->ctx, fn, "entry"));
    cc_col_sums(c, LLVMGetParam(fn, 0), LLVMGetParam(fn, 7), LLVMGetParam(fn, 8),
                LLVMGetParam(fn, 2));
    LLVMBuildRetVoid(c->b);
    return fn;
}

/* A case of the dispatcher's switch: a call of kernel. */
static void add_case(cc_ctx *c, LLVMValueRef fn, LLVMValueRef sw, int what, LLVMValueRef kernel)
{
    LLVMValueRef args[LOSS_ARGS];
    for (unsigned i = 0; i < LOSS_ARGS; i++)
        args[i] = LLVMGetParam(fn, i);
    LLVMBasicBlockRef at = LLVMAppendBasicBlockInContext(c->ctx, fn, "");
    LLVMAddCase(sw, LLVMConstInt(c->i32, (unsigned long long)what, 0), at);
    LLVMPositionBuilderAtEnd(c->b, at);
    LLVMBuildCall2(c->b, loss_type(c), kernel, args, LOSS_ARGS, "");
    LLVMBuildRetVoid(c->b);
}

void cc_kernels_define(cc_ctx *c, const char *name)
{
    LLVMValueRef fn = LLVMAddFunction(c->mod, name, loss_type(c));
    /* libact's own, as the GEMMs */
    LLVMSetVisibility(fn, LLVMHiddenVisibility);
    LLVMBasicBlockRef entry = LLVMAppendBasicBlockInContext(c->ctx, fn, "entry");
    LLVMBasicBlockRef none = LLVMAppendBasicBlockInContext(c->ctx, fn, "none");
    LLVMPositionBuilderAtEnd(c->b, none);
    LLVMBuildRetVoid(c->b);
    LLVMPositionBuilderAtEnd(c->b, entry);
    LLVMValueRef sw = LLVMBuildSwitch(c->b, LLVMGetParam(fn, LOSS_ARGS - 1), none, NLOSSES * 7 + 3);
    for (int i = 0; i < NLOSSES; i++)
        for (int members = 1; members < 8; members++)
            add_case(c, fn, sw, 8 * i + members, define_kernel(c, losses[i], members));
    add_case(c, fn, sw, COL_SUMS, define_col_sums(c));
    add_case(c, fn, sw, SOFTMAX_ROWS, define_kernel(c, IR_SOFTMAX, 1));
    add_case(c, fn, sw, LOG_SOFTMAX_ROWS, define_kernel(c, IR_LOG_SOFTMAX, 1));
}

/* A call of the library's dispatcher (c->kernels). */
static void call_library(cc_lower *l, int what, const cc_loss_job *j)
{
    cc_ctx *c = l->c;
    LLVMValueRef fn = LLVMGetNamedFunction(c->mod, c->kernels);
    if (!fn)
        fn = LLVMAddFunction(c->mod, c->kernels, loss_type(c));
    LLVMValueRef zero = LLVMConstReal(c->f64, 0), args[LOSS_ARGS] = {j->x, j->t ? j->t : j->x};
    for (int k = 0; k < 3; k++)
        args[2 + k] = j->out[k] ? j->out[k] : LLVMConstNull(c->ptr);
    args[5] = j->dl[1] ? j->dl[1] : zero;
    args[6] = j->dl[2] ? j->dl[2] : zero;
    args[7] = j->rows;
    args[8] = j->len;
    args[9] = l->pool;
    args[10] = LLVMConstInt(c->i32, (unsigned long long)what, 0);
    LLVMBuildCall2(c->b, loss_type(c), fn, args, LOSS_ARGS, "");
}

bool cc_library_rows(cc_lower *l, const cc_loss_job *j)
{
    if (!l->c->kernels)
        return false;
    call_library(l, j->op == IR_SOFTMAX ? SOFTMAX_ROWS : LOG_SOFTMAX_ROWS, j);
    return true;
}

void cc_lower_col_sums(cc_lower *l, LLVMValueRef g, LLVMValueRef rows, LLVMValueRef cols,
                       LLVMValueRef out)
{
    if (!l->c->kernels) {
        cc_col_sums(l->c, g, rows, cols, out);
        return;
    }
    cc_loss_job j = {.x = g, .out = {out}, .rows = rows, .len = cols};
    call_library(l, COL_SUMS, &j);
}

/* A loss and its members computed in v's kernel (cc_loss_members): a call
   of the library's kernel where the target has one, else the kernel in the
   module. The JIT's modules then leave that code to the library: mlp784's
   backward entry 959 -> 666 machine instructions, xor's 1098 -> 722. */
void cc_lower_loss(cc_lower *l, const ir_value *v)
{
    cc_ctx *c = l->c;
    const ir_value *m[3];
    cc_loss_members(l, v, m);
    cc_loss_job j = {.op = cc_loss_op(v), .x = l->buf[v->args[0]->id], .t = l->buf[v->args[1]->id]};
    int members = 0;
    for (int k = 0; k < 3; k++) {
        j.out[k] = m[k] ? l->buf[m[k]->id] : NULL;
        members |= m[k] ? 1 << k : 0;
        j.dl[k] = k && m[k] ? cc_ld(l, m[k]->args[2], cc_i64(c, 0)) : NULL;
    }
    LLVMValueRef inner;
    if (j.op == IR_SCE) {
        cc_axis_split(l, v->args[0], -1, &j.rows, &j.len, &inner);
    } else {
        j.rows = cc_numel(l, v->args[0]);
        j.len = cc_i64(c, 1);
    }
    if (c->kernels)
        call_library(l, 8 * loss_index(j.op) + members, &j);
    else
        lower_job(l, &j);
}
