#!/usr/bin/python3
"""replay_agent.py — a small agent with a tool loop, used by test_replay.py.

    replay_agent.py TASK

Two streamed OpenAI chat turns (python3 requests), each followed by a local
"tool" (a word count) whose result goes into the next prompt; two streamed
Anthropic messages turns (urllib) continuing from it; a non-streamed OpenAI
call made twice with the identical body (ordered matching); and one call by
a curl child process. Prints every answer's text and ids to stdout, in order.
Keys come from OPENAI_API_KEY / ANTHROPIC_API_KEY; without them no
credential header is sent. Base URLs: OPENAI_BASE / ANTHROPIC_BASE (default
the real hosts); a CA bundle: AGENT_CA (default the system's).
"""
import json
import os
import subprocess
import sys
import urllib.request

import requests

OPENAI = os.environ.get("OPENAI_BASE", "https://api.openai.com")
ANTHROPIC = os.environ.get("ANTHROPIC_BASE", "https://api.anthropic.com")
CA = os.environ.get("AGENT_CA") or True


def oa_headers():
    h = {"Content-Type": "application/json"}
    if os.environ.get("OPENAI_API_KEY"):
        h["Authorization"] = "Bearer " + os.environ["OPENAI_API_KEY"]
    return h


def openai_stream(messages):
    body = {"model": "gpt-4o-mini", "stream": True, "messages": messages}
    r = requests.post(OPENAI + "/v1/chat/completions", json=body, headers=oa_headers(), stream=True, verify=CA,
                      timeout=30)
    if r.status_code != 200:
        return "HTTP %d %s" % (r.status_code, r.text)
    text, ids = "", []
    for line in r.iter_lines():
        line = line.decode()
        if not line.startswith("data: ") or line == "data: [DONE]":
            continue
        ev = json.loads(line[6:])
        ids.append(ev.get("id"))
        for ch in ev.get("choices") or []:
            text += (ch.get("delta") or {}).get("content") or ""
    return "%s [id %s]" % (text, ids[0] if ids else "-")


def anthropic_stream(messages):
    body = json.dumps({"model": "claude-3-5-haiku-20241022", "max_tokens": 64, "stream": True,
                       "messages": messages}).encode()
    h = {"Content-Type": "application/json", "anthropic-version": "2023-06-01"}
    if os.environ.get("ANTHROPIC_API_KEY"):
        h["x-api-key"] = os.environ["ANTHROPIC_API_KEY"]
    req = urllib.request.Request(ANTHROPIC + "/v1/messages", data=body, headers=h, method="POST")
    import ssl
    ctx = ssl.create_default_context(cafile=CA if CA is not True else None)
    try:
        resp = urllib.request.urlopen(req, timeout=30, context=ctx)
    except urllib.error.HTTPError as e:
        return "HTTP %d %s" % (e.code, e.read().decode())
    text, mid = "", "-"
    for raw in resp:
        line = raw.decode().rstrip("\r\n")
        if not line.startswith("data: "):
            continue
        ev = json.loads(line[6:])
        if ev.get("type") == "message_start":
            mid = ev["message"]["id"]
        if ev.get("type") == "content_block_delta":
            text += ev["delta"].get("text", "")
    return "%s [id %s]" % (text, mid)


def openai_plain(content):
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": content}]}
    r = requests.post(OPENAI + "/v1/chat/completions", json=body, headers=oa_headers(), verify=CA, timeout=30)
    if r.status_code != 200:
        return "HTTP %d %s" % (r.status_code, r.text)
    j = r.json()
    return "%s [id %s]" % (j["choices"][0]["message"]["content"], j["id"])


def word_count_tool(text):
    return "tool word_count: %d words" % len(text.split())


def main():
    task = sys.argv[1] if len(sys.argv) > 1 else "plan a picnic"
    msgs = [{"role": "user", "content": "Task: " + task}]
    for turn in range(2):
        ans = openai_stream(msgs)
        print("openai turn %d: %s" % (turn + 1, ans), flush=True)
        msgs += [{"role": "assistant", "content": ans}, {"role": "user", "content": word_count_tool(ans)}]
    amsgs = [{"role": "user", "content": "Continue: " + msgs[-1]["content"]}]
    for turn in range(2):
        ans = anthropic_stream(amsgs)
        print("anthropic turn %d: %s" % (turn + 1, ans), flush=True)
        amsgs += [{"role": "assistant", "content": ans}, {"role": "user", "content": word_count_tool(ans)}]
    for n in range(2):
        print("ping %d: %s" % (n + 1, openai_plain("ping")), flush=True)
    cmd = ["curl", "-sS", "-X", "POST", OPENAI + "/v1/chat/completions", "-H", "Content-Type: application/json",
           "-d", json.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "summarise " + task}]})]
    if os.environ.get("OPENAI_API_KEY"):
        cmd += ["-H", "Authorization: Bearer " + os.environ["OPENAI_API_KEY"]]
    if CA is not True:
        cmd += ["--cacert", CA]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout
    print("curl: %s" % out, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
