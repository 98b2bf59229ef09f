/* lower_ew.c -- elementwise kernels: a vector loop whose last, partial
   vector runs through the same body (cc_vector_loop_once), unary chains
   fused into the kernel that produces their input (so a chain stores
   once), and the pointwise backward ops. Activations are evaluated in
   double lanes and rounded to float once. */
#include "cc.h"

#include <string.h>

typedef void (*lane_body)(cc_lower *l, const ir_value *v, LLVMValueRef i, LLVMValueRef mask);

typedef struct {
    cc_lower *l;
    const ir_value *v;
    lane_body body;
} ew_loop;

static void ew_lanes(void *arg, LLVMValueRef i, LLVMValueRef mask)
{
    ew_loop *e = arg;
    e->body(e->l, e->v, i, mask);
}

/* An elementwise kernel bound by memory (at most NT_COST in arithmetic()
   for its loop: relu's 0, its gradient's 1, relu(3 (x + b))'s 2)
   that stores NT_BYTES or more of results the entry returns, past what a
   core's caches hold, stores whole vectors past the caches: 8 bytes of
   traffic an element for y = f(x) instead of 12, the write no longer
   reading the line first (16M floats: relu 6.8 -> 3.6 ms, its gradient
   10 -> 7, add 9.1 -> 7.7). Kernels that compute more lost 8-15% so on Zen
   4 (elu 7.8 -> 9.1 ms, sigmoid 9.3 -> 10.9, leaky_relu's double lanes 4.8
   -> 5.5) and keep normal stores, as do intermediates, which the entry
   reads again. The choice is a branch at each store, not a second loop
   (which more than doubled the compile time of graphs of short kernels). */
enum { NT_BYTES = 1 << 24, NT_COST = 4 };

/* The arithmetic in the blocks of fn from `from` on: an add, multiply or
   call (masked loads and stores aside) 1, a conversion between float and
   double or a division 10. */
static int arithmetic(LLVMBasicBlockRef from)
{
    int n = 0;
    for (LLVMBasicBlockRef b = from; b; b = LLVMGetNextBasicBlock(b))
        for (LLVMValueRef i = LLVMGetFirstInstruction(b); i; i = LLVMGetNextInstruction(i)) {
            switch (LLVMGetInstructionOpcode(i)) {
            case LLVMFPExt:
            case LLVMFPTrunc:
            case LLVMFDiv:
                n += 10;
                break;
            case LLVMFAdd:
            case LLVMFSub:
            case LLVMFMul:
                n++;
                break;
            case LLVMCall: {
                size_t len;
                const char *name = LLVMGetValueName2(LLVMGetCalledValue(i), &len);
                n += len < 12 || strncmp(name, "llvm.masked.", 12);
                break;
            }
            default:
                break;
            }
        }
    return n;
}

/* Whether every buffer the chain of v stores is a result the entry
   returns (*returned), and aligned to a vector (vmovntps needs it; a split
   call's chunk or an AOT caller's array may not be). */
static LLVMValueRef stores_aligned(cc_lower *l, const ir_value *v, LLVMValueRef all, bool *returned)
{
    cc_ctx *c = l->c;
    if (l->stored[v->id] && l->owned && l->owned[v->id])
        *returned = false;
    if (l->stored[v->id]) {
        LLVMValueRef at = LLVMBuildPtrToInt(c->b, l->buf[v->id], c->i64, "");
        LLVMValueRef off = LLVMBuildAnd(c->b, at, cc_i64(c, 4 * (long long)c->width - 1), "");
        all = LLVMBuildAnd(c->b, all, LLVMBuildICmp(c->b, LLVMIntEQ, off, cc_i64(c, 0), ""), "");
    }
    for (int j = v->id + 1; j < l->g->values.n; j++)
        if (cc_is_fused_into(l, l->g->values.items[j], v))
            all = stores_aligned(l, l->g->values.items[j], all, returned);
    return all;
}

/* body for every vector of v's n lanes (cc_vector_loop); a large result
   stored past the caches when its arrays allow. */
static void vector_loop(cc_lower *l, const ir_value *v, LLVMValueRef n, lane_body body)
{
    cc_ctx *c = l->c;
    ew_loop e = {l, v, body};
    bool returned = true;
    LLVMValueRef big = LLVMBuildICmp(c->b, LLVMIntSGE, n, cc_i64(c, NT_BYTES / 4), "");
    l->nt =
        LLVMBuildAnd(c->b, big, stores_aligned(l, v, LLVMConstInt(c->i1, 1, false), &returned), "");
    if (!returned || !LLVMIsAInstruction(l->nt)) { /* an intermediate, or never (folded) */
        if (LLVMIsAInstruction(l->nt))
            LLVMInstructionEraseFromParent(l->nt);
        l->nt = NULL;
    }
    LLVMValueRef fn = LLVMGetBasicBlockParent(LLVMGetInsertBlock(c->b));
    LLVMBasicBlockRef last = LLVMGetLastBasicBlock(fn);
    (cc_chain_in_float_lanes(l, v) ? cc_vector_loop_interleaved
                                   : cc_vector_loop_once)(c, n, ew_lanes, &e);
    if (l->nt && arithmetic(LLVMGetNextBasicBlock(last)) > NT_COST) { /* compute-bound */
        LLVMReplaceAllUsesWith(l->nt, LLVMConstInt(c->i1, 0, false));
        LLVMInstructionEraseFromParent(l->nt);
        l->nt = NULL;
    }
    if (l->nt) { /* the stores are weakly ordered: visible before the entry
                    returns (or a split call's chunk says it is done) */
        LLVMBasicBlockRef join = cc_if_then(c, l->nt);
        LLVMBuildFence(c->b, LLVMAtomicOrderingSequentiallyConsistent, false, "");
        cc_end_if(c, join);
    }
    l->nt = NULL;
}

