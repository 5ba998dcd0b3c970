"""constraint_contributions on hand-computed numbers (li2025 eqs 4-6)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mlkit.analysis import constraint_contributions


def test_all_measurable_hand_computed():
    # UC 100, RC 10, RTC 5, RTVC 0.5 mS/cm: deltas 1, log10(2) = 0.30103, 1
    res = constraint_contributions({"UC": 100.0, "rc": 10.0, "rtc": 5.0, "rtvc": 0.5})
    assert res["delta_rot"] == pytest.approx(1.0)
    assert res["delta_trs"] == pytest.approx(0.30103, abs=1e-5)
    assert res["delta_vib"] == pytest.approx(1.0)
    assert res["delta_sum"] == pytest.approx(2.30103, abs=1e-5)
    assert res["r_rot"] == pytest.approx(1 / 2.30103, rel=1e-5)  # 0.43459
    assert res["r_trs"] == pytest.approx(0.130825, rel=1e-4)
    assert res["r_rot"] + res["r_trs"] + res["r_vib"] == pytest.approx(1.0)
    assert res["ratios_determined"]
    assert {res[f"status_{n}"] for n in ("rot", "trs", "vib")} == {"measured"}
    assert not any(res["floored"].values())


def test_rtvc_below_floor_uses_the_D_floor_and_flags_it():
    # sigma / D = 1e6 (mS/cm)/(cm2/s) for every mode; RTVC D = 1e-10 < 1e-8
    d = {"uc": 1e-5, "rc": 1e-6, "rtc": 1e-7, "rtvc": 1e-10}
    sigma = {k: v * 1e6 for k, v in d.items()}  # 10, 1, 0.1, 1e-4 mS/cm
    res = constraint_contributions(sigma, diffusivity_by_mode=d)
    assert res["floored"] == {"uc": False, "rc": False, "rtc": False, "rtvc": True}
    assert res["sigma_floor_mS_cm"] == pytest.approx(1e-2)  # D = 1e-8 -> 0.01 mS/cm
    assert res["sigma_used_mS_cm"]["rtvc"] == pytest.approx(1e-2)
    assert res["delta_vib"] == pytest.approx(1.0)  # log10(0.1) - log10(0.01), not 3
    assert res["status_vib"] == "lower_bound" and res["status_rot"] == "measured"
    assert not res["ratios_determined"]


def test_zero_sigma_with_explicit_floor_and_both_floored():
    res = constraint_contributions({"uc": 1.0, "rc": 0.1, "rtc": 0.0, "rtvc": float("nan")},
                                   sigma_floor_mS_cm=0.01)
    assert res["delta_trs"] == pytest.approx(1.0)
    assert res["status_trs"] == "lower_bound"
    assert res["delta_vib"] == 0.0 and res["status_vib"] == "undetermined"
    # an upper bound: the first mode floored, the subtracted one measured
    up = constraint_contributions({"uc": 0.0, "rc": 1.0, "rtc": 0.5, "rtvc": 0.1},
                                  sigma_floor_mS_cm=0.1)
    assert up["status_rot"] == "upper_bound" and up["delta_rot"] == pytest.approx(-1.0)


def test_bad_input_one_line_errors():
    with pytest.raises(ValueError, match="missing \\['rtvc'\\]") as e:
        constraint_contributions({"uc": 1, "rc": 1, "rtc": 1})
    assert "\n" not in str(e.value)
    with pytest.raises(ValueError, match="unknown \\['xx'\\]"):
        constraint_contributions({"uc": 1, "rc": 1, "rtc": 1, "rtvc": 1, "xx": 2})
    with pytest.raises(ValueError, match="no floor"):
        constraint_contributions({"uc": 1, "rc": 1, "rtc": 1, "rtvc": 0})
    assert math.isnan(constraint_contributions(
        {"uc": 1, "rc": 1, "rtc": 1, "rtvc": 1})["r_rot"])


def test_contribution_intervals_cover_the_exact_deltas():
    from mlkit.analysis.constraints import contribution_intervals

    # D halves twice and falls 10x: Delta_rot = 0.301, Delta_trs = 0.301, Delta_vib = 1
    d = {"uc": (4e-5, 3e-5, 5.3e-5), "rc": (2e-5, 1.5e-5, 2.7e-5),
         "rtc": (1e-5, 0.75e-5, 1.33e-5), "rtvc": (1e-6, 0.75e-6, 1.33e-6)}
    out = contribution_intervals(d)
    for name, want in (("rot", 0.301), ("trs", 0.301), ("vib", 1.0)):
        assert out[f"delta_{name}_low"] < want < out[f"delta_{name}_high"]
        assert out[f"delta_{name}"] == pytest.approx(want, abs=0.02)
        assert out[f"status_{name}"] == "measured"
    assert out["r_vib"] == pytest.approx(1.0 / 1.602, abs=0.03)
    # RTVC below its floor: the floor is used and Delta_vib becomes a lower bound
    d["rtvc"] = (1e-9, 0.0, 4e-9)
    out = contribution_intervals(d, floor_by_mode={"rtvc": 1e-7})
    assert out["floored"]["rtvc"] and out["status_vib"] == "lower_bound"
    assert out["delta_vib"] == pytest.approx(2.0, abs=0.05)
    assert not out["ratios_determined"] and np.isnan(out["r_rot"])
    d["rtc"] = (1e-9, 0.0, 4e-9)  # RTC and RTVC both floored: Delta_vib has no value
    out = contribution_intervals(d, floor_by_mode={"rtc": 1e-7, "rtvc": 1e-7})
    assert out["status_vib"] == "undetermined" and np.isnan(out["delta_vib"])
