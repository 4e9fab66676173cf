/* WordPiece tokenizer for BERT-family models: text -> vocabulary ids exactly
 * as Hugging Face's fast tokenizer (the Rust `tokenizers` crate, which
 * transformers' AutoTokenizer uses) gives them with BertNormalizer,
 * BertPreTokenizer and the WordPiece model.
 *
 * Per text:
 *   1. The text must be valid UTF-8 (else ATTEND_ERR_FORMAT with the byte
 *      offset). A text longer than max_text_bytes is cut at a character
 *      boundary first, and the result says so, so the work per text is
 *      bounded.
 *   2. Special tokens ("[CLS]", "[SEP]", "[MASK]", "[PAD]", "[UNK]": those
 *      named in the options that the vocabulary holds) written in the text
 *      give their own ids, leftmost-longest, before any normalisation, as
 *      the crate's added tokens do; match_special_tokens = 0 reads them as
 *      plain text (the crate's encode_special_tokens / transformers'
 *      split_special_tokens).
 *   3. Normalisation, in the crate's order: clean_text drops U+0000, U+FFFD
 *      and control characters (Cc, Cf, Co) and turns whitespace into ' ';
 *      handle_chinese_chars puts spaces around CJK ideographs;
 *      strip_accents decomposes (NFD) and drops nonspacing marks (Mn);
 *      lowercase maps each character to its full lowercase (U+0130 'İ'
 *      gives "i" + U+0307). strip_accents -1 follows lowercase.
 *   4. Pre-tokenization: words are split at whitespace, and every
 *      punctuation character (ASCII punctuation and Unicode P*) is a word of
 *      its own.
 *   5. WordPiece: each word is cut greedily into the longest vocabulary
 *      entries, later pieces looked up with the continuing_subword_prefix
 *      ("##"); a word longer than max_input_chars_per_word characters, or
 *      with a remainder no entry matches, is one unknown token.
 * The Unicode tables behind steps 3 and 4 follow the crate, not the newest
 * Unicode (see wordpiece_unicode.h).
 *
 * Threads: an attend_wordpiece is immutable once loaded and may be shared by
 * any number of threads; each thread encodes with its own scratch. */
#ifndef ATTEND_TEXT_WORDPIECE_H
#define ATTEND_TEXT_WORDPIECE_H

#include "attend.h"

#include <stddef.h>
#include <stdint.h>

/* Longest special token name or continuing-subword prefix, with its NUL. */
#define ATTEND_WORDPIECE_NAME_MAX 64
/* Default max_text_bytes: 64 KiB, far more than any BERT context holds. */
#define ATTEND_WORDPIECE_MAX_TEXT ((size_t)1 << 16)
/* Largest vocabulary file and number of ids loaded. */
#define ATTEND_WORDPIECE_MAX_FILE ((size_t)1 << 28)
#define ATTEND_WORDPIECE_MAX_VOCAB ((size_t)1 << 24)

/* Settings of a WordPiece tokenizer; strings are held in the struct, so a
 * copy is complete on its own. */
typedef struct {
    int lowercase;                   /* do_lower_case; default 1 */
    int strip_accents;               /* -1 follows lowercase (default), 0 keep, 1 strip */
    int handle_chinese_chars;        /* spaces around CJK ideographs; default 1 */
    int clean_text;                  /* drop controls, whitespace -> ' '; default 1 */
    int match_special_tokens;        /* special tokens in the text give their ids; default 1 */
    size_t max_input_chars_per_word; /* longer words are one unknown token; default 100 */
    size_t max_text_bytes;           /* longer texts are cut; 0 or default: ATTEND_WORDPIECE_MAX_TEXT */
    char continuing_subword_prefix[ATTEND_WORDPIECE_NAME_MAX]; /* "##" */
    /* Special tokens, looked up in the vocabulary ("[UNK]", ...): */
    char unk_token[ATTEND_WORDPIECE_NAME_MAX];
    char cls_token[ATTEND_WORDPIECE_NAME_MAX];
    char sep_token[ATTEND_WORDPIECE_NAME_MAX];
    char pad_token[ATTEND_WORDPIECE_NAME_MAX];
    char mask_token[ATTEND_WORDPIECE_NAME_MAX];
} attend_wordpiece_options;

/* The defaults above: BERT uncased. */
void attend_wordpiece_options_default(attend_wordpiece_options *o);

