/* Shared helpers of attend's libFuzzer targets (fuzz/fuzz_*.c).
 *
 * Every target defines LLVMFuzzerTestOneInput. Built with
 * -fsanitize=fuzzer,address,undefined by `make fuzz` / `make fuzz-smoke`; the
 * same files are also #included by tests/test_fuzz_regress.c (a plain C
 * driver, no libFuzzer) that replays fuzz/regress/ and fuzz/corpus/ through
 * the same entry points on every ctest run. So everything here must build
 * with gcc -std=c11 -Wall -Wextra -Wshadow as well as with clang.
 *
 * Besides "no crash, no sanitizer report, no leak", each target checks the
 * properties the API promises (an error has a message, an accepted file
 * round-trips, ...); a broken property is reported and aborts, which
 * libFuzzer records as a crash with the input that caused it. */
#ifndef ATTEND_FUZZ_COMMON_H
#define ATTEND_FUZZ_COMMON_H

#include "attend.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__GNUC__)
#define FUZZ_UNUSED __attribute__((unused))
#else
#define FUZZ_UNUSED
#endif

/* Name of the input being replayed, for messages (set by the regression
 * driver; libFuzzer prints the input itself). */
static const char *fuzz_input_name FUZZ_UNUSED = "<libFuzzer input>";

/* A broken property: say which and where, then abort so the fuzzer keeps
 * the input. */
#define FUZZ_CHECK(cond, ...)                                                        \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "%s:%d: fuzz property failed: %s (input %s): ", __FILE__, \
                    __LINE__, #cond, fuzz_input_name);                               \
            fprintf(stderr, __VA_ARGS__);                                            \
            fputc('\n', stderr);                                                     \
            abort();                                                                 \
        }                                                                            \
    } while (0)

/* One-time setup: one thread, so runs are deterministic and fast. */
static FUZZ_UNUSED void fuzz_setup(void) {
    static int done = 0;
    if (done) return;
    done = 1;
    attend_set_threads(1);
}

/* A failed call must say what failed: non-OK status recorded in err and a
 * non-empty, NUL-terminated message. */
static FUZZ_UNUSED void fuzz_check_error(attend_status st, const attend_error *err,
                                         const char *what) {
    FUZZ_CHECK(st != ATTEND_OK, "%s", what);
    FUZZ_CHECK(err->status == st, "%s: err.status %d, returned %d", what, (int)err->status,
               (int)st);
    FUZZ_CHECK(memchr(err->msg, '\0', sizeof err->msg) != NULL, "%s: message not terminated",
               what);
    FUZZ_CHECK(err->msg[0] != '\0', "%s: empty error message", what);
}

/* Reads every byte of p[0..n) so that ASan sees any out-of-bounds view. */
static FUZZ_UNUSED unsigned fuzz_touch(const void *p, size_t n) {
    const volatile unsigned char *b = (const volatile unsigned char *)p;
    unsigned s = 0;
    for (size_t i = 0; i < n; i++) s += b[i];
    return s;
}

/* 1 if s[0..n) is valid UTF-8 (strict: no overlongs, surrogates or code
 * points above U+10FFFF). Written here, independently of the library's own
 * check, so that the two can be compared. */
static FUZZ_UNUSED int fuzz_utf8_ok(const unsigned char *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        if (c < 0x80) { i++; continue; }
        size_t len;
        unsigned long cp, min;
        if ((c & 0xE0) == 0xC0) { len = 2; cp = c & 0x1F; min = 0x80; }
        else if ((c & 0xF0) == 0xE0) { len = 3; cp = c & 0x0F; min = 0x800; }
        else if ((c & 0xF8) == 0xF0) { len = 4; cp = c & 0x07; min = 0x10000; }
        else return 0;
        if (n - i < len) return 0;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80) return 0;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
        i += len;
    }
    return 1;
}

/* A NUL-terminated copy of data[0..size) (the C-string APIs stop at the
 * first NUL, as they would on a file's contents). NULL when out of memory. */
static FUZZ_UNUSED char *fuzz_cstring(const uint8_t *data, size_t size) {
    char *s = malloc(size + 1);
    if (!s) return NULL;
    if (size) memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

#endif
