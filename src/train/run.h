/* What one training run owns and where it stands, shared by the loop
 * (train.c) and its checkpoints (checkpoint.c). */
#ifndef ATTEND_TRAIN_RUN_H
#define ATTEND_TRAIN_RUN_H

#include "train/train.h"

/* Everything a run owns; one cleanup path (train_run_free) frees it all. */
typedef struct {
    attend_dataset train_ds, val_ds;
    attend_labels labels;
    int32_t *train_ids, *val_ids;
    uint8_t *is_val;
    attend_vocab_counter counter;
    int counter_ready;
    attend_vocab vocab;
    int vocab_ready;
    attend_model *model;
    attend_encoded tr, va;
    attend_stepper st;
    float *class_w;
    int32_t *tokens, *targets;
    uint8_t *pad;
    size_t *order, *batches;
    attend_metrics mt;
    char *prov, *training;
    char *init_prov;        /* --init: the pretrained model's provenance (JSON), or NULL */
    char *threads;          /* JSON array: each process's thread count */
    /* the plan */
    size_t n_batches, total_steps, warmup;
    /* timing of the steps this run made (for the closing summary) */
    size_t steps_run;
    double step_s;
    char resume_path[4096]; /* MODEL.ckpt when --resume named the model */
} train_run;

/* Where a run stands: everything that changes from step to step besides the
 * weights and the optimizer moments. All randomness is a function of (seed,
 * epoch, step), so this plus the tensors is an exact resume point. */
typedef struct {
    size_t epoch;        /* epoch being run, from 1 */
    size_t batch;        /* next batch of that epoch */
    size_t step;         /* optimizer steps done */
    double loss_sum;     /* the epoch's running train loss */
    size_t loss_n, tokens_seen;
    double best;         /* best validation loss so far (or -epoch) */
    size_t since_best;
} train_state;

/* The settings a resumed run must share with the one that wrote the
 * checkpoint, as one string (compared byte for byte); NULL when out of
 * memory. */
char *train_run_settings(const train_run *r, const attend_train_options *o);

/* Writes the run's checkpoint (weights, moments, state ts, results so far)
 * to o->checkpoint_path, atomically. */
attend_status train_checkpoint_save(const train_run *r, const attend_train_options *o,
                                    const train_state *ts, const attend_train_result *res,
                                    attend_error *err);

/* Restores weights, moments, ts and res from o->resume_path: a checkpoint,
 * or a model file whose checkpoint (the model path + ".ckpt") exists. The
 * checkpoint must come from a run with the same data and settings. *used
 * receives the checkpoint's path (o->resume_path or r->resume_path). */
attend_status train_checkpoint_load(train_run *r, const attend_train_options *o,
                                    train_state *ts, attend_train_result *res, const char **used,
                                    attend_error *err);

/* A run over several processes (shared_run.c). Every process builds the
 * run itself from the same files; this checks that they all built the same
 * one (settings, data, labels, split, vocabulary), on every process. */
attend_status train_same_run(const train_run *r, const attend_train_options *o,
                             attend_error *err);

/* Process 0's resumed state (weights, moments, ts, res) sent to the others. */
attend_status train_share_resume(train_run *r, const attend_train_options *o, train_state *ts,
                                 attend_train_result *res, attend_error *err);

#endif
