"""The blocking-task pool through build/demo (issue: spawn_blocking, load shedding):
the event loop stays responsive under blocking load, a full pool fails fast with 503 +
Retry-After, a client leaving mid-task and a stop while tasks run are clean, /hash is
right. Loopback only; bounded waits."""
import hashlib, os, socket, sys, threading, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pyharness import Demo, test, run_all, parse_responses, read_to_close


def request(addr, raw, timeout=10):
    s = socket.create_connection(addr, timeout=timeout)
    s.sendall(raw)
    return parse_responses(read_to_close(s))


def get(addr, path, timeout=10):
    return request(addr, b"GET %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
                   % path.encode(), timeout)


@test
def test_loop_responsive_with_100_blocking_requests():
    with Demo(workers=1, args=["--task-threads", "100", "--task-queue", "200"]) as d:
        socks = []
        for _ in range(100):
            s = socket.create_connection(d.addr(), timeout=10)
            s.sendall(b"GET /block/200 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            socks.append(s)
        time.sleep(0.05)
        worst = 0
        for _ in range(5):
            t0 = time.time()
            rs = get(d.addr(), "/")
            worst = max(worst, time.time() - t0)
            assert rs[0][0] == 200
        # a loop held by the tasks would answer after their 200 ms (150 ms after the sleep
        # above) at the least; 50 ms was too tight beside other suites (0.051 s seen)
        assert worst < 0.1, worst
        ok = 0
        for s in socks:
            ok += parse_responses(read_to_close(s))[0][0] == 200
        assert ok == 100, ok


@test
def test_full_pool_fails_fast_with_retry_after():
    with Demo(workers=1, args=["--task-threads", "2", "--task-queue", "2"]) as d:
        results = []
        def one():
            t0 = time.time()
            rs = get(d.addr(), "/block/300")
            results.append((rs[0][0], rs[0][1].get("retry-after"), time.time() - t0))
        th = [threading.Thread(target=one) for _ in range(8)]
        for t in th:
            t.start()
        for t in th:
            t.join(10)
        busy = [r for r in results if r[0] == 503]
        ok = [r for r in results if r[0] == 200]
        assert len(ok) + len(busy) == 8, results
        assert len(ok) <= 4 and len(busy) >= 4, results
        assert all(r[1] == "1" for r in busy), busy
        assert all(r[2] < 0.2 for r in busy), busy          # at once, not queued


@test
def test_route_concurrency_limit():
    with Demo(workers=1, args=["--block-limit", "3"]) as d:
        results = []
        th = [threading.Thread(target=lambda: results.append(get(d.addr(), "/block/300")[0][0]))
              for _ in range(6)]
        for t in th:
            t.start()
        for t in th:
            t.join(10)
        assert sorted(results) == [200, 200, 200, 503, 503, 503], results
        assert get(d.addr(), "/block/10")[0][0] == 200        # the slots came back


@test
def test_client_leaves_mid_task_then_stop_is_clean():
    with Demo(workers=1, args=["--task-threads", "4"]) as d:
        for _ in range(8):
            s = socket.create_connection(d.addr(), timeout=5)
            s.sendall(b"GET /block/2000 HTTP/1.1\r\nHost: t\r\n\r\n")
            time.sleep(0.01)
            # gone (reset: a FIN alone is a half-close, which is answered): the task is
            # cancelled, done frees it
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            s.close()
        time.sleep(0.3)
        t0 = time.time()
        assert get(d.addr(), "/block/10")[0][0] == 200
        assert time.time() - t0 < 1.0       # the cancelled tasks freed the pool quickly
    # Demo.__exit__ stops it and checks exit status 0 and no sanitizer report


@test
def test_stop_while_tasks_run():
    d = Demo(workers=1, args=["--shutdown-timeout", "1"]).start()
    socks = []
    for _ in range(4):
        s = socket.create_connection(d.addr(), timeout=5)
        s.sendall(b"GET /block/10000 HTTP/1.1\r\nHost: t\r\n\r\n")
        socks.append(s)
    time.sleep(0.2)
    t0 = time.time()
    d.stop()                                # SIGTERM: graceful, then forced after 1 s
    took = time.time() - t0
    for s in socks:
        s.close()
    assert took < 4, took


@test
def test_hash_on_the_pool():
    with Demo(workers=2) as d:
        for size in (0, 3, 64, 1000, 1 << 20):
            body = os.urandom(size)
            rs = request(d.addr(), b"POST /hash HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
                         b"Content-Length: %d\r\n\r\n" % size + body)
            assert rs[0][0] == 200
            assert rs[0][2].strip().decode() == hashlib.sha256(body).hexdigest(), size


if __name__ == "__main__":
    sys.exit(run_all())
