from __future__ import annotations

import numpy as np
import pytest
from pymatgen.io.ase import AseAtomsAdaptor

from mlkit.errors import MlkitError
from mlkit.potentials import (
    POTENTIALS,
    available_potentials,
    get_calculator,
    list_potentials,
    potential_version,
)
from mlkit.potentials.device import resolve_device


def test_registry_lists_all_adapters():
    assert list_potentials() == ["chgnet", "sevennet", "mace", "mattersim", "orb"]
    assert "chgnet" in available_potentials()
    assert set(available_potentials()) <= set(list_potentials())


def test_unknown_potential_is_one_line():
    with pytest.raises(MlkitError, match="unknown potential 'nope'") as exc:
        get_calculator("nope")
    assert "\n" not in str(exc.value)


@pytest.mark.parametrize("name", [n for n in POTENTIALS if n not in available_potentials()])
def test_missing_package_is_one_line(name):
    with pytest.raises(MlkitError, match="not installed") as exc:
        get_calculator(name)
    assert "\n" not in str(exc.value)
    assert POTENTIALS[name].package in str(exc.value)


def test_weights_required_and_checked(monkeypatch, tmp_path):
    # pretend the package is installed: the weights check must still fire, in one line
    monkeypatch.setattr("mlkit.potentials.registry.is_installed", lambda name: True)
    with pytest.raises(MlkitError, match="needs local weights") as exc:
        get_calculator("mace")
    assert "\n" not in str(exc.value)
    missing = tmp_path / "model.pt"
    with pytest.raises(MlkitError, match="weights file .* not found"):
        get_calculator("orb", model_path=str(missing))


def test_device_and_dtype_validation():
    import torch

    assert resolve_device("cpu") == "cpu"
    assert resolve_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ValueError, match="unknown device"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="cuda"):
            resolve_device("cuda")
    with pytest.raises(ValueError, match="unknown dtype"):
        get_calculator("chgnet", dtype="float16")
    with pytest.raises(MlkitError, match="float32 only"):
        get_calculator("chgnet", device="cpu", dtype="float64")


@pytest.mark.parametrize("name", available_potentials())
def test_installed_potential_contract(name, nacl):
    """Every installed potential: finite energy, forces (n, 3), provenance, no input mutation."""
    import importlib.metadata

    import torch

    calc = get_calculator(name, device="cpu", threads=1)
    assert torch.get_num_threads() == 1
    prov = calc.mlkit_provenance
    assert prov["potential"] == name and prov["device"] == "cpu" and prov["threads"] == 1
    assert prov["potential_version"] == importlib.metadata.version(POTENTIALS[name].package)
    assert potential_version(name) == prov["potential_version"]
    atoms = AseAtomsAdaptor.get_atoms(nacl)
    atoms.rattle(0.05, seed=1)
    before = atoms.get_positions().copy()
    atoms.calc = calc
    energy = atoms.get_potential_energy()
    forces = atoms.get_forces()
    assert np.isfinite(energy) and forces.shape == (len(atoms), 3)
    assert np.all(np.isfinite(forces)) and np.abs(forces).max() > 1e-4  # rattled: nonzero
    # translational invariance: forces sum to ~0
    assert np.allclose(forces.sum(axis=0), 0.0, atol=1e-3)
    np.testing.assert_array_equal(atoms.get_positions(), before)
