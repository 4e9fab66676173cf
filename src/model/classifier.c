/* The text classifier: token embedding + positional encoding -> encoder
 * stack -> pooling -> head. Forward and backward over a padded batch.
 *
 *   x0   = dropout(embedding[tok] + pos[t])          (B,T,E)
 *   h    = encoder(x0, key_padding = pad)            (B,T,E)
 *   h    = norm(h)                                   pre-norm stacks only
 *   u    = pool(h) over real tokens                  (B,E)
 *   z_j  = dropout(relu(fc_j(z_{j-1}))),  z_0 = u    hidden layers
 *   logits = out(z_last)                             (B,K)
 */
#include "model/model.h"
#include "base/parallel.h"
#include "base/rng.h"
#include "base/util.h"
#include "nn/layout.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { SITE_EMB = 1, SITE_ENCODER = 2, SITE_HEAD = 3 };

/* Standard deviation of the initial token and position embeddings. */
#define EMB_INIT_STD 0.02f
/* The fixed sin/cos table is scaled to the same RMS as the learned table
 * starts with (a sinusoid's RMS is 1/sqrt 2). At amplitude 1 it drowned
 * the 0.02-sized token embeddings: a synthetic 3-class set stayed at chance
 * with sinusoidal positions while learned ones reached 100%. */
#define SIN_POS_SCALE (EMB_INIT_STD * 1.4142135623730951)

void attend_model_config_default(attend_model_config *c) {
    memset(c, 0, sizeof *c);
    c->d_model = 64;
    c->nhead = 8;
    c->num_layers = 2;
    c->dim_feedforward = 256;
    c->max_len = 128;
    c->pos = ATTEND_POS_LEARNED;
    c->pool = ATTEND_POOL_MEAN;
    c->activation = ATTEND_ACT_RELU;
    c->layer_norm_eps = 1e-5f;
    c->dropout = 0.1f;
}

/* Upper bounds that keep every product of sizes far from overflow and every
 * allocation plausible; a model file outside them is rejected, not tried. */
#define MAX_DIM ((size_t)1 << 14)      /* d_model, dim_feedforward, hidden */
#define MAX_LEN ((size_t)1 << 14)      /* tokens per text */
#define MAX_VOCAB ((size_t)1 << 24)
#define MAX_CLASSES ((size_t)1 << 16)
#define MAX_POS_FLOATS ((size_t)1 << 24)

static int in_range(size_t v, size_t lo, size_t hi) { return v >= lo && v <= hi; }

