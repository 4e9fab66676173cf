/* attend — training, evaluation and the datasets they read.
 *
 * The second public header of the library (after attend.h): reading
 * labelled text (TSV, CSV, fastText, JSONL), evaluating a classifier on a
 * file, and training one. Conventions as in attend.h: functions that can
 * fail return an attend_status and fill an attend_error; nothing here
 * prints or exits (progress goes through the callbacks). */
#ifndef ATTEND_TRAIN_H
#define ATTEND_TRAIN_H

#include "attend.h"

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Datasets                                                                 */
/* ------------------------------------------------------------------------ */

/* Formats, the same for every reader (chosen by extension unless given):
 *   TSV (.tsv)       label<TAB>text; no header.
 *   CSV (.csv)       RFC 4180 with a header row naming the columns.
 *   fastText (.txt, .ft, .fasttext)  __label__X text.
 *   JSONL (.jsonl, .ndjson)  {"text": ..., "label": ...} per line.
 *   TEXT (never by extension)  one text per line, no labels.
 * Malformed records are reported as "file:line: what", counted and skipped
 * (strict: the first one is fatal). See docs/reliability.md. */
/* File formats. */
typedef enum {
    ATTEND_FORMAT_AUTO = 0, /* by the file's extension */
    ATTEND_FORMAT_TSV,
    ATTEND_FORMAT_CSV,
    ATTEND_FORMAT_FASTTEXT,
    ATTEND_FORMAT_JSONL,
    ATTEND_FORMAT_TEXT
} attend_data_format;

/* Lower-case name ("tsv", "csv", "fasttext", "jsonl", "text", "auto"). */
const char *attend_data_format_name(attend_data_format f);

/* Parses a format name as attend_data_format_name writes it ("ft" and "json"
 * are accepted too); unknown names are ATTEND_ERR_ARG. */
attend_status attend_data_format_parse(const char *name, attend_data_format *out,
                                       attend_error *err);

/* Format from a path's extension (case-insensitive); ATTEND_ERR_ARG with a
 * hint to give the format when the extension is not one of the known ones. */
attend_status attend_data_format_from_path(const char *path, attend_data_format *out,
                                           attend_error *err);

/* Longest line (or CSV record) accepted by default: 1 MiB. */
#define ATTEND_DATA_MAX_LINE ((size_t)1 << 20)
/* Warning messages kept in a dataset (all are counted). */
#define ATTEND_DATA_WARNINGS_KEPT 20

/* How to read a file. Zero-initialise, then set what you need. */
typedef struct {
    attend_data_format format; /* AUTO: by extension */
    const char *text_col;      /* CSV column / JSONL key of the text (NULL: "text") */
    const char *label_col;     /* CSV column / JSONL key of the label (NULL: "label") */
    int strict;                /* 1: the first malformed record is fatal */
    size_t max_line_bytes;     /* 0: ATTEND_DATA_MAX_LINE */
    /* Called for every warning as it happens (may be NULL). */
    void (*on_warning)(void *ctx, const char *msg);
    void *warning_ctx;
} attend_data_options;

/* One record. Strings are NUL-terminated UTF-8 owned by the dataset. */
typedef struct {
    const char *label; /* NULL in TEXT data */
    const char *text;
    size_t line;       /* 1-based line where the record starts */
} attend_record;

typedef struct attend_arena_block attend_arena_block;

/* Records of one file plus what was skipped and where it came from. */
typedef struct {
    attend_record *records;
    size_t count;
    attend_data_format format; /* the format actually read */
    const char *name;          /* the file name used in messages */
    size_t n_malformed;        /* records reported and skipped */
    size_t n_warnings_kept;    /* <= ATTEND_DATA_WARNINGS_KEPT */
    char warnings[ATTEND_DATA_WARNINGS_KEPT][512];
    uint64_t hash;             /* FNV-1a 64 of the file's bytes */
    char hash_hex[17];         /* the same, 16 lower-case hex digits */
    uint64_t nbytes;           /* bytes read */
    /* Private: */
    size_t cap;
    attend_arena_block *arena;
} attend_dataset;

/* Reads path into ds (not initialised yet). On failure ds is left empty
 * (attend_dataset_free is still safe). */
attend_status attend_dataset_read(attend_dataset *ds, const char *path,
                                  const attend_data_options *opt, attend_error *err);

/* Same from an open stream (not closed); name is used in messages and for
 * the extension when the format is AUTO. */
attend_status attend_dataset_read_stream(attend_dataset *ds, FILE *f, const char *name,
                                         const attend_data_options *opt, attend_error *err);

/* Frees the records and strings. */
void attend_dataset_free(attend_dataset *ds);

/* ---- line reader: bounded, streaming (for TEXT input from stdin) ---- */

typedef struct {
    FILE *f;
    const char *name;     /* for messages */
    size_t max_bytes;     /* bytes of a line kept */
    size_t line_no;       /* 1-based number of the line last returned */
    uint64_t hash;        /* FNV-1a 64 of every byte read so far */
    uint64_t nbytes;
    /* Private: */
    char *buf;
    size_t cap;
    int at_start, at_eof;
    unsigned char pend[3]; /* bytes read while looking for a BOM */
    int npend, ipend;
} attend_line_reader;

/* Starts reading f; max_bytes 0 = ATTEND_DATA_MAX_LINE. */
attend_status attend_line_reader_init(attend_line_reader *r, FILE *f, const char *name,
                                      size_t max_bytes, attend_error *err);

/* Next line without its "\n" or "\r\n" (a BOM at the very start is skipped),
 * NUL-terminated in a buffer valid until the next call. *line = NULL at the
 * end. A line longer than max_bytes is read to its end but only its first
 * max_bytes bytes are returned, with *too_long = 1. Returns ATTEND_ERR_IO on
 * a read error. Memory stays bounded by max_bytes whatever the input. */
