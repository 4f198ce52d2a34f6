#!/usr/bin/python3
"""The compatibility matrix: real programs x modes, each with the outcome it
must have. The README table (scripts/compat_table.py) is generated from the
results this test writes to tests/artifacts/compat.json.

Every cell runs one real call (or a few) and is judged from evidence:
  captured      the app got the right answer (status 200, the mock's reply to
                its own prompt, its body byte for byte the one the server sent)
                AND one correct record exists per request: host, requested
                model (and provider, where the row names one), exact tokens by
                the mock's rule, status;
  not captured  the app still got its right answer, directly from the server:
                the server received the request, the app's TLS peer was the
                server's own certificate (where the client can report it), and
                no record exists. Never a broken app.
  skipped       the program is not available here (the reason says why).
Anything else (a failing app, a wrong or missing record...) is an outcome of
its own, and every difference from the expectation table below is a "not ok".

Gateway mode reaches the mock through HC_ROUTE (programs keep their default
https://api.openai.com URLs). Observe mode redirects nothing, so programs are
pointed at the mock by a name with a certificate and an SNI: HC_HOSTS=
localhost:PORT and https://localhost:PORT, trusting the test CA their own way
(curl --cacert, SSL_CERT_FILE / REQUESTS_CA_BUNDLE, curl.cainfo,
NODE_EXTRA_CA_CERTS). Evidence of the TLS peer: clients print
"COMPAT-PEER <sha256 of the server certificate>" (tests/integ/clients/compat_*).

What the servers sent is known exactly: tap_sent() records, in this process,
every answer the mocks put on the wire (head, chunk framing, compressed body)
and the body before framing/compression. Every cell whose app reports its
bodies compares them byte for byte with those (in both modes: the app must get
the provider's body). The compat_session.py rows (python3-requests Session:
SSE, keep-alive, Anthropic) also report every byte the app read off its
connection; in observe mode that must be exactly the bytes the server sent,
and each record must hold its own exchange's request and response bodies.

Node's `openai` and `@anthropic-ai/sdk` packages, Claude Code, Gemini CLI and Bun
come from tests/node (npm install --prefix tests/node). The rows for the agent
CLIs, Bun and the TLS stacks the gateway must leave alone (Java JSSE, GnuTLS,
Erlang) judge their own evidence (Result.judge): the CLIs' own usage and cost
against the records, and every program's output against its run without the
shim on the same mock.
Results go to tests/artifacts/compat.json (compat-asan.json under the sanitizer
pass of tests/run.py; HC_COMPAT_JSON=FILE overrides).
"""
# run.py timeout: 600
import datetime
import hashlib
import json
import os
import select
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, os.path.join(HERE, "clients"))
from hctest import CLIENTS, PYTHON, ROOT, SHIM, TAP, World  # noqa: E402
from mock_provider import MockProvider  # noqa: E402
from pki import make_cert  # noqa: E402
import common  # noqa: E402
import bundled_openssl  # noqa: E402

# The README table is made from the plain run; the sanitizer pass of tests/run.py
# (--asan-build, which sets HC_PRELOAD_FIRST) writes beside it. HC_COMPAT_JSON overrides.
ARTIFACT = os.environ.get("HC_COMPAT_JSON") or os.path.join(
    ROOT, "tests", "artifacts", "compat-asan.json" if os.environ.get("HC_PRELOAD_FIRST") else "compat.json")
NODE_DIR = os.path.join(ROOT, "tests", "node")
REPLY_WORDS = 12  # the mock's default reply length

CAPTURED, NOT, SKIPPED = "captured", "not captured", "skipped"
FAILS = "fails at once, as without the shim"  # the app cannot work here at all; never a hang
GW, OBS = "gateway", "observe"

# ---------------------------------------------------------------------------------------
# The expectation table: row id, program (as the README shows it), and per mode the
# expected outcome with its reason. A mode a row does not list is not applicable.
# ---------------------------------------------------------------------------------------
H2_NOTE = "HTTP/2 is not parsed in observe mode (HTTP/1.1 only): the app works untouched"
PROXY_GW = "the app connects to the proxy, not to an LLM host: nothing is intercepted, the app works untouched"
PROXY_OBS = "the app's own TLS inside the tunnel carries the provider's SNI"
EXPECT = [
    # -- curl ------------------------------------------------------------------------------
    ("curl_h11", "curl — HTTPS, `--http1.1`",
     {GW: (CAPTURED, ""), OBS: (CAPTURED, "")}),
    ("curl_h2offer", "curl — HTTPS, default (offers h2 by ALPN)",
     {GW: (CAPTURED, "the gateway selects http/1.1 by ALPN; curl falls back"),
      OBS: (CAPTURED, "when the server selects http/1.1 (here: the mock)")}),
    ("curl_h2server", "curl — HTTPS to a server that selects h2",
     {OBS: (NOT, H2_NOTE)}),
    ("curl_plain_ip", "curl — plain HTTP, `HC_HOSTS=127.0.0.1:PORT`",
     {GW: (CAPTURED, ""), OBS: (CAPTURED, "")}),
    ("curl_plain_localhost", "curl — plain HTTP, `HC_HOSTS=localhost:PORT`",
     {GW: (CAPTURED, ""), OBS: (CAPTURED, "")}),
    ("curl_tls_localhost", "curl — HTTPS, `HC_HOSTS=localhost:PORT`",
     {GW: (CAPTURED, ""), OBS: (CAPTURED, "recognised by its SNI")}),
    ("curl_tls_ip", "curl — HTTPS to an IP address (no SNI), `HC_HOSTS=127.0.0.1:PORT`",
     {GW: (CAPTURED, "no SNI: terminated for the address"),
      OBS: (NOT, "no SNI, and curl's TLS reads and writes through its own BIO, not the socket fd, so the "
                 "connection cannot be tied to the LLM address; the app works untouched")}),
    # -- Python --------------------------------------------------------------------------------
    ("py_urllib", "Python urllib.request", {GW: (CAPTURED, ""), OBS: (CAPTURED, "")}),
    ("py_httpclient", "Python http.client", {GW: (CAPTURED, ""), OBS: (CAPTURED, "")}),
    ("py_asyncio", "Python asyncio streams (TLS in memory BIOs)", {GW: (CAPTURED, ""), OBS: (CAPTURED, "")}),
    ("py_requests", "python3-requests", {GW: (CAPTURED, ""), OBS: (CAPTURED, "")}),
    ("py_httpx", "python3-httpx (sync)", {GW: (CAPTURED, ""), OBS: (CAPTURED, "")}),
    ("py_httpx_async", "python3-httpx (async)", {GW: (CAPTURED, ""), OBS: (CAPTURED, "")}),
    ("py_httpx_h2", "python3-httpx `http2=True`",
     {GW: (CAPTURED, "the gateway selects http/1.1 by ALPN; httpx falls back"),
      OBS: (CAPTURED, "when the server selects http/1.1 (here: the mock)")}),
    ("py_httpx_h2server", "python3-httpx `http2=True` to a server that selects h2",
     {OBS: (NOT, H2_NOTE)}),
    ("py_tls_ip", "Python urllib.request — HTTPS to an IP address (no SNI), `HC_HOSTS=127.0.0.1:PORT`",
     {GW: (CAPTURED, "no SNI: terminated for the address"),
      OBS: (CAPTURED, "recognised by the peer address (the SSL sits on the socket fd)")}),
    ("py_aiohttp", "python3-aiohttp", {GW: (CAPTURED, ""), OBS: (CAPTURED, "")}),
    # -- Ruby, PHP --------------------------------------------------------------------------
    ("rb_nethttp", "Ruby net/http", {GW: (CAPTURED, ""), OBS: (CAPTURED, "")}),
    ("php_curl", "PHP curl extension", {GW: (CAPTURED, ""), OBS: (CAPTURED, "")}),
    ("php_stream", "PHP streams (`file_get_contents` + stream context)", {GW: (CAPTURED, ""), OBS: (CAPTURED, "")}),
    # -- Node ----------------------------------------------------------------------------------
    ("node_fetch", "Node 20 fetch (undici), HTTPS",
     {GW: (CAPTURED, "the shim sets NODE_EXTRA_CA_CERTS at start-up"),
      OBS: (NOT, "Node's OpenSSL is linked statically: its SSL_read/SSL_write are not hooked; the app works untouched")}),
    ("node_fetch_plain", "Node 20 fetch (undici), plain HTTP (`HC_HOSTS`)",
     {GW: (CAPTURED, ""), OBS: (CAPTURED, "libuv uses read/write")}),
    ("node_openai", "Node 20 `openai` npm package, HTTPS",
     {GW: (CAPTURED, "the shim sets NODE_EXTRA_CA_CERTS at start-up"),
      OBS: (NOT, "Node's OpenSSL is linked statically: its SSL_read/SSL_write are not hooked; the app works untouched")}),
    ("node_openai_plain", "Node 20 `openai` npm package, plain HTTP (`HC_HOSTS`)",
     {GW: (CAPTURED, ""), OBS: (CAPTURED, "libuv uses read/write")}),
    ("node_anthropic", "Node 20 `@anthropic-ai/sdk` npm package, HTTPS",
     {GW: (CAPTURED, "provider anthropic; the shim sets NODE_EXTRA_CA_CERTS at start-up"),
      OBS: (NOT, "Node's OpenSSL is linked statically: its TLS is invisible (the shim says so once); the app works untouched")}),
    # -- agent CLIs, Bun, and TLS stacks the gateway must leave alone (their own judges, below) -------------
    ("agent_claude", "Claude Code (`claude -p`, a Bun-compiled binary), with a tool round trip (Read)",
     {GW: (CAPTURED, "recognised as a Bun runtime by its binary; exact tokens; the recorded spend equals its own "
                     "`total_cost_usd`"),
      OBS: (NOT, "Bun's own TLS is invisible to observe mode (the shim says so once); the app works untouched")}),
    ("agent_gemini", "Gemini CLI (`gemini -p`, Node)",
     {GW: (CAPTURED, "exact tokens, as its own stats report them"),
      OBS: (NOT, "Node's OpenSSL is linked statically: its TLS is invisible (the shim says so once); the app works untouched")}),
    ("bun_fetch", "Bun 1.x `fetch`, HTTPS",
     {GW: (CAPTURED, "recognised as a Bun runtime by its binary (the app exits once its records are stored: "
                     "Bun's quick_exit is another row)"),
      OBS: (NOT, "Bun's own TLS is invisible to observe mode (the shim says so once); the app works untouched")}),
    ("tls_java_h1", "Java 17 `HttpClient`, HTTP/1.1 (JSSE)",
     {GW: (NOT, "JSSE would not trust the gateway: relayed untouched, the shim says so once"),
      OBS: (NOT, "JSSE is invisible to observe mode (the shim says so once)")}),
    ("tls_java_h2", "Java 17 `HttpClient`, HTTP/2 (JSSE)",
     {GW: (NOT, "JSSE would not trust the gateway: relayed untouched, the shim says so once"),
      OBS: (NOT, "JSSE is invisible to observe mode (the shim says so once)")}),
    ("tls_java_urlconn", "Java 17 `HttpsURLConnection` (JSSE)",
     {GW: (NOT, "JSSE would not trust the gateway: relayed untouched, the shim says so once"),
      OBS: (NOT, "JSSE is invisible to observe mode (the shim says so once)")}),
    ("tls_wget", "wget (GnuTLS)",
     {GW: (NOT, "GnuTLS would not trust the gateway: relayed untouched, the shim says so once"),
      OBS: (NOT, "GnuTLS is invisible to observe mode (the shim says so once)")}),
    ("tls_gnutls_cli", "gnutls-cli (GnuTLS)",
     {GW: (NOT, "GnuTLS would not trust the gateway: relayed untouched, the shim says so once"),
      OBS: (NOT, "GnuTLS is invisible to observe mode (the shim says so once)")}),
    ("tls_git", "git over https (`git ls-remote`, libcurl-gnutls)",
     {GW: (NOT, "GnuTLS would not trust the gateway: relayed untouched, the shim says so once; git fails exactly as "
                "without the shim (the mock is no git server)"),
      OBS: (NOT, "GnuTLS is invisible to observe mode (the shim says so once)")}),
    ("tls_erlang", "Erlang `httpc` (:ssl), `HC_ROUTE`",
     {GW: (NOT, "Erlang's :ssl would not trust the gateway: relayed untouched to the route's target, the shim says so "
                "once")}),
    # -- python3-requests Session: streams, keep-alive, Anthropic (compat_session.py) --------------
    ("obs_sse", "python3-requests — streamed chat completion (SSE, `stream=True`, usage asked, events 10 ms apart)",
     {GW: (CAPTURED, ""),
      OBS: (CAPTURED, "exact tokens from the usage chunk the app asked for; the app read the server's bytes unchanged")}),
    ("obs_keepalive", "python3-requests `Session`: keep-alive, 4 calls on one connection (plain, SSE, plain, SSE)",
     {GW: (CAPTURED, "4 records"),
      OBS: (CAPTURED, "4 records, each with its own exchange; the app read the server's bytes unchanged")}),
    ("obs_anthropic", "python3-requests — Anthropic Messages (`/v1/messages`), plain then SSE",
     {GW: (CAPTURED, "provider anthropic"),
      OBS: (CAPTURED, "provider anthropic, recognised by the SNI `api.anthropic.com`")}),
    # -- socket patterns -----------------------------------------------------------------------
    # Observe mode routes nothing: its cells reach the mock by its own address or by the
    # name localhost (HC_HOSTS). race_name races for a routed name, so it has none.
    ("sock_v4", "C: IPv4 endpoint (`HC_HOSTS=127.0.0.1:PORT`)", {GW: (CAPTURED, ""), OBS: (CAPTURED, "")}),
    ("sock_v6", "C: IPv6 endpoint (`HC_HOSTS=[::1]:PORT`)", {GW: (CAPTURED, ""), OBS: (CAPTURED, "")}),
    ("sock_race_name", "C: happy eyeballs, an AF_INET and an AF_INET6 socket racing for one routed name",
     {GW: (CAPTURED, "the winner is used, the loser closed")}),
    ("sock_race_localhost", "C: happy eyeballs for `localhost` (`HC_HOSTS=localhost:PORT`)",
     {GW: (CAPTURED, "the winner is used, the loser closed"), OBS: (CAPTURED, "the winner is used, the loser closed")}),
    ("sock_race_lit", "C: happy eyeballs, 127.0.0.1 vs ::1 (`HC_HOSTS` both)",
     {GW: (CAPTURED, "the winner is used, the loser closed"), OBS: (CAPTURED, "the winner is used, the loser closed")}),
    ("sock_poll", "C: non-blocking connect + poll (TLS)", {GW: (CAPTURED, ""), OBS: (CAPTURED, "")}),
    ("sock_epoll", "C: non-blocking connect + epoll (TLS)", {GW: (CAPTURED, ""), OBS: (CAPTURED, "")}),
    ("py_gethostbyname", "Python `socket.gethostbyname_ex` (gethostbyname_r) + own socket",
     {GW: (CAPTURED, ""), OBS: (CAPTURED, "")}),
    ("sock_gai_wait", "C: `getaddrinfo_a` GAI_WAIT",
     {GW: (CAPTURED, ""), OBS: (CAPTURED, "plain HTTP to `HC_HOSTS=localhost:PORT`")}),
    ("sock_gai_nowait", "C: `getaddrinfo_a` GAI_NOWAIT + `gai_suspend`",
     {GW: (CAPTURED, ""), OBS: (CAPTURED, "plain HTTP to `HC_HOSTS=localhost:PORT`")}),
    ("py_many", "Python: 32 concurrent connections", {GW: (CAPTURED, ""), OBS: (CAPTURED, "")}),
    ("sock_keepalive", "C: keep-alive, 5 requests on one connection",
     {GW: (CAPTURED, "5 records"), OBS: (CAPTURED, "5 records")}),
    # -- not captured, left working --------------------------------------------------------------
    ("go", "Go (own TLS, raw syscalls)",
     {GW: (NOT, "Go's TLS and resolver never call libc/libssl: the app works untouched"),
      OBS: (NOT, "Go's TLS and resolver never call libc/libssl: the app works untouched")}),
    ("pin", "Python app pinning the server certificate (SHA-256)",
     {GW: (NOT, "the pin rejects the gateway's certificate (the app refuses, by design): use HC_MODE=observe"),
      OBS: (CAPTURED, "the app sees the server's own certificate")}),
    ("proxy_curl", "curl through an HTTPS proxy (`HTTPS_PROXY`, CONNECT)",
     {GW: (NOT, PROXY_GW), OBS: (CAPTURED, PROXY_OBS)}),
    ("proxy_requests", "python3-requests through an HTTPS proxy (`HTTPS_PROXY`, CONNECT)",
     {GW: (NOT, PROXY_GW), OBS: (CAPTURED, PROXY_OBS)}),
    # -- hooks exact for every caller (tests/integ/test_hooks_exact.py has the details) ----------------
    ("bundled_openssl", "C app with a library carrying its own OpenSSL (renamed libssl/libcrypto copies, "
                        "`RTLD_LOCAL`, like a wheel's); the LLM call through the system OpenSSL",
     {GW: (CAPTURED, "the bundled OpenSSL's own HTTPS call (not an LLM host) gets the answer it gets without the shim"),
      OBS: (CAPTURED, "the bundled OpenSSL's own HTTPS call (not an LLM host) gets the answer it gets without the shim")}),
    ("py_httpx_bind", "python3-httpx, socket bound before connect (`local_address=\"0.0.0.0\"`)",
     {GW: (CAPTURED, ""), OBS: (CAPTURED, "")}),
    ("go_cgo", "Go with the cgo resolver (`GODEBUG=netdns=cgo`)",
     {GW: (FAILS, "`HC_ROUTE`: the hooked lookup gives the routed (multicast) synthetic address and Go's raw "
                  "connect fails at once, network unreachable; without the shim the routed name does not resolve "
                  "here either"),
      OBS: (NOT, "Go's TLS and connect never call libc/libssl (only its lookup does): the app works untouched")}),
]

