#!/usr/bin/python3
"""tests/test_concurrency.py - many connections at once against the demo (--workers 2):
2,000 concurrent keep-alive connections (non-blocking sockets, one selector) each get GET /
answered, all stay open, then each sends a second request on the same connection; and 200
connections each pipelining 20 mixed requests get 20 complete in-order responses."""
import os, resource, selectors, socket, sys, time, errno

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pyharness import Demo, test, run_all, parse_stream  # noqa: E402

N_CONNS = 2000
DEADLINE = 60.0
HELLO = b"Hello, World!"


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else 65536
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


raise_nofile()              # before the demo starts, so that it inherits the limit too
demo = Demo(workers=2)


def srv():
    if demo.proc is None:
        demo.start()
    elif demo.proc.poll() is not None:
        raise AssertionError("demo died (rc=%s):\n%s" % (demo.proc.returncode, demo.stderr()[-3000:]))
    return demo


class Client:
    __slots__ = ("i", "sock", "out", "inbuf", "methods", "want", "responses", "state", "closed")

    def __init__(self, i):
        self.i = i
        self.sock = None
        self.out = b""
        self.inbuf = b""
        self.methods = []
        self.want = 0
        self.responses = []
        self.state = "connecting"
        self.closed = False


def drive(clients, sel, deadline, on_done):
    """Run the selector until every client's state is 'done' or 'failed', or the deadline.
    on_done(client) is called when a client has all the responses it wants; it may queue more
    output (returning True) or not."""
    while time.time() < deadline:
        active = [c for c in clients if c.state not in ("done", "failed", "idle")]
        if not active:
            return
        events = sel.select(timeout=min(1.0, max(0.0, deadline - time.time())))
        for key, mask in events:
            c = key.data
            try:
                if c.state == "connecting" and mask & selectors.EVENT_WRITE:
                    err = c.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    if err:
                        raise OSError(err, os.strerror(err))
                    c.state = "sending"
                if c.state == "sending" and mask & selectors.EVENT_WRITE:
                    n = c.sock.send(c.out)
                    c.out = c.out[n:]
                    if not c.out:
                        c.state = "reading"
                        sel.modify(c.sock, selectors.EVENT_READ, c)
                    continue
                if mask & selectors.EVENT_READ:
                    b = c.sock.recv(65536)
                    if not b:
                        c.closed = True
                    c.inbuf += b
                    rs, used, k = parse_stream(c.inbuf, c.methods, c.closed)
                    if k >= c.want:
                        finals = [r for r in rs if r.status >= 200]
                        c.responses.extend(finals)
                        c.inbuf = c.inbuf[used:]
                        c.methods = []
                        c.want = 0
                        if c.inbuf:
                            raise ValueError("extra bytes after the responses: %r" % c.inbuf[:100])
                        if on_done(c):
                            c.state = "sending"
                            sel.modify(c.sock, selectors.EVENT_WRITE, c)
                        else:
                            c.state = "idle"
                            sel.modify(c.sock, selectors.EVENT_READ, c)
                    elif c.closed:
                        raise ValueError("closed after %d of %d responses: %r" % (k, c.want, c.inbuf[:200]))
            except (OSError, ValueError) as e:
                if isinstance(e, OSError) and e.errno in (errno.EAGAIN, errno.EWOULDBLOCK):
                    continue
                c.state = "failed"
                c.responses.append(e)
                try:
                    sel.unregister(c.sock)
                except (KeyError, ValueError):
                    pass


def open_clients(n, sel, first_request, methods):
    addr = srv().addr()
    clients = []
    for i in range(n):
        c = Client(i)
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        rc = s.connect_ex(addr)
        if rc not in (0, errno.EINPROGRESS):
            s.close()
            raise OSError(rc, "connect %d: %s" % (i, os.strerror(rc)))
        c.sock = s
        c.out = first_request(i)
        c.methods = list(methods(i))
        c.want = len(c.methods)
        sel.register(s, selectors.EVENT_WRITE, c)
        clients.append(c)
    return clients


def close_all(clients, sel):
    for c in clients:
        try:
            sel.unregister(c.sock)
        except (KeyError, ValueError):
            pass
        c.sock.close()


