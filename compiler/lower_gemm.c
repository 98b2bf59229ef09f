/* lower_gemm.c -- dense and the two matrix products of its backward pass,
   as calls of the module's GEMM (gemm.c) with strides, so that no operand
   is transposed in memory. The bias initialises the accumulators; the rest
   of the fused chain (activations, or f'(z)·dy of the layer below in
   dY Wᵀ) is an epilogue function that the GEMM calls on each finished row
   block of the product while it is in cache: it reads the block, applies
   the chain and stores what the chain stores, the same float operations
   as a chain applied in registers, for one more load and store a float. */
#include "cc.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The first value of v's chain that is stored, in cc_lower_chain's order:
   its buffer takes the raw product, which the epilogue then reads (the
   chain's values all have the product's shape, and each lane is read
   before it is written). */
static const ir_value *first_stored(const cc_lower *l, const ir_value *v)
{
    if (l->stored[v->id])
        return v;
    for (int j = v->id + 1; j < l->g->values.n; j++) {
        const ir_value *u = l->g->values.items[j];
        const ir_value *s = cc_is_fused_into(l, u, v) ? first_stored(l, u) : NULL;
        if (s)
            return s;
    }
    return NULL;
}

/* Marks the values of v's chain and their arguments (the buffers the
   epilogue may touch); whether anything is fused into v. */
static bool mark_chain(const cc_lower *l, const ir_value *v, bool *used)
{
    bool chain = false;
    used[v->id] = true;
    for (int a = 0; a < v->nargs; a++)
        used[v->args[a]->id] = true;
    for (int j = v->id + 1; j < l->g->values.n; j++) {
        const ir_value *u = l->g->values.items[j];
        if (cc_is_fused_into(l, u, v)) {
            mark_chain(l, u, used);
            chain = true;
        }
    }
    return chain;
}

/* The loops of epilogue fn over its strip (its parameters p: bufs, row0,
   rows, col0, cols, ldc): body at each vector i of a row, mask its lanes,
   with each of the n bases (NULL: unused) moved to the row's first column.
   The row is one cc_vector_loop_once: whole vectors unmasked, the last
   through a copy (a masked store every vector was 70% of a 32 x 128 x 128
   dense layer's relu on Zen 3, where vmaskmovps to memory is microcoded);
   interleaved when the body builds every vector it uses. */
static void epilogue_loops(cc_ctx *c, LLVMValueRef p[6], LLVMValueRef *bases, int n,
                           bool interleaved, cc_lanes_fn body, void *arg)
{
    /* whole rows are one run of rows x cols floats */
    LLVMValueRef flat = LLVMBuildICmp(c->b, LLVMIntEQ, p[4], p[5], "");
    LLVMValueRef rows = LLVMBuildSelect(c->b, flat, cc_i64(c, 1), p[2], "");
    LLVMValueRef cols = LLVMBuildSelect(c->b, flat, LLVMBuildMul(c->b, p[2], p[4], ""), p[4], "");
    cc_loop r;
    cc_loop_begin(c, &r, cc_i64(c, 0), rows, cc_i64(c, 1));
    LLVMValueRef at = LLVMBuildAdd(
        c->b, LLVMBuildMul(c->b, LLVMBuildAdd(c->b, p[1], r.i, ""), p[5], ""), p[3], "");
    for (int k = 0; k < n; k++)
        if (bases[k])
            bases[k] = LLVMBuildGEP2(c->b, c->f32, bases[k], &at, 1, "");
    (interleaved ? cc_vector_loop_interleaved : cc_vector_loop_once)(c, cols, body, arg);
    cc_loop_end(c, &r);
    LLVMBuildRetVoid(c->b);
}

/* A new internal epilogue function, the builder in its entry block; its
   parameters in p, the first as an array of pointers. */
static LLVMValueRef new_epilogue(cc_ctx *c, const char *name, LLVMValueRef p[6])
{
    LLVMValueRef fn = LLVMAddFunction(c->mod, name, cc_epilogue_type(c));
    LLVMSetLinkage(fn, LLVMInternalLinkage);
    LLVMPositionBuilderAtEnd(c->b, LLVMAppendBasicBlockInContext(c->ctx, fn, "entry"));
    for (unsigned i = 0; i < 6; i++)
        p[i] = LLVMGetParam(fn, i);
    p[0] = LLVMBuildBitCast(c->b, p[0], LLVMPointerType(c->ptr, 0), "");
    return fn;
}

