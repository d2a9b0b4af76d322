/* download.c - serve the files of one directory with sendfile(2): GET /files/<path>.
   Whatever the file's size, the server holds no copy of it: the kernel sends it from the
   page cache as the client reads, so a slow client downloading 10 GiB costs what an idle
   connection costs.
       cc -std=c11 -O2 -o download examples/download.c -lpthread
       ./download --root /var/lib/firmware --port 8080
       curl -O http://127.0.0.1:8080/files/image.bin
   Paths are taken apart segment by segment: "..", "." and hidden names are refused, and
   each segment is opened beneath the one before with O_NOFOLLOW, so a request cannot
   climb out of the root, not even through a symbolic link planted inside it (links are
   refused, not followed; the static-files section of httpd.h does this properly). Opening
   a file is a short blocking call made on the worker, as nginx does without a thread pool;
   put the root on local storage. */
#define HTTPD_IMPLEMENTATION
#include "../httpd.h"
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int root_fd = -1;

static const char *content_type(const char *path) {
    static const char *const types[][2] = {
        { ".html", "text/html; charset=utf-8" }, { ".txt", "text/plain; charset=utf-8" },
        { ".css", "text/css" }, { ".js", "text/javascript" }, { ".json", "application/json" },
        { ".png", "image/png" }, { ".jpg", "image/jpeg" }, { ".svg", "image/svg+xml" },
        { ".gz", "application/gzip" }, { ".tar", "application/x-tar" },
    };
    const char *dot = strrchr(path, '.');
    for (size_t i = 0; dot && i < sizeof types / sizeof types[0]; i++)
        if (!strcmp(dot, types[i][0])) return types[i][1];
    return "application/octet-stream";
}

/* A relative path with no empty, ".", ".." or hidden segment and no NUL. */
static int safe_path(const char *p, size_t n) {
    if (!n || memchr(p, '\0', n)) return 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && p[j] != '/') j++;
        if (j == i || p[i] == '.') return 0;
        i = j + 1;
        if (j + 1 == n) return 0;                       /* trailing slash */
    }
    return 1;
}

/* Opens the relative path (checked by safe_path) one segment at a time beneath the root,
   never following a symbolic link. -1 if any segment is missing or is a link. */
static int open_beneath(char *path) {
    int dir = root_fd;
    for (char *seg = path;;) {
        char *slash = strchr(seg, '/');
        if (slash) *slash = '\0';
        int flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW | (slash ? O_DIRECTORY : O_NONBLOCK);
        int fd = openat(dir, seg, flags);
        if (dir != root_fd) close(dir);
        if (slash) *slash = '/';
        if (fd < 0 || !slash) return fd;
        dir = fd;
        seg = slash + 1;
    }
}
static void on_file(httpd_request *req) {
    httpd_str rel = httpd_param(req, "*");              /* fully decoded */
    char path[4096];
    if (!safe_path(rel.ptr, rel.len) || rel.len >= sizeof path) {
        httpd_respond(req, 404, "text/plain", "not found\n", 10);
        return;
    }
    memcpy(path, rel.ptr, rel.len);
    path[rel.len] = '\0';
    int fd = open_beneath(path);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        if (fd >= 0) close(fd);
        httpd_respond(req, 404, "text/plain", "not found\n", 10);
        return;
    }
    char modified[64];
    struct tm tm;
    strftime(modified, sizeof modified, "%a, %d %b %Y %H:%M:%S GMT", gmtime_r(&st.st_mtime, &tm));
    httpd_add_header(req, "Last-Modified", modified);
    /* the server owns fd from here on: it closes it when the body is out */
    httpd_send_file(req, 200, content_type(path), fd, 0, (uint64_t)st.st_size);
}

int main(int argc, char **argv) {
    static const httpd_route routes[] = {
        { .method = "GET", .pattern = "/files/*", .handler = on_file },
        { .method = "GET", .pattern = "/ready", .handler = httpd_ready },
        { 0 },
    };
    httpd_desc d = { 0 };
    const char *root = ".";
    d.port = 8080;
    d.routes = routes;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--root")) root = argv[i + 1];
        else if (!strcmp(argv[i], "--host")) d.addr = argv[i + 1];
        else if (!strcmp(argv[i], "--port")) d.port = (uint16_t)atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--workers")) d.workers = atoi(argv[i + 1]);
        else { fprintf(stderr, "usage: %s [--root DIR] [--host H] [--port P] [--workers N]\n",
                       argv[0]); return 2; }
    }
    root_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (root_fd < 0) { perror(root); return 1; }
    sigset_t sigs;                      /* httpd_serve takes SIGINT/SIGTERM */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    httpd_server *srv;
    int rc = httpd_start(&d, &srv);
    if (rc < 0) { fprintf(stderr, "download: %s\n", httpd_strerror(rc)); return 1; }
    printf("httpd: listening on %s:%d, serving %s\n", d.addr ? d.addr : "127.0.0.1",
           httpd_port(srv), root);
    fflush(stdout);
    rc = httpd_serve(srv);
    httpd_destroy(srv);
    close(root_fd);
    return rc < 0;
}
