"""mlkit: screening models for fast mobile-ion (Na by default) conductors.

The flow reads in folder order: ``structures -> features -> models -> workflows -> cli``
and ``potentials -> md / phonons -> analysis -> labels``; imports only point down it
(``tests/test_architecture.py`` holds the table of allowed imports).
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("mlkit")
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"

DEFAULT_MOBILE_ION = "Na"

__all__ = ["DEFAULT_MOBILE_ION", "__version__"]
