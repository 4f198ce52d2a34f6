#!/usr/bin/env python3
"""helicone_sdk.py — the tutorial's Python snippet, sending what the OpenAI Python SDK sends.

    helicone_sdk.py MODEL plain|stream|tool|tool_stream [HEADER=VALUE ...]

Written as the tutorial writes it: base_url="https://ai-gateway.helicone.ai"
and api_key=HELICONE_API_KEY. PyPI is unreachable in tests, so instead of
`from openai import OpenAI` this sends the SDK's own request with the
standard library: POST {base_url}/chat/completions with the SDK's headers
(User-Agent OpenAI/Python, X-Stainless-*, Accept, Authorization: Bearer) and
its JSON body; a stream is read as the SDK reads it (SSE "data:" lines up
to [DONE], tool-call deltas merged by index).

stdout: one JSON line {status, headers (helicone-*), text, tool_calls, finish, usage, model,
chunks, done}; "body" holds the error body of a non-200 answer.
"""
import json
import os
import platform
import sys
import urllib.error
import urllib.request

BASE_URL = "https://ai-gateway.helicone.ai"
TOOLS = [{"type": "function", "function": {
    "name": "get_weather", "description": "Current weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]


def helicone_headers(h):
    return {k.lower(): v for k, v in h.items() if k.lower().startswith("helicone-")}


def create(model, messages, stream=False, extra_headers=None, **kw):
    body = dict(messages=messages, model=model, **kw)
    if stream:
        body["stream"] = True
    headers = {
        "Accept": "application/json",
        "Content-Type": "application/json",
        "User-Agent": "OpenAI/Python 1.54.4",
        "X-Stainless-Lang": "python",
        "X-Stainless-Package-Version": "1.54.4",
        "X-Stainless-OS": "Linux",
        "X-Stainless-Arch": "x64",
        "X-Stainless-Runtime": "CPython",
        "X-Stainless-Runtime-Version": platform.python_version(),
        "Authorization": "Bearer " + os.environ["HELICONE_API_KEY"],
        "X-Stainless-Async": "false",
        "x-stainless-retry-count": "0",
        "x-stainless-read-timeout": "600",
    }
    headers.update(extra_headers or {})
    req = urllib.request.Request(BASE_URL + "/chat/completions", data=json.dumps(body).encode(),
                                 headers=headers, method="POST")
    try:
        r = urllib.request.urlopen(req, timeout=60)
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null"), [], helicone_headers(e.headers)
    with r:
        if not stream:
            return r.status, json.load(r), [], helicone_headers(r.headers)
        chunks, msg, calls, finish, usage, model_ = [], "", {}, None, None, None
        for line in r:
            line = line.decode().rstrip("\r\n")
            if not line.startswith("data: "):
                continue
            data = line[6:]
            if data == "[DONE]":
                chunks.append("[DONE]")
                break
            c = json.loads(data)
            chunks.append(c)
            model_ = c.get("model", model_)
            usage = c.get("usage") or usage
            for ch in c.get("choices", []):
                d = ch.get("delta", {})
                msg += d.get("content") or ""
                for tc in d.get("tool_calls") or []:
                    cur = calls.setdefault(tc["index"], {"id": None, "name": "", "arguments": ""})
                    cur["id"] = tc.get("id") or cur["id"]
                    fn = tc.get("function") or {}
                    cur["name"] += fn.get("name") or ""
                    cur["arguments"] += fn.get("arguments") or ""
                finish = ch.get("finish_reason") or finish
        message = {"role": "assistant", "content": msg or None}
        if calls:
            message["tool_calls"] = [{"id": v["id"], "type": "function",
                                      "function": {"name": v["name"], "arguments": v["arguments"]}}
                                     for _, v in sorted(calls.items())]
        return r.status, {"model": model_, "choices": [{"message": message, "finish_reason": finish}],
                          "usage": usage}, chunks, helicone_headers(r.headers)


def main():
    model, mode = sys.argv[1], sys.argv[2]
    extra = dict(a.split("=", 1) for a in sys.argv[3:])
    kw = {}
    if mode.startswith("tool"):
        kw = {"tools": TOOLS, "tool_choice": "required"}
    stream = mode.endswith("stream")
    if stream:
        kw["stream_options"] = {"include_usage": True}
    status, d, chunks, hh = create(model, [{"role": "system", "content": "You are terse."},
                                       {"role": "user", "content": "What is the weather in Paris?"}],
                               stream=stream, extra_headers=extra, **kw)
    out = {"status": status, "body": d if status != 200 else None, "headers": hh}
    if status == 200:
        ch = d["choices"][0]
        out.update(text=ch["message"].get("content"), tool_calls=ch["message"].get("tool_calls"),
                   finish=ch.get("finish_reason"), usage=d.get("usage"), model=d.get("model"),
                   chunks=len(chunks), done=bool(chunks) and chunks[-1] == "[DONE]")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
