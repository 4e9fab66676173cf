/* libFuzzer target: the tokenizer (attend_splitter_split) and what is built
 * on it: counting, building a vocabulary, its JSON form, encoding.
 * Input: one text. Properties:
 *   - the split succeeds exactly when the text is valid UTF-8 (checked by
 *     an independent decoder here);
 *   - every token is non-empty, valid UTF-8, NUL-free, never a special
 *     token name, and its stored length is its strlen;
 *   - a split limited to k tokens gives the first k tokens of the full split;
 *   - with a tiny byte cap the split still works and says it truncated;
 *   - the vocabulary built from the text holds every token, its JSON form
 *     reads back to the same ids, and encoding gives ids of those tokens
 *     (after <cls>) within max_len. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "fuzz_common.h"
#include "text/tokenizer.h"

/* Tokenizers live across inputs, as in the library's users, so reused
 * scratch buffers are exercised too. */
static attend_splitter fuzz_tok_full, fuzz_tok_small;
static int fuzz_tok_ready = 0;

static void fuzz_tok_setup(void) {
    if (fuzz_tok_ready) return;
    attend_error err;
    FUZZ_CHECK(attend_splitter_init(&fuzz_tok_full, &err) == ATTEND_OK, "init: %s", err.msg);
    FUZZ_CHECK(attend_splitter_init(&fuzz_tok_small, &err) == ATTEND_OK, "init: %s", err.msg);
    fuzz_tok_small.max_text_bytes = 7;
    fuzz_tok_ready = 1;
}

