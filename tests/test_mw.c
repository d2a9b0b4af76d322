/* tests/test_mw.c - the operations sections: addresses, CIDRs, the PROXY protocol and
   forwarding lists (>>proxyproto), token buckets (>>ratelimit), request ids, CORS, the
   access log line, metrics (>>metrics, >>accesslog, >>mw); then the chain's order over
   connections driven in memory: every answer the server generates itself carries the
   request id and the CORS fields, makes exactly one log line, one count in the metrics
   and one `complete` call; and a real server under threads (log thread, scrapes,
   application counters from other threads) for TSan. */
#define HTTPD_IMPLEMENTATION
#include "../httpd.h"
#include "harness.h"
#include <arpa/inet.h>

/* ---------------------------------------------------------------- >>proxyproto */
static int ip(const char *s, uint8_t a[16]) {         /* whole string: 1 if valid */
    uint8_t b[4];
    size_t n = strlen(s);
    if (httpd__ip4_parse(s, s + n, b) == n && n) {
        memcpy(a, httpd__v4map, 12);
        memcpy(a + 12, b, 4);
        return 1;
    }
    return n && httpd__ip6_parse(s, s + n, a) == n;
}
static void test_addresses(void) {
    static const struct {
        const char *in, *out;
    } ok[] = {
        {"127.0.0.1", "127.0.0.1"},
        {"0.0.0.0", "0.0.0.0"},
        {"255.255.255.255", "255.255.255.255"},
        {"::1", "::1"},
        {"::", "::"},
        {"2001:db8::1", "2001:db8::1"},
        {"2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"},
        {"2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"},    /* RFC 5952 §4.2.3 */
        {"2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"}, /* §4.2.2: one 0 stays */
        {"1::", "1::"},
        {"fe80::a:B:c", "fe80::a:b:c"},
        {"::ffff:10.1.2.3", "10.1.2.3"},
        {"::1.2.3.4", "::102:304"},
        {"1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"},
    };
    static const char *const bad[] = {
        "", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "1.2.3.4 ", " 1.2.3.4", "1..2.3",
        "1.2.3.-4", ":::", "1:::2", "1::2::3", "12345::1", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7",
        ":1::2", "1:", "fe80::1%eth0", "::ffff:1.2.3", "g::1", "1:2:3:4:5:6:7:1.2.3.4", "[::1]",
    };
    uint8_t a[16];
    char t[48];
    for (size_t i = 0; i < HTTPD__COUNTOF(ok); i++) {
        CHECK(ip(ok[i].in, a));
        httpd__addr_format(a, t);
        if (strcmp(t, ok[i].out)) { th_bad++; fprintf(stderr, "  %s -> %s\n", ok[i].in, t); }
        /* the kernel's parser agrees */
        uint8_t k[16];
        int fam = strchr(ok[i].in, ':') ? AF_INET6 : AF_INET;
        CHECK(inet_pton(fam, ok[i].in, fam == AF_INET6 ? k : k + 12) == 1);
        if (fam == AF_INET) memcpy(k, httpd__v4map, 12);
        CHECK(!memcmp(a, k, 16));
    }
    for (size_t i = 0; i < HTTPD__COUNTOF(bad); i++)
        if (ip(bad[i], a)) { th_bad++; fprintf(stderr, "  accepted %s\n", bad[i]); }
}
static void test_cidrs(void) {
    httpd__cidr c[4];
    uint8_t a[16];
    CHECK_EQ(httpd__cidr_parse("10.0.0.0/8", &c[0]), 0);
    CHECK_EQ(httpd__cidr_parse("192.168.1.77/30", &c[1]), 0);   /* host bits cleared */
    CHECK_EQ(httpd__cidr_parse("2001:db8::/32", &c[2]), 0);
    CHECK_EQ(httpd__cidr_parse("::1", &c[3]), 0);
    CHECK(ip("10.255.0.1", a) && httpd__cidr_match(c, 4, a));
    CHECK(ip("11.0.0.1", a) && !httpd__cidr_match(c, 4, a));
    CHECK(ip("192.168.1.76", a) && httpd__cidr_match(c, 4, a));
    CHECK(ip("192.168.1.79", a) && httpd__cidr_match(c, 4, a));
    CHECK(ip("192.168.1.80", a) && !httpd__cidr_match(c, 4, a));
    CHECK(ip("2001:db8:ffff::1", a) && httpd__cidr_match(c, 4, a));
    CHECK(ip("2001:db9::1", a) && !httpd__cidr_match(c, 4, a));
    CHECK(ip("::1", a) && httpd__cidr_match(c, 4, a));
    CHECK(ip("::2", a) && !httpd__cidr_match(c, 4, a));
    CHECK(ip("::ffff:10.1.1.1", a) && httpd__cidr_match(c, 4, a));  /* mapped = IPv4 */
    CHECK_EQ(httpd__cidr_parse("0.0.0.0/0", &c[0]), 0);
    CHECK(ip("8.8.8.8", a) && httpd__cidr_match(c, 1, a));
    CHECK(ip("::8", a) && !httpd__cidr_match(c, 1, a));            /* not IPv6 */
    static const char *const bad[] = { "10.0.0.0/33", "10.0.0.0/", "10.0.0.0/08", "/8",
                                       "::/129", "10.0.0/8", "x", "10.0.0.0/8/8", "" };
    for (size_t i = 0; i < HTTPD__COUNTOF(bad); i++) CHECK_EQ(httpd__cidr_parse(bad[i], &c[0]), -1);
}
/* A PROXY header's verdict, whole and at every prefix: a prefix is incomplete (0) or has
   the same error; the whole is `want` (length, or -1). */
static void proxy_case(const char *b, size_t n, int want, const char *addr) {
    uint8_t a[16] = { 0 };
    int got = -1, r = httpd__proxy_parse(b, n, a, &got);
    if (r != want) {
        th_bad++;
        fprintf(stderr, "  proxy case %.*s: %d, want %d\n", (int)(n < 40 ? n : 40), b, r, want);
        return;
    }
    if (r > 0 && addr) {
        char t[48];
        httpd__addr_format(a, t);
        CHECK(got == 1 && !strcmp(t, addr));
    } else if (r > 0) {
        CHECK_EQ(got, 0);
    }
    for (size_t k = 0; k < n; k++) {
        uint8_t x[16];
        int g, p = httpd__proxy_parse(b, k, x, &g);
        if (!(p == 0 || (want < 0 && p == want) || (want > 0 && (size_t)want <= k && p == want))) {
            th_bad++;
            fprintf(stderr, "  prefix %zu of case: %d\n", k, p);
            return;
        }
    }
}
static void test_proxy_v1(void) {
    const char *s;
    /* want 1: valid, its length is up to the first CRLF */
#define V1(str, want, addr) do { s = str; proxy_case(s, strlen(s), want == 1 ? \
        (int)(strstr(s, "\r\n") - s + 2) : want, addr); } while (0)
    V1("PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\nGET /", 1, "192.0.2.1");
    V1("PROXY TCP6 2001:db8::1 2001:db8::2 1 65535\r\n", 1, "2001:db8::1");
    V1("PROXY UNKNOWN\r\n", 1, NULL);
    V1("PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n", 1, NULL);
    V1("PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n", 1, "255.255.255.255");
    V1("PROXY TCP4 1.2.3.4 5.6.7.8 0 0\r\n", 1, "1.2.3.4");
    V1("PROXY TCP4 1.2.3.4 5.6.7.8 1 65536\r\n", -1, NULL);         /* port range */
    V1("PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n", -1, NULL);            /* leading zero */
    V1("PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n", -1, NULL);            /* double space */
    V1("PROXY TCP4  1.2.3.4 1 2\r\n", -1, NULL);                   /* an empty source (fuzz) */
    V1("PROXY TCP6  ::1 1 2\r\n", -1, NULL);
    V1("PROXY TCP4 ::1 5.6.7.8 1 2\r\n", -1, NULL);                 /* family mismatch */
    V1("PROXY TCP6 1.2.3.4 ::1 1 2\r\n", -1, NULL);
    V1("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", -1, NULL);               /* bare LF */
    V1("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n", -1, NULL);            /* trailing space */
    V1("PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n", -1, NULL);
    V1("PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n", -1, NULL);
    V1("PROXY UNKNOWNX\r\n", -1, NULL);
    V1("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\r\n", -1, NULL);
    V1("PROXY\r\n", -1, NULL);
    V1("GET / HTTP/1.1\r\n", -1, NULL);                             /* no header at all */
    V1("proxy TCP4", -1, NULL);
    char longl[200];
    memset(longl, ' ', sizeof longl);
    memcpy(longl, "PROXY UNKNOWN", 13);
    proxy_case(longl, sizeof longl, -1, NULL);                     /* no CRLF in 107 bytes */
    memcpy(longl + 105, "\r\n", 2);
    proxy_case(longl, 107, 107, NULL);                             /* exactly the longest */
    memset(longl, ' ', sizeof longl);
    memcpy(longl, "PROXY UNKNOWN", 13);
    memcpy(longl + 106, "\r\n", 2);
    proxy_case(longl, 108, -1, NULL);
    V1("PROXY UNKNOWN \x01\r\n", -1, NULL);                         /* a control byte */
