#!/usr/bin/python3
"""Security properties of the shim, the store and hc-analyze (see SECURITY.md).

- Credentials (Authorization, x-api-key, api-key, x-goog-api-key, Cookie,
  Proxy-Authorization, Helicone-Auth) never appear in the store files, in
  HC_LOG / HC_DEBUG output, or in any hc-analyze output (requests, show,
  export --bodies, report, …) — every byte scanned. Nor a key passed in the
  URL (Gemini's ?key=), nor a cookie the provider sets (cached answers).
- Omitted bodies (HC_OMIT_REQUEST / HC_OMIT_RESPONSE) are not stored.
- Store directory 0700, files 0600, log 0600, html export 0600 — even with
  umask 000.
- The gateway listens on loopback only and closes connections it did not
  register: from another process, as TLS, as plain HTTP, and with a forged
  source address (127.0.0.2) reusing a registered port; a flood of such
  connections does not break the app's own connections.
- The per-process CA key never touches disk (strace of real clients; no new
  file holding a private key under /tmp or the cwd; no such mapping).
- The leaf the gateway presents for api.openai.com verifies for that name
  only.
- `hc-analyze serve` binds loopback by default (skipped if not built).
- Hostile prompt/response content (ESC[2J, BEL, <script>) is escaped in
  terminal and HTML output.
"""
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import warnings

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from hctest import ANALYZE, BUILD, CLIENTS, PYTHON, TAP, World  # noqa: E402

NONCE = "%x%x" % (os.getpid(), int(time.time()))
SECRETS = {
    "Authorization": "Bearer sk-proj-AUTHSECRET%s" % NONCE,
    "x-api-key": "sk-ant-XAPISECRET%s" % NONCE,
    "api-key": "AZUREAPISECRET%s" % NONCE,
    "x-goog-api-key": "AIzaGOOGSECRET%s" % NONCE,
    "Cookie": "session=COOKIESECRET%s; __cf_bm=CFBMSECRET%s" % (NONCE, NONCE),
    "Proxy-Authorization": "Basic PROXYSECRET%s" % NONCE,
    "Helicone-Auth": "Bearer sk-helicone-HELISECRET%s" % NONCE,
}
# What must never be found: each secret's distinctive part.
NEEDLES = [re.search(r"[A-Z]+SECRET" + NONCE, v).group(0) for v in SECRETS.values()] + ["CFBMSECRET" + NONCE]


def chat(content, stream=False, model="gpt-4o-mini"):
    b = {"model": model, "messages": [{"role": "user", "content": content}]}
    if stream:
        b["stream"] = True
    return json.dumps(b)


def curl(w, body, *extra, url="https://api.openai.com/v1/chat/completions", **env):
    return w.run(["curl", "-sS", url, "-H", "Authorization: Bearer sk-test-sec", "-H",
                  "Content-Type: application/json", "-d", body] + list(extra), **env)


def analyzer_outputs(w, recs):
    """Every hc-analyze view of the store, as bytes (name -> bytes)."""
    views = {}

    def add(name, *args):
        r = subprocess.run([ANALYZE] + list(args) + ["--db", w.db], capture_output=True,
                           env={k: v for k, v in os.environ.items() if k != "LD_PRELOAD"})
        views[name] = r.stdout + r.stderr

    add("requests", "requests", "--limit", "0")
    add("requests --json", "requests", "--json", "--limit", "0")
    add("requests --csv", "requests", "--csv", "--limit", "0")
    add("export --bodies", "export", "--bodies")
    add("export json --bodies", "export", "--format", "json", "--bodies")
    add("export otlp", "export", "--format", "otlp")
    add("export csv", "export", "--format", "csv")
    add("report --json", "report", "--json")
    add("users --json", "users", "--json")
    add("sessions --json", "sessions", "--json")
    add("stats", "stats", "--json")
    for x in recs:
        add("show %s" % x["id"][:8], "show", x["id"])
        add("show --json %s" % x["id"][:8], "show", "--json", x["id"])
        add("show --raw %s" % x["id"][:8], "show", "--raw", x["id"])
    return views


def found(blob, needles):
    return [n for n in needles if n.encode() in blob]


