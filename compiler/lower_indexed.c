/* lower_indexed.c -- ops whose lanes need their index: numpy broadcasting
   of add and mul, its reverse (sum_to), prelu and rrelu (per channel, per
   element), maxout, and their gradients. Scalar loops in double, which
   LLVM's O2 vectorises (cc_ctx.scalar_loops). */
#include "cc.h"

/* Dims of v right-aligned to rank 4 (leading 1s) and their C-order strides. */
static void padded(cc_lower *l, const ir_value *v, LLVMValueRef dims[4], LLVMValueRef strides[4])
{
    cc_ctx *c = l->c;
    LLVMValueRef d[IR_MAX_RANK];
    cc_dims(l, v, d);
    int r = v->shape.rank;
    for (int k = 0; k < 4; k++)
        dims[k] = k < 4 - r ? cc_i64(c, 1) : d[k - (4 - r)];
    LLVMValueRef s = cc_i64(c, 1);
    for (int k = 3; k >= 0; k--) {
        strides[k] = s;
        s = LLVMBuildMul(c->b, s, dims[k], "");
    }
}

/* A dim of v (right-aligned to rank 4) that is the literal 1 or missing:
   broadcast along it. */
static bool is_one(const ir_value *v, int k)
{
    int d = k - (4 - v->shape.rank);
    return d < 0 || (!v->shape.sym[d] && v->shape.dim[d] == 1);
}

static LLVMValueRef offset(cc_lower *l, const cc_loop *lp, const int *order, int n,
                           LLVMValueRef *strides, const ir_value *v)
{
    LLVMValueRef o = cc_i64(l->c, 0);
    for (int k = 0; k < n; k++)
        if (!v || !is_one(v, order[k]))
            o = LLVMBuildAdd(l->c->b, o, LLVMBuildMul(l->c->b, lp[k].i, strides[order[k]], ""), "");
    return o;
}

/* add or mul with broadcasting: out index -> operand offsets (stride 0
   along the dims an operand broadcasts). */
static void broadcast(cc_lower *l, const ir_value *v)
{
    cc_ctx *c = l->c;
    const ir_value *a = v->args[0], *b = v->args[1];
    LLVMValueRef dims[4], so[4], da[4], sa[4], db[4], sb[4];
    padded(l, v, dims, so);
    padded(l, a, da, sa);
    padded(l, b, db, sb);
    static const int order[4] = {0, 1, 2, 3};
    cc_loop lp[4];
    for (int k = 0; k < 4; k++)
        cc_loop_begin(c, &lp[k], cc_i64(c, 0), dims[k], cc_i64(c, 1));
    LLVMValueRef x = cc_ld(l, a, offset(l, lp, order, 4, sa, a));
    LLVMValueRef y = cc_ld(l, b, offset(l, lp, order, 4, sb, b));
    LLVMValueRef r =
        v->op == IR_MUL ? LLVMBuildFMul(c->b, x, y, "") : LLVMBuildFAdd(c->b, x, y, "");
    cc_st(l, v, offset(l, lp, order, 4, so, NULL), r);
    for (int k = 3; k >= 0; k--)
        cc_loop_end(c, &lp[k]);
}

typedef struct {
    cc_ctx *c;
    LLVMValueRef g, out, rows, cols, acc; /* acc: a <width x double> slot */
} col_sums;

/* out[j ..] = the sums over the rows of g[rows, cols] at columns j .. */
static void col_sum_lanes(void *arg, LLVMValueRef j, LLVMValueRef mask)
{
    col_sums *s = arg;
    cc_ctx *c = s->c;
    LLVMBuildStore(c->b, LLVMConstNull(c->vf64), s->acc);
    cc_loop r;
    cc_loop_begin(c, &r, cc_i64(c, 0), s->rows, cc_i64(c, 1));
    LLVMValueRef x =
        cc_load(c, s->g, LLVMBuildAdd(c->b, LLVMBuildMul(c->b, r.i, s->cols, ""), j, ""), mask);
    LLVMValueRef sum = LLVMBuildFAdd(c->b, LLVMBuildLoad2(c->b, c->vf64, s->acc, ""),
                                     LLVMBuildFPExt(c->b, x, c->vf64, ""), "");
    LLVMBuildStore(c->b, sum, s->acc);
    cc_loop_end(c, &r);
    LLVMValueRef y = LLVMBuildFPTrunc(c->b, LLVMBuildLoad2(c->b, c->vf64, s->acc, ""), c->vf32, "");
    cc_store(c, y, s->out, j, mask);
}

