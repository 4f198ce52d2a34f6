#!/usr/bin/python3
"""Every provider API end to end through the gateway: the record is exact.

One unmodified program (clients/call_many.py) calls each provider at its real
default URL; the shim routes the hosts to the mock. For each call the record
must name the provider and API, the requested and answered models, and carry
the exact token counts of the mock's documented rule (tests/mock/README.md,
"The token rule") — input, output, cached, cache writes by TTL, reasoning —
streamed or not, and a cost computed from the price table (exactly, for one
hand-checked case). Anthropic's rate-limit answer headers
(anthropic-ratelimit-*, and retry-after on a 429 / 529) reach the record's
ratelimit field with their exact values, plain and streamed.
"""
import calendar
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from hctest import CLIENTS, PYTHON, TAP, World  # noqa: E402

OA = {"Authorization": "Bearer sk-test-providers", "Content-Type": "application/json"}
AN = {"x-api-key": "sk-ant-test", "anthropic-version": "2023-06-01", "Content-Type": "application/json"}
GG = {"x-goog-api-key": "goog-test", "Content-Type": "application/json"}
R = 12  # the mock's reply length in words


def words(s):
    return len(s.split())


def unit(s):
    return words(s) + 4


def chat(model, text, stream=False, **extra):
    b = {"model": model, "messages": [{"role": "user", "content": text}]}
    if stream:
        b["stream"] = True
    b.update(extra)
    return b


