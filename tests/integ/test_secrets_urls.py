#!/usr/bin/python3
"""Credentials in URLs and header values never reach anything the product writes
(issue 14, item 6).

Keys travel in every place a key can travel through the gateway:
- Helicone-Fallbacks target-url: query (?key=, ?subscription-key=,
  ?auth_token=, percent-encoded %6Bey=, ;key=) and userinfo (user:KEY@),
  with the primary failing (503) so the fallbacks are used and fail;
- the app's own request URL: the same query forms;
- bad header values (Helicone-RateLimit-Policy, Helicone-Fallback-OnCodes);
- HC_ROUTE with userinfo (an invalid route: logged);
- the Authorization header.
Then every file the product writes is searched for every key: the store's
files, `export` (jsonl with bodies, csv, otlp), `html`, `show` of every
record, `requests --json`, the HC_LOG file and the programs' stderr. The app
still gets its answers (compared with the same calls without the keys).
"""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from hctest import TAP, World  # noqa: E402

KEYS = ["sk-leak-fbq-%02d-5f3a9c" % i for i in range(16)]
URL = "https://api.openai.com/v1/chat/completions"
BODY = json.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "where do keys go"}]})


def curl(w, url, *headers, **env):
    argv = ["curl", "-sS", "-w", "\n%{http_code}", url, "-d", BODY, "-H", "Content-Type: application/json",
            "-H", "Authorization: Bearer " + KEYS[0]]
    for h in headers:
        argv += ["-H", h]
    r = w.run(argv, timeout=60, **env)
    return r, r.stdout.rpartition("\n")[2]


def main():
    t = TAP()
    with World() as w:
        log = os.path.join(w.dir, "hc.log")
        env = {"HC_LOG": log, "HC_DEBUG": "1",
               "HC_ROUTE": ",".join("%s=%s" % (h, w.mock.url) for h in w.routed) +
               ",api.mistral.ai=https://u:%s@bad host" % KEYS[1]}
        stderr = []

        # Fallbacks whose target URLs carry keys; the primary fails.
        w.mock.script([{"status": 503}] * 4, match={"model": "gpt-4o-mini"})
        fbs = [{"target-url": "https://127.0.0.1:1/v1?key=%s" % KEYS[2], "onCodes": [503]},
               {"target-url": "https://api.groq.com/openai?subscription-key=%s&auth_token=%s&%%6Bey=%s;key=%s"
                % (KEYS[3], KEYS[4], KEYS[5], KEYS[6]), "onCodes": [503]}]
        r, code = curl(w, URL, "Helicone-Fallbacks: " + json.dumps(fbs), **env)
        stderr.append(r.stderr)
        t.ok(code in ("200", "404", "502", "503"), "fallbacks with keys in their URLs: an HTTP answer (%s)" % code, r.stderr)
        fbs = [{"target-url": "https://user:%s@api.groq.com/openai" % KEYS[7], "onCodes": [503]}]
        r, code = curl(w, URL, "Helicone-Fallbacks: " + json.dumps(fbs), **env)
        stderr.append(r.stderr)
        t.eq(code, "400", "a target-url with user:KEY@: 400")
        t.ok(KEYS[7] not in r.stdout and "REDACTED" in r.stdout, "... whose error names the URL without the key",
             r.stdout)

        # The app's own URL.
        w.mock.reset()
        r, code = curl(w, URL + "?subscription-key=%s&auth_token=%s&%%6Bey=%s;key=%s"
                       % (KEYS[8], KEYS[9], KEYS[10], KEYS[11]), **env)
        stderr.append(r.stderr)
        t.eq(code, "200", "keys in the app's query string: the call succeeds")
        got = w.mock.requests[-1]["query"] if w.mock.requests else ""
        t.ok(KEYS[8] in got and KEYS[11] in got, "... and the provider still gets them (only what is kept is redacted)",
             got)

        # Bad header values.
        r, code = curl(w, URL, "Helicone-RateLimit-Policy: " + KEYS[12], **env)
        stderr.append(r.stderr)
        t.ok(code == "400" and KEYS[12] not in r.stdout, "a bad Helicone-RateLimit-Policy: 400, value not echoed",
             r.stdout)
        r, code = curl(w, URL, "Helicone-RateLimit-Policy: 10;w=60;" + KEYS[13], **env)
        stderr.append(r.stderr)
        t.ok(code == "400" and KEYS[13] not in r.stdout, "a bad policy field: 400, value not echoed", r.stdout)
        r, code = curl(w, URL, "Helicone-Fallback-Model: gpt-4o", "Helicone-Fallback-OnCodes: " + KEYS[14], **env)
        stderr.append(r.stderr)
        t.ok(code == "400" and KEYS[14] not in r.stdout, "a bad Helicone-Fallback-OnCodes: 400, value not echoed",
             r.stdout)

        recs = w.records(wait_for=6)
        t.ok(len(recs) >= 6, "every exchange is recorded (%d)" % len(recs))

        # Everything the product writes.
        outputs = {"store files": w.store_bytes().decode("latin-1")}
        for fmt in ("jsonl", "csv", "otlp"):
            args = ["export", "--format", fmt] + (["--bodies"] if fmt == "jsonl" else [])
            outputs["export " + fmt] = w.analyze(*args).stdout
        html = os.path.join(w.dir, "d.html")
        w.analyze("html", "-o", html)
        with open(html, encoding="utf-8", errors="replace") as f:
            outputs["html"] = f.read()
        outputs["requests --json"] = w.analyze("requests", "--json", "--limit", "0").stdout
        outputs["show"] = "".join(w.analyze("show", r["id"]).stdout for r in recs)
        with open(log, encoding="utf-8", errors="replace") as f:
            outputs["HC_LOG"] = f.read()
        outputs["stderr"] = "".join(stderr)
        t.ok("REDACTED" in outputs["export jsonl"], "the records keep the URLs, redacted")
        for name, text in outputs.items():
            leaked = [k for k in KEYS if k in text]
            t.ok(not leaked, "%s: no key (%d bytes searched)" % (name, len(text)), leaked)
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
