"""Static files (the >>static sections) through build/demo-asan's /static/ mount
(--static-dir DIR) and examples/firmware.c (packed assets, built here from a temp dir with
tools/httpd_pack): conditional requests, ranges (curl -r, curl -C -, If-Range), HEAD,
precompressed .br/.gz negotiation, directories, a traversal corpus of 60+ forms with links
planted in the root, a file edited during a range download, a slow reader on a 1 GiB sparse
file (server memory flat), and headless Chromium loading a page with images and a
stylesheet, then reloading it with 304s. Real clients: curl, http.client, raw sockets."""
import hashlib, http.client, json, os, re, shutil, socket, subprocess, sys, tempfile, time
import urllib.request, signal
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pyharness
from pyharness import Demo, ROOT, test, run_all, read_to_close, parse_one

_n = len(pyharness._tests)
import test_forms                     # the DevTools client (WS, evaluate, ours, bounded)
del pyharness._tests[_n:]             # ... without registering the upload tests here
from test_forms import WS, evaluate, ours, bounded, CHROMIUM

SECRET = b"OUTSIDE-SECRET-42"
PAGE = b"""<!DOCTYPE html><html><head><meta charset="utf-8"><title>t</title>
<link rel="stylesheet" href="style.css"></head><body>
<img id="a" src="img/a.png"><img id="b" src="img/b.svg"><script src="app.js"></script>
</body></html>"""
CSS = b"body { background-color: rgb(1, 2, 3); }\n" + b"/* padding */\n" * 200
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"><rect width="8" height="8"/></svg>'
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c6360f8cf000000030101007e18dd8c"
                    "0000000049454e44ae426082")
JS = b"document.title = 'loaded';\n"


class Tree:
    """root/ with a page, variants, big and empty files, a hidden file, a directory, and
    links planted to the outside; outside/ holds the secret."""

    def __enter__(self):
        self.tmp = tempfile.mkdtemp(prefix="httpd-static-")
        self.root = os.path.join(self.tmp, "root")
        self.out = os.path.join(self.tmp, "outside")
        for d in ("root/img", "root/sub", "root/sub/inner", "root/nested", "outside"):
            os.makedirs(os.path.join(self.tmp, d))
        self.data = {}
        self.put("index.html", PAGE)
        self.put("style.css", CSS)
        self.put("img/a.png", PNG)
        self.put("img/b.svg", SVG)
        self.put("app.js", JS)
        self.put("big.bin", os.urandom(3 * 1000 * 1000 + 7))
        self.put("empty.txt", b"")
        self.put("small.txt", b"0123456789abcdefghij")
        self.put(".secret", b"hidden-file")
        self.put("sub/inner/index.html", b"<p>inner</p>")
        self.put("sub/file.txt", b"sub-file")
        self.put("nested/page.html", b"<p>nested</p>")
        with open(os.path.join(self.out, "secret.txt"), "wb") as f:
            f.write(SECRET)
        with open(os.path.join(self.out, "index.html"), "wb") as f:
            f.write(SECRET)
        # variants, newer than their originals
        subprocess.run(["gzip", "-9", "-n", "-k", os.path.join(self.root, "style.css")], check=True)
        subprocess.run(["brotli", "-k", "-q", "11", os.path.join(self.root, "style.css")], check=True)
        for ext in (".gz", ".br"):
            p = os.path.join(self.root, "style.css" + ext)
            t = os.stat(os.path.join(self.root, "style.css")).st_mtime + 5
            os.utime(p, (t, t))
            with open(p, "rb") as f:
                self.data["style.css" + ext] = f.read()
        # a stale variant: older than its original, never served
        self.put("stale.js", b"var fresh = 1;\n" * 20)
        with open(os.path.join(self.root, "stale.js.gz"), "wb") as f:
            f.write(b"STALE-GZ")
        os.utime(os.path.join(self.root, "stale.js.gz"), (1000, 1000))
        for target, name in (("/etc/passwd", "passwd"), (os.path.join(self.out, "secret.txt"), "abs.txt"),
                             ("../outside/secret.txt", "rel.txt"), ("../outside", "outdir"),
                             ("../small.txt", "sub/in.txt"), ("..", "sub/up"), ("/", "rootfs"),
                             ("sub", "sublink"), ("../../outside/secret.txt", "sub/inner/deep.txt"),
                             ("/proc/self/root/etc/passwd", "magic"), ("loop", "loop")):
            os.symlink(target, os.path.join(self.root, name))
        return self

    def put(self, name, data):
        with open(os.path.join(self.root, name), "wb") as f:
            f.write(data)
        self.data[name] = data

    def __exit__(self, *a):
        shutil.rmtree(self.tmp, ignore_errors=True)


