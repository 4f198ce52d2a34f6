"""webdriver — a tiny W3C WebDriver client for headless Chromium, standard library only.

    with Browser() as b:                       # raises Unavailable if Chromium cannot start
        b.get("file:///tmp/report.html")
        b.wait(lambda: b.js("return document.body.dataset.renders") == "1")
        el = b.find("#req-filter")
        b.send_keys(el, "user-03")
        print(b.text(b.find("#req-count")))
        b.screenshot("tests/artifacts/report.png")

It starts /usr/bin/chromedriver on a port the driver picks itself (--port=0;
the port is read from its "started successfully on port N" line), creates
one session for /usr/bin/chromium with a fresh profile directory and
headless flags, and speaks the WebDriver HTTP protocol (JSON over HTTP,
https://www.w3.org/TR/webdriver2/) with urllib. Only 127.0.0.1 is ever
contacted: the driver itself, and whatever URL the test loads.
"""
import base64
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
ELEMENT = "element-6066-11e4-a52e-4f735466cecf"   # the W3C web element identifier key


class Unavailable(Exception):
    """Chromium or chromedriver is missing or would not start (the reason is the message)."""


class WebDriverError(Exception):
    pass


class Browser:
    def __init__(self, width=1400, height=1000, timeout=20.0):
        for path in (CHROMIUM, CHROMEDRIVER):
            if not os.access(path, os.X_OK):
                raise Unavailable("%s is not installed (Debian packages chromium, chromium-driver)" % path)
        self.profile = tempfile.mkdtemp(prefix="hc-chromium-")
        self.log = []
        self.proc = subprocess.Popen([CHROMEDRIVER, "--port=0"], stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, errors="replace",
                                     start_new_session=True)
        port = self._read_port(timeout)
        if port is None:
            self.close()
            raise Unavailable("chromedriver did not start: %s" % " | ".join(self.log[-5:]))
        self.base = "http://127.0.0.1:%d" % port
        # Keep draining the driver's output so it never blocks on a full pipe.
        threading.Thread(target=self._drain, daemon=True).start()
        caps = {"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--no-first-run", "--disable-background-networking",
                         "--disable-component-update", "--disable-sync",
                         "--window-size=%d,%d" % (width, height),
                         "--user-data-dir=" + self.profile],
            },
        }}}
        try:
            v = self._call("POST", "/session", caps, timeout=60)
        except (WebDriverError, OSError) as e:
            self.close()
            raise Unavailable("Chromium would not start a session: %s" % e)
        self.sid = v["sessionId"]
        self.s = "/session/" + self.sid

    def _read_port(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                return None
            self.log.append(line.rstrip())
            m = re.search(r"started successfully on port (\d+)", line)
            if m:
                return int(m.group(1))
        return None

    def _drain(self):
        for line in self.proc.stdout:
            self.log.append(line.rstrip())
            del self.log[:-200]

    def _call(self, method, path, body=None, timeout=30):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json; charset=utf-8"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                out = json.loads(r.read().decode() or "{}")
        except urllib.error.HTTPError as e:
            try:
                v = json.loads(e.read().decode()).get("value", {})
                raise WebDriverError("%s: %s" % (v.get("error"), str(v.get("message", "")).splitlines()[0]))
            except ValueError:
                raise WebDriverError("HTTP %d" % e.code)
        return out.get("value")

    # -- navigation and scripts ---------------------------------------------------------------
    def get(self, url):
        self._call("POST", self.s + "/url", {"url": url}, timeout=60)

    def js(self, script, *args):
        """Run script (a function body; use `return`) in the page; returns its JSON value."""
        return self._call("POST", self.s + "/execute/sync", {"script": script, "args": list(args)})

    def wait(self, cond, timeout=10.0, interval=0.1):
        """Call cond() until it returns something true; returns that, or None on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                v = cond()
            except WebDriverError:
                v = None
            if v or time.monotonic() > deadline:
                return v
            time.sleep(interval)

    # -- elements -----------------------------------------------------------------------------
    def find(self, css):
        return self._call("POST", self.s + "/element", {"using": "css selector", "value": css})[ELEMENT]

    def find_all(self, css):
        return [e[ELEMENT] for e in self._call("POST", self.s + "/elements", {"using": "css selector", "value": css})]

    def click(self, el):
        self._call("POST", self.s + "/element/%s/click" % el, {})

    def send_keys(self, el, text):
        self._call("POST", self.s + "/element/%s/value" % el, {"text": text})

    def clear(self, el):
        self._call("POST", self.s + "/element/%s/clear" % el, {})

    def text(self, el):
        return self._call("GET", self.s + "/element/%s/text" % el)

    def attr(self, el, name):
        return self._call("GET", self.s + "/element/%s/attribute/%s" % (el, name))

    def resize(self, width, height):
        """Set the window size (e.g. to the page's scrollHeight for a full-page screenshot)."""
        self._call("POST", self.s + "/window/rect", {"width": int(width), "height": int(height)})

    def screenshot(self, path):
        png = base64.b64decode(self._call("GET", self.s + "/screenshot"))
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path, "wb") as f:
            f.write(png)
        return len(png)

    # -- teardown -----------------------------------------------------------------------------
    def close(self):
        if getattr(self, "sid", None):
            try:
                self._call("DELETE", self.s, timeout=10)
            except (WebDriverError, OSError):
                pass
            self.sid = None
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
