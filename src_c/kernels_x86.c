/*
 * kernels_x86.c: the AVX2+FMA and AVX-512 kernel tables, for float and
 * double. gcc and clang compile each for its instruction set with a `target`
 * pragma, not a build flag, so the rest of the library stays baseline x86-64
 * and dispatch.c can pick a table at run time; MSVC compiles the intrinsics
 * of any instruction set as they are.
 */
#include "crnn.h"
#include "kernels.h"

#if CRNN_HAVE_X86_KERNELS

#include <immintrin.h>
#include "simd_begin.inc.h"

/* lanes_on + W - n holds n ones (-1) then zeros: the AVX2 mask of the first n
 * lanes; lanes_last + n, W - n zeros then n ones: the mask of the last n */
static const int32_t lanes_on32[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
static const int64_t lanes_on64[8] = {-1, -1, -1, -1, 0, 0, 0, 0};
static const int32_t lanes_last32[16] = {0, 0, 0, 0, 0, 0, 0, 0, -1, -1, -1, -1, -1, -1, -1, -1};
static const int64_t lanes_last64[8] = {0, 0, 0, 0, -1, -1, -1, -1};

/* ---- AVX2 + FMA: 16 registers of 256 bits ------------------------------ */
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#elif defined(__GNUC__)
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#endif

/* dst (C,R) <- src (R,C)^T in 8x8 blocks of registers (4x4 for double); the
 * AVX-512 tables use these too. Edges go element by element. */
static void transpose_avx2_f32(float *dst, ptrdiff_t ldd, const float *src, ptrdiff_t R,
                               ptrdiff_t C) {
    const ptrdiff_t R8 = R - R % 8, C8 = C - C % 8;
    for (ptrdiff_t r = 0; r < R8; r += 8)
        for (ptrdiff_t c = 0; c < C8; c += 8) {
            const float *s = src + r * C + c;
            __m256 r0 = _mm256_loadu_ps(s), r1 = _mm256_loadu_ps(s + C);
            __m256 r2 = _mm256_loadu_ps(s + 2 * C), r3 = _mm256_loadu_ps(s + 3 * C);
            __m256 r4 = _mm256_loadu_ps(s + 4 * C), r5 = _mm256_loadu_ps(s + 5 * C);
            __m256 r6 = _mm256_loadu_ps(s + 6 * C), r7 = _mm256_loadu_ps(s + 7 * C);
            __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
            __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
            __m256 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5);
            __m256 t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
            __m256 u0 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0));
            __m256 u1 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2));
            __m256 u2 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0));
            __m256 u3 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2));
            __m256 u4 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(1, 0, 1, 0));
            __m256 u5 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(3, 2, 3, 2));
            __m256 u6 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(1, 0, 1, 0));
            __m256 u7 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(3, 2, 3, 2));
            float *d = dst + c * ldd + r;
            _mm256_storeu_ps(d, _mm256_permute2f128_ps(u0, u4, 0x20));
            _mm256_storeu_ps(d + ldd, _mm256_permute2f128_ps(u1, u5, 0x20));
            _mm256_storeu_ps(d + 2 * ldd, _mm256_permute2f128_ps(u2, u6, 0x20));
            _mm256_storeu_ps(d + 3 * ldd, _mm256_permute2f128_ps(u3, u7, 0x20));
            _mm256_storeu_ps(d + 4 * ldd, _mm256_permute2f128_ps(u0, u4, 0x31));
            _mm256_storeu_ps(d + 5 * ldd, _mm256_permute2f128_ps(u1, u5, 0x31));
            _mm256_storeu_ps(d + 6 * ldd, _mm256_permute2f128_ps(u2, u6, 0x31));
            _mm256_storeu_ps(d + 7 * ldd, _mm256_permute2f128_ps(u3, u7, 0x31));
        }
    for (ptrdiff_t r = 0; r < R; r++)
        for (ptrdiff_t c = (r < R8 ? C8 : 0); c < C; c++) dst[c * ldd + r] = src[r * C + c];
}

static void transpose_avx2_f64(double *dst, ptrdiff_t ldd, const double *src, ptrdiff_t R,
                               ptrdiff_t C) {
    const ptrdiff_t R4 = R - R % 4, C4 = C - C % 4;
    for (ptrdiff_t r = 0; r < R4; r += 4)
        for (ptrdiff_t c = 0; c < C4; c += 4) {
            const double *s = src + r * C + c;
            __m256d r0 = _mm256_loadu_pd(s), r1 = _mm256_loadu_pd(s + C);
            __m256d r2 = _mm256_loadu_pd(s + 2 * C), r3 = _mm256_loadu_pd(s + 3 * C);
            __m256d t0 = _mm256_unpacklo_pd(r0, r1), t1 = _mm256_unpackhi_pd(r0, r1);
            __m256d t2 = _mm256_unpacklo_pd(r2, r3), t3 = _mm256_unpackhi_pd(r2, r3);
            double *d = dst + c * ldd + r;
            _mm256_storeu_pd(d, _mm256_permute2f128_pd(t0, t2, 0x20));
            _mm256_storeu_pd(d + ldd, _mm256_permute2f128_pd(t1, t3, 0x20));
            _mm256_storeu_pd(d + 2 * ldd, _mm256_permute2f128_pd(t0, t2, 0x31));
            _mm256_storeu_pd(d + 3 * ldd, _mm256_permute2f128_pd(t1, t3, 0x31));
        }
    for (ptrdiff_t r = 0; r < R; r++)
        for (ptrdiff_t c = (r < R4 ? C4 : 0); c < C; c++) dst[c * ldd + r] = src[r * C + c];
}