# (label, url, headers, body, expect) — expect: provider, api, model_req, tokens.
CASES = [
    ("openai chat", "https://api.openai.com/v1/chat/completions", OA, chat("gpt-4o-mini", "one two three"),
     dict(provider="openai", api="chat", model_req="gpt-4o-mini", tok_in=unit("one two three"), tok_out=R)),
    ("openai chat stream", "https://api.openai.com/v1/chat/completions", OA,
     chat("gpt-4o-mini", "stream this please", stream=True),
     dict(provider="openai", api="chat", tok_in=unit("stream this please"), tok_out=R, stream=True)),
    ("openai responses", "https://api.openai.com/v1/responses", OA,
     {"model": "gpt-4.1-mini", "instructions": "be brief", "input": "what is lmdb"},
     dict(provider="openai", api="responses", model_req="gpt-4.1-mini", tok_in=unit("be brief") + unit("what is lmdb"),
          tok_out=R)),
    ("openai responses stream", "https://api.openai.com/v1/responses", OA,
     {"model": "gpt-4.1-mini", "input": "stream the response api", "stream": True},
     dict(provider="openai", api="responses", tok_in=unit("stream the response api"), tok_out=R, stream=True)),
    ("openai embeddings", "https://api.openai.com/v1/embeddings", OA,
     {"model": "text-embedding-3-small", "input": ["alpha beta", "gamma delta epsilon"]},
     dict(provider="openai", api="embeddings", tok_in=5, tok_out=0)),
    ("openai completions", "https://api.openai.com/v1/completions", OA,
     {"model": "gpt-3.5-turbo-instruct", "prompt": "complete this sentence"},
     dict(provider="openai", api="completions", tok_in=unit("complete this sentence"), tok_out=R)),
    ("anthropic messages", "https://api.anthropic.com/v1/messages", AN,
     {"model": "claude-sonnet-4-5", "max_tokens": 100, "system": "be terse",
      "messages": [{"role": "user", "content": "hello claude"}]},
     dict(provider="anthropic", api="messages", tok_in=unit("be terse") + unit("hello claude"), tok_out=R)),
    ("anthropic messages stream", "https://api.anthropic.com/v1/messages", AN,
     {"model": "claude-sonnet-4-5", "max_tokens": 100, "stream": True,
      "messages": [{"role": "user", "content": "stream hello claude"}]},
     dict(provider="anthropic", api="messages", tok_in=unit("stream hello claude"), tok_out=R, stream=True)),
    ("anthropic cache write 1h", "https://api.anthropic.com/v1/messages", AN,
     {"model": "claude-sonnet-4-5", "max_tokens": 100,
      "system": [{"type": "text", "text": "a long reusable system prompt", "cache_control": {"type": "ephemeral", "ttl": "1h"}}],
      "messages": [{"role": "user", "content": "question one"}]},
     dict(provider="anthropic", api="messages", tok_cw1h=unit("a long reusable system prompt"),
          tok_in=unit("a long reusable system prompt") + unit("question one"), tok_cached=0)),
    ("anthropic cache read", "https://api.anthropic.com/v1/messages", AN,
     {"model": "claude-sonnet-4-5", "max_tokens": 100,
      "system": [{"type": "text", "text": "a long reusable system prompt", "cache_control": {"type": "ephemeral", "ttl": "1h"}}],
      "messages": [{"role": "user", "content": "question two"}]},
     dict(provider="anthropic", api="messages", tok_cached=unit("a long reusable system prompt"), tok_cw1h=0,
          tok_in=unit("a long reusable system prompt") + unit("question two"))),
    ("gemini generateContent", "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.0-flash:generateContent", GG,
     {"contents": [{"role": "user", "parts": [{"text": "hello gemini"}]}]},
     dict(provider="google", api="gemini", model_req="gemini-2.0-flash", tok_in=unit("hello gemini"), tok_out=R)),
    ("gemini stream sse", "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse", GG,
     {"contents": [{"role": "user", "parts": [{"text": "stream gemini sse"}]}]},
     dict(provider="google", api="gemini", tok_in=unit("stream gemini sse"), tok_out=R, stream=True)),
    ("gemini stream array", "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.0-flash:streamGenerateContent", GG,
     {"contents": [{"role": "user", "parts": [{"text": "stream gemini array"}]}]},
     dict(provider="google", api="gemini", tok_in=unit("stream gemini array"), tok_out=R, stream=True)),
    ("groq", "https://api.groq.com/openai/v1/chat/completions", OA, chat("llama-3.3-70b-versatile", "hi groq"),
     dict(provider="groq", api="chat", tok_in=unit("hi groq"), tok_out=R)),
    ("mistral", "https://api.mistral.ai/v1/chat/completions", OA, chat("mistral-small-latest", "hi mistral"),
     dict(provider="mistral", api="chat", tok_in=unit("hi mistral"), tok_out=R)),
    ("deepseek stream", "https://api.deepseek.com/v1/chat/completions", OA, chat("deepseek-chat", "hi deepseek", stream=True),
     dict(provider="deepseek", api="chat", tok_in=unit("hi deepseek"), tok_out=R, stream=True)),
    ("xai", "https://api.x.ai/v1/chat/completions", OA, chat("grok-3-mini", "hi grok"),
     dict(provider="xai", api="chat", tok_in=unit("hi grok"), tok_out=R)),
    ("together", "https://api.together.xyz/v1/chat/completions", OA,
     chat("meta-llama/Llama-3.3-70B-Instruct-Turbo", "hi together"),
     dict(provider="together", api="chat", tok_in=unit("hi together"), tok_out=R)),
    ("openrouter", "https://openrouter.ai/api/v1/chat/completions", OA, chat("openai/gpt-4o-mini", "hi openrouter"),
     dict(provider="openrouter", api="chat", tok_in=unit("hi openrouter"), tok_out=R)),
]


def check(t, label, rec, exp):
    for k, v in exp.items():
        if k == "stream":
            t.eq(bool(rec["flags"] & 1), v, "%s: stream flag" % label)
        else:
            t.eq(rec.get(k), v, "%s: %s" % (label, k))
    t.ok(rec["status"] == 200, "%s: status 200" % label, rec.get("error"))
    t.ok(rec["model_resp"] != "", "%s: answered model recorded" % label)
    t.ok(rec["cost_flags"] & 1 and rec["cost_nusd"] > 0, "%s: priced from the table" % label,
         (rec["model_req"], rec["model_resp"], rec["cost_flags"]))


def rfc3339(s):
    """Seconds since the epoch of "YYYY-MM-DDTHH:MM:SSZ", or None."""
    try:
        return calendar.timegm(time.strptime(s, "%Y-%m-%dT%H:%M:%SZ"))
    except (TypeError, ValueError):
        return None


