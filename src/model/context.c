/* Inference contexts: everything a call writes (token ids, padding flags,
 * activations, the tokenizer's scratch) lives here, so that one loaded
 * model, which no call modifies, serves any number of threads, each with
 * its own context. Buffers grow to the largest batch seen and are reused. */
#include "model/model.h"
#include "base/util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct attend_context {
    const attend_model *model;
    void *tok;            /* the tokenizer's scratch */
    int32_t *ids;         /* (cap_tokens): a batch's tokens (B,T) */
    uint8_t *pad;         /* (cap_tokens) */
    size_t cap_tokens;
    float *acts;          /* (cap_acts) */
    size_t cap_acts;
    float *rows;          /* (cap_rows): a batch's output rows before reordering */
    size_t cap_rows;
    /* classify_batch: every text's ids, then the order by length */
    int32_t *all_ids;
    size_t cap_all_ids;
    size_t *off, *len, *order;
    size_t cap_texts;
};

attend_status attend_context_new(attend_context **out, const attend_model *m,
                                 attend_error *err) {
    if (!out) return attend_errorf(err, ATTEND_ERR_ARG, "attend_context_new: out is NULL");
    *out = NULL;
    if (!m) return attend_errorf(err, ATTEND_ERR_ARG, "attend_context_new: the model is NULL");
    attend_context *c = calloc(1, sizeof *c);
    if (!c) return attend_errorf(err, ATTEND_ERR_NOMEM, "out of memory for an inference context");
    c->model = m;
    attend_status st = attend_tokenizer_scratch_new(m->tok, &c->tok, err);
    if (st) {
        free(c);
        return st;
    }
    *out = c;
    return ATTEND_OK;
}

void attend_context_free(attend_context *c) {
    if (!c) return;
    attend_tokenizer_scratch_free(c->model->tok, c->tok);
    free(c->ids);
    free(c->pad);
    free(c->acts);
    free(c->rows);
    free(c->all_ids);
    free(c->off);
    free(c->len);
    free(c->order);
    free(c);
}

const attend_model *attend_context_model(const attend_context *c) { return c ? c->model : NULL; }

/* Room for a batch of B x T tokens, its fused activations and B output
 * rows of W values. */
static attend_status reserve(attend_context *c, size_t B, size_t T, size_t W, attend_error *err) {
    const attend_model_config *cfg = &c->model->cfg;
    size_t n = B * T, acts = attend_model_acts_size(cfg, B, T, ATTEND_ACTS_FUSED);
    size_t nl = B * W;
    if (!attend_grow((void **)&c->ids, &c->cap_tokens, n, sizeof *c->ids)) goto nomem;
    /* pad shares ids' capacity: grow it to the same count */
    uint8_t *pad = realloc(c->pad, c->cap_tokens);
    if (!pad) goto nomem;
    c->pad = pad;
    if (!attend_grow((void **)&c->acts, &c->cap_acts, acts, sizeof(float))) goto nomem;
    if (!attend_grow((void **)&c->rows, &c->cap_rows, nl, sizeof(float))) goto nomem;
    return ATTEND_OK;
nomem:
    return attend_errorf(err, ATTEND_ERR_NOMEM, "out of memory for a batch of %zu texts of %zu tokens",
                         B, T);
}

/* Room for count texts' offsets, lengths and order. */
static attend_status reserve_texts(attend_context *c, size_t count, attend_error *err) {
    if (count <= c->cap_texts) return ATTEND_OK;
    size_t *p[3] = {c->off, c->len, c->order};
    for (int k = 0; k < 3; k++) {
        size_t *q = realloc(p[k], count * sizeof(size_t));
        if (!q) {
            c->off = p[0], c->len = p[1], c->order = p[2];
            return attend_errorf(err, ATTEND_ERR_NOMEM, "out of memory for %zu texts", count);
        }
        p[k] = q;
    }
    c->off = p[0], c->len = p[1], c->order = p[2];
    c->cap_texts = count;
    return ATTEND_OK;
}

static attend_status check_call(const attend_model *m, const attend_context *c,
                                const char *what, attend_error *err) {
    /* A failed attend_model_load leaves the handle NULL: refuse it here
     * rather than crash in the caller's error path. */
    if (!m) return attend_errorf(err, ATTEND_ERR_ARG, "%s: the model is NULL", what);
    if (!c) return attend_errorf(err, ATTEND_ERR_ARG, "%s: the context is NULL", what);
    if (c->model != m)
        return attend_errorf(err, ATTEND_ERR_ARG, "%s: the context was made for another model",
                             what);
    return ATTEND_OK;
}

