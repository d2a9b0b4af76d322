/* tests/test_tls.c - TLS (HTTPD_TLS_BEARSSL): PEM chains and keys in every format openssl
   writes (files and memory, key/certificate mismatch, encrypted and broken inputs), SNI
   name matching and choice, the session cache (hits, expiry, oldest-first eviction, many
   threads at once), whole TLS connections in memory on a virtual clock against a BearSSL
   client (handshake, keep-alive, pipelining, file bodies from disk and from memory, the
   engine's buffer parked while idle, close_notify on Connection: close and on the
   keep-alive timeout, the handshake deadline, garbage and oversized records, resumption,
   half duplex with a small maximum record), and a real multi-worker server where clients
   on several threads resume sessions made on other workers (run under ASan and TSan).
   Certificates are made at start by tests/tls_certs.sh (openssl CLI) in a temp dir. */
#define HTTPD_IMPLEMENTATION
#include "../httpd.h"
#include "harness.h"
#include "tls_client.h"
#include <sys/wait.h>

static char dir[64];
static char *readf(const char *name) {
    char path[128];
    size_t n = 0;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    char *p = httpd__tls_slurp(path, &n, NULL);
    if (!p) { fprintf(stderr, "cannot read %s\n", path); exit(1); }
    return p;
}
static const char *path(const char *name) {
    static char buf[8][128];
    static int k;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}

/* ------------------------------------------------------------------- PEM */
static int load(const char *cert, const char *key, httpd__tls_cert *c, const char **why) {
    httpd_tls_cert pub;
    memset(&pub, 0, sizeof pub);
    pub.cert_file = path(cert);
    pub.key_file = path(key);
    return httpd__tls_cert_load(c, &pub, NULL, why);
}
static void test_pem(void) {
    static const struct { const char *cert, *key; int type; size_t chain; } ok[] = {
        { "ec.pem", "ec.key", BR_KEYTYPE_EC, 1 },          /* SEC1 */
        { "ec.pem", "ec8.key", BR_KEYTYPE_EC, 1 },         /* PKCS#8 */
        { "rsa.pem", "rsa.key", BR_KEYTYPE_RSA, 1 },       /* PKCS#8 */
        { "rsa.pem", "rsa1.key", BR_KEYTYPE_RSA, 1 },      /* PKCS#1 */
        { "ec-chain.pem", "ec.key", BR_KEYTYPE_EC, 2 },    /* leaf + CA */
    };
    const char *why;
    for (size_t i = 0; i < HTTPD__COUNTOF(ok); i++) {
        httpd__tls_cert c;
        CHECK_EQ(load(ok[i].cert, ok[i].key, &c, &why), 0);
        CHECK_EQ(c.key_type, ok[i].type);
        CHECK_EQ(c.chain_len, ok[i].chain);
        httpd__tls_cert_free(&c, NULL);
    }
    /* from memory, and without the final newline */
    char *cert = readf("ec.pem"), *key = readf("ec.key");
    httpd_tls_cert pub;
    httpd__tls_cert c;
    memset(&pub, 0, sizeof pub);
    pub.cert_pem = cert;
    pub.key_pem = key;
    pub.key_pem_len = strlen(key) - 1;                   /* no trailing newline */
    pub.names = " a.test,*.b.test  ";
    CHECK_EQ(httpd__tls_cert_load(&c, &pub, NULL, &why), 0);
    CHECK(!strcmp(c.names, "a.test") && !strcmp(c.names + 7, "*.b.test") && !c.names[16]);
    httpd__tls_cert_free(&c, NULL);
    /* wrong pairs */
    CHECK_EQ(load("ec.pem", "other.key", &c, &why), HTTPD_ERR_INVAL);
    CHECK(strstr(why, "does not match") != NULL);
    httpd__tls_cert_free(&c, NULL);
    CHECK_EQ(load("rsa.pem", "ec.key", &c, &why), HTTPD_ERR_INVAL);
    CHECK(strstr(why, "type") != NULL);
    httpd__tls_cert_free(&c, NULL);
    CHECK_EQ(load("ec.pem", "enc.key", &c, &why), HTTPD_ERR_INVAL);
    CHECK(strstr(why, "encrypted") != NULL);
    httpd__tls_cert_free(&c, NULL);
    CHECK_EQ(load("ec.pem", "missing.key", &c, &why), HTTPD_ERR_SYS);
    httpd__tls_cert_free(&c, NULL);
    CHECK_EQ(load("ec.key", "ec.key", &c, &why), HTTPD_ERR_INVAL);     /* no certificate */
    httpd__tls_cert_free(&c, NULL);
    CHECK_EQ(load("ec.pem", "ec.pem", &c, &why), HTTPD_ERR_INVAL);     /* no key */
    httpd__tls_cert_free(&c, NULL);
    /* broken PEM texts */
    static const char *const bad[] = { "", "hello", "-----BEGIN CERTIFICATE-----\nAAAA\n",
        "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n" };
    for (size_t i = 0; i < HTTPD__COUNTOF(bad); i++) {
        memset(&pub, 0, sizeof pub);
        pub.cert_pem = bad[i];
        pub.cert_pem_len = strlen(bad[i]) ? 0 : 1;
        pub.key_pem = key;
        CHECK(httpd__tls_cert_load(&c, &pub, NULL, &why) < 0);
        httpd__tls_cert_free(&c, NULL);
    }
    free(cert);
    free(key);
}

