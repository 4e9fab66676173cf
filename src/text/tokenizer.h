/* Tokenizer and vocabulary: UTF-8 text -> normalised tokens -> int32 ids.
 *
 * Tokenization (attend_tokenizer_split):
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
 *
 * Vocabulary: id 0 "<pad>", 1 "<unk>", 2 "<cls>" (always present so ids are
 * stable whatever the pooling), then the kept tokens by count descending,
 * ties by token bytes ascending. Built from counts of the training split only
 * (attend_vocab_counter), serialised as a JSON array of strings for a model
 * file's metadata. */
#ifndef ATTEND_TOKENIZER_H
#define ATTEND_TOKENIZER_H

#include "attend.h"
#include "base/utf8.h"

#include <stddef.h>
#include <stdint.h>

/* ---- hashing helper (also used by data.c) ---- */

#define ATTEND_FNV64_OFFSET 0xcbf29ce484222325ull
#define ATTEND_FNV64_PRIME 0x100000001b3ull

/* FNV-1a 64 of n bytes, continuing from h (start with ATTEND_FNV64_OFFSET). */
static inline uint64_t attend_fnv1a64(const void *p, size_t n, uint64_t h) {
    const unsigned char *b = (const unsigned char *)p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * ATTEND_FNV64_PRIME;
    return h;
}

/* ---- tokenizer ---- */

/* Default cap on the bytes of one text looked at (64 KiB). */
#define ATTEND_TOKENIZER_MAX_TEXT ((size_t)1 << 16)

/* A tokenizer with reusable scratch; the tokens of the last split stay valid
 * until the next split or free. Not thread-safe: use one per thread. */
typedef struct {
    size_t max_text_bytes; /* texts are cut to this many bytes first */
    /* Result of the last attend_tokenizer_split: */
    size_t count;          /* number of tokens */
    int truncated;         /* 1: the text was cut at max_text_bytes */
    /* Private: */
    char *bytes;           /* tokens, each NUL-terminated */
    size_t bytes_cap;
    size_t *start, *len;   /* token i = bytes + start[i], len[i] bytes */
    size_t tok_cap;
    int32_t *cps;          /* normalised code points */
    size_t cps_cap;
} attend_tokenizer;

/* Initialises tok with max_text_bytes = ATTEND_TOKENIZER_MAX_TEXT. */
attend_status attend_tokenizer_init(attend_tokenizer *tok, attend_error *err);

/* Frees the scratch; tok may then be initialised again. */
void attend_tokenizer_free(attend_tokenizer *tok);

/* Splits text[0..len) into tokens (see the top of this file). max_tokens > 0
 * stops after that many tokens; 0 = no limit. On error the token count is 0. */
attend_status attend_tokenizer_split(attend_tokenizer *tok, const char *text, size_t len,
                                     size_t max_tokens, attend_error *err);

/* Token i of the last split (NUL-terminated); *len (if not NULL) = its bytes. */
static inline const char *attend_tokenizer_token(const attend_tokenizer *tok, size_t i,
                                                 size_t *len) {
    if (len) *len = tok->len[i];
    return tok->bytes + tok->start[i];
}

/* ---- string table (private; the storage of the vocabulary and counter) ---- */

typedef struct {
    char *bytes;          /* strings, each NUL-terminated */
    size_t nbytes, bytes_cap;
    size_t *off;          /* string i = bytes + off[i] */
    size_t *len;
    uint64_t *hash;
    uint64_t *count;
    size_t n, cap;
    uint32_t *slots;      /* open addressing, linear probing: 0 empty, else index+1 */
    size_t nslots;        /* power of two, load <= 1/2 */
} attend_strtab;

/* ---- vocabulary ---- */

#define ATTEND_VOCAB_PAD 0
#define ATTEND_VOCAB_UNK 1
#define ATTEND_VOCAB_CLS 2
#define ATTEND_VOCAB_NSPECIAL 3
/* Largest vocabulary (ids must fit int32 and the table's 32-bit slots). */
#define ATTEND_VOCAB_MAX_SIZE ((size_t)1 << 30)

/* Token counts gathered from training texts. */
typedef struct {
    attend_strtab tab;
    uint64_t total; /* tokens added */
} attend_vocab_counter;

/* Empty counter. */
attend_status attend_vocab_counter_init(attend_vocab_counter *c, attend_error *err);
void attend_vocab_counter_free(attend_vocab_counter *c);

/* Adds one occurrence of the token s[0..len). */
attend_status attend_vocab_counter_add(attend_vocab_counter *c, const char *s, size_t len,
                                       attend_error *err);

/* Splits text with tok (no token limit) and counts every token. */
attend_status attend_vocab_counter_add_text(attend_vocab_counter *c, attend_tokenizer *tok,
                                            const char *text, size_t len, attend_error *err);

/* id <-> token map. */
typedef struct {
    attend_strtab tab;
} attend_vocab;

/* A vocabulary holding only the special tokens. */
attend_status attend_vocab_init(attend_vocab *v, attend_error *err);
void attend_vocab_free(attend_vocab *v);

/* Builds v (not initialised yet) from counts: keeps tokens seen at least
 * min_freq times (0 and 1 keep all), ordered by count descending then bytes
 * ascending, cut so that the size including the 3 special tokens is at most
 * max_vocab (0 = no limit; 1..3 is an argument error). */
attend_status attend_vocab_build(attend_vocab *v, const attend_vocab_counter *c,
                                 size_t min_freq, size_t max_vocab, attend_error *err);

/* Number of ids (V), special tokens included. */
static inline size_t attend_vocab_size(const attend_vocab *v) { return v->tab.n; }

/* Token of an id (NUL-terminated), or NULL when id is out of range. */
const char *attend_vocab_token(const attend_vocab *v, size_t id);

/* Id of the token s[0..len), or ATTEND_VOCAB_UNK when absent. */
int32_t attend_vocab_id(const attend_vocab *v, const char *s, size_t len);

/* Tokenizes text and writes at most max_len ids; with add_cls the first id is
 * ATTEND_VOCAB_CLS and at most max_len - 1 tokens follow. *n = ids written
 * (0 for a text with no tokens; 1 with add_cls). max_len must be >= 1. */
attend_status attend_vocab_encode(const attend_vocab *v, attend_tokenizer *tok,
                                  const char *text, size_t len, int add_cls, int32_t *ids,
                                  size_t max_len, size_t *n, attend_error *err);

/* The strings get(ctx, 0..n-1) as one compact JSON array, malloc'ed into
 * *out (free() it); what names the data in an out-of-memory message. */
attend_status attend_json_string_array(size_t n, const char *(*get)(const void *ctx, size_t i),
                                       const void *ctx, const char *what, char **out,
                                       attend_error *err);

/* The vocabulary as a JSON array of its tokens in id order (compact, UTF-8).
 * *out is malloc'ed; the caller frees it with free(). */
attend_status attend_vocab_to_json(const attend_vocab *v, char **out, attend_error *err);

/* Parses attend_vocab_to_json's output into v (not initialised yet). Checks it
 * is one array of non-empty valid UTF-8 strings, without duplicates, with the
 * special tokens at ids 0..2; anything else is ATTEND_ERR_FORMAT. */
attend_status attend_vocab_from_json(attend_vocab *v, const char *json, attend_error *err);

#endif
