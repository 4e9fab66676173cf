/* Small helpers every part of the library uses: overflow-safe sizes,
 * strings, the clock. Each exists once, here. */
#ifndef ATTEND_BASE_UTIL_H
#define ATTEND_BASE_UTIL_H

#include "attend.h"

#include <stddef.h>
#include <stdint.h>

/* ---- overflow-safe size arithmetic ---- */
static inline int attend_mul_overflow(size_t a, size_t b, size_t *out) {
    return __builtin_mul_overflow(a, b, out);
}
static inline int attend_add_overflow(size_t a, size_t b, size_t *out) {
    return __builtin_add_overflow(a, b, out);
}

#define ATTEND_FNV64_OFFSET 0xcbf29ce484222325ull
#define ATTEND_FNV64_PRIME 0x100000001b3ull

/* FNV-1a 64 of n bytes, continuing from h (start with ATTEND_FNV64_OFFSET). */
static inline uint64_t attend_fnv1a64(const void *p, size_t n, uint64_t h) {
    const unsigned char *b = (const unsigned char *)p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * ATTEND_FNV64_PRIME;
    return h;
}

/* Grows the array *p (elements of elem bytes, capacity *cap) to hold at
 * least n elements, doubling; 1 on success, 0 when out of memory or the
 * size overflows (*p and *cap are then unchanged). */
int attend_grow(void **p, size_t *cap, size_t n, size_t elem);

/* strdup is POSIX, not C11. NULL when out of memory. */
char *attend_strdup(const char *s);

/* Formats a message and hands it to fn(ctx, msg) (a progress or warning
 * callback); nothing when fn is NULL. */
void attend_emitf(void (*fn)(void *ctx, const char *msg), void *ctx, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Reads path whole into *buf (malloc'ed, NUL-terminated after its *len
 * bytes); a file over max bytes is ATTEND_ERR_FORMAT. absent NULL: a
 * missing file is ATTEND_ERR_IO; else a missing file sets *absent = 1 and
 * is ATTEND_OK (*buf NULL). */
attend_status attend_read_file(const char *path, size_t max, char **buf, size_t *len,
                               int *absent, attend_error *err);

/* Seconds on a monotonic clock (for durations only). */
double attend_now_s(void);

#endif
