/* fuzz/fuzz_multipart.c - the streaming multipart/form-data parser (httpd_multipart_*).
   The first byte picks the mode (bit 0).
   Raw (even): the next three bytes pick the boundary (length, bchars or raw Content-Type
   bytes), the limits and a callback that fails at the Nth BEGIN or END; then come the
   boundary bytes, then the body. The body is parsed whole and in pieces (one cut, and random
   piece sizes, from a PRNG seeded with the input), each piece an exact-size copy freed after
   its feed. The event streams (BEGIN with the part's strings and fields, DATA concatenated
   per part, END with its size) and the results must be identical. Also: DATA sizes add up to
   the part's size and END's, never over max_part_bytes; parts <= max_parts; the part's
   strings lie inside the header buffer; field names are tokens and values field-vchars with
   no outer whitespace; no event after an error, a failed callback or DONE; results sticky;
   httpd_multipart_end agrees with the feeds.
   Round trip (odd): the bytes drive a generator of a valid body: boundary (1-70 bchars,
   quoted or not), preamble, transport padding, 1-8 parts with names and filenames (bare
   tokens, or quoted with backslashes, ';', '=', spaces, UTF-8: a quoted string ends at the
   next quote, no escapes), Content-Type, extra fields up to 16, content full of CR,
   LF, dashes and delimiter prefixes, epilogue; inputs whose content or preamble holds the
   full delimiter are skipped. The limits are sometimes set to exactly what the body needs.
   Parsed whole and in random pieces, every part must come back byte-exact. */
#define HTTPD_IMPLEMENTATION
#include "../httpd.h"
#include <stdio.h>

/* ------------------------------------------------------------------ byte buffer */
typedef struct { char *s; size_t n, cap; } fz_buf;
static void fz_put(fz_buf *b, const void *p, size_t n) {
    if (b->n + n > b->cap) {
        size_t c = b->cap ? b->cap * 2 : 256;
        while (c < b->n + n) c *= 2;
        char *s = (char *)realloc(b->s, c);
        if (!s) abort();
        b->s = s; b->cap = c;
    }
    if (n) memcpy(b->s + b->n, p, n);
    b->n += n;
}
static void fz_puts(fz_buf *b, const char *s) { fz_put(b, s, strlen(s)); }
static void fz_putc(fz_buf *b, char c) { fz_put(b, &c, 1); }
static void fz_putu(fz_buf *b, const char *tag, unsigned long long v) {
    char t[48];
    int k = snprintf(t, sizeof t, "%s%llu:", tag, v);
    fz_put(b, t, (size_t)k);
}
/* "<tag><len>:<bytes>|", or "<tag>-|" when absent: the log's string format */
static void fz_logstr(fz_buf *b, const char *tag, const char *p, size_t n, int present) {
    if (!present) { fz_puts(b, tag); fz_puts(b, "-|"); return; }
    fz_putu(b, tag, n);
    fz_put(b, p, n);
    fz_putc(b, '|');
}
static const char *fz_find(const char *h, size_t hn, const char *nd, size_t nn) {
    for (size_t i = 0; nn <= hn && i <= hn - nn; i++)
        if (!memcmp(h + i, nd, nn)) return h + i;
    return NULL;
}

/* ------------------------------------------------------------------ recorder */
typedef struct {
    fz_buf log, cur;                /* cur: the open part's content */
    const char *hb;                 /* the header buffer, hcap bytes */
    size_t hcap;
    uint64_t max_part;
    uint32_t nparts, max_parts;
    int in_part, stopped;
    int fail_ev, fail_at, fail_rc, seen;
} fz_rec;

