/* act_f32.c -- the common built-in activations and their derivatives on
   float lanes (AVX-512, or AVX2 and FMA), instead of their formulas in double lanes: twice
   the lanes per instruction, no widening and narrowing. Where a step would
   round away accuracy, it works on pairs of floats (hi + lo, the
   unevaluated sum): e^u comes as a pair (exp_pair, from cc_vm_expf_scaled,
   without a table), quotients are refined against the exact residual,
   and an argument like beta x is split exactly with FMA. Each result
   rounds once at the end, within 1 ULP by the sweep of
   tests/compiler/test_activation_ulp.c (docs/accuracy.md has the analysis);
   the derivatives are plain floats, within a few ULP by the same test.
   Special values follow ir/builtins.c's formulas, guards included. */
#define _DEFAULT_SOURCE /* M_PI */
#include "cc.h"

#include <math.h>
#include <string.h>

typedef struct {
    LLVMValueRef hi, lo;
} pair;

/* A kernel on x with the call's params (f or f'; NULL for params it leaves
   to the double formula): the entries of the table at the end. */
typedef LLVMValueRef (*kernel)(cc_ctx *c, LLVMValueRef x, const double *p);

static LLVMValueRef k32(cc_ctx *c, float v)
{
    return cc_const(c, c->vf32, v);
}

/* The double v as hi + lo floats (hi the float nearest v). */
static pair k32_pair(cc_ctx *c, double v)
{
    float hi = (float)v;
    return (pair){k32(c, hi), k32(c, (float)(v - hi))};
}

static LLVMValueRef lt(cc_ctx *c, LLVMValueRef a, float v)
{
    return LLVMBuildFCmp(c->b, LLVMRealOLT, a, k32(c, v), "");
}

static LLVMValueRef gt(cc_ctx *c, LLVMValueRef a, float v)
{
    return LLVMBuildFCmp(c->b, LLVMRealOGT, a, k32(c, v), "");
}

static LLVMValueRef fabs_(cc_ctx *c, LLVMValueRef a)
{
    return cc_intrinsic(c, "llvm.fabs", &a, 1);
}

static LLVMValueRef copysign_(cc_ctx *c, LLVMValueRef mag, LLVMValueRef sign)
{
    LLVMValueRef args[2] = {mag, sign};
    return cc_intrinsic(c, "llvm.copysign", args, 2);
}

/* 1/d within 2^-14 (AVX-512's vrcp14ps) or 1.5 2^-12 (AVX's vrcpps). */
static LLVMValueRef rcp_approx(cc_ctx *c, LLVMValueRef d)
{
    bool wide = c->isa_width == 16;
    const char *name = wide ? "llvm.x86.avx512.rcp14.ps.512" : "llvm.x86.avx.rcp.ps.256";
    LLVMTypeRef i16 = LLVMInt16TypeInContext(c->ctx);
    LLVMTypeRef vf = LLVMVectorType(c->f32, c->isa_width);
    LLVMTypeRef params[3] = {vf, vf, i16};
    LLVMValueRef args[3] = {d, LLVMConstNull(vf), LLVMConstInt(i16, 0xffff, false)};
    unsigned n = wide ? 3 : 1;
    return cc_vm_isa_call(c, name, LLVMFunctionType(vf, params, n, false), args, n, 0);
}

/* 1/d within 2^-27 (before its rounding to float): vrcp14ps and one
   Newton step; with AVX2, a division, correctly rounded (vrcpps, 1.5 2^-12,
   would need two Newton steps). */
static LLVMValueRef recip(cc_ctx *c, LLVMValueRef d)
{
    if (c->isa_width != 16)
        return LLVMBuildFDiv(c->b, k32(c, 1), d, "");
    LLVMValueRef r = rcp_approx(c, d);
    LLVMValueRef e = cc_fma(c, LLVMBuildFNeg(c->b, d, ""), r, k32(c, 1));
    return cc_fma(c, r, e, r);
}

/* n/d as a pair: q within ~1.1 ULP of the quotient (n.hi
   times recip(d.hi)), or with AVX2 the quotient of the highs correctly
   rounded, one division and no product after it; the residual n - q d is
   computed to 2^-24 of itself (the first FMA is exact), and lo = residual
   / d.hi, for which an approximate reciprocal is enough (lo is below
   2^-22 of q). The pair is within ~2^-33 relative. */
static pair divide(cc_ctx *c, pair n, pair d)
{
    LLVMValueRef q, r;
    if (c->isa_width == 16) {
        r = recip(c, d.hi);
        q = LLVMBuildFMul(c->b, n.hi, r, "");
    } else {
        q = LLVMBuildFDiv(c->b, n.hi, d.hi, "");
        r = rcp_approx(c, d.hi);
    }
    LLVMValueRef nq = LLVMBuildFNeg(c->b, q, "");
    LLVMValueRef e = cc_fma(c, nq, d.hi, n.hi);
    e = LLVMBuildFAdd(c->b, e, cc_fma(c, nq, d.lo, n.lo), "");
    return (pair){q, LLVMBuildFMul(c->b, e, r, "")};
}

static LLVMValueRef round_pair(cc_ctx *c, pair p)
{
    return LLVMBuildFAdd(c->b, p.hi, p.lo, "");
}

static pair select_pair(cc_ctx *c, LLVMValueRef m, pair a, pair b)
{
    return (pair){cc_select(c, m, a.hi, b.hi), cc_select(c, m, a.lo, b.lo)};
}

/* a + b exactly (Fast2Sum: a's exponent at least b's). */
static pair fast_sum(cc_ctx *c, LLVMValueRef a, LLVMValueRef b)
{
    pair s;
    s.hi = cc_vm_fast_sum(c, a, b, &s.lo);
    return s;
}

/* a b for pairs, to 2^-44 relative: the high product exactly (FMA) and the
   cross terms. */
static pair mul_pair(cc_ctx *c, pair a, pair b)
{
    LLVMValueRef hi = LLVMBuildFMul(c->b, a.hi, b.hi, "");
    LLVMValueRef lo = cc_fma(c, a.hi, b.hi, LLVMBuildFNeg(c->b, hi, ""));
    lo = LLVMBuildFAdd(c->b, lo, cc_fma(c, a.hi, b.lo, LLVMBuildFMul(c->b, a.lo, b.hi, "")), "");
    return (pair){hi, lo};
}

/* a + b for a float a and a pair b, a's exponent at least b.hi's: Fast2Sum
   of a and b.hi, then b.lo. */
static pair sum_pair(cc_ctx *c, LLVMValueRef a, pair b)
{
    pair s = fast_sum(c, a, b.hi);
    s.lo = LLVMBuildFAdd(c->b, s.lo, b.lo, "");
    return s;
}

static pair neg_pair(cc_ctx *c, pair p)
{
    return (pair){LLVMBuildFNeg(c->b, p.hi, ""), LLVMBuildFNeg(c->b, p.lo, "")};
}

/* 2^64 e^u for u <= 0 (u.lo NULL: 0) as a normalised pair within 4e-8
   relative, 0 below lowest (cc_vm_expf_scaled and its rounding error). No
   table: on AVX2 each of cc_vm_expf_pair's two tables costs two vpermps
   and a blend. A float e alone came out 2 ULP off in swish's left tail,
   where e's error passes whole into the result. */
