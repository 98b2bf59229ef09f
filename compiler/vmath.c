/* vmath.c -- branch-free vector exp, expm1, log, log1p, tanh and sigmoid in
   double precision (erf and erfc are in vmath_erf.c). Each result is within
   a few double ULP (relative error below 1e-15, docs/accuracy.md), far inside
   the 1e-13 that makes the float rounded from it within 1 ULP. Special
   values are handled by selects, never by branches or libm calls. */
#include "cc.h"

#include <math.h>

/* scripts/gen_vmath.py: ln 2 = LN2_HI + LN2_LO, LN2_HI with 42 significant bits */
#define LN2_HI 0.6931471805598903
#define LN2_LO 5.497923018708371e-14
#define LOG2E 1.4426950408889634
#define SQRT_HALF_BITS 0x3fe6a09e667f3bcd /* the double nearest sqrt(1/2) */

/* 1.5 * 2^52: adding it rounds a double below 2^51 in magnitude to an
   integer held in the low mantissa bits, which then read as an integer. */
#define SHIFTER 6755399441055744.0

/* scripts/gen_vmath.py: (e^r - 1 - r)/r^2 on [-0.3466, 0.3466], degree 10, max relative error
   6.1e-18 */
static const double expm1_h[11] = {
    0.5,                    /* r^0 */
    0.1666666666666667,     /* r^1 */
    0.041666666666666616,   /* r^2 */
    0.008333333333326164,   /* r^3 */
    0.0013888888888917974,  /* r^4 */
    0.00019841269874736089, /* r^5 */
    2.4801587245717235e-05, /* r^6 */
    2.755725549482771e-06,  /* r^7 */
    2.755734962897506e-07,  /* r^8 */
    2.5105181706802474e-08, /* r^9 */
    2.0889375637448145e-09, /* r^10 */
};

/* scripts/gen_vmath.py: (e^r - 1)/r on [-0.3466, 0.3466], degree 6, max relative error 2.3e-10 */
static const double exp_p[7] = {
    1.0000000000312153,     /* r^0 */
    0.50000000466734,       /* r^1 */
    0.16666666249433604,    /* r^2 */
    0.04166635435480298,    /* r^3 */
    0.008333402919330263,   /* r^4 */
    0.0013941012853564707,  /* r^5 */
    0.00019841251508070682, /* r^6 */
};

/* scripts/gen_vmath.py: (2 atanh(sqrt z)/sqrt z - 2)/z on [0.0, 0.0295], degree 6, max relative
   error 4.8e-16 */
static const double log_p[7] = {
    0.666666666666667,   /* z^0 */
    0.39999999999897856, /* z^1 */
    0.2857142862670262,  /* z^2 */
    0.22222211018639115, /* z^3 */
    0.18182897438518206, /* z^4 */
    0.15331449387640056, /* z^5 */
    0.14619771411814594, /* z^6 */
};

/* ---- lane-wise integer and comparison helpers ---------------------------- */

/* i64, or <n x i64> with as many lanes as the double type t. */
static LLVMTypeRef int_type(cc_ctx *c, LLVMTypeRef t)
{
    if (LLVMGetTypeKind(t) != LLVMVectorTypeKind)
        return c->i64;
    return LLVMVectorType(c->i64, LLVMGetVectorSize(t));
}

/* The i64 v, splatted to as many lanes as t has. */
static LLVMValueRef int_const(cc_ctx *c, LLVMTypeRef t, long long v)
{
    LLVMValueRef one = LLVMConstInt(c->i64, (unsigned long long)v, 1);
    if (LLVMGetTypeKind(t) != LLVMVectorTypeKind)
        return one;
    unsigned n = LLVMGetVectorSize(t);
    LLVMValueRef lanes[64];
    for (unsigned i = 0; i < n; i++)
        lanes[i] = one;
    return LLVMConstVector(lanes, n);
}

static LLVMValueRef to_bits(cc_ctx *c, LLVMValueRef x)
{
    return LLVMBuildBitCast(c->b, x, int_type(c, LLVMTypeOf(x)), "");
}