static int fz_inside(const fz_rec *r, httpd_str s) {
    return s.ptr >= r->hb && s.len <= r->hcap && s.ptr + s.len <= r->hb + r->hcap;
}
static void fz_flush(fz_rec *r) {
    fz_putu(&r->log, "D", r->cur.n);
    fz_put(&r->log, r->cur.s, r->cur.n);
    r->cur.n = 0;
}
static int fz_on_part(void *arg, int ev, const httpd_part *pt, const void *data, size_t len) {
    fz_rec *r = (fz_rec *)arg;
    HTTPD_ASSERT(!r->stopped);                       /* nothing after an error or DONE */
    if (ev == HTTPD_PART_BEGIN) {
        HTTPD_ASSERT(!r->in_part && !data && !len && pt->index == r->nparts && pt->size == 0);
        HTTPD_ASSERT(r->nparts < r->max_parts);
        HTTPD_ASSERT(pt->header_count >= 0 && pt->header_count <= HTTPD_MULTIPART_MAX_HEADERS);
        r->nparts++;
        fz_putu(&r->log, "B", pt->index);
        httpd_str s[3] = { pt->name, pt->filename, pt->content_type };
        static const char *const tag[3] = { "n", "f", "t" };
        for (int i = 0; i < 3; i++) {
            if (s[i].ptr) HTTPD_ASSERT(fz_inside(r, s[i]));
            fz_logstr(&r->log, tag[i], s[i].ptr, s[i].len, s[i].ptr != NULL);
        }
        for (int i = 0; i < pt->header_count; i++) {
            const httpd_header *h = &pt->headers[i];
            HTTPD_ASSERT(fz_inside(r, h->name) && fz_inside(r, h->value) && h->name.len > 0);
            for (size_t k = 0; k < h->name.len; k++)
                HTTPD_ASSERT(HTTPD__IS(h->name.ptr[k], HTTPD__C_TCHAR));
            for (size_t k = 0; k < h->value.len; k++)
                HTTPD_ASSERT(HTTPD__IS(h->value.ptr[k], HTTPD__C_VCHAR));
            if (h->value.len) {
                char a = h->value.ptr[0], z = h->value.ptr[h->value.len - 1];
                HTTPD_ASSERT(a != ' ' && a != '\t' && z != ' ' && z != '\t');
            }
            fz_logstr(&r->log, "h", h->name.ptr, h->name.len, 1);
            fz_logstr(&r->log, "v", h->value.ptr, h->value.len, 1);
        }
        r->in_part = 1;
    } else if (ev == HTTPD_PART_DATA) {
        HTTPD_ASSERT(r->in_part && data && len && pt->index + 1 == r->nparts);
        HTTPD_ASSERT(pt->size == r->cur.n + len && pt->size <= r->max_part);
        fz_put(&r->cur, data, len);
    } else {
        HTTPD_ASSERT(ev == HTTPD_PART_END);
        HTTPD_ASSERT(r->in_part && !data && !len && pt->index + 1 == r->nparts);
        HTTPD_ASSERT(pt->size == r->cur.n);          /* DATA adds up to END's size */
        fz_flush(r);
        fz_putu(&r->log, "E", pt->size);
        fz_putc(&r->log, '\n');
        r->in_part = 0;
    }
    if (ev == r->fail_ev && ++r->seen == r->fail_at) {
        r->stopped = 1;
        return r->fail_rc;
    }
    return 0;
}

typedef struct {
    const char *ct;
    size_t ctl;
    httpd_multipart_limits lim;
    size_t hcap;
    int fail_ev, fail_at, fail_rc;
} fz_cfg;

