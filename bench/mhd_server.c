/* bench/mhd_server.c - libmicrohttpd peer for bench/suite.sh: the same routes as the demo's
   bench surface, on one thread (MHD's internal epoll thread, no thread per connection).
     GET  /            "Hello, World!" (text/plain; one response object, reused)
     GET  /static/NAME the file DIR/NAME (MHD_create_response_from_fd: sendfile)
     POST /upload      reads and discards the body, answers "ok"
   cc -O2 -o build/mhd_server bench/mhd_server.c -lmicrohttpd
   build/mhd_server --port P [--static-dir DIR]
   SIGTERM/SIGINT: MHD_quiesce_daemon (stop accepting), then MHD_stop_daemon once the
   in-flight requests are answered (at most 10 s). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <microhttpd.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static struct MHD_Response *hello, *ok;
static const char *dir = ".";
static volatile sig_atomic_t stop;

static void on_signal(int sig) { (void)sig; stop = 1; }

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version, const char *data,
                               size_t *size, void **state) {
    (void)cls; (void)version; (void)data;
    /* the first call has the head only: queueing a response then makes MHD close the
       connection afterwards (it has not read the request to its end), so answer on the
       second call, as MHD's own examples do */
    if (*state == NULL) { *state = (void *)1; return MHD_YES; }
    if (!strcmp(method, "POST")) {
        if (*size) { *size = 0; return MHD_YES; }                      /* discard a chunk */
        return MHD_queue_response(c, strcmp(url, "/upload") ? MHD_HTTP_NOT_FOUND : MHD_HTTP_OK, ok);
    }
    if (strcmp(method, "GET") && strcmp(method, "HEAD")) return MHD_NO;
    if (!strcmp(url, "/")) return MHD_queue_response(c, MHD_HTTP_OK, hello);
    if (!strncmp(url, "/static/", 8) && !strstr(url, "..")) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, url + 8);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        struct stat st;
        if (fd >= 0 && fstat(fd, &st) == 0) {
            struct MHD_Response *r = MHD_create_response_from_fd((size_t)st.st_size, fd);
            MHD_add_response_header(r, "Content-Type", "application/octet-stream");
            enum MHD_Result rc = MHD_queue_response(c, MHD_HTTP_OK, r);
            MHD_destroy_response(r);
            return rc;
        }
        if (fd >= 0) close(fd);
    }
    struct MHD_Response *nf = MHD_create_response_from_buffer(9, "not found",
                                                              MHD_RESPMEM_PERSISTENT);
    enum MHD_Result rc = MHD_queue_response(c, MHD_HTTP_NOT_FOUND, nf);
    MHD_destroy_response(nf);
    return rc;
}

int main(int argc, char **argv) {
    int port = 8080;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--port")) port = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--static-dir")) dir = argv[i + 1];
    }
    hello = MHD_create_response_from_buffer(13, "Hello, World!", MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(hello, "Content-Type", "text/plain");
    ok = MHD_create_response_from_buffer(2, "ok", MHD_RESPMEM_PERSISTENT);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL, (uint16_t)port, NULL,
        NULL, handler, NULL, MHD_OPTION_SOCK_ADDR, &sa, MHD_OPTION_CONNECTION_LIMIT, 30000u,
        MHD_OPTION_CONNECTION_TIMEOUT, 120u, MHD_OPTION_LISTEN_BACKLOG_SIZE, 4096u,
        MHD_OPTION_END);
    if (!d) { fprintf(stderr, "mhd_server: cannot start on port %d\n", port); return 1; }
    printf("mhd_server: listening on 127.0.0.1:%d\n", port);
    fflush(stdout);
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    while (!stop) pause();
    MHD_quiesce_daemon(d);          /* no new connections; the open ones finish */
    for (int i = 0; i < 100; i++) {
        const union MHD_DaemonInfo *inf =
            MHD_get_daemon_info(d, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
        if (!inf || inf->num_connections == 0) break;
        usleep(100000);
    }
    MHD_stop_daemon(d);
    MHD_destroy_response(hello);
    MHD_destroy_response(ok);
    return 0;
}
