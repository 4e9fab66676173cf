/* Inference contexts: everything a call writes (token ids, padding flags,
 * activations, the tokenizer's scratch) lives here, so that one loaded
 * model, which no call modifies, serves any number of threads, each with
 * its own context. Buffers grow to the largest batch seen and are reused.
 *
 * A call over many texts (classify_batch, embed_batch) sorts them by length
 * and runs batches of similar length. With several threads and several
 * batches, the batches themselves run in parallel, one per thread, each
 * with buffers of its own and its kernels on that one thread: no barrier
 * inside a forward pass, which on a busy machine (a core taken away in the
 * middle of a layer) costs far more than it saves. A single batch (one
 * text) runs on all threads inside its kernels instead. Each text's result
 * is the same bits either way (a batch's kernels compute each value in one
 * fixed order, whatever the thread count). */
#include "model/model.h"
#include "base/parallel.h"
#include "base/util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What one batch writes; a context has one per thread running batches. */
typedef struct {
    int32_t *ids;         /* (cap_tokens): a batch's tokens (B,T) */
    uint8_t *pad;         /* (cap_tokens) */
    size_t cap_tokens;
    float *acts;          /* (cap_acts) */
    size_t cap_acts;
    float *rows;          /* (cap_rows): a batch's output rows before reordering */
    size_t cap_rows;
} batch_buf;

/* A batch of a call: texts order[start .. start + B), padded to T tokens. */
typedef struct {
    size_t start, B, T;
} batch_plan;

/* At most this many threads run batches at once (one batch_buf each). */
#define MAX_BATCH_THREADS 64

struct attend_context {
    const attend_model *model;
    void *tok;            /* the tokenizer's scratch */
    batch_buf buf[MAX_BATCH_THREADS]; /* buf[0] for a lone batch and attend_tokenize */
    /* classify_batch: every text's ids, then the order by length, the batches */
    int32_t *all_ids;
    size_t cap_all_ids;
    size_t *off, *len, *order;
    size_t cap_texts;
    batch_plan *plan;
    size_t cap_plan;
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
    for (size_t t = 0; t < MAX_BATCH_THREADS; t++) {
        free(c->buf[t].ids);
        free(c->buf[t].pad);
        free(c->buf[t].acts);
        free(c->buf[t].rows);
    }
    free(c->plan);
    free(c->all_ids);
    free(c->off);
    free(c->len);
    free(c->order);
    free(c);
}

const attend_model *attend_context_model(const attend_context *c) { return c ? c->model : NULL; }

/* Room for a batch of B x T tokens, its fused activations and B output
 * rows of W values. */
