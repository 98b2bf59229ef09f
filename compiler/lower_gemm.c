/* lower_gemm.c -- dense and the matrix products of its backward pass.
   dense is a register-blocked kernel: MR rows by two vectors of columns held
   in MR x 2 accumulators while k runs, then the bias-initialised
   accumulators go through the fused activation chain and are stored once. */
#include "cc.h"

enum { MR = 4 }; /* rows per block: 8 accumulators keep both FMA ports busy */

typedef struct {
    LLVMValueRef x, w, b; /* buffers; b may be NULL */
    LLVMValueRef k, m;    /* i64 */
    bool whole;           /* m is a multiple of 2 * width: no masks */
} gemm;

/* Rows r .. r+mr-1, all column blocks. */
static void dense_rows(cc_lower *l, const ir_value *v, const gemm *g, LLVMValueRef r, int mr)
{
    cc_ctx *c = l->c;
    LLVMValueRef acc[MR][2];
    for (int i = 0; i < mr; i++)
        for (int u = 0; u < 2; u++)
            acc[i][u] = cc_entry_alloca(c, c->vf32);
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
        LLVMValueRef xi = LLVMBuildAdd(
            c->b, LLVMBuildMul(c->b, LLVMBuildAdd(c->b, r, cc_i64(c, i), ""), g->k, ""), ks.i, "");
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

/* rows x g->k times g->k x g->m, bias added, through v's epilogue chain. */
static void run_gemm(cc_lower *l, const ir_value *v, const gemm *g, LLVMValueRef rows)
{
    cc_ctx *c = l->c;
    LLVMValueRef blocked =
        LLVMBuildSub(c->b, rows, LLVMBuildSRem(c->b, rows, cc_i64(c, MR), ""), "");
    cc_loop lp;
    cc_loop_begin(c, &lp, cc_i64(c, 0), blocked, cc_i64(c, MR));
    dense_rows(l, v, g, lp.i, MR);
    cc_loop_end(c, &lp);
    cc_loop_begin(c, &lp, blocked, rows, cc_i64(c, 1));
    dense_rows(l, v, g, lp.i, 1);
    cc_loop_end(c, &lp);
}

/* Whether a literal dim is a multiple of two vectors (no masks needed). */
static bool whole(const cc_ctx *c, const ir_value *v, int d)
{
    return !v->shape.sym[d] && v->shape.dim[d] % (2 * c->width) == 0;
}

void cc_lower_dense(cc_lower *l, const ir_value *v)
{
    cc_ctx *c = l->c;
    const ir_value *W = v->args[1];
    LLVMValueRef dims[IR_MAX_RANK];
    cc_dims(l, W, dims);
    gemm g = {l->buf[v->args[0]->id],
              l->buf[W->id],
              v->nargs == 3 ? l->buf[v->args[2]->id] : NULL,
              dims[0],
              dims[1],
              whole(c, W, 1)};
    run_gemm(l, v, &g, cc_div0(c, cc_numel(l, v->args[0]), g.k, false));
}

/* A transpose, in memory from cc_mem_take, of the rows x cols matrix at src. */
static LLVMValueRef transpose(cc_lower *l, LLVMValueRef src, LLVMValueRef rows, LLVMValueRef cols,
                              LLVMValueRef *raw)
{
    cc_ctx *c = l->c;
    LLVMValueRef bytes = LLVMBuildMul(c->b, LLVMBuildMul(c->b, rows, cols, ""), cc_i64(c, 4), "");
    bytes = LLVMBuildAdd(c->b, bytes, cc_i64(c, 4 * c->width), "");
    *raw = cc_mem_take(l, bytes);
    LLVMValueRef dst = LLVMBuildBitCast(c->b, *raw, c->ptr, "");
    cc_loop r, k;
    cc_loop_begin(c, &r, cc_i64(c, 0), rows, cc_i64(c, 1));
    cc_loop_begin(c, &k, cc_i64(c, 0), cols, cc_i64(c, 1));
    LLVMValueRef from = LLVMBuildAdd(c->b, LLVMBuildMul(c->b, r.i, cols, ""), k.i, "");
    LLVMValueRef to = LLVMBuildAdd(c->b, LLVMBuildMul(c->b, k.i, rows, ""), r.i, "");
    cc_store1(c, cc_load1(c, src, from), dst, to);
    cc_loop_end(c, &k);
    cc_loop_end(c, &r);
    return dst;
}

/* The two products of dense's backward pass run on the same blocked kernel
   with one operand transposed first (K M floats against R K M multiply-adds):
   dY [R, M] · Wᵀ as dY · (Wᵀ), and Xᵀ · dY as (Xᵀ) · dY. The first one's
   epilogue applies f'(z) of the layer below (the activation gradient that is
   its only reader), so that dy is never stored. */
void cc_lower_matmul(cc_lower *l, const ir_value *v)
{
    cc_ctx *c = l->c;
    const ir_value *a = v->args[0], *b = v->args[1];
    LLVMValueRef raw, dims[IR_MAX_RANK], rows;
    gemm g = {0};
    if (v->op == IR_MATMUL_NT) { /* a = dY [R, M], b = W [K, M] */
        cc_dims(l, b, dims);
        g.k = dims[1];
        g.m = dims[0];
        g.x = l->buf[a->id];
        g.w = transpose(l, l->buf[b->id], dims[0], dims[1], &raw);
        g.whole = whole(c, b, 0);
        rows = cc_div0(c, cc_numel(l, a), g.k, false);
    } else { /* a = X [R, K], b = dY [R, M] */
        cc_dims(l, v, dims);
        g.m = dims[1];
        g.k = cc_div0(c, cc_numel(l, a), dims[0], false); /* R */
        g.x = transpose(l, l->buf[a->id], g.k, dims[0], &raw);
        g.w = l->buf[b->id];
        g.whole = whole(c, v, 1);
        rows = dims[0];
    }
    run_gemm(l, v, &g, rows);
    cc_mem_give(l, raw);
}
