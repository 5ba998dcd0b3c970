"""Benchmark: exhaustive logistic-regression subset search (issue 4).

Seeded synthetic data shaped like the rotation paper's table (99 samples x 19
features, ~46 % positives, correlated features, signal in 8 of them). Measured in
ONE run (the machine is shared, so read the ratios):

1. the full search (all 524,287 subsets x 10 folds) with ``n_jobs=2`` and ``n_jobs=1``:
   wall time, CPU time, peak RSS;
2. the plain scikit-learn loop (StandardScaler + LogisticRegression per fold, one
   BLAS/OpenMP thread) on a random sample of subsets, default ``tol=1e-4`` and
   converged ``tol=1e-10``: time per subset -> extrapolated full time and ratio;
3. a re-implementation of the torch prototype (batched Newton on all 19 columns,
   excluded features zeroed) on a sample of subsets -> extrapolated time and ratio;
4. agreement with converged scikit-learn on random subsets: largest coefficient
   difference relative to the coefficient scale, differing test predictions,
   differing F1; and how many subsets differ with scikit-learn's default tol;
5. the Dask path (LocalCluster, 2 worker processes) on the full table: identical?

Writes experiments/results/subsets/benchmark.json (+ summary tables, the curve PNG)
and prints a summary. Usage::

    python experiments/subset_search_benchmark.py [--quick] [--search-only]

``--search-only`` runs step 1 alone (the two timed full searches) and writes
``benchmark_search_only.json``, leaving the full benchmark's files untouched.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd

from mlkit.models.subsets import exhaustive_subset_search, make_folds, subset_fold_fits

OUT = Path(__file__).resolve().parent / "results" / "subsets"


def paper_like_data(n: int = 99, p: int = 19, n_signal: int = 8, seed: int = 7):
    """Correlated features (3 latent factors + noise, mixed scales), ~46 % positives."""
    rng = np.random.default_rng(seed)
    latent = rng.normal(size=(n, 3))
    load = rng.normal(size=(3, p)) * rng.uniform(0.2, 0.9, size=p)
    Z = latent @ load + rng.normal(size=(n, p)) * 0.7
    scale = 10 ** rng.uniform(-2, 2, size=p)
    X = Z * scale + rng.normal(size=p) * scale
    w = np.zeros(p)
    w[rng.choice(p, n_signal, replace=False)] = rng.normal(size=n_signal) * 1.2
    logit = (Z - Z.mean(0)) / Z.std(0) @ w
    noisy = logit + rng.normal(size=n) * 1.5
    y = (noisy > np.quantile(noisy, 0.54)).astype(int)
    return pd.DataFrame(X, columns=[f"f{j:02d}" for j in range(p)]), y


class PeakRSS:
    """Sample this process's RSS every 20 ms (psutil) to get the peak of a code block."""

    def __init__(self) -> None:
        import psutil

        self.proc = psutil.Process()
        self.peak = 0
        self._stop = threading.Event()

    def __enter__(self):
        self.base = self.proc.memory_info().rss
        self.peak = self.base
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()
        return self

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self.proc.memory_info().rss)
            time.sleep(0.02)

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join()


def timed_search(X, y, **kw):
    cpu0, t0 = time.process_time(), time.perf_counter()
    with PeakRSS() as mem:
        res = exhaustive_subset_search(X, y, **kw)
        table = res.table
    return (
        res,
        table,
        {
            "wall_s": time.perf_counter() - t0,
            "cpu_s": time.process_time() - cpu0,
            "peak_rss_MiB": mem.peak / 2**20,
            "rss_increase_MiB": (mem.peak - mem.base) / 2**20,
        },
    )


