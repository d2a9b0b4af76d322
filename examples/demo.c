/* demo.c - the demo server: the features of httpd.h on a few routes.
   build/demo [--host H] [--port P] [--workers N] [--verbose]
              [--header-timeout S] [--body-timeout S] [--keepalive-timeout S]
              [--write-timeout S] [--request-timeout S] [--shutdown-timeout S]
              [--drain-delay S] [--max-connections N]          (S: seconds, may be 0.5)
              [--task-threads N] [--task-queue N] [--block-limit N] [--max-inflight N]
              [--upload-cap BYTES] [--static-dir DIR] [--static-listings]
              [--static-follow-symlinks] [--static-hidden] [--static-cache-control V]
              [--ws-ping S] [--ws-timeout S]
              [--bare] [--access-log PATH|-] [--log-flush-ms N]
              [--cors-origin ORIGIN]... [--rate-limit RPS] [--rate-burst N]
              [--proxy-protocol] [--proxy-port P] [--proxy-max-connections N]
              [--trusted-proxy CIDR]...
              [--server-name NAME] [--auth-token T] [--json-errors]
              [--tls-cert PEM --tls-key PEM [--tls-names "a.example *.b.example"]]...
              [--tls-port P] [--tls-only] [--tls-handshake-timeout S]
              [--tls-half-duplex] [--tls-max-record N] [--tls-session-cache N]
   Operations (OPERATIONS in httpd.h): request ids and /metrics are on unless --bare (no
   middleware at all, as the benchmarks run it); --access-log writes JSON lines to a file
   or stderr (-); --cors-origin allows an origin (repeat it) with credentials;
   --proxy-protocol adds a listener (--proxy-port) expecting HAProxy's PROXY header;
   --trusted-proxy believes X-Forwarded-For from these peers; --auth-token guards
   /private with a middleware (Authorization: Bearer T); --json-errors makes the server's
   own error bodies JSON.
     GET  /           -> 200 "Hello, World!"
     POST /echo       -> 200 echoing the body (cap 1 MiB, over -> 413), streamed back as it
                         arrives when it has a Content-Length
     GET  /events     -> Server-Sent Events: ?every=ms&count=n ticks
     GET  /health     -> 200 "ok"            (liveness)
     GET  /ready      -> 200, or 503 once a graceful stop began (readiness)
     GET  /sleep/:ms  -> 200 after ms milliseconds, on a timer (the worker is not blocked)
     GET  /never      -> never answered: the request timeout answers 504
     GET  /block/:ms  -> sleeps ms on the blocking-task pool (the worker stays free);
                         at most --block-limit at once, then 503 + Retry-After
     GET  /block-inline/:ms -> the same sleep on the worker itself (what not to do;
                         for the benchmark)
     POST /hash       -> SHA-256 (hex) of the body, computed on the task pool
     GET  /bytes/:n   -> n bytes, streamed with backpressure (memory stays flat);
                         ?chunked=1: chunked, with an X-Crc32 trailer field
     POST /upload     -> streamed body (cap 1 GiB): "bytes=N crc32=XXXXXXXX", computed as
                         it arrives; memory stays at one read buffer
     POST /upload-paced -> the same, pausing the body 20 ms after every 256 KiB (?hold=ms:
                         the first pause lasts ms)
     GET  /static/... -> the files of --static-dir (default examples/www/): ETag,
                         Last-Modified, 304/412, ranges, .br/.gz variants when accepted
     GET  /ws         -> WebSocket echo: every text message back as text, binary as binary,
                         whole messages up to 1 MiB (1,048,576 bytes) inclusive, close 1009
                         above; heartbeats (--ws-ping, --ws-timeout; 0 turns one off);
                         subprotocol "echo" when offered
     GET  /ws-upload  -> WebSocket, messages streamed piece by piece (no cap): at the end of
                         each, a text message "bytes=N crc32=XXXXXXXX"; ?slow=1 pauses
                         reading after every piece and resumes it from the task pool
     GET  /metrics    -> Prometheus metrics (not in the access log)
     GET  /limited    -> 200, rate limited per client (--rate-limit, default 5/s, burst 5)
     GET  /whoami     -> "client=ADDR id=ID worker=W tls=0|1": the client's address and request
                         id as the server sees them and, over TLS, the protocol, cipher, SNI
                         name, ALPN, "resumed=0|1" and the certificate index (tests, benchmarks)
     GET, PUT /cors-echo -> the method, X-Custom and Cookie it got; sets a cookie (CORS tests)
     GET  /private    -> 200 behind the --auth-token middleware (401 without the token)
   With --tls-cert and --tls-key (repeat the pair for more certificates; --tls-names after
   a pair says which SNI names it serves) every route is also served over HTTPS and WSS on
   --tls-port (default 8443; 0: ephemeral), and "httpd: tls on HOST:PORT" is printed.
   Built with -DHTTPD_TLS_BEARSSL -lbearssl (make build/demo-tls; make run-tls).
   Port 0 binds an ephemeral port. Prints "httpd: listening on HOST:PORT" once ready;
   SIGINT/SIGTERM stop it gracefully, a second one at once. */
#define HTTPD_IMPLEMENTATION
#include "../httpd.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>
#include <errno.h>

static void on_hello(httpd_request *req) {
    httpd_respond(req, 200, "text/plain", "Hello, World!", 13);
}
/* POST /echo streams: with a Content-Length the response (same length) starts with the
   first body piece and each piece is written back as it arrives, pausing the body while
   the client is slow to read, so memory stays flat; a chunked body is collected (under
   the 1 MiB cap, so that crossing it still gets a 413) and sent back at its end. */
