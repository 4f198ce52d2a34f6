#!/usr/bin/python3
"""test_mock.py — tests of the mock LLM provider and the test PKI themselves.

Runs without the shim: plain stdlib clients (http.client, raw sockets, ssl)
against tests/mock/mock_provider.py, over HTTP and HTTPS verified against a CA
made by tests/mock/pki.py. Expected token numbers are computed here from the
rule documented in tests/mock/README.md, independently of the mock's code.

Output is TAP: "ok N - ..." / "not ok N - ...", then "# N passed, N failed";
the exit status is 1 if anything failed.
"""
import base64
import gzip
import http.client
import json
import os
import re
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "mock"))

from mock_provider import MockProvider  # noqa: E402
from pki import make_cert, make_pki    # noqa: E402

try:
    import brotli
except ImportError:
    brotli = None

OPENAI_KEY = {"Authorization": "Bearer sk-test-mock"}
ANTHROPIC_KEY = {"x-api-key": "sk-ant-test-mock", "anthropic-version": "2023-06-01"}
GEMINI_KEY = {"x-goog-api-key": "test-gemini-key"}


# --------------------------------------------------------------------------------------
# TAP
# --------------------------------------------------------------------------------------

class Tap:
    def __init__(self):
        self.n = self.passed = self.failed = 0

    def ok(self, cond, name, diag=None):
        self.n += 1
        if cond:
            self.passed += 1
            print("ok %d - %s" % (self.n, name))
        else:
            self.failed += 1
            print("not ok %d - %s" % (self.n, name))
            if diag:
                for line in str(diag).splitlines()[:20]:
                    print("#   " + line)
        sys.stdout.flush()
        return bool(cond)

    def eq(self, got, want, name):
        return self.ok(got == want, name, "got:  %r\nwant: %r" % (got, want))

    def finish(self):
        print("# %d passed, %d failed" % (self.passed, self.failed))
        return 1 if self.failed else 0


T = Tap()
TESTS = []


def test(fn):
    """Register a test group; an exception in it is one failing assertion, not a crash."""
    TESTS.append(fn)
    return fn


# --------------------------------------------------------------------------------------
# The token rule, computed independently of the mock
# --------------------------------------------------------------------------------------

def nwords(s):
    return len(s.split())


def rule_prompt(*unit_texts):
    """Prompt tokens: words of each message unit + 4 per unit."""
    return sum(nwords(u) + 4 for u in unit_texts)


def expected_reply(n, last_user, count=12):
    pad = ["lorem", "ipsum", "dolor", "sit", "amet"]
    w = (["Mock", "answer", str(n), "to:"] + last_user.split())[:count]
    w += [pad[i % 5] for i in range(count - len(w))]
    return " ".join(w)


# --------------------------------------------------------------------------------------
# Clients
# --------------------------------------------------------------------------------------

class Env:
    """The shared fixtures: a PKI, an HTTP mock and an HTTPS mock."""
    tmp = tempfile.mkdtemp(prefix="hc-mock-test-")
    pki = make_pki(os.path.join(tmp, "pki"))
    ctx = ssl.create_default_context(cafile=pki["ca"])
    # For raw sockets: an EOF without close_notify is an error (Python's default
    # context ignores it), so a polite close can be told from an abrupt one.
    strict_ctx = ssl.create_default_context(cafile=pki["ca"])
    strict_ctx.options &= ~ssl.OP_IGNORE_UNEXPECTED_EOF
    http = MockProvider().start()
    https = MockProvider(tls=True, certfile=pki["cert"], keyfile=pki["key"]).start()
    both = (http, https)


class Endpoint:
    """Where a mock listens, for one run in another process (host, port, tls like MockProvider)."""
    def __init__(self, port, tls):
        self.host, self.port, self.tls = "127.0.0.1", port, tls


def connect(m, timeout=10):
    if m.tls:
        return http.client.HTTPSConnection(m.host, m.port, context=Env.ctx, timeout=timeout)
    return http.client.HTTPConnection(m.host, m.port, timeout=timeout)


def call(m, method, path, body=None, headers=None, conn=None):
    """One request; returns (status, {lower-case header: value}, body bytes as sent)."""
    c = conn or connect(m)
    data = json.dumps(body).encode() if isinstance(body, (dict, list)) else body
    h = {"Content-Type": "application/json"} if data is not None else {}
    h.update(headers or {})
    c.request(method, path, data, h)
    r = c.getresponse()
    out = r.read()
    hdrs = {k.lower(): v for k, v in r.getheaders()}
    if conn is None:
        c.close()
    return r.status, hdrs, out


def call_json(m, method, path, body=None, headers=None):
    status, hdrs, out = call(m, method, path, body, headers)
    return status, hdrs, json.loads(out) if out else None


def raw_socket(m, timeout=3):
    """A connected socket; under TLS an EOF without close_notify raises (SSLEOFError)
    instead of reading as a clean end. The mock answers in milliseconds, so a short
    timeout only shortens failures (a connection the mock wrongly keeps open)."""
    s = socket.create_connection((m.host, m.port), timeout=timeout)
    if m.tls:
        s = Env.strict_ctx.wrap_socket(s, server_hostname=m.host, suppress_ragged_eofs=False)
    return s


def raw_request(method, path, body=None, headers=None, host="api.test"):
    data = json.dumps(body).encode() if isinstance(body, (dict, list)) else (body or b"")
    h = {"Host": host, "Content-Length": str(len(data)), "Connection": "close"}
    if body is not None:
        h["Content-Type"] = "application/json"
    h.update(headers or {})
    head = "%s %s HTTP/1.1\r\n" % (method, path) + "".join("%s: %s\r\n" % kv for kv in h.items())
    return head.encode() + b"\r\n" + data


def read_all(s):
    """Read until EOF; returns (bytes, error or None). A TLS EOF without close_notify
    and a TCP reset are errors; a clean FIN / close_notify is not."""
    chunks = []
    try:
        while True:
            d = s.recv(65536)
            if not d:
                return b"".join(chunks), None
            chunks.append(d)
    except (OSError, ssl.SSLError) as e:
        return b"".join(chunks), e


def raw_exchange(m, method, path, body=None, headers=None):
    s = raw_socket(m)
    s.sendall(raw_request(method, path, body, headers))
    data, err = read_all(s)
    s.close()
    return data, err


def split_response(data):
    """(status, {lower-case header: value}, body bytes) of raw response bytes."""
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    hdrs = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    return status, hdrs, body


def dechunk(body):
    """(list of chunk payloads, saw the terminating zero chunk) of a chunked body."""
    chunks, pos = [], 0
    while pos < len(body):
        eol = body.find(b"\r\n", pos)
        if eol < 0:
            break
        size = int(body[pos:eol], 16)
        if size == 0:
            return chunks, True
        chunks.append(body[eol + 2:eol + 2 + size])
        pos = eol + 2 + size + 2
    return chunks, False


def sse_data(payloads, sep=b"\n\n"):
    """JSON objects of "data: ..." events (skipping [DONE])."""
    out = []
    for p in payloads:
        for ev in p.split(sep):
            for line in ev.split(b"\n"):
                line = line.rstrip(b"\r")
                if line.startswith(b"data: ") and line != b"data: [DONE]":
                    out.append(json.loads(line[6:]))
    return out


def chat_body(text="hello there how are you", model="gpt-4o-mini", **kw):
    body = {"model": model, "messages": [{"role": "system", "content": "be brief"},
                                         {"role": "user", "content": text}]}
    body.update(kw)
    return body


def anthropic_body(text="hi claude what is up", **kw):
    body = {"model": "claude-sonnet-4-5", "max_tokens": 256, "system": "be nice",
            "messages": [{"role": "user", "content": text}]}
    body.update(kw)
    return body


def fresh():
    for m in Env.both:
        m.reset()


def label(m):
    return "https" if m.tls else "http"


def wait_threads(baseline, timeout=5.0):
    deadline = time.monotonic() + timeout
    while threading.active_count() > baseline and time.monotonic() < deadline:
        time.sleep(0.02)
    return threading.active_count()


# --------------------------------------------------------------------------------------
# PKI
# --------------------------------------------------------------------------------------

def x509_text(path):
    return subprocess.run(["openssl", "x509", "-in", path, "-noout", "-text"],
                          capture_output=True, text=True).stdout


