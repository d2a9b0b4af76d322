"""Streaming responses through build/demo's /bytes/:n (httpd_begin/httpd_write/httpd_end
with backpressure): exact lengths over keep-alive, HEAD, a slow reader, a client that stops
reading (dropped at the write timeout), a client that leaves mid-stream."""
import http.client, os, socket, sys, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pyharness import Demo, test, run_all, read_to_close


@test
def test_bytes_lengths_keepalive():
    with Demo(workers=1) as d:
        c = http.client.HTTPConnection(*d.addr(), timeout=10)
        for n in (0, 1, 65535, 65536, 65537, 1 << 20, 5 * (1 << 20) + 3):
            c.request("GET", "/bytes/%d" % n)
            r = c.getresponse()
            body = r.read()
            assert r.status == 200 and len(body) == n and r.getheader("Content-Length") == str(n)
            assert body == b"x" * n or n == 0 or set(body) <= {0, ord("x")}
        c.request("HEAD", "/bytes/1000")
        r = c.getresponse()
        assert r.status == 200 and r.getheader("Content-Length") == "1000" and r.read() == b""
        c.request("GET", "/")                       # the connection is still in sync
        assert c.getresponse().read() == b"Hello, World!"
        c.close()


@test
def test_slow_reader_gets_everything():
    with Demo(workers=1) as d:
        s = socket.create_connection(d.addr(), timeout=10)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
        n = 8 << 20
        s.sendall(b"GET /bytes/%d HTTP/1.1\r\nHost: t\r\n\r\n" % n)
        got, t0 = 0, time.time()
        head = b""
        while b"\r\n\r\n" not in head:
            head += s.recv(4096)
        got = len(head) - head.index(b"\r\n\r\n") - 4
        while got < n and time.time() - t0 < 20:
            b = s.recv(65536)
            if not b:
                break
            got += len(b)
            time.sleep(0.0005)                      # a slow consumer
        s.close()
        assert got == n, got


@test
def test_stalled_reader_dropped_and_leaver_freed():
    with Demo(workers=1, args=["--write-timeout", "1"]) as d:
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.connect(d.addr())
        s.sendall(b"GET /bytes/100000000 HTTP/1.1\r\nHost: t\r\n\r\n")
        time.sleep(2.5)                             # never read: dropped after 1 s
        s.settimeout(5)
        dead, total = False, 0
        try:
            while True:
                b = s.recv(1 << 20)
                if not b:
                    dead = True
                    break
                total += len(b)
        except (ConnectionResetError, socket.timeout):
            dead = True
        s.close()
        assert dead and total < 100000000, total
        for _ in range(5):                          # clients leaving mid-stream
            s = socket.create_connection(d.addr(), timeout=5)
            s.sendall(b"GET /bytes/50000000 HTTP/1.1\r\nHost: t\r\n\r\n")
            s.recv(100000)
            s.close()
        time.sleep(0.3)
        c = http.client.HTTPConnection(*d.addr(), timeout=5)
        c.request("GET", "/")
        assert c.getresponse().status == 200
        c.close()
    # Demo.__exit__: exit status 0 and no sanitizer report (no leak of the streams)




def parse_sse(text):
    events, cur = [], {}
    for line in text.split("\n"):
        if line == "":
            if cur:
                events.append(cur)
            cur = {}
        elif line.startswith(":"):
            continue
        else:
            k, _, v = line.partition(": ")
            cur.setdefault(k, []).append(v)
    return events


@test
def test_server_sent_events():
    with Demo(workers=1) as d:
        c = http.client.HTTPConnection(*d.addr(), timeout=10)
        t0 = time.time()
        c.request("GET", "/events?every=50&count=4")
        r = c.getresponse()
        assert r.status == 200 and r.getheader("Content-Type") == "text/event-stream"
        assert r.getheader("Cache-Control") == "no-cache"
        assert r.getheader("Transfer-Encoding") == "chunked"
        body = r.read().decode()
        took = time.time() - t0
        ev = parse_sse(body)
        assert [e["id"] for e in ev] == [["0"], ["1"], ["2"], ["3"]], ev
        assert all(e["event"] == ["tick"] and len(e["data"]) == 2 for e in ev), ev
        assert body.startswith(": hello\n\n")
        assert 0.15 <= took < 3, took
        c.request("GET", "/")                       # keep-alive after the stream
        assert c.getresponse().read() == b"Hello, World!"
        c.close()


@test
def test_events_end_on_graceful_stop():
    d = Demo(workers=1).start()
    s = socket.create_connection(d.addr(), timeout=10)
    s.sendall(b"GET /events?every=100&count=100000 HTTP/1.1\r\nHost: t\r\n\r\n")
    time.sleep(0.3)
    t0 = time.time()
    d.stop()                                        # the stream notices and ends itself
    assert time.time() - t0 < 3, time.time() - t0
    data = read_to_close(s)
    assert data.endswith(b"0\r\n\r\n"), data[-40:]   # a complete chunked stream


@test
def test_sleeping_stream_woken_by_graceful_stop():
    """A stream that sleeps a minute between events does not hold a graceful stop: its
    httpd_after timer is brought forward, it sees httpd_stopping() and ends cleanly."""
    d = Demo(workers=1).start()
    s = socket.create_connection(d.addr(), timeout=10)
    s.sendall(b"GET /events?every=60000&count=10 HTTP/1.1\r\nHost: t\r\n\r\n")
    time.sleep(0.3)
    t0 = time.time()
    d.stop()
    assert time.time() - t0 < 2, time.time() - t0      # not the 10 s shutdown timeout
    data = read_to_close(s)
    assert data.count(b"event: tick") == 1 and data.endswith(b"0\r\n\r\n"), data[-60:]


@test
def test_echo_streams_back_with_content_length():
    with Demo(workers=1) as d:
        body = os.urandom(1 << 20)
        s = socket.create_connection(d.addr(), timeout=10)
        s.sendall(b"POST /echo HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
                  b"Content-Length: %d\r\n\r\n" % len(body) + body[:200000])
        first = s.recv(65536)                       # the echo starts before the body ends
        assert first.startswith(b"HTTP/1.1 200 "), first[:60]
        s.sendall(body[200000:])
        data = first
        while True:
            b = s.recv(1 << 20)
            if not b:
                break
            data += b
        s.close()
        assert data.endswith(body) and b"Content-Length: %d" % len(body) in data


if __name__ == "__main__":
    sys.exit(run_all())
