"""Build the real demo data set from the rotation campaign and the phonondb_na data.

Reads
    experiments/results/campaign/<stage>/rows/*.csv   (mlkit label md rows, CHGNet MD)
    experiments/results/phonons/phonondb_dft_labels.csv (mlkit label phonons, DFT force sets)
    experiments/results/screen/phonondb_screen.csv      (mlkit.structures.rotation_screen)
    ../shared/datasets/phonondb_na/structures/           (the PBEsol-relaxed unit cells)

Writes next to this file
    labels.csv         one row per labelled structure (rotation category, C(60 ps),
                       diffusivity, their 95 % intervals and decisions, full provenance)
    campaign_rows.csv  every campaign row, errors and exclusions included
    phonon_msd.csv     DFT phonon MSD of Na and the other phonon descriptors of the same
                       structures and of the prediction set
    structures/        <mp-id>.vasp of every labelled structure
    predict/           <mp-id>.vasp of PREDICT_N structures that failed the screen (other
                       connectivity classes; seeded choice among the small cells)

Usage: python datasets/phonondb_na_rotation/make_dataset.py [--stage survey]
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from pymatgen.core import Structure

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "experiments"))
from rotation_campaign import collect, labelled  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SHARED = ROOT.parent / "shared" / "datasets" / "phonondb_na" / "structures"
RESULTS = ROOT / "experiments" / "results"
PREDICT_N = 24
#: columns of labels.csv, in order (rotation is the training target)
COLUMNS = [
    "id", "formula", "rotation", "rotation_in_run", "category", "category_decision",
    "rotation_decision",
    "diffusion_decision", "rotation_species", "c_t_end", "c_t_ref", "c_t_ref_low", "c_t_ref_high",
    "msd_mobile_ref_A2", "msd_mobile_ref_low_A2", "msd_mobile_ref_high_A2",
    "diffusivity_zero_intercept_cm2_s", "diffusivity_cm2_s", "diffusivity_low_cm2_s",
    "diffusivity_high_cm2_s", "diffusivity_floor_cm2_s", "n_reorientation_jumps",
    "n_site_hops", "msd_framework_A2", "temperature_K", "potential", "potential_version",
    "ensemble", "timestep_fs", "equilibration_ps", "production_ps", "reference_time_ps",
    "confidence", "seed", "supercell", "n_atoms", "pressure_GPa",
    "npt_volume_change_percent", "mlkit_version", "campaign_stage",
]
PHONON_COLUMNS = [
    "id", "unitcell_formula", "ph_stable", "ph_mobile_msd_mean_A2_300K",
    "ph_mobile_msd_mean_A2_800K", "ph_mobile_msd_mean_A2_1300K", "ph_acoustic_cutoff_THz",
    "ph_mobile_pdos_centre_THz", "ph_total_dos_centre_THz", "ph_mesh", "supercell_matrix",
    "phonopy_version", "mlkit_version",
]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--stage", default="survey")
    args = p.parse_args()
    rows = collect(args.stage)
    rows["id"] = rows["mp_id"]
    labels = labelled(rows)
    labels = labels[[c for c in COLUMNS if c in labels.columns]].sort_values("id")
    labels.to_csv(HERE / "labels.csv", index=False)
    drop = [c for c in ("run_dir", "source", "campaign_command") if c in rows.columns]
    rows.drop(columns=drop).sort_values("id").to_csv(HERE / "campaign_rows.csv", index=False)

    screen = pd.read_csv(RESULTS / "screen" / "phonondb_screen.csv")
    failed = screen[~screen["passed"] & screen["connectivity"].isin(
        ["corner", "edge", "mixed", "face"])].copy()
    failed["n_atoms"] = [len(Structure.from_file(SHARED / f"{i}_POSCAR-unitcell.vasp"))
                         for i in failed["id"]]
    small = failed[failed["n_atoms"] <= 32]
    rng = np.random.default_rng(0)
    predict_ids = sorted(rng.choice(small["id"].to_numpy(), PREDICT_N, replace=False))

    for sub, ids in (("structures", labels["id"]), ("predict", predict_ids)):
        out = HERE / sub
        if out.exists():
            shutil.rmtree(out)
        out.mkdir()
        for i in ids:
            shutil.copy(SHARED / f"{i}_POSCAR-unitcell.vasp", out / f"{i}.vasp")

    ph = pd.read_csv(RESULTS / "phonons" / "phonondb_dft_labels.csv")
    ph = ph[ph["mp_id"].isin(set(labels["id"]) | set(predict_ids))].copy()
    ph["id"] = ph["mp_id"]
    ph[[c for c in PHONON_COLUMNS if c in ph.columns]].sort_values("id").to_csv(
        HERE / "phonon_msd.csv", index=False)
    counts = labels["category"].value_counts().sort_index().to_dict()
    print(f"{len(labels)} labelled ({counts}), {len(rows) - len(labels)} not labelled, "
          f"{len(predict_ids)} to predict, {len(ph)} phonon rows")


if __name__ == "__main__":
    main()