/* Settings of a BERT model folder as transformers' AutoTokenizer (and so
 * sentence-transformers) uses them:
 *   - do_lower_case, strip_accents and tokenize_chinese_chars from
 *     tokenizer_config.json, or BertTokenizer's defaults (true, null, true)
 *     for those it leaves out; clean_text on. transformers builds its
 *     BertNormalizer from these whatever tokenizer.json's normalizer says
 *     (a folder whose tokenizer.json says otherwise tokenizes differently
 *     in the tokenizers package alone; set the options by hand for that);
 *   - from tokenizer.json, when present: model.unk_token,
 *     continuing_subword_prefix and max_input_chars_per_word, and the added
 *     tokens (which decide match_special_tokens);
 *   - special token names from special_tokens_map.json, then
 *     tokenizer_config.json.
 * What this tokenizer cannot honour (a tokenizer class, normalizer,
 * pre-tokenizer or model other than BERT's, added tokens beyond the special
 * ones) is ATTEND_ERR_FORMAT naming the file and the setting. */
attend_status attend_wordpiece_options_from_dir(attend_wordpiece_options *o, const char *dir,
                                                attend_error *err);

typedef struct attend_wordpiece attend_wordpiece;

/* Loads a vocab.txt (id = line number from 0). Lines end in "\n"; trailing
 * whitespace (so a "\r" of "\r\n") is stripped, as the crate does. Refused,
 * naming the file and line: invalid UTF-8, an empty file, a token on two
 * lines (the crate would keep the later id), more than
 * ATTEND_WORDPIECE_MAX_VOCAB lines or ATTEND_WORDPIECE_MAX_FILE bytes, and
 * no line holding unk_token. A line that is empty after stripping keeps
 * its id but matches nothing. o NULL: the defaults. */
attend_status attend_wordpiece_load(attend_wordpiece **out, const char *vocab_txt_path,
                                    const attend_wordpiece_options *o, attend_error *err);

/* The same from a vocab.txt in memory; name is used in messages. */
attend_status attend_wordpiece_load_memory(attend_wordpiece **out, const char *buf, size_t len,
                                           const char *name, const attend_wordpiece_options *o,
                                           attend_error *err);

void attend_wordpiece_free(attend_wordpiece *wp);

/* Number of ids (V): the vocabulary file's lines. */
size_t attend_wordpiece_vocab_size(const attend_wordpiece *wp);

/* Token of an id (NUL-terminated), or NULL when out of range. */
const char *attend_wordpiece_token(const attend_wordpiece *wp, int32_t id);

/* Id of the token s[0..len), or -1 when the vocabulary lacks it. */
int32_t attend_wordpiece_id(const attend_wordpiece *wp, const char *s, size_t len);

/* The special tokens' ids; unk is always there, the others are -1 when the
 * vocabulary lacks them. */
typedef struct {
    int32_t unk, cls, sep, pad, mask;
} attend_wordpiece_specials;
attend_wordpiece_specials attend_wordpiece_special_ids(const attend_wordpiece *wp);

/* The settings wp was loaded with (strip_accents resolved to 0 or 1). */
const attend_wordpiece_options *attend_wordpiece_get_options(const attend_wordpiece *wp);

/* Per-thread working memory of attend_wordpiece_encode: it grows to the
 * largest text seen and is then reused, so encoding allocates nothing. */
typedef struct attend_wordpiece_scratch attend_wordpiece_scratch;
attend_status attend_wordpiece_scratch_new(attend_wordpiece_scratch **out, attend_error *err);
void attend_wordpiece_scratch_free(attend_wordpiece_scratch *s);

/* What one encode call did. */
typedef struct {
    size_t n_written;  /* ids written (at most max_ids) */
    size_t n_total;    /* ids the text gives in all; more than n_written when ids were cut */
    size_t bytes_read; /* bytes of the text tokenized: len, or less when text_cut */
    int text_cut;      /* 1: the text was longer than max_text_bytes and was cut */
} attend_wordpiece_result;

/* Ids of text[0..len) without special tokens around them: the first max_ids
 * go to ids (which may be NULL when max_ids is 0), and res counts them all.
 * On error res is all zero (ids may hold a partial result). */
attend_status attend_wordpiece_encode(const attend_wordpiece *wp, attend_wordpiece_scratch *s,
                                      const char *text, size_t len, int32_t *ids, size_t max_ids,
                                      attend_wordpiece_result *res, attend_error *err);

/* BERT's single-sequence input: [CLS], the text's first max_len - 2 ids,
 * [SEP] (what transformers gives with add_special_tokens and truncation to
 * max_len). res->n_total counts the two special tokens. max_len >= 2; the
 * vocabulary must hold cls_token and sep_token (else ATTEND_ERR_ARG). */
attend_status attend_wordpiece_encode_cls_sep(const attend_wordpiece *wp,
                                              attend_wordpiece_scratch *s, const char *text,
                                              size_t len, int32_t *ids, size_t max_len,
                                              attend_wordpiece_result *res, attend_error *err);

#endif
