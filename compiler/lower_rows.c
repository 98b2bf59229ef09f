/* lower_rows.c -- the row kernels over a tensor: rows along the last axis
   (several at a time when short, in the fewest lanes they need; results of
   16 MB and more stored past the caches), or neighbouring rows side by side
   along another axis; memory for the exps a row keeps; the loss's mean.
   The passes themselves are in compiler/lower_softmax.c. */
#include "cc.h"

enum {
    MAX_AT_ONCE = 4,   /* rows computed side by side when short */
    LIBRARY_ROWS = 128 /* rows of a known length below this run the library's softmax */
};

/* Across the axis: the lanes in [in, in + width) of an outer index. */
static void across_lanes(void *arg, LLVMValueRef in, LLVMValueRef mask)
{
    cc_rows *s = arg, t = *s; /* the max slot is reused by every set of cc_rows */
    t.base = LLVMBuildAdd(s->l->c->b, s->start, in, "");
    t.lane_mask = mask;
    cc_rows_compute(&t, 1);
}

/* The rows of `rows` x s->len along the last axis, in sets of `per` rows
   from first (s[k] computes row first + k). */
static void some_rows(cc_rows *s, int per, LLVMValueRef first)
{
    cc_ctx *c = s->l->c;
    cc_rows t[MAX_AT_ONCE];
    for (int k = 0; k < per; k++) {
        t[k] = s[k];
        t[k].base = LLVMBuildMul(c->b, LLVMBuildAdd(c->b, first, cc_i64(c, k), ""), s->len, "");
    }
    cc_rows_compute(t, per);
}

/* The rows of `rows` x s->len, per at a time (s[0..per) each has its own
   slots and scratch). */
static void rows_along(cc_rows *s, LLVMValueRef rows, int per)
{
    cc_ctx *c = s->l->c;
    LLVMValueRef step = cc_i64(c, per);
    LLVMValueRef whole = LLVMBuildSub(c->b, rows, LLVMBuildSRem(c->b, rows, step, ""), "");
    cc_loop r;
    cc_loop_begin(c, &r, cc_i64(c, 0), whole, step);
    some_rows(s, per, r.i);
    cc_loop_end(c, &r);
    if (per == 1)
        return;
    cc_loop_begin(c, &r, whole, rows, cc_i64(c, 1));
    some_rows(s, 1, r.i);
    cc_loop_end(c, &r);
}

/* Results of NT_BYTES and more are stored past the caches (8 bytes of
   memory traffic an element for softmax instead of 12, the write no
   longer reading the line first): they are larger than the caches of a
   core, and whoever reads them next reads them from memory anyway. Rows of
   a known length below NT_ROW are not worth the second version of the
   code. */
enum { NT_BYTES = 1 << 24, NT_ROW = 1024 };

static void rows_along_nt(cc_rows *s, LLVMValueRef rows, int per)
{
    cc_ctx *c = s->l->c;
    if (!s->out || (LLVMIsConstant(s->len) && LLVMConstIntGetSExtValue(s->len) < NT_ROW)) {
        rows_along(s, rows, per);
        return;
    }
    LLVMValueRef n = LLVMBuildMul(c->b, rows, s->len, "");
    LLVMValueRef big = LLVMBuildICmp(c->b, LLVMIntSGE, n, cc_i64(c, NT_BYTES / 4), "");
    LLVMValueRef fn = LLVMGetBasicBlockParent(LLVMGetInsertBlock(c->b));
    LLVMBasicBlockRef yes = LLVMAppendBasicBlockInContext(c->ctx, fn, "nt");
    LLVMBasicBlockRef no = LLVMAppendBasicBlockInContext(c->ctx, fn, "cached");
    LLVMBasicBlockRef after = LLVMAppendBasicBlockInContext(c->ctx, fn, "stored");
    LLVMBuildCondBr(c->b, big, yes, no);
    for (int nt = 1; nt >= 0; nt--) {
        LLVMPositionBuilderAtEnd(c->b, nt ? yes : no);
        cc_rows t[MAX_AT_ONCE];
        for (int k = 0; k < per; k++) {
            t[k] = s[k];
            t[k].nt = nt;
        }
        rows_along(t, rows, per);
        if (nt) /* weakly ordered stores: visible before the entry returns */
            LLVMBuildFence(c->b, LLVMAtomicOrderingSequentiallyConsistent, false, "");
        LLVMBuildBr(c->b, after);
    }
    LLVMPositionBuilderAtEnd(c->b, after);
}

