"""Structures in a request -> predictions: what the registered pyfunc does with a CIF.

``mlflow models serve -m models:/NAME@ALIAS`` (or ``mlflow.pyfunc.load_model``) accepts
either the model's feature table, as before, or a DataFrame with one column of structure
text -- ``cif`` (CIF), ``poscar`` (VASP POSCAR) or ``structure_json`` (pymatgen
``Structure.as_dict()`` as JSON) -- and an optional ``id`` column. Each structure is
written to a temporary file and goes through exactly the path of ``mlkit predict``
(:func:`~mlkit.workflows.predict.predict_paths`): the same reader, validation, disorder
strategy and the model's stored :class:`~mlkit.features.settings.FeaturizationSettings`,
so the answer equals ``mlkit predict`` on the same file.

The pyfunc wrapper (``mlkit.tracking._pyfunc``) is told this function's name
(:data:`STRUCTURE_PREDICTOR`) when the model is logged and imports it when a request
carries structures; the tracking layer itself never imports workflows.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from mlkit.errors import MlkitError
from mlkit.tracking import STRUCTURE_COLUMNS
from mlkit.workflows.model import TrainedModel
from mlkit.workflows.predict import predict_paths

__all__ = ["STRUCTURE_COLUMNS", "STRUCTURE_PREDICTOR", "predict_structure_frame",
           "predict_structure_table"]

#: ``module:function`` handed to the pyfunc wrapper at logging time
STRUCTURE_PREDICTOR = "mlkit.workflows.serving:predict_structure_frame"

#: file suffix that makes :func:`mlkit.structures.read_structure` pick the format
_SUFFIX = {"cif": ".cif", "poscar": ".vasp", "structure_json": ".json"}


def _text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    if isinstance(value, Mapping):  # pymatgen dict passed as an object
        return json.dumps(value)
    text = str(value)
    return text if text.strip() else None


def predict_structure_table(model: TrainedModel, frame: pd.DataFrame) -> pd.DataFrame:
    """Predict structures given as text in a DataFrame.

    Parameters
    ----------
    model : TrainedModel
    frame : DataFrame
        One row per structure: the text in one of :data:`STRUCTURE_COLUMNS` (the first
        non-empty one of the row is used) and optionally ``id``.

    Returns
    -------
    DataFrame
        :data:`~mlkit.workflows.predict.OUTPUT_COLUMNS`, one row per input row in input
        order; ``source`` names the column the structure came from, ``id`` is the given
        id or ``row<i>``. A row without structure text, or one that cannot be read, is an
        error row; the others are predicted.
    """
    frame = pd.DataFrame(frame).reset_index(drop=True)
    present = [c for c in STRUCTURE_COLUMNS if c in frame.columns]
    if not present:
        raise MlkitError(f"no structure column: give one of {', '.join(STRUCTURE_COLUMNS)}")
    ids = (frame["id"].astype(str).tolist() if "id" in frame.columns
           else [f"row{i}" for i in range(len(frame))])
    with tempfile.TemporaryDirectory(prefix="mlkit-serve-") as tmp:
        files: list[Path | None] = []
        columns: list[str] = []
        for i in range(len(frame)):
            column, text = next(((c, t) for c in present
                                 if (t := _text(frame.at[i, c])) is not None), ("", None))
            columns.append(column)
            if text is None:
                files.append(None)
                continue
            path = Path(tmp) / f"s{i:06d}{_SUFFIX[column]}"
            path.write_text(text)
            files.append(path)
        given = [p for p in files if p is not None]
        table = (predict_paths(model, given, use_cache=False, progress=False)
                 .set_index("id") if given else None)
        rows = []
        for i, path in enumerate(files):
            if path is None:
                row = {"error": f"no structure text in {' / '.join(present)}"}
            else:
                row = table.loc[path.stem].to_dict()
                row["error"] = str(row["error"]).replace(str(path), ids[i])
                row["warning"] = str(row["warning"]).replace(str(path), ids[i])
            rows.append({**row, "id": ids[i], "source": columns[i]})
    from mlkit.workflows.predict import OUTPUT_COLUMNS

    out = pd.DataFrame(rows).reindex(columns=list(OUTPUT_COLUMNS))
    out["error"] = out["error"].fillna("")
    out["warning"] = out["warning"].fillna("")
    out["out_of_range_features"] = out["out_of_range_features"].fillna("")
    return out


def predict_structure_frame(pipeline: Any, settings: Mapping[str, Any],
                            frame: pd.DataFrame) -> pd.DataFrame:
    """The pyfunc entry point: rebuild the model from its two artefacts and predict.

    Parameters
    ----------
    pipeline : sklearn Pipeline
        ``pipeline.joblib`` of the model.
    settings : mapping
        ``settings.json`` of the model (format 2: it carries the featurization settings).
    frame : DataFrame
        See :func:`predict_structure_table`.

    Returns
    -------
    DataFrame
        As :func:`predict_structure_table`, with missing values as None (JSON ``null`` in
        a served response, not the non-standard ``NaN``).
    """
    out = predict_structure_table(TrainedModel.from_settings(pipeline, settings), frame)
    return out.astype(object).where(out.notna(), None)
