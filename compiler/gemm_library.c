/* gemm_library.c -- the GEMMs, loss kernels and epilogues the build
   compiled into the library (compiler/prebuilt/gemm_gen.c writes them, one
   set per x86-64 ISA level) and which set a JIT target runs. The generator
   itself is built from this file with ACT_GEMM_GENERATOR, before the
   kernels exist: it knows their names and features, not their addresses. */
#include "cc.h"

#include <string.h>

/* The ISA levels of the x86-64 psABI that matter to the GEMM: AVX-512
   (x86-64-v4), AVX2 with FMA (v3) and SSE2 (the baseline). */
#define SSE2 "+sse2"
#define AVX2 SSE2 ",+sse3,+ssse3,+sse4.1,+sse4.2,+popcnt,+avx,+avx2,+fma,+f16c,+bmi,+bmi2,+lzcnt"
#define AVX512 AVX2 ",+avx512f,+avx512bw,+avx512dq,+avx512vl,+avx512cd"

#if defined(__x86_64__) && !defined(ACT_GEMM_GENERATOR)
void act_gemm_avx512(void);
void act_gemm_avx2(void);
void act_gemm_sse2(void);
void act_kernels_avx512(void);
void act_kernels_avx2(void);
void act_kernels_sse2(void);
void act_epilogues_avx512(void);
void act_epilogues_avx2(void);
void act_epilogues_sse2(void);
#define AT(f) f
#else
#define AT(f) NULL
#endif

#if defined(__x86_64__)
const cc_gemm_variant cc_gemm_variants[] = {
    {"act_gemm_avx512", AVX512, AT(act_gemm_avx512), "act_kernels_avx512", AT(act_kernels_avx512),
     "act_epilogues_avx512", AT(act_epilogues_avx512)},
    {"act_gemm_avx2", AVX2, AT(act_gemm_avx2), "act_kernels_avx2", AT(act_kernels_avx2),
     "act_epilogues_avx2", AT(act_epilogues_avx2)},
    {"act_gemm_sse2", SSE2, AT(act_gemm_sse2), "act_kernels_sse2", AT(act_kernels_sse2),
     "act_epilogues_sse2", AT(act_epilogues_sse2)},
    {NULL, NULL, NULL, NULL, NULL, NULL, NULL},
};
#else
const cc_gemm_variant cc_gemm_variants[] = {{NULL, NULL, NULL, NULL, NULL, NULL, NULL}};
#endif

_Static_assert(sizeof cc_gemm_variants / sizeof *cc_gemm_variants <= CC_GEMM_VARIANTS_MAX + 1,
               "the JIT defines at most CC_GEMM_VARIANTS_MAX GEMMs");

const cc_gemm_variant *cc_gemm_library(const cc_target *t)
{
    if (strncmp(t->triple, "x86_64", 6))
        return NULL;
    for (const cc_gemm_variant *v = cc_gemm_variants; v->name; v++) {
        unsigned width;
        bool fma;
        cc_features_isa(v->features, &width, &fma);
        if (v->fn && t->width == width && t->fma == fma && cc_target_has_all(t, v->features))
            return v;
    }
    return NULL;
}
