/* loop.c -- counted loops, masks and (masked) vector loads and stores. */
#include "cc.h"

LLVMValueRef cc_i64(cc_ctx *c, int64_t v)
{
    return LLVMConstInt(c->i64, (unsigned long long)v, true);
}

void cc_loop_begin(cc_ctx *c, cc_loop *l, LLVMValueRef start, LLVMValueRef end, LLVMValueRef step)
{
    LLVMValueRef fn = LLVMGetBasicBlockParent(LLVMGetInsertBlock(c->b));
    LLVMBasicBlockRef pre = LLVMGetInsertBlock(c->b);
    l->head = LLVMAppendBasicBlockInContext(c->ctx, fn, "loop");
    LLVMBasicBlockRef body = LLVMAppendBasicBlockInContext(c->ctx, fn, "body");
    l->exit = LLVMAppendBasicBlockInContext(c->ctx, fn, "done");
    l->step = step;
    LLVMBuildBr(c->b, l->head);
    LLVMPositionBuilderAtEnd(c->b, l->head);
    l->i = LLVMBuildPhi(c->b, c->i64, "i");
    LLVMAddIncoming(l->i, &start, &pre, 1);
    LLVMBuildCondBr(c->b, LLVMBuildICmp(c->b, LLVMIntSLT, l->i, end, ""), body, l->exit);
    LLVMPositionBuilderAtEnd(c->b, body);
}

void cc_loop_end(cc_ctx *c, cc_loop *l)
{
    LLVMValueRef next = LLVMBuildAdd(c->b, l->i, l->step, "");
    LLVMBasicBlockRef from = LLVMGetInsertBlock(c->b);
    LLVMBuildBr(c->b, l->head);
    LLVMAddIncoming(l->i, &next, &from, 1);
    LLVMPositionBuilderAtEnd(c->b, l->exit);
}

LLVMBasicBlockRef cc_if_then(cc_ctx *c, LLVMValueRef cond)
{
    LLVMValueRef fn = LLVMGetBasicBlockParent(LLVMGetInsertBlock(c->b));
    LLVMBasicBlockRef then = LLVMAppendBasicBlockInContext(c->ctx, fn, "then");
    LLVMBasicBlockRef join = LLVMAppendBasicBlockInContext(c->ctx, fn, "endif");
    LLVMBuildCondBr(c->b, cond, then, join);
    LLVMPositionBuilderAtEnd(c->b, then);
    return join;
}

void cc_end_if(cc_ctx *c, LLVMBasicBlockRef join)
{
    LLVMBuildBr(c->b, join);
    LLVMPositionBuilderAtEnd(c->b, join);
}

LLVMValueRef cc_lanes(cc_ctx *c)
{
    LLVMValueRef lanes[64];
    for (unsigned k = 0; k < c->width; k++)
        lanes[k] = LLVMConstInt(c->i64, k, false);
    return LLVMConstVector(lanes, c->width);
}

LLVMValueRef cc_splat(cc_ctx *c, LLVMValueRef scalar)
{
    LLVMTypeRef vt = LLVMVectorType(LLVMTypeOf(scalar), c->width);
    LLVMValueRef v =
        LLVMBuildInsertElement(c->b, LLVMGetUndef(vt), scalar, LLVMConstInt(c->i32, 0, false), "");
    LLVMValueRef zeros = LLVMConstNull(LLVMVectorType(c->i32, c->width));
    return LLVMBuildShuffleVector(c->b, v, LLVMGetUndef(vt), zeros, "");
}

LLVMValueRef cc_mask(cc_ctx *c, LLVMValueRef i, LLVMValueRef n)
{
    LLVMValueRef idx = LLVMBuildAdd(c->b, cc_splat(c, i), cc_lanes(c), "");
    return LLVMBuildICmp(c->b, LLVMIntSLT, idx, cc_splat(c, n), "");
}

static LLVMValueRef vector_ptr(cc_ctx *c, LLVMValueRef base, LLVMValueRef i)
{
    LLVMValueRef p = LLVMBuildGEP2(c->b, c->f32, base, &i, 1, "");
    return LLVMBuildBitCast(c->b, p, LLVMPointerType(c->vf32, 0), "");
}

/* ---- one body for whole vectors and the last, partial one --------------- */

