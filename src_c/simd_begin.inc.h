/* What every file of SIMD kernel tables (kernels_x86.c, kernels_neon.c) needs
 * before it instantiates the templates: the headers they use, FN(name) (name
 * with the instantiation's CRNN_SUFFIX) and CRNN_INLINE. simd_end.inc.h undoes
 * each instantiation's own macros. */
#include <math.h>
#include <stdint.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#define CRNN_CAT_(a, b) a##b
#define CRNN_CAT(a, b) CRNN_CAT_(a, b)
#define FN(name) CRNN_CAT(name, CRNN_SUFFIX)
#define CRNN_INLINE static inline __attribute__((always_inline))
