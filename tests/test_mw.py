"""Operations on the real demo (build/demo-asan) with real clients: every answer the server
generates itself (400, 404, 405, 408, 413, 414, 431, 429, 501, 503, 504, the OPTIONS
answer) carries the request id and the CORS fields, is one line of the JSON access log and
one count in the metrics; request ids (kept, replaced, generated, seen by the task pool);
rate limits with Retry-After; the log reopened on SIGHUP (logrotate) and redacted; real
clients behind X-Forwarded-For; the PROXY protocol from HAProxy (send-proxy and
send-proxy-v2, the client on 127.0.0.2) and raw; blocked callbacks named by route;
`promtool check metrics` on a scrape and a real Prometheus server scraping the demo.
Loopback only; every process started here is ended by its PID."""
import json, os, re, shutil, signal, socket, subprocess, sys, tempfile, time, urllib.request
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pyharness import Demo, test, run_all, parse_responses, free_port

HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
ORIGIN = "http://app.test"


def exchange(addr, raw, timeout=5, source=None):
    """One connection: send raw, read until the server closes; -> list of responses."""
    s = socket.socket()
    if source:
        s.bind((source, 0))
    s.settimeout(timeout)
    s.connect(addr)
    try:
        s.sendall(raw)
        buf = b""
        while True:
            try:
                b = s.recv(65536)
            except (socket.timeout, ConnectionResetError):
                break
            if not b:
                break
            buf += b
        return parse_responses(buf) if buf else []
    finally:
        s.close()


def get(d, path, headers=(), method="GET"):
    h = "".join("%s: %s\r\n" % kv for kv in headers)
    rs = exchange(d.addr(), ("%s %s HTTP/1.1\r\nHost: t\r\n%sConnection: close\r\n\r\n"
                             % (method, path, h)).encode())
    assert rs, "no response for %s" % path
    return rs[-1]


def scrape(d):
    st, h, body = get(d, "/metrics")
    assert st == 200, st
    vals = {}
    for line in body.decode().splitlines():
        if line and not line.startswith("#"):
            k, v = line.rsplit(" ", 1)
            vals[k] = float(v)
    return vals, body


def series(name, **labels):
    return "%s{%s}" % (name, ",".join('%s="%s"' % kv for kv in labels.items()))


def read_log(path, timeout=3.0, want=None):
    """The access log's lines as JSON objects (each must parse); waits for `want` lines."""
    end = time.time() + timeout
    while True:
        with open(path, "rb") as f:
            raw = f.read()
        lines = [json.loads(l) for l in raw.split(b"\n") if l]
        if want is None or len(lines) >= want or time.time() > end:
            assert raw.endswith(b"\n") or not raw, raw[-200:]
            return lines
        time.sleep(0.05)


class Ops:
    def __init__(self, extra=(), workers=2):
        self.tmp = tempfile.mkdtemp(prefix="test_mw-")
        self.log = os.path.join(self.tmp, "access.log")
        self.demo = Demo(workers=workers, args=["--access-log", self.log, "--log-flush-ms", "50",
                                                 "--cors-origin", ORIGIN] + list(extra))

    def __enter__(self):
        self.demo.start()
        return self

    def __exit__(self, et, ev, tb):
        try:
            self.demo.__exit__(et, ev, tb)
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)
        return False


# ------------------------------------------------------------------- the order

