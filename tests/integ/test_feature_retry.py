#!/usr/bin/python3
"""Gateway feature: retries (Helicone-Retry-* / HC_RETRY*), against the spec.

- Off by default: a single 429 goes straight to the app (record: RATE_LIMITED).
- 429, 429, 200 with retries on: the app gets the 200, the provider saw 3
  calls; record retries 2, attempts "429:0,429:w,200:w", RATE_LIMITED, the
  time waited in ratelimit_wait_us.
- 500 x (N+1) with N retries: the app gets the 500 after N+1 calls.
- 502, 503, 504, 429 and connection failures are retried; 400, 401, 404, 422
  are not.
- Backoff: wait before retry k in [w/2, w], w = min(max, min * factor^k).
- retry-after (seconds and HTTP date), retry-after-ms and (on a 429)
  x-ratelimit-reset-requests are waited when longer than the backoff.
- HC_RETRY / HC_RETRY_FACTOR / HC_RETRY_MIN_TIMEOUT / HC_RETRY_MAX_TIMEOUT work
  without headers; HC_RETRY=0 is off; Helicone-Retry-Enabled: false beats HC_RETRY.
- A streamed 200 that breaks after its first bytes reached the app is not
  retried; a 503 before any byte of a streamed request is.

The mock's own x-ratelimit-reset-* headers (1s, 6m0s) are switched off in
every block, so only the headers a block scripts can lengthen a wait.
"""
import email.utils
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "clients"))
from feat_lib import RATE_LIMITED, brief, call, chat, curl, main, records, rq  # noqa: E402

# Fast retries: 10 ms minimum, 50 ms maximum.
RH = {"Helicone-Retry-Enabled": "true", "Helicone-Retry-Num": "3", "Helicone-Retry-Factor": "2",
      "Helicone-Retry-Min-Timeout": "10", "Helicone-Retry-Max-Timeout": "50"}
FAST_ENV = {"HC_RETRY_MIN_TIMEOUT": "10ms", "HC_RETRY_MAX_TIMEOUT": "20ms", "HC_RETRY_FACTOR": "2"}


def fresh(w):
    w.mock.reset()
    w.mock.configure(ratelimit_headers=False)
    w.reset_store()


def attempts(rec):
    """[(status, wait_ms), ...] from a record's attempts field, or the raw text if malformed."""
    raw = rec.get("attempts", "") if rec else ""
    try:
        return [tuple(int(x) for x in a.split(":")) for a in raw.split(",") if a]
    except ValueError:
        return raw


def statuses(att):
    return [a[0] for a in att] if isinstance(att, list) else att


def one_rec(w, t, label):
    recs = records(w, 1)
    t.eq(len(recs), 1, "%s: one record for the exchange" % label, brief(recs))
    return recs[-1] if recs else {}


def off_by_default(t, w):
    fresh(w)
    w.mock.script([{"status": 429}])
    run = call(w, [rq(chat("no retries please"))])
    t.eq(run.res[0].status, 429, "retries off by default: the 429 goes straight to the app", run.detail())
    t.eq(w.mock.count(), 1, "retries off by default: 1 upstream call")
    rec = one_rec(w, t, "off")
    t.eq((rec.get("retries"), statuses(attempts(rec))), (0, [429]), "off: record retries 0, one attempt 429")
    t.ok(rec.get("flags", 0) & RATE_LIMITED, "off: the 429 sets RATE_LIMITED", brief([rec]))


def retry_429(t, w):
    fresh(w)
    w.mock.script([{"status": 429}, {"status": 429}])
    _, (r,) = curl(w, [rq(chat("retry through two 429s"), RH)])
    t.eq(r.status, 200, "429, 429, 200: the app gets the 200")
    t.ok(r.text().startswith("Mock answer 1"), "the app gets the provider's answer", r.body[:200])
    t.eq(w.mock.count(), 3, "429, 429, 200: upstream saw 3 calls")
    rec = one_rec(w, t, "429x2")
    att = attempts(rec)
    t.eq(rec.get("retries"), 2, "record retries == 2")
    t.eq(statuses(att), [429, 429, 200], "record attempts: 3 entries, 429, 429, 200", rec.get("attempts"))
    t.ok(isinstance(att, list) and att and att[0][1] == 0, "the first attempt waited 0 ms", rec.get("attempts"))
    if isinstance(att, list) and len(att) == 3:
        t.ok(4 <= att[1][1] <= 25 and 9 <= att[2][1] <= 35,
             "waits within [w/2, w] of 10 ms then 20 ms (a few ms of slack)", rec.get("attempts"))
    t.ok(rec.get("flags", 0) & RATE_LIMITED, "record has RATE_LIMITED", brief([rec]))
    t.ok(10000 <= rec.get("ratelimit_wait_us", 0) <= 200000, "ratelimit_wait_us = the ~15-30 ms waited",
         rec.get("ratelimit_wait_us"))
    t.eq(rec.get("status"), 200, "record status 200")


