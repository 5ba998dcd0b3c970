"""Build the bundled demo set: idealised Na compounds from prototypes + a geometric label.

Run from the repository root (deterministic, a few seconds)::

    python datasets/demo/make_demo.py

Writes ``datasets/demo/structures/<id>.cif`` and ``datasets/demo/labels.csv``.
The structures are *idealised, unrelaxed prototypes* (lattice constants from sums of
Shannon ionic radii, optionally expanded by 6 %); the label is a *geometric proxy*
computed here, not a measurement or a simulation -- see README.md.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
from pymatgen.core import Lattice, Structure

HERE = Path(__file__).resolve().parent
#: Shannon ionic radii (A): anions CN6, Na+ CN6 (CN4 in antifluorite), cations as noted
ANION_RADII_A = {"F": 1.33, "Cl": 1.81, "Br": 1.96, "I": 2.20, "O": 1.40, "S": 1.84, "Se": 1.98}
R_NA_A = 1.02
R_NA_CN12_A = 1.39
R_M5_CN6_A = {"Nb": 0.64, "Ta": 0.64, "V": 0.54, "Sb": 0.60}
R_M3_CN6_A = {"Co": 0.545, "Cr": 0.615, "Fe": 0.645, "Ti": 0.67,
              "Al": 0.535, "Sc": 0.745, "Y": 0.90, "In": 0.80}
R_M4_CN6_A = {"Sn": 0.69, "Zr": 0.72, "Hf": 0.71, "Ti": 0.605}
R_M5_CN4_A = {"P": 0.17, "As": 0.335, "Sb": 0.45}
SCALES = (1.00, 1.06)
#: class threshold on the bottleneck radius (A), see README.md
OPEN_PATH_THRESHOLD_A = 0.75


def elpasolite(m: str, x: str, s: float) -> Structure:
    """Cubic cryolite/elpasolite Na3MX6 (Fm-3m): isolated MX6 octahedra."""
    a = (2 * (R_M3_CN6_A[m] + ANION_RADII_A[x]) + 2 * (R_NA_A + ANION_RADII_A[x])) * s
    xx = (R_M3_CN6_A[m] + ANION_RADII_A[x]) / (a / s)
    return Structure.from_spacegroup(
        "Fm-3m", Lattice.cubic(a), [m, "Na", "Na", x],
        [[0, 0, 0], [0.5, 0.5, 0.5], [0.25, 0.25, 0.25], [xx, 0, 0]],
    )


def k2ptcl6_type(m: str, s: float) -> Structure:
    """K2PtCl6-type Na2MCl6 (Fm-3m): isolated MCl6 octahedra, Na in 12-fold cages."""
    a = (R_NA_CN12_A + ANION_RADII_A["Cl"]) / math.sqrt(2 / 16) * s
    xx = (R_M4_CN6_A[m] + ANION_RADII_A["Cl"]) / (a / s)
    return Structure.from_spacegroup("Fm-3m", Lattice.cubic(a), [m, "Na", "Cl"],
                                     [[0, 0, 0], [0.25, 0.25, 0.25], [xx, 0, 0]])


def perovskite(m: str, s: float) -> Structure:
    a = 2 * (R_M5_CN6_A[m] + ANION_RADII_A["O"]) * s
    return Structure.from_spacegroup("Pm-3m", Lattice.cubic(a), ["Na", m, "O"],
                                     [[0, 0, 0], [0.5, 0.5, 0.5], [0, 0.5, 0.5]])


def layered(m: str, s: float) -> Structure:
    a = math.sqrt(2) * (R_M3_CN6_A[m] + ANION_RADII_A["O"]) * s
    return Structure.from_spacegroup("R-3m", Lattice.hexagonal(a, 5.4 * a), ["Na", m, "O"],
                                     [[0, 0, 0.5], [0, 0, 0], [0, 0, 0.26]])


def na3ps4_type(m: str, x: str, s: float) -> Structure:
    a = 6.99 * (R_M5_CN4_A[m] + ANION_RADII_A[x]) / (0.17 + 1.84) * s
    return Structure.from_spacegroup("I-43m", Lattice.cubic(a), ["Na", m, x],
                                     [[0, 0.5, 0.5], [0, 0, 0], [0.1727, 0.1727, 0.1727]])


def na_bottleneck_A(structure: Structure, *, mobile: str = "Na", max_hop_A: float = 6.5,
                    n_points: int = 41) -> float:
    """Largest free radius along the most open straight Na-Na hop (A).

    For every Na and every Na neighbour within ``max_hop_A`` (periodic images included),
    the straight segment is sampled at ``n_points``; at each point the free radius is
    ``min_j (|p - anion_j| - r_j)`` (minimum image, Shannon radius ``r_j``). A hop's
    bottleneck is the minimum along its segment; the structure's value is the maximum over
    hops. Cations other than Na are ignored (a purely geometric, demo-grade proxy).
    """
    lat = structure.lattice
    anion_idx = [i for i, site in enumerate(structure) if site.specie.symbol in ANION_RADII_A]
    anion_frac = structure.frac_coords[anion_idx]
    radii = np.array([ANION_RADII_A[structure[i].specie.symbol] for i in anion_idx])
    t = np.linspace(0.0, 1.0, n_points)[:, None]
    best = -np.inf
    for site in structure:
        if site.specie.symbol != mobile:
            continue
        for nb in structure.get_neighbors(site, max_hop_A):
            if nb.specie.symbol != mobile:
                continue
            pts = site.coords + t * (nb.coords - site.coords)
            d = lat.get_all_distances(lat.get_fractional_coords(pts), anion_frac)
            free = (d - radii[None, :]).min(axis=1)
            best = max(best, float(free.min()))
    return best


def build() -> list[tuple[str, str, float, Structure]]:
    items = []
    for s in SCALES:
        for m in ("Al", "Sc", "Y", "In"):
            for x in ("Cl", "Br"):
                items.append(("elpasolite", f"{m}{x}", s, elpasolite(m, x, s)))
        for m in R_M4_CN6_A:
            items.append(("K2PtCl6-type", m, s, k2ptcl6_type(m, s)))
        for m in R_M5_CN6_A:
            items.append(("perovskite", m, s, perovskite(m, s)))
        for m in ("Co", "Cr", "Fe", "Ti"):
            items.append(("layered", m, s, layered(m, s)))
        for m, x in (("P", "S"), ("P", "Se"), ("As", "S"), ("Sb", "S"), ("Sb", "Se")):
            items.append(("Na3PS4-type", f"{m}{x}", s, na3ps4_type(m, x, s)))
    return items


def main() -> None:
    out = HERE / "structures"
    out.mkdir(exist_ok=True)
    rows = []
    for proto, _subst, s, st in build():
        formula = st.composition.reduced_formula
        sid = f"{formula}_{proto}_x{s:.2f}".replace(".", "p")
        st.to(filename=str(out / f"{sid}.cif"))
        bottleneck = na_bottleneck_A(st)
        rows.append({"id": sid, "formula": formula, "prototype": proto, "lattice_scale": s,
                     "na_bottleneck_A": round(bottleneck, 4),
                     "open_path": int(bottleneck >= OPEN_PATH_THRESHOLD_A)})
    table = pd.DataFrame(rows)
    table.to_csv(HERE / "labels.csv", index=False)
    print(table.to_string())
    counts = table["open_path"].value_counts().to_dict()
    print(f"{len(table)} structures; open_path counts {counts}")


if __name__ == "__main__":
    main()