/* the sum of a vector's lanes: its halves added, then their halves */
static inline float hsum_avx2_f32(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
}

static inline double hsum_avx2_f64(__m256d v) {
    __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
}

/* a tile of 6 rows by 2 vectors: 12 accumulators, 2 loads, 1 broadcast */
#define MR 6
#define NV 2
#define RV 12

#define real float
#define CRNN_DOUBLE 0
#define CRNN_SUFFIX _avx2_f32
#define VEC __m256
#define MASK_T __m256i
#define W 8
#define KC 256
#define KC_A 128
#define MC 144
#define MC_IN_PLACE 384
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
#define VMAX(a, b) _mm256_max_ps(a, b)
#define VSQRT(x) _mm256_sqrt_ps(x)
#define VABS(x) _mm256_andnot_ps(_mm256_set1_ps(-0.0f), x)
#define VCOPYSIGN(m, s) _mm256_or_ps(m, _mm256_and_ps(_mm256_set1_ps(-0.0f), s))
#define VSELECT_LT(x, limit, a, b) _mm256_blendv_ps(b, a, _mm256_cmp_ps(x, limit, _CMP_LT_OQ))
#define VROUND(x) _mm256_round_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
#define VPOW2(k) _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(k), _mm256_set1_epi32(127)), 23))
#define VMASK(n) _mm256_loadu_si256((const __m256i *)(lanes_on32 + 8 - (n)))
#define VMASK_LAST(n) _mm256_loadu_si256((const __m256i *)(lanes_last32 + (n)))
#define VMASKLOAD(p, m) _mm256_maskload_ps(p, m)
#define VMASKSTORE(p, m, v) _mm256_maskstore_ps(p, m, v)
#define VHSUM(v) hsum_avx2_f32(v)
#define TABLE crnn_kernels_avx2_f32
#define TRANSPOSE transpose_avx2_f32
#include "simd_instance.inc.c"

#define real double
#define CRNN_DOUBLE 1
#define CRNN_SUFFIX _avx2_f64
#define VEC __m256d
#define MASK_T __m256i
#define W 4
#define KC 256
#define KC_A 128
#define MC 72
#define MC_IN_PLACE 192
#define VZERO() _mm256_setzero_pd()
#define VLOAD(p) _mm256_loadu_pd(p)
#define VSTORE(p, v) _mm256_storeu_pd(p, v)
#define VSET1(x) _mm256_set1_pd(x)
#define VFMA(a, b, c) _mm256_fmadd_pd(a, b, c)
#define VADD(a, b) _mm256_add_pd(a, b)
#define VMUL(a, b) _mm256_mul_pd(a, b)
#define VSUB(a, b) _mm256_sub_pd(a, b)
#define VDIV(a, b) _mm256_div_pd(a, b)
#define VMIN(a, b) _mm256_min_pd(a, b)
#define VMAX(a, b) _mm256_max_pd(a, b)
#define VSQRT(x) _mm256_sqrt_pd(x)
#define VABS(x) _mm256_andnot_pd(_mm256_set1_pd(-0.0), x)
#define VCOPYSIGN(m, s) _mm256_or_pd(m, _mm256_and_pd(_mm256_set1_pd(-0.0), s))
#define VSELECT_LT(x, limit, a, b) _mm256_blendv_pd(b, a, _mm256_cmp_pd(x, limit, _CMP_LT_OQ))
#define VROUND(x) _mm256_round_pd(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
#define VPOW2(k) _mm256_castsi256_pd(_mm256_slli_epi64(_mm256_castpd_si256(_mm256_add_pd(k, _mm256_set1_pd(4503599627371519.0))), 52))
#define VMASK(n) _mm256_loadu_si256((const __m256i *)(lanes_on64 + 4 - (n)))
#define VMASK_LAST(n) _mm256_loadu_si256((const __m256i *)(lanes_last64 + (n)))
#define VMASKLOAD(p, m) _mm256_maskload_pd(p, m)
#define VMASKSTORE(p, m, v) _mm256_maskstore_pd(p, m, v)
#define VHSUM(v) hsum_avx2_f64(v)
#define TABLE crnn_kernels_avx2_f64
#define TRANSPOSE transpose_avx2_f64
#include "simd_instance.inc.c"
#undef MR
#undef NV
#undef RV

#if defined(__clang__)
#pragma clang attribute pop
#elif defined(__GNUC__)
#pragma GCC pop_options
#endif

/* ---- AVX-512: 32 registers of 512 bits, mask registers ------------------ */
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx2,fma"))), apply_to = function)
#elif defined(__GNUC__)
#pragma GCC push_options
#pragma GCC target("avx512f,avx2,fma")
#endif

