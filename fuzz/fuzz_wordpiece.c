/* libFuzzer target: the WordPiece tokenizer (src/text/wordpiece.c): vocab.txt
 * parsing and encoding.
 * Input: one options byte, then either
 *   - VOCAB "\xff\xff" TEXT (0xFF never occurs in UTF-8, so the split is
 *     unambiguous; VOCAB may still hold 0xFF bytes elsewhere): VOCAB is
 *     loaded as a vocab.txt and, when it loads, TEXT is encoded with it;
 *   - or TEXT alone, encoded with a small built-in vocabulary.
 * Options byte: bit 0 lowercase, bits 1-2 strip_accents (-1, 0, 1, -1),
 * bit 3 handle_chinese_chars, bit 4 clean_text, bit 5 match_special_tokens,
 * bit 6 max_input_chars_per_word 5 (else 100), bit 7 max_text_bytes 24
 * (else the default).
 * Properties:
 *   - a vocabulary that fails to load says why (status and message) and
 *     names the file; one that loads has one id per line, and every
 *     non-empty token's id is its line;
 *   - encoding succeeds exactly when the bytes read are valid UTF-8
 *     (checked by fuzz_common.h's own decoder), and reads all of a text no
 *     longer than max_text_bytes;
 *   - every id is in the vocabulary; n_written <= max_ids, and n_total
 *     does not depend on max_ids; a limited encode gives the first
 *     ids of the full one; encoding again with the same (reused) scratch
 *     gives the same ids;
 *   - [CLS] ... [SEP] encoding wraps the first max_len - 2 of those ids. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "fuzz_common.h"
#include "text/wordpiece.h"

/* A small vocabulary with multi-byte tokens, continuations and specials. */
static const char fuzz_wp_vocab[] =
    "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n!\n,\n.\n#\n##\n[\n]\na\n##a\nb\n##b\nab\n##ab\nun\n##able\n"
    "e\n##e\n\xc3\xa9\n##\xc3\xa9\ni\n##i\n\xcc\x87\n##\xcc\x87\n\xe4\xb8\xad\n\xe6\x96\x87\n"
    "\xce\xbf\n##\xce\xb4\n##\xcf\x83\n\xcf\x82\nthe\n##s\n1\n##2\n\xf0\x9f\x98\x80\n"
    "\xd9\x85\n##\xd8\xb1\nstra\n##\xc3\x9f\n##e\xcc\x81\n";

/* Scratch that lives across inputs, as in a server thread. */
static attend_wordpiece_scratch *fuzz_wp_scratch;

static void fuzz_wp_options(unsigned char b, attend_wordpiece_options *o) {
    attend_wordpiece_options_default(o);
    static const int strip[4] = {-1, 0, 1, -1};
    o->lowercase = b & 1;
    o->strip_accents = strip[(b >> 1) & 3];
    o->handle_chinese_chars = (b >> 3) & 1;
    o->clean_text = (b >> 4) & 1;
    o->match_special_tokens = (b >> 5) & 1;
    o->max_input_chars_per_word = (b & 64) ? 5 : 100;
    if (b & 128) o->max_text_bytes = 24;
}

static void fuzz_wp_check_vocab(const attend_wordpiece *wp, const uint8_t *v, size_t n) {
    size_t lines = 0;
    for (size_t i = 0; i < n; i++) lines += v[i] == '\n';
    if (n && v[n - 1] != '\n') lines++;
    size_t V = attend_wordpiece_vocab_size(wp);
    FUZZ_CHECK(V == lines, "%zu ids for %zu lines", V, lines);
    for (size_t id = 0; id < V; id++) {
        const char *t = attend_wordpiece_token(wp, (int32_t)id);
        FUZZ_CHECK(t != NULL, "id %zu has no token", id);
        size_t tl = strlen(t);
        /* A NUL inside a line cuts the C string: look it up only whole. */
        if (tl == 0 || memchr(t, 0, tl) != t + tl) continue;
        int32_t back = attend_wordpiece_id(wp, t, tl);
        FUZZ_CHECK(back == (int32_t)id, "token of id %zu looks up as %d", id, back);
    }
    FUZZ_CHECK(attend_wordpiece_token(wp, (int32_t)V) == NULL, "token past the end");
    attend_wordpiece_specials sp = attend_wordpiece_special_ids(wp);
    FUZZ_CHECK(sp.unk >= 0 && (size_t)sp.unk < V, "unk id %d", sp.unk);
}

