/* Small helpers shared by the whole library (see util.h). */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include "base/util.h"

#include <errno.h>
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

/* Reads path whole (NUL-terminated) into *buf; *absent = 1 (and ATTEND_OK)
 * when the file does not exist. */
attend_status attend_read_file(const char *path, size_t max, char **buf, size_t *len,
                               int *absent, attend_error *err) {
    *buf = NULL;
    *len = 0;
    if (absent) *absent = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (absent && errno == ENOENT) {
            *absent = 1;
            return ATTEND_OK;
        }
        return attend_errorf(err, ATTEND_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    }
    size_t cap = 1 << 16, n = 0;
    char *b = malloc(cap + 1);
    attend_status st = ATTEND_OK;
    while (b) {
        size_t got = fread(b + n, 1, cap - n, f);
        n += got;
        if (n < cap) break;
        if (cap >= max) {
            st = attend_errorf(err, ATTEND_ERR_FORMAT, "%s: larger than %zu bytes", path, max);
            break;
        }
        size_t ncap = cap * 2 > max ? max : cap * 2;
        char *nb = realloc(b, ncap + 1);
        if (!nb) {
            free(b);
            b = NULL;
            break;
        }
        b = nb;
        cap = ncap;
    }
    if (!b) st = attend_errorf(err, ATTEND_ERR_NOMEM, "%s: out of memory reading it", path);
    else if (st == ATTEND_OK && ferror(f)) st = attend_errorf(err, ATTEND_ERR_IO, "%s: read error", path);
    fclose(f);
    if (st) {
        free(b);
        return st;
    }
    b[n] = 0;
    *buf = b;
    *len = n;
    return ATTEND_OK;
}
