#!/usr/bin/python3
"""The environment hooks (shim/hook_env.c).

- A forked child that calls setenv, unsetenv, putenv and clearenv before it
  would exec needs no dlsym: the real functions were resolved before the fork
  (atfork prepare), like the exec family. Seen with LD_DEBUG=symbols (and
  LD_BIND_NOW=1, so the program's own lazy bindings are not lookups then): no
  lookup of those names in the child's pid.
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from hctest import TAP, World  # noqa: E402

FORK_ENV = r"""
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
int main(void)
{
    pid_t p = fork();
    if (p == 0) {
        setenv("HC_T_X", "1", 1);
        unsetenv("HC_T_X");
        putenv("HC_T_Y=1");
        clearenv();
        _exit(0);
    }
    int st = 0;
    waitpid(p, &st, 0);
    printf("%ld\n", (long)p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 99;
}
"""

NAMES = ("setenv", "unsetenv", "putenv", "clearenv")


def build(w, name, src):
    c = os.path.join(w.dir, name + ".c")
    with open(c, "w") as f:
        f.write(src)
    exe = os.path.join(w.dir, name)
    subprocess.run(["cc", "-o", exe, c], check=True)
    return exe


def main():
    t = TAP()
    with World() as w:
        exe = build(w, "forkenv", FORK_ENV)
        r = w.run([exe], LD_BIND_NOW="1", LD_DEBUG="symbols")
        t.eq(r.returncode, 0, "the forked child sets and clears variables and exits 0")
        child = r.stdout.strip()
        looked = [l.strip() for l in r.stderr.splitlines()
                  if l.strip().startswith(child + ":") and any("symbol=%s;" % n in l for n in NAMES)]
        t.ok(child.isdigit() and not looked, "no dlsym of setenv/unsetenv/putenv/clearenv in the forked child",
             looked[:6])
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
