"""examples/notes_api.c (build/notes_api-asan, or $NOTES): JSON REST on SQLite behind the
task pool. CRUD with curl; Python threads under concurrent load (every answer a success,
the final count adds up); a deliberately slow query that must not delay the other routes;
a saturated pool that answers 503 + Retry-After at once instead of queueing; a client
that leaves releases its connection; the pool gauges in /metrics (promtool-clean)."""
import json, os, shutil, socket, subprocess, sys, tempfile, threading, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pyharness import Demo, test, run_all, parse_responses, ROOT

BUILD = os.environ.get("BUILD", "build")
NOTES = os.environ.get("NOTES", os.path.join(ROOT, BUILD, "notes_api-asan"))
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"


class Notes(Demo):
    def __init__(self, extra=(), workers=2):
        self.tmp = tempfile.mkdtemp(prefix="test_notes-")
        super().__init__(workers=workers, binary=NOTES,
                         args=["--db", os.path.join(self.tmp, "notes.db")] + list(extra))

    def __exit__(self, et, ev, tb):
        try:
            return super().__exit__(et, ev, tb)
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)


def call(d, method, path, body=None, timeout=15):
    """-> (status, headers, parsed JSON or None, seconds)"""
    data = json.dumps(body).encode() if isinstance(body, dict) else (body or b"")
    head = "%s %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n" % (method, path)
    if data or method in ("POST", "PUT"):
        head += "Content-Type: application/json\r\nContent-Length: %d\r\n" % len(data)
    t0 = time.time()
    s = socket.create_connection(d.addr(), timeout=timeout)
    try:
        s.sendall(head.encode() + b"\r\n" + data)
        buf = b""
        while True:
            b = s.recv(65536)
            if not b:
                break
            buf += b
    finally:
        s.close()
    rs = parse_responses(buf)
    assert rs, "no answer to %s %s" % (method, path)
    st, h, b = rs[0]
    assert not b or h.get("content-type") == "application/json", (h, b)   # errors too
    return st, h, (json.loads(b) if b else None), time.time() - t0


def curl(*args):
    r = subprocess.run(["curl", "-s", "-w", "\n%{http_code}"] + list(args), capture_output=True,
                       timeout=30)
    out = r.stdout.decode()
    body, _, code = out.rpartition("\n")
    return int(code), body


