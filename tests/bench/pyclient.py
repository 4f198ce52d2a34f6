#!/usr/bin/python3
"""pyclient.py — an ordinary Python app for hcshim's benchmarks (bench.py).

It knows nothing about hcshim: it calls the providers' default endpoints
(https://api.openai.com, https://api.anthropic.com) with http.client, unless
--openai/--anthropic give other base URLs (the direct baseline, no shim).

  pyclient.py one [--openai URL] [--cafile F]
      one chat completion; prints {"status", "vmhwm_kb", "vmrss_kb"} read from
      /proc/self/status after the call (section 7: memory of a real program)

  pyclient.py realistic N [--seed S] [--openai URL] [--anthropic URL] [--cafile F]
      N realistic exchanges on kept-alive connections (section 6: storage):
      an agent-like mix — a fixed ~150-word system prompt, 0-4 earlier turns
      of history resent each time, user messages of 20-600 words of English-like
      text, answers cut by max_tokens at 20-500 words; 70% OpenAI chat, 20% OpenAI
      chat streamed, 10% Anthropic messages (half of them streamed).
      Prints {"requests", "errors", "request_bytes", "response_bytes"}: the
      bodies' sizes as the app sent and received them.
"""
import argparse
import http.client
import json
import random
import ssl
import sys
import urllib.parse

# ~300 common English words: text with the compressibility of prose, not of
# lorem ipsum or of random bytes.
VOCAB = """the of and to a in is it you that he was for on are with as I his they be at one have
this from or had by hot word but what some we can out other were all there when up use your how
said an each she which do their time if will way about many then them write would like so these
her long make thing see him two has look more day could go come did number sound no most people
my over know water than call first who may down side been now find any new work part take get
place made live where after back little only round man year came show every good me give our under
name very through just form sentence great think say help low line differ turn cause much mean
before move right boy old too same tell does set three want air well also play small end put home
read hand port large spell add even land here must big high such follow act why ask men change went
light kind off need house picture try us again animal point mother world near build self earth
father head stand own page should country found answer school grow study still learn plant cover
food sun four between state keep eye never last let thought city tree cross farm hard start might
story saw far sea draw left late run while press close night real life few north open seem together
next white children begin got walk example ease paper group always music those both mark often
letter until mile river car feet care second book carry took science eat room friend began idea
fish mountain stop once base hear horse cut sure watch color face wood main enough plain girl usual
young ready above ever red list though feel talk bird soon body dog family direct pose leave song
measure door product black short numeral class wind question happen complete ship area half rock
order fire south problem piece told knew pass since top whole king space heard best hour better
true during hundred five remember step early hold west ground interest reach fast verb sing listen
six table travel less morning ten simple several vowel toward war lay against pattern slow center
love person money serve appear road map rain rule govern pull cold notice voice unit power town
fine certain fly fall lead cry dark machine note wait plan figure star box noun field rest correct
able pound done beauty drive stood contain front teach week final gave green oh quick develop ocean
warm free minute strong special mind behind clear tail produce fact street inch multiply nothing
course stay wheel full force blue object decide surface deep moon island foot system busy test
record boat common gold possible plane stead dry wonder laugh thousand ago ran check game shape
equate miss brought heat snow tire bring yes distant fill east paint language among""".split()


def text(rng, n):
    words = [rng.choice(VOCAB) for _ in range(n)]
    out, i = [], 0
    while i < len(words):  # sentences of 6-18 words
        k = rng.randint(6, 18)
        s = " ".join(words[i:i + k])
        out.append(s[:1].upper() + s[1:] + ".")
        i += k
    return " ".join(out)


def conn_for(url, ctx):
    u = urllib.parse.urlsplit(url)
    if u.scheme == "https":
        return http.client.HTTPSConnection(u.hostname, u.port or 443, context=ctx, timeout=60)
    return http.client.HTTPConnection(u.hostname, u.port or 80, timeout=60)


def status_kb(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return -1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=("one", "realistic"))
    ap.add_argument("n", nargs="?", type=int, default=1)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--openai", default="https://api.openai.com")
    ap.add_argument("--anthropic", default="https://api.anthropic.com")
    ap.add_argument("--cafile", default=None)
    a = ap.parse_args()
    ctx = ssl.create_default_context()
    if a.cafile:
        ctx.load_verify_locations(a.cafile)
    oa = conn_for(a.openai, ctx)
    oa_headers = {"Authorization": "Bearer sk-bench-not-a-key", "Content-Type": "application/json"}

    if a.what == "one":
        body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "say hello to the benchmark"}]}
        oa.request("POST", "/v1/chat/completions", body=json.dumps(body), headers=oa_headers)
        r = oa.getresponse()
        r.read()
        print(json.dumps({"status": r.status, "vmhwm_kb": status_kb("VmHWM"), "vmrss_kb": status_kb("VmRSS")}))
        return 0 if r.status == 200 else 1

    an = conn_for(a.anthropic, ctx)
    an_headers = {"x-api-key": "sk-ant-bench-not-a-key", "anthropic-version": "2023-06-01",
                  "Content-Type": "application/json"}
    rng = random.Random(a.seed)
    system = text(random.Random(0), 150)
    history = []
    errors = req_bytes = resp_bytes = 0
    for i in range(a.n):
        if i % 8 == 0:
            history = []  # a new conversation
        user = text(rng, rng.randint(20, 600))
        turns = history[-8:]
        limit = rng.randint(20, 500)
        kind = rng.random()
        if kind < 0.9:
            msgs = [{"role": "system", "content": system}] + turns + [{"role": "user", "content": user}]
            body = {"model": rng.choice(("gpt-4o-mini", "gpt-4o", "gpt-4.1-mini")), "messages": msgs,
                    "max_tokens": limit, "temperature": 0.2}
            if kind >= 0.7:
                body["stream"] = True
            conn, path, headers = oa, "/v1/chat/completions", oa_headers
        else:
            body = {"model": rng.choice(("claude-sonnet-4-5", "claude-3-5-haiku-latest")), "system": system,
                    "messages": turns + [{"role": "user", "content": user}], "max_tokens": limit}
            if rng.random() < 0.5:
                body["stream"] = True
            conn, path, headers = an, "/v1/messages", an_headers
        data = json.dumps(body).encode()
        req_bytes += len(data)
        conn.request("POST", path, body=data, headers=headers)
        r = conn.getresponse()
        raw = r.read()
        resp_bytes += len(raw)
        if r.status != 200:
            errors += 1
        # keep a short history: the user turn and a stand-in for the answer
        history += [{"role": "user", "content": user},
                    {"role": "assistant", "content": text(rng, min(limit, 200))}]
    print(json.dumps({"requests": a.n, "errors": errors, "request_bytes": req_bytes, "response_bytes": resp_bytes}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
