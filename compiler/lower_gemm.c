/* lower_gemm.c -- dense and the matrix products of its backward pass.
   dense is a register-blocked kernel: MR rows by two vectors of columns held
   in MR x 2 accumulators while k runs, then the bias-initialised
   accumulators go through the fused activation chain and are stored once. */
#include "cc.h"

enum { MR = 4 }; /* rows per block: 8 accumulators keep both FMA ports busy */

/* An alloca in the entry block, where SROA turns it into registers. */
static LLVMValueRef entry_alloca(cc_ctx *c, LLVMTypeRef t)
{
    LLVMBasicBlockRef here = LLVMGetInsertBlock(c->b);
    LLVMValueRef fn = LLVMGetBasicBlockParent(here);
    LLVMBasicBlockRef entry = LLVMGetEntryBasicBlock(fn);
    LLVMValueRef first = LLVMGetFirstInstruction(entry);
    if (first)
        LLVMPositionBuilderBefore(c->b, first);
    else
        LLVMPositionBuilderAtEnd(c->b, entry);
    LLVMValueRef a = LLVMBuildAlloca(c->b, t, "");
    LLVMPositionBuilderAtEnd(c->b, here);
    return a;
}

typedef struct {
    LLVMValueRef x, w, b;  /* buffers; b may be NULL */
    LLVMValueRef k, m;     /* i64 */
    bool whole;            /* m is a multiple of 2 * width: no masks */
} gemm;

/* Rows r .. r+mr-1, all column blocks. */
static void dense_rows(cc_lower *l, const ir_value *v, const gemm *g, LLVMValueRef r, int mr)
{
    cc_ctx *c = l->c;
    LLVMValueRef acc[MR][2];
    for (int i = 0; i < mr; i++)
        for (int u = 0; u < 2; u++)
            acc[i][u] = entry_alloca(c, c->vf32);
    cc_loop cols;
    cc_loop_begin(c, &cols, cc_i64(c, 0), g->m, cc_i64(c, 2 * c->width));
    LLVMValueRef j[2] = {cols.i, LLVMBuildAdd(c->b, cols.i, cc_i64(c, c->width), "")};
    LLVMValueRef mask[2] = {g->whole ? NULL : cc_mask(c, j[0], g->m),
                            g->whole ? NULL : cc_mask(c, j[1], g->m)};
    for (int u = 0; u < 2; u++) {
        LLVMValueRef init = g->b ? cc_load(c, g->b, j[u], mask[u]) : LLVMConstNull(c->vf32);
        for (int i = 0; i < mr; i++)
            LLVMBuildStore(c->b, init, acc[i][u]);
    }
    cc_loop ks;
    cc_loop_begin(c, &ks, cc_i64(c, 0), g->k, cc_i64(c, 1));
    LLVMValueRef row = LLVMBuildMul(c->b, ks.i, g->m, "");
    LLVMValueRef w[2];
    for (int u = 0; u < 2; u++)
        w[u] = cc_load(c, g->w, LLVMBuildAdd(c->b, row, j[u], ""), mask[u]);
    for (int i = 0; i < mr; i++) {
        LLVMValueRef xi = LLVMBuildAdd(c->b, LLVMBuildMul(c->b, LLVMBuildAdd(c->b, r, cc_i64(c, i), ""), g->k, ""), ks.i, "");
        LLVMValueRef xs = cc_splat(c, cc_load1(c, g->x, xi));
        for (int u = 0; u < 2; u++) {
            LLVMValueRef a = LLVMBuildLoad2(c->b, c->vf32, acc[i][u], "");
            LLVMBuildStore(c->b, cc_fma(c, xs, w[u], a), acc[i][u]);
        }
    }
    cc_loop_end(c, &ks);
    for (int i = 0; i < mr; i++) {
        LLVMValueRef base = LLVMBuildMul(c->b, LLVMBuildAdd(c->b, r, cc_i64(c, i), ""), g->m, "");
        for (int u = 0; u < 2; u++)
            cc_lower_chain(l, v, LLVMBuildLoad2(c->b, c->vf32, acc[i][u], ""),
                           LLVMBuildAdd(c->b, base, j[u], ""), mask[u]);
    }
    cc_loop_end(c, &cols);
}

void cc_lower_dense(cc_lower *l, const ir_value *v)
{
    cc_ctx *c = l->c;
    const ir_value *W = v->args[1];
    LLVMValueRef dims[IR_MAX_RANK];
    cc_dims(l, W, dims);
    gemm g = {l->buf[v->args[0]->id], l->buf[W->id],
              v->nargs == 3 ? l->buf[v->args[2]->id] : NULL, dims[0], dims[1],
              !W->shape.sym[1] && W->shape.dim[1] % (2 * c->width) == 0};
    LLVMValueRef rows = LLVMBuildSDiv(c->b, cc_numel(l, v->args[0]), g.k, "");
    LLVMValueRef blocked = LLVMBuildSub(c->b, rows, LLVMBuildSRem(c->b, rows, cc_i64(c, MR), ""), "");
    cc_loop lp;
    cc_loop_begin(c, &lp, cc_i64(c, 0), blocked, cc_i64(c, MR));
    dense_rows(l, v, &g, lp.i, MR);
    cc_loop_end(c, &lp);
    cc_loop_begin(c, &lp, blocked, rows, cc_i64(c, 1));
    dense_rows(l, v, &g, lp.i, 1);
    cc_loop_end(c, &lp);
}

