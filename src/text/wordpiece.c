/* WordPiece tokenizer matching Hugging Face's fast BERT tokenizer (see
 * wordpiece.h for the rules, wordpiece_unicode.h for the character data). */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* stat() */
#endif
#include "text/wordpiece.h"

#include "base/json.h"
#include "base/rng.h"
#include "base/utf8.h"
#include "base/util.h"
#include "text/wordpiece_unicode.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ------------------------------------------------------------------------ */
/* Options                                                                  */
/* ------------------------------------------------------------------------ */

static void set_name(char *dst, const char *src) {
    snprintf(dst, ATTEND_WORDPIECE_NAME_MAX, "%s", src);
}

void attend_wordpiece_options_default(attend_wordpiece_options *o) {
    if (!o) return;
    memset(o, 0, sizeof *o);
    o->lowercase = 1;
    o->strip_accents = -1;
    o->handle_chinese_chars = 1;
    o->clean_text = 1;
    o->match_special_tokens = 1;
    o->max_input_chars_per_word = 100;
    o->max_text_bytes = ATTEND_WORDPIECE_MAX_TEXT;
    set_name(o->continuing_subword_prefix, "##");
    set_name(o->unk_token, "[UNK]");
    set_name(o->cls_token, "[CLS]");
    set_name(o->sep_token, "[SEP]");
    set_name(o->pad_token, "[PAD]");
    set_name(o->mask_token, "[MASK]");
}

/* Checks o's strings are terminated within their arrays and valid UTF-8;
 * copies o into *dst with strip_accents resolved. */
static attend_status check_options(attend_wordpiece_options *dst,
                                   const attend_wordpiece_options *o, attend_error *err) {
    if (!o) {
        attend_wordpiece_options_default(dst);
        o = dst;
    } else {
        *dst = *o;
    }
    const struct {
        const char *what, *s;
        int may_be_empty;
    } names[] = {
        {"continuing_subword_prefix", dst->continuing_subword_prefix, 1},
        {"unk_token", dst->unk_token, 0},
        {"cls_token", dst->cls_token, 0},
        {"sep_token", dst->sep_token, 0},
        {"pad_token", dst->pad_token, 0},
        {"mask_token", dst->mask_token, 0},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const char *s = names[i].s;
        if (!memchr(s, 0, ATTEND_WORDPIECE_NAME_MAX))
            return attend_errorf(err, ATTEND_ERR_ARG, "wordpiece: %s is not NUL-terminated",
                                 names[i].what);
        if (!s[0] && !names[i].may_be_empty)
            return attend_errorf(err, ATTEND_ERR_ARG, "wordpiece: %s is empty", names[i].what);
        if (!attend_utf8_valid(s, strlen(s), NULL))
            return attend_errorf(err, ATTEND_ERR_ARG, "wordpiece: %s is not valid UTF-8",
                                 names[i].what);
    }
    if (dst->strip_accents < -1 || dst->strip_accents > 1)
        return attend_errorf(err, ATTEND_ERR_ARG,
                             "wordpiece: strip_accents is %d (use -1 to follow lowercase, 0, 1)",
                             dst->strip_accents);
    dst->lowercase = dst->lowercase != 0;
    dst->handle_chinese_chars = dst->handle_chinese_chars != 0;
    dst->clean_text = dst->clean_text != 0;
    dst->match_special_tokens = dst->match_special_tokens != 0;
    if (dst->strip_accents < 0) dst->strip_accents = dst->lowercase;
    if (dst->max_text_bytes == 0) dst->max_text_bytes = ATTEND_WORDPIECE_MAX_TEXT;
    return ATTEND_OK;
}

/* ------------------------------------------------------------------------ */
/* Options from a Hugging Face folder                                       */
/* ------------------------------------------------------------------------ */

/* Largest tokenizer.json read (a multilingual BERT's is about 3 MB). */
#define WP_MAX_JSON_BYTES ((size_t)1 << 27)

/* Parses path's JSON object into *out; *out NULL (and ATTEND_OK) when the
 * file does not exist. */
static attend_status read_json_object(const char *path, cJSON **out, attend_error *err) {
    *out = NULL;
    char *buf;
    size_t len;
    int absent;
    attend_status st = attend_read_small_file(path, WP_MAX_JSON_BYTES, &buf, &len, &absent, err);
    if (st || absent) return st;
    size_t nul = strlen(buf);
    if (nul != len) {
        free(buf);
        return attend_errorf(err, ATTEND_ERR_FORMAT, "%s: NUL byte at offset %zu", path, nul);
    }
    const char *end = NULL;
    int oom = 0;
    cJSON *j = attend_json_parse(buf, &end, &oom);
    size_t at = end && end >= buf ? (size_t)(end - buf) : 0;
    free(buf);
    if (!j && oom) return attend_errorf(err, ATTEND_ERR_NOMEM, "%s: out of memory parsing it", path);
    if (!j) return attend_errorf(err, ATTEND_ERR_FORMAT, "%s: invalid JSON near byte %zu", path, at);
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return attend_errorf(err, ATTEND_ERR_FORMAT, "%s: not a JSON object", path);
    }
    *out = j;
    return ATTEND_OK;
}

/* Reads the boolean key of obj into *dst when present; null leaves it. */
static attend_status json_bool(const cJSON *obj, const char *key, int *dst, const char *path,
                               attend_error *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v || cJSON_IsNull(v)) return ATTEND_OK;
    if (!cJSON_IsBool(v))
        return attend_errorf(err, ATTEND_ERR_FORMAT, "%s: \"%s\" is not true or false", path, key);
    *dst = cJSON_IsTrue(v);
    return ATTEND_OK;
}

/* A token name: a string, or an object with a "content" string (how
 * transformers saves an AddedToken). Copied into dst when present. */
