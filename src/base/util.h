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

/* strdup is POSIX, not C11. NULL when out of memory. */
char *attend_strdup(const char *s);

/* Seconds on a monotonic clock (for durations only). */
double attend_now_s(void);

#endif