enum { ONCE_ARRAYS = 64 }; /* arrays beyond these are read and written masked */

/* The loop of cc_vector_loop_once being built. Each array the body reads
   or writes at i is reached through a phi: the array itself in the passes
   over whole vectors, and in the last pass a vector on the stack less i
   floats, so that phi + i is that vector. It is filled with the array's
   last lanes before that pass (when read) and copied back to them after it
   (when written). */
struct cc_once {
    LLVMBasicBlockRef pre, head; /* the block the loop starts from, the body's first */
    LLVMValueRef i, last, lanes; /* index, in the last pass, the lanes below n */
    int n;
    struct {
        LLVMValueRef base, at, copy; /* the array, its phi, the stack vector */
        bool read, written;
    } a[ONCE_ARRAYS];
};

/* Whether v dominates the loop of o: an argument, a constant, or an
   instruction of the function's entry block or of the block the loop
   starts from (other bases stay masked). */
static bool before_loop(const struct cc_once *o, LLVMValueRef v)
{
    if (!LLVMIsAInstruction(v))
        return true;
    LLVMBasicBlockRef in = LLVMGetInstructionParent(v);
    return in == o->pre || in == LLVMGetEntryBasicBlock(LLVMGetBasicBlockParent(in));
}

/* The pointer to the lanes of base at the loop's i, or NULL when the
   access is not one the loop redirects (then masked as usual). */
static LLVMValueRef once_ptr(cc_ctx *c, LLVMValueRef base, LLVMValueRef i, LLVMValueRef mask,
                             bool write)
{
    struct cc_once *o = c->once;
    if (!o || mask != o->lanes || i != o->i)
        return NULL;
    int k = 0;
    while (k < o->n && o->a[k].base != base)
        k++;
    if (k == o->n) {
        if (k == ONCE_ARRAYS || !before_loop(o, base))
            return NULL;
        LLVMBasicBlockRef here = LLVMGetInsertBlock(c->b);
        LLVMPositionBuilderBefore(c->b, LLVMGetFirstInstruction(o->head));
        o->a[k].at = LLVMBuildPhi(c->b, c->ptr, "at");
        LLVMPositionBuilderAtEnd(c->b, here);
        o->a[k].copy = cc_entry_alloca(c, c->vf32);
        LLVMSetAlignment(o->a[k].copy, 4 * c->width);
        o->a[k].base = base;
        o->n++;
    }
    o->a[k].read |= !write;
    o->a[k].written |= write;
    return vector_ptr(c, o->a[k].at, i);
}

bool cc_whole_lanes(cc_ctx *c, LLVMValueRef mask)
{
    return !mask || (c->once && mask == c->once->lanes);
}

/* The phis of the body's first block from the block `from`: the vector's
   index, whether it is the last pass, its lanes, and the arrays' bases. */
static void once_incoming(cc_ctx *c, struct cc_once *o, LLVMBasicBlockRef from, LLVMValueRef i,
                          bool last, LLVMValueRef lanes)
{
    LLVMValueRef flag = LLVMConstInt(c->i1, last, false);
    LLVMAddIncoming(o->i, &i, &from, 1);
    LLVMAddIncoming(o->last, &flag, &from, 1);
    LLVMAddIncoming(o->lanes, &lanes, &from, 1);
    LLVMValueRef less = last ? LLVMBuildNeg(c->b, i, "") : NULL;
    for (int k = 0; k < o->n; k++) {
        LLVMValueRef at = o->a[k].base;
        if (last) /* not inbounds: only at + i is an address */
            at = LLVMBuildGEP2(c->b, c->f32, LLVMBuildBitCast(c->b, o->a[k].copy, c->ptr, ""),
                               &less, 1, "");
        LLVMAddIncoming(o->a[k].at, &at, &from, 1);
    }
}

/* step: i = 0, i + width, ...; to the body while i < whole, then to tail
   when lanes are left: their copies filled, the body's last pass, and
   back, which copies its results to the arrays. The loop's one header is
   step, so that LLVM's loop passes see a loop. */
