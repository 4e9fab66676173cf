/* WordPiece tokenizer (src/text/wordpiece.c) against Hugging Face's fast
 * tokenizer, and its own promises.
 *
 *  - golden: every line of tests/wordpiece/corpus.txt under every
 *    configuration of configs.txt gives exactly the ids the tokenizers
 *    package gave (tests/gen_wordpiece_golden.py wrote them);
 *  - code points: every code point's clean_text, pre-tokenizer, NFD,
 *    combining class, nonspacing and lowercase answers equal the crate's
 *    (codepoints.txt);
 *  - vocab.txt errors name file and line; options from a model folder;
 *    invalid UTF-8; the cut at max_text_bytes; truncation counts; the
 *    max_input_chars_per_word rule; [CLS]/[SEP];
 *  - many threads sharing one tokenizer give the serial ids;
 *  - the fuzz target's kept inputs (fuzz/corpus/wordpiece, fuzz/regress/wordpiece).
 * Run from the repository root (ctest does). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "text/wordpiece.h"
#include "text/wordpiece_unicode.h"
#include "test.h"
#include "test_tmp.h"

#include <dirent.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>
#include <utf8proc.h>

#define LLVMFuzzerTestOneInput fuzz_target_wordpiece
#include "../fuzz/fuzz_wordpiece.c"
#undef LLVMFuzzerTestOneInput

#define FIX "tests/wordpiece/"

/* ------------------------------------------------------------------------ */
/* Fixture reading                                                          */
/* ------------------------------------------------------------------------ */

/* The whole file, NUL-terminated; NULL (and a failed check) if unreadable. */
static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    CHECK(f != NULL, "cannot open %s (run from the repository root)", path);
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0;
    char *b = malloc(cap + 1);
    for (;;) {
        n += fread(b + n, 1, cap - n, f);
        if (n < cap) break;
        cap *= 2;
        b = realloc(b, cap + 1);
    }
    fclose(f);
    b[n] = 0;
    if (len) *len = n;
    return b;
}

/* Splits buf in place at '\n' into lines (the last line needs no '\n'). */
static char **split_lines(char *buf, size_t len, size_t *n) {
    size_t cap = 1024, k = 0;
    char **lines = malloc(cap * sizeof *lines);
    char *p = buf, *end = buf + len;
    while (p < end) {
        char *q = memchr(p, '\n', (size_t)(end - p));
        if (k == cap) lines = realloc(lines, (cap *= 2) * sizeof *lines);
        lines[k++] = p;
        if (!q) break;
        *q = 0;
        p = q + 1;
    }
    *n = k;
    return lines;
}

/* A corpus line's text: \\ \n \r \0 are escapes. Writes into out (at least
 * strlen(s) bytes) and returns the length. */
static size_t unescape(const char *s, char *out) {
    size_t n = 0;
    for (; *s; s++) {
        if (*s != '\\') {
            out[n++] = *s;
            continue;
        }
        s++;
        out[n++] = *s == 'n' ? '\n' : *s == 'r' ? '\r' : *s == '0' ? '\0' : *s;
    }
    return n;
}

/* Ids of a space-separated line into *ids (malloc'ed); returns the count. */
static size_t parse_ids(const char *s, int32_t **ids) {
    size_t cap = 16, n = 0;
    *ids = malloc(cap * sizeof **ids);
    while (*s) {
        while (*s == ' ') s++;
        if (!*s) break;
        char *e;
        long v = strtol(s, &e, 10);
        if (e == s) break;
        if (n == cap) *ids = realloc(*ids, (cap *= 2) * sizeof **ids);
        (*ids)[n++] = (int32_t)v;
        s = e;
    }
    return n;
}

/* Prints text with the corpus escapes, cut near 160 bytes (at a character
 * boundary). */
static void print_text(const char *t, size_t n) {
    size_t show = n;
    if (show > 160) {
        show = 160;
        while (show > 0 && ((unsigned char)t[show] & 0xC0) == 0x80) show--;
    }
    fputc('"', stderr);
    for (size_t i = 0; i < show; i++) {
        unsigned char c = (unsigned char)t[i];
        if (c == '\n') fputs("\\n", stderr);
        else if (c == '\r') fputs("\\r", stderr);
        else if (c == 0) fputs("\\0", stderr);
        else if (c == '\\') fputs("\\\\", stderr);
        else fputc(c, stderr);
    }
    fprintf(stderr, n > 160 ? "\"... (%zu bytes)" : "\"", n);
}

static void print_ids(const char *what, const int32_t *ids, size_t n) {
    fprintf(stderr, "    %s (%zu):", what, n);
    for (size_t i = 0; i < n && i < 40; i++) fprintf(stderr, " %d", ids[i]);
    fprintf(stderr, n > 40 ? " ...\n" : "\n");
}

/* ------------------------------------------------------------------------ */
/* Golden test                                                              */
/* ------------------------------------------------------------------------ */

typedef struct {
    char name[64], vocab[64], same_as[64];
    attend_wordpiece_options opt;
    size_t cls_sep;
    int32_t **ids; /* expected ids per line, after "=" and "T" are resolved */
    size_t *n;
} golden_config;

typedef struct {
    char **text; /* unescaped lines */
    size_t *len;
    size_t n;
} corpus;

static int load_corpus(corpus *c) {
    size_t len;
    char *buf = read_file(FIX "corpus.txt", &len);
    if (!buf) return 0;
    char **lines = split_lines(buf, len, &c->n);
    c->text = malloc(c->n * sizeof *c->text);
    c->len = malloc(c->n * sizeof *c->len);
    for (size_t i = 0; i < c->n; i++) {
        c->text[i] = malloc(strlen(lines[i]) + 1);
        c->len[i] = unescape(lines[i], c->text[i]);
    }
    free(lines);
    free(buf);
    return 1;
}

static void free_corpus(corpus *c) {
    for (size_t i = 0; i < c->n; i++) free(c->text[i]);
    free(c->text);
    free(c->len);
}

/* Parses one configs.txt line ("name key=value ..."). */
static int parse_config(const char *line, golden_config *g) {
    memset(g, 0, sizeof *g);
    attend_wordpiece_options_default(&g->opt);
    g->opt.max_text_bytes = 1 << 20; /* the corpus has lines up to 60 KB */
    const char *p = line;
    size_t k = strcspn(p, " ");
    snprintf(g->name, sizeof g->name, "%.*s", (int)k, p);
    p += k;
    while (*p == ' ') {
        p++;
        char key[64], val[64];
        if (sscanf(p, "%63[^=]=%63s", key, val) != 2) return 0;
        long v = strtol(val, NULL, 10);
        if (!strcmp(key, "vocab")) snprintf(g->vocab, sizeof g->vocab, "%s", val);
        else if (!strcmp(key, "same_as")) snprintf(g->same_as, sizeof g->same_as, "%s", val);
        else if (!strcmp(key, "lowercase")) g->opt.lowercase = (int)v;
        else if (!strcmp(key, "strip_accents")) g->opt.strip_accents = (int)v;
        else if (!strcmp(key, "handle_chinese_chars")) g->opt.handle_chinese_chars = (int)v;
        else if (!strcmp(key, "clean_text")) g->opt.clean_text = (int)v;
        else if (!strcmp(key, "match_special_tokens")) g->opt.match_special_tokens = (int)v;
        else if (!strcmp(key, "cls_sep")) g->cls_sep = (size_t)v;
        else return 0;
        p += strcspn(p, " ");
    }
    return g->vocab[0] != 0;
}