/* ------------------------------------------------------------ SNI names */
static int sni_cb(void *user, const char *name) {
    (void)user;
    return !strcmp(name, "refuse.test") ? -1 : !strcmp(name, "one.test") ? 1 : 0;
}
static void test_names(void) {
    CHECK(httpd__tls_name_match("a.test", "A.Test"));
    CHECK(httpd__tls_name_match("a.test", "a.test."));
    CHECK(!httpd__tls_name_match("a.test", "b.a.test"));
    CHECK(httpd__tls_name_match("*.b.test", "x.b.test"));
    CHECK(httpd__tls_name_match("*.b.test", "X-Y.B.TEST"));
    CHECK(!httpd__tls_name_match("*.b.test", "b.test"));
    CHECK(!httpd__tls_name_match("*.b.test", "y.x.b.test"));
    CHECK(!httpd__tls_name_match("*.b.test", ".b.test"));
    httpd_tls_cert certs[2];
    memset(certs, 0, sizeof certs);
    certs[0].cert_file = path("ec.pem"); certs[0].key_file = path("ec.key");
    certs[1].cert_file = path("other.pem"); certs[1].key_file = path("other.key");
    certs[1].names = "other.test *.wild.test";
    httpd_tls_desc d;
    memset(&d, 0, sizeof d);
    d.certs = certs;
    d.ncerts = 2;
    int rc;
    const char *why;
    httpd__tls_conf *cf = httpd__tls_conf_new(&d, NULL, &rc, &why);
    CHECK(cf != NULL);
    if (!cf) return;
    CHECK_EQ(httpd__tls_pick(cf, ""), 0);
    CHECK_EQ(httpd__tls_pick(cf, "localhost"), 0);
    CHECK_EQ(httpd__tls_pick(cf, "OTHER.test"), 1);
    CHECK_EQ(httpd__tls_pick(cf, "a.wild.test"), 1);
    CHECK_EQ(cf->desc.handshake_timeout_ms, 10000);
    CHECK_EQ(cf->desc.session_cache, 4096);
    CHECK_EQ(cf->nshards, 8);
    CHECK_EQ(cf->buf_len, 16709 + 16469 + 2 * 4096);
    cf->desc.sni = sni_cb;
    CHECK_EQ(httpd__tls_pick(cf, "refuse.test"), -1);
    CHECK_EQ(httpd__tls_pick(cf, "one.test"), 1);
    httpd__tls_conf_free(cf);
    /* bad descriptions */
    d.max_record = 3000;
    CHECK(httpd__tls_conf_new(&d, NULL, &rc, &why) == NULL && rc == HTTPD_ERR_INVAL);
    d.max_record = 0;
    d.ncerts = 0;
    CHECK(httpd__tls_conf_new(&d, NULL, &rc, &why) == NULL && rc == HTTPD_ERR_INVAL);
}

