/* bench/openloop.c - open-loop (constant-rate) HTTP/1.1 load generator.
   Request i is due at t0 + i / rate whatever happened to the others, and its latency is
   measured from that intended send time, not from when a connection was free to send it:
   a server that stalls for 100 ms is charged 100 ms for every request due in that stall
   (coordinated omission cannot hide the tail, as it does in closed-loop tools like wrk).

   cc -O2 -o build/openloop bench/openloop.c
   build/openloop --port P [--host 127.0.0.1] [--path /] --rate R --seconds S
                  [--conns C (64)] [--close] [--timeout-ms 2000] [--curve FILE]
                  [--post-every K --post-path P --post-body JSON]
   --close: a new connection per request (Connection: close), at most C at a time.
   Keep-alive: C connections, one request in flight on each (no pipelining); requests due
   while all C are busy wait in a queue, and that wait is part of their latency.
   Prints one line of key=value: offered, sent, ok, errors (connect, io, status, timeout,
   unsent), achieved rate, p50/p90/p99/p99.9/max in microseconds. A request unanswered
   --timeout-ms after it was sent is an error; the run ends --timeout-ms after the last
   request was due, and what is still queued then is "unsent". Both count in the
   percentiles at their age when given up (a lower bound), so the tail never looks better
   than it was. --curve writes
   "percentile latency_us" lines for plotting. --post-every K: every K-th request is
   POST P with that JSON body instead (a mixed read/write load); 503 answers are counted
   apart as shed= (load shedding, not failures). Single-threaded, epoll + timerfd, loopback. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

typedef struct conn {
    int fd;
    int busy;            /* a request is in flight                         */
    int connecting;
    long req;            /* index of the request in flight                 */
    uint64_t sent_ns;    /* when it left the queue (the timeout runs from here) */
    size_t sent;         /* bytes of the request written                   */
    const char *rb;      /* the request's bytes: reqbuf or postbuf         */
    size_t rlen;
    char buf[8192];
    size_t have;
    long body_left;      /* -1: head not complete yet                      */
    int close_after;
} conn;

static const char *host = "127.0.0.1", *path = "/";
static int port, nconns = 64, close_mode;
static double rate, seconds;
static long timeout_us = 2000000;
static char reqbuf[512], postbuf[2048];
static size_t reqlen, postlen;
static long post_every;
static const char *post_path = "/", *post_body = "{}";
static struct sockaddr_in sa;
static int ep;
static conn *conns;
static uint64_t t0_ns;
static uint32_t *lat;              /* per request, us; UINT32_MAX: not finished */
static long total, next_due, done_ok, e_connect, e_io, e_status, e_timeout, in_flight, shed;
static long *queue, qhead, qtail;  /* due, not yet sent */

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
static uint64_t due_ns(long i) { return t0_ns + (uint64_t)((double)i * 1e9 / rate); }
static void finish(long i, int ok) {
    uint64_t l = (now_ns() - due_ns(i)) / 1000;
    lat[i] = l > UINT32_MAX - 1 ? UINT32_MAX - 1 : (uint32_t)l;
    if (ok) done_ok++;
    in_flight--;
}
static void conn_close(conn *c) {
    if (c->fd >= 0) { epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL); close(c->fd); }
    c->fd = -1; c->busy = 0; c->connecting = 0; c->have = 0;
}
static int conn_open(conn *c) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0 && errno != EINPROGRESS) {
        close(fd); return -1;
    }
    c->fd = fd; c->connecting = 1; c->have = 0;
    struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT, .data.ptr = c };
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    return 0;
}
static void fail(conn *c, long *counter) {
    if (c->busy) { finish(c->req, 0); (*counter)++; }
    conn_close(c);
}
static void try_write(conn *c) {
    while (c->sent < c->rlen) {
        ssize_t w = send(c->fd, c->rb + c->sent, c->rlen - c->sent, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EAGAIN) break;
            fail(c, &e_io); return;
        }
        c->sent += (size_t)w;
    }
    struct epoll_event ev = { .events = EPOLLIN | (c->sent < c->rlen ? EPOLLOUT : 0),
                              .data.ptr = c };
    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}
