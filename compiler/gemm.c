/* gemm.c -- the one matrix product, shared by every dense layer and by the
   products of their backward passes: sizes and strides are its arguments.
   The JIT calls the copies the build compiled into the library (one per
   x86-64 ISA level, gemm_library.c), so a graph's products cost it no
   compile time; ahead of time, and on other CPUs, a module builds its own.
   Blocked for the caches after Goto and van de Geijn, "Anatomy of
   High-Performance Matrix Multiplication" (2008): blocks of kc x NC of B
   are packed (L2) into panels a register tile wide; the micro-kernel runs
   a tile of rows by a panel while the panel stays in cache (L1) and A
   streams. Every sum runs k in order from the bias, as an unblocked loop
   would: a K block stores its partial sums in C and the next one reloads
   them. After the last K block of a row block the caller's epilogue runs
   on it while it is in cache. */
#include "gemm.h"

#include <stddef.h>

/* acc[i][u] += A[i, k] B[k, vector u] for k in the K block, in order, A
   from a (A[ic, pc]); B's loads masked by mask[u] unless mask is NULL. */
static void k_loop(cc_ctx *c, const blocks *b, LLVMValueRef acc[][GEMV_VECS], LLVMValueRef a,
                   const LLVMValueRef *boff, const LLVMValueRef *mask, int mr, int nv)
{
    cc_loop ks;
    cc_loop_begin(c, &ks, cc_i64(c, 0), b->kc, cc_i64(c, 1));
    LLVMValueRef brow = mul(c, ks.i, b->ldb), acol = mul(c, ks.i, b->a_cs), w[GEMV_VECS];
    for (int u = 0; u < nv; u++)
        w[u] = cc_load(c, b->bp, add(c, brow, boff[u]), mask ? mask[u] : NULL);
    for (int i = 0; i < mr; i++) {
        LLVMValueRef xs = cc_splat(c, cc_load1(c, a, add(c, mul(c, cc_i64(c, i), b->a_rs), acol)));
        for (int u = 0; u < nv; u++) {
            LLVMValueRef sum = LLVMBuildLoad2(c->b, c->vf32, acc[i][u], "");
            LLVMBuildStore(c->b, cc_fma(c, xs, w[u], sum), acc[i][u]);
        }
    }
    cc_loop_end(c, &ks);
}

/* The accumulators into C's rows crow[] at columns at_c[], masked by
   mask[u] (mask NULL: whole vectors). */
static void store_tile(cc_ctx *c, const blocks *b, LLVMValueRef acc[][GEMV_VECS],
                       const LLVMValueRef *crow, const LLVMValueRef *at_c, const LLVMValueRef *mask,
                       int mr, int nv)
{
    for (int i = 0; i < mr; i++)
        for (int u = 0; u < nv; u++)
            cc_store(c, LLVMBuildLoad2(c->b, c->vf32, acc[i][u], ""), b->c_buf,
                     add(c, crow[i], at_c[u]), mask ? mask[u] : NULL);
}

/* The tile of C at rows ic .. ic+mr-1 and nv vectors of columns from
   jc + jr, lanes past the N block masked off: the bias on the first K
   block, else the partial sums in C; plus A[rows, K block] B[K block,
   columns] in k order; stored back to C. */
