#!/usr/bin/python3
"""make_corpus.py — (re)generate the committed seed corpora in tests/fuzz/corpus/.

Seeds are small, realistic inputs: bodies and streams from tests/fixtures/usage,
HTTP heads like the ones providers and SDKs send, ClientHellos produced by
OpenSSL (Python's ssl module, which is OpenSSL, writing into a memory BIO),
compressed bodies from zlib / brotli / zstd, records and cache entries in the
store's wire formats. Each target's seeds stay within a few KB.

    /usr/bin/python3 tests/fuzz/make_corpus.py            # write every target's seeds
    /usr/bin/python3 tests/fuzz/make_corpus.py usage      # only these targets

Files are named seed-*; reproducers of bugs the fuzzer found are named bug-*
and are kept (this script never deletes them). ClientHello seeds contain fresh
random bytes on each run, so regenerate only when something changes.
"""
import glob
import gzip
import json
import os
import ssl
import struct
import subprocess
import sys
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
FIX = os.path.join(ROOT, "tests", "fixtures", "usage")
CORPUS = os.path.join(HERE, "corpus")
MAX_SEED = 1500   # bytes; fixtures are cut to this (a cut stream is a fine seed too)

# hc_api values (common/provider.h), the usage harness's byte 0.
API = {"": 0, "chat": 1, "responses": 2, "embeddings": 3, "completions": 4, "messages": 5,
       "gemini": 6, "ollama-chat": 7, "ollama-generate": 8, "ollama-embed": 9,
       "gemini-embed": 10, "cohere-chat": 11}


def fixture(rel):
    with open(os.path.join(FIX, rel), "rb") as f:
        return f.read()


def cut(b, n=MAX_SEED):
    return b[:n]


