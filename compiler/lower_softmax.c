/* lower_softmax.c -- the passes of the row kernels (compiler/lower_rows.c
   runs them over the rows): softmax and log_softmax, their gradients, and
   softmax_cross_entropy with its gradients (one kernel for the loss and
   both gradients when an entry computes them: compiler/lower.c), on one
   set of lanes. Along the last axis the lanes are consecutive elements of
   a row (a vector loop with a masked tail), and a row's max and sums are
   reduced across the lanes after each pass; along another axis the lanes
   are neighbouring rows, each keeping its own. At most three passes: the
   max; exp(x - max) and the sums; the results. Loads are widened to
   double, sums and formulas stay in double and each result is rounded to
   float once, as the interpreter computes them (exp is cc_vm_exp_f32), but
   for softmax in float lanes on AVX-512 and the softmax gradient's results
   (compensated, see there). */
#include "cc.h"

#include <math.h>

typedef void (*pass_fn)(cc_rows *s, LLVMValueRef i, LLVMValueRef mask, LLVMValueRef j);

static bool is_forward(ir_op op)
{
    return op != IR_SOFTMAX_GRAD && op != IR_LOG_SOFTMAX_GRAD;
}

static LLVMValueRef load(cc_rows *s, LLVMValueRef buf, LLVMValueRef i, LLVMValueRef mask)
{
    cc_ctx *c = s->l->c;
    return LLVMBuildFPExt(c->b, cc_load(c, buf, i, mask), c->vf64, "");
}

/* The element type of the scratch, and the vector at scratch[j]. */
static LLVMTypeRef scratch_type(cc_rows *s, bool vector)
{
    cc_ctx *c = s->l->c;
    return s->f32 ? (vector ? c->vf32 : c->f32) : (vector ? c->vf64 : c->f64);
}

static LLVMValueRef scratch_plus(cc_rows *s, LLVMValueRef j)
{
    cc_ctx *c = s->l->c;
    LLVMValueRef base =
        LLVMBuildBitCast(c->b, s->scratch, LLVMPointerType(scratch_type(s, false), 0), "");
    return LLVMBuildGEP2(c->b, scratch_type(s, false), base, &j, 1, "");
}

/* Vectors of the scratch are aligned only as their elements are. */
static void scratch_store(cc_rows *s, LLVMValueRef j, LLVMValueRef e)
{
    LLVMValueRef p = LLVMBuildBitCast(s->l->c->b, scratch_plus(s, j),
                                      LLVMPointerType(scratch_type(s, true), 0), "");
    LLVMSetAlignment(LLVMBuildStore(s->l->c->b, e, p), 4);
}

static LLVMValueRef scratch_load(cc_rows *s, LLVMValueRef j)
{
    LLVMValueRef p = LLVMBuildBitCast(s->l->c->b, scratch_plus(s, j),
                                      LLVMPointerType(scratch_type(s, true), 0), "");
    LLVMValueRef e = LLVMBuildLoad2(s->l->c->b, scratch_type(s, true), p, "");
    LLVMSetAlignment(e, 4);
    return e;
}

static void add_to(cc_rows *s, int k, LLVMValueRef x)
{
    LLVMBuilderRef b = s->l->c->b;
    LLVMValueRef sum = LLVMBuildFAdd(b, LLVMBuildLoad2(b, s->l->c->vf64, s->acc[k], ""), x, "");
    LLVMBuildStore(b, sum, s->acc[k]);
}

static LLVMValueRef fadd(cc_ctx *c, LLVMValueRef a, LLVMValueRef b)
{
    return LLVMBuildFAdd(c->b, a, b, "");
}

/* NaN loses, so a NaN in a row reaches the result through exp(NaN - max). */
static LLVMValueRef fmax_of(cc_ctx *c, LLVMValueRef a, LLVMValueRef b)
{
    return cc_select(c, LLVMBuildFCmp(c->b, LLVMRealOGT, a, b, ""), a, b);
}

/* x for the lanes of the row: the sum or max of x's lanes along the axis,
   splatted; x itself across it. */