/* Pointers of the kernel of v. */
static void lanes_init(cc_rows *s, cc_lower *l, const ir_value *v)
{
    *s = (cc_rows){.l = l, .op = v->op, .a = l->buf[v->args[0]->id]};
    s->b = v->nargs > 1 ? l->buf[v->args[1]->id] : NULL;
    s->out = l->buf[v->id];
}

/* softmax_cross_entropy's kernel computes the members of job j: the
   loss's total, the logits' and the target's gradients, each with dL /
   rows of its own. */
static void loss_init(cc_rows *s, cc_lower *l, const cc_loss_job *j, LLVMValueRef rows)
{
    cc_ctx *c = l->c;
    if (j->op != IR_SCE) { /* softmax or log_softmax */
        *s = (cc_rows){.l = l, .op = j->op, .a = j->x, .out = j->out[0]};
        return;
    }
    *s = (cc_rows){.l = l, .op = IR_SCE, .a = j->x, .out = j->out[1], .out_t = j->out[2]};
    /* the target's gradient alone does not read t */
    s->b = j->out[0] || j->out[1] ? j->t : NULL;
    s->total = j->out[0] ? cc_acc(l, 0) : NULL;
    for (int k = 1; k < 3; k++) {
        if (!j->out[k])
            continue;
        LLVMValueRef dl = k == 2 ? LLVMBuildFNeg(c->b, j->dl[k], "") : j->dl[k];
        *(k == 1 ? &s->scale : &s->scale_t) = cc_splat(c, LLVMBuildFDiv(c->b, dl, rows, ""));
    }
}

/* Rows known to fit in a vector are each a short chain of dependent steps
   (max, exp, sum, divide): several at a time, interleaved, the core
   overlaps the chains. As many as keep the code that of 4 rows of 16 lanes
   at most: fewer in fewer lanes, where the rows are cheap anyway. The
   loss's rows go one at a time: they are a small part of a training step
   (bench/mlp784.act at batch 64: 743 us a step either way), and 4 of them
   side by side, in double lanes, took 100 of its first compile's 170 ms. */
static int rows_at_once(const cc_rows *s)
{
    cc_ctx *c = s->l->c;
    if (s->op == IR_SCE)
        return 1;
    bool short_rows = s->along && LLVMIsConstant(s->len) &&
                      LLVMConstIntGetSExtValue(s->len) <= (long long)c->width;
    return short_rows ? (int)(c->width / 4 < MAX_AT_ONCE ? c->width / 4 : MAX_AT_ONCE) : 1;
}

/* The lanes a row of len (a constant) needs, at least 4: a short row
   computed in fewer lanes is less work and less code. */
static unsigned lanes_for(const cc_ctx *c, LLVMValueRef len)
{
    if (!LLVMIsConstant(len))
        return c->width;
    unsigned w = 4;
    while (w < c->width && (long long)w < LLVMConstIntGetSExtValue(len))
        w *= 2;
    return w;
}

/* The kernel of v (or of loss job j) in l's lanes, outer x len x inner
   around its axis. */
static void lower_rows(cc_lower *l, const ir_value *v, const cc_loss_job *j, LLVMValueRef outer,
                       LLVMValueRef len, LLVMValueRef inner, bool along, bool one_vector)
{
    cc_ctx *c = l->c;
    cc_rows s[MAX_AT_ONCE];
    LLVMValueRef rows = LLVMBuildSIToFP(c->b, outer, c->f64, "");
    if (j)
        loss_init(&s[0], l, j, rows);
    else
        lanes_init(&s[0], l, v);
    s[0].len = len;
    s[0].step = inner;
    s[0].along = along;
    s[0].one_vector = one_vector;
    int per = rows_at_once(&s[0]);
    /* short rows computed several at a time gain nothing in float lanes:
       their chains grow longer */
    s[0].f32 = along && per == 1 && s[0].op == IR_SOFTMAX && cc_vm_has_expf_pair(c);
    LLVMValueRef raw = NULL, each = LLVMBuildAdd(c->b, s[0].len, cc_i64(c, c->width), "");
    s[0].lo_at = each; /* floats: a row of doubles holds both parts */
    if (s[0].along && (s[0].op == IR_SOFTMAX || (s[0].op == IR_SCE && s[0].out))) {
        LLVMValueRef bytes = LLVMBuildMul(c->b, each, cc_i64(c, 8 * per), "");
        raw = cc_mem_take(l, bytes);
        s[0].scratch = LLVMBuildBitCast(c->b, raw, LLVMPointerType(c->f64, 0), "");
    }
    for (int k = 1; k < per; k++) {
        s[k] = s[k - 1];
        if (s[k].scratch)
            s[k].scratch = LLVMBuildGEP2(c->b, c->f64, s[k - 1].scratch, &each, 1, "");
    }
    for (int k = 0; k < per; k++)
        cc_rows_slots(&s[k]);
    if (s[0].along) {
        rows_along_nt(s, outer, per);
    } else {
        cc_loop o;
        cc_loop_begin(c, &o, cc_i64(c, 0), outer, cc_i64(c, 1));
        s[0].start = LLVMBuildMul(c->b, LLVMBuildMul(c->b, o.i, s[0].len, ""), inner, "");
        cc_vector_loop(c, inner, across_lanes, &s[0]);
        cc_loop_end(c, &o);
    }
    if (raw)
        cc_mem_give(l, raw);
    if (s[0].total) {
        LLVMValueRef mean = LLVMBuildFDiv(c->b, cc_get(l, s[0].total), rows, "");
        cc_store1(c, LLVMBuildFPTrunc(c->b, mean, c->f32, ""), j->out[0], cc_i64(c, 0));
    }
}