/* The expected ids of g for every line; "=" and "T" refer to base. */
static int load_expected(golden_config *g, const golden_config *base, size_t nlines,
                         const attend_wordpiece *wp) {
    char path[256];
    snprintf(path, sizeof path, FIX "expected-%s.txt", g->name);
    size_t len, n;
    char *buf = read_file(path, &len);
    if (!buf) return 0;
    char **lines = split_lines(buf, len, &n);
    CHECK(n == nlines, "%s: %zu lines, the corpus has %zu", path, n, nlines);
    g->ids = calloc(nlines, sizeof *g->ids);
    g->n = calloc(nlines, sizeof *g->n);
    int ok = n == nlines;
    for (size_t i = 0; ok && i < n; i++) {
        if ((!strcmp(lines[i], "=") || !strcmp(lines[i], "T")) && !base) {
            CHECK(0, "%s line %zu: \"%s\" without same_as", path, i + 1, lines[i]);
            ok = 0;
        } else if (!strcmp(lines[i], "=")) {
            g->n[i] = base->n[i];
            g->ids[i] = malloc((base->n[i] + 1) * sizeof(int32_t));
            memcpy(g->ids[i], base->ids[i], base->n[i] * sizeof(int32_t));
        } else if (!strcmp(lines[i], "T")) {
            attend_wordpiece_specials sp = attend_wordpiece_special_ids(wp);
            size_t keep = base->n[i] < g->cls_sep - 2 ? base->n[i] : g->cls_sep - 2;
            g->ids[i] = malloc((keep + 2) * sizeof(int32_t));
            g->ids[i][0] = sp.cls;
            memcpy(g->ids[i] + 1, base->ids[i], keep * sizeof(int32_t));
            g->ids[i][keep + 1] = sp.sep;
            g->n[i] = keep + 2;
        } else {
            g->n[i] = parse_ids(lines[i], &g->ids[i]);
        }
    }
    free(lines);
    free(buf);
    return ok;
}

static void free_expected(golden_config *g, size_t nlines) {
    if (g->ids)
        for (size_t i = 0; i < nlines; i++) free(g->ids[i]);
    free(g->ids);
    free(g->n);
}

static void test_golden(void) {
    corpus c;
    if (!load_corpus(&c)) return;
    size_t len, ncfg;
    char *buf = read_file(FIX "configs.txt", &len);
    if (!buf) return;
    char **lines = split_lines(buf, len, &ncfg);
    golden_config *cfg = calloc(ncfg, sizeof *cfg);
    size_t nc = 0, checked = 0, bad_lines = 0;
    attend_wordpiece_scratch *s;
    attend_error err = {0};
    CHECK(attend_wordpiece_scratch_new(&s, &err) == ATTEND_OK, "scratch: %s", err.msg);
    int32_t *got = malloc(((size_t)1 << 20) * sizeof *got);
    for (size_t li = 0; li < ncfg; li++) {
        if (lines[li][0] == '#' || !lines[li][0]) continue;
        golden_config *g = &cfg[nc];
        if (!parse_config(lines[li], g)) {
            CHECK(0, "configs.txt line %zu unreadable: %s", li + 1, lines[li]);
            continue;
        }
        const golden_config *base = NULL;
        for (size_t j = 0; j < nc; j++)
            if (!strcmp(cfg[j].name, g->same_as)) base = &cfg[j];
        char path[256];
        snprintf(path, sizeof path, FIX "%s", g->vocab);
        attend_wordpiece *wp = NULL;
        attend_status st = attend_wordpiece_load(&wp, path, &g->opt, &err);
        CHECK(st == ATTEND_OK, "%s: load %s: %s", g->name, path, err.msg);
        if (st) continue;
        nc++;
        if (!load_expected(g, base, c.n, wp)) {
            attend_wordpiece_free(wp);
            continue;
        }
        size_t mismatches = 0;
        for (size_t i = 0; i < c.n; i++) {
            attend_wordpiece_result res;
            size_t cap = (size_t)1 << 20;
            if (g->cls_sep)
                st = attend_wordpiece_encode_cls_sep(wp, s, c.text[i], c.len[i], got, g->cls_sep,
                                                     &res, &err);
            else
                st = attend_wordpiece_encode(wp, s, c.text[i], c.len[i], got, cap, &res, &err);
            int same = st == ATTEND_OK && res.n_written == g->n[i] &&
                       memcmp(got, g->ids[i], res.n_written * sizeof *got) == 0;
            if (same && g->cls_sep) {
                /* n_total: the untruncated length, specials included. */
                size_t full = base ? base->n[i] + 2 : res.n_total;
                same = res.n_total == full;
            }
            if (!same) {
                if (mismatches < 5) {
                    fprintf(stderr, "golden %s: line %zu differs: ", g->name, i + 1);
                    print_text(c.text[i], c.len[i]);
                    fputc('\n', stderr);
                    if (st) fprintf(stderr, "    error: %s\n", err.msg);
                    print_ids("expected", g->ids[i], g->n[i]);
                    print_ids("got     ", got, st ? 0 : res.n_written);
                    if (g->cls_sep) fprintf(stderr, "    n_total %zu\n", res.n_total);
                }
                mismatches++;
            }
        }
        CHECK(mismatches == 0, "golden %s: %zu of %zu lines differ from Hugging Face", g->name,
              mismatches, c.n);
        printf("golden %-30s %zu lines checked, %zu differ\n", g->name, c.n, mismatches);
        checked += c.n;
        bad_lines += mismatches;
        attend_wordpiece_free(wp);
    }
    printf("golden: %zu lines x %zu configurations = %zu encodings, %zu differ\n", c.n, nc, checked,
           bad_lines);
    CHECK(nc >= 9, "only %zu configurations", nc);
    for (size_t j = 0; j < nc; j++) free_expected(&cfg[j], c.n);
    free(cfg);
    free(got);
    free(lines);
    free(buf);
    attend_wordpiece_scratch_free(s);
    free_corpus(&c);
}

/* ------------------------------------------------------------------------ */
/* Every code point                                                         */
/* ------------------------------------------------------------------------ */

/* Per code point expectations from codepoints.txt. */
enum { CP_CLEAN_D = 1, CP_CLEAN_S = 2, CP_SPLIT_P = 4, CP_SPLIT_W = 8, CP_CCC = 16,
       CP_CHINESE = 32, CP_MN = 64 };

typedef struct {
    uint32_t cp;
    uint32_t to[4];
    size_t n;
} cp_map;

static size_t parse_hex_list(const char *s, uint32_t *to) {
    if (!strcmp(s, "-")) return 0;
    size_t n = 0;
    while (*s && n < 4) {
        to[n++] = (uint32_t)strtoul(s, (char **)&s, 16);
        if (*s == ',') s++;
    }
    return n;
}

