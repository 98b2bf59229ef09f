/* gemm.c -- the one matrix product of a module, shared by every dense layer
   and every product of their backward passes (sizes and strides are its
   arguments, so a graph's products cost one function's compile time).
   Blocked for the caches as in Goto and van de Geijn, "Anatomy of
   High-Performance Matrix Multiplication" (2008): the K x N operand is
   packed in blocks of KC x NC (L2) into panels two vectors wide; a
   register-blocked micro-kernel runs MR rows by two vectors of columns,
   k in order, so each sum is the same float sum as an unblocked loop's.
   After a row strip's last K block the caller's epilogue runs on it while
   it is in L1 (bias is added first: it initialises the accumulators). */
#include "cc.h"

enum {
    MR = 4,         /* rows of the main micro-kernel: 8 accumulators keep the FMA pipes busy */
    GEMV_VECS = 8,  /* vectors of the one-row kernel (tail rows, M = 1): independent sums */
    KC = 256,       /* K block: a panel (KC x two vectors) is 32 KB with AVX-512 */
    NC = 512,       /* N block: a packed KC x NC block is 512 KB, half of a Zen 4 L2 */
    PACK_ROWS = 16, /* pack B from this many rows: below, B is read too few times to pay */
};

/* The function's arguments and the current blocks, as a micro-kernel reads
   them. B[k, j] of the block is at bp[k ldb + (j / 2W) pstride + j % 2W]. */
typedef struct {
    LLVMValueRef a, a_rs, a_cs, c_buf, bias, n;
    LLVMValueRef bp, ldb, pstride;
    LLVMValueRef first, pc, kc, jc, colend; /* first K block?, K block, N block */
} blocks;

static LLVMValueRef add(cc_ctx *c, LLVMValueRef a, LLVMValueRef b)
{
    return LLVMBuildAdd(c->b, a, b, "");
}

static LLVMValueRef mul(cc_ctx *c, LLVMValueRef a, LLVMValueRef b)
{
    return LLVMBuildMul(c->b, a, b, "");
}

static LLVMValueRef imin(cc_ctx *c, LLVMValueRef a, LLVMValueRef b)
{
    return LLVMBuildSelect(c->b, LLVMBuildICmp(c->b, LLVMIntSLT, a, b, ""), a, b, "");
}

static LLVMValueRef mask_if(cc_ctx *c, LLVMValueRef mask, LLVMValueRef flag)
{
    return LLVMBuildAnd(c->b, mask, cc_splat(c, flag), "");
}

/* The tile of C at rows ic .. ic+mr-1 and nv vectors of columns from
   jc + jr (lanes past the N block masked off): the bias on the first K
   block, else the partial sums in C; plus A[rows, K block] B[K block,
   columns] in k order; stored back to C. */