#undef V1
}
static size_t v2(char *b, int cmd, int fam, const uint8_t *addrs, size_t alen, size_t tlv) {
    static const char sig[12] = { '\r', '\n', '\r', '\n', 0, '\r', '\n', 'Q', 'U', 'I', 'T', '\n' };
    memcpy(b, sig, 12);
    b[12] = (char)(0x20 | cmd);
    b[13] = (char)fam;
    size_t len = alen + tlv;
    b[14] = (char)(len >> 8);
    b[15] = (char)len;
    memcpy(b + 16, addrs, alen);
    for (size_t i = 0; i < tlv;) {                 /* NOOP TLVs filling tlv bytes */
        size_t l = tlv - i - 3 > 40 ? 40 : tlv - i - 3;
        b[16 + alen + i] = 4;
        b[16 + alen + i + 1] = (char)(l >> 8);
        b[16 + alen + i + 2] = (char)l;
        memset(b + 16 + alen + i + 3, 0, l);
        i += 3 + l;
    }
    return 16 + len;
}
static void test_proxy_v2(void) {
    char b[2048];
    uint8_t a4[12] = { 192, 0, 2, 9, 10, 0, 0, 1, 0x1f, 0x90, 0, 80 };
    uint8_t a6[36] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 7 };
    uint8_t un[216] = { 0 };
    size_t n = v2(b, 1, 0x11, a4, 12, 0);
    proxy_case(b, n, (int)n, "192.0.2.9");
    n = v2(b, 1, 0x11, a4, 12, 100);                          /* with TLVs */
    proxy_case(b, n, (int)n, "192.0.2.9");
    n = v2(b, 1, 0x21, a6, 36, 0);
    proxy_case(b, n, (int)n, "2001:db8::7");
    n = v2(b, 0, 0x11, a4, 12, 0);                            /* LOCAL: our own address */
    proxy_case(b, n, (int)n, NULL);
    n = v2(b, 0, 0x00, a4, 0, 0);                             /* LOCAL UNSPEC (checks) */
    proxy_case(b, n, (int)n, NULL);
    n = v2(b, 1, 0x31, un, 216, 0);                           /* AF_UNIX stream */
    proxy_case(b, n, (int)n, NULL);
    n = v2(b, 1, 0x12, a4, 12, 0);                            /* UDP: refused */
    proxy_case(b, n, -1, NULL);
    n = v2(b, 2, 0x11, a4, 12, 0);                            /* command 2 */
    proxy_case(b, n, -1, NULL);
    n = v2(b, 1, 0x21, a6, 12, 0);                            /* too short for IPv6 */
    proxy_case(b, n, -1, NULL);
    n = v2(b, 1, 0x11, a4, 12, 10);
    b[16 + 12 + 2] = 9;                                       /* a TLV running past */
    proxy_case(b, n, -1, NULL);
    n = v2(b, 1, 0x11, a4, 12, 2);                            /* 2 stray bytes */
    b[16 + 12] = 1;
    proxy_case(b, n, -1, NULL);
    n = v2(b, 1, 0x11, a4, 12, 1020);                         /* 1032 > the 1 KiB cap */
    proxy_case(b, n, -1, NULL);
    n = v2(b, 1, 0x11, a4, 12, 1012);                         /* exactly at the cap */
    proxy_case(b, n, (int)n, "192.0.2.9");
    n = v2(b, 1, 0x11, a4, 12, 0);
    b[12] = 0x11;                                             /* version 1 */
    proxy_case(b, n, -1, NULL);
    n = v2(b, 1, 0x11, a4, 12, 0);
    b[7] = 'q';                                               /* signature */
    proxy_case(b, n, -1, NULL);
}
static void test_forwarded(void) {
    httpd__cidr t[2];
    uint8_t a[16];
    char txt[48];
    httpd_header h[4];
    httpd__cidr_parse("10.0.0.0/8", &t[0]);
    httpd__cidr_parse("::1", &t[1]);
#define HDR(i, n, v) (h[i].name.ptr = n, h[i].name.len = strlen(n), h[i].value.ptr = v, \
                      h[i].value.len = strlen(v))
#define REAL(peer, nh, want)                                                                       \
    do {                                                                                           \
        ip(peer, a);                                                                               \
        httpd__realip(t, 2, h, nh, a);                                                             \
        httpd__addr_format(a, txt);                                                                \
        if (strcmp(txt, want)) {                                                                   \
            th_bad++;                                                                              \
            fprintf(stderr, "  line %d: %s, want %s\n", __LINE__, txt, want);                      \
        }                                                                                          \
    } while (0)
    HDR(0, "X-Forwarded-For", "203.0.113.7");
    REAL("10.1.1.1", 1, "203.0.113.7");
    REAL("192.0.2.1", 1, "192.0.2.1");                 /* an untrusted peer: ignored */
    HDR(0, "x-forwarded-for", "1.1.1.1, 203.0.113.7, 10.0.0.5");
    REAL("10.1.1.1", 1, "203.0.113.7");                /* from the right, past proxies */
    HDR(0, "X-Forwarded-For", "1.1.1.1, 10.0.0.9");
    HDR(1, "X-Forwarded-For", "10.0.0.5");
    REAL("10.1.1.1", 2, "1.1.1.1");                    /* several lines: one list */
    HDR(0, "X-Forwarded-For", "10.0.0.1, 10.0.0.2");
    REAL("10.1.1.1", 1, "10.0.0.1");                   /* all trusted: the leftmost */
    HDR(0, "X-Forwarded-For", "garbage, 203.0.113.7");
    REAL("10.1.1.1", 1, "203.0.113.7");                /* junk left of the client */
    HDR(0, "X-Forwarded-For", "203.0.113.7, junk");
    REAL("10.1.1.1", 1, "10.1.1.1");                   /* the proxy wrote junk: stop */
    HDR(0, "X-Forwarded-For", "[2001:db8::5]:443, 10.0.0.3:8080");
    REAL("::1", 1, "2001:db8::5");
    HDR(0, "X-Forwarded-For", "");
    REAL("10.1.1.1", 1, "10.1.1.1");
    HDR(0, "Forwarded", "for=192.0.2.60;proto=http;by=203.0.113.43");
    REAL("10.1.1.1", 1, "192.0.2.60");
    HDR(0, "Forwarded", "for=\"[2001:db8:cafe::17]:4711\", for=10.0.0.8");
    REAL("10.1.1.1", 1, "2001:db8:cafe::17");
    HDR(0, "Forwarded", "for=unknown");
    REAL("10.1.1.1", 1, "10.1.1.1");
    HDR(0, "Forwarded", "for=\"_hidden\", for=\"1.2.3.4\"");
    REAL("10.1.1.1", 1, "1.2.3.4");
    HDR(0, "Forwarded", "by=1.2.3.4");                  /* no for: stop */
    REAL("10.1.1.1", 1, "10.1.1.1");
    HDR(0, "Forwarded", "for=\"1.2.3.4, 5.6.7.8\"");     /* a comma inside quotes */
    REAL("10.1.1.1", 1, "10.1.1.1");
    HDR(0, "Forwarded", "for=\"5.6.7.8");               /* unclosed quote */
    REAL("10.1.1.1", 1, "10.1.1.1");
    HDR(0, "Forwarded", "for=5.6.7.8");
    HDR(1, "X-Forwarded-For", "9.9.9.9");
    REAL("10.1.1.1", 2, "9.9.9.9");                     /* X-Forwarded-For wins */
    char many[400] = "";
    for (int i = 0; i < 40; i++) strcat(many, i ? ", 10.0.0.1" : "8.8.8.8");
    HDR(0, "X-Forwarded-For", many);                    /* 40 hops: the last 32 looked at */
    REAL("10.1.1.1", 1, "10.0.0.1");
