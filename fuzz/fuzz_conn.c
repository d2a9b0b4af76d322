/* fuzz/fuzz_conn.c - the whole connection state machine, in memory, with a virtual clock.
   The input is a program of operations: feed N bytes (as the socket would deliver them),
   drain up to N output bytes (a slow reader: output backpressure), advance the clock
   (timeouts), answer the parked asynchronous request, or end the input (FIN).
   Invariants checked (not only "no crash"):
   - nothing is appended to the output once the connection is closing;
   - final responses <= request heads seen (+1 for an error on a broken head);
   - handler responses come out in the order the handlers were called;
   - the echo body never exceeds the route cap; buffers stay within their bounds;
   - every response in the output is well formed (status line, CRLF CRLF). */
#define HTTPD_IMPLEMENTATION
#include "../httpd.h"

static httpd_server srv;
static httpd__worker wk;
static int ready;
static httpd_request *parked;
static unsigned seq_called;

static void reply(httpd_request *r, const char *what, const void *body, size_t n) {
    /* bodies are hex so that no request byte can look like a status line in the output */
    static char buf[4096];
    int k = snprintf(buf, sizeof buf, "seq=%08u %s ", seq_called++, what);
    for (size_t i = 0; i < n && (size_t)k + 2 < sizeof buf; i++)
        k += snprintf(buf + k, sizeof buf - (size_t)k, "%02x", ((const unsigned char *)body)[i]);
    httpd_respond(r, 200, "text/plain", buf, (size_t)k);
}
static void on_hello(httpd_request *r) { reply(r, "hello", NULL, 0); }
static void on_echo(httpd_request *r) {
    HTTPD_ASSERT(r->body.len <= 64);
    reply(r, "echo", r->body.ptr, r->body.len);
}
static void on_async(httpd_request *r) {
    if (parked) { reply(r, "busy", NULL, 0); return; }
    parked = r;
}
static void on_param(httpd_request *r) {
    httpd_str v = httpd_param(r, "id"), q = httpd_query_param(r, "q");
    reply(r, "param", v.ptr, v.len);
    (void)q;
}
/* streamed body: counted, paused when the program says so (op 6 resumes) */
static httpd_request *paused_req;
static int pause_next;
static void up_body(httpd_request *r, void *arg, const void *data, size_t len, int status) {
    (void)arg; (void)data;
    if (status == 0) {
        HTTPD_ASSERT(len > 0 && len <= 64);
        if (pause_next) { pause_next = 0; httpd_body_pause(r); paused_req = r; }
        return;
    }
    if (paused_req == r) paused_req = NULL;
    int rc = status == HTTPD_BODY_END ? (reply(r, "up", NULL, 0), 0)
                                      : httpd_respond(r, 500, NULL, "x", 1);
    if (status != HTTPD_BODY_END) HTTPD_ASSERT(rc < 0);          /* it freed the request */
}
static void on_up(httpd_request *r) {
    if (httpd_get_header(r, "X-No").ptr) { reply(r, "refused", NULL, 0); return; }
    HTTPD_ASSERT(httpd_body_read(r, up_body, NULL) == 0 || !r->conn.id);
}
/* streamed response: chunked, in pieces; waits for writability when full */
static void more(httpd_request *r, void *arg, int status) {
    uintptr_t left = (uintptr_t)arg;
    if (status != 0) { HTTPD_ASSERT(httpd_end(r) < 0); return; }
    while (left) {
        int rc = httpd_write(r, "0123456789abcdef0123456789abcdef", left < 32 ? left : 32);
        if (rc < 0) { httpd_end(r); return; }
        left -= left < 32 ? left : 32;
        if (rc == HTTPD_WRITE_FULL && left) { httpd_on_writable(r, more, (void *)left); return; }
    }
    httpd_end(r);
}
static void on_stream(httpd_request *r) {
    httpd_str n = httpd_query_param(r, "n");
    uintptr_t len = n.ptr ? (uintptr_t)strtoul(n.ptr, NULL, 10) % 300000 : 100;
    HTTPD_ASSERT(httpd_begin(r, 200, "text/plain", -1) == 0);
    more(r, (void *)len, 0);
}
/* a file body (httpd_send_file) of n bytes from a 64 KiB file; the harness pumps it the
   way the worker's pread fallback does */
