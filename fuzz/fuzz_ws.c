/* fuzz/fuzz_ws.c - the WebSocket frame decoder (httpd__wsf_next) and UTF-8 validator.
   The first byte picks the mode and the caps, the second seeds the splits.
   Raw mode: the rest is client bytes. Decoded whole and in random pieces (each piece an
   exact-size copy, unused bytes carried over the way a connection keeps them), the
   transcripts must be identical: messages (type and bytes), control frames, and the error
   close code with the number of bytes used before it. Invariants on every event: the
   bytes used lie inside what was offered, a data piece inside them, no message over the
   cap, every control payload <= 125, every completed text message valid UTF-8 by an
   independent decoder (and an invalid one never completed), no event after an error.
   Round-trip mode: the bytes drive a generator of valid masked frames (fragmented
   messages with controls between fragments, every length form); each message must come
   back exactly, whole and in pieces. */
#define HTTPD_IMPLEMENTATION
#include "../httpd.h"

/* independent UTF-8 check (RFC 3629 §4, decoding code points) */
static int ref_utf8(const unsigned char *p, size_t n) {
    size_t i = 0;
    while (i < n) {
        unsigned c = p[i];
        uint32_t cp;
        size_t k;
        if (c < 0x80) { i++; continue; }
        if ((c & 0xE0) == 0xC0) { k = 1; cp = c & 0x1F; }
        else if ((c & 0xF0) == 0xE0) { k = 2; cp = c & 0x0F; }
        else if ((c & 0xF8) == 0xF0) { k = 3; cp = c & 0x07; }
        else return 0;
        if (i + k >= n) return 0;                           /* cut short */
        for (size_t j = 1; j <= k; j++) {
            if ((p[i + j] & 0xC0) != 0x80) return 0;
            cp = cp << 6 | (p[i + j] & 0x3F);
        }
        if ((k == 1 && cp < 0x80) || (k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000)
            || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += k + 1;
    }
    return 1;
}

typedef struct {
    char    *t;                     /* transcript */
    size_t   tl, tcap;
    unsigned char *msg;
    size_t   ml, mcap;
    int      err;
    size_t   used_before_err;
} rec;
static void put(rec *r, const void *p, size_t n) {
    if (r->tl + n > r->tcap) {
        r->tcap = (r->tl + n) * 2 + 64;
        r->t = (char *)realloc(r->t, r->tcap);
        if (!r->t) abort();
    }
    memcpy(r->t + r->tl, p, n);
    r->tl += n;
}
static uint64_t rs;
static uint32_t rnd(void) { rs ^= rs << 13; rs ^= rs >> 7; rs ^= rs << 17; return (uint32_t)rs; }

/* Decodes in[0..n) in pieces (whole when pieces == 0) into r. */
static void decode(const uint8_t *in, size_t n, int pieces, uint64_t max_msg,
                   uint64_t max_frame, rec *r) {
    httpd__wsf f;
    memset(&f, 0, sizeof f);
    f.max_msg = max_msg; f.max_frame = max_frame;
    char *keep = NULL;
    size_t have = 0, fed = 0, used_total = 0;
    r->tl = 0; r->ml = 0; r->err = 0; r->used_before_err = 0;
    do {
        size_t k = pieces ? 1 + rnd() % 97 : n - fed;
        if (k > n - fed) k = n - fed;
        char *buf = (char *)malloc(have + k + 1);           /* exact size: ASan sees over-reads */
        if (!buf) abort();
        if (have) memcpy(buf, keep, have);
        if (k) memcpy(buf + have, in + fed, k);
        free(keep);
        keep = NULL;
        have += k; fed += k;
        size_t pos = 0;
        for (;;) {
            httpd__wsev ev;
            long rc = httpd__wsf_next(&f, buf + pos, have - pos, &ev);
            if (rc < 0) {
                HTTPD_ASSERT(rc == -1002 || rc == -1007 || rc == -1009);
                r->err = (int)-rc;
                r->used_before_err = used_total;
                free(buf);
                return;
            }
            HTTPD_ASSERT((size_t)rc <= have - pos);
            if (ev.kind == HTTPD__WSE_DATA) {
                HTTPD_ASSERT(ev.p >= buf + pos && ev.p + ev.n <= buf + pos + (size_t)rc);
                HTTPD_ASSERT(ev.op == 1 || ev.op == 2);
                if (r->ml + ev.n + 1 > r->mcap) {
                    r->mcap = (r->ml + ev.n + 1) * 2;
                    r->msg = (unsigned char *)realloc(r->msg, r->mcap);
                    if (!r->msg) abort();
                }
                if (ev.n) memcpy(r->msg + r->ml, ev.p, ev.n);
                r->ml += ev.n;
                HTTPD_ASSERT(r->ml <= max_msg);
                if (ev.fin) {
                    if (ev.op == 1) HTTPD_ASSERT(ref_utf8(r->msg, r->ml));
                    unsigned char h[9] = { 'M', (unsigned char)ev.op };
                    uint64_t l = r->ml;
                    for (int i = 0; i < 7; i++) h[2 + i] = (unsigned char)(l >> (8 * i));
                    put(r, h, 9);
                    put(r, r->msg, r->ml);
                    r->ml = 0;
                }
            } else if (ev.kind == HTTPD__WSE_CTRL) {
                HTTPD_ASSERT(ev.n <= 125 && (ev.op == 8 || ev.op == 9 || ev.op == 10));
                HTTPD_ASSERT(ev.p >= buf + pos && ev.p + ev.n <= buf + pos + (size_t)rc);
                unsigned char h[3] = { 'C', (unsigned char)ev.op, (unsigned char)ev.n };
                put(r, h, 3);
                put(r, ev.p, ev.n);
            }
            pos += (size_t)rc;
            used_total += (size_t)rc;
            if (rc == 0 && ev.kind == HTTPD__WSE_NONE) break;
        }
        if (have - pos) {
            keep = (char *)malloc(have - pos);
            if (!keep) abort();
            memcpy(keep, buf + pos, have - pos);
        }
        have -= pos;
        free(buf);
    } while (fed < n);
    free(keep);
    /* leftovers: a partial head or control frame, never more than one frame's head */
    HTTPD_ASSERT(have < 14 + 126 || f.in_payload);
}

/* ---- round trip: valid frames from the fuzzer's bytes ---- */
static size_t mkframe(uint8_t *o, int b0, const uint8_t *p, size_t n, int form, uint32_t key) {
    size_t k = 0;
    o[k++] = (uint8_t)b0;
    if (form == 0 && n < 126) o[k++] = (uint8_t)(0x80 | n);
    else if (form <= 1 && n <= 0xFFFF) { o[k++] = 0x80 | 126; o[k++] = (uint8_t)(n >> 8); o[k++] = (uint8_t)n; }
    else { o[k++] = 0x80 | 127; for (int i = 0; i < 8; i++) o[k++] = (uint8_t)((uint64_t)n >> (56 - 8 * i)); }
    uint8_t m[4] = { (uint8_t)key, (uint8_t)(key >> 8), (uint8_t)(key >> 16), (uint8_t)(key >> 24) };
    memcpy(o + k, m, 4); k += 4;
    for (size_t i = 0; i < n; i++) o[k + i] = p[i] ^ m[i & 3];
    return k + n;
}
static void round_trip(const uint8_t *data, size_t size) {
    size_t cap = size * 4 + 65536 + 4096;
    uint8_t *wire = (uint8_t *)malloc(cap), *want = (uint8_t *)malloc(cap);
    if (!wire || !want) abort();
    size_t wl = 0, tl = 0, i = 0;
    while (i + 2 < size && wl + 70000 < cap) {
        int type = (data[i] & 1) ? 2 : 1;
        size_t len = data[i + 1] % 200;
        if (data[i] & 0x80) len = 126 + (size_t)data[i + 1] * 257 % 65536;   /* 16/64-bit */
        i += 2;
        size_t avail = size - i, take = HTTPD__MIN(len, avail);
        const uint8_t *p = data + i;
        static uint8_t scratch[70000];
        if (type == 1) {                             /* text: make it valid ASCII + UTF-8 */
            for (size_t k = 0; k < len; k++) scratch[k] = (uint8_t)('a' + (k < take ? p[k] % 26 : 0));
            if (len >= 3) { scratch[0] = 0xE2; scratch[1] = 0x9C; scratch[2] = 0x93; }   /* U+2713 */
        } else {
            for (size_t k = 0; k < len; k++) scratch[k] = k < take ? p[k] : (uint8_t)k;
        }
        i += take;
        size_t nfrag = 1 + (data[i - 1] % 4), at = 0;
        for (size_t f = 0; f < nfrag; f++) {
            size_t n = f + 1 == nfrag ? len - at : (len - at) / 2;
            int b0 = (f == 0 ? type : 0) | (f + 1 == nfrag ? 0x80 : 0);
            wl += mkframe(wire + wl, b0, scratch + at, n, 0, rnd());
            at += n;
            if (f + 1 < nfrag && rnd() % 3 == 0) {    /* a control frame in between */
                uint8_t pl[4] = { 1, 2, 3, 4 };
                unsigned char h[3] = { 'C', 9, 4 };
                wl += mkframe(wire + wl, 0x89, pl, 4, 0, rnd());
                memcpy(want + tl, h, 3); memcpy(want + tl + 3, pl, 4); tl += 7;
            }
        }
        unsigned char h[9] = { 'M', (unsigned char)type };
        for (int k = 0; k < 7; k++) h[2 + k] = (unsigned char)((uint64_t)len >> (8 * k));
        memcpy(want + tl, h, 9); memcpy(want + tl + 9, scratch, len); tl += 9 + len;
    }
    rec r1 = { 0 }, r2 = { 0 };
    decode(wire, wl, 0, UINT64_MAX, UINT64_MAX, &r1);
    HTTPD_ASSERT(r1.err == 0 && r1.tl == tl && (!tl || !memcmp(r1.t, want, tl)));
    decode(wire, wl, 1, UINT64_MAX, UINT64_MAX, &r2);
    HTTPD_ASSERT(r2.err == 0 && r2.tl == tl && (!tl || !memcmp(r2.t, want, tl)));
    free(r1.t); free(r1.msg); free(r2.t); free(r2.msg);
    free(wire); free(want);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2) return 0;
    rs = 0x9E3779B97F4A7C15ull ^ data[1] ^ ((uint64_t)size << 32);
    uint8_t mode = data[0];
    data += 2; size -= 2;
    if (mode & 1) { round_trip(data, size); return 0; }
    uint64_t max_msg = (mode & 6) == 0 ? UINT64_MAX : (mode & 6) == 2 ? 100 : (mode & 6) == 4 ? 1000 : 65536;
    uint64_t max_frame = (mode & 8) ? 50 : UINT64_MAX;
    rec whole = { 0 }, split = { 0 };
    decode(data, size, 0, max_msg, max_frame, &whole);
    for (int rep = 0; rep < 3; rep++) {
        decode(data, size, 1, max_msg, max_frame, &split);
        HTTPD_ASSERT(split.err == whole.err && split.tl == whole.tl
                     && (!whole.tl || !memcmp(split.t, whole.t, whole.tl)));
        if (whole.err) HTTPD_ASSERT(split.used_before_err <= size);
    }
    /* the validator: any split agrees with the whole and with the reference */
    size_t bad = 0;
    unsigned st = httpd__utf8(0, data, size, &bad);
    int ok = st == 0, refok = ref_utf8(data, size);
    HTTPD_ASSERT(ok == refok || (!refok && st != HTTPD__U8_BAD));   /* cut short: state != 0 */
    unsigned s2 = 0;
    size_t at = 0, bad2 = 0;
    while (at < size && s2 != HTTPD__U8_BAD) {
        size_t k = 1 + rnd() % 13;
        if (k > size - at) k = size - at;
        size_t b = 0;
        s2 = httpd__utf8(s2, data + at, k, &b);
        if (s2 == HTTPD__U8_BAD) bad2 = at + b;
        at += k;
    }
    HTTPD_ASSERT(s2 == st && (st != HTTPD__U8_BAD || bad2 == bad));
    free(whole.t); free(whole.msg); free(split.t); free(split.msg);
    return 0;
}
