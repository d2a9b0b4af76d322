"""WebSockets with real clients: Python `websockets` (python3-websockets) and Node's `ws`
(node-ws) against the demo's /ws echo and /ws-upload ($DEMO, default build/demo-asan),
examples/chat.c (build/chat-asan, and build/chat-tsan for the threads) for broadcast across
workers, and headless Chromium (the chat page, over the DevTools protocol; skipped when
/usr/bin/chromium is missing unless $CI is set). Echo, fragmentation, ping/pong, close
codes, oversize, invalid UTF-8, streamed messages, slow readers (the server's memory stays
bounded: measured on build/demo, without ASan's quarantine), heartbeats with short
intervals (a peer that never pongs is dropped), cross-worker broadcast and its overflow
policy, graceful stop with open sockets (clients see 1001, the stop is prompt).
    /usr/bin/python3 tests/test_ws.py [test_name ...]"""
import asyncio, json, os, random, re, shutil, signal, socket, subprocess, sys, tempfile
import threading, time, urllib.request, zlib
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pyharness import Demo, test, run_all, ROOT
from wsraw import Raw, Closed, frame, close_payload

import websockets

CHAT = os.environ.get("CHAT", os.path.join(ROOT, os.environ.get("BUILD", "build"), "chat-asan"))
CHAT_TSAN = os.path.join(ROOT, os.environ.get("BUILD", "build"), "chat-tsan")
PLAIN = os.path.join(ROOT, os.environ.get("BUILD", "build"), "demo")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
NODE = shutil.which("node") or "/usr/bin/node"
MiB = 1 << 20


def arun(coro, timeout=60):
    return asyncio.run(asyncio.wait_for(coro, timeout))


def url(d, path="/ws"):
    return "ws://127.0.0.1:%d%s" % (d.port, path)


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