static LLVMValueRef buf_at(cc_ctx *c, LLVMValueRef bufs, int i)
{
    LLVMValueRef at = cc_i64(c, i);
    return LLVMBuildLoad2(c->b, c->ptr, LLVMBuildGEP2(c->b, c->ptr, bufs, &at, 1, ""), "");
}

typedef struct {
    cc_lower *l;
    const ir_value *v, *cv;
} chain_epi;

static void chain_body(void *arg, LLVMValueRef i, LLVMValueRef mask)
{
    chain_epi *e = arg;
    cc_lower_chain(e->l, e->v, cc_load(e->l->c, e->l->buf[e->cv->id], i, mask), i, mask);
}

/* epi(bufs, row0, rows, col0, cols, ldc): v's chain on that strip of the
   product, which is in cv's buffer; bufs holds the buffers marked used,
   value id i at slot[i] (in the order of the ids, so that the same chain
   on other values is the same function). */
static LLVMValueRef build_epilogue(cc_lower *l, const ir_value *v, const ir_value *cv,
                                   const int *slot, LLVMValueRef *buf)
{
    cc_ctx *c = l->c;
    cc_lower e = *l;
    e.buf = buf;
    e.twin = NULL; /* arguments of the entry, not of the epilogue */
    e.nt = NULL;   /* the entry's; and whole lanes here (once) would read it */
    LLVMBasicBlockRef saved = LLVMGetInsertBlock(c->b);
    LLVMValueRef p[6];
    e.fn = new_epilogue(c, "act.epilogue", p);
    for (int i = 0; i < l->g->values.n; i++)
        buf[i] = slot[i] >= 0 ? buf_at(c, p[0], slot[i]) : NULL;
    chain_epi body = {&e, v, cv};
    epilogue_loops(c, p, buf, l->g->values.n, cc_chain_in_float_lanes(l, v), chain_body, &body);
    LLVMPositionBuilderAtEnd(c->b, saved);
    return e.fn;
}

/* The library's epilogues (cc_epilogues_define): a built-in activation
   of the float-lane table with its default parameters, or one without a
   float-lane kernel with the parameters of the call (doubles at
   EPI_PARAMS), y = f(src) or f'(x)·src into dst. */
enum { EPI_KIND, EPI_SRC, EPI_DST, EPI_X, EPI_PARAMS, EPI_SLOTS };

typedef struct {
    cc_ctx *c;
    const ir_activation *a;
    const double *attr;             /* float-lane kernels: the defaults */
    LLVMValueRef at[IR_MAX_PARAMS]; /* the double formulas: the call's, splatted */
    bool grad;
    LLVMValueRef bufs[EPI_SLOTS];
} act_epi;

static void act_body(void *arg, LLVMValueRef i, LLVMValueRef mask)
{
    act_epi *e = arg;
    cc_ctx *c = e->c;
    LLVMValueRef s = cc_load(c, e->bufs[EPI_SRC], i, mask);
    LLVMValueRef x = e->grad ? cc_load(c, e->bufs[EPI_X], i, mask) : NULL, r;
    if (!e->attr) /* the formula, as compiler/lower_ew.c evaluates it in a module */
        r = e->grad ? cc_act_formula(c, e->a, x, NULL, s, NULL, e->at)
                    : cc_act_formula(c, e->a, s, NULL, NULL, NULL, e->at);
    else
        r = e->grad ? cc_act_grad_f32(c, e->a, e->attr, x, s) : cc_act_f32(c, e->a, e->attr, s);
    cc_store(c, r, e->bufs[EPI_DST], i, mask);
}

static bool reads_y(const ir_expr *e)
{
    return e->op == EX_Y;
}

/* Whether the library has a kind for a without a float-lane kernel, and
   for its derivative (from x alone) when grad: the built-ins' own formulas,
   their params read at run time. Its index among the built-ins, or -1. */
