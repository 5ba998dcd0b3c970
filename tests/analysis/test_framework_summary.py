from __future__ import annotations

import numpy as np
import pytest

from mlkit.analysis import (
    analyze_trajectory,
    category,
    framework_cation_mask,
    framework_melting_test,
    polyanion_integrity,
)
from mlkit.analysis.framework import category_decision, exclusion_reason
from mlkit.analysis.msd import species_masses
from mlkit.errors import MlkitError


def _melt_test(pos, sp, cell, centers, ligands):
    spa = np.array(sp)
    mask = framework_cation_mask(sp, "Na", centers, ligands)
    return framework_melting_test(pos, 10.0, mask, cell, drift_mask=spa != "Na",
                                  drift_weights=species_masses(sp), rotor_centers=centers,
                                  rotor_ligands=ligands)


def test_cation_mask_uses_rotor_ligand_species(synth):
    _, sp, _, centers, ligands = synth.rotor_crystal(5, n_rotors=4)
    mask = framework_cation_mask(sp, "Na", centers, ligands)
    assert mask.sum() == 4 and np.all(np.array(sp)[mask] == "Nb")
    # no rotors: the anions of the composition's roles (structures.chemistry) are excluded
    mask2 = framework_cation_mask(["Na", "Zr", "O", "O", "Cl"], "Na")
    assert mask2.tolist() == [False, True, False, False, False]


def test_solid_with_4_heavy_cations_does_not_trip(synth):
    """Vibrating solid (4 Nb) + thermostat drift: the naive end-point rule trips, ours does not."""
    naive_tripped = 0
    for seed in range(6):
        pos, sp, cell, c, lig = synth.rotor_crystal(2000, n_rotors=4, center_vib_A=0.45,
                                                    drift_A2_ps=0.05, seed=seed)
        fw = _melt_test(pos, sp, cell, c, lig)
        assert not fw.framework_melted
        assert fw.polyanions_intact and fw.polyanion_intact_fraction == 1.0
        assert 0.5 < fw.msd_framework_A2 < 1.3  # plateau 6 sigma^2 (1 - 1/4 from the COM)
        naive_tripped += fw.msd_framework_endpoint_A2 > 2.0
    assert naive_tripped >= 4  # the literal rule is fooled on this input


def test_solid_noisy_endpoint_without_drift(synth):
    """No drift, large vibrations: single end-point values scatter across 2 A^2."""
    endpoints, robust = [], []
    for seed in range(10):
        pos, sp, cell, c, lig = synth.rotor_crystal(1000, n_rotors=4, center_vib_A=0.55,
                                                    seed=seed)
        fw = _melt_test(pos, sp, cell, c, lig)
        endpoints.append(fw.msd_framework_endpoint_A2)
        robust.append(fw.msd_framework_A2)
        assert not fw.framework_melted
    assert max(endpoints) > 2.0  # at least one noisy end point crosses the threshold
    assert np.std(robust) < 0.2 * np.std(endpoints)


def test_liquid_like_framework_trips(synth):
    pos, sp, cell, c, lig = synth.rotor_crystal(2000, n_rotors=4, center_vib_A=0.1,
                                                center_d_A2_ps=0.1, seed=1)
    fw = _melt_test(pos, sp, cell, c, lig)
    assert fw.framework_melted and fw.msd_framework_A2 > 3.0


def test_broken_polyanion_is_detected(synth):
    pos, sp, cell, c, lig = synth.rotor_crystal(1000, n_rotors=4, seed=2)
    # one Cl of rotor 0 leaves its centre: 2.4 A -> ~4.4 A by the end
    pos = pos.copy()
    pos[:, lig[0][0], 0] += np.linspace(0, 2.0, len(pos))
    intact, stretch = polyanion_integrity(pos, cell, c, lig)
    assert intact.tolist() == [False, True, True, True]
    assert stretch[0] > 1.25
    fw = _melt_test(pos, sp, cell, c, lig)
    # integrity is a flag of its own: a decomposed polyanion is not a melted framework
    assert not fw.polyanions_intact and not fw.framework_melted
    assert fw.polyanion_intact_fraction == pytest.approx(0.75)
    assert category(True, True, fw.framework_melted, fw.polyanions_intact) is None
    assert exclusion_reason(fw.framework_melted, fw.polyanions_intact) == "polyanions decomposed"


