#!/usr/bin/python3
"""Hooks are exact for every caller (issue 13, hooks-exact part).

- A library that carries its own OpenSSL (simulated: renamed copies of the
  system libssl/libcrypto, other SONAME and DT_NEEDED, linked into a library
  loaded RTLD_LOCAL — how a wheel such as psycopg2-binary ships it) does a
  verified TLS handshake with a local HTTPS server (not an LLM host) and gets
  the same answer as without the shim, in gateway, observe and off modes, with
  and without the system OpenSSL in the same process; to a routed LLM host it
  fails or works cleanly, never crashes, and the system OpenSSL's call in the
  same process is captured.
- Hooks given bad arguments behave as libc (clients/badargs.c, each case in
  its own child): connect with a bad pointer, NULL, short/huge lengths, an
  address running into an unmapped page; getpeername with bad pointers and
  lengths; getaddrinfo with a NULL result pointer, AI_NUMERICHOST for a name,
  bad family/flags/service/socktype; gethostbyname_r with a tiny buffer
  (ERANGE in errno too); gethostbyname2_r with a bad family; getaddrinfo_a
  with a bad mode. Same return values, errno and outcome (glibc's own faults
  included) as without the shim, in every mode, for a routed host.
- Go with the cgo resolver (GODEBUG=netdns=cgo) under HC_ROUTE: the lookup
  goes through the hooked getaddrinfo and gets the synthetic address, the
  connect is a raw syscall the shim never sees. The synthetic address is a
  multicast one, so the dial fails at once with "network is unreachable" —
  even where a default route exists (added inside the test's own network
  namespace) — instead of hanging; without the shim the name does not resolve
  at all here. A plain (non-routed) host still works as without the shim.
- Exit while a gateway thread is inside OpenSSL: gnutls-cli (GnuTLS, so the
  core is OpenSSL's first user) rejects the gateway's certificate and exits;
  a Python client sends its ClientHello and exits at once. 50 times each: the
  exit status is the one without the shim's crash (before: SIGSEGV in
  OPENSSL_cleanup now and then).
- The per-process CA files written for Node/Bun (hcshim-ca-<pid>-XXXXXX):
  a process removes its own at exit, and removes those of dead processes of
  its user (only exact names, regular files it owns, pid not alive).
- A reference to another OpenSSL version (X509_verify_cert@OPENSSL_1_1_0, as
  a bundled OpenSSL 1.1 makes) is bound by the dynamic linker straight to its
  own library, as without the shim (the hooks carry OPENSSL_3.0.0), even with
  the system libcrypto loaded.
- A socket bound before connect() (httpx local_address="0.0.0.0", http.client
  source_address, curl --local-port) is recognised by the gateway: the app
  gets its answer and the call is recorded (before: a 2 s stall, then a reset).
"""
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
from hctest import CLIENTS, PYTHON, TAP, World  # noqa: E402
import bundled_openssl  # noqa: E402


def bundled(t, w):
    tmp = tempfile.mkdtemp(prefix="hc-bundled-")
    try:
        d = os.path.join(tmp, "bundled")
        why = bundled_openssl.build(d)
        if why:
            t.ok(False, "build the bundled-OpenSSL simulation", why)
            return
        lib = os.path.join(d, "libbundled.so")
        plain = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD" and not k.startswith("HC_")}
        for app in ("app_nosys", "app_sys"):
            # a local HTTPS server that is not an LLM host: name localhost, verified against the test CA
            argv = [os.path.join(d, app), lib, w.pki["ca"], "localhost", "127.0.0.1", str(w.mock.port),
                    "/__mock/health", "sys"]
            base = subprocess.run(argv, capture_output=True, text=True, env=plain, timeout=30)
            t.ok(base.returncode == 0 and "bundled: HTTP/1.1 200 OK" in base.stdout,
                 "%s without the shim: the bundled OpenSSL verifies the local server and gets 200" % app,
                 base.stdout + base.stderr)
            for mode in ("gateway", "observe", "off"):
                r = w.run(argv, timeout=30, HC_MODE=mode)
                t.eq((r.returncode, r.stdout), (base.returncode, base.stdout),
                     "%s [%s]: non-LLM host through the bundled OpenSSL: same exit status and output as "
                     "without the shim" % (app, mode))
                t.ok("hcshim" not in r.stderr, "%s [%s]: the shim says nothing (nothing of this process is an LLM call)"
                     % (app, mode), r.stderr)
            # a routed LLM host: the bundled library resolves the name itself ("-")
            for mode in ("gateway", "observe", "off"):
                w.reset_store()
                argv = [os.path.join(d, app), lib, w.pki["ca"], "api.openai.com", "-", "443", "/__mock/health", "sys"]
                r = w.run(argv, timeout=30, HC_MODE=mode)
                t.ok(r.returncode in (0, 1) and "bundled: " in r.stdout,
                     "%s [%s]: routed LLM host through the bundled OpenSSL: a clean answer or a clean error, "
                     "no crash (rc %d: %s)" % (app, mode, r.returncode, r.stdout.strip().splitlines()[-1:]),
                     r.stdout + r.stderr)
                if app == "app_sys" and mode == "gateway":
                    t.ok("system: HTTP/1.1 200 OK" in r.stdout, "app_sys [gateway]: the system OpenSSL's call in "
                         "the same process gets its answer", r.stdout + r.stderr)
                    recs = w.records(wait_for=1)
                    t.ok(any(x.get("host") == "api.openai.com" for x in recs),
                         "app_sys [gateway]: the system OpenSSL's call is recorded", recs)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


