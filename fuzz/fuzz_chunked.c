/* fuzz/fuzz_chunked.c - the chunked decoder. The first byte picks a split step; decoding
   in pieces must give exactly the whole-input result (data, bytes consumed, final state),
   and never more data than bytes, nor more meta bytes than the cap. */
#define HTTPD_IMPLEMENTATION
#include "../httpd.h"

static long decode(const uint8_t *in, size_t n, size_t step, uint8_t *out, size_t *outlen,
                   int *state) {
    httpd__chunked d;
    memset(&d, 0, sizeof d);
    char *buf = (char *)malloc(n + 1);
    size_t have = 0, pos = 0, o = 0, consumed = 0;
    long rc = 0;
    for (;;) {
        size_t k = step < n - pos ? step : n - pos;
        memcpy(buf + have, in + pos, k);
        pos += k; have += k;
        size_t got = 0;
        long used = httpd__chunked_decode(&d, buf, have, &got, 64);
        if (used < 0) { rc = used; break; }
        HTTPD_ASSERT((size_t)used <= have && got <= (size_t)used && d.meta <= 64);
        memcpy(out + o, buf, got);
        o += got;
        consumed += (size_t)used;
        memmove(buf, buf + used, have - (size_t)used);
        have -= (size_t)used;
        if (d.state == HTTPD__CH_DONE || pos == n) { rc = (long)consumed; break; }
    }
    free(buf);
    *outlen = o;
    *state = d.state;
    return rc;
}
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    size_t step = data[0] % 13 + 1;
    data++; size--;
    uint8_t *a = (uint8_t *)malloc(size + 1), *b = (uint8_t *)malloc(size + 1);
    size_t al, bl;
    int as, bs;
    long ra = decode(data, size, size ? size : 1, a, &al, &as);
    long rb = decode(data, size, step, b, &bl, &bs);
    HTTPD_ASSERT(ra == rb);
    if (ra >= 0) HTTPD_ASSERT(al == bl && as == bs && !memcmp(a, b, al));
    free(a); free(b);
    return 0;
}
