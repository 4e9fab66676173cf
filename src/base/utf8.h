/* UTF-8: validation (the rules of Rust's str::from_utf8, which the
 * safetensors reference and Hugging Face's tokenizers apply), cutting at a
 * character boundary, counting characters. */
#ifndef ATTEND_BASE_UTF8_H
#define ATTEND_BASE_UTF8_H

#include <stddef.h>

/* 1 if s[0..len) is valid UTF-8 (no overlongs, surrogates or code points
 * past U+10FFFF); else 0 and *bad (if not NULL) = offset of the first byte
 * of the offending sequence. */
int attend_utf8_valid(const char *s, size_t len, size_t *bad);

/* Largest n <= len that does not split a UTF-8 sequence of valid text s. */
size_t attend_utf8_cut(const char *s, size_t len);

/* Number of characters (code points) of UTF-8 s: what a label's width
 * estimate is based on. */
size_t attend_utf8_chars(const char *s);

#endif
