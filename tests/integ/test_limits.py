#!/usr/bin/python3
"""One vocabulary, one count: a provider 429, a rate-limit block and a budget
block, made for real (curl under the shim against the mock), are named and
counted the same way by every command, the dashboard data and the JSON."""
import json
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from hctest import TAP, World  # noqa: E402

BODY = '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"%s"}]}'


def curl(w, text, **env):
    return w.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "https://api.openai.com/v1/chat/completions",
                  "-H", "Authorization: Bearer k", "-d", BODY % text], HC_SESSION_ID="s1", HC_USER_ID="u1", **env)


def main():
    t = TAP()
    with World(http_mock=False) as w:
        codes = []
        w.mock.script([{"status": 429}])
        codes.append(curl(w, "provider says 429").stdout)
        codes.append(curl(w, "policy one", HC_RATELIMIT="1;w=600").stdout)
        codes.append(curl(w, "policy two", HC_RATELIMIT="1;w=600").stdout)
        codes.append(curl(w, "budget one", HC_BUDGET="0.000000001/total:block").stdout)
        codes.append(curl(w, "budget two", HC_BUDGET="0.000000001/total:block").stdout)
        t.eq(codes, ["429", "200", "429", "200", "429"], "a provider 429, a rate-limit block, a budget block")
        recs = w.records(wait_for=5)
        t.eq(len(recs), 5, "five records")
        want = {"rate_limited": 1, "ratelimit_blocked": 1, "budget_blocked": 1, "blocked": 2}

        def pick(d):
            return {k: d.get(k) for k in want}

        j = json.loads(w.analyze("report", "--json").stdout)
        t.eq(pick(j["summary"]), want, "report --json")
        j = json.loads(w.analyze("audit", "--max-requests", "9", "--json").stdout)
        t.eq(pick(j["summary"]), want, "audit --json")
        j = json.loads(w.analyze("ratelimits", "--json").stdout)
        t.eq(pick(j["summary"]), want, "ratelimits --json")
        j = json.loads(w.analyze("users", "--json").stdout)
        t.eq(pick(j["users"][0]) if j["users"] else None, want, "users --json")
        j = json.loads(w.analyze("sessions", "--json").stdout)
        s = (j.get("sessions") or [{}])[0]
        t.eq(pick(s), want, "sessions --json")
        j = json.loads(w.analyze("html", "--json").stdout)
        t.eq(pick(j["summary"]), want, "dashboard data: summary (the card)")
        t.eq(pick(j["ratelimits"]), want, "dashboard data: rate limits (the chart's legend)")
        buckets = j["series"]["buckets"]
        t.eq({k: sum(b.get(k, 0) for b in buckets) for k in want}, want, "dashboard data: the chart's buckets")

        out = w.analyze("requests", "--json").stdout
        kinds = {"L": 0, "P": 0, "B": 0}
        text = w.analyze("requests").stdout
        lines = text.splitlines()
        col = lines[0].find("FLAGS") if lines else -1
        for line in lines[1:]:
            flag = line[col:].split("  ")[0].strip() if col >= 0 else ""
            for k in kinds:
                kinds[k] += flag.count(k)
        t.ok(kinds == {"L": 1, "P": 1, "B": 1}, "requests: FLAGS L, P, B once each", text)
        t.ok(len(json.loads(out)["requests"]) == 5, "requests --json: five")
        shown = {}
        for r in recs:
            o = w.analyze("show", r["id"]).stdout
            m = re.search(r"^limit\s+(.*)$", o, re.M)
            if m:
                shown[m.group(1)] = shown.get(m.group(1), 0) + 1
        t.eq(shown, {"provider 429": 1, "rate-limit block": 1, "budget block": 1}, "show: the limit line, same names")
        o = w.analyze("report").stdout
        t.ok("Limits      provider 429s 1   rate-limit blocks 1   budget blocks 1" in o, "report text: same names",
             o)
        o = w.analyze("ratelimits").stdout
        t.ok(re.search(r"Provider 429s\s+1 ", o) and re.search(r"Rate-limit blocks\s+1 ", o)
             and re.search(r"Budget blocks\s+1 ", o), "ratelimits text: same names", o)

        # show spells attempts out; a cache hit's COST says what it saved.
        w.mock.script([{"status": 429}, {"status": 200}])
        code = curl(w, "retried", HC_RETRY="1", HC_RETRY_MIN_TIMEOUT="10ms", HC_RETRY_MAX_TIMEOUT="20ms").stdout
        t.eq(code, "200", "429 then 200 with one retry")
        curl(w, "cached", HC_CACHE="1")
        curl(w, "cached", HC_CACHE="1")
        recs = w.records(wait_for=8)
        retried = next((r for r in recs if r["retries"] == 1), None)
        o = w.analyze("show", retried["id"][-8:]).stdout if retried else ""
        t.ok(re.search(r"^attempts\s+1: 429 · 2: 200 after \d", o, re.M) and "\t" not in o,
             "show: attempts spelled out, no tabs", o)
        t.ok(re.search(r"^user\s+u1$", o, re.M) and re.search(r"^session\s+s1$", o, re.M),
             "show: user, and the session without empty parts", o)
        hit = next((r for r in recs if r["flags"] & 2), None)
        text = w.analyze("requests").stdout
        t.ok(hit and ("saved " + "$") in text, "requests: a cache hit's COST says what it saved", text)
        o = w.analyze("show", hit["id"]).stdout if hit else ""
        head = o.split("\n\n")[0]
        t.ok(not re.search(r"cache write|reasoning", head), "show: fields that do not apply to OpenAI are left out",
             head)
        blocked = next((r for r in recs if r["flags"] & 128), None)
        head = w.analyze("show", blocked["id"]).stdout.split("\n\n")[0].splitlines() if blocked else []
        t.ok(any(x.endswith(" —") for x in head) and not any(re.match(r"^\S.*\S\s+$|^\S+\s*$", x) for x in head),
             "show: an empty field reads —, none is left blank", head)
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