/* Parses body[0..n) in the given pieces; appends the log and "=rc,end" to out. */
static void fz_run(const fz_cfg *c, const uint8_t *body, size_t n, const size_t *piece,
                   size_t np, fz_buf *out) {
    fz_rec r;
    memset(&r, 0, sizeof r);
    r.fail_ev = c->fail_ev; r.fail_at = c->fail_at; r.fail_rc = c->fail_rc;
    char *hb = (char *)malloc(c->hcap), *ct = (char *)malloc(c->ctl ? c->ctl : 1);
    httpd_multipart *m = (httpd_multipart *)malloc(sizeof *m);
    if (!hb || !ct || !m) abort();
    memcpy(ct, c->ct, c->ctl);
    r.hb = hb; r.hcap = c->hcap;
    r.max_parts = c->lim.max_parts ? c->lim.max_parts : 128;
    r.max_part = c->lim.max_part_bytes ? c->lim.max_part_bytes : UINT64_MAX;
    httpd_str cts = { ct, c->ctl };
    int irc = httpd_multipart_init(m, cts, &c->lim, hb, c->hcap, fz_on_part, &r);
    free(ct);                                        /* the parser keeps no pointer to it */
    if (irc != 0) {
        HTTPD_ASSERT(irc == HTTPD_ERR_INVAL);
        fz_puts(out, "init failed");
        free(hb); free(m);
        return;
    }
    int rc = 0;
    size_t off = 0;
    for (size_t i = 0; i < np; i++) {
        char *p = (char *)malloc(piece[i] ? piece[i] : 1);
        if (!p) abort();
        memcpy(p, body + off, piece[i]);
        int x = httpd_multipart_feed(m, p, piece[i]);
        free(p);
        off += piece[i];
        HTTPD_ASSERT(x <= HTTPD_MULTIPART_DONE);
        HTTPD_ASSERT(x >= 0 || x == HTTPD_ERR_INVAL || x == HTTPD_ERR_TOOLARGE
                     || (x == c->fail_rc && r.stopped));
        if (rc != 0) HTTPD_ASSERT(x == rc);          /* sticky */
        rc = x;
        if (rc != 0) r.stopped = 1;
        else HTTPD_ASSERT(!r.stopped);
    }
    HTTPD_ASSERT(off == n);
    if (rc != 0) {
        static const char more[] = "\r\n--\r\n\r\n--";
        HTTPD_ASSERT(httpd_multipart_feed(m, more, sizeof more - 1) == rc);
    }
    int end = httpd_multipart_end(m);
    HTTPD_ASSERT(rc == HTTPD_MULTIPART_DONE ? end == 0 : rc < 0 ? end == rc
                 : end == HTTPD_ERR_INVAL);
    if (rc == HTTPD_MULTIPART_DONE) HTTPD_ASSERT(!r.in_part);
    if (r.in_part) { fz_flush(&r); fz_puts(&r.log, "U\n"); }
    fz_put(out, r.log.s, r.log.n);
    char t[32];
    snprintf(t, sizeof t, "=%d,%d", rc, end);
    fz_puts(out, t);
    free(r.log.s); free(r.cur.s);
    free(hb); free(m);
}

static uint64_t fz_rng;
static uint32_t fz_rand(void) {                      /* xorshift64* */
    fz_rng ^= fz_rng >> 12; fz_rng ^= fz_rng << 25; fz_rng ^= fz_rng >> 27;
    return (uint32_t)((fz_rng * 0x2545f4914f6cdd1dull) >> 32);
}
static void fz_same(const fz_buf *a, const fz_buf *b, const char *what) {
    if (a->n == b->n && !memcmp(a->s, b->s, a->n)) return;
    size_t d = 0;
    while (d < a->n && d < b->n && a->s[d] == b->s[d]) d++;
    fprintf(stderr, "%s: logs differ at byte %zu\n  want: %.*s\n  got:  %.*s\n", what, d,
            (int)(a->n - d < 200 ? a->n - d : 200), a->s + d,
            (int)(b->n - d < 200 ? b->n - d : 200), b->s + d);
    abort();
}
/* Parses whole, at one cut, and in random pieces; each must give the log `want` (or, when
   want is NULL, the whole-input log). */
