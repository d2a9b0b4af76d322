"""Streamed request bodies through build/demo: /upload computes a CRC-32 as the body
arrives (Content-Length and chunked, real clients: curl and raw sockets with random
splits), the cap is enforced before reading (Content-Length) and when crossed (chunked),
/upload-paced pauses the body (backpressure holds the client back), and an aborted upload
leaves the server clean (exit status and sanitizers checked by Demo)."""
import os, random, socket, subprocess, sys, tempfile, time, zlib
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pyharness import Demo, test, run_all, parse_responses, read_to_close


def expect(body):
    return ("bytes=%d crc32=%08x\n" % (len(body), zlib.crc32(body) & 0xffffffff)).encode()


def send_split(addr, head, body, chunked, rnd):
    s = socket.create_connection(addr, timeout=20)
    if chunked:
        parts, i = [], 0
        while i < len(body):
            n = rnd.randint(1, 70000)
            parts.append(b"%x;x=1\r\n" % len(body[i:i + n]) + body[i:i + n] + b"\r\n")
            i += n
        payload = head + b"".join(parts) + b"0\r\nT: v\r\n\r\n"
    else:
        payload = head + body
    i = 0
    while i < len(payload):                      # random write splits
        n = rnd.randint(1, 100000)
        s.sendall(payload[i:i + n])
        i += n
    return parse_responses(read_to_close(s))


@test
def test_upload_crc_both_framings_random_splits():
    rnd = random.Random(7)
    with Demo(workers=2) as d:
        for size in (0, 1, 65536, 3 * 1048576 + 17):
            body = os.urandom(size)
            for chunked in (False, True):
                hdr = b"Transfer-Encoding: chunked" if chunked else b"Content-Length: %d" % size
                head = b"POST /upload HTTP/1.1\r\nHost: t\r\nConnection: close\r\n%s\r\n\r\n" % hdr
                rs = send_split(d.addr(), head, body, chunked, rnd)
                assert rs[0][0] == 200 and rs[0][2] == expect(body), (size, chunked, rs[0][:2])


@test
def test_upload_with_curl():
    with Demo(workers=1) as d, tempfile.NamedTemporaryFile() as f:
        body = os.urandom(5 * 1048576)
        f.write(body)
        f.flush()
        url = "http://%s:%d/upload" % d.addr()
        out = subprocess.run(["curl", "-s", "--data-binary", "@" + f.name, url],
                             capture_output=True, timeout=30).stdout
        assert out == expect(body), out
        out = subprocess.run(["curl", "-s", "-H", "Transfer-Encoding: chunked",
                              "--data-binary", "@" + f.name, url],
                             capture_output=True, timeout=30).stdout
        assert out == expect(body), out


@test
def test_upload_cap():
    with Demo(workers=1) as d:
        s = socket.create_connection(d.addr(), timeout=5)   # 1 GiB + 1: refused before reading
        s.sendall(b"POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n"
                  b"Expect: 100-continue\r\n\r\n" % ((1 << 30) + 1))
        data = s.recv(4096)
        s.close()
        assert data.startswith(b"HTTP/1.1 413 ") and b"100 Continue" not in data, data[:100]


@test
def test_paced_upload_holds_client_back():
    with Demo(workers=1) as d:
        body = os.urandom(4 * 1048576)               # 16 pauses of 20 ms
        head = (b"POST /upload-paced HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
                b"Content-Length: %d\r\n\r\n" % len(body))
        t0 = time.time()
        rs = send_split(d.addr(), head, body, False, random.Random(1))
        took = time.time() - t0
        assert rs[0][2] == expect(body)
        assert took >= 0.25, took                    # the pauses reached the client


@test
def test_aborted_uploads_leave_server_clean():
    d = Demo(workers=1).start()
    for i in range(10):
        s = socket.create_connection(d.addr(), timeout=5)
        s.sendall(b"POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 10000000\r\n\r\n")
        s.sendall(os.urandom(100000 * (i + 1)))
        s.close()                                     # FIN right behind the data
    time.sleep(0.3)
    rs = send_split(d.addr(), b"POST /upload HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
                    b"Content-Length: 3\r\n\r\n", b"abc", False, random.Random(2))
    assert rs[0][2] == expect(b"abc")
    t0 = time.time()
    d.stop()                                          # every aborted upload was noticed:
    assert time.time() - t0 < 5, time.time() - t0     # nothing holds the graceful stop