static LLVMValueRef per_lane(cc_rows *s, LLVMValueRef x, cc_combine_fn op)
{
    return s->along ? cc_splat(s->l->c, cc_reduce(s->l->c, x, op)) : x;
}

/* fn for every j along the axis: by vectors along it, one j at a time
   across it. */
typedef struct {
    cc_rows *s;
    pass_fn fn;
} pass_arg;

static void along_lanes(void *arg, LLVMValueRef j, LLVMValueRef mask)
{
    pass_arg *p = arg;
    p->fn(p->s, LLVMBuildAdd(p->s->l->c->b, p->s->base, j, ""), mask, j);
}

static void pass(cc_rows *s, pass_fn fn)
{
    cc_ctx *c = s->l->c;
    if (s->along && s->one_vector) {
        along_lanes(&(pass_arg){s, fn}, cc_i64(c, 0), cc_mask(c, cc_i64(c, 0), s->len));
        return;
    }
    if (s->along) {
        cc_vector_loop(c, s->len, along_lanes, &(pass_arg){s, fn});
        return;
    }
    cc_loop j;
    cc_loop_begin(c, &j, cc_i64(c, 0), s->len, cc_i64(c, 1));
    fn(s, LLVMBuildAdd(c->b, s->base, LLVMBuildMul(c->b, j.i, s->step, ""), ""), s->lane_mask, j.i);
    cc_loop_end(c, &j);
}

static void max_pass(cc_rows *s, LLVMValueRef i, LLVMValueRef mask, LLVMValueRef j)
{
    (void)j;
    cc_ctx *c = s->l->c;
    LLVMValueRef x = cc_load(c, s->a, i, mask);
    if (mask)
        x = cc_select(c, mask, x, cc_const(c, c->vf32, -INFINITY));
    LLVMBuildStore(c->b, fmax_of(c, x, LLVMBuildLoad2(c->b, c->vf32, s->m, "")), s->m);
}

static bool takes_log(const cc_rows *s)
{
    return s->op == IR_LOG_SOFTMAX || (s->op == IR_SCE && (s->total || s->out_t));
}

/* The sums: exp(x - max) (kept in scratch when the results read it again),
   and for the loss sum(t) and sum(t (z - max)); sum(dy y) or sum(dy) for the
   gradients. */
/* Along a row, the pass that computes most also asks for the next row's
   inputs and for the lines of this row's results: a long row then comes
   from memory while the previous one is computed, and the results go to
   lines already owned (unless they are stored past the caches). The
   gradients compute little: they ask for the next row during the results. */
static void prefetch(cc_rows *s, LLVMValueRef i, LLVMValueRef mask, bool results)
{
    cc_ctx *c = s->l->c;
    if (!s->along || mask)
        return;
    if (!results && s->out && !s->nt)
        cc_prefetch(c, s->out, i, true);
    if (!results && s->out_t)
        cc_prefetch(c, s->out_t, i, true);
    if (results == is_forward(s->op))
        return;
    LLVMValueRef next = LLVMBuildAdd(c->b, i, s->len, "");
    cc_prefetch(c, s->a, next, false);
    if (s->b)
        cc_prefetch(c, s->b, next, false);
}

/* softmax in float lanes: x - max as an exact pair, and 2^64 e^(x - max)
   as a pair of floats within 1e-8 (cc_vm_expf_pair), both kept (the high
   parts from scratch[0], the low from scratch[len + width]) and summed:
   the high parts from a start of 2^64, above any term, so that the
   rounding error of each addition is exact as (sum - t) + e (Fast2Sum;
   Kahan's e - carried would lose the carried error when e is as large as
   the sum); those errors and the low parts go to a second sum. Added in
   double, less the start, the two give the sum of 2^64 e within n 2^-48. */