static attend_status json_name(const cJSON *obj, const char *key, char *dst, const char *path,
                               attend_error *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v || cJSON_IsNull(v)) return ATTEND_OK;
    if (cJSON_IsObject(v)) v = cJSON_GetObjectItemCaseSensitive(v, "content");
    if (!cJSON_IsString(v) || !v->valuestring)
        return attend_errorf(err, ATTEND_ERR_FORMAT, "%s: \"%s\" is not a string", path, key);
    size_t n = strlen(v->valuestring);
    if (n == 0 || n >= ATTEND_WORDPIECE_NAME_MAX)
        return attend_errorf(err, ATTEND_ERR_FORMAT, "%s: \"%s\" has %zu bytes (1 to %d allowed)",
                             path, key, n, ATTEND_WORDPIECE_NAME_MAX - 1);
    memcpy(dst, v->valuestring, n + 1);
    return ATTEND_OK;
}

/* The special token names from a tokenizer_config.json or
 * special_tokens_map.json object. */
static attend_status json_special_names(const cJSON *j, attend_wordpiece_options *o,
                                        const char *path, attend_error *err) {
    attend_status st;
    if ((st = json_name(j, "unk_token", o->unk_token, path, err)) ||
        (st = json_name(j, "cls_token", o->cls_token, path, err)) ||
        (st = json_name(j, "sep_token", o->sep_token, path, err)) ||
        (st = json_name(j, "pad_token", o->pad_token, path, err)) ||
        (st = json_name(j, "mask_token", o->mask_token, path, err)))
        return st;
    return ATTEND_OK;
}

/* tokenizer_config.json's tokenizer classes that are BERT's WordPiece with
 * BERT's normaliser. */
static int bert_like_class(const char *c) {
    static const char *const ok[] = {"BertTokenizer", "DistilBertTokenizer", "ElectraTokenizer",
                                     "MobileBertTokenizer", "SqueezeBertTokenizer",
                                     "LayoutLMTokenizer", "LxmertTokenizer", "RetriBertTokenizer"};
    size_t n = strlen(c);
    if (n > 4 && strcmp(c + n - 4, "Fast") == 0) n -= 4;
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        if (strlen(ok[i]) == n && memcmp(ok[i], c, n) == 0) return 1;
    return 0;
}

/* tokenizer_config.json: the tokenizer class, the special token names and
 * the normaliser settings (those it leaves out keep BertTokenizer's
 * defaults, which o holds already). */
static attend_status options_from_config(attend_wordpiece_options *o, const cJSON *j,
                                         const char *path, attend_error *err) {
    const cJSON *cls = cJSON_GetObjectItemCaseSensitive(j, "tokenizer_class");
    if (cJSON_IsString(cls) && cls->valuestring && !bert_like_class(cls->valuestring))
        return attend_errorf(err, ATTEND_ERR_FORMAT,
                             "%s: tokenizer_class \"%.64s\" is not a BERT WordPiece tokenizer",
                             path, cls->valuestring);
    attend_status st;
    if ((st = json_bool(j, "do_lower_case", &o->lowercase, path, err)) ||
        (st = json_bool(j, "tokenize_chinese_chars", &o->handle_chinese_chars, path, err)))
        return st;
    const cJSON *sa = cJSON_GetObjectItemCaseSensitive(j, "strip_accents");
    if (sa && !cJSON_IsNull(sa)) {
        if (!cJSON_IsBool(sa))
            return attend_errorf(err, ATTEND_ERR_FORMAT,
                                 "%s: \"strip_accents\" is not true, false or null", path);
        o->strip_accents = cJSON_IsTrue(sa);
    }
    return json_special_names(j, o, path, err);
}

/* tokenizer.json: the kind of normalizer and pre-tokenizer, the model's
 * settings and the added tokens. The normalizer's own fields are not used:
 * transformers' BertTokenizer builds BertNormalizer(clean_text=True, ...)
 * from tokenizer_config.json's settings or their defaults, whatever
 * tokenizer.json says (checked against transformers 5 by the golden
 * generator's folder cases; transformers 4 overrode the same three
 * settings). */