def anthropic_limits(served, used_in, used_out):
    """The anthropic-ratelimit-* values the mock sends after `served` requests and
    these tokens since its reset (tests/mock/README.md, "Headers"): limits 4000
    requests, 400000 tokens and input tokens, 80000 output tokens; remaining =
    limit - use so far, this request included. The -reset values are checked apart."""
    return {"anthropic-ratelimit-requests-limit": "4000",
            "anthropic-ratelimit-requests-remaining": str(4000 - served),
            "anthropic-ratelimit-tokens-limit": "400000",
            "anthropic-ratelimit-tokens-remaining": str(400000 - used_in - used_out),
            "anthropic-ratelimit-input-tokens-limit": "400000",
            "anthropic-ratelimit-input-tokens-remaining": str(400000 - used_in),
            "anthropic-ratelimit-output-tokens-limit": "80000",
            "anthropic-ratelimit-output-tokens-remaining": str(80000 - used_out)}


RESETS = ["anthropic-ratelimit-%s-reset" % n for n in ("requests", "tokens", "input-tokens", "output-tokens")]


def check_anthropic_ratelimit(t, w):
    """Anthropic's rate-limit headers end to end: the mock's own anthropic-ratelimit-*
    on every answer, and scripted retry-after headers on a 429 and a 529, are kept in
    the record's ratelimit field (core/capture.c: names lower-cased, values verbatim)."""
    w.reset_store()
    w.mock.reset()
    url = "https://api.anthropic.com/v1/messages"
    retry_date = "Wed, 21 Oct 2026 07:28:00 GMT"
    w.mock.script([{"status": 429, "headers": {"Retry-After": "17"}}], match={"path": "/v1/messages"})
    texts = ["rate limited first", "rate limits in a plain answer", "rate limits streamed", "overloaded now"]
    bodies = [{"model": "claude-sonnet-4-5", "max_tokens": 100, "messages": [{"role": "user", "content": x}]}
              for x in texts]
    bodies[2]["stream"] = True
    calls = [{"url": url, "headers": AN, "body": b} for b in bodies]
    t0 = time.time()
    r, got = run_calls(w, calls[:3])
    # A 529 (overloaded) with retry-after as an HTTP date, scripted after the three answers.
    w.mock.script([{"status": 529, "headers": {"retry-after": retry_date}}], match={"path": "/v1/messages"})
    r2, got2 = run_calls(w, calls[3:])
    t1 = time.time()
    got += got2
    t.eq([g["status"] for g in got], [429, 200, 200, 529],
         "anthropic ratelimit: the app gets 429, 200, 200 (stream), 529")
    recs = w.records(wait_for=4)
    if not t.ok(len(recs) == 4, "anthropic ratelimit: four records", (r.stderr[-500:], r2.stderr[-500:])):
        return
    t.eq([(x["provider"], x["api"], x["status"], bool(x["flags"] & 1)) for x in recs],
         [("anthropic", "messages", 429, False), ("anthropic", "messages", 200, False),
          ("anthropic", "messages", 200, True), ("anthropic", "messages", 529, False)],
         "anthropic ratelimit: provider, API, status and stream flag of each record")
    a_in, b_in = unit(texts[1]), unit(texts[2])
    t.eq([(x["tok_in"], x["tok_out"]) for x in recs[1:3]], [(a_in, R), (b_in, R)],
         "anthropic ratelimit: the answers' tokens (the mock's token rule)")
    # Requests and tokens so far, this one included: the errors count as requests with 0 tokens.
    want = [dict(anthropic_limits(1, 0, 0), **{"retry-after": "17"}),
            anthropic_limits(2, a_in, R),
            anthropic_limits(3, a_in + b_in, 2 * R),
            dict(anthropic_limits(4, a_in + b_in, 2 * R), **{"retry-after": retry_date})]
    labels = ["429", "200", "200 stream", "529"]
    for label, rec, exp in zip(labels, recs, want):
        rl = rec.get("ratelimit") or {}
        t.eq(sorted(rl), sorted(list(exp) + RESETS),
             "anthropic ratelimit %s: the record keeps exactly the rate-limit headers, names lower-cased" % label)
        t.eq({k: v for k, v in rl.items() if k not in RESETS}, exp,
             "anthropic ratelimit %s: limits, remaining%s with the mock's values" %
             (label, " and retry-after" if "retry-after" in exp else ""))
        resets = [rfc3339(rl.get(k)) for k in RESETS]
        t.ok(all(x is not None and int(t0) - 1 + 60 <= x <= int(t1) + 1 + 60 for x in resets),
             "anthropic ratelimit %s: the four -reset values are RFC 3339, now + 60 s" % label,
             [rl.get(k) for k in RESETS])


