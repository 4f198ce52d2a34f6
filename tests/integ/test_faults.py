#!/usr/bin/python3
"""Fault injection: the upstream, the store and the process misbehave.

In every case the app gets a clear answer (an error it can see, or the
provider's own bytes), the shim never crashes or hangs its host, and the
store stays consistent (`hc-analyze requests --json` parses, counts exact).

- The upstream resets mid-answer, or ends a chunked body without its last
  chunk: the app sees an error (curl exit 18/56, Python raises), never a
  silently shortened "successful" body; the record says status 200 with an
  error text; the next request on a new connection works.
- The upstream answers garbage, HTTP/0.9 or nothing: a 502 whose JSON error
  names the upstream; recorded.
- The upstream hangs (before its head, or mid-stream) and the app's own
  timeout fires: no gateway thread outlives the timed-out connections, and
  the record says the client aborted. Without an app timeout,
  HC_UPSTREAM_TIMEOUT answers (504, or a cut stream); a slow but steady body
  is passed through whole.
- The upstream certificate is untrusted, expired or for another name: a 502
  with a TLS reason, and no request reaches that upstream.
- The store is full (HC_DB_MAP_MB=1 HC_DB_MAX_MB=2): requests keep
  succeeding, the shim says once that records are dropped, the store opens
  afterwards and holds only complete records.
- kill -9 of writing processes: every committed record decodes, the store
  keeps working for the next process (and for a process writing beside the
  one killed). kill -9 of a reader inside its read transaction while a
  recording process keeps the store open: no stale reader slot pins the
  store's pages.
- The framing the app relies on to detect a cut answer: an HTTP/1.0 app
  gets a close-delimited body (never chunked), and when the upstream fails
  mid-body that connection does not end with a clean TLS close;
  Connection: close is echoed.
- 8 processes x 500 requests into one store: exact count, unique ids.
"""
import datetime
import json
import os
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from hctest import CLIENTS, PYTHON, TAP, World  # noqa: E402
from mock_provider import MockProvider  # noqa: E402
from pki import make_cert  # noqa: E402

KEY = "sk-test-fault-0123456789"


def chat(content="fault injection call", stream=False):
    b = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": content}]}
    if stream:
        b["stream"] = True
    return json.dumps(b)


def curl(w, body, *extra, timeout=60, **env):
    return w.run(["curl", "-sS", "-N", "https://api.openai.com/v1/chat/completions",
                  "-H", "Authorization: Bearer " + KEY, "-H", "Content-Type: application/json",
                  "-w", "\n%{http_code}", "-d", body] + list(extra), timeout=timeout, **env)


def lines(r):
    out = []
    for line in r.stdout.splitlines():
        if line.startswith("{"):
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
    return out


def fault_call(w, lib, stream, count, timeout=20, prompt="fault injection call", **env):
    r = w.client("fault_call", lib, "1" if stream else "0", count, timeout, prompt, **env)
    return r, lines(r)


def store_json(w):
    """(requests --json --limit 0 document, or None if it does not parse / fails)."""
    r = w.analyze("requests", "--json", "--limit", "0", check=False)
    try:
        return json.loads(r.stdout) if r.returncode == 0 else None
    except ValueError:
        return None


def stats(w):
    r = w.analyze("stats", "--json", check=False)
    try:
        return json.loads(r.stdout) if r.returncode == 0 else None
    except ValueError:
        return None


def error_body(text):
    """The gateway's JSON error (from curl output ending in "\\nCODE")."""
    body = text.rsplit("\n", 1)[0]
    try:
        return json.loads(body).get("error", {})
    except ValueError:
        return {}