static void fz_splits(const fz_cfg *c, const uint8_t *body, size_t n, const fz_buf *want) {
    size_t *piece = (size_t *)malloc((n + 2) * sizeof *piece), np;
    if (!piece) abort();
    fz_buf whole = { 0, 0, 0 };
    np = 0;
    if (n) piece[np++] = n;
    fz_run(c, body, n, piece, np, &whole);
#ifdef FZ_DEBUG                                      /* -DFZ_DEBUG: show what was parsed */
    fprintf(stderr, "ct [%.*s] body %zu bytes:\n%.*s\n", (int)c->ctl, c->ct, n, (int)whole.n,
            whole.s);
#endif
    if (want) fz_same(want, &whole, "whole vs expected");
    for (int round = 0; round < 3; round++) {
        np = 0;
        if (round == 0) {                            /* one cut */
            size_t k = n ? fz_rand() % (n + 1) : 0;
            if (k) piece[np++] = k;
            if (n - k) piece[np++] = n - k;
        } else {
            static const size_t maxes[] = { 1, 2, 3, 5, 8, 16, 64, 1000 };
            size_t mx = maxes[fz_rand() % 8], left = n;
            while (left) {
                size_t s = 1 + fz_rand() % mx;
                if (s > left) s = left;
                piece[np++] = s;
                left -= s;
            }
            if (np && round == 2) {                  /* a zero-length feed in between */
                size_t at = fz_rand() % np;
                memmove(piece + at + 1, piece + at, (np - at) * sizeof *piece);
                piece[at] = 0;
                np++;
            }
        }
        fz_buf got = { 0, 0, 0 };
        fz_run(c, body, n, piece, np, &got);
        fz_same(&whole, &got, "split vs whole");
        free(got.s);
    }
    free(whole.s);
    free(piece);
}

/* ------------------------------------------------------------------ raw mode */
static const char fz_bchars[] =
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ'()+_,-./:=? ";

static void fz_raw(const uint8_t *d, size_t n) {
    if (n < 3) return;
    uint8_t cb = d[0], cl = d[1], cf = d[2];
    d += 3; n -= 3;
    size_t blen = 1 + (cb & 0x3f);
    if (blen > n) blen = n;
    fz_buf ct = { 0, 0, 0 };
    if (cb & 0x40) {                                 /* raw parameters: the fuzzer's own */
        fz_puts(&ct, "multipart/form-data");
        fz_put(&ct, d, blen);
        httpd_str s = { ct.s, ct.n }, b = httpd__mp_boundary(s);
        if (b.ptr) {                                 /* a boundary found is a valid one */
            HTTPD_ASSERT(b.ptr >= ct.s && b.ptr + b.len <= ct.s + ct.n);
            HTTPD_ASSERT(b.len >= 1 && b.len <= 70 && b.ptr[b.len - 1] != ' ');
            for (size_t i = 0; i < b.len; i++) HTTPD_ASSERT(strchr(fz_bchars, b.ptr[i]));
        }
    } else {
        if (!blen) { free(ct.s); return; }
        fz_puts(&ct, "multipart/form-data; boundary=");
        if (cb & 0x80) fz_putc(&ct, '"');
        for (size_t i = 0; i < blen; i++) fz_putc(&ct, fz_bchars[d[i] % (sizeof fz_bchars - 1)]);
        if (cb & 0x80) fz_putc(&ct, '"');
    }
    d += blen; n -= blen;
    static const uint32_t parts[8] = { 0, 1, 2, 3, 4, 5, 8, 200 };
    static const uint64_t pbytes[4] = { 0, 1, 7, 64 };
    static const size_t hcaps[8] = { 4096, 2, 3, 16, 40, 64, 100, 300 };
    fz_cfg c;
    memset(&c, 0, sizeof c);
    c.ct = ct.s; c.ctl = ct.n;
    c.lim.max_parts = parts[cl & 7];
    c.lim.max_part_bytes = pbytes[(cl >> 3) & 3];
    c.hcap = hcaps[cl >> 5];
    if ((cf & 7) == 1) c.fail_ev = HTTPD_PART_BEGIN;
    if ((cf & 7) == 2) c.fail_ev = HTTPD_PART_END;
    c.fail_at = 1 + ((cf >> 3) & 3);
    c.fail_rc = -100 - (cf >> 5);
    fz_splits(&c, d, n, NULL);
    free(ct.s);
}