static int formula_index(cc_ctx *c, const ir_activation *a, bool grad)
{
    if (a->origin_kind != IR_ORIGIN_BUILTIN || a->native || cc_act_f32_index(c, a) >= 0 ||
        (grad && (!a->df || !ir_expr_uses_x(a->df) || ir_expr_any(a->df, reads_y))))
        return -1;
    int n;
    const ir_builtin_row *rows = ir_builtin_rows(&n);
    for (int r = 0; r < n; r++) /* a word param (gelu's approximate) picks a formula: the
                                   module's kernel folds the other away */
        if (!strcmp(rows[r].name, a->name))
            return rows[r].words ? -1 : r;
    return -1;
}

/* The kinds of the library's epilogues: 2 i + grad for float-lane kernel
   i, then 2 r + grad after them for built-in row r's formula. */
static int float_kinds(void)
{
    int k = 0;
    while (cc_act_f32_name(k))
        k++;
    return 2 * k;
}

/* The kind's function: its loops over the strip, the params of a formula
   loaded and splatted once before them. */
static LLVMValueRef define_kind(cc_ctx *c, act_epi *e, const char *name)
{
    LLVMValueRef q[6];
    LLVMValueRef kfn = new_epilogue(c, name, q);
    for (int j = EPI_SRC; j < EPI_SLOTS; j++)
        e->bufs[j] = buf_at(c, q[0], j);
    LLVMTypeRef pd = LLVMPointerType(c->f64, 0);
    LLVMValueRef params = LLVMBuildBitCast(c->b, e->bufs[EPI_PARAMS], pd, "");
    for (int j = 0; !e->attr && j < e->a->params.n; j++) {
        LLVMValueRef at = cc_i64(c, j);
        LLVMValueRef v =
            LLVMBuildLoad2(c->b, c->f64, LLVMBuildGEP2(c->b, c->f64, params, &at, 1, ""), "");
        e->at[j] = cc_splat(c, v);
    }
    /* not the params; a formula's, splatted here, have the target's width */
    epilogue_loops(c, q, e->bufs + EPI_SRC, EPI_PARAMS - EPI_SRC, e->attr != NULL, act_body, e);
    return kfn;
}

/* A case of the dispatcher sw in fn (parameters p): a call of kfn. */
static void add_kind(cc_ctx *c, LLVMValueRef fn, LLVMValueRef sw, int kind, LLVMValueRef kfn,
                     LLVMValueRef p[6])
{
    LLVMBasicBlockRef at = LLVMAppendBasicBlockInContext(c->ctx, fn, "");
    LLVMAddCase(sw, LLVMConstInt(c->i64, (unsigned long long)kind, 0), at);
    LLVMPositionBuilderAtEnd(c->b, at);
    LLVMBuildCall2(c->b, cc_epilogue_type(c), kfn, p, 6, "");
    LLVMBuildRetVoid(c->b);
}