typedef struct { char type[128]; int begun; char *buf; size_t len; } echo_state;
static void echo_body(httpd_request *req, void *arg, const void *data, size_t len, int status);
static void echo_resume(httpd_request *req, void *arg, int status) {
    if (status == 0) { httpd_body_resume(req); return; }
    free(arg);
    httpd_end(req);                                  /* client gone: frees it */
}
static void echo_body(httpd_request *req, void *arg, const void *data, size_t len, int status) {
    echo_state *e = (echo_state *)arg;
    if (status < 0) { free(e->buf); free(e); httpd_end(req); return; }   /* 4xx already sent */
    if (req->content_length < 0) {                   /* chunked: collect */
        if (status == 0) {
            char *b = (char *)realloc(e->buf, e->len + len);
            if (!b) { free(e->buf); free(e); httpd_end(req); return; }
            memcpy(b + e->len, data, len);
            e->buf = b; e->len += len;
            return;
        }
        httpd_respond(req, 200, e->type, e->buf, e->len);
        free(e->buf); free(e);
        return;
    }
    if (!e->begun) { e->begun = 1; httpd_begin(req, 200, e->type, req->content_length); }
    if (status == HTTPD_BODY_END) { free(e); httpd_end(req); return; }
    if (httpd_write(req, data, len) == HTTPD_WRITE_FULL) {   /* slow reader: hold the body */
        httpd_body_pause(req);
        httpd_on_writable(req, echo_resume, e);
    }
}
static void on_echo(httpd_request *req) {
    echo_state *e = (echo_state *)calloc(1, sizeof *e);
    if (!e) { httpd_respond(req, 503, "text/plain", "busy\n", 5); return; }
    httpd_str ct = httpd_get_header(req, "Content-Type");
    snprintf(e->type, sizeof e->type, "%s", "application/octet-stream");
    if (ct.ptr && ct.len < sizeof e->type) { memcpy(e->type, ct.ptr, ct.len); e->type[ct.len] = 0; }
    if (req->content_length == 0) {                  /* nothing to stream */
        free(e);
        httpd_respond(req, 200, "application/octet-stream", "", 0);
        return;
    }
    httpd_body_read(req, echo_body, e);             /* sends 100 Continue if asked */
}
/* GET /events?every=ms&count=n: Server-Sent Events ticks on a timer; ends at count or
   when the server is stopping (so a graceful shutdown does not wait for it). */
typedef struct { unsigned every, count, sent; } ticker;
static void tick(httpd_request *req, void *arg, int status) {
    ticker *t = (ticker *)arg;
    if (status == 0 && !httpd_stopping(req->server) && t->sent < t->count) {
        char id[16], data[64];
        snprintf(id, sizeof id, "%u", t->sent);
        snprintf(data, sizeof data, "tick %u\nof %u", t->sent, t->count);
        t->sent++;
        if (httpd_sse_send(req, "tick", id, data) >= 0
            && httpd_after(req, t->every, tick, t) == 0)
            return;
    }
    free(t);
    httpd_end(req);
}
static void on_events(httpd_request *req) {
    httpd_str every = httpd_query_param(req, "every"), count = httpd_query_param(req, "count");
    ticker *t = (ticker *)calloc(1, sizeof *t);
    if (!t) { httpd_respond(req, 503, "text/plain", "busy\n", 5); return; }
    t->every = every.ptr ? (unsigned)strtoul(every.ptr, NULL, 10) : 1000;
    t->count = count.ptr ? (unsigned)strtoul(count.ptr, NULL, 10) : 3600;
    if (t->every < 10) t->every = 10;
    httpd_sse_begin(req);
    httpd_sse_comment(req, "hello");
    tick(req, t, 0);
}
static void on_health(httpd_request *req) {
    httpd_respond(req, 200, "text/plain", "ok\n", 3);
}
static void slept(httpd_request *req, void *arg, int status) {
    char body[64];
    int n = snprintf(body, sizeof body, "slept %lu ms\n", (unsigned long)(uintptr_t)arg);
    httpd_respond(req, 200, "text/plain", body, (size_t)n);  /* frees it if status != 0 */
    (void)status;
}
static void on_sleep(httpd_request *req) {
    httpd_str v = httpd_param(req, "ms");
    char num[16];
    if (!v.len || v.len >= sizeof num) { httpd_respond(req, 400, "text/plain", "bad ms\n", 7); return; }
    memcpy(num, v.ptr, v.len);
    num[v.len] = 0;
    char *end;
    unsigned long ms = strtoul(num, &end, 10);
    if (*end || ms > 3600000) { httpd_respond(req, 400, "text/plain", "bad ms\n", 7); return; }
    httpd_after(req, (uint32_t)ms, slept, (void *)(uintptr_t)ms);
}
static void forgot(httpd_request *req, void *arg, int status) {
    (void)arg; (void)status;
    httpd_respond(req, 200, "text/plain", "too late\n", 9);   /* after the 504: just frees */
}
static void on_never(httpd_request *req) {
    httpd_after(req, 3600000, forgot, NULL);   /* an hour: the request deadline comes first */
}

