/*
 * kernels_neon.c: the NEON kernel tables of 64-bit ARM (Apple silicon, AWS
 * Graviton, Ampere), for float and double, from the same SIMD templates as
 * the x86 paths. NEON and its fused multiply-add are part of every aarch64
 * CPU, so nothing needs a target pragma and dispatch.c can always pick this
 * path there; the portable path stays the reference it is tested against.
 *
 * NEON has 32 registers of 128 bits (4 floats, 2 doubles) and no masked
 * loads: the last lanes of a row go through a small buffer on the stack.
 */
#include "crnn.h"
#include "kernels.h"

#if CRNN_HAVE_NEON_KERNELS

#include <arm_neon.h>
#include "simd_begin.inc.h"

/* the first n lanes of p, zeros in the others; and their store, or with
 * n < 0 the store of the last -n lanes (a MASK_T is that lane count) */
#define CRNN_MASKED_LANES(real, VEC, W, load, store, sfx)                         \
static inline VEC maskload_neon_##sfx(const real *p, int n) {                     \
    real lanes[W] = {0};                                                          \
    for (int i = 0; i < n; i++) lanes[i] = p[i];                                  \
    return load(lanes);                                                           \
}                                                                                 \
static inline void maskstore_neon_##sfx(real *p, int n, VEC v) {                  \
    real lanes[W];                                                                \
    store(lanes, v);                                                              \
    for (int i = n < 0 ? W + n : 0; i < (n < 0 ? W : n); i++) p[i] = lanes[i];    \
}
CRNN_MASKED_LANES(float, float32x4_t, 4, vld1q_f32, vst1q_f32, f32)
CRNN_MASKED_LANES(double, float64x2_t, 2, vld1q_f64, vst1q_f64, f64)
#undef CRNN_MASKED_LANES

/* dst (C,R), rows ldd apart <- src (R,C)^T, in 4x4 blocks of registers
 * (float) or element by element (double, and the edges) */
static void transpose_neon_f32(float *dst, ptrdiff_t ldd, const float *src, ptrdiff_t R,
                               ptrdiff_t C) {
    const ptrdiff_t R4 = R - R % 4, C4 = C - C % 4;
    for (ptrdiff_t r = 0; r < R4; r += 4)
        for (ptrdiff_t c = 0; c < C4; c += 4) {
            const float *s = src + r * C + c;
            float32x4x2_t t01 = vtrnq_f32(vld1q_f32(s), vld1q_f32(s + C));
            float32x4x2_t t23 = vtrnq_f32(vld1q_f32(s + 2 * C), vld1q_f32(s + 3 * C));
            float *d = dst + c * ldd + r;
            vst1q_f32(d, vcombine_f32(vget_low_f32(t01.val[0]), vget_low_f32(t23.val[0])));
            vst1q_f32(d + ldd, vcombine_f32(vget_low_f32(t01.val[1]), vget_low_f32(t23.val[1])));
            vst1q_f32(d + 2 * ldd,
                      vcombine_f32(vget_high_f32(t01.val[0]), vget_high_f32(t23.val[0])));
            vst1q_f32(d + 3 * ldd,
                      vcombine_f32(vget_high_f32(t01.val[1]), vget_high_f32(t23.val[1])));
        }
    for (ptrdiff_t r = 0; r < R; r++)
        for (ptrdiff_t c = (r < R4 ? C4 : 0); c < C; c++) dst[c * ldd + r] = src[r * C + c];
}

static void transpose_neon_f64(double *dst, ptrdiff_t ldd, const double *src, ptrdiff_t R,
                               ptrdiff_t C) {
    for (ptrdiff_t r = 0; r < R; r++)
        for (ptrdiff_t c = 0; c < C; c++) dst[c * ldd + r] = src[r * C + c];
}

/* a tile of 8 rows by 3 vectors: 24 accumulators, 3 loads, 1 broadcast (BLIS
 * uses 8x12 floats on NEON's 32 registers) */
#define MR 8
#define NV 3
#define RV 16