/* a tile of 6 rows by 4 vectors: 24 accumulators, 4 loads, 1 broadcast. A
 * tile of 64 columns (32 doubles) divides the widths RNNs use, powers of two
 * and their multiples: measured on an AMD EPYC (Zen 4), against 8 rows by 3
 * vectors (48 columns, the panel past 64 columns two-thirds zeros), the
 * output layer's product (3200 x 64 x 256) 66-72 -> 92-101 GFLOP/s and the
 * backward's recurrent product (32 x 256 x 1024) 86-93 -> 98-103, the others
 * the same (the kernel table timed from C, medians of 9 runs) */
#define MR 6
#define NV 4
#define RV 16

#define real float
#define CRNN_DOUBLE 0
#define CRNN_SUFFIX _avx512_f32
#define VEC __m512
#define W 16
#define KC 128
#define KC_A 128
#define MC 120
#define MC_IN_PLACE 384
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
#define VMAX(a, b) _mm512_max_ps(a, b)
#define VSQRT(x) _mm512_sqrt_ps(x)
#define VABS(x) _mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(x), _mm512_set1_epi32(0x7fffffff)))
#define VCOPYSIGN(m, s) _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(m), _mm512_and_si512(_mm512_castps_si512(s), _mm512_set1_epi32((int)0x80000000u))))
#define VSELECT_LT(x, limit, a, b) _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, limit, _CMP_LT_OQ), b, a)
#define VROUND(x) _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
#define VPOW2(k) _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(k), _mm512_set1_epi32(127)), 23))
#define VMASK(n) ((__mmask16)((1u << (n)) - 1u))
#define VMASK_LAST(n) ((__mmask16)(0xffffu << (16 - (n))))
#define VMASKLOAD(p, m) _mm512_maskz_loadu_ps(m, p)
#define VMASKSTORE(p, m, v) _mm512_mask_storeu_ps(p, m, v)
#define VHSUM(v) _mm512_reduce_add_ps(v)
#define TABLE crnn_kernels_avx512_f32
#define TRANSPOSE transpose_avx2_f32
#include "simd_instance.inc.c"

#define real double
#define CRNN_DOUBLE 1
#define CRNN_SUFFIX _avx512_f64
#define VEC __m512d
#define W 8
#define KC 128
#define KC_A 128
#define MC 60
#define MC_IN_PLACE 192
#define MASK_T __mmask8
#define VZERO() _mm512_setzero_pd()
#define VLOAD(p) _mm512_loadu_pd(p)
#define VSTORE(p, v) _mm512_storeu_pd(p, v)
#define VSET1(x) _mm512_set1_pd(x)
#define VFMA(a, b, c) _mm512_fmadd_pd(a, b, c)
#define VADD(a, b) _mm512_add_pd(a, b)
#define VMUL(a, b) _mm512_mul_pd(a, b)
#define VSUB(a, b) _mm512_sub_pd(a, b)
#define VDIV(a, b) _mm512_div_pd(a, b)
#define VMIN(a, b) _mm512_min_pd(a, b)
#define VMAX(a, b) _mm512_max_pd(a, b)
#define VSQRT(x) _mm512_sqrt_pd(x)
#define VABS(x) _mm512_castsi512_pd(_mm512_and_si512(_mm512_castpd_si512(x), _mm512_set1_epi64(0x7fffffffffffffffLL)))
#define VCOPYSIGN(m, s) _mm512_castsi512_pd(_mm512_or_si512(_mm512_castpd_si512(m), _mm512_and_si512(_mm512_castpd_si512(s), _mm512_set1_epi64((long long)0x8000000000000000ULL))))
#define VSELECT_LT(x, limit, a, b) _mm512_mask_blend_pd(_mm512_cmp_pd_mask(x, limit, _CMP_LT_OQ), b, a)
#define VROUND(x) _mm512_roundscale_pd(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
#define VPOW2(k) _mm512_castsi512_pd(_mm512_slli_epi64(_mm512_castpd_si512(_mm512_add_pd(k, _mm512_set1_pd(4503599627371519.0))), 52))
#define VMASK(n) ((__mmask8)((1u << (n)) - 1u))
#define VMASK_LAST(n) ((__mmask8)(0xffu << (8 - (n))))
#define VMASKLOAD(p, m) _mm512_maskz_loadu_pd(m, p)
#define VMASKSTORE(p, m, v) _mm512_mask_storeu_pd(p, m, v)
#define VHSUM(v) _mm512_reduce_add_pd(v)
#define TABLE crnn_kernels_avx512_f64
#define TRANSPOSE transpose_avx2_f64
#include "simd_instance.inc.c"
#undef MR
#undef NV
#undef RV

#if defined(__clang__)
#pragma clang attribute pop
#elif defined(__GNUC__)
#pragma GCC pop_options
#endif

#else  /* no x86 SIMD in this build: an empty unit is not valid ISO C */
typedef int crnn_no_x86_kernels;
#endif /* CRNN_HAVE_X86_KERNELS */