static pair exp_pair(cc_ctx *c, pair u, float lowest)
{
    pair e;
    e.hi = cc_vm_expf_scaled(c, u.hi, u.lo, lowest, &e.lo);
    return e;
}

/* The logistic function of u (u.lo NULL: 0), as e = 2^64 e^-|u| (a pair,
   0 below e^-130, where even 40 sigmoid(u) or x sigmoid(beta x) for
   |beta| >= 1e-9 rounds to 0; its high part is cc_vm_expf_scaled's), the
   denominator d = 1 + e 2^-64 (its sum's rounding error is a float, which
   one FMA finds) and r ~ 1/d.hi; 2^64 sigmoid(u) = n/d with n = e for u <
   0 and 2^64 otherwise, 2^64 sigmoid(-u) the other way round. Nothing
   overflows, and the quotient stays a normal float down to sigmoid(u) =
   2^-150: the left tail keeps its relative accuracy until the last
   product, which rounds once into the denormals when multiplied by 2^-64. The derivatives of
   sigmoid, swish, silu, gelu (tanh) and tanh build it too: in a pass with the forward of the first
   four, LLVM computes it once for both (tanh's forward takes expm1 instead). */
typedef struct {
    pair e, d;
    LLVMValueRef neg, r;
} logistic;

static logistic logistic_of(cc_ctx *c, pair u)
{
    LLVMBuilderRef B = c->b;
    logistic l;
    l.neg = lt(c, u.hi, 0);
    LLVMValueRef ah = LLVMBuildFNeg(B, fabs_(c, u.hi), "");
    LLVMValueRef al = u.lo ? cc_select(c, l.neg, u.lo, LLVMBuildFNeg(B, u.lo, "")) : NULL;
    l.e = exp_pair(c, (pair){ah, al}, -130);
    LLVMValueRef down = k32(c, 0x1p-64f), one = k32(c, 1);
    l.d.hi = cc_fma(c, l.e.hi, down, one);
    l.d.lo = cc_fma(c, l.e.lo, down, cc_fma(c, l.e.hi, down, LLVMBuildFSub(B, one, l.d.hi, "")));
    l.r = recip(c, l.d.hi);
    return l;
}

/* 2^64 sigmoid(u) as a pair. */
static pair sigmoid_pair(cc_ctx *c, const logistic *l)
{
    return divide(c, select_pair(c, l->neg, l->e, (pair){k32(c, 0x1p64f), k32(c, 0)}), l->d);
}

/* v 2^-64, rounded once (into the denormals, for the left tail). */
static LLVMValueRef unscale(cc_ctx *c, LLVMValueRef v)
{
    return LLVMBuildFMul(c->b, v, k32(c, 0x1p-64f), "");
}

/* 2^64 sigmoid(u) (sign 1) or 2^64 sigmoid(-u) (sign -1) in plain floats,
   for the derivatives, which need no last bit (test_activation_ulp holds
   them to a few ULP). */
static LLVMValueRef plain_sigmoid(cc_ctx *c, const logistic *l, int sign)
{
    LLVMValueRef small = LLVMBuildFMul(c->b, l->e.hi, l->r, "");
    LLVMValueRef big = LLVMBuildFMul(c->b, l->r, k32(c, 0x1p64f), "");
    return sign > 0 ? cc_select(c, l->neg, small, big) : cc_select(c, l->neg, big, small);
}

/* 2^64 sigmoid(u) sigmoid(-u) = e/(1 + e)^2, the slope of the logistic,
   from 2^64 e and r = 1/(1 + e): e r r. */
static LLVMValueRef slope(cc_ctx *c, LLVMValueRef e, LLVMValueRef r)
{
    return LLVMBuildFMul(c->b, LLVMBuildFMul(c->b, e, r, ""), r, "");
}

/* beta x as an exact pair: beta = b.hi + b.lo, beta x = hi + the product's
   rounding error (FMA) + b.lo x, within 2^-48 relative; x alone (lo NULL)
   for beta = 1. */
static pair scaled(cc_ctx *c, double beta, LLVMValueRef x)
{
    if (beta == 1)
        return (pair){x, NULL};
    pair b = k32_pair(c, beta);
    LLVMValueRef hi = LLVMBuildFMul(c->b, b.hi, x, "");
    LLVMValueRef lo = cc_fma(c, b.hi, x, LLVMBuildFNeg(c->b, hi, ""));
    return (pair){hi, cc_fma(c, b.lo, x, lo)};
}

/* x p as p's pair times x, rounded once: fma(x, p.hi, x p.lo); for x = +-0
   x p.hi, whose sign x p.lo could flip. */
static LLVMValueRef times(cc_ctx *c, LLVMValueRef x, pair p)
{
    LLVMValueRef hi = LLVMBuildFMul(c->b, x, p.hi, "");
    LLVMValueRef y = cc_fma(c, x, p.hi, LLVMBuildFMul(c->b, x, p.lo, ""));
    return cc_select(c, LLVMBuildFCmp(c->b, LLVMRealOEQ, x, k32(c, 0), ""), hi, y);
}

/* x sigmoid(beta x): where(beta x < -1000, 0/x, ...) as the formula, and x
   itself where sigmoid(beta x) is 1 (beyond 1000, so that inf stays inf
   rather than inf * 0). 2^64 x sigmoid(beta x) does not overflow while
   |x| <= 1000/|beta| < 2^64, and its tail reaches 0 before e^-130 when
   |beta| >= 1e-9 (cc_act_f32 leaves smaller betas to the double
   formula). */
static LLVMValueRef swish(cc_ctx *c, LLVMValueRef x, double beta)
{
    pair u = scaled(c, beta, x);
    logistic l = logistic_of(c, u);
    LLVMValueRef y = unscale(c, times(c, x, sigmoid_pair(c, &l)));
    y = cc_select(c, gt(c, u.hi, 1000), x, y);
    LLVMValueRef zero = LLVMBuildFDiv(c->b, k32(c, 0), x, "");
    return cc_select(c, lt(c, u.hi, -1000), zero, y);
}

/* tanh|x| = -m/(2 + m) with m = expm1(-2|x|) (cc_vm_expm1f_neg, a pair):
   the numerator is m itself, exact for tiny x (tanh x = x there,
   denormals included), and 2 + m is in [1, 2], Fast2Sum'ed, so nothing
   cancels anywhere and no series is needed near 0. The sign is copied
   back: tanh(-0) = -0. */
static LLVMValueRef tanh_f(cc_ctx *c, LLVMValueRef x, const double *params)
{
    (void)params;
    LLVMBuilderRef B = c->b;
    LLVMValueRef a = fabs_(c, x);
    pair m;
    m.hi = cc_vm_expm1f_neg(c, LLVMBuildFNeg(B, LLVMBuildFAdd(B, a, a, ""), ""), &m.lo);
    pair d = sum_pair(c, k32(c, 2), m);
    LLVMValueRef t = round_pair(c, divide(c, neg_pair(c, m), d));
    return copysign_(c, t, x);
}

