/* lower.c -- one entry point of a graph: which values it computes, which
   are fused into the kernel of their argument, which are stored, its typed
   signature, and the kernels in definition order. */
#include "cc.h"
#include "compile.h"

#include <stdlib.h>
#include <string.h>

/* A native array activation is a call on whole arrays: never fused. */
static bool is_unary_elementwise(const ir_value *v)
{
    return (v->op == IR_ACT && !v->act->native) || v->op == IR_SCALE;
}

static bool same_shape(const ir_shape *a, const ir_shape *b)
{
    if (a->rank != b->rank)
        return false;
    for (int d = 0; d < a->rank; d++)
        if (a->dim[d] != b->dim[d] || !a->sym[d] != !b->sym[d] ||
            (a->sym[d] && strcmp(a->sym[d], b->sym[d])))
            return false;
    return true;
}

/* add or mul of operands of its own shape: lane i of the result from lane
   i of each (no broadcasting). */
static bool is_pointwise_binary(const ir_value *v)
{
    return (v->op == IR_ADD || v->op == IR_MUL) && same_shape(&v->args[0]->shape, &v->shape) &&
           same_shape(&v->args[1]->shape, &v->shape);
}

/* A kernel that produces its result lane by lane in registers, so the
   elementwise ops after it can continue in the same kernel: a dense
   layer's epilogue, an activation or scale, a pointwise add, mul or sum of
   gradients, an activation's gradient (mish(2 (x + b)) and its gradient
   are then one pass over x, b and dy, not four). */
static bool is_continuable(const ir_value *v)
{
    return v->op == IR_DENSE || is_unary_elementwise(v) || is_pointwise_binary(v) ||
           v->op == IR_ACCUM || (v->op == IR_ACT_GRAD && !v->act->native);
}

/* Marks v and what it reads, up to the kept outputs (read, not computed).
   IR_ACT_GRAD reads x and y only where the derivative does. */
static void mark(cc_lower *l, const ir_value *v)
{
    if (l->need[v->id] || l->kept[v->id])
        return;
    l->need[v->id] = true;
    for (int i = 0; i < v->nargs; i++) {
        if (v->op == IR_ACT_GRAD && i == 0 && !ir_expr_uses_x(v->act->df))
            continue;
        mark(l, v->args[i]);
    }
}

static bool reads(const ir_value *v, int i)
{
    return !(v->op == IR_ACT_GRAD && i == 0 && !ir_expr_uses_x(v->act->df));
}

/* Which member of its loss op is (cc_loss_members: 0 the loss, 1 and 2
   the gradients of its arguments), or -1 for another op. */
static int loss_slot(ir_op op)
{
    switch (op) {
    case IR_SCE:
    case IR_BCE:
    case IR_MSE:
        return 0;
    case IR_SCE_GRAD_LOGITS:
    case IR_BCE_GRAD_X:
    case IR_MSE_GRAD_Y:
        return 1;
    case IR_SCE_GRAD_TARGET:
    case IR_BCE_GRAD_T:
    case IR_MSE_GRAD_T:
        return 2;
    default:
        return -1;
    }
}

ir_op cc_loss_op(const ir_value *v)
{
    switch (v->op) {
    case IR_SCE_GRAD_LOGITS:
    case IR_SCE_GRAD_TARGET:
        return IR_SCE;
    case IR_BCE_GRAD_X:
    case IR_BCE_GRAD_T:
        return IR_BCE;
    case IR_MSE_GRAD_Y:
    case IR_MSE_GRAD_T:
        return IR_MSE;
    default:
        return v->op;
    }
}

static bool same_loss(const ir_value *u, const ir_value *v)
{
    return cc_loss_op(u) == cc_loss_op(v) && u->args[0] == v->args[0] && u->args[1] == v->args[1];
}

/* Whether a value the entry computes after `from`, up to `to`, reads it. */
static bool read_before(const cc_lower *l, int from, int to)
{
    for (int i = from + 1; i <= to; i++) {
        const ir_value *u = l->g->values.items[i];
        for (int k = 0; l->need[i] && k < u->nargs; k++)
            if (u->args[k] == l->g->values.items[from] && reads(u, k))
                return true;
    }
    return false;
}

/* A loss and its gradients read the same z and t: the last of them the
   entry computes makes the others in its kernel, when nothing in between
   reads them. One pass over z and t instead of three, and for
   softmax_cross_entropy a row's max, exps and sums once: a quarter of the
   machine code of bench/mlp784.act's backward entry. */
static void join_losses(cc_lower *l)
{
    int n = l->g->values.n;
    for (int i = 0; i < n; i++)
        l->lead[i] = i;
    for (int w = n - 1; w >= 0; w--) {
        const ir_value *last = l->g->values.items[w];
        if (!l->need[w] || l->lead[w] != w || loss_slot(last->op) < 0)
            continue;
        bool taken[3] = {false};
        taken[loss_slot(last->op)] = true;
        for (int q = w - 1; q >= 0; q--) {
            const ir_value *u = l->g->values.items[q];
            if (!l->need[q] || loss_slot(u->op) < 0 || !same_loss(u, last) ||
                taken[loss_slot(u->op)] || read_before(l, q, w))
                continue;
            taken[loss_slot(u->op)] = true;
            l->lead[q] = w;
        }
    }
}

void cc_loss_members(const cc_lower *l, const ir_value *v, const ir_value *m[3])
{
    m[0] = m[1] = m[2] = NULL;
    for (int i = 0; i <= v->id; i++)
        if (l->lead[i] == v->id)
            m[loss_slot(((const ir_value *)l->g->values.items[i])->op)] = l->g->values.items[i];
}

/* Whether w's lanes are in registers while p's kernel makes p: w is p,
   or on the chain p continues, up to the value its kernel starts from. */
static bool on_path(const cc_lower *l, const ir_value *w, const ir_value *p)
{
    for (;; p = p->args[l->from[p->id]]) {
        if (p == w)
            return true;
        if (l->from[p->id] < 0)
            return false;
    }
}

/* Whether w is in memory when the kernel lowered at value id k runs:
   given to the entry, or made by an earlier kernel (it is then stored). */
static bool ready(const cc_lower *l, const ir_value *w, int k)
{
    return w->op == IR_INPUT || w->op == IR_PARAM || w->op == IR_SEED || l->kept[w->id] ||
           (l->need[w->id] && l->at[w->id] < k);
}

/* Whether v can be made in the kernel of its argument k: that argument is
   made lane by lane by this entry, and v's other operands are in registers
   in that pass or in memory before it. */
static bool continues(const cc_lower *l, const ir_value *v, int k)
{
    const ir_value *p = v->args[k];
    if (!is_continuable(p) || !l->need[p->id] || p->op == IR_INPUT || p->op == IR_PARAM ||
        l->kept[p->id])
        return false;
    for (int j = 0; j < v->nargs; j++)
        if (j != k && reads(v, j) && !on_path(l, v->args[j], p) &&
            !ready(l, v->args[j], l->at[p->id]))
            return false;
    return true;
}

/* The argument whose kernel makes v, or -1 when v is a kernel's start.
   - an activation or scale continues its argument's kernel;
   - f'(x, y)·dy, in the epilogue of the product that makes dy when that is
     dy's only reader (dy is then never stored), else in dy's kernel, else
     in y's (one pass makes y and the gradient, and the formula and its
     derivative share their subexpressions: pure vector-math calls are
     merged), else in x's (y kept from the last run);
   - a pointwise add, mul or sum of gradients, in either operand's kernel
     (the gradients of mul(x, b) in the pass that makes the gradient of
     the product). */