/* ---------------------------------------------------------- session cache */
static httpd__tls_conf *cache_conf(uint32_t n, uint32_t timeout_ms) {
    httpd_tls_cert cert;
    httpd_tls_desc d;
    int rc;
    const char *why;
    memset(&cert, 0, sizeof cert);
    memset(&d, 0, sizeof d);
    cert.cert_file = path("ec.pem"); cert.key_file = path("ec.key");
    d.certs = &cert; d.ncerts = 1;
    d.session_cache = n;
    d.session_timeout_ms = timeout_ms;
    return httpd__tls_conf_new(&d, NULL, &rc, &why);
}
static void sess(br_ssl_session_parameters *p, uint32_t k) {
    memset(p, 0, sizeof *p);
    p->session_id_len = 32;
    for (int i = 0; i < 32; i++)
        p->session_id[i] = (unsigned char)(k * 2654435761u >> (i % 4 * 8)) ^ (unsigned char)i;
    memcpy(p->session_id + 8, &k, 4);                  /* distinct ids */
    for (int i = 0; i < 48; i++) p->master_secret[i] = (unsigned char)(k + (unsigned)i);
    p->version = BR_TLS12;
    p->cipher_suite = BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256;
}
static int lookup(httpd__tls_conf *cf, httpd__tls *t, uint32_t k) {
    br_ssl_session_parameters p, q;
    sess(&p, k);
    memset(&q, 0, sizeof q);
    memcpy(q.session_id, p.session_id, 32);
    q.session_id_len = 32;
    if (!httpd__tls_cache_load(&cf->cache_vt, &t->sc, &q)) return 0;
    return !memcmp(q.master_secret, p.master_secret, 48) && q.cipher_suite == p.cipher_suite
           ? 1 : -1;
}
static void test_cache(void) {
    static httpd__tls t;
    httpd__tls_conf *cf = cache_conf(16, 100000);
    CHECK(cf && cf->nshards == 1 && cf->shards[0].cap == 16);
    if (!cf) return;
    br_ssl_session_parameters p;
    for (uint32_t k = 0; k < 20; k++) {
        sess(&p, k);
        t.cert = (int16_t)(k % 3);
        httpd__tls_cache_save(&cf->cache_vt, &t.sc, &p);
    }
    for (uint32_t k = 0; k < 4; k++) CHECK_EQ(lookup(cf, &t, k), 0);      /* evicted */
    for (uint32_t k = 4; k < 20; k++) {
        t.cert = -1;
        CHECK_EQ(lookup(cf, &t, k), 1);
        CHECK_EQ(t.cert, (int)(k % 3));                   /* the certificate comes back */
    }
    CHECK_EQ(lookup(cf, &t, 999), 0);
    /* expiry: an entry past its time is gone, and removed */
    httpd__tls_shard *sh = &cf->shards[0];
    for (uint32_t i = 0; i < sh->cap; i++) sh->e[i].expires = 1;
    CHECK_EQ(lookup(cf, &t, 10), 0);
    sess(&p, 50);
    httpd__tls_cache_save(&cf->cache_vt, &t.sc, &p);
    CHECK_EQ(lookup(cf, &t, 50), 1);
    httpd__tls_conf_free(cf);
    /* disabled */
    cf = cache_conf(HTTPD_TLS_NO_CACHE, 0);
    CHECK(cf && cf->cache_vt == NULL && cf->shards == NULL);
    httpd__tls_conf_free(cf);
}
static httpd__tls_conf *mt_cf;
static int mt_bad;
static void *cache_thread(void *arg) {
    static __thread httpd__tls t;
    uint32_t seed = (uint32_t)(uintptr_t)arg * 7919u + 1;
    br_ssl_session_parameters p;
    for (int i = 0; i < 20000; i++) {
        seed = seed * 1103515245u + 12345u;
        uint32_t k = (seed >> 8) % 512;
        if (seed & 1) { sess(&p, k); httpd__tls_cache_save(&mt_cf->cache_vt, &t.sc, &p); }
        else if (lookup(mt_cf, &t, k) < 0) __atomic_add_fetch(&mt_bad, 1, __ATOMIC_RELAXED);
    }
    return NULL;
}
static void test_cache_threads(void) {
    mt_cf = cache_conf(256, 100000);
    CHECK(mt_cf && mt_cf->nshards == 8);
    if (!mt_cf) return;
    pthread_t th[4];
    for (int i = 0; i < 4; i++) pthread_create(&th[i], NULL, cache_thread, (void *)(uintptr_t)i);
    for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
    CHECK_EQ(mt_bad, 0);                               /* never a torn or wrong entry */
    httpd__tls_conf_free(mt_cf);
}