# ---------------------------------------------------------------------------------------------
def credentials(t, w):
    w.reset_store()
    log = os.path.join(w.dir, "hc-debug.log")
    hdrs = json.dumps(SECRETS)
    before = w.mock.count()
    r1 = w.run([PYTHON, os.path.join(CLIENTS, "sec_creds.py"), hdrs], HC_DEBUG=1, HC_LOG=log)
    r2 = w.run([PYTHON, os.path.join(CLIENTS, "sec_creds.py"), hdrs], HC_DEBUG=1, HC_CACHE=1)
    r3 = curl(w, chat("curl credential scan"), *sum((["-H", "%s: %s" % kv] for kv in SECRETS.items()), []),
              "-H", "Accept-Encoding: gzip", HC_DEBUG=1)
    calls = [json.loads(l) for r in (r1, r2) for l in r.stdout.splitlines() if l.startswith("{")]
    t.ok(len(calls) == 12 and all(c["status"] == 200 for c in calls) and r3.returncode == 0,
         "12 calls with every credential header answered (OpenAI, Anthropic, Gemini; plain, streamed, cached)",
         r1.stdout + r1.stderr[-800:] + r2.stderr[-800:])
    got = w.mock.requests[before:]
    t.ok(any(SECRETS["Authorization"] in g["headers"].get("authorization", "") for g in got)
         and any(SECRETS["x-api-key"] in g["headers"].get("x-api-key", "") for g in got)
         and any("COOKIESECRET" in g["headers"].get("cookie", "") for g in got),
         "the credentials did reach the provider (so they went through the gateway)")
    t.ok(not any(k.startswith("helicone-") for g in got for k in g["headers"]),
         "Helicone-Auth is stripped before the provider")
    recs = w.records(wait_for=len(calls) + 1)
    t.ok(len(recs) >= len(calls) + 1, "every call recorded (%d)" % len(recs))

    blob = w.store_bytes()
    t.eq(found(blob, NEEDLES), [], "no credential in the store's files (%d bytes scanned)" % len(blob))
    with open(log, "rb") as f:
        logb = f.read()
    t.ok(b"redirected" in logb or b"gateway" in logb, "HC_LOG received the debug output", logb[:300])
    t.eq(found(logb, NEEDLES), [], "no credential in the HC_LOG file")
    errb = (r1.stderr + r2.stderr + r3.stderr).encode()
    t.eq(found(errb, NEEDLES), [], "no credential in HC_DEBUG output on stderr")
    views = analyzer_outputs(w, recs)
    leaks = {name: found(v, NEEDLES) for name, v in views.items() if found(v, NEEDLES)}
    t.eq(leaks, {}, "no credential in any hc-analyze output (%d views, %d bytes)"
         % (len(views), sum(len(v) for v in views.values())))
    t.ok(b"credential scan one" in views["export --bodies"], "(the scan sees bodies: export --bodies has the prompts)")

    # Observe mode (passive capture of the app's own TLS): it sees the plaintext headers too.
    w.reset_store()
    r = w.run([PYTHON, "-c", OBSERVE_APP, w.mock.url, hdrs], HC_MODE="observe", HC_DEBUG=1,
              SSL_CERT_FILE=w.pki["ca"], REQUESTS_CA_BUNDLE=w.pki["ca"], HC_HOSTS="127.0.0.1:%d" % w.mock.port)
    recs = w.records(wait_for=2)
    if len(recs) < 2:
        print("ok %d - # SKIP observe mode recorded %d of 2 calls here" % (t.n + 1, len(recs)))
        t.n += 1
    else:
        views = analyzer_outputs(w, recs)
        leaks = found(w.store_bytes() + r.stderr.encode() + b"".join(views.values()), NEEDLES)
        t.eq(leaks, [], "observe mode: no credential in the store, stderr or hc-analyze output")

    # A key in the URL: Gemini accepts ?key=.
    w.reset_store()
    qkey = "AIzaQUERYSECRET" + NONCE
    r = curl(w, json.dumps({"contents": [{"role": "user", "parts": [{"text": "query key"}]}]}),
             url="https://generativelanguage.googleapis.com/v1beta/models/gemini-2.0-flash:generateContent?key=" + qkey)
    recs = w.records(wait_for=1)
    t.ok(r.returncode == 0 and len(recs) == 1, "Gemini call with ?key= answered and recorded", r.stderr)
    views = analyzer_outputs(w, recs)
    where = [n for n, v in views.items() if qkey.encode() in v]
    t.ok(qkey.encode() not in w.store_bytes() and not where,
         "an API key in the query string (?key=) is not stored (record path: %r)"
         % (recs[0]["path"] if recs else None), "found in: %s" % where)

    # A cookie the provider sets, with the cache on (the cache keeps answers).
    w.reset_store()
    cookie = "SETCOOKIESECRET" + NONCE
    w.mock.script([{"headers": {"Set-Cookie": "__cf_bm=%s; path=/; HttpOnly" % cookie}}] * 2)
    for _ in range(2):
        r = curl(w, chat("set cookie please"), "-D", "-", HC_CACHE=1)
    recs = w.records(wait_for=2)
    t.ok(len(recs) == 2 and recs[1]["flags"] & 2, "cached call: the second answer is a cache hit",
         [x["flags"] for x in recs])
    views = analyzer_outputs(w, recs)
    where = [n for n, v in views.items() if cookie.encode() in v]
    t.ok(cookie.encode() not in w.store_bytes() and not where,
         "a Set-Cookie from the provider is not stored (in the cache or elsewhere)",
         "found in the store files: %s; in views: %s" % (cookie.encode() in w.store_bytes(), where))


