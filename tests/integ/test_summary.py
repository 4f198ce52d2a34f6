#!/usr/bin/python3
"""The one-line summary at the end of a process tree (shim/summary.h, core/tally.h).

- bare LD_PRELOAD, default: no summary line (quiet).
- HC_SUMMARY=1 over `sh -c 'curl; curl; python3 urllib'`: exactly one line, from
  the top process, for the three processes together: calls, tokens, cost and
  errors equal the store's records (a 401 without a key is the error); the
  apps' outputs equal the same commands' without the shim (against the mock
  directly); the summary file is gone and was mode 0600 while the tree ran.
- the top process ends with os._exit(): the line is still printed.
- children that exit without exec (a shell's pipeline stage or $(...), Python
  os.fork() + os._exit(), C fork() + _exit(), vfork() + failed exec + _exit())
  print nothing: the tree's one line comes from the top process, last, with
  the whole tree's totals.
- hc-run prints the line by default, keeps the command's exit status,
  --no-summary and HC_SUMMARY=0 silence it.
"""
import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from hctest import PYTHON, ROOT, SHIM, TAP, World  # noqa: E402

HC_RUN = os.path.join(ROOT, "scripts", "hc-run")
BODY = json.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "count my tokens please"}]})
KEY = "sk-test-summary-0123456789"
LINE = re.compile(r"^hcshim: (\d[\d,]*) LLM calls?(?:, ([\d,]+) tokens \(([\d,]+) in, ([\d,]+) out\), (\$[0-9.]+)"
                  r"(?:, (\d+) errors?))?.* · more: hc-analyze report( --db \S+)?( --run \S+)?$")


def curl_cmd(base, key=True):
    c = "curl -sS -X POST %s/v1/chat/completions -H 'Content-Type: application/json' --data-binary '%s'" % (base, BODY)
    return c + (" -H 'Authorization: Bearer %s'" % KEY if key else "")


PY = ("import json, urllib.request, urllib.error, sys\n"
      "r = urllib.request.Request(sys.argv[1] + '/v1/chat/completions', data=%r.encode(),\n"
      "    headers={'Content-Type': 'application/json', 'Authorization': 'Bearer %s'})\n"
      "print(json.load(urllib.request.urlopen(r, timeout=20))['choices'][0]['message']['content'])\n" % (BODY, KEY))


def tree(base):
    return "%s; echo; %s; echo; %s %s -c \"$PYSRC\" %s; stat -c %%a \"$HC_SUMMARY_FILE\" 2>/dev/null" % (
        curl_cmd(base), curl_cmd(base, key=False), "", PYTHON, base)


def summary_lines(stderr):
    return [l for l in stderr.splitlines() if l.startswith("hcshim: ") and "LLM call" in l]