int cc_epilogues_define(cc_ctx *c, const char *name)
{
    act_error err = {0};
    ir_registry *reg = ir_registry_new(&err);
    if (!reg)
        return -1;
    LLVMValueRef fn = LLVMAddFunction(c->mod, name, cc_epilogue_type(c));
    LLVMSetVisibility(fn, LLVMHiddenVisibility); /* libact's own, as the GEMMs */
    LLVMBasicBlockRef entry = LLVMAppendBasicBlockInContext(c->ctx, fn, "entry");
    LLVMBasicBlockRef none = LLVMAppendBasicBlockInContext(c->ctx, fn, "none");
    LLVMPositionBuilderAtEnd(c->b, none);
    LLVMBuildRetVoid(c->b);
    LLVMPositionBuilderAtEnd(c->b, entry);
    LLVMValueRef p[6];
    for (unsigned i = 0; i < 6; i++)
        p[i] = LLVMGetParam(fn, i);
    LLVMValueRef bufs = LLVMBuildBitCast(c->b, p[0], LLVMPointerType(c->ptr, 0), "");
    LLVMValueRef kind = LLVMBuildPtrToInt(c->b, buf_at(c, bufs, EPI_KIND), c->i64, "");
    LLVMValueRef sw = LLVMBuildSwitch(c->b, kind, none, 0);
    int rc = 0, nrows, base = float_kinds();
    double attr[IR_MAX_PARAMS];
    for (int k = 0; cc_act_f32_name(k / 2) && !rc; k++) {
        const ir_activation *a = ir_registry_find(reg, cc_act_f32_name(k / 2));
        rc = a ? 0 : -1; /* a kernel of no built-in: the table is wrong */
        if (!a || cc_act_f32_index(c, a) < 0)
            continue;
        for (int j = 0; j < a->params.n; j++)
            attr[j] = a->params.p[j].def;
        char kname[64];
        snprintf(kname, sizeof kname, "act.epi.%s%s", a->name, k % 2 ? ".grad" : "");
        act_epi e = {.c = c, .a = a, .attr = attr, .grad = k % 2 == 1};
        add_kind(c, fn, sw, k, define_kind(c, &e, kname), p);
    }
    const ir_builtin_row *rows = ir_builtin_rows(&nrows);
    for (int k = 0; k < 2 * nrows && !rc; k++) {
        const ir_activation *a = ir_registry_find(reg, rows[k / 2].name);
        if (!a || formula_index(c, a, k % 2) != k / 2)
            continue;
        char kname[64];
        snprintf(kname, sizeof kname, "act.epi.%s%s", a->name, k % 2 ? ".grad" : "");
        act_epi e = {.c = c, .a = a, .grad = k % 2 == 1};
        add_kind(c, fn, sw, base + k, define_kind(c, &e, kname), p);
    }
    ir_registry_free(reg);
    return rc;
}

/* The library's epilogue kind (cc_epilogues_define) that computes v's
   chain, its product in cv's buffer, into bufs; -1 when there is none (no
   library, or a chain other than one built-in activation, of the
   float-lane table with its default parameters or without a float-lane
   kernel, or its gradient from x in dY·Wᵀ). */
static int library_epilogue(const cc_lower *l, const ir_value *v, const ir_value *cv,
                            LLVMValueRef bufs[EPI_SLOTS])
{
    const ir_value *u = NULL;
    for (int j = v->id + 1; j < l->g->values.n; j++) {
        const ir_value *w = l->g->values.items[j];
        if (cc_is_fused_into(l, w, v) ? u != NULL : u && cc_is_fused_into(l, w, u))
            return -1; /* a second value made from the product, or one made from u */
        if (cc_is_fused_into(l, w, v))
            u = w;
    }
    bool grad = u && u->op == IR_ACT_GRAD;
    if (!l->c->epilogues || !u || !l->stored[u->id] || (u->op != IR_ACT && !grad) ||
        (grad && (!ir_expr_uses_x(u->act->df) || !l->buf[u->args[0]->id])))
        return -1;
    cc_ctx *c = l->c;
    int index = cc_act_f32_index(c, u->act), kind = 2 * index + grad;
    for (int j = 0; index >= 0 && j < u->act->params.n; j++)
        if (u->attr[j] != u->act->params.p[j].def)
            index = -1;
    bufs[EPI_PARAMS] = LLVMConstNull(c->ptr);
    if (index < 0 && (index = formula_index(c, u->act, grad)) >= 0) {
        kind = float_kinds() + 2 * index + grad;
        if (u->act->params.n) { /* the call's params, a constant of the module */
            LLVMValueRef vals[IR_MAX_PARAMS];
            for (int j = 0; j < u->act->params.n; j++)
                vals[j] = LLVMConstReal(c->f64, u->attr[j]);
            LLVMValueRef arr = LLVMConstArray(c->f64, vals, (unsigned)u->act->params.n);
            LLVMValueRef g = LLVMAddGlobal(c->mod, LLVMTypeOf(arr), "act.epi.params");
            LLVMSetInitializer(g, arr);
            LLVMSetGlobalConstant(g, true);
            LLVMSetLinkage(g, LLVMPrivateLinkage);
            bufs[EPI_PARAMS] = LLVMConstBitCast(g, c->ptr);
        }
    }
    if (index < 0)
        return -1;
    bufs[EPI_SRC] = l->buf[cv->id];
    bufs[EPI_DST] = l->buf[u->id];
    bufs[EPI_X] = grad ? l->buf[u->args[0]->id] : LLVMConstNull(c->ptr);
    return kind;
}

