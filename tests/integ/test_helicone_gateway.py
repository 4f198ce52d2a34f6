#!/usr/bin/python3
"""test_helicone_gateway.py — programs written for Helicone's AI Gateway run unchanged under the shim.

The tutorial's three snippets — the Python OpenAI SDK's request
(clients/helicone_sdk.py), the TypeScript `openai` npm client
(clients/helicone_node.mjs) and the cURL command — use the base URL
https://ai-gateway.helicone.ai and a Helicone key. Under the shim the gateway
answers that host itself and sends each request to the provider its model
names (api.openai.com, api.anthropic.com, generativelanguage.googleapis.com,
all routed to the mock) with that provider's key from the environment:

  - gpt-4o-mini (OpenAI, passed through), claude-sonnet-4 (Anthropic,
    translated: plain, streamed, a forced tool call plain and streamed) and
    gemini-2.0-flash (Google's OpenAI-compatible API), for each client;
  - the provider saw its own key and never the Helicone key; nothing secret
    reached the store; tokens and cost come from the provider's usage;
  - gateway features through the endpoint: properties, cache, retries, a
    model list falling back across providers, a rate limit, a budget; an
    image in a message;
  - the older proxy hosts (oai.helicone.ai, gateway.helicone.ai with
    Helicone-Target-URL) and the errors (unknown model family);
  - no local key for the model's provider (keys stored at Helicone): the
    request goes to Helicone's host as sent (HC_HELICONE_URL stands a mock
    in for it), said once on stderr, recorded;
  - the tutorial's two-step agent (examples/helicone_agent.py) shows each
    step's cost in `hc-analyze report`.
Without the shim the same program cannot reach Helicone at all (no DNS, no
internet in the test namespace): each answer here came from the local gateway.
"""
import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lib"))
from hctest import CLIENTS, PYTHON, ROOT, TAP, World  # noqa: E402

KEYS = {"OPENAI_API_KEY": "sk-openai-SECRET-1111", "ANTHROPIC_API_KEY": "sk-ant-SECRET-2222",
        "GEMINI_API_KEY": "gem-SECRET-3333", "HELICONE_API_KEY": "sk-helicone-SECRET-4444"}
PROMPT_TOKENS = 17     # "You are terse." + "What is the weather in Paris?" + 4 per message (mock's rule)
NODE_OPENAI = os.path.join(ROOT, "tests", "node", "node_modules", "openai", "package.json")
URL = "https://ai-gateway.helicone.ai/v1/chat/completions"
MESSAGES = [{"role": "system", "content": "You are terse."},
            {"role": "user", "content": "What is the weather in Paris?"}]
