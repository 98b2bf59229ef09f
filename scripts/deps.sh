#!/usr/bin/env bash
# Installs what building and testing act need, only when it is missing:
# cmake, a C compiler, pkg-config, LLVM 14 or newer (llvm-config), libffi and
# cmocka. Debian 12 (or newer) with apt-get; run as root or with sudo.
set -euo pipefail

need=()
command -v cmake >/dev/null 2>&1 || need+=(cmake)
command -v cc >/dev/null 2>&1 || need+=(gcc)
command -v make >/dev/null 2>&1 || need+=(make)
command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
pkg-config --exists libffi 2>/dev/null || need+=(libffi-dev)
[ -f /usr/include/cmocka.h ] || need+=(libcmocka-dev)

llvm_ok=0
for cfg in llvm-config $(ls /usr/bin/llvm-config-* 2>/dev/null | sort -t- -k3 -n -r); do
  if command -v "$cfg" >/dev/null 2>&1 && [ "$("$cfg" --version | cut -d. -f1)" -ge 14 ] &&
     [ -d "$("$cfg" --includedir)/llvm-c" ]; then
    llvm_ok=1
    break
  fi
done
[ "$llvm_ok" = 1 ] || need+=(llvm-dev)

if [ ${#need[@]} -gt 0 ]; then
  echo "deps: installing ${need[*]}"
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi
