#!/usr/bin/python3
"""The gateway's HTTP and TLS behaviour, one property per block.

- A TLS connection to a non-LLM name that shares an LLM endpoint's address is
  relayed untouched: the client sees the real server's certificate.
- A connection to that address without SNI is for the LLM endpoint and is
  terminated and recorded.
- Plain-HTTP LLM endpoints (HC_HOSTS), IPv4 and IPv6.
- Request bodies: Content-Length, chunked, Expect: 100-continue, larger than
  the buffering bound (streamed through).
- Helicone-* headers override HC_* defaults, and never reach the provider.
- getpeername() on a redirected socket reports the address the app asked for.
- Compressed answers (gzip, br): the app gets the provider's bytes, the record
  still has exact usage.
- A stream the app did not ask usage for: byte-identical to what the provider
  sends without include_usage, and the record has exact tokens.
"""
import json
import os
import socket
import ssl
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from hctest import PYTHON, TAP, World  # noqa: E402
from mock_provider import MockProvider  # noqa: E402
from pki import make_cert  # noqa: E402

PEERCERT = r"""
import socket, ssl, sys
host, port, ca, sni = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
ctx = ssl.create_default_context(cafile=ca)
ctx.check_hostname = sni != "-"
with socket.create_connection((host, port)) as s:
    with ctx.wrap_socket(s, server_hostname=None if sni == "-" else sni) as t:
        issuer = dict(x[0] for x in t.getpeercert()["issuer"])
        t.sendall(b"GET /__mock/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            b = t.recv(65536)
            if not b:
                break
            data += b
        print(issuer.get("organizationName", ""), "|", issuer.get("commonName", ""), "|", data.split(b"\r\n")[0].decode())
"""

PEERNAME = r"""
import socket
s = socket.create_connection(("api.openai.com", 443))
print(s.getpeername()[0], s.getpeername()[1])
s.close()
"""


def curl(w, *args, **env):
    return w.run(["curl", "-sS"] + list(args), **env)


def chat_body(content="hello protocol", stream=False, model="gpt-4o-mini"):
    b = {"model": model, "messages": [{"role": "user", "content": content}]}
    if stream:
        b["stream"] = True
    return json.dumps(b)


