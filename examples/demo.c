/* demo.c - the demo server: the features of httpd.h on a few routes.
   build/demo [--host H] [--port P] [--workers N] [--verbose]
              [--header-timeout S] [--body-timeout S] [--keepalive-timeout S]
              [--write-timeout S] [--request-timeout S] [--shutdown-timeout S]
              [--drain-delay S] [--max-connections N]          (S: seconds, may be 0.5)
     GET  /           -> 200 "Hello, World!"
     POST /echo       -> 200 echoing the body (cap 1 MiB, over -> 413)
     GET  /health     -> 200 "ok"            (liveness)
     GET  /ready      -> 200, or 503 once a graceful stop began (readiness)
     GET  /sleep/:ms  -> 200 after ms milliseconds, on a timer (the worker is not blocked)
     GET  /never      -> never answered: the request timeout answers 504
   Port 0 binds an ephemeral port. Prints "httpd: listening on HOST:PORT" once ready;
   SIGINT/SIGTERM stop it gracefully, a second one at once. */
#define HTTPD_IMPLEMENTATION
#include "../httpd.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>

static void on_hello(httpd_request *req) {
    httpd_respond(req, 200, "text/plain", "Hello, World!", 13);
}
static void on_echo(httpd_request *req) {
    httpd_str ct = httpd_get_header(req, "Content-Type");
    char type[128] = "application/octet-stream";
    if (ct.ptr && ct.len < sizeof type) { memcpy(type, ct.ptr, ct.len); type[ct.len] = 0; }
    httpd_respond(req, 200, type, req->body.ptr, req->body.len);
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

static void usage(const char *argv0) {
    fprintf(stderr, "usage: %s [--host H] [--port P] [--workers N] [--verbose] "
            "[--{header,body,keepalive,write,request,shutdown}-timeout S] [--drain-delay S] "
            "[--max-connections N]\n", argv0);
    exit(2);
}
static uint32_t seconds_ms(const char *v) {
    double s = atof(v);
    return s <= 0 ? HTTPD_NO_TIMEOUT : (uint32_t)(s * 1000 + 0.5);
}

int main(int argc, char **argv) {
    static const httpd_route routes[] = {
        { .method = "GET",  .pattern = "/",          .handler = on_hello },
        { .method = "POST", .pattern = "/echo",      .handler = on_echo,
          .max_body_bytes = 1048576 },
        { .method = "GET",  .pattern = "/health",    .handler = on_health },
        { .method = "GET",  .pattern = "/ready",     .handler = httpd_ready },
        { .method = "GET",  .pattern = "/sleep/:ms", .handler = on_sleep },
        { .method = "GET",  .pattern = "/never",     .handler = on_never },
        { 0 },
    };
    httpd_desc d;
    memset(&d, 0, sizeof d);
    int log_level = HTTPD_LOG_WARN;
    d.addr = "127.0.0.1";
    d.port = 8080;
    d.routes = routes;
    d.logger.fn = log_stderr;
    d.logger.user_data = &log_level;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--verbose")) { log_level = HTTPD_LOG_DEBUG; continue; }
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
        else usage(argv[0]);
        i++;
    }
    httpd_server *srv;
    int rc = httpd_start(&d, &srv);
    if (rc < 0) {
        fprintf(stderr, "httpd: cannot start on %s:%u: %s\n", d.addr, (unsigned)d.port,
                httpd_strerror(rc));
        return 1;
    }
    printf("httpd: listening on %s:%d\n", d.addr, httpd_port(srv));
    fflush(stdout);
    return httpd_serve(srv) < 0;     /* SIGINT/SIGTERM: graceful stop, twice: immediate */
}