/* ---- blocking work on the task pool ---- */
static int parse_ms(httpd_request *req, unsigned long *ms) {
    httpd_str v = httpd_param(req, "ms");
    char num[16], *end;
    if (!v.len || v.len >= sizeof num) return -1;
    memcpy(num, v.ptr, v.len);
    num[v.len] = 0;
    *ms = strtoul(num, &end, 10);
    return *end || *ms > 600000 ? -1 : 0;
}
typedef struct { unsigned long ms; char id[80]; } block_job;
static void block_sleep(unsigned long ms, const httpd_task *task) {
    for (unsigned long t = 0; t < ms && !(task && httpd_task_cancelled(task)); t += 10) {
        struct timespec ts = { 0, (long)(ms - t < 10 ? ms - t : 10) * 1000000L };
        nanosleep(&ts, NULL);                  /* a blocking call, checked every 10 ms */
    }
}
static void block_work(void *arg, const httpd_task *task) {
    block_job *j = (block_job *)arg;
    httpd_str id = httpd_task_request_id(task);   /* the request's id, on the pool thread */
    if (id.ptr) snprintf(j->id, sizeof j->id, " (task of %.*s)", (int)id.len, id.ptr);
    block_sleep(j->ms, task);
}
static void block_done(httpd_request *req, void *arg, int status) {
    block_job *j = (block_job *)arg;
    char body[128];
    int n = snprintf(body, sizeof body, "blocked %lu ms%s\n", j->ms, j->id);
    free(j);
    httpd_respond(req, 200, "text/plain", body, (size_t)n);     /* frees it if status != 0 */
    (void)status;
}
static void busy(httpd_request *req) {
    httpd_add_header(req, "Retry-After", "1");
    httpd_respond(req, 503, "text/plain", "busy\n", 5);
}
static void on_block(httpd_request *req) {
    unsigned long ms;
    if (parse_ms(req, &ms) < 0) { httpd_respond(req, 400, "text/plain", "bad ms\n", 7); return; }
    block_job *j = (block_job *)calloc(1, sizeof *j);
    if (!j) { busy(req); return; }
    j->ms = ms;
    if (httpd_defer(req, block_work, block_done, j) < 0) { free(j); busy(req); }
}
static void on_block_inline(httpd_request *req) {
    unsigned long ms;
    if (parse_ms(req, &ms) < 0) { httpd_respond(req, 400, "text/plain", "bad ms\n", 7); return; }
    block_sleep(ms, NULL);                              /* blocks this worker */
    char body[64];
    int n = snprintf(body, sizeof body, "blocked %lu ms\n", ms);
    httpd_respond(req, 200, "text/plain", body, (size_t)n);
}

/* SHA-256 (FIPS 180-4), small and plain: the demo's CPU-bound work. */
typedef struct { uint32_t h[8]; uint8_t out[32]; const uint8_t *data; size_t len; } sha_job;
static uint32_t ror(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }
static void sha256(const uint8_t *msg, size_t len, uint8_t out[32]) {
    static const uint32_t k[64] = {
        0x428a2f98,0x71374491,0xb5c0fbcf,0xe9b5dba5,0x3956c25b,0x59f111f1,0x923f82a4,0xab1c5ed5,
        0xd807aa98,0x12835b01,0x243185be,0x550c7dc3,0x72be5d74,0x80deb1fe,0x9bdc06a7,0xc19bf174,
        0xe49b69c1,0xefbe4786,0x0fc19dc6,0x240ca1cc,0x2de92c6f,0x4a7484aa,0x5cb0a9dc,0x76f988da,
        0x983e5152,0xa831c66d,0xb00327c8,0xbf597fc7,0xc6e00bf3,0xd5a79147,0x06ca6351,0x14292967,
        0x27b70a85,0x2e1b2138,0x4d2c6dfc,0x53380d13,0x650a7354,0x766a0abb,0x81c2c92e,0x92722c85,
        0xa2bfe8a1,0xa81a664b,0xc24b8b70,0xc76c51a3,0xd192e819,0xd6990624,0xf40e3585,0x106aa070,
        0x19a4c116,0x1e376c08,0x2748774c,0x34b0bcb5,0x391c0cb3,0x4ed8aa4a,0x5b9cca4f,0x682e6ff3,
        0x748f82ee,0x78a5636f,0x84c87814,0x8cc70208,0x90befffa,0xa4506ceb,0xbef9a3f7,0xc67178f2 };
    uint32_t h[8] = { 0x6a09e667,0xbb67ae85,0x3c6ef372,0xa54ff53a,
                      0x510e527f,0x9b05688c,0x1f83d9ab,0x5be0cd19 };
    size_t total = ((len + 9 + 63) / 64) * 64;
    for (size_t off = 0; off < total; off += 64) {
        uint8_t blk[64];
        for (int i = 0; i < 64; i++) {
            size_t at = off + (size_t)i;
            blk[i] = at < len ? msg[at] : at == len ? 0x80 : 0;
        }
        if (off + 64 == total)
            for (int i = 0; i < 8; i++) blk[56 + i] = (uint8_t)(((uint64_t)len * 8) >> (56 - 8 * i));
        uint32_t w[64], a[8];
        for (int i = 0; i < 16; i++)
            w[i] = (uint32_t)blk[4*i] << 24 | (uint32_t)blk[4*i+1] << 16 | (uint32_t)blk[4*i+2] << 8 | blk[4*i+3];
        for (int i = 16; i < 64; i++) {
            uint32_t s0 = ror(w[i-15], 7) ^ ror(w[i-15], 18) ^ (w[i-15] >> 3);
            uint32_t s1 = ror(w[i-2], 17) ^ ror(w[i-2], 19) ^ (w[i-2] >> 10);
            w[i] = w[i-16] + s0 + w[i-7] + s1;
        }
        memcpy(a, h, sizeof a);
        for (int i = 0; i < 64; i++) {
            uint32_t t1 = a[7] + (ror(a[4], 6) ^ ror(a[4], 11) ^ ror(a[4], 25))
                        + ((a[4] & a[5]) ^ (~a[4] & a[6])) + k[i] + w[i];
            uint32_t t2 = (ror(a[0], 2) ^ ror(a[0], 13) ^ ror(a[0], 22))
                        + ((a[0] & a[1]) ^ (a[0] & a[2]) ^ (a[1] & a[2]));
            memmove(a + 1, a, 7 * sizeof a[0]);
            a[4] += t1;
            a[0] = t1 + t2;
        }
        for (int i = 0; i < 8; i++) h[i] += a[i];
    }
    for (int i = 0; i < 8; i++) {
        out[4*i] = (uint8_t)(h[i] >> 24); out[4*i+1] = (uint8_t)(h[i] >> 16);
        out[4*i+2] = (uint8_t)(h[i] >> 8); out[4*i+3] = (uint8_t)h[i];
    }
}
static void hash_work(void *arg, const httpd_task *task) {
    sha_job *j = (sha_job *)arg;
    (void)task;
    sha256(j->data, j->len, j->out);           /* req->body stays valid until we respond */
}
static void hash_done(httpd_request *req, void *arg, int status) {
    sha_job *j = (sha_job *)arg;
    char hex[66];
    for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", j->out[i]);
    hex[64] = '\n';
    free(j);
    httpd_respond(req, 200, "text/plain", hex, 65);
    (void)status;
}
static void on_hash(httpd_request *req) {
    sha_job *j = (sha_job *)calloc(1, sizeof *j);
    if (!j) { busy(req); return; }
    j->data = (const uint8_t *)req->body.ptr;
    j->len = req->body.len;
    if (httpd_defer(req, hash_work, hash_done, j) < 0) { free(j); busy(req); }
}

