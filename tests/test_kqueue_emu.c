/* tests/kqueue_emu.h against the kqueue semantics the >>poll_kqueue backend relies on:
   per-filter registrations with their own udata, EV_CLEAR versus level-triggered, EV_EOF
   with fflags for a FIN and for a reset, EV_DISABLE/EV_ENABLE, EV_ONESHOT, EV_DELETE,
   close() dropping registrations, EVFILT_USER, timeouts. Real sockets over loopback. */
#define _GNU_SOURCE 1
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include "kqueue_emu.h"
#include "harness.h"

static int wait_events(int kq, struct kevent *ev, int cap, int ms) {
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    return kevent(kq, NULL, 0, ev, cap, &ts);
}
static const struct kevent *find(const struct kevent *ev, int n, int fd, short filter) {
    for (int i = 0; i < n; i++)
        if ((int)ev[i].ident == fd && ev[i].filter == filter) return &ev[i];
    return NULL;
}
static int change(int kq, int fd, short filter, unsigned short flags, void *ud) {
    struct kevent c;
    EV_SET(&c, fd, filter, flags, 0, 0, ud);
    return kevent(kq, &c, 1, NULL, 0, NULL);
}
/* A connected TCP pair over loopback (a reset needs TCP), both non-blocking. */
static int tcp_pair(int *a, int *b) {
    struct sockaddr_in sa;
    socklen_t sl = sizeof sa;
    int l = socket(AF_INET, SOCK_STREAM, 0);
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (l < 0 || bind(l, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(l, 4) < 0
        || getsockname(l, (struct sockaddr *)&sa, &sl) < 0) return -1;
    *a = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(*a, (struct sockaddr *)&sa, sizeof sa) < 0) return -1;
    *b = accept(l, NULL, NULL);
    close(l);
    fcntl(*a, F_SETFL, O_NONBLOCK);
    fcntl(*b, F_SETFL, O_NONBLOCK);
    return *b < 0 ? -1 : 0;
}

