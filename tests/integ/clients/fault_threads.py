"""Many concurrent connections from one process.

argv: THREADS PER_THREAD
Thread k makes PER_THREAD calls to api.openai.com, each with a unique prompt
"thread k call i": even threads over one python3-requests Session (kept-alive
connections), odd threads with urllib (a new connection per call); every
third call of a thread is streamed. Each call checks that the answer it got
is the answer to its own prompt (the mock echoes the prompt's words).
Prints one JSON line: {"ok": calls answered correctly, "bad": [descriptions]}.
"""
import json
import sys
import threading
import urllib.request

import requests

THREADS, PER = int(sys.argv[1]), int(sys.argv[2])
URL = "https://api.openai.com/v1/chat/completions"
H = {"Authorization": "Bearer sk-test-threads-0123456789", "Content-Type": "application/json"}
lock = threading.Lock()
ok, bad = 0, []


def text_of(raw, stream):
    if not stream:
        return json.loads(raw)["choices"][0]["message"]["content"]
    out = []
    for line in raw.decode().splitlines():
        if line.startswith("data: ") and line != "data: [DONE]":
            for ch in json.loads(line[6:]).get("choices", []):
                out.append(ch.get("delta", {}).get("content") or "")
    return "".join(out)


def worker(k):
    global ok
    sess = requests.Session() if k % 2 == 0 else None
    for i in range(PER):
        prompt = "thread %d call %d" % (k, i)
        stream = i % 3 == 2
        body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": prompt}]}
        if stream:
            body["stream"] = True
        data = json.dumps(body).encode()
        try:
            if sess is not None:
                r = sess.post(URL, data=data, headers=H, timeout=60, stream=stream)
                status, raw = r.status_code, b"".join(r.iter_content(None))
            else:
                with urllib.request.urlopen(urllib.request.Request(URL, data=data, headers=H), timeout=60) as r:
                    status, raw = r.status, r.read()
            text = text_of(raw, stream)
            good = status == 200 and ("to: " + prompt + " ") in text
            with lock:
                if good:
                    ok += 1
                else:
                    bad.append("%s: status %d, text %r" % (prompt, status, text[:120]))
        except Exception as e:
            with lock:
                bad.append("%s: %s %s" % (prompt, type(e).__name__, str(e)[:120]))


threads = [threading.Thread(target=worker, args=(k,)) for k in range(THREADS)]
for th in threads:
    th.start()
for th in threads:
    th.join()
print(json.dumps({"ok": ok, "bad": bad}), flush=True)