/* ------------------------------------------------------------------ round trip */
typedef struct { const uint8_t *p; size_t n; } fz_in;
static unsigned fz_rd(fz_in *in) {                   /* 0 once the input is used up */
    if (!in->n) return 0;
    in->n--;
    return *in->p++;
}
/* A name, filename or field value: any field-vchar but '"' (as browsers send them: '"'
   percent-encoded, '\' as is), biased to the ones that need care. */
static void fz_gen_str(fz_in *in, fz_buf *s) {
    unsigned len = fz_rd(in) % 12;
    for (unsigned i = 0; i < len; i++) {
        unsigned ch = fz_rd(in);
        if ((ch < 0x20 && ch != '\t') || ch == 0x7f || ch == '"')
            ch = (unsigned char)"\\ ;=a%"[ch % 6];
        fz_putc(s, (char)ch);
    }
}
/* Appends s as a Content-Disposition parameter value: a bare token, or quoted. */
static void fz_param(fz_in *in, fz_buf *out, const fz_buf *s) {
    int token = s->n > 0;
    for (size_t i = 0; i < s->n; i++)
        if (!HTTPD__IS(s->s[i], HTTPD__C_TCHAR)) token = 0;
    int quote = !token || !(fz_rd(in) & 1);
    if (quote) fz_putc(out, '"');
    fz_put(out, s->s, s->n);
    if (quote) fz_putc(out, '"');
}
/* Content (also preamble, epilogue): bytes and snippets around the delimiter. */
static void fz_gen_bytes(fz_in *in, fz_buf *o, const char *b, size_t bl) {
    unsigned ops = fz_rd(in) % 24;
    for (unsigned i = 0; i < ops; i++) {
        unsigned k = fz_rd(in), r;
        switch (k % 10) {
        case 0: for (r = fz_rd(in) % 16; r; r--) fz_putc(o, (char)fz_rd(in)); break;
        case 1: case 2: fz_putc(o, (char)fz_rd(in)); break;
        case 3: fz_puts(o, "\r\n"); break;
        case 4: fz_putc(o, '\r'); break;
        case 5: fz_putc(o, '\n'); break;
        case 6: fz_puts(o, "--"); break;
        case 7:                                      /* a strict prefix of the delimiter */
            fz_puts(o, "\r\n--");
            fz_put(o, b, fz_rd(in) % bl);
            break;
        case 8: fz_puts(o, "--"); fz_put(o, b, bl); break;   /* the boundary, no CRLF */
        default:                                     /* the delimiter, one byte changed */
            r = fz_rd(in) % bl;
            fz_puts(o, "\r\n--");
            fz_put(o, b, r);
            fz_putc(o, (char)(b[r] ^ (1 + fz_rd(in) % 0x7f)));
            break;
        }
    }
}
static void fz_pad(fz_in *in, fz_buf *o) {
    for (unsigned r = fz_rd(in) % 4; r; r--) fz_putc(o, fz_rd(in) & 1 ? '\t' : ' ');
}
static void fz_roundtrip(const uint8_t *data, size_t size) {
    fz_in in = { data, size };
    char b[71];
    size_t bl = 1 + fz_rd(&in) % 70;
    int quote = fz_rd(&in) & 1;
    for (size_t i = 0; i < bl; i++) {
        b[i] = fz_bchars[fz_rd(&in) % (sizeof fz_bchars - 1)];
        if (!HTTPD__IS(b[i], HTTPD__C_TCHAR)) quote = 1;
    }
    if (b[bl - 1] == ' ') b[bl - 1] = 'z';
    fz_buf ct = { 0, 0, 0 }, body = { 0, 0, 0 }, want = { 0, 0, 0 }, del = { 0, 0, 0 };
    fz_buf s = { 0, 0, 0 };
    fz_puts(&ct, fz_rd(&in) & 1 ? "multipart/form-data; boundary=" : "Multipart/Form-Data;"
                                                                     "charset=utf-8 ;BOUNDARY=");
    if (quote) fz_putc(&ct, '"');
    fz_put(&ct, b, bl);
    if (quote) fz_putc(&ct, '"');
    fz_puts(&del, "\r\n--");
    fz_put(&del, b, bl);

    /* preamble: "\r\n" (the parser's virtual line start) + preamble must not hold it */
    fz_buf pre = { 0, 0, 0 };
    fz_puts(&pre, "\r\n");
    unsigned flags = fz_rd(&in);
    if (flags & 1) fz_gen_bytes(&in, &pre, b, bl);
    if (pre.n > 2 || (flags & 2)) {                  /* else the body starts "--" B */
        fz_put(&body, pre.s + 2, pre.n - 2);
        fz_puts(&body, "\r\n");
    }
    fz_put(&pre, del.s, del.n);
    int ok = fz_find(pre.s, pre.n, del.s, del.n) == pre.s + pre.n - del.n;
    free(pre.s);
    fz_puts(&body, "--");
    fz_put(&body, b, bl);

    unsigned nparts = 1 + fz_rd(&in) % 8;
    size_t hneed = 2, maxc = 0;
    for (unsigned i = 0; i < nparts && ok; i++) {
        fz_pad(&in, &body);
        fz_puts(&body, "\r\n");
        size_t hstart = body.n;
        unsigned hf = fz_rd(&in);
        int has_cd = hf % 5 != 0, has_ct = (hf >> 3) & 1;
        unsigned extra = fz_rd(&in) % 17;
        if (extra > 16u - (unsigned)has_cd - (unsigned)has_ct) extra = 16 - has_cd - has_ct;
        unsigned total = extra + (unsigned)has_cd + (unsigned)has_ct;
        unsigned cd_at = fz_rd(&in) % (extra + 1);  /* among the extra fields; CT is last */
        fz_buf nm = { 0, 0, 0 }, fn = { 0, 0, 0 }, ctv = { 0, 0, 0 }, hl = { 0, 0, 0 };
        int has_nm = 0, has_fn = 0;
        fz_putu(&want, "B", i);
        for (unsigned h = 0; h < total; h++) {
            fz_buf name = { 0, 0, 0 }, val = { 0, 0, 0 };
            if (has_cd && h == cd_at) {              /* Content-Disposition */
                static const char *const cdn[] = { "Content-Disposition", "content-disposition",
                                                   "CONTENT-DISPOSITION", "Content-disposition" };
                unsigned v = fz_rd(&in);
                fz_puts(&name, cdn[v & 3]);
                fz_puts(&val, (v >> 2) & 1 ? "form-data" : "attachment");
                static const char *const sep[] = { "; ", ";", " ; ", ";\t" };
                if (!((v >> 3) & 3)) {               /* name */
                    has_nm = 1;
                    fz_gen_str(&in, &nm);
                    fz_puts(&val, sep[fz_rd(&in) & 3]);
                    fz_puts(&val, (v >> 5) & 1 ? "name=" : "NAME=");
                    fz_param(&in, &val, &nm);
                }
                if ((v >> 6) & 1) {                  /* unknown parameters */
                    fz_puts(&val, sep[fz_rd(&in) & 3]);
                    fz_puts(&val, fz_rd(&in) & 1 ? "filename*=UTF-8''%e2%82%ac" : "x=\"a;b=c\"");
                }
                if ((v >> 7) & 1) {                  /* filename */
                    has_fn = 1;
                    fz_gen_str(&in, &fn);
                    fz_puts(&val, sep[fz_rd(&in) & 3]);
                    fz_puts(&val, "filename=");
                    fz_param(&in, &val, &fn);
                }
                if (fz_rd(&in) & 1) fz_putc(&val, ';');  /* a trailing ';' */
            } else if (has_ct && h == total - 1) {   /* Content-Type */
                fz_puts(&name, fz_rd(&in) & 1 ? "Content-Type" : "content-type");
                fz_gen_str(&in, &val);
                while (val.n && (val.s[0] == ' ' || val.s[0] == '\t'))
                    memmove(val.s, val.s + 1, --val.n);
                while (val.n && (val.s[val.n - 1] == ' ' || val.s[val.n - 1] == '\t')) val.n--;
                fz_put(&ctv, val.s, val.n);
            } else {                                 /* X-<h>: anything field-vchar */
                static const char vch[] = "a b\t\"\\\x80;=";
                char t[16];
                snprintf(t, sizeof t, "X-%u", h);
                fz_puts(&name, t);
                for (unsigned r = fz_rd(&in) % 6; r; r--)
                    fz_putc(&val, vch[fz_rd(&in) % (sizeof vch - 1)]);
                while (val.n && (val.s[0] == ' ' || val.s[0] == '\t'))
                    memmove(val.s, val.s + 1, --val.n);
                while (val.n && (val.s[val.n - 1] == ' ' || val.s[val.n - 1] == '\t')) val.n--;
            }
            {
                fz_put(&body, name.s, name.n);
                fz_putc(&body, ':');
                fz_pad(&in, &body);                  /* OWS around the value */
                fz_put(&body, val.s, val.n);
                fz_pad(&in, &body);
                fz_puts(&body, "\r\n");
                fz_logstr(&hl, "h", name.s, name.n, 1);
                fz_logstr(&hl, "v", val.s, val.n, 1);
            }
            free(name.s); free(val.s);
        }
        fz_puts(&body, "\r\n");
        if (body.n - hstart > hneed) hneed = body.n - hstart;   /* the header block */
        fz_logstr(&want, "n", nm.s, nm.n, has_nm);
        fz_logstr(&want, "f", fn.s, fn.n, has_fn);
        fz_logstr(&want, "t", ctv.s, ctv.n, has_ct);
        fz_put(&want, hl.s, hl.n);
        free(nm.s); free(fn.s); free(ctv.s); free(hl.s);
        /* content: the first delimiter in content + delimiter must be the real one */
        s.n = 0;
        fz_gen_bytes(&in, &s, b, bl);
        size_t cn = s.n;
        fz_put(&s, del.s, del.n);
        if (fz_find(s.s, s.n, del.s, del.n) != s.s + cn) ok = 0;
        if (cn > maxc) maxc = cn;
        fz_put(&body, s.s, cn);
        fz_put(&body, del.s, del.n);
        fz_putu(&want, "D", cn);
        fz_put(&want, s.s, cn);
        fz_putu(&want, "E", cn);
        fz_putc(&want, '\n');
    }
    fz_puts(&body, "--");
    fz_pad(&in, &body);
    unsigned lf = fz_rd(&in);
    if (lf & 1) { fz_puts(&body, "\r\n"); fz_gen_bytes(&in, &body, b, bl); }   /* epilogue */
    fz_puts(&want, "=1,0");
    if (ok) {
        fz_cfg c;
        memset(&c, 0, sizeof c);
        c.ct = ct.s; c.ctl = ct.n;
        c.lim.max_parts = lf & 2 ? nparts : 0;           /* exactly enough */
        c.lim.max_part_bytes = lf & 4 ? maxc : 0;
        c.hcap = lf & 8 ? hneed : 4096;
        if (c.hcap <= 4096) fz_splits(&c, (const uint8_t *)body.s, body.n, &want);
    }
    free(ct.s); free(body.s); free(want.s); free(del.s); free(s.s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    uint64_t h = 1469598103934665603ull;             /* FNV-1a: split points from the input */
    for (size_t i = 0; i < size; i++) h = (h ^ data[i]) * 1099511628211ull;
    fz_rng = h | 1;
    if (data[0] & 1) fz_roundtrip(data + 1, size - 1);
    else fz_raw(data + 1, size - 1);
    return 0;
}
