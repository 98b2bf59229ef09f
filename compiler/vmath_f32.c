/* vmath_f32.c -- exp and expm1 in float lanes, with their results as pairs
   of floats, for the softmax kernel (cc_vm_expf_pair: e^(hi + lo) within
   1e-8 from a 16-entry table of 2^(j/16), one vpermps with AVX-512, two
   and a blend with AVX2) and for compiler/act_f32.c's kernels and
   derivatives (cc_vm_expf_scaled and cc_vm_expm1f_neg:
   Taylor's series on |r| <= ln2/2, no table), on x86 with AVX-512, or
   AVX2 and FMA. They spare the kernels' widening to double and narrowing
   back, which cost as much as the double exp itself. */
#include "cc.h"

#include <assert.h>
#include <string.h>

/* scripts/gen_vmath.py: ln2/16 = LN2_16_HI + LN2_16_LO (floats); 16 log2e */
#define LN2_16_HI 0x1.62e43p-5f
#define LN2_16_LO -0x1.05c61p-33f
#define LOG2E_16 0x1.715476p+4f
/* scripts/gen_vmath.py: 2^(j/16) = exp16_hi[j] + exp16_lo[j] (floats) */
static const float exp16_hi[16] = {
    0x1p+0f,        0x1.0b5586p+0f, 0x1.172b84p+0f, 0x1.2387a6p+0f, 0x1.306fep+0f,  0x1.3dea64p+0f,
    0x1.4bfdaep+0f, 0x1.5ab07ep+0f, 0x1.6a09e6p+0f, 0x1.7a1148p+0f, 0x1.8ace54p+0f, 0x1.9c4918p+0f,
    0x1.ae89fap+0f, 0x1.c199bep+0f, 0x1.d5818ep+0f, 0x1.ea4afap+0f,
};
static const float exp16_lo[16] = {
    0.0f,
    0x1.9f3122p-25f,
    -0x1.c15742p-27f,
    0x1.ceac48p-25f,
    0x1.4636e2p-25f,
    0x1.824684p-25f,
    -0x1.593abcp-25f,
    -0x1.5bd5ecp-27f,
    0x1.9fcef4p-26f,
    -0x1.829fdp-25f,
    0x1.15506ep-27f,
    0x1.51f848p-27f,
    -0x1.a94b14p-26f,
    -0x1.3d56b2p-27f,
    -0x1.822dbcp-27f,
    0x1.52486cp-27f,
};

/* 1.5 * 2^23: adding it rounds a float below 2^22 in magnitude to an
   integer held in the low mantissa bits. */
#define SHIFTER_F 12582912.0f

bool cc_vm_has_expf_pair(const cc_ctx *c)
{
    /* 16 lanes: AVX-512F, 8: AVX2 (see target.c); FMA for exact products;
       vectors of one or more of the target's (not narrowed, lower_rows.c) */
    return (c->isa_width == 16 || c->isa_width == 8) && c->fma && c->width % c->isa_width == 0;
}

static LLVMValueRef fconst(cc_ctx *c, float v)
{
    return cc_const(c, c->vf32, v);
}

LLVMValueRef cc_vm_i32(cc_ctx *c, unsigned v)
{
    LLVMValueRef one = LLVMConstInt(c->i32, v, false), lanes[16];
    for (unsigned k = 0; k < c->width; k++)
        lanes[k] = one;
    return LLVMConstVector(lanes, c->width);
}

/* Lanes [k isa_width, (k + 1) isa_width) of v. */
static LLVMValueRef part(cc_ctx *c, LLVMValueRef v, unsigned k)
{
    LLVMValueRef idx[16];
    for (unsigned j = 0; j < c->isa_width; j++)
        idx[j] = LLVMConstInt(c->i32, k * c->isa_width + j, false);
    return LLVMBuildShuffleVector(c->b, v, LLVMGetUndef(LLVMTypeOf(v)),
                                  LLVMConstVector(idx, c->isa_width), "");
}

LLVMValueRef cc_vm_isa_call(cc_ctx *c, const char *name, LLVMTypeRef fty, LLVMValueRef *args,
                            unsigned nargs, unsigned at)
{
    LLVMValueRef fn = LLVMGetNamedFunction(c->mod, name);
    if (!fn)
        fn = LLVMAddFunction(c->mod, name, fty);
    if (c->width == c->isa_width)
        return LLVMBuildCall2(c->b, fty, fn, args, nargs, "");
    assert(c->width == 2 * c->isa_width && nargs <= 4);
    LLVMValueRef a[4], halves[2], idx[32];
    memcpy(a, args, nargs * sizeof *a);
    for (unsigned k = 0; k < 2; k++) {
        a[at] = part(c, args[at], k);
        halves[k] = LLVMBuildCall2(c->b, fty, fn, a, nargs, "");
    }
    for (unsigned j = 0; j < c->width; j++)
        idx[j] = LLVMConstInt(c->i32, j, false);
    return LLVMBuildShuffleVector(c->b, halves[0], halves[1], LLVMConstVector(idx, c->width), "");
}

