#!/usr/bin/env bash
# Install size and time of mlkit and each extra, each in a fresh venv (issue 13).
#
#   experiments/install_size.sh AFTER_TREE BEFORE_TREE > results.tsv
#
# AFTER_TREE / BEFORE_TREE: source trees (e.g. `git archive <commit> | tar -x -C DIR`).
# Columns: config, pip exit code, wall seconds, venv size in MB (du -sm), xgboost/nvidia
# distributions present. Times depend on pip's cache (the first install is cold).
set -u
A=$1; B=$2
measure() {
  local name=$1 src=$2 spec=$3 pre=${4:-}
  local v
  v=$(mktemp -d)/venv
  python3 -m venv "$v"
  local t0 t1
  t0=$(date +%s.%N)
  if [ -n "$pre" ]; then (cd "$src" && nice -n 10 "$v/bin/pip" install -q $pre) >&2; fi
  (cd "$src" && nice -n 10 "$v/bin/pip" install -q $spec) >&2
  local rc=$?
  t1=$(date +%s.%N)
  printf "%s\t%s\t%.0f\t%s\t%s\n" "$name" "$rc" "$(echo "$t1 - $t0" | bc)" \
    "$(du -sm "$v" | cut -f1)" \
    "$("$v/bin/pip" list 2>/dev/null | grep -iE '^(xgboost|nvidia)' | tr -s ' ' | tr '\n' ';')"
  rm -rf "$(dirname "$v")"
}
printf "config\trc\tseconds\tMB\txgboost_and_nvidia\n"
measure base-after "$A" "."
for x in models models-gpu distributed phonons magpie docs dev; do measure "extra-$x" "$A" ".[$x]"; done
measure extra-md "$A" ".[md]" "torch==2.13.0"
measure extra-sevennet "$A" ".[md,sevennet]" "torch==2.13.0"
measure readme-before "$B" "-e .[all]" "torch==2.13.0"
measure readme-after "$A" "-e .[all]" "torch==2.13.0"
measure base-before "$B" "."