static void sum_pass_f32(cc_rows *s, LLVMValueRef i, LLVMValueRef mask, LLVMValueRef j)
{
    cc_ctx *c = s->l->c;
    LLVMBuilderRef b = c->b;
    LLVMValueRef lo, hi = cc_vm_two_diff(c, cc_load(c, s->a, i, mask), s->mf, &lo);
    LLVMValueRef rest, e = cc_vm_expf_pair(c, hi, lo, -104, &rest);
    if (mask) {
        LLVMValueRef zero = cc_const(c, c->vf32, 0);
        e = cc_select(c, mask, e, zero);
        rest = cc_select(c, mask, rest, zero);
    }
    scratch_store(s, j, e);
    scratch_store(s, LLVMBuildAdd(b, j, s->lo_at, ""), rest);
    LLVMValueRef sum = LLVMBuildLoad2(b, c->vf32, s->sum_f[0], "");
    LLVMValueRef t = LLVMBuildFAdd(b, sum, e, "");
    LLVMValueRef err = LLVMBuildFAdd(b, LLVMBuildFSub(b, sum, t, ""), e, "");
    LLVMValueRef low = LLVMBuildLoad2(b, c->vf32, s->sum_f[1], "");
    LLVMBuildStore(b, LLVMBuildFAdd(b, LLVMBuildFAdd(b, low, err, ""), rest, ""), s->sum_f[1]);
    LLVMBuildStore(b, t, s->sum_f[0]);
}

static void sum_pass(cc_rows *s, LLVMValueRef i, LLVMValueRef mask, LLVMValueRef j)
{
    cc_ctx *c = s->l->c;
    prefetch(s, i, mask, false);
    if (s->f32) {
        sum_pass_f32(s, i, mask, j);
        return;
    }
    LLVMValueRef x = load(s, s->a, i, mask);
    if (s->op == IR_SOFTMAX_GRAD || s->op == IR_LOG_SOFTMAX_GRAD) {
        LLVMValueRef dy = load(s, s->b, i, mask); /* 0 in masked cc_rows */
        add_to(s, CC_SUM_E, s->op == IR_SOFTMAX_GRAD ? LLVMBuildFMul(c->b, dy, x, "") : dy);
        return;
    }
    LLVMValueRef d = LLVMBuildFSub(c->b, x, s->m, "");
    LLVMValueRef e = cc_vm_exp_f32(c, d);
    if (s->scratch)
        scratch_store(s, j, e); /* the scratch has a vector of slack */
    LLVMValueRef zero = cc_const(c, c->vf64, 0), in = mask;
    if (takes_log(s)) {
        LLVMValueRef top = LLVMBuildFCmp(c->b, LLVMRealOEQ, d, zero, "");
        LLVMValueRef counted = mask ? LLVMBuildAnd(c->b, top, mask, "") : top;
        add_to(s, CC_SUM_TOP, cc_select(c, counted, cc_const(c, c->vf64, 1), zero));
        LLVMValueRef rest = LLVMBuildNot(c->b, top, "");
        in = mask ? LLVMBuildAnd(c->b, rest, mask, "") : rest;
    }
    add_to(s, CC_SUM_E, in ? cc_select(c, in, e, zero) : e);
    if (s->op == IR_SCE && s->b) {
        LLVMValueRef t = load(s, s->b, i, mask);
        add_to(s, CC_SUM_T, t);
        if (s->total)
            add_to(s, CC_SUM_TD, LLVMBuildFMul(c->b, t, d, ""));
    }
}

/* k_hi + k_lo = k (double, or vf64 across the axis) to 2^-48, as float
   lanes. */
static void split(cc_rows *s, LLVMValueRef k)
{
    cc_ctx *c = s->l->c;
    LLVMTypeRef ft = s->along ? c->f32 : c->vf32, dt = LLVMTypeOf(k);
    LLVMValueRef hi = LLVMBuildFPTrunc(c->b, k, ft, "");
    LLVMValueRef lo = LLVMBuildFSub(c->b, k, LLVMBuildFPExt(c->b, hi, dt, ""), "");
    lo = LLVMBuildFPTrunc(c->b, lo, ft, "");
    s->k_hi = s->along ? cc_splat(c, hi) : hi;
    s->k_lo = s->along ? cc_splat(c, lo) : lo;
}

