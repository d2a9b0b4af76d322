"""HTTPS and WSS against build/demo-tls-asan with real clients: curl --cacert, openssl
s_client (session resumption across workers, SNI, max fragment length, TLS 1.0 refused,
renegotiation refused), Python ssl + http.client (keep-alive, pipelining, streaming both
ways with backpressure, 100-continue, file bodies, close_notify on the keep-alive timeout
and on a graceful stop), Python websockets over wss://, and headless Chromium loading a
page, a fetch and a wss:// echo with the test CA trusted through an NSS database
(certutil; without it the test says so and uses --ignore-certificate-errors). Bad clients
(garbage, an SSLv3 hello, a stalled handshake, a truncated record, a record over the
maximum) are closed while a healthy connection next to them goes on.
Certificates: a CA, ECDSA P-256 and RSA-2048 leaves, made by tests/tls_certs.sh."""
import asyncio, json, os, re, shutil, signal, socket, ssl, struct, subprocess, sys, tempfile
import threading, time, urllib.request, zlib
import http.client
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pyharness import Demo, test, run_all, ROOT  # noqa: E402

TLS_DEMO = os.environ.get("TLS_DEMO", os.path.join(ROOT, os.environ.get("BUILD", "build"),
                                                   "demo-tls-asan"))
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CERTS = tempfile.mkdtemp(prefix="test_tls-")
subprocess.run([os.path.join(ROOT, "tests", "tls_certs.sh"), CERTS], check=True)
CA = os.path.join(CERTS, "ca.pem")


def c(name):
    return os.path.join(CERTS, name)


class TLSDemo(Demo):
    def __init__(self, workers=1, args=(), certs=(("ec-chain.pem", "ec.key", None),
                                                  ("rsa.pem", "rsa.key", "rsa.test"),
                                                  ("other.pem", "other.key",
                                                   "other.test *.wild.test"))):
        a = []
        for cert, key, names in certs:
            a += ["--tls-cert", c(cert), "--tls-key", c(key)]
            if names:
                a += ["--tls-names", names]
        a += ["--tls-port", "0"] + list(args)
        Demo.__init__(self, workers=workers, args=a, binary=TLS_DEMO)

    def url(self, path="/"):
        return "https://localhost:%d%s" % (self.tls_port, path)


def ctx(alpn=True):
    x = ssl.create_default_context(cafile=CA)
    if alpn:
        x.set_alpn_protocols(["http/1.1"])
    return x


def tls_sock(d, host="localhost", ragged=True, timeout=10):
    raw = socket.create_connection(("127.0.0.1", d.tls_port), timeout=timeout)
    return ctx().wrap_socket(raw, server_hostname=host, suppress_ragged_eofs=ragged)


def curl(*args, timeout=60):
    r = subprocess.run(["curl", "-sS", "--cacert", CA] + list(args), capture_output=True,
                       timeout=timeout)
    return r.returncode, r.stdout, r.stderr.decode("utf-8", "replace")


def read_response(f):
    """One response from a file object: (status, headers dict, body)."""
    line = f.readline()
    if not line:
        return None
    status = int(line.split()[1])
    hdrs = {}
    while True:
        l = f.readline()
        if l in (b"\r\n", b""):
            break
        k, v = l.decode().split(":", 1)
        hdrs[k.strip().lower()] = v.strip()
    body = b""
    if "content-length" in hdrs:
        body = f.read(int(hdrs["content-length"]))
    elif hdrs.get("transfer-encoding") == "chunked":
        while True:
            n = int(f.readline().split(b";")[0], 16)
            if n == 0:
                while f.readline() not in (b"\r\n", b""):
                    pass
                break
            body += f.read(n)
            f.readline()
    return status, hdrs, body


def healthy(s):
    """A keep-alive TLS connection still answers."""
    s.sendall(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
    f = s.makefile("rb")
    r = read_response(f)
    assert r and r[0] == 200 and r[2] == b"Hello, World!", r


def s_client(port, args, stdin=b"", timeout=15):
    r = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % port,
                        "-CAfile", CA] + args, input=stdin, capture_output=True,
                       timeout=timeout)
    return r.returncode, r.stdout.decode("utf-8", "replace") + r.stderr.decode("utf-8", "replace")


