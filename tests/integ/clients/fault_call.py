"""An ordinary app for the fault tests: COUNT chat calls to the OpenAI default
endpoint with one HTTP library, one JSON line per call saying what the app saw.

argv: LIB STREAM COUNT [TIMEOUT [PROMPT]]
  LIB      requests | urllib | httpx
  STREAM   0 | 1
  TIMEOUT  seconds (the app's own timeout; default 20)
FAULT_URL (environment) replaces the endpoint, for a baseline run without the shim.

Each line: {"i", "outcome": "ok" | "error", "status", "exc", "bytes",
"complete"}. "error" means the library raised, or (like an SDK) json.loads of
a plain 200 answer did; "complete" means the body the app got is a whole
answer (JSON that parses, or a stream ending in [DONE]).
A truncated answer the app accepted without an exception shows up as
outcome "ok" with complete false — the silent shortening the tests forbid.
"""
import json
import os
import sys

lib = sys.argv[1]
stream = sys.argv[2] == "1"
count = int(sys.argv[3]) if len(sys.argv) > 3 else 1
timeout = float(sys.argv[4]) if len(sys.argv) > 4 else 20.0
prompt = sys.argv[5] if len(sys.argv) > 5 else "fault injection call"

# FAULT_URL lets a test run the same app straight against the mock (no shim) as a baseline.
URL = os.environ.get("FAULT_URL", "https://api.openai.com/v1/chat/completions")
HEADERS = {"Authorization": "Bearer sk-test-fault-0123456789", "Content-Type": "application/json"}


def body(i):
    b = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "%s %d" % (prompt, i)}]}
    if stream:
        b["stream"] = True
    return json.dumps(b).encode()


def complete(raw):
    try:
        if stream:
            return raw.rstrip().endswith(b"data: [DONE]")
        return "choices" in json.loads(raw) or "error" in json.loads(raw)
    except Exception:
        return False


def call_requests(sess, i):
    r = sess.post(URL, data=body(i), headers=HEADERS, timeout=timeout, stream=stream)
    raw = b"".join(r.iter_content(None)) if stream else r.content
    return r.status_code, raw


def call_urllib(_, i):
    import urllib.error
    import urllib.request
    req = urllib.request.Request(URL, data=body(i), headers=HEADERS)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def call_httpx(client, i):
    if stream:
        with client.stream("POST", URL, content=body(i), headers=HEADERS) as r:
            return r.status_code, b"".join(r.iter_raw())
    r = client.post(URL, content=body(i), headers=HEADERS)
    return r.status_code, r.content


if lib == "requests":
    import requests
    client, call = requests.Session(), call_requests
elif lib == "httpx":
    import httpx
    client, call = httpx.Client(timeout=timeout), call_httpx
else:
    client, call = None, call_urllib

for i in range(count):
    out = {"i": i}
    try:
        status, raw = call(client, i)
        out.update(status=status, bytes=len(raw), complete=complete(raw), body=raw[-300:].decode("utf-8", "replace"))
        if not stream and status == 200:
            json.loads(raw)  # what an SDK does with a plain answer
        out["outcome"] = "ok"
    except Exception as e:  # what the app would see
        out.update(outcome="error", exc=type(e).__name__, msg=str(e)[:300])
        out.pop("body", None)
    print(json.dumps(out), flush=True)
