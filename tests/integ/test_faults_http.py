#!/usr/bin/python3
"""HTTP and TLS edge cases of upstreams and the environment (issue 14, 7-8).

- A TLS upstream that ends a close-delimited body without close_notify:
  curl without the shim succeeds; under the shim it must too, and the
  record says 200 with no error. A Content-Length body cut the same way is
  an error for the app in both cases (never a silently short success).
- HC_LOG naming a FIFO nobody reads: the app does not hang.
- Helicone-Fallback-OnCodes without Helicone-Fallback-Model would do nothing:
  a 400 that names the missing header; with the model it is accepted.
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from hctest import ROOT, TAP, World  # noqa: E402

EOF_SERVER = os.path.join(ROOT, "tests", "mock", "tls_eof_server.py")
BODY = '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}'


def tls_eof(t, w):
    for mode in ("close", "trunc"):
        p = subprocess.Popen([sys.executable, EOF_SERVER, w.pki["cert"], w.pki["key"], mode],
                             stdout=subprocess.PIPE, text=True)
        try:
            url = "https://127.0.0.1:%s" % p.stdout.readline().strip()
            env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
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


def main():
    t = TAP()
    with World(http_mock=False) as w:
        tls_eof(t, w)
        log_fifo(t, w)
        fallback_oncodes(t, w)
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