static LLVMValueRef from_bits(cc_ctx *c, LLVMValueRef i, LLVMTypeRef t)
{
    return LLVMBuildBitCast(c->b, i, t, "");
}

static LLVMValueRef fcmp(cc_ctx *c, LLVMRealPredicate p, LLVMValueRef x, double k)
{
    return LLVMBuildFCmp(c->b, p, x, cc_const(c, LLVMTypeOf(x), k), "");
}

LLVMValueRef cc_vm_clamp(cc_ctx *c, LLVMValueRef x, double lo, double hi)
{
    LLVMTypeRef t = LLVMTypeOf(x);
    x = cc_select(c, fcmp(c, LLVMRealOGT, x, hi), cc_const(c, t, hi), x);
    return cc_select(c, fcmp(c, LLVMRealOLT, x, lo), cc_const(c, t, lo), x);
}

static LLVMValueRef min_int(cc_ctx *c, LLVMValueRef k, long long cap)
{
    LLVMValueRef v = int_const(c, LLVMTypeOf(k), cap);
    return cc_select(c, LLVMBuildICmp(c->b, LLVMIntSGT, k, v, ""), v, k);
}

/* The integer k (|k| < 2^51) as a double, through the shifter rather than a
   conversion (i64 -> f64 vectors need AVX-512DQ on x86). */
static LLVMValueRef int_to_double(cc_ctx *c, LLVMValueRef k, LLVMTypeRef t)
{
    LLVMValueRef s = cc_const(c, t, SHIFTER);
    LLVMValueRef biased = from_bits(c, LLVMBuildAdd(c->b, k, to_bits(c, s), ""), t);
    return LLVMBuildFSub(c->b, biased, s, "");
}

/* 2^k for k in [-1022, 1023], from the exponent bits. */
static LLVMValueRef pow2(cc_ctx *c, LLVMValueRef k, LLVMTypeRef t)
{
    LLVMTypeRef it = LLVMTypeOf(k);
    LLVMValueRef e = LLVMBuildAdd(c->b, k, int_const(c, it, 1023), "");
    return from_bits(c, LLVMBuildShl(c->b, e, int_const(c, it, 52), ""), t);
}

/* v * 2^n for n in [-1100, 1100], in two steps so that neither factor
   overflows. For the v we pass (2^-3 < |v| < 2^60, or n = 0) the first
   product is exact and the second rounds once, so results near the overflow
   and underflow thresholds come out right, gradual underflow included. */
static LLVMValueRef scale(cc_ctx *c, LLVMValueRef v, LLVMValueRef n)
{
    LLVMTypeRef t = LLVMTypeOf(v);
    LLVMValueRef half = LLVMBuildAShr(c->b, n, int_const(c, LLVMTypeOf(n), 1), "");
    LLVMValueRef rest = LLVMBuildSub(c->b, n, half, "");
    v = LLVMBuildFMul(c->b, v, pow2(c, half, t), "");
    return LLVMBuildFMul(c->b, v, pow2(c, rest, t), "");
}

/* ---- exp and expm1 ------------------------------------------------------ */

/* n = round(x log2e) for |x| < 2^50, as an integer and as the double *nd,
   through the shifter. */
static LLVMValueRef nearest_n(cc_ctx *c, LLVMValueRef x, LLVMValueRef *nd)
{
    LLVMTypeRef t = LLVMTypeOf(x);
    LLVMValueRef s = cc_const(c, t, SHIFTER);
    LLVMValueRef big = cc_fma(c, x, cc_const(c, t, LOG2E), s);
    *nd = LLVMBuildFSub(c->b, big, s, "");
    return LLVMBuildSub(c->b, to_bits(c, big), to_bits(c, s), "");
}

/* x = n ln2 + r with n = round(x log2e), |r| <= 0.3466; returns
   q = e^r - 1 = r + r^2 h(r), relative error ~2^-53 (no cancellation near
   r = 0), and n as an integer. Needs x in [-746, 710]: callers clamp. Then
   n LN2_HI is exact (11 + 42 bits) and x - n LN2_HI is exact by Sterbenz's
   lemma, so r
   carries only the rounding of the LN2_LO step: Cody and Waite's reduction
   (Cody & Waite, Software Manual for the Elementary Functions, 1980). */
