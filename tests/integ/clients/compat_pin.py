"""An app that pins its provider's certificate: after the TLS handshake it
compares the SHA-256 fingerprint of the server certificate with the pin it
ships with and refuses to send anything if they differ (exit 3).

argv: URL PIN_SHA256_HEX [PROMPT]. The chain is also verified normally
(system store / SSL_CERT_FILE). stdout: one JSON line like the other clients;
stderr: COMPAT-PEER <sha256 seen>."""
import hashlib
import http.client
import json
import ssl
import sys
import urllib.parse

url, pin = sys.argv[1], sys.argv[2].lower()
prompt = sys.argv[3] if len(sys.argv) > 3 else "say hello to the test"
u = urllib.parse.urlsplit(url)
c = http.client.HTTPSConnection(u.hostname, u.port or 443, context=ssl.create_default_context(), timeout=30)
c.connect()
seen = hashlib.sha256(c.sock.getpeercert(binary_form=True)).hexdigest()
sys.stderr.write("COMPAT-PEER %s\n" % seen)
if seen != pin:
    sys.stderr.write("pin mismatch: refusing to talk to this server\n")
    sys.exit(3)
body = json.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": prompt}]})
c.request("POST", u.path, body=body,
          headers={"Authorization": "Bearer sk-test-openai-SECRET-0123456789", "Content-Type": "application/json"})
r = c.getresponse()
raw = r.read().decode()
text = json.loads(raw)["choices"][0]["message"]["content"] if r.status == 200 else ""
print(json.dumps({"status": r.status, "raw": raw, "text": text}), flush=True)
