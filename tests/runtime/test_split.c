/* test_split.c -- the JIT's batch split across threads (runtime/split.c,
   jit_split.c): which graphs are batch-separable; forward, backward (loss)
   and vjp with 1, 2 and 3 threads against 1 thread and the interpreter, at
   batch sizes that do not divide among the threads and below their count;
   graphs that are not separable give the 1-thread bits; the default thread
   count follows the CPUs the process may run on. */
#define _GNU_SOURCE /* sched_setaffinity */
#include "support.h"

#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- which graphs split -------------------------------------------------- */

static const char *const mlp_src = "graph g {\n"
                                   " input x : f32[N, 6]\n"
                                   " input t : f32[N, 3]\n"
                                   " param W1 : f32[6, 5] = glorot(seed = 1)\n"
                                   " param b1 : f32[5] = uniform(-0.5, 0.5, seed = 2)\n"
                                   " param W2 : f32[5, 3] = glorot(seed = 3)\n"
                                   " param b2 : f32[3] = uniform(-0.5, 0.5, seed = 4)\n"
                                   " h = tanh(dense(x, W1, b1))\n"
                                   " z = dense(h, W2, b2)\n"
                                   " p = softmax(z)\n"
                                   " output p\n"
                                   " loss L = softmax_cross_entropy(z, t)\n"
                                   "}\n";

/* rank 3, prelu, maxout, log_softmax over a non-leading axis, mse */
static const char *const mse_src = "graph g {\n"
                                   " input x : f32[B, 2, 8]\n"
                                   " input t : f32[B, 2, 2]\n"
                                   " param W : f32[8, 8] = glorot(seed = 5)\n"
                                   " param s : f32[8] = uniform(0, 0.3, seed = 6)\n"
                                   " a = prelu(dense(x, W), s)\n"
                                   " m = maxout(a, k = 4)\n"
                                   " y = log_softmax(m, axis = 1)\n"
                                   " output y\n"
                                   " loss L = mse(y, t)\n"
                                   "}\n";

/* elementwise chain, broadcasting of a param and of an input without a
   size name (shared: its gradient adds up over the chunks) */
static const char *const chain_src = "graph g {\n"
                                     " input x : f32[N, 4]\n"
                                     " input c : f32[4]\n"
                                     " input t : f32[N, 4]\n"
                                     " param k : f32[1, 4] = uniform(0.5, 1.5, seed = 7)\n"
                                     " a = mul(add(x, c), k)\n"
                                     " y = swish(gelu(scale(a, s = 0.5)))\n"
                                     " e = rrelu(y)\n"
                                     " output y, e\n"
                                     " loss L = sigmoid_cross_entropy(e, t)\n"
                                     "}\n";

static const char *const vector_src = "graph g {\n"
                                      " input x : f32[N]\n"
                                      " y = sigmoid(mul(x, x))\n"
                                      " output y\n"
                                      "}\n";

static const char *const softmax_axis0_src = "graph g {\n"
                                             " input x : f32[N, 3]\n"
                                             " input t : f32[N, 3]\n"
                                             " param b : f32[3] = uniform(-1, 1, seed = 8)\n"
                                             " y = softmax(add(x, b), axis = 0)\n"
                                             " output y\n"
                                             " loss L = mse(y, t)\n"
                                             "}\n";

static const char *const rrelu_src = "graph g {\n"
                                     " input x : f32[N, 3]\n"
                                     " input t : f32[N, 3]\n"
                                     " param b : f32[3] = uniform(-1, 1, seed = 9)\n"
                                     " y = rrelu(add(x, b), training = 1, seed = 3)\n"
                                     " output y\n"
                                     " loss L = mse(y, t)\n"
                                     "}\n";

static const char *const two_sizes_src = "graph g {\n"
                                         " input x : f32[N, 3]\n"
                                         " input u : f32[M, 3]\n"
                                         " param b : f32[3] = uniform(-1, 1, seed = 10)\n"
                                         " y = tanh(add(x, b))\n"
                                         " z = tanh(add(u, b))\n"
                                         " output y, z\n"
                                         "}\n";

typedef struct {
    const char *src;
    const char *size; /* the split size, NULL: not separable */
} separable_case;

