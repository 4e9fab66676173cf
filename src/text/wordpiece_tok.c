/* The tokenizer interface (tokenizer.h) over BERT's WordPiece (wordpiece.h):
 * what a BERT-family model's attend_model_encode reads. The special tokens
 * around the text ([CLS] ... [SEP]) are the model's business. */
#include "text/tokenizer.h"
#include "text/wordpiece.h"
#include "base/buf.h"
#include "base/json.h"
#include "base/util.h"

#include <cjson/cJSON.h>

#include <stdlib.h>
#include <string.h>

typedef struct {
    attend_tokenizer base;
    attend_wordpiece *wp;
} wp_tokenizer;

/* Per thread: the WordPiece scratch and the ids of the last encode, so
 * that piece() can name them. */
typedef struct {
    attend_wordpiece_scratch *s;
    int32_t *ids;
    size_t n, cap;
} wp_scratch;

static const attend_wordpiece *wp_of(const attend_tokenizer *t) {
    return ((const wp_tokenizer *)t)->wp;
}

static attend_status wpt_scratch_new(const attend_tokenizer *t, void **out, attend_error *err) {
    (void)t;
    *out = NULL;
    wp_scratch *sc = calloc(1, sizeof *sc);
    if (!sc) return attend_errorf(err, ATTEND_ERR_NOMEM, "tokenizer: out of memory");
    attend_status st = attend_wordpiece_scratch_new(&sc->s, err);
    if (st) {
        free(sc);
        return st;
    }
    *out = sc;
    return ATTEND_OK;
}

static void wpt_scratch_free(void *scratch) {
    wp_scratch *sc = scratch;
    attend_wordpiece_scratch_free(sc->s);
    free(sc->ids);
    free(sc);
}

static attend_status wpt_encode(const attend_tokenizer *t, void *scratch, const char *text,
                                size_t len, int32_t *ids, size_t max_ids, size_t *n,
                                size_t *n_total, attend_error *err) {
    wp_scratch *sc = scratch;
    attend_wordpiece_result res;
    *n = 0;
    sc->n = 0;
    if (n_total) *n_total = 0;
    attend_status st = attend_wordpiece_encode(wp_of(t), sc->s, text, len, max_ids ? ids : NULL,
                                               max_ids, &res, err);
    if (st) return st;
    if (attend_grow((void **)&sc->ids, &sc->cap, res.n_written, sizeof(int32_t))) {
        memcpy(sc->ids, ids, res.n_written * sizeof(int32_t));
        sc->n = res.n_written;
    }
    *n = res.n_written;
    if (n_total) *n_total = res.n_total;
    return ATTEND_OK;
}

/* A WordPiece token is itself a vocabulary entry ("##ing"; [UNK] for a
 * word that matched nothing). */
static const char *wpt_piece(const attend_tokenizer *t, const void *scratch, size_t i) {
    const wp_scratch *sc = scratch;
    return i < sc->n ? attend_wordpiece_token(wp_of(t), sc->ids[i]) : NULL;
}

static const char *wpt_token(const attend_tokenizer *t, int32_t id) {
    return attend_wordpiece_token(wp_of(t), id);
}

static int32_t wpt_find(const attend_tokenizer *t, const char *s, size_t len) {
    return attend_wordpiece_id(wp_of(t), s, len);
}

static const char *token_at(const void *ctx, size_t i) {
    return attend_wordpiece_token(ctx, (int32_t)i);
}

static attend_status wpt_vocab_json(const attend_tokenizer *t, char **out, attend_error *err) {
    const attend_wordpiece *wp = wp_of(t);
    return attend_json_string_array(attend_wordpiece_vocab_size(wp), token_at, wp, "vocabulary",
                                    out, err);
}

static void wpt_destroy(attend_tokenizer *t) {
    wp_tokenizer *w = (wp_tokenizer *)t;
    attend_wordpiece_free(w->wp);
    free(w);
}

static const attend_tokenizer_ops wordpiece_ops = {
    "wordpiece", wpt_scratch_new, wpt_scratch_free, wpt_encode,  wpt_piece,
    wpt_token,   wpt_find,        wpt_vocab_json,   wpt_destroy,
};

