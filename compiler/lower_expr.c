/* lower_expr.c -- an activation's expression tree to branch-free IR on
   lanes of double, with the semantics of ir/expr_eval.c: where selects (a
   NaN condition gives NaN), min/max/clamp propagate NaN and pass ties to the
   first operand, comparisons give 0 or 1. Shared subtrees (one node in the
   hash-consed pool) are emitted once. */
#include "cc.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const ir_expr *key;
    LLVMValueRef val;
} memo_slot;

typedef struct {
    cc_ctx *c;
    LLVMValueRef x, y;
    const double *params;
    const LLVMValueRef *at; /* the params at run time, or NULL */
    memo_slot *memo;
    size_t cap, used;
} lowerer;

static LLVMValueRef lower(lowerer *w, const ir_expr *e);

static LLVMValueRef num(lowerer *w, double v)
{
    return cc_const(w->c, LLVMTypeOf(w->x), v);
}

static LLVMValueRef cmp(lowerer *w, LLVMRealPredicate p, LLVMValueRef a, LLVMValueRef b)
{
    return LLVMBuildFCmp(w->c->b, p, a, b, "");
}

static LLVMValueRef is_nan(lowerer *w, LLVMValueRef a)
{
    return cmp(w, LLVMRealUNO, a, a);
}

/* min/max: NaN if either is NaN (a + b is then NaN), else the first
   operand on a tie. */
static LLVMValueRef min_max(lowerer *w, LLVMValueRef a, LLVMValueRef b, bool max)
{
    cc_ctx *c = w->c;
    LLVMValueRef pick = cc_select(c, cmp(w, max ? LLVMRealOGE : LLVMRealOLE, a, b), a, b);
    LLVMValueRef any_nan = cmp(w, LLVMRealUNO, a, b);
    return cc_select(c, any_nan, LLVMBuildFAdd(c->b, a, b, ""), pick);
}

/* a^n for a small integer n by squaring: exact where pow is, and vector
   code, where llvm.pow would become a libm call per lane. */
static LLVMValueRef int_pow(lowerer *w, LLVMValueRef a, long n)
{
    LLVMValueRef acc = num(w, 1), sq = a;
    for (long k = labs(n); k; k >>= 1) {
        if (k & 1)
            acc = LLVMBuildFMul(w->c->b, acc, sq, "");
        if (k > 1)
            sq = LLVMBuildFMul(w->c->b, sq, sq, "");
    }
    return n < 0 ? LLVMBuildFDiv(w->c->b, num(w, 1), acc, "") : acc;
}

/* A vector-math function as one internal function per module and type,
   called from every use: a formula's kernels are emitted several times (the
   GEMM epilogue once per accumulator, forward and backward), and inlining
   every copy made compilation several times slower for no speed. */
static LLVMValueRef outlined(lowerer *w, const char *name,
                             LLVMValueRef (*emit_fn)(cc_ctx *, LLVMValueRef), LLVMValueRef a)
{
    cc_ctx *c = w->c;
    LLVMTypeRef t = LLVMTypeOf(a);
    char sym[64];
    snprintf(sym, sizeof sym, "act.vm.%s.%u", name,
             LLVMGetTypeKind(t) == LLVMVectorTypeKind ? LLVMGetVectorSize(t) : 1);
    LLVMTypeRef fty = LLVMFunctionType(t, &t, 1, false);
    LLVMValueRef fn = LLVMGetNamedFunction(c->mod, sym);
    if (!fn) {
        fn = LLVMAddFunction(c->mod, sym, fty);
        LLVMSetLinkage(fn, LLVMInternalLinkage);
        /* pure: LLVM may merge equal calls, e.g. the exp a forward formula
           and its derivative share in a fused forward + backward pass */
        static const char *const attrs[] = {"noinline", "readnone", "nounwind", "willreturn"};
        for (size_t i = 0; i < sizeof attrs / sizeof *attrs; i++) {
            unsigned kind = LLVMGetEnumAttributeKindForName(attrs[i], strlen(attrs[i]));
            LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex,
                                    LLVMCreateEnumAttribute(c->ctx, kind, 0));
        }
        LLVMBasicBlockRef here = LLVMGetInsertBlock(c->b);
        LLVMPositionBuilderAtEnd(c->b, LLVMAppendBasicBlockInContext(c->ctx, fn, "entry"));
        LLVMBuildRet(c->b, emit_fn(c, LLVMGetParam(fn, 0)));
        LLVMPositionBuilderAtEnd(c->b, here);
    }
    return LLVMBuildCall2(c->b, fty, fn, &a, 1, "");
}

static LLVMValueRef intrinsic1(lowerer *w, const char *name, LLVMValueRef a)
{
    return cc_intrinsic(w->c, name, &a, 1);
}

