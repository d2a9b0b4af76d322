/* fuzz/fuzz_worker.c - a whole worker: up to 6 connections over socketpairs, driven by the
   worker's own event code (its epoll, httpd__worker_events, httpd__worker_end_turn) on a
   virtual clock. The task pool has no threads here: a task runs when the program says so,
   and its completion comes back through the real mailbox and eventfd. So accepts, closes,
   timers, task completions, posts and writable callbacks interleave in any order the
   fuzzer finds, which the one-connection harness (fuzz_conn.c) cannot see.
   The input is a program; each operation is an opcode byte and one argument byte:
     connect | send a canned request | send raw bytes | read | half-close | close |
     advance the clock (then a turn) | a turn | run a queued task | post to a connection |
     answer a parked request
   and, with opcodes 0xF0-0xFF, WebSocket programs: a masked frame of any opcode and flags
   with payload from the input, a broadcast or a send_to from "another thread" (the
   mailbox); the routes /ws (echo; 'c' closes, 'b' broadcasts, 'p' pauses until a post
   resumes it, 'x' fills the output) and /wss (streamed, close-on-overflow) run on the
   virtual clock with 100 ms pings and a 300 ms heartbeat timeout.
   Invariants checked after every turn (besides "no crash, no leak" under ASan+UBSan):
   - the run queue is finite, every entry is flagged queued and alive;
   - the free list holds only dead, unqueued connections with no timer armed;
   - the dead list is empty between turns; live slots == nconns == the server's count;
   - a live connection's request points back at it; the timer wheel is consistent;
   - what each client receives is a sequence of well-formed responses, no more final
     responses than requests it sent (+1 for an error on a broken one), until a 101;
   - HTTPD__S_WS <=> a WebSocket handle, which points back at its connection and is on
     the worker's list exactly once (nws counts them).
   At the end every client closes and the clock runs until the worker holds nothing; then
   the server is freed the way httpd_wait frees it.
   TLS mode (fuzz/fuzz_tls.c defines FUZZ_WORKER_TLS and includes this file): the clients
   are BearSSL clients (tests/tls_client.h) of a TLS listener; the same programs then run
   through handshakes and records: requests go out as application data (whatever the
   client engine takes at that moment), raw bytes and half-closes hit the record layer
   (a corrupted stream must close just that connection), and the TLS state is checked
   after every turn too (stages within bounds, a parked engine has nothing buffered). */
#ifdef FUZZ_WORKER_TLS
#  define HTTPD_TLS_BEARSSL 1
#endif
#define HTTPD_IMPLEMENTATION
#include "../httpd.h"
#include <sys/socket.h>
#ifdef FUZZ_WORKER_TLS
#  include "../tests/tls_client.h"
#  include "tls_test_cert.h"
static br_x509_pkey fuzz_pk;
static unsigned char fuzz_pkb[600];
#endif

#define MAXC 6
typedef struct client {
    int fd;                        /* our end; -1: closed                            */
    int shut;                      /* we half-closed                                  */
    httpd_conn_id id;
    unsigned sent;                 /* request heads sent (canned or raw, roughly)     */
    char *in;                      /* what we received                                */
    size_t inlen, incap;
#ifdef FUZZ_WORKER_TLS
    tcli k;                        /* the TLS client; k.in holds the plaintext        */
#endif
} client;
static client cl[MAXC];
static httpd_server *srv;
static httpd__worker *wk;
static int file_fd = -1;
static unsigned posts_run;

/* ---- the application ---- */
#define MAXPARK 8
static httpd_request *parked[MAXPARK];
static int nparked;
static void park(httpd_request *r) {
    if (nparked == MAXPARK) { httpd_respond(r, 503, "text/plain", "full", 4); return; }
    parked[nparked++] = r;
}
static void on_hello(httpd_request *r) { httpd_respond(r, 200, "text/plain", "hello", 5); }
static void after_done(httpd_request *r, void *arg, int status) {
    (void)arg; (void)status;
    httpd_respond(r, 200, "text/plain", "after", 5);   /* frees it when orphaned */
}
static void on_after(httpd_request *r) {
    httpd_str ms = httpd_param(r, "ms");
    HTTPD_ASSERT(httpd_after(r, ms.ptr ? (uint32_t)atoi(ms.ptr) : 0, after_done, NULL) == 0);
}
/* a chunked stream of n bytes, waiting for writability when the output is full */
static void more(httpd_request *r, void *arg, int status) {
    uintptr_t left = (uintptr_t)arg;
    static const char blk[4096] = { 'x' };
    if (status != 0) { HTTPD_ASSERT(httpd_end(r) < 0); return; }
    while (left) {
        size_t k = left < sizeof blk ? (size_t)left : sizeof blk;
        int rc = httpd_write(r, blk, k);
        if (rc < 0) { httpd_end(r); return; }
        left -= k;
        if (rc == HTTPD_WRITE_FULL && left) {
            HTTPD_ASSERT(httpd_on_writable(r, more, (void *)left) == 0);
            return;
        }
    }
    httpd_end(r);
}
static void on_stream(httpd_request *r) {
    httpd_str n = httpd_query_param(r, "n");
    uintptr_t len = n.ptr ? (uintptr_t)strtoul(n.ptr, NULL, 10) % 400000 : 100;
    HTTPD_ASSERT(httpd_begin(r, 200, "text/plain", -1) == 0);
    more(r, (void *)len, 0);
}
static void task_work(void *arg, const httpd_task *t) { (void)arg; (void)t; }
static void task_done(httpd_request *r, void *arg, int status) {
    (void)arg; (void)status;
    httpd_respond(r, 200, "text/plain", "task", 4);
}
static void on_task(httpd_request *r) {
    if (httpd_defer(r, task_work, task_done, NULL) < 0)
        httpd_respond(r, 503, "text/plain", "busy", 4);
}
/* SSE: a few ticks on a timer, as the demo's /events */
static void sse_tick(httpd_request *r, void *arg, int status) {
    uintptr_t left = (uintptr_t)arg;
    if (status == 0 && left && !httpd_stopping(r->server)
        && httpd_sse_send(r, "tick", NULL, "t") >= 0
        && httpd_after(r, 10, sse_tick, (void *)(left - 1)) == 0)
        return;
    httpd_end(r);
}
static void on_sse(httpd_request *r) {
    HTTPD_ASSERT(httpd_sse_begin(r) == 0);
    sse_tick(r, (void *)(uintptr_t)5, 0);
}
/* a streamed body, paused behind a timer after each piece */
static void up_resume(httpd_request *r, void *arg, int status) {
    (void)arg;
    if (status == 0) httpd_body_resume(r);
    else httpd_respond(r, 500, "text/plain", "gone", 4);          /* frees it */
}
static void up_body(httpd_request *r, void *arg, const void *d, size_t n, int status) {
    (void)arg; (void)d; (void)n;
    if (status == 0) {
        httpd_body_pause(r);
        HTTPD_ASSERT(httpd_after(r, 5, up_resume, NULL) == 0);
        return;
    }
    int rc = httpd_respond(r, 200, "text/plain", "up", 2);
    if (status != HTTPD_BODY_END) HTTPD_ASSERT(rc < 0);          /* error: freed */
}
static void on_up(httpd_request *r) { HTTPD_ASSERT(httpd_body_read(r, up_body, NULL) == 0); }
/* WebSockets */
static void ws_resume(httpd_server *s, httpd_conn_id id, void *arg, int status) {
    (void)arg;
    httpd_ws *ws = status == 0 ? httpd_ws_from_id(s, id) : NULL;
    if (ws) httpd_ws_resume(ws);
}
static void ws_msg(httpd_ws *ws, int type, const void *data, size_t len, int fin) {
    static char big[70000];
    char c = len ? *(const char *)data : 0;
    if (c == 'c') { HTTPD_ASSERT(httpd_ws_close(ws, 1000, "bye") == 0); return; }
    if (c == 'b') { httpd_ws_broadcast(httpd_ws_server(ws), NULL, type, data, len); return; }
    if (c == 'p') {
        httpd_ws_pause(ws);
        HTTPD_ASSERT(httpd_post(httpd_ws_server(ws), httpd_ws_id(ws), ws_resume, NULL) == 0);
        return;
    }
    if (c == 'x') { httpd_ws_send(ws, HTTPD_WS_BINARY, big, sizeof big); return; }
    if (fin || len) {
        /* a streamed piece may end inside a character: it goes back as binary */
        int rc = httpd_ws_send(ws, fin && !httpd_ws_user(ws) ? type : HTTPD_WS_BINARY, data, len);
        HTTPD_ASSERT(rc == 0 || rc == HTTPD_WRITE_FULL || rc == HTTPD_ERR_TOOLARGE);
    }
}
static void ws_close(httpd_ws *ws, int code, const char *reason, size_t rl) {
    (void)reason; (void)rl;
    HTTPD_ASSERT(code >= 1000 && code <= 4999);
    HTTPD_ASSERT(httpd_ws_send(ws, HTTPD_WS_TEXT, "x", 1) == HTTPD_ERR_CLOSED);
}
static const httpd_ws_desc ws_echo = { NULL, ws_msg, ws_close, NULL, NULL, 4096, 0, 100, 300,
                                       0, HTTPD_WS_DROP };