attend_status attend_tokenizer_wordpiece_new(attend_tokenizer **out, attend_wordpiece *wp,
                                             int32_t pad_id, attend_error *err) {
    *out = NULL;
    wp_tokenizer *w = calloc(1, sizeof *w);
    if (!w) {
        attend_wordpiece_free(wp);
        return attend_errorf(err, ATTEND_ERR_NOMEM, "tokenizer: out of memory");
    }
    w->wp = wp;
    attend_tokenizer *t = &w->base;
    attend_wordpiece_specials sp = attend_wordpiece_special_ids(wp);
    t->ops = &wordpiece_ops;
    t->vocab_size = attend_wordpiece_vocab_size(wp);
    t->unk_id = sp.unk;
    t->cls_id = sp.cls;
    t->sep_id = sp.sep;
    /* Padded positions are masked, so any id serves; the vocabulary's
     * [PAD], else the model's pad_token_id, else 0. */
    t->pad_id = sp.pad >= 0 ? sp.pad : pad_id >= 0 ? pad_id : 0;
    *out = t;
    return ATTEND_OK;
}

const attend_wordpiece *attend_tokenizer_wordpiece(const attend_tokenizer *t) {
    return t && t->ops == &wordpiece_ops ? wp_of(t) : NULL;
}

/* ---- saving and loading (a fine-tuned model file keeps its tokenizer) ---- */

attend_status attend_tokenizer_wordpiece_settings(const attend_tokenizer *t, char **out,
                                                  attend_error *err) {
    *out = NULL;
    const attend_wordpiece *wp = attend_tokenizer_wordpiece(t);
    if (!wp) return attend_errorf(err, ATTEND_ERR_ARG, "not a WordPiece tokenizer");
    const attend_wordpiece_options *o = attend_wordpiece_get_options(wp);
    cJSON *j = cJSON_CreateObject();
    int ok = j && cJSON_AddBoolToObject(j, "lowercase", o->lowercase) &&
             cJSON_AddBoolToObject(j, "strip_accents", o->strip_accents) &&
             cJSON_AddBoolToObject(j, "handle_chinese_chars", o->handle_chinese_chars) &&
             cJSON_AddBoolToObject(j, "clean_text", o->clean_text) &&
             cJSON_AddBoolToObject(j, "match_special_tokens", o->match_special_tokens) &&
             cJSON_AddNumberToObject(j, "max_input_chars_per_word", (double)o->max_input_chars_per_word) &&
             cJSON_AddStringToObject(j, "continuing_subword_prefix", o->continuing_subword_prefix) &&
             cJSON_AddStringToObject(j, "unk_token", o->unk_token) &&
             cJSON_AddStringToObject(j, "cls_token", o->cls_token) &&
             cJSON_AddStringToObject(j, "sep_token", o->sep_token) &&
             cJSON_AddStringToObject(j, "pad_token", o->pad_token) &&
             cJSON_AddStringToObject(j, "mask_token", o->mask_token) &&
             cJSON_AddNumberToObject(j, "pad_id", (double)t->pad_id);
    char *txt = ok ? cJSON_PrintUnformatted(j) : NULL;
    cJSON_Delete(j);
    if (txt) *out = attend_strdup(txt);
    cJSON_free(txt);
    return *out ? ATTEND_OK : attend_errorf(err, ATTEND_ERR_NOMEM, "out of memory");
}

