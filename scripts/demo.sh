#!/bin/sh
# make demo: the main job end to end, on this machine only.
#
#   1. start the bundled mock provider (HTTPS on 127.0.0.1, a test CA made now)
#   2. run the unmodified example agent under hc-run — research with an OpenAI
#      model, then summarize with an Anthropic model — tagged through
#      environment defaults (Workflow, Step, user); api.openai.com and
#      api.anthropic.com are routed to the mock, the agent keeps its URLs
#   3. print the report: both steps under the workflow, tokens, cost, latency
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=${HC_BUILD:-$root/build}
py=/usr/bin/python3
work=$(mktemp -d "${TMPDIR:-/tmp}/hcshim-demo.XXXXXX")
mock_pid=""
cleanup() {
    [ -n "$mock_pid" ] && kill "$mock_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

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

db="$work/store"
export OPENAI_API_KEY=sk-demo-not-a-real-key ANTHROPIC_API_KEY=sk-ant-demo-not-a-real-key
run() { # run STEP ARGS...
    step=$1
    shift
    "$root/scripts/hc-run" --db "$db" --ca-file "$work/pki/ca.pem" \
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
echo "== step 3: the Helicone tutorial's agent, unchanged (https://ai-gateway.helicone.ai, Helicone headers), under hc-run"
HELICONE_API_KEY=sk-helicone-demo-not-a-real-key "$root/scripts/hc-run" --db "$db" --ca-file "$work/pki/ca.pem" \
    --route "api.openai.com=$mock" -- "$py" "$root/examples/helicone_agent.py" "LMDB"

echo
echo "== hc-analyze requests"
"$build/hc-analyze" requests --db "$db"
echo
echo "== hc-analyze report --by property:Workflow --by property:Step"
"$build/hc-analyze" report --db "$db" --by property:Workflow --by property:Step
