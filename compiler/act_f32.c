/* act_f32.c -- the common built-in activations and their derivatives on
   float lanes (AVX-512), instead of their formulas in double lanes: twice
   the lanes per instruction, no widening and narrowing, and exp with a
   degree-4 polynomial and a 16-entry table. Where a step would round away
   accuracy, it works on pairs of floats (hi + lo, the unevaluated sum): e^u
   comes as a pair (cc_vm_expf_pair), quotients are refined against the
   exact residual, and an argument like beta x is split exactly with FMA.
   Each result rounds once at the end, within 1 ULP by the sweep of
   tests/compiler/test_activation_ulp.c (docs/accuracy.md has the analysis).
   Special values follow ir/builtins.c's formulas, guards included. */
#define _DEFAULT_SOURCE /* M_PI */
#include "cc.h"

#include <math.h>
#include <string.h>

typedef struct {
    LLVMValueRef hi, lo;
} pair;

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

/* 1/d within 2^-27: vrcp14ps (2^-14) and one Newton step. */
static LLVMValueRef recip(cc_ctx *c, LLVMValueRef d)
{
    static const char name[] = "llvm.x86.avx512.rcp14.ps.512";
    LLVMTypeRef i16 = LLVMInt16TypeInContext(c->ctx);
    LLVMTypeRef params[3] = {c->vf32, c->vf32, i16};
    LLVMTypeRef fty = LLVMFunctionType(c->vf32, params, 3, false);
    LLVMValueRef fn = LLVMGetNamedFunction(c->mod, name);
    if (!fn)
        fn = LLVMAddFunction(c->mod, name, fty);
    LLVMValueRef args[3] = {d, k32(c, 0), LLVMConstInt(i16, 0xffff, false)};
    LLVMValueRef r = LLVMBuildCall2(c->b, fty, fn, args, 3, "");
    LLVMValueRef e = cc_fma(c, LLVMBuildFNeg(c->b, d, ""), r, k32(c, 1));
    return cc_fma(c, r, e, r);
}

/* n/d as a pair, r ~ 1/d.hi: q = n.hi r is within ~1.1 ULP of the
   quotient, the residual n - q d is computed to 2^-24 of itself (the first
   FMA is exact), and lo = residual r. The pair is within ~2^-45 relative. */
