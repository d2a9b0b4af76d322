/* tests/kqueue_emu.h - kqueue()/kevent() emulated on Linux on top of epoll, for tests only.
   httpd.h includes it instead of <sys/event.h> under HTTPD_TEST_KQUEUE_EMU, so that the
   real >>poll_kqueue code is compiled and run here. It covers what that code uses, with
   kqueue's semantics (tests/test_kqueue_emu.c checks them against these rules):
   - registrations are per (ident, filter): EVFILT_READ and EVFILT_WRITE of one descriptor
     are independent, each with its own flags and udata; EV_ADD on an existing one
     updates it (and enables it); EV_DELETE of a missing one fails with ENOENT;
   - level-triggered by default: a registration is reported at every kevent call while its
     condition holds; EV_CLEAR: reported once, then again only after a new change (new
     bytes, new room to write, the FIN); EV_ONESHOT: reported once, then deleted;
     EV_DISABLE keeps it but reports nothing; EV_ENABLE reports again what holds now;
   - EVFILT_READ: data = bytes readable (FIONREAD); EV_EOF once the peer has shut down its
     side, with fflags = the pending socket error (0 for a clean FIN), which stays pending
     for the next read; on a listening socket, ready while a connection waits;
     EVFILT_WRITE: ready while there is room to write; EV_EOF once the peer can no longer
     receive (reset or shut down), fflags = the socket error;
   - EVFILT_USER: NOTE_TRIGGER reports it (EV_CLEAR resets it after the report);
   - close(fd) removes the descriptor's registrations (found when the number is reused:
     the registration remembers the file's inode and device);
   - changes are applied in order before waiting; a failing change returns -1 with errno
     (no EV_ERROR receipts: the server passes no event list with its changes).
   One epoll registration per descriptor, edge-triggered for every direction: each edge
   marks the descriptor's registrations "changed"; every kevent call rechecks the
   candidates with poll(0) so that level-triggered ones repeat and a condition that no
   longer holds is not reported. Single-threaded use per kqueue, as the workers do. */
#ifndef HTTPD_KQUEUE_EMU_H
#define HTTPD_KQUEUE_EMU_H
#include <errno.h>
#include <pthread.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>

#define EVFILT_READ   (-1)
#define EVFILT_WRITE  (-2)
#define EVFILT_USER   (-11)
#define EV_ADD        0x0001
#define EV_DELETE     0x0002
#define EV_ENABLE     0x0004
#define EV_DISABLE    0x0008
#define EV_ONESHOT    0x0010
#define EV_CLEAR      0x0020
#define EV_ERROR      0x4000
#define EV_EOF        0x8000
#define NOTE_TRIGGER  0x01000000u

struct kevent {
    uintptr_t ident;
    short     filter;
    unsigned short flags;
    unsigned  fflags;
    intptr_t  data;
    void     *udata;
};
#define EV_SET(kevp, a, b, c, d, e, f) do { struct kevent *kq_ev_ = (kevp); \
    kq_ev_->ident = (uintptr_t)(a); kq_ev_->filter = (short)(b); \
    kq_ev_->flags = (unsigned short)(c); kq_ev_->fflags = (unsigned)(d); \
    kq_ev_->data = (intptr_t)(e); kq_ev_->udata = (void *)(f); } while (0)

typedef struct kqemu_reg {
    int      on;              /* registered */
    int      enabled;
    unsigned short flags;     /* EV_CLEAR, EV_ONESHOT as added */
    void    *udata;
    int      fresh;           /* a change not yet reported (for EV_CLEAR)          */
    int      reported;        /* reported since the last change (for EV_CLEAR)     */
} kqemu_reg;
typedef struct kqemu_fd {
    kqemu_reg r, w;
    int       in_epoll;
    dev_t     dev;
    ino_t     ino;
} kqemu_fd;
typedef struct kqemu_user { uintptr_t ident; kqemu_reg reg; int triggered; } kqemu_user;
typedef struct kqemu {
    int        kq;            /* the descriptor handed out: the epoll instance     */
    kqemu_fd  *fds;
    int        nfds;
    kqemu_user users[8];
    struct kqemu *next;
} kqemu;
static kqemu *kqemu_list;     /* per process; the tests make one kqueue per worker */
static pthread_mutex_t kqemu_mu = PTHREAD_MUTEX_INITIALIZER;