OBSERVE_APP = r"""
import json, sys, requests
h = json.loads(sys.argv[2])
h["Content-Type"] = "application/json"
for stream in (False, True):
    body = {"model": "gpt-4o-mini", "stream": stream, "messages": [{"role": "user", "content": "observe scan"}]}
    r = requests.post(sys.argv[1] + "/v1/chat/completions", data=json.dumps(body), headers=h, timeout=20, stream=stream)
    print(r.status_code, len(r.content))
"""


def omitted(t, w):
    w.reset_store()
    r = curl(w, chat("OMITPROMPT%s please" % NONCE), HC_OMIT_REQUEST=1, HC_OMIT_RESPONSE=1)
    r2 = curl(w, chat("HDROMIT%s please" % NONCE), "-H", "Helicone-Omit-Request: true",
              "-H", "Helicone-Omit-Response: true")
    recs = w.records(wait_for=2)
    t.ok(r.returncode == 0 and r2.returncode == 0 and len(recs) == 2
         and all(x["flags"] & 16 and x["flags"] & 32 for x in recs),
         "omitted bodies: recorded with the omitted flags", [x["flags"] for x in recs])
    blob = w.store_bytes() + b"".join(analyzer_outputs(w, recs).values())
    t.ok(("OMITPROMPT" + NONCE).encode() not in blob and ("HDROMIT" + NONCE).encode() not in blob,
         "omitted prompt and response (which echoes it) are stored nowhere")


