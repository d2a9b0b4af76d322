/* fuzz/fuzz_static.c - the static-files path code under an openat recorder. Input: byte 0
   chooses the mount's flags (follow links, hidden names, the walk instead of openat2), the
   rest is a request path below "/static/" as a client sends it. It goes through the
   server's own decoding (httpd__path_decode), the "*" extraction, httpd__static_clean and
   httpd__static_openat on a temporary tree full of planted links (absolute, climbing out,
   magic /proc links, loops, links to directories inside and outside). Every descriptor any
   open call returns, intermediate directories of the walk included, must resolve (through
   /proc/self/fd) to the root or beneath it, and no file outside it may ever be read:
   otherwise abort(). The Range, HTTP-date, ETag-list and qvalue parsers get the same bytes. */
#define _GNU_SOURCE 1                  /* the hooks are declared before httpd.h's includes */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
static int fuzz_openat(int dir, const char *path, int flags);
static int fuzz_openat2(int dir, const char *path, const void *how);
#define HTTPD__SYS_OPENAT(dir, path, flags) fuzz_openat((dir), (path), (flags))
#define HTTPD__SYS_OPENAT2(dir, path, how) fuzz_openat2((dir), (path), (how))
#define HTTPD_IMPLEMENTATION
#include "../httpd.h"
#include <sys/stat.h>

static char tmp[128], root[160], rootreal[4096];
static int root_fd = -1;

static void check_fd(int fd) {          /* the recorder: where did this descriptor land? */
    char l[64], t[4096];
    if (fd < 0) return;
    snprintf(l, sizeof l, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(l, t, sizeof t - 1);
    if (n < 0) abort();
    t[n] = 0;
    size_t rl = strlen(rootreal);
    if (strncmp(t, rootreal, rl) || (t[rl] && t[rl] != '/')) {
        fprintf(stderr, "opened outside the root: %s\n", t);
        abort();
    }
}
static int fuzz_openat(int dir, const char *path, int flags) {
    int fd = openat(dir, path, flags);
    check_fd(fd);
    return fd;
}
static int fuzz_openat2(int dir, const char *path, const void *how) {
#ifdef SYS_openat2
    int fd = (int)syscall(SYS_openat2, dir, path, how, sizeof(httpd__open_how));
#else
    (void)dir; (void)path; (void)how;
    int fd = -1;
    errno = ENOSYS;
#endif
    check_fd(fd);
    return fd;
}
static void mk(const char *rel, const char *data) {
    char p[512];
    snprintf(p, sizeof p, "%s/%s", tmp, rel);
    if (!data) { mkdir(p, 0755); return; }
    FILE *f = fopen(p, "wb");
    if (!f) abort();
    fputs(data, f);
    fclose(f);
}
static void ln(const char *target, const char *rel) {
    char p[512];
    snprintf(p, sizeof p, "%s/root/%s", tmp, rel);
    if (symlink(target, p) < 0) abort();
}
static void cleanup(void) {
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (system(cmd)) { /* best effort */ }
}
static void setup(void) {
    snprintf(tmp, sizeof tmp, "/tmp/httpd-fuzz-static-XXXXXX");
    if (!mkdtemp(tmp)) abort();
    atexit(cleanup);
    mk("root", NULL); mk("outside", NULL); mk("root/sub", NULL); mk("root/sub/d2", NULL);
    mk("root/a.txt", "in"); mk("root/sub/b.txt", "in"); mk("root/sub/d2/c.txt", "in");
    mk("root/.h", "in"); mk("root/index.html", "in"); mk("root/a.txt.gz", "in");
    mk("outside/secret", "OUTSIDE"); mk("outside/index.html", "OUTSIDE");
    ln("/etc/passwd", "abs"); ln("/", "slash"); ln("/proc/self/root", "magic");
    ln("/proc/self/cwd", "magic2"); ln("../outside/secret", "up"); ln("../outside", "updir");
    ln("..", "dotdot"); ln("../..", "sub/dd2"); ln("../a.txt", "sub/ina"); ln("..", "sub/par");
    ln("d2/../../../outside/secret", "sub/trick"); ln("loop", "loop"); ln("sub/d2", "dl");
    ln("sub/par/sub/par/up", "chain"); ln("../../outside", "sub/d2/up3"); ln(".", "self");
    ln("a.txt", "a.txt.br"); ln("../outside/secret", "sub/x.txt.gz");
    snprintf(root, sizeof root, "%s/root", tmp);
    if (!realpath(root, rootreal)) abort();
    root_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (root_fd < 0) abort();
}
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (root_fd < 0) setup();
    if (size < 1 || size > 2000) return 0;
    int flags = data[0];
    const char *in = (const char *)data + 1;
    size_t n = size - 1;
    /* the other parsers, for memory safety: same bytes */
    uint64_t off, cnt;
    httpd__static_range(in, n, flags * 977u, &off, &cnt);
    httpd__parse_http_date(in, n);
    httpd__etag_in(in, n, "\"abc\"", 5, flags & 1);
    httpd__static_qvalue(in, n);
    /* the path as the parser and router see it: "/static/" + input, decoded */
    char target[2100], dec[2100], path[HTTPD__STATIC_PATH_MAX];
    memcpy(target, "/static/", 8);
    memcpy(target + 8, in, n);
    for (size_t i = 0; i < n + 8; i++)     /* the parser would refuse these bytes */
        if (!HTTPD__IS(target[i], HTTPD__C_TARGET) || target[i] == '?') return 0;
    long dl = httpd__path_decode(target, n + 8, dec);
    if (dl < 8 || memcmp(dec, "/static/", 8)) return 0;
    int dir;
    long pl = httpd__static_clean(dec + 8, (size_t)dl - 8, path, sizeof path - 32, flags & 2, &dir);
    if (pl < 0) return 0;
    if (dir) memcpy(path + pl, "index.html", 11);
    else if (flags & 8) memcpy(path + pl, ".gz", 4);          /* a variant's name */
    HTTPD__STORE(&httpd__openat2_missing, (flags & 4) ? 1 : 0);
    int fd = httpd__static_openat(root_fd, path, flags & 1);
    if (fd >= 0) {
        char buf[16];
        ssize_t r = pread(fd, buf, sizeof buf, 0);
        if (r == 7 && !memcmp(buf, "OUTSIDE", 7)) abort();    /* never a byte from outside */
        close(fd);
    }
    return 0;
}
