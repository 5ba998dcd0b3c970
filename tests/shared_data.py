"""The path to ../shared data and the guard that tests reading it carry the ``shared`` marker.

A plain module (importable as ``shared_data``, pythonpath = tests) rather than conftest:
pytest loads conftest.py as ``tests.conftest`` while test modules import a second copy as
``conftest``; both copies import this one module, so the test recorded by the conftest hook
is the one :func:`shared_path` checks.
"""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
SHARED_DATASETS = SHARED / "datasets"

#: the test being set up, run or torn down (pushed by conftest's pytest_runtest_protocol)
running: list[pytest.Item] = []


def require_shared_marker(item: pytest.Item | None) -> None:
    """Fail ``item`` when it reads ../shared data without ``@pytest.mark.shared``."""
    if item is not None and item.get_closest_marker("shared") is None:
        pytest.fail(f"{item.nodeid} reads ../shared data but lacks @pytest.mark.shared",
                    pytrace=False)


def shared_path(*parts: str) -> Path:
    """Path into ../shared/datasets, skipping the test when it is absent.

    The calling test must carry ``@pytest.mark.shared`` (checked whether or not the data
    is present, so a missing marker shows on every machine).
    """
    require_shared_marker(running[-1] if running else None)
    path = SHARED_DATASETS.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"needs ../shared/datasets/{'/'.join(parts)} (absent on this machine)")
    return path
