/* Tokenizer and vocabulary: normalisation, splitting, UTF-8 checks, the
 * vocabulary's order and limits, and the JSON round trip and its validation. */
#include "base/utf8.h"
#include "text/tokenizer.h"
#include "test.h"

#include <stdint.h>

/* Splits text and checks the tokens equal the NULL-terminated list want. */
static void check_split(attend_splitter *tok, const char *text, const char *const *want,
                        int line) {
    attend_error err = {0};
    attend_status st = attend_splitter_split(tok, text, strlen(text), 0, &err);
    CHECK(st == ATTEND_OK, "line %d: split of \"%s\" failed: %s", line, text, err.msg);
    if (st) return;
    size_t n = 0;
    while (want[n]) n++;
    CHECK(tok->count == n, "line %d: \"%s\": %zu tokens, expected %zu", line, text, tok->count,
          n);
    for (size_t i = 0; i < n && i < tok->count; i++) {
        size_t len;
        const char *t = attend_splitter_token(tok, i, &len);
        CHECK(strcmp(t, want[i]) == 0 && len == strlen(want[i]),
              "line %d: \"%s\": token %zu is \"%s\", expected \"%s\"", line, text, i, t,
              want[i]);
    }
}
#define SPLIT(tok, text, ...)                                                            \
    do {                                                                                 \
        static const char *const want_[] = {__VA_ARGS__, NULL};                          \
        check_split(tok, text, want_, __LINE__);                                         \
    } while (0)
#define SPLIT_NONE(tok, text)                                                            \
    do {                                                                                 \
        static const char *const want_[] = {NULL};                                       \
        check_split(tok, text, want_, __LINE__);                                         \
    } while (0)

static void test_utf8(void) {
    size_t bad = 99;
    CHECK(attend_utf8_valid("", 0, &bad), "empty is valid");
    CHECK(attend_utf8_valid("h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80", 15, &bad),
          "valid multi-byte text rejected");
    struct {
        const char *s;
        size_t len, at;
    } cases[] = {
        {"ab\x80", 3, 2},             /* stray continuation */
        {"\xc0\xaf", 2, 0},           /* overlong '/' */
        {"a\xc3", 2, 1},              /* truncated 2-byte */
        {"\xe2\x82", 2, 0},           /* truncated 3-byte */
        {"\xe0\x80\xaf", 3, 0},       /* overlong 3-byte */
        {"x\xed\xa0\x80", 4, 1},      /* surrogate U+D800 */
        {"\xf4\x90\x80\x80", 4, 0},   /* U+110000 */
        {"\xf8\x88\x80\x80\x80", 5, 0}, /* 5-byte form */
        {"ok\xff", 3, 2},
        {"\xe2\x28\xa1", 3, 0},       /* bad continuation */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bad = 99;
        int ok = attend_utf8_valid(cases[i].s, cases[i].len, &bad);
        CHECK(!ok && bad == cases[i].at, "case %zu: valid=%d bad=%zu expected invalid at %zu",
              i, ok, bad, cases[i].at);
    }
    /* Cutting never splits a sequence. */
    const char *s = "a\xc3\xa9\xe2\x82\xac"; /* a é € : 1+2+3 bytes */
    CHECK(attend_utf8_cut(s, 6) == 6, "cut 6 -> %zu", attend_utf8_cut(s, 6));
    CHECK(attend_utf8_cut(s, 5) == 3, "cut 5 -> %zu", attend_utf8_cut(s, 5));
    CHECK(attend_utf8_cut(s, 4) == 3, "cut 4 -> %zu", attend_utf8_cut(s, 4));
    CHECK(attend_utf8_cut(s, 2) == 1, "cut 2 -> %zu", attend_utf8_cut(s, 2));
    CHECK(attend_utf8_cut(s, 1) == 1, "cut 1 -> %zu", attend_utf8_cut(s, 1));
}

static void test_split(void) {
    attend_splitter tok;
    attend_error err = {0};
    CHECK(attend_splitter_init(&tok, &err) == ATTEND_OK, "init: %s", err.msg);

    SPLIT(&tok, "Hello, World!", "hello", ",", "world", "!");
    /* NFKC turns full-width letters into ASCII, case fold lowers them. */
    SPLIT(&tok, "\xef\xbc\xa6\xef\xbd\x95\xef\xbd\x8c\xef\xbd\x8c-width", "full", "-", "width");
    /* Full case folding: sharp s -> ss, and the capital sharp s too. */
    SPLIT(&tok, "Stra\xc3\x9f" "e", "strasse");
    SPLIT(&tok, "STRA\xe1\xba\x9e" "E", "strasse");
    /* Ligature fi (U+FB01) -> "fi"; superscript two -> "2"; NBSP separates. */
    SPLIT(&tok, "\xef\xac\x81ne x\xc2\xb2 a\xc2\xa0" "b", "fine", "x", "2", "a", "b");
    /* Composed and decomposed e-acute give the same token. */
    SPLIT(&tok, "Caf\xc3\xa9", "caf\xc3\xa9");
    SPLIT(&tok, "Cafe\xcc\x81", "caf\xc3\xa9");
    /* Numbers and punctuation. */
    SPLIT(&tok, "pi=3.14159, mp3 and 1,000km!", "pi", "=", "3", ".", "14159", ",", "mp", "3",
          "and", "1", ",", "000", "km", "!");
    SPLIT(&tok, "(a)--[b]...", "(", "a", ")", "-", "-", "[", "b", "]", ".", ".", ".");
    /* Apostrophes: inside a word kept; curly ones lumped to ASCII. */
    SPLIT(&tok, "Don't stop o'clock dogs' 'tis", "don't", "stop", "o'clock", "dogs", "'",
          "'", "tis");
    SPLIT(&tok, "don\xe2\x80\x99t", "don't");
    /* Unicode dash lumped to '-', em-space separates. */
    SPLIT(&tok, "a\xe2\x80\x90" "b\xe2\x80\x83" "c", "a", "-", "b", "c");
    /* Whitespace and controls: tabs/newlines separate, other controls vanish,
     * zero-width space and soft hyphen are ignorable and vanish. */
    SPLIT(&tok, "  one\ttwo\r\nthree\x01x \xe2\x80\x8b \xc2\xad  ", "one", "two", "threex");
    SPLIT(&tok, "co\xc2\xadop", "coop");
    /* Symbols, one per token; a combining mark stays with its base. */
    SPLIT(&tok, "$5 \xe2\x82\xac" "10 #tag @me", "$", "5", "\xe2\x82\xac", "10", "#", "tag", "@",
          "me");
    SPLIT(&tok, "\xe2\x86\x92\xcc\xb8x", "\xe2\x86\x9b", "x"); /* -> + stroke composes */
    /* Non-Latin scripts. */
    SPLIT(&tok, "\xce\x9a\xce\xb1\xce\xbb\xce\xb7\xce\xbc\xce\xad\xcf\x81\xce\xb1!",
          "\xce\xba\xce\xb1\xce\xbb\xce\xb7\xce\xbc\xce\xad\xcf\x81\xce\xb1", "!");
    SPLIT(&tok, "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e 123", "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e",
          "123");
    /* Special token names cannot be produced. */
    SPLIT(&tok, "<pad><unk>", "<", "pad", ">", "<", "unk", ">");
    SPLIT_NONE(&tok, "");
    SPLIT_NONE(&tok, "   \t \n ");

    /* max_tokens stops early. */
    CHECK(attend_splitter_split(&tok, "a b c d e", 9, 3, &err) == ATTEND_OK, "%s", err.msg);
    CHECK(tok.count == 3 && strcmp(attend_splitter_token(&tok, 2, NULL), "c") == 0,
          "max_tokens 3 gave %zu", tok.count);

    /* Invalid UTF-8 is rejected with the byte offset. */
    err.msg[0] = 0;
    attend_status st = attend_splitter_split(&tok, "abc\xff" "def", 7, 0, &err);
    CHECK(st == ATTEND_ERR_FORMAT, "invalid UTF-8 accepted (status %d)", (int)st);
    CHECK(strstr(err.msg, "invalid UTF-8") && strstr(err.msg, "byte 3"), "message: %s",
          err.msg);
    CHECK(tok.count == 0, "tokens left after an error");
    st = attend_splitter_split(&tok, "\xed\xa0\x80", 3, 0, &err);
    CHECK(st == ATTEND_ERR_FORMAT, "surrogate accepted");

    /* Long texts are cut at a character boundary, never mid-sequence. */
    size_t big = 3 * ATTEND_SPLITTER_MAX_TEXT + 7;
    char *s = malloc(big);
    for (size_t i = 0; i + 2 <= big; i += 2) memcpy(s + i, "\xc3\xa9", 2); /* é é é ... */
    s[big - 1] = 'x';
    st = attend_splitter_split(&tok, s, big, 0, &err);
    CHECK(st == ATTEND_OK && tok.truncated == 1 && tok.count == 1, "long text: st %d trunc %d n %zu",
          (int)st, tok.truncated, tok.count);
    if (st == ATTEND_OK && tok.count == 1) {
        size_t len;
        attend_splitter_token(&tok, 0, &len);
        CHECK(len == ATTEND_SPLITTER_MAX_TEXT, "long token has %zu bytes", len);
    }
    tok.max_text_bytes = 5; /* cut inside the third é: keeps 2 */
    st = attend_splitter_split(&tok, s, big, 0, &err);
    CHECK(st == ATTEND_OK && tok.count == 1 && tok.len[0] == 4, "cut at 5 gave %zu bytes",
          tok.count ? tok.len[0] : 0);
    free(s);
    attend_splitter_free(&tok);
    attend_splitter_free(&tok); /* double free of a freed tokenizer is harmless */
}

