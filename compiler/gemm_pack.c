/* gemm_pack.c -- the GEMM's copies of B into panels of tile_vecs vectors: by
   rows, or across the rows of a transposed B (gathers of 4 and an
   in-register transpose), and the choice of packed or not per block. */
#include "gemm.h"

/* Row k of the K block, columns jc + q .. of it, into panel q (from
   column jc + q) at p: tile_vecs loads, masked by mask[u] (all NULL: whole
   vectors), at columns at[u]. */
static void pack_row(cc_ctx *c, const blocks *b, LLVMValueRef p, LLVMValueRef src, LLVMValueRef row,
                     LLVMValueRef k, LLVMValueRef q, LLVMValueRef *at, LLVMValueRef *mask)
{
    int nv = blocking(c)->tile_vecs;
    LLVMValueRef to = add(c, mul(c, q, b->kc), mul(c, k, cc_i64(c, nv * (int64_t)c->width)));
    for (int u = 0; u < nv; u++) {
        LLVMValueRef v = cc_load(c, src, add(c, row, at[u]), mask ? mask[u] : NULL);
        cc_store(c, v, p, add(c, to, cc_i64(c, u * (int64_t)c->width)), NULL);
    }
}

/* Copies B[pc .. pc+kc, jc .. colend] into panels at p: panel q holds the
   P = tile_vecs W columns from jc + q P as kc rows, lanes past colend zero. Rows of
   B are contiguous here (b_cs = 1); each row of the block is copied whole,
   into every panel (copying panel by panel, or prefetching rows ahead,
   measured the same: the copy is 8% of a 256 x 1024 x 1024 dense, which
   is why forward runs keep it, see cc_packed). Whole panels are copied
   without masks: LLVM recomputed them for every row (8 compares per 4
   loads). */
static void pack(cc_ctx *c, const blocks *b, LLVMValueRef p, LLVMValueRef src, LLVMValueRef b_rs)
{
    int nv = blocking(c)->tile_vecs;
    LLVMValueRef pw = cc_i64(c, nv * (int64_t)c->width);
    LLVMValueRef width = LLVMBuildSub(c->b, b->colend, b->jc, "");
    LLVMValueRef whole = LLVMBuildSub(c->b, width, LLVMBuildSRem(c->b, width, pw, ""), "");
    LLVMValueRef at[NR_MAX], mask[NR_MAX];
    for (int u = 0; u < nv; u++) {
        LLVMValueRef col = add(c, add(c, b->jc, whole), cc_i64(c, u * (int64_t)c->width));
        LLVMValueRef past = LLVMBuildICmp(c->b, LLVMIntSGE, col, b->colend, "");
        at[u] = LLVMBuildSelect(c->b, past, b->jc, col, ""); /* see micro */
        mask[u] = cc_mask(c, col, b->colend);
    }
    cc_loop k, q;
    cc_loop_begin(c, &k, cc_i64(c, 0), b->kc, cc_i64(c, 1));
    LLVMValueRef row = mul(c, add(c, b->pc, k.i), b_rs);
    cc_loop_begin(c, &q, cc_i64(c, 0), whole, pw);
    LLVMValueRef cols[NR_MAX];
    for (int u = 0; u < nv; u++)
        cols[u] = add(c, add(c, b->jc, q.i), cc_i64(c, u * (int64_t)c->width));
    pack_row(c, b, p, src, row, k.i, q.i, cols, NULL);
    cc_loop_end(c, &q);
    LLVMBasicBlockRef done = cc_if_then(c, LLVMBuildICmp(c->b, LLVMIntSLT, whole, width, ""));
    pack_row(c, b, p, src, row, k.i, whole, at, mask);
    cc_end_if(c, done);
    cc_loop_end(c, &k);
}

/* Transposes the n x n matrix whose rows are the vectors v[0 .. n-1]:
   log2 n butterfly stages, each exchanging lanes between rows d apart. */
static void transpose(cc_ctx *c, LLVMValueRef *v, unsigned n)
{
    for (unsigned d = 1; d < n; d *= 2) {
        LLVMValueRef lo[16], hi[16];
        for (unsigned l = 0; l < n; l++) {
            lo[l] = LLVMConstInt(c->i32, l & d ? n + l - d : l, false);
            hi[l] = LLVMConstInt(c->i32, l & d ? n + l : l + d, false);
        }
        LLVMValueRef mlo = LLVMConstVector(lo, n), mhi = LLVMConstVector(hi, n);
        for (unsigned i = 0; i < n; i++) {
            if (i & d)
                continue;
            LLVMValueRef x = v[i], y = v[i + d];
            v[i] = LLVMBuildShuffleVector(c->b, x, y, mlo, "");
            v[i + d] = LLVMBuildShuffleVector(c->b, x, y, mhi, "");
        }
    }
}

/* <4 x float> at base[i], lanes where mask (<4 x i1>), else 0. */
static LLVMValueRef load4(cc_ctx *c, LLVMValueRef base, LLVMValueRef i, LLVMValueRef mask)
{
    LLVMTypeRef vt = LLVMVectorType(c->f32, 4), vp = LLVMPointerType(vt, 0);
    LLVMValueRef ptr = LLVMBuildBitCast(c->b, LLVMBuildGEP2(c->b, c->f32, base, &i, 1, ""), vp, "");
    LLVMTypeRef types[2] = {vt, vp};
    unsigned id = LLVMLookupIntrinsicID("llvm.masked.load", 16);
    LLVMValueRef fn = LLVMGetIntrinsicDeclaration(c->mod, id, types, 2);
    LLVMValueRef args[4] = {ptr, LLVMConstInt(c->i32, 4, false), mask, LLVMConstNull(vt)};
    return LLVMBuildCall2(c->b, LLVMIntrinsicGetType(c->ctx, id, types, 2), fn, args, 4, "");
}