/* What a run of texts writes per text. */
typedef enum { OUT_PROBS, OUT_EMBEDDING, OUT_EMBEDDING_NORMALIZED } out_kind;

/* Runs B encoded texts (ids (B,T) in c->ids, padding in c->pad) and writes
 * one row each into out (B, K or E). */
static attend_status run_batch(const attend_model *m, attend_context *c, size_t B, size_t T,
                               out_kind kind, float *out, attend_error *err) {
    const attend_model_config *cfg = &m->cfg;
    const size_t K = cfg->num_classes, E = cfg->d_model;
    attend_model_acts a;
    attend_model_acts_bind(&a, cfg, B, T, ATTEND_ACTS_FUSED, c->acts);
    attend_model_forward(m, &a, c->ids, c->pad, B, T, 0, 0);
    if (kind != OUT_PROBS) {
        /* the embedding's pooling may differ from the head's (a BERT
         * classifier reads the pooler; its folder embeds by mean) */
        if (m->embed_pool != cfg->pool)
            attend_model_pool(m, a.pooled, attend_model_top(m, &a), c->pad, B, T, m->embed_pool);
        for (size_t b = 0; b < B; b++) {
            const float *u = a.pooled + b * E;
            float *o = out + b * E;
            double ss = 0.0;
            for (size_t i = 0; i < E; i++) {
                if (!isfinite(u[i]))
                    return attend_errorf(err, ATTEND_ERR_NUMERIC,
                                         "the model produced a non-finite embedding (weights too large?)");
                ss += (double)u[i] * u[i];
            }
            /* v / max(|v|, 1e-12), as sentence-transformers' Normalize */
            float scale = kind == OUT_EMBEDDING_NORMALIZED ? (float)(1.0 / fmax(sqrt(ss), 1e-12)) : 1.0f;
            for (size_t i = 0; i < E; i++) o[i] = u[i] * scale;
        }
        return ATTEND_OK;
    }
    for (size_t i = 0; i < B * K; i++)
        if (!isfinite(a.logits[i]))
            return attend_errorf(err, ATTEND_ERR_NUMERIC,
                                 "the model produced a non-finite score for class '%s' (weights too large?)",
                                 m->labels.names[i % K]);
    attend_softmax_forward(out, a.logits, B, K);
    return ATTEND_OK;
}

/* Sort helper: by length, then index. */
static _Thread_local const size_t *sort_len_; /* per thread: contexts run in parallel */
static int by_len(const void *a, const void *b) {
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    if (sort_len_[i] != sort_len_[j]) return sort_len_[i] < sort_len_[j] ? -1 : 1;
    return i < j ? -1 : i > j;
}

/* Every text of a call: encoded, ordered by length, run in batches of
 * similar length (up to 64 texts or 8192 tokens), one output row per text
 * in the caller's order. A text without tokens gets a row of zeros. */