static const httpd_ws_desc ws_stream = { NULL, ws_msg, ws_close, NULL, NULL, HTTPD_UNLIMITED,
                                         1000, 0, 0, 1, HTTPD_WS_CLOSE };
static void on_ws(httpd_request *r) { httpd_ws_upgrade(r, &ws_echo, NULL, NULL); }
static void on_wss(httpd_request *r) { httpd_ws_upgrade(r, &ws_stream, NULL, (void *)1); }
static void on_file(httpd_request *r) {
    int fd = dup(file_fd);
    HTTPD_ASSERT(fd >= 0);
    httpd_send_file(r, 200, "text/plain", fd, 0, HTTPD_FILE_REST);
}
static const httpd_route routes[] = {
    { .method = "GET", .pattern = "/", .handler = on_hello },
    { .method = "GET", .pattern = "/after/:ms", .handler = on_after },
    { .method = "GET", .pattern = "/s", .handler = on_stream },
    { .method = "GET", .pattern = "/task", .handler = on_task },
    { .method = "GET", .pattern = "/park", .handler = park },
    { .method = "GET", .pattern = "/never", .handler = park, .timeout_ms = 300 },
    { .method = "GET", .pattern = "/sse", .handler = on_sse },
    { .method = "GET", .pattern = "/f", .handler = on_file },
    { .method = "POST", .pattern = "/up", .handler = on_up, .stream_body = 1,
      .max_body_bytes = 4096 },
    { .method = "GET", .pattern = "/ws", .handler = on_ws },
    { .method = "GET", .pattern = "/wss", .handler = on_wss },
    { 0 },
};
static const char *const canned[] = {
    "GET / HTTP/1.1\r\nHost: a\r\n\r\n",
    "GET /s?n=200000 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    "GET /s?n=30000 HTTP/1.1\r\nHost: a\r\n\r\n",
    "GET /after/0 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    "GET /after/50 HTTP/1.1\r\nHost: a\r\n\r\n",
    "GET /task HTTP/1.1\r\nHost: a\r\n\r\n",
    "GET /task HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    "GET /park HTTP/1.1\r\nHost: a\r\n\r\n",
    "GET /never HTTP/1.1\r\nHost: a\r\n\r\n",
    "POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n0123456789",
    "POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    "POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 9999\r\n\r\nxx",
    "GET /sse HTTP/1.1\r\nHost: a\r\n\r\n",
    "GET /f HTTP/1.1\r\nHost: a\r\n\r\n",
    "GET / HTTP/1.0\r\n\r\n",
    "GET /s?n=70000 HTTP/1.0\r\n\r\n",
    "BAD\r\n\r\n",
    "GET /after/5 HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
};
static const char *const ws_canned[] = {
#define WSH "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "GET /ws HTTP/1.1\r\nHost: a\r\n" WSH "Sec-WebSocket-Version: 13\r\n\r\n",
    "GET /wss HTTP/1.1\r\nHost: a\r\n" WSH "Sec-WebSocket-Version: 13\r\n\r\n",
    "GET /ws HTTP/1.1\r\nHost: a\r\n" WSH "Sec-WebSocket-Version: 13\r\n\r\n"
        "\x81\x82\x00\x00\x00\x00hi\x89\x80\x01\x02\x03\x04",
    "GET /ws HTTP/1.1\r\nHost: a\r\n" WSH "Sec-WebSocket-Version: 7\r\n\r\n",
};
#define NCANNED (sizeof canned / sizeof canned[0])
/* Bytes from a client: plaintext through its TLS engine (what it takes now), or as is. */
static ssize_t csend(client *c, const void *p, size_t n) {
#ifdef FUZZ_WORKER_TLS
    tcli_pump(&c->k);
    if (!tcli_ready(&c->k)) return -1;
    return (ssize_t)tcli_write(&c->k, p, n);
#else
    return send(c->fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
#endif
}
static void posted(httpd_server *s, httpd_conn_id id, void *arg, int status) {
    (void)s; (void)id; (void)arg; (void)status;
    posts_run++;
}

/* ---- the worker's invariants ---- */
static void check_worker(void) {
    httpd__worker *w = wk;
    uint32_t live = 0, nq = 0, nfree = 0, nws = 0, nlist = 0;
    for (httpd__conn *q = w->queue; q; q = q->next) {
        HTTPD_ASSERT(++nq <= w->nslots);                       /* no cycle */
        HTTPD_ASSERT((q->flags & HTTPD__F_QUEUED) && q->state != HTTPD__S_DEAD);
    }
    for (httpd__conn *f = w->free_conns; f; f = f->dnext) {
        HTTPD_ASSERT(++nfree <= w->nslots);
        HTTPD_ASSERT(f->state == HTTPD__S_DEAD && !(f->flags & HTTPD__F_QUEUED));
        HTTPD_ASSERT(!f->timer.pprev);
    }
    HTTPD_ASSERT(w->dead == NULL);
    for (uint32_t i = 0; i < w->nslots; i++) {
        httpd__conn *c = HTTPD__SLOT(w, i);
        if (c->state == HTTPD__S_DEAD) continue;
        live++;
        HTTPD_ASSERT(c->w == w && c->fd >= 0);
        HTTPD_ASSERT((c->state == HTTPD__S_WS) == (c->ws != NULL));
        HTTPD_ASSERT(!c->ws || (c->ws->c == c && !c->req));
        nws += c->ws != NULL;
        HTTPD_ASSERT(!c->req || c->req->conn == c);
        HTTPD_ASSERT(c->out.pos <= c->out.len && c->out.len <= c->out.cap);
        HTTPD_ASSERT(c->in.pos <= c->in.len && c->in.len <= c->in.cap);
#ifdef FUZZ_WORKER_TLS
        if (c->tls) {
            const httpd__tls *t = c->tls;
            HTTPD_ASSERT(t->conf == srv->tls && t->policy == &httpd__tls_policy_vt);
            HTTPD_ASSERT(t->ipos <= t->ilen && t->ilen <= t->conf->stage);
            HTTPD_ASSERT(t->opos <= t->olen && t->olen <= t->conf->stage);
            HTTPD_ASSERT(t->buf || (t->ready && !t->ilen && !t->olen));   /* parked: idle */
        } else {
            HTTPD_ASSERT(c->state == HTTPD__S_LINGER);      /* TLS dropped only to linger */
        }
#endif
    }
    HTTPD_ASSERT(live == w->nconns && live + nfree == w->nslots);
    for (httpd_ws *ws = w->ws_list; ws; ws = ws->next) {
        HTTPD_ASSERT(++nlist <= w->nslots && ws->c->ws == ws);
        HTTPD_ASSERT(!ws->next || ws->next->prev == ws);
    }
    HTTPD_ASSERT(nws == nlist && nws == w->nws);
    HTTPD_ASSERT(HTTPD__LOAD(&srv->nconns) == w->nconns);
    HTTPD_ASSERT(httpd__wheel_check(&w->wheel));
}
static void turn(void) {
    httpd__io_event ev[64];
#ifdef FUZZ_WORKER_TLS
    for (int k = 0; k < MAXC; k++) if (cl[k].fd >= 0) tcli_pump(&cl[k].k);
#endif
    int n = httpd__poll_wait(&wk->poll, ev, 64, 0);
    HTTPD_ASSERT(n >= 0);
    httpd__worker_events(wk, ev, n);
    httpd__worker_end_turn(wk);
    check_worker();
}
static void advance(uint64_t ms) {
    wk->now += ms;
    turn();
}

/* ---- the clients ---- */
static void client_read(client *c, size_t max) {
#ifdef FUZZ_WORKER_TLS
    (void)max;
    if (c->fd < 0) return;
    while (tcli_pump(&c->k)) {}
    if (c->k.inlen > c->incap) {                 /* the plaintext, for check_responses */
        c->in = (char *)realloc(c->in, c->k.inlen + 1);
        HTTPD_ASSERT(c->in);
        c->incap = c->k.inlen;
    }
    if (c->k.inlen) memcpy(c->in, c->k.in, c->k.inlen);
    c->inlen = c->k.inlen;
    return;
#endif
    while (c->fd >= 0 && max) {
        if (c->incap - c->inlen < 4096) {
            size_t cap = c->incap ? c->incap * 2 : 65536;
            if (cap > (8u << 20)) return;                          /* enough seen */
            c->in = (char *)realloc(c->in, cap + 1);
            HTTPD_ASSERT(c->in);
            c->incap = cap;
        }
        size_t want = HTTPD__MIN(max, c->incap - c->inlen);
        ssize_t r = recv(c->fd, c->in + c->inlen, want, MSG_DONTWAIT);
        if (r <= 0) return;
        c->inlen += (size_t)r;
        max -= (size_t)r;
    }
}
/* Walks what a client received: well-formed responses only; returns the final ones. */
static unsigned check_responses(const client *c) {
    const char *b = c->in;
    size_t i = 0, n = c->inlen;
    unsigned finals = 0;
    while (i < n) {
        if (n - i < 12) break;
        HTTPD_ASSERT(!memcmp(b + i, "HTTP/1.1 ", 9));
        int status = atoi(b + i + 9);
        HTTPD_ASSERT(status >= 100 && status <= 599);
        size_t e = i;
        while (e + 3 < n && memcmp(b + e, "\r\n\r\n", 4)) e++;
        if (e + 3 >= n) break;                                      /* head cut */
        size_t head_end = e + 4;
        if (status == 101) { finals++; break; }                     /* frames from here */
        if (status < 200) { i = head_end; continue; }
        finals++;
        const char *h = b + i;
        size_t hl = head_end - i;
        const char *cl = NULL;
        int chunked = 0, closes = 0;
        for (size_t k = 0; k + 18 < hl; k++) {
            if (!memcmp(h + k, "\r\nContent-Length: ", 18)) cl = h + k + 18;
            if (k + 28 < hl && !memcmp(h + k, "\r\nTransfer-Encoding: chunked", 28)) chunked = 1;
            if (k + 19 < hl && !memcmp(h + k, "\r\nConnection: close", 19)) closes = 1;
        }
        if (chunked) {
            size_t p = head_end;
            int complete = 0;
            while (p < n) {
                char *end;
                unsigned long len = strtoul(b + p, &end, 16);
                if ((size_t)(end - b) + 2 > n) break;
                HTTPD_ASSERT(end > b + p && end[0] == '\r' && end[1] == '\n');
                p = (size_t)(end - b) + 2 + len + 2;
                if (len == 0) { complete = 1; break; }
            }
            if (!complete) break;
            i = p;
        } else if (cl) {
            i = head_end + (size_t)strtoull(cl, NULL, 10);
        } else {
            HTTPD_ASSERT(closes || status == 204 || status == 304);  /* until close */
            break;
        }
    }
    return finals;
}
static void client_close(client *c) {
    if (c->fd < 0) return;
    client_read(c, (size_t)-1);
    close(c->fd);
    c->fd = -1;
#ifdef FUZZ_WORKER_TLS
    tcli_free(&c->k);
#endif
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (file_fd < 0) {
        /* sendfile(2) has no MSG_NOSIGNAL: the server's worker threads run with every
           signal blocked (httpd_start), this harness is the worker thread */
        signal(SIGPIPE, SIG_IGN);
        char name[] = "/tmp/fuzz_worker-XXXXXX", blk[4096];
        if ((file_fd = mkstemp(name)) < 0) abort();
        unlink(name);
        memset(blk, 'f', sizeof blk);
        for (int i = 0; i < 24; i++)
            if (write(file_fd, blk, sizeof blk) != (ssize_t)sizeof blk) abort();
    }
    httpd_desc d;
    memset(&d, 0, sizeof d);
    d.routes = routes;
    d.workers = 1;
    d.max_connections = 16;
    d.read_buffer_bytes = 2048;
    d.max_header_bytes = 1024;
    d.max_request_line = 512;
    d.header_timeout_ms = 1000;
    d.body_timeout_ms = 1000;
    d.keepalive_timeout_ms = 3000;
    d.write_timeout_ms = 2000;
    d.request_timeout_ms = 2000;
    d.shutdown_timeout_ms = 1000;
#ifdef FUZZ_WORKER_TLS
    static httpd_tls_cert cert;
    static httpd_tls_desc tls;
    cert.cert_pem = fuzz_cert_pem;
    cert.key_pem = fuzz_key_pem;
    tls.certs = &cert;
    tls.ncerts = 1;
    tls.handshake_timeout_ms = 500;
    tls.session_cache = 8;
    d.tls = &tls;
    if (!fuzz_pk.key_type && tcli_pkey_of(fuzz_cert_pem, &fuzz_pk, fuzz_pkb, sizeof fuzz_pkb))
        abort();
#endif
    srv = (httpd_server *)malloc(sizeof *srv);
    if (!srv || httpd__server_init(srv, &d) < 0) abort();
    srv->workers = (httpd__worker *)calloc(1, sizeof *srv->workers);
    if (!srv->workers) abort();
    srv->nworkers = 1;
    wk = &srv->workers[0];
    if (httpd__worker_init(wk, srv, 0) < 0) abort();
    /* a pool with no threads: tasks run when the program says so */
    if (httpd__taskpool_start(&srv->pool, 0, 4, NULL) < 0) abort();
    HTTPD__STORE(&srv->running, 1);
    memset(cl, 0, sizeof cl);
    for (int k = 0; k < MAXC; k++) cl[k].fd = -1;
    nparked = 0;
    posts_run = 0;

    size_t i = 0;
    while (i + 1 < size) {
        uint8_t op = data[i], arg = data[i + 1];
        i += 2;
        client *c = &cl[arg % MAXC];
        if (op >= 0xF0) {                               /* WebSocket operations */
            if (op & 1) {                               /* a masked frame, any flags */
                if (c->fd < 0 || c->shut || i >= size) continue;
                size_t n = HTTPD__MIN((size_t)data[i] % 140, size - i - 1);
                unsigned char f[160];
                size_t k = 0;
                static const uint8_t b0s[] = { 0x81, 0x82, 0x01, 0x00, 0x80, 0x89, 0x8a, 0x88,
                                               0xc1, 0x83, 0x09, 0x02 };
                f[k++] = b0s[(arg / MAXC) % sizeof b0s];
                if (n < 126) f[k++] = (unsigned char)(0x80 | n);
                else { f[k++] = 0x80 | 126; f[k++] = 0; f[k++] = (unsigned char)n; }
                memcpy(f + k, "\x11\x22\x33\x44", 4); k += 4;
                memcpy(f + k, data + i + 1, n);           /* masked as it stands */
                i += 1 + n;
                csend(c, f, k + n);
            } else if (op & 2) {                        /* another thread broadcasts */
                if (arg & 128)
                    HTTPD_ASSERT(httpd_ws_broadcast(srv, (arg & 64) ? &ws_echo : NULL,
                                                    HTTPD_WS_BINARY, "cast", 4) == 0);
                else if (c->id.id)                      /* ... or sends to one id */
                    HTTPD_ASSERT(httpd_ws_send_to(srv, c->id, HTTPD_WS_TEXT, "to", 2, NULL,
                                                  NULL) == 0);
            } else if (c->fd >= 0 && !c->shut) {        /* an opening handshake */
                const char *rq = ws_canned[(arg / MAXC) % (sizeof ws_canned / sizeof *ws_canned)];
                if (csend(c, rq, strlen(rq)) > 0) c->sent += 2;
            }
            continue;
        }
        switch (op % 11) {
        case 0: {                                       /* a client connects */
            int k = 0;
            while (k < MAXC && cl[k].fd >= 0) k++;
            if (k == MAXC || srv->desc.max_connections <= wk->nconns) break;
            int sv[2];
            if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
                abort();
            int small = 4096;                           /* backpressure comes quickly */
            setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
            free(cl[k].in);
            memset(&cl[k], 0, sizeof cl[k]);
            cl[k].fd = sv[1];
            HTTPD__ADD(&srv->nconns, 1u);               /* as the accept loop does */
#ifdef FUZZ_WORKER_TLS
            tcli_init(&cl[k].k, sv[1], &fuzz_pk, "fuzz", NULL, 0);
            tcli_pump(&cl[k].k);                        /* the ClientHello */
            httpd__conn *sc = httpd__worker_adopt(wk, sv[0], 1);
            /* the handshake runs to its end (or failure) before the program goes on, so
               that requests meet an open session; time and raw bytes still cut into it */
            for (int r = 0; r < 30 && sc && sc->state != HTTPD__S_DEAD
                            && !tcli_ready(&cl[k].k); r++)
                turn();
#else
            httpd__conn *sc = httpd__worker_adopt(wk, sv[0], 0);
#endif
            if (sc) cl[k].id.id = ((uint64_t)sc->slot << 32) | sc->gen;
            check_worker();
            break;
        }
        case 1: {                                       /* a canned request */
            if (c->fd < 0 || c->shut) break;
            const char *rq = canned[(arg / MAXC) % NCANNED];
            if (csend(c, rq, strlen(rq)) > 0) c->sent += 2;
            break;
        }
        case 2: {                                       /* raw bytes from the input */
            if (c->fd < 0 || c->shut || i >= size) break;
            size_t n = HTTPD__MIN((size_t)data[i] % 64 + 1, size - i - 1);
            i++;
            if (send(c->fd, data + i, n, MSG_NOSIGNAL | MSG_DONTWAIT) > 0) c->sent += 2;
            i += n;
            break;
        }
        case 3:                                         /* read some */
            client_read(c, (size_t)(arg / MAXC + 1) * 1024);
            break;
        case 4:                                         /* half-close */
            if (c->fd >= 0 && !c->shut) { shutdown(c->fd, SHUT_WR); c->shut = 1; }
            break;
        case 5:                                         /* close */
            if (c->fd >= 0) {
                HTTPD_ASSERT(check_responses(c) <= c->sent + 1);
                client_close(c);
            }
            break;
        case 6:                                         /* time passes */
            advance((uint64_t)arg * arg / 8);
            break;
        case 7:
            turn();
            break;
        case 8:                                         /* a pool thread takes a task */
            httpd__taskpool_step(&srv->pool, 0);
            break;
        case 9:                                         /* another thread posts */
            if (c->id.id) HTTPD_ASSERT(httpd_post(srv, c->id, posted, NULL) == 0);
            break;
        case 10:                                        /* the application answers */
            if (nparked) {
                httpd_request *r = parked[0];
                memmove(parked, parked + 1, (size_t)--nparked * sizeof *parked);
                httpd_respond(r, 200, "text/plain", "parked", 6);
            }
            break;
        }
    }
    for (int k = 0; k < MAXC; k++)
        if (cl[k].fd >= 0) HTTPD_ASSERT(check_responses(&cl[k]) <= cl[k].sent + 1);

    /* the end: every client leaves, the application answers what it holds, tasks run,
       time passes until the worker holds nothing */
    for (int k = 0; k < MAXC; k++) client_close(&cl[k]);
    for (int round = 0; round < 200; round++) {
        while (httpd__taskpool_step(&srv->pool, 0)) {}
        while (nparked) httpd_respond(parked[--nparked], 200, "text/plain", "late", 4);
        advance(1000);
        if (wk->nconns == 0 && wk->held == 0 && !srv->pool.head && !wk->mbox) break;
    }
    HTTPD_ASSERT(wk->nconns == 0 && wk->held == 0);
    HTTPD__STORE(&srv->running, 0);
    httpd__server_free(srv);                            /* as httpd_wait does */
    for (int k = 0; k < MAXC; k++) { free(cl[k].in); cl[k].in = NULL; }
    return 0;
}
