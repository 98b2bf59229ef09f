#!/usr/bin/env bash
# The benchmark of issue 6: installs act's build dependencies and the peers'
# Debian packages when missing (oneDNN, SLEEF, LIBXSMM, OpenBLAS, Eigen,
# PyTorch), builds bench/act_bench in build-bench/, runs it (pinned to one
# core, but for row 8) and prints its one markdown table, also written to
# bench/RESULTS.md with the machine, date and versions.
#   bench/run.sh            every row (about 10 minutes)
#   bench/run.sh --quick    smaller sizes and fewer samples (a smoke test)
#   bench/run.sh --rows 14  some rows only
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh

peers=(libdnnl-dev libsleef-dev libxsmm-dev libopenblas-dev libeigen3-dev python3-torch g++)
need=()
for p in "${peers[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "bench: installing ${need[*]}" >&2
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi

cmake -S . -B build-bench -DACT_BENCH=ON -DACT_TESTS=OFF -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-bench -j"$(nproc)" --target act_bench >/dev/null

out=$(mktemp)
trap 'rm -f "$out"' EXIT
# PyTorch's peer runs /usr/bin/python3 (Debian's python3-torch), whatever
# python3 comes first on PATH.
BENCH_PYTHON=${BENCH_PYTHON:-/usr/bin/python3} build-bench/bench/act_bench "$@" >"$out"
# the ceilings of the elementwise rows, from the code act's JIT ran for them
"${BENCH_PYTHON:-/usr/bin/python3}" bench/roofline.py build-bench/libact.so.0 "$out" ||
  echo "bench: the ceilings of the elementwise rows were not computed" >&2
cp "$out" bench/RESULTS.md
cat bench/RESULTS.md
