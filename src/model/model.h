/* A model's internals: configuration, parameter views, tokenizer, labels;
 * activations of a batch; and the pieces an architecture is built from.
 *
 * A loaded model is immutable: every call that runs it takes a const
 * attend_model and writes only into what the caller passes (activations,
 * token buffers) or into an attend_context (model/context.c). So one model
 * serves any number of threads, each with its own context.
 *
 * Architectures (attend_arch) share the pieces:
 *   embeddings.c  token + position embeddings (then dropout)
 *   encoder       nn/encoder.c, the stack of transformer encoder layers
 *   pooling.c     token states -> one vector per text (mean, cls, max)
 *   head.c        hidden layers and the output layer of a classifier
 * classifier.c composes them into the from-scratch classifier
 * (ATTEND_ARCH_CLASSIFIER, model files "attend.classifier.v1"); bert.c
 * into BERT-family encoders (ATTEND_ARCH_BERT), which hf_folder.c loads
 * from Hugging Face model folders. */
#ifndef ATTEND_MODEL_H
#define ATTEND_MODEL_H

#include "attend.h"
#include "formats/data.h"
#include "nn/layout.h"
#include "text/tokenizer.h"

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
    /* BERT only: token-type table (types,E), the embeddings' LayerNorm (E),
     * the pooler dense (E,E) and (E) (NULL without one) */
    float *type_emb;
    float *emb_norm_w, *emb_norm_b;
    float *pooler_w, *pooler_b;
} attend_model_params;

struct attend_model {
    attend_model_config cfg;
    attend_encoder_config enc;
    attend_layout layout;   /* names and shapes of every tensor */
    float *params;          /* layout.total floats the views point into, owned;
                               NULL when they point into file */
    attend_st_file *file;   /* the model file the views point into (mapped), or NULL */
    attend_model_params p;  /* views */
    float *sinusoid;        /* (max_len,E) fixed table, sinusoidal only */
    attend_tokenizer *tok;  /* text -> ids, with the special-token ids */
    attend_labels labels;   /* num_classes names, sorted (a label's id is its index) */
    char *meta_provenance;  /* JSON object text, or NULL */
    char *meta_training;    /* JSON object text, or NULL */
    attend_pool_kind embed_pool; /* attend_embed's pooling (cfg.pool unless set) */
    int embed_normalize;    /* the folder's pipeline normalises (CLI default) */
    int embed_pool_given;   /* the folder names its pooling (sentence-transformers) */
};

/* Saved activations of a batch of B texts of T tokens, and backward scratch. */
typedef struct {
    size_t B, T;
    float *x0;                                  /* (B,T,E) encoder input */
    attend_encoder_acts layers[ATTEND_MAX_LAYERS];
    float *outs[ATTEND_MAX_LAYERS];             /* (B,T,E) layer outputs */
    float *hn, *hn_mean, *hn_rstd;              /* final norm (pre-norm) */
    float *emb, *emb_mean, *emb_rstd;           /* BERT: (B,T,E) embedding sum before
                                                   its LayerNorm, and the norm's stats (B*T) */
    float *u;                                   /* BERT: (B,E) pooled before dropout */
    float *pooled;                              /* (B,E) the head's input */
    float *zpre[ATTEND_MAX_HEAD_HIDDEN];        /* (B,hidden_j) before ReLU */
    float *z[ATTEND_MAX_HEAD_HIDDEN];           /* (B,hidden_j) after ReLU+dropout */
    float *logits, *probs;                      /* (B,K) */
    /* backward */
    attend_encoder_scratch scr;
    float *dbuf0, *dbuf1, *dh, *dx0;            /* (B,T,E) */
    float *dz0, *dz1;                           /* (B, widest head layer) */
    float *dlogits;                             /* (B,K) */
    float *du;                                  /* BERT: (B,E) */
} attend_model_acts;

/* ---- pieces ---- */

/* x (B,T,E) = dropout(tok_emb[tokens[b,t]] + pos[t]) (pos (T',E) with T' >= T,
 * or NULL for none). */
void attend_embeddings_forward(float *x, const int32_t *tokens, const float *tok_emb,
                               const float *pos, size_t B, size_t T, size_t E, float p_drop,
                               uint64_t seed);
/* Backward: dx (B,T,E) is overwritten with its dropout backward, then added
 * into dtok_emb rows and dpos (may be NULL), skipping padding. */
void attend_embeddings_backward(float *dtok_emb, float *dpos, float *dx, const int32_t *tokens,
                                const uint8_t *pad, size_t B, size_t T, size_t E, float p_drop,
                                uint64_t seed);