GO_SRC = r"""
package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
)

func main() {
	body, _ := json.Marshal(map[string]interface{}{"model": "gpt-4o-mini",
		"messages": []map[string]string{{"role": "user", "content": os.Args[2]}}})
	req, _ := http.NewRequest("POST", os.Args[1], bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer sk-test-openai-SECRET-0123456789")
	req.Header.Set("Content-Type", "application/json")
	r, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	raw, _ := io.ReadAll(r.Body)
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		fmt.Fprintf(os.Stderr, "COMPAT-PEER %x\n", sha256.Sum256(r.TLS.PeerCertificates[0].Raw))
	}
	out, _ := json.Marshal(map[string]interface{}{"status": r.StatusCode, "raw": string(raw)})
	fmt.Println(string(out))
}
"""


# ---------------------------------------------------------------------------------------
# Test servers that run in this process (never under the shim)
# ---------------------------------------------------------------------------------------
class ConnectProxy:
    """A tiny HTTP CONNECT proxy on 127.0.0.1. `hosts` maps "host:port" to the
    (ip, port) it dials, as a proxy's own DNS would; anything else gets 502."""

    def __init__(self, hosts):
        self.hosts = dict(hosts)
        self.tunnels = []
        self._lock = threading.Lock()
        self._ls = socket.socket()
        self._ls.bind(("127.0.0.1", 0))
        self._ls.listen(64)
        self.port = self._ls.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self._ls.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        u = None
        try:
            head = b""
            while b"\r\n\r\n" not in head:
                b = c.recv(4096)
                if not b:
                    return
                head += b
            method, target = head.split(b"\r\n")[0].decode().split()[:2]
            dest = self.hosts.get(target)
            if method != "CONNECT" or dest is None:
                c.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
                return
            u = socket.create_connection(dest, timeout=10)
            with self._lock:
                self.tunnels.append(target)
            c.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            rest = head.split(b"\r\n\r\n", 1)[1]
            if rest:
                u.sendall(rest)
            while True:
                r, _, _ = select.select([c, u], [], [], 30)
                if not r:
                    return
                for s in r:
                    b = s.recv(65536)
                    if not b:
                        return
                    (u if s is c else c).sendall(b)
        except OSError:
            pass
        finally:
            c.close()
            if u:
                u.close()

    def stop(self):
        self._ls.close()


class H2Server:
    """An HTTPS server that speaks only HTTP/2 (ALPN "h2", python3-h2). Each
    request is forwarded over HTTP/1.1 to `backend_port` (the plain mock), so
    the app gets the mock's answer, over h2."""

    def __init__(self, certfile, keyfile, backend_port):
        import h2.connection  # noqa: F401  (ImportError: the caller skips)
        self.backend_port = backend_port
        self._ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._ctx.load_cert_chain(certfile, keyfile)
        self._ctx.set_alpn_protocols(["h2"])
        self._ls = socket.socket()
        self._ls.bind(("127.0.0.1", 0))
        self._ls.listen(16)
        self.port = self._ls.getsockname()[1]
        self.protocols = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self._ls.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _backend(self, method, path, headers, body):
        import http.client
        hc = http.client.HTTPConnection("127.0.0.1", self.backend_port, timeout=30)
        hc.request(method, path, body=body, headers=headers)
        r = hc.getresponse()
        data = r.read()
        hdrs = [(":status", str(r.status))] + [
            (k.lower(), v) for k, v in r.getheaders()
            if k.lower() not in ("connection", "transfer-encoding", "keep-alive", "content-length")]
        hc.close()
        return hdrs + [("content-length", str(len(data)))], data

    def _serve(self, raw):
        import h2.config
        import h2.connection
        import h2.events
        try:
            s = self._ctx.wrap_socket(raw, server_side=True)
        except (OSError, ssl.SSLError):
            raw.close()
            return
        self.protocols.append(s.selected_alpn_protocol())
        conn = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=False, header_encoding="utf-8"))
        conn.initiate_connection()
        streams = {}
        try:
            s.sendall(conn.data_to_send())
            while True:
                data = s.recv(65536)
                if not data:
                    return
                for ev in conn.receive_data(data):
                    if isinstance(ev, h2.events.RequestReceived):
                        streams[ev.stream_id] = [dict(ev.headers), b""]
                    elif isinstance(ev, h2.events.DataReceived):
                        streams[ev.stream_id][1] += ev.data
                        conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                    elif isinstance(ev, h2.events.StreamEnded):
                        hdrs, body = streams.pop(ev.stream_id)
                        fwd = {k: v for k, v in hdrs.items() if not k.startswith(":")}
                        fwd["host"] = hdrs.get(":authority", "localhost")
                        rh, rb = self._backend(hdrs[":method"], hdrs[":path"], fwd, body)
                        conn.send_headers(ev.stream_id, rh)
                        conn.send_data(ev.stream_id, rb, end_stream=True)
                    elif isinstance(ev, h2.events.ConnectionTerminated):
                        s.sendall(conn.data_to_send())
                        return
                s.sendall(conn.data_to_send())
        except Exception:  # a test server: the client reports what went wrong
            return
        finally:
            s.close()

    def stop(self):
        self._ls.close()


# ---------------------------------------------------------------------------------------
# Evidence
# ---------------------------------------------------------------------------------------
def fp_of_pem(path_or_text, text=False):
    pem = path_or_text if text else open(path_or_text).read()
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem)).hexdigest()


def tap_sent(c, *mocks):
    """Know exactly what the mocks sent. Each mock builds the bytes of an answer
    in MockProvider._frame (head, body pieces) and sends exactly those (no fault
    is scripted here); the wrapper records, per provider answer, in c.sent:
      key     the connection (mock state, serial): equal for keep-alive requests
      server  the listening address that answered (127.0.0.1 or ::1)
      prompt  the request's last message content
      req     the request body the server received
      wire    every byte of the answer (head, chunk framing, compressed body)
      body    the body as the app sees it once de-chunked and decompressed
              (the generated body, or the stream's events joined)."""
    c.sent = []
    for m in mocks:
        frame = m._frame

        def framed(req, reply, cfg, keep, frame=frame, st=id(m._st), server=m.host):
            head, pieces = frame(req, reply, cfg, keep)
            if not req.path.startswith("/__mock/"):
                msgs = req.json.get("messages") if isinstance(req.json, dict) else None
                prompt = msgs[-1].get("content") if isinstance(msgs, list) and msgs and isinstance(msgs[-1], dict) else None
                c.sent.append(dict(key=(st, req.conn), server=server, prompt=prompt, req=req.body,
                                   wire=head + b"".join(pieces),
                                   body=reply.body if reply.events is None else b"".join(reply.events)))
            return head, pieces

        m._frame = framed


