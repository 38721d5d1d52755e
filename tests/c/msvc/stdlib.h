/* stdlib.h as far as src_c uses it, for .ci/msvc (see math.h here) */
#pragma once
#include <stddef.h>
void qsort(void *, size_t, size_t, int (*)(const void *, const void *));
