"""Reading an ``.npz`` archive one entry at a time, each entry's header
checked against what the entry holds before any of its data is read.

``numpy.load`` trusts a header: an entry declaring a shape of 10**12 numbers
is allocated before its missing data is noticed, and a deflated entry may
expand a thousandfold. Here an entry is read only when its header's shape
and dtype account exactly for the bytes the archive says it holds, those
bytes are no more than deflate can make of what is stored, and its dtype is
plain numbers or text (never objects: nothing is unpickled). So reading costs
at most about a thousand times the file's size, and a caller that knows the
shape it expects refuses a wrong one from the header alone.
"""
import zipfile

import numpy as np

# deflate's largest expansion is 1032:1; no honest entry claims more
MAX_EXPANSION = 1100
HEADER_LIMIT = 65536  # bytes of an .npy header; NumPy's own are under 200
KINDS = "biufU"       # booleans, integers, floats and text


class Archive:
    """An ``.npz`` file opened for checked reading: ``keys``, ``header(key)``
    and ``read(key)``. Every problem is a ValueError naming the file and the
    entry; use it as a context manager."""

    def __init__(self, path):
        self.path = path
        self.zip = zipfile.ZipFile(path)
        self.entries = {}
        for info in self.zip.infolist():
            if not info.filename.endswith(".npy") or info.filename[:-4] in self.entries:
                self.zip.close()
                raise ValueError(f"{path} holds {info.filename!r}, which is not one array "
                                 "of an .npz archive")
            self.entries[info.filename[:-4]] = info

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.zip.close()

    def keys(self):
        return list(self.entries)

    def _fail(self, key, why):
        raise ValueError(f"{self.path}: entry {key!r} {why}")

    def _open_header(self, key):
        """The entry opened and read past its header: (file, shape, dtype,
        Fortran order), every claim of the header checked."""
        info = self.entries[key]
        if info.compress_type == zipfile.ZIP_STORED and info.file_size != info.compress_size:
            self._fail(key, "claims more bytes than it stores")
        if info.file_size > MAX_EXPANSION * info.compress_size + HEADER_LIMIT:
            self._fail(key, f"claims {info.file_size:,} bytes from {info.compress_size:,} "
                            "compressed, more than deflate can expand to")
        f = self.zip.open(info)
        try:
            version = np.lib.format.read_magic(f)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
            elif version == (2, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
            else:
                self._fail(key, f"is an .npy of version {version}, not 1.0 or 2.0")
            header_size = f.tell()
        except ValueError as error:
            f.close()
            if str(error).startswith(f"{self.path}: "):
                raise
            self._fail(key, f"has no readable .npy header ({error})")
        except BaseException:
            f.close()
            raise
        if dtype.kind not in KINDS or dtype.fields is not None or dtype.subdtype is not None:
            f.close()
            self._fail(key, f"holds {dtype}, not numbers or text")
        count = 1
        for n in shape:
            count *= n
        if count * dtype.itemsize != info.file_size - header_size:
            f.close()
            self._fail(key, f"declares {dtype} of shape {shape}, which its "
                            f"{info.file_size - header_size:,} bytes of data do not hold")
        return f, shape, dtype, fortran

    def header(self, key):
        """(shape, dtype) of entry ``key``, from its checked header alone."""
        f, shape, dtype, _ = self._open_header(key)
        f.close()
        return shape, dtype

    def read(self, key, shape=None, dtype=None):
        """Entry ``key`` as a new array; ``shape`` and ``dtype``, when given,
        are checked from the header before any data is read."""
        f, found_shape, found_dtype, fortran = self._open_header(key)
        with f:
            if (shape is not None and found_shape != tuple(shape)) or \
                    (dtype is not None and found_dtype != np.dtype(dtype)):
                self._fail(key, f"must be {np.dtype(dtype) if dtype is not None else found_dtype}"
                                f" of shape {tuple(shape) if shape is not None else found_shape},"
                                f" got {found_dtype} of shape {found_shape}")
            data = f.read(self.entries[key].file_size)
        order = "F" if fortran else "C"
        return np.frombuffer(data, dtype=found_dtype).reshape(found_shape, order=order).copy()