def wires_in(stderr):
    """compat_session.py: the bytes the app read, per connection (COMPAT-WIRE N HEX)."""
    out = []
    for line in stderr.splitlines():
        f = line.split()
        if line.startswith("COMPAT-WIRE ") and len(f) in (2, 3):
            try:
                out.append(bytes.fromhex(f[2]) if len(f) == 3 else b"")
            except ValueError:
                out.append(None)
    return out


def first_difference(got, want):
    """Where two byte strings part, for a failure's detail."""
    i = next((k for k in range(min(len(got), len(want))) if got[k] != want[k]), min(len(got), len(want)))
    return "%d vs %d bytes, first difference at %d:\n got:  %r\n want: %r" % (
        len(got), len(want), i, got[max(0, i - 40):i + 80], want[max(0, i - 40):i + 80])


def peers_in(stderr):
    return {line.split()[1].lower() for line in stderr.splitlines() if line.startswith("COMPAT-PEER ") and len(line.split()) > 1}


def answers_in(stdout):
    out = []
    for line in stdout.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            d = json.loads(line)
        except ValueError:
            continue
        if "text" not in d:
            try:
                d["text"] = common.text_of("openai", False, d.get("raw", "")) if d.get("status") == 200 else ""
            except Exception:
                d["text"] = ""
        out.append(d)
    return out


def chat_body(prompt):
    return json.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": prompt}]})


class Result:
    """What one run produced. `n` requests were made with `prompts` (one per
    request, in any order); records must name `host` (and `model`, and
    `provider` unless None); `tls`: the app's connection was TLS (then `real`
    is the server certificate's fingerprint)."""

    def __init__(self, r, answers, host, tls, real=None, prompts=None, n=1, refuses=False):
        self.r, self.answers, self.host, self.tls, self.real = r, answers, host, tls, real
        self.prompts, self.n, self.refuses = prompts, n, refuses
        self.model, self.provider = "gpt-4o-mini", None  # records must name them (provider: None, unchecked)
        self.parsed = False  # the app is handed a parsed object, not bytes: bodies compared as JSON values
        self.peers = peers_in(r.stderr) if r is not None else set()
        self.checks = []  # extra (cond, description, detail)


class Ctx:
    pass


# ---------------------------------------------------------------------------------------
# Runners: (ctx, mode, prompt) -> Result
# ---------------------------------------------------------------------------------------
def obs_tls_env(c):
    ca = c.w.pki["ca"]
    return dict(HC_MODE="observe", HC_HOSTS="localhost:%d" % c.w.mock.port, SSL_CERT_FILE=ca, REQUESTS_CA_BUNDLE=ca)


def curl(c, url, prompt, *extra, **env):
    out = os.path.join(c.tmp, "curl-body")
    if os.path.exists(out):
        os.unlink(out)
    argv = ["curl", "-sS", "--max-time", "30", "-o", out, "-w", "%{http_code}\n%{http_version}\n%{certs}", url,
            "-H", "Authorization: Bearer sk-test-openai-SECRET-0123456789", "-H", "Content-Type: application/json",
            "--data-binary", chat_body(prompt)] + list(extra)
    r = c.w.run(argv, timeout=40, **env)
    lines = r.stdout.split("\n")
    answers = []
    version = lines[1] if len(lines) > 1 else ""
    if r.returncode == 0 and lines[0].isdigit() and os.path.exists(out):
        raw = open(out, encoding="utf-8", errors="replace").read()
        a = {"status": int(lines[0]), "raw": raw, "text": ""}
        try:
            a["text"] = common.text_of("openai", False, raw)
        except Exception:
            pass
        answers.append(a)
    begin = r.stdout.find("-----BEGIN CERTIFICATE-----")
    if begin >= 0:
        end = r.stdout.find("-----END CERTIFICATE-----", begin)
        try:
            fp = fp_of_pem(r.stdout[begin:end + 25], text=True)
            r = subprocess.CompletedProcess(r.args, r.returncode, r.stdout, r.stderr + "\nCOMPAT-PEER %s\n" % fp)
        except ValueError:
            pass
    return r, answers, version


def run_curl(c, mode, prompt, row):
    w = c.w
    if row in ("curl_h11", "curl_h2offer"):
        extra = ["--http1.1"] if row == "curl_h11" else []
        if mode == GW:
            r, ans, ver = curl(c, "https://api.openai.com/v1/chat/completions", prompt, *extra)
            res = Result(r, ans, "api.openai.com", True, c.real)
        else:
            r, ans, ver = curl(c, "https://localhost:%d/v1/chat/completions" % w.mock.port, prompt, "--cacert",
                               w.pki["ca"], *extra, **obs_tls_env(c))
            res = Result(r, ans, "localhost", True, c.real)
        res.checks.append((ver == "1.1", "HTTP/1.1 was used (curl's %{http_version})", ver))
        return res
    if row == "curl_h2server":
        r, ans, ver = curl(c, "https://localhost:%d/v1/chat/completions" % c.h2.port, prompt, "--cacert", w.pki["ca"],
                           HC_MODE="observe", HC_HOSTS="localhost:%d" % c.h2.port)
        res = Result(r, ans, "localhost", True, c.real)
        res.checks.append((ver == "2", "the app spoke HTTP/2 with the server", ver))
        return res
    if row in ("curl_plain_ip", "curl_plain_localhost"):
        name = "127.0.0.1" if row == "curl_plain_ip" else "localhost"
        env = dict(HC_HOSTS="%s:%d" % (name, w.http.port))
        if mode == OBS:
            env["HC_MODE"] = "observe"
        r, ans, ver = curl(c, "http://%s:%d/v1/chat/completions" % (name, w.http.port), prompt, **env)
        return Result(r, ans, name, False)
    if row == "curl_tls_ip":
        env = dict(HC_HOSTS="127.0.0.1:%d" % w.mock.port)
        if mode == OBS:
            env["HC_MODE"] = "observe"
        r, ans, ver = curl(c, "https://127.0.0.1:%d/v1/chat/completions" % w.mock.port, prompt, "--cacert", w.pki["ca"],
                           **env)
        return Result(r, ans, "127.0.0.1", True, c.real)
    if row == "curl_tls_localhost":
        env = obs_tls_env(c) if mode == OBS else dict(HC_HOSTS="localhost:%d" % w.mock.port)
        r, ans, ver = curl(c, "https://localhost:%d/v1/chat/completions" % w.mock.port, prompt, "--cacert", w.pki["ca"],
                           **env)
        return Result(r, ans, "localhost", True, c.real)
    raise KeyError(row)


def run_pyclient(c, mode, prompt, row):
    name, extra = {"py_httpx_async": ("py_httpx", ["async"]), "py_tls_ip": ("py_urllib", [])}.get(row, (row, []))
    env = {}
    if row == "py_tls_ip":
        ca = c.w.pki["ca"]
        env = dict(HC_HOSTS="127.0.0.1:%d" % c.w.mock.port, COMPAT_ORIGIN="https://127.0.0.1:%d" % c.w.mock.port)
        if mode == OBS:
            env.update(HC_MODE="observe", SSL_CERT_FILE=ca)
        r = c.w.run([PYTHON, os.path.join(CLIENTS, "compat_pyrun.py"), name + ".py", "openai", "0", "1", prompt],
                    timeout=40, **env)
        return Result(r, answers_in(r.stdout), "127.0.0.1", True, c.real)
    if mode == OBS:
        env = dict(obs_tls_env(c), COMPAT_ORIGIN="https://localhost:%d" % c.w.mock.port)
    r = c.w.run([PYTHON, os.path.join(CLIENTS, "compat_pyrun.py"), name + ".py", "openai", "0", "1", prompt] + extra,
                timeout=40, **env)
    return Result(r, answers_in(r.stdout), "api.openai.com" if mode == GW else "localhost", True, c.real)


def run_httpx_h2(c, mode, prompt, row):
    w = c.w
    argv = [PYTHON, os.path.join(CLIENTS, "compat_pyrun.py"), "compat_httpx_h2.py"]
    if row == "py_httpx_h2server":
        r = w.run(argv + ["https://localhost:%d/v1/chat/completions" % c.h2.port, prompt], timeout=40,
                  HC_MODE="observe", HC_HOSTS="localhost:%d" % c.h2.port, SSL_CERT_FILE=w.pki["ca"])
        want, host = "HTTP/2", "localhost"
    elif mode == GW:
        r = w.run(argv + ["https://api.openai.com/v1/chat/completions", prompt], timeout=40)
        want, host = "HTTP/1.1", "api.openai.com"
    else:
        r = w.run(argv + ["https://localhost:%d/v1/chat/completions" % w.mock.port, prompt], timeout=40, **obs_tls_env(c))
        want, host = "HTTP/1.1", "localhost"
    res = Result(r, answers_in(r.stdout), host, True, c.real)
    got = [a.get("http_version") for a in res.answers]
    res.checks.append((got == [want], "httpx used %s" % want, got))
    return res


def run_ruby(c, mode, prompt, row):
    env = {}
    if mode == OBS:
        env = dict(obs_tls_env(c), COMPAT_ORIGIN="https://localhost:%d" % c.w.mock.port)
    r = c.w.run(["ruby", os.path.join(CLIENTS, "compat_rb.rb"), "rb_nethttp.rb", "openai", "0", "1", prompt],
                timeout=40, **env)
    return Result(r, answers_in(r.stdout), "api.openai.com" if mode == GW else "localhost", True, c.real)


def run_php(c, mode, prompt, row):
    w = c.w
    if row == "php_curl":
        argv = ["php"]
        env = {}
        if mode == OBS:
            argv += ["-d", "curl.cainfo=" + w.pki["ca"]]
            env = dict(obs_tls_env(c), COMPAT_ORIGIN="https://localhost:%d" % w.mock.port)
        argv += [os.path.join(CLIENTS, "compat_php.php"), "php_curl.php", "openai", "0", "1", prompt]
    else:
        argv = ["php", os.path.join(CLIENTS, "php_stream.php"), "openai", "0", "1", prompt]
        env = {}
        if mode == OBS:
            env = dict(obs_tls_env(c), OPENAI_BASE_URL="https://localhost:%d/v1" % w.mock.port)
    r = w.run(argv, timeout=40, **env)
    return Result(r, answers_in(r.stdout), "api.openai.com" if mode == GW else "localhost", True, c.real)


def run_node(c, mode, prompt, row):
    w = c.w
    kind = "openai" if row.startswith("node_openai") else "anthropic" if row == "node_anthropic" else "fetch"
    plain = row.endswith("_plain")
    env = dict(NODE_EXTRA_CA_CERTS=None, OPENAI_BASE_URL=None, ANTHROPIC_BASE_URL=None)  # gateway: the shim sets it
    if plain:
        env.update(HC_HOSTS="localhost:%d" % w.http.port, OPENAI_BASE_URL="http://localhost:%d/v1" % w.http.port)
        if mode == OBS:
            env["HC_MODE"] = "observe"
        host = "localhost"
    elif mode == OBS:
        env.update(HC_MODE="observe", HC_HOSTS="localhost:%d" % w.mock.port, NODE_EXTRA_CA_CERTS=w.pki["ca"],
                   OPENAI_BASE_URL="https://localhost:%d/v1" % w.mock.port,
                   ANTHROPIC_BASE_URL="https://localhost:%d" % w.mock.port)
        host = "localhost"
    else:
        host = "api.anthropic.com" if kind == "anthropic" else "api.openai.com"
    r = w.run(["node", os.path.join(CLIENTS, "compat_node.mjs"), kind, prompt], timeout=60, **env)
    res = Result(r, answers_in(r.stdout), host, not plain, c.real)
    res.parsed = kind in ("openai", "anthropic")  # the package hands the app the parsed object
    if kind == "anthropic":
        res.model, res.provider = "claude-3-5-haiku-latest", "anthropic" if mode == GW else None
    return res