void cc_col_sums(cc_ctx *c, LLVMValueRef g, LLVMValueRef rows, LLVMValueRef cols, LLVMValueRef out)
{
    col_sums s = {c, g, out, rows, cols, cc_entry_alloca(c, c->vf64)};
    cc_vector_loop(c, cols, col_sum_lanes, &s);
}

/* The gradient g summed over the dims along which v's argument was
   broadcast: kept dims outside, summed dims inside, one double sum each.
   When the summed dims are all leading (a bias's gradient), a vector of
   columns at a time, each column's sum in the same order: the scalar loop
   ran one add chain a column, 27 us of the MLP's step at batch 64. */
static void sum_to(cc_lower *l, const ir_value *v)
{
    cc_ctx *c = l->c;
    const ir_value *g = v->args[0];
    LLVMValueRef dg[4], sg[4], dt[4], st[4];
    padded(l, g, dg, sg);
    padded(l, v, dt, st);
    bool leading = true, kept = false;
    for (int k = 0; k < 4; k++) {
        leading = leading && !(kept && is_one(v, k) && !is_one(g, k));
        kept = kept || !is_one(v, k);
    }
    if (leading) { /* in the library where the JIT has it, as the losses */
        LLVMValueRef cols = cc_numel(l, v), rows = cc_div0(c, cc_numel(l, g), cols, false);
        cc_lower_col_sums(l, l->buf[g->id], rows, cols, l->buf[v->id]);
        return;
    }
    c->scalar_loops = true;
    int order[4], nkept = 0, n = 0;
    for (int k = 0; k < 4; k++)
        if (!is_one(v, k) || is_one(g, k))
            order[n++] = k, nkept++;
    for (int k = 0; k < 4; k++)
        if (is_one(v, k) && !is_one(g, k))
            order[n++] = k;
    cc_loop lp[4];
    for (int k = 0; k < nkept; k++)
        cc_loop_begin(c, &lp[k], cc_i64(c, 0), dg[order[k]], cc_i64(c, 1));
    LLVMValueRef acc = cc_acc(l, 0);
    for (int k = nkept; k < 4; k++)
        cc_loop_begin(c, &lp[k], cc_i64(c, 0), dg[order[k]], cc_i64(c, 1));
    cc_set(l, acc,
           LLVMBuildFAdd(c->b, cc_get(l, acc), cc_ld(l, g, offset(l, lp, order, 4, sg, NULL)), ""));
    for (int k = 3; k >= nkept; k--)
        cc_loop_end(c, &lp[k]);
    cc_st(l, v, offset(l, lp, order, nkept, st, v), cc_get(l, acc));
    for (int k = nkept - 1; k >= 0; k--)
        cc_loop_end(c, &lp[k]);
}

/* SplitMix64's finaliser, as runtime/rng.c documents the generator. */
static LLVMValueRef mix64(cc_ctx *c, LLVMValueRef z)
{
    static const unsigned long long m[2] = {0xbf58476d1ce4e5b9ULL, 0x94d049bb133111ebULL};
    static const unsigned shifts[3] = {30, 27, 31};
    for (int k = 0; k < 3; k++) {
        z = LLVMBuildXor(c->b, z, LLVMBuildLShr(c->b, z, LLVMConstInt(c->i64, shifts[k], 0), ""),
                         "");
        if (k < 2)
            z = LLVMBuildMul(c->b, z, LLVMConstInt(c->i64, m[k], 0), "");
    }
    return z;
}