def test_category_rule():
    assert category(True, True, False) == 1
    assert category(True, False, False) == 2
    assert category(False, True, False) == 3
    assert category(True, True, True) is None
    assert category(True, True, False, polyanions_intact=False) is None


def test_category_decision_rule():
    assert category_decision("yes", "yes", False) == "1"
    assert category_decision("yes", "no", False) == "2"
    assert category_decision("yes", "undecided", False) == "1|2"
    assert category_decision("no", "undecided", False) == "3"
    assert category_decision("undecided", "yes", False) == "undecided"
    assert category_decision("yes", "yes", True) == "excluded"
    assert category_decision("yes", "yes", False, polyanions_intact=False) == "excluded"


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        (dict(d_r_per_ps=0.5, na_d_A2_ps=0.2), 1),
        (dict(d_r_per_ps=0.5), 2),
        (dict(libration_rad=0.15, na_d_A2_ps=0.2), 3),
        (dict(libration_rad=0.15, center_d_A2_ps=0.2), None),
    ],
)
def test_analyze_trajectory_categories(synth, kwargs, expected):
    pos, sp, cell, c, lig = synth.rotor_crystal(1500, seed=4, **kwargs)
    row = analyze_trajectory(pos, sp, cell, 10.0, 800.0, c, lig, mobile_ion="Na")
    assert row["category"] == expected
    assert row["framework_melted"] == (expected is None)
    if expected in (1, 2):
        assert row["rotates"] and row["c_t_end"] < 0.9
        assert row["n_reorientation_jumps"] > 0 and row["rotation_rate_per_rotor_ps"] > 0
    if expected == 3:
        assert not row["rotates"] and row["c_t_end"] > 0.9
        assert row["n_reorientation_jumps"] == 0
    if "na_d_A2_ps" in kwargs:
        assert row["diffuses"] and row["msd_mobile_A2"] > 5.0
        d_true = kwargs["na_d_A2_ps"] * 1e-4
        assert abs(row["diffusivity_cm2_s"] - d_true) < 4 * row["diffusivity_err_cm2_s"]
        assert row["conductivity_mS_cm"] > 0 and row["conductivity_err_mS_cm"] > 0
    elif expected is not None:
        assert not row["diffuses"] and row["msd_mobile_A2"] < 1.0


def test_analyze_trajectory_row_contents_and_units(synth, tmp_path):
    from mlkit.analysis.diffusion import nernst_einstein_conductivity
    from mlkit.analysis.plots import plot_trajectory_curves

    pos, sp, cell, c, lig = synth.rotor_crystal(1500, seed=5, d_r_per_ps=0.3, na_d_A2_ps=0.2)
    vel = np.gradient(pos, 10.0, axis=0)
    row, curves = analyze_trajectory(pos, sp, cell, 10.0, 800.0, c, lig,
                                     velocities_A_fs=vel, return_curves=True)
    for key in ["msd_mobile_A2", "msd_framework_A2", "diffusivity_cm2_s", "diffusivity_err_cm2_s",
                "conductivity_mS_cm", "conductivity_err_mS_cm", "c_t_end", "rotates", "diffuses",
                "framework_melted", "polyanions_intact", "category", "n_hops",
                "hop_rate_per_ion_ps", "n_reorientation_jumps", "rotation_rate_per_rotor_ps",
                "coupling_pearson_mean", "vdos_center_mobile_THz"]:
        assert key in row
    assert row["velocity_source"] == "md"
    assert row["n_mobile"] == 8 and row["n_rotors"] == 8
    assert row["volume_A3"] == pytest.approx(1000.0)
    assert row["duration_ps"] == pytest.approx(14.99)
    sigma = nernst_einstein_conductivity(row["diffusivity_cm2_s"], 8, 1000.0, 800.0, 1.0)
    assert row["conductivity_mS_cm"] == pytest.approx(sigma)
    assert np.isfinite(row["vdos_center_mobile_THz"]) and row["vdos_center_mobile_THz"] > 0
    assert np.isfinite(row["libration_center_THz"])
    paths = plot_trajectory_curves(curves, tmp_path, prefix="synthetic")
    assert {p.name for p in paths} == {"synthetic_msd.png", "synthetic_c_t.png",
                                       "synthetic_rho.png", "synthetic_spectra.png",
                                       "synthetic_rho_per_rotor.png"}
    for p in paths:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 5000


