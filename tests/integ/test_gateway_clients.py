#!/usr/bin/python3
"""Real clients through the gateway: what the app receives and what is recorded.

Each client program uses the providers' default base URLs and reaches the
mock only through routing. For every client x provider x (plain, streamed):
  - the app gets status 200 and the mock's answer, intact;
  - the store has one record with the right host, provider, status, model and
    exact token counts (the mock's documented rule), stream flag, and the id
    the app saw in its helicone-id header;
  - the provider received the app's credential header and no Helicone-* header.
"""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "clients"))
from hctest import CLIENTS, PYTHON, TAP, World, mock_tokens_in  # noqa: E402
import common  # noqa: E402

PROMPT = "tell me about the gateway test"
REPLY_WORDS = 12  # the mock's default reply length (tests/mock/README.md)


def curl_argv(provider, stream, count, prompt):
    url, headers, body = common.request(provider, stream, prompt)
    argv = ["curl"]
    for i in range(count):
        if i:
            argv.append("--next")  # options reset after --next: repeat them
        argv += ["-sS", "-D", "-", url, "-X", "POST", "--data-binary", body.decode()]
        for k, v in headers.items():
            argv += ["-H", "%s: %s" % (k, v)]
    return argv


def curl_reports(provider, stream, out):
    """Split curl's -D - output (head + body per request) into report dicts.
    (Text mode has already turned CRLF into LF.)"""
    reps = []
    chunks = out.split("HTTP/1.1 ")[1:]
    for c in chunks:
        head, _, body = c.partition("\n\n")
        status = int(head.split()[0])
        hid = ""
        for line in head.split("\n"):
            if line.lower().startswith("helicone-id:"):
                hid = line.split(":", 1)[1].strip()
        reps.append({"status": status, "raw": body, "helicone_id": hid,
                     "text": common.text_of(provider, stream, body) if status == 200 else ""})
    return reps


def run_client(w, name, provider, stream, count):
    """Returns (CompletedProcess, [report dicts])."""
    args = [provider, "1" if stream else "0", str(count), PROMPT]
    if name == "curl":
        r = w.run(curl_argv(provider, stream, count, PROMPT))
        return r, (curl_reports(provider, stream, r.stdout) if r.returncode == 0 else [])
    if name == "ruby":
        r = w.run(["ruby", os.path.join(CLIENTS, "rb_nethttp.rb")] + args)
    elif name == "php":
        r = w.run(["php", os.path.join(CLIENTS, "php_curl.php")] + args)
    elif name == "httpx-async":
        r = w.run([PYTHON, os.path.join(CLIENTS, "py_httpx.py")] + args + ["async"])
    else:
        r = w.run([PYTHON, os.path.join(CLIENTS, name + ".py")] + args)
    reps = []
    for line in r.stdout.splitlines():
        line = line.strip()
        if line.startswith("{"):
            d = json.loads(line)
            if "text" not in d:
                d["text"] = common.text_of(provider, stream, d["raw"]) if d["status"] == 200 else ""
            reps.append(d)
    return r, reps


CLIENT_NAMES = ["curl", "py_urllib", "py_httpclient", "py_requests", "py_httpx", "httpx-async",
                "py_aiohttp", "py_asyncio", "ruby", "php"]


def main():
    t = TAP()
    with World(http_mock=False) as w:
        msgs = [{"role": "user", "content": PROMPT}]
        want_in = mock_tokens_in(msgs)
        seen = 0
        for name in CLIENT_NAMES:
            for provider in ("openai", "anthropic"):
                for stream in (False, True):
                    count = 2 if name in ("py_requests", "py_httpclient", "curl") and not stream else 1
                    label = "%s %s %s" % (name, provider, "stream" if stream else "plain")
                    before = w.mock.count()
                    r, reps = run_client(w, name, provider, stream, count)
                    if not t.ok(r.returncode == 0 and len(reps) == count, "%s: app ran and got %d answer(s)" % (label, count),
                                "rc=%s\nstdout=%s\nstderr=%s" % (r.returncode, r.stdout[-2000:], r.stderr[-2000:])):
                        continue
                    t.ok(all(x["status"] == 200 for x in reps), "%s: status 200" % label, reps)
                    t.ok(all(x["text"].startswith("Mock answer") and "gateway test" in x["text"] for x in reps),
                         "%s: the app received the provider's answer intact" % label, [x["text"] for x in reps])
                    seen += count
                    recs = w.records(wait_for=seen)
                    mine = recs[seen - count:seen]
                    if not t.ok(len(recs) == seen, "%s: %d record(s) written" % (label, count), "have %d, want %d" % (len(recs), seen)):
                        continue
                    host = "api.openai.com" if provider == "openai" else "api.anthropic.com"
                    rec = mine[-1]
                    t.eq((rec["host"], rec["provider"], rec["status"]), (host, provider, 200), "%s: host, provider, status" % label)
                    t.eq(rec["model_req"], "gpt-4o-mini" if provider == "openai" else "claude-3-5-haiku-latest",
                         "%s: requested model" % label)
                    t.ok(rec["model_resp"].startswith(rec["model_req"].replace("-latest", "")) and rec["model_resp"] != rec["model_req"],
                         "%s: answered (dated) model recorded" % label, rec["model_resp"])
                    t.eq((rec["tok_in"], rec["tok_out"]), (want_in, REPLY_WORDS), "%s: exact tokens" % label)
                    t.eq(bool(rec["flags"] & 1), stream, "%s: stream flag" % label)
                    t.ok(rec["cost_flags"] & 1 and rec["cost_nusd"] > 0, "%s: priced" % label, rec)
                    t.eq([x["helicone_id"] for x in reps], [m["id"] for m in mine], "%s: helicone-id is the record id" % label)
                    got = w.mock.requests[before:]
                    t.eq(len(got), count, "%s: provider saw %d request(s)" % (label, count))
                    cred = "authorization" if provider == "openai" else "x-api-key"
                    t.ok(all(g["headers"].get(cred, "").endswith(common.KEYS[provider]) for g in got),
                         "%s: credential forwarded to the provider" % label)
                    t.ok(not any(k.startswith("helicone-") for g in got for k in g["headers"]),
                         "%s: no Helicone-* header reached the provider" % label)
                    if count == 2:
                        t.eq(len({g["conn"] for g in got}), 1, "%s: keep-alive reused one upstream connection" % label)

        blob = w.store_bytes()
        t.ok(len(blob) > 0, "the store exists")
        for key in common.KEYS.values():
            t.ok(key.encode() not in blob, "API key %s... appears nowhere in the store's files" % key[:12])
        t.ok(b"SECRET" not in blob, "no credential fragment in the store")
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
