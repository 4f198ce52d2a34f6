#!/usr/bin/python3
"""What made the call, as properties (core/context.h, shim/hook_env.c).

- TRACEPARENT/TRACESTATE/BAGGAGE and GitHub Actions variables in curl's
  environment: every record carries trace_id, parent_span_id, tracestate, the
  baggage members and ci/ci_run_id/ci_job/ci_commit; HC_PROPERTY_ wins; a
  malformed TRACEPARENT adds nothing and curl's answer is unchanged.
- A real pytest run (Debian's python3-pytest) under the shim: each record names
  the test that made it (property "test", the phase stripped), including a call
  made by a curl subprocess of a test; `report --by property:test` counts the
  calls and sums the cost per test; a call outside any test has no "test".
- Safety: a thread that rewrites PYTEST_CURRENT_TEST in a tight loop while
  another makes calls: the app finishes normally and each record's test is one
  of the values the app set.
"""
import json
import os
import subprocess
import sys
import textwrap

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from hctest import PYTHON, TAP, World  # noqa: E402

KEY = "sk-test-context-0123456789"
BODY = json.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "who called me"}]})
CURL = ["curl", "-sS", "-X", "POST", "https://api.openai.com/v1/chat/completions", "-H",
        "Content-Type: application/json", "-H", "Authorization: Bearer " + KEY, "--data-binary", BODY]
TP = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

PYCALL = textwrap.dedent('''
    import json, urllib.request
    def call():
        r = urllib.request.Request("https://api.openai.com/v1/chat/completions", data=%r.encode(),
            headers={"Content-Type": "application/json", "Authorization": "Bearer %s"})
        return json.load(urllib.request.urlopen(r, timeout=20))["choices"][0]["message"]["content"]
''' % (BODY, KEY))

PYTEST_FILE = PYCALL + textwrap.dedent('''
    import subprocess
    call()  # at import: outside any test

    def test_one_call():
        assert call().startswith("Mock answer")

    def test_three_calls():
        for _ in range(2):
            assert call().startswith("Mock answer")
        out = subprocess.run(%r, capture_output=True, text=True)
        assert "Mock answer" in out.stdout
''' % (CURL,))

STRESS = PYCALL + textwrap.dedent('''
    import os, threading
    names = ["t/test_x.py::test_%d (call)" % i for i in range(50)]
    stop = False
    def churn():
        i = 0
        while not stop:
            os.environ["PYTEST_CURRENT_TEST"] = names[i % 50]
            if i % 7 == 0:
                del os.environ["PYTEST_CURRENT_TEST"]
            i += 1
    th = threading.Thread(target=churn)
    th.start()
    try:
        for _ in range(20):
            call()
    finally:
        stop = True
        th.join()
    print("done")
''')


def props(rec):
    p = rec.get("props") or rec.get("properties") or {}
    if isinstance(p, list):
        p = {x[0]: x[1] for x in p} if p and isinstance(p[0], list) else {x["name"]: x["value"] for x in p}
    return p


