/* table.c -- the one results table: lines gathered by the rows, printed as
   markdown with act, the machine's ceiling, every peer, the best peer and
   the ratio act / best (best / act for latencies, so > 1 means act wins). */
#include "driver.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

const char *const peer_name[P_COUNT] = {"oneDNN",          "SLEEF u10", "Eigen",    "libm -O2",
                                        "-O3 -ffast-math", "LIBXSMM",   "OpenBLAS", "PyTorch"};

enum { MAX_LINES = 256 };
static bench_line lines[MAX_LINES];
static int nlines;

bench_line line_new(int row, const char *unit, const char *fmt, ...)
{
    bench_line l = {
        .row = row, .unit = unit, .act = NAN, .act_ulp = NAN, .ceiling = NAN, .ref = NAN};
    for (int p = 0; p < P_COUNT; p++)
        l.peer[p] = l.peer_ulp[p] = NAN;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(l.name, sizeof l.name, fmt, ap);
    va_end(ap);
    return l;
}

void table_add(const bench_line *l)
{
    if (nlines < MAX_LINES)
        lines[nlines++] = *l;
}

static void cell(FILE *out, double v, double ulp)
{
    if (isnan(v)) {
        fprintf(out, " — |");
        return;
    }
    fprintf(out, v >= 100 ? " %.0f" : v >= 10 ? " %.1f" : v >= 0.1 ? " %.2f" : " %.3g", v);
    if (!isnan(ulp))
        fprintf(out, ulp >= 1e6 ? " (%.1e ulp)" : " (%.0f ulp)", ulp);
    fprintf(out, " |");
}

static bool better(const bench_line *l, double a, double b)
{
    return isnan(b) || (l->lower_better ? a < b : a > b);
}

void table_print(FILE *out)
{
    fprintf(out, "| row | case | unit | act | ceiling / target |");
    for (int p = 0; p < P_COUNT; p++)
        fprintf(out, " %s |", peer_name[p]);
    fprintf(out, " best peer | act / best |\n|---|---|---|---|---|");
    for (int p = 0; p < P_COUNT; p++)
        fprintf(out, "---|");
    fprintf(out, "---|---|\n");
    for (int i = 0; i < nlines; i++) {
        const bench_line *l = &lines[i];
        fprintf(out, "| %d | %s | %s |", l->row, l->name, l->unit);
        cell(out, l->act, l->act_ulp);
        cell(out, l->ceiling, NAN);
        int best = -1;
        for (int p = 0; p < P_COUNT; p++) {
            cell(out, l->peer[p], l->peer_ulp[p]);
            if (!isnan(l->peer[p]) && (best < 0 || better(l, l->peer[p], l->peer[best])))
                best = p;
        }
        const char *ref_name = l->ref_name ? l->ref_name : best >= 0 ? peer_name[best] : NULL;
        double ref = l->ref_name ? l->ref : best >= 0 ? l->peer[best] : NAN;
        if (!ref_name || isnan(ref) || isnan(l->act)) {
            fprintf(out, " %s | — |\n", ref_name ? ref_name : "—");
            continue;
        }
        fprintf(out, " %s | **%.2f×** |\n", ref_name,
                l->lower_better ? ref / l->act : l->act / ref);
    }
}
