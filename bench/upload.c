/* bench/upload.c - stream large request bodies at a loopback server, from memory.

   upload --port P [--host 127.0.0.1] [--path /upload] --bytes N [--conns C]
          [--follow PATH] [--timeout S] [--no-crc] [--write BYTES]

   C connections (default 1), each on its own thread, send one
       POST PATH HTTP/1.1 / Host / Content-Length: N / Content-Type: application/octet-stream
   and then N body bytes from one 1 MiB buffer of pseudo-random bytes, sent over and over
   in writes of --write bytes (default 256 KiB); nothing is read from a file. Then each
   reads the response (status, Content-Length body). With --follow PATH a second request,
   GET PATH on the same connection, is written right after the body, and that response is
   read too: a server that answers before it has read the body (nginx discarding it) can
   only answer the second request once it has consumed every body byte, so the time to
   the second response is the time the server took to take the whole body.

   The first response's body is checked when it looks like "bytes=N crc32=X" (build/demo's
   /upload): N must equal the bytes sent and X the CRC-32 of the stream (computed before
   the clock starts; --no-crc skips that). Every connection gives up at the deadline
   (--timeout, default 60 s, for the whole run).

   Prints one line:
     upload: conns=C ok=.. failed=.. bytes_each=N elapsed=.. min_s=.. max_s=.. GBps=.. resp="..."
   (elapsed: first connect to last response; GBps = C*N / elapsed / 1e9) and per-connection
   failures on stderr; exits 0 only if every connection got 200 and a matching count. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "crc32.h"           /* crc_init, crc_update: CRC-32 by slicing-by-8 */

#define PATBYTES (1u << 20)

static struct sockaddr_in g_addr;
static const char *g_host = "127.0.0.1", *g_path = "/upload", *g_follow;
static uint64_t g_bytes;
static int g_conns = 1, g_nocrc;
static size_t g_write = 256 * 1024;
static double g_deadline;           /* CLOCK_MONOTONIC seconds */
static uint8_t *g_pat;
static uint32_t g_crc;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* wait until fd is ready for ev, or the deadline: 1 ready, 0 deadline */
static int wait_fd(int fd, short ev) {
    for (;;) {
        double left = g_deadline - now();
        if (left <= 0) return 0;
        struct pollfd p = { .fd = fd, .events = ev };
        int r = poll(&p, 1, (int)(left * 1000) + 1);
        if (r > 0) return 1;
        if (r < 0 && errno != EINTR) return 1;   /* let the call report the error */
    }
}

typedef struct {
    int id, ok;
    double t0, t1;
    uint64_t sent;
    char err[160];
    char resp[128];
} job;

