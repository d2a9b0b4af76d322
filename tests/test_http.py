#!/usr/bin/python3
"""tests/test_http.py - the demo server's routes and HTTP/1.1 behaviour with real clients:
http.client (one keep-alive connection reused), curl (file uploads, chunked, HTTP/1.0, HEAD,
100-continue), raw sockets (pipelining, HEAD, 1.0 keep-alive, OPTIONS *), and h11 as an
independent strict parser of every response's framing. One demo (2 workers) serves the whole
file; the last test stops it and checks its exit status and sanitizer output."""
import email.utils, http.client, os, random, re, socket, subprocess, sys, tempfile, threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pyharness import (Demo, test, run_all, parse_stream, read_finals, recv_until,  # noqa: E402
                       h11_parse)

CAP = 1048576
demo = Demo(workers=2)
rng = random.Random(0x5eed)
TMP = tempfile.mkdtemp(prefix="httpd-test-http-")


def srv():
    if demo.proc is None:
        demo.start()
    elif demo.proc.poll() is not None:
        raise AssertionError("demo died (rc=%s):\n%s" % (demo.proc.returncode, demo.stderr()[-3000:]))
    return demo


def conn(timeout=5):
    s = srv().connect(timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


DATE_RE = re.compile(r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|"
                     r"Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d GMT$")


def check_final(r, what=""):
    """Every final response carries a valid Date and exactly one framing (one Content-Length,
    or chunked)."""
    assert r.status >= 200, what
    assert r.count("date") == 1, "%s: Date header count %d: %r" % (what, r.count("date"), r.headers)
    d = r.h["date"]
    assert DATE_RE.match(d), "%s: Date not IMF-fixdate: %r" % (what, d)
    ts = email.utils.parsedate_to_datetime(d).timestamp()
    assert abs(ts - time.time()) < 120, "%s: Date far from now: %r" % (what, d)
    te = r.h.get("transfer-encoding", "").lower()
    ncl = r.count("content-length")
    assert (ncl == 1) != (te == "chunked"), "%s: framing: CL count %d, TE %r" % (what, ncl, te)


def send_recv(data, methods, timeout=5.0, expect_close=None):
    """Fresh connection, send data, read len(methods) final responses; then check them with
    h11 too. Returns responses (Resp list, finals only)."""
    s = conn(timeout)
    try:
        s.sendall(data)
        rs, rest, closed = read_finals(s, len(methods), methods, timeout)
        finals = [r for r in rs if r.status >= 200]
        assert len(finals) == len(methods), "got %d of %d responses: %r (closed=%s, rest=%r)" % (
            len(finals), len(methods), rs, closed, rest[:200])
        assert rest == b"", "junk after responses: %r" % rest[:200]
        for i, r in enumerate(finals):
            check_final(r, "response %d" % (i + 1))
        raw = b"".join(r.raw for r in rs)
        if expect_close:
            more, closed = recv_until(s, None, timeout)
            assert more == b"", "bytes after the last response: %r" % more[:200]
            assert closed, "server did not close the connection"
        hs, _, trailing = h11_parse(raw, methods, closed=bool(expect_close))
        assert [x[0] for x in hs] == [r.status for r in finals], (hs, finals)
        for (st, hd, body), r in zip(hs, finals):
            assert body == r.body, "h11 body differs"
        return finals
    finally:
        s.close()


def req(method, target, body=None, headers=(), version="HTTP/1.1", host=True):
    h = "%s %s %s\r\n" % (method, target, version)
    if host:
        h += "Host: x\r\n"
    for k, v in headers:
        h += "%s: %s\r\n" % (k, v)
    if body is not None:
        h += "Content-Length: %d\r\n" % len(body)
    return h.encode("latin-1") + b"\r\n" + (body or b"")


def chunked_req(body, target="/echo", ext=False, pieces=None):
    h = ("POST %s HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" % target).encode()
    out = [h]
    i = 0
    while i < len(body):
        n = pieces.pop(0) if pieces else rng.randint(1, 70000)
        part = body[i:i + n]
        size = ("%x" % len(part)) if rng.random() < 0.5 else ("%X" % len(part))
        out.append(size.encode() + (b";ext=v" if ext and rng.random() < 0.5 else b"") + b"\r\n")
        out.append(part + b"\r\n")
        i += n
    out.append(b"0\r\n\r\n")
    return b"".join(out)


def random_splits(data, maxparts=12):
    n = rng.randint(1, maxparts)
    offs = sorted(set(rng.randint(1, max(1, len(data) - 1)) for _ in range(n)))
    # a few 1-byte pieces near the start (inside the head) too
    offs = sorted(set(offs + [rng.randint(1, 40) for _ in range(3)]))
    return [o for o in offs if 0 < o < len(data)]


def send_split(s, data, offs):
    last = 0
    for o in offs + [len(data)]:
        if o > last:
            s.sendall(data[last:o])
            last = o
            if rng.random() < 0.3:
                time.sleep(0.002)


def curl(*args, timeout=30):
    p = subprocess.run(["curl", "-s", "-S", "--max-time", "20"] + list(args),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    return p


def url(path):
    return "http://127.0.0.1:%d%s" % (srv().port, path)


# ---------------------------------------------------------------------------------- routes

@test
def test_get_root():
    r, = send_recv(req("GET", "/"), ["GET"])
    assert r.status == 200, r
    assert r.body == b"Hello, World!", r.body
    assert r.h.get("content-length") == "13", r.headers
    assert r.h.get("content-type", "").split(";")[0].strip().lower() == "text/plain", r.headers
    assert r.version == "1.1", r.version


@test
def test_get_health():
    r, = send_recv(req("GET", "/health"), ["GET"])
    assert r.status == 200, r


@test
def test_get_root_with_query():
    r, = send_recv(req("GET", "/?a=b&c=%41"), ["GET"])
    assert r.status == 200 and r.body == b"Hello, World!", r


@test
def test_unknown_path_404():
    r, = send_recv(req("GET", "/nope", headers=[("Connection", "close")]), ["GET"],
                   expect_close=True)
    assert r.status == 404, r
    r, = send_recv(req("GET", "/echo/x", headers=[("Connection", "close")]), ["GET"],
                   expect_close=True)
    assert r.status == 404, r


def allow_set(r):
    return set(t.strip().upper() for t in r.h.get("allow", "").split(",") if t.strip())


@test
def test_405_with_allow():
    for method, path, must in [("GET", "/echo", "POST"), ("POST", "/", "GET"),
                               ("PUT", "/echo", "POST"), ("DELETE", "/", "GET"),
                               ("POST", "/health", "GET")]:
        body = b"abc" if method in ("POST", "PUT") else None
        r, = send_recv(req(method, path, body, headers=[("Connection", "close")]), [method],
                       expect_close=True)
        assert r.status == 405, (method, path, r)
        assert must in allow_set(r), (method, path, r.headers)


@test
def test_404_405_keepalive_consistent():
    """A 404/405 either says Connection: close and closes, or keeps the connection usable."""
    for first in [req("GET", "/nope"), req("GET", "/echo")]:
        s = conn()
        try:
            s.sendall(first)
            rs, rest, closed = read_finals(s, 1, ["GET"], 5)
            r = [x for x in rs if x.status >= 200][0]
            check_final(r)
            if "close" in r.conn_tokens():
                more, closed = recv_until(s, None, 5)
                assert more == b"" and closed, (first, more, closed)
                continue
            s.sendall(req("GET", "/"))
            rs, rest, closed = read_finals(s, 1, ["GET"], 5)
            assert rs and rs[-1].status == 200, (first, rs, closed)
        finally:
            s.close()


@test
def test_head_root():
    g, = send_recv(req("GET", "/"), ["GET"])
    h, = send_recv(req("HEAD", "/"), ["HEAD"])
    assert h.status == 200, h
    assert h.body == b""
    assert h.h.get("content-length") == "13", h.headers
    for k in ("content-type", "content-length"):
        assert h.h.get(k) == g.h.get(k), (k, h.headers, g.headers)
    assert sorted(k.lower() for k, _ in h.headers) == sorted(k.lower() for k, _ in g.headers), \
        (h.headers, g.headers)


@test
def test_head_then_get_pipelined_no_stray_body():
    data = req("HEAD", "/") + req("GET", "/health") + req("HEAD", "/health") + req("GET", "/")
    rs = send_recv(data, ["HEAD", "GET", "HEAD", "GET"])
    assert [r.status for r in rs] == [200] * 4, rs
    assert rs[0].body == b"" and rs[2].body == b""
    assert rs[3].body == b"Hello, World!"


@test
def test_options_star():
    s = conn()
    try:
        s.sendall(b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n")
        rs, rest, closed = read_finals(s, 1, ["OPTIONS"], 5)
        assert rs and rs[0].status == 200, (rs, closed)
        r = rs[0]
        check_final(r)
        assert r.h.get("content-length") == "0", r.headers
        assert "allow" in r.h, r.headers
        assert rest == b""
        hs, _, _ = h11_parse(r.raw, ["OPTIONS"], closed=False)
        assert hs[0][0] == 200
        if "close" not in r.conn_tokens():       # keep-alive: the connection still works
            s.sendall(req("GET", "/"))
            rs, rest, closed = read_finals(s, 1, ["GET"], 5)
            assert rs and rs[0].status == 200, rs
    finally:
        s.close()


@test
def test_options_known_path():
    r, = send_recv(req("OPTIONS", "/echo"), ["OPTIONS"])
    assert r.status == 200, r
    assert "POST" in allow_set(r), r.headers
    r, = send_recv(req("OPTIONS", "/"), ["OPTIONS"])
    assert r.status == 200 and "GET" in allow_set(r), r.headers


@test
def test_absolute_form_routes_on_path():
    r, = send_recv(req("GET", "http://x/health"), ["GET"])
    assert r.status == 200, r
    r, = send_recv(req("GET", "http://x/"), ["GET"])
    assert r.status == 200 and r.body == b"Hello, World!", r
    r, = send_recv(b"POST http://x/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc",
                   ["POST"])
    assert r.status == 200 and r.body == b"abc", r


@test
def test_dot_segments():
    for t, body in [("/a/../", b"Hello, World!"), ("/./", b"Hello, World!"),
                    ("/x/y/../../health", None), ("/./health", None)]:
        r, = send_recv(req("GET", t), ["GET"])
        assert r.status == 200, (t, r)
        if body:
            assert r.body == body, (t, r.body)


# ---------------------------------------------------------------------------------- echo

@test
def test_echo_sizes_content_length_random_splits():
    s = conn(15)
    try:
        for size in [0, 1, 1000, 65536, CAP]:
            body = rng.randbytes(size)
            data = req("POST", "/echo", body, headers=[("Content-Type", "application/octet-stream")])
            send_split(s, data, random_splits(data))
            rs, rest, closed = read_finals(s, 1, ["POST"], 15)
            assert rs and rs[-1].status == 200, (size, rs, closed)
            r = rs[-1]
            check_final(r, "echo %d" % size)
            assert len(r.body) == size and r.body == body, ("echo mismatch", size, len(r.body))
            hs, _, _ = h11_parse(r.raw, ["POST"], closed=False)
            assert hs[0][2] == body
            assert rest == b""
    finally:
        s.close()


@test
def test_echo_sizes_chunked_random_splits():
    s = conn(15)
    try:
        for size in [0, 1, 1000, 65536, CAP]:
            body = rng.randbytes(size)
            data = chunked_req(body, ext=True)
            send_split(s, data, random_splits(data))
            rs, rest, closed = read_finals(s, 1, ["POST"], 15)
            assert rs and rs[-1].status == 200, (size, rs, closed)
            r = rs[-1]
            check_final(r, "chunked echo %d" % size)
            assert r.body == body, ("echo mismatch", size, len(r.body))
            hs, _, _ = h11_parse(r.raw, ["POST"], closed=False)
            assert hs[0][2] == body
    finally:
        s.close()


@test
def test_echo_chunked_trailers_and_ext():
    data = (b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"5;name=value\r\nhello\r\nA\r\n0123456789\r\na\r\nabcdefghij\r\n"
            b"0\r\nX-Trailer: yes\r\nX-Other: 1\r\n\r\n")
    r, = send_recv(data, ["POST"])
    assert r.status == 200 and r.body == b"hello0123456789abcdefghij", r


def cap_over_content_length(extra_headers=(), expect_100=False):
    """Head only with Content-Length CAP+1: 413 must come before any body byte is sent."""
    s = conn()
    try:
        h = "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n" % (CAP + 1)
        for k, v in extra_headers:
            h += "%s: %s\r\n" % (k, v)
        s.sendall(h.encode() + b"\r\n")
        rs, rest, closed = read_finals(s, 1, ["POST"], 5)
        assert rs, "no response to the head alone (413 must not wait for the body); closed=%s" % closed
        assert [r.status for r in rs] == [413], "expected only 413 (no 100 first): %r" % rs
        r = rs[0]
        check_final(r)
        assert "close" in r.conn_tokens(), r.headers
        more, closed = recv_until(s, None, 5)
        assert more == b"" and closed, (more[:100], closed)
    finally:
        s.close()


@test
def test_cap_content_length_exact_accepted():
    body = rng.randbytes(CAP)
    r, = send_recv(req("POST", "/echo", body), ["POST"], timeout=15)
    assert r.status == 200 and r.body == body, (r.status, len(r.body))


@test
def test_cap_content_length_over_413_before_body():
    cap_over_content_length()


@test
def test_cap_chunked_exact_accepted():
    body = rng.randbytes(CAP)
    r, = send_recv(chunked_req(body, pieces=[65536] * 16), ["POST"], timeout=15)
    assert r.status == 200 and r.body == body, (r.status, len(r.body))


@test
def test_cap_chunked_over_413():
    body = rng.randbytes(CAP + 1)
    data = chunked_req(body, pieces=[65536] * 16 + [1])
    s = conn(10)
    err = []

    def sender():
        try:
            s.sendall(data)
        except OSError as e:          # the server may close while we still send
            err.append(e)

    t = threading.Thread(target=sender, daemon=True)
    t.start()
    try:
        rs, rest, closed = read_finals(s, 1, ["POST"], 10)
        assert rs and rs[0].status == 413, (rs, closed)
        check_final(rs[0])
        assert "close" in rs[0].conn_tokens(), rs[0].headers
        more, closed = recv_until(s, None, 5)
        assert more == b"" and closed, (more[:100], closed)
    finally:
        t.join(10)
        s.close()


@test
def test_cap_chunked_over_413_in_one_chunk():
    """One chunk whose size crosses the cap (the data is sent too: whether the server answers
    on the size line alone or when the bytes cross the cap is not specified)."""
    s = conn(10)
    data = (b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"%x\r\n" % (CAP + 1) + b"a" * (CAP + 1) + b"\r\n0\r\n\r\n")

    def sender():
        try:
            s.sendall(data)
        except OSError:
            pass

    t = threading.Thread(target=sender, daemon=True)
    t.start()
    try:
        rs, rest, closed = read_finals(s, 1, ["POST"], 10)
        assert rs and rs[0].status == 413, (rs, closed)
        assert "close" in rs[0].conn_tokens(), rs[0].headers
        more, closed = recv_until(s, None, 5)
        assert more == b"" and closed, (more[:100], closed)
    finally:
        t.join(10)
        s.close()


@test
def test_cap_chunked_size_line_413():
    """A chunk whose announced size alone crosses the cap is refused at its size line (the
    server's documented choice since 2482bce), without waiting for the data."""
    s = conn()
    try:
        s.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                  b"5\r\nhello\r\n%x\r\n" % CAP)
        rs, rest, closed = read_finals(s, 1, ["POST"], 5)
        assert rs and rs[0].status == 413, (rs, closed)
        assert "close" in rs[0].conn_tokens(), rs[0].headers
        more, closed = recv_until(s, None, 5)
        assert more == b"" and closed, (more[:100], closed)
    finally:
        s.close()


# ---------------------------------------------------------------------------------- expect

@test
def test_expect_100_continue():
    s = conn()
    try:
        s.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                  b"Expect: 100-continue\r\n\r\n")
        buf, closed = recv_until(s, lambda b: b"\r\n\r\n" in b, 5)
        assert re.match(rb"^HTTP/1\.1 100 [^\r\n]*\r\n", buf), "no 100 Continue: %r" % buf[:200]
        interim_end = buf.index(b"\r\n\r\n") + 4
        assert buf[interim_end:] == b"", "bytes after the 100 before the body: %r" % buf
        s.sendall(b"hello")
        rs, rest, closed = read_finals(s, 1, ["POST"], 5)
        assert rs and rs[-1].status == 200 and rs[-1].body == b"hello", rs
        check_final(rs[-1])
        hs, interim, _ = h11_parse(buf + rs[-1].raw, ["POST"], closed=False)
        assert interim == [100] and hs[0][0] == 200, (interim, hs)
        # the connection stays usable
        s.sendall(req("GET", "/"))
        rs, rest, closed = read_finals(s, 1, ["GET"], 5)
        assert rs and rs[-1].status == 200, rs
    finally:
        s.close()


@test
def test_expect_100_continue_chunked():
    s = conn()
    try:
        s.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                  b"Expect: 100-continue\r\n\r\n")
        buf, closed = recv_until(s, lambda b: b"\r\n\r\n" in b, 5)
        assert re.match(rb"^HTTP/1\.1 100 ", buf), "no 100 Continue: %r" % buf[:200]
        s.sendall(b"3\r\nabc\r\n0\r\n\r\n")
        rs, rest, closed = read_finals(s, 1, ["POST"], 5)
        assert rs and rs[-1].status == 200 and rs[-1].body == b"abc", rs
    finally:
        s.close()