void cc_vector_loop_once(cc_ctx *c, LLVMValueRef n, cc_lanes_fn body, void *arg)
{
    LLVMValueRef w = cc_i64(c, c->width);
    if (LLVMIsAConstantInt(n) && LLVMConstIntGetSExtValue(n) <= (long long)c->width) {
        long long k = LLVMConstIntGetSExtValue(n); /* one vector at most: no loop */
        if (k > 0)
            body(arg, cc_i64(c, 0), k < (long long)c->width ? cc_mask(c, cc_i64(c, 0), n) : NULL);
        return;
    }
    LLVMValueRef whole = LLVMBuildSub(c->b, n, LLVMBuildSRem(c->b, n, w, ""), "");
    LLVMValueRef fn = LLVMGetBasicBlockParent(LLVMGetInsertBlock(c->b));
    LLVMValueRef all = LLVMConstAllOnes(c->vi1), zero = cc_i64(c, 0);
    LLVMBasicBlockRef pre = LLVMGetInsertBlock(c->b);
    LLVMBasicBlockRef step = LLVMAppendBasicBlockInContext(c->ctx, fn, "step");
    struct cc_once o = {.pre = pre, .head = LLVMAppendBasicBlockInContext(c->ctx, fn, "body")};
    struct cc_once *outer = c->once;
    LLVMBuildBr(c->b, step);
    LLVMPositionBuilderAtEnd(c->b, step);
    LLVMValueRef i = LLVMBuildPhi(c->b, c->i64, "i");
    LLVMAddIncoming(i, &zero, &pre, 1);
    LLVMPositionBuilderAtEnd(c->b, o.head);
    o.i = LLVMBuildPhi(c->b, c->i64, "at_i");
    o.last = LLVMBuildPhi(c->b, c->i1, "last");
    o.lanes = LLVMBuildPhi(c->b, c->vi1, "lanes");
    c->once = &o;
    body(arg, o.i, o.lanes);
    c->once = outer;
    LLVMBasicBlockRef ends = LLVMAppendBasicBlockInContext(c->ctx, fn, "ends");
    LLVMBasicBlockRef tail = LLVMAppendBasicBlockInContext(c->ctx, fn, "tail");
    LLVMBasicBlockRef back = LLVMAppendBasicBlockInContext(c->ctx, fn, "back");
    LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(c->ctx, fn, "done");
    LLVMValueRef next = LLVMBuildAdd(c->b, o.i, w, "");
    LLVMBasicBlockRef from = LLVMGetInsertBlock(c->b);
    LLVMAddIncoming(i, &next, &from, 1);
    LLVMBuildCondBr(c->b, o.last, back, step);
    LLVMPositionBuilderAtEnd(c->b, step);
    once_incoming(c, &o, step, i, false, all);
    LLVMBuildCondBr(c->b, LLVMBuildICmp(c->b, LLVMIntSLT, i, whole, ""), o.head, ends);
    LLVMPositionBuilderAtEnd(c->b, ends);
    LLVMBuildCondBr(c->b, LLVMBuildICmp(c->b, LLVMIntSLT, whole, n, ""), tail, done);
    LLVMPositionBuilderAtEnd(c->b, tail);
    LLVMValueRef lanes = cc_mask(c, whole, n);
    for (int k = 0; k < o.n; k++)
        if (o.a[k].read)
            LLVMBuildStore(c->b, cc_load(c, o.a[k].base, whole, lanes), o.a[k].copy);
    once_incoming(c, &o, tail, whole, true, lanes);
    LLVMBuildBr(c->b, o.head);
    LLVMPositionBuilderAtEnd(c->b, back);
    lanes = cc_mask(c, whole, n); /* tail's does not dominate back */
    for (int k = 0; k < o.n; k++)
        if (o.a[k].written)
            cc_store(c, LLVMBuildLoad2(c->b, c->vf32, o.a[k].copy, ""), o.a[k].base, whole, lanes);
    LLVMBuildBr(c->b, done);
    LLVMPositionBuilderAtEnd(c->b, done);
}

