/* firmware.c - a device web UI with no filesystem: examples/www packed into the program.
   `make build/firmware` runs tools/httpd_pack on examples/www (MIME types, ETags, gzip
   and brotli variants computed at build time) into build/www_assets.c, which this file
   includes. The static-files section serves it from read-only memory with conditional
   requests, ranges and precompressed variants, allocating nothing per request.
       make build/firmware && build/firmware --port 8080
       curl --compressed -v http://127.0.0.1:8080/              # index.html, brotli/gzip */
#define HTTPD_IMPLEMENTATION
#include "../httpd.h"
#include "www_assets.c"            /* generated: build/httpd_pack --name www_assets DIR */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    static httpd_static ui = { .assets = www_assets, .cache_control = "no-cache",
                               .precompressed = 1 };
    static const httpd_route routes[] = {
        { .method = "GET", .pattern = "/ready", .handler = httpd_ready },
        HTTPD_STATIC_ROUTE("/", &ui),
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
    ui.nassets = www_assets_count;
    int rc = httpd_static_open(&ui);             /* checks the table: sorted, valid */
    if (rc < 0) { fprintf(stderr, "firmware: assets: %s\n", httpd_strerror(rc)); return 1; }
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    httpd_server *srv;
    if ((rc = httpd_start(&d, &srv)) < 0) {
        fprintf(stderr, "firmware: %s\n", httpd_strerror(rc));
        return 1;
    }
    printf("httpd: listening on %s:%d, %zu assets\n", d.addr ? d.addr : "127.0.0.1",
           httpd_port(srv), ui.nassets);
    fflush(stdout);
    rc = httpd_serve(srv);
    httpd_destroy(srv);
    return rc < 0;
}
