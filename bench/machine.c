/* machine.c -- row 0: the limits of this machine, measured rather than
   quoted: copy bandwidth with normal and non-temporal stores and read
   bandwidth at four working sets, the peak FMA rate of one core (and of
   two, row 8's ceiling), and what a page of new memory costs (row 6's
   floor: a program's params and gradients are new memory).
   The rows' ceilings come from them. */
#define _GNU_SOURCE /* sched_getcpu, pthread_attr_setaffinity_np */
#include "driver.h"
#include "simd.h"

#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/mman.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

static const long copy_sizes[4] = {4096, 262144, 16777216, 67108864};

typedef struct {
    const float *x;
    float *y;
    long n;
} copy_state;

#if BENCH_LANES == 16
static float sum_lanes(vf a)
{
    return _mm512_reduce_add_ps(a);
}
#elif BENCH_LANES == 8
static float sum_lanes(vf a)
{
    float t[8];
    _mm256_storeu_ps(t, a);
    return t[0] + t[1] + t[2] + t[3] + t[4] + t[5] + t[6] + t[7];
}
#endif

static void copy_normal(void *state)
{
    copy_state *s = state;
#if BENCH_LANES
    for (long i = 0; i < s->n; i += BENCH_LANES)
        V(store)(s->y + i, V(load)(s->x + i));
#else
    memcpy(s->y, s->x, (size_t)s->n * sizeof *s->y);
#endif
}

static void copy_stream(void *state)
{
    copy_state *s = state;
#if BENCH_LANES
    for (long i = 0; i < s->n; i += BENCH_LANES)
        V(stream)(s->y + i, V(load)(s->x + i));
    _mm_sfence();
#else
    memcpy(s->y, s->x, (size_t)s->n * sizeof *s->y);
#endif
}

/* The sum of x: reads alone, as a matrix-vector product reads its
   weights. Eight chains of adds, so that their latency does not bind in
   L1. */
static volatile float read_sink;

static void read_sum(void *state)
{
    copy_state *s = state;
#if BENCH_LANES
    vf a[8];
    for (int k = 0; k < 8; k++)
        a[k] = V(set1)(0);
    for (long i = 0; i < s->n; i += 8 * BENCH_LANES)
        for (int k = 0; k < 8; k++)
            a[k] = V(add)(a[k], V(load)(s->x + i + k * BENCH_LANES));
    for (int k = 1; k < 8; k++)
        a[0] = V(add)(a[0], a[k]);
    read_sink = sum_lanes(a[0]);
#else
    float t = 0;
    for (long i = 0; i < s->n; i++)
        t += s->x[i];
    read_sink = t;
#endif
}

/* 12 independent chains of FMAs of the widest vectors: enough to cover
   latency times throughput on current cores; the sums are kept so nothing
   is removed. */
static volatile float fma_sink;
enum { FMA_ITERS = 1 << 16 };

static void fma_loop(void *state)
{
    (void)state;
#if BENCH_LANES
    vf m = V(set1)(0.999999f), c = V(set1)(1e-7f);
    vf a0 = V(set1)(0), a1 = V(set1)(1), a2 = V(set1)(2), a3 = V(set1)(3);
    vf a4 = V(set1)(4), a5 = V(set1)(5), a6 = V(set1)(6), a7 = V(set1)(7);
    vf a8 = V(set1)(8), a9 = V(set1)(9), a10 = V(set1)(10), a11 = V(set1)(11);
    for (int i = 0; i < FMA_ITERS; i++) { /* named, so they stay in registers */
        a0 = V(fmadd)(a0, m, c), a1 = V(fmadd)(a1, m, c), a2 = V(fmadd)(a2, m, c);
        a3 = V(fmadd)(a3, m, c), a4 = V(fmadd)(a4, m, c), a5 = V(fmadd)(a5, m, c);
        a6 = V(fmadd)(a6, m, c), a7 = V(fmadd)(a7, m, c), a8 = V(fmadd)(a8, m, c);
        a9 = V(fmadd)(a9, m, c), a10 = V(fmadd)(a10, m, c), a11 = V(fmadd)(a11, m, c);
    }
    a0 = V(add)(V(add)(V(add)(a0, a1), V(add)(a2, a3)), V(add)(V(add)(a4, a5), V(add)(a6, a7)));
    a0 = V(add)(a0, V(add)(V(add)(a8, a9), V(add)(a10, a11)));
    fma_sink = sum_lanes(a0);
#endif
}

/* Enough of fma_loop per sample that starting a thread (tens of us) is
   lost in it. */
enum { FMA_REPEATS = 32 };

static void *fma_repeated(void *state)
{
    for (int r = 0; r < FMA_REPEATS; r++)
        fma_loop(state);
    return NULL;
}

static void fma_one_thread(void *state)
{
    fma_repeated(state);
}

