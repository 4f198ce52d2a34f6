"""feat_lib — test-side helpers shared by tests/integ/test_feature_*.py.

Not an app and not a test: the test files import it (it lives beside the client
programs only because tests/integ/ holds test files alone). It wraps
tests/lib/hctest.py so that a gateway feature that is missing or misbehaving
shows up as TAP "not ok" lines, never as a Python traceback:

  Resp        what an app received: status (None if no answer), headers
              (lower-case names), body (text), raw (bytes, curl only), json
  call()      run clients/feat_call.py under the shim (urllib, requests, httpx,
              httpx-async; sequential or concurrent) -> Run(.rc, .pid, .res, .stderr)
  spawn()/collect()   the same, several processes at once
  curl()      one curl process making several requests (--next), heads and
              bodies kept byte for byte
  records()   w.records() that never raises
  sections()  run test blocks; an exception becomes one "not ok" with the traceback
  skip()      an "ok N - # SKIP" line
"""
import json
import os
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "lib"))
from hctest import PYTHON, TAP, World  # noqa: E402,F401

FEAT_CALL = os.path.join(HERE, "feat_call.py")
CHAT = "https://api.openai.com/v1/chat/completions"
KEY = "sk-test-feat-0123456789"
AUTH = {"Authorization": "Bearer " + KEY, "Content-Type": "application/json"}

# record flags (common/record.h)
STREAM, CACHE_HIT, BLOCKED, CACHE_STORED, RATE_LIMITED, BUDGET_WARN = 1, 2, 128, 1024, 2048, 4096


def chat(content="hello feature test", model="gpt-4o-mini", stream=False, **extra):
    """An OpenAI chat body (dict)."""
    b = {"model": model, "messages": [{"role": "user", "content": content}]}
    if stream:
        b["stream"] = True
    b.update(extra)
    return b


def rq(body=None, headers=None, url=CHAT, raw=None):
    """One request for call()/curl(): body is a dict (sent as json.dumps) or raw
    is the exact text; headers are added to AUTH (a None value removes one)."""
    h = dict(AUTH)
    for k, v in (headers or {}).items():
        for old in [x for x in h if x.lower() == k.lower()]:
            del h[old]
        if v is not None:
            h[k] = str(v)
    if raw is None:
        raw = json.dumps(body if body is not None else chat())
    return {"url": url, "headers": h, "body": raw}


class Resp:
    """What the app received for one request."""

    def __init__(self, status=None, headers=None, body="", raw=None, elapsed=None, error=None, t_start=None):
        self.status = status
        self.headers = headers or {}
        self.body = body
        self.raw = raw if raw is not None else body.encode("utf-8", "replace")
        self.elapsed = elapsed
        self.error = error
        self.t_start = t_start

    def h(self, name, default=None):
        return self.headers.get(name.lower(), default)

    @property
    def json(self):
        try:
            return json.loads(self.body)
        except (ValueError, TypeError):
            return None

    def text(self):
        """The assistant text of a plain or streamed OpenAI chat answer ("" if none)."""
        j = self.json
        if isinstance(j, dict):
            try:
                return j["choices"][0]["message"]["content"]
            except (KeyError, IndexError, TypeError):
                return ""
        out = []
        for line in self.body.splitlines():
            if line.startswith("data:") and line[5:].strip() != "[DONE]":
                try:
                    d = json.loads(line[5:])
                    for ch in d.get("choices", []):
                        out.append((ch.get("delta") or {}).get("content") or "")
                except ValueError:
                    pass
        return "".join(out)

    def model(self):
        """"model" of a JSON answer, or of the first stream chunk."""
        j = self.json
        if isinstance(j, dict):
            return j.get("model")
        for line in self.body.splitlines():
            if line.startswith("data:") and line[5:].strip() != "[DONE]":
                try:
                    return json.loads(line[5:]).get("model")
                except ValueError:
                    return None
        return None

    def __repr__(self):
        return "Resp(status=%r, error=%r, headers=%r, body=%r)" % (
            self.status, self.error, {k: v for k, v in self.headers.items() if k.startswith("helicone")},
            self.body[:300])


class Run:
    def __init__(self, rc, stdout, stderr, pid, res):
        self.rc, self.stdout, self.stderr, self.pid, self.res = rc, stdout, stderr, pid, res

    def statuses(self):
        return [r.status for r in self.res]

    def detail(self):
        return "rc=%r pid=%r\nres=%r\nstderr=%s" % (self.rc, self.pid, self.res, self.stderr[-1500:])


def _spec_file(w, reqs, lib, pause, concurrent):
    fd, path = tempfile.mkstemp(prefix="spec-", suffix=".json", dir=w.dir)
    with os.fdopen(fd, "w") as f:
        json.dump({"lib": lib, "pause": pause, "concurrent": concurrent, "requests": reqs}, f)
    return path


