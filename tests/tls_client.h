/* tests/tls_client.h - a BearSSL TLS client over a non-blocking socket, for tests/test_tls.c
   and the TLS mode of fuzz/fuzz_worker.c. It trusts exactly one public key (the server's
   leaf, BearSSL's "known key" engine), resumes a session when given one, and can ask for a
   maximum fragment length (its buffer size). Decrypted bytes collect in k->in. */
#include <bearssl.h>
#include <sys/socket.h>
#if defined(__GNUC__) || defined(__clang__)
#  define TCLI_FN static __attribute__((unused))
#else
#  define TCLI_FN static
#endif

typedef struct tcli {
    br_ssl_client_context cc;
    br_x509_minimal_context xm;
    br_x509_knownkey_context xk;
    unsigned char key[600];            /* the trusted key's bytes                      */
    unsigned char *iobuf;
    size_t iolen;
    int fd, eof;                       /* eof: the socket said end of stream           */
    char *in;                          /* plaintext received                           */
    size_t inlen, incap;
} tcli;

/* The public key of a PEM certificate (its first one). 0 or -1. */
TCLI_FN int tcli_pkey_of(const char *pem, br_x509_pkey *pk, unsigned char *buf, size_t cap) {
    httpd__tls_cert c;
    httpd__tls_load ld;
    memset(&c, 0, sizeof c);
    memset(&ld, 0, sizeof ld);
    ld.c = &c;
    if (httpd__tls_pem(pem, strlen(pem), NULL, httpd__tls_on_cert, &ld) < 0 || !c.chain_len)
        return -1;
    br_x509_decoder_context dc;
    br_x509_decoder_init(&dc, NULL, NULL);
    br_x509_decoder_push(&dc, c.chain[0].data, c.chain[0].data_len);
    const br_x509_pkey *k = br_x509_decoder_get_pkey(&dc);
    int rc = -1;
    if (k && !br_x509_decoder_last_error(&dc)) {
        *pk = *k;
        if (k->key_type == BR_KEYTYPE_EC && k->key.ec.qlen <= cap) {
            memcpy(buf, k->key.ec.q, k->key.ec.qlen);
            pk->key.ec.q = buf;
            rc = 0;
        } else if (k->key_type == BR_KEYTYPE_RSA && k->key.rsa.nlen + k->key.rsa.elen <= cap) {
            memcpy(buf, k->key.rsa.n, k->key.rsa.nlen);
            memcpy(buf + k->key.rsa.nlen, k->key.rsa.e, k->key.rsa.elen);
            pk->key.rsa.n = buf;
            pk->key.rsa.e = buf + k->key.rsa.nlen;
            rc = 0;
        }
    }
    httpd__tls_cert_free(&c, NULL);
    return rc;
}
/* iolen: BR_SSL_BUFSIZE_BIDI normally; smaller asks the server for that maximum
   fragment length (RFC 6066). resume: session parameters from a previous connection. */
