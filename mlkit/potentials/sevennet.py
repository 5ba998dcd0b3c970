"""SevenNet adapter (``sevenn``; the pretrained 7net-0 checkpoint ships in its wheel)."""

from __future__ import annotations


def make_calculator(device: str, dtype: str = "float32", model_path: str | None = None):
    """Return a ``sevenn.calculator.SevenNetCalculator``.

    Parameters
    ----------
    device : str
        ``"cpu"`` or ``"cuda"``.
    dtype : str
        Unused (SevenNet runs in float32).
    model_path : str, optional
        A SevenNet checkpoint; default the bundled ``"7net-0"`` model.
    """
    from sevenn.calculator import SevenNetCalculator

    return SevenNetCalculator(model=model_path or "7net-0", device=device)