/* The opcodes and types of fn's instructions, hashed. */
static uint64_t signature(LLVMValueRef fn)
{
    uint64_t h = 0;
    for (LLVMBasicBlockRef b = LLVMGetFirstBasicBlock(fn); b; b = LLVMGetNextBasicBlock(b))
        for (LLVMValueRef i = LLVMGetFirstInstruction(b); i; i = LLVMGetNextInstruction(i))
            h = (h * 31 + (uint64_t)LLVMGetInstructionOpcode(i)) * 31 +
                (uint64_t)(uintptr_t)LLVMTypeOf(i);
    return h;
}

/* An epilogue the module already has that is fn but for its name: a
   network's layers repeat their chains (bench/mlp784.act's backward entry
   has two of each of its two chains, examples/xor.act's forward entry two
   of one), and each function LLVM is spared is 50 to 140 machine
   instructions of a first compile. */
static LLVMValueRef same_epilogue(cc_ctx *c, LLVMValueRef fn)
{
    uint64_t sig = signature(fn);
    char *mine = NULL;
    LLVMValueRef found = NULL;
    for (LLVMValueRef f = LLVMGetFirstFunction(c->mod); f && !found; f = LLVMGetNextFunction(f)) {
        size_t n;
        /* printing walks the whole module: only functions of the same
           instructions are printed and compared */
        if (f == fn || strncmp(LLVMGetValueName2(f, &n), "act.epilogue", 12) || signature(f) != sig)
            continue;
        mine = mine ? mine : LLVMPrintValueToString(fn);
        char *theirs = LLVMPrintValueToString(f);
        /* from the parameters on: the name comes before them */
        if (!strcmp(strchr(theirs, '('), strchr(mine, '(')))
            found = f;
        LLVMDisposeMessage(theirs);
    }
    LLVMDisposeMessage(mine);
    return found;
}

/* gemm(args[0..5], C, args[7..10], epi, ctx, args[13], pool) for v: C is the buffer of the
   first stored value of v's chain; the epilogue is built when the chain is
   more than v itself. */
static int call_gemm(cc_lower *l, const ir_value *v, LLVMValueRef args[15], act_error *err)
{
    cc_ctx *c = l->c;
    int n = l->g->values.n;
    const ir_value *cv = first_stored(l, v);
    bool *used = calloc((size_t)n, sizeof *used);
    int *slot = calloc((size_t)n, sizeof *slot);
    LLVMValueRef *buf = calloc((size_t)n, sizeof *buf);
    if (!used || !slot || !buf || !cv) {
        free(used);
        free(slot);
        free(buf);
        return act_error_set(err, NULL, cv ? ACT_ERR_NOMEM : ACT_ERR_UNSUPPORTED,
                             cv ? "out of memory" : "expected a stored product (a bug in act)");
    }
    LLVMTypeRef i8p = LLVMPointerType(LLVMInt8TypeInContext(c->ctx), 0);
    args[6] = l->buf[cv->id];
    args[11] = LLVMConstNull(LLVMPointerType(cc_epilogue_type(c), 0));
    args[12] = LLVMConstNull(i8p);
    args[13] = args[13] ? LLVMBuildBitCast(c->b, args[13], i8p, "")
                        : LLVMConstNull(i8p); /* no packed weights to keep */
    args[14] = c->jit ? l->pool : LLVMConstNull(i8p);
    LLVMValueRef lib[EPI_SLOTS];
    int kind = library_epilogue(l, v, cv, lib);
    if (kind >= 0) {
        LLVMValueRef epi = LLVMGetNamedFunction(c->mod, c->epilogues);
        args[11] = epi ? epi : LLVMAddFunction(c->mod, c->epilogues, cc_epilogue_type(c));
        lib[EPI_KIND] = LLVMConstIntToPtr(cc_i64(c, kind), c->ptr);
        LLVMValueRef bufs = cc_entry_alloca(c, LLVMArrayType(c->ptr, EPI_SLOTS));
        LLVMValueRef first = LLVMBuildBitCast(c->b, bufs, LLVMPointerType(c->ptr, 0), "");
        for (int i = 0; i < EPI_SLOTS; i++) {
            LLVMValueRef at = cc_i64(c, i);
            LLVMBuildStore(c->b, lib[i], LLVMBuildGEP2(c->b, c->ptr, first, &at, 1, ""));
        }
        args[12] = LLVMBuildBitCast(c->b, bufs, i8p, "");
    } else if (mark_chain(l, v, used) || cv != v) {
        int slots = 0;
        for (int i = 0; i < n; i++)
            slot[i] = used[i] && l->buf[i] ? slots++ : -1;
        LLVMValueRef epi = build_epilogue(l, v, cv, slot, buf), same = same_epilogue(c, epi);
        if (same)
            LLVMDeleteFunction(epi);
        args[11] = same ? same : epi;
        LLVMValueRef bufs = cc_entry_alloca(c, LLVMArrayType(c->ptr, (unsigned)slots));
        LLVMValueRef first = LLVMBuildBitCast(c->b, bufs, LLVMPointerType(c->ptr, 0), "");
        for (int i = 0; i < n; i++) {
            LLVMValueRef at = cc_i64(c, slot[i]);
            if (slot[i] >= 0)
                LLVMBuildStore(c->b, l->buf[i], LLVMBuildGEP2(c->b, c->ptr, first, &at, 1, ""));
        }
        args[12] = LLVMBuildBitCast(c->b, bufs, i8p, "");
    }
    LLVMBuildCall2(c->b, cc_gemm_type(c), cc_gemm_fn(l), args, 15, "");
    free(used);
    free(slot);
    free(buf);
    return 0;
}

