/* tests/test_static.c - the static-files sections: path cleaning, resolution beneath a
   root with planted symbolic links (openat2 and the O_NOFOLLOW walk, links refused and
   followed), Range / If-* / Accept-Encoding parsing, HTTP-date forms, ETags, MIME types,
   and a server on loopback serving a directory and packed assets (memory bodies). */
#define HTTPD_IMPLEMENTATION
#include "../httpd.h"
#include "harness.h"
#include <sys/stat.h>
#include <sys/time.h>

static char tmp[256], root[300], outside[300], rootreal[4096];

static void put(const char *dir, const char *rel, const char *data) {
    char p[600];
    snprintf(p, sizeof p, "%s/%s", dir, rel);
    FILE *f = fopen(p, "wb");
    if (!f) { perror(p); exit(1); }
    fputs(data, f);
    fclose(f);
}
static void plant(const char *target, const char *rel) {
    char p[600];
    snprintf(p, sizeof p, "%s/%s", root, rel);
    if (symlink(target, p) < 0) { perror(p); exit(1); }
}
static void make_tree(void) {
    char p[600];
    snprintf(tmp, sizeof tmp, "/tmp/httpd-static-XXXXXX");
    if (!mkdtemp(tmp)) { perror("mkdtemp"); exit(1); }
    snprintf(root, sizeof root, "%s/root", tmp);
    snprintf(outside, sizeof outside, "%s/outside", tmp);
    mkdir(root, 0755); mkdir(outside, 0755);
    snprintf(p, sizeof p, "%s/sub", root); mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/sub/deeper", root); mkdir(p, 0755);
    put(root, "a.txt", "inside-a");
    put(root, "sub/b.txt", "inside-b");
    put(root, "sub/deeper/c.txt", "inside-c");
    put(root, ".hidden", "hidden");
    put(outside, "secret", "outside-secret");
    plant("/etc/passwd", "abs_link");                  /* absolute: never beneath */
    plant("../outside/secret", "up_link");             /* climbs out */
    plant("../outside", "up_dir");                     /* a directory outside */
    plant("../a.txt", "sub/in_link");                  /* stays inside */
    plant("..", "sub/parent");                         /* the root, through a link */
    plant("../../outside/secret", "sub/deeper/up2");   /* climbs out from two down */
    plant("loop", "loop");                             /* ELOOP */
    plant("deeper/../../../outside/secret", "sub/tricky");
    plant("sub/deeper", "deep_link");                  /* a directory inside */
    if (!realpath(root, rootreal)) { perror("realpath"); exit(1); }
}
static void rm_tree(void) {
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (system(cmd) != 0) fprintf(stderr, "cleanup of %s failed\n", tmp);
}
/* fd's target is the root or beneath it */
static int beneath(int fd) {
    char l[64], t[4096];
    snprintf(l, sizeof l, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(l, t, sizeof t - 1);
    if (n < 0) return 0;
    t[n] = 0;
    size_t rl = strlen(rootreal);
    return !strncmp(t, rootreal, rl) && (t[rl] == 0 || t[rl] == '/');
}
static int read_fd(int fd, char *buf, size_t cap) {
    ssize_t n = pread(fd, buf, cap - 1, 0);
    buf[n > 0 ? n : 0] = 0;
    return (int)n;
}

static void test_clean(void) {
    static const struct { const char *in; long rc; int dir; const char *out; } t[] = {
        { "", 0, 1, "" }, { "a.txt", 5, 0, "a.txt" }, { "sub/", 4, 1, "sub/" },
        { "sub/b.txt", 9, 0, "sub/b.txt" }, { "a%25b", 3, 0, "a%b" },
        { "%252e%252e", 6, 0, "%2e%2e" },              /* decoded once, never twice */
        { "caf\xc3\xa9.txt", 9, 0, "caf\xc3\xa9.txt" },
        { "/etc/passwd", -400, 0, 0 }, { "a//b", -400, 0, 0 }, { "..", -400, 0, 0 },
        { "a/../b", -400, 0, 0 }, { ".", -400, 0, 0 }, { "a/./b", -400, 0, 0 },
        { "..%2fetc", -400, 0, 0 }, { "a%2Fb", -400, 0, 0 }, { "a%2fb", -400, 0, 0 },
        { "a%00b", -400, 0, 0 }, { "a\\b", -400, 0, 0 }, { "a%5cb", -400, 0, 0 },
        { "a%5C..%5Cb", -400, 0, 0 }, { "%c0%ae%c0%ae/x", -400, 0, 0 },   /* overlong '.' */
        { "\xc0\xae\xc0\xae", -400, 0, 0 }, { "\xe0\x80\xae", -400, 0, 0 },
        { "\xed\xa0\x80", -400, 0, 0 },                /* surrogate */
        { "\xf4\x90\x80\x80", -400, 0, 0 },            /* > U+10FFFF */
        { "\xc3", -400, 0, 0 }, { "\x80", -400, 0, 0 }, { "a%1fb", -400, 0, 0 },
        { "a%7fb", -400, 0, 0 }, { "%", -400, 0, 0 }, { "%2", -400, 0, 0 },
        { "%zz", -400, 0, 0 }, { ".hidden", -404, 0, 0 }, { "sub/.git/config", -404, 0, 0 },
        { "%2ehidden", -404, 0, 0 }, { "sub/..", -400, 0, 0 }, { "a/%2e%2e/b", -400, 0, 0 },
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        char out[64];
        int dir = -1;
        long rc = httpd__static_clean(t[i].in, strlen(t[i].in), out, sizeof out, 0, &dir);
        if (rc != t[i].rc) fprintf(stderr, "  clean(%s) = %ld\n", t[i].in, rc);
        CHECK_EQ(rc, t[i].rc);
        if (rc >= 0) { CHECK(!strcmp(out, t[i].out)); CHECK_EQ(dir, t[i].dir); }
    }
    int dir;
    char out[64];
    CHECK_EQ(httpd__static_clean(".hidden", 7, out, sizeof out, 1, &dir), 7);  /* allowed */
    char big[300];
    memset(big, 'a', sizeof big);
    CHECK_EQ(httpd__static_clean(big, sizeof big, out, sizeof out, 0, &dir), -404);  /* room */
}
/* Opens rel with both resolvers; returns what the file holds ("" if it failed). Every
   descriptor returned must be beneath the root. */
static int try_open(const char *rel, int follow, int walk, char *buf, size_t cap) {
    int rfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    HTTPD__STORE(&httpd__openat2_missing, walk);
    int fd = httpd__static_openat(rfd, rel, follow);
    buf[0] = 0;
    if (fd >= 0) {
        CHECK(beneath(fd));
        read_fd(fd, buf, cap);
        close(fd);
    }
    close(rfd);
    HTTPD__STORE(&httpd__openat2_missing, 0);
    return fd;
}
static void test_resolve(void) {
    static const struct { const char *rel; const char *nofollow, *follow; } t[] = {
        { "a.txt", "inside-a", "inside-a" }, { "sub/b.txt", "inside-b", "inside-b" },
        { "sub/deeper/c.txt", "inside-c", "inside-c" },
        { "abs_link", NULL, NULL }, { "up_link", NULL, NULL }, { "up_dir/secret", NULL, NULL },
        { "sub/in_link", NULL, "inside-a" }, { "sub/parent/a.txt", NULL, "inside-a" },
        { "sub/deeper/up2", NULL, NULL }, { "loop", NULL, NULL }, { "sub/tricky", NULL, NULL },
        { "deep_link/c.txt", NULL, "inside-c" }, { "missing", NULL, NULL },
        { "a.txt/x", NULL, NULL }, { "sub/parent/up_link", NULL, NULL },
        { "sub/parent/sub/parent/a.txt", NULL, "inside-a" },
    };
    for (int walk = 0; walk < 2; walk++)
        for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
            for (int follow = 0; follow < 2; follow++) {
                char buf[64];
                const char *want = follow ? t[i].follow : t[i].nofollow;
                int fd = try_open(t[i].rel, follow, walk, buf, sizeof buf);
                if ((fd >= 0) != (want != NULL) || (want && strcmp(buf, want)))
                    fprintf(stderr, "  %s walk=%d follow=%d: fd %d '%s'\n", t[i].rel, walk,
                            follow, fd, buf);
                CHECK((fd >= 0) == (want != NULL));
                if (want) CHECK(!strcmp(buf, want));
                CHECK(strcmp(buf, "outside-secret") && !strstr(buf, "root:"));
            }
    /* the root itself and a directory open (listings), the walk too */
    for (int walk = 0; walk < 2; walk++) {
        int rfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        HTTPD__STORE(&httpd__openat2_missing, walk);
        int fd = httpd__static_openat(rfd, "", 0);
        CHECK(fd >= 0 && beneath(fd));
        if (fd >= 0) close(fd);
        fd = httpd__static_openat(rfd, "sub", 0);
        CHECK(fd >= 0 && beneath(fd));
        if (fd >= 0) close(fd);
        HTTPD__STORE(&httpd__openat2_missing, 0);
        close(rfd);
    }
}
static void test_range(void) {
    static const struct { const char *v; uint64_t len; int rc; uint64_t off, cnt; } t[] = {
        { "bytes=0-9", 100, 1, 0, 10 }, { "bytes=90-", 100, 1, 90, 10 },
        { "bytes=-10", 100, 1, 90, 10 }, { "bytes=-1000", 100, 1, 0, 100 },
        { "bytes=0-1000", 100, 1, 0, 100 }, { "bytes=99-99", 100, 1, 99, 1 },
        { "BYTES=5-5", 100, 1, 5, 1 }, { "bytes=100-", 100, -416, 0, 0 },
        { "bytes=100-200", 100, -416, 0, 0 }, { "bytes=-0", 100, -416, 0, 0 },
        { "bytes=0-", 0, -416, 0, 0 }, { "bytes=-5", 0, 0, 0, 0 },
        { "bytes=5-4", 100, 0, 0, 0 }, { "bytes=a-b", 100, 0, 0, 0 }, { "bytes=", 100, 0, 0, 0 },
        { "items=0-1", 100, 0, 0, 0 }, { "bytes=0-1;x", 100, 0, 0, 0 }, { "bytes 0-1", 100, 0, 0, 0 },
        { "bytes=0-9,10-19", 100, 1, 0, 20 },            /* adjacent: merged */
        { "bytes=10-19, 0-14", 100, 1, 0, 20 },          /* overlapping, out of order */
        { "bytes=0-0,-1", 1, 1, 0, 1 }, { "bytes=0-9,20-29", 100, 0, 0, 0 },  /* disjoint */
        { "bytes=0-9,200-300", 100, 1, 0, 10 },          /* one satisfiable */
        { "bytes= 0-9 , ,", 100, 1, 0, 10 },
        { "bytes=99999999999999999999999-", 100, -416, 0, 0 },
        { "bytes=0-99999999999999999999999", 100, 1, 0, 100 },
        { "bytes=0-0,1-1,2-2,3-3,4-4,5-5,6-6,7-7,8-8,9-9,10-10,11-11,12-12,13-13,14-14,15-15", 100, 1, 0, 16 },
        { "bytes=0-0,1-1,2-2,3-3,4-4,5-5,6-6,7-7,8-8,9-9,10-10,11-11,12-12,13-13,14-14,15-15,16-16", 100, 0, 0, 0 },
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        uint64_t off = 7, cnt = 7;
        int rc = httpd__static_range(t[i].v, strlen(t[i].v), t[i].len, &off, &cnt);
        if (rc != t[i].rc) fprintf(stderr, "  range(%s) = %d\n", t[i].v, rc);
        CHECK_EQ(rc, t[i].rc);
        if (rc == 1) { CHECK_EQ(off, t[i].off); CHECK_EQ(cnt, t[i].cnt); }
    }
}
static void test_dates(void) {
    const int64_t want = 784111777;           /* Sun, 06 Nov 1994 08:49:37 GMT */
    static const char *ok[] = { "Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT",
                                "Sun Nov  6 08:49:37 1994", "sun, 06 nov 1994 08:49:37 GMT" };
    for (size_t i = 0; i < 4; i++) CHECK_EQ(httpd__parse_http_date(ok[i], strlen(ok[i])), want);
    static const char *bad[] = { "", "Sun, 6 Nov 1994 08:49:37 GMT", "Sun, 06 Nov 1994 08:49:37",
        "Sun, 06 Nov 1994 08:49:37 UTC", "Sun, 06 Foo 1994 08:49:37 GMT", "1994-11-06",
        "Sun, 32 Nov 1994 08:49:37 GMT", "Sun, 06 Nov 1994 24:00:00 GMT", "Sun, 06 Nov 1994 08:49:37 GMTx",
        "Sun Nov 6 08:49:37 1994", "x, 06 Nov 1994 08:49:37 GMT" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_EQ(httpd__parse_http_date(bad[i], strlen(bad[i])), -1);
    char d[30];
    for (int64_t t = 0; t < 4102444800LL; t += 86400 * 37 + 3671) {   /* round trips */
        httpd__http_date(d, t);
        CHECK_EQ(httpd__parse_http_date(d, 29), t);
    }
    CHECK_EQ(httpd__parse_http_date("Sunday, 06-Nov-05 08:49:37 GMT", 30), 1131266977);
}
static httpd_header hdrs[8];
static httpd_request *mkreq(const char *const *kv) {
    static httpd_request req;
    memset(&req, 0, sizeof req);
    int n = 0;
    for (; kv[2 * n]; n++) {
        hdrs[n].name.ptr = kv[2 * n]; hdrs[n].name.len = strlen(kv[2 * n]);
        hdrs[n].value.ptr = kv[2 * n + 1]; hdrs[n].value.len = strlen(kv[2 * n + 1]);
    }
    req.headers = hdrs;
    req.header_count = n;
    return &req;
}
static void test_conditionals(void) {
    const char *et = "\"abc\"";
    const int64_t lm = 784111777;
    static const struct { const char *h[7]; int want; } t[] = {
        { { NULL }, 0 },
        { { "If-None-Match", "\"abc\"", NULL }, 304 },
        { { "If-None-Match", "W/\"abc\"", NULL }, 304 },                /* weak comparison */
        { { "If-None-Match", "\"x\", \"abc\"", NULL }, 304 },
        { { "If-None-Match", "\"x\"", NULL, NULL }, 0 },
        { { "If-None-Match", "*", NULL }, 304 },
        { { "if-none-match", "\"x\"", "If-None-Match", "\"abc\"", NULL }, 304 },   /* two lines */
        { { "If-Match", "\"abc\"", NULL }, 0 }, { { "If-Match", "W/\"abc\"", NULL }, 412 },
        { { "If-Match", "\"x\"", NULL }, 412 }, { { "If-Match", "*", NULL }, 0 },
        { { "If-Match", "garbage", NULL }, 412 },
        { { "If-Modified-Since", "Sun, 06 Nov 1994 08:49:37 GMT", NULL }, 304 },
        { { "If-Modified-Since", "Sun, 06 Nov 1994 08:49:36 GMT", NULL }, 0 },
        { { "If-Modified-Since", "Mon, 07 Nov 1994 08:49:37 GMT", NULL }, 304 },
        { { "If-Modified-Since", "garbage", NULL }, 0 },
        { { "If-Modified-Since", "Sun, 06 Nov 1994 08:49:37 GMT", "If-Modified-Since",
            "Sun, 06 Nov 1994 08:49:37 GMT", NULL }, 0 },               /* two: ignored */
        { { "If-None-Match", "\"x\"", "If-Modified-Since", "Sun, 06 Nov 1994 08:49:37 GMT",
            NULL }, 0 },                                                /* INM wins */
        { { "If-Unmodified-Since", "Sun, 06 Nov 1994 08:49:36 GMT", NULL }, 412 },
        { { "If-Unmodified-Since", "Sun, 06 Nov 1994 08:49:37 GMT", NULL }, 0 },
        { { "If-Unmodified-Since", "nonsense", NULL }, 0 },
        { { "If-Match", "\"abc\"", "If-Unmodified-Since", "Sun, 06 Nov 1990 08:49:36 GMT",
            NULL }, 0 },                                                /* IM wins */
        { { "If-Match", "\"x\"", "If-None-Match", "\"abc\"", NULL }, 412 },   /* step 1 first */
        { { "If-Match", "\"abc\"", "If-None-Match", "\"abc\"", NULL }, 304 },
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        int rc = httpd__static_cond(mkreq(t[i].h), et, 5, lm);
        if (rc != t[i].want) fprintf(stderr, "  cond case %zu = %d\n", i, rc);
        CHECK_EQ(rc, t[i].want);
    }
    const char *imsh[] = { "If-Modified-Since", "Sun, 06 Nov 1994 08:49:37 GMT", NULL };
    CHECK_EQ(httpd__static_cond(mkreq(imsh), et, 5, 0), 0);       /* no Last-Modified */
    httpd_str v = { "\"abc\"", 5 };
    CHECK(httpd__static_if_range(v, et, 5, lm, lm + 10));
    v.ptr = "W/\"abc\""; v.len = 7;
    CHECK(!httpd__static_if_range(v, et, 5, lm, lm + 10));        /* weak: never */
    v.ptr = "\"abd\""; v.len = 5;
    CHECK(!httpd__static_if_range(v, et, 5, lm, lm + 10));
    v.ptr = "Sun, 06 Nov 1994 08:49:37 GMT"; v.len = 29;
    CHECK(httpd__static_if_range(v, et, 5, lm, lm + 10));
    CHECK(!httpd__static_if_range(v, et, 5, lm, lm));             /* same second: weak */
    CHECK(!httpd__static_if_range(v, et, 5, lm + 1, lm + 10));
    v.ptr = NULL; v.len = 0;
    CHECK(httpd__static_if_range(v, et, 5, lm, lm));              /* absent: apply */
    CHECK_EQ(httpd__etag_in("\"a\" \"b\"", 7, "\"b\"", 3, 1), -1);   /* comma missing */
}
static void test_accept_encoding(void) {
    const unsigned all = 6, gz = 1u << HTTPD__ENC_GZ, br = 1u << HTTPD__ENC_BR;
    static const struct { const char *v; unsigned avail; int want; } t[] = {
        { "gzip, deflate, br", 6, HTTPD__ENC_BR }, { "gzip, deflate, br", 2, HTTPD__ENC_GZ },
        { "gzip, deflate, br", 0, HTTPD__ENC_ID }, { "gzip;q=1, br;q=0.5", 6, HTTPD__ENC_GZ },
        { "br;q=0, gzip", 6, HTTPD__ENC_GZ }, { "br;q=0", 6, HTTPD__ENC_ID },
        { "", 6, HTTPD__ENC_ID }, { "identity", 6, HTTPD__ENC_ID },
        { "*", 6, HTTPD__ENC_BR }, { "*;q=0", 6, -1 }, { "*;q=0, identity", 6, HTTPD__ENC_ID },
        { "identity;q=0", 0, -1 }, { "identity;q=0, gzip", 2, HTTPD__ENC_GZ },
        { "GZIP", 2, HTTPD__ENC_GZ }, { "x-gzip", 2, HTTPD__ENC_GZ },
        { "gzip;q=0.001, identity;q=0.002", 6, HTTPD__ENC_ID },
        { "gzip;q=1.5", 2, HTTPD__ENC_ID },                 /* malformed weight: ignored */
        { "gzip ; q=0.8 ; foo=bar, br;Q=0.9", 6, HTTPD__ENC_BR },
        { "br;q=0.5, *;q=0.9", 6, HTTPD__ENC_GZ }, { "compress, deflate", 6, HTTPD__ENC_ID },
        { "gzip;q=0, identity;q=0", 2, -1 }, { ",,, gzip ,,", 2, HTTPD__ENC_GZ },
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        const char *h[] = { "Accept-Encoding", t[i].v, NULL };
        int c = httpd__static_coding(mkreq(h), t[i].avail);
        if (c != t[i].want) fprintf(stderr, "  AE '%s' avail %u = %d\n", t[i].v, t[i].avail, c);
        CHECK_EQ(c, t[i].want);
    }
    const char *none[] = { NULL };
    CHECK_EQ(httpd__static_coding(mkreq(none), all), HTTPD__ENC_ID);   /* absent */
    const char *two[] = { "Accept-Encoding", "gzip;q=0.5", "Accept-Encoding", "br", NULL };
    CHECK_EQ(httpd__static_coding(mkreq(two), gz | br), HTTPD__ENC_BR);
}
static void test_etag_and_mime(void) {
    char p[600];
    struct stat st1, st2;
    snprintf(p, sizeof p, "%s/a.txt", root);
    CHECK_EQ(stat(p, &st1), 0);
    httpd__static_rep r1, r2;
    httpd__static_file_rep(&r1, -1, &st1);
    CHECK(r1.etag[0] == '"' && r1.etag[strlen(r1.etag) - 1] == '"' && strncmp(r1.etag, "W/", 2));
    struct timeval tv[2] = { { 1000, 0 }, { 1000, 1 } };   /* mtime moves by 1 us */
    utimes(p, tv);
    CHECK_EQ(stat(p, &st2), 0);
    httpd__static_file_rep(&r2, -1, &st2);
    CHECK(strcmp(r1.etag, r2.etag) != 0);
    CHECK(httpd__file_tag(&st1) != httpd__file_tag(&st2));
    static const httpd_mime user[] = { { ".svg", "image/x-mine" }, { "data", "application/x-data" },
                                       { NULL, NULL } };
    CHECK(!strcmp(httpd__static_mime(NULL, "a/b.HTML", 8), "text/html; charset=utf-8"));
    CHECK(!strcmp(httpd__static_mime(NULL, "x.css", 5), "text/css; charset=utf-8"));
    CHECK(!strcmp(httpd__static_mime(NULL, "noext", 5), "application/octet-stream"));
    CHECK(!strcmp(httpd__static_mime(NULL, "dir.d/noext", 11), "application/octet-stream"));
    CHECK(!strcmp(httpd__static_mime(user, "x.svg", 5), "image/x-mine"));
    CHECK(!strcmp(httpd__static_mime(user, "x.DATA", 6), "application/x-data"));
    CHECK(!strcmp(httpd__static_mime(user, "x.png", 5), "image/png"));
    httpd_static m;
    memset(&m, 0, sizeof m);
    CHECK_EQ(httpd_static_open(&m), HTTPD_ERR_INVAL);                   /* nothing to serve */
    m.root = "/nonexistent/dir";
    CHECK_EQ(httpd_static_open(&m), HTTPD_ERR_SYS);
    m.root = root; m.cache_control = "max-age=1\r\nX-Evil: 1";
    CHECK_EQ(httpd_static_open(&m), HTTPD_ERR_INVAL);                   /* injection */
    m.cache_control = NULL; m.index = "../x";
    CHECK_EQ(httpd_static_open(&m), HTTPD_ERR_INVAL);
    m.index = NULL;
    CHECK_EQ(httpd_static_open(&m), 0);
    httpd_static_close(&m);
    static const httpd_asset unsorted[] = {
        { "b", "text/plain", "\"1\"", 0, (const unsigned char *)"b", 1, 0, 0, 0, 0, 0, 0 },
        { "a", "text/plain", "\"2\"", 0, (const unsigned char *)"a", 1, 0, 0, 0, 0, 0, 0 } };
    memset(&m, 0, sizeof m);
    m.assets = unsorted; m.nassets = 2;
    CHECK_EQ(httpd_static_open(&m), HTTPD_ERR_INVAL);
}

/* ---- a server on loopback: a directory mount and a packed-asset mount ---- */
static unsigned char big[300000];
static httpd_asset assets[3];
static httpd_static dirm, memm;
static int port;
/* One request on a fresh connection; returns the whole response (until close). */
static size_t fetch(const char *req, char *out, size_t cap) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(s, (struct sockaddr *)&a, sizeof a) < 0) { close(s); return 0; }
    if (write(s, req, strlen(req)) < 0) { close(s); return 0; }
    size_t n = 0;
    ssize_t r;
    while (n < cap - 1 && (r = read(s, out + n, cap - 1 - n)) > 0) n += (size_t)r;
    out[n] = 0;
    close(s);
    return n;
}
static const char *body_of(const char *resp) {
    const char *b = strstr(resp, "\r\n\r\n");
    return b ? b + 4 : "";
}
static void test_server(void) {
    for (size_t i = 0; i < sizeof big; i++) big[i] = (unsigned char)(i * 7 + (i >> 9));
    static const unsigned char gz[] = "GZ-BYTES";
    assets[0] = (httpd_asset){ "big.bin", "application/octet-stream", "\"big1\"", 784111777,
                               big, sizeof big, NULL, NULL, 0, 0, NULL, NULL };
    assets[1] = (httpd_asset){ "dir/index.html", "text/html", "\"idx\"", 0,
                               (const unsigned char *)"<p>idx</p>", 10, gz, NULL, 8, 0,
                               "\"idx-gz\"", NULL };
    assets[2] = (httpd_asset){ "z.txt", "text/plain", "\"z\"", 0,
                               (const unsigned char *)"zzz", 3, NULL, NULL, 0, 0, NULL, NULL };
    memm.assets = assets; memm.nassets = 3; memm.precompressed = 1;
    dirm.root = root; dirm.listings = 1; dirm.cache_control = "max-age=60";
    CHECK_EQ(httpd_static_open(&memm), 0);
    CHECK_EQ(httpd_static_open(&dirm), 0);
    const httpd_route routes[] = { HTTPD_STATIC_ROUTE("/m/", &memm),
                                   { "*", "/d/*", httpd_static_handler, &dirm, 0, 0, 0, 0, 0, 0, 0, 0 },
                                   { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 } };
    httpd_desc d;
    memset(&d, 0, sizeof d);
    d.workers = 1;
    d.routes = routes;
    httpd_server *s;
    CHECK_EQ(httpd_start(&d, &s), 0);
    port = httpd_port(s);
    static char out[400000];
    size_t n = fetch("GET /m/big.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", out, sizeof out);
    CHECK(n > sizeof big && !memcmp(out + n - sizeof big, big, sizeof big));
    CHECK(strstr(out, "ETag: \"big1\"\r\n") && strstr(out, "Last-Modified: Sun, 06 Nov 1994 08:49:37 GMT"));
    n = fetch("GET /m/big.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=100000-299999\r\nConnection: close\r\n\r\n",
              out, sizeof out);
    CHECK(strstr(out, "HTTP/1.1 206") && strstr(out, "Content-Range: bytes 100000-299999/300000"));
    CHECK(n > 200000 && !memcmp(out + n - 200000, big + 100000, 200000));
    fetch("GET /m/big.bin HTTP/1.1\r\nHost: x\r\nIf-None-Match: \"big1\"\r\nConnection: close\r\n\r\n",
          out, sizeof out);
    CHECK(!strncmp(out, "HTTP/1.1 304", 12) && !*body_of(out));
    fetch("HEAD /m/big.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", out, sizeof out);
    CHECK(strstr(out, "Content-Length: 300000") && !*body_of(out));
    fetch("GET /m/dir/ HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n",
          out, sizeof out);
    CHECK(strstr(out, "Content-Encoding: gzip") && strstr(out, "ETag: \"idx-gz\"")
          && strstr(out, "Vary: Accept-Encoding") && !strcmp(body_of(out), "GZ-BYTES"));
    fetch("GET /m/dir HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", out, sizeof out);
    CHECK(strstr(out, "HTTP/1.1 301") && strstr(out, "Location: /m/dir/\r\n"));
    fetch("GET /m/di HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", out, sizeof out);
    CHECK(!strncmp(out, "HTTP/1.1 404", 12));
    fetch("POST /m/z.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
          out, sizeof out);
    CHECK(!strncmp(out, "HTTP/1.1 405", 12) && strstr(out, "Allow: GET, HEAD"));
    fetch("DELETE /d/a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", out, sizeof out);
    CHECK(!strncmp(out, "HTTP/1.1 405", 12) && strstr(out, "Allow: GET, HEAD, OPTIONS"));
    fetch("GET /d/sub/b.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", out, sizeof out);
    CHECK(!strcmp(body_of(out), "inside-b") && strstr(out, "Cache-Control: max-age=60\r\n"));
    fetch("GET /d/sub/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", out, sizeof out);
    CHECK(strstr(out, "<a href=\"b.txt\">b.txt</a>") && strstr(out, "<a href=\"deeper/\">")
          && !strstr(out, "in_link"));                  /* links listed only if followed */
    fetch("GET /d/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", out, sizeof out);
    CHECK(strstr(out, "a.txt") && !strstr(out, ".hidden") && strstr(out, "Index of /d/"));
    fetch("GET /d/up_link HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", out, sizeof out);
    CHECK(!strncmp(out, "HTTP/1.1 404", 12) && !strstr(out, "outside-secret"));
    httpd_stop(s, 1);
    httpd_wait(s);
    httpd_destroy(s);
    httpd_static_close(&dirm);
    httpd_static_close(&memm);
}
int main(void) {
    make_tree();
    RUN(test_clean);
    RUN(test_resolve);
    RUN(test_range);
    RUN(test_dates);
    RUN(test_conditionals);
    RUN(test_accept_encoding);
    RUN(test_etag_and_mime);
    RUN(test_server);
    rm_tree();
    return REPORT();
}
