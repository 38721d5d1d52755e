/*
 * kernels_x86.c: the AVX2+FMA and AVX-512 kernel tables, for float and
 * double. Each is compiled for its instruction set with a `target` pragma,
 * not a build flag, so the rest of the library stays baseline x86-64 and
 * dispatch.c can pick a table at run time.
 */
#include "kernels.h"

#if CRNN_HAVE_X86_KERNELS

#include <immintrin.h>
#include <math.h>
#include <stdint.h>

#define CRNN_CAT_(a, b) a##b
#define CRNN_CAT(a, b) CRNN_CAT_(a, b)
#define FN(name) CRNN_CAT(name, CRNN_SUFFIX)

/* lanes_on + W - n holds n ones (-1) then zeros: the AVX2 mask of n lanes */
static const int32_t lanes_on32[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
static const int64_t lanes_on64[8] = {-1, -1, -1, -1, 0, 0, 0, 0};

/* tanh for double goes through the C library on every path, element by element */
static void tanh_libm_f64(double *x, ptrdiff_t n) {
    for (ptrdiff_t i = 0; i < n; i++) x[i] = tanh(x[i]);
}

/* ---- AVX2 + FMA: 16 registers of 256 bits ------------------------------ */
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#endif

#define VZERO_(t) _mm256_setzero_##t()
#define MASK_T __m256i
/* a tile of 6 rows by 2 vectors: 12 accumulators, 2 loads, 1 broadcast */
#define MR 6
#define NV 2
#define RV 12

#define real float
#define CRNN_SUFFIX _avx2_f32
#define VEC __m256
#define W 8
#define KC 256
#define MC 96
#define VZERO() _mm256_setzero_ps()
#define VLOAD(p) _mm256_loadu_ps(p)
#define VSTORE(p, v) _mm256_storeu_ps(p, v)
#define VSET1(x) _mm256_set1_ps(x)
#define VFMA(a, b, c) _mm256_fmadd_ps(a, b, c)
#define VADD(a, b) _mm256_add_ps(a, b)
#define VMUL(a, b) _mm256_mul_ps(a, b)
#define VSUB(a, b) _mm256_sub_ps(a, b)
#define VDIV(a, b) _mm256_div_ps(a, b)
#define VMIN(a, b) _mm256_min_ps(a, b)
#define VABS(x) _mm256_andnot_ps(_mm256_set1_ps(-0.0f), x)
#define VCOPYSIGN(m, s) _mm256_or_ps(m, _mm256_and_ps(_mm256_set1_ps(-0.0f), s))
#define VSELECT_LT(x, limit, a, b) _mm256_blendv_ps(b, a, _mm256_cmp_ps(x, limit, _CMP_LT_OQ))
#define VROUND(x) _mm256_round_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
#define VPOW2(k) _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(k), _mm256_set1_epi32(127)), 23))
#define VMASK(n) _mm256_loadu_si256((const __m256i *)(lanes_on32 + 8 - (n)))
#define VMASKLOAD(p, m) _mm256_maskload_ps(p, m)
#define VMASKSTORE(p, m, v) _mm256_maskstore_ps(p, m, v)
#include "kernels_simd.inc.c"
#include "tanh_simd.inc.c"
const crnn_kernels_f32 crnn_kernels_avx2_f32 = {FN(matmul_nn), FN(matmul_tn), FN(tanh)};
#undef real
#undef CRNN_SUFFIX
#undef VEC
#undef W
#undef KC
#undef MC
#undef VZERO
#undef VLOAD
#undef VSTORE
#undef VSET1
#undef VFMA
#undef VADD
#undef VMUL
#undef VSUB
#undef VDIV
#undef VMIN
#undef VABS
#undef VCOPYSIGN
#undef VSELECT_LT
#undef VROUND
#undef VPOW2
#undef VMASK
#undef VMASKLOAD
#undef VMASKSTORE

#define real double
#define CRNN_SUFFIX _avx2_f64
#define VEC __m256d
#define W 4
#define KC 256
#define MC 96
#define VZERO() _mm256_setzero_pd()
#define VLOAD(p) _mm256_loadu_pd(p)
#define VSTORE(p, v) _mm256_storeu_pd(p, v)
#define VSET1(x) _mm256_set1_pd(x)
#define VFMA(a, b, c) _mm256_fmadd_pd(a, b, c)
#define VADD(a, b) _mm256_add_pd(a, b)
#define VMASK(n) _mm256_loadu_si256((const __m256i *)(lanes_on64 + 4 - (n)))
#define VMASKLOAD(p, m) _mm256_maskload_pd(p, m)
#define VMASKSTORE(p, m, v) _mm256_maskstore_pd(p, m, v)
#include "kernels_simd.inc.c"
const crnn_kernels_f64 crnn_kernels_avx2_f64 = {FN(matmul_nn), FN(matmul_tn), tanh_libm_f64};
#undef real
#undef CRNN_SUFFIX
#undef VEC
#undef W
#undef KC
#undef MC
#undef VZERO
#undef VLOAD
#undef VSTORE
#undef VSET1
#undef VFMA
#undef VADD
#undef VMASK
#undef VMASKLOAD
#undef VMASKSTORE
#undef MASK_T
#undef MR
#undef NV
#undef RV

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

/* ---- AVX-512: 32 registers of 512 bits, mask registers ------------------ */
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx2,fma"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx512f,avx2,fma")
#endif