static LLVMValueRef expm1_reduced(cc_ctx *c, LLVMValueRef x, LLVMValueRef *n)
{
    LLVMTypeRef t = LLVMTypeOf(x);
    LLVMValueRef nd;
    *n = nearest_n(c, x, &nd);
    LLVMValueRef r = cc_fma(c, nd, cc_const(c, t, -LN2_HI), x);
    r = cc_fma(c, nd, cc_const(c, t, -LN2_LO), r);
    LLVMValueRef h = cc_poly(c, r, expm1_h, 11);
    return cc_fma(c, LLVMBuildFMul(c->b, r, r, ""), h, r);
}

LLVMValueRef cc_vm_exp(cc_ctx *c, LLVMValueRef x)
{
    /* e^x overflows above 709.783 and rounds to 0 below -745.134; clamping
       just outside keeps the reduction valid and lets scale() produce the
       inf or 0. */
    LLVMValueRef n, q = expm1_reduced(c, cc_vm_clamp(c, x, -746, 710), &n);
    return scale(c, LLVMBuildFAdd(c->b, q, cc_const(c, LLVMTypeOf(x), 1), ""), n);
}

/* For results that are rounded to float or summed: e^r = 1 + r p(r), 7 FMAs
   instead of 12, exactly 1 at x = 0 (so a row's max counts exactly 1 in
   its sum), and one scaling step, since n stays in [-1022, 1023] on the
   domain. The reduction r = x - n ln2 with ln2 rounded to double errs by at
   most |n| 2^-54 ln2 < 5e-14, so the result is within 1.2e-10 relative
   (9.6e-11 for the polynomial in exact arithmetic). */
LLVMValueRef cc_vm_exp_f32(cc_ctx *c, LLVMValueRef x)
{
    LLVMTypeRef t = LLVMTypeOf(x);
    LLVMValueRef nd, n = nearest_n(c, x, &nd);
    LLVMValueRef r = cc_fma(c, nd, cc_const(c, t, -(LN2_HI + LN2_LO)), x);
    LLVMValueRef p = cc_fma(c, r, cc_poly(c, r, exp_p, 7), cc_const(c, t, 1));
    /* a product, not bit arithmetic on the result, so that NaN stays NaN */
    LLVMValueRef e = LLVMBuildFMul(c->b, p, pow2(c, n, t), "");
    return cc_select(c, fcmp(c, LLVMRealOLT, x, -708), cc_const(c, t, 0), e);
}

/* expm1 for x already in [-40, 710] (below -40 it rounds to -1):
   2^n (q + (1 - 2^-n)). For n = 0 that is q itself, accurate near 0; for
   n != 0, |1 - 2^-n| >= 1/2 against |q| <= 0.42, so the sum cancels at most
   ~5x, a few ULP. 1 - 2^-n is exact for n in [-53, 60]; n is capped at 60,
   where the term no longer matters, to keep 2^-n normal. */
static LLVMValueRef expm1_clamped(cc_ctx *c, LLVMValueRef x)
{
    LLVMTypeRef t = LLVMTypeOf(x);
    LLVMValueRef n, q = expm1_reduced(c, x, &n);
    LLVMValueRef inv = pow2(c, LLVMBuildNeg(c->b, min_int(c, n, 60), ""), t);
    LLVMValueRef m = LLVMBuildFSub(c->b, cc_const(c, t, 1), inv, "");
    return scale(c, LLVMBuildFAdd(c->b, q, m, ""), n);
}

LLVMValueRef cc_vm_expm1(cc_ctx *c, LLVMValueRef x)
{
    LLVMValueRef y = expm1_clamped(c, cc_vm_clamp(c, x, -40, 710));
    /* q = r + r^2 h gives +0 for r = -0: keep the sign of a zero. */
    return cc_select(c, fcmp(c, LLVMRealOEQ, x, 0), x, y);
}

/* ---- log and log1p ------------------------------------------------------ */

