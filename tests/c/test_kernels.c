/*
 * The kernel tables of every path this build and CPU run, against plain
 * references, without Python: products over random shapes and the edges
 * (tails of every length, one row, sums across the cache blocks, A read
 * transposed), tanh, sigmoid, exp, transpose, the gated cells' fused passes
 * and the training updates, in both types. Built and run natively by
 * .ci/kernels (the x86 paths) and cross-built for aarch64 and run under qemu
 * by .ci/aarch64 (NEON). Prints a line per failure and ends with "N passed,
 * N failed"; exits 1 on any failure.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crnn.h"
#include "kernels.h"

static int passed, failed;

static void report(const char *path, const char *type, const char *what, int ok, double worst) {
    if (ok) {
        passed++;
        return;
    }
    failed++;
    printf("FAILED %s %s %s (error %.3g of its bound)\n", path, type, what, worst);
}

/* a small, fixed generator: the same data on every machine */
static unsigned next(unsigned *seed) {
    *seed = *seed * 1103515245u + 12345u;
    return (*seed >> 8) & 0xffffffu;
}

static double uniform(unsigned *seed) { /* in [-1, 1) */
    return next(seed) / 8388608.0 - 1.0;
}

#define CRNN_CAT_(a, b) a##b
#define CRNN_CAT(a, b) CRNN_CAT_(a, b)
#define FN(name) CRNN_CAT(name, CRNN_SUFFIX)

#define real float
#define CRNN_SUFFIX _f32
#define SFX "float32"
#define EPS 5.96e-8
typedef crnn_kernels_f32 kernels_f32;
#include "kernel_checks.inc.c"
#undef real
#undef CRNN_SUFFIX
#undef SFX
#undef EPS

#define real double
#define CRNN_SUFFIX _f64
#define SFX "float64"
#define EPS 1.12e-16
typedef crnn_kernels_f64 kernels_f64;
#include "kernel_checks.inc.c"

/* dispatch.c reads cpuid and xgetbv itself (the same code serves MSVC, where
 * no __builtin_cpu_supports exists): it must agree with the compiler's own
 * answer wherever that exists */
static void check_detection(void) {
#if CRNN_HAVE_X86_KERNELS && defined(__GNUC__)
    __builtin_cpu_init();
    const int avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    const int avx512 = avx2 && __builtin_cpu_supports("avx512f");
    report("dispatch", "-", "avx2 detected as the compiler does",
           crnn_kernel_available(CRNN_KERNEL_AVX2) == avx2, 0);
    report("dispatch", "-", "avx512 detected as the compiler does",
           crnn_kernel_available(CRNN_KERNEL_AVX512) == avx512, 0);
#endif
}

int main(void) {
    int tested = 0;
    check_detection();
    for (int k = 0; k < CRNN_KERNEL_COUNT; k++) {
        if (!crnn_kernel_available(k)) {
            printf("kernel path %s: not in this build or not on this CPU, skipped\n",
                   crnn_kernel_name(k));
            continue;
        }
        crnn_set_kernel(k);
        const int before = failed;
        unsigned seed = 12345u + (unsigned)k;
        check_matmul_f32(crnn_kernel_name(k), crnn_active_kernels_f32(), &seed);
        check_matmul_f64(crnn_kernel_name(k), crnn_active_kernels_f64(), &seed);
        check_activations_f32(crnn_kernel_name(k), crnn_active_kernels_f32(), &seed);
        check_activations_f64(crnn_kernel_name(k), crnn_active_kernels_f64(), &seed);
        check_elementwise_f32(crnn_kernel_name(k), crnn_active_kernels_f32(),
                              &crnn_kernels_portable_f32, &seed);
        check_elementwise_f64(crnn_kernel_name(k), crnn_active_kernels_f64(),
                              &crnn_kernels_portable_f64, &seed);
        check_cells_f32(crnn_kernel_name(k), crnn_active_kernels_f32(),
                        &crnn_kernels_portable_f32, &seed);
        check_cells_f64(crnn_kernel_name(k), crnn_active_kernels_f64(),
                        &crnn_kernels_portable_f64, &seed);
        printf("kernel path %s: %s\n", crnn_kernel_name(k),
               failed == before ? "every check passed" : "FAILED");
        tested++;
    }
    printf("%d passed, %d failed (%d kernel paths tested)\n", passed, failed, tested);
    return failed || !tested;
}