static pair divide(cc_ctx *c, pair n, pair d, LLVMValueRef r)
{
    LLVMValueRef q = LLVMBuildFMul(c->b, n.hi, r, "");
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

/* The logistic function of u, as e = 2^64 e^-|u| (a pair, 0 below e^-130,
   where even 40 sigmoid(u) or x sigmoid(beta x) for |beta| >= 1e-9 rounds
   to 0),
   the denominator d = 1 + e 2^-64 (2^64 + e by Fast2Sum, 2^64 >= e, then
   scaled), and r ~ 1/d.hi; 2^64 sigmoid(u) = n/d with n = e for u < 0 and
   2^64 otherwise, 2^64 sigmoid(-u) the other way round. Nothing overflows,
   and the quotient stays a normal float down to sigmoid(u) = 2^-150: the
   left tail keeps its relative accuracy until the last product, which
   rounds once into the denormals when multiplied by 2^-64. */
typedef struct {
    pair e, d, big;
    LLVMValueRef neg, r;
} logistic;

static logistic logistic_of(cc_ctx *c, pair u)
{
    LLVMBuilderRef B = c->b;
    logistic l;
    l.neg = lt(c, u.hi, 0);
    LLVMValueRef ah = LLVMBuildFNeg(B, fabs_(c, u.hi), "");
    LLVMValueRef al = cc_select(c, l.neg, u.lo, LLVMBuildFNeg(B, u.lo, ""));
    /* normalised (Fast2Sum), so that e.lo and d.lo are below half an ULP
       of e.hi and d.hi, as divide() needs: T q can be 2% of T */
    pair raw;
    raw.hi = cc_vm_expf_pair(c, ah, al, -130, &raw.lo);
    l.e.hi = LLVMBuildFAdd(B, raw.hi, raw.lo, "");
    l.e.lo = LLVMBuildFSub(B, raw.lo, LLVMBuildFSub(B, l.e.hi, raw.hi, ""), "");
    l.big = (pair){k32(c, 0x1p64f), k32(c, 0)};
    l.d.hi = LLVMBuildFAdd(B, l.big.hi, l.e.hi, "");
    LLVMValueRef err = LLVMBuildFAdd(B, LLVMBuildFSub(B, l.big.hi, l.d.hi, ""), l.e.hi, "");
    l.d.lo = LLVMBuildFAdd(B, err, l.e.lo, "");
    LLVMValueRef down = k32(c, 0x1p-64f);
    l.d = (pair){LLVMBuildFMul(B, l.d.hi, down, ""), LLVMBuildFMul(B, l.d.lo, down, "")};
    l.r = recip(c, l.d.hi);
    return l;
}

/* 2^64 sigmoid(u) (sign 1) or 2^64 sigmoid(-u) (sign -1) as a pair. */
static pair sigmoid_pair(cc_ctx *c, const logistic *l, int sign)
{
    pair n = sign > 0 ? select_pair(c, l->neg, l->e, l->big) : select_pair(c, l->neg, l->big, l->e);
    return divide(c, n, l->d, l->r);
}

/* v 2^-64, rounded once (into the denormals, for the left tail). */
static LLVMValueRef unscale(cc_ctx *c, LLVMValueRef v)
{
    return LLVMBuildFMul(c->b, v, k32(c, 0x1p-64f), "");
}

/* sigmoid(u) sigmoid(-u): the slope of the logistic, for the derivatives,
   as 2^64 sigmoid(-|u|) times sigmoid(|u|) (in [1/2, 1], exactly scaled
   down), rounded, then scaled down. */
static LLVMValueRef logistic_slope(cc_ctx *c, const logistic *l)
{
    pair a = divide(c, l->e, l->d, l->r), b = divide(c, l->big, l->d, l->r);
    b = (pair){unscale(c, b.hi), unscale(c, b.lo)};
    LLVMValueRef hi = LLVMBuildFMul(c->b, a.hi, b.hi, "");
    LLVMValueRef lo = cc_fma(c, a.hi, b.hi, LLVMBuildFNeg(c->b, hi, ""));
    lo = LLVMBuildFAdd(c->b, lo, cc_fma(c, a.hi, b.lo, LLVMBuildFMul(c->b, a.lo, b.hi, "")), "");
    return unscale(c, LLVMBuildFAdd(c->b, hi, lo, ""));
}

/* beta x as an exact pair: beta = b.hi + b.lo, beta x = hi + the product's
   rounding error (FMA) + b.lo x, within 2^-48 relative. */
static pair scaled(cc_ctx *c, double beta, LLVMValueRef x)
{
    if (beta == 1)
        return (pair){x, k32(c, 0)};
    pair b = k32_pair(c, beta);
    LLVMValueRef hi = LLVMBuildFMul(c->b, b.hi, x, "");
    LLVMValueRef lo = cc_fma(c, b.hi, x, LLVMBuildFNeg(c->b, hi, ""));
    return (pair){hi, cc_fma(c, b.lo, x, lo)};
}

/* x p as p's pair times x, rounded once: fma(x, p.hi, x p.lo). */
static LLVMValueRef times(cc_ctx *c, LLVMValueRef x, pair p)
{
    return cc_fma(c, x, p.hi, LLVMBuildFMul(c->b, x, p.lo, ""));
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
    LLVMValueRef y = unscale(c, times(c, x, sigmoid_pair(c, &l, 1)));
    y = cc_select(c, gt(c, u.hi, 1000), x, y);
    LLVMValueRef zero = LLVMBuildFDiv(c->b, k32(c, 0), x, "");
    return cc_select(c, lt(c, u.hi, -1000), zero, y);
}

/* Taylor's series of (tanh x - x)/x^3 in z = x^2, to z^4: for |x| <= 1/4
   the first term left out is below 2.2e-10 of tanh x. The coefficients are
   -1/3, 2/15, -17/315, 62/2835, -1382/155925. */
static const double tanh_taylor[5] = {-1.0 / 3, 2.0 / 15, -17.0 / 315, 62.0 / 2835,
                                      -1382.0 / 155925};

/* tanh|x| = (1 - e)/(1 + e), e = e^-2|x| (as a pair, scaled by 2^64): the
   numerator loses no accuracy for |x| >= 1/4 (e <= 0.61, and the pair
   carries 2^-26 of e). Below, the odd series, which is exact at 0. The sign
   is copied back: tanh(-0) = -0. */
static LLVMValueRef tanh_(cc_ctx *c, LLVMValueRef x)
{
    LLVMBuilderRef B = c->b;
    LLVMValueRef a = fabs_(c, x);
    logistic l = logistic_of(c, (pair){LLVMBuildFAdd(B, a, a, ""), k32(c, 0)});
    pair n;
    n.hi = LLVMBuildFSub(B, l.big.hi, l.e.hi, "");
    LLVMValueRef err = LLVMBuildFSub(B, LLVMBuildFSub(B, l.big.hi, n.hi, ""), l.e.hi, "");
    n.lo = LLVMBuildFSub(B, err, l.e.lo, "");
    LLVMValueRef big = unscale(c, round_pair(c, divide(c, n, l.d, l.r)));
    LLVMValueRef z = LLVMBuildFMul(B, a, a, "");
    LLVMValueRef p = k32(c, (float)tanh_taylor[4]);
    for (int i = 3; i >= 0; i--)
        p = cc_fma(c, p, z, k32(c, (float)tanh_taylor[i]));
    LLVMValueRef small = cc_fma(c, LLVMBuildFMul(B, a, z, ""), p, a);
    return copysign_(c, cc_select(c, lt(c, a, 0.25f), small, big), x);
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
static LLVMValueRef gelu_tanh(cc_ctx *c, LLVMValueRef x)
{
    LLVMBuilderRef B = c->b;
    double k1 = 2 * sqrt(2 / M_PI), k3 = k1 * 0.044715;
    LLVMValueRef xd = LLVMBuildFPExt(B, x, c->vf64, "");
    LLVMValueRef x2 = LLVMBuildFMul(B, xd, xd, "");
    LLVMValueRef ud =
        LLVMBuildFMul(B, xd, cc_fma(c, x2, cc_const(c, c->vf64, k3), cc_const(c, c->vf64, k1)), "");
    pair u;
    u.hi = LLVMBuildFPTrunc(B, ud, c->vf32, "");
    u.lo = LLVMBuildFPTrunc(B, LLVMBuildFSub(B, ud, LLVMBuildFPExt(B, u.hi, c->vf64, ""), ""),
                            c->vf32, "");
    logistic l = logistic_of(c, u);
    LLVMValueRef y = unscale(c, times(c, x, sigmoid_pair(c, &l, 1)));
    y = cc_select(c, gt(c, x, 40), x, y);
    return cc_select(c, lt(c, x, -40), k32(c, -0.0f), y);
}

/* relu: max(x, 0) with NaN kept (NaN < 0 is false). */
static LLVMValueRef relu(cc_ctx *c, LLVMValueRef x)
{
    return cc_select(c, lt(c, x, 0), k32(c, 0), x);
}

/* swish'(x) = s (1 + beta x sigmoid(-beta x)), s = sigmoid(beta x), with
   the formula's guards: 0 below beta x = -1000, 1 above 1000. */
static LLVMValueRef swish_grad(cc_ctx *c, LLVMValueRef x, double beta)
{
    pair u = scaled(c, beta, x);
    logistic l = logistic_of(c, u);
    pair s = sigmoid_pair(c, &l, 1), t = sigmoid_pair(c, &l, -1);
    LLVMValueRef bt = LLVMBuildFMul(c->b, u.hi, unscale(c, round_pair(c, t)), "");
    LLVMValueRef g =
        LLVMBuildFMul(c->b, round_pair(c, s), LLVMBuildFAdd(c->b, bt, k32(c, 1), ""), "");
    g = unscale(c, g);
    g = cc_select(c, gt(c, u.hi, 1000), k32(c, 1), g);
    return cc_select(c, lt(c, u.hi, -1000), k32(c, 0), g);
}

/* elu'(x) = where(x > 0, pos, neg e^x): e^x from the pair scaled by 2^64,
   brought down by 2^-64 after the product. */
static LLVMValueRef elu_grad(cc_ctx *c, LLVMValueRef x, double pos, double neg)
{
    LLVMValueRef zero = k32(c, 0);
    LLVMValueRef xn = cc_select(c, gt(c, x, 0), zero, x);
    pair e;
    e.hi = cc_vm_expf_pair(c, xn, zero, -104, &e.lo);
    LLVMValueRef g = unscale(c, times(c, round_pair(c, e), k32_pair(c, neg)));
    return cc_select(c, gt(c, x, 0), k32(c, (float)pos), g);
}

/* relu'(x) = where(x > 0, 1, where(x <= 0, 0, x)) */
static LLVMValueRef relu_grad(cc_ctx *c, LLVMValueRef x)
{
    LLVMValueRef d = cc_select(c, LLVMBuildFCmp(c->b, LLVMRealOLE, x, k32(c, 0), ""), k32(c, 0), x);
    return cc_select(c, gt(c, x, 0), k32(c, 1), d);
}

/* ---- the table ---------------------------------------------------------- */

/* The constants of selu, as ir/builtins.c writes them. */
#define SELU_LAMBDA 1.0507009873554805
#define SELU_ALPHA 1.6732632423543772

/* A kernel on x with the call's params; NULL for params it leaves to the
   double formula. */
typedef LLVMValueRef (*kernel)(cc_ctx *c, LLVMValueRef x, const double *p);

static LLVMValueRef sigmoid_f(cc_ctx *c, LLVMValueRef x, const double *p)
{
    (void)p;
    logistic l = logistic_of(c, (pair){x, k32(c, 0)});
    return unscale(c, round_pair(c, sigmoid_pair(c, &l, 1)));
}
static LLVMValueRef sigmoid_df(cc_ctx *c, LLVMValueRef x, const double *p)
{
    (void)p; /* sigmoid(x) sigmoid(-x) */
    logistic l = logistic_of(c, (pair){x, k32(c, 0)});
    return logistic_slope(c, &l);
}
static LLVMValueRef tanh_f(cc_ctx *c, LLVMValueRef x, const double *p)
{
    (void)p;
    return tanh_(c, x);
}
static LLVMValueRef tanh_df(cc_ctx *c, LLVMValueRef x, const double *p)
{
    (void)p; /* 4 sigmoid(2x) sigmoid(-2x) */
    logistic l = logistic_of(c, (pair){LLVMBuildFAdd(c->b, x, x, ""), k32(c, 0)});
    return LLVMBuildFMul(c->b, logistic_slope(c, &l), k32(c, 4), "");
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
    return p[0] == 1 ? gelu_tanh(c, x) : NULL; /* approximate = "tanh" */
}
static LLVMValueRef relu_f(cc_ctx *c, LLVMValueRef x, const double *p)
{
    (void)p;
    return relu(c, x);
}
static LLVMValueRef relu_df(cc_ctx *c, LLVMValueRef x, const double *p)
{
    (void)p;
    return relu_grad(c, x);
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
    {"gelu", gelu_f, NULL},
    {"relu", relu_f, relu_df},
};

/* a's kernel (derivative when grad), or NULL. */
static kernel find(cc_ctx *c, const ir_activation *a, bool grad)
{
    if (!cc_vm_has_expf_pair(c) || a->origin_kind != IR_ORIGIN_BUILTIN || a->native)
        return NULL;
    for (size_t i = 0; i < sizeof kernels / sizeof *kernels; i++)
        if (strcmp(a->name, kernels[i].name) == 0)
            return grad ? kernels[i].df : kernels[i].f;
    return NULL;
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
