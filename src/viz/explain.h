/* Looking inside a trained classifier: the attention weights of every layer
 * and head for one text, and per-head statistics over a dataset (attention
 * entropy, mean attention distance, importance by masking one head at a
 * time). Used by attend show, attend report and attend compare. */
#ifndef ATTEND_EXPLAIN_H
#define ATTEND_EXPLAIN_H

#include "attend_viz.h"
#include "train/train.h"

/* The ids m reads for text[0..len) (ids has room for max_len; *T of them,
 * special tokens included) with each token's string (tokens[t], malloc'ed:
 * the caller frees the *T of them) and whether the vocabulary lacks it
 * (unknown[t]). *n_text_tokens as attend_model_encode's *n_total. A text
 * without tokens is ATTEND_ERR_ARG; on failure nothing is left allocated. */
attend_status attend_explain_tokens(const attend_model *m, const char *text, size_t len,
                                    int32_t *ids, size_t *T, size_t *n_text_tokens,
                                    char **tokens, uint8_t *unknown, attend_error *err);

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

#endif