#undef HDR
#undef REAL
}

/* ----------------------------------------------------------------- >>ratelimit */
static void test_gcra(void) {
    httpd__rl_slot slots[8 * 4];
    httpd__rl_table t = { slots, 4 };
    memset(slots, 0, sizeof slots);
    uint64_t T = 100000, tau = 2 * T, now = 1000000, retry = 0;      /* 10/s, burst 3 */
    for (int i = 0; i < 3; i++) CHECK(httpd__rl_take(&t, 1, 2, 0, now, T, tau, &retry));
    CHECK(!httpd__rl_take(&t, 1, 2, 0, now, T, tau, &retry));
    CHECK_EQ(retry, T);                                  /* one token in 100 ms */
    CHECK(httpd__rl_take(&t, 9, 9, 0, now, T, tau, &retry));         /* another client */
    CHECK(httpd__rl_take(&t, 1, 2, 7, now, T, tau, &retry));         /* another route */
    CHECK(!httpd__rl_take(&t, 1, 2, 0, now + T - 1, T, tau, &retry));
    CHECK_EQ(retry, 1);
    CHECK(httpd__rl_take(&t, 1, 2, 0, now + T, T, tau, &retry));
    CHECK(!httpd__rl_take(&t, 1, 2, 0, now + T, T, tau, &retry));
    now += 10 * T;                                       /* idle: full again, no more */
    for (int i = 0; i < 3; i++) CHECK(httpd__rl_take(&t, 1, 2, 0, now, T, tau, &retry));
    CHECK(!httpd__rl_take(&t, 1, 2, 0, now, T, tau, &retry));
    /* a steady client at the rate is never refused */
    for (int i = 0; i < 100; i++)
        CHECK(httpd__rl_take(&t, 3, 3, 0, now + (uint64_t)i * T, T, 0, &retry));
}
static void test_gcra_table_bounded(void) {
    httpd__rl_slot slots[8];                              /* one set of 8 */
    httpd__rl_table t = { slots, 1 };
    uint64_t T = 1000000, now = 5000000, retry;
    memset(slots, 0, sizeof slots);
    CHECK(httpd__rl_take(&t, 0, 0, 0, now, T, 0, &retry));            /* the limited one */
    for (uint64_t k = 1; k < 8; k++) {                   /* 7 more, older: fuller buckets */
        CHECK(httpd__rl_take(&t, k, k, 0, now - T, T, 0, &retry));
    }
    CHECK(!httpd__rl_take(&t, 0, 0, 0, now, T, 0, &retry));           /* still limited */
    CHECK(httpd__rl_take(&t, 100, 100, 0, now, T, 0, &retry));        /* evicts a full one */
    CHECK(!httpd__rl_take(&t, 0, 0, 0, now, T, 0, &retry));           /* not the limited */
    for (uint64_t k = 200; k < 300; k++) CHECK(httpd__rl_take(&t, k, k, 0, now, T, 0, &retry));
    int n = 0;                                           /* never more than 8 kept */
    for (int i = 0; i < 8; i++) n += slots[i].tat != 0;
    CHECK_EQ(n, 8);
}

static void test_limiter_config(void) {
    httpd__mw m;
    httpd__limiter ls[4];
    memset(&m, 0, sizeof m);
    m.limiters = ls;
    httpd_rate_limit a = { 10, 5, 0, 0, 1000, NULL, NULL }, b = { 10, 0, 0, 1, 0, NULL, NULL };
    httpd_rate_limit c = { 0.5, 0, 0, 0, 0, NULL, NULL }, off = { 0, 9, 0, 0, 0, NULL, NULL };
    const httpd__limiter *la = httpd__mw_limiter(&m, &a, 4), *lb = httpd__mw_limiter(&m, &b, 4);
    CHECK(httpd__mw_limiter(&m, &a, 4) == la && m.nlimiters == 2);   /* one per config */
    CHECK(httpd__mw_limiter(&m, &off, 4) == NULL);                 /* rate 0: none     */
    CHECK_EQ(la->T, 100000);                          /* 10/s: 100 ms apart           */
    CHECK_EQ(la->tau, 4 * 100000);                    /* burst 5                      */
    CHECK_EQ(la->sets, 128);                          /* 1000 / 8, rounded up         */
    CHECK_EQ(lb->T, 400000);                          /* split over 4 workers: 2.5/s  */
    CHECK_EQ(lb->tau, 1 * 400000);                    /* burst 10 (= rate) / 4 -> 2   */
    CHECK_EQ(lb->sets, 512);                          /* 4096 by default              */
    const httpd__limiter *lc = httpd__mw_limiter(&m, &c, 1);
    CHECK(lc->T == 2000000 && lc->tau == 0);          /* below 1/s: burst 1           */
}

