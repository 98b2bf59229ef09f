#!/usr/bin/env bash
# Quick start 2: installs what is missing, builds with warnings as errors and
# runs the whole test suite; then again under AddressSanitizer and
# UndefinedBehaviorSanitizer (skip that with ACT_NO_SANITIZE=1).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
jobs=$(nproc)

cmake -S . -B build-test -DACT_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build-test -j"$jobs"
(cd build-test && ctest --output-on-failure -j"$jobs")

if [ "${ACT_NO_SANITIZE:-0}" != 1 ]; then
  cmake -S . -B build-asan -DACT_WERROR=ON -DCMAKE_BUILD_TYPE=Debug \
        -DACT_SANITIZE=address,undefined >/dev/null
  cmake --build build-asan -j"$jobs"
  (cd build-asan && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure -j"$jobs")
fi
