/* tests/test_wheel.c - the timer wheel against a sorted-array model, virtual clock. */
#define HTTPD_IMPLEMENTATION
#include "../httpd.h"
#include "harness.h"

static uint64_t rng = 88172645463325252ull;
static uint64_t next_rand(void) { rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17; return rng; }

static void test_fires_at_deadline(void) {
    httpd__wheel w;
    httpd__timer t;
    memset(&t, 0, sizeof t);
    httpd__wheel_init(&w, 0);
    httpd__wheel_add(&w, &t, 250);
    /* the level-1 slot boundary, a lower bound: 192 with 64 slots a level, 240 with 16 */
    CHECK_EQ(httpd__wheel_sleep_ms(&w), (250 >> HTTPD__WHEEL_BITS) << HTTPD__WHEEL_BITS);
    CHECK(httpd__wheel_pop(&w, 249) == NULL);
    CHECK(httpd__wheel_check(&w));
    CHECK_EQ(httpd__wheel_sleep_ms(&w), 1);
    CHECK(httpd__wheel_pop(&w, 250) == &t);
    CHECK(httpd__wheel_pop(&w, 250) == NULL);
    CHECK_EQ(httpd__wheel_sleep_ms(&w), -1);
}
static void test_del_and_rearm(void) {
    httpd__wheel w;
    httpd__timer a, b;
    memset(&a, 0, sizeof a); memset(&b, 0, sizeof b);
    httpd__wheel_init(&w, 1000);
    httpd__wheel_add(&w, &a, 1100);
    httpd__wheel_add(&w, &b, 1050);
    httpd__wheel_del(&w, &b);
    httpd__wheel_del(&w, &b);                      /* idempotent */
    httpd__wheel_add(&w, &a, 1010);                /* re-arm earlier */
    CHECK(httpd__wheel_pop(&w, 1009) == NULL);
    CHECK(httpd__wheel_pop(&w, 1200) == &a);
    CHECK(httpd__wheel_pop(&w, 1200) == NULL);
    httpd__wheel_add(&w, &a, 5);                   /* already due */
    CHECK_EQ(httpd__wheel_sleep_ms(&w), 0);
    CHECK(httpd__wheel_pop(&w, 1200) == &a);
}
static void test_far_future(void) {
    httpd__wheel w;
    httpd__timer t;
    memset(&t, 0, sizeof t);
    httpd__wheel_init(&w, 7);
    uint64_t due = 7 + 30ull * 3600 * 1000;        /* 30 h: beyond the top level */
    httpd__wheel_add(&w, &t, due);
    uint64_t now = 7;
    int wakes = 0;
    while (now < due && wakes < 10000) {
        int ms = httpd__wheel_sleep_ms(&w);
        CHECK(ms > 0);
        now += (uint64_t)ms;
        CHECK(now <= due);
        httpd__timer *p = httpd__wheel_pop(&w, now);
        if (p) { CHECK(p == &t); CHECK(now >= due); break; }
        wakes++;
    }
    CHECK_EQ(now, due);
    /* a wake each time the top level turns (64^4 ms = 4.7 h; 16^4 ms = 65 s), and a few */
    CHECK(wakes < 200 + (int)(30ull * 3600 * 1000 >> (4 * HTTPD__WHEEL_BITS)));
}
#define N 2000
static void test_random_vs_sorted(void) {
    static httpd__timer t[N];
    static uint64_t model[N];                      /* 0: not armed, else due */
    httpd__wheel w;
    memset(t, 0, sizeof t);
    memset(model, 0, sizeof model);
    uint64_t now = 123456;
    httpd__wheel_init(&w, now);
    for (int step = 0; step < 200000; step++) {
        unsigned op = (unsigned)(next_rand() % 10);
        size_t i = (size_t)(next_rand() % N);
        if (op < 5) {
            uint64_t r = next_rand();
            uint64_t d = (r & 3) == 0 ? r % 70000000 : (r & 3) == 1 ? r % 5000 : r % 300;
            httpd__wheel_add(&w, &t[i], now + d);
            model[i] = now + d;
            if (model[i] == 0) model[i] = 1;
            if (now + d == 0) t[i].due = 1;
        } else if (op < 7) {
            httpd__wheel_del(&w, &t[i]);
            model[i] = 0;
        } else {
            int ms = httpd__wheel_sleep_ms(&w);
            uint64_t earliest = UINT64_MAX;
            for (size_t k = 0; k < N; k++) if (model[k] && model[k] < earliest) earliest = model[k];
            if (earliest == UINT64_MAX) CHECK_EQ(ms, -1);
            else CHECK(ms >= 0 && now + (uint64_t)ms <= HTTPD__MAX(earliest, now));
            uint64_t adv = (next_rand() & 1) ? (uint64_t)(ms < 0 ? 10 : ms) : next_rand() % 400;
            now += adv;
            httpd__timer *p;
            int popped = 0;
            while ((p = httpd__wheel_pop(&w, now)) != NULL) {
                size_t k = (size_t)(p - t);
                CHECK(k < N && model[k] && model[k] <= now);
                model[k] = 0;
                popped++;
            }
            for (size_t k = 0; k < N; k++) CHECK(!(model[k] && model[k] <= now));
        }
        if (step % 5000 == 0) CHECK(httpd__wheel_check(&w));
        if (th_bad) { fprintf(stderr, "  at step %d\n", step); return; }
    }
    CHECK(httpd__wheel_check(&w));
}
int main(void) {
    RUN(test_fires_at_deadline);
    RUN(test_del_and_rearm);
    RUN(test_far_future);
    RUN(test_random_vs_sorted);
    return REPORT();
}
