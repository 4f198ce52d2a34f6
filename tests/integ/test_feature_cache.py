#!/usr/bin/python3
"""Gateway feature: response caching (Helicone-Cache-*), against the spec.

- Off unless asked: no Helicone-Cache header, every request goes upstream.
- Helicone-Cache-Enabled: true / HC_CACHE=1: an identical second request is a
  HIT answered without an upstream call, byte for byte the first answer, in
  the same process and in another process sharing HC_DB; the header false
  wins over HC_CACHE=1.
- Records: the stored answer has CACHE_STORED; the hit has CACHE_HIT, cost 0,
  saved_nusd = the original's cost (> 0), the same tokens and cache key.
- The key: a different temperature, API key or addressed host -> MISS; JSON
  key order and whitespace do not matter -> HIT; Helicone-Cache-Ignore-Keys /
  HC_CACHE_IGNORE_KEYS leave keys out; Helicone-Cache-Seed / HC_CACHE_SEED
  are separate namespaces.
- TTL: Cache-Control max-age, s-maxage (wins over max-age), HC_CACHE_TTL.
- Bucket size 3: three misses (three upstream calls), then hits rotating
  over buckets 0,1,2,0; out-of-range sizes (0, 21) -> 400 naming the header.
- Non-2xx answers are not stored.
- Streams: a streamed hit replays byte for byte what the app got the first
  time (curl -N), also to an asyncio (httpx.AsyncClient) app.
- A hit stored from a compressed answer is still readable by an app that did
  not ask for compression.
- hc-analyze cache / cache clear, when present.
"""
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "clients"))
from feat_lib import (CACHE_HIT, CACHE_STORED, STREAM, brief, call, chat, curl, main,  # noqa: E402
                      records, rq, skip)

ON = {"Helicone-Cache-Enabled": "true"}


def cache_hdrs(resps):
    return [r.h("helicone-cache") for r in resps]


def fresh(w):
    """Empty store (the cache lives there) and a rewound mock."""
    w.mock.reset()
    w.reset_store()


def off_by_default(t, w):
    fresh(w)
    run = call(w, [rq(chat("cache off")), rq(chat("cache off"))])
    t.eq(run.statuses(), [200, 200], "cache off: both requests answered")
    t.eq(cache_hdrs(run.res), [None, None], "cache off: no Helicone-Cache response header")
    t.eq(w.mock.count(), 2, "cache off: both requests went upstream")


def hit_and_record(t, w):
    fresh(w)
    body = chat("cache me if you can", temperature=0.5)
    run = call(w, [rq(body, ON), rq(body, ON)], lib="urllib")
    a, b = run.res
    t.eq(run.statuses(), [200, 200], "same process: both answered 200")
    t.eq(cache_hdrs(run.res), ["MISS", "HIT"], "same process: Helicone-Cache MISS then HIT")
    t.eq(b.h("helicone-cache-bucket-idx"), "0", "hit: Helicone-Cache-Bucket-Idx: 0 (bucket size 1)")
    t.ok(a.body and a.body == b.body, "hit: the body is byte for byte the first answer", (a.body[:200], b.body[:200]))
    t.eq(w.mock.count(), 1, "same process: upstream saw 1 call for 2 requests")

    recs = records(w, 2)
    if t.eq(len(recs), 2, "2 records written"):
        r0, r1 = recs
        t.ok(r0["flags"] & CACHE_STORED and not r0["flags"] & CACHE_HIT,
             "the stored answer's record has CACHE_STORED, not CACHE_HIT", brief(recs))
        t.ok(r1["flags"] & CACHE_HIT, "the hit's record has CACHE_HIT", brief(recs))
        t.eq(r1["status"], 200, "the hit's record has status 200")
        t.eq(r1["cost_nusd"], 0, "the hit costs nothing")
        t.ok(r0["cost_nusd"] > 0 and r1["saved_nusd"] == r0["cost_nusd"],
             "saved_nusd of the hit = cost of the original answer (> 0 for gpt-4o-mini)",
             (r0["cost_nusd"], r1["saved_nusd"]))
        t.eq((r1["tok_in"], r1["tok_out"]), (r0["tok_in"], r0["tok_out"]), "the hit has the original's token counts")
        t.ok(r0["cache_key"] and r0["cache_key"] == r1["cache_key"], "stored and hit records carry the same cache_key",
             (r0["cache_key"], r1["cache_key"]))

    # Another process (curl) sharing the store.
    _, (c,) = curl(w, [rq(body, ON)])
    t.eq((c.status, c.h("helicone-cache")), (200, "HIT"), "another process (curl): HIT")
    t.ok(c.body == a.body, "another process: same bytes as the original answer", c.body[:200])
    t.eq(w.mock.count(), 1, "another process: still 1 upstream call")

    # HC_CACHE=1 without any header (httpx): hit on the entry above, miss on a new body.
    run = call(w, [rq(body), rq(chat("cache via env"))], lib="httpx", HC_CACHE="1")
    t.eq(cache_hdrs(run.res), ["HIT", "MISS"], "HC_CACHE=1 without a header: HIT, then MISS on a new body", run.detail())
    t.eq(w.mock.count(), 2, "HC_CACHE=1: only the new body went upstream")

    # A header wins over the environment.
    run = call(w, [rq(body, {"Helicone-Cache-Enabled": "false"})], HC_CACHE="1")
    t.ok(run.res[0].status == 200 and run.res[0].h("helicone-cache") is None,
         "Helicone-Cache-Enabled: false beats HC_CACHE=1: no cache header", run.detail())
    t.eq(w.mock.count(), 3, "cache disabled by header: the request went upstream")


