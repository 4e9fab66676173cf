/* BERT-family encoders (BertModel and what shares its layout: MiniLM, BGE,
 * E5, bert-base), optionally with a classification head, as Hugging Face's
 * transformers computes them:
 *
 *   emb    = word[tok] + pos[t] + type[tt]                   (B,T,E)
 *   x0     = dropout(LayerNorm(emb))
 *   h      = encoder(x0, key_padding = pad)                  post-norm layers:
 *            LN(x + drop(dense(attn(x)))), LN(y + drop(dense(act(dense(y)))))
 *   u      = pool(h): mean | max over real tokens, h[:,0] ([CLS]),
 *            or the pooler tanh(dense(h[:,0]))                (B,E)
 *   logits = classifier(dropout(u))                          (B,K), when K > 0
 *
 * The attention is the encoder's (nn/encoder.c is exactly BERT's layer with
 * biases); masking keys only, as transformers does, so padded positions
 * never reach a real one. Dropout sites are BERT's (bert_dropout): none
 * inside the feed-forward block, attention_probs_dropout_prob on the
 * weights, and hidden_dropout_prob on the embeddings, each sublayer's
 * output and the pooled vector (BertForSequenceClassification's). */
#include "model/model.h"
#include "base/rng.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

enum { SITE_EMB = 1, SITE_ENCODER = 2, SITE_HEAD = 3, SITE_POOL = 4 };

/* Bounds that keep every product of sizes far from overflow; the weights
 * of a loaded model must also be in its file, which bounds them further. */
#define MAX_DIM ((size_t)1 << 14)       /* hidden size */
#define MAX_FF ((size_t)1 << 16)        /* intermediate size */
#define MAX_POSITIONS ((size_t)1 << 16) /* position rows */
#define MAX_TOKENS ((size_t)1 << 14)    /* tokens per text */
#define MAX_TYPES ((size_t)1 << 16)
#define MAX_VOCAB ((size_t)1 << 24)
#define MAX_CLASSES ((size_t)1 << 16)

static int in_range(size_t v, size_t lo, size_t hi) { return v >= lo && v <= hi; }

attend_status attend_bert_config_check(const attend_model_config *c, attend_error *err) {
#define RANGE(field, lo, hi)                                                                    \
    if (!in_range(c->field, lo, hi))                                                            \
        return attend_errorf(err, ATTEND_ERR_ARG, #field " = %zu is outside [%zu, %zu]",         \
                             (size_t)c->field, (size_t)(lo), (size_t)(hi));
    RANGE(vocab_size, 1, MAX_VOCAB)
    RANGE(d_model, 1, MAX_DIM)
    RANGE(nhead, 1, c->d_model)
    RANGE(num_layers, 1, ATTEND_MAX_LAYERS)
    RANGE(dim_feedforward, 1, MAX_FF)
    RANGE(max_positions, 2, MAX_POSITIONS)
    RANGE(max_len, 2, c->max_positions < MAX_TOKENS ? c->max_positions : MAX_TOKENS)
    RANGE(type_vocab_size, 1, MAX_TYPES)
#undef RANGE
    if (c->num_classes == 1 || c->num_classes > MAX_CLASSES)
        return attend_errorf(err, ATTEND_ERR_ARG,
                             "num_classes = %zu: a BERT model has no head (0) or 2 .. %zu classes",
                             c->num_classes, MAX_CLASSES);
    if (c->d_model % c->nhead != 0)
        return attend_errorf(err, ATTEND_ERR_ARG, "hidden size %zu is not divisible by %zu heads",
                             c->d_model, c->nhead);
    if (c->pos != ATTEND_POS_LEARNED || c->norm_first || c->n_hidden)
        return attend_errorf(err, ATTEND_ERR_ARG,
                             "a BERT model has learned positions, post-norm layers and no hidden head layers");
    if (c->activation != ATTEND_ACT_RELU && c->activation != ATTEND_ACT_GELU &&
        c->activation != ATTEND_ACT_GELU_TANH)
        return attend_errorf(err, ATTEND_ERR_ARG, "unknown activation %d", (int)c->activation);
    if ((int)c->pool < 0 || c->pool > ATTEND_POOL_POOLER)
        return attend_errorf(err, ATTEND_ERR_ARG, "unknown pooling %d", (int)c->pool);
    if (c->pool == ATTEND_POOL_POOLER && !c->pooler)
        return attend_errorf(err, ATTEND_ERR_ARG, "pooler pooling needs the pooler weights (pooler.dense), which this model lacks");
    if (!(c->dropout >= 0.0f && c->dropout < 1.0f) || !(c->attn_dropout >= 0.0f && c->attn_dropout < 1.0f))
        return attend_errorf(err, ATTEND_ERR_ARG, "dropout %g / attention dropout %g is outside [0, 1)",
                             (double)c->dropout, (double)c->attn_dropout);
    if (!(c->layer_norm_eps > 0.0f && c->layer_norm_eps < 1.0f))
        return attend_errorf(err, ATTEND_ERR_ARG, "layer_norm_eps %g is outside (0, 1)",
                             (double)c->layer_norm_eps);
    return ATTEND_OK;
}