OLD_C = "int X509_verify_cert(void *ctx) { (void)ctx; return 42; }\n"
CONS_C = "int X509_verify_cert(void *ctx);\nint cons(void) { return X509_verify_cert(0); }\n"
MAIN_C = r"""
#include <dlfcn.h>
#include <stdio.h>
#include <openssl/crypto.h>
int main(int argc, char **argv)
{
    OPENSSL_init_crypto(0, NULL);
    void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!h) { puts(dlerror()); return 1; }
    int (*f)(void) = (int (*)(void))dlsym(h, "cons");
    printf("X509_verify_cert@OPENSSL_1_1_0 answered %d\n", f());
    return 0;
}
"""


def other_version(t, w):
    cc = shutil.which("cc") or shutil.which("gcc")
    if not cc:
        t.ok(True, "# SKIP no C compiler")
        return
    d = os.path.join(w.dir, "ver")
    os.makedirs(d)
    for name, text in (("old.c", OLD_C), ("cons.c", CONS_C), ("main.c", MAIN_C),
                       ("old.map", "OPENSSL_1_1_0 { global: X509_verify_cert; local: *; };\n")):
        with open(os.path.join(d, name), "w") as f:
            f.write(text)
    steps = [[cc, "-shared", "-fPIC", "-o", os.path.join(d, "libold.so"), os.path.join(d, "old.c"),
              "-Wl,--version-script=" + os.path.join(d, "old.map"), "-Wl,-soname,libold.so"],
             [cc, "-shared", "-fPIC", "-o", os.path.join(d, "libcons.so"), os.path.join(d, "cons.c"), "-L" + d, "-lold",
              "-Wl,-rpath," + d],
             [cc, "-o", os.path.join(d, "main"), os.path.join(d, "main.c"), "-ldl", "-lcrypto"]]
    for argv in steps:
        r = subprocess.run(argv, capture_output=True, text=True)
        if not t.ok(r.returncode == 0, "build the OpenSSL 1.1 reference simulation", r.stderr[-300:]):
            return
    argv = [os.path.join(d, "main"), os.path.join(d, "libcons.so")]
    plain = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD" and not k.startswith("HC_")}
    base = subprocess.run(argv, capture_output=True, text=True, env=plain)
    t.eq(base.stdout.strip(), "X509_verify_cert@OPENSSL_1_1_0 answered 42", "without the shim the 1.1 reference "
         "reaches its own library")
    for mode in ("gateway", "observe", "off"):
        r = w.run(argv, HC_MODE=mode)
        t.eq((r.returncode, r.stdout), (base.returncode, base.stdout),
             "[%s] a reference to X509_verify_cert@OPENSSL_1_1_0 reaches its own library, not the system one" % mode)


BIND_PY = r"""
import http.client, json, ssl, sys
sys.path.insert(0, %r)
from common import request
kind, prompt = sys.argv[1], sys.argv[2]
url, headers, body = request("openai", False, prompt)
if kind == "httpx":
    import httpx
    with httpx.Client(timeout=30, transport=httpx.HTTPTransport(local_address="0.0.0.0")) as c:
        r = c.post(url, content=body, headers=headers)
        status, text = r.status_code, r.text
else:
    c = http.client.HTTPSConnection("api.openai.com", 443, timeout=30, source_address=("0.0.0.0", 0),
                                    context=ssl.create_default_context())
    c.request("POST", "/v1/chat/completions", body=body, headers=headers)
    r = c.getresponse()
    status, text = r.status, r.read().decode()
print(status, json.loads(text)["choices"][0]["message"]["content"])
""" % CLIENTS