static const separable_case separable_cases[] = {
    {NULL, "N"},  /* mlp_src */
    {NULL, "B"},  /* mse_src */
    {NULL, "N"},  /* chain_src */
    {NULL, "N"},  /* vector_src */
    {NULL, NULL}, /* softmax_axis0_src */
    {NULL, NULL}, /* rrelu_src */
    {NULL, NULL}, /* two_sizes_src */
    /* softmax over the leading axis, written as -2 */
    {"graph g {\n input x : f32[N, 3]\n y = softmax(x, axis = -2)\n output y\n}\n", NULL},
    {"graph g {\n input x : f32[N, 3]\n y = log_softmax(x, axis = 1)\n output y\n}\n", "N"},
    /* maxout over the rows of a vector */
    {"graph g {\n input x : f32[N]\n y = maxout(x, k = 2)\n output y\n}\n", NULL},
    /* a size name inside */
    {"graph g {\n input x : f32[3, N]\n y = relu(x)\n output y\n}\n", NULL},
    {"graph g {\n input x : f32[N, 3]\n param b : f32[N, 3]\n y = add(x, b)\n output y\n}\n", NULL},
    /* broadcasting that puts the rows inside */
    {"graph g {\n input x : f32[N, 3]\n param b : f32[2, 1, 3] = zeros\n y = add(x, b)\n"
     " output y\n}\n",
     NULL},
    /* an output shared by every row */
    {"graph g {\n input x : f32[N, 3]\n param b : f32[3] = ones\n y = relu(add(x, b))\n"
     " c = scale(b)\n output y, c\n}\n",
     NULL},
    /* no size name: nothing to split */
    {"graph g {\n input x : f32[4, 3]\n y = relu(x)\n output y\n}\n", NULL},
};

static void test_split_tells_separable_graphs(void **state)
{
    (void)state;
    const char *const named[] = {mlp_src,           mse_src,   chain_src,    vector_src,
                                 softmax_axis0_src, rrelu_src, two_sizes_src};
    act_context *ctx = act_context_new();
    for (size_t i = 0; i < sizeof separable_cases / sizeof *separable_cases; i++) {
        const separable_case *c = &separable_cases[i];
        act_program *p = ts_compile(ctx, c->src ? c->src : named[i]);
        if (!c->size && p->split.size)
            fail_msg("case %zu: expected not separable, found split on %s", i, p->split.size);
        if (c->size && (!p->split.size || strcmp(p->split.size, c->size)))
            fail_msg("case %zu: expected split on %s, found %s", i, c->size,
                     p->split.size ? p->split.size : "none");
        act_program_free(p);
    }
    act_context_free(ctx);
}

/* The work estimate keeps a tiny graph on one thread and splits the
   benchmark's MLP at batch 256; explicit counts are a ceiling. */
static void test_split_chunks_follow_the_work(void **state)
{
    (void)state;
    act_context *ctx = act_context_new();
    char *src = ts_read_text(ACT_SOURCE_DIR "/examples/xor.act");
    act_program * xor = ts_compile(ctx, src);
    free(src);
    act_set_threads(xor, 4);
    assert_non_null(xor->split.size);
    assert_int_equal(rt_split_chunks(xor, 4), 1);
    assert_int_equal(rt_split_chunks(xor, 64), 1);
    src = ts_read_text(ACT_SOURCE_DIR "/bench/mlp784.act");
    act_program *mlp = ts_compile(ctx, src);
    free(src);
    act_set_threads(mlp, 2);
    assert_int_equal(rt_split_chunks(mlp, 256), 2);
    assert_int_equal(rt_split_chunks(mlp, 8), 1); /* fewer rows than a chunk's least */
    act_set_threads(mlp, 1);
    assert_int_equal(rt_split_chunks(mlp, 256), 1);
    act_set_threads(mlp, 3);
    assert_int_equal(rt_split_chunks(mlp, 256), 3);
    assert_int_equal(rt_split_chunks(mlp, 17), 2);
    act_program_free(mlp);
    act_program_free(xor);
    act_context_free(ctx);
}

/* Threads 0 (the default) means the CPUs this process may run on: one
   when it is pinned to one, as taskset does. */
