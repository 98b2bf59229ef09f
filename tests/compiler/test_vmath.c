/* test_vmath.c -- the compiler's vector math (compiler/vmath*.c) against long
   double libm: every float result within 1 ULP of the correctly rounded value
   over a sweep of every binade of both signs, every double result within
   1e-13 relative, and exact special values; with FMA and without. The row
   kernels' cheaper exp (cc_vm_exp_f32) against its own bound. The kernels
   run as mapped by act's own object loader (compiler/objload.c), as code
   from the disk cache is: damaged objects are declined, and what it does
   not handle goes to LLJIT. */
#include "compiler/cc.h"
#include "support.h"

#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h> /* after setjmp.h, stdarg.h, stddef.h */

typedef LLVMValueRef vm_emit(cc_ctx *c, LLVMValueRef x);
typedef void float_kernel(const float *x, float *y, int64_t n);
typedef void double_kernel(const double *x, double *y, int64_t n);

static long double ref_sigmoid(long double x)
{
    return 1 / (1 + expl(-x));
}

/* One row per function; [lo, hi] is where its float results vary and
   [dlo, dhi] where its double results do, each swept densely on top of the
   sweeps of every binade. */
static const struct {
    const char *name;
    vm_emit *emit;
    long double (*ref)(long double);
    float lo, hi;
    double dlo, dhi;
} funcs[] = {
    {"exp", cc_vm_exp, expl, -104, 89, -746, 710},
    {"expm1", cc_vm_expm1, expm1l, -18, 89, -38, 710},
    {"log", cc_vm_log, logl, 0.25f, 4, 1e-3, 1e3},
    {"log1p", cc_vm_log1p, log1pl, -1, 4, -1, 1e3},
    {"tanh", cc_vm_tanh, tanhl, -9.1f, 9.1f, -20, 20},
    {"sigmoid", cc_vm_sigmoid, ref_sigmoid, -104, 17, -746, 40},
    {"erf", cc_vm_erf, erfl, -4, 4, -6, 6},
    {"erfc", cc_vm_erfc, erfcl, -4, 10.1f, -6, 27.3},
};
enum { NFUNC = sizeof funcs / sizeof *funcs };

/* The kernels of each function: [0] built with FMA (when the host has it),
   [1] without, so that both code paths are checked on this machine. */
static struct {
    cc_target target;
    cc_jit *jit;
    float_kernel *f[NFUNC][2];
    double_kernel *d[NFUNC][2];
    float_kernel *exp_f32_f[2];
    double_kernel *exp_f32_d[2];
    float_kernel *expf_pair[2]; /* e^(x - PAIR_M[v]) in float lanes, NULL without AVX-512 */
    float_kernel *expf_scaled, *expm1f_neg; /* pairs: y[i] high parts, y[n + i] low ones */
    char *obj;                              /* the kernels' object file */
    size_t size;
    bool mapped; /* by objload.c */
} fx;

/* cc_vm_expf_pair's kernels subtract these: 0 (lo = 0) and a float whose
   differences are mostly inexact in float (lo != 0). */
static const float PAIR_M[2] = {0, 3.3f};

/* Under the sanitizers the suite runs at -O0: sweep a quarter as densely. */
static const uint64_t STRIDE = sizeof ACT_SANITIZE_FLAGS > 1 ? 4 * 421 : 421;
enum { CHUNK = 4093 }; /* odd: every kernel call ends in its scalar loop */

/* ---- kernels ------------------------------------------------------------ */

/* y[i..i+lanes) = f(x[i..i+lanes)), computed in double; floats are widened
   and the result rounded once, as the lowering does. */
static void apply_at(cc_ctx *c, vm_emit *emit, LLVMTypeRef et, LLVMValueRef x, LLVMValueRef y,
                     LLVMValueRef i, unsigned lanes)
{
    LLVMTypeRef vt = lanes > 1 ? LLVMVectorType(et, lanes) : et;
    LLVMTypeRef dt = lanes > 1 ? LLVMVectorType(c->f64, lanes) : c->f64;
    unsigned align = et == c->f32 ? 4 : 8;
    LLVMValueRef px = LLVMBuildGEP2(c->b, et, x, &i, 1, "");
    LLVMValueRef py = LLVMBuildGEP2(c->b, et, y, &i, 1, "");
    px = LLVMBuildBitCast(c->b, px, LLVMPointerType(vt, 0), "");
    py = LLVMBuildBitCast(c->b, py, LLVMPointerType(vt, 0), "");
    LLVMValueRef v = LLVMBuildLoad2(c->b, vt, px, "");
    LLVMSetAlignment(v, align);
    if (et == c->f32)
        v = LLVMBuildFPExt(c->b, v, dt, "");
    v = emit(c, v);
    if (et == c->f32)
        v = LLVMBuildFPTrunc(c->b, v, vt, "");
    LLVMSetAlignment(LLVMBuildStore(c->b, v, py), align);
}

/* void name(const T *x, T *y, int64_t n): c->width lanes at a time, then the
   rest one at a time, so both the vector and the scalar forms run. */
