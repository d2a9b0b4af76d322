/* bench/slowread.c - download one large response slowly, through a small receive buffer.

   slowread --port P [--host 127.0.0.1] --path /bytes/N [--rate MBps] [--rcvbuf BYTES]
            [--read BYTES] [--timeout S] [--expect N]

   Sets SO_RCVBUF (default 64 KiB, before connect, so the window stays small) and sends
   GET PATH HTTP/1.1 (Connection: close), then reads at most --rate MB/s (default 80,
   1 MB = 1e6 bytes) in reads of at most --read bytes (default 64 KiB), pacing with a
   token bucket refilled every 10 ms. It stops at the end of the body (Content-Length),
   at EOF, or at --timeout (default 30 s). A response without Content-Length (close-
   delimited) counts as complete when EOF comes after exactly --expect N body bytes.
   Prints one line:
     slowread: status=.. content_length=.. body=.. complete=0|1 elapsed=.. MBps=.. rcvbuf=..
   and exits 0 only on a complete 200 body. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}
static void sleep_s(double s) {
    if (s <= 0) return;
    struct timespec ts = { (time_t)s, (long)((s - (time_t)s) * 1e9) };
    nanosleep(&ts, NULL);
}

int main(int argc, char **argv) {
    const char *host = "127.0.0.1", *path = NULL;
    int port = 0, rcvbuf = 65536;
    double rate = 80, timeout = 30;
    size_t rd = 65536;
    long long expect = -1;
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *a = argv[i], *v = argv[i + 1];
        if (!strcmp(a, "--port")) port = atoi(v);
        else if (!strcmp(a, "--host")) host = v;
        else if (!strcmp(a, "--path")) path = v;
        else if (!strcmp(a, "--rate")) rate = atof(v);
        else if (!strcmp(a, "--rcvbuf")) rcvbuf = atoi(v);
        else if (!strcmp(a, "--read")) rd = (size_t)atol(v);
        else if (!strcmp(a, "--timeout")) timeout = atof(v);
        else if (!strcmp(a, "--expect")) expect = atoll(v);
        else { fprintf(stderr, "slowread: unknown option %s\n", a); return 2; }
    }
    if (argc % 2 == 0 || port <= 0 || !path || rate <= 0 || rd == 0 || rd > (1u << 24)) {
        fprintf(stderr, "usage: slowread --port P [--host H] --path PATH [--rate MBps] "
                        "[--rcvbuf BYTES] [--read BYTES] [--timeout S] [--expect N]\n");
        return 2;
    }
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    if (inet_pton(AF_INET, host, &a.sin_addr) != 1) { fprintf(stderr, "slowread: bad host\n"); return 2; }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) { perror("socket"); return 2; }
    if (rcvbuf > 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    int eff = 0;
    socklen_t el = sizeof eff;
    getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &eff, &el);
    double t0 = now(), deadline = t0 + timeout;
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) { perror("connect"); return 1; }
    char req[512];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", path, host);
    if (send(fd, req, (size_t)n, MSG_NOSIGNAL) != n) { perror("send"); return 1; }

    char *buf = (char *)malloc(rd + 1);
    char head[8192];
    size_t hl = 0;
    int status = 0, in_body = 0, eof = 0;
    long long cl = -1;
    unsigned long long body = 0;
    double tokens = 0, last = now(), bps = rate * 1e6;
    const char *why = "timeout";
    while (now() < deadline) {
        double t = now();
        tokens += (t - last) * bps;
        last = t;
        if (tokens > bps * 0.02) tokens = bps * 0.02;   /* at most 20 ms of burst */
        if (in_body && tokens < 1) { sleep_s(0.01); continue; }
        size_t want = in_body ? (size_t)tokens : sizeof head - 1 - hl;
        if (want > rd) want = rd;
        if (in_body && cl >= 0 && (unsigned long long)cl - body < want) want = (size_t)(cl - (long long)body);
        struct pollfd p = { .fd = fd, .events = POLLIN };
        int left_ms = (int)((deadline - now()) * 1000) + 1;
        if (poll(&p, 1, left_ms > 100 ? 100 : left_ms) <= 0) continue;
        ssize_t r = recv(fd, in_body ? buf : head + hl, want, MSG_DONTWAIT);
        if (r == 0) { eof = 1; why = "eof"; break; }
        if (r < 0) {
            if (errno == EAGAIN || errno == EINTR) continue;
            why = strerror(errno);
            break;
        }
        if (in_body) {
            body += (unsigned long long)r;
            tokens -= (double)r;
        } else {
            hl += (size_t)r;
            head[hl] = 0;
            char *end = strstr(head, "\r\n\r\n");
            if (!end) {
                if (hl + 1 >= sizeof head) { why = "head too large"; break; }
                continue;
            }
            sscanf(head, "HTTP/1.%*d %d", &status);
            for (char *l = strstr(head, "\r\n"); l && l < end; l = strstr(l + 2, "\r\n"))
                if (!strncasecmp(l + 2, "content-length:", 15)) cl = atoll(l + 17);
            body = (unsigned long long)(hl - (size_t)(end + 4 - head));
            in_body = 1;
        }
        if (in_body && cl >= 0 && body >= (unsigned long long)cl) { why = "complete"; break; }
    }
    double el2 = now() - t0;
    int complete = in_body && ((cl >= 0 && body == (unsigned long long)cl)
                               || (cl < 0 && eof && expect >= 0 && body == (unsigned long long)expect));
    printf("slowread: status=%d content_length=%lld body=%llu complete=%d end=%s elapsed=%.3f "
           "MBps=%.1f rcvbuf=%d eof=%d\n", status, cl, body, complete, why, el2,
           el2 > 0 ? body / el2 / 1e6 : 0.0, eff, eof);
    close(fd);
    free(buf);
    return complete && status == 200 ? 0 : 1;
}