static attend_status options_from_tokenizer_json(attend_wordpiece_options *o, const cJSON *j,
                                                 const char *path, int unk_named,
                                                 attend_error *err) {
    attend_status st;
    const cJSON *norm = cJSON_GetObjectItemCaseSensitive(j, "normalizer");
    if (norm && !cJSON_IsNull(norm)) {
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(norm, "type");
        if (!cJSON_IsString(type) || strcmp(type->valuestring, "BertNormalizer") != 0)
            return attend_errorf(err, ATTEND_ERR_FORMAT,
                                 "%s: normalizer \"%.64s\" is not supported (only BertNormalizer)",
                                 path, cJSON_IsString(type) ? type->valuestring : "?");
    }
    const cJSON *pre = cJSON_GetObjectItemCaseSensitive(j, "pre_tokenizer");
    const cJSON *ptype = pre ? cJSON_GetObjectItemCaseSensitive(pre, "type") : NULL;
    if (!cJSON_IsString(ptype) || strcmp(ptype->valuestring, "BertPreTokenizer") != 0)
        return attend_errorf(err, ATTEND_ERR_FORMAT,
                             "%s: pre_tokenizer \"%.64s\" is not supported (only BertPreTokenizer)",
                             path, cJSON_IsString(ptype) ? ptype->valuestring : "null");
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(j, "model");
    const cJSON *mtype = model ? cJSON_GetObjectItemCaseSensitive(model, "type") : NULL;
    if (!cJSON_IsString(mtype) || strcmp(mtype->valuestring, "WordPiece") != 0)
        return attend_errorf(err, ATTEND_ERR_FORMAT,
                             "%s: model \"%.64s\" is not supported (only WordPiece)", path,
                             cJSON_IsString(mtype) ? mtype->valuestring : "?");
    /* transformers gives the model tokenizer_config.json's unk_token when
     * that names one. */
    if (!unk_named && (st = json_name(model, "unk_token", o->unk_token, path, err))) return st;
    const cJSON *pfx = cJSON_GetObjectItemCaseSensitive(model, "continuing_subword_prefix");
    if (pfx && !cJSON_IsNull(pfx)) {
        if (!cJSON_IsString(pfx) || strlen(pfx->valuestring) >= ATTEND_WORDPIECE_NAME_MAX)
            return attend_errorf(err, ATTEND_ERR_FORMAT,
                                 "%s: model.continuing_subword_prefix is not a string of at most "
                                 "%d bytes",
                                 path, ATTEND_WORDPIECE_NAME_MAX - 1);
        set_name(o->continuing_subword_prefix, pfx->valuestring);
    }
    const cJSON *mx = cJSON_GetObjectItemCaseSensitive(model, "max_input_chars_per_word");
    if (mx && !cJSON_IsNull(mx)) {
        if (!cJSON_IsNumber(mx) || mx->valuedouble < 0 || mx->valuedouble > 1e15 ||
            mx->valuedouble != (double)(size_t)mx->valuedouble)
            return attend_errorf(err, ATTEND_ERR_FORMAT,
                                 "%s: model.max_input_chars_per_word is not a count", path);
        o->max_input_chars_per_word = (size_t)mx->valuedouble;
    }
    /* Added tokens are matched in the raw text. transformers matches the
     * five special tokens whether or not tokenizer.json lists them; this
     * tokenizer matches those and nothing else, so anything more (another
     * token, or one with stripping or normalisation) is refused. */
    const cJSON *added = cJSON_GetObjectItemCaseSensitive(j, "added_tokens");
    const char *names[5] = {o->unk_token, o->cls_token, o->sep_token, o->pad_token, o->mask_token};
    if (added && !cJSON_IsNull(added)) {
        if (!cJSON_IsArray(added))
            return attend_errorf(err, ATTEND_ERR_FORMAT, "%s: added_tokens is not an array", path);
        for (const cJSON *t = added->child; t; t = t->next) {
            const cJSON *c = cJSON_GetObjectItemCaseSensitive(t, "content");
            if (!cJSON_IsString(c) || !c->valuestring)
                return attend_errorf(err, ATTEND_ERR_FORMAT,
                                     "%s: an added token has no \"content\" string", path);
            int k = 0;
            while (k < 5 && strcmp(names[k], c->valuestring) != 0) k++;
            if (k == 5)
                return attend_errorf(err, ATTEND_ERR_FORMAT,
                                     "%s: added token \"%.64s\" is not supported (only the special "
                                     "tokens %s %s %s %s %s)",
                                     path, c->valuestring, names[0], names[1], names[2], names[3],
                                     names[4]);
            static const char *const flags[] = {"single_word", "lstrip", "rstrip", "normalized"};
            for (size_t f = 0; f < 4; f++) {
                if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(t, flags[f])))
                    return attend_errorf(err, ATTEND_ERR_FORMAT,
                                         "%s: added token \"%s\" has %s true, which is not "
                                         "supported",
                                         path, c->valuestring, flags[f]);
            }
        }
    }
    return ATTEND_OK;
}

attend_status attend_wordpiece_options_from_dir(attend_wordpiece_options *o, const char *dir,
                                                attend_error *err) {
    if (!o || !dir) return attend_errorf(err, ATTEND_ERR_ARG, "wordpiece: NULL argument");
    attend_wordpiece_options_default(o);
    struct stat sb;
    if (stat(dir, &sb) != 0)
        return attend_errorf(err, ATTEND_ERR_IO, "cannot open %s: %s", dir, strerror(errno));
    if (!S_ISDIR(sb.st_mode))
        return attend_errorf(err, ATTEND_ERR_ARG, "%s is not a folder", dir);
    size_t dn = strlen(dir);
    char *path = malloc(dn + 32);
    if (!path) return attend_errorf(err, ATTEND_ERR_NOMEM, "wordpiece: out of memory");
    cJSON *cfg = NULL, *map = NULL, *tok = NULL;
    attend_status st;
    snprintf(path, dn + 32, "%s/special_tokens_map.json", dir);
    if ((st = read_json_object(path, &map, err))) goto done;
    if (map && (st = json_special_names(map, o, path, err))) goto done;
    snprintf(path, dn + 32, "%s/tokenizer_config.json", dir);
    if ((st = read_json_object(path, &cfg, err))) goto done;
    if (cfg && (st = options_from_config(o, cfg, path, err))) goto done;
    snprintf(path, dn + 32, "%s/tokenizer.json", dir);
    if ((st = read_json_object(path, &tok, err))) goto done;
    if (tok) {
        int unk_named = (cfg && cJSON_GetObjectItemCaseSensitive(cfg, "unk_token")) ||
                        (map && cJSON_GetObjectItemCaseSensitive(map, "unk_token"));
        st = options_from_tokenizer_json(o, tok, path, unk_named, err);
    }
done:
    cJSON_Delete(cfg);
    cJSON_Delete(map);
    cJSON_Delete(tok);
    free(path);
    if (st) attend_wordpiece_options_default(o);
    return st;
}

/* ------------------------------------------------------------------------ */
/* The vocabulary                                                           */
/* ------------------------------------------------------------------------ */

/* One entry of the lookup table. Every token is in namespace 0 under its
 * whole text; a token that starts with the continuing-subword prefix is
 * also in namespace 1 under the rest, so continuation lookups need no
 * "##" + piece string. */
typedef struct {
    uint64_t hash; /* wp_hash_final of the key in its namespace */
    int32_t id;    /* -1: empty slot */
    uint32_t ns;
} wp_slot;

/* A special token matched in raw text. */
typedef struct {
    const char *s;
    size_t len;
    int32_t id;
} wp_special;

struct attend_wordpiece {
    attend_wordpiece_options opt; /* strip_accents resolved */
    char *bytes;                  /* tokens, each NUL-terminated */
    size_t *off, *len;            /* token id = bytes + off[id], len[id] bytes */
    size_t n;                     /* V */
    wp_slot *slots;               /* open addressing, linear probing, load <= 1/2 */
    size_t nslots;                /* power of two */
    size_t max_key[2];            /* longest key in each namespace, in bytes */
    size_t prefix_len;
    attend_wordpiece_specials ids;
    wp_special specials[5];       /* longest first */
    size_t n_specials;
    unsigned char special_first[256]; /* 1: a special token starts with this byte */
};

/* FNV-1a over the key, started from a namespace's own offset, then mixed:
 * the WordPiece loop extends the FNV state one byte at a time, so every
 * candidate prefix of a word costs one multiply. */