CASES = [  # name, raw request (%s: request id), status, route label, flags
    ("400", b"GET / HTTP/1.1\r\nHost: t\r\nOrigin: %s\r\nX-Request-Id: %s\r\nBad Line\r\n\r\n", 400, "unmatched"),
    ("404", b"GET /nowhere HTTP/1.1\r\nHost: t\r\nOrigin: %s\r\nX-Request-Id: %s\r\nConnection: close\r\n\r\n", 404, "unmatched"),
    ("405", b"DELETE /health HTTP/1.1\r\nHost: t\r\nOrigin: %s\r\nX-Request-Id: %s\r\nConnection: close\r\n\r\n", 405, "unmatched"),
    ("OPTIONS", b"OPTIONS /health HTTP/1.1\r\nHost: t\r\nOrigin: %s\r\nX-Request-Id: %s\r\nConnection: close\r\n\r\n", 200, "unmatched"),
    ("501", b"BREW / HTTP/1.1\r\nHost: t\r\nOrigin: %s\r\nX-Request-Id: %s\r\n\r\n", 501, "unmatched"),
    ("413", b"POST /echo HTTP/1.1\r\nHost: t\r\nOrigin: %s\r\nX-Request-Id: %s\r\nContent-Length: 2000000\r\n\r\n", 413, "/echo"),
    ("414", b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: t\r\nOrigin: %s\r\nX-Request-Id: %s\r\n\r\n", 414, "unmatched"),
    ("431", b"GET / HTTP/1.1\r\nHost: t\r\nOrigin: %s\r\nX-Request-Id: %s\r\n" + b"X-Pad: 1\r\n" * 120 + b"\r\n", 431, "unmatched"),
    ("408", b"GET / HTTP/1.1\r\nHost: t\r\nOrigin: %s\r\nX-Request-Id: %s\r\n", 408, "unmatched"),
    ("504", b"GET /never HTTP/1.1\r\nHost: t\r\nOrigin: %s\r\nX-Request-Id: %s\r\n\r\n", 504, "/never"),
]
REJECT = {400, 408, 413, 414, 431, 429, 501, 503, 504}


def check_generated(o, name, raw, status, route, rid, prepare=None):
    before, _ = scrape(o.demo)
    if prepare:
        prepare()
    rs = exchange(o.demo.addr(), raw % (ORIGIN.encode(), rid.encode()), timeout=8)
    assert rs, "%s: no answer" % name
    st, h, body = rs[-1]
    assert st == status, (name, st, body[:200])
    assert h.get("x-request-id") == rid, (name, h)
    assert h.get("access-control-allow-origin") == ORIGIN, (name, h)
    assert h.get("access-control-allow-credentials") == "true", (name, h)
    assert "X-Request-Id" in h.get("access-control-expose-headers", ""), (name, h)
    after, _ = scrape(o.demo)
    cls = "%dxx" % (status // 100)
    inc = sum(v - before.get(k, 0) for k, v in after.items()
              if k.startswith("httpd_requests_total{") and 'route="%s"' % route in k
              and 'status="%s"' % cls in k)
    assert inc == 1, (name, "counted %d times" % inc)
    if status in REJECT:
        k = series("httpd_rejections_total", cause=str(status))
        assert after[k] - before.get(k, 0) == 1, (name, after[k], before.get(k))
    lines = [l for l in read_log(o.log) if l["id"] == rid]
    for _ in range(40):
        if lines:
            break
        time.sleep(0.05)
        lines = [l for l in read_log(o.log) if l["id"] == rid]
    assert len(lines) == 1, (name, lines)
    l = lines[0]
    assert l["status"] == status and l["generated"] is True and l["client"] == "127.0.0.1", (name, l)
    return l


@test
def test_every_generated_answer_is_identified_logged_and_counted():
    # one worker: rate-limit buckets are per worker (see OPERATIONS in httpd.h)
    with Ops(["--header-timeout", "0.5", "--request-timeout", "0.5", "--block-limit", "1",
              "--rate-limit", "1", "--rate-burst", "5"], workers=1) as o:
        for name, raw, status, route in CASES:
            l = check_generated(o, name, raw, status, route, "case-" + name)
            if status in (400, 408, 413, 414, 431, 501, 504):
                assert l["close"] in ("error", "timeout"), l
        # 429: the sixth within the burst of five
        for i in range(5):
            assert get(o.demo, "/limited")[0] == 200
        check_generated(o, "429", b"GET /limited HTTP/1.1\r\nHost: t\r\nOrigin: %s\r\n"
                        b"X-Request-Id: %s\r\nConnection: close\r\n\r\n", 429, "/limited", "case-429")
        # 503: the route's one place is taken by a slow task
        holder = socket.create_connection(o.demo.addr())
        holder.sendall(b"GET /block/1500 HTTP/1.1\r\nHost: t\r\n\r\n")
        time.sleep(0.3)
        check_generated(o, "503", b"GET /block/10 HTTP/1.1\r\nHost: t\r\nOrigin: %s\r\n"
                        b"X-Request-Id: %s\r\nConnection: close\r\n\r\n", 503, "/block/:ms", "case-503")
        holder.close()


@test
def test_request_ids_kept_replaced_generated_and_seen_by_tasks():
    with Ops(workers=2) as o:
        st, h, _ = get(o.demo, "/", [("X-Request-Id", "abc-DEF_1.2:3")])
        assert h["x-request-id"] == "abc-DEF_1.2:3"
        for bad in ("has space", "x" * 65, 'q"uote', "caf\u00e9"):
            st, h, _ = exchange(o.demo.addr(), ("GET / HTTP/1.1\r\nHost: t\r\nX-Request-Id: %s\r\n"
                                                "Connection: close\r\n\r\n" % bad).encode("utf-8"))[0]
            assert re.fullmatch(r"[0-9a-f]{32}", h["x-request-id"]), (bad, h)
        ids = set()
        for i in range(40):
            ids.add(get(o.demo, "/")[1]["x-request-id"])
        assert len(ids) == 40 and all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids), ids
        assert len({i[:16] for i in ids}) == 1                   # one prefix per start
        st, h, body = get(o.demo, "/block/10")
        assert body.decode() == "blocked 10 ms (task of %s)\n" % h["x-request-id"], body
        first = next(iter(ids))[:16]
    with Ops() as o:                                             # a restart: a new prefix
        assert get(o.demo, "/")[1]["x-request-id"][:16] != first


@test
def test_rate_limit_and_retry_after():
    with Ops(["--rate-limit", "2", "--rate-burst", "2"], workers=1) as o:
        got = [get(o.demo, "/limited") for _ in range(3)]
        assert [g[0] for g in got] == [200, 200, 429], [g[0] for g in got]
        assert got[2][1]["retry-after"] == "1"
        assert get(o.demo, "/")[0] == 200                       # other routes unaffected
        time.sleep(0.6)                                          # one token back
        assert get(o.demo, "/limited")[0] == 200
        # another client address has its own bucket
        rs = exchange(o.demo.addr(), b"GET /limited HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
                      source="127.0.0.2")
        assert rs[0][0] == 200


@test
def test_log_lines_reopen_redaction_escaping():
    with Ops() as o:
        get(o.demo, "/", [("Authorization", "Bearer s3cr3t-token"), ("User-Agent", 'ua "q" \\'),
                          ("X-Request-Id", "line-a")])
        raw = (b'GET /%22x%5C%01%FF?q=1 HTTP/1.1\r\nHost: t\r\nX-Request-Id: line-b\r\n'
               b'Connection: close\r\n\r\n')
        assert exchange(o.demo.addr(), raw)[0][0] == 404
        lines = {l["id"]: l for l in read_log(o.log, want=2)}
        a, b = lines["line-a"], lines["line-b"]
        assert a["headers"]["authorization"] == "[redacted]" and "s3cr3t" not in open(o.log).read()
        assert a["headers"]["user-agent"] == 'ua "q" \\', a
        assert b["path"] == '/"x\\\x01\xff', repr(b["path"])
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", a["time"]), a["time"]
        for k in ("id", "client", "method", "path", "route", "status", "in", "out", "us",
                  "worker", "close"):
            assert k in a, (k, a)
        assert a["route"] == "/" and a["status"] == 200 and a["in"] > 0 and a["out"] > 0
        # logrotate: move the file, SIGHUP, the next lines go to a new file
        os.rename(o.log, o.log + ".1")
        o.demo.proc.send_signal(signal.SIGHUP)
        time.sleep(1.5)                                          # the log thread looks each second
        get(o.demo, "/", [("X-Request-Id", "after-rotate")])
        new = read_log(o.log, want=1) if os.path.exists(o.log) else []
        for _ in range(40):
            if new:
                break
            time.sleep(0.05)
            new = read_log(o.log) if os.path.exists(o.log) else []
        assert [l["id"] for l in new] == ["after-rotate"], new
        old = read_log(o.log + ".1")
        assert "after-rotate" not in [l["id"] for l in old] and len(old) >= 2
        assert o.demo.proc.poll() is None                        # SIGHUP did not stop it


@test
def test_forwarded_for_trusted_only():
    with Ops(["--trusted-proxy", "127.0.0.1/32"], workers=1) as o:
        st, h, body = get(o.demo, "/whoami", [("X-Forwarded-For", "6.6.6.6, 203.0.113.5")])
        assert body.startswith(b"client=203.0.113.5 "), body
        st, h, body = get(o.demo, "/whoami", [("Forwarded", 'for="[2001:db8::9]:80"')])
        assert body.startswith(b"client=2001:db8::9 "), body
        log = read_log(o.log, want=2)
        assert log[-2]["client"] == "203.0.113.5" and log[-1]["client"] == "2001:db8::9"
    with Ops() as o:                                             # not trusted: ignored
        st, h, body = get(o.demo, "/whoami", [("X-Forwarded-For", "203.0.113.5")])
        assert body.startswith(b"client=127.0.0.1 "), body


def proxy_demo(extra=()):
    port = free_port()
    return Ops(["--proxy-protocol", "--proxy-port", str(port)] + list(extra)), port


@test
def test_proxy_protocol_raw():
    o, pport = proxy_demo()
    with o:
        paddr = ("127.0.0.1", pport)
        rs = exchange(paddr, b"PROXY TCP4 198.51.100.7 127.0.0.1 40000 80\r\n"
                             b"GET /whoami HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        assert rs[0][2].startswith(b"client=198.51.100.7 "), rs
        v2 = (b"\r\n\r\n\x00\r\nQUIT\n" + bytes([0x21, 0x21]) + (36).to_bytes(2, "big")
              + socket.inet_pton(socket.AF_INET6, "2001:db8::77") + bytes(16) + bytes(4))
        rs = exchange(paddr, v2 + b"GET /whoami HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        assert rs[0][2].startswith(b"client=2001:db8::77 "), rs
        # no header, a bad one: closed without an answer; the plain listener is unaffected
        assert exchange(paddr, b"GET /whoami HTTP/1.1\r\nHost: t\r\n\r\n") == []
        assert exchange(paddr, b"PROXY TCP4 1.2.3.4 5.6.7.8 1 99999\r\n") == []
        assert get(o.demo, "/whoami")[2].startswith(b"client=127.0.0.1 ")
        vals, _ = scrape(o.demo)
        assert vals[series("httpd_rejections_total", cause="proxy_header")] == 2


@test
def test_proxy_listener_has_its_own_cap():
    o, pport = proxy_demo(["--proxy-max-connections", "1"])
    with o:
        a = socket.create_connection(("127.0.0.1", pport))
        a.sendall(b"PROXY TCP4 198.51.100.1 127.0.0.1 1 80\r\n")        # holds the place
        time.sleep(0.3)
        b = socket.create_connection(("127.0.0.1", pport))
        b.sendall(b"PROXY TCP4 198.51.100.2 127.0.0.1 2 80\r\nGET /whoami HTTP/1.1\r\nHost: t\r\n"
                  b"Connection: close\r\n\r\n")
        b.settimeout(0.8)
        try:
            early = b.recv(100)
        except socket.timeout:
            early = None
        assert early is None, early                     # not accepted: in the backlog
        assert get(o.demo, "/")[0] == 200                # the main listener is not capped
        a.close()
        b.settimeout(5)
        buf = b""
        while True:
            x = b.recv(4096)
            if not x:
                break
            buf += x
        b.close()
        assert b"client=198.51.100.2 " in buf, buf
        vals, _ = scrape(o.demo)
        assert vals[series("httpd_rejections_total", cause="max_connections")] >= 1


@test
def test_gauges_tasks_and_accept_pauses():
    with Ops(["--task-threads", "1", "--task-queue", "1", "--max-connections", "4"], workers=1) as o:
        held = []
        for path in ("/block/1500", "/block/1500", "/sleep/1500"):   # running, queued, timer
            s = socket.create_connection(o.demo.addr())
            s.sendall(("GET %s HTTP/1.1\r\nHost: t\r\n\r\n" % path).encode())
            held.append(s)
            time.sleep(0.2)                              # the pool thread takes the first
        r = get(o.demo, "/block/10")
        assert r[0] == 503, r                            # the task queue is full: shed
        vals, _ = scrape(o.demo)
        assert vals["httpd_tasks_running"] == 1 and vals["httpd_tasks_queued"] == 1, vals
        assert vals["httpd_tasks_shed_total"] == 1
        # three held requests and this scrape are in flight; four connections open
        assert vals[series("httpd_requests_in_flight", worker="0")] == 4
        assert vals[series("httpd_connections_open", worker="0")] == 4
        # max_connections 4: with three held, a fourth is served, a fifth waits in the
        # backlog (accepting pauses, counted) until one closes
        extra = []
        for _ in range(2):
            e = socket.create_connection(o.demo.addr())
            e.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")      # kept open
            extra.append(e)
            time.sleep(0.2)
        extra[1].settimeout(0.5)
        try:
            early = extra[1].recv(100)
        except socket.timeout:
            early = None
        assert early is None, early
        for s in held:
            s.close()
        for e in extra:
            e.settimeout(5)
            assert e.recv(100).startswith(b"HTTP/1.1 200")
            e.close()
        time.sleep(0.3)
        vals, _ = scrape(o.demo)
        assert vals[series("httpd_rejections_total", cause="max_connections")] >= 1


HAPROXY_CFG = """
global
    maxconn 100
defaults
    mode http
    timeout connect 2s
    timeout client 10s
    timeout server 10s
frontend v1
    bind 127.0.0.1:{f1}
    default_backend v1
frontend v2
    bind 127.0.0.1:{f2}
    default_backend v2
backend v1
    server s 127.0.0.1:{p} send-proxy
backend v2
    server s 127.0.0.1:{p} send-proxy-v2
"""


@test
def test_proxy_protocol_behind_haproxy():
    if not os.path.exists(HAPROXY):
        raise AssertionError("haproxy is not installed (tests/deps.sh installs it)")
    o, pport = proxy_demo()
    with o:
        f1, f2 = free_port(), free_port()
        cfg = os.path.join(o.tmp, "haproxy.cfg")
        with open(cfg, "w") as f:
            f.write(HAPROXY_CFG.format(f1=f1, f2=f2, p=pport))
        hp = subprocess.Popen([HAPROXY, "-f", cfg, "-db"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE)
        try:
            for front, rid in ((f1, "via-v1"), (f2, "via-v2")):
                rs = []
                for _ in range(50):                              # HAProxy coming up
                    try:
                        rs = exchange(("127.0.0.1", front), b"GET /whoami HTTP/1.1\r\nHost: t\r\n"
                                      b"X-Request-Id: " + rid.encode() + b"\r\nConnection: close\r\n\r\n",
                                      source="127.0.0.2")
                        break
                    except OSError:
                        time.sleep(0.1)
                assert rs and rs[0][0] == 200, rs
                assert rs[0][2].startswith(b"client=127.0.0.2 id=" + rid.encode() + b" "), rs[0][2]
            lines = {l["id"]: l for l in read_log(o.log, want=2)}
            assert lines["via-v1"]["client"] == "127.0.0.2" and lines["via-v2"]["client"] == "127.0.0.2"
        finally:
            hp.send_signal(signal.SIGTERM)
            try:
                hp.wait(5)
            except subprocess.TimeoutExpired:
                hp.kill()
                hp.wait()


@test
def test_blocked_callbacks_named_by_route():
    with Ops(workers=1) as o:
        # the watchdog looks twice a second: a stall is seen within 1.5 x blocked_warn_ms
        st, h, body = get(o.demo, "/block-inline/2000")
        assert st == 200
        time.sleep(0.2)
        vals, _ = scrape(o.demo)
        err = o.demo.stderr()
        assert re.search(r"worker 0 blocked for \d+ ms in a callback of route GET /block-inline/:ms", err), err
        assert vals[series("httpd_slow_callbacks_total", route="/block-inline/:ms")] == 1
        assert vals[series("httpd_blocked_callbacks_total", route="/block-inline/:ms")] >= 1
        assert vals[series("httpd_worker_blocked_total", worker="0")] >= 1
        assert vals[series("httpd_callback_duration_seconds_bucket", route="/block-inline/:ms", le="1")] == 0
        assert vals[series("httpd_callback_duration_seconds_bucket", route="/block-inline/:ms", le="10")] == 1
        assert vals[series("httpd_worker_loop_lag_seconds_bucket", worker="0", le="+Inf")] > 0


@test
def test_error_bodies_server_header_and_bare():
    with Ops(["--json-errors", "--server-name", "demo/1"]) as o:
        st, h, body = get(o.demo, "/nope", [("X-Request-Id", "j-1")])
        assert st == 404 and h["content-type"] == "application/json"
        assert json.loads(body) == {"status": 404, "error": "Not Found", "request_id": "j-1"}
        assert h["server"] == "demo/1"
        rs = exchange(o.demo.addr(), b"GET / HTTP/1.1\r\nBad\r\n\r\n")
        assert rs[0][1]["server"] == "demo/1" and json.loads(rs[0][2])["status"] == 400
    with Demo(args=["--bare"]) as d:                             # no middleware at all
        st, h, body = get(d, "/")
        assert "x-request-id" not in h and "server" not in h and "vary" not in h, h
        assert get(d, "/metrics")[2] == b"ok\n"


@test
def test_auth_middleware_after_cors():
    with Ops(["--auth-token", "tok"], workers=1) as o:
        st, h, _ = get(o.demo, "/private", [("Origin", ORIGIN)])
        assert st == 401 and h["www-authenticate"] == "Bearer"
        assert h["access-control-allow-origin"] == ORIGIN and "x-request-id" in h
        st, h, _ = get(o.demo, "/private", [("Origin", ORIGIN), ("Access-Control-Request-Method", "GET"),
                                           ("Access-Control-Request-Headers", "authorization")],
                       method="OPTIONS")
        assert st == 204 and h["access-control-allow-headers"] == "authorization", h
        assert get(o.demo, "/private", [("Authorization", "Bearer tok")])[0] == 200
        lines = read_log(o.log, want=3)
        assert [l["status"] for l in lines[-3:]] == [401, 204, 200]
        assert lines[-1]["headers"]["authorization"] == "[redacted]"


@test
def test_websocket_upgrade_in_the_chain():
    with Ops(workers=1) as o:
        s = socket.create_connection(o.demo.addr())
        s.sendall(b"GET /ws HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                  b"X-Request-Id: ws-1\r\n\r\n")
        head = b""
        while b"\r\n\r\n" not in head:
            head += s.recv(4096)
        assert head.startswith(b"HTTP/1.1 101 ") and b"\r\nX-Request-Id: ws-1\r\n" in head, head
        assert b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n" in head
        vals, _ = scrape(o.demo)
        assert vals[series("httpd_websockets_open", worker="0")] == 1
        line = [l for l in read_log(o.log, want=1) if l["id"] == "ws-1"]
        assert len(line) == 1 and line[0]["status"] == 101 and line[0]["close"] == "upgrade", line
        s.sendall(bytes([0x88, 0x82, 1, 2, 3, 4, 0x03 ^ 1, 0xe8 ^ 2]))   # close 1000, masked
        s.settimeout(5)
        while s.recv(4096):
            pass
        s.close()
        time.sleep(0.2)
        vals, _ = scrape(o.demo)
        assert vals[series("httpd_websockets_open", worker="0")] == 0


@test
def test_promtool_and_a_real_prometheus():
    for tool in (PROMTOOL, PROMETHEUS):
        if not os.path.exists(tool):
            raise AssertionError("%s is not installed (tests/deps.sh installs prometheus)" % tool)
    with Ops() as o:
        for p in ("/", "/nope", "/block/5", "/limited", "/whoami"):
            get(o.demo, p, [("Origin", ORIGIN)])
        exchange(o.demo.addr(), b"GET / HTTP/1.1\r\nBad\r\n\r\n")
        _, body = scrape(o.demo)
        r = subprocess.run([PROMTOOL, "check", "metrics"], input=body, capture_output=True,
                           timeout=30)
        assert r.returncode == 0, (r.stdout + r.stderr).decode()[-2000:]
        # a Prometheus server of its own: loopback, temp storage, ended by PID
        pport = free_port()
        cfg = os.path.join(o.tmp, "prometheus.yml")
        with open(cfg, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                    "scrape_configs:\n  - job_name: demo\n    metrics_path: /metrics\n"
                    "    static_configs:\n      - targets: ['127.0.0.1:%d']\n" % o.demo.port)
        prom = subprocess.Popen([PROMETHEUS, "--config.file=" + cfg,
                                 "--storage.tsdb.path=" + os.path.join(o.tmp, "tsdb"),
                                 "--web.listen-address=127.0.0.1:%d" % pport,
                                 "--log.level=warn"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            api = "http://127.0.0.1:%d/api/v1/" % pport
            result, health = None, None
            end = time.time() + 40
            while time.time() < end:
                try:
                    t = json.load(urllib.request.urlopen(api + "targets", timeout=2))
                    act = t["data"]["activeTargets"]
                    health = act and act[0]["health"]
                    if health == "up":
                        q = json.load(urllib.request.urlopen(
                            api + "query?query=sum(httpd_requests_total)", timeout=2))
                        if q["data"]["result"]:
                            result = float(q["data"]["result"][0]["value"][1])
                            break
                except (OSError, ValueError, KeyError, IndexError):
                    pass
                time.sleep(0.5)
            assert health == "up" and result and result >= 6, (health, result)
            q = json.load(urllib.request.urlopen(
                api + 'query?query=httpd_rejections_total{cause="400"}', timeout=2))
            assert float(q["data"]["result"][0]["value"][1]) == 1, q
        finally:
            prom.send_signal(signal.SIGTERM)
            try:
                prom.wait(15)
            except subprocess.TimeoutExpired:
                prom.kill()
                prom.wait()


if __name__ == "__main__":
    sys.exit(run_all())