/* One layer under prefix ("encoder.layer.N."), mapped onto the encoder's
 * views: query/key/value -> the attention's projections, attention.output
 * -> out_proj and norm1, intermediate/output -> linear1, linear2, norm2. */
static void layer_layout(attend_layout *L, const char *prefix, size_t E, size_t F,
                         attend_encoder_layer_params *p) {
    attend_mha_params *a = &p->self_attn;
    a->q_proj_weight = attend_layout_take(L, prefix, "attention.self.query.weight", E, E, 0);
    a->k_proj_weight = attend_layout_take(L, prefix, "attention.self.key.weight", E, E, 0);
    a->v_proj_weight = attend_layout_take(L, prefix, "attention.self.value.weight", E, E, 0);
    /* three consecutive (E) views: the (3E) in_proj_bias the attention reads */
    a->in_proj_bias = attend_layout_take(L, prefix, "attention.self.query.bias", E, 0, 1);
    attend_layout_take(L, prefix, "attention.self.key.bias", E, 0, 1);
    attend_layout_take(L, prefix, "attention.self.value.bias", E, 0, 1);
    a->out_proj_weight = attend_layout_take(L, prefix, "attention.output.dense.weight", E, E, 0);
    a->out_proj_bias = attend_layout_take(L, prefix, "attention.output.dense.bias", E, 0, 1);
    p->norm1_weight = attend_layout_take(L, prefix, "attention.output.LayerNorm.weight", E, 0, 1);
    p->norm1_bias = attend_layout_take(L, prefix, "attention.output.LayerNorm.bias", E, 0, 1);
    p->linear1_weight = attend_layout_take(L, prefix, "intermediate.dense.weight", F, E, 0);
    p->linear1_bias = attend_layout_take(L, prefix, "intermediate.dense.bias", F, 0, 1);
    p->linear2_weight = attend_layout_take(L, prefix, "output.dense.weight", E, F, 0);
    p->linear2_bias = attend_layout_take(L, prefix, "output.dense.bias", E, 0, 1);
    p->norm2_weight = attend_layout_take(L, prefix, "output.LayerNorm.weight", E, 0, 1);
    p->norm2_bias = attend_layout_take(L, prefix, "output.LayerNorm.bias", E, 0, 1);
}

void attend_bert_layout(attend_layout *L, const attend_model_config *c, attend_model_params *p) {
    attend_model_params v;
    memset(&v, 0, sizeof v);
    const size_t E = c->d_model;
    v.tok_emb = attend_layout_take(L, "", "embeddings.word_embeddings.weight", c->vocab_size, E, 1);
    v.pos_emb = attend_layout_take(L, "", "embeddings.position_embeddings.weight", c->max_positions, E, 1);
    v.type_emb = attend_layout_take(L, "", "embeddings.token_type_embeddings.weight", c->type_vocab_size, E, 1);
    v.emb_norm_w = attend_layout_take(L, "", "embeddings.LayerNorm.weight", E, 0, 1);
    v.emb_norm_b = attend_layout_take(L, "", "embeddings.LayerNorm.bias", E, 0, 1);
    for (size_t i = 0; i < c->num_layers; i++) {
        char prefix[64];
        snprintf(prefix, sizeof prefix, "encoder.layer.%zu.", i);
        layer_layout(L, prefix, E, c->dim_feedforward, &v.layers[i]);
    }
    if (c->pooler) {
        v.pooler_w = attend_layout_take(L, "", "pooler.dense.weight", E, E, 0);
        v.pooler_b = attend_layout_take(L, "", "pooler.dense.bias", E, 0, 1);
    }
    if (c->num_classes) {
        v.head_w[0] = attend_layout_take(L, "", "classifier.weight", c->num_classes, E, 0);
        v.head_b[0] = attend_layout_take(L, "", "classifier.bias", c->num_classes, 0, 1);
    }
    if (p) *p = v;
}

