"""``mlkit info``: versions, potentials and their weights, device, cache and tracking.

What a user pastes into a bug report. Nothing is downloaded; versions come from package
metadata (no heavy import) except torch, imported once to ask for the device.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from importlib.metadata import PackageNotFoundError, version
from typing import Any

#: distributions whose versions are reported (absent ones print "not installed")
KEY_PACKAGES = (
    "numpy", "scipy", "pandas", "pyarrow", "scikit-learn", "pymatgen", "ase", "numba",
    "mlflow", "optuna", "shap", "xgboost", "xgboost-cpu", "lightgbm", "torch", "matminer",
    "phonopy", "dask", "distributed",
)


def _version(dist: str) -> str | None:
    try:
        return version(dist)
    except PackageNotFoundError:
        return None


def _torch() -> dict[str, Any]:
    if _version("torch") is None:
        return {"installed": False, "device": "cpu", "cuda": False}
    import torch

    cuda = bool(torch.cuda.is_available())
    out: dict[str, Any] = {"installed": True, "device": "cuda" if cuda else "cpu", "cuda": cuda,
                           "cuda_version": torch.version.cuda or "", "threads":
                           int(torch.get_num_threads())}
    if cuda:
        out["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    return out


def collect_info(*, device: bool = True) -> dict[str, Any]:
    """Everything :func:`format_info` prints, as a JSON-ready dict.

    Parameters
    ----------
    device : bool
        Import torch to report the device (False: skip it, ``torch`` is then None).

    Returns
    -------
    dict with ``mlkit`` (version, git commit, location), ``python``, ``platform``,
    ``packages`` (name -> version or None), ``potentials`` (one entry per registered
    potential: installed, version, extra, weights path or why none), ``torch``,
    ``cache_dir`` and ``tracking_uri``.
    """
    from pathlib import Path

    import mlkit
    from mlkit.features import default_cache_dir
    from mlkit.potentials import POTENTIALS
    from mlkit.potentials.registry import default_weights, is_installed, potential_version
    from mlkit.tracking import resolve_tracking_uri
    from mlkit.utils import git_commit

    potentials = []
    for name, spec in POTENTIALS.items():
        installed = is_installed(name)
        weights = default_weights(name) if installed else None
        if not installed:
            status = f"package {spec.package} not installed (pip install 'mlkit[{spec.extra}]')"
        elif spec.needs_weights:
            status = "no bundled weights: pass --model-path to a local checkpoint"
        elif weights is None:
            status = f"bundled weights missing ({spec.weights_glob} not found)"
        else:
            status = "ready"
        potentials.append({
            "name": name, "package": spec.package, "installed": installed,
            "version": potential_version(name) or None, "extra": spec.extra,
            "weights": str(weights) if weights else None, "status": status,
        })
    return {
        "mlkit": {"version": mlkit.__version__, "git_commit": git_commit() or None,
                  "location": str(Path(mlkit.__file__).resolve().parent)},
        "python": sys.version.split()[0],
        "executable": sys.executable,
        "platform": platform.platform(),
        "packages": {name: _version(name) for name in KEY_PACKAGES},
        "potentials": potentials,
        "torch": _torch() if device else None,
        "cache_dir": str(default_cache_dir().resolve()),
        "tracking_uri": resolve_tracking_uri(),
    }


def format_info(info: dict[str, Any]) -> str:
    """The text report of :func:`collect_info` (one ``key: value`` per line)."""
    m = info["mlkit"]
    lines = [
        f"mlkit:        {m['version']}" + (f" (git {m['git_commit']})" if m["git_commit"] else ""),
        f"location:     {m['location']}",
        f"python:       {info['python']} ({info['executable']})",
        f"platform:     {info['platform']}",
        "packages:",
    ]
    pkgs = dict(info["packages"])
    if pkgs.get("xgboost-cpu") or pkgs.get("xgboost"):  # one of the two builds is enough
        pkgs = {k: v for k, v in pkgs.items() if v or k not in ("xgboost", "xgboost-cpu")}
    else:
        pkgs.pop("xgboost-cpu", None)
    lines += [f"  {k:14s}{v or 'not installed'}" for k, v in pkgs.items()]
    lines.append("potentials:")
    for p in info["potentials"]:
        head = f"  {p['name']:10s}{p['version'] or '-':10s}{p['status']}"
        lines.append(head + (f": {p['weights']}" if p["weights"] else ""))
    t = info["torch"]
    if t is None:
        lines.append("device:       (not checked)")
    elif not t["installed"]:
        lines.append("device:       cpu (torch not installed: pip install 'mlkit[md]')")
    else:
        extra = f", CUDA {t['cuda_version']}: {', '.join(t['gpus'])}" if t["cuda"] else ""
        lines.append(f"device:       {t['device']} (torch threads {t['threads']}{extra})")
    lines.append(f"cache:        {info['cache_dir']} ($MLKIT_CACHE_DIR)")
    lines.append(f"tracking:     {info['tracking_uri']} ($MLFLOW_TRACKING_URI)")
    return "\n".join(lines)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "info",
        help="versions, potentials and weights, device, cache and tracking locations",
        description="Print what a bug report needs: mlkit and key package versions, the "
        "registered ML potentials (installed? weights present locally?), the torch device, "
        "the feature cache and the MLflow tracking URI. Nothing is downloaded.",
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.add_argument("--no-device", action="store_true",
                   help="do not import torch to check the device (faster)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    info = collect_info(device=not args.no_device)
    print(json.dumps(info, indent=1) if args.json else format_info(info))
    return 0