static const uint64_t wp_seed[2] = {ATTEND_FNV64_OFFSET, ATTEND_FNV64_OFFSET ^ 0x9E3779B97F4A7C15ull};

static inline uint64_t wp_hash_step(uint64_t h, unsigned char b) {
    return (h ^ b) * ATTEND_FNV64_PRIME;
}

static inline uint64_t wp_hash_final(uint64_t h) { return attend_mix64(h); }

static uint64_t wp_hash(int ns, const unsigned char *s, size_t len) {
    uint64_t h = wp_seed[ns];
    for (size_t i = 0; i < len; i++) h = wp_hash_step(h, s[i]);
    return wp_hash_final(h);
}

/* Id of key s[0..len) in namespace ns with hash h (wp_hash), or -1. */
static inline int32_t wp_find(const attend_wordpiece *wp, uint32_t ns, uint64_t h,
                              const unsigned char *s, size_t len) {
    size_t mask = wp->nslots - 1, skip = ns ? wp->prefix_len : 0;
    for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
        const wp_slot *e = &wp->slots[i];
        if (e->id < 0) return -1;
        if (e->hash == h && e->ns == ns) {
            size_t id = (size_t)e->id;
            if (wp->len[id] - skip == len && memcmp(wp->bytes + wp->off[id] + skip, s, len) == 0)
                return e->id;
        }
    }
}

static void wp_insert(attend_wordpiece *wp, uint32_t ns, uint64_t h, int32_t id) {
    size_t mask = wp->nslots - 1, i = (size_t)h & mask;
    while (wp->slots[i].id >= 0) i = (i + 1) & mask;
    wp->slots[i].hash = h;
    wp->slots[i].id = id;
    wp->slots[i].ns = ns;
}

void attend_wordpiece_free(attend_wordpiece *wp) {
    if (!wp) return;
    free(wp->bytes);
    free(wp->off);
    free(wp->len);
    free(wp->slots);
    free(wp);
}

/* Decodes the code point at s[*i] of valid UTF-8 and advances *i. */
static inline uint32_t utf8_next(const unsigned char *s, size_t *i) {
    uint32_t c = s[*i];
    if (c < 0x80) {
        *i += 1;
        return c;
    }
    if (c < 0xE0) {
        c = ((c & 0x1F) << 6) | (s[*i + 1] & 0x3F);
        *i += 2;
    } else if (c < 0xF0) {
        c = ((c & 0x0F) << 12) | ((uint32_t)(s[*i + 1] & 0x3F) << 6) | (s[*i + 2] & 0x3F);
        *i += 3;
    } else {
        c = ((c & 0x07) << 18) | ((uint32_t)(s[*i + 1] & 0x3F) << 12) |
            ((uint32_t)(s[*i + 2] & 0x3F) << 6) | (s[*i + 3] & 0x3F);
        *i += 4;
    }
    return c;
}

/* Length of valid UTF-8 s[0..n) without its trailing whitespace (Rust's
 * str::trim_end, which the crate applies to every vocab.txt line). */
static size_t trim_end(const unsigned char *s, size_t n) {
    while (n > 0) {
        size_t k = n - 1;
        while (k > 0 && (s[k] & 0xC0) == 0x80) k--;
        size_t i = k;
        if (!attend_wp_is_whitespace(utf8_next(s, &i))) break;
        n = k;
    }
    return n;
}

/* Splits a vocab.txt into wp's tokens (bytes, off, len, n). */
static attend_status parse_vocab(attend_wordpiece *wp, const char *buf, size_t len,
                                 const char *name, attend_error *err) {
    if (len == 0) return attend_errorf(err, ATTEND_ERR_FORMAT, "%s: empty vocabulary file", name);
    if (len > ATTEND_WORDPIECE_MAX_FILE)
        return attend_errorf(err, ATTEND_ERR_FORMAT,
                             "%s: %zu bytes, more than the %zu a vocabulary file may have", name,
                             len, (size_t)ATTEND_WORDPIECE_MAX_FILE);
    /* Lines: every "\n" ends one; a last line without one counts too. */
    size_t n = 0;
    for (const char *p = buf, *end = buf + len; p < end; n++) {
        const char *q = memchr(p, '\n', (size_t)(end - p));
        if (n == ATTEND_WORDPIECE_MAX_VOCAB)
            return attend_errorf(err, ATTEND_ERR_FORMAT,
                                 "%s:%zu: more than %zu tokens in a vocabulary", name, n + 1,
                                 (size_t)ATTEND_WORDPIECE_MAX_VOCAB);
        p = q ? q + 1 : end;
    }
    /* len + n bytes hold every line and its NUL; len <= 2^28 so no overflow. */
    wp->bytes = malloc(len + n);
    wp->off = malloc(n * sizeof *wp->off);
    wp->len = malloc(n * sizeof *wp->len);
    if (!wp->bytes || !wp->off || !wp->len)
        return attend_errorf(err, ATTEND_ERR_NOMEM, "%s: out of memory for %zu tokens", name, n);
    size_t at = 0, line = 0;
    for (const char *p = buf, *end = buf + len; p < end; line++) {
        const char *q = memchr(p, '\n', (size_t)(end - p));
        size_t ll = q ? (size_t)(q - p) : (size_t)(end - p), bad;
        if (!attend_utf8_valid(p, ll, &bad))
            return attend_errorf(err, ATTEND_ERR_FORMAT,
                                 "%s:%zu: invalid UTF-8 at byte %zu of the line (0x%02x)", name,
                                 line + 1, bad, (unsigned)(unsigned char)p[bad]);
        ll = trim_end((const unsigned char *)p, ll);
        memcpy(wp->bytes + at, p, ll);
        wp->bytes[at + ll] = 0;
        wp->off[line] = at;
        wp->len[line] = ll;
        at += ll + 1;
        p = q ? q + 1 : end;
    }
    wp->n = n;
    return ATTEND_OK;
}

