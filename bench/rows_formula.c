/* rows_formula.c -- row 7: what no peer offers fused. The user-defined
   softclip of ACT-LANGUAGE.md and the chain mish(scale(add(x, b))), forward
   and forward + backward, as act's one fused pass against the same formula
   as an -O3 -ffast-math C loop and against PyTorch eager composing it from
   its ops (bench/torch_peer.py, timed in its own process). */
#include "driver.h"
#include "peers.h"

#include <stdlib.h>
#include <string.h>

static const char *const sources[2] = {
    "act 1\nactivation softclip(x; a = 1) = log((1 + exp(a*x)) / (1 + exp(a*(x - 1)))) / a\n"
    "graph g {\n input x : f32[N]\n y = softclip(x)\n output y\n}\n",
    "act 1\ngraph g {\n input x : f32[N]\n input b : f32[N]\n y = mish(scale(add(x, b)))\n output "
    "y\n}\n"};
static const char *const case_name[2] = {"softclip", "chain"};

enum { MAX_TORCH = 32 };
typedef struct {
    char key[64];
    double seconds;
} torch_figure;

/* The figures printed by torch_peer.py, one JSON object a line. */
static int torch_figures(const bench_options *o, const long *sizes, int nsizes, torch_figure *fig)
{
    char cmd[2048];
    const char *py = getenv("BENCH_PYTHON");
    snprintf(cmd, sizeof cmd, "'%s' '%s/bench/torch_peer.py'", py && *py ? py : "/usr/bin/python3",
             o->source_dir);
    for (int s = 0; s < nsizes; s++)
        snprintf(cmd + strlen(cmd), sizeof cmd - strlen(cmd), " %ld", sizes[s]);
    FILE *f = popen(cmd, "r");
    int n = 0;
    char line[1024];
    while (f && n < MAX_TORCH && fgets(line, sizeof line, f)) {
        char c[32] = "", pass[16] = "";
        long size = 0;
        const char *pc = strstr(line, "\"case\""), *pn = strstr(line, "\"n\""),
                   *pp = strstr(line, "\"pass\""), *ps = strstr(line, "\"seconds\"");
        if (!pc || !pn || !pp || !ps || sscanf(pc, "\"case\": \"%31[^\"]\"", c) != 1 ||
            sscanf(pn, "\"n\": %ld", &size) != 1 ||
            sscanf(pp, "\"pass\": \"%15[^\"]\"", pass) != 1 ||
            sscanf(ps, "\"seconds\": %lf", &fig[n].seconds) != 1)
            continue;
        snprintf(fig[n++].key, sizeof fig->key, "%s %ld %s", c, size, pass);
    }
    if (f)
        pclose(f);
    return n;
}

static double torch_seconds(const torch_figure *fig, int n, const char *c, long size,
                            const char *pass)
{
    char key[64];
    snprintf(key, sizeof key, "%s %ld %s", c, size, pass);
    for (int i = 0; i < n; i++)
        if (!strcmp(fig[i].key, key))
            return fig[i].seconds;
    return NAN;
}

void row_formula(const bench_options *o, const bench_machine *m, act_context *ctx)
{
    static const long sizes[2] = {262144, 16777216};
    int nsizes = o->quick ? 1 : 2;
    torch_figure fig[MAX_TORCH];
    int nfig = torch_figures(o, sizes, nsizes, fig);
    for (int s = 0; s < nsizes; s++) {
        long n = sizes[s];
        float *x = bench_alloc((size_t)n), *b = bench_alloc((size_t)n),
              *dy = bench_alloc((size_t)n), *y = bench_alloc((size_t)n),
              *dx = bench_alloc((size_t)n);
        bench_fill(x, (size_t)n, -8, 8, 61);
        bench_fill(b, (size_t)n, -1, 1, 62);
        bench_fill(dy, (size_t)n, -1, 1, 63);
        for (int c = 0; c < 2; c++)
            for (int bwd = 0; bwd < 2; bwd++) {
                /* forward + backward: a step on new data, so that act computes y
                   and dx (in one pass), as the peers do, every run */
                bench_line l = line_new(7, "Gelem/s", "%s %s, %ld floats%s", case_name[c],
                                        bwd ? "forward + backward" : "forward", n,
                                        bwd ? " (act: act_set(x), act_backward)" : "");
                /* streams: x (+ b) in, y out; + dy in, dx out */
                double bytes = 4.0 * (2 + c + 2 * bwd);
                l.ceiling = machine_copy_bound(m, n) / bytes;
                ak_tensor t[3] = {
                    {"x", x, {n}, 1, false}, {"b", b, {n}, 1, false}, {"y", dy, {n}, 1, true}};
                ak_tensor *tt = t;
                if (c == 0)
                    t[1] = t[2];
                bench_kernel k;
                if (!ak_new(ctx, sources[c], tt, 1 + c + bwd, bwd ? AK_STEP : AK_FORWARD, 1, &k))
                    l.act = bench_rate(o, &k, (double)n);
                int rc = c == 0 ? (bwd ? peer_fastmath_softclip_fwdbwd(x, dy, y, dx, n, &k)
                                       : peer_fastmath_softclip_fwd(x, y, n, &k))
                                : (bwd ? peer_fastmath_chain_fwdbwd(x, b, dy, y, dx, n, &k)
                                       : peer_fastmath_chain_fwd(x, b, y, n, &k));
                if (!rc)
                    l.peer[P_FASTMATH] = bench_rate(o, &k, (double)n);
                double ts = torch_seconds(fig, nfig, case_name[c], n, bwd ? "fwdbwd" : "fwd");
                l.peer[P_TORCH] = (double)n / ts * 1e-9;
                table_add(&l);
            }
        bench_free(x);
        bench_free(b);
        bench_free(dy);
        bench_free(y);
        bench_free(dx);
    }
}
