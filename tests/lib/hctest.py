"""hctest — shared plumbing for hcshim's integration tests.

Every integration test is a standalone program (run by tests/run.py in its
own process, inside a loopback-only network namespace when possible) that
prints TAP lines. This module gives it:

  TAP          assertions that print "ok N - ..." / "not ok N - ...", and a
               final "# N passed, N failed" with the right exit status
  World        a temporary directory with a test PKI, a mock provider over
               HTTPS (and one over HTTP), a store path, and the environment
               that runs a program under the shim with every provider host
               routed to the mock — programs keep their default base URLs
               (https://api.openai.com/v1, https://api.anthropic.com)
  records()    what the store holds, through `hc-analyze requests --json`

Nothing here reaches the internet: routed hosts are answered by the shim
itself (synthetic addresses) and the mock listens on 127.0.0.1.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "mock"))

from mock_provider import MockProvider  # noqa: E402
from pki import make_pki  # noqa: E402

BUILD = os.environ.get("HC_BUILD", os.path.join(ROOT, "build"))
SHIM = os.path.join(BUILD, "libhcshim.so")
ANALYZE = os.path.join(BUILD, "hc-analyze")
PYTHON = "/usr/bin/python3"
CLIENTS = os.path.join(ROOT, "tests", "integ", "clients")

# Hosts routed to the mock by default (the providers the mock speaks for).
ROUTED = ("api.openai.com", "api.anthropic.com", "generativelanguage.googleapis.com",
          "api.groq.com", "api.mistral.ai", "api.deepseek.com", "api.x.ai",
          "api.together.xyz", "openrouter.ai")


class TAP:
    """TAP producer. Use as: t = TAP(); t.ok(...); ...; sys.exit(t.done())."""

    def __init__(self):
        self.n = 0
        self.failed = 0

    def ok(self, cond, desc, detail=None):
        self.n += 1
        if not cond:
            self.failed += 1
        print("%sok %d - %s" % ("" if cond else "not ", self.n, desc), flush=True)
        if not cond and detail is not None:
            for line in str(detail).splitlines()[-40:]:
                print("#   " + line)
        return bool(cond)

    def eq(self, got, want, desc):
        return self.ok(got == want, desc, None if got == want else "got:  %r\nwant: %r" % (got, want))

    def diag(self, msg):
        for line in str(msg).splitlines():
            print("# " + line, flush=True)

    def done(self):
        print("1..%d" % self.n)
        print("# %d passed, %d failed" % (self.n - self.failed, self.failed), flush=True)
        return 1 if self.failed else 0


class World:
    """A throwaway world: PKI, mock providers, store, shim environment."""

    def __init__(self, http_mock=True, routed=ROUTED):
        self.dir = tempfile.mkdtemp(prefix="hctest-")
        self.pki = make_pki(os.path.join(self.dir, "pki"))
        self.mock = MockProvider(tls=True, certfile=self.pki["cert"], keyfile=self.pki["key"])
        self.mock.start()
        self.http = None
        if http_mock:
            self.http = MockProvider(tls=False)
            self.http.start()
        self.db = os.path.join(self.dir, "store")
        self.routed = routed

    # -- running programs under the shim --------------------------------------
    def env(self, **extra):
        """Environment for a program under the shim. Keyword values of None
        remove a variable; other keywords are set (HC_ names spelled out)."""
        e = dict(os.environ)
        for k in list(e):
            if k.startswith("HC_") and k not in ("HC_BUILD", "HC_ASAN_BUILD"):
                del e[k]
        e.pop("LD_PRELOAD", None)
        # Under the sanitizer pass (tests/run.py --asan-build) the shim is an
        # ASan+UBSan build and the sanitizer runtime must be preloaded first.
        first = os.environ.get("HC_PRELOAD_FIRST", "")
        e.update({
            "LD_PRELOAD": (first + " " + SHIM) if first else SHIM,
            "HC_DB": self.db,
            "HC_ROUTE": ",".join("%s=%s" % (h, self.mock.url) for h in self.routed),
            "HC_CA_FILE": self.pki["ca"],
            "PYTHONDONTWRITEBYTECODE": "1",
            # Never the user's own price file (~/.config/hcshim/prices.tsv, docs/PRICES.md).
            "XDG_CONFIG_HOME": os.path.join(self.dir, "config"),
            # Real clients must not pick up a proxy from the environment.
            "NO_PROXY": "*", "no_proxy": "*",
        })
        for k in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "all_proxy"):
            e.pop(k, None)
        for k, v in extra.items():
            if v is None:
                e.pop(k, None)
            else:
                e[k] = str(v)
        return e

    def run(self, argv, timeout=60, input=None, **env):
        """Run argv under the shim; returns CompletedProcess (text)."""
        argv = [str(a) for a in argv]
        return subprocess.run(argv, env=self.env(**env), capture_output=True, text=True,
                              timeout=timeout, input=input, errors="replace")

    def client(self, name, *args, timeout=60, **env):
        """Run tests/integ/clients/NAME.py under the shim with Debian's python."""
        return self.run([PYTHON, os.path.join(CLIENTS, name + ".py")] + [str(a) for a in args],
                        timeout=timeout, **env)

    # -- reading the store --------------------------------------------------------
    def analyze(self, *args, check=True):
        r = subprocess.run([ANALYZE] + list(args) + ["--db", self.db], capture_output=True, text=True,
                           env={k: v for k, v in os.environ.items() if k != "LD_PRELOAD"})
        if check and r.returncode != 0:
            raise RuntimeError("hc-analyze %s failed (%d): %s" % (" ".join(args), r.returncode, r.stderr))
        return r

    def records(self, wait_for=None, timeout=10.0):
        """Records in the store, oldest first. With wait_for=N, wait until at
        least N are there (the recorder writes asynchronously)."""
        deadline = time.monotonic() + timeout
        while True:
            recs = []
            if os.path.exists(os.path.join(self.db, "data.mdb")):
                out = self.analyze("requests", "--json", "--limit", "0").stdout
                recs = list(reversed(json.loads(out)["requests"]))
            if wait_for is None or len(recs) >= wait_for or time.monotonic() > deadline:
                return recs
            time.sleep(0.05)

    def store_bytes(self):
        """Every byte of every file of the store (for secret scans)."""
        out = b""
        if os.path.isdir(self.db):
            for name in sorted(os.listdir(self.db)):
                with open(os.path.join(self.db, name), "rb") as f:
                    out += f.read()
        return out

    def reset_store(self):
        shutil.rmtree(self.db, ignore_errors=True)

    def close(self):
        self.mock.stop()
        if self.http:
            self.http.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def mock_tokens_in(messages):
    """Prompt tokens by the mock's documented rule: words of every message
    content + 4 per message (tests/mock/README.md)."""
    words = 0
    for m in messages:
        c = m.get("content", "")
        if isinstance(c, str):
            words += len(c.split())
        else:
            for part in c:
                if isinstance(part, dict) and isinstance(part.get("text"), str):
                    words += len(part["text"].split())
    return words + 4 * len(messages)
