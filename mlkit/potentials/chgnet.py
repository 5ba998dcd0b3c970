"""CHGNet adapter (weights ship in the ``chgnet`` wheel)."""

from __future__ import annotations

from mlkit.errors import MlkitError


def make_calculator(device: str, dtype: str = "float32", model_path: str | None = None):
    """Return a ``chgnet.model.CHGNetCalculator``.

    Parameters
    ----------
    device : str
        ``"cpu"`` or ``"cuda"``.
    dtype : {"float32"}
        CHGNet is trained and run in float32; float64 is refused rather than faked.
    model_path : str, optional
        A CHGNet checkpoint (``CHGNet.from_file``); default: the pretrained weights in the wheel.
    """
    from chgnet.model import CHGNet, CHGNetCalculator

    if dtype != "float32":
        raise MlkitError("potential 'chgnet' runs in float32 only (dtype='float64' unsupported)")
    model = CHGNet.from_file(model_path) if model_path else CHGNet.load(verbose=False)
    return CHGNetCalculator(model=model, use_device=device, on_isolated_atoms="ignore")