/* rrelu's negative slope for element i: (lower + upper) / 2, or with
   training = 1 lower + (upper - lower) * u(seed, i). */
static LLVMValueRef rrelu_slope(cc_lower *l, const ir_value *v, LLVMValueRef i)
{
    cc_ctx *c = l->c;
    double lo = v->attr[0], hi = v->attr[1];
    if (v->attr[2] == 0)
        return cc_f64(l, (lo + hi) / 2);
    LLVMValueRef s =
        mix64(c, LLVMConstInt(c->i64, (unsigned long long)v->attr[3] ^ 0x243f6a8885a308d3ULL, 0));
    LLVMValueRef u = mix64(
        c, LLVMBuildAdd(c->b, s,
                        LLVMBuildMul(c->b, i, LLVMConstInt(c->i64, 0x9e3779b97f4a7c15ULL, 0), ""),
                        ""));
    LLVMValueRef f =
        LLVMBuildUIToFP(c->b, LLVMBuildLShr(c->b, u, LLVMConstInt(c->i64, 11, 0), ""), c->f64, "");
    f = LLVMBuildFMul(c->b, f, cc_f64(l, 0x1p-53), "");
    return LLVMBuildFAdd(c->b, cc_f64(l, lo), LLVMBuildFMul(c->b, cc_f64(l, hi - lo), f, ""), "");
}

static LLVMValueRef positive(cc_lower *l, LLVMValueRef x)
{
    return LLVMBuildFCmp(l->c->b, LLVMRealOGT, x, cc_f64(l, 0), "");
}

/* d slope[ch] = sum of x * dy over the elements of channel ch where x <= 0,
   summed in double per channel, stored once. */
static void prelu_grad_slope(cc_lower *l, const ir_value *v)
{
    cc_ctx *c = l->c;
    const ir_value *x = v->args[0], *dy = v->args[1];
    LLVMValueRef channels = cc_numel(l, v);
    LLVMValueRef rows = cc_div0(c, cc_numel(l, x), channels, false);
    LLVMValueRef acc = cc_acc(l, 0);
    cc_loop ch, r;
    cc_loop_begin(c, &ch, cc_i64(c, 0), channels, cc_i64(c, 1));
    cc_set(l, acc, cc_f64(l, 0));
    cc_loop_begin(c, &r, cc_i64(c, 0), rows, cc_i64(c, 1));
    LLVMValueRef i = LLVMBuildAdd(c->b, LLVMBuildMul(c->b, r.i, channels, ""), ch.i, "");
    LLVMValueRef xi = cc_ld(l, x, i), term = LLVMBuildFMul(c->b, xi, cc_ld(l, dy, i), "");
    term = cc_select(c, positive(l, xi), cc_f64(l, 0), term);
    cc_set(l, acc, LLVMBuildFAdd(c->b, cc_get(l, acc), term, ""));
    cc_loop_end(c, &r);
    cc_st(l, v, ch.i, cc_get(l, acc));
    cc_loop_end(c, &ch);
}

