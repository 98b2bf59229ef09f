/* vmath_erf.c -- branch-free vector erf and erfc in double precision, with
   full relative accuracy in erfc's right tail until it turns subnormal at
   x = 26.54. Two pieces are evaluated for every lane and one is selected: an
   odd polynomial for |x| < 1 and, beyond, erfc(a) = e^{-a^2} a P(a^2)/Q(a^2). */
#include "cc.h"

/* erf is x p(x^2) below ERF_SPLIT; the tail's rational is fitted on
   [ERF_SPLIT, ERFC_END], beyond which e^{-a^2} (< 1e-340) is 0 in double. */
#define ERF_SPLIT 1.0
#define ERFC_END 28.0

/* scripts/gen_vmath.py: erf(sqrt z)/sqrt z on [0.0, 1.0], degree 11, max relative error 2.6e-17 */
static const double erf_p[12] = {
    1.1283791670955126,      /* z^0 */
    -0.3761263890318352,     /* z^1 */
    0.11283791670944185,     /* z^2 */
    -0.02686617064311147,    /* z^3 */
    0.005223977606118497,    /* z^4 */
    -0.0008548325929315675,  /* z^5 */
    0.00012055293576936782,  /* z^6 */
    -1.4924712302715437e-05, /* z^7 */
    1.6447131580103916e-06,  /* z^8 */
    -1.620631382690019e-07,  /* z^9 */
    1.371098069709882e-08,   /* z^10 */
    -7.77946905241132e-10,   /* z^11 */
};

/* scripts/gen_vmath.py: e^s erfc(sqrt s)/sqrt s = P(s)/Q(s) on [1.0, 784.0], degrees 9/10, max
   relative error 1.0e-16 */
static const double erfc_p[10] = {
    12.804112868937125,  /* s^0 */
    303.36342586855204,  /* s^1 */
    1770.1307414447433,  /* s^2 */
    3994.8837351058924,  /* s^3 */
    4208.789632604605,   /* s^4 */
    2271.773195228361,   /* s^5 */
    653.4904020161497,   /* s^6 */
    99.46536698283849,   /* s^7 */
    7.434638185671947,   /* s^8 */
    0.21168554682010005, /* s^9 */
};
/* the denominator Q of erfc_p */
static const double erfc_q[11] = {
    1.0,                /* s^0 */
    92.91435408417637,  /* s^1 */
    1203.0578243335344, /* s^2 */
    5156.735505413875,  /* s^3 */
    9672.738945498788,  /* s^4 */
    9061.755093473706,  /* s^5 */
    4532.341680257615,  /* s^6 */
    1240.3106929859975, /* s^7 */
    182.698947850311,   /* s^8 */
    13.365154513604526, /* s^9 */
    0.3752028626423263, /* s^10 */
};

/* e^{-a^2} within a few ULP. a^2 reaches 784, where its rounding alone
   would cost up to 784 * 2^-53 = 9e-14 relative; so a^2 = hi + lo exactly
   (hi = fl(a^2)) and e^{-a^2} = e^{-hi} (1 - lo), as |lo| < 1e-13. Without
   FMA, lo comes from Veltkamp's split a = ah + al into 26-bit halves (Dekker,
   A floating-point technique for extending the available precision, 1971). */
static LLVMValueRef exp_minus_square(cc_ctx *c, LLVMValueRef a)
{
    LLVMTypeRef t = LLVMTypeOf(a);
    LLVMValueRef hi = LLVMBuildFMul(c->b, a, a, "");
    LLVMValueRef lo;
    if (c->fma) {
        lo = cc_fma(c, a, a, LLVMBuildFNeg(c->b, hi, ""));
    } else {
        LLVMValueRef p = LLVMBuildFMul(c->b, a, cc_const(c, t, 134217729.0), ""); /* 2^27 + 1 */
        LLVMValueRef ah = LLVMBuildFSub(c->b, p, LLVMBuildFSub(c->b, p, a, ""), "");
        LLVMValueRef al = LLVMBuildFSub(c->b, a, ah, "");
        LLVMValueRef hh = LLVMBuildFMul(c->b, ah, ah, "");
        LLVMValueRef hl = LLVMBuildFMul(c->b, LLVMBuildFAdd(c->b, ah, ah, ""), al, "");
        LLVMValueRef ll = LLVMBuildFMul(c->b, al, al, "");
        lo = LLVMBuildFAdd(c->b, LLVMBuildFSub(c->b, hh, hi, ""), hl, "");
        lo = LLVMBuildFAdd(c->b, lo, ll, "");
    }
    LLVMValueRef e = cc_vm_exp(c, LLVMBuildFNeg(c->b, hi, ""));
    return cc_fma(c, LLVMBuildFNeg(c->b, e, ""), lo, e);
}

