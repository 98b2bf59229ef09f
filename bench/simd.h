/* simd.h -- the widest float vectors this CPU runs, for the bench's own
   loops (it is built with -march=native): BENCH_LANES floats (16 with
   AVX-512, 8 with AVX2 and FMA, 0 otherwise), their type vf, and V(op)
   naming the intrinsic _mm512_op_ps or _mm256_op_ps. */
#ifndef BENCH_SIMD_H
#define BENCH_SIMD_H

#include <immintrin.h>

#if defined(__AVX512F__)
#define BENCH_LANES 16
typedef __m512 vf;
#define V(op) _mm512_##op##_ps
#elif defined(__AVX2__) && defined(__FMA__)
#define BENCH_LANES 8
typedef __m256 vf;
#define V(op) _mm256_##op##_ps
#else
#define BENCH_LANES 0
#endif

#endif
