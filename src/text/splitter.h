/* attend's own word splitter: UTF-8 text -> normalised word tokens.
 *
 * Splitting (attend_splitter_split):
 *   1. The text must be valid UTF-8 (no overlongs, surrogates or code points
 *      past U+10FFFF); otherwise ATTEND_ERR_FORMAT names the byte offset.
 *   2. Texts longer than max_text_bytes are cut at a character boundary, so
 *      the work per text is bounded whatever the input.
 *   3. Normalisation with utf8proc: NFKC, full case folding ("Straße" ->
 *      "strasse"), default-ignorable characters removed (soft hyphen,
 *      zero-width space), control characters removed (tab/newline become a
 *      space), and "lumping" of look-alikes (curly quotes and apostrophes,
 *      Unicode dashes and spaces -> their ASCII forms).
 *   4. Splitting by Unicode general category:
 *        - letters (L*, Nl) with their combining marks (M*) form word tokens;
 *          an apostrophe between two letters stays inside the word, so
 *          "don't" and "o'clock" are one token while "dogs'" is "dogs" "'";
 *        - digits (Nd, No) form number tokens ("mp3" -> "mp" "3",
 *          "3.14" -> "3" "." "14");
 *        - every other character (punctuation, symbols, unassigned, private
 *          use) is a token of its own, with any combining marks after it;
 *        - separators (Z*) and remaining format characters split tokens and
 *          are dropped.
 *   The special token names "<pad>", "<unk>", "<cls>" can never come out of
 *   the tokenizer ('<' is always a token of its own), so they cannot collide.
 * */
#ifndef ATTEND_TEXT_SPLITTER_H
#define ATTEND_TEXT_SPLITTER_H

#include "attend.h"

#include <stddef.h>
#include <stdint.h>

/* Default cap on the bytes of one text looked at (64 KiB). */
#define ATTEND_SPLITTER_MAX_TEXT ((size_t)1 << 16)

/* A splitter with reusable scratch; the tokens of the last split stay valid
 * until the next split or free. Not thread-safe: use one per thread. */
typedef struct {
    size_t max_text_bytes; /* texts are cut to this many bytes first */
    /* Result of the last attend_splitter_split: */
    size_t count;          /* number of tokens */
    int truncated;         /* 1: the text was cut at max_text_bytes */
    /* Private: */
    char *bytes;           /* tokens, each NUL-terminated */
    size_t bytes_cap;
    size_t *start, *len;   /* token i = bytes + start[i], len[i] bytes */
    size_t tok_cap;
    int32_t *cps;          /* normalised code points */
    size_t cps_cap;
} attend_splitter;

/* Initialises tok with max_text_bytes = ATTEND_SPLITTER_MAX_TEXT. */
attend_status attend_splitter_init(attend_splitter *tok, attend_error *err);

/* Frees the scratch; tok may then be initialised again. */
void attend_splitter_free(attend_splitter *tok);

/* Splits text[0..len) into tokens (see the top of this file). max_tokens > 0
 * stops after that many tokens; 0 = no limit. On error the token count is 0. */
attend_status attend_splitter_split(attend_splitter *tok, const char *text, size_t len,
                                     size_t max_tokens, attend_error *err);

/* Token i of the last split (NUL-terminated); *len (if not NULL) = its bytes. */
static inline const char *attend_splitter_token(const attend_splitter *tok, size_t i,
                                                 size_t *len) {
    if (len) *len = tok->len[i];
    return tok->bytes + tok->start[i];
}

#endif