static attend_status run_texts(const attend_model *m, attend_context *c, const char *what,
                               const char *const *texts, const size_t *lens, size_t count,
                               out_kind kind, float *out, size_t *n_tokens, attend_error *err) {
    attend_status st = check_call(m, c, what, err);
    if (st) return st;
    if (count && (!texts || !lens || !out))
        return attend_errorf(err, ATTEND_ERR_ARG, "%s: NULL argument", what);
    const attend_model_config *cfg = &m->cfg;
    const size_t W = kind == OUT_PROBS ? cfg->num_classes : cfg->d_model;
    if (kind == OUT_PROBS && W == 0)
        return attend_errorf(err, ATTEND_ERR_ARG,
                             "%s: this model is an encoder without a classification head (embed with it, or fine-tune it with attend train --init)",
                             what);
    const size_t T = cfg->max_len, special = attend_model_n_special(m);
    if ((st = reserve_texts(c, count, err))) return st;
    // encode every text
    size_t used = 0, n_real = 0;
    for (size_t i = 0; i < count; i++) {
        size_t need;
        if (attend_add_overflow(used, T, &need) ||
            !attend_grow((void **)&c->all_ids, &c->cap_all_ids, need, sizeof(int32_t)))
            return attend_errorf(err, ATTEND_ERR_NOMEM, "out of memory encoding %zu texts", count);
        size_t n = 0;
        if (!texts[i] && lens[i])
            return attend_errorf(err, ATTEND_ERR_ARG, "%s: text %zu is NULL", what, i);
        if ((st = attend_model_encode(m, c->tok, texts[i], lens[i], c->all_ids + used, &n, NULL,
                                      err))) {
            if (count == 1) return st;
            char why[sizeof err->msg];
            snprintf(why, sizeof why, "%s", err ? err->msg : "");
            return attend_errorf(err, st, "text %zu: %s", i, why);
        }
        c->off[i] = used;
        c->len[i] = n;
        used += n;
        if (n_tokens) n_tokens[i] = n ? n - special : 0;
        if (n == 0) memset(out + i * W, 0, W * sizeof(float));
        else c->order[n_real++] = i;
    }
    sort_len_ = c->len;
    qsort(c->order, n_real, sizeof(size_t), by_len);
    sort_len_ = NULL;
    for (size_t s = 0; s < n_real;) {
        size_t B = 0, Tb = 0;
        while (s + B < n_real && B < 64) {
            size_t l = c->len[c->order[s + B]];
            if (B && (B + 1) * (l > Tb ? l : Tb) > 8192) break;
            Tb = l > Tb ? l : Tb;
            B++;
        }
        if ((st = reserve(c, B, Tb, W, err))) return st;
        for (size_t b = 0; b < B; b++) {
            size_t i = c->order[s + b], n = c->len[i];
            memcpy(c->ids + b * Tb, c->all_ids + c->off[i], n * sizeof(int32_t));
            for (size_t t = 0; t < Tb; t++) c->pad[b * Tb + t] = t >= n;
            for (size_t t = n; t < Tb; t++) c->ids[b * Tb + t] = m->tok->pad_id;
        }
        if ((st = run_batch(m, c, B, Tb, kind, c->rows, err))) return st;
        for (size_t b = 0; b < B; b++)
            memcpy(out + c->order[s + b] * W, c->rows + b * W, W * sizeof(float));
        s += B;
    }
    return ATTEND_OK;
}

attend_status attend_classify(const attend_model *m, attend_context *c, const char *text,
                              size_t len, float *probs, size_t *n_tokens, attend_error *err) {
    if (!probs || (!text && len))
        return attend_errorf(err, ATTEND_ERR_ARG, "attend_classify: %s is NULL", !probs ? "probs" : "text");
    return run_texts(m, c, "attend_classify", &text, &len, 1, OUT_PROBS, probs, n_tokens, err);
}

attend_status attend_classify_batch(const attend_model *m, attend_context *c,
                                    const char *const *texts, const size_t *lens, size_t count,
                                    float *probs, size_t *n_tokens, attend_error *err) {
    return run_texts(m, c, "attend_classify_batch", texts, lens, count, OUT_PROBS, probs, n_tokens,
                     err);
}

size_t attend_model_embed_dim(const attend_model *m) { return m ? m->cfg.d_model : 0; }

attend_status attend_embed(const attend_model *m, attend_context *c, const char *text, size_t len,
                           int normalize, float *out, size_t *n_tokens, attend_error *err) {
    if (!out || (!text && len))
        return attend_errorf(err, ATTEND_ERR_ARG, "attend_embed: %s is NULL", !out ? "out" : "text");
    return run_texts(m, c, "attend_embed", &text, &len, 1,
                     normalize ? OUT_EMBEDDING_NORMALIZED : OUT_EMBEDDING, out, n_tokens, err);
}

attend_status attend_embed_batch(const attend_model *m, attend_context *c,
                                 const char *const *texts, const size_t *lens, size_t count,
                                 int normalize, float *out, size_t *n_tokens, attend_error *err) {
    return run_texts(m, c, "attend_embed_batch", texts, lens, count,
                     normalize ? OUT_EMBEDDING_NORMALIZED : OUT_EMBEDDING, out, n_tokens, err);
}

attend_status attend_tokenize(const attend_model *m, attend_context *c, const char *text,
                              size_t len, int32_t *ids, size_t max_ids, size_t *n, size_t *n_total,
                              attend_error *err) {
    attend_status st = check_call(m, c, "attend_tokenize", err);
    if (st) return st;
    if (!ids || !n || (!text && len))
        return attend_errorf(err, ATTEND_ERR_ARG, "attend_tokenize: NULL argument");
    const size_t T = m->cfg.max_len;
    if ((st = reserve(c, 1, T, 1, err))) return st;
    size_t k = 0;
    if ((st = attend_model_encode(m, c->tok, text, len, c->ids, &k, n_total, err))) return st;
    if (n_total && k) *n_total += attend_model_n_special(m);
    *n = k < max_ids ? k : max_ids;
    memcpy(ids, c->ids, *n * sizeof(int32_t));
    return ATTEND_OK;
}
