/* Shared helpers of the attend command-line tool. Only the CLI prints to the
 * terminal and chooses exit codes: 0 ok, 1 runtime failure, 2 usage error. */
#ifndef ATTEND_CLI_H
#define ATTEND_CLI_H

#include "attend.h"

#include <stddef.h>

enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2 };

/* Prints "attend: <message>" and a hint to run --help; returns CLI_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Prints "attend: <err->msg>"; returns CLI_FAIL. */
int cli_fail(const attend_error *err);

/* Parses an integer flag value in [min, max]; on failure prints a usage
 * error and returns -1 (the caller returns CLI_USAGE). */
int cli_parse_size(const char *cmd, const char *flag, const char *val, size_t min, size_t max,
                   size_t *out);
/* Same for a float in [min, max]. */
int cli_parse_float(const char *cmd, const char *flag, const char *val, double min, double max,
                    float *out);

/* True when argv[*i] is flag; then *val is its value (argv[*i + 1]), *i is
 * advanced, and a missing value is reported (*val = NULL). */
int cli_flag(int argc, char **argv, int *i, const char *flag, const char **val);

#include "formats/data.h"

/* Consumes a data-reading flag (--format, --text-col, --label-col, --strict)
 * at argv[*i]: returns 1 when consumed, 0 when not a data flag, -1 on a
 * usage error (already printed). */
int cli_data_flag(const char *cmd, int argc, char **argv, int *i, attend_data_options *d);

/* Prints a data warning ("attend: warning: file:line: ...") on stderr,
 * stopping after the first 20 (the total is printed by the caller). */
void cli_print_warning(void *ctx, const char *msg);

struct attend_train_options_s;

/* Consumes a model or training flag shared by train and compare (sizes,
 * optimiser, pooling, head, seed, threads; not --heads, --pos or
 * --val-split, whose forms differ): 1 consumed, 0 not such a flag, -1 usage
 * error (printed). */
int cli_training_flag(const char *cmd, int argc, char **argv, int *i,
                      struct attend_train_options_s *o, size_t *threads);

/* Checks between training flags; -1 after printing a usage error. */
int cli_training_check(const char *cmd, const struct attend_train_options_s *o);

/* Consumes --precision fp32|bf16 (the matmul precision, applied at once):
 * 1 consumed, 0 not this flag, -1 usage error (printed). */
int cli_precision_flag(const char *cmd, int argc, char **argv, int *i);

/* Applies --threads (0 = all cores). */
void cli_set_threads(size_t n);

/* Subcommands. argv[0] is the subcommand name. */
int cli_op(int argc, char **argv);
int cli_train(int argc, char **argv);
int cli_eval(int argc, char **argv);
int cli_predict(int argc, char **argv);
int cli_info(int argc, char **argv);
int cli_show(int argc, char **argv);
int cli_report(int argc, char **argv);
int cli_compare(int argc, char **argv);

#include "train/train.h"

/* Loads model_path and writes the report page into dir (src/cli/report.c):
 * evaluates data_path, draws epochs (n_epochs may be 0) and pos_init (NULL:
 * recreated from the seed); prints the page's path. Returns a CLI code. */
int cli_write_report(const char *model_path, const char *data_path, const attend_data_options *data,
                     const char *note, const attend_epoch_report *epochs, size_t n_epochs,
                     const float *pos_init, double train_seconds, size_t n_examples,
                     size_t stats_examples, const char *dir);

#endif
