/* tests/test_multipart.c - the streaming multipart/form-data parser (httpd_multipart_*).
   Every case is fed whole, split at every byte into two feeds, one byte at a time, and in
   random pieces (fixed seed). Each piece is an exact-size heap copy, freed right after its
   feed (ASan sees a read past a piece, or a pointer kept into one between calls); the
   header buffer, the Content-Type and the parser itself are exact-size allocations too.
   The event stream (BEGIN with the part's strings and header fields, DATA concatenated per
   part, END with its size), the feeds' result and httpd_multipart_end must be the same for
   every split; the checks below then look at the whole-input run. */
#define HTTPD_IMPLEMENTATION
#include "../httpd.h"
#include "harness.h"
#include <stdarg.h>

#define CT(b) "multipart/form-data; boundary=" b
#define MAXP 300

typedef struct { char *s; size_t n; } bytes;           /* s NULL: absent */

static void bytes_add(bytes *b, const void *p, size_t n) {
    char *s = (char *)realloc(b->s, b->n + n + 1);
    if (!s) abort();
    if (n) memcpy(s + b->n, p, n);
    b->s = s;
    b->n += n;
    s[b->n] = 0;
}
static void bytes_fmt(bytes *b, const char *fmt, ...) {
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    bytes_add(b, tmp, (size_t)k);
}
static bytes bytes_of(httpd_str s) {
    bytes b = { NULL, 0 };
    if (s.ptr) bytes_add(&b, s.ptr, s.len);
    return b;
}

typedef struct {
    bytes    name, filename, ctype;
    bytes    headers;                                  /* "name: value\n" each */
    int      nheaders;
    bytes    data;
    uint64_t end_size;
    int      ended;
} rpart;

typedef struct {
    rpart p[MAXP];
    int   n;
    bytes log;          /* the canonical event stream, compared between splits */
    int   rc;           /* the first non-zero result of a feed (0: every feed said 0) */
    int   end;          /* httpd_multipart_end */
    int   fail_ev, fail_at, fail_rc, seen;   /* return fail_rc at the fail_at-th fail_ev */
    int   stopped;      /* a callback failed or a feed returned non-zero: no more events */
    int   in_part;
    int   bad;          /* protocol violations seen by the callback */
} rec;

static void log_str(bytes *log, const char *tag, httpd_str s) {
    if (!s.ptr) { bytes_fmt(log, "%s-|", tag); return; }
    bytes_fmt(log, "%s%zu:", tag, s.len);
    bytes_add(log, s.ptr, s.len);
    bytes_add(log, "|", 1);
}
static void flush_data(rec *r, const char *tail) {
    rpart *pt = &r->p[r->n - 1];
    bytes_fmt(&r->log, "D%zu:", pt->data.n);
    bytes_add(&r->log, pt->data.s, pt->data.n);
    bytes_add(&r->log, tail, strlen(tail));
}
static int on_part(void *arg, int ev, const httpd_part *pt, const void *data, size_t len) {
    rec *r = (rec *)arg;
    if (r->stopped) { r->bad++; return 0; }            /* an event after an error or DONE */
    switch (ev) {
    case HTTPD_PART_BEGIN: {
        if (r->in_part || r->n == MAXP || data || len || pt->index != (uint32_t)r->n
            || pt->size != 0 || pt->header_count < 0
            || pt->header_count > HTTPD_MULTIPART_MAX_HEADERS) { r->bad++; break; }
        rpart *p = &r->p[r->n++];
        memset(p, 0, sizeof *p);
        p->name = bytes_of(pt->name);
        p->filename = bytes_of(pt->filename);
        p->ctype = bytes_of(pt->content_type);
        p->nheaders = pt->header_count;
        bytes_fmt(&r->log, "B%u|", pt->index);
        log_str(&r->log, "n", pt->name);
        log_str(&r->log, "f", pt->filename);
        log_str(&r->log, "t", pt->content_type);
        for (int i = 0; i < pt->header_count; i++) {
            const httpd_header *h = &pt->headers[i];
            bytes_add(&p->headers, h->name.ptr, h->name.len);
            bytes_add(&p->headers, ": ", 2);
            bytes_add(&p->headers, h->value.ptr, h->value.len);
            bytes_add(&p->headers, "\n", 1);
            log_str(&r->log, "h", h->name);
            log_str(&r->log, "v", h->value);
        }
        r->in_part = 1;
        break;
    }
    case HTTPD_PART_DATA: {
        rpart *p = &r->p[r->n - 1];
        if (!r->in_part || !data || !len || pt->index != (uint32_t)(r->n - 1)
            || pt->size != p->data.n + len) { r->bad++; break; }
        bytes_add(&p->data, data, len);
        break;
    }
    case HTTPD_PART_END: {
        rpart *p = &r->p[r->n - 1];
        if (!r->in_part || data || len || pt->index != (uint32_t)(r->n - 1)
            || pt->size != p->data.n) { r->bad++; break; }
        p->end_size = pt->size;
        p->ended = 1;
        flush_data(r, "");
        bytes_fmt(&r->log, "E%llu\n", (unsigned long long)pt->size);
        r->in_part = 0;
        break;
    }
    default:
        r->bad++;
    }
    if (ev == r->fail_ev && ++r->seen == r->fail_at) {
        r->stopped = 1;
        return r->fail_rc;
    }
    return 0;
}
static void rec_free(rec *r) {
    if (!r) return;
    for (int i = 0; i < r->n; i++) {
        rpart *p = &r->p[i];
        free(p->name.s); free(p->filename.s); free(p->ctype.s);
        free(p->headers.s); free(p->data.s);
    }
    free(r->log.s);
    free(r);
}

typedef struct {
    const char *ct;
    const char *body;
    size_t      len;                 /* 0: strlen(body) */
    httpd_multipart_limits lim;
    size_t      hcap;                /* 0: 4096 */
    int         fail_ev, fail_at, fail_rc;
} mcase;