static void add_text(attend_vocab_counter *c, attend_splitter *tok, const char *text) {
    attend_error err = {0};
    attend_status st = attend_vocab_counter_add_text(c, tok, text, strlen(text), &err);
    CHECK(st == ATTEND_OK, "add_text: %s", err.msg);
}

static int vocab_equal(const attend_vocab *a, const attend_vocab *b) {
    if (attend_vocab_size(a) != attend_vocab_size(b)) return 0;
    for (size_t i = 0; i < attend_vocab_size(a); i++)
        if (strcmp(attend_vocab_token(a, i), attend_vocab_token(b, i)) != 0) return 0;
    return 1;
}

static void test_vocab(void) {
    attend_splitter tok;
    attend_vocab_counter c;
    attend_error err = {0};
    attend_splitter_init(&tok, &err);
    attend_vocab_counter_init(&c, &err);
    /* counts: the 4, cat 3, sat 2, mat 2, a 1, dog 1, "." 3 */
    add_text(&c, &tok, "The cat sat.");
    add_text(&c, &tok, "the cat sat on the mat.");
    add_text(&c, &tok, "THE CAT, a dog; mat.");
    CHECK(c.total == 19, "total %llu", (unsigned long long)c.total);

    attend_vocab v;
    CHECK(attend_vocab_build(&v, &c, 0, 0, &err) == ATTEND_OK, "build: %s", err.msg);
    const char *want[] = {"<pad>", "<unk>", "<cls>", "the", ".", "cat", "mat", "sat",
                          ",", ";", "a", "dog", "on"};
    size_t nwant = sizeof want / sizeof want[0];
    CHECK(attend_vocab_size(&v) == nwant, "size %zu, expected %zu", attend_vocab_size(&v), nwant);
    for (size_t i = 0; i < nwant && i < attend_vocab_size(&v); i++)
        CHECK(strcmp(attend_vocab_token(&v, i), want[i]) == 0, "id %zu: \"%s\", expected \"%s\"",
              i, attend_vocab_token(&v, i), want[i]);
    CHECK(attend_vocab_token(&v, nwant) == NULL, "token past the end");
    CHECK(attend_vocab_id(&v, "cat", 3) == 5, "id of cat %d", attend_vocab_id(&v, "cat", 3));
    CHECK(attend_vocab_id(&v, "<pad>", 5) == 0, "id of <pad>");
    CHECK(attend_vocab_id(&v, "zebra", 5) == ATTEND_VOCAB_UNK, "unknown -> unk");
    CHECK(attend_vocab_id(&v, "ca", 2) == ATTEND_VOCAB_UNK, "prefix -> unk");

    /* Encoding through the tokenizer interface, with truncation. */
    {
        char *json = NULL;
        attend_vocab copy;
        attend_tokenizer *words = NULL;
        void *sc = NULL;
        CHECK(attend_vocab_to_json(&v, &json, &err) == ATTEND_OK &&
                  attend_vocab_from_json(&copy, json, &err) == ATTEND_OK &&
                  attend_tokenizer_words_new(&words, &copy, &err) == ATTEND_OK &&
                  attend_tokenizer_scratch_new(words, &sc, &err) == ATTEND_OK,
              "tokenizer: %s", err.msg);
        free(json);
        if (words && sc) {
            CHECK(words->pad_id == 0 && words->unk_id == 1 && words->cls_id == 2 &&
                      words->sep_id == -1 && words->vocab_size == nwant,
                  "special ids %d %d %d %d", (int)words->pad_id, (int)words->unk_id,
                  (int)words->cls_id, (int)words->sep_id);
            int32_t ids[8];
            size_t n = 99, total = 99;
            const char *text = "The zebra SAT on the mat.";
            CHECK(attend_tokenizer_encode(words, sc, text, strlen(text), ids, 8, &n, &total, &err) ==
                      ATTEND_OK, "encode: %s", err.msg);
            int32_t e1[] = {3, 1, 7, 12, 3, 6, 4};
            CHECK(n == 7 && total == 7 && memcmp(ids, e1, sizeof e1) == 0, "encode gave n=%zu", n);
            CHECK(strcmp(attend_tokenizer_piece(words, sc, 1), "zebra") == 0,
                  "an unknown word's piece is its normalised text, got '%s'",
                  attend_tokenizer_piece(words, sc, 1));
            CHECK(attend_tokenizer_encode(words, sc, text, strlen(text), ids, 3, &n, &total, &err) ==
                          ATTEND_OK && n == 3 && total == 7 && memcmp(ids, e1, 3 * sizeof *ids) == 0,
                  "cut at 3 gave n=%zu, total %zu", n, total);
            CHECK(attend_tokenizer_encode(words, sc, text, strlen(text), ids, 3, &n, NULL, &err) ==
                          ATTEND_OK && n == 3 && memcmp(ids, e1, 3 * sizeof *ids) == 0,
                  "cut at 3 without a total gave n=%zu", n);
            CHECK(attend_tokenizer_encode(words, sc, "", 0, ids, 4, &n, &total, &err) == ATTEND_OK &&
                      n == 0 && total == 0, "empty text gives %zu ids", n);
            CHECK(attend_tokenizer_encode(words, sc, "x", 1, ids, 0, &n, NULL, &err) == ATTEND_OK &&
                      n == 0, "no room gives %zu ids", n);
            CHECK(attend_tokenizer_encode(words, sc, "a\xff", 2, ids, 4, &n, NULL, &err) ==
                      ATTEND_ERR_FORMAT, "invalid UTF-8 encoded");
            CHECK(attend_tokenizer_token(words, 5) && !strcmp(attend_tokenizer_token(words, 5), "cat") &&
                      attend_tokenizer_token(words, (int32_t)nwant) == NULL &&
                      attend_tokenizer_token(words, -1) == NULL, "id -> token");
        }
        attend_tokenizer_scratch_free(words, sc);
        attend_tokenizer_free(words);
    }

    /* min_freq and max_vocab. */
    attend_vocab v2;
    CHECK(attend_vocab_build(&v2, &c, 2, 0, &err) == ATTEND_OK, "build min 2: %s", err.msg);
    CHECK(attend_vocab_size(&v2) == 8, "min_freq 2 size %zu", attend_vocab_size(&v2));
    CHECK(attend_vocab_id(&v2, "dog", 3) == ATTEND_VOCAB_UNK, "dog kept at min_freq 2");
    CHECK(attend_vocab_id(&v2, "sat", 3) == 7, "sat id %d", attend_vocab_id(&v2, "sat", 3));
    attend_vocab_free(&v2);
    CHECK(attend_vocab_build(&v2, &c, 1, 5, &err) == ATTEND_OK, "build max 5: %s", err.msg);
    CHECK(attend_vocab_size(&v2) == 5 && strcmp(attend_vocab_token(&v2, 4), ".") == 0,
          "max_vocab 5 size %zu", attend_vocab_size(&v2));
    attend_vocab_free(&v2);
    CHECK(attend_vocab_build(&v2, &c, 1, 3, &err) == ATTEND_OK && attend_vocab_size(&v2) == 3,
          "max_vocab 3 keeps only specials");
    attend_vocab_free(&v2);
    CHECK(attend_vocab_build(&v2, &c, 1, 2, &err) == ATTEND_ERR_ARG, "max_vocab 2 accepted");
    CHECK(attend_vocab_build(&v2, &c, 100, 0, &err) == ATTEND_OK && attend_vocab_size(&v2) == 3,
          "min_freq above every count keeps only specials");
    attend_vocab_free(&v2);

    /* Determinism: the same counts added in another order give the same vocabulary. */
    attend_vocab_counter c2;
    attend_vocab_counter_init(&c2, &err);
    add_text(&c2, &tok, "THE CAT, a dog; mat.");
    add_text(&c2, &tok, "the cat sat on the mat.");
    add_text(&c2, &tok, "The cat sat.");
    CHECK(attend_vocab_build(&v2, &c2, 0, 0, &err) == ATTEND_OK, "build: %s", err.msg);
    CHECK(vocab_equal(&v, &v2), "vocabulary depends on insertion order");
    attend_vocab_free(&v2);
    attend_vocab_counter_free(&c2);

    /* Round trip through JSON. */
    char *json = NULL;
    CHECK(attend_vocab_to_json(&v, &json, &err) == ATTEND_OK, "to_json: %s", err.msg);
    CHECK(json && strncmp(json, "[\"<pad>\",\"<unk>\",\"<cls>\",\"the\"", 30) == 0, "json: %s",
          json ? json : "(null)");
    attend_vocab v3;
    CHECK(attend_vocab_from_json(&v3, json, &err) == ATTEND_OK, "from_json: %s", err.msg);
    CHECK(vocab_equal(&v, &v3), "round trip changed the vocabulary");
    CHECK(attend_vocab_id(&v3, "mat", 3) == 6, "lookup after round trip");
    attend_vocab_free(&v3);
    free(json);
    attend_vocab_free(&v);
    attend_vocab_counter_free(&c);

    /* A large vocabulary with non-ASCII tokens round-trips and looks up. */
    attend_vocab_counter_init(&c, &err);
    char buf[64];
    for (int i = 0; i < 5000; i++) {
        int len = snprintf(buf, sizeof buf, "w\xc3\xa9%d\"\\", i);
        for (int r = 0; r <= i % 7; r++) attend_vocab_counter_add(&c, buf, (size_t)len, &err);
    }
    CHECK(attend_vocab_build(&v, &c, 0, 0, &err) == ATTEND_OK, "big build: %s", err.msg);
    CHECK(attend_vocab_size(&v) == 5003, "big size %zu", attend_vocab_size(&v));
    CHECK(attend_vocab_to_json(&v, &json, &err) == ATTEND_OK, "big to_json");
    CHECK(attend_vocab_from_json(&v3, json, &err) == ATTEND_OK, "big from_json: %s", err.msg);
    CHECK(vocab_equal(&v, &v3), "big round trip");
    int found = 1;
    for (int i = 0; i < 5000; i++) {
        int len = snprintf(buf, sizeof buf, "w\xc3\xa9%d\"\\", i);
        int32_t id = attend_vocab_id(&v3, buf, (size_t)len);
        if (id < 3 || strcmp(attend_vocab_token(&v3, (size_t)id), buf) != 0) found = 0;
    }
    CHECK(found, "big lookups");
    /* Ordering: counts 7 first (i % 7 == 6), ties by bytes. */
    CHECK(strcmp(attend_vocab_token(&v, 3), "w\xc3\xa9" "1000\"\\") == 0, "first big token %s",
          attend_vocab_token(&v, 3));
    free(json);
    attend_vocab_free(&v);
    attend_vocab_free(&v3);
    attend_vocab_counter_free(&c);
    attend_splitter_free(&tok);
}

