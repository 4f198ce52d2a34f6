#!/usr/bin/python3
"""Gateway feature: client-side rate limits (Helicone-RateLimit-Policy / HC_RATELIMIT),
against the spec.

- No policy: no Helicone-RateLimit-* response headers.
- "5;w=60" with 8 requests at once from one asyncio program (httpx.AsyncClient)
  and from 8 processes: exactly 5 get 200 and 3 get 429 (JSON error, headers
  Limit 5 / Remaining 0 / Policy), the provider saw 5 calls, 3 records BLOCKED;
  the 5 allowed answers carry Remaining 4,3,2,1,0 (each counted once).
- Remaining counts down 2,1,0 and the 4th request is refused.
- s=user and s=<property>: segments independent of each other, shared across
  processes.
- Shared by processes using the store: 2 + 2 requests against "3;w=60".
- A sliding window of w=2 lets requests through again after 2 s.
- u=cents: the cost of completed requests counts; 1 cent is gone after one
  gpt-4o answer of 2000 words (2 cents).
- A malformed policy -> 400 naming the header, no upstream call.
"""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "clients"))
from feat_lib import BLOCKED, RATE_LIMITED, brief, call, chat, collect, curl, main, records, rq, spawn  # noqa: E402

POLICY = "Helicone-RateLimit-Policy"