static void test_codepoints(void) {
    size_t len, n;
    char *buf = read_file(FIX "codepoints.txt", &len);
    if (!buf) return;
    char **lines = split_lines(buf, len, &n);
    unsigned char *flag = calloc(0x110000, 1);
    cp_map *nfd = malloc(n * sizeof *nfd), *lower = malloc(n * sizeof *lower);
    size_t nnfd = 0, nlower = 0;
    uint32_t hangul_first = 1, hangul_last = 0;
    for (size_t i = 0; i < n; i++) {
        char a[32], b[32], c[64];
        if (sscanf(lines[i], "range %31s %31s %31s", a, b, c) == 3) {
            static const struct { const char *name; unsigned char bit; } props[] = {
                {"cleanD", CP_CLEAN_D}, {"cleanS", CP_CLEAN_S}, {"splitP", CP_SPLIT_P},
                {"splitW", CP_SPLIT_W}, {"cccR", CP_CCC}, {"chineseC", CP_CHINESE},
                {"mnM", CP_MN}};
            unsigned char bit = 0;
            for (size_t k = 0; k < sizeof props / sizeof props[0]; k++)
                if (!strcmp(a, props[k].name)) bit = props[k].bit;
            CHECK(bit, "codepoints.txt line %zu: unknown property %s", i + 1, a);
            for (uint32_t cp = (uint32_t)strtoul(b, NULL, 16); cp <= strtoul(c, NULL, 16); cp++)
                flag[cp] |= bit;
        } else if (sscanf(lines[i], "map %31s %31s %63s", a, b, c) == 3) {
            cp_map *m = !strcmp(a, "nfd") ? &nfd[nnfd++] : &lower[nlower++];
            m->cp = (uint32_t)strtoul(b, NULL, 16);
            m->n = parse_hex_list(c, m->to);
        } else if (sscanf(lines[i], "hangul %31s %31s", a, b) == 2) {
            hangul_first = (uint32_t)strtoul(a, NULL, 16);
            hangul_last = (uint32_t)strtoul(b, NULL, 16);
        }
    }
    CHECK(nnfd > 2000 && nlower > 1400 && hangul_first == 0xAC00,
          "codepoints.txt: %zu nfd maps, %zu lower maps", nnfd, nlower);
    size_t bad[7] = {0}, fi = 0, li = 0, total = 0;
    static const char *const what[7] = {"clean_text", "pre-tokenizer split", "combining class",
                                        "chinese", "nonspacing mark", "NFD", "lowercase"};
    for (uint32_t cp = 0; cp < 0x110000; cp++) {
        if (cp >= 0xD800 && cp <= 0xDFFF) continue;
        total++;
        unsigned char f = flag[cp];
        int fails[7] = {0};
        char clean_want = f & CP_CLEAN_D ? 'D' : f & CP_CLEAN_S ? 'S' : 'K';
        char clean_got = attend_wp_is_control(cp) ? 'D' : attend_wp_is_whitespace(cp) ? 'S' : 'K';
        fails[0] = clean_want != clean_got;
        char split_want = f & CP_SPLIT_W ? 'W' : f & CP_SPLIT_P ? 'P' : 'N';
        char split_got = attend_wp_is_whitespace(cp) ? 'W' : attend_wp_is_punct(cp) ? 'P' : 'N';
        fails[1] = split_want != split_got;
        int ccc = attend_wp_ccc(cp);
        fails[2] = cp == 0x345 ? ccc != 240 : (ccc > 0 && ccc < 240) != !!(f & CP_CCC);
        fails[3] = attend_wp_is_chinese(cp) != !!(f & CP_CHINESE);
        fails[4] = attend_wp_is_nonspacing(cp) != !!(f & CP_MN);
        uint32_t want[4], got[ATTEND_WP_NFD_MAX];
        size_t nw, ng = attend_wp_nfd(cp, got);
        if (fi < nnfd && nfd[fi].cp == cp) {
            nw = nfd[fi].n;
            memcpy(want, nfd[fi].to, sizeof want);
            fi++;
        } else if (cp >= hangul_first && cp <= hangul_last) {
            /* Unicode 3.12: S = L V [T] */
            uint32_t si = cp - 0xAC00;
            want[0] = 0x1100 + si / 588;
            want[1] = 0x1161 + (si % 588) / 28;
            want[2] = 0x11A7 + si % 28;
            nw = si % 28 ? 3 : 2;
        } else {
            want[0] = cp;
            nw = 1;
        }
        fails[5] = nw != ng || memcmp(want, got, nw * sizeof *got) != 0;
        uint32_t lo[2];
        size_t nl = attend_wp_lower(cp, lo);
        if (li < nlower && lower[li].cp == cp) {
            nw = lower[li].n;
            memcpy(want, lower[li].to, sizeof want);
            li++;
        } else {
            want[0] = cp;
            nw = 1;
        }
        fails[6] = nw != nl || memcmp(want, lo, nw * sizeof *lo) != 0;
        for (int k = 0; k < 7; k++) {
            if (!fails[k]) continue;
            if (bad[k] < 5)
                fprintf(stderr, "code point U+%04X: %s differs from the crate's\n", (unsigned)cp,
                        what[k]);
            bad[k]++;
        }
    }
    size_t sum = 0;
    for (int k = 0; k < 7; k++) {
        CHECK(bad[k] == 0, "%zu code points differ in %s (utf8proc %s, Unicode %s)", bad[k],
              what[k], utf8proc_version(), utf8proc_unicode_version());
        sum += bad[k];
    }
    printf("code points: %zu checked in 7 properties, %zu differ\n", total, sum);
    free(flag);
    free(nfd);
    free(lower);
    free(lines);
    free(buf);
}

/* ------------------------------------------------------------------------ */
/* Units                                                                    */
/* ------------------------------------------------------------------------ */

static attend_wordpiece *load_str(const char *vocab, const attend_wordpiece_options *o) {
    attend_wordpiece *wp = NULL;
    attend_error err = {0};
    attend_status st = attend_wordpiece_load_memory(&wp, vocab, strlen(vocab), "t.txt", o, &err);
    CHECK(st == ATTEND_OK, "load: %s", err.msg);
    return wp;
}

/* Encodes text and compares with the ids want[0..nwant). */
static void check_ids(const attend_wordpiece *wp, attend_wordpiece_scratch *s, const char *text,
                      size_t tlen, const int32_t *want, size_t nwant, int line) {
    int32_t got[256];
    attend_wordpiece_result res;
    attend_error err = {0};
    attend_status st = attend_wordpiece_encode(wp, s, text, tlen, got, 256, &res, &err);
    int ok = st == ATTEND_OK && res.n_written == nwant && res.n_total == nwant &&
             memcmp(got, want, nwant * sizeof *got) == 0;
    CHECK(ok, "line %d: text \"%s\": status %d (%s), %zu ids", line, text, (int)st, err.msg,
          res.n_written);
    if (!ok) {
        print_ids("expected", want, nwant);
        print_ids("got     ", got, res.n_written);
    }
}
#define IDS(wp, s, text, ...)                                                            \
    do {                                                                                 \
        static const int32_t want_[] = {__VA_ARGS__};                                    \
        check_ids(wp, s, text, sizeof(text) - 1, want_, sizeof want_ / sizeof *want_, __LINE__); \
    } while (0)