static void micro(cc_ctx *c, const blocks *b, LLVMValueRef ic, LLVMValueRef jr, int mr, int nv)
{
    LLVMValueRef acc[MR][GEMV_VECS], col[GEMV_VECS], mask[GEMV_VECS], boff[GEMV_VECS], crow[MR];
    LLVMValueRef panel = mul(c, LLVMBuildUDiv(c->b, jr, cc_i64(c, 2 * c->width), ""), b->pstride);
    LLVMValueRef bias_first =
        LLVMBuildAnd(c->b, LLVMBuildIsNotNull(c->b, b->bias, ""), b->first, "");
    LLVMValueRef later = LLVMBuildNot(c->b, b->first, "");
    for (int i = 0; i < mr; i++)
        crow[i] = mul(c, add(c, ic, cc_i64(c, i)), b->n);
    for (int u = 0; u < nv; u++) {
        col[u] = add(c, add(c, b->jc, jr), cc_i64(c, u * (int64_t)c->width));
        mask[u] = cc_mask(c, col[u], b->colend);
        boff[u] = add(c, add(c, panel, mul(c, cc_i64(c, u / 2), b->pstride)),
                      cc_i64(c, (u % 2) * (int64_t)c->width));
        LLVMValueRef bias = cc_load(c, b->bias, col[u], mask_if(c, mask[u], bias_first));
        for (int i = 0; i < mr; i++) {
            LLVMValueRef part =
                cc_load(c, b->c_buf, add(c, crow[i], col[u]), mask_if(c, mask[u], later));
            acc[i][u] = cc_entry_alloca(c, c->vf32);
            LLVMBuildStore(c->b, LLVMBuildSelect(c->b, b->first, bias, part, ""), acc[i][u]);
        }
    }
    cc_loop ks;
    cc_loop_begin(c, &ks, cc_i64(c, 0), b->kc, cc_i64(c, 1));
    LLVMValueRef brow = mul(c, ks.i, b->ldb), acol = mul(c, add(c, b->pc, ks.i), b->a_cs);
    LLVMValueRef w[GEMV_VECS];
    for (int u = 0; u < nv; u++)
        w[u] = cc_load(c, b->bp, add(c, brow, boff[u]), mask[u]);
    for (int i = 0; i < mr; i++) {
        LLVMValueRef ai = add(c, mul(c, add(c, ic, cc_i64(c, i)), b->a_rs), acol);
        LLVMValueRef xs = cc_splat(c, cc_load1(c, b->a, ai));
        for (int u = 0; u < nv; u++) {
            LLVMValueRef sum = LLVMBuildLoad2(c->b, c->vf32, acc[i][u], "");
            LLVMBuildStore(c->b, cc_fma(c, xs, w[u], sum), acc[i][u]);
        }
    }
    cc_loop_end(c, &ks);
    for (int i = 0; i < mr; i++)
        for (int u = 0; u < nv; u++)
            cc_store(c, LLVMBuildLoad2(c->b, c->vf32, acc[i][u], ""), b->c_buf,
                     add(c, crow[i], col[u]), mask[u]);
}

/* Copies B[pc .. pc+kc, jc .. colend] into panels of two vectors at p:
   panel q holds columns jc + 2W q .. as kc rows of 2W floats. Rows of B
   are contiguous (b_cs = 1: vector loads) or not (a transposed operand:
   gathers). */
static void pack(cc_ctx *c, const blocks *b, LLVMValueRef p, LLVMValueRef src, LLVMValueRef b_rs,
                 LLVMValueRef b_cs, bool contiguous)
{
    cc_loop q, k;
    LLVMValueRef two = cc_i64(c, 2 * c->width);
    cc_loop_begin(c, &q, cc_i64(c, 0), LLVMBuildSub(c->b, b->colend, b->jc, ""), two);
    cc_loop_begin(c, &k, cc_i64(c, 0), b->kc, cc_i64(c, 1));
    LLVMValueRef row = mul(c, add(c, b->pc, k.i), b_rs);
    LLVMValueRef to = add(c, mul(c, q.i, b->kc), mul(c, k.i, two));
    for (int u = 0; u < 2; u++) {
        LLVMValueRef col = add(c, add(c, b->jc, q.i), cc_i64(c, u * (int64_t)c->width));
        LLVMValueRef mask = cc_mask(c, col, b->colend), v;
        if (contiguous) {
            v = cc_load(c, src, add(c, row, col), mask);
        } else {
            LLVMValueRef cols = LLVMBuildAdd(c->b, cc_splat(c, col), cc_lanes(c), "");
            LLVMValueRef idx = LLVMBuildAdd(c->b, cc_splat(c, row),
                                            LLVMBuildMul(c->b, cols, cc_splat(c, b_cs), ""), "");
            v = cc_gather(c, src, idx, mask);
        }
        cc_store(c, v, p, add(c, to, cc_i64(c, u * (int64_t)c->width)), NULL);
    }
    cc_loop_end(c, &k);
    cc_loop_end(c, &q);
}

/* Packs the current block when do_pack (bp is then the panels), else
   points bp, ldb and pstride at B itself. */