def summarize(clients, want):
    bad = []
    for c in clients:
        errs = [r for r in c.responses if isinstance(r, Exception)]
        if errs or len(c.responses) != want:
            bad.append((c.i, c.state, c.responses[-3:]))
    return bad


@test
def test_rlimit():
    soft, hard = raise_nofile()
    assert soft >= N_CONNS + 200, "RLIMIT_NOFILE %d too low for %d connections" % (soft, N_CONNS)


@test
def test_2000_concurrent_keepalive():
    sel = selectors.DefaultSelector()
    t0 = time.time()
    deadline = t0 + DEADLINE
    get = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
    clients = open_clients(N_CONNS, sel, lambda i: get, lambda i: ["GET"])
    try:
        drive(clients, sel, deadline, lambda c: False)          # phase 1: all hold 1 answer
        t1 = time.time()
        bad = summarize(clients, 1)
        assert not bad, "phase 1: %d of %d connections failed, first: %r" % (len(bad), N_CONNS, bad[:3])
        for c in clients:
            r = c.responses[0]
            assert r.status == 200 and r.body == HELLO, (c.i, r)
            assert "close" not in r.conn_tokens(), (c.i, r.headers)
        # every connection is still open: phase 2 on the same connections
        for c in clients:
            c.out = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
            c.methods = ["GET"]
            c.want = 1
            c.state = "sending"
            sel.modify(c.sock, selectors.EVENT_WRITE, c)
        drive(clients, sel, deadline, lambda c: False)
        bad = summarize(clients, 2)
        assert not bad, "phase 2: %d of %d connections failed, first: %r" % (len(bad), N_CONNS, bad[:3])
        for c in clients:
            assert c.responses[1].status == 200, (c.i, c.responses[1])
        t2 = time.time()
        print("  %d connections: phase 1 %.2fs, phase 2 %.2fs" % (N_CONNS, t1 - t0, t2 - t1))
        assert t2 - t0 < DEADLINE
    finally:
        close_all(clients, sel)
        sel.close()


def pipeline_for(i):
    reqs = []
    methods = []
    expect = []
    for j in range(20):
        k = (i + j) % 5
        if k == 0:
            reqs.append(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            methods.append("GET")
            expect.append((200, HELLO))
        elif k == 1:
            body = b"c%d-r%d" % (i, j)
            reqs.append(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
            methods.append("POST")
            expect.append((200, body))
        elif k == 2:
            reqs.append(b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n")
            methods.append("HEAD")
            expect.append((200, b""))
        elif k == 3:
            body = b"chunked-c%d-r%d" % (i, j)
            reqs.append(b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                        b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body))
            methods.append("POST")
            expect.append((200, body))
        else:
            reqs.append(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            methods.append("GET")
            expect.append((200, None))
    return b"".join(reqs), methods, expect


@test
def test_200_connections_pipelining_20():
    n = 200
    plans = [pipeline_for(i) for i in range(n)]
    sel = selectors.DefaultSelector()
    deadline = time.time() + 30
    clients = open_clients(n, sel, lambda i: plans[i][0], lambda i: plans[i][1])
    try:
        drive(clients, sel, deadline, lambda c: False)
        bad = summarize(clients, 20)
        assert not bad, "%d of %d connections failed, first: %r" % (len(bad), n, bad[:3])
        for c in clients:
            for j, (r, (st, body)) in enumerate(zip(c.responses, plans[c.i][2])):
                assert r.status == st, (c.i, j, r)
                if body is not None:
                    assert r.body == body, ("out of order or wrong body", c.i, j, r.body, body)
                if plans[c.i][1][j] == "HEAD":
                    assert r.h.get("content-length") == "13", (c.i, j, r.headers)
    finally:
        close_all(clients, sel)
        sel.close()


@test
def test_server_alive_after_load():
    s = srv().connect(5)
    try:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        buf = b""
        while True:
            b = s.recv(65536)
            if not b:
                break
            buf += b
        rs, used, k = parse_stream(buf, ["GET"], True)
        assert k == 1 and rs[-1].status == 200 and rs[-1].body == HELLO, buf[:300]
    finally:
        s.close()


@test
def test_zz_clean_exit():
    srv().stop()


if __name__ == "__main__":
    try:
        rc = run_all()
    finally:
        demo.kill()
    sys.exit(rc)
