"""mlkit: screening models for fast mobile-ion (Na by default) conductors.

The flow reads in folder order: ``structures -> features -> models -> workflows -> cli``
and ``potentials -> md / phonons -> analysis -> labels``; imports only point down it
(``tests/test_architecture.py`` holds the table of allowed imports).

The Python API mirrors the CLI verbs: :func:`featurize`, :func:`train`, :func:`subsets`,
:func:`predict`, :func:`label_md`, :func:`label_phonons`, :func:`info` (defined in
:mod:`mlkit.api`, imported on first use so that ``import mlkit`` stays light)::

    import mlkit
    table = mlkit.featurize("cifs/")
    result = mlkit.train("labels.csv", "sigma", structures="cifs/", register_name="m")
    pred = mlkit.predict("models:/m@champion", "new_cifs/")
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("mlkit")
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"

DEFAULT_MOBILE_ION = "Na"

#: the public functions of :mod:`mlkit.api`, resolved on first attribute access
API = ("featurize", "train", "subsets", "predict", "label_md", "label_phonons", "info")

__all__ = ["DEFAULT_MOBILE_ION", "__version__", *API]


def __getattr__(name: str):
    if name in API:
        from mlkit import api  # deferred: the API pulls in the layers below

        return getattr(api, name)
    raise AttributeError(f"module 'mlkit' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(API))