static void micro(cc_ctx *c, const blocks *b, LLVMValueRef ic, LLVMValueRef jr, int mr, int nv)
{
    LLVMValueRef acc[MR_MAX][GEMV_VECS], col[GEMV_VECS], mask[GEMV_VECS], boff[GEMV_VECS];
    LLVMValueRef crow[MR_MAX];
    LLVMValueRef at_c[GEMV_VECS];    /* col, or col[0] where the vector is wholly masked */
    int tv = blocking(c)->tile_vecs; /* jr is a multiple of a panel's tv vectors */
    LLVMValueRef panel =
        mul(c, LLVMBuildUDiv(c->b, jr, cc_i64(c, tv * (int64_t)c->width), ""), b->pstride);
    LLVMValueRef has_bias = LLVMBuildIsNotNull(c->b, b->bias, "");
    for (int i = 0; i < mr; i++)
        crow[i] = mul(c, add(c, ic, cc_i64(c, i)), b->n);
    for (int u = 0; u < nv; u++) {
        col[u] = add(c, add(c, b->jc, jr), cc_i64(c, u * (int64_t)c->width));
        mask[u] = cc_mask(c, col[u], b->colend);
        boff[u] = add(c, add(c, panel, mul(c, cc_i64(c, u / tv), b->pstride)),
                      cc_i64(c, (u % tv) * (int64_t)c->width));
        /* A masked-off lane at an unmapped address costs a microcode assist
           (hundreds of cycles on Zen 4): a vector wholly past the block
           reads and writes at the first one's addresses. */
        LLVMValueRef past = LLVMBuildICmp(c->b, LLVMIntSGE, col[u], b->colend, "");
        boff[u] = LLVMBuildSelect(c->b, past, boff[0], boff[u], "");
        at_c[u] = LLVMBuildSelect(c->b, past, col[0], col[u], "");
        for (int i = 0; i < mr; i++)
            acc[i][u] = cc_entry_alloca(c, c->vf32);
    }
    /* one branch a tile: the bias (or 0) on the first K block, else C */
    LLVMValueRef fn = LLVMGetBasicBlockParent(LLVMGetInsertBlock(c->b));
    LLVMBasicBlockRef first = LLVMAppendBasicBlockInContext(c->ctx, fn, "bias");
    LLVMBasicBlockRef later = LLVMAppendBasicBlockInContext(c->ctx, fn, "partial_sums");
    LLVMBasicBlockRef join = LLVMAppendBasicBlockInContext(c->ctx, fn, "tile_ready");
    LLVMBuildCondBr(c->b, b->first, first, later);
    LLVMPositionBuilderAtEnd(c->b, first);
    for (int u = 0; u < nv; u++) {
        LLVMValueRef from = LLVMBuildSelect(c->b, has_bias, b->bias, b->c_buf, ""); /* not NULL */
        LLVMValueRef bias = cc_load(c, from, at_c[u], mask_if(c, mask[u], has_bias));
        for (int i = 0; i < mr; i++)
            LLVMBuildStore(c->b, bias, acc[i][u]);
    }
    LLVMBuildBr(c->b, join);
    LLVMPositionBuilderAtEnd(c->b, later);
    for (int u = 0; u < nv; u++)
        for (int i = 0; i < mr; i++)
            LLVMBuildStore(c->b, cc_load(c, b->c_buf, add(c, crow[i], at_c[u]), mask[u]),
                           acc[i][u]);
    LLVMBuildBr(c->b, join);
    LLVMPositionBuilderAtEnd(c->b, join);
    LLVMValueRef at = add(c, mul(c, ic, b->a_rs), mul(c, b->pc, b->a_cs));
    LLVMValueRef a = LLVMBuildGEP2(c->b, c->f32, b->a, &at, 1, ""); /* A[ic, pc] */
    /* B's loads need no mask in a packed panel (zero-padded) or a whole
       one; masks in the loop were recomputed at every k (k registers are
       few): 64 x 256 x 10 took 10 times as long */
    LLVMValueRef end = add(c, col[nv - 1], cc_i64(c, c->width));
    LLVMValueRef in_block = LLVMBuildICmp(c->b, LLVMIntSLE, end, b->colend, "");
    LLVMValueRef whole = LLVMBuildOr(c->b, b->packed, in_block, "");
    LLVMBasicBlockRef masked = cc_if_then(c, whole); /* the else branch */
    k_loop(c, b, acc, a, boff, NULL, mr, nv);
    LLVMBasicBlockRef summed = LLVMAppendBasicBlockInContext(c->ctx, fn, "tile_summed");
    cc_end_if(c, summed);
    LLVMPositionBuilderAtEnd(c->b, masked);
    k_loop(c, b, acc, a, boff, mask, mr, nv);
    cc_end_if(c, summed);
    /* C's stores masked only at the block's edge: a masked store is
       microcoded on AMD's AVX2 cores (vmaskmovps, 4-7 ns on Zen 3 against
       1) */
    LLVMBasicBlockRef edge = cc_if_then(c, in_block); /* the else branch */
    store_tile(c, b, acc, crow, at_c, NULL, mr, nv);
    LLVMBasicBlockRef stored = LLVMAppendBasicBlockInContext(c->ctx, fn, "tile_stored");
    cc_end_if(c, stored);
    LLVMPositionBuilderAtEnd(c->b, edge);
    store_tile(c, b, acc, crow, at_c, mask, mr, nv);
    cc_end_if(c, stored);
}

