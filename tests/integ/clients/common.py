"""Shared request shapes for the client programs (tests/integ/clients/*.py).

Each client program is an ordinary app: it calls the providers' real default
endpoints (https://api.openai.com/v1/..., https://api.anthropic.com/v1/...) and
knows nothing about hcshim. It prints one JSON line per request with what it
received, so a test can compare the app's view with the record.

argv: PROVIDER STREAM [COUNT [PROMPT]]
  PROVIDER  openai | anthropic
  STREAM    0 | 1
"""
import json
import sys

KEYS = {"openai": "sk-test-openai-SECRET-0123456789", "anthropic": "sk-ant-test-SECRET-9876543210"}


def parse_args():
    provider = sys.argv[1] if len(sys.argv) > 1 else "openai"
    stream = len(sys.argv) > 2 and sys.argv[2] == "1"
    count = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    prompt = sys.argv[4] if len(sys.argv) > 4 else "say hello to the test"
    return provider, stream, count, prompt


def request(provider, stream, prompt):
    """(url, headers, body bytes) for one call."""
    if provider == "openai":
        body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": prompt}]}
        if stream:
            body["stream"] = True
        return ("https://api.openai.com/v1/chat/completions",
                {"Authorization": "Bearer " + KEYS["openai"], "Content-Type": "application/json"},
                json.dumps(body).encode())
    body = {"model": "claude-3-5-haiku-latest", "max_tokens": 64,
            "messages": [{"role": "user", "content": prompt}]}
    if stream:
        body["stream"] = True
    return ("https://api.anthropic.com/v1/messages",
            {"x-api-key": KEYS["anthropic"], "anthropic-version": "2023-06-01",
             "Content-Type": "application/json"},
            json.dumps(body).encode())


def text_of(provider, stream, raw):
    """The assistant's text as the app would assemble it."""
    if not stream:
        d = json.loads(raw)
        if provider == "openai":
            return d["choices"][0]["message"]["content"]
        return "".join(b.get("text", "") for b in d["content"])
    out = []
    for line in raw.splitlines():
        if not line.startswith("data:"):
            continue
        data = line[5:].strip()
        if data == "[DONE]":
            continue
        d = json.loads(data)
        if provider == "openai":
            for ch in d.get("choices", []):
                out.append(ch.get("delta", {}).get("content") or "")
        elif d.get("type") == "content_block_delta":
            out.append(d["delta"].get("text", ""))
    return "".join(out)


def report(provider, stream, status, raw, headers):
    h = {k.lower(): v for k, v in headers.items()}
    rec = {"status": status, "raw": raw, "helicone_id": h.get("helicone-id", "")}
    try:
        rec["text"] = text_of(provider, stream, raw) if status == 200 else ""
    except Exception as e:  # the test reports it; the client must still print
        rec["text"] = ""
        rec["parse_error"] = repr(e)
    print(json.dumps(rec), flush=True)
