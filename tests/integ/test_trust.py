#!/usr/bin/python3
"""test_trust.py — the gateway terminates TLS only where the app will trust it.

Real programs whose TLS is not the hooked system OpenSSL (GnuTLS: wget,
gnutls-cli, git; Java JSSE; Erlang :ssl; Node with HC_NODE_CA=0) must behave
exactly as without the shim: each case runs the same command twice, under the
shim and without it (the baseline), and compares exit status and output (the
mock's answer counter and ids aside). Their TLS to the LLM host is relayed
untouched — to the address they asked for, or with HC_ROUTE to the route's
target — with no record and exactly one stderr line naming the program and
the reason. Plain HTTP stays captured for every program.

Also: a Node/Bun runtime is recognised by what the binary is (a bun binary
under another name is captured), an app that rejects the gateway's
certificate makes the shim stop terminating its TLS and its retry succeeds
(one stderr line), and observe mode says once when a process's TLS is
invisible to it.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
from hctest import CLIENTS, PYTHON, ROOT, TAP, World  # noqa: E402
from mock_provider import MockProvider  # noqa: E402
from pki import make_cert  # noqa: E402

NODE_MODULES = os.path.join(ROOT, "tests", "node", "node_modules")
BUN = os.path.join(NODE_MODULES, "@oven", "bun-linux-x64", "bin", "bun")
RELAYED = "is relayed untouched and not recorded"
REJECTED = "rejected the gateway's certificate"
INVISIBLE = "is invisible to observe mode"


def body(prompt):
    return json.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": prompt}]})


def norm(s):
    """Output with what legitimately differs between two runs taken out: the
    mock's answer counter, ids and timestamps."""
    s = re.sub(r"Mock answer \d+", "Mock answer #", s)
    s = re.sub(r"chatcmpl-\w+", "chatcmpl-#", s)
    s = re.sub(r'"created": ?\d+', '"created": #', s)
    return s


def shim_lines(stderr, what):
    return [l for l in stderr.splitlines() if l.startswith("hcshim[") and what in l]


def run_held(w, argv, hold, want_records, timeout=60, **env):
    """Run argv under the shim; once the store holds want_records records (or 30 s
    passed), create the file `hold`, which lets the app exit. CompletedProcess."""
    p = subprocess.Popen([str(a) for a in argv], env=w.env(**env), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, errors="replace")
    try:
        w.records(wait_for=want_records, timeout=30)
    finally:
        open(hold, "w").close()
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
    return subprocess.CompletedProcess(argv, p.returncode, out, err)


class Case:
    def __init__(self, t, w):
        self.t, self.w = t, w

    def records(self):
        return self.w.records()

    def pair(self, label, argv, program, reason, env_shim=None, env_base=None, n=1, out=norm, timeout=90,
             notice=RELAYED):
        """Run argv under the shim and without it; the outcomes must be equal,
        nothing recorded, the mock asked n times by the shimmed run, and one
        stderr line saying the TLS is not captured, naming program and reason."""
        t, w = self.t, self.w
        before_recs = len(self.records())
        before = len(w.mock.requests) + len(self.oa.requests)
        r = w.run(argv, timeout=timeout, **(env_shim or {}))
        asked = len(w.mock.requests) + len(self.oa.requests) - before
        recs = self.records()[before_recs:]
        b = w.run(argv, timeout=timeout, LD_PRELOAD=None, **(env_base or env_shim or {}))
        detail = "shim rc=%s\n%s\n%s\nbaseline rc=%s\n%s\n%s" % (r.returncode, r.stdout[-800:], r.stderr[-800:],
                                                                  b.returncode, b.stdout[-800:], b.stderr[-800:])
        t.ok(r.returncode == b.returncode and out(r.stdout) == out(b.stdout),
             "%s: exit status and output equal the run without the shim (rc %s)" % (label, b.returncode), detail)
        t.eq(asked, n, "%s: the server itself received %d request(s)" % (label, n))
        t.eq(len(recs), 0, "%s: nothing recorded" % label)
        lines = shim_lines(r.stderr, notice)
        t.ok(len(lines) == 1 and program in lines[0] and reason in lines[0],
             "%s: one stderr line says its TLS is not captured, naming %s and %s" % (label, program, reason),
             r.stderr[-1500:])
        return r, b