/* With AVX2 each IR operation of the body becomes two independent
   instructions side by side. A float-lane activation is a chain of
   dependent operations (the exp's reduction and polynomial, a division,
   the pairs' corrections: 35-90 a vector), and a Zen 3 core overlaps one
   vector's chain with the next one's only in part: a loop of 28 dependent
   FMAs a vector ran at their latency, four chains of 7 four times as fast.
   Two vectors a pass, at 262144 floats in interleaved runs of the same
   build: sigmoid 1.23x, tanh 1.27x, gelu (erf) 1.15x, silu 1.19x, elu
   1.28x, softplus 1.46x, mish 1.15x, relu 1.17x; the backward from kept
   outputs 1.05-1.4x at 4096. Four were 1.22-1.41x, but a first compile of
   gelu and mish took 62 ms instead of 26 (two: 38). A formula in double
   lanes is two vectors already: softclip gained 1.20x more, but
   examples/custom.act's first compile took 37 ms instead of 27, so those
   stay as they are (cc_chain_in_float_lanes). With AVX-512 the vectors
   stay the target's (not measured). */
unsigned cc_interleaved_width(const cc_ctx *c)
{
    return c->isa_width == 8 && c->width == 8 ? 2 * c->width : c->width;
}

void cc_vector_loop_interleaved(cc_ctx *c, LLVMValueRef n, cc_lanes_fn body, void *arg)
{
    unsigned width = c->width;
    cc_ctx_set_width(c, cc_interleaved_width(c));
    cc_vector_loop_once(c, n, body, arg);
    cc_ctx_set_width(c, width);
}

LLVMValueRef cc_load(cc_ctx *c, LLVMValueRef base, LLVMValueRef i, LLVMValueRef mask)
{
    LLVMValueRef p = once_ptr(c, base, i, mask, false);
    if (p)
        mask = NULL;
    else
        p = vector_ptr(c, base, i);
    if (!mask) {
        LLVMValueRef v = LLVMBuildLoad2(c->b, c->vf32, p, "");
        LLVMSetAlignment(v, 4);
        return v;
    }
    LLVMTypeRef types[2] = {c->vf32, LLVMPointerType(c->vf32, 0)};
    unsigned id = LLVMLookupIntrinsicID("llvm.masked.load", 16);
    LLVMValueRef fn = LLVMGetIntrinsicDeclaration(c->mod, id, types, 2);
    LLVMValueRef args[4] = {p, LLVMConstInt(c->i32, 4, false), mask, LLVMConstNull(c->vf32)};
    return LLVMBuildCall2(c->b, LLVMIntrinsicGetType(c->ctx, id, types, 2), fn, args, 4, "");
}

void cc_store_nt(cc_ctx *c, LLVMValueRef v, LLVMValueRef base, LLVMValueRef i)
{
    LLVMValueRef p = c->once ? once_ptr(c, base, i, c->once->lanes, true) : NULL;
    if (!p && c->once && i == c->once->i) {      /* an array the loop does not redirect: */
        cc_store(c, v, base, i, c->once->lanes); /* its last pass would overrun base */
        return;
    }
    if (!p)
        p = vector_ptr(c, base, i);
    LLVMValueRef st = LLVMBuildStore(c->b, v, p);
    LLVMSetAlignment(st, 4 * c->width);
    LLVMValueRef one = LLVMConstInt(c->i32, 1, false);
    unsigned kind = LLVMGetMDKindIDInContext(c->ctx, "nontemporal", 11);
    LLVMSetMetadata(st, kind, LLVMMDNodeInContext(c->ctx, &one, 1));
}

/* The first lanes of v that mask holds (cc_mask's), to p: a store of
   each power of two of their count, from a copy on the stack. In 8 lanes
   the masked store is vmaskmovps, microcoded on AMD's AVX2 cores (4-7 ns
   on Zen 3, against 1; a row of a 256 x 10 softmax stored its last 2
   lanes with it), where these are plain stores. */