static void start(conn *c, long i) {
    int post = post_every > 0 && i % post_every == 0;
    c->rb = post ? postbuf : reqbuf; c->rlen = post ? postlen : reqlen;
    c->busy = 1; c->req = i; c->sent = 0; c->sent_ns = now_ns(); c->have = 0; c->body_left = -1; c->close_after = 0;
    in_flight++;
    if (c->fd < 0) {
        if (conn_open(c) < 0) { fail(c, &e_connect); return; }
        return;                          /* written when the connect completes */
    }
    try_write(c);
}
static void dispatch(void) {
    for (int k = 0; k < nconns && qhead < qtail; k++)
        if (!conns[k].busy) start(&conns[k], queue[qhead++]);
}
/* parses what is buffered; 1: response complete */
static int parse(conn *c) {
    if (c->body_left < 0) {
        c->buf[c->have < sizeof c->buf ? c->have : sizeof c->buf - 1] = 0;
        char *e = memmem(c->buf, c->have, "\r\n\r\n", 4);
        if (!e) return 0;
        size_t hl = (size_t)(e - c->buf) + 4;
        int st = 0;
        if (sscanf(c->buf, "HTTP/1.%*d %d", &st) != 1) return -1;
        if (st == 503) return -3;
        if (st < 200 || st > 299) return -2;
        long cl = -1;
        for (char *p = c->buf; p < e; p++) {
            if (*p != '\n') continue;
            if (!strncasecmp(p + 1, "content-length:", 15)) cl = atol(p + 16);
            if (!strncasecmp(p + 1, "connection:", 11) && strcasestr(p + 12, "close") &&
                strcasestr(p + 12, "close") < strchr(p + 1, '\r'))
                c->close_after = 1;
        }
        if (cl < 0) return -1;           /* the servers here all send Content-Length */
        c->body_left = cl;
        size_t extra = c->have - hl;
        if ((long)extra > c->body_left) return -1;   /* no pipelining: nothing after it */
        c->body_left -= (long)extra;
        c->have = 0;
    } else {
        c->body_left -= (long)c->have;
        c->have = 0;
    }
    return c->body_left == 0 ? 1 : c->body_left < 0 ? -1 : 0;
}
static void on_event(conn *c, uint32_t evs) {
    if (c->connecting) {
        int err = 0; socklen_t l = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
        if (err || (evs & (EPOLLERR | EPOLLHUP))) { fail(c, &e_connect); return; }
        c->connecting = 0;
        if (c->busy) { try_write(c); return; }
        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };   /* idle, connected */
        epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
        return;
    }
    if ((evs & EPOLLOUT) && c->busy && c->sent < c->rlen) try_write(c);
    if (c->fd < 0 || !(evs & (EPOLLIN | EPOLLERR | EPOLLHUP))) return;
    for (;;) {
        ssize_t r = recv(c->fd, c->buf + c->have, sizeof c->buf - 1 - c->have, 0);
        if (r < 0 && errno == EAGAIN) return;
        if (r <= 0) { fail(c, &e_io); return; }     /* reset or closed before the response */
        if (!c->busy) { conn_close(c); e_io++; return; }   /* bytes nobody asked for */
        c->have += (size_t)r;
        int p = parse(c);
        if (p == 0) {
            if (c->have >= sizeof c->buf - 1) { fail(c, &e_io); return; }
            continue;
        }
        if (p == -3) {               /* shed: answered at once, not a failure of the server */
            finish(c->req, 0); shed++; c->busy = 0; conn_close(c); dispatch(); return;
        }
        if (p < 0) { fail(c, p == -2 ? &e_status : &e_io); return; }
        finish(c->req, 1);
        c->busy = 0;
        if (close_mode || c->close_after) conn_close(c);
        dispatch();
        return;
    }
}

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}
static uint32_t pct(const uint32_t *s, long n, double p) {
    if (n == 0) return 0;
    long i = (long)(p / 100.0 * (double)n + 0.999999) - 1;
    if (i < 0) i = 0;
    if (i >= n) i = n - 1;
    return s[i];
}

