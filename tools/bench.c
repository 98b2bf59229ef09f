/* bench.c -- actc bench: times forward (and backward where there is a loss)
   on seeded random inputs, after warm-up, and prints the median, the
   throughput (Gelem/s of outputs, GFLOP/s where there are dense layers) and
   the JIT compile time (first compilation and a cache hit). */
#include "cli.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int64_t size_of(const cli_options *o, const char *name)
{
    for (int i = 0; i < o->nsizes; i++)
        if (!strcmp(o->sizes[i].name, name))
            return strtoll(o->sizes[i].path, NULL, 10);
    return 256;
}

/* Every input: its declared shape, size names from --size (default 256),
   values uniform in [-1, 1) from the documented generator. */
static int set_inputs(act_program *p, const cli_options *o, rt_sizes *b)
{
    act_error err = {0};
    b->n = 0;
    for (int i = 0; i < p->g->nforward; i++) {
        ir_value *v = p->g->values.items[i];
        if (v->op != IR_INPUT)
            continue;
        int64_t shape[IR_MAX_RANK];
        for (int d = 0; d < v->shape.rank; d++) {
            shape[d] = v->shape.sym[d] ? size_of(o, v->shape.sym[d]) : v->shape.dim[d];
            if (v->shape.sym[d] && b->n < (int)(sizeof b->name / sizeof *b->name)) {
                b->name[b->n] = v->shape.sym[d];
                b->value[b->n++] = shape[d];
            }
        }
        int64_t n = rt_count(shape, v->shape.rank);
        float *x = malloc((size_t)(n ? n : 1) * sizeof *x);
        if (!x)
            return fprintf(stderr, "actc: error: out of memory\n"), EXIT_USER;
        for (int64_t k = 0; k < n; k++)
            x[k] = (float)(2 * rt_rand_uniform((uint64_t)i, (uint64_t)k) - 1);
        int rc = act_set(p, v->name, x, shape, v->shape.rank, &err);
        free(x);
        if (rc)
            return cli_report(&err);
    }
    return 0;
}

/* Floating-point operations of one forward pass: 2 R K M per dense. */
static double dense_flops(const act_program *p, const rt_sizes *b)
{
    double flops = 0;
    for (int i = 0; i < p->g->nforward; i++) {
        ir_value *v = p->g->values.items[i];
        rt_tensor x, w;
        if (v->op == IR_DENSE && rt_resolve(b, v->args[0], &x) && rt_resolve(b, v->args[1], &w))
            flops += 2.0 * (double)x.n * (double)w.shape[1];
    }
    return flops;
}

static double output_elements(const act_program *p, const rt_sizes *b)
{
    double n = 0;
    for (int j = 0; j < p->g->outputs.n; j++) {
        rt_tensor t;
        if (rt_resolve(b, p->g->outputs.items[j], &t))
            n += (double)t.n;
    }
    return n;
}

/* The median of repeated runs after 3 warm-up runs: at least 5, until 0.5 s. */
static int time_runs(act_program *p, bool backward, double *median)
{
    act_error err = {0};
    int (*run)(act_program *, act_error *) = backward ? act_backward : act_forward;
    double t[1000];
    int n = 0;
    for (int w = 0; w < 3; w++)
        if (run(p, &err))
            return cli_report(&err);
    for (double start = now(); n < 1000 && (n < 5 || now() - start < 0.5); n++) {
        double t0 = now();
        if (run(p, &err))
            return cli_report(&err);
        t[n] = now() - t0;
    }
    qsort(t, (size_t)n, sizeof *t, cmp_double);
    *median = t[n / 2];
    return 0;
}

static void report(const char *what, double seconds, double elements, double flops)
{
    printf("%-9s median %10.3f us", what, seconds * 1e6);
    if (elements > 0)
        printf("  %8.3f Gelem/s", elements / seconds * 1e-9);
    if (flops > 0)
        printf("  %8.2f GFLOP/s", flops / seconds * 1e-9);
    printf("\n");
}

/* The threads a run of this batch uses, and why not more. */
static void report_threads(const act_program *p, const rt_sizes *b)
{
    int64_t rows = 0;
    if (p->engine != ACT_ENGINE_JIT)
        printf("threads   1 (the interpreter runs on one)\n");
    else if (!p->split.size || !rt_size_of(b, p->split.size, &rows))
        printf("threads   1 (the graph's batch cannot be split)\n");
    else
        printf("threads   %d (%s = %lld rows%s)\n", rt_split_chunks(p, rows), p->split.size,
               (long long)rows,
               rt_split_chunks(p, rows) < 2 && p->threads != 1 ? ", too little work to split" : "");
}

int cli_bench(const cli_options *o)
{
    act_context *ctx = act_context_new();
    int rc = ctx ? cli_load_plugins(ctx, o) : EXIT_USER;
    double t0 = now();
    act_program *p = rc ? NULL : cli_compile(ctx, o, o->engine);
    double first = now() - t0;
    t0 = now();
    act_program *again = p ? cli_compile(ctx, o, o->engine) : NULL;
    double hit = now() - t0;
    act_program_free(again);
    rt_sizes b;
    if (!p || cli_set_tensors(p, o, false) || set_inputs(p, o, &b)) {
        act_program_free(p);
        act_context_free(ctx);
        return EXIT_USER;
    }
    printf("%s, graph %s, engine %s\n", o->file, p->g->name,
           o->engine == ACT_ENGINE_JIT ? "jit" : "interp");
    if (o->engine == ACT_ENGINE_JIT)
        printf("compile   first %.2f ms (forward entry), cache hit %.3f ms\n", first * 1e3,
               hit * 1e3);
    report_threads(p, &b);
    double fwd = 0, bwd = 0, flops = dense_flops(p, &b), elems = output_elements(p, &b);
    rc = time_runs(p, false, &fwd);
    if (!rc)
        report("forward", fwd, elems, flops);
    if (!rc && p->g->loss) {
        act_error err = {0};
        t0 = now();
        rc = act_backward(p, &err) ? cli_report(&err) : 0; /* compiles the entry, runs it once */
        if (!rc)
            printf("compile   first %.2f ms (fwd+bwd entry, with its first run)\n",
                   (now() - t0) * 1e3);
        if (!rc)
            rc = time_runs(p, true, &bwd);
        if (!rc)
            report("fwd+bwd", bwd, 0, 3 * flops); /* forward + two products per dense */
    }
    act_program_free(p);
    act_context_free(ctx);
    return rc;
}
