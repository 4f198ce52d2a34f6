"""python3-httpx with http2=True (python3-h2): offers h2 and http/1.1 by ALPN
and uses what the server selects.

argv: URL [PROMPT]; stdout: one JSON line {status, raw, text, http_version}.
(Run it through compat_pyrun.py for evidence of the TLS peer.)"""
import json
import sys

import httpx

url = sys.argv[1]
prompt = sys.argv[2] if len(sys.argv) > 2 else "say hello to the test"
body = json.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": prompt}]})
with httpx.Client(http2=True, timeout=30) as c:
    with c.stream("POST", url, content=body,
                  headers={"Authorization": "Bearer sk-test-openai-SECRET-0123456789",
                           "Content-Type": "application/json"}) as r:
        raw = r.read().decode()
        text = json.loads(raw)["choices"][0]["message"]["content"] if r.status_code == 200 else ""
        print(json.dumps({"status": r.status_code, "raw": raw, "text": text, "http_version": r.http_version}), flush=True)
