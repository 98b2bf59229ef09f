#!/usr/bin/env bash
# Quick start 1: installs what is missing, builds everything, and runs the main
# job: actc runs the example XOR network and prints its outputs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)"
set -x
./build/actc check examples/xor.act
./build/actc run examples/xor.act --input x=examples/data/xor_x.npy \
    --input t=examples/data/xor_t.npy
