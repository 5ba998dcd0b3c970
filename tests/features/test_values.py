"""Feature values pinned to independently derived numbers on structures built in code."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from mlkit.features import StructureContext, featurize_structures, get_featurizer
from mlkit.features.geometry import baur_distortion_index, effective_coordination
from mlkit.structures import resolve_disorder

COULOMB_EV_A = 14.399645  # e^2 / (4 pi eps0) in eV*A
MADELUNG_NACL = 1.747565  # rock salt, referred to the nearest-neighbour distance
MADELUNG_CSCL = 1.762675  # CsCl, referred to the nearest-neighbour distance
AMU_G = 1.66053907  # 1 amu/A^3 in g/cm^3
M_NA, M_CL, M_O = 22.98976928, 35.453, 15.9994


def feats(name, structure, **params):
    f = get_featurizer(name, **params)
    ctx = StructureContext(structure)
    return dict(zip(f.feature_labels(), f.featurize(ctx), strict=True)), ctx


def test_structural_rock_salt(nacl):
    a = 5.64
    v, ctx = feats("structural", nacl)
    assert v["vpa"] == pytest.approx(a**3 / 8)
    assert v["density_g_cm3"] == pytest.approx(4 * (M_NA + M_CL) / a**3 * AMU_G, rel=1e-6)
    # Shannon (1976) crystal radii, CN VI: Na+ 1.16 A, Cl- 1.67 A
    ion_volume = 4 * 4 / 3 * math.pi * (1.16**3 + 1.67**3)
    assert v["packing_fraction"] == pytest.approx(ion_volume / a**3)
    assert v["free_volume_per_atom_A3"] == pytest.approx((a**3 - ion_volume) / 8)
    assert v["lattice_anisotropy"] == pytest.approx(1.0)
    assert v["atoms_per_cell"] == 8
    assert v["mobile_ion_fraction"] == 0.5
    assert v["mobile_ion_density_per_nm3"] == pytest.approx(4 / a**3 * 1000)
    assert v["spacegroup_number"] == 225
    assert not ctx.errors


def test_lattice_anisotropy_of_a_tetragonal_cell():
    s = Structure(Lattice.tetragonal(4.0, 9.0), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    v, _ = feats("structural", s)
    assert v["lattice_anisotropy"] == pytest.approx(9.0 / 4.0)


def test_ewald_and_madelung_rock_salt(nacl):
    a = 5.64
    v, ctx = feats("electrostatic", nacl)
    pair = -MADELUNG_NACL * COULOMB_EV_A / (a / 2)  # energy per ion pair (eV)
    assert v["ewald_energy_per_atom_eV"] == pytest.approx(pair / 2, rel=1e-5)
    # potential at the Na site: -alpha e / (4 pi eps0 r0), in V
    assert v["madelung_potential_mobile_V"] == pytest.approx(pair, rel=1e-5)
    assert ctx.oxidation_states() == {"Na": 1.0, "Cl": -1.0}


def test_ewald_and_madelung_cscl(cscl):
    a = 4.11
    r0 = math.sqrt(3) * a / 2
    v, _ = feats("electrostatic", cscl, mobile_ion="Cs")
    pair = -MADELUNG_CSCL * COULOMB_EV_A / r0
    assert v["ewald_energy_per_atom_eV"] == pytest.approx(pair / 2, rel=1e-5)
    assert v["madelung_potential_mobile_V"] == pytest.approx(pair, rel=1e-5)


def test_bond_valence_sum_of_na_in_nacl(nacl):
    from pymatgen.core.bond_valence import calculate_bv_sum

    v, _ = feats("electrostatic", nacl)
    # pymatgen's own BVS (same O'Keeffe-Brese parameters, b = 0.31 A, 4 A cutoff)
    oracle = calculate_bv_sum(nacl[0], nacl.get_neighbors(nacl[0], 4.0))
    assert v["bvs_mobile"] == pytest.approx(oracle, rel=1e-9)
    # six Na-Cl bonds of 2.82 A: s = exp((R0 - d) / b) with R0 from r, c of Na and Cl
    r1, c1, r2, c2 = 1.36, 1.01, 0.99, 2.74
    r_0 = r1 + r2 - r1 * r2 * (math.sqrt(c1) - math.sqrt(c2)) ** 2 / (c1 * r1 + c2 * r2)
    assert v["bvs_mobile"] == pytest.approx(6 * math.exp((r_0 - 2.82) / 0.31), rel=1e-6)
    assert 0.8 < v["bvs_mobile"] < 1.2  # close to the formal valence 1
    # GII: Na and Cl both deviate by |1 - BVS| (Cl sees 6 Na at the same distance)
    assert v["global_instability_index"] == pytest.approx(1 - v["bvs_mobile"], rel=1e-6)


def test_mobile_ion_environment_rock_salt(nacl):
    v, ctx = feats("geometry", nacl)
    a = 5.64
    assert v["mobile_cn"] == pytest.approx(6.0, abs=1e-6)
    assert v["mobile_anion_distance_A"] == pytest.approx(a / 2)
    assert v["mobile_anion_min_distance_A"] == pytest.approx(a / 2)
    assert v["mobile_mobile_min_distance_A"] == pytest.approx(a / math.sqrt(2))
    # no non-Na cation: polyanion features undefined, count zero, reason recorded
    assert math.isnan(v["aal"]) and v["polyanion_count"] == 0
    assert ctx.errors["geometry"] == ["no non-Na cation polyhedra (aal undefined)"]


def test_polyanion_geometry_and_inertia(na3po4):
    v, ctx = feats("geometry", na3po4)
    assert v["aal"] == pytest.approx(1.54)
    assert v["polyanion_distortion"] == pytest.approx(0.0, abs=1e-9)
    assert v["polyanion_count"] == 1
    assert v["polyanions_per_formula_unit"] == 1
    assert v["polyanion_cn_mean"] == 4
    assert v["polyanion_tetrahedral_fraction"] == 1
    assert v["polyanion_octahedral_fraction"] == 0
    assert v["mobile_mobile_min_distance_A"] == pytest.approx(3.5)
    assert v["mobile_center_min_distance_A"] == pytest.approx(3.5 * math.sqrt(2))
    assert not ctx.errors
    e, _ = feats("elemental", na3po4)
    # regular tetrahedron about P (the centre of mass): I = (2/3) * 4 m_O d^2
    assert e["polyanion_inertia_amu_A2"] == pytest.approx(2 / 3 * 4 * M_O * 1.54**2, rel=1e-4)
    assert e["center_mass_amu"] == pytest.approx(30.973762)
    assert e["ligand_mass_amu"] == pytest.approx(M_O, rel=1e-5)
    assert e["center_electronegativity"] == pytest.approx(2.19)
    assert e["ligand_electronegativity"] == pytest.approx(3.44)
    q, _ = feats("electrostatic", na3po4)
    assert q["polyanion_charge"] == -3
    assert q["center_oxidation_state"] == 5
    c, _ = feats("connectivity", na3po4)
    assert c["connectivity_isolated"] == 1 and c["connectivity_corner"] == 0
    assert c["n_corner_shares"] == c["n_edge_shares"] == c["n_face_shares"] == 0


def test_distorted_tetrahedron_baur_index(na3po4_factory):
    bonds = (1.54, 1.54, 1.54, 1.70)
    v, _ = feats("geometry", na3po4_factory(bonds))
    mean = sum(bonds) / 4
    assert v["aal"] == pytest.approx(mean)
    expected = sum(abs(b - mean) for b in bonds) / 4 / mean  # = 0.24 / 4 / 1.58
    assert v["polyanion_distortion"] == pytest.approx(expected, rel=1e-6)
    assert expected == pytest.approx(0.0379747, rel=1e-5)


def test_kernels():
    assert baur_distortion_index(np.array([2.0, 2.0, 2.0])) == 0
    econ, lav = effective_coordination(np.array([2.0] * 6))
    assert econ == pytest.approx(6) and lav == pytest.approx(2.0)
    # a far neighbour barely counts: exp(1 - 2^6) ~ 4e-28
    econ, _ = effective_coordination(np.array([2.0] * 4 + [4.0]))
    assert econ == pytest.approx(4.0, abs=1e-9)


def test_elemental_statistics_rock_salt(nacl):
    v, _ = feats("elemental", nacl)
    assert v["en_mean"] == pytest.approx((0.93 + 3.16) / 2)
    assert v["en_std"] == pytest.approx((3.16 - 0.93) / 2)
    assert (v["en_min"], v["en_max"]) == (0.93, 3.16)
    assert v["ionic_radius_mean_A"] == pytest.approx((1.16 + 1.67) / 2)


def test_mobile_ion_is_a_parameter(licl, nacl):
    v, ctx = feats("geometry", licl, mobile_ion="Li")
    assert v["mobile_mobile_min_distance_A"] == pytest.approx(5.13 / math.sqrt(2))
    assert ctx.errors == {"geometry": ["no non-Li cation polyhedra (aal undefined)"]}
    s, _ = feats("structural", licl, mobile_ion="Li")
    assert s["mobile_ion_fraction"] == 0.5
    # K is absent from NaCl: K features NaN with a reason, the rest kept
    df = featurize_structures({"nacl": nacl}, mobile_ion="K", use_cache=False, progress=False)
    row = df.iloc[0]
    assert "no K in structure" in row["error"]
    assert math.isnan(row["mobile_cn"]) and math.isnan(row["bvs_mobile"])
    assert row["vpa"] == pytest.approx(5.64**3 / 8)
    assert row["mobile_ion_fraction"] == 0
    assert np.isfinite(row["ewald_energy_per_atom_eV"])


def test_disordered_average_uses_occupancy_weights(nak_cl_disordered):
    df = featurize_structures(
        {"nakcl": nak_cl_disordered}, disorder="average", use_cache=False, progress=False
    )
    row = df.iloc[0]
    a = 5.64
    assert row["disorder"].startswith("average")
    assert row["vpa"] == pytest.approx(a**3 / 8)
    assert row["mobile_ion_fraction"] == pytest.approx(0.25)
    assert row["en_mean"] == pytest.approx((0.5 * 0.93 + 0.5 * 0.82 + 3.16) / 2)
    assert row["mobile_cn"] == pytest.approx(6.0, abs=1e-6)
    # every cation site carries +1 on average: same Madelung energy as ordered NaCl
    pair = -MADELUNG_NACL * COULOMB_EV_A / (a / 2)
    assert row["ewald_energy_per_atom_eV"] == pytest.approx(pair / 2, rel=1e-5)
    assert row["error"] == ""


def test_disordered_majority_and_refuse():
    s = Structure.from_spacegroup(
        "Fm-3m", Lattice.cubic(5.64), [{"Na": 0.6, "K": 0.4}, "Cl"], [[0, 0, 0], [0.5] * 3]
    )
    df = featurize_structures({"x": s}, disorder="majority", use_cache=False, progress=False)
    row = df.iloc[0]
    assert row["disorder"].startswith("majority")
    ordered, _ = resolve_disorder(s, "majority")  # whatever the strategy keeps, features follow
    assert ordered.is_ordered
    assert row["mobile_ion_fraction"] == pytest.approx(
        ordered.composition["Na"] / ordered.composition.num_atoms
    )
    assert row["vpa"] == pytest.approx(ordered.volume / len(ordered))
    df = featurize_structures({"x": s}, disorder="refuse", use_cache=False, progress=False)
    assert "disordered" in df.iloc[0]["error"] and np.isnan(df.iloc[0]["vpa"])


def test_no_oxidation_states_is_a_clear_reason():
    s = Structure(Lattice.cubic(3.9), ["Na", "Pb"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    df = featurize_structures({"napb": s}, use_cache=False, progress=False)
    row = df.iloc[0]
    assert "electrostatic: no charge-balanced oxidation states for NaPb" in row["error"]
    assert math.isnan(row["ewald_energy_per_atom_eV"])
    assert row["vpa"] == pytest.approx(3.9**3 / 2)
    # no oxidation states: the most electronegative other element (Pb) is the anion,
    # so Na sees the 8 Pb of the CsCl-type cell
    assert row["mobile_cn"] == pytest.approx(8.0, abs=1e-6)
    assert row["mobile_anion_distance_A"] == pytest.approx(3.9 * math.sqrt(3) / 2)


def test_fractional_composition_oxidation_guess():
    from mlkit.features.context import StructureContext

    s = Structure.from_spacegroup(
        "Fm-3m", Lattice.cubic(5.4), [{"Li": 0.37, "Na": 0.63}, "Cl"], [[0, 0, 0], [0.5] * 3]
    )
    assert StructureContext(s).oxidation_states() == {"Li": 1.0, "Na": 1.0, "Cl": -1.0}


def test_electrostatics_of_a_disordered_bi5_perovskite():
    # (Li0.52 Sr0.48)(Bi0.52 Zr0.48)O3, 2x2x2 cell: neutral only with Bi(+5), an ICSD but
    # not a "common" state, and no small integer formula for pymatgen's guess (as the
    # OBELiX Bi garnets kbq, uw9, which got no electrostatic features before)
    from pymatgen.analysis.ewald import EwaldSummation
    from pymatgen.core import Species

    a = 4.0
    coords = [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]]
    s = Structure(Lattice.cubic(a), [{"Li": 0.52, "Sr": 0.48}, {"Bi": 0.52, "Zr": 0.48},
                                     "O", "O", "O"], coords)
    s.make_supercell(2)
    v, ctx = feats("electrostatic", s, mobile_ion="Li")
    assert ctx.oxidation_states() == {"Li": 1.0, "Sr": 2.0, "Bi": 5.0, "Zr": 4.0, "O": -2.0}
    assert "electrostatic" not in ctx.errors
    # the occupancy-averaged charges: A 0.52 + 0.96 = 1.48 e, B 2.6 + 1.92 = 4.52 e
    point = Structure(Lattice.cubic(a), [Species("Sr", 1.48), Species("Zr", 4.52)]
                      + [Species("O", -2)] * 3, coords)
    ew = EwaldSummation(point, acc_factor=8.0)
    assert v["ewald_energy_per_atom_eV"] == pytest.approx(ew.total_energy / 5, rel=1e-6)
    potential_A_V = 2 * float(ew.total_energy_matrix[:, 0].sum()) / 1.48
    assert v["madelung_potential_mobile_V"] == pytest.approx(potential_A_V, rel=1e-6)
    assert v["center_oxidation_state"] == pytest.approx(5.0)


def test_split_positions_do_not_set_the_shortest_distance():
    # two half-occupied Na positions 0.8 A apart (never occupied together) in a 6 A cube
    s = Structure(
        Lattice.cubic(6.0),
        [{"Na": 0.5}, {"Na": 0.5}, "Cl"],
        [[0, 0, 0], [0.8, 0, 0], [3.0, 3.0, 3.0]],
        coords_are_cartesian=True,
    )
    v, _ = feats("geometry", s)
    assert v["mobile_mobile_min_distance_A"] == pytest.approx(6.0 - 0.8)
