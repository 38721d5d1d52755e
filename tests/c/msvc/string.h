/* string.h as far as src_c uses it, for .ci/msvc (see math.h here) */
#pragma once
#include <stddef.h>
void *memcpy(void *, const void *, size_t);
void *memset(void *, int, size_t);