def serve(tree, *flags):
    return Demo(workers=1, args=["--static-dir", tree.root] + list(flags))


def get(d, path, headers=None, method="GET"):
    c = http.client.HTTPConnection(*d.addr(), timeout=20)
    c.request(method, path, headers=headers or {})
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, body


def raw(d, path, extra=b"", method=b"GET"):
    """One request with the target sent byte for byte; (status, body)."""
    s = socket.create_connection(d.addr(), timeout=10)
    s.sendall(method + b" " + path + b" HTTP/1.1\r\nHost: t\r\nConnection: close\r\n" + extra + b"\r\n")
    data = read_to_close(s)
    r, _ = parse_one(data, 0, method.decode(), closed=True)
    return r.status, r.h, r.body


def curl(*args, timeout=60):
    return subprocess.run(["curl", "-s", "--max-time", "30"] + list(args), capture_output=True,
                          timeout=timeout)


@test
def test_get_head_and_validators():
    with Tree() as t, serve(t) as d:
        st, h, body = get(d, "/static/small.txt")
        assert st == 200 and body == t.data["small.txt"]
        assert h["content-type"] == "text/plain; charset=utf-8" and h["accept-ranges"] == "bytes"
        assert re.match(r'^"[0-9a-f]+-[0-9a-f]+-[0-9a-f]+"$', h["etag"]), h["etag"]
        mtime = int(os.stat(os.path.join(t.root, "small.txt")).st_mtime)
        assert h["last-modified"] == time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(mtime))
        st2, h2, body2 = get(d, "/static/small.txt", method="HEAD")
        assert st2 == 200 and body2 == b"" and h2["content-length"] == "20"
        per_request = ("date", "x-request-id")           # the demo gives each request an id
        assert {k: v for k, v in h2.items() if k not in per_request} == \
            {k: v for k, v in h.items() if k not in per_request}
        for name, ctype in (("index.html", "text/html; charset=utf-8"), ("img/a.png", "image/png"),
                            ("img/b.svg", "image/svg+xml"), ("app.js", "text/javascript; charset=utf-8"),
                            ("big.bin", "application/octet-stream")):
            st, h, body = get(d, "/static/" + name)
            assert (st, h["content-type"], body) == (200, ctype, t.data[name]), name
        st, h, body = get(d, "/static/empty.txt")
        assert st == 200 and body == b"" and h["content-length"] == "0"
        # the ETag follows the content: an edit changes it
        os.utime(os.path.join(t.root, "small.txt"), (mtime + 10, mtime + 10))
        assert get(d, "/static/small.txt")[1]["etag"] != h2["etag"]
        # curl sees the same
        out = curl("-D", "-", "-o", "/dev/null", "http://%s:%d/static/big.bin" % d.addr()).stdout
        assert b"HTTP/1.1 200" in out and b"Content-Length: 3000007" in out


