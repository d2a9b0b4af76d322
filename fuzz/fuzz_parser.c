/* fuzz/fuzz_parser.c - the head scanner + parser, differentially. The first byte picks
   split points: the input is fed as growing prefixes, each copied to a fresh exact-size
   allocation (so ASan sees any read past the bytes given, and the buffer "moves" between
   calls as the real one may). Everything runs twice, with the vector scans and with the
   scalar loops (HTTPD_TEST_HOOKS), and the two runs must agree on every result. Checks:
   - scan-then-parse gives the same verdict and head length whole and split;
   - the one-pass parse (what the connection tries first, on every prefix) accepts only
     what scan-then-parse accepts, with the same length, and accepts a complete good head;
   - a parsed head's strings lie inside the head; path decoding of a parsed path is safe
     and idempotent. */
#define HTTPD_IMPLEMENTATION
#define HTTPD_TEST_HOOKS
#include "../httpd.h"

static const httpd__limits lim = { 256, 1024, 16 };
static httpd_header hdrs[16];

typedef struct result {
    int status, len;               /* status 0: ok; -1: incomplete; len: head length   */
    unsigned flags, nheaders;
    int method_id, minor;
    uint64_t content_length;
    size_t offs[2 * 16 + 4];       /* field and request-line offsets into the head     */
} result;

static void record(result *res, const httpd__head *h, const char *b) {
    res->flags = h->flags; res->nheaders = h->nheaders; res->method_id = h->method_id;
    res->minor = h->minor_version; res->content_length = h->content_length;
    res->offs[0] = (size_t)(h->method.ptr - b); res->offs[1] = (size_t)(h->target.ptr - b);
    res->offs[2] = h->target.len; res->offs[3] = h->method.len;
    for (uint32_t i = 0; i < h->nheaders; i++) {
        res->offs[4 + 2 * i] = (size_t)(h->headers[i].name.ptr - b);
        res->offs[5 + 2 * i] = (size_t)(h->headers[i].value.ptr - b) << 16 | h->headers[i].value.len;
    }
}
/* The reference: scan the whole input, parse the head it found. */
static void whole(const uint8_t *d, size_t n, result *res) {
    char *b = (char *)malloc(n ? n : 1);
    memcpy(b, d, n);
    httpd__scan s = { 0, 0, 0 };
    int r = httpd__scan_head(&s, b, n, &lim);
    memset(res, 0, sizeof *res);
    res->len = r;
    res->status = r < 0 ? -r : -1;
    if (r > 0) {
        httpd__head h;
        h.headers = hdrs;
        int st = httpd__parse_exact(&h, b, (size_t)r, &lim);
        res->status = st;
        if (st == 0) {
            record(res, &h, b);
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
}
/* Split feeding, then the one-pass parse on every prefix. */
static void run(const uint8_t *data, size_t size, unsigned step, result *want) {
    whole(data, size, want);
    httpd__scan s = { 0, 0, 0 };
    int got = 0, glen = 0;
    for (size_t k = step < size ? step : size; ; k = k + step < size ? k + step : size) {
        char *b = (char *)malloc(k ? k : 1);
        memcpy(b, data, k);
        int r = httpd__scan_head(&s, b, k, &lim);
        free(b);
        if (r != 0) {
            glen = r;
            if (r < 0) got = -r;
            else { result sub; whole(data, (size_t)r, &sub); got = sub.status; }
            break;
        }
        if (k == size) break;
    }
    /* a prefix may already be rejected (e.g. a too-long line) where the whole input is
       rejected for the same or an earlier reason; otherwise both must agree exactly */
    if (want->status >= 0 && glen != 0) HTTPD_ASSERT(got == want->status && glen == want->len);
    for (size_t k = step < size ? step : size; ; k = k + step < size ? k + step : size) {
        char *b = (char *)malloc(k ? k : 1);
        memcpy(b, data, k);
        httpd__head h;
        h.headers = hdrs;
        int r = httpd__parse_head(&h, b, k, &lim);
        if (r > 0) {                       /* accepted: exactly the reference's head */
            HTTPD_ASSERT(want->status == 0 && r == want->len);
            result one;
            memset(&one, 0, sizeof one);
            record(&one, &h, b);
            HTTPD_ASSERT(one.flags == want->flags && one.nheaders == want->nheaders
                         && one.method_id == want->method_id && one.minor == want->minor
                         && one.content_length == want->content_length
                         && !memcmp(one.offs, want->offs, sizeof one.offs));
        } else if (want->status == 0 && k >= (size_t)want->len) {
            HTTPD_ASSERT(0 && "one-pass parse refused a complete good head");
        }
        free(b);
        if (k == size) break;
    }
}
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    unsigned step = data[0] % 17 + 1;
    data++; size--;
    result vec, scalar;
    httpd__test_scalar = 0;
    run(data, size, step, &vec);
    httpd__test_scalar = 1;
    run(data, size, step, &scalar);
    httpd__test_scalar = 0;
    HTTPD_ASSERT(vec.status == scalar.status && vec.len == scalar.len);
    if (vec.status == 0) HTTPD_ASSERT(!memcmp(&vec, &scalar, sizeof vec));
    return 0;
}
