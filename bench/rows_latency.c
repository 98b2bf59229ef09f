/* rows_latency.c -- row 6: how long a user waits for code. Each first
   compile runs in a new process (this program re-executed with
   --latency-child), as an application's first compile would; an in-process
   cache hit compiles the same file again; an on-disk hit is a new process
   whose ACT_CACHE_DIR already holds the code. Forward and backward entries
   both count: the program is run once at batch 1, and that run's own time
   (measured again afterwards) is subtracted. */
#include "driver.h"
#include "peers.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Every input set to zeros of its declared shape, size names = 1; and
   without a loss, every output's gradient (so that act_backward runs the
   backward pass, as for a graph with a loss). */
static int set_inputs(act_program *p)
{
    bool grads = act_program_names(p, 3, &(const char **){NULL}) == 0;
    static const float zeros[4096];
    for (int kind = 0; kind <= (grads ? 2 : 0); kind += 2) {
        const char **names;
        int n = act_program_names(p, kind, &names);
        for (int i = 0; i < n; i++) {
            const char *type = act_program_type(p, names[i]);
            int64_t shape[4];
            int rank = 0;
            for (const char *c = strchr(type, '['); c && *c && *c != ']' && rank < 4; rank++) {
                c += strspn(c, "[, ");
                shape[rank] = *c >= '0' && *c <= '9' ? strtoll(c, NULL, 10) : 1;
                c += strcspn(c, ",]");
            }
            act_error err = {0};
            if ((kind ? act_set_output_grad : act_set)(p, names[i], zeros, shape, rank, &err))
                return fprintf(stderr, "bench: %s\n", err.message), -1;
        }
    }
    return 0;
}

/* Seconds for compile + first fwd+bwd run, minus one more run. */
static double get_code(act_context *ctx, const char *path, double *forward_only)
{
    act_error err = {0};
    double t0 = bench_now();
    act_program *p = act_compile_file(ctx, path, NULL, ACT_ENGINE_JIT, &err);
    double t1 = bench_now();
    int rc = !p || set_inputs(p);
    double t2 = bench_now();
    if (rc || act_backward(p, &err)) {
        fprintf(stderr, "bench: %s: %s\n", path, err.message);
        act_program_free(p);
        return NAN;
    }
    double t3 = bench_now();
    act_backward(p, &err);
    double t4 = bench_now();
    act_program_free(p);
    if (forward_only)
        *forward_only = t1 - t0;
    return (t1 - t0) + (t3 - t2) - (t4 - t3);
}

int latency_child(const char *path)
{
    act_context *ctx = act_context_new();
    double fwd, first = get_code(ctx, path, &fwd);
    double hit = 1e30;
    for (int i = 0; i < 20; i++) {
        double h = get_code(ctx, path, NULL);
        hit = h < hit ? h : hit;
    }
    printf("%.6f %.6f %.6f\n", fwd * 1e3, first * 1e3, hit * 1e3);
    act_context_free(ctx);
    return 0;
}

/* Runs the child on path; env is "" or "ACT_CACHE_DIR=... ". */
static int child(const bench_options *o, const char *env, const char *path, double out[3])
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s'%s' --latency-child '%s'", env, o->self, path);
    FILE *f = popen(cmd, "r");
    int got = f ? fscanf(f, "%lf %lf %lf", &out[0], &out[1], &out[2]) : 0;
    if (f)
        pclose(f);
    return got == 3 ? 0 : -1;
}

enum { REPS = 7 }; /* new processes per figure: the host is noisy */

/* path's text with every glorot(...) initialiser as zeros, written to out:
   the same params and memory, nothing drawn (row 6's floor, roofline.py). */
static int zeros_version(const char *path, const char *out)
{
    char *text = bench_read_text(path), *at = text, *g, *end;
    FILE *to = fopen(out, "w");
    for (; to && (g = strstr(at, "glorot(")) && (end = strchr(g, ')')); at = end + 1)
        fprintf(to, "%.*szeros", (int)(g - at), at);
    int rc = !to || fputs(at, to) < 0;
    if (to && fclose(to))
        rc = 1;
    free(text);
    return rc ? -1 : 0;
}