static void test_split_default_threads_follow_affinity(void **state)
{
    (void)state;
    cpu_set_t all, one;
    assert_int_equal(sched_getaffinity(0, sizeof all, &all), 0);
    act_context *ctx = act_context_new();
    char *src = ts_read_text(ACT_SOURCE_DIR "/bench/mlp784.act");
    act_program *mlp = ts_compile(ctx, src);
    free(src);
    int cpus = CPU_COUNT(&all);
    assert_int_equal(rt_split_chunks(mlp, 4096), cpus < 64 ? cpus : 64);
    CPU_ZERO(&one);
    for (int c = 0; c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, &all)) {
            CPU_SET(c, &one);
            break;
        }
    assert_int_equal(sched_setaffinity(0, sizeof one, &one), 0);
    assert_int_equal(rt_split_chunks(mlp, 4096), 1);
    act_set_threads(mlp, 2); /* asked for: kept, pinned or not */
    assert_int_equal(rt_split_chunks(mlp, 4096), 2);
    assert_int_equal(sched_setaffinity(0, sizeof all, &all), 0);
    act_program_free(mlp);
    act_context_free(ctx);
}

/* ---- the same results on any number of threads --------------------------- */

static double rnd(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(*s >> 11) * 0x1p-53;
}

/* Sets every input of p (rows rows for its size name) from a seeded
   generator, and with vjp a gradient for every output. */
static void set_inputs(act_program *p, int64_t rows, bool vjp)
{
    uint64_t s = 12345;
    act_error err = {0};
    for (int i = 0; i < p->g->nforward; i++) {
        ir_value *v = p->g->values.items[i];
        bool out = false;
        for (int j = 0; j < p->g->outputs.n; j++)
            out = out || p->g->outputs.items[j] == v;
        if (v->op != IR_INPUT && !(vjp && out))
            continue;
        int64_t shape[IR_MAX_RANK];
        for (int d = 0; d < v->shape.rank; d++)
            shape[d] = v->shape.sym[d] ? rows : v->shape.dim[d];
        int64_t n = rt_count(shape, v->shape.rank);
        float *x = malloc((size_t)(n + 1) * sizeof *x);
        for (int64_t k = 0; k < n; k++)
            x[k] = (float)(4 * rnd(&s) - 2);
        int rc = v->op == IR_INPUT ? act_set(p, v->name, x, shape, v->shape.rank, &err)
                                   : act_set_output_grad(p, v->name, x, shape, v->shape.rank, &err);
        if (rc)
            fail_msg("set %s: %s", v->name, err.message);
        free(x);
    }
}

typedef enum { FORWARD, BACKWARD, VJP, SGD } run_kind; /* SGD: act_sgd_step, no d_<input> */

/* A JIT program on `threads` threads, splitting at any size (the work
   estimate would keep these small graphs on one thread). */
static act_program *jit(act_context *ctx, const char *src, int threads)
{
    act_error err = {0};
    act_program *p = act_compile_string(ctx, src, "t.act", NULL, ACT_ENGINE_JIT, &err);
    if (!p)
        fail_msg("%s", err.message);
    act_set_threads(p, threads);
    p->split.min_work = 0;
    p->split.min_rows = 1;
    return p;
}

static void run(act_program *p, int64_t rows, run_kind kind)
{
    act_error err = {0};
    set_inputs(p, rows, kind == VJP);
    if ((kind == FORWARD ? act_forward : act_backward)(p, &err))
        fail_msg("run: %s", err.message);
}

/* The names a run gives: outputs, the loss, d_<input or param> (params
   only after act_sgd_step). */
static int result_names(act_program *p, run_kind kind, char names[][40])
{
    int n = 0;
    for (int j = 0; j < p->g->outputs.n; j++)
        snprintf(names[n++], 40, "%s", ((ir_value *)p->g->outputs.items[j])->name);
    if (p->g->loss)
        snprintf(names[n++], 40, "%s", p->g->loss->name);
    for (int i = 0; kind != FORWARD && i < p->g->nforward; i++) {
        ir_value *v = p->g->values.items[i];
        if (v->op == IR_PARAM || (v->op == IR_INPUT && kind != SGD))
            snprintf(names[n++], 40, "d_%s", v->name);
    }
    return n;
}

/* got against want, value by value: within rtol of the tensor's scale, or
   bit for bit when rtol is 0. */