/* Builds the lookup table; refuses a token on two lines. */
static attend_status build_table(attend_wordpiece *wp, const char *name, attend_error *err) {
    const char *pfx = wp->opt.continuing_subword_prefix;
    size_t plen = strlen(pfx), keys = 0;
    wp->prefix_len = plen;
    for (size_t id = 0; id < wp->n; id++) {
        if (wp->len[id] == 0) continue;
        keys++;
        if (wp->len[id] > plen && memcmp(wp->bytes + wp->off[id], pfx, plen) == 0) keys++;
    }
    size_t nslots = 16;
    while (nslots < 2 * keys) nslots *= 2; /* keys <= 2^25, no overflow */
    wp->slots = malloc(nslots * sizeof *wp->slots);
    if (!wp->slots) return attend_errorf(err, ATTEND_ERR_NOMEM, "%s: out of memory", name);
    for (size_t i = 0; i < nslots; i++) wp->slots[i].id = -1;
    wp->nslots = nslots;
    for (size_t id = 0; id < wp->n; id++) {
        const unsigned char *t = (const unsigned char *)wp->bytes + wp->off[id];
        size_t tl = wp->len[id];
        if (tl == 0) continue; /* an empty line: keeps its id, matches nothing */
        uint64_t h = wp_hash(0, t, tl);
        int32_t first = wp_find(wp, 0, h, t, tl);
        if (first >= 0)
            return attend_errorf(err, ATTEND_ERR_FORMAT,
                                 "%s:%zu: token \"%.64s\" is also on line %d (the Hugging Face "
                                 "tokenizer would give it the later id and leave id %d unused)",
                                 name, id + 1, (const char *)t, first + 1, first);
        wp_insert(wp, 0, h, (int32_t)id);
        if (tl > wp->max_key[0]) wp->max_key[0] = tl;
        if (tl > plen && memcmp(t, pfx, plen) == 0) {
            wp_insert(wp, 1, wp_hash(1, t + plen, tl - plen), (int32_t)id);
            if (tl - plen > wp->max_key[1]) wp->max_key[1] = tl - plen;
        }
    }
    return ATTEND_OK;
}

/* Resolves the special tokens' ids and the ones matched in text. */
static attend_status find_specials(attend_wordpiece *wp, const char *name, attend_error *err) {
    const char *names[5] = {wp->opt.unk_token, wp->opt.cls_token, wp->opt.sep_token,
                            wp->opt.pad_token, wp->opt.mask_token};
    int32_t ids[5];
    for (int k = 0; k < 5; k++) ids[k] = attend_wordpiece_id(wp, names[k], strlen(names[k]));
    if (ids[0] < 0)
        return attend_errorf(err, ATTEND_ERR_FORMAT,
                             "%s: no line holds the unknown token \"%s\" (set unk_token to the "
                             "vocabulary's own)",
                             name, names[0]);
    wp->ids.unk = ids[0];
    wp->ids.cls = ids[1];
    wp->ids.sep = ids[2];
    wp->ids.pad = ids[3];
    wp->ids.mask = ids[4];
    if (!wp->opt.match_special_tokens) return ATTEND_OK;
    for (int k = 0; k < 5; k++) {
        if (ids[k] < 0) continue;
        size_t j = 0;
        while (j < wp->n_specials && strcmp(wp->specials[j].s, names[k]) != 0) j++;
        if (j < wp->n_specials) continue; /* the same name twice */
        /* Insert keeping longest first: at one position the longest
         * special token wins, as in the crate's leftmost-longest match. */
        size_t len = strlen(names[k]);
        j = wp->n_specials++;
        while (j > 0 && wp->specials[j - 1].len < len) {
            wp->specials[j] = wp->specials[j - 1];
            j--;
        }
        wp->specials[j].s = names[k];
        wp->specials[j].len = len;
        wp->specials[j].id = ids[k];
        wp->special_first[(unsigned char)names[k][0]] = 1;
    }
    return ATTEND_OK;
}

attend_status attend_wordpiece_load_memory(attend_wordpiece **out, const char *buf, size_t len,
                                           const char *name, const attend_wordpiece_options *o,
                                           attend_error *err) {
    if (out) *out = NULL;
    if (!out || (!buf && len))
        return attend_errorf(err, ATTEND_ERR_ARG, "wordpiece: NULL argument");
    if (!name) name = "vocab.txt";
    attend_wordpiece *wp = calloc(1, sizeof *wp);
    if (!wp) return attend_errorf(err, ATTEND_ERR_NOMEM, "wordpiece: out of memory");
    attend_status st;
    if ((st = check_options(&wp->opt, o, err)) || (st = parse_vocab(wp, buf, len, name, err)) ||
        (st = build_table(wp, name, err)) || (st = find_specials(wp, name, err))) {
        attend_wordpiece_free(wp);
        return st;
    }
    *out = wp;
    return ATTEND_OK;
}

attend_status attend_wordpiece_load(attend_wordpiece **out, const char *vocab_txt_path,
                                    const attend_wordpiece_options *o, attend_error *err) {
    if (out) *out = NULL;
    if (!out || !vocab_txt_path)
        return attend_errorf(err, ATTEND_ERR_ARG, "wordpiece: NULL argument");
    char *buf;
    size_t len;
    attend_status st =
        attend_read_small_file(vocab_txt_path, ATTEND_WORDPIECE_MAX_FILE + 1, &buf, &len, NULL, err);
    if (st) return st;
    st = attend_wordpiece_load_memory(out, buf, len, vocab_txt_path, o, err);
    free(buf);
    return st;
}

size_t attend_wordpiece_vocab_size(const attend_wordpiece *wp) { return wp ? wp->n : 0; }

const char *attend_wordpiece_token(const attend_wordpiece *wp, int32_t id) {
    if (!wp || id < 0 || (size_t)id >= wp->n) return NULL;
    return wp->bytes + wp->off[id];
}

int32_t attend_wordpiece_id(const attend_wordpiece *wp, const char *s, size_t len) {
    if (!wp || (!s && len) || len == 0) return -1;
    const unsigned char *u = (const unsigned char *)s;
    return wp_find(wp, 0, wp_hash(0, u, len), u, len);
}