def reordered(body):
    """The same JSON value with every object's keys in reverse order."""
    def rev(v):
        if isinstance(v, dict):
            return {k: rev(v[k]) for k in reversed(list(v))}
        if isinstance(v, list):
            return [rev(x) for x in v]
        return v
    return json.dumps(rev(body))


def key_parts(t, w):
    fresh(w)
    base = chat("what goes into the key", temperature=0.2, top_p=0.9, metadata={"a": "1", "b": "2"})
    other_temp = dict(base, temperature=0.7)
    groq = "https://api.groq.com/openai/v1/chat/completions"
    reqs = [
        rq(base, ON),                                          # 0 MISS (stored)
        rq(other_temp, ON),                                    # 1 MISS: different temperature
        rq(None, ON, raw=reordered(base)),                     # 2 HIT: key order, also nested
        rq(None, ON, raw=json.dumps(base, indent=2)),          # 3 HIT: whitespace
        rq(base, dict(ON, Authorization="Bearer sk-test-other-key")),  # 4 MISS: another API key
        rq(base, ON, url=groq),                                # 5 MISS: another host
        rq(base, ON),                                          # 6 HIT
    ]
    _, got = curl(w, reqs)
    h = cache_hdrs(got)
    t.eq([g.status for g in got], [200] * 7, "key parts: every request answered")
    t.eq(h[1], "MISS", "different temperature: MISS")
    t.eq(h[2], "HIT", "same JSON with object keys (also nested ones) in another order: HIT")
    t.eq(h[3], "HIT", "same JSON with other whitespace: HIT (canonical body)")
    t.eq(h[4], "MISS", "different API key (Authorization): MISS, keys do not share entries")
    t.eq(h[5], "MISS", "same path and body to another host (api.groq.com/openai): MISS")
    t.eq(h[6], "HIT", "the original request again: HIT")
    t.ok(got[2].body == got[0].body, "reordered-key hit returns the first answer", got[2].body[:200])
    t.eq(w.mock.count(), 4, "key parts: upstream saw 4 calls (base, temperature, key, host)")


def ignore_keys(t, w):
    fresh(w)
    ig = dict(ON, **{"Helicone-Cache-Ignore-Keys": "user"})
    b1 = chat("ignore the user key", user="u1")
    b2 = chat("ignore the user key", user="u2")
    b3 = chat("ignore the user key", user="u2", temperature=0.9)
    _, got = curl(w, [rq(b1, ig), rq(b2, ig), rq(b3, ig), rq(chat("ignore the user key", user="u4"), ON)])
    h = cache_hdrs(got)
    t.eq(h[:3], ["MISS", "HIT", "MISS"],
         "Ignore-Keys: user: different user -> HIT; a different temperature still -> MISS")
    t.eq(h[3], "MISS", "without Ignore-Keys the user key is part of the key: MISS")
    t.ok(got[1].body == got[0].body, "ignore-keys hit returns the answer stored for user u1")
    run = call(w, [rq(chat("ignore the user key", user="u3"), ON)], HC_CACHE_IGNORE_KEYS="user,metadata")
    t.eq(run.res[0].h("helicone-cache"), "HIT", "HC_CACHE_IGNORE_KEYS=user,metadata: HIT despite another user",
         run.detail())
    t.eq(w.mock.count(), 3, "ignore-keys: upstream saw 3 calls")


def seeds(t, w):
    fresh(w)
    b = chat("seeded cache entries")
    s1 = dict(ON, **{"Helicone-Cache-Seed": "s1"})
    s2 = dict(ON, **{"Helicone-Cache-Seed": "s2"})
    _, got = curl(w, [rq(b, s1), rq(b, s2), rq(b, s1), rq(b, ON)])
    t.eq(cache_hdrs(got), ["MISS", "MISS", "HIT", "MISS"],
         "seed s1 MISS, seed s2 MISS (separate namespace), s1 again HIT, no seed MISS")
    t.ok(got[2].body == got[0].body and got[1].body != got[0].body, "each seed answers with its own entry")
    run = call(w, [rq(b, ON)], HC_CACHE_SEED="s2")
    t.eq(run.res[0].h("helicone-cache"), "HIT", "HC_CACHE_SEED=s2 without a header: HIT on the s2 entry", run.detail())
    t.ok(run.res[0].body == got[1].body, "HC_CACHE_SEED=s2 answers with the s2 entry")
    t.eq(w.mock.count(), 3, "seeds: upstream saw 3 calls")


