"""Device and thread selection shared by every potential adapter."""

from __future__ import annotations

from mlkit.errors import MlkitError

DEVICES = ("auto", "cpu", "cuda")
DTYPES = ("float32", "float64")


def resolve_device(device: str = "auto") -> str:
    """Return the torch device to use.

    Parameters
    ----------
    device : {"auto", "cpu", "cuda"}
        ``"auto"`` picks CUDA when ``torch.cuda.is_available()``, otherwise CPU.

    Returns
    -------
    str
        ``"cuda"`` or ``"cpu"``.

    Raises
    ------
    ValueError
        Unknown device, or ``"cuda"`` requested on a machine without CUDA.
    """
    if device not in DEVICES:
        raise MlkitError(f"unknown device {device!r}; choose one of {', '.join(DEVICES)}")
    import torch

    has_cuda = bool(torch.cuda.is_available())
    if device == "auto":
        return "cuda" if has_cuda else "cpu"
    if device == "cuda" and not has_cuda:
        raise MlkitError("device 'cuda' requested but torch.cuda.is_available() is False")
    return device


def set_threads(threads: int | None) -> int:
    """Set the number of intra-op torch threads (``None`` keeps the current value).

    Returns
    -------
    int
        The thread count now in effect.
    """
    import torch

    if threads is not None:
        if int(threads) < 1:
            raise MlkitError(f"threads must be >= 1, got {threads}")
        torch.set_num_threads(int(threads))
    return int(torch.get_num_threads())


def check_dtype(dtype: str) -> str:
    """Validate a float precision name (``"float32"`` or ``"float64"``)."""
    if dtype not in DTYPES:
        raise MlkitError(f"unknown dtype {dtype!r}; choose one of {', '.join(DTYPES)}")
    return dtype