/* log(sum) as log1p(count of the max - 1 + sum of the others). */
static LLVMValueRef log_sum(cc_ctx *c, LLVMValueRef top, LLVMValueRef others)
{
    LLVMValueRef rest = LLVMBuildFSub(c->b, top, cc_const(c, LLVMTypeOf(top), 1), "");
    return cc_vm_log1p(c, LLVMBuildFAdd(c->b, rest, others, ""));
}

/* The loss of the row, -sum(t log_softmax(z)) = log(sum) sum(t) -
   sum(t (z - max)), added to the total; k = sum(t) / sum for the logits'
   gradient, k_t = log(sum) for the target's. */
static void sce_after_sums(cc_rows *s, LLVMValueRef sum[CC_NSUMS])
{
    cc_ctx *c = s->l->c;
    LLVMValueRef all = sum[CC_SUM_E], ls = NULL;
    if (takes_log(s)) { /* the max's lanes were counted apart */
        ls = log_sum(c, sum[CC_SUM_TOP], sum[CC_SUM_E]);
        all = LLVMBuildFAdd(c->b, sum[CC_SUM_TOP], sum[CC_SUM_E], "");
    }
    if (s->total) {
        LLVMValueRef row =
            LLVMBuildFSub(c->b, LLVMBuildFMul(c->b, ls, sum[CC_SUM_T], ""), sum[CC_SUM_TD], "");
        cc_set(s->l, s->total, LLVMBuildFAdd(c->b, cc_get(s->l, s->total), row, ""));
    }
    s->k = s->out ? LLVMBuildFDiv(c->b, sum[CC_SUM_T], all, "") : NULL;
    s->k_t = s->out_t ? ls : NULL;
}

/* k (and k_t) from the sums; the loss of the row is added to the total. */
static void after_sums(cc_rows *s)
{
    cc_ctx *c = s->l->c;
    LLVMValueRef sum[CC_NSUMS] = {NULL};
    for (int k = 0; k < CC_NSUMS; k++) {
        if (!s->acc[k])
            continue;
        LLVMValueRef v = LLVMBuildLoad2(c->b, c->vf64, s->acc[k], "");
        if (s->f32) { /* sum - 2^64 + low in double */
            LLVMValueRef part[2];
            for (int a = 0; a < 2; a++)
                part[a] = LLVMBuildFPExt(c->b, LLVMBuildLoad2(c->b, c->vf32, s->sum_f[a], ""),
                                         c->vf64, "");
            v = LLVMBuildFSub(c->b, part[0], cc_const(c, c->vf64, 0x1p64), "");
            v = LLVMBuildFAdd(c->b, v, part[1], "");
        }
        sum[k] = s->along ? cc_reduce(c, v, fadd) : v;
    }
    LLVMTypeRef t = LLVMTypeOf(sum[CC_SUM_E]);
    switch (s->op) {
    case IR_SOFTMAX: /* results are e / sum */
        s->k = LLVMBuildFDiv(c->b, cc_const(c, t, 1), sum[CC_SUM_E], "");
        if (s->f32) /* 2^64 k, k_hi in [1/n, 1] */
            split(s, LLVMBuildFMul(c->b, s->k, cc_const(c, t, 0x1p64), ""));
        break;
    case IR_LOG_SOFTMAX: /* log_softmax = (x - max) - log(sum) */
        s->k = log_sum(c, sum[CC_SUM_TOP], sum[CC_SUM_E]);
        break;
    case IR_SCE:
        sce_after_sums(s, sum);
        break;
    default: /* the gradients' sums */
        s->k = sum[CC_SUM_E];
        if (s->op == IR_SOFTMAX_GRAD && c->fma)
            split(s, s->k);
        break;
    }
    if (s->along && s->k)
        s->k = cc_splat(c, s->k);
    if (s->along && s->k_t)
        s->k_t = cc_splat(c, s->k_t);
}

/* Stores r (vf32), past the caches where that was chosen. */
static void store_result(cc_rows *s, LLVMValueRef r, LLVMValueRef i, LLVMValueRef mask)
{
    if (s->nt && !mask)
        cc_store_nt(s->l->c, r, s->out, i);
    else
        cc_store(s->l->c, r, s->out, i, mask);
}