#define real float
#define CRNN_DOUBLE 0
#define CRNN_SUFFIX _neon_f32
#define VEC float32x4_t
#define MASK_T int
#define W 4
#define KC 256
#define KC_A 128
#define MC 144
#define MC_IN_PLACE 192
#define VZERO() vdupq_n_f32(0.0f)
#define VLOAD(p) vld1q_f32(p)
#define VSTORE(p, v) vst1q_f32(p, v)
#define VSET1(x) vdupq_n_f32(x)
#define VFMA(a, b, c) vfmaq_f32(c, a, b)
#define VADD(a, b) vaddq_f32(a, b)
#define VMUL(a, b) vmulq_f32(a, b)
#define VSUB(a, b) vsubq_f32(a, b)
#define VDIV(a, b) vdivq_f32(a, b)
#define VMIN(a, b) vminq_f32(a, b)
#define VMAX(a, b) vmaxq_f32(a, b)
#define VSQRT(x) vsqrtq_f32(x)
#define VABS(x) vabsq_f32(x)
#define VCOPYSIGN(m, s) vreinterpretq_f32_u32(vorrq_u32(vreinterpretq_u32_f32(m), vandq_u32(vreinterpretq_u32_f32(s), vdupq_n_u32(0x80000000u))))
#define VSELECT_LT(x, limit, a, b) vbslq_f32(vcltq_f32(x, limit), a, b)
#define VROUND(x) vrndnq_f32(x)
#define VPOW2(k) vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(vcvtnq_s32_f32(k), vdupq_n_s32(127)), 23))
#define VMASK(n) (n)
#define VMASK_LAST(n) (-(n))
#define VMASKLOAD(p, m) maskload_neon_f32(p, m)
#define VMASKSTORE(p, m, v) maskstore_neon_f32(p, m, v)
#define VHSUM(v) vaddvq_f32(v)
#define TABLE crnn_kernels_neon_f32
#define TRANSPOSE transpose_neon_f32
#include "simd_instance.inc.c"

#define real double
#define CRNN_DOUBLE 1
#define CRNN_SUFFIX _neon_f64
#define VEC float64x2_t
#define MASK_T int
#define W 2
#define KC 256
#define KC_A 128
#define MC 72
#define MC_IN_PLACE 192
#define VZERO() vdupq_n_f64(0.0)
#define VLOAD(p) vld1q_f64(p)
#define VSTORE(p, v) vst1q_f64(p, v)
#define VSET1(x) vdupq_n_f64(x)
#define VFMA(a, b, c) vfmaq_f64(c, a, b)
#define VADD(a, b) vaddq_f64(a, b)
#define VMUL(a, b) vmulq_f64(a, b)
#define VSUB(a, b) vsubq_f64(a, b)
#define VDIV(a, b) vdivq_f64(a, b)
#define VMIN(a, b) vminq_f64(a, b)
#define VMAX(a, b) vmaxq_f64(a, b)
#define VSQRT(x) vsqrtq_f64(x)
#define VABS(x) vabsq_f64(x)
#define VCOPYSIGN(m, s) vreinterpretq_f64_u64(vorrq_u64(vreinterpretq_u64_f64(m), vandq_u64(vreinterpretq_u64_f64(s), vdupq_n_u64(0x8000000000000000ull))))
#define VSELECT_LT(x, limit, a, b) vbslq_f64(vcltq_f64(x, limit), a, b)
#define VROUND(x) vrndnq_f64(x)
#define VPOW2(k) vreinterpretq_f64_u64(vshlq_n_u64(vreinterpretq_u64_f64(vaddq_f64(k, vdupq_n_f64(4503599627371519.0))), 52))
#define VMASK(n) (n)
#define VMASK_LAST(n) (-(n))
#define VMASKLOAD(p, m) maskload_neon_f64(p, m)
#define VMASKSTORE(p, m, v) maskstore_neon_f64(p, m, v)
#define VHSUM(v) vaddvq_f64(v)
#define TABLE crnn_kernels_neon_f64
#define TRANSPOSE transpose_neon_f64
#include "simd_instance.inc.c"
#undef MR
#undef NV
#undef RV

#else  /* no NEON in this build: an empty unit is not valid ISO C */
typedef int crnn_no_neon_kernels;
#endif /* CRNN_HAVE_NEON_KERNELS */
