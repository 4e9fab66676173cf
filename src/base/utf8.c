/* UTF-8 helpers (see utf8.h). */
#include "base/utf8.h"

int attend_utf8_valid(const char *s, size_t len, size_t *bad) {
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        unsigned c = p[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t need;
        unsigned lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
        if (c >= 0xC2 && c <= 0xDF) {
            need = 1;
        } else if (c >= 0xE0 && c <= 0xEF) {
            need = 2;
            if (c == 0xE0) lo = 0xA0;      /* overlong */
            else if (c == 0xED) hi = 0x9F; /* UTF-16 surrogates */
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3;
            if (c == 0xF0) lo = 0x90;      /* overlong */
            else if (c == 0xF4) hi = 0x8F; /* past U+10FFFF */
        } else {
            if (bad) *bad = i; /* stray continuation byte, C0/C1, F5..FF */
            return 0;
        }
        if (len - i <= need || p[i + 1] < lo || p[i + 1] > hi) {
            if (bad) *bad = i;
            return 0;
        }
        for (size_t k = 2; k <= need; k++) {
            if (p[i + k] < 0x80 || p[i + k] > 0xBF) {
                if (bad) *bad = i;
                return 0;
            }
        }
        i += need + 1;
    }
    return 1;
}

size_t attend_utf8_cut(const char *s, size_t len) {
    const unsigned char *p = (const unsigned char *)s;
    size_t n = len;
    /* Back off over continuation bytes to the lead byte of the last sequence. */
    while (n > 0 && (p[n - 1] & 0xC0) == 0x80) n--;
    if (n == 0) return 0;
    unsigned c = p[n - 1];
    size_t seq = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
    /* Keep the last sequence only if it is complete within len. */
    return (len - (n - 1) >= seq) ? (n - 1) + seq : n - 1;
}

size_t attend_utf8_chars(const char *s) {
    size_t n = 0;
    for (; *s; s++) n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}