/* epi(ctx, row0, rows, col0, cols, N) when run_epi. */
static void epilogue(cc_ctx *c, const blocks *b, LLVMValueRef run_epi, LLVMValueRef row0,
                     LLVMValueRef rows, LLVMValueRef col0, LLVMValueRef cols)
{
    LLVMBasicBlockRef join = cc_if_then(c, run_epi);
    LLVMValueRef args[6] = {b->epi_ctx, row0, rows, col0, cols, b->n};
    LLVMBuildCall2(c->b, cc_epilogue_type(c), b->epi, args, 6, "");
    cc_end_if(c, join);
}

/* Rows ic .. ic+mc-1 of the current K and N blocks: panel by panel, its
   tiles (the panel stays in cache while A streams), or narrow tiles of
   one or two vectors when the block is that narrow
   (4 x 4 tiles spent half or more of their FMAs on masked lanes: 64 x 256 x
   10 took 18 us, now 5); then the rows past the last whole tile one by one,
   GEMV_VECS vectors at a time; each followed by the epilogue after the last K block. */
static void row_block(cc_ctx *c, const blocks *b, LLVMValueRef ic, LLVMValueRef mc,
                      LLVMValueRef run_epi)
{
    LLVMValueRef ncols = LLVMBuildSub(c->b, b->colend, b->jc, "");
    LLVMValueRef vecs =
        LLVMBuildUDiv(c->b, add(c, ncols, cc_i64(c, c->width - 1)), cc_i64(c, c->width), "");
    LLVMValueRef narrow = LLVMBuildICmp(c->b, LLVMIntULE, vecs, cc_i64(c, NV_NARROW), "");
    const gemm_blocking *g = blocking(c);
    int tr = g->tile_rows, tv = g->tile_vecs, nr = g->narrow_rows;
    LLVMValueRef mr = LLVMBuildSelect(c->b, narrow, cc_i64(c, nr), cc_i64(c, tr), "");
    LLVMValueRef rows = LLVMBuildSub(c->b, mc, LLVMBuildURem(c->b, mc, mr, ""), "");
    LLVMValueRef end = add(c, ic, rows);
    cc_loop jr, ir;
    LLVMValueRef fn = LLVMGetBasicBlockParent(LLVMGetInsertBlock(c->b));
    LLVMBasicBlockRef tiled = LLVMAppendBasicBlockInContext(c->ctx, fn, "tiles_done");
    LLVMBasicBlockRef wide = cc_if_then(c, narrow); /* the else branch */
    for (int nv = 1; nv <= NV_NARROW; nv++) {       /* nr rows of nv vectors */
        LLVMValueRef fits = LLVMBuildICmp(c->b, LLVMIntEQ, vecs, cc_i64(c, nv), "");
        LLVMBasicBlockRef other = nv < NV_NARROW ? cc_if_then(c, fits) : NULL;
        cc_loop_begin(c, &ir, ic, end, cc_i64(c, nr));
        micro(c, b, ir.i, cc_i64(c, 0), nr, nv);
        cc_loop_end(c, &ir);
        LLVMBuildBr(c->b, tiled);
        if (other)
            LLVMPositionBuilderAtEnd(c->b, other);
    }
    LLVMPositionBuilderAtEnd(c->b, wide);
    cc_loop_begin(c, &jr, cc_i64(c, 0), ncols, cc_i64(c, tv * (int64_t)c->width));
    cc_loop_begin(c, &ir, ic, end, cc_i64(c, tr));
    micro(c, b, ir.i, jr.i, tr, tv);
    cc_loop_end(c, &ir);
    cc_loop_end(c, &jr);
    cc_end_if(c, tiled);
    epilogue(c, b, run_epi, ic, rows, b->jc, ncols);
    /* The rows past the last whole tile: one tile of them. Of wide blocks
       2 .. tr - 1 rows, two panels wide when its sums and B's vectors fit
       in the registers (one by one, 64 x 784 x 256's last 4 rows of each
       row block took 12% of its time at a third of the tiles' rate); of
       narrow ones 1 .. nr - 1 rows of their one or two vectors, where the
       one-row kernel's eight vectors were six or seven masked off. The
       switch's key: the rows, plus NARROW_KEY times the vectors if narrow. */
    enum { NARROW_KEY = 2 * MR_MAX };
    LLVMValueRef rest = LLVMBuildSub(c->b, mc, rows, "");
    LLVMValueRef key =
        LLVMBuildSelect(c->b, narrow, add(c, mul(c, vecs, cc_i64(c, NARROW_KEY)), rest), rest, "");
    LLVMBasicBlockRef by_row = LLVMAppendBasicBlockInContext(c->ctx, fn, "by_row");
    LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(c->ctx, fn, "rows_done");
    LLVMValueRef sw = LLVMBuildSwitch(c->b, key, by_row, (unsigned)(tr + NV_NARROW * nr));
    for (int k = 2; k < NARROW_KEY * (NV_NARROW + 1); k++) {
        int nv = k / NARROW_KEY, r = k % NARROW_KEY;
        if (nv ? r < 1 || r >= nr : r >= tr)
            continue;
        if (!nv) /* wide */
            nv = (r + 1) * 2 * tv + 1 <= g->vregs ? 2 * tv : tv;
        LLVMBasicBlockRef at = LLVMAppendBasicBlockInContext(c->ctx, fn, "rest_tile");
        LLVMAddCase(sw, cc_i64(c, k), at);
        LLVMPositionBuilderAtEnd(c->b, at);
        cc_loop_begin(c, &jr, cc_i64(c, 0), ncols, cc_i64(c, nv * (int64_t)c->width));
        micro(c, b, end, jr.i, r, nv);
        cc_loop_end(c, &jr);
        epilogue(c, b, run_epi, end, cc_i64(c, r), b->jc, ncols);
        LLVMBuildBr(c->b, done);
    }
    LLVMPositionBuilderAtEnd(c->b, by_row);
    cc_loop_begin(c, &ir, end, add(c, ic, mc), cc_i64(c, 1));
    cc_loop_begin(c, &jr, cc_i64(c, 0), ncols, cc_i64(c, GEMV_VECS * (int64_t)c->width));
    micro(c, b, ir.i, jr.i, 1, GEMV_VECS);
    cc_loop_end(c, &jr);
    epilogue(c, b, run_epi, ir.i, cc_i64(c, 1), b->jc, ncols);
    cc_loop_end(c, &ir);
    LLVMBuildBr(c->b, done);
    LLVMPositionBuilderAtEnd(c->b, done);
}