/* softmax_cross_entropy's gradients: dL (e k - t) / rows for the logits,
   -dL log_softmax(z) / rows for the target (only the logits' are stored
   past the caches). */
static void sce_results(cc_rows *s, LLVMValueRef d, LLVMValueRef e, LLVMValueRef i,
                        LLVMValueRef mask)
{
    cc_ctx *c = s->l->c;
    if (s->out) {
        LLVMValueRef r = cc_fma(c, e, s->k, LLVMBuildFNeg(c->b, load(s, s->b, i, mask), ""));
        r = LLVMBuildFMul(c->b, s->scale, r, "");
        store_result(s, LLVMBuildFPTrunc(c->b, r, c->vf32, ""), i, mask);
    }
    if (s->out_t) {
        LLVMValueRef r = LLVMBuildFMul(c->b, s->scale_t, LLVMBuildFSub(c->b, d, s->k_t, ""), "");
        cc_store(c, LLVMBuildFPTrunc(c->b, r, c->vf32, ""), s->out_t, i, mask);
    }
}

static void result_pass(cc_rows *s, LLVMValueRef i, LLVMValueRef mask, LLVMValueRef j)
{
    cc_ctx *c = s->l->c;
    prefetch(s, i, mask, true);
    if (s->op == IR_SOFTMAX_GRAD && c->fma && !s->nt) {
        /* y dy - y k in float lanes, k = sum(dy y) = k_hi + k_lo: a = y dy -
           y k_hi rounded (its error 2^-24 |a|, a close to the result), then
           less the exact error of y k_hi and y k_lo: within ~1.5 ULP beside
           the double form's 0.5, which costs four conversions a vector.
           (Where the results go past the caches, memory bounds the kernel,
           and the double form measured 7% faster there.) */
        LLVMValueRef y = cc_load(c, s->a, i, mask), dy = cc_load(c, s->b, i, mask);
        LLVMValueRef yk = LLVMBuildFMul(c->b, y, s->k_hi, "");
        LLVMValueRef err = cc_fma(c, y, s->k_hi, LLVMBuildFNeg(c->b, yk, ""));
        LLVMValueRef a = cc_fma(c, y, dy, LLVMBuildFNeg(c->b, yk, ""));
        LLVMValueRef r = LLVMBuildFSub(c->b, a, cc_fma(c, y, s->k_lo, err), "");
        store_result(s, r, i, mask);
        return;
    }
    if (s->f32) {
        /* (e + rest)(k_hi + k_lo) 2^-64, the product rounded once (every
           part a normal float at this scale), and again where the result
           is subnormal: within 0.7 ULP, 1.2 among the subnormals */
        LLVMValueRef e = scratch_load(s, j);
        LLVMValueRef rest = scratch_load(s, LLVMBuildAdd(c->b, j, s->lo_at, ""));
        LLVMValueRef inner = cc_fma(c, e, s->k_lo, LLVMBuildFMul(c->b, rest, s->k_hi, ""));
        LLVMValueRef r = cc_fma(c, e, s->k_hi, inner);
        store_result(s, LLVMBuildFMul(c->b, r, cc_const(c, c->vf32, 0x1p-64), ""), i, mask);
        return;
    }
    LLVMValueRef x = load(s, s->a, i, mask), r;
    LLVMValueRef d = is_forward(s->op) ? LLVMBuildFSub(c->b, x, s->m, "") : NULL;
    LLVMValueRef e = NULL;
    if (s->op == IR_SOFTMAX || (s->op == IR_SCE && s->out))
        e = s->scratch ? scratch_load(s, j) : cc_vm_exp_f32(c, d);
    if (s->op == IR_SCE) {
        sce_results(s, d, e, i, mask);
        return;
    }
    switch (s->op) {
    case IR_SOFTMAX:
        r = LLVMBuildFMul(c->b, e, s->k, "");
        break;
    case IR_LOG_SOFTMAX:
        r = LLVMBuildFSub(c->b, d, s->k, "");
        break;
    case IR_SOFTMAX_GRAD: /* y (dy - sum(dy y)) */
        r = LLVMBuildFMul(c->b, x, LLVMBuildFSub(c->b, load(s, s->b, i, mask), s->k, ""), "");
        break;
    default: /* IR_LOG_SOFTMAX_GRAD: dy - exp(y) sum(dy) */
        r = LLVMBuildFSub(c->b, load(s, s->b, i, mask),
                          LLVMBuildFMul(c->b, cc_vm_exp_f32(c, x), s->k, ""), "");
        break;
    }
    store_result(s, LLVMBuildFPTrunc(c->b, r, c->vf32, ""), i, mask);
}

