"""An RFC 6455 conformance and robustness checker in the manner of Autobahn's fuzzing client,
run against the demo's /ws echo ($DEMO, default build/demo-asan; DEMO=build/demo works too).
Every case speaks raw frames over a plain socket (tests/wsraw.py) and judges every byte:
framing and echo at the length boundaries, whole and chopped; pings; RSV bits; reserved
opcodes; fragmentation with controls between fragments; UTF-8 (valid, invalid, split
inside characters, fail-fast before the frame ends); the close handshake (codes, reasons,
lengths, what follows a close); limits (1 MiB inclusive, 1009 above, announced lengths);
abusive inputs (unmasked, non-minimal or top-bit lengths, garbage, floods, drops); the
opening handshake. A case passes only when the server does exactly what RFC 6455 requires
(for failures: a close with the right code, then the TCP close). After the cases the
server must still echo, and stop cleanly without sanitizer reports.
    /usr/bin/python3 tests/test_ws_conformance.py [case-name-substring ...]"""
import os, random, socket, struct, sys, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pyharness import Demo, test, run_all, raw_exchange
from wsraw import Raw, Closed, frame, close_payload

CAP = 1048576
CASES = []


def case(name):
    def deco(fn):
        CASES.append((name, fn))
        return fn
    return deco


def echo_case(name, op, payload, pieces=None, frag=None):
    """Send one message (maybe fragmented in frag-byte frames, maybe chopped in pieces on
    the wire) and expect it back whole and unchanged."""
    @case(name)
    def run(addr):
        c = Raw(addr)
        if frag:
            parts = [payload[i:i + frag] for i in range(0, len(payload), frag)] or [b""]
            data = b"".join(frame(op if i == 0 else 0, p, fin=(i == len(parts) - 1))
                            for i, p in enumerate(parts))
        else:
            data = frame(op, payload)
        c.send(data, pieces=pieces)
        got = c.recv_message(10)
        assert got == (op, payload), "echo mismatch: %r %d bytes" % (got[0], len(got[1]))
        c.send(frame(8, close_payload(1000)))
        c.expect_close({1000})
        c.close()