def test_mobile_ion_is_a_parameter(synth):
    pos, sp, cell, c, lig = synth.rotor_crystal(600, seed=6, na_d_A2_ps=0.2)
    sp_li = ["Li" if s == "Na" else s for s in sp]
    row_li = analyze_trajectory(pos, sp_li, cell, 10.0, 800.0, c, lig, mobile_ion="Li")
    row_na = analyze_trajectory(pos, sp, cell, 10.0, 800.0, c, lig)
    assert row_li["mobile_ion"] == "Li" and row_li["n_mobile"] == 8
    assert row_li["diffusivity_cm2_s"] == pytest.approx(row_na["diffusivity_cm2_s"], rel=0.05)
    sp_mg = ["Mg" if s == "Na" else s for s in sp]
    row_mg = analyze_trajectory(pos, sp_mg, cell, 10.0, 800.0, c, lig, mobile_ion="Mg")
    assert row_mg["charge_e"] == 2.0
    with pytest.raises(MlkitError, match="no Na atoms"):
        analyze_trajectory(pos, sp_li, cell, 10.0, 800.0, c, lig)
    sp_x = ["Cs" if s == "Na" else s for s in sp]
    row_cs = analyze_trajectory(pos, sp_x, cell, 10.0, 800.0, c, lig, mobile_ion="Cs",
                                charge_e=1.0)
    assert row_cs["charge_e"] == 1.0


def test_analyze_trajectory_bad_input(synth):
    pos, sp, cell, c, lig = synth.rotor_crystal(100, seed=7)
    with pytest.raises(MlkitError, match="frames"):
        analyze_trajectory(pos[:5], sp, cell, 10.0, 800.0, c, lig)
    with pytest.raises(MlkitError, match="species"):
        analyze_trajectory(pos, sp[:-1], cell, 10.0, 800.0, c, lig)
    with pytest.raises(MlkitError, match="temperature_K"):
        analyze_trajectory(pos, sp, cell, 10.0, 0.0, c, lig)
    with pytest.raises(MlkitError, match="cell_A"):
        analyze_trajectory(pos, sp, np.zeros((3, 3)), 10.0, 800.0, c, lig)
    bad = pos.copy()
    bad[3, 0, 0] = np.nan
    with pytest.raises(MlkitError, match="NaN"):
        analyze_trajectory(bad, sp, cell, 10.0, 800.0, c, lig)
    wrapped = pos.copy()
    wrapped[50:, -1, 0] -= 10.0  # one Na re-enters the cell through the boundary
    with pytest.raises(MlkitError, match="look wrapped"):
        analyze_trajectory(wrapped, sp, cell, 10.0, 800.0, c, lig)
    with pytest.raises(MlkitError, match="velocities"):
        analyze_trajectory(pos, sp, cell, 10.0, 800.0, c, lig, velocities_A_fs=pos[:, :3])
    # no rotors: rotation columns are NaN, not invented
    row = analyze_trajectory(pos, sp, cell, 10.0, 800.0)
    assert np.isnan(row["c_t_end"]) and row["rotates"] is False and row["category"] == 3