def exhausted(t, w):
    fresh(w)
    w.mock.script([{"status": 500}] * 3)
    h = dict(RH, **{"Helicone-Retry-Num": "2"})
    run = call(w, [rq(chat("always failing"), h)], lib="requests")
    t.eq(run.res[0].status, 500, "500 x3 with 2 retries: the app gets the 500", run.detail())
    t.eq(w.mock.count(), 3, "500 x3 with 2 retries: upstream saw 3 calls (not a 4th)")
    rec = one_rec(w, t, "500x3")
    t.eq((rec.get("retries"), statuses(attempts(rec)), rec.get("status")), (2, [500, 500, 500], 500),
         "record: retries 2, attempts 500,500,500, status 500", rec.get("attempts"))
    t.ok(not rec.get("flags", 0) & RATE_LIMITED, "no 429 seen: no RATE_LIMITED flag", brief([rec]))


def each_retryable(t, w):
    fresh(w)
    w.mock.script([{"status": 502}, {"status": 503}, {"status": 504}, {"status": 429}])
    h = dict(RH, **{"Helicone-Retry-Num": "4"})
    run = call(w, [rq(chat("every retryable status"), h)], lib="httpx")
    t.eq(run.res[0].status, 200, "502, 503, 504, 429 each retried: the app gets the 200", run.detail())
    t.eq(w.mock.count(), 5, "upstream saw 5 calls")
    rec = one_rec(w, t, "retryable")
    t.eq(statuses(attempts(rec)), [502, 503, 504, 429, 200], "attempts list each status", rec.get("attempts"))


def not_retried(t, w):
    fresh(w)
    codes = [400, 401, 404, 422]
    w.mock.script([{"status": c} for c in codes])
    run = call(w, [rq(chat("client error %d" % c), RH) for c in codes])
    t.eq(run.statuses(), codes, "400, 401, 404, 422 with retries on: each goes straight to the app", run.detail())
    t.eq(w.mock.count(), 4, "4xx: one upstream call each")
    recs = records(w, 4)
    t.eq([r["retries"] for r in recs], [0] * 4, "4xx: records have retries 0", brief(recs))


def retry_after(t, w):
    fresh(w)
    ok = {"status": 200}
    w.mock.script([{"status": 429, "headers": {"retry-after": "1"}}, ok,
                   {"status": 429, "headers": {"retry-after-ms": "300"}}, ok,
                   {"status": 429, "headers": {"x-ratelimit-reset-requests": "300ms"}}, ok])
    run = call(w, [rq(chat("retry after %d" % i), RH) for i in range(3)], timeout=30)
    t.eq(run.statuses(), [200, 200, 200], "retry-after / retry-after-ms / x-ratelimit-reset-requests: answered",
         run.detail())
    el = [r.elapsed or 0 for r in run.res]
    t.ok(0.95 <= el[0] < 5, "retry-after: 1 honoured (waited ~1 s, min-timeout is 10 ms)", el)
    t.ok(0.28 <= el[1] < 3, "retry-after-ms: 300 honoured", el)
    t.ok(0.28 <= el[2] < 3, "x-ratelimit-reset-requests: 300ms honoured", el)
    t.eq(w.mock.count(), 6, "each retried once: 6 upstream calls")
    recs = records(w, 3)
    if t.eq(len(recs), 3, "3 records"):
        t.ok(recs[0]["ratelimit_wait_us"] >= 950000, "retry-after: 1 -> ratelimit_wait_us >= 0.95 s",
             recs[0]["ratelimit_wait_us"])
        att = attempts(recs[0])
        t.ok(isinstance(att, list) and len(att) == 2 and att[1][1] >= 950, "retry-after: attempts show the ~1000 ms wait",
             recs[0]["attempts"])
        t.ok(recs[1]["ratelimit_wait_us"] >= 280000 and recs[2]["ratelimit_wait_us"] >= 280000,
             "retry-after-ms / reset-requests: ratelimit_wait_us >= 0.28 s", brief(recs, ("ratelimit_wait_us", "attempts")))

    # retry-after as an HTTP date ~2 s ahead (second resolution: at least ~1 s remains).
    w.mock.reset()
    w.mock.configure(ratelimit_headers=False)
    w.mock.script([{"status": 503, "headers": {"retry-after": email.utils.formatdate(time.time() + 2, usegmt=True)}}])
    run = call(w, [rq(chat("retry after a date"), RH)], timeout=30)
    t.eq(run.res[0].status, 200, "retry-after as HTTP date: answered", run.detail())
    t.ok(0.7 <= (run.res[0].elapsed or 0) < 5, "retry-after as HTTP date honoured (waited until about then)",
         run.res[0].elapsed)
    t.eq(w.mock.count(), 2, "retry-after date: 2 upstream calls")


