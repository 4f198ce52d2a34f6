"""urllib.request (stdlib) client."""
import urllib.error
import urllib.request

from common import parse_args, report, request

provider, stream, count, prompt = parse_args()
for i in range(count):
    url, headers, body = request(provider, stream, prompt)
    req = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            raw = r.read().decode()
            report(provider, stream, r.status, raw, dict(r.headers))
    except urllib.error.HTTPError as e:
        report(provider, stream, e.code, e.read().decode(), dict(e.headers))