/* ------------------------------------------------------------- ids, CORS, lines */
static void test_request_ids(void) {
    httpd_str s;
#define RID(str, ok)                                                                               \
    do {                                                                                           \
        s.ptr = str;                                                                               \
        s.len = strlen(str);                                                                       \
        CHECK_EQ(httpd__rid_ok(s), ok);                                                            \
    } while (0)
    RID("abc-123", 1); RID("3f2a7c1e-9b4d-4e2a-8c1f-0a1b2c3d4e5f", 1); RID("a.b:c+d/e=f@g_h", 1);
    RID("", 0); RID("with space", 0); RID("quo\"te", 0); RID("back\\slash", 0); RID("a\tb", 0);
    RID("1234567890123456789012345678901234567890123456789012345678901234", 1);
    RID("12345678901234567890123456789012345678901234567890123456789012345", 0);
    RID("caf\xc3\xa9", 0); RID("a,b", 0); RID("<script>", 0);
#undef RID
    httpd__wops a, b;
    char x[33] = { 0 }, y[33] = { 0 };
    httpd__rid_init(&a, 0x0123456789abcdefull, 0);
    httpd__rid_init(&b, 0x0123456789abcdefull, 1);
    httpd__rid_next(&a, x);
    httpd__rid_next(&b, y);
    CHECK(!strcmp(x, "0123456789abcdef0000000000000000"));
    CHECK(!strcmp(y, "0123456789abcdef0100000000000000"));       /* the worker differs */
    for (int i = 0; i < 9; i++) httpd__rid_next(&a, x);
    CHECK(!strcmp(x, "0123456789abcdef0000000000000009"));
    httpd__rid_next(&a, x);
    CHECK(!strcmp(x, "0123456789abcdef000000000000000a"));
    memcpy(a.rid + 26, "ffffff", 6);                    /* carries */
    httpd__rid_next(&a, x);
    httpd__rid_next(&a, x);
    CHECK(!strcmp(x, "0123456789abcdef0000000001000000"));
    CHECK(httpd__random64() != httpd__random64());      /* a new prefix per start */
}
static void test_cors_match(void) {
    static const char *const o1[] = { "https://app.example.com", "https://*.example.org",
                                      "http://localhost:3000", NULL };
    static const char *const o2[] = { "*", NULL };
    httpd_cors c;
    memset(&c, 0, sizeof c);
    c.origins = o1;
    httpd_str s;
#define O(str, ok)                                                                                 \
    do {                                                                                           \
        s.ptr = str;                                                                               \
        s.len = strlen(str);                                                                       \
        CHECK_EQ(httpd__cors_match(&c, s), ok);                                                    \
    } while (0)
    O("https://app.example.com", 1); O("HTTPS://APP.EXAMPLE.COM", 1);
    O("https://app.example.com.evil.net", 0); O("http://app.example.com", 0);
    O("https://a.example.org", 1); O("https://a.b.example.org", 1); O("https://example.org", 0);
    O("https://evilexample.org", 0); O("https://.example.org", 0); O("http://a.example.org", 0);
    O("https://a.example.org:8443", 0); O("https://x/y.example.org", 0);
    O("http://localhost:3000", 1); O("http://localhost:3001", 0); O("null", 0);
    c.origins = o2;
    O("https://anything.test", 1); O("null", 1);
#undef O
    c.headers = "Content-Type, X-Token";
    s.ptr = "content-type,x-token"; s.len = strlen(s.ptr);
    CHECK(httpd__cors_headers_ok(&c, s));
    s.ptr = "x-token, x-other"; s.len = strlen(s.ptr);
    CHECK(!httpd__cors_headers_ok(&c, s));
    c.headers = NULL;
    CHECK(!httpd__cors_headers_ok(&c, s));
    s.ptr = NULL; s.len = 0;
    CHECK(httpd__cors_headers_ok(&c, s));
    c.headers = "*";
    s.ptr = "anything"; s.len = 8;
    CHECK(httpd__cors_headers_ok(&c, s));
    CHECK(httpd__list_has("GET, HEAD, POST", "POST", 4, 0));
    CHECK(!httpd__list_has("GET, HEAD, POST", "post", 4, 0));   /* methods: case matters */
    CHECK(!httpd__list_has("GET, HEAD, POSTX", "POST", 4, 0));
}
static void test_json_and_time(void) {
    char b[256], *e;
    e = httpd__json_str(b, "a\"b\\c\n\x01\x7f\xc3\xa9/", 11, 100);
    *e = 0;
    CHECK(!strcmp(b, "\"a\\\"b\\\\c\\u000a\\u0001\\u007f\\u00c3\\u00a9/\""));
    e = httpd__json_str(b, "abcdef", 6, 3);
    *e = 0;
    CHECK(!strcmp(b, "\"abc...\""));
    char t[25] = { 0 };
    httpd__rfc3339(t, 1700000000123ull);
    CHECK(!strcmp(t, "2023-11-14T22:13:20.123Z"));
    httpd__rfc3339(t, 951782400000ull);                  /* a leap day */
    CHECK(!strcmp(t, "2000-02-29T00:00:00.000Z"));
}
static void test_metric_definitions(void) {
    httpd__metrics *m = NULL;
    httpd_desc d;
    memset(&d, 0, sizeof d);
    d.workers = 2;
    static const httpd_metric good[] = {
        {"app_hits_total", "hits", HTTPD_COUNTER, NULL, NULL, NULL},
        {"app_pool", "pool", HTTPD_GAUGE, "pool=\"read\"", NULL, NULL},
        {"app_pool", "pool", HTTPD_GAUGE, "pool=\"write\"", NULL, NULL},
        {NULL, NULL, 0, NULL, NULL, NULL}};
    static const httpd_metric bad1[] = {{"app_hits", "no _total", HTTPD_COUNTER, NULL, NULL, NULL},
                                        {NULL, NULL, 0, NULL, NULL, NULL}};
    static const httpd_metric bad2[] = { { "9lives", "digit first", HTTPD_GAUGE, NULL, NULL, NULL },
        { NULL, NULL, 0, NULL, NULL, NULL } };
    static const httpd_metric bad3[] = { { "a-b", "dash", HTTPD_GAUGE, NULL, NULL, NULL },
        { NULL, NULL, 0, NULL, NULL, NULL } };
    static const httpd_metric bad4[] = {{"x", "type", 7, NULL, NULL, NULL},
                                        {NULL, NULL, 0, NULL, NULL, NULL}};
    d.metrics = good;
    CHECK_EQ(httpd__metrics_new(&m, &d, 3), 0);
    CHECK_EQ(m->napp, 3);
    httpd__metrics_free(m, 2, NULL);
    d.metrics = bad1; CHECK_EQ(httpd__metrics_new(&m, &d, 3), HTTPD_ERR_INVAL);
    d.metrics = bad2; CHECK_EQ(httpd__metrics_new(&m, &d, 3), HTTPD_ERR_INVAL);
    d.metrics = bad3; CHECK_EQ(httpd__metrics_new(&m, &d, 3), HTTPD_ERR_INVAL);
    d.metrics = bad4; CHECK_EQ(httpd__metrics_new(&m, &d, 3), HTTPD_ERR_INVAL);
}

/* ------------------------------------------- the chain, connections in memory */
static httpd_server srv;
static httpd__worker wk;
static httpd_request *parked;
static char trace[512];                 /* hooks in the order they ran */
static int completes;
static httpd_outcome last;
static void tr(const char *s) { strncat(trace, s, sizeof trace - strlen(trace) - 1); }
static void on_hello(httpd_request *r) { tr("H"); httpd_respond(r, 200, "text/plain", "Hello", 5); }
static void on_park(httpd_request *r) { tr("H"); parked = r; }
static void on_body(httpd_request *r) {
    tr("H");
    httpd_respond(r, 200, NULL, r->body.ptr, r->body.len);
}
static int g_req(httpd_request *r, void *a) { (void)a; (void)r; tr("g"); return 0; }
static void g_resp(httpd_request *r, int st, void *a) {
    (void)a; (void)st;
    tr("G");
    httpd_add_header(r, "X-Global", "1");
}
static void g_done(httpd_request *r, const httpd_outcome *o, void *a) {
    (void)a; (void)r;
    tr("C");
    completes++;
    last = *o;
}
/* the route's middleware: "auth" (X-Token: t), answers 401 itself */
static int auth_req(httpd_request *r, void *a) {
    (void)a;
    tr("a");
    if (httpd_str_eq(httpd_get_header(r, "X-Token"), "t")) return 0;
    httpd_respond(r, 401, "text/plain", "no\n", 3);
    return 1;
}
static void auth_resp(httpd_request *r, int st, void *a) { (void)a; (void)r; (void)st; tr("A"); }
static const httpd_middleware global_mw[] = {{g_req, g_resp, g_done, NULL},
                                             {NULL, NULL, NULL, NULL}};
static const httpd_middleware auth_mw[] = {{auth_req, auth_resp, NULL, NULL},
                                           {NULL, NULL, NULL, NULL}};
static const char *const origins[] = { "http://a.test", NULL };
static const httpd_cors cors = {origins, "GET, POST, PUT", "X-Token, Content-Type", "X-Global", 1,
                                60};