/* CRC-32 (IEEE), continued from crc (0 to start); eight bytes a step ("slicing-by-8"),
   about 1.5 GB/s, so /upload measures the server rather than the checksum. */
static uint32_t crc_table[8][256];
static void crc32_init(void) {               /* once, before the server starts */
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
        crc_table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++)
            crc_table[t][i] = (crc_table[t - 1][i] >> 8) ^ crc_table[0][crc_table[t - 1][i] & 0xff];
}
static uint32_t crc32_update(uint32_t crc, const uint8_t *p, size_t n) {
    crc = ~crc;
    for (; n >= 8; p += 8, n -= 8) {
        uint32_t a = ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16
                      | (uint32_t)p[3] << 24) ^ crc;
        uint32_t b = (uint32_t)p[4] | (uint32_t)p[5] << 8 | (uint32_t)p[6] << 16
                     | (uint32_t)p[7] << 24;
        crc = crc_table[7][a & 0xff] ^ crc_table[6][(a >> 8) & 0xff]
            ^ crc_table[5][(a >> 16) & 0xff] ^ crc_table[4][a >> 24]
            ^ crc_table[3][b & 0xff] ^ crc_table[2][(b >> 8) & 0xff]
            ^ crc_table[1][(b >> 16) & 0xff] ^ crc_table[0][b >> 24];
    }
    while (n--) crc = crc_table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return ~crc;
}
/* ---- a streamed response: write until the connection is full, resume when it drains.
   ?chunked=1 sends it chunked with the CRC-32 as a trailer field (X-Crc32). ---- */
static const char filler[65536] = { 'x' };
typedef struct { uint64_t left; uint32_t crc; int trailer; } bytes_job;
static void bytes_more(httpd_request *req, void *arg, int status) {
    bytes_job *j = (bytes_job *)arg;
    if (status != 0) { free(j); httpd_end(req); return; }  /* client gone: frees it */
    while (j->left) {
        size_t n = j->left < sizeof filler ? (size_t)j->left : sizeof filler;
        int rc = httpd_write(req, filler, n);
        if (rc < 0) { free(j); httpd_end(req); return; }
        if (j->trailer) j->crc = crc32_update(j->crc, (const uint8_t *)filler, n);
        j->left -= n;
        if (rc == HTTPD_WRITE_FULL && j->left) {           /* wait until it drains */
            httpd_on_writable(req, bytes_more, j);
            return;
        }
    }
    if (j->trailer) {
        char crc[16];
        snprintf(crc, sizeof crc, "%08x", j->crc);
        httpd_add_trailer(req, "X-Crc32", crc);
    }
    free(j);
    httpd_end(req);
}
static void on_bytes(httpd_request *req) {
    httpd_str v = httpd_param(req, "n");
    char num[24], *end;
    if (!v.len || v.len >= sizeof num) { httpd_respond(req, 400, "text/plain", "bad n\n", 6); return; }
    memcpy(num, v.ptr, v.len);
    num[v.len] = 0;
    unsigned long long n = strtoull(num, &end, 10);
    if (*end || n > (1ull << 40)) { httpd_respond(req, 400, "text/plain", "bad n\n", 6); return; }
    bytes_job *j = (bytes_job *)calloc(1, sizeof *j);
    if (!j) { httpd_respond(req, 503, "text/plain", "busy\n", 5); return; }
    j->left = n;
    j->trailer = httpd_str_eq(httpd_query_param(req, "chunked"), "1");
    if (j->trailer) httpd_add_header(req, "Trailer", "X-Crc32");
    httpd_begin(req, 200, "application/octet-stream", j->trailer ? -1 : (int64_t)n);
    bytes_more(req, j, 0);
}