def openssl_verify(ca, cert):
    return subprocess.run(["openssl", "verify", "-x509_strict", "-purpose", "sslserver",
                           "-CAfile", ca, cert], capture_output=True, text=True).returncode


@test
def pki_files():
    p = Env.pki
    T.ok(all(os.path.exists(p[k]) for k in ("ca", "ca_key", "cert", "key")), "pki: make_pki writes ca, ca_key, cert, key")
    T.eq(os.stat(p["key"]).st_mode & 0o777, 0o600, "pki: private key is mode 0600")
    T.eq(openssl_verify(p["ca"], p["cert"]), 0, "pki: leaf verifies (x509_strict, sslserver) against the CA")
    ca = x509_text(p["ca"])
    T.ok("CA:TRUE" in ca and "Certificate Sign" in ca, "pki: CA has CA:TRUE and keyCertSign", ca)
    leaf = x509_text(p["cert"])
    T.ok("TLS Web Server Authentication" in leaf, "pki: leaf has serverAuth EKU")
    T.ok("DNS:localhost" in leaf and "IP Address:127.0.0.1" in leaf
         and "IP Address:0:0:0:0:0:0:0:1" in leaf, "pki: leaf SANs (localhost, 127.0.0.1 and ::1 as IP SANs)", leaf)
    T.ok("CA:FALSE" in leaf, "pki: leaf is not a CA")


@test
def pki_make_cert():
    cert, key = make_cert(Env.pki, ["other.test", "10.1.2.3"], os.path.join(Env.tmp, "pki"))
    T.eq(openssl_verify(Env.pki["ca"], cert), 0, "pki: make_cert leaf verifies against the same CA")
    text = x509_text(cert)
    T.ok("DNS:other.test" in text and "IP Address:10.1.2.3" in text, "pki: make_cert SANs", text)
    with MockProvider(tls=True, certfile=cert, keyfile=key) as m:
        s = Env.ctx.wrap_socket(socket.create_connection(("127.0.0.1", m.port), timeout=5),
                                server_hostname="other.test")
        s.sendall(raw_request("GET", "/__mock/health"))
        data, _ = read_all(s)
        s.close()
        T.ok(data.startswith(b"HTTP/1.1 200"), "pki: Python ssl accepts the make_cert leaf for other.test")
        s = socket.create_connection(("127.0.0.1", m.port), timeout=5)
        try:
            Env.ctx.wrap_socket(s, server_hostname="localhost")
            T.ok(False, "pki: hostname not in the SANs is rejected")
        except ssl.SSLCertVerificationError:
            T.ok(True, "pki: hostname not in the SANs is rejected")
        finally:
            s.close()


# --------------------------------------------------------------------------------------
# OpenAI
# --------------------------------------------------------------------------------------

