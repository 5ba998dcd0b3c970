from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pymatgen.core import Lattice, Structure

from mlkit.analysis import AnalysisSettings
from mlkit.cli import main
from mlkit.labels.md import analyze_runs, label_md, run_md_structures, run_one_structure
from mlkit.md import MDSettings


def rocksalt(a: float, anion: str = "Cl") -> Structure:
    return Structure.from_spacegroup("Fm-3m", Lattice.cubic(a), ["Na", anion],
                                     [[0, 0, 0], [0.5, 0.5, 0.5]])


def settings(**kw) -> MDSettings:
    base = dict(temperature_K=300.0, time_ps=0.1, timestep_fs=2.0, equilibration_ps=0.0,
                supercell_min_length_A=0.0, threads=1, save_every=2, checkpoint_every=10)
    base.update(kw)
    return MDSettings(**base)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    d = tmp_path_factory.mktemp("structures")
    rocksalt(5.64).to(filename=str(d / "NaCl.vasp"), fmt="poscar")
    rocksalt(4.0).to(filename=str(d / "NaCl_squeezed.vasp"), fmt="poscar")  # blows up
    (d / "broken.cif").write_text("data_x\n_cell_length_a 3\nnonsense\n")
    return d


def test_batch_error_rows_and_resume_without_duplicates(inputs, tmp_path):
    files = [inputs / "NaCl.vasp", inputs / "broken.cif", inputs / "NaCl_squeezed.vasp"]
    csv = tmp_path / "labels.csv"
    df = label_md(files, tmp_path / "md", csv, settings(), progress=False)
    assert sorted(df["id"]) == ["NaCl", "NaCl_squeezed", "broken"]
    rows = df.set_index("id")
    good = rows.loc["NaCl"]
    assert good["status"] == "done" and (pd.isna(good["error"]) or good["error"] == "")
    assert good["n_frames"] == 26 and good["potential"] == "chgnet"
    assert good["temperature_K"] == 300.0 and good["supercell"] == "1x1x1"
    assert good["seed"] == 0 and good["ensemble"] == "nvt-nose-hoover"
    assert {"msd_mobile_A2", "category", "c_t_end", "diffusivity_cm2_s"} <= set(df.columns)
    assert good["n_rotors"] == 0  # rock salt: no polyanion
    # reference-time criteria and run diagnostics travel with every row
    assert good["reference_time_ps"] == 60.0 and good["diffusion_decision"] in (
        "yes", "no", "undecided")
    assert good["rotation_decision"] == "no" and good["category_decision"] == "3"
    assert np.isfinite(good["pressure_GPa"]) and np.isfinite(good["pressure_std_GPa"])
    assert good["conserved_energy"] == "nose-hoover"
    assert np.isfinite(good["conserved_energy_drift_meV_atom_ps"])
    assert good["diffusivity_floor_cm2_s"] > 0 and good["hop_distance_source"] == "structure"
    assert rows.loc["broken", "status"] == "error"
    assert str(rows.loc["broken", "error"]).startswith(str(inputs / "broken.cif"))
    assert rows.loc["NaCl_squeezed", "status"] == "error"
    assert "blow-up" in rows.loc["NaCl_squeezed", "error"]
    first = pd.read_csv(csv)
    # rerun: nothing is run again, the table is rebuilt without duplicates
    again = run_md_structures(files, tmp_path / "md", settings(), progress=False)
    assert again.set_index("id").loc[["NaCl", "NaCl_squeezed"], "skipped"].all()
    df2 = label_md(files, tmp_path / "md", csv, settings(), progress=False)
    assert len(df2) == 3 and df2["id"].is_unique
    pd.testing.assert_frame_equal(pd.read_csv(csv), first)


def test_auto_temperature_error_is_a_row(tmp_path):
    nah = tmp_path / "NaH.vasp"
    rocksalt(4.9, "H").to(filename=str(nah), fmt="poscar")
    row = run_one_structure(str(nah), str(tmp_path / "md"), settings(temperature_K="auto")
                            .to_dict())
    assert row["status"] == "error" and "--temperature-K" in row["error"]
    assert row["error"].startswith(str(nah)) and "\n" not in row["error"]
    df = analyze_runs(tmp_path / "md", progress=False)
    assert df.loc[0, "id"] == "NaH" and df.loc[0, "status"] == "error"


def test_dask_local_cluster(inputs, tmp_path):
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        df = run_md_structures([inputs / "NaCl.vasp"], tmp_path / "md", settings(),
                               dask_client=client, progress=False)
    assert df.loc[0, "status"] == "done" and df.loc[0, "n_frames"] == 26


