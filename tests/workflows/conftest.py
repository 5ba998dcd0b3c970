from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _single_thread_blas():
    """One BLAS/OpenMP thread for the model tests: sklearn's threads crawl on a loaded 2-core
    machine, and the results do not depend on it."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        yield