# ------------------------------------------------------------------ Python websockets
@test
def test_python_echo_fragments_ping_close():
    async def run(d):
        async with websockets.connect(url(d), subprotocols=["echo"], max_size=None,
                                      ping_interval=None) as ws:
            assert ws.subprotocol == "echo"
            for n in (0, 1, 125, 126, 65535, 65536, 500000, MiB):
                s = "\u00e9" * (n // 2) + "a" * (n % 2)            # n bytes of UTF-8
                await ws.send(s)
                assert await ws.recv() == s
                b = random.Random(n).randbytes(n)
                await ws.send(b)
                assert await ws.recv() == b
            await ws.send(["frag", "ment", "\u00e9d"])                # fragmented
            assert await ws.recv() == "fragment\u00e9d"
            await ws.send([b"\x00", b"\x01" * 70000, b""])
            assert await ws.recv() == b"\x00" + b"\x01" * 70000
            pong = await ws.ping(b"payload")
            await asyncio.wait_for(pong, 5)
            await ws.close(code=4001, reason="bye")
            assert ws.close_code == 4001, ws.close_code
        async with websockets.connect(url(d), max_size=None, ping_interval=None) as ws:
            await ws.send(b"z" * (MiB + 1))                          # over the cap
            try:
                await ws.recv()
                raise AssertionError("no close")
            except websockets.ConnectionClosed as e:
                assert e.code == 1009, e.code
    with Demo(workers=2) as d:
        arun(run(d))


@test
def test_invalid_utf8_and_protocol_errors():
    with Demo(workers=1) as d:
        c = Raw(d.addr())
        c.send(frame(1, b"ok \xce\xba then \xed\xa0\x80"))
        c.expect_close({1007})
        c = Raw(d.addr())
        c.send(frame(1, b"unmasked", mask=False))
        c.expect_close({1002})
        c = Raw(d.addr())
        c.send(frame(1, b"a", fin=False) + frame(9, b"x" * 126))
        c.expect_close({1002})


@test
def test_streamed_messages():
    """/ws-upload: a 6 MiB message in 64 KiB fragments, handed over piece by piece (no cap),
    with and without pausing after every piece (resumed from the task pool)."""
    blob = random.Random(3).randbytes(6 * MiB + 7)
    want = "bytes=%d crc32=%08x" % (len(blob), zlib.crc32(blob))

    async def run(d, path):
        async with websockets.connect(url(d, path), max_size=None, ping_interval=None) as ws:
            await ws.send([blob[i:i + 65536] for i in range(0, len(blob), 65536)])
            assert await ws.recv() == want
            await ws.send(b"small")
            assert await ws.recv() == "bytes=5 crc32=%08x" % zlib.crc32(b"small")
    with Demo(workers=2) as d:
        arun(run(d, "/ws-upload"))
        arun(run(d, "/ws-upload?slow=1"))


@test
def test_hundred_connections():
    async def one(d, i):
        async with websockets.connect(url(d), ping_interval=None) as ws:
            for k in range(20):
                m = "c%d m%d" % (i, k)
                await ws.send(m)
                assert await ws.recv() == m

    async def run(d):
        await asyncio.gather(*(one(d, i) for i in range(100)))
    with Demo(workers=2) as d:
        arun(run(d))


# ------------------------------------------------------------------------- Node ws
NODE_SCRIPT = r"""
const WebSocket = require('ws');
const url = process.argv[2];
const out = {};
function open(path, opts) {
  return new Promise((res, rej) => { const ws = new WebSocket(url + path, opts || {});
    ws.binaryType = 'nodebuffer'; ws.once('open', () => res(ws)); ws.once('error', rej); });
}
function next(ws) { return new Promise(res => ws.once('message', (d, bin) => res([d, bin]))); }
function closed(ws) { return new Promise(res => ws.once('close', (code, reason) => res([code, reason.toString()]))); }
(async () => {
  let ws = await open('/ws', { maxPayload: 0 });
  ws.send('hello node'); let [d, bin] = await next(ws); out.text = [d.toString(), bin];
  const big = Buffer.alloc(1048576, 7);
  ws.send(big); [d, bin] = await next(ws); out.big = [d.length, bin, d.equals(big)];
  ws.send('fr', { fin: false }); ws.send('ag', { fin: false }); ws.send('ment', { fin: true });
  [d, bin] = await next(ws); out.frag = d.toString();
  out.pong = await new Promise(res => { ws.once('pong', p => res(p.toString())); ws.ping('node-ping'); });
  const c = closed(ws); ws.close(4002, 'done'); out.close = await c;
  ws = await open('/ws', { maxPayload: 0 });
  let c2 = closed(ws); ws.send(Buffer.alloc(1048577, 1)); out.oversize = await c2;
  ws = await open('/ws');
  c2 = closed(ws); ws.send(Buffer.from([0x61, 0xc0, 0xaf]), { binary: false }); out.utf8 = await c2;
  console.log(JSON.stringify(out));
})().catch(e => { console.log(JSON.stringify({ error: String(e) })); process.exit(1); });
"""


@test
def test_node_ws_client():
    if not os.access(NODE, os.X_OK):
        raise AssertionError("node is missing (.ci/run installs nodejs and node-ws)")
    with Demo(workers=2) as d, tempfile.TemporaryDirectory() as tmp:
        script = os.path.join(tmp, "client.js")
        with open(script, "w") as f:
            f.write(NODE_SCRIPT)
        env = dict(os.environ, NODE_PATH="/usr/share/nodejs:/usr/lib/nodejs")
        p = subprocess.run([NODE, script, "ws://127.0.0.1:%d" % d.port], capture_output=True,
                           text=True, timeout=60, env=env)
        assert p.returncode == 0, p.stdout + p.stderr
        r = json.loads(p.stdout.strip().splitlines()[-1])
        assert r["text"] == ["hello node", False], r
        assert r["big"] == [1048576, True, True], r
        assert r["frag"] == "fragment", r
        assert r["pong"] == "node-ping", r
        assert r["close"] == [4002, ""], r
        assert r["oversize"][0] == 1009, r
        assert r["utf8"][0] == 1007, r


# -------------------------------------------------------------------- heartbeats
@test
def test_heartbeats_short_intervals():
    with Demo(workers=1, args=["--ws-ping", "0.2", "--ws-timeout", "0.7"]) as d:
        # a client that answers pings stays, idle, well past the timeout
        async def patient():
            async with websockets.connect(url(d), ping_interval=None) as ws:
                await asyncio.sleep(2.0)
                await ws.send("still open")
                assert await ws.recv() == "still open"
        arun(patient())
        # a peer that never pongs: pinged, then closed 1001 and dropped
        c = Raw(d.addr())
        t0 = time.time()
        pings = 0
        code = None
        try:
            while True:
                fin, op, p = c.recv_frame(3)
                if op == 9:
                    pings += 1
                elif op == 8:
                    code = int.from_bytes(p[:2], "big")
                    break
            c.wait_tcp_close(2)
        except Closed:
            pass
        took = time.time() - t0
        assert code == 1001 and pings >= 2, (code, pings)
        assert 0.6 <= took < 1.5, took
        # one that talks (but never pongs) counts as heard
        c = Raw(d.addr())
        for i in range(8):
            c.send(frame(1, b"tick"))
            while True:
                fin, op, p = c.recv_frame(2)
                if op == 1:
                    break
            time.sleep(0.15)
        c.close()


# --------------------------------------------------------------- slow readers
@test
def test_slow_reader_memory_bounded():
    """A client that sends 24 MiB of echo requests and does not read: the server stops
    reading once its output passes the high-water mark, so its memory stays flat; then the
    client reads and every echo arrives, in order."""
    with Demo(workers=1, binary=PLAIN) as d:
        c = Raw(d.addr(), rcvbuf=65536)
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)
        before = rss_kib(d.proc.pid)
        msgs = [bytes([i % 256]) * 65536 for i in range(384)]
        sent = [0]

        def writer():
            try:
                for m in msgs:
                    c.sock.sendall(frame(2, m))
                    sent[0] += 1
            except OSError:
                pass
        t = threading.Thread(target=writer, daemon=True)
        t.start()
        time.sleep(1.5)
        stalled_at = sent[0]
        grown = rss_kib(d.proc.pid) - before
        assert stalled_at < len(msgs), "the server read everything without being read"
        assert grown < 4096, "server RSS grew by %d KiB for a non-reading client" % grown
        for i in range(len(msgs)):
            op, p = c.recv_message(20)
            assert op == 2 and p == msgs[i], (i, op, len(p))
        t.join(10)
        assert sent[0] == len(msgs)


