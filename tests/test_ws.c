/* tests/test_ws.c - WebSockets: SHA-1 and base64 vectors (RFC 6455 §1.3 key), the UTF-8
   validator and the frame decoder fed every case whole, split at every byte, bytewise and
   in random pieces (inputs end at a PROT_NONE guard page), and whole connections in
   memory on a virtual clock: the handshake (101, 400, 403, 426), pipelined frames, echo,
   fragmentation, ping/pong, every close-code path, caps, streamed messages with
   pause/resume, heartbeats, backpressure, send_to and broadcast through the mailbox,
   graceful stop, and that an idle WebSocket holds no buffers. */
#define HTTPD_IMPLEMENTATION
#include "../httpd.h"
#include "harness.h"
#include <sys/mman.h>

/* ------------------------------------------------------------ SHA-1, base64, key */
static void hex(char *out, const unsigned char *p, size_t n) {
    for (size_t i = 0; i < n; i++) sprintf(out + 2 * i, "%02x", p[i]);
}
static void sha1_hex(char out[41], const void *p, size_t n, size_t step) {
    httpd__sha1 c;
    unsigned char md[20];
    httpd__sha1_init(&c);
    for (size_t i = 0; i < n; i += step) httpd__sha1_update(&c, (const char *)p + i, HTTPD__MIN(step, n - i));
    httpd__sha1_final(&c, md);
    hex(out, md, 20);
}
static void test_sha1_base64(void) {
    static const struct { const char *in, *md; } v[] = {       /* FIPS 180-2 appendix A */
        { "", "da39a3ee5e6b4b0d3255bfef95601890afd80709" },
        { "abc", "a9993e364706816aba3e25717850c26c9cd0d89d" },
        { "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
          "84983e441c3bd26ebaae4aa1f95129e5e54670f1" },
        { "The quick brown fox jumps over the lazy dog",
          "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12" },
    };
    char got[41];
    for (size_t i = 0; i < HTTPD__COUNTOF(v); i++)
        for (size_t step = 1; step <= 64; step += 7) {
            sha1_hex(got, v[i].in, strlen(v[i].in), step);
            CHECK(!strcmp(got, v[i].md));
        }
    static char million[1000000];
    memset(million, 'a', sizeof million);
    sha1_hex(got, million, sizeof million, 4096);
    CHECK(!strcmp(got, "34aa973cd4c4daa4f61eeb2bdbad27316534016f"));
    static const char *const b64[][2] = {                     /* RFC 4648 §10 */
        { "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" }, { "foob", "Zm9vYg==" },
        { "fooba", "Zm9vYmE=" }, { "foobar", "Zm9vYmFy" } };
    for (size_t i = 0; i < HTTPD__COUNTOF(b64); i++) {
        char o[16];
        size_t n = httpd__base64(o, (const unsigned char *)b64[i][0], strlen(b64[i][0]));
        CHECK(n == strlen(b64[i][1]) && !memcmp(o, b64[i][1], n));
    }
    /* RFC 6455 §1.3: the sample nonce and its accept value */
    httpd_str key = { "dGhlIHNhbXBsZSBub25jZQ==", 24 };
    char acc[29] = { 0 };
    httpd__ws_accept(acc, key);
    CHECK(!strcmp(acc, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
    CHECK(httpd__ws_key_ok(key));
    static const char *const bad[] = { "dGhlIHNhbXBsZSBub25jZQ=", "dGhlIHNhbXBsZSBub25jZQ===",
        "dGhlIHNhbXBsZSBub25jZR==", "dGhlIHNhbXBsZSBub25j*Q==", "dGhlIHNhbXBsZSBub25jZQ=A",
        "", "dGhlIHNhbXBsZSBub25jZQ" };
    for (size_t i = 0; i < HTTPD__COUNTOF(bad); i++) {
        httpd_str k = { bad[i], strlen(bad[i]) };
        CHECK(!httpd__ws_key_ok(k));
    }
}

/* ------------------------------------------------------------ guard page, randomness */
static char *guard_base;
static size_t page;
static char *at_guard(const char *s, size_t n) {        /* s copied so that it ends at the guard */
    char *p = guard_base + page - n;
    memmove(p, s, n);
    return p;
}
static void guard_init(void) {
    page = 1u << 20;                                      /* room for a 1 MiB input */
    guard_base = (char *)mmap(NULL, page + 4096, PROT_READ | PROT_WRITE,
                              MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (guard_base == MAP_FAILED || mprotect(guard_base + page, 4096, PROT_NONE)) abort();
}
static uint64_t rng = 88172645463325252ull;
static uint32_t rnd(void) { rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17; return (uint32_t)rng; }

/* ------------------------------------------------------------------------ UTF-8 */
static const struct { const char *s; int bad; int complete; } u8cases[] = {
    /* bad: offset of the first invalid byte, -1 if none; complete: ends on a boundary */
    { "hello, world", -1, 1 },
    { "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5", -1, 1 },        /* kosme */
    { "\xf0\x9f\x98\x80 ok \xef\xbf\xbf \xf4\x8f\xbf\xbf", -1, 1 },   /* U+1F600 U+FFFF U+10FFFF */
    { "\xed\x9f\xbf\xee\x80\x80", -1, 1 },                          /* around the surrogates */
    { "abcdefgh12345678\xc2\xa9", -1, 1 },
    { "\xe2\x82", -1, 0 },                                          /* cut short */
    { "ab\xf0\x90", -1, 0 },
    { "\x80", 0, 0 }, { "\xbf", 0, 0 }, { "abc\xc0\xaf", 3, 0 }, { "\xc1\xbf", 0, 0 },
    { "\xe0\x80\xaf", 1, 0 }, { "\xe0\x9f\xbf", 1, 0 },             /* overlong 3-byte */
    { "\xed\xa0\x80", 1, 0 }, { "\xed\xbf\xbf", 1, 0 },             /* surrogates */
    { "\xf0\x8f\xbf\xbf", 1, 0 },                                   /* overlong 4-byte */
    { "\xf4\x90\x80\x80", 1, 0 }, { "\xf5\x80\x80\x80", 0, 0 },     /* above U+10FFFF */
    { "\xff", 0, 0 }, { "\xfe", 0, 0 },
    { "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80" "edited", 12, 0 },
    { "0123456789abcdef0123456789\xe2\x28\xa1", 27, 0 },
    { "\xc2\x41", 1, 0 }, { "\xe1\x80\x41", 2, 0 }, { "\xf1\x80\x80\x41", 3, 0 },
};
static void test_utf8(void) {
    for (size_t i = 0; i < HTTPD__COUNTOF(u8cases); i++) {
        const char *s = u8cases[i].s;
        size_t n = strlen(s);
        int want_bad = u8cases[i].bad;
        /* whole */
        size_t badat = (size_t)-1;
        unsigned st = httpd__utf8(0, (const unsigned char *)at_guard(s, n), n, &badat);
        CHECK_EQ(st == HTTPD__U8_BAD ? (long long)badat : -1, want_bad);
        if (want_bad < 0) CHECK_EQ(st == 0, u8cases[i].complete);
        /* every two-piece split, bytewise, random: the first bad byte is found the moment
           it is fed, at the same offset */
        for (int mode = 0; mode < 3; mode++) {
            for (size_t cut = 0; cut <= n; cut++) {
                size_t off = 0;
                st = 0;
                int found = -1;
                while (off < n) {
                    size_t k = mode == 0 ? (off < cut ? cut - off : n - off) : mode == 1 ? 1
                             : 1 + rnd() % 5;
                    if (k > n - off) k = n - off;
                    if (k == 0) k = n - off;
                    size_t b = (size_t)-1;
                    st = httpd__utf8(st, (const unsigned char *)at_guard(s + off, k), k, &b);
                    if (st == HTTPD__U8_BAD) { found = (int)(off + b); break; }
                    off += k;
                }
                CHECK_EQ(found, want_bad);
                if (want_bad < 0) CHECK_EQ(st == 0, u8cases[i].complete);
                if (mode) break;
            }
        }
        if (th_bad) { fprintf(stderr, "  utf8 case %zu\n", i); return; }
    }
    /* every code point, encoded by hand, is valid; every surrogate is not */
    for (uint32_t cp = 0; cp < 0x110000; cp += (cp < 0x3000 ? 1 : 7)) {
        unsigned char b[4];
        size_t n = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
        if (n == 1) b[0] = (unsigned char)cp;
        else if (n == 2) { b[0] = (unsigned char)(0xC0 | cp >> 6); b[1] = (unsigned char)(0x80 | (cp & 63)); }
        else if (n == 3) { b[0] = (unsigned char)(0xE0 | cp >> 12); b[1] = (unsigned char)(0x80 | (cp >> 6 & 63));
                           b[2] = (unsigned char)(0x80 | (cp & 63)); }
        else { b[0] = (unsigned char)(0xF0 | cp >> 18); b[1] = (unsigned char)(0x80 | (cp >> 12 & 63));
               b[2] = (unsigned char)(0x80 | (cp >> 6 & 63)); b[3] = (unsigned char)(0x80 | (cp & 63)); }
        unsigned st = httpd__utf8(0, b, n, NULL);
        int surrogate = cp >= 0xD800 && cp <= 0xDFFF;
        if ((st == 0) == surrogate) { CHECK(!"code point verdict"); fprintf(stderr, "  U+%04X\n", (unsigned)cp); return; }
    }
}

/* --------------------------------------------------------------- frame decoder */
/* A client frame: masked with `mask` unless nomask; lenform 0 minimal, else 126/127. */
static size_t cframe(unsigned char *o, int b0, const void *payload, size_t n, int nomask,
                     int lenform) {
    static const unsigned char mask[4] = { 0x37, 0xfa, 0x21, 0x3d };
    size_t k = 0;
    o[k++] = (unsigned char)b0;
    unsigned char mbit = nomask ? 0 : 0x80;
    if (lenform == 0 && n < 126) o[k++] = (unsigned char)(mbit | n);
    else if ((lenform == 0 && n <= 0xFFFF) || lenform == 126) {
        o[k++] = mbit | 126; o[k++] = (unsigned char)(n >> 8); o[k++] = (unsigned char)n;
    } else {
        o[k++] = mbit | 127;
        for (int i = 0; i < 8; i++) o[k++] = (unsigned char)((uint64_t)n >> (56 - 8 * i));
    }
    if (!nomask) { memcpy(o + k, mask, 4); k += 4; }
    for (size_t i = 0; i < n; i++)
        o[k + i] = (unsigned char)(((const unsigned char *)payload)[i] ^ (nomask ? 0 : mask[i & 3]));
    return k + n;
}
/* Decodes in[0..n) fed in pieces (sched: 0 whole, 1 cut at `cut`, 2 bytewise, 3 random)
   the way a connection does (unused bytes kept, more appended), into a transcript:
   "M<op>[<hex>]" per message, "C<op>[<hex>]" per control frame, "E<code>" at an error.
   *err_fed: input bytes offered when the error was reported. */
static char transcript[1 << 22];
static size_t decode(const unsigned char *in, size_t n, int sched, size_t cut, uint64_t max_msg,
                     uint64_t max_frame, size_t *err_fed) {
    static char buf[1 << 20 | 64];
    static unsigned char msg[1 << 20];
    httpd__wsf f;
    memset(&f, 0, sizeof f);
    f.max_msg = max_msg; f.max_frame = max_frame;
    size_t have = 0, fed = 0, tl = 0, ml = 0;
    transcript[0] = 0;
    *err_fed = 0;
    do {
        size_t k = sched == 0 ? n - fed : sched == 1 ? (fed < cut ? cut - fed : n - fed)
                 : sched == 2 ? 1 : 1 + rnd() % 300;
        if (k > n - fed) k = n - fed;
        memcpy(buf + have, in + fed, k);
        have += k; fed += k;
        char *p = at_guard(buf, have);
        size_t pos = 0;
        for (;;) {
            httpd__wsev ev;
            long rc = httpd__wsf_next(&f, p + pos, have - pos, &ev);
            if (rc < 0) {
                tl += (size_t)sprintf(transcript + tl, "E%ld", -rc);
                *err_fed = fed;
                return tl;
            }
            CHECK(rc >= 0 && (size_t)rc <= have - pos);
            if (ev.kind == HTTPD__WSE_DATA) {
                CHECK(ev.p >= p + pos && ev.p + ev.n <= p + pos + (size_t)rc);
                memcpy(msg + ml, ev.p, ev.n);
                ml += ev.n;
                if (ev.fin) {
                    if (ev.whole) CHECK_EQ(ev.n, ml);
                    tl += (size_t)sprintf(transcript + tl, "M%d[", ev.op);
                    hex(transcript + tl, msg, ml); tl += 2 * ml;
                    transcript[tl++] = ']'; transcript[tl] = 0;
                    ml = 0;
                }
            } else if (ev.kind == HTTPD__WSE_CTRL) {
                tl += (size_t)sprintf(transcript + tl, "C%d[", ev.op);
                hex(transcript + tl, (const unsigned char *)ev.p, ev.n); tl += 2 * ev.n;
                transcript[tl++] = ']'; transcript[tl] = 0;
            }
            pos += (size_t)rc;
            if (rc == 0 && ev.kind == HTTPD__WSE_NONE) break;
        }
        memmove(buf, p + pos, have - pos);
        have -= pos;
    } while (fed < n);
    if (have) { tl += (size_t)sprintf(transcript + tl, "R%zu", have); }   /* left over */
    return tl;
}
typedef struct { unsigned char b[70000 + 200]; size_t n; const char *want; uint64_t max_msg; } fcase;
static fcase fc[64];
static int nfc;
static fcase *add_case(const char *want) {
    fcase *c = &fc[nfc++];
    c->n = 0; c->want = want; c->max_msg = 100000;
    return c;
}
#define F(c, b0, s, len, nomask, form) ((c)->n += cframe((c)->b + (c)->n, (b0), (s), (len), (nomask), (form)))
static void build_cases(void) {
    fcase *c;
    /* RFC 6455 §5.7: a single-frame masked text message "Hello" */
    c = add_case("M1[48656c6c6f]");
    memcpy(c->b, "\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", 11); c->n = 11;
    c = add_case("M1[48656c6c6f]");                           /* fragmented: "Hel" "lo" */
    F(c, 0x01, "Hel", 3, 0, 0); F(c, 0x80, "lo", 2, 0, 0);
    c = add_case("C9[48656c6c6f]");                           /* ping */
    F(c, 0x89, "Hello", 5, 0, 0);
    c = add_case("M1[]M2[]");                                 /* empty messages */
    F(c, 0x81, "", 0, 0, 0); F(c, 0x82, "", 0, 0, 0);
    c = add_case("M1[6162]");                                 /* empty fragments around */
    F(c, 0x01, "", 0, 0, 0); F(c, 0x00, "a", 1, 0, 0); F(c, 0x00, "", 0, 0, 0); F(c, 0x80, "b", 1, 0, 0);
    c = add_case("C9[70]C10[]M1[6162]C8[03e8627965]");       /* controls between fragments */
    F(c, 0x01, "a", 1, 0, 0); F(c, 0x89, "p", 1, 0, 0); F(c, 0x8a, "", 0, 0, 0);
    F(c, 0x80, "b", 1, 0, 0); F(c, 0x88, "\x03\xe8" "bye", 5, 0, 0);
    static unsigned char big[70000];
    for (size_t i = 0; i < sizeof big; i++) big[i] = (unsigned char)(i * 7);
    static char want_big[2 * 70000 + 64], want_256[2 * 256 + 8], want_125[300], a125[126];
    memset(a125, 'a', 125);
    c = add_case(want_256);                                   /* 16-bit length */
    F(c, 0x82, big, 256, 0, 0);
    strcpy(want_256, "M2["); hex(want_256 + 3, big, 256); strcat(want_256, "]");
    c = add_case(want_big);                                   /* 64-bit length */
    F(c, 0x82, big, 70000, 0, 0);
    strcpy(want_big, "M2["); hex(want_big + 3, big, 70000); strcat(want_big, "]");
    strcpy(want_125, "C9["); hex(want_125 + 3, (unsigned char *)a125, 125); strcat(want_125, "]");
    c = add_case(want_125);
    F(c, 0x89, a125, 125, 0, 0);
    /* UTF-8 split across fragments: fine; bad across fragments: 1007 */
    c = add_case("M1[cebae1bdb9cf83cebcceb5]");
    F(c, 0x01, "\xce\xba\xe1", 3, 0, 0); F(c, 0x00, "\xbd\xb9\xcf\x83\xce", 5, 0, 0);
    F(c, 0x80, "\xbc\xce\xb5", 3, 0, 0);
    /* errors */
    c = add_case("E1002"); F(c, 0x81, "abc", 3, 1, 0);                 /* unmasked */
    c = add_case("E1002"); F(c, 0xc1, "abc", 3, 0, 0);                 /* RSV1 */
    c = add_case("E1002"); F(c, 0xa1, "abc", 3, 0, 0);                 /* RSV2 */
    c = add_case("E1002"); F(c, 0x91, "abc", 3, 0, 0);                 /* RSV3 */
    c = add_case("E1002"); F(c, 0x83, "abc", 3, 0, 0);                 /* opcode 3 */
    c = add_case("E1002"); F(c, 0x87, "abc", 3, 0, 0);                 /* opcode 7 */
    c = add_case("E1002"); F(c, 0x8b, "abc", 3, 0, 0);                 /* opcode 11 */
    c = add_case("E1002"); F(c, 0x8f, "", 0, 0, 0);                    /* opcode 15 */
    c = add_case("E1002"); F(c, 0x09, "p", 1, 0, 0);                   /* fragmented ping */
    c = add_case("E1002"); F(c, 0x89, big, 126, 0, 0);                 /* control > 125 */
    c = add_case("E1002"); F(c, 0x80, "a", 1, 0, 0);                   /* lone continuation */
    c = add_case("E1002"); F(c, 0x01, "a", 1, 0, 0); F(c, 0x81, "b", 1, 0, 0); /* text in frag */
    c = add_case("E1002"); F(c, 0x02, "a", 1, 0, 0); F(c, 0x02, "b", 1, 0, 0);
    c = add_case("E1002"); F(c, 0x82, big, 100, 0, 126);               /* 16-bit, not minimal */
    c = add_case("E1002"); F(c, 0x82, big, 200, 0, 127);               /* 64-bit, not minimal */
    c = add_case("E1002");                                              /* 64-bit top bit */
    memcpy(c->b, "\x82\xff\x80\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00", 14); c->n = 14;
    c = add_case("M1[6f6b]E1002"); F(c, 0x81, "ok", 2, 0, 0); F(c, 0x81, "x", 1, 1, 0);
    c = add_case("E1007"); F(c, 0x81, "ab\xc0\xaf", 4, 0, 0);          /* overlong */
    c = add_case("E1007"); F(c, 0x81, "\xed\xa0\x80", 3, 0, 0);        /* surrogate */
    c = add_case("E1007"); F(c, 0x81, "ok\xe2\x82", 4, 0, 0);          /* cut at the end */
    c = add_case("E1007"); F(c, 0x01, "\xce", 1, 0, 0); F(c, 0x80, "A", 1, 0, 0);
    c = add_case("E1007"); F(c, 0x01, "\xce\xba", 2, 0, 0); F(c, 0x80, "\xe2", 1, 0, 0);
    c = add_case("M2[c0af]"); F(c, 0x82, "\xc0\xaf", 2, 0, 0);         /* binary: anything */
    c = add_case("E1009"); c->max_msg = 1000; F(c, 0x82, big, 1001, 0, 0);
    c = add_case("M2[]E1009"); c->max_msg = 1000;
    F(c, 0x82, "", 0, 0, 0); F(c, 0x02, big, 600, 0, 0); F(c, 0x80, big, 401, 0, 0);
    static char want_cap[2 * 1000 + 8];
    c = add_case(want_cap); c->max_msg = 1000;                          /* exactly the cap */
    F(c, 0x02, big, 600, 0, 0); F(c, 0x80, big, 400, 0, 0);
    strcpy(want_cap, "M2["); hex(want_cap + 3, big, 600); hex(want_cap + 3 + 1200, big, 400);
    strcat(want_cap, "]");
}
static void test_frames_every_split(void) {
    build_cases();
    for (int i = 0; i < nfc; i++) {
        fcase *c = &fc[i];
        size_t ef;
        decode(c->b, c->n, 0, 0, c->max_msg, UINT64_MAX, &ef);
        if (strcmp(transcript, c->want)) {
            CHECK(!"whole transcript");
            fprintf(stderr, "  case %d: got %.200s want %.200s\n", i, transcript, c->want);
            continue;
        }
        size_t step = c->n > 3000 ? 97 : 1;                 /* big ones: a sample of cuts */
        for (size_t cut = 0; cut <= c->n; cut += step) {
            decode(c->b, c->n, 1, cut, c->max_msg, UINT64_MAX, &ef);
            if (strcmp(transcript, c->want)) {
                CHECK(!"split transcript");
                fprintf(stderr, "  case %d cut %zu: got %.200s\n", i, cut, transcript);
                break;
            }
        }
        for (int sched = 2; sched <= 3; sched++)
            for (int rep = 0; rep < (sched == 3 ? 20 : 1); rep++) {
                decode(c->b, c->n, sched, 0, c->max_msg, UINT64_MAX, &ef);
                if (strcmp(transcript, c->want)) {
                    CHECK(!"piecewise transcript");
                    fprintf(stderr, "  case %d sched %d: got %.200s\n", i, sched, transcript);
                }
            }
    }
}
/* Fails fast: an invalid byte (1007) and an over-cap frame (1009) are reported when the
   offending byte (for 1009: the length) arrives, not at the end of the frame. */
static void test_fail_fast(void) {
    unsigned char b[600];
    char text[512];
    memset(text, 'a', sizeof text);
    text[100] = (char)0xff;
    size_t n = cframe(b, 0x81, text, sizeof text, 0, 0), ef;
    decode(b, n, 2, 0, 100000, UINT64_MAX, &ef);
    CHECK(!strcmp(transcript, "E1007"));
    CHECK_EQ(ef, 8 + 100 + 1);                       /* head 8 bytes, then byte 100 */
    n = cframe(b, 0x82, text, sizeof text, 0, 0);
    decode(b, n, 2, 0, 100, UINT64_MAX, &ef);
    CHECK(!strcmp(transcript, "E1009"));
    CHECK_EQ(ef, 8);                                 /* from the head alone */
    decode(b, n, 2, 0, 100000, 511, &ef);            /* the frame cap */
    CHECK(!strcmp(transcript, "E1009"));
    decode(b, n, 2, 0, 100000, 512, &ef);
    CHECK(strncmp(transcript, "M2[", 3) == 0);
}
static void test_frame_writer(void) {
    unsigned char h[10];
    CHECK_EQ(httpd__ws_head(h, 1, 0), 2); CHECK(h[0] == 0x81 && h[1] == 0);
    CHECK_EQ(httpd__ws_head(h, 2, 125), 2); CHECK(h[1] == 125);
    CHECK_EQ(httpd__ws_head(h, 2, 126), 4); CHECK(h[1] == 126 && h[2] == 0 && h[3] == 126);
    CHECK_EQ(httpd__ws_head(h, 2, 65535), 4); CHECK(h[2] == 0xff && h[3] == 0xff);
    CHECK_EQ(httpd__ws_head(h, 2, 65536), 10);
    CHECK(h[1] == 127 && h[7] == 1 && h[8] == 0 && h[9] == 0 && h[2] == 0);
    unsigned char p[37], q[37];
    const uint8_t m[4] = { 1, 2, 3, 4 };
    for (int i = 0; i < 37; i++) p[i] = q[i] = (unsigned char)(i * 31);
    for (size_t cut = 0; cut <= 37; cut++) {          /* unmasking in any pieces */
        uint8_t pos = 0;
        memcpy(p, q, 37);
        httpd__ws_unmask(p, cut, m, &pos);
        httpd__ws_unmask(p + cut, 37 - cut, m, &pos);
        for (int i = 0; i < 37; i++) CHECK(p[i] == (unsigned char)(q[i] ^ m[i & 3]));
    }
    static const unsigned ok[] = { 1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011,
                                   1012, 1013, 1014, 3000, 3999, 4000, 4999 };
    static const unsigned no[] = { 0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999,
                                   5000, 65535 };
    for (size_t i = 0; i < HTTPD__COUNTOF(ok); i++) CHECK(httpd__ws_code_ok(ok[i]));
    for (size_t i = 0; i < HTTPD__COUNTOF(no); i++) CHECK(!httpd__ws_code_ok(no[i]));
}

/* ------------------------------------------------------- connections, in memory */
static httpd_server srv;
static httpd__worker wk;
static char ev_log[1 << 16];                  /* what the application saw */
static httpd_ws *last_ws;
static int close_code = -1;
static char close_reason[128];
static int writable_calls;
static void logf_(const char *fmt, ...) {
    size_t l = strlen(ev_log);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ev_log + l, sizeof ev_log - l, fmt, ap);
    va_end(ap);
}
static void on_open(httpd_ws *ws) { last_ws = ws; logf_("open;"); }
static void on_msg(httpd_ws *ws, int type, const void *data, size_t len, int fin) {
    logf_("msg%d:%zu:%d:%.*s;", type, len, fin, (int)HTTPD__MIN(len, (size_t)40), (const char *)data);
    if (len >= 5 && !memcmp(data, "close", 5)) { httpd_ws_close(ws, 4000, "bye"); return; }
    if (len >= 5 && !memcmp(data, "pause", 5)) { httpd_ws_pause(ws); return; }
    if (!ws->d->stream) httpd_ws_send(ws, type, data, len);
}
static void on_close_cb(httpd_ws *ws, int code, const char *reason, size_t rl) {
    close_code = code;
    snprintf(close_reason, sizeof close_reason, "%.*s", (int)rl, reason);
    CHECK_EQ(httpd_ws_send(ws, HTTPD_WS_TEXT, "x", 1), HTTPD_ERR_CLOSED);
    logf_("close%d;", code);
    if (last_ws == ws) last_ws = NULL;
}
static void on_writable(httpd_ws *ws) { (void)ws; writable_calls++; }
static int origin_ok(httpd_request *req, httpd_str origin) {
    (void)req;
    return origin.ptr && origin.len == 17 && !memcmp(origin.ptr, "https://good.test", 17);
}
static httpd_ws_desc echo_desc = { on_open, on_msg, on_close_cb, on_writable, NULL,
                                   1000, 0, 1000, 3000, 0, HTTPD_WS_DROP };
static httpd_ws_desc stream_desc = { on_open, on_msg, on_close_cb, NULL, NULL,
                                     HTTPD_UNLIMITED, 0, 0, 0, 1, HTTPD_WS_DROP };
static httpd_ws_desc slow_desc = { on_open, on_msg, on_close_cb, on_writable, origin_ok,
                                   0, 0, 0, 0, 0, HTTPD_WS_CLOSE };
static void h_ws(httpd_request *r) {
    const char *proto = httpd_ws_offers(r, "chat") ? "chat" : NULL;
    if (httpd_get_header(r, "X-Bad-Proto").ptr) proto = "nope";
    httpd_add_header(r, "Set-Cookie", "a=1");
    int rc = httpd_ws_upgrade(r, &echo_desc, proto, NULL);
    logf_("upgrade%d;", rc);
}
static void h_stream(httpd_request *r) { logf_("upgrade%d;", httpd_ws_upgrade(r, &stream_desc, NULL, NULL)); }
static void h_slow(httpd_request *r) { logf_("upgrade%d;", httpd_ws_upgrade(r, &slow_desc, NULL, NULL)); }
static void h_plain(httpd_request *r) { httpd_respond(r, 200, NULL, "plain", 5); }
static const httpd_route routes[] = {
    { .method = "GET", .pattern = "/ws", .handler = h_ws },
    { .method = "GET", .pattern = "/stream", .handler = h_stream },
    { .method = "GET", .pattern = "/slow", .handler = h_slow },
    { .method = "*", .pattern = "/any", .handler = h_ws },
    { .method = "GET", .pattern = "/", .handler = h_plain },
    { 0 },
};
static void setup(void) {
    httpd_desc d;
    memset(&d, 0, sizeof d);
    d.routes = routes;
    d.workers = 1;
    if (httpd__server_init(&srv, &d) || httpd__worker_init(&wk, &srv, 0)) {
        puts("0 passed, 1 failed");
        exit(1);
    }
    srv.workers = &wk;
    srv.nworkers = 1;
    HTTPD__STORE(&srv.running, 1);
    wk.now = 1000000;
    httpd__wheel_init(&wk.wheel, wk.now);
}
static httpd__conn *open_conn(void) {
    httpd__conn *c = httpd__conn_new(&wk);
    httpd__conn_init(c, &wk, -1);
    ev_log[0] = 0;
    close_code = -1;
    return c;
}
static size_t feed(httpd__conn *c, const void *s, size_t n, size_t step) {
    size_t pos = 0;
    while (pos < n) {
        size_t cap;
        char *p = httpd__conn_rbuf(c, &cap);
        if (!p || !cap) break;
        size_t k = HTTPD__MIN(cap, n - pos);
        if (step) k = HTTPD__MIN(k, step);
        memcpy(p, (const char *)s + pos, k);
        httpd__conn_recv(c, k);
        pos += k;
    }
    return pos;
}
static unsigned char out[1 << 21];
static size_t drain(httpd__conn *c, size_t max) {
    const char *p;
    size_t total = 0, n;
    while ((n = httpd__conn_obuf(c, &p)) && total < max && total < sizeof out) {
        n = HTTPD__MIN(n, HTTPD__MIN(max - total, sizeof out - total));
        memcpy(out + total, p, n);
        total += n;
        httpd__conn_sent(c, n);
    }
    return total;
}
static void unqueue(void) {
    for (httpd__conn *q = wk.queue; q; q = q->next) q->flags &= (uint16_t)~HTTPD__F_QUEUED;
    wk.queue = NULL;
}
static void done_conn(httpd__conn *c) {
    httpd__conn_release(c);
    unqueue();
    c->gen++;
    c->dnext = wk.free_conns;
    wk.free_conns = c;
}
/* Parses server frames in out[0..n) into "S<op>[text]" items (unmasked, FIN set). */
static char sbuf[1 << 16];
static const char *sframes(const unsigned char *o, size_t n) {
    size_t i = 0, l = 0;
    sbuf[0] = 0;
    while (i + 2 <= n) {
        int op = o[i] & 15;
        CHECK((o[i] & 0xf0) == 0x80 && !(o[i + 1] & 0x80));
        uint64_t len = o[i + 1] & 127;
        size_t hl = 2;
        if (len == 126) { len = (uint64_t)o[i + 2] << 8 | o[i + 3]; hl = 4; }
        else if (len == 127) { len = 0; for (int k = 0; k < 8; k++) len = len << 8 | o[i + 2 + k]; hl = 10; }
        if (i + hl + len > n) { l += (size_t)snprintf(sbuf + l, sizeof sbuf - l, "cut"); break; }
        if (op == 8 && len >= 2)
            l += (size_t)snprintf(sbuf + l, sizeof sbuf - l, "S8[%d %.*s]", o[i + hl] << 8 | o[i + hl + 1],
                                  (int)len - 2, (const char *)o + i + hl + 2);
        else
            l += (size_t)snprintf(sbuf + l, sizeof sbuf - l, "S%d[%.*s]", op,
                                  (int)HTTPD__MIN(len, (uint64_t)40), (const char *)o + i + hl);
        i += hl + (size_t)len;
        if (l >= sizeof sbuf - 64) break;
    }
    return sbuf;
}
static const char *hs_fmt = "GET %s HTTP/1.1\r\nHost: h.test\r\nUpgrade: websocket\r\n"
                            "Connection: keep-alive, Upgrade\r\n"
                            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                            "Sec-WebSocket-Version: 13\r\n%s\r\n";
static size_t hs(char *b, const char *path, const char *extra) {
    return (size_t)sprintf(b, hs_fmt, path, extra ? extra : "");
}
/* Opens a WebSocket on path; returns the conn with the 101 drained into out. */
static httpd__conn *ws_open(const char *path, const char *extra, size_t *head) {
    httpd__conn *c = open_conn();
    char b[1024];
    size_t n = hs(b, path, extra);
    feed(c, b, n, 0);
    size_t got = drain(c, sizeof out);
    const char *e = strstr((const char *)out, "\r\n\r\n");
    CHECK(e != NULL);
    *head = e ? (size_t)(e + 4 - (const char *)out) : got;
    return c;
}

static void test_handshake(void) {
    size_t head;
    httpd__conn *c = ws_open("/ws", "Sec-WebSocket-Protocol: x, chat\r\n"
                             "Sec-WebSocket-Extensions: permessage-deflate\r\n", &head);
    out[head] = 0;
    CHECK(!strncmp((const char *)out, "HTTP/1.1 101 Switching Protocols\r\n", 34));
    CHECK(strstr((const char *)out, "\r\nUpgrade: websocket\r\n") != NULL);
    CHECK(strstr((const char *)out, "\r\nConnection: Upgrade\r\n") != NULL);
    CHECK(strstr((const char *)out, "\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
    CHECK(strstr((const char *)out, "\r\nSec-WebSocket-Protocol: chat\r\n") != NULL);
    CHECK(strstr((const char *)out, "\r\nSet-Cookie: a=1\r\n") != NULL);
    CHECK(strstr((const char *)out, "Extensions") == NULL);   /* deflate declined by silence */
    CHECK(strstr((const char *)out, "Content-Length") == NULL);
    CHECK_EQ(c->state, HTTPD__S_WS);
    CHECK(!strcmp(ev_log, "upgrade0;open;"));
    CHECK(c->req == NULL && c->in.data == NULL && c->out.data == NULL);   /* idle: no buffers */
    CHECK(sizeof(struct httpd_ws) <= 240);                    /* + malloc's 16: <= 256 B */
    done_conn(c);
    CHECK_EQ(close_code, 1006);
    /* refusals: status, and that the connection closes (frames may follow) */
    static const struct { const char *req; int status; } bad[] = {
        { "GET /ws HTTP/1.1\r\nHost: h.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n", 426 },
        { "GET /ws HTTP/1.1\r\nHost: h.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
          "Sec-WebSocket-Version: 13\r\n\r\n", 426 },
        { "GET /ws HTTP/1.1\r\nHost: h.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n", 400 },           /* no version */
        { "GET /ws HTTP/1.1\r\nHost: h.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          "Sec-WebSocket-Version: 13\r\n\r\n", 400 },                               /* no key */
        { "GET /ws HTTP/1.1\r\nHost: h.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          "Sec-WebSocket-Key: c2hvcnQ=\r\nSec-WebSocket-Version: 13\r\n\r\n", 400 },  /* 5 bytes */
        { "GET /ws HTTP/1.1\r\nHost: h.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
          "Sec-WebSocket-Version: 13\r\n\r\n", 400 },                               /* two keys */
        { "GET /ws HTTP/1.1\r\nHost: h.test\r\nConnection: Upgrade\r\n"
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", 400 },
        { "GET /ws HTTP/1.1\r\nHost: h.test\r\nUpgrade: websocket\r\n"
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", 400 },
        { "GET /ws HTTP/1.1\r\nHost: h.test\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n"
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", 400 },
        { "GET /ws HTTP/1.0\r\nHost: h.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", 400 },
        { "POST /any HTTP/1.1\r\nHost: h.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", 400 },
        { "GET /any HTTP/1.1\r\nHost: h.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          "Content-Length: 2\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
          "Sec-WebSocket-Version: 13\r\n\r\nab", 400 },                             /* a body */
        { "GET /ws HTTP/1.1\r\nHost: h.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          "Origin: https://evil.test\r\n"
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", 403 },
        { "GET /slow HTTP/1.1\r\nHost: h.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          "Origin: http://h.test\r\n"                     /* same origin, but the hook says no */
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", 403 },
        { "GET /ws HTTP/1.1\r\nHost: h.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          "X-Bad-Proto: 1\r\nSec-WebSocket-Protocol: chat\r\n"
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", 400 },
    };
    for (size_t i = 0; i < HTTPD__COUNTOF(bad); i++) {
        c = open_conn();
        size_t n = strlen(bad[i].req);
        char b[1024];
        memcpy(b, bad[i].req, n);
        memcpy(b + n, "\x81\x80\0\0\0\0", 6);             /* a frame right behind it */
        feed(c, b, n + 6, 0);
        drain(c, sizeof out);
        char want[16];
        snprintf(want, sizeof want, "HTTP/1.1 %d ", bad[i].status);
        if (strncmp((const char *)out, want, 13)) {
            CHECK(!"refusal status");
            fprintf(stderr, "  case %zu: %.40s\n", i, (const char *)out);
        }
        if (bad[i].status == 426)
            CHECK(strstr((const char *)out, "\r\nSec-WebSocket-Version: 13\r\n") != NULL);
        CHECK(strstr((const char *)out, "Connection: close\r\n") != NULL);
        CHECK(c->state == HTTPD__S_CLOSING && c->ws == NULL);
        CHECK(strstr(ev_log, "upgrade-2;") != NULL);
        done_conn(c);
    }
    /* the hook's Origin passes; same-origin passes by default */
    c = ws_open("/slow", "Origin: https://good.test\r\n", &head);
    CHECK_EQ(c->state, HTTPD__S_WS);
    done_conn(c);
    c = ws_open("/ws", "Origin: http://H.TEST\r\n", &head);
    CHECK_EQ(c->state, HTTPD__S_WS);
    done_conn(c);
    /* a plain request is untouched by all this */
    c = open_conn();
    feed(c, "GET / HTTP/1.1\r\nHost: a\r\n\r\n", 27, 0);
    drain(c, sizeof out);
    CHECK(!strncmp((const char *)out, "HTTP/1.1 200 ", 13));
    done_conn(c);
}
/* The handshake and frames pipelined in one read, at every split: the same transcript. */
static void test_pipelined_frames(void) {
    static unsigned char b[4096];
    size_t n = hs((char *)b, "/ws", NULL);
    n += cframe(b + n, 0x81, "one", 3, 0, 0);
    n += cframe(b + n, 0x01, "tw", 2, 0, 0);
    n += cframe(b + n, 0x89, "pi", 2, 0, 0);
    n += cframe(b + n, 0x80, "o", 1, 0, 0);
    n += cframe(b + n, 0x82, "\x00\x01\x02", 3, 0, 0);
    n += cframe(b + n, 0x88, "\x03\xe8" "done", 6, 0, 0);
    static char want[1 << 16], want_log[1 << 16];
    for (size_t step = 0; step < 120; step++) {
        httpd__conn *c = open_conn();
        feed(c, b, n, step);
        size_t got = drain(c, sizeof out);
        const char *e = strstr((const char *)out, "\r\n\r\n");
        CHECK(e != NULL);
        if (!e) { done_conn(c); break; }
        size_t head = (size_t)(e + 4 - (const char *)out);
        const char *t = sframes(out + head, got - head);
        if (step == 0) {
            snprintf(want, sizeof want, "%s", t);
            snprintf(want_log, sizeof want_log, "%s", ev_log);
            CHECK(!strcmp(t, "S1[one]S10[pi]S1[two]S2[]S8[1000 ]"));
            CHECK(!strcmp(ev_log, "upgrade0;open;msg1:3:1:one;msg1:3:1:two;msg2:3:1:;close1000;"));
            CHECK(!strcmp(close_reason, "done"));
            CHECK(c->state == HTTPD__S_CLOSING && (c->flags & HTTPD__F_LINGER));
        } else if (strcmp(t, want) || strcmp(ev_log, want_log)) {
            CHECK(!"same at every split");
            fprintf(stderr, "  step %zu: %s | %s\n", step, t, ev_log);
            done_conn(c);
            break;
        }
        done_conn(c);
    }
}
/* Every close-code path: what the peer gets, what on_close hears, how TCP ends. */
static void test_close_paths(void) {
    static const struct {
        int b0; const char *payload; size_t n; int nomask;
        const char *frames; int code; int linger;
    } cases[] = {
        { 0x88, "\x03\xe8", 2, 0, "S8[1000 ]", 1000, 1 },           /* code: echoed */
        { 0x88, "\x0b\xb8" "why", 5, 0, "S8[3000 ]", 3000, 1 },     /* reason: not echoed */
        { 0x88, "", 0, 0, "S8[]", 1005, 1 },                         /* none: empty back */
        { 0x88, "\x03", 1, 0, "S8[1002 protocol error]", 1002, 1 },  /* 1 byte */
        { 0x88, "\x03\xed", 2, 0, "S8[1002 protocol error]", 1002, 1 },   /* 1005 on wire */
        { 0x88, "\x00\x00", 2, 0, "S8[1002 protocol error]", 1002, 1 },
        { 0x88, "\x13\x88", 2, 0, "S8[1002 protocol error]", 1002, 1 },   /* 5000 */
        { 0x88, "\x03\xe8\xc0\xaf", 4, 0, "S8[1007 invalid UTF-8]", 1007, 1 },
        { 0x81, "\xff", 1, 0, "S8[1007 invalid UTF-8]", 1007, 1 },
        { 0x81, "abc", 3, 1, "S8[1002 protocol error]", 1002, 1 },    /* unmasked */
        { 0xc1, "abc", 3, 0, "S8[1002 protocol error]", 1002, 1 },    /* RSV1: no extension */
        { 0x83, "abc", 3, 0, "S8[1002 protocol error]", 1002, 1 },
        { 0x09, "p", 1, 0, "S8[1002 protocol error]", 1002, 1 },
        { 0x80, "p", 1, 0, "S8[1002 protocol error]", 1002, 1 },
    };
    for (size_t i = 0; i < HTTPD__COUNTOF(cases); i++) {
        size_t head;
        httpd__conn *c = ws_open("/ws", NULL, &head);
        unsigned char b[256];
        size_t n = cframe(b, cases[i].b0, cases[i].payload, cases[i].n, cases[i].nomask, 0);
        feed(c, b, n, 0);
        size_t got = drain(c, sizeof out);
        const char *t = sframes(out, got);
        if (strcmp(t, cases[i].frames) || close_code != cases[i].code) {
            CHECK(!"close path");
            fprintf(stderr, "  case %zu: %s code %d\n", i, t, close_code);
        }
        CHECK_EQ(c->state, HTTPD__S_CLOSING);
        CHECK_EQ(!!(c->flags & HTTPD__F_LINGER), cases[i].linger);
        CHECK(c->ws == NULL);
        done_conn(c);
    }
    /* 126-byte close payload: 1002; oversize message (cap 1000 on /ws): 1009 */
    size_t head;
    httpd__conn *c = ws_open("/ws", NULL, &head);
    static unsigned char big[2000], b[2100];
    memset(big, 'a', sizeof big);
    size_t n = cframe(b, 0x88, big, 126, 0, 0);
    feed(c, b, n, 0);
    CHECK(!strcmp(sframes(out, drain(c, sizeof out)), "S8[1002 protocol error]"));
    done_conn(c);
    c = ws_open("/ws", NULL, &head);
    n = cframe(b, 0x81, big, 1000, 0, 0);                      /* exactly the cap: fine */
    feed(c, b, n, 7);
    CHECK(strncmp(sframes(out, drain(c, sizeof out)), "S1[aaaa", 7) == 0);
    n = cframe(b, 0x82, big, 1001, 0, 0);
    CHECK_EQ(feed(c, b, 8, 0), 8);                             /* the head says enough */
    CHECK(!strcmp(sframes(out, drain(c, sizeof out)), "S8[1009 message too big]"));
    CHECK_EQ(close_code, 1009);
    CHECK(c->state == HTTPD__S_CLOSING && (c->flags & HTTPD__F_LINGER));
    done_conn(c);
    /* the application closes: 4000 goes out, data is ignored, the peer's close ends it */
    c = ws_open("/ws", NULL, &head);
    n = cframe(b, 0x81, "close", 5, 0, 0);
    n += cframe(b + n, 0x81, "after", 5, 0, 0);
    n += cframe(b + n, 0x89, "p", 1, 0, 0);
    feed(c, b, n, 0);
    CHECK(!strcmp(sframes(out, drain(c, sizeof out)), "S8[4000 bye]"));
    CHECK_EQ(c->state, HTTPD__S_WS);
    CHECK(strstr(ev_log, "after") == NULL);
    CHECK_EQ(httpd__conn_deadline(c), wk.now + HTTPD__WS_CLOSE_MS);
    n = cframe(b, 0x88, "\x0f\xa0", 2, 0, 0);
    feed(c, b, n, 0);
    CHECK_EQ(drain(c, sizeof out), 0);                         /* no second close */
    CHECK_EQ(close_code, 4000);
    CHECK_EQ(c->state, HTTPD__S_CLOSING);
    done_conn(c);
    /* ... or the peer never answers: dropped after 5 s */
    c = ws_open("/ws", NULL, &head);
    n = cframe(b, 0x81, "close", 5, 0, 0);
    feed(c, b, n, 0);
    drain(c, sizeof out);
    wk.now += HTTPD__WS_CLOSE_MS;
    CHECK(httpd__conn_deadline(c) <= wk.now);
    httpd__conn_timeout(c);
    CHECK_EQ(c->state, HTTPD__S_ABORT);
    CHECK_EQ(close_code, 4000);
    done_conn(c);
    /* the peer drops TCP mid-message: 1006 */
    c = ws_open("/ws", NULL, &head);
    n = cframe(b, 0x81, "abcdef", 6, 0, 0);
    feed(c, b, n - 2, 0);
    httpd__conn_eof(c);
    CHECK_EQ(close_code, 1006);
    CHECK(c->state == HTTPD__S_CLOSING && c->ws == NULL);
    done_conn(c);
    /* httpd_ws_close refuses bad codes and reasons */
    c = ws_open("/ws", NULL, &head);
    httpd_ws *ws = c->ws;
    CHECK_EQ(httpd_ws_close(ws, 1005, NULL), HTTPD_ERR_INVAL);
    CHECK_EQ(httpd_ws_close(ws, 999, NULL), HTTPD_ERR_INVAL);
    char longr[130];
    memset(longr, 'r', 124); longr[124] = 0;
    CHECK_EQ(httpd_ws_close(ws, 1000, longr), HTTPD_ERR_INVAL);
    CHECK_EQ(httpd_ws_close(ws, 1000, "\xc0\xaf"), HTTPD_ERR_INVAL);
    longr[123] = 0;
    CHECK_EQ(httpd_ws_close(ws, 1000, longr), 0);
    CHECK_EQ(httpd_ws_close(ws, 1000, NULL), HTTPD_ERR_CLOSED);
    CHECK_EQ(httpd_ws_send(ws, HTTPD_WS_TEXT, "x", 1), HTTPD_ERR_CLOSED);
    done_conn(c);
}
static void test_echo_ping_fragments(void) {
    size_t head;
    httpd__conn *c = ws_open("/ws", "Sec-WebSocket-Protocol: chat\r\n", &head);
    unsigned char b[512];
    size_t n = cframe(b, 0x89, "hb", 2, 0, 0);
    feed(c, b, n, 0);
    CHECK(!strcmp(sframes(out, drain(c, sizeof out)), "S10[hb]"));
    n = cframe(b, 0x01, "\xce\xba\xe1", 3, 0, 0);             /* a character cut in two */
    n += cframe(b + n, 0x89, "", 0, 0, 0);
    n += cframe(b + n, 0x80, "\xbd\xb9", 2, 0, 0);
    feed(c, b, n, 1);
    CHECK(!strcmp(sframes(out, drain(c, sizeof out)), "S10[]S1[\xce\xba\xe1\xbd\xb9]"));
    CHECK_EQ(httpd_ws_send(c->ws, HTTPD_WS_TEXT, "\xff", 1), HTTPD_ERR_INVAL);
    CHECK_EQ(httpd_ws_send(c->ws, 3, "x", 1), HTTPD_ERR_INVAL);
    CHECK_EQ(httpd_ws_send(c->ws, HTTPD_WS_BINARY, "\xff", 1), 0);
    CHECK(!strcmp(sframes(out, drain(c, sizeof out)), "S2[\xff]"));
    CHECK(c->in.data == NULL && c->out.data == NULL && c->ws->msg == NULL);   /* idle again */
    done_conn(c);
}
/* Streamed messages: pieces as they arrive, pause stops reading, resume goes on. */
static void test_stream_pause(void) {
    size_t head;
    httpd__conn *c = ws_open("/stream", NULL, &head);
    static unsigned char b[300000], big[250000];
    memset(big, 'z', sizeof big);
    memcpy(big, "pause", 5);
    size_t n = cframe(b, 0x02, big, 100000, 0, 0);
    n += cframe(b + n, 0x80, big + 100000, 150000, 0, 0);
    size_t taken = feed(c, b, n, 4000);
    CHECK(taken < n);                                        /* paused after the first piece */
    size_t cap;
    CHECK(httpd__conn_rbuf(c, &cap) == NULL);
    CHECK(strncmp(ev_log, "upgrade0;open;msg2:", 19) == 0);
    for (int k = 0; k < 200 && taken < n; k++) {
        httpd_ws_resume(c->ws);                              /* each piece pauses? no: only "pause" */
        taken += feed(c, b + taken, n - taken, 4000);
    }
    CHECK_EQ(taken, n);
    /* the pieces add up, the last has fin */
    size_t sum = 0;
    for (const char *p = ev_log; (p = strstr(p, "msg2:")) != NULL; p += 5) sum += strtoul(p + 5, NULL, 10);
    CHECK_EQ(sum, 250000);
    CHECK(strstr(ev_log, ":1:zzz") != NULL);
    CHECK(c->ws->msg == NULL);                               /* nothing was buffered */
    done_conn(c);
}
static void test_heartbeat(void) {
    size_t head;
    httpd__conn *c = ws_open("/ws", NULL, &head);            /* ping 1000, timeout 3000 */
    uint64_t t0 = wk.now;
    CHECK_EQ(httpd__conn_deadline(c), t0 + 1000);
    wk.now = t0 + 1000;
    httpd__conn_timeout(c);
    CHECK(!strcmp(sframes(out, drain(c, sizeof out)), "S9[]"));
    CHECK_EQ(httpd__conn_deadline(c), t0 + 2000);
    unsigned char b[64];
    size_t n = cframe(b, 0x8a, "", 0, 0, 0);                /* a pong: heard */
    wk.now = t0 + 1500;
    feed(c, b, n, 0);
    CHECK_EQ(httpd__conn_deadline(c), t0 + 2500);
    wk.now = t0 + 2500; httpd__conn_timeout(c); drain(c, sizeof out);   /* ping */
    wk.now = t0 + 3500; httpd__conn_timeout(c); drain(c, sizeof out);   /* ping */
    CHECK_EQ(httpd__conn_deadline(c), t0 + 1500 + 3000);
    wk.now = t0 + 4500;                                       /* silent 3 s: closed 1001 */
    httpd__conn_timeout(c);
    CHECK(!strcmp(sframes(out, drain(c, sizeof out)), "S8[1001 heartbeat timeout]"));
    CHECK_EQ(close_code, 1001);
    CHECK(c->state == HTTPD__S_CLOSING && !(c->flags & HTTPD__F_LINGER));
    done_conn(c);
    /* per connection: off */
    c = ws_open("/ws", NULL, &head);
    httpd_ws_heartbeat(c->ws, HTTPD_NO_TIMEOUT, HTTPD_NO_TIMEOUT);
    CHECK_EQ(httpd__conn_deadline(c), UINT64_MAX);
    httpd_ws_heartbeat(c->ws, 0, 0);                          /* back to the route's */
    CHECK_EQ(httpd__conn_deadline(c), wk.now + 1000);
    httpd_ws_pause(c->ws);
    CHECK_EQ(httpd__conn_deadline(c), UINT64_MAX);            /* paused: ours, not theirs */
    done_conn(c);
}
/* Backpressure: a peer that does not read. */
static void test_backpressure(void) {
    size_t head;
    httpd__conn *c = ws_open("/ws", NULL, &head);
    httpd_ws *ws = c->ws;
    static char blk[10000];
    memset(blk, 'b', sizeof blk);
    int rc = 0, sent = 0;
    writable_calls = 0;
    while ((rc = httpd_ws_send(ws, HTTPD_WS_BINARY, blk, sizeof blk)) == 0) sent++;
    CHECK_EQ(rc, HTTPD_WRITE_FULL);
    CHECK_EQ(sent, 6);                                        /* 7 x 10 KB > 64 KiB */
    CHECK_EQ(httpd_ws_send(ws, HTTPD_WS_BINARY, blk, sizeof blk), HTTPD_ERR_TOOLARGE);
    size_t pend = c->out.len - c->out.pos;
    CHECK(pend <= HTTPD__OUT_HIGH + sizeof blk + 16);
    /* input is not read while the output is full: pings cannot grow it */
    size_t cap;
    unsigned char b[64];
    size_t n = cframe(b, 0x89, "x", 1, 0, 0);
    CHECK_EQ(feed(c, b, n, 0), 0);
    CHECK(httpd__conn_rbuf(c, &cap) == NULL);
    CHECK_EQ(c->out.len - c->out.pos, pend);
    drain(c, pend - HTTPD__OUT_LOW - 10);                     /* still above the low mark */
    CHECK_EQ(writable_calls, 0);
    CHECK_EQ(feed(c, b, n, 0), n);                            /* below the high one: read */
    drain(c, 30);
    CHECK_EQ(writable_calls, 1);
    size_t got = drain(c, sizeof out);
    CHECK(got >= 3 && !memcmp(out + got - 3, "\x8a\x01x", 3));  /* the ping was answered */
    CHECK(c->out.data == NULL);
    done_conn(c);
}
/* send_to and broadcast through the mailbox; stale ids; the overflow policies. */
static int done_status[8], ndone;
static void done_cb(httpd_server *s, httpd_conn_id id, void *arg, int status) {
    (void)s; (void)id; (void)arg;
    if (ndone < 8) done_status[ndone++] = status;
}
static void test_cross_thread(void) {
    size_t head;
    httpd__conn *a = ws_open("/ws", NULL, &head);
    httpd__conn *b = ws_open("/slow", "Origin: https://good.test\r\n", &head);
    httpd__conn *p = open_conn();                             /* a plain HTTP connection */
    httpd_conn_id ida = httpd_ws_id(a->ws), idb = httpd_ws_id(b->ws);
    CHECK(httpd_ws_from_id(&srv, ida) == a->ws);
    ndone = 0;
    CHECK_EQ(httpd_ws_send_to(&srv, ida, HTTPD_WS_TEXT, "to-a", 4, done_cb, NULL), 0);
    CHECK_EQ(httpd_ws_send_to(&srv, ida, HTTPD_WS_TEXT, "\xff", 1, done_cb, NULL), HTTPD_ERR_INVAL);
    httpd_conn_id bad = { (uint64_t)7 << 56 };
    CHECK_EQ(httpd_ws_send_to(&srv, bad, HTTPD_WS_TEXT, "x", 1, done_cb, NULL), HTTPD_ERR_INVAL);
    CHECK_EQ(httpd_ws_broadcast(&srv, &echo_desc, HTTPD_WS_TEXT, "cast-echo", 9), 0);
    CHECK_EQ(httpd_ws_broadcast(&srv, NULL, HTTPD_WS_BINARY, "cast-all", 8), 0);
    httpd__worker_mbox(&wk, 1);
    CHECK_EQ(ndone, 1); CHECK_EQ(done_status[0], 0);
    CHECK(!strcmp(sframes(out, drain(a, sizeof out)), "S1[to-a]S1[cast-echo]S2[cast-all]"));
    CHECK(!strcmp(sframes(out, drain(b, sizeof out)), "S2[cast-all]"));
    CHECK_EQ(drain(p, sizeof out), 0);
    /* b is a slow reader with the close policy, a with drop */
    static char blk[70000];
    memset(blk, 's', sizeof blk);
    CHECK_EQ(httpd_ws_send(a->ws, HTTPD_WS_BINARY, blk, sizeof blk), HTTPD_WRITE_FULL);
    CHECK_EQ(httpd_ws_send(b->ws, HTTPD_WS_BINARY, blk, sizeof blk), HTTPD_WRITE_FULL);
    CHECK_EQ(httpd_ws_broadcast(&srv, NULL, HTTPD_WS_TEXT, "late", 4), 0);
    CHECK_EQ(httpd_ws_send_to(&srv, ida, HTTPD_WS_TEXT, "full", 4, done_cb, NULL), 0);
    httpd__worker_mbox(&wk, 1);
    CHECK_EQ(ndone, 2); CHECK_EQ(done_status[1], HTTPD_ERR_TOOLARGE);
    CHECK_EQ(a->state, HTTPD__S_WS);                          /* dropped for a ... */
    CHECK(strstr(sframes(out, drain(a, sizeof out)), "late") == NULL);
    CHECK_EQ(b->state, HTTPD__S_CLOSING);                     /* ... b is closed 1008 */
    CHECK_EQ(close_code, 1008);
    size_t got = drain(b, sizeof out);
    CHECK(strstr(sframes(out, got), "S8[1008 policy]") != NULL);
    done_conn(b);
    /* stale: closed, then the slot reused */
    done_conn(a);
    CHECK(httpd_ws_from_id(&srv, ida) == NULL);
    CHECK_EQ(httpd_ws_send_to(&srv, ida, HTTPD_WS_TEXT, "gone", 4, done_cb, NULL), 0);
    httpd__conn *a2 = ws_open("/ws", NULL, &head);           /* may take a's slot */
    CHECK(httpd_ws_from_id(&srv, idb) == NULL);
    httpd__worker_mbox(&wk, 1);
    CHECK_EQ(ndone, 3); CHECK_EQ(done_status[2], HTTPD_ERR_CLOSED);
    CHECK_EQ(drain(a2, sizeof out), 0);
    /* a worker that ended: messages are released, done hears CLOSED */
    CHECK_EQ(httpd_ws_send_to(&srv, httpd_ws_id(a2->ws), HTTPD_WS_TEXT, "x", 1, done_cb, NULL), 0);
    CHECK_EQ(httpd_ws_broadcast(&srv, NULL, HTTPD_WS_TEXT, "x", 1), 0);
    httpd__worker_mbox(&wk, 0);
    CHECK_EQ(ndone, 4); CHECK_EQ(done_status[3], HTTPD_ERR_CLOSED);
    HTTPD__STORE(&srv.running, 0);
    CHECK_EQ(httpd_ws_broadcast(&srv, NULL, HTTPD_WS_TEXT, "x", 1), HTTPD_ERR_STATE);
    HTTPD__STORE(&srv.running, 1);
    done_conn(a2);
    done_conn(p);
}
/* Graceful stop: close 1001, then the peer's close ends it; new upgrades get 503. */
static void test_stop(void) {
    size_t head;
    httpd__conn *c = ws_open("/ws", NULL, &head);
    CHECK_EQ(c->state, HTTPD__S_WS);
    HTTPD__STORE(&srv.stop, 1);
    httpd__ws_going_away(c);
    CHECK(!strcmp(sframes(out, drain(c, sizeof out)), "S8[1001 server stopping]"));
    unsigned char b[64];
    size_t n = cframe(b, 0x88, "\x03\xe9", 2, 0, 0);
    feed(c, b, n, 0);
    CHECK_EQ(close_code, 1001);
    CHECK_EQ(c->state, HTTPD__S_CLOSING);
    done_conn(c);
    httpd__conn *d = open_conn();
    char h[1024];
    feed(d, h, hs(h, "/ws", NULL), 0);
    drain(d, sizeof out);
    CHECK(!strncmp((const char *)out, "HTTP/1.1 503 ", 13));
    CHECK(strstr(ev_log, "upgrade-4;") != NULL);
    done_conn(d);
    HTTPD__STORE(&srv.stop, 0);
}

int main(void) {
    guard_init();
    setup();
    RUN(test_sha1_base64);
    RUN(test_utf8);
    RUN(test_frames_every_split);
    RUN(test_fail_fast);
    RUN(test_frame_writer);
    RUN(test_handshake);
    RUN(test_pipelined_frames);
    RUN(test_close_paths);
    RUN(test_echo_ping_fragments);
    RUN(test_stream_pause);
    RUN(test_heartbeat);
    RUN(test_backpressure);
    RUN(test_cross_thread);
    RUN(test_stop);
    httpd__worker_free(&wk);
    httpd__router_free(&srv.router, NULL);
    HTTPD_FREE(NULL, (void *)srv.route_inflight);
    httpd__wakefd_close(&srv.exit);
    return REPORT();
}