def metrics(d):
    st, h, _, _ = call(d, "GET", "/health")
    s = socket.create_connection(d.addr(), timeout=5)
    s.sendall(b"GET /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    buf = b""
    while True:
        b = s.recv(65536)
        if not b:
            break
        buf += b
    s.close()
    body = parse_responses(buf)[0][2]
    vals = {}
    for line in body.decode().splitlines():
        if line and not line.startswith("#"):
            k, v = line.rsplit(" ", 1)
            vals[k] = float(v)
    return vals, body


@test
def test_crud_with_curl():
    with Notes() as d:
        code, body = curl("-X", "POST", "-H", "Content-Type: application/json",
                          "--data-binary", '{"title": "caf\\u00e9 \\ud83d\\ude00", "body": "a\\nb \\"q\\""}',
                          d.url("/notes"))
        assert code == 201, (code, body)
        note = json.loads(body)
        assert note == {"id": 1, "title": "caf\u00e9 \U0001F600", "body": 'a\nb "q"'}, note
        assert json.loads(curl(d.url("/notes/1"))[1]) == note
        code, body = curl("-X", "PUT", "--data-binary", '{"title":"second","body":""}', d.url("/notes/1"))
        assert code == 200 and json.loads(body)["title"] == "second"
        curl("-X", "POST", "--data-binary", '{"title":"other"}', d.url("/notes"))
        code, body = curl(d.url("/notes?limit=10"))
        assert code == 200 and [n["title"] for n in json.loads(body)] == ["second", "other"]
        assert curl("-X", "DELETE", d.url("/notes/1"))[0] == 204
        assert curl(d.url("/notes/1"))[0] == 404
        assert curl("-X", "DELETE", d.url("/notes/1"))[0] == 404
        for bad in ('{"title": 1}', '{"title": ""}', '{"body": "x"}', '{"title":"a"} x', "[",
                    '{"title":"\\ud800"}', '{"title":"a\u0001"}'):
            code, body = curl("-X", "POST", "--data-binary", bad, d.url("/notes"))
            assert code == 400, (bad, code, body)
        assert curl(d.url("/notes/abc"))[0] == 400
        code, body = curl(d.url("/nothing"))
        assert code == 404 and json.loads(body)["error"] == "Not Found", body
        assert curl(d.url("/notes?limit=0"))[0] == 400
        code, body = curl("-i", d.url("/notes/2"))
        assert "X-Request-Id: " in body, body


@test
def test_concurrent_load_all_succeed():
    with Notes() as d:
        errors, created, deleted = [], [], []

        def client(k):
            try:
                for i in range(25):
                    st, h, note, _ = call(d, "POST", "/notes", {"title": "t%d-%d" % (k, i), "body": "x" * 100})
                    if st != 201:
                        errors.append(("post", st))
                        continue
                    created.append(note["id"])
                    st, h, got, _ = call(d, "GET", "/notes/%d" % note["id"])
                    if st != 200 or got != note:
                        errors.append(("get", st, got, note))
                    st, h, lst, _ = call(d, "GET", "/notes?limit=5")
                    if st != 200 or not isinstance(lst, list):
                        errors.append(("list", st))
                    if i % 5 == 0:
                        st, _, _, _ = call(d, "DELETE", "/notes/%d" % note["id"])
                        if st != 204:
                            errors.append(("delete", st))
                        deleted.append(note["id"])
            except Exception as e:                                   # noqa: BLE001
                errors.append(repr(e))
        th = [threading.Thread(target=client, args=(k,)) for k in range(8)]
        for t in th:
            t.start()
        for t in th:
            t.join(120)
        assert not errors, errors[:5]
        assert len(set(created)) == 200, (len(created), len(set(created)), errors[:3])
        st, _, lst, _ = call(d, "GET", "/notes?limit=1000")
        assert len(lst) == 200 - len(deleted) == 160, len(lst)
        vals, body = metrics(d)
        assert vals['notes_db_in_use{pool="read"}'] == 0 and vals['notes_db_in_use{pool="write"}'] == 0
        assert vals['notes_db_rejected_total{pool="read"}'] == 0
        r = subprocess.run([PROMTOOL, "check", "metrics"], input=body, capture_output=True, timeout=30)
        assert r.returncode == 0, (r.stdout + r.stderr).decode()[-2000:]


@test
def test_slow_query_does_not_delay_other_routes():
    with Notes() as d:
        call(d, "POST", "/notes", {"title": "one"})
        slow = []

        def run_slow():
            slow.append(call(d, "GET", "/slow?ms=2500"))
        th = [threading.Thread(target=run_slow) for _ in range(2)]
        for t in th:
            t.start()
        time.sleep(0.4)                                   # both hold a reader now
        vals, _ = metrics(d)
        assert vals['notes_db_in_use{pool="read"}'] == 2, vals
        # a third slow one: the route's own cap answers at once
        st, h, body, secs = call(d, "GET", "/slow?ms=2500")
        assert st == 503 and h.get("retry-after") == "1" and secs < 0.5, (st, h, secs)
        assert body["error"] == "Service Unavailable" and body["request_id"] == h["x-request-id"]
        worst = 0
        for i in range(10):                               # the rest keeps its pace
            for method, path, body in (("GET", "/notes/1", None), ("GET", "/notes", None),
                                       ("POST", "/notes", {"title": "n%d" % i}), ("GET", "/health", None)):
                st, _, _, secs = call(d, method, path, body)
                assert st in (200, 201), (path, st)
                worst = max(worst, secs)
        assert worst < 0.5, worst
        for t in th:
            t.join(10)
        assert [s[0] for s in slow] == [200, 200] and all(s[3] >= 2.4 for s in slow), slow


@test
def test_saturated_pool_fails_fast_with_retry_after():
    with Notes(["--readers", "1", "--read-queue", "1", "--slow-limit", "10"]) as d:
        th = [threading.Thread(target=call, args=(d, "GET", "/slow?ms=2000")) for _ in range(2)]
        for t in th:
            t.start()
        time.sleep(0.4)
        vals, _ = metrics(d)
        assert vals['notes_db_in_use{pool="read"}'] == 1 and vals['notes_db_waiting{pool="read"}'] == 1, vals
        for _ in range(5):                                # full: refused at once, not queued
            st, h, body, secs = call(d, "GET", "/notes")
            assert st == 503 and h["retry-after"] == "1" and secs < 0.5, (st, secs)
            assert body == {"error": "database busy"}
        st, _, _, secs = call(d, "POST", "/notes", {"title": "w"})   # the writer is free
        assert st == 201 and secs < 0.5, (st, secs)
        vals, _ = metrics(d)
        assert vals['notes_db_rejected_total{pool="read"}'] == 5
        for t in th:
            t.join(10)
        st, _, _, _ = call(d, "GET", "/notes")
        assert st == 200


@test
def test_client_gone_releases_its_connection():
    with Notes(["--readers", "1"]) as d:
        s = socket.create_connection(d.addr())
        s.sendall(b"GET /slow?ms=8000 HTTP/1.1\r\nHost: t\r\n\r\n")
        time.sleep(0.3)
        assert metrics(d)[0]['notes_db_in_use{pool="read"}'] == 1
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        s.close()                                         # a reset: the task is cancelled
        end = time.time() + 3
        while time.time() < end and metrics(d)[0]['notes_db_in_use{pool="read"}'] != 0:
            time.sleep(0.05)
        assert metrics(d)[0]['notes_db_in_use{pool="read"}'] == 0
        assert call(d, "GET", "/notes")[0] == 200


if __name__ == "__main__":
    sys.exit(run_all())