@test
def test_expect_100_ignored_in_http10():
    """RFC 9110 10.1.1: a 100-continue expectation in an HTTP/1.0 request MUST be ignored."""
    s = conn()
    try:
        s.sendall(b"POST /echo HTTP/1.0\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\nhello")
        buf, closed = recv_until(s, None, 5)
        rs, used, k = parse_stream(buf, ["POST"], closed)
        assert [r.status for r in rs] == [200], "expected only 200, got %r" % rs
        assert rs[0].body == b"hello"
    finally:
        s.close()


@test
def test_expect_100_not_sent_for_404_405():
    """No 100 when the request will not be accepted; if the connection is kept, the body the
    client then sends anyway is consumed as body, never parsed as a request."""
    for target, want in [(b"/nope", 404), (b"/", 405)]:
        s = conn()
        try:
            s.sendall(b"POST " + target + b" HTTP/1.1\r\nHost: x\r\nContent-Length: 29\r\n"
                      b"Expect: 100-continue\r\n\r\n")
            rs, rest, closed = read_finals(s, 1, ["POST"], 5)
            assert [r.status for r in rs] == [want], (target, "expected only %d: %r" % (want, rs), closed)
            check_final(rs[0])
            if "close" in rs[0].conn_tokens():
                more, closed = recv_until(s, None, 5)
                assert more == b"" and closed, (target, more, closed)
                continue
            # the client sends the body anyway (allowed), then a real request
            s.sendall(b"GET /x HTTP/1.1\r\nHost: x\r\n\r\n" + req("GET", "/"))
            assert len(b"GET /x HTTP/1.1\r\nHost: x\r\n\r\n") == 29
            rs, rest, closed = read_finals(s, 1, ["GET"], 5)
            assert [r.status for r in rs] == [200], (target, "after the body: %r" % rs, closed)
            assert rs[0].body == b"Hello, World!"
        finally:
            s.close()


