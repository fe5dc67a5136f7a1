#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Fresh Debian 12 to a running demo: install the Debian packages zonedev
# builds with, build it, and run `zonedev demo` on its embedded default.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(build-essential cmake pkg-config liburcu-dev libcmocka-dev valgrind spin clang libclang-rt-14-dev)
sudo=""
[ "$(id -u)" -ne 0 ] && sudo=sudo
missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "installing: ${missing[*]}"
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
fi

cmake -S . -B build -DZD_WERROR=ON >/dev/null
cmake --build build -j"$(nproc)"
./build/tools/zonedev demo "$@"
