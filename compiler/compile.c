/* compile.c -- entry points on demand: the typed signature of each mode,
   lowering, the JIT, and the context's cache, so that a graph compiled
   once is never compiled again in that context (nor, with ACT_CACHE_DIR,
   in another process: disk_cache.c). */
#include "cc.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    char *key; /* canonical module text, graph, mode */
    cc_entry entry;
} cached;

struct cc_cache {
    pthread_mutex_t lock; /* compiling and the table, from any thread (POSIX, which
                             ThreadSanitizer sees: compiler/pool.c) */
    cc_jit *jit;          /* made at the first compilation */
    cc_target target;
    cached **items; /* each allocated once: programs keep pointers to entries */
    int n, cap;
};

static void free_entry(cc_entry *e)
{
    for (int a = 0; e->args && a < e->nargs; a++)
        if (e->args[a].kind == CC_ARG_SIZE)
            free((char *)e->args[a].size);
    free(e->args);
    free((char *)e->name);
}

cc_cache *cc_cache_new(void)
{
    cc_cache *c = calloc(1, sizeof *c);
    if (c && pthread_mutex_init(&c->lock, NULL)) {
        free(c);
        return NULL;
    }
    return c;
}

void cc_cache_free(cc_cache *c)
{
    if (!c)
        return;
    for (int i = 0; i < c->n; i++) {
        free(c->items[i]->key);
        free_entry(&c->items[i]->entry);
        free(c->items[i]);
    }
    free(c->items);
    cc_jit_free(c->jit);
    if (c->target.triple)
        cc_target_fini(&c->target);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

static bool is_leaf(const ir_value *v)
{
    return v->op == IR_INPUT || v->op == IR_PARAM;
}

static void add_size(cc_arg *args, int *n, const char *sym)
{
    size_t len;
    int64_t k;
    ir_size_split(sym, &len, &k);
    if (k != 1) /* "M/k" is derived from M, which an input binds */
        return;
    for (int i = 0; i < *n; i++)
        if (args[i].kind == CC_ARG_SIZE && !strcmp(args[i].size, sym))
            return;
    args[(*n)++] = (cc_arg){.kind = CC_ARG_SIZE, .size = sym};
}

/* The params some dense layer reads as its weights. */
static bool is_weights(const ir_graph *g, const ir_value *v)
{
    for (int i = 0; v->op == IR_PARAM && i < g->nforward; i++) {
        const ir_value *u = g->values.items[i];
        if (u->op == IR_DENSE && u->args[1] == v)
            return true;
    }
    return false;
}

cc_arg *cc_signature(const ir_graph *g, cc_mode mode, bool jit, int *nargs)
{
    /* leaves (and their gradients), seeds and outputs, the loss, sizes */
    int cap = 3 * g->nforward + 2 * g->outputs.n + 1 + IR_MAX_RANK * g->nforward;
    cc_arg *args = calloc((size_t)cap, sizeof *args);
    int n = 0;
    if (!args)
        return NULL;
    for (int i = 0; i < g->nforward; i++)
        if (is_leaf(g->values.items[i]))
            args[n++] = (cc_arg){.kind = CC_ARG_VALUE, .id = i};
    bool vjp = mode == CC_VJP || mode == CC_VJP_SAVED;
    for (int j = 0; vjp && j < g->outputs.n; j++)
        args[n++] = (cc_arg){.kind = CC_ARG_SEED, .id = j};
    for (int j = 0; j < g->outputs.n; j++)
        args[n++] = (cc_arg){.kind = CC_ARG_VALUE,
                             .id = ((ir_value *)g->outputs.items[j])->id,
                             .written = mode != CC_VJP_SAVED};
    bool loss = mode == CC_FORWARD_LOSS || mode == CC_BACKWARD || mode == CC_BACKWARD_PARAMS;
    if (g->loss && loss)
        args[n++] = (cc_arg){.kind = CC_ARG_VALUE, .id = g->loss->id, .written = true};
    /* without the inputs' gradients, the product that makes the first
       layer's d_x is not built: a quarter of the MLP's backward work */
    bool grads = mode == CC_BACKWARD || vjp || mode == CC_BACKWARD_PARAMS;
    for (int i = 0; grads && i < g->nforward; i++) {
        const ir_value *v = g->values.items[i];
        if (is_leaf(v) && (mode != CC_BACKWARD_PARAMS || v->op == IR_PARAM))
            args[n++] = (cc_arg){.kind = CC_ARG_GRAD, .id = i, .written = true};
    }
    /* forward entries only: a training step changes the weights it packs */
    bool forward = mode == CC_FORWARD || mode == CC_FORWARD_LOSS;
    for (int i = 0; jit && forward && i < g->nforward; i++)
        if (is_weights(g, g->values.items[i]))
            args[n++] = (cc_arg){.kind = CC_ARG_PACKED, .id = i};
    for (int i = 0; i < g->nforward; i++) {
        const ir_value *v = g->values.items[i];
        for (int d = 0; v->op == IR_INPUT && d < v->shape.rank; d++)
            if (v->shape.sym[d])
                add_size(args, &n, v->shape.sym[d]);
    }
    *nargs = n;
    return args;
}

const char *cc_mode_name(cc_mode mode)
{
    static const char *const names[CC_MODE_COUNT_] = {"forward", "forward_loss",    "backward",
                                                      "vjp",     "backward_params", "vjp_saved"};
    return names[mode];
}

static char *cache_key(const char *text, const ir_graph *g, cc_mode mode)
{
    size_t n = strlen(text) + strlen(g->name) + 64;
    char *key = malloc(n);
    if (key)
        snprintf(key, n, "%s\n# graph %s, %s\n", text, g->name, cc_mode_name(mode));
    return key;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return 1e3 * (double)ts.tv_sec + 1e-6 * (double)ts.tv_nsec;
}

/* The entry's signature, with its own copies of the size names (the entry
   outlives the module it was compiled from), and its symbol. */
static int describe(const ir_graph *g, cc_mode mode, const char *name, cc_entry *e, act_error *err)
{
    int nargs = 0;
    e->args = cc_signature(g, mode, true, &nargs);
    e->nargs = e->args ? nargs : 0;
    if (!e->args)
        return act_error_set(err, NULL, ACT_ERR_NOMEM, "out of memory");
    for (int a = 0; a < nargs; a++) {
        char *copy = e->args[a].kind == CC_ARG_SIZE ? strdup(e->args[a].size) : NULL;
        if (e->args[a].kind == CC_ARG_SIZE && !copy) {
            for (int b = a; b < nargs; b++) /* not ours to free */
                if (e->args[b].kind == CC_ARG_SIZE)
                    e->args[b].size = NULL;
            return act_error_set(err, NULL, ACT_ERR_NOMEM, "out of memory");
        }
        if (copy)
            e->args[a].size = copy;
    }
    if (!(e->name = strdup(name)))
        return act_error_set(err, NULL, ACT_ERR_NOMEM, "out of memory");
    return 0;
}

/* Fills e with the entry named name: from the disk cache when it holds
   full_key, else lowered and compiled (and stored there). */
static int build(cc_cache *cache, const ir_graph *g, cc_mode mode, const char *full_key,
                 const char *name, cc_entry *e, act_error *err)
{
    double t0 = now_ms();
    int rc = describe(g, mode, name, e, err);
    if (rc)
        return rc;
    bool portable = true; /* code calling natives at their addresses stays in this process */
    for (int i = 0; i < g->values.n; i++)
        portable = portable && !cc_value_calls_native(g->values.items[i]);
    size_t size = 0;
    char *obj = portable ? cc_disk_load(full_key, name, &size) : NULL;
    e->from_disk = obj != NULL;
    if (!obj) {
        if ((rc = cc_target_machine(&cache->target, err)))
            return rc;
        cc_ctx c;
        cc_ctx_init(&c, cc_jit_context(cache->jit), &cache->target, g->name);
        c.jit = true;
        const cc_gemm_variant *gemm = cc_gemm_library(&cache->target);
        c.gemm = gemm ? gemm->name : NULL;
        c.kernels = gemm ? gemm->kernels : NULL;
        c.epilogues = gemm ? gemm->epilogues : NULL;
        rc = cc_lower_entry(&c, g, name, e->args, e->nargs, err);
        cc_ctx_fini(&c);
        if (rc) {
            LLVMDisposeModule(c.mod);
            return rc;
        }
        /* O2 for loops of scalars, and where no library GEMM fits the
           target (the module builds its own, as the library's, at O2) */
        cc_opt level = c.scalar_loops || !c.gemm ? CC_OPT_FULL : CC_OPT_KERNELS;
        if ((rc = cc_codegen(c.mod, &cache->target, level, &obj, &size, err)))
            return rc;
        if (portable)
            cc_disk_store(full_key, name, obj, size);
    }
    rc = cc_jit_add_object(cache->jit, obj, size, e->from_disk ? &e->mapped : NULL, err);
    free(obj);
    if (rc)
        return rc;
    if (!(e->fn = (void (*)(void))cc_jit_lookup(cache->jit, name, err)))
        return ACT_ERR_UNSUPPORTED;
    e->compile_ms = now_ms() - t0;
    return 0;
}

static int prepare(cc_cache *cache, act_error *err)
{
    if (cache->jit)
        return 0;
    int rc = cc_target_describe(&cache->target, NULL, NULL, err);
    if (!rc && !(cache->jit = cc_jit_new(err))) {
        cc_target_fini(&cache->target);
        rc = ACT_ERR_NOMEM;
    }
    return rc;
}

const cc_entry *cc_compile(cc_cache *cache, const char *module_text, const ir_graph *g,
                           cc_mode mode, bool *hit, act_error *err)
{
    char *key = cache_key(module_text, g, mode);
    if (!key)
        return act_error_set(err, NULL, ACT_ERR_NOMEM, "out of memory"), NULL;
    pthread_mutex_lock(&cache->lock);
    const cc_entry *found = NULL;
    for (int i = 0; i < cache->n && !found; i++)
        if (!strcmp(cache->items[i]->key, key))
            found = &cache->items[i]->entry;
    if (hit)
        *hit = found != NULL;
    if (!found && cache->n == cache->cap) {
        int cap = cache->cap ? 2 * cache->cap : 8;
        cached **items = realloc(cache->items, (size_t)cap * sizeof *items);
        if (items) {
            cache->items = items;
            cache->cap = cap;
        }
    }
    cached *slot = found || cache->n == cache->cap ? NULL : calloc(1, sizeof *slot);
    if (!found && !slot)
        act_error_set(err, NULL, ACT_ERR_NOMEM, "out of memory");
    char name[40], *full_key = NULL;
    if (slot && !prepare(cache, err) && !(full_key = cc_disk_key(key, &cache->target, name)))
        act_error_set(err, NULL, ACT_ERR_NOMEM, "out of memory");
    if (full_key && !build(cache, g, mode, full_key, name, &slot->entry, err)) {
        slot->key = key;
        key = NULL;
        found = &slot->entry;
        cache->items[cache->n++] = slot;
    } else if (slot) {
        free_entry(&slot->entry);
        free(slot);
    }
    pthread_mutex_unlock(&cache->lock);
    free(full_key);
    free(key);
    return found;
}
