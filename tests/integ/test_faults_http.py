#!/usr/bin/python3
"""HTTP and TLS edge cases of upstreams and the environment (issue 14, 7-8).

- A TLS upstream that ends a close-delimited body without close_notify:
  curl without the shim succeeds; under the shim it must too, and the
  record says 200 with no error. A Content-Length body cut the same way is
  an error for the app in both cases (never a silently short success).
- HC_LOG naming a FIFO nobody reads: the app does not hang.
- Helicone-Fallback-OnCodes without Helicone-Fallback-Model would do nothing:
  a 400 that names the missing header; with the model it is accepted.
- A gzip answer that decodes to 64 MiB from 64 KiB (HC_MAX_BODY=1m): the app
  gets the same compressed bytes as without the shim, and the gateway stops
  decoding its copy past twice HC_MAX_BODY (said with HC_DEBUG) instead of
  unpacking it all.
- Response heads: 150 headers reach the app as without the shim (200, every
  header); a 1 MiB header is a 502 that says the head is too large; 103
  Early Hints reaches the app before the 200, as without the shim.
- Requests: 130 headers get 431 (not 400); with Expect: 100-continue, a bad
  Helicone header is answered 400 at once, without a 100 Continue first,
  and a good request still gets its 100 Continue and its 200.
- HC_DB_MAX_MB=garbage is said once on stderr (the call still succeeds).
- CSV output (export, requests, users, report, ratelimits) on a terminal
  carries no raw C1 control character (U+009B CSI from a model name, a user,
  a property): escaped as in text output; to a pipe it stays exact data.
"""
import os
import pty
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from hctest import ANALYZE, ROOT, TAP, World  # noqa: E402

EOF_SERVER = os.path.join(ROOT, "tests", "mock", "odd_upstream.py")
BODY = '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}'


def tls_eof(t, w):
    for mode in ("close", "trunc", "bomb"):
        p = subprocess.Popen([sys.executable, EOF_SERVER, w.pki["cert"], w.pki["key"], mode],
                             stdout=subprocess.PIPE, text=True)
        try:
            url = "https://127.0.0.1:%s" % p.stdout.readline().strip()
            env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
            if mode == "bomb":
                got = w.run(["sh", "-c", 'curl -sS "$@" | sha256sum', "sh", "https://api.openai.com/v1/chat/completions",
                             "-d", BODY, "-H", "Content-Type: application/json"], HC_ROUTE="api.openai.com=" + url,
                            HC_MAX_BODY="1m", HC_DEBUG="1", timeout=60)
                want = subprocess.run(["sh", "-c", 'curl -sS "$@" | sha256sum', "sh", "--cacert", w.pki["ca"],
                                       url + "/v1/chat/completions", "-d", BODY, "-H", "Content-Type: application/json"],
                                      capture_output=True, text=True, timeout=60, env=env)
                t.ok(want.returncode == 0 and got.stdout == want.stdout,
                     "gzip bomb: the app gets the same compressed bytes as without the shim", (got.stdout, want.stdout))
                t.ok("decoding stopped" in got.stderr, "gzip bomb: the gateway stops decoding its copy",
                     got.stderr[-400:])
                continue
            base = subprocess.run(["curl", "-sS", "--cacert", w.pki["ca"], url + "/v1/chat/completions", "-d", BODY,
                                   "-H", "Content-Type: application/json"], capture_output=True, text=True,
                                  timeout=30, env=env)
            w.reset_store()
            r = w.run(["curl", "-sS", "https://api.openai.com/v1/chat/completions", "-d", BODY,
                       "-H", "Content-Type: application/json"], HC_ROUTE="api.openai.com=" + url, timeout=30)
            recs = w.records(wait_for=1, timeout=5)
            if mode == "close":
                t.eq(base.returncode, 0, "close-delimited, no close_notify: curl without the shim succeeds")
                t.eq(r.returncode, base.returncode, "... and under the shim (%s)" % r.stderr.strip())
                t.eq(r.stdout, base.stdout, "... with the same body")
                t.ok(recs and recs[-1].get("status") == 200 and not recs[-1].get("error"),
                     "... recorded as 200 without an error", recs[-1:] if recs else None)
            else:
                t.ok(base.returncode != 0, "Content-Length body cut without close_notify: an error without the shim")
                t.ok(r.returncode != 0, "... and an error under the shim (exit %d), never a short success" % r.returncode)
                t.ok(recs and recs[-1].get("error"), "... recorded with an error", recs[-1:] if recs else None)
        finally:
            p.kill()
            p.wait()


