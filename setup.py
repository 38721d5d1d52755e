"""Build the C core (src_c/) and its Cython wrapper (crnn/_core.pyx) into crnn._core."""
import glob
import os
import sys

from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

# Portable flags only: a wheel must run on every CPU of its platform, and tanh
# must stay accurate, so nothing tuned to the build machine's CPU and no
# fast-math. SIMD paths are compiled with target pragmas and chosen at run time. -fno-wrapv undoes CPython's -fwrapv, which keeps gcc
# from simplifying the kernels' index arithmetic (measured: the charrnn
# forward+backward 45.5 -> 52.5 us in C); nothing here overflows a signed int.
# -fno-math-errno lets sqrt vectorize in the optimizers' loops (it only stops
# setting errno; results are the same).
UNIX_FLAGS = ["-O3", "-std=c99", "-fno-wrapv", "-fno-math-errno"]
# Release builds carry no debug information (Python's own CFLAGS ask for -g:
# 3.6 of the extension's 4.1 MB were debug sections); the sanitizer build keeps it.
RELEASE_FLAGS = ["-g0"]
MSVC_FLAGS = ["/O2"]

# Threads for large products, with OpenMP where the compiler has it: gcc on
# Linux (Apple's clang has none). CRNN_OPENMP=0 builds without.
OPENMP = os.environ.get("CRNN_OPENMP", "1") != "0"

# CRNN_SANITIZE=1: a build for AddressSanitizer and UndefinedBehaviorSanitizer
# (gcc or clang), for .ci/sanitize; run Python with libasan preloaded.
SANITIZE = os.environ.get("CRNN_SANITIZE", "0") == "1"
SANITIZE_FLAGS = ["-fsanitize=address,undefined", "-fno-sanitize-recover=undefined",
                  "-fno-omit-frame-pointer", "-g"]


class BuildExt(build_ext):
    def finalize_options(self):
        super().finalize_options()
        if SANITIZE:
            # setuptools judges a build up to date by times, not flags: the
            # sanitizer build always rebuilds, its objects in a directory of
            # their own (.ci/sanitize builds from a copy of the sources, so a
            # later release build never meets its extension either)
            self.force = True
            self.build_temp += "-sanitize"

    def build_extensions(self):
        msvc = self.compiler.compiler_type == "msvc"
        flags = list(MSVC_FLAGS if msvc else UNIX_FLAGS)
        link = []
        if OPENMP and msvc:
            flags.append("/openmp")
        elif OPENMP and sys.platform.startswith("linux"):
            flags.append("-fopenmp")
            link.append("-fopenmp")
        if SANITIZE and not msvc:
            flags += SANITIZE_FLAGS
            link += SANITIZE_FLAGS
        elif not msvc:
            flags += RELEASE_FLAGS
        for ext in self.extensions:
            ext.extra_compile_args = flags + ext.extra_compile_args
            ext.extra_link_args = link + ext.extra_link_args
        super().build_extensions()


core = Extension(
    "crnn._core",
    sources=["crnn/_core.pyx", "src_c/crnn.c", "src_c/dispatch.c", "src_c/kernels_x86.c",
             "src_c/kernels_neon.c"],
    include_dirs=["src_c"],
    # every header and template the sources include: a change to any rebuilds
    depends=["crnn/_core.pxd"] + sorted(glob.glob("crnn/*.pxi"))
    + sorted(glob.glob("src_c/*.h") + glob.glob("src_c/*.inc.c")),
)

setup(
    ext_modules=cythonize([core], language_level="3"),
    cmdclass={"build_ext": BuildExt},
)
