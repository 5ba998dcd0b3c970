"""A seeded feature + label table shared by the trainer and train-workflow tests.

Rotation class and log-conductivity depend on two features (vpa up, aal down); the table
also has a near-duplicate column, a constant, noise and a categorical connectivity column.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def synthetic_table(n: int = 48, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    vpa = rng.normal(20, 3, n)
    aal = rng.normal(1.8, 0.1, n)
    feats = pd.DataFrame({
        "id": [f"s{i:02d}" for i in range(n)], "source": "mem", "error": "",
        "vpa": vpa, "aal": aal, "vpa_twin": 2 * vpa + 0.01 * rng.normal(size=n),
        "constant": 1.0, "noise": rng.normal(size=n),
        "connectivity": rng.choice(["isolated", "corner"], n),
    })
    score = (vpa - 20) / 3 - (aal - 1.8) / 0.1
    labels = pd.DataFrame({"id": feats["id"], "rot": (score > 0).astype(int),
                           "sigma": 10 ** (-5 + score + 0.1 * rng.normal(size=n))})
    return feats, labels