/* Sum of the lanes (in lane order). */
static LLVMValueRef reduce_add(cc_ctx *c, LLVMValueRef v)
{
    LLVMValueRef args[2] = {LLVMConstReal(c->f32, 0), v};
    LLVMTypeRef t = c->vf32;
    unsigned id = LLVMLookupIntrinsicID("llvm.vector.reduce.fadd", 23);
    LLVMValueRef fn = LLVMGetIntrinsicDeclaration(c->mod, id, &t, 1);
    return LLVMBuildCall2(c->b, LLVMIntrinsicGetType(c->ctx, id, &t, 1), fn, args, 2, "");
}

/* dY [R, M] · Wᵀ: dot products of rows of dY with rows of W. */
static void matmul_nt(cc_lower *l, const ir_value *v)
{
    cc_ctx *c = l->c;
    LLVMValueRef dims[IR_MAX_RANK];
    cc_dims(l, v->args[1], dims);
    LLVMValueRef k = dims[0], m = dims[1], g = l->buf[v->args[0]->id], w = l->buf[v->args[1]->id];
    LLVMValueRef rows = LLVMBuildSDiv(c->b, cc_numel(l, v->args[0]), m, "");
    LLVMValueRef acc = entry_alloca(c, c->vf32);
    cc_loop r, i, j;
    cc_loop_begin(c, &r, cc_i64(c, 0), rows, cc_i64(c, 1));
    cc_loop_begin(c, &i, cc_i64(c, 0), k, cc_i64(c, 1));
    LLVMBuildStore(c->b, LLVMConstNull(c->vf32), acc);
    cc_loop_begin(c, &j, cc_i64(c, 0), m, cc_i64(c, c->width));
    LLVMValueRef mask = cc_mask(c, j.i, m);
    LLVMValueRef a = cc_load(c, g, LLVMBuildAdd(c->b, LLVMBuildMul(c->b, r.i, m, ""), j.i, ""), mask);
    LLVMValueRef b = cc_load(c, w, LLVMBuildAdd(c->b, LLVMBuildMul(c->b, i.i, m, ""), j.i, ""), mask);
    LLVMBuildStore(c->b, cc_fma(c, a, b, LLVMBuildLoad2(c->b, c->vf32, acc, "")), acc);
    cc_loop_end(c, &j);
    LLVMValueRef out = LLVMBuildAdd(c->b, LLVMBuildMul(c->b, r.i, k, ""), i.i, "");
    cc_store1(c, reduce_add(c, LLVMBuildLoad2(c->b, c->vf32, acc, "")), l->buf[v->id], out);
    cc_loop_end(c, &i);
    cc_loop_end(c, &r);
}

/* Xᵀ [K, R] · dY [R, M]: each output row a sum over the rows of dY. */
static void matmul_tn(cc_lower *l, const ir_value *v)
{
    cc_ctx *c = l->c;
    LLVMValueRef dims[IR_MAX_RANK];
    cc_dims(l, v, dims);
    LLVMValueRef k = dims[0], m = dims[1], x = l->buf[v->args[0]->id], g = l->buf[v->args[1]->id];
    LLVMValueRef rows = LLVMBuildSDiv(c->b, cc_numel(l, v->args[0]), k, "");
    LLVMValueRef acc = entry_alloca(c, c->vf32);
    cc_loop i, j, r;
    cc_loop_begin(c, &i, cc_i64(c, 0), k, cc_i64(c, 1));
    cc_loop_begin(c, &j, cc_i64(c, 0), m, cc_i64(c, c->width));
    LLVMValueRef mask = cc_mask(c, j.i, m);
    LLVMBuildStore(c->b, LLVMConstNull(c->vf32), acc);
    cc_loop_begin(c, &r, cc_i64(c, 0), rows, cc_i64(c, 1));
    LLVMValueRef xs = cc_splat(c, cc_load1(c, x, LLVMBuildAdd(c->b, LLVMBuildMul(c->b, r.i, k, ""), i.i, "")));
    LLVMValueRef gv = cc_load(c, g, LLVMBuildAdd(c->b, LLVMBuildMul(c->b, r.i, m, ""), j.i, ""), mask);
    LLVMBuildStore(c->b, cc_fma(c, xs, gv, LLVMBuildLoad2(c->b, c->vf32, acc, "")), acc);
    cc_loop_end(c, &r);
    cc_store(c, LLVMBuildLoad2(c->b, c->vf32, acc, ""), l->buf[v->id],
             LLVMBuildAdd(c->b, LLVMBuildMul(c->b, i.i, m, ""), j.i, ""), mask);
    cc_loop_end(c, &j);
    cc_loop_end(c, &i);
}

void cc_lower_matmul(cc_lower *l, const ir_value *v)
{
    if (v->op == IR_MATMUL_NT)
        matmul_nt(l, v);
    else
        matmul_tn(l, v);
}