/* u (B,E) = pool of h (B,T,E) over real tokens (pad nonzero = padding); a
 * text with no real token pools to 0. cls takes token 0. */
void attend_pool_forward(float *u, const float *h, const uint8_t *pad, size_t B, size_t T,
                         size_t E, attend_pool_kind kind);
/* Backward: dh (B,T,E) is overwritten; max sends the gradient to the first
 * real token holding the maximum (u is the forward's output). */
void attend_pool_backward(float *dh, const float *du, const float *h, const float *u,
                          const uint8_t *pad, size_t B, size_t T, size_t E,
                          attend_pool_kind kind);

/* BERT's embeddings: x (B,T,E) = dropout(LN(word[tokens] + pos[t] + type[types]))
 * with p's tok_emb, pos_emb, type_emb and emb_norm_*; types NULL = all 0.
 * Saves the sum emb (B,T,E) and the norm's mean, rstd (B*T). */
void attend_bert_embeddings_forward(float *x, float *emb, float *mean, float *rstd,
                                    const int32_t *tokens, const int32_t *types,
                                    const attend_model_params *p, size_t B, size_t T, size_t E,
                                    float eps, float p_drop, uint64_t seed);
/* Backward: dx (B,T,E) is overwritten with its dropout backward, demb
 * (B,T,E) is scratch; adds into g's tables and norm, skipping padding. */
void attend_bert_embeddings_backward(attend_model_params *g, float *dx, float *demb,
                                     const int32_t *tokens, const int32_t *types,
                                     const uint8_t *pad, const attend_model_params *p,
                                     const float *emb, const float *mean, const float *rstd,
                                     size_t B, size_t T, size_t E, float p_drop, uint64_t seed);

/* BERT's pooler: u (B,E) = tanh(h[b,0] w^T + bias), h (B,T,E), w (E,E). */
void attend_pooler_forward(float *u, const float *h, const float *w, const float *bias,
                           size_t B, size_t T, size_t E);
/* Backward: dh (B,T,E) is overwritten (nonzero at t = 0 only); du (B,E) is
 * overwritten with the gradient before the tanh; adds into dw, dbias. */
void attend_pooler_backward(float *dh, float *dw, float *dbias, float *du, const float *h,
                            const float *u, const float *w, size_t B, size_t T, size_t E);

/* logits (B,K) = head(a->pooled (B,E)), through a->zpre / a->z. */
void attend_head_forward(const attend_model_config *c, const attend_model_params *p,
                         attend_model_acts *a, size_t B, float p_drop, uint64_t seed);
/* Backward from a->dlogits; adds into g's head views and returns the
 * gradient of the pooled vector (B,E) (one of a->dz0 / a->dz1). */
const float *attend_head_backward(const attend_model_config *c, const attend_model_params *p,
                                  attend_model_params *g, attend_model_acts *a, size_t B,
                                  float p_drop, uint64_t seed);

/* ---- the classifier ---- */

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

/* A model with the given config, zeroed weights in an owned block (so it can
 * be trained), taking ownership of tok (also on failure) and copying labels
 * (num_classes names in strictly ascending byte order). */
attend_status attend_model_create(attend_model **out, const attend_model_config *cfg,
                                  attend_tokenizer *tok, char *const *labels,
                                  attend_error *err);

/* The same with the views pointing into the tensors of file (an open model
 * file whose tensors the caller has checked against the layout), which the
 * model takes on success. The weights are not copied (a loaded model). */
attend_status attend_model_create_mapped(attend_model **out, const attend_model_config *cfg,
                                         attend_tokenizer *tok, char *const *labels,
                                         attend_st_file *file, attend_error *err);

/* PyTorch-like initialisation from a seed (xavier for in_proj, uniform
 * +-1/sqrt(fan_in) for linears, ones/zeros for norms) with N(0, 0.02^2)
 * token and position embeddings (BERT's choice; see classifier.c). Needs
 * the owned block (a created model). */
void attend_model_init_weights(attend_model *m, uint64_t seed);

/* logits (B,K) for tokens (B,T) with pad (B,T) (nonzero = padding). */
void attend_model_forward(const attend_model *m, attend_model_acts *a, const int32_t *tokens,
                          const uint8_t *pad, size_t B, size_t T, int training,
                          uint64_t seed);

/* Backward from a->dlogits; adds into the gradient views g. */
void attend_model_backward(const attend_model *m, attend_model_params *g,
                           attend_model_acts *a, const int32_t *tokens, const uint8_t *pad,
                           size_t B, size_t T, int training, uint64_t seed);