static LLVMValueRef unary(lowerer *w, const ir_expr *e, LLVMValueRef a)
{
    cc_ctx *c = w->c;
    switch (e->op) {
    case EX_NEG:
        return LLVMBuildFNeg(c->b, a, "");
    case EX_EXP:
        return outlined(w, "exp", cc_vm_exp, a);
    case EX_EXPM1:
        return outlined(w, "expm1", cc_vm_expm1, a);
    case EX_LOG:
        return outlined(w, "log", cc_vm_log, a);
    case EX_LOG1P:
        return outlined(w, "log1p", cc_vm_log1p, a);
    case EX_SQRT:
        return intrinsic1(w, "llvm.sqrt", a);
    case EX_ABS:
        return intrinsic1(w, "llvm.fabs", a);
    case EX_TANH:
        return outlined(w, "tanh", cc_vm_tanh, a);
    case EX_SIGMOID: /* with derivatives, the exp alone outlined: sigmoid(x) and sigmoid(-x) share
                        it */
        if (!c->gradients)
            return outlined(w, "sigmoid", cc_vm_sigmoid, a);
        return cc_vm_sigmoid_of(c, a, outlined(w, "exp", cc_vm_exp, cc_vm_sigmoid_exp_arg(c, a)));
    case EX_ERF:
        return outlined(w, "erf", cc_vm_erf, a);
    case EX_ERFC:
        return outlined(w, "erfc", cc_vm_erfc, a);
    case EX_SIN: /* rare in activations: libm per lane, exact range reduction */
        return intrinsic1(w, "llvm.sin", a);
    default: /* EX_COS */
        return intrinsic1(w, "llvm.cos", a);
    }
}

static LLVMValueRef binary(lowerer *w, const ir_expr *e, LLVMValueRef a, LLVMValueRef b)
{
    cc_ctx *c = w->c;
    static const LLVMRealPredicate preds[] = {LLVMRealOLT, LLVMRealOLE, LLVMRealOGT,
                                              LLVMRealOGE, LLVMRealOEQ, LLVMRealUNE};
    switch (e->op) {
    case EX_ADD:
        return LLVMBuildFAdd(c->b, a, b, "");
    case EX_SUB:
        return LLVMBuildFSub(c->b, a, b, "");
    case EX_MUL:
        return LLVMBuildFMul(c->b, a, b, "");
    case EX_DIV:
        return LLVMBuildFDiv(c->b, a, b, "");
    case EX_POW: {
        const ir_expr *k = e->arg[1];
        if (k->op == EX_CONST && k->value == rint(k->value) && fabs(k->value) <= 64)
            return int_pow(w, a, (long)k->value);
        LLVMValueRef args[2] = {a, b};
        return cc_intrinsic(c, "llvm.pow", args, 2);
    }
    case EX_MIN:
        return min_max(w, a, b, false);
    case EX_MAX:
        return min_max(w, a, b, true);
    default: /* comparisons, in ir_expr_op order from EX_LT */
        return LLVMBuildUIToFP(c->b, cmp(w, preds[e->op - EX_LT], a, b), LLVMTypeOf(a), "");
    }
}

/* A plugin's native scalar function, called at its address (the context
   that compiled the program keeps the library loaded) once per lane: the
   lane converted to the function's type, then the operands and the call's
   parameters as constants, the result widened back. */
static LLVMValueRef call_native(lowerer *w, const ir_expr *e)
{
    cc_ctx *c = w->c;
    const ir_native *fn = e->fn;
    LLVMTypeRef st = fn->type == 1 ? c->f32 : c->f64; /* ACT_F32 */
    LLVMValueRef ops[3], args[3 + IR_MAX_PARAMS];
    LLVMTypeRef types[3 + IR_MAX_PARAMS];
    int n = e->nargs + fn->nparams;
    for (int i = 0; i < e->nargs; i++)
        if (!(ops[i] = lower(w, e->arg[i])))
            return NULL;
    for (int i = 0; i < n; i++) {
        types[i] = st;
        if (i >= e->nargs)
            args[i] = LLVMConstReal(st, w->params[i - e->nargs]);
    }
    LLVMTypeRef fty = LLVMFunctionType(st, types, (unsigned)n, false);
    LLVMValueRef addr = LLVMConstInt(c->i64, (uint64_t)(uintptr_t)fn->addr, false);
    LLVMValueRef callee = LLVMConstIntToPtr(addr, LLVMPointerType(fty, 0));
    LLVMTypeRef t = LLVMTypeOf(w->x);
    bool vec = LLVMGetTypeKind(t) == LLVMVectorTypeKind;
    unsigned lanes = vec ? LLVMGetVectorSize(t) : 1;
    LLVMValueRef out = vec ? LLVMGetUndef(t) : NULL;
    for (unsigned k = 0; k < lanes; k++) {
        LLVMValueRef lane = LLVMConstInt(c->i32, k, false);
        for (int i = 0; i < e->nargs; i++) {
            LLVMValueRef a = vec ? LLVMBuildExtractElement(c->b, ops[i], lane, "") : ops[i];
            args[i] = st == c->f32 ? LLVMBuildFPTrunc(c->b, a, st, "") : a;
        }
        LLVMValueRef r = LLVMBuildCall2(c->b, fty, callee, args, (unsigned)n, "");
        if (st == c->f32)
            r = LLVMBuildFPExt(c->b, r, c->f64, "");
        out = vec ? LLVMBuildInsertElement(c->b, out, r, lane, "") : r;
    }
    return out;
}