static int chain_arg(const cc_lower *l, const ir_value *v)
{
    if (is_unary_elementwise(v))
        return continues(l, v, 0) ? 0 : -1;
    if (v->op == IR_ACT_GRAD && !v->act->native) {
        const ir_value *dy = v->args[2];
        if (dy->op == IR_MATMUL_NT && l->uses[dy->id] == 1)
            return 2;
        return continues(l, v, 2) ? 2 : continues(l, v, 1) ? 1 : continues(l, v, 0) ? 0 : -1;
    }
    if (is_pointwise_binary(v) || v->op == IR_ACCUM)
        return continues(l, v, 0) ? 0 : continues(l, v, 1) ? 1 : -1;
    return -1;
}

/* kept, need, uses, fused, stored of every value for the targets of the
   entry. A value read from a kept output is computed in a kernel of its
   own: the output's kernel does not run. */
static void plan(cc_lower *l, const cc_arg *args, int nargs)
{
    const ir_graph *g = l->g;
    for (int a = 0; a < nargs; a++) {
        const ir_value *v = args[a].kind == CC_ARG_VALUE ? g->values.items[args[a].id] : NULL;
        if (v && !args[a].written && v->op != IR_INPUT && v->op != IR_PARAM)
            l->kept[v->id] = true;
    }
    for (int a = 0; a < nargs; a++) {
        const ir_value *t = args[a].kind == CC_ARG_VALUE && args[a].written
                                ? g->values.items[args[a].id]
                            : args[a].kind == CC_ARG_GRAD ? g->grad[args[a].id]
                                                          : NULL;
        if (t) {
            mark(l, t);
            l->uses[t->id]++;
        }
    }
    for (int i = 0; i < g->values.n; i++) {
        const ir_value *v = g->values.items[i];
        for (int k = 0; l->need[i] && k < v->nargs; k++)
            if (reads(v, k))
                l->uses[v->args[k]->id]++;
    }
    join_losses(l);
    for (int i = 0; i < g->values.n; i++) {
        l->from[i] = l->need[i] ? chain_arg(l, g->values.items[i]) : -1;
        l->at[i] = (l->from[i] >= 0)
                       ? l->at[((const ir_value *)g->values.items[i])->args[l->from[i]]->id]
                       : l->lead[i];
    }
    /* stored: read from memory by someone, not from the lanes of its pass */
    for (int i = 0; i < g->values.n; i++) {
        int in_kernel = 0;
        for (int j = i + 1; j < g->values.n; j++) {
            const ir_value *u = g->values.items[j];
            for (int k = 0; l->from[j] >= 0 && k < u->nargs; k++)
                in_kernel += u->args[k]->id == i && reads(u, k) &&
                             on_path(l, u->args[k], u->args[l->from[j]]);
        }
        l->stored[i] = l->need[i] && l->uses[i] > in_kernel;
    }
}

bool cc_is_fused_into(const cc_lower *l, const ir_value *u, const ir_value *v)
{
    return l->need[u->id] && l->from[u->id] >= 0 && u->args[l->from[u->id]] == v;
}

void cc_dims(cc_lower *l, const ir_value *v, LLVMValueRef dims[IR_MAX_RANK])
{
    for (int d = 0; d < v->shape.rank; d++) {
        const char *sym = v->shape.sym[d];
        if (!sym) {
            dims[d] = cc_i64(l->c, v->shape.dim[d]);
            continue;
        }
        size_t len;
        int64_t k;
        ir_size_split(sym, &len, &k); /* "M/k": a maxout over size M */
        for (int s = 0; s < l->nsizes; s++)
            if (strlen(l->sizes[s]) == len && !strncmp(l->sizes[s], sym, len))
                dims[d] = l->size_v[s];
        if (k != 1)
            dims[d] = LLVMBuildSDiv(l->c->b, dims[d], cc_i64(l->c, k), "");
    }
}

LLVMValueRef cc_numel(cc_lower *l, const ir_value *v)
{
    LLVMValueRef dims[IR_MAX_RANK], n = cc_i64(l->c, 1);
    cc_dims(l, v, dims);
    /* a count of elements in memory never overflows: nsw lets instcombine
       fold the rows of a dense layer, (N K) / K, back to N */
    for (int d = 0; d < v->shape.rank; d++)
        n = LLVMBuildNSWMul(l->c->b, n, dims[d], "");
    return n;
}