/* ------------------------------------------------ connections in memory */
static httpd_server srv;
static httpd__worker *wk;
static br_x509_pkey ec_pk, rsa_pk;
static unsigned char ec_kb[600], rsa_kb[600];
static int file_fd = -1;
static const char asset[] = "0123456789abcdef";
static char big_asset[100000];
static void on_hello(httpd_request *r) { httpd_respond(r, 200, "text/plain", "hello", 5); }
static void on_who(httpd_request *r) {
    httpd_tls_info ti;
    char b[128];
    int tls = httpd_tls_get_info(r, &ti);
    int n = snprintf(b, sizeof b, "tls=%d resumed=%d cert=%d alpn=%s", tls, ti.resumed, ti.cert,
                     ti.alpn ? ti.alpn : "-");
    httpd_respond(r, 200, "text/plain", b, (size_t)n);
}
static void on_file(httpd_request *r) {
    httpd_send_file(r, 200, "text/plain", dup(file_fd), 0, HTTPD_FILE_REST);
}
static void on_asset(httpd_request *r) {
    httpd__send_file((httpd__req *)r, 200, "text/plain", -1, big_asset, 0, 0, sizeof big_asset);
}
static void on_bytes(httpd_request *r) {              /* a 200000-byte streamed body */
    static char blk[200000];
    memset(blk, 'b', sizeof blk);
    httpd_respond(r, 200, "text/plain", blk, sizeof blk);
}
static const httpd_route routes[] = {
    { .method = "GET", .pattern = "/", .handler = on_hello },
    { .method = "GET", .pattern = "/who", .handler = on_who },
    { .method = "GET", .pattern = "/file", .handler = on_file },
    { .method = "GET", .pattern = "/asset", .handler = on_asset },
    { .method = "GET", .pattern = "/bytes", .handler = on_bytes },
    { 0 },
};
static httpd_tls_cert srv_certs[3];
static httpd_tls_desc srv_tls;
static void server_up(int half_duplex, uint32_t max_record) {
    httpd_desc d;
    memset(&d, 0, sizeof d);
    memset(srv_certs, 0, sizeof srv_certs);
    memset(&srv_tls, 0, sizeof srv_tls);
    srv_certs[0].cert_file = path("ec-chain.pem"); srv_certs[0].key_file = path("ec.key");
    srv_certs[1].cert_file = path("rsa.pem"); srv_certs[1].key_file = path("rsa.key");
    srv_certs[1].names = "rsa.test";
    srv_certs[2].cert_file = path("rsa.pem"); srv_certs[2].key_file = path("rsa1.key");
    srv_tls.certs = srv_certs;                 /* [2]: the RSA pair of the default [0] */
    srv_tls.ncerts = 3;
    srv_tls.handshake_timeout_ms = 2000;
    srv_tls.half_duplex = half_duplex;
    srv_tls.max_record = max_record;
    d.tls = &srv_tls;
    d.routes = routes;
    d.workers = 1;
    d.keepalive_timeout_ms = 5000;
    d.logger.fn = NULL;
    if (httpd__server_init(&srv, &d) < 0) { fprintf(stderr, "server_init failed\n"); exit(1); }
    srv.workers = (httpd__worker *)calloc(1, sizeof *srv.workers);
    srv.nworkers = 1;
    wk = &srv.workers[0];
    if (httpd__worker_init(wk, &srv, 0) < 0) exit(1);
    if (httpd__taskpool_start(&srv.pool, 0, 4, NULL) < 0) exit(1);
}
static void server_down(void) {
    httpd__server_release(&srv);
}
static void turn(void) {
    httpd__io_event ev[16];
    int n = httpd__poll_wait(&wk->poll, ev, 16, 0);
    httpd__worker_events(wk, ev, n);
    httpd__worker_end_turn(wk);
}
static void advance(uint64_t ms) { wk->now += ms; turn(); }
typedef struct conn_pair { tcli k; httpd__conn *sc; int fd; } conn_pair;
static uint16_t force_suite;                  /* a client that offers only this suite */
static void cp_open(conn_pair *p, const br_x509_pkey *pk, const char *sni,
                    const br_ssl_session_parameters *resume, size_t iolen) {
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv);
    HTTPD__ADD(&srv.nconns, 1u);
    tcli_init(&p->k, sv[1], pk, sni, resume, iolen);
    if (force_suite) {
        br_ssl_engine_set_suites(&p->k.cc.eng, &force_suite, 1);
        br_ssl_client_reset(&p->k.cc, sni, resume != NULL);
    }
    p->fd = sv[1];
    tcli_pump(&p->k);                                   /* the ClientHello */
    p->sc = httpd__worker_adopt(wk, sv[0], 1);
}
/* Runs client and server until cond holds (or 200 rounds). */
#define UNTIL(p, cond) do { for (int r_ = 0; r_ < 200 && !(cond); r_++) { \
    tcli_pump(&(p)->k); turn(); } } while (0)