/* Loads buf and checks it fails with status st and a message holding all
 * the given pieces. */
static void check_load_error(const char *buf, size_t len, const attend_wordpiece_options *o,
                             attend_status want, const char *piece1, const char *piece2,
                             int line) {
    attend_wordpiece *wp = NULL;
    attend_error err = {0};
    attend_status st = attend_wordpiece_load_memory(&wp, buf, len, "t.txt", o, &err);
    CHECK(st == want && !wp && strstr(err.msg, piece1) && (!piece2 || strstr(err.msg, piece2)),
          "line %d: status %d (want %d), message \"%s\"", line, (int)st, (int)want, err.msg);
    attend_wordpiece_free(wp);
}

static void test_vocab_file(void) {
    /* Errors name the file and the line. */
    check_load_error("", 0, NULL, ATTEND_ERR_FORMAT, "t.txt: empty", NULL, __LINE__);
    check_load_error("[UNK]\na\n\xff\xfe\n", 11, NULL, ATTEND_ERR_FORMAT, "t.txt:3: invalid UTF-8",
                     "byte 0", __LINE__);
    check_load_error("[UNK]\nab\xc3(\n", 11, NULL, ATTEND_ERR_FORMAT, "t.txt:2:", "byte 2",
                     __LINE__);
    check_load_error("[UNK]\na\nb\nc\na\n", 14, NULL, ATTEND_ERR_FORMAT, "t.txt:5: token \"a\"",
                     "line 2", __LINE__);
    /* "a" and "a\r" and "a " are the same token once stripped. */
    check_load_error("[UNK]\na\r\na \n", 12, NULL, ATTEND_ERR_FORMAT, "t.txt:3:", "line 2",
                     __LINE__);
    check_load_error("a\nb\n", 4, NULL, ATTEND_ERR_FORMAT, "no line holds the unknown token",
                     "[UNK]", __LINE__);
    check_load_error("\n", 1, NULL, ATTEND_ERR_FORMAT, "t.txt: no line holds", NULL, __LINE__);
    attend_wordpiece_options o;
    attend_wordpiece_options_default(&o);
    o.strip_accents = 2;
    check_load_error("[UNK]\n", 6, &o, ATTEND_ERR_ARG, "strip_accents is 2", NULL, __LINE__);
    attend_wordpiece_options_default(&o);
    o.unk_token[0] = 0;
    check_load_error("[UNK]\n", 6, &o, ATTEND_ERR_ARG, "unk_token is empty", NULL, __LINE__);
    attend_wordpiece_options_default(&o);
    memset(o.cls_token, 'x', sizeof o.cls_token);
    check_load_error("[UNK]\n", 6, &o, ATTEND_ERR_ARG, "cls_token is not NUL-terminated", NULL,
                     __LINE__);
    /* Too many lines: bounded before anything is allocated per line. */
    size_t big = ((size_t)1 << 24) + 1;
    char *many = malloc(big);
    memset(many, '\n', big);
    check_load_error(many, big, NULL, ATTEND_ERR_FORMAT, "t.txt:16777217: more than 16777216",
                     NULL, __LINE__);
    free(many);
    attend_wordpiece *wp = NULL;
    attend_error err = {0};
    attend_status st = attend_wordpiece_load(&wp, "tests/wordpiece/no-such-file.txt", NULL,
                                             &err);
    CHECK(st == ATTEND_ERR_IO && strstr(err.msg, "no-such-file.txt"), "missing file: %d %s",
          (int)st, err.msg);

    /* What the crate does with line ends and whitespace: "\r\n" is a line
     * end, trailing whitespace (ASCII or not) goes, leading stays, an empty
     * line keeps its id, the last line needs no "\n". */
    const char *v = "[PAD]\r\n[UNK]\r\nhello \t\n\n  lead\nideo\xe3\x80\x80\nmid\rdle\nnbsp\xc2\xa0\nlast";
    wp = load_str(v, NULL);
    if (wp) {
        CHECK(attend_wordpiece_vocab_size(wp) == 9, "size %zu", attend_wordpiece_vocab_size(wp));
        CHECK(attend_wordpiece_id(wp, "[UNK]", 5) == 1, "[UNK] id");
        CHECK(attend_wordpiece_id(wp, "hello", 5) == 2, "hello id");
        CHECK(!strcmp(attend_wordpiece_token(wp, 3), ""), "empty line");
        CHECK(attend_wordpiece_id(wp, "", 0) == -1, "the empty token matches nothing");
        CHECK(attend_wordpiece_id(wp, "  lead", 6) == 4, "leading spaces kept");
        CHECK(attend_wordpiece_id(wp, "ideo", 4) == 5, "U+3000 stripped");
        CHECK(attend_wordpiece_id(wp, "mid\rdle", 7) == 6, "inner \\r kept");
        CHECK(attend_wordpiece_id(wp, "nbsp", 4) == 7, "U+00A0 stripped");
        CHECK(attend_wordpiece_id(wp, "last", 4) == 8, "last line without newline");
        CHECK(attend_wordpiece_token(wp, 9) == NULL && attend_wordpiece_token(wp, -1) == NULL,
              "token out of range");
        attend_wordpiece_specials sp = attend_wordpiece_special_ids(wp);
        CHECK(sp.unk == 1 && sp.pad == 0 && sp.cls == -1 && sp.sep == -1 && sp.mask == -1,
              "specials %d %d %d %d %d", sp.unk, sp.pad, sp.cls, sp.sep, sp.mask);
        attend_wordpiece_free(wp);
    }
}