static void build_kernel(cc_ctx *c, const char *name, vm_emit *emit, LLVMTypeRef et)
{
    LLVMTypeRef pt = LLVMPointerType(et, 0);
    LLVMTypeRef params[3] = {pt, pt, c->i64};
    LLVMTypeRef fty = LLVMFunctionType(LLVMVoidTypeInContext(c->ctx), params, 3, 0);
    LLVMValueRef fn = LLVMAddFunction(c->mod, name, fty);
    LLVMValueRef x = LLVMGetParam(fn, 0), y = LLVMGetParam(fn, 1), n = LLVMGetParam(fn, 2);
    LLVMBasicBlockRef entry = LLVMAppendBasicBlockInContext(c->ctx, fn, "entry");
    LLVMBasicBlockRef vhead = LLVMAppendBasicBlockInContext(c->ctx, fn, "vhead");
    LLVMBasicBlockRef vbody = LLVMAppendBasicBlockInContext(c->ctx, fn, "vbody");
    LLVMBasicBlockRef shead = LLVMAppendBasicBlockInContext(c->ctx, fn, "shead");
    LLVMBasicBlockRef sbody = LLVMAppendBasicBlockInContext(c->ctx, fn, "sbody");
    LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(c->ctx, fn, "done");
    LLVMValueRef zero = LLVMConstInt(c->i64, 0, 0), one = LLVMConstInt(c->i64, 1, 0);
    LLVMValueRef w = LLVMConstInt(c->i64, c->width, 0);

    LLVMPositionBuilderAtEnd(c->b, entry);
    LLVMBuildBr(c->b, vhead);

    LLVMPositionBuilderAtEnd(c->b, vhead);
    LLVMValueRef i = LLVMBuildPhi(c->b, c->i64, "i");
    LLVMValueRef room = LLVMBuildICmp(c->b, LLVMIntSLE, LLVMBuildAdd(c->b, i, w, ""), n, "");
    LLVMBuildCondBr(c->b, room, vbody, shead);

    LLVMPositionBuilderAtEnd(c->b, vbody);
    apply_at(c, emit, et, x, y, i, c->width);
    LLVMValueRef inext = LLVMBuildAdd(c->b, i, w, "");
    LLVMBuildBr(c->b, vhead);
    LLVMValueRef ivals[2] = {zero, inext};
    LLVMBasicBlockRef iblocks[2] = {entry, vbody};
    LLVMAddIncoming(i, ivals, iblocks, 2);

    LLVMPositionBuilderAtEnd(c->b, shead);
    LLVMValueRef j = LLVMBuildPhi(c->b, c->i64, "j");
    LLVMBuildCondBr(c->b, LLVMBuildICmp(c->b, LLVMIntSLT, j, n, ""), sbody, done);

    LLVMPositionBuilderAtEnd(c->b, sbody);
    apply_at(c, emit, et, x, y, j, 1);
    LLVMValueRef jnext = LLVMBuildAdd(c->b, j, one, "");
    LLVMBuildBr(c->b, shead);
    LLVMValueRef jvals[2] = {i, jnext};
    LLVMBasicBlockRef jblocks[2] = {vhead, sbody};
    LLVMAddIncoming(j, jvals, jblocks, 2);

    LLVMPositionBuilderAtEnd(c->b, done);
    LLVMBuildRetVoid(c->b);
}

/* void name(const float *x, float *y, int64_t n), n a multiple of the width:
   y = e^(x - m) through cc_vm_two_diff and cc_vm_expf_pair, in float lanes,
   the pair added (rounded once) and unscaled (rounded once more where the
   result is subnormal). */
static void build_pair_kernel(cc_ctx *c, const char *name, float m)
{
    LLVMTypeRef pt = LLVMPointerType(c->f32, 0), vp = LLVMPointerType(c->vf32, 0);
    LLVMTypeRef params[3] = {pt, pt, c->i64};
    LLVMValueRef fn = LLVMAddFunction(
        c->mod, name, LLVMFunctionType(LLVMVoidTypeInContext(c->ctx), params, 3, 0));
    LLVMBasicBlockRef entry = LLVMAppendBasicBlockInContext(c->ctx, fn, "entry");
    LLVMPositionBuilderAtEnd(c->b, entry);
    cc_loop lp;
    cc_loop_begin(c, &lp, cc_i64(c, 0), LLVMGetParam(fn, 2), cc_i64(c, c->width));
    LLVMValueRef px = LLVMBuildGEP2(c->b, c->f32, LLVMGetParam(fn, 0), &lp.i, 1, "");
    LLVMValueRef py = LLVMBuildGEP2(c->b, c->f32, LLVMGetParam(fn, 1), &lp.i, 1, "");
    LLVMValueRef x = LLVMBuildLoad2(c->b, c->vf32, LLVMBuildBitCast(c->b, px, vp, ""), "");
    LLVMSetAlignment(x, 4);
    LLVMValueRef lo, hi = cc_vm_two_diff(c, x, cc_const(c, c->vf32, m), &lo);
    LLVMValueRef rest, y = cc_vm_expf_pair(c, hi, lo, -104, &rest);
    /* the pair's sum, rounded once and unscaled: 2^-64 (y + rest) */
    y = LLVMBuildFMul(c->b, LLVMBuildFAdd(c->b, y, rest, ""), cc_const(c, c->vf32, 0x1p-64), "");
    LLVMSetAlignment(LLVMBuildStore(c->b, y, LLVMBuildBitCast(c->b, py, vp, "")), 4);
    cc_loop_end(c, &lp);
    LLVMBuildRetVoid(c->b);
}

/* void name(const float *x, float *y, int64_t n), n a multiple of the
   width: the pair of cc_vm_expf_scaled(x) (lowest -131) or of
   cc_vm_expm1f_neg(x), high parts in y[0..n), low ones in y[n..2n). */