def permissions(t, w):
    base = os.path.join(w.dir, "perm")
    os.mkdir(base)
    db = os.path.join(base, "deep", "er", "store")
    log = os.path.join(base, "hc.log")
    script = 'umask 000; exec curl -sS -o /dev/null https://api.openai.com/v1/chat/completions ' \
             '-H "Authorization: Bearer sk-test" -d "$1"'
    r = w.run(["sh", "-c", script, "sh", chat("perm")], HC_DB=db, HC_LOG=log, HC_DEBUG=1)
    deadline = time.monotonic() + 10
    while not os.path.exists(os.path.join(db, "data.mdb")) and time.monotonic() < deadline:
        time.sleep(0.05)
    t.ok(r.returncode == 0 and os.path.isdir(db), "umask 000: the call works and the store is created", r.stderr)
    if not os.path.isdir(db):
        return
    mode = lambda p: oct(os.stat(p).st_mode & 0o777)  # noqa: E731
    t.eq(mode(db), "0o700", "store directory created 0700 under umask 000")
    t.eq({n: mode(os.path.join(db, n)) for n in sorted(os.listdir(db))},
         {n: "0o600" for n in sorted(os.listdir(db))}, "store files created 0600 under umask 000")
    t.ok(all(not (os.stat(p).st_mode & 0o022) for p in (os.path.join(base, "deep"), os.path.join(base, "deep", "er"))),
         "parent directories the shim created are not group/world-writable",
         [mode(os.path.join(base, "deep")), mode(os.path.join(base, "deep", "er"))])
    t.eq(mode(log), "0o600", "HC_LOG file created 0600 under umask 000")
    t.ok("writable by other users" not in r.stderr, "no shared-directory warning for a store the shim created",
         r.stderr)
    # A store directory someone made world-writable: the shim says so, once.
    shared = os.path.join(base, "shared-store")
    os.mkdir(shared)
    os.chmod(shared, 0o777)
    two = script.replace("/v1/chat/completions ", "/v1/chat/completions https://api.openai.com/v1/chat/completions ")
    r = w.run(["sh", "-c", two, "sh", chat("perm")], HC_DB=shared)
    t.ok(r.returncode == 0 and r.stderr.count("writable by other users") == 1 and "chmod 700" in r.stderr,
         "a group/world-writable store directory, two calls: one warning naming the fix", r.stderr)
    # hc-analyze html -o writes prompts: 0600 too (when the command exists).
    if subprocess.run([ANALYZE, "html", "-h"], capture_output=True).returncode == 0:
        out = os.path.join(base, "dash.html")
        subprocess.run(["sh", "-c", 'umask 000; exec "$0" html -o "$1" --db "$2"', ANALYZE, out, db],
                       capture_output=True)
        t.ok(os.path.exists(out) and mode(out) == "0o600", "hc-analyze html -o creates its file 0600 under umask 000",
             os.path.exists(out) and mode(out))
    else:
        print("ok %d - # SKIP hc-analyze html is not built" % (t.n + 1))
        t.n += 1
    # export --bodies -o writes the same prompts and responses: it deserves the same 0600.
    out = os.path.join(base, "export.jsonl")
    subprocess.run(["sh", "-c", 'umask 022; exec "$0" export --bodies -o "$1" --db "$2"', ANALYZE, out, db],
                   capture_output=True)
    t.ok(os.path.exists(out) and mode(out) == "0o600",
         "hc-analyze export --bodies -o creates its file 0600 (it holds prompts), even under umask 022",
         os.path.exists(out) and mode(out))


# ---------------------------------------------------------------------------------------------
HTTP_REQ = (b"POST /v1/chat/completions HTTP/1.1\r\nHost: api.openai.com\r\nAuthorization: Bearer sk-stranger\r\n"
            b"Content-Type: application/json\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s")
STRANGER_BODY = b'{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "stranger danger"}]}'


def stranger(family, addr, port, src=None, tls=False):
    """Connect to the gateway from this (foreign) process; send a request.
    Returns (bytes answered, seconds until the gateway closed, how it ended)."""
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(6)
    t0 = time.monotonic()
    data = b""
    try:
        if src:
            s.bind(src)
        s.connect((addr, port))
        if tls:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            try:
                s = ctx.wrap_socket(s, server_hostname="api.openai.com")
            except (ssl.SSLError, OSError) as e:
                return b"", time.monotonic() - t0, "handshake failed: %s" % type(e).__name__
        s.sendall(HTTP_REQ % (len(STRANGER_BODY), STRANGER_BODY))
        while True:
            b = s.recv(65536)
            if not b:
                return data, time.monotonic() - t0, "closed"
            data += b
    except socket.timeout:
        return data, time.monotonic() - t0, "timeout (still open)"
    except OSError as e:
        return data, time.monotonic() - t0, type(e).__name__
    finally:
        s.close()