static void block_b(cc_ctx *c, blocks *b, LLVMValueRef packed, LLVMValueRef src, LLVMValueRef b_rs,
                    LLVMValueRef b_cs, LLVMValueRef do_pack)
{
    LLVMValueRef fn = LLVMGetBasicBlockParent(LLVMGetInsertBlock(c->b));
    LLVMBasicBlockRef choose = LLVMAppendBasicBlockInContext(c->ctx, fn, "pack");
    LLVMBasicBlockRef load = LLVMAppendBasicBlockInContext(c->ctx, fn, "load");
    LLVMBasicBlockRef gather = LLVMAppendBasicBlockInContext(c->ctx, fn, "gather");
    LLVMBasicBlockRef join = LLVMAppendBasicBlockInContext(c->ctx, fn, "packed");
    LLVMValueRef two = cc_i64(c, 2 * c->width), at = add(c, mul(c, b->pc, b_rs), b->jc);
    LLVMValueRef direct = LLVMBuildGEP2(c->b, c->f32, src, &at, 1, "");
    b->bp = LLVMBuildSelect(c->b, do_pack, packed, direct, "");
    b->ldb = LLVMBuildSelect(c->b, do_pack, two, b_rs, "");
    b->pstride = LLVMBuildSelect(c->b, do_pack, mul(c, b->kc, two), two, "");
    LLVMBuildCondBr(c->b, do_pack, choose, join);
    LLVMPositionBuilderAtEnd(c->b, choose);
    LLVMBuildCondBr(c->b, LLVMBuildICmp(c->b, LLVMIntEQ, b_cs, cc_i64(c, 1), ""), load, gather);
    LLVMPositionBuilderAtEnd(c->b, load);
    pack(c, b, packed, src, b_rs, b_cs, true);
    LLVMBuildBr(c->b, join);
    LLVMPositionBuilderAtEnd(c->b, gather);
    pack(c, b, packed, src, b_rs, b_cs, false);
    LLVMBuildBr(c->b, join);
    LLVMPositionBuilderAtEnd(c->b, join);
}

/* Rows ic .. ic+mr-1 (micro-kernels of mr rows and nv vectors across the N
   block), then the epilogue on the strip when this K block is the last. */
static void row_strip(cc_ctx *c, const blocks *b, LLVMValueRef ic, int mr, int nv, LLVMValueRef epi,
                      LLVMValueRef epi_ctx, LLVMValueRef run_epi)
{
    cc_loop jr;
    LLVMValueRef ncols = LLVMBuildSub(c->b, b->colend, b->jc, "");
    cc_loop_begin(c, &jr, cc_i64(c, 0), ncols, cc_i64(c, nv * (int64_t)c->width));
    micro(c, b, ic, jr.i, mr, nv);
    cc_loop_end(c, &jr);
    LLVMValueRef fn = LLVMGetBasicBlockParent(LLVMGetInsertBlock(c->b));
    LLVMBasicBlockRef call = LLVMAppendBasicBlockInContext(c->ctx, fn, "epilogue");
    LLVMBasicBlockRef after = LLVMAppendBasicBlockInContext(c->ctx, fn, "strip_done");
    LLVMBuildCondBr(c->b, run_epi, call, after);
    LLVMPositionBuilderAtEnd(c->b, call);
    LLVMValueRef args[6] = {epi_ctx, ic, cc_i64(c, mr), b->jc, ncols, b->n};
    LLVMBuildCall2(c->b, cc_epilogue_type(c), epi, args, 6, "");
    LLVMBuildBr(c->b, after);
    LLVMPositionBuilderAtEnd(c->b, after);
}

LLVMTypeRef cc_epilogue_type(cc_ctx *c)
{
    LLVMTypeRef i8p = LLVMPointerType(LLVMInt8TypeInContext(c->ctx), 0);
    LLVMTypeRef params[6] = {i8p, c->i64, c->i64, c->i64, c->i64, c->i64};
    return LLVMFunctionType(LLVMVoidTypeInContext(c->ctx), params, 6, false);
}

LLVMTypeRef cc_gemm_type(cc_ctx *c)
{
    LLVMTypeRef i8p = LLVMPointerType(LLVMInt8TypeInContext(c->ctx), 0);
    LLVMTypeRef epi = LLVMPointerType(cc_epilogue_type(c), 0);
    LLVMTypeRef params[13] = {c->ptr, c->i64, c->i64, c->ptr, c->i64, c->i64, c->ptr,
                              c->ptr, c->i64, c->i64, c->i64, epi,    i8p};
    return LLVMFunctionType(LLVMVoidTypeInContext(c->ctx), params, 13, false);
}