static void build_split_kernel(cc_ctx *c, const char *name, bool expm1)
{
    LLVMTypeRef pt = LLVMPointerType(c->f32, 0), vp = LLVMPointerType(c->vf32, 0);
    LLVMTypeRef params[3] = {pt, pt, c->i64};
    LLVMValueRef fn = LLVMAddFunction(
        c->mod, name, LLVMFunctionType(LLVMVoidTypeInContext(c->ctx), params, 3, 0));
    LLVMPositionBuilderAtEnd(c->b, LLVMAppendBasicBlockInContext(c->ctx, fn, "entry"));
    LLVMValueRef n = LLVMGetParam(fn, 2);
    cc_loop lp;
    cc_loop_begin(c, &lp, cc_i64(c, 0), n, cc_i64(c, c->width));
    LLVMValueRef at[2] = {lp.i, LLVMBuildAdd(c->b, lp.i, n, "")};
    LLVMValueRef px = LLVMBuildGEP2(c->b, c->f32, LLVMGetParam(fn, 0), &lp.i, 1, "");
    LLVMValueRef x = LLVMBuildLoad2(c->b, c->vf32, LLVMBuildBitCast(c->b, px, vp, ""), "");
    LLVMSetAlignment(x, 4);
    LLVMValueRef part[2];
    part[0] =
        expm1 ? cc_vm_expm1f_neg(c, x, &part[1]) : cc_vm_expf_scaled(c, x, NULL, -131, &part[1]);
    for (int k = 0; k < 2; k++) {
        LLVMValueRef py = LLVMBuildGEP2(c->b, c->f32, LLVMGetParam(fn, 1), &at[k], 1, "");
        LLVMSetAlignment(LLVMBuildStore(c->b, part[k], LLVMBuildBitCast(c->b, py, vp, "")), 4);
    }
    cc_loop_end(c, &lp);
    LLVMBuildRetVoid(c->b);
}

static void *lookup(const char *name)
{
    act_error err = {0};
    void *p = cc_jit_lookup(fx.jit, name, &err);
    if (!p)
        fail_msg("lookup %s: %s", name, err.message);
    return p;
}

