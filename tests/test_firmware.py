"""Firmware builds under load: tests/fw_server.c (counting HTTPD_MALLOC hooks, 1 worker,
max_connections 4, 2 KiB heads) built with the default features, with HTTPD_MINIMAL and
(when it exists) HTTPD_NO_THREADS. With --prealloc (desc.preallocate) every response must
be right and the allocation counter must stay at ZERO after httpd_start through about
2,000 requests: keep-alive, connection per request, pipelined bursts, request bodies,
overload past max_connections (the listener is left alone while the slots are full, the
kernel's backlog holds the rest), refused oversized bodies. The binaries are
$BUILD/fw_server-asan, fw_server-min (HTTPD_MINIMAL), fw_server-nothreads (HTTPD_NO_THREADS,
no -lpthread) and fw_server-tiny (both), all with ASan+UBSan, and fw_server-tsan
(ThreadSanitizer, for the preallocated tasks)."""
import os, re, signal, socket, struct, subprocess, sys, threading, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pyharness import test, run_all, parse_responses, SAN_PATTERNS, ROOT
from wsraw import Raw, frame, close_payload

BUILD = os.path.join(ROOT, os.environ.get("BUILD", "build"))
VARIANTS = [v for v in ("fw_server-asan", "fw_server-min", "fw_server-nothreads",
                        "fw_server-tiny")
            if os.path.exists(os.path.join(BUILD, v))]


class Fw:
    def __init__(self, binary, args=()):
        self.cmd = [os.path.join(BUILD, binary)] + list(args)
        self.name = binary

    def __enter__(self):
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)
        self.err = []
        threading.Thread(target=lambda: self.err.extend(self.proc.stderr), daemon=True).start()
        head = self.proc.stdout.readline()
        m = re.match(r"heap (\d+) bytes in (\d+) allocations at start", head)
        assert m, (self.name, head, self.err)
        self.heap = int(m.group(1))
        self.port = int(self.proc.stdout.readline().split()[1])
        self.addr = ("127.0.0.1", self.port)
        return self

    def stop(self):
        """SIGTERM (graceful stop); the allocation count after start the server printed."""
        self.proc.send_signal(signal.SIGTERM)
        out, _ = self.proc.communicate(timeout=20)
        assert self.proc.returncode == 0, (self.name, self.proc.returncode, self.err[-20:])
        bad = [l for l in self.err if SAN_PATTERNS.search(l)]
        assert not bad, bad
        m = re.search(r"after start: (\d+) allocations", out)
        assert m, out
        return int(m.group(1))

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def recv_responses(s, n, timeout=10.0):
    """Reads until n whole responses arrived; returns them parsed."""
    s.settimeout(timeout)
    data, end = b"", time.time() + timeout
    while time.time() < end:
        try:
            got = parse_responses(data)
            if len(got) >= n:
                return got
        except ValueError:
            pass
        b = s.recv(65536)
        if not b:
            break
        data += b
    return parse_responses(data)


def in_threads(n, fn, timeout=60):
    """fn(k) for k in 0..n-1, each on its own thread; raises with the first errors."""
    errs = []
    def run(k):
        try:
            fn(k)
        except Exception as e:          # noqa: BLE001 - reported below
            errs.append(repr(e))
    ts = [threading.Thread(target=run, args=(k,)) for k in range(n)]
    [t.start() for t in ts]
    [t.join(timeout) for t in ts]
    assert not errs, errs[:3]


def get_on(s, path):
    """One keep-alive GET on socket s -> (status, body)."""
    s.sendall(b"GET %s HTTP/1.1\r\nHost: fw\r\n\r\n" % path.encode())
    (st, _, body), = recv_responses(s, 1)
    return st, body


def get_close(addr, path):
    s = socket.create_connection(addr, timeout=10)
    s.sendall(b"GET %s HTTP/1.1\r\nHost: fw\r\nConnection: close\r\n\r\n" % path.encode())
    r = recv_responses(s, 1)
    s.close()
    return r[0]


