/* Looking inside a trained classifier: the attention weights of every layer
 * and head for one text, and per-head statistics over a dataset (attention
 * entropy, mean attention distance, importance by masking one head at a
 * time). Used by attend show, attend report and attend compare. */
#ifndef ATTEND_EXPLAIN_H
#define ATTEND_EXPLAIN_H

#include "train/train.h"

/* One text run through the model, with everything needed to draw it. */
typedef struct {
    size_t T, L, H, K;  /* tokens (with <cls> when the model pools on it), layers, heads, classes */
    char **tokens;      /* (T) normalised token strings; "<cls>" first with cls pooling */
    uint8_t *unknown;   /* (T) 1: not in the vocabulary, read by the model as <unk> */
    float *attn;        /* (L,H,T,T): attn[((l*H + h)*T + i)*T + j] = weight query i puts on key j */
    float *probs;       /* (K) class probabilities */
    size_t predicted;   /* argmax of probs */
    size_t n_text_tokens; /* tokens in the whole text; > T (minus <cls>) when it was cut at max_len */
} attend_explanation;

/* Runs text[0..len) (UTF-8) through m and fills ex (free it with
 * attend_explanation_free, also after a failure). A text without tokens is
 * ATTEND_ERR_ARG; invalid UTF-8 is ATTEND_ERR_FORMAT. */
attend_status attend_explain(const attend_model *m, const char *text, size_t len,
                             attend_explanation *ex, attend_error *err);
void attend_explanation_free(attend_explanation *ex);

/* Weight of attention on (layer l, head h, query i, key j). */
static inline float attend_explanation_at(const attend_explanation *ex, size_t l, size_t h,
                                          size_t i, size_t j) {
    return ex->attn[((l * ex->H + h) * ex->T + i) * ex->T + j];
}

/* Per-head statistics of a model over a set of texts. All (L,H) arrays are
 * indexed l * H + h. */
typedef struct {
    size_t L, H, n_examples, n_queries;
    double *entropy;        /* mean entropy of a query's attention, in bits */
    double *distance;       /* mean |i - j| weighted by attention, in tokens */
    double uniform_entropy; /* what a head attending uniformly would score */
    double uniform_distance;
    /* importance (when asked for): accuracy and loss with the head masked */
    int has_importance;
    double base_accuracy, base_loss;
    double *acc_drop;       /* base accuracy - accuracy with the head masked */
    double *loss_rise;      /* loss with the head masked - base loss */
} attend_head_stats;

/* Computes entropy and distance over at most max_examples examples of enc
 * (0 = all; a spread-out subset otherwise) and, with importance != 0, the
 * importance of every head: its context is removed by zeroing its columns
 * [h*D, (h+1)*D) of out_proj.weight, the subset is evaluated, and the
 * weights are restored exactly (m is unchanged afterwards). Needs labels in
 * enc for importance. */
attend_status attend_head_stats_compute(const attend_model *m, const attend_encoded *enc,
                                        size_t max_examples, int importance,
                                        attend_head_stats *hs, attend_error *err);
void attend_head_stats_free(attend_head_stats *hs);

/* The positional table the model adds to its embeddings ((max_len, E)), or
 * NULL when it uses none. */
const float *attend_model_pos_table(const attend_model *m);

/* Recreates the learned positional table as it was right after
 * initialisation: attend_train initialises with attend_seed_child(seed, 12)
 * from the seed stored in the model's provenance. out has max_len * E
 * floats. ATTEND_ERR_ARG when the model has no learned table or no seed. */
attend_status attend_model_initial_pos(const attend_model *m, float *out, attend_error *err);

#endif
