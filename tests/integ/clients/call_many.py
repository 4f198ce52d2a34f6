"""A plain urllib program that makes the calls listed in a JSON file.

argv: SPEC.json — a list of {"url", "headers", "body" (JSON value or null), "method"}.
Prints one JSON line per call: {"status", "body"} (body as text). Knows nothing
about hcshim: the URLs are the providers' own.
"""
import json
import sys
import urllib.error
import urllib.request

for call in json.load(open(sys.argv[1])):
    data = None if call.get("body") is None else json.dumps(call["body"]).encode()
    req = urllib.request.Request(call["url"], data=data, headers=call.get("headers", {}),
                                 method=call.get("method", "POST" if data is not None else "GET"))
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            print(json.dumps({"status": r.status, "body": r.read().decode("utf-8", "replace")}), flush=True)
    except urllib.error.HTTPError as e:
        print(json.dumps({"status": e.code, "body": e.read().decode("utf-8", "replace")}), flush=True)