/* ---- one row of A: B streamed row by row -------------------------------- */

enum { GEMV_ROWS = 4 }; /* rows of B a pass over C's row */

/* C[j] += A[0, k + r] B[k + r, j] for the `rows` rows r of each pass from
   k0 to kend (a multiple of rows on), in order, over C's row in whole
   vectors. */
static void gemv_passes(cc_ctx *c, const blocks *b, LLVMValueRef src, LLVMValueRef b_rs,
                        LLVMValueRef k0, LLVMValueRef kend, int rows)
{
    cc_loop k, j;
    cc_loop_begin(c, &k, k0, kend, cc_i64(c, rows));
    LLVMValueRef x[GEMV_ROWS], row[GEMV_ROWS]; /* A[0, k + r] splatted; B's row k + r */
    for (int r = 0; r < rows; r++) {
        LLVMValueRef kr = add(c, k.i, cc_i64(c, r));
        x[r] = cc_splat(c, cc_load1(c, b->a, mul(c, kr, b->a_cs)));
        LLVMValueRef at = mul(c, kr, b_rs);
        row[r] = LLVMBuildGEP2(c->b, c->f32, src, &at, 1, "");
    }
    cc_loop_begin(c, &j, cc_i64(c, 0), b->n, cc_i64(c, c->width));
    LLVMValueRef sum = cc_load(c, b->c_buf, j.i, NULL);
    for (int r = 0; r < rows; r++)
        sum = cc_fma(c, x[r], cc_load(c, row[r], j.i, NULL), sum);
    cc_store(c, sum, b->c_buf, j.i, NULL);
    cc_loop_end(c, &j);
    cc_loop_end(c, &k);
}

/* C = bias + A B for one row of A and B by rows, N whole vectors, then
   the epilogue: C's row stays in L1 while B streams through it,
   GEMV_ROWS rows a pass, each sum in k order as the tiles make it. The
   tiles' one-row kernel reads B down its columns, a K block at a time: 1
   x 512 x 512 on Zen 3, in 8 interleaved runs, took 19.6 us (median) that
   way, 17.7 this way. */
static void gemv(cc_ctx *c, const blocks *b, LLVMValueRef src, LLVMValueRef b_rs, LLVMValueRef k,
                 LLVMValueRef has_epi)
{
    LLVMValueRef has_bias = LLVMBuildIsNotNull(c->b, b->bias, "");
    LLVMValueRef from = LLVMBuildSelect(c->b, has_bias, b->bias, b->c_buf, ""); /* not NULL */
    cc_loop j;
    cc_loop_begin(c, &j, cc_i64(c, 0), b->n, cc_i64(c, c->width));
    LLVMValueRef v = cc_load(c, from, j.i, NULL);
    cc_store(c, LLVMBuildSelect(c->b, has_bias, v, LLVMConstNull(c->vf32), ""), b->c_buf, j.i,
             NULL);
    cc_loop_end(c, &j);
    LLVMValueRef k4 = LLVMBuildSub(c->b, k, LLVMBuildSRem(c->b, k, cc_i64(c, GEMV_ROWS), ""), "");
    gemv_passes(c, b, src, b_rs, cc_i64(c, 0), k4, GEMV_ROWS);
    gemv_passes(c, b, src, b_rs, k4, k, 1);
    epilogue(c, b, has_epi, cc_i64(c, 0), cc_i64(c, 1), cc_i64(c, 0), b->n);
}

/* Memory for the packed blocks when cond (else NULL). */
static LLVMValueRef take_if(cc_lower *l, LLVMValueRef cond, LLVMValueRef bytes)
{
    cc_ctx *c = l->c;
    LLVMBasicBlockRef from = LLVMGetInsertBlock(c->b);
    LLVMBasicBlockRef join = cc_if_then(c, cond);
    LLVMValueRef raw = cc_mem_take(l, bytes);
    LLVMBasicBlockRef take = LLVMGetInsertBlock(c->b);
    cc_end_if(c, join);
    LLVMValueRef phi = LLVMBuildPhi(c->b, LLVMTypeOf(raw), "");
    LLVMValueRef vals[2] = {raw, LLVMConstNull(LLVMTypeOf(raw))};
    LLVMBasicBlockRef preds[2] = {take, from};
    LLVMAddIncoming(phi, vals, preds, 2);
    return phi;
}

/* the GEMM reads ready as the second i64 of the slot */
_Static_assert(offsetof(cc_packed, ready) == sizeof(int64_t), "cc_packed's layout");

/* The floats of B's packed blocks of kc rows (and 4 of slack) for [k, n]. */
static int64_t packed_floats(int64_t k, int64_t n, int64_t kc)
{
    int64_t kb = ((k > 1 ? k : 1) + kc - 1) / kc, nb = (n + NC - 1) / NC;
    return kb * nb * (kc + 4) * NC;
}

int64_t cc_packed_floats(int64_t k, int64_t n)
{
    /* for either K block (the target's is not known here) */
    int64_t big = packed_floats(k, n, KC), small = packed_floats(k, n, KC_SMALL);
    return big > small ? big : small;
}

/* The body: N blocks, K blocks (B packed or not), row blocks. B is packed
   when it is transposed or read by many rows (see PACK_ROWS); by rows and
   with a cc_packed slot, into the slot's panels block by block, once while
   the slot stays ready (repacking took 8% of a 256 x 1024 x 1024 dense). */
static void build_gemm(cc_lower *outer, LLVMValueRef fn)
{
    cc_ctx *c = outer->c;
    int64_t kc = blocking(c)->kc;
    LLVMValueRef p[15];
    for (unsigned i = 0; i < 15; i++)
        p[i] = LLVMGetParam(fn, i);
    cc_lower ml = *outer, *l = &ml; /* the JIT's pool is the last argument */
    if (c->jit)
        ml.pool = p[14];
    blocks b = {.a = p[0], .a_rs = p[1], .a_cs = p[2], .c_buf = p[6], .bias = p[7], .n = p[9]};
    b.epi = p[11];
    b.epi_ctx = p[12];
    LLVMValueRef src = p[3], b_rs = p[4], b_cs = p[5], m = p[8], k = p[10];
    LLVMValueRef do_pack =
        LLVMBuildOr(c->b, LLVMBuildICmp(c->b, LLVMIntNE, b_cs, cc_i64(c, 1), ""),
                    LLVMBuildICmp(c->b, LLVMIntSGE, m, cc_i64(c, blocking(c)->pack_rows), ""), "");
    LLVMValueRef aliased = LLVMBuildICmp(
        c->b, LLVMIntEQ, LLVMBuildSRem(c->b, b_rs, cc_i64(c, ALIAS_FLOATS), ""), cc_i64(c, 0), "");
    aliased = LLVMBuildAnd(c->b, aliased,
                           LLVMBuildICmp(c->b, LLVMIntSGE, m, cc_i64(c, PACK_ALIASED), ""), "");
    do_pack = LLVMBuildOr(c->b, do_pack, aliased, "");
    /* the slot, or a stand-in that is never ready, so that loads need no branch */
    LLVMValueRef by_rows = LLVMBuildICmp(c->b, LLVMIntEQ, b_cs, cc_i64(c, 1), "");
    LLVMValueRef use_slot = LLVMBuildAnd(c->b, LLVMBuildAnd(c->b, do_pack, by_rows, ""),
                                         LLVMBuildIsNotNull(c->b, p[13], ""), "");
    LLVMValueRef none = cc_entry_alloca(c, LLVMArrayType(c->i64, 2));
    LLVMBuildStore(c->b, LLVMConstNull(LLVMArrayType(c->i64, 2)), none);
    LLVMValueRef slot = LLVMBuildSelect(
        c->b, use_slot, LLVMBuildBitCast(c->b, p[13], LLVMTypeOf(none), ""), none, "");
    LLVMValueRef at1 = cc_i64(c, 1),
                 i64s = LLVMBuildBitCast(c->b, slot, LLVMPointerType(c->i64, 0), "");
    LLVMValueRef panels = LLVMBuildLoad2(
        c->b, c->ptr, LLVMBuildBitCast(c->b, slot, LLVMPointerType(c->ptr, 0), ""), "");
    LLVMValueRef ready_at = LLVMBuildGEP2(c->b, c->i64, i64s, &at1, 1, "");
    LLVMValueRef ready = LLVMBuildICmp(c->b, LLVMIntNE, LLVMBuildLoad2(c->b, c->i64, ready_at, ""),
                                       cc_i64(c, 0), "");
    LLVMValueRef fill = LLVMBuildAnd(c->b, do_pack, LLVMBuildNot(c->b, ready, ""), "");
    /* pack_transposed may write 3 rows past the K block */
    LLVMValueRef raw = take_if(l, LLVMBuildAnd(c->b, do_pack, LLVMBuildNot(c->b, use_slot, ""), ""),
                               cc_i64(c, (kc + 4) * NC * 4));
    LLVMValueRef packed = LLVMBuildBitCast(c->b, raw, c->ptr, "");
    /* K = 0 still makes one block: the bias and the epilogue */
    LLVMValueRef kend = LLVMBuildSelect(c->b, LLVMBuildICmp(c->b, LLVMIntSGT, k, cc_i64(c, 1), ""),
                                        k, cc_i64(c, 1), "");
    LLVMValueRef kblocks = LLVMBuildSDiv(c->b, add(c, kend, cc_i64(c, kc - 1)), cc_i64(c, kc), "");
    LLVMValueRef has_epi = LLVMBuildIsNotNull(c->b, b.epi, "");
    /* one row of A, B by rows and whole vectors wide: streamed (gemv) */
    LLVMValueRef one_row =
        LLVMBuildAnd(c->b, LLVMBuildICmp(c->b, LLVMIntEQ, m, cc_i64(c, 1), ""),
                     LLVMBuildAnd(c->b, LLVMBuildNot(c->b, do_pack, ""), by_rows, ""), "");
    LLVMValueRef whole = LLVMBuildICmp(
        c->b, LLVMIntEQ, LLVMBuildSRem(c->b, b.n, cc_i64(c, c->width), ""), cc_i64(c, 0), "");
    one_row = LLVMBuildAnd(c->b, one_row, whole, "");
    LLVMBasicBlockRef blocked = cc_if_then(c, one_row); /* the else branch */
    gemv(c, &b, src, b_rs, k, has_epi);
    LLVMBuildRetVoid(c->b);
    LLVMPositionBuilderAtEnd(c->b, blocked);
    cc_loop jc, pc, ic;
    cc_loop_begin(c, &jc, cc_i64(c, 0), b.n, cc_i64(c, NC));
    b.jc = jc.i;
    b.colend = imin(c, add(c, jc.i, cc_i64(c, NC)), b.n);
    cc_loop_begin(c, &pc, cc_i64(c, 0), kend, cc_i64(c, kc));
    b.pc = pc.i;
    b.kc = imin(c, cc_i64(c, kc), LLVMBuildSub(c->b, k, pc.i, ""));
    b.first = LLVMBuildICmp(c->b, LLVMIntEQ, pc.i, cc_i64(c, 0), "");
    LLVMValueRef last = LLVMBuildICmp(c->b, LLVMIntSGE, add(c, pc.i, cc_i64(c, kc)), k, "");
    LLVMValueRef run_epi = LLVMBuildAnd(c->b, last, has_epi, "");
    LLVMValueRef nth = add(c, mul(c, LLVMBuildSDiv(c->b, jc.i, cc_i64(c, NC), ""), kblocks),
                           LLVMBuildSDiv(c->b, pc.i, cc_i64(c, kc), ""));
    LLVMValueRef off = mul(c, nth, cc_i64(c, (kc + 4) * NC));
    LLVMValueRef in_slot = LLVMBuildGEP2(c->b, c->f32, panels, &off, 1, "");
    cc_gemm_block_b(c, &b, LLVMBuildSelect(c->b, use_slot, in_slot, packed, ""), src, b_rs, b_cs,
                    do_pack, fill);
    cc_loop_begin(c, &ic, cc_i64(c, 0), m, cc_i64(c, MC));
    row_block(c, &b, ic.i, imin(c, cc_i64(c, MC), LLVMBuildSub(c->b, m, ic.i, "")), run_epi);
    cc_loop_end(c, &ic);
    cc_loop_end(c, &pc);
    cc_loop_end(c, &jc);
    LLVMBasicBlockRef join = cc_if_then(c, LLVMBuildIsNotNull(c->b, raw, ""));
    cc_mem_give(l, raw);
    cc_end_if(c, join);
    join = cc_if_then(c, use_slot);
    LLVMBuildStore(c->b, cc_i64(c, 1), ready_at);
    cc_end_if(c, join);
    LLVMBuildRetVoid(c->b);
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
    LLVMTypeRef params[15] = {c->ptr, c->i64, c->i64, c->ptr, c->i64, c->i64, c->ptr, c->ptr,
                              c->i64, c->i64, c->i64, epi,    i8p,    i8p,    i8p};
    return LLVMFunctionType(LLVMVoidTypeInContext(c->ctx), params, 15, false);
}