static int file_fd = -1;
static void on_file(httpd_request *r) {
    httpd_str n = httpd_query_param(r, "n");
    uint64_t len = n.ptr ? strtoul(n.ptr, NULL, 10) % 65537 : 100;
    int fd = dup(file_fd);
    HTTPD_ASSERT(fd >= 0);
    int rc = httpd_send_file(r, 200, "text/plain", fd, 0, len);
    HTTPD_ASSERT(rc == 0 || rc == HTTPD_ERR_NOMEM);
}
static const httpd_route routes[] = {
    { .method = "POST", .pattern = "/up", .handler = on_up, .stream_body = 1,
      .max_body_bytes = 64 },
    { .method = "GET", .pattern = "/s", .handler = on_stream },
    { .method = "GET", .pattern = "/f", .handler = on_file },
    { .method = "GET", .pattern = "/", .handler = on_hello }, { .method = "POST", .pattern = "/echo", .handler = on_echo, .max_body_bytes = 64 },
    { .method = "GET", .pattern = "/async", .handler = on_async }, { .method = "GET", .pattern = "/u/:id", .handler = on_param },
    { 0 },
};
static char out[(1 << 20) + 1];   /* + a NUL after the captured bytes: strtoul & co stop there */
static size_t outlen;

static void drain(httpd__conn *c, size_t max) {
    const char *p;
    size_t n = httpd__conn_obuf(c, &p);
    if (!n && (c->flags & HTTPD__F_FILE) && c->state != HTTPD__S_ABORT) {
        c->flags |= HTTPD__F_FILEREAD;            /* no socket here: no sendfile */
        httpd__conn_pump_file(c);
        n = httpd__conn_obuf(c, &p);
    }
    if (n > max) n = max;
    if (outlen + n > sizeof out - 1) n = sizeof out - 1 - outlen;   /* capture full: undrained */
    if (!n) return;
    memcpy(out + outlen, p, n);
    outlen += n;
    httpd__conn_sent(c, n);
}
/* in memory nothing drives the worker's run queue: empty it (and the flags) */
static void unqueue_all(void) {
    for (httpd__conn *q = wk.queue; q; q = q->next) q->flags &= (uint16_t)~HTTPD__F_QUEUED;
    wk.queue = NULL;
}
static int closed(const httpd__conn *c) { return c->state >= HTTPD__S_CLOSING; }
static size_t queued(const httpd__conn *c) {
    const char *p;
    return httpd__conn_obuf(c, &p) + (c->flags & HTTPD__F_FILE ? (size_t)c->file_left : 0);
}

