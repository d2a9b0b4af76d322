"""Timeouts and graceful shutdown of build/demo over loopback (issue: timer wheels,
connection timeouts, graceful shutdown). Every wait is bounded; the server is stopped by
PID and its exit status and sanitizer output are checked by pyharness.Demo."""
import os, signal, socket, sys, threading, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pyharness import Demo, test, run_all, parse_responses

TIMEOUTS = ["--header-timeout", "1", "--body-timeout", "1", "--keepalive-timeout", "1.5",
            "--write-timeout", "1", "--request-timeout", "1", "--shutdown-timeout", "5"]


def recv_all(s, limit=5.0):
    s.settimeout(limit)
    chunks, end = [], time.time() + limit
    while time.time() < end:
        try:
            b = s.recv(65536)
        except (socket.timeout, ConnectionResetError):
            break
        if not b:
            break
        chunks.append(b)
    return b"".join(chunks)


def get(addr, path="/", timeout=5.0):
    t0 = time.time()
    s = socket.create_connection(addr, timeout=timeout)
    s.sendall(b"GET %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n" % path.encode())
    data = recv_all(s, timeout)
    s.close()
    return parse_responses(data), time.time() - t0


@test
def test_slowloris_cut_at_head_deadline():
    with Demo(args=TIMEOUTS) as d:
        s = d.connect()
        t0 = time.time()
        req = b"GET / HTTP/1.1\r\nHost: t\r\nX-Slow: " + b"a" * 100
        got = b""
        for b in req:                       # one byte every 100 ms: never finishes in time
            try:
                s.sendall(bytes([b]))
            except (BrokenPipeError, ConnectionResetError):
                break
            time.sleep(0.1)
            s.setblocking(False)
            try:
                got += s.recv(4096)
            except (BlockingIOError, ConnectionResetError):
                pass
            s.setblocking(True)
            if got or time.time() - t0 > 4:
                break
        got += recv_all(s, 2)
        took = time.time() - t0
        s.close()
        assert got.startswith(b"HTTP/1.1 408 "), got[:100]
        assert b"Connection: close" in got
        assert 0.9 <= took <= 2.5, took


@test
def test_many_slowloris_do_not_slow_others():
    with Demo(workers=1, args=TIMEOUTS + ["--header-timeout", "30"]) as d:
        socks = []
        for _ in range(500):
            s = socket.create_connection(d.addr(), timeout=5)
            s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n")
            socks.append(s)
        worst = 0.0
        for _ in range(20):
            rs, took = get(d.addr())
            assert rs and rs[0][0] == 200
            worst = max(worst, took)
            for s in socks[:50]:
                s.sendall(b"X: y\r\n")      # keep trickling
        for s in socks:
            s.close()
        assert worst < 1.0, worst


@test
def test_idle_keepalive_closed():
    with Demo(args=TIMEOUTS) as d:
        s = d.connect()
        s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        t0 = time.time()
        data = recv_all(s, 4)
        took = time.time() - t0
        s.close()
        rs = parse_responses(data)
        assert len(rs) == 1 and rs[0][0] == 200        # then a silent close
        assert 1.3 <= took <= 3.0, took


@test
def test_non_reading_client_dropped():
    with Demo(args=TIMEOUTS) as d:
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.connect(d.addr())
        body = b"x" * (1 << 20)
        req = b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n" % len(body)
        for _ in range(3):                 # three 1 MiB echoes, never read
            s.sendall(req + body)
        t0 = time.time()
        # the server must give up within write timeout; we see a reset or EOF on reading
        time.sleep(2.5)
        got, dead = 0, False
        s.settimeout(3)
        try:
            while True:
                b = s.recv(1 << 20)
                if not b:
                    dead = True
                    break
                got += len(b)
        except ConnectionResetError:
            dead = True
        except socket.timeout:
            pass
        s.close()
        assert dead, "still open after %.1fs, read %d" % (time.time() - t0, got)
        assert got < 3 * len(body)
        rs, _ = get(d.addr())              # and nobody else was stalled
        assert rs[0][0] == 200


@test
def test_handler_that_never_answers_gets_504():
    with Demo(args=TIMEOUTS) as d:
        t0 = time.time()
        rs, took = get(d.addr(), "/never")
        assert len(rs) == 1 and rs[0][0] == 504, rs
        assert 0.9 <= took <= 2.5, took


@test
def test_sleep_route_does_not_block_worker():
    with Demo(workers=1, args=TIMEOUTS + ["--request-timeout", "10"]) as d:
        out = []
        th = [threading.Thread(target=lambda: out.append(get(d.addr(), "/sleep/800")))
              for _ in range(20)]
        for t in th:
            t.start()
        time.sleep(0.2)
        rs, took = get(d.addr(), "/")
        assert rs[0][0] == 200 and took < 0.3, took
        for t in th:
            t.join(10)
        assert len(out) == 20 and all(r[0][0][0] == 200 for r in out)
        assert all(0.7 <= r[1] <= 3 for r in out), [r[1] for r in out]


