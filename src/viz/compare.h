/* attend compare: the heads experiment. Several configurations (head
 * counts x positional encodings) trained with the same split, sizes, epochs
 * and seeds; their results summarised as mean +/- std over seeds and written
 * as CSV, JSON, a Markdown table and an HTML page with plots. The training
 * loop itself is attend_train, called by the CLI once per run. */
#ifndef ATTEND_COMPARE_H
#define ATTEND_COMPARE_H

#include "viz/explain.h"
#include "viz/svg.h"

/* One trained run. */
typedef struct {
    size_t heads;
    attend_pos_kind pos;
    uint64_t seed;
    double val_loss, val_accuracy, val_macro_f1, seconds;
    size_t params, epochs_run, best_epoch;
    attend_head_stats stats; /* of the best model on the validation data (L may be 0) */
} attend_compare_run;

/* One configuration: its runs summarised. std is the sample standard
 * deviation over seeds (0 with one seed). */
typedef struct {
    size_t heads;
    attend_pos_kind pos;
    size_t n_runs, params;
    double loss_mean, loss_std, acc_mean, acc_std, f1_mean, f1_std, seconds_mean;
    double entropy_mean, distance_mean; /* over heads and runs */
    double importance_max;              /* largest accuracy drop of one head, mean over runs */
    const attend_head_stats *first;     /* the first seed's per-head statistics */
} attend_compare_row;

/* What was held fixed, for the page. */
typedef struct {
    const char *data_path, *train_path, *val_path, *command;
    size_t n_train, n_val, num_classes, d_model, layers, d_ff, max_len, epochs, batch, n_seeds;
    uint64_t first_seed;
    float lr, dropout;
} attend_compare_setup;

/* Splits data_path (stratified, frac to validation, from seed) and writes
 * the two parts as TSV (label<TAB>text) to train_out and val_out, so that
 * every configuration trains and validates on exactly the same examples.
 * *n_train, *n_val receive the counts. */
attend_status attend_compare_split(const char *data_path, const attend_data_options *opt,
                                   double frac, uint64_t seed, const char *train_out,
                                   const char *val_out, size_t *n_train, size_t *n_val,
                                   attend_error *err);

/* Groups runs by (heads, pos) in order of first appearance. *rows is
 * malloc'ed (free it); *n_rows receives the count. */
attend_status attend_compare_summarise(const attend_compare_run *runs, size_t n_runs,
                                       attend_compare_row **rows, size_t *n_rows,
                                       attend_error *err);

/* The summary as a Markdown table (for a README), appended to b. */
void attend_compare_markdown(attend_buf *b, const attend_compare_row *rows, size_t n_rows);

/* Writes dir/results.csv (one line per configuration), dir/runs.csv (one
 * per run), dir/results.json (setup, configurations, runs), dir/table.md
 * and dir/index.html (table, accuracy and loss against heads with one line
 * per positional encoding and +/- 1 std error bars, per-head diagnostics).
 * *n_heatmaps / *n_plots (may be NULL) receive the pictures on the page. */
attend_status attend_compare_write(const char *dir, const attend_compare_setup *setup,
                                   const attend_compare_run *runs, size_t n_runs,
                                   size_t *n_heatmaps, size_t *n_plots, attend_error *err);

#endif