static void test_vocab_json_errors(void) {
    const char *bad[] = {
        "",
        "not json",
        "{\"a\": 1}",
        "[\"<pad>\",\"<unk>\",\"<cls>\",\"x\"",   /* unterminated */
        "[\"<pad>\",\"<unk>\",\"<cls>\"] junk",   /* trailing garbage */
        "[]",
        "[\"<pad>\",\"<unk>\"]",
        "[\"<unk>\",\"<pad>\",\"<cls>\",\"a\"]",  /* specials out of place */
        "[\"<pad>\",\"<unk>\",\"<cls>\",\"a\",\"b\",\"a\"]",  /* duplicate */
        "[\"<pad>\",\"<unk>\",\"<cls>\",\"a\",\"<unk>\"]",    /* special repeated */
        "[\"<pad>\",\"<unk>\",\"<cls>\",\"a\",3]",            /* not a string */
        "[\"<pad>\",\"<unk>\",\"<cls>\",null]",
        "[\"<pad>\",\"<unk>\",\"<cls>\",[\"a\"]]",
        "[\"<pad>\",\"<unk>\",\"<cls>\",\"\"]",               /* empty token */
        "[\"<pad>\",\"<unk>\",\"<cls>\",\"a\xff\"]",          /* invalid UTF-8 */
        "[\"<pad>\",\"<unk>\",\"<cls>\",\"\\ud800\"]",        /* lone surrogate escape */
        "\"<pad>\"",
        "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        attend_vocab v;
        attend_error err = {0};
        attend_status st = attend_vocab_from_json(&v, bad[i], &err);
        CHECK(st == ATTEND_ERR_FORMAT && err.msg[0], "bad vocabulary %zu accepted (%d): %s", i,
              (int)st, bad[i]);
        CHECK(strncmp(err.msg, "vocabulary", 10) == 0, "message %zu: %s", i, err.msg);
        attend_vocab_free(&v); /* safe after a failed parse */
    }
    /* A minimal valid one, with whitespace. */
    attend_vocab v;
    attend_error err = {0};
    CHECK(attend_vocab_from_json(&v, " [ \"<pad>\" , \"<unk>\", \"<cls>\" ]\n", &err) ==
              ATTEND_OK && attend_vocab_size(&v) == 3,
          "minimal vocabulary: %s", err.msg);
    attend_vocab_free(&v);
    CHECK(attend_vocab_from_json(&v, NULL, &err) == ATTEND_ERR_ARG, "NULL json");
}

