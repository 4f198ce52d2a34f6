"""feat_call.py — an ordinary app for the gateway-feature tests (test_feature_*.py).

It knows nothing about hcshim: it POSTs to the providers' default URLs
(https://api.openai.com/v1/...) with whatever headers and bodies the test asks
for, using one of several real HTTP clients, and prints what it received.

argv: SPEC_FILE   a JSON file:
  {"lib": "urllib" | "requests" | "httpx" | "httpx-async",
   "concurrent": false,   # httpx-async only: fire every request at once (asyncio.gather)
   "pause": 0.0,          # seconds to sleep between sequential requests
   "requests": [{"url": ..., "headers": {...}, "body": "<exact bytes as text>"}, ...]}

stdout: first {"pid": PID}, then one JSON line per request, in request order:
  {"i": N, "status": S, "headers": {lower-case name: value}, "body": text,
   "t_start": seconds since program start, "elapsed": seconds}
  or {"i": N, "error": "..."} if the client raised (connection failure etc.).
Never exits with a traceback for a failed request.
"""
import asyncio
import json
import os
import sys
import time

T0 = time.monotonic()


def emit(obj):
    print(json.dumps(obj), flush=True)


def lower(headers):
    out = {}
    for k, v in headers:
        k = k.lower()
        out[k] = (out[k] + ", " + v) if k in out else v
    return out


def result(i, t_start, status, headers, body):
    return {"i": i, "status": status, "headers": lower(headers), "body": body,
            "t_start": t_start - T0, "elapsed": time.monotonic() - t_start}


def run_urllib(reqs, pause):
    import urllib.error
    import urllib.request
    for i, r in enumerate(reqs):
        if i and pause:
            time.sleep(pause)
        t = time.monotonic()
        q = urllib.request.Request(r["url"], data=r["body"].encode(), headers=r["headers"], method="POST")
        try:
            with urllib.request.urlopen(q, timeout=30) as resp:
                emit(result(i, t, resp.status, resp.headers.items(), resp.read().decode("utf-8", "replace")))
        except urllib.error.HTTPError as e:
            emit(result(i, t, e.code, e.headers.items(), e.read().decode("utf-8", "replace")))
        except Exception as e:  # connection failures: reported, not raised
            emit({"i": i, "error": repr(e), "elapsed": time.monotonic() - t})


def run_requests(reqs, pause):
    import requests
    s = requests.Session()
    for i, r in enumerate(reqs):
        if i and pause:
            time.sleep(pause)
        t = time.monotonic()
        try:
            resp = s.post(r["url"], data=r["body"].encode(), headers=r["headers"], timeout=30, stream=True)
            body = b"".join(resp.iter_content(None)).decode("utf-8", "replace")
            emit(result(i, t, resp.status_code, resp.headers.items(), body))
        except Exception as e:
            emit({"i": i, "error": repr(e), "elapsed": time.monotonic() - t})


def run_httpx(reqs, pause):
    import httpx
    with httpx.Client(timeout=30) as c:
        for i, r in enumerate(reqs):
            if i and pause:
                time.sleep(pause)
            t = time.monotonic()
            try:
                with c.stream("POST", r["url"], content=r["body"].encode(), headers=r["headers"]) as resp:
                    body = b"".join(resp.iter_bytes()).decode("utf-8", "replace")
                    emit(result(i, t, resp.status_code, resp.headers.multi_items(), body))
            except Exception as e:
                emit({"i": i, "error": repr(e), "elapsed": time.monotonic() - t})


async def run_httpx_async(reqs, pause, concurrent):
    import httpx

    async def one(c, i, r):
        t = time.monotonic()
        try:
            async with c.stream("POST", r["url"], content=r["body"].encode(), headers=r["headers"]) as resp:
                body = b"".join([b async for b in resp.aiter_bytes()]).decode("utf-8", "replace")
                return result(i, t, resp.status_code, resp.headers.multi_items(), body)
        except Exception as e:
            return {"i": i, "error": repr(e), "elapsed": time.monotonic() - t}

    limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
    async with httpx.AsyncClient(timeout=30, limits=limits) as c:
        if concurrent:
            for res in await asyncio.gather(*[one(c, i, r) for i, r in enumerate(reqs)]):
                emit(res)
        else:
            for i, r in enumerate(reqs):
                if i and pause:
                    await asyncio.sleep(pause)
                emit(await one(c, i, r))


def main():
    with open(sys.argv[1]) as f:
        spec = json.load(f)
    emit({"pid": os.getpid()})
    lib, reqs, pause = spec.get("lib", "urllib"), spec["requests"], float(spec.get("pause", 0))
    if lib == "urllib":
        run_urllib(reqs, pause)
    elif lib == "requests":
        run_requests(reqs, pause)
    elif lib == "httpx":
        run_httpx(reqs, pause)
    elif lib == "httpx-async":
        asyncio.run(run_httpx_async(reqs, pause, bool(spec.get("concurrent"))))
    else:
        print("unknown lib %r" % lib, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
