/* tests/harness.h - tiny test harness: counts whole tests, prints "N passed, N failed". */
#ifndef HARNESS_H
#define HARNESS_H
#include <stdio.h>
static int th_passed, th_failed, th_bad;
#define CHECK(c) do { if (!(c)) { th_bad++; \
    fprintf(stderr, "  %s:%d: CHECK(%s)\n", __FILE__, __LINE__, #c); } } while (0)
#define CHECK_EQ(a, b) do { long long a_ = (long long)(a), b_ = (long long)(b); if (a_ != b_) { \
    th_bad++; fprintf(stderr, "  %s:%d: %s == %s (%lld vs %lld)\n", \
    __FILE__, __LINE__, #a, #b, a_, b_); } } while (0)
/* each test says its name before it runs: a suite killed by its timeout shows where */
#define RUN(fn) do { th_bad = 0; printf("run  %s\n", #fn); fflush(stdout); fn(); \
    if (th_bad) { th_failed++; fprintf(stderr, "FAIL %s\n", #fn); } else th_passed++; } while (0)
#define REPORT() (printf("%d passed, %d failed\n", th_passed, th_failed), th_failed != 0)
#endif