attend_wordpiece_specials attend_wordpiece_special_ids(const attend_wordpiece *wp) {
    attend_wordpiece_specials none = {-1, -1, -1, -1, -1};
    return wp ? wp->ids : none;
}

const attend_wordpiece_options *attend_wordpiece_get_options(const attend_wordpiece *wp) {
    return wp ? &wp->opt : NULL;
}

/* ------------------------------------------------------------------------ */
/* Scratch                                                                  */
/* ------------------------------------------------------------------------ */

/* Per character of the word being matched: a candidate end of the next
 * piece and the FNV state of the bytes from the piece's start to it; and,
 * independently, the word's piece ids so far (at most one per character),
 * kept until the whole word is known to match. */
typedef struct {
    size_t end;
    uint64_t h;
    int32_t piece;
} wp_char;

struct attend_wordpiece_scratch {
    unsigned char *word;  /* the word being built, UTF-8 */
    size_t word_len, word_cap;
    size_t word_chars;    /* its characters, counted past max_input_chars_per_word too */
    wp_char *chars;       /* one per stored character of the word */
    size_t chars_cap;
    uint32_t *marks, *marks_tmp; /* combining marks awaiting canonical order: ccc << 24 | cp */
    size_t marks_n, marks_cap;   /* marks_tmp has marks_cap entries too */
};

attend_status attend_wordpiece_scratch_new(attend_wordpiece_scratch **out, attend_error *err) {
    if (!out) return attend_errorf(err, ATTEND_ERR_ARG, "wordpiece: NULL argument");
    *out = calloc(1, sizeof **out);
    if (!*out) return attend_errorf(err, ATTEND_ERR_NOMEM, "wordpiece: out of memory");
    return ATTEND_OK;
}

void attend_wordpiece_scratch_free(attend_wordpiece_scratch *s) {
    if (!s) return;
    free(s->word);
    free(s->chars);
    free(s->marks);
    free(s->marks_tmp);
    free(s);
}

/* Grows *p (elem bytes each) to hold at least need; 0 when out of memory. */
static int grow(void **p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return 1;
    size_t want = *cap ? *cap : 64, bytes;
    while (want < need) want = want > SIZE_MAX / 2 ? need : want * 2;
    if (attend_mul_overflow(want, elem, &bytes)) return 0;
    void *q = realloc(*p, bytes);
    if (!q) return 0;
    *p = q;
    *cap = want;
    return 1;
}

/* ------------------------------------------------------------------------ */
/* Encoding                                                                 */
/* ------------------------------------------------------------------------ */

/* One encode call: the tokenizer, its scratch and where ids go. */
typedef struct {
    const attend_wordpiece *wp;
    attend_wordpiece_scratch *s;
    int32_t *ids;
    size_t max_ids, n_written, n_total;
    int nomem; /* a scratch buffer could not grow */
} wp_run;

static inline void emit(wp_run *r, int32_t id) {
    if (r->n_written < r->max_ids) r->ids[r->n_written++] = id;
    r->n_total++;
}

/* Appends cp to the word. Past max_input_chars_per_word characters only
 * the count goes on: the word is one unknown token whatever it holds. */
