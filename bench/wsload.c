/* bench/wsload.c - WebSocket load for bench/ws.sh: echo round trips, or idle connections.

   wsload --port P [--host 127.0.0.1] [--path /ws] --conns N
          echo:  [--size 64] [--window 1] [--seconds 5]
                 each connection keeps --window messages of --size bytes in flight (binary,
                 masked), sending one more for every echo (those of one read in one send);
                 prints
                   echo conns=N size=S msgs=M seconds=T rate=R
          idle:  --idle SECONDS
                 opens every connection (at most 256 handshakes at once), prints
                   ready open=N failed=N
                 then holds them, answering pings with pongs, and prints
                   final open=N closed_by_server=N pings=N
   Raises RLIMIT_NOFILE as needed. Loopback use only. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { S_CONNECTING, S_HANDSHAKE, S_OPEN, S_DEAD };
typedef struct {
    int fd, state;
    size_t rlen;
    unsigned inflight;
    char rbuf[4096];
} conn;

static const char *host = "127.0.0.1", *path = "/ws";
static int port, nconns = 1, size = 64, window = 1;
static double seconds = 5, idle = 0;
static uint64_t msgs, pings;
static unsigned char frame_buf[70000];
static size_t frame_len;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}
static int send_all(int fd, const void *p, size_t n) {
    while (n) {
        ssize_t r = send(fd, p, n, MSG_NOSIGNAL);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0 && errno == EAGAIN) {             /* tiny frames: the kernel takes them */
            struct timespec ts = { 0, 100000 };
            nanosleep(&ts, NULL);
            continue;
        }
        if (r <= 0) return -1;
        p = (const char *)p + r;
        n -= (size_t)r;
    }
    return 0;
}
static void start(conn *c, int ep, struct sockaddr_in *sa) {
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->state = S_CONNECTING;
    c->rlen = 0;
    c->inflight = 0;
    if (connect(c->fd, (struct sockaddr *)sa, sizeof *sa) < 0 && errno != EINPROGRESS) {
        close(c->fd);
        c->state = S_DEAD;
        return;
    }
    struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLET, .data.ptr = c };
    epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
}
static void send_handshake(conn *c) {
    char req[512];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\n\r\n", path, host, port);
    c->state = send_all(c->fd, req, (size_t)n) < 0 ? S_DEAD : S_HANDSHAKE;
}
static void send_msgs(conn *c, unsigned k) {
    static unsigned char many[64 * 70100];
    size_t n = 0;
    for (unsigned i = 0; i < k && n + frame_len <= sizeof many; i++, n += frame_len)
        memcpy(many + n, frame_buf, frame_len);
    if (send_all(c->fd, many, n) < 0) c->state = S_DEAD;
    c->inflight += k;
}
/* Handles complete frames in rbuf; returns 0, or -1 when the server closed. */
static int frames(conn *c) {
    size_t i = 0;
    unsigned echoed = 0;
    while (c->rlen - i >= 2) {
        unsigned char *p = (unsigned char *)c->rbuf + i;
        uint64_t len = p[1] & 127;
        size_t hl = 2;
        if (len == 126) { if (c->rlen - i < 4) break; len = (uint64_t)p[2] << 8 | p[3]; hl = 4; }
        else if (len == 127) { if (c->rlen - i < 10) break; len = 0; for (int k = 0; k < 8; k++) len = len << 8 | p[2 + k]; hl = 10; }
        if (hl + len > sizeof c->rbuf) return -1;          /* bigger than we ever ask for */
        if (c->rlen - i < hl + len) break;
        int op = p[0] & 15;
        if (op == 9) {                                     /* pong with the same payload */
            unsigned char pong[2 + 4 + 125];
            pong[0] = 0x8a; pong[1] = (unsigned char)(0x80 | len);
            memset(pong + 2, 0, 4);
            memcpy(pong + 6, p + hl, (size_t)len);
            if (send_all(c->fd, pong, 6 + (size_t)len) < 0) return -1;
            pings++;
        } else if (op == 8) {
            return -1;
        } else if (op == 1 || op == 2) {
            msgs++;
            c->inflight--;
            echoed++;
        }
        i += hl + (size_t)len;
    }
    memmove(c->rbuf, c->rbuf + i, c->rlen - i);
    c->rlen -= i;
    if (echoed && !idle) send_msgs(c, echoed);       /* the replacements in one send */
    return c->state == S_DEAD ? -1 : 0;
}
int main(int argc, char **argv) {
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *a = argv[i], *v = argv[i + 1];
        if (!strcmp(a, "--port")) port = atoi(v);
        else if (!strcmp(a, "--host")) host = v;
        else if (!strcmp(a, "--path")) path = v;
        else if (!strcmp(a, "--conns")) nconns = atoi(v);
        else if (!strcmp(a, "--size")) size = atoi(v);
        else if (!strcmp(a, "--window")) window = atoi(v);
        else if (!strcmp(a, "--seconds")) seconds = atof(v);
        else if (!strcmp(a, "--idle")) idle = atof(v);
        else { fprintf(stderr, "unknown option %s\n", a); return 2; }
    }
    if (!port || nconns < 1 || size < 0 || size > 65536 || window < 1 || window > 64) {
        fprintf(stderr, "usage: wsload --port P --conns N [--size B --window W --seconds S | --idle S]\n");
        return 2;
    }
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < (rlim_t)nconns + 64) {
        rl.rlim_cur = rl.rlim_max < (rlim_t)nconns + 64 ? rl.rlim_max : (rlim_t)nconns + 64;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    /* the message: binary, masked with a zero key (a valid mask; the bytes stay as sent) */
    frame_buf[0] = 0x82;
    size_t hl = 2;
    if (size < 126) frame_buf[1] = (unsigned char)(0x80 | size);
    else { frame_buf[1] = 0x80 | 126; frame_buf[2] = (unsigned char)(size >> 8); frame_buf[3] = (unsigned char)size; hl = 4; }
    memset(frame_buf + hl, 0, 4);
    for (int i = 0; i < size; i++) frame_buf[hl + 4 + (size_t)i] = (unsigned char)('a' + i % 26);
    frame_len = hl + 4 + (size_t)size;

    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    inet_pton(AF_INET, host, &sa.sin_addr);
    int ep = epoll_create1(0);
    conn *cs = (conn *)calloc((size_t)nconns, sizeof *cs);
    if (!cs) return 1;
    int next = 0, open = 0, failed = 0, pending = 0;
    double t0 = now(), ready_at = 0, end = 0;
    uint64_t msgs0 = 0;
    struct epoll_event evs[512];
    for (;;) {
        while (next < nconns && pending < 256) { start(&cs[next++], ep, &sa); pending++; }
        int n = epoll_wait(ep, evs, 512, 100);
        for (int k = 0; k < n; k++) {
            conn *c = (conn *)evs[k].data.ptr;
            if (c->state == S_DEAD) continue;
            if (c->state == S_CONNECTING && (evs[k].events & EPOLLOUT)) send_handshake(c);
            if (evs[k].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
                for (;;) {
                    ssize_t r = recv(c->fd, c->rbuf + c->rlen, sizeof c->rbuf - c->rlen, 0);
                    if (r < 0 && errno == EAGAIN) break;
                    if (r <= 0) {
                        if (c->state == S_OPEN) open--; else { failed++; pending--; }
                        c->state = S_DEAD;
                        close(c->fd);
                        break;
                    }
                    c->rlen += (size_t)r;
                    if (c->state == S_HANDSHAKE) {
                        char *e = memmem(c->rbuf, c->rlen, "\r\n\r\n", 4);
                        if (!e) continue;
                        size_t used = (size_t)(e + 4 - c->rbuf);
                        int ok = c->rlen >= 12 && !memcmp(c->rbuf, "HTTP/1.1 101", 12);
                        memmove(c->rbuf, c->rbuf + used, c->rlen - used);
                        c->rlen -= used;
                        pending--;
                        if (!ok) { failed++; c->state = S_DEAD; close(c->fd); break; }
                        c->state = S_OPEN;
                        open++;
                        if (!idle && ready_at) send_msgs(c, (unsigned)window);
                    }
                    if (c->state == S_OPEN && frames(c) < 0) {
                        open--;
                        c->state = S_DEAD;
                        close(c->fd);
                        break;
                    }
                }
            }
        }
        if (!ready_at && next == nconns && pending == 0) {
            ready_at = now();
            if (idle) {
                printf("ready open=%d failed=%d elapsed=%.2f\n", open, failed, ready_at - t0);
                fflush(stdout);
                end = ready_at + idle;
            } else {
                for (int i = 0; i < nconns; i++)
                    if (cs[i].state == S_OPEN) send_msgs(&cs[i], (unsigned)window);
                msgs0 = msgs;
                end = ready_at + seconds;
            }
        }
        if (ready_at && now() >= end) break;
        if (now() - t0 > 120) { fprintf(stderr, "wsload: not ready after 120 s\n"); return 1; }
    }
    if (idle)
        printf("final open=%d closed_by_server=%d pings=%llu\n", open, nconns - failed - open,
               (unsigned long long)pings);
    else
        printf("echo conns=%d size=%d msgs=%llu seconds=%.2f rate=%.0f\n", nconns, size,
               (unsigned long long)(msgs - msgs0), now() - ready_at,
               (double)(msgs - msgs0) / (now() - ready_at));
    return 0;
}