def run_sock(c, mode, prompt, row):
    w = c.w
    S = c.sock_bin
    obs = dict(HC_MODE="observe") if mode == OBS else {}
    if row == "sock_v4":
        r = w.run([S, "connect", "127.0.0.1", w.http.port, 0, 1, prompt], HC_HOSTS="127.0.0.1:%d" % w.http.port, **obs)
        return Result(r, answers_in(r.stdout), "127.0.0.1", False)
    if row == "sock_v6":
        r = w.run([S, "connect", "::1", c.v6.port, 0, 1, prompt], HC_HOSTS="[::1]:%d" % c.v6.port, **obs)
        res = Result(r, answers_in(r.stdout), "::1", False)
        via = [e["server"] for e in c.sent[c.sent_mark:]]
        res.checks.append((via == ["::1"], "the server answered on its ::1 listener", via))
        return res
    if row == "sock_race_lit":
        p = w.http.port
        r = w.run([S, "race", "127.0.0.1,::1", p, 0, 1, prompt], HC_HOSTS="127.0.0.1:%d,[::1]:%d" % (p, p), **obs)
        winner = "::1" if "winner second" in r.stdout else "127.0.0.1"
        res = Result(r, answers_in(r.stdout), winner, False)
        res.checks.append(("# race: winner" in r.stdout, "a winner was used (%s)" % winner, r.stdout[:200]))
        return res
    if row == "sock_race_localhost":
        p = w.http.port
        r = w.run([S, "race", "localhost", p, 0, 1, prompt], HC_HOSTS="localhost:%d" % p, **obs)
        res = Result(r, answers_in(r.stdout), "localhost", False)
        res.checks.append(("# race: winner" in r.stdout and "(loser closed)" in r.stdout,
                           "both connects completed; the winner was used, the loser closed",
                           [l for l in r.stdout.splitlines() if l.startswith("#")]))
        return res
    if row == "sock_race_name":
        r = w.run([S, "race", "api.openai.com", 443, 1, 1, prompt])
        res = Result(r, answers_in(r.stdout), "api.openai.com", True, c.real)
        res.checks.append(("# race: winner" in r.stdout and "(loser closed)" in r.stdout,
                           "both connects completed; the winner was used, the loser closed",
                           [l for l in r.stdout.splitlines() if l.startswith("#")]))
        return res
    if row in ("sock_gai_wait", "sock_gai_nowait") and mode == OBS:
        # nothing is routed: plain HTTP to the mock by a name the lookup answers
        r = w.run([S, row[5:], "localhost", w.http.port, 0, 1, prompt], HC_HOSTS="localhost:%d" % w.http.port, **obs)
        res = Result(r, answers_in(r.stdout), "localhost", False)
        res.checks.append(("# resolved 127.0.0.1" in r.stdout or "# resolved ::1" in r.stdout,
                           "getaddrinfo_a answered with a loopback address",
                           [l for l in r.stdout.splitlines() if l.startswith("#")]))
        return res
    # TLS: in observe mode to the mock by a name it has a certificate for (SNI localhost)
    name, port = ("localhost", w.mock.port) if mode == OBS else ("api.openai.com", 443)
    env = dict(obs, HC_HOSTS="localhost:%d" % w.mock.port, COMPAT_CA=w.pki["ca"]) if mode == OBS else {}
    if row in ("sock_poll", "sock_epoll", "sock_gai_wait", "sock_gai_nowait"):
        r = w.run([S, row[5:], name, port, 1, 1, prompt], **env)
        res = Result(r, answers_in(r.stdout), name, True, c.real)
        if row.startswith("sock_gai"):
            res.checks.append(("# resolved 233.252.0." in r.stdout, "getaddrinfo_a answered with the routed address",
                               [l for l in r.stdout.splitlines() if l.startswith("#")]))
        return res
    if row == "sock_keepalive":
        before = len(w.mock.requests)
        r = w.run([S, "keepalive", name, port, 1, 5, prompt], **env)
        res = Result(r, answers_in(r.stdout), name, True, c.real, n=5)
        conns = {q["conn"] for q in w.mock.requests[before:]}
        res.checks.append((len(conns) == 1, "the provider saw one connection serial for the 5 requests", conns))
        return res
    raise KeyError(row)


def run_py_misc(c, mode, prompt, row):
    w = c.w
    if row == "py_gethostbyname":
        if mode == GW:
            r = w.run([PYTHON, os.path.join(CLIENTS, "compat_gethostbyname.py"), "api.openai.com", 443, prompt])
            res = Result(r, answers_in(r.stdout), "api.openai.com", True, c.real)
            res.checks.append(("# resolved 233.252.0." in r.stdout, "gethostbyname_ex answered with the routed address",
                               r.stdout[:100]))
        else:  # the mock by the name localhost (SNI), nothing routed
            r = w.run([PYTHON, os.path.join(CLIENTS, "compat_gethostbyname.py"), "localhost", w.mock.port, prompt],
                      **obs_tls_env(c))
            res = Result(r, answers_in(r.stdout), "localhost", True, c.real)
            res.checks.append(("# resolved 127.0.0.1" in r.stdout, "gethostbyname_ex answered with the loopback address",
                               r.stdout[:100]))
        return res
    if row == "py_many":
        n = 32
        if mode == GW:
            r = w.run([PYTHON, os.path.join(CLIENTS, "compat_many.py"), n, prompt], timeout=90)
        else:  # compat_pyrun swaps its https://api.openai.com origin for the mock's name
            r = w.run([PYTHON, os.path.join(CLIENTS, "compat_pyrun.py"), "compat_many.py", n, prompt], timeout=90,
                      COMPAT_ORIGIN="https://localhost:%d" % w.mock.port, **obs_tls_env(c))
        ans = answers_in(r.stdout)
        for a in ans:
            a["prompt"] = "%s %d" % (prompt, a.get("i", -1))
        res = Result(r, ans, "api.openai.com" if mode == GW else "localhost", True, c.real, n=n,
                     prompts=["%s %d" % (prompt, i) for i in range(n)])
        if mode == OBS:  # nothing in between: the app's own connections reach the server
            conns = {e["key"] for e in c.sent[c.sent_mark:]}
            res.checks.append((len(conns) == n, "the provider saw the app's %d connections" % n, len(conns)))
        return res
    if row == "pin":
        if mode == GW:
            r = w.run([PYTHON, os.path.join(CLIENTS, "compat_pin.py"), "https://api.openai.com/v1/chat/completions",
                       c.real, prompt])
            res = Result(r, answers_in(r.stdout), "api.openai.com", True, c.real, refuses=True)
        else:
            r = w.run([PYTHON, os.path.join(CLIENTS, "compat_pin.py"),
                       "https://localhost:%d/v1/chat/completions" % w.mock.port, c.real, prompt], **obs_tls_env(c))
            res = Result(r, answers_in(r.stdout), "localhost", True, c.real)
        return res
    raise KeyError(row)


def run_proxy(c, mode, prompt, row):
    w = c.w
    purl = "http://127.0.0.1:%d" % c.proxy.port
    env = dict(HTTPS_PROXY=purl, https_proxy=purl, NO_PROXY=None, no_proxy=None)
    if mode == OBS:
        env["HC_MODE"] = "observe"
    before = len(c.proxy.tunnels)
    if row == "proxy_curl":
        r, ans, ver = curl(c, "https://api.openai.com/v1/chat/completions", prompt, "--cacert", w.pki["ca"], **env)
    else:
        r = w.run([PYTHON, os.path.join(CLIENTS, "compat_pyrun.py"), "py_requests.py", "openai", "0", "1", prompt],
                  timeout=40, REQUESTS_CA_BUNDLE=w.pki["ca"], **env)
        ans = answers_in(r.stdout)
    res = Result(r, ans, "api.openai.com", True, c.real_oa)
    res.checks.append((c.proxy.tunnels[before:] == ["api.openai.com:443"], "the app tunnelled through the proxy",
                       c.proxy.tunnels[before:]))
    return res


SESSIONS = {"obs_sse": ("openai", "s"), "obs_keepalive": ("openai", "psps"), "obs_anthropic": ("anthropic", "ps")}
SSE_DELAY_MS = 10  # obs_sse: the mock's pause before each stream event after the first


def run_session(c, mode, prompt, row):
    """compat_session.py: python3-requests calls on one Session (plain p, streamed s).
    Gateway mode: the providers' default URLs. Observe mode: OpenAI rows reach the
    mock as https://localhost:PORT (HC_HOSTS); the Anthropic row keeps the real name
    api.anthropic.com, which the app resolves to the mock itself (COMPAT_RESOLVE, an
    /etc/hosts entry), so the record's host and provider are the provider's own."""
    w = c.w
    provider, plan = SESSIONS[row]
    n = len(plan)
    host, real = ("api.openai.com" if provider == "openai" else "api.anthropic.com"), c.real
    env = {}
    if mode == OBS and provider == "anthropic":
        env = dict(HC_MODE="observe", REQUESTS_CA_BUNDLE=w.pki["ca"],
                   COMPAT_RESOLVE="api.anthropic.com:443=127.0.0.1:%d" % c.mock_oa.port)
        real = c.real_oa
    elif mode == OBS:
        env = dict(obs_tls_env(c), COMPAT_ORIGIN="https://localhost:%d" % w.mock.port)
        host = "localhost"
    delay = SSE_DELAY_MS if row == "obs_sse" else 0  # a stream that arrives over time, event by event
    if delay:
        w.mock.configure(chunk_delay_ms=delay)
    try:
        r = w.run([PYTHON, os.path.join(CLIENTS, "compat_session.py"), provider, plan, prompt], timeout=40, **env)
    finally:
        if delay:
            w.mock.configure(chunk_delay_ms=0)
    prompts = [prompt] if n == 1 else ["%s %d" % (prompt, i) for i in range(n)]
    res = Result(r, answers_in(r.stdout), host, True, real, prompts=prompts, n=n)
    if provider == "anthropic":
        res.model, res.provider = "claude-3-5-haiku-latest", "anthropic"
    elif host == "api.openai.com":
        res.provider = "openai"
    sent = c.sent[c.sent_mark:]
    wires = wires_in(r.stderr)
    res.checks.append((len(wires) == 1, "the app made its %d call(s) on one connection" % n, "%d connections" % len(wires)))
    if mode == OBS:
        # the bytes the app read off its connection are the bytes the server sent
        by_conn = {}
        for e in sent:
            by_conn[e["key"]] = by_conn.get(e["key"], b"") + e["wire"]
        res.checks.append((len(by_conn) == 1, "the server saw one connection", "%d connections" % len(by_conn)))
        want = list(by_conn.values())
        det = "app read %s bytes on %d connection(s); server sent %s on %d" % (
            [len(x or b"") for x in wires], len(wires), [len(x) for x in want], len(want))
        if len(wires) == len(want) == 1 and wires[0] is not None and wires[0] != want[0]:
            det = first_difference(wires[0], want[0])
        res.checks.append((sorted(wires, key=lambda x: x or b"") == sorted(want), "the app read exactly the bytes "
                           "the server sent: heads, chunk framing, compressed bodies (%d bytes)" % sum(map(len, want)), det))
    # each record is its own exchange: stored request/response bodies are that call's,
    # and the streamed flag marks exactly the streamed calls
    recs = w.records()
    by_prompt = {e["prompt"]: e for e in sent}
    own, flags = [], []
    for x in recs:
        d = json.loads(w.analyze("show", "--json", x["id"]).stdout)
        try:
            p = json.loads(d.get("request_body") or "")["messages"][-1]["content"]
        except (ValueError, KeyError, IndexError, TypeError):
            p = None
        e = by_prompt.get(p)
        own.append(e is not None and (d.get("request_body") or "").encode() == e["req"] and
                   (d.get("response_body") or "").encode() == e["body"])
        flags.append((p, bool(x.get("flags", 0) & 1)))
    res.checks.append((len(own) == n and all(own), "each record holds its own call's request and response, "
                       "byte for byte as the server received and sent them", own))
    if delay:
        # 16 events (role, 12 words, finish, usage, [DONE]) 10 ms apart: the first token
        # came at least ~10 pauses before the end
        tt = [(x.get("ttft_us"), x.get("latency_us")) for x in recs]
        res.checks.append((len(tt) == 1 and all(isinstance(v, int) for v in tt[0]) and 0 < tt[0][0] and
                           tt[0][1] - tt[0][0] >= 10 * delay * 1000,
                           "the record's time to first token is the first event's, well before the end "
                           "(latency - ttft >= %d ms)" % (10 * delay), "(ttft_us, latency_us): %s" % tt))
    want_flags = sorted((q, k == "s") for q, k in zip(prompts, plan))
    res.checks.append((sorted(flags, key=str) == sorted(want_flags, key=str),
                       "the records of the streamed calls, and only those, are flagged streamed",
                       "got %s want %s" % (sorted(flags, key=str), want_flags)))
    return res


