"""The structural screen of the polyanion-rotation paper (Yang et al., Chem. Mater. 2024).

The paper keeps "compounds with isolated tetrahedral or octahedral polyanions": an
**isolated framework**, "where the non-Li/Na cation polyhedrons (polyanions/cluster-ions)
in these structures are disconnected, and never share any common corners, edges, or
faces", whose polyanions are tetrahedra or octahedra.

Which polyhedra
---------------
Every polyhedron of :func:`~mlkit.structures.find_polyanions`: all cations but the mobile
ion, alkali and alkaline-earth spectators (K, Ca, Ba, ...) included, i.e. the framework of
the ``connectivity`` feature column. Decided on the paper's text and numbers: it defines
the framework by "the non-Li/Na cation polyhedrons" (only the conducting ions are named as
excluded), and that reading reproduces its statistics: 16.6 % of the 1,085 phonondb Na
structures are isolated against the paper's 16.3 % of 4,872 MP compounds, and 115 of them
pass the screen (the paper: 118 of 1,262). A spectator such as Cs in Cs2NaYCl6 shares faces
with the YCl6 octahedra, so the framework is not isolated.
``counter_cations=False`` screens only the polyhedra that can be polyanions (the rotors'
rule, :func:`~mlkit.structures.chemistry.can_centre_polyanion`): 242 pass on phonondb.

Verdict (the first failing rule gives the reason)
-------------------------------------------------
1. the structure contains the mobile ion, else ``"contains no Na"``;
2. it has polyhedra, else ``"no polyanions"``;
3. their framework (:func:`~mlkit.structures.classify_connectivity`) is ``isolated``, else
   ``"framework is corner-sharing"`` (``edge-``, ``face-``; ``"framework is mixed
   (corner, edge)"``);
4. every polyhedron is a tetrahedron or an octahedron, else
   ``"polyhedron at site 3 (Sn) is other (CN 5)"`` (the first in site order).

Multi-centre groups (P2S6: two P(S3) triangles) fail rule 4: the paper's screen is about
tetrahedral and octahedral units; :func:`~mlkit.structures.find_rotors` still finds them.
Centres with fewer than ``min_coordination`` (2) ligands are not polyhedra (each B of
B12H12 has one H): Na2B12H12 has "no polyanions" here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pymatgen.core import Structure

from mlkit.structures.chemistry import can_centre_polyanion
from mlkit.structures.connectivity import classify_connectivity
from mlkit.structures.disorder import majority_symbols
from mlkit.structures.polyanions import Polyanion, find_polyanions

__all__ = ["SCREEN_SHAPES", "ScreenResult", "rotation_screen"]

#: Polyhedron shapes the screen accepts.
SCREEN_SHAPES = ("tetrahedron", "octahedron")


@dataclass(frozen=True)
class ScreenResult:
    """Verdict of :func:`rotation_screen`.

    Attributes
    ----------
    passed : bool
    reason : str
        ``""`` when passed, else why not (module docstring).
    connectivity : str
        Framework class of the screened polyhedra (``classify_connectivity``).
    shapes : tuple of str
        Shapes of the screened polyhedra, sorted unique.
    """

    passed: bool
    reason: str
    connectivity: str
    shapes: tuple[str, ...]

    def __bool__(self) -> bool:
        return self.passed


def _framework_reason(conn) -> str:
    if conn.framework_class in ("corner", "edge", "face"):
        return f"framework is {conn.framework_class}-sharing"
    kinds = [k for k, n in (("corner", conn.n_corner), ("edge", conn.n_edge),
                            ("face", conn.n_face)) if n]
    return f"framework is {conn.framework_class} ({', '.join(kinds)})"


def rotation_screen(
    structure: Structure,
    mobile_ion: str = "Na",
    *,
    polyanions: Sequence[Polyanion] | None = None,
    **criteria,
) -> ScreenResult:
    """Apply the paper's structural screen: isolated tetrahedral/octahedral polyanions.

    Parameters
    ----------
    structure : Structure
        Ordered or disordered (roles by majority species) periodic structure.
    mobile_ion : str, default "Na"
    polyanions : sequence of Polyanion, optional
        Precomputed ``find_polyanions(structure, mobile_ion, ...)`` with every cation
        centre (spectators are removed here when ``counter_cations=False``); saves the
        neighbour search when the caller has it. ``criteria`` other than
        ``counter_cations`` are then ignored.
    **criteria
        Keywords of :func:`~mlkit.structures.find_polyanions` (``method``, ``tol``, ...,
        ``counter_cations``, default True: spectator polyhedra count).

    Returns
    -------
    ScreenResult
    """
    counter_cations = bool(criteria.pop("counter_cations", True))
    if polyanions is None:
        polys = find_polyanions(structure, mobile_ion, counter_cations=counter_cations,
                                **criteria)
    else:
        polys = [p for p in polyanions
                 if counter_cations or can_centre_polyanion(p.center_species)]
    conn = classify_connectivity(structure, polys)
    shapes = tuple(sorted({p.shape for p in polys}))

    def fail(reason: str) -> ScreenResult:
        return ScreenResult(False, reason, conn.framework_class, shapes)

    if mobile_ion not in set(majority_symbols(structure)):
        return fail(f"contains no {mobile_ion}")
    if not polys:
        return fail("no polyanions")
    if conn.framework_class != "isolated":
        return fail(_framework_reason(conn))
    for p in sorted(polys, key=lambda p: p.center_index):
        if p.shape not in SCREEN_SHAPES:
            return fail(f"polyhedron at site {p.center_index} ({p.center_species}) is "
                        f"{p.shape} (CN {p.coordination_number})")
    return ScreenResult(True, "", conn.framework_class, shapes)
