/* main.c -- act_bench: measures the machine, then act against its peers
   row by row, and prints one markdown table (bench/run.sh keeps it in
   bench/RESULTS.md). Usage: act_bench [--quick] [--rows 0,1,...]. */
#define _GNU_SOURCE /* sched_setaffinity */
#include "driver.h"
#include "peers.h"

#include <gnu/libc-version.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifndef BENCH_SOURCE_DIR
#define BENCH_SOURCE_DIR "."
#endif

static void cpu_model(char *out, size_t size)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[512];
    snprintf(out, size, "unknown CPU");
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "model name", 10) && strchr(line, ':')) {
            snprintf(out, size, "%s", strchr(line, ':') + 2);
            out[strcspn(out, "\n")] = 0;
            break;
        }
    if (f)
        fclose(f);
}

static void print_header(void)
{
    char cpu[256], date[64];
    cpu_model(cpu, sizeof cpu);
    time_t t = time(NULL);
    strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", gmtime(&t));
    const char *peers[5] = {peer_dnnl_describe(), peer_sleef_describe(), peer_eigen_describe(),
                            peer_xsmm_describe(), peer_openblas_describe()};
    printf("# act benchmark\n\n- Date: %s\n- Machine: %s, %ld cores online; AVX-512: %s\n", date,
           cpu, sysconf(_SC_NPROCESSORS_ONLN),
#ifdef __AVX512F__
           "yes"
#else
           "no"
#endif
    );
    printf("- act %s (JIT, LLVM %s), glibc %s\n- Peers:", ACT_VERSION_STRING, BENCH_LLVM_VERSION,
           gnu_get_libc_version());
    for (int i = 0; i < 5; i++)
        printf("%s %s", i ? ";" : "", peers[i] ? peers[i] : "(missing)");
    printf("; PyTorch eager (python3-torch, 1 thread)\n");
    printf("- Single thread and pinned to one core unless the row says otherwise; every figure is "
           "the median of repeated samples "
           "after warm-up. Higher is better except for ms; act / best > 1 means act wins. "
           "(n ulp) is the max error over 2^20 inputs, random sign, |x| log-uniform in [1e-6, "
           "100].\n\n");
}

int main(int argc, char **argv)
{
    bench_options o = {
        .min_seconds = 0.3, .min_samples = 7, .self = argv[0], .source_dir = BENCH_SOURCE_DIR};
    bool want[9] = {true, true, true, true, true, true, true, true, true};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--latency-child") && i + 1 < argc)
            return latency_child(argv[i + 1]);
        if (!strcmp(argv[i], "--quick")) {
            o.quick = true;
            o.min_seconds = 0.02;
            o.min_samples = 3;
        } else if (!strcmp(argv[i], "--rows") && i + 1 < argc) {
            memset(want, 0, sizeof want);
            for (char *s = argv[++i]; *s; s++)
                if (*s >= '0' && *s <= '8')
                    want[*s - '0'] = true;
        } else {
            fprintf(stderr, "usage: %s [--quick] [--rows 0,1,...,8]\n", argv[0]);
            return 2;
        }
    }
    act_context *ctx = act_context_new();
    if (!ctx)
        return 1;
    /* one core for every row but row 8: the last one this process may use */
    cpu_set_t all, one;
    CPU_ZERO(&one);
    int core = -1;
    if (!sched_getaffinity(0, sizeof all, &all))
        for (int c = 0; c < CPU_SETSIZE; c++)
            if (CPU_ISSET(c, &all))
                core = c;
    if (core >= 0) {
        CPU_SET(core, &one);
        sched_setaffinity(0, sizeof one, &one);
    }
    print_header();
    bench_machine m;
    machine_measure(&o, &m); /* the ceilings of every row */
    if (want[1] || want[2])
        row_eltwise(&o, &m, ctx);
    if (want[3])
        row_softmax(&o, &m, ctx);
    if (want[4])
        row_dense(&o, &m, ctx);
    if (want[5])
        row_mlp(&o, ctx);
    if (want[6])
        row_latency(&o, ctx);
    if (want[7])
        row_formula(&o, &m, ctx);
    if (want[8] && core >= 0)
        sched_setaffinity(0, sizeof all, &all);
    if (want[8])
        row_threads(&o, ctx);
    table_print(stdout);
    act_context_free(ctx);
    return 0;
}
