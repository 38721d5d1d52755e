"""Build the C core (src_c/) and its Cython wrapper (crnn/_core.pyx) into crnn._core."""
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

# Portable flags only: a wheel must run on every CPU of its platform, and tanh
# must stay accurate, so no -march=native, -Ofast or -ffast-math. SIMD paths
# are chosen at run time. -fno-wrapv undoes CPython's -fwrapv, which keeps gcc
# from simplifying the kernels' index arithmetic (measured: the charrnn
# forward+backward 45.5 -> 52.5 us in C); nothing here overflows a signed int.
UNIX_FLAGS = ["-O3", "-std=c99", "-fno-wrapv"]
MSVC_FLAGS = ["/O2"]


class BuildExt(build_ext):
    def build_extensions(self):
        flags = MSVC_FLAGS if self.compiler.compiler_type == "msvc" else UNIX_FLAGS
        for ext in self.extensions:
            ext.extra_compile_args = flags + ext.extra_compile_args
        super().build_extensions()


core = Extension(
    "crnn._core",
    sources=["crnn/_core.pyx", "src_c/crnn.c", "src_c/dispatch.c", "src_c/kernels_x86.c"],
    include_dirs=["src_c"],
    depends=["src_c/crnn.h", "src_c/kernels.h", "src_c/kernels_portable.inc.c",
             "src_c/kernels_simd.inc.c", "src_c/tanh_simd.inc.c", "src_c/rnn.inc.c"],
)

setup(
    ext_modules=cythonize([core], language_level="3"),
    cmdclass={"build_ext": BuildExt},
)
