"""A raw RFC 6455 client for the WebSocket suites: it builds any frame (bad ones too), sends
bytes in any split, and reads frames and the TCP close exactly as they arrive, so that a
suite can judge the server's every byte. Used by test_ws.py and test_ws_conformance.py."""
import base64, hashlib, os, socket, struct, time

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def frame(op, payload=b"", fin=True, mask=True, rsv=0, length_form=None, key=None):
    """One client frame. length_form: None (minimal), 126 or 127 (forced, maybe non-minimal)."""
    b0 = (0x80 if fin else 0) | (rsv << 4) | op
    n = len(payload)
    mbit = 0x80 if mask else 0
    if length_form is None:
        length_form = 0 if n < 126 else 126 if n < 65536 else 127
    if length_form == 0:
        h = bytes([b0, mbit | n])
    elif length_form == 126:
        h = bytes([b0, mbit | 126]) + struct.pack("!H", n)
    else:
        h = bytes([b0, mbit | 127]) + struct.pack("!Q", n)
    if not mask:
        return h + payload
    key = key or os.urandom(4)
    return h + key + xor(payload, key)


def xor(data, key):
    if not data:
        return b""
    k = (key * (len(data) // 4 + 1))[:len(data)]
    return (int.from_bytes(data, "big") ^ int.from_bytes(k, "big")).to_bytes(len(data), "big")


def close_payload(code=None, reason=b""):
    return b"" if code is None else struct.pack("!H", code) + reason


class Closed(Exception):
    pass


class Raw:
    """A WebSocket client on a plain socket. recv_frame() -> (fin, op, payload); after the
    server closes TCP, it raises Closed. handshake() returns the response head."""

    def __init__(self, addr, path="/ws", headers=(), timeout=5.0, rcvbuf=None, connect=True):
        self.addr = addr
        self.path = path
        self.buf = b""
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect(addr)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.key = base64.b64encode(os.urandom(16)).decode()
        self.extra = list(headers)
        self.tcp_closed = False
        if connect:
            self.head = self.handshake()

    def request(self, extra=b""):
        h = ("GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
             % (self.path, self.addr[0], self.addr[1], self.key))
        for k, v in self.extra:
            h += "%s: %s\r\n" % (k, v)
        return h.encode() + b"\r\n" + extra

    def handshake(self, extra=b""):
        self.sock.sendall(self.request(extra))
        while b"\r\n\r\n" not in self.buf:
            b = self.sock.recv(65536)
            if not b:
                raise Closed("closed during the handshake: %r" % self.buf)
            self.buf += b
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        if not head.startswith(b"HTTP/1.1 101 "):
            raise AssertionError("handshake refused: %r" % head[:300])
        want = base64.b64encode(hashlib.sha1(self.key.encode() + GUID).digest())
        if b"\r\nSec-WebSocket-Accept: " + want + b"\r\n" not in head + b"\r\n":
            raise AssertionError("bad accept: %r" % head)
        return head

    def send(self, data, pieces=None, delay=0.0):
        """Send bytes, optionally in `pieces` equal parts (or a list of sizes) with delays."""
        if not pieces:
            self.sock.sendall(data)
            return
        sizes = pieces if isinstance(pieces, list) else \
            [max(1, len(data) // pieces)] * pieces
        i = 0
        for s in sizes:
            if i >= len(data):
                break
            self.sock.sendall(data[i:i + s])
            i += s
            if delay:
                time.sleep(delay)
        if i < len(data):
            self.sock.sendall(data[i:])

    def _read(self, n, deadline):
        while len(self.buf) < n:
            left = deadline - time.time()
            if left <= 0:
                raise socket.timeout("timed out")
            self.sock.settimeout(left)
            try:
                b = self.sock.recv(1 << 20)
            except (ConnectionResetError, BrokenPipeError):
                b = b""
            if not b:
                self.tcp_closed = True
                raise Closed("TCP closed with %d bytes pending" % len(self.buf))
            self.buf += b
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def recv_frame(self, timeout=5.0):
        deadline = time.time() + timeout
        b0, b1 = self._read(2, deadline)
        if b1 & 0x80:
            raise AssertionError("server frame masked")
        if b0 & 0x70:
            raise AssertionError("server frame with RSV bits")
        n = b1 & 127
        if n == 126:
            n = struct.unpack("!H", self._read(2, deadline))[0]
        elif n == 127:
            n = struct.unpack("!Q", self._read(8, deadline))[0]
        return bool(b0 & 0x80), b0 & 15, self._read(n, deadline)

    def recv_message(self, timeout=5.0, auto_pong=True):
        """The next data message (op, payload), answering pings; a close -> ("close", payload)."""
        data, op0 = b"", None
        while True:
            fin, op, p = self.recv_frame(timeout)
            if op == 9:
                if auto_pong:
                    self.send(frame(10, p))
                continue
            if op == 10:
                continue
            if op == 8:
                return "close", p
            if op0 is None:
                op0 = op
            data += p
            if fin:
                return op0, data

    def expect_close(self, codes, timeout=5.0, then_tcp=True):
        """Reads until a close frame (data frames before it are allowed); checks its code
        is in codes (None: any or none), and that TCP closes after it. -> code"""
        deadline = time.time() + timeout
        while True:
            fin, op, p = self.recv_frame(max(0.01, deadline - time.time()))
            if op == 8:
                code = struct.unpack("!H", p[:2])[0] if len(p) >= 2 else None
                if codes is not None and code not in codes:
                    raise AssertionError("close code %r, wanted %r" % (code, codes))
                break
        if then_tcp:
            self.wait_tcp_close(max(0.5, deadline - time.time()))
        return code

    def wait_tcp_close(self, timeout=5.0):
        deadline = time.time() + timeout
        while True:
            try:
                self._read(len(self.buf) + 1, deadline)
            except Closed:
                return
            self.buf = b""

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass
