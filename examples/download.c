/* download.c - serve the files of one directory: GET /files/<path>.
   A thin user of httpd.h's static-files section: one mount, one route. Whatever the
   file's size, the server holds no copy of it: the kernel sends it from the page cache
   with sendfile(2) as the client reads, so a slow client downloading 10 GiB costs what an
   idle connection costs. Ranges (resuming: curl -C -), conditional requests (ETag,
   Last-Modified) and HEAD come with it.
       cc -std=c11 -O2 -o download examples/download.c -lpthread
       ./download --root /var/lib/firmware --port 8080
       curl -O http://127.0.0.1:8080/files/image.bin
   Paths are resolved beneath the root's descriptor (openat2 RESOLVE_BENEATH, or a walk
   with O_NOFOLLOW on old kernels): "..", encoded slashes, hidden names and symbolic links
   planted inside the root are refused, never followed. Opening a file is a short blocking
   call made on the worker, as nginx does without a thread pool; put the root on local
   storage. */
#define HTTPD_IMPLEMENTATION
#include "../httpd.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    static httpd_static files;            /* zero: no listings, no hidden files, no links */
    static const httpd_route routes[] = {
        HTTPD_STATIC_ROUTE("/files/", &files),
        { .method = "GET", .pattern = "/ready", .handler = httpd_ready },
        { 0 },
    };
    httpd_desc d = { 0 };
    files.root = ".";
    d.port = 8080;
    d.routes = routes;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--root")) files.root = argv[i + 1];
        else if (!strcmp(argv[i], "--host")) d.addr = argv[i + 1];
        else if (!strcmp(argv[i], "--port")) d.port = (uint16_t)atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--workers")) d.workers = atoi(argv[i + 1]);
        else { fprintf(stderr, "usage: %s [--root DIR] [--host H] [--port P] [--workers N]\n",
                       argv[0]); return 2; }
    }
    if (httpd_static_open(&files) < 0) { perror(files.root); return 1; }
    sigset_t sigs;                      /* httpd_serve takes SIGINT/SIGTERM */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    httpd_server *srv;
    int rc = httpd_start(&d, &srv);
    if (rc < 0) { fprintf(stderr, "download: %s\n", httpd_strerror(rc)); return 1; }
    printf("httpd: listening on %s:%d, serving %s\n", d.addr ? d.addr : "127.0.0.1",
           httpd_port(srv), files.root);
    fflush(stdout);
    rc = httpd_serve(srv);
    httpd_destroy(srv);
    httpd_static_close(&files);
    return rc < 0;
}
