/* attend — looking inside a model: the attention weights of a text, the
 * pages and pictures of attend show, report and compare.
 *
 * The third public header (after attend.h and attend_train.h). Pictures
 * are self-contained SVG and HTML (no scripts, nothing fetched); files are
 * replaced atomically. */
#ifndef ATTEND_VIZ_H
#define ATTEND_VIZ_H

#include "attend.h"
#include "attend_train.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* The attention of one text                                                */
/* ------------------------------------------------------------------------ */

/* One text run through the model, with everything needed to draw it. */
typedef struct {
    size_t T, L, H, K;  /* tokens (with <cls> when the model pools on it), layers, heads, classes */
    char **tokens;      /* (T) normalised token strings; "<cls>" first with cls pooling */
    uint8_t *unknown;   /* (T) 1: not in the vocabulary, read by the model as <unk> */
    float *attn;        /* (L,H,T,T): attn[((l*H + h)*T + i)*T + j] = weight query i puts on key j */
    float *probs;       /* (K) class probabilities */
    size_t predicted;   /* argmax of probs */
    size_t n_text_tokens; /* tokens in the whole text; > T - n_special when it was cut at max_len */
    size_t n_special;   /* special tokens the model added (<cls>, [CLS] [SEP]) */
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

/* For head (l, h): the keys that receive the most attention on average over
 * the queries; writes up to n key indices into keys (by weight, descending)
 * and their mean weights into w. Returns how many, or SIZE_MAX when out of
 * memory (nothing written). */
size_t attend_explanation_top_keys(const attend_explanation *ex, size_t l, size_t h, size_t n,
                                   size_t *keys, float *w);

/* Writes the pictures of ex (the text it came from is text) to path:
 * path ending in .svg gets the head view of one layer (layer, 0-based;
 * (size_t)-1 = the last) with head (0-based, or (size_t)-1 = all) and the
 * model view (every layer x head); .html gets the same as a page with the
 * prediction and the top tokens of each head. ATTEND_ERR_ARG for another
 * extension or a model without layers. */
attend_status attend_show_write(const char *path, const attend_model *m,
                                const attend_explanation *ex, const char *text, size_t layer,
                                size_t head, size_t top, attend_error *err);

/* Colour maps of the pictures. */
typedef enum {
    ATTEND_CMAP_VIRIDIS = 0, /* sequential, perceptually uniform: dark blue -> yellow */
    ATTEND_CMAP_DIVERGING    /* signed values: blue (low) -> white (middle) -> red (high) */
} attend_cmap;

/* Colour of t in [0,1] (clamped) on map c, as 8-bit sRGB. */
void attend_cmap_rgb(attend_cmap c, double t, unsigned char rgb[3]);

/* ------------------------------------------------------------------------ */
/* Attention worked step by step (attend explain)                           */
/* ------------------------------------------------------------------------ */

/* What to work through (all 0-based): layer, head and the query token.
 * pad_to > 0 runs the text as one row of a batch padded to pad_to tokens
 * (pad_to <= max_len), so the padding keys are masked; 0 runs it alone. */
typedef struct {
    size_t layer, head, token;
    size_t pad_to;
} attend_stepwise_options;

/* One step compared with the model's own forward pass. */
typedef struct {
    const char *what;  /* "input", "q", "k", "v", "weights", "concat", "residual", "layer output" */
    double max_diff;   /* largest |step-by-step value - forward pass value| */
    double max_abs;    /* largest |forward pass value| of the step */
    int ok;            /* max_diff <= ATTEND_STEPWISE_TOL * max(1, max_abs) */
} attend_stepwise_check;

#define ATTEND_STEPWISE_MAX_CHECKS 8
/* The forward pass runs in float on optimised kernels; this arithmetic runs
 * in double, one value at a time. They agree to about 1e-6. */
#define ATTEND_STEPWISE_TOL 1e-4

/* One layer's attention for one head and one query token i, worked with
 * plain loops in double from the model's weights, independent of the
 * optimised kernels, then on to the layer's output, which is compared with
 * the output attend_model's forward pass computed. Letters as attend.h: T
 * tokens, E width, H heads, D = E / H, F feed-forward width. Vectors without
 * a T belong to token i. The weight pointers point into the model (valid
 * while it is loaded). */
typedef struct {
    size_t T, n_real, E, H, D, F, L; /* tokens (padding included), real tokens, sizes, layers */
    size_t layer, head, token;
    char **tokens;       /* (T) token strings; padding shows the pad token */
    int32_t *ids;        /* (T) token ids */
    uint8_t *masked;     /* (T) 1: key j is masked (padding) */
    attend_activation activation;
    int norm_first;      /* 1: pre-norm (norm1 before attention), 0: post-norm */
    double eps;          /* layer norm epsilon */
    /* 1. the input */
    const float *tok_row, *pos_row; /* (E) layer 0 of a classifier: the token's embedding row
                                       and its position's row (pos_row NULL without
                                       positions); both NULL otherwise */
    double *x;           /* (T,E) the layer's input, as the forward pass computed it */
    double *a;           /* (T,E) what attention reads: x (post-norm) or norm1(x) (pre-norm) */
    /* 2-3. the head's projections: rows [head*D, (head+1)*D) of W_q, W_k, W_v */
    const float *w_q, *w_k, *w_v; /* (D,E) */
    const float *b_q, *b_k, *b_v; /* (D), NULL without bias */
    double *q;           /* (D) q = a_i W_q^T + b_q */
    double *k, *v;       /* (T,D) k_j = a_j W_k^T + b_k, v_j likewise */
    /* 4. scores, scaling, mask, softmax */
    double *score;       /* (T) q . k_j */
    double scale;        /* 1/sqrt(D) */
    double *scaled;      /* (T) score_j * scale; -inf where masked */
    double *weights;     /* (T) softmax of scaled (0 where masked); they sum to 1 */
    double *head_out;    /* (D) sum_j weights_j v_j */
    /* 5-6. every head, concatenated, and the output projection */
    double *all_weights; /* (H,T) each head's weights for token i */
    double *concat;      /* (E) head g's output at [g*D, (g+1)*D) */
    const float *w_o, *b_o; /* (E,E) and (E) (NULL without bias) */
    double *attn_out;    /* (E) concat W_o^T + b_o */
    /* 7. the rest of the layer */
    double *resid1;      /* (E) x_i + attn_out */
    double *ff_in;       /* (E) post-norm: norm1(resid1); pre-norm: norm2(resid1) */
    double *ff_pre;      /* (F) ff_in W_1^T + b_1 */
    double *ff_hidden;   /* (F) activation of ff_pre */
    double *ff_out;      /* (E) ff_hidden W_2^T + b_2 */
    double *resid2;      /* (E) post-norm: ff_in + ff_out (norm2's input); pre-norm: the output */
    double *out;         /* (E) the layer's output: post-norm norm2(resid2); pre-norm resid2 */
    double norm_mean[2], norm_sd[2]; /* mean and sqrt(variance + eps) of norm1's and
                                        norm2's input for token i */
    /* 8. the forward pass */
    float *model_out;    /* (E) what attend_model_forward computed for layer, token i */
    attend_stepwise_check checks[ATTEND_STEPWISE_MAX_CHECKS];
    size_t n_checks;
} attend_stepwise;

/* Tokenizes text[0..len) as m reads it, runs the forward pass, and works
 * through o's layer, head and token (free sw with attend_stepwise_free,
 * also after a failure). ATTEND_ERR_ARG for a layer, head or token out of
 * range (the message names the range), a text without tokens, or pad_to
 * below the text's tokens or above max_len; ATTEND_ERR_FORMAT for invalid
 * UTF-8. A step that disagrees with the forward pass is not an error here:
 * its check has ok = 0. */
attend_status attend_stepwise_compute(const attend_model *m, const char *text, size_t len,
                                      const attend_stepwise_options *o, attend_stepwise *sw,
                                      attend_error *err);
void attend_stepwise_free(attend_stepwise *sw);

/* 1 when every check of sw is ok. */
int attend_stepwise_matches(const attend_stepwise *sw);

/* Writes sw as a self-contained HTML page (the text it came from is text):
 * the steps in order, each matrix as a small heatmap with its shape
 * written beside it. The file is replaced atomically. */
attend_status attend_stepwise_write_html(const char *path, const attend_stepwise *sw,
                                         const char *text, attend_error *err);

/* ------------------------------------------------------------------------ */
/* Positional encodings                                                     */
/* ------------------------------------------------------------------------ */

/* The positional table the model adds to its embeddings ((max_len, E)), or
 * NULL when it uses none. */
const float *attend_model_pos_table(const attend_model *m);

/* Recreates the learned positional table as it was right after
 * initialisation: attend_train initialises with attend_seed_child(seed, 12)
 * from the seed stored in the model's provenance; a fine-tuned model
 * (attend train --init) started from its source's table, which is read
 * again from the folder or file its provenance names. out has max_len * E
 * floats. ATTEND_ERR_ARG when the model has no learned table, no seed, or a
 * source that no longer matches it; the load's error when the source cannot
 * be read. */
attend_status attend_model_initial_pos(const attend_model *m, float *out, attend_error *err);

/* ------------------------------------------------------------------------ */
/* The report page                                                          */
/* ------------------------------------------------------------------------ */

typedef struct {
    const char *model_path;       /* shown in the model card */
    const char *data_path;        /* labelled data evaluated (usually the validation split) */
    attend_data_options data;     /* how to read it */
    const char *data_note;        /* a sentence on where the data comes from, or NULL */
    const attend_epoch_report *epochs; /* per-epoch metrics for the curves (n_epochs may be 0) */
    size_t n_epochs;
    const float *pos_init;        /* (max_len, E) learned table right after initialisation;
                                     NULL: recreated from the seed in the model file */
    double train_seconds;         /* wall time of training, 0 = unknown */
    size_t n_examples;            /* attention examples shown, of each kind (right, wrong); default 3 */
    size_t max_stats_examples;    /* examples for per-head statistics; default 2000, 0 = all */
    void (*on_info)(void *ctx, const char *msg); /* progress messages (may be NULL) */
    void *ctx;
} attend_report_options;

void attend_report_options_default(attend_report_options *o);

/* What was written. */
typedef struct {
    size_t n_heatmaps, n_plots; /* pictures on the page */
    size_t n_examples;          /* attention examples shown */
    double accuracy, macro_f1, loss;
} attend_report_result;

/* Evaluates m on o->data_path and writes dir/index.html and dir/figures/
 * (creating both). res may be NULL. */
attend_status attend_report_write(const attend_model *m, const attend_report_options *o,
                                  const char *dir, attend_report_result *res,
                                  attend_error *err);

/* Creates directory path (one level) unless it exists. */
attend_status attend_mkdir(const char *path, attend_error *err);

/* ------------------------------------------------------------------------ */
/* The heads experiment (attend compare)                                    */
/* ------------------------------------------------------------------------ */

#define ATTEND_COMPARE_MAX_CONFIGS 32
#define ATTEND_COMPARE_MAX_DATA 8

/* One data set of a comparison. */
typedef struct {
    const char *data_path;        /* labelled data (read with train.data's options) */
    const char *val_path;         /* NULL: a stratified split of data_path (train.val_split) */
    const char *name;             /* on the page and as its directory: letters, digits, '.',
                                     '_', '-' (at most 48); NULL: from the file name */
} attend_compare_data;

/* What to compare: every (heads, positional encoding, seed) is trained with
 * train's settings on one split, so only the heads (at equal parameters:
 * d_model is fixed) and the encoding vary. With several data sets, the
 * same runs are made on each, one after the other. */
typedef struct {
    attend_train_options train;   /* data, model, epochs, ...; train.seed is the first seed */
    attend_compare_data data[ATTEND_COMPARE_MAX_DATA]; /* n_data 0: train.data_path and
                                     train.val_path are the one data set */
    size_t n_data;
    size_t n_examples;            /* validation texts on which the page shows the best
                                     multi-head model's attention, head by head (default 3,
                                     at most 16) */
    const char *note_path;        /* a UTF-8 text file: the page's summary in plain words
                                     (paragraphs split at blank lines, shown escaped) above
                                     the sentences generated from the numbers; NULL: none */
    size_t heads[ATTEND_COMPARE_MAX_CONFIGS];
    size_t n_heads;
    attend_pos_kind pos[3];       /* default learned */
    size_t n_pos;
    size_t n_seeds;               /* default 3: seed, seed + 1, ... */
    size_t stats_examples;        /* validation examples for per-head statistics (default 1000) */
    int keep_models;              /* keep out_dir/models/hH-POS-sS.safetensors */
    const char *out_dir;
    const char *command;          /* the command line, shown on the page (may be NULL) */
    /* progress (any may be NULL): messages, and each run's start (res NULL)
     * and end */
    void (*on_message)(void *ctx, const char *msg);
    void (*on_run)(void *ctx, size_t i, size_t n, size_t heads, attend_pos_kind pos,
                   uint64_t seed, const attend_train_result *res);
    void *ctx;
} attend_compare_options;

/* Defaults above, with attend_train_options_default for train. */
void attend_compare_options_default(attend_compare_options *o);

/* Runs the experiment and writes out_dir/results.csv, runs.csv, curves.csv,
 * results.json, table.md and index.html (rewritten after every run). With
 * several data sets each gets those files in out_dir/NAME/, and out_dir gets
 * the page that puts them side by side (index.html), results.csv with a
 * data column and table.md (heads x data set). The summary as a Markdown
 * table goes to *markdown (malloc'ed; may be NULL). */
attend_status attend_compare(const attend_compare_options *o, char **markdown, attend_error *err);

/* "learned", "sinusoidal" or "none". */
const char *attend_pos_name(attend_pos_kind p);

#ifdef __cplusplus
}
#endif
#endif /* ATTEND_VIZ_H */
