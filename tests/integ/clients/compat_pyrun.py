"""compat_pyrun.py — run one of the Python client programs of this directory
unchanged, with two additions the compatibility test (test_compat.py) needs.

    compat_pyrun.py CLIENT.py [client argv...]

1. Evidence of the TLS peer: every completed TLS handshake (ssl.SSLSocket for
   blocking clients, ssl.SSLObject for asyncio's memory BIOs) prints
   "COMPAT-PEER <sha256 of the server certificate, DER, hex>" to stderr.
   So a test can tell the provider's own certificate from the gateway's.

2. COMPAT_ORIGIN=https://localhost:PORT (optional): the clients call
   https://api.openai.com; in observe mode nothing is routed, so the request
   must go to the mock by a name it has a certificate for. This swaps the
   origin where the clients take it from: common.request() (the URL),
   http.client.HTTPSConnection and asyncio.open_connection (which
   py_httpclient.py and py_asyncio.py call with the default port 443).
   The client code itself runs unmodified; this is the equivalent of an
   /etc/hosts entry plus a port.
"""
import hashlib
import os
import runpy
import ssl
import sys
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


def _peer(obj):
    try:
        der = obj.getpeercert(binary_form=True)
        if der:
            sys.stderr.write("COMPAT-PEER %s\n" % hashlib.sha256(der).hexdigest())
            sys.stderr.flush()
    except Exception:  # evidence only: never disturb the client
        pass


def _wrap(cls):
    orig = cls.do_handshake

    def do_handshake(self, *a, **kw):
        r = orig(self, *a, **kw)
        _peer(self)
        return r

    cls.do_handshake = do_handshake


_wrap(ssl.SSLSocket)
_wrap(ssl.SSLObject)

ORIGIN = os.environ.get("COMPAT_ORIGIN")
if ORIGIN:
    import asyncio
    import http.client

    import common

    o = urllib.parse.urlsplit(ORIGIN)
    DEFAULT_HOSTS = ("api.openai.com", "api.anthropic.com")
    _request = common.request

    def request(provider, stream, prompt):
        url, headers, body = _request(provider, stream, prompt)
        u = urllib.parse.urlsplit(url)
        return urllib.parse.urlunsplit((o.scheme, o.netloc, u.path, u.query, "")), headers, body

    common.request = request

    def _swap(host, port):
        if host in DEFAULT_HOSTS or host == o.hostname:
            return o.hostname, (o.port or port)
        return host, port

    _hinit = http.client.HTTPSConnection.__init__

    def hinit(self, host, port=None, *a, **kw):
        host, port = _swap(host, port)
        _hinit(self, host, port, *a, **kw)

    http.client.HTTPSConnection.__init__ = hinit

    _open = asyncio.open_connection

    async def open_connection(host=None, port=None, **kw):
        host, port = _swap(host, port)
        return await _open(host, port, **kw)

    asyncio.open_connection = open_connection

if __name__ == "__main__":
    script = sys.argv[1]
    if not os.path.isabs(script):
        script = os.path.join(HERE, script)
    sys.argv = [script] + sys.argv[2:]
    runpy.run_path(script, run_name="__main__")