def expired_cert(pki, dirpath):
    """A leaf for 127.0.0.1/localhost signed by the test CA, expired yesterday."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    import ipaddress
    os.makedirs(dirpath, exist_ok=True)
    with open(pki["ca"], "rb") as f:
        ca = x509.load_pem_x509_certificate(f.read())
    with open(pki["ca_key"], "rb") as f:
        ca_key = serialization.load_pem_private_key(f.read(), None)
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "expired test")]))
            .issuer_name(ca.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=30))
            .not_valid_after(now - datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
            .sign(ca_key, hashes.SHA256()))
    cp, kp = os.path.join(dirpath, "expired.pem"), os.path.join(dirpath, "expired.key")
    with open(cp, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(kp, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    os.chmod(kp, 0o600)
    return cp, kp


# ---------------------------------------------------------------------------------------------
def truncated_answers(t, w):
    """reset_mid_stream / truncate_chunked with curl, requests, urllib, httpx."""
    for fault in ("reset_mid_stream", "truncate_chunked"):
        for stream in (False, True):
            kind = "%s %s" % (fault, "stream" if stream else "plain")
            # curl: one faulty call, then a fresh process for the next one.
            w.reset_store()
            w.mock.script([{"fault": fault}])
            r = curl(w, chat(stream=stream))
            t.ok(r.returncode in (18, 56), "%s, curl: exit code 18/56 (transfer cut), not a silent success" % kind,
                 "rc=%d stderr=%s" % (r.returncode, r.stderr[-300:]))
            r2 = curl(w, chat("after the fault", stream=stream))
            whole = "data: [DONE]" in r2.stdout if stream else "after the fault" in r2.stdout
            t.ok(r2.returncode == 0 and r2.stdout.endswith("200") and whole,
                 "%s, curl: the next request works" % kind, r2.stdout[-300:] + r2.stderr)
            recs = w.records(wait_for=2)
            t.ok(len(recs) == 2 and recs[0]["status"] == 200 and "mid-response" in recs[0]["error"]
                 and recs[1]["status"] == 200 and recs[1]["error"] == "",
                 "%s, curl: recorded as status 200 with an error text, then the good one" % kind,
                 [(x["status"], x["error"]) for x in recs])

            # Python clients: the faulty call and the next one in the same process.
            for lib in ("requests", "urllib", "httpx"):
                w.reset_store()
                w.mock.script([{"fault": fault}])
                r, got = fault_call(w, lib, stream, 2)
                label = "%s, %s" % (kind, lib)
                if not t.ok(len(got) == 2, "%s: the app ran both calls" % label, r.stdout[-500:] + r.stderr[-1500:]):
                    continue
                first, second = got
                t.ok(first["outcome"] == "error",
                     "%s: the app sees an error (%s), not a shortened success" % (label, first.get("exc")), first)
                t.ok(second["outcome"] == "ok" and second["status"] == 200 and second["complete"],
                     "%s: the next request (new connection) gets a whole answer" % label, second)
                recs = w.records(wait_for=2)
                t.ok(len(recs) == 2 and recs[0]["status"] == 200 and recs[0]["error"] != ""
                     and recs[1]["status"] == 200 and recs[1]["error"] == "",
                     "%s: exactly 2 records, the cut one with status 200 and an error text" % label,
                     [(x["status"], x["error"]) for x in recs])
                t.eq(r.returncode, 0, "%s: the app exits normally (no crash)" % label)


def bad_answers(t, w):
    """garbage, HTTP/0.9, close before any byte: 502 naming the upstream."""
    upstream = "127.0.0.1:%d" % w.mock.port
    codes = {"garbage": "upstream_protocol", "http09": "upstream_protocol", "close_before_response": "upstream_closed"}
    for fault in ("garbage", "http09", "close_before_response"):
        for stream in (False, True):
            kind = "%s %s" % (fault, "stream" if stream else "plain")
            w.reset_store()
            w.mock.script([{"fault": fault}])
            r = curl(w, chat(stream=stream))
            err = error_body(r.stdout)
            t.ok(r.returncode == 0 and r.stdout.endswith("\n502"), "%s, curl: the app gets a 502" % kind,
                 r.stdout[-300:] + r.stderr)
            t.ok(upstream in err.get("message", "") and err.get("code") == codes[fault],
                 "%s, curl: the JSON error names the upstream and says %s" % (kind, codes[fault]), err)
            w.mock.script([{"fault": fault}])
            r, got = fault_call(w, "requests", stream, 2)
            t.ok(len(got) == 2 and got[0].get("status") == 502 and upstream in got[0].get("body", "")
                 and got[1].get("status") == 200 and got[1].get("complete"),
                 "%s, requests: 502 naming the upstream, then a whole answer" % kind, got or r.stderr[-800:])
            recs = w.records(wait_for=3)
            t.ok(len(recs) == 3 and [x["status"] for x in recs] == [502, 502, 200]
                 and upstream in recs[0]["error"] and upstream in recs[1]["error"],
                 "%s: recorded (502 with the cause, then 200)" % kind, [(x["status"], x["error"]) for x in recs])


def task_count(pid):
    try:
        return len(os.listdir("/proc/%d/task" % pid))
    except OSError:
        return -1


def settle_threads(pid, at_most=None, timeout=5.0):
    """Thread count once stable (or once <= at_most), within timeout."""
    deadline = time.monotonic() + timeout
    last, same = task_count(pid), 0
    while time.monotonic() < deadline:
        time.sleep(0.1)
        n = task_count(pid)
        if at_most is not None and n <= at_most:
            return n
        same = same + 1 if n == last else 0
        last = n
        if at_most is None and same >= 5:
            return n
    return last


def hangs(t, w):
    """The upstream hangs; the app's own timeout fires; no thread leak."""
    w.reset_store()
    w.mock.script([{"fault": "hang"}])
    t0 = time.monotonic()
    r = curl(w, chat(), "--max-time", "2", timeout=30)
    dt = time.monotonic() - t0
    t.ok(r.returncode == 28 and dt < 10, "hang, curl --max-time 2: curl's own timeout fires (exit 28, %.1fs)" % dt,
         "rc=%d %s" % (r.returncode, r.stderr))
    recs = w.records(wait_for=1)
    t.ok(len(recs) == 1 and recs[0]["flags"] & 256 and recs[0]["error"],
         "hang, curl: recorded as a client abort with an error text", recs)

    w.reset_store()
    p = subprocess.Popen([PYTHON, os.path.join(CLIENTS, "fault_hang.py"), "2"], env=w.env(),
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        ready = p.stdout.readline().strip()
        if not t.ok(ready == "ready 200", "long-lived requests client: first call answered", ready + p.stderr.read()
                    if not ready else ready):
            return
        base = settle_threads(p.pid)
        t.diag("threads of the client after its first call: %d" % base)
        K = 4
        w.mock.script([{"fault": "hang"}] * K)
        outs = []
        for _ in range(K):
            p.stdin.write("plain\n")
            p.stdin.flush()
            outs.append(json.loads(p.stdout.readline()))
        t.ok(all(o["outcome"] == "error" and o["exc"] in ("ReadTimeout", "ConnectionError") and o["seconds"] < 8
                 for o in outs), "hang, requests timeout=2: %d calls time out on the app's own timeout" % K, outs)
        after = settle_threads(p.pid, at_most=base, timeout=5)
        t.ok(after <= base, "after %d timed-out calls the thread count returns to its baseline (%d -> %d)"
             % (K, base, after))
        # Mid-stream stall: the head and first event, then silence longer than the app waits.
        w.mock.configure(chunk_delay_ms=20000)
        outs = []
        for _ in range(3):
            p.stdin.write("stream\n")
            p.stdin.flush()
            outs.append(json.loads(p.stdout.readline()))
        w.mock.configure(chunk_delay_ms=0)
        t.ok(all(o["outcome"] == "error" and o["seconds"] < 8 for o in outs),
             "mid-stream stall: the app's read timeout fires on all 3 streams", outs)
        after = settle_threads(p.pid, at_most=base, timeout=5)
        t.ok(after <= base, "after 3 stalled streams the thread count returns to its baseline (%d -> %d)"
             % (base, after))
        p.stdin.write("close\n")
        p.stdin.flush()
        last = json.loads(p.stdout.readline())
        t.ok(last["outcome"] == "ok" and last["status"] == 200, "the client's next call works", last)
        p.stdin.close()
        p.wait(timeout=20)
        t.eq(p.returncode, 0, "the client exits normally")
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    recs = w.records(wait_for=1 + K + 3 + 1)
    t.eq(len(recs), 1 + K + 3 + 1, "every call is recorded (1 + %d hung + 3 stalled + 1)" % K)
    hung = [x for x in recs if x["error"] and x["status"] == 0]
    stalled = [x for x in recs if x["error"] and x["status"] == 200]
    t.ok(len(hung) == K and all(x["flags"] & 256 for x in hung),
         "hung calls: recorded without a status, flagged client abort", [(x["status"], x["error"], x["flags"]) for x in recs])
    t.ok(len(stalled) == 3 and all(x["flags"] & 256 for x in stalled),
         "stalled streams: recorded with status 200, flagged client abort",
         [(x["status"], x["error"], x["flags"]) for x in recs])

    # An app without a timeout of its own: the gateway's HC_UPSTREAM_TIMEOUT answers for it.
    w.reset_store()
    w.mock.script([{"fault": "hang"}])
    t0 = time.monotonic()
    r = curl(w, chat(), HC_UPSTREAM_TIMEOUT="1s", timeout=30)
    dt = time.monotonic() - t0
    err = error_body(r.stdout)
    t.ok(r.stdout.endswith("\n504") and err.get("code") == "upstream_timeout" and dt < 6,
         "hang, no app timeout, HC_UPSTREAM_TIMEOUT=1s: a 504 upstream_timeout after %.1fs" % dt, r.stdout + r.stderr)
    w.mock.configure(chunk_delay_ms=5000)
    r = curl(w, chat(stream=True), HC_UPSTREAM_TIMEOUT="1s", timeout=30)
    w.mock.configure(chunk_delay_ms=0)
    t.ok(r.returncode in (18, 56), "mid-stream stall, HC_UPSTREAM_TIMEOUT=1s: the app sees the stream cut (curl %d)"
         % r.returncode, r.stderr)
    recs = w.records(wait_for=2)
    t.ok(len(recs) == 2 and recs[0]["status"] == 504 and recs[1]["status"] == 200 and "timeout" in recs[1]["error"],
         "both recorded: 504, and 200 with a mid-response timeout error", [(x["status"], x["error"]) for x in recs])

    # A slow but steady body is passed through whole, however long it takes.
    w.reset_store()
    w.mock.script([{"fault": "slow_body", "pieces": 5, "duration_ms": 1500}])
    r, got = fault_call(w, "requests", True, 1, 2)
    t.ok(len(got) == 1 and got[0]["outcome"] == "ok" and got[0]["complete"],
         "slow_body (1.5 s in 5 pieces, app timeout 2 s): the app gets the whole stream", got or r.stderr[-500:])
    recs = w.records(wait_for=1)
    t.ok(len(recs) == 1 and recs[0]["status"] == 200 and not recs[0]["error"] and recs[0]["latency_us"] > 1000000
         and recs[0]["tok_out"] > 0, "slow_body: recorded whole, latency > 1 s, usage parsed",
         recs and (recs[0]["error"], recs[0]["latency_us"], recs[0]["tok_out"]))


def bad_certs(t, w):
    """Untrusted, expired or misnamed upstream certificates: 502, nothing sent."""
    wrong_cert = make_cert(w.pki, ["wrong.example"], os.path.join(w.dir, "wrong"))
    exp_cert = expired_cert(w.pki, os.path.join(w.dir, "expired"))
    cases = [("untrusted CA (no HC_CA_FILE)", None, {"HC_CA_FILE": None}),
             ("certificate for another name", wrong_cert, {}),
             ("expired certificate", exp_cert, {})]
    for label, cert, env in cases:
        srv = MockProvider(tls=True, certfile=cert[0], keyfile=cert[1]) if cert else None
        target = srv or w.mock
        if srv:
            srv.start()
        try:
            env = dict(env)
            env["HC_ROUTE"] = "api.openai.com=" + target.url
            w.reset_store()
            before = target.count()
            r = curl(w, chat("secret prompt body " + label), **env)
            err = error_body(r.stdout)
            msg = err.get("message", "")
            t.ok(r.stdout.endswith("\n502") and err.get("code") == "upstream_tls",
                 "%s, curl: 502 upstream_tls" % label, r.stdout[-400:] + r.stderr)
            t.ok("TLS" in msg and any(k in msg.lower() for k in ("certificate", "verify", "expired", "mismatch")),
                 "%s: the message gives the TLS reason" % label, msg)
            r2, got = fault_call(w, "requests", False, 1, **env)
            t.ok(len(got) == 1 and got[0].get("status") == 502 and "TLS" in got[0].get("body", ""),
                 "%s, requests: 502 with the TLS reason" % label, got or r2.stderr[-500:])
            t.eq(target.count() - before, 0, "%s: no request reached that upstream" % label)
            recs = w.records(wait_for=2)
            t.ok(len(recs) == 2 and all(x["status"] == 502 and "TLS" in x["error"] for x in recs),
                 "%s: both recorded as 502 with the TLS error" % label, [(x["status"], x["error"]) for x in recs])
        finally:
            if srv:
                srv.stop()


def trust_paths(t, w):
    """The system trust store is read lazily (core/upstream.c): the hashed
    directory first, the bundle on the first issuer the directory lacks. Both
    must trust what they hold, and nothing else."""
    cadir = os.path.join(w.dir, "trust-dir")
    empty = os.path.join(w.dir, "trust-empty")
    os.makedirs(cadir, exist_ok=True)
    os.makedirs(empty, exist_ok=True)
    h = subprocess.run(["openssl", "x509", "-hash", "-noout", "-in", w.pki["ca"]], capture_output=True, text=True)
    link = os.path.join(cadir, h.stdout.strip() + ".0")
    if not os.path.exists(link):
        shutil.copy(w.pki["ca"], link)
    bundle = os.path.join(w.dir, "trust-bundle.pem")
    with open(bundle, "w") as out:
        for src in ("/etc/ssl/certs/ca-certificates.crt", w.pki["ca"]):
            if os.path.exists(src):
                with open(src) as f:
                    out.write(f.read())
    route = {"HC_ROUTE": "api.openai.com=" + w.mock.url, "HC_CA_FILE": None}
    cases = [("the root in SSL_CERT_DIR (hashed), no bundle", dict(SSL_CERT_DIR=cadir, SSL_CERT_FILE="/nonexistent"), 200),
             ("the root only in the SSL_CERT_FILE bundle (read on the miss)", dict(SSL_CERT_DIR=empty, SSL_CERT_FILE=bundle), 200),
             ("the root in neither", dict(SSL_CERT_DIR=empty, SSL_CERT_FILE="/nonexistent"), 502)]
    for label, env, want in cases:
        env.update(route)
        before = w.mock.count()
        r = curl(w, chat("trust " + label), **env)
        t.ok(r.stdout.endswith("\n%d" % want), "%s: %d" % (label, want), r.stdout[-300:] + r.stderr)
        t.eq(w.mock.count() - before, 1 if want == 200 else 0,
             "%s: %s the upstream" % (label, "reached" if want == 200 else "never reached"))
    # Later calls of the same process: the bundle is read once, and stays trusted.
    env = dict(SSL_CERT_DIR=empty, SSL_CERT_FILE=bundle, **route)
    r, got = fault_call(w, "requests", False, 6, **env)
    t.ok(len(got) == 6 and all(g.get("status") == 200 for g in got),
         "6 calls in one process, root only in the bundle: all 200", got or r.stderr[-500:])


STORE_FULL_APP = r"""
import json, random, string, sys, requests
n, size = int(sys.argv[1]), int(sys.argv[2])
rnd = random.Random(int(sys.argv[3]))
s = requests.Session()
for i in range(n):
    words = " ".join("".join(rnd.choice(string.ascii_letters) for _ in range(8)) for _ in range(size // 9))
    tag = "full%dq%d" % (int(sys.argv[3]), i)
    body = json.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": tag + " " + words}]})
    r = s.post("https://api.openai.com/v1/chat/completions", data=body,
               headers={"Authorization": "Bearer sk-test-full", "Content-Type": "application/json"}, timeout=60)
    ok = r.status_code == 200 and tag in r.json()["choices"][0]["message"]["content"]
    print(json.dumps({"i": i, "ok": ok, "len": len(body)}), flush=True)
"""


def store_full(t, w):
    w.reset_store()
    N = 16
    env = {"HC_DB_MAP_MB": "1", "HC_DB_MAX_MB": "2"}
    r = w.run([PYTHON, "-c", STORE_FULL_APP, N, 300000, 1], timeout=120, **env)
    got = lines(r)
    t.ok(r.returncode == 0 and len(got) == N and all(g["ok"] for g in got),
         "store full: all %d requests of 300 KB keep succeeding" % N, r.stdout[-500:] + r.stderr[-1000:])
    drops = [l for l in r.stderr.splitlines() if "dropping records" in l]
    t.eq(len(drops), 1, "store full: the shim says exactly once that records are dropped")
    t.ok(drops and w.db in drops[0] and "full" in drops[0], "the message names the store and says it is full", drops)
    st = stats(w)
    t.ok(st is not None and st["undecodable"] == 0, "the store opens afterwards (hc-analyze stats), nothing undecodable",
         st)
    doc = store_json(w)
    recs = list(reversed(doc["requests"])) if doc else []
    t.ok(doc is not None and 0 < len(recs) < N, "requests --json parses; some records were kept, the rest dropped (%d)"
         % len(recs))
    summary = [l for l in r.stderr.splitlines() if "exchanges were not recorded" in l]
    want = "%d of %d exchanges were not recorded" % (N - len(recs), N)
    t.ok(len(summary) == 1 and want in summary[0] and "store errors: %d" % (N - len(recs)) in summary[0],
         "at exit the shim says how many were dropped and why: %r" % want, summary or r.stderr[-600:])
    complete = 0
    for x in recs:
        s = w.analyze("show", x["id"], "--json", check=False)
        try:
            d = json.loads(s.stdout)
        except ValueError:
            continue
        if (x["status"] == 200 and x["tok_in"] > 0 and d.get("request_body") and not d.get("request_truncated")
                and len(d["request_body"].encode()) == x["req_bytes"] and d.get("response_body")
                and "full1q" in d["response_body"]):
            complete += 1
    t.eq(complete, len(recs), "every record kept is complete: record, whole request body, response body")
    # A second process, with room again, appends to the same store.
    r = w.run([PYTHON, "-c", STORE_FULL_APP, 2, 1000, 2], timeout=60)
    t.ok(r.returncode == 0 and all(g["ok"] for g in lines(r)) and "dropping" not in r.stderr,
         "a later process with the default map size records normally", r.stderr[-500:])
    recs2 = w.records(wait_for=len(recs) + 2)
    t.eq(len(recs2), len(recs) + 2, "the store grew by exactly its 2 records")


def kill9(t, w):
    """SIGKILL writing processes, alone and beside another writer."""
    w.reset_store()
    total_answered = 0
    rounds = [(5, {}), (25, {"HC_DB_SYNC": "1"}), (45, {}), (12, {"HC_DB_SYNC": "1"}), (70, {})]
    for stop_after, env in rounds:
        p = subprocess.Popen([PYTHON, os.path.join(CLIENTS, "fault_call.py"), "requests", "0", "100000", "20",
                              "killed loop"], env=w.env(**env), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                             text=True)
        answered = 0
        deadline = time.monotonic() + 30
        while answered < stop_after and time.monotonic() < deadline:
            line = p.stdout.readline()
            if not line:
                break
            if json.loads(line).get("outcome") == "ok":
                answered += 1
        os.kill(p.pid, signal.SIGKILL)
        p.wait()
        total_answered += answered
        t.ok(answered >= stop_after, "kill -9 round (after %d answers%s): the loop ran" %
             (stop_after, ", HC_DB_SYNC=1" if env else ""), answered)
    doc = store_json(w)
    t.ok(doc is not None, "after kill -9: requests --json --limit 0 parses")
    n = len(doc["requests"]) if doc else -1
    t.ok(doc is not None and doc.get("undecodable", 0) == 0, "after kill -9: no undecodable record",
         doc and doc.get("undecodable"))
    st = stats(w)
    t.ok(st is not None and st["undecodable"] == 0 and st["records"] == n, "after kill -9: stats agrees (%d records)" % n,
         st and (st["records"], st["undecodable"]))
    # Records the app saw answered but the recorder had not committed are the price of SIGKILL;
    # nothing beyond what was answered (plus the one in flight per round) may appear.
    t.ok(0 < n <= total_answered + len(rounds), "records: %d, answered before the kills: %d" % (n, total_answered))
    t.diag("kill -9: %d answered, %d recorded" % (total_answered, n))
    r, got = fault_call(w, "requests", False, 5)
    t.ok(len(got) == 5 and all(g["outcome"] == "ok" for g in got), "a new process works after the kills",
         r.stderr[-500:])
    recs = w.records(wait_for=n + 5)
    t.eq(len(recs), n + 5, "... and records exactly its 5 calls")

    # Two writers; one is killed mid-run, the other finishes and loses nothing.
    w.reset_store()
    M = 60
    a = subprocess.Popen([PYTHON, os.path.join(CLIENTS, "fault_call.py"), "requests", "0", "100000", "20", "victim"],
                         env=w.env(), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    b = subprocess.Popen([PYTHON, os.path.join(CLIENTS, "fault_call.py"), "requests", "0", str(M), "20", "survivor"],
                         env=w.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for _ in range(15):
        if not a.stdout.readline():
            break
    os.kill(a.pid, signal.SIGKILL)
    a.wait()
    out, err = b.communicate(timeout=60)
    bl = [json.loads(l) for l in out.splitlines() if l.startswith("{")]
    t.ok(b.returncode == 0 and len(bl) == M and all(g["outcome"] == "ok" for g in bl),
         "a writer beside the killed one gets all %d answers" % M, err[-500:])
    deadline = time.monotonic() + 10
    while True:
        doc = store_json(w)
        mine = [x for x in (doc or {}).get("requests", []) if x["pid"] == b.pid]
        if len(mine) >= M or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    t.eq(len(mine), M, "... and every one of its records is in the store")
    t.ok(doc is not None and doc.get("undecodable", 0) == 0, "... and nothing is undecodable")


def reader_table(w):
    """[[pid, txnid], ...] of the store's LMDB reader table."""
    r = subprocess.run([PYTHON, os.path.join(CLIENTS, "fault_lmdb_reader.py"), w.db, "list"], capture_output=True,
                       text=True, timeout=30)
    try:
        return json.loads(r.stdout)
    except ValueError:
        return []


def kill9_reader(t, w):
    """A reader killed with -9 inside its read transaction (an hc-analyze command, or an app
    under the shim in a cache or budget lookup) while a recording process keeps the store
    open must not pin the store's pages: LMDB keeps a dead reader's slot until someone calls
    mdb_reader_check(), and while that slot's snapshot is live no freed page is reused."""
    w.reset_store()
    N = 300
    fault_call(w, "requests", False, N, 20, "reader victim")
    w.records(wait_for=N)
    app = subprocess.Popen([PYTHON, os.path.join(CLIENTS, "fault_hang.py"), "5"], env=w.env(),
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    reader = None
    try:
        t.eq(app.stdout.readline().strip(), "ready 200", "a long-lived process under the shim keeps the store open")
        reader = subprocess.Popen([PYTHON, os.path.join(CLIENTS, "fault_lmdb_reader.py"), w.db],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = reader.stdout.readline()
        held = reader_table(w)
        holding = line.startswith("holding") and any(pid == reader.pid for pid, _ in held)
        os.kill(reader.pid, signal.SIGKILL)
        reader.wait()
        if not holding:
            print("ok %d - # SKIP could not hold a read transaction on the store (%s; table %s)"
                  % (t.n + 1, (line + reader.stderr.read()).strip()[:200], held))
            t.n += 1
            return
        st = stats(w)  # any later open of the store (here hc-analyze's) may clean up
        fault_call(w, "requests", False, 2, 20, "after the reader died")
        left = [pid for pid, _ in reader_table(w) if pid == reader.pid]
        t.eq(left, [], "after kill -9 of a reader inside its transaction, its stale reader slot is cleared")
        st = stats(w)
        base = st["file_bytes"] if st else 0
        for k in range(2):
            w.analyze("prune", "--older-than", "0s", check=False)
            fault_call(w, "requests", False, N, 20, "reader round %d" % k)
            w.records(wait_for=N)
        st = stats(w)
        grown = st["file_bytes"] if st else 0
        t.ok(st is not None and grown <= 3 * base,
             "pruning and rewriting %d records twice reuses space (data.mdb %d KiB -> %d KiB)"
             % (N, base // 1024, grown // 1024))
        t.ok(st is not None and st["undecodable"] == 0 and st["records"] == N, "the store stays consistent",
             st and (st["records"], st["undecodable"]))
    finally:
        if reader and reader.poll() is None:
            reader.kill()
            reader.wait()
        app.stdin.close()
        app.wait(timeout=20)


HTTP10_APP = r"""
import json, socket, ssl, sys
body = json.dumps({"model": "gpt-4o-mini", "stream": True, "messages": [{"role": "user", "content": "old client"}]})
ctx = ssl.create_default_context()
how = "clean close"  # TLS close_notify, then EOF: what ends a whole close-delimited body
with socket.create_connection(("api.openai.com", 443)) as s:
    # suppress_ragged_eofs=False: this app checks that its close-delimited body really ended
    with ctx.wrap_socket(s, server_hostname="api.openai.com", suppress_ragged_eofs=False) as t:
        t.sendall(("POST /v1/chat/completions HTTP/1.0\r\nHost: api.openai.com\r\n"
                   "Authorization: Bearer sk-test-http10\r\nContent-Type: application/json\r\n"
                   "Content-Length: %d\r\n\r\n%s" % (len(body), body)).encode())
        data = b""
        while True:
            try:
                b = t.recv(65536)
            except (ssl.SSLError, OSError) as e:
                how = type(e).__name__  # e.g. SSLEOFError: the app can tell the body was cut
                break
            if not b:
                break
            data += b
head, _, rest = data.partition(b"\r\n\r\n")
print(json.dumps({"head": head.decode("latin-1"), "body_start": rest[:40].decode("latin-1"),
                  "ends_done": rest.rstrip().endswith(b"data: [DONE]"), "how": how}))
"""


HTTP10_PLAIN_APP = r"""
import json, socket, sys
body = json.dumps({"model": "gpt-4o-mini", "stream": True, "messages": [{"role": "user", "content": "old client"}]})
how = "clean close"
with socket.create_connection(("127.0.0.1", int(sys.argv[1]))) as s:
    s.sendall(("POST /v1/chat/completions HTTP/1.0\r\nHost: 127.0.0.1\r\nAuthorization: Bearer sk-test-http10\r\n"
               "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)).encode())
    data = b""
    while True:
        try:
            b = s.recv(65536)
        except OSError as e:
            how = type(e).__name__
            break
        if not b:
            break
        data += b
print(json.dumps({"ends_done": data.rstrip().endswith(b"data: [DONE]"), "how": how, "bytes": len(data)}))
"""


def app_framing(t, w):
    """What the app must be able to rely on to tell a whole answer from a cut one."""
    w.reset_store()
    r = w.run([PYTHON, "-c", HTTP10_APP])
    d = lines(r)[0] if lines(r) else {}
    head = d.get("head", "").lower()
    t.ok(d and "transfer-encoding: chunked" not in head and d.get("body_start", "").startswith("data: ")
         and d.get("ends_done") and d.get("how") == "clean close",
         "an HTTP/1.0 app gets its stream unchunked, delimited by a clean close (no chunk framing in its body)",
         d or r.stderr[-500:])
    # With a close-delimited body, only the way the connection ends tells a cut answer from a
    # whole one: after an upstream failure the gateway must not end it with close_notify.
    for fault in ("reset_mid_stream", "truncate_chunked"):
        w.mock.script([{"fault": fault}])
        r = w.run([PYTHON, "-c", HTTP10_APP])
        d = lines(r)[0] if lines(r) else {}
        t.ok(d and not d.get("ends_done") and d.get("how") != "clean close",
             "%s, HTTP/1.0 app: the connection does not end cleanly, so the app sees the cut (%s)"
             % (fault, d.get("how")), d or r.stderr[-500:])
    recs = w.records(wait_for=3)
    t.ok(len(recs) == 3 and recs[0]["error"] == "" and all(x["status"] == 200 and x["error"] for x in recs[1:]),
         "HTTP/1.0 exchanges recorded: one whole, two with the upstream error", [(x["status"], x["error"]) for x in recs])
    # Plain HTTP (a local model server in HC_HOSTS): a reset upstream must reach the app as a reset.
    w.http.script([{"fault": "reset_mid_stream"}])
    r = w.run([PYTHON, "-c", HTTP10_PLAIN_APP, w.http.port], HC_HOSTS="127.0.0.1:%d" % w.http.port)
    d = lines(r)[0] if lines(r) else {}
    t.ok(d and not d.get("ends_done") and d.get("how") != "clean close",
         "reset_mid_stream, plain-HTTP HTTP/1.0 app: the app sees a reset, not a clean end (%s)" % d.get("how"),
         d or r.stderr[-500:])
    r = curl(w, chat(), "-D", "-", "-o", "/dev/null", "-H", "Connection: close")
    t.ok("connection: close" in r.stdout.lower() and "connection: keep-alive" not in r.stdout.lower(),
         "an app that sends Connection: close is answered with Connection: close (the gateway does close)",
         r.stdout)


def many_processes(t, w):
    w.reset_store()
    P, N = 8, 500
    t0 = time.monotonic()
    procs = [subprocess.Popen([PYTHON, os.path.join(CLIENTS, "fault_call.py"), "requests", "0", str(N), "30",
                               "proc%d" % k], env=w.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for k in range(P)]
    ok = 0
    errs = ""
    for p in procs:
        out, err = p.communicate(timeout=240)
        got = [json.loads(l) for l in out.splitlines() if l.startswith("{")]
        ok += sum(1 for g in got if g["outcome"] == "ok" and g["status"] == 200 and g["complete"])
        errs += err[-300:]
    dt = time.monotonic() - t0
    t.ok(ok == P * N, "%d processes x %d requests: every call answered (%d of %d, %.1fs)" % (P, N, ok, P * N, dt),
         errs)
    recs = w.records(wait_for=P * N, timeout=30)
    t.eq(len(recs), P * N, "exactly %d records in the one store" % (P * N))
    t.eq(len({x["id"] for x in recs}), len(recs), "no duplicate ids")
    per = {}
    for x in recs:
        per[x["pid"]] = per.get(x["pid"], 0) + 1
    t.eq(sorted(per.values()), [N] * P, "each process recorded exactly its %d calls" % N)
    st = stats(w)
    t.ok(st is not None and st["records"] == P * N and st["undecodable"] == 0, "stats agrees", st and st["records"])


def main():
    t = TAP()
    with World() as w:
        steps = [truncated_answers, bad_answers, hangs, bad_certs, trust_paths, store_full, kill9, kill9_reader, app_framing,
                 many_processes]
        for step in steps:
            t0 = time.monotonic()
            w.mock.reset()
            step(t, w)
            t.diag("%s: %.1fs" % (step.__name__, time.monotonic() - t0))
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