static int setup(void **state)
{
    (void)state;
    act_error err = {0};
    if (cc_target_init(&fx.target, NULL, NULL, &err) || !(fx.jit = cc_jit_new(&err))) {
        fprintf(stderr, "JIT: %s\n", err.message);
        return -1;
    }
    cc_ctx c;
    cc_ctx_init(&c, cc_jit_context(fx.jit), &fx.target, "vmath");
    char name[64];
    for (int k = 0; k < NFUNC; k++)
        for (int v = 0; v < 2; v++) {
            c.fma = fx.target.fma && v == 0;
            snprintf(name, sizeof name, "%s_f%d", funcs[k].name, v);
            build_kernel(&c, name, funcs[k].emit, c.f32);
            snprintf(name, sizeof name, "%s_d%d", funcs[k].name, v);
            build_kernel(&c, name, funcs[k].emit, c.f64);
        }
    for (int v = 0; v < 2; v++) {
        c.fma = fx.target.fma && v == 0;
        snprintf(name, sizeof name, "exp_f32_f%d", v);
        build_kernel(&c, name, cc_vm_exp_f32, c.f32);
        snprintf(name, sizeof name, "exp_f32_d%d", v);
        build_kernel(&c, name, cc_vm_exp_f32, c.f64);
        c.fma = fx.target.fma;
        snprintf(name, sizeof name, "expf_pair%d", v);
        if (cc_vm_has_expf_pair(&c))
            build_pair_kernel(&c, name, PAIR_M[v]);
    }
    c.fma = fx.target.fma;
    if (cc_vm_has_expf_pair(&c)) {
        build_split_kernel(&c, "expf_scaled", false);
        build_split_kernel(&c, "expm1f_neg", true);
    }
    cc_ctx_fini(&c);
    if (cc_codegen(c.mod, &fx.target, CC_OPT_KERNELS, &fx.obj, &fx.size, &err) ||
        cc_jit_add_object(fx.jit, fx.obj, fx.size, &fx.mapped, &err)) {
        fprintf(stderr, "JIT: %s\n", err.message);
        return -1;
    }
    for (int k = 0; k < NFUNC; k++)
        for (int v = 0; v < 2; v++) {
            snprintf(name, sizeof name, "%s_f%d", funcs[k].name, v);
            fx.f[k][v] = (float_kernel *)lookup(name);
            snprintf(name, sizeof name, "%s_d%d", funcs[k].name, v);
            fx.d[k][v] = (double_kernel *)lookup(name);
        }
    for (int v = 0; v < 2; v++) {
        snprintf(name, sizeof name, "exp_f32_f%d", v);
        fx.exp_f32_f[v] = (float_kernel *)lookup(name);
        snprintf(name, sizeof name, "exp_f32_d%d", v);
        fx.exp_f32_d[v] = (double_kernel *)lookup(name);
        snprintf(name, sizeof name, "expf_pair%d", v);
        if (cc_vm_has_expf_pair(&c))
            fx.expf_pair[v] = (float_kernel *)lookup(name);
    }
    if (cc_vm_has_expf_pair(&c)) {
        fx.expf_scaled = (float_kernel *)lookup("expf_scaled");
        fx.expm1f_neg = (float_kernel *)lookup("expm1f_neg");
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    cc_jit_free(fx.jit);
    cc_target_fini(&fx.target);
    free(fx.obj);
    return 0;
}

/* ---- float sweep -------------------------------------------------------- */

typedef struct {
    double max_ulp[2];
    float worst[2];
    long count;
} float_stats;

/* Runs both kernels of funcs[k] on x[0..n) against the correctly rounded
   float of the long double reference. */
static void check_floats(int k, const float *x, int n, float_stats *st)
{
    float want[CHUNK], got[CHUNK];
    for (int i = 0; i < n; i++)
        want[i] = (float)funcs[k].ref(x[i]);
    for (int v = 0; v < 2; v++) {
        fx.f[k][v](x, got, n);
        for (int i = 0; i < n; i++) {
            double u = ts_ulps(got[i], want[i]);
            if (u > st->max_ulp[v]) {
                st->max_ulp[v] = u;
                st->worst[v] = x[i];
            }
        }
    }
    st->count += n;
}

static void test_floats_within_one_ulp_of_correctly_rounded(void **state)
{
    (void)state;
    float x[CHUNK];
    for (int k = 0; k < NFUNC; k++) {
        float_stats st = {{0, 0}, {0, 0}, 0};
        int n = 0;
        /* Every bit pattern at an odd stride: every binade of both signs,
           the denormals, zeros, infinities and NaNs. */
        for (uint64_t b = 0; b < (1ULL << 32); b += STRIDE) {
            uint32_t u = (uint32_t)b;
            memcpy(&x[n++], &u, 4);
            if (n == CHUNK)
                check_floats(k, x, n, &st), n = 0;
        }
        /* 2^21 more in order from lo to hi, where the results vary. */
        int64_t lo = ts_ordered(funcs[k].lo), hi = ts_ordered(funcs[k].hi);
        int64_t step = (hi - lo) >> 21 | 1;
        for (int64_t o = lo; o <= hi; o += step) {
            x[n++] = ts_from_ordered(o);
            if (n == CHUNK)
                check_floats(k, x, n, &st), n = 0;
        }
        check_floats(k, x, n, &st);
        print_message("%-8s max %g ULP with FMA, %g without, over %ld floats\n", funcs[k].name,
                      st.max_ulp[0], st.max_ulp[1], st.count);
        for (int v = 0; v < 2; v++)
            if (st.max_ulp[v] > 1)
                fail_msg("%s(%a) is %g ULP off (%s FMA)", funcs[k].name, st.worst[v], st.max_ulp[v],
                         v ? "without" : "with");
        if (STRIDE == 421)
            assert_true(st.count >= 10000000);
    }
}

/* ---- double accuracy ---------------------------------------------------- */

/* The contract of cc.h: relative error below 1e-13 where the result is a
   normal double; where it is subnormal (or the reference underflows), an
   absolute error of a few subnormal ULP; infinities and NaN exact. */
static double double_error(double got, long double ref)
{
    double want = (double)ref;
    if (isnan(want) || isnan(got))
        return isnan(got) && isnan(want) ? 0 : INFINITY;
    if (isinf(want) || isinf(got))
        return got == want ? 0 : INFINITY;
    if (fabsl(ref) < DBL_MIN)
        return fabs(got - want) <= 0x1p-1070 ? 0 : INFINITY;
    return (double)fabsl(((long double)got - ref) / ref);
}

typedef struct {
    double max_rel[2];
    double worst[2];
    long count;
} double_stats;

static void check_doubles(int k, const double *x, int n, double_stats *st)
{
    long double want[CHUNK];
    double got[CHUNK];
    for (int i = 0; i < n; i++)
        want[i] = funcs[k].ref(x[i]);
    for (int v = 0; v < 2; v++) {
        fx.d[k][v](x, got, n);
        for (int i = 0; i < n; i++) {
            double e = double_error(got[i], want[i]);
            if (e > st->max_rel[v]) {
                st->max_rel[v] = e;
                st->worst[v] = x[i];
            }
        }
    }
    st->count += n;
}

static uint64_t mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Thresholds and tails, a row each (short rows end in zeros, also tested). */
static const double edges[][6] = {
    {709.78, 709.782712893, 709.7827128933839}, /* exp overflows past ln DBL_MAX */
    {-708.39, -708.4, -745.1, -745.13},         /* exp goes subnormal, then 0 */
    {88.72, -103.97, -100, 10},                 /* float overflow and tails */
    {26.5, 26.54, 26.55, 27.22, 27.23, 28},     /* erfc goes subnormal, then 0 */
    {1, 0x1.fffffffffffffp-1, 0x1.0000000000001p0, 0x1.6a09e667f3bcdp-1, 0x1.6a09e667f3bccp-1,
     0x1.6a09e667f3bcep0}, /* erf's split, log's at 1, sqrt(1/2), sqrt(2) */
    {0.3466, 0.3465735902799726, 20, 19.99, 40, -38},  /* exp's reduction, tanh, expm1 */
    {0x1p-1022, 0x1p-1074, 0x1.8p-1023, DBL_MAX},      /* the ends of the doubles */
    {1e-300, 1e-10, 0.5, 2, 6, -0x1.fffffffffffffp-1}, /* small, moderate, log1p near -1 */
};

static void test_doubles_within_1e13_relative(void **state)
{
    (void)state;
    double x[CHUNK];
    for (int k = 0; k < NFUNC; k++) {
        double_stats st = {{0, 0}, {0, 0}, 0};
        int n = 0;
        for (uint64_t i = 0; i < (1u << 20); i++) {
            uint64_t r = mix(i + (uint64_t)k * 0x9e3779b97f4a7c15ULL), b;
            uint32_t u;
            float f;
            double d;
            switch (i % 4) {
            case 0: /* any double at all */
                b = r;
                memcpy(&d, &b, 8);
                break;
            case 1: /* a float of any binade, with a full double mantissa */
                u = (uint32_t)(r >> 32);
                memcpy(&f, &u, 4);
                d = f;
                memcpy(&b, &d, 8);
                b ^= r & 0x1fffffff;
                memcpy(&d, &b, 8);
                break;
            default: /* where the function varies */
                d = funcs[k].dlo + (funcs[k].dhi - funcs[k].dlo) * ((double)(r >> 11) * 0x1p-53);
            }
            x[n++] = d;
            if (n == CHUNK)
                check_doubles(k, x, n, &st), n = 0;
        }
        check_doubles(k, x, n, &st);
        n = 0;
        for (size_t e = 0; e < sizeof edges / sizeof *edges; e++)
            for (int i = 0; i < 6; i++) {
                x[n++] = edges[e][i];
                x[n++] = -edges[e][i];
            }
        check_doubles(k, x, n, &st);
        print_message("%-8s max relative error %.2g with FMA (at %a), %.2g without (at %a), "
                      "over %ld doubles\n",
                      funcs[k].name, st.max_rel[0], st.worst[0], st.max_rel[1], st.worst[1],
                      st.count);
        for (int v = 0; v < 2; v++)
            if (!(st.max_rel[v] < 1e-13))
                fail_msg("%s(%a): relative error %g (%s FMA)", funcs[k].name, st.worst[v],
                         st.max_rel[v], v ? "without" : "with");
    }
}

/* ---- special values ----------------------------------------------------- */

static const struct {
    const char *name;
    double x, want; /* compared bit for bit, but any NaN matches any NaN */
} specials[] = {
    {"exp", NAN, NAN},
    {"exp", INFINITY, INFINITY},
    {"exp", -INFINITY, 0},
    {"exp", 0, 1},
    {"exp", -0.0, 1},
    {"exp", 710, INFINITY},
    {"exp", 1e300, INFINITY},
    {"exp", -745.0, 0x1p-1074},
    {"exp", -745.2, 0},
    {"exp", -1e300, 0},
    {"expm1", NAN, NAN},
    {"expm1", INFINITY, INFINITY},
    {"expm1", -INFINITY, -1},
    {"expm1", 0, 0},
    {"expm1", -0.0, -0.0},
    {"expm1", -40, -1},
    {"expm1", 710, INFINITY},
    {"expm1", 1e-300, 1e-300},
    {"log", NAN, NAN},
    {"log", INFINITY, INFINITY},
    {"log", 0, -INFINITY},
    {"log", -0.0, -INFINITY},
    {"log", -1, NAN},
    {"log", -INFINITY, NAN},
    {"log", 1, 0},
    {"log1p", NAN, NAN},
    {"log1p", INFINITY, INFINITY},
    {"log1p", -1, -INFINITY},
    {"log1p", -2, NAN},
    {"log1p", -INFINITY, NAN},
    {"log1p", 0, 0},
    {"log1p", -0.0, -0.0},
    {"log1p", 1e-300, 1e-300},
    {"tanh", NAN, NAN},
    {"tanh", INFINITY, 1},
    {"tanh", -INFINITY, -1},
    {"tanh", 0, 0},
    {"tanh", -0.0, -0.0},
    {"tanh", 20, 1},
    {"tanh", -1e300, -1},
    {"tanh", -1e-300, -1e-300},
    {"sigmoid", NAN, NAN},
    {"sigmoid", INFINITY, 1},
    {"sigmoid", -INFINITY, 0},
    {"sigmoid", 0, 0.5},
    {"sigmoid", -0.0, 0.5},
    {"sigmoid", 1e300, 1},
    {"sigmoid", -1e300, 0},
    {"erf", NAN, NAN},
    {"erf", INFINITY, 1},
    {"erf", -INFINITY, -1},
    {"erf", 0, 0},
    {"erf", -0.0, -0.0},
    {"erf", 6, 1},
    {"erf", -1e300, -1},
    {"erfc", NAN, NAN},
    {"erfc", INFINITY, 0},
    {"erfc", -INFINITY, 2},
    {"erfc", 0, 1},
    {"erfc", -0.0, 1},
    {"erfc", 28, 0},
    {"erfc", 1e300, 0},
    {"erfc", -1e300, 2},
};

static int func_index(const char *name)
{
    for (int k = 0; k < NFUNC; k++)
        if (!strcmp(funcs[k].name, name))
            return k;
    fail_msg("no function %s", name);
    return -1;
}

static bool same(double a, double b)
{
    return (isnan(a) && isnan(b)) || memcmp(&a, &b, sizeof a) == 0;
}

/* Each value through the scalar form (n = 1) and the vector form (n = W). */
static void test_special_values_exact(void **state)
{
    (void)state;
    double x[64], y[64];
    unsigned w = fx.target.width;
    for (size_t s = 0; s < sizeof specials / sizeof *specials; s++) {
        int k = func_index(specials[s].name);
        for (unsigned i = 0; i < w; i++)
            x[i] = specials[s].x;
        for (int v = 0; v < 2; v++)
            for (unsigned n = 1; n <= w; n += w - 1) {
                memset(y, 0, sizeof y);
                fx.d[k][v](x, y, n);
                for (unsigned i = 0; i < n; i++)
                    if (!same(y[i], specials[s].want))
                        fail_msg("%s(%a) = %a, want %a (n = %u, %s FMA)", specials[s].name,
                                 specials[s].x, y[i], specials[s].want, n, v ? "without" : "with");
            }
    }
}

/* The contract's tails: results that are float denormals stay denormals. */
static void test_float_tails_keep_denormals(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        float x;
    } tails[] = {{"sigmoid", -100}, {"sigmoid", -103}, {"erfc", 10}, {"erfc", 9.5f}, {"exp", -103}};
    for (size_t t = 0; t < sizeof tails / sizeof *tails; t++) {
        int k = func_index(tails[t].name);
        float want = (float)funcs[k].ref(tails[t].x), got;
        for (int v = 0; v < 2; v++) {
            fx.f[k][v](&tails[t].x, &got, 1);
            if (got == 0 || ts_ulps(got, want) > 1)
                fail_msg("%s(%g) = %g, want %g", tails[t].name, tails[t].x, got, want);
        }
    }
}