static attend_status reserve(const attend_model *m, batch_buf *c, size_t B, size_t T, size_t W,
                             attend_error *err) {
    const attend_model_config *cfg = &m->cfg;
    size_t n = B * T, acts = attend_model_acts_size(cfg, B, T, ATTEND_ACTS_FUSED);
    size_t nl = B * W;
    if (!attend_grow((void **)&c->ids, &c->cap_tokens, n, sizeof *c->ids)) goto nomem;
    /* pad shares ids' capacity: grow it to the same count */
    uint8_t *pad = realloc(c->pad, c->cap_tokens);
    if (!pad) goto nomem;
    c->pad = pad;
    /* the activations' old contents are never needed: free, then allocate,
     * rather than realloc's copy */
    if (acts > c->cap_acts) {
        free(c->acts);
        c->acts = NULL;
        c->cap_acts = 0;
    }
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

/* Multiply-adds per layer below which a batch runs on one thread. */
#define SMALL_INPUT_MACS ((size_t)1 << 21)

/* What a run of texts writes per text. */
typedef enum { OUT_PROBS, OUT_EMBEDDING, OUT_EMBEDDING_NORMALIZED } out_kind;

/* Runs B encoded texts (ids (B,T) in c->ids, padding in c->pad) and writes
 * one row each into out (B, K or E). */
static attend_status run_batch(const attend_model *m, batch_buf *c, size_t B, size_t T,
                               out_kind kind, float *out, attend_error *err) {
    const attend_model_config *cfg = &m->cfg;
    const size_t K = cfg->num_classes, E = cfg->d_model, F = cfg->dim_feedforward;
    attend_model_acts a;
    attend_model_acts_bind(&a, cfg, B, T, ATTEND_ACTS_FUSED, c->acts);
#if ATTEND_HAVE_OPENMP
    /* A small input (one short text: about 2M multiply-adds per layer or
     * fewer) runs on the calling thread alone: waking other threads for its
     * dozen small products costs more than they save (one ~20-token text
     * took 0.152 ms on 2 threads, 0.100 ms on 1). The thread count is the
     * calling thread's own (OpenMP's), restored after. */
    const int nt = omp_get_max_threads();
    const int small = B * T * (4 * E * E + 2 * E * F) < SMALL_INPUT_MACS;
    if (small && nt > 1) omp_set_num_threads(1);
    attend_model_forward(m, &a, c->ids, c->pad, B, T, 0, 0);
    if (small && nt > 1) omp_set_num_threads(nt);
#else
    attend_model_forward(m, &a, c->ids, c->pad, B, T, 0, 0);
#endif
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

/* Every text of a call encoded into c->all_ids; the texts with ids are
 * listed in c->order (*n_real of them), sorted by length. */
static attend_status encode_all(const attend_model *m, attend_context *c, const char *what,
                                const char *const *texts, const size_t *lens, size_t count,
                                size_t W, float *out, size_t *n_tokens, size_t *n_real,
                                attend_error *err) {
    const size_t T = m->cfg.max_len, special = attend_model_n_special(m);
    size_t used = 0;
    attend_status st;
    *n_real = 0;
    for (size_t i = 0; i < count; i++) {
        size_t need, n = 0;
        if (attend_add_overflow(used, T, &need) ||
            !attend_grow((void **)&c->all_ids, &c->cap_all_ids, need, sizeof(int32_t)))
            return attend_errorf(err, ATTEND_ERR_NOMEM, "out of memory encoding %zu texts", count);
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
        else c->order[(*n_real)++] = i;
    }
    sort_len_ = c->len;
    qsort(c->order, *n_real, sizeof(size_t), by_len);
    sort_len_ = NULL;
    return ATTEND_OK;
}

/* Batches of similar length over the n sorted texts. Returns how many. */
static size_t plan_batches(attend_context *c, size_t n, size_t max_tokens) {
    size_t nb = 0;
    for (size_t s = 0; s < n; nb++) {
        /* up to 64 texts and max_tokens padded tokens, and no text more than
         * a quarter (plus 4 tokens) longer than the batch's shortest, so
         * padding stays small whatever the mix of lengths */
        const size_t shortest = c->len[c->order[s]];
        size_t B = 0, Tb = 0;
        while (s + B < n && B < 64) {
            size_t l = c->len[c->order[s + B]];
            if (B && ((B + 1) * l > max_tokens || l > shortest + shortest / 4 + 4)) break;
            Tb = l;
            B++;
        }
        c->plan[nb] = (batch_plan){s, B, Tb};
        s += B;
    }
    return nb;
}

/* Runs planned batch k in buffer bb; rows go to out in the caller's order. */
static attend_status run_planned(const attend_model *m, attend_context *c, batch_buf *bb,
                                 size_t k, out_kind kind, size_t W, float *out,
                                 attend_error *err) {
    const batch_plan *p = &c->plan[k];
    const size_t B = p->B, Tb = p->T;
    attend_status st = reserve(m, bb, B, Tb, W, err);
    if (st) return st;
    for (size_t b = 0; b < B; b++) {
        size_t i = c->order[p->start + b], n = c->len[i];
        memcpy(bb->ids + b * Tb, c->all_ids + c->off[i], n * sizeof(int32_t));
        for (size_t t = 0; t < Tb; t++) bb->pad[b * Tb + t] = t >= n;
        for (size_t t = n; t < Tb; t++) bb->ids[b * Tb + t] = m->tok->pad_id;
    }
    if ((st = run_batch(m, bb, B, Tb, kind, bb->rows, err))) return st;
    for (size_t b = 0; b < B; b++)
        memcpy(out + c->order[p->start + b] * W, bb->rows + b * W, W * sizeof(float));
    return ATTEND_OK;
}

/* Every text of a call: encoded, ordered by length, run in batches of
 * similar length, one output row per text in the caller's order. A text
 * without tokens gets a row of zeros. With several threads and batches,
 * the batches run in parallel (see the top of this file). */
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
    size_t n_real = 0;
    if ((st = reserve_texts(c, count, err)) ||
        (st = encode_all(m, c, what, texts, lens, count, W, out, n_tokens, &n_real, err)))
        return st;
    if (!attend_grow((void **)&c->plan, &c->cap_plan, n_real ? n_real : 1, sizeof *c->plan))
        return attend_errorf(err, ATTEND_ERR_NOMEM, "out of memory for %zu texts", count);
    size_t nt = (size_t)attend_get_threads();
    nt = nt < MAX_BATCH_THREADS ? nt : MAX_BATCH_THREADS;
    /* batches of fewer tokens when several run at once: the same memory */
    const size_t nb = plan_batches(c, n_real, nt > 1 ? (8192 / nt > 1024 ? 8192 / nt : 1024) : 8192);
    nt = nt < nb ? nt : nb;
    if (nt <= 1) {
        for (size_t k = 0; k < nb && !st; k++)
            st = run_planned(m, c, &c->buf[0], k, kind, W, out, err);
        return st;
    }
    /* one batch per thread at a time; the first failing batch's error wins */
    attend_status first_st = ATTEND_OK;
    size_t first_k = nb;
    ATTEND_OMP(parallel for schedule(dynamic, 1) num_threads(nt))
    for (size_t k = 0; k < nb; k++) {
#if ATTEND_HAVE_OPENMP
        const size_t t = (size_t)omp_get_thread_num();
#else
        const size_t t = 0;
#endif
        attend_error e = {0};
        attend_status s = run_planned(m, c, &c->buf[t], k, kind, W, out, &e);
        if (s) {
            ATTEND_OMP(critical(attend_run_texts))
            if (k < first_k) {
                first_k = k;
                first_st = s;
                if (err) *err = e;
            }
        }
    }
    return first_st;
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

void attend_top_labels(const float *probs, size_t K, size_t k, size_t *order) {
    for (size_t i = 0; i < K; i++) order[i] = i;
    for (size_t i = 0; i < k; i++) { /* partial selection sort: k is small */
        size_t best = i;
        for (size_t j = i + 1; j < K; j++)
            if (probs[order[j]] > probs[order[best]]) best = j;
        size_t t = order[i];
        order[i] = order[best];
        order[best] = t;
    }
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
    batch_buf *bb = &c->buf[0];
    if ((st = reserve(m, bb, 1, T, 1, err))) return st;
    size_t k = 0;
    if ((st = attend_model_encode(m, c->tok, text, len, bb->ids, &k, n_total, err))) return st;
    if (n_total && k) *n_total += attend_model_n_special(m);
    *n = k < max_ids ? k : max_ids;
    memcpy(ids, bb->ids, *n * sizeof(int32_t));
    return ATTEND_OK;
}