def ttl(t, w):
    fresh(w)
    A = rq(chat("ttl a"), dict(ON, **{"Cache-Control": "max-age=1"}))
    B = rq(chat("ttl b"), dict(ON, **{"Cache-Control": "max-age=3600, s-maxage=1"}))
    C = rq(chat("ttl c"), dict(ON, **{"Cache-Control": "s-maxage=3600, max-age=1"}))
    D = rq(chat("ttl d"), ON)
    E = rq(chat("ttl e"), ON)
    _, got = curl(w, [A, A, B, C])
    t.eq(cache_hdrs(got), ["MISS", "HIT", "MISS", "MISS"], "max-age=1: stored and hit at once")
    _, got = curl(w, [D, D], HC_CACHE_TTL="1s")
    t.eq(cache_hdrs(got), ["MISS", "HIT"], "HC_CACHE_TTL=1s: stored and hit at once")
    _, got = curl(w, [E, E], HC_CACHE_TTL="7d")
    t.eq(cache_hdrs(got), ["MISS", "HIT"], "HC_CACHE_TTL=7d: stored and hit")
    time.sleep(1.3)
    _, got = curl(w, [A, B, C, E])
    h = cache_hdrs(got)
    t.eq(h[0], "MISS", "max-age=1, 1.3 s later: expired, MISS")
    t.eq(h[1], "MISS", "max-age=3600 with s-maxage=1: s-maxage wins, expired, MISS")
    t.eq(h[2], "HIT", "s-maxage=3600 with max-age=1: s-maxage wins, still a HIT")
    t.eq(h[3], "HIT", "HC_CACHE_TTL=7d entry: still a HIT")
    _, got = curl(w, [D], HC_CACHE_TTL="1s")
    t.eq(cache_hdrs(got), ["MISS"], "HC_CACHE_TTL=1s, 1.3 s later: expired, MISS")
    t.eq(w.mock.count(), 8, "ttl: upstream saw 8 calls (5 stores, 3 after expiry)")


def buckets(t, w):
    fresh(w)
    hb = dict(ON, **{"Helicone-Cache-Bucket-Max-Size": "3"})
    b = chat("bucketed answers")
    _, got = curl(w, [rq(b, hb) for _ in range(7)])
    t.eq([g.status for g in got], [200] * 7, "bucket size 3: 7 requests answered")
    t.eq(cache_hdrs(got), ["MISS"] * 3 + ["HIT"] * 4, "bucket size 3: the first 3 miss, then hits")
    t.eq(w.mock.count(), 3, "bucket size 3: upstream saw 3 calls")
    t.eq([g.h("helicone-cache-bucket-idx") for g in got[3:]], ["0", "1", "2", "0"],
         "hits rotate round-robin over buckets 0,1,2,0")
    misses = {g.body for g in got[:3]}
    t.eq(len(misses), 3, "the 3 misses are 3 different answers")
    t.ok({g.body for g in got[3:6]} == misses, "the hits on buckets 0,1,2 return the 3 stored answers")
    t.ok(got[3].body == got[6].body, "two hits on bucket 0 return the same answer")
    recs = records(w, 7)
    t.eq([bool(r["flags"] & CACHE_STORED) for r in recs], [True] * 3 + [False] * 4,
         "records: 3 CACHE_STORED", brief(recs))
    t.eq([bool(r["flags"] & CACHE_HIT) for r in recs], [False] * 3 + [True] * 4, "records: 4 CACHE_HIT")


def bucket_invalid(t, w):
    fresh(w)
    reqs = [rq(chat("bad bucket"), dict(ON, **{"Helicone-Cache-Bucket-Max-Size": n})) for n in ("21", "0")]
    _, got = curl(w, reqs)
    for g, n in zip(got, ("21", "0")):
        t.eq(g.status, 400, "Helicone-Cache-Bucket-Max-Size: %s -> HTTP 400" % n)
        j = g.json
        t.ok(isinstance(j, dict) and "error" in j and "helicone-cache-bucket-max-size" in g.body.lower(),
             "bucket size %s: JSON error naming the header" % n, g.body[:300])
    t.eq(w.mock.count(), 0, "invalid bucket size: no upstream call")


