/* Attention weights of one text, and per-head statistics over a dataset.
 * Everything here goes through the model's ordinary forward pass
 * (attend_model_forward), reading the weights it leaves in
 * acts.layers[l].attn.probs (B,H,T,T); no kernel is changed for it. */
#include "viz/explain.h"
#include "base/json.h"
#include "base/rng.h"
#include "base/util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- one text ---- */

void attend_explanation_free(attend_explanation *ex) {
    if (ex->tokens)
        for (size_t i = 0; i < ex->T; i++) free(ex->tokens[i]);
    free(ex->tokens);
    free(ex->unknown);
    free(ex->attn);
    free(ex->probs);
    memset(ex, 0, sizeof *ex);
}

attend_status attend_explain_tokens(const attend_model *m, const char *text, size_t len,
                                    int32_t *ids, size_t *T, size_t *n_text_tokens,
                                    char **tokens, uint8_t *unknown, attend_error *err) {
    *T = 0;
    void *tok = NULL;
    attend_status st = attend_tokenizer_scratch_new(m->tok, &tok, err);
    if (st) return st;
    size_t n = 0;
    if ((st = attend_model_encode(m, tok, text, len, ids, &n, n_text_tokens, err))) goto done;
    if (n == 0) {
        st = attend_errorf(err, ATTEND_ERR_ARG, "the text has no tokens after normalisation");
        goto done;
    }
    // the tokenizer keeps the pieces of its last encode: id t is piece t - lead;
    // the special tokens around them ([CLS] first, BERT's [SEP] last) are named
    const size_t special = attend_model_n_special(m), lead = special ? 1 : 0, text_n = n - special;
    for (size_t t = 0; t < n; t++) {
        const char *s = t < lead || t >= lead + text_n ? attend_tokenizer_token(m->tok, ids[t])
                                                       : attend_tokenizer_piece(m->tok, tok, t - lead);
        if (!(tokens[t] = attend_strdup(s))) {
            for (size_t u = 0; u < t; u++) free(tokens[u]);
            st = attend_errorf(err, ATTEND_ERR_NOMEM, "out of memory for the token strings");
            goto done;
        }
        unknown[t] = ids[t] == m->tok->unk_id;
    }
    *T = n;
done:
    attend_tokenizer_scratch_free(m->tok, tok);
    return st;
}

attend_status attend_explain(const attend_model *m, const char *text, size_t len,
                             attend_explanation *ex, attend_error *err) {
    memset(ex, 0, sizeof *ex);
    const attend_model_config *c = &m->cfg;
    const size_t H = c->nhead, L = c->num_layers, K = c->num_classes;
    attend_status st;
    int32_t *ids = malloc(c->max_len * sizeof(int32_t));
    uint8_t *pad = calloc(c->max_len, 1);
    float *mem = NULL;
    ex->tokens = calloc(c->max_len, sizeof(char *));
    ex->unknown = calloc(c->max_len, 1);
    if (!ids || !pad || !ex->tokens || !ex->unknown) goto nomem;
    size_t T = 0;
    st = attend_explain_tokens(m, text, len, ids, &T, &ex->n_text_tokens, ex->tokens, ex->unknown, err);
    if (st) goto done;
    ex->T = T;
    ex->n_special = attend_model_n_special(m);
    ex->L = L;
    ex->H = H;
    ex->K = K;
    ex->attn = calloc(L * H * T * T + 1, sizeof(float));
    ex->probs = calloc(K ? K : 1, sizeof(float)); /* an encoder (K = 0) predicts nothing */
    if (!ex->attn || !ex->probs) goto nomem;
    size_t n_acts = attend_model_acts_size(c, 1, T, 0);
    if (!n_acts || !(mem = malloc(n_acts * sizeof(float)))) goto nomem;
    attend_model_acts a;
    attend_model_acts_bind(&a, c, 1, T, 0, mem);
    attend_model_forward(m, &a, ids, pad, 1, T, 0, 0);
    if (K) attend_softmax_forward(ex->probs, a.logits, 1, K);
    for (size_t k = 1; k < K; k++) ex->predicted = ex->probs[k] > ex->probs[ex->predicted] ? k : ex->predicted;
    for (size_t l = 0; l < L; l++)
        memcpy(ex->attn + l * H * T * T, a.layers[l].attn.probs, H * T * T * sizeof(float));
    st = ATTEND_OK;
    goto done;
nomem:
    st = attend_errorf(err, ATTEND_ERR_NOMEM, "out of memory explaining a text");
done:
    if (st) attend_explanation_free(ex);
    free(ids);
    free(pad);
    free(mem);
    return st;
}