/* u = 2^k m with m in [sqrt(1/2), sqrt(2)), for u positive and normal:
   subtracting the bits of sqrt(1/2) makes the exponent field k exactly when
   the mantissa is at least sqrt(1/2)'s. Returns m; *k is the integer. */
static LLVMValueRef split_exponent(cc_ctx *c, LLVMValueRef u, LLVMValueRef *k)
{
    LLVMValueRef iu = to_bits(c, u);
    LLVMTypeRef it = LLVMTypeOf(iu);
    LLVMValueRef d = LLVMBuildSub(c->b, iu, int_const(c, it, (long long)SQRT_HALF_BITS), "");
    *k = LLVMBuildAShr(c->b, d, int_const(c, it, 52), "");
    LLVMValueRef shifted = LLVMBuildShl(c->b, *k, int_const(c, it, 52), "");
    return from_bits(c, LLVMBuildSub(c->b, iu, shifted, ""), LLVMTypeOf(u));
}

/* k ln2 + log(1 + f) for f in [sqrt(1/2) - 1, sqrt(2) - 1] (and a hair
   beyond): log(1 + f) = 2 atanh(s) = 2s + s^3 p(s^2), s = f/(2 + f), so the
   polynomial term is at most 1% of the result and its error is damped 100x;
   s is within 2 ULP, and k ln2 + log(1 + f) does not cancel (|log(1 + f)|
   <= 0.35 < ln2 <= |k ln2| for k != 0). */
static LLVMValueRef log_finish(cc_ctx *c, LLVMValueRef k, LLVMValueRef f)
{
    LLVMTypeRef t = LLVMTypeOf(f);
    LLVMValueRef s = LLVMBuildFDiv(c->b, f, LLVMBuildFAdd(c->b, f, cc_const(c, t, 2), ""), "");
    LLVMValueRef z = LLVMBuildFMul(c->b, s, s, "");
    LLVMValueRef s3 = LLVMBuildFMul(c->b, s, z, "");
    LLVMValueRef lm = cc_fma(c, s3, cc_poly(c, z, log_p, 7), LLVMBuildFAdd(c->b, s, s, ""));
    LLVMValueRef lo = cc_fma(c, k, cc_const(c, t, LN2_LO), lm);
    return cc_fma(c, k, cc_const(c, t, LN2_HI), lo);
}

/* The special values of log-like functions: y where x > edge, -inf at
   x == edge, NaN below it and for NaN, +inf at +inf. */
static LLVMValueRef log_specials(cc_ctx *c, LLVMValueRef x, LLVMValueRef y, double edge)
{
    LLVMTypeRef t = LLVMTypeOf(x);
    y = cc_select(c, fcmp(c, LLVMRealOEQ, x, INFINITY), cc_const(c, t, INFINITY), y);
    LLVMValueRef out =
        cc_select(c, fcmp(c, LLVMRealOEQ, x, edge), cc_const(c, t, -INFINITY), cc_const(c, t, NAN));
    return cc_select(c, fcmp(c, LLVMRealOGT, x, edge), y, out);
}

LLVMValueRef cc_vm_log(cc_ctx *c, LLVMValueRef x)
{
    LLVMTypeRef t = LLVMTypeOf(x);
    /* Subnormals are scaled by 2^54 into the normal range first. */
    LLVMValueRef tiny = fcmp(c, LLVMRealOLT, x, 0x1p-1022);
    LLVMValueRef xs = cc_select(c, tiny, LLVMBuildFMul(c->b, x, cc_const(c, t, 0x1p54), ""), x);
    LLVMValueRef k, m = split_exponent(c, xs, &k);
    k = LLVMBuildSub(c->b, k, cc_select(c, tiny, int_const(c, t, 54), int_const(c, t, 0)), "");
    LLVMValueRef f = LLVMBuildFSub(c->b, m, cc_const(c, t, 1), ""); /* exact */
    return log_specials(c, x, log_finish(c, int_to_double(c, k, t), f), 0);
}

