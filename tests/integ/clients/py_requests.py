"""python3-requests client: one Session (keep-alive), iter_content for streams."""
import requests

from common import parse_args, report, request

provider, stream, count, prompt = parse_args()
s = requests.Session()
for i in range(count):
    url, headers, body = request(provider, stream, prompt)
    r = s.post(url, data=body, headers=headers, stream=stream, timeout=30)
    raw = b"".join(r.iter_content(None)).decode() if stream else r.text
    report(provider, stream, r.status_code, raw, dict(r.headers))
