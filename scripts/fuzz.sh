#!/usr/bin/env bash
# fuzz.sh — build the libFuzzer harnesses (tests/fuzz/) and run each for a
# bounded time. `make fuzz` runs this.
#
#   scripts/fuzz.sh                  every target for $FUZZ_SECONDS (default 60) s
#   scripts/fuzz.sh --ci             every target for 10 s; the pass stays well under 5 minutes
#   scripts/fuzz.sh --seconds N      every target for N s
#   scripts/fuzz.sh --replay         no fuzzing: run every harness once over its committed
#                                    corpus (what tests/integ/test_fuzz_smoke.py does)
#   scripts/fuzz.sh --build-only     build, do not run
#   scripts/fuzz.sh [opts] NAME…     only these targets (e.g. usage header)
#   scripts/fuzz.sh --list           the target names
#
# Environment: FUZZ_SECONDS (default 60), FUZZ_ARGS (extra libFuzzer flags,
# e.g. "-fork=2" to use two cores), FUZZ_BUILD (default build-fuzz), CC_FUZZ (clang).
#
# Layout (all under build-fuzz/, nothing else is written):
#   build-fuzz/fuzz_NAME          the harness binaries (ASan + UBSan + libFuzzer)
#   build-fuzz/corpus/NAME/       new inputs libFuzzer finds (the committed seeds in
#                                 tests/fuzz/corpus/NAME/ are read, never written)
#   build-fuzz/crashes/NAME/      crash-*, oom-*, timeout-*, leak-* reproducers
#   build-fuzz/logs/NAME.log      each run's full libFuzzer output
#
# Prints one summary line per target (runs, crashes) and exits 1 if any target
# crashed, 2 on misuse, 3 if the build failed, 4 if clang/libFuzzer is missing.
set -u

cd "$(dirname "$0")/.." || exit 3
ROOT=$(pwd)
B=${FUZZ_BUILD:-build-fuzz}

ALL_TARGETS="http_request http_response chunked stream usage clienthello streamfix jsonedit decode
             record cachefmt header pricing jsonflat"

# Largest input per target: big enough for the parser's bounds (the 8 KiB
# request-line limit, budgets' 1 KiB items, multi-record ClientHellos), small
# enough to stay fast.
max_len() {
    case "$1" in
    http_request|http_response) echo 12000 ;;
    usage|stream|streamfix|pricing) echo 8192 ;;
    clienthello) echo 6000 ;;
    header) echo 4096 ;;
    record|jsonedit|chunked|decode|cachefmt) echo 4096 ;;
    *) echo 4096 ;;
    esac
}

# Dictionaries (tests/fuzz/dict/*.dict) each target's fuzzing uses; libFuzzer
# takes one file, so they are concatenated into build-fuzz/dict/NAME.dict.
dicts() {
    case "$1" in
    http_request|http_response) echo http ;;
    chunked) echo "http sse" ;;
    stream|usage|streamfix|jsonflat) echo "json sse" ;;
    jsonedit) echo json ;;
    header) echo "json http header" ;;
    esac
}

usage() {
    sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'
}

SECS=${FUZZ_SECONDS:-60}
MODE=fuzz
TARGETS=""
while [ $# -gt 0 ]; do
    case "$1" in
    --ci) SECS=10; CI_MODE=1 ;;
    --seconds) shift; SECS=${1:-}; case "$SECS" in ''|*[!0-9]*) echo "fuzz.sh: --seconds needs a number" >&2; exit 2 ;; esac ;;
    --seconds=*) SECS=${1#--seconds=} ;;
    --replay) MODE=replay ;;
    --build-only) MODE=build ;;
    --list) echo $ALL_TARGETS; exit 0 ;;
    -h|--help) usage; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) case " $(echo $ALL_TARGETS) " in
       *" $1 "*) TARGETS="$TARGETS $1" ;;
       *) echo "fuzz.sh: unknown target '$1' (targets: $(echo $ALL_TARGETS))" >&2; exit 2 ;;
       esac ;;
    esac
    shift
done
[ -n "$TARGETS" ] || TARGETS=$ALL_TARGETS

# clang with libFuzzer (Debian: clang + libclang-rt-14-dev, see scripts/deps.sh test).
CC_FUZZ=${CC_FUZZ:-}
if [ -z "$CC_FUZZ" ]; then
    for c in clang clang-14 clang-15 clang-16; do
        command -v "$c" >/dev/null 2>&1 && { CC_FUZZ=$c; break; }
    done
fi
if [ -z "$CC_FUZZ" ]; then
    echo "fuzz.sh: clang not found (install it: scripts/deps.sh test)" >&2
    exit 4
