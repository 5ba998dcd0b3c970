"""Featurization speed of this tree against an earlier commit, in the same run.

Both trees featurize the same structures (first N phonondb_na files, default groups, one
process, no cache) in fresh subprocesses, interleaved A B A B ...; the ratio of CPU times
per pair cancels most of the machine's load. The earlier tree is checked out into a
temporary git worktree.

Usage: python experiments/refactor_featurize_speed.py [--base 2ca35be] [--n 150] [--pairs 3]
Writes experiments/results/refactor/featurize_speed.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "datasets" / "phonondb_na" / "structures"
OUT = ROOT / "experiments" / "results" / "refactor"

CHILD = r"""
import resource, sys, time, glob, warnings
warnings.filterwarnings("ignore")
from mlkit.features import featurize_paths
files = sorted(glob.glob(sys.argv[1] + "/*.vasp"))[: int(sys.argv[2])]
t0, c0 = time.perf_counter(), time.process_time()
df = featurize_paths(files, n_jobs=1, use_cache=False, progress=False)
n_err = int(df["error"].astype(bool).sum())
print(time.perf_counter() - t0, time.process_time() - c0, len(df), n_err)
"""


def run(tree: Path, n: int) -> tuple[float, float]:
    env = {**os.environ, "PYTHONPATH": str(tree), "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", CHILD, str(DATA), str(n)], cwd=tree, env=env,
                         capture_output=True, text=True, check=True).stdout.split()
    return float(out[0]), float(out[1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", default="2ca35be")
    ap.add_argument("--n", type=int, default=150)
    ap.add_argument("--pairs", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "base"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(base),
                        args.base], check=True, capture_output=True)
        try:
            pairs = []
            for _ in range(args.pairs):
                wa, ca = run(base, args.n)
                wb, cb = run(ROOT, args.n)
                pairs.append({"base_wall_s": wa, "base_cpu_s": ca, "new_wall_s": wb,
                              "new_cpu_s": cb, "cpu_ratio_new_over_base": cb / ca})
                print(pairs[-1], flush=True)
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(base)],
                           check=False, capture_output=True)
    ratios = sorted(p["cpu_ratio_new_over_base"] for p in pairs)
    result = {"base": args.base, "n_structures": args.n, "pairs": pairs,
              "median_cpu_ratio": ratios[len(ratios) // 2], "load": os.getloadavg()}
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "featurize_speed.json").write_text(json.dumps(result, indent=1))
    print(json.dumps({k: v for k, v in result.items() if k != "pairs"}))


if __name__ == "__main__":
    main()