@test
def test_conditional_requests():
    with Tree() as t, serve(t) as d:
        _, h, _ = get(d, "/static/small.txt")
        et, lm = h["etag"], h["last-modified"]
        lm_t = int(os.stat(os.path.join(t.root, "small.txt")).st_mtime)
        older = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(lm_t - 100))
        newer = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(lm_t + 100))
        rfc850 = time.strftime("%A, %d-%b-%y %H:%M:%S GMT", time.gmtime(lm_t))
        asctime = time.strftime("%a %b %e %H:%M:%S %Y", time.gmtime(lm_t))
        weak = "W/" + et
        cases = [
            ({"If-None-Match": et}, 304), ({"If-None-Match": weak}, 304),
            ({"If-None-Match": '"nope", ' + et}, 304), ({"If-None-Match": "*"}, 304),
            ({"If-None-Match": '"nope"'}, 200),
            ({"If-Modified-Since": lm}, 304), ({"If-Modified-Since": newer}, 304),
            ({"If-Modified-Since": older}, 200), ({"If-Modified-Since": "yesterday"}, 200),
            ({"If-Modified-Since": rfc850}, 304), ({"If-Modified-Since": asctime}, 304),
            ({"If-None-Match": '"nope"', "If-Modified-Since": lm}, 200),    # INM wins
            ({"If-None-Match": et, "If-Modified-Since": older}, 304),
            ({"If-Match": et}, 200), ({"If-Match": "*"}, 200), ({"If-Match": '"nope"'}, 412),
            ({"If-Match": weak}, 412),                                     # strong comparison
            ({"If-Unmodified-Since": newer}, 200), ({"If-Unmodified-Since": lm}, 200),
            ({"If-Unmodified-Since": older}, 412), ({"If-Unmodified-Since": "garbage"}, 200),
            ({"If-Match": et, "If-Unmodified-Since": older}, 200),         # IM wins
            ({"If-Match": '"nope"', "If-None-Match": et}, 412),             # step 1 first
            ({"If-Match": et, "If-None-Match": et}, 304),
            ({"If-Unmodified-Since": older, "If-None-Match": et}, 412),
        ]
        for hdrs, want in cases:
            for method in ("GET", "HEAD"):
                st, h, body = get(d, "/static/small.txt", hdrs, method)
                assert st == want, (hdrs, method, st)
                if st == 304:
                    assert body == b"" and h["etag"] == et and "content-length" not in h, h
                if st == 200 and method == "GET":
                    assert body == t.data["small.txt"]
        # curl's own conditional download
        url = "http://%s:%d/static/small.txt" % d.addr()
        out = curl("-o", "/dev/null", "-w", "%{http_code}", "-z", lm, url).stdout
        assert out == b"304", out


@test
def test_ranges():
    with Tree() as t, serve(t) as d:
        data = t.data["big.bin"]
        n = len(data)
        old = time.time() - 1000              # a date validator is strong once its second is over
        os.utime(os.path.join(t.root, "big.bin"), (old, old))
        _, h, _ = get(d, "/static/big.bin", method="HEAD")
        et, lm = h["etag"], h["last-modified"]
        for spec, (a, b) in (("0-0", (0, 0)), ("0-99", (0, 99)), ("100-", (100, n - 1)),
                             ("-500", (n - 500, n - 1)), ("-99999999", (0, n - 1)),
                             ("2999000-99999999", (2999000, n - 1)), ("5-5", (5, 5)),
                             ("0-9,10-19", (0, 19)), ("50-99, 0-60", (0, 99))):
            st, h, body = get(d, "/static/big.bin", {"Range": "bytes=" + spec})
            assert st == 206, (spec, st)
            assert h["content-range"] == "bytes %d-%d/%d" % (a, b, n), (spec, h["content-range"])
            assert body == data[a:b + 1] and h["content-length"] == str(b - a + 1)
            assert h["etag"] == et
        for spec in ("3000007-", "4000000-5000000", "-0"):
            st, h, body = get(d, "/static/big.bin", {"Range": "bytes=" + spec})
            assert st == 416 and h["content-range"] == "bytes */%d" % n, (spec, st, h)
        for r in ("bytes=0-9,100-109", "bytes=9-5", "bytes=x", "items=0-5", "bytes=", "0-5"):
            st, h, body = get(d, "/static/big.bin", {"Range": r})
            assert st == 200 and body == data and "content-range" not in h, (r, st)
        st, _, _ = get(d, "/static/empty.txt", {"Range": "bytes=0-"})
        assert st == 416
        # If-Range: the ETag or the exact date -> 206; anything else -> the whole 200
        for ir, want in ((et, 206), ('"other"', 200), ("W/" + et, 200), (lm, 206),
                         ("Sun, 06 Nov 1994 08:49:37 GMT", 200)):
            st, h, body = get(d, "/static/big.bin", {"Range": "bytes=10-19", "If-Range": ir})
            assert st == want, (ir, st)
            assert body == (data[10:20] if want == 206 else data)
        # Range is for GET only; HEAD gets the 200 head
        st, h, body = get(d, "/static/big.bin", {"Range": "bytes=0-9"}, "HEAD")
        assert st == 200 and h["content-length"] == str(n) and body == b""
        # a range that fails its precondition
        st, _, _ = get(d, "/static/big.bin", {"Range": "bytes=0-9", "If-Match": '"x"'})
        assert st == 412
        # curl: -r, and a resumed download (-C -) after a cut one
        url = "http://%s:%d/static/big.bin" % d.addr()
        assert curl("-r", "1000-1999", url).stdout == data[1000:2000]
        part = os.path.join(t.tmp, "part.bin")
        with open(part, "wb") as f:
            f.write(data[:1234567])
        r = curl("-C", "-", "-o", part, url)
        assert r.returncode == 0, r.stderr
        with open(part, "rb") as f:
            assert hashlib.sha256(f.read()).digest() == hashlib.sha256(data).digest()