def fail_case(name, data, codes=(1002,), pre=None):
    """Send data (after an optional echo exchange): the server must close with one of codes
    and then close TCP."""
    @case(name)
    def run(addr):
        c = Raw(addr)
        if pre is not None:
            c.send(frame(1, pre))
            assert c.recv_message() == (1, pre)
        try:
            c.send(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        c.expect_close(set(codes))
        c.close()


# ---- 1. framing and echo
for n in (0, 1, 125, 126, 127, 128, 65535, 65536, 300000, CAP):
    echo_case("1.text.%d" % n, 1, b"*" * n)
    echo_case("1.binary.%d" % n, 2, bytes(random.Random(n).randbytes(n)))
for n in (0, 125, 126, 65536):
    echo_case("1.text.%d.bytewise" % n, 1, b"x" * n, pieces=[1] * min(n + 14, 300))
echo_case("1.binary.100000.random-pieces", 2, random.Random(5).randbytes(100000),
          pieces=[random.Random(6).randint(1, 3000) for _ in range(200)])

# ---- 2. pings and pongs
for n in (0, 1, 125):
    @case("2.ping.%d" % n)
    def _(addr, n=n):
        c = Raw(addr)
        p = bytes(range(n))
        c.send(frame(9, p))
        assert c.recv_frame() == (True, 10, p)
        c.close()


fail_case("2.ping.126", frame(9, b"p" * 126))


@case("2.ping.bytewise")
def _(addr):
    c = Raw(addr)
    c.send(frame(9, b"chopped ping"), pieces=[1] * 20, delay=0.002)
    assert c.recv_frame() == (True, 10, b"chopped ping")


@case("2.ten-pings")
def _(addr):
    c = Raw(addr)
    c.send(b"".join(frame(9, b"p%d" % i) for i in range(10)))
    for i in range(10):
        assert c.recv_frame() == (True, 10, b"p%d" % i)


@case("2.unsolicited-pong")
def _(addr):
    c = Raw(addr)
    c.send(frame(10, b"unsolicited") + frame(1, b"after"))
    assert c.recv_message() == (1, b"after")


# ---- 3. RSV bits (no extension negotiated) and 4. reserved opcodes
for rsv in range(1, 8):
    fail_case("3.rsv%d.text" % rsv, frame(1, b"x", rsv=rsv))
fail_case("3.rsv.binary-after-echo", frame(2, b"\x00\xff", rsv=4), pre=b"first")
fail_case("3.rsv.ping", frame(9, b"", rsv=2))
for op in (3, 4, 5, 6, 7, 11, 12, 13, 14, 15):
    fail_case("4.opcode%d" % op, frame(op, b"abc"))
fail_case("4.opcode5.after-echo", frame(5, b""), pre=b"hello")

# ---- 5. fragmentation
fail_case("5.ping.fragmented", frame(9, b"fr", fin=False) + frame(0, b"ag"))
fail_case("5.pong.fragmented", frame(10, b"fr", fin=False) + frame(0, b"ag"))
echo_case("5.text.2frags", 1, b"fragment1fragment2", frag=9)
echo_case("5.binary.1byte-frags", 2, bytes(range(200)), frag=1)
echo_case("5.text.1000-frags", 1, b"f" * 1000, frag=1)


@case("5.text.frags-with-pings")
def _(addr):
    c = Raw(addr)
    c.send(frame(1, b"a", fin=False) + frame(9, b"between") + frame(0, b"b", fin=False)
           + frame(10, b"") + frame(0, b"", fin=False) + frame(0, b"c"))
    assert c.recv_frame() == (True, 10, b"between")
    assert c.recv_message() == (1, b"abc")


@case("5.text.frags-pings-bytewise")
def _(addr):
    c = Raw(addr)
    data = frame(1, b"ab", fin=False) + frame(9, b"p") + frame(0, b"cd")
    c.send(data, pieces=[1] * len(data), delay=0.001)
    assert c.recv_frame() == (True, 10, b"p")
    assert c.recv_message() == (1, b"abcd")


fail_case("5.continuation.fin.no-start", frame(0, b"x"))
fail_case("5.continuation.nofin.no-start", frame(0, b"x", fin=False) + frame(0, b"y"))
fail_case("5.continuation.after-message", frame(0, b"late"), pre=b"message")
fail_case("5.text-inside-fragmented", frame(1, b"a", fin=False) + frame(1, b"b"))
fail_case("5.binary-inside-fragmented", frame(2, b"a", fin=False) + frame(2, b"b", fin=False))
@case("5.empty-frags")
def _(addr):
    c = Raw(addr)
    c.send(frame(1, b"", fin=False) + frame(0, b"", fin=False) + frame(0, b""))
    assert c.recv_message() == (1, b"")

# ---- 6. UTF-8 (RFC 3629)
VALID = ["\u03ba\u1f79\u03c3\u03bc\u03b5", "\u0080", "\u07ff", "\u0800", "\uffff",
         "\U00010000", "\U0010ffff", "\ud7ff\ue000", "a\u00e9\u4e2d\U0001f600z" * 50]
for i, s in enumerate(VALID):
    echo_case("6.valid.%d" % i, 1, s.encode())
kosme = "\u03ba\u1f79\u03c3\u03bc\u03b5".encode()
for cut in range(1, len(kosme)):
    echo_case("6.valid.kosme.split-at-%d" % cut, 1, kosme, frag=cut)
INVALID = [b"\x80", b"\xbf", b"\xc0\xaf", b"\xc1\xbf", b"\xe0\x80\xaf", b"\xe0\x9f\xbf",
           b"\xed\xa0\x80", b"\xed\xbf\xbf", b"\xed\xa0\x80\xed\xb0\x80", b"\xf0\x8f\xbf\xbf",
           b"\xf4\x90\x80\x80", b"\xf5\x80\x80\x80", b"\xf8\x88\x80\x80\x80", b"\xfe", b"\xff",
           b"\xc2", b"\xe2\x82", b"\xf0\x9f\x98", b"\xc2\x41", b"\xce\xba\xe1\xbd\xb9\xcf"
           b"\x83\xce\xbc\xce\xb5\xed\xa0\x80\x65\x64\x69\x74\x65\x64"]
for i, s in enumerate(INVALID):
    fail_case("6.invalid.%d" % i, frame(1, s), codes=(1007,))
    fail_case("6.invalid.%d.fragmented" % i,
              b"".join(frame(1 if k == 0 else 0, s[k:k + 1], fin=(k == len(s) - 1))
                       for k in range(len(s))), codes=(1007,))


@case("6.fail-fast.inside-a-frame")
def _(addr):
    """The first invalid byte closes the connection before the frame is complete."""
    c = Raw(addr)
    payload = "\u03ba\u1f79".encode() + b"\xed\xa0\x80" + b"x" * 1000
    f = frame(1, payload)
    c.send(f[:6 + 4 + 8])                   # head + mask + the first 8 payload bytes
    c.expect_close({1007}, timeout=2)


@case("6.fail-fast.across-fragments")
def _(addr):
    c = Raw(addr)
    c.send(frame(1, b"ok", fin=False) + frame(0, b"\xc0", fin=False))
    c.expect_close({1007}, timeout=2)


# ---- 7. the close handshake
@case("7.close.echo-then-close")
def _(addr):
    c = Raw(addr)
    c.send(frame(1, b"hello") + frame(8, close_payload(1000)))
    assert c.recv_message() == (1, b"hello")
    c.expect_close({1000})


@case("7.close.empty")
def _(addr):
    c = Raw(addr)
    c.send(frame(8))
    fin, op, p = c.recv_frame()
    assert op == 8 and (p == b"" or p[:2] == b"\x03\xe8"), p
    c.wait_tcp_close()


@case("7.close.then-ping-text-ignored")
def _(addr):
    c = Raw(addr)
    c.send(frame(8, close_payload(1000)) + frame(9, b"ignored") + frame(1, b"ignored"))
    fin, op, p = c.recv_frame()
    assert op == 8 and p[:2] == b"\x03\xe8", (op, p)
    c.wait_tcp_close()


@case("7.close.twice")
def _(addr):
    c = Raw(addr)
    c.send(frame(8, close_payload(1000)) + frame(8, close_payload(1000)))
    assert c.recv_frame()[1] == 8
    c.wait_tcp_close()


@case("7.close.inside-fragmented-message")
def _(addr):
    c = Raw(addr)
    c.send(frame(1, b"part", fin=False) + frame(8, close_payload(1000)))
    c.expect_close({1000})


fail_case("7.close.1-byte", frame(8, b"\x03"))
fail_case("7.close.reason-124", frame(8, close_payload(1000, b"r" * 124)))
fail_case("7.close.reason-invalid-utf8", frame(8, close_payload(1000, b"\xce\xba\xed\xa0\x80")),
          codes=(1007, 1002))
for code in (1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999):
    @case("7.close.valid.%d" % code)
    def _(addr, code=code):
        c = Raw(addr)
        c.send(frame(8, close_payload(code, b"reason \xe2\x9c\x93")))
        c.expect_close({code})
for code in (0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535):
    fail_case("7.close.invalid.%d" % code, frame(8, close_payload(code)))


@case("7.close.reason-123")
def _(addr):
    c = Raw(addr)
    c.send(frame(8, close_payload(1000, b"r" * 123)))
    c.expect_close({1000})


# ---- 9/10. limits
@case("9.limit.1MiB+1")
def _(addr):
    c = Raw(addr)
    f = frame(2, b"z" * (CAP + 1))
    try:
        c.send(f)
    except (BrokenPipeError, ConnectionResetError):
        pass
    c.expect_close({1009})


@case("9.limit.announced-only")
def _(addr):
    """The cap is judged from the head: no payload has to arrive first."""
    c = Raw(addr)
    c.send(bytes([0x82, 0xff]) + struct.pack("!Q", 1 << 40) + b"mask")
    c.expect_close({1009}, timeout=2)


@case("9.limit.fragments-over")
def _(addr):
    c = Raw(addr)
    half = b"h" * (CAP // 2)
    try:
        c.send(frame(2, half, fin=False) + frame(0, half, fin=False) + frame(0, b"!"))
    except (BrokenPipeError, ConnectionResetError):
        pass
    c.expect_close({1009})


echo_case("9.limit.fragments-exactly", 2, b"e" * CAP, frag=65536)

# ---- abusive inputs
fail_case("A.unmasked", frame(1, b"hello", mask=False))
fail_case("A.length-top-bit", bytes([0x82, 0xff]) + b"\x80" + b"\0" * 7 + b"mask")
fail_case("A.length-16-not-minimal", frame(2, b"n" * 100, length_form=126))
fail_case("A.length-64-not-minimal", frame(2, b"n" * 1000, length_form=127))
fail_case("A.garbage", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")


@case("A.flood-1000-pipelined")
def _(addr):
    c = Raw(addr)
    c.send(b"".join(frame(1, b"m%d" % i) for i in range(1000)))
    for i in range(1000):
        assert c.recv_message() == (1, b"m%d" % i)


@case("A.drop-mid-frame-then-serve")
def _(addr):
    c = Raw(addr)
    c.send(frame(2, b"d" * 5000)[:2000])
    c.close()
    c2 = Raw(addr)
    c2.send(frame(1, b"still here"))
    assert c2.recv_message() == (1, b"still here")


@case("A.half-close-after-messages")
def _(addr):
    c = Raw(addr)
    c.send(frame(1, b"one") + frame(1, b"two"))
    c.sock.shutdown(socket.SHUT_WR)
    got = []
    try:
        while True:
            got.append(c.recv_message(3))
    except Closed:
        pass
    assert got[:2] == [(1, b"one"), (1, b"two")], got


@case("A.slow-head")
def _(addr):
    c = Raw(addr)
    c.send(frame(1, b"slowly"), pieces=[1] * 16, delay=0.03)
    assert c.recv_message() == (1, b"slowly")


# ---- opening handshake
def handshake(addr, lines, body=b""):
    req = b"GET /ws HTTP/1.1\r\nHost: x\r\n" + b"".join(l + b"\r\n" for l in lines) + b"\r\n"
    return raw_exchange(addr, req + body, timeout=3)


OKH = [b"Upgrade: websocket", b"Connection: Upgrade",
       b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="]


@case("H.version-8-426")
def _(addr):
    r = handshake(addr, OKH + [b"Sec-WebSocket-Version: 8"])
    assert r.startswith(b"HTTP/1.1 426 ") and b"\r\nSec-WebSocket-Version: 13\r\n" in r, r[:200]


@case("H.no-key-400")
def _(addr):
    r = handshake(addr, OKH[:2] + [b"Sec-WebSocket-Version: 13"])
    assert r.startswith(b"HTTP/1.1 400 "), r[:100]


@case("H.bad-key-400")
def _(addr):
    r = handshake(addr, OKH[:2] + [b"Sec-WebSocket-Key: short", b"Sec-WebSocket-Version: 13"])
    assert r.startswith(b"HTTP/1.1 400 "), r[:100]


@case("H.accept-and-pipelined-frames")
def _(addr):
    c = Raw(addr, connect=False)
    c.handshake(frame(1, b"right behind the head") + frame(9, b"p"))
    assert c.recv_message() == (1, b"right behind the head")
    assert c.recv_frame() == (True, 10, b"p")


@case("H.deflate-declined")
def _(addr):
    c = Raw(addr, headers=[("Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits")],
            connect=False)
    head = c.handshake()
    assert b"extensions" not in head.lower(), head
    fail_case_run = frame(1, b"x", rsv=4)     # so a compressed frame is a protocol error
    c.send(fail_case_run)
    c.expect_close({1002})


@case("H.subprotocol")
def _(addr):
    c = Raw(addr, headers=[("Sec-WebSocket-Protocol", "other, echo")], connect=False)
    head = c.handshake()
    assert b"\r\nSec-WebSocket-Protocol: echo" in head, head


def alive(addr):
    c = Raw(addr)
    c.send(frame(1, b"alive?"))
    assert c.recv_message() == (1, b"alive?")
    c.close()


@test
def test_conformance_all_cases():
    only = [a for a in sys.argv[1:] if not a.startswith("test_")]
    results = []
    with Demo(workers=2) as d:
        addr = d.addr()
        for i, (name, fn) in enumerate(CASES):
            if only and not any(o in name for o in only):
                continue
            t0 = time.time()
            try:
                fn(addr)
                results.append((name, None))
            except Exception as e:          # judged: anything but the expected is a failure
                results.append((name, "%s: %s" % (type(e).__name__, e)))
            if time.time() - t0 > 15:
                results[-1] = (name, "took %.1fs" % (time.time() - t0))
            if i % 20 == 19:
                alive(addr)
        alive(addr)
    bad = [(n, e) for n, e in results if e]
    print("conformance: %d cases, %d passed, %d failed" % (len(results), len(results) - len(bad),
                                                           len(bad)), flush=True)
    for n, e in bad:
        print("  FAIL %s: %s" % (n, e[:300]), flush=True)
    assert not bad, "%d conformance cases failed" % len(bad)


if __name__ == "__main__":
    sys.argv = [sys.argv[0]] + [a for a in sys.argv[1:]]
    sys.exit(run_all() if not sys.argv[1:] else (test_conformance_all_cases() or 0))