static LLVMValueRef define(cc_lower *l, const char *name, LLVMLinkage linkage)
{
    cc_ctx *c = l->c;
    LLVMValueRef fn = LLVMAddFunction(c->mod, name, cc_gemm_type(c));
    LLVMSetLinkage(fn, linkage);
    LLVMBasicBlockRef saved = LLVMGetInsertBlock(c->b);
    LLVMPositionBuilderAtEnd(c->b, LLVMAppendBasicBlockInContext(c->ctx, fn, "entry"));
    build_gemm(l, fn);
    if (saved)
        LLVMPositionBuilderAtEnd(c->b, saved);
    return fn;
}

LLVMValueRef cc_gemm_fn(cc_lower *l)
{
    cc_ctx *c = l->c;
    const char *name = c->gemm ? c->gemm : "act.gemm";
    LLVMValueRef fn = LLVMGetNamedFunction(c->mod, name);
    if (fn)
        return fn;
    if (c->gemm)
        return LLVMAddFunction(c->mod, name, cc_gemm_type(c));
    return define(l, name, LLVMInternalLinkage);
}

void cc_gemm_define(cc_ctx *c, const char *name)
{
    cc_lower l = {.c = c};
    cc_declare_pool(&l, "cc_pool_take", "cc_pool_give");
    /* libact's own, as every symbol but ACT_API (the JIT takes its address
       from gemm_library.c's table) */
    LLVMSetVisibility(define(&l, name, LLVMExternalLinkage), LLVMHiddenVisibility);
}