attend_status attend_model_config_check(const attend_model_config *c, attend_error *err) {
    if (c->arch == ATTEND_ARCH_BERT) return attend_bert_config_check(c, err);
    if (c->arch != ATTEND_ARCH_CLASSIFIER)
        return attend_errorf(err, ATTEND_ERR_ARG, "unknown architecture %d", (int)c->arch);
#define RANGE(field, lo, hi)                                                                    \
    if (!in_range(c->field, lo, hi))                                                            \
        return attend_errorf(err, ATTEND_ERR_ARG, #field " = %zu is outside [%zu, %zu]",         \
                             (size_t)c->field, (size_t)(lo), (size_t)(hi));
    RANGE(vocab_size, ATTEND_VOCAB_NSPECIAL, MAX_VOCAB)
    RANGE(num_classes, 2, MAX_CLASSES)
    RANGE(d_model, 1, MAX_DIM)
    RANGE(nhead, 1, MAX_DIM)
    RANGE(num_layers, 0, ATTEND_MAX_LAYERS)
    RANGE(dim_feedforward, 1, MAX_DIM)
    RANGE(max_len, 1, MAX_LEN)
    RANGE(n_hidden, 0, ATTEND_MAX_HEAD_HIDDEN)
#undef RANGE
    for (size_t j = 0; j < c->n_hidden; j++)
        if (c->hidden[j] < 1 || c->hidden[j] > MAX_DIM)
            return attend_errorf(err, ATTEND_ERR_ARG, "head hidden layer %zu has %zu units, outside [1, %zu]",
                                 j + 1, c->hidden[j], MAX_DIM);
    /* The sinusoid table and the position rows are max_len x d_model floats
     * that no file backs; keep them at most 64 MiB. */
    if (c->max_len * c->d_model > MAX_POS_FLOATS)
        return attend_errorf(err, ATTEND_ERR_ARG, "max_len %zu x d_model %zu exceeds %zu position values",
                             c->max_len, c->d_model, MAX_POS_FLOATS);
    if (c->d_model % c->nhead != 0)
        return attend_errorf(err, ATTEND_ERR_ARG, "d_model %zu is not divisible by nhead %zu",
                             c->d_model, c->nhead);
    if ((int)c->pos < 0 || c->pos > ATTEND_POS_NONE)
        return attend_errorf(err, ATTEND_ERR_ARG, "unknown positional encoding %d", (int)c->pos);
    if (c->pool == ATTEND_POOL_POOLER)
        return attend_errorf(err, ATTEND_ERR_ARG, "pooler pooling is BERT's pooler: it needs a pretrained encoder (attend train --init)");
    if ((int)c->pool < 0 || c->pool > ATTEND_POOL_MAX)
        return attend_errorf(err, ATTEND_ERR_ARG, "unknown pooling %d", (int)c->pool);
    if (c->pool == ATTEND_POOL_CLS && c->max_len < 2)
        return attend_errorf(err, ATTEND_ERR_ARG, "cls pooling needs max_len >= 2");
    if (c->activation != ATTEND_ACT_RELU && c->activation != ATTEND_ACT_GELU)
        return attend_errorf(err, ATTEND_ERR_ARG, "unknown activation %d", (int)c->activation);
    if (!(c->dropout >= 0.0f && c->dropout < 1.0f))
        return attend_errorf(err, ATTEND_ERR_ARG, "dropout %g is outside [0, 1)", (double)c->dropout);
    if (!(c->layer_norm_eps > 0.0f && c->layer_norm_eps < 1.0f))
        return attend_errorf(err, ATTEND_ERR_ARG, "layer_norm_eps %g is outside (0, 1)",
                             (double)c->layer_norm_eps);
    return ATTEND_OK;
}

attend_encoder_config attend_model_encoder_config(const attend_model_config *c) {
    const int bert = c->arch == ATTEND_ARCH_BERT;
    attend_encoder_config e = {c->d_model, c->nhead, c->dim_feedforward, c->activation,
                               c->norm_first, c->layer_norm_eps, c->dropout, bert,
                               bert ? c->attn_dropout : 0.0f};
    return e;
}

/* Width of the head's layer j input (j = 0 is the pooled vector). */
static size_t head_width(const attend_model_config *c, size_t j) {
    return j == 0 ? c->d_model : c->hidden[j - 1];
}

void attend_model_layout(attend_layout *L, const attend_model_config *c,
                         attend_model_params *p) {
    if (c->arch == ATTEND_ARCH_BERT) {
        attend_bert_layout(L, c, p);
        return;
    }
    attend_model_params v;
    memset(&v, 0, sizeof v);
    const size_t E = c->d_model;
    attend_encoder_config enc = attend_model_encoder_config(c);
    v.tok_emb = attend_layout_take(L, "", "embedding.weight", c->vocab_size, E, 1);
    if (c->pos == ATTEND_POS_LEARNED)
        v.pos_emb = attend_layout_take(L, "", "pos_embedding.weight", c->max_len, E, 1);
    for (size_t i = 0; i < c->num_layers; i++) {
        char prefix[64];
        snprintf(prefix, sizeof prefix, "encoder.layers.%zu.", i);
        attend_encoder_layer_layout(L, prefix, &enc, &v.layers[i]);
    }
    if (c->norm_first) {
        v.norm_w = attend_layout_take(L, "", "encoder.norm.weight", E, 0, 1);
        v.norm_b = attend_layout_take(L, "", "encoder.norm.bias", E, 0, 1);
    }
    for (size_t j = 0; j <= c->n_hidden; j++) {
        char w[64], b[64];
        size_t in = head_width(c, j), out = j < c->n_hidden ? c->hidden[j] : c->num_classes;
        if (j < c->n_hidden) {
            snprintf(w, sizeof w, "head.fc%zu.weight", j + 1);
            snprintf(b, sizeof b, "head.fc%zu.bias", j + 1);
        } else {
            snprintf(w, sizeof w, "head.out.weight");
            snprintf(b, sizeof b, "head.out.bias");
        }
        v.head_w[j] = attend_layout_take(L, "", w, out, in, 0);
        v.head_b[j] = attend_layout_take(L, "", b, out, 0, 1);
    }
    if (p) *p = v;
}