static void fuzz_tok_check_tokens(const attend_splitter *tok) {
    for (size_t i = 0; i < tok->count; i++) {
        size_t len = 0;
        const char *t = attend_splitter_token(tok, i, &len);
        FUZZ_CHECK(len > 0, "token %zu is empty", i);
        FUZZ_CHECK(strlen(t) == len, "token %zu: strlen %zu, len %zu", i, strlen(t), len);
        FUZZ_CHECK(fuzz_utf8_ok((const unsigned char *)t, len), "token %zu not valid UTF-8", i);
        FUZZ_CHECK(strcmp(t, "<pad>") && strcmp(t, "<unk>") && strcmp(t, "<cls>"),
                   "token %zu is the special name %s", i, t);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_setup();
    fuzz_tok_setup();
    const char *text = (const char *)data;
    attend_error err;
    memset(&err, 0, sizeof err);
    attend_splitter *tok = &fuzz_tok_full;
    attend_status st = attend_splitter_split(tok, text, size, 0, &err);
    int valid = fuzz_utf8_ok(data, size);
    if (st != ATTEND_OK) {
        fuzz_check_error(st, &err, "attend_splitter_split");
        FUZZ_CHECK(!valid && st == ATTEND_ERR_FORMAT, "valid UTF-8 refused: %s", err.msg);
        FUZZ_CHECK(tok->count == 0, "failed split left %zu tokens", tok->count);
        return 0;
    }
    FUZZ_CHECK(valid, "invalid UTF-8 accepted");
    FUZZ_CHECK(tok->truncated == (size > ATTEND_SPLITTER_MAX_TEXT), "truncated flag %d",
               tok->truncated);
    fuzz_tok_check_tokens(tok);

    /* Keep the full split: the next calls reuse the tokenizer's buffers. */
    size_t n = tok->count, total = 0;
    for (size_t i = 0; i < n; i++) total += tok->len[i] + 1;
    char *all = malloc(total ? total : 1);
    size_t *lens = malloc((n ? n : 1) * sizeof *lens);
    FUZZ_CHECK(all && lens, "out of memory");
    for (size_t i = 0, at = 0; i < n; i++) {
        lens[i] = tok->len[i];
        memcpy(all + at, attend_splitter_token(tok, i, NULL), lens[i] + 1);
        at += lens[i] + 1;
    }

    /* Prefix property with a token limit. */
    size_t k = 1 + size % 5;
    st = attend_splitter_split(tok, text, size, k, &err);
    FUZZ_CHECK(st == ATTEND_OK, "limited split failed: %s", err.msg);
    FUZZ_CHECK(tok->count == (n < k ? n : k), "limit %zu gave %zu of %zu tokens", k, tok->count, n);
    for (size_t i = 0, at = 0; i < tok->count; i++) {
        size_t len;
        const char *t = attend_splitter_token(tok, i, &len);
        FUZZ_CHECK(len == lens[i] && memcmp(t, all + at, len) == 0,
                   "token %zu differs under a limit", i);
        at += lens[i] + 1;
    }

    /* A 7-byte cap: cut at a character boundary, never an error. */
    st = attend_splitter_split(&fuzz_tok_small, text, size, 0, &err);
    FUZZ_CHECK(st == ATTEND_OK, "capped split failed: %s", err.msg);
    FUZZ_CHECK(fuzz_tok_small.truncated == (size > 7), "capped truncated flag");
    fuzz_tok_check_tokens(&fuzz_tok_small);

    /* Vocabulary from this text: every token gets an id, JSON round-trips. */
    attend_vocab_counter c;
    attend_vocab v, back;
    FUZZ_CHECK(attend_vocab_counter_init(&c, &err) == ATTEND_OK, "counter: %s", err.msg);
    st = attend_vocab_counter_add_text(&c, tok, text, size, &err);
    FUZZ_CHECK(st == ATTEND_OK, "counter add: %s", err.msg);
    FUZZ_CHECK(c.total == n, "counted %llu of %zu tokens", (unsigned long long)c.total, n);
    st = attend_vocab_build(&v, &c, 1, 0, &err);
    FUZZ_CHECK(st == ATTEND_OK, "vocab build: %s", err.msg);
    for (size_t i = 0, at = 0; i < n; i++) {
        int32_t id = attend_vocab_id(&v, all + at, lens[i]);
        FUZZ_CHECK(id >= ATTEND_VOCAB_NSPECIAL, "token %zu has id %d", i, (int)id);
        FUZZ_CHECK(strcmp(attend_vocab_token(&v, (size_t)id), all + at) == 0, "id %d wrong", (int)id);
        at += lens[i] + 1;
    }
    char *json = NULL;
    FUZZ_CHECK(attend_vocab_to_json(&v, &json, &err) == ATTEND_OK, "to_json: %s", err.msg);
    st = attend_vocab_from_json(&back, json, &err);
    FUZZ_CHECK(st == ATTEND_OK, "from_json of to_json: %s", err.msg);
    FUZZ_CHECK(attend_vocab_size(&back) == attend_vocab_size(&v), "size changed in JSON");
    for (size_t id = 0; id < attend_vocab_size(&v); id++)
        FUZZ_CHECK(strcmp(attend_vocab_token(&back, id), attend_vocab_token(&v, id)) == 0,
                   "id %zu changed in JSON", id);

    /* Encoding through the tokenizer interface into 5 slots, with the total. */
    attend_tokenizer *words = NULL;
    st = attend_tokenizer_words_new(&words, &back, &err); /* takes back */
    FUZZ_CHECK(st == ATTEND_OK, "tokenizer: %s", err.msg);
    void *scratch = NULL;
    FUZZ_CHECK(attend_tokenizer_scratch_new(words, &scratch, &err) == ATTEND_OK, "scratch: %s", err.msg);
    int32_t ids[5];
    size_t nid = 99, n_all = 99;
    st = attend_tokenizer_encode(words, scratch, text, size, ids, 5, &nid, &n_all, &err);
    FUZZ_CHECK(st == ATTEND_OK, "encode: %s", err.msg);
    FUZZ_CHECK(nid == (n < 5 ? n : 5) && n_all == n, "encode gave %zu ids (total %zu) for %zu tokens",
               nid, n_all, n);
    for (size_t i = 0, at = 0; i < nid; i++) {
        FUZZ_CHECK(ids[i] == attend_vocab_id(&v, all + at, lens[i]), "id %zu", i);
        FUZZ_CHECK(strcmp(attend_tokenizer_piece(words, scratch, i), all + at) == 0, "piece %zu", i);
        at += lens[i] + 1;
    }
    attend_tokenizer_scratch_free(words, scratch);
    attend_tokenizer_free(words);

    free(json);
    attend_vocab_free(&v);
    attend_vocab_counter_free(&c);
    free(all);
    free(lens);
    return 0;
}
