/* bench/tlsload.c - a TLS load client (OpenSSL) for bench/tls.sh: handshakes per second,
   full or resumed, with C connections in flight, and idle TLS connections for memory.
     tlsload full   HOST PORT N C     N connections: handshake, GET /, response, close
     tlsload resume HOST PORT N C     the same, every one resuming the first one's session
     tlsload idle   HOST PORT N C     N connections, each after one request kept open until
                                      stdin closes ("ready" is printed when all are up)
   TLS 1.2, ECDHE with AES-128-GCM (ECDSA or RSA, whichever the server's certificate is),
   X25519, no session tickets (session IDs, as httpd.h's cache), no certificate check (the
   server's work is measured, not the client's). Prints one line:
     mode=full n=N ok=K resumed=R secs=S rate=K/S
   Build: cc -O2 -o build/tlsload bench/tlsload.c -lssl -lcrypto */
#define _GNU_SOURCE 1
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { S_FREE, S_CONNECT, S_HANDSHAKE, S_WRITE, S_READ, S_IDLE };
typedef struct slot {
    int fd, state;
    SSL *ssl;
    char buf[4096];
    size_t len;
} slot;

static SSL_CTX *ctx;
static SSL_SESSION *sess;
static struct sockaddr_in addr;
static const char req[] = "GET / HTTP/1.1\r\nHost: bench\r\n\r\n";

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}
static int start(slot *s) {
    s->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int one = 1;
    setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(s->fd, (struct sockaddr *)&addr, sizeof addr) < 0 && errno != EINPROGRESS) {
        close(s->fd);
        return -1;
    }
    s->ssl = SSL_new(ctx);
    SSL_set_fd(s->ssl, s->fd);
    SSL_set_tlsext_host_name(s->ssl, "localhost");
    if (sess) SSL_set_session(s->ssl, sess);
    s->state = S_HANDSHAKE;
    s->len = 0;
    return 0;
}
static void finish(slot *s) {
    /* closed without a close_notify exchange, as a browser does; marked clean so that
       OpenSSL keeps the session resumable */
    SSL_set_shutdown(s->ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
    SSL_free(s->ssl);
    close(s->fd);
    s->ssl = NULL;
    s->fd = -1;
    s->state = S_FREE;
}
/* One response read whole? (headers + Content-Length body) */
static int complete(const slot *s) {
    const char *e = memmem(s->buf, s->len, "\r\n\r\n", 4);
    if (!e) return 0;
    const char *cl = memmem(s->buf, (size_t)(e - s->buf), "Content-Length: ", 16);
    size_t need = (size_t)(e + 4 - s->buf) + (cl ? strtoul(cl + 16, NULL, 10) : 0);
    return s->len >= need;
}
/* Advances a slot; returns 1 when its request is done, -1 on failure, 0 otherwise. */
static int step(slot *s, short *want) {
    int r;
    for (;;) {
        switch (s->state) {
        case S_HANDSHAKE:
            r = SSL_connect(s->ssl);
            if (r == 1) { s->state = S_WRITE; continue; }
            break;
        case S_WRITE:
            r = SSL_write(s->ssl, req, (int)sizeof req - 1);
            if (r > 0) { s->state = S_READ; continue; }
            break;
        case S_READ:
            r = SSL_read(s->ssl, s->buf + s->len, (int)(sizeof s->buf - s->len - 1));
            if (r > 0) {
                s->len += (size_t)r;
                if (complete(s)) return 1;
                if (s->len >= sizeof s->buf - 1) return -1;
                continue;
            }
            break;
        default:
            return 0;
        }
        int e = SSL_get_error(s->ssl, r);
        if (e == SSL_ERROR_WANT_READ) { *want = POLLIN; return 0; }
        if (e == SSL_ERROR_WANT_WRITE) { *want = POLLOUT; return 0; }
        static int said;
        if (!said++) ERR_print_errors_fp(stderr);            /* the first failure only */
        ERR_clear_error();
        return -1;
    }
}

int main(int argc, char **argv) {
    if (argc < 6) {
        fprintf(stderr, "usage: %s full|resume|idle HOST PORT N C\n", argv[0]);
        return 2;
    }
    const char *mode = argv[1];
    int n = atoi(argv[4]), c = atoi(argv[5]);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)atoi(argv[3]));
    inet_pton(AF_INET, argv[2], &addr.sin_addr);
    ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_cipher_list(ctx, "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256");
    SSL_CTX_set1_groups_list(ctx, "X25519:P-256");  /* P-256: the ECDSA key's curve */
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    int idle = !strcmp(mode, "idle");
    if (!strcmp(mode, "resume")) {                  /* one full handshake: the session */
        slot s;
        short w;
        memset(&s, 0, sizeof s);
        if (start(&s) < 0) return 1;
        for (int r; (r = step(&s, &w)) == 0;) {
            struct pollfd pf = { s.fd, w, 0 };
            poll(&pf, 1, 1000);
        }
        sess = SSL_get1_session(s.ssl);
        finish(&s);
    }
    slot *sl = calloc((size_t)(idle ? n : c), sizeof *sl);
    struct pollfd *pf = calloc((size_t)(idle ? n : c), sizeof *pf);
    int nslots = idle ? n : c, launched = 0, done = 0, failed = 0, resumed = 0;
    double t0 = now();
    for (int i = 0; i < nslots; i++) sl[i].fd = -1;
    while (done + failed < n) {
        int np = 0;
        for (int i = 0; i < nslots; i++) {
            slot *s = &sl[i];
            if (s->state == S_FREE && launched < n && (idle || launched - done - failed < c)) {
                launched++;
                if (start(s) < 0) { failed++; continue; }
            }
            if (s->state == S_FREE || s->state == S_IDLE) continue;
            short want = POLLIN;
            int r = step(s, &want);
            if (r != 0) {
                if (r > 0) { done++; resumed += SSL_session_reused(s->ssl); }
                else failed++;
                if (r > 0 && idle) s->state = S_IDLE;
                else finish(s);
                i--;                                   /* the slot can start again */
                continue;
            }
            pf[np].fd = s->fd;
            pf[np].events = want;
            np++;
        }
        if (np && poll(pf, (nfds_t)np, 1000) < 0 && errno != EINTR) break;
        if (!np && launched >= n) break;
    }
    double secs = now() - t0;
    printf("mode=%s n=%d ok=%d failed=%d resumed=%d secs=%.3f rate=%.1f\n", mode, n, done,
           failed, resumed, secs, done / secs);
    fflush(stdout);
    if (idle) {
        printf("ready\n");
        fflush(stdout);
        char b[64];
        while (read(0, b, sizeof b) > 0) {}            /* until stdin closes */
        for (int i = 0; i < nslots; i++) if (sl[i].ssl) finish(&sl[i]);
    }
    return failed ? 1 : 0;
}