static const httpd_rate_limit limit = { 1, 2, 0, 0, 0, NULL, NULL };
static const httpd_rate_limit nolimit = { 0, 0, 0, 0, 0, NULL, NULL };
static httpd_str api_key(httpd_request *r, void *a) {
    (void)a;
    return httpd_get_header(r, "X-Api-Key");
}
static const httpd_rate_limit bykey = { 1, 1, 1, 0, 0, api_key, NULL };
static httpd_route routes[] = {
    { "GET", "/", on_hello, NULL, 0, 0, 0, 0, NULL, NULL, &nolimit, 0 },
    { "GET", "/park", on_park, NULL, 0, 500, 0, 0, NULL, NULL, &nolimit, 0 },
    { "POST", "/echo", on_body, NULL, 100, 0, 0, 0, NULL, NULL, &nolimit, 0 },
    { "GET", "/private", on_hello, NULL, 0, 0, 0, 0, auth_mw, NULL, &nolimit, 0 },
    { "PUT", "/private", on_hello, NULL, 0, 0, 0, 0, auth_mw, NULL, &nolimit, 0 },
    { "GET", "/limited", on_hello, NULL, 0, 0, 0, 0, NULL, NULL, &limit, 0 },
    { "GET", "/busy", on_hello, NULL, 0, 0, 0, 1, NULL, NULL, &nolimit, 0 },
    { "GET", "/metrics", httpd_metrics, NULL, 0, 0, 0, 0, NULL, NULL, &nolimit, 1 },
    { "GET", "/keyed", on_hello, NULL, 0, 0, 0, 0, NULL, NULL, &bykey, 0 },
    { NULL, NULL, NULL, NULL, 0, 0, 0, 0, NULL, NULL, NULL, 0 },
};
static const char *const log_headers[] = { "User-Agent", "Authorization", "X-Token", NULL };
static const char *const redact[] = { "authorization", "x-token", NULL };
static void setup(void) {
    httpd_desc d;
    memset(&d, 0, sizeof d);
    d.routes = routes;
    d.workers = 1;
    d.header_timeout_ms = 1000;
    d.request_timeout_ms = 3000;
    d.max_request_line = 200;
    d.max_header_bytes = 1024;
    d.max_headers = 10;
    d.request_id = 1;
    d.middleware = global_mw;
    d.cors = &cors;
    d.access_log.headers = log_headers;
    d.access_log.redact = redact;
    d.server_name = "httpd-test/1";
    static const char *const trusted[] = { "10.0.0.0/8", NULL };
    d.trusted_proxies = trusted;
    d.access_log.path = "/dev/null";            /* on; lines are read from the buffer */
    if (httpd__server_init(&srv, &d) || httpd__worker_init(&wk, &srv, 0)) {
        puts("0 passed, 1 failed");
        exit(1);
    }
    wk.now = 1000000;
    httpd__wheel_init(&wk.wheel, wk.now);
}
static httpd__conn *open_conn(void) {
    httpd__conn *c = httpd__conn_new(&wk);
    httpd__conn_init(c, &wk, -1);
    uint8_t a[16];
    ip("192.0.2.33", a);
    memcpy(c->addr, a, 16);
    return c;
}
static size_t feed(httpd__conn *c, const char *s, size_t n) {
    size_t pos = 0;
    while (pos < n) {
        size_t cap;
        char *p = httpd__conn_rbuf(c, &cap);
        if (!p || !cap) break;
        size_t k = HTTPD__MIN(cap, n - pos);
        memcpy(p, s + pos, k);
        httpd__conn_recv(c, k);
        pos += k;
    }
    return pos;
}
static char out[1 << 16];
static size_t drain(httpd__conn *c) {
    const char *p;
    size_t n = httpd__conn_obuf(c, &p), total = 0;
    while (n && total + n < sizeof out) {
        memcpy(out + total, p, n);
        total += n;
        httpd__conn_sent(c, n);
        n = httpd__conn_obuf(c, &p);
    }
    out[total] = 0;
    return total;
}
static void done_conn(httpd__conn *c) {
    httpd__conn_release(c);
    for (httpd__conn *q = wk.queue; q; q = q->next) q->flags &= (uint16_t)~HTTPD__F_QUEUED;
    wk.queue = NULL;
    c->dnext = wk.free_conns;
    wk.free_conns = c;
}
static int count(const char *hay, const char *needle) {
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++) n++;
    return n;
}
/* the access log lines written since the last call (the worker's buffer) */
static char logs[1 << 16];
static const char *take_log(void) {
    httpd__logbuf *b = wk.ops->lcur;
    size_t n = b ? b->len : 0;
    memcpy(logs, b ? (const char *)(b + 1) : "", n);
    logs[n] = 0;
    if (b) b->len = 0;
    return logs;
}
/* requests of a route and status class counted so far (all methods) */
static uint64_t counted(int route, int cls) {
    uint64_t v = 0;
    httpd__mroute *m = &srv.mw->met->w[0].routes[route < 0 ? (int)srv.router.nroutes : route];
    for (int k = 0; k < HTTPD__NMETH; k++) v += HTTPD__LOAD_RLX(&m->req[k][cls - 1]);
    return v;
}
/* One answer the server gave itself: the status, the request id on it (the client's when
   sent), CORS for an Origin it could read, one log line, one count, one completion. */