def write(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


def clear(target):
    for p in glob.glob(os.path.join(CORPUS, target, "seed-*")):
        os.remove(p)


# ---- HTTP -------------------------------------------------------------------

REQ_CHAT = (b"POST /v1/chat/completions HTTP/1.1\r\n"
            b"Host: api.openai.com\r\n"
            b"Authorization: Bearer sk-test\r\n"
            b"Content-Type: application/json\r\n"
            b"Accept-Encoding: gzip, deflate, br, zstd\r\n"
            b"Helicone-Property-Workflow: research\r\n"
            b"Helicone-Cache-Enabled: true\r\n"
            b"Cache-Control: max-age=3600\r\n"
            b"Content-Length: 58\r\n"
            b"\r\n"
            b'{"model":"gpt-4o-mini","stream":true,"messages":[]}     ')


def seeds_http_request():
    write("http_request", "chat", REQ_CHAT)
    write("http_request", "anthropic-chunked",
          b"POST /v1/messages HTTP/1.1\r\nhost: api.anthropic.com\r\nx-api-key: k\r\n"
          b"anthropic-version: 2023-06-01\r\ntransfer-encoding: chunked\r\n"
          b"connection: keep-alive\r\n\r\n5\r\n{}   \r\n0\r\n\r\n")
    write("http_request", "gemini-absolute",
          b"POST https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse HTTP/1.1\r\n"
          b"Host: generativelanguage.googleapis.com\r\nx-goog-api-key: k\r\nContent-Length: 2, 2\r\n\r\n{}")
    write("http_request", "get-lf-http10",
          b"\r\n\nGET /api/tags HTTP/1.0\nHost: localhost:11434\nUser-Agent: curl/7.88.1\n\n")
    write("http_request", "ollama-te-gzip",
          b"POST /api/chat HTTP/1.1\r\nHost: [::1]:11434\r\nTransfer-Encoding: gzip\r\n"
          b"Helicone-Retry-Enabled: 1\r\nHelicone-Fallbacks: [{\"target-url\":\"https://api.groq.com/openai\"}]\r\n\r\n")


def seeds_http_response():
    write("http_response", "openai-json",
          b"HTTP/1.1 200 OK\r\nDate: Wed, 01 Jan 2025 00:00:00 GMT\r\nContent-Type: application/json\r\n"
          b"Content-Length: 30\r\nopenai-processing-ms: 412\r\nx-ratelimit-limit-requests: 10000\r\n"
          b"x-ratelimit-remaining-requests: 9999\r\nx-ratelimit-reset-requests: 6ms\r\n"
          b"x-ratelimit-reset-tokens: 6m0s\r\n\r\n{\"id\":\"chatcmpl-1\",\"usage\":{}}")
    write("http_response", "sse-chunked",
          b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream; charset=utf-8\r\n"
          b"transfer-encoding: chunked\r\ncontent-encoding: gzip\r\n\r\n")
    write("http_response", "429-retry",
          b"HTTP/1.1 429 Too Many Requests\r\nretry-after: 2\r\nretry-after-ms: 1500.5\r\n"
          b"x-ratelimit-remaining-requests: 0\r\nx-ratelimit-reset-requests: 1m2.5s\r\n"
          b"x-ratelimit-remaining-tokens: 0\r\nx-ratelimit-reset-tokens: 250ms\r\n"
          b"Content-Length: 0\r\n\r\n")
    write("http_response", "503-date",
          b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: Wed, 01 Jan 2025 00:00:30 GMT\r\n"
          b"Connection: close\r\n\r\n")
    write("http_response", "529-anthropic",
          b"HTTP/1.1 529 \r\nanthropic-ratelimit-requests-remaining: 0\r\n"
          b"anthropic-ratelimit-requests-reset: 2025-01-01T00:00:05Z\r\nretry-after: 5\r\n"
          b"Transfer-Encoding: gzip, chunked\r\n\r\n")
    write("http_response", "100-204-http10",
          b"HTTP/1.0 204\nX-Request-Id: abc\n\n")


def chunk(body, sizes, ext=b"", trailer=b"", lf=b"\r\n"):
    out, i, k = b"", 0, 0
    while i < len(body):
        n = sizes[k % len(sizes)]
        k += 1
        part = body[i:i + n]
        i += n
        out += b"%x" % len(part) + (ext if k == 1 else b"") + lf + part + lf
    return out + b"0" + lf + trailer + lf


def seeds_chunked():
    sse = cut(fixture("anthropic/messages-stream/response.sse"), 600)
    write("chunked", "sse", chunk(sse, [97, 300, 1]))
    write("chunked", "ext-trailer", chunk(b'{"ok":true}', [4], ext=b";name=value", trailer=b"X-Trailer: 1\r\n"))
    write("chunked", "bare-lf", chunk(b"data: [DONE]\n\n", [5, 100], lf=b"\n"))
    write("chunked", "upper-hex", b"A\r\n0123456789\r\n00000\r\n\r\nextra")


# ---- streams and usage --------------------------------------------------------

STREAMS = [  # (fixture, kind byte for fuzz_stream: 0 SSE, 1 NDJSON, 2 array, api)
    ("anthropic/messages-stream/response.sse", 0, "messages"),
    ("openai/chat-stream-include-usage/response.sse", 0, "chat"),
    ("openai/responses-stream/response.sse", 0, "responses"),
    ("ollama/api-chat-stream/response.ndjson", 1, "ollama-chat"),
    ("google/stream-generate-content-array/response.json", 2, "gemini"),
    ("cohere/chat-v2-stream/response.sse", 0, "cohere-chat"),
]


def fixture_any(rel):
    p = os.path.join(FIX, rel)
    if os.path.exists(p):
        return fixture(rel)
    base = os.path.dirname(rel)
    for q in sorted(glob.glob(os.path.join(FIX, base, "response.*"))):
        with open(q, "rb") as f:
            return f.read()
    return b""


def seeds_stream():
    for i, (rel, kind, _api) in enumerate(STREAMS):
        body = cut(fixture_any(rel), 1000)
        if body:
            write("stream", "%d-%s" % (i, rel.split("/")[1]), bytes([kind, 0]) + body)
    # a small bound, so oversized messages are skipped and the stream resynchronises
    write("stream", "small-bound", bytes([0, 8]) + b": comment\r\n\r\nevent: x\ndata: " + b"y" * 60 + b"\n\ndata: z\r\n\r\n")


def seeds_usage():
    bodies = ["openai/chat-cached-reasoning/response.json", "anthropic/messages-cache-5m-1h/response.json",
              "google/generate-content/response.json", "ollama/api-chat-plain/response.json",
              "cohere/chat-v2-plain/response.json", "openai/responses-plain/response.json",
              "deepseek/chat-cache-hit/response.json", "xai/chat-reasoning/response.json"]
    for rel in bodies:
        exp = json.loads(fixture(os.path.join(os.path.dirname(rel), "expect.json")))
        write("usage", "body-" + rel.split("/")[1], bytes([API[exp["api"]], 0]) + cut(fixture(rel), 700))
    write("usage", "body-unknown-api", bytes([0, 0]) + cut(fixture("openrouter/chat-cache-write/response.json"), 700))
    for rel, kind, api in STREAMS:
        body = cut(fixture_any(rel), 800)
        if body and kind in (0, 1):
            write("usage", "stream-" + rel.split("/")[1], bytes([API[api], 1 if kind == 0 else 2]) + body)
    tail = fixture("openai/embeddings/response.json")
    write("usage", "tail-embeddings", bytes([API["embeddings"], 3]) + tail[-600:])
    for rel in ["google/vertex-generate-content", "azure/chat-deployment", "openai/chat-stream-no-usage",
                "ollama/api-generate-stream"]:
        exp = json.loads(fixture(rel + "/expect.json"))
        req = cut(fixture(rel + "/request.json"), 400)
        write("usage", "request-" + rel.split("/")[1],
              bytes([0x80 | API[exp["api"]], 4]) + exp["path"].encode() + b"\n" + req)


def seeds_jsonflat():
    for rel in ["openai/chat-cached-reasoning/response.json", "anthropic/messages-cache-5m-1h/response.json",
                "google/generate-content/response.json", "openai/responses-plain/response.json",
                "cohere/chat-v2-plain/response.json"]:
        write("jsonflat", rel.split("/")[1], cut(fixture(rel), 1500))
    write("jsonflat", "escapes", b'{"k\\u00e9y":"\\ud83d\\ude00 \\"q\\" \\/\\b\\f\\n\\r\\t","n":[-0,1.5e-3,12E+2]}')
    write("jsonflat", "nested", b'[[[[{"a":[{},[],null,true,false]}]]]]')


def seeds_streamfix():
    write("streamfix", "inject-plain", b"\x00" + b'{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"hi"}]}')
    write("streamfix", "inject-options", b"\x00" + b'{ "stream" : true, "stream_options": {"include_usage": false, "x": [1,2]} }')
    write("streamfix", "inject-null", b"\x00" + b'{"stream_options":null,"stream":true}')
    write("streamfix", "rewrite-null", b"\x01" + b'{"id":"c","choices":[{"delta":{"content":"Hi"}}],"usage":null}')
    write("streamfix", "rewrite-usage", b"\x01" + b'{"id":"c","choices":[ ],"usage":{"prompt_tokens":9,"completion_tokens":2}}')
    write("streamfix", "rewrite-first", b"\x01" + b'{"usage":null, "id":"c"}')
    write("streamfix", "filter", b"\x02" + cut(fixture("openai/chat-stream-include-usage/response.sse"), 1200)
          + b'\n\ndata: {"choices":[],"usage":{"prompt_tokens":1}}\r\n\r\ndata: [DONE]\n\n')


def seeds_jsonedit():
    write("jsonedit", "request", bytes([0]) + b'{"model":"gpt-4o","stream":false,"messages":[{"role":"user","content":"a \\"q\\" }"}]}')
    write("jsonedit", "nested", bytes([2 + 7 * 3]) + b' {\n  "a": {"b": [1, {"c": "}"}]},\n  "stream_options": null\n}\n')
    write("jsonedit", "empty", bytes([4 + 7 * 5]) + b"{ }")
    write("jsonedit", "dupes", bytes([1 + 7]) + b'{"stream":true,"stream":false,"usage":null}')


def zstd_compress(data):
    r = subprocess.run(["zstd", "-q", "-c", "-19"], input=data, stdout=subprocess.PIPE, check=True)
    return r.stdout


def brotli_compress(data):
    import brotli
    return brotli.compress(data)


def seeds_decode():
    body = cut(fixture("openai/chat-plain/response.json"), 600)
    # byte 0 indexes decode's coding list: gzip deflate br zstd x-gzip …
    write("decode", "gzip", b"\x00" + gzip.compress(body, mtime=0))
    write("decode", "gzip-2-members", b"\x04" + gzip.compress(body[:100], mtime=0) + gzip.compress(body[100:], mtime=0))
    write("decode", "deflate-zlib", b"\x01" + zlib.compress(body))
    co = zlib.compressobj(wbits=-15)
    write("decode", "deflate-raw", b"\x06" + co.compress(body) + co.flush())
    try:
        write("decode", "br", b"\x02" + brotli_compress(body))
    except ImportError:
        print("make_corpus: python3-brotli missing, no br seed", file=sys.stderr)
    write("decode", "zstd", b"\x03" + zstd_compress(body))


# ---- TLS ------------------------------------------------------------------------

def client_hello(sni, tls12=False, alpn=True):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if tls12:
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    if alpn:
        ctx.set_alpn_protocols(["h2", "http/1.1"])
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname=sni)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return out.read()