static char *dup_exact(const void *p, size_t n) {   /* n >= 1 */
    char *c = (char *)malloc(n);
    if (!c) abort();
    memcpy(c, p, n);
    return c;
}
/* Feeds c->body in pieces of the given sizes (summing to the body's length). */
static rec *feed_run(const mcase *c, size_t n, const size_t *piece, size_t npieces) {
    rec *r = (rec *)calloc(1, sizeof *r);
    if (!r) abort();
    r->fail_ev = c->fail_ev; r->fail_at = c->fail_at; r->fail_rc = c->fail_rc;
    size_t hcap = c->hcap ? c->hcap : 4096, ctl = strlen(c->ct);
    char *hbuf = (char *)malloc(hcap), *ct = dup_exact(c->ct, ctl ? ctl : 1);
    httpd_multipart *m = (httpd_multipart *)malloc(sizeof *m);
    if (!hbuf || !m) abort();
    httpd_str cts = { ct, ctl };
    int irc = httpd_multipart_init(m, cts, &c->lim, hbuf, hcap, on_part, r);
    free(ct);                                        /* the parser must not keep it */
    if (irc != 0) { fprintf(stderr, "  init: %d for %s\n", irc, c->ct); r->bad++; goto out; }
    size_t off = 0;
    for (size_t i = 0; i < npieces; i++) {
        char *b = dup_exact(c->body + off, piece[i]);
        int rc = httpd_multipart_feed(m, b, piece[i]);
        free(b);
        off += piece[i];
        if (r->rc == 0) r->rc = rc;
        else if (rc != r->rc) r->bad++;              /* results are sticky */
        if (rc != 0) r->stopped = 1;
        if (rc < 0 && rc != c->fail_rc && rc != HTTPD_ERR_INVAL
            && rc != HTTPD_ERR_TOOLARGE) r->bad++;
        if (rc > HTTPD_MULTIPART_DONE) r->bad++;
    }
    if (off != n) abort();
    if (r->rc != 0) {                        /* sticky: more bytes change nothing */
        static const char more[] = "\r\n--x\r\n\r\nmore\r\n--x--\r\n";
        char *b = dup_exact(more, sizeof more - 1);
        if (httpd_multipart_feed(m, b, sizeof more - 1) != r->rc) r->bad++;
        free(b);
    }
    r->end = httpd_multipart_end(m);
    if (r->rc == HTTPD_MULTIPART_DONE ? r->end != 0
        : r->rc < 0 ? r->end != r->rc : r->end != HTTPD_ERR_INVAL) r->bad++;
    if (r->in_part) flush_data(r, "U\n");             /* a part left open */
    bytes_fmt(&r->log, "=%d,%d", r->rc, r->end);
out:
    free(hbuf);
    free(m);
    return r;
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t next_rand(void) {                    /* xorshift64*, fixed seed */
    rng ^= rng >> 12; rng ^= rng << 25; rng ^= rng >> 27;
    return rng * 0x2545f4914f6cdd1dull;
}
static const char *what;                             /* the case, for messages */

/* Runs every split of the case; returns the whole-input run (the caller frees it). */
static rec *run(const mcase *c0) {
    mcase c = *c0;
    size_t n = c.len ? c.len : strlen(c.body);
    size_t *piece = (size_t *)malloc((n + 1) * sizeof *piece);
    if (!piece) abort();
    size_t one = n;
    rec *w = feed_run(&c, n, &one, n ? 1 : 0);
    if (w->bad) { fprintf(stderr, "  %s: protocol violation (whole)\n", what); th_bad++; }
    int reported = 0;
    for (int mode = 0; mode < 3 && !reported; mode++) {
        size_t runs = mode == 0 ? (n > 1 ? n - 1 : 0) : mode == 1 ? 1 : 24;
        for (size_t k = 0; k < runs && !reported; k++) {
            size_t np = 0;
            if (mode == 0) { piece[0] = k + 1; piece[1] = n - (k + 1); np = 2; }
            else if (mode == 1) { for (size_t i = 0; i < n; i++) piece[np++] = 1; }
            else {
                size_t maxp = 1 + (size_t)(next_rand() % (n ? n : 1)), left = n;
                if (k & 1) maxp = 1 + maxp % 8;                 /* many small pieces */
                while (left) {
                    size_t s = 1 + (size_t)(next_rand() % maxp);
                    if (s > left) s = left;
                    piece[np++] = s;
                    left -= s;
                }
            }
            rec *s = feed_run(&c, n, piece, np);
            if (s->bad || s->log.n != w->log.n || memcmp(s->log.s, w->log.s, w->log.n)) {
                size_t d = 0;
                while (d < s->log.n && d < w->log.n && s->log.s[d] == w->log.s[d]) d++;
                fprintf(stderr, "  %s: %s split (first piece %zu bytes, %zu pieces) differs"
                        " from whole%s at log byte %zu:\n    whole: %.*s\n    split: %.*s\n",
                        what, mode == 0 ? "two-piece" : mode == 1 ? "bytewise" : "random",
                        piece[0], np, s->bad ? " (protocol violation)" : "", d,
                        (int)HTTPD__MIN(w->log.n - HTTPD__MIN(d, w->log.n), 120),
                        w->log.s + HTTPD__MIN(d, w->log.n),
                        (int)HTTPD__MIN(s->log.n - HTTPD__MIN(d, s->log.n), 120),
                        s->log.s + HTTPD__MIN(d, s->log.n));
                th_bad++;
                reported = 1;
            }
            rec_free(s);
        }
    }
    free(piece);
    return w;
}
/* The common case: default limits. */
static rec *run_body(const char *ct, const char *body) {
    mcase c;
    memset(&c, 0, sizeof c);
    c.ct = ct; c.body = body;
    return run(&c);
}
static int beq(bytes b, const char *lit) {
    if (!lit) return b.s == NULL;
    return b.s && b.n == strlen(lit) && !memcmp(b.s, lit, b.n);
}
/* Part i of the whole run: name, filename, content type (NULL: absent), content. */
static int part_is(const rec *r, int i, const char *name, const char *filename,
                   const char *ctype, const char *data, size_t dlen) {
    if (i >= r->n) { fprintf(stderr, "  %s: no part %d (%d parts)\n", what, i, r->n); return 0; }
    const rpart *p = &r->p[i];
    int ok = beq(p->name, name) && beq(p->filename, filename) && beq(p->ctype, ctype)
             && p->data.n == dlen && (!dlen || !memcmp(p->data.s, data, dlen))
             && p->ended && p->end_size == dlen;
    if (!ok)
        fprintf(stderr, "  %s: part %d is name=%s filename=%s ctype=%s data(%zu)=%.*s"
                " end=%d/%llu\n",
                what, i, p->name.s ? p->name.s : "(none)",
                p->filename.s ? p->filename.s : "(none)", p->ctype.s ? p->ctype.s : "(none)",
                p->data.n, (int)HTTPD__MIN(p->data.n, 80), p->data.s ? p->data.s : "",
                p->ended, (unsigned long long)p->end_size);
    return ok;
}
#define PART(r, i, name, fn, ct, lit) CHECK(part_is(r, i, name, fn, ct, lit, sizeof(lit) - 1))
#define DONE(r) do { CHECK_EQ((r)->rc, HTTPD_MULTIPART_DONE); CHECK_EQ((r)->end, 0); } while (0)

/* The result (rc) of a body with default limits, whole and split alike. */
static int rc_of(const char *ct, const char *body) {
    what = body;
    rec *r = run_body(ct, body);
    int rc = r->rc;
    rec_free(r);
    return rc;
}
static int init_rc(const char *ct) {
    httpd_multipart m;
    char hb[64];
    size_t n = strlen(ct);
    char *c = dup_exact(ct, n ? n : 1);
    httpd_str s = { c, n };
    int rc = httpd_multipart_init(&m, s, NULL, hb, sizeof hb, on_part, NULL);
    free(c);
    return rc;
}

/* ------------------------------------------------------------------------------ cases */

static void test_simple_fields(void) {
    what = "simple fields";
    rec *r = run_body(CT("AaB03x"),
        "--AaB03x\r\n"
        "Content-Disposition: form-data; name=\"field1\"\r\n"
        "\r\n"
        "Joe Blow\r\n"
        "--AaB03x\r\n"
        "Content-Disposition: form-data; name=\"field2\"\r\n"
        "\r\n"
        "value two\r\n"
        "--AaB03x\r\n"
        "Content-Disposition: form-data; name=\"x\"\r\n"
        "\r\n"
        "1\r\n"
        "--AaB03x--\r\n");
    DONE(r);
    CHECK_EQ(r->n, 3);
    PART(r, 0, "field1", NULL, NULL, "Joe Blow");
    PART(r, 1, "field2", NULL, NULL, "value two");
    PART(r, 2, "x", NULL, NULL, "1");
    CHECK_EQ(r->p[0].nheaders, 1);
    CHECK(beq(r->p[0].headers, "Content-Disposition: form-data; name=\"field1\"\n"));
    rec_free(r);
}
static void test_file_part(void) {
    what = "file part";
    rec *r = run_body(CT("AaB03x"),
        "--AaB03x\r\n"
        "Content-Disposition: form-data; name=\"submit-name\"\r\n"
        "\r\n"
        "Larry\r\n"
        "--AaB03x\r\n"
        "Content-Disposition: form-data; name=\"files\"; filename=\"file1.txt\"\r\n"
        "Content-Type:   text/plain; charset=utf-8 \t\r\n"
        "X-Extra:\tsome  value\r\n"
        "\r\n"
        "... contents of file1.txt ...\r\n"
        "--AaB03x--\r\n");
    DONE(r);
    CHECK_EQ(r->n, 2);
    PART(r, 0, "submit-name", NULL, NULL, "Larry");
    PART(r, 1, "files", "file1.txt", "text/plain; charset=utf-8",
         "... contents of file1.txt ...");
    CHECK_EQ(r->p[1].nheaders, 3);
    CHECK(beq(r->p[1].headers,
              "Content-Disposition: form-data; name=\"files\"; filename=\"file1.txt\"\n"
              "Content-Type: text/plain; charset=utf-8\n"
              "X-Extra: some  value\n"));
    rec_free(r);
}
static void test_empty_content(void) {
    what = "empty content";
    rec *r = run_body(CT("b"),
        "--b\r\n"
        "Content-Disposition: form-data; name=\"a\"\r\n"
        "\r\n"
        "\r\n"
        "--b\r\n"
        "Content-Disposition: form-data; name=\"b\"\r\n"
        "\r\n"
        "\r\n"
        "--b\r\n"
        "Content-Disposition: form-data; name=\"c\"\r\n"
        "\r\n"
        "x\r\n"
        "--b\r\n"
        "Content-Disposition: form-data; name=\"d\"\r\n"
        "\r\n"
        "\r\n"
        "--b--");
    DONE(r);
    CHECK_EQ(r->n, 4);
    PART(r, 0, "a", NULL, NULL, "");
    PART(r, 1, "b", NULL, NULL, "");
    PART(r, 2, "c", NULL, NULL, "x");
    PART(r, 3, "d", NULL, NULL, "");
    rec_free(r);
    what = "closing boundary only";                 /* no part at all: accepted, no events */
    r = run_body(CT("b"), "--b--\r\n");
    DONE(r);
    CHECK_EQ(r->n, 0);
    rec_free(r);
}
static void test_no_headers(void) {
    what = "part without headers";
    rec *r = run_body(CT("sep"),
        "--sep\r\n"
        "\r\n"
        "implicitly text/plain\r\n"
        "--sep\r\n"
        "\r\n"
        "\r\n"
        "--sep\r\n"
        "\r\n"
        "\r\n\r\n"
        "--sep--\r\n");
    DONE(r);
    CHECK_EQ(r->n, 3);
    PART(r, 0, NULL, NULL, NULL, "implicitly text/plain");
    PART(r, 1, NULL, NULL, NULL, "");
    PART(r, 2, NULL, NULL, NULL, "\r\n");
    CHECK_EQ(r->p[0].nheaders, 0);
    rec_free(r);
}
static void test_preamble_epilogue(void) {
    what = "preamble and epilogue";
    rec *r = run_body(CT("\"simple boundary\""),
        "This is the preamble.  It is to be ignored, though it\r\n"
        "is a handy place for composition agents to include an\r\n"
        "explanatory note: --simple boundary in mid-line, \r\n-simple boundary,\r\n"
        "\r\n--simple boundar, \n--simple boundary, \r--simple boundary.\r\n"
        "--simple boundary\r\n"
        "\r\n"
        "This is implicitly typed plain US-ASCII text.\r\n"
        "It does NOT end with a linebreak.\r\n"
        "--simple boundary\r\n"
        "Content-type: text/plain; charset=us-ascii\r\n"
        "\r\n"
        "This is explicitly typed plain US-ASCII text.\r\n"
        "It DOES end with a linebreak.\r\n"
        "\r\n"
        "--simple boundary--\r\n"
        "\r\n"
        "This is the epilogue.  It is also to be ignored.\r\n"
        "--simple boundary\r\n\r\nnot a part\r\n--simple boundary--\r\n\x01\x7f");
    DONE(r);
    CHECK_EQ(r->n, 2);
    PART(r, 0, NULL, NULL, NULL,
         "This is implicitly typed plain US-ASCII text.\r\nIt does NOT end with a linebreak.");
    PART(r, 1, NULL, NULL, "text/plain; charset=us-ascii",
         "This is explicitly typed plain US-ASCII text.\r\nIt DOES end with a linebreak.\r\n");
    rec_free(r);
    what = "epilogue right after the closing dashes";
    r = run_body(CT("b"), "--b\r\n\r\nx\r\n--b--garbage\r\n--b\r\n");
    DONE(r);
    CHECK_EQ(r->n, 1);
    PART(r, 0, NULL, NULL, NULL, "x");
    rec_free(r);
}
static void test_crlf_before_first_boundary(void) {
    what = "CRLF before the first boundary";
    rec *r = run_body(CT("b"), "\r\n--b\r\nContent-Disposition: form-data; name=a\r\n\r\n"
                               "v\r\n--b--\r\n");
    DONE(r);
    CHECK_EQ(r->n, 1);
    PART(r, 0, "a", NULL, NULL, "v");
    rec_free(r);
    what = "several CRLFs before the first boundary";
    r = run_body(CT("b"), "\r\n\r\n\r\n--b\r\n\r\nv\r\n--b--");
    DONE(r);
    PART(r, 0, NULL, NULL, NULL, "v");
    rec_free(r);
    /* the first boundary must start a line: these are preamble, then no part at all */
    CHECK_EQ(rc_of(CT("b"), "x--b\r\n\r\nv\r\n--b--"), HTTPD_MULTIPART_DONE);
    what = "boundary after a bare LF";
    r = run_body(CT("b"), "\n--b\r\n\r\nv\r\n--b--");
    DONE(r);
    CHECK_EQ(r->n, 0);                               /* "\r\n--b--" closed it at once */
    rec_free(r);
}
static void test_transport_padding(void) {
    what = "transport padding";
    rec *r = run_body(CT("b"),
        "--b \t \r\n"
        "Content-Disposition: form-data; name=\"a\"\r\n"
        "\r\n"
        "one\r\n"
        "--b\t\r\n"
        "\r\n"
        "two\r\n"
        "--b   \r\n"
        "\r\n"
        "three \t\r\n"
        "--b-- \t\r\n");
    DONE(r);
    CHECK_EQ(r->n, 3);
    PART(r, 0, "a", NULL, NULL, "one");
    PART(r, 1, NULL, NULL, NULL, "two");
    PART(r, 2, NULL, NULL, NULL, "three \t");
    rec_free(r);
    CHECK_EQ(rc_of(CT("b"), "--b  x\r\n\r\nv\r\n--b--"), HTTPD_ERR_INVAL);
    CHECK_EQ(rc_of(CT("b"), "--b \n\r\nv\r\n--b--"), HTTPD_ERR_INVAL);
    CHECK_EQ(rc_of(CT("b"), "--b\n\r\nv\r\n--b--"), HTTPD_ERR_INVAL);
    CHECK_EQ(rc_of(CT("b"), "--b\r\r\n\r\nv\r\n--b--"), HTTPD_ERR_INVAL);
    CHECK_EQ(rc_of(CT("b"), "--b \r \n\r\nv\r\n--b--"), HTTPD_ERR_INVAL);
    CHECK_EQ(rc_of(CT("b"), "--b\r\n\r\nv\r\n--b - -"), HTTPD_ERR_INVAL);
    CHECK_EQ(rc_of(CT("b"), "--b\r\n\r\nv\r\n--b\x0b\r\n"), HTTPD_ERR_INVAL);
}
static void test_tricky_content(void) {
    static const char content[] =
        "a\rb\nc\r\r\n\n\r"                       /* lone CR, LF, CR CR LF */
        "\r\n-x\r\n--\r\n--B\r\n--Bou"            /* delimiter prefixes, then other bytes */
        "\r\n--Boundar\r\n--BoundarY"             /* all but the last byte */
        "--Boundary x--Boundary\n--Boundary"      /* the boundary without CRLF before it */
        "\r--Boundary\r\r\n--Boundar\r\n-"        /* CR alone, then a prefix again */
        "\r\n--Boundar";                          /* ends in a delimiter prefix */
    static const char body[] =
        "--Boundary\r\n"
        "Content-Disposition: form-data; name=\"t\"\r\n"
        "\r\n"
        "a\rb\nc\r\r\n\n\r"
        "\r\n-x\r\n--\r\n--B\r\n--Bou"
        "\r\n--Boundar\r\n--BoundarY"
        "--Boundary x--Boundary\n--Boundary"
        "\r--Boundary\r\r\n--Boundar\r\n-"
        "\r\n--Boundar"
        "\r\n--Boundary\r\n"
        "\r\n"
        "--Boundary--"                            /* content starting with the boundary */
        "\r\n--Boundary\r\n"
        "\r\n"
        "\r\r\r\r"
        "\r\n--Boundary--";
    what = "content with CR, LF and delimiter prefixes";
    rec *r = run_body(CT("Boundary"), body);
    DONE(r);
    CHECK_EQ(r->n, 3);
    PART(r, 0, "t", NULL, NULL, content);
    PART(r, 1, NULL, NULL, NULL, "--Boundary--");
    PART(r, 2, NULL, NULL, NULL, "\r\r\r\r");
    rec_free(r);
}
static void test_binary_content(void) {
    static const char head[] = "--x7\r\nContent-Disposition: form-data; name=\"bin\"; "
                               "filename=\"all.bin\"\r\nContent-Type: application/octet-stream"
                               "\r\n\r\n";
    static const char tail[] = "\r\n--x7--\r\n";
    char content[256 * 2 + 64], body[sizeof content + sizeof head + sizeof tail];
    size_t cn = 0;
    for (int i = 0; i < 256; i++) content[cn++] = (char)i;
    for (int i = 255; i >= 0; i--) content[cn++] = (char)i;
    static const char near[] = "\r\n--x\r\n--\r\n-\r\n--x8\r\n\0--x7\r\n";   /* near misses */
    memcpy(content + cn, near, sizeof near - 1);
    cn += sizeof near - 1;
    size_t bn = 0;
    memcpy(body, head, sizeof head - 1); bn += sizeof head - 1;
    memcpy(body + bn, content, cn); bn += cn;
    memcpy(body + bn, tail, sizeof tail - 1); bn += sizeof tail - 1;
    what = "binary content";
    mcase c;
    memset(&c, 0, sizeof c);
    c.ct = CT("x7"); c.body = body; c.len = bn;
    rec *r = run(&c);
    DONE(r);
    CHECK_EQ(r->n, 1);
    CHECK(part_is(r, 0, "bin", "all.bin", "application/octet-stream", content, cn));
    rec_free(r);
}
static void test_quoted_boundary(void) {
    what = "quoted boundary with spaces";
    rec *r = run_body("multipart/form-data; charset=utf-8; BOUNDARY=\"gc0p4Jq0M2Yt 08j34c0p\"",
        "--gc0p4Jq0M2Yt 08j34c0p\r\n"
        "Content-Disposition: form-data; name=\"q\"\r\n"
        "\r\n"
        "--gc0p4Jq0M2Yt\r\n--gc0p4Jq0M2Yt 08j34c0\r\n"
        "--gc0p4Jq0M2Yt 08j34c0p--\r\n");
    DONE(r);
    CHECK_EQ(r->n, 1);
    PART(r, 0, "q", NULL, NULL, "--gc0p4Jq0M2Yt\r\n--gc0p4Jq0M2Yt 08j34c0");
    rec_free(r);
    what = "quoted boundary with every special bchar";
    r = run_body("Multipart/Form-Data;boundary=\" '()+_,-./:=?z\"",
                 "-- '()+_,-./:=?z\r\n\r\nv\r\n-- '()+_,-./:=?z--");
    DONE(r);
    PART(r, 0, NULL, NULL, NULL, "v");
    rec_free(r);
    what = "other multipart subtype, parameters after the boundary";
    r = run_body("multipart/mixed; boundary=xyz; charset=\"utf-8\"", "--xyz\r\n\r\nv\r\n--xyz--");
    DONE(r);
    PART(r, 0, NULL, NULL, NULL, "v");
    rec_free(r);
}
static void test_boundary_lengths(void) {
    what = "boundary of one byte";
    rec *r = run_body(CT("-"),
        "---\r\n"
        "Content-Disposition: form-data; name=\"-\"\r\n"
        "\r\n"
        "- -- --- ---- \r\n- \r\n-\r\n--\r\n-- ---\r\n"
        "---\r\n"
        "\r\n"
        "---\r\n"
        "-----\r\n");
    DONE(r);
    CHECK_EQ(r->n, 2);
    PART(r, 0, "-", NULL, NULL, "- -- --- ---- \r\n- \r\n-\r\n--\r\n-- ---");
    PART(r, 1, NULL, NULL, NULL, "---");
    rec_free(r);
    what = "boundary of one letter";
    r = run_body(CT("x"), "--x\r\n\r\nx--x\r\n-x\r\n--\r\n--y\r\n--x--\r\n");
    DONE(r);
    PART(r, 0, NULL, NULL, NULL, "x--x\r\n-x\r\n--\r\n--y");
    rec_free(r);

    char b70[71], b71[72], ct[128], body[512];
    static const char bch[] = "0123456789abcdefghijklmnopqrstuvwxyz'()+_,-./:=?";
    for (int i = 0; i < 70; i++) b70[i] = bch[i % (sizeof bch - 1)];
    b70[70] = 0;
    memcpy(b71, b70, 70); b71[70] = 'Z'; b71[71] = 0;
    snprintf(ct, sizeof ct, "multipart/form-data; boundary=\"%s\"", b70);
    snprintf(body, sizeof body,
             "--%s\r\nContent-Disposition: form-data; name=\"long\"\r\n\r\n"
             "\r\n--%.69s!\r\n--%.69s\r\n"
             "--%s\r\n\r\n\r\n--%s--\r\n", b70, b70, b70, b70, b70);
    what = "boundary of 70 bytes";
    r = run_body(ct, body);
    DONE(r);
    CHECK_EQ(r->n, 2);
    char want[256];
    snprintf(want, sizeof want, "\r\n--%.69s!\r\n--%.69s", b70, b70);
    CHECK(part_is(r, 0, "long", NULL, NULL, want, strlen(want)));
    PART(r, 1, NULL, NULL, NULL, "");
    rec_free(r);
    snprintf(ct, sizeof ct, "multipart/form-data; boundary=\"%s\"", b71);
    CHECK_EQ(init_rc(ct), HTTPD_ERR_INVAL);                    /* 71: too long */
}
static void test_invalid_boundaries(void) {
#define D10 "0123456789"
    CHECK_EQ(init_rc(CT(D10 D10 D10 D10 D10 D10 D10)), 0);              /* 70 */
    CHECK_EQ(init_rc(CT(D10 D10 D10 D10 D10 D10 D10 "x")), HTTPD_ERR_INVAL);     /* 71 */
#undef D10
    CHECK_EQ(init_rc(CT("\"abc \"")), HTTPD_ERR_INVAL);         /* trailing space */
    CHECK_EQ(init_rc(CT("\" \"")), HTTPD_ERR_INVAL);
    CHECK_EQ(init_rc(CT("\"a b\"")), 0);
    CHECK_EQ(init_rc(CT("")), HTTPD_ERR_INVAL);                 /* empty */
    CHECK_EQ(init_rc(CT("\"\"")), HTTPD_ERR_INVAL);
    CHECK_EQ(init_rc(CT("\"abc")), HTTPD_ERR_INVAL);            /* unterminated */
    CHECK_EQ(init_rc(CT("\"a\\\"b\"")), HTTPD_ERR_INVAL);       /* escapes */
    CHECK_EQ(init_rc(CT("\"a;b\"")), HTTPD_ERR_INVAL);
    CHECK_EQ(init_rc(CT("\"a\tb\"")), HTTPD_ERR_INVAL);
    CHECK_EQ(init_rc("multipart/form-data"), HTTPD_ERR_INVAL);  /* missing */
    CHECK_EQ(init_rc("multipart/form-data; charset=utf-8"), HTTPD_ERR_INVAL);
    CHECK_EQ(init_rc("multipart/form-data; boundary"), HTTPD_ERR_INVAL);
    CHECK_EQ(init_rc("multipart/form-data; boundaries=abc"), HTTPD_ERR_INVAL);
    CHECK_EQ(init_rc("multipart/form-data boundary=abc"), HTTPD_ERR_INVAL);    /* no ';' */
    CHECK_EQ(init_rc("multipart/form-data; x; boundary=abc"), HTTPD_ERR_INVAL);
    CHECK_EQ(init_rc("text/plain; boundary=abc"), HTTPD_ERR_INVAL);            /* not multipart */
    CHECK_EQ(init_rc("application/x-www-form-urlencoded"), HTTPD_ERR_INVAL);
    CHECK_EQ(init_rc("multipart"), HTTPD_ERR_INVAL);
    CHECK_EQ(init_rc(""), HTTPD_ERR_INVAL);
    CHECK_EQ(init_rc("multipart/form-data;boundary=abc"), 0);
    CHECK_EQ(init_rc("MULTIPART/FORM-DATA ;\tBoundary=abc ; charset=utf-8"), 0);

    httpd_multipart m;
    char hb[8];
    httpd_str ct = { CT("abc"), sizeof CT("abc") - 1 }, none = { NULL, 0 };
    CHECK_EQ(httpd_multipart_init(&m, none, NULL, hb, sizeof hb, on_part, NULL), HTTPD_ERR_INVAL);
    CHECK_EQ(httpd_multipart_init(&m, ct, NULL, hb, sizeof hb, NULL, NULL), HTTPD_ERR_INVAL);
    CHECK_EQ(httpd_multipart_init(&m, ct, NULL, NULL, sizeof hb, on_part, NULL), HTTPD_ERR_INVAL);
    CHECK_EQ(httpd_multipart_init(&m, ct, NULL, hb, 1, on_part, NULL), HTTPD_ERR_INVAL);
    CHECK_EQ(httpd_multipart_init(NULL, ct, NULL, hb, sizeof hb, on_part, NULL), HTTPD_ERR_INVAL);
    CHECK_EQ(httpd_multipart_init(&m, ct, NULL, hb, 2, on_part, NULL), 0);
}
/* Junk right after the boundary value: the value must end at OWS, ';' or the end, or the
   body would be parsed with a truncated boundary ("--a" for a client sending "--a@b"). */
static void test_boundary_trailing_junk(void) {
    CHECK_EQ(init_rc(CT("a@b")), HTTPD_ERR_INVAL);              /* '@' is not a bchar */
    CHECK_EQ(init_rc(CT("simple boundary")), HTTPD_ERR_INVAL);  /* a space needs quotes */
    CHECK_EQ(init_rc(CT("abc\"")), HTTPD_ERR_INVAL);
    CHECK_EQ(init_rc(CT("\"abc\"def")), HTTPD_ERR_INVAL);
    CHECK_EQ(init_rc(CT("abc{}")), HTTPD_ERR_INVAL);
    CHECK_EQ(init_rc(CT("abc; charset=utf-8")), 0);            /* still fine */
    CHECK_EQ(init_rc(CT("abc ")), 0);
    CHECK_EQ(init_rc(CT("\"abc\" ;")), 0);
}
static void test_missing_final_boundary(void) {
    static const struct { const char *body; int parts; const char *data0; int ended0; } cut[] = {
        { "", 0, NULL, 0 },                                 /* empty body */
        { "preamble only\r\n--b", 0, NULL, 0 },
        { "--b", 0, NULL, 0 },                              /* in the first boundary line */
        { "--b  ", 0, NULL, 0 },
        { "--b\r", 0, NULL, 0 },
        { "--b\r\n", 0, NULL, 0 },                          /* in a header block */
        { "--b\r\nContent-Disposition: form-data; name=a\r\n", 0, NULL, 0 },
        { "--b\r\n\r\n", 1, "", 0 },                        /* in the content */
        { "--b\r\n\r\nabc", 1, "abc", 0 },
        { "--b\r\n\r\nabc\r", 1, "abc", 0 },                /* a delimiter prefix held */
        { "--b\r\n\r\nabc\r\n--", 1, "abc", 0 },
        { "--b\r\n\r\nabc\r\n--b", 1, "abc", 1 },            /* after a delimiter */
        { "--b\r\n\r\nabc\r\n--b-", 1, "abc", 1 },
        { "--b\r\n\r\nabc\r\n--b \t", 1, "abc", 1 },
        { "--b\r\n\r\nabc\r\n--b\r\n\r\n", 2, "abc", 1 },
        { "--b\r\n\r\nabc\r\n--b\r\n\r\n--b--", 2, "abc", 1 }, /* "--b--" is content here */
    };
    for (size_t i = 0; i < sizeof cut / sizeof cut[0]; i++) {
        what = cut[i].body;
        rec *r = run_body(CT("b"), cut[i].body);
        CHECK_EQ(r->rc, 0);
        CHECK_EQ(r->end, HTTPD_ERR_INVAL);
        CHECK_EQ(r->n, cut[i].parts);
        if (r->n) {
            CHECK(beq(r->p[0].data, cut[i].data0) || (!r->p[0].data.n && !*cut[i].data0));
            CHECK_EQ(r->p[0].ended, cut[i].ended0);
        }
        if (r->n == 2)
            CHECK(!r->p[1].ended && r->p[1].data.n == (strstr(cut[i].body, "--b--") ? 5u : 0u));
        rec_free(r);
    }
}
static void test_garbage_after_boundary(void) {
    CHECK_EQ(rc_of(CT("boundary"), "--boundaryX\r\n\r\nv\r\n--boundary--"), HTTPD_ERR_INVAL);
    CHECK_EQ(rc_of(CT("boundary"), "--boundary\r\n\r\nv\r\n--boundaryX\r\n"), HTTPD_ERR_INVAL);
    CHECK_EQ(rc_of(CT("boundary"), "--boundary\r\n\r\nv\r\n--boundary-X"), HTTPD_ERR_INVAL);
    CHECK_EQ(rc_of(CT("boundary"), "--boundary\r\n\r\nv\r\n--boundary\rX"), HTTPD_ERR_INVAL);
    CHECK_EQ(rc_of(CT("boundary"), "--boundary\r\n\r\nv\r\n--boundary--X"), HTTPD_MULTIPART_DONE);
    CHECK_EQ(rc_of(CT("bound"), "--boundary\r\n\r\nv\r\n--bound--"), HTTPD_ERR_INVAL);
    static const char nul[] = "--b\r\n\r\nv\r\n--b\0\r\n\r\nw\r\n--b--";   /* NUL after it */
    mcase c;
    memset(&c, 0, sizeof c);
    c.ct = CT("b"); c.body = nul; c.len = sizeof nul - 1;
    what = "NUL after a delimiter";
    rec *r = run(&c);
    CHECK_EQ(r->rc, HTTPD_ERR_INVAL);
    CHECK_EQ(r->n, 1);
    PART(r, 0, NULL, NULL, NULL, "v");
    rec_free(r);
    what = "garbage after a delimiter";                   /* the part before it did end */
    r = run_body(CT("b"), "--b\r\n\r\nv\r\n--b2\r\n\r\nw\r\n--b--");
    CHECK_EQ(r->rc, HTTPD_ERR_INVAL);
    CHECK_EQ(r->n, 1);
    PART(r, 0, NULL, NULL, NULL, "v");
    rec_free(r);
}
static void test_bad_headers(void) {
#define HB(h) "--b\r\n" h "\r\nv\r\n--b--\r\n"
    CHECK_EQ(rc_of(CT("b"), HB("Content-Disposition: form-data; name=a\n")), HTTPD_ERR_INVAL);
    CHECK_EQ(rc_of(CT("b"), HB("Content-Disposition: form-data; name=a\r\nX: y\n")),
             HTTPD_ERR_INVAL);                                            /* bare LF */
    CHECK_EQ(rc_of(CT("b"), "--b\r\n\n\r\nv\r\n--b--\r\n"), HTTPD_ERR_INVAL);
    CHECK_EQ(rc_of(CT("b"), HB("X: a\rb\r\n")), HTTPD_ERR_INVAL);          /* bare CR */
    CHECK_EQ(rc_of(CT("b"), HB("X: a\r\r\n")), HTTPD_ERR_INVAL);
    CHECK_EQ(rc_of(CT("b"), HB("Content-Disposition: form-data;\r\n name=a\r\n")),
             HTTPD_ERR_INVAL);                                            /* obs-fold */
    CHECK_EQ(rc_of(CT("b"), HB("X: a\r\n\tb\r\n")), HTTPD_ERR_INVAL);
    CHECK_EQ(rc_of(CT("b"), HB(" X: a\r\n")), HTTPD_ERR_INVAL);
    CHECK_EQ(rc_of(CT("b"), HB("Content-Disposition form-data\r\n")), HTTPD_ERR_INVAL);
    CHECK_EQ(rc_of(CT("b"), HB("X\r\n")), HTTPD_ERR_INVAL);                /* no colon */
    CHECK_EQ(rc_of(CT("b"), HB("X : a\r\n")), HTTPD_ERR_INVAL);
    CHECK_EQ(rc_of(CT("b"), HB(": a\r\n")), HTTPD_ERR_INVAL);
    CHECK_EQ(rc_of(CT("b"), HB("X(y): a\r\n")), HTTPD_ERR_INVAL);
    CHECK_EQ(rc_of(CT("b"), HB("X: a\x01 b\r\n")), HTTPD_ERR_INVAL);       /* CTL */
    CHECK_EQ(rc_of(CT("b"), HB("X: a\x7f\r\n")), HTTPD_ERR_INVAL);
    CHECK_EQ(rc_of(CT("b"), HB("X: \x1b[0m\r\n")), HTTPD_ERR_INVAL);
    CHECK_EQ(rc_of(CT("b"), HB("Content-Disposition: form-data; name=\"a\x0b\"\r\n")),
             HTTPD_ERR_INVAL);
    static const char nul[] = HB("X: a\0b\r\n");
    mcase c;
    memset(&c, 0, sizeof c);
    c.ct = CT("b"); c.body = nul; c.len = sizeof nul - 1;
    what = "NUL in a header value";
    rec *r = run(&c);
    CHECK_EQ(r->rc, HTTPD_ERR_INVAL);
    CHECK_EQ(r->n, 0);
    rec_free(r);
    /* malformed Content-Disposition parameters */
    CHECK_EQ(rc_of(CT("b"), HB("Content-Disposition: form-data; name=\"a\r\n")), HTTPD_ERR_INVAL);
    CHECK_EQ(rc_of(CT("b"), HB("Content-Disposition: form-data; name\r\n")), HTTPD_ERR_INVAL);
    CHECK_EQ(rc_of(CT("b"), HB("Content-Disposition: form-data; =a\r\n")), HTTPD_ERR_INVAL);
    CHECK_EQ(rc_of(CT("b"), HB("Content-Disposition: form-data;; name=a\r\n")), HTTPD_ERR_INVAL);
    CHECK_EQ(rc_of(CT("b"), HB("Content-Disposition: form-data; name=\"a\"b\r\n")),
             HTTPD_ERR_INVAL);
    CHECK_EQ(rc_of(CT("b"), HB("Content-Disposition: form-data; name=a b\r\n")), HTTPD_ERR_INVAL);
    CHECK_EQ(rc_of(CT("b"), HB("Content-Disposition: form-data; name=\"a\\\"b\"\r\n")),
             HTTPD_ERR_INVAL);                     /* no quoted-pairs: the string ends at a\ */
    CHECK_EQ(rc_of(CT("b"), HB("Content-Disposition: form-data; name=\"\\\"\\\"\"\r\n")),
             HTTPD_ERR_INVAL);
    /* fine: tab and obs-text in values, empty value, odd but valid names */
    what = "unusual but valid header fields";
    r = run_body(CT("b"), HB("X-A:\r\nx-b: \t\r\nX_c!#$%&'*+.^`|~: \xc3\xa9\tt\xff\r\n"));
    DONE(r);
    CHECK_EQ(r->n, 1);
    CHECK(beq(r->p[0].headers, "X-A: \nx-b: \nX_c!#$%&'*+.^`|~: \xc3\xa9\tt\xff\n"));
    rec_free(r);
#undef HB
}
/* n parts, each "--b\r\n\r\nP<i>\r\n", then the closing line */
static char *many_parts(int n) {
    bytes b = { NULL, 0 };
    for (int i = 0; i < n; i++) bytes_fmt(&b, "--b\r\n\r\nP%d\r\n", i);
    bytes_fmt(&b, "--b--\r\n");
    return b.s;
}
static void test_cap_parts(void) {
    mcase c;
    memset(&c, 0, sizeof c);
    c.ct = CT("b");
    c.lim.max_parts = 3;
    what = "max_parts parts";
    char *body = many_parts(3);
    c.body = body;
    rec *r = run(&c);
    DONE(r);
    CHECK_EQ(r->n, 3);
    PART(r, 2, NULL, NULL, NULL, "P2");
    rec_free(r); free(body);
    what = "max_parts + 1 parts";
    body = many_parts(4);
    c.body = body;
    r = run(&c);
    CHECK_EQ(r->rc, HTTPD_ERR_TOOLARGE);
    CHECK_EQ(r->end, HTTPD_ERR_TOOLARGE);
    CHECK_EQ(r->n, 3);                               /* the three before it were whole */
    PART(r, 2, NULL, NULL, NULL, "P2");
    rec_free(r); free(body);
    c.lim.max_parts = 0;                             /* default: 128 */
    what = "128 parts (default cap)";
    body = many_parts(128);
    c.body = body;
    r = run(&c);
    DONE(r);
    CHECK_EQ(r->n, 128);
    rec_free(r); free(body);
    what = "129 parts (default cap)";
    body = many_parts(129);
    c.body = body;
    r = run(&c);
    CHECK_EQ(r->rc, HTTPD_ERR_TOOLARGE);
    CHECK_EQ(r->n, 128);
    rec_free(r); free(body);
}
static void test_cap_header_block(void) {
    static const char block[] =                          /* 83 bytes with the empty line */
        "Content-Disposition: form-data; name=\"f\"; filename=\"a.txt\"\r\n"
        "Content-Type: text/plain\r\n"
        "\r\n";
    char body[256];
    snprintf(body, sizeof body, "--b\r\n%sdata\r\n--b\r\n%s\r\n--b--\r\n", block, block);
    mcase c;
    memset(&c, 0, sizeof c);
    c.ct = CT("b"); c.body = body;
    c.hcap = sizeof block - 1;
    what = "header block exactly at the cap";
    rec *r = run(&c);
    DONE(r);
    CHECK_EQ(r->n, 2);
    PART(r, 0, "f", "a.txt", "text/plain", "data");
    PART(r, 1, "f", "a.txt", "text/plain", "");
    rec_free(r);
    what = "header block one byte over the cap";
    c.hcap = sizeof block - 2;
    r = run(&c);
    CHECK_EQ(r->rc, HTTPD_ERR_TOOLARGE);
    CHECK_EQ(r->n, 0);
    rec_free(r);
    what = "empty header block, cap 2";
    c.hcap = 2;
    c.body = "--b\r\n\r\nv\r\n--b--";
    r = run(&c);
    DONE(r);
    PART(r, 0, NULL, NULL, NULL, "v");
    rec_free(r);
    what = "one header, cap 2";
    c.body = "--b\r\nX: y\r\n\r\nv\r\n--b--";
    r = run(&c);
    CHECK_EQ(r->rc, HTTPD_ERR_TOOLARGE);
    rec_free(r);
}
/* Backslashes in quoted parameters are kept as sent, so the name and filename are slices
   of the header block: a block with them still fits exactly at the cap (the header buffer
   is an exact-size allocation: nothing may be written past the block). */
static void test_cap_header_block_backslashes(void) {
    static const char block[] =
        "Content-Disposition: form-data; name=\"a\\\\b\\\"; filename=\"C:\\x\\y.txt\"\r\n\r\n";
    char body[256];
    snprintf(body, sizeof body, "--b\r\n%sv\r\n--b--", block);
    mcase c;
    memset(&c, 0, sizeof c);
    c.ct = CT("b"); c.body = body;
    c.hcap = sizeof block - 1;
    what = "backslashes, block exactly at the cap";
    rec *r = run(&c);
    DONE(r);
    PART(r, 0, "a\\\\b\\", "C:\\x\\y.txt", NULL, "v");
    rec_free(r);
    what = "backslashes, block one byte over the cap";
    c.hcap--;
    r = run(&c);
    CHECK_EQ(r->rc, HTTPD_ERR_TOOLARGE);
    rec_free(r);
}
static void test_cap_part_bytes(void) {
    mcase c;
    memset(&c, 0, sizeof c);
    c.ct = CT("b");
    c.body = "--b\r\nContent-Disposition: form-data; name=a\r\n\r\n0123456789\r\n"
             "--b\r\n\r\nabcdefghij\r\n--b\r\n\r\n\r\n--b--\r\n";
    c.lim.max_part_bytes = 10;
    what = "max_part_bytes exactly";
    rec *r = run(&c);
    DONE(r);
    CHECK_EQ(r->n, 3);
    PART(r, 0, "a", NULL, NULL, "0123456789");
    PART(r, 1, NULL, NULL, NULL, "abcdefghij");
    PART(r, 2, NULL, NULL, NULL, "");
    rec_free(r);
}
/* Over the cap: the content up to the cap may be handed out, but the events must not depend
   on where the body was split (whole: no DATA for the part; split: some, then TOOLARGE). */
static void test_cap_part_bytes_over(void) {
    mcase c;
    memset(&c, 0, sizeof c);
    c.ct = CT("b");
    c.body = "--b\r\nContent-Disposition: form-data; name=a\r\n\r\n0123456789\r\n"
             "--b\r\n\r\nabcdefghij\r\n--b\r\n\r\n\r\n--b--\r\n";
    what = "max_part_bytes + 1";
    c.lim.max_part_bytes = 9;
    rec *r = run(&c);
    CHECK_EQ(r->rc, HTTPD_ERR_TOOLARGE);
    CHECK_EQ(r->end, HTTPD_ERR_TOOLARGE);
    CHECK_EQ(r->n, 1);
    CHECK_EQ(r->p[0].ended, 0);
    CHECK(beq(r->p[0].data, "012345678"));              /* up to the cap, in any split */
    rec_free(r);
    what = "max_part_bytes + 1 in the second part";
    c.body = "--b\r\n\r\n0123456789\r\n--b\r\n\r\n0123456789a\r\n--b--\r\n";
    c.lim.max_part_bytes = 10;
    r = run(&c);
    CHECK_EQ(r->rc, HTTPD_ERR_TOOLARGE);
    CHECK_EQ(r->n, 2);
    PART(r, 0, NULL, NULL, NULL, "0123456789");
    CHECK_EQ(r->p[1].ended, 0);
    CHECK(beq(r->p[1].data, "0123456789"));
    rec_free(r);
}
static void test_cap_header_count(void) {
    bytes b = { NULL, 0 };
    bytes_fmt(&b, "--b\r\nContent-Disposition: form-data; name=\"n\"\r\n");
    for (int i = 1; i < HTTPD_MULTIPART_MAX_HEADERS; i++) bytes_fmt(&b, "X-%d: %d\r\n", i, i);
    size_t at = b.n;
    bytes_fmt(&b, "\r\nv\r\n--b--\r\n");
    what = "HTTPD_MULTIPART_MAX_HEADERS fields";
    rec *r = run_body(CT("b"), b.s);
    DONE(r);
    CHECK_EQ(r->n, 1);
    CHECK_EQ(r->p[0].nheaders, HTTPD_MULTIPART_MAX_HEADERS);
    PART(r, 0, "n", NULL, NULL, "v");
    rec_free(r);
    b.n = at;                                        /* one more field */
    bytes_fmt(&b, "X-last: 1\r\n\r\nv\r\n--b--\r\n");
    what = "HTTPD_MULTIPART_MAX_HEADERS + 1 fields";
    r = run_body(CT("b"), b.s);
    CHECK_EQ(r->rc, HTTPD_ERR_TOOLARGE);
    CHECK_EQ(r->n, 0);
    rec_free(r);
    free(b.s);
}
static void test_disposition(void) {
#define ONE(cd) "--b\r\n" cd "\r\n\r\nv\r\n--b--\r\n"
    static const struct { const char *cd, *name, *filename; } t[] = {
        /* a quoted string ends at the next quote; backslashes are kept (see the banner) */
        { "Content-Disposition: form-data; name=\"a\\b\\\\c\"; filename=\"C:\\dir\\a.txt\"",
          "a\\b\\\\c", "C:\\dir\\a.txt" },
        { "Content-Disposition: form-data; name=\"ends in \\\"; filename=\"\\\"",
          "ends in \\", "\\" },
        { "Content-Disposition: form-data; name=\"%22quoted%22\"", "%22quoted%22", NULL },
        { "Content-Disposition: form-data; name=field; filename=file.txt", "field", "file.txt" },
        { "Content-Disposition: form-data; name=a!#$%&'*+-.^_`|~9", "a!#$%&'*+-.^_`|~9", NULL },
        { "Content-Disposition: form-data; foo=bar; name=\"n\"; baz=\"q;x=y\"; z=", "n", NULL },
        { "Content-Disposition: form-data; name=\"f\"; filename=\"e.txt\"; "
          "filename*=UTF-8''%e2%82%ac%20rates.txt", "f", "e.txt" },
        { "Content-Disposition: form-data; name=\"f\"; filename*=UTF-8''a.txt", "f", NULL },
        { "content-DISPOSITION: Form-Data; NAME=\"a\"; FileName=\"b\"", "a", "b" },
        { "Content-Disposition: form-data; name=\"a\";", "a", NULL },          /* trailing ; */
        { "Content-Disposition: form-data; name=\"a\" ; ", "a", NULL },
        { "Content-Disposition: form-data ;name = \"a\"\t;\tfilename\t=\tb", "a", "b" },
        { "Content-Disposition: form-data; name=\"\"; filename=\"\"", "", "" },
        { "Content-Disposition: form-data; name=", "", NULL },
        { "Content-Disposition: form-data", NULL, NULL },
        { "Content-Disposition: attachment; filename=\"x\"", NULL, "x" },
        { "Content-Disposition: form-data; name=\"first\"; name=\"second\"", "second", NULL },
        { "Content-Disposition: form-data; names=\"no\"; xname=\"no\"; filenames=x", NULL, NULL },
        { "Content-Disposition: form-data; name=\"a b;c=d\"", "a b;c=d", NULL },
        { "Content-Disposition: form-data; name=\"caf\xc3\xa9\"; filename=\"\xe2\x82\xac.txt\"",
          "caf\xc3\xa9", "\xe2\x82\xac.txt" },
        { "X-Before: 1\r\nContent-Disposition: form-data; name=\"late\"\r\nX-After: 2", "late",
          NULL },
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        char body[512];
        snprintf(body, sizeof body, ONE("%s"), t[i].cd);
        what = t[i].cd;
        rec *r = run_body(CT("b"), body);
        DONE(r);
        CHECK_EQ(r->n, 1);
        PART(r, 0, t[i].name, t[i].filename, NULL, "v");
        rec_free(r);
    }
    /* two Content-Disposition fields: the last counts, the fields are given as sent */
    what = "two dispositions";
    rec *r = run_body(CT("b"), ONE("Content-Disposition: form-data; name=\"1\\\"\r\n"
                                   "Content-Disposition: form-data; name=\"\\\\2\""));
    DONE(r);
    PART(r, 0, "\\\\2", NULL, NULL, "v");
    CHECK(beq(r->p[0].headers, "Content-Disposition: form-data; name=\"1\\\"\n"
                               "Content-Disposition: form-data; name=\"\\\\2\"\n"));
    rec_free(r);
#undef ONE
}
static void test_callback_stops(void) {
    static const char body[] =
        "--b\r\nContent-Disposition: form-data; name=\"one\"\r\n\r\nfirst\r\n"
        "--b\r\nContent-Disposition: form-data; name=\"two\"\r\n\r\nsecond\r\n"
        "--b--\r\n";
    mcase c;
    memset(&c, 0, sizeof c);
    c.ct = CT("b"); c.body = body;
    what = "callback fails at the second BEGIN";
    c.fail_ev = HTTPD_PART_BEGIN; c.fail_at = 2; c.fail_rc = -77;
    rec *r = run(&c);                       /* run() checks: sticky, no event after it */
    CHECK_EQ(r->rc, -77);
    CHECK_EQ(r->end, -77);
    CHECK_EQ(r->n, 2);
    PART(r, 0, "one", NULL, NULL, "first");
    CHECK(beq(r->p[1].name, "two") && r->p[1].data.n == 0 && !r->p[1].ended);
    rec_free(r);
    what = "callback fails at the first END";
    c.fail_ev = HTTPD_PART_END; c.fail_at = 1; c.fail_rc = HTTPD_ERR_CLOSED;
    r = run(&c);
    CHECK_EQ(r->rc, HTTPD_ERR_CLOSED);
    CHECK_EQ(r->end, HTTPD_ERR_CLOSED);
    CHECK_EQ(r->n, 1);
    PART(r, 0, "one", NULL, NULL, "first");
    rec_free(r);
    what = "callback fails at the last END";
    c.fail_ev = HTTPD_PART_END; c.fail_at = 2; c.fail_rc = -1000;
    r = run(&c);
    CHECK_EQ(r->rc, -1000);
    CHECK_EQ(r->n, 2);
    rec_free(r);

    /* at DATA: what came before depends on the split, so whole and bytewise only */
    for (int bytewise = 0; bytewise < 2; bytewise++) {
        rec *d = (rec *)calloc(1, sizeof *d);
        d->fail_ev = HTTPD_PART_DATA; d->fail_at = 1; d->fail_rc = -9;
        httpd_multipart *m = (httpd_multipart *)malloc(sizeof *m);
        char *hb = (char *)malloc(128);
        httpd_str ct = { CT("b"), sizeof CT("b") - 1 };
        CHECK_EQ(httpd_multipart_init(m, ct, NULL, hb, 128, on_part, d), 0);
        size_t n = sizeof body - 1, step = bytewise ? 1 : n;
        int rc = 0;
        for (size_t o = 0; o < n && rc == 0; o += step) {
            char *p = dup_exact(body + o, step);
            rc = httpd_multipart_feed(m, p, step);
            free(p);
        }
        CHECK_EQ(rc, -9);
        CHECK_EQ(httpd_multipart_feed(m, body, n), -9);   /* sticky, no events */
        CHECK_EQ(httpd_multipart_end(m), -9);
        CHECK_EQ(d->n, 1);
        CHECK_EQ(d->bad, 0);
        CHECK(d->p[0].data.n == (bytewise ? 1u : 5u) && !d->p[0].ended);
        free(m); free(hb);
        rec_free(d);
    }
}
#define FEED(m, lit) httpd_multipart_feed(m, lit, sizeof(lit) - 1)
static void test_errors_sticky(void) {
    rec *d = (rec *)calloc(1, sizeof *d);
    httpd_multipart m;
    char hb[64];
    httpd_str ct = { CT("b"), sizeof CT("b") - 1 };
    CHECK_EQ(httpd_multipart_init(&m, ct, NULL, hb, sizeof hb, on_part, d), 0);
    CHECK_EQ(httpd_multipart_end(&m), HTTPD_ERR_INVAL);               /* nothing yet */
    CHECK_EQ(httpd_multipart_feed(&m, NULL, 0), 0);
    CHECK_EQ(FEED(&m, "--b\r\n\r\nv"), 0);
    CHECK_EQ(httpd_multipart_feed(&m, "", 0), 0);
    CHECK_EQ(FEED(&m, "\r\n--bX"), HTTPD_ERR_INVAL);
    d->stopped = 1;                                          /* no event from now on */
    CHECK_EQ(FEED(&m, "\r\n--b\r\n\r\nw\r\n--b--\r\n"), HTTPD_ERR_INVAL);
    CHECK_EQ(httpd_multipart_feed(&m, NULL, 0), HTTPD_ERR_INVAL);
    CHECK_EQ(httpd_multipart_end(&m), HTTPD_ERR_INVAL);
    CHECK_EQ(d->n, 1);
    CHECK_EQ(d->bad, 0);
    CHECK(d->p[0].ended && beq(d->p[0].data, "v"));
    /* done is sticky too, and the epilogue is never parsed */
    CHECK_EQ(httpd_multipart_init(&m, ct, NULL, hb, sizeof hb, on_part, d), 0);
    d->stopped = 0;
    CHECK_EQ(FEED(&m, "--b--"), HTTPD_MULTIPART_DONE);
    d->stopped = 1;
    CHECK_EQ(FEED(&m, "\r\n--b\r\n\r\nx\r\n--b--"), HTTPD_MULTIPART_DONE);
    CHECK_EQ(httpd_multipart_end(&m), 0);
    CHECK_EQ(d->bad, 0);
    /* bad arguments */
    CHECK_EQ(httpd_multipart_feed(NULL, "x", 1), HTTPD_ERR_INVAL);
    CHECK_EQ(httpd_multipart_feed(&m, NULL, 1), HTTPD_ERR_INVAL);
    CHECK_EQ(httpd_multipart_end(NULL), HTTPD_ERR_INVAL);
    rec_free(d);
}
/* curl 7.88.1: curl -F 'title=Hello "world"' -F $'comment=line1\nline2'
   -F 'file=@upload.txt;type=text/plain;filename=my "quoted" \file.txt' -F 'empty=' URL,
   captured byte for byte from a socket (upload.txt: "hello\r\nworld\n--not-a-boundary\r\n").
   curl percent-encodes the quotes in the filename and sends the backslash as it is. */
static const char curl_ct[] =
    "multipart/form-data; boundary=------------------------4f8a9b92bc8839ea";
static const char curl_body[] =
    "--------------------------4f8a9b92bc8839ea\r\n"
    "Content-Disposition: form-data; name=\"title\"\r\n"
    "\r\n"
    "Hello \"world\"\r\n"
    "--------------------------4f8a9b92bc8839ea\r\n"
    "Content-Disposition: form-data; name=\"comment\"\r\n"
    "\r\n"
    "line1\n"
    "line2\r\n"
    "--------------------------4f8a9b92bc8839ea\r\n"
    "Content-Disposition: form-data; name=\"file\"; filename=\"my %22quoted%22 \\file.txt\"\r\n"
    "Content-Type: text/plain\r\n"
    "\r\n"
    "hello\r\n"
    "world\n"
    "--not-a-boundary\r\n"
    "\r\n"
    "--------------------------4f8a9b92bc8839ea\r\n"
    "Content-Disposition: form-data; name=\"empty\"\r\n"
    "\r\n"
    "\r\n"
    "--------------------------4f8a9b92bc8839ea--\r\n";
static void test_curl_body(void) {
    what = "curl -F body";
    CHECK_EQ(sizeof curl_body - 1, 542);
    rec *r = run_body(curl_ct, curl_body);
    DONE(r);
    CHECK_EQ(r->n, 4);
    PART(r, 0, "title", NULL, NULL, "Hello \"world\"");
    PART(r, 1, "comment", NULL, NULL, "line1\nline2");
    CHECK(part_is(r, 2, "file", r->p[2].filename.s, "text/plain",
                  "hello\r\nworld\n--not-a-boundary\r\n", 31));
    PART(r, 3, "empty", NULL, NULL, "");
    rec_free(r);
}
/* curl (like browsers, WHATWG HTML "multipart/form-data encoding") does not escape a
   backslash in a filename: the name given must come back with its backslash. */
static void test_curl_filename_backslash(void) {
    what = "curl -F filename with a backslash";
    rec *r = run_body(curl_ct, curl_body);
    int ok = r->n > 2 && beq(r->p[2].filename, "my %22quoted%22 \\file.txt");
    CHECK(ok);
    if (!ok && r->n > 2 && r->p[2].filename.s)
        fprintf(stderr, "  filename came back as [%s]\n", r->p[2].filename.s);
    rec_free(r);
}
/* The shape Chrome/WebKit sends: a "----WebKitFormBoundary" + 16 characters boundary,
   quotes and CR/LF in names percent-encoded, raw UTF-8 in filenames, an empty file input. */
static void test_chrome_body(void) {
    static const char body[] =
        "------WebKitFormBoundaryePkpFF7tjBAqx29L\r\n"
        "Content-Disposition: form-data; name=\"user%22name\"\r\n"
        "\r\n"
        "J\xc3\xb6rg \"quoted\"\r\n"
        "------WebKitFormBoundaryePkpFF7tjBAqx29L\r\n"
        "Content-Disposition: form-data; name=\"notes\"\r\n"
        "\r\n"
        "line 1\r\nline 2\r\n------WebKitFormBoundary\r\n"
        "------WebKitFormBoundaryePkpFF7tjBAqx29L\r\n"
        "Content-Disposition: form-data; name=\"avatar\"; "
        "filename=\"r\xc3\xa9sum\xc3\xa9 %22v2%22.png\"\r\n"
        "Content-Type: image/png\r\n"
        "\r\n"
        "\x89PNG\r\n\x1a\n\0\0\0\rIHDR\r\n"
        "------WebKitFormBoundaryePkpFF7tjBAqx29L\r\n"
        "Content-Disposition: form-data; name=\"attachment\"; filename=\"\"\r\n"
        "Content-Type: application/octet-stream\r\n"
        "\r\n"
        "\r\n"
        "------WebKitFormBoundaryePkpFF7tjBAqx29L--\r\n";
    mcase c;
    memset(&c, 0, sizeof c);
    c.ct = "multipart/form-data; boundary=----WebKitFormBoundaryePkpFF7tjBAqx29L";
    c.body = body; c.len = sizeof body - 1;
    what = "Chrome body";
    rec *r = run(&c);
    DONE(r);
    CHECK_EQ(r->n, 4);
    PART(r, 0, "user%22name", NULL, NULL, "J\xc3\xb6rg \"quoted\"");
    PART(r, 1, "notes", NULL, NULL, "line 1\r\nline 2\r\n------WebKitFormBoundary");
    PART(r, 2, "avatar", "r\xc3\xa9sum\xc3\xa9 %22v2%22.png", "image/png",
         "\x89PNG\r\n\x1a\n\0\0\0\rIHDR");
    PART(r, 3, "attachment", "", "application/octet-stream", "");
    rec_free(r);
}

int main(void) {
    RUN(test_simple_fields);
    RUN(test_file_part);
    RUN(test_empty_content);
    RUN(test_no_headers);
    RUN(test_preamble_epilogue);
    RUN(test_crlf_before_first_boundary);
    RUN(test_transport_padding);
    RUN(test_tricky_content);
    RUN(test_binary_content);
    RUN(test_quoted_boundary);
    RUN(test_boundary_lengths);
    RUN(test_invalid_boundaries);
    RUN(test_boundary_trailing_junk);
    RUN(test_missing_final_boundary);
    RUN(test_garbage_after_boundary);
    RUN(test_bad_headers);
    RUN(test_cap_parts);
    RUN(test_cap_header_block);
    RUN(test_cap_header_block_backslashes);
    RUN(test_cap_part_bytes);
    RUN(test_cap_part_bytes_over);
    RUN(test_cap_header_count);
    RUN(test_disposition);
    RUN(test_callback_stops);
    RUN(test_errors_sticky);
    RUN(test_curl_body);
    RUN(test_curl_filename_backslash);
    RUN(test_chrome_body);
    return REPORT();
}
