#!/usr/bin/env bash
# Install the Debian packages pdlens needs, only those missing.
#   scripts/system-deps.sh run   -> what the dashboard needs (OpenCV's GL/GLib for MediaPipe)
#   scripts/system-deps.sh test  -> plus Chromium for browser tests and PostgreSQL for the store tests
set -euo pipefail
want=(libgl1 libglib2.0-0)
if [ "${1:-run}" = test ]; then
  want+=(chromium postgresql espeak-ng iproute2)  # iproute2: the WebRTC test's loopback-only namespace
fi
missing=()
for pkg in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "Installing Debian packages: ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