/* Walks the output: every response must be well formed; returns the final responses. */
static unsigned check_output(void) {
    size_t i = 0;
    unsigned finals = 0, last_seq = 0;
    int have_seq = 0;
    out[outlen] = '\0';
    while (i < outlen) {
        if (outlen == sizeof out - 1 && outlen - i < 12) break;   /* cut by the capture cap */
        HTTPD_ASSERT(outlen - i >= 12 && !memcmp(out + i, "HTTP/1.1 ", 9));
        int status = atoi(out + i + 9);
        HTTPD_ASSERT(status >= 100 && status <= 599);
        const char *end = NULL;
        for (size_t k = i; k + 3 < outlen; k++)
            if (!memcmp(out + k, "\r\n\r\n", 4)) { end = out + k + 4; break; }
        if (!end) break;                                  /* partially drained */
        size_t head = (size_t)(end - (out + i)), body = 0;
        const char *cl = NULL;
        for (size_t k = i; k + 16 < i + head; k++)
            if (!memcmp(out + k, "\r\nContent-Length: ", 18)) { cl = out + k + 18; break; }
        int chunked = 0;
        for (size_t k = i; k + 28 < i + head; k++)
            if (!memcmp(out + k, "\r\nTransfer-Encoding: chunked", 28)) { chunked = 1; break; }
        if (status >= 200 && chunked) {                   /* walk the chunks */
            finals++;
            size_t p = i + head;
            int complete = 0;
            if (p == outlen || (outlen - p >= 9 && !memcmp(out + p, "HTTP/1.1 ", 9))) {
                i = p;                                     /* HEAD: headers only */
                continue;
            }
            while (p < outlen) {
                char *e;
                unsigned long n = strtoul(out + p, &e, 16);
                if (e > out + p && (e == out + outlen || (e + 1 == out + outlen && *e == '\r')))
                    break;                                 /* size line cut: undrained */
                HTTPD_ASSERT(e > out + p && e + 2 <= out + outlen && e[0] == '\r');
                p = (size_t)(e - out) + 2 + n + 2;
                if (n == 0) { complete = 1; break; }
            }
            if (!complete) break;                          /* cut by a close, or undrained */
            i = p;
            continue;
        }
        if (status >= 200 && !cl && status != 204 && status != 304) {
            /* close-delimited (a stream to an HTTP/1.0 client): the rest is its body */
            int closes = 0;
            for (size_t k = i; k + 19 < i + head; k++)
                if (!memcmp(out + k, "\r\nConnection: close", 19)) { closes = 1; break; }
            HTTPD_ASSERT(closes);
            finals++;
            break;
        }
        if (status >= 200) {
            finals++;
            HTTPD_ASSERT(cl != NULL || status == 204 || status == 304);
            if (cl) body = (size_t)strtoull(cl, NULL, 10);
            /* HEAD responses carry Content-Length but no body: they never hold "seq=" */
            if (body && i + head + 4 <= outlen && memcmp(out + i + head, "seq=", 4) != 0
                && memcmp(out + i + head, "HTTP/1.1 ", 9) == 0)
                body = 0;
            if (i + head + body > outlen) break;
            if (body >= 12 && !memcmp(out + i + head, "seq=", 4)) {
                unsigned s = (unsigned)strtoul(out + i + head + 4, NULL, 10);
                HTTPD_ASSERT(!have_seq || s > last_seq);  /* in handler order */
                last_seq = s; have_seq = 1;
            }
        }
        i += head + body;
    }
    return finals;
}
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!ready) {
        httpd_desc d;
        memset(&d, 0, sizeof d);
        d.routes = routes;
        d.workers = 1;
        d.max_request_line = 128;
        d.max_header_bytes = 512;
        d.max_headers = 8;
        d.read_buffer_bytes = 1024;
        d.header_timeout_ms = 1000;
        d.body_timeout_ms = 1000;
        d.keepalive_timeout_ms = 3000;
        d.write_timeout_ms = 2000;
        if (httpd__server_init(&srv, &d) || httpd__worker_init(&wk, &srv, 0)) abort();
        char name[] = "/tmp/fuzz_conn-XXXXXX", blk[4096];
        if ((file_fd = mkstemp(name)) < 0) abort();
        unlink(name);
        for (int k = 0; k < 4096; k++) blk[k] = "0123456789abcdef"[k % 16];
        for (int k = 0; k < 16; k++)
            if (write(file_fd, blk, sizeof blk) != (ssize_t)sizeof blk) abort();
        ready = 1;
    }
    wk.now = 1000000;
    wk.requests = 0;
    parked = NULL;
    paused_req = NULL;
    pause_next = 0;
    seq_called = 0;
    outlen = 0;
    httpd__conn *c = httpd__conn_new(&wk);
    httpd__conn_init(c, &wk, -1);
    size_t i = 0, closed_at = (size_t)-1;
    while (i < size && c->state != HTTPD__S_ABORT) {
        uint8_t op = data[i++];
        size_t arg = i < size ? data[i] : 0;
        switch (op % 8) {
        case 0: case 1: case 2: case 3: {          /* feed up to arg+1 bytes */
            i++;
            if (op % 8 == 3) pause_next = 1;        /* the next body piece pauses */
            size_t n = HTTPD__MIN(arg + 1, size - HTTPD__MIN(i, size));
            size_t cap;
            char *p = httpd__conn_rbuf(c, &cap);
            if (p && cap) {
                n = HTTPD__MIN(n, cap);
                memcpy(p, data + i, n);
                httpd__conn_recv(c, n);
            }
            i += n;
            break;
        }
        case 4:                                     /* the client reads some output */
            i++;
            drain(c, arg * 16 + 1);
            break;
        case 5:                                     /* time passes */
            i++;
            wk.now += arg * 50;
            if (httpd__conn_deadline(c) <= wk.now) httpd__conn_timeout(c);
            break;
        case 6:                                     /* the async work completes */
            if (paused_req) {                       /* or a paused body resumes */
                httpd_request *r = paused_req;
                paused_req = NULL;
                httpd_body_resume(r);
            }
            if (parked) {
                httpd_request *r = parked;
                parked = NULL;
                reply(r, "async", NULL, 0);
            }
            break;
        case 7:                                     /* FIN */
            if (!(c->flags & HTTPD__F_EOF)) httpd__conn_eof(c);
            break;
        }
        HTTPD_ASSERT(c->in.len <= c->in.cap && c->in.pos <= c->in.len);
        HTTPD_ASSERT(c->in.cap <= wk.pool.block);
        /* what is queued, a file body's rest included, is fixed once the conn closes */
        if (closed(c) && closed_at == (size_t)-1) closed_at = outlen + queued(c);
        if (closed_at != (size_t)-1)
            HTTPD_ASSERT(outlen + queued(c) == closed_at);  /* no output after close */
        unqueue_all();
    }
    for (int k = 0; k < 64; k++) {                  /* everything queued, files too */
        drain(c, (size_t)-1);
        if (!(c->flags & HTTPD__F_FILE) || outlen == sizeof out - 1) break;
    }
    unsigned finals = check_output();
    HTTPD_ASSERT(finals <= wk.requests + 1);
    httpd__conn_release(c);
    paused_req = NULL;
    httpd__worker_timers(&wk);                      /* orphans hear why (and are freed) */
    unqueue_all();
    if (parked) {                                   /* orphaned: respond must free it */
        int rc = httpd_respond(parked, 200, NULL, "x", 1);
        HTTPD_ASSERT(rc == HTTPD_ERR_CLOSED || rc == HTTPD_ERR_TIMEOUT);   /* 504 sent */
        parked = NULL;
    }
    c->dnext = wk.free_conns;
    wk.free_conns = c;
    return 0;
}
