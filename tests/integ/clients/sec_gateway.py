"""An app that shows where its in-process gateway listens, then idles.

Makes one ordinary call (so the shim starts its gateway), then prints one JSON
line: {"status", "listen": [[family, address, port], ...]} — the listening
TCP sockets this process owns, found by matching the socket inodes of
/proc/self/fd against /proc/self/net/tcp{,6} — and "idle_port": the local
port of a connection to api.openai.com:443 it keeps open (registered with the
gateway, nothing sent). Then it reads commands from stdin: "call" makes one
more call and prints {"status"}; "calls N" makes N calls, each on a new
connection, and prints {"ok": answered with 200, "errors": [...]}; EOF exits.
"""
import json
import os
import socket
import sys
import urllib.request

URL = "https://api.openai.com/v1/chat/completions"
BODY = b'{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "who listens"}]}'
H = {"Authorization": "Bearer sk-test-listen-0123456789", "Content-Type": "application/json"}


def listening():
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            link = os.readlink("/proc/self/fd/" + fd)
        except OSError:
            continue
        if link.startswith("socket:["):
            inodes.add(link[8:-1])
    out = []
    for fam, path in (("4", "/proc/self/net/tcp"), ("6", "/proc/self/net/tcp6")):
        try:
            with open(path) as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            f = row.split()
            if f[3] == "0A" and f[9] in inodes:  # TCP_LISTEN
                addr, port = f[1].split(":")
                out.append([fam, addr, int(port, 16)])
    return out


def call():
    with urllib.request.urlopen(urllib.request.Request(URL, data=BODY, headers=H), timeout=20) as r:
        r.read()
        return r.status


status = call()
idle = socket.create_connection(("api.openai.com", 443))
print(json.dumps({"status": status, "listen": listening(), "idle_port": idle.getsockname()[1]}), flush=True)
for line in sys.stdin:
    cmd = line.split()
    if cmd == ["call"]:
        print(json.dumps({"status": call()}), flush=True)
    elif cmd and cmd[0] == "calls":
        ok, errors = 0, []
        for i in range(int(cmd[1])):
            try:
                ok += call() == 200
            except Exception as e:
                errors.append("%s: %s" % (type(e).__name__, str(e)[:120]))
        print(json.dumps({"ok": ok, "errors": errors}), flush=True)
idle.close()