/* The results of the lanes. Stored past the caches, the row starts with
   the elements before the first vector-aligned address, masked. */
static void results(cc_rows *s)
{
    cc_ctx *c = s->l->c;
    if (!s->nt) {
        pass(s, result_pass);
        return;
    }
    LLVMValueRef at = LLVMBuildGEP2(c->b, c->f32, s->out, &s->base, 1, "");
    LLVMValueRef addr = LLVMBuildPtrToInt(c->b, at, c->i64, "");
    LLVMValueRef bytes = LLVMBuildAnd(c->b, LLVMBuildNeg(c->b, addr, ""),
                                      cc_i64(c, 4 * (long long)c->width - 1), "");
    LLVMValueRef head = LLVMBuildLShr(c->b, bytes, cc_i64(c, 2), "");
    head = cc_select(c, LLVMBuildICmp(c->b, LLVMIntSLT, head, s->len, ""), head, s->len);
    result_pass(s, s->base, cc_mask(c, cc_i64(c, 0), head), cc_i64(c, 0));
    cc_rows t = *s;
    t.base = LLVMBuildAdd(c->b, s->base, head, "");
    t.len = LLVMBuildSub(c->b, s->len, head, "");
    if (t.scratch)
        t.scratch = scratch_plus(s, head);
    pass(&t, result_pass);
}

void cc_rows_compute(cc_rows *s, int n)
{
    cc_ctx *c = s->l->c;
    for (int k = 0; k < n && is_forward(s->op); k++) {
        LLVMBuildStore(c->b, cc_const(c, c->vf32, -INFINITY), s[k].m);
        pass(&s[k], max_pass);
    }
    for (int k = 0; k < n && is_forward(s->op); k++) {
        s[k].mf = per_lane(&s[k], LLVMBuildLoad2(c->b, c->vf32, s[k].m, ""), fmax_of);
        s[k].m = LLVMBuildFPExt(c->b, s[k].mf, c->vf64, "");
    }
    for (int k = 0; k < n; k++) {
        for (int a = 0; a < CC_NSUMS; a++)
            if (s[k].acc[a])
                LLVMBuildStore(c->b, cc_const(c, c->vf64, 0), s[k].acc[a]);
        for (int a = 0; a < 2 && s[k].f32; a++)
            LLVMBuildStore(c->b, cc_const(c, c->vf32, a ? 0 : 0x1p64), s[k].sum_f[a]);
        pass(&s[k], sum_pass);
    }
    for (int k = 0; k < n; k++)
        after_sums(&s[k]);
    for (int k = 0; k < n && (s->out || s->out_t); k++)
        results(&s[k]);
}

void cc_rows_slots(cc_rows *s)
{
    cc_ctx *c = s->l->c;
    for (int a = 0; a < 2 && s->f32; a++)
        s->sum_f[a] = cc_entry_alloca(c, c->vf32);
    s->m = cc_entry_alloca(c, c->vf32);
    s->acc[CC_SUM_E] = cc_entry_alloca(c, c->vf64);
    if (takes_log(s))
        s->acc[CC_SUM_TOP] = cc_entry_alloca(c, c->vf64);
    if (s->op == IR_SCE && s->b)
        s->acc[CC_SUM_T] = cc_entry_alloca(c, c->vf64);
    if (s->total)
        s->acc[CC_SUM_TD] = cc_entry_alloca(c, c->vf64);
}
