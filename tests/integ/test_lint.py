#!/usr/bin/python3
"""test_lint — `make lint`'s tools do what docs/DESIGN.md says.

scripts/checksrc runs in a throwaway tree (a copy of the script, a README with a Layout
table, a core/ module breaking each rule): every rule reports the right line, the
allow list lets exactly the listed counts pass, a count over the list fails, a count
under it is a note, misuse exits 2 naming the bad argument. clang-format accepts the
committed .clang-format and leaves house-style code untouched.
"""
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from hctest import ROOT, TAP  # noqa: E402

PROBE = """\
static int f(hc_buf *b, char *d, const char *s)
{
    strcpy(d, s); /* strcpy( in a comment is fine */
    const char *t = "sprintf( in a string is fine";
    hc_buf_puts(b, "x");
    fwrite(b->data, 1, b->len, stdout);
    if (hc_buf_error(b))
        return -1;
    int rc = hc_io_write(io, b->data, b->len);
    if (rc)
        hc_buf_printf(b, "%d", atoi(s));
    return rc + t[0];TRAILING
}

static void h(hc_io *io, hc_buf *b, int fd)
{
    hc_io_write_buf(io, b);
    send(fd, b->data, b->len, 0);
    puts(fmt_built(b));
    fwrite(fmt_built(b), 1, b->len, stdout);
}
""".replace("TRAILING", " ")

LONG = "static void g(void)\n{\n" + "    n++;\n" * 81 + "}\n" + "/* " + "x" * 100 + " */\n"


def run(tree, *args):
    p = subprocess.run([sys.executable, os.path.join(tree, "scripts", "checksrc")] + list(args),
                       capture_output=True, text=True, cwd=tree)
    return p.returncode, p.stdout + p.stderr


def make_tree():
    tree = tempfile.mkdtemp(prefix="hclint-")
    os.makedirs(os.path.join(tree, "scripts"))
    os.makedirs(os.path.join(tree, "core"))
    shutil.copy(os.path.join(ROOT, "scripts", "checksrc"), os.path.join(tree, "scripts", "checksrc"))
    with open(os.path.join(tree, "README.md"), "w") as f:
        f.write("# x\n\n## Layout\n\n| `core/` | `probe.c` the probe |\n\n## Next\n\nlong.c\n")
    with open(os.path.join(tree, "core", "probe.c"), "w") as f:
        f.write(PROBE)
    with open(os.path.join(tree, "core", "long.c"), "w") as f:
        f.write(LONG)
    return tree


def test_rules(t, tree):
    rc, out = run(tree, "--allow", "/dev/null")
    t.eq(rc, 1, "problems: exit 1")
    want = [
        "core/probe.c:3: banned: strcpy()",
        "core/probe.c:6: unchecked-buf: fwrite() writes out b.data with no hc_buf_error(b)",
        "core/probe.c:11: banned: atoi()",
        "core/probe.c:12: whitespace:",
        "core/probe.c:18: unchecked-buf: send() writes out b.data",
        "core/long.c:3: long-function: g() is 81 lines long",
        "core/long.c:85: long-line: 106 columns",
        "core/long.c:1: layout: not named in README.md's Layout table",
    ]
    for w in want:
        t.ok(w in out, "reported: " + w, out)
    t.ok(all("probe.c:%d:" % n not in out for n in (4, 5, 9, 17, 19, 20)),
         "no report for a string, an append, a write after hc_buf_error, hc_io_write_buf or "
         "fmt_built", out)
    t.ok("checksrc: 8 problem(s)" in out, "8 problems counted", out)