def num(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def fresh(w):
    w.mock.reset()
    w.reset_store()


def rl(r):
    return (r.h("helicone-ratelimit-limit"), r.h("helicone-ratelimit-remaining"), r.h("helicone-ratelimit-policy"))


def check_blocked(t, w, resps, limit, policy, label):
    """Every 429 in resps is the gateway's: JSON error and the three headers."""
    blocked = [r for r in resps if r.status == 429]
    t.ok(blocked and all(isinstance(r.json, dict) and "error" in r.json for r in blocked),
         "%s: the 429s have a JSON error body" % label, blocked[:1])
    t.ok(blocked and all(rl(r) == (str(limit), "0", policy) for r in blocked),
         "%s: the 429s carry Limit %s, Remaining 0, Policy %s" % (label, limit, policy), [rl(r) for r in blocked])


def no_policy(t, w):
    fresh(w)
    run = call(w, [rq(chat("no policy"))])
    t.ok(run.res[0].status == 200 and not any(k.startswith("helicone-ratelimit") for k in run.res[0].headers),
         "no policy: 200 without Helicone-RateLimit-* headers", run.detail())


def concurrent_async(t, w):
    fresh(w)
    w.mock.configure(latency_ms=300)   # all 8 in flight at once
    reqs = [rq(chat("burst"), {POLICY: "5;w=60"}) for _ in range(8)]
    run = call(w, reqs, lib="httpx-async", concurrent=True)
    st = run.statuses()
    t.eq((st.count(200), st.count(429)), (5, 3), "8 concurrent requests (httpx.AsyncClient), 5;w=60: 5 x 200, 3 x 429",
         run.detail())
    t.eq(w.mock.count(), 5, "upstream saw 5 calls")
    check_blocked(t, w, run.res, 5, "5;w=60", "async burst")
    ok = [r for r in run.res if r.status == 200]
    t.ok(all(rl(r)[0] == "5" and rl(r)[2] == "5;w=60" for r in ok), "allowed answers carry Limit 5 and the Policy",
         [rl(r) for r in ok])
    t.eq(sorted(rl(r)[1] or "" for r in ok), ["0", "1", "2", "3", "4"],
         "allowed answers' Remaining are 4,3,2,1,0 (each request counted once, atomically)")
    recs = records(w, 8)
    t.eq(len(recs), 8, "8 records")
    t.eq(sum(1 for r in recs if r["flags"] & BLOCKED), 3, "3 records BLOCKED", brief(recs))
    t.ok(all(r["status"] == 429 for r in recs if r["flags"] & BLOCKED), "BLOCKED records have status 429", brief(recs))
    t.ok(not any(r["flags"] & RATE_LIMITED for r in recs),
         "no record is RATE_LIMITED (the provider never answered 429; the gateway did)", brief(recs))


def concurrent_processes(t, w):
    fresh(w)
    w.mock.configure(latency_ms=300)
    procs = [spawn(w, [rq(chat("burst from process %d" % i))], HC_RATELIMIT="5;w=60") for i in range(8)]
    runs = [collect(p) for p in procs]
    st = [r.res[0].status for r in runs]
    t.eq((st.count(200), st.count(429)), (5, 3), "8 processes at once, HC_RATELIMIT=5;w=60: 5 x 200, 3 x 429",
         [r.detail() for r in runs if r.res[0].status not in (200, 429)][:2])
    t.eq(w.mock.count(), 5, "8 processes: upstream saw 5 calls")
    check_blocked(t, w, [r.res[0] for r in runs], 5, "5;w=60", "8 processes")
    recs = records(w, 8)
    t.eq(sum(1 for r in recs if r["flags"] & BLOCKED), 3, "8 processes: 3 records BLOCKED", brief(recs))


def countdown(t, w):
    fresh(w)
    _, got = curl(w, [rq(chat("count down %d" % i), {POLICY: "3;w=60"}) for i in range(4)])
    t.eq([g.status for g in got], [200, 200, 200, 429], "3;w=60: 3 answered, the 4th refused")
    t.eq([rl(g) for g in got], [("3", "2", "3;w=60"), ("3", "1", "3;w=60"), ("3", "0", "3;w=60"), ("3", "0", "3;w=60")],
         "Limit 3, Remaining 2, 1, 0, 0, Policy echoed")
    t.eq(w.mock.count(), 3, "refused request: no upstream call")
    recs = records(w, 4)
    t.eq([bool(r["flags"] & BLOCKED) for r in recs], [False, False, False, True], "only the refused record is BLOCKED",
         brief(recs))


def per_user(t, w):
    fresh(w)
    pol = {POLICY: "2;w=60;s=user"}
    a = call(w, [rq(chat("user a %d" % i), dict(pol, **{"Helicone-User-Id": "a"})) for i in range(3)], lib="requests")
    b = call(w, [rq(chat("user b %d" % i), pol) for i in range(2)], HC_USER_ID="b")
    a2 = call(w, [rq(chat("user a again"), pol)], HC_USER_ID="a")
    t.eq(a.statuses(), [200, 200, 429], "s=user: user a limited after 2", a.detail())
    t.eq(b.statuses(), [200, 200], "s=user: user b (HC_USER_ID) not limited by a's requests", b.detail())
    t.eq(a2.statuses(), [429], "s=user: user a limited in another process too", a2.detail())
    t.eq(w.mock.count(), 4, "per user: 4 upstream calls")
    recs = records(w, 6)
    t.eq([(r["user"], bool(r["flags"] & BLOCKED)) for r in recs],
         [("a", False), ("a", False), ("a", True), ("b", False), ("b", False), ("a", True)],
         "records: the blocked ones are user a's")


def per_property(t, w):
    fresh(w)
    pol = {POLICY: "1;w=60;s=Team"}
    run = call(w, [rq(chat("team %s" % team), dict(pol, **{"Helicone-Property-Team": team}))
                   for team in ("red", "blue", "red")])
    t.eq(run.statuses(), [200, 200, 429], "s=Team: one per team value; red's second is refused", run.detail())
    run = call(w, [rq(chat("team blue again"), pol)], HC_PROPERTY_Team="blue")
    t.eq(run.statuses(), [429], "s=Team: HC_PROPERTY_Team=blue in another process is refused too", run.detail())
    run = call(w, [rq(chat("team green"), pol)], HC_PROPERTY_Team="green")
    t.eq(run.statuses(), [200], "s=Team: a new team value is allowed", run.detail())
    t.eq(w.mock.count(), 3, "per property: 3 upstream calls")


def across_processes(t, w):
    fresh(w)
    p1 = call(w, [rq(chat("proc one %d" % i)) for i in range(2)], HC_RATELIMIT="3;w=60")
    p2 = call(w, [rq(chat("proc two %d" % i)) for i in range(2)], lib="httpx", HC_RATELIMIT="3;w=60")
    t.eq(p1.statuses() + p2.statuses(), [200, 200, 200, 429], "HC_RATELIMIT=3;w=60 shared by two processes in turn",
         (p1.detail(), p2.detail()))
    t.eq(rl(p1.res[0]), ("3", "2", "3;w=60"), "policy from HC_RATELIMIT: the three headers on an allowed answer")
    t.eq(w.mock.count(), 3, "across processes: 3 upstream calls")


def window_expiry(t, w):
    fresh(w)
    pol = {POLICY: "2;w=2"}
    _, got = curl(w, [rq(chat("window %d" % i), pol) for i in range(3)])
    t.eq([g.status for g in got], [200, 200, 429], "2;w=2: the 3rd request in the window is refused")
    time.sleep(2.3)
    _, got = curl(w, [rq(chat("window later"), pol)])
    t.eq([g.status for g in got], [200], "2;w=2: 2.3 s later the window has slid, the request goes through")
    t.eq(w.mock.count(), 3, "window: 3 upstream calls")


def cents(t, w):
    fresh(w)
    w.mock.configure(reply_words=2000)   # gpt-4o: 2000 output tokens x $10/M = 2 cents
    pol = {POLICY: "1;w=60;u=cents"}
    run = call(w, [rq(chat("expensive answer", model="gpt-4o"), pol) for _ in range(2)], pause=0.3)
    t.eq(run.statuses(), [200, 429], "u=cents, quota 1 cent: the first priced request (2 cents) uses it up",
         run.detail())
    t.eq(w.mock.count(), 1, "u=cents: the refused request made no upstream call")
    recs = records(w, 2)
    t.ok(recs and recs[0]["cost_nusd"] >= 10000000, "premise: the first request cost at least 1 cent",
         brief(recs))
    t.ok(len(recs) == 2 and recs[1]["flags"] & BLOCKED, "u=cents: the refused record is BLOCKED", brief(recs))
    if run.res[1].status == 429:
        lim, rem, _ = rl(run.res[1])
        t.ok(num(lim) == 1 and num(rem) == 0, "u=cents 429: Limit 1, Remaining 0 (compared as numbers: cents are fractional)",
             rl(run.res[1]))


def malformed(t, w):
    fresh(w)
    bad = ["abc", "5;w=", "5;w=60;u=dollars"]
    _, got = curl(w, [rq(chat("bad policy"), {POLICY: p}) for p in bad])
    for g, p in zip(got, bad):
        t.eq(g.status, 400, "malformed policy %r -> 400" % p)
        t.ok("helicone-ratelimit-policy" in g.body.lower() and isinstance(g.json, dict),
             "malformed policy %r: JSON error naming the header" % p, g.body[:300])
    t.eq(w.mock.count(), 0, "malformed policy: no upstream call")
    # The same mistake in HC_RATELIMIT is the operator's, not the app's: said
    # once on stderr naming the variable, and the requests go through (fail open).
    run = call(w, [rq(chat("env policy bad %d" % i)) for i in range(2)], HC_RATELIMIT="abc")
    t.eq(run.statuses(), [200, 200], "HC_RATELIMIT=abc: requests are not refused", run.detail())
    t.ok("HC_RATELIMIT=abc" in run.stderr and run.stderr.count("HC_RATELIMIT") == 1,
         "HC_RATELIMIT=abc: one warning naming the variable", run.stderr[-400:])
    t.eq(w.mock.count(), 2, "HC_RATELIMIT=abc: both reached the upstream")


if __name__ == "__main__":
    sys.exit(main([no_policy, concurrent_async, concurrent_processes, countdown, per_user, per_property,
                   across_processes, window_expiry, cents, malformed], http_mock=False))
