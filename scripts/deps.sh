#!/bin/sh
# Install the Debian packages hcshim needs to build, test and demo.
# Idempotent and quiet when everything is present; needs root (or sudo) otherwise.
set -eu

PKGS="build-essential pkg-config libssl-dev liblmdb-dev libcjson-dev libzstd-dev zlib1g-dev
      libbrotli-dev lmdb-utils ca-certificates curl openssl python3 python3-requests
      python3-httpx python3-aiohttp python3-h2 python3-brotli ruby php-cli php-curl socat clang
      libclang-rt-14-dev"

missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "deps: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q >/dev/null
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing >/dev/null