def run_go(c, mode, prompt, row):
    w = c.w
    env = dict(HC_HOSTS="localhost:%d" % w.mock.port, SSL_CERT_FILE=w.pki["ca"])
    if mode == OBS:
        env["HC_MODE"] = "observe"
    r = w.run([c.go_bin, "https://localhost:%d/v1/chat/completions" % w.mock.port, prompt], timeout=40, **env)
    return Result(r, answers_in(r.stdout), "localhost", True, c.real)


def run_bundled(c, mode, prompt, row):
    w = c.w
    d = c.bundled
    body = os.path.join(c.tmp, "bundled-body")
    if os.path.exists(body):
        os.unlink(body)
    # the bundled library's own call goes to a local HTTPS server that is not an LLM host
    target = "db.internal,127.0.0.1,%d,/__mock/health" % c.local_tls.port
    app = [os.path.join(d, "app_sys"), os.path.join(d, "libbundled.so"), w.pki["ca"]]
    if mode == GW:
        argv = app + ["api.openai.com", "-", "443", "/", "sys", prompt, body]
        host, env = "api.openai.com", {}
    else:
        argv = app + ["localhost", "-", str(w.mock.port), "/", "sys", prompt, body]
        host, env = "localhost", dict(HC_MODE="observe", HC_HOSTS="localhost:%d" % w.mock.port)
    r = w.run(argv, timeout=40, BUNDLED_TARGET=target, **env)
    answers = []
    if os.path.exists(body):
        raw = open(body, encoding="utf-8", errors="replace").read()
        a = {"status": 200 if "system: HTTP/1.1 200" in r.stdout else 0, "raw": raw, "text": ""}
        try:
            a["text"] = common.text_of("openai", False, raw)
        except Exception:
            pass
        answers.append(a)
    res = Result(r, answers, host, True, c.real)
    # the bundled library's call, with and without the shim: the same answer
    plain = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD" and not k.startswith("HC_")}
    base = subprocess.run(app + ["db.internal", "127.0.0.1", str(c.local_tls.port), "/__mock/health"],
                          capture_output=True, text=True, env=plain, timeout=40)
    want = [x for x in base.stdout.splitlines() if x.startswith("bundled: ")]
    got = [x for x in r.stdout.splitlines() if x.startswith("bundled: ")]
    res.checks.append((want == ["bundled: HTTP/1.1 200 OK"] and got == want,
                       "the bundled OpenSSL's own call to a non-LLM HTTPS server: the answer it gets without the shim",
                       "without the shim: %s; with: %s" % (want, got)))
    return res


def run_go_cgo(c, mode, prompt, row):
    w = c.w
    if mode == OBS:
        env = dict(HC_HOSTS="localhost:%d" % w.mock.port, SSL_CERT_FILE=w.pki["ca"], HC_MODE="observe",
                   GODEBUG="netdns=cgo")
        r = w.run([c.go_cgo_bin, "https://localhost:%d/v1/chat/completions" % w.mock.port, prompt], timeout=40, **env)
        return Result(r, answers_in(r.stdout), "localhost", True, c.real)
    argv = [c.go_cgo_bin, "https://api.openai.com/v1/chat/completions", prompt]
    plain = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD" and not k.startswith("HC_")}
    base = subprocess.run(argv, capture_output=True, text=True, timeout=40, env=dict(plain, GODEBUG="netdns=cgo"))
    r = w.run(argv, timeout=40, GODEBUG="netdns=cgo")
    res = Result(r, [], "api.openai.com", True, c.real)
    res.fails_fast = base
    return res


RUNNERS = {
    "curl": run_curl, "py_urllib": run_pyclient, "py_httpclient": run_pyclient, "py_asyncio": run_pyclient,
    "py_requests": run_pyclient, "py_httpx": run_pyclient, "py_tls_ip": run_pyclient, "py_httpx_async": run_pyclient, "py_aiohttp": run_pyclient,
    "py_httpx_h2": run_httpx_h2, "rb": run_ruby, "php": run_php, "node": run_node, "sock": run_sock,
    "py_gethostbyname": run_py_misc, "py_many": run_py_misc, "pin": run_py_misc, "proxy": run_proxy, "go": run_go,
    "bundled_openssl": run_bundled, "go_cgo": run_go_cgo,
    "obs": run_session,
}


# ---------------------------------------------------------------------------------------
# Agent CLIs, Bun, and TLS stacks the gateway leaves alone. These runners judge their
# own evidence (Result.judge): the CLIs report their own usage and cost, which the
# records must match exactly; every program's output must equal its run without the
# shim against the same mock (the "baseline"), the mock's answer counter and ids aside.
# ---------------------------------------------------------------------------------------
import re  # noqa: E402
import tempfile  # noqa: E402

NODE_MODULES = os.path.join(NODE_DIR, "node_modules")
CLAUDE = os.path.join(NODE_MODULES, ".bin", "claude")
GEMINI = os.path.join(NODE_MODULES, ".bin", "gemini")
BUN = os.path.join(NODE_MODULES, "@oven", "bun-linux-x64", "bin", "bun")
RELAYED = "is relayed untouched and not recorded"
INVISIBLE = "is invisible to observe mode"
BUN_FETCH = r'''
import fs from "node:fs";
const [url, prompt, times] = process.argv.slice(2);
for (let i = 0; i < Number(times || 1); i++) {
  const r = await fetch(url, {method: "POST", headers: {"Content-Type": "application/json",
    "Authorization": "Bearer sk-test-openai-SECRET-0123456789"},
    body: JSON.stringify({model: "gpt-4o-mini", messages: [{role: "user", content: prompt}]})});
  const j = await r.json();
  console.log(r.status, j.choices[0].message.content);
}
// After its calls the app waits until the file named by its 4th argument exists
// (the test creates it once the records are in the store): Bun leaves through
// quick_exit(), which would skip the shim's flush of pending records.
const hold = process.argv[5];
for (let i = 0; hold && i < 3000 && !fs.existsSync(hold); i++)
  await new Promise((r) => setTimeout(r, 10));
'''
ERLANG_CALL = r'''
[Url, Ca, Sni, Prompt] = [os:getenv("E_URL"), os:getenv("E_CA"), os:getenv("E_SNI"), os:getenv("E_PROMPT")],
inets:start(), ssl:start(),
Body = "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"" ++ Prompt ++ "\"}]}",
R = httpc:request(post, {Url, [{"authorization", "Bearer sk-test-openai-SECRET-0123456789"}], "application/json", Body},
      [{timeout, 20000}, {ssl, [{verify, verify_peer}, {cacertfile, Ca}, {server_name_indication, Sni},
        {customize_hostname_check, [{match_fun, public_key:pkix_verify_hostname_match_fun(https)}]}]}], []),
case R of {ok, {{_, S, _}, _, B}} -> io:format("~p~n~s~n", [S, B]); E -> io:format("error ~p~n", [E]) end,
halt().
'''


def shim_notes(stderr, what):
    return [line for line in stderr.splitlines() if line.startswith("hcshim[") and what in line]


def norm_out(s):
    """Output with what differs between two runs against the mock taken out."""
    s = re.sub(r"Mock answer \d+", "Mock answer #", s)
    s = re.sub(r"(chatcmpl-|msg_01|toolu_01|req_)\w+", r"\1#", s)
    return re.sub(r'"created": ?\d+', '"created": #', s)


def run_here(c, argv, cwd=None, timeout=120, **env):
    """Run argv under the shim (LD_PRELOAD=None: without it) in cwd."""
    return subprocess.run([str(a) for a in argv], env=c.w.env(**env), cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, errors="replace")


def untouched(c, mode, argv, n=1, out=norm_out, env=None, base_env=None, base_argv=None):
    """A program whose TLS the shim must leave alone: run it under the shim (env)
    and without it (base_env), and judge: same exit status and output, the server
    asked n times by the shimmed run, no record, one stderr line saying why."""
    env = dict(env or {})
    if mode == OBS:
        env["HC_MODE"] = "observe"
    before = c.mock_total()
    r = run_here(c, argv, **env)
    asked = c.mock_total() - before
    b = run_here(c, base_argv or argv, LD_PRELOAD=None, **(base_env if base_env is not None else env))
    notice = INVISIBLE if mode == OBS else RELAYED
    res = Result(r, [], "", False)

    def judge_it(t, c_, label, mode_, res_, expected):
        recs = c.w.records()
        same = r.returncode == b.returncode and out(r.stdout) == out(b.stdout)
        notes = shim_notes(r.stderr, notice)
        detail = "shim rc=%s\n%s\n%s\nbaseline rc=%s\n%s\n%s" % (r.returncode, r.stdout[-700:], r.stderr[-700:],
                                                                  b.returncode, b.stdout[-700:], b.stderr[-500:])
        t.ok(same, "%s [%s]: exit status and output equal the run without the shim (rc %s)" % (label, mode_, b.returncode),
             detail)
        t.ok(asked == n, "%s [%s]: the server itself received %d request(s)" % (label, mode_, n), "got %d" % asked)
        t.ok(not recs, "%s [%s]: no record" % (label, mode_), recs)
        t.ok(len(notes) == 1, "%s [%s]: one stderr line says its TLS is %s" % (
            label, mode_, "invisible to observe mode" if mode_ == OBS else "relayed untouched"), r.stderr[-1200:])
        if not same:
            return "broken", "output differs from the run without the shim (rc %s vs %s)" % (r.returncode, b.returncode)
        if asked != n or recs or len(notes) != 1:
            return "unexpected behaviour", "server asked %d, %d record(s), %d notice line(s)" % (asked, len(recs), len(notes))
        return NOT, "same exit status (%d) and output as without the shim; no record; %s" % (
            b.returncode, notes[0].split(": ", 2)[-1][:140])
    res.judge = judge_it
    return res