TCLI_FN void tcli_init(tcli *k, int fd, const br_x509_pkey *pk, const char *sni,
                      const br_ssl_session_parameters *resume, size_t iolen) {
    memset(k, 0, sizeof *k);
    k->fd = fd;
    k->iolen = iolen ? iolen : BR_SSL_BUFSIZE_BIDI;
    k->iobuf = (unsigned char *)malloc(k->iolen);
    br_ssl_client_init_full(&k->cc, &k->xm, NULL, 0);
    if (pk->key_type == BR_KEYTYPE_EC) {
        memcpy(k->key, pk->key.ec.q, pk->key.ec.qlen);
        br_ec_public_key ek = pk->key.ec;
        ek.q = k->key;
        br_x509_knownkey_init_ec(&k->xk, &ek, BR_KEYTYPE_KEYX | BR_KEYTYPE_SIGN);
    } else {
        br_rsa_public_key rk = pk->key.rsa;
        memcpy(k->key, rk.n, rk.nlen);
        memcpy(k->key + rk.nlen, rk.e, rk.elen);
        rk.n = k->key;
        rk.e = k->key + pk->key.rsa.nlen;
        br_x509_knownkey_init_rsa(&k->xk, &rk, BR_KEYTYPE_KEYX | BR_KEYTYPE_SIGN);
    }
    br_ssl_engine_set_x509(&k->cc.eng, &k->xk.vtable);
    br_ssl_engine_set_buffer(&k->cc.eng, k->iobuf, k->iolen, 1);
    if (resume) br_ssl_engine_set_session_parameters(&k->cc.eng, resume);
    br_ssl_client_reset(&k->cc, sni, resume != NULL);
}
TCLI_FN void tcli_free(tcli *k) {
    free(k->iobuf);
    free(k->in);
    k->iobuf = NULL;
    k->in = NULL;
}
TCLI_FN unsigned tcli_state(const tcli *k) { return br_ssl_engine_current_state(&k->cc.eng); }
TCLI_FN int tcli_ready(const tcli *k) {
    return (tcli_state(k) & (BR_SSL_SENDAPP | BR_SSL_RECVAPP)) != 0;
}
/* The peer's close_notify arrived: the engine closed cleanly, or it is trying to answer
   with its own close_notify (no more application data either way) to a peer gone. */
TCLI_FN int tcli_closed_clean(const tcli *k) {
    unsigned st = br_ssl_engine_current_state(&k->cc.eng);
    if (br_ssl_engine_last_error(&k->cc.eng) != BR_ERR_OK) return 0;
    return st == BR_SSL_CLOSED || ((st & BR_SSL_SENDREC) && !(st & BR_SSL_SENDAPP));
}
/* Moves what can move between the engine and the socket. 1: something moved. */
TCLI_FN int tcli_pump(tcli *k) {
    br_ssl_engine_context *e = &k->cc.eng;
    int moved = 0;
    for (int round = 0; round < 64; round++) {
        unsigned st = br_ssl_engine_current_state(e);
        size_t n;
        unsigned char *p;
        int m = 0;
        if (st & BR_SSL_CLOSED) break;
        if ((p = br_ssl_engine_recvapp_buf(e, &n)) != NULL) {
            if (k->inlen + n > k->incap) {
                k->incap = (k->inlen + n) * 2 + 4096;
                k->in = (char *)realloc(k->in, k->incap + 1);
            }
            memcpy(k->in + k->inlen, p, n);
            k->inlen += n;
            k->in[k->inlen] = 0;
            br_ssl_engine_recvapp_ack(e, n);
            m = 1;
        }
        if ((p = br_ssl_engine_sendrec_buf(e, &n)) != NULL) {
            ssize_t r = send(k->fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL);
            if (r > 0) { br_ssl_engine_sendrec_ack(e, (size_t)r); m = 1; }
        }
        if (!k->eof && (p = br_ssl_engine_recvrec_buf(e, &n)) != NULL) {
            ssize_t r = recv(k->fd, p, n, MSG_DONTWAIT);
            if (r > 0) { br_ssl_engine_recvrec_ack(e, (size_t)r); m = 1; }
            else if (r == 0) { k->eof = 1; m = 1; }
        }
        if (!m) break;
        moved = 1;
    }
    return moved;
}
/* Queues plaintext (as much as the engine takes now) and flushes it into a record. */
TCLI_FN size_t tcli_write(tcli *k, const void *data, size_t len) {
    size_t done = 0, n;
    unsigned char *p;
    while (done < len && (p = br_ssl_engine_sendapp_buf(&k->cc.eng, &n)) != NULL) {
        n = n < len - done ? n : len - done;
        memcpy(p, (const char *)data + done, n);
        br_ssl_engine_sendapp_ack(&k->cc.eng, n);
        done += n;
        tcli_pump(k);
    }
    br_ssl_engine_flush(&k->cc.eng, 0);
    tcli_pump(k);
    return done;
}