/* ---- cc_vm_exp_f32 ------------------------------------------------------ */

/* Relative error below 1.2e-10 on [-708, 709] (2^20 samples, uniform and
   near 0, where the row kernels mostly call it), floats within 1 ULP of
   the correctly rounded value from -104 (below which the float is 0) to 88,
   and its special values: exactly 1 at 0, 0 below -708, NaN for NaN. */
static void test_exp_f32_within_its_bound(void **state)
{
    (void)state;
    static double x[CHUNK], y[CHUNK];
    double worst[2] = {0, 0};
    for (uint64_t i = 0; i < (1u << 20); i += CHUNK) {
        for (int j = 0; j < CHUNK; j++) {
            double u = (double)(mix(i + (uint64_t)j) >> 11) * 0x1p-53;
            x[j] = j % 2 ? -708 + 1417 * u : -20 * u;
        }
        for (int v = 0; v < 2; v++) {
            fx.exp_f32_d[v](x, y, CHUNK);
            for (int j = 0; j < CHUNK; j++)
                worst[v] = fmax(worst[v], double_error(y[j], expl(x[j])));
        }
    }
    print_message("exp_f32  max relative error %.2g with FMA, %.2g without\n", worst[0], worst[1]);
    assert_true(worst[0] < 1.2e-10 && worst[1] < 1.2e-10);
    static float xf[CHUNK], yf[CHUNK];
    int64_t lo = ts_ordered(-104), hi = ts_ordered(88);
    int64_t step = (hi - lo) >> 22 | 1;
    for (int64_t o = lo; o <= hi; o += step * CHUNK) {
        int n = 0;
        for (; n < CHUNK && o + n * step <= hi; n++)
            xf[n] = ts_from_ordered(o + n * step);
        for (int v = 0; v < 2; v++) {
            fx.exp_f32_f[v](xf, yf, n);
            for (int j = 0; j < n; j++)
                if (ts_ulps(yf[j], (float)expl(xf[j])) > 1)
                    fail_msg("exp_f32(%a) = %a, want %a", xf[j], yf[j], (float)expl(xf[j]));
        }
    }
    static const double special[][2] = {{0, 1},      {-0.0, 1},   {-INFINITY, 0},
                                        {-708.5, 0}, {-1e300, 0}, {NAN, NAN}};
    for (size_t k = 0; k < sizeof special / sizeof *special; k++)
        for (int v = 0; v < 2; v++)
            for (unsigned n = 1; n <= fx.target.width; n += fx.target.width - 1) {
                for (unsigned j = 0; j < n; j++)
                    x[j] = special[k][0];
                fx.exp_f32_d[v](x, y, n);
                for (unsigned j = 0; j < n; j++)
                    if (!same(y[j], special[k][1]))
                        fail_msg("exp_f32(%a) = %a, want %a", special[k][0], y[j], special[k][1]);
            }
}