static void test_encode_units(void) {
    attend_wordpiece_scratch *s = NULL;
    attend_error err = {0};
    CHECK(attend_wordpiece_scratch_new(&s, &err) == ATTEND_OK, "%s", err.msg);
    /* ids: [UNK] 0, [CLS] 1, [SEP] 2, a 3, ##a 4, b 5, ##b 6, ab 7, un 8,
     * ##aff 9, ##able 10, ! 11, x 12, ##y 13 */
    const char *v = "[UNK]\n[CLS]\n[SEP]\na\n##a\nb\n##b\nab\nun\n##aff\n##able\n!\nx\n##y\n";
    attend_wordpiece *wp = load_str(v, NULL);
    if (!wp) return;
    IDS(wp, s, "unaffable!", 8, 9, 10, 11);
    IDS(wp, s, "ab abab bab", 7, 7, 4, 6, 5, 4, 6); /* longest first: ab, ##a, ##b */
    IDS(wp, s, "xy xyz x", 12, 13, 0, 12);          /* ##z missing: the whole word is [UNK] */
    IDS(wp, s, "AB", 7);                            /* lowercased */
    {
        attend_wordpiece_result res;
        int32_t one[1];
        CHECK(attend_wordpiece_encode(wp, s, "", 0, one, 1, &res, &err) == ATTEND_OK &&
                  res.n_total == 0 && res.bytes_read == 0,
              "empty text: %zu ids", res.n_total);
        CHECK(attend_wordpiece_encode(wp, s, " \t\xe3\x80\x80\x01 ", 8, one, 1, &res, &err) ==
                      ATTEND_OK && res.n_total == 0,
              "blank text: %zu ids", res.n_total);
    }
    /* 100 characters are one word; 101 are [UNK] (characters, not bytes). */
    char text[1024];
    memset(text, 'a', 100);
    text[100] = 0;
    {
        int32_t ids[128];
        attend_wordpiece_result res;
        CHECK(attend_wordpiece_encode(wp, s, text, 100, ids, 128, &res, &err) == ATTEND_OK &&
                  res.n_total == 100 && ids[0] == 3 && ids[99] == 4,
              "100 a: %zu ids", res.n_total);
        text[100] = 'a';
        CHECK(attend_wordpiece_encode(wp, s, text, 101, ids, 128, &res, &err) == ATTEND_OK &&
                  res.n_total == 1 && ids[0] == 0,
              "101 a: %zu ids", res.n_total);
        /* An accent that stripping removes does not count: 100 + U+0301. */
        memcpy(text + 100, "\xcc\x81", 2);
        CHECK(attend_wordpiece_encode(wp, s, text, 102, ids, 128, &res, &err) == ATTEND_OK &&
                  res.n_total == 100,
              "100 a + accent: %zu ids", res.n_total);
        /* Truncation: the first max_ids written, all counted; max_ids 0. */
        CHECK(attend_wordpiece_encode(wp, s, "a b a b a", 9, ids, 3, &res, &err) == ATTEND_OK &&
                  res.n_written == 3 && res.n_total == 5 && ids[2] == 3 && !res.text_cut,
              "truncation: %zu of %zu", res.n_written, res.n_total);
        CHECK(attend_wordpiece_encode(wp, s, "a b a b a", 9, NULL, 0, &res, &err) == ATTEND_OK &&
                  res.n_written == 0 && res.n_total == 5,
              "max_ids 0: %zu of %zu", res.n_written, res.n_total);
        CHECK(attend_wordpiece_encode(wp, s, "a", 1, NULL, 3, &res, &err) == ATTEND_ERR_ARG,
              "NULL ids with max_ids 3 accepted");
        /* [CLS] text [SEP] within max_len; n_total counts both. */
        CHECK(attend_wordpiece_encode_cls_sep(wp, s, "a b a b a", 9, ids, 4, &res, &err) ==
                      ATTEND_OK &&
                  res.n_written == 4 && res.n_total == 7 && ids[0] == 1 && ids[1] == 3 &&
                  ids[2] == 5 && ids[3] == 2,
              "cls_sep: %zu of %zu", res.n_written, res.n_total);
        CHECK(attend_wordpiece_encode_cls_sep(wp, s, "a", 1, ids, 2, &res, &err) == ATTEND_OK &&
                  res.n_written == 2 && ids[0] == 1 && ids[1] == 2,
              "cls_sep max 2");
        CHECK(attend_wordpiece_encode_cls_sep(wp, s, "a", 1, ids, 1, &res, &err) == ATTEND_ERR_ARG,
              "cls_sep max 1 accepted");
        /* Invalid UTF-8: the byte offset, nothing reported written. */
        attend_status st = attend_wordpiece_encode(wp, s, "abc\xff" "def", 7, ids, 128, &res, &err);
        CHECK(st == ATTEND_ERR_FORMAT && strstr(err.msg, "byte 3") && res.n_total == 0,
              "invalid UTF-8: %d %s", (int)st, err.msg);
        st = attend_wordpiece_encode(wp, s, "a\xed\xa0\x80", 4, ids, 128, &res, &err);
        CHECK(st == ATTEND_ERR_FORMAT && strstr(err.msg, "byte 1"), "surrogate: %s", err.msg);
        st = attend_wordpiece_encode(wp, s, "ab\xc3", 3, ids, 128, &res, &err);
        CHECK(st == ATTEND_ERR_FORMAT && strstr(err.msg, "byte 2"), "truncated: %s", err.msg);
    }
    attend_wordpiece_free(wp);

    /* max_text_bytes: the cut is at a character boundary and reported; bad
     * bytes at the cut are still an error. */
    attend_wordpiece_options o;
    attend_wordpiece_options_default(&o);
    o.max_text_bytes = 5;
    o.lowercase = 0; /* so no accent stripping either */
    wp = load_str("[UNK]\na\n\xc3\xa9\n##\xc3\xa9\n", &o);
    if (wp) {
        int32_t ids[16];
        attend_wordpiece_result res;
        attend_status st = attend_wordpiece_encode(wp, s, "a a a a a", 9, ids, 16, &res, &err);
        CHECK(st == ATTEND_OK && res.text_cut && res.bytes_read == 5 && res.n_total == 3,
              "cut ascii: %d cut %d read %zu n %zu", (int)st, res.text_cut, res.bytes_read,
              res.n_total);
        st = attend_wordpiece_encode(wp, s, "\xc3\xa9\xc3\xa9\xc3\xa9", 6, ids, 16, &res, &err);
        CHECK(st == ATTEND_OK && res.text_cut && res.bytes_read == 4 && res.n_total == 2 &&
                  ids[0] == 2 && ids[1] == 3,
              "cut utf-8: %d read %zu n %zu", (int)st, res.bytes_read, res.n_total);
        st = attend_wordpiece_encode(wp, s, "aaaa\xc3\x28", 6, ids, 16, &res, &err);
        CHECK(st == ATTEND_ERR_FORMAT && strstr(err.msg, "byte 4"), "bad bytes at the cut: %s",
              err.msg);
        st = attend_wordpiece_encode(wp, s, "aaaa\x80zz", 7, ids, 16, &res, &err);
        CHECK(st == ATTEND_ERR_FORMAT && strstr(err.msg, "byte 4"), "stray byte at the cut: %s",
              err.msg);
        st = attend_wordpiece_encode(wp, s, "aaaaa\xff", 6, ids, 16, &res, &err);
        CHECK(st == ATTEND_OK && res.text_cut, "bad bytes past the cut are not read: %s",
              err.msg);
        attend_wordpiece_free(wp);
    }
    /* max_input_chars_per_word counts characters after normalisation. */
    attend_wordpiece_options_default(&o);
    o.max_input_chars_per_word = 3;
    o.lowercase = 0;
    wp = load_str("[UNK]\na\n##a\n", &o);
    if (wp) {
        IDS(wp, s, "aaa aaaa", 1, 2, 2, 0);
        attend_wordpiece_free(wp);
    }
    /* A custom prefix, and one that could also start a word. */
    attend_wordpiece_options_default(&o);
    snprintf(o.continuing_subword_prefix, sizeof o.continuing_subword_prefix, "xx");
    wp = load_str("[UNK]\nab\nxxcd\nxx\ncd\n", &o);
    if (wp) {
        IDS(wp, s, "abcd xxcd cd", 1, 2, 2, 4);
        attend_wordpiece_free(wp);
    }
    /* Special tokens that prefix one another: the longest wins at a
     * position (ids from the tokenizers package with cls_token "<s>",
     * sep_token "<s>x"). */
    attend_wordpiece_options_default(&o);
    o.lowercase = 0;
    snprintf(o.cls_token, sizeof o.cls_token, "<s>");
    snprintf(o.sep_token, sizeof o.sep_token, "<s>x");
    wp = load_str("[UNK]\n<s>\n<s>x\na\nb\n##b\n", &o);
    if (wp) {
        IDS(wp, s, "a<s>xb", 3, 2, 4);
        IDS(wp, s, "a<s>b", 3, 1, 4);
        IDS(wp, s, "<s><s>x<s>", 1, 2, 1);
        attend_wordpiece_free(wp);
    }
    attend_wordpiece_scratch_free(s);
}