def main():
    t = TAP()
    with World() as w:
        auth = ["-H", "Authorization: Bearer sk-test-proto", "-H", "Content-Type: application/json"]

        # -- relay of a non-LLM name sharing the address --------------------------------
        cert, key = make_cert(w.pki, ["other.test", "127.0.0.1"], os.path.join(w.dir, "other"))
        other = MockProvider(tls=True, certfile=cert, keyfile=key)
        other.start()
        try:
            hosts = "127.0.0.1:%d" % other.port
            r = w.run([PYTHON, "-c", PEERCERT, "127.0.0.1", other.port, w.pki["ca"], "other.test"], HC_HOSTS=hosts)
            t.ok(r.returncode == 0 and "gateway CA" not in r.stdout and "test CA" in r.stdout and "200" in r.stdout,
                 "non-LLM SNI on an intercepted address: relayed, the client sees the real certificate",
                 r.stdout + r.stderr)
            t.eq(other.count(), 0, "the relayed request is not counted by the mock as a provider call")  # health is a control path
            w.reset_store()
            r = w.run(["curl", "-sS", "--cacert", w.pki["ca"], "-w", "\\n%{http_code}",
                       "https://127.0.0.1:%d/v1/chat/completions" % other.port, "-d", chat_body()] + auth,
                      HC_HOSTS=hosts)
            t.ok(r.returncode == 0 and r.stdout.endswith("200"), "no SNI (IP URL): terminated by the gateway, answered",
                 r.stdout[-300:] + r.stderr)
            recs = w.records(wait_for=1)
            t.ok(len(recs) == 1 and recs[0]["host"] == "127.0.0.1" and recs[0]["status"] == 200,
                 "no SNI: recorded under the address", recs)
            r = w.run([PYTHON, "-c", PEERCERT, "127.0.0.1", other.port, w.pki["ca"], "-"], HC_HOSTS=hosts)
            t.ok("hcshim gateway CA" in r.stdout, "no SNI: the app sees the gateway's leaf (issued by the per-process CA)",
                 r.stdout + r.stderr)
        finally:
            other.stop()

        # -- plain HTTP LLM endpoint (HC_HOSTS), IPv4 ---------------------------------------
        w.reset_store()
        hosts = "127.0.0.1:%d" % w.http.port
        r = curl(w, "-w", "\n%{http_code}", "http://127.0.0.1:%d/v1/chat/completions" % w.http.port,
                 "-d", chat_body(), *auth, HC_HOSTS=hosts)
        t.ok(r.stdout.endswith("200"), "plain HTTP endpoint: answered", r.stdout[-200:] + r.stderr)
        recs = w.records(wait_for=1)
        t.ok(len(recs) == 1 and recs[0]["upstream"].startswith("http://127.0.0.1:%d" % w.http.port),
             "plain HTTP endpoint: recorded, upstream is the original destination", recs)

        # -- IPv6 ----------------------------------------------------------------------------
        try:
            v6 = MockProvider(tls=False, host="::1")
            v6.start()
        except Exception as e:  # no IPv6 loopback on this host
            v6 = None
            print("ok %d - # SKIP no IPv6 loopback (%s)" % (t.n + 1, e))
            t.n += 1
        if v6:
            try:
                w.reset_store()
                r = curl(w, "-w", "\n%{http_code}", "http://[::1]:%d/v1/chat/completions" % v6.port, "-d", chat_body(),
                         *auth, HC_HOSTS="[::1]:%d" % v6.port)
                t.ok(r.stdout.endswith("200"), "IPv6 endpoint: answered", r.stdout[-200:] + r.stderr)
                recs = w.records(wait_for=1)
                t.ok(len(recs) == 1 and recs[0]["host"] == "::1", "IPv6 endpoint: recorded", recs)
            finally:
                v6.stop()

        # -- request bodies -------------------------------------------------------------------
        w.reset_store()
        base = "https://api.openai.com/v1/chat/completions"
        r = curl(w, base, "-H", "Transfer-Encoding: chunked", "--data-binary", chat_body("chunked body"), *auth)
        t.ok(r.returncode == 0 and "chunked body" in r.stdout, "chunked request body: forwarded", r.stdout[-200:] + r.stderr)
        big = "word " * 300000  # 1.5 MB: curl sends Expect: 100-continue
        path = os.path.join(w.dir, "big.json")
        with open(path, "w") as f:
            f.write(chat_body(big))
        r = curl(w, base, "--data-binary", "@" + path, *auth)
        t.ok(r.returncode == 0 and '"prompt_tokens": %d' % (300000 + 4) in r.stdout,
             "Expect: 100-continue body of 1.5 MB: answered with the right usage", r.stdout[-300:] + r.stderr)
        t.ok(not any("expect" in g["headers"] for g in w.mock.requests[-1:]), "Expect is not forwarded upstream")
        before = w.mock.count()
        r = curl(w, base, "--data-binary", "@" + path, *auth, HC_MAX_REQUEST="64K")
        got = w.mock.requests[before:]
        t.ok(r.returncode == 0 and len(got) == 1 and len(got[0]["body"]) == os.path.getsize(path),
             "body larger than HC_MAX_REQUEST: streamed through intact", r.stderr)
        r = curl(w, base, "-H", "Transfer-Encoding: chunked", "--data-binary", "@" + path, *auth, HC_MAX_REQUEST="64K",
                 HC_MAX_BODY="256K")
        t.ok(r.returncode == 0 and '"prompt_tokens": %d' % (300000 + 4) in r.stdout,
             "chunked body larger than HC_MAX_REQUEST: streamed through re-chunked", r.stdout[-200:] + r.stderr)
        recs = w.records(wait_for=4)
        t.ok(len(recs) == 4 and recs[-1]["req_bytes"] == os.path.getsize(path) and recs[-1]["flags"] & 4,
             "streamed body: full size counted, stored copy marked truncated", [(x["req_bytes"], x["flags"]) for x in recs])

        # -- Helicone headers vs environment defaults -----------------------------------------
        w.reset_store()
        before = w.mock.count()
        r = curl(w, base, "-d", chat_body(), *auth, "-H", "Helicone-User-Id: bob", "-H", "Helicone-Property-Step: header",
                 "-H", "Helicone-Session-Id: s-1", "-H", "Helicone-Session-Path: /a/b", "-H", "Helicone-Auth: Bearer x",
                 "-H", "Helicone-Request-Id: my-req-42",
                 HC_USER_ID="alice", HC_PROPERTY_Step="env", HC_PROPERTY_Workflow="wf")
        recs = w.records(wait_for=1)
        rec = recs[0] if recs else {}
        t.eq(rec.get("user"), "bob", "Helicone-User-Id overrides HC_USER_ID")
        t.eq(rec.get("props"), {"Step": "header", "Workflow": "wf"}, "header property wins, other env properties kept")
        t.eq((rec.get("session_id"), rec.get("session_path"), rec.get("request_id")), ("s-1", "/a/b", "my-req-42"),
             "session and request id headers recorded")
        got = w.mock.requests[before:]
        t.ok(len(got) == 1 and not any(k.startswith("helicone-") for k in got[0]["headers"]),
             "no Helicone-* header reaches the provider", got[0]["headers"] if got else None)
        r = curl(w, base, "-d", chat_body(), *auth, "-D", "-", "-o", "/dev/null", "-H", "Helicone-Request-Id: my-req-43")
        t.ok("helicone-id: my-req-43" in r.stdout, "helicone-id echoes the app's Helicone-Request-Id", r.stdout)

        # -- getpeername ------------------------------------------------------------------------
        r = w.run([PYTHON, "-c", PEERNAME])
        t.eq(r.stdout.split(), ["233.252.0.1", "443"], "getpeername() reports the address the app connected to")

        # -- compression ------------------------------------------------------------------------
        for enc in ("gzip", "br"):
            w.reset_store()
            r = curl(w, base, "-H", "Accept-Encoding: " + enc, "-D", "-", "-o", os.path.join(w.dir, "body." + enc),
                     "-d", chat_body("compressed answer please"), *auth)
            t.ok(("content-encoding: " + enc) in r.stdout.lower(), "%s: the app receives the provider's encoded bytes" % enc,
                 r.stdout + r.stderr)
            recs = w.records(wait_for=1)
            t.ok(len(recs) == 1 and recs[0]["tok_in"] == 3 + 4 and recs[0]["tok_out"] == 12,
                 "%s: exact usage recorded from the decoded body" % enc, recs)
            show = json.loads(w.analyze("show", recs[0]["id"], "--json").stdout) if recs else {}
            t.ok("compressed answer please" in json.dumps(show), "%s: stored body is decoded" % enc)

        # -- include_usage injection: byte-identical stream, exact tokens -----------------------
        w.reset_store()
        body = chat_body("stream identity check", stream=True)
        w.mock.reset()
        direct = subprocess.run(["curl", "-sS", "-N", "--cacert", w.pki["ca"], w.mock.url + "/v1/chat/completions",
                                 "-d", body] + auth, capture_output=True, timeout=30)
        w.mock.reset()  # ids derive from the body and a per-mock counter the reset rewinds
        via = subprocess.run(["curl", "-sS", "-N", base, "-d", body] + auth, env=w.env(), capture_output=True, timeout=30)
        t.ok(direct.stdout and direct.stdout == via.stdout,
             "stream without include_usage: the app's bytes equal the provider's own stream",
             "direct %d bytes, via %d bytes" % (len(direct.stdout), len(via.stdout)))
        t.ok(b'"usage"' not in via.stdout, "no usage chunk or usage:null reaches the app")
        got = w.mock.requests[-1]["json"]
        t.eq(got.get("stream_options"), {"include_usage": True}, "the gateway asked the provider for usage")
        recs = w.records(wait_for=1)
        t.ok(len(recs) == 1 and recs[0]["tok_in"] == 3 + 4 and recs[0]["tok_out"] == 12 and recs[0]["flags"] & 512,
             "the record has exact tokens and says usage was injected", recs)
        r = curl(w, base, "-N", "-d", chat_body("no inject", stream=True), *auth, HC_STREAM_USAGE="0")
        t.ok(not w.mock.requests[-1]["json"].get("stream_options"), "HC_STREAM_USAGE=0: nothing injected")
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