/* prelu, rrelu and their gradients: y = x > 0 (or NaN) ? x : slope * x. */
static void leaky(cc_lower *l, const ir_value *v)
{
    cc_ctx *c = l->c;
    const ir_value *x = v->args[0];
    bool prelu = v->op == IR_PRELU || v->op == IR_PRELU_GRAD_X;
    const ir_value *slope = prelu ? v->args[1] : NULL;
    LLVMValueRef channels = slope ? cc_numel(l, slope) : NULL;
    cc_loop i;
    cc_loop_begin(c, &i, cc_i64(c, 0), cc_numel(l, x), cc_i64(c, 1));
    LLVMValueRef ch = slope ? cc_div0(c, i.i, channels, true) : NULL;
    LLVMValueRef xi = cc_ld(l, x, i.i), pos = positive(l, xi);
    LLVMValueRef s = slope ? cc_ld(l, slope, ch) : rrelu_slope(l, v, i.i);
    switch (v->op) {
    case IR_PRELU:
    case IR_RRELU: {
        LLVMValueRef keep =
            LLVMBuildOr(c->b, pos, LLVMBuildFCmp(c->b, LLVMRealUNO, xi, xi, ""), "");
        cc_st(l, v, i.i, cc_select(c, keep, xi, LLVMBuildFMul(c->b, s, xi, "")));
        break;
    }
    default: { /* IR_PRELU_GRAD_X (x, slope, dy), IR_RRELU_GRAD (x, dy) */
        LLVMValueRef dy = cc_ld(l, v->args[v->op == IR_PRELU_GRAD_X ? 2 : 1], i.i);
        cc_st(l, v, i.i, cc_select(c, pos, dy, LLVMBuildFMul(c->b, s, dy, "")));
        break;
    }
    }
    cc_loop_end(c, &i);
}

/* maxout and its gradient: the first maximal element of each group of k,
   a NaN winning. */
static void maxout(cc_lower *l, const ir_value *v)
{
    cc_ctx *c = l->c;
    const ir_value *x = v->args[0];
    LLVMValueRef k = cc_i64(c, (int64_t)v->attr[0]);
    LLVMValueRef groups = LLVMBuildSDiv(c->b, cc_numel(l, x), k, "");
    if (v->op == IR_MAXOUT_GRAD)
        cc_zero(l, v);
    LLVMValueRef best = cc_acc(l, 0); /* index, kept as a double */
    cc_loop g, j;
    cc_loop_begin(c, &g, cc_i64(c, 0), groups, cc_i64(c, 1));
    LLVMValueRef base = LLVMBuildMul(c->b, g.i, k, "");
    cc_set(l, best, cc_f64(l, 0));
    cc_loop_begin(c, &j, cc_i64(c, 1), k, cc_i64(c, 1));
    LLVMValueRef bi = LLVMBuildFPToSI(c->b, cc_get(l, best), c->i64, "");
    LLVMValueRef xb = cc_ld(l, x, LLVMBuildAdd(c->b, base, bi, ""));
    LLVMValueRef xj = cc_ld(l, x, LLVMBuildAdd(c->b, base, j.i, ""));
    LLVMValueRef nan_j = LLVMBuildFCmp(c->b, LLVMRealUNO, xj, xj, "");
    LLVMValueRef num_b = LLVMBuildFCmp(c->b, LLVMRealORD, xb, xb, "");
    LLVMValueRef take = LLVMBuildOr(c->b, LLVMBuildFCmp(c->b, LLVMRealOGT, xj, xb, ""),
                                    LLVMBuildAnd(c->b, nan_j, num_b, ""), "");
    cc_set(l, best, cc_select(c, take, LLVMBuildSIToFP(c->b, j.i, c->f64, ""), cc_get(l, best)));
    cc_loop_end(c, &j);
    LLVMValueRef at =
        LLVMBuildAdd(c->b, base, LLVMBuildFPToSI(c->b, cc_get(l, best), c->i64, ""), "");
    if (v->op == IR_MAXOUT)
        cc_st(l, v, g.i, cc_ld(l, x, at));
    else
        cc_st(l, v, at, cc_ld(l, v->args[1], g.i));
    cc_loop_end(c, &g);
}

void cc_lower_indexed(cc_lower *l, const ir_value *v)
{
    if (v->op != IR_SUM_TO) /* sum_to says for itself */
        l->c->scalar_loops = true;
    switch (v->op) {
    case IR_ADD:
    case IR_MUL:
        broadcast(l, v);
        break;
    case IR_SUM_TO:
        sum_to(l, v);
        break;
    case IR_MAXOUT:
    case IR_MAXOUT_GRAD:
        maxout(l, v);
        break;
    case IR_PRELU_GRAD_SLOPE:
        prelu_grad_slope(l, v);
        break;
    default:
        leaky(l, v);
        break;
    }
}
