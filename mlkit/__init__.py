"""mlkit: screening models for fast mobile-ion (Na by default) conductors.

The flow reads in folder order: ``structures -> features -> models -> predict`` and
``potentials -> md / phonons -> analysis -> labels -> models``.
"""

from __future__ import annotations

__version__ = "0.1.0"

DEFAULT_MOBILE_ION = "Na"

__all__ = ["DEFAULT_MOBILE_ION", "__version__"]
