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


def test_time_limit_interrupts_and_restores():
    import signal
    import time

    from mlkit.utils import TimeLimitExceeded, time_limit

    before = signal.getsignal(signal.SIGALRM)
    t0 = time.perf_counter()
    with pytest.raises(TimeLimitExceeded, match="time limit of 0.2 s"):
        with time_limit(0.2):
            try:
                time.sleep(5)
            except Exception:  # noqa: BLE001 - the limit must pass through generic handlers
                pytest.fail("TimeLimitExceeded was caught as an Exception")
    assert time.perf_counter() - t0 < 2
    assert signal.getsignal(signal.SIGALRM) is before
    with time_limit(None) as active:
        assert active is False