/* vpermps: t[idx & (isa_width - 1)] lane by lane, t <isa_width x float>. */
static LLVMValueRef permute(cc_ctx *c, const float *t, LLVMValueRef idx)
{
    unsigned w = c->isa_width;
    LLVMValueRef vals[16];
    for (unsigned j = 0; j < w; j++)
        vals[j] = LLVMConstReal(c->f32, t[j]);
    const char *name = w == 16 ? "llvm.x86.avx512.permvar.sf.512" : "llvm.x86.avx2.permps";
    LLVMTypeRef params[2] = {LLVMVectorType(c->f32, w), LLVMVectorType(c->i32, w)};
    LLVMValueRef args[2] = {LLVMConstVector(vals, w), idx};
    return cc_vm_isa_call(c, name, LLVMFunctionType(params[0], params, 2, false), args, 2, 1);
}

/* t[idx & 15] lane by lane: one vpermps in 16 lanes; in 8, one for each
   half of t and a blend on bit 3 (its sign after a shift). */
LLVMValueRef cc_vm_lookup16(cc_ctx *c, const float *t, LLVMValueRef idx)
{
    if (c->isa_width == 16)
        return permute(c, t, idx);
    LLVMValueRef up = LLVMBuildShl(c->b, idx, cc_vm_i32(c, 28), "");
    LLVMValueRef high = LLVMBuildICmp(c->b, LLVMIntSLT, up, cc_vm_i32(c, 0), "");
    return LLVMBuildSelect(c->b, high, permute(c, t + 8, idx), permute(c, t, idx), "");
}

LLVMValueRef cc_vm_lookup8(cc_ctx *c, const float *t, LLVMValueRef idx)
{
    assert(c->isa_width == 8);
    return permute(c, t, idx);
}

LLVMValueRef cc_vm_two_diff(cc_ctx *c, LLVMValueRef a, LLVMValueRef b, LLVMValueRef *lo)
{
    LLVMBuilderRef B = c->b;
    LLVMValueRef s = LLVMBuildFSub(B, a, b, "");
    LLVMValueRef a1 = LLVMBuildFAdd(B, s, b, "");
    LLVMValueRef b1 = LLVMBuildFSub(B, a1, s, "");
    LLVMValueRef da = LLVMBuildFSub(B, a, a1, "");
    LLVMValueRef db = LLVMBuildFSub(B, b, b1, "");
    *lo = LLVMBuildFSub(B, da, db, "");
    return s;
}

/* hi - k ln2/16 = r1 exactly (for k != 0, |hi| > 2^-6 makes hi a multiple
   of 2^-29, and so is k LN2_16_HI, a 24-bit float times an integer; the
   difference is below 2^-5), and r = r1 + (lo - k LN2_16_LO) with |r| <=
   ln2/32, rounded by 2^-24 |r| at most. Returns e^r - 1 = q = r + r^2/2 +
   r^3/6 + r^4/24 (truncation 4e-11 relative), with r^2 (...) at most 1.1%
   of r, so q rounds about once; *bits are those of the
   shifted sum, 0x4b400000 + k, for cc_vm_lookup16() and exponent_field(). */
static LLVMValueRef reduce(cc_ctx *c, LLVMValueRef hi, LLVMValueRef lo, LLVMValueRef *bits)
{
    LLVMBuilderRef B = c->b;
    LLVMValueRef s = fconst(c, SHIFTER_F);
    LLVMValueRef t = cc_fma(c, hi, fconst(c, LOG2E_16), s);
    LLVMValueRef kf = LLVMBuildFSub(B, t, s, "");
    LLVMValueRef r1 = cc_fma(c, kf, fconst(c, -LN2_16_HI), hi);
    LLVMValueRef r = LLVMBuildFAdd(B, r1, cc_fma(c, kf, fconst(c, -LN2_16_LO), lo), "");
    LLVMValueRef h = cc_fma(c, r, fconst(c, 1.0f / 24), fconst(c, 1.0f / 6));
    h = cc_fma(c, r, h, fconst(c, 0.5f));
    *bits = LLVMBuildBitCast(B, t, c->vi32, "");
    return cc_fma(c, LLVMBuildFMul(B, r, r, ""), h, r); /* r + r^2 h: r's rounding alone */
}

/* (k >> 4) << 23 modulo 2^32, from the bits of reduce(): n = k >> 4 placed
   in a float's exponent field ((k << 19) & 0xff800000; the shifter's bits
   vanish). */
