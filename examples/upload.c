/* upload.c - uploads streamed to disk, never held whole in memory. Two ways in:
     PUT /files/<name>   the request body is the file: curl -T image.bin URL/files/image.bin
     GET /               a page with a form; the browser POSTs /form as multipart/form-data
                         and every file part is streamed into its own file
       cc -std=c11 -O2 -o upload examples/upload.c -lpthread
       ./upload --dir /tmp/uploads --port 8080
   Names are reduced to [A-Za-z0-9._-] (a browser's filename is only a hint, never a path);
   files are written under temporary names and renamed only once the whole request
   succeeded, so a cut or refused upload leaves nothing behind. Disk writes run on the blocking-task pool, not on the worker: body pieces
   are copied into a 256 KiB buffer; when it fills, the body is paused (TCP flow control
   holds the client back) while a task writes it out, then resumed. Memory per upload: that
   buffer, whatever the size. Caps: --max-bytes per request (413 beyond), 64 parts. */
#define HTTPD_IMPLEMENTATION
#include "../httpd.h"
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FLUSH_AT (256u * 1024u)
#define MAX_PARTS 64
static const char *dir = ".";

typedef struct file {                   /* one file being written */
    int  fd;                            /* -1 until the task creates it */
    int  complete;                      /* all its content is written and it is closed */
    char tmp[600], name[256];
    uint64_t bytes;
    struct file *next;
} file;

typedef struct upload {
    httpd_multipart *mp;                /* NULL for PUT */
    char    *buf;                       /* bytes not written yet, for one or more files */
    size_t   len, cap;
    struct { file *f; size_t len; int last; } seg[MAX_PARTS + 2];
    int      nseg;
    file    *cur;                       /* the file receiving content; NULL: a text field */
    file    *files;
    char     report[4096];              /* the answer, built as parts end */
    size_t   rlen;
    char     field[256];                /* a text field's name=value (shown truncated) */
    size_t   flen;
    int      status;                    /* 0, or the error status to answer */
    int      ended, writing, io_errno, skip;
} upload;

static void report(upload *u, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    if (u->rlen < sizeof u->report)
        u->rlen += (size_t)vsnprintf(u->report + u->rlen, sizeof u->report - u->rlen, fmt, ap);
    va_end(ap);
    if (u->rlen >= sizeof u->report) u->rlen = sizeof u->report - 1;
}

/* The last path segment of a name, reduced to [A-Za-z0-9._-], not hidden, not empty. */
static void clean_name(char *out, size_t cap, httpd_str in, unsigned n) {
    size_t start = 0, o = 0;
    for (size_t i = 0; i < in.len; i++)
        if (in.ptr[i] == '/' || in.ptr[i] == '\\') start = i + 1;
    for (size_t i = start; i < in.len && o + 1 < cap; i++) {
        char ch = in.ptr[i];
        int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9')
                 || ch == '.' || ch == '-' || ch == '_';
        out[o++] = ok ? ch : '_';
    }
    out[o] = '\0';
    if (!o || out[0] == '.') snprintf(out, cap, "upload-%u", n);
}

static file *new_file(upload *u, httpd_str name, unsigned n) {
    file *f = (file *)calloc(1, sizeof *f);
    if (!f) return NULL;
    f->fd = -1;
    clean_name(f->name, sizeof f->name, name, n);
    f->next = u->files;
    u->files = f;
    return f;
}

/* Content for file f (NULL: the end of f). Kept in order as segments of u->buf. */
static int add(upload *u, file *f, const void *data, size_t n, int last) {
    if (u->len + n > u->cap) {
        size_t cap = u->len + n > FLUSH_AT ? u->len + n : FLUSH_AT;
        char *b = (char *)realloc(u->buf, cap);
        if (!b) return -1;
        u->buf = b;
        u->cap = cap;
    }
    if (n) memcpy(u->buf + u->len, data, n);
    u->len += n;
    f->bytes += n;
    if (!u->nseg || u->seg[u->nseg - 1].f != f || u->seg[u->nseg - 1].last) {
        if (u->nseg == MAX_PARTS + 2) return -1;
        u->seg[u->nseg].f = f;
        u->seg[u->nseg].len = 0;
        u->seg[u->nseg].last = 0;
        u->nseg++;
    }
    u->seg[u->nseg - 1].len += n;
    u->seg[u->nseg - 1].last = last;
    return 0;
}