# ------------------------------------------------------------------- curl
@test
def test_curl_basics_keepalive_and_plain_side_by_side():
    with TLSDemo() as d:
        rc, out, err = curl("-v", d.url("/"), d.url("/health"), d.url("/whoami"))
        assert rc == 0, err
        assert out.startswith(b"Hello, World!ok\nclient=127.0.0.1 "), out
        assert b" worker=0 tls=1 version=TLSv1.2 " in out, out
        assert b"cipher=ECDHE-ECDSA-AES128-GCM-SHA256" in out and b"alpn=http/1.1" in out, out
        assert err.count("Re-using existing connection") == 2, err   # one TLS connection
        assert "SSL certificate verify ok" in err, err
        # the plaintext listener of the same server
        rc, out, err = curl("http://127.0.0.1:%d/whoami" % d.port)
        assert rc == 0 and b" worker=0 tls=0" in out, (out, err)
        # SNI picks the RSA chain for rsa.test (verified against the CA)
        rc, out, err = curl("--resolve", "rsa.test:%d:127.0.0.1" % d.tls_port, "-k",
                            "https://rsa.test:%d/whoami" % d.tls_port)
        assert b"cipher=ECDHE-RSA-AES128-GCM-SHA256" in out and b"cert=1" in out, out


@test
def test_curl_upload_download_100_continue_files():
    with TLSDemo(workers=2) as d:
        data = os.urandom(6 * 1024 * 1024 + 17)
        path = os.path.join(CERTS, "up.bin")
        with open(path, "wb") as f:
            f.write(data)
        rc, out, err = curl("-v", "-H", "Expect: 100-continue", "--data-binary", "@" + path,
                            d.url("/upload"))
        assert rc == 0, err
        assert "HTTP/1.1 100 Continue" in err, err
        assert out == b"bytes=%d crc32=%08x\n" % (len(data), zlib.crc32(data)), out
        rc, out, err = curl("-o", "/dev/null", "-w", "%{size_download}", d.url("/bytes/25000000"))
        assert rc == 0 and out == b"25000000", (out, err)
        # file bodies (pread + encrypt), a range
        with open(os.path.join(ROOT, "examples", "www", "index.html"), "rb") as f:
            page = f.read()
        rc, out, err = curl(d.url("/static/index.html"))
        assert rc == 0 and out == page, err
        rc, out, err = curl("-r", "10-99", d.url("/static/index.html"))
        assert out == page[10:100], out


# ------------------------------------------------------- Python ssl, http.client
@test
def test_python_keepalive_pipelining_streaming():
    with TLSDemo() as d:
        conn = http.client.HTTPSConnection("localhost", d.tls_port, context=ctx(), timeout=20)
        for i in range(30):
            conn.request("POST", "/echo", body=b"x%d" % i * 100)
            r = conn.getresponse()
            assert r.status == 200 and r.read() == b"x%d" % i * 100
        assert conn.sock.version() == "TLSv1.2" and conn.sock.selected_alpn_protocol() == "http/1.1"
        # a chunked stream with its CRC in a trailer field
        conn.request("GET", "/bytes/3000000?chunked=1")
        r = conn.getresponse()
        body = r.read()
        assert len(body) == 3000000
        conn.close()
        # ten pipelined requests in one write, ten responses in order
        s = tls_sock(d)
        s.sendall(b"".join(b"GET /sleep/%d HTTP/1.1\r\nHost: a\r\n\r\n" % (10 - i)
                           for i in range(10)))
        f = s.makefile("rb")
        for i in range(10):
            st, h, b = read_response(f)
            assert st == 200 and b == b"slept %d ms\n" % (10 - i), (i, b)
        # a reader that stalls: the server stops at its high-water mark, then resumes
        s.sendall(b"GET /bytes/20000000 HTTP/1.1\r\nHost: a\r\n\r\n")
        time.sleep(1.0)
        st, h, b = read_response(f)
        assert st == 200 and len(b) == 20000000
        # an upload paced by the application (paused body) over TLS
        data = os.urandom(3 * 1024 * 1024)
        s.sendall(b"POST /upload-paced HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n"
                  % len(data) + data)
        st, h, b = read_response(f)
        assert b == b"bytes=%d crc32=%08x\n" % (len(data), zlib.crc32(data)), b
        healthy(s)
        s.close()