def money(nusd):
    """hc-analyze's money rule: cents from $1 up, three significant digits below."""
    if nusd <= 0:
        return "$0"
    dec = 2 if nusd >= 10**9 else min(9, 12 - len(str(nusd)))
    while True:
        div = 10 ** (9 - dec)
        r = (nusd + div // 2) // div
        if dec > 2 and nusd < 10**9 and r >= 1000:
            dec -= 1
            continue
        return "$%d.%0*d" % (r // 10**dec, dec, r % 10**dec)


def main():
    t = TAP()
    with World() as w:
        base = "https://api.openai.com"
        tmp = os.path.join(w.dir, "tmp")
        os.makedirs(tmp)

        r = w.run(["sh", "-c", tree(base)], PYSRC=PY, TMPDIR=tmp)
        t.eq(summary_lines(r.stderr), [], "bare LD_PRELOAD without HC_SUMMARY: no summary line")
        w.reset_store()

        r = w.run(["sh", "-c", tree(base)], PYSRC=PY, TMPDIR=tmp, HC_SUMMARY="1")
        lines = summary_lines(r.stderr)
        t.eq(len(lines), 1, "HC_SUMMARY=1: exactly one summary line for the tree", )
        recs = w.records(wait_for=3)
        t.eq(len(recs), 3, "three records in the store")
        m = LINE.match(lines[0]) if lines else None
        t.ok(m is not None, "the line has the documented shape", lines)
        if m and len(recs) == 3:
            tin = sum(x.get("tokens_in", x.get("tok_in", 0)) or 0 for x in recs)
            tout = sum(x.get("tokens_out", x.get("tok_out", 0)) or 0 for x in recs)
            t.eq(m.group(1), "3", "calls of every process of the tree are summed")
            t.eq(m.group(3).replace(",", ""), str(tin), "input tokens equal the store's")
            t.eq(m.group(4).replace(",", ""), str(tout), "output tokens equal the store's")
            t.eq(m.group(6), "1", "the 401 (no API key) is the one error")
            cost = sum(x.get("cost_nusd", 0) or 0 for x in recs)
            t.eq(m.group(5), money(cost), "cost equals the store's, formatted as hc-analyze does")
            t.ok(m.group(7) == " --db " + w.db, "the command names the store", lines)
        t.ok(r.stdout.rstrip().endswith("600"), "the summary file is private (mode 600) while the tree runs",
             r.stdout[-40:])
        t.eq(os.listdir(tmp), [], "the summary file is removed at the end")
        # The apps see what they see without the shim: the same commands against the mock directly.
        plain = subprocess.run(["sh", "-c", tree(w.mock.url).replace(" --data-binary", " --cacert %s --data-binary"
                                % w.pki["ca"])],
                               env=dict(os.environ, PYSRC=PY, SSL_CERT_FILE=w.pki["ca"]),
                               capture_output=True, text=True, timeout=60)
        strip = lambda s: re.sub(r"Mock answer \d+", "", re.sub(r"\"(id|created|system_fingerprint)\": ?(\"[^\"]*\"|\d+)", "", s))  # noqa: E731
        t.eq(strip(r.stdout.rsplit("\n", 2)[0]), strip(plain.stdout.rstrip("\n")),
             "the apps' output equals the same commands' without the shim (ids and times aside)")
        t.ok("hcshim" not in r.stdout, "nothing of the summary on stdout")

        w.reset_store()
        r = w.run([PYTHON, "-c", PY + "import os, sys; sys.stdout.flush(); os._exit(0)\n", base], HC_SUMMARY="1",
                  TMPDIR=tmp)
        lines = summary_lines(r.stderr)
        t.ok(len(lines) == 1 and lines[0].startswith("hcshim: 1 LLM call,"), "os._exit() in the top process: "
             "the line is still printed", r.stderr)

        def hc_run(args, cmd, **env):
            e = w.env(TMPDIR=tmp, **env)
            del e["LD_PRELOAD"]
            e["HC_LIB"] = SHIM
            e["PYSRC"] = PY
            return subprocess.run([HC_RUN] + args + ["--", "sh", "-c", cmd], env=e, capture_output=True, text=True,
                                  timeout=60)
        w.reset_store()
        r = hc_run([], curl_cmd(base) + "; exit 3")
        lines = summary_lines(r.stderr)
        t.ok(len(lines) == 1 and lines[0].startswith("hcshim: 1 LLM call,") and "0 errors" in lines[0],
             "hc-run: one summary line by default", r.stderr)
        t.eq(r.returncode, 3, "hc-run keeps the command's exit status")
        r = hc_run(["--no-summary"], curl_cmd(base))
        t.eq(summary_lines(r.stderr), [], "hc-run --no-summary: no line")
        r = hc_run([], curl_cmd(base), HC_SUMMARY="0")
        t.eq(summary_lines(r.stderr), [], "hc-run with HC_SUMMARY=0: no line")
        r = hc_run([], "true")
        lines = summary_lines(r.stderr)
        t.ok(len(lines) == 1 and lines[0].startswith("hcshim: 0 LLM calls · more: hc-analyze report"),
             "hc-run over a tree without LLM calls says so", r.stderr)
        t.eq(os.listdir(tmp), [], "no summary file left behind")

        # The owner is the process hc-run execs: `exec` keeps it the owner, so
        # each of these forks from the owner itself.
        def one_last_line(r, calls, what):
            lines = summary_lines(r.stderr)
            last = r.stderr.rstrip("\n").rsplit("\n", 1)[-1]
            want = "hcshim: %d LLM call%s" % (calls, "" if calls == 1 else "s")
            t.ok(len(lines) == 1 and last == lines[0] and re.match(re.escape(want) + r"[, ]", last) is not None,
                 what + ": exactly one line, at the very end, with the tree's totals", r.stderr)
            t.eq(os.listdir(tmp), [], what + ": no summary file left behind")

        pyapp = "%s -c \"$PYSRC\" %s >/dev/null" % (PYTHON, base)
        w.reset_store()
        r = hc_run([], "exec bash -c '%s; echo x | cat >/dev/null; %s'" % (pyapp, pyapp))
        one_last_line(r, 2, "bash: a forked pipeline stage between two calls")
        w.reset_store()
        r = hc_run([], "exec bash -c 'x=$(echo hi); %s'" % pyapp)
        one_last_line(r, 1, "bash: a $(...) subshell before the call")
        w.reset_store()
        r = hc_run([], "exec %s -c 'import os\nif os.fork() == 0: os._exit(0)\nos.wait()\nexec(os.environ[\"PYSRC\"])' %s"
                   % (PYTHON, base))
        one_last_line(r, 1, "Python os.fork() + os._exit(0) in the child")
        csrc = os.path.join(w.dir, "forkexit.c")
        cbin = os.path.join(w.dir, "forkexit")
        with open(csrc, "w") as f:
            f.write("#include <sys/wait.h>\n#include <unistd.h>\n"
                    "int main(int argc, char **argv) {\n"
                    "  (void)argc;\n  pid_t p;\n"
                    "  if (argv[1][0] == 'f') { p = fork(); if (p == 0) _exit(0); waitpid(p, 0, 0); }\n"
                    "  p = vfork(); if (p == 0) { execl(\"/nonexistent/x\", \"x\", (char *)0); _exit(127); }\n"
                    "  waitpid(p, 0, 0);\n"
                    "  execvp(argv[2], argv + 2);\n  return 1;\n}\n")
        subprocess.run(["cc", "-o", cbin, csrc], check=True)
        w.reset_store()
        r = hc_run([], "exec %s f %s" % (cbin, pyapp.replace(" >/dev/null", "")))
        one_last_line(r, 1, "C fork() + _exit() and vfork() + failed execl() + _exit(), then exec")
        w.reset_store()
        r = hc_run([], "exec %s v %s" % (cbin, pyapp.replace(" >/dev/null", "")))
        one_last_line(r, 1, "C vfork() + failed execl() + _exit() alone, then exec")
        # An app that closed its stderr and opened a file of its own at fd 2:
        # the summary never lands in the app's file (it is simply not printed).
        own = os.path.join(w.dir, "own-file.txt")
        r = hc_run([], "exec %s -c 'import os; os.close(2); fd = os.open(\"%s\", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600); "
                       "os.write(fd, b\"app-data\\n\")'" % (PYTHON, own))
        t.eq(open(own, "rb").read(), b"app-data\n", "an app's own file at fd 2 holds only what the app wrote")
        t.eq(r.returncode, 0, "and the app exits 0")
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
