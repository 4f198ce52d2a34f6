"""http.client (stdlib) client on one kept-alive HTTPS connection."""
import http.client
import ssl
import urllib.parse

from common import parse_args, report, request

provider, stream, count, prompt = parse_args()
conn = None
for i in range(count):
    url, headers, body = request(provider, stream, prompt)
    u = urllib.parse.urlsplit(url)
    if conn is None:
        conn = http.client.HTTPSConnection(u.hostname, 443, context=ssl.create_default_context(), timeout=30)
    conn.request("POST", u.path, body=body, headers=headers)
    r = conn.getresponse()
    raw = r.read().decode()
    report(provider, stream, r.status, raw, dict(r.getheaders()))
conn.close()
