"""An app that sends every kind of credential header to the providers.

argv: HEADERS_JSON — {name: value} added to every call (the credentials).
Calls, each printing {"call", "status"}: OpenAI chat plain and streamed,
Anthropic messages plain and streamed, Gemini generateContent, OpenAI
embeddings — all to the providers' default endpoints, with python3-requests.
"""
import json
import sys

import requests

extra = json.loads(sys.argv[1])
s = requests.Session()
CALLS = [
    ("openai-plain", "https://api.openai.com/v1/chat/completions",
     {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "credential scan one"}]}),
    ("openai-stream", "https://api.openai.com/v1/chat/completions",
     {"model": "gpt-4o-mini", "stream": True, "messages": [{"role": "user", "content": "credential scan two"}]}),
    ("anthropic-plain", "https://api.anthropic.com/v1/messages",
     {"model": "claude-3-5-haiku-latest", "max_tokens": 32, "messages": [{"role": "user", "content": "scan three"}]}),
    ("anthropic-stream", "https://api.anthropic.com/v1/messages",
     {"model": "claude-3-5-haiku-latest", "max_tokens": 32, "stream": True,
      "messages": [{"role": "user", "content": "scan four"}]}),
    ("gemini", "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.0-flash:generateContent",
     {"contents": [{"role": "user", "parts": [{"text": "scan five"}]}]}),
    ("embeddings", "https://api.openai.com/v1/embeddings", {"model": "text-embedding-3-small", "input": "scan six"}),
]
for name, url, body in CALLS:
    h = {"Content-Type": "application/json", "anthropic-version": "2023-06-01"}
    h.update(extra)
    r = s.post(url, data=json.dumps(body), headers=h, timeout=30, stream=bool(body.get("stream")))
    raw = b"".join(r.iter_content(None))
    print(json.dumps({"call": name, "status": r.status_code, "bytes": len(raw)}), flush=True)
