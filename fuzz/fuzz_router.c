/* fuzz/fuzz_router.c - percent/dot decoding, the router and the query helpers. The input is
   a request path (with query); the route table is fixed. Checks: decoding never grows the
   path and always yields "/..."; a match's parameters lie inside the decoded path; the
   decoded parameter and query helpers stay inside the request arena. */
#define HTTPD_IMPLEMENTATION
#include "../httpd.h"

static void h(httpd_request *r) { (void)r; }
static const httpd_route routes[] = {
    { .method = "GET", .pattern = "/", .handler = h }, { .method = "GET", .pattern = "/a/:x", .handler = h },
    { .method = "GET", .pattern = "/a/:x/b/:y", .handler = h }, { .method = "POST", .pattern = "/f/*", .handler = h },
    { .method = "*", .pattern = "/any/:z", .handler = h }, { .method = "PURGE", .pattern = "/c", .handler = h },
    { 0 },
};
static httpd_server srv;
static httpd__worker wk;
static int ready;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!ready) {
        httpd_desc d;
        memset(&d, 0, sizeof d);
        d.routes = routes;
        d.workers = 1;
        if (httpd__server_init(&srv, &d) || httpd__worker_init(&wk, &srv, 0)) abort();
        ready = 1;
    }
    if (size < 2) return 0;
    int mid = data[0] % HTTPD__M_COUNT;
    const char *m = mid ? httpd__method_names[mid] : "PURGE";
    data++; size--;
    char *raw = (char *)malloc(size + 1);
    raw[0] = '/';
    memcpy(raw + 1, data, size);
    size_t n = size + 1;
    char *q = (char *)memchr(raw, '?', n);
    size_t pl = q ? (size_t)(q - raw) : n;
    char *path = (char *)malloc(pl);
    long dl = httpd__path_decode(raw, pl, path);
    if (dl >= 0) {
        HTTPD_ASSERT((size_t)dl <= pl && path[0] == '/');
        httpd__req *r = httpd__req_get(&wk);
        int np = 0;
        unsigned allow = 0;
        int ri = httpd__router_find(&srv.router, mid, m, strlen(m), path, (size_t)dl,
                                    r->params, &np, &allow);
        if (ri >= 0) {
            HTTPD_ASSERT(np >= 0 && np <= HTTPD__MAX_PARAMS);
            r->nparams = np;
            for (int i = 0; i < np; i++) {
                HTTPD_ASSERT(r->params[i].value.ptr >= path
                             && r->params[i].value.ptr + r->params[i].value.len <= path + dl);
                char name[64];
                snprintf(name, sizeof name, "%.*s", (int)r->params[i].name_len,
                         r->params[i].name);
                httpd_str v = httpd_param(&r->pub, name);
                HTTPD_ASSERT(v.ptr && v.len <= r->params[i].value.len);
            }
        }
        r->pub.query.ptr = q ? q + 1 : raw + n;
        r->pub.query.len = q ? n - pl - 1 : 0;
        httpd_str a = httpd_query_param(&r->pub, "a"), e = httpd_query_param(&r->pub, "");
        if (a.ptr) HTTPD_ASSERT(a.len <= r->pub.query.len);
        if (e.ptr) HTTPD_ASSERT(e.len <= r->pub.query.len);
        httpd__req_put(r);
    }
    free(path);
    free(raw);
    return 0;
}
