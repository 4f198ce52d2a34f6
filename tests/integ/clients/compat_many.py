"""An app with many concurrent connections: N threads (default 32) each open
their own HTTPS connection (http.client) to https://api.openai.com and POST one
chat completion, all released at once by a barrier after connecting.

argv: N PROMPT_PREFIX; stdout: one JSON line per request (status, raw, text,
i), in completion order. Prompt i is "PROMPT_PREFIX i"."""
import http.client
import json
import ssl
import sys
import threading

n = int(sys.argv[1]) if len(sys.argv) > 1 else 32
prefix = sys.argv[2] if len(sys.argv) > 2 else "concurrent request"
barrier = threading.Barrier(n)
lock = threading.Lock()
ctx = ssl.create_default_context()
failures = []


def one(i):
    try:
        c = http.client.HTTPSConnection("api.openai.com", 443, context=ctx, timeout=30)
        c.connect()
        barrier.wait(timeout=30)  # every connection is open before any request goes out
        body = json.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "%s %d" % (prefix, i)}]})
        c.request("POST", "/v1/chat/completions", body=body,
                  headers={"Authorization": "Bearer sk-test-openai-SECRET-0123456789", "Content-Type": "application/json"})
        r = c.getresponse()
        raw = r.read().decode()
        text = json.loads(raw)["choices"][0]["message"]["content"] if r.status == 200 else ""
        with lock:
            print(json.dumps({"i": i, "status": r.status, "raw": raw, "text": text}), flush=True)
        c.close()
    except Exception as e:
        with lock:
            failures.append("%d: %r" % (i, e))


threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
for t in threads:
    t.start()
for t in threads:
    t.join()
for f in failures:
    sys.stderr.write("failed %s\n" % f)
sys.exit(1 if failures else 0)