LLVMValueRef cc_mem_take(cc_lower *l, LLVMValueRef bytes)
{
    cc_ctx *c = l->c;
    if (!c->jit)
        return LLVMBuildCall2(c->b, l->malloc_ty, l->malloc_fn, &bytes, 1, "");
    LLVMValueRef args[2] = {l->pool, bytes};
    return LLVMBuildCall2(c->b, l->malloc_ty, l->malloc_fn, args, 2, "");
}

void cc_mem_give(cc_lower *l, LLVMValueRef raw)
{
    cc_ctx *c = l->c;
    LLVMValueRef args[2] = {l->pool, raw};
    LLVMBuildCall2(c->b, l->free_ty, l->free_fn, c->jit ? args : &raw, c->jit ? 2 : 1, "");
}

/* n floats (and a vector of slack); *raw is what cc_mem_give takes. */
static LLVMValueRef call_malloc(cc_lower *l, LLVMValueRef n, LLVMValueRef *raw)
{
    cc_ctx *c = l->c;
    LLVMValueRef bytes =
        LLVMBuildMul(c->b, LLVMBuildAdd(c->b, n, cc_i64(c, c->width), ""), cc_i64(c, 4), "");
    *raw = cc_mem_take(l, bytes);
    return LLVMBuildBitCast(c->b, *raw, c->ptr, "");
}

static LLVMValueRef declare(cc_ctx *c, const char *name, LLVMTypeRef type)
{
    LLVMValueRef f = LLVMGetNamedFunction(c->mod, name);
    return f ? f : LLVMAddFunction(c->mod, name, type);
}

void cc_declare_pool(cc_lower *l, const char *take_name, const char *give_name)
{
    cc_ctx *c = l->c;
    LLVMTypeRef i8p = LLVMPointerType(LLVMInt8TypeInContext(c->ctx), 0);
    LLVMTypeRef take[2] = {i8p, c->i64}, give[2] = {i8p, i8p};
    l->malloc_ty = LLVMFunctionType(i8p, take, 2, false);
    l->free_ty = LLVMFunctionType(LLVMVoidTypeInContext(c->ctx), give, 2, false);
    l->malloc_fn = declare(c, take_name, l->malloc_ty);
    l->free_fn = declare(c, give_name, l->free_ty);
}

/* The JIT's pool (pool.c, symbols the JIT defines), or malloc and free. */
static void declare_memory(cc_lower *l)
{
    cc_ctx *c = l->c;
    LLVMTypeRef i8 = LLVMInt8TypeInContext(c->ctx), i8p = LLVMPointerType(i8, 0);
    LLVMTypeRef v = LLVMVoidTypeInContext(c->ctx);
    if (c->jit) {
        if (!(l->pool = LLVMGetNamedGlobal(c->mod, "act_jit_pool")))
            l->pool = LLVMAddGlobal(c->mod, i8, "act_jit_pool");
        cc_declare_pool(l, "act_jit_take", "act_jit_give");
        return;
    }
    l->malloc_ty = LLVMFunctionType(i8p, &c->i64, 1, false);
    l->free_ty = LLVMFunctionType(v, &i8p, 1, false);
    l->malloc_fn = declare(c, "malloc", l->malloc_ty);
    l->free_fn = declare(c, "free", l->free_ty);
}

/* Copies n floats (an output that is an input, a gradient that is another
   value's), or zeros them when src is NULL (no gradient reaches an input):
   memmove or memset rather than a loop of one float at a time, which only
   LLVM's O2 made fast (without it, 50 us of a chain's backward on 256K
   floats). */
static void copy_floats(cc_lower *l, LLVMValueRef dst, LLVMValueRef src, LLVMValueRef n)
{
    if (src)
        cc_move_floats(l->c, dst, src, n);
    else
        cc_zero_floats(l->c, dst, n);
}

