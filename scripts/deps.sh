#!/bin/sh
# Install the Debian packages hcshim needs.
#
#   scripts/deps.sh build   to build and run the demo (compiler, -dev libraries, python3)
#   scripts/deps.sh test    everything the test suite uses (real clients: curl, Python
#                           requests/httpx/aiohttp, Ruby, PHP; Go for the static-TLS case;
#                           clang for sanitizers/fuzzing)
#   scripts/deps.sh bench   the test set plus the benchmarks' baselines (hyperfine,
#                           mitmproxy; the Portkey gateway comes from npm, see bench.py)
#
# Idempotent and quiet when everything is present; needs root (or sudo) otherwise.
set -eu

BUILD="build-essential pkg-config libssl-dev liblmdb-dev libcjson-dev libzstd-dev zlib1g-dev
       libbrotli-dev ca-certificates openssl python3"
TEST="$BUILD curl lmdb-utils python3-requests python3-httpx python3-aiohttp python3-h2
      python3-brotli ruby php-cli php-curl socat clang libclang-rt-14-dev iproute2 util-linux
      strace zstd chromium chromium-driver fonts-dejavu-core golang-go patchelf
      wget gnutls-bin git default-jdk-headless erlang-base erlang-ssl erlang-inets"

# Telemetry tests: a real pytest run, and Prometheus scraping serve's /metrics.
TEST="$TEST python3-pytest prometheus"
# hc-analyze ship's tests start a real ClickHouse, HC_SHARED's a real Redis, on loopback (docs/FLEET.md).
TEST="$TEST clickhouse-server clickhouse-client redis-server redis-tools"
# make lint (part of make check): clang-format with the committed .clang-format.
TEST="$TEST clang-format"

case "${1:-test}" in
build) PKGS=$BUILD ;;
test) PKGS=$TEST ;;
bench) PKGS="$TEST hyperfine mitmproxy" ;;
*) echo "usage: scripts/deps.sh build|test|bench" >&2; exit 2 ;;
esac

# The compatibility tests run Node's `openai` and `@anthropic-ai/sdk` packages, Claude
# Code, Gemini CLI and Bun (tests/node/package.json), from the npm registry. Quietly
# skipped when npm is absent.
node_deps() {
    [ "${1:-test}" != build ] || return 0
    command -v npm >/dev/null 2>&1 || return 0
    dir=$(cd "$(dirname "$0")/../tests/node" && pwd)
    [ -f "$dir/node_modules/openai/package.json" ] && [ -f "$dir/node_modules/@google/gemini-cli/package.json" ] &&
        [ -f "$dir/node_modules/@anthropic-ai/claude-code/package.json" ] ||
        npm install --prefix "$dir" --no-audit --no-fund --no-package-lock --loglevel=error >/dev/null
    # OpenAI's Codex CLI, for test_hc_run_proxy.py (a static binary through hc-run --proxy).
    [ -f "$dir/node_modules/@openai/codex/package.json" ] ||
        npm install --prefix "$dir" --no-audit --no-fund --no-package-lock --loglevel=error >/dev/null
    # The OTLP protobuf schema test_otlp.py validates against (otlp_validate.js).
    [ -f "$dir/node_modules/@opentelemetry/otlp-transformer/build/src/generated/root.js" ] ||
        npm install --prefix "$dir" --no-audit --no-fund --no-package-lock --loglevel=error >/dev/null
}

missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -z "$missing" ]; then
    node_deps "${1:-test}"
    exit 0
fi

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "deps: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q >/dev/null
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing >/dev/null
node_deps "${1:-test}"
