/* tests/test_server.c - the worker pool over loopback with real sockets and threads (built
   with ASan+UBSan and, separately, TSan): keep-alive and connection-per-request load from
   several threads, max_connections (stop accepting, the backlog holds the rest), graceful
   and immediate stop, IPv6, bad configuration. */
#define HTTPD_IMPLEMENTATION
#include "../httpd.h"
#include "harness.h"
#include <poll.h>
#include <sys/wait.h>

static void on_hello(httpd_request *r) { httpd_respond(r, 200, "text/plain", "Hello, World!", 13); }
static void on_echo(httpd_request *r) { httpd_respond(r, 200, NULL, r->body.ptr, r->body.len); }
/* blocking tasks: counted so that tests can check "done exactly once", cancellation */
static HTTPD__ATOMIC(int) work_started, work_cancelled, done_calls, done_closed, done_timeout;
static HTTPD__ATOMIC(int) posts_ok, posts_closed, bg_runs, deferred;
static void slow_work(void *arg, const httpd_task *t) {
    HTTPD__ADD(&work_started, 1);
    for (int i = 0; i < (int)(uintptr_t)arg / 5; i++) {
        if (httpd_task_cancelled(t)) { HTTPD__ADD(&work_cancelled, 1); return; }
        usleep(5000);
    }
}
static void slow_done(httpd_request *r, void *arg, int status) {
    (void)arg;
    HTTPD__ADD(&done_calls, 1);
    if (status == HTTPD_ERR_CLOSED) HTTPD__ADD(&done_closed, 1);
    if (status == HTTPD_ERR_TIMEOUT) HTTPD__ADD(&done_timeout, 1);
    int rc = httpd_respond(r, 200, "text/plain", "done", 4);
    if (status == 0 && rc != 0) HTTPD__ADD(&done_calls, 1000);    /* must not happen */
}
static void on_task(httpd_request *r) {
    httpd_str ms = httpd_param(r, "ms");
    uintptr_t v = (uintptr_t)strtoul(ms.ptr, NULL, 10);
    if (httpd_defer(r, slow_work, slow_done, (void *)v) == 0) HTTPD__ADD(&deferred, 1);
    else {
        httpd_add_header(r, "Retry-After", "1");
        httpd_respond(r, 503, "text/plain", "busy", 4);
    }
}
static void posted(httpd_server *s, httpd_conn_id id, void *arg, int status) {
    (void)s; (void)id; (void)arg;
    HTTPD__ADD(status == 0 ? &posts_ok : &posts_closed, 1);
}
static void on_post(httpd_request *r) {
    httpd_post(r->server, r->conn, posted, NULL);      /* runs after this handler */
    httpd_respond(r, 200, "text/plain", "posted", 6);
}
static void bg_work(void *arg, const httpd_task *t) { (void)arg; (void)t; HTTPD__ADD(&bg_runs, 1); }
static void on_block(httpd_request *r) {             /* what not to do: sleep on the worker */
    usleep(400000);
    httpd_respond(r, 200, NULL, "slept", 5);
}
/* WebSockets reached from other threads: ids recorded at open, echo on the worker */
static HTTPD__ATOMIC(uint64_t) ws_ids[8];
static HTTPD__ATOMIC(int) ws_open_n, ws_done_ok, ws_done_closed, ws_closed_n;
static void ws_on_open(httpd_ws *ws) {
    int i = HTTPD__ADD(&ws_open_n, 1);
    if (i < 8) HTTPD__STORE(&ws_ids[i], httpd_ws_id(ws).id);
}
static void ws_on_msg(httpd_ws *ws, int type, const void *d, size_t n, int fin) {
    (void)fin;
    httpd_ws_send(ws, type, d, n);
}
static void ws_on_close(httpd_ws *ws, int code, const char *r, size_t rl) {
    (void)ws; (void)code; (void)r; (void)rl;
    HTTPD__ADD(&ws_closed_n, 1);
}
static const httpd_ws_desc ws_desc = { ws_on_open, ws_on_msg, ws_on_close, NULL, NULL,
                                       0, 0, 0, 0, 0, HTTPD_WS_DROP };
static void on_ws(httpd_request *r) { httpd_ws_upgrade(r, &ws_desc, NULL, NULL); }
/* A streamed body that waits 600 ms behind a timer after its first piece (the body is
   paused meanwhile), then reads on and answers with the byte count. */
