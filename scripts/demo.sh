#!/bin/sh
# make demo: the main job end to end, on this machine only.
#
#   1. start the bundled mock provider (HTTPS on 127.0.0.1, a test CA made now)
#   2. run the unmodified example agent under hc-run — research with an OpenAI
#      model, then summarize with an Anthropic model — tagged through
#      environment defaults (Workflow, Step, user), both steps one run;
#      api.openai.com and api.anthropic.com are routed to the mock, the agent
#      keeps its URLs
#   3. print the requests and the report of that run, then three next steps
#
# Every command is printed ("$ …") before it runs, as a user would type it.
# The store is kept in demo-store/ (HC_DEMO_DB) for the next steps; each demo
# adds one run to it. Output fits 100 columns. To add a step, add a `run` line.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=${HC_BUILD:-$root/build}
py=/usr/bin/python3
db=${HC_DEMO_DB:-$root/demo-store}
work=$(mktemp -d "${TMPDIR:-/tmp}/hcshim-demo.XXXXXX")
mock_pid=""
cleanup() {
    [ -n "$mock_pid" ] && kill "$mock_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT INT TERM
# Tables are laid out for 100 columns (analyzer output goes through a pipe).
COLUMNS=100
export COLUMNS

# show CMD...: print the command (paths relative to the tree, lines of at
# most 100 columns continued with '\'), then run it.
show() {
    printf '%s\n' "$@" | sed -e "s|^$root/||" -e "s|$work|\$TMP|g" |
        awk 'BEGIN { line = "$" }
             { if (length(line) + 1 + length($0) > 96) { print line " \\"; line = "   " } line = line " " $0 }
             END { print line }'
    "$@"
}

echo "== starting the mock provider (no internet needed)"
"$py" -c "import sys; sys.path.insert(0, '$root/tests/mock'); from pki import make_pki; make_pki('$work/pki')" >/dev/null
"$py" "$root/tests/mock/mock_provider.py" --https-port 0 --cert "$work/pki/server.pem" --key "$work/pki/server.key" \
    --portfile "$work/ports" >/dev/null 2>&1 &
mock_pid=$!
i=0
while [ ! -s "$work/ports" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
[ -s "$work/ports" ] || { echo "demo: the mock provider did not start" >&2; exit 1; }
port=$(sed 's/.*https=\([0-9]*\).*/\1/' "$work/ports")
mock="https://127.0.0.1:$port"
echo "   mock at $mock; api.openai.com and api.anthropic.com are routed there"
echo "   (for your own program, plain HTTP and no CA: scripts/hc-mock -- python3 your_agent.py)"

export OPENAI_API_KEY=sk-demo-not-a-real-key ANTHROPIC_API_KEY=sk-ant-demo-not-a-real-key
# One run id for both steps, as a CI job would pass its own (--run-id "$CI_RUN_ID").
run_id=demo-$(date -u +%Y%m%d-%H%M%S)
run() { # run STEP ARGS...: one step of the agent under hc-run
    step=$1
    shift
    show "$root/scripts/hc-run" -q --db "$db" --run-id "$run_id" --ca-file "$work/pki/ca.pem" \
        --route "api.openai.com=$mock" --route "api.anthropic.com=$mock" \
        --property Workflow=research-agent --property "Step=$step" --user ada -- "$py" "$@"
}

echo
echo "== step 1: research (OpenAI gpt-4o-mini), under hc-run"
run research "$root/examples/research_agent.py" research "LMDB" "$work/notes.txt"
echo
echo "== step 2: summarize (Anthropic claude-sonnet-4-5), under hc-run"
run summarize "$root/examples/research_agent.py" summarize "$work/notes.txt"

echo
echo "== step 3: the Helicone tutorial's agent, unchanged (ai-gateway.helicone.ai, Helicone headers)"
HELICONE_API_KEY=sk-helicone-demo-not-a-real-key show "$root/scripts/hc-run" -q --db "$db" --run-id "$run_id" \
    --log "$work/shim.log" --ca-file "$work/pki/ca.pem" --route "api.openai.com=$mock" \
    -- "$py" "$root/examples/helicone_agent.py" "LMDB"
# The shim's notices for this step (e.g. that Helicone's host is answered locally), wrapped.
[ ! -s "$work/shim.log" ] || sed 's/^hcshim\[[0-9]*\]: /shim: /' "$work/shim.log" | fold -s -w 96 | sed 's/^/   /'

echo
echo "== hc-analyze requests"
show "$build/hc-analyze" requests --db "$db" --run "$run_id" | cat
echo
show "$build/hc-analyze" report --db "$db" --run "$run_id" --by property:Workflow --by property:Step | cat

rel=$(echo "$build" | sed "s|^$root/||")
rdb=$(echo "$db" | sed "s|^$root/||")
echo
echo "== next steps (the store is kept in $rdb; each demo adds one run to it):"
echo "   the dashboard as one HTML file; the same, live, on http://127.0.0.1:8484/;"
echo "   the CI check of the last run (exit 1 when it spent more than \$0.01)"
echo "  $rel/hc-analyze html --db $rdb -o demo.html"
echo "  $rel/hc-analyze serve --db $rdb"
echo "  $rel/hc-analyze audit --db $rdb --run last --max-cost 0.01"
