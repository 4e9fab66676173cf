/* Vocabulary of attend's own tokenizer (see vocab.h). */
#include "text/vocab.h"
#include "base/json.h"
#include "base/rng.h"
#include "base/utf8.h"
#include "base/util.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

static const char *const special_tokens[ATTEND_VOCAB_NSPECIAL] = {"<pad>", "<unk>", "<cls>"};

/* ------------------------------------------------------------------------ */
/* String table: open addressing with linear probing                        */
/* ------------------------------------------------------------------------ */

static uint64_t tab_hash(const char *s, size_t len) {
    return attend_mix64(attend_fnv1a64(s, len, ATTEND_FNV64_OFFSET));
}

static void tab_free(attend_strtab *t) {
    free(t->bytes);
    free(t->off);
    free(t->len);
    free(t->hash);
    free(t->count);
    free(t->slots);
    memset(t, 0, sizeof *t);
}

/* Index of s, or SIZE_MAX. */
static size_t tab_find(const attend_strtab *t, const char *s, size_t len, uint64_t h) {
    if (!t->nslots) return SIZE_MAX;
    size_t mask = t->nslots - 1;
    for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
        uint32_t e = t->slots[i];
        if (!e) return SIZE_MAX;
        size_t k = (size_t)e - 1;
        if (t->hash[k] == h && t->len[k] == len && memcmp(t->bytes + t->off[k], s, len) == 0)
            return k;
    }
}

static int tab_rehash(attend_strtab *t, size_t nslots) {
    uint32_t *slots = calloc(nslots, sizeof *slots);
    if (!slots) return 0;
    size_t mask = nslots - 1;
    for (size_t k = 0; k < t->n; k++) {
        size_t i = (size_t)t->hash[k] & mask;
        while (slots[i]) i = (i + 1) & mask;
        slots[i] = (uint32_t)(k + 1);
    }
    free(t->slots);
    t->slots = slots;
    t->nslots = nslots;
    return 1;
}

/* Appends s (not present yet) and returns its index in *idx. */
static attend_status tab_add(attend_strtab *t, const char *s, size_t len, uint64_t h,
                             size_t *idx, attend_error *err) {
    if (t->n >= ATTEND_VOCAB_MAX_SIZE)
        return attend_errorf(err, ATTEND_ERR_NOMEM, "more than %zu distinct tokens",
                             (size_t)ATTEND_VOCAB_MAX_SIZE);
    if ((t->n + 1) * 2 > t->nslots) {
        if (!tab_rehash(t, t->nslots ? t->nslots * 2 : 64)) goto nomem;
    }
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64, tmp;
        if (attend_mul_overflow(cap, sizeof(uint64_t), &tmp)) goto nomem;
        void *q;
        if (!(q = realloc(t->off, cap * sizeof *t->off))) goto nomem;
        t->off = q;
        if (!(q = realloc(t->len, cap * sizeof *t->len))) goto nomem;
        t->len = q;
        if (!(q = realloc(t->hash, cap * sizeof *t->hash))) goto nomem;
        t->hash = q;
        if (!(q = realloc(t->count, cap * sizeof *t->count))) goto nomem;
        t->count = q;
        t->cap = cap;
    }
    size_t need;
    if (attend_add_overflow(t->nbytes, len + 1, &need) || len + 1 == 0) goto nomem;
    if (!attend_grow((void **)&t->bytes, &t->bytes_cap, need, 1)) goto nomem;
    size_t k = t->n;
    memcpy(t->bytes + t->nbytes, s, len);
    t->bytes[t->nbytes + len] = 0;
    t->off[k] = t->nbytes;
    t->len[k] = len;
    t->hash[k] = h;
    t->count[k] = 0;
    t->nbytes = need;
    t->n = k + 1;
    size_t mask = t->nslots - 1, i = (size_t)h & mask;
    while (t->slots[i]) i = (i + 1) & mask;
    t->slots[i] = (uint32_t)(k + 1);
    *idx = k;
    return ATTEND_OK;
nomem:
    return attend_errorf(err, ATTEND_ERR_NOMEM, "vocabulary: out of memory");
}

/* ------------------------------------------------------------------------ */
/* Counter                                                                  */
/* ------------------------------------------------------------------------ */

attend_status attend_vocab_counter_init(attend_vocab_counter *c, attend_error *err) {
    if (!c) return attend_errorf(err, ATTEND_ERR_ARG, "vocabulary counter: NULL argument");
    memset(c, 0, sizeof *c);
    return ATTEND_OK;
}