/* Known ids from the tokenizers package on the all-MiniLM-L6-v2 vocabulary
 * (printed by hand from Python), as readable examples of the rules. */
static void test_minilm_examples(void) {
    attend_wordpiece *wp = NULL;
    attend_wordpiece_scratch *s = NULL;
    attend_error err = {0};
    if (attend_wordpiece_load(&wp, FIX "vocab-minilm.txt", NULL, &err) ||
        attend_wordpiece_scratch_new(&s, &err)) {
        CHECK(0, "minilm: %s", err.msg);
        return;
    }
    CHECK(attend_wordpiece_vocab_size(wp) == 30522, "size %zu", attend_wordpiece_vocab_size(wp));
    attend_wordpiece_specials sp = attend_wordpiece_special_ids(wp);
    CHECK(sp.pad == 0 && sp.unk == 100 && sp.cls == 101 && sp.sep == 102 && sp.mask == 103,
          "specials %d %d %d %d %d", sp.pad, sp.unk, sp.cls, sp.sep, sp.mask);
    /* Special tokens in text, leftmost-longest; "[cls]" is plain text. */
    IDS(wp, s, "Hello [MASK] world[SEP]x [[CLS]] [cls]", 7592, 103, 2088, 102, 1060, 1031, 101,
        1033, 1031, 18856, 2015, 1033);
    /* İ: NFD then the dot is dropped; final sigma lowercases to plain sigma. */
    IDS(wp, s, "\xc4\xb0stanbul \xce\x9f\xce\x94\xce\x9f\xce\xa3 Stra\xc3\x9f" "e", 9960, 1169,
        29722, 29730, 29733, 2358, 27807);
    /* NUL, U+FFFD and zero-width space vanish inside the word. */
    IDS(wp, s, "a\0b\xef\xbf\xbd" "c\xe2\x80\x8b" "d", 5925, 2094);
    attend_wordpiece_free(wp);
    attend_wordpiece_scratch_free(s);
}

/* ------------------------------------------------------------------------ */
/* Options from a model folder                                              */
/* ------------------------------------------------------------------------ */

static void write_text(const char *dir, const char *name, const char *text) {
    char path[600];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL, "cannot write %s", path);
    if (!f) return;
    fputs(text, f);
    fclose(f);
}

static void remove_file(const char *dir, const char *name) {
    char path[600];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    remove(path);
}

/* A tokenizer.json shaped like all-MiniLM-L6-v2's, with a small vocab and
 * the given normalizer and added-token fragments. */
static void write_tokenizer_json(const char *dir, const char *normalizer, const char *added) {
    char buf[4096];
    snprintf(buf, sizeof buf,
             "{\"version\": \"1.0\", \"truncation\": {\"max_length\": 128}, \"padding\": null,\n"
             " \"added_tokens\": [%s],\n"
             " \"normalizer\": %s,\n"
             " \"pre_tokenizer\": {\"type\": \"BertPreTokenizer\"},\n"
             " \"post_processor\": null, \"decoder\": {\"type\": \"WordPiece\", \"prefix\": \"##\"},\n"
             " \"model\": {\"type\": \"WordPiece\", \"unk_token\": \"[UNK]\",\n"
             "   \"continuing_subword_prefix\": \"@@\", \"max_input_chars_per_word\": 50,\n"
             "   \"vocab\": {\"[PAD]\": 0, \"[UNK]\": 1, \"[CLS]\": 2, \"[SEP]\": 3, \"[MASK]\": 4, "
             "\"a\": 5}}}\n",
             added, normalizer);
    write_text(dir, "tokenizer.json", buf);
}

#define ADDED(c) "{\"id\": 0, \"content\": \"" c "\", \"single_word\": false, \"lstrip\": false, " \
                 "\"rstrip\": false, \"normalized\": false, \"special\": true}"
#define ADDED_ALL ADDED("[PAD]") "," ADDED("[UNK]") "," ADDED("[CLS]") "," ADDED("[SEP]") "," ADDED("[MASK]")

static void check_dir_error(const char *dir, attend_status want, const char *piece, int line) {
    attend_wordpiece_options o;
    attend_error err = {0};
    attend_status st = attend_wordpiece_options_from_dir(&o, dir, &err);
    CHECK(st == want && strstr(err.msg, piece), "line %d: status %d, message \"%s\"", line,
          (int)st, err.msg);
}

