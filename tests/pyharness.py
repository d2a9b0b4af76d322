"""Shared helpers for the Python suites: start the demo server on an ephemeral loopback port,
stop it by its PID, check its stderr for sanitizer reports, and count tests.

Each suite ends with `sys.exit(report())`, printing "N passed, N failed".
The binary under test is $DEMO (default build/demo-asan, built by `make test`)."""
import os, re, signal, socket, subprocess, sys, threading, time, traceback

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEMO = os.environ.get("DEMO", os.path.join(ROOT, os.environ.get("BUILD", "build"), "demo-asan"))
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

    def __init__(self, workers=1, args=(), binary=None, host="127.0.0.1", env=None, port=0):
        self.want_port = port
        self.binary = binary or DEMO
        self.host = host
        self.workers = workers
        self.args = list(args)
        self.env = env
        self.proc = None
        self.port = None
        self.tls_port = None
        self.stderr_lines = []

    def start(self):
        cmd = [self.binary, "--host", self.host, "--port", str(self.want_port),
               "--workers", str(self.workers)]
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
            t = re.search(r"tls on (\S+):(\d+)", line)
            if t:
                self.tls_port = int(t.group(2))
                if "--tls-only" in self.args:
                    threading.Thread(target=self._drain_stdout, daemon=True).start()
                    return self
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


PORT_SPAN = 300
_ports_given = [0]


