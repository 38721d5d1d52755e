/* Ends one instantiation of the SIMD templates in kernels_x86.c: forgets the
 * type and vector macros it defined, so the next one can define its own. */
#undef real
#undef CRNN_SUFFIX
#undef CRNN_DOUBLE
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