def backoff(t, w):
    fresh(w)
    w.mock.script([{"status": 503}] * 4)
    h = dict(RH, **{"Helicone-Retry-Num": "4", "Helicone-Retry-Factor": "3"})
    t0 = time.monotonic()
    run = call(w, [rq(chat("backoff bounds"), h)])
    t.eq(run.res[0].status, 200, "4 x 503 then 200 with 4 retries: answered", run.detail())
    t.ok((run.res[0].elapsed or 0) >= 0.07, "the app waited at least the sum of the lower bounds (70 ms)",
         run.res[0].elapsed)
    rec = one_rec(w, t, "backoff")
    att = attempts(rec)
    # min 10, factor 3, max 50: w = 10, 30, 50 (90 capped), 50 (270 capped); each wait in [w/2, w].
    bounds = [(5, 10), (15, 30), (25, 50), (25, 50)]
    waits = [a[1] for a in att[1:]] if isinstance(att, list) else att
    good = isinstance(waits, list) and len(waits) == 4 and all(lo - 1 <= x <= hi + 15 for x, (lo, hi) in zip(waits, bounds))
    t.ok(good, "waits before retries 0..3 within [w/2, w] for w = 10, 30, 50, 50 (factor 3, capped at max 50)",
         "attempts=%r" % rec.get("attempts"))
    t.ok(65000 <= rec.get("ratelimit_wait_us", 0) <= 400000, "ratelimit_wait_us is the total of those waits",
         rec.get("ratelimit_wait_us"))
    t.diag("backoff block took %.2fs" % (time.monotonic() - t0))


def env_retry(t, w):
    fresh(w)
    w.mock.script([{"status": 503}, {"status": 503}])
    run = call(w, [rq(chat("env retries"))], HC_RETRY="2", **FAST_ENV)
    t.eq(run.res[0].status, 200, "HC_RETRY=2 (no headers): 503, 503, 200 -> the app gets 200", run.detail())
    t.eq(w.mock.count(), 3, "HC_RETRY=2: 3 upstream calls")
    rec = one_rec(w, t, "HC_RETRY")
    t.eq(rec.get("retries"), 2, "HC_RETRY=2: record retries 2")
    t.ok(rec.get("ratelimit_wait_us", 0) < 500000, "HC_RETRY_MIN/MAX_TIMEOUT durations (10ms/20ms) used",
         rec.get("ratelimit_wait_us"))

    w.mock.reset()
    w.mock.configure(ratelimit_headers=False)
    w.mock.script([{"status": 503}])
    run = call(w, [rq(chat("env retries off"))], HC_RETRY="0", **FAST_ENV)
    t.eq(run.res[0].status, 503, "HC_RETRY=0: off, the 503 goes to the app", run.detail())
    t.eq(w.mock.count(), 1, "HC_RETRY=0: 1 upstream call")

    w.mock.reset()
    w.mock.configure(ratelimit_headers=False)
    w.mock.script([{"status": 503}])
    run = call(w, [rq(chat("header beats env"), {"Helicone-Retry-Enabled": "false"})], HC_RETRY="3", **FAST_ENV)
    t.eq(run.res[0].status, 503, "Helicone-Retry-Enabled: false beats HC_RETRY=3", run.detail())
    t.eq(w.mock.count(), 1, "header off: 1 upstream call")


def connection_failure(t, w):
    fresh(w)
    w.mock.script([{"fault": "close_before_response"}])
    run = call(w, [rq(chat("retry a dropped connection"), RH)], lib="requests")
    t.eq(run.res[0].status, 200, "connection closed before any response: retried, the app gets 200", run.detail())
    t.eq(w.mock.count(), 2, "connection failure: 2 upstream calls")
    rec = one_rec(w, t, "conn")
    t.eq((rec.get("retries"), statuses(attempts(rec))), (1, [0, 200]),
         "record: retries 1, attempts '0:…' (connection failure) then 200", rec.get("attempts"))


def streams(t, w):
    fresh(w)
    w.mock.script([{"fault": "reset_mid_stream", "after_chunks": 3}])
    _, (r,) = curl(w, [rq(chat("stream breaks after bytes", stream=True), RH)])
    t.ok(b"Mock" in r.raw or r.status == 200, "broken stream: the app got the first bytes", r)
    t.ok(b"[DONE]" not in r.raw, "broken stream: not completed by a retry", r.raw[-200:])
    t.eq(w.mock.count(), 1, "a streamed 200 that fails after its first bytes is not retried")
    rec = one_rec(w, t, "stream-break")
    t.eq(rec.get("retries"), 0, "broken stream: record retries 0")

    fresh(w)
    w.mock.script([{"status": 503}])
    _, (r,) = curl(w, [rq(chat("stream after a 503", stream=True), RH)])
    t.ok(r.status == 200 and b"data: [DONE]" in r.raw and r.text().startswith("Mock answer"),
         "streamed request: a 503 before any byte is retried, the app gets the whole stream", r)
    t.eq(w.mock.count(), 2, "streamed 503 retried: 2 upstream calls")


if __name__ == "__main__":
    sys.exit(main([off_by_default, retry_429, exhausted, each_retryable, not_retried, retry_after, backoff, env_retry,
                   connection_failure, streams], http_mock=False))