/* ---- a streamed upload: CRC-32 as the body arrives, nothing buffered ---- */
typedef struct { uint64_t bytes, since_pause; uint32_t crc, hold_ms; int paced; } upload;
static void upload_resume(httpd_request *req, void *arg, int status) {
    if (status == 0) { httpd_body_resume(req); return; }
    /* the body failed while paused behind this timer: this callback is the one that hears
       it (the body callback is not called again), so it frees the upload's state */
    free(arg);
    httpd_respond(req, 500, "text/plain", "gone\n", 5);            /* frees the request */
}
static void upload_body(httpd_request *req, void *arg, const void *data, size_t len,
                        int status) {
    upload *u = (upload *)arg;
    if (status == 0) {
        u->crc = crc32_update(u->crc, (const uint8_t *)data, len);
        u->bytes += len;
        u->since_pause += len;
        if (u->paced && u->since_pause >= 256 * 1024) {      /* backpressure: stop reading */
            u->since_pause = 0;
            httpd_body_pause(req);
            httpd_after(req, u->hold_ms ? u->hold_ms : 20, upload_resume, u);
            u->hold_ms = 0;                             /* ?hold=ms: the first pause */
        }
        return;
    }
    char msg[64];
    int n = snprintf(msg, sizeof msg, "bytes=%llu crc32=%08x\n",
                     (unsigned long long)u->bytes, u->crc);
    if (status != HTTPD_BODY_END)           /* the handler hears why: cap, timeout, gone */
        fprintf(stderr, "demo: upload failed after %llu bytes: %s\n",
                (unsigned long long)u->bytes, httpd_strerror(status));
    free(u);
    if (status == HTTPD_BODY_END) httpd_respond(req, 200, "text/plain", msg, (size_t)n);
    else httpd_respond(req, 400, "text/plain", "failed\n", 7);  /* frees it; 4xx was sent */
}
static void on_upload(httpd_request *req) {
    upload *u = (upload *)calloc(1, sizeof *u);
    if (!u) { httpd_respond(req, 503, "text/plain", "busy\n", 5); return; }
    u->paced = req->path.len > 7;                 /* /upload-paced */
    httpd_str hold = httpd_query_param(req, "hold");
    if (u->paced && hold.ptr) u->hold_ms = (uint32_t)strtoul(hold.ptr, NULL, 10);
    if (httpd_body_read(req, upload_body, u) < 0) {
        free(u);
        httpd_respond(req, 500, "text/plain", "error\n", 6);
    }
}

static httpd_static www = { .root = "examples/www", .precompressed = 1 };
/* ---- operations ---- */
static void on_cors_echo(httpd_request *req) {
    httpd_str x = httpd_get_header(req, "X-Custom"), ck = httpd_get_header(req, "Cookie");
    char body[512];
    int n = snprintf(body, sizeof body, "method=%.*s x-custom=%.*s cookie=%.*s\n",
                     (int)req->method.len, req->method.ptr, (int)(x.len < 100 ? x.len : 100),
                     x.ptr ? x.ptr : "", (int)(ck.len < 200 ? ck.len : 200), ck.ptr ? ck.ptr : "");
    httpd_add_header(req, "Set-Cookie", "seen=1; Path=/; SameSite=Lax");
    httpd_add_header(req, "X-Demo", "cors");
    httpd_respond(req, 200, "text/plain", body, (size_t)n);
}
static void on_ok(httpd_request *req) { httpd_respond(req, 200, "text/plain", "ok\n", 3); }
/* A middleware in the "auth" position: /private needs "Authorization: Bearer <token>". */
static int auth_request(httpd_request *req, void *arg) {
    const char *token = (const char *)arg;
    httpd_str a = httpd_get_header(req, "Authorization");
    size_t tl = strlen(token);
    if (a.ptr && a.len == 7 + tl && !memcmp(a.ptr, "Bearer ", 7) && !memcmp(a.ptr + 7, token, tl))
        return 0;
    httpd_add_header(req, "WWW-Authenticate", "Bearer");
    httpd_respond(req, 401, "text/plain", "401 Unauthorized\n", 17);
    return 1;
}
/* --json-errors: the server's own error answers as JSON, with the request id. */
static int json_error(httpd_request *req, int status, char *body, size_t cap,
                      const char **content_type) {
    *content_type = "application/json";
    return snprintf(body, cap, "{\"status\":%d,\"error\":\"%s\",\"request_id\":\"%.*s\"}\n",
                    status, httpd_reason(status), (int)req->request_id.len,
                    req->request_id.ptr ? req->request_id.ptr : "");
}

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static void log_stderr(void *user, int level, int code, const char *msg, const char *file,
                       int line) {
    static const char *const names[] = { "error", "warn", "info", "debug" };
    if (level > *(int *)user) return;
    pthread_mutex_lock(&log_lock);
    fprintf(stderr, "httpd: %s: %s (code %d)", names[level & 3], msg, code);
    if (file) fprintf(stderr, " [%s:%d]", file, line);
    fputc('\n', stderr);
    pthread_mutex_unlock(&log_lock);
}

