/* Small helpers shared by the whole library (see util.h). */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include "base/util.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

char *attend_strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

int attend_grow(void **p, size_t *cap, size_t n, size_t elem) {
    if (n <= *cap) return 1;
    size_t want = *cap ? *cap : 16;
    while (want < n) {
        if (want > SIZE_MAX / 2) {
            want = n;
            break;
        }
        want *= 2;
    }
    size_t bytes;
    if (attend_mul_overflow(want, elem, &bytes)) return 0;
    void *q = realloc(*p, bytes);
    if (!q) return 0;
    *p = q;
    *cap = want;
    return 1;
}

void attend_emitf(void (*fn)(void *ctx, const char *msg), void *ctx, const char *fmt, ...) {
    if (!fn) return;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    fn(ctx, buf);
}

double attend_now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