static int send_all(int fd, const char *p, size_t n, uint64_t *sent) {
    while (n) {
        if (!wait_fd(fd, POLLOUT)) { errno = ETIMEDOUT; return -1; }
        ssize_t r = send(fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (r < 0) {
            if (errno == EAGAIN || errno == EINTR) continue;
            return -1;
        }
        p += r;
        n -= (size_t)r;
        if (sent) *sent += (uint64_t)r;
    }
    return 0;
}

/* read one response (Content-Length framed) from fd into b (carry-over in *have);
   returns status, the body (up to bodycap-1 bytes, NUL terminated), -1 on error */
static int read_resp(int fd, char *b, size_t cap, size_t *have, char *body, size_t bodycap,
                     char *err, size_t errcap) {
    size_t n = *have;
    char *end;
    for (;;) {
        b[n] = 0;
        if ((end = strstr(b, "\r\n\r\n"))) break;
        if (n + 1 >= cap) { snprintf(err, errcap, "response head too large"); return -1; }
        if (!wait_fd(fd, POLLIN)) { snprintf(err, errcap, "timeout waiting for response"); return -1; }
        ssize_t r = recv(fd, b + n, cap - 1 - n, MSG_DONTWAIT);
        if (r == 0) { snprintf(err, errcap, "closed before a response (%zu bytes)", n); return -1; }
        if (r < 0) {
            if (errno == EAGAIN || errno == EINTR) continue;
            snprintf(err, errcap, "recv: %s", strerror(errno));
            return -1;
        }
        n += (size_t)r;
    }
    int status = 0;
    if (sscanf(b, "HTTP/1.%*d %d", &status) != 1) { snprintf(err, errcap, "bad status line"); return -1; }
    long long cl = -1;
    for (char *l = strstr(b, "\r\n"); l && l < end; l = strstr(l + 2, "\r\n"))
        if (!strncasecmp(l + 2, "content-length:", 15)) cl = atoll(l + 17);
    if (cl < 0) { snprintf(err, errcap, "response without Content-Length"); return -1; }
    size_t hl = (size_t)(end + 4 - b);
    while (n < hl + (size_t)cl) {
        if (hl + (size_t)cl >= cap) { snprintf(err, errcap, "response body too large"); return -1; }
        if (!wait_fd(fd, POLLIN)) { snprintf(err, errcap, "timeout reading response body"); return -1; }
        ssize_t r = recv(fd, b + n, cap - 1 - n, MSG_DONTWAIT);
        if (r == 0) { snprintf(err, errcap, "closed inside the response body"); return -1; }
        if (r < 0) {
            if (errno == EAGAIN || errno == EINTR) continue;
            snprintf(err, errcap, "recv: %s", strerror(errno));
            return -1;
        }
        n += (size_t)r;
    }
    size_t bl = (size_t)cl < bodycap - 1 ? (size_t)cl : bodycap - 1;
    memcpy(body, b + hl, bl);
    body[bl] = 0;
    while (bl && (body[bl - 1] == '\n' || body[bl - 1] == '\r')) body[--bl] = 0;
    memmove(b, b + hl + cl, n - hl - (size_t)cl);   /* keep what follows */
    *have = n - hl - (size_t)cl;
    return status;
}

static void *run(void *arg) {
    job *j = (job *)arg;
    char head[512], buf[8192], body[96];
    j->t0 = now();
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&g_addr, sizeof g_addr) < 0) {
        snprintf(j->err, sizeof j->err, "connect: %s", strerror(errno));
        if (fd >= 0) close(fd);
        return NULL;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    int hn = snprintf(head, sizeof head,
                      "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/octet-stream\r\n"
                      "Content-Length: %llu\r\n\r\n", g_path, g_host, (unsigned long long)g_bytes);
    if (send_all(fd, head, (size_t)hn, NULL) < 0) goto fail_io;
    uint64_t off = 0;
    while (off < g_bytes) {
        size_t at = (size_t)(off % PATBYTES), n = PATBYTES - at;
        if (n > g_write) n = g_write;
        if (n > g_bytes - off) n = (size_t)(g_bytes - off);
        if (send_all(fd, (const char *)g_pat + at, n, &j->sent) < 0) goto fail_io;
        off += n;
    }
    if (g_follow) {
        hn = snprintf(head, sizeof head, "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", g_follow, g_host);
        if (send_all(fd, head, (size_t)hn, NULL) < 0) goto fail_io;
    }
    size_t have = 0;
    int st = read_resp(fd, buf, sizeof buf, &have, body, sizeof body, j->err, sizeof j->err);
    if (st < 0) goto fail;
    snprintf(j->resp, sizeof j->resp, "%d %s", st, body);
    if (st != 200) { snprintf(j->err, sizeof j->err, "status %d: %s", st, body); goto fail; }
    unsigned long long nb;
    unsigned crc;
    if (sscanf(body, "bytes=%llu crc32=%x", &nb, &crc) == 2) {
        if (nb != g_bytes) {
            snprintf(j->err, sizeof j->err, "server counted %llu bytes, sent %llu", nb,
                     (unsigned long long)g_bytes);
            goto fail;
        }
        if (!g_nocrc && crc != g_crc) {
            snprintf(j->err, sizeof j->err, "server crc32 %08x, expected %08x", crc, g_crc);
            goto fail;
        }
    }
    if (g_follow) {
        char body2[96];
        int st2 = read_resp(fd, buf, sizeof buf, &have, body2, sizeof body2, j->err, sizeof j->err);
        if (st2 < 0) goto fail;
        if (st2 != 200) { snprintf(j->err, sizeof j->err, "follow-up status %d", st2); goto fail; }
    }
    j->t1 = now();
    j->ok = 1;
    close(fd);
    return NULL;
fail_io:
    snprintf(j->err, sizeof j->err, "send after %llu body bytes: %s",
             (unsigned long long)j->sent, strerror(errno));
fail:
    j->t1 = now();
    close(fd);
    return NULL;
}

