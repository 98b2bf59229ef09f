/* gemm.h -- what gemm.c (the tiles and the driver) and gemm_pack.c (the
   packing of B) share: the blocking, the current blocks and small IR
   helpers. Included by those two files only. */
#ifndef ACT_GEMM_H
#define ACT_GEMM_H

#include "cc.h"

enum {
    NR_MAX = 4,    /* the most vectors of a tile, and of a packed panel */
    MR_MAX = 8,    /* the most rows of a tile (tile_rows, narrow_rows) */
    NV_NARROW = 2, /* N one or two vectors wide (a classifier's 10 outputs, a small
                      layer's 32) takes narrow tiles: wide ones would mask half or more */
    GEMV_VECS = 8, /* one-row kernel (M = 1, rows past the last tile): independent sums */
    KC = 512,      /* K block (kc()): 256 ran 256x1024x1024 at 105 GFLOP/s, 512 at 109 */
    KC_SMALL = 256,
    NC = 256, /* N block: a packed KC x NC block is 512 KB, half of a Zen 4 L2 */
    MC = 64,  /* rows per row block: its epilogue reads 64 KB at most */
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

/* The register tile: rows by vectors of C's accumulators, and B's packed
   panels are a tile wide. With 32 vector registers (AVX-512) 4 x 4: 16
   accumulators (6 x 4, 8 x 2 and 8 x 3 measured slower). With 16 (AVX2,
   SSE) 6 x 2: 12 accumulators, 2 of B and A's broadcast, where 4 x 4
   spilled (64 x 784 x 256 on Zen 3: 29 GFLOP/s). Narrow N's tiles: 8 rows
   with 32 registers, 6 with 16. */
static inline int tile_rows(const cc_ctx *c)
{
    return c->width == 16 ? 4 : 6;
}

static inline int tile_vecs(const cc_ctx *c)
{
    return c->width == 16 ? NR_MAX : 2;
}

static inline int narrow_rows(const cc_ctx *c)
{
    return c->width == 16 ? 8 : 6;
}

/* The K block and the rows B is packed from. With 16 registers a panel is
   2 vectors, KC x 64 bytes: 16 KB in blocks of KC_SMALL stay in a 32 KB L1
   beside A, which 32 KB did not; and packing B (kept between forward
   runs, copied again at each training step) from 8 rows beat reading it
   unpacked, 1 KB apart per row at N = 256 (a handful of L1 sets): on a
   Zen 3, 64 x 784 x 256 0.82 -> 0.92 of oneDNN, the MLP step 0.76-0.82 ->
   0.88-0.89, in four interleaved runs. */
static inline int64_t kc(const cc_ctx *c)
{
    return c->width == 16 ? KC : KC_SMALL;
}

static inline int64_t pack_rows(const cc_ctx *c)
{
    return c->width == 16 ? PACK_ROWS : 8;
}

/* The function's arguments and the current blocks, as the kernels read
   them. B[k, j] of the block (k, j from its corner) is at
   bp[k ldb + j / P pstride + j % P], P = tile_vecs() W. */
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