def test_allow(t, tree):
    allow = os.path.join(tree, "allow")
    with open(allow, "w") as f:
        f.write("# comment\n"
                "banned core/probe.c:strcpy 1\nbanned core/probe.c:atoi 1\n"
                "unchecked-buf core/probe.c 2\nlong-function core/long.c:g 81\n"
                "long-line core/long.c *\n")
    with open(os.path.join(tree, "README.md"), "a") as f:
        f.write("")
    rc, out = run(tree, "--allow", allow)
    t.ok(rc == 1 and "whitespace" in out and "layout" in out and "banned" not in out,
         "allowed rules pass; the others still fail", out)
    with open(os.path.join(tree, "core", "probe.c"), "w") as f:
        f.write(PROBE.replace("return rc + t[0]; ", "return rc + t[0];"))
    with open(os.path.join(tree, "README.md"), "w") as f:
        f.write("# x\n\n## Layout\n\n`probe.c`, `long.c`\n")
    rc, out = run(tree, "--allow", allow)
    t.eq(rc, 0, "with every count allowed: exit 0")
    with open(allow, "a") as f:
        f.write("long-line core/probe.c 3\nlong-line core/gone.c *\n")
    with open(allow) as f:
        text = f.read()
    with open(allow, "w") as f:
        f.write(text.replace("unchecked-buf core/probe.c 2", "unchecked-buf core/probe.c 1"))
    rc, out = run(tree, "--allow", allow)
    t.ok(rc == 1 and "unchecked-buf core/probe.c: 2, allowed 1" in out, "one more than allowed fails", out)
    t.ok("core/probe.c:6: unchecked-buf" in out and "core/probe.c:18: unchecked-buf" in out,
         "…and lists every hit of that entry", out)
    t.ok("note: long-line core/probe.c can be removed (now 0, allowed 3)" in out,
         "an entry above the count is a note to lower it", out)
    t.ok("long-line core/gone.c can be removed" in out and "core/long.c can be" not in out,
         "a '*' entry is a note only once the file has no long line", out)
    rc, out = run(tree, "--print-allow")
    t.ok(rc == 0 and "long-function  core/long.c:g 81" in out and "unchecked-buf  core/probe.c 2" in out,
         "--print-allow prints what the tree needs now", out)


def test_misuse(t, tree):
    rc, out = run(tree, "--bogus")
    t.ok(rc == 2 and "--bogus" in out, "an unknown option: exit 2, named", out)
    rc, out = run(tree, "core/nope.c")
    t.ok(rc == 2 and "core/nope.c" in out, "a missing file: exit 2, named", out)
    rc, out = run(tree, "--allow")
    t.ok(rc == 2 and "--allow needs a file" in out, "--allow without a file: exit 2", out)
    allow = os.path.join(tree, "bad-allow")
    with open(allow, "w") as f:
        f.write("banned core/probe.c:strcpy many\n")
    rc, out = run(tree, "--allow", allow)
    t.ok(rc != 0 and ":1: expected 'RULE PATH[:NAME] N'" in out, "a malformed allow line is named", out)
    rc, out = run(tree, "-h")
    t.ok(rc == 0 and "checksrc" in out, "-h: usage, exit 0", out)


def test_clang_format(t):
    exe = shutil.which("clang-format")
    if not exe:
        t.ok(True, "# SKIP clang-format is not installed (scripts/deps.sh test)")
        return
    p = subprocess.run([exe, "--dump-config", "--style=file:" + os.path.join(ROOT, ".clang-format")],
                       capture_output=True, text=True)
    t.ok(p.returncode == 0 and "ColumnLimit:     100" in p.stdout, "clang-format accepts .clang-format",
         p.stderr)
    sample = (
        "/* sample.c */\n"
        "#include \"err.h\"\n\n"
        "typedef struct hc_thing {\n"
        "    int n;      /* count */\n"
        "    char *name; /* owned */\n"
        "} hc_thing;\n\n"
        "static const char *word(int status)\n"
        "{\n"
        "    switch (status) {\n"
        "    case 1: return \"one\";\n"
        "    case 2:\n"
        "        if (status > 1)\n"
        "            return \"two\";\n"
        "        break;\n"
        "    }\n"
        "    return NULL;\n"
        "}\n\n"
        "int hc_thing_init(hc_thing *t, const char *name, size_t len)\n"
        "{\n"
        "    if (!t || !name)\n"
        "        return HC_EINVAL;\n"
        "    for (size_t i = 0; i < len; i++) {\n"
        "        if (name[i] == '\\n')\n"
        "            goto bad;\n"
        "    }\n"
        "    t->n = (int)len;\n"
        "    return 0;\n"
        "bad:\n"
        "    return HC_EPARSE;\n"
        "}\n")
    p = subprocess.run([exe, "--style=file:" + os.path.join(ROOT, ".clang-format"),
                        "--assume-filename=sample.c"], input=sample, capture_output=True, text=True)
    t.ok(p.returncode == 0 and p.stdout == sample, "house-style code is left as it is", p.stdout)


def main():
    t = TAP()
    tree = make_tree()
    try:
        test_rules(t, tree)
        test_allow(t, tree)
        test_misuse(t, tree)
        test_clang_format(t)
    finally:
        shutil.rmtree(tree, ignore_errors=True)
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
