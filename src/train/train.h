/* Training and batched evaluation of the text classifier. */
#ifndef ATTEND_TRAIN_INTERNAL_H
#define ATTEND_TRAIN_INTERNAL_H

#include "attend_train.h"
#include "formats/data.h"
#include "model/model.h"
#include "nn/optimizer.h"


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

#endif