/* where(x > 0, pos x, neg expm1(x)) with pos and neg constants (elu: 1 and
   alpha; selu: lambda and lambda alpha), each product rounded once. At 0
   the formula gives neg * expm1(x), a zero of x's sign times neg's. */
static LLVMValueRef elu(cc_ctx *c, LLVMValueRef x, double pos, double neg)
{
    pair m;
    m.hi = cc_vm_expm1f_neg(c, x, &m.lo);
    pair nk = k32_pair(c, neg);
    LLVMValueRef y =
        cc_fma(c, nk.hi, m.hi, cc_fma(c, nk.hi, m.lo, LLVMBuildFMul(c->b, nk.lo, m.hi, "")));
    y = cc_select(c, LLVMBuildFCmp(c->b, LLVMRealOEQ, x, k32(c, 0), ""),
                  LLVMBuildFMul(c->b, x, nk.hi, ""), y);
    LLVMValueRef p = x;
    if (pos != 1) { /* x pos.hi alone at inf, where x pos.lo could make inf - inf */
        pair pk = k32_pair(c, pos);
        LLVMValueRef inf = gt(c, fabs_(c, x), 0x1p127f);
        p = cc_select(c, inf, LLVMBuildFMul(c->b, x, pk.hi, ""), times(c, x, pk));
    }
    return cc_select(c, gt(c, x, 0), p, y);
}

/* x sigmoid(u), u = 2 sqrt(2/pi) (x + 0.044715 x^3) computed in double and
   split into a pair, so that its rounding does not reach the left tail
   (sigmoid(u) ~ e^u there, where an error du costs |u| du relative). */
#define GELU_K1 (2 * sqrt(2 / M_PI)) /* u = K1 (x + 0.044715 x^3) */

static logistic gelu_tanh_logistic(cc_ctx *c, LLVMValueRef x)
{
    LLVMBuilderRef B = c->b;
    double k1 = GELU_K1, k3 = k1 * 0.044715;
    LLVMValueRef xd = LLVMBuildFPExt(B, x, c->vf64, "");
    LLVMValueRef x2 = LLVMBuildFMul(B, xd, xd, "");
    LLVMValueRef ud =
        LLVMBuildFMul(B, xd, cc_fma(c, x2, cc_const(c, c->vf64, k3), cc_const(c, c->vf64, k1)), "");
    pair u;
    u.hi = LLVMBuildFPTrunc(B, ud, c->vf32, "");
    u.lo = LLVMBuildFPTrunc(B, LLVMBuildFSub(B, ud, LLVMBuildFPExt(B, u.hi, c->vf64, ""), ""),
                            c->vf32, "");
    return logistic_of(c, u);
}

static LLVMValueRef gelu_tanh(cc_ctx *c, LLVMValueRef x)
{
    logistic l = gelu_tanh_logistic(c, x);
    LLVMValueRef y = unscale(c, times(c, x, sigmoid_pair(c, &l)));
    y = cc_select(c, gt(c, x, 40), x, y);
    return cc_select(c, lt(c, x, -40), k32(c, -0.0f), y);
}

/* The tanh gelu's derivative, as ir/builtins.c writes it: sigmoid(u) + x
   sigmoid(u) sigmoid(-u) K1 (1 + 3 0.044715 x^2), from the forward's
   logistic (a fused pass computes it once); 0 below -40, 1 above 40. */
static LLVMValueRef gelu_tanh_grad(cc_ctx *c, LLVMValueRef x)
{
    LLVMBuilderRef B = c->b;
    logistic l = gelu_tanh_logistic(c, x);
    LLVMValueRef s = round_pair(c, sigmoid_pair(c, &l));
    LLVMValueRef du = cc_fma(c, LLVMBuildFMul(B, x, x, ""), k32(c, (float)(3 * 0.044715 * GELU_K1)),
                             k32(c, (float)GELU_K1));
    LLVMValueRef sl = slope(c, l.e.hi, l.r);
    /* scaled by 2^64 until the sum, which rounds once into the denormals */
    LLVMValueRef g = unscale(c, cc_fma(c, LLVMBuildFMul(B, x, sl, ""), du, s));
    g = cc_select(c, gt(c, x, 40), k32(c, 1), g);
    return cc_select(c, lt(c, x, -40), k32(c, 0), g);
}

/* ---- gelu: x Phi(x) ------------------------------------------------------ */

/* scripts/gen_vmath.py: Phi(-a) e^(a^2/2) on 16 intervals of [0, 14.5], degree 7 in t = a - centre,
   max relative error 1.6e-8 with these floats (coefficient k is gelu_hi[k] + gelu_lo[k] for k < 2)
 */
