/* tests/test_conn.c - the sans-I/O connection core driven in memory with a virtual clock:
   pipelining and ordering, keep-alive, errors and close, bodies and caps, 100-continue,
   asynchronous responses, timeouts, and that an idle connection holds no buffers. */
#define HTTPD_IMPLEMENTATION
#include "../httpd.h"
#include "harness.h"

static httpd_server srv;
static httpd__worker wk;
static httpd_request *parked;          /* the async handler leaves its request here */
static int handled;

static void on_hello(httpd_request *r) { handled++; httpd_respond(r, 200, "text/plain", "Hello", 5); }
static void on_echo(httpd_request *r) { handled++; httpd_respond(r, 200, NULL, r->body.ptr, r->body.len); }
static void on_async(httpd_request *r) { handled++; parked = r; }
static void on_param(httpd_request *r) {
    handled++;
    httpd_str id = httpd_param(r, "id"), q = httpd_query_param(r, "q");
    char buf[256];
    int n = snprintf(buf, sizeof buf, "%.*s|%.*s|%.*s", (int)id.len, id.ptr ? id.ptr : "",
                     (int)q.len, q.ptr ? q.ptr : "", (int)r->path.len, r->path.ptr);
    httpd_respond(r, 200, NULL, buf, (size_t)n);
}
static void on_inject(httpd_request *r) {
    handled++;
    int a = httpd_add_header(r, "X-Ok", "fine");
    int b = httpd_add_header(r, "X-Bad", "a\r\nSet-Cookie: evil=1");
    int c = httpd_add_header(r, "Bad Name", "v");
    char buf[64];
    int n = snprintf(buf, sizeof buf, "%d %d %d", a, b, c);
    httpd_respond(r, 200, NULL, buf, (size_t)n);
}
static int timer_status = 99, timer_rc = 99;
static void slept(httpd_request *r, void *arg, int status) {
    timer_status = status;
    timer_rc = httpd_respond(r, 200, NULL, (const char *)arg, strlen((const char *)arg));
}
static void on_sleep(httpd_request *r) {
    handled++;
    CHECK_EQ(httpd_after(r, 100, slept, (void *)"slept"), 0);
    CHECK_EQ(httpd_after(r, 100, slept, (void *)"twice"), HTTPD_ERR_STATE);
    CHECK_EQ(httpd_respond(r, 200, NULL, "early", 5), HTTPD_ERR_STATE);
}
static void on_stream(httpd_request *r) {
    handled++;
    CHECK_EQ(httpd_begin(r, 200, "text/plain", -1), 0);
    CHECK_EQ(httpd_write(r, "x", (size_t)-1), HTTPD_ERR_TOOLARGE);   /* no size overflow */
    CHECK_EQ(httpd_respond(r, 200, NULL, "x", 1), HTTPD_ERR_STATE);
    CHECK_EQ(httpd_write(r, "hello ", 6), 0);
    CHECK_EQ(httpd_write(r, "world", 5), 0);
    CHECK_EQ(httpd_end(r), 0);
}
static void on_fixed(httpd_request *r) {
    handled++;
    CHECK_EQ(httpd_begin(r, 200, NULL, 10), 0);
    CHECK_EQ(httpd_write(r, "0123", 4), 0);
    CHECK_EQ(httpd_write(r, "4567890", 7), HTTPD_ERR_INVAL);     /* past Content-Length */
    CHECK_EQ(httpd_write(r, "45678", 5), 0);
    CHECK_EQ(httpd_end(r), HTTPD_ERR_INVAL);                     /* one byte short: close */
}
static int writable_status = 99, writable_calls;
static char big_chunk[100000];
static void again(httpd_request *r, void *arg, int status) {
    (void)arg;
    writable_calls++;
    writable_status = status;
    if (status == 0) CHECK_EQ(httpd_write(r, "tail", 4), 0);
    int rc = httpd_end(r);
    CHECK(rc == (status == 0 ? 0 : HTTPD_ERR_CLOSED));
}
static void on_big(httpd_request *r) {
    handled++;
    CHECK_EQ(httpd_begin(r, 200, NULL, -1), 0);
    CHECK_EQ(httpd_write(r, big_chunk, sizeof big_chunk), HTTPD_WRITE_FULL);
    CHECK_EQ(httpd_on_writable(r, again, NULL), 0);
    CHECK_EQ(httpd_end(r), HTTPD_ERR_STATE);                     /* still waiting */
}
/* a streamed body: counted, paused after every piece, resumed by the test */
static size_t up_bytes;
static int up_end = 99, up_pieces, up_respond_rc = 99;
static httpd_request *up_req;
static void up_body(httpd_request *r, void *arg, const void *data, size_t len, int status) {
    (void)arg; (void)data;
    if (status == 0) { up_bytes += len; up_pieces++; httpd_body_pause(r); up_req = r; return; }
    up_end = status;
    char msg[32];
    int n = snprintf(msg, sizeof msg, "got %zu", up_bytes);
    int rc = httpd_respond(r, 200, NULL, msg, (size_t)n);
    up_respond_rc = rc;
    if (status != HTTPD_BODY_END) CHECK_EQ(rc, status);     /* the error, and freed */
}
static void on_upload(httpd_request *r) {
    handled++;
    up_bytes = 0; up_end = 99; up_pieces = 0; up_req = r;
    if (httpd_get_header(r, "X-Refuse").ptr) {       /* refuse without reading */
        httpd_respond(r, 401, NULL, "no", 2);
        return;
    }
    CHECK_EQ(httpd_body_read(r, up_body, NULL), 0);
}
static void on_form(httpd_request *r) {
    handled++;
    httpd_str a = httpd_form_param(r, "a"), b = httpd_form_param(r, "b c"), z = httpd_form_param(r, "z");
    char buf[128];
    int n = snprintf(buf, sizeof buf, "[%.*s][%.*s][%s]", (int)a.len, a.ptr ? a.ptr : "",
                     (int)b.len, b.ptr ? b.ptr : "", z.ptr ? "z" : "-");
    httpd_respond(r, 200, NULL, buf, (size_t)n);
}
/* chunked trailers: after the head only trailers can be added; banned names refused */
static void on_trailer(httpd_request *r) {
    handled++;
    int fixed = httpd_get_header(r, "X-Fixed").ptr != NULL;
    CHECK_EQ(httpd_add_trailer(r, "X-Sum", "1"), HTTPD_ERR_STATE);        /* no body yet */
    CHECK_EQ(httpd_begin(r, 200, NULL, fixed ? 3 : -1), 0);
    CHECK_EQ(httpd_add_header(r, "X-Late", "1"), HTTPD_ERR_STATE);
    CHECK_EQ(httpd_write(r, "abc", 3), 0);
    CHECK_EQ(httpd_add_trailer(r, "Content-Length", "3"), HTTPD_ERR_INVAL);
    CHECK_EQ(httpd_add_trailer(r, "set-cookie", "a=b"), HTTPD_ERR_INVAL);
    CHECK_EQ(httpd_add_trailer(r, "Content-Language", "en"), HTTPD_ERR_INVAL);
    CHECK_EQ(httpd_add_trailer(r, "X-Bad", "a\r\nb"), HTTPD_ERR_INVAL);
    int want = fixed || r->minor_version == 0 ? HTTPD_ERR_STATE : 0;
    if (!strcmp(r->method.ptr, "HEAD") || !strncmp(r->method.ptr, "HEAD", 4)) want = 0;
    CHECK_EQ(httpd_add_trailer(r, "X-Sum", "42"), want);
    CHECK_EQ(httpd_add_trailer(r, "X-Other", "x y"), want);
    CHECK_EQ(httpd_end(r), 0);
}
/* a streamed body paused behind a timer: when the client leaves, the timer (the one
   callback waiting) hears it, the body callback does not */
static int wait_body_errors, wait_timer_status = 99, wait_respond_rc = 99;
static void wait_timer(httpd_request *r, void *arg, int status) {
    (void)arg;
    wait_timer_status = status;
    wait_respond_rc = httpd_respond(r, 200, NULL, "late", 4);
}
static void wait_body(httpd_request *r, void *arg, const void *d, size_t n, int status) {
    (void)arg; (void)d; (void)n;
    if (status < 0) { wait_body_errors++; return; }
    if (status == 0) {
        httpd_body_pause(r);
        CHECK_EQ(httpd_after(r, 60000, wait_timer, NULL), 0);
    }
}
static void on_wait(httpd_request *r) { handled++; CHECK_EQ(httpd_body_read(r, wait_body, NULL), 0); }
/* a file body: the test's file descriptor becomes the server's */
static int file_fd = -1;
static void on_file(httpd_request *r) {
    handled++;
    CHECK_EQ(httpd_send_file(r, 200, "text/plain", file_fd, 2, HTTPD_FILE_REST), 0);
}
/* multipart over a buffered body */
static char mp_seen[256];
static int mp_cb(void *arg, int ev, const httpd_part *p, const void *d, size_t n) {
    (void)arg; (void)d;
    size_t l = strlen(mp_seen);
    if (ev == HTTPD_PART_BEGIN)
        snprintf(mp_seen + l, sizeof mp_seen - l, "[%.*s", (int)p->name.len, p->name.ptr);
    else if (ev == HTTPD_PART_DATA)
        snprintf(mp_seen + l, sizeof mp_seen - l, ":%zu", n);
    else
        snprintf(mp_seen + l, sizeof mp_seen - l, "=%llu]", (unsigned long long)p->size);
    return 0;
}
static void on_multipart(httpd_request *r) {
    handled++;
    mp_seen[0] = 0;
    httpd_multipart *m = httpd_multipart_begin(r, NULL, mp_cb, NULL);
    if (!m) { httpd_respond(r, 415, NULL, "no", 2); return; }
    int rc = httpd_multipart_feed(m, r->body.ptr, r->body.len);
    char buf[300];
    int n = snprintf(buf, sizeof buf, "%d %d %s", rc, httpd_multipart_end(m), mp_seen);
    httpd_respond(r, 200, NULL, buf, (size_t)n);
}
/* a piece handed out stays valid while a timer of the request is pending (the body is
   paused behind it) */
static const char *held_ptr;
static char held_copy[64];
static size_t held_len;
static int held_checked, held_end = 99;
static void held_timer(httpd_request *r, void *arg, int status) {
    (void)r; (void)arg;
    if (status == 0 && !memcmp(held_ptr, held_copy, held_len)) held_checked++;
}
static void held_body(httpd_request *r, void *arg, const void *d, size_t n, int status) {
    (void)arg;
    if (status != 0) {
        held_end = status;
        httpd_respond(r, 200, NULL, "held", 4);
        return;
    }
    held_ptr = (const char *)d;
    held_len = n < sizeof held_copy ? n : sizeof held_copy;
    memcpy(held_copy, d, held_len);
    CHECK_EQ(httpd_after(r, 50, held_timer, NULL), 0);
}
static void on_held(httpd_request *r) { handled++; httpd_body_read(r, held_body, NULL); }
static const httpd_route routes[] = {
    { .method = "POST", .pattern = "/held", .handler = on_held, .stream_body = 1 },
    { .method = "POST", .pattern = "/form", .handler = on_form },
    { .method = "GET", .pattern = "/trailer", .handler = on_trailer },
    { .method = "GET", .pattern = "/file", .handler = on_file },
    { .method = "POST", .pattern = "/wait", .handler = on_wait, .stream_body = 1 },
    { .method = "POST", .pattern = "/mp", .handler = on_multipart },
    { .method = "POST", .pattern = "/upload", .handler = on_upload, .stream_body = 1,
      .max_body_bytes = 1000 },
    { .method = "GET", .pattern = "/stream", .handler = on_stream },
    { .method = "GET", .pattern = "/fixed", .handler = on_fixed },
    { .method = "GET", .pattern = "/big", .handler = on_big },
    { .method = "GET", .pattern = "/sleep", .handler = on_sleep },
    { .method = "GET", .pattern = "/", .handler = on_hello },
    { .method = "POST", .pattern = "/echo", .handler = on_echo, .max_body_bytes = 100 },
    { .method = "GET", .pattern = "/async", .handler = on_async },
    { .method = "GET", .pattern = "/u/:id", .handler = on_param },
    { .method = "GET", .pattern = "/inject", .handler = on_inject },
    { 0 },
};

static void setup(void) {
    httpd_desc d;
    memset(&d, 0, sizeof d);
    d.routes = routes;
    d.workers = 1;
    d.header_timeout_ms = 1000;
    d.keepalive_timeout_ms = 5000;
    d.body_timeout_ms = 2000;
    d.request_timeout_ms = 3000;
    if (httpd__server_init(&srv, &d) || httpd__worker_init(&wk, &srv, 0)) {
        puts("0 passed, 1 failed");
        exit(1);
    }
    wk.now = 1000000;
    httpd__wheel_init(&wk.wheel, wk.now);        /* one virtual clock for both */
}
static httpd__conn *open_conn(void) {
    httpd__conn *c = httpd__conn_new(&wk);
    httpd__conn_init(c, &wk, -1);
    return c;
}
/* Feeds bytes in pieces of `step` (0: as much as fits); returns bytes taken. */
static size_t feed(httpd__conn *c, const char *s, size_t n, size_t step) {
    size_t pos = 0;
    while (pos < n) {
        size_t cap;
        char *p = httpd__conn_rbuf(c, &cap);
        if (!p || !cap) break;
        size_t k = HTTPD__MIN(cap, n - pos);
        if (step) k = HTTPD__MIN(k, step);
        memcpy(p, s + pos, k);
        httpd__conn_recv(c, k);
        pos += k;
    }
    return pos;
}
static size_t drain(httpd__conn *c, char *out, size_t cap) {
    const char *p;
    size_t n = httpd__conn_obuf(c, &p), total = 0;
    while (n) {
        size_t k = HTTPD__MIN(n, cap - total);
        memcpy(out + total, p, k);
        total += k;
        httpd__conn_sent(c, k);
        n = httpd__conn_obuf(c, &p);
        if (total == cap) break;
    }
    out[total < cap ? total : cap - 1] = 0;
    return total;
}
static int closing(const httpd__conn *c) {
    return c->state == HTTPD__S_CLOSING || c->state == HTTPD__S_ABORT;
}
static void done_conn(httpd__conn *c) {
    httpd__conn_release(c);
    for (httpd__conn *q = wk.queue; q; q = q->next)    /* in memory nothing drives them */
        q->flags &= (uint16_t)~HTTPD__F_QUEUED;
    wk.queue = NULL;
    c->dnext = wk.free_conns;
    wk.free_conns = c;
}
static int count(const char *hay, const char *needle) {
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++) n++;
    return n;
}
static char out[1 << 20], out2[1 << 20];

static void test_get_and_idle_buffers(void) {
    httpd__conn *c = open_conn();
    const char *req = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    CHECK_EQ(feed(c, req, strlen(req), 0), strlen(req));
    drain(c, out, sizeof out);
    CHECK(!strncmp(out, "HTTP/1.1 200 OK\r\nDate: ", 23));
    CHECK(strstr(out, "\r\nContent-Length: 5\r\n\r\nHello") != NULL);
    CHECK(strstr(out, "Connection:") == NULL);
    CHECK_EQ(c->state, HTTPD__S_HEAD);
    CHECK(c->in.data == NULL && c->out.data == NULL && c->req == NULL);  /* idle: no buffers */
    done_conn(c);
}
static const char *pipeline =
    "GET / HTTP/1.1\r\nHost: a\r\n\r\n"
    "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nabcde"
    "HEAD / HTTP/1.1\r\nHost: a\r\n\r\n"
    "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nxyz\r\n2;e=1\r\n12\r\n0\r\nT: v\r\n\r\n"
    "\r\nGET /u/a%2Fb?q=1+2%21 HTTP/1.1\r\nHost: a\r\n\r\n"
    "GET /nope HTTP/1.1\r\nHost: a\r\n\r\n";
static void test_pipeline_in_order(void) {
    httpd__conn *c = open_conn();
    size_t n = strlen(pipeline);
    CHECK_EQ(feed(c, pipeline, n, 0), n);
    size_t len = drain(c, out, sizeof out);
    CHECK_EQ(count(out, "HTTP/1.1 "), 6);
    const char *a = strstr(out, "Hello"), *b = strstr(out, "abcde"), *d = strstr(out, "xyz12"),
               *e = strstr(out, "a/b|1 2!|/u/a%2Fb"), *f = strstr(out, "404 Not Found\r\n");
    CHECK(a && b && d && e && f && a < b && b < d && d < e && e < f);
    CHECK_EQ(count(out, "Hello"), 1);               /* HEAD: headers only */
    CHECK_EQ(count(out, "Content-Length: 5\r\n"), 4);    /* Hello, abcde, HEAD, xyz12 */
    CHECK_EQ(c->state, HTTPD__S_HEAD);
    done_conn(c);
    /* the same bytes split at every size give the same output */
    for (size_t step = 1; step < 80; step++) {
        c = open_conn();
        CHECK_EQ(feed(c, pipeline, n, step), n);
        size_t l2 = drain(c, out2, sizeof out2);
        CHECK(l2 == len && !memcmp(out, out2, len));
        done_conn(c);
        if (th_bad) { fprintf(stderr, "  step %zu\n", step); break; }
    }
}
static void test_error_stops_pipeline(void) {
    httpd__conn *c = open_conn();
    const char *s = "GET / HTTP/1.1\r\nHost: a\r\n\r\n"
                    "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"
                    "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    feed(c, s, strlen(s), 0);
    drain(c, out, sizeof out);
    CHECK_EQ(count(out, "HTTP/1.1 "), 2);
    CHECK(strstr(out, "HTTP/1.1 400 Bad Request\r\n") != NULL);
    CHECK(strstr(out, "Connection: close\r\n") != NULL);
    CHECK(closing(c));
    CHECK(c->flags & HTTPD__F_LINGER);
    done_conn(c);
}
static void test_caps(void) {
    httpd__conn *c = open_conn();
    const char *s = "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 101\r\n\r\n";
    feed(c, s, strlen(s), 0);
    drain(c, out, sizeof out);
    CHECK(!strncmp(out, "HTTP/1.1 413 ", 13));
    CHECK(closing(c));
    done_conn(c);
    c = open_conn();                                 /* exactly the cap: fine */
    char big[400];
    int n = snprintf(big, sizeof big, "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n");
    memset(big + n, 'z', 100);
    feed(c, big, (size_t)n + 100, 7);
    drain(c, out, sizeof out);
    CHECK(!strncmp(out, "HTTP/1.1 200 ", 13));
    done_conn(c);
    c = open_conn();                                 /* chunked: 413 when it crosses */
    s = "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
        "32\r\n0123456789012345678901234567890123456789012345678901234567890\r\n"
        "33\r\n";
    feed(c, s, strlen(s), 0);
    drain(c, out, sizeof out);
    CHECK(strstr(out, "HTTP/1.1 400 ") || strstr(out, "HTTP/1.1 413 "));
    done_conn(c);
    c = open_conn();
    char ch[600];
    n = snprintf(ch, sizeof ch, "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n");
    for (int i = 0; i < 3; i++) { n += snprintf(ch + n, sizeof ch - (size_t)n, "28\r\n"); memset(ch + n, 'q', 40); n += 40; n += snprintf(ch + n, sizeof ch - (size_t)n, "\r\n"); }
    feed(c, ch, (size_t)n, 0);
    drain(c, out, sizeof out);
    CHECK(!strncmp(out, "HTTP/1.1 413 ", 13));      /* 120 > 100 */
    CHECK(closing(c));
    done_conn(c);
}
static void test_expect_continue(void) {
    httpd__conn *c = open_conn();
    const char *s = "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n";
    feed(c, s, strlen(s), 0);
    drain(c, out, sizeof out);
    CHECK(!strcmp(out, "HTTP/1.1 100 Continue\r\n\r\n"));
    feed(c, "abc", 3, 0);
    drain(c, out, sizeof out);
    CHECK(!strncmp(out, "HTTP/1.1 200 ", 13) && strstr(out, "\r\n\r\nabc"));
    done_conn(c);
    c = open_conn();
    s = "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 1000\r\nExpect: 100-continue\r\n\r\n";
    feed(c, s, strlen(s), 0);
    drain(c, out, sizeof out);
    CHECK(!strncmp(out, "HTTP/1.1 413 ", 13));
    CHECK(strstr(out, "100 Continue") == NULL);
    done_conn(c);
}
static void test_http10(void) {
    httpd__conn *c = open_conn();
    feed(c, "GET / HTTP/1.0\r\n\r\n", 18, 0);
    drain(c, out, sizeof out);
    CHECK(strstr(out, "Connection: close\r\n") != NULL);
    CHECK(closing(c));
    done_conn(c);
    c = open_conn();
    const char *s = "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";
    feed(c, s, strlen(s), 0);
    drain(c, out, sizeof out);
    CHECK(strstr(out, "Connection: keep-alive\r\n") != NULL);
    CHECK_EQ(c->state, HTTPD__S_HEAD);
    done_conn(c);
    c = open_conn();
    s = "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n";
    feed(c, s, strlen(s), 0);
    drain(c, out, sizeof out);
    CHECK_EQ(count(out, "HTTP/1.1 "), 1);
    CHECK(closing(c) && (c->flags & HTTPD__F_LINGER));
    done_conn(c);
}
static void test_async_keeps_order(void) {
    httpd__conn *c = open_conn();
    const char *s = "GET /async HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n";
    parked = NULL;
    feed(c, s, strlen(s), 0);
    CHECK(parked != NULL);
    CHECK_EQ(drain(c, out, sizeof out), 0);          /* the second waits for the first */
    CHECK_EQ(httpd_respond(parked, 202, "text/plain", "later", 5), 0);
    CHECK_EQ(httpd_respond(parked, 202, "text/plain", "again", 5), HTTPD_ERR_INVAL);
    drain(c, out, sizeof out);
    const char *a = strstr(out, "202 Accepted"), *b = strstr(out, "Hello");
    CHECK(a && b && a < b);
    CHECK(c->flags & HTTPD__F_QUEUED);               /* the worker will flush it */
    done_conn(c);
}
static void test_orphaned_request(void) {
    httpd__conn *c = open_conn();
    const char *s = "GET /async HTTP/1.1\r\nHost: a\r\n\r\n";
    parked = NULL;
    feed(c, s, strlen(s), 0);
    CHECK(parked != NULL);
    done_conn(c);                                    /* the client went away */
    CHECK_EQ(httpd_respond(parked, 200, NULL, "x", 1), HTTPD_ERR_CLOSED);  /* and frees it */
}
static void test_timeouts(void) {
    httpd__conn *c = open_conn();
    feed(c, "GET / HT", 8, 0);
    CHECK_EQ(httpd__conn_deadline(c), wk.now + 1000);      /* header timeout */
    wk.now += 999;
    feed(c, "T", 1, 0);                                    /* trickling does not extend it */
    CHECK_EQ(httpd__conn_deadline(c), wk.now + 1);
    wk.now += 1;
    httpd__conn_timeout(c);
    drain(c, out, sizeof out);
    CHECK(!strncmp(out, "HTTP/1.1 408 ", 13));
    CHECK(closing(c));
    done_conn(c);
    c = open_conn();
    feed(c, "GET / HTTP/1.1\r\nHost: a\r\n\r\n", 27, 0);
    drain(c, out, sizeof out);
    CHECK_EQ(httpd__conn_deadline(c), wk.now + 5000);      /* keep-alive idle */
    wk.now += 5000;
    httpd__conn_timeout(c);
    CHECK(closing(c));
    CHECK_EQ(drain(c, out, sizeof out), 0);                /* silently */
    done_conn(c);
    c = open_conn();
    const char *s = "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nab";
    feed(c, s, strlen(s), 0);
    CHECK_EQ(httpd__conn_deadline(c), wk.now + 2000);      /* body progress */
    wk.now += 2000;
    httpd__conn_timeout(c);
    drain(c, out, sizeof out);
    CHECK(!strncmp(out, "HTTP/1.1 408 ", 13));
    done_conn(c);
}
static void test_router_answers(void) {
    httpd__conn *c = open_conn();
    const char *s = "DELETE / HTTP/1.1\r\nHost: a\r\n\r\n"
                    "OPTIONS /echo HTTP/1.1\r\nHost: a\r\n\r\n"
                    "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n";
    feed(c, s, strlen(s), 0);
    drain(c, out, sizeof out);
    CHECK(strstr(out, "HTTP/1.1 405 Method Not Allowed\r\n") != NULL);
    CHECK(strstr(out, "Allow: GET, HEAD, OPTIONS\r\n") != NULL);
    CHECK(strstr(out, "Allow: POST, OPTIONS\r\n") != NULL);
    CHECK(strstr(out, "Allow: GET, HEAD, POST, OPTIONS\r\n") != NULL);
    CHECK_EQ(count(out, "HTTP/1.1 200 OK"), 2);
    CHECK_EQ(c->state, HTTPD__S_HEAD);
    done_conn(c);
    c = open_conn();
    s = "FOO / HTTP/1.1\r\nHost: a\r\n\r\n";
    feed(c, s, strlen(s), 0);
    drain(c, out, sizeof out);
    CHECK(!strncmp(out, "HTTP/1.1 501 ", 13));
    done_conn(c);
    c = open_conn();                                 /* 404 with a body: close after */
    s = "POST /nope HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabcGET / HTTP/1.1\r\nHost: a\r\n\r\n";
    feed(c, s, strlen(s), 0);
    drain(c, out, sizeof out);
    CHECK_EQ(count(out, "HTTP/1.1 "), 1);
    CHECK(strstr(out, "404") && strstr(out, "Connection: close"));
    CHECK(closing(c));
    done_conn(c);
}
static void test_header_injection(void) {
    httpd__conn *c = open_conn();
    feed(c, "GET /inject HTTP/1.1\r\nHost: a\r\n\r\n", 33, 0);
    drain(c, out, sizeof out);
    CHECK(strstr(out, "X-Ok: fine\r\n") != NULL);
    CHECK(strstr(out, "evil") == NULL);
    CHECK(strstr(out, "\r\n\r\n0 -2 -2") != NULL);
    done_conn(c);
}
static void test_eof_handling(void) {
    httpd__conn *c = open_conn();                    /* requests then FIN: all answered */
    const char *s = "GET / HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n";
    feed(c, s, strlen(s), 0);
    httpd__conn_eof(c);
    drain(c, out, sizeof out);
    CHECK_EQ(count(out, "HTTP/1.1 200"), 2);
    CHECK(closing(c));
    done_conn(c);
    c = open_conn();                                 /* FIN mid-body: no response */
    s = "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nab";
    feed(c, s, strlen(s), 0);
    httpd__conn_eof(c);
    CHECK_EQ(drain(c, out, sizeof out), 0);
    CHECK(closing(c));
    CHECK(c->req == NULL);
    done_conn(c);
}
static void test_request_deadline_504(void) {
    httpd__conn *c = open_conn();
    const char *s = "GET /async HTTP/1.1\r\nHost: a\r\n\r\n";
    parked = NULL;
    feed(c, s, strlen(s), 0);
    CHECK(parked != NULL);
    CHECK_EQ(httpd__conn_deadline(c), wk.now + 3000);
    wk.now += 3000;
    httpd__conn_timeout(c);
    drain(c, out, sizeof out);
    CHECK(!strncmp(out, "HTTP/1.1 504 ", 13) && strstr(out, "Connection: close"));
    CHECK(closing(c));
    CHECK_EQ(count(out, "HTTP/1.1 "), 1);
    CHECK_EQ(httpd_respond(parked, 200, NULL, "late", 4), HTTPD_ERR_TIMEOUT);  /* freed */
    CHECK_EQ(drain(c, out, sizeof out), 0);          /* no second response */
    done_conn(c);
    CHECK_EQ(wk.held, 0);
}
static void test_after_timer(void) {
    httpd__conn *c = open_conn();
    const char *s = "GET /sleep HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n";
    feed(c, s, strlen(s), 0);
    CHECK_EQ(drain(c, out, sizeof out), 0);
    wk.now += 99;
    httpd__worker_timers(&wk);
    CHECK_EQ(drain(c, out, sizeof out), 0);
    wk.now += 1;
    timer_status = timer_rc = 99;
    httpd__worker_timers(&wk);
    CHECK_EQ(timer_status, 0);
    CHECK_EQ(timer_rc, 0);
    drain(c, out, sizeof out);
    const char *a = strstr(out, "slept"), *b = strstr(out, "Hello");
    CHECK(a && b && a < b);
    done_conn(c);
    c = open_conn();                                 /* the client leaves first */
    feed(c, "GET /sleep HTTP/1.1\r\nHost: a\r\n\r\n", 33, 0);
    done_conn(c);
    timer_status = timer_rc = 99;
    httpd__worker_timers(&wk);                       /* fires at once, with the reason */
    CHECK_EQ(timer_status, HTTPD_ERR_CLOSED);
    CHECK_EQ(timer_rc, HTTPD_ERR_CLOSED);            /* and respond freed the request */
    CHECK_EQ(wk.held, 0);
}
static void test_slow_drip_body(void) {
    httpd__conn *c = open_conn();
    const char *s = "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n";
    feed(c, s, strlen(s), 0);
    CHECK_EQ(httpd__conn_deadline(c), wk.now + 2000);      /* body timeout first */
    for (int i = 0; i < 4; i++) {                          /* a byte per 1.5 s */
        wk.now += 1500;
        feed(c, "z", 1, 0);
    }
    CHECK_EQ(c->state, HTTPD__S_BODY);
    CHECK(httpd__conn_deadline(c) <= wk.now);              /* the 5 s window is over */
    httpd__conn_timeout(c);                                /* 4 bytes < 240 B/s * 5 s */
    drain(c, out, sizeof out);
    CHECK(!strncmp(out, "HTTP/1.1 408 ", 13));
    done_conn(c);
}
/* review findings, kept as regressions */
static void test_orphan_strings_stay_valid(void) {
    httpd__conn *a = open_conn();
    const char *s = "GET /async HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer AAAA\r\n\r\n";
    parked = NULL;
    feed(a, s, strlen(s), 0);
    CHECK(parked != NULL);
    done_conn(a);                                    /* A leaves; B reuses the pool block */
    httpd__conn *b = open_conn();
    const char *t = "PUT /zzzzz HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer BBBB\r\n\r\n";
    feed(b, t, strlen(t), 0);
    httpd_str auth = httpd_get_header(parked, "Authorization");
    CHECK(httpd_str_eq(auth, "Bearer AAAA"));
    CHECK(httpd_str_eq(parked->method, "GET") && httpd_str_eq(parked->path, "/async"));
    CHECK_EQ(httpd_respond(parked, 200, NULL, "x", 1), HTTPD_ERR_CLOSED);
    done_conn(b);
}
/* A connection that queued itself again during its own drive and then closed is on the
   run queue and on the dead list at once: recycling must take it off the queue first, or
   the next accept zeroes a slot the queue still reaches (lost or cyclic queue). */
static void test_close_keeps_run_queue(void) {
    httpd__conn *x = open_conn(), *y = open_conn(), *z = open_conn();
    wk.queue = NULL;
    httpd__conn_queue(x);
    httpd__conn_queue(y);
    httpd__conn_queue(z);
    y->state = HTTPD__S_ABORT;
    httpd__conn_close(y);                            /* fd -1: no system call */
    int seen = 0;
    for (httpd__conn *q = wk.queue; q; q = q->next) seen += q == x;
    CHECK_EQ(seen, 1);
    httpd__worker_recycle(&wk);
    int nq = 0, ny = 0;
    for (httpd__conn *q = wk.queue; q; q = q->next) { nq++; ny += q == y; }
    CHECK_EQ(nq, 2);                                 /* x and z stay queued, y is off */
    CHECK_EQ(ny, 0);
    CHECK(!(y->flags & HTTPD__F_QUEUED));
    CHECK(wk.free_conns == y && wk.dead == NULL);
    httpd__conn *again = httpd__conn_new(&wk);       /* the slot is reused ...         */
    CHECK(again == y);
    httpd__conn_init(again, &wk, -1);                /* ... and the queue is untouched  */
    nq = 0;
    for (httpd__conn *q = wk.queue; q; q = q->next) nq++;
    CHECK_EQ(nq, 2);
    wk.nconns = 0;
    done_conn(again);
    done_conn(z);
    done_conn(x);
}
static void test_pipelined_head_at_buffer_end(void) {
    httpd__conn *c = open_conn();
    static char buf[40000];
    uint32_t block = wk.pool.block;
    size_t n = 0;
    n += (size_t)sprintf(buf + n, "GET / HTTP/1.1\r\nHost: a\r\nX: ");
    memset(buf + n, 'q', 9000); n += 9000;
    n += (size_t)sprintf(buf + n, "\r\n\r\n");
    n += (size_t)sprintf(buf + n, "GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    const char *tail = "\r\nTransfer-Encoding: chunked\r\n\r\n";
    size_t start = n;
    n += (size_t)sprintf(buf + n, "POST /echo HTTP/1.1\r\nHost: a\r\nX: ");
    size_t pad = block - n - strlen(tail);           /* the head ends at the block's end */
    memset(buf + n, 'p', pad); n += pad;
    n += (size_t)sprintf(buf + n, "%s", tail);
    CHECK_EQ(n, block);
    CHECK(n - start < 16384);
    n += (size_t)sprintf(buf + n, "5\r\nhello\r\n0\r\n\r\n");
    CHECK_EQ(feed(c, buf, n, 0), n);
    drain(c, out, sizeof out);
    CHECK_EQ(count(out, "HTTP/1.1 200"), 3);
    CHECK(strstr(out, "\r\n\r\nhello") != NULL);
    done_conn(c);
}
static void test_streaming_chunked(void) {
    httpd__conn *c = open_conn();
    const char *s = "GET /stream HTTP/1.1\r\nHost: a\r\n\r\nHEAD /stream HTTP/1.1\r\nHost: a\r\n\r\n"
                    "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    feed(c, s, strlen(s), 0);
    drain(c, out, sizeof out);
    CHECK(strstr(out, "Transfer-Encoding: chunked\r\n") != NULL);
    CHECK(strstr(out, "\r\n\r\n6\r\nhello \r\n5\r\nworld\r\n0\r\n\r\nHTTP/1.1 200 OK") != NULL);
    CHECK_EQ(count(out, "hello"), 1);                 /* HEAD: headers only */
    CHECK_EQ(count(out, "HTTP/1.1 200"), 3);
    CHECK(strstr(out, "Hello") != NULL);              /* and the pipeline went on */
    CHECK_EQ(c->state, HTTPD__S_HEAD);
    done_conn(c);
    c = open_conn();                                  /* HTTP/1.0: until close */
    s = "GET /stream HTTP/1.0\r\n\r\n";
    feed(c, s, strlen(s), 0);
    drain(c, out, sizeof out);
    CHECK(strstr(out, "Transfer-Encoding") == NULL && strstr(out, "Content-Length") == NULL);
    CHECK(strstr(out, "Connection: close\r\n\r\nhello world") != NULL);
    CHECK(closing(c));
    done_conn(c);
}
static void test_streaming_fixed_length(void) {
    httpd__conn *c = open_conn();
    const char *s = "GET /fixed HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n";
    feed(c, s, strlen(s), 0);
    drain(c, out, sizeof out);
    CHECK(strstr(out, "Content-Length: 10\r\n") != NULL);
    CHECK(strstr(out, "\r\n\r\n012345678") != NULL);
    CHECK_EQ(count(out, "HTTP/1.1 "), 1);             /* nothing after a short body */
    CHECK(closing(c));
    done_conn(c);
}
static void test_streaming_backpressure(void) {
    httpd__conn *c = open_conn();
    const char *s = "GET /big HTTP/1.1\r\nHost: a\r\n\r\n";
    writable_calls = 0;
    feed(c, s, strlen(s), 0);
    CHECK_EQ(writable_calls, 0);
    size_t got = drain(c, out, 60000);                /* a slow reader: part of it */
    CHECK_EQ(writable_calls, 0);                      /* still above the low-water mark */
    got += drain(c, out + got, 30000);
    CHECK_EQ(writable_calls, 1);                      /* below it: called once */
    CHECK_EQ(writable_status, 0);
    got += drain(c, out + got, sizeof out - got);
    CHECK(got > sizeof big_chunk);
    CHECK(memmem(out, got, "4\r\ntail\r\n0\r\n\r\n", 14) == out + got - 14);
    CHECK_EQ(c->state, HTTPD__S_HEAD);
    done_conn(c);
    c = open_conn();                                  /* the client leaves while we wait */
    writable_calls = 0;
    feed(c, s, strlen(s), 0);
    done_conn(c);
    httpd__worker_timers(&wk);
    CHECK_EQ(writable_calls, 1);
    CHECK_EQ(writable_status, HTTPD_ERR_CLOSED);      /* and httpd_end freed it */
    CHECK_EQ(wk.held, 0);
}
static void test_streamed_body_pause_resume(void) {
    httpd__conn *c = open_conn();
    const char *s = "POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 300\r\n"
                    "Expect: 100-continue\r\n\r\n";
    feed(c, s, strlen(s), 0);
    drain(c, out, sizeof out);
    CHECK(!strcmp(out, "HTTP/1.1 100 Continue\r\n\r\n"));   /* the handler asked for it */
    static char body[300];
    memset(body, 'u', sizeof body);
    CHECK_EQ(feed(c, body, 100, 0), 100);
    CHECK_EQ(up_bytes, 100);
    size_t cap;
    CHECK(httpd__conn_rbuf(c, &cap) == NULL);          /* paused: the socket is not read */
    CHECK(httpd__conn_deadline(c) >= wk.now + 3000);   /* no body timeout while paused */
    wk.now += 2500;
    CHECK(httpd__conn_deadline(c) > wk.now);
    httpd_body_resume(up_req);
    CHECK(httpd__conn_rbuf(c, &cap) != NULL);
    CHECK(cap <= 200);                                  /* never past the body's end */
    for (int i = 0; i < 4; i++) {                       /* 200 more, paused after each piece */
        feed(c, body + 100 + 50 * i, 50, 0);
        httpd_body_resume(up_req);
    }
    CHECK_EQ(up_bytes, 300);
    CHECK_EQ(up_end, HTTPD_BODY_END);
    feed(c, "GET / HTTP/1.1\r\nHost: a\r\n\r\n", 27, 0);
    drain(c, out, sizeof out);
    CHECK(strstr(out, "got 300") && strstr(out, "Hello"));
    CHECK_EQ(c->state, HTTPD__S_HEAD);
    done_conn(c);
}
static void test_piece_valid_while_timer_pending(void) {
    httpd__conn *c = open_conn();
    const char *s = "POST /held HTTP/1.1\r\nHost: a\r\nContent-Length: 20\r\n\r\n0123456789";
    held_checked = 0; held_end = 99;
    feed(c, s, strlen(s), 0);
    CHECK_EQ(held_len, 10);
    size_t cap;
    CHECK(httpd__conn_rbuf(c, &cap) == NULL);          /* paused behind the timer */
    CHECK(httpd__conn_deadline(c) > wk.now + 1000);    /* no rate or body clock meanwhile */
    wk.now += 50;
    httpd__worker_timers(&wk);                         /* the piece is still there */
    CHECK_EQ(held_checked, 1);
    CHECK((c->flags & HTTPD__F_RESUME) && (c->flags & HTTPD__F_QUEUED));
    c->flags &= (uint16_t)~(HTTPD__F_RESUME | HTTPD__F_QUEUED);   /* what a drive does */
    wk.queue = NULL;
    httpd__conn_process(c);
    CHECK(httpd__conn_rbuf(c, &cap) != NULL);          /* reading again */
    feed(c, "abcdefghij", 10, 0);
    CHECK_EQ(held_checked, 1);
    wk.now += 50;
    httpd__worker_timers(&wk);
    CHECK_EQ(held_checked, 2);
    c->flags &= (uint16_t)~(HTTPD__F_RESUME | HTTPD__F_QUEUED);
    wk.queue = NULL;
    httpd__conn_process(c);
    CHECK_EQ(held_end, HTTPD_BODY_END);
    drain(c, out, sizeof out);
    CHECK(strstr(out, "held") != NULL);
    done_conn(c);
}
static void test_streamed_body_refused_and_capped(void) {
    httpd__conn *c = open_conn();                       /* refused: no 100, no reading */
    const char *s = "POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 300\r\n"
                    "Expect: 100-continue\r\nX-Refuse: 1\r\n\r\n";
    feed(c, s, strlen(s), 0);
    drain(c, out, sizeof out);
    CHECK(!strncmp(out, "HTTP/1.1 401 ", 13) && strstr(out, "Connection: close"));
    CHECK(strstr(out, "100 Continue") == NULL);
    CHECK(closing(c) && (c->flags & HTTPD__F_LINGER));
    done_conn(c);
    c = open_conn();                                    /* chunked over the cap: 413 */
    s = "POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
    feed(c, s, strlen(s), 0);
    static char ch[2000];
    int n = snprintf(ch, sizeof ch, "%x\r\n", 1200);
    memset(ch + n, 'v', 1200);
    feed(c, ch, (size_t)n + 1200, 0);
    drain(c, out, sizeof out);
    CHECK(!strncmp(out, "HTTP/1.1 413 ", 13));
    CHECK_EQ(up_end, HTTPD_ERR_TOOLARGE);               /* the handler heard why */
    CHECK_EQ(up_respond_rc, HTTPD_ERR_TOOLARGE);        /* and httpd_respond says so */
    CHECK(closing(c));
    done_conn(c);
    c = open_conn();                                    /* found by fuzz_conn: the connection */
    s = "POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 300\r\n\r\n";  /* is torn down */
    feed(c, s, strlen(s), 0);                           /* while the body is awaited: the */
    up_end = 99;                                        /* body callback must still hear it */
    done_conn(c);
    httpd__worker_timers(&wk);
    CHECK_EQ(up_end, HTTPD_ERR_CLOSED);
    c = open_conn();                                    /* client gone mid-body */
    s = "POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 300\r\n\r\nabc";
    feed(c, s, strlen(s), 0);
    httpd_body_resume(up_req);
    httpd__conn_eof(c);
    CHECK_EQ(up_end, HTTPD_ERR_CLOSED);
    CHECK(closing(c));
    done_conn(c);
    CHECK_EQ(wk.held, 0);
}
static void test_urlencoded_form(void) {
    httpd__conn *c = open_conn();
    const char *s = "POST /form HTTP/1.1\r\nHost: a\r\nContent-Type: application/x-www-form-urlencoded; charset=utf-8\r\n"
                    "Content-Length: 25\r\n\r\na=1%2B2+3&b+c=%C3%A9&z&x=";
    feed(c, s, strlen(s), 0);
    drain(c, out, sizeof out);
    CHECK(strstr(out, "\r\n\r\n[1+2 3][\xc3\xa9][z]") != NULL);
    done_conn(c);
    c = open_conn();                                      /* another type: no fields */
    s = "POST /form HTTP/1.1\r\nHost: a\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\na=1";
    feed(c, s, strlen(s), 0);
    drain(c, out, sizeof out);
    CHECK(strstr(out, "\r\n\r\n[][][-]") != NULL);
    done_conn(c);
}
static void test_trailers(void) {
    httpd__conn *c = open_conn();
    const char *s = "GET /trailer HTTP/1.1\r\nHost: a\r\n\r\n";
    feed(c, s, strlen(s), 0);
    drain(c, out, sizeof out);
    CHECK(strstr(out, "X-Late") == NULL);
    CHECK(strstr(out, "\r\n\r\n3\r\nabc\r\n0\r\nX-Sum: 42\r\nX-Other: x y\r\n\r\n") != NULL);
    CHECK(count(out, "HTTP/1.1") == 1 && c->state == HTTPD__S_HEAD);
    s = "GET /trailer HTTP/1.1\r\nHost: a\r\nX-Fixed: 1\r\n\r\n";   /* fixed length */
    feed(c, s, strlen(s), 0);
    drain(c, out, sizeof out);
    CHECK(strstr(out, "Content-Length: 3\r\n") && strstr(out, "\r\n\r\nabc") && !strstr(out, "X-Sum"));
    s = "HEAD /trailer HTTP/1.1\r\nHost: a\r\n\r\n";                /* HEAD: dropped */
    feed(c, s, strlen(s), 0);
    drain(c, out, sizeof out);
    CHECK(strstr(out, "Transfer-Encoding: chunked\r\n") && !strstr(out, "abc") && !strstr(out, "X-Sum"));
    CHECK(c->state == HTTPD__S_HEAD);
    done_conn(c);
    c = open_conn();                                   /* HTTP/1.0: close-delimited */
    s = "GET /trailer HTTP/1.0\r\n\r\n";
    feed(c, s, strlen(s), 0);
    drain(c, out, sizeof out);
    CHECK(strstr(out, "\r\n\r\nabc") && !strstr(out, "X-Sum") && closing(c));
    done_conn(c);
}
static int fd_open(int fd) { return fcntl(fd, F_GETFD) >= 0; }
static int make_file(const char *text) {
    char name[] = "/tmp/httpd-test-XXXXXX";
    int fd = mkstemp(name);
    CHECK(fd >= 0);
    unlink(name);
    CHECK_EQ(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    return fd;
}
/* Drains the connection's output, reading the file body the way the worker's fallback
   does (pread into the output buffer), as the worker would with a socket. */
static size_t drain_files(httpd__conn *c, char *o, size_t cap) {
    size_t total = 0;
    for (int i = 0; i < 1000; i++) {
        total += drain(c, o + total, cap - total);
        if (!(c->flags & HTTPD__F_FILE) || c->state == HTTPD__S_ABORT) break;
        c->flags |= HTTPD__F_FILEREAD;                 /* no socket: no sendfile */
        httpd__conn_pump_file(c);
    }
    return total;
}
static void test_file_body(void) {
    httpd__conn *c = open_conn();
    file_fd = make_file("..file contents");
    int fd = file_fd, before = handled;
    const char *s = "GET /file HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n";
    feed(c, s, strlen(s), 0);
    CHECK_EQ(handled, before + 1);                     /* the next waits for the file */
    CHECK(c->flags & HTTPD__F_FILE);
    CHECK(httpd__conn_deadline(c) == UINT64_MAX);      /* no keep-alive clock meanwhile */
    drain_files(c, out, sizeof out);
    CHECK(strstr(out, "Content-Type: text/plain\r\nContent-Length: 13\r\n\r\nfile contents"
                      "HTTP/1.1 200 OK\r\n") != NULL);
    CHECK(strstr(out, "\r\n\r\nHello") != NULL);
    CHECK(!fd_open(fd) && !(c->flags & HTTPD__F_FILE) && c->state == HTTPD__S_HEAD);
    /* HEAD: the head only, the file closed at once */
    file_fd = fd = make_file("..xyz");
    s = "HEAD /file HTTP/1.1\r\nHost: a\r\n\r\n";
    feed(c, s, strlen(s), 0);
    CHECK(!fd_open(fd) && !(c->flags & HTTPD__F_FILE));
    drain(c, out, sizeof out);
    CHECK(strstr(out, "Content-Length: 3\r\n\r\n") && !strstr(out, "xyz"));
    /* a connection that goes away mid-file closes it */
    file_fd = fd = make_file("..0123456789");
    s = "GET /file HTTP/1.1\r\nHost: a\r\n\r\n";
    feed(c, s, strlen(s), 0);
    CHECK(fd_open(fd) && (c->flags & HTTPD__F_FILE));
    done_conn(c);
    CHECK(!fd_open(fd));
    /* a file that shrank: the connection is aborted, not left waiting */
    c = open_conn();
    file_fd = fd = make_file("..0123456789");
    feed(c, s, strlen(s), 0);
    CHECK_EQ(ftruncate(fd, 5), 0);
    drain_files(c, out, sizeof out);
    CHECK_EQ(c->state, HTTPD__S_ABORT);
    done_conn(c);
    CHECK(!fd_open(fd));
    /* bad arguments: the descriptor is closed all the same */
    CHECK_EQ(httpd_send_file(NULL, 200, NULL, fd = make_file("x"), 0, 1), HTTPD_ERR_INVAL);
    CHECK(!fd_open(fd));
}
static void test_body_error_heard_once(void) {
    httpd__conn *c = open_conn();
    const char *s = "POST /wait HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n0123456789";
    feed(c, s, strlen(s), 0);
    CHECK(c->req && c->req->utimer.pprev);
    httpd__conn_eof(c);                               /* the client leaves mid-body */
    httpd__worker_timers(&wk);                        /* the timer is brought forward */
    CHECK_EQ(wait_body_errors, 0);
    CHECK_EQ(wait_timer_status, HTTPD_ERR_CLOSED);
    CHECK_EQ(wait_respond_rc, HTTPD_ERR_CLOSED);      /* and that respond freed it */
    CHECK_EQ(wk.held, 0);
    done_conn(c);
}
static void test_multipart_request(void) {
    httpd__conn *c = open_conn();
    const char *body = "--b b\r\nContent-Disposition: form-data; name=a\r\n\r\nxy\r\n"
                       "--b b\r\nContent-Disposition: form-data; name=\"c\"\r\n\r\n\r\n--b b--";
    char req[512];
    snprintf(req, sizeof req, "POST /mp HTTP/1.1\r\nHost: a\r\nContent-Type: multipart/form-data;"
             " boundary=\"b b\"\r\nContent-Length: %zu\r\n\r\n%s", strlen(body), body);
    const char *s = req;
    feed(c, s, strlen(s), 0);
    drain(c, out, sizeof out);
    CHECK(strstr(out, "\r\n\r\n1 0 [a:2=2][c=0]") != NULL);
    httpd_multipart m;                                 /* a NUL is no boundary byte */
    char hb[64];
    httpd_str nul = { "multipart/form-data; boundary=\"a\0b\"", 36 };
    CHECK_EQ(httpd_multipart_init(&m, nul, NULL, hb, sizeof hb, mp_cb, NULL), HTTPD_ERR_INVAL);
    s = "POST /mp HTTP/1.1\r\nHost: a\r\nContent-Type: text/plain\r\nContent-Length: 1\r\n\r\nx";
    feed(c, s, strlen(s), 0);
    drain(c, out, sizeof out);
    CHECK(strstr(out, "HTTP/1.1 415") != NULL);
    done_conn(c);
}
int main(void) {
    memset(big_chunk, 'b', sizeof big_chunk);
    setup();
    RUN(test_get_and_idle_buffers);
    RUN(test_pipeline_in_order);
    RUN(test_error_stops_pipeline);
    RUN(test_caps);
    RUN(test_expect_continue);
    RUN(test_http10);
    RUN(test_async_keeps_order);
    RUN(test_orphaned_request);
    RUN(test_timeouts);
    RUN(test_router_answers);
    RUN(test_header_injection);
    RUN(test_eof_handling);
    RUN(test_request_deadline_504);
    RUN(test_after_timer);
    RUN(test_slow_drip_body);
    RUN(test_orphan_strings_stay_valid);
    RUN(test_close_keeps_run_queue);
    RUN(test_pipelined_head_at_buffer_end);
    RUN(test_streaming_chunked);
    RUN(test_streaming_fixed_length);
    RUN(test_streaming_backpressure);
    RUN(test_streamed_body_pause_resume);
    RUN(test_streamed_body_refused_and_capped);
    RUN(test_piece_valid_while_timer_pending);
    RUN(test_urlencoded_form);
    RUN(test_trailers);
    RUN(test_file_body);
    RUN(test_multipart_request);
    RUN(test_body_error_heard_once);
    httpd__worker_free(&wk);
    httpd__router_free(&srv.router, NULL);
    HTTPD_FREE(NULL, (void *)srv.route_inflight);
    httpd__wakefd_close(&srv.exit);
    return REPORT();
}
