"""Files written so that nothing the user had is ever half-overwritten."""
import os
import tempfile


def atomic_write(path, write):
    """Call ``write(f)`` on a new binary file in the folder of ``path``, then
    rename it over ``path``: a crash or an error on the way leaves whatever
    was at ``path`` intact, and no temporary file behind. A path that cannot
    be written (a folder, or in a missing folder) is a ValueError first."""
    check_writable(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".crnn-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, _mode_for(path))  # mkstemp's file is private; open()'s would not be
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def _mode_for(path):
    """The permissions the file at ``path`` has, or that open() would give it."""
    try:
        return os.stat(path).st_mode & 0o777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def check_writable(path):
    """ValueError, before any work is done, when a file cannot be written at
    ``path`` (atomically: a new file in its folder, then a rename): the folder
    is missing or not writable, or the path is a folder."""
    path = os.fspath(path)
    if not path:
        raise ValueError("the path is empty")
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise ValueError(f"{path} is a folder, not a file")
    if not os.path.isdir(folder):
        raise ValueError(f"cannot write {path}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ValueError(f"cannot write {path}: the folder {folder} is not writable")