static void test_options_from_dir(void) {
    char dir[512];
    test_tmp_dir(dir, sizeof dir, "wordpiece_dir");
    remove_file(dir, "tokenizer.json");
    remove_file(dir, "tokenizer_config.json");
    remove_file(dir, "special_tokens_map.json");
    attend_wordpiece_options o, d;
    attend_wordpiece_options_default(&d);
    attend_error err = {0};
    /* No files: the defaults. */
    CHECK(attend_wordpiece_options_from_dir(&o, dir, &err) == ATTEND_OK &&
              memcmp(&o, &d, sizeof o) == 0,
          "empty folder: %s", err.msg);
    /* tokenizer_config.json alone (a cased model). */
    write_text(dir, "tokenizer_config.json",
               "{\"do_lower_case\": false, \"strip_accents\": true, \"tokenize_chinese_chars\": "
               "false, \"unk_token\": {\"content\": \"<unk>\", \"__type\": \"AddedToken\"}, "
               "\"cls_token\": \"<s>\", \"tokenizer_class\": \"BertTokenizerFast\"}");
    CHECK(attend_wordpiece_options_from_dir(&o, dir, &err) == ATTEND_OK && o.lowercase == 0 &&
              o.strip_accents == 1 && o.handle_chinese_chars == 0 && o.clean_text == 1 &&
              !strcmp(o.unk_token, "<unk>") && !strcmp(o.cls_token, "<s>") &&
              !strcmp(o.sep_token, "[SEP]"),
          "tokenizer_config.json: %s", err.msg);
    write_text(dir, "tokenizer_config.json", "{\"tokenizer_class\": \"RobertaTokenizer\"}");
    check_dir_error(dir, ATTEND_ERR_FORMAT, "tokenizer_class \"RobertaTokenizer\"", __LINE__);
    write_text(dir, "tokenizer_config.json", "{\"do_lower_case\": 1}");
    check_dir_error(dir, ATTEND_ERR_FORMAT, "\"do_lower_case\" is not true or false", __LINE__);
    write_text(dir, "tokenizer_config.json", "{\"do_lower_case\": tru}");
    check_dir_error(dir, ATTEND_ERR_FORMAT, "tokenizer_config.json: invalid JSON", __LINE__);
    write_text(dir, "tokenizer_config.json", "{\"do_lower_case\": true, \"strip_accents\": null}");
    /* tokenizer.json gives the model's settings; its normalizer's fields are
     * not what transformers uses (folders.txt has the cases). */
    write_tokenizer_json(dir,
                         "{\"type\": \"BertNormalizer\", \"clean_text\": false, "
                         "\"handle_chinese_chars\": true, \"strip_accents\": null, \"lowercase\": "
                         "false}",
                         ADDED_ALL);
    CHECK(attend_wordpiece_options_from_dir(&o, dir, &err) == ATTEND_OK && o.lowercase == 1 &&
              o.strip_accents == -1 && o.clean_text == 1 && o.handle_chinese_chars == 1 &&
              o.max_input_chars_per_word == 50 &&
              !strcmp(o.continuing_subword_prefix, "@@") && o.match_special_tokens == 1,
          "tokenizer.json: %s", err.msg);
    /* tokenizer_config.json's unk_token wins over the model's, and the added
     * tokens are checked against it. */
    write_text(dir, "tokenizer_config.json", "{\"unk_token\": \"<unk>\"}");
    write_tokenizer_json(dir, "null", ADDED("<unk>"));
    CHECK(attend_wordpiece_options_from_dir(&o, dir, &err) == ATTEND_OK &&
              !strcmp(o.unk_token, "<unk>"),
          "unk_token from tokenizer_config.json: %s (%s)", o.unk_token, err.msg);
    write_text(dir, "tokenizer_config.json", "{}");
    CHECK(attend_wordpiece_options_from_dir(&o, dir, &err) == ATTEND_ERR_FORMAT &&
              strstr(err.msg, "added token \"<unk>\""),
          "the model's [UNK] with an added <unk>: %s", err.msg);
    write_tokenizer_json(dir, "{\"type\": \"Sequence\", \"normalizers\": []}", ADDED_ALL);
    check_dir_error(dir, ATTEND_ERR_FORMAT, "normalizer \"Sequence\" is not supported", __LINE__);
    write_tokenizer_json(dir, "{\"type\": \"BertNormalizer\"}", ADDED_ALL "," ADDED("<e1>"));
    check_dir_error(dir, ATTEND_ERR_FORMAT, "added token \"<e1>\" is not supported", __LINE__);
    write_tokenizer_json(dir, "{\"type\": \"BertNormalizer\"}",
                         "{\"content\": \"[UNK]\", \"lstrip\": true, \"special\": true}");
    check_dir_error(dir, ATTEND_ERR_FORMAT, "has lstrip true", __LINE__);
    write_text(dir, "tokenizer.json",
               "{\"normalizer\": null, \"pre_tokenizer\": {\"type\": \"BertPreTokenizer\"}, "
               "\"model\": {\"type\": \"WordPiece\", \"max_input_chars_per_word\": 1.5}}");
    check_dir_error(dir, ATTEND_ERR_FORMAT, "max_input_chars_per_word is not a count", __LINE__);
    write_text(dir, "tokenizer.json",
               "{\"normalizer\": {\"type\": \"BertNormalizer\"}, \"pre_tokenizer\": {\"type\": "
               "\"Whitespace\"}, \"model\": {\"type\": \"WordPiece\"}}");
    check_dir_error(dir, ATTEND_ERR_FORMAT, "pre_tokenizer \"Whitespace\" is not supported",
                    __LINE__);
    write_text(dir, "tokenizer.json",
               "{\"normalizer\": null, \"pre_tokenizer\": {\"type\": \"BertPreTokenizer\"}, "
               "\"model\": {\"type\": \"BPE\"}}");
    check_dir_error(dir, ATTEND_ERR_FORMAT, "model \"BPE\" is not supported", __LINE__);
    remove_file(dir, "tokenizer.json");
    remove_file(dir, "tokenizer_config.json");

    /* The folders of folders.txt give the settings AutoTokenizer took. */
    size_t len, n, cases = 0;
    char *buf = read_file(FIX "folders.txt", &len);
    char **lines = buf ? split_lines(buf, len, &n) : NULL;
    char name[64] = "";
    for (size_t i = 0; lines && i < n; i++) {
        char *l = lines[i];
        if (!strncmp(l, "case ", 5)) {
            snprintf(name, sizeof name, "%s", l + 5);
            remove_file(dir, "tokenizer.json");
            remove_file(dir, "tokenizer_config.json");
        } else if (!strncmp(l, "file ", 5)) {
            char *sp = strchr(l + 5, ' ');
            if (!sp) continue;
            *sp = 0;
            write_text(dir, l + 5, sp + 1);
        } else if (!strncmp(l, "expect ", 7)) {
            int lc, sa, hc, ct, ms;
            CHECK(sscanf(l, "expect lowercase=%d strip_accents=%d handle_chinese_chars=%d "
                            "clean_text=%d match_special_tokens=%d",
                         &lc, &sa, &hc, &ct, &ms) == 5,
                  "folders.txt line %zu", i + 1);
            attend_status st = attend_wordpiece_options_from_dir(&o, dir, &err);
            CHECK(st == ATTEND_OK && o.lowercase == lc && o.strip_accents == sa &&
                      o.handle_chinese_chars == hc && o.clean_text == ct &&
                      o.match_special_tokens == ms,
                  "folder %s: status %d (%s); lowercase %d/%d strip_accents %d/%d chinese %d/%d "
                  "clean_text %d/%d match_special_tokens %d/%d (got/AutoTokenizer)",
                  name, (int)st, err.msg, o.lowercase, lc, o.strip_accents, sa,
                  o.handle_chinese_chars, hc, o.clean_text, ct, o.match_special_tokens, ms);
            cases++;
        }
    }
    CHECK(cases >= 9, "folders.txt: %zu folders", cases);
    printf("folders: %zu model folders read as transformers' AutoTokenizer reads them\n", cases);
    free(lines);
    free(buf);
    remove_file(dir, "tokenizer.json");
    remove_file(dir, "tokenizer_config.json");
    char missing[600];
    snprintf(missing, sizeof missing, "%s/none", dir);
    check_dir_error(missing, ATTEND_ERR_IO, "none", __LINE__);
}

/* ------------------------------------------------------------------------ */
/* Threads                                                                  */
/* ------------------------------------------------------------------------ */

typedef struct {
    const attend_wordpiece *wp;
    const corpus *c;
    size_t first, step;      /* lines first, first + step, ... */
    const int32_t *const *want;
    const size_t *nwant;
    size_t differ, errors;
} thread_job;