def test_default_d_robust_for_caged_ions(synth):
    """Caged ions (Ornstein-Uhlenbeck, saturating MSD): GLS reads the early rise of the
    window as diffusion; the default OLS-window D stays within its error of zero."""
    rng = np.random.default_rng(9)
    pos, sp, cell, c, lig = synth.rotor_crystal(2000, seed=8)
    na = np.nonzero(np.array(sp) == "Na")[0]
    dt, tau, sig = 0.01, 1.0, 0.7
    ou = np.zeros((2000, len(na), 3))
    a = np.exp(-dt / tau)
    for t in range(1, 2000):
        ou[t] = a * ou[t - 1] + np.sqrt(1 - a**2) * sig * rng.normal(size=(len(na), 3))
    pos = pos.copy()
    pos[:, na] += ou
    row = analyze_trajectory(pos, sp, cell, 10.0, 800.0, c, lig)
    assert row["diffusivity_err_method"] == "block"
    assert row["diffusivity_cm2_s"] == row["diffusivity_ols_cm2_s"]
    assert abs(row["diffusivity_cm2_s"]) < 2 * row["diffusivity_err_cm2_s"]
    assert row["diffusivity_gls_cm2_s"] > 5 * abs(row["diffusivity_ols_cm2_s"])
    assert not row["diffuses"]  # plateau 6 sig^2 = 2.9 A^2
    # an ideal random walk: GLS and OLS agree within the errors
    pos2, sp2, cell2, c2, lig2 = synth.rotor_crystal(2000, seed=8, na_d_A2_ps=0.2)
    row2 = analyze_trajectory(pos2, sp2, cell2, 10.0, 800.0, c2, lig2)
    assert abs(row2["diffusivity_gls_cm2_s"] - row2["diffusivity_ols_cm2_s"]) < \
        3 * row2["diffusivity_err_cm2_s"]


def test_per_frame_cell_gives_same_row(synth):
    pos, sp, cell, c, lig = synth.rotor_crystal(400, seed=10, d_r_per_ps=0.3, na_d_A2_ps=0.2)
    row = analyze_trajectory(pos, sp, cell, 10.0, 800.0, c, lig)
    row_t = analyze_trajectory(pos, sp, np.repeat(cell[None], len(pos), axis=0), 10.0, 800.0,
                               c, lig)
    for key, val in row.items():
        if isinstance(val, float) and np.isnan(val):
            assert np.isnan(row_t[key])
        elif isinstance(val, float):
            assert row_t[key] == pytest.approx(val, rel=1e-9, abs=1e-12), key
        else:
            assert row_t[key] == val, key


def test_c_t_per_polyanion_species(synth):
    """Two polyanion species: rotating 'Nb' octahedra and librating 'Ta' ones."""
    pos, sp, cell, c, lig = synth.rotor_crystal(600, seed=11, d_r_per_ps=0.5)
    pos_l, _, _, _, _ = synth.rotor_crystal(600, seed=11, libration_rad=0.1)
    pos = pos.copy()
    for r in range(4, 8):  # rotors 4-7 become librating Ta rotors
        idx = [c[r], *lig[r]]
        pos[:, idx] = pos_l[:, idx]
    sp = list(sp)
    for r in range(4, 8):
        sp[c[r]] = "Ta"
    row = analyze_trajectory(pos, sp, cell, 10.0, 800.0, c, lig)
    assert row["c_t_end_Nb"] < 0.2 and row["c_t_end_Ta"] > 0.9
    assert row["c_t_end_Nb"] < row["c_t_end"] < row["c_t_end_Ta"]
    assert row["rotates"]
    # mostly librating rotors with one rotating species member: still "rotates"
    sp2 = ["Ta" if s == "Nb" else s for s in sp]
    sp2[c[0]] = "Nb"
    pos2 = pos.copy()
    for r in range(1, 4):
        idx = [c[r], *lig[r]]
        pos2[:, idx] = pos_l[:, idx]
    row2 = analyze_trajectory(pos2, sp2, cell, 10.0, 800.0, c, lig, rotation_threshold=0.5)
    assert row2["c_t_end"] > 0.5 and row2["c_t_end_Nb"] < 0.2 and row2["rotates"]
