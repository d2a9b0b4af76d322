/* fuzz/fuzz_parser.c - the head scanner + parser. The first byte picks split points: the
   input is fed as growing prefixes, each copied to a fresh exact-size allocation (so ASan
   sees any read past the bytes given, and the buffer "moves" between calls as the real
   one may). Checks: the split result equals the whole-input result; a parsed head's
   strings lie inside the head; path decoding of a parsed path is safe and idempotent. */
#define HTTPD_IMPLEMENTATION
#include "../httpd.h"

static const httpd__limits lim = { 256, 1024, 16 };
static httpd_header hdrs[16];

static int whole(const uint8_t *d, size_t n, int *len) {
    char *b = (char *)malloc(n ? n : 1);
    memcpy(b, d, n);
    httpd__scan s = { 0, 0, 0 };
    int r = httpd__scan_head(&s, b, n, &lim), st;
    *len = r;
    if (r <= 0) st = r;
    else {
        httpd__head h;
        h.headers = hdrs;
        st = httpd__parse_head(&h, b, (size_t)r, &lim);
        if (st == 0) {
            HTTPD_ASSERT(h.method.ptr >= b && h.method.ptr + h.method.len <= b + r);
            HTTPD_ASSERT(h.nheaders <= lim.max_headers);
            for (uint32_t i = 0; i < h.nheaders; i++)
                HTTPD_ASSERT(h.headers[i].value.ptr >= b
                             && h.headers[i].value.ptr + h.headers[i].value.len <= b + r);
            if (!(h.flags & HTTPD__H_ASTERISK)) {
                char *out = (char *)malloc(h.path.len), *again = (char *)malloc(h.path.len);
                long k = httpd__path_decode(h.path.ptr, h.path.len, out);
                if (k >= 0) {
                    HTTPD_ASSERT((size_t)k <= h.path.len && out[0] == '/');
                    long k2 = httpd__path_decode(out, (size_t)k, again);   /* idempotent */
                    HTTPD_ASSERT(k2 == k && !memcmp(out, again, (size_t)k));
                }
                free(out); free(again);
            }
        }
    }
    free(b);
    return st;
}
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    unsigned step = data[0] % 17 + 1;
    data++; size--;
    int wlen, want = whole(data, size, &wlen);
    httpd__scan s = { 0, 0, 0 };
    int got = 0, glen = 0;
    for (size_t k = step < size ? step : size; ; k = k + step < size ? k + step : size) {
        char *b = (char *)malloc(k ? k : 1);
        memcpy(b, data, k);
        int r = httpd__scan_head(&s, b, k, &lim);
        free(b);
        if (r != 0) { glen = r; got = r < 0 ? r : whole(data, (size_t)r, &glen); break; }
        if (k == size) break;
    }
    /* a prefix may already be rejected (e.g. a too-long line) where the whole input is
       rejected for the same or an earlier reason; otherwise both must agree exactly */
    if (want > 0 || got > 0) HTTPD_ASSERT(want == got);
    if (wlen > 0) HTTPD_ASSERT(glen == wlen);
    if (wlen < 0) HTTPD_ASSERT(glen == wlen);
    return 0;
}
