/* Small helpers shared by the whole library (see util.h). */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include "base/util.h"

#include <stdint.h>
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

double attend_now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
