"""An app that resolves with the legacy API: socket.gethostbyname_ex (CPython
calls gethostbyname_r), then connects to the first address itself and speaks
HTTPS (SNI and certificate check for the name) to an OpenAI-style endpoint.

argv: HOST [PORT [PROMPT]]; stdout: "# resolved ADDR" then one JSON line like
the other clients; stderr: COMPAT-PEER <sha256 of the server certificate>."""
import hashlib
import json
import socket
import ssl
import sys

host = sys.argv[1]
port = int(sys.argv[2]) if len(sys.argv) > 2 else 443
prompt = sys.argv[3] if len(sys.argv) > 3 else "say hello to the test"
name, aliases, addrs = socket.gethostbyname_ex(host)
print("# resolved %s" % addrs[0], flush=True)
body = json.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": prompt}]}).encode()
raw = socket.create_connection((addrs[0], port), timeout=30)
with ssl.create_default_context().wrap_socket(raw, server_hostname=host) as s:
    sys.stderr.write("COMPAT-PEER %s\n" % hashlib.sha256(s.getpeercert(True)).hexdigest())
    s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer sk-test-openai-SECRET-0123456789\r\n"
              b"Content-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s"
              % (host.encode(), len(body), body))
    data = b""
    while True:
        b = s.recv(65536)
        if not b:
            break
        data += b
head, _, payload = data.partition(b"\r\n\r\n")
status = int(head.split()[1])
d = json.loads(payload)
print(json.dumps({"status": status, "raw": payload.decode(), "text": d["choices"][0]["message"]["content"]}), flush=True)