int main(int argc, char **argv) {
    const char *curve = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--close")) { close_mode = 1; continue; }
        if (!v) { fprintf(stderr, "openloop: %s needs a value\n", a); return 2; }
        if (!strcmp(a, "--host")) host = v;
        else if (!strcmp(a, "--port")) port = atoi(v);
        else if (!strcmp(a, "--path")) path = v;
        else if (!strcmp(a, "--rate")) rate = atof(v);
        else if (!strcmp(a, "--seconds")) seconds = atof(v);
        else if (!strcmp(a, "--conns")) nconns = atoi(v);
        else if (!strcmp(a, "--timeout-ms")) timeout_us = atol(v) * 1000;
        else if (!strcmp(a, "--curve")) curve = v;
        else if (!strcmp(a, "--post-every")) post_every = atol(v);
        else if (!strcmp(a, "--post-path")) post_path = v;
        else if (!strcmp(a, "--post-body")) post_body = v;
        else { fprintf(stderr, "openloop: unknown option %s\n", a); return 2; }
        i++;
    }
    if (!port || rate <= 0 || seconds <= 0 || seconds > 600 || nconns < 1 || nconns > 20000) {
        fprintf(stderr, "usage: openloop --port P --rate R --seconds S (<= 600) [--conns C] "
                "[--close] [--path /] [--host 127.0.0.1] [--timeout-ms 2000] [--curve FILE]\n");
        return 2;
    }
    reqlen = (size_t)snprintf(reqbuf, sizeof reqbuf, "GET %s HTTP/1.1\r\nHost: %s:%d\r\n%s\r\n",
                              path, host, port, close_mode ? "Connection: close\r\n" : "");
    postlen = (size_t)snprintf(postbuf, sizeof postbuf, "POST %s HTTP/1.1\r\nHost: %s:%d\r\n%s"
                               "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                               post_path, host, port, close_mode ? "Connection: close\r\n" : "",
                               strlen(post_body), post_body);
    if (postlen >= sizeof postbuf) {
        fprintf(stderr, "openloop: --post-body too long\n");
        return 2;
    }
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
        fprintf(stderr, "openloop: bad host\n");
        return 2;
    }
    total = (long)(rate * seconds);
    lat = malloc((size_t)total * sizeof *lat);
    queue = malloc((size_t)total * sizeof *queue);
    conns = calloc((size_t)nconns, sizeof *conns);
    if (!lat || !queue || !conns) return 1;
    for (long i = 0; i < total; i++) lat[i] = UINT32_MAX;
    ep = epoll_create1(EPOLL_CLOEXEC);
    int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    struct epoll_event tev = { .events = EPOLLIN, .data.ptr = NULL };
    epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &tev);
    for (int k = 0; k < nconns; k++) conns[k].fd = -1;
    if (!close_mode)                     /* keep-alive: connect them all up front */
        for (int k = 0; k < nconns; k++) if (conn_open(&conns[k]) < 0) e_connect++;
    usleep(100000);                      /* let the connects finish before the clock starts */
    t0_ns = now_ns() + 1000000;
    uint64_t end_ns = due_ns(total) + (uint64_t)timeout_us * 1000;
    struct epoll_event evs[256];
    int armed = 0;
    while (next_due < total || in_flight > 0 || qhead < qtail) {
        uint64_t now = now_ns();
        if (now >= end_ns) break;
        while (next_due < total && due_ns(next_due) <= now) queue[qtail++] = next_due++;
        dispatch();
        /* requests unanswered --timeout-ms after they were sent are abandoned with their
           connection; the timeout runs from the send, not the intended time, so that an
           overloaded run does not also tear down connections for requests the server has
           only just been given (their latency still counts from the intended time) */
        for (int k = 0; k < nconns; k++)
            if (conns[k].busy && now > conns[k].sent_ns
                && now - conns[k].sent_ns > (uint64_t)timeout_us * 1000)
                fail(&conns[k], &e_timeout);
        if (!armed && next_due < total) {
            uint64_t d = due_ns(next_due);
            struct itimerspec its = { .it_value = { (time_t)(d / 1000000000u),
                                                    (long)(d % 1000000000u) } };
            timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL);
            armed = 1;
        }
        int n = epoll_wait(ep, evs, 256, 50);
        for (int j = 0; j < n; j++) {
            if (evs[j].data.ptr == NULL) {
                uint64_t x;
                if (read(tfd, &x, sizeof x) < 0) { /* spurious */ }
                armed = 0;
                continue;
            }
            on_event(evs[j].data.ptr, evs[j].events);
        }
    }
    uint64_t elapsed = now_ns() - t0_ns;
    long unsent = qtail - qhead + (total - next_due);
    for (int k = 0; k < nconns; k++) if (conns[k].busy) fail(&conns[k], &e_timeout);
    /* every request due counts in the percentiles; the unfinished ones at their age now */
    uint64_t last = now_ns();
    for (long i = 0; i < total; i++)
        if (lat[i] == UINT32_MAX) {
            uint64_t l = (last - due_ns(i)) / 1000;
            lat[i] = l > UINT32_MAX - 1 ? UINT32_MAX - 1 : (uint32_t)l;
        }
    qsort(lat, (size_t)total, sizeof *lat, cmp_u32);
    long errors = e_connect + e_io + e_status + e_timeout + unsent;
    printf("offered=%.0f seconds=%.1f conns=%d mode=%s requests=%ld ok=%ld errors=%ld "
           "connect=%ld io=%ld status=%ld timeout=%ld unsent=%ld shed=%ld achieved=%.0f "
           "p50_us=%u p90_us=%u p99_us=%u p999_us=%u max_us=%u\n",
           rate, seconds, nconns, close_mode ? "close" : "keep-alive", total, done_ok, errors,
           e_connect, e_io, e_status, e_timeout, unsent, shed,
           (double)done_ok / ((double)elapsed / 1e9),
           pct(lat, total, 50), pct(lat, total, 90), pct(lat, total, 99), pct(lat, total, 99.9),
           total ? lat[total - 1] : 0);
    if (curve) {
        FILE *f = fopen(curve, "w");
        if (!f) { perror(curve); return 1; }
        /* log-spaced percentiles: 0, 50, 75, 87.5, ... up to 99.999 and the maximum */
        static const double ps[] = { 0, 10, 25, 50, 75, 90, 95, 99, 99.5, 99.9, 99.95, 99.99,
                                     99.999, 100 };
        for (size_t k = 0; k < sizeof ps / sizeof ps[0]; k++)
            fprintf(f, "%g %u\n", ps[k], pct(lat, total, ps[k] == 0 ? 1e-9 : ps[k]));
        fclose(f);
    }
    return errors ? 1 : 0;
}