static const float gelu_hi[8][16] = {
    {
        0x1.710a8cp-2f,
        0x1.c0efc6p-3f,
        0x1.38fcp-3f,
        0x1.da90a4p-4f,
        0x1.7c00dep-4f,
        0x1.3bfb72p-4f,
        0x1.0e03cp-4f,
        0x1.d70874p-5f,
        0x1.a171fap-5f,
        0x1.76accep-5f,
        0x1.53c688p-5f,
        0x1.36c5fcp-5f,
        0x1.1e4cc6p-5f,
        0x1.096092p-5f,
        0x1.ee93d4p-6f,
        0x1.cefec4p-6f,
    },
    {
        -0x1.e29718p-3f,
        -0x1.9d856ap-4f,
        -0x1.afb6d2p-5f,
        -0x1.019d0ap-5f,
        -0x1.517714p-6f,
        -0x1.d8c012p-7f,
        -0x1.5c1982p-7f,
        -0x1.0a5486p-7f,
        -0x1.a40502p-8f,
        -0x1.5356b4p-8f,
        -0x1.17ab82p-8f,
        -0x1.d4b3fep-9f,
        -0x1.8e4dd6p-9f,
        -0x1.569176p-9f,
        -0x1.29b52ep-9f,
        -0x1.05141p-9f,
    },
    {
        0x1.03b4bep-3f,
        0x1.4fbe5cp-5f,
        0x1.11d5dcp-6f,
        0x1.08065ep-7f,
        0x1.1f93aep-8f,
        0x1.56fc72p-9f,
        0x1.b65f22p-10f,
        0x1.27ad66p-10f,
        0x1.a0651p-11f,
        0x1.2fa002p-11f,
        0x1.c7c20ep-12f,
        0x1.5e6f5p-12f,
        0x1.130afp-12f,
        0x1.b76c2ap-13f,
        0x1.646eacp-13f,
        0x1.2502d4p-13f,
    },
    {
        -0x1.e68bf6p-5f,
        -0x1.ee3052p-7f,
        -0x1.4406f4p-8f,
        -0x1.015556p-9f,
        -0x1.d83aeap-11f,
        -0x1.e3d00cp-12f,
        -0x1.0e04e4p-12f,
        -0x1.428fp-13f,
        -0x1.96f97p-14f,
        -0x1.0c801ep-14f,
        -0x1.6fb978p-15f,
        -0x1.03d4ecp-15f,
        -0x1.792426p-16f,
        -0x1.1815aep-16f,
        -0x1.a86d72p-17f,
        -0x1.4746ecp-17f,
    },
    {
        0x1.98da86p-6f,
        0x1.4f75ep-8f,
        0x1.6924dap-10f,
        0x1.dfb01cp-12f,
        0x1.76c736p-13f,
        0x1.4c5f6cp-14f,
        0x1.45cd84p-15f,
        0x1.5a0d1ep-16f,
        0x1.885d28p-17f,
        0x1.d5836ap-18f,
        0x1.25dedp-18f,
        0x1.7e2dbcp-19f,
        0x1.00c2bep-19f,
        0x1.62e004p-20f,
        0x1.f6b248p-21f,
        0x1.6bd384p-21f,
    },
    {
        -0x1.3b0b48p-7f,
        -0x1.a9af64p-10f,
        -0x1.7e23f8p-12f,
        -0x1.ad9004p-14f,
        -0x1.20559p-15f,
        -0x1.bd9e54p-17f,
        -0x1.8179dep-18f,
        -0x1.6d61fcp-19f,
        -0x1.7555fep-20f,
        -0x1.9604e4p-21f,
        -0x1.d15968p-22f,
        -0x1.16d6eep-22f,
        -0x1.5b36bcp-23f,
        -0x1.bef31ap-24f,
        -0x1.2822c4p-24f,
        -0x1.929394p-25f,
    },
    {
        0x1.d66556p-9f,
        0x1.06b314p-11f,
        0x1.8b0d9ep-14f,
        0x1.7965bp-16f,
        0x1.b4cfa4p-18f,
        0x1.26f59ep-19f,
        0x1.c35a9ap-21f,
        0x1.7e7abep-22f,
        0x1.60aca4p-23f,
        0x1.5cf954p-24f,
        0x1.6e8758p-25f,
        0x1.950fd8p-26f,
        0x1.d3b3eap-27f,
        0x1.187fp-27f,
        0x1.5bda7cp-28f,
        0x1.bc434p-29f,
    },
    {
        -0x1.363312p-10f,
        -0x1.27a2cep-13f,
        -0x1.7ce28ap-16f,
        -0x1.3a4a96p-18f,
        -0x1.3d5b1ap-20f,
        -0x1.79c7dep-22f,
        -0x1.014f14p-23f,
        -0x1.87c488p-25f,
        -0x1.4735bcp-26f,
        -0x1.2771b6p-27f,
        -0x1.1d033cp-28f,
        -0x1.22fd56p-29f,
        -0x1.38035p-30f,
        -0x1.5d25cp-31f,
        -0x1.959eap-32f,
        -0x1.e7176ep-33f,
    },
};
static const float gelu_lo[2][16] = {
    {
        0x1.c305aap-27f,
        0x1.f0c83p-31f,
        0x1.cde194p-28f,
        -0x1.cdb4d4p-34f,
        -0x1.869f5p-30f,
        -0x1.2123p-30f,
        0x1.f45be6p-29f,
        0x1.3ae84ap-30f,
        0x1.8b5ceep-41f,
        0x1.5e8dd6p-30f,
        0x1.7cb938p-31f,
        -0x1.a9b7p-31f,
        0x1.b33046p-30f,
        0x1.5aec52p-30f,
        0x1.918306p-36f,
        0x1.3cfabap-31f,
    },
    {
        -0x1.6d5cd6p-34f,
        -0x1.26d40ep-30f,
        0x1.4d31ep-31f,
        0x1.350274p-31f,
        -0x1.54313cp-31f,
        0x1.ae9edcp-32f,
        0x1.9824eep-33f,
        0x1.a14b3ap-32f,
        0x1.eab6ep-33f,
        0x1.779c92p-36f,
        -0x1.92aceep-39f,
        -0x1.e93f8ep-34f,
        0x1.da9946p-34f,
        -0x1.fa506ap-35f,
        0x1.c74fd2p-35f,
        0x1.c25c3cp-35f,
    },
};

/* scripts/gen_vmath.py: Phi(-a) e^(a^2/2) on 8 intervals of [0, 14.5], degree 10 in t = a - centre,
   max relative error 8.5e-9 with these floats (coefficient k is gelu8_hi[k] + gelu8_lo[k] for k <
   2) */
static const float gelu8_hi[11][8] = {
    {
        0x1.199fbep-2f,
        0x1.0e457cp-3f,
        0x1.592682p-4f,
        0x1.f739a8p-5f,
        0x1.8aebbap-5f,
        0x1.44a24ap-5f,
        0x1.1371ccp-5f,
        0x1.de44a8p-6f,
    },
    {
        -0x1.32971ep-3f,
        -0x1.48eeeep-5f,
        -0x1.186b42p-6f,
        -0x1.2f337ap-7f,
        -0x1.787fe6p-8f,
        -0x1.ff0c48p-9f,
        -0x1.70df6ap-9f,
        -0x1.167f1ep-9f,
    },
    {
        0x1.1d6688p-4f,
        0x1.7598b8p-7f,
        0x1.b7d008p-9f,
        0x1.65e046p-10f,
        0x1.622a66p-11f,
        0x1.8e88b8p-12f,
        0x1.eaa518p-13f,
        0x1.42a9dep-13f,
    },
    {
        -0x1.d8b61ep-6f,
        -0x1.9005f8p-9f,
        -0x1.4def4p-11f,
        -0x1.9e3822p-13f,
        -0x1.48e3acp-14f,
        -0x1.33fe3cp-15f,
        -0x1.442418p-16f,
        -0x1.73eefep-17f,
    },
    {
        0x1.649abcp-7f,
        0x1.96d278p-11f,
        0x1.ec38p-14f,
        0x1.d69c38p-16f,
        0x1.2da47ap-17f,
        0x1.d7dd8cp-19f,
        0x1.a97e04p-20f,
        0x1.aa9416p-21f,
    },
    {
        -0x1.f2035ap-9f,
        -0x1.8b43b8p-13f,
        -0x1.60e4aep-16f,
        -0x1.06a848p-18f,
        -0x1.115978p-20f,
        -0x1.665eb8p-22f,
        -0x1.157b24p-23f,
        -0x1.e6d5dep-25f,
    },
    {
        0x1.451378p-10f,
        0x1.70804cp-15f,
        0x1.ed234p-19f,
        0x1.204968p-21f,
        0x1.e9b218p-24f,
        0x1.0de60cp-25f,
        0x1.67a424p-27f,
        0x1.14730ap-28f,
    },
    {
        -0x1.8bfceap-12f,
        -0x1.49b67ep-17f,
        -0x1.4fe584p-21f,
        -0x1.372fbap-24f,
        -0x1.b19d74p-27f,
        -0x1.932a3ap-29f,
        -0x1.cf3822p-31f,
        -0x1.387132p-32f,
    },
    {
        0x1.d2bb7ap-14f,
        0x1.1e7508p-19f,
        0x1.c006f4p-24f,
        0x1.4af6a2p-27f,
        0x1.7be568p-30f,
        0x1.2ac1dp-32f,
        0x1.28879cp-34f,
        0x1.5f772p-36f,
    },
    {
        -0x1.31a762p-15f,
        -0x1.089176p-21f,
        -0x1.35c9aap-26f,
        -0x1.68205ep-30f,
        -0x1.51ff6ep-33f,
        -0x1.bfa884p-36f,
        -0x1.7ec19ap-38f,
        -0x1.8dda8ap-40f,
    },
    {
        0x1.3963b2p-17f,
        0x1.a9c9c4p-24f,
        0x1.8a0c04p-29f,
        0x1.732332p-33f,
        0x1.21aba6p-36f,
        0x1.466e14p-39f,
        0x1.e41ac8p-42f,
        0x1.bb4f0ap-44f,
    },
};
static const float gelu8_lo[2][8] = {
    {
        0x1.037c94p-27f,
        0x1.5c2a44p-28f,
        -0x1.4bd456p-31f,
        -0x1.f45624p-30f,
        -0x1.f265b2p-30f,
        0x1.786ebcp-31f,
        -0x1.5dceap-30f,
        0x1.413954p-32f,
    },
    {
        -0x1.b6e8d2p-29f,
        -0x1.fceaf4p-34f,
        -0x1.0907b2p-31f,
        0x1.17044cp-32f,
        -0x1.544468p-34f,
        -0x1.fee6cp-34f,
        0x1.29f5c2p-34f,
        -0x1.08d7dp-34f,
    },
};