static void store_first_lanes(cc_ctx *c, LLVMValueRef v, LLVMValueRef p, LLVMValueRef mask)
{
    LLVMTypeRef bits = LLVMIntTypeInContext(c->ctx, c->width);
    unsigned id = LLVMLookupIntrinsicID("llvm.ctpop", 10);
    LLVMValueRef ctpop = LLVMGetIntrinsicDeclaration(c->mod, id, &bits, 1);
    LLVMValueRef set = LLVMBuildBitCast(c->b, mask, bits, "");
    LLVMValueRef count = LLVMBuildZExt(
        c->b, LLVMBuildCall2(c->b, LLVMIntrinsicGetType(c->ctx, id, &bits, 1), ctpop, &set, 1, ""),
        c->i64, "");
    LLVMValueRef copy = cc_entry_alloca(c, c->vf32);
    LLVMBuildStore(c->b, v, copy);
    LLVMValueRef from = LLVMBuildBitCast(c->b, copy, c->ptr, "");
    LLVMValueRef to = LLVMBuildBitCast(c->b, p, c->ptr, "");
    LLVMValueRef at = cc_i64(c, 0);
    for (unsigned part = c->width; part >= 1; part /= 2) {
        LLVMValueRef has = LLVMBuildAnd(c->b, count, cc_i64(c, part), "");
        LLVMTypeRef t = part > 1 ? LLVMVectorType(c->f32, part) : c->f32;
        LLVMTypeRef tp = LLVMPointerType(t, 0);
        LLVMBasicBlockRef join = cc_if_then(c, LLVMBuildIsNotNull(c->b, has, ""));
        LLVMValueRef src =
            LLVMBuildBitCast(c->b, LLVMBuildGEP2(c->b, c->f32, from, &at, 1, ""), tp, "");
        LLVMValueRef dst =
            LLVMBuildBitCast(c->b, LLVMBuildGEP2(c->b, c->f32, to, &at, 1, ""), tp, "");
        LLVMValueRef part_v = LLVMBuildLoad2(c->b, t, src, "");
        LLVMSetAlignment(part_v, 4);
        LLVMSetAlignment(LLVMBuildStore(c->b, part_v, dst), 4);
        cc_end_if(c, join);
        at = LLVMBuildAdd(c->b, at, has, "");
    }
}

void cc_store(cc_ctx *c, LLVMValueRef v, LLVMValueRef base, LLVMValueRef i, LLVMValueRef mask)
{
    LLVMValueRef p = once_ptr(c, base, i, mask, true);
    if (p)
        mask = NULL;
    else
        p = vector_ptr(c, base, i);
    if (!mask) {
        LLVMSetAlignment(LLVMBuildStore(c->b, v, p), 4);
        return;
    }
    if (c->isa_width == 8) {
        store_first_lanes(c, v, p, mask);
        return;
    }
    LLVMTypeRef types[2] = {c->vf32, LLVMPointerType(c->vf32, 0)};
    unsigned id = LLVMLookupIntrinsicID("llvm.masked.store", 17);
    LLVMValueRef fn = LLVMGetIntrinsicDeclaration(c->mod, id, types, 2);
    LLVMValueRef args[4] = {v, p, LLVMConstInt(c->i32, 4, false), mask};
    LLVMBuildCall2(c->b, LLVMIntrinsicGetType(c->ctx, id, types, 2), fn, args, 4, "");
}

LLVMValueRef cc_load1(cc_ctx *c, LLVMValueRef base, LLVMValueRef i)
{
    LLVMValueRef p = LLVMBuildGEP2(c->b, c->f32, base, &i, 1, "");
    return LLVMBuildLoad2(c->b, c->f32, p, "");
}

void cc_store1(cc_ctx *c, LLVMValueRef v, LLVMValueRef base, LLVMValueRef i)
{
    LLVMValueRef p = LLVMBuildGEP2(c->b, c->f32, base, &i, 1, "");
    LLVMBuildStore(c->b, v, p);
}

/* The bytes of n floats, 0 for n <= 0 (an AOT caller's bad size is then
   no work, as it is for every loop). */
static LLVMValueRef bytes_of(cc_ctx *c, LLVMValueRef n)
{
    LLVMValueRef bytes = LLVMBuildMul(c->b, n, cc_i64(c, sizeof(float)), "");
    LLVMValueRef some = LLVMBuildICmp(c->b, LLVMIntSGT, n, cc_i64(c, 0), "");
    return LLVMBuildSelect(c->b, some, bytes, cc_i64(c, 0), "");
}

void cc_zero_floats(cc_ctx *c, LLVMValueRef dst, LLVMValueRef n)
{
    LLVMBuildMemSet(c->b, dst, LLVMConstInt(LLVMInt8TypeInContext(c->ctx), 0, false),
                    bytes_of(c, n), sizeof(float));
}

void cc_move_floats(cc_ctx *c, LLVMValueRef dst, LLVMValueRef src, LLVMValueRef n)
{
    LLVMBuildMemMove(c->b, dst, sizeof(float), src, sizeof(float), bytes_of(c, n));
}

