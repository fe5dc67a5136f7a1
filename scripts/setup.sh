#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Fresh Debian 12 to a running demo: install the Debian packages zonedev
# builds with, build it, and run `zonedev demo` on its embedded default.
set -euo pipefail
cd "$(dirname "$0")/.."

# spin, clang: the protocol models and the fuzz target; python3: the
# zonedev tool test reads its JSON and SVG with it; linux-source-6.12: the
# kernel's own HMM selftest (scripts/kernel-hmm-tests.sh; 6.1 where 6.12
# is not offered)
packages=(build-essential cmake pkg-config liburcu-dev libcmocka-dev valgrind
	  spin clang libclang-rt-14-dev python3)
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "ok installed"; }
kernel_source=""
installed linux-source-6.12 || installed linux-source-6.1 || kernel_source=yes
sudo=""
[ "$(id -u)" -ne 0 ] && sudo=sudo
missing=()
for p in "${packages[@]}"; do
	installed "$p" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ] || [ -n "$kernel_source" ]; then
	$sudo apt-get update -qq
	# which one the package lists offer is known after the update
	if [ -n "$kernel_source" ]; then
		if apt-cache show linux-source-6.12 >/dev/null 2>&1; then
			missing+=(linux-source-6.12)
		else
			missing+=(linux-source-6.1)
		fi
	fi
	echo "installing: ${missing[*]}"
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
fi

cmake -S . -B build -DZD_WERROR=ON >/dev/null
cmake --build build -j"$(nproc)"
./build/tools/zonedev demo "$@"