static void cp_close(conn_pair *p) {
    close(p->fd);
    for (int i = 0; i < 20; i++) turn();
    tcli_free(&p->k);
}
static int has(const tcli *k, const char *s) { return k->in && strstr(k->in, s) != NULL; }
static int count(const tcli *k, const char *s) {
    int n = 0;
    for (const char *p = k->in; p && (p = strstr(p, s)) != NULL; p += strlen(s)) n++;
    return n;
}
static void test_conn_basics(void) {
    server_up(0, 0);
    conn_pair p;
    cp_open(&p, &ec_pk, "localhost", NULL, 0);
    CHECK(p.sc && p.sc->tls);
    UNTIL(&p, tcli_ready(&p.k));
    CHECK(tcli_ready(&p.k));
    CHECK(p.sc->tls && p.sc->tls->ready);
    tcli_write(&p.k, "GET / HTTP/1.1\r\nHost: a\r\n\r\n", 27);
    UNTIL(&p, has(&p.k, "hello"));
    CHECK(has(&p.k, "HTTP/1.1 200 OK") && has(&p.k, "hello"));
    /* idle: the engine's buffer went back to the pool (parked) */
    CHECK(p.sc->tls && p.sc->tls->buf == NULL);
    CHECK(wk->tls_buf.nfree >= 1);
    /* the next request unparks it; three pipelined in one record */
    p.k.inlen = 0;
    const char *three = "GET /who HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"
                        "GET /who HTTP/1.1\r\nHost: a\r\n\r\n";
    tcli_write(&p.k, three, strlen(three));
    UNTIL(&p, count(&p.k, "HTTP/1.1 200") == 3);
    CHECK_EQ(count(&p.k, "HTTP/1.1 200"), 3);
    CHECK(has(&p.k, "tls=1 resumed=0 cert=0 alpn=-"));
    CHECK(p.sc->tls->buf == NULL);
    /* a file body (pread, encrypted) and one from memory, 100 KB each */
    p.k.inlen = 0;
    tcli_write(&p.k, "GET /file HTTP/1.1\r\nHost: a\r\n\r\n", 31);
    UNTIL(&p, p.k.inlen >= 100000 + 100);
    char *body = p.k.in ? strstr(p.k.in, "\r\n\r\n") : NULL;
    CHECK(body && p.k.inlen - (size_t)(body + 4 - p.k.in) == 100000 && body[4] == 'f'
          && p.k.in[p.k.inlen - 1] == 'f');
    p.k.inlen = 0;
    tcli_write(&p.k, "GET /asset HTTP/1.1\r\nHost: a\r\n\r\n", 32);
    UNTIL(&p, p.k.inlen >= 100000 + 100);
    body = p.k.in ? strstr(p.k.in, "\r\n\r\n") : NULL;
    CHECK(body && p.k.inlen - (size_t)(body + 4 - p.k.in) == 100000
          && !memcmp(body + 4, big_asset, 100000));
    /* Connection: close -> the response, then close_notify (a clean TLS closure) */
    p.k.inlen = 0;
    tcli_write(&p.k, "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", 46);
    UNTIL(&p, tcli_closed_clean(&p.k));
    CHECK(has(&p.k, "hello"));
    CHECK(tcli_closed_clean(&p.k));
    cp_close(&p);
    CHECK_EQ(wk->nconns, 0);
    server_down();
}
static void test_conn_timeouts(void) {
    server_up(0, 0);
    /* keep-alive timeout: close_notify, not a bare FIN */
    conn_pair p;
    cp_open(&p, &rsa_pk, "rsa.test", NULL, 0);
    UNTIL(&p, tcli_ready(&p.k));
    tcli_write(&p.k, "GET /who HTTP/1.1\r\nHost: a\r\n\r\n", 30);
    UNTIL(&p, has(&p.k, "cert=1"));
    CHECK(has(&p.k, "tls=1 resumed=0 cert=1"));        /* SNI chose the RSA chain */
    advance(6000);
    UNTIL(&p, tcli_closed_clean(&p.k));
    CHECK(tcli_closed_clean(&p.k));
    CHECK_EQ(wk->nconns, 0);
    cp_close(&p);
    /* a client that never completes its handshake is dropped at the deadline */
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv);
    HTTPD__ADD(&srv.nconns, 1u);
    send(sv[1], "\x16\x03\x01\x00\x40", 5, 0);          /* a header, then nothing */
    httpd__worker_adopt(wk, sv[0], 1);
    turn();
    CHECK_EQ(wk->nconns, 1);
    advance(1500);
    CHECK_EQ(wk->nconns, 1);
    advance(600);
    CHECK_EQ(wk->nconns, 0);
    char b[64];
    CHECK_EQ(recv(sv[1], b, sizeof b, MSG_DONTWAIT), 0);  /* closed */
    close(sv[1]);
    server_down();
}
/* two certificates for the same names: ECDSA for who can, RSA for the others */
static void test_conn_cert_pair(void) {
    server_up(0, 0);
    static const struct { uint16_t suite; const br_x509_pkey *pk; const char *want; } v[] = {
        { 0, &ec_pk, "cert=0" },
        { BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, &rsa_pk, "cert=2" },
        { BR_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256, &rsa_pk, "cert=2" },
        { BR_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, &ec_pk, "cert=0" },
    };
    for (size_t i = 0; i < HTTPD__COUNTOF(v); i++) {
        conn_pair p;
        force_suite = v[i].suite;
        cp_open(&p, v[i].pk, "localhost", NULL, 0);
        UNTIL(&p, tcli_ready(&p.k) || wk->nconns == 0);
        CHECK(tcli_ready(&p.k));
        tcli_write(&p.k, "GET /who HTTP/1.1\r\nHost: a\r\n\r\n", 30);
        UNTIL(&p, has(&p.k, "cert="));
        CHECK(has(&p.k, v[i].want));
        cp_close(&p);
    }
    force_suite = 0;
    server_down();
}
static void test_conn_bad_input(void) {
    server_up(0, 0);
    static const struct { const char *bytes; size_t n; } bad[] = {
        { "GET / HTTP/1.1\r\nHost: a\r\n\r\n", 27 },                       /* plaintext */
        { "\x16\x03\x01\x00\x05\x01\x00\x00\x01\x00", 10 },                /* broken hello */
        { "\x80\x2e\x01\x00\x02\x00\x15\x00\x00\x00\x10", 11 },             /* SSLv2 format */
        { "\x16\x03\x01\xff\xff", 5 },                                      /* 65535 bytes */
    };
    for (size_t i = 0; i < HTTPD__COUNTOF(bad); i++) {
        int sv[2];
        socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv);
        HTTPD__ADD(&srv.nconns, 1u);
        send(sv[1], bad[i].bytes, bad[i].n, 0);
        httpd__worker_adopt(wk, sv[0], 1);
        for (int k = 0; k < 5; k++) turn();
        CHECK_EQ(wk->nconns, 0);
        close(sv[1]);
    }
    /* after a handshake: a record over the maximum, and one that fails its MAC */
    for (int kind = 0; kind < 2; kind++) {
        conn_pair p;
        cp_open(&p, &ec_pk, "localhost", NULL, 0);
        UNTIL(&p, tcli_ready(&p.k));
        CHECK(tcli_ready(&p.k));
        if (kind == 0) send(p.fd, "\x17\x03\x03\x48\x00", 5, 0);         /* 18432 bytes */
        else send(p.fd, "\x17\x03\x03\x00\x20" "0123456789abcdef0123456789abcdef", 37, 0);
        for (int k = 0; k < 5; k++) turn();
        CHECK_EQ(wk->nconns, 0);
        cp_close(&p);
    }
    server_down();
}
static void test_conn_resume(void) {
    server_up(0, 0);
    conn_pair p;
    br_ssl_session_parameters sp;
    cp_open(&p, &ec_pk, "localhost", NULL, 0);
    UNTIL(&p, tcli_ready(&p.k));
    br_ssl_engine_get_session_parameters(&p.k.cc.eng, &sp);
    CHECK_EQ(sp.session_id_len, 32);
    cp_close(&p);
    for (int i = 0; i < 3; i++) {
        cp_open(&p, &ec_pk, "localhost", &sp, 0);
        UNTIL(&p, tcli_ready(&p.k));
        tcli_write(&p.k, "GET /who HTTP/1.1\r\nHost: a\r\n\r\n", 30);
        UNTIL(&p, has(&p.k, "resumed"));
        CHECK(has(&p.k, "tls=1 resumed=1 cert=0"));
        cp_close(&p);
    }
    server_down();
}
/* firmware settings: half duplex, 1 KiB records; the client asks for 1 KiB fragments */
static void test_conn_small(void) {
    server_up(1, 1024);
    CHECK_EQ(srv.tls->buf_len, 1024 + 325 + 2 * 1024);
    conn_pair p;
    cp_open(&p, &ec_pk, "localhost", NULL, 1024 + 325 + 1024 + 85);
    UNTIL(&p, tcli_ready(&p.k));
    CHECK(tcli_ready(&p.k));
    tcli_write(&p.k, "GET /bytes HTTP/1.1\r\nHost: a\r\n\r\n", 32);
    UNTIL(&p, p.k.inlen >= 200000 + 80);
    char *body = p.k.in ? strstr(p.k.in, "\r\n\r\n") : NULL;
    CHECK(body && p.k.inlen - (size_t)(body + 4 - p.k.in) == 200000);
    p.k.inlen = 0;
    tcli_write(&p.k, "GET / HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 54);
    UNTIL(&p, count(&p.k, "hello") == 2);
    CHECK_EQ(count(&p.k, "hello"), 2);
    cp_close(&p);
    /* a client that sends 16 KiB records cannot talk to it (documented) */
    cp_open(&p, &ec_pk, "localhost", NULL, 0);
    UNTIL(&p, tcli_ready(&p.k) || wk->nconns == 0);
    static char post[8192];
    int n = snprintf(post, sizeof post,
                     "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 6000\r\n\r\n");
    memset(post + n, 'x', 6000);
    if (tcli_ready(&p.k)) tcli_write(&p.k, post, (size_t)n + 6000);
    UNTIL(&p, wk->nconns == 0);
    CHECK_EQ(wk->nconns, 0);
    cp_close(&p);
    server_down();
}
static void test_memory(void) {
    /* what a TLS connection costs beyond a plaintext one while idle: the engine state */
    printf("sizeof(httpd__tls) = %zu bytes (idle); busy adds a %u-byte block\n",
           sizeof(httpd__tls), 16709 + 16469 + 2 * 4096);
    CHECK(sizeof(httpd__tls) < 4400);
}

/* ---------------------------------------------- a real server, threads */
static int srv_port;
static int dial(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)srv_port);
    a.sin_addr.s_addr = htonl(0x7f000001);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) { close(fd); return -1; }
    fcntl(fd, F_SETFL, O_NONBLOCK);
    return fd;
}
/* one request on a fresh connection; 1 if resumed, 0 if not, -1 on failure */
static int one_request(br_ssl_session_parameters *sp, int resume) {
    tcli k;
    int fd = dial(), rc = -1;
    if (fd < 0) return -1;
    tcli_init(&k, fd, &ec_pk, "localhost", resume ? sp : NULL, 0);
    tcli_pump(&k);
    int sent = 0;
    for (int i = 0; i < 4000 && !has(&k, "resumed="); i++) {
        if (!tcli_pump(&k)) {
            struct pollfd pf = { fd, POLLIN, 0 };
            poll(&pf, 1, 5);
        }
        if (!sent && tcli_ready(&k)) {
            tcli_write(&k, "GET /who HTTP/1.1\r\nHost: a\r\n\r\n", 30);
            sent = 1;
        }
        if (tcli_state(&k) == BR_SSL_CLOSED) break;
    }
    if (has(&k, "resumed=1")) rc = 1;
    else if (has(&k, "resumed=0")) rc = 0;
    if (!resume) br_ssl_engine_get_session_parameters(&k.cc.eng, sp);
    close(fd);
    tcli_free(&k);
    return rc;
}
static int th_resumed, th_fail;
static void *client_thread(void *arg) {
    br_ssl_session_parameters sp;
    (void)arg;
    if (one_request(&sp, 0) != 0) __atomic_add_fetch(&th_fail, 1, __ATOMIC_RELAXED);
    for (int i = 0; i < 10; i++) {
        int r = one_request(&sp, 1);
        if (r == 1) __atomic_add_fetch(&th_resumed, 1, __ATOMIC_RELAXED);
        else __atomic_add_fetch(&th_fail, 1, __ATOMIC_RELAXED);
    }
    return NULL;
}
static void test_server_threads(void) {
    httpd_desc d;
    httpd_tls_cert cert;
    httpd_tls_desc tls;
    httpd_server *s;
    memset(&d, 0, sizeof d);
    memset(&cert, 0, sizeof cert);
    memset(&tls, 0, sizeof tls);
    cert.cert_file = path("ec.pem"); cert.key_file = path("ec.key");
    tls.certs = &cert; tls.ncerts = 1; tls.only = 1;
    d.tls = &tls;
    d.routes = routes;
    d.workers = 4;
    CHECK_EQ(httpd_start(&d, &s), 0);
    srv_port = httpd_tls_port(s);
    CHECK(srv_port > 0);
    CHECK_EQ(httpd_port(s), 0);                         /* no plaintext listener */
    CHECK(httpd_query_desc(s).tls->handshake_timeout_ms == 10000);
    pthread_t th[4];
    for (int i = 0; i < 4; i++) pthread_create(&th[i], NULL, client_thread, NULL);
    for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
    CHECK_EQ(th_fail, 0);
    CHECK_EQ(th_resumed, 40);
    httpd_stop(s, 1);
    CHECK_EQ(httpd_wait(s), 0);
    httpd_destroy(s);
    /* TLS configuration errors stop the start, with nothing left running */
    cert.key_file = path("other.key");
    CHECK_EQ(httpd_start(&d, &s), HTTPD_ERR_INVAL);
}