/* The second thread on another CPU than this one: left to the scheduler
   it started, in some runs, on this thread's CPU and stayed there (1.0x). */
static void fma_two_threads(void *state)
{
    pthread_t t;
    pthread_attr_t attr;
    bool have_attr = !pthread_attr_init(&attr);
    cpu_set_t all, other;
    CPU_ZERO(&other);
    if (have_attr && !sched_getaffinity(0, sizeof all, &all)) {
        int here = sched_getcpu();
        for (int c = 0; c < CPU_SETSIZE && !CPU_COUNT(&other); c++)
            if (CPU_ISSET(c, &all) && c != here)
                CPU_SET(c, &other);
    }
    if (have_attr && CPU_COUNT(&other))
        pthread_attr_setaffinity_np(&attr, sizeof other, &other);
    bool started = !pthread_create(&t, have_attr ? &attr : NULL, fma_repeated, state);
    if (have_attr)
        pthread_attr_destroy(&attr);
    fma_repeated(state);
    if (started)
        pthread_join(t, NULL);
    else
        fma_repeated(state); /* no second thread: the same work, on one */
}

/* New memory as act makes its buffers of 256 KB and more ready
   (runtime/jit_run.c, rt_floats): 4 MB mapped, populated with
   MADV_POPULATE_WRITE (faulted in page by page where the kernel refuses
   it), a float written in each page, unmapped. */
enum { NEW_BYTES = 4 << 20, PAGE_BYTES = 4096 };

static void new_memory(void *state)
{
    (void)state;
    char *p = mmap(NULL, NEW_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return;
    madvise(p, NEW_BYTES, MADV_POPULATE_WRITE);
    for (size_t i = 0; i < NEW_BYTES; i += PAGE_BYTES)
        *(volatile float *)(p + i) = 1.0f;
    munmap(p, NEW_BYTES);
}

double machine_fma_threads(const bench_options *o)
{
    bench_kernel two = {fma_two_threads, NULL, NULL}, one = {fma_one_thread, NULL, NULL};
    const bench_kernel *both[2] = {&two, &one};
    double t[2];
    bench_time_in_turn(both, 2, o->min_samples, o->min_seconds, t);
    return 2 * t[1] / t[0];
}

void machine_measure(const bench_options *o, bench_machine *m)
{
    for (int s = 0; s < 4; s++) {
        long n = copy_sizes[s];
        float *x = bench_alloc((size_t)n), *y = bench_alloc((size_t)n);
        copy_state st = {x, y, n};
        bench_fill(x, (size_t)n, -1, 1, 1);
        bench_kernel normal = {copy_normal, NULL, &st}, stream = {copy_stream, NULL, &st};
        bench_kernel read = {read_sum, NULL, &st};
        double bytes = 2.0 * (double)n * sizeof(float);
        m->copy_gbs[s] = bytes / bench_time(&normal, o->min_samples, o->min_seconds) * 1e-9;
        m->stream_gbs[s] = bytes / bench_time(&stream, o->min_samples, o->min_seconds) * 1e-9;
        m->read_gbs[s] = bytes / 2 / bench_time(&read, o->min_samples, o->min_seconds) * 1e-9;
        bench_free(x);
        bench_free(y);
        bench_line l = line_new(0, "GB/s", "copy bandwidth, %ld floats, normal stores", n);
        l.ceiling = m->copy_gbs[s];
        table_add(&l);
        l = line_new(0, "GB/s", "copy bandwidth, %ld floats, non-temporal stores", n);
        l.ceiling = m->stream_gbs[s];
        table_add(&l);
        l = line_new(0, "GB/s", "read bandwidth, %ld floats", n);
        l.ceiling = m->read_gbs[s];
        table_add(&l);
    }
    bench_kernel fma = {fma_loop, NULL, NULL};
    m->fma_gflops = 12.0 * BENCH_LANES * 2 * FMA_ITERS /
                    bench_time(&fma, o->min_samples, o->min_seconds) * 1e-9;
    bench_line l = line_new(0, "GFLOP/s", "peak float FMA rate, one core");
    l.ceiling = m->fma_gflops;
    table_add(&l);
    bench_kernel fresh = {new_memory, NULL, NULL};
    m->page_us =
        bench_time(&fresh, o->min_samples, o->min_seconds) * 1e6 / (NEW_BYTES / PAGE_BYTES);
    l = line_new(0, "us", "new memory made ready and written, one 4 KB page");
    l.lower_better = true;
    l.ceiling = m->page_us;
    table_add(&l);
}

double machine_copy_bound(const bench_machine *m, long n)
{
    int s = 0;
    while (s < 3 && n > copy_sizes[s])
        s++;
    return m->copy_gbs[s] > m->stream_gbs[s] ? m->copy_gbs[s] : m->stream_gbs[s];
}
