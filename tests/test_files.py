"""File bodies (httpd_send_file) through examples/download.c, with sendfile(2) and with the
pread fallback (build/download-nosendfile, -DHTTPD_NO_SENDFILE); chunked trailers
(httpd_add_trailer) through build/demo's /bytes/:n?chunked=1; the SSE clock example.
Real clients: curl, http.client, h11, raw sockets."""
import hashlib, http.client, os, shutil, signal, socket, subprocess, sys, tempfile, time, zlib
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pyharness import Demo, ROOT, test, run_all, read_to_close

BUILD = os.environ.get("BUILD", "build")
BINARIES = [os.path.join(ROOT, BUILD, b) for b in ("download-asan", "download-nosendfile")]
SIZES = (0, 1, 4095, 65536, 100001, 20 * 1000 * 1000)


class Files:
    """A temporary root with files of SIZES (random bytes) and a hidden file."""

    def __enter__(self):
        self.root = tempfile.mkdtemp(prefix="httpd-files-")
        self.data = {}
        for n in SIZES:
            self.put("f%d.bin" % n, os.urandom(n))
        self.put(".hidden", b"secret")
        os.mkdir(os.path.join(self.root, "sub"))
        self.put("sub/page.html", b"<p>hi</p>")
        return self

    def put(self, name, data):
        with open(os.path.join(self.root, name), "wb") as f:
            f.write(data)
        self.data[name] = data

    def __exit__(self, *exc):
        shutil.rmtree(self.root, ignore_errors=True)


def server(files, binary):
    return Demo(workers=1, binary=binary, args=["--root", files.root])


def open_fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def fds_settle(pid, want, timeout=2.0):
    """The descriptor count once it equals want (or the last one seen after timeout):
    the sanitizer runtime may hold a transient descriptor of its own for a moment."""
    end = time.time() + timeout
    n = open_fds(pid)
    while n != want and time.time() < end:
        time.sleep(0.05)
        n = open_fds(pid)
    return n


def each_binary(fn):
    """Registers fn once per binary (sendfile, pread fallback)."""
    for b in BINARIES:
        def case(b=b):
            fn(b)
        case.__name__ = "%s[%s]" % (fn.__name__, os.path.basename(b))
        test(case)
    return fn


@each_binary
def test_sizes_exact_over_keepalive(binary):
    with Files() as fs, server(fs, binary) as d:
        c = http.client.HTTPConnection(*d.addr(), timeout=20)
        for n in SIZES:
            c.request("GET", "/files/f%d.bin" % n)
            r = c.getresponse()
            body = r.read()
            assert r.status == 200, r.status
            assert r.getheader("Content-Length") == str(n)
            assert r.getheader("Content-Type") == "application/octet-stream"
            assert r.getheader("Last-Modified")
            assert body == fs.data["f%d.bin" % n], n
        c.request("GET", "/files/sub/page.html")
        r = c.getresponse()
        assert r.read() == b"<p>hi</p>" and r.getheader("Content-Type").startswith("text/html")
        c.close()


@each_binary
def test_curl_download(binary):
    with Files() as fs, server(fs, binary) as d:
        out = os.path.join(fs.root, "out")
        url = "http://%s:%d/files/f20000000.bin" % d.addr()
        subprocess.run(["curl", "-sf", "-o", out, url], check=True, timeout=60)
        with open(out, "rb") as f:
            assert hashlib.sha256(f.read()).digest() == \
                hashlib.sha256(fs.data["f20000000.bin"]).digest()