/* ---- activations ---- */

static size_t widest_head(const attend_model_config *c) {
    size_t w = c->num_classes;
    for (size_t j = 0; j < c->n_hidden; j++) w = c->hidden[j] > w ? c->hidden[j] : w;
    return w;
}

/* One walk serves both sizing (mem == NULL) and binding. */
static size_t model_acts_walk(attend_model_acts *a, const attend_model_config *c, size_t B,
                              size_t T, int flags, float *mem) {
    const int with_grad = flags & ATTEND_ACTS_GRAD, bert = c->arch == ATTEND_ARCH_BERT;
    const size_t E = c->d_model, BT = B * T, BTE = BT * E, K = c->num_classes;
    attend_encoder_config enc = attend_model_encoder_config(c);
    size_t off = 0;
#define TAKE(ptr, n)                              \
    do {                                          \
        if (mem) (ptr) = mem + off;               \
        off += (n);                               \
    } while (0)
    if (a) { memset(a, 0, sizeof *a); a->B = B; a->T = T; }
    attend_model_acts scratch;
    if (!a) a = &scratch;
    TAKE(a->x0, BTE);
    if (bert) {
        TAKE(a->emb, BTE);
        TAKE(a->emb_mean, BT);
        TAKE(a->emb_rstd, BT);
    }
    size_t la = attend_encoder_acts_size(&enc, B, T, flags);
    /* Inference with fused attention keeps nothing of a layer once the next
     * has read its output: every layer works in the same scratch and the
     * outputs alternate between two buffers, so the memory (and the cache
     * misses) do not grow with the depth. Training and attention maps need
     * every layer's own. */
    const int share = (flags & ATTEND_ACTS_FUSED) && !with_grad && c->num_layers > 1;
    for (size_t i = 0; i < c->num_layers; i++) {
        if (share && i > 0) {
            a->layers[i] = a->layers[0];
            if (i >= 2) a->outs[i] = a->outs[i - 2];
            else TAKE(a->outs[i], BTE);
            continue;
        }
        if (mem) attend_encoder_acts_bind(&a->layers[i], &enc, B, T, flags, mem + off);
        off += la;
        TAKE(a->outs[i], BTE);
    }
    if (c->norm_first) {
        TAKE(a->hn, BTE);
        TAKE(a->hn_mean, BT);
        TAKE(a->hn_rstd, BT);
    }
    if (bert) TAKE(a->u, B * E);
    TAKE(a->pooled, B * E);
    for (size_t j = 0; j < c->n_hidden; j++) {
        TAKE(a->zpre[j], B * c->hidden[j]);
        TAKE(a->z[j], B * c->hidden[j]);
    }
    TAKE(a->logits, B * K);
    TAKE(a->probs, B * K);
    if (with_grad) {
        if (mem) attend_encoder_scratch_bind(&a->scr, &enc, B, T, mem + off);
        off += attend_encoder_scratch_size(&enc, B, T);
        TAKE(a->dbuf0, BTE);
        TAKE(a->dbuf1, BTE);
        TAKE(a->dh, BTE);
        TAKE(a->dx0, BTE);
        size_t w = widest_head(c) > E ? widest_head(c) : E;
        TAKE(a->dz0, B * w);
        TAKE(a->dz1, B * w);
        TAKE(a->dlogits, B * K);
        if (bert) TAKE(a->du, B * E);
    }
#undef TAKE
    return off;
}

size_t attend_model_acts_size(const attend_model_config *c, size_t B, size_t T, int flags) {
    /* Sizes are bounded by attend_model_config_check and the callers' batch
     * limits, so this product cannot overflow size_t on 64-bit targets. */
    return model_acts_walk(NULL, c, B, T, flags, NULL);
}

void attend_model_acts_bind(attend_model_acts *a, const attend_model_config *c, size_t B,
                            size_t T, int flags, float *mem) {
    model_acts_walk(a, c, B, T, flags, mem);
}

/* ---- construction ---- */

