/* tests/test_router.c - route compilation and matching, 405 Allow sets, HEAD fallback. */
#define HTTPD_IMPLEMENTATION
#include "../httpd.h"
#include "harness.h"

static void h(httpd_request *r) { (void)r; }
static const httpd_route routes[] = {
    { .method = "GET", .pattern = "/", .handler = h },
    { .method = "GET", .pattern = "/users/:id", .handler = h },
    { .method = "PUT", .pattern = "/users/:id", .handler = h },
    { .method = "GET", .pattern = "/users/:id/posts/:post", .handler = h },
    { .method = "GET", .pattern = "/files/*", .handler = h },
    { .method = "POST", .pattern = "/echo", .handler = h },
    { .method = "PURGE", .pattern = "/cache", .handler = h },
    { .method = "*", .pattern = "/any", .handler = h },
    { 0 },
};
static httpd__router r;
static httpd__param params[HTTPD__MAX_PARAMS];

static int find(const char *method, const char *path, int *np, unsigned *allow) {
    return httpd__router_find(&r, httpd__method_id(method, strlen(method)), method,
                              strlen(method), path, strlen(path), params, np, allow);
}
static void test_literal_and_params(void) {
    int np = 0; unsigned allow;
    CHECK_EQ(find("GET", "/", &np, &allow), 0);
    CHECK_EQ(np, 0);
    CHECK_EQ(find("GET", "/users/42", &np, &allow), 1);
    CHECK_EQ(np, 1);
    CHECK(params[0].value.len == 2 && !memcmp(params[0].value.ptr, "42", 2));
    CHECK(params[0].name_len == 2 && !memcmp(params[0].name, "id", 2));
    CHECK_EQ(find("PUT", "/users/42", &np, &allow), 2);
    CHECK_EQ(find("GET", "/users/7/posts/9", &np, &allow), 3);
    CHECK_EQ(np, 2);
    CHECK(params[1].value.len == 1 && params[1].value.ptr[0] == '9');
    CHECK_EQ(find("GET", "/users/", &np, &allow), -1);         /* empty param */
    CHECK_EQ(allow, 0);
    CHECK_EQ(find("GET", "/users/1/x", &np, &allow), -1);
    CHECK_EQ(find("GET", "/users", &np, &allow), -1);
}
static void test_wildcard(void) {
    int np = 0; unsigned allow;
    CHECK_EQ(find("GET", "/files/a/b/c.txt", &np, &allow), 4);
    CHECK(params[0].value.len == 9 && !memcmp(params[0].value.ptr, "a/b/c.txt", 9));
    CHECK_EQ(find("GET", "/files/", &np, &allow), 4);
    CHECK_EQ(params[0].value.len, 0);
    CHECK_EQ(find("GET", "/files", &np, &allow), -1);
}
static void test_methods(void) {
    int np = 0; unsigned allow;
    CHECK_EQ(find("DELETE", "/users/1", &np, &allow), -1);
    CHECK_EQ(allow, (1u << HTTPD__M_GET) | (1u << HTTPD__M_PUT));
    CHECK_EQ(find("HEAD", "/users/1", &np, &allow), 1);           /* GET serves HEAD */
    CHECK_EQ(find("GET", "/echo", &np, &allow), -1);
    CHECK_EQ(allow, 1u << HTTPD__M_POST);
    CHECK_EQ(find("PURGE", "/cache", &np, &allow), 6);
    CHECK_EQ(find("GET", "/cache", &np, &allow), -1);
    CHECK_EQ(allow, 1u);                                        /* custom method bit */
    CHECK_EQ(find("PATCH", "/any", &np, &allow), 7);
    CHECK_EQ(find("FOO", "/any", &np, &allow), 7);
}
static void test_bad_patterns(void) {
    httpd__router b;
    httpd_route bad1[] = { { .method = "GET", .pattern = "nope", .handler = h }, { 0 } };
    httpd_route bad2[] = { { .method = "GET", .pattern = "/a/*/b", .handler = h }, { 0 } };
    httpd_route bad3[] = { { .method = "GET", .pattern = "/:x/:x", .handler = h }, { 0 } };
    httpd_route bad4[] = { { .method = "G T", .pattern = "/", .handler = h }, { 0 } };
    httpd_route bad5[] = { { .method = "GET", .pattern = "/", .handler = NULL }, { 0 } };
    httpd_route bad6[] = { { .method = "GET", .pattern = "/a/:", .handler = h }, { 0 } };
    CHECK_EQ(httpd__router_init(&b, bad1, 1, NULL), HTTPD_ERR_INVAL);
    CHECK_EQ(httpd__router_init(&b, bad2, 1, NULL), HTTPD_ERR_INVAL);
    CHECK_EQ(httpd__router_init(&b, bad3, 1, NULL), HTTPD_ERR_INVAL);
    CHECK_EQ(httpd__router_init(&b, bad4, 1, NULL), HTTPD_ERR_INVAL);
    CHECK_EQ(httpd__router_init(&b, bad5, 1, NULL), HTTPD_ERR_INVAL);
    CHECK_EQ(httpd__router_init(&b, bad6, 1, NULL), HTTPD_ERR_INVAL);
    CHECK_EQ(httpd__router_init(&b, NULL, 1, NULL), 0);
    CHECK_EQ(b.nroutes, 0);
}
int main(void) {
    if (httpd__router_init(&r, routes, 1 << 20, NULL) != 0) { puts("0 passed, 1 failed"); return 1; }
    RUN(test_literal_and_params);
    RUN(test_wildcard);
    RUN(test_methods);
    RUN(test_bad_patterns);
    httpd__router_free(&r, NULL);
    return REPORT();
}