static HTTPD__ATOMIC(uint64_t) paused_bytes;
static void paused_resume(httpd_request *r, void *arg, int status) {
    (void)r; (void)arg; (void)status;            /* reading goes on after this returns */
}
static void paused_piece(httpd_request *r, void *arg, const void *d, size_t n, int status) {
    (void)arg; (void)d;
    if (status == HTTPD_BODY_END) {
        char b[32];
        int k = snprintf(b, sizeof b, "%llu", (unsigned long long)HTTPD__LOAD(&paused_bytes));
        httpd_respond(r, 200, "text/plain", b, (size_t)k);
        return;
    }
    if (status < 0) { httpd_respond(r, 500, NULL, "", 0); return; }
    if (HTTPD__ADD(&paused_bytes, (uint64_t)n) == 0) httpd_after(r, 600, paused_resume, NULL);
}
static void on_paused(httpd_request *r) { httpd_body_read(r, paused_piece, NULL); }
static const httpd_route routes[] = {
    { .method = "POST", .pattern = "/paused", .handler = on_paused, .stream_body = 1 },
    { .method = "GET", .pattern = "/ws", .handler = on_ws },
    { .method = "GET", .pattern = "/task/:ms", .handler = on_task, .timeout_ms = 1500 },
    { .method = "GET", .pattern = "/post", .handler = on_post },
    { .method = "GET", .pattern = "/block", .handler = on_block },
    { .method = "GET", .pattern = "/", .handler = on_hello },
    { .method = "POST", .pattern = "/echo", .handler = on_echo },
    { 0 },
};
static int task_threads = 2, task_queue = 4;
static httpd_server *start(int workers, uint32_t max_conns, const char *addr) {
    httpd_desc d;
    memset(&d, 0, sizeof d);
    d.task_threads = task_threads;
    d.task_queue = (uint32_t)task_queue;
    d.addr = addr;
    d.workers = workers;
    d.max_connections = max_conns;
    d.routes = routes;
    d.shutdown_timeout_ms = 3000;
    httpd_server *s = NULL;
    int rc = httpd_start(&d, &s);
    if (rc < 0) { fprintf(stderr, "  start: %s\n", httpd_strerror(rc)); return NULL; }
    return s;
}
static int dial(int port, int family) {
    int fd = socket(family, SOCK_STREAM, 0);
    struct timeval tv = { 5, 0 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (family == AF_INET6) {
        struct sockaddr_in6 a;
        memset(&a, 0, sizeof a);
        a.sin6_family = AF_INET6; a.sin6_port = htons((uint16_t)port); a.sin6_addr = in6addr_loopback;
        if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) { close(fd); return -1; }
    } else {
        struct sockaddr_in a;
        memset(&a, 0, sizeof a);
        a.sin_family = AF_INET; a.sin_port = htons((uint16_t)port);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) { close(fd); return -1; }
    }
    return fd;
}
/* Reads one response; returns its status and copies the body (NUL-terminated). */
#define RBUF (1u << 20)
static int read_response_(int fd, char *buf, char *body, size_t cap);
static int read_response(int fd, char *body, size_t cap) {
    char *buf = (char *)malloc(RBUF);
    int st = read_response_(fd, buf, body, cap);
    free(buf);
    return st;
}
static int read_response_(int fd, char *buf, char *body, size_t cap) {
    size_t n = 0;
    for (;;) {
        ssize_t r = read(fd, buf + n, RBUF - 1 - n);
        if (r <= 0) return -1;
        n += (size_t)r;
        buf[n] = 0;
        char *end = strstr(buf, "\r\n\r\n");
        if (!end) continue;
        char *cl = strstr(buf, "Content-Length: ");
        size_t len = cl ? (size_t)strtoul(cl + 16, NULL, 10) : 0;
        size_t have = n - (size_t)(end + 4 - buf);
        while (have < len) {
            r = read(fd, buf + n, RBUF - 1 - n);
            if (r <= 0) return -1;
            n += (size_t)r; have += (size_t)r;
        }
        if (body) { size_t k = HTTPD__MIN(len, cap - 1); memcpy(body, end + 4, k); body[k] = 0; }
        return atoi(buf + 9);
    }
}
static int send_all(int fd, const char *s, size_t n) {
    while (n) {
        ssize_t r = write(fd, s, n);
        if (r <= 0) return -1;
        s += r; n -= (size_t)r;
    }
    return 0;
}
typedef struct { int port, requests, keepalive, ok; } load_arg;
static void *load(void *p) {
    load_arg *a = (load_arg *)p;
    const char *ka = "GET / HTTP/1.1\r\nHost: t\r\n\r\n";
    const char *cl = "GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    int fd = -1;
    char body[64];
    for (int i = 0; i < a->requests; i++) {
        if (fd < 0 && (fd = dial(a->port, AF_INET)) < 0) continue;
        const char *req = a->keepalive ? ka : cl;
        if (send_all(fd, req, strlen(req)) == 0 && read_response(fd, body, sizeof body) == 200
            && !strcmp(body, "Hello, World!"))
            a->ok++;
        if (!a->keepalive) { close(fd); fd = -1; }
    }
    if (fd >= 0) close(fd);
    return NULL;
}
static void test_load_from_threads(void) {
    httpd_server *s = start(3, 0, NULL);
    CHECK(s != NULL);
    if (!s) return;
    int port = httpd_port(s);
    CHECK(port > 0);
    pthread_t th[8];
    load_arg args[8];
    for (int i = 0; i < 8; i++) {
        args[i].port = port; args[i].requests = i < 5 ? 400 : 150; args[i].keepalive = i < 5;
        args[i].ok = 0;
        pthread_create(&th[i], NULL, load, &args[i]);
    }
    for (int i = 0; i < 8; i++) { pthread_join(th[i], NULL); CHECK_EQ(args[i].ok, args[i].requests); }
    httpd_stop(s, 1);
    CHECK_EQ(httpd_wait(s), 0);
    httpd_destroy(s);
}
static void test_echo_large_body(void) {
    httpd_server *s = start(1, 0, NULL);
    if (!s) { CHECK(0); return; }
    int fd = dial(httpd_port(s), AF_INET);
    static char big[300000], resp[300100];
    for (size_t i = 0; i < sizeof big; i++) big[i] = (char)('a' + i % 26);
    char head[128];
    int n = snprintf(head, sizeof head, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: %zu\r\n\r\n", sizeof big);
    CHECK_EQ(send_all(fd, head, (size_t)n), 0);
    CHECK_EQ(send_all(fd, big, sizeof big), 0);
    CHECK_EQ(read_response(fd, resp, sizeof resp), 200);
    CHECK(!memcmp(resp, big, sizeof big));
    close(fd);
    httpd_stop(s, 1);
    httpd_wait(s);
    httpd_destroy(s);
}
static void test_max_connections(void) {
    httpd_server *s = start(1, 3, NULL);
    if (!s) { CHECK(0); return; }
    int port = httpd_port(s), fds[6];
    const char *req = "GET / HTTP/1.1\r\nHost: t\r\n\r\n";
    for (int i = 0; i < 6; i++) {
        fds[i] = dial(port, AF_INET);
        CHECK(fds[i] >= 0);
        send_all(fds[i], req, strlen(req));
    }
    int answered = 0;
    for (int i = 0; i < 6; i++) {                    /* at most 3 are served ... */
        struct pollfd p = { fds[i], POLLIN, 0 };
        if (poll(&p, 1, i < 3 ? 2000 : 300) == 1 && read_response(fds[i], NULL, 0) == 200) answered++;
    }
    CHECK_EQ(answered, 3);
    for (int i = 0; i < 3; i++) close(fds[i]);       /* ... the rest wait in the backlog */
    for (int i = 3; i < 6; i++) {
        struct pollfd p = { fds[i], POLLIN, 0 };
        CHECK(poll(&p, 1, 3000) == 1);
        CHECK_EQ(read_response(fds[i], NULL, 0), 200);
        close(fds[i]);
    }
    httpd_stop(s, 1);
    httpd_wait(s);
    httpd_destroy(s);
}
/* With several workers accepting at once, the cap still holds exactly: a place is
   reserved before each accept. */
static void test_max_connections_many_workers(void) {
    httpd_server *s = start(4, 3, NULL);
    if (!s) { CHECK(0); return; }
    int port = httpd_port(s), over = 0;
    const char *req = "GET / HTTP/1.1\r\nHost: t\r\n\r\n";
    for (int round = 0; round < 15; round++) {
        int fds[8], answered = 0;
        for (int i = 0; i < 8; i++) fds[i] = dial(port, AF_INET);
        for (int i = 0; i < 8; i++) if (fds[i] >= 0) send_all(fds[i], req, strlen(req));
        usleep(150000);
        for (int i = 0; i < 8; i++) {
            struct pollfd p = { fds[i], POLLIN, 0 };
            if (fds[i] >= 0 && poll(&p, 1, 0) == 1 && read_response(fds[i], NULL, 0) == 200)
                answered++;
        }
        if (answered > 3) over++;
        CHECK(HTTPD__LOAD(&s->nconns) <= 3);
        for (int i = 0; i < 8; i++) if (fds[i] >= 0) close(fds[i]);
        usleep(50000);
    }
    CHECK_EQ(over, 0);
    httpd_stop(s, 1);
    httpd_wait(s);
    httpd_destroy(s);
}
static void test_graceful_stop_closes_idle(void) {
    httpd_server *s = start(2, 0, NULL);
    if (!s) { CHECK(0); return; }
    int port = httpd_port(s), fds[4];
    const char *req = "GET / HTTP/1.1\r\nHost: t\r\n\r\n";
    for (int i = 0; i < 4; i++) {
        fds[i] = dial(port, AF_INET);
        send_all(fds[i], req, strlen(req));
        CHECK_EQ(read_response(fds[i], NULL, 0), 200);
    }
    int half = dial(port, AF_INET);                  /* a request in progress ... */
    send_all(half, "GET / HTTP/1.1\r\n", 16);
    usleep(100000);
    uint64_t t0 = httpd__now_ms();
    httpd_stop(s, 1);
    for (int i = 0; i < 4; i++) {                     /* idle ones are closed at once */
        char c;
        CHECK_EQ(read(fds[i], &c, 1), 0);
        close(fds[i]);
    }
    send_all(half, "Host: t\r\n\r\n", 11);           /* ... is finished, with close */
    char body[64];
    CHECK_EQ(read_response(half, body, sizeof body), 200);
    char c;
    CHECK_EQ(read(half, &c, 1), 0);
    close(half);
    CHECK_EQ(httpd_wait(s), 0);
    httpd_destroy(s);
    CHECK(httpd__now_ms() - t0 < 2000);
    CHECK(dial(port, AF_INET) < 0);                   /* the listener is gone */
}
static void test_stop_timeout_force_closes(void) {
    httpd_server *s = start(1, 0, NULL);
    if (!s) { CHECK(0); return; }
    int fd = dial(httpd_port(s), AF_INET);
    send_all(fd, "GET / HTTP/1.1\r\n", 16);         /* never finishes its head */
    usleep(50000);
    uint64_t t0 = httpd__now_ms();
    httpd_stop(s, 1);
    CHECK_EQ(httpd_wait(s), 0);
    httpd_destroy(s);
    uint64_t took = httpd__now_ms() - t0;
    CHECK(took >= 2900 && took < 6000);               /* shutdown_timeout_ms = 3000 */
    close(fd);
}
static void test_ipv6(void) {
    int probe = socket(AF_INET6, SOCK_STREAM, 0);
    struct sockaddr_in6 a;
    memset(&a, 0, sizeof a);
    a.sin6_family = AF_INET6; a.sin6_addr = in6addr_loopback;
    int ok = probe >= 0 && bind(probe, (struct sockaddr *)&a, sizeof a) == 0;
    if (probe >= 0) close(probe);
    if (!ok) { fprintf(stderr, "  (no IPv6 loopback here: skipped)\n"); return; }
    httpd_server *s = start(1, 0, "::1");
    if (!s) { CHECK(0); return; }
    int fd = dial(httpd_port(s), AF_INET6);
    CHECK(fd >= 0);
    send_all(fd, "GET / HTTP/1.1\r\nHost: [::1]\r\n\r\n", 31);
    CHECK_EQ(read_response(fd, NULL, 0), 200);
    close(fd);
    httpd_stop(s, 0);
    httpd_wait(s);
    httpd_destroy(s);
}
/* Out of descriptors: the server must pause accepting (no busy loop), keep serving the
   connections it has, and accept the waiting ones once descriptors free up. The server runs
   in a child process with a low RLIMIT_NOFILE; this process is the client. */
static long cpu_ticks(pid_t pid) {
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    long ut = 0, st = 0;
    if (p) sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %ld %ld", &ut, &st);
    return ut + st;
}
/* SIGTERM to a child server; its exit status, or -1 (killed) if it is not gone in ms. */
static int stop_child(pid_t pid, int ms) {
    int st = 0;
    kill(pid, SIGTERM);
    for (int t = 0; t < ms; t += 10) {
        if (waitpid(pid, &st, WNOHANG) == pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        usleep(10000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    return -1;
}
static void test_emfile_pauses_accepting(void) {
    int pfd[2];
    CHECK_EQ(pipe(pfd), 0);
    pid_t pid = fork();
    if (pid == 0) {
        close(pfd[0]);
        struct rlimit rl = { 16, 16 };
        setrlimit(RLIMIT_NOFILE, &rl);
        httpd_server *s = start(1, 0, NULL);
        int port = s ? httpd_port(s) : -1;
        if (write(pfd[1], &port, sizeof port) != sizeof port) _exit(3);
        if (!s) _exit(2);
        _exit(httpd_serve(s) == 0 ? 0 : 1);
    }
    close(pfd[1]);
    int port = -1;
    CHECK_EQ(read(pfd[0], &port, sizeof port), (long)sizeof port);
    close(pfd[0]);
    if (port <= 0) { kill(pid, SIGKILL); waitpid(pid, NULL, 0); CHECK(0); return; }
    enum { N = 20 };
    int fds[N], served = 0;
    const char *req = "GET / HTTP/1.1\r\nHost: t\r\n\r\n";
    for (int i = 0; i < N; i++) { fds[i] = dial(port, AF_INET); send_all(fds[i], req, strlen(req)); }
    for (int i = 0; i < N; i++) {
        struct pollfd p = { fds[i], POLLIN, 0 };
        if (poll(&p, 1, 300) == 1 && read_response(fds[i], NULL, 0) == 200) served++;
    }
    CHECK(served > 0 && served < N);                  /* some wait: descriptors ran out */
    long t0 = cpu_ticks(pid);
    usleep(500000);
    long spent = cpu_ticks(pid) - t0;
    CHECK(spent >= 0 && spent < 10);                  /* < 0.1 s of CPU in 0.5 s: no spin */
    int again = dial(port, AF_INET);                  /* waits in the backlog */
    int first = -1;                                   /* a served connection still works */
    for (int i = 0; i < N && first < 0; i++) {
        send_all(fds[i], req, strlen(req));
        struct pollfd p = { fds[i], POLLIN, 0 };
        if (poll(&p, 1, 300) == 1 && read_response(fds[i], NULL, 0) == 200) first = i;
    }
    CHECK(first >= 0);
    for (int i = 0; i < N; i++) close(fds[i]);        /* free descriptors ... */
    send_all(again, req, strlen(req));
    struct pollfd p = { again, POLLIN, 0 };
    CHECK(poll(&p, 1, 3000) == 1);                     /* ... and the waiting one is served */
    CHECK_EQ(read_response(again, NULL, 0), 200);
    close(again);
    CHECK_EQ(stop_child(pid, 5000), 0);
}
/* httpd_serve with every descriptor taken (no room for its signalfd, as when the workers
   accepted up to the limit first) still hears SIGTERM and stops: it once hung there. */
static void test_serve_without_descriptors(void) {
    int pfd[2];
    CHECK_EQ(pipe(pfd), 0);
    pid_t pid = fork();
    if (pid == 0) {
        close(pfd[0]);
        struct rlimit rl = { 32, 32 };
        setrlimit(RLIMIT_NOFILE, &rl);
        httpd_server *s = start(1, 0, NULL);
        if (!s) _exit(2);
        while (dup(0) >= 0) {}                        /* take every descriptor left */
        int port = httpd_port(s);
        if (write(pfd[1], &port, sizeof port) != sizeof port) _exit(3);
        _exit(httpd_serve(s) == 0 ? 0 : 1);
    }
    close(pfd[1]);
    int port = -1;
    CHECK_EQ(read(pfd[0], &port, sizeof port), (long)sizeof port);
    close(pfd[0]);
    usleep(200000);                                   /* inside httpd_serve by now */
    CHECK_EQ(stop_child(pid, 5000), 0);
}
static int get_status(int fd, const char *path) {
    char req[128];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: t\r\n\r\n", path);
    if (send_all(fd, req, (size_t)n) < 0) return -1;
    return read_response(fd, NULL, 0);
}
static void reset_counts(void) {
    HTTPD__STORE(&work_started, 0); HTTPD__STORE(&work_cancelled, 0);
    HTTPD__STORE(&done_calls, 0); HTTPD__STORE(&done_closed, 0);
    HTTPD__STORE(&done_timeout, 0); HTTPD__STORE(&deferred, 0);
}
static void wait_for(HTTPD__ATOMIC(int) *v, int want) {
    for (int i = 0; i < 300 && HTTPD__LOAD(v) < want; i++) usleep(10000);
}
static void test_tasks_done_once_and_fast_fail(void) {
    httpd_server *s = start(1, 0, NULL);
    if (!s) { CHECK(0); return; }
    int port = httpd_port(s);
    reset_counts();
    int fd = dial(port, AF_INET);
    CHECK_EQ(get_status(fd, "/task/20"), 200);             /* completes */
    CHECK_EQ(HTTPD__LOAD(&done_calls), 1);
    /* 2 threads + 4 queued fill the pool: the 7th and 8th fail fast with 503 */
    int fds[8];
    const char *req = "GET /task/200 HTTP/1.1\r\nHost: t\r\n\r\n";
    for (int i = 0; i < 8; i++) { fds[i] = dial(port, AF_INET); send_all(fds[i], req, strlen(req)); }
    int ok = 0, busy = 0;
    for (int i = 0; i < 8; i++) {
        int st = read_response(fds[i], NULL, 0);
        ok += st == 200; busy += st == 503;
        close(fds[i]);
    }
    CHECK(ok >= 4 && busy >= 2 && ok + busy == 8);   /* threads may not have taken any yet */
    /* the loop stays responsive while the pool is busy */
    for (int i = 0; i < 2; i++) { fds[i] = dial(port, AF_INET); send_all(fds[i], req, strlen(req)); }
    uint64_t t0 = httpd__now_ms();
    CHECK_EQ(get_status(fd, "/"), 200);
    CHECK(httpd__now_ms() - t0 < 50);
    for (int i = 0; i < 2; i++) { CHECK_EQ(read_response(fds[i], NULL, 0), 200); close(fds[i]); }
    /* the client leaves mid-task (a reset): the work sees the cancellation, done runs once */
    reset_counts();
    int gone = dial(port, AF_INET);
    send_all(gone, "GET /task/300 HTTP/1.1\r\nHost: t\r\n\r\n", 36);
    wait_for(&work_started, 1);
    struct linger rst = { 1, 0 };
    setsockopt(gone, SOL_SOCKET, SO_LINGER, &rst, sizeof rst);
    close(gone);
    wait_for(&done_calls, 1);
    usleep(50000);
    CHECK_EQ(HTTPD__LOAD(&work_cancelled), 1);
    CHECK_EQ(HTTPD__LOAD(&done_calls), 1);
    CHECK_EQ(HTTPD__LOAD(&done_closed), 1);
    /* a half-close is not leaving (RFC 9112 §9.6): the task runs and the answer comes */
    reset_counts();
    int half = dial(port, AF_INET);
    send_all(half, "GET /task/100 HTTP/1.1\r\nHost: t\r\n\r\n", 36);
    shutdown(half, SHUT_WR);
    CHECK_EQ(read_response(half, NULL, 0), 200);
    close(half);
    CHECK_EQ(HTTPD__LOAD(&work_cancelled), 0);
    CHECK_EQ(HTTPD__LOAD(&done_closed), 0);
    /* the deadline passes (route timeout 1.5 s): 504 once, done once with TIMEOUT */
    reset_counts();
    int late = dial(port, AF_INET);
    CHECK_EQ(get_status(late, "/task/3000"), 504);
    char c;
    CHECK_EQ(read(late, &c, 1), 0);                        /* and nothing after it */
    close(late);
    wait_for(&done_calls, 1);
    usleep(50000);
    CHECK_EQ(HTTPD__LOAD(&done_calls), 1);
    CHECK_EQ(HTTPD__LOAD(&done_timeout), 1);
    CHECK_EQ(HTTPD__LOAD(&work_cancelled), 1);
    /* httpd_post and httpd_submit */
    CHECK_EQ(get_status(fd, "/post"), 200);
    wait_for(&posts_ok, 1);
    CHECK_EQ(HTTPD__LOAD(&posts_ok), 1);
    httpd_conn_id stale = { ((uint64_t)5000 << 32) | 7 };
    CHECK_EQ(httpd_post(s, stale, posted, NULL), 0);
    wait_for(&posts_closed, 1);
    CHECK_EQ(HTTPD__LOAD(&posts_closed), 1);
    CHECK_EQ(httpd_submit(s, bg_work, NULL), 0);
    wait_for(&bg_runs, 1);
    CHECK_EQ(HTTPD__LOAD(&bg_runs), 1);
    close(fd);
    httpd_stop(s, 1);
    CHECK_EQ(httpd_wait(s), 0);
    httpd_destroy(s);
}
static void test_stop_while_tasks_run(void) {
    httpd_server *s = start(2, 0, NULL);
    if (!s) { CHECK(0); return; }
    enum { N = 4 };                                       /* fits the queue, whatever runs */
    int port = httpd_port(s), fds[N];
    reset_counts();
    const char *req = "GET /task/5000 HTTP/1.1\r\nHost: t\r\n\r\n";
    for (int i = 0; i < N; i++) { fds[i] = dial(port, AF_INET); send_all(fds[i], req, strlen(req)); }
    wait_for(&deferred, N);
    wait_for(&work_started, 2);
    CHECK_EQ(HTTPD__LOAD(&deferred), N);
    uint64_t t0 = httpd__now_ms();
    httpd_stop(s, 0);                                     /* immediate: cancel them */
    CHECK_EQ(httpd_wait(s), 0);
    httpd_destroy(s);
    CHECK(httpd__now_ms() - t0 < 1000);
    CHECK_EQ(HTTPD__LOAD(&done_calls), N);                /* every done ran once ... */
    CHECK_EQ(HTTPD__LOAD(&done_closed), N);               /* ... told the client is gone */
    CHECK_EQ(HTTPD__LOAD(&work_cancelled), HTTPD__LOAD(&work_started));
    for (int i = 0; i < N; i++) close(fds[i]);
}
static void test_drain_delay_survives_wakeups(void) {
    httpd_desc d;
    memset(&d, 0, sizeof d);
    d.workers = 1;
    d.routes = routes;
    d.drain_delay_ms = 1500;
    httpd_server *s = NULL;
    CHECK_EQ(httpd_start(&d, &s), 0);
    if (!s) return;
    int port = httpd_port(s);
    httpd_stop(s, 1);
    httpd_conn_id any = { 0 };
    CHECK_EQ(httpd_post(s, any, posted, NULL), 0);     /* a wake-up during the drain */
    usleep(200000);
    int fd = dial(port, AF_INET);                      /* still accepting ... */
    CHECK(fd >= 0);
    if (fd >= 0) {
        CHECK_EQ(get_status(fd, "/ready") , 404);      /* (no /ready route here) */
        close(fd);
    }
    CHECK_EQ(httpd_wait(s), 0);                        /* ... until the delay ends */
    httpd_destroy(s);
}
/* The server's lifetime across threads: threads keep posting and submitting while the
   server stops and httpd_wait releases it; every call either succeeds (and its callback
   runs exactly once) or fails with HTTPD_ERR_STATE, and the handle stays valid until
   httpd_destroy. Under ASan a call reaching freed memory fails the run; under TSan,
   a race. */
static HTTPD__ATOMIC(int) life_posted, life_post_cb, life_submitted, life_work_ran;
static void life_cb(httpd_server *s, httpd_conn_id id, void *arg, int status) {
    (void)s; (void)id; (void)arg; (void)status;
    HTTPD__ADD(&life_post_cb, 1);
}
static void life_work(void *arg, const httpd_task *t) { (void)arg; (void)t; HTTPD__ADD(&life_work_ran, 1); }
static void *life_poster(void *arg) {
    httpd_server *s = (httpd_server *)arg;
    httpd_conn_id any = { 0 };
    int post_gone = 0, submit_gone = 0, other = 0;
    for (long i = 0; i < 2000000 && !(post_gone && submit_gone); i++) {
        int rc = httpd_post(s, any, life_cb, NULL);
        if (rc == 0) HTTPD__ADD(&life_posted, 1);
        else if (rc == HTTPD_ERR_STATE) post_gone = 1;
        else other++;
        rc = httpd_submit(s, life_work, NULL);
        if (rc == 0) HTTPD__ADD(&life_submitted, 1);
        else if (rc == HTTPD_ERR_STATE) submit_gone = 1;
        else if (rc != HTTPD_ERR_TOOLARGE) other++;           /* a full queue is fine */
        if (i % 64 == 0) httpd_stop(s, 1);                    /* harmless, even late */
        if (i % 16 == 0) sched_yield();
    }
    return (void *)(intptr_t)(post_gone && submit_gone && !other);
}
static void test_lifetime_across_threads(void) {
    for (int round = 0; round < 3; round++) {
        HTTPD__STORE(&life_posted, 0); HTTPD__STORE(&life_post_cb, 0);
        HTTPD__STORE(&life_submitted, 0); HTTPD__STORE(&life_work_ran, 0);
        httpd_server *s = start(2, 0, NULL);
        if (!s) { CHECK(0); return; }
        pthread_t th[3];
        for (int i = 0; i < 3; i++) pthread_create(&th[i], NULL, life_poster, s);
        usleep(20000 + round * 20000);
        httpd_stop(s, round == 1);
        CHECK_EQ(httpd_wait(s), 0);
        CHECK_EQ(httpd_wait(s), HTTPD_ERR_STATE);             /* once only */
        int ok = 1;
        for (int i = 0; i < 3; i++) {
            void *r;
            pthread_join(th[i], &r);
            ok &= r != NULL;
        }
        CHECK(ok);                                            /* all saw STATE, nothing else */
        CHECK_EQ(HTTPD__LOAD(&life_post_cb), HTTPD__LOAD(&life_posted));   /* exactly once */
        CHECK_EQ(HTTPD__LOAD(&life_work_ran), HTTPD__LOAD(&life_submitted));
        CHECK(httpd_stopping(s));                             /* still a valid handle */
        CHECK_EQ(httpd_post(s, (httpd_conn_id){ 0 }, life_cb, NULL), HTTPD_ERR_STATE);
        httpd_destroy(s);
    }
}
/* With no logger configured, a start-up failure is not silent: the reason goes to
   stderr and httpd_run returns the error (main returns 1 with `httpd_run(&d) < 0`). */
static void test_default_logger_on_bind_failure(void) {
    int taken = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(taken, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    CHECK(bind(taken, (struct sockaddr *)&a, sizeof a) == 0 && listen(taken, 1) == 0);
    socklen_t al = sizeof a;
    getsockname(taken, (struct sockaddr *)&a, &al);
    int pfd[2];
    CHECK(pipe(pfd) == 0);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(pfd[1], 2);
        httpd_desc d;
        memset(&d, 0, sizeof d);
        d.port = ntohs(a.sin_port);
        d.workers = 1;
        d.routes = routes;
        _exit(httpd_run(&d) == HTTPD_ERR_ADDR ? 7 : 1);
    }
    close(pfd[1]);
    char buf[2048];
    ssize_t n = 0, k;
    while (n < (ssize_t)sizeof buf - 1 && (k = read(pfd[0], buf + n, sizeof buf - 1 - (size_t)n)) > 0) n += k;
    buf[n > 0 ? n : 0] = 0;
    close(pfd[0]);
    int st = 0;
    waitpid(pid, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 7);
    CHECK(strstr(buf, "httpd: error: bind/listen") != NULL);
    CHECK(strstr(buf, "Address already in use") != NULL);
    close(taken);
}
/* The watchdog names a worker that does not come back to its event loop: a handler
   that blocks is found in production, not guessed at. */
static HTTPD__ATOMIC(int) blocked_logs, other_logs;
static void count_logs(void *ud, int level, int code, const char *msg, const char *f, int l) {
    (void)ud; (void)code; (void)f; (void)l;
    if (level == HTTPD_LOG_WARN && strstr(msg, "worker 0 blocked for")) HTTPD__ADD(&blocked_logs, 1);
    else if (level <= HTTPD_LOG_WARN) HTTPD__ADD(&other_logs, 1);
}
static void test_blocked_worker_logged(void) {
    httpd_desc d;
    memset(&d, 0, sizeof d);
    d.workers = 1;
    d.routes = routes;
    d.blocked_warn_ms = 150;
    d.logger.fn = count_logs;
    httpd_server *s = NULL;
    CHECK_EQ(httpd_start(&d, &s), 0);
    if (!s) return;
    int fd = dial(httpd_port(s), AF_INET);
    for (int i = 0; i < 20; i++) CHECK_EQ(get_status(fd, "/"), 200);   /* quick: no warning */
    usleep(300000);
    CHECK_EQ(HTTPD__LOAD(&blocked_logs), 0);
    CHECK_EQ(get_status(fd, "/block"), 200);                             /* 400 ms on the worker */
    CHECK_EQ(get_status(fd, "/block"), 200);
    CHECK_EQ(HTTPD__LOAD(&blocked_logs), 2);                             /* once per stall */
    close(fd);
    httpd_stop(s, 1);
    CHECK_EQ(httpd_wait(s), 0);
    httpd_destroy(s);
    CHECK_EQ(HTTPD__LOAD(&other_logs), 0);
}
/* ---- WebSockets from other threads (TSan: the mailbox is the only shared path) ---- */
static void ws_sent(httpd_server *s, httpd_conn_id id, void *arg, int status) {
    (void)s; (void)id; (void)arg;
    HTTPD__ADD(status == HTTPD_ERR_CLOSED ? &ws_done_closed : &ws_done_ok, 1);
}
typedef struct { httpd_server *s; int tag; } ws_sender;
static void *ws_send_thread(void *p) {
    ws_sender *a = (ws_sender *)p;
    char m[32];
    for (int i = 0; i < 100; i++) {
        for (int k = 0; k < 4; k++) {
            httpd_conn_id id = { HTTPD__LOAD(&ws_ids[k]) };
            int n = snprintf(m, sizeof m, "t%d-%03d", a->tag, i);
            CHECK_EQ(httpd_ws_send_to(a->s, id, HTTPD_WS_TEXT, m, (size_t)n, ws_sent, NULL), 0);
        }
        if (i % 4 == 0) CHECK_EQ(httpd_ws_broadcast(a->s, &ws_desc, HTTPD_WS_TEXT, "all", 3), 0);
    }
    return NULL;
}
static int ws_dial(int port) {
    int fd = dial(port, AF_INET);
    const char *hs = "GET /ws HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    char b[512];
    size_t n = 0;
    if (fd < 0 || send_all(fd, hs, strlen(hs)) < 0) return -1;
    while (n < sizeof b - 1) {                      /* byte by byte: nothing past the head */
        if (read(fd, b + n, 1) != 1) return -1;
        n++;
        if (n >= 4 && !memcmp(b + n - 4, "\r\n\r\n", 4)) break;
    }
    return !strncmp(b, "HTTP/1.1 101 ", 13) ? fd : -1;
}
/* Reads server frames: counts text messages per tag in order; returns at a close frame
   (its code in *close_code) or after `want` messages. */
static int ws_read(int fd, int want, int *close_code, int *seq_ok) {
    static unsigned char b[1 << 16];
    size_t have = 0;
    int got = 0, last[2] = { -1, -1 };
    *close_code = 0;
    while (got < want) {
        ssize_t r = read(fd, b + have, sizeof b - have);
        if (r <= 0) break;
        have += (size_t)r;
        size_t i = 0;
        while (have - i >= 2 && have - i >= 2 + (size_t)(b[i + 1] & 127)) {
            size_t n = b[i + 1] & 127;
            int op = b[i] & 15;
            if (op == 8) { *close_code = n >= 2 ? b[i + 2] << 8 | b[i + 3] : 1005; return got; }
            if (op == 1 && n == 6 && b[i + 2] == 't') {
                int tag = b[i + 3] - '0';       /* "tT-KKK": exactly three digits */
                int k = (b[i + 5] - '0') * 100 + (b[i + 6] - '0') * 10 + (b[i + 7] - '0');
                if (tag < 0 || tag > 1 || k <= last[tag]) *seq_ok = 0;
                else last[tag] = k;
            }
            got++;
            i += 2 + n;
        }
        memmove(b, b + i, have - i);
        have -= i;
    }
    return got;
}
static void test_ws_cross_thread(void) {
    HTTPD__STORE(&ws_open_n, 0);
    HTTPD__STORE(&ws_done_ok, 0);
    HTTPD__STORE(&ws_done_closed, 0);
    HTTPD__STORE(&ws_closed_n, 0);
    httpd_server *s = start(2, 0, NULL);
    if (!s) { CHECK(0); return; }
    int port = httpd_port(s), fd[4];
    for (int k = 0; k < 4; k++) CHECK((fd[k] = ws_dial(port)) >= 0);
    for (int i = 0; i < 500 && HTTPD__LOAD(&ws_open_n) < 4; i++) usleep(2000);
    CHECK_EQ(HTTPD__LOAD(&ws_open_n), 4);
    pthread_t th[2];
    ws_sender a[2] = { { s, 0 }, { s, 1 } };
    for (int t = 0; t < 2; t++) pthread_create(&th[t], NULL, ws_send_thread, &a[t]);
    for (int t = 0; t < 2; t++) pthread_join(th[t], NULL);
    int seq_ok = 1, code;
    for (int k = 0; k < 4; k++)                    /* 2 x 100 sends + 2 x 25 broadcasts */
        CHECK_EQ(ws_read(fd[k], 250, &code, &seq_ok), 250);
    CHECK(seq_ok);                                 /* each thread's sends in its order */
    for (int i = 0; i < 500 && HTTPD__LOAD(&ws_done_ok) < 800; i++) usleep(2000);
    CHECK_EQ(HTTPD__LOAD(&ws_done_ok), 800);
    close(fd[3]);                                  /* gone: a send to it fails cleanly */
    for (int i = 0; i < 500 && HTTPD__LOAD(&ws_closed_n) < 1; i++) usleep(2000);
    httpd_conn_id gone = { HTTPD__LOAD(&ws_ids[3]) };
    CHECK_EQ(httpd_ws_send_to(s, gone, HTTPD_WS_TEXT, "x", 1, ws_sent, NULL), 0);
    for (int i = 0; i < 500 && HTTPD__LOAD(&ws_done_closed) < 1; i++) usleep(2000);
    CHECK_EQ(HTTPD__LOAD(&ws_done_closed), 1);
    httpd_stop(s, 1);                              /* the others see 1001 */
    for (int k = 0; k < 3; k++) {
        CHECK_EQ(ws_read(fd[k], 1000, &code, &seq_ok), 0);
        CHECK_EQ(code, 1001);
        send_all(fd[k], "\x88\x82\0\0\0\0\x03\xe9", 8);   /* and answer it */
    }
    CHECK_EQ(httpd_wait(s), 0);
    CHECK_EQ(HTTPD__LOAD(&ws_closed_n), 4);
    /* after wait, other threads get HTTPD_ERR_STATE, never freed memory */
    CHECK_EQ(httpd_ws_send_to(s, gone, HTTPD_WS_TEXT, "x", 1, NULL, NULL), HTTPD_ERR_STATE);
    CHECK_EQ(httpd_ws_broadcast(s, NULL, HTTPD_WS_TEXT, "x", 1), HTTPD_ERR_STATE);
    httpd_destroy(s);
    for (int k = 0; k < 3; k++) close(fd[k]);
}
/* Connections that wait with bytes unread (a task running while the next request is
   already in; a streamed body paused behind a timer while the client has sent more) cost
   no CPU on any backend: a level-triggered poller must stop asking for POLLIN, an
   edge-triggered one gets no new edge. And nothing is lost: both are answered after. */
static double cpu_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}
static void test_paused_connections_idle(void) {
    httpd_server *s = start(1, 0, NULL);
    if (!s) { CHECK(0); return; }
    int port = httpd_port(s);
    reset_counts();
    HTTPD__STORE(&paused_bytes, (uint64_t)0);
    int a = dial(port, AF_INET), b = dial(port, AF_INET);
    const char *two = "GET /task/700 HTTP/1.1\r\nHost: t\r\n\r\n"
                      "GET / HTTP/1.1\r\nHost: t\r\n\r\n";
    send_all(a, two, strlen(two));
    static char body[200000];
    memset(body, 'x', sizeof body);
    char head[128];
    int hn = snprintf(head, sizeof head, "POST /paused HTTP/1.1\r\nHost: t\r\n"
                      "Content-Length: %zu\r\n\r\n", sizeof body);
    send_all(b, head, (size_t)hn);
    send_all(b, body, 1000);                     /* the first piece, then the timer */
    wait_for(&work_started, 1);
    usleep(100000);
    /* the rest of the body arrives while it is paused: the socket stays readable */
    int fl = fcntl(b, F_GETFL);
    fcntl(b, F_SETFL, fl | O_NONBLOCK);
    size_t off = 1000;
    while (off < sizeof body) {
        ssize_t w = write(b, body + off, sizeof body - off);
        if (w <= 0) break;
        off += (size_t)w;
    }
    double c0 = cpu_ms();
    usleep(300000);                               /* both wait: the task, the timer */
    double used = cpu_ms() - c0;
    CHECK(used < 60);                             /* a busy loop would take ~300 ms */
    if (used >= 60) fprintf(stderr, "  %.1f ms of CPU in 300 ms while paused\n", used);
    fcntl(b, F_SETFL, fl);
    if (off < sizeof body) send_all(b, body + off, sizeof body - off);
    char buf[256];
    int st = read_response(b, buf, sizeof buf);
    CHECK_EQ(st, 200);
    CHECK_EQ(HTTPD__LOAD(&paused_bytes), sizeof body);
    /* the task's answer and the pipelined request's after it (maybe in one segment) */
    char got[4096];
    size_t gn = 0;
    int oks = 0;
    while (oks < 2 && gn < sizeof got - 1) {
        ssize_t r = read(a, got + gn, sizeof got - 1 - gn);
        if (r <= 0) break;
        gn += (size_t)r;
        got[gn] = 0;
        oks = 0;
        for (const char *q = got; (q = strstr(q, "HTTP/1.1 200 ")) != NULL; q++) oks++;
    }
    CHECK_EQ(oks, 2);
    close(a); close(b);
    httpd_stop(s, 1);
    httpd_wait(s);
    httpd_destroy(s);
}
static void test_bad_config(void) {
    httpd_desc d;
    memset(&d, 0, sizeof d);
    httpd_server *s = (httpd_server *)1;
    httpd_route bad[] = { { .method = "GET", .pattern = "x", .handler = on_hello }, { 0 } };
    d.routes = bad;
    CHECK_EQ(httpd_start(&d, &s), HTTPD_ERR_INVAL);
    CHECK(s == NULL);
    d.routes = routes;
    d.addr = "256.1.1.1";
    CHECK_EQ(httpd_start(&d, &s), HTTPD_ERR_ADDR);
    CHECK(!strcmp(httpd_strerror(HTTPD_ERR_NOMEM), "out of memory"));
}
int main(void) {
    signal(SIGPIPE, SIG_IGN);
    RUN(test_load_from_threads);
    RUN(test_echo_large_body);
    RUN(test_max_connections);
    RUN(test_max_connections_many_workers);
    RUN(test_graceful_stop_closes_idle);
    RUN(test_stop_timeout_force_closes);
    RUN(test_ipv6);
    RUN(test_emfile_pauses_accepting);
    RUN(test_serve_without_descriptors);
    RUN(test_tasks_done_once_and_fast_fail);
    RUN(test_stop_while_tasks_run);
    RUN(test_drain_delay_survives_wakeups);
    RUN(test_blocked_worker_logged);
    RUN(test_lifetime_across_threads);
    RUN(test_default_logger_on_bind_failure);
    RUN(test_ws_cross_thread);
    RUN(test_paused_connections_idle);
    RUN(test_bad_config);
    return REPORT();
}
