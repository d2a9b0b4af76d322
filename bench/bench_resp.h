/* bench/bench_resp.h - a tiny HTTP/1.x response framer shared by the bench load tools
   (loadgen.c, idle_conns.c). It only finds where one response ends, its status code and
   whether the server announced "Connection: close"; it does not validate anything else. */
#ifndef BENCH_RESP_H
#define BENCH_RESP_H

#include <ctype.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    size_t len;      /* bytes of this response (head + body) */
    int status;      /* 3-digit status code */
    int conn_close;  /* server sent "Connection: close" (or HTTP/1.0 without keep-alive) */
} bench_resp;

static int bench__ieq_prefix(const char *p, const char *end, const char *lit) {
    size_t n = strlen(lit);
    if ((size_t)(end - p) < n) return 0;
    for (size_t i = 0; i < n; i++)
        if (tolower((unsigned char)p[i]) != lit[i]) return 0;
    return 1;
}

static int bench__contains_ci(const char *p, const char *end, const char *lit) {
    size_t n = strlen(lit);
    for (; p + n <= end; p++)
        if (bench__ieq_prefix(p, end, lit)) return 1;
    return 0;
}

static const char *bench__find_crlf(const char *p, const char *end) {
    for (; p + 1 < end; p++)
        if (p[0] == '\r' && p[1] == '\n') return p;
    return NULL;
}

/* Parse a chunked body starting at p. Returns bytes consumed, 0 if incomplete, -1 if bad. */
static long bench__chunked(const char *p, const char *end) {
    const char *s = p;
    for (;;) {
        const char *eol = bench__find_crlf(p, end);
        if (!eol) return 0;
        char *q;
        unsigned long sz = strtoul(p, &q, 16);
        if (q == p) return -1;
        p = eol + 2;
        if (sz == 0) {                    /* trailers, then an empty line */
            for (;;) {
                eol = bench__find_crlf(p, end);
                if (!eol) return 0;
                if (eol == p) return (long)(eol + 2 - s);
                p = eol + 2;
            }
        }
        if ((size_t)(end - p) < sz + 2) return 0;
        p += sz;
        if (p[0] != '\r' || p[1] != '\n') return -1;
        p += 2;
    }
}

/* Returns 1 and fills *r when buf holds one whole response, 0 when more bytes are needed,
   -1 on garbage. `eof`: the peer closed, so a body without length ends here. */
static int bench_parse_response(const char *buf, size_t n, int eof, bench_resp *r) {
    const char *end = buf + n;
    const char *hend = NULL;
    for (const char *p = buf; p + 3 < end; p++)
        if (p[0] == '\r' && p[1] == '\n' && p[2] == '\r' && p[3] == '\n') { hend = p + 4; break; }
    if (!hend) return n > 65536 ? -1 : 0;
    if (n < 12 || memcmp(buf, "HTTP/1.", 7) != 0) return -1;
    if (!isdigit((unsigned char)buf[9]) || !isdigit((unsigned char)buf[10]) ||
        !isdigit((unsigned char)buf[11]))
        return -1;
    r->status = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
    int http10 = buf[7] == '0';
    long clen = -1;
    int chunked = 0, ka = 0;
    r->conn_close = 0;
    const char *line = bench__find_crlf(buf, hend) + 2;
    while (line < hend - 2) {
        const char *eol = bench__find_crlf(line, hend);
        if (bench__ieq_prefix(line, eol, "content-length:")) {
            clen = strtol(line + 15, NULL, 10);
        } else if (bench__ieq_prefix(line, eol, "transfer-encoding:")) {
            chunked = bench__contains_ci(line + 18, eol, "chunked");
        } else if (bench__ieq_prefix(line, eol, "connection:")) {
            if (bench__contains_ci(line + 11, eol, "close")) r->conn_close = 1;
            if (bench__contains_ci(line + 11, eol, "keep-alive")) ka = 1;
        }
        line = eol + 2;
    }
    if (http10 && !ka) r->conn_close = 1;
    size_t head = (size_t)(hend - buf);
    if ((r->status >= 100 && r->status < 200) || r->status == 204 || r->status == 304) {
        r->len = head;
    } else if (chunked) {
        long c = bench__chunked(hend, end);
        if (c <= 0) return (int)c;
        r->len = head + (size_t)c;
    } else if (clen >= 0) {
        if (n < head + (size_t)clen) return 0;
        r->len = head + (size_t)clen;
    } else {                              /* delimited by close */
        if (!eof) return 0;
        r->len = n;
        r->conn_close = 1;
    }
    return 1;
}

#endif