/* A view of a tensor of the mapped model file (attend_model_create_mapped;
 * the loader has checked that each is present, F32 and of the right shape).
 * The views of a loaded model are read-only, like the mapping. */
static float *file_view(void *ctx, const char *name) {
    const attend_st_tensor *t = attend_st_find(ctx, name);
    return t ? (float *)t->data : NULL;
}

/* A model whose views point into file (taken on success), or into a zeroed
 * block of its own when file is NULL. */
static attend_status model_new(attend_model **out, const attend_model_config *cfg,
                               attend_tokenizer *tok, char *const *labels, attend_st_file *file,
                               attend_error *err) {
    *out = NULL;
    const int bert = cfg->arch == ATTEND_ARCH_BERT;
    attend_status st = attend_model_config_check(cfg, err);
    /* A BERT folder's vocab.txt may have fewer lines than the embedding
     * table has rows (tables padded to a multiple of 8, say), never more. */
    if (st == ATTEND_OK && (bert ? tok->vocab_size > cfg->vocab_size : tok->vocab_size != cfg->vocab_size))
        st = attend_errorf(err, ATTEND_ERR_ARG, "the vocabulary has %zu tokens but vocab_size is %zu",
                           tok->vocab_size, cfg->vocab_size);
    if (st == ATTEND_OK && !bert && cfg->pool == ATTEND_POOL_CLS && tok->cls_id < 0)
        st = attend_errorf(err, ATTEND_ERR_ARG, "cls pooling needs a <cls> token in the vocabulary");
    if (st == ATTEND_OK && bert && (tok->cls_id < 0 || tok->sep_id < 0 || tok->pad_id < 0))
        st = attend_errorf(err, ATTEND_ERR_ARG, "a BERT model needs %s in its vocabulary",
                           tok->cls_id < 0 ? "[CLS]" : tok->sep_id < 0 ? "[SEP]" : "a padding id");
    /* BERT's query/key/value biases must lie one after another (the (3E)
     * in_proj_bias): only the owned block guarantees it, so BERT weights
     * are always copied there, never used in a mapped file. */
    if (st == ATTEND_OK && bert && file)
        st = attend_errorf(err, ATTEND_ERR_ARG, "a BERT model's weights are copied, not mapped");
    if (st != ATTEND_OK) {
        attend_tokenizer_free(tok);
        return st;
    }
    attend_model *m = calloc(1, sizeof *m);
    if (!m) {
        attend_tokenizer_free(tok);
        return attend_errorf(err, ATTEND_ERR_NOMEM, "out of memory creating the model");
    }
    m->tok = tok;
    m->cfg = *cfg;
    m->enc = attend_model_encoder_config(cfg);
    m->embed_pool = cfg->pool;
    attend_model_layout(&m->layout, cfg, NULL);
    if (m->layout.failed) goto nomem;
    for (size_t k = 1; k < cfg->num_classes; k++)
        if (strcmp(labels[k - 1], labels[k]) >= 0) {
            attend_model_free(m);
            return attend_errorf(err, ATTEND_ERR_ARG, "labels must be distinct and sorted ('%s' comes before '%s')",
                                 labels[k - 1], labels[k]);
        }
    if (!file && !(m->params = calloc(m->layout.total, sizeof(float)))) goto nomem;
    /* (one slot at least: calloc(0) may return NULL; a BERT encoder has no head) */
    m->labels.names = calloc(cfg->num_classes ? cfg->num_classes : 1, sizeof(char *));
    if (!m->labels.names) goto nomem;
    m->labels.count = cfg->num_classes;
    for (size_t k = 0; k < cfg->num_classes; k++)
        if (!(m->labels.names[k] = attend_strdup(labels[k]))) goto nomem;
    attend_layout bind = m->layout;
    bind.base = m->params;
    bind.resolve = file ? file_view : NULL;
    bind.resolve_ctx = file;
    bind.total = 0;
    attend_model_layout(&bind, cfg, &m->p);
    if (cfg->pos == ATTEND_POS_SINUSOIDAL) {
        const size_t E = cfg->d_model;
        if (!(m->sinusoid = malloc(cfg->max_len * E * sizeof(float)))) goto nomem;
        // pe[t, 2i] = sin(t / 10000^(2i/E)), pe[t, 2i+1] = cos(t / 10000^(2i/E))
        for (size_t e = 0; e < E; e++) {
            double freq = pow(10000.0, -(double)(e & ~(size_t)1) / (double)E);
            for (size_t t = 0; t < cfg->max_len; t++) {
                double ang = (double)t * freq;
                m->sinusoid[t * E + e] = (float)(SIN_POS_SCALE * ((e & 1) ? cos(ang) : sin(ang)));
            }
        }
    }
    m->file = file;
    *out = m;
    return ATTEND_OK;
nomem:
    attend_model_free(m);
    return attend_errorf(err, ATTEND_ERR_NOMEM, "out of memory creating the model");
}