def bind_before_connect(t, w):
    script = os.path.join(w.dir, "bind.py")
    with open(script, "w") as f:
        f.write(BIND_PY)
    have_httpx = subprocess.run([PYTHON, "-c", "import httpx"], capture_output=True).returncode == 0
    for kind in ("httpx", "http.client"):
        if kind == "httpx" and not have_httpx:
            t.ok(True, "# SKIP python3-httpx not installed")
            continue
        w.reset_store()
        prompt = "bound first with " + kind
        r = w.run([PYTHON, script, kind, prompt], timeout=40)
        t.ok(r.returncode == 0 and r.stdout.startswith("200 Mock answer") and prompt in r.stdout,
             "%s bound to 0.0.0.0 before connect: the app gets its answer" % kind, r.stdout + r.stderr)
        recs = w.records(wait_for=1)
        t.ok(len(recs) == 1 and recs[0].get("host") == "api.openai.com" and recs[0].get("status") == 200,
             "%s bound to 0.0.0.0 before connect: captured (one record)" % kind, recs)
    w.reset_store()
    r = w.run(["curl", "-sS", "--max-time", "20", "--local-port", "41000-41999", "-o", "/dev/null", "-w", "%{http_code}",
               "https://api.openai.com/v1/chat/completions", "-H", "Authorization: Bearer sk-test-openai-SECRET-0123456789",
               "-H", "Content-Type: application/json", "--data-binary",
               '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"curl local port"}]}'], timeout=30)
    t.eq((r.returncode, r.stdout), (0, "200"), "curl --local-port: the app gets its answer")
    recs = w.records(wait_for=1)
    t.ok(len(recs) == 1 and recs[0].get("status") == 200, "curl --local-port: captured (one record)", recs)


GO_CGO_SRC = r"""
package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

func main() {
	c := &http.Client{Timeout: 60 * time.Second}
	r, err := c.Get(os.Args[1])
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	b, _ := io.ReadAll(r.Body)
	fmt.Println("status:", r.StatusCode, len(b) > 0)
}
"""


def isolated_netns():
    """True inside tests/run.py's loopback-only namespace (only then may the
    test change routes)."""
    r = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True)
    names = [line.split(":")[1].strip() for line in r.stdout.splitlines() if ":" in line]
    return r.returncode == 0 and names == ["lo"]


def go_cgo(t, w):
    go = shutil.which("go")
    cc = shutil.which("cc") or shutil.which("gcc")
    if not go or not cc:
        t.ok(True, "# SKIP needs go and a C compiler (cgo)")
        return
    d = tempfile.mkdtemp(prefix="hc-gocgo-")
    try:
        src = os.path.join(d, "main.go")
        with open(src, "w") as f:
            f.write(GO_CGO_SRC)
        binp = os.path.join(d, "gocgo")
        r = subprocess.run([go, "build", "-o", binp, src], capture_output=True, text=True, cwd=d,
                           env=dict({k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}, CGO_ENABLED="1",
                                    GOTOOLCHAIN="local", GOFLAGS="", GOCACHE=os.path.join(d, "cache"),
                                    GOPATH=os.path.join(d, "gopath")), timeout=600)
        if not t.ok(r.returncode == 0, "build a cgo Go program", r.stderr[-500:]):
            return
        routed = False
        if isolated_netns():
            # a default route, so that a SYN to an unroutable unicast address would be sent and hang
            routed = subprocess.run(["ip", "route", "add", "default", "dev", "lo"], capture_output=True).returncode == 0
        t.diag("default route in the test namespace: %s" % ("added" if routed else "not added (not isolated)"))
        plain = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD" and not k.startswith("HC_")}
        url = "https://api.openai.com/v1/models"
        base = subprocess.run([binp, url], capture_output=True, text=True, timeout=60,
                              env=dict(plain, GODEBUG="netdns=cgo"))
        t.diag("without the shim: rc %d %s" % (base.returncode, base.stdout.strip()))
        w.reset_store()
        try:
            r = w.run([binp, url], timeout=60, GODEBUG="netdns=cgo")
            out = r.stdout.strip()
            hung = False
        except subprocess.TimeoutExpired:
            hung, out = True, "(hung)"
        t.ok(not hung and r.returncode == 1 and "233.252.0." in out and "network is unreachable" in out,
             "Go cgo resolver + HC_ROUTE [gateway]: the dial of the synthetic address fails at once "
             "(ENETUNREACH), never hangs: %s" % out, out)
        t.ok(base.returncode != 0, "without the shim the same program fails too (the routed name has no address here)",
             base.stdout)
        t.eq(w.records(), [], "nothing recorded (the shim never saw the connection)")
        # a host that is not routed: as without the shim (the local mock, verified with the test CA)
        u2 = "https://localhost:%d/__mock/health" % w.mock.port
        env2 = dict(plain, GODEBUG="netdns=cgo", SSL_CERT_FILE=w.pki["ca"])
        b2 = subprocess.run([binp, u2], capture_output=True, text=True, timeout=60, env=env2)
        r2 = w.run([binp, u2], timeout=60, GODEBUG="netdns=cgo", SSL_CERT_FILE=w.pki["ca"])
        t.eq((r2.returncode, r2.stdout), (b2.returncode, b2.stdout),
             "Go cgo resolver, a host that is not routed: same outcome as without the shim (%s)" % b2.stdout.strip())
        if routed:
            subprocess.run(["ip", "route", "del", "default", "dev", "lo"], capture_output=True)
    finally:
        shutil.rmtree(d, ignore_errors=True)