TOOLS = [{"type": "function", "function": {
    "name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                                          "required": ["city"]}}}]


def parse_sse(text):
    """The curl client: merge an OpenAI chat stream like the SDKs do."""
    out = {"text": "", "tool_calls": {}, "finish": None, "usage": None, "done": False}
    for line in text.splitlines():
        if not line.startswith("data: "):
            continue
        if line[6:] == "[DONE]":
            out["done"] = True
            continue
        c = json.loads(line[6:])
        out["usage"] = c.get("usage") or out["usage"]
        out["model"] = c.get("model")
        for ch in c.get("choices", []):
            d = ch.get("delta", {})
            out["text"] += d.get("content") or ""
            for tc in d.get("tool_calls") or []:
                cur = out["tool_calls"].setdefault(tc["index"], {"function": {"name": "", "arguments": ""}})
                cur["function"]["name"] += (tc.get("function") or {}).get("name") or ""
                cur["function"]["arguments"] += (tc.get("function") or {}).get("arguments") or ""
            out["finish"] = ch.get("finish_reason") or out["finish"]
    out["tool_calls"] = [v for _, v in sorted(out["tool_calls"].items())] or None
    out["text"] = out["text"] or None
    return out


def run_curl(w, model, mode, headers=(), **env):
    body = {"model": model, "messages": MESSAGES}
    if mode.startswith("tool"):
        body.update(tools=TOOLS, tool_choice="required")
    stream = mode.endswith("stream")
    if stream:
        body.update(stream=True, stream_options={"include_usage": True})
    argv = ["curl", "-sS", "-N" if stream else "-s", URL, "-H", "Content-Type: application/json",
            "-H", "Authorization: Bearer " + KEYS["HELICONE_API_KEY"], "-d", json.dumps(body)]
    for h in headers:
        argv += ["-H", h]
    r = w.run(argv, **dict(KEYS, **env))
    if r.returncode != 0:
        return {"status": 0, "error": r.stderr}
    if stream:
        return dict(parse_sse(r.stdout), status=200)
    d = json.loads(r.stdout)
    if "error" in d:
        return {"status": -1, "body": d}
    ch = d["choices"][0]
    return {"status": 200, "text": ch["message"].get("content"), "tool_calls": ch["message"].get("tool_calls"),
            "finish": ch.get("finish_reason"), "usage": d.get("usage"), "model": d.get("model")}


def run_sdk(w, model, mode, headers=(), **env):
    r = w.run([PYTHON, os.path.join(CLIENTS, "helicone_sdk.py"), model, mode] + list(headers), **dict(KEYS, **env))
    return json.loads(r.stdout) if r.stdout.strip() else {"status": 0, "error": r.stderr}


def run_node(w, model, mode, **env):
    r = w.run(["node", os.path.join(CLIENTS, "helicone_node.mjs"), model, mode], **dict(KEYS, **env))
    return json.loads(r.stdout) if r.stdout.strip() else {"status": 0, "error": r.stderr}


CASES = [  # model, mode, provider, upstream path
    ("gpt-4o-mini", "plain", "openai", "/v1/chat/completions"),
    ("claude-sonnet-4", "plain", "anthropic", "/v1/messages"),
    ("claude-sonnet-4", "stream", "anthropic", "/v1/messages"),
    ("claude-sonnet-4", "tool", "anthropic", "/v1/messages"),
    ("claude-sonnet-4", "tool_stream", "anthropic", "/v1/messages"),
    ("gemini-2.0-flash", "plain", "google", "/v1beta/openai/chat/completions"),
]


def check_answer(t, w, who, model, mode, provider, path, res, nrec):
    what = "%s %s %s" % (who, model, mode)
    if not t.ok(res.get("status") == 200, what + ": answered 200", res):
        return nrec
    if mode.startswith("tool"):
        calls = res.get("tool_calls") or []
        t.ok(len(calls) == 1 and calls[0]["function"]["name"] == "get_weather" and
             json.loads(calls[0]["function"]["arguments"] or "null") == {"city": "mock"},
             what + ": one get_weather tool call with its arguments", calls)
        t.eq(res.get("finish"), "tool_calls", what + ": finish_reason tool_calls")
    else:
        t.ok((res.get("text") or "").startswith("Mock answer ") and "Paris?" in res["text"],
             what + ": the provider's answer text", res.get("text"))
        t.eq(res.get("finish"), "stop", what + ": finish_reason stop")
    t.eq((res.get("usage") or {}).get("prompt_tokens"), PROMPT_TOKENS, what + ": usage.prompt_tokens")
    req = w.mock.requests[-1]
    h = req["headers"]
    t.eq(req["path"], path, what + ": the provider got its own API path")
    if provider == "anthropic":
        t.ok(h.get("x-api-key") == KEYS["ANTHROPIC_API_KEY"] and "authorization" not in h and
             h.get("anthropic-version") == "2023-06-01", what + ": Anthropic got x-api-key and anthropic-version only")
        b = json.loads(req["body"])
        t.ok(b.get("model") == "claude-sonnet-4-0" and b.get("system") == "You are terse." and
             isinstance(b.get("max_tokens"), int), what + ": a Messages body (model alias, system, max_tokens)", b)
    else:
        key = KEYS["OPENAI_API_KEY"] if provider == "openai" else KEYS["GEMINI_API_KEY"]
        t.eq(h.get("authorization"), "Bearer " + key, what + ": the provider's own key")
    t.ok(not any(KEYS["HELICONE_API_KEY"] in v for v in h.values()) and
         not any(k.startswith("helicone-") for k in h), what + ": no Helicone key or header upstream")
    recs = w.records(wait_for=nrec + 1)
    if t.eq(len(recs), nrec + 1, what + ": one record"):
        r = recs[-1]
        t.ok(r["host"] == "ai-gateway.helicone.ai" and r["provider"] == provider and r["model_req"] == model,
             what + ": record host, provider, requested model", {k: r[k] for k in ("host", "provider", "model_req")})
        t.ok(r["tok_in"] == PROMPT_TOKENS and r["tok_out"] > 0 and r["cost_nusd"] > 0 and r["status"] == 200,
             what + ": record tokens from the provider's usage, priced",
             {k: r[k] for k in ("tok_in", "tok_out", "cost_nusd", "status")})
    return nrec + 1


def main():
    t = TAP()
    with World() as w:
        # Baseline: the tutorial's program without the shim never reaches Helicone here.
        env = w.env(**KEYS)
        env.pop("LD_PRELOAD")
        r = subprocess.run([PYTHON, os.path.join(CLIENTS, "helicone_sdk.py"), "gpt-4o-mini", "plain"], env=env,
                           capture_output=True, text=True, timeout=60)
        t.ok(r.returncode != 0 and not r.stdout.strip(), "without the shim the tutorial's program cannot answer here")

        n = len(w.mock.requests)
        res = run_sdk(w, "gpt-4o-mini", "plain", HC_HELICONE="cloud")
        t.ok(res["status"] == 0 and len(w.mock.requests) == n,
             "HC_HELICONE=cloud: the shim leaves Helicone's host alone (unreachable here, as without the shim)")

        nrec = 0
        have_node = shutil.which("node") and os.path.isfile(NODE_OPENAI)
        for who, fn in (("python-sdk", run_sdk), ("curl", run_curl), ("node", run_node)):
            if who == "node" and not have_node:
                t.ok(True, "# SKIP node or the openai npm package is not installed")
                continue
            for model, mode, provider, path in CASES:
                nrec = check_answer(t, w, who, model, mode, provider, path, fn(w, model, mode), nrec)

        t.ok(w.mock.requests and not any("SECRET" in json.dumps(q["body"]) for q in w.mock.requests),
             "no key in any request body upstream")
        store = w.store_bytes()
        t.ok(store and not any(k.encode() in store for k in KEYS.values()), "no key (Helicone's or a provider's) in the store")

        # Properties and user through the endpoint.
        w.reset_store()
        res = run_sdk(w, "claude-sonnet-4", "plain",
                      ["Helicone-Property-Workflow=wf", "Helicone-User-Id=u7", "Helicone-Auth=Bearer " + KEYS["HELICONE_API_KEY"]])
        recs = w.records(wait_for=1)
        t.ok(res["status"] == 200 and recs and recs[-1]["props"] == {"Workflow": "wf"} and recs[-1]["user"] == "u7",
             "properties and user recorded for a translated request", recs[-1:] and recs[-1]["props"])

        # Cache: the second identical request is a HIT, translated answer replayed.
        first = run_sdk(w, "claude-sonnet-4", "plain", ["Helicone-Cache-Enabled=true"])
        n = len(w.mock.requests)
        second = run_sdk(w, "claude-sonnet-4", "plain", ["Helicone-Cache-Enabled=true"])
        t.ok(first["headers"].get("helicone-cache") == "MISS" and second["headers"].get("helicone-cache") == "HIT",
             "cache: MISS then HIT", (first["headers"], second["headers"]))
        t.ok(len(w.mock.requests) == n and second["text"] == first["text"],
             "cache: the hit did not reach the provider and gave the same translated answer")

        # Retries: Anthropic answers 503 once, then the answer.
        w.mock.script([{"status": 503}], match={"path": "/v1/messages"})
        res = run_sdk(w, "claude-sonnet-4", "plain", ["Helicone-Retry-Enabled=true", "Helicone-Retry-Num=2",
                                                       "Helicone-Retry-Min-Timeout=10", "Helicone-Retry-Max-Timeout=20"])
        recs = w.records(wait_for=4)
        t.ok(res["status"] == 200 and recs[-1]["retries"] == 1 and recs[-1]["provider"] == "anthropic",
             "retry: a 503 from Anthropic is retried and the translated answer arrives",
             {"status": res["status"], "retries": recs[-1]["retries"]})

        # A model list falls back across providers: Anthropic fails, OpenAI answers.
        w.mock.script([{"status": 500}], match={"path": "/v1/messages"})
        res = run_sdk(w, "claude-sonnet-4/anthropic,gpt-4o-mini/openai", "plain")
        recs = w.records(wait_for=5)
        t.ok(res["status"] == 200 and res["headers"].get("helicone-fallback-index") == "0" and
             recs[-1]["provider"] == "openai" and recs[-1]["fallback_idx"] == 0 and
             (res["model"] or "").startswith("gpt-4o-mini"),
             "model list: Anthropic's 500 falls back to gpt-4o-mini on OpenAI",
             {"status": res["status"], "headers": res["headers"], "rec": recs[-1]["provider"]})
        t.eq(json.loads(w.mock.requests[-1]["body"]).get("model"), "gpt-4o-mini",
             "model list: OpenAI got the bare model name")
        # Helicone-Fallback-Model: the same, from a header.
        w.mock.script([{"status": 429}], match={"path": "/v1/messages"})
        res = run_sdk(w, "claude-sonnet-4", "plain", ["Helicone-Fallback-Model=gemini-2.0-flash"])
        recs = w.records(wait_for=6)
        t.ok(res["status"] == 200 and recs[-1]["provider"] == "google" and
             w.mock.requests[-1]["path"] == "/v1beta/openai/chat/completions",
             "Helicone-Fallback-Model across providers: Anthropic's 429 → Gemini", res.get("headers"))

        # Helicone-Fallbacks to another target: it never gets the app's Helicone key.
        w.mock.script([{"status": 500}], match={"path": "/v1/chat/completions"})
        n = len(w.mock.requests)
        fb = json.dumps([{"target-url": "https://api.together.xyz", "onCodes": [500]}])
        res = run_sdk(w, "gpt-4o-mini", "plain", ["Helicone-Fallbacks=" + fb])
        q = w.mock.requests[-1] if len(w.mock.requests) >= n + 2 else {"headers": {"x": "not tried"}}
        t.ok(len(w.mock.requests) == n + 2 and "authorization" not in q["headers"],
             "Helicone-Fallbacks target without headers of a unified request: no Authorization at all",
             (res.get("status"), len(w.mock.requests) - n, q["headers"]))
        w.mock.script([{"status": 500}], match={"path": "/v1/chat/completions"})
        n = len(w.mock.requests)
        fb = json.dumps([{"target-url": "https://api.together.xyz", "onCodes": [500],
                          "headers": {"Authorization": "Bearer $TOGETHER_KEY"}}])
        res = run_sdk(w, "gpt-4o-mini", "plain", ["Helicone-Fallbacks=" + fb], TOGETHER_KEY="tg-key-1")
        q = w.mock.requests[-1] if len(w.mock.requests) >= n + 2 else {"headers": {}}
        t.ok(res["status"] == 200 and len(w.mock.requests) == n + 2 and
             q["headers"].get("authorization") == "Bearer tg-key-1" and
             KEYS["HELICONE_API_KEY"] not in json.dumps(q["headers"]) and
             KEYS["OPENAI_API_KEY"] not in json.dumps(q["headers"]),
             "Helicone-Fallbacks target of a unified request: only the key its entry names, never the Helicone key",
             (res.get("status"), len(w.mock.requests) - n, q["headers"]))

        # Rate limit: the policy's second request in the window is blocked locally.
        pol = "Helicone-RateLimit-Policy=1;w=60;s=user"
        a = run_sdk(w, "gemini-2.0-flash", "plain", [pol, "Helicone-User-Id=rl"])
        n = len(w.mock.requests)
        b = run_sdk(w, "gemini-2.0-flash", "plain", [pol, "Helicone-User-Id=rl"])
        t.ok(a["status"] == 200 and b["status"] == 429 and len(w.mock.requests) == n,
             "rate limit through the endpoint: the second request is answered 429 locally", (a["status"], b["status"]))

        # Errors the app can act on.
        res = run_sdk(w, "llama-3.3-70b", "plain")
        t.ok(res["status"] == 400 and "MODEL/PROVIDER" in json.dumps(res["body"]),
             "an unknown model family: 400 asking for MODEL/PROVIDER", res.get("body"))
        # No local key for the model: fail open, to Helicone as sent (keys stored at Helicone).
        # HC_HELICONE_URL stands the mock in for Helicone's real host.
        n, nrec = len(w.mock.requests), len(w.records())
        r = w.run([PYTHON, os.path.join(CLIENTS, "helicone_sdk.py"), "claude-sonnet-4", "plain", "Helicone-Property-App=pt"],
                  **dict(KEYS, ANTHROPIC_API_KEY=None, HC_HELICONE_URL=w.mock.url))
        res = json.loads(r.stdout) if r.stdout.strip() else {"status": 0, "error": r.stderr}
        q = w.mock.requests[-1] if len(w.mock.requests) > n else {"headers": {}, "body": "{}"}
        t.ok(res["status"] == 200 and len(w.mock.requests) == n + 1 and q.get("path") == "/chat/completions" and
             q["headers"].get("authorization") == "Bearer " + KEYS["HELICONE_API_KEY"] and
             q["headers"].get("helicone-property-app") == "pt" and
             json.loads(q["body"]).get("model") == "claude-sonnet-4",
             "no provider key: the request goes to Helicone as sent (its key, its headers, its model name)",
             (res, q.get("path"), q["headers"]))
        t.ok(r.stderr.count("passed to Helicone") == 1 and "ANTHROPIC_API_KEY" in r.stderr,
             "no provider key: said once on stderr, naming the variable", r.stderr[-500:])
        r = w.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "https://ai-gateway.helicone.ai/v1/models",
                   "-H", "Authorization: Bearer " + KEYS["HELICONE_API_KEY"]], HC_HELICONE_URL=w.mock.url)
        q = w.mock.requests[-1]
        t.ok(r.stdout == "200" and q["method"] == "GET" and q["path"] == "/v1/models" and
             q["headers"].get("authorization") == "Bearer " + KEYS["HELICONE_API_KEY"] and
             KEYS["OPENAI_API_KEY"] not in json.dumps(q["headers"]),
             "a request the local endpoint does not serve (GET /v1/models) goes to Helicone with the app's key only",
             (r.stdout, r.stderr[-300:], q["method"], q["path"]))
        nrec += 1
        recs = w.records(wait_for=nrec + 1)
        t.ok(len(recs) == nrec + 1 and recs[-2]["status"] == 200 and recs[-2]["host"] == "ai-gateway.helicone.ai",
             "no provider key: the exchange with Helicone is recorded", recs[-1:] and
             {k: recs[-1][k] for k in ("status", "host", "provider")})
        res = run_sdk(w, "claude-sonnet-4", "plain", HC_PROVIDER_KEYS="anthropic=sk-ant-from-map", ANTHROPIC_API_KEY=None)
        t.ok(res["status"] == 200 and w.mock.requests[-1]["headers"].get("x-api-key") == "sk-ant-from-map",
             "HC_PROVIDER_KEYS gives the key")
        w.mock.script([{"status": 400, "body": {"type": "error", "error": {"type": "invalid_request_error",
                                                                           "message": "max_tokens: too large"}}}],
                      match={"path": "/v1/messages"})
        res = run_sdk(w, "claude-sonnet-4", "plain")
        t.ok(res["status"] == 400 and res["body"] == {"error": {"message": "max_tokens: too large",
                                                                "type": "invalid_request_error",
                                                                "param": None, "code": None}},
             "an Anthropic error reaches the app in OpenAI's error shape", res.get("body"))

        # The older proxy hosts: the app's own provider key, the provider's own API.
        r = w.run(["curl", "-sS", "https://oai.helicone.ai/v1/chat/completions", "-H", "Content-Type: application/json",
                   "-H", "Authorization: Bearer sk-app-own-key", "-H", "Helicone-Auth: Bearer " + KEYS["HELICONE_API_KEY"],
                   "-d", json.dumps({"model": "gpt-4o-mini", "messages": MESSAGES})])
        q = w.mock.requests[-1]
        t.ok(r.returncode == 0 and "Mock answer" in r.stdout and q["headers"].get("authorization") == "Bearer sk-app-own-key"
             and "helicone-auth" not in q["headers"], "oai.helicone.ai: OpenAI with the app's key, Helicone-Auth dropped")
        r = w.run(["curl", "-sS", "https://gateway.helicone.ai/v1/chat/completions", "-H", "Content-Type: application/json",
                   "-H", "Authorization: Bearer gsk-app", "-H", "Helicone-Target-URL: https://api.groq.com/openai",
                   "-d", json.dumps({"model": "llama-3.3-70b-versatile", "messages": MESSAGES})])
        q = w.mock.requests[-1]
        t.ok(r.returncode == 0 and "Mock answer" in r.stdout and q["path"] == "/openai/v1/chat/completions" and
             "helicone-target-url" not in q["headers"], "gateway.helicone.ai follows Helicone-Target-URL to Groq", q["path"])

        # An image in a message reaches Claude as an image block.
        img = [{"role": "user", "content": [{"type": "text", "text": "what is this"},
                                            {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}]}]
        r = w.run(["curl", "-sS", URL, "-H", "Content-Type: application/json",
                   "-H", "Authorization: Bearer " + KEYS["HELICONE_API_KEY"],
                   "-d", json.dumps({"model": "claude-sonnet-4", "messages": img})], **KEYS)
        sent = json.loads(w.mock.requests[-1]["body"])
        t.ok(r.returncode == 0 and "Mock answer" in r.stdout and sent["messages"][0]["content"][1] ==
             {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
             "an image_url part reaches Anthropic as a base64 image block", sent["messages"][0]["content"])

        # A budget: the second request over it is blocked locally.
        w.reset_store()
        a = run_sdk(w, "claude-sonnet-4", "plain", HC_BUDGET="0.0000001/day:block")
        n = len(w.mock.requests)
        b = run_sdk(w, "claude-sonnet-4", "plain", HC_BUDGET="0.0000001/day:block")
        t.ok(a["status"] == 200 and b["status"] == 429 and "budget" in json.dumps(b["body"]) and len(w.mock.requests) == n,
             "budget through the endpoint: spent on the first request, the second is blocked (429)", (a["status"], b))

        # The tutorial's two-step agent: per-step cost in the report.
        w.reset_store()
        r = w.run([PYTHON, os.path.join(ROOT, "examples", "helicone_agent.py"), "LMDB"], **KEYS)
        t.ok(r.returncode == 0 and "summary: Mock answer" in r.stdout, "the tutorial's agent runs unchanged", r.stderr[-400:])
        t.eq(r.stderr.count("ai-gateway.helicone.ai is answered locally"), 1,
             "the shim says once on stderr that Helicone's host is answered locally")
        recs = w.records(wait_for=2)
        steps = {x["props"].get("Step"): x for x in recs}
        t.ok(set(steps) == {"research", "summarize"} and steps["research"]["model_req"] == "gpt-4o" and
             steps["summarize"]["model_req"] == "gpt-4o-mini" and all(x["user"] == "user-123" for x in recs),
             "agent: research with gpt-4o, summarize with gpt-4o-mini, user-123", sorted(steps))
        rep = w.analyze("report", "--by", "property:Step").stdout
        lines = {ln.split()[0]: ln for ln in rep.splitlines() if ln.strip().split(" ")[0] in ("research", "summarize")}
        t.ok("research" in lines and "summarize" in lines and "$0.0" in lines["research"] and "$0.0" in lines["summarize"],
             "report --by property:Step shows each step's cost", rep[-600:])
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