static LLVMValueRef exponent_field(cc_ctx *c, LLVMValueRef bits)
{
    LLVMBuilderRef B = c->b;
    return LLVMBuildAnd(B, LLVMBuildShl(B, bits, cc_vm_i32(c, 19), ""), cc_vm_i32(c, 0xff800000u),
                        "");
}

/* e^(hi + lo) = 2^n T (1 + q) with T = 2^(j/16) as hi + lo floats, j = k
   mod 16: returns T_hi, and *low = T_hi q + T_lo, below 0.045 of T_hi and
   rounded once, so that the pair is within 1e-8 relative of T (1 + q).
   *bits as reduce()'s. */
static LLVMValueRef table_pair(cc_ctx *c, LLVMValueRef hi, LLVMValueRef lo, LLVMValueRef *low,
                               LLVMValueRef *bits)
{
    LLVMValueRef q = reduce(c, hi, lo, bits);
    LLVMValueRef th = cc_vm_lookup16(c, exp16_hi, *bits);
    *low = cc_fma(c, th, q, cc_vm_lookup16(c, exp16_lo, *bits));
    return th;
}

/* 2^(k/16) e^r = T (1 + q) as table_pair()'s two terms. Both are scaled by
   2^(n + 64), n = k >> 4, exactly: normal floats for every result above
   e^-131 (2^-189; the low part may be denormal), and the 2^64 cancels in a
   ratio of such sums. Below `lowest`, 0. */
LLVMValueRef cc_vm_expf_pair(cc_ctx *c, LLVMValueRef hi, LLVMValueRef lo, float lowest,
                             LLVMValueRef *rest)
{
    LLVMBuilderRef B = c->b;
    LLVMValueRef bits, low, th = table_pair(c, hi, lo, &low, &bits);
    LLVMValueRef p = LLVMBuildAdd(B, exponent_field(c, bits), cc_vm_i32(c, (64 + 127) << 23), "");
    p = LLVMBuildBitCast(B, p, c->vf32, "");
    /* -inf lands here too (low is NaN for -inf: zeroed; a NaN input keeps
       it in *rest) */
    LLVMValueRef gone = LLVMBuildFCmp(B, LLVMRealOLT, hi, fconst(c, lowest), "");
    LLVMValueRef zero = fconst(c, 0);
    *rest = cc_select(c, gone, zero, LLVMBuildFMul(B, low, p, ""));
    return cc_select(c, gone, zero, LLVMBuildFMul(B, th, p, ""));
}

/* x = k ln2 + r, k = round(x log2e) by the shifter, r1 = x - k LN2_HI
   exactly (one FMA: for k != 0, |x| > 0.34 makes x a multiple of 2^-25,
   k LN2_HI is one of 2^-21, and |r1| <= 0.347 < 2^-1) and rl = lo - k
   LN2_LO (lo NULL: 0); e^r - 1 = r1 + *ql, *ql = rl + r^2 p(r), p Taylor's
   series to r^7 (the first term left out is below 5.4e-9), r = r1 + rl
   rounded (5.7e-9 through r^2 p), *ql rounded by 2^-24 of itself (|ql| <=
   0.07). Returns the shifter's sum, whose low bits are k. */
static LLVMValueRef reduce_exp(cc_ctx *c, LLVMValueRef x, LLVMValueRef lo, LLVMValueRef *r1,
                               LLVMValueRef *ql)
{
    LLVMBuilderRef B = c->b;
    LLVMValueRef s = fconst(c, SHIFTER_F);
    LLVMValueRef t = cc_fma(c, x, fconst(c, LOG2E_16 / 16), s);
    LLVMValueRef kf = LLVMBuildFSub(B, t, s, "");
    *r1 = cc_fma(c, kf, fconst(c, -LN2_16_HI * 16), x);
    LLVMValueRef ln2lo = fconst(c, -LN2_16_LO * 16);
    LLVMValueRef rl = lo ? cc_fma(c, kf, ln2lo, lo) : LLVMBuildFMul(B, kf, ln2lo, "");
    LLVMValueRef r = LLVMBuildFAdd(B, *r1, rl, "");
    LLVMValueRef p = fconst(c, 1.0f / 5040);
    static const float taylor[5] = {1.0f / 720, 1.0f / 120, 1.0f / 24, 1.0f / 6, 0.5f};
    for (int i = 0; i < 5; i++)
        p = cc_fma(c, p, r, fconst(c, taylor[i]));
    *ql = cc_fma(c, LLVMBuildFMul(B, r, r, ""), p, rl);
    return t;
}

