#!/usr/bin/python3
"""The constructor's Node/Bun question costs a process nothing visible (shim/trust.c).

- A program whose first dl call is dlerror() gets NULL under the shim, as
  without it (before: "...libhcshim.so: undefined symbol: napi_create_object",
  left by a failed dlsym in the constructor).
- `strace -c /bin/true` under the shim makes no getrandom, brk or futex call
  that the same run with an empty library preloaded does not make (before: a
  failed dlsym initialised malloc, and pthread_once took a futex).
- Node is still recognised: under the shim it gets NODE_EXTRA_CA_CERTS set to
  the gateway's CA file (prepare_node_trust), and a non-runtime does not.
"""
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from hctest import PYTHON, TAP, World  # noqa: E402

DLERROR = r"""
#include <dlfcn.h>
#include <stdio.h>
int main(void) { const char *e = dlerror(); printf("%s\n", e ? e : "NULL"); return 0; }
"""


def syscalls(w, preload):
    out = os.path.join(w.dir, "strace.txt")
    r = w.run(["strace", "-c", "-o", out, "/bin/true"], LD_PRELOAD=preload, HC_RUN_ID="test-run")
    counts = {}
    with open(out) as f:
        for line in f:
            m = re.match(r"^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(\w+)\s*$", line)
            if m:
                counts[m.group(2)] = int(m.group(1))
    return r, counts


def main():
    t = TAP()
    with World() as w:
        src = os.path.join(w.dir, "dlerr.c")
        with open(src, "w") as f:
            f.write(DLERROR)
        exe = os.path.join(w.dir, "dlerr")
        subprocess.run(["cc", "-o", exe, src, "-ldl"], check=True)
        r = w.run([exe])
        t.eq(r.stdout.strip(), "NULL", "a first dlerror() under the shim returns NULL, as without it")

        if shutil.which("strace"):
            empty = os.path.join(w.dir, "empty.so")
            subprocess.run(["cc", "-shared", "-fPIC", "-o", empty, "-x", "c", "/dev/null"], check=True)
            _, base = syscalls(w, empty)
            _, shim = syscalls(w, w.env()["LD_PRELOAD"])
            for sc in ("getrandom", "brk", "futex"):
                t.ok(shim.get(sc, 0) <= base.get(sc, 0), "/bin/true under the shim: no %s beyond an empty "
                     "preload's" % sc, "shim %d, empty %d" % (shim.get(sc, 0), base.get(sc, 0)))
        else:
            for _ in range(3):
                t.ok(True, "# SKIP strace not installed")

        if shutil.which("node"):
            js = "console.log(process.env.NODE_EXTRA_CA_CERTS || 'unset')"
            r = w.run(["node", "-e", js], NODE_EXTRA_CA_CERTS=None)
            ca = r.stdout.strip()
            t.ok("hcshim" in ca and os.path.basename(ca).startswith("hcshim-ca-"),
                 "node is recognised: it gets the gateway's CA through NODE_EXTRA_CA_CERTS", r.stdout + r.stderr)
        else:
            t.ok(True, "# SKIP node not installed")
        r = w.run([PYTHON, "-c", "import os; print(os.environ.get('NODE_EXTRA_CA_CERTS', 'unset'))"],
                  NODE_EXTRA_CA_CERTS=None)
        t.eq(r.stdout.strip(), "unset", "python is not a Node runtime: no NODE_EXTRA_CA_CERTS")
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
