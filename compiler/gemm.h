/* gemm.h -- what gemm.c (the tiles and the driver) and gemm_pack.c (the
   packing of B) share: the blocking, the current blocks and small IR
   helpers. Included by those two files only. */
#ifndef ACT_GEMM_H
#define ACT_GEMM_H

#include "cc.h"

enum {
    NR_MAX = 4,     /* the most vectors of a tile, and of a packed panel */
    MR_MAX = 8,     /* the most rows of a tile (gemm_blocking) */
    NV_NARROW = 2,  /* N one or two vectors wide (a classifier's 10 outputs, a small
                       layer's 32) takes narrow tiles: wide ones would mask half or more */
    GEMV_VECS = 8,  /* one-row kernel (M = 1, rows past the last tile): independent sums */
    KC = 512,       /* K block: 256 ran 256x1024x1024 at 105 GFLOP/s, 512 at 109 */
    KC_SMALL = 256, /* with 16 vector registers (gemm_blocking) */
    NC = 256,       /* N block: a packed KC x NC block is 512 KB, half of a Zen 4 L2 */
    MC = 64,        /* rows per row block: its epilogue reads 64 KB at most */
    /* B is packed from PACK_ROWS rows on; below, the copy costs more than
       the reads it saves (unpacked, 128 x 512 x 512 ran at 117 GFLOP/s
       against 112, 200 x 300 x 700 at 115 against 113; 1024 x 700 x 700 at
       108 against 110). From PACK_ALIASED rows when B's rows are a multiple
       of 4 KB apart, so that a panel's rows share one set of the L1 cache
       (192 x 1024 x 1024: 103 unpacked, 106 packed). */
    PACK_ROWS = 512,
    PACK_ALIASED = 128,
    ALIAS_FLOATS = 1024,
};

/* The blocking of a target, by its vector registers. With 32 (AVX-512):
   4 x 4 tiles, 16 accumulators (6 x 4, 8 x 2 and 8 x 3 measured slower),
   K blocks of KC, B packed from PACK_ROWS rows. With 16 (AVX2, SSE): 6 x 2
   tiles, 12 accumulators, 2 of B and A's broadcast, where 4 x 4 spilled
   (64 x 784 x 256 on Zen 3: 29 GFLOP/s); K blocks of KC_SMALL, since a
   2-vector panel of KC rows is 32 KB, a whole L1, and one of 256 stays in
   it beside A; and B packed from 8 rows, since read unpacked at N = 256 its
   rows 1 KB apart fall in a handful of L1 sets (on a Zen 3, 64 x 784 x 256
   0.82 -> 0.92 of oneDNN, the MLP step 0.76-0.82 -> 0.88-0.89, in four
   interleaved runs). B's packed panels are a tile wide. */
typedef struct {
    int tile_rows, tile_vecs;
    int narrow_rows; /* rows of the tiles of one or two vectors (NV_NARROW) */
    int64_t kc, pack_rows;
    int vregs; /* the vector registers the blocking is for */
} gemm_blocking;

static inline const gemm_blocking *blocking(const cc_ctx *c)
{
    static const gemm_blocking regs32 = {4, NR_MAX, 8, KC, PACK_ROWS, 32},
                               regs16 = {6, 2, 6, KC_SMALL, 8, 16};
    return c->isa_width == 16 ? &regs32 : &regs16;
}

/* The function's arguments and the current blocks, as the kernels read
   them. B[k, j] of the block (k, j from its corner) is at
   bp[k ldb + j / P pstride + j % P], P = tile_vecs W. */
typedef struct {
    LLVMValueRef a, a_rs, a_cs, c_buf, bias, n, epi, epi_ctx;
    LLVMValueRef bp, ldb, pstride;
    LLVMValueRef first, pc, kc, jc, colend; /* first K block?, the K block, the N block */
    LLVMValueRef packed;                    /* i1: bp is packed panels */
} blocks;

static inline LLVMValueRef add(cc_ctx *c, LLVMValueRef a, LLVMValueRef b)
{
    return LLVMBuildNSWAdd(c->b, a, b, "");
}

static inline LLVMValueRef mul(cc_ctx *c, LLVMValueRef a, LLVMValueRef b)
{
    return LLVMBuildNSWMul(c->b, a, b, "");
}

static inline LLVMValueRef imin(cc_ctx *c, LLVMValueRef a, LLVMValueRef b)
{
    return LLVMBuildSelect(c->b, LLVMBuildICmp(c->b, LLVMIntSLT, a, b, ""), a, b, "");
}

static inline LLVMValueRef mask_if(cc_ctx *c, LLVMValueRef mask, LLVMValueRef flag)
{
    return LLVMBuildAnd(c->b, mask, cc_splat(c, flag), "");
}

/* Points b->bp, ldb and pstride at the current block: packed at p when
   do_pack (packed there now when fill), else B itself (gemm_pack.c). */
void cc_gemm_block_b(cc_ctx *c, blocks *b, LLVMValueRef p, LLVMValueRef src, LLVMValueRef b_rs,
                     LLVMValueRef b_cs, LLVMValueRef do_pack, LLVMValueRef fill);

#endif