/* The settings object's fields into o (every one required). */
static attend_status settings_parse(const cJSON *j, attend_wordpiece_options *o, int32_t *pad_id,
                                    attend_error *err) {
    static const char *const flags[5] = {"lowercase", "strip_accents", "handle_chinese_chars",
                                         "clean_text", "match_special_tokens"};
    int *dst[5] = {&o->lowercase, &o->strip_accents, &o->handle_chinese_chars, &o->clean_text,
                   &o->match_special_tokens};
    static const char *const names[6] = {"continuing_subword_prefix", "unk_token", "cls_token",
                                         "sep_token", "pad_token", "mask_token"};
    char *ndst[6] = {o->continuing_subword_prefix, o->unk_token, o->cls_token, o->sep_token,
                     o->pad_token, o->mask_token};
    attend_wordpiece_options_default(o);
    for (int k = 0; k < 5; k++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, flags[k]);
        if (!cJSON_IsBool(v))
            return attend_errorf(err, ATTEND_ERR_FORMAT, "tokenizer settings: '%s' is not true/false", flags[k]);
        *dst[k] = cJSON_IsTrue(v);
    }
    for (int k = 0; k < 6; k++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, names[k]);
        if (!cJSON_IsString(v) || strlen(v->valuestring) >= ATTEND_WORDPIECE_NAME_MAX)
            return attend_errorf(err, ATTEND_ERR_FORMAT, "tokenizer settings: '%s' is not a string of at most %d bytes",
                                 names[k], ATTEND_WORDPIECE_NAME_MAX - 1);
        memcpy(ndst[k], v->valuestring, strlen(v->valuestring) + 1);
    }
    const cJSON *mw = cJSON_GetObjectItemCaseSensitive(j, "max_input_chars_per_word");
    const cJSON *pid = cJSON_GetObjectItemCaseSensitive(j, "pad_id");
    if (!cJSON_IsNumber(mw) || !(mw->valuedouble >= 1 && mw->valuedouble <= 1e6) ||
        !cJSON_IsNumber(pid) || !(pid->valuedouble >= 0 && pid->valuedouble < 16777216.0))
        return attend_errorf(err, ATTEND_ERR_FORMAT, "tokenizer settings: max_input_chars_per_word or pad_id out of range");
    o->max_input_chars_per_word = (size_t)mw->valuedouble;
    *pad_id = (int32_t)pid->valuedouble;
    return ATTEND_OK;
}

attend_status attend_tokenizer_wordpiece_from_json(attend_tokenizer **out, const char *vocab_json,
                                                   const char *settings_json, attend_error *err) {
    *out = NULL;
    int oom = 0;
    cJSON *v = attend_json_parse(vocab_json, NULL, &oom), *s = NULL;
    attend_buf txt;
    attend_buf_init(&txt);
    attend_wordpiece_options o;
    int32_t pad_id = 0;
    attend_wordpiece *wp = NULL;
    attend_status st = ATTEND_OK;
    if (!cJSON_IsArray(v) || !(s = attend_json_parse(settings_json, NULL, &oom)) || !cJSON_IsObject(s)) {
        st = attend_errorf(err, oom ? ATTEND_ERR_NOMEM : ATTEND_ERR_FORMAT,
                           "the vocabulary or the tokenizer settings are not valid JSON");
        goto done;
    }
    if ((st = settings_parse(s, &o, &pad_id, err))) goto done;
    /* back to vocab.txt's form: one token a line (a token holding a line
     * break would shift the ids; the count check below catches it) */
    size_t n = 0;
    for (const cJSON *it = v->child; it; it = it->next, n++) {
        if (!cJSON_IsString(it)) {
            st = attend_errorf(err, ATTEND_ERR_FORMAT, "vocabulary entry %zu is not a string", n);
            goto done;
        }
        attend_buf_puts(&txt, it->valuestring);
        attend_buf_puts(&txt, "\n");
    }
    if (txt.failed) {
        st = attend_errorf(err, ATTEND_ERR_NOMEM, "out of memory");
        goto done;
    }
    if ((st = attend_wordpiece_load_memory(&wp, txt.s ? txt.s : "", txt.len, "the model's vocabulary", &o, err)))
        goto done;
    if (attend_wordpiece_vocab_size(wp) != n) {
        st = attend_errorf(err, ATTEND_ERR_FORMAT, "the vocabulary's %zu entries read back as %zu lines", n,
                           attend_wordpiece_vocab_size(wp));
        attend_wordpiece_free(wp);
        goto done;
    }
    if ((size_t)pad_id >= n) pad_id = 0;
    st = attend_tokenizer_wordpiece_new(out, wp, pad_id, err);
done:
    cJSON_Delete(v);
    cJSON_Delete(s);
    attend_buf_free(&txt);
    return st;
}
