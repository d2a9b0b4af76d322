/* store.c - the smallest correct way to stream an upload to disk: every body piece is
   written by the blocking-task pool, never on the worker, and nothing is copied.
       cc -O2 -o store examples/store.c -lpthread
       ./store --dir /tmp/store --max-bytes 104857600 --port 8080
       curl -T image.bin http://127.0.0.1:8080/store/image.bin
   The rules this relies on (see STREAMING in httpd.h):
   - a piece is at most desc.read_buffer_bytes (17 KiB by default);
   - httpd_defer from the body callback pauses the body until the task's `done` has run,
     and the piece stays valid until then, so the task can write it as it is;
   - the route's max_body_bytes is the cap: a larger Content-Length gets 413 before any
     byte is read, a chunked body gets 413 the moment it crosses it;
   - after an error the body callback (or the pending task's done) hears why, and
     httpd_respond then only frees the request.
   The file is written under a temporary name and renamed once complete. */
#define HTTPD_IMPLEMENTATION
#include "../httpd.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *dir = ".";

typedef struct store {
    int fd;                    /* the temporary file                                 */
    char tmp[512], path[512];
    const void *piece;         /* the piece being written by the task                */
    size_t len;
    int err;                   /* errno of a failed write                            */
    unsigned long long bytes;
} store;

static void finish(httpd_request *req, store *st, int status) {
    char msg[600];
    int n;
    if (status == HTTPD_BODY_END && !st->err && rename(st->tmp, st->path) == 0) {
        n = snprintf(msg, sizeof msg, "stored %llu bytes as %s\n", st->bytes, st->path);
        httpd_respond(req, 201, "text/plain", msg, (size_t)n);
    } else {
        unlink(st->tmp);
        n = snprintf(msg, sizeof msg, "not stored: %s\n",
                     st->err ? strerror(st->err) : httpd_strerror(status));
        httpd_respond(req, 500, "text/plain", msg, (size_t)n);   /* after a body error: frees */
    }
    close(st->fd);
    free(st);
}
static void write_piece(void *arg, const httpd_task *task) {      /* on the task pool */
    store *st = (store *)arg;
    const char *p = (const char *)st->piece;
    size_t left = st->len;
    while (left && !httpd_task_cancelled(task)) {
        ssize_t w = write(st->fd, p, left);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) { st->err = errno; return; }
        p += w;
        left -= (size_t)w;
    }
}
static void written(httpd_request *req, void *arg, int status) {  /* back on the worker */
    store *st = (store *)arg;
    if (status != 0) finish(req, st, status);       /* client gone or deadline: clean up */
    else if (st->err) finish(req, st, HTTPD_ERR_SYS);
    /* else: the body resumes by itself after this returns */
}
static void piece(httpd_request *req, void *arg, const void *data, size_t len, int status) {
    store *st = (store *)arg;
    if (status != 0) { finish(req, st, status); return; }     /* HTTPD_BODY_END or error */
    st->piece = data;                                         /* valid until `written` */
    st->len = len;
    st->bytes += len;
    if (httpd_defer(req, write_piece, written, st) < 0) {     /* pool full: refuse */
        httpd_add_header(req, "Retry-After", "1");
        unlink(st->tmp);
        close(st->fd);
        free(st);
        httpd_respond(req, 503, "text/plain", "busy\n", 5);
    }
}
static void on_store(httpd_request *req) {
    httpd_str name = httpd_param(req, "name");
    for (size_t i = 0; i < name.len; i++) {                   /* a plain file name only */
        char c = name.ptr[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
              || c == '.' || c == '-' || c == '_') || (i == 0 && c == '.')) {
            httpd_respond(req, 400, "text/plain", "bad name\n", 9);
            return;
        }
    }
    store *st = (store *)calloc(1, sizeof *st);
    if (!st) { httpd_respond(req, 503, "text/plain", "busy\n", 5); return; }
    snprintf(st->path, sizeof st->path, "%s/%.*s", dir, (int)name.len, name.ptr);
    snprintf(st->tmp, sizeof st->tmp, "%s/.store-XXXXXX", dir);
    /* opening a local file is a short call; the writes are what may block */
    if ((st->fd = mkstemp(st->tmp)) < 0) {
        free(st);
        httpd_respond(req, 500, "text/plain", "cannot create\n", 14);
        return;
    }
    httpd_body_read(req, piece, st);                  /* sends 100 Continue if asked */
}

int main(int argc, char **argv) {
    static httpd_route routes[] = {
        { .method = "PUT", .pattern = "/store/:name", .handler = on_store, .stream_body = 1,
          .max_body_bytes = 100u << 20 },
        { 0 }
    };
    httpd_desc d = { 0 };
    d.port = 8080;
    d.routes = routes;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--dir")) dir = argv[i + 1];
        else if (!strcmp(argv[i], "--max-bytes")) routes[0].max_body_bytes = strtoull(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--host")) d.addr = argv[i + 1];
        else if (!strcmp(argv[i], "--port")) d.port = (uint16_t)atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--workers")) d.workers = atoi(argv[i + 1]);
        else {
            fprintf(stderr, "usage: %s [--dir DIR] [--max-bytes N] [--host H] [--port P] "
                    "[--workers N]\n", argv[0]);
            return 2;
        }
    }
    sigset_t sigs;                       /* httpd_serve takes SIGINT/SIGTERM */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    httpd_server *srv;
    if (httpd_start(&d, &srv) < 0) return 1;          /* the reason is on stderr */
    printf("httpd: listening on %s:%d, storing in %s\n", d.addr ? d.addr : "127.0.0.1",
           httpd_port(srv), dir);
    fflush(stdout);
    int rc = httpd_serve(srv);
    httpd_destroy(srv);
    return rc < 0;
}
