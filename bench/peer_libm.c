/* peer_libm.c -- the "plain libm loop" peer of rows 1 and 2: the formulas of
   formulas_f32.h compiled -O2 without fast-math, so each element costs one
   call of glibc's scalar expf, tanhf, erff, log1pf or expm1f. */
#include "formulas_f32.h"
#include "peers.h"

int peer_libm_fwd(bench_func f, const float *x, float *y, long n, bench_kernel *k)
{
    return ff_fwd_kernel(f, x, y, n, k);
}

int peer_libm_bwd(bench_func f, const float *saved, const float *dy, float *dx, long n,
                  bench_kernel *k)
{
    return ff_bwd_kernel(f, saved, dy, dx, n, k);
}