/* 2^(k + bias) from reduce_exp's shifter sum: (k + 127 + bias) << 23. */
static LLVMValueRef pow2_of(cc_ctx *c, LLVMValueRef t, unsigned bias)
{
    LLVMBuilderRef B = c->b;
    LLVMValueRef bits = LLVMBuildShl(B, LLVMBuildBitCast(B, t, c->vi32, ""), cc_vm_i32(c, 23), "");
    bits = LLVMBuildAdd(B, bits, cc_vm_i32(c, (127 + bias) << 23), "");
    return LLVMBuildBitCast(B, bits, c->vf32, "");
}

LLVMValueRef cc_vm_fast_sum(cc_ctx *c, LLVMValueRef a, LLVMValueRef b, LLVMValueRef *lo)
{
    LLVMValueRef s = LLVMBuildFAdd(c->b, a, b, "");
    *lo = LLVMBuildFSub(c->b, b, LLVMBuildFSub(c->b, s, a, ""), "");
    return s;
}

/* scale (1 + q) with scale = 2^(k + 64) (k >= -190 for x >= lowest >=
   -131) and q = r1 + ql of reduce_exp rounded once (2^-26 for |q| <=
   0.41: within 2.8e-8 of e^r - 1, 4e-8 relative to e^r), rounded once by
   an FMA; *rest (unless NULL) is that rounding's error, exact by a second
   FMA: scale - hi is exact (Sterbenz: hi/scale is in [0.7, 1.42]), and
   the error of a sum of two floats (scale and scale q, exact) is a float.
   Both 0 below lowest (the selects also hide r1's NaN for -inf). */
LLVMValueRef cc_vm_expf_scaled(cc_ctx *c, LLVMValueRef x, LLVMValueRef lo, float lowest,
                               LLVMValueRef *rest)
{
    assert(lowest >= -131); /* k + 191 > 0 */
    LLVMBuilderRef B = c->b;
    LLVMValueRef r1, ql, t = reduce_exp(c, x, lo, &r1, &ql);
    LLVMValueRef gone = LLVMBuildFCmp(B, LLVMRealOLT, x, fconst(c, lowest), "");
    LLVMValueRef zero = fconst(c, 0);
    LLVMValueRef q = cc_select(c, gone, zero, LLVMBuildFAdd(B, r1, ql, ""));
    LLVMValueRef scale = cc_select(c, gone, zero, pow2_of(c, t, 64));
    LLVMValueRef hi = cc_fma(c, scale, q, scale);
    if (rest)
        *rest = cc_fma(c, scale, q, LLVMBuildFSub(B, scale, hi, ""));
    return hi;
}

/* e^x - 1 = (2^k - 1) + 2^k r1 + 2^k ql (reduce_exp, x clamped to [-87, 0],
   k >= -126). 2^k - 1 is s + err by Fast2Sum (|-1| >= 2^k); s + 2^k r1
   rounds to m1, whose error is a float (2^k r1 is exact unless subnormal,
   for k <= -125, where its 2^-150 is nothing beside m ~ -1) that one FMA
   finds (s - m1 is exact by Sterbenz: m1/s is in [0.65, 1.35], or s = 0
   for k = 0); the rest, 2^k ql + that error + err, rounds by 2^-24 of
   itself, and m1 + rest is Fast2Sum'ed into the pair. Nothing cancels
   beyond rounding: for k = 0 the sum is r1 + ql with r1 = x, x itself for
   tiny x, denormals included, and for k <= -1 |e^x - 1| >= 0.29 while the
   roundings are below 1.2e-8 2^k: within ~0.6 ULP of float before the
   pair's last rounding. e^x - 1 rounds to -1 in float below -18, but the
   pair keeps e^x for the products and quotients made of it (0.3 (e^x - 1)
   and tanh|x| = -m/(2 + m) round the other way for some x with e^-18 in
   place of e^x); below -87, e^x < 2^-125 changes nothing. */
LLVMValueRef cc_vm_expm1f_neg(cc_ctx *c, LLVMValueRef x, LLVMValueRef *lo)
{
    LLVMBuilderRef B = c->b;
    x = cc_vm_clamp(c, x, -87, 0);
    LLVMValueRef r1, ql, p = pow2_of(c, reduce_exp(c, x, NULL, &r1, &ql), 0);
    LLVMValueRef err, s = cc_vm_fast_sum(c, fconst(c, -1), p, &err);
    LLVMValueRef m1 = cc_fma(c, p, r1, s);
    LLVMValueRef e1 = cc_fma(c, p, r1, LLVMBuildFSub(B, s, m1, ""));
    LLVMValueRef rest = cc_fma(c, p, ql, LLVMBuildFAdd(B, e1, err, ""));
    return cc_vm_fast_sum(c, m1, rest, lo);
}