/* u = 1 + x rounds, and d = x - (u - 1) is its rounding error, exactly
   while u < 2^53: 1 is then a multiple of u's ULP, so u - 1 is exact, and x
   is within half that ULP of it (Sterbenz). Beyond, d 2^-k < 2^-52 is
   negligible beside k ln2. With u = 2^k m, 1 + x = 2^k (m + d 2^-k), so
   log1p(x) = k ln2 + log(1 + f), f = (m - 1) + d 2^-k rounded once; for
   k = 0, f is x itself. */
LLVMValueRef cc_vm_log1p(cc_ctx *c, LLVMValueRef x)
{
    LLVMTypeRef t = LLVMTypeOf(x);
    LLVMValueRef one = cc_const(c, t, 1);
    LLVMValueRef u = LLVMBuildFAdd(c->b, x, one, "");
    LLVMValueRef d = LLVMBuildFSub(c->b, x, LLVMBuildFSub(c->b, u, one, ""), "");
    LLVMValueRef k, m = split_exponent(c, u, &k);
    /* d = 0 once u >= 2^53, so k (up to 1024) is capped at 60 to keep 2^-k
       normal. */
    LLVMValueRef inv = pow2(c, LLVMBuildNeg(c->b, min_int(c, k, 60), ""), t);
    LLVMValueRef f = cc_fma(c, d, inv, LLVMBuildFSub(c->b, m, one, ""));
    LLVMValueRef y = log_finish(c, int_to_double(c, k, t), f);
    y = cc_select(c, fcmp(c, LLVMRealOEQ, x, 0), x, y); /* log1p(-0) = -0 */
    return log_specials(c, x, y, -1);
}

/* ---- tanh and sigmoid --------------------------------------------------- */

/* tanh|x| = t/(t + 2), t = expm1(2|x|): no cancellation anywhere, a few ULP.
   Beyond 20, tanh rounds to 1 (1 - tanh 20 = 8.5e-18), and the clamp keeps
   t finite. The sign is copied back, so tanh(-0) = -0. */
LLVMValueRef cc_vm_tanh(cc_ctx *c, LLVMValueRef x)
{
    LLVMTypeRef t = LLVMTypeOf(x);
    LLVMValueRef a = cc_intrinsic(c, "llvm.fabs", &x, 1);
    a = cc_select(c, fcmp(c, LLVMRealOGT, a, 20), cc_const(c, t, 20), a);
    LLVMValueRef e = expm1_clamped(c, LLVMBuildFAdd(c->b, a, a, ""));
    LLVMValueRef y = LLVMBuildFDiv(c->b, e, LLVMBuildFAdd(c->b, e, cc_const(c, t, 2), ""), "");
    LLVMValueRef args[2] = {y, x};
    return cc_intrinsic(c, "llvm.copysign", args, 2);
}

/* With e = exp(-|x|) in [0, 1]: 1/(1 + e) for x >= 0, e/(1 + e) for x < 0.
   Nothing overflows, and the left tail keeps full relative accuracy
   (sigmoid(-100) = 3.7e-44, not 1 - 1). */
LLVMValueRef cc_vm_sigmoid_exp_arg(cc_ctx *c, LLVMValueRef x)
{
    if (LLVMIsAInstruction(x) && LLVMGetInstructionOpcode(x) == LLVMFNeg)
        x = LLVMGetOperand(x, 0); /* |-u| = |u|: the same call as sigmoid(u)'s */
    LLVMValueRef a = cc_intrinsic(c, "llvm.fabs", &x, 1);
    return LLVMBuildFNeg(c->b, a, "");
}

LLVMValueRef cc_vm_sigmoid_of(cc_ctx *c, LLVMValueRef x, LLVMValueRef e)
{
    LLVMTypeRef t = LLVMTypeOf(x);
    LLVMValueRef num = cc_select(c, fcmp(c, LLVMRealOLT, x, 0), e, cc_const(c, t, 1));
    return LLVMBuildFDiv(c->b, num, LLVMBuildFAdd(c->b, e, cc_const(c, t, 1), ""), "");
}

LLVMValueRef cc_vm_sigmoid(cc_ctx *c, LLVMValueRef x)
{
    return cc_vm_sigmoid_of(c, x, cc_vm_exp(c, cc_vm_sigmoid_exp_arg(c, x)));
}
