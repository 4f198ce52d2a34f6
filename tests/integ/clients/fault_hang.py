"""A long-lived app for the timeout tests: one python3-requests client that
stays up and makes a call each time the test asks, with its own timeout.

Starts with one ordinary call (Connection: close, so no kept-alive connection
stays behind), prints "ready", then reads commands from stdin, one per line:
  plain    a non-streamed call with timeout=TIMEOUT
  stream   a streamed call (iter_content) with timeout=TIMEOUT
  close    an ordinary call with Connection: close
EOF ends the program. Each call prints a JSON line: {"cmd", "outcome":
"ok" | "error", "status", "exc", "seconds"}.

argv: [TIMEOUT]  (seconds, default 2)
"""
import json
import sys
import time

import requests

timeout = float(sys.argv[1]) if len(sys.argv) > 1 else 2.0
URL = "https://api.openai.com/v1/chat/completions"
H = {"Authorization": "Bearer sk-test-hang-0123456789", "Content-Type": "application/json"}


def body(stream):
    b = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "are you there"}]}
    if stream:
        b["stream"] = True
    return json.dumps(b)


r = requests.post(URL, data=body(False), headers=dict(H, Connection="close"), timeout=30)
print("ready %d" % r.status_code, flush=True)
sess = requests.Session()
for line in sys.stdin:
    cmd = line.strip()
    t0 = time.monotonic()
    out = {"cmd": cmd}
    try:
        if cmd == "plain":
            r = sess.post(URL, data=body(False), headers=H, timeout=timeout)
            out.update(outcome="ok", status=r.status_code)
        elif cmd == "stream":
            r = sess.post(URL, data=body(True), headers=H, timeout=timeout, stream=True)
            n = len(b"".join(r.iter_content(None)))
            out.update(outcome="ok", status=r.status_code, bytes=n)
        else:
            r = requests.post(URL, data=body(False), headers=dict(H, Connection="close"), timeout=30)
            out.update(outcome="ok", status=r.status_code)
    except Exception as e:
        out.update(outcome="error", exc=type(e).__name__)
    out["seconds"] = round(time.monotonic() - t0, 3)
    print(json.dumps(out), flush=True)