#define GELU_END 14.5f

/* 2^64 Phi(-a) for a = |x| >= 0 as a pair, and e = 2^64 e^(-a^2/2) (a
   pair) and R (rounded) with Phi(-a) = e^(-a^2/2) R(a). a^2/2 is an exact
   pair (a/2 is exact, then FMA), so e keeps its 4e-8 however large a^2 is;
   R(a) is a polynomial in t = a - centre on the n-th of [0, 14.5] holding
   a: with AVX-512 16 intervals of degree 7, with AVX2 8 of degree 10, each
   coefficient one vpermps from its table (16 entries in 16 lanes, 8 in 8;
   gelu_hi as 8 lanes would be two vpermps and a blend). t is exact but
   for a < w/2, where Fast2Sum keeps its rounding; R's two leading terms
   are pairs. Beyond 14.49 (and for NaN) the last interval: there Phi(-a)
   is below 1e-46, gone in every product we make of it. */
typedef struct {
    pair phi, e;
    LLVMValueRef r;
} gelu_parts;

/* R's coefficient k (its low part, for k < 2, with low) on the interval j. */
static LLVMValueRef gelu_coef(cc_ctx *c, bool low, int k, LLVMValueRef j)
{
    if (c->isa_width == 8)
        return cc_vm_lookup8(c, low ? gelu8_lo[k] : gelu8_hi[k], j);
    return cc_vm_lookup16(c, low ? gelu_lo[k] : gelu_hi[k], j);
}

static gelu_parts gelu_tail(cc_ctx *c, LLVMValueRef a)
{
    LLVMBuilderRef B = c->b;
    gelu_parts g;
    int n = c->isa_width == 8 ? 8 : 16, deg = n == 8 ? 10 : 7;
    float w = GELU_END / (float)n; /* 0.90625 or 1.8125, exact */
    LLVMValueRef h = LLVMBuildFMul(B, a, k32(c, 0.5f), "");
    LLVMValueRef s = LLVMBuildFMul(B, a, h, "");
    LLVMValueRef sl = cc_fma(c, a, h, LLVMBuildFNeg(B, s, ""));
    g.e = exp_pair(c, (pair){LLVMBuildFNeg(B, s, ""), LLVMBuildFNeg(B, sl, "")}, -110);
    LLVMValueRef ai = cc_select(c, lt(c, a, 14.49f), a, k32(c, 14.49f));
    LLVMValueRef j = LLVMBuildFPToSI(B, LLVMBuildFMul(B, ai, k32(c, 1 / w), ""), c->vi32, "");
    LLVMValueRef jf = LLVMBuildSIToFP(B, j, c->vf32, "");
    LLVMValueRef d = cc_fma(c, jf, k32(c, -w), ai); /* exact */
    LLVMValueRef half = k32(c, -w / 2);
    LLVMValueRef t = LLVMBuildFAdd(B, half, d, "");
    LLVMValueRef tl = LLVMBuildFSub(B, d, LLVMBuildFSub(B, t, half, ""), "");
    LLVMValueRef p = gelu_coef(c, false, deg, j);
    for (int k = deg - 1; k >= 1; k--)
        p = cc_fma(c, p, t, gelu_coef(c, false, k, j));
    /* R = c0 + t p, p = c1 + ...: the product and the sum kept exactly, with
       the low parts of c0 and c1 and the rounding of t */
    LLVMValueRef th = LLVMBuildFMul(B, t, p, "");
    LLVMValueRef low = cc_fma(c, t, p, LLVMBuildFNeg(B, th, ""));
    low = cc_fma(c, t, gelu_coef(c, true, 1, j), low);
    low = cc_fma(c, tl, p, LLVMBuildFAdd(B, low, gelu_coef(c, true, 0, j), ""));
    LLVMValueRef c0 = gelu_coef(c, false, 0, j);
    pair r;
    r.hi = LLVMBuildFAdd(B, c0, th, "");
    r.lo = LLVMBuildFAdd(B, LLVMBuildFAdd(B, LLVMBuildFSub(B, c0, r.hi, ""), th, ""), low, "");
    g.r = r.hi;
    g.phi = mul_pair(c, g.e, r);
    return g;
}

/* x Phi(x): Phi(x) = Phi(-|x|) for x < 0, 1 - Phi(-x) otherwise (at most
   1/2 taken from 1: no cancellation), times x rounded once, and the
   formula's guards: -0 below -40, x itself above 40 (inf stays inf). */
static LLVMValueRef gelu_erf(cc_ctx *c, LLVMValueRef x)
{
    gelu_parts g = gelu_tail(c, fabs_(c, x));
    pair q = sum_pair(c, k32(c, 0x1p64f), neg_pair(c, g.phi));
    pair f = select_pair(c, lt(c, x, 0), g.phi, q);
    LLVMValueRef y = unscale(c, times(c, x, f));
    y = cc_select(c, gt(c, x, 40), x, y);
    return cc_select(c, lt(c, x, -40), k32(c, -0.0f), y);
}

/* gelu'(x) = Phi(x) + x phi(x), phi(x) = e^(-x^2/2)/sqrt(2 pi): with e and
   D = R - |x|/sqrt(2 pi), e D for x < 0 and 1 - e D otherwise (scaled by
   2^-64); 0 below -40 and 1 above 40, as the formula. */
static LLVMValueRef gelu_erf_grad(cc_ctx *c, LLVMValueRef x)
{
    gelu_parts g = gelu_tail(c, fabs_(c, x));
    LLVMValueRef dd = cc_fma(c, fabs_(c, x), k32(c, (float)(-1 / sqrt(2 * M_PI))), g.r);
    LLVMValueRef ed = unscale(c, LLVMBuildFMul(c->b, round_pair(c, g.e), dd, ""));
    LLVMValueRef v = cc_select(c, lt(c, x, 0), ed, LLVMBuildFSub(c->b, k32(c, 1), ed, ""));
    v = cc_select(c, gt(c, x, 40), k32(c, 1), v);
    return cc_select(c, lt(c, x, -40), k32(c, 0), v);
}

