/* demo.c - the demo server: every feature of httpd.h on a few routes.
   build/demo --host H --port P --workers N     (port 0: ephemeral; the port is printed)
     GET  /         -> 200 "Hello, World!"
     POST /echo     -> 200 echoing the body (cap 1 MiB, over -> 413)
     GET  /health   -> 200 "ok"
   Prints "httpd: listening on HOST:PORT" once ready; SIGINT/SIGTERM stop it gracefully. */
#define HTTPD_IMPLEMENTATION
#include "../httpd.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <signal.h>

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

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static void log_stderr(void *user, int level, int code, const char *msg, const char *file,
                       int line) {
    static const char *const names[] = { "error", "warn", "info", "debug" };
    int max_level = *(int *)user;
    if (level > max_level) return;
    pthread_mutex_lock(&log_lock);
    fprintf(stderr, "httpd: %s: %s (code %d)", names[level & 3], msg, code);
    if (file) fprintf(stderr, " [%s:%d]", file, line);
    fputc('\n', stderr);
    pthread_mutex_unlock(&log_lock);
}

static void usage(const char *argv0) {
    fprintf(stderr, "usage: %s [--host H] [--port P] [--workers N] [--verbose]\n", argv0);
    exit(2);
}

int main(int argc, char **argv) {
    static const httpd_route routes[] = {
        { "GET",  "/",       on_hello,  NULL, 0 },
        { "POST", "/echo",   on_echo,   NULL, 1048576 },
        { "GET",  "/health", on_health, NULL, 0 },
        { NULL, NULL, NULL, NULL, 0 },
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