HELLO_EXIT = r"""
import socket, ssl, sys
inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
obj = ssl.create_default_context().wrap_bio(inc, out, server_hostname="api.openai.com")
try:
    obj.do_handshake()
except ssl.SSLWantReadError:
    pass
s = socket.create_connection(("api.openai.com", 443))
s.sendall(out.read())
sys.exit(0)
"""


def exit_race(t, w, runs=50):
    script = os.path.join(w.dir, "hello_exit.py")
    with open(script, "w") as f:
        f.write(HELLO_EXIT)
    cases = [("Python: ClientHello, then exit", [PYTHON, script], {0})]
    if shutil.which("gnutls-cli"):
        # rejects the gateway's certificate (not in the system CAs): exit status 1
        cases.append(("gnutls-cli rejecting the gateway", ["gnutls-cli", "--port", "443", "api.openai.com"], {1}))
    else:
        t.ok(True, "# SKIP gnutls-bin not installed")
    for label, argv, want in cases:
        seen = {}
        for _ in range(runs):
            r = w.run(argv, timeout=30, input="")
            seen[r.returncode] = seen.get(r.returncode, 0) + 1
        t.ok(set(seen) <= want, "%s, %d times: never a crash (exit statuses %s)" % (label, runs, seen), seen)


def bad_arguments(t, w):
    cc = shutil.which("cc") or shutil.which("gcc")
    if not cc:
        t.ok(True, "# SKIP no C compiler")
        return
    binp = os.path.join(w.dir, "badargs")
    r = subprocess.run([cc, "-O1", "-o", binp, os.path.join(CLIENTS, "badargs.c"), "-lanl"], capture_output=True, text=True)
    if not t.ok(r.returncode == 0, "compile badargs.c", r.stderr[-500:]):
        return
    plain = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD" and not k.startswith("HC_")}
    argv = [binp, "api.openai.com", str(w.http.port)]
    base = subprocess.run(argv, capture_output=True, text=True, env=plain, timeout=60).stdout.splitlines()
    t.ok(len(base) >= 25, "badargs ran every case without the shim (%d)" % len(base), base)
    for mode in ("gateway", "observe", "off"):
        got = w.run(argv, timeout=60, HC_MODE=mode, HC_HOSTS="127.0.0.1:%d" % w.http.port).stdout.splitlines()
        for i, want in enumerate(base):
            have = got[i] if i < len(got) else "(missing)"
            t.eq(have, want, "[%s] %s" % (mode, want.split(":")[0]))


def ca_files(t, w):
    node = shutil.which("node")
    if not node:
        t.ok(True, "# SKIP node not installed")
        return
    d = tempfile.mkdtemp(prefix="hc-cafiles-")
    try:
        p = subprocess.Popen(["true"])
        p.wait()
        dead = p.pid
        names = {"dead": "hcshim-ca-%d-abcdef" % dead, "live": "hcshim-ca-%d-abcdef" % os.getpid(),
                 "odd": "hcshim-ca-%d-abc" % dead, "other": "not-hcshim-ca-%d-abcdef" % dead,
                 "link": "hcshim-ca-%d-zzzzzz" % dead}
        for k, n in names.items():
            if k == "link":
                os.symlink("/etc/hostname", os.path.join(d, n))
            else:
                with open(os.path.join(d, n), "w") as f:
                    f.write("x")
        r = w.run([node, "-e", "console.log(process.env.NODE_EXTRA_CA_CERTS || '')"], XDG_RUNTIME_DIR=d, timeout=30)
        own = r.stdout.strip()
        t.ok(r.returncode == 0 and os.path.basename(own).startswith("hcshim-ca-") and os.path.dirname(own) == d,
             "node under the shim got its CA file in the runtime directory", r.stdout + r.stderr)
        left = set(os.listdir(d))
        t.ok(os.path.basename(own) not in left, "the process removed its own CA file at exit", sorted(left))
        t.ok(names["dead"] not in left, "the CA file of a dead process was removed", sorted(left))
        t.eq(sorted(left), sorted(v for k, v in names.items() if k != "dead"),
             "everything else is left alone: a live pid's file, other names, a symlink")
    finally:
        shutil.rmtree(d, ignore_errors=True)


def main():
    t = TAP()
    with World() as w:
        bundled(t, w)
        other_version(t, w)
        bind_before_connect(t, w)
        ca_files(t, w)
        bad_arguments(t, w)
        exit_race(t, w)
        go_cgo(t, w)
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