def stats(addr):
    st, _, body = get_close(addr, "/stats")
    assert st == 200
    return dict(zip(body.split()[0::2], map(int, body.split()[1::2])))


def load(fw, prealloc):
    """About 2,000 requests of every kind; every answer checked."""
    addr, count = fw.addr, 0
    # keep-alive: 4 clients x 100 requests
    def keepalive(k):
        s = socket.create_connection(addr, timeout=10)
        for i in range(100):
            s.sendall(b"GET /echo/k%d-%d HTTP/1.1\r\nHost: fw\r\n\r\n" % (k, i))
            (st, h, body), = recv_responses(s, 1)
            assert st == 200 and body == b"k%d-%d" % (k, i), (st, body)
        s.close()
    in_threads(4, keepalive)
    count += 400
    # pipelined bursts: 10 x 50 requests in one write each, answered in order
    for b in range(10):
        s = socket.create_connection(addr, timeout=10)
        s.sendall(b"".join(b"GET /echo/p%d-%d HTTP/1.1\r\nHost: fw\r\n\r\n" % (b, i)
                           for i in range(50)))
        rs = recv_responses(s, 50)
        assert [r[2] for r in rs] == [b"p%d-%d" % (b, i) for i in range(50)], rs[:3]
        assert all(r[0] == 200 for r in rs)
        s.close()
    count += 500
    # request bodies: in place (fits the input block) and, preallocated, too big -> 413
    s = socket.create_connection(addr, timeout=10)
    for i in range(100):
        body = bytes((j * 7 + i) & 255 for j in range(50 + i * 13))
        s.sendall(b"POST /sum HTTP/1.1\r\nHost: fw\r\nContent-Length: %d\r\n\r\n" % len(body)
                  + body)
        (st, _, got), = recv_responses(s, 1)
        assert st == 200 and got == b"%d %d" % (len(body), sum(body)), (i, st, got)
    s.close()
    count += 100
    big = b"x" * 3500
    s = socket.create_connection(addr, timeout=10)
    s.sendall(b"POST /sum HTTP/1.1\r\nHost: fw\r\nContent-Length: 3500\r\n\r\n" + big)
    (st, _, got), = recv_responses(s, 1)
    s.close()
    assert st == (413 if prealloc else 200), st
    count += 1
    # overload: 16 clients at once against 4 slots, connection per request, 50 each
    def per_request(k):
        for i in range(50):
            st, _, body = get_close(addr, "/echo/o%d-%d" % (k, i))
            assert st == 200 and body == b"o%d-%d" % (k, i), (st, body)
    in_threads(16, per_request, 120)
    count += 800
    # held slots: 4 idle connections fill the server; a 5th waits (not accepted), and is
    # served as soon as one of them leaves
    held = [socket.create_connection(addr, timeout=10) for _ in range(4)]
    for h in held:
        h.sendall(b"GET / HTTP/1.1\r\nHost: fw\r\n\r\n")
        (st, _, body), = recv_responses(h, 1)
        assert st == 200 and body == b"hello"
    fifth = socket.create_connection(addr, timeout=10)
    fifth.sendall(b"GET /echo/fifth HTTP/1.1\r\nHost: fw\r\nConnection: close\r\n\r\n")
    fifth.settimeout(0.5)
    try:
        early = fifth.recv(100)
    except socket.timeout:
        early = None
    assert early is None, early
    held.pop().close()
    (st, _, body), = recv_responses(fifth, 1)
    assert st == 200 and body == b"fifth"
    fifth.close()
    [h.close() for h in held]
    count += 5
    return count


def check_variant(binary, prealloc):
    with Fw(binary, ["--prealloc"] if prealloc else []) as fw:
        n = load(fw, prealloc)
        assert n >= 1800
        st = stats(fw.addr)
        after = fw.stop()
        print("   %s%s: heap %d B at start, %d requests, %d allocations after start"
              % (binary, " --prealloc" if prealloc else "", fw.heap, n, after), flush=True)
        if prealloc:
            assert st[b"allocs"] == 0, st
            assert after == 0, after