/* erfc(a) for a >= ERF_SPLIT (garbage below, never selected). e^{a^2}
   erfc(a)/a is a Stieltjes function of s = a^2 (it is (2/pi) times the
   integral of e^{-t^2}/(s + t^2) dt), so rational approximations converge
   fast and their P and Q have positive coefficients: Horner's rule on s > 0
   then has no cancellation. Clamping at ERFC_END (NaN passes) keeps P and Q
   finite for huge a, where the result is 0 anyway. */
static LLVMValueRef erfc_tail(cc_ctx *c, LLVMValueRef a)
{
    LLVMTypeRef t = LLVMTypeOf(a);
    LLVMValueRef big = LLVMBuildFCmp(c->b, LLVMRealOGT, a, cc_const(c, t, ERFC_END), "");
    a = cc_select(c, big, cc_const(c, t, ERFC_END), a);
    LLVMValueRef s = LLVMBuildFMul(c->b, a, a, "");
    LLVMValueRef num = LLVMBuildFMul(c->b, a, cc_poly(c, s, erfc_p, 10), "");
    LLVMValueRef ratio = LLVMBuildFDiv(c->b, num, cc_poly(c, s, erfc_q, 11), "");
    return LLVMBuildFMul(c->b, exp_minus_square(c, a), ratio, "");
}

/* x p(x^2): odd, so erf(-0) = -0, and relative accuracy near 0. */
static LLVMValueRef erf_small(cc_ctx *c, LLVMValueRef x)
{
    return LLVMBuildFMul(c->b, x, cc_poly(c, LLVMBuildFMul(c->b, x, x, ""), erf_p, 12), "");
}

static LLVMValueRef is_small(cc_ctx *c, LLVMValueRef a)
{
    return LLVMBuildFCmp(c->b, LLVMRealOLT, a, cc_const(c, LLVMTypeOf(a), ERF_SPLIT), "");
}

/* Beyond the split, erf = 1 - erfc: erf(1) = 0.84 against erfc(1) = 0.16,
   so the subtraction costs under one ULP. */
LLVMValueRef cc_vm_erf(cc_ctx *c, LLVMValueRef x)
{
    LLVMValueRef a = cc_intrinsic(c, "llvm.fabs", &x, 1);
    LLVMValueRef one_minus =
        LLVMBuildFSub(c->b, cc_const(c, LLVMTypeOf(x), 1), erfc_tail(c, a), "");
    LLVMValueRef args[2] = {one_minus, x};
    LLVMValueRef big = cc_intrinsic(c, "llvm.copysign", args, 2);
    return cc_select(c, is_small(c, a), erf_small(c, x), big);
}

/* Below the split, erfc = 1 - erf in [0.157, 1.843]: at worst a 5x
   cancellation, a few ULP. Left of -1, erfc(x) = 2 - erfc(-x) >= 1.84. */
LLVMValueRef cc_vm_erfc(cc_ctx *c, LLVMValueRef x)
{
    LLVMTypeRef t = LLVMTypeOf(x);
    LLVMValueRef a = cc_intrinsic(c, "llvm.fabs", &x, 1);
    LLVMValueRef tail = erfc_tail(c, a);
    LLVMValueRef neg = LLVMBuildFCmp(c->b, LLVMRealOLT, x, cc_const(c, t, 0), "");
    LLVMValueRef big = cc_select(c, neg, LLVMBuildFSub(c->b, cc_const(c, t, 2), tail, ""), tail);
    LLVMValueRef small = LLVMBuildFSub(c->b, cc_const(c, t, 1), erf_small(c, x), "");
    return cc_select(c, is_small(c, a), small, big);
}
