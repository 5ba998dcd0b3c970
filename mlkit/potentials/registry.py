"""Registry of universal ML interatomic potentials exposed as ASE calculators.

Each potential is one small adapter module (``mlkit.potentials.<name>``) with a
``make_calculator(device, dtype, model_path)`` function; the heavy package is
imported inside it, so listing potentials never imports torch models.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
from dataclasses import dataclass
from pathlib import Path

from mlkit.errors import MlkitError
from mlkit.potentials.device import check_dtype, resolve_device, set_threads


@dataclass(frozen=True)
class PotentialSpec:
    """How to build one potential.

    Attributes
    ----------
    name : str
        Registry key (``--potential``).
    module : str
        Import path of the mlkit adapter module.
    package : str
        Python distribution that provides the model (for the version in provenance).
    import_name : str
        Top-level import name of that distribution.
    extra : str
        ``pip install mlkit[<extra>]`` extra that installs it.
    needs_weights : bool
        True when weights are not shipped in the wheel and ``model_path`` is required
        (nothing is downloaded at run time on this project's machines).
    weights_glob : str
        Where the default weights lie inside the installed package (a glob relative to
        the package directory); ``""`` when none ship with it.
    """

    name: str
    module: str
    package: str
    import_name: str
    extra: str
    needs_weights: bool
    weights_glob: str = ""


POTENTIALS: dict[str, PotentialSpec] = {
    # default weights: CHGNet.load() -> 0.3.0; SevenNetCalculator("7net-0") -> 11Jul2024
    "chgnet": PotentialSpec("chgnet", "mlkit.potentials.chgnet", "chgnet", "chgnet", "md", False,
                            "pretrained/0.3.0/*.pth.tar"),
    "sevennet": PotentialSpec(
        "sevennet", "mlkit.potentials.sevennet", "sevenn", "sevenn", "sevennet", False,
        "pretrained_potentials/SevenNet_0__11Jul2024/*.pth",
    ),
    "mace": PotentialSpec("mace", "mlkit.potentials.mace", "mace-torch", "mace", "mace", True),
    "mattersim": PotentialSpec(
        "mattersim", "mlkit.potentials.mattersim", "mattersim", "mattersim", "mattersim", True
    ),
    "orb": PotentialSpec("orb", "mlkit.potentials.orb", "orb-models", "orb_models", "orb", True),
}


def list_potentials() -> list[str]:
    """Names of every registered potential (installed or not)."""
    return list(POTENTIALS)


def _spec(name: str) -> PotentialSpec:
    try:
        return POTENTIALS[name]
    except KeyError:
        raise MlkitError(
            f"unknown potential {name!r}; choose one of {', '.join(POTENTIALS)}"
        ) from None


def is_installed(name: str) -> bool:
    """True when the package behind potential ``name`` can be imported."""
    return importlib.util.find_spec(_spec(name).import_name) is not None


def available_potentials() -> list[str]:
    """Registered potentials whose package is installed in this environment."""
    return [name for name in POTENTIALS if is_installed(name)]


def potential_version(name: str) -> str:
    """Installed version of the package behind ``name`` (``""`` when absent)."""
    try:
        return importlib.metadata.version(_spec(name).package)
    except importlib.metadata.PackageNotFoundError:
        return ""


def default_weights(name: str) -> Path | None:
    """The weights file a potential uses without ``model_path``, if present locally.

    Looks inside the installed package (without importing it); None when the package is
    absent, ships no weights (``model_path`` required) or the file is missing. Never
    downloads.
    """
    spec = _spec(name)
    if not spec.weights_glob or not is_installed(name):
        return None
    found = importlib.util.find_spec(spec.import_name)
    for base in (found.submodule_search_locations or []) if found else []:
        hits = sorted(Path(base).glob(spec.weights_glob))
        if hits:
            return hits[0]
    return None


def require_package(name: str) -> None:
    """Raise a one-line :class:`MlkitError` when the package is not installed."""
    spec = _spec(name)
    if not is_installed(name):
        raise MlkitError(
            f"potential {name!r} needs the package {spec.package!r}, which is not installed "
            f"(pip install 'mlkit[{spec.extra}]')"
        )


def get_calculator(
    name: str = "chgnet",
    device: str = "auto",
    threads: int | None = None,
    dtype: str = "float32",
    model_path: str | None = None,
):
    """Build an ASE calculator for a registered universal potential.

    Parameters
    ----------
    name : str
        Registry key, see :func:`list_potentials`.
    device : {"auto", "cpu", "cuda"}
        ``"auto"``: CUDA when available, otherwise CPU.
    threads : int, optional
        ``torch.set_num_threads(threads)``; ``None`` keeps torch's default.
    dtype : {"float32", "float64"}
        Float precision of the model.
    model_path : str, optional
        Local weights / checkpoint file. Required for potentials whose weights are
        not shipped with the package (MACE, MatterSim, ORB): nothing is downloaded.

    Returns
    -------
    ase.calculators.calculator.Calculator
        With ``calc.mlkit_provenance`` = ``{"potential", "potential_version", "device",
        "dtype", "threads", "model_path"}``.

    Raises
    ------
    MlkitError
        Unknown name, package not installed, or weights missing (one line).
    """
    spec = _spec(name)
    check_dtype(dtype)
    require_package(name)
    if spec.needs_weights and not model_path:
        raise MlkitError(
            f"potential {name!r} needs local weights: pass model_path=/path/to/checkpoint "
            "(--model-path); no download is possible here"
        )
    if model_path is not None:
        if not Path(model_path).exists():
            raise MlkitError(f"{model_path}: weights file for potential {name!r} not found")
    resolved = resolve_device(device)
    n_threads = set_threads(threads)
    module = importlib.import_module(spec.module)
    calc = module.make_calculator(device=resolved, dtype=dtype, model_path=model_path)
    calc.mlkit_provenance = {
        "potential": name,
        "potential_version": potential_version(name),
        "device": resolved,
        "dtype": dtype,
        "threads": n_threads,
        "model_path": str(model_path or ""),
    }
    return calc