@test
def openai_chat_plain():
    for m in Env.both:
        fresh()
        status, h, raw = call(m, "POST", "/v1/chat/completions", chat_body(), OPENAI_KEY)
        L = "openai chat plain (%s): " % label(m)
        T.eq(status, 200, L + "status 200")
        T.eq(h.get("content-length"), str(len(raw)), L + "Content-Length matches the body")
        T.ok("transfer-encoding" not in h, L + "not chunked")
        T.ok(h.get("content-type", "").startswith("application/json"), L + "JSON content type")
        T.ok(h.get("x-request-id", "").startswith("req_"), L + "x-request-id header")
        T.ok(raw.startswith(b'{\n  "id": "chatcmpl-'), L + "indented JSON as OpenAI sends it", raw[:40])
        r = json.loads(raw)
        T.eq((r["object"], r["model"]), ("chat.completion", "gpt-4o-mini-2025-01-01"), L + "object and dated model")
        ch = r["choices"][0]
        T.eq((ch["index"], ch["message"]["role"], ch["message"]["refusal"], ch["logprobs"], ch["finish_reason"]),
             (0, "assistant", None, None, "stop"), L + "choice fields")
        T.eq(ch["message"]["content"], expected_reply(1, "hello there how are you"), L + "reply text from the prompt")
        p = rule_prompt("be brief", "hello there how are you")
        u = r["usage"]
        T.eq((u["prompt_tokens"], u["completion_tokens"], u["total_tokens"]), (p, 12, p + 12), L + "usage follows the token rule")
        T.eq(u["prompt_tokens_details"], {"cached_tokens": 0, "audio_tokens": 0}, L + "prompt_tokens_details")
        T.eq(u["completion_tokens_details"], {"reasoning_tokens": 0, "audio_tokens": 0,
                                              "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0},
             L + "completion_tokens_details")
        T.ok(r["system_fingerprint"].startswith("fp_") and r["service_tier"] == "default"
             and isinstance(r["created"], int), L + "fingerprint, service_tier, created")


@test
def openai_chat_stream():
    for m in Env.both:
        fresh()
        data, err = raw_exchange(m, "POST", "/v1/chat/completions", chat_body(stream=True), OPENAI_KEY)
        L = "openai chat stream (%s): " % label(m)
        T.ok(err is None, L + "connection ends cleanly", err)
        status, h, body = split_response(data)
        T.eq((status, h.get("transfer-encoding")), (200, "chunked"), L + "200, chunked")
        T.ok(h.get("content-type", "").startswith("text/event-stream"), L + "event-stream content type")
        chunks, complete = dechunk(body)
        T.ok(complete, L + "terminating zero chunk")
        T.ok(all(re.fullmatch(rb"data: [^\n]+\n\n", c) for c in chunks), L + "one SSE event per HTTP chunk")
        T.eq(chunks[-1], b"data: [DONE]\n\n", L + "ends with data: [DONE]")
        objs = sse_data(chunks)
        T.eq(objs[0]["choices"][0]["delta"], {"role": "assistant", "content": "", "refusal": None}, L + "first chunk carries the role")
        T.ok(all(o["object"] == "chat.completion.chunk" and "usage" not in o for o in objs), L + "chunk objects, no usage key")
        text = "".join(o["choices"][0]["delta"].get("content", "") for o in objs)
        T.eq(text, expected_reply(1, "hello there how are you"), L + "deltas concatenate to the reply")
        T.eq(len(objs), 12 + 2, L + "one chunk per word plus role and finish chunks")
        T.eq(objs[-1]["choices"][0]["finish_reason"], "stop", L + "final chunk has finish_reason")
        T.eq(len({(o["id"], o["created"], o["system_fingerprint"]) for o in objs}), 1, L + "same id/created/fingerprint in every chunk")
        T.ok(b'":' in chunks[1] and b'": ' not in chunks[1], L + "compact JSON separators")


@test
def openai_include_usage():
    m = Env.http
    fresh()
    with_usage, _ = raw_exchange(m, "POST", "/v1/chat/completions",
                                 chat_body(stream=True, stream_options={"include_usage": True}), OPENAI_KEY)
    fresh()
    without, _ = raw_exchange(m, "POST", "/v1/chat/completions", chat_body(stream=True), OPENAI_KEY)
    cw, _ = dechunk(split_response(with_usage)[2])
    cn, _ = dechunk(split_response(without)[2])
    objs = sse_data(cw)
    T.ok(all("usage" in o for o in objs), "include_usage: every chunk has a usage key")
    T.ok(all(o["usage"] is None for o in objs[:-1]), "include_usage: usage is null except in the last chunk")
    last = objs[-1]
    p = rule_prompt("be brief", "hello there how are you")
    T.eq((last["choices"], last["usage"]["prompt_tokens"], last["usage"]["completion_tokens"]), ([], p, 12),
         "include_usage: usage-only chunk with empty choices and the rule's numbers")
    T.eq(cw[-1], b"data: [DONE]\n\n", "include_usage: [DONE] after the usage chunk")
    stripped = b"".join(c.replace(b',"usage":null', b"") for c in cw if b'"choices":[]' not in c)
    T.eq(stripped, b"".join(cn), "include_usage: stream minus usage fields equals the stream without include_usage")
    again, _ = raw_exchange(m, "POST", "/v1/chat/completions", chat_body(stream=True), OPENAI_KEY)
    T.ok(sse_data(dechunk(split_response(again)[2])[0])[0]["id"] != sse_data(cn)[0]["id"],
         "include_usage: a later identical request gets a new id (counter)")


@test
def openai_deterministic():
    m = Env.http
    bodies = []
    for _ in range(2):
        fresh()
        bodies.append(call(m, "POST", "/v1/chat/completions", chat_body(), OPENAI_KEY)[2])
    T.eq(bodies[0], bodies[1], "determinism: same request after reset gives identical bytes")


@test
def openai_auth_and_errors():
    for m in Env.both:
        fresh()
        L = "openai errors (%s): " % label(m)
        status, h, raw = call(m, "POST", "/v1/chat/completions", chat_body())
        T.eq(status, 401, L + "401 without Authorization")
        err = json.loads(raw).get("error", {})
        T.ok(set(err) == {"message", "type", "param", "code"} and err["type"] == "invalid_request_error",
             L + "OpenAI error shape", raw)
        T.ok(raw.startswith(b'{\n    "error": {'), L + "error body indented by 4 as OpenAI sends it")
        status, _, _ = call(m, "POST", "/v1/chat/completions", chat_body(), {"Authorization": "Basic abc"})
        T.eq(status, 401, L + "401 with a non-Bearer Authorization")
        status, _, body = call_json(m, "POST", "/v1/chat/completions", b"{not json", OPENAI_KEY)
        T.eq((status, body["error"]["type"]), (400, "invalid_request_error"), L + "400 on a bad JSON body")
        T.eq(m.count(), 3, L + "failed requests are still recorded")


@test
def openai_responses_api():
    for m in Env.both:
        fresh()
        L = "responses (%s): " % label(m)
        body = {"model": "gpt-4.1", "instructions": "talk like a pirate",
                "input": [{"role": "user", "content": [{"type": "input_text", "text": "where is the treasure"}]}]}
        status, _, r = call_json(m, "POST", "/v1/responses", body, OPENAI_KEY)
        p = rule_prompt("talk like a pirate", "where is the treasure")
        T.eq((status, r["object"], r["status"], r["model"]), (200, "response", "completed", "gpt-4.1-2025-01-01"),
             L + "plain: object, status, dated model")
        T.ok(r["id"].startswith("resp_") and r["output"][0]["type"] == "message", L + "plain: id and message output")
        T.eq(r["output"][0]["content"][0]["text"], expected_reply(1, "where is the treasure"), L + "plain: output_text")
        T.eq(r["usage"], {"input_tokens": p, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": 12,
                          "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": p + 12},
             L + "plain: usage (instructions count as a unit)")
        data, _ = raw_exchange(m, "POST", "/v1/responses", dict(body, stream=True), OPENAI_KEY)
        chunks, complete = dechunk(split_response(data)[2])
        T.ok(complete and all(re.fullmatch(rb"event: [a-z_.]+\ndata: [^\n]+\n\n", c) for c in chunks),
             L + "stream: one 'event:/data:' SSE event per chunk")
        evs = [json.loads(c.split(b"\ndata: ", 1)[1]) for c in chunks]
        names = [e["type"] for e in evs]
        T.eq(names[:4] + names[-4:], ["response.created", "response.in_progress", "response.output_item.added",
                                      "response.content_part.added", "response.output_text.done",
                                      "response.content_part.done", "response.output_item.done",
                                      "response.completed"], L + "stream: event order")
        T.eq([e["sequence_number"] for e in evs], list(range(len(evs))), L + "stream: sequence numbers")
        T.ok(all(c.startswith(b"event: " + e["type"].encode() + b"\n") for c, e in zip(chunks, evs)),
             L + "stream: event name matches type")
        text = "".join(e["delta"] for e in evs if e["type"] == "response.output_text.delta")
        T.eq(text, expected_reply(2, "where is the treasure"), L + "stream: deltas concatenate to the reply")
        T.eq(evs[-1]["response"]["usage"]["input_tokens"], p, L + "stream: response.completed carries usage")
        T.eq(evs[0]["response"]["usage"], None, L + "stream: response.created has usage null")


@test
def openai_embeddings():
    m = Env.http
    fresh()
    status, _, r = call_json(m, "POST", "/v1/embeddings",
                             {"model": "text-embedding-3-small", "input": ["one two three", "four"]}, OPENAI_KEY)
    T.eq(status, 200, "embeddings: status 200")
    T.eq((r["object"], r["model"], len(r["data"])), ("list", "text-embedding-3-small", 2), "embeddings: list, model echoed, two items")
    v = r["data"][0]["embedding"]
    T.eq(len(v), 1536, "embeddings: 1536 dimensions by default")
    T.ok(abs(sum(x * x for x in v) - 1.0) < 1e-6, "embeddings: unit vectors")
    T.eq(r["usage"], {"prompt_tokens": 4, "total_tokens": 4}, "embeddings: usage is the words of the inputs")
    _, _, r2 = call_json(m, "POST", "/v1/embeddings", {"model": "text-embedding-3-small", "input": "one two three",
                                                       "encoding_format": "base64", "dimensions": 8}, OPENAI_KEY)
    raw = base64.b64decode(r2["data"][0]["embedding"])
    T.eq(len(raw), 8 * 4, "embeddings: base64 float32 with the requested dimensions")
    _, _, r3 = call_json(m, "POST", "/v1/embeddings", {"model": "text-embedding-3-small", "input": "one two three",
                                                       "dimensions": 8}, OPENAI_KEY)
    T.ok(all(abs(a - b) < 1e-6 for a, b in zip(struct.unpack("<8f", raw), r3["data"][0]["embedding"])),
         "embeddings: deterministic vectors, base64 matches floats")


@test
def openai_legacy_completions():
    for m in Env.both:
        fresh()
        L = "completions (%s): " % label(m)
        body = {"model": "gpt-3.5-turbo-instruct", "prompt": "say this is a test", "max_tokens": 50}
        status, _, r = call_json(m, "POST", "/v1/completions", body, OPENAI_KEY)
        T.eq((status, r["object"], r["model"]), (200, "text_completion", "gpt-3.5-turbo-instruct-2025-01-01"),
             L + "plain: object and dated model")
        T.eq(r["choices"][0]["text"], expected_reply(1, "say this is a test"), L + "plain: text")
        T.eq(r["usage"], {"prompt_tokens": rule_prompt("say this is a test"), "completion_tokens": 12,
                          "total_tokens": rule_prompt("say this is a test") + 12}, L + "plain: usage")
        data, _ = raw_exchange(m, "POST", "/v1/completions", dict(body, stream=True), OPENAI_KEY)
        chunks, complete = dechunk(split_response(data)[2])
        objs = sse_data(chunks)
        T.ok(complete and chunks[-1] == b"data: [DONE]\n\n", L + "stream: ends with [DONE]")
        T.eq("".join(o["choices"][0]["text"] for o in objs), expected_reply(2, "say this is a test"),
             L + "stream: texts concatenate to the reply")
        T.eq(objs[-1]["choices"][0]["finish_reason"], "stop", L + "stream: finish_reason")


@test
def model_dating():
    m = Env.http
    for path, body, hdrs, want in (
            ("/v1/chat/completions", chat_body(model="gpt-4o-2024-08-06"), OPENAI_KEY, "gpt-4o-2024-08-06"),
            ("/v1/chat/completions", chat_body(model="gpt-3.5-turbo-0125"), OPENAI_KEY, "gpt-3.5-turbo-0125"),
            ("/v1/messages", anthropic_body(model="claude-3-5-haiku-latest"), ANTHROPIC_KEY, "claude-3-5-haiku-20250101"),
            ("/v1/messages", anthropic_body(model="claude-sonnet-4-20250514"), ANTHROPIC_KEY, "claude-sonnet-4-20250514")):
        T.eq(call_json(m, "POST", path, body, hdrs)[2]["model"], want, "model dating: %s -> %s" % (body["model"], want))


@test
def models_lists():
    status, _, r = call_json(Env.http, "GET", "/v1/models", None, OPENAI_KEY)
    T.ok(status == 200 and r["object"] == "list" and any(x["id"] == "gpt-4o-mini" for x in r["data"]),
         "models: OpenAI list")
    status, _, r = call_json(Env.http, "GET", "/v1/models", None, ANTHROPIC_KEY)
    T.ok(status == 200 and r["data"][0]["type"] == "model" and r["has_more"] is False,
         "models: Anthropic list when anthropic-version is sent")


# --------------------------------------------------------------------------------------
# Anthropic
# --------------------------------------------------------------------------------------

@test
def anthropic_plain():
    for m in Env.both:
        fresh()
        L = "anthropic plain (%s): " % label(m)
        status, h, r = call_json(m, "POST", "/v1/messages", anthropic_body(), ANTHROPIC_KEY)
        T.eq(status, 200, L + "status 200")
        T.ok(h.get("request-id", "").startswith("req_"), L + "request-id header")
        T.eq((r["type"], r["role"], r["model"], r["stop_reason"], r["stop_sequence"]),
             ("message", "assistant", "claude-sonnet-4-5-20250101", "end_turn", None), L + "message fields, dated model")
        T.ok(r["id"].startswith("msg_"), L + "msg_ id")
        T.eq(r["content"], [{"type": "text", "text": expected_reply(1, "hi claude what is up")}], L + "content")
        p = rule_prompt("be nice", "hi claude what is up")
        T.eq(r["usage"], {"input_tokens": p, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0,
                          "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
                          "output_tokens": 12, "service_tier": "standard"}, L + "usage (system is a unit)")


ANTHROPIC_EVENT = re.compile(rb"event: ([a-z_]+)\ndata: (\{[^\n]*\})\n\n")


@test
def anthropic_stream():
    for m in Env.both:
        fresh()
        L = "anthropic stream (%s): " % label(m)
        data, err = raw_exchange(m, "POST", "/v1/messages", anthropic_body(stream=True), ANTHROPIC_KEY)
        status, h, body = split_response(data)
        chunks, complete = dechunk(body)
        T.ok(status == 200 and complete and h.get("transfer-encoding") == "chunked", L + "200, chunked, complete")
        T.ok(all(ANTHROPIC_EVENT.fullmatch(c) for c in chunks), L + "exact 'event: X\\ndata: {...}\\n\\n' framing, one per chunk")
        names = [ANTHROPIC_EVENT.fullmatch(c).group(1).decode() for c in chunks]
        T.eq(names, ["message_start", "content_block_start", "ping"] + ["content_block_delta"] * 12
             + ["content_block_stop", "message_delta", "message_stop"], L + "event sequence")
        objs = [json.loads(ANTHROPIC_EVENT.fullmatch(c).group(2)) for c in chunks]
        T.ok(all(o["type"] == n for o, n in zip(objs, names)), L + "data type matches the event name")
        T.eq(chunks[2], b'event: ping\ndata: {"type": "ping"}\n\n', L + "ping bytes as Anthropic sends them")
        start = objs[0]["message"]
        p = rule_prompt("be nice", "hi claude what is up")
        T.eq((start["content"], start["stop_reason"], start["usage"]["input_tokens"], start["usage"]["output_tokens"]),
             ([], None, p, 1), L + "message_start: empty content, input tokens, output 1")
        text = "".join(o["delta"]["text"] for o in objs if o["type"] == "content_block_delta")
        T.eq(text, expected_reply(1, "hi claude what is up"), L + "text_deltas concatenate to the reply")
        T.ok(all(o["delta"]["type"] == "text_delta" for o in objs if o["type"] == "content_block_delta"), L + "text_delta type")
        md = objs[-2]
        T.eq((md["delta"], md["usage"]), ({"stop_reason": "end_turn", "stop_sequence": None}, {"output_tokens": 12}),
             L + "message_delta: stop_reason and output_tokens")


@test
def anthropic_tool_use():
    """"[mock-tool NAME K=V]" in the last user text, NAME among the tools: a tool_use
    block (plain and streamed, input as input_json_delta); the tool's result then
    gets an ordinary answer."""
    tools = [{"name": "Read", "description": "read a file", "input_schema": {"type": "object"}}]
    ask = "please read it [mock-tool Read file_path=/tmp/notes.txt]"
    for m in Env.both:
        fresh()
        L = "anthropic tool_use (%s): " % label(m)
        status, _, r = call_json(m, "POST", "/v1/messages", anthropic_body(ask, tools=tools), ANTHROPIC_KEY)
        blk = r["content"][0] if status == 200 else {}
        T.eq((status, r.get("stop_reason"), len(r.get("content", [])), blk.get("type"), blk.get("name"), blk.get("input")),
             (200, "tool_use", 1, "tool_use", "Read", {"file_path": "/tmp/notes.txt"}), L + "plain: one tool_use block")
        T.ok(str(blk.get("id", "")).startswith("toolu_01"), L + "tool_use id toolu_01…")
        T.eq(r.get("usage", {}).get("output_tokens"), 12, L + "output tokens as for an answer")
        status, _, r = call_json(m, "POST", "/v1/messages", anthropic_body(ask), ANTHROPIC_KEY)
        T.eq((status, r["content"][0]["type"], r["stop_reason"]), (200, "text", "end_turn"),
             L + "no such tool offered: an ordinary answer")
        data, _ = raw_exchange(m, "POST", "/v1/messages", anthropic_body(ask, tools=tools, stream=True), ANTHROPIC_KEY)
        status, h, body = split_response(data)
        chunks, complete = dechunk(body)
        objs = [json.loads(ANTHROPIC_EVENT.fullmatch(c).group(2)) for c in chunks if ANTHROPIC_EVENT.fullmatch(c)]
        names = [o["type"] for o in objs]
        T.eq(names, ["message_start", "content_block_start", "ping", "content_block_delta", "content_block_delta",
                     "content_block_stop", "message_delta", "message_stop"], L + "streamed: event sequence")
        cb = objs[1]["content_block"] if len(objs) > 1 else {}
        T.eq((cb.get("type"), cb.get("name"), cb.get("input")), ("tool_use", "Read", {}), L + "content_block_start: tool_use, empty input")
        js = "".join(o["delta"]["partial_json"] for o in objs if o["type"] == "content_block_delta")
        T.eq(json.loads(js or "null"), {"file_path": "/tmp/notes.txt"}, L + "input_json_delta pieces make the input")
        T.eq(objs[-2]["delta"]["stop_reason"] if len(objs) > 1 else None, "tool_use", L + "message_delta: stop_reason tool_use")
        follow = anthropic_body(tools=tools, messages=[
            {"role": "user", "content": ask},
            {"role": "assistant", "content": [dict(blk)]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": blk.get("id"), "content": "pineapple 42"}]}])
        status, _, r = call_json(m, "POST", "/v1/messages", follow, ANTHROPIC_KEY)
        T.ok(status == 200 and r["stop_reason"] == "end_turn" and "to: pineapple 42" in r["content"][0]["text"],
             L + "the tool result gets a text answer to it", r)


@test
def anthropic_errors():
    m = Env.http
    fresh()
    status, _, r = call_json(m, "POST", "/v1/messages", anthropic_body(), {"anthropic-version": "2023-06-01"})
    T.eq((status, r["type"], r["error"]["type"]), (401, "error", "authentication_error"), "anthropic: 401 without x-api-key")
    status, _, r = call_json(m, "POST", "/v1/messages", anthropic_body(),
                             {"authorization": "Bearer sk-ant-k", "anthropic-version": "2023-06-01"})
    T.eq((status, r.get("type")), (200, "message"), "anthropic: the key as Authorization: Bearer is accepted (SDK 1.x)")
    status, _, r = call_json(m, "POST", "/v1/messages", anthropic_body(), {"x-api-key": "k"})
    T.eq((status, r["error"]["type"]), (400, "invalid_request_error"), "anthropic: 400 without anthropic-version")
    body = anthropic_body()
    del body["max_tokens"]
    status, _, r = call_json(m, "POST", "/v1/messages", body, ANTHROPIC_KEY)
    T.eq((status, r["error"]["type"]), (400, "invalid_request_error"), "anthropic: 400 without max_tokens")


@test
def anthropic_prompt_caching():
    m = Env.http
    fresh()
    big = "you are a careful assistant " * 5          # 25 words
    def body(ttl=None, text=big):
        cc = {"type": "ephemeral"}
        if ttl:
            cc["ttl"] = ttl
        return anthropic_body(system=[{"type": "text", "text": text, "cache_control": cc}])
    prefix = 4 + nwords(big)
    rest = rule_prompt("hi claude what is up")
    _, _, r1 = call_json(m, "POST", "/v1/messages", body(), ANTHROPIC_KEY)
    u = r1["usage"]
    T.eq((u["cache_creation_input_tokens"], u["cache_read_input_tokens"], u["input_tokens"],
          u["cache_creation"]["ephemeral_5m_input_tokens"]), (prefix, 0, rest, prefix),
         "anthropic caching: first request writes the prefix (5m)")
    _, _, r2 = call_json(m, "POST", "/v1/messages", body(), ANTHROPIC_KEY)
    u = r2["usage"]
    T.eq((u["cache_creation_input_tokens"], u["cache_read_input_tokens"], u["input_tokens"]), (0, prefix, rest),
         "anthropic caching: same prefix again is read")
    _, _, r3 = call_json(m, "POST", "/v1/messages", body("1h", big + "extra"), ANTHROPIC_KEY)
    u = r3["usage"]
    T.eq((u["cache_read_input_tokens"], u["cache_creation"]["ephemeral_1h_input_tokens"],
          u["cache_creation"]["ephemeral_5m_input_tokens"]), (0, prefix + 1, 0),
         "anthropic caching: a changed prefix with ttl 1h is written as ephemeral_1h")
    m.reset()
    _, _, r4 = call_json(m, "POST", "/v1/messages", body(), ANTHROPIC_KEY)
    T.eq(r4["usage"]["cache_read_input_tokens"], 0, "anthropic caching: reset() empties the cache")


# --------------------------------------------------------------------------------------
# Gemini and Ollama
# --------------------------------------------------------------------------------------

GEMINI_BODY = {"systemInstruction": {"parts": [{"text": "answer in verse"}]},
               "contents": [{"role": "user", "parts": [{"text": "why is the sky blue"}]}]}


@test
def gemini_generate():
    for m in Env.both:
        fresh()
        L = "gemini (%s): " % label(m)
        status, h, raw = call(m, "POST", "/v1beta/models/gemini-2.0-flash:generateContent", GEMINI_BODY, GEMINI_KEY)
        r = json.loads(raw)
        T.eq(status, 200, L + "generateContent 200")
        T.ok(raw.startswith(b'{\n  "candidates"'), L + "indented JSON as Google sends it")
        c = r["candidates"][0]
        T.eq((c["content"]["role"], c["finishReason"], r["modelVersion"]), ("model", "STOP", "gemini-2.0-flash"),
             L + "candidate and modelVersion")
        T.eq(c["content"]["parts"][0]["text"], expected_reply(1, "why is the sky blue"), L + "text")
        p = rule_prompt("answer in verse", "why is the sky blue")
        um = r["usageMetadata"]
        T.eq((um["promptTokenCount"], um["candidatesTokenCount"], um["totalTokenCount"]), (p, 12, p + 12),
             L + "usageMetadata follows the rule")
        T.ok("thoughtsTokenCount" not in um and "cachedContentTokenCount" not in um, L + "no thoughts/cached counts by default")
        T.ok(isinstance(r.get("responseId"), str), L + "responseId")


@test
def gemini_stream_sse():
    for m in Env.both:
        fresh()
        L = "gemini sse (%s): " % label(m)
        data, _ = raw_exchange(m, "POST", "/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse",
                               GEMINI_BODY, GEMINI_KEY)
        status, h, body = split_response(data)
        chunks, complete = dechunk(body)
        T.ok(status == 200 and complete and h["content-type"].startswith("text/event-stream"), L + "200 event-stream")
        T.ok(all(re.fullmatch(rb"data: \{[^\r\n]*\}\r\n\r\n", c) for c in chunks), L + "'data: {...}\\r\\n\\r\\n' per chunk")
        objs = [json.loads(c[6:]) for c in chunks]
        text = "".join(o["candidates"][0]["content"]["parts"][0]["text"] for o in objs)
        T.eq(text, expected_reply(1, "why is the sky blue"), L + "texts concatenate to the reply")
        p = rule_prompt("answer in verse", "why is the sky blue")
        T.eq(objs[-1]["usageMetadata"]["totalTokenCount"], p + 12, L + "last usageMetadata is complete")
        T.eq(objs[-1]["candidates"][0].get("finishReason"), "STOP", L + "finishReason on the last chunk only")
        T.ok(all("finishReason" not in o["candidates"][0] for o in objs[:-1]), L + "no finishReason before the end")


@test
def gemini_stream_array_and_keys():
    m = Env.http
    fresh()
    data, _ = raw_exchange(m, "POST", "/v1beta/models/gemini-2.0-flash:streamGenerateContent?key=test-key",
                           GEMINI_BODY)
    status, h, body = split_response(data)
    chunks, complete = dechunk(body)
    T.eq(status, 200, "gemini array: ?key= is accepted")
    arr = json.loads(b"".join(chunks))
    T.ok(isinstance(arr, list) and len(arr) == 12, "gemini array: the chunks form one JSON array, one element per word")
    T.ok(chunks[0].startswith(b"[{") and chunks[1].startswith(b",\r\n{") and chunks[-1] == b"]",
         "gemini array: sent element by element", chunks[:2])
    status, _, r = call_json(m, "POST", "/v1beta/models/gemini-2.0-flash:generateContent", GEMINI_BODY)
    T.eq((status, r["error"]["status"]), (403, "PERMISSION_DENIED"), "gemini: 403 in Google's error shape without a key")
    m.configure(reasoning_tokens=9, cached_tokens=3)
    _, _, r = call_json(m, "POST", "/v1beta/models/gemini-2.5-pro:generateContent", GEMINI_BODY, GEMINI_KEY)
    um = r["usageMetadata"]
    p = rule_prompt("answer in verse", "why is the sky blue")
    T.eq((um["thoughtsTokenCount"], um["cachedContentTokenCount"], um["totalTokenCount"]), (9, 3, p + 12 + 9),
         "gemini: thoughtsTokenCount for 2.5 models and cachedContentTokenCount when configured")
    _, _, r = call_json(m, "POST", "/v1beta/models/gemini-2.0-flash:generateContent", GEMINI_BODY, GEMINI_KEY)
    T.ok("thoughtsTokenCount" not in r["usageMetadata"], "gemini: no thoughts for a non-thinking model")


@test
def ollama_native():
    for m in Env.both:
        fresh()
        L = "ollama (%s): " % label(m)
        body = {"model": "llama3.2", "messages": [{"role": "user", "content": "why is the sky blue"}]}
        data, _ = raw_exchange(m, "POST", "/api/chat", body)
        status, h, raw = split_response(data)
        chunks, complete = dechunk(raw)
        T.ok(status == 200 and complete and h["content-type"] == "application/x-ndjson", L + "chat streams NDJSON by default")
        T.ok(all(c.endswith(b"\n") and c.count(b"\n") == 1 for c in chunks), L + "one JSON line per chunk")
        objs = [json.loads(c) for c in chunks]
        T.eq("".join(o["message"]["content"] for o in objs), expected_reply(1, "why is the sky blue"), L + "contents concatenate")
        last = objs[-1]
        p = rule_prompt("why is the sky blue")
        T.ok(last["done"] is True and all(not o["done"] for o in objs[:-1]), L + "only the last object is done")
        T.eq((last["prompt_eval_count"], last["eval_count"], last["done_reason"]), (p, 12, "stop"), L + "counts in the done object")
        T.ok(all(isinstance(last[k], int) for k in ("total_duration", "load_duration", "prompt_eval_duration",
                                                    "eval_duration")), L + "durations")
        status, h, r = call_json(m, "POST", "/api/chat", dict(body, stream=False))
        T.ok(status == 200 and r["done"] is True and r["message"]["content"] == expected_reply(2, "why is the sky blue")
             and "content-length" in h, L + "stream:false gives one JSON object")
        status, _, r = call_json(m, "POST", "/api/generate", {"model": "llama3.2", "prompt": "tell a joke", "stream": False})
        T.eq((status, r["response"], r["prompt_eval_count"]), (200, expected_reply(3, "tell a joke"), rule_prompt("tell a joke")),
             L + "/api/generate")


@test
def openai_compatible_prefixes():
    m = Env.http
    for path, model in (("/openai/v1/chat/completions", "llama-3.1-8b-instant"),
                        ("/api/v1/chat/completions", "openai/gpt-4o-mini"),
                        ("/v1beta/openai/chat/completions", "gemini-2.0-flash")):
        fresh()
        status, h, r = call_json(m, "POST", path, chat_body(model=model), OPENAI_KEY)
        T.ok(status == 200 and r["object"] == "chat.completion" and "x-ratelimit-limit-requests" in h,
             "compatible: %s is served like OpenAI chat" % path)


# --------------------------------------------------------------------------------------
# Headers, compression, configuration
# --------------------------------------------------------------------------------------

@test
def ratelimit_headers():
    m = Env.http
    fresh()
    _, h1, r1 = call_json(m, "POST", "/v1/chat/completions", chat_body(), OPENAI_KEY)
    _, h2, r2 = call_json(m, "POST", "/v1/chat/completions", chat_body(), OPENAI_KEY)
    T.eq((h1["x-ratelimit-reset-requests"], h1["x-ratelimit-reset-tokens"]), ("1s", "6m0s"), "ratelimit: OpenAI reset values")
    T.eq(int(h1["x-ratelimit-remaining-requests"]) - int(h2["x-ratelimit-remaining-requests"]), 1,
         "ratelimit: OpenAI remaining requests decrease by one per request")
    T.eq(int(h1["x-ratelimit-remaining-tokens"]) - int(h2["x-ratelimit-remaining-tokens"]), r2["usage"]["total_tokens"],
         "ratelimit: OpenAI remaining tokens decrease by the request's tokens")
    T.eq(int(h1["x-ratelimit-limit-requests"]) - int(h1["x-ratelimit-remaining-requests"]), 1,
         "ratelimit: first request after reset leaves limit-1")
    _, h, _ = call(m, "POST", "/v1/messages", anthropic_body(), ANTHROPIC_KEY)
    names = ["anthropic-ratelimit-%s-%s" % (a, b) for a in ("requests", "tokens", "input-tokens", "output-tokens")
             for b in ("limit", "remaining", "reset")]
    T.ok(all(n in h for n in names), "ratelimit: every anthropic-ratelimit-* header", sorted(h))
    T.ok(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", h["anthropic-ratelimit-requests-reset"]),
         "ratelimit: Anthropic reset is RFC 3339")
    m.configure(ratelimit_headers=False)
    _, h, _ = call(m, "POST", "/v1/chat/completions", chat_body(), OPENAI_KEY)
    T.ok(not any(k.startswith("x-ratelimit") for k in h), "ratelimit: configure(ratelimit_headers=False) removes them")


@test
def compression():
    m = Env.http
    fresh()
    def get(enc, body=None):
        return call(m, "POST", "/v1/chat/completions", body or chat_body(), dict(OPENAI_KEY, **{"Accept-Encoding": enc}))
    _, h, raw = get("gzip")
    T.eq(h.get("content-encoding"), "gzip", "compression: gzip when asked")
    T.ok(json.loads(gzip.decompress(raw))["object"] == "chat.completion" and h["content-length"] == str(len(raw)),
         "compression: gzip body decodes; Content-Length is the compressed size")
    _, h, raw = get("deflate")
    T.ok(h.get("content-encoding") == "deflate" and json.loads(zlib.decompress(raw)), "compression: deflate (zlib format)")
    if brotli is not None:
        _, h, raw = get("gzip, deflate, br")
        T.ok(h.get("content-encoding") == "br" and json.loads(brotli.decompress(raw)), "compression: br preferred when accepted")
    else:
        T.ok(False, "compression: python3-brotli is installed")
    _, h, _ = get("gzip;q=0, identity")
    T.ok("content-encoding" not in h, "compression: q=0 refuses a coding")
    _, h, raw = get("gzip", chat_body(stream=True))
    T.ok("content-encoding" not in h and raw.startswith(b"data: "), "compression: streams are never compressed")
    m.configure(compress=False)
    _, h, _ = get("gzip")
    T.ok("content-encoding" not in h, "compression: configure(compress=False) turns it off")


@test
def reasoning_cached_and_limits():
    m = Env.http
    fresh()
    m.configure(reasoning_tokens=7, cached_tokens=4)
    _, _, r = call_json(m, "POST", "/v1/chat/completions", chat_body(model="o3-mini"), OPENAI_KEY)
    u = r["usage"]
    T.eq((u["completion_tokens"], u["completion_tokens_details"]["reasoning_tokens"]), (12 + 7, 7),
         "reasoning: o3-mini output = words + reasoning_tokens")
    T.eq(u["prompt_tokens_details"]["cached_tokens"], 4, "cached: configured cached_tokens reported")
    _, _, r = call_json(m, "POST", "/v1/chat/completions", chat_body(model="gpt-4o"), OPENAI_KEY)
    T.eq(r["usage"]["completion_tokens_details"]["reasoning_tokens"], 0, "reasoning: none for gpt-4o")
    _, _, r = call_json(m, "POST", "/v1/responses", {"model": "gpt-5-mini", "input": "hi"}, OPENAI_KEY)
    T.eq((r["usage"]["output_tokens"], r["usage"]["output_tokens_details"]["reasoning_tokens"]), (19, 7),
         "reasoning: responses API for gpt-5 models")
    m.configure(cached_tokens=1000)
    _, _, r = call_json(m, "POST", "/v1/chat/completions", chat_body(), OPENAI_KEY)
    T.eq(r["usage"]["prompt_tokens_details"]["cached_tokens"], r["usage"]["prompt_tokens"], "cached: capped at the prompt")
    fresh()
    _, _, r = call_json(m, "POST", "/v1/chat/completions", chat_body(max_tokens=3), OPENAI_KEY)
    T.eq((r["choices"][0]["finish_reason"], r["usage"]["completion_tokens"], r["choices"][0]["message"]["content"]),
         ("length", 3, "Mock answer 1"), "limits: max_tokens cuts the reply, finish_reason length")
    _, _, r = call_json(m, "POST", "/v1/messages", anthropic_body(max_tokens=2), ANTHROPIC_KEY)
    T.eq((r["stop_reason"], r["usage"]["output_tokens"]), ("max_tokens", 2), "limits: Anthropic stop_reason max_tokens")
    m.configure(reply_words=30)
    _, _, r = call_json(m, "POST", "/v1/chat/completions", chat_body(), OPENAI_KEY)
    T.eq(nwords(r["choices"][0]["message"]["content"]), 30, "configure: reply_words sets the answer length")
    try:
        m.configure(nonsense=1)
        T.ok(False, "configure: unknown key raises ValueError")
    except ValueError:
        T.ok(True, "configure: unknown key raises ValueError")


@test
def latency_and_chunk_delay():
    m = Env.http
    fresh()
    m.configure(latency_ms=150)
    t0 = time.monotonic()
    call(m, "POST", "/v1/chat/completions", chat_body(), OPENAI_KEY)
    T.ok(time.monotonic() - t0 >= 0.15, "latency_ms delays the answer")
    m.configure(latency_ms=0, chunk_delay_ms=40)
    s = raw_socket(m)
    t0 = time.monotonic()
    s.sendall(raw_request("POST", "/v1/chat/completions", chat_body(stream=True), OPENAI_KEY))
    first = s.recv(65536)
    t_first = time.monotonic() - t0
    rest, _ = read_all(s)
    t_all = time.monotonic() - t0
    s.close()
    T.ok(b"data: " in first and t_first < 0.2, "chunk_delay: the first event is flushed at once (%.3fs)" % t_first)
    n = len(dechunk(split_response(first + rest)[2])[0])
    T.ok(t_all >= (n - 1) * 0.04 * 0.9, "chunk_delay: events are spaced (%.3fs for %d events)" % (t_all, n))


# --------------------------------------------------------------------------------------
# Scripts and faults
# --------------------------------------------------------------------------------------

@test
def script_order_and_match():
    m = Env.http
    fresh()
    m.script([{"status": 429, "headers": {"retry-after": "1"}}, {"status": 500}, {"status": 200}])
    got = [call(m, "POST", "/v1/chat/completions", chat_body(), OPENAI_KEY) for _ in range(4)]
    T.eq([g[0] for g in got], [429, 500, 200, 200], "script: entries consumed in order, then normal answers")
    T.eq(got[0][1].get("retry-after"), "1", "script: retry-after from the script")
    T.ok("retry-after" not in got[1][1], "script: no retry-after unless scripted")
    e = json.loads(got[0][2])["error"]
    T.eq((e["type"], e["code"]), ("requests", "rate_limit_exceeded"), "script: generated 429 body in OpenAI's shape")
    T.eq(json.loads(got[2][2])["object"], "chat.completion", "script: status 200 gives the normal answer")
    T.ok("x-ratelimit-remaining-requests" in got[0][1], "script: scripted answers carry rate-limit headers")
    fresh()
    m.script([{"status": 503}], match={"model": "gpt-4o"})
    m.script([{"status": 529}], match={"path": "/v1/messages"})
    s1 = call(m, "POST", "/v1/chat/completions", chat_body(model="gpt-4o-mini"), OPENAI_KEY)[0]
    s2 = call(m, "POST", "/v1/chat/completions", chat_body(model="gpt-4o"), OPENAI_KEY)[0]
    status, _, r = call_json(m, "POST", "/v1/messages", anthropic_body(), ANTHROPIC_KEY)
    T.eq((s1, s2), (200, 503), "script: match by model")
    T.eq((status, r["type"], r["error"]["type"]), (529, "error", "overloaded_error"),
         "script: match by path; Anthropic-shaped 529 body")
    fresh()
    m.script([{"status": 500}], match={"method": "GET", "path": "/models"})
    s1 = call(m, "POST", "/v1/chat/completions", chat_body(), OPENAI_KEY)[0]
    s2 = call(m, "GET", "/v1/models", None, OPENAI_KEY)[0]
    T.eq((s1, s2), (200, 500), "script: match by method")
    fresh()
    m.script([{"status": 502, "body": "<html>bad gateway</html>", "headers": {"Content-Type": "text/html"}},
              {"status": 200, "body": {"custom": True}}])
    status, h, raw = call(m, "POST", "/v1/chat/completions", chat_body(), OPENAI_KEY)
    T.eq((status, h["content-type"], raw), (502, "text/html", b"<html>bad gateway</html>"), "script: text body and header override")
    T.eq(call_json(m, "POST", "/v1/chat/completions", chat_body(), OPENAI_KEY)[2], {"custom": True}, "script: JSON body")
    for bad in ([{"fault": "explode"}], [{"stauts": 200}], "nope"):
        try:
            m.script(bad)
            T.ok(False, "script: %r is rejected" % (bad,))
        except ValueError:
            T.ok(True, "script: %r is rejected" % (bad,))


def fault_exchange(m, entry, body=None, path="/v1/chat/completions", headers=OPENAI_KEY, timeout=3):
    m.reset()
    m.script([entry])
    s = raw_socket(m, timeout=timeout)
    s.sendall(raw_request("POST", path, body or chat_body(stream=True), headers))
    data, err = read_all(s)
    s.close()
    return data, err


@test
def fault_reset_and_truncate():
    for m in Env.both:
        L = "fault (%s): " % label(m)
        data, err = fault_exchange(m, {"fault": "reset_mid_stream", "after_chunks": 3})
        chunks, complete = dechunk(split_response(data)[2])
        # Python's ssl reports a reset under TLS as an EOF without close_notify.
        want = (ssl.SSLEOFError, ConnectionResetError) if m.tls else ConnectionResetError
        T.ok(isinstance(err, want), L + "reset_mid_stream ends in a connection reset", repr(err))
        T.eq((len(chunks), complete), (3, False), L + "reset_mid_stream after exactly 3 chunks")
        data, err = fault_exchange(m, {"fault": "truncate_chunked", "after_chunks": 2})
        chunks, complete = dechunk(split_response(data)[2])
        T.ok(err is None, L + "truncate_chunked closes cleanly (FIN / TLS close_notify)", err)
        T.eq((len(chunks), complete), (2, False), L + "truncate_chunked: 2 chunks, no terminating chunk")
        data, err = fault_exchange(m, {"fault": "truncate_chunked"}, chat_body())
        status, h, body = split_response(data)
        T.ok(status == 200 and 0 < len(body) < int(h["content-length"]), L + "truncate on a plain answer: body shorter than Content-Length")


@test
def fault_garbage_http09_close():
    for m in Env.both:
        L = "fault (%s): " % label(m)
        data, err = fault_exchange(m, {"fault": "garbage"})
        T.ok(data and not data.startswith(b"HTTP/") and err is None, L + "garbage: non-HTTP bytes, then close", data[:20])
        data, _ = fault_exchange(m, {"fault": "http09"}, chat_body())
        T.ok(not data.startswith(b"HTTP/") and json.loads(data)["object"] == "chat.completion",
             L + "http09: the bare body, no status line or headers")
        data, _ = fault_exchange(m, {"fault": "http09"})
        T.ok(data.startswith(b"data: {") and data.endswith(b"data: [DONE]\n\n"), L + "http09 on a stream: raw events, unchunked")
        data, err = fault_exchange(m, {"fault": "close_before_response"})
        T.ok(data == b"" and err is None, L + "close_before_response: EOF without a byte", err)
        m.reset()
        m.script([{"fault": "close_before_response"}])
        try:
            call(m, "POST", "/v1/chat/completions", chat_body(), OPENAI_KEY)
            T.ok(False, L + "http.client sees RemoteDisconnected")
        except http.client.RemoteDisconnected:
            T.ok(True, L + "http.client sees RemoteDisconnected")


@test
def fault_hang_and_slow_body():
    m = Env.http
    baseline = threading.active_count()
    fresh()
    m.script([{"fault": "hang"}])
    s = raw_socket(m, timeout=0.5)
    s.sendall(raw_request("POST", "/v1/chat/completions", chat_body(), OPENAI_KEY))
    try:
        got = s.recv(100)
        T.ok(False, "hang: nothing is sent", got)
    except socket.timeout:
        T.ok(True, "hang: nothing is sent")
    s.close()
    left = wait_threads(baseline)
    T.ok(left <= baseline, "hang: the connection thread ends when the client leaves", "%d threads, baseline %d" % (left, baseline))
    fresh()
    m.script([{"fault": "slow_body", "duration_ms": 600, "pieces": 6}])
    s = raw_socket(m)
    t0 = time.monotonic()
    s.sendall(raw_request("POST", "/v1/chat/completions", chat_body(), OPENAI_KEY))
    head = s.recv(65536)
    t_head = time.monotonic() - t0
    rest, err = read_all(s)
    t_all = time.monotonic() - t0
    s.close()
    status, h, body = split_response(head + rest)
    T.ok(head.startswith(b"HTTP/1.1 200") and t_head < 0.3, "slow_body: the head comes at once (%.3fs)" % t_head)
    T.ok(t_all >= 0.5 and len(body) == int(h["content-length"]) and json.loads(body),
         "slow_body: the complete body trickles in over the duration (%.3fs)" % t_all)


@test
def client_disconnect_mid_stream():
    m = Env.https
    baseline = threading.active_count()
    fresh()
    m.configure(chunk_delay_ms=30, reply_words=40)
    for _ in range(3):
        s = raw_socket(m)
        s.sendall(raw_request("POST", "/v1/chat/completions", chat_body(stream=True), OPENAI_KEY))
        s.recv(100)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
    m.configure(chunk_delay_ms=0)
    status, _, _ = call(m, "POST", "/v1/chat/completions", chat_body(), OPENAI_KEY)
    T.eq(status, 200, "disconnect: the mock keeps serving after clients vanish mid-stream")
    left = wait_threads(baseline)
    T.ok(left <= baseline, "disconnect: no connection thread is left behind", "%d threads, baseline %d" % (left, baseline))


# --------------------------------------------------------------------------------------
# HTTP behaviour
# --------------------------------------------------------------------------------------

@test
def keep_alive_and_close():
    for m in Env.both:
        fresh()
        L = "http (%s): " % label(m)
        c = connect(m)
        for _ in range(3):
            call(m, "POST", "/v1/chat/completions", chat_body(), OPENAI_KEY, conn=c)
        c.close()
        call(m, "POST", "/v1/chat/completions", chat_body(), OPENAI_KEY)
        conns = [r["conn"] for r in m.requests]
        T.ok(conns[0] == conns[1] == conns[2] and conns[3] != conns[0], L + "keep-alive: same conn serial on one connection", conns)
        data, err = raw_exchange(m, "POST", "/v1/chat/completions", chat_body(), OPENAI_KEY)
        status, h, body = split_response(data)
        T.ok(err is None and h.get("connection") == "close" and len(body) == int(h["content-length"]),
             L + "Connection: close is honoured (answer, then EOF)")


@test
def expect_continue_chunked_head_404():
    m = Env.http
    fresh()
    body = json.dumps(chat_body()).encode()
    s = raw_socket(m)
    s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer k\r\n"
              b"Content-Length: %d\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n" % len(body))
    interim = s.recv(25)
    s.sendall(body)
    rest, _ = read_all(s)
    s.close()
    T.eq(interim, b"HTTP/1.1 100 Continue\r\n\r\n", "expect: 100 Continue before the body is sent")
    T.ok(rest.startswith(b"HTTP/1.1 200"), "expect: then the answer")
    s = raw_socket(m)
    s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer k\r\n"
              b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n%x\r\n%s\r\n0\r\n\r\n" % (len(body), body))
    data, _ = read_all(s)
    s.close()
    T.ok(data.startswith(b"HTTP/1.1 200") and m.requests[-1]["json"] == chat_body(), "chunked request bodies are read")
    c = connect(m)
    c.request("HEAD", "/v1/chat/completions")
    r = c.getresponse()
    T.eq((r.status, r.read()), (404, b""), "HEAD: 404 without a body")
    status, _, r = call_json(m, "POST", "/v1/nothing-here", {"x": 1}, OPENAI_KEY)
    T.ok(status == 404 and "Invalid URL" in r["error"]["message"], "unknown path: 404 JSON")
    status, _, _ = call(m, "GET", "/v1/chat/completions", None, OPENAI_KEY, conn=c)
    T.eq(status, 404, "HEAD left the connection usable (next request answered)")
    c.close()


@test
def http10_and_bad_requests():
    m = Env.http
    fresh()
    body = json.dumps(chat_body(stream=True)).encode()
    s = raw_socket(m)
    s.sendall(b"POST /v1/chat/completions HTTP/1.0\r\nAuthorization: Bearer k\r\nContent-Length: %d\r\n\r\n%s"
              % (len(body), body))
    data, err = read_all(s)
    s.close()
    status, h, raw = split_response(data)
    T.ok(status == 200 and "transfer-encoding" not in h and h.get("connection") == "close",
         "HTTP/1.0: a stream is sent unchunked and delimited by close")
    T.ok(raw.startswith(b"data: {") and raw.endswith(b"data: [DONE]\n\n") and err is None, "HTTP/1.0: raw SSE body, clean end")
    s = raw_socket(m)
    s.sendall(b"THIS IS NOT HTTP\r\n\r\n")
    data, _ = read_all(s)
    s.close()
    T.ok(data.startswith(b"HTTP/1.1 400 "), "bad request line: 400", data[:30])
    T.eq(m.count(), 1, "bad request line: not recorded")


@test
def stop_with_open_connections():
    baseline = threading.active_count()
    m = MockProvider(tls=True, certfile=Env.pki["cert"], keyfile=Env.pki["key"]).start()
    idle = connect(m)
    call(m, "POST", "/v1/chat/completions", chat_body(), OPENAI_KEY, conn=idle)   # now an idle keep-alive
    m.script([{"fault": "hang"}])
    hung = raw_socket(m, timeout=5)
    hung.sendall(raw_request("POST", "/v1/chat/completions", chat_body(), OPENAI_KEY))
    time.sleep(0.1)
    t0 = time.monotonic()
    m.stop()
    dt = time.monotonic() - t0
    T.ok(dt < 2.0, "stop(): returns promptly with an idle and a hanging connection (%.2fs)" % dt)
    left = wait_threads(baseline, 1.0)
    T.ok(left <= baseline, "stop(): every mock thread has ended", "%d threads, baseline %d" % (left, baseline))
    data, err = read_all(hung)
    T.ok(data == b"", "stop(): the hanging client sees its connection end")
    hung.close()
    idle.close()


@test
def requests_record_and_reset():
    m = Env.http
    fresh()
    call(m, "POST", "/v1/chat/completions?x=1", chat_body(), dict(OPENAI_KEY, **{"X-Custom": "v"}))
    call(m, "GET", "/__mock/health")
    r = m.requests
    T.eq(len(r), 1, "requests: control requests are not recorded")
    rec = r[0]
    T.eq((rec["method"], rec["path"], rec["query"]), ("POST", "/v1/chat/completions", "x=1"), "requests: method, path, query")
    T.ok(rec["headers"].get("x-custom") == "v" and rec["json"] == chat_body() and json.loads(rec["body"]) == chat_body()
         and isinstance(rec["time"], float) and isinstance(rec["conn"], int), "requests: headers (lower-case), body, json, time, conn")
    T.eq((m.count("/chat/"), m.count("/v1/messages"), m.count()), (1, 0, 1), "count(): by path substring")
    m.script([{"status": 500}])
    m.configure(reply_words=3)
    m.reset()
    status, _, r = call_json(m, "POST", "/v1/chat/completions", chat_body(), OPENAI_KEY)
    T.eq((status, m.count(), r["choices"][0]["message"]["content"]), (200, 1, expected_reply(1, "hello there how are you")),
         "reset(): clears requests, scripts, configuration and the answer counter")


@test
def ipv6_listener():
    m = MockProvider(tls=True, certfile=Env.pki["cert"], keyfile=Env.pki["key"], host="::1")
    try:
        m.start()
    except OSError as e:
        T.ok(False, "ipv6: listening on ::1", e)
        return
    try:
        T.eq(m.url, "https://[::1]:%d" % m.port, "ipv6: url brackets the address")
        status, _, _ = call(m, "POST", "/v1/chat/completions", chat_body(), OPENAI_KEY)
        T.eq(status, 200, "ipv6: HTTPS on ::1 verifies against the IP SAN")
    finally:
        m.stop()


@test
def program_and_control_api():
    tmp = tempfile.mkdtemp(prefix="hc-mock-prog-")
    portfile = os.path.join(tmp, "ports")
    p = subprocess.Popen(["/usr/bin/python3", os.path.join(ROOT, "tests", "mock", "mock_provider.py"),
                          "--http-port", "0", "--https-port", "0", "--cert", Env.pki["cert"],
                          "--key", Env.pki["key"], "--portfile", portfile],
                         stdout=subprocess.PIPE, text=True)
    try:
        line = p.stdout.readline()
        T.ok(re.fullmatch(r"http=\d+ https=\d+\n", line), "program: prints 'http=PORT https=PORT'", line)
        with open(portfile) as f:
            T.eq(f.read(), line, "program: portfile holds the same line")
        ports = dict(kv.split("=") for kv in line.split())
        plain, tls = Endpoint(int(ports["http"]), False), Endpoint(int(ports["https"]), True)
        status, _, r = call_json(plain, "GET", "/__mock/health")
        T.ok(status == 200 and r["ok"] is True, "control: health")
        status, _, _ = call_json(plain, "POST", "/__mock/configure", {"reply_words": 5})
        T.eq(status, 200, "control: configure")
        status, _, r = call_json(plain, "POST", "/__mock/configure", {"bogus": 1})
        T.ok(status == 400 and "bogus" in r["error"], "control: configure rejects unknown keys")
        status, _, _ = call_json(plain, "POST", "/__mock/script", {"responses": [{"status": 503}],
                                                                   "match": {"path": "/chat/"}})
        T.eq(status, 200, "control: script")
        s1 = call(tls, "POST", "/v1/chat/completions", chat_body(), OPENAI_KEY)[0]
        _, _, r = call_json(tls, "POST", "/v1/chat/completions", chat_body(), OPENAI_KEY)
        T.eq((s1, nwords(r["choices"][0]["message"]["content"])), (503, 5),
             "control: the HTTPS port shares the HTTP port's script and configuration")
        status, _, reqs = call_json(plain, "GET", "/__mock/requests")
        T.ok(status == 200 and len(reqs) == 2 and all(q["path"] == "/v1/chat/completions" for q in reqs),
             "control: requests lists provider requests only")
        call_json(plain, "POST", "/__mock/reset")
        T.eq(call_json(plain, "GET", "/__mock/requests")[2], [], "control: reset")
        p.send_signal(signal.SIGTERM)
        T.eq(p.wait(timeout=10), 0, "program: exits 0 on SIGTERM")
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        p.stdout.close()


def main():
    for fn in TESTS:
        try:
            fn()
        except Exception as e:                     # one broken group must not hide the others
            T.ok(False, "%s raised %s: %s" % (fn.__name__, type(e).__name__, e))
    for m in Env.both:
        m.stop()
    return T.finish()


if __name__ == "__main__":
    sys.exit(main())