/* Kernel k on 16 copies of each special[i][0]: special[i][1] (the high
   parts of a pair kernel), NaN for NaN. */
static void check_specials(float_kernel *k, const char *name, const float (*special)[2], size_t n)
{
    float x[16], y[32];
    for (size_t i = 0; i < n; i++) {
        for (int j = 0; j < 16; j++)
            x[j] = special[i][0];
        k(x, y, 16);
        for (int j = 0; j < 16; j++)
            if (!(y[j] == special[i][1] || (isnan(y[j]) && isnan(special[i][1]))))
                fail_msg("%s(%g) = %g, want %g", name, special[i][0], y[j], special[i][1]);
    }
}

/* A batch of n floats (n a multiple of 16) for a check to run a kernel on. */
typedef void float_batch(void *ctx, const float *x, int n);

/* The floats from lo to hi every STRIDE / 7 + 1 (every 61st; every 241st
   under the sanitizers) and every float of [lo, hi] within 2^16 of each of
   near[], through f in batches, the last padded with hi. */
static void sweep_floats(float lo, float hi, const float *near, int nnear, float_batch *f,
                         void *ctx)
{
    enum { N = 4096 };
    static float x[N];
    int n = 0;
    for (int64_t o = ts_ordered(lo); o <= ts_ordered(hi); o += STRIDE / 7 + 1) {
        x[n++] = ts_from_ordered(o);
        if (n == N)
            f(ctx, x, n), n = 0;
    }
    for (int e = 0; e < nnear; e++)
        for (int64_t o = ts_ordered(near[e]) - (1 << 16); o <= ts_ordered(near[e]) + (1 << 16);
             o++) {
            float v = ts_from_ordered(o);
            if (v < lo || v > hi)
                continue;
            x[n++] = v;
            if (n == N)
                f(ctx, x, n), n = 0;
        }
    while (n % 16)
        x[n++] = hi;
    f(ctx, x, n);
}

/* ---- cc_vm_expf_pair ----------------------------------------------------- */

typedef struct {
    int v;
    double worst[2]; /* normal results, subnormal ones */
    float at[2];
} pair_stats;

static void check_pair(void *ctx, const float *x, int n)
{
    pair_stats *st = ctx;
    float y[4096];
    fx.expf_pair[st->v](x, y, n);
    for (int j = 0; j < n; j++) {
        long double want = expl((long double)x[j] - PAIR_M[st->v]);
        int e;
        frexpl(want, &e);
        bool sub = e - 1 < -126; /* the spacing of the binade, 2^-149 among the subnormals */
        long double ulp = ldexpl(1, sub ? -149 : e - 24);
        double u = (double)(fabsl((long double)y[j] - want) / ulp);
        if (u > st->worst[sub])
            st->worst[sub] = u, st->at[sub] = x[j];
    }
}

/* e^(x - m) for every 61st float x from -110 to m (every 241st under the
   sanitizers) and every float near the edges (0, where the result turns
   subnormal, and where it vanishes), against the exact value: the pair is within 1e-8 relative, so
   its sum rounded to float is within 0.5 ULP + 0.2 (normal results) and 1 ULP (subnormal ones,
   rounded twice), for m = 0 and m = 3.3 (x - m inexact in float); -inf gives 0, NaN gives NaN. */