attend_status attend_model_create(attend_model **out, const attend_model_config *cfg,
                                  attend_tokenizer *tok, char *const *labels,
                                  attend_error *err) {
    return model_new(out, cfg, tok, labels, NULL, err);
}

attend_status attend_model_create_mapped(attend_model **out, const attend_model_config *cfg,
                                         attend_tokenizer *tok, char *const *labels,
                                         attend_st_file *file, attend_error *err) {
    return model_new(out, cfg, tok, labels, file, err);
}

void attend_model_free(attend_model *m) {
    if (!m) return;
    attend_labels_free(&m->labels);
    free(m->params);
    attend_st_close(m->file);
    free(m->sinusoid);
    attend_layout_free(&m->layout);
    attend_tokenizer_free(m->tok);
    free(m->meta_provenance);
    free(m->meta_training);
    free(m);
}

/* Normal deviate from the counter-based hash (Box-Muller). */
static float init_normal(uint64_t seed, uint64_t i) {
    /* 1 - u is in (0, 1], so log is finite and never positive. */
    double u1 = 1.0 - (double)attend_hash_uniform(seed, 2 * i);
    double u2 = attend_hash_uniform(seed, 2 * i + 1);
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

static void init_uniform(float *w, size_t n, float bound, uint64_t seed) {
    for (size_t i = 0; i < n; i++)
        w[i] = (2.0f * attend_hash_uniform(seed, i) - 1.0f) * bound;
}

static void init_const(float *w, size_t n, float v) {
    for (size_t i = 0; i < n; i++) w[i] = v;
}

void attend_model_init_weights(attend_model *m, uint64_t seed) {
    if (m->cfg.arch == ATTEND_ARCH_BERT) {
        attend_bert_init_weights(m, seed);
        return;
    }
    const attend_model_config *c = &m->cfg;
    const size_t E = c->d_model, F = c->dim_feedforward;
    uint64_t k = 0; /* each tensor gets its own child seed */
    /* N(0, 0.02^2) as BERT initialises its tables. With nn.Embedding's N(0,1),
     * Adam's ~lr-sized steps barely moved rare words from their random start
     * (WordNet: 50.8% validation accuracy after one epoch, against 79.7%). */
    for (size_t i = 0; i < c->vocab_size * E; i++)
        m->p.tok_emb[i] = EMB_INIT_STD * init_normal(seed, i);
    /* <pad> never contributes (masked and excluded from pooling); keep it 0
     * so that it reads as "nothing" in pictures of the table. */
    memset(m->p.tok_emb + (size_t)m->tok->pad_id * E, 0, E * sizeof(float));
    if (m->p.pos_emb) {
        uint64_t s = attend_seed_child(seed, ++k);
        for (size_t i = 0; i < c->max_len * E; i++) m->p.pos_emb[i] = EMB_INIT_STD * init_normal(s, i);
    }
    for (size_t l = 0; l < c->num_layers; l++) {
        attend_encoder_layer_params *p = &m->p.layers[l];
        // in_proj: xavier_uniform over (3E,E); biases 0 (as nn.MultiheadAttention)
        init_uniform(p->self_attn.q_proj_weight, 3 * E * E, sqrtf(6.0f / (float)(4 * E)),
                     attend_seed_child(seed, ++k));
        init_const(p->self_attn.in_proj_bias, 3 * E, 0.0f);
        init_uniform(p->self_attn.out_proj_weight, E * E, 1.0f / sqrtf((float)E),
                     attend_seed_child(seed, ++k));
        init_const(p->self_attn.out_proj_bias, E, 0.0f);
        // linears: U(+-1/sqrt(fan_in)) for weight and bias (nn.Linear's default)
        init_uniform(p->linear1_weight, F * E, 1.0f / sqrtf((float)E), attend_seed_child(seed, ++k));
        init_uniform(p->linear1_bias, F, 1.0f / sqrtf((float)E), attend_seed_child(seed, ++k));
        init_uniform(p->linear2_weight, E * F, 1.0f / sqrtf((float)F), attend_seed_child(seed, ++k));
        init_uniform(p->linear2_bias, E, 1.0f / sqrtf((float)F), attend_seed_child(seed, ++k));
        init_const(p->norm1_weight, E, 1.0f);
        init_const(p->norm1_bias, E, 0.0f);
        init_const(p->norm2_weight, E, 1.0f);
        init_const(p->norm2_bias, E, 0.0f);
    }
    if (m->p.norm_w) {
        init_const(m->p.norm_w, E, 1.0f);
        init_const(m->p.norm_b, E, 0.0f);
    }
    for (size_t j = 0; j <= c->n_hidden; j++) {
        size_t in = head_width(c, j), out = j < c->n_hidden ? c->hidden[j] : c->num_classes;
        float bound = 1.0f / sqrtf((float)in);
        init_uniform(m->p.head_w[j], out * in, bound, attend_seed_child(seed, ++k));
        init_uniform(m->p.head_b[j], out, bound, attend_seed_child(seed, ++k));
    }
}

/* ---- forward / backward ---- */

/* The (T,E) positional table in use, or NULL for none. */
static const float *pos_table(const attend_model *m) {
    if (m->cfg.pos == ATTEND_POS_LEARNED) return m->p.pos_emb;
    if (m->cfg.pos == ATTEND_POS_SINUSOIDAL) return m->sinusoid;
    return NULL;
}

void attend_model_forward(const attend_model *m, attend_model_acts *a, const int32_t *tokens,
                          const uint8_t *pad, size_t B, size_t T, int training,
                          uint64_t seed) {
    if (m->cfg.arch == ATTEND_ARCH_BERT) {
        attend_bert_forward(m, a, tokens, NULL, pad, B, T, training, seed);
        return;
    }
    const attend_model_config *c = &m->cfg;
    const size_t E = c->d_model, BT = B * T;
    const float p_drop = training ? c->dropout : 0.0f;

    // x0 = dropout(embedding[tok] + pos)
    attend_embeddings_forward(a->x0, tokens, m->p.tok_emb, pos_table(m), B, T, E, p_drop,
                              attend_seed_child(seed, SITE_EMB));

    // h = encoder(x0)
    const float *h = a->x0;
    if (c->num_layers) {
        attend_encoder_forward(a->outs, a->layers, &m->enc, m->p.layers, c->num_layers, a->x0,
                               pad, B, T, training, attend_seed_child(seed, SITE_ENCODER));
        h = a->outs[c->num_layers - 1];
    }
    if (c->norm_first) {
        attend_layernorm_forward(a->hn, a->hn_mean, a->hn_rstd, h, m->p.norm_w, m->p.norm_b, BT,
                                 E, c->layer_norm_eps);
        h = a->hn;
    }

    // u = pool(h) over real tokens; logits = head(u)
    attend_pool_forward(a->pooled, h, pad, B, T, E, c->pool);
    attend_head_forward(c, &m->p, a, B, p_drop, attend_seed_child(seed, SITE_HEAD));
}

void attend_model_backward(const attend_model *m, attend_model_params *g,
                           attend_model_acts *a, const int32_t *tokens, const uint8_t *pad,
                           size_t B, size_t T, int training, uint64_t seed) {
    if (m->cfg.arch == ATTEND_ARCH_BERT) {
        attend_bert_backward(m, g, a, tokens, NULL, pad, B, T, training, seed);
        return;
    }
    const attend_model_config *c = &m->cfg;
    const size_t E = c->d_model, BT = B * T;
    const float p_drop = training ? c->dropout : 0.0f;

    // head, then pooling backward into dh (B,T,E)
    const float *dpooled = attend_head_backward(c, &m->p, g, a, B, p_drop,
                                                attend_seed_child(seed, SITE_HEAD));
    const float *h = c->norm_first ? a->hn : (c->num_layers ? a->outs[c->num_layers - 1] : a->x0);
    attend_pool_backward(a->dh, dpooled, h, a->pooled, pad, B, T, E, c->pool);

    // final norm (pre-norm stacks)
    float *dtop = a->dh;
    if (c->norm_first) {
        const float *hin = c->num_layers ? a->outs[c->num_layers - 1] : a->x0;
        memset(a->dbuf0, 0, BT * E * sizeof(float));
        attend_layernorm_backward(a->dbuf0, g->norm_w, g->norm_b, a->dh, hin, m->p.norm_w,
                                  a->hn_mean, a->hn_rstd, BT, E);
        /* dbuf0 is free again once the stack starts: copy into dh. */
        memcpy(a->dh, a->dbuf0, BT * E * sizeof(float));
    }

    // encoder stack -> dx0
    memset(a->dx0, 0, BT * E * sizeof(float));
    if (c->num_layers)
        attend_encoder_backward(a->dx0, g->layers, a->layers, &a->scr, a->dbuf0, a->dbuf1, dtop,
                                &m->enc, m->p.layers, c->num_layers, a->outs, a->x0, pad, B, T,
                                training, attend_seed_child(seed, SITE_ENCODER));
    else
        memcpy(a->dx0, dtop, BT * E * sizeof(float));

    // x0 = dropout(emb[tok] + pos): into the tables (skipping padding)
    attend_embeddings_backward(g->tok_emb, g->pos_emb, a->dx0, tokens, pad, B, T, E, p_drop,
                               attend_seed_child(seed, SITE_EMB));
}

size_t attend_model_n_special(const attend_model *m) {
    if (m->cfg.arch == ATTEND_ARCH_BERT) return 2;
    return m->cfg.pool == ATTEND_POOL_CLS;
}

const float *attend_model_top(const attend_model *m, const attend_model_acts *a) {
    const attend_model_config *c = &m->cfg;
    if (c->norm_first) return a->hn;
    return c->num_layers ? a->outs[c->num_layers - 1] : a->x0;
}

void attend_model_pool(const attend_model *m, float *u, const float *h, const uint8_t *pad,
                       size_t B, size_t T, attend_pool_kind kind) {
    if (kind == ATTEND_POOL_POOLER)
        attend_pooler_forward(u, h, m->p.pooler_w, m->p.pooler_b, B, T, m->cfg.d_model);
    else
        attend_pool_forward(u, h, pad, B, T, m->cfg.d_model, kind);
}

/* BERT's input, as transformers gives it with add_special_tokens and
 * truncation to max_len (the specials counted): [CLS] ids [SEP]. An empty
 * text is [CLS] [SEP], which sentence-transformers embeds too. */
static attend_status bert_encode(const attend_model *m, void *scratch, const char *text,
                                 size_t len, int32_t *ids, size_t *n, size_t *n_total,
                                 attend_error *err) {
    const size_t T = m->cfg.max_len; /* >= 2 (attend_bert_config_check) */
    size_t k = 0;
    *n = 0;
    attend_status st = attend_tokenizer_encode(m->tok, scratch, text, len, ids + 1, T - 2, &k,
                                               n_total, err);
    if (st) return st;
    ids[0] = m->tok->cls_id;
    ids[k + 1] = m->tok->sep_id;
    *n = k + 2;
    return ATTEND_OK;
}

attend_status attend_model_encode(const attend_model *m, void *scratch, const char *text,
                                  size_t len, int32_t *ids, size_t *n, size_t *n_total,
                                  attend_error *err) {
    if (m->cfg.arch == ATTEND_ARCH_BERT) return bert_encode(m, scratch, text, len, ids, n, n_total, err);
    const size_t special = attend_model_n_special(m), T = m->cfg.max_len;
    size_t k = 0;
    *n = 0;
    /* max_len >= 2 with cls pooling (attend_model_config_check) */
    attend_status st = attend_tokenizer_encode(m->tok, scratch, text, len, ids + special,
                                               T - special, &k, n_total, err);
    if (st) return st;
    if (k == 0) return ATTEND_OK;
    if (special) ids[0] = m->tok->cls_id;
    *n = k + special;
    return ATTEND_OK;
}