/* Whether v (a gradient) is computed by a kernel of this entry into a buffer
   not bound yet, which can then be the gradient's argument. */
static bool is_computed_here(const cc_lower *l, const ir_value *v)
{
    return v && l->need[v->id] && !l->buf[v->id] && v->op != IR_INPUT && v->op != IR_PARAM &&
           v->op != IR_SEED;
}

/* The function: arguments bound to buffers and sizes, intermediates
   allocated, kernels in order, results copied where an argument is not the
   value's own buffer, intermediates freed. */
int cc_lower_entry(cc_ctx *c, const ir_graph *g, const char *name, const cc_arg *args, int nargs,
                   act_error *err)
{
    int n = g->values.n;
    cc_lower l = {.c = c, .g = g};
    LLVMValueRef *extra = calloc((size_t)nargs + 1, sizeof *extra);
    LLVMValueRef *owned = calloc((size_t)n, sizeof *owned); /* malloc'ed here, freed at the end */
    l.buf = calloc((size_t)n, sizeof *l.buf);
    l.need = calloc((size_t)n, sizeof *l.need);
    l.kept = calloc((size_t)n, sizeof *l.kept);
    l.packed = calloc((size_t)n, sizeof *l.packed);
    l.uses = calloc((size_t)n, sizeof *l.uses);
    l.from = calloc((size_t)n, sizeof *l.from);
    l.at = calloc((size_t)n, sizeof *l.at);
    l.lead = calloc((size_t)n, sizeof *l.lead);
    l.lanes = calloc((size_t)n, sizeof *l.lanes);
    l.stored = calloc((size_t)n, sizeof *l.stored);
    l.twin = calloc((size_t)n, sizeof *l.twin);
    l.twin_stored = calloc((size_t)n, sizeof *l.twin_stored);
    l.sizes = calloc((size_t)nargs + 1, sizeof *l.sizes);
    l.size_v = calloc((size_t)nargs + 1, sizeof *l.size_v);
    LLVMTypeRef *types = calloc((size_t)nargs + 1, sizeof *types);
    int rc = 0;
    if (!extra || !owned || !l.buf || !l.need || !l.kept || !l.packed || !l.uses || !l.from ||
        !l.at || !l.lead || !l.lanes || !l.stored || !l.twin || !l.twin_stored || !l.sizes ||
        !l.size_v || !types) {
        rc = act_error_set(err, NULL, ACT_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (int a = 0; a < nargs; a++)
        types[a] = args[a].kind == CC_ARG_SIZE ? c->i64 : c->ptr;
    LLVMTypeRef fty = LLVMFunctionType(LLVMVoidTypeInContext(c->ctx), types, (unsigned)nargs, 0);
    l.fn = LLVMAddFunction(c->mod, name, fty);
    declare_memory(&l);
    LLVMPositionBuilderAtEnd(c->b, LLVMAppendBasicBlockInContext(c->ctx, l.fn, "entry"));
    plan(&l, args, nargs);
    for (int i = 0; i < n; i++)
        c->gradients =
            c->gradients || (l.need[i] && ((ir_value *)g->values.items[i])->op == IR_ACT_GRAD);
    for (int a = 0; a < nargs; a++) {
        LLVMValueRef p = LLVMGetParam(l.fn, (unsigned)a);
        const cc_arg *arg = &args[a];
        if (arg->kind == CC_ARG_SIZE) {
            l.sizes[l.nsizes] = arg->size;
            l.size_v[l.nsizes++] = p;
        } else if (arg->kind == CC_ARG_PACKED) {
            l.packed[arg->id] = p;
        } else if (arg->kind == CC_ARG_SEED) {
            l.buf[((ir_value *)g->seeds[arg->id])->id] = p;
        } else if (arg->kind == CC_ARG_VALUE && !l.buf[arg->id]) {
            l.buf[arg->id] = p;
        } else if (arg->kind == CC_ARG_GRAD && is_computed_here(&l, g->grad[arg->id])) {
            l.buf[g->grad[arg->id]->id] = p; /* computed in place: no copy */
        } else {
            extra[a] = p; /* another gradient, or a value bound twice: copied at the end */
            const ir_value *v = arg->kind == CC_ARG_GRAD ? g->grad[arg->id] : NULL;
            if (v && l.need[v->id] && l.buf[v->id] && !l.twin[v->id])
                l.twin[v->id] = p; /* or stored twice, in its kernel */
        }
    }
    /* intermediates */
    for (int i = 0; i < n; i++)
        if (l.stored[i] && !l.buf[i])
            l.buf[i] = call_malloc(&l, cc_numel(&l, g->values.items[i]), &owned[i]);
    l.owned = owned;
    for (int i = 0; i < n && !rc; i++) {
        const ir_value *v = g->values.items[i];
        if (l.need[i] && l.from[i] < 0 && l.lead[i] == i && v->op != IR_INPUT &&
            v->op != IR_PARAM && v->op != IR_SEED)
            rc = cc_lower_value(&l, v, err);
    }
    for (int a = 0; a < nargs && !rc; a++) {
        const ir_value *v =
            args[a].kind == CC_ARG_GRAD ? g->grad[args[a].id] : g->values.items[args[a].id];
        if (!extra[a] || (v && l.twin[v->id] == extra[a] && l.twin_stored[v->id]))
            continue;
        const ir_value *shape_of = args[a].kind == CC_ARG_GRAD ? g->values.items[args[a].id] : v;
        LLVMValueRef count = cc_numel(&l, shape_of);
        copy_floats(&l, extra[a], v ? l.buf[v->id] : NULL, count);
    }
    for (int i = 0; i < n; i++)
        if (owned[i])
            cc_mem_give(&l, owned[i]);
    LLVMBuildRetVoid(c->b);
done:
    free(extra);
    free(owned);
    free(l.buf);
    free(l.need);
    free(l.kept);
    free(l.packed);
    free(l.uses);
    free(l.from);
    free(l.at);
    free(l.lead);
    free(l.lanes);
    free(l.stored);
    free(l.twin);
    free(l.twin_stored);
    free(l.sizes);
    free(l.size_v);
    free(types);
    return rc;
}

int cc_lower_value(cc_lower *l, const ir_value *v, act_error *err)
{
    switch (v->op) {
    case IR_DENSE:
        return cc_lower_dense(l, v, err);
    case IR_ACT:
    case IR_SCALE:
        if (v->op == IR_ACT && v->act->native)
            cc_lower_native_array(l, v);
        else
            cc_lower_elementwise(l, v);
        break;
    case IR_ADD:
    case IR_MUL:
        if (is_pointwise_binary(v))
            cc_lower_pointwise(l, v);
        else
            cc_lower_indexed(l, v);
        break;
    case IR_ACT_GRAD:
        if (v->act->native)
            cc_lower_native_array(l, v);
        else
            cc_lower_pointwise(l, v);
        break;
    case IR_ACCUM:
    case IR_ONE:
        cc_lower_pointwise(l, v);
        break;
    case IR_MATMUL_NT:
    case IR_MATMUL_TN:
        return cc_lower_matmul(l, v, err);
    case IR_SOFTMAX:
    case IR_LOG_SOFTMAX:
    case IR_SOFTMAX_GRAD:
    case IR_LOG_SOFTMAX_GRAD:
        cc_lower_rows(l, v);
        break;
    case IR_SCE:
    case IR_SCE_GRAD_LOGITS:
    case IR_SCE_GRAD_TARGET:
    case IR_BCE:
    case IR_MSE:
    case IR_BCE_GRAD_X:
    case IR_BCE_GRAD_T:
    case IR_MSE_GRAD_Y:
    case IR_MSE_GRAD_T:
        cc_lower_loss(l, v);
        break;
    default: /* SUM_TO, PRELU*, RRELU*, MAXOUT* */
        cc_lower_indexed(l, v);
        break;
    }
    return 0;
}