static void test_expf_pair_within_its_bound(void **state)
{
    (void)state;
    if (!fx.expf_pair[0])
        skip();
    static const float near[] = {-103.97f, -87.34f, -1, 0};
    for (int v = 0; v < 2; v++) {
        pair_stats st = {v, {0, 0}, {0, 0}};
        sweep_floats(-110, PAIR_M[v], near, 4, check_pair, &st);
        print_message("expf_pair(x - %g): max %.3f ULP (at %a), %.3f among subnormals (at %a)\n",
                      PAIR_M[v], st.worst[0], st.at[0], st.worst[1], st.at[1]);
        if (st.worst[0] > 0.7 || st.worst[1] > 1)
            fail_msg("expf_pair(x - %g) is %g ULP off at %a, %g at %a", PAIR_M[v], st.worst[0],
                     st.at[0], st.worst[1], st.at[1]);
    }
    static const float special[][2] = {{-INFINITY, 0}, {-1e30f, 0}, {-105, 0}, {NAN, NAN}};
    check_specials(fx.expf_pair[0], "expf_pair", special, sizeof special / sizeof *special);
}

/* ---- cc_vm_expf_scaled and cc_vm_expm1f_neg ------------------------------ */

typedef struct {
    float_kernel *k;
    long double (*ref)(long double);
    int scale;
    double pair, high; /* the pair's error relative to the exact value; the high part's in ULP */
    float pair_at, high_at;
} split_stats;

/* The pairs of kernel k on x[0..n) against ref(x) scaled by 2^scale: the
   pair relative to it, the high part in ULP of its correctly rounded
   float. */
static void check_split(void *ctx, const float *x, int n)
{
    split_stats *st = ctx;
    static float y[2 * 4096];
    st->k(x, y, n);
    for (int j = 0; j < n; j++) {
        long double want = ldexpl(st->ref(x[j]), st->scale);
        if (want == 0)
            continue;
        long double rel = fabsl(((long double)y[j] + y[n + j] - want) / want);
        double u = ts_ulps(y[j], (float)want);
        if (rel > st->pair)
            st->pair = (double)rel, st->pair_at = x[j];
        if (u > st->high)
            st->high = u, st->high_at = x[j];
    }
}

/* 2^64 e^x for x in [-131, 0]: the pair within 4e-8 relative, its high
   part within 1 ULP (normal floats down to e^-131); 0 below -131 and for
   -inf, NaN for NaN. */
static void test_expf_scaled_within_its_bound(void **state)
{
    (void)state;
    if (!fx.expf_scaled)
        skip();
    static const float near[] = {0, -0.34657359f, -87.33655f, -103.97208f, -131};
    split_stats st = {fx.expf_scaled, expl, 64, 0, 0, 0, 0};
    sweep_floats(-131, 0, near, 5, check_split, &st);
    print_message("expf_scaled: pair %.3g relative (at %a), high part %.3f ULP (at %a)\n", st.pair,
                  st.pair_at, st.high, st.high_at);
    if (st.pair > 4e-8 || st.high > 1)
        fail_msg("expf_scaled: pair %g off at %a, high part %g ULP at %a", st.pair, st.pair_at,
                 st.high, st.high_at);
    static const float special[][2] = {{-INFINITY, 0}, {-1e30f, 0}, {-131.5f, 0}, {NAN, NAN}};
    check_specials(fx.expf_scaled, "expf_scaled", special, sizeof special / sizeof *special);
}

/* e^x - 1 for x in [-100, 0]: the pair's sum within 0.6 ULP of float
   (4e-8 relative), the high part within 1 ULP; -1 below -87, x itself for
   tiny x, +0 for -0, NaN for NaN. */
static void test_expm1f_neg_within_its_bound(void **state)
{
    (void)state;
    if (!fx.expm1f_neg)
        skip();
    static const float near[] = {-0x1p-25f, -0x1p-10f, -0.34657359f, -1, -17.3f, -87.33655f};
    split_stats st = {fx.expm1f_neg, expm1l, 0, 0, 0, 0, 0};
    sweep_floats(-100, -0x1p-126f, near, 6, check_split, &st);
    print_message("expm1f_neg: pair %.3g relative (at %a), high part %.3f ULP (at %a)\n", st.pair,
                  st.pair_at, st.high, st.high_at);
    if (st.pair > 4e-8 || st.high > 1)
        fail_msg("expm1f_neg: pair %g off at %a, high part %g ULP at %a", st.pair, st.pair_at,
                 st.high, st.high_at);
    static const float special[][2] = {{-INFINITY, -1},        {-88, -1},  {-1e30f, -1},
                                       {-0x1p-30f, -0x1p-30f}, {-0.0f, 0}, {NAN, NAN}};
    check_specials(fx.expm1f_neg, "expm1f_neg", special, sizeof special / sizeof *special);
}

/* ---- the object loader --------------------------------------------------- */

static const void *anywhere(void *arg, const char *name)
{
    (void)name;
    return arg;
}

/* On x86-64 Linux act maps the kernels' object itself (the sweeps above
   ran that code), and finds their symbols. */
static void test_act_maps_its_objects(void **state)
{
    (void)state;
#if defined(__x86_64__) && defined(__linux__)
    assert_true(fx.mapped);
    static char dummy;
    cc_image *im = cc_image_load(fx.obj, fx.size, anywhere, &dummy);
    assert_non_null(im);
    assert_ptr_not_equal(cc_image_symbol(im, "sigmoid_f0"), NULL);
    assert_ptr_equal(cc_image_symbol(im, "sigmoid_f9"), NULL);
    cc_image_free(im);
#else
    assert_false(fx.mapped);
#endif
}