def odd_heads(t, w):
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    for mode in ("many", "huge", "early"):
        p = subprocess.Popen([sys.executable, EOF_SERVER, w.pki["cert"], w.pki["key"], mode],
                             stdout=subprocess.PIPE, text=True)
        try:
            url = "https://127.0.0.1:%s" % p.stdout.readline().strip()
            base = subprocess.run(["curl", "-sv", "-w", "\n%{http_code}", "--cacert", w.pki["ca"],
                                   url + "/v1/chat/completions", "-d", BODY, "-H", "Content-Type: application/json"],
                                  capture_output=True, text=True, timeout=60, env=env, errors="replace")
            r = w.run(["curl", "-sv", "-w", "\n%{http_code}", "https://api.openai.com/v1/chat/completions", "-d", BODY,
                       "-H", "Content-Type: application/json"], HC_ROUTE="api.openai.com=" + url, timeout=60)
            if mode == "many":
                n_base = base.stderr.count("< X-Many-")
                n_shim = r.stderr.count("< X-Many-")
                t.ok(base.stdout.endswith("\n200") and n_base == 150, "150 response headers: 200 without the shim")
                t.ok(r.stdout.endswith("\n200") and n_shim == 150 and r.stdout == base.stdout,
                     "... and under the shim: 200, all 150 headers, the same body (%d headers)" % n_shim,
                     r.stdout[-200:])
            elif mode == "huge":
                t.diag("1 MiB response header without the shim: curl exit %d" % base.returncode)
                t.ok(r.stdout.endswith("\n502") and "larger than 64 KiB" in r.stdout,
                     "a 1 MiB response header: 502 saying the head is too large", r.stdout[-300:])
            else:
                t.ok("< HTTP/1.1 103" in base.stderr and base.stdout.endswith("\n200"),
                     "103 Early Hints: curl without the shim sees it, then 200")
                t.ok("< HTTP/1.1 103" in r.stderr and "Link: </style.css>" in r.stderr and r.stdout.endswith("\n200"),
                     "... and under the shim", r.stderr[-600:])
        finally:
            p.kill()
            p.wait()

    big = [a for i in range(130) for a in ("-H", "X-Req-%d: v" % i)]
    r = w.run(["curl", "-sS", "-w", "\n%{http_code}", "https://api.openai.com/v1/chat/completions", "-d", BODY,
               "-H", "Content-Type: application/json", "-H", "Authorization: Bearer sk-test-x"] + big, timeout=60)
    t.ok(r.stdout.endswith("\n431"), "a request with 130 headers: 431", r.stdout[-200:])
    for hdr, want, cont in (("Helicone-Retry-Num: abc", "400", False), ("Helicone-Retry-Num: 1", "200", True)):
        r = w.run(["curl", "-sv", "-w", "\n%{http_code}", "https://api.openai.com/v1/chat/completions", "-d", BODY,
                   "-H", "Content-Type: application/json", "-H", "Authorization: Bearer sk-test-x",
                   "-H", "Expect: 100-continue", "-H", hdr], timeout=60)
        t.ok(r.stdout.endswith("\n" + want) and ("100 Continue" in r.stderr) == cont,
             "Expect: 100-continue with %s: %s, %s 100 Continue" % (hdr, want, "after a" if cont else "without a"),
             r.stderr[-500:])


def log_fifo(t, w):
    fifo = os.path.join(w.dir, "log.fifo")
    os.mkfifo(fifo)
    try:
        r = w.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "https://api.openai.com/v1/chat/completions",
                   "-d", BODY, "-H", "Content-Type: application/json", "-H", "Authorization: Bearer sk-test-x"],
                  HC_LOG=fifo, HC_DEBUG="1", timeout=30)
        t.ok(r.returncode == 0 and r.stdout == "200", "HC_LOG naming a FIFO nobody reads: the app does not hang (%s)"
             % r.stdout)
    except subprocess.TimeoutExpired:
        t.ok(False, "HC_LOG naming a FIFO nobody reads: the app hung")