def reframe(rec, sizes):
    """Split the handshake inside one TLS record into several records."""
    body = rec[5:]
    out, i, k = b"", 0, 0
    while i < len(body):
        n = sizes[k % len(sizes)]
        k += 1
        part = body[i:i + n]
        i += n
        out += rec[:3] + struct.pack(">H", len(part)) + part
    return out


def seeds_clienthello():
    # byte 0: SNI buffer size - 1 (255: 256 bytes), byte 1: scratch size (0: 64 KiB)
    write("clienthello", "openai-tls13", b"\xff\x00" + client_hello("api.openai.com"))
    write("clienthello", "anthropic-tls12", b"\xff\x00" + client_hello("API.Anthropic.com.", tls12=True))
    write("clienthello", "no-sni", b"\xff\x00" + client_hello(None, alpn=False))
    write("clienthello", "split-records", b"\xff\x00" + reframe(client_hello("openrouter.ai"), [3, 40, 200]))
    write("clienthello", "small-buffers", b"\x07\x10" + client_hello("generativelanguage.googleapis.com"))


# ---- store formats ----------------------------------------------------------------

def varint(v):
    out = b""
    while v >= 0x80:
        out += bytes([(v & 0x7F) | 0x80])
        v >>= 7
    return out + bytes([v])


