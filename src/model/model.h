/* The text classifier's internals: parameter views, activations, forward
 * and backward over a batch. Used by the trainer, eval, predict and show. */
#ifndef ATTEND_MODEL_H
#define ATTEND_MODEL_H

#include "formats/data.h"
#include "nn/layout.h"
#include <math.h>
#include "text/vocab.h"

/* Parameter (or gradient, or optimizer moment) views, PyTorch-style names:
 *   embedding.weight (V,E), pos_embedding.weight (max_len,E) [learned],
 *   encoder.layers.N.* (as nn.TransformerEncoderLayer), encoder.norm.* (E)
 *   [pre-norm stacks], head.fcJ.weight/bias [hidden], head.out.weight (K,in). */
typedef struct {
    float *tok_emb;
    float *pos_emb;
    attend_encoder_layer_params layers[ATTEND_MAX_LAYERS];
    float *norm_w, *norm_b;
    float *head_w[ATTEND_MAX_HEAD_HIDDEN + 1];
    float *head_b[ATTEND_MAX_HEAD_HIDDEN + 1];
} attend_model_params;

struct attend_model {
    attend_model_config cfg;
    attend_encoder_config enc;
    attend_layout layout;   /* names and shapes of every tensor */
    float *params;          /* layout.total floats */
    attend_model_params p;  /* views into params */
    float *sinusoid;        /* (max_len,E) fixed table, sinusoidal only */
    attend_vocab vocab;
    attend_labels labels;   /* num_classes names, sorted (a label's id is its index) */
    char *meta_provenance;  /* JSON object text, or NULL */
    char *meta_training;    /* JSON object text, or NULL */
    /* Single-text inference workspace, allocated on first use. */
    float *infer_mem;
    size_t infer_T;
    int32_t *infer_ids;
    uint8_t *infer_pad;
    attend_splitter tok;
    int tok_ready;
};

/* Saved activations of a batch of B texts of T tokens, and backward scratch. */
typedef struct {
    size_t B, T;
    float *x0;                                  /* (B,T,E) encoder input */
    attend_encoder_acts layers[ATTEND_MAX_LAYERS];
    float *outs[ATTEND_MAX_LAYERS];             /* (B,T,E) layer outputs */
    float *hn, *hn_mean, *hn_rstd;              /* final norm (pre-norm) */
    float *pooled;                              /* (B,E) */
    float *zpre[ATTEND_MAX_HEAD_HIDDEN];        /* (B,hidden_j) before ReLU */
    float *z[ATTEND_MAX_HEAD_HIDDEN];           /* (B,hidden_j) after ReLU+dropout */
    float *logits, *probs;                      /* (B,K) */
    /* backward */
    attend_encoder_scratch scr;
    float *dbuf0, *dbuf1, *dh, *dx0;            /* (B,T,E) */
    float *dz0, *dz1;                           /* (B, widest head layer) */
    float *dlogits;                             /* (B,K) */
} attend_model_acts;

/* Layout of every parameter; p may be NULL while sizing. */
void attend_model_layout(attend_layout *L, const attend_model_config *cfg,
                         attend_model_params *p);

/* The encoder configuration of a model configuration. */
attend_encoder_config attend_model_encoder_config(const attend_model_config *cfg);

/* Floats needed for the activations of (B,T) with ATTEND_ACTS_* flags
 * (GRAD for training; FUSED unless the attention weights are wanted). */
size_t attend_model_acts_size(const attend_model_config *cfg, size_t B, size_t T, int flags);
void attend_model_acts_bind(attend_model_acts *a, const attend_model_config *cfg, size_t B,
                            size_t T, int flags, float *mem);

/* A model with the given config, zeroed weights, taking ownership of vocab
 * and copying labels (num_classes names in strictly ascending byte order). */
attend_status attend_model_create(attend_model **out, const attend_model_config *cfg,
                                  attend_vocab *vocab, char *const *labels,
                                  attend_error *err);

/* PyTorch-like initialisation from a seed (xavier for in_proj, uniform
 * +-1/sqrt(fan_in) for linears, ones/zeros for norms) with N(0, 0.02^2)
 * token and position embeddings (BERT's choice; see model.c). */
void attend_model_init_weights(attend_model *m, uint64_t seed);

/* logits (B,K) for tokens (B,T) with pad (B,T) (nonzero = padding). */
void attend_model_forward(const attend_model *m, attend_model_acts *a, const int32_t *tokens,
                          const uint8_t *pad, size_t B, size_t T, int training,
                          uint64_t seed);

/* Backward from a->dlogits; adds into the gradient views g. */
void attend_model_backward(const attend_model *m, attend_model_params *g,
                           attend_model_acts *a, const int32_t *tokens, const uint8_t *pad,
                           size_t B, size_t T, int training, uint64_t seed);

/* Saves weights and metadata (config, vocab, labels, provenance) atomically. */
attend_status attend_model_save(const attend_model *m, const char *path, attend_error *err);

/* The configuration as a JSON object (malloc'ed), and back. */
char *attend_model_config_to_json(const attend_model_config *cfg);
attend_status attend_model_config_from_json(attend_model_config *cfg, const char *json,
                                            attend_error *err);

/* Tokens to ids for this model (adds <cls> for cls pooling); *n ids. */
attend_status attend_model_encode(const attend_model *m, attend_splitter *tok,
                                  const char *text, size_t len, int32_t *ids, size_t *n,
                                  attend_error *err);

#endif