/* The median of column k of r[REPS][3]. */
static double median_of(double r[REPS][3], int k)
{
    double v[REPS];
    for (int i = 0; i < REPS; i++) {
        int j = i;
        for (; j > 0 && v[j - 1] > r[i][k]; j--)
            v[j] = v[j - 1];
        v[j] = r[i][k];
    }
    return v[REPS / 2];
}

void row_latency(const bench_options *o, act_context *ctx)
{
    (void)ctx;
    static const char *const files[4] = {"examples/xor.act", "examples/mlp.act",
                                         "examples/custom.act", "bench/mlp784.act"};
    double dnnl_cold = NAN, dnnl_hit = NAN, xsmm = NAN;
    peer_dnnl_create_latency(0, &dnnl_cold);
    peer_dnnl_create_latency(1, &dnnl_hit);
    peer_xsmm_dispatch_latency(&xsmm);
    char dir[] = "/tmp/act-bench-cache-XXXXXX";
    if (!mkdtemp(dir))
        return;
    for (int i = 0; i < 4; i++) {
        char path[1024], env[1200];
        snprintf(path, sizeof path, "%s/%s", o->source_dir, files[i]);
        double r[REPS][3], disk[REPS][3];
        bool ok = true;
        for (int rep = 0; rep < REPS; rep++)
            ok = ok && !child(o, "", path, r[rep]);
        snprintf(env, sizeof env, "ACT_CACHE_DIR='%s' ", dir);
        ok = ok && !child(o, env, path, disk[0]); /* fills the disk cache */
        for (int rep = 0; rep < REPS; rep++)
            ok = ok && !child(o, env, path, disk[rep]);
        bool mlp = i == 3; /* the peers' figures go beside the MLP */
        bench_line l =
            line_new(6, "ms", "first compile, forward + backward, %s, new process", files[i]);
        l.lower_better = true;
        l.ceiling = 30;
        if (ok)
            l.act = median_of(r, 1);
        if (mlp) {
            l.peer[P_DNNL] = dnnl_cold * 1e3;
            l.peer[P_XSMM] = xsmm * 1e3;
        }
        table_add(&l);
        if (mlp) {
            l = line_new(6, "ms", "first compile, forward only, %s, new process", files[i]);
            l.lower_better = true;
            if (ok)
                l.act = median_of(r, 0);
            l.peer[P_DNNL] = dnnl_cold * 1e3;
            l.peer[P_XSMM] = xsmm * 1e3;
            table_add(&l);
        }
        l = line_new(6, "ms", "cache hit in the process, forward + backward, %s%s", files[i],
                     mlp ? " (incl. initialising its 268K params)" : "");
        l.lower_better = true;
        l.ceiling = 0.05;
        if (ok)
            l.act = median_of(r, 2);
        if (mlp)
            l.peer[P_DNNL] = dnnl_hit * 1e3;
        table_add(&l);
        l = line_new(6, "ms", "on-disk cache hit, forward + backward, %s, new process", files[i]);
        l.lower_better = true;
        l.ceiling = 2;
        if (ok)
            l.act = median_of(disk, 1);
        if (mlp)
            l.peer[P_DNNL] = dnnl_cold * 1e3;
        table_add(&l);
        char zeros[1100];
        snprintf(zeros, sizeof zeros, "%s/mlp784_zeros.act", dir);
        if (!mlp || zeros_version(path, zeros))
            continue;
        bool drawn = true; /* apart from the runs above */
        for (int rep = 0; rep < REPS; rep++)
            drawn = drawn && !child(o, "", zeros, r[rep]);
        l = line_new(6, "ms",
                     "cache hit in the process, forward + backward, %s with zeros for "
                     "its params (nothing drawn)",
                     files[i]);
        l.lower_better = true;
        if (drawn)
            l.act = median_of(r, 2);
        table_add(&l);
    }
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd))
        fprintf(stderr, "bench: could not remove %s\n", dir);
}