# -------------------------------------------------------- broadcast (chat.c)
class Chat(Demo):
    def __init__(self, workers=3, binary=None, args=()):
        super().__init__(workers=workers, binary=binary or CHAT, args=list(args))


def chat_round(binary, workers, n):
    async def member(d, i, ready, go, got):
        async with websockets.connect(url(d, "/ws?name=m%d" % i), ping_interval=None) as ws:
            ready.append(i)
            while len(ready) < n:
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.2)                  # every join announced first
            await ws.send("hello from %d" % i)
            seen = set()
            while len(seen) < n:
                m = await ws.recv()
                mm = re.match(r"m(\d+): hello from (\d+)$", m)
                if mm:
                    assert mm.group(1) == mm.group(2), m
                    seen.add(int(mm.group(1)))
            got[i] = seen

    async def run(d):
        ready, got = [], {}
        await asyncio.gather(*(member(d, i, ready, None, got) for i in range(n)))
        assert all(got[i] == set(range(n)) for i in range(n)), got
    with Chat(workers=workers, binary=binary) as d:
        arun(run(d), 60)


@test
def test_broadcast_across_workers():
    chat_round(CHAT, 3, 24)


@test
def test_broadcast_across_workers_tsan():
    chat_round(CHAT_TSAN, 3, 12)


@test
def test_broadcast_slow_member_closed_1008():
    """A member that never reads: once its output passes the high-water mark, a broadcast
    closes it with 1008 (the room's policy) instead of buffering; the others get all."""
    with Chat(workers=2) as d:
        slow = Raw(d.addr(), path="/ws?name=slow", rcvbuf=4096)
        line = "x" * 4000

        fast = Raw(d.addr(), path="/ws?name=fast")
        got = [0]

        def reader():
            try:
                while got[0] < 2000:
                    op, p = fast.recv_message(10)
                    if op == 1 and p.endswith(line.encode()):
                        got[0] += 1
            except Exception:
                pass
        t = threading.Thread(target=reader, daemon=True)
        t.start()
        for i in range(0, 2000, 50):
            fast.send(b"".join(frame(1, line.encode()) for _ in range(50)))
            time.sleep(0.002)
        t.join(30)
        assert got[0] == 2000, got                   # a member that keeps up gets all
        code = None
        try:
            while True:
                fin, op, p = slow.recv_frame(10)
                if op == 8:
                    code = int.from_bytes(p[:2], "big")
                    break
        except Closed:
            pass
        assert code == 1008, code


