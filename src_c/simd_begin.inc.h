/* What every file of SIMD kernel tables (kernels_x86.c, kernels_neon.c) needs
 * before it instantiates the templates: the headers they use, FN(name) (name
 * with the instantiation's CRNN_SUFFIX), each compiler's spelling of
 * CRNN_INLINE, PREFETCH and CRNN_UNROLL_4, and the rows of a thread.
 * simd_end.inc.h undoes each instantiation's own macros. */
#include <math.h>
#include <stdint.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#define CRNN_CAT_(a, b) a##b
#define CRNN_CAT(a, b) CRNN_CAT_(a, b)
#define FN(name) CRNN_CAT(name, CRNN_SUFFIX)
/* CRNN_INLINE: inlined wherever it is called, so that its constant
 * arguments (tile sizes) fix its registers; PREFETCH(p): a hint to fetch
 * the line holding p into cache ahead of its use */
#if defined(_MSC_VER) && !defined(__clang__)
#define CRNN_INLINE static __forceinline
#define PREFETCH(p) _mm_prefetch((const char *)(p), _MM_HINT_T0)
#else
#define CRNN_INLINE static inline __attribute__((always_inline))
#define PREFETCH(p) __builtin_prefetch(p)
#endif
/* CRNN_UNROLL_4: unroll the loop that follows four times */
#if defined(__clang__)
#define CRNN_UNROLL_4 _Pragma("unroll 4")
#elif defined(__GNUC__)
#define CRNN_UNROLL_4 _Pragma("GCC unroll 4")
#else
#define CRNN_UNROLL_4
#endif

#ifdef _OPENMP
/* Rows [first, end) of M for the calling thread of a parallel region: whole
 * tiles of mr rows each, the rows left over to the last thread. */
static inline void crnn_thread_rows(ptrdiff_t M, ptrdiff_t mr, ptrdiff_t *first, ptrdiff_t *end) {
    const ptrdiff_t n = omp_get_num_threads(), t = omp_get_thread_num(), tiles = M / mr;
    *first = tiles * t / n * mr;
    *end = t == n - 1 ? M : tiles * (t + 1) / n * mr;
}
#endif