/* ---- WebSockets ---- */
/* echo: the reply goes out with the message; a peer that does not read fills the output,
   then reading pauses until it drained (memory stays bounded) */
static void ws_echo(httpd_ws *ws, int type, const void *data, size_t len, int fin) {
    (void)fin;
    if (httpd_ws_send(ws, type, data, len) == HTTPD_WRITE_FULL) httpd_ws_pause(ws);
}
static void ws_echo_writable(httpd_ws *ws) { httpd_ws_resume(ws); }
static const httpd_ws_desc ws_echo_desc = {
    .on_message = ws_echo, .on_writable = ws_echo_writable,
    .max_message_bytes = 1048576, .check_origin = NULL };
static void on_ws(httpd_request *req) {
    httpd_ws_upgrade(req, &ws_echo_desc, httpd_ws_offers(req, "echo") ? "echo" : NULL, NULL);
}
/* streamed messages: CRC-32 of each as it arrives, nothing buffered */
typedef struct { uint64_t bytes; uint32_t crc; int slow; } ws_up;
static void ws_up_resume(httpd_server *s, httpd_conn_id id, void *arg, int status) {
    (void)arg;
    httpd_ws *ws = status == 0 ? httpd_ws_from_id(s, id) : NULL;
    if (ws) httpd_ws_resume(ws);                   /* gone meanwhile: nothing to do */
}
typedef struct { httpd_server *s; httpd_conn_id id; } ws_up_job;
static void ws_up_work(void *arg, const httpd_task *t) {     /* on the task pool */
    ws_up_job *j = (ws_up_job *)arg;
    (void)t;
    if (httpd_post(j->s, j->id, ws_up_resume, NULL) < 0) { /* stopping: it is closed */ }
    free(j);
}
static void ws_up_msg(httpd_ws *ws, int type, const void *data, size_t len, int fin) {
    ws_up *u = (ws_up *)httpd_ws_user(ws);
    (void)type;
    u->bytes += len;
    u->crc = crc32_update(u->crc, (const uint8_t *)data, len);
    if (fin) {
        char msg[64];
        int n = snprintf(msg, sizeof msg, "bytes=%llu crc32=%08x",
                         (unsigned long long)u->bytes, (unsigned)u->crc);
        httpd_ws_send(ws, HTTPD_WS_TEXT, msg, (size_t)n);
        u->bytes = 0; u->crc = 0;
    } else if (u->slow && len) {                   /* hold the peer back, resume later */
        ws_up_job *j = (ws_up_job *)malloc(sizeof *j);
        if (!j) return;
        j->s = httpd_ws_server(ws); j->id = httpd_ws_id(ws);
        httpd_ws_pause(ws);
        if (httpd_submit(j->s, ws_up_work, j) < 0) { free(j); httpd_ws_resume(ws); }
    }
}
static void ws_up_close(httpd_ws *ws, int code, const char *reason, size_t rl) {
    (void)code; (void)reason; (void)rl;
    free(httpd_ws_user(ws));
}
static const httpd_ws_desc ws_up_desc = {
    .on_message = ws_up_msg, .on_close = ws_up_close, .stream = 1,
    .max_message_bytes = HTTPD_UNLIMITED };
static void on_ws_upload(httpd_request *req) {
    ws_up *u = (ws_up *)calloc(1, sizeof *u);
    if (!u) { httpd_respond(req, 503, "text/plain", "busy\n", 5); return; }
    u->slow = httpd_query_param(req, "slow").ptr != NULL;
    if (httpd_ws_upgrade(req, &ws_up_desc, NULL, u) < 0) free(u);
}

/* GET /whoami: which worker (the connection id's top byte) and what TLS negotiated */
static void on_whoami(httpd_request *req) {
    char addr[64], body[512];
    httpd_tls_info ti;
    if (httpd_client_addr(req, addr, sizeof addr) < 0) strcpy(addr, "?");
    int n = snprintf(body, sizeof body, "client=%s id=%.*s worker=%u tls=%d", addr,
                     (int)req->request_id.len, req->request_id.ptr ? req->request_id.ptr : "",
                     (unsigned)(req->conn.id >> 56), httpd_tls_get_info(req, &ti));
    if (ti.version)
        n += snprintf(body + n, sizeof body - (size_t)n, " version=%s cipher=%s sni=%s alpn=%s "
                      "resumed=%d cert=%d", ti.version, ti.cipher, ti.server_name,
                      ti.alpn ? ti.alpn : "-", ti.resumed, ti.cert);
    body[n++] = '\n';
    httpd_respond(req, 200, "text/plain", body, (size_t)n);
}

static void usage(const char *argv0) {
    fprintf(stderr, "usage: %s [--host H] [--port P] [--workers N] [--verbose] "
            "[--{header,body,keepalive,write,request,shutdown}-timeout S] [--drain-delay S] "
            "[--max-connections N] [--task-threads N] [--task-queue N] [--block-limit N] "
            "[--max-inflight N] [--upload-cap BYTES] [--static-dir DIR] [--static-listings] "
            "[--static-follow-symlinks] [--static-hidden] [--static-cache-control V] "
            "[--ws-ping S] [--ws-timeout S] [--bare] [--access-log PATH|-] "
            "[--log-flush-ms N] [--cors-origin ORIGIN]... [--rate-limit RPS] [--rate-burst N] "
            "[--proxy-protocol] [--proxy-port P] [--proxy-max-connections N] "
            "[--trusted-proxy CIDR]... [--server-name NAME] [--auth-token T] [--json-errors] "
            "[--tls-cert PEM --tls-key PEM [--tls-names N]]... "
            "[--tls-port P] [--tls-only] [--tls-handshake-timeout S] [--tls-half-duplex] "
            "[--tls-max-record N] [--tls-session-cache N]\n", argv0);
    exit(2);
}
static uint32_t seconds_ms(const char *v) {
    double s = atof(v);
    return s <= 0 ? HTTPD_NO_TIMEOUT : (uint32_t)(s * 1000 + 0.5);
}