def _parse(n, rc, stdout, stderr):
    pid, by_i = None, {}
    for line in (stdout or "").splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            d = json.loads(line)
        except ValueError:
            continue
        if "pid" in d and "i" not in d:
            pid = d["pid"]
        elif "i" in d:
            by_i[d["i"]] = Resp(d.get("status"), d.get("headers"), d.get("body", ""), elapsed=d.get("elapsed"),
                                error=d.get("error"), t_start=d.get("t_start"))
    res = [by_i.get(i, Resp(error="no answer reported")) for i in range(n)]
    return Run(rc, stdout or "", stderr or "", pid, res)


def call(w, reqs, lib="urllib", pause=0.0, concurrent=False, timeout=20, **env):
    """Run clients/feat_call.py under the shim; never raises for a failed run."""
    path = _spec_file(w, reqs, lib, pause, concurrent)
    try:
        r = w.run([PYTHON, FEAT_CALL, path], timeout=timeout, **env)
        return _parse(len(reqs), r.returncode, r.stdout, r.stderr)
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        return _parse(len(reqs), None, out, "timed out after %ss" % timeout)


def spawn(w, reqs, lib="urllib", pause=0.0, concurrent=False, **env):
    """Start feat_call.py under the shim without waiting; finish with collect()."""
    path = _spec_file(w, reqs, lib, pause, concurrent)
    p = subprocess.Popen([PYTHON, FEAT_CALL, path], env=w.env(**env), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, errors="replace")
    p._feat_n = len(reqs)
    return p


def collect(p, timeout=20):
    try:
        out, err = p.communicate(timeout=timeout)
        return _parse(p._feat_n, p.returncode, out, err)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        return _parse(p._feat_n, None, out, "timed out after %ss\n%s" % (timeout, err))


def _parse_head(path):
    """(status, headers) of the last response head in a curl -D file."""
    try:
        with open(path, "rb") as f:
            text = f.read().decode("latin-1")
    except OSError:
        return None, {}
    blocks = [b for b in text.replace("\r\n", "\n").split("\n\n") if b.startswith("HTTP/")]
    if not blocks:
        return None, {}
    lines = blocks[-1].split("\n")
    try:
        status = int(lines[0].split()[1])
    except (IndexError, ValueError):
        status = None
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            k = k.strip().lower()
            headers[k] = (headers[k] + ", " + v.strip()) if k in headers else v.strip()
    return status, headers


def curl(w, reqs, timeout=20, **env):
    """One curl process under the shim making every request of reqs in order
    (--next; one connection when possible). Returns (CompletedProcess or None, [Resp])."""
    d = tempfile.mkdtemp(prefix="curl-", dir=w.dir)
    argv = ["curl"]
    for i, r in enumerate(reqs):
        if i:
            argv.append("--next")
        argv += ["-sS", "-N", "-D", os.path.join(d, "h%d" % i), "-o", os.path.join(d, "b%d" % i),
                 "-X", "POST", r["url"], "--data-binary", r["body"]]
        for k, v in r["headers"].items():
            argv += ["-H", "%s: %s" % (k, v)]
    try:
        cp = w.run(argv, timeout=timeout, **env)
    except subprocess.TimeoutExpired:
        cp = None
    out = []
    for i in range(len(reqs)):
        status, headers = _parse_head(os.path.join(d, "h%d" % i))
        try:
            with open(os.path.join(d, "b%d" % i), "rb") as f:
                raw = f.read()
        except OSError:
            raw = b""
        out.append(Resp(status, headers, raw.decode("utf-8", "replace"), raw=raw,
                        error=None if status else "no response"))
    return cp, out


def records(w, n=None, timeout=5.0):
    """w.records(wait_for=n) that returns [] (with a diagnostic) instead of raising."""
    try:
        return w.records(wait_for=n, timeout=timeout)
    except Exception as e:
        print("# records(): %r" % e, flush=True)
        return []


def brief(recs, keys=("status", "flags", "model_req", "model_resp", "retries", "attempts", "fallback_idx",
                      "cost_nusd", "saved_nusd", "budget", "user", "error")):
    """A short view of records for failure details."""
    return [{k: r.get(k) for k in keys} for r in recs]


class FeatTAP(TAP):
    """TAP whose eq() also takes a detail shown on failure."""

    def eq(self, got, want, desc, detail=None):
        if got == want:
            return self.ok(True, desc)
        msg = "got:  %r\nwant: %r" % (got, want)
        return self.ok(False, desc, msg if detail is None else msg + "\n" + str(detail))


def skip(t, desc):
    t.n += 1
    print("ok %d - # SKIP %s" % (t.n, desc), flush=True)


def sections(t, w, fns):
    """Run each test block fn(t, w); a Python error in one becomes a single
    "not ok" line (with the traceback as detail) and the next block runs."""
    for fn in fns:
        t0 = time.monotonic()
        try:
            fn(t, w)
        except Exception:
            t.ok(False, "%s: block ran without a Python error" % fn.__name__, traceback.format_exc())
        t.diag("%s: %.1fs" % (fn.__name__, time.monotonic() - t0))


def main(fns, **world_kw):
    """Standard main: a World, the blocks, TAP summary; returns the exit status."""
    t = FeatTAP()
    try:
        with World(**world_kw) as w:
            sections(t, w, fns)
    except Exception:
        t.ok(False, "test world set up and torn down", traceback.format_exc())
    return t.done()