/* v's kernel, or job j's (rows along the last axis), in lanes as few as its
   rows need; a softmax along rows of a known length of a few vectors or
   more in two interleaved vectors of AVX2 (cc_vector_loop_interleaved's
   reasons): forward 256 x 1000 0.71 -> 0.87 of the best peer, 256 x 32000
   0.88 -> 1.12 (five interleaved runs). Rows of a length known at run
   time (the library's softmax) take rows of 16 floats or fewer (a
   classifier's 10) as one vector of two of AVX2's: each pass one masked
   vector instead of a loop and its masked tail, 256 x 10 0.79 -> 0.94-1.0
   of the best peer (eight interleaved runs; libact 12 KB larger). */
static void lower_in_lanes(cc_lower *l, const ir_value *v, const cc_loss_job *j, LLVMValueRef outer,
                           LLVMValueRef len, LLVMValueRef inner, bool along)
{
    cc_ctx *c = l->c, narrow = *c, wide = *c;
    cc_lower nl = *l, wl = *l;
    nl.c = &narrow;
    wl.c = &wide;
    cc_ctx_set_width(&wide, cc_interleaved_width(c));
    bool softmax = along && (j ? j->op : v->op) == IR_SOFTMAX && cc_vm_has_expf_pair(c) &&
                   wide.width > c->width;
    bool known = LLVMIsConstant(len);
    if (along && lanes_for(c, len) < c->width) {
        cc_ctx_set_width(&narrow, lanes_for(c, len));
    } else if (softmax && known && LLVMConstIntGetSExtValue(len) >= 64) {
        narrow = wide;
    } else if (softmax && !known) {
        LLVMValueRef fits = LLVMBuildICmp(c->b, LLVMIntSLE, len, cc_i64(c, wide.width), "");
        LLVMBasicBlockRef longer = cc_if_then(c, fits); /* the else branch */
        lower_rows(&wl, v, j, outer, len, inner, along, true);
        LLVMBasicBlockRef after = LLVMAppendBasicBlockInContext(
            c->ctx, LLVMGetBasicBlockParent(LLVMGetInsertBlock(c->b)), "rows");
        cc_end_if(c, after);
        LLVMPositionBuilderAtEnd(c->b, longer);
        lower_rows(&nl, v, j, outer, len, inner, along, false);
        cc_end_if(c, after);
        c->scalar_loops |= wide.scalar_loops | narrow.scalar_loops;
        return;
    }
    lower_rows(&nl, v, j, outer, len, inner, along, false);
    c->scalar_loops |= narrow.scalar_loops;
}

void cc_lower_rows(cc_lower *l, const ir_value *v)
{
    const ir_value *x = v->args[0];
    bool along = (int)v->attr[0] == -1 || (int)v->attr[0] == x->shape.rank - 1;
    LLVMValueRef outer, len, inner;
    cc_axis_split(l, x, v->attr[0], &outer, &len, &inner);
    cc_loss_job j = {
        .op = v->op, .x = l->buf[x->id], .out = {l->buf[v->id]}, .rows = outer, .len = len};
    /* the library's kernel, but for long rows of a known length, whose
       loops the JIT's kernel knows (1000 floats: 1.1 Gelem/s against 0.7) */
    bool known_long = LLVMIsConstant(len) && LLVMConstIntGetSExtValue(len) >= LIBRARY_ROWS;
    if (along && !known_long && (v->op == IR_SOFTMAX || v->op == IR_LOG_SOFTMAX) &&
        cc_library_rows(l, &j))
        return;
    lower_in_lanes(l, v, NULL, outer, len, inner, along);
}

void cc_lower_row_job(cc_lower *l, const cc_loss_job *j)
{
    lower_in_lanes(l, NULL, j, j->rows, j->len, cc_i64(l->c, 1), true);
}