/* The ids the model reads for a text: the tokenizer's ids with the special
 * tokens of the architecture (the classifier with cls pooling puts <cls>
 * first), cut to max_len. *n ids are written (0 for a text without tokens,
 * never only specials); *n_total (may be NULL) receives the tokens of the
 * whole text (specials excluded), so callers can tell it was cut. scratch
 * comes from attend_tokenizer_scratch_new on m->tok. */
attend_status attend_model_encode(const attend_model *m, void *scratch, const char *text,
                                  size_t len, int32_t *ids, size_t *n, size_t *n_total,
                                  attend_error *err);

/* Number of special tokens attend_model_encode adds (0 or 1; BERT 2). */
size_t attend_model_n_special(const attend_model *m);

/* The top hidden states (B,T,E) of the last forward (what pooling reads). */
const float *attend_model_top(const attend_model *m, const attend_model_acts *a);

/* u (B,E) = pooling kind of h (B,T,E) (attend_pool_forward, or BERT's
 * pooler with m's weights). */
void attend_model_pool(const attend_model *m, float *u, const float *h, const uint8_t *pad,
                       size_t B, size_t T, attend_pool_kind kind);

/* ---- BERT-family encoders (bert.c) ----
 * Parameter names are Hugging Face's BertModel names without a prefix
 * (embeddings.word_embeddings.weight, encoder.layer.N.attention.self.
 * query.weight, ..., pooler.dense.weight) and classifier.weight/bias for
 * the head, so a folder's tensors and the views correspond one to one.
 * query/key/value biases are taken one after another: in the owned block
 * they form the (3E) in_proj_bias the attention reads. */
attend_status attend_bert_config_check(const attend_model_config *cfg, attend_error *err);
void attend_bert_layout(attend_layout *L, const attend_model_config *cfg, attend_model_params *p);
/* BERT's initialisation (N(0, 0.02^2) weights and tables, zero biases,
 * unit norms); needs the owned block. */
void attend_bert_init_weights(attend_model *m, uint64_t seed);
/* Tensor i of the layout alone, as attend_bert_init_weights sets it. */
void attend_bert_init_tensor(attend_model *m, size_t i, uint64_t seed);
/* As attend_model_forward / _backward with token types (B,T) (NULL = all 0). */
void attend_bert_forward(const attend_model *m, attend_model_acts *a, const int32_t *tokens,
                         const int32_t *types, const uint8_t *pad, size_t B, size_t T,
                         int training, uint64_t seed);
void attend_bert_backward(const attend_model *m, attend_model_params *g, attend_model_acts *a,
                          const int32_t *tokens, const int32_t *types, const uint8_t *pad,
                          size_t B, size_t T, int training, uint64_t seed);

/* BERT model files (bert_io.c): save, and load from an open file whose
 * format is ATTEND_BERT_FORMAT (f stays the caller's). */
#define ATTEND_BERT_FORMAT "attend.bert.v1"
attend_status attend_bert_save(const attend_model *m, const char *path, attend_error *err);
attend_status attend_bert_load_file(attend_model **out, attend_st_file *f, const char *path,
                                    attend_error *err);

/* ---- Hugging Face folders (hf_config.c, hf_folder.c) ---- */

/* What config.json of a BERT-family folder says. */
typedef struct {
    attend_model_config cfg; /* arch BERT; num_classes = labels listed (0: none) */
    int32_t pad_token_id;    /* -1 when absent or null */
    char **id2label;         /* cfg.num_classes names, index = class id; NULL when none */
} attend_hf_config;

/* Parses and checks config.json text (name is used in messages): every
 * number in range, model_type and the options attend cannot honour refused
 * by name. On failure c is empty. */
attend_status attend_hf_config_parse(attend_hf_config *c, const char *json, size_t len,
                                     const char *name, attend_error *err);
void attend_hf_config_free(attend_hf_config *c);

/* Loads a Hugging Face model folder (attend_model_load on a directory). */
attend_status attend_hf_folder_load(attend_model **out, const char *dir, attend_error *err);

/* The data of layout item i (in the owned block or the mapped file). */
const float *attend_model_view(const attend_model *m, size_t i);

/* Saves weights and metadata (config, vocab, labels, provenance) atomically. */
attend_status attend_model_save(const attend_model *m, const char *path, attend_error *err);

/* The configuration as a JSON object (malloc'ed), and back. */
char *attend_model_config_to_json(const attend_model_config *cfg);
attend_status attend_model_config_from_json(attend_model_config *cfg, const char *json,
                                            attend_error *err);

#endif