void attend_vocab_counter_free(attend_vocab_counter *c) {
    if (!c) return;
    tab_free(&c->tab);
    c->total = 0;
}

attend_status attend_vocab_counter_add(attend_vocab_counter *c, const char *s, size_t len,
                                       attend_error *err) {
    if (!c || (!s && len))
        return attend_errorf(err, ATTEND_ERR_ARG, "vocabulary counter: NULL argument");
    uint64_t h = tab_hash(s, len);
    size_t k = tab_find(&c->tab, s, len, h);
    if (k == SIZE_MAX) {
        attend_status st = tab_add(&c->tab, s, len, h, &k, err);
        if (st) return st;
    }
    c->tab.count[k]++;
    c->total++;
    return ATTEND_OK;
}

attend_status attend_vocab_counter_add_text(attend_vocab_counter *c, attend_splitter *tok,
                                            const char *text, size_t len, attend_error *err) {
    attend_status st = attend_splitter_split(tok, text, len, 0, err);
    if (st) return st;
    for (size_t i = 0; i < tok->count; i++) {
        size_t tl;
        const char *t = attend_splitter_token(tok, i, &tl);
        if ((st = attend_vocab_counter_add(c, t, tl, err))) return st;
    }
    return ATTEND_OK;
}

/* ------------------------------------------------------------------------ */
/* Vocabulary                                                               */
/* ------------------------------------------------------------------------ */

attend_status attend_vocab_init(attend_vocab *v, attend_error *err) {
    if (!v) return attend_errorf(err, ATTEND_ERR_ARG, "vocabulary: NULL argument");
    memset(v, 0, sizeof *v);
    for (size_t i = 0; i < ATTEND_VOCAB_NSPECIAL; i++) {
        size_t len = strlen(special_tokens[i]), k;
        attend_status st = tab_add(&v->tab, special_tokens[i], len,
                                   tab_hash(special_tokens[i], len), &k, err);
        if (st) {
            attend_vocab_free(v);
            return st;
        }
    }
    return ATTEND_OK;
}

void attend_vocab_free(attend_vocab *v) {
    if (v) tab_free(&v->tab);
}

const char *attend_vocab_token(const attend_vocab *v, size_t id) {
    if (!v || id >= v->tab.n) return NULL;
    return v->tab.bytes + v->tab.off[id];
}

int32_t attend_vocab_find(const attend_vocab *v, const char *s, size_t len) {
    if (!v || (!s && len)) return -1;
    size_t k = tab_find(&v->tab, s, len, tab_hash(s, len));
    return k == SIZE_MAX ? -1 : (int32_t)k;
}

int32_t attend_vocab_id(const attend_vocab *v, const char *s, size_t len) {
    int32_t id = attend_vocab_find(v, s, len);
    return id < 0 ? ATTEND_VOCAB_UNK : id;
}

typedef struct {
    uint64_t count;
    const char *s;
    size_t len;
} vocab_entry;

/* Count descending, then bytes ascending (a proper prefix sorts first). */
static int vocab_entry_cmp(const void *pa, const void *pb) {
    const vocab_entry *a = pa, *b = pb;
    if (a->count != b->count) return a->count > b->count ? -1 : 1;
    size_t m = a->len < b->len ? a->len : b->len;
    int c = memcmp(a->s, b->s, m);
    if (c) return c;
    return (a->len > b->len) - (a->len < b->len);
}

static int is_special(const char *s, size_t len) {
    for (size_t i = 0; i < ATTEND_VOCAB_NSPECIAL; i++)
        if (strlen(special_tokens[i]) == len && memcmp(special_tokens[i], s, len) == 0)
            return 1;
    return 0;
}

attend_status attend_vocab_build(attend_vocab *v, const attend_vocab_counter *c,
                                 size_t min_freq, size_t max_vocab, attend_error *err) {
    if (!v || !c) return attend_errorf(err, ATTEND_ERR_ARG, "vocabulary: NULL argument");
    memset(v, 0, sizeof *v);
    if (max_vocab != 0 && max_vocab < ATTEND_VOCAB_NSPECIAL)
        return attend_errorf(err, ATTEND_ERR_ARG,
                             "max vocabulary size %zu is below the %d special tokens "
                             "(use 0 for no limit)",
                             max_vocab, ATTEND_VOCAB_NSPECIAL);
    const attend_strtab *t = &c->tab;
    vocab_entry *e = malloc((t->n ? t->n : 1) * sizeof *e);
    if (!e) return attend_errorf(err, ATTEND_ERR_NOMEM, "vocabulary: out of memory");
    size_t m = 0;
    for (size_t k = 0; k < t->n; k++) {
        if (t->count[k] < (uint64_t)min_freq) continue;
        const char *s = t->bytes + t->off[k];
        if (is_special(s, t->len[k])) continue;
        e[m].count = t->count[k];
        e[m].s = s;
        e[m].len = t->len[k];
        m++;
    }
    qsort(e, m, sizeof *e, vocab_entry_cmp);
    if (max_vocab && m > max_vocab - ATTEND_VOCAB_NSPECIAL) m = max_vocab - ATTEND_VOCAB_NSPECIAL;
    attend_status st = attend_vocab_init(v, err);
    for (size_t i = 0; st == ATTEND_OK && i < m; i++) {
        size_t k;
        st = tab_add(&v->tab, e[i].s, e[i].len, tab_hash(e[i].s, e[i].len), &k, err);
    }
    free(e);
    if (st) attend_vocab_free(v);
    return st;
}