fi
mkdir -p "$B"
probe="$B/.probe"
printf '#include <stddef.h>\n#include <stdint.h>\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }\n' > "$probe.c"
if ! "$CC_FUZZ" -fsanitize=fuzzer,address,undefined -o "$probe" "$probe.c" >"$probe.log" 2>&1; then
    echo "fuzz.sh: $CC_FUZZ cannot build libFuzzer+ASan+UBSan programs (libclang-rt-dev missing?):" >&2
    sed 's/^/    /' "$probe.log" >&2
    exit 4
fi
rm -f "$probe" "$probe.c" "$probe.log"

JOBS=$(nproc 2>/dev/null || echo 2)
if ! make -s -f tests/fuzz/fuzz.mk -j"$JOBS" B="$B" FUZZ_CC="$CC_FUZZ" $(for t in $TARGETS; do echo "$B/fuzz_$t"; done); then
    echo "fuzz.sh: build failed" >&2
    exit 3
fi
[ "$MODE" = build ] && { echo "fuzz.sh: built $(echo $TARGETS | wc -w) harnesses in $B/"; exit 0; }

mkdir -p "$B/logs"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

failed=0
total_runs=0
printf '%-14s %10s %8s  %s\n' target runs crashes result
for t in $TARGETS; do
    bin="$B/fuzz_$t"
    seeds="tests/fuzz/corpus/$t"
    crashes="$B/crashes/$t"
    log="$B/logs/$t.log"
    mkdir -p "$crashes" "$seeds"
    dict=""
    parts=$(dicts "$t")
    if [ -n "$parts" ]; then
        mkdir -p "$B/dict"
        for d in $parts; do cat "tests/fuzz/dict/$d.dict"; done > "$B/dict/$t.dict"
        dict="-dict=$B/dict/$t.dict"
    fi
    common="-rss_limit_mb=2048 -timeout=25 -max_len=$(max_len "$t") -artifact_prefix=$crashes/ -print_final_stats=1"
    if [ "$MODE" = replay ]; then
        # Each committed seed once, in its own process, so that every failing
        # reproducer is reported (a run over the directory stops at the first).
        : >"$log"
        runs=0 ncrash=0 rc=0
        for f in "$seeds"/*; do
            [ -f "$f" ] || continue
            runs=$((runs + 1))
            # shellcheck disable=SC2086
            if ! ("$bin" $common "$f"; exit $?) >>"$log" 2>&1; then
                ncrash=$((ncrash + 1))
                rc=1
                echo "REPRODUCER FAILS: $f" >>"$log"
            fi
        done
    else
        corpus="$B/corpus/$t"
        mkdir -p "$corpus"
        before=$(find "$crashes" -type f | wc -l)
        # New inputs go to the first directory (build-fuzz/corpus/NAME); the
        # committed seeds are only read.
        # shellcheck disable=SC2086
        # (in a subshell, so a harness killed by a signal is reported in its log)
        ("$bin" $common $dict -use_value_profile=1 -max_total_time="$SECS" ${FUZZ_ARGS:-} "$corpus" "$seeds"; exit $?) >"$log" 2>&1
        rc=$?
        runs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$log" | tail -1)
        [ -n "$runs" ] || runs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$log" | tail -1)
        [ -n "$runs" ] || runs=$(sed -n 's/^#\([0-9]*\)[: ].*/\1/p' "$log" | tail -1)   # -fork mode
        [ -n "$runs" ] || runs=0
        ncrash=$(sed -n 's/.*Test unit written to //p' "$log" | sort -u | wc -l)
        # With -fork, the jobs write the reproducers and the parent's log may
        # not name them: count the new files too.
        made=$(( $(find "$crashes" -type f | wc -l) - before ))
        [ "$made" -gt "$ncrash" ] && ncrash=$made
    fi
    total_runs=$((total_runs + runs))
    if [ "$rc" -ne 0 ] || [ "$ncrash" -ne 0 ]; then
        [ "$ncrash" -eq 0 ] && ncrash=1
        failed=$((failed + 1))
        result="FAILED (exit $rc): see $log"
    else
        result=ok
    fi
    printf '%-14s %10s %8s  %s\n' "$t" "$runs" "$ncrash" "$result"
    if [ "$result" != ok ]; then
        # The sanitizer report and the reproducer's path, for CI logs.
        grep -E '^(REPRODUCER FAILS|==[0-9]+== ?ERROR|SUMMARY|.*runtime error|.*invariant failed|    #[0-9]+ .* in (hc_|LLVMFuzzerTestOneInput)|artifact_prefix)' "$log" \
            | grep -v 'SUMMARY: libFuzzer: deadly signal' | head -60 | sed 's/^/    /'
    fi
done
if [ "$MODE" = replay ]; then how="committed corpora replayed"; else how="${SECS}s each"; fi
echo "fuzz.sh: $(echo $TARGETS | wc -w) targets, $total_runs runs, $failed failed ($how)"
[ "$failed" -eq 0 ]