def run_calls(w, calls, **env):
    spec = os.path.join(w.dir, "calls.json")
    with open(spec, "w") as f:
        json.dump(calls, f)
    r = w.run([PYTHON, os.path.join(CLIENTS, "call_many.py"), spec], **env)
    return r, [json.loads(l) for l in r.stdout.splitlines() if l.startswith("{")]


def main():
    t = TAP()
    with World() as w:
        calls = [{"url": u, "headers": h, "body": b} for _, u, h, b, _ in CASES]
        r, got = run_calls(w, calls)
        t.ok(r.returncode == 0 and len(got) == len(CASES), "the program made %d calls" % len(CASES), r.stderr[-2000:])
        t.ok(all(g["status"] == 200 for g in got), "every call answered 200",
             [(c[0], g["status"], g["body"][:200]) for c, g in zip(CASES, got) if g["status"] != 200])
        recs = w.records(wait_for=len(CASES))
        t.eq(len(recs), len(CASES), "one record per call")
        for (label, _, _, _, exp), rec in zip(CASES, recs):
            check(t, label, rec, exp)
        # Hand-checked cost: gpt-4o-mini, 7 in + 12 out at $0.15/$0.60 per 1M = 1050 + 7200 = 8250 nano-USD.
        t.eq(recs[0]["cost_nusd"] if recs else None, 8250, "gpt-4o-mini cost is exact (8250 nano-USD)")

        # Reasoning and cached prompt tokens (provider-reported), streamed and not.
        w.reset_store()
        w.mock.configure(reasoning_tokens=7, cached_tokens=3)
        calls = [{"url": "https://api.openai.com/v1/chat/completions", "headers": OA,
                  "body": chat("o3-mini", "think about this carefully")},
                 {"url": "https://api.openai.com/v1/chat/completions", "headers": OA,
                  "body": chat("o3-mini", "think while streaming", stream=True)}]
        r, got = run_calls(w, calls)
        recs = w.records(wait_for=2)
        t.ok(len(recs) == 2, "reasoning: two records", r.stderr[-500:])
        for label, text, rec in zip(("reasoning", "reasoning stream"), ("think about this carefully", "think while streaming"), recs):
            t.eq((rec["tok_in"], rec["tok_out"], rec["tok_reasoning"], rec["tok_cached"]), (unit(text), R + 7, 7, 3),
                 "%s: in, out (incl. reasoning), reasoning, cached" % label)
        w.mock.reset()

        # Ollama's native API on a plain-HTTP endpoint of the user's (HC_HOSTS).
        w.reset_store()
        base = "http://127.0.0.1:%d" % w.http.port
        calls = [{"url": base + "/api/chat", "body": {"model": "llama3.2", "stream": False,
                                                      "messages": [{"role": "user", "content": "hi ollama"}]}},
                 {"url": base + "/api/chat", "body": {"model": "llama3.2",
                                                      "messages": [{"role": "user", "content": "stream ollama"}]}},
                 {"url": base + "/api/generate", "body": {"model": "llama3.2", "prompt": "generate please"}}]
        r, got = run_calls(w, calls, HC_HOSTS="127.0.0.1:%d" % w.http.port)
        recs = w.records(wait_for=3)
        t.ok(len(recs) == 3 and all(g["status"] == 200 for g in got), "ollama: three calls answered and recorded",
             r.stderr[-500:])
        exp = [("ollama-chat", unit("hi ollama"), False), ("ollama-chat", unit("stream ollama"), True),
               ("ollama-generate", unit("generate please"), True)]
        for (api, tin, stream), rec in zip(exp, recs):
            t.eq((rec["api"], rec["tok_in"], rec["tok_out"], bool(rec["flags"] & 1)), (api, tin, R, stream),
                 "ollama %s%s: api, tokens, stream flag" % (api, " stream" if stream else ""))

        check_anthropic_ratelimit(t, w)
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