def run_tls_stack(c, mode, prompt, row):
    w = c.w
    ca, port = w.pki["ca"], w.mock.port
    local = "https://localhost:%d/v1/chat/completions" % port
    hosts = dict(HC_HOSTS="localhost:%d" % port)
    if row.startswith("tls_java"):
        kind = {"tls_java_h1": "h1", "tls_java_h2": "h2", "tls_java_urlconn": "urlconnection"}[row]
        return untouched(c, mode, ["java", os.path.join(CLIENTS, "trust_java.java"), kind, local, ca, chat_body(prompt)],
                         env=hosts, base_env={})
    if row == "tls_wget":
        return untouched(c, mode, ["wget", "-q", "-O-", "--ca-certificate=" + ca, "--header", "Content-Type: application/json",
                                   "--header", "Authorization: Bearer sk-test-openai-SECRET-0123456789",
                                   "--post-data", chat_body(prompt), local], env=hosts, base_env={})
    if row == "tls_gnutls_cli":
        req = os.path.join(c.tmp, "gnutls-request")
        data = chat_body(prompt)
        with open(req, "w") as f:
            f.write("POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
                    "Authorization: Bearer sk-test-openai-SECRET-0123456789\r\nContent-Type: application/json\r\n"
                    "Content-Length: %d\r\n\r\n%s" % (len(data), data))

        def http_part(s):  # gnutls-cli's session details and the mock's per-answer headers vary
            if "HTTP/1.1" not in s:
                return ""
            s = s[s.find("HTTP/1.1"):]
            return s.split("\n", 1)[0] + "\n" + norm_out(s.split("\n\n", 1)[-1])
        return untouched(c, mode, ["sh", "-c", '(cat "$0"; sleep 3) | gnutls-cli --x509cafile "$1" -p "$2" localhost',
                                   req, ca, port], out=http_part, env=hosts, base_env={})
    if row == "tls_git":
        env = dict(GIT_SSL_CAINFO=ca, GIT_TERMINAL_PROMPT="0")
        return untouched(c, mode, ["git", "ls-remote", "https://localhost:%d/x.git" % port], out=lambda s: s,
                         env=dict(hosts, **env), base_env=env)
    if row == "tls_erlang":  # routed: the relay goes to the route's target; the baseline calls it by address
        oa = c.mock_oa
        e = dict(E_CA=ca, E_SNI="api.openai.com", E_PROMPT=prompt)
        return untouched(c, mode, ["erl", "-noshell", "-eval", ERLANG_CALL],
                         env=dict(e, E_URL="https://api.openai.com/v1/chat/completions",
                                  HC_ROUTE="api.openai.com=https://127.0.0.1:%d" % oa.port),
                         base_env=dict(e, E_URL="https://127.0.0.1:%d/v1/chat/completions" % oa.port))
    raise KeyError(row)


def run_bun(c, mode, prompt, row):
    w = c.w
    js = os.path.join(c.tmp, "bun_fetch.mjs")
    with open(js, "w") as f:
        f.write(BUN_FETCH)
    local = "https://localhost:%d/v1/chat/completions" % w.mock.port
    base_env = dict(NODE_EXTRA_CA_CERTS=w.pki["ca"])
    if mode == OBS:
        return untouched(c, mode, [BUN, js, local, prompt, "2"], n=2,
                         env=dict(base_env, HC_HOSTS="localhost:%d" % w.mock.port), base_env=base_env)
    # the app stays until its records are in the store (Bun leaves through quick_exit(),
    # whose loss of pending records is another issue), then exits
    hold = os.path.join(tempfile.mkdtemp(dir=c.tmp), "hold")
    before = c.mock_total()
    p = subprocess.Popen([BUN, js, "https://api.openai.com/v1/chat/completions", prompt, "2", hold],
                         env=w.env(NODE_EXTRA_CA_CERTS=None), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         errors="replace")
    try:
        w.records(wait_for=2, timeout=30)
    finally:
        open(hold, "w").close()
    try:
        out, err = p.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
    r = subprocess.CompletedProcess(p.args, p.returncode, out, err)
    asked = c.mock_total() - before
    b = run_here(c, [BUN, js, local, prompt, "2"], LD_PRELOAD=None, **base_env)
    res = Result(r, [], "api.openai.com", True)

    def judge_it(t, c_, label, mode_, res_, expected):
        recs = w.records()
        same = r.returncode == b.returncode == 0 and norm_out(r.stdout) == norm_out(b.stdout)
        t.ok(same and r.stdout.count("200 Mock answer") == 2 and (" to: " + prompt) in r.stdout,
             "%s [%s]: the app got its 2 answers, as without the shim" % (label, mode_),
             "rc=%s %s\n%s\nbaseline %s" % (r.returncode, r.stdout, r.stderr[-800:], b.stdout))
        t.ok(asked == 2, "%s [%s]: the provider received 2 requests" % (label, mode_), asked)
        words = len(prompt.split()) + 4
        good = len(recs) == 2 and all(x.get("host") == "api.openai.com" and x.get("model_req") == "gpt-4o-mini" and
                                      x.get("status") == 200 and x.get("tok_in") == words and
                                      x.get("tok_out") == REPLY_WORDS for x in recs)
        t.ok(good, "%s [%s]: 2 correct records: host, model, exact tokens (%d in, %d out)"
             % (label, mode_, words, REPLY_WORDS), recs)
        if not same:
            return "broken", "the app did not get its answers as without the shim (rc=%s)" % r.returncode
        return (CAPTURED, "%d record(s), exact tokens" % len(recs)) if good and asked == 2 else \
            ("wrong record", "records %s" % [(x.get("host"), x.get("tok_in"), x.get("tok_out")) for x in recs])
    res.judge = judge_it
    return res


def cli_json(stdout):
    """The JSON document a CLI printed (--output-format json), or {}."""
    i = stdout.find("{")
    try:
        return json.loads(stdout[i:]) if i >= 0 else {}
    except ValueError:
        return {}


