/* machine.c -- row 0: the limits of this machine, measured rather than
   quoted: copy bandwidth with normal and non-temporal stores at four working
   sets, and the peak FMA rate of one core. The rows' ceilings come from them. */
#include "driver.h"

#include <immintrin.h>
#include <string.h>

static const long copy_sizes[4] = {4096, 262144, 16777216, 67108864};

typedef struct {
    const float *x;
    float *y;
    long n;
} copy_state;

static void copy_normal(void *state)
{
    copy_state *s = state;
#ifdef __AVX512F__
    for (long i = 0; i < s->n; i += 16)
        _mm512_store_ps(s->y + i, _mm512_load_ps(s->x + i));
#else
    memcpy(s->y, s->x, (size_t)s->n * sizeof *s->y);
#endif
}

static void copy_stream(void *state)
{
    copy_state *s = state;
#ifdef __AVX512F__
    for (long i = 0; i < s->n; i += 16)
        _mm512_stream_ps(s->y + i, _mm512_load_ps(s->x + i));
    _mm_sfence();
#else
    memcpy(s->y, s->x, (size_t)s->n * sizeof *s->y);
#endif
}

/* 12 independent chains of 16-lane FMAs: enough to cover latency times
   throughput on current cores; the sums are kept so nothing is removed. */
static volatile float fma_sink;
enum { FMA_ITERS = 1 << 16 };

static void fma_loop(void *state)
{
    (void)state;
#ifdef __AVX512F__
    __m512 m = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-7f);
    __m512 a0 = _mm512_set1_ps(0), a1 = _mm512_set1_ps(1), a2 = _mm512_set1_ps(2),
           a3 = _mm512_set1_ps(3);
    __m512 a4 = _mm512_set1_ps(4), a5 = _mm512_set1_ps(5), a6 = _mm512_set1_ps(6),
           a7 = _mm512_set1_ps(7);
    __m512 a8 = _mm512_set1_ps(8), a9 = _mm512_set1_ps(9), a10 = _mm512_set1_ps(10),
           a11 = _mm512_set1_ps(11);
    for (int i = 0; i < FMA_ITERS; i++) { /* named, so they stay in registers */
        a0 = _mm512_fmadd_ps(a0, m, c), a1 = _mm512_fmadd_ps(a1, m, c),
        a2 = _mm512_fmadd_ps(a2, m, c);
        a3 = _mm512_fmadd_ps(a3, m, c), a4 = _mm512_fmadd_ps(a4, m, c),
        a5 = _mm512_fmadd_ps(a5, m, c);
        a6 = _mm512_fmadd_ps(a6, m, c), a7 = _mm512_fmadd_ps(a7, m, c),
        a8 = _mm512_fmadd_ps(a8, m, c);
        a9 = _mm512_fmadd_ps(a9, m, c), a10 = _mm512_fmadd_ps(a10, m, c),
        a11 = _mm512_fmadd_ps(a11, m, c);
    }
    a0 = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)),
                       _mm512_add_ps(_mm512_add_ps(a4, a5), _mm512_add_ps(a6, a7)));
    a0 = _mm512_add_ps(a0, _mm512_add_ps(_mm512_add_ps(a8, a9), _mm512_add_ps(a10, a11)));
    fma_sink = _mm512_reduce_add_ps(a0);
#endif
}

void machine_measure(const bench_options *o, bench_machine *m)
{
    for (int s = 0; s < 4; s++) {
        long n = copy_sizes[s];
        float *x = bench_alloc((size_t)n), *y = bench_alloc((size_t)n);
        copy_state st = {x, y, n};
        bench_fill(x, (size_t)n, -1, 1, 1);
        bench_kernel normal = {copy_normal, NULL, &st}, stream = {copy_stream, NULL, &st};
        double bytes = 2.0 * (double)n * sizeof(float);
        m->copy_gbs[s] = bytes / bench_time(&normal, o->min_samples, o->min_seconds) * 1e-9;
        m->stream_gbs[s] = bytes / bench_time(&stream, o->min_samples, o->min_seconds) * 1e-9;
        bench_free(x);
        bench_free(y);
        bench_line l = line_new(0, "GB/s", "copy bandwidth, %ld floats, normal stores", n);
        l.ceiling = m->copy_gbs[s];
        table_add(&l);
        l = line_new(0, "GB/s", "copy bandwidth, %ld floats, non-temporal stores", n);
        l.ceiling = m->stream_gbs[s];
        table_add(&l);
    }
    bench_kernel fma = {fma_loop, NULL, NULL};
    m->fma_gflops =
        12.0 * 16 * 2 * FMA_ITERS / bench_time(&fma, o->min_samples, o->min_seconds) * 1e-9;
    bench_line l = line_new(0, "GFLOP/s", "peak float FMA rate, one core");
    l.ceiling = m->fma_gflops;
    table_add(&l);
}

double machine_copy_bound(const bench_machine *m, long n)
{
    int s = 0;
    while (s < 3 && n > copy_sizes[s])
        s++;
    return m->copy_gbs[s] > m->stream_gbs[s] ? m->copy_gbs[s] : m->stream_gbs[s];
}
