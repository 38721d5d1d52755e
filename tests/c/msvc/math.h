/* The C library's math.h as far as src_c uses it, for .ci/msvc: a check of
 * the MSVC branches by clang in MSVC mode, where no Windows SDK is at hand. */
#pragma once
double tanh(double);
float tanhf(float);
double exp(double);
float expf(float);
double sqrt(double);
float sqrtf(float);
double fabs(double);
double log(double);
float logf(float);
double pow(double, double);
