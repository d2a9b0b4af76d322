"""Headless Chromium for the Python suites, driven over the DevTools protocol with no
package beyond the standard library: a minimal WebSocket client (WS), the PIDs of a
browser's processes (ours), Runtime.evaluate (evaluate), and Chromium, a context manager
that starts the browser on a temp profile, opens its page target and ends every process
it started by PID."""
import base64, json, os, re, signal, socket, struct, subprocess, tempfile, time, urllib.request
import shutil

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


class WS:
    """A minimal RFC 6455 client (text frames, masking, fragments, ping) for the DevTools
    protocol; synchronous, one request in flight at a time, events kept in order."""

    def __init__(self, url, timeout=30):
        m = re.match(r"ws://([^/:]+):(\d+)(/.*)", url)
        self.sock = socket.create_connection((m.group(1), int(m.group(2))), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(("GET %s HTTP/1.1\r\nHost: %s:%s\r\nUpgrade: websocket\r\n"
                           "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                           "Sec-WebSocket-Version: 13\r\n\r\n"
                           % (m.group(3), m.group(1), m.group(2), key)).encode())
        buf = b""
        while b"\r\n\r\n" not in buf:
            b = self.sock.recv(4096)
            if not b:
                raise ConnectionError("websocket handshake: closed: %r" % buf)
            buf += b
        hdr, self.buf = buf.split(b"\r\n\r\n", 1)
        if not hdr.startswith(b"HTTP/1.1 101"):
            raise ConnectionError("websocket handshake refused: %r" % hdr[:300])
        self.next_id = 0
        self.events = []

    def _read(self, n):
        while len(self.buf) < n:
            b = self.sock.recv(1 << 20)
            if not b:
                raise ConnectionError("websocket closed")
            self.buf += b
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def _send_frame(self, op, payload):
        mask = os.urandom(4)
        n = len(payload)
        h = bytes([0x80 | op])
        if n < 126:
            h += bytes([0x80 | n])
        elif n < 65536:
            h += bytes([0x80 | 126]) + struct.pack("!H", n)
        else:
            h += bytes([0x80 | 127]) + struct.pack("!Q", n)
        masked = bytes(b ^ mask[i & 3] for i, b in enumerate(payload))
        self.sock.sendall(h + mask + masked)

    def recv_msg(self):
        data = b""
        while True:
            b0, b1 = self._read(2)
            n = b1 & 0x7f
            if n == 126:
                n = struct.unpack("!H", self._read(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", self._read(8))[0]
            mask = self._read(4) if b1 & 0x80 else None
            payload = self._read(n)
            if mask:
                payload = bytes(b ^ mask[i & 3] for i, b in enumerate(payload))
            op = b0 & 0x0f
            if op == 9:
                self._send_frame(10, payload)
                continue
            if op == 8:
                raise ConnectionError("websocket closed by the browser")
            if op in (0, 1, 2):
                data += payload
                if b0 & 0x80:
                    return json.loads(data.decode())

    def call(self, method, **params):
        self.next_id += 1
        my = self.next_id
        self._send_frame(1, json.dumps({"id": my, "method": method,
                                        "params": params}).encode())
        while True:
            msg = self.recv_msg()
            if msg.get("id") == my:
                if "error" in msg:
                    raise RuntimeError("%s: %r" % (method, msg["error"]))
                return msg.get("result", {})
            if "method" in msg:
                self.events.append(msg)

    def wait_event(self, pred, timeout):
        end = time.time() + timeout
        while True:
            for i, e in enumerate(self.events):
                if pred(e):
                    del self.events[:i + 1]
                    return e
            self.events.clear()
            left = end - time.time()
            if left <= 0:
                raise TimeoutError("no matching DevTools event")
            self.sock.settimeout(left)
            try:
                msg = self.recv_msg()
            except socket.timeout:
                raise TimeoutError("no matching DevTools event")
            finally:
                self.sock.settimeout(30)
            if "method" in msg:
                self.events.append(msg)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def ours(mark, timeout=5.0):
    """PIDs of live processes whose environment holds mark (CHROMIUM_OF_TEST_FORMS=...),
    i.e. the browser and everything it started, crashpad handlers (own session) included;
    waits up to timeout s for them to go."""
    mark = mark.encode()
    end = time.time() + timeout
    while True:
        found = []
        for pid in os.listdir("/proc"):
            if pid.isdigit():
                try:
                    with open("/proc/%s/environ" % pid, "rb") as f:
                        if mark in f.read().split(b"\0"):
                            found.append(int(pid))
                except OSError:
                    pass
        if not found or time.time() > end:
            return found
        time.sleep(0.05)


def evaluate(ws, expr):
    r = ws.call("Runtime.evaluate", expression=expr, returnByValue=True)
    if "exceptionDetails" in r:
        raise RuntimeError("%s: %r" % (expr, r["exceptionDetails"]))
    return r["result"].get("value")


def evaluate_async(ws, expr, timeout=30):
    """Runtime.evaluate of an expression that yields a promise; its value."""
    r = ws.call("Runtime.evaluate", expression=expr, returnByValue=True, awaitPromise=True,
                timeout=timeout * 1000)
    if "exceptionDetails" in r:
        raise RuntimeError("%s: %r" % (expr[:200], r["exceptionDetails"]))
    return r["result"].get("value")


class Chromium:
    """with Chromium() as br: br.ws.call(...); br.navigate(url); br.evaluate_async(js).
    Headless, no sandbox, no network of its own (QUIC, background fetches, updates and sync
    off), a temp profile and HOME; its own process group, killed by PID at the end."""

    def __init__(self, mark="CHROMIUM_OF_TESTS"):
        self.mark_name = mark

    def __enter__(self):
        self.profile = tempfile.mkdtemp(prefix="chromium-")
        home = os.path.join(self.profile, "home")
        self.mark = "%s=%s" % (self.mark_name, self.profile)
        cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
               "--no-first-run", "--no-default-browser-check", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--disable-extensions",
               "--disable-dev-shm-usage", "--mute-audio", "--disable-breakpad",
               "--user-data-dir=" + self.profile, "--remote-debugging-port=0",
               "--remote-debugging-address=127.0.0.1", "about:blank"]
        env = dict(os.environ, HOME=home, XDG_CONFIG_HOME=home, XDG_CACHE_HOME=home)
        env[self.mark_name] = self.profile
        self.log = open(os.path.join(self.profile, "chromium.log"), "wb")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, env=env, start_new_session=True)
        self.ws = None
        try:
            port_file = os.path.join(self.profile, "DevToolsActivePort")
            port, end = None, time.time() + 30
            while port is None and time.time() < end:
                assert self.proc.poll() is None, "chromium exited: %d" % self.proc.returncode
                try:
                    with open(port_file) as f:
                        first = f.readline().strip()
                    port = int(first) if first else None
                except (OSError, ValueError):
                    pass
                time.sleep(0.05)
            assert port, "chromium did not report its DevTools port"
            page, end = None, time.time() + 15
            while page is None and time.time() < end:
                with urllib.request.urlopen("http://127.0.0.1:%d/json/list" % port, timeout=5) as r:
                    page = next((t for t in json.load(r) if t.get("type") == "page"
                                 and t.get("webSocketDebuggerUrl")), None)
                if page is None:
                    time.sleep(0.1)
            assert page, "no page target"
            self.ws = WS(page["webSocketDebuggerUrl"])
            self.ws.call("Page.enable")
            return self
        except BaseException:
            self.__exit__(None, None, None)
            raise

    def navigate(self, url, timeout=20):
        self.ws.events.clear()
        self.ws.call("Page.navigate", url=url)
        self.ws.wait_event(lambda e: e["method"] == "Page.loadEventFired", timeout)

    def evaluate(self, expr):
        return evaluate(self.ws, expr)

    def evaluate_async(self, expr, timeout=30):
        return evaluate_async(self.ws, expr, timeout)

    def __exit__(self, *exc):
        if self.ws:
            self.ws.close()
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)     # the group started above, by its id
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=10)
        self.log.close()
        for pid in ours(self.mark):                      # crashpad (own session): by PID
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        shutil.rmtree(self.profile, ignore_errors=True)
        return False
