/* Training and batched evaluation of the text classifier. */
#ifndef ATTEND_TRAIN_H
#define ATTEND_TRAIN_H

#include "formats/data.h"
#include "train/metrics.h"
#include "model/model.h"
#include "nn/optimizer.h"

#include <signal.h>

/* Texts turned into token ids for one model. */
typedef struct {
    int32_t *ids;       /* all ids, concatenated */
    size_t *off, *len;  /* example i = ids[off[i] .. off[i] + len[i]) */
    int32_t *labels;    /* per example, or NULL */
    size_t *line;       /* source line per example */
    size_t n, max_len;  /* examples; longest */
    size_t n_empty;     /* texts skipped for having no token */
} attend_encoded;

/* Encodes the records of ds for which select is NULL or select[i] == want;
 * label_ids (may be NULL) are carried along. Texts without a token are
 * skipped and counted (reported through warn when not NULL). */
attend_status attend_encode_dataset(attend_encoded *enc, const attend_model *m,
                                    const attend_dataset *ds, const int32_t *label_ids,
                                    const uint8_t *select, uint8_t want,
                                    void (*warn)(void *ctx, const char *msg), void *ctx,
                                    attend_error *err);
void attend_encoded_free(attend_encoded *enc);

/* Batches larger than this are refused (with the memory they would need). */
#define ATTEND_TRAIN_MAX_BATCH 4096

/* Fills tokens (B,T) and pad (B,T) for the examples idx[0..B) of e, padding
 * with pad_id; T = the longest of them, returned. */
size_t attend_batch_fill(const attend_encoded *e, const size_t *idx, size_t B, int32_t pad_id,
                         int32_t *tokens, uint8_t *pad);
/* Orders idx[0..n) by the examples' lengths, then by index. */
void attend_sort_by_length(const attend_encoded *e, size_t *idx, size_t n);
/* Seeded Fisher-Yates shuffle of x[0..n). */
void attend_shuffle(size_t *x, size_t n, uint64_t seed);

/* Runs the model over every example (batches of similar length) and fills
 * mt (when labels exist) and probs (n,K) (may be NULL). */
attend_status attend_evaluate(const attend_model *m, const attend_encoded *enc, size_t batch,
                              attend_metrics *mt, float *probs, attend_error *err);

/* One training step's buffers and settings. attend_train runs its steps
 * through this, and so does the benchmark, which thereby times exactly the
 * code a training run executes. The step is four named parts (stepper.c):
 * gradients, reduce, gradient norm, update. */
typedef struct attend_stepper attend_stepper;
struct attend_stepper {
    attend_model *m;
    attend_model_params g;        /* gradient views into grads */
    float *grads, *m1, *m2;       /* (P) each: gradients and AdamW moments */
    float *acts;                  /* activations for Bmax x Tmax */
    int acts_flags;               /* ATTEND_ACTS_GRAD [| ATTEND_ACTS_FUSED] */
    size_t Bmax, Tmax;
    int32_t *rows;                /* embedding rows the step touches */
    size_t n_rows;                /* how many (set by attend_step_gradients) */
    uint8_t *touched;             /* (vocab) marks while collecting rows */
    double *norm_part;            /* partial sums of the gradient norm */
    float loss;                   /* the batch's loss (attend_step_gradients) */
    const float *class_w;         /* (K) class weights or NULL */
    float label_smoothing;        /* default 0 */
    float clip;                   /* max gradient norm, default 1; 0 = off */
    attend_adamw_config adam;     /* default betas 0.9, 0.999, eps 1e-8, decay 0.01 */
    /* The reduce hook, between the backward and the gradient norm (NULL:
     * one process): data-parallel training sums the gradients (dense part
     * and touched embedding rows) and the loss over processes here. */
    attend_status (*reduce)(void *ctx, attend_stepper *s, attend_error *err);
    void *reduce_ctx;
};

/* The activation layout training uses for batches up to Bmax x Tmax:
 * ATTEND_ACTS_GRAD | ATTEND_ACTS_FUSED (weights recomputed in the backward,
 * memory O(T) per head) at head dims with attention's lane kernel (up to
 * 16) or when keeping the weights would pass 512 MiB of activations; else
 * ATTEND_ACTS_GRAD, keeping the attention weights for the backward. */
int attend_train_acts_flags(const attend_model_config *c, size_t Bmax, size_t Tmax);

/* Out of memory for training's buffers: an error saying what the run would
 * need (activations, weights, gradients and two moments, to the MiB). */
attend_status attend_train_nomem(attend_error *err, const attend_model *m, size_t Bmax,
                                 size_t Tmax, int acts_flags);

