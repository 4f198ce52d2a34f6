#!/bin/sh
# gen-prices.sh — regenerate data/prices.tsv, the built-in price table.
#
#   scripts/gen-prices.sh [GENAI_PRICES_DIR] [OUT]
#
# The table is data/prices-overrides.tsv (hand-checked rows, first, winning)
# plus every row `hc-analyze prices --import` makes of the genai-prices
# snapshot (GENAI_PRICES_DIR/data.json, default ../shared/data/genai-prices or
# $HC_GENAI_PRICES). The snapshot is not in this repository, so the generated
# table is committed as data; tests/integ/test_prices.py checks that this script
# reproduces it whenever the snapshot is present. Needs build/hc-analyze
# (make build/hc-analyze). OUT defaults to data/prices.tsv; '-' is stdout.
#
# The snapshot's identity is pinned below: a different snapshot needs new
# values here (its commit and date), so that every imported row's source and
# date say which data it came from.
set -eu
cd "$(dirname "$0")/.."
SNAP_COMMIT=47df840a5ab10bbcffb8e5ac01b9899032245d1b
SNAP_DATE=2026-08-21
DIR=${1:-${HC_GENAI_PRICES:-../shared/data/genai-prices}}
OUT=${2:-data/prices.tsv}
HC_ANALYZE=${HC_ANALYZE:-build/hc-analyze}
[ -r "$DIR/data.json" ] || { echo "gen-prices.sh: no $DIR/data.json (the genai-prices snapshot)" >&2; exit 2; }
[ -x "$HC_ANALYZE" ] || { echo "gen-prices.sh: no $HC_ANALYZE; run make build/hc-analyze" >&2; exit 2; }
exec "$HC_ANALYZE" prices --import "$DIR/data.json" --overrides data/prices-overrides.tsv \
    --source "https://github.com/pydantic/genai-prices/blob/$SNAP_COMMIT/prices/data.json" \
    --date "$SNAP_DATE" --as-of "$SNAP_DATE" --out "$OUT"
