/* bench/bench_parser.c - the request-head parser alone, on fixed realistic requests.
   Build:  cc -O2 -std=c11 -o build/bench_parser bench/bench_parser.c -lpthread
   Run:    build/bench_parser [ITERATIONS]        prints ns per request (noisy, wall clock)
   Gate:   valgrind --tool=callgrind --toggle-collect=bench_parse_all build/bench_parser N
           counts only the instructions inside bench_parse_all(): N passes over the requests
           below, each one httpd__parse_head() call (the connection's first try on a head)
           plus the path decoding the router does. bench/check.sh divides by N x NREQ.
   The requests are copied once into exact-size heap buffers, so every pass reads the same
   bytes at the same addresses: the count is the same on every run of the same binary. */
#define HTTPD_IMPLEMENTATION
#include "../httpd.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const reqs[] = {
    /* what h2load --h1 sends */
    "GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nuser-agent: h2load nghttp2/1.52.0\r\n\r\n",
    /* ab -k: HTTP/1.0 keep-alive */
    "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\nHost: 127.0.0.1:8080\r\n"
    "User-Agent: ApacheBench/2.3\r\nAccept: */*\r\n\r\n",
    /* curl */
    "GET /api/notes?limit=20&offset=40 HTTP/1.1\r\nHost: localhost:8080\r\n"
    "User-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n",
    /* a browser */
    "GET /static/app.js HTTP/1.1\r\nHost: example.com\r\nConnection: keep-alive\r\n"
    "sec-ch-ua: \"Chromium\";v=\"120\", \"Not?A_Brand\";v=\"8\"\r\nsec-ch-ua-mobile: ?0\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36\r\nsec-ch-ua-platform: \"Linux\"\r\nAccept: */*\r\n"
    "Sec-Fetch-Site: same-origin\r\nSec-Fetch-Mode: no-cors\r\nSec-Fetch-Dest: script\r\n"
    "Referer: https://example.com/\r\nAccept-Encoding: gzip, deflate, br\r\n"
    "Accept-Language: en-GB,en;q=0.9\r\nCookie: session=4f1c2e9a7b3d5e6f8a9b0c1d2e3f4a5b; "
    "theme=dark\r\nIf-None-Match: \"5f3e-18c2a\"\r\n\r\n",
    /* a JSON POST */
    "POST /api/notes HTTP/1.1\r\nHost: localhost:8080\r\nContent-Type: application/json\r\n"
    "Content-Length: 42\r\nAuthorization: Bearer eyJhbGciOiJIUzI1NiJ9.e30.abc\r\n"
    "Accept: application/json\r\n\r\n",
};
#define NREQ (sizeof reqs / sizeof reqs[0])

static char *bufs[NREQ];
static size_t lens[NREQ];
static httpd_header hdrs[100];
static char path_out[8192];
static volatile unsigned long sink;          /* keeps the results live */

/* Every instruction counted by the gate runs in here (callgrind --toggle-collect). */
__attribute__((noinline)) static unsigned long bench_parse_all(long iters) {
    static const httpd__limits lim = { 8192, 16384, 100 };   /* httpd_desc's defaults */
    unsigned long acc = 0;
    for (long i = 0; i < iters; i++) {
        for (size_t r = 0; r < NREQ; r++) {
            httpd__head h;
            h.headers = hdrs;
            int n = httpd__parse_head(&h, bufs[r], lens[r], &lim);
            if (n != (int)lens[r]) {
                fprintf(stderr, "bench_parser: request %zu: parse returned %d, not %zu\n",
                        r, n, lens[r]);
                exit(1);
            }
            long pl = httpd__path_decode(h.path.ptr, h.path.len, path_out);
            acc += (unsigned long)n + h.nheaders + (unsigned long)pl;
        }
    }
    return acc;
}

int main(int argc, char **argv) {
    long iters = argc > 1 ? atol(argv[1]) : 200000;
    for (size_t r = 0; r < NREQ; r++) {
        lens[r] = strlen(reqs[r]);
        if ((bufs[r] = malloc(lens[r])) == NULL) return 1;
        memcpy(bufs[r], reqs[r], lens[r]);      /* exact size: nothing past the head */
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    sink = bench_parse_all(iters);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ns = ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec));
    printf("bench_parser: %ld x %zu requests, %.1f ns per request\n", iters, NREQ,
           iters ? ns / ((double)iters * NREQ) : 0.0);
    for (size_t r = 0; r < NREQ; r++) free(bufs[r]);
    return 0;
}