/* ---- per-head statistics ---- */

void attend_head_stats_free(attend_head_stats *hs) {
    free(hs->entropy);
    free(hs->distance);
    free(hs->acc_drop);
    free(hs->loss_rise);
    memset(hs, 0, sizeof *hs);
}

/* A copy of m examples of enc spread evenly over it (enc's order is often
 * the file's, which may be sorted by class). */
static attend_status subset(attend_encoded *out, const attend_encoded *enc, size_t m,
                            attend_error *err) {
    memset(out, 0, sizeof *out);
    size_t total = 0;
    for (size_t k = 0; k < m; k++) total += enc->len[k * enc->n / m];
    out->ids = malloc((total ? total : 1) * sizeof(int32_t));
    out->off = malloc(m * sizeof(size_t));
    out->len = malloc(m * sizeof(size_t));
    out->line = malloc(m * sizeof(size_t));
    out->labels = enc->labels ? malloc(m * sizeof(int32_t)) : NULL;
    if (!out->ids || !out->off || !out->len || !out->line || (enc->labels && !out->labels)) {
        attend_encoded_free(out);
        return attend_errorf(err, ATTEND_ERR_NOMEM, "out of memory");
    }
    size_t used = 0;
    for (size_t k = 0; k < m; k++) {
        size_t i = k * enc->n / m;
        memcpy(out->ids + used, enc->ids + enc->off[i], enc->len[i] * sizeof(int32_t));
        out->off[k] = used;
        out->len[k] = enc->len[i];
        out->line[k] = enc->line[i];
        if (enc->labels) out->labels[k] = enc->labels[i];
        out->max_len = enc->len[i] > out->max_len ? enc->len[i] : out->max_len;
        used += enc->len[i];
    }
    out->n = m;
    return ATTEND_OK;
}

static _Thread_local const attend_encoded *sort_src_;
static int by_len(const void *a, const void *b) {
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    if (sort_src_->len[i] != sort_src_->len[j]) return sort_src_->len[i] < sort_src_->len[j] ? -1 : 1;
    return i < j ? -1 : i > j;
}

/* Entropy and distance sums over every real query of every example. */
static attend_status entropy_distance(const attend_model *m, const attend_encoded *e,
                                      attend_head_stats *hs, attend_error *err) {
    const attend_model_config *c = &m->cfg;
    const size_t H = c->nhead, L = c->num_layers, batch = 32;
    const size_t T = e->max_len ? e->max_len : 1;
    size_t n_acts = attend_model_acts_size(c, batch, T, 0);
    float *mem = n_acts ? malloc(n_acts * sizeof(float)) : NULL;
    int32_t *tokens = malloc(batch * T * sizeof(int32_t));
    uint8_t *pad = malloc(batch * T);
    size_t *idx = malloc((e->n ? e->n : 1) * sizeof(size_t));
    attend_status st = ATTEND_OK;
    if (!mem || !tokens || !pad || !idx) {
        st = attend_errorf(err, ATTEND_ERR_NOMEM, "out of memory for attention statistics");
        goto done;
    }
    for (size_t i = 0; i < e->n; i++) idx[i] = i;
    sort_src_ = e;
    qsort(idx, e->n, sizeof *idx, by_len);
    sort_src_ = NULL;
    double u_ent = 0, u_dist = 0;
    size_t nq = 0;
    for (size_t s = 0; s < e->n; s += batch) {
        const size_t B = e->n - s < batch ? e->n - s : batch;
        size_t Tb = 1;
        for (size_t b = 0; b < B; b++) Tb = e->len[idx[s + b]] > Tb ? e->len[idx[s + b]] : Tb;
        for (size_t b = 0; b < B; b++) {
            size_t i = idx[s + b], n = e->len[i];
            for (size_t t = 0; t < Tb; t++) {
                tokens[b * Tb + t] = t < n ? e->ids[e->off[i] + t] : ATTEND_VOCAB_PAD;
                pad[b * Tb + t] = t >= n;
            }
        }
        attend_model_acts a;
        attend_model_acts_bind(&a, c, B, Tb, 0, mem);
        attend_model_forward(m, &a, tokens, pad, B, Tb, 0, 0);
        for (size_t b = 0; b < B; b++) {
            const size_t n = e->len[idx[s + b]];
            // what a head spreading its weight evenly over the n keys scores
            for (size_t i = 0; i < n; i++) {
                double d = 0;
                for (size_t j = 0; j < n; j++) d += (double)(i > j ? i - j : j - i);
                u_dist += d / (double)n;
                u_ent += log2((double)n);
            }
            nq += n;
            for (size_t l = 0; l < L; l++)
                for (size_t h = 0; h < H; h++) {
                    const float *P = a.layers[l].attn.probs + ((b * H + h) * Tb) * Tb;
                    double ent = 0, dist = 0;
                    for (size_t i = 0; i < n; i++)
                        for (size_t j = 0; j < n; j++) {
                            double p = P[i * Tb + j];
                            if (p > 0) ent -= p * log2(p);
                            dist += p * (double)(i > j ? i - j : j - i);
                        }
                    hs->entropy[l * H + h] += ent;
                    hs->distance[l * H + h] += dist;
                }
        }
    }
    for (size_t k = 0; k < L * H; k++) {
        hs->entropy[k] /= nq ? (double)nq : 1.0;
        hs->distance[k] /= nq ? (double)nq : 1.0;
    }
    hs->uniform_entropy = nq ? u_ent / (double)nq : 0;
    hs->uniform_distance = nq ? u_dist / (double)nq : 0;
    hs->n_queries = nq;
done:
    free(mem);
    free(tokens);
    free(pad);
    free(idx);
    return st;
}

