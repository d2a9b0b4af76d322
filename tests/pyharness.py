"""Shared helpers for the Python suites: start the demo server on an ephemeral loopback port,
stop it by its PID, check its stderr for sanitizer reports, and count tests.

Each suite ends with `sys.exit(report())`, printing "N passed, N failed".
The binary under test is $DEMO (default build/demo-asan, built by `make test`)."""
import os, re, signal, socket, subprocess, sys, threading, time, traceback

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEMO = os.environ.get("DEMO", os.path.join(ROOT, "build", "demo-asan"))
if not os.path.isabs(DEMO):
    DEMO = os.path.join(ROOT, DEMO)
SAN_PATTERNS = re.compile(r"(ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:|"
                          r"WARNING: ThreadSanitizer|ERROR: ThreadSanitizer)")

_passed = 0
_failed = 0
_tests = []


def test(fn):
    """Decorator: register a test function."""
    _tests.append(fn)
    return fn


class Demo:
    """The demo server as a child process. Use as a context manager:
        with Demo(workers=2, args=["--flag", "v"]) as d: ... d.port ...
    On exit it sends SIGTERM (graceful stop), waits, and raises if the exit status is not 0
    or stderr holds a sanitizer report."""

    def __init__(self, workers=1, args=(), binary=None, host="127.0.0.1", env=None):
        self.binary = binary or DEMO
        self.host = host
        self.workers = workers
        self.args = list(args)
        self.env = env
        self.proc = None
        self.port = None
        self.stderr_lines = []

    def start(self):
        cmd = [self.binary, "--host", self.host, "--port", "0", "--workers", str(self.workers)]
        cmd += self.args
        env = dict(os.environ)
        if self.env:
            env.update(self.env)
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     env=env, text=True)
        threading.Thread(target=self._drain_stderr, daemon=True).start()
        deadline = time.time() + 20
        line = ""
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            m = re.search(r"listening on (\S+):(\d+)", line)
            if m:
                self.port = int(m.group(2))
                threading.Thread(target=self._drain_stdout, daemon=True).start()
                return self
        self.kill()
        raise RuntimeError("demo did not report its port: %r %s" % (line, self.stderr()))

    def _drain_stderr(self):
        for l in self.proc.stderr:
            self.stderr_lines.append(l)

    def _drain_stdout(self):
        for _ in self.proc.stdout:
            pass

    def stderr(self):
        return "".join(self.stderr_lines)

    def addr(self):
        return (self.host, self.port)

    def connect(self, timeout=5):
        s = socket.create_connection(self.addr(), timeout=timeout)
        return s

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self, sig=signal.SIGTERM, timeout=30):
        """Graceful stop; returns the exit code. Raises on sanitizer output."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError("demo did not exit within %ds after signal" % timeout)
        time.sleep(0.05)
        err = self.stderr()
        if SAN_PATTERNS.search(err):
            raise AssertionError("sanitizer report:\n" + err[-6000:])
        if rc != 0:
            raise AssertionError("demo exited with %d:\n%s" % (rc, err[-3000:]))
        return rc

    def __enter__(self):
        return self.start()

    def __exit__(self, et, ev, tb):
        if et is not None:
            self.kill()
            return False
        self.stop()
        return False


def raw_exchange(addr, data, timeout=3.0, read_until_close=True, shut_wr=False):
    """Send bytes on a fresh connection, return everything received until the peer closes
    (or the timeout passes)."""
    s = socket.create_connection(addr, timeout=timeout)
    try:
        s.sendall(data)
        if shut_wr:
            s.shutdown(socket.SHUT_WR)
        chunks = []
        end = time.time() + timeout
        while time.time() < end:
            try:
                b = s.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                break
            if not b:
                break
            chunks.append(b)
            if not read_until_close:
                break
        return b"".join(chunks)
    finally:
        s.close()


def parse_responses(data):
    """Split a byte stream into a list of (status, headers-dict-lowercase, body) responses.
    Handles Content-Length and chunked bodies. Raises ValueError on garbage."""
    out = []
    i = 0
    while i < len(data):
        end = data.find(b"\r\n\r\n", i)
        if end < 0:
            raise ValueError("incomplete head at %d: %r" % (i, data[i:i + 200]))
        head = data[i:end].decode("latin-1").split("\r\n")
        m = re.match(r"HTTP/1\.[01] (\d{3}) ", head[0] + " ")
        if not m:
            raise ValueError("bad status line %r" % head[0])
        status = int(m.group(1))
        hdrs = {}
        for h in head[1:]:
            k, _, v = h.partition(":")
            hdrs.setdefault(k.strip().lower(), v.strip())
        i = end + 4
        body = b""
        if status >= 200 and status not in (204, 304):
            if "content-length" in hdrs:
                n = int(hdrs["content-length"])
                body = data[i:i + n]
                if len(body) < n:
                    raise ValueError("short body")
                i += n
            elif hdrs.get("transfer-encoding", "").lower() == "chunked":
                parts = []
                while True:
                    le = data.find(b"\r\n", i)
                    n = int(data[i:le].split(b";")[0], 16)
                    i = le + 2
                    if n == 0:
                        te = data.find(b"\r\n\r\n", i - 2)
                        i = te + 4
                        break
                    parts.append(data[i:i + n])
                    i += n + 2
                body = b"".join(parts)
            else:
                body = data[i:]
                i = len(data)
        out.append((status, hdrs, body))
    return out


def run_all():
    global _passed, _failed
    only = sys.argv[1:]
    for fn in _tests:
        if only and fn.__name__ not in only:
            continue
        t0 = time.time()
        try:
            fn()
            _passed += 1
            print("ok   %s (%.2fs)" % (fn.__name__, time.time() - t0), flush=True)
        except Exception:
            _failed += 1
            print("FAIL %s (%.2fs)" % (fn.__name__, time.time() - t0), flush=True)
            traceback.print_exc(file=sys.stdout)
    print("%d passed, %d failed" % (_passed, _failed), flush=True)
    return 1 if _failed else 0
