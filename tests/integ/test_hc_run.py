#!/usr/bin/python3
"""scripts/hc-run: options become the documented environment, misuse exits 2.

hc-run only sets variables and execs; so the command it runs here is a small
Python program that prints its environment, and one real call checks that the
options take effect end to end.
"""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from hctest import BUILD, PYTHON, ROOT, SHIM, TAP, World  # noqa: E402

HC_RUN = os.path.join(ROOT, "scripts", "hc-run")
ENV = [PYTHON, "-c", "import json, os; print(json.dumps({k: v for k, v in os.environ.items() "
       "if k.startswith('HC_') or k in ('LD_PRELOAD',)}))"]


def run(args, env=None):
    e = {k: v for k, v in os.environ.items() if not k.startswith("HC_") and k != "LD_PRELOAD"}
    e["HC_LIB"] = SHIM
    e.update(env or {})
    return subprocess.run([HC_RUN] + args, capture_output=True, text=True, env=e, timeout=30)


def main():
    t = TAP()
    r = run(["--db", "/tmp/x store", "--property", "Workflow=nightly build", "--property", "Step-Name=a=b",
             "--user", "ci", "--session", "s1", "--session-name", "Nightly", "--session-path", "/a/b",
             "--route", "api.openai.com=https://127.0.0.1:9", "--route", "api.anthropic.com=http://127.0.0.1:8",
             "--hosts", "localhost:11434", "--cache", "--cache-ttl", "1h", "--cache-seed", "s", "--cache-buckets", "3",
             "--retry", "2", "--retry-factor", "3", "--fallback-model", "gpt-4o", "--fallback-on", "429,500",
             "--ratelimit", "10;w=60", "--budget", "5/day:block", "--omit-request", "--omit-response",
             "--max-body", "1M", "--no-stream-usage", "--mode", "observe", "--debug", "--log", "/tmp/l",
             "--"] + ENV)
    t.eq(r.returncode, 0, "hc-run with every option runs the command")
    env = json.loads(r.stdout) if r.returncode == 0 else {}
    want = {
        "HC_DB": "/tmp/x store", "HC_PROPERTY_Workflow": "nightly build", "HC_PROPERTY_Step-Name": "a=b",
        "HC_USER_ID": "ci", "HC_SESSION_ID": "s1", "HC_SESSION_NAME": "Nightly", "HC_SESSION_PATH": "/a/b",
        "HC_ROUTE": "api.openai.com=https://127.0.0.1:9,api.anthropic.com=http://127.0.0.1:8",
        "HC_HOSTS": "localhost:11434", "HC_CACHE": "1", "HC_CACHE_TTL": "1h", "HC_CACHE_SEED": "s",
        "HC_CACHE_BUCKETS": "3", "HC_RETRY": "2", "HC_RETRY_FACTOR": "3", "HC_FALLBACK_MODEL": "gpt-4o",
        "HC_FALLBACK_ON": "429,500", "HC_RATELIMIT": "10;w=60", "HC_BUDGET": "5/day:block",
        "HC_OMIT_REQUEST": "1", "HC_OMIT_RESPONSE": "1", "HC_MAX_BODY": "1M", "HC_STREAM_USAGE": "0",
        "HC_MODE": "observe", "HC_DEBUG": "1", "HC_LOG": "/tmp/l",
    }
    for k, v in want.items():
        t.eq(env.get(k), v, "%s set" % k)
    t.eq(env.get("LD_PRELOAD"), SHIM, "absolute LD_PRELOAD")
    r = run(["--", "sh", "-c", 'echo "$LD_PRELOAD"'], {"LD_PRELOAD": "/other.so"})
    t.eq(r.stdout.strip(), SHIM + " /other.so", "an existing LD_PRELOAD is kept after ours")
    r = run(["--route", "api.openai.com=https://x:1", "--"] + ENV, {"HC_ROUTE": "a=http://b"})
    t.eq(json.loads(r.stdout).get("HC_ROUTE"), "a=http://b,api.openai.com=https://x:1", "--route adds to HC_ROUTE")

    for args, what in [(["--property", "noequals", "--", "true"], "--property"),
                       (["--property", "bad name=1", "--", "true"], "--property"),
                       (["--route", "api.openai.com", "--", "true"], "--route"),
                       (["--mode", "loud", "--", "true"], "--mode"),
                       (["--ca-file", "/nonexistent", "--", "true"], "--ca-file"),
                       (["--prices", "/nonexistent", "--", "true"], "--prices"),
                       (["--retry", "abc", "--", "true"], "--retry"),
                       (["--retry", "21", "--", "true"], "--retry"),
                       (["--cache-buckets", "99", "--", "true"], "--cache-buckets"),
                       (["--cache-ttl", "soon", "--", "true"], "--cache-ttl"),
                       (["--cache-ttl", "1abc9", "--", "true"], "--cache-ttl"),
                       # Checked by the shim's own parsers (hc-config-check) before the command starts.
                       (["--retry-factor", "99", "--", "true"], "--retry-factor: HC_RETRY_FACTOR=99: expected a number"),
                       (["--budget", "5/year", "--", "true"], "--budget: HC_BUDGET=5/year"),
                       (["--ratelimit", "10", "--", "true"], "--ratelimit: HC_RATELIMIT=10: missing w=SECONDS"),
                       (["--fallback-on", "abc", "--", "true"], "--fallback-on"),
                       (["--max-body", "1Q", "--", "true"], "--max-body"),
                       (["--cache-ttl", "400d", "--", "true"], "--cache-ttl: HC_CACHE_TTL=400d: over the maximum"),
                       (["--hosts", "[::1]:8x", "--", "true"], "--hosts"),
                       (["--hosts", "foo:bar:baz", "--", "true"], "--hosts"),
                       (["--hosts", "localhost:http", "--", "true"], "--hosts"),
                       (["--lib", "/nonexistent/x.so", "--", "true"], "/nonexistent/x.so"),
                       (["--bogus", "--", "true"], "unknown option"),
                       (["--db"], "--db"),
                       ([], "no command")]:
        r = run(args)
        t.ok(r.returncode == 2 and what in r.stderr and r.stderr.count("\n") == 1,
             "misuse (%s): exit 2 with one line naming it" % " ".join(args), (r.returncode, r.stderr))
    bad_prices = "/tmp/hc-run-test-prices-%d.tsv" % os.getpid()
    with open(bad_prices, "w") as f:
        f.write("not a price table\n")
    r = run(["--prices", bad_prices, "--", "true"])
    os.unlink(bad_prices)
    t.ok(r.returncode == 2 and "--prices: HC_PRICES: " in r.stderr and "header" in r.stderr
         and r.stderr.count("\n") == 1, "--prices FILE that the price loader refuses: exit 2 naming it", r.stderr)
    # Refused up front: the command never starts (it would have created the file).
    marker = "/tmp/hc-run-test-%d" % os.getpid()
    r = run(["--budget", "5/year", "--", "touch", marker])
    t.ok(r.returncode == 2 and not os.path.exists(marker), "a refused option: the command is not started")
    # A bad value inherited from the environment (not an option) keeps the shim's fail-open treatment.
    r = run(["--", "true"], {"HC_RETRY_FACTOR": "99"})
    t.eq(r.returncode, 0, "an inherited bad HC_RETRY_FACTOR is left to the shim (fail open)")
    r = run(["--help"])
    t.ok(r.returncode == 0 and "usage: hc-run" in r.stdout and "HC_ROUTE" in r.stdout, "--help to stdout, exit 0")
    r = run(["--", "true"], {"HC_LIB": "/nonexistent/libhcshim.so"})
    t.ok(r.returncode == 2 and "HC_LIB" in r.stderr and "/nonexistent/libhcshim.so" in r.stderr,
         "a missing HC_LIB library: an error naming the variable and the path", r.stderr)
    r = run(["--hosts", "[::1]:11434", "--hosts", "localhost", "--", "sh", "-c", 'echo "$HC_HOSTS"'])
    t.eq(r.stdout.strip(), "[::1]:11434,localhost", "--hosts takes [IPv6]:PORT and a bare host")

    # End to end: the options take effect.
    with World(http_mock=False) as w:
        e = {k: v for k, v in os.environ.items() if not k.startswith("HC_") and k != "LD_PRELOAD"}
        e["HC_LIB"] = SHIM
        r = subprocess.run([HC_RUN, "--db", w.db, "--route", "api.openai.com=" + w.mock.url, "--ca-file", w.pki["ca"],
                            "--property", "Team=infra", "--user", "u1", "--",
                            "curl", "-sS", "https://api.openai.com/v1/chat/completions", "-H", "Authorization: Bearer k",
                            "-d", '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}'],
                           capture_output=True, text=True, env=e, timeout=30)
        t.ok(r.returncode == 0 and "Mock answer" in r.stdout, "hc-run -- curl: answered through the gateway", r.stderr)
        recs = w.records(wait_for=1)
        t.ok(len(recs) == 1 and recs[0]["props"] == {"Team": "infra"} and recs[0]["user"] == "u1",
             "recorded with the options' property and user", recs)
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