@test
def test_graceful_shutdown_under_load():
    d = Demo(workers=2, args=TIMEOUTS + ["--request-timeout", "10", "--drain-delay", "0.3"])
    d.start()
    results, errors, retried = [], [], []
    stop_at = [None]

    def client():
        while stop_at[0] is None or time.time() < stop_at[0] + 0.2:
            try:
                s = socket.create_connection(d.addr(), timeout=5)
            except OSError:
                return                      # refused after the stop: never accepted
            served, buf = 0, b""
            try:
                for _ in range(20):
                    sent = time.time()
                    s.sendall(b"GET /sleep/50 HTTP/1.1\r\nHost: t\r\n\r\n")
                    buf = b""
                    while b"\r\n\r\n" not in buf or not buf.endswith(b"ms\n"):
                        b = s.recv(4096)
                        if not b:
                            raise ConnectionError("closed mid-request")
                        buf += b
                    rs = parse_responses(buf)
                    results.append(rs[0][0])
                    served += 1
                    if rs[0][1].get("connection") == "close":
                        break
            except OSError as e:            # ConnectionError included
                # An idle keep-alive connection is closed when the drain delay ends; a
                # request sent on it then, after SIGTERM, meets the close (or a reset, the
                # request unread) without a byte of answer: a real client retries on a new
                # connection, and so does this one (refused once the listener is closed).
                # Anything else (a fresh connection, a partial answer, before the stop) fails.
                if served and not buf and stop_at[0] is not None and sent > stop_at[0] \
                        and isinstance(e, ConnectionError):
                    retried.append(repr(e))
                else:
                    errors.append(repr(e))
            finally:
                s.close()
    th = [threading.Thread(target=client) for _ in range(32)]
    for t in th:
        t.start()
    time.sleep(1.0)
    stop_at[0] = time.time()
    ready_before, _ = get(d.addr(), "/ready")
    d.proc.send_signal(signal.SIGTERM)
    time.sleep(0.1)
    ready_after, _ = get(d.addr(), "/ready")          # drain delay: still accepting
    for t in th:
        t.join(15)
    t0 = time.time()
    rc = d.stop(timeout=15)
    assert rc == 0
    assert ready_before[0][0] == 200 and ready_after[0][0] == 503, (ready_before, ready_after)
    assert len(results) > 100, len(results)
    assert all(r == 200 for r in results), set(results)
    assert not errors, errors[:5]
    if retried:
        print("   %d idle keep-alive connections closed by the stop as a request came: "
              "retried on a new one" % len(retried))



@test
def test_graceful_stop_answers_every_accepted_connection():
    """No drain delay, one worker: connections that the kernel completed before the stop,
    including ones whose request arrives just after it and ones that never had to wait,
    are all answered; a client is only ever refused at connect, never reset after it."""
    d = Demo(workers=1, args=TIMEOUTS)
    d.start()
    req = b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
    fresh = [socket.create_connection(d.addr(), timeout=5) for _ in range(16)]
    served, lost, stop = [0], [], [False]

    def client():                       # connection per request until refused
        while True:
            try:
                s = socket.create_connection(d.addr(), timeout=5)
            except OSError:
                return
            try:
                s.sendall(req)
                rs = parse_responses(recv_all(s, 5))
                if rs and rs[0][0] == 200:
                    served[0] += 1
                else:
                    lost.append(rs)
            except OSError as e:
                lost.append(repr(e))
            finally:
                s.close()
            if stop[0]:
                return
    th = [threading.Thread(target=client) for _ in range(8)]
    for t in th:
        t.start()
    time.sleep(0.5)
    d.proc.send_signal(signal.SIGTERM)
    time.sleep(0.05)
    for s in fresh:                     # connected before the stop, request after it
        try:
            s.sendall(req)
        except OSError as e:
            lost.append(repr(e))
    answers = [parse_responses(recv_all(s, 5)) for s in fresh]
    stop[0] = True
    for t in th:
        t.join(15)
    rc = d.stop(timeout=15)
    assert rc == 0
    assert all(a and a[0][0] == 200 for a in answers), answers
    assert served[0] > 50, served[0]
    assert not lost, lost[:5]


