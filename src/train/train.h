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
/* attend_evaluate shared by the processes of w (each runs a share of the
 * batches); every process gets the metrics one process would compute. */
attend_status attend_evaluate_shared(const attend_model *m, const attend_encoded *enc,
                                     size_t batch, const attend_world *w, attend_metrics *mt,
                                     attend_error *err);

/* One training step's buffers and settings. attend_train runs its steps
 * through this, and so does the benchmark, which thereby times exactly the
 * code a training run executes. The step is four named parts (stepper.c):
 * gradients, reduce, gradient norm, update.
 *
 * Pieces: a batch is cut into pieces of `piece` examples (the last may be
 * shorter), each computed on its own (cut to its longest text, dropout
 * drawn from the step's seed and the piece's number), and the batch's
 * gradient is the sum of the pieces' gradients taken in piece order. The
 * pieces are the unit of data-parallel work: processes share whole pieces
 * and the reduce hook continues that same sum across them, so a model comes
 * out bit for bit the same whatever the number of processes and threads. */
typedef struct attend_stepper attend_stepper;
struct attend_stepper {
    attend_model *m;
    attend_model_params g;        /* gradient views into grads */
    float *grads, *m1, *m2;       /* (P) each: gradients and AdamW moments */
    float *acts;                  /* activations for piece x Tmax */
    int acts_flags;               /* ATTEND_ACTS_GRAD [| ATTEND_ACTS_FUSED] */
    size_t Bmax, Tmax, piece;     /* piece: examples per piece (<= Bmax) */
    int32_t *rows;                /* embedding rows the batch touches */
    size_t n_rows;                /* how many (set by attend_step_gradients) */
    uint8_t *touched;             /* (vocab) marks while collecting rows */
    double *norm_part;            /* partial sums of the gradient norm */
    float *pgrads;                /* (P) a later piece's gradient (NULL: one piece) */
    attend_model_params pg;       /* views into pgrads */
    int32_t *ptok;                /* (piece, Tmax) a piece cut to its longest text */
    uint8_t *ppad;
    double *ex_loss;              /* (Bmax) per-example losses, unnormalised */
    double loss_norm;             /* their normaliser: the targets' summed weights */
    size_t B;                     /* the batch's examples */
    float loss;                   /* the batch's loss (after attend_step_reduce) */
    const float *class_w;         /* (K) class weights or NULL */
    float label_smoothing;        /* default 0 */
    float clip;                   /* max gradient norm, default 1; 0 = off */
    attend_adamw_config adam;     /* default betas 0.9, 0.999, eps 1e-8, decay 0.01 */
    /* Data parallel (attend_stepper_share): this process computes pieces
     * [lo, hi) of the batch's n_pieces. Process 0 adds its pieces up into
     * grads as one process does; the others keep theirs packed in held
     * (held_cap floats each) for the reduce hook. */
    size_t rank, ranks;
    size_t n_pieces, lo, hi;
    float *held;
    size_t held_cap;
    /* The reduce hook, between the backward and the gradient norm (NULL:
     * one process). Data-parallel training completes the sum of the
     * pieces' gradients across processes here (dense part and touched
     * embedding rows, attend_step_pack's layout), leaves it in grads on
     * every process, and sums ex_loss. */
    attend_status (*reduce)(void *ctx, attend_stepper *s, attend_error *err);
    void *reduce_ctx;
};

/* Examples per piece unless the run says otherwise. */
#define ATTEND_TRAIN_PIECE 8

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
 * Bmax x Tmax in pieces of `piece` examples (0 or more than Bmax: one
 * piece; acts_flags from attend_train_acts_flags for min(piece, Bmax)) and
 * sets the defaults above. m must own its weights (a created model, not a
 * loaded one). One process computes every piece. */
attend_status attend_stepper_init(attend_stepper *s, attend_model *m, size_t Bmax, size_t piece,
                                  size_t Tmax, int acts_flags, attend_error *err);
/* Makes this stepper process `rank` of `ranks` (its share of the pieces). */
attend_status attend_stepper_share(attend_stepper *s, size_t rank, size_t ranks,
                                   attend_error *err);
void attend_stepper_free(attend_stepper *s);

/* Packed gradients, the layout the reduce hook exchanges: the dense part
 * (every tensor but the token embedding table), then the batch's touched
 * embedding rows in s->rows order. Floats for n_rows rows: */
size_t attend_step_packed_size(const attend_stepper *s, size_t n_rows);
/* Packs grads (a (P) gradient buffer) into out; unpacks in into s->grads. */
void attend_step_pack(const attend_stepper *s, const float *grads, float *out);
void attend_step_unpack(attend_stepper *s, const float *in);

/* 1. Forward, cross-entropy and backward of this process's pieces of a
 *    batch: with one process, the batch's gradient in s->grads (zeroed
 *    first where the batch writes); sets s->rows, s->n_rows, s->ex_loss.
 *    Dropout draws from seed. */
void attend_step_gradients(attend_stepper *s, const int32_t *tokens, const uint8_t *pad,
                           const int32_t *targets, size_t B, size_t T, uint64_t seed);
/* 2. The reduce hook (a no-op without one), then s->loss. */
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
