/* Minimal assertion helpers for attend's test executables. Each test file is a
 * plain executable registered with ctest; it prints one line per failed check
 * and a closing "N passed, N failed" line, and exits non-zero on any failure. */
#ifndef ATTEND_TEST_H
#define ATTEND_TEST_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* TEST_ASAN: defined when built with AddressSanitizer (gcc or clang), for
 * tests that set __asan_default_options. */
#if defined(__SANITIZE_ADDRESS__)
#define TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TEST_ASAN 1
#endif
#endif

static int test_passed_ = 0, test_failed_ = 0;

#define CHECK(cond, ...)                                                        \
    do {                                                                        \
        if (cond) {                                                             \
            test_passed_++;                                                     \
        } else {                                                                \
            test_failed_++;                                                     \
            fprintf(stderr, "%s:%d: CHECK(%s) failed: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                       \
            fputc('\n', stderr);                                                \
        }                                                                       \
    } while (0)

/* |a - b| <= tol * max(1, |b|) */
#define CHECK_NEAR(a, b, tol, what)                                             \
    do {                                                                        \
        double a_ = (double)(a), b_ = (double)(b);                              \
        double s_ = fabs(b_) > 1.0 ? fabs(b_) : 1.0;                            \
        CHECK(fabs(a_ - b_) <= (tol) * s_, "%s: got %.9g, expected %.9g", what, a_, b_); \
    } while (0)

/* Call at the end of main: prints the summary and gives the exit code. */
static inline int test_summary(const char *name) {
    printf("%s: %d passed, %d failed\n", name, test_passed_, test_failed_);
    return test_failed_ ? 1 : 0;
}

/* Deterministic pseudo-random numbers for test inputs. */
static unsigned long long test_rng_ = 0x1234567ull;
static inline float test_randn(void) {
    /* Box-Muller on a 64-bit LCG; good enough for test data. */
    test_rng_ = test_rng_ * 6364136223846793005ull + 1442695040888963407ull;
    double u1 = ((test_rng_ >> 11) + 1.0) / 9007199254740993.0;
    test_rng_ = test_rng_ * 6364136223846793005ull + 1442695040888963407ull;
    double u2 = (test_rng_ >> 11) / 9007199254740992.0;
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}
static inline void test_fill_randn(float *x, size_t n, float scale) {
    for (size_t i = 0; i < n; i++) x[i] = scale * test_randn();
}

#endif