def non_2xx(t, w):
    fresh(w)
    w.mock.script([{"status": 500}], match={"model": "gpt-4o-mini"})
    b = chat("do not cache errors")
    _, got = curl(w, [rq(b, ON), rq(b, ON), rq(b, ON)])
    t.eq([g.status for g in got], [500, 200, 200], "500, then 200, then 200")
    t.eq(cache_hdrs(got)[1:], ["MISS", "HIT"], "the 500 was not stored: the next request misses, the one after hits")
    t.eq(w.mock.count(), 2, "non-2xx: upstream saw 2 calls")
    recs = records(w, 3)
    t.ok(len(recs) == 3 and not recs[0]["flags"] & CACHE_STORED and recs[1]["flags"] & CACHE_STORED,
         "records: the 500 has no CACHE_STORED, the 200 has it", brief(recs))


def streamed(t, w):
    fresh(w)
    s = chat("stream me from the cache", stream=True)
    _, (a,) = curl(w, [rq(s, ON)])
    _, (b,) = curl(w, [rq(s, ON)])
    t.ok(a.status == 200 and b"data: [DONE]" in a.raw, "streamed original answered", a.raw[-200:])
    t.eq((a.h("helicone-cache"), b.h("helicone-cache")), ("MISS", "HIT"), "streamed: MISS, then HIT in another process")
    t.ok(a.raw and a.raw == b.raw, "streamed hit: byte-identical to what the app received the first time",
         "first %d bytes, hit %d bytes\n%r\n%r" % (len(a.raw), len(b.raw), a.raw[:300], b.raw[:300]))
    t.ok(b'"usage"' not in b.raw, "streamed hit: no usage chunk the app did not ask for")
    t.eq(w.mock.count(), 1, "streamed: upstream saw 1 call")
    run = call(w, [rq(s, ON)], lib="httpx-async")
    t.ok(run.res[0].h("helicone-cache") == "HIT" and run.res[0].body == a.raw.decode(),
         "streamed hit to an asyncio app (httpx.AsyncClient): same bytes", run.detail())
    recs = records(w, 3)
    if t.eq(len(recs), 3, "streamed: 3 records"):
        r0, r1 = recs[0], recs[1]
        t.ok(r0["flags"] & STREAM and r0["flags"] & CACHE_STORED, "streamed original: STREAM + CACHE_STORED", brief(recs))
        t.ok(r1["flags"] & STREAM and r1["flags"] & CACHE_HIT, "streamed hit: STREAM + CACHE_HIT", brief(recs))
        t.ok((r1["tok_in"], r1["tok_out"]) == (r0["tok_in"], r0["tok_out"]) and r0["tok_out"] > 0,
             "streamed hit: the original's exact tokens", brief(recs, ("tok_in", "tok_out")))
        t.ok(r1["cost_nusd"] == 0 and r1["saved_nusd"] == r0["cost_nusd"] > 0, "streamed hit: cost 0, saved = original",
             brief(recs))


def compressed_entry(t, w):
    fresh(w)
    b = chat("compressed then plain")
    first = call(w, [rq(b, ON)], lib="requests")   # sends Accept-Encoding: gzip, deflate
    second = call(w, [rq(b, ON)], lib="urllib")    # no Accept-Encoding
    t.eq((first.res[0].h("helicone-cache"), second.res[0].h("helicone-cache")), ("MISS", "HIT"),
         "entry stored for a gzip-accepting app, hit by an app that accepts none", second.detail())
    t.ok(second.res[0].json is not None and second.res[0].text() == first.res[0].text() != "",
         "that hit is readable JSON (not compressed bytes the app did not ask for), same answer",
         (first.res[0].body[:200], second.res[0].body[:200]))
    t.eq(w.mock.count(), 1, "compressed entry: upstream saw 1 call")


def analyzer_cache(t, w):
    fresh(w)
    b = chat("analyzer cache view")
    curl(w, [rq(b, ON), rq(b, ON)])
    r = w.analyze("cache", check=False)
    if r.returncode == 2 and "unknown command" in r.stderr:
        skip(t, "hc-analyze cache is not there yet")
        skip(t, "hc-analyze cache clear is not there yet")
        return
    t.ok(r.returncode == 0 and r.stdout.strip(), "hc-analyze cache: exit 0 with a summary", r.stdout + r.stderr)
    r = w.analyze("cache", "clear", "--all", check=False)
    t.eq(r.returncode, 0, "hc-analyze cache clear: exit 0")
    _, (g,) = curl(w, [rq(b, ON)])
    t.eq(g.h("helicone-cache"), "MISS", "after cache clear: the entry is gone (MISS)")


if __name__ == "__main__":
    sys.exit(main([off_by_default, hit_and_record, key_parts, ignore_keys, seeds, ttl, buckets, bucket_invalid,
                   non_2xx, streamed, compressed_entry, analyzer_cache], http_mock=False))
