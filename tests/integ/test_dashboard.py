#!/usr/bin/python3
"""hc-analyze html and serve: the dashboard, checked in headless Chromium.

Stores come from hc_gen (--json-out gives the same records as JSON Lines, so
every number on the page is compared with a value computed here in Python)
or from `hc-analyze import` (hostile prompts). The page is driven through
chromedriver's W3C WebDriver API (tests/lib/webdriver.py): charts are
counted with DOM queries, the table is filtered, sorted and opened,
screenshots go to tests/artifacts/. `serve` is checked over HTTP (endpoints,
status codes, live updates while another process writes the store).

Only 127.0.0.1 is contacted. Without Chromium the browser checks print
"ok N - # SKIP <why>" and the rest still runs. Prints TAP lines and
"# N passed, N failed"; exits 1 on any failure.
"""
import base64
import hashlib
import http.client
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
from webdriver import Browser, Unavailable  # noqa: E402

BUILD = os.environ.get("HC_BUILD", os.path.join(ROOT, "build"))
ANA = os.path.join(BUILD, "hc-analyze")
GEN = os.path.join(BUILD, "tools", "hc_gen")
if os.environ.get("HC_ASAN_BUILD") and os.access(os.path.join(os.environ["HC_ASAN_BUILD"], "hc-analyze"), os.X_OK):
    ANA = os.path.join(os.environ["HC_ASAN_BUILD"], "hc-analyze")
ART = os.path.join(ROOT, "tests", "artifacts")

N_OK = N_FAIL = 0


def ok(cond, name, detail=None):
    global N_OK, N_FAIL
    if cond:
        N_OK += 1
        print("ok %d - %s" % (N_OK + N_FAIL, name))
    else:
        N_FAIL += 1
        print("not ok %d - %s" % (N_OK + N_FAIL, name))
        if detail is not None:
            for line in str(detail).splitlines()[:20]:
                print("#   " + line)
    sys.stdout.flush()
    return cond


def eq(got, want, name):
    return ok(got == want, name, "got  %r\nwant %r" % (got, want))


def skip(why):
    ok(True, "# SKIP " + why)


def env():
    e = dict(os.environ)
    for k in ("HC_DB", "COLUMNS", "LD_PRELOAD"):
        e.pop(k, None)
    return e


def run(*args, stdin=None):
    p = subprocess.run([ANA] + [str(a) for a in args], capture_output=True, env=env(), input=stdin, timeout=60)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def gen(db, *args):
    p = subprocess.run([GEN, "--db", db] + [str(a) for a in args], capture_output=True, timeout=60)
    if p.returncode != 0:
        print("# hc_gen failed: %s" % p.stderr.decode())
        sys.exit(1)


def load(path):
    with open(path) as f:
        return [json.loads(line) for line in f]


# --- independent computations (the CLI's spellings, analyzer/fmt.c) -------------------------

def group3(d):
    out = ""
    for i, ch in enumerate(d):
        if i and (len(d) - i) % 3 == 0:
            out += ","
        out += ch
    return out


def fmt_int(v):
    return ("-" if v < 0 else "") + group3(str(abs(v)))