def fallback_oncodes(t, w):
    base = ["curl", "-sS", "-w", "\n%{http_code}", "https://api.openai.com/v1/chat/completions", "-d", BODY,
            "-H", "Content-Type: application/json", "-H", "Authorization: Bearer sk-test-x"]
    r = w.run(base + ["-H", "Helicone-Fallback-OnCodes: abc"], timeout=30)
    t.ok(r.stdout.endswith("\n400") and "Helicone-Fallback-Model" in r.stdout,
         "Helicone-Fallback-OnCodes alone: 400 naming Helicone-Fallback-Model", r.stdout)
    r = w.run(base + ["-H", "Helicone-Fallback-OnCodes: 500", "-H", "Helicone-Fallback-Model: gpt-4o"], timeout=30)
    t.ok(r.stdout.endswith("\n200"), "with Helicone-Fallback-Model: accepted (200)", r.stdout)


def small_validation(t, w):
    r = w.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "https://api.openai.com/v1/chat/completions",
               "-d", BODY, "-H", "Content-Type: application/json", "-H", "Authorization: Bearer sk-test-x"],
              HC_DB_MAX_MB="garbage", timeout=30)
    t.ok(r.stdout == "200" and "HC_DB_MAX_MB" in r.stderr and "garbage" in r.stderr,
         "HC_DB_MAX_MB=garbage: said on stderr, the call succeeds", r.stderr)

    w.reset_store()
    body = '{"model":"gpt-4o-mini\u009b2J","user":"u\u009bv","messages":[{"role":"user","content":"x"}]}'
    r = subprocess.run([b"curl", b"-sS", b"-o", b"/dev/null", b"-w", b"%{http_code}",
                        b"https://api.openai.com/v1/chat/completions", b"-d", body.encode(),
                        b"-H", b"Content-Type: application/json", b"-H", b"Authorization: Bearer sk-test-x",
                        b"-H", "Helicone-Property-Evil: a\u009b31mb".encode(),
                        b"-H", "Helicone-User-Id: u\u009bx".encode()], env=w.env(), capture_output=True, timeout=30)
    t.eq(r.stdout, b"200", "a request carrying U+009B in its model, user and property: 200")
    w.records(wait_for=1)
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    for args in (["export", "--format", "csv"], ["requests", "--csv"], ["users", "--csv"], ["report", "--csv"],
                 ["ratelimits", "--csv"]):
        rc, out = run_tty([ANALYZE] + args + ["--db", w.db], env)
        raw = [c for c in out.decode("utf-8", "replace") if 0x80 <= ord(c) < 0xa0 or ord(c) < 0x09 or c == "\x1b"]
        t.ok(rc == 0 and not raw and ("\\u009b" in out.decode() or args[0] == "ratelimits"),
             "%s on a terminal: no raw C1/C0 control character (shown as \\u009b)" % " ".join(args), (raw[:5], out[:300]))
    o = subprocess.run([ANALYZE, "users", "--csv", "--db", w.db], capture_output=True, timeout=60, env=env)
    t.ok("u\u009bx".encode() in o.stdout, "users --csv to a pipe: the exact value (CSV is data)", o.stdout[:200])


def run_tty(argv, env):
    """Run argv with its stdout on a pseudo-terminal; (exit code, bytes)."""
    m, s = pty.openpty()
    p = subprocess.Popen(argv, stdout=s, stderr=subprocess.DEVNULL, env=env)
    os.close(s)
    out = b""
    while True:
        try:
            chunk = os.read(m, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    os.close(m)
    return p.wait(timeout=60), out


def main():
    t = TAP()
    with World(http_mock=False) as w:
        tls_eof(t, w)
        odd_heads(t, w)
        log_fifo(t, w)
        fallback_oncodes(t, w)
        small_validation(t, w)
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