@test
def test_precompressed_negotiation():
    with Tree() as t, serve(t) as d:
        _, hid, plain = get(d, "/static/style.css")
        assert plain == CSS and hid["vary"] == "Accept-Encoding" and "content-encoding" not in hid
        cases = [("br", "br"), ("gzip", "gzip"), ("gzip, deflate, br", "br"),
                 ("br;q=0.5, gzip", "gzip"), ("br;q=0, gzip;q=0", None), ("identity", None),
                 ("gzip;q=0.5, identity;q=0.9", None), ("*", "br"), ("*;q=0.1, identity", None),
                 ("x-gzip", "gzip"), ("GZIP;Q=1", "gzip"), ("deflate", None), ("", None)]
        seen = {}
        for ae, want in cases:
            st, h, body = get(d, "/static/style.css", {"Accept-Encoding": ae})
            assert st == 200 and h.get("content-encoding") == want, (ae, h.get("content-encoding"))
            assert h["vary"] == "Accept-Encoding" and h["content-type"] == "text/css; charset=utf-8"
            ext = {"br": ".br", "gzip": ".gz", None: ""}[want]
            assert body == (t.data["style.css" + ext] if ext else CSS), ae
            seen.setdefault(want, set()).add(h["etag"])
        assert all(len(v) == 1 for v in seen.values()) and len(set.union(*seen.values())) == 3
        # a variant's own validators: 304 with its ETag, ranges over the encoded bytes
        et_br = next(iter(seen["br"]))
        st, h, _ = get(d, "/static/style.css", {"Accept-Encoding": "br", "If-None-Match": et_br})
        assert st == 304 and h["etag"] == et_br and h["vary"] == "Accept-Encoding"
        st, h, _ = get(d, "/static/style.css", {"Accept-Encoding": "gzip", "If-None-Match": et_br})
        assert st == 200 and h["content-encoding"] == "gzip"
        st, h, body = get(d, "/static/style.css", {"Accept-Encoding": "br", "Range": "bytes=0-9"})
        assert st == 206 and body == t.data["style.css.br"][:10] and h["content-encoding"] == "br"
        # identity refused and no variant: 406; a stale variant is never served
        st, _, _ = get(d, "/static/app.js", {"Accept-Encoding": "identity;q=0"})
        assert st == 406
        st, h, body = get(d, "/static/stale.js", {"Accept-Encoding": "gzip"})
        assert st == 200 and "content-encoding" not in h and body == t.data["stale.js"]
        # images are not negotiated: no Vary
        assert "vary" not in get(d, "/static/img/a.png", {"Accept-Encoding": "gzip"})[1]
        # curl --compressed decodes what it got back to the original
        url = "http://%s:%d/static/style.css" % d.addr()
        r = curl("--compressed", "-D", "-", url)
        assert r.stdout.endswith(CSS) and b"Content-Encoding: " in r.stdout, r.stdout[:300]