def chunked_body(body, size=4096):
    return b"".join(b"%x\r\n" % len(body[i:i + size]) + body[i:i + size] + b"\r\n"
                    for i in range(0, len(body), size)) + b"0\r\n\r\n"


@test
def test_cap_and_cap_plus_one_both_framings():
    """At the cap: 200. One byte over: 413, with Content-Length before any body byte is
    read (no 100 Continue), chunked as the cap is crossed; and the connection closes, so a
    request pipelined behind the refused body is never answered (no desync)."""
    cap = 100000
    with Demo(workers=1, args=["--upload-cap", str(cap)]) as d:
        for chunked in (False, True):
            for n in (cap, cap + 1):
                body = os.urandom(n)
                hdr = b"Transfer-Encoding: chunked" if chunked else b"Content-Length: %d" % n
                head = b"POST /upload HTTP/1.1\r\nHost: t\r\n%s\r\n\r\n" % hdr
                payload = chunked_body(body) if chunked else body
                s = socket.create_connection(d.addr(), timeout=10)
                if not chunked and n > cap:          # refused on the head alone
                    s.sendall(head.replace(b"\r\n\r\n", b"\r\nExpect: 100-continue\r\n\r\n"))
                    first = s.recv(4096)
                    assert first.startswith(b"HTTP/1.1 413 "), first[:80]
                    assert b"100 Continue" not in first and b"Connection: close" in first
                    s.close()
                    continue
                smuggled = b"GET /health HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
                s.sendall(head + payload + smuggled)
                rs = parse_responses(read_to_close(s))
                if n == cap:
                    assert rs[0][0] == 200 and rs[0][2] == expect(body), (chunked, rs[0][:2])
                    assert len(rs) == 2 and rs[1][0] == 200     # keep-alive goes on
                else:
                    assert rs[0][0] == 413 and len(rs) == 1, (chunked, [r[0] for r in rs])
        deadline = time.time() + 3                              # the chunked cap+1 only
        while "upload failed after" not in d.stderr() and time.time() < deadline:
            time.sleep(0.05)
        assert d.stderr().count("upload failed after") == 1, d.stderr()
        assert "over limit" in d.stderr()


@test
def test_aborted_uploads_reach_the_handler():
    """Clients that close mid-body: each handler hears HTTPD_ERR_CLOSED (the demo logs it),
    and ASan (checked at exit) sees nothing leaked."""
    with Demo(workers=2) as d:
        for i in range(6):
            s = socket.create_connection(d.addr(), timeout=5)
            s.sendall(b"POST /upload HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                      if i % 2 else
                      b"POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 10000000\r\n\r\n")
            data = os.urandom(50000 * (i + 1))
            s.sendall(chunked_body(data)[:-5] if i % 2 else data)
            s.close()
        deadline = time.time() + 5
        while d.stderr().count("connection closed") < 6 and time.time() < deadline:
            time.sleep(0.05)
        assert d.stderr().count("upload failed after") == 6, d.stderr()
        assert d.stderr().count("connection closed") == 6


def rx_queue(port):
    """Bytes waiting in the receive queue of the server-side socket(s) on port (IPv4)."""
    total = 0
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            parts = line.split()
            local, st, queues = parts[1], parts[3], parts[4]
            if int(local.split(":")[1], 16) == port and st == "01":   # ESTABLISHED
                total += int(queues.split(":")[1], 16)
    return total


