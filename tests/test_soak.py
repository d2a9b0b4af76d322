#!/usr/bin/python3
"""tests/test_soak.py - the worker under mixed, hostile load, against the demo with its
default options: /health must keep answering within a second throughout, the server must
stop cleanly on SIGTERM afterwards, and (under the ASan build) nothing is reported.

test_streams_closing_while_queued is the regression test for a remote hang of every
worker: streamed responses to Connection: close requests (which queue themselves again
from their writable callback and close in the same drive) mixed with answers from timers
on fresh connections once made the worker's run queue lose connections or loop for ever."""
import os, random, socket, sys, threading, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pyharness import Demo, ROOT, test, run_all, parse_responses, read_to_close  # noqa: E402


def health_prober(addr, until, lat, failures):
    """GET /health every 100 ms on a fresh connection; record latency or failure."""
    while time.time() < until:
        t0 = time.time()
        try:
            s = socket.create_connection(addr, timeout=1.0)
            s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            data = b""
            while b"\r\n\r\n" not in data:
                b = s.recv(4096)
                if not b:
                    break
                data += b
            s.close()
            if not data.startswith(b"HTTP/1.1 200 "):
                failures.append(("bad answer", data[:60]))
            else:
                lat.append(time.time() - t0)
        except OSError as e:
            failures.append(("no answer", repr(e), time.time() - t0))
        time.sleep(0.1)


def close_loop(addr, path, until, counts):
    """GET path with Connection: close, read to the end, again and again."""
    while time.time() < until:
        try:
            s = socket.create_connection(addr, timeout=3.0)
            s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % path).encode())
            n = 0
            while True:
                b = s.recv(262144)
                if not b:
                    break
                n += len(b)
            s.close()
            counts[path] = counts.get(path, 0) + 1
        except OSError:
            counts["errors"] = counts.get("errors", 0) + 1


@test
def test_streams_closing_while_queued():
    for workers in (1, 2):
        with Demo(workers=workers) as d:
            until = time.time() + 6.0
            lat, failures, counts = [], [], {}
            threads = [threading.Thread(target=close_loop, args=(d.addr(), "/bytes/3000000", until, counts))
                       for _ in range(2)]
            threads += [threading.Thread(target=close_loop, args=(d.addr(), "/sleep/0", until, counts))
                        for _ in range(3)]
            threads.append(threading.Thread(target=health_prober, args=(d.addr(), until, lat, failures)))
            for t in threads:
                t.start()
            for t in threads:
                t.join(20)
            assert not failures, "health failed on %d workers: %r (counts %r)" % (workers, failures[:3], counts)
            assert lat and max(lat) < 1.0, "slow health: %.3f s" % max(lat)
            assert counts.get("/bytes/3000000", 0) >= 4 and counts.get("/sleep/0", 0) >= 20, counts
            t0 = time.time()
        # Demo.__exit__ sent SIGTERM and checked exit status 0 and sanitizer output
        assert time.time() - t0 < 15



# ---- the soak: every route and every connection behaviour at once ----
def _req(method, path, body=b"", extra=b"", close=False):
    h = b"%s %s HTTP/1.1\r\nHost: soak\r\n" % (method.encode(), path.encode())
    if body or method == "POST":
        h += b"Content-Length: %d\r\n" % len(body)
    if close:
        h += b"Connection: close\r\n"
    return h + extra + b"\r\n" + body


def _read_n_responses(s, n, deadline):
    """Reads until n complete responses (status, body) are parsed or the peer closes."""
    buf = b""
    while time.time() < deadline:
        try:
            rs = parse_responses(buf)
            if len(rs) >= n:
                return rs
        except (ValueError, IndexError):
            pass
        b = s.recv(65536)
        if not b:
            break
        buf += b
    return parse_responses(buf)


def _rst(s):
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    s.close()