def main():
    t = TAP()
    with World() as w:
        c = Case(t, w)
        # A second mock whose certificate also names api.openai.com: where HC_ROUTE
        # sends that host, so that an app relayed to the route can verify it.
        cert, key = make_cert(w.pki, ["api.openai.com", "localhost"], os.path.join(w.dir, "oa"))
        c.oa = oa = MockProvider(tls=True, certfile=cert, keyfile=key)
        oa.start()
        ca = w.pki["ca"]
        port = w.mock.port
        local = "https://localhost:%d/v1/chat/completions" % port
        hosts = dict(HC_HOSTS="localhost:%d" % port)
        route_oa = dict(HC_ROUTE="api.openai.com=%s" % oa.url)
        try:
            # -- GnuTLS ---------------------------------------------------------------------
            if shutil.which("wget"):
                wget = ["wget", "-q", "-O-", "--ca-certificate=" + ca, "--header", "Content-Type: application/json",
                        "--header", "Authorization: Bearer sk-test-openai-SECRET-0123456789",
                        "--post-data", body("hello wget")]
                c.pair("wget (GnuTLS), two calls", wget + [local, local], "wget", "GnuTLS", hosts, n=2)
                # routed: the relay goes to the route's target; the baseline reaches that
                # server by its address (without the shim the name has no address at all)
                before = len(oa.requests)
                r = w.run(wget + ["https://api.openai.com/v1/chat/completions"], **route_oa)
                b = w.run(wget + ["https://localhost:%d/v1/chat/completions" % oa.port], LD_PRELOAD=None)
                t.ok(r.returncode == 0 and norm(r.stdout) == norm(b.stdout) and "Mock answer" in r.stdout,
                     "wget (GnuTLS) with HC_ROUTE: relayed to the route's target, same answer as calling it directly",
                     "rc=%s %s\n%s\nbaseline %s" % (r.returncode, r.stdout[-400:], r.stderr[-600:], b.stdout[-400:]))
                t.eq(len(oa.requests) - before, 2, "wget with HC_ROUTE: the routed server received the call "
                     "(and the baseline's)")
                t.eq(len(shim_lines(r.stderr, RELAYED)), 1, "wget with HC_ROUTE: one stderr line")
                # plain HTTP stays captured for every program
                n0 = len(c.records())
                plain = "http://localhost:%d/v1/chat/completions" % w.http.port
                r = w.run(wget + [plain], HC_HOSTS="localhost:%d" % w.http.port)
                recs = w.records(wait_for=n0 + 1)[n0:]
                t.ok(r.returncode == 0 and "Mock answer" in r.stdout, "wget plain HTTP: the app got its answer",
                     r.stderr[-500:])
                t.ok(len(recs) == 1 and recs[0].get("host") == "localhost" and recs[0].get("tok_in") == 6 and
                     recs[0].get("tok_out") == 12, "wget plain HTTP: captured, one record with exact tokens (6 in, 12 out)",
                     recs)
                t.eq(shim_lines(r.stderr, RELAYED), [], "wget plain HTTP: no notice")
            else:
                t.ok(True, "# SKIP wget not installed")
            if shutil.which("gnutls-cli"):
                req = ("POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
                       "Authorization: Bearer sk-test-openai-SECRET-0123456789\r\nContent-Type: application/json\r\n"
                       "Content-Length: %d\r\n\r\n%s" % (len(body("hello gnutls")), body("hello gnutls")))
                reqfile = os.path.join(w.dir, "gnutls-req")
                with open(reqfile, "w") as f:
                    f.write(req)

                def http_part(s):
                    """Status line and body: gnutls-cli's session details and the mock's
                    date, request id and rate-limit headers vary run to run."""
                    if "HTTP/1.1" not in s:
                        return ""
                    s = s[s.find("HTTP/1.1"):]
                    return s.split("\n", 1)[0] + "\n" + norm(s.split("\n\n", 1)[-1])  # (text mode: \r\n read as \n)
                c.pair("gnutls-cli", ["sh", "-c", '(cat "$0"; sleep 3) | gnutls-cli --x509cafile "$1" -p "$2" localhost',
                                      reqfile, ca, port], "gnutls-cli", "GnuTLS", hosts, out=http_part)
            else:
                t.ok(True, "# SKIP gnutls-cli not installed")
            if shutil.which("git"):
                # no git server is needed: the mock answers 404, and git must fail the same way
                c.pair("git ls-remote over https (libcurl-gnutls)", ["git", "ls-remote", "https://localhost:%d/x.git" % port],
                       "git-remote-https", "GnuTLS", dict(hosts, GIT_SSL_CAINFO=ca, GIT_TERMINAL_PROMPT="0"),
                       out=lambda s: s)
            else:
                t.ok(True, "# SKIP git not installed")
            # -- Java JSSE ------------------------------------------------------------------------
            if shutil.which("java"):
                jv = os.path.join(CLIENTS, "trust_java.java")
                for kind in ("h1", "h2", "urlconnection"):
                    c.pair("Java %s" % ("HttpClient " + kind if kind != "urlconnection" else "HttpsURLConnection"),
                           ["java", jv, kind, local, ca, body("hello java")], "java", "JSSE", hosts)
            else:
                t.ok(True, "# SKIP java not installed")
            # -- Erlang :ssl, with HC_ROUTE ----------------------------------------------------------
            if shutil.which("erl"):
                erl = ["erl", "-noshell", "-eval", ERLANG]
                before = len(oa.requests)
                r = w.run(erl, E_URL="https://api.openai.com/v1/chat/completions", E_CA=ca, E_PROMPT="hello erlang",
                          **route_oa)
                b = w.run(erl, E_URL="https://localhost:%d/v1/chat/completions" % oa.port, E_CA=ca,
                          E_PROMPT="hello erlang", LD_PRELOAD=None)
                t.ok(r.returncode == 0 and r.stdout.startswith("200") and norm(r.stdout) == norm(b.stdout),
                     "Erlang httpc with HC_ROUTE: relayed to the route's target, same answer as calling it directly",
                     "rc=%s %s\n%s\nbaseline %s" % (r.returncode, r.stdout[-300:], r.stderr[-600:], b.stdout[-300:]))
                t.eq(len(oa.requests) - before, 2, "Erlang httpc: the routed server received the call (and the baseline's)")
                lines = shim_lines(r.stderr, RELAYED)
                t.ok(len(lines) == 1 and "beam" in lines[0] and "Erlang" in lines[0],
                     "Erlang httpc: one stderr line naming the program and Erlang's :ssl", r.stderr[-800:])
            else:
                t.ok(True, "# SKIP erl not installed")
            # -- Node / Bun ----------------------------------------------------------------------------
            node = shutil.which("node")
            fetch_js = os.path.join(w.dir, "fetch.mjs")
            with open(fetch_js, "w") as f:
                f.write(FETCH_JS)
            if node:
                c.pair("Node fetch with HC_NODE_CA=0", ["node", fetch_js, local, "hello node"], "node", "HC_NODE_CA=0",
                       dict(hosts, HC_NODE_CA="0", NODE_EXTRA_CA_CERTS=ca), env_base=dict(NODE_EXTRA_CA_CERTS=ca))
                # recovery: an app that trusts only its own CA list rejects the gateway's
                # certificate; the shim stops terminating, the app's retry goes through
                before_recs = len(c.records())
                before = len(w.mock.requests)
                argv = ["node", os.path.join(CLIENTS, "trust_node_ca.mjs"), local, ca, "hello retry"]
                r = w.run(argv, **hosts)
                b = w.run(argv, LD_PRELOAD=None)
                last = lambda s: norm(s.strip().splitlines()[-1].split(" ", 2)[2]) if s.strip() else ""  # noqa: E731
                t.ok(r.returncode == 0 == b.returncode and last(r.stdout) == last(b.stdout) and "200 Mock answer" in r.stdout,
                     "recovery: the app's retry succeeds with the same answer as without the shim",
                     "shim: %s\n%s\nbaseline: %s" % (r.stdout, r.stderr[-600:], b.stdout))
                lines = shim_lines(r.stderr, REJECTED)
                t.ok(len(lines) == 1 and "node" in lines[0], "recovery: one stderr line says the app rejected the "
                     "gateway's certificate", r.stderr[-800:])
                t.eq(len(w.mock.requests) - before, 2, "recovery: the server received the retry (and the baseline's call)")
                t.eq(len(c.records()) - before_recs, 0, "recovery: nothing recorded")
                # observe mode: Node's TLS (its own OpenSSL) is invisible; one line says so
                c.pair("Node fetch, observe mode", ["node", fetch_js, local, "hello observe"], "node", "Node/Bun",
                       dict(hosts, HC_MODE="observe", NODE_EXTRA_CA_CERTS=ca), env_base=dict(NODE_EXTRA_CA_CERTS=ca),
                       notice=INVISIBLE)
            else:
                t.ok(True, "# SKIP node not installed")
            if shutil.which("wget"):
                c.pair("wget (GnuTLS), observe mode", wget + [local], "wget", "GnuTLS", dict(hosts, HC_MODE="observe"),
                       notice=INVISIBLE)
            # a process whose TLS observe mode sees says nothing
            r = w.run([PYTHON, "-c", PY_CALL, local, "hello python"], HC_MODE="observe", SSL_CERT_FILE=ca, **hosts)
            t.ok(r.returncode == 0 and "Mock answer" in r.stdout and not shim_lines(r.stderr, INVISIBLE),
                 "Python urllib, observe mode: answered, and no notice (its OpenSSL is hooked)", r.stderr[-800:])
            # Bun is recognised by what the binary is, not by its name
            if os.path.exists(BUN):
                d = tempfile.mkdtemp(dir=w.dir)
                renamed = os.path.join(d, "mytool")
                os.symlink(BUN, renamed)
                n0 = len(c.records())
                # two calls; the app stays until the records are in the store (Bun leaves
                # through quick_exit(), whose loss of pending records is another issue)
                hold = os.path.join(d, "hold")
                r = run_held(w, [renamed, fetch_js, "https://api.openai.com/v1/chat/completions", "hello bun", "2", hold],
                             hold, n0 + 2, NODE_EXTRA_CA_CERTS=None)
                recs = w.records()[n0:]
                t.ok(r.returncode == 0 and r.stdout.count("200 Mock answer") == 2 and "to: hello bun" in r.stdout,
                     "a bun binary named mytool: the app got its answers through the gateway", r.stdout + r.stderr[-800:])
                t.ok(len(recs) == 2 and all(x.get("host") == "api.openai.com" and x.get("tok_in") == 6 and
                                            x.get("tok_out") == 12 for x in recs),
                     "a bun binary named mytool: captured, 2 records with exact tokens (6 in, 12 out)", recs)
                t.eq(shim_lines(r.stderr, RELAYED), [], "a bun binary named mytool: no notice")
            else:
                t.ok(True, "# SKIP bun not installed (npm install --prefix tests/node)")
        finally:
            oa.stop()
    return t.done()