@each_binary
def test_head_and_pipelined(binary):
    with Files() as fs, server(fs, binary) as d:
        s = socket.create_connection(d.addr(), timeout=10)
        s.sendall(b"HEAD /files/f100001.bin HTTP/1.1\r\nHost: t\r\n\r\n"
                  b"GET /files/f65536.bin HTTP/1.1\r\nHost: t\r\n\r\n"
                  b"GET /files/f4095.bin HTTP/1.1\r\nHost: t\r\n\r\n"
                  b"GET /files/nope HTTP/1.1\r\nHost: t\r\n\r\n"
                  b"GET /files/f1.bin HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        data = read_to_close(s)
        s.close()
        # parse by hand: HEAD has a Content-Length but no body
        i, out = 0, []
        for method in ("HEAD", "GET", "GET", "GET", "GET"):
            e = data.index(b"\r\n\r\n", i)
            head = data[i:e].decode()
            status = int(head.split()[1])
            cl = int([l for l in head.split("\r\n") if l.lower().startswith("content-length:")][0]
                     .split(":")[1])
            body_len = 0 if method == "HEAD" else cl
            out.append((status, cl, data[e + 4:e + 4 + body_len]))
            i = e + 4 + body_len
        assert i == len(data), (i, len(data))
        assert out[0][:2] == (200, 100001) and out[0][2] == b""
        assert out[1] == (200, 65536, fs.data["f65536.bin"])
        assert out[2] == (200, 4095, fs.data["f4095.bin"])
        assert out[3][0] == 404
        assert out[4] == (200, 1, fs.data["f1.bin"])


@each_binary
def test_http10_close(binary):
    with Files() as fs, server(fs, binary) as d:
        s = socket.create_connection(d.addr(), timeout=10)
        s.sendall(b"GET /files/f100001.bin HTTP/1.0\r\n\r\n")
        data = read_to_close(s)
        head, body = data.split(b"\r\n\r\n", 1)
        assert b"Connection: close" in head and body == fs.data["f100001.bin"]


@test
def test_unsafe_paths_refused():
    with Files() as fs, server(fs, BINARIES[0]) as d:
        for path in ("/files/.hidden", "/files/%2e%2e/%2e%2e/etc/passwd", "/files/..%2fetc%2fpasswd",
                     "/files/sub/", "/files/sub", "/files/", "/files/sub%2f..%2f.hidden",
                     "/files/a%00b"):
            c = http.client.HTTPConnection(*d.addr(), timeout=5)
            c.request("GET", path)
            r = c.getresponse()
            body = r.read()
            if path == "/files/sub":               # a directory: to its slash form
                assert r.status == 301 and r.getheader("Location") == "/files/sub/"
                continue
            assert r.status in (400, 404), (path, r.status)   # 400: above the root
            assert b"secret" not in body and b"root:" not in body
            c.close()


@each_binary
def test_symlinks_inside_root_refused(binary):
    """A link planted in the root (to a file or a directory outside it) is never followed."""
    with Files() as fs:
        outside = tempfile.mkdtemp(prefix="httpd-outside-")
        try:
            with open(os.path.join(outside, "secret.txt"), "wb") as f:
                f.write(b"outside-secret")
            os.symlink(os.path.join(outside, "secret.txt"), os.path.join(fs.root, "link.txt"))
            os.symlink(outside, os.path.join(fs.root, "linkdir"))
            os.symlink("/etc/passwd", os.path.join(fs.root, "sub", "passwd"))
            with server(fs, binary) as d:
                for path in ("/files/link.txt", "/files/linkdir/secret.txt", "/files/sub/passwd"):
                    c = http.client.HTTPConnection(*d.addr(), timeout=5)
                    c.request("GET", path)
                    r = c.getresponse()
                    body = r.read()
                    assert r.status == 404, (path, r.status)
                    assert b"outside-secret" not in body and b"root:" not in body
                    c.close()
                c = http.client.HTTPConnection(*d.addr(), timeout=5)
                c.request("GET", "/files/sub/page.html")             # real files still served
                r = c.getresponse()
                assert r.status == 200 and r.read() == b"<p>hi</p>"
        finally:
            shutil.rmtree(outside, ignore_errors=True)


@each_binary
def test_slow_reader_and_fd_released(binary):
    """A reader that pauses gets every byte (windows well under the MSS make any Linux
    sender crawl on loopback, nginx too, so the receive buffer stays moderate); the file descriptor is closed
    once the body is out, and when a client leaves mid-body."""
    with Files() as fs, server(fs, binary) as d:
        time.sleep(0.3)               # the port is printed before httpd_serve opens its signalfd
        base = open_fds(d.proc.pid)
        s = socket.create_connection(d.addr(), timeout=20)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 262144)
        s.sendall(b"GET /files/f20000000.bin HTTP/1.1\r\nHost: t\r\n\r\n")
        buf, t0 = b"", time.time()
        while b"\r\n\r\n" not in buf:
            buf += s.recv(4096)
        head, body = buf.split(b"\r\n\r\n", 1)
        h = hashlib.sha256(body)
        got = len(body)
        time.sleep(0.3)                         # the server is blocked on a full window
        assert fds_settle(d.proc.pid, base + 2) == base + 2, (open_fds(d.proc.pid), base)  # socket, file
        while got < 20 * 1000 * 1000 and time.time() - t0 < 30:
            b = s.recv(1 << 16)
            assert b
            h.update(b)
            got += len(b)
        assert h.digest() == hashlib.sha256(fs.data["f20000000.bin"]).digest()
        s.sendall(b"GET /files/f1.bin HTTP/1.1\r\nHost: t\r\n\r\n")   # still in sync
        resp = b""
        while not resp.endswith(b"\r\n\r\n" + fs.data["f1.bin"]) and len(resp) < 4096:
            b = s.recv(4096)
            assert b, resp
            resp += b
        assert resp.startswith(b"HTTP/1.1 200 ") and resp.endswith(b"\r\n\r\n" + fs.data["f1.bin"])
        time.sleep(0.1)
        assert fds_settle(d.proc.pid, base + 1) == base + 1  # the file is closed, the socket open
        # a client that leaves mid-body: the file is closed with the connection
        s2 = socket.create_connection(d.addr(), timeout=10)
        s2.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 262144)
        s2.sendall(b"GET /files/f20000000.bin HTTP/1.1\r\nHost: t\r\n\r\n")
        s2.recv(1000)
        s2.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        s2.close()                              # RST
        s.close()
        deadline = time.time() + 5
        while open_fds(d.proc.pid) != base and time.time() < deadline:
            time.sleep(0.05)
        assert fds_settle(d.proc.pid, base) == base, (open_fds(d.proc.pid), base)