static void *thread_main(void *arg) {
    thread_job *j = arg;
    attend_wordpiece_scratch *s = NULL;
    attend_error err;
    if (attend_wordpiece_scratch_new(&s, &err)) {
        j->errors++;
        return NULL;
    }
    int32_t *ids = malloc(((size_t)1 << 16) * sizeof *ids);
    for (int round = 0; round < 2; round++) {
        for (size_t i = j->first; i < j->c->n; i += j->step) {
            attend_wordpiece_result res;
            if (attend_wordpiece_encode(j->wp, s, j->c->text[i], j->c->len[i], ids, (size_t)1 << 16,
                                        &res, &err)) {
                j->errors++;
                continue;
            }
            if (res.n_written != j->nwant[i] ||
                memcmp(ids, j->want[i], res.n_written * sizeof *ids) != 0)
                j->differ++;
        }
    }
    free(ids);
    attend_wordpiece_scratch_free(s);
    return NULL;
}

static void test_threads(void) {
    corpus c;
    if (!load_corpus(&c)) return;
    attend_wordpiece *wp = NULL;
    attend_wordpiece_scratch *s = NULL;
    attend_error err = {0};
    attend_wordpiece_options o;
    attend_wordpiece_options_default(&o);
    o.max_text_bytes = 1 << 20;
    if (attend_wordpiece_load(&wp, FIX "vocab-minilm.txt", &o, &err) ||
        attend_wordpiece_scratch_new(&s, &err)) {
        CHECK(0, "threads: %s", err.msg);
        free_corpus(&c);
        return;
    }
    /* Serial ids first. */
    int32_t **want = malloc(c.n * sizeof *want);
    size_t *nwant = malloc(c.n * sizeof *nwant);
    int32_t *ids = malloc(((size_t)1 << 16) * sizeof *ids);
    for (size_t i = 0; i < c.n; i++) {
        attend_wordpiece_result res;
        attend_status st =
            attend_wordpiece_encode(wp, s, c.text[i], c.len[i], ids, (size_t)1 << 16, &res, &err);
        CHECK(st == ATTEND_OK, "serial line %zu: %s", i + 1, err.msg);
        nwant[i] = st ? 0 : res.n_written;
        want[i] = malloc((nwant[i] + 1) * sizeof **want);
        memcpy(want[i], ids, nwant[i] * sizeof *ids);
    }
    enum { NT = 8 };
    pthread_t th[NT];
    thread_job jobs[NT];
    for (int t = 0; t < NT; t++) {
        /* Interleaved lines, so threads run on the shared table at once. */
        jobs[t] = (thread_job){wp, &c, (size_t)t % 3, 1 + (size_t)t % 2,
                               (const int32_t *const *)want, nwant, 0, 0};
        CHECK(pthread_create(&th[t], NULL, thread_main, &jobs[t]) == 0, "pthread_create");
    }
    size_t differ = 0, errors = 0;
    for (int t = 0; t < NT; t++) {
        pthread_join(th[t], NULL);
        differ += jobs[t].differ;
        errors += jobs[t].errors;
    }
    CHECK(differ == 0 && errors == 0, "threads: %zu lines differ from serial, %zu errors", differ,
          errors);
    printf("threads: %d threads sharing one tokenizer agree with the serial ids\n", NT);
    for (size_t i = 0; i < c.n; i++) free(want[i]);
    free(want);
    free(nwant);
    free(ids);
    attend_wordpiece_scratch_free(s);
    attend_wordpiece_free(wp);
    free_corpus(&c);
}

/* ------------------------------------------------------------------------ */
/* Fuzz inputs and speed                                                    */
/* ------------------------------------------------------------------------ */

static int keep_entry(const struct dirent *d) { return d->d_name[0] != '.'; }

static size_t replay_dir(const char *dir) {
    struct dirent **names = NULL;
    int n = scandir(dir, &names, keep_entry, alphasort);
    if (n < 0) return 0;
    size_t count = 0;
    for (int i = 0; i < n; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name);
        struct stat sb;
        if (stat(path, &sb) == 0 && S_ISREG(sb.st_mode)) {
            size_t len;
            char *data = read_file(path, &len);
            if (data) {
                /* An exact-size copy, so that an overread is past the block. */
                uint8_t *exact = malloc(len ? len : 1);
                memcpy(exact, data, len);
                fuzz_input_name = path;
                fuzz_target_wordpiece(exact, len);
                free(exact);
                free(data);
                count++;
            }
        }
        free(names[i]);
    }
    free(names);
    return count;
}

static void test_fuzz_inputs(void) {
    size_t nc = replay_dir("fuzz/corpus/wordpiece");
    size_t nr = replay_dir("fuzz/regress/wordpiece");
    CHECK(nc > 0, "fuzz/corpus/wordpiece has no inputs");
    printf("fuzz inputs: %zu corpus, %zu regression, all pass\n", nc, nr);
}

/* Tokens per second (printed, not checked: it is a measurement, and this
 * also runs under the sanitizers) on the glosses of data/wordnet-nouns.tsv
 * (7 MB of English) and on the golden corpus (every script, marks and
 * random code points), one thread. */
static void bench_lines(const char *what, char **text, const size_t *len, size_t n, int reps) {
    attend_wordpiece *wp = NULL;
    attend_wordpiece_scratch *s = NULL;
    attend_error err = {0};
    attend_wordpiece_options o;
    attend_wordpiece_options_default(&o);
    o.max_text_bytes = 1 << 20;
    if (attend_wordpiece_load(&wp, FIX "vocab-minilm.txt", &o, &err) ||
        attend_wordpiece_scratch_new(&s, &err)) {
        CHECK(0, "bench: %s", err.msg);
        return;
    }
    int32_t *ids = malloc(((size_t)1 << 16) * sizeof *ids);
    size_t bytes = 0, tokens = 0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int rep = 0; rep < reps; rep++) {
        for (size_t i = 0; i < n; i++) {
            attend_wordpiece_result res;
            if (attend_wordpiece_encode(wp, s, text[i], len[i], ids, (size_t)1 << 16, &res,
                                        &err) == ATTEND_OK)
                tokens += res.n_total;
            bytes += len[i];
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double sec = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    printf("speed, %s: %.1f MB, %zu tokens in %.3f s: %.2f M tokens/s, %.1f MB/s (one thread)\n",
           what, (double)bytes / 1e6, tokens, sec, (double)tokens / sec / 1e6,
           (double)bytes / sec / 1e6);
    free(ids);
    attend_wordpiece_scratch_free(s);
    attend_wordpiece_free(wp);
}

static void bench(void) {
    size_t len, n;
    char *buf = read_file("data/wordnet-nouns.tsv", &len);
    if (buf) {
        char **lines = split_lines(buf, len, &n);
        size_t *lens = malloc(n * sizeof *lens);
        for (size_t i = 0; i < n; i++) {
            char *tab = strchr(lines[i], '\t'); /* label TAB gloss */
            if (tab) lines[i] = tab + 1;
            lens[i] = strlen(lines[i]);
        }
        bench_lines("WordNet glosses", lines, lens, n, 1);
        free(lens);
        free(lines);
        free(buf);
    }
    corpus c;
    if (load_corpus(&c)) {
        bench_lines("golden corpus x4", c.text, c.len, c.n, 4);
        free_corpus(&c);
    }
}

int main(void) {
    test_vocab_file();
    test_encode_units();
    test_minilm_examples();
    test_options_from_dir();
    test_codepoints();
    test_golden();
    test_threads();
    test_fuzz_inputs();
    bench();
    return test_summary("test_wordpiece");
}