/* Allocates the buffers (gradients and moments zeroed) for batches up to
 * Bmax x Tmax and sets the defaults above. m must own its weights (a
 * created model, not a loaded one). */
attend_status attend_stepper_init(attend_stepper *s, attend_model *m, size_t Bmax, size_t Tmax,
                                  int acts_flags, attend_error *err);
void attend_stepper_free(attend_stepper *s);

/* 1. Forward, cross-entropy and backward of a batch into s->grads (zeroed
 *    first where the batch writes); sets s->loss, s->rows, s->n_rows.
 *    Dropout draws from seed. */
void attend_step_gradients(attend_stepper *s, const int32_t *tokens, const uint8_t *pad,
                           const int32_t *targets, size_t B, size_t T, uint64_t seed);
/* 2. The reduce hook (a no-op without one). */
attend_status attend_step_reduce(attend_stepper *s, attend_error *err);
/* 3. The gradient norm over the dense tensors and the touched rows, summed
 *    over fixed pieces in a fixed order (the same at any thread count). */
double attend_step_grad_norm(attend_stepper *s);
/* 4. Clipping to s->clip given the norm, then AdamW (dense tensors, and only
 *    the touched rows of the token embedding) at lr and AdamW step number
 *    step (from 1). */
void attend_step_update(attend_stepper *s, float lr, size_t step, double gnorm);

/* The four parts in order. Gives the loss and the gradient norm before
 * clipping; ATTEND_ERR_NUMERIC, applying nothing, when either is not
 * finite, or the reduce hook's error. */
attend_status attend_stepper_step(attend_stepper *s, const int32_t *tokens, const uint8_t *pad,
                                  const int32_t *targets, size_t B, size_t T, float lr,
                                  size_t step, uint64_t seed, float *loss, double *gnorm,
                                  attend_error *err);

/* What one epoch did. */
typedef struct {
    size_t epoch, epochs, step;
    double train_loss, val_loss, val_accuracy, val_macro_f1, seconds, lr;
    double tokens_per_s;
    int has_val, improved;
} attend_epoch_report;

/* Everything `attend train` takes. Zero, then attend_train_options_default. */
typedef struct attend_train_options_s {
    const char *data_path;
    const char *val_path;       /* NULL: split val_split off data */
    attend_data_options data;
    double val_split;           /* default 0.1; 0 = no validation */
    size_t min_freq;            /* default 1 */
    size_t max_vocab;           /* default 0 = no limit */
    attend_model_config model;  /* vocab_size and num_classes are filled in */
    size_t epochs;              /* default 5 */
    size_t batch;               /* default 32 */
    float lr;                   /* default 1e-3 */
    float warmup;               /* fraction of steps, default 0.05 */
    float weight_decay;         /* default 0.01 */
    float clip;                 /* max gradient norm, default 1.0; 0 = off */
    float label_smoothing;      /* default 0 */
    int class_weights_auto;     /* inverse-frequency class weights */
    uint64_t seed;              /* default 1 */
    size_t patience;            /* epochs without improvement; 0 = off */
    const char *out_path;       /* model file */
    const char *val_out_path;   /* if set: the validation records as TSV */
    const char *checkpoint_path; /* resumable state: written after every epoch,
                                    every checkpoint_every steps and on stop */
    size_t checkpoint_every;    /* steps; 0 = only at epoch ends and on stop */
    const char *resume_path;    /* continue from this checkpoint */
    volatile sig_atomic_t *stop; /* when it becomes nonzero: finish the step,
                                    write the checkpoint, return INTERRUPTED */
    /* Reporting (any may be NULL). on_init sees the model right after its
     * weights are initialised (for pictures of the initial state). */
    void (*on_init)(void *ctx, const attend_model *m);
    void (*on_info)(void *ctx, const char *msg);
    void (*on_warning)(void *ctx, const char *msg);
    void (*on_epoch)(void *ctx, const attend_epoch_report *r);
    void (*on_progress)(void *ctx, size_t done, size_t total, double tokens_per_s,
                        double eta_s);
    void *ctx;
} attend_train_options;

void attend_train_options_default(attend_train_options *o);

/* Summary of a finished run. */
typedef struct {
    size_t n_train, n_val, vocab_size, num_classes, n_params, epochs_run, best_epoch;
    double best_val_loss, best_val_accuracy, best_val_macro_f1, seconds;
} attend_train_result;

/* Trains a classifier and saves the best model (by validation loss) to
 * out_path. Stops with ATTEND_ERR_NUMERIC on divergence, keeping the last
 * good model file. */
attend_status attend_train(const attend_train_options *o, attend_train_result *res,
                           attend_error *err);

#endif
