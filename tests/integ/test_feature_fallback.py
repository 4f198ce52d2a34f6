#!/usr/bin/python3
"""Gateway feature: fallbacks (Helicone-Fallback-Model / -OnCodes, Helicone-Fallbacks,
HC_FALLBACK_MODEL / HC_FALLBACK_ON / HC_FALLBACKS), against the spec.

- Fallback-Model: gpt-4o-mini answers 503 -> the same request goes again with
  "model": "gpt-4o" (correct Content-Length, same messages); the app gets
  gpt-4o's 200 with Helicone-Fallback-Index: 0; record fallback_idx 0,
  model_resp gpt-4o-….
- Codes not listed -> no fallback (the app gets the original failure, no
  index header, fallback_idx -1); ranges "500-599" and "429,500-502".
- HC_FALLBACK_MODEL alone: default codes include 502, 504 and connection
  failures, not 400.
- Helicone-Fallbacks to https://api.groq.com/openai: "$VAR" / "${VAR}" header
  values expanded from the environment and replacing the app's header, path
  "/openai/v1/chat/completions", bodyKeyOverride applied; record provider groq,
  upstream the fallback's. HC_FALLBACKS works without a header.
- List order: the first fallback fails too -> the second answers (index 1);
  all fail -> the app gets the last failure.
- Each target gets the retry policy.
- A streamed request falls back before any byte and the app gets gpt-4o's
  stream (asyncio client).

Every entry of a Helicone-Fallbacks list here lists 429 and 500-599 in its
onCodes and every scripted failure is a 5xx, so the tests hold whether onCodes
is read as "fall back TO this entry on…" or "leave this entry on…".
"""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "clients"))
from feat_lib import brief, call, chat, curl, main, records, rq  # noqa: E402

FB = {"Helicone-Fallback-Model": "gpt-4o", "Helicone-Fallback-OnCodes": "429,500,503"}
CODES = [429, {"from": 500, "to": 599}]
GROQ = {"target-url": "https://api.groq.com/openai",
        "headers": {"Authorization": "Bearer $GROQ_KEY", "X-Feature-Test": "${FEAT_EXTRA}-suffix"},
        "onCodes": CODES, "bodyKeyOverride": {"model": "llama-3.3-70b-versatile"}}
TOGETHER_MODEL = "meta-llama/Llama-3.3-70B-Instruct-Turbo"
TOGETHER = {"target-url": "https://api.together.xyz", "onCodes": CODES,
            "bodyKeyOverride": {"model": TOGETHER_MODEL, "temperature": 0.1}}
VARS = {"GROQ_KEY": "gsk-test-groq-123", "FEAT_EXTRA": "xyz"}


def fresh(w):
    w.mock.reset()
    w.mock.configure(ratelimit_headers=False)
    w.reset_store()


def mreq(w, i):
    reqs = w.mock.requests
    return reqs[i] if -len(reqs) <= i < len(reqs) else {"headers": {}, "json": None, "body": "", "path": ""}


def cl_ok(m):
    """The provider got a Content-Length equal to the body it read."""
    cl = m["headers"].get("content-length")
    return cl is not None and int(cl) == len(m["body"].encode())


def is_4o(model):
    return isinstance(model, str) and model.startswith("gpt-4o") and not model.startswith("gpt-4o-mini")