def sklearn_loop(X, y, masks, tol, folds, solver="lbfgs"):
    """The plain loop a user would write; returns per-subset fold predictions, coefs, time."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score
    from sklearn.preprocessing import StandardScaler

    Xa = X.to_numpy()
    p = Xa.shape[1]
    F = len(folds)
    nte = max(len(b) for _, b in folds)
    coef = np.zeros((len(masks), F, p + 1))
    pred = np.full((len(masks), F, nte), -1, np.int8)
    f1 = np.zeros((len(masks), F))
    n_iter = np.zeros((len(masks), F), np.int32)
    t0 = time.perf_counter()
    for i, m in enumerate(masks):
        cols = [j for j in range(p) if (int(m) >> j) & 1]
        for f, (tr, te) in enumerate(folds):
            sc = StandardScaler().fit(Xa[np.ix_(tr, cols)])
            lr = LogisticRegression(C=1.0, tol=tol, max_iter=10000, solver=solver)
            lr.fit(sc.transform(Xa[np.ix_(tr, cols)]), y[tr])
            pr = lr.predict(sc.transform(Xa[np.ix_(te, cols)]))
            coef[i, f, cols] = lr.coef_[0]
            coef[i, f, p] = lr.intercept_[0]
            pred[i, f, : len(te)] = pr
            f1[i, f] = f1_score(y[te], pr)
            n_iter[i, f] = lr.n_iter_[0]
    return {
        "coef": coef,
        "pred": pred,
        "f1": f1,
        "n_iter": n_iter,
        "time_s": time.perf_counter() - t0,
    }


def sklearn_parallel(X, y, masks, tol, folds, n_jobs=2, parts=8, solver="lbfgs"):
    from joblib import Parallel, delayed

    pieces = np.array_split(np.asarray(masks), parts)
    outs = Parallel(n_jobs=n_jobs)(delayed(_sk_piece)(X, y, m, tol, folds, solver) for m in pieces)
    return {k: np.concatenate([o[k] for o in outs]) for k in ("coef", "pred", "f1", "n_iter")}


def _sk_piece(X, y, masks, tol, folds, solver):
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        return sklearn_loop(X, y, masks, tol, folds, solver)


def torch_prototype(data, masks, C=1.0, tol=1e-10, batch=4096, max_iter=30, n_threads=1):
    """The reference prototype's shape: batched Newton on all columns, excluded ones zeroed.

    Written efficiently: the Hessians of a whole batch are one GEMM ``W @ XX`` with
    ``XX[i] = outer(x_i, x_i)`` precomputed per fold, then masked by ``sel sel^T``.
    """
    import torch

    torch.set_num_threads(n_threads)
    p = data.n_features
    t0 = time.perf_counter()
    iters = []
    for f in range(data.n_folds):
        n = int(data.ntr[f])
        Xf = torch.from_numpy(np.ascontiguousarray(data.Xtr[f][:, :n].T))  # (n, p+1), last = 1
        XX = (Xf[:, :, None] * Xf[:, None, :]).reshape(n, -1)  # (n, (p+1)^2)
        yf = torch.from_numpy(data.ytr[f, :n])
        pen = torch.full((p + 1,), 1.0 / C, dtype=torch.float64)
        pen[p] = 0.0
        for s in range(0, len(masks), batch):
            mb = masks[s : s + batch]
            B = len(mb)
            sel = torch.from_numpy(((mb[:, None] >> np.arange(p)) & 1).astype(np.float64))
            sel = torch.cat([sel, torch.ones(B, 1, dtype=torch.float64)], 1)  # (B, p+1)
            outer = sel[:, :, None] * sel[:, None, :]
            fill = torch.diag_embed(1.0 - sel + pen * sel)  # penalty + keeps excluded rows solvable
            beta = torch.zeros(B, p + 1, dtype=torch.float64)
            for it in range(max_iter):  # noqa: B007 (last value reported)
                eta = beta @ Xf.T  # (B, n); excluded coefficients stay exactly 0
                pr = torch.sigmoid(eta)
                g = ((pr - yf) @ Xf) * sel + pen * beta
                if (g.abs().amax(1) / n).max() <= tol:
                    break
                H = ((pr * (1 - pr)) @ XX).reshape(B, p + 1, p + 1) * outer + fill
                beta = beta - torch.linalg.solve(H, g)
            iters.append(it)
    return time.perf_counter() - t0, int(max(iters))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller samples (smoke run)")
    ap.add_argument("--no-dask", action="store_true")
    ap.add_argument("--search-only", action="store_true",
                    help="only the timed fast-path searches (step 1)")
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    X, y = paper_like_data()
    p = X.shape[1]
    n_sub = 2**p - 1
    n_timing = 300 if args.quick else 2000
    n_agree = 600 if args.quick else 5000
    report: dict = {
        "data": {
            "n_samples": len(y),
            "n_features": p,
            "positive_fraction": float(y.mean()),
            "n_subsets": n_sub,
            "cv": 10,
        },
        "machine": {"cpus": os.cpu_count(), "loadavg_start": os.getloadavg()},
    }
    print(f"data: {len(y)} x {p}, {y.mean():.2f} positives, {n_sub:,} subsets x 10 folds")

    # warm-up: numba compile / cache load, outside the timings
    exhaustive_subset_search(X.iloc[:, :4], y, progress=False)

    res, table, t2 = timed_search(X, y, n_jobs=2, progress=True)
    print(
        f"fast path, 2 threads: {t2['wall_s']:.1f} s wall, {t2['cpu_s']:.1f} s CPU, "
        f"peak RSS {t2['peak_rss_MiB']:.0f} MiB, non-converged {res.n_not_converged}"
    )
    _, table1, t1 = timed_search(X, y, n_jobs=1, progress=False)
    print(f"fast path, 1 thread : {t1['wall_s']:.1f} s wall, {t1['cpu_s']:.1f} s CPU")
    assert table1.equals(table), "1-thread and 2-thread tables differ"
    report["fast"] = {
        "n_jobs_2": t2,
        "n_jobs_1": t1,
        "n_not_converged": int(res.n_not_converged),
        "newton_iter_max_hist": {
            int(k): int(v) for k, v in table["n_iter_max"].value_counts().items()
        },
        "rusage_maxrss_MiB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }

    if args.search_only:
        report["machine"]["loadavg_end"] = os.getloadavg()
        (OUT / "benchmark_search_only.json").write_text(json.dumps(report, indent=1))
        print(f"wrote {OUT / 'benchmark_search_only.json'}")
        return 0

    # outputs people look at
    res.to_parquet(OUT / "subsets_table.parquet")  # not committed (~20 MB); regenerate
    res.best_by_size.to_csv(OUT / "best_by_size.csv", index=False)
    res.size_summary.to_csv(OUT / "size_summary.csv", index=False)
    res.top(100).to_csv(OUT / "top100.csv", index=False)
    res.plot_curve(
        OUT / "f1_vs_n_features.png",
        title="Synthetic 99 x 19 (paper-shaped): F1 vs number of features",
    )
    best = res.best
    report["best"] = {
        "n_features": int(best["n_features"]),
        "f1_mean": float(best["f1_mean"]),
        "features": res.features_of(int(best["bitmask"])),
    }

    # scikit-learn loop on random subsets (same folds), single BLAS/OpenMP thread
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(123)
    sample = np.sort(rng.choice(np.arange(1, n_sub + 1), size=n_agree, replace=False))
    timing = sample[rng.permutation(len(sample))[:n_timing]]
    data = make_folds(X, y, cv=10, seed=0)
    folds = list(zip(data.train_index, data.test_index, strict=True))
    with threadpool_limits(1):
        sk_def_t = sklearn_loop(X, y, timing, 1e-4, folds)
        sk_conv_t = sklearn_loop(X, y, timing, 1e-10, folds)
    per_def = sk_def_t["time_s"] / len(timing)
    per_conv = sk_conv_t["time_s"] / len(timing)
    sk = {
        "n_timing_subsets": int(len(timing)),
        "per_subset_ms_default_tol": per_def * 1e3,
        "per_subset_ms_converged": per_conv * 1e3,
        "extrapolated_full_s_default_tol": per_def * n_sub,
        "extrapolated_full_s_converged": per_conv * n_sub,
        "ratio_default_tol_vs_fast_2threads": per_def * n_sub / t2["wall_s"],
        "ratio_converged_vs_fast_2threads": per_conv * n_sub / t2["wall_s"],
        "ratio_default_tol_vs_fast_1thread": per_def * n_sub / t1["wall_s"],
        "ratio_default_tol_cpu_per_cpu": per_def * n_sub / t1["cpu_s"],
    }
    report["sklearn_loop"] = sk
    print(
        f"sklearn loop: {per_def * 1e3:.1f} ms/subset (tol 1e-4), "
        f"{per_conv * 1e3:.1f} ms (tol 1e-10)"
        f" -> full {per_def * n_sub / 3600:.2f} h / {per_conv * n_sub / 3600:.2f} h; "
        f"ratio {sk['ratio_default_tol_vs_fast_2threads']:.0f}x (2 thr), "
        f"{sk['ratio_default_tol_vs_fast_1thread']:.0f}x (1 thr)"
    )

    # torch prototype shape on a sample, extrapolated
    proto_n = 8192 if not args.quick else 2048
    proto_masks = np.sort(rng.choice(np.arange(1, n_sub + 1), size=proto_n, replace=False))
    proto_s, proto_iter = torch_prototype(data, proto_masks)
    report["torch_prototype"] = {
        "n_subsets": proto_n,
        "time_s": proto_s,
        "max_newton_iter": proto_iter,
        "extrapolated_full_s": proto_s / proto_n * n_sub,
        "ratio_vs_fast_2threads": proto_s / proto_n * n_sub / t2["wall_s"],
    }
    print(
        f"torch prototype (1 thread, faster than 2 here): "
        f"{proto_s / proto_n * n_sub:.0f} s extrapolated, "
        f"ratio {report['torch_prototype']['ratio_vs_fast_2threads']:.1f}x"
    )

    # agreement on n_agree random subsets: the timing runs cover part, the rest in 2 processes
    rest = np.setdiff1d(sample, timing)
    conv_rest = sklearn_parallel(X, y, rest, 1e-10, folds)
    def_rest = sklearn_parallel(X, y, rest, 1e-4, folds)
    order = np.argsort(np.r_[timing, rest])
    conv = {k: np.concatenate([sk_conv_t[k], conv_rest[k]])[order] for k in conv_rest}
    dflt = {k: np.concatenate([sk_def_t[k], def_rest[k]])[order] for k in def_rest}
    ours = subset_fold_fits(X, y, sample, cv=10, seed=0, n_jobs=2)
    nte = data.nte
    valid = np.arange(ours["decision"].shape[2])[None, None, :] < nte[None, :, None]
    our_pred = np.where(valid, (ours["decision"] > 0).astype(np.int8), -1)
    scale = np.abs(conv["coef"]).max(axis=2)
    rel = np.abs(ours["coef"] - conv["coef"]).max(axis=2) / scale
    tab = table.set_index("bitmask").loc[sample.astype(np.uint32)]
    agree = {
        "n_subsets": int(len(sample)),
        "max_coef_diff_rel_to_scale": float(rel.max()),
        "max_coef_diff_abs": float(np.abs(ours["coef"] - conv["coef"]).max()),
        "n_differing_test_predictions": int((our_pred != conv["pred"]).sum()),
        "n_subsets_with_differing_predictions": int(
            (our_pred != conv["pred"]).any(axis=(1, 2)).sum()
        ),
        "n_subsets_with_differing_fold_f1": int((ours["f1"] != conv["f1"]).any(axis=1).sum()),
        "n_subsets_table_f1_mean_differs": int(
            (tab["f1_mean"].to_numpy() != conv["f1"].mean(1)).sum()
        ),
        "sklearn_converged_max_n_iter": int(conv["n_iter"].max()),
    }
    dpred = dflt["pred"] != conv["pred"]
    rel_def = np.abs(dflt["coef"] - conv["coef"]).max(axis=2) / scale
    default = {
        "n_subsets_with_differing_predictions": int(dpred.any(axis=(1, 2)).sum()),
        "n_differing_test_predictions": int(dpred.sum()),
        "n_subsets_with_differing_mean_f1": int((dflt["f1"].mean(1) != conv["f1"].mean(1)).sum()),
        "max_coef_diff_rel_to_scale": float(rel_def.max()),
        "median_coef_diff_rel_to_scale": float(np.median(rel_def)),
        "median_n_iter_default": float(np.median(dflt["n_iter"])),
        "median_n_iter_converged": float(np.median(conv["n_iter"])),
    }
    # how close to the boundary are the flipped test samples (converged decision value)?
    if dpred.any():
        dec = ours["decision"][dpred]
        default["max_abs_converged_decision_of_flipped"] = float(np.abs(dec).max())
    # a second oracle that converges fully: scikit-learn's newton-cholesky solver
    nc = sklearn_parallel(X, y, sample, 1e-10, folds, solver="newton-cholesky")
    agree["newton_cholesky_max_coef_diff_rel_to_scale"] = float(
        (np.abs(ours["coef"] - nc["coef"]).max(axis=2) / scale).max()
    )
    agree["newton_cholesky_n_differing_test_predictions"] = int((our_pred != nc["pred"]).sum())
    agree["lbfgs_vs_newton_cholesky_max_coef_diff_rel"] = float(
        (np.abs(conv["coef"] - nc["coef"]).max(axis=2) / scale).max()
    )
    report["agreement_converged"] = agree
    report["default_tol"] = default
    print("agreement with converged sklearn:", json.dumps(agree))
    print("default tol=1e-4 sklearn vs converged:", json.dumps(default))

    if not args.no_dask:
        from distributed import Client, LocalCluster

        with (
            LocalCluster(
                n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
            ) as cluster,
            Client(cluster) as client,
        ):
            client.run(lambda: exhaustive_subset_search(X.iloc[:, :4], y, progress=False))  # warm
            t0 = time.perf_counter()
            dres = exhaustive_subset_search(X, y, dask_client=client, progress=False)
            dask_s = time.perf_counter() - t0
            identical = bool(dres.table.equals(table))
        report["dask"] = {
            "workers": 2,
            "processes": True,
            "wall_s": dask_s,
            "identical_table": identical,
            "n_rows": len(dres.table),
        }
        print(f"dask LocalCluster (2 processes): {dask_s:.1f} s, identical table: {identical}")

    report["machine"]["loadavg_end"] = os.getloadavg()
    (OUT / "benchmark.json").write_text(json.dumps(report, indent=1, default=float))
    print(f"wrote {OUT / 'benchmark.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
