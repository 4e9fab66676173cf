/* Small helpers shared by the whole library (see util.h). */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include "base/util.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

char *attend_strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

double attend_now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