@test
def preallocated_no_allocation_after_start():
    for v in VARIANTS:
        check_variant(v, True)


@test
def default_mode_serves_the_same_load():
    check_variant(VARIANTS[0], False)


@test
def heap_at_start_small():
    """A 4-connection server: no slot, buffer or request before the first client."""
    for v in VARIANTS:
        with Fw(v) as fw:
            assert fw.heap <= 16 * 1024, (v, fw.heap)
            fw.stop()


@test
def minimal_build_refuses_operations():
    """HTTPD_MINIMAL (no middleware, no streaming, no load shedding): a desc asking for
    operations, a stream_body route or max_inflight fails with INVAL; a preallocated server
    refuses metrics."""
    if "fw_server-min" not in VARIANTS:
        return
    p = subprocess.run([os.path.join(BUILD, "fw_server-min"), "--request-id", "--no-serve"],
                       capture_output=True, text=True, timeout=20)
    assert p.returncode == 1 and "invalid argument" in p.stderr, (p.returncode, p.stderr)
    p = subprocess.run([os.path.join(BUILD, "fw_server-asan"), "--prealloc", "--metrics",
                        "--no-serve"], capture_output=True, text=True, timeout=20)
    assert p.returncode == 1 and "invalid argument" in p.stderr, (p.returncode, p.stderr)
    p = subprocess.run([os.path.join(BUILD, "fw_server-min"), "--stream-route", "--no-serve"],
                       capture_output=True, text=True, timeout=20)
    # HTTPD_MINIMAL logs codes, not messages (HTTPD_NO_LOG_MESSAGES): -2 is INVAL
    assert p.returncode == 1 and "httpd: error: (code -2)" in p.stderr, (p.returncode, p.stderr)
    p = subprocess.run([os.path.join(BUILD, "fw_server-asan"), "--stream-route", "--no-serve"],
                       capture_output=True, text=True, timeout=20)
    assert p.returncode == 0, (p.returncode, p.stderr)             # with streaming: fine
    # load shedding is left out too (HTTPD_NO_SHED): max_connections is the cap
    p = subprocess.run([os.path.join(BUILD, "fw_server-min"), "--max-inflight", "2",
                        "--no-serve"], capture_output=True, text=True, timeout=20)
    assert p.returncode == 1 and "httpd: error: (code -2)" in p.stderr, (p.returncode, p.stderr)
    p = subprocess.run([os.path.join(BUILD, "fw_server-asan"), "--max-inflight", "2",
                        "--no-serve"], capture_output=True, text=True, timeout=20)
    assert p.returncode == 0, (p.returncode, p.stderr)


@test
def blocking_tasks_and_signals():
    """httpd_defer in every build (HTTPD_NO_THREADS: run on the loop between turns, 100
    of them on 4 keep-alive connections at once), then SIGINT: a graceful stop, exit 0."""
    for v in VARIANTS:
        tasks = v in ("fw_server-asan", "fw_server-nothreads")      # not HTTPD_MINIMAL
        with Fw(v) as fw:
            def client(k):
                s = socket.create_connection(fw.addr, timeout=10)
                for _ in range(25):
                    st, body = get_on(s, "/task")
                    if tasks:
                        assert st == 200 and body == b"task 500500", (v, st, body)
                    else:
                        assert st == 404, (v, st)       # HTTPD_NO_TASKS: no such route
                s.close()
            in_threads(4, client)
            idle = socket.create_connection(fw.addr, timeout=10)   # closed by the stop
            idle.sendall(b"GET / HTTP/1.1\r\nHost: fw\r\n\r\n")
            recv_responses(idle, 1)
            fw.proc.send_signal(signal.SIGINT)
            out, _ = fw.proc.communicate(timeout=20)
            assert fw.proc.returncode == 0 and "after start:" in out, (v, fw.proc.returncode,
                                                                        fw.err[-10:])
            idle.settimeout(5)
            assert idle.recv(100) == b""                 # the idle connection was closed
            idle.close()


