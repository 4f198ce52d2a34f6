"""compat_session.py — an ordinary python3-requests app for test_compat.py that
makes several calls on one requests.Session (one keep-alive connection) and
reports, besides what the library gave it, every byte it read off its
connections, so a test can compare them with the bytes the server sent.

    compat_session.py PROVIDER PLAN PROMPT

PROVIDER  openai (chat completions) | anthropic (messages)
PLAN      one letter per call, in order: p plain, s streamed (stream=True,
          iter_content). OpenAI streams ask `stream_options.include_usage`,
          as an app does that wants its usage (observe mode changes no
          request, so only then is the usage in the stream).
PROMPT    call i asks "PROMPT i" when PLAN has more than one call, else PROMPT.

Calls go to https://api.openai.com / https://api.anthropic.com, or to
$COMPAT_ORIGIN (e.g. https://localhost:PORT) when set, trusting the CA of
REQUESTS_CA_BUNDLE as requests does. COMPAT_RESOLVE (below) points the
provider's own name at a server without changing the URL.

stdout: one JSON line per call: {"i", "prompt", "stream", "status", "raw" (the
body as the library handed it over: de-chunked and decompressed), "text"}.
stderr: "COMPAT-PEER <sha256 of the server certificate>" per TLS handshake and,
at the end, "COMPAT-WIRE <n> <hex>" per connection: every byte read from it
(after TLS), in order. Exit 0 when every call got a 200.
"""
import atexit
import hashlib
import json
import os
import socket
import ssl
import sys

import requests

WIRE = []  # [socket id, bytearray], in the order the connections first read


def _wire_of(sock):
    for k, buf in WIRE:
        if k == id(sock):
            return buf
    buf = bytearray()
    WIRE.append([id(sock), buf])
    return buf


def _tap(cls):
    recv_into = cls.recv_into

    def tapped(self, buffer, *a, **kw):
        n = recv_into(self, buffer, *a, **kw)
        if n:
            _wire_of(self).extend(memoryview(buffer)[:n])
        return n

    cls.recv_into = tapped


_tap(socket.socket)
_tap(ssl.SSLSocket)  # its own recv_into (OpenSSL reads the fd): not counted twice

_handshake = ssl.SSLSocket.do_handshake


def do_handshake(self, *a, **kw):
    r = _handshake(self, *a, **kw)
    der = self.getpeercert(binary_form=True)
    if der:
        sys.stderr.write("COMPAT-PEER %s\n" % hashlib.sha256(der).hexdigest())
    return r


ssl.SSLSocket.do_handshake = do_handshake


@atexit.register
def _report_wire():
    for n, (_, buf) in enumerate(WIRE):
        sys.stderr.write("COMPAT-WIRE %d %s\n" % (n, bytes(buf).hex()))
    sys.stderr.flush()


# COMPAT_RESOLVE=NAME:PORT=ADDR:PORT: the app's own name resolution answers ADDR:PORT
# for NAME:PORT (an /etc/hosts entry plus a port); TLS still names NAME (SNI,
# certificate check).
if os.environ.get("COMPAT_RESOLVE"):
    _src, _dst = os.environ["COMPAT_RESOLVE"].split("=")
    _name, _port = _src.rsplit(":", 1)
    _addr, _aport = _dst.rsplit(":", 1)
    _getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host, port, *a, **kw):
        if host == _name and str(port) == _port:
            host, port = _addr, int(_aport)
        return _getaddrinfo(host, port, *a, **kw)

    socket.getaddrinfo = getaddrinfo

provider, plan, prompt = sys.argv[1], sys.argv[2], sys.argv[3]
origin = os.environ.get("COMPAT_ORIGIN") or ("https://api.openai.com" if provider == "openai"
                                             else "https://api.anthropic.com")
s = requests.Session()
ok = True
for i, kind in enumerate(plan):
    stream = kind == "s"
    p = "%s %d" % (prompt, i) if len(plan) > 1 else prompt
    if provider == "openai":
        url = origin + "/v1/chat/completions"
        headers = {"Authorization": "Bearer sk-test-openai-SECRET-0123456789"}
        body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": p}]}
        if stream:
            body.update(stream=True, stream_options={"include_usage": True})
    else:
        url = origin + "/v1/messages"
        headers = {"x-api-key": "sk-ant-test-SECRET-9876543210", "anthropic-version": "2023-06-01"}
        body = {"model": "claude-3-5-haiku-latest", "max_tokens": 64, "messages": [{"role": "user", "content": p}]}
        if stream:
            body["stream"] = True
    headers["Content-Type"] = "application/json"
    r = s.post(url, data=json.dumps(body).encode(), headers=headers, stream=stream, timeout=30)
    raw = b"".join(r.iter_content(None)) if stream else r.content
    text = ""
    if r.status_code == 200:
        if not stream:
            d = json.loads(raw)
            text = (d["choices"][0]["message"]["content"] if provider == "openai"
                    else "".join(b.get("text", "") for b in d["content"]))
        else:
            for line in raw.decode().splitlines():
                data = line[5:].strip() if line.startswith("data:") else ""
                if not data or data == "[DONE]":
                    continue
                d = json.loads(data)
                if provider == "openai":
                    text += "".join(ch["delta"].get("content") or "" for ch in d.get("choices", []))
                elif d.get("type") == "content_block_delta":
                    text += d["delta"].get("text", "")
    ok = ok and r.status_code == 200
    print(json.dumps({"i": i, "prompt": p, "stream": stream, "status": r.status_code,
                      "raw": raw.decode("utf-8", "surrogateescape"), "text": text}), flush=True)
sys.exit(0 if ok else 1)
