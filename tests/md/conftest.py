"""Fixtures for the MD tests: one CHGNet calculator shared by the module.

One torch thread: oversubscribed torch threads are catastrophically slow on the
shared 2-core machine (measured 5.9 s vs 0.12 s per call under load).
"""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def chgnet_calc():
    from mlkit.potentials import get_calculator

    return get_calculator("chgnet", device="cpu", threads=1)