attend_status attend_head_stats_compute(const attend_model *m, const attend_encoded *enc,
                                        size_t max_examples, int importance,
                                        attend_head_stats *hs, attend_error *err) {
    memset(hs, 0, sizeof *hs);
    const attend_model_config *c = &m->cfg;
    const size_t H = c->nhead, L = c->num_layers, E = c->d_model, D = E / H;
    hs->L = L;
    hs->H = H;
    if (enc->n == 0) return attend_errorf(err, ATTEND_ERR_ARG, "no examples for head statistics");
    if (importance && !enc->labels)
        return attend_errorf(err, ATTEND_ERR_ARG, "head importance needs labelled examples");
    size_t want = max_examples && max_examples < enc->n ? max_examples : enc->n;
    attend_encoded sub;
    attend_status st = subset(&sub, enc, want, err);
    if (st) return st;
    attend_metrics mt = {0};
    float *saved = NULL;
    hs->n_examples = sub.n;
    hs->entropy = calloc(L * H + 1, sizeof(double));
    hs->distance = calloc(L * H + 1, sizeof(double));
    if (!hs->entropy || !hs->distance) goto nomem;
    if ((st = entropy_distance(m, &sub, hs, err))) goto fail;
    if (importance && L) {
        hs->acc_drop = calloc(L * H, sizeof(double));
        hs->loss_rise = calloc(L * H, sizeof(double));
        saved = malloc(E * E * sizeof(float));
        if (!hs->acc_drop || !hs->loss_rise || !saved || attend_metrics_init(&mt, c->num_classes))
            goto nomem;
        if ((st = attend_evaluate(m, &sub, 64, &mt, NULL, err))) goto fail;
        hs->base_accuracy = mt.accuracy;
        hs->base_loss = mt.loss;
        /* The model is shared and may be mapped read-only: each masked
         * model is a shallow copy whose layer l reads a masked copy of
         * out_proj.weight (E out, E in); head h's context is in columns
         * [h*D, (h+1)*D). */
        attend_model masked = *m;
        for (size_t l = 0; l < L; l++) {
            const float *W = m->p.layers[l].self_attn.out_proj_weight;
            masked.p.layers[l].self_attn.out_proj_weight = saved;
            for (size_t h = 0; h < H; h++) {
                memcpy(saved, W, E * E * sizeof(float));
                for (size_t r = 0; r < E; r++) memset(saved + r * E + h * D, 0, D * sizeof(float));
                st = attend_evaluate(&masked, &sub, 64, &mt, NULL, err);
                if (st) goto fail;
                hs->acc_drop[l * H + h] = hs->base_accuracy - mt.accuracy;
                hs->loss_rise[l * H + h] = mt.loss - hs->base_loss;
            }
            masked.p.layers[l].self_attn.out_proj_weight = m->p.layers[l].self_attn.out_proj_weight;
        }
        hs->has_importance = 1;
    }
    st = ATTEND_OK;
    goto done;
nomem:
    st = attend_errorf(err, ATTEND_ERR_NOMEM, "out of memory for head statistics");
fail:
    attend_head_stats_free(hs);
done:
    attend_metrics_free(&mt);
    free(saved);
    attend_encoded_free(&sub);
    return st;
}

/* ---- positional tables ---- */

