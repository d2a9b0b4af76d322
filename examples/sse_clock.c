/* sse_clock.c - a clock in the browser over Server-Sent Events.
       cc -std=c11 -O2 -o sse_clock examples/sse_clock.c -lpthread
       ./sse_clock --port 8080        then open http://127.0.0.1:8080/
   GET / is a page whose EventSource reads GET /clock: one "time" event a second (id = the
   Unix time, so a reconnecting browser says Last-Event-ID), and a comment every 15 s that
   keeps proxies from timing the stream out. Timers run on the connection's worker
   (httpd_after), so 10,000 open clocks cost 10,000 timers, not threads. A graceful stop
   ends every stream at its next tick; the browser reconnects to another instance. */
#define HTTPD_IMPLEMENTATION
#include "../httpd.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char page[] =
    "<!doctype html><meta charset=utf-8><title>httpd.h clock</title>\n"
    "<h1 id=clock>connecting...</h1><p id=status></p>\n"
    "<script>\n"
    "const es = new EventSource('/clock');\n"
    "es.addEventListener('time', e => {\n"
    "  document.getElementById('clock').textContent = e.data;\n"
    "  document.getElementById('status').textContent = 'event ' + e.lastEventId;\n"
    "});\n"
    "es.onerror = () => { document.getElementById('status').textContent = 'reconnecting'; };\n"
    "</script>\n";

static void on_page(httpd_request *req) {
    httpd_respond(req, 200, "text/html; charset=utf-8", page, sizeof page - 1);
}

typedef struct { unsigned ticks, limit; } clock_state;

static void tick(httpd_request *req, void *arg, int status) {
    clock_state *c = (clock_state *)arg;
    if (status == 0 && !httpd_stopping(req->server) && c->ticks < c->limit) {
        time_t now = time(NULL);
        struct tm tm;
        char id[24], text[64];
        snprintf(id, sizeof id, "%lld", (long long)now);
        strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S UTC", gmtime_r(&now, &tm));
        int rc = httpd_sse_send(req, "time", id, text);
        if (rc >= 0 && ++c->ticks % 15 == 0) rc = httpd_sse_comment(req, "keep-alive");
        /* a client that stops reading fills the buffer: drop it rather than queue more */
        if (rc == 0 && httpd_after(req, 1000, tick, c) == 0) return;
    }
    free(c);
    httpd_end(req);             /* also frees the request when the client left */
}

static void on_clock(httpd_request *req) {
    clock_state *c = (clock_state *)calloc(1, sizeof *c);
    if (!c) { httpd_respond(req, 503, "text/plain", "busy\n", 5); return; }
    httpd_str n = httpd_query_param(req, "ticks");    /* ?ticks=N ends it (tests) */
    c->limit = n.ptr ? (unsigned)strtoul(n.ptr, NULL, 10) : 0xffffffffu;
    httpd_add_header(req, "Access-Control-Allow-Origin", "*");
    if (httpd_sse_begin(req) < 0) {                    /* no stream started: answer */
        free(c);
        httpd_respond(req, 503, "text/plain", "busy\n", 5);
        return;
    }
    httpd_sse_comment(req, "clock");
    tick(req, c, 0);
}

int main(int argc, char **argv) {
    static const httpd_route routes[] = {
        { .method = "GET", .pattern = "/", .handler = on_page },
        { .method = "GET", .pattern = "/clock", .handler = on_clock },
        { 0 },
    };
    httpd_desc d = { 0 };
    d.port = 8080;
    d.routes = routes;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--host")) d.addr = argv[i + 1];
        else if (!strcmp(argv[i], "--port")) d.port = (uint16_t)atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--workers")) d.workers = atoi(argv[i + 1]);
        else { fprintf(stderr, "usage: %s [--host H] [--port P] [--workers N]\n", argv[0]);
               return 2; }
    }
    sigset_t sigs;                      /* httpd_serve takes SIGINT/SIGTERM */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    httpd_server *srv;
    int rc = httpd_start(&d, &srv);
    if (rc < 0) { fprintf(stderr, "sse_clock: %s\n", httpd_strerror(rc)); return 1; }
    printf("httpd: listening on %s:%d\n", d.addr ? d.addr : "127.0.0.1", httpd_port(srv));
    fflush(stdout);
    rc = httpd_serve(srv);
    httpd_destroy(srv);
    return rc < 0;
}
