/* attend compare: the heads experiment. Several configurations (head
 * counts x positional encodings) trained with the same split, sizes, epochs
 * and seeds; their results summarised as mean +/- std over seeds and written
 * as CSV, JSON, a Markdown table and an HTML page with plots. The training
 * loop itself is attend_train, called by the CLI once per run. */
#ifndef ATTEND_COMPARE_H
#define ATTEND_COMPARE_H

#include "viz/explain.h"
#include "viz/svg.h"

/* One validation text and the attention a run's model gave it. */
typedef struct {
    char *text, *truth, *predicted; /* malloc'ed; the true and the predicted label */
    attend_explanation ex;
    int cls_query;                  /* 1: the classifier reads query 0 (<cls>) alone */
} attend_compare_example;

/* One trained run. */
typedef struct {
    size_t heads;
    attend_pos_kind pos;
    uint64_t seed;
    double val_loss, val_accuracy, val_macro_f1, seconds;
    size_t params, epochs_run, best_epoch;
    attend_head_stats stats; /* of the best model on the validation data (L may be 0) */
    attend_epoch_report *curve; /* (n_curve) every epoch's report, malloc'ed */
    size_t n_curve, cap_curve;
    attend_compare_example *examples; /* (n_examples) the same texts for every run of a data set */
    size_t n_examples;
} attend_compare_run;

/* Frees what a run owns (stats, curve, examples). */
void attend_compare_run_free(attend_compare_run *r);

/* One configuration: its runs summarised. std is the sample standard
 * deviation over seeds (0 with one seed). */
typedef struct {
    size_t heads;
    attend_pos_kind pos;
    size_t n_runs, params;
    double loss_mean, loss_std, acc_mean, acc_std, f1_mean, f1_std, seconds_mean;
    double entropy_mean, distance_mean; /* over heads and runs */
    double importance_max;              /* largest accuracy drop of one head, mean over runs */
    double curve_mean, curve_std;       /* validation accuracy averaged over the epochs
                                           (how fast it learned); NaN without curves */
    const attend_head_stats *first;     /* the first seed's per-head statistics */
    size_t best_run;                    /* index in runs of its best seed (accuracy, then loss) */
} attend_compare_row;

/* What was held fixed, for the page. */
typedef struct {
    const char *data_path, *train_path, *val_path, *command;
    size_t n_train, n_val, num_classes, d_model, layers, d_ff, max_len, epochs, batch, n_seeds;
    uint64_t first_seed;
    float lr, dropout;
} attend_compare_setup;

/* One data set's experiment, as the pages show it. */
typedef struct {
    const char *name;   /* the data set's name */
    const char *link;   /* its own page, relative to a combined page (NULL: none) */
    attend_compare_setup setup;
    const attend_compare_run *runs;
    size_t n_runs;
} attend_compare_set;

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

/* "61.23 ± 0.45": mean and sd times scale with dec decimals (no ± with
 * one run), into out. */
void attend_compare_pm(char *out, size_t cap, double mean, double sd, size_t n, int dec, double scale);

/* The summary as a Markdown table (for a README), appended to b. */
void attend_compare_markdown(attend_buf *b, const attend_compare_row *rows, size_t n_rows);

/* The table of several data sets side by side as text cells, a header line
 * first: heads, pos, then for each data set its validation accuracy and its
 * accuracy averaged over the epochs (mean +/- std; "-" where it has no such
 * configuration); then a line per (heads, pos) in order of first
 * appearance. *n_lines lines after the header, *n_cols cells each, of at
 * most ATTEND_COMPARE_CELL bytes. One malloc'ed block (free it); NULL when
 * out of memory. */
#define ATTEND_COMPARE_CELL 96
char **attend_compare_grid(const attend_compare_set *sets, const attend_compare_row *const *rows,
                           const size_t *n_rows, size_t n_sets, size_t *n_lines, size_t *n_cols);

/* Several data sets side by side: a row per (heads, pos), for each data set
 * its validation accuracy (mean +/- std) and, with curves, its accuracy
 * averaged over the epochs. n_rows[s] rows of rows[s] belong to sets[s]. */
void attend_compare_markdown_sets(attend_buf *b, const attend_compare_set *sets,
                                  const attend_compare_row *const *rows, const size_t *n_rows,
                                  size_t n_sets);

/* The row of the best configuration with more than one head (highest mean
 * accuracy, then lowest mean loss), or of the best one when none has;
 * SIZE_MAX without rows. */
size_t attend_compare_winner(const attend_compare_row *rows, size_t n_rows);

/* The positional encodings the rows compare, in the order they first
 * appear (at most 3); returns how many. */
size_t attend_compare_pos_kinds(const attend_compare_row *rows, size_t n_rows, attend_pos_kind kinds[3]);

/* Plain sentences (no markup) that say, from the numbers only, how far apart
 * the configurations of one positional encoding are: best against worst and
 * one head against the best of several, each difference in points and in
 * pooled standard deviations over the seeds, and whether it exceeds that
 * spread. curve = 1: the same for accuracy averaged over the epochs. */
void attend_compare_verdict(attend_buf *b, const attend_compare_row *rows, size_t n_rows, int curve);

/* Writes dir/results.csv (one line per configuration), dir/runs.csv (one
 * per run), dir/curves.csv (one per run and epoch), dir/results.json
 * (setup, configurations, runs), dir/table.md and dir/index.html (table,
 * accuracy and loss against heads with one line per positional encoding and
 * +/- 1 std error bars, learning curves, per-head diagnostics, and for the
 * best multi-head model the importance of each head and its attention on a
 * few validation texts). note: plain text shown as the page's summary in
 * plain words (NULL: sentences from attend_compare_verdict). *n_heatmaps /
 * *n_plots (may be NULL) receive the pictures on the page. */
attend_status attend_compare_write(const char *dir, const attend_compare_set *set, const char *note,
                                   size_t *n_heatmaps, size_t *n_plots, attend_error *err);

/* The page of several data sets: dir/index.html with a combined table
 * (heads x data set), the accuracy plots side by side, the summary in plain
 * words, then each data set's section as attend_compare_write draws it;
 * dir/results.csv (a data column first) and dir/table.md. Each set's own
 * files are written separately (attend_compare_write into its directory). */
attend_status attend_compare_write_sets(const char *dir, const attend_compare_set *sets,
                                        size_t n_sets, const char *note, size_t *n_heatmaps,
                                        size_t *n_plots, attend_error *err);

/* The HTML page of one data set (single = 1) or of several, into b. */
void attend_compare_page(attend_buf *b, const attend_compare_set *sets, size_t n_sets,
                         const char *note, size_t *n_heatmaps, size_t *n_plots);

#endif