@each_binary
def test_file_shrinks_mid_transfer(binary):
    """The file is truncated while it is being sent: the Content-Length cannot hold, so the
    connection closes early (never a hang, never a desync), and the server goes on."""
    with Files() as fs, server(fs, binary) as d:
        name = os.path.join(fs.root, "f20000000.bin")
        s = socket.create_connection(d.addr(), timeout=10)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 262144)
        s.sendall(b"GET /files/f20000000.bin HTTP/1.1\r\nHost: t\r\n\r\n")
        s.recv(4096)
        os.truncate(name, 1 << 20)
        t0 = time.time()
        got = 0
        while True:
            b = s.recv(1 << 16)
            if not b:
                break
            got += len(b)
        assert got < 20 * 1000 * 1000 and time.time() - t0 < 8, (got, time.time() - t0)
        c = http.client.HTTPConnection(*d.addr(), timeout=5)
        c.request("GET", "/files/f1.bin")
        assert c.getresponse().read() == fs.data["f1.bin"]


@test
def test_graceful_stop_finishes_download():
    """SIGTERM while a (slow) download runs: the download completes, then the server exits 0."""
    with Files() as fs:
        d = server(fs, BINARIES[0]).start()
        try:
            s = socket.create_connection(d.addr(), timeout=20)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
            s.sendall(b"GET /files/f20000000.bin HTTP/1.1\r\nHost: t\r\n\r\n")
            buf = s.recv(65536)
            d.proc.send_signal(signal.SIGTERM)
            time.sleep(0.2)
            data = buf + read_to_close(s)
            head, body = data.split(b"\r\n\r\n", 1)
            assert body == fs.data["f20000000.bin"], len(body)
            assert d.proc.wait(timeout=15) == 0
        finally:
            d.stop()


@test
def test_graceful_stop_with_pipelined_input_no_reset():
    """SIGTERM during a download that has more requests pipelined behind it (some read,
    most still in the kernel): the file completes and the close is a lingering one, so no
    RST destroys its tail; the pipelined requests are not served (the server is stopping)."""
    with Files() as fs:
        d = server(fs, BINARIES[0]).start()
        try:
            s = socket.create_connection(d.addr(), timeout=20)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 262144)
            more = b"GET /files/f1.bin HTTP/1.1\r\nHost: t\r\n\r\n" * 3000
            s.sendall(b"GET /files/f20000000.bin HTTP/1.1\r\nHost: t\r\n\r\n" + more[:60000])
            buf = s.recv(65536)
            d.proc.send_signal(signal.SIGTERM)
            time.sleep(0.2)
            data = buf + read_to_close(s)
            head, body = data.split(b"\r\n\r\n", 1)
            assert body[:20000000] == fs.data["f20000000.bin"], len(body)
            assert d.proc.wait(timeout=15) == 0
        finally:
            d.stop()


