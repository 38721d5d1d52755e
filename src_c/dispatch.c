/*
 * dispatch.c: which kernel path runs. The choice is made at run time from
 * what the CPU supports, never at build time, so a wheel built on one machine
 * runs on every CPU of its platform.
 */
#include "crnn.h"
#include "kernels.h"

#ifdef _OPENMP
#include <omp.h>
#endif

static const char *const kernel_names[CRNN_KERNEL_COUNT] = {"portable", "avx2", "avx512",
                                                            "neon"};

/* -1 until first use, then the path in use */
static int active_kernel = -1;

#if CRNN_HAVE_X86_KERNELS
/* The two instructions that say what an x86 CPU and its OS support, in each
 * compiler's spelling; x86_supports reads them the same way for all. */
#if defined(_MSC_VER) && !defined(__clang__)
#include <intrin.h>
static void cpuid(unsigned leaf, unsigned r[4]) { /* eax, ebx, ecx, edx; subleaf 0 */
    int v[4];
    __cpuidex(v, (int)leaf, 0);
    for (int i = 0; i < 4; i++) r[i] = (unsigned)v[i];
}
static unsigned long long xcr0(void) { return _xgetbv(0); }
#else
#include <cpuid.h>
static void cpuid(unsigned leaf, unsigned r[4]) {
    __cpuid_count(leaf, 0, r[0], r[1], r[2], r[3]);
}
static unsigned long long xcr0(void) {
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((unsigned long long)hi << 32) | lo;
}
#endif

/* Whether the CPU has the path's instructions and the OS saves their
 * registers on a context switch (XCR0: bits 1-2 for 128- and 256-bit
 * registers, 5-7 for AVX-512's masks and 512-bit registers). */
static int x86_supports(int kernel) {
    unsigned r[4];
    cpuid(0, r);
    if (r[0] < 7) return 0; /* no leaf 7, so no AVX2 */
    cpuid(1, r);
    const int fma = r[2] >> 12 & 1, osxsave = r[2] >> 27 & 1, avx = r[2] >> 28 & 1;
    if (!fma || !osxsave || !avx) return 0; /* xgetbv needs osxsave */
    const unsigned long long saved = xcr0();
    if ((saved & 0x6) != 0x6) return 0;
    cpuid(7, r);
    const int avx2 = r[1] >> 5 & 1, avx512f = r[1] >> 16 & 1;
    if (kernel == CRNN_KERNEL_AVX2) return avx2;
    if (kernel == CRNN_KERNEL_AVX512) return avx2 && avx512f && (saved & 0xe6) == 0xe6;
    return 0;
}
#endif

static int cpu_supports(int kernel) {
    if (kernel == CRNN_KERNEL_PORTABLE) return 1;
#if CRNN_HAVE_X86_KERNELS
    if (kernel == CRNN_KERNEL_AVX2 || kernel == CRNN_KERNEL_AVX512) return x86_supports(kernel);
#endif
#if CRNN_HAVE_NEON_KERNELS
    if (kernel == CRNN_KERNEL_NEON) return 1; /* part of every aarch64 CPU */
#endif
    return 0;
}

const char *crnn_kernel_name(int kernel) {
    return (kernel >= 0 && kernel < CRNN_KERNEL_COUNT) ? kernel_names[kernel] : NULL;
}

int crnn_kernel_available(int kernel) {
    return kernel >= 0 && kernel < CRNN_KERNEL_COUNT && cpu_supports(kernel);
}

int crnn_get_kernel(void) {
    if (active_kernel < 0) { /* first use: the widest path this CPU runs */
        int best = CRNN_KERNEL_PORTABLE;
        for (int k = 0; k < CRNN_KERNEL_COUNT; k++)
            if (crnn_kernel_available(k)) best = k;
        active_kernel = best;
    }
    return active_kernel;
}

int crnn_set_kernel(int kernel) {
    if (!crnn_kernel_available(kernel)) return CRNN_ERR_KERNEL;
    active_kernel = kernel;
    return CRNN_OK;
}

#define CRNN_ACTIVE(sfx)                                                       \
const crnn_kernels_##sfx *crnn_active_kernels_##sfx(void) {                   \
    switch (crnn_get_kernel()) {                                               \
    X86_CASES(sfx)                                                             \
    NEON_CASES(sfx)                                                            \
    default: return &crnn_kernels_portable_##sfx;                              \
    }                                                                          \
}                                                                              \
void crnn_tanh_##sfx(real_##sfx *x, ptrdiff_t n) {                             \
    crnn_active_kernels_##sfx()->tanh(x, n);                                   \
}                                                                              \
void crnn_sigmoid_##sfx(real_##sfx *x, ptrdiff_t n) {                          \
    crnn_active_kernels_##sfx()->sigmoid(x, n);                                \
}

#if CRNN_HAVE_X86_KERNELS
#define X86_CASES(sfx)                                                         \
    case CRNN_KERNEL_AVX2: return &crnn_kernels_avx2_##sfx;                    \
    case CRNN_KERNEL_AVX512: return &crnn_kernels_avx512_##sfx;
#else
#define X86_CASES(sfx)
#endif

#if CRNN_HAVE_NEON_KERNELS
#define NEON_CASES(sfx)                                                        \
    case CRNN_KERNEL_NEON: return &crnn_kernels_neon_##sfx;
#else
#define NEON_CASES(sfx)
#endif

typedef float real_f32;
typedef double real_f64;
CRNN_ACTIVE(f32)
CRNN_ACTIVE(f64)

/* ---- threads -------------------------------------------------------------- */

#ifdef _OPENMP
/* 0 until set: then OpenMP's default, which follows OMP_NUM_THREADS */
static int num_threads = 0;
#endif

/* Below about a million multiply-adds (some 20 us on one core) a parallel
 * region's start and end cost more than a second thread gives. */
#define CRNN_PARALLEL_WORK 1.0e6

int crnn_set_num_threads(int n) {
#ifdef _OPENMP
    num_threads = n < 1 ? 1 : n;
#else
    (void)n;
#endif
    return crnn_get_num_threads();
}

int crnn_get_num_threads(void) {
#ifdef _OPENMP
    return num_threads > 0 ? num_threads : omp_get_max_threads();
#else
    return 1;
#endif
}

int crnn_threads_for(double work, ptrdiff_t parts) {
    if (work < CRNN_PARALLEL_WORK || parts < 2) return 1;
    const int n = crnn_get_num_threads();
    return parts < n ? (int)parts : n;
}