/* Whether e's value changes from one element to the next, or may (a
   native function is called at each). */
static bool varies(const ir_expr *e)
{
    return e->op == EX_X || e->op == EX_Y || e->op == EX_CALL;
}

static LLVMValueRef emit(lowerer *w, const ir_expr *e)
{
    /* a term of the params alone, when they are known: its value, as the
       interpreter computes it (expm1(a) in softclip's rewrite was a call
       of the vector expm1 at every element) */
    if (!w->at && e->nargs && !ir_expr_any(e, varies))
        return num(w, ir_expr_eval(e, 0, 0, w->params));
    switch (e->op) {
    case EX_CONST:
        return num(w, e->value);
    case EX_X:
        return w->x;
    case EX_Y:
        return w->y;
    case EX_PARAM:
        return w->at ? w->at[e->param] : num(w, w->params[e->param]);
    case EX_WHERE: {
        LLVMValueRef cnd = lower(w, e->arg[0]), a = lower(w, e->arg[1]), b = lower(w, e->arg[2]);
        LLVMValueRef taken = cc_select(w->c, cmp(w, LLVMRealONE, cnd, num(w, 0)), a, b);
        return cc_select(w->c, is_nan(w, cnd), cnd, taken);
    }
    case EX_CLAMP: {
        LLVMValueRef v = min_max(w, lower(w, e->arg[0]), lower(w, e->arg[1]), true);
        return min_max(w, v, lower(w, e->arg[2]), false);
    }
    case EX_CALL:
        return call_native(w, e);
    default:
        break;
    }
    LLVMValueRef a = lower(w, e->arg[0]);
    if (!a)
        return NULL;
    if (e->nargs == 1)
        return unary(w, e, a);
    LLVMValueRef b = lower(w, e->arg[1]);
    return b ? binary(w, e, a, b) : NULL;
}

static size_t slot_of(const lowerer *w, const ir_expr *e)
{
    size_t h = (size_t)(e->hash ? e->hash : (uintptr_t)e) & (w->cap - 1);
    while (w->memo[h].key && w->memo[h].key != e)
        h = (h + 1) & (w->cap - 1);
    return h;
}

/* Keeps the table at most half full (a derivative can have many more nodes
   than its formula). */
static bool grow(lowerer *w)
{
    memo_slot *old = w->memo;
    size_t n = w->cap;
    w->memo = calloc(2 * n, sizeof *w->memo);
    if (!w->memo) {
        w->memo = old;
        return false;
    }
    w->cap = 2 * n;
    for (size_t i = 0; i < n; i++)
        if (old[i].key)
            w->memo[slot_of(w, old[i].key)] = old[i];
    free(old);
    return true;
}

/* Memoised by node: equal subtrees are one node in the pool. */
static LLVMValueRef lower(lowerer *w, const ir_expr *e)
{
    size_t h = slot_of(w, e);
    if (w->memo[h].key)
        return w->memo[h].val;
    LLVMValueRef v = emit(w, e);
    if (2 * (w->used + 1) > w->cap && !grow(w))
        return NULL;
    w->memo[slot_of(w, e)] = (memo_slot){e, v};
    w->used++;
    return v;
}

static LLVMValueRef lower_root(lowerer *w, const ir_expr *e)
{
    w->memo = calloc(w->cap, sizeof *w->memo);
    if (!w->memo)
        return NULL;
    LLVMValueRef v = lower(w, e);
    free(w->memo);
    return v;
}

LLVMValueRef cc_act_formula(cc_ctx *c, const ir_activation *a, LLVMValueRef x, LLVMValueRef y,
                            LLVMValueRef dy, const double *params, const LLVMValueRef *at)
{
    LLVMBuilderRef B = c->b;
    LLVMValueRef zero = cc_const(c, c->vf64, 0);
    LLVMValueRef xd = x ? LLVMBuildFPExt(B, x, c->vf64, "") : zero;
    LLVMValueRef yd = y ? LLVMBuildFPExt(B, y, c->vf64, "") : dy ? zero : NULL;
    const ir_expr *e = dy ? a->df : a->f_eval;
    lowerer w = {c, xd, yd ? yd : xd, at ? NULL : params, at, NULL, 1024, 0};
    LLVMValueRef v = lower_root(&w, e);
    if (v && dy)
        v = LLVMBuildFMul(B, v, LLVMBuildFPExt(B, dy, c->vf64, ""), "");
    return v ? LLVMBuildFPTrunc(B, v, c->vf32, "") : NULL;
}

static bool is_native_call(const ir_expr *e)
{
    return e->op == EX_CALL;
}

bool cc_value_calls_native(const ir_value *v)
{
    const ir_activation *a = (v->op == IR_ACT || v->op == IR_ACT_GRAD) ? v->act : NULL;
    return a &&
           (a->native || ir_expr_any(a->f, is_native_call) || ir_expr_any(a->df, is_native_call));
}
