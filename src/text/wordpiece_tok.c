/* The tokenizer interface (tokenizer.h) over BERT's WordPiece (wordpiece.h):
 * what a BERT-family model's attend_model_encode reads. The special tokens
 * around the text ([CLS] ... [SEP]) are the model's business. */
#include "text/tokenizer.h"
#include "text/wordpiece.h"
#include "base/json.h"
#include "base/util.h"

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