static void expect_generated(const char *what, const char *raw, int status, int route,
                             const char *rid, int cors, void (*after)(httpd__conn *)) {
    char want[64], line[128];
    completes = 0;
    trace[0] = 0;
    take_log();
    uint64_t before = counted(route, status / 100);
    httpd__conn *c = open_conn();
    feed(c, raw, strlen(raw));
    if (after) after(c);
    drain(c);
    snprintf(want, sizeof want, "HTTP/1.1 %d ", status);
    int ok = !strncmp(out, want, strlen(want));
    char id[80] = "";
    const char *x = strstr(out, "\r\nX-Request-Id: ");
    if (x) sscanf(x + 16, "%64[^\r]", id);
    ok &= x != NULL && count(out, "X-Request-Id:") == 1 && (!rid || !strcmp(id, rid));
    ok &= !cors || (strstr(out, "\r\nAccess-Control-Allow-Origin: http://a.test\r\n")
                    && strstr(out, "\r\nAccess-Control-Allow-Credentials: true\r\n"));
    ok &= strstr(out, "\r\nServer: httpd-test/1\r\n") != NULL;
    ok &= strstr(out, "\r\nX-Global: 1\r\n") != NULL && count(trace, "G") == 1;
    done_conn(c);
    const char *lg = take_log();
    snprintf(line, sizeof line, "\"id\":\"%s\"", id);
    ok &= count(lg, "\n") == 1 && count(lg, line) == 1;
    snprintf(line, sizeof line, "\"status\":%d,", status);
    ok &= strstr(lg, line) != NULL && strstr(lg, "\"generated\":true") != NULL;
    ok &= counted(route, status / 100) == before + 1 && completes == 1 && last.status == status;
    if (!ok) {
        th_bad++;
        fprintf(stderr, "  %s: status %d id [%s]\n--- response\n%s\n--- log\n%s--- trace %s "
                "completes %d counted %llu->%llu\n", what, status, id, out, lg, trace, completes,
                (unsigned long long)before, (unsigned long long)counted(route, status / 100));
    }
}
static void expire(httpd__conn *c) {              /* the deadline passes */
    wk.now = httpd__conn_deadline(c);
    httpd__conn_timeout(c);
}
static void then_reset(httpd__conn *c) { (void)c; }
static void test_every_generated_status(void) {
    char big[2048];
    /* before any parse: the head is salvaged for the request id and the Origin */
    expect_generated("400 bad field",
                     "GET / HTTP/1.1\r\nHost: a\r\nOrigin: http://a.test\r\n"
                     "X-Request-Id: client-id-1\r\nBad Field\r\n\r\n",
                     400, -1, "client-id-1", 1, NULL);
    expect_generated("400 garbage", "\x16\x03\x01\x02\x01 \r\n\r\n", 400, -1, NULL, 0, NULL);
    memset(big, 'a', sizeof big);
    memcpy(big, "GET /", 5);
    strcpy(big + 300, " HTTP/1.1\r\nHost: a\r\nOrigin: http://a.test\r\n\r\n");
    expect_generated("414", big, 414, -1, NULL, 1, NULL);
    char many[1024] =
        "GET / HTTP/1.1\r\nHost: a\r\nOrigin: http://a.test\r\nX-Request-Id: r431\r\n";
    for (int i = 0; i < 12; i++) strcat(many, "X-Filler: 1\r\n");
    strcat(many, "\r\n");
    expect_generated("431", many, 431, -1, "r431", 1, NULL);
    expect_generated("408", "GET /park HTTP/1.1\r\nHost: a\r\nOrigin: http://a.test\r\n", 408, -1,
                     NULL, 1, expire);
    /* routed */
    expect_generated("404", "GET /nope HTTP/1.1\r\nHost: a\r\nOrigin: http://a.test\r\n\r\n", 404,
                     -1, NULL, 1, NULL);
    expect_generated("405", "DELETE / HTTP/1.1\r\nHost: a\r\nOrigin: http://a.test\r\n\r\n", 405,
                     -1, NULL, 1, NULL);
    expect_generated("OPTIONS", "OPTIONS / HTTP/1.1\r\nHost: a\r\nOrigin: http://a.test\r\n\r\n",
                     200, -1, NULL, 1, NULL);
    expect_generated("501", "BREW / HTTP/1.1\r\nHost: a\r\nOrigin: http://a.test\r\n\r\n", 501,
                     -1, NULL, 1, NULL);
    expect_generated("413", "POST /echo HTTP/1.1\r\nHost: a\r\nOrigin: http://a.test\r\n"
                     "Content-Length: 101\r\n\r\n", 413, 2, NULL, 1, NULL);
    expect_generated("504", "GET /park HTTP/1.1\r\nHost: a\r\nOrigin: http://a.test\r\n\r\n", 504,
                     1, NULL, 1, expire);
    CHECK(parked != NULL);
    int before = completes;
    CHECK_EQ(httpd_respond(parked, 200, NULL, "late", 4), HTTPD_ERR_TIMEOUT);   /* frees it */
    CHECK_EQ(completes, before);                          /* reported once, as the 504 */
    CHECK(take_log()[0] == 0);
    parked = NULL;
    /* 429: the third within the burst of 2 */
    for (int i = 0; i < 2; i++) {
        httpd__conn *c = open_conn();
        const char *g = "GET /limited HTTP/1.1\r\nHost: a\r\n\r\n";
        feed(c, g, strlen(g));
        drain(c);
        CHECK(!strncmp(out, "HTTP/1.1 200 ", 13));
        done_conn(c);
    }
    expect_generated("429", "GET /limited HTTP/1.1\r\nHost: a\r\nOrigin: http://a.test\r\n\r\n",
                     429, 5, NULL, 1, NULL);
    CHECK(strstr(out, "\r\nRetry-After: 1\r\n") != NULL);
    /* 503: /busy allows one in its handler; one parked there holds the place */
    routes[6].handler = on_park;
    httpd__conn *hold = open_conn();
    feed(hold, "GET /busy HTTP/1.1\r\nHost: a\r\n\r\n", 31);
    CHECK(parked != NULL);
    expect_generated("503", "GET /busy HTTP/1.1\r\nHost: a\r\nOrigin: http://a.test\r\n\r\n", 503,
                     6, NULL, 1, NULL);
    CHECK(strstr(out, "\r\nRetry-After: 1\r\n") != NULL);
    httpd_respond(parked, 200, NULL, "ok", 2);
    parked = NULL;
    drain(hold);
    done_conn(hold);
    routes[6].handler = on_hello;
    (void)then_reset;
    take_log();
}
static void test_order_and_short_circuit(void) {
    httpd__conn *c = open_conn();
    trace[0] = 0; completes = 0;
    const char *s = "GET /private HTTP/1.1\r\nHost: a\r\nX-Token: t\r\n\r\n";
    feed(c, s, strlen(s));
    drain(c);
    CHECK(!strncmp(out, "HTTP/1.1 200 ", 13));
    CHECK(!strcmp(trace, "gaHGAC"));       /* global, route (auth), handler; heads; complete */
    done_conn(c);
    /* auth refuses: the handler never runs; CORS and the request id are still on it */
    c = open_conn();
    trace[0] = 0;
    s = "GET /private HTTP/1.1\r\nHost: a\r\nOrigin: http://a.test\r\n\r\n";
    feed(c, s, strlen(s));
    drain(c);
    CHECK(!strncmp(out, "HTTP/1.1 401 ", 13));
    CHECK(!strcmp(trace, "gaGAC"));
    CHECK(strstr(out, "Access-Control-Allow-Origin: http://a.test\r\n") &&
          strstr(out, "X-Request-Id: "));
    CHECK_EQ(c->state, HTTPD__S_HEAD);                     /* keep-alive goes on */
    done_conn(c);
    /* a preflight is answered before auth (it carries no credentials) */
    c = open_conn();
    trace[0] = 0;
    s = "OPTIONS /private HTTP/1.1\r\nHost: a\r\nOrigin: http://a.test\r\n"
        "Access-Control-Request-Method: PUT\r\nAccess-Control-Request-Headers: x-token\r\n\r\n";
    feed(c, s, strlen(s));
    drain(c);
    CHECK(!strncmp(out, "HTTP/1.1 204 ", 13));
    CHECK(!strcmp(trace, "GAC"));                          /* no request hook ran; the
                                                              route is PUT /private's */
    CHECK(strstr(out, "Access-Control-Allow-Methods: GET, POST, PUT\r\n")
          && strstr(out, "Access-Control-Allow-Headers: x-token\r\n")
          && strstr(out, "Access-Control-Max-Age: 60\r\n")
          && strstr(out, "Access-Control-Allow-Origin: http://a.test\r\n")
          && strstr(out, "Vary: Origin\r\n") && !strstr(out, "Expose-Headers"));
    done_conn(c);
    /* refused preflights: a method, a field, an origin */
    static const char *const refused[] = {
        "OPTIONS /private HTTP/1.1\r\nHost: a\r\nOrigin: "
        "http://a.test\r\nAccess-Control-Request-Method: DELETE\r\n\r\n",
        "OPTIONS /private HTTP/1.1\r\nHost: a\r\nOrigin: "
        "http://a.test\r\nAccess-Control-Request-Method: PUT\r\nAccess-Control-Request-Headers: "
        "x-evil\r\n\r\n",
        "OPTIONS /private HTTP/1.1\r\nHost: a\r\nOrigin: "
        "http://b.test\r\nAccess-Control-Request-Method: PUT\r\n\r\n"};
    for (size_t i = 0; i < HTTPD__COUNTOF(refused); i++) {
        c = open_conn();
        feed(c, refused[i], strlen(refused[i]));
        drain(c);
        CHECK(!strncmp(out, "HTTP/1.1 403 ", 13));
        CHECK(!strstr(out, "Access-Control-"));
        CHECK(strstr(out, "Vary: Origin\r\n") != NULL);
        done_conn(c);
    }
    /* a disallowed origin on a plain request: no CORS fields at all */
    c = open_conn();
    s = "GET / HTTP/1.1\r\nHost: a\r\nOrigin: http://evil.test\r\n\r\n";
    feed(c, s, strlen(s));
    drain(c);
    CHECK(!strncmp(out, "HTTP/1.1 200 ", 13) && !strstr(out, "Access-Control-"));
    done_conn(c);
    /* answered from the chain with the body unread: the connection closes after */
    c = open_conn();
    completes = 0;
    take_log();
    s = "PUT /private HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello";
    feed(c, s, strlen(s));
    drain(c);
    CHECK(!strncmp(out, "HTTP/1.1 401 ", 13) && strstr(out, "Connection: close\r\n"));
    CHECK(completes == 1 && last.close && !strcmp(last.close, "unread_body"));
    CHECK(strstr(take_log(), "\"close\":\"unread_body\"") != NULL);
    done_conn(c);
}
static void test_log_line(void) {
    httpd__conn *c = open_conn();
    take_log();
    const char *s = "GET /%22q%5c%01%ff HTTP/1.1\r\nHost: a\r\nUser-Agent: ua \"x\"\r\n"
                    "Authorization: Basic c2VjcmV0\r\nX-Token: t\r\nX-Request-Id: the-id\r\n"
                    "X-Forwarded-For: 203.0.113.9\r\n\r\n";
    feed(c, s, strlen(s));
    drain(c);
    const char *lg = take_log();
    CHECK(count(lg, "\n") == 1 && lg[0] == '{' && !strcmp(lg + strlen(lg) - 2, "}\n"));
    CHECK(strstr(lg, "\"id\":\"the-id\"") != NULL);
    CHECK(strstr(lg, "\"client\":\"192.0.2.33\"") != NULL);   /* not trusted: XFF ignored */
    CHECK(strstr(lg, "\"method\":\"GET\"") != NULL);
    CHECK(strstr(lg, "\"path\":\"/\\\"q\\\\\\u0001\\u00ff\"") != NULL);
    CHECK(strstr(lg, "\"route\":null") && strstr(lg, "\"status\":404"));
    CHECK(strstr(lg, "\"user-agent\":\"ua \\\"x\\\"\"") != NULL);
    CHECK(strstr(lg, "\"authorization\":\"[redacted]\"") &&
          strstr(lg, "\"x-token\":\"[redacted]\""));
    CHECK(!strstr(lg, "c2VjcmV0"));
    CHECK(strstr(lg, "\"worker\":0,\"close\":null") != NULL);
    for (const char *p = lg; *p; p++) CHECK((*p >= 0x20 && *p < 0x7f) || *p == '\n');
    done_conn(c);
    /* behind a trusted proxy, X-Forwarded-For names the client */
    c = open_conn();
    ip("10.9.9.9", c->addr);
    feed(c, s, strlen(s));
    drain(c);
    CHECK(strstr(take_log(), "\"client\":\"203.0.113.9\"") != NULL);
    done_conn(c);
}
static void test_client_gone_and_quiet(void) {
    httpd__conn *c = open_conn();
    take_log();
    completes = 0;
    feed(c, "GET /park HTTP/1.1\r\nHost: a\r\n\r\n", 31);
    CHECK(parked != NULL);
    httpd__conn_release(c);                              /* the client left */
    CHECK(completes == 1 && last.status == 499 && !strcmp(last.close, "client_gone"));
    CHECK(strstr(take_log(), "\"status\":499,") != NULL);
    CHECK_EQ(httpd_respond(parked, 200, NULL, "x", 1), HTTPD_ERR_CLOSED);
    CHECK_EQ(completes, 1);
    parked = NULL;
    c->dnext = wk.free_conns;
    wk.free_conns = c;
    /* the metrics route is quiet: counted, not logged */
    c = open_conn();
    uint64_t before = counted(7, 2);
    feed(c, "GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n", 34);
    drain(c);
    CHECK(!strncmp(out, "HTTP/1.1 200 ", 13));
    if (getenv("SHOW")) puts(out);
    CHECK(strstr(out, "\nhttpd_requests_total{route=\"/\",method=\"GET\",status=\"2xx\"} ") !=
          NULL);
    CHECK(strstr(out, "httpd_rejections_total{cause=\"429\"} 1\n") != NULL);
    CHECK(strstr(out, "httpd_rejections_total{cause=\"414\"} 1\n") != NULL);
    CHECK(strstr(out, "# TYPE httpd_request_duration_seconds histogram\n") != NULL);
    CHECK(strstr(out, "httpd_request_duration_seconds_bucket{route=\"unmatched\",le=\"+Inf\"} ") !=
          NULL);
    CHECK(take_log()[0] == 0);
    CHECK_EQ(counted(7, 2), before + 1);
    done_conn(c);
}
static int status_of(const char *raw) {
    httpd__conn *c = open_conn();
    feed(c, raw, strlen(raw));
    drain(c);
    done_conn(c);
    return atoi(out + 9);
}
static void test_rate_limit_by_key(void) {
    /* one per key and route: the same address with two keys gets two buckets; no key
       falls back to the address */
    CHECK_EQ(status_of("GET /keyed HTTP/1.1\r\nHost: a\r\nX-Api-Key: k1\r\n\r\n"), 200);
    CHECK_EQ(status_of("GET /keyed HTTP/1.1\r\nHost: a\r\nX-Api-Key: k1\r\n\r\n"), 429);
    CHECK_EQ(status_of("GET /keyed HTTP/1.1\r\nHost: a\r\nX-Api-Key: k2\r\n\r\n"), 200);
    CHECK_EQ(status_of("GET /keyed HTTP/1.1\r\nHost: a\r\n\r\n"), 200);
    CHECK_EQ(status_of("GET /keyed HTTP/1.1\r\nHost: a\r\n\r\n"), 429);
    wk.now += 1000;                                      /* a token per second */
    CHECK_EQ(status_of("GET /keyed HTTP/1.1\r\nHost: a\r\nX-Api-Key: k1\r\n\r\n"), 200);
    take_log();
}
static void test_proxy_state(void) {
    httpd__conn *c = open_conn();
    take_log();
    c->state = HTTPD__S_PROXY;
    const char *s = "PROXY TCP4 198.51.100.4 10.0.0.1 5555 80\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n";
    feed(c, s, strlen(s));
    drain(c);
    CHECK(!strncmp(out, "HTTP/1.1 200 ", 13));
    CHECK(strstr(take_log(), "\"client\":\"198.51.100.4\"") != NULL);
    done_conn(c);
    c = open_conn();                                     /* bad header: closed, no answer */
    c->state = HTTPD__S_PROXY;
    feed(c, "GET / HTTP/1.1\r\n", 16);
    CHECK_EQ(drain(c), 0);
    CHECK(c->state == HTTPD__S_CLOSING);
    done_conn(c);
    c = open_conn();                                     /* too slow: dropped */
    c->state = HTTPD__S_PROXY;
    feed(c, "PROXY TCP4 1.2", 14);
    CHECK_EQ(httpd__conn_deadline(c), c->since + 1000);  /* min(proxy 5 s, header 1 s) */
    expire(c);
    CHECK(c->state == HTTPD__S_ABORT);
    CHECK_EQ(drain(c), 0);
    done_conn(c);
    CHECK(HTTPD__LOAD_RLX(&srv.mw->met->w[0].reject[HTTPD__RJ_PROXY]) == 2);
}

