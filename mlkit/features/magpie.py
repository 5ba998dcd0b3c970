"""Magpie composition statistics through matminer's ``ElementProperty`` (opt-in group)."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from mlkit.features.base import BaseFeaturizer, register_featurizer

if TYPE_CHECKING:
    from mlkit.features.context import StructureContext

__all__ = ["MagpieFeaturizer"]


@lru_cache(maxsize=1)
def _element_property() -> Any:
    from matminer.featurizers.composition import ElementProperty

    return ElementProperty.from_preset("magpie", impute_nan=False)


def _clean(label: str) -> str:
    # "MagpieData mean Number" -> "magpie_mean_Number"
    label = label.replace("MagpieData ", "")
    return "magpie_" + re.sub(r"[^0-9A-Za-z]+", "_", label).strip("_")


@register_featurizer("magpie")
class MagpieFeaturizer(BaseFeaturizer):
    """matminer ``ElementProperty.from_preset("magpie")`` on the (occupancy-weighted)
    composition: 22 element properties x (min, max, range, mean, avg_dev, mode) = 132
    columns. Not in the default set (it would dominate small data sets); ask for it with
    ``featurizers=[..., "magpie"]``.
    """

    def __init__(self) -> None:
        pass

    def feature_labels(self) -> list[str]:
        return [_clean(x) for x in _element_property().feature_labels()]

    def featurize(self, ctx: StructureContext) -> list[float]:
        comp = ctx.structure.composition.element_composition
        return [float(v) for v in _element_property().featurize(comp)]

    def citations(self) -> list[str]:
        return list(_element_property().citations())

    def implementors(self) -> list[str]:
        return ["matminer developers (ElementProperty); mlkit wrapper"]