static void fuzz_wp_encode(const attend_wordpiece *wp, const uint8_t *text, size_t n) {
    attend_error err;
    memset(&err, 0, sizeof err);
    const attend_wordpiece_options *o = attend_wordpiece_get_options(wp);
    size_t V = attend_wordpiece_vocab_size(wp);
    size_t cap = 4 * n + 8;
    int32_t *full = malloc(cap * sizeof *full), *part = malloc(cap * sizeof *part);
    FUZZ_CHECK(full && part, "out of memory");
    attend_wordpiece_result res, res2;
    attend_status st = attend_wordpiece_encode(wp, fuzz_wp_scratch, (const char *)text, n, full,
                                               cap, &res, &err);
    if (st != ATTEND_OK) {
        fuzz_check_error(st, &err, "attend_wordpiece_encode");
        FUZZ_CHECK(st == ATTEND_ERR_FORMAT, "status %d: %s", (int)st, err.msg);
        FUZZ_CHECK(n > o->max_text_bytes || !fuzz_utf8_ok(text, n), "valid UTF-8 refused: %s",
                   err.msg);
        FUZZ_CHECK(res.n_written == 0 && res.n_total == 0, "a failed encode reports ids");
        free(full);
        free(part);
        return;
    }
    FUZZ_CHECK(fuzz_utf8_ok(text, res.bytes_read), "invalid UTF-8 accepted");
    FUZZ_CHECK(res.text_cut == (n > o->max_text_bytes), "text_cut %d for %zu bytes", res.text_cut,
               n);
    FUZZ_CHECK(res.text_cut ? res.bytes_read <= o->max_text_bytes && res.bytes_read + 4 > o->max_text_bytes
                            : res.bytes_read == n,
               "read %zu of %zu bytes", res.bytes_read, n);
    FUZZ_CHECK(res.n_written == res.n_total && res.n_total <= cap, "%zu of %zu ids written",
               res.n_written, res.n_total);
    for (size_t i = 0; i < res.n_written; i++)
        FUZZ_CHECK(full[i] >= 0 && (size_t)full[i] < V, "id %d out of range", full[i]);
    /* A limit: the first ids, the same total; the scratch is reused. */
    size_t k = res.n_total / 2;
    st = attend_wordpiece_encode(wp, fuzz_wp_scratch, (const char *)text, n, part, k, &res2, &err);
    FUZZ_CHECK(st == ATTEND_OK, "limited encode failed: %s", err.msg);
    FUZZ_CHECK(res2.n_written == k && res2.n_total == res.n_total,
               "limit %zu: %zu written, %zu total (full %zu)", k, res2.n_written, res2.n_total,
               res.n_total);
    FUZZ_CHECK(memcmp(part, full, k * sizeof *part) == 0, "limited ids differ");
    st = attend_wordpiece_encode(wp, fuzz_wp_scratch, (const char *)text, n, NULL, 0, &res2, &err);
    FUZZ_CHECK(st == ATTEND_OK && res2.n_total == res.n_total, "count-only encode differs");
    attend_wordpiece_specials sp = attend_wordpiece_special_ids(wp);
    if (sp.cls >= 0 && sp.sep >= 0) {
        size_t m = 2 + res.n_total % 7;
        st = attend_wordpiece_encode_cls_sep(wp, fuzz_wp_scratch, (const char *)text, n, part, m,
                                             &res2, &err);
        size_t inner = res.n_total < m - 2 ? res.n_total : m - 2;
        FUZZ_CHECK(st == ATTEND_OK && res2.n_written == inner + 2 &&
                       res2.n_total == res.n_total + 2 && part[0] == sp.cls &&
                       part[inner + 1] == sp.sep &&
                       memcmp(part + 1, full, inner * sizeof *part) == 0,
                   "cls_sep with max_len %zu", m);
    }
    free(full);
    free(part);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_setup();
    attend_error err;
    memset(&err, 0, sizeof err);
    if (!fuzz_wp_scratch)
        FUZZ_CHECK(attend_wordpiece_scratch_new(&fuzz_wp_scratch, &err) == ATTEND_OK, "scratch: %s",
                   err.msg);
    if (size == 0) return 0;
    attend_wordpiece_options o;
    fuzz_wp_options(data[0], &o);
    data++;
    size--;
    const uint8_t *vocab = (const uint8_t *)fuzz_wp_vocab, *text = data;
    size_t vlen = sizeof fuzz_wp_vocab - 1, tlen = size;
    const uint8_t *sep = memmem(data, size, "\xff\xff", 2);
    if (sep) {
        vocab = data;
        vlen = (size_t)(sep - data);
        text = sep + 2;
        tlen = size - vlen - 2;
    }
    /* Exact-size copies, so that reading past either is caught. */
    char *vcopy = malloc(vlen ? vlen : 1);
    FUZZ_CHECK(vcopy != NULL, "out of memory");
    if (vlen) memcpy(vcopy, vocab, vlen);
    attend_wordpiece *wp = NULL;
    attend_status st = attend_wordpiece_load_memory(&wp, vcopy, vlen, "fuzz.txt", &o, &err);
    free(vcopy);
    if (st != ATTEND_OK) {
        fuzz_check_error(st, &err, "attend_wordpiece_load_memory");
        FUZZ_CHECK(strstr(err.msg, "fuzz.txt") != NULL, "message without the file name: %s",
                   err.msg);
        FUZZ_CHECK(wp == NULL, "failed load returned a tokenizer");
        return 0;
    }
    fuzz_wp_check_vocab(wp, vocab, vlen);
    uint8_t *tcopy = malloc(tlen ? tlen : 1);
    FUZZ_CHECK(tcopy != NULL, "out of memory");
    if (tlen) memcpy(tcopy, text, tlen);
    fuzz_wp_encode(wp, tcopy, tlen);
    free(tcopy);
    attend_wordpiece_free(wp);
    return 0;
}