const float *attend_model_pos_table(const attend_model *m) {
    if (m->cfg.pos == ATTEND_POS_LEARNED) return m->p.pos_emb;
    if (m->cfg.pos == ATTEND_POS_SINUSOIDAL) return m->sinusoid;
    return NULL;
}

/* The model or folder a fine-tuned model started from: the "init" string of
 * its provenance, malloc'ed into *path (NULL when it records none). */
static attend_status provenance_init(const attend_model *m, char **path, attend_error *err) {
    *path = NULL;
    if (!m->meta_provenance) return ATTEND_OK;
    int oom = 0;
    cJSON *prov = attend_json_parse(m->meta_provenance, NULL, &oom);
    if (!prov)
        return oom ? attend_errorf(err, ATTEND_ERR_NOMEM, "out of memory")
                   : attend_errorf(err, ATTEND_ERR_FORMAT, "the model's provenance is not JSON");
    const cJSON *init = cJSON_GetObjectItemCaseSensitive(prov, "init");
    attend_status st = ATTEND_OK;
    if (cJSON_IsString(init) && init->valuestring[0] && !(*path = attend_strdup(init->valuestring)))
        st = attend_errorf(err, ATTEND_ERR_NOMEM, "out of memory");
    cJSON_Delete(prov);
    return st;
}

/* A fine-tuned model's table started as its source's: the source is read
 * again (a folder is mapped, not copied) and its first max_len rows taken. */
static attend_status initial_pos_from_source(const attend_model *m, const char *path, float *out,
                                             attend_error *err) {
    attend_model *src = NULL;
    attend_error e2 = {0};
    attend_status st = attend_model_load(&src, path, &e2);
    if (st)
        return attend_errorf(err, st, "the model was fine-tuned from %s, which cannot be read here (%s)",
                             path, e2.msg);
    const attend_model_config *c = &m->cfg, *sc = &src->cfg;
    const float *table = attend_model_pos_table(src);
    const size_t rows = sc->arch == ATTEND_ARCH_BERT ? sc->max_positions : sc->max_len;
    if (!table || sc->arch != c->arch || sc->d_model != c->d_model || rows < c->max_len)
        st = attend_errorf(err, ATTEND_ERR_ARG,
                           "the model was fine-tuned from %s, which no longer matches it (a %s with "
                           "%zu positions of width %zu; the model has %zu of width %zu)",
                           path, attend_arch_name(sc->arch), table ? rows : 0, sc->d_model, c->max_len,
                           c->d_model);
    else
        memcpy(out, table, c->max_len * c->d_model * sizeof(float));
    attend_model_free(src);
    return st;
}

attend_status attend_model_initial_pos(const attend_model *m, float *out, attend_error *err) {
    if (m->cfg.pos != ATTEND_POS_LEARNED || !m->p.pos_emb)
        return attend_errorf(err, ATTEND_ERR_ARG, "the model has no learned positional table");
    char *init = NULL;
    attend_status st = provenance_init(m, &init, err);
    if (st) return st;
    if (init) {
        st = initial_pos_from_source(m, init, out, err);
        free(init);
        return st;
    }
    if (m->cfg.arch == ATTEND_ARCH_BERT)
        return attend_errorf(err, ATTEND_ERR_ARG, "the table was pretrained, and the model file names no "
                             "folder it was fine-tuned from");
    // the seed is read from the text: a double would round seeds above 2^53
    const char *key = m->meta_provenance ? strstr(m->meta_provenance, "\"seed\":") : NULL;
    char *end = NULL;
    unsigned long long s = key ? strtoull(key + 7, &end, 10) : 0;
    if (!key || end == key + 7)
        return attend_errorf(err, ATTEND_ERR_ARG, "the model file records no training seed");
    // a shallow copy of the model whose parameter views point into a scratch
    // block; initialising it leaves m untouched
    float *block = calloc(m->layout.total, sizeof(float));
    if (!block) return attend_errorf(err, ATTEND_ERR_NOMEM, "out of memory");
    attend_model tmp = *m;
    tmp.params = block;
    attend_layout lay = m->layout;
    lay.items = NULL; /* binding pass only: names and shapes are already known */
    lay.count = lay.cap = 0;
    lay.base = block;
    lay.total = 0;
    attend_model_layout(&lay, &m->cfg, &tmp.p);
    attend_model_init_weights(&tmp, attend_seed_child(s, 12));
    memcpy(out, tmp.p.pos_emb, m->cfg.max_len * m->cfg.d_model * sizeof(float));
    free(block);
    return ATTEND_OK;
}