/* ---- on the task pool: the only place that touches the disk ---- */
static void write_out(void *arg, const httpd_task *task) {
    upload *u = (upload *)arg;
    const char *p = u->buf;
    for (int i = 0; i < u->nseg && !u->io_errno; i++) {
        file *f = u->seg[i].f;
        size_t left = u->seg[i].len;
        if (f->fd < 0) {
            snprintf(f->tmp, sizeof f->tmp, "%s/.upload-XXXXXX", dir);
            if ((f->fd = mkstemp(f->tmp)) < 0) { u->io_errno = errno; break; }
            fchmod(f->fd, 0644);                    /* mkstemp makes it 0600 */
        }
        while (left && !u->io_errno) {
            ssize_t w = httpd_task_cancelled(task) ? (errno = ECANCELED, -1)
                                                   : write(f->fd, p, left);
            if (w < 0 && errno == EINTR) continue;
            if (w < 0) { u->io_errno = errno; break; }
            p += w;
            left -= (size_t)w;
        }
        p += left;
        if (u->seg[i].last && !u->io_errno) {          /* complete, still unnamed */
            if (close(f->fd) < 0) u->io_errno = errno;
            f->fd = -1;
            f->complete = 1;
        }
    }
    /* all or nothing: the files get their names only once the whole request succeeded */
    for (file *f = u->files; u->ended && !u->status && !u->io_errno && f; f = f->next) {
        if (!f->tmp[0]) continue;
        char final[600];
        snprintf(final, sizeof final, "%s/%s", dir, f->name);
        if (rename(f->tmp, final) < 0) u->io_errno = errno;
        else f->tmp[0] = '\0';
    }
}

static void finish(httpd_request *req, upload *u) {
    for (file *f = u->files, *next; f; f = next) {     /* cut uploads leave nothing */
        next = f->next;
        if (f->fd >= 0) close(f->fd);
        if (f->tmp[0]) unlink(f->tmp);
        free(f);
    }
    if (u->status) {
        const char *why = u->status == 413 ? "too large\n" : u->status == 400
                          ? "malformed upload\n" : "cannot store the upload\n";
        httpd_respond(req, u->status, "text/plain", why, strlen(why));
    } else {
        httpd_respond(req, u->mp ? 200 : 201, "text/plain; charset=utf-8", u->report, u->rlen);
    }
    free(u->buf);
    free(u);
}

static void written(httpd_request *req, void *arg, int status);
/* After each body piece: write out what the buffer holds once it is full, a file is
   complete, or the body ended, with the body paused while the task runs; answer once
   everything is written or something failed. */
static void step(httpd_request *req, upload *u) {
    if (u->writing) return;                             /* written() takes it from here */
    int due = u->ended || u->len >= FLUSH_AT || u->nseg >= MAX_PARTS
              || (u->nseg && u->seg[u->nseg - 1].last);
    if (!u->status && (u->nseg || (u->ended && u->files)) && due) {
        httpd_body_pause(req);
        if (httpd_defer(req, write_out, written, u) == 0) { u->writing = 1; return; }
        u->status = 503;                                /* the pool is full: shed */
    }
    if (u->status || u->ended) finish(req, u);
}
static void written(httpd_request *req, void *arg, int status) {
    upload *u = (upload *)arg;
    u->writing = 0;
    if (status < 0) u->status = 500;                    /* client gone: respond frees */
    else if (u->io_errno) u->status = 500;
    u->len = 0;
    if (u->nseg && !u->seg[u->nseg - 1].last) {          /* the open file goes on */
        u->seg[0] = u->seg[u->nseg - 1];
        u->seg[0].len = 0;
        u->nseg = 1;
    } else {
        u->nseg = 0;
    }
    if (u->status || u->ended) finish(req, u);         /* the last task named the files */
    else httpd_body_resume(req);
}

/* ---- PUT /files/<name>: the body is the file ---- */
static void put_body(httpd_request *req, void *arg, const void *data, size_t len, int status) {
    upload *u = (upload *)arg;
    if (status < 0) u->status = status == HTTPD_ERR_TOOLARGE ? 413 : 400;
    else if (status == HTTPD_BODY_END) {
        u->ended = 1;
        if (add(u, u->cur, NULL, 0, 1) < 0) u->status = 500;
        else report(u, "stored %s %llu\n", u->cur->name, (unsigned long long)u->cur->bytes);
    } else if (add(u, u->cur, data, len, 0) < 0) {
        u->status = 500;
    }
    step(req, u);
}
static void on_put(httpd_request *req) {
    upload *u = (upload *)calloc(1, sizeof *u);
    httpd_str name = httpd_param(req, "name");
    if (!u || !(u->cur = new_file(u, name, 0))) {
        free(u);
        httpd_respond(req, 503, "text/plain", "busy\n", 5);
        return;
    }
    httpd_body_read(req, put_body, u);                 /* sends 100 Continue if asked */
}

