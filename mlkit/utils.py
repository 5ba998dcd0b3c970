"""Small helpers every layer may use: one-line messages, file hashes, atomic writes,
a per-call time limit.

This module sits at the bottom of the flow with :mod:`mlkit.errors`: it imports nothing
from mlkit, so any subpackage can use it.
"""

from __future__ import annotations

import hashlib
import os
import signal
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

__all__ = [
    "TimeLimitExceeded",
    "atomic_write_bytes",
    "atomic_write_text",
    "file_sha256",
    "git_commit",
    "one_line",
    "source_hash",
    "time_limit",
]


def one_line(exc: BaseException, max_chars: int | None = None) -> str:
    """A one-line message for ``exc`` that never raises.

    Whitespace (including newlines) collapses to single spaces; an empty message becomes
    the exception's class name.

    Parameters
    ----------
    exc : BaseException
        Any exception.
    max_chars : int, optional
        Truncate the result to this many characters.
    """
    text = " ".join(str(exc).split()) or type(exc).__name__
    if max_chars is not None and len(text) > max_chars:
        text = text[: max(0, max_chars - 3)] + "..."
    return text


def file_sha256(path: str | Path, chunk_bytes: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(chunk_bytes):
            h.update(chunk)
    return h.hexdigest()


def source_hash(*packages: ModuleType) -> str:
    """Short hash of the ``*.py`` sources (names and bytes) of packages, in the given order.

    Cache keys include it so that a change of the code that makes a value invalidates it.
    """
    h = hashlib.sha256()
    for pkg in packages:
        for p in sorted(Path(str(pkg.__file__)).parent.glob("*.py")):
            h.update(p.name.encode())
            h.update(p.read_bytes())
    return h.hexdigest()[:16]


def git_commit(path: str | Path | None = None) -> str:
    """The git commit of the checkout holding ``path`` (default: this package's source).

    ``"<sha>"``, ``"<sha>-dirty"`` when tracked files under that directory differ from the
    commit, or ``""`` when ``path`` is not in a git checkout (an installed wheel) or git
    is unavailable.
    """
    import subprocess

    where = Path(path) if path is not None else Path(__file__).resolve().parent
    if where.is_file():
        where = where.parent
    try:
        sha = subprocess.run(["git", "-C", str(where), "rev-parse", "HEAD"], capture_output=True,
                             text=True, timeout=10)
        if sha.returncode != 0:
            return ""
        dirty = subprocess.run(["git", "-C", str(where), "diff", "--quiet", "HEAD", "--", "."],
                               capture_output=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return ""
    return sha.stdout.strip() + ("-dirty" if dirty.returncode == 1 else "")


def atomic_write_bytes(path: str | Path, data: bytes, fsync: bool = True) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new one, never half.

    The bytes go to a unique temporary name in the same directory, are flushed (and
    fsynced unless ``fsync=False``), then moved into place with :func:`os.replace`.
    Concurrent writers of the same path do not corrupt it: the last replace wins.
    """
    path = Path(path)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            if fsync:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def atomic_write_text(path: str | Path, text: str, fsync: bool = True) -> None:
    """:func:`atomic_write_bytes` for UTF-8 text."""
    atomic_write_bytes(path, text.encode("utf-8"), fsync=fsync)


class TimeLimitExceeded(BaseException):
    """Raised inside a :func:`time_limit` block when its time is up.

    A ``BaseException`` (like ``KeyboardInterrupt``), so the ``except Exception`` handlers
    that turn a failing step into an error row cannot swallow it.
    """


@contextmanager
def time_limit(seconds: float | None) -> Iterator[bool]:
    """Interrupt the block with :class:`TimeLimitExceeded` after ``seconds`` of wall time.

    Uses ``SIGALRM``, so it works in the main thread of a process on POSIX (local runs and
    joblib/loky workers); elsewhere (threads, Windows) or with ``seconds=None`` the block
    runs without a limit. Yields whether the limit is active.
    """
    active = (
        seconds is not None
        and hasattr(signal, "setitimer")
        and threading.current_thread() is threading.main_thread()
    )
    if not active:
        yield False
        return
    if seconds <= 0:
        raise ValueError(f"time limit must be > 0 s, got {seconds}")

    def _handler(signum: int, frame: object) -> None:
        raise TimeLimitExceeded(f"time limit of {seconds:g} s exceeded")

    previous = signal.signal(signal.SIGALRM, _handler)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield True
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