static uint64_t read_u64(const char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

/* A damaged object is declined, or mapped without reading or writing out
   of its bounds (the sanitizers' build checks that): truncated anywhere,
   or a byte changed in its ELF header, its section headers or the first
   bytes of each section that is not code or constants (symbols, their
   names, relocations). The code's relocations said to be for another
   section than the code are declined. (A damaged byte the headers cannot
   tell, in code or addends, is the disk cache's check to catch.) */
static void test_damaged_objects_are_declined(void **state)
{
    (void)state;
    static char dummy;
    for (size_t n = 0; n < fx.size; n += 1 + n / 32)
        assert_null(cc_image_load(fx.obj, n, anywhere, &dummy));
    if (fx.size < 64)
        fail_msg("an object of %zu bytes", fx.size);
    uint64_t shoff = read_u64(fx.obj + 40);
    uint16_t shnum;
    memcpy(&shnum, fx.obj + 60, 2);
    assert_true(shoff + 64 * (uint64_t)shnum <= fx.size);
    char *bad = malloc(fx.size);
    assert_non_null(bad);
    long tried = 0;
    for (int part = -2; part < (int)shnum; part++) {
        size_t from = part == -2 ? 0 : part == -1 ? (size_t)shoff : 0, to = 0;
        if (part == -2)
            to = 64;
        else if (part == -1)
            to = (size_t)shoff + 64 * (size_t)shnum;
        else {
            const char *sh = fx.obj + shoff + 64 * (uint64_t)part;
            uint32_t type;
            memcpy(&type, sh + 4, 4);
            if (type == 1) /* SHT_PROGBITS: code and constants */
                continue;
            from = (size_t)read_u64(sh + 24);
            to = from + (size_t)(read_u64(sh + 32) < 512 ? read_u64(sh + 32) : 512);
        }
        for (size_t at = from; at < to && at < fx.size; at++)
            for (int flip = 0; flip < 2; flip++) {
                memcpy(bad, fx.obj, fx.size);
                bad[at] = (char)(bad[at] ^ (flip ? 0xff : 0x01));
                cc_image_free(cc_image_load(bad, fx.size, anywhere, &dummy));
                tried++;
            }
    }
    /* the code's relocations said to be for themselves, or for the symbols:
       mapping the code unrelocated would run it with null addresses */
    for (int i = 0; i < (int)shnum; i++) {
        const char *sh = fx.obj + shoff + 64 * (uint64_t)i;
        uint32_t type, info, flags;
        memcpy(&type, sh + 4, 4);
        memcpy(&info, sh + 44, 4);
        if (type != 4 || info >= shnum) /* SHT_RELA */
            continue;
        memcpy(&flags, fx.obj + shoff + 64 * (uint64_t)info + 8, 4);
        if (!(flags & 4)) /* SHF_EXECINSTR: the code's */
            continue;
        for (int to = 0; to < (int)shnum; to++) {
            uint32_t to_type;
            memcpy(&to_type, fx.obj + shoff + 64 * (uint64_t)to + 4, 4);
            if (to != i && to_type != 2) /* itself, or SHT_SYMTAB */
                continue;
            memcpy(bad, fx.obj, fx.size);
            uint32_t v = (uint32_t)to;
            memcpy(bad + shoff + 64 * (uint64_t)i + 44, &v, 4);
            assert_null(cc_image_load(bad, fx.size, anywhere, &dummy));
            tried++;
        }
    }
    free(bad);
    assert_true(tried > 1000);
}

/* An object act does not map (here the small code model's 32-bit
   PC-relative calls) is linked by LLJIT, and runs. */
static void test_lljit_links_what_act_declines(void **state)
{
    (void)state;
    LLVMContextRef ctx = cc_jit_context(fx.jit);
    LLVMModuleRef m = LLVMModuleCreateWithNameInContext("small", ctx);
    LLVMTypeRef f32 = LLVMFloatTypeInContext(ctx);
    LLVMTypeRef ft = LLVMFunctionType(f32, &f32, 1, 0);
    LLVMValueRef callee = LLVMAddFunction(m, "expf", ft);
    LLVMValueRef fn = LLVMAddFunction(m, "call_expf", ft);
    LLVMBuilderRef b = LLVMCreateBuilderInContext(ctx);
    LLVMPositionBuilderAtEnd(b, LLVMAppendBasicBlockInContext(ctx, fn, "entry"));
    LLVMValueRef arg = LLVMGetParam(fn, 0);
    LLVMBuildRet(b, LLVMBuildCall2(b, ft, callee, &arg, 1, ""));
    LLVMDisposeBuilder(b);
    cc_target small = fx.target; /* its strings stay fx's */
    small.tm = LLVMCreateTargetMachine(LLVMGetTargetMachineTarget(fx.target.tm), small.triple,
                                       small.cpu, small.features, LLVMCodeGenLevelDefault,
                                       LLVMRelocPIC, LLVMCodeModelSmall);
    char *obj = NULL;
    size_t size = 0;
    act_error err = {0};
    int rc = cc_codegen(m, &small, CC_OPT_KERNELS, &obj, &size, &err);
    LLVMDisposeTargetMachine(small.tm);
    if (rc)
        fail_msg("%s", err.message);
    static char dummy;
    assert_null(cc_image_load(obj, size, anywhere, &dummy));
    bool mapped = true;
    assert_int_equal(cc_jit_add_object(fx.jit, obj, size, &mapped, &err), 0);
    free(obj);
    assert_false(mapped);
    float (*call)(float) = (float (*)(float))lookup("call_expf");
    assert_true(call(1.5f) == expf(1.5f));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_special_values_exact),
        cmocka_unit_test(test_float_tails_keep_denormals),
        cmocka_unit_test(test_doubles_within_1e13_relative),
        cmocka_unit_test(test_floats_within_one_ulp_of_correctly_rounded),
        cmocka_unit_test(test_exp_f32_within_its_bound),
        cmocka_unit_test(test_expf_pair_within_its_bound),
        cmocka_unit_test(test_expf_scaled_within_its_bound),
        cmocka_unit_test(test_expm1f_neg_within_its_bound),
        cmocka_unit_test(test_act_maps_its_objects),
        cmocka_unit_test(test_damaged_objects_are_declined),
        cmocka_unit_test(test_lljit_links_what_act_declines),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