@test
def test_directories_and_methods():
    with Tree() as t, serve(t) as d:
        st, h, body = get(d, "/static/sub?x=1")
        assert st == 301 and h["location"] == "/static/sub/?x=1", (st, h)
        st, h, body = get(d, "/static/sub/inner")
        assert st == 301 and h["location"] == "/static/sub/inner/"
        assert get(d, "/static/sub/inner/")[2] == b"<p>inner</p>"
        assert get(d, "/static/")[2] == PAGE                       # index.html
        assert get(d, "/static/sub/")[0] == 404                    # no index, no listing
        assert get(d, "/static/small.txt/")[0] == 404              # a file is no directory
        st, h, _ = get(d, "/static/small.txt", method="POST")
        assert st == 405 and "GET" in h["allow"] and "HEAD" in h["allow"]
        st, h, _ = get(d, "/static/small.txt", method="DELETE")
        assert st == 405
        # a name that needs escaping redirects to a valid URL
        os.mkdir(os.path.join(t.root, "sp ace<x>"))
        st, h, _ = raw(d, b"/static/sp%20ace%3Cx%3E")
        assert st == 301 and h["location"] == "/static/sp%20ace%3Cx%3E/", h
    with Tree() as t:
        t.put("sub/<b>&'x\".txt", b"odd")
        with serve(t, "--static-listings") as d:
            st, h, body = get(d, "/static/sub/")
            assert st == 200 and h["content-type"].startswith("text/html")
            assert b"&lt;b&gt;&amp;&#39;x&quot;.txt" in body and b"<b>" not in body
            assert b'href="%3Cb%3E%26%27x%22.txt"' in body
            assert b'href="inner/"' in body and b"file.txt" in body and b"in.txt" not in body
            st, _, body = get(d, "/static/")
            assert b".secret" not in body and b"passwd" not in body
            st, _, body = raw(d, b"/static/sub/%3Cb%3E%26%27x%22.txt")
            assert st == 200 and body == b"odd"


TRAVERSAL = [
    b"/static/../../../etc/passwd", b"/static/..%2f..%2f..%2fetc%2fpasswd",
    b"/static/%2e%2e/%2e%2e/etc/passwd", b"/static/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    b"/static/%252e%252e/%252e%252e/etc/passwd", b"/static/..%252f..%252fetc%252fpasswd",
    b"/static/sub/../../outside/secret.txt", b"/static/sub%2f..%2f..%2foutside%2fsecret.txt",
    b"/static/..\\..\\outside\\secret.txt", b"/static/..%5c..%5coutside%5csecret.txt",
    b"/static/%5c..%5coutside", b"/static/sub\\..\\.secret",
    b"/static/%c0%ae%c0%ae/outside/secret.txt", b"/static/%c0%af..%c0%afoutside",
    b"/static/%e0%80%ae%e0%80%ae/outside/secret.txt", b"/static/%c1%9c..%c1%9coutside",
    b"/static/%f0%80%80%ae%f0%80%80%ae/outside", b"/static/%ed%a0%80", b"/static/%ff%fe",
    b"/static/small.txt%00.png", b"/static/%00", b"/static/sub%00/file.txt",
    b"/static//etc/passwd", b"/static//outside/secret.txt", b"/static/%2fetc%2fpasswd",
    b"/static/%2Fetc%2Fpasswd", b"/static/sub//file.txt",
    b"/static/passwd", b"/static/abs.txt", b"/static/rel.txt", b"/static/outdir/secret.txt",
    b"/static/outdir/", b"/static/outdir", b"/static/rootfs/etc/passwd", b"/static/rootfs/",
    b"/static/magic", b"/static/loop", b"/static/sub/inner/deep.txt",
    b"/static/sub/up/rel.txt", b"/static/sub/up/outdir/secret.txt", b"/static/sublink/up/passwd",
    b"/static/.secret", b"/static/%2esecret", b"/static/sub/../.secret", b"/static/.%2e/outside",
    b"/static/....//....//etc/passwd", b"/static/..;/outside/secret.txt",
    b"/static/%u002e%u002e/outside", b"/static/.../outside", b"/static/sub/./../../outside/secret.txt",
    b"/static/%25%32%65%25%32%65/outside/secret.txt", b"/static/%%32%65%%32%65/outside",
    b"/static/%2e%2e/%2e%2e", b"/static/../..", b"/static/sub/../../..", b"/static/%2e%2e%2f",
    b"/static/sub/%2e%2e/%2e%2e/outside/secret.txt", b"/static/sub/inner/%2e%2e%2f%2e%2e%2f%2e%2e%2foutside",
    b"/static/sub%5c..%5c..%5coutside", b"/static/%01", b"/static/a%0d%0aX-Injected:%201",
    b"http://t/static/../outside/secret.txt", b"/static/sub/up/sub/up/rel.txt",
    b"/static/" + b"%2e%2e/" * 40 + b"etc/passwd", b"/static/" + b"a/" * 3000 + b"x",
]


def traversal_checks(d, allowed=(400, 403, 404)):
    for p in TRAVERSAL:
        try:
            st, h, body = raw(d, p)
        except ValueError:            # the server refused the request line itself
            continue
        assert st in allowed, (p[:80], st)
        assert SECRET not in body and b"root:" not in body and b"hidden-file" not in body, p[:80]
        assert "location" not in h, (p[:80], h)


@test
def test_traversal_corpus():
    assert len(TRAVERSAL) > 60
    with Tree() as t:
        with serve(t) as d:
            traversal_checks(d)
            assert get(d, "/static/sub/in.txt")[0] == 404              # links are refused
        with serve(t, "--static-follow-symlinks") as d:
            traversal_checks(d)                                        # ... or kept inside
            assert get(d, "/static/sub/in.txt")[2] == t.data["small.txt"]
            assert get(d, "/static/sublink/file.txt")[2] == b"sub-file"
            assert get(d, "/static/sub/up/small.txt")[2] == t.data["small.txt"]
        with serve(t, "--static-listings", "--static-follow-symlinks") as d:
            traversal_checks(d)
        # curl and http.client normalise some forms themselves; they must fare no better
        with serve(t) as d:
            base = "http://%s:%d" % d.addr()
            for p in ("/static/../../etc/passwd", "/static/%2e%2e/%2e%2e/etc/passwd",
                      "/static/rel.txt", "/static/outdir/secret.txt"):
                r = curl("--path-as-is", "-o", "-", "-w", "\n%{http_code}", base + p)
                code = r.stdout.rsplit(b"\n", 1)[-1]
                assert code in (b"400", b"403", b"404") and SECRET not in r.stdout, (p, r.stdout[-200:])


@test
def test_file_edited_during_range_download():
    """The file is rewritten in place while a range of it is being sent: the response is
    cut short (the connection closes before Content-Length bytes), never a full-length
    body mixing two versions. Then a new request gets the new version and a new ETag."""
    with Tree() as t:
        size = 24 * 1000 * 1000
        old = os.urandom(size)
        t.put("grow.bin", old)
        with serve(t) as d:
            _, h, _ = get(d, "/static/grow.bin", method="HEAD")
            s = socket.create_connection(d.addr(), timeout=10)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
            s.sendall(b"GET /static/grow.bin HTTP/1.1\r\nHost: t\r\nRange: bytes=1000-%d\r\n\r\n" % (size - 1000))
            buf = b""
            while b"\r\n\r\n" not in buf:
                buf += s.recv(65536)
            head, body = buf.split(b"\r\n\r\n", 1)
            assert b"206" in head.split(b"\r\n")[0]
            time.sleep(0.3)
            new = os.urandom(size)
            with open(os.path.join(t.root, "grow.bin"), "r+b") as f:      # in place
                f.write(new)
            body += read_to_close(s)
            want = size - 1999
            # cut short: a full-length body would mix two versions (even the bytes queued
            # before the edit may be new ones: sendfile queues page-cache pages, not copies)
            assert len(body) < want, "a full-length body after an edit mixes two versions"
            st, h2, b2 = get(d, "/static/grow.bin")
            assert st == 200 and b2 == new and h2["etag"] != h["etag"]


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))


@test
@bounded(120)
def test_slow_reader_1gib_sparse_memory_flat():
    with Tree() as t:
        p = os.path.join(t.root, "huge.img")
        with open(p, "wb") as f:
            f.truncate(1 << 30)                            # sparse: no disk used
        with serve(t) as d:
            get(d, "/static/small.txt")                    # warm up
            base = rss_kb(d.proc.pid)
            s = socket.create_connection(d.addr(), timeout=20)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32768)
            s.sendall(b"GET /static/huge.img HTTP/1.1\r\nHost: t\r\n\r\n")
            buf = b""
            while b"\r\n\r\n" not in buf:
                buf += s.recv(4096)
            head, body = buf.split(b"\r\n\r\n", 1)
            assert b"Content-Length: 1073741824" in head
            got, peak, t0 = len(body), 0, time.time()
            while time.time() - t0 < 3:                   # slow: 64 KiB every 20 ms
                b = s.recv(65536)
                assert b and not b.strip(b"\0")
                got += len(b)
                time.sleep(0.02)
                peak = max(peak, rss_kb(d.proc.pid))
            while got < 1 << 30 and time.time() - t0 < 90:  # then fast, to the end
                b = s.recv(1 << 20)
                assert b
                got += len(b)
                if got % (64 << 20) < (1 << 20):
                    peak = max(peak, rss_kb(d.proc.pid))
            assert got == 1 << 30, got
            assert peak - base < 16 * 1024, (base, peak)     # flat: no copy of the file
            s.close()