int main(void) {
    signal(SIGPIPE, SIG_IGN);
    snprintf(dir, sizeof dir, "/tmp/httpd-tls-XXXXXX");
    if (!mkdtemp(dir)) return 1;
    char cmd[512];
    snprintf(cmd, sizeof cmd, "tests/tls_certs.sh %s && openssl pkcs8 -topk8 -v2 aes-128-cbc "
             "-passout pass:x -in %s/ec.key -out %s/enc.key 2>/dev/null", dir, dir, dir);
    if (system(cmd) != 0) { fprintf(stderr, "cannot make test certificates\n"); return 1; }
    char *ec = readf("ec.pem"), *rsa = readf("rsa.pem");
    if (tcli_pkey_of(ec, &ec_pk, ec_kb, sizeof ec_kb)
        || tcli_pkey_of(rsa, &rsa_pk, rsa_kb, sizeof rsa_kb))
        return 1;
    free(ec); free(rsa);
    char fname[96];
    snprintf(fname, sizeof fname, "%s/file.txt", dir);
    file_fd = open(fname, O_RDWR | O_CREAT | O_TRUNC, 0600);
    static char blk[100000];
    memset(blk, 'f', sizeof blk);
    if (write(file_fd, blk, sizeof blk) != (ssize_t)sizeof blk) return 1;
    for (size_t i = 0; i < sizeof big_asset; i++) big_asset[i] = asset[i % 16];
    RUN(test_pem);
    RUN(test_names);
    RUN(test_cache);
    RUN(test_cache_threads);
    RUN(test_conn_basics);
    RUN(test_conn_timeouts);
    RUN(test_conn_cert_pair);
    RUN(test_conn_bad_input);
    RUN(test_conn_resume);
    RUN(test_conn_small);
    RUN(test_memory);
    RUN(test_server_threads);
    close(file_fd);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) { /* a temp dir left behind */ }
    return REPORT();
}