/* ---- POST /form: multipart/form-data, part by part ---- */
static int on_part(void *arg, int event, const httpd_part *p, const void *data, size_t len) {
    upload *u = (upload *)arg;
    if (event == HTTPD_PART_BEGIN) {
        u->cur = NULL;
        u->skip = p->filename.ptr && !p->filename.len;   /* filename="": no file chosen */
        if (u->skip) return 0;
        if (p->filename.ptr) return (u->cur = new_file(u, p->filename, p->index)) ? 0 : -1;
        u->flen = (size_t)snprintf(u->field, sizeof u->field, "%.*s=",
                                   (int)(p->name.len < 100 ? p->name.len : 100),
                                   p->name.ptr ? p->name.ptr : "");
    } else if (u->skip) {
        return 0;
    } else if (event == HTTPD_PART_DATA) {
        if (u->cur) return add(u, u->cur, data, len, 0);
        size_t n = len < sizeof u->field - 1 - u->flen ? len : sizeof u->field - 1 - u->flen;
        memcpy(u->field + u->flen, data, n);           /* a text field: keep its start */
        u->flen += n;
    } else if (u->cur) {                                 /* END of a file part */
        if (add(u, u->cur, NULL, 0, 1) < 0) return -1;
        report(u, "stored %s %llu\n", u->cur->name, (unsigned long long)u->cur->bytes);
    } else {
        report(u, "field %.*s\n", (int)u->flen, u->field);
    }
    return 0;
}
static void form_body(httpd_request *req, void *arg, const void *data, size_t len, int status) {
    upload *u = (upload *)arg;
    int rc = 0;
    if (status < 0) u->status = status == HTTPD_ERR_TOOLARGE ? 413 : 400;
    else if (status == HTTPD_BODY_END) {
        u->ended = 1;
        rc = httpd_multipart_end(u->mp);
    } else {
        rc = httpd_multipart_feed(u->mp, data, len);
    }
    if (rc < 0 && !u->status)
        u->status = rc == HTTPD_ERR_TOOLARGE ? 413 : rc == HTTPD_ERR_INVAL ? 400 : 500;
    step(req, u);
}
static void on_form(httpd_request *req) {
    upload *u = (upload *)calloc(1, sizeof *u);
    httpd_multipart_limits lim = { MAX_PARTS, 4096, 0 };
    if (!u) { httpd_respond(req, 503, "text/plain", "busy\n", 5); return; }
    if (!(u->mp = httpd_multipart_begin(req, &lim, on_part, u))) {
        free(u);
        httpd_respond(req, 400, "text/plain", "expected multipart/form-data\n", 29);
        return;
    }
    httpd_body_read(req, form_body, u);
}

static const char page[] =
    "<!doctype html><meta charset=utf-8><title>upload</title>\n"
    "<form method=post action=/form enctype=multipart/form-data>\n"
    "<p><input type=text name=note placeholder=note>\n"
    "<p><input type=file name=file multiple>\n"
    "<p><button>Upload</button></form>\n";
static void on_page(httpd_request *req) {
    httpd_respond(req, 200, "text/html; charset=utf-8", page, sizeof page - 1);
}

int main(int argc, char **argv) {
    static httpd_route routes[] = {
        { .method = "GET", .pattern = "/", .handler = on_page },
        { .method = "PUT", .pattern = "/files/:name", .handler = on_put, .stream_body = 1 },
        { .method = "POST", .pattern = "/form", .handler = on_form, .stream_body = 1 },
        { 0 },
    };
    httpd_desc d = { 0 };
    uint64_t max_bytes = 4ull << 30;
    d.port = 8080;
    d.routes = routes;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--dir")) dir = argv[i + 1];
        else if (!strcmp(argv[i], "--max-bytes")) max_bytes = strtoull(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--host")) d.addr = argv[i + 1];
        else if (!strcmp(argv[i], "--port")) d.port = (uint16_t)atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--workers")) d.workers = atoi(argv[i + 1]);
        else { fprintf(stderr, "usage: %s [--dir DIR] [--max-bytes N] [--host H] [--port P]"
                       " [--workers N]\n", argv[0]); return 2; }
    }
    routes[1].max_body_bytes = routes[2].max_body_bytes = max_bytes;
    sigset_t sigs;                      /* httpd_serve takes SIGINT/SIGTERM */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    httpd_server *srv;
    int rc = httpd_start(&d, &srv);
    if (rc < 0) { fprintf(stderr, "upload: %s\n", httpd_strerror(rc)); return 1; }
    printf("httpd: listening on %s:%d, storing in %s\n", d.addr ? d.addr : "127.0.0.1",
           httpd_port(srv), dir);
    fflush(stdout);
    rc = httpd_serve(srv);
    httpd_destroy(srv);
    return rc < 0;
}