LLVMValueRef cc_div0(cc_ctx *c, LLVMValueRef n, LLVMValueRef d, bool rem)
{
    LLVMValueRef zero = LLVMBuildICmp(c->b, LLVMIntEQ, d, cc_i64(c, 0), "");
    LLVMValueRef safe = LLVMBuildSelect(c->b, zero, cc_i64(c, 1), d, "");
    LLVMValueRef q = rem ? LLVMBuildSRem(c->b, n, safe, "") : LLVMBuildSDiv(c->b, n, safe, "");
    return LLVMBuildSelect(c->b, zero, cc_i64(c, 0), q, "");
}

void cc_vector_loop(cc_ctx *c, LLVMValueRef n, cc_lanes_fn body, void *arg)
{
    LLVMValueRef w = cc_i64(c, c->width);
    LLVMValueRef whole = LLVMBuildSub(c->b, n, LLVMBuildSRem(c->b, n, w, ""), "");
    cc_loop lp;
    cc_loop_begin(c, &lp, cc_i64(c, 0), whole, w);
    body(arg, lp.i, NULL);
    cc_loop_end(c, &lp);
    LLVMValueRef fn = LLVMGetBasicBlockParent(LLVMGetInsertBlock(c->b));
    LLVMBasicBlockRef tail = LLVMAppendBasicBlockInContext(c->ctx, fn, "tail");
    LLVMBasicBlockRef after = LLVMAppendBasicBlockInContext(c->ctx, fn, "after");
    LLVMBuildCondBr(c->b, LLVMBuildICmp(c->b, LLVMIntSLT, whole, n, ""), tail, after);
    LLVMPositionBuilderAtEnd(c->b, tail);
    body(arg, whole, cc_mask(c, whole, n));
    LLVMBuildBr(c->b, after);
    LLVMPositionBuilderAtEnd(c->b, after);
}

LLVMValueRef cc_reduce(cc_ctx *c, LLVMValueRef v, cc_combine_fn op)
{
    LLVMValueRef idx[64];
    for (unsigned n = LLVMGetVectorSize(LLVMTypeOf(v)) / 2; n >= 1; n /= 2) {
        for (unsigned k = 0; k < n; k++)
            idx[k] = LLVMConstInt(c->i32, n + k, false);
        LLVMValueRef hi = LLVMBuildShuffleVector(c->b, v, v, LLVMConstVector(idx, n), "");
        for (unsigned k = 0; k < n; k++)
            idx[k] = LLVMConstInt(c->i32, k, false);
        LLVMValueRef lo = LLVMBuildShuffleVector(c->b, v, v, LLVMConstVector(idx, n), "");
        v = op(c, lo, hi);
    }
    return LLVMBuildExtractElement(c->b, v, LLVMConstInt(c->i32, 0, false), "");
}

LLVMValueRef cc_entry_alloca(cc_ctx *c, LLVMTypeRef t)
{
    LLVMBasicBlockRef here = LLVMGetInsertBlock(c->b);
    LLVMBasicBlockRef entry = LLVMGetEntryBasicBlock(LLVMGetBasicBlockParent(here));
    LLVMValueRef first = LLVMGetFirstInstruction(entry);
    if (first)
        LLVMPositionBuilderBefore(c->b, first);
    else
        LLVMPositionBuilderAtEnd(c->b, entry);
    LLVMValueRef a = LLVMBuildAlloca(c->b, t, "");
    LLVMPositionBuilderAtEnd(c->b, here);
    return a;
}

void cc_prefetch(cc_ctx *c, LLVMValueRef base, LLVMValueRef i, bool write)
{
    LLVMTypeRef i8p = LLVMPointerType(LLVMInt8TypeInContext(c->ctx), 0);
    LLVMValueRef p = LLVMBuildGEP2(c->b, c->f32, base, &i, 1, "");
    LLVMValueRef args[4] = {LLVMBuildBitCast(c->b, p, i8p, ""), LLVMConstInt(c->i32, write, false),
                            LLVMConstInt(c->i32, 2, false), LLVMConstInt(c->i32, 1, false)};
    cc_intrinsic(c, "llvm.prefetch", args, 4);
}