def fallback_model(t, w):
    fresh(w)
    w.mock.script([{"status": 503}], match={"model": "gpt-4o-mini"})
    body = chat("fall back to the bigger model", temperature=0.3)
    _, (r,) = curl(w, [rq(body, FB)])
    t.eq(r.status, 200, "gpt-4o-mini 503 with Fallback-Model gpt-4o: the app gets 200", r)
    t.ok(is_4o(r.model()), "the answer is gpt-4o's (model in the JSON)", r.model())
    t.ok(r.text().startswith("Mock answer"), "the app gets the fallback's text", r.body[:200])
    t.eq(r.h("helicone-fallback-index"), "0", "Helicone-Fallback-Index: 0 for the Fallback-Model form")
    t.eq(w.mock.count(), 2, "upstream saw 2 calls")
    first, second = mreq(w, 0), mreq(w, 1)
    t.eq([(first["json"] or {}).get("model"), (second["json"] or {}).get("model")], ["gpt-4o-mini", "gpt-4o"],
         "the second call's body has model gpt-4o")
    t.ok(second["json"] and {k: v for k, v in second["json"].items() if k != "model"}
         == {k: v for k, v in body.items() if k != "model"},
         "the fallback body is the app's body with only the model replaced", second["body"][:300])
    t.ok(cl_ok(second), "the rewritten body has a correct Content-Length", second["headers"].get("content-length"))
    t.ok(not any(k.startswith("helicone-") for k in second["headers"]), "no Helicone-* header reaches the fallback")
    recs = records(w, 1)
    rec = recs[-1] if recs else {}
    t.eq(rec.get("fallback_idx"), 0, "record fallback_idx 0", brief(recs))
    t.ok(is_4o(rec.get("model_resp")), "record model_resp is the answering model gpt-4o-…", brief(recs))
    t.eq((rec.get("status"), rec.get("provider")), (200, "openai"), "record status 200, provider openai")


def codes_not_listed(t, w):
    fresh(w)
    w.mock.script([{"status": 503}], match={"model": "gpt-4o-mini"})
    h = dict(FB, **{"Helicone-Fallback-OnCodes": "429,500"})
    _, (r,) = curl(w, [rq(chat("503 is not listed"), h)])
    t.eq(r.status, 503, "503 not in OnCodes 429,500: the app gets the 503", r)
    t.eq(r.h("helicone-fallback-index"), None, "no fallback: no Helicone-Fallback-Index header")
    t.eq(w.mock.count(), 1, "no fallback: 1 upstream call")
    recs = records(w, 1)
    t.eq([x["fallback_idx"] for x in recs], [-1], "no fallback: record fallback_idx -1", brief(recs))


def code_ranges(t, w):
    fresh(w)
    w.mock.script([{"status": 501}, {"status": 503}, {"status": 502}], match={"model": "gpt-4o-mini"})
    reqs = [rq(chat("range a"), dict(FB, **{"Helicone-Fallback-OnCodes": "500-599"})),
            rq(chat("range b"), dict(FB, **{"Helicone-Fallback-OnCodes": "429,500-502"})),
            rq(chat("range c"), dict(FB, **{"Helicone-Fallback-OnCodes": "429,500-502"}))]
    _, got = curl(w, reqs)
    t.eq([g.status for g in got], [200, 503, 200], "OnCodes 500-599: 501 falls back; 429,500-502: 503 does not, 502 does")
    t.ok(is_4o(got[0].model()) and is_4o(got[2].model()), "the fallen-back answers are gpt-4o's",
         [g.model() for g in got])
    t.eq(w.mock.count(), 5, "ranges: 5 upstream calls")


def env_defaults(t, w):
    fresh(w)
    w.mock.script([{"fault": "close_before_response"}, {"status": 504}, {"status": 400}], match={"model": "gpt-4o-mini"})
    run = call(w, [rq(chat("env fallback %d" % i)) for i in range(3)], HC_FALLBACK_MODEL="gpt-4o")
    t.eq(run.statuses(), [200, 200, 400],
         "HC_FALLBACK_MODEL, default codes: connection failure and 504 fall back, 400 does not", run.detail())
    t.ok(is_4o(run.res[0].model()) and is_4o(run.res[1].model()), "fallback answers are gpt-4o's",
         [r.model() for r in run.res])
    t.eq([r.h("helicone-fallback-index") for r in run.res], ["0", "0", None], "Helicone-Fallback-Index on fallbacks only")
    t.eq(w.mock.count(), 5, "env defaults: 5 upstream calls")
    recs = records(w, 3)
    t.eq([x["fallback_idx"] for x in recs], [0, 0, -1], "records: fallback_idx 0, 0, -1", brief(recs))

    fresh(w)
    w.mock.script([{"status": 503}], match={"model": "gpt-4o-mini"})
    run = call(w, [rq(chat("env codes"))], HC_FALLBACK_MODEL="gpt-4o", HC_FALLBACK_ON="429")
    t.eq(run.res[0].status, 503, "HC_FALLBACK_ON=429: a 503 does not fall back", run.detail())
    t.eq(w.mock.count(), 1, "HC_FALLBACK_ON=429: 1 upstream call")