static void test_per_filter_clear(void) {
    int kq = kqueue(), a, b;
    char rd = 'r', wr = 'w', buf[64];
    struct kevent ev[8];
    CHECK(kq >= 0);
    CHECK(tcp_pair(&a, &b) == 0);
    CHECK(change(kq, a, EVFILT_READ, EV_ADD | EV_CLEAR, &rd) == 0);
    CHECK(change(kq, a, EVFILT_WRITE, EV_ADD | EV_CLEAR, &wr) == 0);
    int n = wait_events(kq, ev, 8, 200);
    const struct kevent *w = find(ev, n, a, EVFILT_WRITE);
    CHECK(w && w->udata == &wr && !(w->flags & EV_EOF));           /* room: reported once */
    CHECK(find(ev, n, a, EVFILT_READ) == NULL);                     /* nothing to read    */
    CHECK_EQ(wait_events(kq, ev, 8, 50), 0);                        /* EV_CLEAR: not again */
    CHECK(write(b, "hello", 5) == 5);
    n = wait_events(kq, ev, 8, 1000);
    const struct kevent *r = find(ev, n, a, EVFILT_READ);
    CHECK(r && r->udata == &rd && r->data == 5 && !(r->flags & EV_EOF));
    CHECK_EQ(wait_events(kq, ev, 8, 50), 0);            /* unread, but no new change */
    CHECK(write(b, "!", 1) == 1);
    n = wait_events(kq, ev, 8, 1000);
    r = find(ev, n, a, EVFILT_READ);
    CHECK(r && r->data == 6);                           /* new bytes: reported again */
    CHECK(read(a, buf, sizeof buf) == 6);
    close(a); close(b); close(kq);
}
static void test_level(void) {
    int kq = kqueue(), a, b;
    char buf[16];
    struct kevent ev[4];
    CHECK(tcp_pair(&a, &b) == 0);
    CHECK(change(kq, a, EVFILT_READ, EV_ADD, NULL) == 0);
    CHECK_EQ(wait_events(kq, ev, 4, 50), 0);
    CHECK(write(b, "xy", 2) == 2);
    CHECK_EQ(wait_events(kq, ev, 4, 1000), 1);
    CHECK_EQ(wait_events(kq, ev, 4, 0), 1);             /* still holds: reported again */
    CHECK_EQ(wait_events(kq, ev, 4, 0), 1);
    CHECK(read(a, buf, sizeof buf) == 2);
    CHECK_EQ(wait_events(kq, ev, 4, 50), 0);            /* drained: quiet */
    close(a); close(b); close(kq);
}
static void test_eof_fin_and_reset(void) {
    int kq = kqueue(), a, b;
    struct kevent ev[4];
    CHECK(tcp_pair(&a, &b) == 0);
    CHECK(change(kq, a, EVFILT_READ, EV_ADD | EV_CLEAR, NULL) == 0);
    CHECK(write(b, "z", 1) == 1);
    shutdown(b, SHUT_WR);                                /* data, then a FIN */
    int n = wait_events(kq, ev, 4, 1000);
    const struct kevent *r = find(ev, n, a, EVFILT_READ);
    CHECK(r && (r->flags & EV_EOF) && r->fflags == 0);   /* clean FIN: no error */
    close(a); close(b);
    CHECK(tcp_pair(&a, &b) == 0);
    CHECK(change(kq, a, EVFILT_READ, EV_ADD | EV_CLEAR, NULL) == 0);
    CHECK(change(kq, a, EVFILT_WRITE, EV_ADD | EV_CLEAR, NULL) == 0);
    wait_events(kq, ev, 4, 100);                         /* the initial write room */
    CHECK(write(a, "unread", 6) == 6);
    usleep(20000);
    close(b);                                            /* unread data: the peer resets */
    n = wait_events(kq, ev, 4, 1000);
    r = find(ev, n, a, EVFILT_READ);
    CHECK(r && (r->flags & EV_EOF) && r->fflags == ECONNRESET);
    const struct kevent *w = find(ev, n, a, EVFILT_WRITE);
    CHECK(w && (w->flags & EV_EOF));
    char c;
    CHECK(read(a, &c, 1) == -1 && errno == ECONNRESET);  /* the error stays for the read */
    close(a); close(kq);
}
static void test_disable_enable_oneshot_delete(void) {
    int kq = kqueue(), a, b;
    char buf[16];
    struct kevent ev[4];
    CHECK(tcp_pair(&a, &b) == 0);
    CHECK(change(kq, a, EVFILT_READ, EV_ADD | EV_CLEAR, NULL) == 0);
    CHECK(change(kq, a, EVFILT_READ, EV_DISABLE, NULL) == 0);
    CHECK(write(b, "q", 1) == 1);
    CHECK_EQ(wait_events(kq, ev, 4, 100), 0);            /* disabled: kept, not reported */
    CHECK(change(kq, a, EVFILT_READ, EV_ENABLE, NULL) == 0);
    CHECK_EQ(wait_events(kq, ev, 4, 100), 1);            /* what holds now is reported */
    CHECK(read(a, buf, sizeof buf) == 1);
    CHECK(change(kq, a, EVFILT_READ, EV_DELETE, NULL) == 0);
    CHECK(change(kq, a, EVFILT_READ, EV_DELETE, NULL) == -1 && errno == ENOENT);
    CHECK(change(kq, a, EVFILT_WRITE, EV_DELETE, NULL) == -1 && errno == ENOENT);
    CHECK(change(kq, a, EVFILT_READ, EV_ADD | EV_ONESHOT, NULL) == 0);
    CHECK(write(b, "1", 1) == 1);
    CHECK_EQ(wait_events(kq, ev, 4, 1000), 1);
    CHECK(write(b, "2", 1) == 1);
    CHECK_EQ(wait_events(kq, ev, 4, 100), 0);            /* one shot, then gone */
    CHECK(change(kq, a, EVFILT_READ, EV_DELETE, NULL) == -1 && errno == ENOENT);
    close(a); close(b); close(kq);
}
static void test_close_drops(void) {
    int kq = kqueue(), a, b, c, d;
    char old = 'o';
    struct kevent ev[4];
    CHECK(tcp_pair(&a, &b) == 0);
    CHECK(change(kq, a, EVFILT_READ, EV_ADD, &old) == 0);
    CHECK(write(b, "x", 1) == 1);
    usleep(20000);
    int num = a;
    close(a);                                            /* pending, then closed */
    CHECK(tcp_pair(&c, &d) == 0);
    if (c != num) { int t = dup2(c, num); close(c); c = t; }   /* the same number again */
    CHECK(write(d, "y", 1) == 1);
    usleep(20000);
    int n = wait_events(kq, ev, 4, 100);
    for (int i = 0; i < n; i++) CHECK(ev[i].udata != &old);   /* nothing of the old one */
    CHECK(change(kq, c, EVFILT_READ, EV_DELETE, NULL) == -1 && errno == ENOENT);
    close(b); close(c); close(d); close(kq);
}
static void test_user_and_timeout(void) {
    int kq = kqueue();
    char u = 'u';
    struct kevent ev[4], c;
    EV_SET(&c, 7, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0, &u);
    CHECK(kevent(kq, &c, 1, NULL, 0, NULL) == 0);
    uint64_t t0 = kqemu_ms();
    CHECK_EQ(wait_events(kq, ev, 4, 60), 0);
    CHECK(kqemu_ms() - t0 >= 55);
    EV_SET(&c, 7, EVFILT_USER, 0, NOTE_TRIGGER, 0, NULL);
    CHECK(kevent(kq, &c, 1, NULL, 0, NULL) == 0);
    CHECK_EQ(wait_events(kq, ev, 4, 0), 1);
    CHECK(ev[0].filter == EVFILT_USER && ev[0].udata == &u);
    CHECK_EQ(wait_events(kq, ev, 4, 0), 0);              /* EV_CLEAR: reset */
    close(kq);
}
static void test_listener(void) {
    int kq = kqueue(), l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa;
    socklen_t sl = sizeof sa;
    struct kevent ev[4];
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(bind(l, (struct sockaddr *)&sa, sizeof sa) == 0 && listen(l, 4) == 0);
    CHECK(getsockname(l, (struct sockaddr *)&sa, &sl) == 0);
    CHECK(change(kq, l, EVFILT_READ, EV_ADD, NULL) == 0);
    CHECK_EQ(wait_events(kq, ev, 4, 50), 0);
    int c = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(connect(c, (struct sockaddr *)&sa, sizeof sa) == 0);
    CHECK_EQ(wait_events(kq, ev, 4, 1000), 1);            /* a connection waits */
    CHECK_EQ(wait_events(kq, ev, 4, 0), 1);               /* level: until accepted */
    int s = accept(l, NULL, NULL);
    CHECK(s >= 0);
    CHECK_EQ(wait_events(kq, ev, 4, 50), 0);
    close(s); close(c); close(l); close(kq);
}
int main(void) {
    RUN(test_per_filter_clear);
    RUN(test_level);
    RUN(test_eof_fin_and_reset);
    RUN(test_disable_enable_oneshot_delete);
    RUN(test_close_drops);
    RUN(test_user_and_timeout);
    RUN(test_listener);
    return REPORT();
}
