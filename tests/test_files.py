"""Writing a file never leaves the old one half-overwritten."""
import os

import pytest

from crnn._files import atomic_write


def test_a_write_replaces_the_file(tmp_path):
    path = tmp_path / "out.bin"
    path.write_bytes(b"old")
    atomic_write(path, lambda f: f.write(b"new"))
    assert path.read_bytes() == b"new"
    assert os.listdir(tmp_path) == ["out.bin"]


def test_a_failed_write_keeps_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "out.bin"
    path.write_bytes(b"old")

    def half_then_fail(f):
        f.write(b"ne")
        raise KeyboardInterrupt  # as Ctrl-C in the middle of saving

    with pytest.raises(KeyboardInterrupt):
        atomic_write(path, half_then_fail)
    assert path.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["out.bin"]


def test_permissions_are_those_open_would_give_or_the_old_file_had(tmp_path):
    fresh = tmp_path / "fresh.bin"
    atomic_write(fresh, lambda f: f.write(b"x"))
    umask = os.umask(0)
    os.umask(umask)
    assert fresh.stat().st_mode & 0o777 == 0o666 & ~umask
    kept = tmp_path / "kept.bin"
    kept.write_bytes(b"old")
    kept.chmod(0o640)
    atomic_write(kept, lambda f: f.write(b"new"))
    assert kept.stat().st_mode & 0o777 == 0o640