# ---- chunked trailers (demo) ----
@test
def test_trailer_with_h11():
    import h11
    with Demo(workers=1) as d:
        s = socket.create_connection(d.addr(), timeout=10)
        conn = h11.Connection(h11.CLIENT)
        s.sendall(conn.send(h11.Request(method="GET", target="/bytes/200000?chunked=1",
                                        headers=[("Host", "t"), ("TE", "trailers")])))
        s.sendall(conn.send(h11.EndOfMessage()))
        body, trailers, resp = b"", None, None
        while trailers is None:
            ev = conn.next_event()
            if ev is h11.NEED_DATA:
                conn.receive_data(s.recv(65536))
            elif isinstance(ev, h11.Response):
                resp = ev
            elif isinstance(ev, h11.Data):
                body += ev.data
            elif isinstance(ev, h11.EndOfMessage):
                trailers = dict(ev.headers)
        hdrs = dict(resp.headers)
        assert hdrs[b"transfer-encoding"] == b"chunked" and hdrs[b"trailer"] == b"X-Crc32"
        assert len(body) == 200000
        assert trailers[b"x-crc32"] == b"%08x" % zlib.crc32(body), trailers
        # keep-alive goes on after the trailer section
        conn.start_next_cycle()
        s.sendall(conn.send(h11.Request(method="GET", target="/", headers=[("Host", "t")])))
        s.sendall(conn.send(h11.EndOfMessage()))
        got = b""
        while True:
            ev = conn.next_event()
            if ev is h11.NEED_DATA:
                conn.receive_data(s.recv(65536))
            elif isinstance(ev, h11.Data):
                got += ev.data
            elif isinstance(ev, h11.EndOfMessage):
                break
        assert got == b"Hello, World!"


@test
def test_trailer_curl_raw_and_http10():
    with Demo(workers=1) as d:
        url = "http://%s:%d/bytes/1000?chunked=1" % d.addr()
        raw = subprocess.run(["curl", "-s", "--raw", url], capture_output=True, timeout=10).stdout
        assert raw.endswith(b"\r\n0\r\nX-Crc32: %08x\r\n\r\n" % zlib.crc32(b"x" + b"\0" * 999)), raw[-60:]
        # HTTP/1.0 cannot carry trailers: the body is close-delimited, no trailer
        s = socket.create_connection(d.addr(), timeout=10)
        s.sendall(b"GET /bytes/1000?chunked=1 HTTP/1.0\r\n\r\n")
        head, body = read_to_close(s).split(b"\r\n\r\n", 1)
        assert b"chunked" not in head.lower() and body == b"x" + b"\0" * 999
        # HEAD: the head only
        s = socket.create_connection(d.addr(), timeout=10)
        s.sendall(b"HEAD /bytes/1000?chunked=1 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        data = read_to_close(s)
        assert data.endswith(b"\r\n\r\n") and b"Transfer-Encoding: chunked" in data


# ---- the SSE clock example ----
@test
def test_sse_clock():
    with Demo(workers=1, binary=os.path.join(ROOT, BUILD, "sse_clock-asan")) as d:
        c = http.client.HTTPConnection(*d.addr(), timeout=5)
        c.request("GET", "/")
        assert b"EventSource('/clock')" in c.getresponse().read()
        c.request("GET", "/clock?ticks=2")
        r = c.getresponse()
        assert r.getheader("Content-Type") == "text/event-stream"
        t0 = time.time()
        text = r.read().decode()                # ends after two ticks
        assert 0.8 < time.time() - t0 < 5, time.time() - t0
        events = [e for e in text.split("\n\n") if "event: time" in e]
        assert len(events) == 2, text
        ids = [int(l[4:]) for e in events for l in e.split("\n") if l.startswith("id: ")]
        assert len(ids) == 2 and abs(ids[0] - time.time()) < 10 and ids[1] >= ids[0]
        assert text.startswith(": clock\n\n")


sys.exit(run_all())