def groq_list(t, w):
    fresh(w)
    w.mock.script([{"status": 500}], match={"model": "gpt-4o-mini"})
    h = {"Helicone-Fallbacks": json.dumps([GROQ])}
    body = chat("fall back to groq")
    run = call(w, [rq(body, h)], lib="requests", **VARS)
    r = run.res[0]
    t.eq(r.status, 200, "Helicone-Fallbacks to api.groq.com: the app gets 200", run.detail())
    t.ok(str(r.model()).startswith("llama-3.3-70b-versatile"), "the answer is the groq model's", r.model())
    t.eq(r.h("helicone-fallback-index"), "0", "Helicone-Fallback-Index: 0")
    t.eq(w.mock.count(), 2, "upstream saw 2 calls")
    g = mreq(w, 1)
    t.eq(g["path"], "/openai/v1/chat/completions", "the fallback's path: target-url path + the request path")
    t.eq(g["headers"].get("authorization"), "Bearer gsk-test-groq-123",
         "\"$GROQ_KEY\" expanded from the environment; it replaces the app's Authorization")
    t.eq(g["headers"].get("x-feature-test"), "xyz-suffix", "\"${FEAT_EXTRA}\" expanded too")
    t.eq((g["json"] or {}).get("model"), "llama-3.3-70b-versatile", "bodyKeyOverride replaced the model")
    t.ok(cl_ok(g), "the rewritten body has a correct Content-Length", g["headers"].get("content-length"))
    t.ok(not any(k.startswith("helicone-") for k in g["headers"]), "no Helicone-* header reaches the fallback")
    t.ok(mreq(w, 0)["headers"].get("authorization") == "Bearer sk-test-feat-0123456789",
         "the original target got the app's own key")
    recs = records(w, 1)
    rec = recs[-1] if recs else {}
    t.eq((rec.get("fallback_idx"), rec.get("provider")), (0, "groq"), "record: fallback_idx 0, provider groq", brief(recs))
    t.ok(str(rec.get("model_resp", "")).startswith("llama-3.3-70b-versatile"), "record model_resp is the groq model")
    up = rec.get("upstream", "")
    t.ok("groq" in up or "/openai" in up, "record upstream is the fallback's URL", up)

    # HC_FALLBACKS: the same list from the environment.
    fresh(w)
    w.mock.script([{"status": 503}], match={"model": "gpt-4o-mini"})
    run = call(w, [rq(body)], HC_FALLBACKS=json.dumps([GROQ]), **VARS)
    t.ok(run.res[0].status == 200 and run.res[0].h("helicone-fallback-index") == "0",
         "HC_FALLBACKS (no header): fallback index 0 answers", run.detail())
    t.eq((mreq(w, 1)["path"], mreq(w, 1)["headers"].get("authorization")),
         ("/openai/v1/chat/completions", "Bearer gsk-test-groq-123"), "HC_FALLBACKS: groq path and expanded key")


