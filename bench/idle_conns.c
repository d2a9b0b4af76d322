/* bench/idle_conns.c - open many keep-alive connections, one request each, then hold them.

   idle_conns --port P [--host 127.0.0.1] [--conns 10000] [--inflight 128] [--timeout 30]

   Opens --conns connections (at most --inflight handshakes/requests in progress at once),
   sends "GET / HTTP/1.1\r\nHost: x\r\n\r\n" on each, reads the whole response and then keeps
   the connection open and idle. When every connection has been answered it prints
     ready answered=N failed=N elapsed=S
   and holds them until SIGTERM/SIGINT or until --timeout seconds after start (at most 300),
   then prints
     final open=N closed_by_server=N unexpected_bytes=N
   and exits. Raises RLIMIT_NOFILE as needed. Loopback use only. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench_resp.h"

enum { C_CONNECTING, C_WRITING, C_READING, C_IDLE, C_DEAD };

typedef struct {
    int fd, state;
    size_t woff, rlen;
    char rbuf[1024];
} conn;

static const char REQ[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
static volatile sig_atomic_t g_stop;

static void on_sig(int s) { (void)s; g_stop = 1; }

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    const char *host = "127.0.0.1";
    int port = 0;
    long nconns = 10000, inflight_max = 128;
    double timeout = 30;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--port")) port = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--host")) host = argv[i + 1];
        else if (!strcmp(argv[i], "--conns")) nconns = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--inflight")) inflight_max = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--timeout")) timeout = atof(argv[i + 1]);
        else { fprintf(stderr, "idle_conns: unknown option %s\n", argv[i]); return 2; }
    }
    if (port <= 0 || nconns < 1 || inflight_max < 1) {
        fprintf(stderr, "usage: idle_conns --port P [--host H] [--conns N] [--inflight K] "
                        "[--timeout S]\n");
        return 2;
    }
    if (timeout > 300 || timeout <= 0) timeout = 300;

    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rlim_t want = (rlim_t)nconns + 64;
    if (rl.rlim_cur < want) {
        rl.rlim_cur = want;
        if (rl.rlim_max < want) rl.rlim_max = want;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0) { perror("setrlimit(RLIMIT_NOFILE)"); return 2; }
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sig;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((unsigned short)port);
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) { fprintf(stderr, "bad host\n"); return 2; }

    conn *cs = calloc((size_t)nconns, sizeof *cs);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    long opened = 0, busy = 0, answered = 0, failed = 0, closed_by_server = 0, unexpected = 0;
    int ready = 0;
    double t0 = now(), deadline = t0 + timeout;
    struct epoll_event evs[512];

    while (!g_stop && now() < deadline) {
        while (!ready && opened < nconns && busy < inflight_max) {
            conn *c = &cs[opened++];
            c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
            if (c->fd < 0) { perror("socket"); c->state = C_DEAD; failed++; continue; }
            if (connect(c->fd, (struct sockaddr *)&addr, sizeof addr) < 0 && errno != EINPROGRESS) {
                perror("connect");
                close(c->fd);
                c->state = C_DEAD;
                failed++;
                continue;
            }
            c->state = C_CONNECTING;
            struct epoll_event ev = {.events = EPOLLOUT | EPOLLIN | EPOLLRDHUP, .data.ptr = c};
            epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
            busy++;
        }
        if (!ready && answered + failed == nconns) {
            ready = 1;
            printf("ready answered=%ld failed=%ld elapsed=%.3f\n", answered, failed, now() - t0);
            fflush(stdout);
        }
        int n = epoll_wait(ep, evs, 512, 100);
        if (n < 0) {
            if (errno == EINTR) continue;
            perror("epoll_wait");
            break;
        }
        for (int i = 0; i < n; i++) {
            conn *c = evs[i].data.ptr;
            unsigned e = evs[i].events;
            if (c->state == C_DEAD) continue;
            int kill = 0;
            if (c->state == C_CONNECTING) {
                int err = 0;
                socklen_t sl = sizeof err;
                getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &sl);
                if (err) { fprintf(stderr, "idle_conns: connect: %s\n", strerror(err)); kill = 1; }
                else if (e & EPOLLOUT) c->state = C_WRITING;
            }
            if (!kill && c->state == C_WRITING) {
                ssize_t w = send(c->fd, REQ + c->woff, sizeof REQ - 1 - c->woff, MSG_NOSIGNAL);
                if (w < 0 && errno != EAGAIN) kill = 1;
                else if (w > 0 && (c->woff += (size_t)w) == sizeof REQ - 1) {
                    c->state = C_READING;
                    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = c};
                    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
                }
            } else if (!kill && c->state == C_READING) {
                ssize_t r = recv(c->fd, c->rbuf + c->rlen, sizeof c->rbuf - c->rlen, 0);
                if (r < 0 && errno == EAGAIN) continue;
                if (r <= 0) kill = 1;
                else {
                    c->rlen += (size_t)r;
                    bench_resp resp = {0, 0, 0};
                    int k = bench_parse_response(c->rbuf, c->rlen, 0, &resp);
                    if (k < 0 || (k == 0 && c->rlen == sizeof c->rbuf) ||
                        (k == 1 && (resp.status != 200 || resp.conn_close))) {
                        if (k == 1) fprintf(stderr, "idle_conns: status %d close=%d\n",
                                            resp.status, resp.conn_close);
                        kill = 1;
                    } else if (k == 1) {
                        c->state = C_IDLE;
                        busy--;
                        answered++;
                        if (c->rlen != resp.len) unexpected++;
                    }
                }
            } else if (!kill && c->state == C_IDLE) {
                char b[256];
                ssize_t r = recv(c->fd, b, sizeof b, 0);
                if (r < 0 && errno == EAGAIN) continue;
                if (r > 0) { unexpected += r; continue; }
                closed_by_server++;
                epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
                close(c->fd);
                c->state = C_DEAD;
                continue;
            }
            if (kill) {
                epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
                close(c->fd);
                c->state = C_DEAD;
                busy--;
                failed++;
            }
        }
    }
    long open_now = 0;
    for (long i = 0; i < opened; i++)
        if (cs[i].state == C_IDLE) open_now++;
    if (!ready)
        printf("notready answered=%ld failed=%ld opened=%ld\n", answered, failed, opened);
    printf("final open=%ld closed_by_server=%ld unexpected_bytes=%ld%s\n", open_now,
           closed_by_server, unexpected, g_stop ? "" : " (timeout)");
    fflush(stdout);
    return ready && failed == 0 ? 0 : 1;
}