def _behaviours(addr, rnd):
    def conn():
        return socket.create_connection(addr, timeout=10)

    def keepalive():
        s = conn()
        try:
            plan = [("GET", "/", b"", 200), ("GET", "/sleep/3", b"", 200),
                    ("GET", "/bytes/5000", b"", 200), ("POST", "/echo", b"x" * 3000, 200),
                    ("GET", "/block/3", b"", 200), ("POST", "/hash", b"abc", 200),
                    ("GET", "/nope", b"", 404), ("DELETE", "/", b"", 405)]
            for m, p, b, want in rnd.sample(plan, 5):
                s.sendall(_req(m, p, b))
                r = _read_n_responses(s, 1, time.time() + 10)
                assert r and r[0][0] in (want, 503), (p, r[:1])
        finally:
            s.close()

    def close_each():
        for p in ("/", "/sleep/1", "/bytes/100000", "/ready"):
            s = conn()
            s.sendall(_req("GET", p, close=True))
            read_to_close(s)

    def pipeline():
        s = conn()
        try:
            reqs = [_req("GET", "/"), _req("POST", "/echo", b"abc"), _req("GET", "/sleep/2"),
                    _req("GET", "/bytes/20000"), _req("GET", "/health"), _req("GET", "/block/2")]
            rnd.shuffle(reqs)
            s.sendall(b"".join(reqs))
            r = _read_n_responses(s, len(reqs), time.time() + 15)
            assert len(r) == len(reqs) and all(x[0] in (200, 503) for x in r), [x[0] for x in r]
        finally:
            s.close()

    def half_close():
        s = conn()
        s.sendall(_req("GET", rnd.choice(["/sleep/5", "/block/5", "/", "/bytes/50000"])))
        s.shutdown(socket.SHUT_WR)
        r = parse_responses(read_to_close(s))
        assert len(r) == 1 and r[0][0] in (200, 503), r[:1]

    def reset_mid_response():
        s = conn()
        s.sendall(_req("GET", "/bytes/3000000"))
        s.recv(rnd.randint(1, 100000))
        _rst(s)

    def partial_read_then_leave():
        s = conn()
        s.sendall(_req("GET", "/bytes/2000000"))
        s.recv(1000)
        time.sleep(rnd.random() * 0.3)
        s.close()

    def oversize():
        s = conn()
        try:
            if rnd.random() < 0.5:
                s.sendall(b"POST /echo HTTP/1.1\r\nHost: soak\r\nContent-Length: 2000000\r\n\r\n")
            else:
                s.sendall(b"POST /echo HTTP/1.1\r\nHost: soak\r\nTransfer-Encoding: chunked\r\n\r\n")
                for _ in range(20):
                    s.sendall(b"10000\r\n" + b"y" * 0x10000 + b"\r\n")
            r = parse_responses(read_to_close(s))
            assert r and r[0][0] == 413, r[:1]
        except (BrokenPipeError, ConnectionResetError):
            pass                                  # refused while still sending: fine
        finally:
            s.close()

    def chunked_upload():
        s = conn()
        body = os.urandom(rnd.randint(1, 300000))
        parts, i = [], 0
        while i < len(body):
            n = rnd.randint(1, 50000)
            parts.append(b"%x\r\n" % len(body[i:i + n]) + body[i:i + n] + b"\r\n")
            i += n
        path = rnd.choice(["/upload", "/upload-paced"])
        s.sendall(b"POST %s HTTP/1.1\r\nHost: soak\r\nTransfer-Encoding: chunked\r\n"
                  b"Connection: close\r\n\r\n" % path.encode() + b"".join(parts) + b"0\r\n\r\n")
        r = parse_responses(read_to_close(s))
        assert r and r[0][0] == 200 and b"bytes=%d " % len(body) in r[0][2], r[:1]

    def garbage():
        s = conn()
        junk = rnd.choice([os.urandom(200), b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n"
                           b"Transfer-Encoding: chunked\r\n\r\n", b"\x16\x03\x01\x02\x00",
                           b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\n\r\n"])
        try:
            s.sendall(junk)
            s.shutdown(socket.SHUT_WR)
            read_to_close(s)
        except (BrokenPipeError, ConnectionResetError):
            s.close()

    def sse_vanish():
        s = conn()
        s.sendall(_req("GET", "/events?every=20&count=1000"))
        got = b""
        while got.count(b"event: tick") < rnd.randint(1, 4):
            b = s.recv(4096)
            if not b:
                break
            got += b
        (_rst if rnd.random() < 0.5 else (lambda x: x.close()))(s)

    def never_then_leave():
        s = conn()
        s.sendall(_req("GET", "/never"))
        time.sleep(0.2)
        s.close()

    return [keepalive, close_each, pipeline, half_close, reset_mid_response,
            partial_read_then_leave, oversize, chunked_upload, garbage, sse_vanish,
            never_then_leave]


def soak(binary, seconds):
    with Demo(workers=2, binary=binary) as d:
        until = time.time() + seconds
        lat, failures, errors, counts = [], [], [], {}
        lock = threading.Lock()

        def client(seed):
            rnd = random.Random(seed)
            kinds = _behaviours(d.addr(), rnd)
            while time.time() < until:
                fn = rnd.choice(kinds)
                try:
                    fn()
                    with lock:
                        counts[fn.__name__] = counts.get(fn.__name__, 0) + 1
                except (AssertionError, ValueError) as e:
                    with lock:
                        errors.append((fn.__name__, repr(e)[:300]))
                except OSError:
                    pass                          # timeouts from our own abrupt behaviours

        ts = [threading.Thread(target=client, args=(i,)) for i in range(12)]
        ts.append(threading.Thread(target=health_prober, args=(d.addr(), until, lat, failures)))
        for t in ts:
            t.start()
        for t in ts:
            t.join(seconds + 60)
        assert not failures, failures[:5]
        assert lat and max(lat) < 1.0, max(lat)
        assert not errors, errors[:5]
        assert len(counts) == 11 and min(counts.values()) >= 3, counts
        print("  behaviours run: %s; health p100 %.3f s over %d probes" % (
            ", ".join("%s %d" % kv for kv in sorted(counts.items())), max(lat), len(lat)))
    # Demo.__exit__: SIGTERM, exit status 0, no sanitizer report


@test
def test_soak_asan():
    soak(os.path.join(ROOT, os.environ.get("BUILD", "build"), "demo-asan"), 45)


@test
def test_soak_plain():
    soak(os.path.join(ROOT, os.environ.get("BUILD", "build"), "demo"), 30)

if __name__ == "__main__":
    sys.exit(run_all())
