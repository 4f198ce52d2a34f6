#!/usr/bin/env python3
"""funclen.py — list C functions longer than a limit (house style: about 80 lines).

usage: scripts/funclen.py [--max N] [--all] PATH...

PATH is a .c file or a directory (searched for .c files). A function is a
definition in the project's style: its signature starts at column 0 and its
body opens with "{" alone at column 0 and closes with "}" alone at column 0.
Its length is the lines from that "{" to that "}", both included.
Prints "LINES  FILE:LINE  NAME" for each function over the limit (every
function with --all), longest first; exits 1 when any is over, 0 when none,
2 on bad arguments.
"""
import os
import re
import sys

NAME_RE = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*\(")


def functions(path):
    """Yield (name, line of '{', length) for every function of one file."""
    with open(path, encoding="utf-8", errors="replace") as f:
        lines = f.read().split("\n")
    i = 0
    while i < len(lines):
        if lines[i].rstrip() != "{":
            i += 1
            continue
        # The signature: the lines above, back to one starting at column 0.
        j = i - 1
        while j >= 0 and lines[j][:1] in (" ", "\t") and lines[j].strip():
            j -= 1
        sig = " ".join(l.strip() for l in lines[max(j, 0):i])
        m = NAME_RE.search(sig)
        if j < 0 or not m or sig.startswith(("struct ", "union ", "enum ", "typedef ", "#")) or "=" in sig.split("(")[0]:
            i += 1
            continue
        k = i + 1
        while k < len(lines) and lines[k].rstrip() != "}":
            k += 1
        if k < len(lines):
            yield m.group(1), i + 1, k - i + 1
        i = k + 1


def c_files(p):
    if os.path.isdir(p):
        for root, _dirs, files in os.walk(p):
            for n in sorted(files):
                if n.endswith(".c"):
                    yield os.path.join(root, n)
    else:
        yield p


def main(argv):
    limit, show_all, paths = 80, False, []
    it = iter(argv)
    for a in it:
        if a == "--max":
            v = next(it, None)
            if v is None or not v.isdigit() or int(v) < 1:
                print("funclen.py: --max needs a positive number of lines, got %r" % v, file=sys.stderr)
                return 2
            limit = int(v)
        elif a == "--all":
            show_all = True
        elif a in ("-h", "--help"):
            print(__doc__.strip())
            return 0
        elif a.startswith("-"):
            print("funclen.py: unknown option %r (expected --max N, --all)" % a, file=sys.stderr)
            return 2
        else:
            paths.append(a)
    if not paths:
        print("funclen.py: no PATH given (a .c file or a directory)", file=sys.stderr)
        return 2
    rows = []
    for p in paths:
        if not os.path.exists(p):
            print("funclen.py: %s: no such file or directory" % p, file=sys.stderr)
            return 2
        for f in c_files(p):
            for name, line, n in functions(f):
                if show_all or n > limit:
                    rows.append((n, "%s:%d" % (f, line), name))
    rows.sort(key=lambda r: (-r[0], r[1]))
    for n, where, name in rows:
        print("%5d  %s  %s" % (n, where, name))
    return 1 if any(n > limit for n, _w, _n in rows) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
