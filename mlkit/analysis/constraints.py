"""Contributions of anion rotation, translation and vibration to conductivity (li2025).

From the conductivities of the same structure and temperature under the four
constraint modes of :mod:`mlkit.md.constraints` (UC, RC, RTC, RTVC)::

    Delta_Rot = log10 s_UC  - log10 s_RC
    Delta_Trs = log10 s_RC  - log10 s_RTC
    Delta_Vib = log10 s_RTC - log10 s_RTVC
    r_mode    = Delta_mode / (Delta_Rot + Delta_Trs + Delta_Vib)

Not measurable: a tracer diffusivity below ``floor_cm2_s`` (1e-8 cm^2/s, the paper's
limit) is not a measurement. Such a mode's conductivity is replaced by the floor
conductivity, i.e. the Nernst-Einstein conductivity at ``D = floor_cm2_s``. Because all
four runs share structure, temperature and carrier density, sigma is proportional to D,
so the floor conductivity is ``floor_cm2_s * sigma / D`` of any measurable mode (or
``sigma_floor_mS_cm`` when given). The replaced modes are flagged, and each Delta gets a
status: ``"measured"``; ``"lower_bound"`` (the subtracted mode was floored: the true
value is larger); ``"upper_bound"`` (the first mode was floored); ``"undetermined"``
(both floored). The ratios ``r_mode`` are only meaningful when ``ratios_determined``
(all four modes measurable, as in the paper, which leaves them out otherwise).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

MODES = ("uc", "rc", "rtc", "rtvc")
_DELTAS = (("rot", "uc", "rc"), ("trs", "rc", "rtc"), ("vib", "rtc", "rtvc"))


def _finite_positive(x: float | None) -> bool:
    return x is not None and math.isfinite(x) and x > 0


def constraint_contributions(
    sigma_by_mode: Mapping[str, float],
    *,
    diffusivity_by_mode: Mapping[str, float] | None = None,
    floor_cm2_s: float = 1e-8,
    sigma_floor_mS_cm: float | None = None,
) -> dict[str, Any]:
    """Delta_Rot, Delta_Trs, Delta_Vib and their ratios from four conductivities.

    Parameters
    ----------
    sigma_by_mode : mapping
        Conductivity (mS/cm) for each of ``"uc", "rc", "rtc", "rtvc"`` (case-insensitive).
        NaN, zero or negative means not measurable.
    diffusivity_by_mode : mapping, optional
        Tracer diffusivity (cm^2/s) per mode; a mode with ``D < floor_cm2_s`` is not
        measurable. Also gives the floor conductivity (module docstring).
    floor_cm2_s : float
        Smallest measurable diffusivity.
    sigma_floor_mS_cm : float, optional
        Floor conductivity when no diffusivities are given (or to override them).

    Returns
    -------
    dict
        ``delta_rot, delta_trs, delta_vib`` (decades), ``delta_sum``, ``r_rot, r_trs,
        r_vib``, ``status_rot/trs/vib``, ``floored`` (mode -> bool), ``sigma_used_mS_cm``
        (mode -> value used), ``sigma_floor_mS_cm``, ``ratios_determined``.

    Raises
    ------
    ValueError
        Missing or unknown modes, or a not-measurable mode with no floor to use.
    """
    sigma = {str(k).lower(): float(v) for k, v in sigma_by_mode.items()}
    unknown = sorted(set(sigma) - set(MODES))
    missing = [m for m in MODES if m not in sigma]
    if unknown or missing:
        raise ValueError(f"sigma_by_mode needs keys {', '.join(MODES)}; "
                         f"missing {missing or '-'}, unknown {unknown or '-'}")
    diff = {str(k).lower(): float(v) for k, v in (diffusivity_by_mode or {}).items()}
    measurable = {m: _finite_positive(sigma[m])
                  and (m not in diff or (math.isfinite(diff[m]) and diff[m] >= floor_cm2_s))
                  for m in MODES}
    floor = sigma_floor_mS_cm
    if floor is None:
        ratios = [sigma[m] / diff[m] for m in MODES
                  if measurable[m] and m in diff and diff[m] > 0]
        if ratios:
            floor = floor_cm2_s * ratios[0]
    if not all(measurable.values()) and not _finite_positive(floor):
        bad = [m for m in MODES if not measurable[m]]
        raise ValueError(f"modes {', '.join(bad)} are not measurable and there is no floor "
                         "conductivity: pass diffusivity_by_mode or sigma_floor_mS_cm")
    used = {m: sigma[m] if measurable[m] else float(floor) for m in MODES}
    floored = {m: not measurable[m] for m in MODES}
    out: dict[str, Any] = {}
    for name, a, b in _DELTAS:
        out[f"delta_{name}"] = math.log10(used[a]) - math.log10(used[b])
        if floored[a] and floored[b]:
            status = "undetermined"
        elif floored[b]:
            status = "lower_bound"
        elif floored[a]:
            status = "upper_bound"
        else:
            status = "measured"
        out[f"status_{name}"] = status
    total = sum(out[f"delta_{n}"] for n, _, _ in _DELTAS)
    out["delta_sum"] = total
    for name, _, _ in _DELTAS:
        out[f"r_{name}"] = out[f"delta_{name}"] / total if total != 0 else float("nan")
    out["floored"] = floored
    out["sigma_used_mS_cm"] = used
    out["sigma_floor_mS_cm"] = float(floor) if floor is not None else float("nan")
    out["ratios_determined"] = not any(floored.values()) and total != 0
    return out


def contribution_intervals(
    diffusivity_by_mode: Mapping[str, tuple[float, float, float]],
    *,
    floor_by_mode: Mapping[str, float] | None = None,
    confidence: float = 0.95,
    n_samples: int = 4000,
    seed: int = 0,
) -> dict[str, Any]:
    """Delta_mode and r_mode with intervals, from each mode's D and its interval.

    The four runs share structure, temperature and carrier density, so sigma is
    proportional to D and the Deltas are log10 ratios of diffusivities. Each mode's
    log10 D is sampled from a normal distribution whose spread matches its interval
    (``(value, low, high)`` at ``confidence``, half-widths in log10 averaged; a low end
    <= 0 uses the high side only); a D below its floor (``floor_by_mode``, e.g. the run's
    :func:`mlkit.analysis.reference.diffusivity_floor_cm2_s`) is replaced by the floor and
    the Deltas it enters are flagged as bounds, as in :func:`constraint_contributions`.

    Returns
    -------
    dict
        ``delta_<m>``, ``delta_<m>_low``, ``delta_<m>_high``, ``r_<m>``, ``r_<m>_low``,
        ``r_<m>_high`` for m in rot, trs, vib, plus ``status_<m>``, ``floored`` and
        ``ratios_determined``. An "undetermined" Delta (both modes at their floors) is NaN;
        the ratios are NaN unless all four modes are measured (as in the paper).
    """
    import numpy as np
    from scipy.stats import norm

    d = {str(k).lower(): tuple(float(x) for x in v) for k, v in diffusivity_by_mode.items()}
    missing = [m for m in MODES if m not in d]
    if missing:
        raise ValueError(f"diffusivity_by_mode needs keys {', '.join(MODES)}; missing {missing}")
    floors = {str(k).lower(): float(v) for k, v in (floor_by_mode or {}).items()}
    z = float(norm.ppf(0.5 + confidence / 2.0))
    rng = np.random.default_rng(seed)
    samples, floored = {}, {}
    for m in MODES:
        value, low, high = d[m]
        floor = floors.get(m, 0.0)
        floored[m] = not (math.isfinite(value) and value > max(floor, 0.0))
        centre = max(value, floor) if floored[m] else value
        if not centre > 0:
            raise ValueError(f"mode {m}: D = {value} and no positive floor")
        widths = [np.log10(high / centre)] if high > 0 else []
        if low > 0:
            widths.append(np.log10(centre / low))
        sd = float(np.mean(widths)) / z if widths and not floored[m] else 0.0
        samples[m] = np.log10(centre) + sd * rng.standard_normal(n_samples)
    q = [50 * (1 - confidence), 50 * (1 + confidence)]
    nan = float("nan")
    out: dict[str, Any] = {"floored": floored}
    deltas = {}
    for name, a, b in _DELTAS:
        deltas[name] = samples[a] - samples[b]
        point = float(np.median(deltas[name]))
        lo, hi = np.percentile(deltas[name], q)
        out.update({f"delta_{name}": point, f"delta_{name}_low": float(lo),
                    f"delta_{name}_high": float(hi)})
        out[f"status_{name}"] = ("undetermined" if floored[a] and floored[b] else
                                 "lower_bound" if floored[b] else
                                 "upper_bound" if floored[a] else "measured")
    for name, _, _ in _DELTAS:  # both modes at their floors: no value, only the status
        if out[f"status_{name}"] == "undetermined":
            out.update({f"delta_{name}": nan, f"delta_{name}_low": nan,
                        f"delta_{name}_high": nan})
    out["ratios_determined"] = not any(floored.values())
    total = sum(deltas.values())
    for name in deltas:
        if not out["ratios_determined"]:  # ratios only when every mode is measured
            out.update({f"r_{name}": nan, f"r_{name}_low": nan, f"r_{name}_high": nan})
            continue
        with np.errstate(divide="ignore", invalid="ignore"):
            r = deltas[name] / total
        r = r[np.isfinite(r)]
        lo, hi = np.percentile(r, q) if len(r) else (float("nan"), float("nan"))
        out.update({f"r_{name}": float(np.median(r)) if len(r) else float("nan"),
                    f"r_{name}_low": float(lo), f"r_{name}_high": float(hi)})
    return out
