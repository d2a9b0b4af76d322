#!/usr/bin/python3
"""tests/test_smuggling.py - a table of raw requests -> expected status, against the demo.

Error cases: the request is sent together with a valid `GET / HTTP/1.1` in the same write;
exactly one response (the error) must come back, carrying `Connection: close`, and then the
server must close: nothing after a bad request is ever parsed (no desync).
Accepted cases: the request is followed by a valid `GET /` with `Connection: close`; both
answers must come back, in order, with the expected bodies, and then the close (so the
framing of the first request was read exactly).
Some cases are also replayed split at every byte boundary, and a few one byte per send.
Cases run concurrently (they are independent connections) and each test checks its result."""
import concurrent.futures, os, sys, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pyharness import Demo, test, run_all, parse_stream, exchange_close, h11_parse  # noqa: E402

demo = Demo(workers=2)
TIMEOUT = 4.0
G = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
G_CLOSE = b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
HELLO = b"Hello, World!"


def srv():
    if demo.proc is None:
        demo.start()
    elif demo.proc.poll() is not None:
        raise AssertionError("demo died (rc=%s):\n%s" % (demo.proc.returncode, demo.stderr()[-3000:]))
    return demo


# ------------------------------------------------------------------------------- the table
# (name, raw, expected status or set of statuses, kind, method, expected body)
# kind "bad": error + close + nothing after; "ok": answered, then the follow-up GET answered;
# "ok10": an HTTP/1.0 request without keep-alive: answered, then close (follow-up unread).
CASES = []


def bad(name, raw, status=400):
    CASES.append((name, raw, status if isinstance(status, (set, frozenset)) else {status},
                  "bad", None, None))


def ok(name, raw, status=200, method="GET", body=None):
    CASES.append((name, raw, {status}, "ok", method, body))


def ok10(name, raw, status=200, method="GET", body=None):
    CASES.append((name, raw, {status}, "ok10", method, body))


def post(headers, body, target=b"/echo", version=b"HTTP/1.1", host=True):
    return (b"POST " + target + b" " + version + b"\r\n" + (b"Host: x\r\n" if host else b"") +
            headers + b"\r\n" + body)


def get(line_rest=b"/ HTTP/1.1", headers=b"Host: x\r\n"):
    return b"GET " + line_rest + b"\r\n" + headers + b"\r\n"


TE = b"Transfer-Encoding: chunked\r\n"
CHUNKED_HELLO = b"5\r\nhello\r\n0\r\n\r\n"

