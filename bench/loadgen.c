/* bench/loadgen.c - drive an exact number of HTTP/1.1 requests at a loopback server.

   loadgen --port P [--host 127.0.0.1] [--requests N] [--conns K] [--pipeline D]
           [--close] [--path /] [--timeout S] [--dump]

   N requests (default 20000) are spread over K connections (default 8). Each connection
   writes D requests in one write (default 1), waits for all D responses, then writes the
   next batch; with --close every request carries "Connection: close" and uses its own
   connection. It never sends more than N requests and gives up after S seconds (default
   60). Prints one line:
     loadgen: completed=.. ok=.. non200=.. failed=.. connects=.. elapsed=.. rps=.. resp_bytes=..
   and exits 0 only if every request got a 200. Loopback use only. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench_resp.h"

typedef struct {
    int fd;
    int connecting;
    long inflight;        /* requests written (or being written) without a response yet */
    const char *wp;       /* pending write */
    size_t wleft;
    char *rbuf;
    size_t rlen, rcap;
} conn;

static struct sockaddr_in g_addr;
static long g_total = 20000, g_sent, g_done, g_ok, g_non200, g_failed, g_connects;
static long g_depth = 1;
static int g_close, g_dump, g_ep;
static char *g_req;       /* g_depth copies of the request */
static size_t g_reqlen;   /* one request */
static size_t g_resp_bytes;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void conn_close(conn *c) {
    if (c->fd >= 0) {
        epoll_ctl(g_ep, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
    }
    c->fd = -1;
    c->rlen = 0;
    c->wleft = 0;
}

static int conn_open(conn *c) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) { perror("socket"); return -1; }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    g_connects++;
    if (connect(fd, (struct sockaddr *)&g_addr, sizeof g_addr) < 0 && errno != EINPROGRESS) {
        perror("connect");
        close(fd);
        return -1;
    }
    c->fd = fd;
    c->connecting = 1;
    c->inflight = 0;
    c->rlen = 0;
    c->wleft = 0;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP, .data.ptr = c};
    epoll_ctl(g_ep, EPOLL_CTL_ADD, fd, &ev);
    return 0;
}

static void set_out(conn *c, int on) {
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP | (on ? EPOLLOUT : 0), .data.ptr = c};
    epoll_ctl(g_ep, EPOLL_CTL_MOD, c->fd, &ev);
}

static int flush_out(conn *c) {
    while (c->wleft) {
        ssize_t w = send(c->fd, c->wp, c->wleft, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EAGAIN) { set_out(c, 1); return 0; }
            return -1;
        }
        c->wp += w;
        c->wleft -= (size_t)w;
    }
    set_out(c, 0);
    return 0;
}

/* Start the next batch on c; returns -1 on a write error. Nothing left: leaves c idle. */
static int next_batch(conn *c) {
    long n = g_total - g_sent;
    if (n > g_depth) n = g_depth;
    if (n <= 0) return 0;
    g_sent += n;
    c->inflight = n;
    c->wp = g_req;
    c->wleft = g_reqlen * (size_t)n;
    return flush_out(c);
}

/* The connection broke: count its outstanding requests as failed; reconnect if needed. */
static void conn_fail(conn *c, const char *why) {
    if (c->inflight) {
        fprintf(stderr, "loadgen: connection lost (%s) with %ld request(s) outstanding\n", why,
                c->inflight);
        g_failed += c->inflight;
        c->inflight = 0;
    }
    conn_close(c);
    if (g_sent < g_total) conn_open(c);
}

static void on_response(conn *c, const bench_resp *r) {
    g_done++;
    c->inflight--;
    if (r->status == 200) g_ok++; else g_non200++;
    if (!g_resp_bytes) g_resp_bytes = r->len;
    if (g_dump == 1) {
        fprintf(stderr, "---- first response (%zu bytes) ----\n%.*s\n----\n", r->len, (int)r->len,
                c->rbuf);
        g_dump = 2;
    }
}

static void on_readable(conn *c) {
    for (;;) {
        if (c->rcap - c->rlen < 4096) {
            c->rcap *= 2;
            c->rbuf = realloc(c->rbuf, c->rcap);
            if (!c->rbuf) { perror("realloc"); exit(3); }
        }
        ssize_t n = recv(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen, 0);
        int eof = n == 0;
        if (n < 0) {
            if (errno == EAGAIN) return;
            conn_fail(c, strerror(errno));
            return;
        }
        c->rlen += (size_t)n;
        int server_closes = 0;
        for (;;) {
            bench_resp r = {0, 0, 0};
            int k = bench_parse_response(c->rbuf, c->rlen, eof, &r);
            if (k < 0) { conn_fail(c, "bad response"); return; }
            if (k == 0) break;
            if (c->inflight <= 0) { conn_fail(c, "unsolicited response"); return; }
            on_response(c, &r);
            memmove(c->rbuf, c->rbuf + r.len, c->rlen - r.len);
            c->rlen -= r.len;
            if (r.conn_close) { server_closes = 1; break; }
        }
        if (server_closes || g_close) {
            if (c->inflight == 0) {
                conn_close(c);
                if (g_sent < g_total) conn_open(c);
                return;
            }
            if (server_closes) { conn_fail(c, "server closed mid-batch"); return; }
        }
        if (eof) { conn_fail(c, "eof"); return; }
        if (c->inflight == 0 && c->rlen == 0) {
            if (next_batch(c) < 0) { conn_fail(c, "write"); return; }
            if (c->inflight == 0) { conn_close(c); return; }   /* all requests handed out */
        }
    }
}

