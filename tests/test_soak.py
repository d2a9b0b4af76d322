#!/usr/bin/python3
"""tests/test_soak.py - the worker under mixed, hostile load, against the demo with its
default options: /health must keep answering within a second throughout, the server must
stop cleanly on SIGTERM afterwards, and (under the ASan build) nothing is reported.

test_streams_closing_while_queued is the regression test for a remote hang of every
worker: streamed responses to Connection: close requests (which queue themselves again
from their writable callback and close in the same drive) mixed with answers from timers
on fresh connections once made the worker's run queue lose connections or loop for ever."""
import os, socket, sys, threading, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pyharness import Demo, test, run_all  # noqa: E402


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


if __name__ == "__main__":
    sys.exit(run_all())