def silent_close_times(addr, n, limit):
    """Open n connections that never send a byte; return (seconds until each was closed
    by the server, bytes each received)."""
    socks = [socket.create_connection(addr, timeout=limit) for _ in range(n)]
    t0 = time.time()
    res = [None] * n

    def wait(i):
        got = b""
        try:
            while True:
                b = socks[i].recv(4096)
                if not b:
                    break
                got += b
        except (ConnectionResetError, socket.timeout):
            pass
        res[i] = (time.time() - t0, got)
        socks[i].close()

    ts = [threading.Thread(target=wait, args=(i,)) for i in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(limit + 5)
    return res


@test
def test_silent_connections_closed_by_header_timeout():
    """A connection that never sends a byte is closed by the header timeout counted from
    its arrival (plus the kernel's short deferred-accept hold), silently, even though the
    keep-alive timeout is much longer; CRLFs trickled before a request do not extend it."""
    with Demo(args=["--header-timeout", "2", "--keepalive-timeout", "60"]) as d:
        res = silent_close_times(d.addr(), 5, 20)
        for took, got in res:
            assert 1.9 <= took <= 6.5, res
            assert got == b"", res
        s = d.connect(20)
        t0 = time.time()
        try:
            for _ in range(8):                       # CRLFs only: no head ever starts
                s.sendall(b"\r\n")
                time.sleep(0.5)
        except (BrokenPipeError, ConnectionResetError):
            pass
        data = recv_all(s, 10)
        took = time.time() - t0
        s.close()
        assert took < 6.5, took


@test
def test_silent_connection_default_deadline():
    """With every default: gone within 35 s of the TCP handshake."""
    with Demo() as d:
        res = silent_close_times(d.addr(), 2, 45)
        for took, got in res:
            assert 29 <= took <= 35, res


def drip(addr, path, read, chunked=False, limit=40):
    """Send a request head, then 2 body bytes a second, reading the response (or not).
    Returns (seconds until the server ended it, what came back)."""
    s = socket.create_connection(addr, timeout=limit)
    if chunked:
        s.sendall(b"POST %s HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n" % path.encode())
    else:
        s.sendall(b"POST %s HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n" % path.encode())
    t0, got = time.time(), b""
    s.setblocking(False)
    while time.time() - t0 < limit:
        try:
            s.send(b"2\r\nab\r\n" if chunked else b"ab")
        except (BrokenPipeError, ConnectionResetError):
            break
        time.sleep(1.0)
        if not read and time.time() - t0 < limit - 1:
            try:                                    # only look whether it was closed
                b = s.recv(1, socket.MSG_PEEK)
                if b == b"":
                    break
                if b"HTTP/1.1 408" in s.recv(65536, socket.MSG_PEEK):
                    got = s.recv(65536)
                    break
            except BlockingIOError:
                pass
            except ConnectionResetError:
                break
            continue
        try:
            b = s.recv(65536)
            if b == b"":
                break
            got += b
        except BlockingIOError:
            pass
        except ConnectionResetError:
            break
    took = time.time() - t0
    s.close()
    return took, got


@test
def test_min_rate_on_every_body_path():
    """A client dripping 2 bytes a second (the minimum is 240 B/s per 5 s window) is cut
    on every route that consumes a body: buffered (/hash), streamed (/upload), streamed
    with pauses (/upload-paced), streamed while the handler writes the response (/echo),
    with and without reading what comes back. 408 where no response began; otherwise
    the connection is closed (and the server says so in its log)."""
    with Demo(workers=2, args=["--verbose"]) as d:
        cases = [(p, rd, ch) for p in ("/hash", "/upload", "/upload-paced", "/echo")
                 for rd in (True, False) for ch in (False, True)]
        out = [None] * len(cases)

        def run(i):
            p, rd, ch = cases[i]
            out[i] = drip(d.addr(), p, rd, ch)

        ts = [threading.Thread(target=run, args=(i,)) for i in range(len(cases))]
        for t in ts:
            t.start()
        for t in ts:
            t.join(60)
        for (p, rd, ch), (took, got) in zip(cases, out):
            assert took < 12, (p, rd, ch, took, got[:80])
            started = p == "/echo" and not ch     # /echo answers a Content-Length body at once
            if not started:
                assert got.startswith(b"HTTP/1.1 408 ") or not rd, (p, rd, ch, got[:80])
        time.sleep(0.2)
        assert "after the response began: connection closed" in d.stderr(), d.stderr()[-2000:]


@test
def test_paused_time_is_not_the_clients():
    """/upload-paced?hold=7000 pauses the body for 7 s after 256 KiB (longer than the 5 s
    rate window): a fast client is not cut for the application's pause."""
    with Demo(args=["--body-timeout", "4"]) as d:
        body = os.urandom(400 * 1024)
        s = socket.create_connection(d.addr(), timeout=30)
        s.sendall(b"POST /upload-paced?hold=7000 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
                  b"Content-Length: %d\r\n\r\n" % len(body) + body)
        t0 = time.time()
        data = recv_all(s, 25)
        s.close()
        rs = parse_responses(data)
        assert rs and rs[0][0] == 200 and b"bytes=%d" % len(body) in rs[0][2], data[:200]
        assert time.time() - t0 >= 6.5

if __name__ == "__main__":
    sys.exit(run_all())
