/* fuzz/fuzz_proxy.c - who the client is (>>proxyproto). The first byte picks a target:
   0  the PROXY protocol header: the verdict on the whole input and on every prefix agree
      (a prefix is incomplete, or has the same error, or the same length once it holds the
      whole header), the header parses the same alone, a length never passes the caps, an
      address it reports is a real one (formats and parses back to itself);
   1  X-Forwarded-For behind trusted proxies: lines "trusted CIDRs", "peer", then fields.
      The result is the peer unless the peer is trusted; it is checked against a plain
      reference walk (split at commas, from the right, while the hop is trusted);
   2  Forwarded (RFC 7239) the same way, without the reference (quoted strings);
   3  the address and CIDR parsers against the C library's inet_pton: what we accept it
      accepts with the same bytes, and text from httpd__addr_format parses back. */
#define HTTPD_IMPLEMENTATION
#include "../httpd.h"
#include <arpa/inet.h>

static int full_ip(const char *p, size_t n, uint8_t a[16]) {
    uint8_t b[4];
    if (n && httpd__ip4_parse(p, p + n, b) == n) {
        memcpy(a, httpd__v4map, 12);
        memcpy(a + 12, b, 4);
        return 4;
    }
    return n && httpd__ip6_parse(p, p + n, a) == n ? 6 : 0;
}
static void roundtrip(const uint8_t a[16]) {
    char t[48];
    uint8_t back[16];
    size_t n = httpd__addr_format(a, t);
    HTTPD_ASSERT(n < 46 && strlen(t) == n);
    HTTPD_ASSERT(full_ip(t, n, back) && !memcmp(a, back, 16));
}
static void fuzz_header(const char *b, size_t n) {
    uint8_t a[16], x[16];
    int got, g2, r = httpd__proxy_parse(b, n, a, &got);
    HTTPD_ASSERT(r >= -1 && (r <= 0 || (size_t)r <= n));
    if (r > 0) {
        HTTPD_ASSERT(b[0] == 'P' ? r <= HTTPD__PROXY_V1_MAX : r <= 16 + HTTPD__PROXY_V2_MAX);
        HTTPD_ASSERT(httpd__proxy_parse(b, (size_t)r, x, &g2) == r && g2 == got);
        if (got) { HTTPD_ASSERT(!memcmp(a, x, 16)); roundtrip(a); }
    }
    for (size_t k = 0; k < n; k++) {
        int p = httpd__proxy_parse(b, k, x, &g2);
        HTTPD_ASSERT(p == 0 || p == r);
        HTTPD_ASSERT(p <= 0 || (size_t)r <= k);
    }
}
/* "10.0.0.0/8,::1" -> cidrs; returns the count */
static size_t cidrs(const char *p, const char *end, httpd__cidr *c, size_t cap) {
    size_t n = 0;
    while (p < end && n < cap) {
        const char *e = (const char *)memchr(p, ',', (size_t)(end - p));
        if (!e) e = end;
        char s[64];
        size_t l = (size_t)(e - p) < sizeof s - 1 ? (size_t)(e - p) : sizeof s - 1;
        memcpy(s, p, l);
        s[l] = 0;
        if (httpd__cidr_parse(s, &c[n]) == 0) n++;
        p = e + 1;
    }
    return n;
}
static void fuzz_forwarded(const char *b, size_t n, int xff) {
    httpd__cidr t[8];
    httpd_header h[8];
    uint8_t peer[16], a[16], r[16];
    const char *end = b + n, *l1 = (const char *)memchr(b, '\n', n);
    if (!l1) return;
    const char *l2 = (const char *)memchr(l1 + 1, '\n', (size_t)(end - l1 - 1));
    if (!l2) return;
    size_t nt = cidrs(b, l1, t, 8);
    if (!full_ip(l1 + 1, (size_t)(l2 - l1 - 1), peer)) return;
    int nh = 0;
    for (const char *p = l2 + 1; p < end && nh < 8;) {     /* each line is one field */
        const char *e = (const char *)memchr(p, '\n', (size_t)(end - p));
        if (!e) e = end;
        h[nh].name.ptr = xff ? "X-Forwarded-For" : "Forwarded";
        h[nh].name.len = xff ? 15 : 9;
        h[nh].value.ptr = p;
        h[nh].value.len = (size_t)(e - p);
        nh++;
        p = e + 1;
    }
    memcpy(a, peer, 16);
    httpd__realip(t, nt, h, nh, a);
    if (memcmp(a, peer, 16)) HTTPD_ASSERT(httpd__cidr_match(t, nt, peer));
    if (!xff) return;
    /* the reference: all elements, in order, then from the right */
    struct { const char *p, *e; } el[512];
    size_t ne = 0;
    for (int i = 0; i < nh; i++) {
        const char *p = h[i].value.ptr, *e = p + h[i].value.len;
        for (;;) {
            const char *c = (const char *)memchr(p, ',', (size_t)(e - p));
            if (ne < 512) { el[ne].p = p; el[ne].e = c ? c : e; ne++; }
            if (!c) break;
            p = c + 1;
        }
    }
    memcpy(r, peer, 16);
    if (nt && httpd__cidr_match(t, nt, r))
        for (size_t k = 0; k < ne && k < HTTPD__FWD_MAX; k++) {
            uint8_t x[16];
            if (!httpd__fwd_addr(el[ne - 1 - k].p, el[ne - 1 - k].e, x)) break;
            memcpy(r, x, 16);
            if (!httpd__cidr_match(t, nt, r)) break;
        }
    HTTPD_ASSERT(ne >= 512 || !memcmp(a, r, 16));
}
static void fuzz_addresses(const char *b, size_t n) {
    uint8_t a[16], k[16];
    char s[128];
    if (n >= sizeof s) return;
    memcpy(s, b, n);
    s[n] = 0;
    if (strlen(s) != n) return;
    int fam = full_ip(b, n, a);
    if (fam == 4) {
        HTTPD_ASSERT(inet_pton(AF_INET, s, k + 12) == 1 && !memcmp(k + 12, a + 12, 4));
    } else if (fam == 6) {
        HTTPD_ASSERT(inet_pton(AF_INET6, s, k) == 1 && !memcmp(k, a, 16));
    }
    if (fam) roundtrip(a);
    httpd__cidr c;
    if (httpd__cidr_parse(s, &c) == 0) {
        HTTPD_ASSERT(c.bits <= 128);
        HTTPD_ASSERT(httpd__cidr_match(&c, 1, c.a));          /* the network is in itself */
    }
}
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    const char *b = (const char *)data + 1;
    size_t n = size - 1;
    switch (data[0] & 3) {
    case 0: fuzz_header(b, n); break;
    case 1: fuzz_forwarded(b, n, 1); break;
    case 2: fuzz_forwarded(b, n, 0); break;
    default: fuzz_addresses(b, n); break;
    }
    return 0;
}
