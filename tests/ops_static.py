#!/usr/bin/env python3
"""An operations check of the static-files mount, independent of the test suites: its own
HTTP/1.1 client on raw sockets (no shared helpers), its own tree, build/demo (the optimised
build, as deployed) serving it with --static-dir DIR. It tries what an operator and an
attacker would: ranges (single, open, suffix, merged, disjoint, unsatisfiable, If-Range),
every conditional and their precedence, HEAD, precompressed negotiation, and 80 traversal
forms (encodings, double encodings, overlong UTF-8, backslashes, NUL, absolute forms,
planted links out of the root), checking that no byte from outside the root ever comes
back. Prints one line per case that fails, then "N passed, N failed".
    python3 tests/ops_static.py [path/to/demo]        (default build/demo)
"""
import gzip, os, re, shutil, socket, subprocess, sys, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD = os.environ.get("BUILD", "build")
DEMO = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", BUILD, "demo")
MARK = b"MARK-OUTSIDE-7f3a"
passed = failed = 0


def check(name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAIL %s %s" % (name, detail), flush=True)


def request(port, target, headers=(), method="GET"):
    """-> (status, {lower-name: value}, body); target is bytes, sent as is."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    req = b"%s %s HTTP/1.1\r\nHost: ops\r\nConnection: close\r\n" % (method.encode(), target)
    for k, v in headers:
        req += k.encode() + b": " + v.encode() + b"\r\n"
    s.sendall(req + b"\r\n")
    data = b""
    while True:
        try:
            b = s.recv(1 << 16)
        except (ConnectionResetError, socket.timeout):
            break
        if not b:
            break
        data += b
    s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    m = re.match(r"HTTP/1\.1 (\d{3}) ", lines[0] + " ")
    if not m:
        return 0, {}, data
    h = {}
    for ln in lines[1:]:
        k, _, v = ln.partition(":")
        h[k.strip().lower()] = v.strip()
    if "content-length" in h and method != "HEAD":
        n = int(h["content-length"])
        if len(body) != n and int(m.group(1)) not in (304, 204):
            return -1, h, body            # framing broken
    return int(m.group(1)), h, body


def main():
    tmp = tempfile.mkdtemp(prefix="ops-static-")
    root, out = os.path.join(tmp, "www"), os.path.join(tmp, "private")
    os.makedirs(os.path.join(root, "docs", "api"))
    os.makedirs(out)
    blob = bytes((i * 31 + i // 251) & 255 for i in range(1 << 20))
    files = {"blob.bin": blob, "docs/readme.txt": b"read me\n" * 50, "docs/api/index.html": b"<h1>api</h1>",
             "app.js": b"console.log('app');\n" * 100, ".env": b"SECRET_TOKEN=" + MARK}
    for k, v in files.items():
        with open(os.path.join(root, k), "wb") as f:
            f.write(v)
    with open(os.path.join(root, "app.js.gz"), "wb") as f:
        f.write(gzip.compress(files["app.js"]))
    for fn in ("secret.txt", "index.html"):
        with open(os.path.join(out, fn), "wb") as f:
            f.write(MARK)
    os.symlink(os.path.join(out, "secret.txt"), os.path.join(root, "docs", "abs-link.txt"))
    os.symlink("../../private/secret.txt", os.path.join(root, "docs", "rel-link.txt"))
    os.symlink("../private", os.path.join(root, "priv"))
    os.symlink("/etc", os.path.join(root, "etc"))
    proc = subprocess.Popen([DEMO, "--port", "0", "--workers", "2", "--static-dir", root],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = proc.stdout.readline()
        port = int(re.search(r":(\d+)", line).group(1))
        run(port, root, files, blob)
    finally:
        proc.terminate()
        rc = proc.wait(timeout=20)
        check("clean exit", rc == 0, rc)
        shutil.rmtree(tmp, ignore_errors=True)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


def run(port, root, files, blob):
    n = len(blob)
    st, h, body = request(port, b"/static/blob.bin")
    check("get", st == 200 and body == blob, st)
    et, lm = h.get("etag", ""), h.get("last-modified", "")
    check("etag strong", re.match(r'^"[^"]+"$', et) is not None, et)
    check("accept-ranges", h.get("accept-ranges") == "bytes")
    st, h2, body = request(port, b"/static/blob.bin", method="HEAD")
    check("head", st == 200 and body == b"" and h2.get("content-length") == str(n) and h2.get("etag") == et)
    # ranges
    for spec, a, b in (("0-0", 0, 0), ("0-1023", 0, 1023), ("1000-", 1000, n - 1), ("-1", n - 1, n - 1),
                       ("-2048", n - 2048, n - 1), ("1048000-2000000", 1048000, n - 1),
                       ("0-99,100-199", 0, 199), ("500-600,550-700", 500, 700)):
        st, h, body = request(port, b"/static/blob.bin", [("Range", "bytes=" + spec)])
        check("range %s" % spec, st == 206 and body == blob[a:b + 1]
              and h.get("content-range") == "bytes %d-%d/%d" % (a, b, n), (st, h.get("content-range")))
    for spec in ("bytes=%d-" % n, "bytes=%d-%d" % (n + 5, n + 10), "bytes=-0"):
        st, h, body = request(port, b"/static/blob.bin", [("Range", spec)])
        check("416 %s" % spec, st == 416 and h.get("content-range") == "bytes */%d" % n, (st, h))
    for spec in ("bytes=0-1,5000-6000", "bytes=10-5", "pages=1-2", "bytes=abc"):
        st, h, body = request(port, b"/static/blob.bin", [("Range", spec)])
        check("whole for %s" % spec, st == 200 and body == blob, st)
    for ir, want in ((et, 206), ('"stale"', 200), ("W/" + et, 200)):
        st, h, body = request(port, b"/static/blob.bin", [("Range", "bytes=0-9"), ("If-Range", ir)])
        check("if-range %s" % ir, st == want, st)
    # conditionals
    old_date = "Thu, 01 Jan 1998 00:00:00 GMT"
    future = "Fri, 01 Jan 2100 00:00:00 GMT"
    for hdrs, want in (([("If-None-Match", et)], 304), ([("If-None-Match", '"x", ' + et)], 304),
                       ([("If-None-Match", "*")], 304), ([("If-None-Match", '"x"')], 200),
                       ([("If-Modified-Since", lm)], 304), ([("If-Modified-Since", old_date)], 200),
                       ([("If-Modified-Since", future)], 304), ([("If-Match", et)], 200),
                       ([("If-Match", '"x"')], 412), ([("If-Unmodified-Since", old_date)], 412),
                       ([("If-Unmodified-Since", future)], 200),
                       ([("If-None-Match", '"x"'), ("If-Modified-Since", lm)], 200),
                       ([("If-Match", '"x"'), ("If-None-Match", et)], 412),
                       ([("If-None-Match", et), ("Range", "bytes=0-5")], 304)):
        for method in ("GET", "HEAD"):
            st, h, body = request(port, b"/static/blob.bin", hdrs, method)
            check("cond %r %s" % (hdrs, method), st == want, st)
            if st == 304:
                check("304 bare", body == b"" and h.get("etag") == et)
    # negotiation
    st, h, body = request(port, b"/static/app.js", [("Accept-Encoding", "gzip")])
    check("gzip variant", st == 200 and h.get("content-encoding") == "gzip"
          and gzip.decompress(body) == files["app.js"] and "accept-encoding" in h.get("vary", "").lower())
    st, h, body = request(port, b"/static/app.js", [("Accept-Encoding", "gzip;q=0")])
    check("q=0 refuses", st == 200 and "content-encoding" not in h and body == files["app.js"])
    st, h, body = request(port, b"/static/app.js")
    check("no AE: identity + Vary", st == 200 and body == files["app.js"] and "vary" in h)
    # directories
    st, h, _ = request(port, b"/static/docs")
    check("dir redirect", st == 301 and h.get("location") == "/static/docs/", (st, h.get("location")))
    st, _, body = request(port, b"/static/docs/api/")
    check("index", st == 200 and body == files["docs/api/index.html"])
    st, _, _ = request(port, b"/static/docs/")
    check("no listing", st == 404, st)
    st, h, _ = request(port, b"/static/blob.bin", method="PUT")
    check("405", st == 405 and "GET" in h.get("allow", ""), st)
    # traversal: 80 forms
    forms = [
        b"../private/secret.txt", b"..%2fprivate%2fsecret.txt", b"%2e%2e/private/secret.txt",
        b"%2e%2e%2fprivate%2fsecret.txt", b"%252e%252e/private/secret.txt", b"%252e%252e%252fprivate",
        b"..%252fprivate%252fsecret.txt", b"docs/../../private/secret.txt", b"docs/%2e%2e/%2e%2e/private/secret.txt",
        b"docs%2f..%2f..%2fprivate%2fsecret.txt", b"..\\private\\secret.txt", b"..%5cprivate%5csecret.txt",
        b"%5c..%5cprivate", b"docs\\..\\..\\private", b"%c0%ae%c0%ae/private/secret.txt",
        b"%c0%ae%c0%ae%c0%afprivate", b"%e0%80%ae%e0%80%ae/private", b"%f0%80%80%ae%f0%80%80%ae/private",
        b"%c1%9c..%c1%9cprivate", b"%c0%2e%c0%2e/private", b"..%c0%afprivate%c0%afsecret.txt",
        b"..%e0%80%afprivate", b"%uff0e%uff0e/private", b"%u002e%u002e/private", b".%2e/private/secret.txt",
        b"%2e./private/secret.txt", b"....//private/secret.txt", b"..../private", b"..;/private/secret.txt",
        b"docs/..;/..;/private", b"/private/secret.txt", b"//private/secret.txt", b"%2fprivate%2fsecret.txt",
        b"%2F%2Fetc%2Fpasswd", b"///etc/passwd", b"docs//readme.txt", b"blob.bin%00.txt", b"%00",
        b"docs%00/readme.txt", b".env", b"%2eenv", b"docs/../.env", b"docs/%2e%2e/.env",
        b"docs/abs-link.txt", b"docs/rel-link.txt", b"priv/secret.txt", b"priv/", b"priv", b"priv/index.html",
        b"etc/passwd", b"etc/", b"docs/abs-link.txt%00", b"docs/rel-link.txt/", b"docs/./../../private/secret.txt",
        b"docs/api/../../../private/secret.txt", b"docs/api/%2e%2e%2f%2e%2e%2f%2e%2e%2fprivate",
        b"%2e%2e/" * 10 + b"etc/passwd", b"../" * 10 + b"etc/passwd", b"..%2f" * 10 + b"etc%2fpasswd",
        b"%25%32%65%25%32%65/private", b"%%32%65%%32%65/private", b"%2", b"%zz/private", b"%", b"a%0d%0aSet-Cookie:x=1",
        b"%01%02", b"%7f", b"%ff", b"%fe%ff", b"%ed%a0%80/x", b"%f4%90%80%80", b"docs/%c3", b".%00./private",
        b"..%00/private", b"docs/readme.txt/..%2f..%2f..%2fprivate", b"?/../../private", b"#/../private",
        b"docs/api/index.html/../../../private", b"docs/readme.txt%2f..%2f..%2f.env",
        b"%2e%2e%5c%2e%2e%5cprivate", b"docs/abs-link.txt?x=1",
    ]
    check("80+ traversal forms", len(forms) >= 80, len(forms))
    for f in forms:
        try:
            st, h, body = request(port, b"/static/" + f)
        except OSError as e:
            check("traversal %r" % f, False, e)
            continue
        # 0: the server refused the request line itself (bytes a parser must not take)
        ok = st in (0, 400, 403, 404)
        if f.startswith(b"?") or f.startswith(b"#"):
            ok = st in (0, 200, 400, 404)        # "?..." is a query, "#" is refused: the index or 4xx
        check("traversal %r" % f, ok and MARK not in body and b"root:" not in body
              and "location" not in h, (st, body[:60]))


if __name__ == "__main__":
    sys.exit(main())