def firmware_binary(tmp, srcdir):
    """Packs srcdir with tools/httpd_pack and builds examples/firmware.c against it."""
    pack = os.path.join(ROOT, os.environ.get("BUILD", "build"), "httpd_pack")
    with open(os.path.join(tmp, "www_assets.c"), "wb") as f:
        subprocess.run([pack, "--name", "www_assets", "--gzip", "--brotli", srcdir], stdout=f,
                       check=True, timeout=60)
    exe = os.path.join(tmp, "firmware")
    subprocess.run(["cc", "-std=c11", "-Wall", "-Wextra", "-Werror", "-O1", "-g",
                    "-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-I", tmp,
                    "-o", exe, os.path.join(ROOT, "examples", "firmware.c"), "-lpthread"],
                   check=True, timeout=120)
    return exe


@test
def test_packed_assets_from_memory():
    with Tree() as t:
        src = os.path.join(t.tmp, "src")
        os.makedirs(os.path.join(src, "js"))
        files = {"index.html": PAGE, "js/app.js": JS * 2000, "blob.bin": os.urandom(300001),
                 "style.css": CSS, ".hidden": b"no"}
        for k, v in files.items():
            with open(os.path.join(src, k), "wb") as f:
                f.write(v)
        exe = firmware_binary(t.tmp, src)
        with Demo(workers=1, binary=exe) as d:
            st, h, body = get(d, "/")
            assert st == 200 and body == PAGE and h["content-type"] == "text/html; charset=utf-8"
            assert h["cache-control"] == "no-cache" and re.match(r'^"[0-9a-f]{16}"$', h["etag"])
            et = h["etag"]
            assert get(d, "/", {"If-None-Match": et})[0] == 304
            assert get(d, "/index.html", {"If-Modified-Since": h["last-modified"]})[0] == 304
            assert get(d, "/", {"If-Match": '"x"'})[0] == 412
            st, h, body = get(d, "/blob.bin")
            assert body == files["blob.bin"] and "vary" not in h
            st, h, body = get(d, "/blob.bin", {"Range": "bytes=100000-299999"})
            assert st == 206 and body == files["blob.bin"][100000:300000]
            assert h["content-range"] == "bytes 100000-299999/300001"
            st, h, _ = get(d, "/blob.bin", {"Range": "bytes=400000-"})
            assert st == 416 and h["content-range"] == "bytes */300001"
            st, h, body = get(d, "/js/app.js", {"Accept-Encoding": "gzip"})
            assert h["content-encoding"] == "gzip" and h["vary"] == "Accept-Encoding"
            import gzip as gz
            assert gz.decompress(body) == files["js/app.js"]
            st, h, body = get(d, "/js/app.js", {"Accept-Encoding": "br, gzip"})
            assert h["content-encoding"] == "br" and len(body) < len(files["js/app.js"])
            r = curl("--compressed", "http://%s:%d/js/app.js" % d.addr())
            assert r.stdout == files["js/app.js"]
            st, h, _ = get(d, "/js")
            assert st == 301 and h["location"] == "/js/"
            assert get(d, "/.hidden")[0] == 404 and get(d, "/nope")[0] == 404
            st, h, body = get(d, "/blob.bin", method="HEAD")
            assert h["content-length"] == "300001" and body == b""
            for p in TRAVERSAL[:30]:
                try:
                    st, _, body = raw(d, p.replace(b"/static", b""))
                except ValueError:
                    continue
                assert st in (400, 404) and SECRET not in body, p