/* ---- softplus: log(1 + e^x) ---------------------------------------------- */

/* scripts/gen_vmath.py: r = 1/(1 + j/16) as floats, -log r = log16_hi[j] + log16_lo[j] */
static const float log16_r[16] = {
    0x1p+0f,        0x1.e1e1e2p-1f, 0x1.c71c72p-1f, 0x1.af286cp-1f, 0x1.99999ap-1f, 0x1.861862p-1f,
    0x1.745d18p-1f, 0x1.642c86p-1f, 0x1.555556p-1f, 0x1.47ae14p-1f, 0x1.3b13b2p-1f, 0x1.2f684cp-1f,
    0x1.24924ap-1f, 0x1.1a7b96p-1f, 0x1.111112p-1f, 0x1.08421p-1f,
};
static const float log16_hi[16] = {
    0.0f,           0x1.f0a30ap-5f, 0x1.e27074p-4f, 0x1.5ff306p-3f, 0x1.c8ff7ap-3f, 0x1.1675cap-2f,
    0x1.4618bap-2f, 0x1.739d7ep-2f, 0x1.9f323cp-2f, 0x1.c8ff7ep-2f, 0x1.f128f4p-2f, 0x1.0be72ep-1f,
    0x1.1e85f4p-1f, 0x1.307d74p-1f, 0x1.41d8fcp-1f, 0x1.52a2d4p-1f,
};
static const float log16_lo[16] = {
    0.0f,
    0x1.162a76p-37f,
    0x1.c55e5cp-29f,
    0x1.4f27aap-32f,
    0x1.e6a68ap-29f,
    -0x1.0a8b3ep-27f,
    0x1.0e2f66p-29f,
    0x1.5de804p-29f,
    0x1.97f30ap-27f,
    -0x1.959768p-32f,
    -0x1.0a1f2p-27f,
    0x1.295418p-32f,
    0x1.9c1036p-27f,
    -0x1.561de8p-26f,
    0x1.88ce58p-26f,
    -0x1.34874ap-26f,
};

/* ln 2 as two floats (the first exact in 24 bits) */
#define LN2_F_HI 0x1.62e43p-1f
#define LN2_F_LO -0x1.05c61p-29f

/* log(1 + e) for a normalised pair e in [0, 1], as a pair. m = 1 + e exactly (Fast2Sum),
   m.hi = 2^k f with k in {0, 1} and f in [1, 2); in f's 16th, j (the top
   four bits of its fraction), log f = -log r_j + log1p(u), u = f r_j - 1
   in [0, 1/16) rounded once by the FMA (u = f - 1 exactly for j = 0, where
   r_0 = 1), log1p(u) = u + u^2 P(u) with Taylor's P to u^5 (the first term
   left out is below 5e-10 of it). Every term is >= 0 (to rounding), so the
   sum does not cancel; m.lo enters as m.lo / m.hi, which for a tiny e is e
   itself: log(1 + e) keeps e's relative accuracy. */
static pair log1p_unit(cc_ctx *c, pair e)
{
    LLVMBuilderRef B = c->b;
    LLVMValueRef one = k32(c, 1);
    pair m = sum_pair(c, one, e);
    LLVMValueRef bits = LLVMBuildBitCast(B, m.hi, c->vi32, "");
    LLVMValueRef k =
        LLVMBuildSub(B, LLVMBuildLShr(B, bits, cc_vm_i32(c, 23), ""), cc_vm_i32(c, 127), "");
    LLVMValueRef kf = LLVMBuildSIToFP(B, k, c->vf32, "");
    LLVMValueRef fbits = LLVMBuildOr(B, LLVMBuildAnd(B, bits, cc_vm_i32(c, 0x7fffff), ""),
                                     cc_vm_i32(c, 0x3f800000), "");
    LLVMValueRef f = LLVMBuildBitCast(B, fbits, c->vf32, "");
    LLVMValueRef j = LLVMBuildLShr(B, bits, cc_vm_i32(c, 19), "");
    LLVMValueRef r = cc_vm_lookup16(c, log16_r, j);
    LLVMValueRef u = cc_fma(c, f, r, k32(c, -1));
    static const float taylor[5] = {1.0f / 6, 1.0f / 5, 1.0f / 4, 1.0f / 3, 1.0f / 2};
    LLVMValueRef p = k32(c, 1.0f / 7);
    for (int i = 0; i < 5; i++)
        p = cc_fma(c, p, LLVMBuildFNeg(B, u, ""), k32(c, taylor[i]));
    /* p = 1/2 - u/3 + u^2/4 - ...: log1p(u) = u - u^2 p */
    LLVMValueRef sq = LLVMBuildFMul(B, LLVMBuildFNeg(B, LLVMBuildFMul(B, u, u, ""), ""), p, "");
    /* m.lo / m.hi = m.lo r 2^-k / (1 + u) = m.lo r 2^-k (1 - u), to u^2 of a
       term below 2^-24 of m: without (1 - u), a tiny e (where m.hi - 1 and
       m.lo are of e's order) came out 1.5 ULP low */
    LLVMValueRef half =
        cc_select(c, LLVMBuildICmp(B, LLVMIntSGT, k, cc_vm_i32(c, 0), ""), k32(c, 0.5f), one);
    LLVMValueRef corr = LLVMBuildFMul(B, LLVMBuildFMul(B, m.lo, r, ""), half, "");
    corr = cc_fma(c, LLVMBuildFNeg(B, corr, ""), u, corr);
    /* k ln2 + -log r: one of the two is 0 (m.hi = 2 only for e = 1) */
    LLVMValueRef a = cc_fma(c, kf, k32(c, LN2_F_HI), cc_vm_lookup16(c, log16_hi, j));
    pair s = fast_sum(c, a, u); /* a = 0 or a > 1/16 > u */
    LLVMValueRef lows = cc_fma(c, kf, k32(c, LN2_F_LO), cc_vm_lookup16(c, log16_lo, j));
    LLVMValueRef rest =
        LLVMBuildFAdd(B, LLVMBuildFAdd(B, sq, LLVMBuildFAdd(B, lows, corr, ""), ""), s.lo, "");
    return fast_sum(c, s.hi, rest);
}

/* softplus with beta = 1: where(x > threshold, x, max(x, 0) + log(1 +
   e^-|x|)); e^-|x| from the exp pair, brought down by 2^-64 (a denormal e
   only for x < -87, where the sum is e alone and rounds once). The last sum
   adds two terms >= 0, the larger first (Fast2Sum). */
static LLVMValueRef softplus(cc_ctx *c, LLVMValueRef x, double threshold)
{
    LLVMBuilderRef B = c->b;
    LLVMValueRef zero = k32(c, 0);
    pair e = exp_pair(c, (pair){LLVMBuildFNeg(B, fabs_(c, x), ""), NULL}, -104);
    e = (pair){unscale(c, e.hi), unscale(c, e.lo)};
    pair l = log1p_unit(c, e);
    LLVMValueRef xp = cc_select(c, gt(c, x, 0), x, zero);
    LLVMValueRef first = LLVMBuildFCmp(B, LLVMRealOGE, xp, l.hi, "");
    LLVMValueRef big = cc_select(c, first, xp, l.hi), small = cc_select(c, first, l.hi, xp);
    pair sum = fast_sum(c, big, small);
    LLVMValueRef y = LLVMBuildFAdd(B, sum.hi, LLVMBuildFAdd(B, sum.lo, l.lo, ""), "");
    return cc_select(c, gt(c, x, (float)threshold), x, y);
}

