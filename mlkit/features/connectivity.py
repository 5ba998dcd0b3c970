"""Framework connectivity features: class one-hot and the counts of shared ligands."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlkit.features.base import BaseFeaturizer, register_featurizer
from mlkit.structures.connectivity import CONNECTIVITY_CLASSES

if TYPE_CHECKING:
    from mlkit.features.context import StructureContext

__all__ = ["CONNECTIVITY_CLASSES", "ConnectivityFeaturizer"]


@register_featurizer("connectivity")
class ConnectivityFeaturizer(BaseFeaturizer):
    """One-hot framework class and corner/edge/face share counts.

    The class itself (a string) goes to the ``connectivity`` column of the feature
    table; this transformer returns only numbers.

    Parameters
    ----------
    mobile_ion : str
        Element of the mobile ion (excluded from the framework polyhedra).
    """

    uses_mobile_ion = True

    def __init__(self, mobile_ion: str = "Na") -> None:
        self.mobile_ion = mobile_ion

    def feature_labels(self) -> list[str]:
        return [f"connectivity_{c}" for c in CONNECTIVITY_CLASSES] + [
            "n_corner_shares",
            "n_edge_shares",
            "n_face_shares",
        ]

    def featurize(self, ctx: StructureContext) -> list[float]:
        conn = ctx.connectivity(self.mobile_ion)
        if conn.framework_class not in CONNECTIVITY_CLASSES:
            raise ValueError(f"unknown connectivity class {conn.framework_class!r}")
        onehot = [float(conn.framework_class == c) for c in CONNECTIVITY_CLASSES]
        return onehot + [float(conn.n_corner), float(conn.n_edge), float(conn.n_face)]

    def citations(self) -> list[str]:
        return [
            "Yang, Y.; Guan, C.; Ouyang, R.; Zhu, H. Chem. Mater. 36, 3776-3785 (2024) "
            "(isolated / corner / edge / face / mixed frameworks)",
            "Pauling, L. J. Am. Chem. Soc. 51, 1010-1026 (1929) (polyhedral sharing rules)",
        ]