attend_status attend_line_reader_next(attend_line_reader *r, const char **line, size_t *len,
                                      int *too_long, attend_error *err);

void attend_line_reader_free(attend_line_reader *r);

/* ------------------------------------------------------------------------ */
/* Metrics and evaluation                                                   */
/* ------------------------------------------------------------------------ */

/* confusion[true * K + predicted] counts, and what follows from it. */
typedef struct {
    size_t K;
    size_t *confusion;  /* (K,K) */
    size_t n;           /* examples counted */
    double loss_sum;    /* sum of per-example losses */
    /* filled by attend_metrics_finish: */
    double loss, accuracy, macro_f1;
    double *precision, *recall, *f1; /* (K) */
    size_t *support;                 /* (K) true examples per class */
} attend_metrics;

/* Zeroed metrics for K classes; 0 on success, -1 when out of memory. */
int attend_metrics_init(attend_metrics *mt, size_t K);
void attend_metrics_free(attend_metrics *mt);
void attend_metrics_reset(attend_metrics *mt);

/* Counts one example. */
void attend_metrics_add(attend_metrics *mt, int32_t truth, int32_t predicted, double loss);

/* Computes loss (mean), accuracy, per-class precision/recall/F1 (0 where
 * undefined) and macro-F1 (mean over classes with support or predictions). */
void attend_metrics_finish(attend_metrics *mt);

/* Evaluates m on the labelled file path (read with opt; NULL = by
 * extension) in batches of batch texts (0 = 64): fills mt, which this
 * initialises for the model's classes (free it with attend_metrics_free).
 * *n_malformed / *n_empty (may be NULL) receive the records skipped as
 * malformed and the texts without tokens. A label the model does not know
 * is ATTEND_ERR_FORMAT naming the file, line and label. */
attend_status attend_evaluate_file(const attend_model *m, const char *path,
                                   const attend_data_options *opt, size_t batch,
                                   attend_metrics *mt, size_t *n_malformed, size_t *n_empty,
                                   attend_error *err);

/* ------------------------------------------------------------------------ */
/* Training                                                                 */
/* ------------------------------------------------------------------------ */

/* ---- Processes: data-parallel training over MPI ----
 * `mpirun -np N attend train ...` runs N processes that train one model: each
 * computes whole pieces of every batch (see attend_train_options.piece), the
 * gradients are summed across processes in piece order, and every process
 * applies the same update, so the model is the same bytes as one process's
 * whatever N and the thread counts. Process 0 alone reports and writes
 * files. Needs a build with MPI (make MPI=1); otherwise a world is always
 * this process alone. */
typedef struct attend_world attend_world;

/* The processes this one trains with. Started by an MPI launcher (mpirun)
 * in a build with MPI: initialises MPI and gives the job's processes;
 * otherwise a world of this process alone. Started by mpirun with several
 * processes in a build without MPI: ATTEND_ERR_ARG (each copy would train
 * alone and all would write the same files). */
attend_status attend_world_init(attend_world **w, attend_error *err);
/* This process's number (0 for NULL) and how many there are (1 for NULL). */
int attend_world_rank(const attend_world *w);
int attend_world_size(const attend_world *w);
/* "Open MPI v4.1.4 ..." when built with MPI, else NULL. */
const char *attend_world_library(void);
/* Ends every process of the job with exit code `code` (MPI_Abort): for a
 * failure one process met outside attend_train, which the others cannot
 * know of. Returns only for a world of one process. */
void attend_world_abort(attend_world *w, int code);
/* Finalises MPI when attend_world_init initialised it, and frees w. */
void attend_world_free(attend_world *w);

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
    /* Fine-tuning a pretrained encoder instead of training from scratch: */
    const char *init_path;      /* a BERT-family folder (or a model attend train --init
                                   saved): its encoder, tokenizer and configuration start
                                   the run, with a new classification head; then model's
                                   architecture fields are not used, model.max_len 0 means
                                   the folder's and model.dropout < 0 the folder's */
    int init_pool;              /* with init_path: -1 (default) = the folder's
                                   sentence-transformers pooling, else BERT's pooler on
                                   [CLS]; else an attend_pool_kind */
    size_t epochs;              /* default 5 */
    size_t batch;               /* default 32 */
    size_t piece;               /* examples per piece of a batch, default 8: the
                                   gradient is summed over pieces in a fixed
                                   order (the unit processes share) */
    size_t bucket;              /* batches per length-sorted chunk of the shuffled
                                   examples, default 50 (less padding); 0 = off.
                                   attend train --init uses 8: batches of
                                   look-alike lengths can share classes (on
                                   WordNet: all-MiniLM-L6-v2 after 100 steps held
                                   out 47.7 % with 50, 55.2 / 55.3 % with 8,
                                   56.4 / 54.5 % with 0, two seeds) */
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
                                    write the checkpoint, return INTERRUPTED
                                    (on any process: all stop together) */
    attend_world *world;        /* the processes training together (NULL: this
                                   one alone); the callbacks run on process 0
                                   only, and only process 0 writes files */
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

/* The training log (attend train --log): one JSON object per epoch. Writes
 * the line for r, with its newline, into out (at most cap bytes). */
void attend_train_log_line(const attend_epoch_report *r, char *out, size_t cap);

/* Reads the last run of a training log (a run starts where the epoch
 * number drops) into *out (malloc'ed; free it) and *n. */
attend_status attend_train_log_read(const char *path, attend_epoch_report **out, size_t *n,
                                    attend_error *err);

#ifdef __cplusplus
}
#endif
#endif /* ATTEND_TRAIN_H */