@test
def test_expect_100_over_cap_413_without_100():
    cap_over_content_length(extra_headers=[("Expect", "100-continue")])


@test
def test_expect_unknown_417():
    s = conn()
    try:
        s.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                  b"Expect: bananas\r\n\r\nhello" + req("GET", "/"))
        buf, closed = recv_until(s, None, 5)
        rs, used, k = parse_stream(buf, ["POST", "GET"], closed)
        assert [r.status for r in rs] == [417], (rs, buf[used:][:200])
        assert "close" in rs[0].conn_tokens(), rs[0].headers
        assert closed
    finally:
        s.close()


# ---------------------------------------------------------------------------------- keep-alive

@test
def test_http_client_keepalive_reuse():
    c = http.client.HTTPConnection("127.0.0.1", srv().port, timeout=10)
    try:
        sock = None
        local = None
        for i in range(300):
            k = i % 6
            if k == 0:
                c.request("GET", "/")
                want, wbody = 200, b"Hello, World!"
            elif k == 1:
                body = ("payload-%d-" % i).encode() * (i % 17 + 1)
                c.request("POST", "/echo", body=body, headers={"Content-Type": "x/y"})
                want, wbody = 200, body
            elif k == 2:
                c.request("HEAD", "/")
                want, wbody = 200, b""
            elif k == 3:
                c.request("GET", "/health")
                want, wbody = 200, None
            elif k == 4:
                body = rng.randbytes(rng.randint(0, 5000))
                c.request("POST", "/echo", body=iter([body[:len(body) // 2], body[len(body) // 2:]]),
                          encode_chunked=True, headers={"Transfer-Encoding": "chunked"})
                want, wbody = 200, body
            else:
                c.request("OPTIONS", "/echo")
                want, wbody = 200, None
            r = c.getresponse()
            got = r.read()
            assert r.status == want, (i, r.status, got[:200])
            if wbody is not None:
                assert got == wbody, (i, len(got), len(wbody))
            assert r.getheader("Date"), (i, r.getheaders())
            assert not r.will_close, (i, "server asked to close", r.getheaders())
            if sock is None:
                sock = c.sock
                local = c.sock.getsockname()
            assert c.sock is sock and c.sock.getsockname() == local, "reconnected at %d" % i
    finally:
        c.close()


@test
def test_connection_close_http11():
    r, = send_recv(req("GET", "/", headers=[("Connection", "close")]), ["GET"], expect_close=True)
    assert r.status == 200 and "close" in r.conn_tokens(), r.headers


@test
def test_http10_closes_by_default():
    r, = send_recv(b"GET / HTTP/1.0\r\n\r\n", ["GET"], expect_close=True)
    assert r.status == 200 and r.body == b"Hello, World!", r
    assert "keep-alive" not in r.conn_tokens(), r.headers


@test
def test_http10_keepalive():
    s = conn()
    try:
        for i in range(3):
            s.sendall(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            rs, rest, closed = read_finals(s, 1, ["GET"], 5)
            assert rs and rs[-1].status == 200, (i, rs, closed)
            r = rs[-1]
            check_final(r)
            assert "keep-alive" in r.conn_tokens(), r.headers
            assert not closed and rest == b""
        s.sendall(b"POST /echo HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 3\r\n\r\nxyz")
        rs, rest, closed = read_finals(s, 1, ["POST"], 5)
        assert rs and rs[-1].status == 200 and rs[-1].body == b"xyz", rs
        assert "keep-alive" in rs[-1].conn_tokens()
        s.sendall(b"GET /health HTTP/1.0\r\n\r\n")      # no keep-alive: closes after this one
        rs, rest, closed = read_finals(s, 1, ["GET"], 5)
        assert rs and rs[-1].status == 200, rs
        more, closed = recv_until(s, None, 5)
        assert more == b"" and closed, (more, closed)
    finally:
        s.close()


@test
def test_http12_treated_as_11():
    s = conn()
    try:
        s.sendall(b"GET / HTTP/1.2\r\nHost: x\r\n\r\n")
        rs, rest, closed = read_finals(s, 1, ["GET"], 5)
        assert rs and rs[-1].status == 200, (rs, closed)
        assert rs[-1].version == "1.1"
        s.sendall(req("GET", "/"))                 # persistent like 1.1
        rs, rest, closed = read_finals(s, 1, ["GET"], 5)
        assert rs and rs[-1].status == 200, (rs, closed)
    finally:
        s.close()


# ---------------------------------------------------------------------------------- pipelining

@test
def test_pipelining_mixed():
    parts = [
        (req("GET", "/"), "GET", 200, b"Hello, World!"),
        (req("POST", "/echo", b"first body"), "POST", 200, b"first body"),
        (req("HEAD", "/"), "HEAD", 200, b""),
        (chunked_req(b"chunked body here", ext=True), "POST", 200, b"chunked body here"),
        (req("GET", "/health"), "GET", 200, None),
        (b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", "OPTIONS", 200, b""),
        (req("POST", "/echo", b""), "POST", 200, b""),
        (req("GET", "/?q=1"), "GET", 200, b"Hello, World!"),
        (req("POST", "/echo", b"last", headers=[("Connection", "close")]), "POST", 200, b"last"),
    ]
    data = b"".join(p[0] for p in parts)
    rs = send_recv(data, [p[1] for p in parts], expect_close=True)
    for i, (r, p) in enumerate(zip(rs, parts)):
        assert r.status == p[2], (i, r)
        if p[3] is not None:
            assert r.body == p[3], (i, r.body)


@test
def test_pipelining_100_in_order():
    data = b"".join(req("POST", "/echo", b"#%d" % i) for i in range(100))
    rs = send_recv(data, ["POST"] * 100)
    assert [r.body for r in rs] == [b"#%d" % i for i in range(100)]


@test
def test_pipelining_1000_requests():
    """More pipelined bytes than one read buffer; the client writes everything before it reads."""
    data = b"".join(req("GET", "/") if i % 2 else req("POST", "/echo", b"n%d" % i)
                    for i in range(1000))
    methods = ["GET" if i % 2 else "POST" for i in range(1000)]
    s = conn(15)
    t = threading.Thread(target=lambda: s.sendall(data), daemon=True)
    t.start()
    try:
        rs, rest, closed = read_finals(s, 1000, methods, 15)
        finals = [r for r in rs if r.status >= 200]
        assert len(finals) == 1000, (len(finals), closed, rest[:200])
        for i, r in enumerate(finals):
            assert r.status == 200, (i, r)
            assert r.body == (b"Hello, World!" if i % 2 else b"n%d" % i), (i, r.body)
        assert rest == b""
    finally:
        t.join(10)
        s.close()


@test
def test_pipelining_large_echoes():
    bodies = [rng.randbytes(n) for n in (300000, 1, 500000, 0, 65537)]
    data = b"".join((req("POST", "/echo", b) if i % 2 == 0 else chunked_req(b))
                    for i, b in enumerate(bodies)) + req("GET", "/")
    s = conn(15)
    t = threading.Thread(target=lambda: s.sendall(data), daemon=True)
    t.start()
    try:
        rs, rest, closed = read_finals(s, 6, ["POST"] * 5 + ["GET"], 15)
        finals = [r for r in rs if r.status >= 200]
        assert [r.status for r in finals] == [200] * 6, (finals, closed)
        for i, b in enumerate(bodies):
            assert finals[i].body == b, (i, len(finals[i].body), len(b))
        hs, _, _ = h11_parse(b"".join(r.raw for r in rs), ["POST"] * 5 + ["GET"], closed=False)
        assert [h[2] for h in hs[:5]] == bodies
    finally:
        t.join(10)
        s.close()


@test
def test_pipelining_connection_close_in_middle():
    data = req("GET", "/") + req("GET", "/health", headers=[("Connection", "close")]) + req("GET", "/")
    s = conn()
    try:
        s.sendall(data)
        buf, closed = recv_until(s, None, 5)
        rs, used, k = parse_stream(buf, ["GET"] * 3, closed)
        assert [r.status for r in rs] == [200, 200], rs
        assert "close" in rs[1].conn_tokens() and closed and buf[used:] == b"", (rs, closed)
    finally:
        s.close()


@test
def test_half_close_after_request_still_answered():
    """The client shuts down its sending side after a complete request (printf | nc style);
    the response still comes back (beyond the written spec; RFC 9112 9.6 practice)."""
    s = conn()
    try:
        s.sendall(req("GET", "/") + req("POST", "/echo", b"bye"))
        s.shutdown(socket.SHUT_WR)
        buf, closed = recv_until(s, None, 5)
        rs, used, k = parse_stream(buf, ["GET", "POST"], closed)
        assert [r.status for r in rs] == [200, 200] and rs[1].body == b"bye", (rs, buf[:300])
        assert closed
    finally:
        s.close()


@test
def test_half_close_answered_by_async_routes():
    """The same half-close in front of routes answered later (a timer, the task pool, a
    pipelined mix): every response still comes back, then the server closes."""
    for path, want in (("/sleep/200", b"slept 200 ms"), ("/block/200", b"blocked 200 ms")):
        s = conn()
        try:
            s.sendall(req("GET", path))
            s.shutdown(socket.SHUT_WR)
            buf, closed = recv_until(s, None, 5)
            rs, used, k = parse_stream(buf, ["GET"], closed)
            assert [r.status for r in rs] == [200] and want in rs[0].body, (path, buf[:300])
            assert closed and "close" in rs[0].conn_tokens(), (path, rs[0].headers)
        finally:
            s.close()
    s = conn()
    try:
        s.sendall(req("GET", "/") + req("GET", "/sleep/100") + req("GET", "/block/50"))
        s.shutdown(socket.SHUT_WR)
        buf, closed = recv_until(s, None, 5)
        rs, used, k = parse_stream(buf, ["GET", "GET", "GET"], closed)
        assert [r.status for r in rs] == [200, 200, 200], buf[:400]
        assert closed
    finally:
        s.close()


@test
def test_pipelining_bad_request_in_middle():
    data = (req("GET", "/") + req("POST", "/echo", b"ok") +
            b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: +5\r\n\r\nhello" +
            req("GET", "/health") + req("GET", "/"))
    s = conn()
    try:
        s.sendall(data)
        buf, closed = recv_until(s, None, 5)
        rs, used, k = parse_stream(buf, ["GET", "POST", "GET", "GET", "GET"], closed)
        assert [r.status for r in rs] == [200, 200, 400], (rs, buf[used:][:200])
        assert buf[used:] == b"", buf[used:][:200]
        assert closed, "server did not close after the 400"
        assert "close" in rs[2].conn_tokens(), rs[2].headers
        for r in rs:
            check_final(r)
        hs, _, trailing = h11_parse(buf, ["GET", "POST", "GET"], closed=True)
        assert [h[0] for h in hs] == [200, 200, 400] and trailing == b"", (hs, trailing)
    finally:
        s.close()


# ---------------------------------------------------------------------------------- curl

@test
def test_curl_get_and_reuse():
    p = curl("-v", url("/"), url("/health"), url("/"))
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith(b"Hello, World!") and p.stdout.endswith(b"Hello, World!"), p.stdout
    err = p.stderr.decode("latin-1")
    assert err.count("< HTTP/1.1 200") == 3, err
    assert re.search(r"Re-using existing connection", err), "curl did not reuse: " + err


@test
def test_curl_post_file():
    for size in [0, 1, 1000, 65536, CAP]:
        path = os.path.join(TMP, "body-%d" % size)
        body = rng.randbytes(size)
        with open(path, "wb") as f:
            f.write(body)
        out = path + ".out"
        p = curl("-o", out, "-w", "%{http_code}", "--data-binary", "@" + path, url("/echo"))
        assert p.returncode == 0 and p.stdout == b"200", (size, p.stdout, p.stderr)
        with open(out, "rb") as f:
            assert f.read() == body, size


@test
def test_curl_post_over_cap_413():
    path = os.path.join(TMP, "body-over")
    with open(path, "wb") as f:
        f.write(b"z" * (CAP + 1))
    p = curl("-o", "/dev/null", "-w", "%{http_code}", "--data-binary", "@" + path, url("/echo"))
    assert p.stdout == b"413", (p.returncode, p.stdout, p.stderr)


@test
def test_curl_chunked_upload():
    for size in [0, 1, 70000, CAP]:
        path = os.path.join(TMP, "cbody-%d" % size)
        body = rng.randbytes(size)
        with open(path, "wb") as f:
            f.write(body)
        out = path + ".out"
        p = curl("-v", "-o", out, "-w", "%{http_code}", "-H", "Transfer-Encoding: chunked",
                 "--data-binary", "@" + path, url("/echo"))
        assert p.returncode == 0 and p.stdout == b"200", (size, p.stdout, p.stderr[-2000:])
        assert b"> Transfer-Encoding: chunked" in p.stderr, "curl did not send chunked"
        with open(out, "rb") as f:
            assert f.read() == body, size


@test
def test_curl_expect_100_continue():
    path = os.path.join(TMP, "ebody")
    body = rng.randbytes(200000)
    with open(path, "wb") as f:
        f.write(body)
    out = path + ".out"
    p = curl("-v", "-o", out, "-w", "%{http_code}", "-H", "Expect: 100-continue",
             "--expect100-timeout", "10", "--data-binary", "@" + path, url("/echo"))
    assert p.returncode == 0 and p.stdout == b"200", (p.stdout, p.stderr[-2000:])
    assert b"< HTTP/1.1 100" in p.stderr, p.stderr[-2000:]
    with open(out, "rb") as f:
        assert f.read() == body


@test
def test_curl_http10():
    p = curl("-v", "--http1.0", url("/"))
    assert p.returncode == 0 and p.stdout == b"Hello, World!", (p.stdout, p.stderr)
    assert b"> GET / HTTP/1.0" in p.stderr
    p = curl("--http1.0", "-o", "/dev/null", "-w", "%{http_code}", "--data-binary", "abc",
             url("/echo"))
    assert p.stdout == b"200", (p.stdout, p.stderr)


@test
def test_curl_head_and_errors():
    p = curl("-I", url("/"))
    assert p.returncode == 0, p.stderr
    head = p.stdout.decode("latin-1")
    assert head.startswith("HTTP/1.1 200"), head
    assert re.search(r"(?im)^content-length: 13\r$", head), head
    for path, method, want in [("/nope", "GET", "404"), ("/echo", "GET", "405"),
                               ("/", "POST", "405")]:
        p = curl("-o", "/dev/null", "-w", "%{http_code}", "-X", method, url(path))
        assert p.stdout.decode() == want, (path, method, p.stdout, p.stderr)


# ---------------------------------------------------------------------------------- IPv6

@test
def test_ipv6_loopback():
    try:
        t = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        t.bind(("::1", 0))
        t.close()
    except OSError as e:
        print("  note: no IPv6 loopback (%s); skipped" % e)
        return
    d6 = Demo(workers=1, host="::1")
    d6.start()
    try:
        s = socket.create_connection(("::1", d6.port), timeout=5)
        try:
            s.sendall(req("GET", "/") + req("POST", "/echo", b"v6", headers=[("Connection", "close")]))
            buf, closed = recv_until(s, None, 5)
            rs, used, k = parse_stream(buf, ["GET", "POST"], closed)
            assert [r.status for r in rs] == [200, 200] and rs[1].body == b"v6", rs
            assert closed
        finally:
            s.close()
        p = curl("-g", "http://[::1]:%d/" % d6.port)
        assert p.stdout == b"Hello, World!", (p.stdout, p.stderr)
    except BaseException:
        d6.kill()
        raise
    d6.stop()


# ---------------------------------------------------------------------------------- exit

@test
def test_zz_clean_exit():
    d = srv()
    d.stop()


if __name__ == "__main__":
    try:
        rc = run_all()
    finally:
        demo.kill()
        subprocess.run(["rm", "-rf", TMP])
    sys.exit(rc)
