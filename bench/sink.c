/* bench/sink.c - a diagnostic server for bench/streaming.sh: httpd.h with upload handlers
   that cost (almost) nothing, to separate the library's streaming path from the demo's
   handler (its CRC-32; byte-at-a-time until commit d83636d, slicing-by-8 since).

   sink [--port P] [--workers N]      (127.0.0.1; prints "httpd: listening on HOST:PORT")
     POST /discard -> streamed body (cap 1 GiB), only counted: "bytes=N"
     POST /upload  -> streamed body (cap 1 GiB), CRC-32 by slicing-by-8 (bench/crc32.h; the
                      same answer as build/demo's /upload: "bytes=N crc32=XXXXXXXX")
     GET  /        -> "Hello, World!" */
#define HTTPD_IMPLEMENTATION
#include "../httpd.h"
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "crc32.h"           /* crc_init, crc_update: CRC-32 by slicing-by-8 */

typedef struct { uint64_t bytes; uint32_t crc; int crc_on; } sink_state;
static void sink_body(httpd_request *req, void *arg, const void *data, size_t len, int status) {
    sink_state *s = (sink_state *)arg;
    if (status == 0) {
        if (s->crc_on) s->crc = crc_update(s->crc, (const uint8_t *)data, len);
        s->bytes += len;
        return;
    }
    char msg[64];
    int n = s->crc_on ? snprintf(msg, sizeof msg, "bytes=%llu crc32=%08x\n", (unsigned long long)s->bytes, s->crc)
                      : snprintf(msg, sizeof msg, "bytes=%llu\n", (unsigned long long)s->bytes);
    free(s);
    if (status == HTTPD_BODY_END) httpd_respond(req, 200, "text/plain", msg, (size_t)n);
    else httpd_respond(req, 400, "text/plain", "failed\n", 7);
}
static void on_sink(httpd_request *req) {
    sink_state *s = (sink_state *)calloc(1, sizeof *s);
    if (!s) { httpd_respond(req, 503, "text/plain", "busy\n", 5); return; }
    s->crc_on = req->user_data != NULL;
    if (httpd_body_read(req, sink_body, s) < 0) {
        free(s);
        httpd_respond(req, 500, "text/plain", "error\n", 6);
    }
}
static void on_hello(httpd_request *req) {
    httpd_respond(req, 200, "text/plain", "Hello, World!", 13);
}

int main(int argc, char **argv) {
    static int crc_on = 1;
    static httpd_route routes[] = {
        { .method = "GET",  .pattern = "/",        .handler = on_hello },
        { .method = "POST", .pattern = "/discard", .handler = on_sink,
          .max_body_bytes = 1u << 30, .stream_body = 1 },
        { .method = "POST", .pattern = "/upload",  .handler = on_sink, .user_data = &crc_on,
          .max_body_bytes = 1u << 30, .stream_body = 1 },
        { 0 },
    };
    httpd_desc d;
    memset(&d, 0, sizeof d);
    d.addr = "127.0.0.1";
    d.port = 8080;
    d.routes = routes;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--port")) d.port = (uint16_t)atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--workers")) d.workers = atoi(argv[i + 1]);
        else { fprintf(stderr, "usage: sink [--port P] [--workers N]\n"); return 2; }
    }
    crc_init();
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    httpd_server *srv;
    int rc = httpd_start(&d, &srv);
    if (rc < 0) {
        fprintf(stderr, "sink: cannot start: %s\n", httpd_strerror(rc));
        return 1;
    }
    printf("httpd: listening on %s:%d\n", d.addr, httpd_port(srv));
    fflush(stdout);
    return httpd_serve(srv) < 0;
}