static void compare(act_program *got, act_program *want, run_kind kind, double rtol,
                    const char *what)
{
    char names[32][40];
    int n = result_names(want, kind, names);
    for (int k = 0; k < n; k++) {
        act_error err = {0};
        int64_t sa[4], sb[4];
        int ra, rb;
        const float *a = act_get(got, names[k], sa, &ra, &err);
        if (!a)
            fail_msg("%s: get %s: %s", what, names[k], err.message);
        const float *b = act_get(want, names[k], sb, &rb, &err);
        if (!b)
            fail_msg("%s: get %s: %s", what, names[k], err.message);
        assert_int_equal(ra, rb);
        assert_memory_equal(sa, sb, (size_t)ra * sizeof *sa);
        int64_t count = rt_count(sa, ra);
        if (rtol == 0) {
            if (memcmp(a, b, (size_t)count * sizeof *a))
                fail_msg("%s: %s differs from the 1-thread bits", what, names[k]);
            continue;
        }
        double scale = 0;
        for (int64_t i = 0; i < count; i++)
            scale = fmax(scale, fabs(b[i]));
        for (int64_t i = 0; i < count; i++)
            if (!(fabs(a[i] - b[i]) <= rtol * (scale + 1e-30)))
                fail_msg("%s: %s[%lld] = %.9g, expected %.9g (scale %g)", what, names[k],
                         (long long)i, a[i], b[i], scale);
    }
}

static void check_graph(const char *src, run_kind kind)
{
    static const int64_t batches[] = {1, 2, 5, 7, 16, 37};
    act_context *ctx = act_context_new();
    act_error err = {0};
    act_program *interp = act_compile_string(ctx, src, "t.act", NULL, ACT_ENGINE_INTERP, &err);
    act_program *one = jit(ctx, src, 1);
    act_program *two = jit(ctx, src, 2), *three = jit(ctx, src, 3);
    act_program *progs[3] = {one, two, three};
    for (size_t b = 0; b < sizeof batches / sizeof *batches; b++) {
        int64_t rows = batches[b];
        run(interp, rows, kind);
        for (int t = 0; t < 3; t++) {
            run(progs[t], rows, kind);
            int want = t + 1 < rows ? t + 1 : (int)rows;
            assert_int_equal(rt_split_chunks(progs[t], rows), want);
        }
        char what[96];
        for (int t = 1; t < 3; t++) {
            snprintf(what, sizeof what, "%d threads, batch %lld, against 1", t + 1,
                     (long long)rows);
            compare(progs[t], one, kind, 2e-6, what);
            snprintf(what, sizeof what, "%d threads, batch %lld, against the interpreter", t + 1,
                     (long long)rows);
            compare(progs[t], interp, kind, 2e-5, what);
        }
        /* the chunks and the order of combining are fixed: the same bits again */
        act_program *again = jit(ctx, src, 3);
        run(again, rows, kind);
        compare(again, three, kind, 0, "3 threads twice");
        act_program_free(again);
    }
    act_program_free(interp);
    for (int t = 0; t < 3; t++)
        act_program_free(progs[t]);
    act_context_free(ctx);
}

static void check_every_run(const char *src)
{
    check_graph(src, FORWARD);
    check_graph(src, BACKWARD);
    check_graph(src, VJP);
}

static void test_split_mlp_matches_one_thread(void **state)
{
    (void)state;
    check_every_run(mlp_src);
}

static void test_split_mse_matches_one_thread(void **state)
{
    (void)state;
    check_every_run(mse_src);
}

static void test_split_chain_matches_one_thread(void **state)
{
    (void)state;
    check_every_run(chain_src);
}

/* no loss: forward and vjp */
static void test_split_vector_matches_one_thread(void **state)
{
    (void)state;
    check_graph(vector_src, FORWARD);
    check_graph(vector_src, VJP);
}

/* Not separable: one thread whatever is asked, so the very same bits. */
static void check_unsplit(const char *src, const run_kind *kinds, int nkinds)
{
    act_context *ctx = act_context_new();
    for (int k = 0; k < nkinds; k++) {
        act_program *one = jit(ctx, src, 1), *three = jit(ctx, src, 3);
        assert_null(three->split.size);
        for (int64_t rows = 1; rows <= 37; rows += 9) {
            run(one, rows, kinds[k]);
            run(three, rows, kinds[k]);
            assert_int_equal(rt_split_chunks(three, rows), 1);
            compare(three, one, kinds[k], 0, "not separable");
        }
        act_program_free(one);
        act_program_free(three);
    }
    act_context_free(ctx);
}

static void test_split_leaves_other_graphs_whole(void **state)
{
    (void)state;
    static const run_kind all[3] = {FORWARD, BACKWARD, VJP};
    check_unsplit(softmax_axis0_src, all, 3);
    check_unsplit(rrelu_src, all, 3);
    check_unsplit(two_sizes_src, all, 1);
}