static inline void word_add(wp_run *r, uint32_t cp) {
    attend_wordpiece_scratch *s = r->s;
    if (++s->word_chars > r->wp->opt.max_input_chars_per_word) return;
    if (s->word_len + 4 > s->word_cap || s->word_chars > s->chars_cap) {
        if (!grow((void **)&s->word, &s->word_cap, s->word_len + 4, 1) ||
            !grow((void **)&s->chars, &s->chars_cap, s->word_chars, sizeof *s->chars)) {
            r->nomem = 1;
            s->word_chars--;
            return;
        }
    }
    unsigned char *w = s->word + s->word_len;
    if (cp < 0x80) {
        w[0] = (unsigned char)cp;
        s->word_len += 1;
    } else if (cp < 0x800) {
        w[0] = (unsigned char)(0xC0 | (cp >> 6));
        w[1] = (unsigned char)(0x80 | (cp & 0x3F));
        s->word_len += 2;
    } else if (cp < 0x10000) {
        w[0] = (unsigned char)(0xE0 | (cp >> 12));
        w[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        w[2] = (unsigned char)(0x80 | (cp & 0x3F));
        s->word_len += 3;
    } else {
        w[0] = (unsigned char)(0xF0 | (cp >> 18));
        w[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
        w[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        w[3] = (unsigned char)(0x80 | (cp & 0x3F));
        s->word_len += 4;
    }
}

/* Ends the word: WordPiece's greedy longest-match-first over its bytes.
 * For each piece start, the FNV state runs forward over the bytes once,
 * noting each character boundary up to the longest key of the namespace;
 * the candidates are then looked up from the longest down. */
static void word_end(wp_run *r) {
    attend_wordpiece_scratch *s = r->s;
    const attend_wordpiece *wp = r->wp;
    size_t n = s->word_len, chars = s->word_chars;
    s->word_len = s->word_chars = 0;
    if (chars == 0) return;
    if (chars > wp->opt.max_input_chars_per_word) {
        emit(r, wp->ids.unk);
        return;
    }
    const unsigned char *w = s->word;
    size_t start = 0, k = 0;
    while (start < n) {
        uint32_t ns = start > 0;
        size_t limit = n - start < wp->max_key[ns] ? n - start : wp->max_key[ns];
        uint64_t h = wp_seed[ns];
        size_t nc = 0;
        for (size_t b = start; b < start + limit; b++) {
            h = wp_hash_step(h, w[b]);
            if (b + 1 == n || (w[b + 1] & 0xC0) != 0x80) {
                s->chars[nc].end = b + 1;
                s->chars[nc].h = h;
                nc++;
            }
        }
        int32_t id = -1;
        while (nc > 0 && id < 0) {
            nc--;
            id = wp_find(wp, ns, wp_hash_final(s->chars[nc].h), w + start, s->chars[nc].end - start);
        }
        if (id < 0) { /* a remainder nothing matches: the whole word is unknown */
            emit(r, wp->ids.unk);
            return;
        }
        s->chars[k++].piece = id; /* its own field: the candidates above use end, h */
        start = s->chars[nc].end;
    }
    for (size_t i = 0; i < k; i++) emit(r, s->chars[i].piece);
}

/* Pre-tokenizer: whitespace ends a word, punctuation is a word alone. */
static inline void pretok(wp_run *r, uint32_t cp) {
    if (attend_wp_is_whitespace(cp)) {
        word_end(r);
    } else if (attend_wp_is_punct(cp)) {
        word_end(r);
        word_add(r, cp);
        word_end(r);
    } else {
        word_add(r, cp);
    }
}

static inline void lower_pretok(wp_run *r, uint32_t cp) {
    if (!r->wp->opt.lowercase) {
        pretok(r, cp);
        return;
    }
    uint32_t lo[2];
    size_t n = attend_wp_lower(cp, lo);
    pretok(r, lo[0]);
    if (n > 1) pretok(r, lo[1]);
}

/* A code point of the decomposed text: nonspacing marks go (strip_accents
 * is on whenever this runs). */
static inline void stripped(wp_run *r, uint32_t cp) {
    if (cp >= 0x300 && attend_wp_is_nonspacing(cp)) return; /* no Mn below U+0300 */
    lower_pretok(r, cp);
}

/* Puts the pending combining marks in canonical order (stable by class)
 * and passes them on. Runs are short in text; a long one (an attack, or
 * Zalgo text) is sorted by counting, in linear time. */
static void marks_flush(wp_run *r) {
    attend_wordpiece_scratch *s = r->s;
    size_t n = s->marks_n;
    uint32_t *m = s->marks;
    s->marks_n = 0;
    if (n <= 32) {
        for (size_t i = 1; i < n; i++) {
            uint32_t x = m[i];
            size_t j = i;
            while (j > 0 && (m[j - 1] >> 24) > (x >> 24)) {
                m[j] = m[j - 1];
                j--;
            }
            m[j] = x;
        }
    } else {
        size_t count[257] = {0};
        for (size_t i = 0; i < n; i++) count[(m[i] >> 24) + 1]++;
        for (size_t c = 1; c < 257; c++) count[c] += count[c - 1];
        for (size_t i = 0; i < n; i++) s->marks_tmp[count[m[i] >> 24]++] = m[i];
        m = s->marks_tmp;
    }
    for (size_t i = 0; i < n; i++) stripped(r, m[i] & 0xFFFFFF);
}

static void marks_push(wp_run *r, uint32_t cp, int ccc) {
    attend_wordpiece_scratch *s = r->s;
    if (s->marks_n == s->marks_cap) {
        size_t cap = s->marks_cap, cap_tmp = s->marks_cap;
        if (!grow((void **)&s->marks, &cap, s->marks_n + 1, sizeof *s->marks) ||
            !grow((void **)&s->marks_tmp, &cap_tmp, cap, sizeof *s->marks_tmp)) {
            r->nomem = 1;
            return;
        }
        s->marks_cap = cap; /* both arrays now hold cap */
    }
    s->marks[s->marks_n++] = (uint32_t)ccc << 24 | cp;
}

/* strip_accents: NFD (decomposition, then canonical order of each run of
 * marks), then nonspacing marks dropped. */
static inline void strip_char(wp_run *r, uint32_t cp) {
    uint32_t d[ATTEND_WP_NFD_MAX];
    size_t n = attend_wp_nfd(cp, d);
    for (size_t i = 0; i < n; i++) {
        int ccc = attend_wp_ccc(d[i]);
        if (ccc == 0) {
            if (r->s->marks_n) marks_flush(r);
            stripped(r, d[i]);
        } else {
            marks_push(r, d[i], ccc);
        }
    }
}

static inline void normalized(wp_run *r, uint32_t cp) {
    if (r->wp->opt.strip_accents) strip_char(r, cp);
    else lower_pretok(r, cp);
}

/* One code point of the text through clean_text and handle_chinese_chars. */
static void text_char(wp_run *r, uint32_t cp) {
    const attend_wordpiece_options *o = &r->wp->opt;
    if (o->clean_text) {
        if (attend_wp_is_control(cp)) return;
        if (attend_wp_is_whitespace(cp)) cp = ' ';
    }
    if (o->handle_chinese_chars && attend_wp_is_chinese(cp)) {
        normalized(r, ' ');
        normalized(r, cp);
        normalized(r, ' ');
        return;
    }
    normalized(r, cp);
}

/* ASCII classes for the fast path: what text_char would do with the byte. */
enum {
    A_WORD,    /* a-z, 0-9 */
    A_UPPER,   /* A-Z: lowercased when lowercase is on */
    A_PUNCT,   /* every other printable: a word of its own */
    A_SPACE,   /* \t \n \r ' ': ends the word */
    A_CTRL_WS, /* \v \f: controls (dropped) under clean_text, else whitespace */
    A_CTRL     /* other controls and NUL: dropped under clean_text, else letters */
};
#define C_ A_CTRL
#define W_ A_WORD
#define U_ A_UPPER
#define P_ A_PUNCT
static const unsigned char ascii_class[128] = {
    C_, C_, C_, C_, C_, C_, C_, C_, C_, A_SPACE, A_SPACE, A_CTRL_WS, A_CTRL_WS, A_SPACE, C_, C_,
    C_, C_, C_, C_, C_, C_, C_, C_, C_, C_, C_, C_, C_, C_, C_, C_,
    A_SPACE, P_, P_, P_, P_, P_, P_, P_, P_, P_, P_, P_, P_, P_, P_, P_,  /*  !"#$%&'()*+,-./ */
    W_, W_, W_, W_, W_, W_, W_, W_, W_, W_, P_, P_, P_, P_, P_, P_,       /* 0-9 :;<=>? */
    P_, U_, U_, U_, U_, U_, U_, U_, U_, U_, U_, U_, U_, U_, U_, U_,       /* @ A-O */
    U_, U_, U_, U_, U_, U_, U_, U_, U_, U_, U_, P_, P_, P_, P_, P_,       /* P-Z [\\]^_ */
    P_, W_, W_, W_, W_, W_, W_, W_, W_, W_, W_, W_, W_, W_, W_, W_,       /* ` a-o */
    W_, W_, W_, W_, W_, W_, W_, W_, W_, W_, W_, P_, P_, P_, P_, C_,       /* p-z {|}~ DEL */
};
#undef C_
#undef W_
#undef U_
#undef P_

/* A piece of text between special tokens: decode, normalise, split, match. */
static void encode_piece(wp_run *r, const unsigned char *p, size_t n) {
    const attend_wordpiece_options *o = &r->wp->opt;
    attend_wordpiece_scratch *s = r->s;
    size_t i = 0;
    while (i < n && !r->nomem) {
        unsigned char b = p[i];
        if (b >= 0x80) {
            text_char(r, utf8_next(p, &i));
            continue;
        }
        i++;
        if (s->marks_n) marks_flush(r); /* an ASCII character is a starter */
        switch (ascii_class[b]) {
        case A_UPPER:
            b = o->lowercase ? (unsigned char)(b + 32) : b;
            /* fall through */
        case A_WORD:
            if (s->word_len + 4 <= s->word_cap && s->word_chars < s->chars_cap &&
                s->word_chars < o->max_input_chars_per_word) {
                s->word[s->word_len++] = b;
                s->word_chars++;
            } else {
                word_add(r, b);
            }
            break;
        case A_PUNCT:
            word_end(r);
            word_add(r, b);
            word_end(r);
            break;
        case A_SPACE:
            word_end(r);
            break;
        case A_CTRL_WS:
            if (!o->clean_text) word_end(r);
            break;
        default: /* A_CTRL */
            if (!o->clean_text) word_add(r, b);
            break;
        }
    }
    if (s->marks_n) marks_flush(r);
    word_end(r);
}

/* 1 if s[0..n) begins with a whole, valid UTF-8 character. */
static int starts_with_char(const char *s, size_t n) {
    for (size_t k = 1; k <= 4 && k <= n; k++)
        if (attend_utf8_valid(s, k, NULL)) return 1;
    return 0;
}

/* Longest special token at p[0..n), or NULL. */
static const wp_special *special_at(const attend_wordpiece *wp, const unsigned char *p, size_t n) {
    for (size_t k = 0; k < wp->n_specials; k++) {
        const wp_special *sp = &wp->specials[k];
        if (sp->len <= n && memcmp(p, sp->s, sp->len) == 0) return sp;
    }
    return NULL;
}

attend_status attend_wordpiece_encode(const attend_wordpiece *wp, attend_wordpiece_scratch *s,
                                      const char *text, size_t len, int32_t *ids, size_t max_ids,
                                      attend_wordpiece_result *res, attend_error *err) {
    if (res) memset(res, 0, sizeof *res);
    if (!wp || !s || !res || (!text && len) || (!ids && max_ids))
        return attend_errorf(err, ATTEND_ERR_ARG, "wordpiece encode: NULL argument");
    /* Cut first, then check only what is read: the work is bounded by
     * max_text_bytes whatever len is. A character the cut splits must be
     * whole and valid past the cut, so that bad bytes there are not dropped
     * silently. */
    size_t n = len, bad;
    int cut = len > wp->opt.max_text_bytes;
    if (cut) n = attend_utf8_cut(text, wp->opt.max_text_bytes);
    if (!attend_utf8_valid(text, n, &bad)) goto invalid;
    if (cut && n < wp->opt.max_text_bytes && !starts_with_char(text + n, len - n)) {
        bad = n;
        goto invalid;
    }

    wp_run r = {wp, s, ids, max_ids, 0, 0, 0};
    s->word_len = s->word_chars = s->marks_n = 0;
    const unsigned char *p = (const unsigned char *)text;
    size_t piece = 0;
    if (wp->n_specials) {
        for (size_t i = 0; i < n; i++) {
            if (!wp->special_first[p[i]]) continue;
            const wp_special *sp = special_at(wp, p + i, n - i);
            if (!sp) continue;
            encode_piece(&r, p + piece, i - piece);
            emit(&r, sp->id);
            i += sp->len - 1;
            piece = i + 1;
        }
    }
    encode_piece(&r, p + piece, n - piece);
    if (r.nomem) {
        s->word_len = s->word_chars = s->marks_n = 0;
        return attend_errorf(err, ATTEND_ERR_NOMEM, "wordpiece encode: out of memory");
    }
    res->n_written = r.n_written;
    res->n_total = r.n_total;
    res->bytes_read = n;
    res->text_cut = cut;
    return ATTEND_OK;
invalid:
    return attend_errorf(err, ATTEND_ERR_FORMAT, "invalid UTF-8 at byte %zu of the text (0x%02x)",
                         bad, (unsigned)(unsigned char)text[bad]);
}

attend_status attend_wordpiece_encode_cls_sep(const attend_wordpiece *wp,
                                              attend_wordpiece_scratch *s, const char *text,
                                              size_t len, int32_t *ids, size_t max_len,
                                              attend_wordpiece_result *res, attend_error *err) {
    if (res) memset(res, 0, sizeof *res);
    if (!wp || !ids || !res)
        return attend_errorf(err, ATTEND_ERR_ARG, "wordpiece encode: NULL argument");
    if (max_len < 2)
        return attend_errorf(err, ATTEND_ERR_ARG,
                             "wordpiece encode: max_len %zu leaves no room for %s and %s", max_len,
                             wp->opt.cls_token, wp->opt.sep_token);
    if (wp->ids.cls < 0 || wp->ids.sep < 0)
        return attend_errorf(err, ATTEND_ERR_ARG, "wordpiece encode: the vocabulary has no %s",
                             wp->ids.cls < 0 ? wp->opt.cls_token : wp->opt.sep_token);
    attend_status st = attend_wordpiece_encode(wp, s, text, len, ids + 1, max_len - 2, res, err);
    if (st) return st;
    ids[0] = wp->ids.cls;
    ids[res->n_written + 1] = wp->ids.sep;
    res->n_written += 2;
    res->n_total += 2;
    return ATTEND_OK;
}