ERLANG = r'''
[Url, Ca, Prompt] = [os:getenv("E_URL"), os:getenv("E_CA"), os:getenv("E_PROMPT")],
inets:start(), ssl:start(),
Body = "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"" ++ Prompt ++ "\"}]}",
R = httpc:request(post, {Url, [{"authorization", "Bearer sk-test-openai-SECRET-0123456789"}], "application/json", Body},
      [{timeout, 20000}, {ssl, [{verify, verify_peer}, {cacertfile, Ca},
        {customize_hostname_check, [{match_fun, public_key:pkix_verify_hostname_match_fun(https)}]}]}], []),
case R of {ok, {{_, S, _}, _, B}} -> io:format("~p~n~s~n", [S, B]); E -> io:format("error ~p~n", [E]) end,
halt().
'''

FETCH_JS = r'''
import fs from "node:fs";
const [url, prompt, times] = process.argv.slice(2);
for (let i = 0; i < Number(times || 1); i++) {
  const r = await fetch(url, {method: "POST", headers: {"Content-Type": "application/json",
    "Authorization": "Bearer sk-test-openai-SECRET-0123456789"},
    body: JSON.stringify({model: "gpt-4o-mini", messages: [{role: "user", content: prompt}]})});
  const j = await r.json();
  console.log(r.status, j.choices[0].message.content);
}
// After its calls the app waits until the file named by its 4th argument exists
// (the test creates it once the records are in the store): Bun leaves through
// quick_exit(), which would skip the shim's flush of pending records.
const hold = process.argv[5];
for (let i = 0; hold && i < 3000 && !fs.existsSync(hold); i++)
  await new Promise((r) => setTimeout(r, 10));
'''

PY_CALL = r'''
import json, sys, urllib.request
req = urllib.request.Request(sys.argv[1], data=json.dumps({"model": "gpt-4o-mini",
      "messages": [{"role": "user", "content": sys.argv[2]}]}).encode(),
      headers={"Content-Type": "application/json", "Authorization": "Bearer sk-test-openai-SECRET-0123456789"})
print(json.load(urllib.request.urlopen(req))["choices"][0]["message"]["content"])
'''

if __name__ == "__main__":
    sys.exit(main())
