import os

import pytest

from mlkit.utils import atomic_write_bytes, atomic_write_text, file_sha256, one_line


def test_one_line_never_raises_on_empty_message():
    assert one_line(ValueError("")) == "ValueError"
    assert one_line(RuntimeError("a\n  b\n")) == "a b"
    assert one_line(RuntimeError("x" * 50), max_chars=10) == "x" * 7 + "..."


def test_atomic_write_leaves_no_temporaries(tmp_path):
    path = tmp_path / "f.txt"
    atomic_write_text(path, "one")
    atomic_write_bytes(path, b"two")
    assert path.read_bytes() == b"two"
    assert os.listdir(tmp_path) == ["f.txt"]


def test_file_sha256_matches_hashlib(tmp_path):
    import hashlib

    path = tmp_path / "f.bin"
    data = os.urandom(3 << 20)
    path.write_bytes(data)
    assert file_sha256(path, chunk_bytes=1000) == hashlib.sha256(data).hexdigest()


def test_atomic_write_to_missing_directory_raises(tmp_path):
    with pytest.raises(FileNotFoundError):
        atomic_write_text(tmp_path / "missing" / "f.txt", "x")