@test
def test_echo_streams_both_ways_with_a_slow_reader():
    """/echo writes each body piece back as it arrives and pauses the body while the
    response backs up: a client that sends its whole body before reading gets it all."""
    with TLSDemo() as d:
        s = tls_sock(d, timeout=30)
        data = os.urandom(1000 * 1024)                  # under the route's 1 MiB cap
        got = []

        def reader():
            time.sleep(0.5)
            f = s.makefile("rb")
            got.append(read_response(f))
        t = threading.Thread(target=reader)
        t.start()
        s.sendall(b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n" % len(data))
        s.sendall(data)
        t.join(60)
        assert got and got[0][0] == 200 and got[0][2] == data
        s.close()


# ------------------------------------------------------------- s_client
@test
def test_s_client_resumption_across_workers():
    with TLSDemo(workers=2) as d:
        sess = os.path.join(CERTS, "sess.pem")
        req = b"GET /whoami HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
        rc, out = s_client(d.tls_port, ["-tls1_2", "-sess_out", sess, "-ign_eof"], req)
        assert "New, TLSv1.2" in out and "resumed=0" in out, out
        first = int(re.search(r"worker=(\d)", out).group(1))
        other = 0
        for i in range(12):
            # keep one worker busy for a while: a connection lands on the other one (the
            # busy one is not waiting for its listener), whichever made the session
            blocker = threading.Thread(target=lambda: curl(
                "http://127.0.0.1:%d/block-inline/700" % d.port))
            blocker.start()
            time.sleep(0.2)
            rc, out = s_client(d.tls_port, ["-tls1_2", "-sess_in", sess, "-ign_eof"], req)
            blocker.join()
            assert "Reused, TLSv1.2" in out and "resumed=1" in out, out
            other += int(re.search(r"worker=(\d)", out).group(1)) != first
            if other >= 2 and i >= 3:
                break
        assert other >= 1, "never resumed on the other worker"


@test
def test_s_client_sni_and_max_fragment_length():
    with TLSDemo(args=["--tls-half-duplex", "--tls-max-record", "1024"]) as d:
        req = b"GET /bytes/300000 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
        rc, out = s_client(d.tls_port, ["-servername", "a.wild.test", "-verify_hostname",
                                        "a.wild.test", "-maxfraglen", "512", "-ign_eof",
                                        "-trace"], req)
        assert "CN = other" in out and "Verify return code: 0 (ok)" in out, out[:3000]
        # asked in the ClientHello and granted in the ServerHello (RFC 6066 §4)
        assert out.count("max_fragment_length := 2^9 (512 bytes)") == 2, out[:3000]
        assert "Content-Length: 300000" in out and len(out) > 300000, len(out)
        rc, out = s_client(d.tls_port, ["-servername", "localhost", "-ign_eof"],
                           b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        assert "Hello, World!" in out and "CN = ec" in out, out[:3000]
        # a client sending 16 KiB records cannot talk to a 1 KiB-record server: closed
        r = subprocess.run(["curl", "-sS", "--cacert", CA, "--data-binary", "@-", d.url("/echo")],
                           input=os.urandom(64 * 1024), capture_output=True, timeout=20)
        assert r.returncode != 0, r.stdout[:200]


@test
def test_old_versions_renegotiation_and_bad_records_refused():
    with TLSDemo(args=["--tls-handshake-timeout", "1"]) as d:
        keep = tls_sock(d)
        healthy(keep)
        # TLS 1.0 only: protocol_version, no handshake
        rc, out = s_client(d.tls_port, ["-tls1", "-cipher", "DEFAULT@SECLEVEL=0"])
        assert rc != 0 and "Cipher is (NONE)" in out, out[:2000]
        # an SSLv3-only ClientHello (record and client versions 3.0)
        body = (b"\x03\x00" + os.urandom(32) + b"\x00" + b"\x00\x04\x00\x2f\x00\x35"
                + b"\x01\x00")
        hello = b"\x01" + struct.pack("!I", len(body))[1:] + body
        with socket.create_connection(("127.0.0.1", d.tls_port), timeout=5) as s:
            s.sendall(b"\x16\x03\x00" + struct.pack("!H", len(hello)) + hello)
            got = s.recv(100)
            assert got == b"" or got[0] == 0x15, got           # an alert, or closed
        # garbage instead of a ClientHello
        with socket.create_connection(("127.0.0.1", d.tls_port), timeout=5) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
            assert s.recv(100) == b""                            # closed, no answer
        # a stalled handshake (nothing, or half a ClientHello) is closed at 1 s
        for first in (b"", b"\x16\x03\x01\x02\x00\x01\x00\x01"):
            with socket.create_connection(("127.0.0.1", d.tls_port), timeout=5) as s:
                t0 = time.time()
                if first:
                    s.sendall(first)
                assert s.recv(100) == b""
                took = time.time() - t0
                assert 0.7 < took < 3.5, took
        # after a handshake: a truncated record, then a record over the maximum
        for bad in ("truncated", "oversized"):
            raw = socket.create_connection(("127.0.0.1", d.tls_port), timeout=5)
            inc, outg = ssl.MemoryBIO(), ssl.MemoryBIO()
            obj = ctx().wrap_bio(inc, outg, server_hostname="localhost")
            while True:
                try:
                    obj.do_handshake()
                    break
                except ssl.SSLWantReadError:
                    raw.sendall(outg.read())
                    inc.write(raw.recv(65536))
            raw.sendall(outg.read())
            if bad == "truncated":
                obj.write(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
                rec = outg.read()
                raw.sendall(rec[:len(rec) // 2])
                raw.shutdown(socket.SHUT_WR)
            else:
                raw.sendall(b"\x17\x03\x03\x48\x01" + b"\0" * 100)
            raw.settimeout(5)
            left = b""
            while True:
                b = raw.recv(65536)
                if not b:
                    break
                left += b
            assert not left or left[0] == 0x15, left[:20]       # closed, an alert at most
            raw.close()
        # renegotiation asked by the client: refused, the server goes on
        rc, out = s_client(d.tls_port, ["-tls1_2"], b"R\n", timeout=20)
        assert "RENEGOTIATING" in out, out[:2000]
        rc2, out2 = s_client(d.tls_port, ["-tls1_2", "-ign_eof"],
                             b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        assert "Hello, World!" in out2
        healthy(keep)
        keep.close()


# ------------------------------------------------------------ close_notify
def clean_close(s):
    """The peer ended TLS with close_notify (a ragged EOF raises SSLEOFError)."""
    s.settimeout(10)
    return s.recv(100) == b""


@test
def test_close_notify_on_keepalive_timeout_and_graceful_stop():
    d = TLSDemo(args=["--keepalive-timeout", "0.5"]).start()
    try:
        s = tls_sock(d, ragged=False)
        healthy(s)
        t0 = time.time()
        assert clean_close(s) and 0.3 < time.time() - t0 < 3
        s.close()
        idle = tls_sock(d, ragged=False)
        healthy(idle)
        busy = tls_sock(d, ragged=False)
        busy.sendall(b"GET /sleep/800 HTTP/1.1\r\nHost: a\r\n\r\n")
        time.sleep(0.2)
        d.proc.send_signal(signal.SIGTERM)
        assert clean_close(idle)                          # idle: close_notify at once
        st, h, b = read_response(busy.makefile("rb"))     # in flight: finished, then closed
        assert st == 200 and h.get("connection") == "close" and b == b"slept 800 ms\n"
        assert clean_close(busy)
    finally:
        d.stop()


@test
def test_tls_only_and_configuration_errors():
    with TLSDemo(args=["--tls-only"]) as d:
        assert d.port is None and d.tls_port
        rc, out, err = curl(d.url("/"))
        assert out == b"Hello, World!", err
    for cert, key, want in (("ec.pem", "other.key", "does not match"),
                            ("ec.pem", "missing.key", "No such file"),
                            ("ec.key", "ec.key", "no CERTIFICATE")):
        r = subprocess.run([TLS_DEMO, "--port", "0", "--tls-port", "0", "--tls-cert", c(cert),
                            "--tls-key", c(key)], capture_output=True, timeout=20, text=True)
        assert r.returncode == 1 and want in r.stderr, (r.returncode, r.stderr)


# ------------------------------------------------------------------- wss
@test
def test_websockets_over_wss():
    import websockets

    async def run(d):
        async with websockets.connect("wss://localhost:%d/ws" % d.tls_port, ssl=ctx(False),
                                      max_size=None, subprotocols=["echo"]) as ws:
            assert ws.subprotocol == "echo"
            await ws.send("h\u00e9llo")
            assert await ws.recv() == "h\u00e9llo"
            big = os.urandom(1024 * 1024)
            await ws.send(big)
            assert await ws.recv() == big
        async with websockets.connect("wss://localhost:%d/ws-upload" % d.tls_port,
                                      ssl=ctx(False), max_size=None) as ws:
            data = os.urandom(5 * 1024 * 1024)
            await ws.send(data)
            assert await ws.recv() == "bytes=%d crc32=%08x" % (len(data), zlib.crc32(data))
    with TLSDemo(workers=2) as d:
        asyncio.run(asyncio.wait_for(run(d), 60))


# ------------------------------------------------------------------ Chromium
def nss_trust(home):
    """Chromium on Linux trusts the CAs of $HOME/.pki/nssdb. 1 if the test CA was added."""
    if not shutil.which("certutil"):
        return 0
    db = os.path.join(home, ".pki", "nssdb")
    os.makedirs(db, exist_ok=True)
    subprocess.run(["certutil", "-N", "-d", "sql:" + db, "--empty-password"], check=True,
                   capture_output=True)
    subprocess.run(["certutil", "-A", "-d", "sql:" + db, "-n", "httpd-test-ca", "-t", "C,,",
                    "-i", CA], check=True, capture_output=True)
    return 1


@test
def test_chromium_https_page_fetch_and_wss():
    import websockets
    if not os.access(CHROMIUM, os.X_OK):
        if os.environ.get("CI"):
            raise AssertionError("%s is missing and CI is set" % CHROMIUM)
        print("SKIP test_chromium_https_page_fetch_and_wss: no %s" % CHROMIUM, flush=True)
        return
    profile = tempfile.mkdtemp(prefix="test_tls-chromium-")
    home = os.path.join(profile, "home")
    trusted = nss_trust(home)
    cmd = [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
           "--user-data-dir=" + os.path.join(profile, "data"), "--remote-debugging-port=0",
           "--remote-debugging-address=127.0.0.1", "--no-first-run",
           "--no-default-browser-check", "--disable-extensions", "--disable-sync",
           "--disable-background-networking", "--disable-component-update",
           "--disable-dev-shm-usage", "--mute-audio", "--disable-breakpad", "about:blank"]
    if not trusted:
        print("test_tls: certutil missing: Chromium runs with --ignore-certificate-errors",
              flush=True)
        cmd.insert(1, "--ignore-certificate-errors")
    env = dict(os.environ, HOME=home, XDG_CONFIG_HOME=home, XDG_CACHE_HOME=home)
    log = open(os.path.join(profile, "chromium.log"), "wb")
    br = None

    async def run(d, cdp_url):
        async with websockets.connect(cdp_url, max_size=None, ping_interval=None) as cdp:
            ids = iter(range(1, 1 << 30))

            async def call(method, **params):
                my = next(ids)
                await cdp.send(json.dumps({"id": my, "method": method, "params": params}))
                while True:
                    m = json.loads(await cdp.recv())
                    if m.get("id") == my:
                        assert "error" not in m, m
                        return m.get("result", {})

            async def js(expr):
                r = await call("Runtime.evaluate", expression=expr, returnByValue=True,
                               awaitPromise=True)
                assert "exceptionDetails" not in r, r
                return r["result"].get("value")
            await call("Page.enable")
            await call("Page.navigate", url=d.url("/static/index.html"))
            for _ in range(200):
                if await js("document.readyState") == "complete" and \
                        await js("location.protocol") == "https:":
                    break
                await asyncio.sleep(0.05)
            assert await js("location.href") == d.url("/static/index.html")
            assert await js("document.title") != ""
            n = await js("fetch('/bytes/2000000').then(r => r.arrayBuffer())"
                         ".then(b => b.byteLength)")
            assert n == 2000000, n
            who = await js("fetch('/whoami').then(r => r.text())")
            assert "tls=1" in who and "alpn=http/1.1" in who, who
            echo = await js("new Promise((ok, no) => { const w = new WebSocket("
                            "'wss://' + location.host + '/ws'); w.onopen = () => "
                            "w.send('hi \u2713'); w.onmessage = e => { ok(e.data); w.close(); };"
                            " w.onerror = () => no('ws error'); })")
            assert echo == "hi \u2713", echo
    try:
        with TLSDemo(workers=2) as d:
            br = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL, env=env, start_new_session=True)
            port = None
            end = time.time() + 30
            while time.time() < end and port is None:
                assert br.poll() is None, "chromium exited: %d" % br.returncode
                try:
                    with open(os.path.join(profile, "data", "DevToolsActivePort")) as f:
                        first = f.readline().strip()
                    port = int(first) if first else None
                except (OSError, ValueError):
                    time.sleep(0.05)
            assert port, "chromium did not report its DevTools port"
            page = None
            end = time.time() + 15
            while not page and time.time() < end:
                with urllib.request.urlopen("http://127.0.0.1:%d/json/list" % port,
                                            timeout=5) as r:
                    page = next((t for t in json.load(r) if t.get("type") == "page"
                                 and t.get("webSocketDebuggerUrl")), None)
                time.sleep(0.1)
            assert page, "no page target"
            asyncio.run(asyncio.wait_for(run(d, page["webSocketDebuggerUrl"]), 60))
    finally:
        if br is not None:
            try:
                os.killpg(br.pid, signal.SIGKILL)       # its own process group, by its id
            except ProcessLookupError:
                pass
            br.wait(timeout=10)
        log.close()
        shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    try:
        rc = run_all()
    finally:
        shutil.rmtree(CERTS, ignore_errors=True)
    sys.exit(rc)
