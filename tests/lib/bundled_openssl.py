"""bundled_openssl — a process whose library carries its own OpenSSL, for tests.

A Python wheel such as psycopg2-binary ships libssl-<hash>.so.3 and
libcrypto-<hash>.so.3 (other SONAMEs, same symbol versions) and loads them
RTLD_LOCAL through its extension. build(dir) makes the same thing from the
system's OpenSSL: renamed copies (patchelf: SONAME and DT_NEEDED), a library
tests/integ/clients/bundled_tls.c linked against them, and two apps from
bundled_main.c: app_sys also uses the system OpenSSL itself, app_nosys has no
system OpenSSL at all.
"""
import os
import shutil
import subprocess

LIBDIR = "/usr/lib/x86_64-linux-gnu"
CLIENTS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "integ", "clients")


def build(d):
    """Build into directory d (created). Returns None, or why it cannot be built here."""
    cc = shutil.which("cc") or shutil.which("gcc")
    patchelf = shutil.which("patchelf")
    if not cc or not patchelf:
        return "needs cc and patchelf (scripts/deps.sh test)"
    os.makedirs(d, exist_ok=True)
    ssl3, crypto3 = os.path.join(d, "libssl-hcb.so.3"), os.path.join(d, "libcrypto-hcb.so.3")
    for src, dst in (("libssl.so.3", ssl3), ("libcrypto.so.3", crypto3)):
        if not os.path.exists(os.path.join(LIBDIR, src)):
            return "no system %s" % src
        shutil.copyfile(os.path.join(LIBDIR, src), dst)
    steps = [[patchelf, "--set-soname", "libcrypto-hcb.so.3", crypto3],
             [patchelf, "--replace-needed", "libcrypto.so.3", "libcrypto-hcb.so.3", ssl3],
             [patchelf, "--set-soname", "libssl-hcb.so.3", ssl3],
             [cc, "-shared", "-fPIC", "-O1", "-o", os.path.join(d, "libbundled.so"),
              os.path.join(CLIENTS, "bundled_tls.c"), "-L" + d, "-l:libssl-hcb.so.3", "-l:libcrypto-hcb.so.3",
              "-Wl,-rpath," + d],
             [cc, "-O1", "-DWITH_SYSTEM", "-o", os.path.join(d, "app_sys"), os.path.join(CLIENTS, "bundled_main.c"),
              "-ldl", "-lssl", "-lcrypto"],
             [cc, "-O1", "-o", os.path.join(d, "app_nosys"), os.path.join(CLIENTS, "bundled_main.c"), "-ldl"]]
    for argv in steps:
        r = subprocess.run(argv, capture_output=True, text=True)
        if r.returncode != 0:
            return "%s failed: %s" % (os.path.basename(argv[0]), r.stderr.strip()[-200:])
    out = subprocess.run(["readelf", "-d", os.path.join(d, "libbundled.so")], capture_output=True, text=True).stdout
    if "libssl-hcb.so.3" not in out or "[libssl.so.3]" in out:
        return "libbundled.so does not need the renamed copy: " + out
    return None