/* ---- mish: x tanh(softplus(x)) --------------------------------------------- */

/* tanh(log(1 + e^x)) = n/(n + 2), n = e^x (e^x + 2), without cancellation
   in either form: with w = e^-|x|, n/(n + 2) = w (w + 2)/(w (w + 2) + 2)
   for x <= 0 (numerator scaled by 2^64, so that the tail stays normal) and
   (1 + 2w)/(1 + 2w + 2w^2) for x > 0. Each sum is Fast2Sum'ed (their
   exponents are ordered on these ranges), one quotient refined, times x
   rounded once; the formula's guard below -1000, and x itself above 1000
   (inf stays inf). */
static LLVMValueRef mish_f(cc_ctx *c, LLVMValueRef x, const double *params)
{
    (void)params;
    LLVMBuilderRef B = c->b;
    LLVMValueRef one = k32(c, 1), two = k32(c, 2);
    pair ws = exp_pair(c, (pair){LLVMBuildFNeg(B, fabs_(c, x), ""), NULL}, -130);
    pair w = {unscale(c, ws.hi), unscale(c, ws.lo)};
    /* x <= 0 */
    pair a = sum_pair(c, two, w);
    pair n1 = mul_pair(c, ws, a), wa = mul_pair(c, w, a);
    pair d1 = sum_pair(c, two, wa);
    /* x > 0 */
    pair w2 = {LLVMBuildFAdd(B, w.hi, w.hi, ""), LLVMBuildFAdd(B, w.lo, w.lo, "")};
    pair ws2 = {LLVMBuildFAdd(B, ws.hi, ws.hi, ""), LLVMBuildFAdd(B, ws.lo, ws.lo, "")};
    pair n2 = sum_pair(c, k32(c, 0x1p64f), ws2);
    pair d2 = sum_pair(c, one, w2);
    pair sq = mul_pair(c, w2, w);
    pair d2b = fast_sum(c, d2.hi, sq.hi);
    d2b.lo = LLVMBuildFAdd(B, d2b.lo, LLVMBuildFAdd(B, d2.lo, sq.lo, ""), "");
    LLVMValueRef pos = gt(c, x, 0);
    pair n = select_pair(c, pos, n2, n1), d = select_pair(c, pos, d2b, d1);
    pair q = divide(c, n, d);
    LLVMValueRef y = unscale(c, times(c, x, q));
    y = cc_select(c, gt(c, x, 1000), x, y);
    return cc_select(c, lt(c, x, -1000), k32(c, -0.0f), y);
}

/* mish'(x) = T + x (1 - T^2) sigmoid(x) with T = n/(n + 2): 1 - T^2 =
   4(1 + e)^2/(n + 2)^2, so the second term is 4x e(1 + e)/(n + 2)^2. With
   w = e^-|x|, for x <= 0 n = w(w + 2); for x > 0 (num and den over e^2)
   T = (1 + 2w)/D and the term 4x w^2 (1 + w)/D^2 with D = 1 + 2w + 2w^2.
   Plain floats: a derivative needs no last bit. n and the term's factor
   are scaled by 2^64 (W = 2^64 w), so that the left tail rounds into the
   denormals once, at the end. The formula's guards: 0 below -1000, 1 above
   1000. */
static LLVMValueRef mish_df(cc_ctx *c, LLVMValueRef x, const double *params)
{
    (void)params;
    LLVMBuilderRef B = c->b;
    LLVMValueRef zero = k32(c, 0), one = k32(c, 1), two = k32(c, 2);
    LLVMValueRef a = LLVMBuildFNeg(B, fabs_(c, x), "");
    /* exp_pair's high part: the forward's, in a pass that has both */
    LLVMValueRef W = cc_vm_expf_scaled(c, a, NULL, -130, NULL);
    LLVMValueRef w = unscale(c, W), w1 = LLVMBuildFAdd(B, w, one, "");
    /* x <= 0 */
    LLVMValueRef n1 = LLVMBuildFMul(B, W, LLVMBuildFAdd(B, w, two, ""), "");
    LLVMValueRef d1 = cc_fma(c, n1, k32(c, 0x1p-64f), two);
    LLVMValueRef s1 = LLVMBuildFMul(B, W, w1, "");
    /* x > 0 */
    LLVMValueRef n2 = cc_fma(c, W, two, k32(c, 0x1p64f));
    LLVMValueRef d2 = cc_fma(c, LLVMBuildFMul(B, w, w, ""), two, cc_fma(c, w, two, one));
    LLVMValueRef s2 = LLVMBuildFMul(B, LLVMBuildFMul(B, W, w, ""), w1, "");
    LLVMValueRef pos = gt(c, x, 0);
    LLVMValueRef n = cc_select(c, pos, n2, n1), d = cc_select(c, pos, d2, d1);
    LLVMValueRef sn = cc_select(c, pos, s2, s1);
    LLVMValueRef r = LLVMBuildFDiv(B, one, d, "");
    LLVMValueRef term =
        LLVMBuildFMul(B, LLVMBuildFMul(B, LLVMBuildFMul(B, x, k32(c, 4), ""), sn, ""),
                      LLVMBuildFMul(B, r, r, ""), "");
    LLVMValueRef g = unscale(c, cc_fma(c, n, r, term));
    g = cc_select(c, gt(c, x, 1000), one, g);
    return cc_select(c, lt(c, x, -1000), zero, g);
}

/* relu: max(x, 0) with NaN kept (NaN < 0 is false). */
static LLVMValueRef relu_f(cc_ctx *c, LLVMValueRef x, const double *params)
{
    (void)params;
    return cc_select(c, lt(c, x, 0), k32(c, 0), x);
}

/* swish'(x) = s (1 + beta x sigmoid(-beta x)), s = sigmoid(beta x), with
   the formula's guards: 0 below beta x = -1000, 1 above 1000. */
static LLVMValueRef swish_grad(cc_ctx *c, LLVMValueRef x, double beta)
{
    pair u = scaled(c, beta, x);
    logistic l = logistic_of(c, u);
    LLVMValueRef t = unscale(c, plain_sigmoid(c, &l, -1));
    LLVMValueRef bt = LLVMBuildFMul(c->b, u.hi, t, "");
    LLVMValueRef g =
        LLVMBuildFMul(c->b, plain_sigmoid(c, &l, 1), LLVMBuildFAdd(c->b, bt, k32(c, 1), ""), "");
    g = unscale(c, g);
    g = cc_select(c, gt(c, u.hi, 1000), k32(c, 1), g);
    return cc_select(c, lt(c, u.hi, -1000), k32(c, 0), g);
}