@test
def preallocated_tasks_websockets_and_rate_limits():
    """desc.preallocate with what a firmware may keep besides HTTP: blocking tasks (their
    objects made at start), WebSockets (a handle per slot made at start; a fragmented
    message is assembled in a block of the worker's pool, so one block is its cap: longer
    closes 1009) and a rate limit (its table made at start). Still zero allocations after
    start. HTTPD_NO_THREADS too (its tasks run on the loop), and under ThreadSanitizer
    (task objects come back from the pool's threads)."""
    for v in ("fw_server-asan", "fw_server-nothreads", "fw_server-tsan"):
        if not os.path.exists(os.path.join(BUILD, v)):
            continue
        with Fw(v, ["--prealloc", "--rate-limit"]) as fw:
            def client(k):
                s = socket.create_connection(fw.addr, timeout=10)
                for _ in range(25):
                    assert get_on(s, "/task") == (200, b"task 500500"), v
                s.close()
            in_threads(4, client)
            for rnd in range(3):                       # every slot a WebSocket, 3 times
                socks = [Raw(fw.addr, "/ws") for _ in range(4)]
                for k, w in enumerate(socks):
                    for i in range(20):
                        msg = b"m%d-%d-%d" % (rnd, k, i)
                        w.send(frame(1, msg))
                        assert w.recv_message() == (1, msg)
                    w.send(frame(1, b"ab", fin=False) + frame(0, b"cd", fin=False)
                           + frame(0, b"ef"))
                    assert w.recv_message() == (1, b"abcdef")
                    big = bytes(range(256)) * 6                     # 1,536 B in 3 frames
                    w.send(frame(2, big[:512], fin=False) + frame(0, big[512:1024], fin=False)
                           + frame(0, big[1024:]))
                    assert w.recv_message() == (2, big)
                over = socks.pop()                 # past one block (3 KiB here): 1009
                over.send(frame(2, b"x" * 2000, fin=False) + frame(0, b"y" * 2000))
                over.expect_close([1009])
                over.close()
                for w in socks:
                    w.send(frame(8, close_payload(1000)))
                    w.expect_close([1000])
                    w.close()
            s = socket.create_connection(fw.addr, timeout=10)
            assert [get_on(s, "/limited")[0] for _ in range(3)] == [200, 200, 429]
            s.close()
            st = stats(fw.addr)
            after = fw.stop()
            print("   %s --prealloc: tasks, WebSockets, rate limit: %d allocations after start"
                  % (v, after), flush=True)
            assert st[b"allocs"] == 0 and after == 0, (v, st, after)


@test
def preallocated_many_connections():
    """48 connections at once on a 48-connection preallocated server (past the poll
    backend's first 16 entries: its arrays are made at start too), 10 requests each."""
    for v in VARIANTS:
        with Fw(v, ["--prealloc", "--conns", "48"]) as fw:
            socks = [socket.create_connection(fw.addr, timeout=10) for _ in range(48)]
            for i in range(10):
                for k, s in enumerate(socks):
                    s.sendall(b"GET /echo/c%d-%d HTTP/1.1\r\nHost: fw\r\n\r\n" % (k, i))
                for k, s in enumerate(socks):
                    (st, _, body), = recv_responses(s, 1)
                    assert (st, body) == (200, b"c%d-%d" % (k, i)), (v, k, i, st, body)
            [s.close() for s in socks]
            st = stats(fw.addr)
            assert fw.stop() == 0 and st[b"allocs"] == 0, (v, st)