def free_port():
    """A free loopback port for a server that a suite starts (and may restart) on a port it
    picks itself (a proxy's backends, a front end, a scraper). Below the kernel's ephemeral
    range: an ephemeral port can be taken at any moment as the source port of an outgoing
    connection. In a range of the suite's own, PORT_SPAN ports from $PORT_BASE (tests/run.sh
    gives each suite its own, as suites run side by side; without it a range derived from
    the script's name), handed out in turn: two calls never give the same port."""
    import zlib
    base = int(os.environ.get("PORT_BASE") or 0)
    if not 1024 <= base <= 32768 - PORT_SPAN:
        name = os.path.basename(sys.argv[0]).encode()
        base = 10000 + zlib.crc32(name) % ((30000 - 10000) // PORT_SPAN) * PORT_SPAN
    for _ in range(PORT_SPAN):
        p = base + _ports_given[0] % PORT_SPAN
        _ports_given[0] += 1
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", p))
            return p
        except OSError:
            continue
        finally:
            s.close()
    raise RuntimeError("no free port in %d..%d" % (base, base + PORT_SPAN - 1))

def read_to_close(s):
    """Read from socket s until the peer closes (or its timeout passes), then close it."""
    chunks = []
    try:
        while True:
            b = s.recv(65536)
            if not b:
                break
            chunks.append(b)
    except socket.timeout:
        pass
    finally:
        s.close()
    return b"".join(chunks)


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


# ---------------------------------------------------------------------------------------------
# Helpers for the protocol suites (test_http.py, test_smuggling.py, test_concurrency.py).
# Additions only: nothing above changes behaviour.

TOKEN_RE = re.compile(rb"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
STATUS_RE = re.compile(rb"^HTTP/1\.([01]) ([1-9][0-9]{2}) ([\t \x21-\x7e\x80-\xff]*)$")


class Resp:
    """One parsed response: status, version ("1.0"/"1.1"), headers (list of (name, value)
    as bytes decoded latin-1), h (dict lowercase name -> comma-joined value), body, raw."""

    def __init__(self, status, version, headers, body, raw):
        self.status = status
        self.version = version
        self.headers = headers
        self.h = {}
        for k, v in headers:
            k = k.lower()
            self.h[k] = (self.h[k] + ", " + v) if k in self.h else v
        self.body = body
        self.raw = raw

    def count(self, name):
        return sum(1 for k, _ in self.headers if k.lower() == name.lower())

    def conn_tokens(self):
        return [t.strip().lower() for t in self.h.get("connection", "").split(",") if t.strip()]

    def __repr__(self):
        return "<%d %r body=%d bytes>" % (self.status, self.headers, len(self.body))


class Incomplete(Exception):
    pass


def parse_one(data, i=0, method="GET", closed=False):
    """Parse one response starting at data[i]. Returns (Resp, next_index).
    Raises Incomplete when more bytes are needed, ValueError on garbage. method: the request
    method it answers (HEAD: no body). closed: the peer has closed (read-until-close bodies)."""
    end = data.find(b"\r\n\r\n", i)
    if end < 0:
        if len(data) - i > 65536:
            raise ValueError("no end of head in 64 KiB: %r" % data[i:i + 200])
        if closed and i < len(data):
            raise ValueError("truncated head at close: %r" % data[i:i + 200])
        raise Incomplete()
    lines = data[i:end].split(b"\r\n")
    m = STATUS_RE.match(lines[0])
    if not m:
        raise ValueError("bad status line %r" % lines[0][:200])
    status = int(m.group(2))
    version = "1." + m.group(1).decode()
    headers = []
    for ln in lines[1:]:
        name, colon, value = ln.partition(b":")
        if not colon or not TOKEN_RE.match(name):
            raise ValueError("bad header line %r" % ln[:200])
        if re.search(rb"[\x00-\x08\x0a-\x1f\x7f]", value):
            raise ValueError("control char in header value %r" % ln[:200])
        headers.append((name.decode("latin-1"), value.strip(b" \t").decode("latin-1")))
    j = end + 4
    r = Resp(status, version, headers, b"", None)
    if status < 200 or method == "HEAD" or status in (204, 304):
        r.raw = data[i:j]
        return r, j
    te = r.h.get("transfer-encoding")
    if te is not None:
        if te.strip().lower() != "chunked":
            raise ValueError("unexpected response transfer-encoding %r" % te)
        parts = []
        while True:
            le = data.find(b"\r\n", j)
            if le < 0:
                raise Incomplete()
            size_s = data[j:le].split(b";")[0].strip()
            if not re.match(rb"^[0-9A-Fa-f]+$", size_s):
                raise ValueError("bad chunk size %r" % data[j:le][:100])
            n = int(size_s, 16)
            j = le + 2
            if n == 0:
                te_end = data.find(b"\r\n", j)
                while te_end >= 0 and te_end != j:        # skip trailer fields
                    j = te_end + 2
                    te_end = data.find(b"\r\n", j)
                if te_end < 0:
                    raise Incomplete()
                j += 2
                break
            if len(data) < j + n + 2:
                raise Incomplete()
            parts.append(data[j:j + n])
            if data[j + n:j + n + 2] != b"\r\n":
                raise ValueError("chunk data not followed by CRLF")
            j += n + 2
        r.body = b"".join(parts)
    elif "content-length" in r.h:
        cl = r.h["content-length"]
        if not re.match(r"^[0-9]+$", cl):
            raise ValueError("bad response content-length %r" % cl)
        n = int(cl)
        if len(data) < j + n:
            raise Incomplete()
        r.body = data[j:j + n]
        j += n
    else:
        if not closed:
            raise Incomplete()
        r.body = data[j:]
        j = len(data)
    r.raw = data[i:j]
    return r, j


def parse_stream(data, methods=(), closed=False):
    """Parse as many complete responses as possible. methods: the request methods in order
    (missing entries count as GET). Interim (1xx) responses are included in the list but do
    not use up a method. Returns (responses, consumed_bytes, finals)."""
    out = []
    i = 0
    k = 0
    while i < len(data):
        m = methods[k] if k < len(methods) else "GET"
        try:
            r, i2 = parse_one(data, i, m, closed)
        except Incomplete:
            break
        out.append(r)
        i = i2
        if r.status >= 200:
            k += 1
    return out, i, k


def recv_until(sock, pred, timeout):
    """recv until pred(buf) is true, the peer closes/resets, or timeout. -> (buf, closed)."""
    buf = b""
    end = time.time() + timeout
    while True:
        if pred is not None and pred(buf):
            return buf, False
        left = end - time.time()
        if left <= 0:
            return buf, False
        sock.settimeout(left)
        try:
            b = sock.recv(262144)
        except socket.timeout:
            return buf, False
        except (ConnectionResetError, BrokenPipeError):
            return buf, True
        if not b:
            return buf, True
        buf += b


def read_finals(sock, n, methods=(), timeout=5.0):
    """Read until n final responses are complete (or close/timeout). -> (responses, rest, closed)"""
    state = {}

    def enough(buf):
        rs, used, k = parse_stream(buf, methods)
        state["r"] = (rs, used, k)
        return k >= n

    buf, closed = recv_until(sock, enough, timeout)
    rs, used, k = parse_stream(buf, methods, closed)
    return rs, buf[used:], closed


def exchange_close(addr, data, timeout=4.0, split=None, delay=0.0):
    """Fresh connection; send data (optionally in pieces at the offsets in split with delay
    between them); read until the peer closes or timeout. -> (buf, closed)"""
    s = socket.create_connection(addr, timeout=timeout)
    try:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            if split:
                last = 0
                for off in list(split) + [len(data)]:
                    if off > last:
                        s.sendall(data[last:off])
                        last = off
                        if delay:
                            time.sleep(delay)
            else:
                s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        return recv_until(s, None, timeout)
    finally:
        s.close()


def h11_parse(data, methods, closed=True):
    """Independent strict check of response framing with h11 (a client-side state machine).
    methods: the request methods in order. Returns (list of (status, {name: value}, body),
    interim statuses, trailing bytes). Raises on any protocol error or incomplete response."""
    import h11
    c = h11.Connection(h11.CLIENT)
    c.receive_data(data)
    if closed:
        c.receive_data(b"")
    out = []
    interim = []
    for m in methods:
        c.send(h11.Request(method=m, target="/", headers=[("Host", "x")]))
        c.send(h11.EndOfMessage())
        resp = None
        body = []
        while True:
            ev = c.next_event()
            if ev is h11.NEED_DATA:
                raise ValueError("h11: response %d (%s) incomplete" % (len(out) + 1, m))
            if isinstance(ev, h11.InformationalResponse):
                interim.append(ev.status_code)
            elif isinstance(ev, h11.Response):
                resp = ev
            elif isinstance(ev, h11.Data):
                body.append(ev.data)
            elif isinstance(ev, h11.EndOfMessage):
                break
            else:
                raise ValueError("h11: unexpected event %r" % (ev,))
        hd = {}
        for k, v in resp.headers:
            k = k.decode("latin-1").lower()
            v = v.decode("latin-1")
            hd[k] = (hd[k] + ", " + v) if k in hd else v
        out.append((resp.status_code, hd, b"".join(body)))
        if c.their_state is not h11.DONE or c.our_state is not h11.DONE:
            break
        c.start_next_cycle()
    trailing = c.trailing_data[0] if hasattr(c, "trailing_data") else b""
    return out, interim, trailing