def main():
    t = TAP()
    with World() as w:
        env = dict(TRACEPARENT=TP, TRACESTATE="congo=t61rcWkgMzE", BAGGAGE="userId=alice%20b,Team=search",
                   GITHUB_ACTIONS="true", GITHUB_RUN_ID="77", GITHUB_RUN_ATTEMPT="1", GITHUB_JOB="unit",
                   GITHUB_SHA="ffac537e6cbbf934b08745a378932722df287a53", HC_PROPERTY_Team="explicit")
        r = w.run(CURL, **env)
        t.ok(r.returncode == 0 and "Mock answer" in r.stdout, "curl gets its answer", r.stderr)
        recs = w.records(wait_for=1)
        p = props(recs[0]) if recs else {}
        want = {"trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "parent_span_id": "00f067aa0ba902b7",
                "tracestate": "congo=t61rcWkgMzE", "userId": "alice b", "Team": "explicit", "ci": "github",
                "ci_run_id": "77-1", "ci_job": "unit", "ci_commit": "ffac537e6cbbf934b08745a378932722df287a53"}
        for k, v in want.items():
            t.eq(p.get(k), v, "property %s from the environment" % k)
        t.ok("test" not in p, "no test property outside pytest", p)

        # The exported OTLP span joins the caller's trace.
        sbody = json.dumps({"model": "gpt-4o-mini", "stream": True,
                            "messages": [{"role": "user", "content": "who called me"}]})
        r = w.run(CURL[:-1] + [sbody], **env)
        t.ok(r.returncode == 0 and "data:" in r.stdout, "a streamed call under the same trace", r.stderr)
        w.records(wait_for=2)
        out = w.analyze("export", "--format", "otlp").stdout
        spans = json.loads(out)["resourceSpans"][0]["scopeSpans"][0]["spans"]
        t.eq(len(spans), 2, "export otlp: two spans")
        for sp in spans:
            attrs = {a["key"]: list(a["value"].values())[0] for a in sp["attributes"]}
            stream = "gen_ai.response.time_to_first_chunk" in attrs
            what = "streamed span" if stream else "span"
            t.eq((sp["traceId"], sp.get("parentSpanId"), sp.get("traceState")),
                 ("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", "congo=t61rcWkgMzE"),
                 "export otlp %s: in the TRACEPARENT's trace, under its span, with its tracestate" % what)
            t.ok(len(sp["spanId"]) == 16 and sp["spanId"] != "00f067aa0ba902b7", "its own span id", sp["spanId"])
            t.ok("gen_ai.system" not in attrs and attrs.get("gen_ai.provider.name") == "openai",
                 "%s: gen_ai.provider.name, not the deprecated gen_ai.system" % what, sorted(attrs))
        ttfc = [a for sp in spans for a in sp["attributes"] if a["key"] == "gen_ai.response.time_to_first_chunk"]
        t.ok(len(ttfc) == 1 and 0 < ttfc[0]["value"]["doubleValue"] < 30,
             "time to first chunk (seconds) on the streamed span only", ttfc)

        w.reset_store()
        r = w.run(CURL, TRACEPARENT="00-zz", GITHUB_ACTIONS=None)
        plain = subprocess.run(["curl", "-sS", "--cacert", w.pki["ca"], "-X", "POST", w.mock.url + "/v1/chat/completions",
                                "-H", "Content-Type: application/json", "-H", "Authorization: Bearer " + KEY,
                                "--data-binary", BODY], capture_output=True, text=True, timeout=30)
        t.ok(r.returncode == 0 and r.returncode == plain.returncode and
             json.loads(r.stdout)["usage"] == json.loads(plain.stdout)["usage"],
             "malformed TRACEPARENT: curl's answer is the one it gets without the shim", (r.stderr, plain.stderr))
        recs = w.records(wait_for=1)
        p = props(recs[0]) if recs else {"?": 1}
        t.ok("trace_id" not in p and "ci" not in p, "malformed TRACEPARENT: no trace properties", p)

        # A real pytest run.
        w.reset_store()
        d = os.path.join(w.dir, "proj")
        os.makedirs(d)
        with open(os.path.join(d, "test_llm.py"), "w") as f:
            f.write(PYTEST_FILE)
        r = subprocess.run([PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_llm.py"], cwd=d, env=w.env(),
            capture_output=True, text=True, timeout=120)
        t.ok(r.returncode == 0 and "2 passed" in r.stdout, "pytest under the shim: 2 passed", r.stdout[-500:])
        recs = w.records(wait_for=5)
        tests = sorted(props(x).get("test", "-") for x in recs)
        t.eq(tests, ["-", "test_llm.py::test_one_call", "test_llm.py::test_three_calls",
                     "test_llm.py::test_three_calls", "test_llm.py::test_three_calls"],
             "each call names its test (phase stripped), the curl subprocess's too; the import-time call none")
        rep = w.analyze("report", "--by", "property:test", "--json")
        try:
            js = json.loads(rep.stdout)
            got = {g["key"]: (g["requests"], g["cost_nusd"]) for g in js.get("groups", [])}
            t.eq(got, {"test_llm.py::test_three_calls": (3, 3 * 8250), "test_llm.py::test_one_call": (1, 8250),
                       "": (1, 8250)}, "report --by property:test: calls and cost per test")
        except ValueError:
            t.ok(False, "report --by property:test --json is JSON", rep.stdout[:300])

        # A thread rewriting PYTEST_CURRENT_TEST while another makes calls.
        w.reset_store()
        r = w.run([PYTHON, "-c", STRESS], timeout=120)
        t.ok(r.returncode == 0 and r.stdout.strip() == "done", "a thread churning PYTEST_CURRENT_TEST: the app "
             "finishes normally", r.stderr[-500:])
        recs = w.records(wait_for=20)
        seen = set(props(x).get("test", "-") for x in recs)
        ok_names = set(["-"] + ["t/test_x.py::test_%d" % i for i in range(50)])
        t.ok(len(recs) == 20 and seen <= ok_names, "every record's test is one the app set (or none)",
             (len(recs), sorted(seen - ok_names)[:5]))
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
