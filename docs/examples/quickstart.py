"""Quickstart: mlkit's Python API on the bundled demo data (50 CIFs, label ``open_path``).

Run it from anywhere (a test runs it on every CI build)::

    python docs/examples/quickstart.py [WORKDIR]

It featurizes the structures, trains and registers a classifier (MLflow store in
WORKDIR), predicts new structures from the registered model -- from files and from
pymatgen objects -- and runs the exhaustive feature-subset search. ``mlkit.label_md`` and
``mlkit.label_phonons`` make the labels themselves (minutes per structure with an ML
potential); see docs/md.md and docs/phonons.md.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import mlkit

DEMO = Path(__file__).resolve().parents[2] / "datasets" / "demo"


def main(workdir: Path) -> None:
    workdir.mkdir(parents=True, exist_ok=True)
    uri = f"sqlite:///{workdir / 'mlflow.db'}"
    cache = workdir / "cache"

    # 1. structures -> feature table (mlkit featurize)
    table = mlkit.featurize(DEMO / "structures", output=workdir / "features.parquet",
                            cache_dir=cache)
    print(f"featurized {len(table)} structures: {table.shape[1] - 5} features, "
          f"{int((table['error'] != '').sum())} rows with errors")

    # 2. nested CV + final model, tracked and registered (mlkit train)
    result = mlkit.train(DEMO / "labels.csv", "open_path", structures=DEMO / "structures",
                         models="logreg,rf", n_trials=3, outer_folds=5, explain=False,
                         tracking_uri=uri, experiment="quickstart",
                         register_name="demo_api", output_dir=workdir / "train",
                         cache_dir=cache)
    print(result.summary_text())

    # 3. predict new structures with the registered model (mlkit predict)
    files = sorted((DEMO / "structures").glob("*x1p06.cif"))[:5]
    pred = mlkit.predict("models:/demo_api@champion", files, tracking_uri=uri,
                         cache_dir=cache, output=workdir / "predictions.csv")
    print(pred[["id", "prediction", "probability", "out_of_range"]].to_string(index=False))
    # ... or pymatgen structures in memory, with the same settings
    from pymatgen.core import Structure

    in_memory = mlkit.predict(result.model, {f.stem: Structure.from_file(f) for f in files})
    assert (in_memory["probability"].to_numpy() == pred["probability"].to_numpy()).all()

    # 4. logistic regression on every subset of up to 3 features (mlkit subsets)
    search = mlkit.subsets(DEMO / "labels.csv", "open_path",
                           features=workdir / "features.parquet", corr_threshold=0.9,
                           max_features=3, cv=5, output_dir=workdir / "subsets")
    best = search.best
    print(f"best subset: F1 {best['f1_mean']:.3f} with "
          f"{', '.join(search.features_of(int(best['bitmask'])))}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="mlkit-")))
