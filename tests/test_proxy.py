"""Rolling restart behind a real reverse proxy: HAProxy (Debian package) in front of two
build/demo instances, health-checked on /ready. While a client drives requests through
HAProxy, one instance gets SIGTERM (readiness flips to 503 at once, it keeps accepting for
the drain delay, finishes what it has, exits) and is started again on the same port; then
the other. Zero requests may fail. Loopback only; HAProxy and the demos are ended by PID."""
import os, shutil, signal, socket, subprocess, sys, tempfile, threading, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pyharness import Demo, test, run_all, parse_responses, read_to_close, free_port

HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"


CFG = """
global
    maxconn 2000
defaults
    mode http
    timeout connect 2s
    timeout client 10s
    timeout server 10s
    option http-server-close
    retries 0
frontend fe
    bind 127.0.0.1:{fe}
    default_backend be
backend be
    balance roundrobin
    option httpchk GET /ready
    http-check expect status 200
    default-server inter 100ms fall 1 rise 2
    server a 127.0.0.1:{a} check
    server b 127.0.0.1:{b} check
"""


@test
def test_rolling_restart_behind_haproxy_loses_nothing():
    if not os.path.exists(HAPROXY):
        raise AssertionError("haproxy is not installed (.ci/run installs it)")
    args = ["--drain-delay", "0.6", "--shutdown-timeout", "5"]
    pa, pb, fe = free_port(), free_port(), free_port()
    demos = {"a": Demo(workers=1, args=args, port=pa).start(),
             "b": Demo(workers=1, args=args, port=pb).start()}
    tmp = tempfile.mkdtemp()
    cfg = os.path.join(tmp, "haproxy.cfg")
    with open(cfg, "w") as f:
        f.write(CFG.format(fe=fe, a=pa, b=pb))
    hp = subprocess.Popen([HAPROXY, "-f", cfg, "-db"], stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE)
    ok, failed, stop = [0], [], [False]
    try:
        deadline = time.time() + 5
        while time.time() < deadline:        # wait until both are up behind HAProxy
            try:
                s = socket.create_connection(("127.0.0.1", fe), timeout=1)
                s.sendall(b"GET /ready HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
                if s.recv(100).startswith(b"HTTP/1.1 200"):
                    s.close()
                    break
                s.close()
            except OSError:
                pass
            time.sleep(0.1)
        time.sleep(0.5)

        def client():
            while not stop[0]:
                try:
                    s = socket.create_connection(("127.0.0.1", fe), timeout=5)
                    s.sendall(b"GET /sleep/20 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
                    buf = read_to_close(s)
                    rs = parse_responses(buf)
                    if rs and rs[0][0] == 200:
                        ok[0] += 1
                    else:
                        failed.append(buf[:80])
                except (OSError, ValueError) as e:
                    failed.append(repr(e))
        th = [threading.Thread(target=client) for _ in range(8)]
        for t in th:
            t.start()
        time.sleep(0.5)
        for name, port in (("a", pa), ("b", pb)):
            rc = demos[name].stop(timeout=10)           # SIGTERM, drain, exit
            assert rc == 0
            demos[name] = Demo(workers=1, args=args, port=port).start()
            time.sleep(1.0)                              # health checks bring it back
        time.sleep(0.5)
        stop[0] = True
        for t in th:
            t.join(10)
        assert ok[0] > 200, ok[0]
        assert not failed, (len(failed), failed[:5])
    finally:
        stop[0] = True
        hp.send_signal(signal.SIGTERM)
        try:
            hp.wait(5)
        except subprocess.TimeoutExpired:
            hp.kill()
        for d in demos.values():
            if d.proc.poll() is None:
                d.stop(timeout=10)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(run_all())
