"""crnn's optional dependencies, imported only where used: a missing one
raises an ImportError that says what needed it and the extra that installs
it (``pip install 'crnn[sklearn]'``), never a bare ModuleNotFoundError."""
import importlib

# each optional package's top-level module: (its name on PyPI, crnn's extra)
OPTIONAL = {
    "sklearn": ("scikit-learn", "sklearn"),
    "joblib": ("scikit-learn", "sklearn"),  # installed with scikit-learn
    "dask": ("dask", "dask"),
    "distributed": ("distributed", "dask"),
    "matplotlib": ("matplotlib", "plot"),
    "torch": ("torch", "torch"),
    "onnx": ("onnx", "onnx"),
    "onnxruntime": ("onnxruntime", "onnx"),
    "tqdm": ("tqdm", "cli"),
    "h5py": ("h5py", "keras"),
    "keras": ("keras", "keras"),
}


def missing_message(module, what):
    """The message for ``what`` needing the optional ``module``."""
    package, extra = OPTIONAL[module.split(".")[0]]
    return (f"{what} needs {package}, which is not installed: "
            f"pip install 'crnn[{extra}]' (or pip install {package})")


def require(module, what):
    """Import and return ``module`` (dotted names too), an optional
    dependency that ``what`` needs; if it is missing, an ImportError naming
    both and the extra to install."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise ImportError(missing_message(module, what)) from error