/* Random byte strings (biased towards UTF-8 pieces and separators) never
 * crash the tokenizer or the vocabulary parser, and every token that comes
 * out is non-empty, valid UTF-8 and free of whitespace. */
static void test_fuzz(void) {
    static const char *const pieces[] = {"a", "Z", "7", " ", "\t", "\n", "'", "-", ".", "\"",
                                         "\xc3\xa9", "\xcc\x81", "\xe2\x80\x99", "\xef\xbc\xa6",
                                         "\xf0\x9f\x98\x80", "\xc3", "\x80", "\xff", "\xed\xa0\x80",
                                         "\xe2\x80\x8b", "\x01", "\xc2\xa0", "\xef\xb7\xba", "<"};
    const size_t npieces = sizeof pieces / sizeof pieces[0];
    attend_splitter tok;
    attend_error err = {0};
    attend_splitter_init(&tok, &err);
    tok.max_text_bytes = 200;
    char buf[512];
    int ok = 1, n_valid = 0;
    for (int iter = 0; iter < 3000; iter++) {
        size_t len = 0;
        size_t parts = (size_t)fabsf(test_randn() * test_randn() * 20.0f);
        if (parts > 100) parts = 100;
        for (size_t p = 0; p < parts; p++) {
            test_rng_ = test_rng_ * 6364136223846793005ull + 1442695040888963407ull;
            const char *piece = pieces[(test_rng_ >> 33) % npieces];
            size_t pl = strlen(piece);
            memcpy(buf + len, piece, pl);
            len += pl;
        }
        attend_status st = attend_splitter_split(&tok, buf, len, 0, &err);
        if (st != ATTEND_OK && st != ATTEND_ERR_FORMAT) ok = 0;
        if (st == ATTEND_OK) {
            n_valid++;
            for (size_t i = 0; i < tok.count; i++) {
                size_t tl;
                const char *t = attend_splitter_token(&tok, i, &tl);
                if (tl == 0 || !attend_utf8_valid(t, tl, NULL) || strlen(t) != tl ||
                    strpbrk(t, " \t\n"))
                    ok = 0;
            }
        }
    }
    CHECK(ok, "fuzzed tokenizer produced a bad token or status");
    CHECK(n_valid > 300, "too few valid fuzz inputs (%d)", n_valid);
    attend_splitter_free(&tok);

    /* Truncations and byte flips of a valid serialised vocabulary. */
    const char *good = "[\"<pad>\",\"<unk>\",\"<cls>\",\"caf\u00e9\",\"x\\\"y\",\"12\"]";
    size_t glen = strlen(good);
    int parsed = 0;
    for (size_t cut = 0; cut <= glen; cut++) {
        for (int flip = 0; flip < 4; flip++) {
            memcpy(buf, good, cut);
            buf[cut] = 0;
            if (flip && cut > 0) buf[(cut * 7u + (size_t)flip) % cut] ^= (char)(1 << (flip * 2));
            attend_vocab v;
            attend_status st = attend_vocab_from_json(&v, buf, &err);
            if (st == ATTEND_OK) {
                parsed++;
                if (attend_vocab_size(&v) < 3) ok = 0;
            } else if (st != ATTEND_ERR_FORMAT) {
                ok = 0;
            }
            attend_vocab_free(&v);
        }
    }
    CHECK(ok, "fuzzed vocabulary JSON gave a bad status");
    CHECK(parsed >= 1, "the unmodified vocabulary did not parse");
}

int main(void) {
    test_utf8();
    test_split();
    test_vocab();
    test_vocab_json_errors();
    test_fuzz();
    return test_summary("test_tokenizer");
}
