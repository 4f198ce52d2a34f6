#!/usr/bin/python3
"""The environment hooks (shim/hook_env.c).

- A forked child that calls setenv, unsetenv, putenv and clearenv before it
  would exec needs no dlsym: the real functions were resolved before the fork
  (atfork prepare), like the exec family. Seen with LD_DEBUG=symbols (and
  LD_BIND_NOW=1, so the program's own lazy bindings are not lookups then): no
  lookup of those names in the child's pid.
- setenv("PYTEST_CURRENT_TEST", v, 1) copies v itself: the hook calls no
  getenv after libc's setenv (getenv takes no lock; another thread's setenv
  may move environ under it). Seen by a program that defines its own getenv
  (the executable comes first in the lookup scope, so the shim's calls reach
  it), counting lookups of the variable made inside setenv.
- No gateway thread reads HC_CORE_LIB, HC_REPLAY*, HC_CASSETTE or HC_SHARED*:
  they are read on the app's thread (constructor, core start). Seen by a
  getenv preloaded before the shim that reports reads on other threads, over
  an HTTPS call from Python's main thread to a routed LLM host.
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from hctest import PYTHON, TAP, World  # noqa: E402

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

GETENV_IN_SETENV = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
extern char **environ;
static int in_setenv, lookups;
char *getenv(const char *name)
{
    size_t n = strlen(name);
    if (in_setenv && strcmp(name, "PYTEST_CURRENT_TEST") == 0)
        lookups++;
    for (char **e = environ; e && *e; e++)
        if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
            return *e + n + 1;
    return NULL;
}
int main(void)
{
    in_setenv = 1;
    int rc = setenv("PYTEST_CURRENT_TEST", "tests/test_a.py::test_x (call)", 1);
    rc |= setenv("PYTEST_CURRENT_TEST", "tests/test_a.py::test_y (call)", 1);
    in_setenv = 0;
    printf("%d %d %s\n", rc, lookups, getenv("PYTEST_CURRENT_TEST"));
    return 0;
}
"""

SPY = r"""
#define _GNU_SOURCE
#include <string.h>
#include <unistd.h>
extern char **environ;
char *getenv(const char *name)
{
    size_t n = strlen(name);
    if (strncmp(name, "HC_", 3) == 0 && gettid() != getpid()) {
        (void)!write(2, "spy: thread getenv ", 19);
        (void)!write(2, name, n);
        (void)!write(2, "\n", 1);
    }
    for (char **e = environ; e && *e; e++)
        if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
            return *e + n + 1;
    return NULL;
}
"""
APP_THREAD_ONLY = ("HC_CORE_LIB", "HC_REPLAY", "HC_CASSETTE", "HC_SHARED")

NAMES = ("setenv", "unsetenv", "putenv", "clearenv")


def build(w, name, src, *flags):
    c = os.path.join(w.dir, name + ".c")
    with open(c, "w") as f:
        f.write(src)
    exe = os.path.join(w.dir, name)
    subprocess.run(["cc"] + list(flags) + ["-o", exe, c], check=True)
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

        exe = build(w, "getenvcount", GETENV_IN_SETENV, "-rdynamic")
        r = w.run([exe])
        t.eq(r.stdout.strip(), "0 0 tests/test_a.py::test_y (call)",
             "setenv of PYTEST_CURRENT_TEST: libc's answer, and no getenv of it from the hook")

        c = os.path.join(w.dir, "spy.c")
        with open(c, "w") as f:
            f.write(SPY)
        spy = os.path.join(w.dir, "spy.so")
        subprocess.run(["cc", "-shared", "-fPIC", "-o", spy, c], check=True)
        py = ("import json, sys, urllib.request\n"
              "r = urllib.request.Request('https://api.openai.com/v1/chat/completions', data=json.dumps("
              "{'model': 'gpt-4o-mini', 'messages': [{'role': 'user', 'content': 'hi'}]}).encode(), headers="
              "{'Content-Type': 'application/json', 'Authorization': 'Bearer sk-test-env-0123456789'})\n"
              "print(json.load(urllib.request.urlopen(r, timeout=20))['choices'][0]['message']['content'])\n")
        r = w.run([PYTHON, "-c", py], LD_PRELOAD=spy + " " + w.env()["LD_PRELOAD"])
        t.ok(r.returncode == 0 and r.stdout.strip(), "a Python call (all on its main thread) through the gateway "
             "works with the spy", r.stderr[-400:])
        t.eq(len(w.records(wait_for=1)), 1, "the call is recorded")
        bad = sorted(set(l.split()[-1] for l in r.stderr.splitlines() if l.startswith("spy: thread getenv ")
                         and l.split()[-1].startswith(APP_THREAD_ONLY)))
        t.eq(bad, [], "HC_CORE_LIB, HC_REPLAY*, HC_CASSETTE, HC_SHARED* are not read on a gateway thread")
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