# --- accepted shapes
ok("get_basic", G, body=HELLO)
ok("leading_crlf_ignored", b"\r\n" + G, body=HELLO)
ok("leading_2crlf_ignored", b"\r\n\r\n" + G, body=HELLO)
ok("http_1_2_as_1_1", get(b"/ HTTP/1.2"), body=HELLO)
ok10("http10_no_host", b"GET / HTTP/1.0\r\n\r\n", body=HELLO)
ok("query", get(b"/?a=b&c=%41%42 HTTP/1.1"), body=HELLO)
ok("dot_segments", get(b"/a/b/../../ HTTP/1.1"), body=HELLO)
ok("absolute_form", get(b"http://x/ HTTP/1.1"), body=HELLO)
ok("absolute_form_mismatching_host", get(b"http://other.example/ HTTP/1.1"), body=HELLO)
ok("absolute_form_with_port", get(b"http://x:80/ HTTP/1.1"), body=HELLO)
ok("host_with_port", get(headers=b"Host: x:8080\r\n"), body=HELLO)
ok("host_ip_literal", get(headers=b"Host: 127.0.0.1:80\r\n"), body=HELLO)
ok("host_ipv6_literal", get(headers=b"Host: [::1]:80\r\n"), body=HELLO)
ok("obs_text_value", get(headers=b"Host: x\r\nX-Name: caf\xe9\x80\xff\r\n"), body=HELLO)
ok("htab_in_value", get(headers=b"Host: x\r\nX-A: a\tb\r\n"), body=HELLO)
ok("empty_value", get(headers=b"Host: x\r\nX-Empty:\r\nX-Empty2: \r\n"), body=HELLO)
ok("ows_around_value", get(headers=b"Host: x\r\nX-A: \t v \t\r\n"), body=HELLO)
ok("options_star", b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", method="OPTIONS", body=b"")
ok("head_root", b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n", method="HEAD", body=b"")
ok("cl_leading_zeros_007", post(b"Content-Length: 007\r\n", b"abcdefg"), method="POST",
   body=b"abcdefg")
ok("cl_zero", post(b"Content-Length: 0\r\n", b""), method="POST", body=b"")
ok("cl_no_space", post(b"Content-Length:5\r\n", b"hello"), method="POST", body=b"hello")
ok("cl_trailing_ows", post(b"Content-Length: 5 \t\r\n", b"hello"), method="POST", body=b"hello")
ok("cl_duplicate_identical", post(b"Content-Length: 5\r\nContent-Length: 5\r\n", b"hello"),
   method="POST", body=b"hello")
ok("cl_list_identical", post(b"Content-Length: 5, 5\r\n", b"hello"), method="POST", body=b"hello")
ok("cl_case_insensitive_name", post(b"content-LENGTH: 5\r\n", b"hello"), method="POST",
   body=b"hello")
ok("get_with_body_that_looks_like_request",
   b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(G) + G, body=HELLO)
ok("te_chunked", post(TE, CHUNKED_HELLO), method="POST", body=b"hello")
ok("te_chunked_uppercase", post(b"Transfer-Encoding: CHUNKED\r\n", CHUNKED_HELLO), method="POST",
   body=b"hello")
ok("te_name_case", post(b"transfer-encoding: Chunked\r\n", CHUNKED_HELLO), method="POST",
   body=b"hello")
ok("te_tab_ows", post(b"Transfer-Encoding:\tchunked\r\n", CHUNKED_HELLO), method="POST",
   body=b"hello")
ok("te_trailing_ows", post(b"Transfer-Encoding: chunked \t\r\n", CHUNKED_HELLO), method="POST",
   body=b"hello")
ok("chunk_ext_name_value", post(TE, b"5;name=value\r\nhello\r\n0\r\n\r\n"), method="POST",
   body=b"hello")
ok("chunk_ext_flag", post(TE, b"5;flag\r\nhello\r\n0\r\n\r\n"), method="POST", body=b"hello")
ok("chunk_ext_several", post(TE, b"5;a=1;b=2\r\nhello\r\n0;c=3\r\n\r\n"), method="POST",
   body=b"hello")
ok("chunk_ext_quoted", post(TE, b'5;name="quoted; value"\r\nhello\r\n0\r\n\r\n'), method="POST",
   body=b"hello")
ok("chunk_size_upper_hex", post(TE, b"A\r\n0123456789\r\n0\r\n\r\n"), method="POST",
   body=b"0123456789")
ok("chunk_size_lower_hex", post(TE, b"a\r\n0123456789\r\nF\r\nabcdefghijklmno\r\n0\r\n\r\n"),
   method="POST", body=b"0123456789abcdefghijklmno")
ok("chunk_size_leading_zeros", post(TE, b"0005\r\nhello\r\n000\r\n\r\n"), method="POST",
   body=b"hello")
ok("chunk_trailers", post(TE, b"5\r\nhello\r\n0\r\nX-T: 1\r\nX-U: two\r\n\r\n"), method="POST",
   body=b"hello")
ok("chunked_empty_body", post(TE, b"0\r\n\r\n"), method="POST", body=b"")
ok("chunked_body_that_looks_like_request",
   post(TE, b"%x\r\n" % len(G) + G + b"\r\n0\r\n\r\n"), method="POST", body=G)
ok("header_100_fields", get(headers=b"Host: x\r\n" + b"".join(b"X-%d: v\r\n" % i
                                                              for i in range(99))), body=HELLO)
ok("head_15k", get(headers=b"Host: x\r\n" + b"".join(b"X-%d: %s\r\n" % (i, b"v" * 990)
                                                     for i in range(15))), body=HELLO)
ok("request_line_8000", get(b"/?" + b"q" * 7980 + b" HTTP/1.1"), body=HELLO)
ok("unknown_path_404", get(b"/nope HTTP/1.1"), status=404)
# answered without running a handler: the body must still be consumed (or the connection closed)
ok("post_404_cl_body_discarded", post(b"Content-Length: %d\r\n" % len(G), G, target=b"/nope"),
   status=404, method="POST")
ok("post_404_chunked_body_discarded",
   post(TE, b"%x\r\n" % len(G) + G + b"\r\n0\r\n\r\n", target=b"/nope"), status=404, method="POST")
ok("post_405_cl_body_discarded", post(b"Content-Length: %d\r\n" % len(G), G, target=b"/"),
   status=405, method="POST")
ok("post_405_chunked_body_discarded",
   post(TE, b"%x\r\n" % len(G) + G + b"\r\n0\r\n\r\n", target=b"/health"), status=405,
   method="POST")
ok("options_star_with_cl_body", b"OPTIONS * HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n"
   % len(G) + G, method="OPTIONS", body=b"")
ok10("http10_post_cl", post(b"Content-Length: 5\r\n", b"hello", version=b"HTTP/1.0", host=False),
     method="POST", body=b"hello")
ok("percent_encoded_path_404", get(b"/%7Enope HTTP/1.1"), status=404)

ok("host_name_lowercase", get(headers=b"host: x\r\n"), body=HELLO)
ok("host_name_uppercase", get(headers=b"HOST: x\r\n"), body=HELLO)
ok("get_with_chunked_body", b"GET / HTTP/1.1\r\nHost: x\r\n" + TE + b"\r\n" +
   b"%x\r\n" % len(G) + G + b"\r\n0\r\n\r\n", body=HELLO)
ok("leading_3crlf_ignored", b"\r\n\r\n\r\n" + G, body=HELLO)
ok("pct_dot_segment_normalized", get(b"/a/%2e%2E/ HTTP/1.1"), body=HELLO)

# --- versions
bad("version_http2", get(b"/ HTTP/2.0"), 505)
bad("version_http3", get(b"/ HTTP/3.0"), 505)
bad("version_http09", get(b"/ HTTP/0.9"), 505)
bad("version_HTTP_1", get(b"/ HTTP/1"))
bad("version_lowercase", get(b"/ http/1.1"))
bad("version_1_10", get(b"/ HTTP/1.10"))
bad("version_space", get(b"/ HTTP/ 1.1"))
bad("version_11_no_dot", get(b"/ HTTP/11"))
bad("version_letter_minor", get(b"/ HTTP/1.a"))
bad("version_trailing_space", get(b"/ HTTP/1.1 "))
bad("version_junk_after", get(b"/ HTTP/1.1x"))
bad("version_missing", get(b"/"))
bad("version_missing_http09_style", b"GET /\r\n\r\n" + G)
# --- request line
bad("rl_double_space_1", get(b" / HTTP/1.1"))
bad("rl_double_space_2", get(b"/  HTTP/1.1"))
bad("rl_tab_1", b"GET\t/ HTTP/1.1\r\nHost: x\r\n\r\n")
bad("rl_tab_2", get(b"/\tHTTP/1.1"))
bad("rl_leading_space", b" " + G)
bad("rl_extra_token", get(b"/ HTTP/1.1 extra"))
bad("rl_method_only", b"GET\r\nHost: x\r\n\r\n")
bad("rl_empty_method", b" / HTTP/1.1\r\nHost: x\r\n\r\n")
bad("method_at", b"G@T / HTTP/1.1\r\nHost: x\r\n\r\n")
bad("method_brace", b"GE{T / HTTP/1.1\r\nHost: x\r\n\r\n")
bad("method_non_ascii", b"G\xc3\x89T / HTTP/1.1\r\nHost: x\r\n\r\n")
bad("method_quote", b'"GET" / HTTP/1.1\r\nHost: x\r\n\r\n')
bad("method_unknown_FOO", b"FOO / HTTP/1.1\r\nHost: x\r\n\r\n", 501)
bad("method_lowercase_get", b"get / HTTP/1.1\r\nHost: x\r\n\r\n", 501)
bad("method_unknown_BREW", b"BREW / HTTP/1.1\r\nHost: x\r\n\r\n", 501)
bad("connect_authority", b"CONNECT x:443 HTTP/1.1\r\nHost: x:443\r\n\r\n", {400, 501})
bad("h2_preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", {400, 501, 505})
# --- request-target
bad("target_star_with_get", get(b"* HTTP/1.1"))
bad("target_authority_with_get", get(b"x:80 HTTP/1.1"))
bad("target_no_slash", get(b"foo HTTP/1.1"))
bad("target_space_inside", get(b"/a b HTTP/1.1"))
bad("target_ctl_01", get(b"/\x01 HTTP/1.1"))
bad("target_del", get(b"/a\x7f HTTP/1.1"))
bad("target_0x80", get(b"/\x80 HTTP/1.1"))
bad("target_0xff", get(b"/a\xff HTTP/1.1"))
bad("target_nul", get(b"/\x00 HTTP/1.1"))
bad("target_fragment", get(b"/#frag HTTP/1.1"))
bad("target_fragment_after_query", get(b"/?a=b#frag HTTP/1.1"))
bad("target_pct_zz", get(b"/%zz HTTP/1.1"))
bad("target_pct_truncated", get(b"/a%4 HTTP/1.1"))
bad("target_pct_truncated_end", get(b"/a% HTTP/1.1"))
bad("target_pct_00", get(b"/a%00b HTTP/1.1"))
bad("target_dotdot_root", get(b"/.. HTTP/1.1"))
bad("target_dotdot_root_slash", get(b"/../ HTTP/1.1"))
bad("target_dotdot_climb", get(b"/a/../../health HTTP/1.1"))
bad("target_pct_dotdot_root", get(b"/%2e%2e/ HTTP/1.1"))
bad("target_pct_dotdot_climb", get(b"/a/%2E%2E/%2e%2e/health HTTP/1.1"))
# --- limits
bad("request_line_9000_414", get(b"/" + b"a" * 9000 + b" HTTP/1.1"), 414)
bad("request_line_20000_414", get(b"/" + b"a" * 20000 + b" HTTP/1.1"), 414)
bad("head_17k_431", get(headers=b"Host: x\r\n" + b"".join(b"X-%d: %s\r\n" % (i, b"v" * 990)
                                                          for i in range(17))), 431)
bad("header_101_fields_431", get(headers=b"Host: x\r\n" + b"".join(b"X-%d: v\r\n" % i
                                                                   for i in range(100))), 431)
bad("header_300_fields_431", get(headers=b"Host: x\r\n" + b"".join(b"X-%d: v\r\n" % i
                                                                   for i in range(299))), 431)
bad("cl_over_cap_413", post(b"Content-Length: 2000000\r\n", b""), 413)
bad("cl_cap_plus_1_413", post(b"Content-Length: 1048577\r\n", b""), 413)
bad("get_cl_over_default_cap_413", b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1048577\r\n\r\n",
    413)
bad("expect_unknown_417", post(b"Content-Length: 5\r\nExpect: bananas\r\n", b"hello"), 417)
bad("header_value_17k_431", get(headers=b"Host: x\r\nX-A: " + b"v" * 17000 + b"\r\n"), 431)
bad("bare_lf_then_long_line", b"GET /a HTTP/1.1\n" + b"X" * 9000 + b"\r\n\r\n")
bad("bare_lf_then_big_head", b"GET /a HTTP/1.1\r\nHost: x\nX-A: " + b"v" * 17000 + b"\r\n\r\n")
# --- line endings, NUL, control characters
bad("bare_lf_after_request_line", b"GET / HTTP/1.1\nHost: x\r\n\r\n")
bad("bare_lf_after_header", b"GET / HTTP/1.1\r\nHost: x\n\r\n")
bad("bare_lf_final", b"GET / HTTP/1.1\r\nHost: x\r\n\n")
bad("bare_lf_everywhere", b"GET / HTTP/1.1\nHost: x\n\n")
bad("bare_lf_leading_line", b"\n" + G)
bad("bare_cr_after_request_line", b"GET / HTTP/1.1\rHost: x\r\n\r\n")
bad("bare_cr_between_headers", b"GET / HTTP/1.1\r\nHost: x\rX-A: y\r\n\r\n")
bad("bare_cr_in_value", b"GET / HTTP/1.1\r\nX-A: a\rb\r\nHost: x\r\n\r\n")
bad("bare_cr_final", b"GET / HTTP/1.1\r\nHost: x\r\n\r\r\n")
bad("bare_cr_in_target", get(b"/a\rb HTTP/1.1"))
bad("bare_cr_leading", b"\r" + G)
bad("nul_leading", b"\x00" + G)
bad("nul_in_method", b"GE\x00T / HTTP/1.1\r\nHost: x\r\n\r\n")
bad("nul_in_version", get(b"/ HTTP/1.1\x00"))
bad("nul_in_header_name", get(headers=b"Host: x\r\nX-\x00A: v\r\n"))
bad("nul_in_header_value", get(headers=b"Host: x\r\nX-A: a\x00b\r\n"))
bad("nul_in_host", get(headers=b"Host: x\x00\r\n"))
bad("ctl_01_in_value", get(headers=b"Host: x\r\nX-A: a\x01b\r\n"))
bad("ctl_del_in_value", get(headers=b"Host: x\r\nX-A: a\x7fb\r\n"))
bad("ctl_esc_in_value", get(headers=b"Host: x\r\nX-A: \x1b[31mred\r\n"))
bad("ctl_vt_in_value", get(headers=b"Host: x\r\nX-A: a\x0bb\r\n"))
bad("ctl_ff_in_value", get(headers=b"Host: x\r\nX-A: a\x0cb\r\n"))
# --- obs-fold, field names
bad("obs_fold_space", get(headers=b"Host: x\r\nX-A: a\r\n b\r\n"))
bad("obs_fold_tab", get(headers=b"Host: x\r\nX-A: a\r\n\tb\r\n"))
bad("obs_fold_te", post(b"Transfer-Encoding:\r\n chunked\r\n", CHUNKED_HELLO))
bad("obs_fold_cl", post(b"Content-Length:\r\n 5\r\n", b"hello"))
bad("first_header_line_starts_with_space", b"GET / HTTP/1.1\r\n Host: x\r\nHost: x\r\n\r\n")
bad("space_before_colon_host", get(headers=b"Host : x\r\n"))
bad("tab_before_colon_host", get(headers=b"Host\t: x\r\n"))
bad("space_before_colon_other", get(headers=b"Host: x\r\nX-A : v\r\n"))
bad("space_before_colon_cl", post(b"Content-Length : 5\r\n", b"hello"))
bad("te_space_before_colon", post(b"Transfer-Encoding : chunked\r\n", CHUNKED_HELLO))
bad("empty_field_name", get(headers=b"Host: x\r\n: v\r\n"))
bad("field_name_at", get(headers=b"Host: x\r\nX@Y: v\r\n"))
bad("field_name_space", get(headers=b"Host: x\r\nX Y: v\r\n"))
bad("field_name_paren", get(headers=b"Host: x\r\nX(Y): v\r\n"))
bad("field_name_non_ascii", get(headers=b"Host: x\r\nX\xe9: v\r\n"))
bad("field_no_colon", get(headers=b"Host: x\r\nFoo\r\n"))
# --- Host
bad("host_missing", get(headers=b""))
bad("host_missing_with_other", get(headers=b"X-A: v\r\n"))
bad("host_twice_identical", get(headers=b"Host: x\r\nHost: x\r\n"))
bad("host_twice_different", get(headers=b"Host: x\r\nHost: y\r\n"))
bad("host_space", get(headers=b"Host: a b\r\n"))
bad("host_slash", get(headers=b"Host: a/b\r\n"))
bad("host_at", get(headers=b"Host: user@h\r\n"))
bad("host_tab_inside", get(headers=b"Host: a\tb\r\n"))
bad("host_twice_case_differs", get(headers=b"Host: x\r\nhost: x\r\n"))
# --- Content-Length
bad("cl_plus", post(b"Content-Length: +5\r\n", b"hello"))
bad("cl_negative", post(b"Content-Length: -1\r\n", b"hello"))
bad("cl_hex", post(b"Content-Length: 0x10\r\n", b"hello"))
bad("cl_space_inside", post(b"Content-Length: 5 5\r\n", b"hello"))
bad("cl_empty", post(b"Content-Length:\r\n", b"hello"))
bad("cl_empty_ows", post(b"Content-Length: \r\n", b"hello"))
bad("cl_letters", post(b"Content-Length: 5a\r\n", b"hello"))
bad("cl_exponent", post(b"Content-Length: 1e3\r\n", b"hello"))
bad("cl_overflow_2_64", post(b"Content-Length: 18446744073709551616\r\n", b"hello"))
bad("cl_overflow_huge", post(b"Content-Length: 99999999999999999999999999999\r\n", b"hello"))
bad("cl_u64_max", post(b"Content-Length: 18446744073709551615\r\n", b"hello"), {400, 413})
bad("cl_duplicate_different", post(b"Content-Length: 5\r\nContent-Length: 6\r\n", b"hello!"))
bad("cl_list_different", post(b"Content-Length: 5, 6\r\n", b"hello!"))
bad("cl_dup_then_list_different", post(b"Content-Length: 5\r\nContent-Length: 5, 6\r\n",
                                       b"hello!"))
bad("cl_duplicate_case_differs", post(b"Content-Length: 5\r\ncontent-length: 6\r\n", b"hello!"))
# --- CL.TE / TE.CL / TE.TE
bad("te_cl_lowercase_names", post(b"transfer-encoding: chunked\r\ncontent-length: 5\r\n",
                                  CHUNKED_HELLO))
bad("cl_te_classic", post(b"Content-Length: 13\r\n" + TE, b"0\r\n\r\nSMUGGLED"))
bad("te_cl_classic", post(TE + b"Content-Length: 3\r\n", b"8\r\nSMUGGLED\r\n0\r\n\r\n"))
bad("cl0_te", post(b"Content-Length: 0\r\n" + TE, CHUNKED_HELLO))
bad("te_tab_with_cl", post(b"Transfer-Encoding:\tchunked\r\nContent-Length: 5\r\n", CHUNKED_HELLO))
bad("te_xchunked", post(b"Transfer-Encoding: xchunked\r\n", CHUNKED_HELLO), 501)
bad("te_chunk", post(b"Transfer-Encoding: chunk\r\n", CHUNKED_HELLO), 501)
bad("te_chunked_then_x_headers", post(TE + b"Transfer-Encoding: x\r\n", CHUNKED_HELLO))
bad("te_x_then_chunked_headers", post(b"Transfer-Encoding: x\r\n" + TE, CHUNKED_HELLO), 501)
bad("te_chunked_gzip", post(b"Transfer-Encoding: chunked, gzip\r\n", CHUNKED_HELLO))
bad("te_chunked_identity", post(b"Transfer-Encoding: chunked, identity\r\n", CHUNKED_HELLO))
bad("te_chunked_twice_list", post(b"Transfer-Encoding: chunked, chunked\r\n", CHUNKED_HELLO))
bad("te_chunked_twice_headers", post(TE + TE, CHUNKED_HELLO))
bad("te_gzip", post(b"Transfer-Encoding: gzip\r\n", b"hello"), 501)
bad("te_gzip_chunked", post(b"Transfer-Encoding: gzip, chunked\r\n", CHUNKED_HELLO), 501)
bad("te_identity", post(b"Transfer-Encoding: identity\r\n", b"hello"), 501)
bad("te_foo", post(b"Transfer-Encoding: foo\r\n", b"hello"), 501)
bad("te_empty", post(b"Transfer-Encoding:\r\n", CHUNKED_HELLO))
bad("te_empty_ows", post(b"Transfer-Encoding: \r\n", CHUNKED_HELLO))
bad("te_quoted", post(b'Transfer-Encoding: "chunked"\r\n', CHUNKED_HELLO), {400, 501})
bad("te_vt_prefix", post(b"Transfer-Encoding: \x0bchunked\r\n", CHUNKED_HELLO))
bad("te_nul_suffix", post(b"Transfer-Encoding: chunked\x00\r\n", CHUNKED_HELLO))
bad("te_in_http10", post(TE, CHUNKED_HELLO, version=b"HTTP/1.0", host=False))
bad("te_in_http10_keepalive", post(TE + b"Connection: keep-alive\r\n", CHUNKED_HELLO,
                                   version=b"HTTP/1.0", host=False))
# --- chunked framing
bad("chunk_size_non_hex", post(TE, b"zz\r\nhello\r\n0\r\n\r\n"))
bad("chunk_size_missing", post(TE, b"\r\nhello\r\n0\r\n\r\n"))
bad("chunk_size_0x_prefix", post(TE, b"0x5\r\nhello\r\n0\r\n\r\n"))
bad("chunk_size_leading_space", post(TE, b" 5\r\nhello\r\n0\r\n\r\n"))
bad("chunk_size_trailing_space", post(TE, b"5 \r\nhello\r\n0\r\n\r\n"))
bad("chunk_size_trailing_junk", post(TE, b"5x\r\nhello\r\n0\r\n\r\n"))
bad("chunk_size_plus", post(TE, b"+5\r\nhello\r\n0\r\n\r\n"))
bad("chunk_size_minus", post(TE, b"-5\r\nhello\r\n0\r\n\r\n"))
bad("chunk_size_overflow_17_digits", post(TE, b"10000000000000005\r\nhello\r\n0\r\n\r\n"))
bad("chunk_size_overflow_many_f", post(TE, b"fffffffffffffffffffffffff\r\nhello\r\n0\r\n\r\n"))
bad("chunk_missing_crlf_after_data", post(TE, b"5\r\nhelloXX0\r\n\r\n"))
bad("chunk_data_longer_than_size", post(TE, b"3\r\nhello\r\n0\r\n\r\n"))
bad("chunk_bare_lf_after_size", post(TE, b"5\nhello\r\n0\r\n\r\n"))
bad("chunk_bare_lf_after_data", post(TE, b"5\r\nhello\n0\r\n\r\n"))
bad("chunk_bare_lf_last", post(TE, b"5\r\nhello\r\n0\n\n"))
bad("chunk_bare_cr_after_size", post(TE, b"5\rhello\r\n0\r\n\r\n"))
bad("chunk_ext_ctl", post(TE, b"5;a\x01=b\r\nhello\r\n0\r\n\r\n"))
bad("chunk_ext_empty_name", post(TE, b"5;\r\nhello\r\n0\r\n\r\n"))
bad("chunk_ext_nul", post(TE, b"5;a=\x00\r\nhello\r\n0\r\n\r\n"))
bad("trailer_space_before_colon", post(TE, b"5\r\nhello\r\n0\r\nX-T : 1\r\n\r\n"))
bad("trailer_nul", post(TE, b"5\r\nhello\r\n0\r\nX-T: a\x00b\r\n\r\n"))
bad("trailer_obs_fold", post(TE, b"5\r\nhello\r\n0\r\nX-T: a\r\n b\r\n\r\n"))
bad("trailer_bare_lf", post(TE, b"5\r\nhello\r\n0\r\nX-T: a\n\r\n"))


# ------------------------------------------------------------------------------- running

def run_case(case, split=None, delay=0.0):
    """-> None if the case passes, else a description of what happened."""
    name, raw, statuses, kind, method, body = case
    data = raw + (G if kind == "bad" else G_CLOSE)
    buf, closed = exchange_close(srv().addr(), data, TIMEOUT, split=split, delay=delay)
    methods = [method or "GET", "GET"]
    try:
        rs, used, k = parse_stream(buf, methods, closed)
    except ValueError as e:
        return "unparseable response (%s): %r" % (e, buf[:300])
    finals = [r for r in rs if r.status >= 200]
    interim = [r.status for r in rs if r.status < 200]
    got = [r.status for r in finals]
    tail = buf[used:]
    problems = []
    for r in finals:
        if r.count("date") != 1:
            problems.append("%d response without one Date header" % r.status)
        if (r.count("content-length") == 1) == (r.h.get("transfer-encoding", "").lower() == "chunked"):
            problems.append("%d response framing: %r" % (r.status, r.headers))
    if interim:
        problems.append("interim responses %r" % interim)
    if kind == "bad":
        if not finals:
            problems.append("no response")
        else:
            if finals[0].status not in statuses:
                problems.append("status %d, expected %s" % (finals[0].status, sorted(statuses)))
            if finals[0].status < 400:
                problems.append("ACCEPTED (should be rejected): responses %r" % got)
            else:
                if "close" not in finals[0].conn_tokens():
                    problems.append("error response without Connection: close (headers %r)"
                                    % finals[0].headers)
                if len(finals) > 1:
                    problems.append("DESYNC: %d responses %r (the trailing GET was answered)"
                                    % (len(finals), got))
    else:
        if not finals:
            problems.append("no response")
        else:
            r = finals[0]
            if r.status not in statuses:
                problems.append("status %d, expected %s" % (r.status, sorted(statuses)))
            if body is not None and r.body != body:
                problems.append("body %r, expected %r" % (r.body[:100], body[:100]))
            said_close = "close" in r.conn_tokens()
            if kind == "ok10":
                if len(finals) != 1:
                    problems.append("HTTP/1.0 request: %d responses %r" % (len(finals), got))
            elif said_close:
                if len(finals) != 1:
                    problems.append("said close but answered more: %r" % got)
            elif len(finals) != 2 or finals[1].status != 200 or finals[1].body != HELLO:
                problems.append("follow-up GET not answered correctly: %r" % got)
            elif "close" not in finals[1].conn_tokens():
                problems.append("follow-up with Connection: close answered without close")
    if tail:
        problems.append("trailing junk %r" % tail[:200])
    if not closed and not (kind == "bad" and finals and finals[0].status < 400):
        problems.append("connection not closed within %.0fs" % TIMEOUT)
    if not problems:
        try:                                   # independent framing check with h11
            hs, _, trailing = h11_parse(buf, methods[:len(finals)], closed=True)
            if [h[0] for h in hs] != got or trailing:
                problems.append("h11 sees %r trailing %r" % ([h[0] for h in hs], trailing[:100]))
        except Exception as e:
            problems.append("h11 rejects the response stream: %s" % e)
    if problems:
        return "; ".join(problems) + "\n      raw request: %r\n      received: %r" % (
            raw[:300], buf[:400])
    return None


_results = {}
POOL = 12


def results():
    if not _results:
        srv()
        with concurrent.futures.ThreadPoolExecutor(POOL) as ex:
            futs = {ex.submit(run_case, c): c[0] for c in CASES}
            for f, name in futs.items():
                try:
                    _results[name] = f.result()
                except Exception as e:
                    _results[name] = "harness exception %r" % e
    return _results


def _make_case_test(name):
    def fn():
        res = results()[name]
        assert res is None, res
    fn.__name__ = "case_" + name
    return fn


@test
def test_case_names_unique():
    names = [c[0] for c in CASES]
    assert len(names) == len(set(names)), [n for n in names if names.count(n) > 1]
    print("  %d table cases" % len(names))


for _c in CASES:
    test(_make_case_test(_c[0]))


# ------------------------------------------------------------------------------- split replays

SPLIT_CASES = ["get_basic", "chunk_trailers", "cl_leading_zeros_007", "chunk_ext_quoted",
               "bare_lf_after_request_line", "bare_cr_in_value", "cl_te_classic", "obs_fold_te",
               "version_1_10", "space_before_colon_host", "chunk_size_overflow_17_digits",
               "chunk_missing_crlf_after_data", "te_chunked_gzip", "te_gzip", "method_unknown_FOO",
               "target_pct_zz"]


def _case(name):
    return [c for c in CASES if c[0] == name][0]


def _split_test(name):
    def fn():
        case = _case(name)
        n = len(case[1]) + (len(G) if case[3] == "bad" else len(G_CLOSE))
        fails = []
        with concurrent.futures.ThreadPoolExecutor(8) as ex:
            futs = [(k, ex.submit(run_case, case, [k], 0.003)) for k in range(1, n)]
            for k, f in futs:
                r = f.result()
                if r:
                    fails.append("split at %d: %s" % (k, r))
        assert not fails, "%d of %d splits fail; first: %s" % (len(fails), n - 1, fails[0])
    fn.__name__ = "split_every_byte_" + name
    return fn


for _n in SPLIT_CASES:
    test(_split_test(_n))


@test
def test_one_byte_per_send():
    """Three short valid requests sent one byte per send (TCP_NODELAY, small sleeps)."""
    for name in ["get_basic", "chunk_ext_name_value", "cl_leading_zeros_007"]:
        case = _case(name)
        n = len(case[1]) + len(G_CLOSE)
        r = run_case(case, list(range(1, n)), 0.001)
        assert r is None, "%s: %s" % (name, r)


@test
def test_one_byte_per_send_bad():
    for name in ["bare_lf_after_header", "te_cl_classic"]:
        case = _case(name)
        n = len(case[1]) + len(G)
        r = run_case(case, list(range(1, n)), 0.001)
        assert r is None, "%s: %s" % (name, r)


@test
def test_missing_final_crlf_timeout_skipped():
    print("  note: a head without its final CRLF is left to header_timeout (30 s): skipped")


@test
def test_server_still_serves():
    case = _case("get_basic")
    r = run_case(case)
    assert r is None, r


@test
def test_zz_clean_exit():
    srv().stop()


if __name__ == "__main__":
    try:
        rc = run_all()
    finally:
        demo.kill()
    sys.exit(rc)