def devtools(profile):
    cmd = [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
           "--user-data-dir=" + profile, "--remote-debugging-port=0",
           "--remote-debugging-address=127.0.0.1", "--no-first-run",
           "--no-default-browser-check", "--disable-extensions", "--disable-sync",
           "--disable-background-networking", "--disable-component-update",
           "--disable-dev-shm-usage", "--mute-audio", "--disable-breakpad", "about:blank"]
    home = os.path.join(profile, "home")
    env = dict(os.environ, HOME=home, XDG_CONFIG_HOME=home, XDG_CACHE_HOME=home,
               CHROMIUM_OF_TEST_FORMS=profile)
    log = open(os.path.join(profile, "chromium.log"), "wb")
    br = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                          env=env, start_new_session=True)
    return br, log


@test
@bounded(90)
def test_chromium_page_then_reload_304():
    if not os.access(CHROMIUM, os.X_OK):
        if os.environ.get("CI"):
            raise AssertionError("%s is missing and CI is set" % CHROMIUM)
        print("SKIP test_chromium_page_then_reload_304: no %s" % CHROMIUM, flush=True)
        return
    with Tree() as t, serve(t, "--static-cache-control", "no-cache") as d:
        profile = tempfile.mkdtemp(prefix="httpd-static-chromium-")
        br, log = devtools(profile)
        ws = None
        try:
            port, end = None, time.time() + 30
            while port is None and time.time() < end:
                assert br.poll() is None, "chromium exited"
                try:
                    with open(os.path.join(profile, "DevToolsActivePort")) as f:
                        port = int(f.readline().strip() or 0) or None
                except (OSError, ValueError):
                    pass
                time.sleep(0.05)
            assert port, "no DevTools port"
            page, end = None, time.time() + 15
            while page is None and time.time() < end:
                with urllib.request.urlopen("http://127.0.0.1:%d/json/list" % port, timeout=5) as r:
                    page = next((x for x in json.load(r) if x.get("type") == "page"
                                 and x.get("webSocketDebuggerUrl")), None)
                time.sleep(0.05 if page is None else 0)
            ws = WS(page["webSocketDebuggerUrl"])
            ws.call("Page.enable")
            ws.call("Network.enable")
            url = "http://%s:%d/static/" % d.addr()

            def load(action):
                """Runs action, waits for the load event; {path: status on the wire} (the
                ExtraInfo events carry what the server sent: a navigation answered 304
                shows as its cached 200 in responseReceived)."""
                ws.events.clear()
                action()
                urls, codes, end = {}, {}, time.time() + 20
                loaded = False
                while time.time() < end and not (loaded and set(urls) <= set(codes)):
                    e = ws.wait_event(lambda e: e["method"] in (
                        "Network.responseReceived", "Network.responseReceivedExtraInfo",
                        "Page.loadEventFired"), 20)
                    p = e.get("params", {})
                    if e["method"] == "Page.loadEventFired":
                        loaded = True
                    elif e["method"] == "Network.responseReceived":
                        if p["response"]["url"].startswith(url):   # not /favicon.ico
                            urls[p["requestId"]] = p["response"]["url"][len(url):]
                    else:
                        codes[p["requestId"]] = p["statusCode"]
                return {u: codes.get(r) for r, u in urls.items()}

            first = load(lambda: ws.call("Page.navigate", url=url))
            assert first == {"": 200, "style.css": 200, "img/a.png": 200, "img/b.svg": 200,
                             "app.js": 200}, first
            assert evaluate(ws, "document.title") == "loaded"
            assert evaluate(ws, "getComputedStyle(document.body).backgroundColor") == "rgb(1, 2, 3)"
            assert evaluate(ws, "[...document.images].every(i => i.complete && i.naturalWidth > 0)")
            again = load(lambda: ws.call("Page.reload"))
            assert again == {"": 304, "style.css": 304, "img/a.png": 304, "img/b.svg": 304,
                             "app.js": 304}, again
            assert evaluate(ws, "getComputedStyle(document.body).backgroundColor") == "rgb(1, 2, 3)"
        finally:
            if ws:
                ws.close()
            try:
                os.killpg(br.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            br.wait(timeout=10)
            log.close()
            for pid in ours("CHROMIUM_OF_TEST_FORMS=" + profile):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(run_all())
