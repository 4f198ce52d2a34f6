"""pki.py — a throwaway test PKI, made at test time with the `openssl` command line.

Tests that talk HTTPS to the mock provider need a CA that clients trust and a
server certificate for the names they connect to. Nothing here is committed:
every test run makes its own keys in a directory it owns (usually a tempfile
directory), so no private key ever lives in the repository.

    from pki import make_pki, make_cert
    pki = make_pki(tmpdir)                          # CA + leaf for localhost, 127.0.0.1, ::1
    pki["ca"], pki["cert"], pki["key"]              # PEM file paths
    cert, key = make_cert(pki, ["other.test"], tmpdir)   # another leaf from the same CA

The certificates follow what strict verifiers (OpenSSL, curl, Python's ssl with
VERIFY_X509_STRICT) require: the CA has basicConstraints CA:TRUE (critical),
keyUsage keyCertSign/cRLSign and a subject key identifier; a leaf has
basicConstraints CA:FALSE, keyUsage digitalSignature, extendedKeyUsage
serverAuth, subjectAltName (IP addresses become IP SANs, everything else DNS
SANs) and an authority key identifier. Keys are ECDSA P-256: fast to make, and
accepted by every client the tests run (curl, Python, Ruby, PHP).
"""
import ipaddress
import os
import re
import secrets
import subprocess

DEFAULT_NAMES = ("localhost", "127.0.0.1", "::1")

_CA_CONFIG = """\
[req]
distinguished_name = dn
prompt = no
x509_extensions = ca_ext
[dn]
CN = hcshim test CA {tag}
[ca_ext]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
"""

_LEAF_EXT = """\
[leaf]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = {sans}
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
"""

_EC_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]


def _openssl(*args):
    """Run one openssl command; raise RuntimeError with its stderr if it fails."""
    r = subprocess.run(["openssl", *args], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError("openssl %s failed: %s" % (args[0], r.stderr.strip()))


def _san(name):
    """The subjectAltName entry for one name: IP:addr for IP literals, DNS:name otherwise."""
    try:
        return "IP:%s" % ipaddress.ip_address(name)
    except ValueError:
        return "DNS:%s" % name


def make_pki(dirpath, names=DEFAULT_NAMES):
    """Make a CA and one server certificate for `names` in `dirpath` (created if needed).

    Returns a dict of file paths: ca (CA certificate, the file clients trust),
    ca_key (kept so make_cert can sign more leaves), cert and key (the server's
    certificate and private key). Raises RuntimeError if openssl fails.
    """
    os.makedirs(dirpath, exist_ok=True)
    ca, ca_key = os.path.join(dirpath, "ca.pem"), os.path.join(dirpath, "ca.key")
    cnf = os.path.join(dirpath, "ca.cnf")
    with open(cnf, "w") as f:
        # A random tag keeps subjects distinct when several test CAs coexist.
        f.write(_CA_CONFIG.format(tag=secrets.token_hex(4)))
    try:
        _openssl("req", "-x509", "-new", *_EC_KEY, "-keyout", ca_key, "-out", ca,
                 "-days", "3650", "-sha256", "-config", cnf)
    finally:
        os.unlink(cnf)
    os.chmod(ca_key, 0o600)
    pki = {"ca": ca, "ca_key": ca_key}
    pki["cert"], pki["key"] = make_cert(pki, names, dirpath, stem="server")
    return pki


def make_cert(pki, names, dirpath, stem=None):
    """Make a server certificate for `names`, signed by the CA of `pki` (from make_pki).

    The files are <stem>.pem and <stem>.key in `dirpath`; stem defaults to the
    first name with unsafe characters replaced. Returns (cert path, key path).
    """
    names = list(names)
    if not names:
        raise ValueError("make_cert: at least one name is needed")
    os.makedirs(dirpath, exist_ok=True)
    stem = stem or "leaf-" + re.sub(r"[^A-Za-z0-9.-]", "_", names[0])
    cert, key = os.path.join(dirpath, stem + ".pem"), os.path.join(dirpath, stem + ".key")
    csr, ext = os.path.join(dirpath, stem + ".csr"), os.path.join(dirpath, stem + ".ext")
    with open(ext, "w") as f:
        f.write(_LEAF_EXT.format(sans=", ".join(_san(n) for n in names)))
    try:
        _openssl("req", "-new", *_EC_KEY, "-keyout", key, "-out", csr, "-subj", "/CN=" + names[0])
        _openssl("x509", "-req", "-in", csr, "-CA", pki["ca"], "-CAkey", pki["ca_key"],
                 "-set_serial", "0x" + secrets.token_hex(16), "-days", "825", "-sha256",
                 "-extfile", ext, "-extensions", "leaf", "-out", cert)
    finally:
        for p in (csr, ext):
            if os.path.exists(p):
                os.unlink(p)
    os.chmod(key, 0o600)
    return cert, key