def fmt_usd(n):
    if n == 0:
        return "$0"
    u = abs(n)
    # fmt_usd: cents from $1 up, else three significant digits (at most 9 decimals)
    dec = 2 if u >= 1_000_000_000 else min(9, 12 - len(str(u)))
    while True:
        div = 10 ** (9 - dec)
        r = (u + div // 2) // div
        if dec > 2 and u < 1_000_000_000 and r >= 1000:
            dec -= 1
            continue
        break
    whole, frac = divmod(r, 10 ** dec)
    return ("-" if n < 0 else "") + "$" + group3(str(whole)) + "." + str(frac).zfill(dec)


def model_of(r):
    return r["model_req"] or r["model_resp"]


def is_error(r):
    return r["status"] >= 400 or r["status"] <= 0


def pct(values, p):
    v = sorted(values)
    return v[max(1, (p * len(v) + 99) // 100) - 1] if v else None


def prompt_of(r):
    """The (single) user message of an hc_gen request body."""
    b = json.loads(r["request_body"])
    if "messages" in b:
        return b["messages"][-1]["content"]
    return b["contents"][-1]["parts"][0]["text"]


def openai_sse_text(body):
    out = ""
    for line in body.split("\n"):
        if line.startswith("data: ") and line[6:].strip() != "[DONE]":
            m = json.loads(line[6:])
            if m.get("choices"):
                out += m["choices"][0].get("delta", {}).get("content") or ""
    return out


def newest(recs, n):
    return sorted(recs, key=lambda r: r["id"], reverse=True)[:n]


# --- a browser, shared by every part ----------------------------------------------------------

class Web:
    def __init__(self):
        self.b = None
        self.why = None
        try:
            self.b = Browser(width=1400, height=1000)
        except Unavailable as e:
            self.why = str(e)

    def shot(self, name, full=True):
        b = self.b
        path = os.path.join(ART, name)
        if full:
            h = b.js("return document.documentElement.scrollHeight")
            b.resize(1400, min(h + 140, 6000))
            time.sleep(0.3)
        n = b.screenshot(path)
        if full:
            b.resize(1400, 1000)
        with open(path, "rb") as f:
            ok(n > 1000 and f.read(8) == b"\x89PNG\r\n\x1a\n", "screenshot saved: tests/artifacts/%s" % name)

    def renders(self):
        return int(self.b.js("return document.body.getAttribute('data-renders') || '0'"))

    def rows(self):
        return self.b.js("return Array.from(document.querySelectorAll('#req-table tbody tr'))"
                         ".map(function (t) { return t.getAttribute('data-id'); })")

    def close(self):
        if self.b:
            self.b.close()


# --- part 1: the static report ---------------------------------------------------------------

def script_bodies(html):
    """(attrs, body) of every <script> element."""
    return re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S)


def static_report(tmp, web):
    db, jl = os.path.join(tmp, "store"), os.path.join(tmp, "recs.jsonl")
    gen(db, "--count", 3000, "--with-bodies", "--span", "7d", "--json-out", jl)
    recs = load(jl)
    out = os.path.join(tmp, "report.html")
    rc, _, err = run("html", "--db", db, "-o", out)
    eq(rc, 0, "html -o exits 0")
    ok(re.search(r"wrote .*report\.html: 3,000 requests, 2,000 in the table", err), "html says what it wrote", err)
    eq(os.stat(out).st_mode & 0o777, 0o600, "the report is created 0600 (it holds prompts)")
    with open(out, encoding="utf-8") as f:
        html = f.read()

    # Self-contained: the page around the data names no URL, one executable script.
    page = re.sub(r'(<script type="application/json" id="hc-data">).*?(</script>)', r"\1\2", html, flags=re.S)
    refs = re.findall(r"""(?:src|href)\s*=\s*["']?([^"' >]+)""", page)
    ok(all(r.startswith("data:") for r in refs), "no external src/href (only data: URLs)", refs[:5])
    ok(not re.search(r"@import|url\(|https?://(?!www\.w3\.org/2000/svg)", page), "no @import, url() or http(s) URL in the page")
    scripts = script_bodies(html)
    code = [b for a, b in scripts if "application/json" not in a]
    eq(len(code), 1, "exactly one executable inline script")
    csp = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)">', html)
    ok(csp and "default-src 'none'" in csp.group(1) and "img-src data:" in csp.group(1), "CSP meta tag: default-src 'none'")
    style = re.search(r"<style>(.*?)</style>", html, re.S).group(1)
    h_js = base64.b64encode(hashlib.sha256(code[0].encode()).digest()).decode()
    h_css = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    ok(csp and "script-src 'sha256-%s'" % h_js in csp.group(1) and "style-src 'sha256-%s'" % h_css in csp.group(1),
       "CSP allows the inline script and style by their SHA-256, nothing else", csp and csp.group(1))

    data = json.loads([b for a, b in scripts if 'id="hc-data"' in a][0])
    S = data["summary"]
    total = sum(r["cost_nusd"] for r in recs)
    eq((S["requests"], S["cost_nusd"]), (len(recs), total), "embedded document: requests and spend")
    by_model = {}
    for r in recs:
        by_model[model_of(r)] = by_model.get(model_of(r), 0) + r["cost_nusd"]
    eq({g["key"]: g["cost_nusd"] for g in data["by_model"]["groups"]}, by_model, "embedded document: cost by model")
    want_rows = newest(recs, 2000)
    eq([r["id"] for r in data["requests"]["rows"]], [r["id"] for r in want_rows], "table rows: the newest 2,000, newest first")
    eq(sum(b["requests"] for b in data["series"]["buckets"]), len(recs), "series buckets add up to every request")
    eq(data["series"]["unit"], "hour", "auto unit for a 7-day span: hour")

    rc, js_out, _ = run("html", "--db", db, "--json", "--limit", 5, "--body-max", 0, "--model", "gpt-4o")
    d2 = json.loads(js_out) if rc == 0 else {}
    gpt = [r for r in recs if r["model_req"] == "gpt-4o" or r["model_resp"] == "gpt-4o"]
    ok(rc == 0 and d2["summary"]["requests"] == len(gpt) and len(d2["requests"]["rows"]) == 5 and
       all(r["excerpt"] is None and r["detail"]["request_body"] is None for r in d2["requests"]["rows"]) and
       d2["filters"] == [["model", "gpt-4o"]],
       "html --json --limit 5 --body-max 0 --model gpt-4o: filtered, 5 rows, no bodies")
    rc, _, err = run("html", "--db", db, "--bucket", "minute", "-o", os.path.join(tmp, "x.html"))
    ok(rc == 2 and "more than 10000" in err and len(err.strip().splitlines()) == 1 and
       not os.path.exists(os.path.join(tmp, "x.html")), "a series of more than 10,000 buckets is refused (exit 2), no file", err)
    for args, what in ((["--csv"], "--csv"), (["--bucket", "fortnight"], "--bucket fortnight"),
                       (["--body-max", "lots"], "--body-max lots"), (["--by-property", ""], "--by-property ''")):
        rc, _, err = run("html", "--db", db, "-o", os.path.join(tmp, "y.html"), *args)
        ok(rc == 2 and len(err.strip().splitlines()) == 1, "html %s: exit 2 with one line" % what, err)

    if not web.b:
        skip("static report in Chromium: " + web.why)
        return
    b = web.b
    b.get("file://" + out)
    eq(b.wait(lambda: web.renders() >= 1), True, "the report renders from file://")
    eq(b.js("return performance.getEntriesByType('resource').length"), 0, "the report loads no resource at all")
    card = lambda k: b.js("return document.querySelector('#card-%s .value').textContent" % k)
    sub = lambda k: b.js("return document.querySelector('#card-%s .sub').textContent" % k)
    eq(card("requests"), fmt_int(len(recs)), "requests card = the record count")
    eq(card("spend"), fmt_usd(total), "spend card = total cost (CLI format)")
    unpriced = sum(1 for r in recs if r["cost_flags"] & 2)
    ok(sub("spend").startswith("+ %s unpriced" % fmt_int(unpriced)), "spend card says how many are unpriced", sub("spend"))

    parts = b.js("return Array.from(document.querySelectorAll('#chart-spend rect.bar')).map(function (r) {"
                 " return +r.getAttribute('data-value'); })")
    ok(len(parts) > 100 and sum(parts) == total, "spend over time: stacked bars add up to the total spend",
       "%d bars, sum %s vs %s" % (len(parts), sum(parts), total))
    eq(b.js("return document.querySelectorAll('#legend-spend .item').length"), len(data["series"]["models"]),
       "spend over time: one legend entry per stacked model")

    bars = b.js("return Array.from(document.querySelectorAll('#chart-model rect.bar')).map(function (r) {"
                " return [r.getAttribute('data-key'), +r.getAttribute('data-value'), +r.getAttribute('data-requests')]; })")
    eq(len(bars), len(by_model), "cost by model: one bar per model")
    eq({k: v for k, v, _ in bars}, by_model, "cost by model: every bar's cost")
    labels = b.js("return Array.from(document.querySelectorAll('#chart-model text.value')).map(function (t) { return t.textContent; })")
    n4o = sum(1 for r in recs if model_of(r) == "gpt-4o")
    ok(fmt_usd(by_model["gpt-4o"]) + " · " + fmt_int(n4o) + " req" in labels, "cost by model: gpt-4o label in CLI format", labels[:3])

    ub = b.js("return Array.from(document.querySelectorAll('#chart-user rect.bar')).map(function (r) { return +r.getAttribute('data-value'); })")
    users = {r["user"] for r in recs}
    eq((len(ub), sum(ub)), (min(len(users), 20) + (len(users) > 20), total), "cost by user: top 20 + the rest, adding up")
    names = {}
    for r in recs:
        for k in r["props"]:
            names[k] = names.get(k, 0) + 1
    top = sorted(names.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]
    eq(b.js("return document.getElementById('prop-name').textContent"), top, "cost by property: the most common name")
    pb = b.js("return Array.from(document.querySelectorAll('#chart-prop rect.bar')).map(function (r) { return +r.getAttribute('data-value'); })")
    eq(sum(pb), total, "cost by property: values add up to the total")

    lat = [max(r["latency_us"], 0) for r in recs]
    bins = b.js("return Array.from(document.querySelectorAll('#chart-latency rect.bin')).map(function (r) { return +r.getAttribute('data-count'); })")
    ok(len(bins) == len(data["latency"]["bins"]) and sum(bins) == len(recs), "latency histogram: bins hold every request",
       "%d bins, %d" % (len(bins), sum(bins)))
    marks = b.js("return Array.from(document.querySelectorAll('#chart-latency line.marker')).map(function (l) {"
                 " return [l.getAttribute('data-p'), +l.getAttribute('data-value')]; })")
    eq(marks, [["50", pct(lat, 50)], ["95", pct(lat, 95)], ["99", pct(lat, 99)]], "latency histogram: p50/p95/p99 marked (exact)")
    eq(b.js("return Array.from(document.querySelectorAll('#chart-rates path.line')).map(function (p) { return p.getAttribute('data-series'); })"),
       ["errors", "cache"], "error rate and cache-hit rate: two lines")
    rl = b.js("return Array.from(document.querySelectorAll('#chart-429 rect.bar')).map(function (r) { return +r.getAttribute('data-value'); })")
    # One vocabulary (agg.h): each request once, a block never also a provider 429.
    n429 = sum(1 for r in recs if not r["flags"] & 128 and (r["status"] == 429 or r["flags"] & 2048)) \
        + sum(1 for r in recs if r["flags"] & 128)
    eq(sum(rl), n429, "rate limits: provider 429s, rate-limit and budget blocks over time, each request once")
    low = min(int(r["ratelimit"]["x-ratelimit-remaining-requests"]) for r in recs
              if r["provider"] == "openai" and "x-ratelimit-remaining-requests" in r["ratelimit"])
    cells = b.js("return Array.from(document.querySelectorAll('#rl-table tbody tr')).map(function (t) {"
                 " return [t.cells[0].textContent, t.cells[2].textContent]; })")
    ok(["openai", fmt_int(low)] in cells, "lowest remaining requests seen (openai)", cells)
    quotas = b.js("return Array.from(document.querySelectorAll('#rl-table tbody tr')).map(function (t) {"
                  " return [t.cells[0].textContent, t.cells[1].textContent]; })")
    ok(["openai", "requests"] in quotas and len(set(map(tuple, quotas))) == len(quotas),
       "quota table: each row says which limit it is (no two rows alike)", quotas)
    web.shot("dashboard-report.png")

    # The table: filter box, selects, sorting, detail view.
    eq(len(web.rows()), 2000, "requests table: 2,000 rows")
    b.send_keys(b.find("#req-filter"), "user-03")
    eq(len(web.rows()), sum(1 for r in want_rows if r["user"] == "user-03"), "typing 'user-03' in the filter box")
    b.clear(b.find("#req-filter"))
    eq(len(web.rows()), 2000, "clearing the filter box")
    b.click(b.find('#req-model option[value="gpt-4o"]'))
    eq(len(web.rows()), sum(1 for r in want_rows if model_of(r) == "gpt-4o"), "model select: gpt-4o")
    b.click(b.find('#req-model option[value=""]'))
    b.click(b.find('#req-status option[value="error"]'))
    eq(len(web.rows()), sum(1 for r in want_rows if is_error(r)), "status select: errors")
    b.click(b.find('#req-status option[value=""]'))
    no_usage = lambda r: r["cost_flags"] & 8 and 200 <= r["status"] < 300 and not r["flags"] & 2
    eq(b.js("return Array.from(document.querySelectorAll('#req-table td.num.muted')).map(function (t) { return t.textContent; })"
            ".filter(function (t) { return t === 'no usage'; }).length"), sum(1 for r in want_rows if no_usage(r)),
       "answers without usage show 'no usage', not $0")
    cost = {r["id"]: (-1 if r["cost_flags"] & 2 or no_usage(r) else r["cost_nusd"]) for r in want_rows}
    b.click(b.find('th[data-col="cost"]'))
    order = [cost[i] for i in web.rows()]
    ok(order == sorted(order, reverse=True) and order[0] == max(cost.values()), "click Cost: most expensive first")
    b.click(b.find('th[data-col="cost"]'))
    order = [cost[i] for i in web.rows()]
    ok(order == sorted(order), "click Cost again: cheapest first")
    b.click(b.find('th[data-col="time"]'))
    eq(web.rows()[:3], [r["id"] for r in want_rows[:3]], "click Time: newest first again")

    stream = next(r for r in want_rows if r["flags"] & 1 and r["provider"] == "openai" and r["request_body"])
    b.click(b.find('#req-table tr[data-id="%s"]' % stream["id"]))
    b.wait(lambda: not b.js("return document.getElementById('detail').hidden"))
    prompt = b.js("return document.getElementById('detail-prompt').textContent")
    ok(prompt_of(stream) in prompt, "row click: the detail shows the whole prompt", prompt[:200])
    eq(b.js("return document.querySelector('#detail-response pre').textContent"), openai_sse_text(stream["response_body"]),
       "detail: the answer reassembled from the SSE stream")
    ok("SSE" in b.js("return document.getElementById('detail-response-title').textContent"), "detail: says it was reassembled")
    eq(b.js("return document.getElementById('detail-raw-resp').textContent"), stream["response_body"], "detail: the raw stream")
    web.shot("dashboard-detail.png", full=False)
    b.js("document.dispatchEvent(new KeyboardEvent('keydown', {key: 'Escape'}))")
    eq(b.js("return document.getElementById('detail').hidden"), True, "Escape closes the detail view")


# --- part 2: hostile content -----------------------------------------------------------------

HOSTILE = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=1</script></script><!-- \u2028&amp;'


def hostile_records():
    base = 1790812800000000
    recs = []
    for i in range(4):
        rid = "01a0f000-0000-7000-8000-%012x" % (i + 1)
        streamed = i == 1
        body = {"model": HOSTILE, "messages": [{"role": "system", "content": "sys " + HOSTILE},
                                             {"role": "user", "content": HOSTILE + " #%d" % i}]}
        if streamed:
            resp = "data: %s\n\ndata: [DONE]\n\n" % json.dumps({"choices": [{"delta": {"content": HOSTILE}}]})
        else:
            resp = json.dumps({"choices": [{"message": {"role": "assistant", "content": "answer " + HOSTILE}}]})
        recs.append({
            "id": rid, "start_us": base + i * 1000000, "latency_us": 1000 + i, "ttft_us": 500,
            "host": "api.openai.com", "provider": "openai", "api": "chat", "method": "POST",
            "path": "/v1/chat/completions", "model_req": HOSTILE, "model_resp": HOSTILE,
            "status": 500 if i == 3 else 200, "error": HOSTILE if i == 3 else "",
            "tok_in": 10, "tok_out": 5, "cost_nusd": 1234, "cost_flags": 1,
            "props": {HOSTILE: HOSTILE, "Workflow": HOSTILE}, "user": HOSTILE, "session_id": HOSTILE,
            "session_path": "/" + HOSTILE, "flags": 1 if streamed else 0,
            "ratelimit": {"x-ratelimit-remaining-requests": "5", "x-ratelimit-limit-requests": "10"},
            "program": HOSTILE, "request_body": json.dumps(body), "response_body": resp,
        })
    return recs


def hostile(tmp, web):
    db, jl = os.path.join(tmp, "hostile"), os.path.join(tmp, "hostile.jsonl")
    recs = hostile_records()
    with open(jl, "w") as f:
        for r in recs:
            f.write(json.dumps(r) + "\n")
    rc, _, err = run("import", "--db", db, jl)
    eq(rc, 0, "hostile records imported")
    out = os.path.join(tmp, "hostile.html")
    rc, _, err = run("html", "--db", db, "-o", out)
    eq(rc, 0, "html over hostile records exits 0")
    with open(out, encoding="utf-8") as f:
        html = f.read()
    ok("<img src=x" not in html and "window.__pwned=1</script>" not in html and "\u2028" not in html,
       "hostile markup never appears raw in the file (< > & U+2028 escaped in the JSON)")
    eq(len(script_bodies(html)), 3, "the data cannot close its <script> element (3 scripts in the file)")
    if not web.b:
        skip("hostile content in Chromium: " + web.why)
        return db
    b = web.b
    b.get("file://" + out)
    eq(b.wait(lambda: web.renders() >= 1), True, "the hostile report renders")
    check_hostile(web, "report")
    return db


def check_hostile(web, where):
    b = web.b
    eq(b.js("return typeof window.__pwned"), "undefined", "%s: no script ran after load" % where)
    eq(b.js("return document.querySelectorAll('img, iframe, object, embed, [onerror]').length"), 0,
       "%s: no element came from the data" % where)
    ok(b.js("return document.querySelector('#req-table td.prompt').textContent").startswith(HOSTILE),
       "%s: the prompt excerpt is shown literally" % where)
    ok(HOSTILE in b.js("return Array.from(document.querySelectorAll('#chart-model text')).map(function (t) {"
                       " return t.querySelector('title') ? t.querySelector('title').textContent : t.textContent; }).join('|')"),
       "%s: a hostile model name is chart text" % where)
    b.click(b.find("#req-table tbody tr"))
    b.wait(lambda: b.js("return document.querySelectorAll('#detail-prompt pre').length") == 2)
    eq(b.js("return Array.from(document.querySelectorAll('#detail-prompt pre')).map(function (p) { return p.textContent; })"),
       ["sys " + HOSTILE, HOSTILE + " #3"], "%s: the detail shows the hostile prompt literally" % where)
    ok(HOSTILE in b.js("return document.getElementById('detail-fields').textContent"), "%s: hostile fields are text" % where)
    eq(b.js("return typeof window.__pwned"), "undefined", "%s: no script ran after opening the detail" % where)
    web.shot("dashboard-hostile-%s.png" % where, full=False)
    b.js("document.dispatchEvent(new KeyboardEvent('keydown', {key: 'Escape'}))")


# --- part 3: serve ---------------------------------------------------------------------------

class Server:
    def __init__(self, *args):
        self.p = subprocess.Popen([ANA, "serve", "--port", "0"] + [str(a) for a in args], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, env=env())
        r, _, _ = select.select([self.p.stdout], [], [], 10)
        line = self.p.stdout.readline().decode() if r else ""
        m = re.match(r"serving on http://127\.0\.0\.1:(\d+)/$", line.strip())
        self.port = int(m.group(1)) if m else None
        self.url = "http://127.0.0.1:%d" % self.port if m else None
        self.line = line

    def get(self, path, method="GET", data=None, headers=None):
        req = urllib.request.Request(self.url + path, method=method, data=data, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=20) as r:
                return r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()

    def json(self, path):
        st, _, body = self.get(path)
        return st, json.loads(body)

    def stop(self, sig=signal.SIGTERM):
        self.p.send_signal(sig)
        try:
            rc = self.p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.p.kill()
            rc = self.p.wait()
        self.p.stdout.close()
        self.p.stderr.close()
        return rc


def raw_request(port, data, timeout=10):
    """Send bytes, return the whole answer (until the server closes)."""
    import socket
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.sendall(data)
    out = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
    except socket.timeout:
        pass
    s.close()
    return out


def serve(tmp, web, hostile_db):
    for bind in ("0.0.0.0", "::", "192.0.2.1"):
        p = subprocess.run([ANA, "serve", "--port", "0", "--bind", bind, "--db", tmp], capture_output=True,
                           env=env(), timeout=20)
        err = p.stderr.decode()
        ok(p.returncode == 2 and len(err.strip().splitlines()) == 1 and "--allow-remote" in err,
           "serve --bind %s without --allow-remote: exit 2, one line" % bind, err)

    db, jl = os.path.join(tmp, "live"), os.path.join(tmp, "live.jsonl")
    gen(db, "--count", 300, "--seed", 5, "--with-bodies", "--span", "2h", "--start", "2026-10-01", "--json-out", jl)
    recs = load(jl)
    srv = Server("--db", db)
    if not ok(srv.port, "serve prints 'serving on http://127.0.0.1:PORT/'", srv.line):
        return
    try:
        serve_http(srv, recs)
        if web.b:
            serve_browser(srv, web, db, recs, tmp)
        else:
            skip("live view in Chromium: " + web.why)
    finally:
        eq(srv.stop(), 0, "SIGTERM: serve exits 0")

    if web.b:
        hs = Server("--db", hostile_db)
        try:
            web.b.get(hs.url + "/")
            eq(web.b.wait(lambda: web.renders() >= 1), True, "the live view renders hostile records")
            check_hostile(web, "live")
        finally:
            eq(hs.stop(signal.SIGINT), 0, "SIGINT: serve exits 0")
    else:
        skip("hostile content in the live view: " + web.why)


def serve_http(srv, recs):
    total = sum(r["cost_nusd"] for r in recs)
    st, d = srv.json("/api/summary")
    eq((st, d["summary"]["requests"], d["summary"]["cost_nusd"]), (200, len(recs), total), "/api/summary: requests and spend")
    st, d = srv.json("/api/requests?limit=10")
    eq([r["id"] for r in d["requests"]], [r["id"] for r in newest(recs, 10)], "/api/requests?limit=10: the newest 10")
    st, d = srv.json("/api/requests?limit=0&model=gpt-4o&status=200")
    want = [r for r in recs if "gpt-4o" in (r["model_req"], r["model_resp"]) and r["status"] == 200]
    eq(d["count"], len(want), "/api/requests with model and status filters")
    st, d = srv.json("/api/timeseries?bucket=minute")
    ok(st == 200 and d["unit"] == "minute" and sum(b["requests"] for b in d["buckets"]) == len(recs) and
       sum(b["cost_nusd"] for b in d["buckets"]) == total, "/api/timeseries?bucket=minute adds up")
    st, d = srv.json("/api/dashboard?where=Workflow%3Dresearch")
    want = [r for r in recs if r["props"].get("Workflow") == "research"]
    ok(st == 200 and d["requests"]["total"] == len(want) and d["filters"] == [], "/api/dashboard?where=Workflow=research")
    r0 = next(r for r in newest(recs, 50) if r["request_body"])
    st, d = srv.json("/api/request/" + r0["id"])
    ok(st == 200 and d["record"]["id"] == r0["id"] and prompt_of(r0) in [m["text"] for m in d["prompt"]],
       "/api/request/ID: the record and its prompt")
    hexes = [r["id"].replace("-", "") for r in recs]
    n = next(n for n in range(8, 33) if sum(1 for x in hexes if x.startswith(r0["id"].replace("-", "")[:n])) == 1)
    st, d = srv.json("/api/request/" + r0["id"].replace("-", "")[:n])
    eq((st, d.get("record", {}).get("id")), (200, r0["id"]), "/api/request/PREFIX (a unique prefix of %d hex digits)" % n)
    amb = next(x[:8] for x in hexes if sum(1 for y in hexes if y.startswith(x[:8])) > 1)
    st, _, body = srv.get("/api/request/" + amb)
    eq(st, 404, "/api/request/PREFIX matching several records: 404")
    st, d = srv.json("/api/request/" + r0["id"][-8:])
    eq((st, d.get("record", {}).get("id")), (200, r0["id"]),
       "/api/request/ID with the 8 characters a table's ID column shows (the id's end), as show takes it")
    st, _, body = srv.get("/api/request/ffffffff-ffff")
    ok(st == 404 and "error" in json.loads(body), "/api/request/unknown: 404 with a JSON error")

    st, h, body = srv.get("/nope")
    eq(st, 404, "unknown path: 404")
    st, h, body = srv.get("/api/summary", method="POST", data=b"x" * 5000)
    ok(st == 405 and h.get("Allow") == "GET, HEAD", "POST: 405 with Allow: GET, HEAD", h)
    st, _, body = srv.get("/api/summary?since=yesterday")
    ok(st == 400 and "since" in json.loads(body)["error"], "a bad filter value: 400 naming it")
    st, _, body = srv.get("/api/summary?colour=blue")
    ok(st == 400 and "colour" in json.loads(body)["error"], "an unknown parameter: 400")
    st, _, _ = srv.get("/api/summary", headers={"Host": "attacker.example:%d" % srv.port})
    eq(st, 421, "a foreign Host header (DNS rebinding): 421")
    st, h, body = srv.get("/")
    ok(st == 200 and h.get("Content-Type") == "text/html; charset=utf-8" and int(h["Content-Length"]) == len(body) and
       h.get("Cache-Control") == "no-store" and "default-src 'none'" in h.get("Content-Security-Policy", "") and
       "connect-src 'self'" in h.get("Content-Security-Policy", ""), "/: HTML, exact Content-Length, no-store, CSP header", h)
    st, h, body = srv.get("/api/summary", method="HEAD")
    ok(st == 200 and body == b"" and int(h["Content-Length"]) > 100 and h["Content-Type"].startswith("application/json"),
       "HEAD: headers only")
    c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
    answers = []
    for path in ("/api/summary", "/api/requests?limit=1", "/api/summary"):
        c.request("GET", path)
        r = c.getresponse()
        answers.append((r.status, len(r.read())))
    c.close()
    ok(all(a[0] == 200 and a[1] > 0 for a in answers), "keep-alive: three requests on one connection", answers)
    out = raw_request(srv.port, b"GET /api/summary HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\nGET /nope HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
    ok(out.startswith(b"HTTP/1.1 200 ") and b"HTTP/1.1 404 " in out, "pipelined requests are answered in order")
    out = raw_request(srv.port, b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n")
    ok(out.startswith(b"HTTP/1.1 431 "), "a 20 KB request head: 431", out[:60])
    out = raw_request(srv.port, b"BREW /pot HTTP/1.1\r\n\r\n")
    ok(out.startswith(b"HTTP/1.1 405 "), "an unknown method: 405", out[:60])
    out = raw_request(srv.port, b"GET /\x00 HTTP/1.1\r\n\r\n")
    ok(out.startswith(b"HTTP/1.1 400 "), "a malformed request: 400", out[:60])


def serve_browser(srv, web, db, recs, tmp):
    b = web.b
    b.get(srv.url + "/")
    eq(b.wait(lambda: web.renders() >= 1), True, "the live view renders")
    card = lambda k: b.js("return document.querySelector('#card-%s .value').textContent" % k)
    eq(card("requests"), fmt_int(len(recs)), "live view: requests card")
    eq(card("spend"), fmt_usd(sum(r["cost_nusd"] for r in recs)), "live view: spend card")
    eq(b.js("return document.getElementById('live').hidden"), False, "live view: the live badge is on")
    b.js("window.__sameDocument = 1")
    more = os.path.join(tmp, "more.jsonl")
    t0 = time.monotonic()
    gen(db, "--count", 40, "--seed", 6, "--with-bodies", "--span", "2h", "--start", "2026-10-01", "--json-out", more)
    recs2 = recs + load(more)
    shown = b.wait(lambda: card("requests") == fmt_int(len(recs2)), timeout=8)
    ok(shown, "records written meanwhile appear without a reload (%.1f s)" % (time.monotonic() - t0), card("requests"))
    eq(card("spend"), fmt_usd(sum(r["cost_nusd"] for r in recs2)), "live view: the spend follows")
    eq(b.js("return window.__sameDocument"), 1, "live view: same document (no reload)")
    eq(len(web.rows()), len(recs2), "live view: the table has the new rows")
    r0 = next(r for r in newest(recs2, 20) if r["request_body"])
    b.click(b.find('#req-table tr[data-id="%s"]' % r0["id"]))
    b.wait(lambda: prompt_of(r0) in b.js("return document.getElementById('detail-prompt').textContent"))
    ok(prompt_of(r0) in b.js("return document.getElementById('detail-prompt').textContent"),
       "live view: a row opens its prompt (fetched from /api/request/ID)")
    b.js("document.dispatchEvent(new KeyboardEvent('keydown', {key: 'Escape'}))")
    other = b.js("return Array.from(document.querySelectorAll('#prop-select option')).map(function (o) { return o.value; })")
    ok(len(other) >= 2, "live view: the property select lists the property names", other)
    pick = [n for n in other if n != b.js("return document.getElementById('prop-select').value")][0]
    b.click(b.find('#prop-select option[value="%s"]' % pick))
    vals = {r["props"].get(pick, "") for r in recs2}
    got = b.wait(lambda: set(b.js("return Array.from(document.querySelectorAll('#chart-prop rect.bar')).map(function (r) {"
                                  " return r.getAttribute('data-key'); })")) == vals, timeout=8)
    ok(got, "live view: choosing property %s redraws the breakdown" % pick)
    web.shot("dashboard-live.png")


def main():
    if not (os.access(ANA, os.X_OK) and os.access(GEN, os.X_OK)):
        print("# build first: make B=build build/hc-analyze build/tools/hc_gen")
        return 1
    os.makedirs(ART, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="hc-dash-")
    web = Web()
    if web.b is None:
        print("# Chromium unavailable: %s" % web.why)
    try:
        static_report(tmp, web)
        hdb = hostile(tmp, web)
        serve(tmp, web, hdb)
    finally:
        web.close()
        shutil.rmtree(tmp, ignore_errors=True)
    print("1..%d" % (N_OK + N_FAIL))
    print("# %d passed, %d failed" % (N_OK, N_FAIL))
    return 1 if N_FAIL else 0


if __name__ == "__main__":
    sys.exit(main())