static void usage(void) {
    fprintf(stderr, "usage: upload --port P [--host H] [--path /upload] --bytes N [--conns C] "
                    "[--follow PATH] [--timeout S] [--no-crc] [--write BYTES]\n");
    exit(2);
}

int main(int argc, char **argv) {
    int port = 0;
    double timeout = 60;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--no-crc")) { g_nocrc = 1; continue; }
        if (!v) usage();
        if (!strcmp(a, "--port")) port = atoi(v);
        else if (!strcmp(a, "--host")) g_host = v;
        else if (!strcmp(a, "--path")) g_path = v;
        else if (!strcmp(a, "--bytes")) g_bytes = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--conns")) g_conns = atoi(v);
        else if (!strcmp(a, "--follow")) g_follow = v;
        else if (!strcmp(a, "--timeout")) timeout = atof(v);
        else if (!strcmp(a, "--write")) g_write = (size_t)atol(v);
        else usage();
        i++;
    }
    if (port <= 0 || g_conns <= 0 || g_conns > 10000 || !g_write) usage();
    g_addr.sin_family = AF_INET;
    g_addr.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, g_host, &g_addr.sin_addr) != 1) { fprintf(stderr, "upload: --host must be an IPv4 literal\n"); return 2; }

    g_pat = (uint8_t *)malloc(PATBYTES);
    if (!g_pat) return 2;
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i < PATBYTES; i++) {      /* xorshift64 */
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        g_pat[i] = (uint8_t)(x >> 32);
    }
    if (!g_nocrc) {                 /* CRC-32 of the whole stream, before the clock starts */
        crc_init();
        uint64_t left = g_bytes;
        while (left) {
            size_t n = left < PATBYTES ? (size_t)left : PATBYTES;
            g_crc = crc_update(g_crc, g_pat, n);
            left -= n;
        }
    }

    job *jobs = (job *)calloc((size_t)g_conns, sizeof *jobs);
    pthread_t *th = (pthread_t *)calloc((size_t)g_conns, sizeof *th);
    if (!jobs || !th) return 2;
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setstacksize(&at, 256 * 1024);
    double t0 = now();
    g_deadline = t0 + timeout;
    int started = 0;
    for (int i = 0; i < g_conns; i++) {
        jobs[i].id = i;
        if (pthread_create(&th[i], &at, run, &jobs[i]) != 0) {
            snprintf(jobs[i].err, sizeof jobs[i].err, "pthread_create failed");
            break;
        }
        started++;
    }
    for (int i = 0; i < started; i++) pthread_join(th[i], NULL);
    double t1 = now();
    int ok = 0, failed = 0;
    double mn = 1e9, mx = 0;
    uint64_t sent = 0;
    const char *resp = "";
    for (int i = 0; i < g_conns; i++) {
        job *j = &jobs[i];
        sent += j->sent;
        if (j->ok) {
            ok++;
            double d = j->t1 - j->t0;
            if (d < mn) mn = d;
            if (d > mx) mx = d;
            if (!*resp) resp = j->resp;
        } else {
            failed++;
            if (failed <= 5) fprintf(stderr, "upload: conn %d: %s\n", i, j->err[0] ? j->err : "not run");
        }
    }
    if (!ok) mn = 0;
    double el = t1 - t0;
    printf("upload: conns=%d ok=%d failed=%d bytes_each=%llu body_sent=%llu elapsed=%.4f "
           "min_s=%.4f max_s=%.4f GBps=%.4f crc=%s resp=\"%s\"\n",
           g_conns, ok, failed, (unsigned long long)g_bytes, (unsigned long long)sent, el, mn, mx,
           el > 0 ? (double)g_bytes * ok / el / 1e9 : 0.0, g_nocrc ? "unchecked" : "checked", resp);
    return failed ? 1 : 0;
}
