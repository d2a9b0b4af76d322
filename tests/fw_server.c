/* fw_server.c - a small firmware-style server whose allocator hooks count every call.
   Prints, once started:  "heap N bytes in M allocations at start" and "port P".
   GET /        -> "hello"
   GET /echo/:x -> x
   POST /sum    -> the body's byte count and byte sum ("n s")
   GET /stats   -> "allocs A frees F live L" (counted since the start)
   GET /task    -> "task N": N computed by a blocking task (httpd_defer; with HTTPD_NO_THREADS
                   it runs on the loop between turns); 404 under HTTPD_NO_TASKS
   GET /slow    -> "slow": a task that sleeps 1 s first (holds its request meanwhile)
   GET /ws      -> a WebSocket echoing every message (404 under HTTPD_NO_WEBSOCKET)
   GET /limited -> "hello"; with --rate-limit, 2 at once, then 1 per 100 s (429 after two;
                   404 under HTTPD_NO_MIDDLEWARE)
   Options: --port P --conns N --prealloc (desc.preallocate) --no-serve (print and exit);
   --addr A (desc.addr); --timeout-ms N (header and keep-alive timeouts); --rate-limit;
   --request-id, --metrics: ask for operations (refused by some builds and modes);
   --stream-route: add a stream_body route (refused under HTTPD_NO_STREAMING).
   Built by tests/test_firmware.py (default, HTTPD_MINIMAL, HTTPD_NO_THREADS). */
#include <stdatomic.h>
#include <stddef.h>
static atomic_long fw_allocs, fw_frees, fw_live_bytes;
static void *fw_malloc(size_t n);
static void *fw_realloc(void *p, size_t n);
static void fw_free(void *p);
#define HTTPD_MALLOC(ctx, n) ((void)(ctx), fw_malloc(n))
#define HTTPD_REALLOC(ctx, p, n) ((void)(ctx), fw_realloc((p), (n)))
#define HTTPD_FREE(ctx, p) ((void)(ctx), fw_free(p))
#define HTTPD_IMPLEMENTATION
#include "../httpd.h"

/* each block carries its size in front, so live bytes can be counted */
typedef union { size_t n; max_align_t a; } fw_hdr;
static void *fw_malloc(size_t n) {
    fw_hdr *h = (fw_hdr *)malloc(sizeof *h + n);
    if (!h) return NULL;
    h->n = n;
    atomic_fetch_add(&fw_allocs, 1);
    atomic_fetch_add(&fw_live_bytes, (long)n);
    return h + 1;
}
static void fw_free(void *p) {
    if (!p) return;
    fw_hdr *h = (fw_hdr *)p - 1;
    atomic_fetch_add(&fw_frees, 1);
    atomic_fetch_sub(&fw_live_bytes, (long)h->n);
    free(h);
}
static void *fw_realloc(void *p, size_t n) {
    if (!p) return fw_malloc(n);
    fw_hdr *h = (fw_hdr *)p - 1;
    size_t old = h->n;
    fw_hdr *q = (fw_hdr *)realloc(h, sizeof *q + n);
    if (!q) return NULL;
    q->n = n;
    atomic_fetch_add(&fw_allocs, 1);             /* a realloc is an allocation too */
    atomic_fetch_add(&fw_live_bytes, (long)n - (long)old);
    return q + 1;
}

static atomic_long base_allocs, base_frees;  /* set after httpd_start: workers read them */

static void hello(httpd_request *req) { httpd_respond(req, 200, "text/plain", "hello", 5); }
static void echo(httpd_request *req) {
    httpd_str x = httpd_param(req, "x");
    httpd_respond(req, 200, "text/plain", x.ptr, x.len);
}
static void sum(httpd_request *req) {
    unsigned long s = 0;
    for (size_t i = 0; i < req->body.len; i++) s += (unsigned char)req->body.ptr[i];
    char out[64];
    int n = snprintf(out, sizeof out, "%lu %lu", (unsigned long)req->body.len, s);
    httpd_respond(req, 200, "text/plain", out, (size_t)n);
}
#ifndef HTTPD_NO_TASKS
static void task_work(void *arg, const httpd_task *t) {
    (void)t;
    unsigned long *n = (unsigned long *)arg;
    for (unsigned long i = 1; i <= 1000; i++) *n += i;
}
static void task_done(httpd_request *req, void *arg, int status) {
    unsigned long *n = (unsigned long *)arg;
    char out[64];
    int len = snprintf(out, sizeof out, "task %lu", *n);
    free(n);
    if (status == 0) httpd_respond(req, 200, "text/plain", out, (size_t)len);
    else if (req) httpd_respond(req, 503, "text/plain", "busy", 4);
}
static void slow_work(void *arg, const httpd_task *t) {
    (void)arg; (void)t;
    struct timespec ts = { 1, 0 };
    nanosleep(&ts, NULL);
}
static void slow_done(httpd_request *req, void *arg, int status) {
    (void)arg;                   /* answered even when the client left: that frees req */
    if (status == 0) httpd_respond(req, 200, "text/plain", "slow", 4);
    else httpd_respond(req, 503, "text/plain", "gone", 4);
}
static void slow(httpd_request *req) {
    if (httpd_defer(req, slow_work, slow_done, NULL) < 0)
        httpd_respond(req, 503, "text/plain", "busy", 4);
}
static void task(httpd_request *req) {
    unsigned long *n = (unsigned long *)calloc(1, sizeof *n);   /* not counted: the app's */
    if (!n || httpd_defer(req, task_work, task_done, n) < 0) {
        free(n);
        httpd_respond(req, 503, "text/plain", "busy", 4);
    }
}
#endif
#ifndef HTTPD_NO_WEBSOCKET
static void ws_echo(httpd_ws *ws, int type, const void *data, size_t len, int fin) {
    (void)fin;
    httpd_ws_send(ws, type, data, len);
}
static const httpd_ws_desc ws_desc = { .on_message = ws_echo };
static void ws(httpd_request *req) { httpd_ws_upgrade(req, &ws_desc, NULL, NULL); }
#endif
#ifndef HTTPD_NO_MIDDLEWARE
static const httpd_rate_limit limit = { .rate = 0.01, .burst = 2, .max_clients = 16 };
#endif
static void stats(httpd_request *req) {
    char out[128];
    int n = snprintf(out, sizeof out, "allocs %ld frees %ld live %ld",
                     atomic_load(&fw_allocs) - atomic_load(&base_allocs),
                     atomic_load(&fw_frees) - atomic_load(&base_frees),
                     atomic_load(&fw_live_bytes));
    httpd_respond(req, 200, "text/plain", out, (size_t)n);
}

int main(int argc, char **argv) {
    static httpd_route routes[] = {
        { .method = "PUT", .pattern = "/streamed", .handler = hello, .stream_body = 1 },
        { .method = "GET", .pattern = "/", .handler = hello },
        { .method = "GET", .pattern = "/echo/:x", .handler = echo },
        { .method = "POST", .pattern = "/sum", .handler = sum },
        { .method = "GET", .pattern = "/stats", .handler = stats },
#ifndef HTTPD_NO_TASKS
        { .method = "GET", .pattern = "/task", .handler = task },
        { .method = "GET", .pattern = "/slow", .handler = slow },
#endif
#ifndef HTTPD_NO_WEBSOCKET
        { .method = "GET", .pattern = "/ws", .handler = ws },
#endif
#ifndef HTTPD_NO_MIDDLEWARE
        { .method = "GET", .pattern = "/limited", .handler = hello },
#endif
        { 0 },
    };
    static const httpd_metric no_metrics[1];
    int streamed = 0;
    httpd_desc d = { 0 };
    int serve = 1;
    d.port = 0;
    d.workers = 1;
    d.max_connections = 4;
    d.max_header_bytes = 2048;
    d.max_request_line = 512;
    d.max_headers = 16;
    d.max_body_bytes = 4096;
    d.read_buffer_bytes = 2048;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--port") && i + 1 < argc) d.port = (uint16_t)atoi(argv[++i]);
        else if (!strcmp(argv[i], "--conns") && i + 1 < argc)
            d.max_connections = (uint32_t)atoi(argv[++i]);
        else if (!strcmp(argv[i], "--prealloc")) d.preallocate = 1;
        else if (!strcmp(argv[i], "--addr") && i + 1 < argc) d.addr = argv[++i];
        else if (!strcmp(argv[i], "--timeout-ms") && i + 1 < argc)     /* head, keep-alive */
            d.header_timeout_ms = d.keepalive_timeout_ms = (uint32_t)atoi(argv[++i]);
        else if (!strcmp(argv[i], "--request-id")) d.request_id = 1;     /* must fail when */
        else if (!strcmp(argv[i], "--metrics")) d.metrics = no_metrics;  /* not available */
        else if (!strcmp(argv[i], "--stream-route")) streamed = 1;       /* HTTPD_NO_STREAMING */
        else if (!strcmp(argv[i], "--max-inflight") && i + 1 < argc)      /* HTTPD_NO_SHED */
            d.max_inflight = (uint32_t)atoi(argv[++i]);
#ifndef HTTPD_NO_MIDDLEWARE
        else if (!strcmp(argv[i], "--rate-limit")) {  /* (not by default: plain heap figures) */
            for (httpd_route *r = routes; r->pattern; r++)
                if (!strcmp(r->pattern, "/limited")) r->rate_limit = &limit;
        }
#endif
        else if (!strcmp(argv[i], "--no-serve")) serve = 0;
        else {
            fprintf(stderr, "usage: fw_server [--port P] [--addr A] [--conns N] [--prealloc] "
                    "[--timeout-ms N] [--rate-limit] [--no-serve]\n");
            return 2;
        }
    }
    d.routes = streamed ? routes : routes + 1;        /* the streamed route first, or not */
    sigset_t set;                           /* as httpd_run does: for httpd_serve */
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigprocmask(SIG_BLOCK, &set, NULL);     /* one thread so far */
    httpd_server *s;
    int rc = httpd_start(&d, &s);
    if (rc < 0) { fprintf(stderr, "httpd_start: %s\n", httpd_strerror(rc)); return 1; }
    atomic_store(&base_allocs, atomic_load(&fw_allocs));
    atomic_store(&base_frees, atomic_load(&fw_frees));
    printf("heap %ld bytes in %ld allocations at start\n", atomic_load(&fw_live_bytes),
           atomic_load(&base_allocs));
    printf("port %d\n", httpd_port(s));
    fflush(stdout);
    if (serve) httpd_serve(s);
    else httpd_stop(s, 0), httpd_wait(s);
    printf("after start: %ld allocations, %ld frees\n",
           atomic_load(&fw_allocs) - atomic_load(&base_allocs),
           atomic_load(&fw_frees) - atomic_load(&base_frees));
    httpd_destroy(s);
    return 0;
}