def foreign_connections(t, w):
    w.reset_store()
    p = subprocess.Popen([PYTHON, os.path.join(CLIENTS, "sec_gateway.py")], env=w.env(), stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = p.stdout.readline()
        info = json.loads(line) if line.startswith("{") else {}
        if not t.ok(info.get("status") == 200 and info.get("listen"), "app under the shim: answered; gateway found",
                    line + (p.stderr.read() if not line else "")):
            return
        t.diag("gateway listeners: %s; app's idle connection from port %d" % (info["listen"], info["idle_port"]))
        loop = {"4": "0100007F", "6": "00000000000000000000000001000000"}
        t.ok(all(a == loop[f] for f, a, _ in info["listen"]), "the gateway listens on loopback only",
             info["listen"])
        mock_before = w.mock.count()
        for fam, _, port in info["listen"]:
            af, addr = (socket.AF_INET, "127.0.0.1") if fam == "4" else (socket.AF_INET6, "::1")
            data, dt, how = stranger(af, addr, port)
            t.ok(data == b"" and dt < 8 and how != "timeout (still open)",
                 "IPv%s, plain HTTP from another process: closed without an answer (%s after %.1fs)" % (fam, how, dt),
                 data[:300])
            data, dt, how = stranger(af, addr, port, tls=True)
            t.ok(data == b"" and dt < 8 and how != "timeout (still open)",
                 "IPv%s, TLS from another process: no handshake, no answer (%s after %.1fs)" % (fam, how, dt),
                 data[:300])
        port4 = [pt for f, _, pt in info["listen"] if f == "4"]
        if port4:
            # A forged source: another loopback address, with the source port of the app's live
            # registered connection (registrations are looked up by port).
            data, dt, how = stranger(socket.AF_INET, "127.0.0.1", port4[0], src=("127.0.0.2", info["idle_port"]))
            t.ok(data == b"",
                 "a connection from 127.0.0.2 reusing the app's registered source port %d is closed without an "
                 "answer (%s after %.1fs)" % (info["idle_port"], how, dt), data[:400])
        t.eq(w.mock.count() - mock_before, 0, "no stranger's request reached the provider")

        # A flood of foreign connections must not break the app's own connections.
        CALLS = 150
        if port4:
            stop = threading.Event()

            def flood():
                while not stop.is_set():
                    try:
                        c = socket.create_connection(("127.0.0.1", port4[0]), timeout=5)
                        try:
                            c.recv(1)
                        except OSError:
                            pass
                        c.close()
                    except OSError:
                        time.sleep(0.01)

            threads = [threading.Thread(target=flood, daemon=True) for _ in range(64)]
            for th in threads:
                th.start()
            time.sleep(0.3)
            p.stdin.write("calls %d\n" % CALLS)
            p.stdin.flush()
            res = json.loads(p.stdout.readline())
            stop.set()
            for th in threads:
                th.join(timeout=10)
            t.ok(res["ok"] == CALLS, "while 64 foreign connections flood the gateway, the app's %d calls all succeed "
                 "(%d failed)" % (CALLS, CALLS - res["ok"]), "\n".join(res["errors"][:5]))
        p.stdin.write("call\n")
        p.stdin.flush()
        t.eq(json.loads(p.stdout.readline()).get("status"), 200, "the app's own calls still work afterwards")
        p.stdin.close()
        p.wait(timeout=20)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    want = 1 + (res["ok"] if port4 else 0) + 1
    recs = w.records(wait_for=want)
    time.sleep(0.3)
    recs = w.records()
    t.eq(len(recs), want, "records: the app's %d answered calls only, none for the strangers" % want)
    bodies = w.analyze("export", "--bodies", check=False).stdout
    t.ok("stranger danger" not in bodies, "no stranger's request recorded",
         [x["id"] for x in recs if x["req_bytes"] == len(STRANGER_BODY)])


# ---------------------------------------------------------------------------------------------
def snapshot(roots):
    snap = {}
    for root in roots:
        for dp, dns, fns in os.walk(root):
            for fn in fns:
                p = os.path.join(dp, fn)
                try:
                    st = os.lstat(p)
                except OSError:
                    continue
                snap[p] = (st.st_mtime_ns, st.st_size, st.st_ino)
    return snap


WRITE_FLAGS = ("O_WRONLY", "O_RDWR", "O_CREAT", "O_TRUNC", "O_APPEND")


def ca_key_on_disk(t, w):
    if not subprocess.run(["sh", "-c", "command -v strace"], capture_output=True).stdout:
        print("ok %d - # SKIP strace is not installed" % (t.n + 1))
        t.n += 1
        return
    w.reset_store()
    work = os.path.join(w.dir, "cwd")
    tmp = os.path.join(w.dir, "tmpdir")
    os.mkdir(work)
    os.mkdir(tmp)
    log = os.path.join(w.dir, "ca.log")
    roots = ["/tmp", work, os.getcwd()]
    before = snapshot(roots)
    trace = os.path.join(w.dir, "strace.out")
    calls = "open,openat,openat2,creat,write,writev,pwrite64,pwritev,memfd_create,rename,renameat,renameat2," \
            "link,linkat,symlink,symlinkat,mkdir,mkdirat"
    progs = [
        ["curl", "-sS", "-o", "/dev/null", "https://api.openai.com/v1/chat/completions",
         "-H", "Authorization: Bearer sk-test", "-d", chat("strace curl")],
        [PYTHON, os.path.join(CLIENTS, "fault_call.py"), "requests", "1", "2"],
        [PYTHON, os.path.join(CLIENTS, "fault_call.py"), "urllib", "0", "1"],
    ]
    ok = True
    for k, prog in enumerate(progs):
        r = subprocess.run(["strace", "-f", "-qq", "-s", "16384", "-o", "%s.%d" % (trace, k), "-e", "trace=" + calls]
                           + prog, env=w.env(HC_LOG=log, HC_DEBUG=1, TMPDIR=tmp), cwd=work,
                           capture_output=True, text=True, timeout=60)
        ok = ok and r.returncode == 0
    recs = w.records(wait_for=4)
    t.ok(ok and len(recs) == 4, "curl, requests and urllib under strace: answered and recorded", len(recs))
    written, memfd, pem_writes = set(), [], []
    for k in range(len(progs)):
        with open("%s.%d" % (trace, k), errors="replace") as f:
            for line in f:
                m = re.search(r'(?:open|openat|openat2|creat)\((?:[^,]*, )?"([^"]*)"(?:, ([A-Z_|]+))?', line)
                if m and ("creat(" in line.split("(")[0] or any(fl in (m.group(2) or "") for fl in WRITE_FLAGS)):
                    if "= -1" not in line:
                        written.add(m.group(1))
                if "memfd_create(" in line:
                    memfd.append(line.strip())
                if "PRIVATE KEY" in line:
                    pem_writes.append(line.strip()[:200])
                m = re.search(r'(?:rename|renameat2?|link|linkat|symlink|symlinkat)\(.*"([^"]+)"', line)
                if m and "= -1" not in line:
                    written.add(m.group(1))
    t.ok(os.path.join(w.db, "data.mdb") in written, "(strace saw the store being written: the trace is complete)",
         sorted(written))
    # hcshim-ca-PID-XXXXXX: the CA *certificate* (public) for NODE_EXTRA_CA_CERTS, if the shim writes one;
    # the PEM scan below still holds it to "no private key".
    allowed = lambda p: (p.startswith(w.db + "/") or p == log or p.startswith("/dev/")  # noqa: E731
                         or p.startswith("/proc/") or os.path.basename(p).startswith("hcshim-ca-"))
    t.eq(sorted(p for p in written if not allowed(p)), [],
         "strace: no file opened for writing other than the store, the log and /dev (saw %s)" % sorted(written))
    t.eq(memfd, [], "strace: no memfd_create (no anonymous file for a key)")
    t.eq(pem_writes, [], "strace: no write(2) of a PEM private key, anywhere (sockets included)")
    after = snapshot(roots)
    suspects = []
    for p, sig in after.items():
        if before.get(p) == sig:
            continue
        # Other test worlds' PKIs (tests/mock/pki.py) are not ours to judge.
        if re.match(r"/tmp/hctest-[^/]+/", p) and not p.startswith(w.dir + "/") and p.endswith((".key", ".pem")):
            continue
        try:
            with open(p, "rb") as f:
                head = f.read(1 << 20)
        except OSError:
            continue
        if b"PRIVATE KEY" in head:
            suspects.append(p)
    t.eq(suspects, [], "no file holding a private key was created or changed under /tmp, the cwd or the repo")
    # A live process: nothing key-like mapped from a file.
    p = subprocess.Popen([PYTHON, os.path.join(CLIENTS, "sec_gateway.py")], env=w.env(), stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=work)
    try:
        line = p.stdout.readline()
        with open("/proc/%d/maps" % p.pid) as f:
            maps = f.read()
        # Files under /tmp other than the store are suspect, except the build's
        # own libraries (a checkout may itself live under /tmp).
        build = os.path.realpath(BUILD) + "/"
        odd = [l for l in maps.splitlines() if "(deleted)" in l or "memfd:" in l or l.rstrip().endswith((".pem", ".key"))
               or (" /tmp/" in l and " %s/" % w.db not in l and " " + build not in l)]
        t.ok(line.startswith("{") and not odd, "a live process under the shim maps no key file, memfd or deleted file",
             "\n".join(odd))
    finally:
        p.stdin.close()
        p.wait(timeout=20)


# ---------------------------------------------------------------------------------------------
PY_TLS = r"""
import json, socket, ssl, sys, warnings
out = {}
ctx = ssl.create_default_context()
ctx.check_hostname = False          # the handshake sends SNI api.openai.com and verifies the chain...
with socket.create_connection(("api.openai.com", 443)) as s:
    with ctx.wrap_socket(s, server_hostname="api.openai.com") as t:
        cert = t.getpeercert()
out["san"] = cert.get("subjectAltName")
out["issuer"] = dict(x[0] for x in cert["issuer"]).get("commonName")
warnings.simplefilter("ignore")
for name in ("api.openai.com", "evil.example.com", "api.anthropic.com"):
    try:                                 # ...then checks a name: only api.openai.com may match
        ssl.match_hostname(cert, name)
        out[name] = "match"
    except Exception as e:
        out[name] = type(e).__name__
ctx2 = ssl.create_default_context()
with socket.create_connection(("api.openai.com", 443)) as s:
    with ctx2.wrap_socket(s, server_hostname="api.openai.com") as t:
        out["full_check"] = "ok"
print(json.dumps(out))
"""


def name_constraints(t, w):
    r = w.run([PYTHON, "-c", PY_TLS])
    try:
        d = json.loads(r.stdout)
    except ValueError:
        d = {}
    t.ok(d.get("full_check") == "ok", "Python ssl verifies the gateway's leaf for api.openai.com", r.stdout + r.stderr)
    t.eq(d.get("san"), [["DNS", "api.openai.com"]], "the leaf names api.openai.com only")
    t.ok("gateway CA" in (d.get("issuer") or ""), "the leaf is issued by the per-process gateway CA", d.get("issuer"))
    t.ok(d.get("api.openai.com") == "match" and d.get("evil.example.com") not in (None, "match")
         and d.get("api.anthropic.com") not in (None, "match"),
         "Python: the leaf matches api.openai.com and not evil.example.com / api.anthropic.com", d)
    for vh, want in (("api.openai.com", True), ("evil.example.com", False), ("api.anthropic.com", False)):
        r = w.run(["openssl", "s_client", "-connect", "api.openai.com:443", "-servername", "api.openai.com",
                   "-verify_hostname", vh, "-verify_return_error"], input="", timeout=30)
        text = r.stdout + r.stderr
        ok = r.returncode == 0 and "Verify return code: 0 (ok)" in text
        t.eq(ok, want, "OpenSSL (s_client under the shim), SNI api.openai.com, checking %s: %s"
             % (vh, "verifies" if want else "fails (hostname mismatch)"))


def serve_loopback(t, w, analyze=ANALYZE):
    if subprocess.run([analyze, "serve", "-h"], capture_output=True).returncode != 0:
        print("ok %d - # SKIP hc-analyze serve is not built" % (t.n + 1))
        t.n += 1
        return
    if not os.path.exists(os.path.join(w.db, "data.mdb")):
        curl(w, chat("serve me"))
        w.records(wait_for=1)
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    p = subprocess.Popen([analyze, "serve", "--port", "0", "--db", w.db], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = p.stdout.readline()
        m = re.search(r"serving on http://([^/]+):(\d+)/", line)
        if not t.ok(m, "serve prints where it listens", line + (p.stderr.read() if not line else "")):
            return
        host, port = m.group(1), int(m.group(2))
        socks = []
        inodes = set()
        for fd in os.listdir("/proc/%d/fd" % p.pid):
            try:
                link = os.readlink("/proc/%d/fd/%s" % (p.pid, fd))
            except OSError:
                continue
            if link.startswith("socket:["):
                inodes.add(link[8:-1])
        for path in ("/proc/%d/net/tcp" % p.pid, "/proc/%d/net/tcp6" % p.pid):
            with open(path) as f:
                for row in f.read().splitlines()[1:]:
                    c = row.split()
                    if c[3] == "0A" and c[9] in inodes:
                        socks.append(c[1])
        t.ok(socks and all(s.split(":")[0] in ("0100007F", "00000000000000000000000001000000") for s in socks),
             "hc-analyze serve listens on loopback only by default (%s)" % host, socks)
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.sendall(b"GET /api/summary HTTP/1.1\r\nHost: evil.example.com\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            b = s.recv(65536)
            if not b:
                break
            data += b
        s.close()
        t.ok(data.startswith(b"HTTP/1.1 421") or data.startswith(b"HTTP/1.0 421"),
             "serve refuses a request naming another host (DNS rebinding): 421", data[:200])
    finally:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    r = subprocess.run([analyze, "serve", "--port", "0", "--bind", "0.0.0.0", "--db", w.db], capture_output=True,
                       text=True, timeout=10, env=env)
    t.eq(r.returncode, 2, "serve --bind 0.0.0.0 without --allow-remote is refused (exit 2)")


HOSTILE = "pwn \x1b[2J\x1b]0;owned\x07 bell\x07 <script>alert(1)</script> csi\u009b31m end"


def hostile_content(t, w):
    w.reset_store()
    bodies = [chat(HOSTILE), chat(HOSTILE, stream=True), chat("hostile model", model="gpt-4o-mini\x1b[31m\x07<script>")]
    outs = [curl(w, b, "-N") for b in bodies]
    t.ok(all(r.returncode == 0 for r in outs) and "\\u001b[2J" in outs[0].stdout and "[DONE]" in outs[1].stdout,
         "hostile prompts are answered, the app gets the provider's bytes", [r.stderr for r in outs])
    # A hostile provider: a text error body with raw control bytes.
    w.mock.script([{"status": 503, "body": "overloaded " + HOSTILE}])
    curl(w, chat("provider hostile"))
    recs = w.records(wait_for=4)
    t.eq(len(recs), 4, "hostile exchanges recorded")
    bad = re.compile(rb"[\x1b\x07]|\xc2\x9b")
    views = {"requests": w.analyze("requests", check=False).stdout}
    for x in recs:
        views["show " + x["id"][:8]] = w.analyze("show", x["id"], check=False).stdout
    for cmd in (["report"], ["users"], ["sessions"], ["requests", "--csv"]):
        views[" ".join(cmd)] = w.analyze(*cmd, check=False).stdout
    raw = {n: bad.findall(v.encode()) for n, v in views.items() if bad.search(v.encode())}
    t.eq(raw, {}, "terminal output (requests, show, report, users, sessions, csv) has no raw ESC, BEL or C1 CSI")
    t.ok(any("[2J" in v for k, v in views.items() if k.startswith("show")),
         "(show does print the hostile prompt, escaped)")
    if subprocess.run([ANALYZE, "html", "-h"], capture_output=True).returncode == 0:
        out = os.path.join(w.dir, "hostile.html")
        w.analyze("html", "-o", out, check=False)
        html = open(out, "rb").read() if os.path.exists(out) else b""
        t.ok(html and b"<script>alert(1)</script>" not in html and not bad.search(html),
             "hc-analyze html: the hostile prompt is escaped (no live <script>, no raw ESC/BEL)", len(html))
    else:
        print("ok %d - # SKIP hc-analyze html is not built" % (t.n + 1))
        t.n += 1


def main():
    t = TAP()
    with World(http_mock=False) as w:
        for step in (credentials, omitted, permissions, foreign_connections, ca_key_on_disk, name_constraints,
                     serve_loopback, hostile_content):
            t0 = time.monotonic()
            w.mock.reset()
            step(t, w)
            t.diag("%s: %.1fs" % (step.__name__, time.monotonic() - t0))
    return t.done()


if __name__ == "__main__":
    warnings.simplefilter("ignore")
    sys.exit(main())
