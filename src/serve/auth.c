/* The bearer key: "Authorization: Bearer <key>", compared in time that
 * depends on the key's length only, never on where the first wrong byte
 * is, so a client cannot find the key a byte at a time by timing. */
#include "serve/serve.h"

#include <string.h>

int serve_auth_ok(const char *key, size_t key_len, const char *header) {
    if (!key || !header) return 0;
    /* the scheme is case-insensitive (RFC 9110 11.1), then one or more spaces */
    static const char scheme[] = "bearer";
    for (size_t i = 0; i < sizeof scheme - 1; i++)
        if ((header[i] | 0x20) != scheme[i]) return 0;
    const char *given = header + sizeof scheme - 1;
    if (*given != ' ') return 0;
    while (*given == ' ') given++;
    size_t given_len = strlen(given);
    while (given_len && (given[given_len - 1] == ' ' || given[given_len - 1] == '\t')) given_len--;
    /* every byte of the key is compared, whatever the given length */
    volatile unsigned char diff = (unsigned char)(given_len != key_len);
    for (size_t i = 0; i < key_len; i++) {
        unsigned char g = i < given_len ? (unsigned char)given[i] : 0;
        diff |= (unsigned char)(g ^ (unsigned char)key[i]);
    }
    return diff == 0;
}