def zz(v):
    return (v << 1) ^ (v >> 63) if v >= 0 else ((-v) << 1) - 1


def rec_int(num, v, signed=True):
    return varint(num << 3) + varint(zz(v) if signed else v)


def rec_str(num, s):
    return varint(num << 3 | 2) + varint(len(s)) + s + b"\0"


def seeds_record():
    r = b"\x01"
    r += rec_int(1, 1735689600123456) + rec_int(2, 842000) + rec_int(3, 120000)
    r += rec_str(4, b"api.openai.com") + rec_str(5, b"openai") + rec_str(6, b"POST")
    r += rec_str(7, b"/v1/chat/completions") + rec_str(9, b"gpt-4o-mini") + rec_str(10, b"gpt-4o-mini-2024-07-18")
    r += rec_int(11, 200) + rec_int(13, 24) + rec_int(14, 4) + rec_int(19, 5400) + rec_int(20, 1, False)
    r += rec_str(21, b"Workflow\0research\0team\0\0") + rec_str(22, b"alice") + rec_int(27, 1 | 512, False)
    r += rec_int(29, -1) + rec_str(30, b"x-ratelimit-remaining-requests\x009999\0retry-after\x002\0")
    r += rec_int(31, 4242) + rec_str(32, b"python3") + rec_str(35, b"chat") + rec_str(36, b"429:0,200:1350")
    r += rec_str(40, b"50/day") + rec_int(99, 7) + rec_str(77, b"unknown field")
    write("record", "full", r)
    write("record", "minimal", b"\x01")
    write("record", "defaults-written", b"\x01" + rec_int(3, -1) + rec_int(29, -1) + rec_str(4, b""))
    write("record", "newer-format", b"\x02" + rec_int(1, 1))