void attend_bert_forward(const attend_model *m, attend_model_acts *a, const int32_t *tokens,
                         const int32_t *types, const uint8_t *pad, size_t B, size_t T,
                         int training, uint64_t seed) {
    const attend_model_config *c = &m->cfg;
    const size_t E = c->d_model;
    const float p_drop = training ? c->dropout : 0.0f;

    // x0 = dropout(LN(word + pos + type))
    attend_bert_embeddings_forward(a->x0, a->emb, a->emb_mean, a->emb_rstd, tokens, types, &m->p,
                                   B, T, E, c->layer_norm_eps, p_drop,
                                   attend_seed_child(seed, SITE_EMB));
    // h = encoder(x0)
    attend_encoder_forward(a->outs, a->layers, &m->enc, m->p.layers, c->num_layers, a->x0, pad, B,
                           T, training, attend_seed_child(seed, SITE_ENCODER));
    const float *h = a->outs[c->num_layers - 1];

    // u = pool(h); logits = classifier(dropout(u))
    attend_model_pool(m, a->u, h, pad, B, T, c->pool);
    attend_dropout_forward(a->pooled, a->u, B * E, p_drop, attend_seed_child(seed, SITE_POOL));
    if (c->num_classes)
        attend_head_forward(c, &m->p, a, B, p_drop, attend_seed_child(seed, SITE_HEAD));
}

void attend_bert_backward(const attend_model *m, attend_model_params *g, attend_model_acts *a,
                          const int32_t *tokens, const int32_t *types, const uint8_t *pad,
                          size_t B, size_t T, int training, uint64_t seed) {
    const attend_model_config *c = &m->cfg;
    const size_t E = c->d_model, BTE = B * T * E;
    const float p_drop = training ? c->dropout : 0.0f;
    const float *h = a->outs[c->num_layers - 1];

    // logits = classifier(pooled): dpooled; pooled = dropout(u): du
    const float *dpooled = attend_head_backward(c, &m->p, g, a, B, p_drop,
                                                attend_seed_child(seed, SITE_HEAD));
    attend_dropout_forward(a->du, dpooled, B * E, p_drop, attend_seed_child(seed, SITE_POOL));
    // u = pool(h): dh
    if (c->pool == ATTEND_POOL_POOLER)
        attend_pooler_backward(a->dh, g->pooler_w, g->pooler_b, a->du, h, a->u, m->p.pooler_w, B,
                               T, E);
    else
        attend_pool_backward(a->dh, a->du, h, a->u, pad, B, T, E, c->pool);

    // encoder -> dx0
    memset(a->dx0, 0, BTE * sizeof(float));
    attend_encoder_backward(a->dx0, g->layers, a->layers, &a->scr, a->dbuf0, a->dbuf1, a->dh,
                            &m->enc, m->p.layers, c->num_layers, a->outs, a->x0, pad, B, T,
                            training, attend_seed_child(seed, SITE_ENCODER));
    // embeddings (dbuf0 is free again once the stack is done)
    attend_bert_embeddings_backward(g, a->dx0, a->dbuf0, tokens, types, pad, &m->p, a->emb,
                                    a->emb_mean, a->emb_rstd, B, T, E, p_drop,
                                    attend_seed_child(seed, SITE_EMB));
}

/* N(0, 0.02^2) from the counter-based hash (Box-Muller), as BERT's
 * initializer_range; each tensor gets its own child seed. */
static void init_normal(float *w, size_t n, uint64_t seed) {
    for (size_t i = 0; i < n; i++) {
        double u1 = 1.0 - (double)attend_hash_uniform(seed, 2 * i);
        double u2 = attend_hash_uniform(seed, 2 * i + 1);
        w[i] = (float)(0.02 * sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
    }
}

void attend_bert_init_tensor(attend_model *m, size_t i, uint64_t seed) {
    /* BertPreTrainedModel._init_weights: linear weights and embeddings
     * N(0, 0.02^2), biases 0, LayerNorm weight 1 and bias 0, by the kind
     * the tensor's name says; tensor i draws from its own child seed. */
    const attend_param_info *it = &m->layout.items[i];
    float *w = m->params + it->offset;
    const char *dot = strrchr(it->name, '.');
    const int norm = strstr(it->name, "LayerNorm.") != NULL;
    if (norm && strcmp(dot, ".weight") == 0)
        for (size_t j = 0; j < it->numel; j++) w[j] = 1.0f;
    else if (it->ndim == 1)
        memset(w, 0, it->numel * sizeof(float));
    else
        init_normal(w, it->numel, attend_seed_child(seed, i + 1));
}

void attend_bert_init_weights(attend_model *m, uint64_t seed) {
    for (size_t i = 0; i < m->layout.count; i++) attend_bert_init_tensor(m, i, seed);
}