def test_cli_md_run_analyze_and_label(inputs, tmp_path, capsys):
    args = ["--temperature-K", "300", "--time-ps", "0.1", "--equilibration-ps", "0",
            "--supercell-min-length-A", "0", "--save-every", "2", "--threads", "1",
            "--no-progress"]
    md_dir = tmp_path / "md"
    assert main(["md", "run", str(inputs / "NaCl.vasp"), *args, "-o", str(md_dir)]) == 0
    assert "NaCl: done, 26 frames" in capsys.readouterr().out
    csv = tmp_path / "a.csv"
    assert main(["md", "analyze", str(md_dir), "-o", str(csv), "--no-progress"]) == 0
    assert pd.read_csv(csv).loc[0, "status"] == "done"
    # analysis options reach AnalysisSettings: a shorter fit window, as in the Python API
    csv2 = tmp_path / "b.csv"
    assert main(["md", "analyze", str(md_dir), "-o", str(csv2), "--no-progress",
                 "--fit-end-fraction", "0.4"]) == 0
    default, short = pd.read_csv(csv).loc[0], pd.read_csv(csv2).loc[0]
    assert short["fit_end_ps"] < default["fit_end_ps"]
    api = analyze_runs(md_dir, progress=False,
                       analysis_settings=AnalysisSettings(fit_end_fraction=0.4))
    assert api.loc[0, "fit_end_ps"] == pytest.approx(short["fit_end_ps"])
    assert api.loc[0, "diffusivity_cm2_s"] == pytest.approx(short["diffusivity_cm2_s"])
    out = tmp_path / "labels.csv"
    assert main(["label", "md", str(inputs / "NaCl.vasp"), *args, "--md-dir", str(md_dir),
                 "-o", str(out)]) == 0
    assert len(pd.read_csv(out)) == 1
    # bad option -> one-line error from the dispatcher
    assert main(["md", "run", str(inputs / "NaCl.vasp"), "--ensemble", "nvt-nose-hoover",
                 "--save-every", "0", "-o", str(md_dir)]) == 2
    assert "save_every must be >= 1" in capsys.readouterr().err


def test_cli_options_reach_the_md_and_analysis_settings():
    """--rotor-species, --npt-equilibration-ps, --pressure-GPa, --reference-time-ps and
    --analysis-preset become MDSettings / AnalysisSettings fields (label md has both)."""
    from mlkit.cli import build_parser
    from mlkit.cli.md import analysis_settings_from_args, settings_from_args

    args = build_parser().parse_args([
        "label", "md", "x.cif", "-o", "out.csv", "--rotor-species", "PS4,P2S6",
        "--npt-equilibration-ps", "2", "--pressure-GPa", "0.5", "--reference-time-ps", "30",
        "--confidence", "0.9", "--analysis-preset", "phonon-paper", "--phi-axis", "y"])
    md = settings_from_args(args)
    assert md.rotor_species == ["PS4", "P2S6"] and md.npt_equilibration_ps == 2.0
    assert md.pressure_GPa == 0.5
    an = analysis_settings_from_args(args)
    assert an.rotor_species == ("PS4", "P2S6") and an.reference_time_ps == 30.0
    assert an.confidence == 0.9 and an.orientation_phi_axis == "y"
    assert an.diffusivity_fit == "zero_intercept"  # from the preset


def test_analyze_run_cut_and_curves(inputs, tmp_path):
    """A cut analyses the first frames only, exactly as the sliced trajectory would be."""
    from mlkit.analysis import analyze_trajectory
    from mlkit.labels.md import analyze_run, find_run_dirs
    from mlkit.md import TrajectoryStore

    run_md_structures([inputs / "NaCl.vasp"], tmp_path / "md", settings(), progress=False)
    run_dir = find_run_dirs(tmp_path / "md")[0]
    full, curves = analyze_run(run_dir, return_curves=True)
    assert full["production_ps"] == pytest.approx(0.1) and "run_production_ps" not in full
    assert len(curves["lag_ps"]) == full["n_frames"] == 26
    cut, cut_curves = analyze_run(run_dir, production_ps=0.08, return_curves=True)
    assert cut["status"] == "done", cut["error"]
    assert cut["n_frames"] == 21
    assert cut["production_ps"] == pytest.approx(0.08)
    assert cut["run_production_ps"] == pytest.approx(0.1)
    assert len(cut_curves["lag_ps"]) == 21
    store = TrajectoryStore(run_dir)
    traj = store.read()
    oracle = analyze_trajectory(traj["positions_A"][:21], traj["species"], traj["cell_A"][0],
                                4.0, 300.0, [], [], velocities_A_fs=traj["velocities_A_fs"][:21],
                                site_positions_A=store.read_initial().cart_coords)
    assert cut["msd_mobile_A2"] == pytest.approx(oracle["msd_mobile_A2"])
    assert cut["msd_mobile_A2"] != pytest.approx(full["msd_mobile_A2"])
    pd.testing.assert_series_equal(pd.Series(analyze_run(run_dir)), pd.Series(full))
    bad = analyze_run(run_dir, production_ps=1.0)
    assert bad["status"] == "error" and "outside the stored 0.1 ps" in bad["error"]
    assert analyze_run(run_dir, production_ps=1.0, return_curves=True)[1] == {}