/* a tile of 8 rows by 3 vectors: 24 accumulators, 3 loads, 1 broadcast */
#define MR 8
#define NV 3
#define RV 16

#define real float
#define CRNN_SUFFIX _avx512_f32
#define VEC __m512
#define W 16
#define KC 128
#define MC 96
#define MASK_T __mmask16
#define VZERO() _mm512_setzero_ps()
#define VLOAD(p) _mm512_loadu_ps(p)
#define VSTORE(p, v) _mm512_storeu_ps(p, v)
#define VSET1(x) _mm512_set1_ps(x)
#define VFMA(a, b, c) _mm512_fmadd_ps(a, b, c)
#define VADD(a, b) _mm512_add_ps(a, b)
#define VMUL(a, b) _mm512_mul_ps(a, b)
#define VSUB(a, b) _mm512_sub_ps(a, b)
#define VDIV(a, b) _mm512_div_ps(a, b)
#define VMIN(a, b) _mm512_min_ps(a, b)
#define VABS(x) _mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(x), _mm512_set1_epi32(0x7fffffff)))
#define VCOPYSIGN(m, s) _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(m), _mm512_and_si512(_mm512_castps_si512(s), _mm512_set1_epi32((int)0x80000000u))))
#define VSELECT_LT(x, limit, a, b) _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, limit, _CMP_LT_OQ), b, a)
#define VROUND(x) _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
#define VPOW2(k) _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(k), _mm512_set1_epi32(127)), 23))
#define VMASK(n) ((__mmask16)((1u << (n)) - 1u))
#define VMASKLOAD(p, m) _mm512_maskz_loadu_ps(m, p)
#define VMASKSTORE(p, m, v) _mm512_mask_storeu_ps(p, m, v)
#include "kernels_simd.inc.c"
#include "tanh_simd.inc.c"
const crnn_kernels_f32 crnn_kernels_avx512_f32 = {FN(matmul_nn), FN(matmul_tn), FN(tanh)};
#undef real
#undef CRNN_SUFFIX
#undef VEC
#undef W
#undef KC
#undef MC
#undef MASK_T
#undef VZERO
#undef VLOAD
#undef VSTORE
#undef VSET1
#undef VFMA
#undef VADD
#undef VMUL
#undef VSUB
#undef VDIV
#undef VMIN
#undef VABS
#undef VCOPYSIGN
#undef VSELECT_LT
#undef VROUND
#undef VPOW2
#undef VMASK
#undef VMASKLOAD
#undef VMASKSTORE

#define real double
#define CRNN_SUFFIX _avx512_f64
#define VEC __m512d
#define W 8
#define KC 128
#define MC 96
#define MASK_T __mmask8
#define VZERO() _mm512_setzero_pd()
#define VLOAD(p) _mm512_loadu_pd(p)
#define VSTORE(p, v) _mm512_storeu_pd(p, v)
#define VSET1(x) _mm512_set1_pd(x)
#define VFMA(a, b, c) _mm512_fmadd_pd(a, b, c)
#define VADD(a, b) _mm512_add_pd(a, b)
#define VMASK(n) ((__mmask8)((1u << (n)) - 1u))
#define VMASKLOAD(p, m) _mm512_maskz_loadu_pd(m, p)
#define VMASKSTORE(p, m, v) _mm512_mask_storeu_pd(p, m, v)
#include "kernels_simd.inc.c"
const crnn_kernels_f64 crnn_kernels_avx512_f64 = {FN(matmul_nn), FN(matmul_tn), tanh_libm_f64};

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

#else  /* no x86 SIMD in this build: an empty unit is not valid ISO C */
typedef int crnn_no_x86_kernels;
#endif /* CRNN_HAVE_X86_KERNELS */
