"""python3-httpx client whose sockets are bound before connect()
(local_address="0.0.0.0": httpcore binds to 0.0.0.0:0, then connects)."""
import httpx

from common import parse_args, report, request

provider, stream, count, prompt = parse_args()
with httpx.Client(timeout=30, transport=httpx.HTTPTransport(local_address="0.0.0.0")) as c:
    for i in range(count):
        url, headers, body = request(provider, stream, prompt)
        r = c.post(url, content=body, headers=headers)
        report(provider, stream, r.status_code, r.text, dict(r.headers))