@test
def test_pause_seen_in_receive_queue():
    """While the handler has the body paused the server does not read: the bytes pile up in
    the server socket's receive queue (and the client's send blocks); on resume they drain
    and the upload completes intact."""
    import threading
    with Demo(workers=1) as d:
        body = os.urandom(16 * 1048576)
        head = (b"POST /upload-paced?hold=1500 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
                b"Content-Length: %d\r\n\r\n" % len(body))
        s = socket.create_connection(d.addr(), timeout=20)
        sent = []
        t = threading.Thread(target=lambda: (s.sendall(head + body), sent.append(time.time())))
        t0 = time.time()
        t.start()
        time.sleep(0.5)
        q1 = rx_queue(d.port)
        time.sleep(0.4)
        q2 = rx_queue(d.port)
        assert q1 > 10000 and q1 == q2, (q1, q2)       # full and not drained: paused
        assert not sent                                 # the client is held back
        t.join(20)
        rs = parse_responses(read_to_close(s))
        assert rs[0][2] == expect(body)
        assert sent[0] - t0 > 1.2, sent[0] - t0
        assert rx_queue(d.port) == 0




@test
def test_paced_upload_cut_while_paused_frees_its_state():
    """The body fails while /upload-paced has it paused behind its timer: the timer's
    callback is the one that hears it and frees the upload's state (LeakSanitizer at the
    demo's exit would report it otherwise)."""
    with Demo(workers=1) as d:
        for how in ("reset", "fin"):
            s = socket.create_connection(d.addr(), timeout=10)
            s.sendall(b"POST /upload-paced?hold=3000 HTTP/1.1\r\nHost: t\r\n"
                      b"Content-Length: 1048576\r\n\r\n" + b"p" * (300 * 1024))
            time.sleep(0.5)                            # paused behind its 3 s timer now
            if how == "reset":
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            else:
                s.shutdown(socket.SHUT_WR)             # the rest of the body never comes
            s.close()
        time.sleep(3.5)

# ---- examples/store.c: every piece written by the task pool, no copy ----
STORE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                     os.environ.get("BUILD", "build"), "store-asan")


def store_server(dirname, cap):
    return Demo(workers=2, binary=STORE, args=["--dir", dirname, "--max-bytes", str(cap)])


@test
def test_store_example_pieces_on_the_pool():
    """curl -T of a 20 MB file and a chunked upload land byte for byte; over the cap ->
    413 (before reading with a Content-Length, when crossed when chunked) and no file;
    an aborted upload leaves no file; nothing leaks (ASan build)."""
    rnd = random.Random(3)
    with tempfile.TemporaryDirectory() as dst, tempfile.TemporaryDirectory() as src, \
            store_server(dst, 8 << 20) as d:
        big = os.urandom(6 << 20)
        with open(os.path.join(src, "big.bin"), "wb") as f:
            f.write(big)
        out = subprocess.run(["curl", "-sS", "-T", os.path.join(src, "big.bin"),
                              "http://127.0.0.1:%d/store/big.bin" % d.port],
                             capture_output=True, timeout=60)
        assert b"stored %d bytes" % len(big) in out.stdout, out
        with open(os.path.join(dst, "big.bin"), "rb") as f:
            assert f.read() == big
        small = os.urandom(300000)
        rs = send_split(d.addr(), b"PUT /store/c.bin HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                        b"Connection: close\r\n\r\n", small, True, rnd)
        assert rs[0][0] == 201, rs
        with open(os.path.join(dst, "c.bin"), "rb") as f:
            assert f.read() == small
        # over the cap, both framings
        rs = send_split(d.addr(), b"PUT /store/x.bin HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n"
                        b"Connection: close\r\n\r\n" % (9 << 20), b"", False, rnd)
        assert rs[0][0] == 413, rs
        try:
            rs = send_split(d.addr(), b"PUT /store/y.bin HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                            b"\r\n", os.urandom(9 << 20), True, rnd)
            assert rs[0][0] == 413, rs
        except (ConnectionResetError, BrokenPipeError):
            pass                                   # the 413 came while we were still sending
        # an upload cut in the middle
        s = socket.create_connection(d.addr(), timeout=10)
        s.sendall(b"PUT /store/cut.bin HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n" + b"x" * 200000)
        time.sleep(0.3)
        s.close()
        time.sleep(0.5)
        left = sorted(os.listdir(dst))
        assert left == ["big.bin", "c.bin"], left  # no temporary or partial file

if __name__ == "__main__":
    sys.exit(run_all())