static kqemu *kqemu_find(int kq) {
    pthread_mutex_lock(&kqemu_mu);
    kqemu *k = kqemu_list;
    while (k && k->kq != kq) k = k->next;
    pthread_mutex_unlock(&kqemu_mu);
    return k;
}
/* The emulation's state goes when the descriptor is closed: the tests call this from
   close-wrapping helpers; the server's kqueue lives until the process ends or is freed
   through kqemu_forget (httpd__poll_free closes it; the entry is reclaimed when the same
   descriptor number comes back from kqueue()). */
static int kqueue(void) {
    int fd = epoll_create1(0);
    if (fd < 0) return -1;
    pthread_mutex_lock(&kqemu_mu);
    for (kqemu **pp = &kqemu_list; *pp; pp = &(*pp)->next)
        if ((*pp)->kq == fd) {                  /* a closed kqueue's number, reused */
            kqemu *old = *pp;
            *pp = old->next;
            free(old->fds);
            free(old);
            break;
        }
    kqemu *k = (kqemu *)calloc(1, sizeof *k);
    if (!k) { pthread_mutex_unlock(&kqemu_mu); close(fd); errno = ENOMEM; return -1; }
    k->kq = fd;
    k->next = kqemu_list;
    kqemu_list = k;
    pthread_mutex_unlock(&kqemu_mu);
    return fd;
}
static kqemu_fd *kqemu_slot(kqemu *k, int fd) {
    if (fd >= k->nfds) {
        int n = k->nfds ? k->nfds : 64;
        while (n <= fd) n *= 2;
        kqemu_fd *p = (kqemu_fd *)realloc(k->fds, (size_t)n * sizeof *p);
        if (!p) return NULL;
        memset(p + k->nfds, 0, (size_t)(n - k->nfds) * sizeof *p);
        k->fds = p;
        k->nfds = n;
    }
    return &k->fds[fd];
}
/* A registration for a descriptor number whose file was closed since is dropped. */
static void kqemu_check_stale(kqemu *k, int fd, kqemu_fd *s) {
    struct stat st;
    if (!s->r.on && !s->w.on) return;
    if (fstat(fd, &st) == 0 && st.st_dev == s->dev && st.st_ino == s->ino) {
        struct epoll_event ev;
        memset(&ev, 0, sizeof ev);
        ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
        ev.data.fd = fd;
        if (epoll_ctl(k->kq, EPOLL_CTL_MOD, fd, &ev) == 0) return;   /* same file, still in */
    }
    memset(s, 0, sizeof *s);
}
static int kqemu_change(kqemu *k, const struct kevent *c) {
    if (c->filter == EVFILT_USER) {
        kqemu_user *u = NULL, *freeu = NULL;
        for (size_t i = 0; i < sizeof k->users / sizeof k->users[0]; i++) {
            if (k->users[i].reg.on && k->users[i].ident == c->ident) u = &k->users[i];
            else if (!k->users[i].reg.on && !freeu) freeu = &k->users[i];
        }
        if (c->flags & EV_ADD) {
            if (!u) {
                if (!freeu) { errno = ENOMEM; return -1; }
                u = freeu;
                memset(u, 0, sizeof *u);
                u->ident = c->ident;
                u->reg.on = 1;
            }
            u->reg.enabled = 1;
            u->reg.flags = c->flags & (EV_CLEAR | EV_ONESHOT);
            u->reg.udata = c->udata;
        }
        if (!u) { errno = ENOENT; return -1; }
        if (c->flags & EV_DELETE) { memset(u, 0, sizeof *u); return 0; }
        if (c->flags & EV_DISABLE) u->reg.enabled = 0;
        if (c->flags & EV_ENABLE) u->reg.enabled = 1;
        if (c->fflags & NOTE_TRIGGER) u->triggered = 1;
        return 0;
    }
    if (c->filter != EVFILT_READ && c->filter != EVFILT_WRITE) { errno = EINVAL; return -1; }
    int fd = (int)c->ident;
    struct stat st;
    if (fstat(fd, &st) < 0) { errno = EBADF; return -1; }
    kqemu_fd *s = kqemu_slot(k, fd);
    if (!s) { errno = ENOMEM; return -1; }
    kqemu_check_stale(k, fd, s);
    kqemu_reg *r = c->filter == EVFILT_READ ? &s->r : &s->w;
    if (c->flags & EV_ADD) {
        if (!s->in_epoll) {
            struct epoll_event ev;
            memset(&ev, 0, sizeof ev);
            ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
            ev.data.fd = fd;
            if (epoll_ctl(k->kq, EPOLL_CTL_ADD, fd, &ev) < 0) return -1;
            s->in_epoll = 1;
            s->dev = st.st_dev;
            s->ino = st.st_ino;
        }
        r->on = 1;
        r->enabled = 1;
        r->flags = c->flags & (EV_CLEAR | EV_ONESHOT);
        r->udata = c->udata;
        r->fresh = 1;                    /* what holds already is reported */
        r->reported = 0;
    }
    if (!r->on) { errno = ENOENT; return -1; }
    if (c->flags & EV_DELETE) {
        memset(r, 0, sizeof *r);
        if (!s->r.on && !s->w.on) {
            epoll_ctl(k->kq, EPOLL_CTL_DEL, fd, NULL);
            s->in_epoll = 0;
        }
        return 0;
    }
    if (c->flags & EV_DISABLE) r->enabled = 0;
    if ((c->flags & EV_ENABLE) && !(c->flags & EV_ADD)) {
        r->enabled = 1;
        r->fresh = 1;
        r->reported = 0;
    }
    return 0;
}
/* Whether the filter's condition holds now, with its data, EV_EOF and fflags. */
static int kqemu_test(int fd, int write, struct kevent *out) {
    struct pollfd p = { fd, (short)(write ? POLLOUT : (POLLIN | POLLRDHUP)), 0 };
    if (poll(&p, 1, 0) < 0) return 0;
    int err = 0;
    socklen_t el = sizeof err;
    int sock = getsockopt(fd, SOL_SOCKET, SO_TYPE, &err, &el) == 0;
    err = 0;
    out->flags = 0;
    out->fflags = 0;
    out->data = 0;
    if (!write) {
        int n = 0;
        if (!(p.revents & (POLLIN | POLLRDHUP | POLLHUP | POLLERR))) return 0;
        if (ioctl(fd, FIONREAD, &n) == 0) out->data = n;
        if (p.revents & (POLLRDHUP | POLLHUP)) out->flags |= EV_EOF;
        if (p.revents & POLLERR) out->flags |= EV_EOF;
    } else {
        if (!(p.revents & (POLLOUT | POLLHUP | POLLERR))) return 0;
        out->data = 65536;
        if (p.revents & (POLLHUP | POLLERR)) out->flags |= EV_EOF;
    }
    if ((out->flags & EV_EOF) && sock && (p.revents & POLLERR)) {
        /* kqueue shows the socket's error without taking it (the next read still fails
           with it); SO_ERROR would clear it, so it is inferred: a TCP socket that is
           closed with an error pending was reset */
        struct tcp_info ti;
        socklen_t tl = sizeof ti;
        memset(&ti, 0, sizeof ti);
        out->fflags = getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &tl) == 0
                      && ti.tcpi_state == 7 /* TCP_CLOSE */ ? ECONNRESET : EIO;
    }
    return 1;
}
/* Collects what is reportable now into ev (at most cap); returns the count. */
static int kqemu_collect(kqemu *k, struct kevent *ev, int cap) {
    int n = 0;
    for (size_t i = 0; i < sizeof k->users / sizeof k->users[0] && n < cap; i++) {
        kqemu_user *u = &k->users[i];
        if (!u->reg.on || !u->reg.enabled || !u->triggered) continue;
        EV_SET(&ev[n], u->ident, EVFILT_USER, 0, 0, 0, u->reg.udata);
        n++;
        if (u->reg.flags & EV_CLEAR) u->triggered = 0;
        if (u->reg.flags & EV_ONESHOT) memset(u, 0, sizeof *u);
    }
    for (int fd = 0; fd < k->nfds && n < cap; fd++) {
        kqemu_fd *s = &k->fds[fd];
        if (!s->r.on && !s->w.on) continue;
        struct stat st;                 /* closed since: close() removed its registrations */
        if (fstat(fd, &st) < 0 || st.st_dev != s->dev || st.st_ino != s->ino) {
            memset(s, 0, sizeof *s);
            continue;
        }
        for (int wr = 0; wr < 2 && n < cap; wr++) {
            kqemu_reg *r = wr ? &s->w : &s->r;
            if (!r->on || !r->enabled) continue;
            if ((r->flags & EV_CLEAR) && !r->fresh) continue;   /* no change since */
            struct kevent e;
            if (!kqemu_test(fd, wr, &e)) { r->fresh = 0; continue; }
            EV_SET(&ev[n], fd, wr ? EVFILT_WRITE : EVFILT_READ, e.flags, e.fflags, e.data,
                   r->udata);
            n++;
            r->fresh = 0;
            r->reported = 1;
            if (r->flags & EV_ONESHOT) {
                memset(r, 0, sizeof *r);
                if (!s->r.on && !s->w.on) {
                    epoll_ctl(k->kq, EPOLL_CTL_DEL, fd, NULL);
                    s->in_epoll = 0;
                }
            }
        }
    }
    return n;
}
/* Marks the registrations of descriptors epoll reports as changed. 0 on EINTR. */
static int kqemu_edges(kqemu *k, int ms) {
    struct epoll_event ev[64];
    int n = epoll_wait(k->kq, ev, 64, ms);
    if (n < 0) return errno == EINTR ? 0 : -1;
    for (int i = 0; i < n; i++) {
        int fd = ev[i].data.fd;
        if (fd < 0 || fd >= k->nfds) continue;
        kqemu_fd *s = &k->fds[fd];
        if (ev[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) s->r.fresh = 1;
        if (ev[i].events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) s->w.fresh = 1;
    }
    return n;
}
static uint64_t kqemu_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}
static int kevent(int kq, const struct kevent *changes, int nchanges, struct kevent *events,
                  int nevents, const struct timespec *timeout) {
    kqemu *k = kqemu_find(kq);
    if (!k) { errno = EBADF; return -1; }
    for (int i = 0; i < nchanges; i++)
        if (kqemu_change(k, &changes[i]) < 0) return -1;
    if (nevents <= 0) return 0;
    long ms = timeout ? (long)timeout->tv_sec * 1000 + timeout->tv_nsec / 1000000 : -1;
    uint64_t until = ms < 0 ? 0 : kqemu_ms() + (uint64_t)ms;
    for (;;) {
        if (kqemu_edges(k, 0) < 0) return -1;          /* take the edges that are in */
        int n = kqemu_collect(k, events, nevents);
        if (n) return n;
        long left = ms < 0 ? -1 : (long)(until > kqemu_ms() ? until - kqemu_ms() : 0);
        if (ms >= 0 && left == 0) return 0;
        /* nothing holds: sleep until an edge (or the time is up) */
        struct epoll_event one;
        int e = epoll_wait(k->kq, &one, 1, (int)(left < 0 || left > 1000 ? 1000 : left));
        if (e < 0) return -1;                          /* EINTR too, as kevent */
        if (e == 1) {                                   /* that edge: marked on the next turn */
            int fd = one.data.fd;
            if (fd >= 0 && fd < k->nfds) {
                kqemu_fd *s = &k->fds[fd];
                if (one.events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) s->r.fresh = 1;
                if (one.events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) s->w.fresh = 1;
            }
        }
    }
}
#endif