/* A program keeps working as its thread count changes between runs. */
static void test_split_thread_count_changes(void **state)
{
    (void)state;
    act_context *ctx = act_context_new();
    act_program *one = jit(ctx, mlp_src, 1), *p = jit(ctx, mlp_src, 3);
    run(one, 29, BACKWARD);
    static const int counts[] = {3, 2, 1, 4, 0, 2};
    for (size_t i = 0; i < sizeof counts / sizeof *counts; i++) {
        act_set_threads(p, counts[i]);
        run(p, 29, BACKWARD);
        compare(p, one, BACKWARD, 2e-6, "after act_set_threads");
    }
    act_program_free(one);
    act_program_free(p);
    act_context_free(ctx);
}

/* Training steps of the benchmark's MLP (split by the default estimate,
   the params updated on the team) match one thread's. */
static void test_split_sgd_steps_match_one_thread(void **state)
{
    (void)state;
    act_context *ctx = act_context_new();
    char *src = ts_read_text(ACT_SOURCE_DIR "/bench/mlp784.act");
    act_program *one = jit(ctx, src, 1), *two = jit(ctx, src, 2);
    free(src);
    act_program *progs[2] = {one, two};
    for (int k = 0; k < 2; k++) {
        progs[k]->split = rt_split_analyse(progs[k]->g); /* jit() forced any size */
        set_inputs(progs[k], 64, false);
        for (int step = 0; step < 3; step++) {
            act_error err = {0};
            if (act_sgd_step(progs[k], 0.05f, &err))
                fail_msg("step: %s", err.message);
        }
    }
    assert_int_equal(rt_split_chunks(two, 64), 2);
    assert_non_null(two->team);
    assert_null(one->team);
    compare(two, one, SGD, 2e-5, "sgd steps on 2 threads");
    static const char *const params[] = {"W1", "b1", "W2", "b2", "W3", "b3"};
    for (int i = 0; i < 6; i++) {
        int64_t shape[4];
        int rank;
        const float *a = act_get(two, params[i], shape, &rank, NULL);
        const float *b = act_get(one, params[i], NULL, NULL, NULL);
        for (int64_t e = 0; e < rt_count(shape, rank); e++)
            if (!(fabs(a[e] - b[e]) <= 1e-5 * (1 + fabs(b[e]))))
                fail_msg("%s[%lld] = %.9g on 2 threads, %.9g on 1", params[i], (long long)e, a[e],
                         b[e]);
    }
    act_program_free(one);
    act_program_free(two);
    act_context_free(ctx);
}

/* A child forked after a split run has none of the parent's workers: it
   makes its own team and gets the same results. (ThreadSanitizer does not
   support threads started after a multi-threaded fork.) */
static void test_split_survives_fork(void **state)
{
    (void)state;
#ifndef __SANITIZE_THREAD__
    act_context *ctx = act_context_new();
    act_program *one = jit(ctx, mlp_src, 1), *p = jit(ctx, mlp_src, 2);
    run(one, 23, BACKWARD);
    run(p, 23, BACKWARD);
    assert_non_null(p->team);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        alarm(60); /* waiting for the parent's workers would hang: die instead */
        act_error err = {0};
        bool ok = !act_backward(p, &err) && p->team && rt_team_here(p->team);
        const float *a = act_get(p, "d_W1", NULL, NULL, NULL);
        const float *b = act_get(one, "d_W1", NULL, NULL, NULL);
        for (int e = 0; ok && e < 30; e++)
            ok = fabsf(a[e] - b[e]) <= 1e-5f * (1 + fabsf(b[e]));
        act_program_free(p);
        _exit(ok ? 0 : 1);
    }
    int status = 0;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    run(p, 23, BACKWARD); /* the parent's team is still there */
    compare(p, one, BACKWARD, 2e-6, "after a fork");
    act_program_free(one);
    act_program_free(p);
    act_context_free(ctx);
#endif
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split_tells_separable_graphs),
        cmocka_unit_test(test_split_chunks_follow_the_work),
        cmocka_unit_test(test_split_default_threads_follow_affinity),
        cmocka_unit_test(test_split_mlp_matches_one_thread),
        cmocka_unit_test(test_split_mse_matches_one_thread),
        cmocka_unit_test(test_split_chain_matches_one_thread),
        cmocka_unit_test(test_split_vector_matches_one_thread),
        cmocka_unit_test(test_split_leaves_other_graphs_whole),
        cmocka_unit_test(test_split_thread_count_changes),
        cmocka_unit_test(test_split_sgd_steps_match_one_thread),
        cmocka_unit_test(test_split_survives_fork),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