# ---------------------------------------------------------------- graceful stop
@test
def test_graceful_stop_with_open_websockets():
    d = Demo(workers=2, args=["--shutdown-timeout", "10"]).start()
    try:
        raws = [Raw(d.addr()) for _ in range(10)]

        async def clients():
            conns = [await websockets.connect(url(d), ping_interval=None) for _ in range(10)]
            await asyncio.sleep(0.3)
            t0 = time.time()
            d.proc.send_signal(signal.SIGTERM)
            for r in raws:                       # raw peers answer the close
                fin, op, p = r.recv_frame(5)
                assert op == 8 and p[:2] == b"\x03\xe9", (op, p)
                r.send(frame(8, p[:2]))
            codes = []
            for ws in conns:
                try:
                    await asyncio.wait_for(ws.recv(), 5)
                except websockets.ConnectionClosed as e:
                    codes.append(e.code)
            return codes, t0
        codes, t0 = arun(clients())
        assert codes == [1001] * 10, codes
        d.proc.wait(timeout=5)
        assert time.time() - t0 < 2.5, "stop took %.2fs" % (time.time() - t0)
    finally:
        d.stop()
    # a peer that never answers the close cannot hold the stop past the shutdown timeout
    d = Demo(workers=1, args=["--shutdown-timeout", "2"]).start()
    try:
        mute = Raw(d.addr())
        time.sleep(0.2)
        t0 = time.time()
        d.proc.send_signal(signal.SIGTERM)
        d.proc.wait(timeout=6)
        took = time.time() - t0
        assert took < 3.0, "stop took %.2fs" % took
        fin, op, p = mute.recv_frame(1)
        assert op == 8 and p[:2] == b"\x03\xe9"
    finally:
        d.stop()


# --------------------------------------------------------------------- Chromium
def devtools(profile):
    """Starts headless Chromium; returns (process, page websocket url)."""
    cmd = [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
           "--user-data-dir=" + profile, "--remote-debugging-port=0",
           "--remote-debugging-address=127.0.0.1", "--no-first-run",
           "--no-default-browser-check", "--disable-extensions", "--disable-sync",
           "--disable-background-networking", "--disable-component-update",
           "--disable-dev-shm-usage", "--mute-audio", "--disable-breakpad", "about:blank"]
    home = os.path.join(profile, "home")
    env = dict(os.environ, HOME=home, XDG_CONFIG_HOME=home, XDG_CACHE_HOME=home)
    log = open(os.path.join(profile, "chromium.log"), "wb")
    br = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                          env=env, start_new_session=True)
    port = None
    end = time.time() + 30
    while time.time() < end and port is None:
        assert br.poll() is None, "chromium exited: %d" % br.returncode
        try:
            with open(os.path.join(profile, "DevToolsActivePort")) as f:
                first = f.readline().strip()
            port = int(first) if first else None
        except (OSError, ValueError):
            time.sleep(0.05)
    assert port, "chromium did not report its DevTools port"
    end = time.time() + 15
    while time.time() < end:
        with urllib.request.urlopen("http://127.0.0.1:%d/json/list" % port, timeout=5) as r:
            page = next((t for t in json.load(r) if t.get("type") == "page"
                         and t.get("webSocketDebuggerUrl")), None)
        if page:
            return br, page["webSocketDebuggerUrl"]
        time.sleep(0.1)
    raise AssertionError("no page target")


@test
def test_chromium_chat_page():
    if not os.access(CHROMIUM, os.X_OK):
        if os.environ.get("CI"):
            raise AssertionError("%s is missing and CI is set" % CHROMIUM)
        print("SKIP test_chromium_chat_page: no %s (counted as passed)" % CHROMIUM, flush=True)
        return

    async def run(d, cdp_url):
        async with websockets.connect(cdp_url, max_size=None, ping_interval=None) as cdp, \
                websockets.connect(url(d, "/ws?name=py"), ping_interval=None) as member:
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
            await call("Page.navigate", url="http://127.0.0.1:%d/" % d.port)
            for _ in range(100):
                if await js("document.readyState") == "complete" and \
                        await js("document.title") == "httpd.h chat":
                    break
                await asyncio.sleep(0.05)
            await js("document.getElementById('name').value = 'browser'")
            await js("document.getElementById('msg').value = 'hello from chromium \u2713';"
                     "document.querySelector('form button').click()")
            # the Python member hears the browser (through the broadcast)
            while True:
                m = await asyncio.wait_for(member.recv(), 10)
                if m == "browser: hello from chromium \u2713":
                    break
            await member.send("hello browser")
            for _ in range(200):
                lines = await js("Array.from(document.querySelectorAll('#log .line'))"
                                 ".map(e => e.textContent)")
                if "py: hello browser" in lines:
                    break
                await asyncio.sleep(0.05)
            assert "py: hello browser" in lines, lines
            assert "browser: hello from chromium \u2713" in lines, lines
            assert await js("document.getElementById('status').textContent") == "online"
    profile = tempfile.mkdtemp(prefix="test_ws-chromium-")
    br = None
    try:
        with Chat(workers=2) as d:
            br, cdp_url = devtools(profile)
            arun(run(d, cdp_url), 60)
            os.killpg(br.pid, signal.SIGKILL)       # its own process group, by its id
            br.wait(timeout=10)
            br = None
    finally:
        if br is not None:
            try:
                os.killpg(br.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            br.wait(timeout=10)
        shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(run_all())