/* x [R, K] · W [K, N] + b. */
int cc_lower_dense(cc_lower *l, const ir_value *v, act_error *err)
{
    cc_ctx *c = l->c;
    LLVMValueRef dims[IR_MAX_RANK], one = cc_i64(c, 1);
    cc_dims(l, v->args[1], dims);
    LLVMValueRef rows = cc_div0(c, cc_numel(l, v->args[0]), dims[0], false);
    LLVMValueRef bias = v->nargs == 3 ? l->buf[v->args[2]->id] : LLVMConstNull(c->ptr);
    LLVMValueRef args[15] = {l->buf[v->args[0]->id],
                             dims[0],
                             one,
                             l->buf[v->args[1]->id],
                             dims[1],
                             one,
                             NULL,
                             bias,
                             rows,
                             dims[1],
                             dims[0]};
    args[13] = l->packed[v->args[1]->id];
    return call_gemm(l, v, args, err);
}

/* dY [R, M] · Wᵀ with W [K, M] (B read across its rows, packed with
   gathers), and Xᵀ · dY with X [R, K] (A read down its columns). The
   first one's epilogue applies f'(z) of the layer below (the activation
   gradient that is its only reader), so that dy is never stored. */
int cc_lower_matmul(cc_lower *l, const ir_value *v, act_error *err)
{
    cc_ctx *c = l->c;
    const ir_value *a = v->args[0], *b = v->args[1];
    LLVMValueRef dims[IR_MAX_RANK], one = cc_i64(c, 1), none = LLVMConstNull(c->ptr);
    if (v->op == IR_MATMUL_NT) {
        cc_dims(l, b, dims);
        LLVMValueRef rows = cc_div0(c, cc_numel(l, a), dims[1], false);
        LLVMValueRef args[15] = {l->buf[a->id], dims[1], one,  l->buf[b->id], one,    dims[1],
                                 NULL,          none,    rows, dims[0],       dims[1]};
        return call_gemm(l, v, args, err);
    }
    cc_dims(l, v, dims);
    LLVMValueRef r = cc_div0(c, cc_numel(l, a), dims[0], false);
    LLVMValueRef args[15] = {l->buf[a->id], one,  dims[0], l->buf[b->id], dims[1], one,
                             NULL,          none, dims[0], dims[1],       r};
    return call_gemm(l, v, args, err);
}