bool cc_chain_in_float_lanes(const cc_lower *l, const ir_value *v)
{
    if ((v->op == IR_ACT || v->op == IR_ACT_GRAD) && cc_act_f32_index(l->c, v->act) < 0)
        return false;
    for (int j = v->id + 1; j < l->g->values.n; j++)
        if (cc_is_fused_into(l, l->g->values.items[j], v) &&
            !cc_chain_in_float_lanes(l, l->g->values.items[j]))
            return false;
    return true;
}

static LLVMValueRef widen(cc_ctx *c, LLVMValueRef v)
{
    return LLVMBuildFPExt(c->b, v, c->vf64, "");
}

static LLVMValueRef narrow(cc_ctx *c, LLVMValueRef v)
{
    return LLVMBuildFPTrunc(c->b, v, c->vf32, "");
}

/* v (IR_ACT or IR_SCALE) on the lanes of its argument: in double, rounded
   once, as the interpreter computes it, or by a float-lane kernel as
   accurate (compiler/act_f32.c). */
static LLVMValueRef apply(cc_lower *l, const ir_value *v, LLVMValueRef x)
{
    cc_ctx *c = l->c;
    LLVMValueRef f = v->op == IR_ACT ? cc_act_f32(c, v->act, v->attr, x) : NULL;
    if (f)
        return f;
    /* s x with s a float: the float product is the double one rounded once */
    if (v->op == IR_SCALE && (double)(float)v->attr[0] == v->attr[0])
        return LLVMBuildFMul(c->b, x, cc_const(c, c->vf32, v->attr[0]), "");
    if (v->op == IR_SCALE)
        return narrow(c, LLVMBuildFMul(c->b, widen(c, x), cc_const(c, c->vf64, v->attr[0]), ""));
    return cc_act_formula(c, v->act, x, NULL, NULL, v->attr, NULL);
}

/* w's lanes at i: in registers when the pass has them (w is on the chain
   being made, or loaded by the kernel's start), else loaded. */
static LLVMValueRef operand(cc_lower *l, const ir_value *w, LLVMValueRef i, LLVMValueRef mask)
{
    return l->lanes[w->id] ? l->lanes[w->id] : cc_load(l->c, l->buf[w->id], i, mask);
}

/* df(x, y) * dy for activation gradient v at lanes i; x or y read only when
   the derivative reads it. In double, rounded once, or by a float-lane
   kernel (compiler/act_f32.c). */
static LLVMValueRef act_grad_lanes(cc_lower *l, const ir_value *v, LLVMValueRef i,
                                   LLVMValueRef mask)
{
    cc_ctx *c = l->c;
    LLVMValueRef x = NULL, y = NULL;
    LLVMValueRef dy = operand(l, v->args[2], i, mask);
    if (ir_expr_uses_x(v->act->df)) {
        LLVMValueRef xf = operand(l, v->args[0], i, mask);
        LLVMValueRef g = cc_act_grad_f32(c, v->act, v->attr, xf, dy);
        if (g)
            return g;
        x = xf;
    }
    if (l->lanes[v->args[1]->id] || l->buf[v->args[1]->id])
        y = operand(l, v->args[1], i, mask);
    return cc_act_formula(c, v->act, x, y, dy, v->attr, NULL);
}

/* a + b or a * b of equal shapes, or the sum of two gradients, at lanes i. */
static LLVMValueRef binary_lanes(cc_lower *l, const ir_value *v, LLVMValueRef i, LLVMValueRef mask)
{
    cc_ctx *c = l->c;
    LLVMValueRef a = operand(l, v->args[0], i, mask), b = operand(l, v->args[1], i, mask);
    return v->op == IR_MUL ? LLVMBuildFMul(c->b, a, b, "") : LLVMBuildFAdd(c->b, a, b, "");
}