/* ------------------------------------------------ a real server, several threads */
static httpd_server *live;
static void on_count(httpd_request *r) {
    httpd_metric_add(r->server, 0, 1);
    httpd_respond(r, 200, "text/plain", "ok", 2);
}
static void *client(void *arg) {
    int port = *(int *)arg, n = 0;
    for (int k = 0; k < 4; k++) {                         /* 4 connections x 50 requests */
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in sa;
        memset(&sa, 0, sizeof sa);
        sa.sin_family = AF_INET;
        sa.sin_port = htons((uint16_t)port);
        sa.sin_addr.s_addr = htonl(0x7f000001);
        if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) { close(fd); continue; }
        char buf[4096] = { 0 };
        for (int i = 0; i < 50; i++) {
            const char *q = "GET /count HTTP/1.1\r\nHost: a\r\n\r\n";
            if (write(fd, q, strlen(q)) < 0) break;
            size_t got = 0;
            while (!strstr(buf, "\r\n\r\nok")) {
                ssize_t r = read(fd, buf + got, sizeof buf - 1 - got);
                if (r <= 0) break;
                got += (size_t)r;
                buf[got] = 0;
            }
            if (strstr(buf, "\r\n\r\nok")) n++;
            buf[0] = 0;
        }
        close(fd);
    }
    return (void *)(intptr_t)n;
}
static void *bumper(void *arg) {                          /* counters from foreign threads */
    (void)arg;
    for (int i = 0; i < 1000; i++) httpd_metric_add(live, 0, 1);
    for (int i = 0; i < 100; i++) httpd_metric_set(live, 1, i);
    return NULL;
}
static double pool_size(void *arg) { (void)arg; return 4; }
static void test_threads(void) {
    static const httpd_metric app[] = {
        { "test_hits_total", "hits", HTTPD_COUNTER, NULL, NULL, NULL },
        { "test_level", "level", HTTPD_GAUGE, NULL, NULL, NULL },
        { "test_pool_size", "pool", HTTPD_GAUGE, "pool=\"read\"", pool_size, NULL },
        { NULL, NULL, 0, NULL, NULL, NULL } };
    static const httpd_route rs[] = {
        { "GET", "/count", on_count, NULL, 0, 0, 0, 0, NULL, NULL, NULL, 0 },
        { "GET", "/metrics", httpd_metrics, NULL, 0, 0, 0, 0, NULL, NULL, NULL, 0 },
        { NULL, NULL, NULL, NULL, 0, 0, 0, 0, NULL, NULL, NULL, 0 } };
    char path[] = "/tmp/test_mw_log_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    httpd_desc d;
    memset(&d, 0, sizeof d);
    d.routes = rs;
    d.workers = 2;
    d.request_id = 1;
    d.metrics = app;
    d.access_log.path = path;
    d.access_log.flush_ms = 50;
    d.access_log.buffer_bytes = 16384;                    /* several buffers' worth */
    CHECK_EQ(httpd_start(&d, &live), 0);
    int port = httpd_port(live);
    pthread_t th[4], b;
    for (int i = 0; i < 4; i++) pthread_create(&th[i], NULL, client, &port);
    pthread_create(&b, NULL, bumper, NULL);
    long total = 0;
    for (int i = 0; i < 4; i++) { void *v; pthread_join(th[i], &v); total += (long)(intptr_t)v; }
    pthread_join(b, NULL);
    CHECK_EQ(total, 800);
    httpd_log_reopen(live);                               /* from another thread */
    httpd_stop(live, 1);
    httpd_wait(live);
    CHECK_EQ(httpd_metric_add(live, 0, 1), HTTPD_ERR_STATE);    /* after httpd_wait */
    httpd_destroy(live);
    FILE *f = fopen(path, "r");
    char line[4096];
    int lines = 0, ok = 1;
    while (f && fgets(line, sizeof line, f)) {
        lines++;
        ok &= line[0] == '{' && strstr(line, "\"route\":\"/count\"") &&
              strstr(line, "\"status\":200");
    }
    if (f) fclose(f);
    unlink(path);
    CHECK_EQ(lines, 800);                                 /* every line, none twice */
    CHECK(ok);
}
static pthread_mutex_t sink_mu = PTHREAD_MUTEX_INITIALIZER;
static int sink_lines, sink_calls;
static void sink(void *user, const char *lines, size_t len) {
    (void)user;
    pthread_mutex_lock(&sink_mu);
    sink_calls++;
    for (size_t i = 0; i < len; i++) sink_lines += lines[i] == '\n';
    CHECK(len && lines[len - 1] == '\n');                 /* whole lines only */
    pthread_mutex_unlock(&sink_mu);
}
static void test_log_to_function(void) {
    static const httpd_route rs[] = {
        { "GET", "/count", on_count, NULL, 0, 0, 0, 0, NULL, NULL, NULL, 0 },
        { NULL, NULL, NULL, NULL, 0, 0, 0, 0, NULL, NULL, NULL, 0 } };
    static const httpd_metric app[] = {{"test_hits_total", "hits", HTTPD_COUNTER, NULL, NULL, NULL},
                                       {NULL, NULL, 0, NULL, NULL, NULL}};
    httpd_desc d;
    memset(&d, 0, sizeof d);
    d.routes = rs;
    d.workers = 2;
    d.metrics = app;
    d.access_log.fn = sink;
    d.access_log.flush_ms = 20;
    CHECK_EQ(httpd_start(&d, &live), 0);
    int port = httpd_port(live);
    pthread_t th[2];
    for (int i = 0; i < 2; i++) pthread_create(&th[i], NULL, client, &port);
    for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
    httpd_stop(live, 1);
    httpd_wait(live);
    httpd_destroy(live);
    CHECK_EQ(sink_lines, 400);
    CHECK(sink_calls >= 1 && sink_calls < 400);           /* in batches */
}
/* the counters a scrape sums, while workers write them (TSan watches) */
static void test_scrape_while_serving(void) {
    static const httpd_route rs[] = {
        { "GET", "/count", on_count, NULL, 0, 0, 0, 0, NULL, NULL, NULL, 0 },
        { "GET", "/metrics", httpd_metrics, NULL, 0, 0, 0, 0, NULL, NULL, NULL, 0 },
        { NULL, NULL, NULL, NULL, 0, 0, 0, 0, NULL, NULL, NULL, 0 } };
    static const httpd_metric app[] = {{"test_hits_total", "hits", HTTPD_COUNTER, NULL, NULL, NULL},
                                       {NULL, NULL, 0, NULL, NULL, NULL}};
    httpd_desc d;
    memset(&d, 0, sizeof d);
    d.routes = rs;
    d.workers = 2;
    d.metrics = app;
    CHECK_EQ(httpd_start(&d, &live), 0);
    int port = httpd_port(live);
    pthread_t th[2];
    for (int i = 0; i < 2; i++) pthread_create(&th[i], NULL, client, &port);
    for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
    /* one scrape after: 400 requests to /count and 400 application hits */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(0x7f000001);
    CHECK(connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0);
    const char *q = "GET /metrics HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
    CHECK(write(fd, q, strlen(q)) > 0);
    size_t got = 0;
    ssize_t r;
    while ((r = read(fd, out + got, sizeof out - 1 - got)) > 0) got += (size_t)r;
    out[got] = 0;
    close(fd);
    CHECK(
        strstr(out, "httpd_requests_total{route=\"/count\",method=\"GET\",status=\"2xx\"} 400\n") !=
        NULL);
    CHECK(strstr(out, "\ntest_hits_total 400\n") != NULL);
    httpd_stop(live, 1);
    httpd_wait(live);
    httpd_destroy(live);
}

int main(void) {
    RUN(test_addresses);
    RUN(test_cidrs);
    RUN(test_proxy_v1);
    RUN(test_proxy_v2);
    RUN(test_forwarded);
    RUN(test_gcra);
    RUN(test_gcra_table_bounded);
    RUN(test_limiter_config);
    RUN(test_request_ids);
    RUN(test_cors_match);
    RUN(test_json_and_time);
    RUN(test_metric_definitions);
    setup();
    RUN(test_every_generated_status);
    RUN(test_order_and_short_circuit);
    RUN(test_log_line);
    RUN(test_client_gone_and_quiet);
    RUN(test_proxy_state);
    RUN(test_rate_limit_by_key);
    httpd__worker_free(&wk);
    httpd__server_release(&srv);
    RUN(test_threads);
    RUN(test_scrape_while_serving);
    RUN(test_log_to_function);
    return REPORT();
}