/* The body: N blocks, K blocks (B packed or not), then row strips of MR
   rows and the remaining rows one by one. */
static void build_gemm(cc_lower *l, LLVMValueRef fn)
{
    cc_ctx *c = l->c;
    LLVMValueRef p[13];
    for (unsigned i = 0; i < 13; i++)
        p[i] = LLVMGetParam(fn, i);
    blocks b = {.a = p[0], .a_rs = p[1], .a_cs = p[2], .c_buf = p[6], .bias = p[7], .n = p[9]};
    LLVMValueRef src = p[3], b_rs = p[4], b_cs = p[5], m = p[8], k = p[10], epi = p[11];
    LLVMValueRef do_pack =
        LLVMBuildOr(c->b, LLVMBuildICmp(c->b, LLVMIntNE, b_cs, cc_i64(c, 1), ""),
                    LLVMBuildICmp(c->b, LLVMIntSGE, m, cc_i64(c, PACK_ROWS), ""), "");
    LLVMValueRef raw = cc_mem_take(l, cc_i64(c, (int64_t)KC * NC * 4 + 64));
    LLVMValueRef packed = LLVMBuildBitCast(c->b, raw, c->ptr, "");
    LLVMValueRef kend = LLVMBuildSelect(c->b, LLVMBuildICmp(c->b, LLVMIntSGT, k, cc_i64(c, 1), ""),
                                        k, cc_i64(c, 1), "");
    LLVMValueRef whole = LLVMBuildSub(c->b, m, LLVMBuildSRem(c->b, m, cc_i64(c, MR), ""), "");
    LLVMValueRef has_epi = LLVMBuildIsNotNull(c->b, epi, "");
    cc_loop jc, pc, ic;
    cc_loop_begin(c, &jc, cc_i64(c, 0), b.n, cc_i64(c, NC));
    b.jc = jc.i;
    b.colend = imin(c, add(c, jc.i, cc_i64(c, NC)), b.n);
    cc_loop_begin(c, &pc, cc_i64(c, 0), kend, cc_i64(c, KC));
    b.pc = pc.i;
    b.kc = imin(c, cc_i64(c, KC), LLVMBuildSub(c->b, k, pc.i, ""));
    b.first = LLVMBuildICmp(c->b, LLVMIntEQ, pc.i, cc_i64(c, 0), "");
    LLVMValueRef last = LLVMBuildICmp(c->b, LLVMIntSGE, add(c, pc.i, cc_i64(c, KC)), k, "");
    LLVMValueRef run_epi = LLVMBuildAnd(c->b, last, has_epi, "");
    block_b(c, &b, packed, src, b_rs, b_cs, do_pack);
    cc_loop_begin(c, &ic, cc_i64(c, 0), whole, cc_i64(c, MR));
    row_strip(c, &b, ic.i, MR, 2, epi, p[12], run_epi);
    cc_loop_end(c, &ic);
    cc_loop_begin(c, &ic, whole, m, cc_i64(c, 1));
    row_strip(c, &b, ic.i, 1, GEMV_VECS, epi, p[12], run_epi);
    cc_loop_end(c, &ic);
    cc_loop_end(c, &pc);
    cc_loop_end(c, &jc);
    cc_mem_give(l, raw);
    LLVMBuildRetVoid(c->b);
}

LLVMValueRef cc_gemm_fn(cc_lower *l)
{
    cc_ctx *c = l->c;
    LLVMValueRef fn = LLVMGetNamedFunction(c->mod, "act.gemm");
    if (fn)
        return fn;
    fn = LLVMAddFunction(c->mod, "act.gemm", cc_gemm_type(c));
    LLVMSetLinkage(fn, LLVMInternalLinkage);
    LLVMBasicBlockRef saved = LLVMGetInsertBlock(c->b);
    LLVMPositionBuilderAtEnd(c->b, LLVMAppendBasicBlockInContext(c->ctx, fn, "entry"));
    build_gemm(l, fn);
    LLVMPositionBuilderAtEnd(c->b, saved);
    return fn;
}
