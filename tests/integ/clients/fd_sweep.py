"""An app that sweeps its descriptors between LLM calls, then uses files.

usage: fd_sweep.py MODE BASE_URL N_BEFORE N_AFTER WORKDIR [then]
  MODE: none | closerange (os.closerange, glibc close_range) | closefrom
        (libc closefrom) | raw (the close_range system call through
        syscall(2): no hook sees it) | dup2 (dup2 of one file onto 3..63)
        | rawpending (the raw close while one more call is in flight in a
        thread, then a pause before the files: the shim's exchange ends
        after the close, and the store is opened again on the lowest free
        numbers, which the gateway's listener had)
  then: exec (os.execv of a python that prints "exec ok"), exec:K (exec
        this program again K times, each making N_BEFORE calls, then exec)
        or quick_exit (libc quick_exit(0)) right after the last call

Prints one JSON line: calls that succeeded, errors, and whether every file
the app wrote holds exactly what it wrote (no byte of anybody else's).
"""
import ctypes
import json
import os
import sys
import urllib.request

mode, base, n_before, n_after, workdir = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
then = sys.argv[6] if len(sys.argv) > 6 else ""
libc = ctypes.CDLL(None, use_errno=True)
out = {"ok": 0, "errors": []}


def call(i):
    body = json.dumps({"model": "gpt-4o-mini",
                       "messages": [{"role": "user", "content": "secret-prompt-%d fd sweep" % i}]}).encode()
    req = urllib.request.Request(base + "/chat/completions", data=body, headers={
        "Authorization": "Bearer sk-test-fdsweep-0123456789", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=20) as r:
            json.loads(r.read())
            out["ok"] += 1
    except Exception as e:  # noqa: BLE001 - the outcome is what is compared
        out["errors"].append("%s: %s" % (type(e).__name__, e))


for i in range(n_before):
    call(i)

if then:  # leave right after the last answer, as an exec'ing tool does
    out["files_ok"] = True
    print(json.dumps(out), flush=True)
    if then == "exec" or then == "exec:0":
        os.execv(sys.executable, [sys.executable, "-c", "print('exec ok')"])
    if then.startswith("exec:"):  # a chain: this program again, K-1 more times
        os.execv(sys.executable, [sys.executable] + sys.argv[:6] + ["exec:%d" % (int(then[5:]) - 1)])
    libc.quick_exit(0)

if mode == "closerange":
    os.closerange(3, 65536)
elif mode == "closefrom":
    libc.closefrom(3)
elif mode == "raw":
    libc.syscall(ctypes.c_long(436), ctypes.c_uint(3), ctypes.c_uint(0xFFFFFFFF), ctypes.c_uint(0))
elif mode == "rawpending":
    import threading
    import time
    side = {"ok": 0, "errors": []}

    def pending():
        global out
        mine = out = side  # its outcome apart: its socket is closed under it
        call(-1)
        return mine

    th = threading.Thread(target=pending)
    main_out = out
    th.start()
    time.sleep(0.15)  # the request is out, the (slow) answer is not back
    libc.syscall(ctypes.c_long(436), ctypes.c_uint(3), ctypes.c_uint(0xFFFFFFFF), ctypes.c_uint(0))
    th.join()
    out = main_out
    time.sleep(0.5)  # the shim records the interrupted exchange: its store is opened again
elif mode == "dup2":
    f = os.open(os.path.join(workdir, "dup2-target"), os.O_RDWR | os.O_CREAT, 0o600)
    for n in range(3, 64):
        if n != f:
            os.dup2(f, n)
    for n in range(3, 64):
        if n != f:
            os.close(n)
    os.close(f)

files = []
for k in range(40):
    fd = os.open(os.path.join(workdir, "app-%d" % k), os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
    os.write(fd, b"app line one %d\n" % k)
    files.append(fd)

for i in range(n_after):
    call(n_before + i)

good = True
for k, fd in enumerate(files):
    try:
        os.write(fd, b"app line two %d\n" % k)
        os.close(fd)
    except OSError as e:
        out["errors"].append("file %d: %s" % (k, e))
        good = False
for k in range(40):
    with open(os.path.join(workdir, "app-%d" % k), "rb") as f:
        if f.read() != b"app line one %d\napp line two %d\n" % (k, k):
            good = False
out["files_ok"] = good
print(json.dumps(out), flush=True)