@test
def preallocated_requests_run_out_503():
    """4 slots, 5 requests made at start: four clients leave while slow tasks hold their
    requests, a fifth request (the spare) waits on its own slow task, and the next request
    finds none free: 503 at once, nothing allocated. Once the tasks end, it serves again."""
    if "fw_server-asan" not in VARIANTS:
        return
    with Fw("fw_server-asan", ["--prealloc"]) as fw:
        slow = b"GET /slow HTTP/1.1\r\nHost: fw\r\n\r\n"
        gone = [socket.create_connection(fw.addr, timeout=10) for _ in range(4)]
        [g.sendall(slow) for g in gone]
        time.sleep(0.3)                       # their tasks are running
        for g in gone:                        # gone: a reset (a FIN alone is a half-close)
            g.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            g.close()
        time.sleep(0.2)                       # the server saw them leave: orphans
        fifth = socket.create_connection(fw.addr, timeout=10)
        fifth.sendall(slow)
        time.sleep(0.2)
        t0 = time.time()
        st, _, body = get_close(fw.addr, "/")
        assert st == 503 and time.time() - t0 < 0.5, (st, body)
        (st, _, body), = recv_responses(fifth, 1)
        assert (st, body) == (200, b"slow"), (st, body)
        fifth.close()
        time.sleep(0.2)                       # the orphans' tasks ended too
        assert get_close(fw.addr, "/")[:3:2] == (200, b"hello")
        st = stats(fw.addr)
        assert fw.stop() == 0 and st[b"allocs"] == 0, st


@test
def timeouts_in_every_build():
    """The timer wheel in each build (HTTPD_MINIMAL: 16 slots a level): a head that stops
    coming gets 408 after the header timeout, an idle keep-alive connection is closed
    after its timeout, and an active one is not."""
    for v in VARIANTS:
        with Fw(v, ["--timeout-ms", "400"]) as fw:
            slow = socket.create_connection(fw.addr, timeout=10)
            slow.sendall(b"GET / HTTP/1.1\r\nHost: fw\r\n")          # never finished
            idle = socket.create_connection(fw.addr, timeout=10)
            assert get_on(idle, "/") == (200, b"hello")
            busy = socket.create_connection(fw.addr, timeout=10)
            t0 = time.time()
            for _ in range(8):                           # 0.8 s of requests 0.1 s apart
                assert get_on(busy, "/") == (200, b"hello")
                time.sleep(0.1)
            st, _, _ = recv_responses(slow, 1)[0]
            assert st == 408, (v, st)
            idle.settimeout(5)
            assert idle.recv(100) == b"", v               # closed, no bytes
            assert time.time() - t0 < 5, v
            assert get_on(busy, "/") == (200, b"hello"), v
            [c.close() for c in (slow, idle, busy)]
            fw.stop()


@test
def numeric_addresses_without_a_resolver():
    """HTTPD_NO_GETADDRINFO (in HTTPD_MINIMAL): "localhost" is 127.0.0.1, numeric IPv4 and
    IPv6 bind, a name fails httpd_start with a message saying why."""
    if "fw_server-min" not in VARIANTS:
        return
    for addr, host in (("localhost", "127.0.0.1"), ("127.0.0.1", "127.0.0.1"), ("::1", "::1")):
        with Fw("fw_server-min", ["--addr", addr]) as fw:
            fam = socket.AF_INET6 if ":" in host else socket.AF_INET
            s = socket.socket(fam, socket.SOCK_STREAM)
            s.settimeout(10)
            s.connect((host, fw.port))
            assert get_on(s, "/") == (200, b"hello"), addr
            s.close()
            fw.stop()
    p = subprocess.run([os.path.join(BUILD, "fw_server-min"), "--addr", "example.com",
                        "--no-serve"], capture_output=True, text=True, timeout=20)
    assert p.returncode == 1 and "httpd: error: (code -7)" in p.stderr, (p.returncode, p.stderr)  # ADDR


if __name__ == "__main__":
    if not VARIANTS:
        print("no fw_server build in %s" % BUILD)
        print("0 passed, 1 failed")
        sys.exit(1)
    sys.exit(run_all())