/* pack for a transposed B (b_rs = 1: column j of B is contiguous at
   src + j b_cs, as Wᵀ in dY Wᵀ): 4 x 4 squares read down the columns and
   transposed in registers, about a third of a cycle a float (a float at a
   time took 2, gathers 4; 16 x 16 squares took 28 ms more to compile). A
   square's rows past kc land at the start of the next panel, which is
   written after it, or in the slack after the block. */
static void pack_transposed(cc_ctx *c, const blocks *b, LLVMValueRef p, LLVMValueRef src,
                            LLVMValueRef b_cs)
{
    LLVMTypeRef v4i = LLVMVectorType(c->i64, 4), vt = LLVMVectorType(c->f32, 4);
    LLVMValueRef lanes[4], four = cc_i64(c, 4), undef;
    LLVMValueRef pw = cc_i64(c, blocking(c)->tile_vecs * (int64_t)c->width);
    for (int l = 0; l < 4; l++)
        lanes[l] = cc_i64(c, l);
    undef = LLVMGetUndef(v4i);
    cc_loop q, k, jj;
    cc_loop_begin(c, &q, cc_i64(c, 0), LLVMBuildSub(c->b, b->colend, b->jc, ""), pw);
    cc_loop_begin(c, &k, cc_i64(c, 0), b->kc, four);
    LLVMValueRef ks = LLVMBuildInsertElement(c->b, undef, k.i, LLVMConstInt(c->i32, 0, 0), "");
    ks = LLVMBuildShuffleVector(c->b, ks, undef, LLVMConstNull(LLVMVectorType(c->i32, 4)), "");
    LLVMValueRef kc = LLVMBuildInsertElement(c->b, undef, b->kc, LLVMConstInt(c->i32, 0, 0), "");
    kc = LLVMBuildShuffleVector(c->b, kc, undef, LLVMConstNull(LLVMVectorType(c->i32, 4)), "");
    LLVMValueRef kmask = LLVMBuildICmp(
        c->b, LLVMIntSLT, LLVMBuildAdd(c->b, ks, LLVMConstVector(lanes, 4), ""), kc, "");
    LLVMValueRef at = add(c, b->pc, k.i);
    LLVMValueRef to = add(c, mul(c, q.i, b->kc), mul(c, k.i, pw));
    cc_loop_begin(c, &jj, cc_i64(c, 0), pw, four);
    LLVMValueRef v[4], j0 = add(c, add(c, b->jc, q.i), jj.i);
    for (int r = 0; r < 4; r++) {
        LLVMValueRef j = add(c, j0, cc_i64(c, r));
        LLVMValueRef in = LLVMBuildICmp(c->b, LLVMIntSLT, j, b->colend, "");
        LLVMValueRef m =
            LLVMBuildAnd(c->b, kmask,
                         LLVMBuildShuffleVector(
                             c->b,
                             LLVMBuildInsertElement(c->b, LLVMGetUndef(LLVMVectorType(c->i1, 4)),
                                                    in, LLVMConstInt(c->i32, 0, 0), ""),
                             LLVMGetUndef(LLVMVectorType(c->i1, 4)),
                             LLVMConstNull(LLVMVectorType(c->i32, 4)), ""),
                         "");
        LLVMValueRef jin = LLVMBuildSelect(c->b, in, j, b->jc, ""); /* see micro */
        v[r] = load4(c, src, add(c, mul(c, jin, b_cs), at), m);
    }
    transpose(c, v, 4);
    for (int r = 0; r < 4; r++) {
        LLVMValueRef i = add(c, add(c, to, mul(c, cc_i64(c, r), pw)), jj.i);
        LLVMValueRef ptr = LLVMBuildGEP2(c->b, c->f32, p, &i, 1, "");
        LLVMSetAlignment(
            LLVMBuildStore(c->b, v[r], LLVMBuildBitCast(c->b, ptr, LLVMPointerType(vt, 0), "")), 4);
    }
    cc_loop_end(c, &jj);
    cc_loop_end(c, &k);
    cc_loop_end(c, &q);
}

void cc_gemm_block_b(cc_ctx *c, blocks *b, LLVMValueRef p, LLVMValueRef src, LLVMValueRef b_rs,
                     LLVMValueRef b_cs, LLVMValueRef do_pack, LLVMValueRef fill)
{
    LLVMValueRef pw = cc_i64(c, blocking(c)->tile_vecs * (int64_t)c->width);
    LLVMValueRef at = add(c, mul(c, b->pc, b_rs), b->jc);
    b->bp = LLVMBuildSelect(c->b, do_pack, p, LLVMBuildGEP2(c->b, c->f32, src, &at, 1, ""), "");
    b->packed = do_pack;
    b->ldb = LLVMBuildSelect(c->b, do_pack, pw, b_rs, "");
    b->pstride = LLVMBuildSelect(c->b, do_pack, mul(c, b->kc, pw), pw, "");
    LLVMBasicBlockRef after = cc_if_then(c, fill);
    LLVMValueRef by_rows = LLVMBuildICmp(c->b, LLVMIntEQ, b_cs, cc_i64(c, 1), "");
    LLVMBasicBlockRef transposed = cc_if_then(c, by_rows); /* the else branch */
    pack(c, b, p, src, b_rs);
    cc_end_if(c, after);
    LLVMPositionBuilderAtEnd(c->b, transposed);
    pack_transposed(c, b, p, src, b_cs);
    cc_end_if(c, after);
}