void cc_lower_chain(cc_lower *l, const ir_value *v, LLVMValueRef val, LLVMValueRef i,
                    LLVMValueRef mask)
{
    if (l->stored[v->id] && l->nt && cc_whole_lanes(l->c, mask)) {
        cc_ctx *c = l->c;
        LLVMBasicBlockRef cached = cc_if_then(c, l->nt); /* the else branch */
        cc_store_nt(c, val, l->buf[v->id], i);
        LLVMBasicBlockRef after =
            LLVMAppendBasicBlockInContext(c->ctx, LLVMGetBasicBlockParent(cached), "stored");
        cc_end_if(c, after);
        LLVMPositionBuilderAtEnd(c->b, cached);
        cc_store(c, val, l->buf[v->id], i, mask);
        cc_end_if(c, after);
    } else if (l->stored[v->id]) {
        cc_store(l->c, val, l->buf[v->id], i, mask);
    }
    if (l->stored[v->id] && l->twin && l->twin[v->id]) {
        cc_store(l->c, val, l->twin[v->id], i, mask);
        l->twin_stored[v->id] = true;
    }
    l->lanes[v->id] = val; /* for the values made from it in this pass */
    for (int j = v->id + 1; j < l->g->values.n; j++) {
        const ir_value *u = l->g->values.items[j];
        if (!cc_is_fused_into(l, u, v))
            continue;
        LLVMValueRef r = u->op == IR_ACT_GRAD                   ? act_grad_lanes(l, u, i, mask)
                         : u->op == IR_ACT || u->op == IR_SCALE ? apply(l, u, val)
                                                                : binary_lanes(l, u, i, mask);
        cc_lower_chain(l, u, r, i, mask);
    }
    l->lanes[v->id] = NULL;
}

static void elementwise_body(cc_lower *l, const ir_value *v, LLVMValueRef i, LLVMValueRef mask)
{
    LLVMValueRef x = cc_load(l->c, l->buf[v->args[0]->id], i, mask);
    l->lanes[v->args[0]->id] = x;
    cc_lower_chain(l, v, apply(l, v, x), i, mask);
    l->lanes[v->args[0]->id] = NULL;
}

void cc_lower_elementwise(cc_lower *l, const ir_value *v)
{
    vector_loop(l, v, cc_numel(l, v), elementwise_body);
}

static void act_grad_body(cc_lower *l, const ir_value *v, LLVMValueRef i, LLVMValueRef mask)
{
    cc_lower_chain(l, v, act_grad_lanes(l, v, i, mask), i, mask);
}

static void binary_body(cc_lower *l, const ir_value *v, LLVMValueRef i, LLVMValueRef mask)
{
    cc_lower_chain(l, v, binary_lanes(l, v, i, mask), i, mask);
}

void cc_lower_pointwise(cc_lower *l, const ir_value *v)
{
    cc_ctx *c = l->c;
    if (v->op == IR_ONE) {
        cc_store1(c, LLVMConstReal(c->f32, 1), l->buf[v->id], cc_i64(c, 0));
        return;
    }
    vector_loop(l, v, cc_numel(l, v), v->op == IR_ACT_GRAD ? act_grad_body : binary_body);
}

/* The call's parameters as a private constant array (NULL when none). */
static LLVMValueRef params_array(cc_lower *l, const ir_value *v)
{
    cc_ctx *c = l->c;
    LLVMTypeRef f64p = LLVMPointerType(c->f64, 0);
    int k = v->act->params.n;
    if (!k)
        return LLVMConstNull(f64p);
    LLVMValueRef vals[IR_MAX_PARAMS];
    for (int i = 0; i < k; i++)
        vals[i] = LLVMConstReal(c->f64, v->attr[i]);
    LLVMTypeRef at = LLVMArrayType(c->f64, (unsigned)k);
    LLVMValueRef g = LLVMAddGlobal(c->mod, at, "act.params");
    LLVMSetInitializer(g, LLVMConstArray(c->f64, vals, (unsigned)k));
    LLVMSetGlobalConstant(g, true);
    LLVMSetLinkage(g, LLVMPrivateLinkage);
    return LLVMConstBitCast(g, f64p);
}

void cc_lower_native_array(cc_lower *l, const ir_value *v)
{
    cc_ctx *c = l->c;
    const ir_array_fns *fns = v->act->native;
    bool fwd = v->op == IR_ACT;
    LLVMTypeRef f64p = LLVMPointerType(c->f64, 0);
    LLVMTypeRef types[6] = {c->ptr, c->ptr, c->ptr, c->ptr, c->i64, f64p};
    LLVMValueRef args[6];
    int n = 0;
    for (int i = 0; i < (fwd ? 1 : 3); i++)
        args[n++] = l->buf[v->args[i]->id];
    args[n++] = l->buf[v->id];
    args[n++] = cc_numel(l, v);
    args[n++] = params_array(l, v);
    if (fwd) {
        types[1] = c->ptr;
        types[2] = c->i64;
        types[3] = f64p;
    }
    LLVMTypeRef fty = LLVMFunctionType(LLVMVoidTypeInContext(c->ctx), types, (unsigned)n, false);
    uintptr_t addr = fwd ? (uintptr_t)fns->fwd : (uintptr_t)fns->bwd;
    LLVMValueRef callee =
        LLVMConstIntToPtr(LLVMConstInt(c->i64, (uint64_t)addr, false), LLVMPointerType(fty, 0));
    LLVMBuildCall2(c->b, fty, callee, args, (unsigned)n, "");
}