/* elu'(x) = where(x > 0, pos, neg e^x): e^x scaled by 2^64, brought down
   by 2^-64 after the product. */
static LLVMValueRef elu_grad(cc_ctx *c, LLVMValueRef x, double pos, double neg)
{
    LLVMValueRef xn = cc_select(c, gt(c, x, 0), k32(c, 0), x);
    LLVMValueRef e = cc_vm_expf_scaled(c, xn, NULL, -130, NULL);
    LLVMValueRef g = unscale(c, LLVMBuildFMul(c->b, e, k32(c, (float)neg), ""));
    return cc_select(c, gt(c, x, 0), k32(c, (float)pos), g);
}

/* relu'(x) = where(x > 0, 1, where(x <= 0, 0, x)) */
static LLVMValueRef relu_df(cc_ctx *c, LLVMValueRef x, const double *params)
{
    (void)params;
    LLVMValueRef d = cc_select(c, LLVMBuildFCmp(c->b, LLVMRealOLE, x, k32(c, 0), ""), k32(c, 0), x);
    return cc_select(c, gt(c, x, 0), k32(c, 1), d);
}

/* ---- the table ---------------------------------------------------------- */

/* The constants of selu, as ir/builtins.c writes them. */
#define SELU_LAMBDA 1.0507009873554805
#define SELU_ALPHA 1.6732632423543772

static LLVMValueRef sigmoid_f(cc_ctx *c, LLVMValueRef x, const double *p)
{
    (void)p;
    logistic l = logistic_of(c, (pair){x, NULL});
    return unscale(c, round_pair(c, sigmoid_pair(c, &l)));
}
static LLVMValueRef sigmoid_df(cc_ctx *c, LLVMValueRef x, const double *p)
{
    (void)p; /* sigmoid(x) sigmoid(-x) */
    logistic l = logistic_of(c, (pair){x, NULL});
    return unscale(c, slope(c, l.e.hi, l.r));
}
static LLVMValueRef tanh_df(cc_ctx *c, LLVMValueRef x, const double *p)
{
    (void)p; /* 4 sigmoid(2x) sigmoid(-2x), even: of 2|x| */
    LLVMValueRef a = fabs_(c, x);
    logistic l = logistic_of(c, (pair){LLVMBuildFAdd(c->b, a, a, ""), NULL});
    return unscale(c, LLVMBuildFMul(c->b, slope(c, l.e.hi, l.r), k32(c, 4), ""));
}
static LLVMValueRef silu_f(cc_ctx *c, LLVMValueRef x, const double *p)
{
    (void)p;
    return swish(c, x, 1);
}
static LLVMValueRef silu_df(cc_ctx *c, LLVMValueRef x, const double *p)
{
    (void)p;
    return swish_grad(c, x, 1);
}
static LLVMValueRef swish_f(cc_ctx *c, LLVMValueRef x, const double *p)
{
    return fabs(p[0]) >= 1e-9 ? swish(c, x, p[0]) : NULL;
}
static LLVMValueRef swish_df(cc_ctx *c, LLVMValueRef x, const double *p)
{
    return fabs(p[0]) >= 1e-9 ? swish_grad(c, x, p[0]) : NULL;
}
static LLVMValueRef elu_f(cc_ctx *c, LLVMValueRef x, const double *p)
{
    return elu(c, x, 1, p[0]);
}
static LLVMValueRef elu_df(cc_ctx *c, LLVMValueRef x, const double *p)
{
    return elu_grad(c, x, 1, p[0]);
}
static LLVMValueRef selu_f(cc_ctx *c, LLVMValueRef x, const double *p)
{
    (void)p;
    return elu(c, x, SELU_LAMBDA, SELU_LAMBDA * SELU_ALPHA);
}
static LLVMValueRef selu_df(cc_ctx *c, LLVMValueRef x, const double *p)
{
    (void)p;
    return elu_grad(c, x, SELU_LAMBDA, SELU_LAMBDA * SELU_ALPHA);
}
static LLVMValueRef gelu_f(cc_ctx *c, LLVMValueRef x, const double *p)
{
    return p[0] == 1 ? gelu_tanh(c, x) : gelu_erf(c, x); /* approximate = "tanh" : "none" */
}
static LLVMValueRef gelu_df(cc_ctx *c, LLVMValueRef x, const double *p)
{
    return p[0] == 1 ? gelu_tanh_grad(c, x) : gelu_erf_grad(c, x);
}
/* softplus: beta = 1 only, and a threshold the float compare keeps */
static bool softplus_ok(const double *p)
{
    return p[0] == 1 && (double)(float)p[1] == p[1];
}
static LLVMValueRef softplus_f(cc_ctx *c, LLVMValueRef x, const double *p)
{
    return softplus_ok(p) ? softplus(c, x, p[1]) : NULL;
}
static LLVMValueRef softplus_df(cc_ctx *c, LLVMValueRef x, const double *p)
{
    if (!softplus_ok(p)) /* where(x > threshold, 1, sigmoid(x)) */
        return NULL;
    logistic l = logistic_of(c, (pair){x, NULL});
    return cc_select(c, gt(c, x, (float)p[1]), k32(c, 1), unscale(c, plain_sigmoid(c, &l, 1)));
}

static const struct {
    const char *name;
    kernel f, df; /* df NULL: the double formula */
} kernels[] = {
    {"sigmoid", sigmoid_f, sigmoid_df},
    {"tanh", tanh_f, tanh_df},
    {"silu", silu_f, silu_df},
    {"swish", swish_f, swish_df},
    {"elu", elu_f, elu_df},
    {"selu", selu_f, selu_df},
    {"gelu", gelu_f, gelu_df},
    {"softplus", softplus_f, softplus_df},
    {"mish", mish_f, mish_df},
    {"relu", relu_f, relu_df},
};

enum { NKERNELS = sizeof kernels / sizeof *kernels };

int cc_act_f32_index(cc_ctx *c, const ir_activation *a)
{
    if (!cc_vm_has_expf_pair(c) || a->origin_kind != IR_ORIGIN_BUILTIN || a->native)
        return -1;
    for (int i = 0; i < NKERNELS; i++)
        if (strcmp(a->name, kernels[i].name) == 0)
            return i;
    return -1;
}

const char *cc_act_f32_name(int i)
{
    return i >= 0 && i < NKERNELS ? kernels[i].name : NULL;
}

/* a's kernel (derivative when grad), or NULL. */
static kernel find(cc_ctx *c, const ir_activation *a, bool grad)
{
    int i = cc_act_f32_index(c, a);
    return i < 0 ? NULL : grad ? kernels[i].df : kernels[i].f;
}

LLVMValueRef cc_act_f32(cc_ctx *c, const ir_activation *a, const double *params, LLVMValueRef x)
{
    kernel f = find(c, a, false);
    return f ? f(c, x, params) : NULL;
}

LLVMValueRef cc_act_grad_f32(cc_ctx *c, const ir_activation *a, const double *params,
                             LLVMValueRef x, LLVMValueRef dy)
{
    kernel df = find(c, a, true);
    LLVMValueRef g = df ? df(c, x, params) : NULL;
    return g ? LLVMBuildFMul(c->b, g, dy, "") : NULL;
}