def run_claude(c, mode, prompt, row):
    """Claude Code, `claude -p` with a tool round trip: the mock asks for the Read tool
    on a notes file (tests/mock/README.md, "Anthropic tool use"); Claude reads it and
    sends the result back; the final answer quotes the file."""
    w = c.w
    d = tempfile.mkdtemp(dir=c.tmp)
    home = os.path.join(d, "home")
    os.makedirs(home)
    secret = "pineapple-" + prompt.split()[-1]
    notes = os.path.join(d, "notes.txt")
    with open(notes, "w") as f:
        f.write("%s is the secret word\n" % secret)
    argv = [CLAUDE, "-p", "%s: read the notes [mock-tool Read file_path=%s]" % (prompt, notes),
            "--allowedTools", "Read", "--output-format", "json"]
    env = dict(HOME=home, ANTHROPIC_API_KEY="sk-ant-test-SECRET-0123456789", CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1",
               DISABLE_AUTOUPDATER="1", DISABLE_TELEMETRY="1", DISABLE_ERROR_REPORTING="1", ANTHROPIC_BASE_URL=None,
               ANTHROPIC_AUTH_TOKEN=None, NODE_EXTRA_CA_CERTS=None)
    direct = dict(env, ANTHROPIC_BASE_URL="https://localhost:%d" % w.mock.port, NODE_EXTRA_CA_CERTS=w.pki["ca"])
    if mode == OBS:
        env = dict(direct, HC_MODE="observe", HC_HOSTS="localhost:%d" % w.mock.port)
    before = c.mock_total()
    r = run_here(c, argv, cwd=d, **env)
    asked = c.mock_total() - before
    b = run_here(c, argv, cwd=d, LD_PRELOAD=None, **direct)
    res = Result(r, [], "api.anthropic.com", True)

    def judge_it(t, c_, label, mode_, res_, expected):
        recs = w.records()
        j, jb = cli_json(r.stdout), cli_json(b.stdout)
        result = str(j.get("result", ""))
        app_ok = (r.returncode == 0 and j.get("is_error") is False and j.get("num_turns") == 2 and
                  result.startswith("Mock answer") and secret in result)
        t.ok(app_ok, "%s [%s]: the app answered after its tool round trip (2 turns, the file's word in the answer)"
             % (label, mode_), "rc=%s\n%s\n%s" % (r.returncode, r.stdout[-1500:], r.stderr[-1500:]))
        same = (norm_out(result) == norm_out(str(jb.get("result", ""))) and j.get("num_turns") == jb.get("num_turns"))
        t.ok(same, "%s [%s]: the same answer as without the shim" % (label, mode_),
             "shim: %r\nbaseline: %r" % (result, jb.get("result")))
        if mode_ == OBS:
            notes_ = shim_notes(r.stderr, INVISIBLE)
            t.ok(not recs, "%s [%s]: no record" % (label, mode_), recs)
            t.ok(len(notes_) == 1, "%s [%s]: one stderr line says its TLS is invisible to observe mode" % (label, mode_),
                 r.stderr[-1000:])
            if not (app_ok and same):
                return "broken", "the app did not answer as without the shim"
            return (NOT, "answered as without the shim; no record; the shim said so once") if not recs and \
                len(notes_) == 1 else ("unexpected behaviour", "%d record(s)" % len(recs))
        msgs = [x for x in recs if str(x.get("path", "")).startswith("/v1/messages")]
        u = j.get("usage") or {}
        tok_in = sum(x.get("tok_in") or 0 for x in msgs)
        tok_out = sum(x.get("tok_out") or 0 for x in msgs)
        want_in = sum(u.get(k) or 0 for k in ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"))
        spent = sum(x.get("cost_nusd") or 0 for x in msgs) / 1e9
        cost = j.get("total_cost_usd")
        models = {x.get("model_req") for x in msgs}
        others = [x for x in recs if x not in msgs]
        recs_ok = (len(msgs) == 2 and all(x.get("host") == "api.anthropic.com" and x.get("provider") == "anthropic" and
                                          x.get("status") == 200 for x in msgs) and len(models) == 1)
        t.ok(recs_ok, "%s [%s]: 2 records of Messages calls (host api.anthropic.com, provider anthropic, status 200)"
             % (label, mode_), [(x.get("path"), x.get("provider"), x.get("model_req"), x.get("status")) for x in recs])
        t.ok(recs_ok and tok_in == want_in and tok_out == u.get("output_tokens"),
             "%s [%s]: recorded tokens equal Claude Code's own usage (%s in, %s out)" % (label, mode_, want_in,
                                                                                        u.get("output_tokens")),
             "recorded %d in, %d out; usage %s" % (tok_in, tok_out, u))
        t.ok(isinstance(cost, (int, float)) and cost > 0 and abs(spent - cost) < 1e-9,
             "%s [%s]: recorded spend equals its total_cost_usd" % (label, mode_), "recorded %.9f, total_cost_usd %r"
             % (spent, cost))
        t.ok(all((x.get("tok_in") or 0) == 0 == (x.get("tok_out") or 0) for x in others),
             "%s [%s]: its other calls (a connectivity check) carry no tokens" % (label, mode_), others)
        t.ok(asked >= 2 and not shim_notes(r.stderr, RELAYED), "%s [%s]: the provider answered it, through the gateway"
             % (label, mode_), "asked %d\n%s" % (asked, r.stderr[-800:]))
        if not (app_ok and same):
            return "broken", "the app did not answer as without the shim (rc=%s)" % r.returncode
        if recs_ok and tok_in == want_in and tok_out == u.get("output_tokens") and abs(spent - (cost or 0)) < 1e-9:
            return CAPTURED, "2 records (%s), %d in / %d out tokens, $%.6f = total_cost_usd" % (
                models.pop(), tok_in, tok_out, spent)
        return "wrong record", "records %s" % [(x.get("path"), x.get("tok_in"), x.get("tok_out")) for x in recs]
    res.judge = judge_it
    return res


def run_gemini(c, mode, prompt, row):
    w = c.w
    d = tempfile.mkdtemp(dir=c.tmp)
    home = os.path.join(d, "home")
    os.makedirs(os.path.join(home, ".gemini"))
    with open(os.path.join(home, ".gemini", "settings.json"), "w") as f:  # the API key, also with a base URL
        json.dump({"security": {"auth": {"selectedType": "gemini-api-key"}}}, f)
    model = "gemini-2.5-flash"  # named: no routing classifier call
    argv = [GEMINI, "-m", model, "-p", prompt, "--output-format", "json"]
    env = dict(HOME=home, GEMINI_API_KEY="test-gemini-SECRET-0123456789", GEMINI_CLI_TRUST_WORKSPACE="true",
               GOOGLE_GEMINI_BASE_URL=None, NODE_EXTRA_CA_CERTS=None, GOOGLE_API_KEY=None)
    direct = dict(env, GOOGLE_GEMINI_BASE_URL="https://localhost:%d" % w.mock.port, NODE_EXTRA_CA_CERTS=w.pki["ca"])
    if mode == OBS:
        env = dict(direct, HC_MODE="observe", HC_HOSTS="localhost:%d" % w.mock.port)
    before = c.mock_total()
    r = run_here(c, argv, cwd=d, **env)
    asked = c.mock_total() - before
    b = run_here(c, argv, cwd=d, LD_PRELOAD=None, **direct)
    res = Result(r, [], "generativelanguage.googleapis.com", True)

    def judge_it(t, c_, label, mode_, res_, expected):
        recs = w.records()
        j, jb = cli_json(r.stdout), cli_json(b.stdout)
        text = str(j.get("response", ""))
        app_ok = r.returncode == 0 and text.startswith("Mock answer")
        t.ok(app_ok, "%s [%s]: the app answered" % (label, mode_), "rc=%s\n%s\n%s" % (
            r.returncode, r.stdout[-1200:], r.stderr[-1200:]))
        same = norm_out(text) == norm_out(str(jb.get("response", "")))
        t.ok(same, "%s [%s]: the same answer as without the shim" % (label, mode_),
             "shim: %r\nbaseline: %r" % (text, jb.get("response")))
        if mode_ == OBS:
            notes_ = shim_notes(r.stderr, INVISIBLE)
            t.ok(not recs, "%s [%s]: no record" % (label, mode_), recs)
            t.ok(len(notes_) == 1, "%s [%s]: one stderr line says its TLS is invisible to observe mode" % (label, mode_),
                 r.stderr[-1000:])
            if not (app_ok and same):
                return "broken", "the app did not answer as without the shim"
            return (NOT, "answered as without the shim; no record; the shim said so once") if not recs and \
                len(notes_) == 1 else ("unexpected behaviour", "%d record(s)" % len(recs))
        tk = (((j.get("stats") or {}).get("models") or {}).get(model) or {}).get("tokens") or {}
        good = (len(recs) == 1 and recs[0].get("host") == "generativelanguage.googleapis.com" and
                recs[0].get("provider") == "google" and recs[0].get("model_req") == model and
                recs[0].get("status") == 200 and recs[0].get("tok_in") == tk.get("prompt") and
                recs[0].get("tok_out") == tk.get("candidates"))
        t.ok(good, "%s [%s]: one record, model %s, tokens equal the CLI's own stats (%s in, %s out)" % (
            label, mode_, model, tk.get("prompt"), tk.get("candidates")),
            [(x.get("host"), x.get("provider"), x.get("model_req"), x.get("tok_in"), x.get("tok_out")) for x in recs])
        t.ok(asked == 1, "%s [%s]: the provider received 1 request" % (label, mode_), asked)
        if not (app_ok and same):
            return "broken", "the app did not answer as without the shim (rc=%s)" % r.returncode
        return (CAPTURED, "1 record, %s in / %s out tokens as its stats say" % (tk.get("prompt"), tk.get("candidates"))) \
            if good else ("wrong record", "records %s" % [(x.get("model_req"), x.get("tok_in")) for x in recs])
    res.judge = judge_it
    return res


RUNNERS.update({"agent_claude": run_claude, "agent_gemini": run_gemini, "bun": run_bun, "tls": run_tls_stack})


def setup_agents(c):
    """Skips for the rows above whose program is not here."""
    have = lambda path: os.path.exists(path)  # noqa: E731
    for row, need, why in (("node_anthropic", os.path.join(NODE_MODULES, "@anthropic-ai", "sdk", "package.json"),
                            "npm package @anthropic-ai/sdk not installed (npm install --prefix tests/node)"),
                           ("agent_claude", CLAUDE, "@anthropic-ai/claude-code not installed (npm install --prefix tests/node)"),
                           ("agent_gemini", GEMINI, "@google/gemini-cli not installed (npm install --prefix tests/node)"),
                           ("bun_fetch", BUN, "@oven/bun-linux-x64 not installed (npm install --prefix tests/node)")):
        if not have(need):
            c.skip[row] = why
    if not shutil.which("node"):
        for row in ("node_anthropic", "agent_gemini"):
            c.skip[row] = "node not installed"
    for tool, rows in (("java", ("tls_java_h1", "tls_java_h2", "tls_java_urlconn")), ("wget", ("tls_wget",)),
                       ("gnutls-cli", ("tls_gnutls_cli",)), ("git", ("tls_git",)), ("erl", ("tls_erlang",))):
        if not shutil.which(tool):
            for row in rows:
                c.skip.setdefault(row, "%s not installed" % tool)

def runner_for(row):
    for key in sorted(RUNNERS, key=len, reverse=True):
        if row == key or row.startswith(key + "_") or row.startswith(key):
            return RUNNERS[key]
    raise KeyError(row)


# ---------------------------------------------------------------------------------------
# Judging
# ---------------------------------------------------------------------------------------
def judge(t, c, label, mode, res, expected):
    """Emit the evidence assertions and return (outcome, evidence text)."""
    if getattr(res, "judge", None):  # rows that judge their own evidence (agent CLIs, untouched TLS stacks)
        return res.judge(t, c, label, mode, res, expected)
    w = c.w
    recs = w.records()  # the program has exited: its recorder flushed
    new_mock = c.mock_total() - c.before
    r = res.r
    prompts = res.prompts or [res.prompt] * res.n
    want_text = sorted(prompts)
    got_prompts = sorted(a.get("prompt", res.prompt) for a in res.answers)
    answers_ok = (r.returncode == 0 and len(res.answers) == res.n and got_prompts == want_text and
                  all(a.get("status") == 200 and str(a.get("text", "")).startswith("Mock answer ") and
                      (" to: " + a.get("prompt", res.prompt)) in a.get("text", "") for a in res.answers))
    detail = "rc=%s\nstdout=%s\nstderr=%s" % (r.returncode, r.stdout[-1500:], r.stderr[-1500:])

    def rec_ok(x):
        p_words = len(prompts[0].split())
        return (x.get("host") == res.host and x.get("model_req") == res.model and x.get("status") == 200 and
                (res.provider is None or x.get("provider") == res.provider) and
                x.get("tok_in") == p_words + 4 and x.get("tok_out") == REPLY_WORDS)

    recs_ok = len(recs) == res.n and all(rec_ok(x) for x in recs)
    direct = (not res.tls) or (res.peers == {res.real})
    short_recs = [(x.get("host"),) + ((x.get("provider"),) if res.provider is not None else ()) +
                  (x.get("model_req"), x.get("status"), x.get("tok_in"), x.get("tok_out")) for x in recs]

    # The app's bodies are the server's, byte for byte (de-chunked, decompressed):
    # every cell whose app reports them, in both modes (gateway mode must be
    # transparent too; observe mode changes nothing at all).
    sent = c.sent[c.sent_mark:]
    if res.answers and not res.refuses and all(isinstance(a.get("raw"), str) for a in res.answers):
        if res.parsed:
            def canon(b):
                try:
                    return json.dumps(json.loads(b), sort_keys=True)
                except ValueError:
                    return "not JSON: %r" % b[:200]
            got = sorted(canon(a["raw"]) for a in res.answers)
            want = sorted(canon(e["body"]) for e in sent)
            what = "the object the app was handed is the JSON the server sent"
        else:
            got = sorted(a["raw"].encode("utf-8", "surrogateescape") for a in res.answers)
            want = sorted(e["body"] for e in sent)
            what = "the app's bod%s byte for byte what the server sent (%d bytes)" % (
                "ies are" if len(got) > 1 else "y is", sum(map(len, want)))
        det = "%d bodies received, %d sent" % (len(got), len(want))
        if len(got) == len(want) and got != want and not res.parsed:
            det = first_difference(*next((g, w_) for g, w_ in zip(got, want) if g != w_))
        elif got != want:
            det += "\n got:  %s\n want: %s" % (got, want)
        res.checks.append((got == want, what, det))

    base = getattr(res, "fails_fast", None)
    if base is not None:
        # The app cannot work here, with or without the shim: it must fail at once (the run
        # finished, rc != 0: a hang is killed by the timeout, rc -9), never reach anything.
        failed = r.returncode not in (0, -9) and base.returncode != 0
        t.ok(failed, "%s [%s]: the app fails at once, as without the shim (rc %s; without: rc %s)"
             % (label, mode, r.returncode, base.returncode), detail + "\nwithout the shim: " + base.stdout[-300:])
        t.ok(not recs and new_mock == 0, "%s [%s]: nothing reached the provider, no record" % (label, mode),
             "records %s, provider requests %d" % (short_recs, new_mock))
        outcome = FAILS if failed and not recs and new_mock == 0 else ("hung" if r.returncode == -9 else "broken")
        return outcome, "rc %s: %s; without the shim rc %s: %s" % (
            r.returncode, (r.stdout + r.stderr).strip()[-120:], base.returncode, (base.stdout + base.stderr).strip()[-120:])

    if res.refuses:
        refused = r.returncode == 3 and "pin mismatch" in r.stderr
        t.ok(refused, "%s [%s]: the app refused the gateway's certificate (its pin)" % (label, mode), detail)
        t.ok(not recs and new_mock == 0, "%s [%s]: nothing reached the provider, no record" % (label, mode),
             "records %s, provider requests %d" % (short_recs, new_mock))
        outcome = NOT if refused and not recs and new_mock == 0 else "broken"
        return outcome, "app refused by its pin (exit 3); provider requests: %d; records: %d" % (new_mock, len(recs))

    t.ok(answers_ok, "%s [%s]: the app got the right answer%s" % (label, mode, "s (%d)" % res.n if res.n > 1 else ""),
         detail)
    t.ok(new_mock == res.n, "%s [%s]: the provider received %d request(s)" % (label, mode, res.n),
         "provider got %d" % new_mock)
    for cond, desc, det in res.checks:
        t.ok(cond, "%s [%s]: %s" % (label, mode, desc), det)
    if expected == CAPTURED:
        t.ok(recs_ok, "%s [%s]: %d correct record(s): host %s,%s model %s, exact tokens (%d in, %d out), status 200"
             % (label, mode, res.n, res.host, " provider %s," % res.provider if res.provider is not None else "",
                res.model, len(prompts[0].split()) + 4, REPLY_WORDS), short_recs)
        if res.tls and res.peers:
            if mode == GW:
                t.ok(res.real not in res.peers, "%s [%s]: the app's TLS peer was the gateway" % (label, mode), res.peers)
            else:
                t.ok(res.peers == {res.real}, "%s [%s]: the app saw the server's own certificate (nothing changed)"
                     % (label, mode), res.peers)
    else:
        t.ok(not recs, "%s [%s]: no record" % (label, mode), short_recs)
        if res.tls:
            t.ok(direct, "%s [%s]: the app's TLS peer was the server itself (its own certificate)" % (label, mode),
                 "peers seen %s, server %s" % (res.peers, res.real))

    checks_ok = all(cond for cond, _, _ in res.checks)
    # TLS peer, where the client reports it: the gateway's leaf in gateway mode,
    # the server's own certificate in observe mode (observe changes nothing).
    peer_ok = not (res.tls and res.peers) or (res.real not in res.peers if mode == GW else res.peers == {res.real})
    if not answers_ok:
        outcome = "broken"
        ev = "the app did not get its answer (rc=%s): %s" % (r.returncode, (r.stderr.strip().splitlines() or [""])[-1][:160])
    elif not checks_ok:
        outcome = "unexpected behaviour"
        ev = "; ".join(desc for cond, desc, _ in res.checks if not cond) + " did not hold"
    elif recs_ok and new_mock == res.n and peer_ok:
        outcome = CAPTURED
        ev = "%d record(s) %s" % (len(recs), short_recs[0])
    elif not recs and new_mock == res.n and direct:
        outcome = NOT
        ev = "answered directly by the server%s; no record" % (" (its own certificate)" if res.tls else "")
    elif not recs:
        outcome = "not captured, unproven"
        ev = "no record, but not proved direct: peers %s, provider requests %d" % (sorted(res.peers), new_mock)
    else:
        outcome = "wrong record"
        ev = "records %s (want %d for host %s)" % (short_recs, res.n, res.host)
    return outcome, ev


def skip(t, reason, what):
    t.n += 1
    print("ok %d - # SKIP %s" % (t.n, reason), flush=True)
    t.diag("  (%s)" % what)


def tool_of(row):
    """The program a row runs (for availability checks)."""
    for prefix, tool in (("curl_", "curl"), ("proxy_curl", "curl"), ("php_", "php"), ("rb_", "ruby"),
                         ("node_", "node"), ("sock_", "compat_sock"), ("go", "go")):
        if row.startswith(prefix):
            return tool
    return "python"


def sanitizer_preflight(c):
    """Under tests/run.py's sanitizer pass the sanitizer runtime is preloaded
    before the shim (HC_PRELOAD_FIRST). Some programs cannot run with it at all
    (PHP dlopens with RTLD_DEEPBIND, which ASan refuses); a program that fails a
    plain request with the runtime alone, without the shim, is skipped there."""
    first = os.environ.get("HC_PRELOAD_FIRST")
    if not first:
        return
    url = c.w.http.url + "/__mock/health"
    probes = {
        "curl": ["curl", "-sS", "-m", "8", url],
        "php": ["php", "-r", "echo file_get_contents('%s');" % url],
        "ruby": ["ruby", "-rnet/http", "-e", "puts Net::HTTP.get(URI('%s'))" % url],
        "node": ["node", "-e", "fetch('%s').then(r => r.text()).then(console.log)" % url],
        "python": [PYTHON, "-c", "import urllib.request; print(urllib.request.urlopen('%s').read())" % url],
        "compat_sock": [c.sock_bin, "connect", "127.0.0.1", str(c.w.http.port), "0"],
    }
    env = c.w.env(LD_PRELOAD=first, ASAN_OPTIONS="detect_leaks=0")
    for tool, argv in probes.items():
        try:
            ok = subprocess.run(argv, env=env, capture_output=True, timeout=10).returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            ok = False
        if not ok:
            for row, _, _ in EXPECT:
                if tool_of(row) == tool:
                    c.skip.setdefault(row, "%s does not run with the sanitizer runtime preloaded, even without the shim" % tool)


def setup(c):
    """Extra servers and binaries; each missing piece only skips its rows."""
    w = c.w
    c.real = fp_of_pem(w.pki["cert"])
    c.skip = {}
    # the plain mock on ::1 too, same port, same state (IPv6 endpoint, happy eyeballs)
    c.v6 = None
    try:
        c.v6 = MockProvider(tls=False, host="::1", port=w.http.port, share=w.http).start()
    except OSError as e:
        for row in ("sock_v6", "sock_race_lit"):
            c.skip[row] = "no IPv6 loopback here (%s)" % e
    # an HTTP/2-only server (python3-h2) in front of the plain mock
    c.h2 = None
    try:
        c.h2 = H2Server(w.pki["cert"], w.pki["key"], w.http.port)
    except ImportError:
        for row in ("curl_h2server", "py_httpx_h2server"):
            c.skip[row] = "python3-h2 not installed"
    # a provider with a certificate for the providers' own names, reached through a CONNECT
    # proxy (api.openai.com) or by the app's own resolution of the name (api.anthropic.com)
    cert, key = make_cert(w.pki, ["api.openai.com", "api.anthropic.com"], os.path.join(c.tmp, "oa"))
    c.real_oa = fp_of_pem(cert)
    c.mock_oa = MockProvider(tls=True, certfile=cert, keyfile=key, share=w.mock).start()
    c.proxy = ConnectProxy({"api.openai.com:443": ("127.0.0.1", c.mock_oa.port)})
    tap_sent(c, *[m for m in (w.mock, w.http, c.v6, c.mock_oa) if m])
    # the C program
    c.sock_bin = os.path.join(c.tmp, "compat_sock")
    cc = shutil.which("cc") or shutil.which("gcc")
    msg = "no C compiler"
    if cc:
        r = subprocess.run([cc, "-O1", "-o", c.sock_bin, os.path.join(CLIENTS, "compat_sock.c"), "-lssl", "-lcrypto",
                            "-lanl"], capture_output=True, text=True)
        msg = "cannot compile compat_sock.c: " + r.stderr.strip()[-200:]
        if r.returncode == 0:
            msg = None
    if msg:
        for row, _, _ in EXPECT:
            if row.startswith("sock_"):
                c.skip.setdefault(row, msg)
    # Node
    node = shutil.which("node")
    for row, _, _ in EXPECT:
        if row.startswith("node_"):
            if not node:
                c.skip[row] = "node not installed"
            elif row.startswith("node_openai") and not os.path.isfile(
                    os.path.join(NODE_DIR, "node_modules", "openai", "package.json")):
                c.skip[row] = "node/npm package not installed"
    setup_agents(c)
    sanitizer_preflight(c)
    # Go: a static-TLS program, if a toolchain is here
    go = shutil.which("go")
    if not go:
        c.skip["go"] = "no Go toolchain on this machine"
    else:
        src = os.path.join(c.tmp, "gocli", "main.go")
        os.makedirs(os.path.dirname(src))
        with open(src, "w") as f:
            f.write(GO_SRC)
        c.go_bin = os.path.join(c.tmp, "gocli", "gocli")
        r = subprocess.run([go, "build", "-o", c.go_bin, src], capture_output=True, text=True, cwd=os.path.dirname(src),
                           env=dict(os.environ, CGO_ENABLED="0", GOTOOLCHAIN="local",
                                    GOCACHE=os.path.join(c.tmp, "gocache")))
        if r.returncode != 0:
            c.skip["go"] = "go build failed: " + r.stderr.strip()[-200:]
    # a library with its own OpenSSL (tests/lib/bundled_openssl.py)
    c.bundled = os.path.join(c.tmp, "bundled")
    why = bundled_openssl.build(c.bundled)
    if why:
        c.skip["bundled_openssl"] = why
    # ... whose own call goes to a server that is not an LLM host in any mode (a database, say)
    cert, key = make_cert(w.pki, ["db.internal"], os.path.join(c.tmp, "db"))
    c.local_tls = MockProvider(tls=True, certfile=cert, keyfile=key).start()
    # Go with cgo (its lookups go through the hooked getaddrinfo)
    if not go:
        c.skip["go_cgo"] = "no Go toolchain on this machine"
    elif not (shutil.which("cc") or shutil.which("gcc")):
        c.skip["go_cgo"] = "no C compiler for cgo"
    elif "go" not in c.skip:
        c.go_cgo_bin = os.path.join(c.tmp, "gocli", "gocgo")
        r = subprocess.run([go, "build", "-o", c.go_cgo_bin, os.path.join(c.tmp, "gocli", "main.go")],
                           capture_output=True, text=True, cwd=os.path.join(c.tmp, "gocli"),
                           env=dict(os.environ, CGO_ENABLED="1", GOTOOLCHAIN="local",
                                    GOCACHE=os.path.join(c.tmp, "gocache")))
        if r.returncode != 0:
            c.skip["go_cgo"] = "go build (cgo) failed: " + r.stderr.strip()[-200:]
    else:
        c.skip["go_cgo"] = c.skip["go"]
    for tool, rows in (("ruby", ("rb_nethttp",)), ("php", ("php_curl", "php_stream")),
                       ("curl", [x for x, _, _ in EXPECT if x.startswith("curl_")] + ["proxy_curl"])):
        if not shutil.which(tool):
            for row in rows:
                c.skip.setdefault(row, "%s not installed" % tool)
    for mod, deb, rows in (("requests", "python3-requests", ("py_requests", "proxy_requests", "obs_sse", "obs_keepalive",
                                                            "obs_anthropic")),
                           ("httpx", "python3-httpx", ("py_httpx", "py_httpx_async", "py_httpx_h2", "py_httpx_h2server",
                                                       "py_httpx_bind")),
                           ("h2", "python3-h2", ("py_httpx_h2", "py_httpx_h2server", "curl_h2server")),
                           ("aiohttp", "python3-aiohttp", ("py_aiohttp",))):
        if subprocess.run([PYTHON, "-c", "import " + mod], capture_output=True).returncode != 0:
            for row in rows:
                c.skip.setdefault(row, "%s not installed" % deb)


def main():
    t = TAP()
    results = []
    t0 = time.monotonic()
    with World() as w:
        c = Ctx()
        c.w = w
        c.tmp = os.path.join(w.dir, "compat")
        os.makedirs(c.tmp)
        extra = []
        try:
            setup(c)
            extra = [m for m in (c.v6, c.mock_oa, getattr(c, "local_tls", None)) if m]
            c.mock_total = lambda: len(w.mock.requests) + len(w.http.requests)
            seq = 0
            for row, label, modes in EXPECT:
                for mode in (GW, OBS):
                    if mode not in modes:
                        continue
                    expected, reason = modes[mode]
                    entry = {"id": row, "program": label, "mode": mode, "expected": expected, "expected_reason": reason}
                    if row in c.skip:
                        skip(t, c.skip[row], "%s [%s]" % (label, mode))
                        entry.update(outcome=SKIPPED, reason=c.skip[row], ok=True, evidence="")
                        results.append(entry)
                        continue
                    seq += 1
                    prompt = "compat check row %d" % seq  # unique per cell: the answer proves it is this call's
                    w.reset_store()
                    c.before = c.mock_total()
                    c.sent_mark = len(c.sent)
                    started = time.monotonic()
                    try:
                        res = runner_for(row)(c, mode, prompt, row)
                    except subprocess.TimeoutExpired as e:
                        res = Result(subprocess.CompletedProcess(e.cmd, -9, "", "timed out"), [], "", False)
                    except Exception as e:  # a broken runner is a failed cell, not a crashed matrix
                        res = Result(subprocess.CompletedProcess([], -1, "", "runner error: %r" % e), [], "", False)
                    res.prompt = prompt
                    outcome, evidence = judge(t, c, label, mode, res, expected)
                    ok = t.ok(outcome == expected, "%s [%s]: %s%s" % (label, mode, expected, (" — " + reason) if reason else ""),
                              "actual outcome: %s (%s)" % (outcome, evidence))
                    entry.update(outcome=outcome, ok=ok, evidence=evidence, seconds=round(time.monotonic() - started, 2),
                                 reason=reason if ok else "expected %s; got: %s" % (expected, evidence))
                    results.append(entry)
        finally:
            for m in extra:
                m.stop()
            for s in (getattr(c, "h2", None), getattr(c, "proxy", None)):
                if s:
                    s.stop()
    os.makedirs(os.path.dirname(ARTIFACT), exist_ok=True)
    doc = {"date": datetime.date.today().isoformat(), "generated_by": "tests/integ/test_compat.py",
           "build": os.path.relpath(os.path.dirname(SHIM), ROOT),
           "seconds": round(time.monotonic() - t0, 1), "rows": results}
    tmp = ARTIFACT + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=1, ensure_ascii=False)
        f.write("\n")
    os.replace(tmp, ARTIFACT)
    bad = [x for x in results if not x["ok"]]
    t.diag("compat matrix: %d cells, %d as expected, %d differ; %.1fs; written to %s"
           % (len(results), len(results) - len(bad), len(bad), time.monotonic() - t0, os.path.relpath(ARTIFACT, ROOT)))
    for x in bad:
        t.diag("  differs: %s [%s]: expected %s, got %s" % (x["program"], x["mode"], x["expected"], x["outcome"]))
    readme_matches(t, doc)
    return t.done()


def readme_matches(t, doc):
    """The README's table says what this run found, for every cell this
    machine could run (a skipped cell proves nothing either way)."""
    if os.environ.get("HC_PRELOAD_FIRST"):
        return  # the sanitizer run writes its own results file
    sys.path.insert(0, os.path.join(ROOT, "scripts"))
    import compat_table  # noqa: E402
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        text = f.read()
    b, e = text.find(compat_table.BEGIN), text.find(compat_table.END)
    readme_rows = set(text[b:e].splitlines()) if 0 <= b < e else set()
    ran = {"rows": [r for r in doc["rows"] if r["outcome"] != "skipped"]}
    ran_programs = {r["program"] for r in ran["rows"]}
    want = [line for line in compat_table.block(doc).splitlines()
            if line.startswith("| ") and line.split(" | ")[0][2:] in {p.replace("|", "\\|") for p in ran_programs}]
    stale = [line for line in want if line not in readme_rows and "skipped" not in line]
    t.ok(b >= 0 and not stale, "README compatibility table matches this run for every program run here "
         "(else: scripts/compat_table.py)", "\n".join(stale[:5]))


if __name__ == "__main__":
    sys.exit(main())