static const char *vocab_token_at(const void *ctx, size_t i) {
    const attend_vocab *v = ctx;
    return v->tab.bytes + v->tab.off[i];
}

attend_status attend_vocab_to_json(const attend_vocab *v, char **out, attend_error *err) {
    if (!v || !out) return attend_errorf(err, ATTEND_ERR_ARG, "vocabulary: NULL argument");
    return attend_json_string_array(v->tab.n, vocab_token_at, v, "vocabulary", out, err);
}

attend_status attend_vocab_from_json(attend_vocab *v, const char *json, attend_error *err) {
    if (!v || !json) return attend_errorf(err, ATTEND_ERR_ARG, "vocabulary: NULL argument");
    memset(v, 0, sizeof *v);
    const char *end = NULL;
    int oom = 0;
    cJSON *arr = attend_json_parse(json, &end, &oom);
    if (!arr && oom) return attend_errorf(err, ATTEND_ERR_NOMEM, "vocabulary: out of memory parsing the JSON");
    if (!arr) {
        size_t at = end && end >= json ? (size_t)(end - json) : 0;
        return attend_errorf(err, ATTEND_ERR_FORMAT,
                             "vocabulary: invalid JSON near byte %zu (expected an array "
                             "of token strings)",
                             at);
    }
    attend_status st = ATTEND_OK;
    if (!cJSON_IsArray(arr)) {
        st = attend_errorf(err, ATTEND_ERR_FORMAT, "vocabulary: not a JSON array of strings");
        goto done;
    }
    if ((st = attend_vocab_init(v, err))) goto done;
    size_t i = 0;
    for (const cJSON *it = arr->child; it; it = it->next, i++) {
        if (!cJSON_IsString(it) || !it->valuestring) {
            st = attend_errorf(err, ATTEND_ERR_FORMAT, "vocabulary: id %zu is not a string", i);
            goto done;
        }
        const char *s = it->valuestring;
        size_t len = strlen(s), bad;
        if (len == 0) {
            st = attend_errorf(err, ATTEND_ERR_FORMAT, "vocabulary: id %zu is an empty string",
                               i);
            goto done;
        }
        if (!attend_utf8_valid(s, len, &bad)) {
            st = attend_errorf(err, ATTEND_ERR_FORMAT,
                               "vocabulary: id %zu is not valid UTF-8 (byte %zu)", i, bad);
            goto done;
        }
        if (i < ATTEND_VOCAB_NSPECIAL) {
            /* Already in v from attend_vocab_init; the file must agree. */
            if (strcmp(s, special_tokens[i]) != 0) {
                st = attend_errorf(err, ATTEND_ERR_FORMAT,
                                   "vocabulary: id %zu must be \"%s\", found \"%.64s\"", i,
                                   special_tokens[i], s);
                goto done;
            }
            continue;
        }
        uint64_t h = tab_hash(s, len);
        size_t first = tab_find(&v->tab, s, len, h);
        if (first != SIZE_MAX) {
            st = attend_errorf(err, ATTEND_ERR_FORMAT,
                               "vocabulary: token \"%.64s\" appears twice (ids %zu and %zu)", s,
                               first, i);
            goto done;
        }
        size_t k;
        if ((st = tab_add(&v->tab, s, len, h, &k, err))) goto done;
    }
    if (i < ATTEND_VOCAB_NSPECIAL)
        st = attend_errorf(err, ATTEND_ERR_FORMAT,
                           "vocabulary: %zu entries, fewer than the %d special tokens", i,
                           ATTEND_VOCAB_NSPECIAL);
done:
    cJSON_Delete(arr);
    if (st) attend_vocab_free(v);
    return st;
}