def list_order(t, w):
    fresh(w)
    w.mock.script([{"status": 503}], match={"model": "gpt-4o-mini"})
    w.mock.script([{"status": 502}], match={"model": "llama-3.3-70b-versatile"})
    h = {"Helicone-Fallbacks": json.dumps([GROQ, TOGETHER])}
    _, (r,) = curl(w, [rq(chat("second fallback answers"), h)], **VARS)
    t.eq(r.status, 200, "original and first fallback fail: the second answers", r)
    t.ok(str(r.model()).startswith(TOGETHER_MODEL), "the answer is the second fallback's model", r.model())
    t.eq(r.h("helicone-fallback-index"), "1", "Helicone-Fallback-Index: 1")
    t.eq(w.mock.count(), 3, "upstream saw 3 calls")
    t.eq([mreq(w, i)["path"] for i in range(3)],
         ["/v1/chat/completions", "/openai/v1/chat/completions", "/v1/chat/completions"], "in list order")
    third = mreq(w, 2)
    t.eq(((third["json"] or {}).get("model"), (third["json"] or {}).get("temperature")), (TOGETHER_MODEL, 0.1),
         "the second fallback's bodyKeyOverride (model, temperature)")
    t.eq(third["headers"].get("authorization"), "Bearer sk-test-feat-0123456789",
         "a fallback without headers keeps the app's Authorization")
    recs = records(w, 1)
    rec = recs[-1] if recs else {}
    t.eq((rec.get("fallback_idx"), rec.get("provider")), (1, "together"), "record: fallback_idx 1, provider together",
         brief(recs))

    # All fail: the app gets the last failure.
    fresh(w)
    w.mock.script([{"status": 503}], match={"model": "gpt-4o-mini"})
    w.mock.script([{"status": 502}], match={"model": "llama-3.3-70b-versatile"})
    w.mock.script([{"status": 500, "body": {"error": {"message": "last target failed", "type": "server_error"}}}],
                  match={"model": TOGETHER_MODEL})
    _, (r,) = curl(w, [rq(chat("everything fails"), h)], **VARS)
    t.eq(r.status, 500, "all targets fail: the app gets the last failure's status")
    t.ok("last target failed" in r.body, "all targets fail: the app gets the last failure's body", r.body[:300])
    t.eq(w.mock.count(), 3, "all fail: 3 upstream calls, no more")


def retry_per_target(t, w):
    fresh(w)
    w.mock.script([{"status": 503}, {"status": 503}], match={"model": "gpt-4o-mini"})
    w.mock.script([{"status": 429}], match={"model": "gpt-4o"})
    h = dict(FB, **{"Helicone-Retry-Enabled": "true", "Helicone-Retry-Num": "1",
                    "Helicone-Retry-Min-Timeout": "10", "Helicone-Retry-Max-Timeout": "20"})
    run = call(w, [rq(chat("retries on each target"), h)], lib="httpx")
    t.eq(run.res[0].status, 200, "503, retry 503, fallback 429, retry 200: the app gets 200", run.detail())
    t.eq([(m["json"] or {}).get("model") for m in w.mock.requests], ["gpt-4o-mini", "gpt-4o-mini", "gpt-4o", "gpt-4o"],
         "each target got the retry policy: 4 calls in that order")
    t.eq(run.res[0].h("helicone-fallback-index"), "0", "answered by fallback 0")


def streamed(t, w):
    fresh(w)
    w.mock.script([{"status": 503}], match={"model": "gpt-4o-mini"})
    run = call(w, [rq(chat("stream from the fallback", stream=True), FB)], lib="httpx-async")
    r = run.res[0]
    t.ok(r.status == 200 and "data: [DONE]" in r.body and r.text().startswith("Mock answer"),
         "streamed request: falls back, the app gets a whole stream (httpx.AsyncClient)", run.detail())
    t.ok(is_4o(r.model()), "the stream is gpt-4o's", r.model())
    t.eq(r.h("helicone-fallback-index"), "0", "streamed fallback: Helicone-Fallback-Index: 0")
    t.eq(w.mock.count(), 2, "streamed fallback: 2 upstream calls")


if __name__ == "__main__":
    sys.exit(main([fallback_model, codes_not_listed, code_ranges, env_defaults, groq_list, list_order,
                   retry_per_target, streamed], http_mock=False))
