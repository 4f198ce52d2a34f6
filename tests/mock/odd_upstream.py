#!/usr/bin/python3
"""A TLS upstream with one odd habit per MODE; every answer ends by closing
TCP without a TLS close_notify (as many real servers do).

usage: odd_upstream.py CERT KEY MODE   (prints its port, serves forever)
  MODE close: a close-delimited body (no Content-Length, Connection: close),
              complete; many real servers end it this way
  MODE trunc: Content-Length 50 bytes more than sent: a truncated answer
  MODE bomb:  a complete gzip answer (Content-Length) that decodes to 64 MiB
              of zeros from 64 KiB: a compression bomb
  MODE many:  a 200 with 150 headers (X-Many-0 … X-Many-149)
  MODE huge:  a 200 whose one header is 1 MiB long
  MODE early: 103 Early Hints (a Link header), then the 200
"""
import socket, ssl, sys, threading, zlib
cert, key, mode = sys.argv[1], sys.argv[2], sys.argv[3]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); ctx.load_cert_chain(cert, key)
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(8)
print(s.getsockname()[1], flush=True)
body = b'{"id":"x","object":"chat.completion","model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"hello"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}'
def recv(t):
    chunk = t.recv(65536)
    if not chunk:
        raise OSError("the client closed")
    return chunk


def serve(c):
    t = ctx.wrap_socket(c, server_side=True)
    data = b""
    while b"\r\n\r\n" not in data:
        data += recv(t)
    head, rest = data.split(b"\r\n\r\n", 1)
    cl = [int(l.split(b":")[1]) for l in head.split(b"\r\n") if l.lower().startswith(b"content-length")]
    while cl and len(rest) < cl[0]:
        rest += recv(t)
    ok_head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n" % len(body)
    if mode == "many":
        t.sendall(ok_head + b"".join(b"X-Many-%d: v%d\r\n" % (i, i) for i in range(150)) + b"\r\n" + body)
    elif mode == "huge":
        t.sendall(ok_head + b"X-Huge: " + b"h" * (1 << 20) + b"\r\n\r\n" + body)
    elif mode == "early":
        t.sendall(b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n")
        t.sendall(ok_head + b"\r\n" + body)
    elif mode == "bomb":
        z = zlib.compressobj(9, zlib.DEFLATED, 31)
        gz = b"".join(z.compress(bytes(1 << 20)) for _ in range(64)) + z.flush()
        t.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\n"
                  b"Content-Length: %d\r\n\r\n" % len(gz) + gz)
    elif mode == "close":
        t.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n" + body)
    else:  # truncated content-length
        t.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % (len(body) + 50) + body)
    # no close_notify: close the TCP socket under the TLS layer
    c2 = socket.socket(fileno=t.detach()); c2.close()


while True:
    conn, _ = s.accept()
    try:
        serve(conn)
    except (OSError, ssl.SSLError):
        conn.close()  # a client that gave up (curl refuses a 1 MiB header): serve the next one