def body_blob(data, compress, trunc=False):
    head = bytes([1 if compress else 0, 1 if trunc else 0]) + varint(len(data))
    return head + (zstd_compress(data) if compress else data)


def cache_entry(body, compress, streamed=False):
    e = b"\x01" + varint(1735689600000000) + varint(1736294400000000) + bytes(range(16))
    e += varint(zz(5400)) + varint(200) + bytes([1 if streamed else 0])
    for t in (24, 4, 0, 0, 0, 0):
        e += varint(t)
    for s in (b"api.openai.com", b"gpt-4o-mini", b"/v1/chat/completions",
              b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"):
        e += varint(len(s)) + s
    return e + body_blob(body, compress)


def seeds_cachefmt():
    body = cut(fixture("openai/chat-plain/response.json"), 700)
    write("cachefmt", "plain-body", cache_entry(body[:60], False))
    write("cachefmt", "zstd-body", cache_entry(body, True, streamed=True))
    write("cachefmt", "blob-raw", body_blob(b'{"ok":true}', False, trunc=True))
    write("cachefmt", "blob-zstd", body_blob(body, True))


# ---- header values, settings, prices -------------------------------------------------

def seeds_header():
    m = lambda i: bytes([i])  # noqa: E731 — byte 0 picks the parser (fuzz_header.c)
    write("header", "go-duration", m(0) + b"1h2m3.5s")
    write("header", "go-duration-ms", m(0) + b"6m0s250ms")
    write("header", "retry-after", m(1) + b"retry-after: 2\nretry-after-ms: 1500\n"
          b"x-ratelimit-remaining-requests: 0\nx-ratelimit-reset-requests: 1m30s\n"
          b"x-ratelimit-remaining-tokens: 5\nx-ratelimit-reset-tokens: 6m0s")
    write("header", "retry-after-date", m(1 + 12) + b"Retry-After: Wed, 01 Jan 2025 00:00:30 GMT")
    write("header", "ratelimit", m(2) + b"1000;w=60;u=request;s=user")
    write("header", "ratelimit-cents", m(2) + b"12.5; w=3600 ;u=cents;s=Workflow")
    write("header", "codes", m(3) + b"429, 500-599,0")
    write("header", "fallbacks", m(4 | 0x80) + json.dumps([
        {"target-url": "https://api.groq.com/openai", "headers": {"Authorization": "Bearer $GROQ_API_KEY"},
         "onCodes": [429, {"from": 500, "to": 599}], "bodyKeyOverride": {"model": "llama-3.3-70b-versatile"}},
        {"target-url": "http://[::1]:11434/v1/", "headers": {"x-key": "${FUZZ_KEY}-$"}}]).encode())
    write("header", "budget", m(5) + b"50/day:warn,5/hour:block@user,$2.5/process:block:webhook=https://h.example/x")
    write("header", "budget-prop", m(5) + b" 0.25/month@property:Workflow, 1/total:block")
    write("header", "route", m(6) + b"https://127.0.0.1:8443/prefix/")
    write("header", "route-v6", m(6) + b"http://[::1]:11434")
    write("header", "expand-env", m(7) + b"Bearer $GROQ_API_KEY ${FUZZ_KEY} $ ${ $UNSET_VAR_X}")
    write("header", "options", m(8) + b"Helicone-Property-Workflow: research\r\nHelicone-User-Id: alice\r\n"
          b"Helicone-Cache-Enabled: true\r\nCache-Control: no-store, s-maxage=60, max-age=3600\r\n"
          b"Helicone-Cache-Bucket-Max-Size: 3\r\nHelicone-Cache-Ignore-Keys: temperature, seed\r\n"
          b"Helicone-Retry-Enabled: true\r\nHelicone-Retry-Num: 3\r\nHelicone-Retry-Factor: 1.5\r\n"
          b"Helicone-Retry-Min-Timeout: 500\r\nHelicone-Retry-Max-Timeout: 100\r\n"
          b"Helicone-Fallback-Model: gpt-4o-mini\r\nHelicone-Fallback-OnCodes: 429,500-599\r\n"
          b"Helicone-RateLimit-Policy: 10;w=60;s=user\r\nAuthorization: Bearer sk-x")
    write("header", "canonical", m(9) + b"temperature, seed\n" +
          b'{"z":1,"a":{"y":[3,{"b":null,"a":true}],"x":"\\u00e9"},"temperature":0.7,"seed":1.5e3}')
    write("header", "config", m(10) + b"api.openai.com=http://127.0.0.1:8080/v1,API.Anthropic.com=https://[::1]:8443\n"
          b"8M\n30s\n1d\n5\n1.5\n3\n429,503\nresearch\n250ms\n4096\noff")
    write("header", "durations", m(11) + b"2025-01-01T12:30:15.5Z")


def seeds_pricing():
    with open(os.path.join(ROOT, "data", "prices.tsv"), "rb") as f:
        lines = f.read().split(b"\n")
    header = next(l for l in lines if l.startswith(b"provider\t"))
    rows = [l for l in lines if l and not l.startswith(b"#") and l != header]
    rows = [r for r in rows if r.startswith(b"openai\t") or r.startswith(b"anthropic\t") or r.startswith(b"google\t")]
    sample = b"# user prices\n" + header + b"\n" + b"\n".join(rows[:4]) + b"\n"
    write("pricing", "file", b"\x00" + sample)
    write("pricing", "file-user-row", b"\x02" + header + b"\r\nopenai\tmy-ft-model\t1.25\t10\t\t\t\t\t0.000000001\t\t\t\t\t\t2025-01-01\n")
    write("pricing", "file-bad", b"\x04" + header + b"\nOpenAI\tgpt x\t-1\t1e3\t1.1234567\t\t\t\t\tabc\t\t\t\t\t2025-02-30\n")
    write("pricing", "lookup-dated", b"\x01" + b"openai\tgpt-4o-2024-08-06\t1000,200,100")
    write("pricing", "lookup-bedrock", b"\xff" + b"\tus.anthropic.claude-3-5-sonnet-20241022-v2:0\t300000,1,2,3,4,0")
    write("pricing", "lookup-router", b"\x03" + b"openrouter\tgoogle/gemini-2.5-pro-preview:free\t250000,9000,0,0,0,8000")


ALL = {
    "http_request": seeds_http_request, "http_response": seeds_http_response, "chunked": seeds_chunked,
    "stream": seeds_stream, "usage": seeds_usage, "clienthello": seeds_clienthello,
    "streamfix": seeds_streamfix, "jsonedit": seeds_jsonedit, "decode": seeds_decode,
    "record": seeds_record, "cachefmt": seeds_cachefmt, "header": seeds_header, "pricing": seeds_pricing,
    "jsonflat": seeds_jsonflat,
}


def main(argv):
    targets = argv[1:] or list(ALL)
    for t in targets:
        if t not in ALL:
            print("make_corpus: unknown target %s (known: %s)" % (t, " ".join(ALL)), file=sys.stderr)
            return 2
        clear(t)
        ALL[t]()
        d = os.path.join(CORPUS, t)
        files = os.listdir(d)
        size = sum(os.path.getsize(os.path.join(d, f)) for f in files)
        print("%-14s %3d files %6d bytes" % (t, len(files), size))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
