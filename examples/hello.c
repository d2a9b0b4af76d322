/* hello.c - the smallest useful httpd.h server: GET / -> "Hello, World!" on :8080.
   cc -std=c11 -O2 -o hello examples/hello.c -lpthread */
#define HTTPD_IMPLEMENTATION
#include "../httpd.h"

static void hello(httpd_request *req) {
    httpd_respond(req, 200, "text/plain", "Hello, World!", 13);
}

int main(void) {
    static const httpd_route routes[] = {
        { .method = "GET", .pattern = "/", .handler = hello },
        { 0 },
    };
    httpd_desc d = { 0 };
    d.port = 8080;
    d.routes = routes;
    return httpd_run(&d) < 0;       /* SIGINT/SIGTERM: graceful stop */
}