int main(int argc, char **argv) {
    static httpd_rate_limit limit = { .rate = 5, .burst = 5 };
    static httpd_middleware auth[2];
    static const char *origins[9], *trusted[9];
    int norigins = 0, ntrusted = 0, bare = 0;
    static httpd_cors cors = { .origins = origins, .methods = "GET, HEAD, POST, PUT, DELETE",
                               .headers = "Content-Type, X-Custom, Authorization",
                               .expose = "X-Demo", .credentials = 1, .max_age = 600 };
    static httpd_route routes[] = {
        { .method = "GET",  .pattern = "/",          .handler = on_hello },
        { .method = "POST", .pattern = "/echo",      .handler = on_echo,
          .max_body_bytes = 1048576, .stream_body = 1 },
        { .method = "GET",  .pattern = "/events",    .handler = on_events },
        { .method = "GET",  .pattern = "/health",    .handler = on_health },
        { .method = "GET",  .pattern = "/ready",     .handler = httpd_ready },
        { .method = "GET",  .pattern = "/sleep/:ms", .handler = on_sleep },
        { .method = "GET",  .pattern = "/never",     .handler = on_never },
        { .method = "GET",  .pattern = "/block/:ms", .handler = on_block },
        { .method = "GET",  .pattern = "/block-inline/:ms", .handler = on_block_inline },
        { .method = "POST", .pattern = "/hash",      .handler = on_hash,
          .max_body_bytes = 64u << 20 },
        { .method = "GET",  .pattern = "/bytes/:n",  .handler = on_bytes },
        { .method = "POST", .pattern = "/upload",    .handler = on_upload,
          .max_body_bytes = 1u << 30, .stream_body = 1 },
        { .method = "POST", .pattern = "/upload-paced", .handler = on_upload,
          .max_body_bytes = 1u << 30, .stream_body = 1 },
        HTTPD_STATIC_ROUTE("/static/", &www),
        { .method = "GET",  .pattern = "/ws",        .handler = on_ws },
        { .method = "GET",  .pattern = "/ws-upload", .handler = on_ws_upload },
        { .method = "GET",  .pattern = "/metrics",   .handler = httpd_metrics, .quiet = 1 },
        { .method = "GET",  .pattern = "/limited",   .handler = on_ok, .rate_limit = &limit },
        { .method = "GET",  .pattern = "/whoami",    .handler = on_whoami },
        { .method = "GET",  .pattern = "/cors-echo", .handler = on_cors_echo },
        { .method = "PUT",  .pattern = "/cors-echo", .handler = on_cors_echo },
        { .method = "GET",  .pattern = "/private",   .handler = on_ok, .middleware = auth },
        { 0 },
    };
    httpd_desc d;
    static httpd_tls_cert certs[8];
    static httpd_tls_desc tls;
    int ncert = 0, nkey = 0;
    memset(&d, 0, sizeof d);
    tls.port = 8443;
    int log_level = HTTPD_LOG_WARN, rc;
    d.addr = "127.0.0.1";
    d.port = 8080;
    d.routes = routes;
    d.logger.fn = log_stderr;
    d.logger.user_data = &log_level;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--verbose")) { log_level = HTTPD_LOG_DEBUG; continue; }
        if (!strcmp(a, "--static-listings")) { www.listings = 1; continue; }
        if (!strcmp(a, "--static-follow-symlinks")) { www.follow_symlinks = 1; continue; }
        if (!strcmp(a, "--static-hidden")) { www.hidden = 1; continue; }
        if (!strcmp(a, "--tls-only")) { tls.only = 1; continue; }
        if (!strcmp(a, "--tls-half-duplex")) { tls.half_duplex = 1; continue; }
        if (!strcmp(a, "--bare")) { bare = 1; continue; }
        if (!strcmp(a, "--proxy-protocol")) { d.proxy_protocol = 1; continue; }
        if (!strcmp(a, "--json-errors")) { d.on_error = json_error; continue; }
        if (!v) usage(argv[0]);
        if (!strcmp(a, "--host")) d.addr = v;
        else if (!strcmp(a, "--port")) d.port = (uint16_t)atoi(v);
        else if (!strcmp(a, "--workers")) d.workers = atoi(v);
        else if (!strcmp(a, "--max-connections")) d.max_connections = (uint32_t)atoi(v);
        else if (!strcmp(a, "--header-timeout")) d.header_timeout_ms = seconds_ms(v);
        else if (!strcmp(a, "--body-timeout")) d.body_timeout_ms = seconds_ms(v);
        else if (!strcmp(a, "--keepalive-timeout")) d.keepalive_timeout_ms = seconds_ms(v);
        else if (!strcmp(a, "--write-timeout")) d.write_timeout_ms = seconds_ms(v);
        else if (!strcmp(a, "--request-timeout")) d.request_timeout_ms = seconds_ms(v);
        else if (!strcmp(a, "--shutdown-timeout")) d.shutdown_timeout_ms = seconds_ms(v);
        else if (!strcmp(a, "--drain-delay")) d.drain_delay_ms = (uint32_t)(atof(v) * 1000);
        else if (!strcmp(a, "--task-threads")) d.task_threads = atoi(v);
        else if (!strcmp(a, "--task-queue")) d.task_queue = (uint32_t)atoi(v);
        else if (!strcmp(a, "--max-inflight")) d.max_inflight = (uint32_t)atoi(v);
        else if (!strcmp(a, "--static-dir")) www.root = v;
        else if (!strcmp(a, "--static-cache-control")) www.cache_control = v;
        else if (!strcmp(a, "--ws-ping")) d.ws_ping_interval_ms = seconds_ms(v);
        else if (!strcmp(a, "--ws-timeout")) d.ws_timeout_ms = seconds_ms(v);
        else if (!strcmp(a, "--tls-cert") && ncert < 8) certs[ncert++].cert_file = v;
        else if (!strcmp(a, "--tls-key") && nkey < 8) certs[nkey++].key_file = v;
        else if (!strcmp(a, "--tls-names") && ncert) certs[ncert - 1].names = v;
        else if (!strcmp(a, "--tls-port")) tls.port = (uint16_t)atoi(v);
        else if (!strcmp(a, "--tls-handshake-timeout")) tls.handshake_timeout_ms = seconds_ms(v);
        else if (!strcmp(a, "--tls-max-record")) tls.max_record = (uint32_t)atoi(v);
        else if (!strcmp(a, "--tls-session-cache"))
            tls.session_cache = atoi(v) ? (uint32_t)atoi(v) : HTTPD_TLS_NO_CACHE;
        else if (!strcmp(a, "--upload-cap")) {
            for (httpd_route *r = routes; r->pattern; r++)
                if (!strncmp(r->pattern, "/upload", 7)) r->max_body_bytes = strtoull(v, NULL, 10);
        }
        else if (!strcmp(a, "--access-log")) d.access_log.path = v;
        else if (!strcmp(a, "--log-flush-ms")) d.access_log.flush_ms = (uint32_t)atoi(v);
        else if (!strcmp(a, "--cors-origin") && norigins < 8) origins[norigins++] = v;
        else if (!strcmp(a, "--rate-limit")) limit.rate = atof(v);
        else if (!strcmp(a, "--rate-burst")) limit.burst = (uint32_t)atoi(v);
        else if (!strcmp(a, "--proxy-port")) d.proxy_port = (uint16_t)atoi(v);
        else if (!strcmp(a, "--proxy-max-connections")) d.proxy_max_connections = (uint32_t)atoi(v);
        else if (!strcmp(a, "--trusted-proxy") && ntrusted < 8) trusted[ntrusted++] = v;
        else if (!strcmp(a, "--server-name")) d.server_name = v;
        else if (!strcmp(a, "--auth-token")) auth[0].request = auth_request, auth[0].arg = (void *)v;
        else if (!strcmp(a, "--block-limit")) {
            for (httpd_route *r = routes; r->pattern; r++)
                if (!strcmp(r->pattern, "/block/:ms")) r->max_concurrent = (uint32_t)atoi(v);
        }
        else usage(argv[0]);
        i++;
    }
    if (ncert != nkey) {
        fprintf(stderr, "demo: --tls-cert and --tls-key come in pairs\n");
        return 2;
    }
    if (ncert) { tls.certs = certs; tls.ncerts = ncert; d.tls = &tls; }
    if (!bare) {                    /* operations on, as a production service would run */
        static const char *const log_headers[] = { "User-Agent", "Authorization", NULL };
        d.request_id = 1;
        d.access_log.headers = log_headers;     /* Authorization: redacted by default */
        if (norigins) d.cors = &cors;
        if (ntrusted) d.trusted_proxies = trusted;
    } else {                        /* no middleware at all: every route as plain as "/" */
        for (httpd_route *r = routes; r->pattern; r++) {
            r->rate_limit = NULL;
            r->middleware = NULL;
            if (r->handler == httpd_metrics) r->handler = on_ok;
        }
        d.access_log.path = NULL;
        d.on_error = NULL;
    }
    crc32_init();
    if ((rc = httpd_static_open(&www)) < 0)     /* /static/ answers 500 without it */
        fprintf(stderr, "httpd: /static/: cannot open %s: %s\n", www.root,
                rc == HTTPD_ERR_SYS ? strerror(errno) : httpd_strerror(rc));
    sigset_t sigs;                  /* blocked from here: httpd_serve takes them */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    httpd_server *srv;
    rc = httpd_start(&d, &srv);
    if (rc < 0) {
        fprintf(stderr, "httpd: cannot start on %s:%u: %s\n", d.addr, (unsigned)d.port,
                httpd_strerror(rc));
        return 1;
    }
    if (d.proxy_protocol) printf("httpd: PROXY protocol on %s:%d\n", d.addr, httpd_proxy_port(srv));
    if (httpd_tls_port(srv) >= 0) printf("httpd: tls on %s:%d\n", d.addr, httpd_tls_port(srv));
    if (!d.tls || !tls.only) printf("httpd: listening on %s:%d\n", d.addr, httpd_port(srv));
    fflush(stdout);
    rc = httpd_serve(srv);           /* SIGINT/SIGTERM: graceful stop, twice: immediate */
    httpd_destroy(srv);
    return rc < 0;
}