static void usage(void) {
    fprintf(stderr, "usage: loadgen --port P [--host 127.0.0.1] [--requests N] [--conns K] "
                    "[--pipeline D] [--close] [--path /] [--timeout S] [--dump]\n");
    exit(2);
}

int main(int argc, char **argv) {
    const char *host = "127.0.0.1", *path = "/";
    int port = 0;
    long nconns = 8;
    double timeout = 60;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--close")) { g_close = 1; continue; }
        if (!strcmp(a, "--dump")) { g_dump = 1; continue; }
        if (!v) usage();
        if (!strcmp(a, "--port")) port = atoi(v);
        else if (!strcmp(a, "--host")) host = v;
        else if (!strcmp(a, "--requests")) g_total = atol(v);
        else if (!strcmp(a, "--conns")) nconns = atol(v);
        else if (!strcmp(a, "--pipeline")) g_depth = atol(v);
        else if (!strcmp(a, "--path")) path = v;
        else if (!strcmp(a, "--timeout")) timeout = atof(v);
        else usage();
        i++;
    }
    if (port <= 0 || g_total < 0 || nconns < 1 || g_depth < 1 || timeout <= 0) usage();
    if (g_close) g_depth = 1;
    memset(&g_addr, 0, sizeof g_addr);
    g_addr.sin_family = AF_INET;
    g_addr.sin_port = htons((unsigned short)port);
    if (inet_pton(AF_INET, host, &g_addr.sin_addr) != 1) usage();

    char one[512];
    int len = snprintf(one, sizeof one, "GET %s HTTP/1.1\r\nHost: %s\r\n%s\r\n", path, host,
                       g_close ? "Connection: close\r\n" : "");
    if (len <= 0 || (size_t)len >= sizeof one) usage();
    g_reqlen = (size_t)len;
    g_req = malloc(g_reqlen * (size_t)g_depth);
    for (long i = 0; i < g_depth; i++) memcpy(g_req + i * g_reqlen, one, g_reqlen);

    g_ep = epoll_create1(EPOLL_CLOEXEC);
    if (nconns > g_total) nconns = g_total > 0 ? g_total : 1;
    conn *cs = calloc((size_t)nconns, sizeof *cs);
    double t0 = now(), deadline = t0 + timeout;
    for (long i = 0; i < nconns && g_total > 0; i++) {
        cs[i].rcap = 16384;
        cs[i].rbuf = malloc(cs[i].rcap);
        cs[i].fd = -1;
        if (conn_open(&cs[i]) < 0) { fprintf(stderr, "loadgen: cannot connect\n"); return 3; }
    }
    int timed_out = 0;
    struct epoll_event evs[256];
    while (g_done + g_failed < g_total) {
        if (now() > deadline) { timed_out = 1; break; }
        int n = epoll_wait(g_ep, evs, 256, 100);
        if (n < 0 && errno != EINTR) { perror("epoll_wait"); break; }
        for (int i = 0; i < n; i++) {
            conn *c = evs[i].data.ptr;
            if (c->fd < 0) continue;
            if (c->connecting) {
                int err = 0;
                socklen_t sl = sizeof err;
                getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &sl);
                if (err) {
                    fprintf(stderr, "loadgen: connect: %s\n", strerror(err));
                    conn_close(c);
                    if (now() + 0.1 < deadline) conn_open(c);   /* try again */
                    continue;
                }
                if (!(evs[i].events & EPOLLOUT)) continue;
                c->connecting = 0;
                if (next_batch(c) < 0) { conn_fail(c, "write"); continue; }
                if (c->inflight == 0) { conn_close(c); continue; }
                continue;
            }
            if (evs[i].events & EPOLLOUT && c->wleft) {
                if (flush_out(c) < 0) { conn_fail(c, "write"); continue; }
            }
            if (evs[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) on_readable(c);
        }
    }
    double el = now() - t0;
    for (long i = 0; i < nconns; i++) conn_close(&cs[i]);
    printf("loadgen: completed=%ld ok=%ld non200=%ld failed=%ld connects=%ld elapsed=%.3f "
           "rps=%.0f resp_bytes=%zu%s\n",
           g_done, g_ok, g_non200, g_failed, g_connects, el, el > 0 ? g_done / el : 0.0,
           g_resp_bytes, timed_out ? " TIMEOUT" : "");
    return (g_ok == g_total && !timed_out) ? 0 : 1;
}
